# SPDX-License-Identifier: Apache-2.0
"""The report rules of DESIGN section 4, as a matrix: every information type in the served
catalog (read at run time) against every reporting caller (kommune, a-kasse, citizen, STAR),
then the relationship conditions (residence on valid_from, membership on valid_from, self).
Expected: 201 iff the caller's kind is a reporter of the type (STAR always); otherwise 403 with
the rule that denied it, and nothing written."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from dfdg_it import Hub, is_problem, person, run, sample_value  # noqa: E402

JENS = "0101901235"    # resident of 101, member of akasse:3f (set up below)
ANE = "0202851234"     # resident of 147
MOVER = "1505751113"   # moved from 147 to 101 on 2025-06-01
ENDING = "2012881117"  # member of akasse:3f 2024-01-01 .. 2025-03-31 (inclusive)
ENDCORR = "0711921119" # member of akasse:3f, ended by a correction that sets valid_to
CANCEL = "2309671115"  # member of akasse:3f until the membership is cancelled

CVR = "10150817"
DAY = "2025-01-15"     # valid_from of the matrix records
MOVE_DAY = "2025-06-01"

CALLERS = (("kommune", "kommune:101"), ("akasse", "akasse:3f"), ("citizen", "citizen"),
           ("star", "star"))


def persons():
    return [person(JENS, "101", first="Jens"), person(ANE, "147", first="Ane"),
            person(MOVER, "101", moved=("147", MOVE_DAY)), person(ENDING, "101"),
            person(ENDCORR, "101"), person(CANCEL, "101")]


def sample(f, cpr):
    """The simplest valid value for a catalog field."""
    return sample_value(f, cpr=cpr, day=DAY, cvr=CVR)


def build(ty, kind, cpr, source_ref, valid_from=DAY, valid_to=None):
    """A valid record of catalog type ty as caller kind: required fields, plus the optional
    fields restricted to certain reporter kinds when this kind may set them."""
    data = {}
    for f in ty["fields"]:
        may = kind == "star" or kind in f.get("reporters", [kind])
        if f["required"] or ("reporters" in f and may):
            data[f["name"]] = sample(f, cpr)
    r = {"type": ty["code"], "source_ref": source_ref, "valid_from": valid_from, "data": data}
    if ty["subject"] == "company":
        r["cvr"] = CVR
    else:
        r["cpr"] = cpr
    if valid_to is not None:
        r["valid_to"] = valid_to
    return r


def catalog(h):
    r = h.req("GET", "/v1/catalog")
    assert r.status == 200, r
    types = r.json["types"]
    assert len(types) >= 1, r
    return {t["code"]: t for t in types}


def post(h, org, rec, cpr=None):
    """POSTs as org; a citizen posts with a token for cpr (purpose self-service)."""
    if org == "citizen":
        return h.req("POST", "/v1/records", "citizen", body=rec, citizen_cpr=cpr)
    return h.post(org, rec)


def expect_denied(h, org, rec, rule, cpr=None):
    before = h.db_count()
    r = post(h, org, rec, cpr)
    assert is_problem(r, 403) and r.json.get("rule") == rule, (org, rec["type"], rule, r)
    assert h.db_count() == before, ("a denied request wrote", org, rec)
    return r


def expect_created(h, org, rec, cpr=None):
    before = h.db_count()
    r = post(h, org, rec, cpr)
    assert r.status == 201 and r.json and r.json.get("id"), (org, rec, r)
    assert h.db_count() == before + 1, ("a 201 did not write one record", org, rec)
    return r.json["id"]


def membership(cat, cpr, source_ref, valid_from, valid_to=None):
    rec = build(cat["akasse-membership"], "akasse", cpr, source_ref, valid_from, valid_to)
    for f in cat["akasse-membership"]["fields"]:
        if f["type"] == "date" and f["required"]:
            rec["data"][f["name"]] = valid_from
    return rec


def both_kinds_type(cat):
    """A person type that kommuner and a-kasser both report (for the condition tests)."""
    for t in cat.values():
        if t["subject"] == "person" and {"kommune", "akasse"} <= set(t["reporters"]):
            return t
    raise AssertionError("the catalog has no person type reported by kommune and akasse")


def kommune_only_type(cat):
    for t in cat.values():
        if t["subject"] == "person" and t["reporters"] == ["kommune"]:
            return t
    raise AssertionError("the catalog has no kommune-only person type")


def citizen_type(cat):
    for t in cat.values():
        if t["subject"] == "person" and "citizen" in t["reporters"]:
            return t
    raise AssertionError("the catalog has no type citizens report")


def hub(dfdg):
    h = Hub(dfdg, persons())
    try:
        cat = catalog(h)
        # The membership record starts the membership: allowed with no membership before.
        expect_created(h, "akasse:3f", membership(cat, JENS, "mship-jens", "2020-01-01"))
    except BaseException:
        h.close()
        raise
    return h, cat


def test_report_matrix_every_type_every_caller(dfdg):
    h, cat = hub(dfdg)
    try:
        rows, mismatches = [], []
        n_created = n_denied = 0
        for code in sorted(cat):
            ty = cat[code]
            cells = []
            for kind, org in CALLERS:
                rec = build(ty, kind, JENS, "m-%s-%s" % (kind, code))
                allowed = kind == "star" or kind in ty["reporters"]
                before = h.db_count()
                r = post(h, org, rec, JENS)
                after = h.db_count()
                cells.append("%s=%d" % (kind[0], r.status))
                if allowed:
                    ok = r.status == 201 and after == before + 1
                    n_created += ok
                    if ok:
                        g = h.req("GET", "/v1/records/" + r.json["id"], org,
                                  citizen_cpr=JENS if kind == "citizen" else None)
                        ok = (g.status == 200 and g.json["type"] == code and
                              g.json["data"] == rec["data"] and
                              # A citizen's records carry "citizen:<internal person id>".
                              (g.json["reporter"] == org or (kind == "citizen" and
                               g.json["reporter"].startswith("citizen:"))) and
                              g.json["status"] == "current")
                        if not ok:
                            mismatches.append((code, kind, "read back", g))
                            continue
                else:
                    ok = (is_problem(r, 403) and r.json.get("rule") == "report.kind" and
                          after == before)
                    n_denied += ok
                if not ok:
                    mismatches.append((code, kind, "expected %s" %
                                       ("201" if allowed else "403 report.kind"), r,
                                       "rows %d->%d" % (before, after)))
            rows.append("  %-26s %s  reporters=%s" % (code, " ".join(cells),
                                                      ",".join(ty["reporters"])))
        print("report matrix (k=kommune:101 a=akasse:3f c=citizen s=star):")
        print("\n".join(rows))
        print("  %d types x %d callers: %d created, %d denied (report.kind), %d wrong" %
              (len(cat), len(CALLERS), n_created, n_denied, len(mismatches)))
        assert not mismatches, mismatches
        # STAR reports every type; every type has at least one non-STAR reporter kind.
        assert n_created >= len(cat) * 2, n_created
    finally:
        h.close()


def test_field_level_reporters(dfdg):
    """A field restricted to some reporter kinds is refused (400, nothing written) when a
    reporter kind of the type outside that list sets it."""
    h, cat = hub(dfdg)
    try:
        checked = 0
        for ty in cat.values():
            for f in ty["fields"]:
                if "reporters" not in f:
                    continue
                assert not f["required"], (ty["code"], f["name"])
                for kind, org in CALLERS:
                    if kind not in ty["reporters"] or kind in f["reporters"]:
                        continue
                    rec = build(ty, kind, JENS, "f-%s-%s-%s" % (kind, ty["code"], f["name"]))
                    rec["data"][f["name"]] = sample(f, JENS)
                    before = h.db_count()
                    r = post(h, org, rec, JENS)
                    assert is_problem(r, 400), (ty["code"], f["name"], kind, r)
                    errs = {(e["field"], e["code"]) for e in r.json["errors"]}
                    assert ("data." + f["name"], "forbidden_field") in errs, errs
                    assert h.db_count() == before
                    checked += 1
        print("  field-level reporter restrictions checked: %d" % checked)
        assert checked >= 1, "the catalog restricts no field to some reporters"
    finally:
        h.close()


def test_kommune_reports_only_on_its_residents(dfdg):
    h, cat = hub(dfdg)
    try:
        ty = both_kinds_type(cat)
        expect_denied(h, "kommune:147", build(ty, "kommune", JENS, "r-147-jens"),
                      "report.residence")
        expect_denied(h, "kommune:101", build(ty, "kommune", ANE, "r-101-ane"),
                      "report.residence")
        expect_created(h, "kommune:147", build(ty, "kommune", ANE, "r-147-ane"))
        # Residence is decided on valid_from: the day before the move the old kommune, from
        # the moving day the new one.
        before_move, move = "2025-05-31", MOVE_DAY
        expect_created(h, "kommune:147", build(ty, "kommune", MOVER, "mv-147-a", before_move))
        expect_denied(h, "kommune:147", build(ty, "kommune", MOVER, "mv-147-b", move),
                      "report.residence")
        expect_denied(h, "kommune:101", build(ty, "kommune", MOVER, "mv-101-a", before_move),
                      "report.residence")
        expect_created(h, "kommune:101", build(ty, "kommune", MOVER, "mv-101-b", move))
        # Also for a kommune-only type, and the long ago past.
        ko = kommune_only_type(cat)
        expect_denied(h, "kommune:101", build(ko, "kommune", MOVER, "mv-101-c", "2010-01-01"),
                      "report.residence")
        expect_created(h, "kommune:147", build(ko, "kommune", MOVER, "mv-147-c", "2010-01-01"))
    finally:
        h.close()


def test_akasse_reports_only_on_its_members(dfdg):
    h, cat = hub(dfdg)
    try:
        ty = both_kinds_type(cat)
        # Another a-kasse: not JENS's.
        expect_denied(h, "akasse:ase", build(ty, "akasse", JENS, "a-ase-jens"),
                      "report.membership")
        expect_created(h, "akasse:3f", build(ty, "akasse", JENS, "a-3f-jens"))
        # Before the membership starts.
        expect_denied(h, "akasse:3f", build(ty, "akasse", JENS, "a-3f-early", "2019-12-31"),
                      "report.membership")
        expect_created(h, "akasse:3f", build(ty, "akasse", JENS, "a-3f-first", "2020-01-01"))
        # ANE is no one's member.
        expect_denied(h, "akasse:3f", build(ty, "akasse", ANE, "a-3f-ane"), "report.membership")
        # STAR needs no relationship: not ANE's kommune, not her a-kasse.
        expect_created(h, "star", build(ty, "star", ANE, "s-ane"))
    finally:
        h.close()


def test_membership_end_is_inclusive(dfdg):
    h, cat = hub(dfdg)
    try:
        ty = both_kinds_type(cat)
        expect_created(h, "akasse:3f",
                       membership(cat, ENDING, "mship-ending", "2024-01-01", "2025-03-31"))
        expect_created(h, "akasse:3f", build(ty, "akasse", ENDING, "e-last", "2025-03-31"))
        expect_denied(h, "akasse:3f", build(ty, "akasse", ENDING, "e-after", "2025-04-01"),
                      "report.membership")
        # Ending an open membership by a correction that sets valid_to (catalog README).
        mid = expect_created(h, "akasse:3f", membership(cat, ENDCORR, "mship-ec", "2024-01-01"))
        expect_created(h, "akasse:3f", build(ty, "akasse", ENDCORR, "ec-1", "2025-06-01"))
        corr = membership(cat, ENDCORR, "mship-ec-end", "2024-01-01", "2025-03-31")
        r = h.req("POST", "/v1/records/%s/correction" % mid, "akasse:3f", body=corr)
        assert r.status == 201, r
        expect_created(h, "akasse:3f", build(ty, "akasse", ENDCORR, "ec-2", "2025-03-31"))
        expect_denied(h, "akasse:3f", build(ty, "akasse", ENDCORR, "ec-3", "2025-04-01"),
                      "report.membership")
    finally:
        h.close()


def test_cancelled_membership_no_longer_counts(dfdg):
    h, cat = hub(dfdg)
    try:
        ty = both_kinds_type(cat)
        mid = expect_created(h, "akasse:3f", membership(cat, CANCEL, "mship-c", "2024-01-01"))
        expect_created(h, "akasse:3f", build(ty, "akasse", CANCEL, "c-1"))
        r = h.req("POST", "/v1/records/%s/cancellation" % mid, "akasse:3f",
                  body={"source_ref": "mship-c-cancel", "reason": "registered in error"})
        assert r.status == 201, r
        expect_denied(h, "akasse:3f", build(ty, "akasse", CANCEL, "c-2"), "report.membership")
        # A new membership record starts it again.
        expect_created(h, "akasse:3f", membership(cat, CANCEL, "mship-c2", "2024-06-01"))
        expect_created(h, "akasse:3f", build(ty, "akasse", CANCEL, "c-3"))
    finally:
        h.close()


def test_star_correction_keeps_membership(dfdg):
    """STAR corrects on behalf of others (DESIGN section 3). A STAR correction of an
    a-kasse's membership record (here: setting its end) must leave the person a member of
    that a-kasse until the corrected end, not end the membership at once."""
    h, cat = hub(dfdg)
    try:
        ty = both_kinds_type(cat)
        mid = h.req("GET", "/v1/person/records?type=akasse-membership", "akasse:3f",
                    cpr=JENS).json["records"][0]["id"]
        r = h.req("POST", "/v1/records/%s/correction" % mid, "star",
                  body=membership(cat, JENS, "star-fix", "2020-01-01", "2030-12-31"))
        assert r.status == 201, r
        expect_created(h, "akasse:3f", build(ty, "akasse", JENS, "after-star-fix"))
        expect_denied(h, "akasse:3f", build(ty, "akasse", JENS, "after-end", "2031-01-01"),
                      "report.membership")
        assert h.req("GET", "/v1/person", "akasse:3f", cpr=JENS).status == 200
    finally:
        h.close()


def test_citizen_reports_only_about_themselves(dfdg):
    h, cat = hub(dfdg)
    try:
        ct = citizen_type(cat)
        expect_created(h, "citizen", build(ct, "citizen", JENS, "self-1"), cpr=JENS)
        # About another person: the body names ANE, the token JENS.
        expect_denied(h, "citizen", build(ct, "citizen", ANE, "self-2"), "report.self",
                      cpr=JENS)
        # A citizen token for a CPR number the hub does not know reports about no one.
        expect_denied(h, "citizen", build(ct, "citizen", JENS, "self-3"), "report.self",
                      cpr="0303801234")
        # A kommune-only type is refused on kind, before anything else.
        ko = kommune_only_type(cat)
        expect_denied(h, "citizen", build(ko, "citizen", JENS, "self-4"), "report.kind",
                      cpr=JENS)
        expect_denied(h, "citizen", build(ko, "citizen", ANE, "self-5"), "report.kind",
                      cpr=JENS)
    finally:
        h.close()


if __name__ == "__main__":
    run([test_report_matrix_every_type_every_caller, test_field_level_reporters,
         test_kommune_reports_only_on_its_residents, test_akasse_reports_only_on_its_members,
         test_membership_end_is_inclusive, test_cancelled_membership_no_longer_counts,
         test_star_correction_keeps_membership, test_citizen_reports_only_about_themselves])
