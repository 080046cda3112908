# SPDX-License-Identifier: Apache-2.0
"""Every route that touches personal data leaves an audit entry before it answers.

The test walks the route table as the server publishes it (/openapi.json, generated from the
table): for every operation marked x-dfdg-personal it must know a valid call, make it, and see
the audit log grow by an entry naming the caller. A new personal route without a sample here,
or one that answers without logging, fails the test.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from dfdg_it import Hub, is_problem, person, run  # noqa: E402

JENS = "0101901235"  # resident of 101, member of akasse:3f


def absence(ref, cpr=JENS):
    return {"type": "absence", "cpr": cpr, "source_ref": ref, "valid_from": "2026-01-05",
            "data": {"absence_type": "10", "notification_date": "2026-01-05"}}


def audit_entries(h):
    return [json.loads(bytes(row[0])) for row in h.sql("SELECT entry FROM audit_entry ORDER BY idx")]


def setup(h):
    r = h.post("akasse:3f", {"type": "akasse-membership", "cpr": JENS, "source_ref": "m",
                             "valid_from": "2020-01-01", "data": {"start_date": "2020-01-01"}})
    assert r.status == 201, r
    ids = {}
    for name in ("read", "correct", "cancel"):
        r = h.post("kommune:101", absence("cov-" + name))
        assert r.status == 201, r
        ids[name] = r.json["id"]
    return ids


def samples(ids):
    """How to call each personal route validly: (org, kwargs). Keyed by (method, path)."""
    citizen = dict(org="citizen", citizen_cpr=JENS)
    holiday = {"type": "holiday", "source_ref": "cov-me", "valid_from": "2026-02-02",
               "data": {"holiday_kind": "paid_holiday"}}
    return {
        ("POST", "/v1/records"): ("kommune:101", dict(body=absence("cov-post"))),
        ("POST", "/v1/records/batch"): ("kommune:101", dict(
            raw=(json.dumps(absence("cov-b1")) + "\n" + json.dumps(absence("cov-b2")) + "\n"),
            ctype="application/x-ndjson")),
        ("POST", "/v1/records/{id}/correction"): ("kommune:101", dict(
            path=("/v1/records/%s/correction" % ids["correct"]),
            body=dict(absence("cov-corr"), data={"absence_type": "1",
                                                  "notification_date": "2026-01-05"}))),
        ("POST", "/v1/records/{id}/cancellation"): ("kommune:101", dict(
            path=("/v1/records/%s/cancellation" % ids["cancel"]),
            body={"source_ref": "cov-canc", "reason": "registered in error"})),
        ("GET", "/v1/records/{id}"): ("star", dict(path="/v1/records/" + ids["read"])),
        ("GET", "/v1/person"): ("kommune:101", dict(cpr=JENS)),
        ("GET", "/v1/person/records"): ("star", dict(cpr=JENS)),
        ("GET", "/v1/feed"): ("akasse:3f", dict()),
        ("GET", "/v1/me"): ("citizen", dict(citizen)),
        ("GET", "/v1/me/records"): ("citizen", dict(citizen)),
        ("POST", "/v1/me/records"): ("citizen", dict(citizen, body=holiday)),
        ("GET", "/v1/me/access-log"): ("citizen", dict(citizen)),
        ("GET", "/v1/me/insight"): ("citizen", dict(citizen)),
    }


def test_every_personal_route_logs_before_answering(dfdg):
    h = Hub(dfdg, [person(JENS, "101")])
    try:
        ids = setup(h)
        doc = h.req("GET", "/openapi.json").json
        table = samples(ids)
        personal = [(m.upper(), path) for path, item in doc["paths"].items()
                    for m, op in item.items() if op.get("x-dfdg-personal")]
        assert len(personal) >= 10, personal
        unknown = [op for op in personal if op not in table]
        assert not unknown, "personal routes without an audit check here: %r" % unknown
        for method, path in personal:
            org, kw = table[(method, path)]
            kw = dict(kw)
            real_path = kw.pop("path", path)
            if org == "citizen":
                kw.pop("org", None)
            before = len(audit_entries(h))
            r = h.req(method, real_path, org, **kw)
            assert 200 <= r.status < 300, (method, path, r)
            # The entry was committed before the answer: it is there the moment we look.
            entries = audit_entries(h)
            assert len(entries) > before, "%s %s answered without an audit entry" % (
                method, path)
            e = entries[-1]
            assert e["org"] == org and e["purpose"] and e["legal_basis"], (method, path, e)
            assert 1 in e["persons"], (method, path, e)
            assert JENS not in json.dumps(e), "a CPR number in the audit log"
    finally:
        h.close()


def test_denied_attempts_are_logged(dfdg):
    h = Hub(dfdg, [person(JENS, "101")])
    try:
        before = len(audit_entries(h))
        r = h.req("GET", "/v1/person", "kommune:147", cpr=JENS)
        assert is_problem(r, 403), r
        r = h.post("kommune:147", absence("denied"))
        assert is_problem(r, 403), r
        r = h.req("GET", "/v1/person", "akasse:3f", cpr=JENS, purpose="statistics")
        assert is_problem(r, 403) and r.json["rule"] == "purpose.kind", r
        entries = audit_entries(h)[before:]
        rules = [(e["org"], e["outcome"], e["rule"] or
                  [x.get("rule") for x in e["records"]]) for e in entries]
        assert ("kommune:147", "denied", "read.relationship") in rules, rules
        assert ("akasse:3f", "denied", "purpose.kind") in rules, rules
        # A denied write names its rule on the entry and on the record it concerned.
        assert ("kommune:147", "denied", "report.residence") in rules, rules
        denied_write = [e for e in entries if e["action"] == "record.create"][0]
        assert denied_write["records"][0]["rule"] == "report.residence", denied_write
    finally:
        h.close()


def test_tree_heads_are_signed_while_entries_arrive(dfdg):
    h = Hub(dfdg, [person(JENS, "101")])
    try:
        for i in range(3):
            assert h.post("kommune:101", absence("sth-%d" % i)).status == 201
        deadline = time.monotonic() + 3
        sth = None
        while time.monotonic() < deadline:
            r = h.req("GET", "/v1/audit/sth", "star")
            if r.status == 200 and r.json["tree_size"] >= 3:
                sth = r.json
                break
            time.sleep(0.2)
        assert sth is not None, "no tree head within 3 s of the entries"
        n = sth["tree_size"]
        r = h.req("GET", "/v1/audit/proof/inclusion?index=1&size=%d" % n, "kommune:101")
        assert r.status == 200 and r.json["tree_size"] == n, r
        r = h.req("GET", "/v1/audit/proof/consistency?first=1&second=%d" % n, "star")
        assert r.status == 200, r
        for bad in ("index=5&size=3", "index=0&size=999999", "index=x&size=1", "size=1"):
            r = h.req("GET", "/v1/audit/proof/inclusion?" + bad, "star")
            assert is_problem(r, 400), (bad, r)
        r = h.req("GET", "/v1/audit/proof/consistency?first=0&second=1", "star")
        assert is_problem(r, 400), r
        assert is_problem(h.req("GET", "/v1/audit/sth"), 401)
    finally:
        h.close()


def test_write_entries_name_type_and_legal_basis(dfdg):
    """Create, correct and cancel each name the record's type and its legal basis (a
    cancellation has no type of its own in the request: it is the withdrawn record's)."""
    h = Hub(dfdg, [person(JENS, "101")])
    try:
        ids = setup(h)
        r = h.req("POST", "/v1/records/%s/correction" % ids["correct"], "kommune:101",
                  body=dict(absence("t-corr"), data={"absence_type": "1",
                                                      "notification_date": "2026-01-05"}))
        assert r.status == 201, r
        r = h.req("POST", "/v1/records/%s/cancellation" % ids["cancel"], "kommune:101",
                  body={"source_ref": "t-canc", "reason": "registered in error"})
        assert r.status == 201, r
        by_action = {e["action"]: e for e in audit_entries(h)
                     if e["action"].startswith("record.")}
        for action in ("record.create", "record.correct", "record.cancel"):
            e = by_action[action]
            assert e["records"][0]["type"] in ("absence", "akasse-membership"), (action, e)
            assert e["legal_basis"], (action, e)
        assert by_action["record.cancel"]["records"][0]["type"] == "absence", by_action
    finally:
        h.close()


if __name__ == "__main__":
    run([test_every_personal_route_logs_before_answering, test_denied_attempts_are_logged,
         test_tree_heads_are_signed_while_entries_arrive,
         test_write_entries_name_type_and_legal_basis])
