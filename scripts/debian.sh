#!/usr/bin/env bash
# Installs the named Debian packages that are missing (scripts run as root on a fresh machine,
# CI's too) and prints nothing when all are there. Used for protoc and grpc_python_plugin
# (protobuf-compiler, protobuf-compiler-grpc) and Python's gRPC runtime (python3-grpcio,
# python3-protobuf), which have no other source here, and tmux, which the client's terminal test
# (cmd/fibergate) runs this script for when it is missing.
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
echo "apt-get install ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
install() { apt-get install -y -qq --no-install-recommends "${missing[@]}" > "$log" 2>&1; }
# Package lists fetched within the hour (by an earlier call) are used as they are; if they
# are too old for the install, they are fetched again.
if [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -60 2>/dev/null | head -n 1)" ]] || ! install; then
  apt-get update -qq > "$log" 2>&1 || { cat "$log" >&2; exit 1; }
  install || { cat "$log" >&2; exit 1; }
fi
