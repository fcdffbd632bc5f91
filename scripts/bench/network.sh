#!/usr/bin/env bash
# Benchmark: see scripts/bench/network.ts. Run as root (installs Podman, runs rootless as skiff-ci)
# or as a user with a subuid range. BENCH_RUNS sets the samples per measure, BENCH_MB the stream size.
set -euo pipefail
source "$(dirname "$0")/common.sh"
bench_main network
