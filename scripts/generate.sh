#!/usr/bin/env bash
# Regenerates gen/ from proto/: the one command that makes generated code. gen/ is committed;
# CI checks that running this changes nothing, so every step is deterministic and uses pinned
# generators only.
#   gen/fibergate.binpb   the contract as one self-contained FileDescriptorSet: proto/ with every
#                         import, google/rpc (Status, error details) and grpc.health.v1, with
#                         comments (source info)
#   gen/fibergate/...     Go, grpc-go and grpc-gateway code
#   gen/openapiv2/, gen/openapiv3/  the REST view's OpenAPI description, v2 and 3.0
#   gen/python/           Python messages and grpcio stubs (protoc and grpc_python_plugin)
#   gen/node/             ES modules with TypeScript declarations (protoc-gen-es)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/tools.sh
./scripts/protodeps.sh
buf=.tools/bin/buf
rm -rf gen
"$buf" generate
# The whole workspace (ours and the imported modules), imports included, comments kept.
"$buf" build --as-file-descriptor-set -o gen/fibergate.binpb

# Python: protoc and grpc_python_plugin from Debian (protobuf-compiler 3.21.12 and
# protobuf-compiler-grpc 1.51.1, matching Debian's python3-protobuf 4.21 and python3-grpcio
# 1.51), fed from the descriptor set so that they see exactly what the other languages see.
./scripts/debian.sh protobuf-compiler protobuf-compiler-grpc
case "$(protoc --version)" in
  "libprotoc 3.21."*) ;;
  *) echo "generate: want protoc 3.21 (Debian's protobuf-compiler), have $(protoc --version)" >&2; exit 1 ;;
esac
py=gen/python
mkdir -p "$py" gen/node
pyfiles=$(cd .protodeps/googleapis && find google -name '*.proto' | sort)
pyfiles+=" buf/validate/validate.proto protoc-gen-openapiv2/options/annotations.proto protoc-gen-openapiv2/options/openapiv2.proto"
pyfiles+=" $(cd proto && find fibergate -name '*.proto' | sort)"
# shellcheck disable=SC2086 # word splitting of the file lists is intended
protoc --descriptor_set_in=gen/fibergate.binpb --python_out="$py" --pyi_out="$py" $pyfiles
protoc --descriptor_set_in=gen/fibergate.binpb --plugin=protoc-gen-grpc_python="$(command -v grpc_python_plugin)" \
  --grpc_python_out="$py" fibergate/contactdetails/v1/contact_details.proto
# Health as grpc_health/v1 (the layout of PyPI's grpcio-health-checking): under grpc/ it would
# be shadowed by grpcio's own grpc package.
health=$(mktemp -d)
trap 'rm -rf "$health"' EXIT
install -D -m 0644 .protodeps/grpc/grpc/health/v1/health.proto "$health/grpc_health/v1/health.proto"
protoc -I "$health" --python_out="$py" --pyi_out="$py" \
  --plugin=protoc-gen-grpc_python="$(command -v grpc_python_plugin)" --grpc_python_out="$py" grpc_health/v1/health.proto

# Node: protoc-gen-es (package.json) writes ES modules with TypeScript declarations, for
# @bufbuild/protobuf (and Connect, or any gRPC library, for the calls). Every file of the set but
# google/protobuf, which @bufbuild/protobuf/wkt provides.
nodefiles="$pyfiles grpc/health/v1/health.proto"
# shellcheck disable=SC2086
protoc --descriptor_set_in=gen/fibergate.binpb --plugin=protoc-gen-es=.tools/bin/protoc-gen-es \
  --es_out=gen/node --es_opt=target=js+dts,import_extension=js $nodefiles

# OpenAPI 3.0, what most client generators want, converted from the OpenAPI v2 file by
# swagger2openapi (package.json): x-nullable becomes nullable, produces becomes content types.
mkdir -p gen/openapiv3
.tools/bin/swagger2openapi --indent "  " gen/openapiv2/fibergate.swagger.json -o gen/openapiv3/fibergate.openapi.json
