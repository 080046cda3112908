/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_init.c: `dfdg init --db PATH`: a new store with its schema, the reference orgs and a
 * development token issuer (an Ed25519 key pair whose secret stays in the store).
 */
#include "core/dfdg.h"
#include "audit/auditlog.h"
#include "cli/cli.h"
#include "store/refdata.h"
#include "store/store.h"

#include <getopt.h>
#include <sodium.h>

#define DEV_ISSUER "dfdg-dev"

static const char help[] =
    "usage: dfdg init --db PATH\n\n"
    "Creates a new dfdg database at PATH: the schema, the orgs of the reference lists\n"
    "(98 kommuner, the a-kasser, STAR, Danmarks Statistik, Udbetaling Danmark) and a\n"
    "development token issuer '" DEV_ISSUER "' for 'dfdg token'. Refuses an existing PATH.\n\n"
    "options:\n"
    "  --db PATH   the SQLite database file to create\n"
    "  --help      show this help\n";

int
dfdg_cmd_init(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'}, {0}};
    const char *db = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd') {
            db = optarg;
        } else if (c == 'h') {
            fputs(help, stdout);
            return DFDG_EXIT_OK;
        } else {
            fputs(help, stderr);
            return DFDG_EXIT_USAGE;
        }
    }
    if (db == NULL || optind != argc) {
        fputs(help, stderr);
        return DFDG_EXIT_USAGE;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "dfdg init: libsodium failed to initialise\n");
        return DFDG_EXIT_FAIL;
    }
    struct dfdg_errinfo ei = {0};
    struct dfdg_store *s = NULL;
    dfdg_err rc = dfdg_store_open(db, DFDG_STORE_CREATE, &s, &ei);
    if (rc != DFDG_OK) {
        dfdg_cli_fail("init", rc, &ei);
        return DFDG_EXIT_FAIL;
    }
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (sk == NULL) {
        rc = DFDG_NOMEM;
        goto close_store;
    }
    crypto_sign_keypair(pk, sk);
    rc = dfdg_store_begin(s);
    if (rc != DFDG_OK)
        goto free_key;
    rc = dfdg_refdata_install(s, &ei);
    if (rc == DFDG_OK)
        rc = dfdg_store_issuer_put(s, DEV_ISSUER, pk);
    if (rc == DFDG_OK)
        rc = dfdg_store_meta_put(s, "dev_issuer", DEV_ISSUER, strlen(DEV_ISSUER));
    if (rc == DFDG_OK)
        rc = dfdg_store_meta_put(s, "dev_issuer_secret", sk, crypto_sign_SECRETKEYBYTES);
    if (rc == DFDG_OK)
        rc = dfdg_store_commit(s);
    else
        (void)dfdg_store_rollback(s);
free_key:
    sodium_free(sk);
    /* The audit log's signing key is made now, so its public key is there before any entry. */
    if (rc == DFDG_OK) {
        struct dfdg_audit *audit = NULL;
        rc = dfdg_audit_open(s, &audit, &ei);
        dfdg_audit_free(audit);
    }
close_store:
    dfdg_store_close(s);
    if (rc != DFDG_OK) {
        dfdg_cli_fail("init", rc, &ei);
        (void)remove(db);
        return DFDG_EXIT_FAIL;
    }
    /* A PostgreSQL connection string may hold a password: it is not echoed. */
    bool pg = strncmp(db, "postgres", 8) == 0;
    fprintf(stderr, "dfdg init: created %s (schema v%d, development issuer '%s')\n",
            pg ? "the PostgreSQL store" : db, dfdg_store_schema_version(), DEV_ISSUER);
    return DFDG_EXIT_OK;
}
