#!/usr/bin/env bash
# Makes the base images deploy/docker/Dockerfile names (debian:12, debian:12-slim)
# available to podman without a registry: a Debian 12 minbase root filesystem built
# by mmdebstrap from this machine's apt sources. Such images are for tests only (they
# carry this machine's apt sources). Idempotent; installs podman, runc and mmdebstrap.
#   CONTAINERS_CONF=tests/deploy/containers.conf scripts/container-base.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/tests/deploy/containers.conf}

missing=()
for pkg in podman runc mmdebstrap; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
fi

if podman image exists docker.io/library/debian:12-slim && podman image exists docker.io/library/debian:12; then
  exit 0
fi
SRC=/etc/apt/sources.list.d/debian.sources
[ -f "$SRC" ] || SRC=/etc/apt/sources.list
work=$(mktemp -d /dev/shm/dflockd-base.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$work"' EXIT
# Like Debian's official slim images: no manuals, docs (but copyrights) or locales,
# for this build and for every package later installed in the image.
TMPDIR=$work mmdebstrap --quiet --variant=minbase --dpkgopt=force-unsafe-io \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  bookworm "$work/rootfs.tar" "$SRC"
podman import --quiet "$work/rootfs.tar" docker.io/library/debian:12-slim >/dev/null
podman tag docker.io/library/debian:12-slim docker.io/library/debian:12
echo "base images: debian:12, debian:12-slim"
