#!/usr/bin/env bash
# Runs every test: vet, the whole suite with the race detector (unit, integration and end-to-end
# tests against the real server binary and grpcurl, which the tests build themselves from the
# version pinned in go.mod), the client examples in other languages against the real server
# (scripts/clients.sh, which installs their Debian and npm packages), then each fuzz target
# briefly, printing its last progress line (executions and elapsed time). FUZZTIME=30s for a
# longer local fuzz run. buf is not needed here: scripts/check-contract.sh installs it.
set -euo pipefail
cd "$(dirname "$0")/.."

go vet ./...
go test -race -count=1 -timeout 15m ./...
./scripts/clients.sh

# A count, not a duration: with a duration, Go 1.26's fuzzing coordinator can fail a target
# with "context deadline exceeded" at the end of the window on a busy machine
# (golang/go#75804, fixed in Go 1.27); a count has no deadline to race. 10000 inputs take a
# few seconds per target here. FUZZTIME=1m (or 200000x) fuzzes longer.
fuzztime=${FUZZTIME:-10000x}
fuzzlog=$(mktemp "${TMPDIR:-/tmp}/fibergate-fuzz.XXXXXX")
trap 'rm -f "$fuzzlog"' EXIT
while IFS=: read -r file name; do
  pkg=./$(dirname "$file")
  echo "fuzz $pkg $name for $fuzztime"
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" > "$fuzzlog" 2>&1; then
    cat "$fuzzlog"
    # A failing input is written to testdata/fuzz: that is a bug. A failure without one is
    # the fuzzing engine losing a worker on a starved machine: run once more to tell.
    if grep -q 'Failing input written to' "$fuzzlog"; then exit 1; fi
    echo "fuzz $name failed without a failing input; running it once more"
    go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" > "$fuzzlog" 2>&1 || { cat "$fuzzlog"; exit 1; }
  fi
  # The last progress line says how many inputs ran in how long; the final line is only "ok".
  grep -E '^fuzz: elapsed: .*execs: ' "$fuzzlog" | tail -n 1 || echo "  (no progress line)"
  tail -n 1 "$fuzzlog"
done < <(grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' internal cmd | sed 's/func //' | sort)
