/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls.c: HTTPS and mutual TLS for the server (TLS 1.2 and 1.3, RFC 5246 / RFC 8446) on the
 * GnuTLS that libmicrohttpd is built with, so dfdg adds no TLS stack of its own. Client
 * certificates are verified as X.509 paths (RFC 5280) against the configured client CA and
 * their subject names (RFC 4514 strings) are mapped to orgs.
 *
 * Invariants:
 *   1. The private key is read into sodium_malloc memory, handed to libmicrohttpd once, and
 *      wiped as soon as the daemon has started (GnuTLS keeps its own copy); no message ever
 *      quotes a key, certificate or CA file's contents, only its path.
 *   2. The cert/key pair and the CA file are checked with GnuTLS before the daemon starts, so
 *      a broken file is reported as such and never as "cannot listen".
 *   3. With a client CA, a request is authenticated by its certificate only when GnuTLS
 *      verifies the whole chain now (trust, validity period, key usage, the TLS-client
 *      purpose) and the subject is mapped; the mapping is checked against the known orgs at
 *      start, so a certificate never acts as an org the hub does not have, nor as a citizen.
 *   4. libmicrohttpd asks for client certificates (GNUTLS_CERT_REQUEST) without requiring
 *      them in the handshake; a missing or bad certificate is therefore answered with a 401
 *      problem by the request path, and routes without authentication (healthz, catalog)
 *      stay reachable.
 *   5. Verifying a chain costs about half a millisecond (ECDSA in nettle, ASN.1), more than
 *      the rest of a small request, so a verified and mapped chain is remembered by its
 *      SHA-256 (over every certificate's DER) for at most CACHE_SECONDS and never past the
 *      leaf's notAfter. Only successes are kept; each connection still proves that it holds
 *      the key in its own handshake, and the trust list never changes while the server runs.
 */
#include "core/dfdg.h"
#include "api/tls.h"
#include "api/api_int.h"
#include "authz/access.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <sodium.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TLS_FILE_MAX (1u << 20) /* largest PEM file read */
#define CACHE_SLOTS 256         /* verified chains remembered (direct-mapped) */
#define CACHE_SECONDS 300       /* longest a verified chain is remembered */
/* TLS 1.2 and 1.3 only: the versions before are deprecated (RFC 8996). */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* A verified, mapped client certificate chain (invariant 5). */
struct cert_slot {
    uint8_t hash[crypto_hash_sha256_BYTES];         /* SHA-256 of the chain (chain_hash) */
    int64_t until;                                  /* Unix seconds it is good until; 0: empty */
    const char *org;                                /* the mapped org (borrowed from the mapping) */
    char sub[sizeof((struct dfdg_claims *)0)->sub]; /* the claims' sub */
};

struct dfdg_tls {
    char *cert;                       /* server certificate chain, PEM, NUL-terminated */
    char *key;                        /* private key, PEM (sodium_malloc), NULL once wiped */
    size_t key_size;                  /* bytes allocated for key */
    char *client_ca;                  /* client CAs, PEM, or NULL (no client certificates) */
    struct dfdg_tls_client_org *orgs; /* the mapping, sorted by subject (strings borrowed) */
    size_t norgs;                     /* entries */
    bool allow_bearer;                /* with client_ca: tokens still accepted */
    struct MHD_OptionItem opts[6];    /* for MHD_OPTION_ARRAY */
    pthread_mutex_t cache_lock;       /* guards cache */
    struct cert_slot *cache;          /* CACHE_SLOTS, by the hash's first byte (cache_lock) */
};

static const struct MHD_OptionItem no_options[] = {{MHD_OPTION_END, 0, NULL}};

/*
 * Reads a whole file into a NUL-terminated buffer: sodium_malloc'ed when secret (the caller
 * frees with sodium_free), else malloc'ed. what names the setting in messages.
 */
static dfdg_err
read_pem(const char *what, const char *path, bool secret, char **out /* OUT */,
         size_t *size /* OUT */, struct dfdg_errinfo *ei)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dfdg_errinfo_set(ei, DFDG_IO, "cannot read %s %s: %s", what, path, strerror(errno));
    dfdg_err rc = DFDG_OK;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size <= 0 ||
        (unsigned long long)sb.st_size > TLS_FILE_MAX) {
        rc = dfdg_errinfo_set(ei, DFDG_CONFIG, "%s %s is not a PEM file of 1 to %u bytes", what,
                              path, TLS_FILE_MAX);
        goto close_fd;
    }
    size_t n = (size_t)sb.st_size;
    char *buf = secret ? sodium_malloc(n + 1) : malloc(n + 1);
    if (buf == NULL) {
        rc = DFDG_NOMEM;
        goto close_fd;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    buf[got] = '\0';
    if (got != n || strlen(buf) != n) {
        rc = dfdg_errinfo_set(ei, DFDG_CONFIG, "%s %s could not be read whole or is not text", what,
                              path);
        if (secret)
            sodium_free(buf);
        else
            free(buf);
        goto close_fd;
    }
    *out = buf;
    *size = n + 1;
close_fd:
    close(fd);
    return rc;
}

/* Checks the files with GnuTLS itself before libmicrohttpd gets them (invariant 2). */
static dfdg_err
check_files(const struct dfdg_server_config *c, const struct dfdg_tls *t, struct dfdg_errinfo *ei)
{
    gnutls_certificate_credentials_t cred;
    if (gnutls_certificate_allocate_credentials(&cred) < 0)
        return DFDG_NOMEM;
    dfdg_err rc = DFDG_OK;
    gnutls_datum_t cert = {(unsigned char *)t->cert, (unsigned)strlen(t->cert)};
    gnutls_datum_t key = {(unsigned char *)t->key, (unsigned)strlen(t->key)};
    int ret = gnutls_certificate_set_x509_key_mem(cred, &cert, &key, GNUTLS_X509_FMT_PEM);
    if (ret < 0) {
        rc = dfdg_errinfo_set(ei, DFDG_CONFIG,
                              "tls.cert %s and tls.key %s are not a PEM certificate and its "
                              "unencrypted private key: %s",
                              c->tls_cert, c->tls_key, gnutls_strerror(ret));
        goto free_cred;
    }
    if (t->client_ca != NULL) {
        gnutls_datum_t ca = {(unsigned char *)t->client_ca, (unsigned)strlen(t->client_ca)};
        ret = gnutls_certificate_set_x509_trust_mem(cred, &ca, GNUTLS_X509_FMT_PEM);
        if (ret <= 0) {
            rc = dfdg_errinfo_set(
                ei, DFDG_CONFIG, "tls.client_ca %s holds no PEM CA certificate%s%s",
                c->tls_client_ca, ret < 0 ? ": " : "", ret < 0 ? gnutls_strerror(ret) : "");
            goto free_cred;
        }
    }
    /* An expired server certificate still starts (clients decide), but it is said loudly. */
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) == 0) {
        if (gnutls_x509_crt_import(crt, &cert, GNUTLS_X509_FMT_PEM) == 0 &&
            gnutls_x509_crt_get_expiration_time(crt) < time(NULL))
            dfdg_log(DFDG_LOG_WARN, "tls.cert_expired", "file=%s", c->tls_cert);
        gnutls_x509_crt_deinit(crt);
    }
free_cred:
    gnutls_certificate_free_credentials(cred);
    return rc;
}

static int
org_map_cmp(const void *a, const void *b)
{
    return strcmp(((const struct dfdg_tls_client_org *)a)->subject,
                  ((const struct dfdg_tls_client_org *)b)->subject);
}

/* Copies and sorts the mapping; every org must be a known, non-citizen org (invariant 3). */
static dfdg_err
load_orgs(const struct dfdg_server_config *c, const struct dfdg_server_state *st,
          struct dfdg_tls *t, struct dfdg_errinfo *ei)
{
    if (c->tls_nclient_orgs == 0)
        return DFDG_OK;
    t->orgs = calloc(c->tls_nclient_orgs, sizeof *t->orgs);
    if (t->orgs == NULL)
        return DFDG_NOMEM;
    for (size_t i = 0; i < c->tls_nclient_orgs; i++) {
        const struct dfdg_tls_client_org *m = &c->tls_client_orgs[i];
        struct dfdg_claims claims;
        struct dfdg_actor actor;
        memset(&claims, 0, sizeof claims);
        struct dfdg_errinfo why = {0};
        if (!dfdg_strlcpy(claims.org, m->org, sizeof claims.org) ||
            dfdg_actor_from_claims(&claims, &actor, &why) != DFDG_OK ||
            actor.kind == DFDG_KIND_CITIZEN || dfdg_server_find_org(st, m->org) == NULL)
            return dfdg_errinfo_set(ei, DFDG_CONFIG,
                                    "tls.client_orgs: \"%s\" maps to \"%s\", which is not an org "
                                    "of this hub (citizens cannot be mapped)",
                                    m->subject, m->org);
        t->orgs[i] = *m;
    }
    t->norgs = c->tls_nclient_orgs;
    qsort(t->orgs, t->norgs, sizeof *t->orgs, org_map_cmp);
    return DFDG_OK;
}

dfdg_err
dfdg_tls_new(const struct dfdg_server_config *c, const struct dfdg_server_state *st,
             struct dfdg_tls **out, struct dfdg_errinfo *ei)
{
    *out = NULL;
    if (c->tls_cert == NULL)
        return DFDG_OK;
    if (c->tls_key == NULL)
        return dfdg_errinfo_set(ei, DFDG_CONFIG, "tls.cert needs tls.key");
    if (c->tls_client_ca == NULL && c->tls_nclient_orgs > 0)
        return dfdg_errinfo_set(ei, DFDG_CONFIG, "tls.client_orgs needs tls.client_ca");
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return dfdg_errinfo_set(ei, DFDG_CONFIG, "this libmicrohttpd is built without TLS");
    struct dfdg_tls *t = calloc(1, sizeof *t);
    if (t == NULL)
        return DFDG_NOMEM;
    size_t size;
    dfdg_err rc = read_pem("tls.cert", c->tls_cert, false, &t->cert, &size, ei);
    if (rc == DFDG_OK)
        rc = read_pem("tls.key", c->tls_key, true, &t->key, &t->key_size, ei);
    if (rc == DFDG_OK && c->tls_client_ca != NULL)
        rc = read_pem("tls.client_ca", c->tls_client_ca, false, &t->client_ca, &size, ei);
    if (rc == DFDG_OK)
        rc = check_files(c, t, ei);
    if (rc == DFDG_OK)
        rc = load_orgs(c, st, t, ei);
    if (rc == DFDG_OK && t->client_ca != NULL) {
        t->cache = calloc(CACHE_SLOTS, sizeof *t->cache);
        if (t->cache == NULL)
            rc = DFDG_NOMEM;
        else
            pthread_mutex_init(&t->cache_lock, NULL);
    }
    if (rc != DFDG_OK) {
        dfdg_tls_free(t);
        return rc;
    }
    t->allow_bearer = c->tls_client_ca == NULL || c->tls_allow_bearer;
    size_t i = 0;
    t->opts[i++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, t->cert};
    t->opts[i++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, t->key};
    t->opts[i++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, TLS_PRIORITIES};
    /* libmicrohttpd keeps this pointer (it asks for a client certificate while it is set). */
    if (t->client_ca != NULL)
        t->opts[i++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, t->client_ca};
    t->opts[i] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    dfdg_log(DFDG_LOG_INFO, "tls.ready", "cert=%s client_certs=%s bearer=%s mapped_subjects=%zu",
             c->tls_cert,
             t->client_ca == NULL ? "off"
             : t->allow_bearer    ? "optional"
                                  : "required",
             t->allow_bearer ? "accepted" : "refused", t->norgs);
    *out = t;
    return DFDG_OK;
}

unsigned
dfdg_tls_daemon_flags(const struct dfdg_tls *t)
{
    return t != NULL ? (unsigned)MHD_USE_TLS : 0u;
}

const struct MHD_OptionItem *
dfdg_tls_daemon_options(const struct dfdg_tls *t)
{
    return t != NULL ? t->opts : no_options;
}

static void
wipe_key(struct dfdg_tls *t)
{
    if (t->key == NULL)
        return;
    sodium_memzero(t->key, t->key_size);
    sodium_free(t->key);
    t->key = NULL;
    for (size_t i = 0; i < DFDG_ARRAY_LEN(t->opts); i++)
        if (t->opts[i].option == MHD_OPTION_HTTPS_MEM_KEY)
            t->opts[i].ptr_value = NULL;
}

void
dfdg_tls_started(struct dfdg_tls *t)
{
    if (t != NULL)
        wipe_key(t);
}

/* The mapped org of a subject DN, or of its CN; NULL when neither is mapped. */
static const char *
find_org(const struct dfdg_tls *t, const char *dn, const char *cn)
{
    struct dfdg_tls_client_org key = {dn, NULL};
    const struct dfdg_tls_client_org *m =
        bsearch(&key, t->orgs, t->norgs, sizeof *t->orgs, org_map_cmp);
    if (m == NULL && cn[0] != '\0') {
        key.subject = cn;
        m = bsearch(&key, t->orgs, t->norgs, sizeof *t->orgs, org_map_cmp);
    }
    return m != NULL ? m->org : NULL;
}

/* Control characters of a name taken from a certificate become spaces before it is shown. */
static void
clean_name(char *s)
{
    for (unsigned char *p = (unsigned char *)s; *p != '\0'; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = ' ';
}

/* The SHA-256 of a certificate chain: each certificate's DER, length first. */
static void
chain_hash(const gnutls_datum_t *chain, unsigned n, uint8_t hash[crypto_hash_sha256_BYTES])
{
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    for (unsigned i = 0; i < n; i++) {
        uint8_t len[4] = {(uint8_t)(chain[i].size >> 24), (uint8_t)(chain[i].size >> 16),
                          (uint8_t)(chain[i].size >> 8), (uint8_t)chain[i].size};
        crypto_hash_sha256_update(&h, len, sizeof len);
        crypto_hash_sha256_update(&h, chain[i].data, chain[i].size);
    }
    crypto_hash_sha256_final(&h, hash);
}

/* Fills out from a remembered chain (invariant 5); false when it is not remembered. */
static bool
cache_find(struct dfdg_tls *t, const uint8_t hash[crypto_hash_sha256_BYTES], int64_t now,
           struct dfdg_claims *out)
{
    struct cert_slot *slot = &t->cache[hash[0] % CACHE_SLOTS];
    bool hit = false;
    pthread_mutex_lock(&t->cache_lock);
    if (slot->until > now && memcmp(slot->hash, hash, sizeof slot->hash) == 0) {
        memset(out, 0, sizeof *out);
        dfdg_strlcpy(out->iss, "mtls", sizeof out->iss);
        dfdg_strlcpy(out->org, slot->org, sizeof out->org);
        dfdg_strlcpy(out->sub, slot->sub, sizeof out->sub);
        hit = true;
    }
    pthread_mutex_unlock(&t->cache_lock);
    return hit;
}

static void
cache_put(struct dfdg_tls *t, const uint8_t hash[crypto_hash_sha256_BYTES], int64_t until,
          const char *org, const char *sub)
{
    struct cert_slot *slot = &t->cache[hash[0] % CACHE_SLOTS];
    pthread_mutex_lock(&t->cache_lock);
    memcpy(slot->hash, hash, sizeof slot->hash);
    slot->until = until;
    slot->org = org;
    dfdg_strlcpy(slot->sub, sub, sizeof slot->sub);
    pthread_mutex_unlock(&t->cache_lock);
}

enum dfdg_tls_auth
dfdg_tls_authenticate(struct dfdg_tls *t, void *conn, struct dfdg_claims *out,
                      struct dfdg_errinfo *ei)
{
    if (t == NULL || t->client_ca == NULL)
        return DFDG_TLS_AUTH_BEARER;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t session = ci != NULL ? (gnutls_session_t)ci->tls_session : NULL;
    unsigned nchain = 0;
    const gnutls_datum_t *chain =
        session != NULL ? gnutls_certificate_get_peers(session, &nchain) : NULL;
    if (chain == NULL || nchain == 0) {
        if (t->allow_bearer)
            return DFDG_TLS_AUTH_BEARER;
        dfdg_errinfo_set(ei, DFDG_UNAUTH,
                         "this hub requires a client certificate (mutual TLS) issued by its "
                         "client CA; bearer tokens are not accepted here");
        return DFDG_TLS_AUTH_MISSING;
    }
    int64_t now = (int64_t)time(NULL);
    uint8_t hash[crypto_hash_sha256_BYTES];
    chain_hash(chain, nchain, hash);
    if (cache_find(t, hash, now, out))
        return DFDG_TLS_AUTH_CERT;
    /* The whole chain against the client CA, now, for the TLS-client purpose (invariant 3). */
    unsigned status = 0;
    gnutls_typed_vdata_st purpose = {GNUTLS_DT_KEY_PURPOSE_OID,
                                     (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0};
    int ret = gnutls_certificate_verify_peers(session, &purpose, 1, &status);
    if (ret < 0 || status != 0) {
        char why[256] = "it does not verify";
        gnutls_datum_t text = {NULL, 0};
        int printed =
            gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0);
        if (ret < 0)
            dfdg_strlcpy(why, gnutls_strerror(ret), sizeof why);
        else if (printed == 0 && text.data != NULL)
            dfdg_strlcpy(why, (const char *)text.data, sizeof why);
        gnutls_free(text.data);
        for (size_t n = strlen(why); n > 0 && why[n - 1] == ' '; n--)
            why[n - 1] = '\0';
        dfdg_errinfo_set(ei, DFDG_UNAUTH, "the client certificate is not accepted: %s", why);
        return DFDG_TLS_AUTH_INVALID;
    }
    gnutls_x509_crt_t crt;
    if (gnutls_x509_crt_init(&crt) < 0) {
        dfdg_errinfo_set(ei, DFDG_UNAUTH, "the client certificate cannot be read");
        return DFDG_TLS_AUTH_INVALID;
    }
    enum dfdg_tls_auth res = DFDG_TLS_AUTH_INVALID;
    gnutls_datum_t dn = {NULL, 0};
    char cn[128] = "";
    size_t cnlen = sizeof cn;
    if (gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER) < 0 ||
        gnutls_x509_crt_get_dn3(crt, &dn, 0) < 0 || dn.data == NULL) {
        dfdg_errinfo_set(ei, DFDG_UNAUTH, "the client certificate's subject cannot be read");
        goto free_crt;
    }
    if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &cnlen) < 0)
        cn[0] = '\0';
    const char *org = find_org(t, (const char *)dn.data, cn);
    if (org == NULL) {
        char shown[256];
        dfdg_strlcpy(shown, (const char *)dn.data, sizeof shown);
        clean_name(shown);
        dfdg_log(DFDG_LOG_INFO, "tls.unmapped", "subject=\"%s\"", shown);
        dfdg_errinfo_set(ei, DFDG_UNAUTH,
                         "the client certificate's subject \"%s\" is not mapped to an org", shown);
        goto free_dn;
    }
    memset(out, 0, sizeof *out);
    dfdg_strlcpy(out->iss, "mtls", sizeof out->iss);
    dfdg_strlcpy(out->org, org, sizeof out->org);
    snprintf(out->sub, sizeof out->sub, "cert:%s", cn[0] != '\0' ? cn : (const char *)dn.data);
    clean_name(out->sub);
    int64_t expires = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
    cache_put(t, hash, expires < now + CACHE_SECONDS ? expires : now + CACHE_SECONDS, org,
              out->sub);
    res = DFDG_TLS_AUTH_CERT;
free_dn:
    gnutls_free(dn.data);
free_crt:
    gnutls_x509_crt_deinit(crt);
    return res;
}

void
dfdg_tls_free(struct dfdg_tls *t)
{
    if (t == NULL)
        return;
    wipe_key(t);
    if (t->cache != NULL) {
        pthread_mutex_destroy(&t->cache_lock);
        free(t->cache);
    }
    free(t->cert);
    free(t->client_ca);
    free(t->orgs);
    free(t);
}
