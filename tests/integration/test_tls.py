# SPDX-License-Identifier: Apache-2.0
"""HTTPS and mutual TLS (`dfdg serve --config FILE` with a "tls" object), and the config file.

The certificates are made here with the openssl command (scripts/install-deps.sh installs it):
a CA, a server certificate for 127.0.0.1, client certificates mapped by subject DN and by CN,
one trusted but not mapped, and one with a mapped subject from another CA. Everything runs on
loopback with short-lived files in a temporary folder."""
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from dfdg_it import Hub, Response, is_problem, person, run  # noqa: E402

JENS = "0101901235"  # resident of 101 (København)
KK_DN = "CN=kk-system,O=Koebenhavns Kommune,C=DK"  # mapped by its whole subject DN
AK_CN = "akasse-batch"                                # mapped by its CN alone
AKASSE = "akasse:3f"
SECRET_MARK = "TOPSECRETKEYMATERIAL"

_CERTS = {}


def openssl(*args, cwd):
    if shutil.which("openssl") is None:
        raise AssertionError("the openssl command is needed (scripts/install-deps.sh installs it)")
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("openssl %s failed: %s" % (args[0], r.stderr))


def certs():
    """Makes the test PKI once per process; returns {name: path} (name.pem / name.key)."""
    if _CERTS:
        return _CERTS
    d = tempfile.mkdtemp(prefix="dfdg-tls-")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca, cn in (("ca", "dfdg test CA"), ("other-ca", "another CA")):
        openssl("req", "-x509", *ec, "-keyout", ca + ".key", "-out", ca + ".pem", "-days", "2",
                "-subj", "/CN=" + cn, cwd=d)

    def leaf(name, subj, ext, ca="ca"):
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(ext)
        openssl("req", *ec, "-keyout", name + ".key", "-out", name + ".csr", "-subj", subj, cwd=d)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
                "-CAcreateserial", "-days", "2", "-out", name + ".pem", "-extfile", name + ".ext",
                cwd=d)

    client = "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n"
    leaf("server", "/CN=127.0.0.1",
         "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
         "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    leaf("kk", "/C=DK/O=Koebenhavns Kommune/CN=kk-system", client)
    leaf("ak", "/O=3F A-kasse/CN=" + AK_CN, client)
    leaf("unmapped", "/O=Somebody/CN=unmapped-system", client)
    leaf("rogue", "/C=DK/O=Koebenhavns Kommune/CN=kk-system", client, ca="other-ca")
    # A key with a marker where its secret would be: it must never show up in a message.
    with open(os.path.join(d, "bad.key"), "w") as f:
        f.write("-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n"
                % (SECRET_MARK * 3))
    _CERTS["dir"] = d
    for name in ("ca", "other-ca", "server", "kk", "ak", "unmapped", "rogue", "bad"):
        _CERTS[name] = os.path.join(d, name)
    return _CERTS


def context(client=None, ca="ca"):
    """A client TLS context that verifies the server against ca (hostname 127.0.0.1 in the
    SAN), presenting client's certificate when given."""
    c = certs()
    ctx = ssl.create_default_context(cafile=c[ca] + ".pem")
    if client:
        ctx.load_cert_chain(c[client] + ".pem", c[client] + ".key")
    return ctx


def tls_config(h, **tls):
    """Writes a config file for hub h (db and a listen address the command line overrides)."""
    c = certs()
    conf = {"db": h.db, "listen": "127.0.0.1:1", "threads": 2,
            "tls": dict({"cert": c["server"] + ".pem", "key": c["server"] + ".key"}, **tls)}
    path = os.path.join(h.tmp, "serve-%d.json" % time.monotonic_ns())
    with open(path, "w") as f:
        json.dump(conf, f)
    return path


def mtls_config(h, **extra):
    c = certs()
    return tls_config(h, client_ca=c["ca"] + ".pem",
                      client_orgs={KK_DN: "kommune:101", AK_CN: AKASSE}, **extra)


def start(h, config):
    """Starts `dfdg serve --config config --listen <free port>` for h (the config's db, the
    command line's address) and waits for /healthz over HTTPS."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        h.port = s.getsockname()[1]
    h.base = "https://127.0.0.1:%d" % h.port
    h.log = open(os.path.join(h.tmp, "serve.log"), "w")
    h.proc = subprocess.Popen([h.dfdg, "serve", "--config", config,
                               "--listen", "127.0.0.1:%d" % h.port],
                              stdout=h.log, stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            if req(h, "GET", "/healthz").status == 200:
                return
        except OSError:
            pass
        if h.proc.poll() is not None:
            raise AssertionError("dfdg serve exited: %s" % h.serve_log())
        time.sleep(0.05)
    raise AssertionError("dfdg serve did not come up over HTTPS: %s" % h.serve_log())


def req(h, method, path, client=None, org=None, body=None, headers=None, purpose=None,
        scheme="https", ctx=None):
    """A request over HTTPS (or plain HTTP with scheme="http") with an optional client
    certificate and an optional bearer token for org."""
    hdrs = dict(headers or {})
    if org is not None:
        hdrs["Authorization"] = "Bearer " + h.token(org)
    if purpose:
        hdrs["DFDG-Purpose"] = purpose
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    url = "%s://127.0.0.1:%d%s" % (scheme, h.port, path)
    rq = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    kw = {}
    if scheme == "https":
        kw["context"] = ctx or context(client)
    try:
        with urllib.request.urlopen(rq, timeout=20, **kw) as r:
            return Response(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Response(e.code, e.headers, e.read())


def refused(h, path, client):
    """A request with this client certificate: the 401 problem, or None when the TLS
    handshake itself was refused (either is a refusal)."""
    try:
        r = req(h, "GET", path, client=client, purpose="case-handling")
    except (ssl.SSLError, ConnectionError) as e:
        return e
    except urllib.error.URLError as e:
        if isinstance(e.reason, (ssl.SSLError, ConnectionError)):
            return e
        raise
    assert is_problem(r, 401), r
    return r


def record(source_ref):
    return {"type": "jobseeker-registration", "cpr": JENS, "source_ref": source_ref,
            "valid_from": "2026-03-02",
            "data": {"registration_date": "2026-03-02", "target_group": "1"}}


def audit_entries(h):
    return [json.loads(bytes(e[0])) for e in h.sql("SELECT entry FROM audit_entry ORDER BY idx")]


def hub(dfdg):
    return Hub(dfdg, [person(JENS, "101")], start=False)


def test_https_with_server_certificate(dfdg):
    h = hub(dfdg)
    try:
        start(h, tls_config(h))  # the command line's --listen overrides the file's
        r = req(h, "GET", "/healthz")
        assert r.status == 200 and r.json == {"status": "ok"}, r
        # No client CA: bearer tokens authenticate, as on plain HTTP.
        r = req(h, "POST", "/v1/records", org="kommune:101", purpose="case-handling",
                body=record("https-1"))
        assert r.status == 201, r
        g = req(h, "GET", "/v1/records/" + r.json["id"], org="kommune:101",
                purpose="case-handling")
        assert g.status == 200 and g.json["cpr"] == JENS, g
        assert is_problem(req(h, "GET", "/v1/feed"), 401)
        # The server shows the configured certificate: a client trusting another CA refuses it.
        try:
            req(h, "GET", "/healthz", ctx=context(ca="other-ca"))
            raise AssertionError("a server certificate from the wrong CA was accepted")
        except urllib.error.URLError as e:
            assert isinstance(e.reason, ssl.SSLCertVerificationError), e
        # Plain HTTP to the TLS port gets no HTTP answer, and the server carries on.
        try:
            r = req(h, "GET", "/healthz", scheme="http")
            raise AssertionError("plain HTTP was answered on the TLS port: %r" % r)
        except (http.client.HTTPException, ConnectionError, urllib.error.URLError):
            pass
        assert req(h, "GET", "/healthz").status == 200
        log = h.serve_log()
        assert "tls.ready" in log and "client_certs=off" in log, log
        assert "PRIVATE KEY" not in log
    finally:
        h.close()


def test_mtls_maps_certificates_to_orgs(dfdg):
    h = hub(dfdg)
    try:
        start(h, mtls_config(h))
        # Routes without authentication stay reachable without a certificate.
        assert req(h, "GET", "/healthz").status == 200
        assert req(h, "GET", "/v1/catalog").status == 200
        # No client certificate: refused, and a bearer token does not help (allow_bearer off).
        r = refused(h, "/v1/feed", None)
        assert "client certificate" in r.json["detail"], r
        r = req(h, "POST", "/v1/records", org="kommune:101", purpose="case-handling",
                body=record("bearer-1"))
        assert is_problem(r, 401) and "client certificate" in r.json["detail"], r
        # A certificate with the mapped subject from another CA, and a trusted one whose
        # subject is not mapped: refused.
        refused(h, "/v1/feed", "rogue")
        r = refused(h, "/v1/feed", "unmapped")
        assert "not mapped" in r.json["detail"] and "unmapped-system" in r.json["detail"], r
        assert h.db_count() == 0
        # The mapped certificate (by DN) reports and reads as kommune 101, without a token.
        r = req(h, "POST", "/v1/records", client="kk", purpose="case-handling",
                body=record("mtls-1"))
        assert r.status == 201, r
        rid = r.json["id"]
        g = req(h, "GET", "/v1/records/" + rid, client="kk", purpose="case-handling")
        assert g.status == 200 and g.json["id"] == rid and g.json["cpr"] == JENS, g
        # Purpose still comes from DFDG-Purpose, as for tokens.
        r = req(h, "GET", "/v1/records/" + rid, client="kk", purpose="research")
        assert is_problem(r, 403) and r.json["rule"] == "purpose.kind", r
        # Verified chains are remembered: another chain with the same subject is not.
        refused(h, "/v1/records/" + rid, "rogue")
        # Mapped by CN: the a-kasse is not entitled to the kommune's record; denied and logged.
        r = req(h, "GET", "/v1/records/" + rid, client="ak", purpose="case-handling")
        assert is_problem(r, 403), r
        entries = audit_entries(h)
        by_kk = [e for e in entries if e["org"] == "kommune:101"]
        assert len(by_kk) >= 3, entries           # the write, the read, the denied purpose
        assert all(e["sub"] == "cert:kk-system" for e in by_kk), by_kk
        assert any(e.get("outcome") == "denied" and e["org"] == AKASSE and
                   e["sub"] == "cert:" + AK_CN for e in entries), entries
        assert not any(e["org"] not in ("kommune:101", AKASSE) for e in entries), entries
        log = h.serve_log()
        assert "client_certs=required" in log and "bearer=refused" in log, log
        assert "mapped_subjects=2" in log, log
    finally:
        h.close()


def test_mtls_allow_bearer(dfdg):
    h = hub(dfdg)
    try:
        start(h, mtls_config(h, allow_bearer=True))
        r = req(h, "POST", "/v1/records", org="kommune:101", purpose="case-handling",
                body=record("bearer-2"))
        assert r.status == 201, r
        r = req(h, "POST", "/v1/records", client="kk", purpose="case-handling",
                body=record("cert-2"))
        assert r.status == 201, r
        # A certificate that is sent must still verify and be mapped.
        refused(h, "/v1/feed", "unmapped")
        assert is_problem(req(h, "GET", "/v1/feed"), 401)  # neither certificate nor token
        subs = {e["sub"] for e in audit_entries(h) if e["org"] == "kommune:101"}
        assert subs == {"it", "cert:kk-system"}, subs
        assert "client_certs=optional bearer=accepted" in h.serve_log()
    finally:
        h.close()


def serve(dfdg, *args):
    return subprocess.run([dfdg, "serve", *args], capture_output=True, text=True, timeout=60)


def write(h, name, text):
    path = os.path.join(h.tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def assert_no_secret(r):
    out = r.stdout + r.stderr
    assert SECRET_MARK not in out and "PRIVATE KEY" not in out, out
    with open(certs()["server"] + ".key") as f:
        for line in f:
            if not line.startswith("-----"):
                assert line.strip() not in out, out


def test_config_file_errors(dfdg):
    c = certs()
    h = hub(dfdg)
    good = {"db": h.db, "listen": "127.0.0.1:0",
            "tls": {"cert": c["server"] + ".pem", "key": c["server"] + ".key"}}

    def conf(**tls):
        d = json.loads(json.dumps(good))
        d["tls"].update(tls)
        return write(h, "c-%d.json" % time.monotonic_ns(), json.dumps(d))

    # Malformed files: exit 2, the file and the key (or line) named.
    r = serve(dfdg, "--config", write(h, "bad.json", '{"db": "x.db",\n "threads": }\n'))
    assert r.returncode == 2 and "bad.json:2:" in r.stderr and "not valid JSON" in r.stderr, r
    r = serve(dfdg, "--config", write(h, "unknown.json", '{"db": "x.db", "treads": 4}'))
    assert r.returncode == 2 and 'unknown key "treads"' in r.stderr, r
    r = serve(dfdg, "--config", conf(passphrase="hunter2"))
    assert r.returncode == 2 and 'unknown key "tls.passphrase"' in r.stderr, r
    assert "hunter2" not in r.stderr, r
    r = serve(dfdg, "--config", write(h, "range.json", '{"db": "x.db", "threads": 0}'))
    assert r.returncode == 2 and '"threads"' in r.stderr, r
    r = serve(dfdg, "--config", write(h, "half.json", json.dumps(
        {"db": h.db, "tls": {"cert": c["server"] + ".pem"}})))
    assert r.returncode == 2 and '"key"' in r.stderr, r
    r = serve(dfdg, "--config", os.path.join(h.tmp, "no-such.json"))
    assert r.returncode == 2 and "no-such.json" in r.stderr, r
    # Well-formed, but the server cannot start: exit 1, the setting and the file named.
    missing = os.path.join(h.tmp, "no-such-cert.pem")
    r = serve(dfdg, "--config", conf(cert=missing))
    assert r.returncode == 1 and "tls.cert" in r.stderr and missing in r.stderr, r
    assert_no_secret(r)
    r = serve(dfdg, "--config", conf(key=c["bad"] + ".key"))
    assert r.returncode == 1 and "tls.key" in r.stderr, r
    assert_no_secret(r)
    r = serve(dfdg, "--config", conf(key=c["kk"] + ".key"))  # a key of another certificate
    assert r.returncode == 1 and "tls.key" in r.stderr, r
    assert_no_secret(r)
    r = serve(dfdg, "--config", conf(client_ca=c["server"] + ".key"))
    assert r.returncode == 1 and "tls.client_ca" in r.stderr, r
    assert_no_secret(r)
    r = serve(dfdg, "--config", conf(client_ca=c["ca"] + ".pem",
                                     client_orgs={KK_DN: "kommune:999"}))
    assert r.returncode == 1 and "kommune:999" in r.stderr, r
    r = serve(dfdg, "--config", conf(client_ca=c["ca"] + ".pem", client_orgs={KK_DN: "citizen"}))
    assert r.returncode == 1 and "citizen" in r.stderr, r
    # --help tells of the file and its tls settings.
    r = serve(dfdg, "--help")
    assert r.returncode == 0 and "--config FILE" in r.stdout and '"client_orgs"' in r.stdout, r


if __name__ == "__main__":
    run([test_https_with_server_certificate, test_mtls_maps_certificates_to_orgs,
         test_mtls_allow_bearer, test_config_file_errors])
