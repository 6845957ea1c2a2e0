#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser (libFuzzer, clang-14, ASan + UBSan), in its
# own build directory so the GCC build is untouched.
#   scripts/fuzz.sh              # each target for 30 s (CI runs 20 s each)
#   scripts/fuzz.sh 600          # each target for 10 min
#   scripts/fuzz.sh 600 --merge  # ...and add inputs that found new coverage to
#                                # tests/fuzz/corpus/<target>/ (commit them)
# A crash fails the run; its input is in build-fuzz/artifacts/. Fix the bug, then add
# the input to the target's corpus (and a unit test) so it stays fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-30}
MERGE=${2:-}
TARGETS=(native response_writer http_json subject tokens config)

missing=()
for pkg in clang-14 libfuzzer-14-dev libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDFLOCKD_BUILD_TESTS=OFF -DDFLOCKD_FUZZ=ON -DDFLOCKD_SANITIZE=address,undefined,fuzzer-no-link \
  > /dev/null
cmake --build build-fuzz --parallel "$(nproc)" --target fuzz_targets

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
mkdir -p build-fuzz/artifacts
failed=0
for t in "${TARGETS[@]}"; do
  seeds=tests/fuzz/corpus/$t
  work=build-fuzz/corpus/$t
  mkdir -p "$work"
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  # New inputs go to the first directory (scratch); the in-tree seeds are read-only.
  if ! build-fuzz/tests/fuzz/fuzz_"$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -close_fd_mask=3 -artifact_prefix="build-fuzz/artifacts/$t-" "${dict[@]}" \
      "$work" "$seeds" > "build-fuzz/$t.log" 2>&1; then
    echo "FUZZ FAILURE in $t: see build-fuzz/$t.log and build-fuzz/artifacts/"
    tail -40 "build-fuzz/$t.log"
    failed=1
    continue
  fi
  runs=$(grep -m1 "stat::number_of_executed_units" "build-fuzz/$t.log" | awk '{print $2}')
  cov=$(grep -o "cov: [0-9]*" "build-fuzz/$t.log" | tail -1)
  echo "fuzz_$t: ${runs:-?} runs in ${SECONDS_EACH}s, $cov, corpus $(ls "$work" | wc -l) (+$(ls "$seeds" | wc -l) seeds)"
  if [ "$MERGE" = "--merge" ]; then
    build-fuzz/tests/fuzz/fuzz_"$t" -merge=1 -close_fd_mask=3 "$seeds" "$work" > /dev/null 2>&1
  fi
done
exit $failed
