#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The long variants of the hardening tests (README, "Security and reliability"), too slow for
# CI: the crash harness with DFDG_CRASH_KILLS kills (default 200), the load test for
# DFDG_LOAD_SECONDS seconds (default 600), and every fuzz target for DFDG_FUZZ_SECONDS seconds
# (default 1800). Builds build/ (normal, -Werror) first. Exit status 0 only when all pass.
#
# usage: scripts/long-tests.sh [crash|load|fuzz]...   (default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
parts=("$@")
if [ ${#parts[@]} -eq 0 ]; then parts=(crash load fuzz); fi
for p in "${parts[@]}"; do
  case $p in crash | load | fuzz) ;; *) echo "usage: $0 [crash|load|fuzz]..." >&2; exit 2 ;; esac
done
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDFDG_WERROR=ON >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" --target dfdg
for p in "${parts[@]}"; do
  echo "== long: $p =="
  case $p in
  crash) DFDG_CRASH_KILLS=${DFDG_CRASH_KILLS:-200} \
      python3 tests/integration/test_crash.py --dfdg build/dfdg ;;
  load) DFDG_LOAD_SECONDS=${DFDG_LOAD_SECONDS:-600} \
      python3 tests/integration/test_load.py --dfdg build/dfdg ;;
  fuzz) DFDG_FUZZ_SECONDS=${DFDG_FUZZ_SECONDS:-1800} bash scripts/fuzz.sh ;;
  esac
done
echo "long-tests.sh: all passed"
