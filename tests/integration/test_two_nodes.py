# SPDX-License-Identifier: Apache-2.0
"""Two `dfdg serve` nodes on one PostgreSQL store (DESIGN section 6: several stateless nodes
over one primary). A record written through node A is readable through node B, delivered in
B's feeds and wakes a consumer long-polling on B; with writers on both nodes at once every
feed stays exactly-once with strictly increasing cursors and nothing missing; the same
source_ref sent to both nodes at once is one record (one 201, one 200 with its id; other
content: one 201, one 409); record and audit times follow commit order; and after both stop
the audit log is one sequence holding exactly the audited requests, which `dfdg audit verify`
accepts.

SQLite is one node (one file, one writer process), so without DFDG_TEST_PG (a libpq
conninfo; the Hub then keeps its store in a schema of its own there) the file reports itself
skipped: exit 0, or 77 under --require-pg (ctest's skip code for the pg label)."""
import os
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from dfdg_it import PG, Hub, person, run  # noqa: E402

JENS = "0101901235"   # resident of 101, member of akasse:3f
OLE = "1505751113"    # resident of 101, no a-kasse
WRITE_SECONDS = 5


def reg(source_ref, cpr=JENS, target_group="1"):
    """jobseeker-registration: routed to the a-kasse (membership) and dst (all)."""
    return {"type": "jobseeker-registration", "cpr": cpr, "source_ref": source_ref,
            "valid_from": "2025-03-02",
            "data": {"registration_date": "2025-03-02", "target_group": target_group}}


def absence(source_ref, cpr=JENS):
    """absence: routed to the a-kasse, not to dst."""
    return {"type": "absence", "cpr": cpr, "source_ref": source_ref, "valid_from": "2025-03-02",
            "data": {"absence_type": "1", "notification_date": "2025-03-02"}}


def membership():
    return {"type": "akasse-membership", "cpr": JENS, "source_ref": "mship",
            "valid_from": "2020-01-01", "data": {"start_date": "2020-01-01"}}


class Nodes:
    """Node A (the Hub that made the store) and node B (a second server on it)."""

    def __init__(self, dfdg):
        self.a = Hub(dfdg, [person(JENS, "101"), person(OLE, "101")])
        try:
            self.b = self.a.node()
        except BaseException:
            self.a.close()
            raise
        for n in (self.a, self.b):
            # Each node is its own process: the listening ports differ, the store is one.
            assert n.req("GET", "/healthz").status == 200
        assert self.a.port != self.b.port

    def __iter__(self):
        return iter((self.a, self.b))

    def close(self):
        try:
            self.b.close()
        finally:
            self.a.close()

    def verify(self):
        return subprocess.run([self.a.dfdg, "audit", "verify", "--db", self.a.db],
                              capture_output=True, text=True, timeout=120)


def created(r):
    assert r.status == 201, r
    return r.json["id"]


def feed(node, org, after=None, wait=None, limit=None, timeout=90):
    q = {}
    if after is not None:
        q["after"] = after
    if wait is not None:
        q["wait"] = wait
    if limit is not None:
        q["limit"] = limit
    r = node.req("GET", "/v1/feed" + ("?" + urllib.parse.urlencode(q) if q else ""), org,
                 timeout=timeout)
    assert r.status == 200, (org, r)
    return r.json


def seq(cursor):
    assert cursor.startswith("v1."), cursor
    return int(cursor[3:])


def drain(node, org, after=None):
    """Every item after the cursor, page by page, and the cursor at the end."""
    items = []
    while True:
        j = feed(node, org, after=after)
        items += j["items"]
        after = j["cursor"]
        if not j["more"]:
            return items, after


# --- (1) written on A, read and delivered on B ------------------------------------------------


def test_written_on_one_node_read_and_delivered_on_the_other(dfdg):
    ns = Nodes(dfdg)
    a, b = ns.a, ns.b
    try:
        mship = created(b.post("akasse:3f", membership()))
        items, dst_cur = drain(b, "dst")
        assert [it["record"]["id"] for it in items] == [mship], items
        # A consumer long-polls on B; the delivery is committed through A.
        got = {}

        def waiter():
            t0 = time.monotonic()
            got["j"] = feed(b, "dst", after=dst_cur, wait=20)
            got["s"] = time.monotonic() - t0

        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.5)
        r = a.post("kommune:101", reg("one"))
        rid = created(r)
        assert set(r.json["routed_to"]) == {"akasse:3f", "dst"}, r
        t.join(30)
        assert not t.is_alive(), "the long poll on B did not return"
        assert [it["record"]["id"] for it in got["j"]["items"]] == [rid], got
        # B learns of A's commits by polling the store (twice a second), not at once.
        assert got["s"] < 5, "B's long poll woke only after %.1f s" % got["s"]
        # Readable through B: by id, for the reporter and for a recipient, and in the
        # person's records.
        for org in ("kommune:101", "akasse:3f"):
            g = b.req("GET", "/v1/records/" + rid, org)
            assert g.status == 200 and g.json["id"] == rid, (org, g)
            assert g.json["data"]["target_group"] == "1", g
        pr = b.req("GET", "/v1/person/records", "kommune:101", cpr=JENS)
        assert pr.status == 200, pr
        assert rid in {x["id"] for x in pr.json["records"]}, pr
        # In the recipients' feeds on B, once.
        items, _ = drain(b, "akasse:3f")
        assert [it["record"]["id"] for it in items] == [rid], items
        items, _ = drain(b, "dst", after=dst_cur)
        assert [it["record"]["id"] for it in items] == [rid], items
        # And the other way: corrected through B, the correction is what A shows.
        c = created(b.req("POST", "/v1/records/%s/correction" % rid, "kommune:101",
                          body=reg("one-fix", target_group="2")))
        g = a.req("GET", "/v1/records/" + rid, "kommune:101")
        assert g.status == 200 and g.json["status"] == "superseded", g
        assert g.json["superseded_by"] == c, g
        pr = a.req("GET", "/v1/person/records", "kommune:101", cpr=JENS)
        assert [x["id"] for x in pr.json["records"] if x["type"] == "jobseeker-registration"] \
            == [c], pr
        items, _ = drain(a, "akasse:3f")
        assert [it["record"]["id"] for it in items] == [rid, c], items
    finally:
        ns.close()
    r = ns.verify()
    assert r.returncode == 0, r.stdout + r.stderr


def test_long_poll_wakes_for_the_other_nodes_commit_when_its_own_follows(dfdg):
    """B learns of A's commits by polling the store's newest delivery seq. A commit through A
    for dst, then one through B for akasse:3f only, before B's next poll: B's own newer seq
    must not hide A's delivery from a dst consumer waiting on B."""
    ns = Nodes(dfdg)
    a, b = ns.a, ns.b
    try:
        created(a.post("akasse:3f", membership()))
        _, dst_cur = drain(b, "dst")
        for org in ("kommune:101", "dst"):
            a.token(org)
        lags = []
        for k in range(2):
            got = {}

            def waiter(after=dst_cur):
                t0 = time.monotonic()
                got["j"] = feed(b, "dst", after=after, wait=6)
                got["s"] = time.monotonic() - t0

            t = threading.Thread(target=waiter)
            t.start()
            time.sleep(0.7)
            rid = created(a.post("kommune:101", reg("lp-%d" % k)))      # 3f + dst, via A
            created(b.post("kommune:101", absence("lp-abs-%d" % k)))    # 3f only, via B
            t.join(30)
            assert not t.is_alive()
            assert [it["record"]["id"] for it in got["j"]["items"]] == [rid], got
            dst_cur = got["j"]["cursor"]
            lags.append(round(got["s"], 1))
        assert max(lags) < 3, "the consumer on B woke %s s after A's commit (wait=6)" % lags
    finally:
        ns.close()


# --- (2) writers on both nodes, consumers on both nodes ---------------------------------------


def test_feeds_exactly_once_with_writers_on_both_nodes(dfdg):
    ns = Nodes(dfdg)
    nodes = (ns.a, ns.b)
    try:
        created(ns.a.post("akasse:3f", membership()))
        _, dst_start = drain(ns.b, "dst")
        for org in ("kommune:101", "akasse:3f", "dst"):
            ns.a.token(org)
        stop, done = threading.Event(), threading.Event()
        acked = [[] for _ in range(4)]   # (record id, routed_to, node index)
        errors = []
        consumers = {"akasse:3f": 0, "dst": 1}   # org -> the node it long-polls on
        seen = {org: [] for org in consumers}   # (cursor seq, record id)

        def writer(i):
            j = 0
            makers = (lambda k: reg("w-%d-%d" % (i, k)),              # 3f + dst
                      lambda k: absence("a-%d-%d" % (i, k)),          # 3f
                      lambda k: reg("o-%d-%d" % (i, k), cpr=OLE))     # dst
            while not stop.is_set():
                n = (i + j) % 2   # every thread alternates between the nodes
                try:
                    r = nodes[n].post("kommune:101", makers[j % 3](j), timeout=30)
                    if r.status == 201:
                        acked[i].append((r.json["id"], set(r.json["routed_to"]), n))
                    else:
                        errors.append(("post", n, r.status, r.raw[:200]))
                except Exception as e:  # noqa: BLE001 - asserted below
                    errors.append(("post", n, repr(e)))
                j += 1

        def consumer(org):
            node = nodes[consumers[org]]
            after = dst_start if org == "dst" else None
            draining = False
            while True:
                try:
                    j = feed(node, org, after=after, wait=0 if draining else 2, limit=50)
                except Exception as e:  # noqa: BLE001 - asserted below
                    errors.append((org, repr(e)))
                    return
                for it in j["items"]:
                    seen[org].append((seq(it["cursor"]), it["record"]["id"]))
                after = j["cursor"]
                if done.is_set() and not draining:
                    draining = True   # the writers are done: read to the end once more
                    continue
                if draining and not j["items"] and not j["more"]:
                    return

        ws = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
        cs = [threading.Thread(target=consumer, args=(o,)) for o in consumers]
        for t in cs + ws:
            t.start()
        time.sleep(WRITE_SECONDS)
        stop.set()
        for t in ws:
            t.join(40)
        done.set()
        for t in cs:
            t.join(40)
        assert not any(t.is_alive() for t in ws + cs), "a thread hung"
        assert not errors, errors[:5]
        flat = [x for a in acked for x in a]
        per_node = [sum(1 for x in flat if x[2] == n) for n in (0, 1)]
        assert min(per_node) > 10, "too few writes on a node to mean anything: %s" % per_node
        for org, got in seen.items():
            cur = [c for c, _ in got]
            bad = [(x, y) for x, y in zip(cur, cur[1:]) if not x < y]
            assert not bad, (org, "cursors not increasing", bad[:5])
            ids = [i for _, i in got]
            dup = len(ids) - len(set(ids))
            assert dup == 0, (org, "%d records seen twice" % dup)
            want = {rid for rid, to, _ in flat if org in to}
            assert set(ids) == want, (org, "missing %d, unexpected %d" %
                                      (len(want - set(ids)), len(set(ids) - want)))
        by = {rid: to for rid, to, _ in flat}
        n3f = sum(1 for to in by.values() if to == {"akasse:3f"})
        ndst = sum(1 for to in by.values() if to == {"dst"})
        nboth = sum(1 for to in by.values() if to == {"akasse:3f", "dst"})
        assert n3f + ndst + nboth == len(by) and n3f and ndst and nboth, (n3f, ndst, nboth)
        # Each feed read from the other node too, from the start, is the same sequence.
        for org, n in consumers.items():
            items, _ = drain(nodes[1 - n], org, after=dst_start if org == "dst" else None)
            assert [(seq(it["cursor"]), it["record"]["id"]) for it in items] == seen[org], org
        print("  %d records (A %d, B %d), akasse:3f saw %d, dst saw %d" %
              (len(by), per_node[0], per_node[1], len(seen["akasse:3f"]), len(seen["dst"])))
    finally:
        ns.close()
    r = ns.verify()
    assert r.returncode == 0, r.stdout + r.stderr


# --- (3) idempotency across nodes --------------------------------------------------------------


def test_same_source_ref_on_both_nodes_at_once_is_one_record(dfdg):
    ns = Nodes(dfdg)
    try:
        ns.a.token("kommune:101")
        pairs, results, errors = 48, {}, []

        def send(k, n, body, barrier):
            try:
                barrier.wait(10)
                results[(k, n)] = (ns.a, ns.b)[n].post("kommune:101", body, timeout=30)
            except Exception as e:  # noqa: BLE001 - asserted below
                errors.append((k, n, repr(e)))

        def pair(k):
            same = k % 4 != 3   # every fourth pair sends other content under the same key
            bodies = (reg("idem-%d" % k, target_group="1"),
                      reg("idem-%d" % k, target_group="1" if same else "2"))
            barrier = threading.Barrier(2)
            ts = [threading.Thread(target=send, args=(k, n, bodies[n], barrier))
                  for n in (0, 1)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(40)

        for start in range(0, pairs, 8):   # 8 pairs at a time: 16 requests racing
            group = [threading.Thread(target=pair, args=(k,))
                     for k in range(start, start + 8)]
            for t in group:
                t.start()
            for t in group:
                t.join(60)
        assert not errors, errors[:5]
        for k in range(pairs):
            ra, rb = results[(k, 0)], results[(k, 1)]
            first, second = sorted((ra, rb), key=lambda r: r.status, reverse=True)
            if k % 4 != 3:
                assert (first.status, second.status) == (201, 200), (k, ra, rb)
                assert ra.json["id"] == rb.json["id"], (k, ra, rb)
                assert ra.json["recorded_at"] == rb.json["recorded_at"], (k, ra, rb)
            else:
                statuses = sorted((ra.status, rb.status))
                assert statuses == [201, 409], (k, ra, rb)
            rows = ns.a.sql("SELECT count(*) FROM record WHERE source_ref = ?", ("idem-%d" % k,))
            assert rows[0][0] == 1, (k, rows)
        assert ns.a.db_count("record") == pairs
        # Each record was delivered once per recipient, whichever node won.
        assert ns.a.sql("SELECT count(*) FROM delivery WHERE org_id = 'dst'")[0][0] == pairs
        # Replays afterwards, on either node, answer the same id.
        for k in range(0, pairs, 5):
            won = 0 if results[(k, 0)].status == 201 else 1
            want = results[(k, won)].json["id"]
            for node in ns:
                body = reg("idem-%d" % k, target_group="2" if k % 4 == 3 and won else "1")
                r = node.post("kommune:101", body)
                assert r.status == 200 and r.json["id"] == want, (k, r)
    finally:
        ns.close()
    r = ns.verify()
    assert r.returncode == 0, r.stdout + r.stderr


# --- (4) one audit log -------------------------------------------------------------------------


def test_audit_log_is_one_verifiable_sequence(dfdg):
    ns = Nodes(dfdg)
    nodes = (ns.a, ns.b)
    try:
        n0 = ns.a.db_count("audit_entry")
        for org in ("kommune:101", "kommune:147", "dst"):
            ns.a.token(org)
        audited = [0] * 5   # per thread: requests the hub must have logged
        unexpected = []
        stop = threading.Event()

        def worker(i):
            j, last = 0, None
            while not stop.is_set():
                node = nodes[(i + j) % 2]
                step = j % 5
                try:
                    if step == 0 or last is None:
                        r = node.post("kommune:101", reg("au-%d-%d" % (i, j)))
                        ok = r.status == 201
                        if ok:
                            last = (r.json["id"], "au-%d-%d" % (i, j))
                    elif step == 1:   # a replay, through whichever node
                        r = node.post("kommune:101", reg(last[1]))
                        ok = r.status == 200 and r.json["id"] == last[0]
                    elif step == 2:
                        r = node.req("GET", "/v1/records/" + last[0], "kommune:101")
                        ok = r.status == 200
                    elif step == 3:
                        r = node.req("GET", "/v1/person/records", "kommune:101", cpr=OLE)
                        ok = r.status == 200
                    else:   # denied: kommune:147 reports on a person living in 101
                        r = node.post("kommune:147", reg("au-x-%d-%d" % (i, j)))
                        ok = r.status == 403
                    if ok:
                        audited[i] += 1
                    else:
                        unexpected.append((i, j, r))
                except Exception as e:  # noqa: BLE001 - asserted below
                    unexpected.append((i, j, repr(e)))
                j += 1

        def reader():
            """dst's feed, alternating nodes: a page with items is one audit entry."""
            after, k = None, 0
            while not stop.is_set():
                try:
                    j = feed(nodes[k % 2], "dst", after=after, limit=7)
                    if j["items"]:
                        audited[4] += 1
                    after = j["cursor"]
                except Exception as e:  # noqa: BLE001 - asserted below
                    unexpected.append(("feed", k, repr(e)))
                k += 1
                time.sleep(0.02)

        ts = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        ts.append(threading.Thread(target=reader))
        for t in ts:
            t.start()
        time.sleep(3)
        stop.set()
        for t in ts:
            t.join(40)
        assert not any(t.is_alive() for t in ts), "a thread hung"
        assert not unexpected, unexpected[:5]
        assert sum(audited[:4]) > 40 and audited[4] > 0, audited
    finally:
        ns.close()
    want = n0 + sum(audited)
    idx = [row[0] for row in ns.a.sql("SELECT idx FROM audit_entry ORDER BY idx")]
    assert idx == list(range(len(idx))), "audit indexes are not one gapless sequence"
    assert len(idx) == want, "%d audit entries for %d audited requests" % (len(idx), want)
    heads = [row[0] for row in ns.a.sql("SELECT size FROM audit_sth ORDER BY size")]
    assert heads and heads[-1] == want, (heads[-3:], want)   # signed to the end at shutdown
    r = ns.verify()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok: %d entries, %d signed tree heads" % (want, len(heads)) in r.stdout, r.stdout


# --- times follow commit order -------------------------------------------------------------


def test_times_follow_commit_order(dfdg):
    """recorded_at ("as known at T") and audit times must not go back in commit order, else an
    as_of query answered at T changes later, when a node commits a time before T."""
    ns = Nodes(dfdg)
    nodes = (ns.a, ns.b)
    try:
        ns.a.token("kommune:101")
        stop, errors = threading.Event(), []

        def writer(i):
            j = 0
            while not stop.is_set():
                r = nodes[(i + j) % 2].post("kommune:101", reg("t-%d-%d" % (i, j)))
                if r.status != 201:
                    errors.append(r)
                j += 1

        ts = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
        for t in ts:
            t.start()
        time.sleep(3)
        stop.set()
        for t in ts:
            t.join(40)
        assert not errors, errors[:5]
    finally:
        ns.close()
    problems = []
    for what, q in (("records (seq, recorded_at)", "SELECT seq, recorded_at FROM record"
                     " ORDER BY seq"),
                    ("deliveries (seq, created_at)", "SELECT seq, created_at FROM delivery"
                     " ORDER BY seq"),
                    ("audit entries (idx, at)", "SELECT idx, at FROM audit_entry ORDER BY idx"),
                    ("tree heads (size, at)", "SELECT size, at FROM audit_sth ORDER BY size")):
        rows = ns.a.sql(q)
        back = [(x, y) for x, y in zip(rows, rows[1:]) if y[1] < x[1]]
        if back:
            problems.append("%d of %d %s dated before the one committed ahead of them, e.g. %s"
                            % (len(back), len(rows), what, back[:2]))
    assert not problems, "\n".join(problems)
    r = ns.verify()
    assert r.returncode == 0, r.stdout + r.stderr


if __name__ == "__main__":
    if not PG:
        print("SKIP: two nodes need a shared PostgreSQL store (set DFDG_TEST_PG to a libpq "
              "conninfo); SQLite is one node")
        sys.exit(77 if "--require-pg" in sys.argv else 0)
    run([test_written_on_one_node_read_and_delivered_on_the_other,
         test_long_poll_wakes_for_the_other_nodes_commit_when_its_own_follows,
         test_feeds_exactly_once_with_writers_on_both_nodes,
         test_same_source_ref_on_both_nodes_at_once_is_one_record,
         test_audit_log_is_one_verifiable_sequence,
         test_times_follow_commit_order])
