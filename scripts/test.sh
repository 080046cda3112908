#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what is needed, builds dfdg twice and runs the whole test suite (ctest) on each:
#   1. build/       the normal build, warnings as errors;
#   2. build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer (leaks are failures).
#   fuzz        every libFuzzer target (tests/fuzz) for DFDG_FUZZ_SECONDS (default 30) each,
#               built with clang in build-fuzz/ (scripts/fuzz.sh); DFDG_TEST_FUZZ=0 skips it.
# Exit status 0 only when all pass. Set DFDG_TEST_QUICK=1 to skip the sanitizer build and the
# fuzz pass. The long variants (hours of fuzzing, hundreds of kills, a 10-minute load) are
# scripts/long-tests.sh.
# A third pass (unless DFDG_TEST_PG_SKIP=1 or DFDG_TEST_PG_ENABLE=0):
#   3. build-pg/    built with -DDFDG_PG=ON; the tests labelled pg (ctest -L pg) run against a
#                   throw-away PostgreSQL cluster (scripts/pg-cluster.sh) on a free loopback
#                   port, which is stopped and removed however the pass ends.
set -euo pipefail
cd "$(dirname "$0")/.."
pg_pass=0
if [ "${DFDG_TEST_PG_ENABLE:-1}" = 1 ] && [ "${DFDG_TEST_PG_SKIP:-0}" != 1 ]; then
  pg_pass=1
fi
fuzz_pass=1
if [ "${DFDG_TEST_FUZZ:-1}" = 0 ] || [ "${DFDG_TEST_QUICK:-0}" = 1 ]; then
  fuzz_pass=0
fi
extra=()
if [ "$pg_pass" = 1 ]; then extra+=(postgresql libpq-dev); fi
if [ "$fuzz_pass" = 1 ]; then extra+=(clang libclang-rt-14-dev); fi
bash scripts/install-deps.sh "${extra[@]}" # one apt run, before any build
jobs=$(nproc 2>/dev/null || echo 2)

run_suite() {
  local dir=$1; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDFDG_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
  (cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 900)
}

echo "== normal build (-Werror) =="
run_suite build -DDFDG_BENCH=ON
if [ "$fuzz_pass" = 1 ]; then
  echo "== fuzz targets (scripts/fuzz.sh, ${DFDG_FUZZ_SECONDS:-30} s each) =="
  DFDG_FUZZ_NO_INSTALL=1 DFDG_FUZZ_JOBS=${DFDG_FUZZ_JOBS:-2} bash scripts/fuzz.sh
fi
if [ "${DFDG_TEST_QUICK:-0}" != 1 ]; then
  echo "== ASan + UBSan build =="
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  run_suite build-asan -DDFDG_SANITIZE=ON -DDFDG_BENCH=OFF
fi
if [ "$pg_pass" = 1 ]; then
  echo "== PostgreSQL build (-DDFDG_PG=ON, ctest -L pg) =="
  pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/dfdg-pg.XXXXXX")
  pg_cleanup() {
    bash scripts/pg-cluster.sh stop "$pg_dir" >/dev/null || true
    rm -rf "$pg_dir"
  }
  trap pg_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  DFDG_TEST_PG=$(bash scripts/pg-cluster.sh start "$pg_dir" "$pg_port")
  export DFDG_TEST_PG
  echo "PostgreSQL test cluster: $DFDG_TEST_PG"
  cmake -S . -B build-pg -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDFDG_WERROR=ON -DDFDG_BENCH=OFF \
    -DDFDG_PG=ON "-DDFDG_TEST_PG=$DFDG_TEST_PG" >/dev/null
  cmake --build build-pg -j "$jobs"
  (cd build-pg && ctest --output-on-failure -j "$jobs" --timeout 900 -L pg --no-tests=error)
fi
echo "test.sh: all suites passed"
