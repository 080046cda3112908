# SPDX-License-Identifier: Apache-2.0
"""The feed (DESIGN sections 2 and 5): GET /v1/feed?after=&limit=&wait=. Cursor paging never
skips or repeats and says when more follows; bad cursors, limits and waits are 400 problems;
wait long-polls and wakes at once when a delivery for the caller's org commits (and only
then); every item handed out, every time, is a disclosure row (org, user, purpose, legal
basis, channel 'feed'); citizens have no feed; the purpose header is enforced; and under
concurrent writers each consumer sees every record routed to its org exactly once."""
import os
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from dfdg_it import Hub, is_problem, person, run  # noqa: E402

JENS = "0101901235"   # resident of 101, member of akasse:3f
OLE = "1505751113"    # resident of 101, no a-kasse


def reg(source_ref, cpr=JENS, valid_from="2025-03-02"):
    """jobseeker-registration: routed to the a-kasse (membership) and dst (all)."""
    return {"type": "jobseeker-registration", "cpr": cpr, "source_ref": source_ref,
            "valid_from": valid_from,
            "data": {"registration_date": valid_from, "target_group": "1"}}


def absence(source_ref, cpr=JENS, valid_from="2025-03-02"):
    """absence: routed to the a-kasse, not to dst."""
    return {"type": "absence", "cpr": cpr, "source_ref": source_ref, "valid_from": valid_from,
            "data": {"absence_type": "1", "notification_date": valid_from}}


def hub(dfdg):
    h = Hub(dfdg, [person(JENS, "101"), person(OLE, "101")])
    try:
        r = h.post("akasse:3f", {"type": "akasse-membership", "cpr": JENS,
                                 "source_ref": "mship", "valid_from": "2020-01-01",
                                 "data": {"start_date": "2020-01-01"}})
        assert r.status == 201, r
        h.mship = r.json["id"]   # delivered to dst (and kommune:101)
        j = page(h, "dst")
        assert [it["record"]["id"] for it in j["items"]] == [h.mship], j
        h.dst_start = j["cursor"]   # dst's feed after the membership
    except BaseException:
        h.close()
        raise
    return h


def created(r):
    assert r.status == 201, r
    return r.json["id"]


def get_feed(h, org, after=None, limit=None, wait=None, timeout=90, **kw):
    q = {}
    if after is not None:
        q["after"] = after
    if limit is not None:
        q["limit"] = limit
    if wait is not None:
        q["wait"] = wait
    path = "/v1/feed" + ("?" + urllib.parse.urlencode(q) if q else "")
    return h.req("GET", path, org, timeout=timeout, **kw)


def page(h, org, **kw):
    r = get_feed(h, org, **kw)
    assert r.status == 200 and "application/json" in r.ctype, r
    j = r.json
    assert isinstance(j["items"], list) and isinstance(j["more"], bool), j
    assert isinstance(j["cursor"], str) and j["cursor"].startswith("v1."), j
    return j


def seq(cursor):
    assert cursor.startswith("v1."), cursor
    return int(cursor[3:])


def disclosures(h, org=None):
    rows = h.sql("SELECT org_id, sub, record_id, type, purpose, legal_basis, channel "
                 "FROM disclosure ORDER BY seq")
    return [x for x in rows if org is None or x[0] == org]


# --- paging --------------------------------------------------------------------------------


def test_cursor_paging_no_skip_no_repeat(dfdg):
    h = hub(dfdg)
    try:
        ids = [created(h.post("kommune:101", reg("p-%d" % i))) for i in range(7)]
        # The whole feed in one page.
        whole = page(h, "dst", after=h.dst_start)
        assert [it["record"]["id"] for it in whole["items"]] == ids, whole
        assert whole["more"] is False
        assert whole["cursor"] == whole["items"][-1]["cursor"]
        for it in whole["items"]:
            assert it["reason"] == "all" and it["record"]["type"] == "jobseeker-registration"
        # Pages of 3: 3 (more), 3 (more), 1 (no more), then nothing, cursor unchanged.
        seen, after, shapes = [], h.dst_start, []
        for _ in range(5):
            j = page(h, "dst", after=after, limit=3)
            shapes.append((len(j["items"]), j["more"]))
            seen += [it["record"]["id"] for it in j["items"]]
            if j["items"]:
                assert j["cursor"] == j["items"][-1]["cursor"], j
                cs = [seq(it["cursor"]) for it in j["items"]]
                assert cs == sorted(set(cs)), cs
                assert cs[0] > seq(after), (after, cs)
            else:
                assert j["cursor"] == after, (after, j)
            after = j["cursor"]
            if not j["items"]:
                break
        assert shapes == [(3, True), (3, True), (1, False), (0, False)], shapes
        assert seen == ids, "paging skipped or repeated an item"
        # An exact multiple: 6 items in pages of 3 end with more = false on the second page.
        j1 = page(h, "dst", after=h.dst_start, limit=3)
        j2 = page(h, "dst", after=j1["cursor"], limit=3)
        j3 = page(h, "dst", after=j2["cursor"], limit=1)
        assert (j1["more"], j2["more"], len(j3["items"]), j3["more"]) == (True, True, 1, False)
        # A new delivery appears after the last cursor, and only there.
        late = created(h.post("kommune:101", reg("p-late")))
        j = page(h, "dst", after=after)
        assert [it["record"]["id"] for it in j["items"]] == [late], j
        # Cursors are per org: akasse:3f has the same records (not the membership it
        # reported itself) in its own feed.
        j = page(h, "akasse:3f")
        assert [it["record"]["id"] for it in j["items"]] == ids + [late], j
        assert all(it["reason"] == "membership" for it in j["items"]), j
        # An empty feed answers the start cursor.
        j = page(h, "akasse:ase")
        assert j == {"items": [], "cursor": "v1.0", "more": False}, j
    finally:
        h.close()


def test_bad_parameters_are_400(dfdg):
    h = hub(dfdg)
    try:
        created(h.post("kommune:101", reg("b-1")))
        n = len(disclosures(h))
        cases = [("after", "abc"), ("after", "v1."), ("after", "v1.-1"), ("after", "v2.1"),
                 ("after", "v1.x"), ("after", "1"), ("after", "v1.1x"), ("after", "v1.+1"),
                 ("after", "V1.1"), ("limit", "0"), ("limit", "-1"), ("limit", "1001"),
                 ("limit", "x"), ("limit", "1.5"), ("limit", "99999999999999999999"),
                 ("wait", "-1"), ("wait", "61"), ("wait", "x"), ("wait", "1s"),
                 ("wait", "99999999999999999999")]
        for key, val in cases:
            r = get_feed(h, "dst", **{key: val})
            assert is_problem(r, 400), (key, val, r)
            fields = [e.get("field") for e in r.json.get("errors", [])]
            assert key in fields, (key, val, r.json)
        # Limits at the edges are fine.
        assert len(page(h, "dst", after=h.dst_start, limit=1)["items"]) == 1
        assert len(page(h, "dst", after=h.dst_start, limit=1000)["items"]) == 1
        assert page(h, "dst", after=h.dst_start, wait=0)["items"]
        assert len(disclosures(h)) == n + 3, "a refused feed call logged disclosures"
    finally:
        h.close()


# --- long poll -----------------------------------------------------------------------------


def poll_async(h, org, after, wait):
    out = {}

    def go():
        t0 = time.monotonic()
        out["r"] = get_feed(h, org, after=after, wait=wait)
        out["t"] = time.monotonic()
        out["elapsed"] = out["t"] - t0

    th = threading.Thread(target=go)
    th.start()
    return th, out


def test_long_poll_wakes_on_delivery(dfdg):
    h = hub(dfdg)
    try:
        h.token("akasse:3f"), h.token("kommune:101"), h.token("akasse:ase")
        start = page(h, "akasse:3f")["cursor"]
        th, out = poll_async(h, "akasse:3f", start, 20)
        time.sleep(0.7)
        assert "r" not in out, ("the poll answered before anything was delivered", out)
        rid = created(h.post("kommune:101", absence("w-1")))
        posted = time.monotonic()
        th.join(25)
        assert "r" in out, "the poll did not return"
        r = out["r"]
        assert r.status == 200, r
        assert [it["record"]["id"] for it in r.json["items"]] == [rid], r
        assert out["t"] - posted < 2.0, ("the poll woke %.2f s after the commit" %
                                         (out["t"] - posted))
        # Nothing comes: wait=1 answers empty after about a second.
        t0 = time.monotonic()
        j = page(h, "akasse:3f", after=r.json["cursor"], wait=1)
        el = time.monotonic() - t0
        assert j["items"] == [] and j["cursor"] == r.json["cursor"] and j["more"] is False, j
        assert 0.9 <= el < 3.0, el
        # Something already there: wait returns at once.
        t0 = time.monotonic()
        j = page(h, "akasse:3f", wait=20)
        assert j["items"] and time.monotonic() - t0 < 2.0
    finally:
        h.close()


def test_delivery_for_another_org_does_not_wake(dfdg):
    h = hub(dfdg)
    try:
        h.token("akasse:ase"), h.token("kommune:101")
        th, out = poll_async(h, "akasse:ase", "v1.0", 3)
        time.sleep(0.5)
        for i in range(3):
            created(h.post("kommune:101", absence("o-%d" % i)))   # to akasse:3f only
            created(h.post("kommune:101", reg("o-r-%d" % i, cpr=OLE)))   # to dst only
        th.join(10)
        r = out["r"]
        assert r.status == 200 and r.json["items"] == [], r
        assert out["elapsed"] >= 2.8, ("the poll of akasse:ase ended after %.2f s: woken by "
                                       "another org's delivery" % out["elapsed"])
        # Several waiting consumers of different orgs: each wakes for its own only.
        a = poll_async(h, "akasse:ase", "v1.0", 3)
        d = poll_async(h, "dst", page(h, "dst")["cursor"], 20)
        time.sleep(0.5)
        rid = created(h.post("kommune:101", reg("o-dst", cpr=OLE)))
        d[0].join(5)
        assert "r" in d[1] and [it["record"]["id"] for it in d[1]["r"].json["items"]] == [rid]
        a[0].join(10)
        assert a[1]["r"].json["items"] == [] and a[1]["elapsed"] >= 2.8, a[1]
    finally:
        h.close()


# --- disclosures -----------------------------------------------------------------------------


def test_every_item_handed_out_is_a_disclosure(dfdg):
    h = hub(dfdg)
    try:
        ids = [created(h.post("kommune:101", absence("d-%d" % i))) for i in range(4)]
        assert disclosures(h, "akasse:3f") == []
        j = page(h, "akasse:3f", limit=3)
        rows = disclosures(h, "akasse:3f")
        assert len(rows) == 3, rows
        assert sorted(x[2] for x in rows) == sorted(ids[:3]), rows
        for org, sub, rid, typ, purpose, basis, channel in rows:
            assert sub == "it" and typ == "absence" and purpose == "case-handling", rows
            assert channel == "feed" and basis.strip(), rows
        # Re-reading the same items is a new hand-out: logged again.
        page(h, "akasse:3f", limit=3)
        assert len(disclosures(h, "akasse:3f")) == 6
        # The rest, then an empty read which logs nothing.
        j = page(h, "akasse:3f", after=j["cursor"])
        assert len(j["items"]) == 1 and len(disclosures(h, "akasse:3f")) == 7
        page(h, "akasse:3f", after=j["cursor"])
        assert len(disclosures(h, "akasse:3f")) == 7
        # Another user of the org and another purpose are recorded as such.
        tok = h.token("akasse:3f", sub="caseworker-2")
        r = h.req("GET", "/v1/feed?limit=1", "akasse:3f", token=tok, purpose="payment")
        assert r.status == 200 and len(r.json["items"]) == 1, r
        last = disclosures(h, "akasse:3f")[-1]
        assert last[1] == "caseworker-2" and last[4] == "payment" and last[6] == "feed", last
        # dst reads with purpose statistics; its disclosures name it.
        n = len(disclosures(h, "dst"))
        created(h.post("kommune:101", reg("d-reg")))
        j = page(h, "dst", after=h.dst_start)
        rows = disclosures(h, "dst")[n:]
        assert len(rows) == len(j["items"]) == 1 and rows[0][4] == "statistics", rows
    finally:
        h.close()


def test_who_may_read_a_feed(dfdg):
    h = hub(dfdg)
    try:
        created(h.post("kommune:101", reg("a-1")))
        n = len(disclosures(h))
        r = h.req("GET", "/v1/feed", "citizen", citizen_cpr=JENS)
        assert is_problem(r, 403), r
        r = h.req("GET", "/v1/feed", "akasse:3f", purpose="")
        assert is_problem(r, 403) and r.json.get("rule") == "purpose.missing", r
        r = h.req("GET", "/v1/feed", "akasse:3f", purpose="statistics")
        assert is_problem(r, 403) and r.json.get("rule") == "purpose.kind", r
        r = h.req("GET", "/v1/feed", "akasse:3f", purpose="no-such-purpose")
        assert is_problem(r, 403) and r.json.get("rule") == "purpose.kind", r
        r = h.req("GET", "/v1/feed", "dst", purpose="payment")
        assert is_problem(r, 403) and r.json.get("rule") == "purpose.kind", r
        r = h.req("GET", "/v1/feed")
        assert is_problem(r, 401), r
        assert len(disclosures(h)) == n, "a refused feed call logged disclosures"
        r = h.req("GET", "/v1/feed?after=" + h.dst_start, "dst", purpose="statistics")
        assert r.status == 200 and len(r.json["items"]) == 1, r
        r = h.req("GET", "/v1/feed", "akasse:3f", purpose="payment")
        assert r.status == 200 and len(r.json["items"]) == 1, r
    finally:
        h.close()


# --- exactly once under concurrency -----------------------------------------------------------


def test_exactly_once_under_concurrency(dfdg):
    h = hub(dfdg)
    try:
        for org in ("kommune:101", "akasse:3f", "dst"):
            h.token(org)
        stop, done = threading.Event(), threading.Event()
        acked = [[] for _ in range(4)]   # (record id, routed_to)
        errors = []
        seen = {"akasse:3f": [], "dst": []}   # (cursor seq, record id)

        def writer(i):
            j = 0
            makers = (lambda k: reg("cw-%d-%d" % (i, k)),             # 3f + dst
                      lambda k: absence("ca-%d-%d" % (i, k)),         # 3f
                      lambda k: reg("co-%d-%d" % (i, k), cpr=OLE))    # dst
            while not stop.is_set():
                try:
                    r = h.post("kommune:101", makers[j % 3](j), timeout=30)
                    if r.status == 201:
                        acked[i].append((r.json["id"], set(r.json["routed_to"])))
                    else:
                        errors.append(("post", r.status, r.raw[:200]))
                except Exception as e:  # noqa: BLE001 - asserted below
                    errors.append(("post", repr(e)))
                j += 1

        def consumer(org):
            after = h.dst_start if org == "dst" else "v1.0"
            draining = False
            while True:
                try:
                    j = page(h, org, after=after, wait=0 if draining else 2, limit=50)
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
        cs = [threading.Thread(target=consumer, args=(o,)) for o in seen]
        for t in cs + ws:
            t.start()
        time.sleep(5)
        stop.set()
        for t in ws:
            t.join(30)
        done.set()
        for t in cs:
            t.join(30)
        assert not any(t.is_alive() for t in ws + cs), "a thread hung"
        assert not errors, errors[:5]
        flat = [x for a in acked for x in a]
        assert len(flat) > 20, "too few writes to mean anything: %d" % len(flat)
        for org, got in seen.items():
            cur = [c for c, _ in got]
            assert all(a < b for a, b in zip(cur, cur[1:])), (org, "cursors not increasing")
            ids = [i for _, i in got]
            dup = len(ids) - len(set(ids))
            assert dup == 0, (org, "%d records seen twice" % dup)
            want = {rid for rid, to in flat if org in to}
            assert set(ids) == want, (org, "missing %d, unexpected %d" %
                                      (len(want - set(ids)), len(set(ids) - want)))
        # routed_to matched the relationships, so the sets above mean what they say.
        by = {rid: to for rid, to in flat}
        n3f = sum(1 for to in by.values() if to == {"akasse:3f"})
        ndst = sum(1 for to in by.values() if to == {"dst"})
        nboth = sum(1 for to in by.values() if to == {"akasse:3f", "dst"})
        assert n3f + ndst + nboth == len(by) and n3f and ndst and nboth, (n3f, ndst, nboth)
        print("  %d records, akasse:3f saw %d, dst saw %d" %
              (len(by), len(seen["akasse:3f"]), len(seen["dst"])))
    finally:
        h.close()


if __name__ == "__main__":
    run([test_cursor_paging_no_skip_no_repeat, test_bad_parameters_are_400,
         test_long_poll_wakes_on_delivery, test_delivery_for_another_org_does_not_wake,
         test_every_item_handed_out_is_a_disclosure, test_who_may_read_a_feed,
         test_exactly_once_under_concurrency])
