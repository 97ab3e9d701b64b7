#!/usr/bin/env bash
# Runs every test: vet, the whole suite with the race detector (unit, integration and end-to-end
# tests against the real server binary and grpcurl), then each fuzz target briefly.
# Installs what it needs (pinned) itself. FUZZTIME=30s for a longer local fuzz run.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/protodeps.sh
./scripts/tools.sh
export PATH="$PWD/.tools/bin:$PATH"

go vet ./...
go test -race -count=1 -timeout 15m ./...

fuzztime=${FUZZTIME:-5s}
while IFS=: read -r file name; do
  pkg=./$(dirname "$file")
  echo "fuzz $pkg $name for $fuzztime"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" > /tmp/fibergate-fuzz.log 2>&1 || { cat /tmp/fibergate-fuzz.log; exit 1; }
  tail -n 1 /tmp/fibergate-fuzz.log
done < <(grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' internal cmd | sed 's/func //' | sort)
