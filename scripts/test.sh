#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what is needed, builds dfdg twice and runs the whole test suite (ctest) on each:
#   1. build/       the normal build, warnings as errors;
#   2. build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer (leaks are failures).
# Exit status 0 only when both pass. Set DFDG_TEST_QUICK=1 to skip the sanitizer build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)

run_suite() {
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDFDG_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 900)
}

echo "== normal build (-Werror) =="
run_suite build -DDFDG_BENCH=ON
if [ "${DFDG_TEST_QUICK:-0}" != 1 ]; then
  echo "== ASan + UBSan build =="
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  run_suite build-asan -DDFDG_SANITIZE=ON -DDFDG_BENCH=OFF
fi
echo "test.sh: all suites passed"
