# SPDX-License-Identifier: Apache-2.0
"""Abuse (issue 6, hardening): hostile clients get a clear answer and the hub stays up.

Slow clients (silent, header and body trickles: cut by the connection and request timeouts
while others are served), huge headers and bodies (Content-Length lies, endless chunked
bodies, 100-continue), ambiguous framing (request smuggling), deeply nested and malformed JSON
with NUL bytes and invalid UTF-8 on every JSON input, SQL meta-characters in every field a
client sends (the store stays intact and `dfdg audit verify` passes), path traversal and NUL
tricks in paths and queries, forged tokens signed for real (with the store's own issuer key
through libsodium, so expiry and not-before are tested on a valid signature), citizen tokens
on caseworker routes (403, logged as denials) and replayed writes (one record, 200 replays,
409 conflicts, also when the replays race into one group commit).

Every answer that HTTP allows is an RFC 9457 problem; libmicrohttpd's own refusals of
oversized request lines and headers (414, 431) are plain HTML with `Connection: close`.
Raw sockets are used where urllib would tidy the attack away. The slow-client cases run a
server with --connection-timeout 2 --request-timeout 3; the file takes about 30 s.
"""
import base64
import ctypes
import ctypes.util
import http.client
import json
import os
import socket
import sys
import threading
import time
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(__file__))
from dfdg_it import Hub, is_problem, person, run, sample_value  # noqa: E402

JENS = "0101901235"   # resident of 101 (København)
ANE = "0202851234"    # resident of 147 (Frederiksberg)
DAY = "2026-01-05"


def absence(ref, cpr=JENS, comment=None, **kw):
    data = {"absence_type": "10", "notification_date": DAY}
    if comment is not None:
        data["comment"] = comment
    rec = {"type": "absence", "cpr": cpr, "source_ref": ref, "valid_from": DAY, "data": data}
    rec.update(kw)
    return rec


def hub(dfdg, extra_args=()):
    return Hub(dfdg, [person(JENS, "101"), person(ANE, "147")], extra_args=list(extra_args))


def audit_entries(h):
    rows = h.sql("SELECT entry FROM audit_entry ORDER BY idx")
    return [json.loads(bytes(row[0])) for row in rows]


def verify_audit(h):
    r = h.cli("audit", "verify", "--db", h.db, check=False)
    assert r.returncode == 0, ("audit verify failed", r.stdout, r.stderr)


# --- raw HTTP ------------------------------------------------------------------------------

class RawAnswer:
    """What came back on a raw socket: the first response, and whether the server closed."""

    def __init__(self, data, closed, seconds):
        self.data, self.closed, self.seconds = data, closed, seconds
        self.status, self.headers, self.body = None, {}, b""
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            return
        lines = head.decode("latin-1").split("\r\n")
        # Skip interim answers (100 Continue) to the final one.
        while lines and lines[0].startswith("HTTP/1.1 1") and rest:
            head, sep, rest = rest.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        n = int(self.headers.get("content-length", "0") or 0)
        self.body = rest[:n]
        try:
            self.json = json.loads(self.body)
        except ValueError:
            self.json = None

    def is_problem(self, status):
        return (self.status == status and
                "application/problem+json" in self.headers.get("content-type", "") and
                isinstance(self.json, dict) and self.json.get("status") == status and
                all(isinstance(self.json.get(k), str) for k in ("type", "title", "detail")))

    def __repr__(self):
        return "<raw %s closed=%s %.1fs %r>" % (self.status, self.closed, self.seconds,
                                                 self.data[:300])


def raw(h, data, wait=5.0, shut_write=False):
    """Sends data on a fresh connection and reads until the server closes or `wait` passes
    without a byte."""
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", h.port), timeout=wait)
    out, closed = b"", False
    try:
        try:
            s.sendall(data)
            if shut_write:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may answer and close before it has read everything
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            out += chunk
            if b"\r\n\r\n" in out and not out.startswith(b"HTTP/1.1 100"):
                a = RawAnswer(out, False, 0)
                if a.status is not None and len(a.body) >= int(a.headers.get("content-length",
                                                                               "0") or 0):
                    # A whole answer; see whether the server closes right after it.
                    s.settimeout(0.5)
    finally:
        s.close()
    return RawAnswer(out, closed, time.monotonic() - t0)


def request_bytes(method, path, headers=(), body=b""):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1"]
    lines += ["%s: %s" % kv for kv in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def auth_headers(h, org="kommune:101", purpose="case-handling", token=None):
    return [("Authorization", "Bearer " + (token or h.token(org))), ("DFDG-Purpose", purpose)]


# --- tokens signed with the store's issuer key ---------------------------------------------

_SODIUM = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
assert _SODIUM.sodium_init() >= 0


def b64(obj):
    raw_bytes = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return base64.urlsafe_b64encode(raw_bytes).rstrip(b"=").decode()


def new_secret_key():
    pk, sk = ctypes.create_string_buffer(32), ctypes.create_string_buffer(64)
    assert _SODIUM.crypto_sign_keypair(pk, sk) == 0
    return sk.raw


def dev_issuer(h):
    rows = dict(h.sql("SELECT key, value FROM meta WHERE key IN "
                      "('dev_issuer', 'dev_issuer_secret')"))
    iss = bytes(rows["dev_issuer"]).decode()
    return iss, bytes(rows["dev_issuer_secret"])


def mint(sk, claims, header=None):
    """A compact JWS over claims (a dict, or raw bytes for a payload that is not JSON)."""
    signing_input = (b64(header or {"alg": "EdDSA", "typ": "JWT"}) + "." + b64(claims)).encode()
    sig = ctypes.create_string_buffer(64)
    assert _SODIUM.crypto_sign_detached(sig, None, signing_input,
                                        ctypes.c_ulonglong(len(signing_input)), sk) == 0
    return signing_input.decode() + "." + b64(sig.raw)


# --- slow clients --------------------------------------------------------------------------

def trickle(h, head, data, step, limit, result, key):
    """Sends head at once, then data a byte every `step` seconds; records after how many
    seconds the server closed the connection (None: still open after `limit`)."""
    s = socket.create_connection(("127.0.0.1", h.port))
    s.settimeout(step)
    t0 = time.monotonic()
    i = 0
    try:
        s.sendall(head)
        while time.monotonic() - t0 < limit:
            try:
                if i < len(data):
                    s.send(data[i:i + 1])
                    i += 1
                if not s.recv(4096):
                    result[key] = time.monotonic() - t0
                    return
            except socket.timeout:
                continue
            except OSError:
                result[key] = time.monotonic() - t0
                return
        result[key] = None
    finally:
        s.close()


def test_slow_clients_are_cut_and_others_served(dfdg):
    h = hub(dfdg, ["--connection-timeout", "2", "--request-timeout", "3"])
    try:
        tok = h.token("kommune:101")
        body = json.dumps(absence("slow")).encode()
        post = request_bytes("POST", "/v1/records",
                             auth_headers(h, token=tok) + [("Content-Type", "application/json"),
                                                           ("Content-Length", str(len(body)))])
        cases = {
            # Sends nothing, or part of a body and then nothing: the idle (connection)
            # timeout closes it.
            "silent": (b"", b"", 0.2),
            "stalled body": (post + body[:10], b"", 0.2),
            # A header byte, or a body byte, every 0.4 s: never idle for 2 s, so only the
            # request deadline (3 s) ends them.
            "header trickle": (b"", request_bytes("GET", "/v1/catalog", [("X-Pad", "a" * 200)]),
                               0.4),
            "body trickle": (post, body, 0.4),
        }
        results = {}
        threads = [threading.Thread(target=trickle, args=(h, head, data, step, 10, results, name))
                   for name, (head, data, step) in cases.items()]
        # A long-poll longer than the request deadline is not cut: its request has arrived.
        poll = {}

        def long_poll():
            t0 = time.monotonic()
            poll["r"] = h.req("GET", "/v1/feed?wait=4", "kommune:101")
            poll["s"] = time.monotonic() - t0

        threads.append(threading.Thread(target=long_poll))
        for t in threads:
            t.start()
        # Meanwhile other clients are served at once, here on one keep-alive connection that
        # makes requests for longer than the request deadline (each request has its own).
        c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=5)
        t0 = time.monotonic()
        served = 0
        while time.monotonic() - t0 < 4.5:
            t1 = time.monotonic()
            c.request("GET", "/healthz")
            resp = c.getresponse()
            assert resp.status == 200 and resp.read() == b'{"status":"ok"}'
            assert time.monotonic() - t1 < 3, "the server stalled behind slow clients"
            served += 1
            time.sleep(0.3)
        c.close()
        assert served >= 5, served
        for t in threads:
            t.join()
        for name in ("silent", "stalled body"):
            assert results[name] is not None and 0.9 < results[name] < 5, (name, results)
        for name in ("header trickle", "body trickle"):
            assert results[name] is not None, (name, "still open after 10 s", results)
            assert 2.5 < results[name] < 6, (name, results)
        assert poll["r"].status == 200 and poll["r"].json["items"] == [], poll
        assert poll["s"] >= 3.5, poll
        assert h.db_count() == 0
        assert "http.request_timeout" in h.serve_log()
        m = h.req("GET", "/metrics").raw.decode()
        cut = [ln for ln in m.splitlines() if ln.startswith("dfdg_http_request_timeouts_total ")]
        assert cut and int(cut[0].split()[1]) >= 2, cut
    finally:
        h.close()


def test_timeouts_are_options_with_help(dfdg):
    h = Hub(dfdg, start=False)
    r = h.cli("serve", "--help")
    assert "--connection-timeout" in r.stdout and "--request-timeout" in r.stdout, r.stdout
    for opt in ("--connection-timeout", "--request-timeout"):
        for bad in ("0", "-1", "x", "99999"):
            r = h.cli("serve", "--db", h.db, opt, bad, check=False)
            assert r.returncode == 2 and opt in r.stderr, (opt, bad, r.stderr)


# --- huge headers, bodies and framing ------------------------------------------------------

def test_huge_headers(dfdg):
    h = hub(dfdg)
    try:
        cases = {
            "one 100 KB header": request_bytes("GET", "/v1/catalog", [("X-Big", "a" * 100000)]),
            "10,000 headers": request_bytes("GET", "/v1/catalog",
                                            [("X-H%d" % i, "v") for i in range(10000)]),
            "100 KB token": request_bytes("GET", "/v1/person",
                                          [("Authorization", "Bearer " + "a" * 100000)]),
            "70 KB path": request_bytes("GET", "/v1/catalog/" + "a" * 70000),
        }
        for name, data in cases.items():
            a = raw(h, data)
            # libmicrohttpd refuses what passes its 64 KiB per-connection memory and closes.
            assert a.status in (413, 414, 431) and a.closed, (name, a)
            assert a.headers.get("connection", "").lower() == "close", (name, a)
        # Below that memory, a long path is just not found, and a long token is refused.
        a = raw(h, request_bytes("GET", "/v1/catalog/" + "a" * 8000))
        assert a.is_problem(404), a
        r = h.req("GET", "/v1/person", token="a" * 20000, cpr=JENS, purpose="case-handling")
        assert is_problem(r, 401), r
        assert h.req("GET", "/healthz").status == 200
    finally:
        h.close()


def test_huge_bodies(dfdg):
    h = hub(dfdg, ["--max-body", "65536", "--max-batch", "5"])
    try:
        assert h.post("kommune:101", absence("first")).status == 201
        before = h.db_count()
        hdrs = auth_headers(h) + [("Content-Type", "application/json")]
        # Over --max-body, with an honest Content-Length: read, dropped, 413.
        big = json.dumps(absence("big", comment="x" * 100000)).encode()
        r = h.req("POST", "/v1/records", "kommune:101", raw=big)
        assert is_problem(r, 413), r
        # A Content-Length far beyond anything we read: 413 at once, no body read, closed.
        for path in ("/v1/records", "/v1/records/batch", "/v1/catalog"):
            a = raw(h, request_bytes("POST" if path != "/v1/catalog" else "GET", path,
                                     hdrs + [("Content-Length", "100000000000")]))
            assert a.is_problem(413) and a.closed and a.seconds < 3, (path, a)
        # The client waits for 100 Continue: a body over the cap is refused before it is sent,
        # and so is one from a caller who is not authenticated.
        a = raw(h, request_bytes("POST", "/v1/records",
                                 hdrs + [("Content-Length", "70000"), ("Expect", "100-continue")]))
        assert a.is_problem(413) and b"100 Continue" not in a.data and a.seconds < 3, a
        a = raw(h, request_bytes("POST", "/v1/records",
                                 [("Authorization", "Bearer x.y.z"), ("Content-Length", "50"),
                                  ("Expect", "100-continue")]))
        assert a.is_problem(401) and b"100 Continue" not in a.data and a.seconds < 3, a
        # A chunked body over the cap: read to its end, dropped, 413.
        chunk = b"%x\r\n%s\r\n" % (8192, b" " * 8192)
        a = raw(h, request_bytes("POST", "/v1/records",
                                 hdrs + [("Transfer-Encoding", "chunked")],
                                 chunk * 12 + b"0\r\n\r\n"))
        assert a.is_problem(413), a
        # An endless chunked body: dropped up to a bound, then the connection is closed.
        s = socket.create_connection(("127.0.0.1", h.port), timeout=5)
        s.sendall(request_bytes("POST", "/v1/records", hdrs + [("Transfer-Encoding", "chunked")]))
        sent, cut = 0, False
        big_chunk = b"%x\r\n%s\r\n" % (1 << 16, b" " * (1 << 16))
        try:
            while sent < (64 << 20):
                s.sendall(big_chunk)
                sent += 1 << 16
        except OSError:
            cut = True
        s.close()
        assert cut and sent < (32 << 20), ("an endless body was read on", sent)
        # Batches: more lines than --max-batch is 413; a batch line over the cap too.
        lines = "\n".join(json.dumps(absence("b-%d" % i)) for i in range(6))
        r = h.req("POST", "/v1/records/batch", "kommune:101", raw=lines,
                  ctype="application/x-ndjson")
        assert is_problem(r, 413), r
        # A body on a route that takes none.
        a = raw(h, request_bytes("GET", "/v1/catalog", [("Content-Length", "5")], b"abcde"))
        assert a.is_problem(413), a
        assert h.db_count() == before, "an oversized request wrote"
        assert h.req("GET", "/healthz").status == 200
    finally:
        h.close()


def test_ambiguous_framing_and_duplicates(dfdg):
    h = hub(dfdg)
    try:
        before = h.db_count()
        body = json.dumps(absence("smuggle")).encode()
        hdrs = auth_headers(h) + [("Content-Type", "application/json")]
        cases = {
            # RFC 9112 6.1: both framings; a proxy may read one, we the other.
            "CL and TE": hdrs + [("Content-Length", str(len(body))),
                                 ("Transfer-Encoding", "chunked")],
            "two lengths": hdrs + [("Content-Length", str(len(body))), ("Content-Length", "5")],
            "two persons": hdrs + [("Content-Length", str(len(body))), ("DFDG-CPR", JENS),
                                   ("DFDG-CPR", ANE)],
            "two purposes": hdrs + [("Content-Length", str(len(body))),
                                    ("DFDG-Purpose", "statistics")],
            "two tokens": hdrs + [("Content-Length", str(len(body))),
                                  ("Authorization", "Bearer " + h.token("kommune:147"))],
        }
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        for name, hd in cases.items():
            # A valid chunked body where Transfer-Encoding is claimed, else the plain one.
            sent = chunked if name == "CL and TE" else body
            a = raw(h, request_bytes("POST", "/v1/records", hd, sent))
            assert a.is_problem(400) and a.closed, (name, a)
        # A transfer coding we do not decode leaves the body's end unknown: 501 at once.
        for coding, sent in (("gzip", b"\x1f\x8b\x08"), ("gzip, chunked", chunked)):
            a = raw(h, request_bytes("POST", "/v1/records",
                                     hdrs + [("Transfer-Encoding", coding)], sent))
            assert a.is_problem(501) and a.closed and a.seconds < 3, (coding, a)
        r = h.req("GET", "/v1/person/records?type=absence&type=holiday", "kommune:101", cpr=JENS)
        assert is_problem(r, 400) and "type" in r.json["detail"], r
        r = h.req("GET", "/v1/person/records?" + "&".join("p%d=1" % i for i in range(40)),
                  "kommune:101", cpr=JENS)
        assert is_problem(r, 400), r
        assert h.db_count() == before
        # The same headers once each work.
        r = h.req("POST", "/v1/records", "kommune:101", raw=body)
        assert r.status == 201, r
    finally:
        h.close()


# --- hostile JSON --------------------------------------------------------------------------

def hostile_bodies(good):
    """Bodies that must be refused with 400, made from a valid JSON body (bytes)."""
    assert b'"src"' in good
    return {
        "100k [": b"[" * 100000,
        "100k [ then ]": b"[" * 100000 + b"]" * 100000,
        "100k {": b'{"a":' * 100000 + b"1" + b"}" * 100000,
        "deep in data": good.replace(b'"src"', b'"src", "x": ' + b"[" * 50 + b"]" * 50),
        "invalid UTF-8": good.replace(b'"src"', b'"a\xffb"'),
        "overlong UTF-8": good.replace(b'"src"', b'"a\xc0\xafb"'),
        "UTF-8 surrogate": good.replace(b'"src"', b'"a\xed\xa0\x80b"'),
        "lone surrogate escape": good.replace(b'"src"', b'"a\\ud800b"'),
        "escaped NUL": good.replace(b'"src"', b'"a\\u0000b"'),
        "raw NUL in string": good.replace(b'"src"', b'"a\x00b"'),
        "raw NUL outside": good + b"\x00",
        "NUL in a key": good.replace(b'"source_ref"', b'"source\\u0000_ref"'),
        "duplicate key": good.replace(b'"source_ref": "src"',
                                      b'"source_ref": "src", "source_ref": "other"'),
        "BOM": b"\xef\xbb\xbf" + good,
        "empty": b"",
        "huge number": good.replace(b'"src"', b'1' + b"0" * 400),
        "not an object": b'"just a string"',
        "giant string": good.replace(b'"src"', b'"' + b"x" * 900000 + b'"'),
        "50k keys": good.replace(b'"src"', b'"src", ' + b", ".join(
            b'"k%d": 1' % i for i in range(50000))),
    }


def test_hostile_json_everywhere(dfdg):
    h = hub(dfdg)
    try:
        r = h.post("kommune:101", absence("target"))
        assert r.status == 201, r
        target = r.json["id"]
        cat = h.req("GET", "/v1/catalog/joblog-entry").json
        joblog = {"type": "joblog-entry", "source_ref": "src", "valid_from": DAY,
                  "data": {f["name"]: sample_value(f, day=DAY) for f in cat["fields"]
                           if f["required"]}}
        before = h.db_count()
        inputs = [
            ("POST", "/v1/records", "kommune:101", None, json.dumps(absence("src"))),
            ("POST", "/v1/records/%s/correction" % target, "kommune:101", None,
             json.dumps(absence("src"))),
            ("POST", "/v1/records/%s/cancellation" % target, "kommune:101", None,
             json.dumps({"source_ref": "src", "reason": "x"})),
            ("POST", "/v1/me/records", "citizen", JENS, json.dumps(joblog)),
        ]
        for method, path, org, citizen, good in inputs:
            for name, body in hostile_bodies(good.encode()).items():
                r = h.req(method, path, org, raw=body, citizen_cpr=citizen)
                assert is_problem(r, 400), (path, name, r)
                assert JENS.encode() not in r.raw, (path, name, "CPR echoed")
        # Batch lines: each bad line is its own 400 result, in order, and the good line of
        # the same batch still commits.
        good = json.dumps(absence("src")).encode()
        bad = [b for n, b in hostile_bodies(good).items()
               if b and b"\n" not in b and n not in ("raw NUL outside",)]
        batch = b"\n".join(bad + [json.dumps(absence("batch-good")).encode()])
        r = h.req("POST", "/v1/records/batch", "kommune:101", raw=batch,
                  ctype="application/x-ndjson")
        assert r.status == 200, r
        results = [json.loads(x) for x in r.raw.decode().splitlines()]
        assert [x["status"] for x in results] == [400] * len(bad) + [201], results
        assert [x["line"] for x in results] == list(range(1, len(bad) + 2)), results
        # A NUL byte splits nothing: a batch with one inside a line answers for that line.
        r = h.req("POST", "/v1/records/batch", "kommune:101", raw=good + b"\x00\n" + good,
                  ctype="application/x-ndjson")
        statuses = [json.loads(x)["status"] for x in r.raw.decode().splitlines()]
        assert r.status == 200 and statuses[0] == 400 and len(statuses) == 2, r
        # Only the good batch lines were stored; every request was answered, none crashed.
        assert h.db_count() == before + 2, (h.db_count(), before)
    finally:
        h.close()
    verify_audit(h)


# --- SQL meta-characters -------------------------------------------------------------------

SQL_META = ["'", '"', ";", "--", "/*", "*/", "\\", "%", "_", "' OR '1'='1",
            "'; DROP TABLE record; --",
            "\" OR \"\"=\"", "a%' ESCAPE '\\", "1; SELECT * FROM meta", "\u2019\u2018\u201c\u201d",
            "\uff07 OR 1=1", "x\\'; --", "\\x00", "%00", "' UNION SELECT value FROM meta --"]


def test_sql_metacharacters_are_data(dfdg):
    h = hub(dfdg)
    try:
        tables = sorted(r[0] for r in h.sql("SELECT name FROM sqlite_master WHERE type='table'")) \
            if not h.pg else None
        r = h.post("kommune:101", absence("base"))
        assert r.status == 201, r
        base = r.json["id"]
        stored = 1
        for i, meta in enumerate(SQL_META):
            # In a source_ref and a free-text field they are data: stored and shown as sent.
            r = h.post("kommune:101", absence(meta, comment=meta))
            assert r.status == 201, (meta, r)
            stored += 1
            g = h.req("GET", "/v1/records/" + r.json["id"], "kommune:101")
            assert g.status == 200, (meta, g)
            assert g.json["source_ref"] == meta and g.json["data"]["comment"] == meta, (meta, g)
            # Replayed, the same record; in every other field, a validation error.
            assert h.post("kommune:101", absence(meta, comment=meta)).json["id"] == r.json["id"]
            for field in ("type", "cpr", "cvr", "valid_from", "valid_to"):
                rec = absence("f-%d" % i, **{field: meta})
                assert is_problem(h.post("kommune:101", rec), 400), (field, meta)
            rec = absence("d-%d" % i)
            rec["data"]["absence_type"] = meta
            assert is_problem(h.post("kommune:101", rec), 400), meta
            rec["data"] = {meta: "1", "absence_type": "10", "notification_date": DAY}
            assert is_problem(h.post("kommune:101", rec), 400), meta
            q = urlquote(meta)
            # Query parameters: validation errors.
            for path in ("/v1/person/records?type=", "/v1/person/records?valid_on=",
                         "/v1/person/records?as_of=", "/v1/person/records?limit=",
                         "/v1/feed?after=", "/v1/feed?limit=", "/v1/feed?wait=",
                         "/v1/audit/proof/inclusion?size=1&index=",
                         "/v1/audit/proof/consistency?second=1&first="):
                r = h.req("GET", path + q, "kommune:101", cpr=JENS)
                assert is_problem(r, 400), (path, meta, r)
            for path in ("/v1/me/access-log?before=", "/v1/me/insight?format=",
                         "/v1/me/records?type="):
                r = h.req("GET", path + q, "citizen", citizen_cpr=JENS)
                assert is_problem(r, 400), (path, meta, r)
            # Path parameters: not found.
            for path in ("/v1/records/%s", "/v1/catalog/%s"):
                r = h.req("GET", path % q, "kommune:101")
                assert is_problem(r, 404), (path, meta, r)
            for path in ("/v1/records/%s/correction", "/v1/records/%s/cancellation"):
                r = h.req("POST", path % q, "kommune:101", body={"source_ref": "c", "reason": "x"})
                assert is_problem(r, 404), (path, meta, r)
            # Headers: a bad person is 400, a bad purpose 403, a bad token 401.
            hv = meta.encode("utf-8").decode("latin-1")
            r = h.req("GET", "/v1/person", "kommune:101", cpr=hv)
            assert is_problem(r, 400), (meta, r)
            r = h.req("GET", "/v1/person", "kommune:101", cpr=JENS, purpose=hv)
            assert is_problem(r, 403) and r.json["rule"] == "purpose.kind", (meta, r)
            r = h.req("GET", "/v1/person", token=hv, cpr=JENS, purpose="case-handling")
            assert is_problem(r, 401), (meta, r)
        # Citizen self-service takes the same characters as data.
        r = h.req("POST", "/v1/me/records", "citizen", citizen_cpr=JENS,
                  body={"type": "holiday", "source_ref": SQL_META[10], "valid_from": DAY,
                        "data": {"holiday_kind": holiday_kind(h), "comment": SQL_META[11]}})
        assert r.status == 201, r
        stored += 1
        assert h.db_count() == stored, (h.db_count(), stored)
        g = h.req("GET", "/v1/records/" + base, "kommune:101")
        assert g.status == 200 and g.json["status"] == "current", g
        if tables is not None:
            after = sorted(r[0] for r in h.sql("SELECT name FROM sqlite_master "
                                               "WHERE type='table'"))
            assert after == tables, (tables, after)
            assert h.sql("PRAGMA integrity_check") == [("ok",)]
    finally:
        h.close()
    verify_audit(h)


def urlquote(s):
    return quote(s, safe="")


def holiday_kind(h):
    t = h.req("GET", "/v1/catalog/holiday").json
    return [f for f in t["fields"] if f["name"] == "holiday_kind"][0]["values"][0]


# --- paths ---------------------------------------------------------------------------------

def test_path_traversal_and_nul_tricks(dfdg):
    h = hub(dfdg)
    try:
        r = h.post("kommune:101", absence("p"))
        rid = r.json["id"]
        citizen = h.token("citizen", JENS)
        paths = [
            "/openapi.json/../../../../etc/passwd", "/../../../../etc/passwd",
            "/v1/catalog/../../../../etc/passwd", "/v1/catalog/..%2f..%2f..%2fetc%2fpasswd",
            "/v1/catalog/%2e%2e/%2e%2e/etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
            "/v1/catalog/%252e%252e%252fetc%252fpasswd", "/v1/catalog/....//....//etc/passwd",
            "/v1/catalog/..\\..\\..\\etc\\passwd", "/v1/catalog/%5c..%5c..%5cetc%5cpasswd",
            "//etc/passwd", "/v1//catalog", "//v1/catalog", "/v1/catalog/", "/v1/catalog/.",
            "/v1/catalog/absence/../absence", "/./v1/catalog", "/v1/./catalog",
            "/v1/me/insight/../../../../etc/passwd", "/v1/me/insight/%2e%2e/%2e%2e/etc/passwd",
            "/v1/me/insight?format=../../../../etc/passwd", "/v1/me/insight?format=html/../x",
            "/openapi.json%00.html", "/v1/catalog/absence%00.json", "/healthz%00junk",
            "/v1/records/" + rid + "%00junk", "/v1/records/" + rid + "/../" + rid,
            "/v1/catalog/" + "../" * 2000 + "etc/passwd", "/" + "a/" * 10000,
            "/v1/catalog/catalog", "/proc/self/environ", "/etc/passwd", "/v1/catalog/%",
            "/v1/catalog/%zz", "/v1/catalog/%2", "/v1/records/%ff%fe",
        ]
        for path in paths:
            for hd in ([], auth_headers(h, token=citizen, purpose="self-service"),
                       auth_headers(h) + [("DFDG-CPR", JENS)]):
                a = raw(h, request_bytes("GET", path, hd + [("Connection", "close")]))
                assert a.status in (400, 401, 403, 404, 405, 414), (path, a)
                if a.status != 414:
                    assert a.is_problem(a.status), (path, a)
                for secret in (b"root:", b"PATH=", b"\x7fELF", b"<html"):
                    assert secret not in a.body, (path, secret)
        # Query NULs do not cut a value short either.
        for q in ("limit=5%00junk", "type=absence%00junk", "valid_on=2026-01-05%00x"):
            r = h.req("GET", "/v1/person/records?" + q, "kommune:101", cpr=JENS)
            assert is_problem(r, 400), (q, r)
        r = h.req("GET", "/v1/me/insight?format=html%00", "citizen", citizen_cpr=JENS)
        assert is_problem(r, 400), r
        # Escapes that decode to a real route still work (no over-eager refusal).
        assert h.req("GET", "/v1/catalog/%61bsence").status == 200
        assert h.req("GET", "/v1/records/" + rid, "kommune:101").status == 200
    finally:
        h.close()


# --- forged tokens -------------------------------------------------------------------------

def test_forged_tokens(dfdg):
    h = hub(dfdg)
    try:
        iss, sk = dev_issuer(h)
        now = int(time.time())
        claims = {"iss": iss, "sub": "forger", "org": "kommune:101", "iat": now, "exp": now + 600}
        good = mint(sk, claims)
        # The helper signs as the issuer does: the control case passes.
        r = h.post("kommune:101", absence("control"), token=good)
        assert r.status == 201, r
        before = h.db_count()
        head, payload, sig = good.split(".")
        other = new_secret_key()
        hs256 = b64({"alg": "HS256", "typ": "JWT"}) + "." + payload
        forged = {
            "alg none, no signature": b64({"alg": "none"}) + "." + payload + ".",
            "alg none, signed": mint(sk, claims, {"alg": "none"}),
            "alg HS256": hs256 + "." + sig,
            "alg eddsa lower case": mint(sk, claims, {"alg": "eddsa"}),
            "alg Ed25519": mint(sk, claims, {"alg": "Ed25519"}),
            "typ not JWT": mint(sk, claims, {"alg": "EdDSA", "typ": "JWE"}),
            "crit header": mint(sk, claims, {"alg": "EdDSA", "crit": ["exp"]}),
            "kid not a string": mint(sk, claims, {"alg": "EdDSA", "kid": 7}),
            "header not JSON": b64(b"{alg") + "." + payload + "." + sig,
            "wrong key": mint(other, claims),
            "swapped org": head + "." + b64(dict(claims, org="kommune:147")) + "." + sig,
            "swapped sub": head + "." + b64(dict(claims, sub="someone")) + "." + sig,
            "expired": mint(sk, dict(claims, iat=now - 7200, exp=now - 3600)),
            "expired past leeway": mint(sk, dict(claims, iat=now - 600, exp=now - 31)),
            "nbf in the future": mint(sk, dict(claims, nbf=now + 3600)),
            "iat in the future": mint(sk, dict(claims, iat=now + 3600, exp=now + 7200)),
            "unknown issuer": mint(sk, dict(claims, iss="evil-issuer")),
            "issuer with NUL": mint(sk, dict(claims, iss=iss + "\u0000x")),
            "org that does not exist": mint(sk, dict(claims, org="kommune:999")),
            "org with SQL": mint(sk, dict(claims, org="kommune:101' OR '1'='1")),
            "exp as string": mint(sk, dict(claims, exp=str(now + 600))),
            "exp as float": mint(sk, dict(claims, exp=now + 600.5)),
            "exp missing": mint(sk, {k: v for k, v in claims.items() if k != "exp"}),
            "exp huge": mint(sk, dict(claims, exp=10 ** 30)),
            "org a number": mint(sk, dict(claims, org=101)),
            "empty sub": mint(sk, dict(claims, sub="")),
            "cpr on a kommune token": mint(sk, dict(claims, cpr=JENS)),
            "citizen without cpr": mint(sk, dict(claims, org="citizen")),
            "duplicate org claim": mint(sk, ('{"iss":"%s","sub":"f","org":"star","org":'
                                             '"kommune:101","iat":%d,"exp":%d}'
                                             % (iss, now, now + 600)).encode()),
            "payload an array": mint(sk, [claims]),
            "payload not JSON": mint(sk, b"not json"),
            "garbage": "abc.def.ghi",
            "not base64url": good.replace("-", "+").replace("_", "/") + "==",
            "padding": good + "=",
            "two parts": head + "." + payload,
            "four parts": good + ".x",
            "truncated signature": good[:-2],
            "truncated payload": head + "." + payload[:-4] + "." + sig,
            "empty": "",
            "spaces": "   ",
            "huge": "a" * 5000 + "." + payload + "." + sig,
            "huge valid shape": mint(sk, dict(claims, pad="x" * 4000)),
            "whitespace inside": head + ". " + payload + "." + sig,
        }
        # Validly signed, refused for what they claim: the detail names the rule.
        why = {"expired": "expired", "expired past leeway": "expired",
               "nbf in the future": "not yet valid", "iat in the future": "future",
               "unknown issuer": "unknown issuer", "wrong key": "signature",
               "swapped org": "signature", "alg none, signed": "alg",
               "org that does not exist": "org", "citizen without cpr": "cpr",
               "huge valid shape": "too long"}
        for name, detail in why.items():
            r = h.req("GET", "/v1/person", token=forged[name], cpr=JENS, purpose="case-handling")
            assert is_problem(r, 401) and detail in r.json["detail"], (name, r)
        for name, tok in forged.items():
            for method, path, kw in (("POST", "/v1/records", dict(body=absence("f-" + name))),
                                     ("GET", "/v1/person", dict(cpr=JENS))):
                r = h.req(method, path, token=tok, purpose="case-handling", **kw)
                assert is_problem(r, 401), (name, path, r)
                assert r.headers.get("Content-Type") == "application/problem+json", r
        for scheme in ("Basic " + good, "bearer", "Bearer", "Token " + good, good):
            r = h.req("GET", "/v1/person", cpr=JENS, purpose="case-handling",
                      headers={"Authorization": scheme})
            assert is_problem(r, 401), (scheme[:20], r)
        # A valid token stays valid after all that (the cache holds no forged entry), and a
        # forged twin of it that differs in one signature bit is still refused.
        assert h.req("GET", "/v1/person", token=good, cpr=JENS,
                     purpose="case-handling").status == 200
        flipped = good[:-3] + ("A" if good[-3] != "A" else "B") + good[-2:]
        r = h.req("GET", "/v1/person", token=flipped, cpr=JENS, purpose="case-handling")
        assert is_problem(r, 401), r
        assert h.db_count() == before, "a forged token wrote"
    finally:
        h.close()


# --- citizen tokens on caseworker routes ---------------------------------------------------

def test_citizen_token_on_caseworker_routes(dfdg):
    h = hub(dfdg)
    try:
        r = h.post("kommune:101", absence("cw"))
        rid = r.json["id"]
        before, audit_before = h.db_count(), len(audit_entries(h))
        rec = json.dumps(absence("by-citizen"))
        routes = [
            ("POST", "/v1/records/batch", rec, "application/x-ndjson"),
            ("POST", "/v1/records/%s/correction" % rid, rec, None),
            ("POST", "/v1/records/%s/cancellation" % rid,
             json.dumps({"source_ref": "c", "reason": "x"}), None),
            ("GET", "/v1/feed", None, None),
        ]
        for method, path, body, ctype in routes:
            r = h.req(method, path, "citizen", citizen_cpr=JENS, raw=body, ctype=ctype)
            assert is_problem(r, 403) and r.json["rule"] == "citizen.route", (path, r)
        # A citizen naming another person on the shared read routes is denied too.
        r = h.req("GET", "/v1/person", "citizen", citizen_cpr=JENS, cpr=ANE)
        assert is_problem(r, 403), r
        # A caseworker token on the citizen's own routes.
        for path in ("/v1/me", "/v1/me/records", "/v1/me/access-log", "/v1/me/insight"):
            r = h.req("GET", path, "kommune:101")
            assert is_problem(r, 403) and r.json["rule"] == "citizen.only", (path, r)
        assert h.db_count() == before
        entries = audit_entries(h)[audit_before:]
        denied = [(e["org"], e["rule"]) for e in entries if e.get("outcome") == "denied"]
        assert denied.count(("citizen", "citizen.route")) == len(routes), denied
        assert denied.count(("kommune:101", "citizen.only")) == 4, denied
        assert any(org == "citizen" and rule != "citizen.route" for org, rule in denied), denied
        for e in entries:
            assert JENS not in json.dumps(e) and ANE not in json.dumps(e), e
    finally:
        h.close()
    verify_audit(h)


# --- replays -------------------------------------------------------------------------------

def test_replayed_writes(dfdg):
    h = hub(dfdg)
    try:
        r1 = h.post("kommune:101", absence("r-1"))
        assert r1.status == 201, r1
        n = h.db_count()
        # The same write again, and in the other CPR spelling: the same record, 200.
        r2 = h.post("kommune:101", absence("r-1"))
        assert r2.status == 200 and r2.json["id"] == r1.json["id"], r2
        r3 = h.post("kommune:101", absence("r-1", cpr="010190-1235"))
        assert r3.status in (200, 409), r3
        if r3.status == 200:
            assert r3.json["id"] == r1.json["id"], r3
        # Other content under the same source_ref: 409 conflict, nothing written.
        for other in (absence("r-1", comment="changed"), absence("r-1", valid_from="2026-01-06"),
                      absence("r-1", cpr=ANE)):
            r = h.post("kommune:101", other)
            assert r.status in (403, 409) and is_problem(r, r.status), (other, r)
        assert is_problem(h.post("kommune:101", absence("r-1", comment="changed")), 409)
        # The same source_ref is another org's own key.
        r = h.post("kommune:147", absence("r-1", cpr=ANE))
        assert r.status == 201, r
        n += 1
        # A batch that repeats a line: one record; replaying the whole batch: all 200.
        line = json.dumps(absence("r-batch"))
        clash = json.dumps(absence("r-batch", comment="other"))
        r = h.req("POST", "/v1/records/batch", "kommune:101", raw="\n".join([line, line, clash]),
                  ctype="application/x-ndjson")
        res = [json.loads(x) for x in r.raw.decode().splitlines()]
        assert [x["status"] for x in res] == [201, 200, 409], res
        assert res[0]["id"] == res[1]["id"], res
        n += 1
        r = h.req("POST", "/v1/records/batch", "kommune:101", raw="\n".join([line, line]),
                  ctype="application/x-ndjson")
        assert [json.loads(x)["status"] for x in r.raw.decode().splitlines()] == [200, 200], r
        # Corrections and cancellations replay the same way.
        corr = absence("r-corr", comment="fixed")
        c1 = h.req("POST", "/v1/records/%s/correction" % r1.json["id"], "kommune:101", body=corr)
        assert c1.status == 201, c1
        c2 = h.req("POST", "/v1/records/%s/correction" % r1.json["id"], "kommune:101", body=corr)
        assert c2.status == 200 and c2.json["id"] == c1.json["id"], c2
        r = h.req("POST", "/v1/records/%s/correction" % r1.json["id"], "kommune:101",
                  body=dict(corr, valid_from="2026-01-07"))
        assert is_problem(r, 409), r
        cancel = {"source_ref": "r-cancel", "reason": "wrong person"}
        k1 = h.req("POST", "/v1/records/%s/cancellation" % c1.json["id"], "kommune:101",
                   body=cancel)
        assert k1.status == 201, k1
        k2 = h.req("POST", "/v1/records/%s/cancellation" % c1.json["id"], "kommune:101",
                   body=cancel)
        assert k2.status == 200 and k2.json["id"] == k1.json["id"], k2
        r = h.req("POST", "/v1/records/%s/cancellation" % c1.json["id"], "kommune:101",
                  body=dict(cancel, reason="other"))
        assert is_problem(r, 409), r
        n += 2
        assert h.db_count() == n, (h.db_count(), n)
        # Replays racing into one group commit: exactly one 201, the rest 200, one record.
        results = []

        def send(rec):
            results.append(h.post("kommune:101", rec))

        for ref, recs in (("r-race", [absence("r-race")] * 16),
                          ("r-race-2", [absence("r-race-2")] * 8 +
                           [absence("r-race-2", comment="x")] * 8)):
            results.clear()
            threads = [threading.Thread(target=send, args=(rec,)) for rec in recs]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            statuses = sorted(r.status for r in results)
            assert statuses.count(201) == 1, (ref, statuses)
            winner = [r for r in results if r.status == 201][0]
            same = [r for r in results if r.status == 200]
            assert all(r.json["id"] == winner.json["id"] for r in same), ref
            assert set(statuses) <= {200, 201, 409}, (ref, statuses)
            n += 1
        assert 409 in statuses, statuses
        assert h.db_count() == n, (h.db_count(), n)
    finally:
        h.close()
    verify_audit(h)


if __name__ == "__main__":
    run([test_slow_clients_are_cut_and_others_served, test_timeouts_are_options_with_help,
         test_huge_headers, test_huge_bodies, test_ambiguous_framing_and_duplicates,
         test_hostile_json_everywhere, test_sql_metacharacters_are_data,
         test_path_traversal_and_nul_tricks, test_forged_tokens,
         test_citizen_token_on_caseworker_routes, test_replayed_writes])
