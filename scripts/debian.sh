#!/usr/bin/env bash
# Installs the named Debian packages that are missing (scripts run as root on a fresh machine,
# CI's too) and prints nothing when all are there. Used for protoc and grpc_python_plugin
# (protobuf-compiler, protobuf-compiler-grpc) and Python's gRPC runtime (python3-grpcio,
# python3-protobuf), which have no other source here.
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
echo "apt-get install ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
