/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api.h: the HTTP server (libmicrohttpd, epoll thread pool with suspend/resume). Requests that
 * write are suspended while the writer thread commits them, so waiting for a commit never
 * ties up a server thread.
 */
#ifndef DFDG_API_API_H
#define DFDG_API_API_H

#include "core/dfdg.h"
#include "catalog/catalog.h"

struct dfdg_server;

struct dfdg_server_config {
    const char *store_uri;          /* the store to serve */
    const char *listen;             /* "ADDR:PORT", e.g. "127.0.0.1:8080" */
    const struct dfdg_catalog *cat; /* borrowed for the server's lifetime */
    unsigned threads;               /* server threads (0 = default) */
    size_t max_body;                /* largest single-record body, bytes */
    size_t max_batch_body;          /* largest batch body, bytes */
    size_t max_batch_lines;         /* most lines in one batch */
    size_t max_json_depth;          /* deepest JSON nesting accepted */
    size_t writer_queue;            /* bound on queued write requests (503 beyond) */
    unsigned connection_timeout;    /* seconds of inactivity before a connection is closed */
    unsigned request_timeout;       /* seconds for a request to arrive (0: no limit) */
    unsigned max_connections;       /* concurrent connections */
    int32_t access_grace_days;      /* reads after a move or a-kasse change (default 0) */
    /* TLS (api/tls.c). tls_cert NULL: plain HTTP. Files are read at start. */
    const char *tls_cert;                              /* PEM: server certificate (chain) */
    const char *tls_key;                               /* PEM: its key (wiped after start) */
    const char *tls_client_ca;                         /* PEM: client cert CAs; set: mTLS */
    const struct dfdg_tls_client_org *tls_client_orgs; /* client cert subject -> org */
    size_t tls_nclient_orgs;                           /* entries in tls_client_orgs */
    bool tls_allow_bearer;                             /* mTLS: bearer tokens still accepted */
};

/* One mapping of a client certificate to an org (mTLS, DESIGN section 5). */
struct dfdg_tls_client_org {
    const char *subject; /* the subject DN (RFC 4514, "CN=x,O=y,C=DK") or its CN alone */
    const char *org;     /* the org id the certificate acts as, e.g. "kommune:101" */
};
/* Fills c with the defaults (listen, limits, threads). */
void dfdg_server_config_defaults(struct dfdg_server_config *c);

/* Starts serving. Caller owns *out; stop it with dfdg_server_stop. */
dfdg_err dfdg_server_start(const struct dfdg_server_config *c, struct dfdg_server **out /* OUT */,
                           struct dfdg_errinfo *ei);
/* The bound port (useful with port 0). */
unsigned dfdg_server_port(const struct dfdg_server *srv);
/*
 * Graceful stop: stop accepting, let in-flight requests finish (commits included, up to
 * grace_seconds), then stop the threads and free srv. Accepts NULL.
 */
void dfdg_server_stop(struct dfdg_server *srv, unsigned grace_seconds);

#endif
