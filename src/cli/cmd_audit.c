/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_audit.c: `dfdg audit verify --db PATH [--quiet]` (DESIGN section 5): recomputes the audit
 * log's Merkle tree from its entries and checks every signed tree head (src/audit/check.h).
 * Exit 0 when the log verifies, 1 when it does not (the first bad entry or head is named) or
 * the database cannot be read, 2 for bad usage.
 */
#include "core/dfdg.h"
#include "audit/check.h"
#include "cli/cli.h"
#include "store/store.h"

#include <getopt.h>

static const char help[] =
    "usage: dfdg audit verify --db PATH [--quiet]\n\n"
    "Checks that the audit log is as the hub wrote it: recomputes the Merkle tree from the\n"
    "stored entries, checks each entry's number and stored leaf hash, and checks every\n"
    "signed tree head's signature (with the public key in the database) and root. Deleting,\n"
    "editing, inserting or reordering an entry, or forging a tree head, is reported with the\n"
    "first entry (or tree head) that does not match; checking stops there. Entries newer than\n"
    "the last signed tree head are checked too and counted, but no signature covers them yet.\n"
    "Compare the printed public key with one kept elsewhere: someone who can rewrite the\n"
    "whole database can also replace the key.\n\n"
    "exit status: 0 the log verifies, 1 it does not (or the database cannot be read),\n"
    "2 bad usage.\n\n"
    "options:\n"
    "  --db PATH   the database made by 'dfdg init'\n"
    "  --quiet     print nothing when the log verifies (problems are still printed)\n"
    "  --help      show this help\n";

/* Logs smaller than this verify in well under a second: no progress line for them. */
#define PROGRESS_FROM 100000

static void
progress(void *ctx, uint64_t done, uint64_t total)
{
    bool *drawn = ctx;
    if (total < PROGRESS_FROM)
        return;
    fprintf(stderr, "\raudit verify: %llu of %llu entries, %3.0f%%", (unsigned long long)done,
            (unsigned long long)total, done >= total ? 100.0 : 100.0 * (double)done / total);
    *drawn = true;
}

static const char *
plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

int
dfdg_cmd_audit(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *db = NULL;
    bool quiet = false;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd') {
            db = optarg;
        } else if (c == 'q') {
            quiet = true;
        } else if (c == 'h') {
            fputs(help, stdout);
            return DFDG_EXIT_OK;
        } else {
            fputs(help, stderr);
            return DFDG_EXIT_USAGE;
        }
    }
    /* GNU getopt moves the operand ("verify") behind the options. */
    if (optind != argc - 1 || strcmp(argv[optind], "verify") != 0 || db == NULL) {
        fputs(help, stderr);
        return DFDG_EXIT_USAGE;
    }

    struct dfdg_errinfo ei = {0};
    struct dfdg_store *s = NULL;
    dfdg_err rc = dfdg_store_open(db, DFDG_STORE_OPEN, &s, &ei);
    if (rc != DFDG_OK) {
        dfdg_cli_fail("audit verify", rc, &ei);
        return DFDG_EXIT_FAIL;
    }
    bool draw = !quiet && dfdg_cli_progress_enabled(), drawn = false;
    struct dfdg_audit_report rep;
    rc = dfdg_audit_check(s, draw ? progress : NULL, &drawn, &rep);
    dfdg_store_close(s);
    if (drawn)
        fputc('\n', stderr);
    if (rc != DFDG_OK) {
        fprintf(stderr, "dfdg audit verify: %s\n", rep.problem);
        return DFDG_EXIT_FAIL;
    }
    if (!rep.ok) {
        fprintf(stderr, "dfdg audit verify: TAMPERED: %s\n", rep.problem);
        fprintf(stderr, "dfdg audit verify: %llu %s and %llu tree %s were good before that\n",
                (unsigned long long)rep.entries, plural(rep.entries, "entry", "entries"),
                (unsigned long long)rep.heads, plural(rep.heads, "head", "heads"));
        return DFDG_EXIT_FAIL;
    }
    if (!quiet) {
        printf("dfdg audit verify: ok: %llu %s, %llu signed tree %s",
               (unsigned long long)rep.entries, plural(rep.entries, "entry", "entries"),
               (unsigned long long)rep.heads, plural(rep.heads, "head", "heads"));
        if (rep.unsigned_tail > 0)
            printf("; %llu %s not yet covered by a signed tree head",
                   (unsigned long long)rep.unsigned_tail,
                   plural(rep.unsigned_tail, "entry", "entries"));
        printf("\n");
        if (rep.has_key) {
            char hex[2 * sizeof rep.public_key + 1];
            for (size_t i = 0; i < sizeof rep.public_key; i++)
                snprintf(hex + 2 * i, 3, "%02x", rep.public_key[i]);
            printf("audit public key: %s\n", hex);
        }
    }
    return DFDG_EXIT_OK;
}
