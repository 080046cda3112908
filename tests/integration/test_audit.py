# SPDX-License-Identifier: Apache-2.0
"""`dfdg audit verify --db PATH` (DESIGN section 5) on a log the real server wrote: writes,
feed reads and a denied attempt are logged and signed, and the untouched log verifies (exit 0).
Then, each on its own copy of the database, someone with raw SQL access edits, deletes,
inserts and reorders an audit row, edits a row together with its stored leaf hash, deletes the
last entry a tree head covers, and forges a tree head's signature: each is exit 1 with the
entry or tree head named. Usage errors are exit 2."""
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from dfdg_it import Hub, person, run  # noqa: E402

JENS = "0101901235"
OLE = "1505751113"

_LOG = {}   # dfdg binary -> (tmp dir, db written by a server that has stopped)


def reg(source_ref, cpr, valid_from="2025-03-02"):
    return {"type": "jobseeker-registration", "cpr": cpr, "source_ref": source_ref,
            "valid_from": valid_from,
            "data": {"registration_date": valid_from, "target_group": "1"}}


def logged_db(dfdg):
    """A hub whose server wrote some audit entries and tree heads, then stopped cleanly."""
    if dfdg in _LOG:
        return _LOG[dfdg]
    h = Hub(dfdg, [person(JENS, "101"), person(OLE, "101")])
    try:
        for i, cpr in enumerate((JENS, OLE, JENS, OLE)):
            r = h.post("kommune:101", reg("audit-%d" % i, cpr, "2025-03-0%d" % (i + 2)))
            assert r.status == 201, r
        for org in ("kommune:101", "dst", "kommune:101"):
            r = h.req("GET", "/v1/feed", org)
            assert r.status == 200, r
        r = h.req("GET", "/v1/person/records", "kommune:101", cpr=JENS)
        assert r.status == 200, r
        # A denied attempt is logged too: kommune:147 reports on a person living in 101.
        r = h.post("kommune:147", reg("audit-denied", JENS))
        assert r.status == 403, r
        # The writer signs a tree head at least every second while entries arrive.
        for _ in range(60):
            if h.db_count("audit_sth") > 0:
                break
            time.sleep(0.05)
        time.sleep(1.2)
        r = h.post("kommune:101", reg("audit-late", JENS, "2025-04-01"))
        assert r.status == 201, r
    finally:
        h.close()
    con = sqlite3.connect(h.db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    _LOG[dfdg] = (h.tmp, h.db)
    return _LOG[dfdg]


def copy_of(dfdg, name):
    tmp, db = logged_db(dfdg)
    dst = os.path.join(tmp, name + ".db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            shutil.copy(db + suffix, dst + suffix)
    return dst


def verify(dfdg, db, *extra):
    return subprocess.run([dfdg, "audit", "verify", "--db", db, *extra], capture_output=True,
                          text=True, timeout=300)


def tampered(dfdg, name, sql_fn):
    """Applies sql_fn(connection) to a fresh copy and returns verify's result on it."""
    db = copy_of(dfdg, name)
    con = sqlite3.connect(db)
    try:
        sql_fn(con)
        con.commit()
    finally:
        con.close()
    return verify(dfdg, db)


def assert_caught(r, *names):
    out = r.stdout + r.stderr
    assert r.returncode == 1, (r.returncode, out)
    for n in names:
        assert n in out, (n, out)


def entry(con, idx):
    return bytes(con.execute("SELECT entry FROM audit_entry WHERE idx = ?", (idx,)).fetchone()[0])


def heads(con):
    return [row[0] for row in con.execute("SELECT size FROM audit_sth ORDER BY size")]


def edit(e):
    """The entry with one letter of its org changed ('kommune:101' -> 'Kommune:101')."""
    pos = e.index(b'"org":"') + len(b'"org":"')
    return e[:pos] + bytes([e[pos] ^ 0x20]) + e[pos + 1:]


def test_untouched_log_verifies(dfdg):
    tmp, db = logged_db(dfdg)
    con = sqlite3.connect(db)
    n = con.execute("SELECT count(*) FROM audit_entry").fetchone()[0]
    hs = heads(con)
    denied = con.execute("SELECT count(*) FROM audit_entry "
                         "WHERE CAST(entry AS TEXT) LIKE '%\"outcome\":\"denied\"%'").fetchone()[0]
    con.close()
    assert n >= 8, n
    assert len(hs) >= 2 and hs[-1] == n, (hs, n)   # the last entries got a head at shutdown
    assert denied >= 1, "the denied read is not in the log"
    r = verify(dfdg, copy_of(dfdg, "untouched"))
    assert r.returncode == 0, r
    assert "ok: %d entries, %d signed tree heads" % (n, len(hs)) in r.stdout, r.stdout
    assert "audit public key: " in r.stdout, r.stdout
    q = verify(dfdg, copy_of(dfdg, "quiet"), "--quiet")
    assert q.returncode == 0 and q.stdout == "" and q.stderr == "", q


def test_edited_entry_is_named(dfdg):
    def sql(con):
        con.execute("UPDATE audit_entry SET entry = ? WHERE idx = 3", (edit(entry(con, 3)),))
    assert_caught(tampered(dfdg, "edit", sql), "entry 3 was edited")


def test_deleted_entry_is_named(dfdg):
    r = tampered(dfdg, "delete", lambda con: con.execute("DELETE FROM audit_entry WHERE idx = 2"))
    assert_caught(r, "entry 2 is missing")


def test_inserted_entry_is_named(dfdg):
    def sql(con):
        # Make room at 4 and slip in a plausible entry numbered 4 (a neighbour's, renumbered).
        con.execute("UPDATE audit_entry SET idx = -(idx + 1) WHERE idx >= 4")
        con.execute("UPDATE audit_entry SET idx = -idx WHERE idx < 0")
        e = entry(con, 6).replace(b'"i":5,', b'"i":4,')
        con.execute("INSERT INTO audit_entry(idx, at, entry) SELECT 4, at, ? FROM audit_entry "
                    "WHERE idx = 6", (e,))
    assert_caught(tampered(dfdg, "insert", sql), "entry 4 was edited")


def test_appended_entry_is_named(dfdg):
    def sql(con):
        n = con.execute("SELECT max(idx) FROM audit_entry").fetchone()[0]
        e = entry(con, n).replace(b'"i":%d,' % n, b'"i":%d,' % (n + 1))
        con.execute("INSERT INTO audit_entry(idx, at, entry) SELECT ?, at, ? FROM audit_entry "
                    "WHERE idx = ?", (n + 1, e, n))
        sql.n = n + 1
    r = tampered(dfdg, "append", sql)
    assert_caught(r, "entry %d has no valid stored leaf hash" % sql.n)


def test_reordered_entries_are_named(dfdg):
    def sql(con):
        con.execute("UPDATE audit_entry SET idx = -1 WHERE idx = 1")
        con.execute("UPDATE audit_entry SET idx = 1 WHERE idx = 3")
        con.execute("UPDATE audit_entry SET idx = 3 WHERE idx = -1")
    assert_caught(tampered(dfdg, "reorder", sql),
                  "entry 1 was moved or renumbered: it says it is entry 3")


def test_consistent_edit_is_caught_by_a_head(dfdg):
    """The entry and its stored leaf hash both rewritten: only a signed head can tell."""
    def sql(con):
        e = edit(entry(con, 3))
        con.execute("UPDATE audit_entry SET entry = ? WHERE idx = 3", (e,))
        con.execute("UPDATE audit_node SET hash = ? WHERE level = 0 AND idx = 3",
                    (hashlib.sha256(b"\x00" + e).digest(),))
        hs = heads(con)
        sql.head = min(s for s in hs if s > 3)
        sql.prev = max([s for s in hs if s <= 3] or [0])
    r = tampered(dfdg, "consistent", sql)
    assert_caught(r, "tree head of size %d does not match the entries" % sql.head,
                  "the first bad entry is between %d and %d" % (sql.prev, sql.head - 1))


def test_deleted_last_entry_is_named(dfdg):
    def sql(con):
        sql.last = heads(con)[-1]
        con.execute("DELETE FROM audit_entry WHERE idx = ?", (sql.last - 1,))
    r = tampered(dfdg, "truncate", sql)
    assert_caught(r, "entry %d is missing (the tree head of size %d covers it)"
                  % (sql.last - 1, sql.last))


def test_forged_head_signature_is_named(dfdg):
    def sql(con):
        sql.size, sig = con.execute("SELECT size, sig FROM audit_sth ORDER BY size").fetchone()
        sig = bytearray(sig)
        sig[7] ^= 0x01
        con.execute("UPDATE audit_sth SET sig = ? WHERE size = ?", (bytes(sig), sql.size))
    r = tampered(dfdg, "forge", sql)
    assert_caught(r, "tree head of size %d has a bad signature" % sql.size)


def test_deleted_newest_head_leaves_an_unsigned_tail(dfdg):
    """Without its newest head the log still verifies, but the entries it covered are counted
    as not yet signed: the operator sees that no signature vouches for them."""
    def sql(con):
        sql.sizes = heads(con)
        con.execute("DELETE FROM audit_sth WHERE size = ?", (sql.sizes[-1],))
    r = tampered(dfdg, "nohead", sql)
    tail = sql.sizes[-1] - sql.sizes[-2]
    assert r.returncode == 0, r
    assert "%d %s not yet covered by a signed tree head" % (
        tail, "entry" if tail == 1 else "entries") in r.stdout, r.stdout


def test_usage(dfdg):
    r = subprocess.run([dfdg, "audit", "verify", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("usage: dfdg audit verify"), r
    r = subprocess.run([dfdg, "audit", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--db PATH" in r.stdout, r
    for args in (["audit", "verify"], ["audit"], ["audit", "check", "--db", "x.db"],
                 ["audit", "verify", "--db"], ["audit", "verify", "--db", "x.db", "--bogus"]):
        r = subprocess.run([dfdg, *args], capture_output=True, text=True)
        assert r.returncode == 2 and "usage: dfdg audit verify" in r.stderr, (args, r)
    tmp, _ = logged_db(dfdg)
    r = verify(dfdg, os.path.join(tmp, "no-such.db"))
    assert r.returncode == 1 and r.stderr.startswith("dfdg audit verify:"), r


if __name__ == "__main__":
    run([test_untouched_log_verifies, test_edited_entry_is_named, test_deleted_entry_is_named,
         test_inserted_entry_is_named, test_appended_entry_is_named,
         test_reordered_entries_are_named, test_consistent_edit_is_caught_by_a_head,
         test_deleted_last_entry_is_named, test_forged_head_signature_is_named,
         test_deleted_newest_head_leaves_an_unsigned_tail, test_usage])
