#!/usr/bin/env bash
# Builds the tenantgate image (docker/Dockerfile) with podman on a machine that reaches no
# container registry: the Debian 12 base is made locally with debootstrap (minbase, slimmed as
# debian:12-slim is) and imported, then passed to the Dockerfile as BASE_IMAGE.
#
#   bash docker/build-image.sh [--base-only] [--tag NAME]
#
# Environment:
#   TG_IMAGE_WORK   where the debootstrap root is kept (default /var/tmp/tenantgate-image)
#   TG_BASE_IMAGE   use this base instead of making one (e.g. docker.io/library/debian:12-slim)
#   TG_BUILD_JOBS   compile jobs inside the build stage (default 2)
# Prints the image's size and fails when it is over 120 MB.
set -euo pipefail
cd "$(dirname "$0")/.."

tag=localhost/tenantgate:latest
base_only=false
while [ $# -gt 0 ]; do
  case "$1" in
    --base-only) base_only=true ;;
    --tag) tag="$2"; shift ;;
    *) echo "usage: $0 [--base-only] [--tag NAME]" >&2; exit 2 ;;
  esac
  shift
done

bash docker/install-deps.sh image
work="${TG_IMAGE_WORK:-/var/tmp/tenantgate-image}"
base="${TG_BASE_IMAGE:-localhost/debian:12-minbase}"
limit_bytes=$((120 * 1000 * 1000))
# shellcheck source=docker/podman-flags.sh
source docker/podman-flags.sh

make_base() {
  if podman image exists "$base"; then
    echo "base image $base: present"
    return
  fi
  mkdir -p "$work"
  local rootfs="$work/rootfs"
  if [ ! -x "$rootfs/usr/bin/apt-get" ]; then
    rm -rf "$rootfs"
    echo "debootstrap --variant=minbase bookworm $rootfs"
    nice -n 19 debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$work/debootstrap.log"
  fi
  # What debian:12-slim leaves out (its dpkg excludes), so the runtime stage's packages skip it too.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/tenantgate-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "$rootfs"/usr/share/{man,info,locale,lintian}/* "$rootfs"/var/lib/apt/lists/* \
         "$rootfs"/var/cache/apt/* "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/*
  printf 'APT::Install-Recommends "false";\n' >"$rootfs/etc/apt/apt.conf.d/00tenantgate-norecommends"
  tar --numeric-owner -C "$rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$base" >/dev/null
  echo "base image $base: imported from $rootfs"
}

if [ -z "${TG_BASE_IMAGE:-}" ]; then make_base; fi
podman image exists "$base" || { echo "base image $base is not in podman's storage" >&2; exit 1; }
$base_only && exit 0

echo "podman ${podman_global[*]} build ${podman_flags[*]} -f docker/Dockerfile -t $tag (base $base)"
nice -n 19 podman "${podman_global[@]}" build "${podman_flags[@]}" --format docker --network host \
  --build-arg BASE_IMAGE="$base" --build-arg BUILD_JOBS="${TG_BUILD_JOBS:-2}" \
  -f docker/Dockerfile -t "$tag" .

size=$(podman image inspect --format '{{.Size}}' "$tag")
echo "image $tag: $size bytes ($((size / 1000 / 1000)) MB)"
if [ "$size" -gt "$limit_bytes" ]; then
  echo "image is over 120 MB" >&2
  exit 1
fi
