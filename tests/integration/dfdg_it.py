# SPDX-License-Identifier: Apache-2.0
"""Integration-test harness: a real `dfdg serve` on a loopback port, driven over HTTP.

Python 3 standard library only. Each test file builds a Hub (a fresh database in a temporary
folder, CPR data imported, server started) and makes requests with Hub.req(). A file's
tests are plain functions named test_*; run() runs them in order and prints
'N passed, M failed' as its last line.

With the environment variable DFDG_TEST_PG set (a libpq conninfo), every Hub keeps its store
in PostgreSQL instead: a schema of its own, it<pid>_<n>, in that database, named to dfdg by
the store URI "postgres:<conninfo> schema=<name>" in Hub.db, so every `--db h.db` works as it
is. The schemas are dropped when the test process exits (atexit, also on SIGTERM; or earlier
by Hub.drop_store()), not at close: tests read the store after stopping the server. Servers
run with --threads 4 there (each thread holds a connection). Tests that look into the store
use Hub.sql(), which speaks SQLite or PostgreSQL (through psql) as the Hub does; Hub.node()
starts a second server on the same store.
"""
import argparse
import atexit
import json
import os
import re
import signal
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


PG = os.environ.get("DFDG_TEST_PG") or None
_SCHEMAS = [0]
_LIVE_SCHEMAS = set()  # made by this process and not dropped yet (PostgreSQL only)


def _drop_schema(conninfo, schema):
    r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c",
                        "SET client_min_messages = warning; DROP SCHEMA IF EXISTS %s CASCADE"
                        % schema], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        print("dfdg_it: could not drop schema %s: %s" % (schema, r.stderr.strip()),
              file=sys.stderr)
    _LIVE_SCHEMAS.discard(schema)


@atexit.register
def _drop_left_schemas():
    """Drops the schemas of Hubs a test never closed (a failure, or a Hub never started)."""
    for schema in sorted(_LIVE_SCHEMAS):
        _drop_schema(PG, schema)


def _sql_literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (bytes, bytearray)):
        return "'\\x%s'::bytea" % bytes(v).hex()
    return "'%s'" % str(v).replace("'", "''")


def _bind(query, params):
    """query with each ? outside quotes replaced by the next parameter, as a SQL literal."""
    params = list(params)
    out, quoted = [], False
    for ch in query:
        if ch == "'":
            quoted = not quoted
        if ch == "?" and not quoted:
            if not params:
                raise AssertionError("too few parameters for %r" % query)
            out.append(_sql_literal(params.pop(0)))
        else:
            out.append(ch)
    if params:
        raise AssertionError("too many parameters for %r" % query)
    return "".join(out)


_BYTEA = re.compile(r"\\x(?:[0-9a-f]{2})*\Z")


def _pg_value(v):
    # bytea arrives as "\x<hex>" in JSON; sqlite3 hands BLOBs out as bytes, so do the same.
    if isinstance(v, str) and _BYTEA.match(v):
        return bytes.fromhex(v[2:])
    return v


def psql(conninfo, schema, query, params=()):
    """Runs query in schema (search_path) through psql; a SELECT's rows as tuples.

    Each row travels as row_to_json, so integers come back as int, NULL as None and bytea as
    bytes, as sqlite3 would hand them out; ? placeholders are bound as literals."""
    q = _bind(query, params).strip().rstrip(";")
    reads = re.match(r"(?is)\s*(select|with|values)\b", q) is not None
    if reads:
        q = "SELECT row_to_json(q)::text FROM (%s) AS q" % q
    env = dict(os.environ, PGOPTIONS="-c search_path=%s" % schema)
    r = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", conninfo,
                        "-c", q], capture_output=True, text=True, timeout=120, env=env)
    if r.returncode != 0:
        raise AssertionError("psql failed (%d) on %r: %s" % (r.returncode, q, r.stderr))
    if not reads:
        return []
    rows = []
    for line in r.stdout.splitlines():
        pairs = json.loads(line, object_pairs_hook=lambda kv: kv)
        rows.append(tuple(_pg_value(v) for _, v in pairs))
    return rows


class Hub:
    def __init__(self, dfdg, persons=(), extra_args=(), start=True):
        self.dfdg = dfdg
        self.tmp = tempfile.mkdtemp(prefix="dfdg-it-")
        self.pg = PG
        self.schema = None
        if self.pg:
            _SCHEMAS[0] += 1
            self.schema = "it%d_%d" % (os.getpid(), _SCHEMAS[0])
            self.db = "postgres:%s schema=%s" % (self.pg, self.schema)
            _LIVE_SCHEMAS.add(self.schema)
        else:
            self.db = os.path.join(self.tmp, "hub.db")
        self.proc = None
        self.log = None
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
        args = list(self.extra_args)
        if getattr(self, "pg", None) and not any(a.startswith("--threads") for a in args):
            # Each server thread holds a PostgreSQL connection: keep many parallel tests
            # within the cluster's max_connections on a machine with many CPUs.
            args += ["--threads", "4"]
        self.proc = subprocess.Popen([self.dfdg, "serve", "--db", self.db, "--listen",
                                      "127.0.0.1:%d" % self.port, *args],
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

    def node(self, extra_args=None):
        """Another `dfdg serve` on this hub's store (a second node: same issuer key, so the
        same tokens), started, with its own port and log; close it like a Hub."""
        n = Hub.__new__(Hub)
        n.dfdg, n.db, n.pg, n.schema = self.dfdg, self.db, self.pg, self.schema
        n.tmp = tempfile.mkdtemp(prefix="dfdg-it-node-")
        n.proc, n.log, n.tokens = None, None, self.tokens
        n.extra_args = list(self.extra_args if extra_args is None else extra_args)
        n.start()
        return n

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

    def sql(self, query, params=()):
        """Runs query on the hub's store (SQLite or PostgreSQL); a SELECT's rows as tuples.

        ? placeholders take params. Writes commit at once. Only SQL both dialects share."""
        if self.pg:
            return psql(self.pg, self.schema, query, params)
        con = sqlite3.connect(self.db, timeout=10)
        try:
            with con:
                return con.execute(query, params).fetchall()
        finally:
            con.close()

    def db_count(self, table="record"):
        return self.sql("SELECT count(*) FROM %s" % table)[0][0]

    def drop_store(self):
        """Removes the store: the PostgreSQL schema (once), or nothing (the tmp folder stays)."""
        if getattr(self, "pg", None) and getattr(self, "schema", None):
            _drop_schema(self.pg, self.schema)
            self.schema = None

    def close(self):
        """Stops the server; a non-zero exit (a crash, or a leak under ASan) fails the test.

        The store stays (tests go on with `dfdg audit verify` and the like after close): a
        PostgreSQL schema is dropped when the test process exits, or by drop_store()."""
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
    ap.add_argument("--require-pg", action="store_true",
                    help="skip (exit 77) unless DFDG_TEST_PG names a PostgreSQL to run on")
    args = ap.parse_args()
    if args.require_pg and not PG:
        print("SKIP: DFDG_TEST_PG is not set")
        sys.exit(77)
    dfdg = os.path.abspath(args.dfdg)
    # A ctest timeout sends SIGTERM: exit through atexit, so the PostgreSQL schemas go too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
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
