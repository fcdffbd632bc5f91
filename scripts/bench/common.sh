# Sourced by the benchmark scripts: as root, installs Podman (the reference)
# and the host packages, builds skiff, then runs the TypeScript benchmark as
# an unprivileged user (rootless, like the targets). As a user, runs it as is.
set -euo pipefail

bench_main() {
  local name="$1"
  cd "$(dirname "${BASH_SOURCE[0]}")/../.."
  local repo
  repo="$(pwd)"
  local user="${SKIFF_BENCH_USER:-skiff-ci}"
  if [[ $(id -u) -eq 0 ]]; then
    SKIFF_WITH_PODMAN=1 scripts/setup-host.sh >/dev/null
    command -v hyperfine >/dev/null 2>&1 || apt-get install -y -qq hyperfine >/dev/null || true
    [[ -x node_modules/.bin/bun ]] || npm ci --no-audit --no-fund
    [[ -x dist/skiff ]] || npm run --silent build
    chmod -R a+rX "$repo"
    uncache_binary
    exec su "$user" -s /bin/bash -c "cd '$repo' && BENCH_RUNS='${BENCH_RUNS:-5}' BENCH_MB='${BENCH_MB:-200}' BENCH_MANY='${BENCH_MANY:-50}' BENCH_START_PAIRS='${BENCH_START_PAIRS:-}' ./node_modules/.bin/bun scripts/bench/${name}.ts"
  fi
  uncache_binary
  exec ./node_modules/.bin/bun "scripts/bench/${name}.ts"
}

# A binary just written by the build has every page in the page cache, and
# the kernel's fault-around then maps ~6 MB more of it into each process
# than an installed binary gets (seen as RSS and PSS of every shim). Drop
# its pages, so processes read it as they would after a reboot or an install.
uncache_binary() {
  sync dist/skiff 2>/dev/null || sync
  dd if=dist/skiff iflag=nocache count=0 status=none 2>/dev/null || true
}
