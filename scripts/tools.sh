#!/usr/bin/env bash
# Installs the pinned command-line tools the build and tests use into .tools/ (git-ignored) and
# prints nothing on success. Safe to run repeatedly: each tool is installed once per version.
#   npm tools  tools/package.json and its lockfile, with `npm ci`, into .tools/npm: buf (ships
#              the Linux binary), protoc-gen-es, swagger2openapi, and the google/api,
#              google/rpc and grpc.health protos (scripts/protodeps.sh copies them)
#   grpcurl    built from the version pinned by the `tool` directive in go.mod
set -euo pipefail
cd "$(dirname "$0")/.."

tools=$PWD/.tools
mkdir -p "$tools/bin" "$tools/npm"

# npm ci wipes and reinstalls: run it only when the lockfile changed.
if ! cmp -s tools/package-lock.json "$tools/npm/package-lock.json" || [[ ! -d "$tools/npm/node_modules" ]]; then
  cp tools/package.json tools/package-lock.json "$tools/npm/"
  npm ci --silent --no-audit --no-fund --prefix "$tools/npm" >/dev/null
fi
for b in buf protoc-gen-es swagger2openapi; do
  ln -sf "$tools/npm/node_modules/.bin/$b" "$tools/bin/$b"
done

# grpcurl: go.mod pins the version; `go build` is a no-op when the cache is warm.
go build -o "$tools/bin/grpcurl" github.com/fullstorydev/grpcurl/cmd/grpcurl
