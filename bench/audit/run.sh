#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# run.sh: one whole audit log benchmark run (bench/README.md). Builds nothing: give it the
# build folder that holds bench/audit/bench_audit. In a fresh temporary folder it runs
# bench_audit, which appends through the real writer with signed tree heads on (one run per
# submitter count), builds a log of LOG_SIZE entries, times inclusion and consistency proofs
# and the newest-head lookup on it, and runs the verifier over it, each against a raw SQLite
# baseline in the same folder. When the build folder also holds dfdg, it then times
# `dfdg audit verify` on the same log. Then it removes the folder. Exit status: bench_audit's,
# or 1 when dfdg audit verify does not exit 0.
#
# usage: bench/audit/run.sh BUILD_DIR
# environment (defaults in brackets):
#   BENCH       the bench_audit binary [BUILD_DIR/bench/audit/bench_audit]
#   DFDG        the dfdg binary; skipped when it is not there [BUILD_DIR/dfdg]
#   N           entries appended through the writer in each run [100000]
#   C           submitter counts, one append run each, comma-separated [8,64]
#   LOG_SIZE    entries in the log for proofs and verify [1000000]
#   HEAD_EVERY  entries between signed tree heads in that log [1000]
#   PROOFS      inclusion proofs, consistency proofs and head lookups [10000]
#   STRICT      1: exit 3 when a target is missed [0]
#   KEEP        1: keep the temporary folder and its SQLite files [0]
#   TMPDIR      where the temporary folder goes [/tmp]
set -eu

if [ $# -ne 1 ] || [ "$1" = "--help" ] || [ "$1" = "-h" ]; then
    sed -n '/^# usage:/,/^#   TMPDIR/s/^# \{0,1\}//p' "$0" >&2
    exit 2
fi
build=$1
bench=${BENCH:-$build/bench/audit/bench_audit}
dfdg=${DFDG:-$build/dfdg}
log_size=${LOG_SIZE:-1000000}
if [ ! -x "$bench" ]; then
    echo "run.sh: $bench is not an executable (build it first, or set BENCH)" >&2
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dfdg-bench.XXXXXX")
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    if [ "${KEEP:-0}" = 1 ]; then
        echo "run.sh: kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cli=0
[ -x "$dfdg" ] && [ "$log_size" != 0 ] && cli=1
set -- --dir "$tmp" -n "${N:-100000}" -c "${C:-8,64}" --log-size "$log_size" \
    --head-every "${HEAD_EVERY:-1000}" --proofs "${PROOFS:-10000}"
[ "${STRICT:-0}" = 1 ] && set -- "$@" --strict
# The CLI needs the log after bench_audit is done; the trap removes the folder either way.
{ [ "${KEEP:-0}" = 1 ] || [ $cli = 1 ]; } && set -- "$@" --keep
rc=0
"$bench" "$@" || rc=$?

# The command an operator runs, on the same log: dfdg_audit_check plus opening the store.
if [ $cli = 1 ] && [ -f "$tmp/log.db" ]; then
    t0=$(date +%s.%N)
    vrc=0
    "$dfdg" audit verify --db "$tmp/log.db" >"$tmp/verify.out" 2>&1 </dev/null || vrc=$?
    t1=$(date +%s.%N)
    if [ $vrc -ne 0 ]; then
        echo "run.sh: dfdg audit verify exited with $vrc:" >&2
        cat "$tmp/verify.out" >&2
        [ $rc -eq 0 ] && rc=1
    else
        awk -v t0="$t0" -v t1="$t1" -v n="$log_size" -v out="$(head -n 1 "$tmp/verify.out")" \
            'BEGIN { s = t1 - t0; r = sprintf("%.0f", n / s)
                     while (r ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($|,)/, ",&", r)
                     sub(/^dfdg audit verify: /, "", out)
                     printf "\nthe CLI on the same log:\n  verify        %-28s: %9s entries/s  (%.2f s; %s)\n",
                            "dfdg audit verify --db", r, s, out }'
    fi
fi
exit $rc
