/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_cpr.c: `dfdg cpr import --db PATH FILE [--skip-bad]`: loads CPR master data (JSON
 * Lines, DESIGN section 5) in one transaction. A bad line is named by its number and nothing
 * of the file is applied, unless --skip-bad.
 */
#include "core/dfdg.h"
#include "cli/cli.h"
#include "exchange/cprimport.h"
#include "store/store.h"

#include <getopt.h>
#include <sodium.h>

static const char help[] =
    "usage: dfdg cpr import --db PATH FILE [--skip-bad]\n\n"
    "Loads or updates CPR master data from FILE (JSON Lines, one person a line: cpr,\n"
    "previous_cprs, birthdate, sex, status, name, addresses, address_protection,\n"
    "children_birthdates). A line for a known person (by any of its CPR numbers) replaces\n"
    "that person's master data. The file is applied in one transaction: a bad line is\n"
    "named by its line number and nothing is applied, unless --skip-bad. When a person moves\n"
    "to another kommune, the new kommune receives the person's open records (a hand-over\n"
    "delivery in its feed) in the same transaction.\n\n"
    "options:\n"
    "  --db PATH    the database made by 'dfdg init'\n"
    "  --skip-bad   skip bad lines (each is reported) and apply the rest\n"
    "  --catalog DIR  the information types (default: the built-in catalog)\n"
    "  --help       show this help\n";

static void
progress(void *ctx, size_t lines, uint64_t done, uint64_t total)
{
    (void)ctx;
    if (total > 0)
        fprintf(stderr, "\rcpr import: %zu lines, %3.0f%%", lines,
                100.0 * (double)done / (double)total);
}

static void
bad_line(void *ctx, size_t line_no, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "dfdg cpr import: skipped line %zu: %s\n", line_no, msg);
}

int
dfdg_cmd_cpr(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                         {"skip-bad", no_argument, NULL, 's'},
                                         {"catalog", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *db = NULL, *catalog_dir = NULL;
    bool skip_bad = false;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'd') {
            db = optarg;
        } else if (c == 's') {
            skip_bad = true;
        } else if (c == 'c') {
            catalog_dir = optarg;
        } else if (c == 'h') {
            fputs(help, stdout);
            return DFDG_EXIT_OK;
        } else {
            fputs(help, stderr);
            return DFDG_EXIT_USAGE;
        }
    }
    /* GNU getopt moves the operands ("import" FILE) behind the options. */
    if (optind < argc && strcmp(argv[optind], "import") == 0) {
        optind++;
    } else {
        fputs(help, stderr);
        return DFDG_EXIT_USAGE;
    }
    if (db == NULL || optind != argc - 1) {
        fputs(help, stderr);
        return DFDG_EXIT_USAGE;
    }
    const char *file = argv[optind];
    if (sodium_init() < 0)
        return DFDG_EXIT_FAIL;
    struct dfdg_catalog *cat = dfdg_cli_load_catalog("cpr import", catalog_dir);
    if (cat == NULL)
        return DFDG_EXIT_FAIL;
    struct dfdg_errinfo ei = {0};
    struct dfdg_store *s = NULL;
    dfdg_err rc = dfdg_store_open(db, DFDG_STORE_OPEN, &s, &ei);
    if (rc != DFDG_OK) {
        dfdg_cli_fail("cpr import", rc, &ei);
        dfdg_catalog_free(cat);
        return DFDG_EXIT_FAIL;
    }
    struct dfdg_cprimport_stats st = {0};
    bool tty = dfdg_cli_progress_enabled();
    rc = dfdg_cprimport_file(s, cat, file, skip_bad, tty ? progress : NULL, bad_line, NULL, &st,
                             &ei);
    if (tty)
        fputc('\n', stderr);
    dfdg_store_close(s);
    dfdg_catalog_free(cat);
    if (rc != DFDG_OK) {
        dfdg_cli_fail("cpr import", rc, &ei);
        fprintf(stderr, "dfdg cpr import: nothing was applied\n");
        return DFDG_EXIT_FAIL;
    }
    fprintf(stderr, "dfdg cpr import: %zu lines, %zu persons imported, %zu skipped\n", st.lines,
            st.imported, st.skipped);
    return DFDG_EXIT_OK;
}
