/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_seed.c: `dfdg seed --db PATH --persons N [--seed S] [--catalog DIR]`: a deterministic
 * synthetic population and record history written into a store made by `dfdg init` (see
 * seed/seed.h for what is made). Progress goes to stderr when it is a terminal; a summary line
 * always ends the run on stderr; nothing is written to stdout.
 */
#include "core/dfdg.h"
#include "cli/cli.h"
#include "seed/seed.h"
#include "store/store.h"

#include <errno.h>
#include <getopt.h>

static const char help[] =
    "usage: dfdg seed --db PATH --persons N [--seed S] [--catalog DIR]\n\n"
    "Fills a store made by 'dfdg init' with a synthetic population and its record history:\n"
    "  - N persons with unique, valid CPR numbers (a few without modulus 11, a few who\n"
    "    changed number), Danish names, sex matching the CPR number, addresses in all 98\n"
    "    kommuner weighted by population with 0-2 moves, ~1% with address protection, and\n"
    "    children's birth dates for some;\n"
    "  - a-kasse memberships for ~75% of those aged 18-66, some ended or transferred;\n"
    "  - about 20 records a person of every information type in the catalog, reported by\n"
    "    the kommune the person lived in, the a-kasse the person was a member of, or the\n"
    "    citizen, as the report rules require; data generated from each type's fields and\n"
    "    validated; a few corrections and cancellations.\n"
    "Valid time runs from " DFDG_SEED_FIRST_DAY " to " DFDG_SEED_LAST_DAY
    "; every record was recorded\n"
    "before " DFDG_SEED_TIME_CAP ". The same seed and N give the same persons and records, ids\n"
    "and transaction times included. Records use source_ref 'seed-<S>-<n>'. A store that\n"
    "already holds persons is refused. Work is committed every 2,000 persons; if a run\n"
    "fails, start again from a fresh store.\n\n"
    "options:\n"
    "  --db PATH       the database made by 'dfdg init' (must exist)\n"
    "  --persons N     how many persons to make, 1 to 10000000 (100000 persons give about\n"
    "                  2 million records)\n"
    "  --seed S        the generator's seed, an unsigned 64-bit integer (default 1)\n"
    "  --catalog DIR   take the information types from DIR (one JSON file a type) instead\n"
    "                  of the catalog built into dfdg\n"
    "  --help          show this help\n\n"
    "Progress is drawn on stderr when it is a terminal; a summary line (persons, records,\n"
    "seconds) always ends the run on stderr.\n\n"
    "exit status: 0 done, 1 failure, 2 bad usage\n";

/* Parses a decimal unsigned integer (no sign, no trailing characters) up to max. */
static bool
parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v > max)
        return false;
    *out = (uint64_t)v;
    return true;
}

/* "1,234,567" */
static const char *
thousands(uint64_t v, char *buf, size_t size)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

static void
progress(const struct dfdg_seed_stats *st, size_t total, void *ctx)
{
    (void)ctx;
    char a[32], b[32], c[32];
    fprintf(stderr, "\rseed: %s/%s persons, %s records, %.1f s",
            thousands(st->persons, a, sizeof a), thousands(total, b, sizeof b),
            thousands(st->records, c, sizeof c), st->seconds);
    fflush(stderr);
}

int
dfdg_cmd_seed(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},   {"persons", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'}, {"catalog", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},       {0}};
    const char *db = NULL, *catalog_dir = NULL;
    uint64_t persons = 0, seed = 1;
    bool have_persons = false;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 'n':
            if (!parse_u64(optarg, DFDG_SEED_MAX_PERSONS, &persons) || persons == 0) {
                fprintf(stderr, "dfdg seed: --persons must be a whole number from 1 to %u\n",
                        DFDG_SEED_MAX_PERSONS);
                return DFDG_EXIT_USAGE;
            }
            have_persons = true;
            break;
        case 's':
            if (!parse_u64(optarg, UINT64_MAX, &seed)) {
                fprintf(stderr, "dfdg seed: --seed must be an unsigned whole number\n");
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
    if (db == NULL || !have_persons || optind != argc) {
        fputs(help, stderr);
        return DFDG_EXIT_USAGE;
    }

    struct dfdg_catalog *cat = dfdg_cli_load_catalog("seed", catalog_dir);
    if (cat == NULL)
        return DFDG_EXIT_FAIL;
    struct dfdg_errinfo ei = {0};
    struct dfdg_store *s = NULL;
    dfdg_err rc = dfdg_store_open(db, DFDG_STORE_OPEN, &s, &ei);
    if (rc != DFDG_OK) {
        if (rc == DFDG_NOT_FOUND)
            fprintf(stderr,
                    "dfdg seed: there is no store at %s; make one with 'dfdg init --db %s'\n", db,
                    db);
        else
            dfdg_cli_fail("seed", rc, &ei);
        dfdg_catalog_free(cat);
        return DFDG_EXIT_FAIL;
    }

    bool draw = dfdg_cli_progress_enabled();
    struct dfdg_seed_opts o = {
        .seed = seed, .persons = (size_t)persons, .progress = draw ? progress : NULL};
    struct dfdg_seed_stats st;
    rc = dfdg_seed_run(s, cat, &o, &st, &ei);
    if (draw && st.persons > 0)
        fputc('\n', stderr);
    dfdg_store_close(s);
    dfdg_catalog_free(cat);

    char a[32], b[32], d[32], e[32];
    if (rc != DFDG_OK) {
        dfdg_cli_fail("seed", rc, &ei);
        if (st.persons > 0)
            fprintf(stderr,
                    "dfdg seed: %s persons and %s records were committed before the "
                    "failure\n",
                    thousands(st.persons, a, sizeof a), thousands(st.records, b, sizeof b));
        return DFDG_EXIT_FAIL;
    }
    fprintf(stderr,
            "dfdg seed: %s persons, %s records (%s corrections, %s cancellations) in %.1f s "
            "(seed %llu)\n",
            thousands(st.persons, a, sizeof a), thousands(st.records, b, sizeof b),
            thousands(st.corrections, d, sizeof d), thousands(st.cancellations, e, sizeof e),
            st.seconds, (unsigned long long)seed);
    return DFDG_EXIT_OK;
}
