#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs host packages, builds the
# binary, type-checks, then runs every test once as root and once as an
# unprivileged user with a subuid range. Ends with "N passed, M failed".
#
#   sudo scripts/test.sh            # everything
#   sudo scripts/test.sh tests/lib  # only some paths (both users)
set -euo pipefail

cd "$(dirname "$0")/.."
REPO="$(pwd)"
if [[ $(id -u) -ne 0 ]]; then
  exec sudo --preserve-env=PATH "$0" "$@"
fi

TEST_USER="${SKIFF_TEST_USER:-skiff-ci}"
PATHS=("$@")
LOGDIR="$(mktemp -d /tmp/skiff-test-logs.XXXXXX)"
chmod 755 "$LOGDIR"
passed=0
failed=0
typecheck_failed=0

scripts/setup-host.sh

if [[ ! -x node_modules/.bin/bun || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi
BUN="$REPO/node_modules/.bin/bun"

echo "== build"
npm run --silent build

echo "== typecheck"
if npm run --silent check; then
  passed=$((passed + 1))
else
  echo "typecheck FAILED"
  typecheck_failed=1
  failed=$((failed + 1))
fi

# Adds one bun test run's counts to the totals.
count() {
  local log="$1" p f
  p=$(grep -Eo '^ *[0-9]+ pass$' "$log" | tail -1 | grep -Eo '[0-9]+' || true)
  f=$(grep -Eo '^ *[0-9]+ fail$' "$log" | tail -1 | grep -Eo '[0-9]+' || true)
  if [[ -z "$p" && -z "$f" ]]; then
    echo "no test summary in $log: counting the run as one failure"
    failed=$((failed + 1))
    return
  fi
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
}

echo "== tests as root"
set +e
"$BUN" test --timeout 120000 "${PATHS[@]}" 2>&1 | tee "$LOGDIR/root.log"
set -e
count "$LOGDIR/root.log"

echo "== tests as ${TEST_USER} (rootless)"
# The user must be able to read the checkout; use a copy when it cannot.
WORKTREE="$REPO"
if ! su "$TEST_USER" -s /bin/bash -c "test -r '$REPO/package.json' && test -x '$REPO/dist/skiff' && test -x '$BUN'"; then
  WORKTREE="$(mktemp -d /tmp/skiff-test-tree.XXXXXX)"
  cp -a "$REPO/." "$WORKTREE/"
  chown -R "$TEST_USER" "$WORKTREE"
fi
set +e
# `su -` gives no XDG_RUNTIME_DIR, like a real `su` session: skiff must cope.
su - "$TEST_USER" -s /bin/bash -c "cd '$WORKTREE' && ./node_modules/.bin/bun test --timeout 120000 ${PATHS[*]:-}" 2>&1 | tee "$LOGDIR/rootless.log"
set -e
count "$LOGDIR/rootless.log"
if [[ "$WORKTREE" != "$REPO" ]]; then rm -rf "$WORKTREE"; fi

echo "logs: $LOGDIR"
# CI shows only the tail of the output: name the failures right above the count.
if [[ $typecheck_failed -eq 1 ]]; then echo "typecheck: FAILED"; fi
for phase in root rootless; do
  grep -E '^\(fail\) ' "$LOGDIR/$phase.log" 2>/dev/null | sort -u | sed "s/^/$phase: /" || true
done
echo "${passed} passed, ${failed} failed"
[[ $failed -eq 0 ]]
