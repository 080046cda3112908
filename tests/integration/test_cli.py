# SPDX-License-Identifier: Apache-2.0
"""The command line that operators and outside harnesses rely on (DESIGN section 5)."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from dfdg_it import Hub, person, run  # noqa: E402

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def sh(dfdg, *args):
    return subprocess.run([dfdg, *args], capture_output=True, text=True, timeout=120)


def test_help_everywhere(dfdg):
    r = sh(dfdg, "--help")
    assert r.returncode == 0
    for cmd in ("init", "serve", "token", "cpr", "seed", "catalog"):
        assert cmd in r.stdout, cmd
        h = sh(dfdg, cmd, "--help")
        assert h.returncode == 0 and h.stdout.startswith("usage: dfdg " + cmd), (cmd, h)
        assert "--help" in h.stdout
    assert sh(dfdg).returncode == 2
    assert sh(dfdg, "frobnicate").returncode == 2
    assert sh(dfdg, "init").returncode == 2          # --db missing
    assert sh(dfdg, "serve", "--bogus").returncode == 2


def test_init_refuses_existing_and_keeps_secret(dfdg):
    tmp = tempfile.mkdtemp()
    db = os.path.join(tmp, "hub.db")
    r = sh(dfdg, "init", "--db", db)
    assert r.returncode == 0, r.stderr
    con = sqlite3.connect(db)
    kinds = dict(con.execute("SELECT kind, count(*) FROM org GROUP BY kind").fetchall())
    secret = con.execute("SELECT value FROM meta WHERE key='dev_issuer_secret'").fetchone()[0]
    con.close()
    assert kinds["kommune"] == 98 and kinds["akasse"] >= 20 and kinds["star"] == 1, kinds
    r2 = sh(dfdg, "init", "--db", db)
    assert r2.returncode == 1 and "exists" in r2.stderr, r2
    # The signing secret is never printed, by init or by token.
    tok = sh(dfdg, "token", "--db", db, "--org", "star", "--sub", "x")
    for out in (r.stdout + r.stderr, tok.stdout + tok.stderr):
        assert secret.hex() not in out and secret.hex()[:16] not in out


def test_cpr_import_bad_line_applies_nothing(dfdg):
    h = Hub(dfdg, start=False)
    good = [person("0101901235", "101"), person("0202851234", "147")]
    bad = dict(person("0303801235", "101"), birthdate="1999-01-01")
    r = h.import_persons([good[0], bad, good[1]], check=False)
    assert r.returncode == 1, r
    assert "line 2" in r.stderr, r.stderr
    assert "0303801235" not in r.stderr, "the CPR number is echoed"
    assert h.db_count("person") == 0
    r = h.import_persons([good[0], bad, "{broken", good[1]], check=False, extra=["--skip-bad"])
    assert r.returncode == 0, r
    assert "line 2" in r.stderr and "line 3" in r.stderr, r.stderr
    assert h.db_count("person") == 2


def test_cpr_number_change_keeps_person(dfdg):
    h = Hub(dfdg, [person("0101901235", "101")])
    try:
        r = h.post("kommune:101", {"type": "absence", "cpr": "0101901235", "source_ref": "a",
                                   "valid_from": "2026-01-05",
                                   "data": {"absence_type": "10",
                                            "notification_date": "2026-01-05"}})
        assert r.status == 201, r
        h.import_persons([person("0101901243", "101", previous=["0101901235"],
                                 birthdate="1990-01-01")])
        for cpr in ("0101901235", "0101901243"):
            lst = h.req("GET", "/v1/person/records", "kommune:101", cpr=cpr)
            assert lst.status == 200 and len(lst.json["records"]) == 1, (cpr, lst)
        who = h.req("GET", "/v1/person", "kommune:101", cpr="0101901235")
        assert who.json["cpr"] == "0101901243" and who.json["previous_cprs"] == ["0101901235"]
    finally:
        h.close()


def test_broken_catalog_stops_serve(dfdg):
    h = Hub(dfdg, start=False)
    cat = tempfile.mkdtemp()
    for f in os.listdir(os.path.join(SOURCE, "catalog", "types")):
        shutil.copy(os.path.join(SOURCE, "catalog", "types", f), cat)
    path = os.path.join(cat, "absence.json")
    with open(path) as f:
        t = json.load(f)
    t["fields"][0]["type"] = "strnig"
    with open(path, "w") as f:
        json.dump(t, f)
    r = sh(dfdg, "serve", "--db", h.db, "--listen", "127.0.0.1:0", "--catalog", cat)
    assert r.returncode == 1, r
    assert "absence.json" in r.stderr and "strnig" in r.stderr, r.stderr
    assert t["fields"][0]["name"] in r.stderr, r.stderr
    r = sh(dfdg, "catalog", "check", "--catalog", cat)
    assert r.returncode == 1 and "absence.json" in r.stderr
    assert sh(dfdg, "catalog", "check").returncode == 0


def test_serve_refuses_missing_db(dfdg):
    r = sh(dfdg, "serve", "--db", "/nonexistent/hub.db", "--listen", "127.0.0.1:0")
    assert r.returncode == 1 and r.stderr.strip(), r


if __name__ == "__main__":
    run([test_help_everywhere, test_init_refuses_existing_and_keeps_secret,
         test_cpr_import_bad_line_applies_nothing, test_cpr_number_change_keeps_person,
         test_broken_catalog_stops_serve, test_serve_refuses_missing_db])
