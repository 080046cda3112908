# SPDX-License-Identifier: Apache-2.0
"""Retention (GDPR art. 5(1)(e)): `dfdg retention run --db PATH [--dry-run] [--today DAY]`
against a running hub. Records of a short-retention type (absence, 5 years) that ended in 2005
go with their whole chain (a corrected one too) and their deliveries; open and recent records
stay; a dry run changes nothing and counts the same; the records are gone from GET
/v1/records/{id} and GET /v1/person/records; disclosures stay; the feed goes on without a
repeated or skipped position; the audit log holds one retention entry (ids and types, no CPR
numbers) and `dfdg audit verify` passes afterwards; a cancelled chain ends the day it was
cancelled; bad usage exits 2."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
from dfdg_it import Hub, is_problem, person, run  # noqa: E402

JENS = "0101901235"   # resident of 101, member of akasse:3f
OLE = "1505751113"    # resident of 101, no a-kasse


def absence(source_ref, valid_from, valid_to=None, cpr=JENS):
    """absence (retention 5 years): routed to the person's a-kasse."""
    r = {"type": "absence", "cpr": cpr, "source_ref": source_ref, "valid_from": valid_from,
         "data": {"absence_type": "1", "notification_date": valid_from}}
    if valid_to is not None:
        r["valid_to"] = valid_to
    return r


def created(r):
    assert r.status == 201 and re.fullmatch(r"[0-9a-f-]{36}", r.json["id"]), r
    return r.json["id"]


def retention(h, *args, check_rc=0):
    r = h.cli("retention", "run", "--db", h.db, *args, check=False)
    assert r.returncode == check_rc, (r.returncode, r.stdout, r.stderr)
    return r


def table(stdout):
    """{type: (chains, records, deliveries, held)} from the run's table."""
    rows = {}
    for line in stdout.splitlines()[1:]:
        f = line.split()
        rows[f[0]] = tuple(int(x) for x in f[-4:])
    return rows


def listed(h, org="kommune:101", cpr=JENS):
    r = h.req("GET", "/v1/person/records", org, cpr=cpr)
    assert r.status == 200, r
    return {x["id"] for x in r.json["records"]}


def query(h, sql, params=()):
    return h.sql(sql, params)


def feed(h, org, after=None):
    path = "/v1/feed" + ("?after=" + after if after else "")
    r = h.req("GET", path, org)
    assert r.status == 200, r
    return r.json


def test_old_chains_go_new_stay(dfdg):
    h = Hub(dfdg, [person(JENS, "101"), person(OLE, "101")])
    try:
        mship = created(h.post("akasse:3f", {"type": "akasse-membership", "cpr": JENS,
                                             "source_ref": "mship", "valid_from": "2000-01-01",
                                             "data": {"start_date": "2000-01-01"}}))
        # Ended in 2005: past 5 years. One plain, one corrected (still ending in 2005).
        old1 = created(h.post("kommune:101", absence("old-1", "2005-03-01", "2005-03-10")))
        old2 = created(h.post("kommune:101", absence("old-2", "2005-04-01", "2005-04-05",
                                                     cpr=OLE)))
        r = h.req("POST", "/v1/records/%s/correction" % old2, "kommune:101",
                  body=absence("old-2b", "2005-04-01", "2005-04-06", cpr=OLE))
        old2b = created(r)
        # Open, and recent: both stay. The recent one is the newest record and delivery.
        open_old = created(h.post("kommune:101", absence("open-1", "2005-05-01")))
        new = created(h.post("kommune:101", absence("new-1", "2025-03-02", "2025-03-09")))
        gone, kept = [old1, old2, old2b], [mship, open_old, new]

        # The a-kasse reads its feed: deliveries handed out, and disclosures recorded.
        j = feed(h, "akasse:3f")
        fed = [it["record"]["id"] for it in j["items"]]
        assert old1 in fed and new in fed, fed
        cursor = j["cursor"]
        disclosed = query(h, "SELECT count(*) FROM disclosure")[0][0]
        assert disclosed >= 2
        deliveries = query(h, "SELECT count(*) FROM delivery")[0][0]
        records = h.db_count()
        audit_before = query(h, "SELECT count(*) FROM audit_entry")[0][0]

        # Dry run: the counts, and nothing changes.
        r = retention(h, "--dry-run")
        t = table(r.stdout)
        assert t["absence"] == (2, 3, 1, 0), r.stdout   # old1 went to akasse:3f once
        assert t["total"] == (2, 3, 1, 0), r.stdout
        assert "dry run" in r.stderr and "nothing was changed" in r.stderr, r.stderr
        assert h.db_count() == records
        assert query(h, "SELECT count(*) FROM delivery")[0][0] == deliveries
        assert query(h, "SELECT count(*) FROM audit_entry")[0][0] == audit_before
        for rid in gone:
            assert h.req("GET", "/v1/records/" + rid, "kommune:101").status == 200

        # For real, with the server running.
        r = retention(h)
        assert table(r.stdout)["total"] == (2, 3, 1, 0), r.stdout
        assert "deleted 3 records" in r.stderr, r.stderr
        assert h.db_count() == records - 3
        assert query(h, "SELECT count(*) FROM delivery")[0][0] == deliveries - 1
        for rid in gone:
            assert is_problem(h.req("GET", "/v1/records/" + rid, "kommune:101"), 404), rid
        for rid in kept:
            assert h.req("GET", "/v1/records/" + rid, "kommune:101").status == 200, rid
        ids = listed(h)
        assert old1 not in ids and new in ids and open_old in ids, ids
        assert not ({old2, old2b} & listed(h, cpr=OLE))
        # Disclosures stay: the record of what was handed out.
        assert query(h, "SELECT count(*) FROM disclosure")[0][0] == disclosed
        assert query(h, "SELECT count(*) FROM disclosure WHERE record_id = ?", (old1,))[0][0] >= 1

        # One audit entry accounts for the deletion: ids and types, no CPR number.
        rows = [bytes(e).decode() for (e,) in query(h, "SELECT entry FROM audit_entry")]
        rows = [e for e in rows if "retention.delete" in e]
        assert len(rows) == 1, rows
        entry = rows[0]
        for rid in gone:
            assert rid in entry, entry
        assert JENS not in entry and OLE not in entry, entry

        # The feed goes on: a new delivery after the cursor, once, at a new position.
        later = created(h.post("kommune:101", absence("new-2", "2025-04-02", "2025-04-03")))
        j2 = feed(h, "akasse:3f", after=cursor)
        assert [it["record"]["id"] for it in j2["items"]] == [later], j2
        assert int(j2["cursor"][3:]) > int(cursor[3:]), (cursor, j2["cursor"])

        # Nothing left to delete.
        r = retention(h)
        assert table(r.stdout)["total"] == (0, 0, 0, 0), r.stdout
        assert "nothing to delete" in r.stderr, r.stderr
    finally:
        h.close()

    # The audit log still verifies.
    r = h.cli("audit", "verify", "--db", h.db, check=False)
    if "not implemented" in r.stderr:
        print("SKIP audit verify: not implemented yet")
    else:
        assert r.returncode == 0, (r.stdout, r.stderr)


def test_cancelled_chain_and_today(dfdg):
    h = Hub(dfdg, [person(OLE, "101")])
    try:
        a = created(h.post("kommune:101", absence("c-1", "2024-01-01", cpr=OLE)))
        created(h.req("POST", "/v1/records/%s/cancellation" % a, "kommune:101",
                      body={"source_ref": "c-2", "reason": "wrong person"}))
        keep = created(h.post("kommune:101", absence("c-3", "2024-02-01", cpr=OLE)))
        # Cancelled today: kept now; gone once 5 years have passed (the open one stays).
        assert table(retention(h).stdout)["total"] == (0, 0, 0, 0)
        n = h.db_count()
        r = retention(h, "--today", "2099-01-01", "--dry-run")
        assert table(r.stdout)["absence"] == (1, 2, 0, 0), r.stdout
        assert "as of 2099-01-01" in r.stderr, r.stderr
        assert h.db_count() == n
        r = retention(h, "--today", "2099-01-01")
        assert table(r.stdout)["absence"] == (1, 2, 0, 0), r.stdout
        assert h.db_count() == n - 2
        assert is_problem(h.req("GET", "/v1/records/" + a, "kommune:101"), 404)
        assert h.req("GET", "/v1/records/" + keep, "kommune:101").status == 200
    finally:
        h.close()


def test_usage(dfdg):
    h = Hub(dfdg, start=False)
    r = h.cli("retention", "--help")
    assert r.returncode == 0 and "retention_years" in r.stdout, r
    for args in (["run"], ["--db", h.db], ["run", "--db", h.db, "--today", "2025-02-30"],
                 ["run", "--db", h.db, "extra"], ["sweep", "--db", h.db],
                 ["run", "--db", h.db, "--bogus"]):
        r = h.cli("retention", *args, check=False)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
    r = h.cli("retention", "run", "--db", os.path.join(h.tmp, "missing.db"), check=False)
    assert r.returncode == 1 and "no store" in r.stderr, r


if __name__ == "__main__":
    run([test_old_chains_go_new_stay, test_cancelled_chain_and_today, test_usage])
