#!/usr/bin/env bash
# Installs, from Debian 12's own packages, what tenantgate needs and the machine lacks.
#   install-deps.sh build   compilers and libraries
#   install-deps.sh demo    build + the fake Odoo upstream's interpreter
#   install-deps.sh test    demo + test runners and the real peers the tests start
#   install-deps.sh bench   test + the peers the benchmarks compare against
#   install-deps.sh image   podman and debootstrap: docker/build-image.sh, the image test, compose
set -euo pipefail

build=(cmake ninja-build g++ ccache pkg-config libboost1.81-dev libboost-json1.81-dev
       libboost-url1.81-dev libssl-dev libyaml-cpp-dev libhiredis-dev prometheus-cpp-dev catch2)
demo=(python3 python3-websockets curl)
test=(python3-pytest python3-pytest-timeout openssl clang-format prometheus redis-server systemd
      clang-14 libclang-rt-14-dev)
bench=(nginx-light haproxy wrk)
image=(podman runc debootstrap podman-compose)

case "${1:-test}" in
  build) wanted=("${build[@]}") ;;
  demo) wanted=("${build[@]}" "${demo[@]}") ;;
  test) wanted=("${build[@]}" "${demo[@]}" "${test[@]}" "${bench[@]}") ;;
  bench) wanted=("${build[@]}" "${demo[@]}" "${test[@]}" "${bench[@]}") ;;
  image) wanted=("${image[@]}") ;;
  *) echo "usage: $0 build|demo|test|bench|image" >&2; exit 2 ;;
esac

missing=()
for package in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
# Package scripts must not start services (nginx, haproxy): tests start their own on loopback.
DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
