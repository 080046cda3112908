# SPDX-License-Identifier: Apache-2.0
"""Integration-test harness: a real `dfdg serve` on a loopback port, driven over HTTP.

Python 3 standard library only. Each test file builds a Hub (a fresh database in a temporary
folder, CPR data imported, server started) and makes requests with Hub.req(). A file's
tests are plain functions named test_*; run() runs them in order and prints
'N passed, M failed' as its last line.
"""
import argparse
import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

PURPOSE = {"kommune": "case-handling", "akasse": "case-handling", "aktoer": "case-handling",
           "star": "supervision", "citizen": "self-service", "dst": "statistics",
           "udk": "payment"}


def person(cpr, kommune, first="Test", last="Person", protected=False, moved=None,
           previous=None, birthdate=None):
    """A CPR import line. moved=(old_kommune, move_date) gives an earlier address."""
    dd, mm, yy, d7 = cpr[0:2], cpr[2:4], int(cpr[4:6]), int(cpr[6])
    if d7 <= 3 or (d7 in (4, 9) and yy >= 37) or (5 <= d7 <= 8 and yy >= 58):
        century = 1900 if not (5 <= d7 <= 8 and yy >= 58) else 1800
    else:
        century = 2000
    addrs = []
    if moved:
        old, when = moved
        addrs.append({"kommunekode": old, "road": "Gammel Vej", "house": "1", "postcode": "1000",
                      "city": "Gammelby", "from": "2000-01-01", "to": when})
        addrs.append({"kommunekode": kommune, "road": "Ny Vej", "house": "2", "postcode": "2000",
                      "city": "Nyby", "from": when, "to": None})
    else:
        addrs.append({"kommunekode": kommune, "road": "Testvej", "house": "7", "postcode": "1165",
                      "city": "Testby", "from": "2000-01-01", "to": None})
    return {"cpr": cpr, "previous_cprs": previous or [],
            "birthdate": birthdate or "%04d-%s-%s" % (century + yy, mm, dd),
            "sex": "M" if int(cpr[9]) % 2 else "F", "status": "active",
            "name": {"first": first, "middle": None, "last": last},
            "addresses": addrs,
            "address_protection": [{"from": "2010-01-01", "to": None}] if protected else [],
            "children_birthdates": []}


def sample_value(field, cpr=None, day="2026-03-02", cvr="10150817"):
    """The simplest valid value for a catalog field (what an outside client would send)."""
    t = field["type"]
    lo, hi = field.get("min"), field.get("max")
    if t == "enum":
        return field["values"][0]
    if t == "date":
        return day
    if t == "bool":
        return True
    if t == "cpr" and cpr is not None:
        return cpr
    if t == "cvr":
        return cvr
    if t == "string":
        return "x"
    if t == "int":
        v = 1 if lo is None else int(lo)
        return v if hi is None else min(v, int(hi))
    if t == "decimal":
        v = 1.5 if lo is None else max(float(lo), 1.5)
        return v if hi is None else min(v, float(hi))
    raise AssertionError("field type %r of %s has no sample value" % (t, field["name"]))


class Response:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        try:
            self.json = json.loads(raw) if raw else None
        except ValueError:
            self.json = None

    @property
    def ctype(self):
        return self.headers.get("Content-Type", "")

    def __repr__(self):
        return "<%d %s>" % (self.status, self.raw[:300])


class Hub:
    def __init__(self, dfdg, persons=(), extra_args=(), start=True):
        self.dfdg = dfdg
        self.tmp = tempfile.mkdtemp(prefix="dfdg-it-")
        self.db = os.path.join(self.tmp, "hub.db")
        self.proc = None
        self.cli("init", "--db", self.db)
        if persons:
            self.import_persons(persons)
        self.extra_args = list(extra_args)
        self.tokens = {}
        if start:
            self.start()

    def cli(self, *args, check=True, stdin=None):
        r = subprocess.run([self.dfdg, *args], capture_output=True, text=True, timeout=300,
                           input=stdin)
        if check and r.returncode != 0:
            raise AssertionError("dfdg %s failed (%d): %s" % (args[0], r.returncode, r.stderr))
        return r

    def import_persons(self, persons, check=True, extra=()):
        path = os.path.join(self.tmp, "cpr-%d.jsonl" % time.monotonic_ns())
        with open(path, "w", encoding="utf-8") as f:
            for p in persons:
                f.write((p if isinstance(p, str) else json.dumps(p, ensure_ascii=False)) + "\n")
        return self.cli("cpr", "import", "--db", self.db, path, *extra, check=check)

    def start(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.base = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(self.tmp, "serve.log"), "w")
        self.proc = subprocess.Popen([self.dfdg, "serve", "--db", self.db, "--listen",
                                      "127.0.0.1:%d" % self.port, *self.extra_args],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(300):
            try:
                if self.req("GET", "/healthz").status == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise AssertionError("dfdg serve exited: %s" % self.serve_log())
            time.sleep(0.05)
        raise AssertionError("dfdg serve did not come up")

    def serve_log(self):
        with open(os.path.join(self.tmp, "serve.log")) as f:
            return f.read()

    def stop(self):
        if self.proc is None:
            return None
        self.proc.terminate()
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        self.log.close()
        return rc

    def token(self, org, cpr=None, sub="it"):
        key = (org, cpr, sub)
        if key not in self.tokens:
            args = ["token", "--db", self.db, "--org", org, "--sub", sub]
            if cpr:
                args += ["--cpr", cpr]
            self.tokens[key] = self.cli(*args).stdout.strip()
        return self.tokens[key]

    def req(self, method, path, org=None, body=None, headers=None, cpr=None, purpose=None,
            token=None, citizen_cpr=None, raw=None, ctype=None, timeout=30):
        hdrs = dict(headers or {})
        if token is None and org is not None:
            token = self.token(org, citizen_cpr)
        if token is not None:
            hdrs["Authorization"] = "Bearer " + token
        if org is not None and purpose is None:
            purpose = PURPOSE.get(org.split(":")[0])
        if purpose:
            hdrs.setdefault("DFDG-Purpose", purpose)
        if cpr is not None:
            hdrs["DFDG-CPR"] = cpr
        data = None
        if raw is not None:
            data = raw if isinstance(raw, bytes) else raw.encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        if ctype:
            hdrs["Content-Type"] = ctype
        rq = urllib.request.Request(self.base + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(rq, timeout=timeout) as r:
                return Response(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            return Response(e.code, e.headers, e.read())

    def post(self, org, rec, **kw):
        return self.req("POST", "/v1/records", org, body=rec, **kw)

    def db_count(self, table="record"):
        con = sqlite3.connect(self.db, timeout=10)
        try:
            return con.execute("SELECT count(*) FROM %s" % table).fetchone()[0]
        finally:
            con.close()

    def close(self):
        """Stops the server; a non-zero exit (a crash, or a leak under ASan) fails the test."""
        if self.proc is None:
            return
        rc = self.stop()
        if rc != 0:
            raise AssertionError("dfdg serve exited %s:\n%s" % (rc, self.serve_log()[-3000:]))


def is_problem(r, status):
    """The response is an RFC 9457 problem with this status."""
    return (r.status == status and "application/problem+json" in r.ctype and
            isinstance(r.json, dict) and r.json.get("status") == status and
            isinstance(r.json.get("type"), str) and isinstance(r.json.get("title"), str) and
            isinstance(r.json.get("detail"), str))


def run(tests):
    ap = argparse.ArgumentParser()
    ap.add_argument("--dfdg", required=True)
    ap.add_argument("-k", default="")
    args = ap.parse_args()
    dfdg = os.path.abspath(args.dfdg)
    passed = failed = 0
    for t in tests:
        if args.k and args.k not in t.__name__:
            continue
        t0 = time.monotonic()
        try:
            t(dfdg)
            passed += 1
            print("PASS %s (%.1f s)" % (t.__name__, time.monotonic() - t0), flush=True)
        except Exception:  # noqa: BLE001 - report every failure the same way
            failed += 1
            print("FAIL %s" % t.__name__, flush=True)
            traceback.print_exc()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or not passed else 0)
