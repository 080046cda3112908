# SPDX-License-Identifier: Apache-2.0
"""The citizen's access log and GDPR art. 15 insight (DESIGN section 5):
GET /v1/me/access-log shows every access to the citizen's data by anyone but a citizen (the
organisation by name, when, what, which kinds of the citizen's data, purpose, legal basis,
outcome), newest first and paged, bulk feed pages included but cut down to the citizen's own
records; GET /v1/me/insight (JSON, or printable HTML) and `dfdg insight` give everything held:
master data, every record with its history, per type purposes, legal basis, sources,
recipients and retention, the disclosures, the access log, the controller and the DPO. The
insight export by STAR is logged before anything is written."""
import json
import os
import stat
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
from dfdg_it import Hub, is_problem, person, run  # noqa: E402

ANNA = "0202851234"      # the citizen under test: lives in 101, member of akasse:3f
OTHER = "0101901235"     # another citizen: lives in 101, member of akasse:3f too
SCRIPT = "<script>alert('x')</script> & Co"


def post(h, org, body):
    r = h.post(org, body)
    assert r.status == 201, r
    return r.json["id"]


def reg(source_ref, cpr, target_group="1"):
    return {"type": "jobseeker-registration", "cpr": cpr, "source_ref": source_ref,
            "valid_from": "2025-03-02",
            "data": {"registration_date": "2025-03-02", "target_group": target_group}}


def interview(source_ref, cpr):
    return {"type": "job-interview", "cpr": cpr, "source_ref": source_ref,
            "valid_from": "2025-04-02", "data": {"kind": "held_interview"}}


def absence(source_ref, cpr):
    return {"type": "absence", "cpr": cpr, "source_ref": source_ref, "valid_from": "2025-04-01",
            "data": {"absence_type": "1", "notification_date": "2025-04-01"}}


def membership(source_ref, cpr):
    return {"type": "akasse-membership", "cpr": cpr, "source_ref": source_ref,
            "valid_from": "2020-01-01", "data": {"start_date": "2020-01-01"}}


def scenario(dfdg):
    """A hub where the kommune, the a-kasse (by feed) and STAR have each touched Anna's data."""
    h = Hub(dfdg, [person(ANNA, "101", first="Anna", last="Indsigt"),
                   person(OTHER, "101", first="Otto", last="Anden")])
    try:
        ids = {}
        post(h, "akasse:3f", membership("m-anna", ANNA))
        post(h, "akasse:3f", membership("m-other", OTHER))
        # The kommune reads Anna's master data, then reports about her and about Otto.
        r = h.req("GET", "/v1/person", "kommune:101", cpr=ANNA)
        assert r.status == 200, r
        ids["reg"] = post(h, "kommune:101", reg("r-1", ANNA))
        ids["cw"] = post(h, "kommune:101", {
            "type": "caseworker-assignment", "cpr": ANNA, "source_ref": "cw-1",
            "valid_from": "2025-03-03",
            "data": {"role": "coordinating_caseworker", "caseworker_name": SCRIPT}})
        ids["other"] = post(h, "kommune:101", interview("i-other", OTHER))
        # History: a correction, and a record withdrawn by a cancellation.
        r = h.req("POST", "/v1/records/%s/correction" % ids["reg"], "kommune:101",
                  body=reg("r-2", ANNA, target_group="2"))
        assert r.status == 201, r
        ids["reg2"] = r.json["id"]
        ids["abs"] = post(h, "kommune:101", absence("a-anna", ANNA))
        r = h.req("POST", "/v1/records/%s/cancellation" % ids["abs"], "kommune:101",
                  body={"source_ref": "a-anna-x", "reason": "registered in error"})
        assert r.status == 201, r
        ids["abs_x"] = r.json["id"]
        # The a-kasse fetches its feed: one page with Anna's and Otto's records (bulk).
        r = h.req("GET", "/v1/feed?limit=1000", "akasse:3f")
        assert r.status == 200, r
        persons = {it["record"].get("cpr") for it in r.json["items"]}
        assert ANNA in persons and OTHER in persons, persons
        # STAR reads Anna's records for supervision.
        r = h.req("GET", "/v1/person/records", "star", cpr=ANNA, purpose="supervision")
        assert r.status == 200, r
        # A kommune Anna does not live in is refused (logged as a denied attempt).
        r = h.req("GET", "/v1/person", "kommune:147", cpr=ANNA)
        assert is_problem(r, 403), r
        # Anna's own reads.
        assert me(h, ANNA, "/v1/me").status == 200
        assert me(h, ANNA, "/v1/me/records").status == 200
        h.ids = ids
    except BaseException:
        h.close()
        raise
    return h


def me(h, cpr, path, **kw):
    return h.req("GET", path, "citizen", citizen_cpr=cpr, **kw)


def access_log(h, cpr, **q):
    path = "/v1/me/access-log" + ("?" + urllib.parse.urlencode(q) if q else "")
    r = me(h, cpr, path)
    assert r.status == 200, r
    return r.json


def full_log(h, cpr):
    j = access_log(h, cpr, limit=500)
    assert j["next"] is None, j
    return j["entries"]


def kinds(e):
    return {k["type"] for k in e["kinds_of_data"]}


def bases(e):
    return set(e["legal_basis"].split("; "))


def audit_entries(h):
    rows = h.sql("SELECT idx, entry FROM audit_entry ORDER BY idx")
    return [json.loads(bytes(e)) for _, e in rows]


def test_access_log_shows_others_accesses(dfdg):
    h = scenario(dfdg)
    try:
        log = full_log(h, ANNA)
        # Newest first, each with a cursor; the citizen's own reads are not there.
        idx = [e["audit_index"] for e in log]
        assert idx == sorted(idx, reverse=True) and len(set(idx)) == len(idx), idx
        assert all(e["org"]["id"] != "citizen" for e in log), log
        assert all(e["cursor"] == str(e["audit_index"]) for e in log)
        for e in log:
            for key in ("at", "org", "action", "label", "kinds_of_data", "purpose",
                        "legal_basis", "outcome"):
                assert key in e, (key, e)

        def one(org, action):
            got = [e for e in log if e["org"]["id"] == org and e["action"] == action]
            assert len(got) == 1, (org, action, log)
            return got[0]

        read = one("kommune:101", "person.read")
        feed = one("akasse:3f", "feed.read")
        star = one("star", "records.list")
        # Organisations by name, kind; purposes and legal bases.
        assert "København" in read["org"]["name"] and read["org"]["kind"] == "kommune", read
        assert "3F" in feed["org"]["name"] and feed["org"]["kind"] == "akasse", feed
        assert star["org"]["name"] == "Styrelsen for Arbejdsmarked og Rekruttering", star
        assert read["purpose"] == "case-handling" and feed["purpose"] == "case-handling"
        assert star["purpose"] == "supervision", star
        assert "LBU §§ 33-34" in read["legal_basis"], read
        assert "LBU §§ 21, 32, 38" in star["legal_basis"], star
        assert "BEK 442/2023 kap. 4" in bases(star), star   # the types read
        assert kinds(read) == {"master-data"}, read
        assert read["label"]["en"] == "Read your master data", read
        assert {"jobseeker-registration", "caseworker-assignment"} <= kinds(star), star
        # Newest first: STAR's read after the feed page after the kommune's read.
        assert star["audit_index"] > feed["audit_index"] > read["audit_index"]
        # The feed page is a bulk disclosure; it shows only Anna's kinds of data, and only the
        # legal bases that concern them (Otto's job interview, kap. 6 and 48, is not Anna's
        # business).
        assert feed["bulk"] is True and feed["outcome"] == "allowed", feed
        assert kinds(feed) == {"jobseeker-registration", "caseworker-assignment", "absence"}, feed
        fb = bases(feed)
        assert {"BEK 442/2023 kap. 4", "BEK 442/2023 kap. 8", "BEK 442/2023 kap. 12"} <= fb, fb
        assert not {"BEK 442/2023 kap. 6", "BEK 442/2023 kap. 48", "LAB § 121"} & fb, fb
        # The refused attempt is there, with its rule.
        denied = one("kommune:147", "GET /v1/person")
        assert denied["outcome"] == "denied" and denied["rule"], denied
        assert denied["label"]["en"] == "Tried to read your master data", denied
        # Writes about Anna by others show too.
        assert any(e["org"]["id"] == "kommune:101" and e["action"] == "record.create"
                   for e in log), log
        # Otto sees the shared feed page with his kinds only, and nothing that was Anna's alone.
        olog = full_log(h, OTHER)
        ofeed = [e for e in olog if e["audit_index"] == feed["audit_index"]]
        assert len(ofeed) == 1 and kinds(ofeed[0]) == {"job-interview"}, ofeed
        ob = bases(ofeed[0])
        assert "BEK 442/2023 kap. 6" in ob and "BEK 442/2023 kap. 4" not in ob, ob
        anna_only = {read["audit_index"], star["audit_index"], denied["audit_index"]}
        assert not anna_only & {e["audit_index"] for e in olog}, olog
        # Reading the access log is logged (as Anna's own read, so it is not in her log).
        entries = audit_entries(h)
        assert entries[-1]["action"] == "me.access-log" and entries[-1]["org"] == "citizen"
        assert full_log(h, ANNA) == log
    finally:
        h.close()


def test_access_log_paging(dfdg):
    h = scenario(dfdg)
    try:
        log = full_log(h, ANNA)
        assert len(log) >= 5, log
        got, cursor, pages = [], None, 0
        while True:
            q = {"limit": 2}
            if cursor is not None:
                q["before"] = cursor
            j = access_log(h, ANNA, **q)
            assert len(j["entries"]) <= 2, j
            got += j["entries"]
            pages += 1
            cursor = j["next"]
            if cursor is None:
                break
            assert cursor == j["entries"][-1]["cursor"], j
        assert got == log and pages == (len(log) + 1) // 2, (pages, len(log))
        assert len(access_log(h, ANNA)["entries"]) == len(log)   # default limit 50
        for q in ({"limit": 0}, {"limit": 501}, {"limit": "x"}, {"before": "abc"},
                  {"before": "0"}, {"before": "-3"}):
            r = me(h, ANNA, "/v1/me/access-log?" + urllib.parse.urlencode(q))
            assert is_problem(r, 400), (q, r)
        # A citizen with nothing accessed by others gets an empty log.
        h.import_persons([person("1505751113", "101")])
        assert access_log(h, "1505751113") == {"entries": [], "next": None}
        # Organisations cannot call it.
        r = h.req("GET", "/v1/me/access-log", "kommune:101", cpr=ANNA)
        assert is_problem(r, 403), r
    finally:
        h.close()


def group(doc, code):
    got = [g for g in doc["records"] if g["type"] == code]
    assert len(got) == 1, (code, [g["type"] for g in doc["records"]])
    return got[0]


def test_insight_json(dfdg):
    h = scenario(dfdg)
    try:
        ids = h.ids
        r = me(h, ANNA, "/v1/me/insight")
        assert r.status == 200 and r.ctype.startswith("application/json"), r
        doc = r.json
        assert doc["person"]["cpr"] == ANNA and doc["person"]["name"]["first"] == "Anna", doc
        assert doc["person"]["addresses"][0]["kommunekode"] == "101", doc["person"]
        assert "Styrelsen for Arbejdsmarked og Rekruttering" in doc["controller"]["name"]
        assert doc["controller"]["email"] and doc["dpo"]["email"], doc
        # History: both versions of the registration, the withdrawn absence and its
        # cancellation.
        reg = group(doc, "jobseeker-registration")
        by_id = {x["id"]: x for x in reg["records"]}
        assert set(by_id) == {ids["reg"], ids["reg2"]}, reg
        assert by_id[ids["reg"]]["status"] == "superseded", by_id
        assert by_id[ids["reg"]]["superseded_by"] == ids["reg2"], by_id
        assert by_id[ids["reg2"]]["status"] == "current", by_id
        assert by_id[ids["reg2"]]["corrects"] == ids["reg"], by_id
        assert by_id[ids["reg2"]]["data"]["target_group"] == "2"
        ab = {x["id"]: x for x in group(doc, "absence")["records"]}
        assert {i: x["status"] for i, x in ab.items()} == \
            {ids["abs"]: "withdrawn", ids["abs_x"]: "cancellation"}, ab
        # Retention runs per chain: the withdrawn chain ended the day it was cancelled; the
        # registration's chain is open (no valid_to), so it has no end yet.
        ended = ab[ids["abs_x"]]["recorded_at"][:10]
        until = "%04d%s" % (int(ended[:4]) + 5, ended[4:])
        assert {x["retained_until"] for x in ab.values()} == {until}, ab
        assert {x["retained_until"] for x in reg["records"]} == {None}, reg
        assert ids["other"] not in json.dumps(doc), "Otto's record is in Anna's insight"
        # Per type: purposes, legal basis, sources, recipients, retention.
        cat = h.req("GET", "/v1/catalog/jobseeker-registration").json
        assert reg["legal_basis"] == cat["legal_basis"], reg
        assert reg["retention_years"] == cat["retention_years"], reg
        assert "case-handling" in reg["purposes"] and "supervision" in reg["purposes"], reg
        assert {"case-handling", "supervision"} <= set(reg["purposes_used"]), reg
        assert [s["id"] for s in reg["sources"]] == ["kommune:101"], reg
        assert "København" in reg["sources"][0]["name"], reg
        assert {"kind": "akasse", "via": "membership"} in reg["recipients"]["by_rule"], reg
        routed = {o["id"] for o in reg["recipients"]["routed_to"]}
        assert {"akasse:3f", "dst"} <= routed, reg
        assert group(doc, "akasse-membership")["sources"][0]["id"] == "akasse:3f"
        assert doc["record_count"] == sum(len(g["records"]) for g in doc["records"])
        # The disclosures and the accesses.
        disc = {d["org"]["id"]: d for d in doc["disclosures"]}
        assert "feed" in disc["akasse:3f"]["channels"], disc
        assert "read" in disc["star"]["channels"] and "read" in disc["kommune:101"]["channels"]
        assert "kommune:147" not in disc, "a refused attempt counted as a disclosure"
        log = {(e["org"]["id"], e["action"]) for e in doc["access_log"]["entries"]}
        assert {("kommune:101", "person.read"), ("akasse:3f", "feed.read"),
                ("star", "records.list")} <= log, log
        assert not any(o == "citizen" for o, _ in log), log
        # The read is logged, naming the records shown.
        last = audit_entries(h)[-1]
        assert last["action"] == "me.insight" and last["org"] == "citizen", last
        assert ids["reg"] in {x["id"] for x in last["records"]}, last
        # Otto's insight holds nothing of Anna's.
        odoc = me(h, OTHER, "/v1/me/insight").json
        assert "Anna" not in json.dumps(odoc, ensure_ascii=False) and ids["reg"] not in \
            json.dumps(odoc)
        assert is_problem(me(h, ANNA, "/v1/me/insight?format=pdf"), 400)
    finally:
        h.close()


def test_insight_html(dfdg):
    h = scenario(dfdg)
    try:
        r = me(h, ANNA, "/v1/me/insight?format=html")
        assert r.status == 200, r
        assert r.ctype == "text/html; charset=utf-8", r.ctype
        page = r.raw.decode("utf-8")
        assert page.startswith("<!DOCTYPE html>") and "<style>" in page and "@page" in page
        assert "Anna" in page and "Indsigt" in page
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co" in page, page[:2000]
        assert "<script" not in page
        assert "Styrelsen for Arbejdsmarked og Rekruttering" in page
        assert audit_entries(h)[-1]["action"] == "me.insight"
    finally:
        h.close()


def test_cli_insight(dfdg):
    h = scenario(dfdg)
    try:
        out = os.path.join(h.tmp, "anna.html")
        n = len(audit_entries(h))
        r = h.cli("insight", "--db", h.db, "--cpr", ANNA, "--sub", "star-jurist-7",
                  "--format", "html", "--output", out)
        for text in (r.stdout, r.stderr):
            assert ANNA not in text and "020285-1234" not in text, text
        with open(out, encoding="utf-8") as f:
            page = f.read()
        assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
        assert "Anna" in page and "Indsigt" in page
        assert "&lt;script&gt;" in page and "<script" not in page
        # Logged as STAR's export before the output was written.
        entries = audit_entries(h)
        assert len(entries) == n + 1, entries[n:]
        e = entries[-1]
        assert (e["org"], e["sub"], e["action"], e["purpose"], e["legal_basis"]) == \
            ("star", "star-jurist-7", "insight.export", "supervision", "GDPR art. 15"), e
        assert len(e["persons"]) == 1 and h.ids["reg"] in {x["id"] for x in e["records"]}, e
        # ... so Anna sees it at the top of her access log.
        top = access_log(h, ANNA, limit=1)["entries"][0]
        assert (top["org"]["id"], top["action"], top["purpose"]) == \
            ("star", "insight.export", "supervision"), top
        # JSON on standard output; options in any order, the number in either form.
        r = h.cli("insight", "--format", "json", "--sub", "star-jurist-7", "--db", h.db,
                  "--cpr", "020285-1234")
        doc = json.loads(r.stdout)
        assert doc["person"]["name"]["last"] == "Indsigt", doc["person"]
        assert ANNA not in r.stderr
        # Bad use.
        r = h.cli("insight", "--db", h.db, "--cpr", "1505751113", "--sub", "x", check=False)
        assert r.returncode == 1 and "1505751113" not in r.stderr + r.stdout, r
        r = h.cli("insight", "--db", h.db, "--cpr", ANNA, check=False)
        assert r.returncode == 2, r          # --sub is required
        r = h.cli("insight", "--db", h.db, "--cpr", ANNA, "--sub", "x", "--format", "pdf",
                  check=False)
        assert r.returncode == 2, r
        r = h.cli("insight", "--help")
        assert r.stdout.startswith("usage: dfdg insight") and "--sub" in r.stdout
        h.close()
        # The log still verifies with the CLI's entries and tree heads in it.
        r = h.cli("audit", "verify", "--db", h.db, check=False)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        h.close()


if __name__ == "__main__":
    run([test_access_log_shows_others_accesses, test_access_log_paging, test_insight_json,
         test_insight_html, test_cli_insight])
