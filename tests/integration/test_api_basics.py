# SPDX-License-Identifier: Apache-2.0
"""The API contract and bad input: catalog, records round trip, RFC 9457 problems, limits,
authentication. Every bad request must leave the store unchanged."""
import base64
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from dfdg_it import Hub, is_problem, person, run  # noqa: E402

JENS = "0101901235"   # resident of 101 (København)
ANE = "0202851234"    # resident of 147 (Frederiksberg)


def rec(**kw):
    r = {"type": "jobseeker-registration", "cpr": JENS, "source_ref": "b-1",
         "valid_from": "2026-03-02",
         "data": {"registration_date": "2026-03-02", "target_group": "1"}}
    r.update(kw)
    return r


def hub(dfdg, **kw):
    return Hub(dfdg, [person(JENS, "101"), person(ANE, "147")], **kw)


def test_catalog_public_and_complete(dfdg):
    h = hub(dfdg)
    try:
        r = h.req("GET", "/v1/catalog")
        assert r.status == 200, r
        codes = {t["code"] for t in r.json["types"]}
        assert len(codes) == 31, codes
        r = h.req("GET", "/v1/catalog/akasse-membership")
        assert r.status == 200 and r.json["code"] == "akasse-membership", r
        for key in ("chapters", "name", "subject", "reporters", "recipients", "sensitive",
                    "legal_basis", "jobnet_visible", "retention_years", "fields"):
            assert key in r.json, key
        assert r.json["reporters"] == ["akasse"]
        assert is_problem(h.req("GET", "/v1/catalog/no-such-type"), 404)
    finally:
        h.close()


def test_record_round_trip(dfdg):
    h = hub(dfdg)
    try:
        r = h.post("kommune:101", rec())
        assert r.status == 201, r
        rid = r.json["id"]
        assert len(rid) == 36 and rid[14] == "7", rid
        assert r.json["recorded_at"].endswith("Z")
        # Kommune 101 reported it: it is routed to Danmarks Statistik, not back to 101.
        assert r.json["routed_to"] == ["dst"], r
        g = h.req("GET", "/v1/records/" + rid, "kommune:101")
        assert g.status == 200, g
        assert g.json["type"] == "jobseeker-registration" and g.json["cpr"] == JENS
        assert g.json["data"] == {"registration_date": "2026-03-02", "target_group": "1"}
        assert g.json["status"] == "current" and g.json["valid_to"] is None
        lst = h.req("GET", "/v1/person/records", "kommune:101", cpr=JENS)
        assert lst.status == 200 and [x["id"] for x in lst.json["records"]] == [rid], lst
        # The hyphenated CPR form names the same person.
        lst = h.req("GET", "/v1/person/records", "kommune:101", cpr="010190-1235")
        assert [x["id"] for x in lst.json["records"]] == [rid], lst
    finally:
        h.close()


def test_bad_input_problems_and_store_unchanged(dfdg):
    h = hub(dfdg)
    try:
        assert h.post("kommune:101", rec(source_ref="good")).status == 201
        before = h.db_count()
        cases = [
            ("malformed json", dict(raw=b"{not json"), 400, None),
            ("not an object", dict(raw=b"[1,2]"), 400, None),
            ("trailing garbage", dict(raw=json.dumps(rec()).encode() + b"x"), 400, None),
            ("unknown type", dict(body=rec(type="no-such")), 400, "type"),
            ("unknown top-level key", dict(body=dict(rec(), extra=1)), 400, "extra"),
            ("unknown data field", dict(body=rec(data={"registration_date": "2026-03-02",
                                                       "target_group": "1", "bogus": 1})),
             400, "data.bogus"),
            ("wrong type", dict(body=rec(data={"registration_date": 5, "target_group": "1"})),
             400, "data.registration_date"),
            ("bad enum", dict(body=rec(data={"registration_date": "2026-03-02",
                                             "target_group": "99"})), 400, "data.target_group"),
            ("missing required", dict(body=rec(data={"target_group": "1"})), 400,
             "data.registration_date"),
            ("bad cpr", dict(body=rec(cpr="3213901234")), 400, "cpr"),
            ("cpr letters", dict(body=rec(cpr="01019O1235")), 400, "cpr"),
            ("reversed dates", dict(body=rec(valid_to="2026-01-01")), 400, "valid_to"),
            ("bad date", dict(body=rec(valid_from="2026-02-30")), 400, "valid_from"),
            ("source_ref too long", dict(body=rec(source_ref="x" * 200)), 400, "source_ref"),
            ("deep nesting", dict(raw=b"[" * 5000 + b"]" * 5000), 400, None),
            ("deep nesting in data", dict(body=rec(data={"a": json.loads("[" * 40 + "]" * 40)})),
             400, None),
            ("oversized body", dict(raw=b'{"x":"' + b"a" * (2 << 20) + b'"}'), 413, None),
            ("wrong content type", dict(body=rec(), ctype="text/plain"), 415, None),
            ("unknown person", dict(body=rec(cpr="0303801234")), 422, None),
        ]
        for name, kw, status, field in cases:
            r = h.req("POST", "/v1/records", "kommune:101", **kw)
            assert is_problem(r, status), (name, r)
            if field is not None:
                fields = [e["field"] for e in r.json.get("errors", [])]
                assert field in fields, (name, fields)
                for e in r.json["errors"]:
                    assert set(e) == {"field", "code", "message"}, e
            assert JENS not in r.raw.decode("utf-8", "replace"), (name, "CPR echoed")
        assert h.db_count() == before, "a rejected request changed the store"
    finally:
        h.close()


def b64(obj):
    raw = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_tokens_rejected(dfdg):
    h = hub(dfdg)
    try:
        good = h.token("kommune:101")
        head, payload, sig = good.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        now = int(time.time())
        other = Hub(dfdg, start=False)  # another database: another issuer key
        foreign = other.token("kommune:101")
        forged = {
            "none token": b64({"alg": "none", "typ": "JWT"}) + "." + payload + ".",
            "hs256 header": b64({"alg": "HS256"}) + "." + payload + "." + sig,
            "wrong key": foreign,
            "swapped org": head + "." + b64(dict(claims, org="kommune:147")) + "." + sig,
            "garbage": "abc.def.ghi",
            "two parts": head + "." + payload,
        }
        before = h.db_count()
        for name, tok in forged.items():
            r = h.req("POST", "/v1/records", body=rec(source_ref=name), token=tok,
                      purpose="case-handling")
            assert is_problem(r, 401), (name, r)
        r = h.req("POST", "/v1/records", body=rec(), purpose="case-handling")
        assert is_problem(r, 401), r
        r = h.req("POST", "/v1/records", body=rec(), purpose="case-handling",
                  headers={"Authorization": "Basic abc"})
        assert is_problem(r, 401), r
        # An org that does not exist, expired, not yet valid, unknown issuer: minted by hand.
        for org, extra in (("kommune:999", {}), ("kommune:101", {"exp": now - 3600}),
                           ("kommune:101", {"nbf": now + 3600}),
                           ("kommune:101", {"iss": "someone-else"})):
            c = dict(claims, org=org, **extra)
            r = h.req("GET", "/v1/person", token=head + "." + b64(c) + "." + sig, cpr=JENS,
                      purpose="case-handling")
            assert is_problem(r, 401), (org, extra, r)
        assert h.db_count() == before
    finally:
        h.close()


def test_org_must_exist_for_token_cli(dfdg):
    h = hub(dfdg, start=False)
    r = h.cli("token", "--db", h.db, "--org", "kommune:999", "--sub", "x", check=False)
    assert r.returncode != 0 and "kommune:999" in r.stderr, r
    r = h.cli("token", "--db", h.db, "--org", "citizen", "--sub", "x", check=False)
    assert r.returncode == 2, r


def test_routes_and_methods(dfdg):
    h = hub(dfdg)
    try:
        assert is_problem(h.req("GET", "/nope"), 404)
        r = h.req("DELETE", "/v1/catalog")
        assert is_problem(r, 405) and r.headers.get("Allow") == "GET", r
        assert is_problem(h.req("GET", "/v1/records/not-a-uuid", "kommune:101"), 404)
        assert is_problem(h.req("GET", "/v1/records/0190a0b4-0000-7000-8000-000000000000",
                                "kommune:101"), 404)
        m = h.req("GET", "/metrics")
        assert m.status == 200 and b"dfdg_writer_commits_total" in m.raw
    finally:
        h.close()


def test_purpose_required(dfdg):
    h = hub(dfdg)
    try:
        r = h.req("GET", "/v1/person", "kommune:101", cpr=JENS, purpose="")
        assert is_problem(r, 403) and r.json["rule"] == "purpose.missing", r
        r = h.req("GET", "/v1/person", "akasse:3f", cpr=JENS, purpose="statistics")
        assert is_problem(r, 403) and r.json["rule"] == "purpose.kind", r
        r = h.req("GET", "/v1/person", "kommune:101", cpr=JENS, purpose="bogus")
        assert is_problem(r, 403) and r.json["rule"] == "purpose.kind", r
    finally:
        h.close()


def test_person_header_errors(dfdg):
    h = hub(dfdg)
    try:
        assert is_problem(h.req("GET", "/v1/person", "kommune:101"), 400)
        r = h.req("GET", "/v1/person", "kommune:101", cpr="1234")
        assert is_problem(r, 400) and r.json["errors"][0]["field"] == "DFDG-CPR", r
        assert is_problem(h.req("GET", "/v1/person", "kommune:101", cpr="0303801234"), 404)
        r = h.req("GET", "/v1/person/records?valid_on=2026-13-01", "kommune:101", cpr=JENS)
        assert is_problem(r, 400), r
        r = h.req("GET", "/v1/person/records?type=nope", "kommune:101", cpr=JENS)
        assert is_problem(r, 400), r
    finally:
        h.close()


def test_list_limit_and_truncation(dfdg):
    h = hub(dfdg)
    try:
        for i in range(3):
            assert h.post("kommune:101", rec(source_ref="l-%d" % i,
                                             valid_from="2026-03-0%d" % (i + 2))).status == 201
        r = h.req("GET", "/v1/person/records?limit=2", "kommune:101", cpr=JENS)
        assert len(r.json["records"]) == 2 and r.json["truncated"] is True, r
        # Newest valid_from first.
        assert [x["valid_from"] for x in r.json["records"]] == ["2026-03-04", "2026-03-03"]
        r = h.req("GET", "/v1/person/records?limit=3", "kommune:101", cpr=JENS)
        assert len(r.json["records"]) == 3 and r.json["truncated"] is False, r
        for bad in ("0", "-1", "abc", "10001"):
            assert is_problem(h.req("GET", "/v1/person/records?limit=" + bad, "kommune:101",
                                    cpr=JENS), 400), bad
    finally:
        h.close()


def test_hostile_bytes(dfdg):
    h = hub(dfdg)
    try:
        before = h.db_count()
        body = json.dumps(rec(source_ref="utf")).encode()
        cases = [
            body.replace(b'"utf"', b'"a' + bytes([0xff]) + b'b"'),  # invalid UTF-8
            body.replace(b'"utf"', b'"a\\u0000b"'),  # an escaped NUL inside a string
            b'{"type": "' + bytes([0]) + b'"}',  # a raw NUL byte
        ]
        for raw in cases:
            r = h.req("POST", "/v1/records", "kommune:101", raw=raw)
            assert is_problem(r, 400), (raw[:60], r)
        # SQL meta-characters are data, nothing else.
        r = h.post("kommune:101", rec(source_ref="x'); DROP TABLE record; --"))
        assert r.status == 201, r
        assert h.db_count() == before + 1
        # Huge headers are refused, and the server stays up.
        try:
            r = h.req("GET", "/v1/catalog", headers={"X-Big": "a" * 100000})
            assert r.status in (400, 413, 431), r
        except OSError:
            pass
        assert h.req("GET", "/healthz").status == 200
    finally:
        h.close()


def test_no_cpr_in_logs(dfdg):
    h = hub(dfdg, extra_args=["--log-level", "debug"])
    try:
        assert h.post("kommune:101", rec()).status == 201
        h.req("GET", "/v1/person", "kommune:101", cpr=JENS)
        h.req("GET", "/v1/person/records", "kommune:101", cpr=JENS)
        h.post("kommune:101", rec(cpr=ANE, source_ref="denied"))
        h.post("kommune:101", rec(cpr="3213901234", source_ref="bad"))
    finally:
        h.close()
    log = h.serve_log()
    assert "http.request" in log, log[:500]
    for cpr in (JENS, ANE, "3213901234", "010190", "020285"):
        assert cpr not in log, cpr


def test_sigterm_finishes_and_exits_zero(dfdg):
    h = hub(dfdg)
    assert h.post("kommune:101", rec()).status == 201
    assert h.stop() == 0
    assert "serve.stopped" in h.serve_log()


if __name__ == "__main__":
    run([test_catalog_public_and_complete, test_record_round_trip,
         test_bad_input_problems_and_store_unchanged, test_tokens_rejected,
         test_org_must_exist_for_token_cli, test_routes_and_methods, test_purpose_required,
         test_person_header_errors, test_list_limit_and_truncation, test_hostile_bytes,
         test_no_cpr_in_logs, test_sigterm_finishes_and_exits_zero])
