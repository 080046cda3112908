# SPDX-License-Identifier: Apache-2.0
"""Access that ends and starts (DESIGN sections 2 and 4): read access and routing follow the
relationships as they change.

(a) A move (dfdg cpr import): the new kommune gets "handover" deliveries of the person's open
    records of types with a kommune/residence recipient, and reads the person; the old kommune
    loses the person and other orgs' records but keeps its own; `--access-grace-days N` keeps
    the old kommune's read access for N days after the move.
(b) A change of a-kasse: the old membership ends (a correction sets valid_to), a new one
    starts; the new a-kasse gets handover deliveries of open records with an
    akasse/membership recipient and reads; the old one does not.
(c) A referral that expires: the other actor reads only while the referral runs, and records
    are routed to it only when their valid_from falls in the referral period.

The development database has no other actors: the tests insert aktoer:10150817 and
aktoer:12345674 into the org table before the server starts (orgs load at start)."""
import os
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(__file__))
from dfdg_it import Hub, is_problem, person, run, sample_value  # noqa: E402

MOVER = "0101901235"    # (a) lives in 101, moves to 147 today
RECENT = "0202851234"   # (a) moved 101 -> 147 ten days ago
LONGAGO = "1505751113"  # (a) moved 101 -> 147 forty days ago
SHORT = "0303801234"    # (a) lived in 101 from 20 to 10 days ago only (860 before, 147 after)
SWITCH = "2012881117"   # (b) akasse:3f until yesterday, akasse:ase from today
REFD = "0711921119"     # (c) referred to ACTOR
ACTOR_CVR, OTHER_CVR = "10150817", "12345674"
ACTOR, OTHER_ACTOR = "aktoer:" + ACTOR_CVR, "aktoer:" + OTHER_CVR
PAST = "2025-01-15"

TODAY = datetime.now(timezone.utc).date()


def day(offset=0):
    return (TODAY + timedelta(days=offset)).isoformat()


def add_actors(h, *cvrs):
    for cvr in cvrs:
        h.sql("INSERT INTO org(org_id, kind, name) VALUES (?, 'aktoer', ?) ON CONFLICT DO NOTHING",
              ("aktoer:" + cvr, "Anden aktør " + cvr))


def sample(f, cpr, valid_from):
    return sample_value(f, cpr=cpr, day=valid_from, cvr=ACTOR_CVR)


class World:
    """A hub plus the catalog, and a log of the records made (id -> facts)."""

    def __init__(self, dfdg, persons, extra_args=()):
        self.h = Hub(dfdg, persons, extra_args=extra_args, start=False)
        add_actors(self.h, ACTOR_CVR, OTHER_CVR)
        self.h.start()
        try:
            r = self.h.req("GET", "/v1/catalog")
            assert r.status == 200, r
            self.cat = {t["code"]: t for t in r.json["types"]}
        except BaseException:
            self.h.close()
            raise
        self.recs = {}   # id -> {"type", "cpr", "valid_to", "current", "owner"}
        self.n = 0

    def build(self, code, kind, cpr, valid_from=PAST, valid_to=None, **data):
        ty = self.cat[code]
        d = {}
        for f in ty["fields"]:
            if f["required"] or ("reporters" in f and kind in f["reporters"]):
                d[f["name"]] = sample(f, cpr, valid_from)
        d.update(data)
        self.n += 1
        r = {"type": code, "cpr": cpr, "source_ref": "%s-%d" % (code, self.n),
             "valid_from": valid_from, "data": d}
        if valid_to is not None:
            r["valid_to"] = valid_to
        return r

    def post(self, org, code, cpr, valid_from=PAST, valid_to=None, **data):
        body = self.build(code, org.split(":")[0], cpr, valid_from, valid_to, **data)
        if org == "citizen":
            r = self.h.req("POST", "/v1/records", "citizen", body=body, citizen_cpr=cpr)
        else:
            r = self.h.post(org, body)
        assert r.status == 201, (org, code, r)
        self.recs[r.json["id"]] = {"type": code, "cpr": cpr, "valid_to": valid_to,
                                   "current": True, "owner": org, "body": body,
                                   "routed_to": set(r.json["routed_to"])}
        return r.json["id"]

    def correct(self, org, rid, valid_to=None):
        old = self.recs[rid]
        body = dict(old["body"])
        self.n += 1
        body["source_ref"] = "corr-%d" % self.n
        body.pop("valid_to", None)
        if valid_to is not None:
            body["valid_to"] = valid_to
        r = self.h.req("POST", "/v1/records/%s/correction" % rid, org, body=body)
        assert r.status == 201, r
        old["current"] = False
        self.recs[r.json["id"]] = dict(old, valid_to=valid_to, current=True, body=body,
                                       routed_to=set(r.json["routed_to"]))
        return r.json["id"]

    def cancel(self, org, rid):
        self.n += 1
        r = self.h.req("POST", "/v1/records/%s/cancellation" % rid, org,
                       body={"source_ref": "cancel-%d" % self.n, "reason": "in error"})
        assert r.status == 201, r
        self.recs[rid]["current"] = False
        return r.json["id"]

    def has(self, code, kind, via):
        return any(rp["kind"] == kind and rp["via"] == via for rp in self.cat[code]["recipients"])

    def open_records(self, cpr, kind, via, exclude_owner=None):
        """Ids of the person's current records, open today, of types with that recipient."""
        return {rid for rid, x in self.recs.items()
                if x["cpr"] == cpr and x["current"] and x["owner"] != exclude_owner and
                (x["valid_to"] is None or x["valid_to"] >= day()) and
                self.has(x["type"], kind, via)}

    def feed(self, org):
        items, after = [], "v1.0"
        while True:
            r = self.h.req("GET", "/v1/feed?limit=1000&after=" + after, org)
            assert r.status == 200, (org, r)
            items += r.json["items"]
            after = r.json["cursor"]
            if not r.json["more"]:
                return items

    def close(self):
        self.h.close()


def second_server(h, extra_args):
    """Another `dfdg serve` on the same database (same issuer key, so the same tokens)."""
    h2 = Hub.__new__(Hub)
    h2.dfdg, h2.db, h2.tmp = h.dfdg, h.db, tempfile.mkdtemp(prefix="dfdg-it2-")
    h2.proc, h2.extra_args, h2.tokens = None, list(extra_args), h.tokens
    h2.start()
    return h2


def short_stay():
    p = person(SHORT, "147", first="Short")
    addr = p["addresses"][0]
    p["addresses"] = [dict(addr, kommunekode="860", **{"from": "2000-01-01", "to": day(-20)}),
                      dict(addr, kommunekode="101", **{"from": day(-20), "to": day(-10)}),
                      dict(addr, kommunekode="147", **{"from": day(-10), "to": None})]
    return p


def status(h, path, org, cpr=None):
    return h.req("GET", path, org, cpr=cpr)


def denied_rel(r):
    return is_problem(r, 403) and r.json.get("rule") == "read.relationship"


# --- (a) a move -------------------------------------------------------------------------------


def test_move_hands_over_and_moves_read_access(dfdg):
    persons = [person(MOVER, "101", first="Mover"),
               person(RECENT, "147", moved=("101", day(-10))),
               person(LONGAGO, "147", moved=("101", day(-40))), short_stay()]
    w = World(dfdg, persons)
    h = w.h
    h2 = None
    try:
        w.post("akasse:3f", "akasse-membership", MOVER, "2020-01-01")
        k_reg = w.post("kommune:101", "jobseeker-registration", MOVER)
        w.post("kommune:101", "plan-and-activation", MOVER, PAST, day(0))   # ends today: open
        w.post("kommune:101", "other-actor-referral", MOVER, PAST, actor_cvr=ACTOR_CVR)
        k_closed = w.post("kommune:101", "absence", MOVER, PAST, day(-1))  # closed yesterday
        w.post("kommune:101", "sickness-followup", MOVER)
        a_pay = w.post("akasse:3f", "benefit-payment", MOVER)
        a_loan = w.post("akasse:3f", "education-loan", MOVER)              # udk only
        k_cw = w.post("kommune:101", "caseworker-assignment", MOVER)
        k_cw2 = w.correct("kommune:101", k_cw)
        k_sum = w.post("kommune:101", "summons", MOVER)
        w.cancel("kommune:101", k_sum)
        w.post("citizen", "cv", MOVER)
        expected = w.open_records(MOVER, "kommune", "residence")
        assert k_reg in expected and a_pay in expected and k_cw2 in expected
        assert not {k_closed, a_loan, k_cw, k_sum} & expected
        # Before the move: kommune:147 has nothing and may not read.
        assert w.feed("kommune:147") == []
        assert denied_rel(status(h, "/v1/person", "kommune:147", MOVER))
        assert denied_rel(status(h, "/v1/records/" + a_pay, "kommune:147"))

        # The move, imported while the server runs.
        nd = h.db_count("delivery")
        h.import_persons([person(MOVER, "147", first="Mover", moved=("101", day(0)))])
        items = w.feed("kommune:147")
        got = {it["record"]["id"] for it in items}
        assert all(it["reason"] == "handover" for it in items), items
        assert len(got) == len(items), "a record was handed over twice"
        assert got == expected, ("handed over", sorted(got), "expected", sorted(expected),
                                 "missing", sorted(expected - got),
                                 "unexpected", sorted(got - expected))
        assert h.db_count("delivery") == nd + len(expected)
        # The same CPR data again moves nobody: no new deliveries.
        h.import_persons([person(MOVER, "147", first="Mover", moved=("101", day(0)))])
        assert h.db_count("delivery") == nd + len(expected), "a re-import handed over again"

        # The new kommune reads the person and the records.
        r = status(h, "/v1/person", "kommune:147", MOVER)
        assert r.status == 200 and r.json["cpr"] == MOVER, r
        for rid in expected:
            assert status(h, "/v1/records/" + rid, "kommune:147").status == 200, rid
        r = status(h, "/v1/person/records", "kommune:147", MOVER)
        assert r.status == 200 and expected <= {x["id"] for x in r.json["records"]}, r
        # The old kommune: no person, no other org's records; its own records still.
        assert denied_rel(status(h, "/v1/person", "kommune:101", MOVER))
        assert denied_rel(status(h, "/v1/records/" + a_pay, "kommune:101"))
        assert status(h, "/v1/records/" + k_reg, "kommune:101").status == 200
        r = status(h, "/v1/person/records", "kommune:101", MOVER)
        if r.status == 200:
            owners = {w.recs[x["id"]]["owner"] for x in r.json["records"] if x["id"] in w.recs}
            assert owners <= {"kommune:101"}, ("kommune:101 still lists others' records", r)
            assert k_reg in {x["id"] for x in r.json["records"]}, r
        else:
            assert denied_rel(r), r
        # From today, new records about the person are routed to the new kommune.
        r = h.post("akasse:3f", w.build("benefit-payment", "akasse", MOVER, day(0)))
        assert r.status == 201 and "kommune:147" in r.json["routed_to"], r
        assert "kommune:101" not in r.json["routed_to"], r
        assert status(h, "/v1/records/" + r.json["id"], "kommune:147").status == 200
        # Earlier moves, no grace: the old kommune has no access.
        for cpr in (RECENT, LONGAGO):
            assert denied_rel(status(h, "/v1/person", "kommune:101", cpr)), cpr
            assert status(h, "/v1/person", "kommune:147", cpr).status == 200, cpr

        # A second server on the same data with 30 days' grace.
        h2 = second_server(h, ["--access-grace-days", "30"])
        r = status(h2, "/v1/person", "kommune:101", MOVER)
        assert r.status == 200, ("no read in the grace period", r)
        assert status(h2, "/v1/records/" + a_pay, "kommune:101").status == 200
        assert status(h2, "/v1/person", "kommune:147", MOVER).status == 200
        assert status(h2, "/v1/person", "kommune:101", RECENT).status == 200, "moved 10 days ago"
        assert denied_rel(status(h2, "/v1/person", "kommune:101", LONGAGO)), "moved 40 days ago"
        # Grace does not reach kommuner the person never lived in.
        assert denied_rel(status(h2, "/v1/person", "kommune:860", MOVER))
        # The first server (no grace) still answers 403 at the same time.
        assert denied_rel(status(h, "/v1/person", "kommune:101", MOVER))
        assert denied_rel(status(h, "/v1/person", "kommune:101", SHORT))
        # Moved out of 101 ten days ago, after a ten-day stay: still inside the 30 days.
        r = status(h2, "/v1/person", "kommune:101", SHORT)
        assert r.status == 200, ("left 101 ten days ago, yet no read with 30 days' grace "
                                 "(only the day 30 days ago is looked at?)", r)
    finally:
        if h2 is not None:
            h2.close()
        w.close()


# --- (b) a change of a-kasse ---------------------------------------------------------------


def test_akasse_change_hands_over_and_moves_read_access(dfdg):
    w = World(dfdg, [person(SWITCH, "101", first="Switch")])
    h = w.h
    try:
        m1 = w.post("akasse:3f", "akasse-membership", SWITCH, "2020-01-01")
        k_reg = w.post("kommune:101", "jobseeker-registration", SWITCH)
        first_routes = w.recs[k_reg]["routed_to"]
        assert "akasse:3f" in first_routes, first_routes
        k_closed = w.post("kommune:101", "absence", SWITCH, PAST, day(-1))
        a_pay = w.post("akasse:3f", "benefit-payment", SWITCH)
        a_cnt = w.post("akasse:3f", "benefit-counters", SWITCH)
        a_trial = w.post("akasse:3f", "akasse-trial", SWITCH)     # kommune/residence only
        k_225 = w.post("kommune:101", "rule-225-hours", SWITCH)   # kommune/residence only
        k_health = w.post("kommune:101", "health-limitation", SWITCH)
        w.post("citizen", "holiday", SWITCH)
        # The membership at akasse:3f ends yesterday; akasse:ase's starts today.
        w.correct("akasse:3f", m1, valid_to=day(-1))
        assert w.feed("akasse:ase") == []
        w.post("akasse:ase", "akasse-membership", SWITCH, day(0))
        expected = w.open_records(SWITCH, "akasse", "membership", exclude_owner="akasse:ase")
        assert {k_reg, a_pay, a_cnt, k_health} <= expected, expected
        assert not {k_closed, a_trial, k_225} & expected
        items = w.feed("akasse:ase")
        got = {it["record"]["id"] for it in items if it["reason"] == "handover"}
        assert got == expected, ("handed over", sorted(got), "expected", sorted(expected),
                                 "missing", sorted(expected - got),
                                 "unexpected", sorted(got - expected))
        assert len(items) == len(got), ("deliveries other than the handover", items)

        # Read access moved with the membership.
        assert denied_rel(status(h, "/v1/person", "akasse:3f", SWITCH))
        assert denied_rel(status(h, "/v1/records/" + k_reg, "akasse:3f"))
        assert status(h, "/v1/records/" + a_pay, "akasse:3f").status == 200   # its own
        assert status(h, "/v1/person", "akasse:ase", SWITCH).status == 200
        for rid in expected:
            assert status(h, "/v1/records/" + rid, "akasse:ase").status == 200, rid
        # The a-kasse is no recipient of akasse-trial: the new one may not read it.
        assert denied_rel(status(h, "/v1/records/" + a_trial, "akasse:ase"))
        # From today, records are routed to the new a-kasse, and the old may not report.
        r = h.post("kommune:101", w.build("absence", "kommune", SWITCH, day(0)))
        assert r.status == 201 and "akasse:ase" in r.json["routed_to"], r
        assert "akasse:3f" not in r.json["routed_to"], r
        r = h.post("akasse:3f", w.build("benefit-payment", "akasse", SWITCH, day(0)))
        assert is_problem(r, 403) and r.json.get("rule") == "report.membership", r
        # With a grace period the old a-kasse still reads (a second server on the same data).
        h2 = second_server(h, ["--access-grace-days", "30"])
        try:
            assert status(h2, "/v1/person", "akasse:3f", SWITCH).status == 200
            assert status(h2, "/v1/records/" + k_reg, "akasse:3f").status == 200
            assert denied_rel(status(h2, "/v1/person", "akasse:hk", SWITCH))
        finally:
            h2.close()
        # A replay of an old record still answers the routes it was given when it was made
        # (the handover is not part of that answer).
        r = h.post("kommune:101", w.recs[k_reg]["body"])
        assert r.status == 200 and r.json["id"] == k_reg, r
        assert set(r.json["routed_to"]) == first_routes, (
            "replay answers other routes than the original", sorted(first_routes),
            sorted(r.json["routed_to"]))
    finally:
        w.close()


# --- hand-overs wake waiting consumers ---------------------------------------------------------


def poll_async(h, org, wait):
    out = {}

    def go():
        t0 = time.monotonic()
        out["r"] = h.req("GET", "/v1/feed?after=v1.0&wait=%d" % wait, org, timeout=wait + 30)
        out["t"] = time.monotonic()
        out["elapsed"] = out["t"] - t0

    th = threading.Thread(target=go)
    th.start()
    return th, out


def test_akasse_handover_wakes_a_waiting_feed(dfdg):
    """A consumer of akasse:ase long-polls its (empty) feed; the new membership's hand-over
    commits deliveries for akasse:ase, which must wake it at once, like any delivery."""
    w = World(dfdg, [person(SWITCH, "101", first="Switch")])
    h = w.h
    try:
        w.post("akasse:3f", "akasse-membership", SWITCH, "2020-01-01")
        k_reg = w.post("kommune:101", "jobseeker-registration", SWITCH)
        h.token("akasse:ase")
        th, out = poll_async(h, "akasse:ase", 8)
        time.sleep(0.5)
        w.post("akasse:ase", "akasse-membership", SWITCH, day(0))
        posted = time.monotonic()
        th.join(20)
        r = out["r"]
        assert r.status == 200, r
        assert k_reg in {it["record"]["id"] for it in r.json["items"]}, r
        assert out["t"] - posted < 2.0, ("the hand-over reached the waiting feed %.1f s after "
                                         "its commit (at the end of the wait)" %
                                         (out["t"] - posted))
    finally:
        w.close()


def test_move_handover_wakes_a_waiting_feed(dfdg):
    """kommune:147 long-polls while `dfdg cpr import` (another process) moves a person there:
    the hand-over commits deliveries for kommune:147, which should wake the poll at once."""
    w = World(dfdg, [person(MOVER, "101", first="Mover")])
    h = w.h
    try:
        k_reg = w.post("kommune:101", "jobseeker-registration", MOVER)
        h.token("kommune:147")
        th, out = poll_async(h, "kommune:147", 8)
        time.sleep(0.5)
        h.import_persons([person(MOVER, "147", first="Mover", moved=("101", day(0)))])
        imported = time.monotonic()
        th.join(20)
        r = out["r"]
        assert r.status == 200, r
        assert k_reg in {it["record"]["id"] for it in r.json["items"]}, r
        assert out["t"] - imported < 2.0, ("the hand-over reached the waiting feed %.1f s after "
                                           "the import (at the end of the wait)" %
                                           (out["t"] - imported))
    finally:
        w.close()


# --- (c) a referral that expires --------------------------------------------------------------


def test_referral_period_decides_read_and_routing(dfdg):
    w = World(dfdg, [person(REFD, "101", first="Ref")])
    h = w.h
    try:
        k_reg = w.post("kommune:101", "jobseeker-registration", REFD, "2025-02-01")
        k_health = w.post("kommune:101", "health-limitation", REFD, "2025-02-01")
        ref = w.post("kommune:101", "other-actor-referral", REFD, "2025-01-01", day(-1),
                     actor_cvr=ACTOR_CVR)
        assert ACTOR in w.recs[ref]["routed_to"], w.recs[ref]
        # Expired yesterday: the actor reads nothing.
        assert denied_rel(status(h, "/v1/person", ACTOR, REFD))
        assert denied_rel(status(h, "/v1/records/" + k_reg, ACTOR))
        r = status(h, "/v1/person/records", ACTOR, REFD)
        assert denied_rel(r) or (r.status == 200 and r.json["records"] == []), r
        # Routing while expired: inside the period yes, after it no.
        inside = w.post("kommune:101", "absence", REFD, "2025-06-01")
        assert ACTOR in w.recs[inside]["routed_to"], w.recs[inside]
        after = w.post("kommune:101", "absence", REFD, day(0))
        assert ACTOR not in w.recs[after]["routed_to"], w.recs[after]

        # Extended to tomorrow: the actor reads the types it receives, not the others.
        ref2 = w.correct("kommune:101", ref, valid_to=day(1))
        r = status(h, "/v1/person", ACTOR, REFD)
        assert r.status == 200 and r.json["cpr"] == REFD, r
        assert status(h, "/v1/records/" + k_reg, ACTOR).status == 200
        assert denied_rel(status(h, "/v1/records/" + k_health, ACTOR))
        assert denied_rel(status(h, "/v1/person", OTHER_ACTOR, REFD))
        assert denied_rel(status(h, "/v1/records/" + k_reg, OTHER_ACTOR))
        # Routing at the edges of 2025-01-01 .. tomorrow (both days included).
        for vf, routed in (("2024-12-31", False), ("2025-01-01", True), (day(0), True),
                           (day(1), True), (day(2), False)):
            rid = w.post("kommune:101", "jobseeker-registration", REFD, vf)
            assert (ACTOR in w.recs[rid]["routed_to"]) == routed, (vf, w.recs[rid])
            assert OTHER_ACTOR not in w.recs[rid]["routed_to"]
        # Ended again (valid_to yesterday): access ends.
        w.correct("kommune:101", ref2, valid_to=day(-1))
        assert denied_rel(status(h, "/v1/person", ACTOR, REFD))
        assert denied_rel(status(h, "/v1/records/" + k_reg, ACTOR))
        assert w.feed(OTHER_ACTOR) == []
    finally:
        w.close()


if __name__ == "__main__":
    run([test_move_hands_over_and_moves_read_access,
         test_akasse_change_hands_over_and_moves_read_access,
         test_akasse_handover_wakes_a_waiting_feed, test_move_handover_wakes_a_waiting_feed,
         test_referral_period_decides_read_and_routing])
