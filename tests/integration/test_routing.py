# SPDX-License-Identifier: Apache-2.0
"""Routing (DESIGN sections 2-4): every information type in the served catalog (read at run
time) is posted about a person who is resident in kommune 101, a member of akasse:3f and
referred to the other actor aktoer:10150817. Expected: routed_to is exactly the recipients the
catalog names (kommune/residence -> kommune:101, akasse/membership -> akasse:3f,
aktoer/referral -> aktoer:10150817, dst/all -> dst, udk/all -> udk) minus the reporter; each
of those orgs finds the record in its feed with reason = the via; orgs without the
relationship (kommune:147, akasse:ase, another aktoer) get nothing. Corrections and
cancellations are routed like records, company data goes nowhere, and a replay answers the
same routed_to without a new delivery.

The development database has no other actors: the tests insert aktoer:10150817 and
aktoer:12345674 into the org table before the server starts (orgs load at start)."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from dfdg_it import Hub, is_problem, person, run, sample_value  # noqa: E402

JENS = "0101901235"     # resident of 101, member of akasse:3f, referred to ACTOR
SOLO = "1505751113"     # resident of 101, referred to ACTOR once (for the cancellation)
ACTOR_CVR = "10150817"
OTHER_CVR = "12345674"  # a valid CVR number of an actor JENS is not referred to
ACTOR = "aktoer:" + ACTOR_CVR
OTHER_ACTOR = "aktoer:" + OTHER_CVR
DAY = "2025-01-15"      # valid_from of the matrix records

NOT_ENTITLED = ("kommune:147", "akasse:ase", OTHER_ACTOR)
VIA_ORG = {("kommune", "residence"): "kommune:101", ("akasse", "membership"): "akasse:3f",
           ("aktoer", "referral"): ACTOR, ("dst", "all"): "dst", ("udk", "all"): "udk"}
FEED_ORGS = ("kommune:101", "akasse:3f", ACTOR, "dst", "udk") + NOT_ENTITLED


def add_actors(h, *cvrs):
    for cvr in cvrs:
        h.sql("INSERT INTO org(org_id, kind, name) VALUES (?, 'aktoer', ?) ON CONFLICT DO NOTHING",
              ("aktoer:" + cvr, "Anden aktør " + cvr))


def sample(f, cpr):
    """The simplest valid value for a catalog field."""
    return sample_value(f, cpr=cpr, day=DAY, cvr=ACTOR_CVR)


def build(ty, kind, cpr, source_ref, valid_from=DAY, valid_to=None, variant=None):
    """A valid record of catalog type ty as caller kind (required fields, plus fields only
    this kind may set). variant, when given, changes one optional string field or a required
    string so a correction differs from the original."""
    data = {}
    for f in ty["fields"]:
        may = kind == "star" or kind in f.get("reporters", [kind])
        if f["required"] or ("reporters" in f and may):
            data[f["name"]] = sample(f, cpr)
    if variant is not None:
        for f in ty["fields"]:
            if f["type"] == "string" and ("reporters" not in f or kind in f["reporters"]):
                data[f["name"]] = variant[:f.get("max_length", len(variant))]
                break
    r = {"type": ty["code"], "source_ref": source_ref, "valid_from": valid_from, "data": data}
    if ty["subject"] == "company":
        r["cvr"] = ACTOR_CVR
    else:
        r["cpr"] = cpr
    if valid_to is not None:
        r["valid_to"] = valid_to
    return r


def catalog(h):
    r = h.req("GET", "/v1/catalog")
    assert r.status == 200 and isinstance(r.json.get("types"), list), r
    assert len(r.json["types"]) >= 1, r
    return {t["code"]: t for t in r.json["types"]}


def reporter_of(ty):
    """The preferred reporting org for a type: kommune:101, akasse:3f, citizen, star."""
    for kind, org in (("kommune", "kommune:101"), ("akasse", "akasse:3f"),
                      ("citizen", "citizen")):
        if kind in ty["reporters"]:
            return kind, org
    return "star", "star"


def expected_routes(ty, reporter):
    """{org: via} that the catalog entitles, minus the reporter."""
    if ty["subject"] == "company":
        return {}
    out = {}
    for rp in ty["recipients"]:
        org = VIA_ORG.get((rp["kind"], rp["via"]))
        assert org is not None, ("unexpected recipient in the catalog", ty["code"], rp)
        if org != reporter:
            out[org] = rp["via"]
    return out


def post(h, org, rec, cpr=JENS):
    if org == "citizen":
        return h.req("POST", "/v1/records", "citizen", body=rec, citizen_cpr=cpr)
    return h.post(org, rec)


def routed(r):
    assert r.status in (200, 201) and isinstance(r.json.get("routed_to"), list), r
    orgs = r.json["routed_to"]
    assert len(orgs) == len(set(orgs)), ("routed_to repeats an org", orgs)
    return set(orgs)


def feed(h, org):
    """Every item in org's feed, following the cursor."""
    items, after = [], ""
    for _ in range(100):
        r = h.req("GET", "/v1/feed?limit=1000" + ("&after=" + after if after else ""), org)
        assert r.status == 200, (org, r)
        items += r.json["items"]
        after = r.json["cursor"]
        if not r.json["more"]:
            return items
    raise AssertionError("feed of %s does not end" % org)


def setup(dfdg, extra_persons=()):
    h = Hub(dfdg, [person(JENS, "101", first="Jens"), person(SOLO, "101", first="Solo"),
                   *extra_persons], start=False)
    add_actors(h, ACTOR_CVR, OTHER_CVR)
    h.start()
    try:
        # The orgs exist: tokens can be minted for them.
        for org in (ACTOR, OTHER_ACTOR):
            assert h.token(org)
        r = h.post("akasse:3f", {"type": "akasse-membership", "cpr": JENS,
                                 "source_ref": "mship", "valid_from": "2020-01-01",
                                 "data": {"start_date": "2020-01-01"}})
        assert r.status == 201, r
        cat = catalog(h)
        ref = build(cat["other-actor-referral"], "kommune", JENS, "referral",
                    valid_from="2024-01-01")
        ref["data"]["actor_cvr"] = ACTOR_CVR
        r = h.post("kommune:101", ref)
        assert r.status == 201, r
        assert ACTOR in routed(r), ("the referral does not reach the actor it names", r)
    except BaseException:
        h.close()
        raise
    return h, cat


def test_routing_matrix_every_type(dfdg):
    h, cat = setup(dfdg)
    try:
        before = {org: {it["record"]["id"] for it in feed(h, org)} for org in FEED_ORGS}
        want = {org: {} for org in FEED_ORGS}  # org -> {record id: via}
        bad = []
        for code, ty in sorted(cat.items()):
            kind, org = reporter_of(ty)
            r = post(h, org, build(ty, kind, JENS, "m-" + code))
            assert r.status == 201, (code, org, r)
            exp = expected_routes(ty, org)
            got = routed(r)
            if got != set(exp):
                bad.append((code, org, "expected", sorted(exp), "got", sorted(got)))
            for o, via in exp.items():
                want[o][r.json["id"]] = via
        assert not bad, "routed_to differs from the catalog:\n" + "\n".join(map(str, bad))
        for org in VIA_ORG.values():
            assert want[org], ("no type in the catalog routes to", org)
        # The feeds: each entitled org finds exactly its records, with the via as reason.
        for org in FEED_ORGS:
            items = [it for it in feed(h, org) if it["record"]["id"] not in before[org]]
            got = {it["record"]["id"]: it["reason"] for it in items}
            assert len(got) == len(items), (org, "a record is in the feed twice")
            assert got == want[org], (org, "feed", sorted(got.items()), "want",
                                      sorted(want[org].items()))
            for it in items:
                assert it["record"]["type"] in cat and it["cursor"].startswith("v1."), it
        for org in NOT_ENTITLED:
            assert feed(h, org) == [], (org, "got deliveries it is not entitled to")
    finally:
        h.close()


def test_company_types_route_nowhere(dfdg):
    h, cat = setup(dfdg)
    try:
        company = [t for t in cat.values() if t["subject"] == "company"]
        assert company, "the catalog has no company types"
        n = h.db_count("delivery")
        for ty in company:
            kind, org = reporter_of(ty)
            r = post(h, org, build(ty, kind, JENS, "c-" + ty["code"]))
            assert r.status == 201 and r.json["routed_to"] == [], (ty["code"], r)
        assert h.db_count("delivery") == n, "company data was delivered"
    finally:
        h.close()


def test_corrections_and_cancellations_route_like_records(dfdg):
    h, cat = setup(dfdg)
    try:
        bad = []
        for code, ty in sorted(cat.items()):
            if ty["subject"] != "person":
                continue
            kind, org = reporter_of(ty)
            # Citizens cannot correct or cancel over the API; STAR does it for them.
            fixer, fkind = (org, kind) if kind != "citizen" else ("star", "star")
            r = post(h, org, build(ty, kind, JENS, "o-" + code))
            assert r.status == 201, (code, r)
            first, rid = routed(r), r.json["id"]
            exp = set(expected_routes(ty, org))
            rc = h.req("POST", "/v1/records/%s/correction" % rid, fixer,
                       body=build(ty, fkind, JENS, "k-" + code, variant="corrected"))
            assert rc.status == 201, (code, rc)
            cid = rc.json["id"]
            if routed(rc) != first:
                bad.append((code, "correction", sorted(first), sorted(routed(rc))))
            rx = h.req("POST", "/v1/records/%s/cancellation" % cid, fixer,
                       body={"source_ref": "x-" + code, "reason": "registered in error"})
            assert rx.status == 201, (code, rx)
            if routed(rx) != exp:
                bad.append((code, "cancellation", sorted(exp), sorted(routed(rx))))
            # The feeds hold the correction and the cancellation with the same reasons.
            for o, via in expected_routes(ty, org).items():
                if o == fixer:
                    continue
                items = {it["record"]["id"]: it for it in feed(h, o)}
                for x, what in ((cid, "correction"), (rx.json["id"], "cancellation")):
                    if x not in items:
                        bad.append((code, what, "missing in the feed of", o))
                    elif items[x]["reason"] != via or items[x]["record"]["kind"] != what:
                        bad.append((code, what, o, items[x]["reason"],
                                    items[x]["record"]["kind"]))
        assert not bad, "\n".join(map(str, bad))
        for org in NOT_ENTITLED:
            assert feed(h, org) == [], org
    finally:
        h.close()


def test_cancelled_referral_reaches_the_actor(dfdg):
    """The other actor receives the referral; when the kommune withdraws it, the cancellation
    must reach the actor too (it is routed like the record it cancels, on that record's
    valid_from), or the actor keeps working on a referral that no longer exists."""
    h, cat = setup(dfdg)
    try:
        ref = build(cat["other-actor-referral"], "kommune", SOLO, "solo-ref",
                    valid_from="2025-02-01")
        ref["data"]["actor_cvr"] = ACTOR_CVR
        r = h.post("kommune:101", ref)
        assert r.status == 201 and ACTOR in routed(r), r
        rid = r.json["id"]
        rx = h.req("POST", "/v1/records/%s/cancellation" % rid, "kommune:101",
                   body={"source_ref": "solo-ref-x", "reason": "wrong actor"})
        assert rx.status == 201, rx
        assert ACTOR in routed(rx), ("the cancellation of the referral is not routed to the "
                                     "actor", rx)
        ids = {it["record"]["id"] for it in feed(h, ACTOR)}
        assert rx.json["id"] in ids, "the actor's feed lacks the cancellation of its referral"
    finally:
        h.close()


def test_relationship_on_valid_from(dfdg):
    """Routing looks at the relationship on the record's valid_from: before the membership
    started the a-kasse gets nothing, before the referral the actor gets nothing; the
    recipients never include the reporter."""
    h, cat = setup(dfdg)
    try:
        ty = cat["jobseeker-registration"]
        r = h.post("kommune:101", build(ty, "kommune", JENS, "early", valid_from="2019-06-01"))
        exp = {o for o in expected_routes(ty, "kommune:101")
               if o not in ("akasse:3f", ACTOR)}
        assert routed(r) == exp, (r, exp)
        r = h.post("kommune:101", build(ty, "kommune", JENS, "mid", valid_from="2022-06-01"))
        exp = {o for o in expected_routes(ty, "kommune:101") if o != ACTOR}
        assert routed(r) == exp, (r, exp)
        # Reported by the a-kasse: the a-kasse is not a recipient of its own record.
        r = h.post("akasse:3f", build(ty, "akasse", JENS, "by-akasse"))
        assert "akasse:3f" not in routed(r) and "kommune:101" in routed(r), r
        # A person nobody but kommune 101 relates to.
        r = h.post("kommune:101", build(ty, "kommune", SOLO, "solo"))
        exp = {o for o in expected_routes(ty, "kommune:101") if o not in ("akasse:3f", ACTOR)}
        assert routed(r) == exp, (r, exp)
    finally:
        h.close()


def test_replay_answers_same_routes_without_new_delivery(dfdg):
    h, cat = setup(dfdg)
    try:
        bad = []
        for code, ty in sorted(cat.items()):
            kind, org = reporter_of(ty)
            rec = build(ty, kind, JENS, "r-" + code)
            r1 = post(h, org, rec)
            assert r1.status == 201, (code, r1)
            n = h.db_count("delivery")
            r2 = post(h, org, rec)
            assert r2.status == 200 and r2.json["id"] == r1.json["id"], (code, r2)
            if sorted(r2.json["routed_to"]) != sorted(r1.json["routed_to"]):
                bad.append((code, r1.json["routed_to"], r2.json["routed_to"]))
            if h.db_count("delivery") != n:
                bad.append((code, "the replay wrote deliveries"))
        assert not bad, "\n".join(map(str, bad))
        # A conflicting replay is refused and delivers nothing.
        ty = cat["jobseeker-registration"]
        n = h.db_count("delivery")
        other = build(ty, "kommune", JENS, "r-jobseeker-registration", valid_from="2025-01-16")
        assert is_problem(h.post("kommune:101", other), 409)
        assert h.db_count("delivery") == n
    finally:
        h.close()


if __name__ == "__main__":
    run([test_routing_matrix_every_type, test_company_types_route_nowhere,
         test_corrections_and_cancellations_route_like_records,
         test_cancelled_referral_reaches_the_actor, test_relationship_on_valid_from,
         test_replay_answers_same_routes_without_new_delivery])
