#!/usr/bin/env bash
# Regenerates gen/ from proto/: the one command that makes generated code. gen/ is committed;
# CI checks that running this changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/protodeps.sh
./scripts/tools.sh
rm -rf gen
.tools/bin/buf generate
