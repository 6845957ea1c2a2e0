#!/usr/bin/env bash
# Installs the Debian 12 packages dflockd needs. Idempotent: does nothing (and needs
# no network) when everything is present.
#   scripts/install-deps.sh          # to build and run
#   scripts/install-deps.sh --test   # also what the test suite drives the server with
# (The test extras include Debian's redis-server and prometheus packages, whose
# install scripts may start those services on a machine with systemd.)
set -euo pipefail

PACKAGES=(
  g++ cmake ninja-build ccache pkg-config
  libboost1.81-dev libssl-dev libspdlog-dev libcli11-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc libabsl-dev
  zlib1g-dev
)
if [ "${1:-}" = "--test" ]; then
  PACKAGES+=(
    libgtest-dev libgmock-dev
    python3 python3-grpcio python3-protobuf python3-websockets
    openssl procps curl prometheus redis-server
    python3-yaml python3-kubernetes unzip
    chromium fonts-dejavu-core
    etcd-server etcd-client iproute2
  )
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

# etcd's API protos (durable mode) are unpacked from Debian's packages, not installed.
here=$(cd "$(dirname "$0")" && pwd)
if [ ${#missing[@]} -eq 0 ]; then
  "$here/etcd-protos.sh"
  exit 0
fi

echo "installing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
"$here/etcd-protos.sh"
