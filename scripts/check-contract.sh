#!/usr/bin/env bash
# Contract checks: buf lint (STANDARD), generated code in sync with proto/, and no breaking
# change against the previous commit's contract.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/tools.sh
./scripts/protodeps.sh
buf=$PWD/.tools/bin/buf

echo "buf lint"
"$buf" lint

echo "generated code in sync"
./scripts/generate.sh
if ! git diff --quiet -- gen || [ -n "$(git ls-files --others --exclude-standard -- gen)" ]; then
  git status --short -- gen
  echo "gen/ is out of date: run scripts/generate.sh and commit the result" >&2
  exit 1
fi

echo "buf breaking"
base=$(git rev-parse -q --verify HEAD~1 || true)
if [ -z "$base" ] && [ "$(git rev-parse --is-shallow-repository)" = true ]; then
  # A shallow clone lacks the previous commit: fetch it rather than skip the check.
  git fetch -q --deepen=1 || { echo "shallow clone and cannot fetch HEAD~1: cannot check breaking changes" >&2; exit 1; }
  base=$(git rev-parse -q --verify HEAD~1 || true)
fi
if [ -z "$base" ] || ! git cat-file -e "$base:proto" 2>/dev/null; then
  echo "no previous contract to compare with (first commit of the contract)"
  exit 0
fi
work=$(mktemp -d)
trap 'git worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --detach "$work/base" "$base" >/dev/null 2>&1
cp -r .protodeps "$work/base/.protodeps"
(cd "$work/base" && "$buf" build proto -o "$work/base.binpb")
"$buf" breaking proto --against "$work/base.binpb"
echo "contract checks passed"
