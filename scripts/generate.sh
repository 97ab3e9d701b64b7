#!/usr/bin/env bash
# Regenerates gen/ from proto/: the one command that makes generated code. gen/ is committed;
# CI checks that running this changes nothing, so every step is deterministic and uses pinned
# generators only.
#   gen/fibergate.binpb   the contract as one self-contained FileDescriptorSet: proto/ with every
#                         import, google/rpc (Status, error details) and grpc.health.v1, with
#                         comments (source info)
#   gen/fibergate/...     Go, grpc-go and grpc-gateway code; gen/openapiv2: the OpenAPI v2 file
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/tools.sh
./scripts/protodeps.sh
buf=.tools/bin/buf
rm -rf gen
"$buf" generate
# The whole workspace (ours and the imported modules), imports included, comments kept.
"$buf" build --as-file-descriptor-set -o gen/fibergate.binpb
