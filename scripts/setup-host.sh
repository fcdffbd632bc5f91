#!/usr/bin/env bash
# Installs what skiff and its test suite need on a Debian/Ubuntu host, and
# prepares the host for rootless use. Run as root; safe to run again.
#
#   sudo scripts/setup-host.sh [--user NAME]   # also give NAME a subuid/subgid range
set -euo pipefail

TEST_USER="${SKIFF_TEST_USER:-skiff-ci}"
EXTRA_USER=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --user) EXTRA_USER="$2"; shift 2 ;;
    *) echo "setup-host: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [[ $(id -u) -ne 0 ]]; then
  echo "setup-host: run as root (sudo $0)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
PACKAGES=(
  runc crun uidmap util-linux fuse-overlayfs passt slirp4netns iproute2
  docker-registry busybox-static skopeo apache2-utils openssl zstd tini e2fsprogs
  # kube play's pause process; the sd_notify socket stand-in in tests; systemd-analyze verify
  catatonit python3 systemd
  ca-certificates curl git procps psmisc
)
# The API tests drive the real docker CLI; install Debian's when none is present.
command -v docker >/dev/null 2>&1 || PACKAGES+=(docker-cli)
command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)
# Podman is only a reference in benchmarks and some compatibility tests.
[[ "${SKIFF_WITH_PODMAN:-1}" == 1 ]] && PACKAGES+=(podman)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "setup-host: installing ${missing[*]}"
  apt-get update -qq
  # docker-cli is not in every release; fall back to docker.io's client.
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    filtered=()
    for p in "${missing[@]}"; do [[ "$p" == docker-cli ]] || filtered+=("$p"); done
    apt-get install -y -qq --no-install-recommends "${filtered[@]}" >/dev/null
    command -v docker >/dev/null 2>&1 || apt-get install -y -qq --no-install-recommends docker.io >/dev/null || true
  fi
fi

# The docker-registry package starts a system registry on :5000; tests start
# their own on random loopback ports, so the packaged one is not needed.
if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi

# Rootless networking helpers open /dev/net/tun as the user.
if [[ -e /dev/net/tun ]]; then
  chmod 0666 /dev/net/tun
fi

# Unprivileged user namespaces (Debian kernels before 5.10 gate them).
if [[ -e /proc/sys/kernel/unprivileged_userns_clone ]]; then
  sysctl -qw kernel.unprivileged_userns_clone=1 || true
fi

# Gives USER 65536 subordinate ids after every range already handed out, so
# no two users share ids.
give_range() {
  local user="$1" file start
  for file in /etc/subuid /etc/subgid; do
    touch "$file"
    grep -q "^${user}:" "$file" && continue
    start=$(awk -F: 'BEGIN { m = 100000 } { e = $2 + $3; if (e > m) m = e } END { print m }' "$file")
    echo "${user}:${start}:65536" >>"$file"
  done
}

# An unprivileged user with subordinate ids for the rootless half of the tests.
if ! id "$TEST_USER" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash "$TEST_USER"
fi
give_range "$TEST_USER"
if [[ -n "$EXTRA_USER" ]]; then
  id "$EXTRA_USER" >/dev/null 2>&1 || { echo "setup-host: no user $EXTRA_USER" >&2; exit 1; }
  give_range "$EXTRA_USER"
fi
echo "setup-host: ready (test user ${TEST_USER})"
