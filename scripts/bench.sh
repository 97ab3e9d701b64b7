#!/usr/bin/env bash
# Runs the benchmark command (cmd/bench): builds the server and the Fiber simulator, runs each
# scenario against fresh processes on loopback with Fiber's limits scaled down, and writes the
# Markdown report to stdout (progress to stderr). Arguments go to the command:
#   ./scripts/bench.sh                          # every scenario, a few minutes on 2 cores
#   ./scripts/bench.sh -only fanout,drain > report.md
# It needs only Go.
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./cmd/bench "$@"
