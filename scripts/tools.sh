#!/usr/bin/env bash
# Installs the pinned command-line tools the build and tests use into .tools/ (git-ignored) and
# prints nothing on success. Safe to run repeatedly: each tool is installed once per version.
#   buf      from the npm package @bufbuild/buf (ships the Linux binary)
#   grpcurl  built from the version pinned by the `tool` directive in go.mod
set -euo pipefail
cd "$(dirname "$0")/.."

BUF_VERSION=1.75.0
tools=$PWD/.tools
mkdir -p "$tools/bin"

if [[ "$("$tools/bin/buf" --version 2>/dev/null || true)" != "$BUF_VERSION" ]]; then
  npm install --silent --no-audit --no-fund --prefix "$tools/npm" "@bufbuild/buf@$BUF_VERSION" >/dev/null
  ln -sf "$tools/npm/node_modules/.bin/buf" "$tools/bin/buf"
fi

# grpcurl: go.mod pins the version; `go build` is a no-op when the cache is warm.
go build -o "$tools/bin/grpcurl" github.com/fullstorydev/grpcurl/cmd/grpcurl
