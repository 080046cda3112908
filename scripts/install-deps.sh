#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian 12 packages dfdg needs to build, test and run. Idempotent: when every
# package is already installed it does nothing (and needs no network).
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libmicrohttpd-dev libjansson-dev libsqlite3-dev libsodium-dev
  libcmocka-dev python3 curl sqlite3
  # libgnutls28-dev: HTTPS and client certificates (src/api/tls.c) on the GnuTLS that
  # libmicrohttpd is built with; openssl: test_tls.py makes its test certificates with it.
  libgnutls28-dev openssl
)
# Extra packages for optional parts, asked for by name: "$0 clang" etc.
packages+=("$@")

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
