#!/usr/bin/env bash
# Puts etcd's own .proto files (and the two they import) where the build finds them:
#   scripts/etcd-protos.sh [DEST]      (default /usr/local/share/dflockd/etcd-proto)
# They come from Debian 12's packages golang-etcd-server-dev, golang-github-gogo-protobuf-dev
# and golang-github-grpc-ecosystem-grpc-gateway-dev. Installing the first pulls ~460 MB of
# Go sources, so the three .debs are downloaded (2 MB) and only the protos are unpacked.
# Idempotent: does nothing when DEST is complete. If golang-etcd-server-dev is installed,
# CMake uses /usr/share/gocode directly and this script is not needed.
set -euo pipefail

DEST=${1:-/usr/local/share/dflockd/etcd-proto}
FILES=(
  go.etcd.io/etcd/etcdserver/etcdserverpb/rpc.proto
  go.etcd.io/etcd/mvcc/mvccpb/kv.proto
  go.etcd.io/etcd/auth/authpb/auth.proto
  github.com/gogo/protobuf/gogoproto/gogo.proto
  github.com/grpc-ecosystem/grpc-gateway/third_party/googleapis/google/api/annotations.proto
  github.com/grpc-ecosystem/grpc-gateway/third_party/googleapis/google/api/http.proto
)

complete=1
for f in "${FILES[@]}"; do [ -f "$DEST/$f" ] || complete=0; done
[ "$complete" = 1 ] && exit 0

SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"  # apt's _apt user downloads into it
cd "$work"
if ! apt-get download golang-etcd-server-dev golang-github-gogo-protobuf-dev \
       golang-github-grpc-ecosystem-grpc-gateway-dev >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  apt-get download golang-etcd-server-dev golang-github-gogo-protobuf-dev \
    golang-github-grpc-ecosystem-grpc-gateway-dev
fi
for deb in ./*.deb; do dpkg -x "$deb" unpacked; done
for f in "${FILES[@]}"; do
  $SUDO install -D -m 644 "unpacked/usr/share/gocode/src/$f" "$DEST/$f"
done
echo "etcd protos in $DEST"
