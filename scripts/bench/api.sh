#!/usr/bin/env bash
# Benchmark: see scripts/bench/api.ts (Docker API service: request rate and p99
# of GET /containers/json with 10 running, GET /version, GET /_ping, against
# `podman system service`). Run as root (installs Podman, runs rootless as
# skiff-ci) or as a user with a subuid range. BENCH_SECONDS sets the seconds
# per measure (default 5), BENCH_CONCURRENCY the clients (default 10).
set -euo pipefail
source "$(dirname "$0")/common.sh"
bench_main api
