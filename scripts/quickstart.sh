#!/usr/bin/env bash
# One command from a fresh Debian/Ubuntu box to a working skiff: host packages,
# build, a busybox image made from the machine's busybox-static, and a first
# use of it. Run with sudo: skiff itself then runs as you, rootless.
#
#   sudo scripts/quickstart.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"

if [[ $(id -u) -ne 0 ]]; then
  exec sudo "$0" "$@"
fi
RUN_AS="${SUDO_USER:-root}"

if [[ "$RUN_AS" != root ]]; then
  scripts/setup-host.sh --user "$RUN_AS"
else
  scripts/setup-host.sh
fi
[[ -x node_modules/.bin/bun ]] || npm ci --no-audit --no-fund
npm run --silent build
chmod -R a+rX "$REPO/dist"

# A busybox root filesystem from the host's static busybox: no download.
ROOTFS="$(mktemp -d /tmp/skiff-quickstart.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT
mkdir -p "$ROOTFS/rootfs/bin" "$ROOTFS/rootfs/etc" "$ROOTFS/rootfs/tmp" "$ROOTFS/rootfs/root"
cp /bin/busybox "$ROOTFS/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [[ "$applet" == busybox ]] || ln -sf busybox "$ROOTFS/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$ROOTFS/rootfs/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' >"$ROOTFS/rootfs/etc/group"
chmod 1777 "$ROOTFS/rootfs/tmp"
tar -C "$ROOTFS/rootfs" --numeric-owner --owner=0 --group=0 -cf "$ROOTFS/busybox.tar" .
chmod 755 "$ROOTFS"
chmod 644 "$ROOTFS/busybox.tar"

as_user() {
  if [[ "$RUN_AS" == root ]]; then "$@"; else su - "$RUN_AS" -c "$(printf '%q ' "$@")"; fi
}

echo "== skiff as ${RUN_AS}"
as_user "$REPO/dist/skiff" import -c 'CMD ["sh"]' "$ROOTFS/busybox.tar" busybox:latest
as_user "$REPO/dist/skiff" images
as_user "$REPO/dist/skiff" run --rm busybox:latest sh -c 'echo "hello from a $(id -un) shell in container $(hostname)"'
as_user "$REPO/dist/skiff" info --format '{{.store.driver}} storage, rootless={{.host.rootless}}'
echo "skiff is ready: $REPO/dist/skiff (try: dist/skiff --help)"
