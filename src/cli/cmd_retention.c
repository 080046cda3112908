/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_retention.c: `dfdg retention run --db PATH [--dry-run] [--today YYYY-MM-DD]
 * [--catalog DIR]`: deletes records past their information type's retention period (see
 * exchange/retention.h; GDPR art. 5(1)(e)). What was (or, dry, would be) deleted is a table
 * on stdout, one line a type; progress goes to stderr when it is a terminal; a summary line
 * always ends the run on stderr.
 */
#include "core/dfdg.h"
#include "cli/cli.h"
#include "core/when.h"
#include "exchange/retention.h"
#include "store/store.h"

#include <getopt.h>
#include <sodium.h>

static const char help[] =
    "usage: dfdg retention run --db PATH [--dry-run] [--today YYYY-MM-DD] [--catalog DIR]\n\n"
    "Deletes the records that are past their information type's retention period (the\n"
    "catalog's retention_years; GDPR art. 5(1)(e)). A record goes with its whole chain: the\n"
    "original, its corrections and the cancellation that withdrew it, and their deliveries.\n"
    "A chain ends on its current version's valid_to, or on the day it was cancelled; a chain\n"
    "that is still open (no valid_to) is kept. A chain that ended on day E is deleted when\n"
    "E plus retention_years (29 February counting as 28 February) is before today; on that\n"
    "day itself it is kept. Disclosures (what was handed out, to whom) are kept.\n\n"
    "Every transaction that deletes writes one entry to the audit log, naming each record it\n"
    "deleted (by id, type and person, never its contents), and signs a tree head, so the log\n"
    "still verifies and accounts for the deletions. Work is committed in batches of 1,000\n"
    "chains; a failed run keeps what earlier batches committed and can simply be run again.\n"
    "A chain that holds the store's newest record or delivery waits for a later run (deleting\n"
    "it would let a feed position be handed out twice). Only this command deletes records:\n"
    "the store refuses every other DELETE. It can run while 'dfdg serve' runs.\n\n"
    "options:\n"
    "  --db PATH            the database made by 'dfdg init'\n"
    "  --dry-run            count what would be deleted; change nothing\n"
    "  --today YYYY-MM-DD   count retention from this day instead of today (UTC)\n"
    "  --catalog DIR        take the information types (and their retention_years) from DIR\n"
    "                       instead of the catalog built into dfdg; types the catalog does\n"
    "                       not name are not touched\n"
    "  --help               show this help\n\n"
    "Output: on stdout a line for each type with chains past retention: the type, its\n"
    "retention in years, the cutoff (chains that ended before this day go), and the chains,\n"
    "records and deliveries deleted (with --dry-run: that would be deleted) and the chains\n"
    "held back. Progress is drawn on stderr when it is a terminal; a summary line always\n"
    "ends the run on stderr.\n\n"
    "exit status: 0 done, 1 failure, 2 bad usage\n";

static void
progress(const struct dfdg_retention_stats *st, void *ctx)
{
    const bool *dry = ctx;
    fprintf(stderr, "\rretention: %llu chains, %llu records %s, %.1f s",
            (unsigned long long)st->chains, (unsigned long long)st->records,
            *dry ? "to delete" : "deleted", st->seconds);
    fflush(stderr);
}

static void
print_table(const struct dfdg_retention_stats *st)
{
    printf("%-28s %5s %-10s %10s %10s %10s %6s\n", "type", "years", "cutoff", "chains", "records",
           "deliveries", "held");
    for (size_t i = 0; i < st->ntypes; i++) {
        const struct dfdg_retention_type *t = &st->types[i];
        if (t->chains == 0 && t->held == 0)
            continue;
        char cutoff[DFDG_DATE_LEN];
        dfdg_date_format(t->cutoff, cutoff);
        printf("%-28s %5d %-10s %10llu %10llu %10llu %6llu\n", t->code, t->retention_years, cutoff,
               (unsigned long long)t->chains, (unsigned long long)t->records,
               (unsigned long long)t->deliveries, (unsigned long long)t->held);
    }
    printf("%-28s %5s %-10s %10llu %10llu %10llu %6llu\n", "total", "", "",
           (unsigned long long)st->chains, (unsigned long long)st->records,
           (unsigned long long)st->deliveries, (unsigned long long)st->held);
}

static void
print_summary(const struct dfdg_retention_stats *st, bool dry, const char *today)
{
    if (dry)
        fprintf(stderr,
                "dfdg retention: dry run as of %s: would delete %llu records (%llu chains, %llu "
                "deliveries); nothing was changed",
                today, (unsigned long long)st->records, (unsigned long long)st->chains,
                (unsigned long long)st->deliveries);
    else if (st->chains == 0)
        fprintf(stderr, "dfdg retention: as of %s: nothing to delete; nothing was changed", today);
    else
        fprintf(stderr,
                "dfdg retention: as of %s: deleted %llu records (%llu chains, %llu deliveries) "
                "in %llu transaction%s, each with its audit entry",
                today, (unsigned long long)st->records, (unsigned long long)st->chains,
                (unsigned long long)st->deliveries, (unsigned long long)st->transactions,
                st->transactions == 1 ? "" : "s");
    if (st->held > 0)
        fprintf(stderr, "; %llu chains held back until newer records arrive",
                (unsigned long long)st->held);
    fprintf(stderr, " (%.1f s)\n", st->seconds);
}

int
dfdg_cmd_retention(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},    {"dry-run", no_argument, NULL, 'n'},
        {"today", required_argument, NULL, 't'}, {"catalog", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},        {0}};
    const char *db = NULL, *catalog_dir = NULL;
    struct dfdg_retention_opts o = {0};
    o.today = dfdg_date_today();
    struct dfdg_errinfo ei = {0};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 'n':
            o.dry_run = true;
            break;
        case 't':
            if (dfdg_date_parse(optarg, strlen(optarg), &o.today, &ei) != DFDG_OK) {
                fprintf(stderr, "dfdg retention: --today must be a date YYYY-MM-DD: %s\n", ei.msg);
                return DFDG_EXIT_USAGE;
            }
            break;
        case 'c':
            catalog_dir = optarg;
            break;
        case 'h':
            fputs(help, stdout);
            return DFDG_EXIT_OK;
        default:
            fputs(help, stderr);
            return DFDG_EXIT_USAGE;
        }
    }
    /* GNU getopt moves the operand ("run") behind the options. */
    if (optind != argc - 1 || strcmp(argv[optind], "run") != 0 || db == NULL) {
        fputs(help, stderr);
        return DFDG_EXIT_USAGE;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "dfdg retention: libsodium failed to initialise\n");
        return DFDG_EXIT_FAIL;
    }

    struct dfdg_catalog *cat = dfdg_cli_load_catalog("retention", catalog_dir);
    if (cat == NULL)
        return DFDG_EXIT_FAIL;
    struct dfdg_store *s = NULL;
    dfdg_err rc = dfdg_store_open(db, DFDG_STORE_OPEN, &s, &ei);
    if (rc != DFDG_OK) {
        if (rc == DFDG_NOT_FOUND)
            fprintf(stderr, "dfdg retention: there is no store at %s\n", db);
        else
            dfdg_cli_fail("retention", rc, &ei);
        dfdg_catalog_free(cat);
        return DFDG_EXIT_FAIL;
    }

    bool draw = dfdg_cli_progress_enabled();
    bool dry = o.dry_run;
    o.progress = draw ? progress : NULL;
    o.ctx = &dry;
    struct dfdg_retention_stats st;
    rc = dfdg_retention_run(s, cat, &o, &st, &ei);
    if (draw)
        fputc('\n', stderr);
    dfdg_store_close(s);

    char today[DFDG_DATE_LEN];
    dfdg_date_format(o.today, today);
    int status = DFDG_EXIT_OK;
    if (st.types != NULL)
        print_table(&st);
    fflush(stdout);
    if (rc != DFDG_OK) {
        dfdg_cli_fail("retention", rc, &ei);
        if (!dry)
            fprintf(stderr,
                    "dfdg retention: %llu records (%llu chains) were deleted and accounted for "
                    "before the failure; run it again to go on\n",
                    (unsigned long long)st.records, (unsigned long long)st.chains);
        status = DFDG_EXIT_FAIL;
    } else {
        print_summary(&st, dry, today);
    }
    dfdg_retention_stats_cleanup(&st);
    dfdg_catalog_free(cat);
    return status;
}
