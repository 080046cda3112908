#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang in build-fuzz/ and runs each
# for DFDG_FUZZ_SECONDS seconds (default 30) on a COPY of its seed corpus
# (tests/fuzz/corpus/<name>/, never written to), with its dictionary (tests/fuzz/<name>.dict)
# when there is one. Prints per target: executions, coverage and the result.
#
# Exit status: 0 when every target ran clean, or when clang/libFuzzer is not available (then it
# prints "skipped: clang/libFuzzer not found"); 1 when any target crashed, leaked, timed out,
# ran out of memory or broke a property, with the reproducer's path in the output
# (build-fuzz/fuzz-run/<name>/artifacts/). Reproduce with: build-fuzz/tests/fuzz/fuzz_<name> FILE
#
# Environment:
#   DFDG_FUZZ_SECONDS  seconds per target (default 30)
#   DFDG_FUZZ_TARGETS  space-separated names to run, e.g. "record token" (default: all)
#   DFDG_FUZZ_JOBS     targets run at the same time (default 1)
#   DFDG_FUZZ_NO_INSTALL=1  do not try to install clang (scripts/install-deps.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${DFDG_FUZZ_SECONDS:-30}
jobs=${DFDG_FUZZ_JOBS:-1}
build=$root/build-fuzz
rundir=$build/fuzz-run

case $seconds in '' | *[!0-9]*) echo "fuzz.sh: DFDG_FUZZ_SECONDS must be a number" >&2; exit 2 ;; esac
case $jobs in '' | *[!0-9]* | 0) echo "fuzz.sh: DFDG_FUZZ_JOBS must be 1 or more" >&2; exit 2 ;; esac

# clang and the libFuzzer runtime (Debian: clang + libclang-rt-14-dev). A machine that cannot
# install them (no network, no root) skips the fuzz pass rather than failing the build.
if [ "${DFDG_FUZZ_NO_INSTALL:-0}" != 1 ]; then
  bash scripts/install-deps.sh clang libclang-rt-14-dev ||
    echo "fuzz.sh: could not install clang and libclang-rt-14-dev; checking what is there" >&2
fi
skip() {
  echo "fuzz.sh: skipped: clang/libFuzzer not found ($1)"
  exit 0
}
command -v clang >/dev/null 2>&1 || skip "no clang on PATH"
probe=$(mktemp -d "${TMPDIR:-/tmp}/dfdg-fuzz-probe.XXXXXX")
trap 'rm -rf "$probe"' EXIT
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
  'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
  >"$probe/probe.c"
clang -fsanitize=fuzzer,address,undefined "$probe/probe.c" -o "$probe/probe" >/dev/null 2>&1 ||
  skip "clang cannot link -fsanitize=fuzzer,address,undefined"

all=()
for src in tests/fuzz/fuzz_*.c; do
  n=$(basename "$src" .c)
  all+=("${n#fuzz_}")
done
targets=(${DFDG_FUZZ_TARGETS:-${all[@]}})
for t in "${targets[@]}"; do
  [ -f "tests/fuzz/fuzz_$t.c" ] || { echo "fuzz.sh: no target fuzz_$t" >&2; exit 2; }
done

echo "== fuzz build (clang, libFuzzer + ASan + UBSan) in build-fuzz/ =="
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDFDG_FUZZ=ON \
  -DDFDG_WERROR=ON -DDFDG_TESTS=OFF -DDFDG_BENCH=OFF >/dev/null
build_targets=()
for t in "${targets[@]}"; do build_targets+=(--target "fuzz_$t"); done
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" "${build_targets[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Runs one target; its log and a one-line summary go to $rundir/<name>/.
run_one() {
  local t=$1 dir=$rundir/$1 bin=$build/tests/fuzz/fuzz_$1
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  # A copy: libFuzzer adds what it finds to the first corpus folder.
  if [ -d "tests/fuzz/corpus/$t" ]; then cp -R "tests/fuzz/corpus/$t/." "$dir/corpus/"; fi
  local args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
    -artifact_prefix="$dir/artifacts/")
  if [ -f "tests/fuzz/$t.dict" ]; then args+=(-dict="$root/tests/fuzz/$t.dict"); fi
  local rc=0
  # The outer timeout only catches a target that hangs outside libFuzzer's own clock.
  timeout --kill-after=10 $((seconds + 300)) "$bin" "${args[@]}" "$dir/corpus" >"$dir/log" 2>&1 ||
    rc=$?
  local execs cov result crash
  # (A crash while loading the seeds leaves no "cov:" line: hence the "|| true".)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1) || true
  cov=$(grep -o 'cov: [0-9]*' "$dir/log" | tail -n 1 | cut -d' ' -f2) || true
  crash=$(ls -1 "$dir/artifacts" 2>/dev/null | head -n 1) || true
  if [ "$rc" = 0 ] && [ -z "$crash" ]; then
    result=ok
  else
    result="FAILED (exit $rc)"
    if grep -q 'ERROR: libFuzzer: timeout' "$dir/log"; then result="FAILED: timeout"; fi
    if grep -q 'ERROR: LeakSanitizer' "$dir/log"; then result="FAILED: leak"; fi
    if grep -q 'out-of-memory' "$dir/log"; then result="FAILED: out of memory"; fi
    if grep -q 'fuzz: property failed' "$dir/log"; then result="FAILED: property"; fi
    if grep -q 'ERROR: AddressSanitizer' "$dir/log"; then result="FAILED: AddressSanitizer"; fi
    if grep -q 'runtime error:' "$dir/log"; then result="FAILED: undefined behaviour"; fi
    if [ -n "$crash" ]; then result="$result; reproducer: $dir/artifacts/$crash"; fi
    result="$result; log: $dir/log"
  fi
  printf '%-10s execs %-10s cov %-6s %s\n' "$t" "${execs:-?}" "${cov:-?}" "$result" \
    >"$dir/summary"
  [ "$result" = ok ]
}

echo "== fuzzing ${#targets[@]} targets for ${seconds}s each (${jobs} at a time) =="
failed=0
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
  run_one "$t" &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done

for t in "${targets[@]}"; do
  cat "$rundir/$t/summary" 2>/dev/null || { echo "$t: no result"; failed=1; }
done
for t in "${targets[@]}"; do
  if ! grep -q ' ok$' "$rundir/$t/summary" 2>/dev/null; then
    echo "---- $t: last lines of $rundir/$t/log ----"
    tail -n 40 "$rundir/$t/log" 2>/dev/null || true
  fi
done
if [ "$failed" != 0 ]; then
  echo "fuzz.sh: FAILED (reproduce with build-fuzz/tests/fuzz/fuzz_<name> <reproducer>)"
  exit 1
fi
echo "fuzz.sh: all ${#targets[@]} targets ran clean"
