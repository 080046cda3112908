# SPDX-License-Identifier: Apache-2.0
"""Record history (DESIGN sections 2 and 5): idempotent replays and conflicts, corrections and
cancellations as new records that supersede or withdraw, the as_of / valid_on / type filters
of GET /v1/person/records, group commit under concurrent writers, and NDJSON batches."""
import json
import os
import re
import sys
import threading
import urllib.parse
from datetime import datetime, timedelta

sys.path.insert(0, os.path.dirname(__file__))
from dfdg_it import Hub, is_problem, person, run  # noqa: E402

JENS = "0101901235"   # resident of 101, member of akasse:3f
ANE = "0202851234"    # resident of 147
OLE = "1505751113"    # resident of 101
UNKNOWN_ID = "0190a0b4-0000-7000-8000-000000000000"


def rec(source_ref, cpr=JENS, target_group="1", valid_from="2025-03-02", **kw):
    r = {"type": "jobseeker-registration", "cpr": cpr, "source_ref": source_ref,
         "valid_from": valid_from,
         "data": {"registration_date": valid_from, "target_group": target_group}}
    r.update(kw)
    return r


def absence(source_ref, valid_from, valid_to=None, cpr=JENS):
    r = {"type": "absence", "cpr": cpr, "source_ref": source_ref, "valid_from": valid_from,
         "data": {"absence_type": "1", "notification_date": valid_from}}
    if valid_to is not None:
        r["valid_to"] = valid_to
    return r


def hub(dfdg, **kw):
    h = Hub(dfdg, [person(JENS, "101"), person(ANE, "147"), person(OLE, "101")], **kw)
    try:
        r = h.post("akasse:3f", {"type": "akasse-membership", "cpr": JENS,
                                 "source_ref": "mship", "valid_from": "2020-01-01",
                                 "data": {"start_date": "2020-01-01"}})
        assert r.status == 201, r
    except BaseException:
        h.close()
        raise
    return h


def created(r):
    assert r.status == 201 and re.fullmatch(r"[0-9a-f-]{36}", r.json["id"]), r
    return r.json["id"]


def correct(h, org, rid, body):
    return h.req("POST", "/v1/records/%s/correction" % rid, org, body=body)


def cancel(h, org, rid, body):
    return h.req("POST", "/v1/records/%s/cancellation" % rid, org, body=body)


def get(h, rid, org="kommune:101"):
    r = h.req("GET", "/v1/records/" + rid, org)
    assert r.status == 200, r
    return r.json


def listed(h, query="", org="kommune:101", cpr=JENS):
    """Ids of the person's records the caller reads, without the membership of hub()."""
    r = h.req("GET", "/v1/person/records" + query, org, cpr=cpr)
    assert r.status == 200, (query, r)
    return [x["id"] for x in r.json["records"] if x["source_ref"] != "mship"]


def t_parse(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")


def t_fmt(d):
    return d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def as_of(t, delta_us=0):
    return "?as_of=" + urllib.parse.quote(t_fmt(t_parse(t) + timedelta(microseconds=delta_us)),
                                          safe="")


# --- idempotency ---------------------------------------------------------------------------


def test_replay_same_content_answers_same_id(dfdg):
    h = hub(dfdg)
    try:
        r1 = h.post("kommune:101", rec("idem-1"))
        rid = created(r1)
        n = h.db_count()
        r2 = h.post("kommune:101", rec("idem-1"))
        assert r2.status == 200 and r2.json["id"] == rid, r2
        assert r2.json["recorded_at"] == r1.json["recorded_at"], (r1, r2)
        # The same content written differently: hyphenated CPR, other key order.
        same = rec("idem-1", cpr="010190-1235")
        same["data"] = dict(reversed(list(same["data"].items())))
        r3 = h.req("POST", "/v1/records", "kommune:101",
                   raw=json.dumps(dict(reversed(list(same.items())))))
        assert r3.status == 200 and r3.json["id"] == rid, r3
        assert h.db_count() == n, "a replay wrote a row"
    finally:
        h.close()


def test_same_source_ref_other_content_conflicts(dfdg):
    h = hub(dfdg)
    try:
        rid = created(h.post("kommune:101", rec("idem-2")))
        n = h.db_count()
        for other in (rec("idem-2", target_group="2"), rec("idem-2", valid_from="2025-03-03"),
                      rec("idem-2", valid_to="2025-12-31"), rec("idem-2", cpr=OLE)):
            r = h.post("kommune:101", other)
            assert is_problem(r, 409), (other, r)
        assert h.db_count() == n, "a conflict wrote a row"
        # The first report stands and still replays.
        r = h.post("kommune:101", rec("idem-2"))
        assert r.status == 200 and r.json["id"] == rid, r
    finally:
        h.close()


def test_source_ref_is_per_reporter(dfdg):
    h = hub(dfdg)
    try:
        ids = {created(h.post("kommune:101", rec("shared-ref")))}
        # The same key from other reporters (even with the same content) is another report.
        ids.add(created(h.post("akasse:3f", rec("shared-ref"))))
        ids.add(created(h.post("star", rec("shared-ref"))))
        ids.add(created(h.post("kommune:147", rec("shared-ref", cpr=ANE))))
        assert len(ids) == 4, ids
        assert len(listed(h, org="star")) == 3
    finally:
        h.close()


# --- corrections ---------------------------------------------------------------------------


def test_correction_supersedes(dfdg):
    h = hub(dfdg)
    try:
        a = created(h.post("kommune:101", rec("c-0")))
        rb = correct(h, "kommune:101", a, rec("c-1", target_group="2"))
        b = created(rb)
        assert b != a
        ga = get(h, a)
        assert ga["status"] == "superseded" and ga["superseded_by"] == b, ga
        assert ga["data"]["target_group"] == "1", ga
        gb = get(h, b)
        assert gb["status"] == "current" and gb["kind"] == "correction", gb
        assert gb["corrects"] == a and gb["data"]["target_group"] == "2", gb
        assert listed(h) == [b]
        # A replay of the correction answers the same id; nothing new is written.
        n = h.db_count()
        r = correct(h, "kommune:101", a, rec("c-1", target_group="2"))
        assert r.status == 200 and r.json["id"] == b, r
        # The old record is no longer current: a second correction of it is a conflict.
        r = correct(h, "kommune:101", a, rec("c-2", target_group="3"))
        assert is_problem(r, 409), r
        assert h.db_count() == n
        # Correcting the current one works: a chain.
        c = created(correct(h, "kommune:101", b, rec("c-3", target_group="3")))
        assert get(h, b)["superseded_by"] == c
        assert get(h, a)["superseded_by"] == b
        assert listed(h) == [c]
    finally:
        h.close()


def test_correction_owner_subject_and_target(dfdg):
    h = hub(dfdg)
    try:
        a = created(h.post("kommune:101", rec("o-0")))
        n = h.db_count()
        # Other orgs that may report the type about JENS may still not correct this record.
        for org in ("akasse:3f", "kommune:147"):
            r = correct(h, org, a, rec("o-1", target_group="2"))
            assert is_problem(r, 403) and r.json["rule"] == "report.owner", (org, r)
        # A correction keeps the type and the subject.
        other_type = absence("o-2", "2025-03-02")
        assert is_problem(correct(h, "kommune:101", a, other_type), 422)
        assert is_problem(correct(h, "kommune:101", a, rec("o-3", cpr=OLE)), 422)
        # No such record.
        assert is_problem(correct(h, "kommune:101", UNKNOWN_ID, rec("o-4")), 404)
        assert is_problem(correct(h, "kommune:101", "not-a-uuid", rec("o-5")), 404)
        # The target is unchanged by all of that.
        assert h.db_count() == n
        assert get(h, a)["status"] == "current" and listed(h) == [a]
        # STAR may correct anyone's record.
        s = created(correct(h, "star", a, rec("o-6", target_group="4")))
        gs = get(h, s)
        assert gs["reporter"] == "star" and gs["corrects"] == a, gs
        assert get(h, a)["superseded_by"] == s
        assert listed(h) == [s]
    finally:
        h.close()


def test_reporter_keeps_its_record_after_star_correction(dfdg):
    """report.owner: "only the original reporter (or STAR) corrects or cancels a record". A
    STAR correction made on the reporter's behalf must not take the record away from the
    kommune that reported it: the kommune can still correct and cancel the chain."""
    h = hub(dfdg)
    try:
        a = created(h.post("kommune:101", rec("s-0")))
        s = created(correct(h, "star", a, rec("s-1", target_group="2")))
        k = created(correct(h, "kommune:101", s, rec("s-2", target_group="3")))
        assert listed(h) == [k]
        created(cancel(h, "kommune:101", k, {"source_ref": "s-3", "reason": "ended"}))
        assert listed(h) == []
        # Others still may not.
        b = created(h.post("kommune:101", rec("s-4")))
        s2 = created(correct(h, "star", b, rec("s-5", target_group="2")))
        r = correct(h, "kommune:147", s2, rec("s-6", target_group="3"))
        assert is_problem(r, 403) and r.json["rule"] == "report.owner", r
    finally:
        h.close()


# --- cancellations -------------------------------------------------------------------------


def test_cancellation_withdraws(dfdg):
    h = hub(dfdg)
    try:
        a = created(h.post("kommune:101", rec("x-0")))
        keep = created(h.post("kommune:101", rec("x-keep", target_group="5")))
        body = {"source_ref": "x-1", "reason": "registered on the wrong person"}
        x = created(cancel(h, "kommune:101", a, body))
        assert listed(h) == [keep]
        ga = get(h, a)
        assert ga["status"] == "withdrawn" and ga["superseded_by"] == x, ga
        gx = get(h, x)
        assert gx["kind"] == "cancellation" and gx["cancels"] == a, gx
        assert gx["reason"] == body["reason"] and gx["status"] == "cancellation", gx
        n = h.db_count()
        # Replay: same answer, nothing written.
        r = cancel(h, "kommune:101", a, body)
        assert r.status == 200 and r.json["id"] == x, r
        # Same key, other reason: conflict.
        r = cancel(h, "kommune:101", a, {"source_ref": "x-1", "reason": "other"})
        assert is_problem(r, 409), r
        # Withdrawn already: cancelling or correcting it again is a conflict.
        r = cancel(h, "kommune:101", a, {"source_ref": "x-2", "reason": "again"})
        assert is_problem(r, 409), r
        assert is_problem(correct(h, "kommune:101", a, rec("x-3", target_group="2")), 409)
        # A cancellation itself cannot be cancelled or corrected.
        r = cancel(h, "kommune:101", x, {"source_ref": "x-4", "reason": "undo"})
        assert is_problem(r, 422), r
        assert h.db_count() == n
    finally:
        h.close()


def test_cancellation_rules_and_bad_bodies(dfdg):
    h = hub(dfdg)
    try:
        a = created(h.post("kommune:101", rec("y-0")))
        n = h.db_count()
        for body, field in (({"source_ref": "y-1"}, "reason"),
                            ({"source_ref": "y-1", "reason": ""}, "reason"),
                            ({"source_ref": "y-1", "reason": 5}, "reason"),
                            ({"source_ref": "y-1", "reason": "x" * 501}, "reason"),
                            ({"reason": "r"}, "source_ref"),
                            ({"source_ref": "y-1", "reason": "r", "extra": 1}, "extra")):
            r = cancel(h, "kommune:101", a, body)
            assert is_problem(r, 400), (body, r)
            assert field in [e["field"] for e in r.json["errors"]], (body, r.json)
        r = h.req("POST", "/v1/records/%s/cancellation" % a, "kommune:101", raw=b"[]")
        assert is_problem(r, 400), r
        r = cancel(h, "akasse:3f", a, {"source_ref": "y-2", "reason": "not ours"})
        assert is_problem(r, 403) and r.json["rule"] == "report.owner", r
        assert is_problem(cancel(h, "kommune:101", UNKNOWN_ID,
                                 {"source_ref": "y-3", "reason": "r"}), 404)
        assert h.db_count() == n and listed(h) == [a]
        # Cancelling the head of a correction chain takes the whole fact away; STAR may.
        b = created(correct(h, "kommune:101", a, rec("y-4", target_group="2")))
        assert listed(h) == [b]
        created(cancel(h, "star", b, {"source_ref": "y-5", "reason": "supervision"}))
        assert listed(h) == [] and get(h, b)["status"] == "withdrawn"
    finally:
        h.close()


# --- as_of, valid_on, type ------------------------------------------------------------------


def test_as_of_answers_what_was_known_then(dfdg):
    h = hub(dfdg)
    try:
        r0 = h.post("kommune:101", rec("t-0"))
        a, t0 = created(r0), r0.json["recorded_at"]
        r1 = correct(h, "kommune:101", a, rec("t-1", target_group="2"))
        b, t1 = created(r1), r1.json["recorded_at"]
        r2 = cancel(h, "kommune:101", b, {"source_ref": "t-2", "reason": "wrong"})
        created(r2)
        t2 = r2.json["recorded_at"]
        assert t_parse(t0) < t_parse(t1) < t_parse(t2), (t0, t1, t2)
        expect = [(as_of(t0, -1), []), (as_of(t0), [a]), (as_of(t1, -1), [a]),
                  (as_of(t1), [b]), (as_of(t2, -1), [b]), (as_of(t2), []),
                  ("", []), ("?as_of=2000-01-01", [])]
        # An instant strictly between each pair, too.
        mid01 = t_parse(t0) + (t_parse(t1) - t_parse(t0)) / 2
        mid12 = t_parse(t1) + (t_parse(t2) - t_parse(t1)) / 2
        expect += [(as_of(t_fmt(mid01)), [a] if mid01 < t_parse(t1) else [b]),
                   (as_of(t_fmt(mid12)), [b] if mid12 < t_parse(t2) else [])]
        for q, ids in expect:
            assert listed(h, q) == ids, (q, ids, listed(h, q))
        # What each read shows is the content known then.
        r = h.req("GET", "/v1/person/records" + as_of(t1, -1), "kommune:101", cpr=JENS)
        assert r.json["records"][0]["data"]["target_group"] == "1", r
        r = h.req("GET", "/v1/person/records" + as_of(t1), "kommune:101", cpr=JENS)
        assert r.json["records"][0]["data"]["target_group"] == "2", r
        assert is_problem(h.req("GET", "/v1/person/records?as_of=yesterday", "kommune:101",
                                cpr=JENS), 400)
    finally:
        h.close()


def test_valid_on_and_type_filters(dfdg):
    h = hub(dfdg)
    try:
        jan = created(h.post("kommune:101", absence("v-jan", "2025-01-01", "2025-01-31")))
        day = created(h.post("kommune:101", absence("v-day", "2025-02-10", "2025-02-10")))
        reg = created(h.post("kommune:101", rec("v-reg", valid_from="2025-03-01")))
        cases = [("2024-12-31", []), ("2025-01-01", [jan]), ("2025-01-15", [jan]),
                 ("2025-01-31", [jan]), ("2025-02-01", []), ("2025-02-09", []),
                 ("2025-02-10", [day]), ("2025-02-11", []), ("2025-03-01", [reg]),
                 ("2030-01-01", [reg])]
        for d, ids in cases:
            assert listed(h, "?valid_on=" + d) == ids, (d, ids, listed(h, "?valid_on=" + d))
        assert sorted(listed(h, "?type=absence")) == sorted([jan, day])
        assert listed(h, "?type=jobseeker-registration") == [reg]
        assert listed(h, "?type=absence&valid_on=2025-03-01") == []
        assert listed(h, "?type=absence&valid_on=2025-01-31") == [jan]
        assert listed(h, "?type=cv") == []
        assert sorted(listed(h)) == sorted([jan, day, reg])
        # Shortening the period by a correction; as_of still answers the old period.
        r = correct(h, "kommune:101", jan, absence("v-jan-2", "2025-01-01", "2025-01-20"))
        jan2, t_corr = created(r), r.json["recorded_at"]
        assert listed(h, "?valid_on=2025-01-25") == []
        assert listed(h, "?valid_on=2025-01-20") == [jan2]
        assert listed(h, "?valid_on=2025-01-25&as_of=" +
                      urllib.parse.quote(t_fmt(t_parse(t_corr) - timedelta(microseconds=1)),
                                         safe="")) == [jan]
    finally:
        h.close()


# --- group commit ---------------------------------------------------------------------------


def metrics(h):
    r = h.req("GET", "/metrics")
    assert r.status == 200, r
    out = {}
    for name in ("dfdg_writer_commits_total", "dfdg_writer_requests_total"):
        m = re.search(r"^%s (\d+)$" % name, r.raw.decode(), re.M)
        assert m, (name, r.raw[:500])
        out[name] = int(m.group(1))
    return out


def test_concurrent_writers_share_commits(dfdg):
    threads_n, per = 32, 25
    h = hub(dfdg)
    try:
        h.token("kommune:101")  # minted once, before the threads share the cache
        before_rows, before = h.db_count(), metrics(h)
        barrier = threading.Barrier(threads_n)
        results = [[] for _ in range(threads_n)]

        def worker(i):
            barrier.wait()
            for j in range(per):
                try:
                    r = h.post("kommune:101", rec("g-%d-%d" % (i, j)), timeout=60)
                    results[i].append((r.status, (r.json or {}).get("id")))
                except Exception as e:  # noqa: BLE001 - recorded and asserted below
                    results[i].append((repr(e), None))

        ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        flat = [x for rs in results for x in rs]
        assert len(flat) == threads_n * per, len(flat)
        bad = [s for s, _ in flat if s != 201]
        assert not bad, bad[:10]
        ids = {i for _, i in flat}
        assert len(ids) == threads_n * per, "ids are not unique"
        assert h.db_count() - before_rows == threads_n * per
        after = metrics(h)
        commits = after["dfdg_writer_commits_total"] - before["dfdg_writer_commits_total"]
        reqs = after["dfdg_writer_requests_total"] - before["dfdg_writer_requests_total"]
        print("  group commit: %d write requests in %d commits (%.1f per commit)" %
              (reqs, commits, reqs / max(commits, 1)))
        assert reqs == threads_n * per, reqs
        assert 0 < commits < reqs, (commits, reqs)
    finally:
        h.close()


# --- batches --------------------------------------------------------------------------------


def batch(h, lines, org="kommune:101"):
    body = "\n".join(lines) + "\n"
    return h.req("POST", "/v1/records/batch", org, raw=body.encode(),
                 ctype="application/x-ndjson")


def batch_results(r):
    assert r.status == 200 and "application/x-ndjson" in r.ctype, r
    out = [json.loads(x) for x in r.raw.decode().split("\n") if x.strip()]
    for x in out:
        assert isinstance(x["line"], int) and isinstance(x["status"], int), x
    return out


def test_batch_mixed_outcomes_in_order(dfdg):
    h = hub(dfdg)
    try:
        pre = created(h.post("kommune:101", rec("b-pre")))
        n = h.db_count()
        invalid = rec("b-2")
        del invalid["data"]["registration_date"]
        lines = [json.dumps(rec("b-1")),                 # 1 valid
                 json.dumps(invalid),                    # 2 invalid: 400
                 json.dumps(rec("b-3", cpr=ANE)),        # 3 ANE lives in 147: 403
                 "",                                     # 4 blank
                 json.dumps(rec("b-pre")),               # 5 replay: 200
                 "   ",                                  # 6 blank
                 json.dumps(rec("b-7", target_group="2"))]  # 7 valid
        res = batch_results(batch(h, lines))
        assert [x["line"] for x in res] == [1, 2, 3, 5, 7], res
        assert [x["status"] for x in res] == [201, 400, 403, 200, 201], res
        assert "data.registration_date" in [e["field"] for e in res[1]["errors"]], res[1]
        assert res[2]["rule"] == "report.residence", res[2]
        for x in (res[1], res[2]):
            assert x["type"].startswith("urn:") and x["title"] and x["detail"], x
        assert res[3]["id"] == pre, res[3]
        assert res[0]["id"] != res[4]["id"]
        assert h.db_count() == n + 2
        assert get(h, res[0]["id"])["source_ref"] == "b-1"
        assert get(h, res[4]["id"])["source_ref"] == "b-7"
        assert sorted(listed(h)) == sorted([pre, res[0]["id"], res[4]["id"]])
        assert listed(h, org="kommune:147", cpr=ANE) == []
    finally:
        h.close()


def test_batch_replay_and_conflict_within_one_batch(dfdg):
    h = hub(dfdg)
    try:
        n = h.db_count()
        res = batch_results(batch(h, [json.dumps(rec("w-1")), json.dumps(rec("w-1")),
                                      json.dumps(rec("w-1", target_group="9"))]))
        assert [x["status"] for x in res] == [201, 200, 409], res
        assert res[0]["id"] == res[1]["id"], res
        assert h.db_count() == n + 1
    finally:
        h.close()


def test_batch_nothing_valid_stores_nothing(dfdg):
    h = hub(dfdg)
    try:
        n = h.db_count()
        bad = rec("n-2", type="no-such-type")
        res = batch_results(batch(h, ["{not json", json.dumps(bad), "[1]",
                                      json.dumps(dict(rec("n-4"), extra=1))]))
        assert [x["status"] for x in res] == [400, 400, 400, 400], res
        assert [x["line"] for x in res] == [1, 2, 3, 4], res
        # Denied in the request thread (kind) and in the writer (residence).
        mship = {"type": "akasse-membership", "cpr": JENS, "source_ref": "n-5",
                 "valid_from": "2020-01-01", "data": {"start_date": "2020-01-01"}}
        res = batch_results(batch(h, [json.dumps(mship), json.dumps(rec("n-6", cpr=ANE))]))
        assert [(x["status"], x["rule"]) for x in res] == [(403, "report.kind"),
                                                          (403, "report.residence")], res
        assert h.db_count() == n
    finally:
        h.close()


def test_batch_empty_and_too_many_lines(dfdg):
    h = hub(dfdg, extra_args=["--max-batch", "3"])
    try:
        n = h.db_count()
        for body in (b"", b"\n", b"\n  \n\t\r\n"):
            r = h.req("POST", "/v1/records/batch", "kommune:101", raw=body,
                      ctype="application/x-ndjson")
            assert is_problem(r, 400), (body, r)
        r = batch(h, [json.dumps(rec("z-%d" % i)) for i in range(4)])
        assert is_problem(r, 413), r
        assert h.db_count() == n
        # Exactly the limit (blank lines do not count) is fine.
        res = batch_results(batch(h, [json.dumps(rec("z-a")), "", json.dumps(rec("z-b")), "",
                                      json.dumps(rec("z-c"))]))
        assert [x["status"] for x in res] == [201, 201, 201], res
        assert [x["line"] for x in res] == [1, 3, 5], res
        assert h.db_count() == n + 3
    finally:
        h.close()


if __name__ == "__main__":
    run([test_replay_same_content_answers_same_id, test_same_source_ref_other_content_conflicts,
         test_source_ref_is_per_reporter, test_correction_supersedes,
         test_correction_owner_subject_and_target,
         test_reporter_keeps_its_record_after_star_correction, test_cancellation_withdraws,
         test_cancellation_rules_and_bad_bodies, test_as_of_answers_what_was_known_then,
         test_valid_on_and_type_filters, test_concurrent_writers_share_commits,
         test_batch_mixed_outcomes_in_order, test_batch_replay_and_conflict_within_one_batch,
         test_batch_nothing_valid_stores_nothing, test_batch_empty_and_too_many_lines])
