#!/usr/bin/env bash
# Installs the pinned command-line tools the build and tests use into .tools/ (git-ignored) and
# prints nothing on success. Safe to run repeatedly: each tool is installed once per version.
#   npm        package.json and its lockfile, with `npm ci`, into node_modules/: buf (ships the
#              Linux binary), protoc-gen-es, swagger2openapi, openapi-typescript, tsc, the
#              google/api, google/rpc and grpc.health protos (scripts/protodeps.sh copies them),
#              and the runtimes of the Node and TypeScript examples
#   grpcurl    built from the version pinned by the `tool` directive in go.mod
set -euo pipefail
cd "$(dirname "$0")/.."

tools=$PWD/.tools
mkdir -p "$tools/bin"

# npm ci wipes node_modules and reinstalls: run it only when the lockfile changed.
if ! cmp -s package-lock.json node_modules/.fibergate-installed; then
  npm ci --silent --no-audit --no-fund >/dev/null
  cp package-lock.json node_modules/.fibergate-installed
fi
for b in buf protoc-gen-es swagger2openapi openapi-typescript tsc; do
  ln -sf "$PWD/node_modules/.bin/$b" "$tools/bin/$b"
done

# grpcurl: go.mod pins the version; `go build` is a no-op when the cache is warm.
go build -o "$tools/bin/grpcurl" github.com/fullstorydev/grpcurl/cmd/grpcurl
