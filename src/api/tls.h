/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tls.h: HTTPS for `dfdg serve` (private to src/api). libmicrohttpd does TLS with GnuTLS;
 * this unit reads the certificate, key and client CA files named in the server config,
 * checks them before the daemon starts, hands libmicrohttpd its options, and turns a
 * connection's verified client certificate into the org it acts as (mutual TLS, the
 * production alternative to bearer tokens; DESIGN section 5).
 *
 * Thread rules: dfdg_tls_new, _started and _free run on the starting/stopping thread;
 * dfdg_tls_authenticate runs on any server thread (its cache has a lock of its own).
 */
#ifndef DFDG_API_TLS_H
#define DFDG_API_TLS_H

#include "core/dfdg.h"
#include "api/api.h"
#include "authz/token.h"

struct dfdg_tls;
struct dfdg_server_state;
struct MHD_OptionItem;

/* What the connection's certificate says about the caller (dfdg_tls_authenticate). */
enum dfdg_tls_auth {
    DFDG_TLS_AUTH_BEARER,  /* no certificate decides: authenticate with the bearer token */
    DFDG_TLS_AUTH_CERT,    /* a verified client certificate mapped to an org: claims filled */
    DFDG_TLS_AUTH_MISSING, /* a client certificate is required and none was sent */
    DFDG_TLS_AUTH_INVALID, /* the certificate is not trusted or its subject is not mapped */
};

/*
 * Reads and checks the TLS files c names (cert and key must match; client_ca must hold a CA
 * certificate) and checks that every tls_client_orgs entry names a known org of st (not a
 * citizen). *out is NULL when c has no tls_cert (plain HTTP). Errors: DFDG_CONFIG or DFDG_IO
 * with a message naming the setting and the file, never its contents; DFDG_NOMEM.
 * c's strings are borrowed for the lifetime of *out.
 */
dfdg_err dfdg_tls_new(const struct dfdg_server_config *c, const struct dfdg_server_state *st,
                      struct dfdg_tls **out /* OUT */, struct dfdg_errinfo *ei);

/* The MHD_start_daemon flags TLS adds (MHD_USE_TLS, or 0 for NULL). */
unsigned dfdg_tls_daemon_flags(const struct dfdg_tls *t);

/*
 * The libmicrohttpd options (certificate, key, trust, priorities) for MHD_OPTION_ARRAY,
 * ended by MHD_OPTION_END; just the end for NULL. Borrowed until dfdg_tls_started.
 */
const struct MHD_OptionItem *dfdg_tls_daemon_options(const struct dfdg_tls *t);

/* Call once the daemon has started (GnuTLS holds its own copy): wipes and frees the key. */
void dfdg_tls_started(struct dfdg_tls *t);

/*
 * Authenticates a request by its connection's client certificate (conn is the
 * libmicrohttpd connection). With no client CA configured (or t NULL) the answer is always
 * BEARER. Otherwise a certificate that was sent must verify against the client CA (chain,
 * validity, the TLS client key purpose) and its subject DN (RFC 4514) or CN must be mapped:
 * CERT with out->org and out->sub ("cert:<CN>") filled. No certificate: BEARER when
 * allow_bearer, else MISSING. ei says why for MISSING and INVALID. A chain verified and mapped
 * in the last few minutes is answered from a cache (tls.c, invariant 5).
 */
enum dfdg_tls_auth dfdg_tls_authenticate(struct dfdg_tls *t, void *conn,
                                         struct dfdg_claims *out /* OUT */,
                                         struct dfdg_errinfo *ei);

/* Frees t (the key buffer wiped first). Accepts NULL. */
void dfdg_tls_free(struct dfdg_tls *t);

#endif
