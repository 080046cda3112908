/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.h: the configuration file of `dfdg serve --config FILE`. One JSON object (RFC 8259,
 * read with jansson, duplicate keys refused) whose keys mirror the command-line options, plus
 * a "tls" object that has no command-line form:
 *
 *   {"db": PATH, "listen": "ADDR:PORT", "threads": N, "max_body": BYTES, "max_batch": N,
 *    "writer_queue": N, "connection_timeout": S, "request_timeout": S, "access_grace_days": N,
 * "log_level": "debug|info|warn|error", "catalog": DIR, "tls": {"cert": PATH, "key": PATH,
 * "client_ca": PATH, "client_orgs": {"<subject DN or CN>": "<org id>", ...}, "allow_bearer": BOOL}}
 *
 * Every key is optional; an unknown key, a value of the wrong type or out of range is an error
 * naming the key. Options given on the command line override the file. The file holds paths,
 * never key material: the private key stays in its own file (read by api/tls.c at start).
 */
#ifndef DFDG_CLI_CONFIG_H
#define DFDG_CLI_CONFIG_H

#include "core/dfdg.h"
#include "api/api.h"
#include "core/log.h"

/* The settings one file holds; a field is NULL / has_* false when the key is absent. */
struct dfdg_cli_config {
    char *db;                                    /* "db" */
    char *listen;                                /* "listen" */
    char *catalog;                               /* "catalog" */
    bool has_threads;                            /* "threads" given */
    unsigned threads;                            /* 1..256 */
    bool has_max_body;                           /* "max_body" given */
    size_t max_body;                             /* bytes, > 0 */
    bool has_max_batch;                          /* "max_batch" given */
    size_t max_batch;                            /* lines, > 0 */
    bool has_writer_queue;                       /* "writer_queue" given */
    size_t writer_queue;                         /* 1..1000000 */
    bool has_connection_timeout;                 /* "connection_timeout" given */
    unsigned connection_timeout;                 /* seconds, 1..3600 */
    bool has_request_timeout;                    /* "request_timeout" given */
    unsigned request_timeout;                    /* seconds, 1..3600 */
    bool has_access_grace_days;                  /* "access_grace_days" given */
    int32_t access_grace_days;                   /* 0..365 */
    bool has_log_level;                          /* "log_level" given */
    enum dfdg_log_level log_level;               /* the level */
    bool has_tls;                                /* "tls" given */
    char *tls_cert;                              /* "tls.cert" (required in "tls") */
    char *tls_key;                               /* "tls.key" (required in "tls") */
    char *tls_client_ca;                         /* "tls.client_ca", or NULL */
    struct dfdg_tls_client_org *tls_client_orgs; /* "tls.client_orgs", strings owned here */
    size_t tls_nclient_orgs;                     /* entries */
    bool tls_allow_bearer;                       /* "tls.allow_bearer" (default false) */
};

/*
 * Parses the text of a configuration file (len bytes; name is used in messages). *out is
 * the caller's (free with dfdg_cli_config_free). Errors: DFDG_INVAL with a message in ei that
 * starts with name and names the key (or the JSON line and column); DFDG_NOMEM.
 */
dfdg_err dfdg_cli_config_parse(const char *text, size_t len, const char *name,
                               struct dfdg_cli_config **out /* OUT */, struct dfdg_errinfo *ei);

/* Reads and parses the file at path; DFDG_IO when it cannot be read, else as above. */
dfdg_err dfdg_cli_config_load(const char *path, struct dfdg_cli_config **out /* OUT */,
                              struct dfdg_errinfo *ei);

/*
 * Copies the settings the file holds into c (pointers borrowed from f, which must outlive c)
 * and *catalog_dir, and sets the log level when the file names one. Settings the file does
 * not hold are left as they are.
 */
void dfdg_cli_config_apply(const struct dfdg_cli_config *f, struct dfdg_server_config *c,
                           const char **catalog_dir);

/* Frees f. Accepts NULL. */
void dfdg_cli_config_free(struct dfdg_cli_config *f);

#endif
