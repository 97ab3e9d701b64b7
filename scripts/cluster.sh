#!/usr/bin/env bash
# Starts a fibergate cluster on loopback: N replicas of the server (default 3) on one PostgreSQL
# database, and the Fiber simulator (cmd/fiberfake) with Fiber's per-key limits scaled ten
# times down in time (30 starts and 240 polls per 6s; every replica is told the same limits).
# It prints the addresses and the log files, and stops everything on Ctrl-C.
#
#   ./scripts/cluster.sh [N]
#
# Environment:
#   FIBERGATE_STORE  the replicas' store, a postgres:// URL. When unset, the script creates a
#                    database fibergate_cluster_<random> on PGADMIN with psql and drops it when
#                    it stops.
#   PGADMIN          a role that may create databases
#                    (default postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable).
#   BASE_PORT        the simulator listens on BASE_PORT (default 19000); replica i on
#                    BASE_PORT+10(i+1) for gRPC, +1 for REST, +2 for /metrics.
#   START_RATE, POLL_RATE, LEASE_TTL, PEOPLE_PER_SECOND
#                    default 30/6s, 240/6s, 15s, 30.
#
# The replicas serve without caller authentication (-insecure-no-auth): loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

n=${1:-3}
if ! [[ $n =~ ^[1-9][0-9]?$ ]]; then
  echo "usage: $0 [N]   (1 to 99 replicas)" >&2
  exit 2
fi
base=${BASE_PORT:-19000}
start_rate=${START_RATE:-30/6s}
poll_rate=${POLL_RATE:-240/6s}
lease_ttl=${LEASE_TTL:-15s}
pps=${PEOPLE_PER_SECOND:-30}
admin=${PGADMIN:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
key=fiber-demo-key # the simulator's demo key

work=$(mktemp -d "${TMPDIR:-/tmp}/fibergate-cluster.XXXXXX")
pids=()
db=""
stop() {
  trap - INT TERM EXIT
  echo
  echo "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -n $db ]]; then
    psql -q "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || echo "could not drop database $db" >&2
  fi
  echo "logs kept in $work"
}
trap 'stop; exit 130' INT TERM
trap stop EXIT

echo "building into $work"
go build -o "$work/fibergate" ./cmd/server
go build -o "$work/fiberfake" ./cmd/fiberfake

store=${FIBERGATE_STORE:-}
if [[ -z $store ]]; then
  db=fibergate_cluster_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
  psql -q "$admin" -c "CREATE DATABASE $db"
  store=$(sed -E "s#^(postgres(ql)?://[^/]*)/[^?]*#\1/$db#" <<<"$admin")
fi

# waitready URL NAME LOG: waits up to 30s for URL to answer 200.
waitready() {
  for _ in $(seq 60); do
    if curl -fs -o /dev/null "$1"; then return 0; fi
    sleep 0.5
  done
  echo "$2 is not ready after 30s; its log ($3):" >&2
  tail -20 "$3" >&2
  exit 1
}

sim=127.0.0.1:$base
"$work/fiberfake" -addr "$sim" -start-rate "$start_rate" -poll-rate "$poll_rate" \
  -people-per-second "$pps" -keys "$key=1000000" 2>"$work/fiberfake.log" &
pids+=($!)
waitready "http://$sim/_sim/stats" fiberfake "$work/fiberfake.log"

for ((i = 0; i < n; i++)); do
  p=$((base + 10 * (i + 1)))
  FIBER_API_KEY=$key "$work/fibergate" -replica-id "replica-$i" -store "$store" \
    -fiber-url "http://$sim" -insecure-no-auth -lease-ttl "$lease_ttl" \
    -start-rate "$start_rate" -poll-rate "$poll_rate" \
    -grpc-addr "127.0.0.1:$p" -http-addr "127.0.0.1:$((p + 1))" -metrics-addr "127.0.0.1:$((p + 2))" \
    2>"$work/replica-$i.log" &
  pids+=($!)
done
for ((i = 0; i < n; i++)); do
  p=$((base + 10 * (i + 1)))
  waitready "http://127.0.0.1:$((p + 1))/healthz" "replica-$i" "$work/replica-$i.log"
done

echo
echo "store      $(sed -E 's#(://[^:/@]*):[^@]*@#\1:xxxxx@#' <<<"$store")"
echo "fiberfake  http://$sim   (stats: curl http://$sim/_sim/stats)   log $work/fiberfake.log"
for ((i = 0; i < n; i++)); do
  p=$((base + 10 * (i + 1)))
  echo "replica-$i  grpc 127.0.0.1:$p  rest http://127.0.0.1:$((p + 1))  metrics http://127.0.0.1:$((p + 2))/metrics  log $work/replica-$i.log"
done
echo
echo "try:  curl -s http://127.0.0.1:$((base + 11))/healthz"
echo "      grpcurl -plaintext -d '{\"personDetails\":[{\"linkedinUrl\":{\"value\":\"https://www.linkedin.com/in/jake\"}}]}' \\"
echo "        127.0.0.1:$((base + 10)) fibergate.contactdetails.v1.ContactDetailsService/StartBatch"
echo "Ctrl-C stops everything."

# Until Ctrl-C (which the processes get too), or until one of them ends on its own.
wait -n "${pids[@]}" || true
echo "a process ended: stopping the others" >&2
exit 1
