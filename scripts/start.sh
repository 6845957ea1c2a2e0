#!/usr/bin/env bash
# Fresh machine to running server: install what is missing, build (Release), start
# dflockd on its defaults. Extra arguments go to dflockd (see `dflockd --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build -DDFLOCKD_BUILD_TESTS=OFF
exec build/dflockd "$@"
