#!/usr/bin/env bash
# Fresh machine to green tests: install what is missing, build (Release) and run
# every test with ctest. Then the same suite under ASan+UBSan, and the threaded parts
# under TSan, unless --fast.
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
if [ $# -gt 0 ]; then
  (cd build && ctest --output-on-failure --parallel 2 "$@")
else
  (cd build && ctest --output-on-failure --parallel 2 -LE "container|soak")
  # Alone: a few hundred clients and timing invariants should not share the CPU.
  echo "== the chaos soak (90 s of load over every transport, faults injected)"
  (cd build && ctest --output-on-failure -L soak)
  # Alone, so its image build (both cores for minutes) cannot slow timed tests down.
  echo "== the container image (podman): build it, run it as the Helm chart runs it"
  (cd build && ctest --output-on-failure -L container)
fi
if [ $# -eq 0 ]; then
  echo "== libFuzzer: every parser for 20 s each (clang-14, ASan + UBSan; about 5 min)"
  scripts/fuzz.sh 20
fi
if [ "$SANITIZE" = 1 ]; then
  echo "== again under AddressSanitizer + UndefinedBehaviorSanitizer"
  BUILD_TYPE=RelWithDebInfo scripts/build.sh build-asan -DDFLOCKD_BUILD_TESTS=ON \
    -DDFLOCKD_SANITIZE=address,undefined
  (cd build-asan &&
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --output-on-failure --parallel 2 -LE "container|deploy|soak" "$@")
fi
if [ "$SANITIZE" = 1 ] && [ $# -eq 0 ]; then  # (skipped when ctest arguments pick tests)
  echo "== the threaded parts under ThreadSanitizer: client library, gRPC adapter, durable mode"
  # The client's blocking API runs its coroutines on a private I/O thread, and the
  # gRPC adapter hands calls between gRPC's threads and the engine thread. Debian's
  # gRPC and OpenSSL are not instrumented: tests/tsan.supp says why and what is muted.
  cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DDFLOCKD_BUILD_TESTS=ON -DDFLOCKD_SANITIZE=thread > /dev/null
  cmake --build build-tsan --parallel "$(nproc)" --target dflockd client_tests
  export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp halt_on_error=1"
  DFLOCKD_BIN=build-tsan/dflockd build-tsan/tests/client_tests
  # The gRPC test client stays uninstrumented (grpcpp's inline code would be half
  # instrumented); the server under test is the TSan build.
  DFLOCKD_BIN=build-tsan/dflockd build/tests/grpc_client_tests
  # Durable mode: the engine thread, the etcd writers and folds, the election thread
  # (~110 s; the Release build's clients drive the TSan server).
  for suite in test_ha.py test_ha_shards.py; do
    DFLOCKD_BIN="$PWD/build-tsan/dflockd" DFLOCKD_BENCH="$PWD/build/dflockd-bench" \
      DFLOCKCTL_BIN="$PWD/build/tools/dflockctl" PYTHONDONTWRITEBYTECODE=1 \
      /usr/bin/python3 -W ignore "tests/ha/$suite"
  done
fi
