# SPDX-License-Identifier: Apache-2.0
"""Load and back-pressure (issue 6, part 3): 64 concurrent clients, each on its own
keep-alive connection (http.client), mix single-record POSTs, NDJSON batches, record reads,
person reads and feed long-polls for several orgs with valid tokens.

Asserted, in both phases:
  - every answer is 2xx, or 503 with a Retry-After header and an RFC 9457 problem body (the
    client sleeps a short, capped time and retries the same request: writes are idempotent
    by source_ref, so a retry is safe); no other status, no connection error, no crash (the
    server exits 0 on SIGTERM, so an ASan leak report fails too);
  - every acknowledged record (each 201/200 id, single or batch line) is in the store
    afterwards under its reporter and source_ref, and the audit log still verifies;
  - the server's /metrics count every 503 the clients saw as a writer rejection
    (dfdg_writer_rejected_total) and no other 5xx.
Each org that receives deliveries has one feed consumer; each must have seen exactly its
org's deliveries up to its cursor, once each, in order.

Phase 1 (default writer queue): memory. The server's VmRSS (/proc/PID/status) is read
after a warm-up with the same mix plus a few idle seconds, and again after the load plus
the same idle time, and must be back near it: after <= before + 64 MiB. The warm-up is
there because the SQLite page caches (cache_size 64 MiB a connection: the writer's and
threads + 2 readers') fill while the store grows from nothing; by design they keep what
they cache, up to their size, which is not a leak. Measured here with gdb
(sqlite3_memory_used, mallinfo2) over 2 minutes of this load: the heap outside SQLite
stays at 3.3 MiB, SQLite's memory levels off near 80 MiB, and RSS creeps only through
free memory glibc keeps in its arenas: +28 MiB over the default run, +51 MiB over the
600 s variant. The allowance is one connection's page cache; it is additive, not a
multiple of `before`, so a leak that already ran during the warm-up does not widen it.
It fails for a leak of about 1 KiB a request or more (a sabotaged server leaking 1 KiB
per request grew 75 MiB) or for a queue that grows without limit; smaller leaks of
unreachable memory are LeakSanitizer's job (the ASan pass, where RSS is only reported:
its quarantine and shadow memory keep freed memory on purpose).

Phase 2 (`--writer-queue 2`): back-pressure must happen, i.e. 503s occur and are all
well-formed, /metrics counts them, and the clients still get every write through.

p50/p99 latency per endpoint (per attempt, measured by the Python client on the same
machine, so it includes client overhead) and counts are printed, never asserted.

Time: DFDG_LOAD_SECONDS (default 60) is the whole load time: a quarter warm-up (at most 30
s), a fifth back-pressure (at most 60 s), the rest the main phase; setup, idle waits and
checks add about 10 s. Long variant: DFDG_LOAD_SECONDS=600. DFDG_LOAD_CLIENTS (default 64)
sets the number of clients.
"""
import http.client
import json
import math
import os
import random
import re
import shutil
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from dfdg_it import PURPOSE, Hub, Response, is_problem, person, run  # noqa: E402

LOAD_SECONDS = float(os.environ.get("DFDG_LOAD_SECONDS", "60"))
CLIENTS = int(os.environ.get("DFDG_LOAD_CLIENTS", "64"))
WARMUP_SECONDS = max(3.0, min(0.25 * LOAD_SECONDS, 30.0))
BACKPRESSURE_SECONDS = max(5.0, min(0.2 * LOAD_SECONDS, 60.0))
MAIN_SECONDS = max(5.0, LOAD_SECONDS - WARMUP_SECONDS - BACKPRESSURE_SECONDS)
IDLE_SECONDS = 3.0
GROWTH_ALLOWED_KIB = 64 * 1024   # VmRSS growth allowed over the main phase (see above)
# Under AddressSanitizer freed memory sits in a quarantine and the shadow grows with the
# heap: RSS says nothing about leaks there (LeakSanitizer at exit does that job instead).
SANITIZED = bool(os.environ.get("ASAN_OPTIONS"))
# A request still refused this long after its phase ended has been starved: a failure.
STARVED_AFTER = 20.0
RETRY_SLEEP_CAP = 0.1   # seconds: Retry-After is honoured, but capped (see honour_retry)

KOMMUNER = ["kommune:101", "kommune:147", "kommune:461", "kommune:751"]
AKASSER = ["akasse:3f", "akasse:ase"]
PERSONS_PER_KOMMUNE = 16
BATCH_LINES = 10
ENDPOINTS = ["POST /v1/records", "POST /v1/records/batch", "GET /v1/records/{id}",
             "GET /v1/person", "GET /v1/person/records", "GET /v1/feed"]
# Each org that receives deliveries has one feed consumer, as a real integration would (it
# long-polls: wait=1); STAR_READERS clients read as STAR; the others report and read as a
# kommune (two in three) or an a-kasse, with these weights.
CONSUMERS = KOMMUNER + AKASSER + ["dst"]
STAR_READERS = 4
MIX = {
    "reporter": [("post", 35), ("batch", 10), ("get", 25), ("person", 15), ("records", 15)],
    "star": [("get", 40), ("person", 30), ("records", 30)],
    "consumer": [("feed", 1)],
}


def cpr_of(i):
    """A distinct CPR number of a person born in the 1900s (7th digit 1)."""
    return "%02d%02d%02d1%03d" % (1 + i % 28, 1 + (i // 28) % 12, 50 + i // 336, i % 1000)


def population():
    """64 persons, 16 in each kommune, each a member of one of the a-kasser."""
    people = []
    for k, kom in enumerate(KOMMUNER):
        for j in range(PERSONS_PER_KOMMUNE):
            i = k * PERSONS_PER_KOMMUNE + j
            people.append({"cpr": cpr_of(i), "kommune": kom, "akasse": AKASSER[i % 2]})
    return people


def absence(cpr, source_ref):
    return {"type": "absence", "cpr": cpr, "source_ref": source_ref, "valid_from": "2025-03-02",
            "data": {"absence_type": "1", "notification_date": "2025-03-02"}}


def registration(cpr, source_ref):
    return {"type": "jobseeker-registration", "cpr": cpr, "source_ref": source_ref,
            "valid_from": "2025-03-02",
            "data": {"registration_date": "2025-03-02", "target_group": "1"}}


class LoadError(Exception):
    pass


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100.0 * len(sorted_values)) - 1))
    return sorted_values[k]


class Stats:
    """One client's counts and latencies (merged after the run: no lock on the hot path)."""

    def __init__(self):
        self.lat = {e: [] for e in ENDPOINTS}
        self.ok = {e: 0 for e in ENDPOINTS}
        self.busy = {e: 0 for e in ENDPOINTS}
        self.errors = []        # (endpoint, what) of every failure
        self.acked = []         # (reporter, source_ref, id) of every acknowledged record
        self.max_retries = 0

    def merge(self, other):
        for e in ENDPOINTS:
            self.lat[e] += other.lat[e]
            self.ok[e] += other.ok[e]
            self.busy[e] += other.busy[e]
        self.errors += other.errors
        self.acked += other.acked
        self.max_retries = max(self.max_retries, other.max_retries)

    def total_busy(self):
        return sum(self.busy.values())

    def table(self, title, seconds):
        lines = ["%s (%d clients, %.0f s)" % (title, CLIENTS, seconds),
                 "  %-24s %9s %8s %8s %10s %10s" % ("endpoint", "2xx", "503", "req/s",
                                                    "p50 ms", "p99 ms")]
        for e in ENDPOINTS:
            lat = sorted(self.lat[e])
            lines.append("  %-24s %9d %8d %8.0f %10.1f %10.1f" % (
                e, self.ok[e], self.busy[e], len(lat) / seconds,
                percentile(lat, 50) * 1000, percentile(lat, 99) * 1000))
        lines.append("  records acknowledged: %d; most retries of one request: %d; errors: %d"
                     % (len(self.acked), self.max_retries, len(self.errors)))
        return "\n".join(lines)


class Client(threading.Thread):
    """One keep-alive connection, one org, a seeded random mix until the deadline."""

    def __init__(self, idx, hub, people, shared_ids, feeds, deadline, seed):
        super().__init__(name="load-%d" % idx, daemon=True)
        self.idx = idx
        self.port = hub.port
        self.deadline = deadline
        self.rng = random.Random(seed * 1000 + idx)
        self.feed = None
        if idx < len(CONSUMERS):
            self.role, self.org = "consumer", CONSUMERS[idx]
            self.feed = feeds.setdefault(self.org, {"cursor": None, "seen": []})
        elif idx < len(CONSUMERS) + STAR_READERS:
            self.role, self.org = "star", "star"
        elif idx % 3 != 0:
            self.role, self.org = "reporter", KOMMUNER[idx % len(KOMMUNER)]
        else:
            self.role, self.org = "reporter", AKASSER[idx % len(AKASSER)]
        if self.org.startswith("kommune:"):
            self.people = [p["cpr"] for p in people if p["kommune"] == self.org]
        elif self.org.startswith("akasse:"):
            self.people = [p["cpr"] for p in people if p["akasse"] == self.org]
        else:
            self.people = [p["cpr"] for p in people]
        self.token = hub.token(self.org, sub="load")   # one token an org, minted once
        self.purpose = PURPOSE[self.org.split(":")[0]]
        self.ops = [op for op, w in MIX[self.role] for _ in range(w)]
        self.shared_ids = shared_ids   # ids any client acknowledged (appends are atomic)
        self.own_ids = []
        self.seq = 0
        self.prefix = "load-s%d-c%d-" % (seed, idx)
        self.stats = Stats()
        self.conn = None

    # --- one HTTP exchange ---------------------------------------------------------------

    def connect(self):
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def exchange(self, method, path, body=None, ctype=None, cpr=None):
        hdrs = {"Authorization": "Bearer " + self.token, "DFDG-Purpose": self.purpose}
        if cpr is not None:
            hdrs["DFDG-CPR"] = cpr
        if body is not None:
            hdrs["Content-Type"] = ctype or "application/json"
        t0 = time.perf_counter()
        self.conn.request(method, path, body=body, headers=hdrs)
        resp = self.conn.getresponse()
        raw = resp.read()
        took = time.perf_counter() - t0
        return Response(resp.status, resp.msg, raw), took

    def call(self, endpoint, method, path, body=None, ctype=None, cpr=None, ok=(200,)):
        """The request until it is answered with a status in ok; 503s are retried after a
        short capped sleep that honours Retry-After. Anything else raises LoadError."""
        retries = 0
        while True:
            try:
                r, took = self.exchange(method, path, body, ctype, cpr)
            except (OSError, http.client.HTTPException) as e:
                raise LoadError("connection error: %r" % e) from None
            self.stats.lat[endpoint].append(took)
            if r.status in ok:
                self.stats.ok[endpoint] += 1
                self.stats.max_retries = max(self.stats.max_retries, retries)
                return r
            if r.status != 503:
                raise LoadError("status %d: %s" % (r.status, r.raw[:300]))
            self.stats.busy[endpoint] += 1
            wait = honour_retry(r)          # raises LoadError when the 503 is malformed
            if time.monotonic() > self.deadline + STARVED_AFTER:
                raise LoadError("still refused %.0f s after the phase ended (%d retries)"
                                % (STARVED_AFTER, retries))
            retries += 1
            time.sleep(wait * self.rng.uniform(0.5, 1.0))

    # --- the operations ------------------------------------------------------------------

    def next_ref(self):
        self.seq += 1
        return self.prefix + str(self.seq)

    def make_record(self, cpr):
        ref = self.next_ref()
        if self.org.startswith("kommune:") and self.rng.random() < 0.5:
            return registration(cpr, ref)
        return absence(cpr, ref)

    def acked(self, ref, rid):
        self.stats.acked.append((self.org, ref, rid))
        self.own_ids.append(rid)
        self.shared_ids.append(rid)

    def op_post(self):
        rec = self.make_record(self.rng.choice(self.people))
        r = self.call("POST /v1/records", "POST", "/v1/records", json.dumps(rec),
                      ok=(200, 201))
        if not (isinstance(r.json, dict) and isinstance(r.json.get("id"), str)):
            raise LoadError("POST answered %d without an id: %s" % (r.status, r.raw[:200]))
        self.acked(rec["source_ref"], r.json["id"])

    def op_batch(self):
        recs = [self.make_record(self.rng.choice(self.people)) for _ in range(BATCH_LINES)]
        body = "".join(json.dumps(x) + "\n" for x in recs)
        r = self.call("POST /v1/records/batch", "POST", "/v1/records/batch", body,
                      ctype="application/x-ndjson")
        lines = [json.loads(x) for x in r.raw.decode().splitlines() if x.strip()]
        if len(lines) != len(recs):
            raise LoadError("batch of %d answered %d lines" % (len(recs), len(lines)))
        for rec, res in zip(recs, lines):
            if res.get("status") not in (200, 201) or not isinstance(res.get("id"), str):
                raise LoadError("batch line failed: %s" % json.dumps(res)[:300])
            self.acked(rec["source_ref"], res["id"])

    def op_get(self):
        ids = self.own_ids if self.role != "star" else self.shared_ids
        if not ids:
            return self.op_post() if self.role != "star" else self.op_person()
        rid = ids[self.rng.randrange(len(ids))]
        r = self.call("GET /v1/records/{id}", "GET", "/v1/records/" + rid)
        if not (isinstance(r.json, dict) and r.json.get("id") == rid):
            raise LoadError("GET record answered another body: %s" % r.raw[:200])

    def op_person(self):
        r = self.call("GET /v1/person", "GET", "/v1/person", cpr=self.rng.choice(self.people))
        if not isinstance(r.json, dict):
            raise LoadError("GET person answered no object: %s" % r.raw[:200])

    def op_records(self):
        r = self.call("GET /v1/person/records", "GET", "/v1/person/records?type=absence&limit=20",
                      cpr=self.rng.choice(self.people))
        if r.json is None:
            raise LoadError("GET person records answered no JSON: %s" % r.raw[:200])

    def op_feed(self):
        q = {"limit": 100, "wait": 1}
        if self.feed["cursor"] is not None:
            q["after"] = self.feed["cursor"]
        r = self.call("GET /v1/feed", "GET", "/v1/feed?" + urllib.parse.urlencode(q))
        j = r.json
        if not (isinstance(j, dict) and isinstance(j.get("items"), list) and
                isinstance(j.get("cursor"), str)):
            raise LoadError("feed page malformed: %s" % r.raw[:200])
        self.feed["seen"] += [cursor_seq(it["cursor"]) for it in j["items"]]
        self.feed["cursor"] = j["cursor"]

    def run(self):
        try:
            self.connect()
            while time.monotonic() < self.deadline:
                getattr(self, "op_" + self.rng.choice(self.ops))()
        except LoadError as e:
            self.stats.errors.append("%s (%s): %s" % (self.name, self.org, e))
        except Exception as e:  # noqa: BLE001 - a bug in the client is a failure too
            self.stats.errors.append("%s (%s): client failed: %r" % (self.name, self.org, e))
        finally:
            if self.conn is not None:
                self.conn.close()


def cursor_seq(cursor):
    if not (isinstance(cursor, str) and cursor.startswith("v1.")):
        raise LoadError("not a feed cursor: %r" % (cursor,))
    return int(cursor[3:])


RETRY_AFTER = re.compile(r"\A\s*\d+\s*\Z")


def honour_retry(r):
    """The 503 must carry Retry-After (delay-seconds) and be a problem; returns how long to
    sleep: what Retry-After asks, capped at RETRY_SLEEP_CAP so the test stays short."""
    ra = r.headers.get("Retry-After")
    if ra is None or not RETRY_AFTER.match(ra):
        raise LoadError("503 without a valid Retry-After (%r): %s" % (ra, r.raw[:200]))
    if not is_problem(r, 503):
        raise LoadError("503 without a problem body (%s): %s" % (r.ctype, r.raw[:200]))
    return min(float(ra), RETRY_SLEEP_CAP)


def run_clients(hub, people, seconds, seed, feeds):
    """CLIENTS clients for seconds; feeds (org -> cursor and the seqs seen) carries each
    consumer's position over to the next run on the same hub."""
    assert CLIENTS > len(CONSUMERS) + STAR_READERS
    shared_ids = []
    deadline = time.monotonic() + seconds
    clients = [Client(i, hub, people, shared_ids, feeds, deadline, seed) for i in range(CLIENTS)]
    for c in clients:
        c.start()
    for c in clients:
        c.join(seconds + STARVED_AFTER + 90)
    total = Stats()
    for c in clients:
        if c.is_alive():
            total.errors.append("%s never finished" % c.name)
        total.merge(c.stats)
    if hub.proc.poll() is not None:
        total.errors.append("the server exited (%s) during the load" % hub.proc.returncode)
    return total


def metrics(hub):
    r = hub.req("GET", "/metrics")
    assert r.status == 200, r
    out = {}
    for line in r.raw.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def start_hub(dfdg, people, extra=()):
    h = Hub(dfdg, [person(p["cpr"], p["kommune"][len("kommune:"):]) for p in people],
            extra_args=list(extra))
    try:
        for n, p in enumerate(people):   # each person's membership, before the load
            r = h.post(p["akasse"], {"type": "akasse-membership", "cpr": p["cpr"],
                                     "source_ref": "mship-%d" % n, "valid_from": "2020-01-01",
                                     "data": {"start_date": "2020-01-01"}})
            assert r.status == 201, r
    except BaseException:
        h.close()
        raise
    return h


def remove_store(h):
    """After a pass: the store of a load run is hundreds of MiB (kept when a test fails)."""
    shutil.rmtree(h.tmp, ignore_errors=True)


def check_after(h, total, m0, m1, feeds, earlier_acked=()):
    """What both phases assert once the load is over; the server is stopped here."""
    busy = total.total_busy()
    rejected = m1["dfdg_writer_rejected_total"] - m0["dfdg_writer_rejected_total"]
    fivexx = (m1['dfdg_http_requests_total{class="5xx"}'] -
              m0['dfdg_http_requests_total{class="5xx"}'])
    print("  server: %d writer rejections, %d 5xx answers (the clients saw %d 503s)"
          % (rejected, fivexx, busy))
    assert not total.errors, "%d failures, the first ones:\n  %s" % (
        len(total.errors), "\n  ".join(total.errors[:10]))
    assert rejected == busy, (rejected, busy)
    assert fivexx == busy, (fivexx, busy)
    h.close()   # exit status 0 (no crash; under ASan, no leak)
    stored = {(rep, ref): rid for rep, ref, rid in
              h.sql("SELECT reporter, source_ref, id FROM record WHERE source_ref LIKE 'load-%'")}
    acked = list(earlier_acked) + total.acked
    missing = [a for a in acked if stored.get((a[0], a[1])) != a[2]]
    assert not missing, "%d acknowledged records are not stored as acknowledged, e.g. %r" % (
        len(missing), missing[:5])
    assert len(stored) == len({(a[0], a[1]) for a in acked}), (
        "records stored that no client saw acknowledged", len(stored), len(acked))
    # Each consumer saw its org's deliveries up to its cursor, each once, in order.
    for org, f in sorted(feeds.items()):
        last = f["seen"][-1] if f["seen"] else 0
        want = [x for (x,) in h.sql("SELECT seq FROM delivery WHERE org_id = ? AND seq <= ? "
                                    "ORDER BY seq", (org, last))]
        assert f["seen"] == want, "%s's feed: %d items seen, %d delivered, first difference %r" % (
            org, len(f["seen"]), len(want),
            next(((a, b) for a, b in zip(f["seen"], want) if a != b), None))
    print("  feeds: %s" % ", ".join("%s %d" % (o, len(f["seen"])) for o, f in sorted(feeds.items())))
    r = h.cli("audit", "verify", "--db", h.db, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_mixed_load_memory(dfdg):
    """Phase 1: the default writer queue; latencies, no errors, memory back near its level."""
    people = population()
    h = start_hub(dfdg, people)
    try:
        feeds = {}
        warm = run_clients(h, people, WARMUP_SECONDS, seed=1, feeds=feeds)
        assert not warm.errors, warm.errors[:10]
        time.sleep(IDLE_SECONDS)
        before = rss_kib(h.proc.pid)
        m0 = metrics(h)
        total = run_clients(h, people, MAIN_SECONDS, seed=2, feeds=feeds)
        time.sleep(IDLE_SECONDS)
        after = rss_kib(h.proc.pid)
        m1 = metrics(h)
        print(total.table("mixed load, writer queue 4096", MAIN_SECONDS))
        # The bound and why the warm-up comes first: see the file's docstring.
        bound = before + GROWTH_ALLOWED_KIB
        print("  memory: VmRSS %.1f MiB after warm-up, %.1f MiB %.0f s after the load "
              "(bound %.1f MiB%s)" % (before / 1024, after / 1024, IDLE_SECONDS, bound / 1024,
                                      "; not asserted under ASan" if SANITIZED else ""))
        check_after(h, total, m0, m1, feeds, warm.acked)
        if not SANITIZED:
            assert after <= bound, "VmRSS grew from %d KiB to %d KiB" % (before, after)
    finally:
        h.close()
    remove_store(h)


def test_backpressure_tiny_queue(dfdg):
    """Phase 2: a writer queue of 2, so 64 clients overflow it: 503s with Retry-After and a
    problem body, counted by /metrics, and every write still gets through on retry."""
    people = population()
    h = start_hub(dfdg, people, ["--writer-queue", "2"])
    try:
        m0 = metrics(h)
        feeds = {}
        total = run_clients(h, people, BACKPRESSURE_SECONDS, seed=3, feeds=feeds)
        time.sleep(0.5)   # the last requests' completion callbacks count them
        m1 = metrics(h)
        print(total.table("back-pressure, writer queue 2", BACKPRESSURE_SECONDS))
        check_after(h, total, m0, m1, feeds)
        assert total.total_busy() > 0, "a writer queue of 2 under %d clients never overflowed" % (
            CLIENTS)
        assert total.busy["POST /v1/records"] > 0 or total.busy["POST /v1/records/batch"] > 0
        assert total.acked, "no write got through"
    finally:
        h.close()
    remove_store(h)


if __name__ == "__main__":
    run([test_mixed_load_memory, test_backpressure_tiny_queue])
