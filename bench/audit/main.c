/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c: bench_audit, the audit log benchmark (DESIGN section 7, "Speed"; bench/README.md).
 * In one process it measures (1) durable appends through the real group-commit writer with
 * signed tree heads on, one request an entry from C concurrent submitters, against the same
 * rows inserted with raw SQLite; (2) inclusion and consistency proof latency on a log of M
 * entries (10^6 by default), against a raw SQLite replay of the same node reads, and the
 * newest-head lookup; (3) the verifier's throughput over that log (dfdg_audit_check, the work
 * of `dfdg audit verify`) against a plain scan of the same rows. It reports against the
 * targets of the issue. Every append must be acknowledged, every proof must verify and both
 * logs must pass dfdg_audit_check; anything else is an error and makes the exit status 1.
 */
#include "core/dfdg.h"
#include "audit.h"

#include <getopt.h>
#include <unistd.h>

#define TARGET_APPEND 10000.0 /* entries/s, durable, through the writer */
#define TARGET_PROOF 1e-3     /* seconds, p99 of a proof at 10^6 entries */
#define MAX_RUNS 8            /* append runs (values of -c) */

static const char usage[] =
    "usage: bench_audit --dir DIR [options]\n\n"
    "Audit log benchmark (bench/README.md). Makes its SQLite files in DIR (which must exist)\n"
    "and removes them at the end.\n\n"
    "options:\n"
    "  -n N             entries appended through the writer, and by the raw baseline\n"
    "                   (default 200000; 0 skips part 1)\n"
    "  -c C[,C...]      concurrent submitters, each waiting for its answer; one run with\n"
    "                   its own baseline per value, at most 8 values (default 8,64)\n"
    "  --log-size M     entries in the log for proofs and verify (default 1000000; 0 skips\n"
    "                   parts 2 and 3)\n"
    "  --head-every H   entries between signed tree heads in that log (default 1000)\n"
    "  --proofs P       inclusion proofs, consistency proofs and head lookups (default 10000)\n"
    "  --seed S         random seed (default 1)\n"
    "  --keep           keep the SQLite files\n"
    "  --strict         exit 3 when a target is missed\n"
    "  --help           show this help\n\n"
    "Exit status: 0 done, 1 errors (an append not acknowledged, a proof that does not verify,\n"
    "a log that fails dfdg_audit_check), 2 usage, 3 a target missed with --strict.\n";

struct opts {
    const char *dir;
    size_t n, log_size, head_every, proofs, seed;
    size_t c[MAX_RUNS]; /* submitters of each append run */
    size_t nc;          /* runs */
    bool keep, strict;
};

/* "8,64" into o->c and o->nc; false unless 1 to MAX_RUNS counts of 1 to 1024. */
static bool
parse_list(const char *arg, struct opts *o)
{
    char buf[128];
    if (!dfdg_strlcpy(buf, arg, sizeof buf))
        return false;
    o->nc = 0;
    for (char *p = buf;;) {
        char *comma = strchr(p, ',');
        if (comma != NULL)
            *comma = '\0';
        if (o->nc == MAX_RUNS || !bench_parse_count(p, 1024, &o->c[o->nc]) || o->c[o->nc] == 0)
            return false;
        o->nc++;
        if (comma == NULL)
            return true;
        p = comma + 1;
    }
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {{"dir", required_argument, NULL, 'd'},
                                             {"log-size", required_argument, NULL, 'm'},
                                             {"head-every", required_argument, NULL, 'H'},
                                             {"proofs", required_argument, NULL, 'p'},
                                             {"seed", required_argument, NULL, 's'},
                                             {"keep", no_argument, NULL, 'k'},
                                             {"strict", no_argument, NULL, 'S'},
                                             {"help", no_argument, NULL, 'h'},
                                             {0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "n:c:", longopts, NULL)) != -1) {
        bool ok = true;
        switch (ch) {
        case 'd':
            o->dir = optarg;
            break;
        case 'n':
            ok = bench_parse_count(optarg, 100000000, &o->n);
            break;
        case 'c':
            ok = parse_list(optarg, o);
            break;
        case 'm':
            ok = bench_parse_count(optarg, 1000000000, &o->log_size);
            break;
        case 'H':
            ok = bench_parse_count(optarg, 100000000, &o->head_every) && o->head_every > 0;
            break;
        case 'p':
            ok = bench_parse_count(optarg, 10000000, &o->proofs) && o->proofs > 0;
            break;
        case 's':
            ok = bench_parse_count(optarg, SIZE_MAX, &o->seed);
            break;
        case 'k':
            o->keep = true;
            break;
        case 'S':
            o->strict = true;
            break;
        case 'h':
            fputs(usage, stdout);
            exit(0);
        default:
            ok = false;
        }
        if (!ok) {
            fprintf(stderr, "bench_audit: bad value '%s'\n", optarg);
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind != argc || o->dir == NULL) {
        fputs(usage, stderr);
        return 2;
    }
    if (o->log_size > 0 && o->log_size / o->head_every < 2) {
        fprintf(stderr, "bench_audit: --log-size must hold at least two tree heads\n");
        return 2;
    }
    return 0;
}

/* The 1-, 5- and 15-minute load averages ("1.02 1.49 1.23"), or "?"; returns buf. */
static const char *
load_average(char *buf, size_t size)
{
    dfdg_strlcpy(buf, "?", size);
    FILE *f = fopen("/proc/loadavg", "r");
    if (f == NULL)
        return buf;
    char line[128];
    if (fgets(line, sizeof line, f) != NULL) {
        /* the first three fields */
        size_t end = 0;
        for (int field = 0; field < 3 && line[end] != '\0'; field++) {
            end += strcspn(line + end, " \n");
            if (field < 2 && line[end] == ' ')
                end++;
        }
        line[end] = '\0';
        dfdg_strlcpy(buf, line, size);
    }
    fclose(f);
    return buf;
}

static void
print_target(const char *what, bool met, const char *value)
{
    printf("  %-56s %s (%s)\n", what, met ? "met" : "MISSED", value);
}

static void
print_lat(const char *what, const char *label, const struct bench_lat *l)
{
    char a[32], b[32], c[32];
    printf("  %-13s %-28s: p50 %s, p99 %s, max %s", what, label, bench_us(l->p50, a),
           bench_us(l->p99, b), bench_us(l->max, c));
}

/*
 * Part 1 with c submitters: the writer, then the baseline over the rows it wrote (with one
 * transaction for all of them too when one_tx). Prints its lines.
 */
static int
part_append(const struct opts *o, size_t c, bool one_tx, double *rate /* OUT */)
{
    char path[4096], raw[4096], label[64], g1[32], g2[32], g3[32], t1[32], t2[32];
    snprintf(path, sizeof path, "%s/append.db", o->dir);
    snprintf(raw, sizeof raw, "%s/raw.db", o->dir);
    struct dfdg_errinfo ei = {0};
    struct bench_append_result app;
    fprintf(stderr, "bench_audit: %zu appends through the writer from %zu submitters\n", o->n, c);
    dfdg_err rc = bench_append_run(path, o->n, c, o->seed, &app, &ei);
    if (rc != DFDG_OK) {
        fprintf(stderr, "bench_audit: append: %s\n", ei.msg[0] ? ei.msg : dfdg_err_name(rc));
        return 1;
    }
    if (app.failed > 0 || app.entries != o->n) {
        fprintf(stderr, "bench_audit: append: %zu of %zu entries not acknowledged; first: %s\n",
                o->n - app.entries, o->n, app.first_error);
        return 1;
    }
    const struct dfdg_audit_report *ck = &app.checked;
    if (!ck->ok || ck->entries != o->n || ck->unsigned_tail != 0) {
        fprintf(stderr,
                "bench_audit: append: the writer's log does not verify: %s (%llu entries, %llu "
                "after the newest head)\n",
                ck->problem, (unsigned long long)ck->entries,
                (unsigned long long)ck->unsigned_tail);
        return 1;
    }
    *rate = (double)app.entries / app.seconds;
    const struct dfdg_writer_stats *ws = &app.during;
    snprintf(label, sizeof label, "writer, N=%zu C=%zu", o->n, c);
    printf("  append        %-28s: %9s entries/s  (%.2f s, process CPU %.1f s; p50 %s, p99 %s)\n",
           label, bench_grouped(*rate, g1), app.seconds, app.cpu, bench_ms(app.lat.p50, t1),
           bench_ms(app.lat.p99, t2));
    uint64_t commits = ws->groups + ws->sths;
    printf("  group commit  %-28s: %9s commits for %s appends, %.1f a commit; tree heads signed: "
           "%llu (%s commits in all, %s each)\n",
           "writer", bench_grouped((double)ws->groups, g1), bench_grouped((double)ws->requests, g2),
           (double)ws->requests / (double)(ws->groups > 0 ? ws->groups : 1),
           (unsigned long long)ws->sths, bench_grouped((double)commits, g3),
           bench_ms(app.seconds / (double)(commits > 0 ? commits : 1), t1));
    if (app.busy > 0)
        printf("  (the queue was full %zu times)\n", app.busy);
    fflush(stdout);

    /* The baseline commits as often as the writer did: its average group, rounded. */
    size_t group = ws->groups > 0 ? (size_t)((double)ws->requests / (double)ws->groups + 0.5) : 1;
    if (group == 0)
        group = 1;
    struct bench_rows *rows = NULL;
    struct bench_raw_result rg, r1;
    rc = bench_rows_load(path, &rows, &ei);
    if (rc == DFDG_OK)
        rc = bench_rows_insert(rows, raw, group, &rg, &ei);
    if (rc == DFDG_OK && one_tx)
        rc = bench_rows_insert(rows, raw, 0, &r1, &ei);
    int status = 0;
    if (rc != DFDG_OK) {
        fprintf(stderr, "bench_audit: raw baseline: %s\n", ei.msg);
        status = 1;
    } else {
        double rate_g = (double)rg.entries / rg.seconds;
        snprintf(label, sizeof label, "same rows, tx of %zu", group);
        printf("  raw SQLite    %-28s: %9s entries/s  (%.2f s, %s commits, %s each)   ratio "
               "writer/raw = %.2f\n",
               label, bench_grouped(rate_g, g1), rg.seconds, bench_grouped((double)rg.commits, g2),
               bench_ms(rg.seconds / (double)rg.commits, t1), *rate / rate_g);
        if (one_tx) {
            double rate_1 = (double)r1.entries / r1.seconds;
            printf("  raw SQLite    %-28s: %9s entries/s  (%.2f s)   ratio writer/raw = %.2f\n",
                   "same rows, one tx", bench_grouped(rate_1, g1), r1.seconds, *rate / rate_1);
        }
        printf("  checks        %-28s: dfdg_audit_check ok, %s entries, %llu heads; entries %.0f "
               "bytes, %.2f persons on average\n",
               "append", bench_grouped((double)ck->entries, g1), (unsigned long long)ck->heads,
               bench_rows_entry_bytes(rows), (double)rg.subjects / (double)rg.entries);
    }
    bench_rows_free(rows);
    if (!o->keep)
        bench_sqlite_remove(path);
    fflush(stdout);
    return status;
}

/* Parts 2 and 3 on one log. Prints their lines. */
static int
part_log(const struct opts *o, struct bench_proof_result *pr /* OUT */, bool *have_proofs)
{
    char path[4096], label[64], g1[32], g2[32], t1[32];
    snprintf(path, sizeof path, "%s/log.db", o->dir);
    struct dfdg_errinfo ei = {0};
    fprintf(stderr, "bench_audit: building a log of %zu entries (setup)\n", o->log_size);
    double t0 = bench_now();
    dfdg_err rc = bench_log_build(path, o->log_size, o->head_every, o->seed, &ei);
    if (rc != DFDG_OK) {
        fprintf(stderr, "bench_audit: %s\n", ei.msg);
        return 1;
    }
    snprintf(label, sizeof label, "log of %s entries", bench_grouped((double)o->log_size, g1));
    printf("  setup         %-28s: built in %.1f s (dfdg_audit_append, a signed head every %zu)\n",
           label, bench_now() - t0, o->head_every);
    fflush(stdout);

    fprintf(stderr, "bench_audit: %zu inclusion and %zu consistency proofs\n", o->proofs,
            o->proofs);
    rc = bench_proofs_run(path, o->proofs, o->seed, pr, &ei);
    int status = 0;
    if (rc != DFDG_OK) {
        fprintf(stderr, "bench_audit: proofs: %s\n", ei.msg);
        status = 1;
    } else {
        *have_proofs = true;
        snprintf(label, sizeof label, "random entry of %s", bench_grouped((double)pr->size, g1));
        print_lat("inclusion", label, &pr->incl);
        printf("  (%zu proofs, %.1f node reads each; verify p50 %s)\n", o->proofs, pr->incl_nodes,
               bench_us(pr->incl_check.p50, t1));
        print_lat("raw SQLite", "same node reads", &pr->incl_raw);
        printf("   ratio proof/raw (p50) = %.2f\n", pr->incl.p50 / pr->incl_raw.p50);
        snprintf(label, sizeof label, "2 random heads of %zu", pr->heads);
        print_lat("consistency", label, &pr->cons);
        printf("  (%zu proofs, %.1f node reads each; verify p50 %s)\n", o->proofs, pr->cons_nodes,
               bench_us(pr->cons_check.p50, t1));
        print_lat("raw SQLite", "same node reads", &pr->cons_raw);
        printf("   ratio proof/raw (p50) = %.2f\n", pr->cons.p50 / pr->cons_raw.p50);
        print_lat("sth_latest", "dfdg_store_sth_latest", &pr->sth);
        printf("\n");
        print_lat("raw SQLite", "same query", &pr->sth_raw);
        printf("   ratio store/raw (p50) = %.2f\n", pr->sth.p50 / pr->sth_raw.p50);
        printf("  checks        %-28s: all %zu inclusion and %zu consistency proofs verify\n",
               "proofs", o->proofs, o->proofs);
    }
    fflush(stdout);

    fprintf(stderr, "bench_audit: verifying the log\n");
    struct bench_verify_result vr;
    rc = bench_verify_run(path, &vr, &ei);
    if (rc != DFDG_OK) {
        fprintf(stderr, "bench_audit: verify: %s\n", ei.msg);
        status = 1;
    } else if (!vr.rep.ok || vr.rep.entries != o->log_size || !vr.tree_matches) {
        fprintf(stderr, "bench_audit: verify: the log does not verify: %s (%llu entries)%s\n",
                vr.rep.problem, (unsigned long long)vr.rep.entries,
                vr.tree_matches ? "" : "; the recomputed root is not the newest head's");
        status = 1;
    } else {
        double rate = (double)vr.rep.entries / vr.check_s;
        double rate_raw = (double)vr.raw_rows / vr.raw_s;
        double rate_tree = (double)vr.tree_rows / vr.tree_s;
        printf("  verify        %-28s: %9s entries/s  (%.2f s; ok: %s entries, %s heads)\n",
               "dfdg_audit_check", bench_grouped(rate, g1), vr.check_s,
               bench_grouped((double)vr.rep.entries, t1), bench_grouped((double)vr.rep.heads, g2));
        printf("  raw SQLite    %-28s: %9s rows/s     (%.2f s)   ratio verify/raw = %.2f\n",
               "same rows, scan, no hashing", bench_grouped(rate_raw, g1), vr.raw_s,
               rate / rate_raw);
        printf("  raw SQLite    %-28s: %9s entries/s  (%.2f s, verify.h; root = newest head)   "
               "ratio verify/raw = %.2f\n",
               "same rows, scan + tree", bench_grouped(rate_tree, g1), vr.tree_s, rate / rate_tree);
    }
    if (!o->keep)
        bench_sqlite_remove(path);
    fflush(stdout);
    return status;
}

int
main(int argc, char **argv)
{
    struct opts o = {.n = 100000,
                     .c = {8, 64},
                     .nc = 2,
                     .log_size = 1000000,
                     .head_every = 1000,
                     .proofs = 10000,
                     .seed = 1};
    int urc = parse_opts(argc, argv, &o);
    if (urc != 0)
        return urc;
    char la[32];
    printf("dfdg audit log benchmark: %ld CPUs, durable (synchronous=FULL), seed %zu, load "
           "average %s\n\n",
           sysconf(_SC_NPROCESSORS_ONLN), o.seed, load_average(la, sizeof la));
    fflush(stdout);
    int status = 0;
    double rate[MAX_RUNS] = {0};
    bool have_proofs = false;
    struct bench_proof_result pr;
    for (size_t i = 0; o.n > 0 && i < o.nc; i++) {
        if (part_append(&o, o.c[i], i == 0, &rate[i]) != 0) {
            status = 1;
            break;
        }
        if (i + 1 < o.nc)
            printf("\n");
    }
    if (o.n > 0 && o.log_size > 0)
        printf("\n");
    if (o.log_size > 0 && part_log(&o, &pr, &have_proofs) != 0)
        status = 1;

    char v[32], label[96], g[32];
    bool missed = false;
    bool any = have_proofs;
    for (size_t i = 0; i < o.nc; i++)
        any |= rate[i] > 0;
    if (any)
        printf("\ntargets (synchronous=FULL):\n");
    for (size_t i = 0; i < o.nc; i++) {
        if (rate[i] <= 0)
            continue;
        snprintf(label, sizeof label, "durable appends, writer, C=%zu >= 10,000 entries/s", o.c[i]);
        print_target(label, rate[i] >= TARGET_APPEND, bench_grouped(rate[i], v));
        missed |= rate[i] < TARGET_APPEND;
    }
    if (have_proofs) {
        snprintf(label, sizeof label, "inclusion proof p99 < 1 ms at %s entries",
                 bench_grouped((double)pr.size, g));
        print_target(label, pr.incl.p99 < TARGET_PROOF, bench_us(pr.incl.p99, v));
        snprintf(label, sizeof label, "consistency proof p99 < 1 ms at %s entries",
                 bench_grouped((double)pr.size, g));
        print_target(label, pr.cons.p99 < TARGET_PROOF, bench_us(pr.cons.p99, v));
        missed |= pr.incl.p99 >= TARGET_PROOF || pr.cons.p99 >= TARGET_PROOF;
        if (pr.size < 1000000)
            printf("  (the proof target is for 1,000,000 entries; this log is smaller)\n");
    }
    printf("\nload average at the end: %s\n", load_average(v, sizeof v));
    if (status == 0 && missed && o.strict)
        status = 3;
    return status;
}
