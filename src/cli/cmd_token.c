/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_token.c: `dfdg token`: prints a bearer token signed by the store's development issuer.
 * For development and tests only; production tokens come from the municipalities' and
 * a-kasser's own identity providers, whose public keys are configured as issuers.
 */
#include "core/dfdg.h"
#include "authz/token.h"
#include "cli/cli.h"
#include "core/cpr.h"
#include "store/store.h"

#include <getopt.h>
#include <sodium.h>
#include <time.h>

static const char help[] =
    "usage: dfdg token --db PATH --org ORG --sub USER [--cpr CPR] [--ttl SECONDS]\n\n"
    "Prints a bearer token (a JWT signed with Ed25519) from the database's development\n"
    "issuer. ORG is an org id that exists in the database (kommune:101, akasse:3f, star,\n"
    "aktoer:<cvr>, ...) or 'citizen', which needs --cpr naming the citizen.\n\n"
    "options:\n"
    "  --db PATH       the database made by 'dfdg init'\n"
    "  --org ORG       the caller's org\n"
    "  --sub USER      the user the token is for (kept in the audit log)\n"
    "  --cpr CPR       the citizen's CPR number (citizen tokens only)\n"
    "  --ttl SECONDS   lifetime, 1 to 2592000 (default 28800 = 8 hours)\n"
    "  --help          show this help\n";

int
dfdg_cmd_token(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                         {"org", required_argument, NULL, 'o'},
                                         {"sub", required_argument, NULL, 's'},
                                         {"cpr", required_argument, NULL, 'c'},
                                         {"ttl", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *db = NULL, *org = NULL, *sub = NULL, *cpr = NULL;
    long ttl = 28800;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 'o':
            org = optarg;
            break;
        case 's':
            sub = optarg;
            break;
        case 'c':
            cpr = optarg;
            break;
        case 't':
            ttl = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || ttl < 1 || ttl > 2592000) {
                fprintf(stderr, "dfdg token: --ttl must be 1 to 2592000 seconds\n");
                return DFDG_EXIT_USAGE;
            }
            break;
        case 'h':
            fputs(help, stdout);
            return DFDG_EXIT_OK;
        default:
            fputs(help, stderr);
            return DFDG_EXIT_USAGE;
        }
    }
    if (db == NULL || org == NULL || sub == NULL || optind != argc) {
        fputs(help, stderr);
        return DFDG_EXIT_USAGE;
    }
    struct dfdg_claims claims = {0};
    if (!dfdg_strlcpy(claims.org, org, sizeof claims.org) ||
        !dfdg_strlcpy(claims.sub, sub, sizeof claims.sub) || *sub == '\0') {
        fprintf(stderr, "dfdg token: --org or --sub is too long or empty\n");
        return DFDG_EXIT_USAGE;
    }
    bool citizen = strcmp(org, "citizen") == 0;
    if (citizen != (cpr != NULL)) {
        fprintf(stderr, "dfdg token: --cpr goes with --org citizen, and only with it\n");
        return DFDG_EXIT_USAGE;
    }
    struct dfdg_errinfo ei = {0};
    if (cpr != NULL) {
        struct dfdg_cpr parsed;
        if (dfdg_cpr_parse(cpr, strlen(cpr), &parsed, &ei) != DFDG_OK) {
            fprintf(stderr, "dfdg token: --cpr is not a valid CPR number: %s\n", ei.msg);
            return DFDG_EXIT_USAGE;
        }
        dfdg_strlcpy(claims.cpr, parsed.digits, sizeof claims.cpr);
    }
    if (sodium_init() < 0)
        return DFDG_EXIT_FAIL;
    struct dfdg_store *s = NULL;
    dfdg_err rc = dfdg_store_open(db, DFDG_STORE_OPEN, &s, &ei);
    if (rc != DFDG_OK) {
        dfdg_cli_fail("token", rc, &ei);
        return DFDG_EXIT_FAIL;
    }
    int status = DFDG_EXIT_FAIL;
    uint8_t *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    char *tok = NULL;
    struct dfdg_org o;
    size_t len = sizeof claims.iss - 1;
    if (sk == NULL)
        goto close_store;
    if (!citizen && dfdg_store_org_get(s, org, &o) != DFDG_OK) {
        fprintf(stderr, "dfdg token: there is no org '%s' in %s\n", org, db);
        goto free_key;
    }
    rc = dfdg_store_meta_get(s, "dev_issuer", claims.iss, &len);
    if (rc == DFDG_OK) {
        claims.iss[len] = '\0';
        len = crypto_sign_SECRETKEYBYTES;
        rc = dfdg_store_meta_get(s, "dev_issuer_secret", sk, &len);
    }
    if (rc != DFDG_OK || len != crypto_sign_SECRETKEYBYTES) {
        fprintf(stderr, "dfdg token: %s has no development issuer\n", db);
        goto free_key;
    }
    claims.iat = (int64_t)time(NULL);
    claims.exp = claims.iat + ttl;
    rc = dfdg_token_mint(&claims, sk, &tok);
    if (rc != DFDG_OK) {
        dfdg_cli_fail("token", rc, NULL);
        goto free_key;
    }
    printf("%s\n", tok);
    free(tok);
    status = DFDG_EXIT_OK;
free_key:
    sodium_free(sk);
close_store:
    dfdg_store_close(s);
    return status;
}
