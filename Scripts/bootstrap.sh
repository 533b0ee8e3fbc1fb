#!/usr/bin/env bash
# Installs the system libraries MLSKit builds against (Debian 12): libsodium and OpenSSL's
# libcrypto, found through pkg-config, SQLite for the embedded store, and valgrind for the
# instruction-count gate (Benchmarks/Scripts/instruction-gate.py); then obtains the official
# MLS test vectors for `swift test` (Scripts/vectors.sh). Safe to run repeatedly.
set -euo pipefail
packages=(libsodium-dev libssl-dev libsqlite3-dev pkg-config valgrind)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "bootstrap: ${packages[*]} already installed"
else
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
  echo "bootstrap: installed ${missing[*]}"
fi
# Where the network cannot reach the vectors' host this prints one line and goes on: the demo
# needs no vectors, and `swift test` then names the fix in one failure.
"$(dirname "$0")/vectors.sh"
