# SPDX-License-Identifier: Apache-2.0
"""Address protection (DESIGN section 4): a protected address is never shown to a-kasser (nor
other actors and researchers), who see the name only; kommuner, STAR and the citizen see it.
Protection counts while it runs: an ended protection masks nothing."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from dfdg_it import Hub, is_problem, person, run  # noqa: E402

HIDDEN = "0101901235"   # protected since 2010, resident of 101, member of akasse:3f
ENDED = "0202851234"    # protection 2012..2020, resident of 101, member of akasse:3f
FUTURE = "1505751113"   # protection from 2099, resident of 101, member of akasse:3f
OTHER = "2012881117"    # unprotected, resident of 101

# Address parts unlikely to occur by chance in ids or times; postcodes are matched as JSON
# strings (with quotes), since digits occur in ids.
SECRET = {"kommunekode": "101", "road": "Skjultestræde", "house": "13B", "postcode": "1466",
          "city": "Hemmeligby", "from": "2015-03-01", "to": None}
OLD = {"kommunekode": "101", "road": "Forrigevej", "house": "2C", "postcode": "1577",
       "city": "Tidligereby", "from": "2000-01-01", "to": "2015-03-01"}
OPEN = {"kommunekode": "101", "road": "Åbenvej", "house": "4D", "postcode": "1688",
        "city": "Synligby", "from": "2000-01-01", "to": None}


def needles(addr):
    return [addr["road"], addr["city"], '"%s"' % addr["postcode"], '"%s"' % addr["house"]]


def with_address(p, addrs, protection):
    p = dict(p)
    p["addresses"] = addrs
    p["address_protection"] = protection
    return p


def persons():
    return [
        with_address(person(HIDDEN, "101", first="Hanne", last="Skjult"), [OLD, SECRET],
                     [{"from": "2010-01-01", "to": None}]),
        with_address(person(ENDED, "101", first="Erik", last="Tidligere"), [SECRET],
                     [{"from": "2012-01-01", "to": "2020-01-01"}]),
        with_address(person(FUTURE, "101", first="Frida", last="Senere"), [SECRET],
                     [{"from": "2099-01-01", "to": None}]),
        with_address(person(OTHER, "101", first="Ole", last="Åben"), [OPEN], []),
    ]


def hub(dfdg):
    h = Hub(dfdg, persons())
    try:
        for cpr in (HIDDEN, ENDED, FUTURE):
            r = h.post("akasse:3f", {"type": "akasse-membership", "cpr": cpr,
                                     "source_ref": "mship-" + cpr, "valid_from": "2020-01-01",
                                     "data": {"start_date": "2020-01-01"}})
            assert r.status == 201, r
    except BaseException:
        h.close()
        raise
    return h


def get_person(h, org, cpr, citizen_cpr=None):
    return h.req("GET", "/v1/person", org, cpr=cpr, citizen_cpr=citizen_cpr)


def bodies(r):
    """The raw body, and the parsed body re-encoded (catches \\u-escaped strings)."""
    raw = r.raw.decode("utf-8")
    return raw, json.dumps(r.json, ensure_ascii=False) if r.json is not None else ""


def assert_no_address(r, addrs, who):
    for text in bodies(r):
        for a in addrs:
            for s in needles(a):
                assert s not in text, (who, "address part %s in the body" % s, text[:400])


def assert_has_address(r, addrs, who):
    """Control: the needles do match an address that is shown."""
    for text in bodies(r):
        for a in addrs:
            for s in needles(a):
                assert s in text, (who, s, text[:400])


def assert_full(r, addrs, protected, who):
    assert r.status == 200, (who, r)
    assert r.json["address_protected"] is protected, (who, r.json)
    got = [(a["road"], a["house"], a["postcode"], a["city"]) for a in r.json["addresses"]]
    for a in addrs:
        assert (a["road"], a["house"], a["postcode"], a["city"]) in got, (who, got)


def test_protected_address_masked_for_akasse_only(dfdg):
    h = hub(dfdg)
    try:
        for org in ("kommune:101", "star"):
            r = get_person(h, org, HIDDEN)
            assert_full(r, [OLD, SECRET], True, org)
            assert_has_address(r, [OLD, SECRET], org)
        r = get_person(h, "akasse:3f", HIDDEN)
        assert r.status == 200, r
        assert r.json["address_protected"] is True, r.json
        assert "addresses" not in r.json, r.json
        assert r.json["name"]["first"] == "Hanne" and r.json["name"]["last"] == "Skjult"
        # Neither the current protected address nor the earlier one leaks, anywhere.
        assert_no_address(r, [SECRET, OLD], "akasse:3f")
        # Control: the same a-kasse sees an unprotected member's address in the same way.
        assert_full(get_person(h, "akasse:3f", FUTURE), [SECRET], False, "akasse:3f future")
    finally:
        h.close()


def test_records_read_by_akasse_carry_no_address(dfdg):
    h = hub(dfdg)
    try:
        ids = []
        for org, src in (("kommune:101", "k-1"), ("akasse:3f", "a-1")):
            r = h.post(org, {"type": "jobseeker-registration", "cpr": HIDDEN,
                             "source_ref": src, "valid_from": "2025-03-02",
                             "data": {"registration_date": "2025-03-02", "target_group": "1"}})
            assert r.status == 201, r
            ids.append(r.json["id"])
        lst = h.req("GET", "/v1/person/records", "akasse:3f", cpr=HIDDEN)
        assert lst.status == 200, lst
        got = {x["id"] for x in lst.json["records"]}
        assert set(ids) <= got, (ids, got)
        assert_no_address(lst, [SECRET, OLD], "akasse list")
        for rid in ids:
            g = h.req("GET", "/v1/records/" + rid, "akasse:3f")
            assert g.status == 200, g
            assert_no_address(g, [SECRET, OLD], "akasse record")
        for q in ("?type=akasse-membership", "?valid_on=2025-03-02", "?as_of=2099-01-01"):
            r = h.req("GET", "/v1/person/records" + q, "akasse:3f", cpr=HIDDEN)
            assert r.status == 200, (q, r)
            assert_no_address(r, [SECRET, OLD], "akasse " + q)
    finally:
        h.close()


def test_ended_or_future_protection_masks_nothing(dfdg):
    h = hub(dfdg)
    try:
        for cpr in (ENDED, FUTURE):
            for org in ("akasse:3f", "kommune:101", "star"):
                assert_full(get_person(h, org, cpr), [SECRET], False, (org, cpr))
    finally:
        h.close()


def test_citizen_sees_own_addresses_only(dfdg):
    h = hub(dfdg)
    try:
        r = get_person(h, "citizen", HIDDEN, citizen_cpr=HIDDEN)
        assert_full(r, [OLD, SECRET], True, "citizen self")
        # The hyphenated form of the own number is the same person.
        r = get_person(h, "citizen", "010190-1235", citizen_cpr=HIDDEN)
        assert_full(r, [OLD, SECRET], True, "citizen self, hyphenated")
        # Another person's number with a citizen token: denied, and nothing of that person.
        r = get_person(h, "citizen", HIDDEN, citizen_cpr=OTHER)
        assert is_problem(r, 403) and r.json.get("rule"), r
        assert_no_address(r, [SECRET, OLD], "citizen other")
        assert "Hanne" not in r.raw.decode("utf-8")
        r = get_person(h, "citizen", OTHER, citizen_cpr=HIDDEN)
        assert is_problem(r, 403), r
        assert_no_address(r, [OPEN], "citizen other")
        assert_full(get_person(h, "citizen", OTHER, citizen_cpr=OTHER), [OPEN], False,
                    "citizen self unprotected")
    finally:
        h.close()


def test_no_relationship_no_person(dfdg):
    """An a-kasse the person is not a member of, and a kommune they do not live in, get no
    master data at all (so no address either)."""
    h = hub(dfdg)
    try:
        for org in ("akasse:ase", "kommune:147"):
            r = get_person(h, org, HIDDEN)
            assert is_problem(r, 403) and r.json.get("rule") == "read.relationship", (org, r)
            assert_no_address(r, [SECRET, OLD], org)
        assert_has_address(get_person(h, "kommune:101", OTHER), [OPEN], "kommune:101")
    finally:
        h.close()


if __name__ == "__main__":
    run([test_protected_address_masked_for_akasse_only,
         test_records_read_by_akasse_carry_no_address,
         test_ended_or_future_protection_masks_nothing, test_citizen_sees_own_addresses_only,
         test_no_relationship_no_person])
