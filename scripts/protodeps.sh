#!/usr/bin/env bash
# Copies the imported .proto files into .protodeps/ (git-ignored), one folder per buf module.
# The buf registry is not reachable from our machines, so they come from pinned packages:
#   googleapis/  google/api (http rules, field behaviour) and google/rpc (Status and the error
#                details) from the npm package google-proto-files (package-lock.json)
#   grpc/        grpc/health/v1/health.proto from the npm package grpc-health-check
#   openapiv2/   protoc-gen-openapiv2/options from the grpc-gateway Go module (as in go.mod)
#   protovalidate/ buf/validate from the protovalidate Go module
# Run scripts/tools.sh first: it installs the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

GATEWAY_V2=github.com/grpc-ecosystem/grpc-gateway/v2@v2.33.0 # as in go.mod
PROTOVALIDATE=github.com/bufbuild/protovalidate@v1.2.2

moddir() { go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'; }

npm=node_modules
out=.protodeps
stamp="$out/.stamp"
want="$GATEWAY_V2 $PROTOVALIDATE $(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
rm -rf "$out"
mkdir -p "$out/googleapis/google/api" "$out/googleapis/google/rpc" "$out/grpc/grpc/health/v1" \
  "$out/protovalidate/buf/validate" "$out/openapiv2/protoc-gen-openapiv2/options"

for f in annotations http field_behavior; do
  install -m 0644 "$npm/google-proto-files/google/api/$f.proto" "$out/googleapis/google/api/$f.proto"
done
for f in status error_details code; do
  install -m 0644 "$npm/google-proto-files/google/rpc/$f.proto" "$out/googleapis/google/rpc/$f.proto"
done
install -m 0644 "$npm/grpc-health-check/proto/health/v1/health.proto" "$out/grpc/grpc/health/v1/health.proto"
gw2=$(moddir "$GATEWAY_V2")
for f in annotations openapiv2; do
  install -m 0644 "$gw2/protoc-gen-openapiv2/options/$f.proto" "$out/openapiv2/protoc-gen-openapiv2/options/$f.proto"
done
pv=$(moddir "$PROTOVALIDATE")
install -m 0644 "$pv/proto/protovalidate/buf/validate/validate.proto" "$out/protovalidate/buf/validate/validate.proto"
echo "$want" > "$stamp"
