# SPDX-License-Identifier: Apache-2.0
"""Crash consistency (issue 6): `dfdg serve` killed with SIGKILL at random moments under
concurrent ingest, restarted on the same database each time, and checked after every restart.

Four client threads (two for kommune:101, two for akasse:3f) keep posting single records,
NDJSON batches (some with a malformed line or a line for a person not in CPR, which fail on
their own while the batch's other lines go through), corrections and cancellations of their
own current records, and replays of earlier requests. Each client keeps a ledger: every
acknowledgement it actually received (the ids, routed_to) and the one request whose outcome
it does not know because the connection dropped. Every source_ref is stable, so that request
is sent again after the restart and idempotency must answer it exactly once.

The server is killed DFDG_CRASH_KILLS times (default 20), each time uniformly 50 to 600 ms
after the clients started on the restarted server (every fifth time 1 to 1.6 s, so that signing
a tree head, at most a second after the entries it covers, is in the window too). After each
restart, with the clients paused, the store must hold:
  - every acknowledged record exactly once, under its acknowledged id, kind and target, and
    no record no request of ours asked for (nor a malformed or unknown-person batch line);
  - every batch all-or-nothing: the lines that pass on their own are either all committed or
    none (one transaction per write request; the writer's savepoint per request);
  - at most one successor per record (corrections and cancellations form chains);
  - exactly the deliveries routing implies, recomputed from the catalog's recipients and the
    fixed relationships here (all persons live in kommune 101 and are members of akasse:3f):
    none without its record, none twice, none missing, each created with its record, and
    the same orgs the acknowledgement's routed_to named;
  - one audit entry with status 201 for every record and no audited 201 without its record
    (the entry is written in the record's transaction), and `dfdg audit verify` passes.
Then the unknown-outcome requests are sent again: a committed one must answer 200 with the
id in the store, one that was not must answer 201 (for a batch, line by line).

The seed is printed; DFDG_CRASH_SEED=<seed> repeats a run's choices (the kill moments hit the
server differently each run, so a failure may need a few runs with its seed). SQLite only: with
DFDG_TEST_PG set the file is a skip (exit 77).
"""
import http.client
import json
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from dfdg_it import PG, Hub, person, run  # noqa: E402

KILLS = int(os.environ.get("DFDG_CRASH_KILLS", "20"))
KILL_AFTER_MS = (50, 600)
# Every fifth kill comes later, once the writer signs tree heads (at most 1 s apart) under load.
KILL_LATE_MS = (1000, 1600)
KOMMUNE = "kommune:101"
AKASSE = "akasse:3f"
PERSONS = ["0101901235", "1505751113", "0203804567", "1112853338"]  # all in 101, in akasse:3f
GHOST = "3112991234"      # a valid CPR number that is not in the master data: 422 in the writer
VALID_FROM = "2025-03-02"
TYPES = ["jobseeker-registration", "absence"]   # both routed; reported by kommune and a-kasse
WRITE_ACTIONS = ("record.create", "record.correct", "record.cancel", "record.batch")
CLIENT_ERRORS = (OSError, http.client.HTTPException)  # the connection dropped or was refused


def record_body(rng, source_ref, rtype, cpr):
    if rtype == "jobseeker-registration":
        data = {"registration_date": VALID_FROM, "target_group": str(rng.randint(1, 11))}
    else:
        data = {"absence_type": rng.choice(["1", "2", "3", "4"]),
                "notification_date": VALID_FROM, "comment": "n%d" % rng.randint(0, 10**6)}
    return {"type": rtype, "cpr": cpr, "source_ref": source_ref, "valid_from": VALID_FROM,
            "data": data}


class Op:
    """One write request and what became of it."""

    def __init__(self, kind, path, body, lines, target=None, ctype=None):
        self.kind = kind        # record | batch | correction | cancellation | replay
        self.path = path
        self.body = body        # bytes, sent unchanged on every attempt
        self.ctype = ctype
        self.lines = lines      # [(source_ref, expect)]: expect ok | invalid | ghost
        self.target = target    # the record a correction or cancellation names
        self.state = "new"      # new | acked | unknown | refused
        self.ids = {}           # source_ref -> id, for acknowledged ok lines
        self.routed = {}        # id -> set of orgs the acknowledgement named
        self.attempts = 0

    def ok_refs(self):
        return [ref for ref, expect in self.lines if expect == "ok"]

    def __repr__(self):
        return "<%s %s %s %s>" % (self.kind, self.path, self.state, self.lines[:3])


class Client:
    def __init__(self, idx, org, seed):
        self.idx, self.org = idx, org
        self.rng = random.Random(seed)
        self.n = 0
        self.ops = []           # the ledger: every op sent
        self.current = []       # acknowledged ids that head a chain (may be corrected)
        self.info = {}          # id -> (type, cpr)
        self.unknown = None     # the op whose outcome is unknown
        self.error = None

    def ref(self):
        self.n += 1
        return "crash-c%d-%d" % (self.idx, self.n)

    def next_op(self):
        rng = self.rng
        x = rng.random()
        if x < 0.30 or (x >= 0.55 and not self.current):
            ref = self.ref()
            body = record_body(rng, ref, rng.choice(TYPES), rng.choice(PERSONS))
            return Op("record", "/v1/records", json.dumps(body).encode(), [(ref, "ok")])
        if x < 0.55:
            ref, lines, texts = self.ref(), [], []
            for i in range(rng.randint(2, 16)):
                lref = "%s-L%d" % (ref, i)
                lines.append((lref, "ok"))
                texts.append(json.dumps(record_body(rng, lref, rng.choice(TYPES),
                                                    rng.choice(PERSONS))))
            for expect in ("invalid", "ghost"):
                if rng.random() < 0.3:
                    pos = rng.randint(0, len(lines))
                    lref = "%s-X%s" % (ref, expect)
                    text = ('{"type": "absence", "source_ref": "%s", bad' % lref
                            if expect == "invalid" else
                            json.dumps(record_body(rng, lref, rng.choice(TYPES), GHOST)))
                    lines.insert(pos, (lref, expect))
                    texts.insert(pos, text)
            return Op("batch", "/v1/records/batch", ("\n".join(texts) + "\n").encode(), lines,
                      ctype="application/x-ndjson")
        if x < 0.75:
            target = self.current.pop(rng.randrange(len(self.current)))
            rtype, cpr = self.info[target]
            ref = self.ref()
            body = record_body(rng, ref, rtype, cpr)
            return Op("correction", "/v1/records/%s/correction" % target,
                      json.dumps(body).encode(), [(ref, "ok")], target=target)
        if x < 0.90:
            target = self.current.pop(rng.randrange(len(self.current)))
            ref = self.ref()
            body = {"source_ref": ref, "reason": "crash test %d" % rng.randint(0, 10**6)}
            return Op("cancellation", "/v1/records/%s/cancellation" % target,
                      json.dumps(body).encode(), [(ref, "ok")], target=target)
        done = [op for op in self.ops if op.state == "acked" and op.kind == "record"]
        if not done:
            return self.next_op()
        old = rng.choice(done)
        op = Op("replay", old.path, old.body, list(old.lines))
        op.replay_of = old
        return op

    def send(self, hub, op):
        op.attempts += 1
        return hub.req("POST", op.path, self.org, raw=op.body, ctype=op.ctype, timeout=60)

    def run_epoch(self, hub):
        """Writes until a request's outcome is unknown (the server died) or a check fails."""
        try:
            while True:
                op = self.next_op()
                self.ops.append(op)
                try:
                    r = self.send(hub, op)
                except CLIENT_ERRORS:
                    op.state = "unknown"
                    self.unknown = op
                    return
                if r.status == 503:     # refused before the writer: nothing may be stored
                    op.state = "refused"
                    self.unknown = op
                    return
                self.accept(op, r, present={})
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            self.error = e

    def accept(self, op, r, present):
        """Checks an answer; present maps the op's source_refs already in the store to their
        ids (a retry after a restart: those must be replays, 200 with the same id)."""
        def one(res, ref):
            if op.kind == "replay":
                want, want_id = 200, op.replay_of.ids[ref]
            elif ref in present:
                want, want_id = 200, present[ref]
            else:
                want, want_id = 201, None
            assert res.get("status", want) == want and isinstance(res.get("id"), str), \
                (op, ref, want, res)
            assert want_id is None or res["id"] == want_id, (op, ref, want_id, res)
            assert isinstance(res.get("routed_to"), list), (op, res)
            op.ids[ref] = res["id"]
            op.routed[res["id"]] = set(res["routed_to"])

        if op.kind == "batch":
            assert r.status == 200 and "ndjson" in r.ctype, (op, r)
            res = [json.loads(x) for x in r.raw.decode().split("\n") if x.strip()]
            assert [x.get("line") for x in res] == list(range(1, len(op.lines) + 1)), (op, res)
            for (ref, expect), x in zip(op.lines, res):
                if expect == "ok":
                    one(x, ref)
                else:
                    assert x["status"] == (400 if expect == "invalid" else 422), (op, ref, x)
        else:
            want = 200 if op.kind == "replay" or op.lines[0][0] in present else 201
            assert r.status == want and r.json is not None, (op, want, r)
            one(dict(r.json, status=r.status), op.lines[0][0])
        op.state = "acked"
        if op.kind == "replay":
            return
        if op.kind in ("record", "batch"):
            texts = [t for t in op.body.decode().split("\n") if t.strip()]
            for (ref, expect), text in zip(op.lines, texts):
                if expect == "ok":
                    b = json.loads(text)
                    self.info[op.ids[ref]] = (b["type"], b["cpr"])
                    self.current.append(op.ids[ref])
        elif op.kind == "correction":
            new = op.ids[op.lines[0][0]]
            self.info[new] = self.info[op.target]
            self.current.append(new)


class World:
    def __init__(self, hub, clients, catalog):
        self.h = hub
        self.clients = clients
        self.recipients = {t["code"]: t["recipients"] for t in catalog["types"]}
        self.checks = 0

    def expected_deliveries(self, rtype, kind, reporter, owner):
        """(org, reason) pairs routing owes a record: every person lives in 101 and is a
        member of akasse:3f from 2020-01-01, and no one has a referral."""
        out = set()
        for rp in self.recipients[rtype]:
            if rp["via"] == "residence" and rp["kind"] == "kommune":
                # A kommune's own original: the report rule already placed the person there.
                if not (kind == 0 and reporter.startswith("kommune:")):
                    out.add((KOMMUNE, "residence"))
            elif rp["via"] == "membership" and rp["kind"] == "akasse":
                out.add((AKASSE, "membership"))
            elif rp["via"] == "all" and rp["kind"] in ("dst", "udk"):
                out.add((rp["kind"], "all"))
        return {(org, why) for org, why in out if org not in (owner, reporter)}

    def store(self):
        rows = self.h.sql("SELECT id, type, reporter, owner, source_ref, kind, target_id, "
                          "recorded_at FROM record")
        return [dict(zip(("id", "type", "reporter", "owner", "source_ref", "kind",
                          "target_id", "recorded_at"), row)) for row in rows]

    def present(self, op, org, by_ref):
        return {ref: by_ref[(org, ref)]["id"] for ref, _ in op.lines if (org, ref) in by_ref}

    def check(self, when):
        """Every invariant of the module docstring, on the store as it is now."""
        self.checks += 1
        h = self.h
        recs = self.store()
        by_id, by_ref = {}, {}
        for rec in recs:
            assert rec["id"] not in by_id, ("record id twice", when, rec)
            by_id[rec["id"]] = rec
            key = (rec["reporter"], rec["source_ref"])
            assert key not in by_ref, ("source_ref twice", when, rec)
            by_ref[key] = rec
        # Acknowledged exactly once; unknown batches all-or-nothing; nothing else of ours.
        ours = set()
        for c in self.clients:
            for op in c.ops:
                present = self.present(op, c.org, by_ref)
                for ref, expect in op.lines:
                    ours.add((c.org, ref))
                    if expect != "ok":
                        assert ref not in present, ("failed batch line stored", when, op, ref)
                if op.kind == "replay":
                    continue
                if op.state == "acked":
                    for ref in op.ok_refs():
                        assert ref in present, ("acknowledged record lost", when, op, ref)
                        rec = by_ref[(c.org, ref)]
                        assert rec["id"] == op.ids[ref], ("acknowledged id differs", when, op,
                                                          rec)
                        kind = {"correction": 1, "cancellation": 2}.get(op.kind, 0)
                        assert (rec["kind"], rec["target_id"]) == (kind, op.target), \
                            ("acknowledged record differs", when, op, rec)
                elif op.state == "refused":
                    assert not present, ("a refused (503) request was stored", when, op, present)
                elif op.state == "unknown":
                    n, of = len(present), len(op.ok_refs())
                    assert n in (0, of), ("batch half-applied: %d of %d lines" % (n, of), when,
                                          op, sorted(present))
        for rec in recs:
            if rec["reporter"] in (KOMMUNE, AKASSE) and not rec["source_ref"].startswith(
                    "setup-"):
                assert (rec["reporter"], rec["source_ref"]) in ours, \
                    ("a record no request asked for", when, rec)
        # Chains: a target exists and is superseded or withdrawn at most once.
        succ = {}
        for rec in recs:
            if rec["target_id"] is not None:
                assert rec["target_id"] in by_id, ("successor of a missing record", when, rec)
                assert rec["target_id"] not in succ, ("record superseded twice", when, rec,
                                                     succ.get(rec["target_id"]))
                succ[rec["target_id"]] = rec
        # Deliveries, recomputed.
        got = {}
        for org, rid, reason, created in h.sql(
                "SELECT org_id, record_id, reason, created_at FROM delivery ORDER BY seq"):
            assert rid in by_id, ("delivery without its record", when, org, rid)
            assert org not in {o for o, _ in got.get(rid, ())}, ("delivery twice", when, org,
                                                                 rid)
            assert created == by_id[rid]["recorded_at"], ("delivery outside its record's "
                                                           "transaction", when, org, rid)
            got.setdefault(rid, set()).add((org, reason))
        for rec in recs:
            want = self.expected_deliveries(rec["type"], rec["kind"], rec["reporter"],
                                            rec["owner"])
            have = got.get(rec["id"], set())
            assert have == want, ("deliveries differ from routing", when, rec, have, want)
        for c in self.clients:
            for op in c.ops:
                if op.state == "acked":
                    for rid, orgs in op.routed.items():
                        have = {org for org, _ in got.get(rid, ())}
                        assert orgs == have, ("routed_to differs from deliveries", when, op,
                                              orgs, have)
        # The audit log: one 201 entry line per record, in the same transaction.
        audited = {}
        for n, (idx, entry) in enumerate(h.sql("SELECT idx, entry FROM audit_entry "
                                                "ORDER BY idx")):
            assert idx == n, ("audit entries not numbered 0, 1, 2, ...", when, idx, n)
            ev = json.loads(bytes(entry).decode() if not isinstance(entry, str) else entry)
            if ev.get("action") not in WRITE_ACTIONS:
                continue
            for item in ev.get("records", ()):
                if item.get("status") == 201:
                    assert item["id"] not in audited, ("record audited twice", when, item)
                    audited[item["id"]] = idx
        missing = sorted(set(by_id) - set(audited))
        extra = sorted(set(audited) - set(by_id))
        assert not missing, ("records without their audit entry", when, missing[:5])
        assert not extra, ("audit entries for records not stored", when, extra[:5])
        r = h.cli("audit", "verify", "--db", h.db, "--quiet", check=False)
        assert r.returncode == 0, ("audit verify failed", when, r.returncode, r.stderr)
        return by_ref

    def resolve(self, by_ref):
        """Sends every unknown-outcome request again: exactly once either way."""
        resolved = {"committed": 0, "not committed": 0}
        for c in self.clients:
            op, c.unknown = c.unknown, None
            if op is None:
                continue
            present = self.present(op, c.org, by_ref)
            if op.kind != "replay":
                resolved["committed" if present else "not committed"] += 1
            r = c.send(self.h, op)
            c.accept(op, r, present)
        return resolved


def sigkill(h):
    """SIGKILL, reaped; the next h.start() begins a new log on a new port."""
    h.proc.send_signal(signal.SIGKILL)
    h.proc.wait()
    h.proc = None
    h.log.close()


def test_crash_consistency(dfdg):
    if PG:
        print("SKIP: the crash test runs on SQLite only")
        sys.exit(77)
    seed = int(os.environ.get("DFDG_CRASH_SEED") or time.time_ns() % 10**9)
    print("crash test: seed %d (DFDG_CRASH_SEED=%d repeats it), %d kills" % (seed, seed, KILLS),
          flush=True)
    rng = random.Random(seed)
    h = Hub(dfdg, [person(cpr, "101") for cpr in PERSONS])
    try:
        for cpr in PERSONS:
            r = h.post(AKASSE, {"type": "akasse-membership", "cpr": cpr,
                                "source_ref": "setup-m-" + cpr, "valid_from": "2020-01-01",
                                "data": {"start_date": "2020-01-01"}})
            assert r.status == 201, r
        catalog = h.req("GET", "/v1/catalog")
        assert catalog.status == 200, catalog
        clients = [Client(i, KOMMUNE if i % 2 == 0 else AKASSE, rng.getrandbits(64))
                   for i in range(4)]
        for c in clients:
            h.token(c.org)  # minted once, before the threads share the cache
        world = World(h, clients, catalog.json)
        world.check("before the first kill")
        totals = {"committed": 0, "not committed": 0}
        t0 = time.monotonic()
        for k in range(1, KILLS + 1):
            threads = [threading.Thread(target=c.run_epoch, args=(h,)) for c in clients]
            for t in threads:
                t.start()
            delay = rng.uniform(*(KILL_LATE_MS if k % 5 == 0 else KILL_AFTER_MS)) / 1000
            time.sleep(delay)
            assert h.proc.poll() is None, ("the server died by itself (exit %s) before kill %d:"
                                           "\n%s" % (h.proc.returncode, k, h.serve_log()[-3000:]))
            sigkill(h)
            for t in threads:
                t.join(timeout=120)
                assert not t.is_alive(), "a client hangs after the kill"
            for c in clients:
                if c.error is not None:
                    raise AssertionError("kill %d, client %d: %r" % (k, c.idx, c.error))
            h.start()
            when = "after kill %d (%.0f ms, seed %d)" % (k, delay * 1000, seed)
            by_ref = world.check(when)
            for key, v in world.resolve(by_ref).items():
                totals[key] += v
        # A last round that ends with a clean stop, then everything once more.
        threads = [threading.Thread(target=c.run_epoch, args=(h,)) for c in clients]
        for t in threads:
            t.start()
        time.sleep(0.2)
        h.close()
        for t in threads:
            t.join(timeout=120)
        for c in clients:
            if c.error is not None:
                raise AssertionError("last round, client %d: %r" % (c.idx, c.error))
        h.start()
        by_ref = world.check("after the clean stop")
        world.resolve(by_ref)
        world.check("at the end")
        r = h.cli("audit", "verify", "--db", h.db)
        print(r.stdout.splitlines()[0], flush=True)
        ops = [op for c in clients for op in c.ops]
        acked = sum(1 for op in ops if op.state == "acked")
        records = h.db_count()
        print("crash test: %d kills in %.1f s; %d requests acknowledged, %d records, "
              "%d deliveries; unknown outcomes after a kill: %d committed, %d not; %d checks"
              % (KILLS, time.monotonic() - t0, acked, records, h.db_count("delivery"),
                 totals["committed"], totals["not committed"], world.checks), flush=True)
        assert KILLS == 0 or totals["committed"] + totals["not committed"] > 0, \
            "no kill hit a request in flight: the test tested nothing"
    finally:
        h.close()


if __name__ == "__main__":
    run([test_crash_consistency])
