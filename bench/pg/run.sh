#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# run.sh: the ingest and feed benchmarks against PostgreSQL, with one node and with two
# (bench/README.md, "bench/pg"). Builds nothing: give it a build folder made with
# -DDFDG_PG=ON that holds dfdg, bench/ingest/bench_ingest, bench/feed/bench_feed and
# bench/pg/bench_pg_copy. In a fresh temporary folder it starts a throw-away cluster
# (scripts/pg-cluster.sh) on a free port, makes it durable (fsync and synchronous_commit on,
# unless DURABLE=0), creates a store in schema "hub" (dfdg init --pg), imports PERSONS
# synthetic persons and mints a kommune:101 token. Then:
#   1. one node: dfdg serve --pg, and bench_ingest against it (batched, then single POSTs);
#   2. two nodes: a second dfdg serve on the same schema, and two bench_ingest processes at
#      once, one a node, each with half the records and half the clients (batched, then
#      single POSTs);
#   3. the baseline: bench_pg_copy puts the rows of the one-node batched run into fresh
#      schemas with COPY (transactions of B rows, and one) and with the store's INSERT;
#   4. checks: every record stored once, the audit log verifies (dfdg audit verify, after
#      the nodes stopped), and the order of transaction times and tree-head times;
#   5. the feed (FEED=1): bench_feed's commit-to-consumer run on one node, schema "feed";
# and prints a summary with the ratios. Stops the nodes (each must exit 0 on SIGTERM) and the
# cluster, and removes the folder. Exit status: 0 done, 1 a failure (a record not stored, a
# check, a node's exit), 3 the ratio target missed with STRICT=1.
#
# usage: bench/pg/run.sh BUILD_DIR
# environment (defaults in brackets):
#   DFDG, BENCH, FEED_BENCH, COPY  the binaries [BUILD_DIR/dfdg, .../bench_ingest,
#             .../bench_feed, .../bench_pg_copy]
#   N         records for the batched runs and the baseline [200000]
#   B         records a batch request, rows a baseline transaction [1000]
#   C         batch clients in all (two nodes: C/2 each) [4]
#   SINGLE_N  records for the single-POST runs (64 clients in all) [20000]
#   PERSONS   synthetic persons [10000]
#   FEED      1: also the feed benchmark's commit-to-consumer run [1]
#   DURABLE   1: fsync=on, synchronous_commit=on, full_page_writes=on [1]
#   PORT      the cluster's port [a free one]
#   STRICT    1: exit 3 when batched HTTP < 0.5 x COPY [0]
#   KEEP      1: keep the folder (cluster stopped, logs) [0]
#   TMPDIR    where the temporary folder goes [/tmp]
set -eu

if [ $# -ne 1 ] || [ "$1" = "--help" ] || [ "$1" = "-h" ]; then
    sed -n '/^# usage:/,/^#   TMPDIR/s/^# \{0,1\}//p' "$0" >&2
    exit 2
fi
build=$1
here=$(cd "$(dirname "$0")" && pwd)
cluster_sh=$here/../../scripts/pg-cluster.sh
dfdg=${DFDG:-$build/dfdg}
bench=${BENCH:-$build/bench/ingest/bench_ingest}
feed_bench=${FEED_BENCH:-$build/bench/feed/bench_feed}
copy=${COPY:-$build/bench/pg/bench_pg_copy}
n=${N:-200000}
b=${B:-1000}
c=${C:-4}
single_n=${SINGLE_N:-20000}
persons=${PERSONS:-10000}
feed=${FEED:-1}
durable=${DURABLE:-1}
for f in "$dfdg" "$bench" "$copy"; do
    if [ ! -x "$f" ]; then
        echo "run.sh: $f is not an executable (build with -DDFDG_PG=ON first, or set" \
            "DFDG / BENCH / COPY)" >&2
        exit 1
    fi
done
if [ "$feed" = 1 ] && [ ! -x "$feed_bench" ]; then
    echo "run.sh: $feed_bench is not an executable (or set FEED=0)" >&2
    exit 1
fi
if [ "$c" -lt 2 ]; then
    echo "run.sh: C must be at least 2 (two nodes get C/2 clients each)" >&2
    exit 2
fi

# A port nothing listens on, for the cluster.
free_port() {
    p=$((20000 + $$ % 20000))
    while [ $p -lt 65000 ]; do
        if ! ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
            echo $p
            return 0
        fi
        p=$((p + 1))
    done
    return 1
}
command -v ss >/dev/null 2>&1 || [ -n "${PORT:-}" ] || {
    echo "run.sh: ss (iproute2) is needed to find a free port; or set PORT" >&2
    exit 1
}
port=${PORT:-$(free_port)}

# psql: Debian puts it in PATH (postgresql-client); the cluster's bindir has one too.
psql=$(command -v psql || printf '%s\n' /usr/lib/postgresql/*/bin/psql | sort -V | tail -n 1)
# The cluster's superuser (scripts/pg-cluster.sh): its owner.
if [ "$(id -u)" -eq 0 ]; then
    superuser=${DFDG_PG_USER:-dfdgpg}
else
    superuser=$(id -un)
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dfdg-pgbench.XXXXXX")
chmod 0755 "$tmp" # the cluster's owner (dfdgpg when root) must reach its folder
pgdir=$tmp/pg
nodes=""
cluster_up=0
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    for pid in $nodes; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [ "$cluster_up" = 1 ]; then
        "$cluster_sh" stop "$pgdir" >/dev/null 2>&1 || true
    fi
    if [ "${KEEP:-0}" = 1 ]; then
        echo "run.sh: kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "run.sh: cluster in $pgdir on port $port" >&2
ci=$("$cluster_sh" start "$pgdir" "$port" 2>"$tmp/cluster.log") ||
    { cat "$tmp/cluster.log" >&2; exit 1; }
cluster_up=1
su_sql() {
    "$psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$superuser" -d postgres -tA \
        -c "$1"
}
if [ "$durable" = 1 ]; then
    su_sql "ALTER SYSTEM SET fsync = on" >/dev/null
    su_sql "ALTER SYSTEM SET synchronous_commit = on" >/dev/null
    su_sql "ALTER SYSTEM SET full_page_writes = on" >/dev/null
    su_sql "SELECT pg_reload_conf()" >/dev/null
    sleep 0.5
fi
hub="$ci schema=hub"
# A query on the hub schema as the dfdg role; one value out.
hub_sql() {
    "$psql" -X -q -v ON_ERROR_STOP=1 "$ci options=-csearch_path=hub" -tA -c "$1"
}

echo "run.sh: setting up schema hub: $persons persons" >&2
"$dfdg" init --pg "$hub" >"$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log" >&2; exit 1; }
"$bench" persons "$persons" "$tmp/persons.jsonl"
"$dfdg" cpr import --pg "$hub" "$tmp/persons.jsonl" >>"$tmp/setup.log" 2>&1 ||
    { cat "$tmp/setup.log" >&2; exit 1; }
token=$("$dfdg" token --pg "$hub" --org kommune:101 --sub bench --ttl 7200)

# Starts dfdg serve on a free loopback port for store $1, logging to $2; sets node_pid and
# node_port.
start_node() {
    "$dfdg" serve --pg "$1" --listen 127.0.0.1:0 2>"$2" &
    node_pid=$!
    nodes="$nodes $node_pid"
    node_port=
    i=0
    while [ $i -lt 200 ]; do
        node_port=$(sed -n 's/.*serve\.ready.* port=\([0-9][0-9]*\).*/\1/p' "$2" | head -n 1)
        [ -n "$node_port" ] && return 0
        if ! kill -0 "$node_pid" 2>/dev/null; then
            echo "run.sh: dfdg serve exited:" >&2
            cat "$2" >&2
            exit 1
        fi
        sleep 0.05
        i=$((i + 1))
    done
    echo "run.sh: dfdg serve did not report its port in 10 s" >&2
    exit 1
}

# Stops every node with SIGTERM; each must exit 0.
stop_nodes() {
    for pid in $nodes; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $nodes; do
        s=0
        wait "$pid" || s=$?
        if [ $s -ne 0 ]; then
            echo "run.sh: a dfdg serve exited with $s after SIGTERM" >&2
            rc=1
        fi
    done
    nodes=""
}

# "rate seconds" of the first line of file $2 that starts with label $1 (bench output).
rate_of() {
    sed -n "s/^  $1 .*: *\([0-9,]*\) rec\/s  (\([0-9.]*\) s.*/\1 \2/p" "$2" | head -n 1 | tr -d ,
}
# Field $3 (1 the rate, 2 the seconds) of label $1 in $tmp/$2.out; 0 when it is not there.
field() {
    v=$(rate_of "$1" "$tmp/$2.out" | cut -d' ' -f"$3")
    echo "${v:-0}"
}

rc=0
run=$(date +%s | tail -c 7)-$$
run1=p$run-1n
echo
echo "== 1. one node =="
start_node "$hub" "$tmp/node1.log"
port1=$node_port
echo "run.sh: (bench_ingest's header, raw SQLite lines and targets are its SQLite ones; the" \
    "PostgreSQL comparison is in the summary)" >&2
"$bench" --url "http://127.0.0.1:$port1" --token "$token" --cprs "$tmp/persons.jsonl" \
    -n "$n" -b "$b" -c "$c" --single-n "$single_n" --db-dir "$tmp" --run "$run1" \
    >"$tmp/one.out" || rc=1
cat "$tmp/one.out"

echo
echo "== 2. two nodes (the same schema; half the records and clients each) =="
start_node "$hub" "$tmp/node2.log"
port2=$node_port
half_n=$((n / 2))
half_c=$((c / 2))
half_s=$((single_n / 2))
pa=0
pb=0
"$bench" --url "http://127.0.0.1:$port1" --token "$token" --cprs "$tmp/persons.jsonl" \
    -n "$half_n" -b "$b" -c "$half_c" --single-n 0 --db-dir "$tmp" --run "p$run-2a" \
    >"$tmp/two-a.out" &
pa=$!
"$bench" --url "http://127.0.0.1:$port2" --token "$token" --cprs "$tmp/persons.jsonl" \
    -n "$half_n" -b "$b" -c "$half_c" --single-n 0 --db-dir "$tmp" --run "p$run-2b" \
    >"$tmp/two-b.out" &
pb=$!
wait $pa || rc=1
wait $pb || rc=1
"$bench" --url "http://127.0.0.1:$port1" --token "$token" --cprs "$tmp/persons.jsonl" \
    -n 0 --single-n "$half_s" --single-c 32 --run "p$run-2c" >"$tmp/two-c.out" &
pa=$!
"$bench" --url "http://127.0.0.1:$port2" --token "$token" --cprs "$tmp/persons.jsonl" \
    -n 0 --single-n "$half_s" --single-c 32 --run "p$run-2d" >"$tmp/two-d.out" &
pb=$!
wait $pa || rc=1
wait $pb || rc=1
for f in two-a two-b two-c two-d; do
    echo "-- node $(case $f in two-a | two-c) echo 1 ;; *) echo 2 ;; esac):"
    grep -E '^  (batched HTTP  N=|group commit|single POSTs  [0-9])' "$tmp/$f.out" || true
done

echo
echo "== 3. the baseline: the one-node batched rows into fresh schemas =="
"$copy" --pg "$ci" --cprs "$tmp/persons.jsonl" --run "$run1" -n "$n" -b "$b" \
    >"$tmp/copy.out" || rc=1
cat "$tmp/copy.out"

echo
echo "== 4. checks =="
stop_nodes
expect=$((n + single_n + 2 * half_n + 2 * half_s))
stored=$(hub_sql "SELECT count(*) FROM record WHERE source_ref LIKE 'bench-p$run-%'")
distinct=$(hub_sql "SELECT count(DISTINCT source_ref) FROM record WHERE source_ref LIKE 'bench-p$run-%'")
entries=$(hub_sql "SELECT count(*) || ' ' || COALESCE(max(idx) + 1, 0) FROM audit_entry")
rec_inv=$(hub_sql "SELECT count(*) FROM (SELECT recorded_at < lag(recorded_at) OVER (ORDER BY seq) AS inv FROM record) x WHERE inv")
sth_inv=$(hub_sql "SELECT count(*) FROM (SELECT at < lag(at) OVER (ORDER BY size) AS inv FROM audit_sth) x WHERE inv")
heads=$(hub_sql "SELECT count(*) FROM audit_sth")
echo "  records       stored once                  : $stored of $expect ($distinct distinct source_refs)"
echo "  audit log     entries, numbered 0..size-1  : $entries (count, max idx + 1); $heads tree heads"
verify_rc=0
"$dfdg" audit verify --pg "$hub" >"$tmp/verify.out" 2>&1 || verify_rc=$?
echo "  audit log     dfdg audit verify            : exit $verify_rc: $(head -n 1 "$tmp/verify.out")"
echo "  order         recorded_at below the previous record's (by seq): $rec_inv"
echo "  order         tree heads dated before the previous head (by size): $sth_inv"
[ "$stored" = "$expect" ] && [ "$distinct" = "$expect" ] || rc=1
[ "$verify_rc" = 0 ] || rc=1

if [ "$feed" = 1 ]; then
    echo
    echo "== 5. feed: commit to a waiting consumer, one node, schema feed =="
    fstore="$ci schema=feed"
    "$dfdg" init --pg "$fstore" >>"$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log" >&2; exit 1; }
    "$dfdg" cpr import --pg "$fstore" "$tmp/persons.jsonl" >>"$tmp/setup.log" 2>&1 ||
        { cat "$tmp/setup.log" >&2; exit 1; }
    ktoken=$("$dfdg" token --pg "$fstore" --org kommune:101 --sub bench --ttl 3600)
    atoken=$("$dfdg" token --pg "$fstore" --org akasse:3f --sub bench --ttl 3600)
    start_node "$fstore" "$tmp/node-feed.log"
    # -d 0: the drain's baseline reads a SQLite file, so only the commit-to-consumer run.
    "$feed_bench" --url "http://127.0.0.1:$node_port" --kommune-token "$ktoken" \
        --akasse-token "$atoken" --cprs "$tmp/persons.jsonl" --db "$tmp/none.db" -d 0 \
        --rate "${RATE:-1000}" --writers "${K:-8}" --seconds "${DURATION:-10}" \
        >"$tmp/feed.out" || rc=1
    cat "$tmp/feed.out"
    stop_nodes
fi

# The summary.
r1=$(field "batched HTTP" one 1)
s1=$(field "single POSTs" one 1)
sa=$(field "batched HTTP" two-a 2)
sb=$(field "batched HTTP" two-b 2)
ssa=$(field "single POSTs" two-c 2)
ssb=$(field "single POSTs" two-d 2)
cb=$(field "PG COPY       same rows, tx of" copy 1)
c1=$(field "PG COPY       same rows, one tx" copy 1)
ci1=$(field "PG INSERT" copy 1)
settings=$(su_sql "SELECT 'fsync=' || current_setting('fsync') || ', synchronous_commit=' ||
    current_setting('synchronous_commit')")
echo
awk -v r1="$r1" -v s1="$s1" -v sa="$sa" -v sb="$sb" -v ssa="$ssa" -v ssb="$ssb" -v cb="$cb" \
    -v c1="$c1" -v ci1="$ci1" -v n="$n" -v b="$b" -v c="$c" -v sn="$single_n" \
    -v hn="$half_n" -v hs="$half_s" -v hc="$half_c" -v settings="$settings" \
    -v ncpu="$(nproc 2>/dev/null || echo '?')" -v strict="${STRICT:-0}" '
function g(v,   s, out) {
    s = sprintf("%.0f", v); out = ""
    while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
    return s out
}
function ratio(a, z) { return z > 0 ? sprintf("%.2f", a / z) : "-" }
BEGIN {
    two = (sa > 0 && sb > 0) ? 2 * hn / (sa > sb ? sa : sb) : 0
    twos = (ssa > 0 && ssb > 0) ? 2 * hs / (ssa > ssb ? ssa : ssb) : 0
    printf "summary: dfdg on PostgreSQL (%s), %s CPUs, N=%d B=%d\n\n", settings, ncpu, n, b
    printf "  %-44s: %9s rec/s   ratio to PG COPY (tx of %d) = %s\n", \
        "batched HTTP, 1 node, C=" c, g(r1), b, ratio(r1, cb)
    printf "  %-44s: %9s rec/s   ratio to PG COPY = %s; 2 nodes / 1 node = %s  (%.2f s and %.2f s)\n", \
        "batched HTTP, 2 nodes, C=" hc "+" hc, g(two), ratio(two, cb), ratio(two, r1), sa, sb
    printf "  %-44s: %9s rec/s\n", "single POSTs, 1 node, 64 clients", g(s1)
    printf "  %-44s: %9s rec/s   2 nodes / 1 node = %s  (%.2f s and %.2f s)\n", \
        "single POSTs, 2 nodes, 32+32 clients", g(twos), ratio(twos, s1), ssa, ssb
    printf "  %-44s: %9s rec/s   (the baseline)\n", "PG COPY, same rows, tx of " b, g(cb)
    printf "  %-44s: %9s rec/s\n", "PG COPY, same rows, one tx", g(c1)
    printf "  %-44s: %9s rec/s   ratio HTTP/INSERT = %s\n", \
        "PG INSERT, a row a round trip, tx of " b, g(ci1), ratio(r1, ci1)
    met = cb > 0 && r1 >= 0.5 * cb
    printf "\ntarget: batched HTTP (1 node) >= 0.5 x PG COPY (tx of %d)   %s (%s)\n", b, \
        met ? "met" : "MISSED", ratio(r1, cb)
    exit (met || strict != 1) ? 0 : 3
}' || { s=$?; [ $rc -eq 0 ] && rc=$s; }
if [ $rc -eq 1 ]; then
    echo "run.sh: a run or a check failed; the nodes' last log lines:" >&2
    for f in "$tmp"/node*.log; do
        tail -n 5 "$f" >&2
    done
fi
exit $rc
