#!/usr/bin/env bash
# Runs the client examples in examples/ (Python and Node over gRPC, a TypeScript client over
# REST generated from the server's own OpenAPI description) against the real server binary and
# its built-in Fiber simulator (-fake-fiber), each against a server of its own on loopback
# ports, with bearer tokens, and fails if any fails. Installs what they need first: Debian's python3-grpcio and
# python3-protobuf (scripts/debian.sh), the npm packages from package-lock.json (npm ci).
# Prints one line per check, and a closing count.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/debian.sh python3-grpcio python3-protobuf
./scripts/tools.sh # npm ci: the Node and TypeScript packages
python=/usr/bin/python3 # Debian's, with Debian's grpcio; not a python3 earlier on PATH
export PYTHONDONTWRITEBYTECODE=1 # nothing written into gen/ or examples/

work=$(mktemp -d "${TMPDIR:-/tmp}/fibergate-clients.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/fibergate" ./cmd/server

# Two callers: the examples run as alice, and check that bob cannot see alice's tasks. The
# tokens go to the examples through the environment only, never on a command line or in output.
token() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }
hash() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
alice=$(token)
bob=$(token)
printf 'alice sha256:%s\nbob sha256:%s\n' "$(hash "$alice")" "$(hash "$bob")" > "$work/tokens.txt"

# serve NAME: starts a fresh server (its own store) and sets grpc_addr and http_addr. Starts
# are limited to 2 a minute so that the examples can show RESOURCE_EXHAUSTED with a retry delay.
serve() {
  local log="$work/$1.log"
  "$work/fibergate" -fake-fiber -tokens-file "$work/tokens.txt" -start-rate 2/1m \
    -grpc-addr 127.0.0.1:0 -http-addr 127.0.0.1:0 -store "sqlite:$work/$1.db" -log-format json 2> "$log" &
  pids+=($!)
  local line=""
  for _ in $(seq 300); do # 30s at most
    line=$(grep -m1 '"msg":"fibergate listening"' "$log" || true)
    [[ -n $line ]] && break
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n $line ]] || { cat "$log" >&2; echo "clients: the server did not start" >&2; return 1; }
  grpc_addr=$(sed 's/.*"grpc_addr":"\([^"]*\)".*/\1/' <<< "$line")
  http_addr=$(sed 's/.*"http_addr":"\([^"]*\)".*/\1/' <<< "$line")
}

passed=0
failed=0
# check NAME CMD...: runs CMD (bounded to 2 minutes) with the server's addresses and the
# tokens in its environment.
check() {
  local name=$1
  shift
  echo "--- $name"
  local begin=$SECONDS
  if FIBERGATE_ADDR=$grpc_addr FIBERGATE_URL="http://$http_addr" FIBERGATE_TOKEN=$alice FIBERGATE_OTHER_TOKEN=$bob \
    timeout 120 "$@"; then
    passed=$((passed + 1))
    echo "--- $name: passed in $((SECONDS - begin))s"
  else
    failed=$((failed + 1))
    echo "FAIL $name; the server's log:"
    tail -n 20 "$work/$server.log"
  fi
}

server=python
serve python
check "python example" "$python" examples/python/example.py
check "python: the descriptor set alone" "$python" examples/python/from_descriptor_set.py

server=node
serve node
check "node example" node examples/node/example.js
check "node: the descriptor set alone" node examples/node/from-descriptor-set.js

server=typescript
serve typescript
rm -rf .tools/ts
check "typescript: a client generated from the served OpenAPI type-checks strictly" \
  bash -c '.tools/bin/openapi-typescript "$FIBERGATE_URL/openapi.json" -o examples/typescript/fibergate-api.ts --silent &&
    .tools/bin/tsc -p examples/typescript'
check "typescript REST client" node .tools/ts/client.js

echo "clients: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
