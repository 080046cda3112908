# SPDX-License-Identifier: Apache-2.0
"""Citizen self-service (DESIGN sections 4-5): GET /v1/me, GET /v1/me/records and
POST /v1/me/records with a citizen token whose cpr claim names the person. The person is
always the token's: a DFDG-CPR header or a "cpr" in the body never points a citizen at another
person. The citizen sees their own protected address, their own records of jobnet-visible
types (whoever reported them) grouped by type and newest first, and reports the citizen types
of the catalog (read at run time) like any reporter."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from dfdg_it import Hub, is_problem, person, run, sample_value  # noqa: E402

ANNA = "0101901235"      # protected address, resident of 101
ANNA_HYPHEN = "010190-1235"
BO = "0202851234"        # unprotected, resident of 101
NOBODY = "1505751113"    # a valid CPR number that is not in the master data

SECRET = {"kommunekode": "101", "road": "Skjultestræde", "house": "13B", "postcode": "1466",
          "city": "Hemmeligby", "from": "2015-03-01", "to": None}
OPEN = {"kommunekode": "101", "road": "Åbenvej", "house": "4D", "postcode": "1688",
        "city": "Synligby", "from": "2000-01-01", "to": None}
CVR = "10150817"
DAY = "2025-01-15"


def persons():
    anna = person(ANNA, "101", first="Anna", last="Skjult", protected=True)
    anna["addresses"] = [SECRET]
    bo = person(BO, "101", first="Bo", last="Åben")
    bo["addresses"] = [OPEN]
    return [anna, bo]


def hub(dfdg):
    h = Hub(dfdg, persons())
    try:
        r = h.req("GET", "/v1/catalog")
        assert r.status == 200, r
        cat = {t["code"]: t for t in r.json["types"]}
    except BaseException:
        h.close()
        raise
    return h, cat


def sample(f, day):
    return sample_value(f, day=day, cvr=CVR)


def build(ty, kind, source_ref, valid_from=DAY, cpr=None):
    """A valid record of type ty as caller kind: the required fields (dates = valid_from).
    Without cpr the body names nobody (POST /v1/me/records fills in the token's person)."""
    data = {f["name"]: sample(f, valid_from) for f in ty["fields"]
            if f["required"] and kind in f.get("reporters", [kind])}
    rec = {"type": ty["code"], "source_ref": source_ref, "valid_from": valid_from, "data": data}
    if cpr is not None:
        rec["cpr"] = cpr
    return rec


def citizen_types(cat):
    types = sorted(c for c, t in cat.items() if "citizen" in t["reporters"])
    assert types, "the catalog names no citizen types"
    return types


def me(h, citizen, path="/v1/me", **kw):
    return h.req("GET", path, "citizen", citizen_cpr=citizen, **kw)


def me_post(h, citizen, rec, **kw):
    return h.req("POST", "/v1/me/records", "citizen", body=rec, citizen_cpr=citizen, **kw)


def ids_in(groups_resp):
    return {rec["id"] for g in groups_resp.json["groups"] for rec in g["records"]}


def test_me_shows_own_protected_address(dfdg):
    h, _ = hub(dfdg)
    try:
        r = me(h, ANNA)
        assert r.status == 200, r
        assert r.json["cpr"] == ANNA and r.json["name"]["first"] == "Anna", r.json
        assert r.json["address_protected"] is True, r.json
        got = [(a["road"], a["house"], a["postcode"], a["city"]) for a in r.json["addresses"]]
        assert ("Skjultestræde", "13B", "1466", "Hemmeligby") in got, got
        # Control: an a-kasse would not see it, so the citizen view is not the masked one.
        r = me(h, BO)
        assert r.status == 200 and r.json["address_protected"] is False, r
        assert [a["road"] for a in r.json["addresses"]] == ["Åbenvej"], r.json
    finally:
        h.close()


def test_me_ignores_dfdg_cpr_header(dfdg):
    h, _ = hub(dfdg)
    try:
        # Bo names Anna in the header: he still gets himself, and nothing of Anna.
        r = me(h, BO, cpr=ANNA)
        assert r.status == 200 and r.json["cpr"] == BO, r
        raw = r.raw.decode("utf-8")
        for s in ("Anna", "Skjultestræde", "Hemmeligby", ANNA):
            assert s not in raw, (s, raw[:400])
        r = me(h, ANNA, cpr=BO)
        assert r.status == 200 and r.json["cpr"] == ANNA, r
        r = me(h, BO, path="/v1/me/records", cpr=ANNA)
        assert r.status == 200 and r.json["groups"] == [], r
    finally:
        h.close()


def test_me_is_citizen_only_and_self_service_only(dfdg):
    h, cat = hub(dfdg)
    try:
        rec = build(cat[citizen_types(cat)[0]], "citizen", "k-on-me")
        for method, path, body in (("GET", "/v1/me", None), ("GET", "/v1/me/records", None),
                                   ("POST", "/v1/me/records", rec)):
            for org in ("kommune:101", "star", "akasse:3f"):
                r = h.req(method, path, org, body=body, cpr=ANNA)
                assert is_problem(r, 403) and r.json.get("rule") == "citizen.only", \
                    (org, method, path, r)
            # A citizen token with another purpose, or none.
            r = h.req(method, path, "citizen", body=body, citizen_cpr=ANNA,
                      purpose="case-handling")
            assert is_problem(r, 403) and r.json.get("rule") == "purpose.kind", (path, r)
            r = h.req(method, path, "citizen", body=body, citizen_cpr=ANNA, purpose="",
                      headers={"DFDG-Purpose": ""})
            assert is_problem(r, 403) and r.json.get("rule") == "purpose.missing", (path, r)
            # No token at all.
            r = h.req(method, path, body=body)
            assert is_problem(r, 401), (path, r)
        assert h.db_count() == 0
    finally:
        h.close()


def test_citizen_types_posted_then_grouped_newest_first(dfdg):
    h, cat = hub(dfdg)
    try:
        types = citizen_types(cat)
        posted = {}
        # Type i gets an older record on 2025-01-(10+i) and a newer one on 2025-03-(10+i):
        # the groups then come newest-first in reverse order of i.
        for i, code in enumerate(types):
            for month in ("01", "03"):
                day = "2025-%s-%02d" % (month, 10 + i)
                rec = build(cat[code], "citizen", "me-%s-%s" % (code, month), day)
                before = h.db_count()
                r = me_post(h, ANNA, rec)
                assert r.status == 201 and r.json.get("id"), (code, rec, r)
                assert h.db_count() == before + 1, code
                posted.setdefault(code, []).append((day, r.json["id"]))
                # Idempotent like any report: the same body again is the same record.
                again = me_post(h, ANNA, rec)
                assert again.status == 200 and again.json["id"] == r.json["id"], again
        # A jobseeker deregistration: the registration with its end (valid_to).
        if "jobseeker-registration" in types:
            rec = build(cat["jobseeker-registration"], "citizen", "me-dereg", "2025-05-01")
            rec["valid_to"] = "2025-05-20"
            rec["data"]["deregistration_date"] = "2025-05-20"
            r = me_post(h, ANNA, rec)
            assert r.status == 201, r
            posted["jobseeker-registration"].append(("2025-05-01", r.json["id"]))

        r = me(h, ANNA, path="/v1/me/records")
        assert r.status == 200, r
        groups = r.json["groups"]
        assert [g["type"] for g in groups] == sorted(
            posted, key=lambda c: max(d for d, _ in posted[c]), reverse=True), \
            [g["type"] for g in groups]
        for g in groups:
            assert g["name"] == cat[g["type"]]["name"], g["name"]
            want = [i for _, i in sorted(posted[g["type"]], reverse=True)]
            assert [x["id"] for x in g["records"]] == want, (g["type"], g["records"])
            vf = [x["valid_from"] for x in g["records"]]
            assert vf == sorted(vf, reverse=True), vf
            for x in g["records"]:
                assert x["type"] == g["type"] and x["cpr"] == ANNA, x
                assert x["reporter"].startswith("citizen:"), x  # citizen:<person id>
        # The citizen's own records are readable through the central rule too.
        one = posted[types[0]][0][1]
        g = h.req("GET", "/v1/records/" + one, "citizen", citizen_cpr=ANNA)
        assert g.status == 200 and g.json["id"] == one, g
        # ?type= keeps one group.
        r = me(h, ANNA, path="/v1/me/records?type=" + types[-1])
        assert r.status == 200 and [x["type"] for x in r.json["groups"]] == [types[-1]], r
        r = me(h, ANNA, path="/v1/me/records?type=no-such-type")
        assert is_problem(r, 400), r
    finally:
        h.close()


def test_citizen_may_not_report_kommune_types(dfdg):
    h, cat = hub(dfdg)
    try:
        only = [c for c, t in cat.items()
                if t["subject"] == "person" and "citizen" not in t["reporters"]]
        assert only
        for code in only:
            before = h.db_count()
            r = me_post(h, ANNA, build(cat[code], "citizen", "no-" + code))
            assert is_problem(r, 403) and r.json.get("rule") == "report.kind", (code, r)
            assert h.db_count() == before, code
    finally:
        h.close()


def test_body_cpr_must_be_the_citizen(dfdg):
    h, cat = hub(dfdg)
    try:
        ty = cat[citizen_types(cat)[0]]
        for cpr in (BO, NOBODY):
            r = me_post(h, ANNA, build(ty, "citizen", "other-" + cpr, cpr=cpr))
            assert is_problem(r, 403) and r.json.get("rule") == "report.self", (cpr, r)
            assert cpr not in r.raw.decode("utf-8"), r
        r = me_post(h, ANNA, build(ty, "citizen", "bad-cpr", cpr="not-a-cpr"))
        assert is_problem(r, 400), r
        assert h.db_count() == 0, "a refused report wrote"
        assert me(h, BO, path="/v1/me/records").json["groups"] == []
        # The own number, in either form, is fine.
        for i, cpr in enumerate((ANNA, ANNA_HYPHEN)):
            r = me_post(h, ANNA, build(ty, "citizen", "self-%d" % i, cpr=cpr))
            assert r.status == 201, (cpr, r)
        assert h.db_count() == 2
        # Bad bodies are plain 400s.
        r = h.req("POST", "/v1/me/records", "citizen", citizen_cpr=ANNA, raw="[1, 2]")
        assert is_problem(r, 400), r
        r = h.req("POST", "/v1/me/records", "citizen", citizen_cpr=ANNA, raw="{nope")
        assert is_problem(r, 400), r
        r = h.req("POST", "/v1/me/records", "citizen", citizen_cpr=ANNA, raw="{}",
                  ctype="text/plain")
        assert is_problem(r, 415), r
        assert h.db_count() == 2
    finally:
        h.close()


def test_citizen_not_in_cpr(dfdg):
    h, cat = hub(dfdg)
    try:
        r = me(h, NOBODY)
        assert is_problem(r, 404), r
        r = me(h, NOBODY, path="/v1/me/records")
        assert is_problem(r, 404), r
        ty = cat[citizen_types(cat)[0]]
        r = me_post(h, NOBODY, build(ty, "citizen", "nobody"))
        assert is_problem(r, 404) or is_problem(r, 422), r
        # Naming a known person in the header or the body does not help.
        r = me(h, NOBODY, cpr=ANNA)
        assert is_problem(r, 404) and "Anna" not in r.raw.decode("utf-8"), r
        r = me_post(h, NOBODY, build(ty, "citizen", "nobody-2", cpr=ANNA))
        assert r.status in (403, 404, 422), r
        assert h.db_count() == 0
    finally:
        h.close()


def test_only_jobnet_visible_types_reach_the_citizen(dfdg):
    h, cat = hub(dfdg)
    try:
        kommune_types = [c for c, t in sorted(cat.items())
                         if t["subject"] == "person" and "kommune" in t["reporters"]]
        hidden = [c for c in kommune_types if not cat[c]["jobnet_visible"]]
        shown = [c for c in kommune_types if cat[c]["jobnet_visible"]]
        assert hidden and shown, (hidden, shown)
        ids = {}
        for code in kommune_types:
            r = h.post("kommune:101", build(cat[code], "kommune", "k-" + code, cpr=ANNA))
            assert r.status == 201, (code, r)
            ids[code] = r.json["id"]
        r = me(h, ANNA, path="/v1/me/records")
        assert r.status == 200, r
        got = ids_in(r)
        for code in hidden:
            assert ids[code] not in got, ("not jobnet-visible, but shown", code)
        for code in shown:
            assert ids[code] in got, ("jobnet-visible, reported by the kommune, missing", code)
        assert {g["type"] for g in r.json["groups"]} == set(shown), r.json["groups"]
        for g in r.json["groups"]:
            assert all(x["reporter"] == "kommune:101" for x in g["records"]), g
        # Asking for a hidden type by name shows nothing either.
        r = me(h, ANNA, path="/v1/me/records?type=" + hidden[0])
        assert r.status == 200 and r.json["groups"] == [], r
        # A cancelled record is no longer current and leaves the view.
        gone = shown[0]
        c = h.req("POST", "/v1/records/%s/cancellation" % ids[gone], "kommune:101",
                  body={"source_ref": "cancel-" + gone, "reason": "registered by mistake"})
        assert c.status == 201, c
        r = me(h, ANNA, path="/v1/me/records")
        assert ids[gone] not in ids_in(r), gone
        assert ids[shown[-1]] in ids_in(r) or len(shown) == 1
    finally:
        h.close()


def test_second_citizen_sees_nothing_of_the_first(dfdg):
    h, cat = hub(dfdg)
    try:
        anna_ids = set()
        for code in citizen_types(cat):
            r = me_post(h, ANNA, build(cat[code], "citizen", "anna-" + code))
            assert r.status == 201, r
            anna_ids.add(r.json["id"])
        r = h.post("kommune:101", build(cat["plan-and-activation"], "kommune", "k-anna",
                                         cpr=ANNA)) if "plan-and-activation" in cat else None
        if r is not None:
            assert r.status == 201, r
            anna_ids.add(r.json["id"])
        # Bo, with and without Anna named in the header, sees an empty view.
        for hdr in (None, ANNA, ANNA_HYPHEN):
            r = me(h, BO, path="/v1/me/records", cpr=hdr)
            assert r.status == 200 and r.json["groups"] == [], (hdr, r)
            assert ANNA not in r.raw.decode("utf-8")
        # Bo posts with Anna in the header: the record is his, not Anna's.
        code = citizen_types(cat)[0]
        r = me_post(h, BO, build(cat[code], "citizen", "bo-" + code), cpr=ANNA)
        assert r.status == 201, r
        bo_id = r.json["id"]
        assert ids_in(me(h, BO, path="/v1/me/records")) == {bo_id}
        assert bo_id not in ids_in(me(h, ANNA, path="/v1/me/records"))
        assert anna_ids <= ids_in(me(h, ANNA, path="/v1/me/records"))
        # Nor can Bo read Anna's records by id.
        for rid in anna_ids:
            g = h.req("GET", "/v1/records/" + rid, "citizen", citizen_cpr=BO)
            assert is_problem(g, 403), g
    finally:
        h.close()


def test_citizens_source_refs_do_not_collide(dfdg):
    """source_ref is each reporter's own idempotency key; every citizen is a reporter of their
    own, so two citizens who happen to pick the same source_ref (a portal counting from 1)
    both get their record, and neither learns that the other used it."""
    h, cat = hub(dfdg)
    try:
        ty = cat[citizen_types(cat)[0]]
        a = me_post(h, ANNA, build(ty, "citizen", "portal-1"))
        assert a.status == 201, a
        b = me_post(h, BO, build(ty, "citizen", "portal-1"))
        assert b.status == 201 and b.json["id"] != a.json["id"], b
        assert h.db_count() == 2
        again = me_post(h, ANNA, build(ty, "citizen", "portal-1"))
        assert again.status == 200 and again.json["id"] == a.json["id"], again
        assert ids_in(me(h, BO, path="/v1/me/records")) == {b.json["id"]}
    finally:
        h.close()


if __name__ == "__main__":
    run([test_me_shows_own_protected_address, test_me_ignores_dfdg_cpr_header,
         test_me_is_citizen_only_and_self_service_only,
         test_citizen_types_posted_then_grouped_newest_first,
         test_citizen_may_not_report_kommune_types, test_body_cpr_must_be_the_citizen,
         test_citizen_not_in_cpr, test_only_jobnet_visible_types_reach_the_citizen,
         test_second_citizen_sees_nothing_of_the_first,
         test_citizens_source_refs_do_not_collide])
