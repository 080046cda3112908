#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# run.sh: one whole feed benchmark run (bench/README.md). Builds nothing: give it the build
# folder that holds dfdg and bench/feed/bench_feed. In a fresh temporary folder it creates a
# database (dfdg init), imports PERSONS synthetic persons living in kommune 101, mints a
# kommune:101 and an akasse:3f token, starts dfdg serve on a free loopback port, runs
# bench_feed (which makes the persons members of akasse:3f, loads D absence reports, drains
# the feed against a raw SQLite read, then measures commit-to-consumer latency while writers
# post), stops the server with SIGTERM and prints the figures. Exit status: bench_feed's, or
# 1 when the setup or the server's shutdown fails.
#
# usage: bench/feed/run.sh BUILD_DIR
# environment (defaults in brackets):
#   DFDG      the dfdg binary [BUILD_DIR/dfdg]
#   BENCH     the bench_feed binary [BUILD_DIR/bench/feed/bench_feed]
#   D         absence records loaded for the drain [100000]
#   LIMIT     feed page size [1000]
#   RATE      records a second the writers post while the consumer waits [1000]
#   K         single-POST writers [8]
#   DURATION  seconds they post [10]
#   PERSONS   synthetic persons, all members of akasse:3f [10000]
#   KEEP      1: keep the temporary folder (database, server log) [0]
#   TMPDIR    where the temporary folder goes [/tmp]
set -eu

if [ $# -ne 1 ] || [ "$1" = "--help" ] || [ "$1" = "-h" ]; then
    sed -n '/^# usage:/,/^#   TMPDIR/s/^# \{0,1\}//p' "$0" >&2
    exit 2
fi
build=$1
dfdg=${DFDG:-$build/dfdg}
bench=${BENCH:-$build/bench/feed/bench_feed}
d=${D:-100000}
limit=${LIMIT:-1000}
rate=${RATE:-1000}
k=${K:-8}
seconds=${DURATION:-10}
persons=${PERSONS:-10000}
for f in "$dfdg" "$bench"; do
    if [ ! -x "$f" ]; then
        echo "run.sh: $f is not an executable (build it first, or set DFDG / BENCH)" >&2
        exit 1
    fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dfdg-feedbench.XXXXXX")
server_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    if [ -n "$server_pid" ]; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ "${KEEP:-0}" = 1 ]; then
        echo "run.sh: kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

db=$tmp/hub.db
echo "run.sh: setting up in $tmp: $persons persons" >&2
"$dfdg" init --db "$db" >"$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log" >&2; exit 1; }
"$bench" persons "$persons" "$tmp/persons.jsonl"
"$dfdg" cpr import --db "$db" "$tmp/persons.jsonl" >>"$tmp/setup.log" 2>&1 ||
    { cat "$tmp/setup.log" >&2; exit 1; }
ktoken=$("$dfdg" token --db "$db" --org kommune:101 --sub bench --ttl 3600)
atoken=$("$dfdg" token --db "$db" --org akasse:3f --sub bench --ttl 3600)

# Port 0: the kernel picks a free port and the server logs it (serve.ready ... port=N).
"$dfdg" serve --db "$db" --listen 127.0.0.1:0 2>"$tmp/serve.log" &
server_pid=$!
port=
i=0
while [ $i -lt 200 ]; do
    port=$(sed -n 's/.*serve\.ready.* port=\([0-9][0-9]*\).*/\1/p' "$tmp/serve.log" | head -n 1)
    [ -n "$port" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "run.sh: dfdg serve exited:" >&2
        cat "$tmp/serve.log" >&2
        server_pid=
        exit 1
    fi
    sleep 0.05
    i=$((i + 1))
done
if [ -z "$port" ]; then
    echo "run.sh: dfdg serve did not report its port in 10 s" >&2
    exit 1
fi

rc=0
"$bench" --url "http://127.0.0.1:$port" --kommune-token "$ktoken" --akasse-token "$atoken" \
    --cprs "$tmp/persons.jsonl" --db "$db" --db-dir "$tmp" -d "$d" --limit "$limit" \
    --rate "$rate" --writers "$k" --seconds "$seconds" || rc=$?

kill -TERM "$server_pid"
src=0
wait "$server_pid" || src=$?
server_pid=
if [ $src -ne 0 ]; then
    echo "run.sh: dfdg serve exited with $src after SIGTERM; its log:" >&2
    tail -n 20 "$tmp/serve.log" >&2
    [ $rc -eq 0 ] && rc=1
fi
if [ $rc -eq 1 ]; then
    echo "run.sh: the server log's last lines:" >&2
    tail -n 10 "$tmp/serve.log" >&2
fi
exit $rc
