# Sourced by docker/build-image.sh and docker/tests/test-image.sh. Sets, for this machine:
#   podman_global   global podman options (before the command): the OCI runtime
#   podman_flags    options of `podman build` / `podman run`: resource limits
# On a usual machine both stay empty. In a sandbox without CAP_SYS_RESOURCE and with hybrid
# cgroups (v1 controllers plus an empty v2 hierarchy), podman's defaults fail: crun refuses
# hybrid cgroups, and the default rlimits (nofile 1048576, nproc 4194304) are above the hard
# limits a process without CAP_SYS_RESOURCE may set ("setrlimit RLIMIT_NOFILE: Operation not
# permitted"). Then runc is used and the limits are pinned to what this shell may set.
# Override with TG_PODMAN_GLOBAL / TG_PODMAN_FLAGS (space-separated).
podman_global=()
podman_flags=()
if [ -n "${TG_PODMAN_GLOBAL+x}${TG_PODMAN_FLAGS+x}" ]; then
  read -r -a podman_global <<<"${TG_PODMAN_GLOBAL:-}"
  read -r -a podman_flags <<<"${TG_PODMAN_FLAGS:-}"
else
  hybrid_cgroups=false
  if [ -d /sys/fs/cgroup/unified ] && grep -q ' /sys/fs/cgroup/unified cgroup2 ' /proc/mounts; then
    hybrid_cgroups=true
  fi
  # CAP_SYS_RESOURCE is bit 24 of the bounding set.
  cap_bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
  if $hybrid_cgroups || [ $(( (16#$cap_bnd >> 24) & 1 )) -eq 0 ]; then
    if $hybrid_cgroups; then
      command -v runc >/dev/null || { echo "podman-flags: hybrid cgroups need runc (apt-get install runc)" >&2; return 1; }
      podman_global=(--runtime runc)
    fi
    nofile=$(ulimit -Hn)
    [ "$nofile" = unlimited ] && nofile=1048576
    # nproc: a modest pinned value; the host's hard limit itself is refused by the runtime's
    # init process here.
    podman_flags=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=4096:4096")
  fi
fi
