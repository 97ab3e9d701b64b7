#!/usr/bin/env bash
# Copies the imported .proto files (google/api, buf/validate, protoc-gen-openapiv2/options) from
# pinned Go modules into .protodeps/, which is git-ignored. The buf registry is not reachable from
# our machines, so the imports come through the Go module proxy instead.
set -euo pipefail
cd "$(dirname "$0")/.."

GATEWAY_V1=github.com/grpc-ecosystem/grpc-gateway@v1.16.0
GATEWAY_V2=github.com/grpc-ecosystem/grpc-gateway/v2@v2.33.0 # as in go.mod
PROTOVALIDATE=github.com/bufbuild/protovalidate@v1.2.2

moddir() { go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'; }

out=.protodeps
stamp="$out/.stamp"
want="$GATEWAY_V1 $GATEWAY_V2 $PROTOVALIDATE"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
rm -rf "$out"
mkdir -p "$out/googleapis/google/api" "$out/protovalidate/buf/validate" "$out/openapiv2/protoc-gen-openapiv2/options"

gw=$(moddir "$GATEWAY_V1")
for f in annotations http httpbody; do
  install -m 0644 "$gw/third_party/googleapis/google/api/$f.proto" "$out/googleapis/google/api/$f.proto"
done
gw2=$(moddir "$GATEWAY_V2")
for f in annotations openapiv2; do
  install -m 0644 "$gw2/protoc-gen-openapiv2/options/$f.proto" "$out/openapiv2/protoc-gen-openapiv2/options/$f.proto"
done
pv=$(moddir "$PROTOVALIDATE")
install -m 0644 "$pv/proto/protovalidate/buf/validate/validate.proto" "$out/protovalidate/buf/validate/validate.proto"
echo "$want" > "$stamp"
