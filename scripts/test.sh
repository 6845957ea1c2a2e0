#!/usr/bin/env bash
# Fresh machine to green tests: install what is missing, build (Release) and run
# every test with ctest. Then the same suite under ASan+UBSan, unless --fast.
#   scripts/test.sh            # full run, as CI does
#   scripts/test.sh --fast     # skip the sanitizer build
#   scripts/test.sh -L core    # extra arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."
SANITIZE=1
if [ "${1:-}" = "--fast" ]; then
  SANITIZE=0
  shift
fi
scripts/install-deps.sh --test
scripts/build.sh build -DDFLOCKD_BUILD_TESTS=ON
(cd build && ctest --output-on-failure --parallel 2 "$@")
if [ "$SANITIZE" = 1 ]; then
  echo "== again under AddressSanitizer + UndefinedBehaviorSanitizer"
  BUILD_TYPE=RelWithDebInfo scripts/build.sh build-asan -DDFLOCKD_BUILD_TESTS=ON \
    -DDFLOCKD_SANITIZE=address,undefined
  (cd build-asan &&
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --output-on-failure --parallel 2 "$@")
fi
