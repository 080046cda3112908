/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c: bench_ingest, the ingest benchmark (DESIGN section 7, "Speed"; bench/README.md).
 * Against a running `dfdg serve` it measures (1) batched ingest: C clients POST
 * /v1/records/batch with B records a request until N records are in, and (2) single-record
 * POSTs from 64 concurrent clients, which only reach a good rate when the writer groups many
 * requests into one commit. In the same run it inserts the same N rows straight into SQLite
 * with the store's schema and PRAGMAs (raw.c), in transactions of B rows and in one, and
 * reports the HTTP rate as a ratio of the raw one, against the targets of the issue.
 *
 * Every record must come back 201: a non-201 line or response is an error, is reported, and
 * makes the exit status 1, so a rate is never computed over failures.
 */
#include "core/dfdg.h"
#include "bench.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#define TARGET_BATCHED 20000.0 /* records/s, batched HTTP */
#define TARGET_RATIO 0.5       /* batched HTTP / raw SQLite with the same commits */
#define TARGET_SINGLE 5000.0   /* records/s, single POSTs from 64 clients */
#define REC_JSON_MAX 512       /* one record's JSON line is far shorter */

static const char usage[] =
    "usage: bench_ingest --url http://HOST:PORT --token TOKEN --cprs FILE [options]\n"
    "       bench_ingest persons COUNT FILE\n\n"
    "Ingest benchmark (bench/README.md). The first form measures a running `dfdg serve`\n"
    "whose database holds the persons of FILE (a CPR import file, as written by the second\n"
    "form: COUNT synthetic persons living in kommune 101); TOKEN is a kommune:101 token.\n\n"
    "options:\n"
    "  -n N            records for the batched run and the raw baseline (default 200000;\n"
    "                  0 skips both)\n"
    "  -b B            records a batch request, and rows a raw transaction (default 1000)\n"
    "  -c C            concurrent batch clients (default 4)\n"
    "  --single-n S    records for the single-POST run (default 20000; 0 skips it)\n"
    "  --single-c K    concurrent single-POST clients (default 64)\n"
    "  --db-dir DIR    where the raw baseline's SQLite file goes; put it on the server\n"
    "                  database's file system (default $TMPDIR or /tmp)\n"
    "  --run ID        names the run in source_refs (default: from time and pid)\n"
    "  --strict        exit 3 when a target is missed\n"
    "  --help          show this help\n\n"
    "Exit status: 0 done, 1 errors (a record not answered 201, the server unreachable),\n"
    "2 usage, 3 a target missed with --strict.\n";

/* One measured HTTP run: its work list, shared by the client threads. */
struct phase {
    const struct bench_http *http; /* the server */
    const char *headers;           /* auth, purpose and content type lines */
    const char *path;              /* /v1/records or /v1/records/batch */
    bool batched;                  /* NDJSON batches answered 200 with a line a record */
    const char *run;               /* run id */
    char (*cprs)[DFDG_CPR_LEN];    /* subjects */
    size_t ncprs;
    size_t first;            /* record index of the first record */
    size_t total;            /* records to send */
    size_t per_req;          /* records a request */
    size_t nreq;             /* requests */
    atomic_size_t next;      /* next request index to take */
    atomic_size_t created;   /* records answered 201 */
    atomic_size_t failed;    /* records not answered 201 */
    double *lat;             /* seconds, per request index */
    pthread_barrier_t start; /* clients connected: the clock starts */
    pthread_mutex_t lock;    /* guards first_error */
    char first_error[600];   /* the first failure, for the report */
};

struct phase_result {
    size_t created; /* records answered 201 */
    size_t failed;  /* records not */
    double seconds; /* wall time from the start barrier to the last reply */
    double p50;     /* request latency, seconds */
    double p99;
    double cpu; /* CPU seconds this process (the clients) used: taken from the server */
};

static void
note_error(struct phase *ph, size_t records, const char *what, const char *detail)
{
    atomic_fetch_add(&ph->failed, records);
    pthread_mutex_lock(&ph->lock);
    if (ph->first_error[0] == '\0') {
        char shown[400];
        size_t i = 0;
        for (; detail[i] != '\0' && detail[i] != '\n' && i < sizeof shown - 1; i++)
            shown[i] = detail[i];
        shown[i] = '\0';
        snprintf(ph->first_error, sizeof ph->first_error, "%s: %s", what, shown);
    }
    pthread_mutex_unlock(&ph->lock);
}

/* Counts the result lines of a batch: every line must say "status":201, in order. */
static void
check_batch_result(struct phase *ph, const char *body, size_t expect)
{
    size_t lines = 0, created = 0;
    const char *bad = NULL;
    for (const char *p = body; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        const char *end = nl != NULL ? nl : p + strlen(p);
        if (end > p) {
            lines++;
            /* A JSON string cannot hold "status": unescaped, so this is the key. */
            const char *s = strstr(p, "\"status\":");
            long st = s != NULL && s < end ? strtol(s + 9, NULL, 10) : 0;
            if (st == 201)
                created++;
            else if (bad == NULL)
                bad = p;
        }
        p = nl != NULL ? nl + 1 : end;
    }
    atomic_fetch_add(&ph->created, created);
    if (bad != NULL)
        note_error(ph, lines - created, "batch line not 201", bad);
    if (lines != expect)
        note_error(ph, lines < expect ? expect - lines : 0, "batch result has the wrong length",
                   body);
}

struct client {
    struct phase *ph;
    pthread_t thread;
};

static void *
client_main(void *arg)
{
    struct phase *ph = ((struct client *)arg)->ph;
    struct bench_conn conn;
    struct bench_resp resp;
    struct dfdg_errinfo ei = {0};
    bench_conn_init(&conn, ph->http);
    size_t cap = ph->per_req * REC_JSON_MAX + 1;
    char *body = malloc(cap);
    /* Connect (and check the server is there) before the clock starts. */
    bool ready = body != NULL &&
                 bench_http_request(&conn, "GET", "/healthz", "", NULL, 0, &resp, &ei) == DFDG_OK;
    if (!ready)
        note_error(ph, 0, "connect", body == NULL ? "out of memory" : ei.msg);
    pthread_barrier_wait(&ph->start);
    while (ready) {
        size_t k = atomic_fetch_add(&ph->next, 1);
        if (k >= ph->nreq)
            break;
        size_t first = ph->first + k * ph->per_req;
        size_t m = ph->first + ph->total - first;
        if (m > ph->per_req)
            m = ph->per_req;
        size_t len = 0;
        for (size_t i = 0; i < m; i++) {
            struct bench_rec rec;
            bench_record(ph->run, first + i, ph->cprs, ph->ncprs, &rec);
            len += bench_record_json(&rec, body + len, cap - len - 1);
            if (ph->batched)
                body[len++] = '\n';
        }
        double t0 = bench_now();
        dfdg_err rc =
            bench_http_request(&conn, "POST", ph->path, ph->headers, body, len, &resp, &ei);
        ph->lat[k] = bench_now() - t0;
        if (rc != DFDG_OK) {
            note_error(ph, m, "request failed", ei.msg);
            continue;
        }
        if (ph->batched && resp.status == 200) {
            check_batch_result(ph, resp.body, m);
        } else if (!ph->batched && resp.status == 201) {
            atomic_fetch_add(&ph->created, 1);
        } else {
            char what[64];
            snprintf(what, sizeof what, "HTTP %d", resp.status);
            note_error(ph, m, what, resp.body);
        }
    }
    free(body);
    bench_conn_cleanup(&conn);
    return NULL;
}

static dfdg_err
run_phase(struct phase *ph, size_t nclients, struct phase_result *out, struct dfdg_errinfo *ei)
{
    memset(out, 0, sizeof *out);
    ph->nreq = (ph->total + ph->per_req - 1) / ph->per_req;
    if (nclients > ph->nreq)
        nclients = ph->nreq;
    ph->lat = calloc(ph->nreq, sizeof *ph->lat);
    struct client *cl = calloc(nclients, sizeof *cl);
    if (ph->lat == NULL || cl == NULL) {
        free(cl);
        free(ph->lat);
        return dfdg_errinfo_set(ei, DFDG_NOMEM, "client state");
    }
    atomic_init(&ph->next, 0);
    atomic_init(&ph->created, 0);
    atomic_init(&ph->failed, 0);
    ph->first_error[0] = '\0';
    pthread_mutex_init(&ph->lock, NULL);
    pthread_barrier_init(&ph->start, NULL, (unsigned)nclients + 1);
    size_t started = 0;
    for (; started < nclients; started++) {
        cl[started].ph = ph;
        if (pthread_create(&cl[started].thread, NULL, client_main, &cl[started]) != 0)
            break;
    }
    if (started < nclients) {
        /* Threads already waiting at the barrier cannot be released without the rest. */
        fprintf(stderr, "bench_ingest: cannot start %zu client threads\n", nclients);
        exit(1);
    }
    pthread_barrier_wait(&ph->start);
    double t0 = bench_now(), cpu0 = bench_cpu_seconds();
    for (size_t i = 0; i < nclients; i++)
        pthread_join(cl[i].thread, NULL);
    out->seconds = bench_now() - t0;
    out->cpu = bench_cpu_seconds() - cpu0;
    out->created = atomic_load(&ph->created);
    out->failed = atomic_load(&ph->failed);
    qsort(ph->lat, ph->nreq, sizeof *ph->lat, bench_cmp_double);
    out->p50 = ph->lat[(size_t)(0.50 * (double)(ph->nreq - 1))];
    out->p99 = ph->lat[(size_t)(0.99 * (double)(ph->nreq - 1))];
    pthread_barrier_destroy(&ph->start);
    pthread_mutex_destroy(&ph->lock);
    free(ph->lat);
    ph->lat = NULL;
    free(cl);
    return DFDG_OK;
}

static int
cmd_persons(int argc, char **argv)
{
    size_t n;
    if (argc != 4 || !bench_parse_count(argv[2], BENCH_MAX_PERSONS, &n) || n == 0) {
        fputs(usage, stderr);
        return 2;
    }
    struct dfdg_errinfo ei = {0};
    if (bench_write_persons(argv[3], n, &ei) != DFDG_OK) {
        fprintf(stderr, "bench_ingest: %s\n", ei.msg);
        return 1;
    }
    return 0;
}

struct opts {
    const char *url, *token, *cprs, *db_dir, *run;
    size_t n, b, c, single_n, single_c;
    bool strict;
};

static int
parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"url", required_argument, NULL, 'u'},      {"token", required_argument, NULL, 't'},
        {"cprs", required_argument, NULL, 'p'},     {"single-n", required_argument, NULL, 's'},
        {"single-c", required_argument, NULL, 'k'}, {"db-dir", required_argument, NULL, 'd'},
        {"run", required_argument, NULL, 'r'},      {"strict", no_argument, NULL, 'S'},
        {"help", no_argument, NULL, 'h'},           {0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "n:b:c:", longopts, NULL)) != -1) {
        bool ok = true;
        switch (ch) {
        case 'u':
            o->url = optarg;
            break;
        case 't':
            o->token = optarg;
            break;
        case 'p':
            o->cprs = optarg;
            break;
        case 'd':
            o->db_dir = optarg;
            break;
        case 'r':
            o->run = optarg;
            ok = strlen(optarg) > 0 && strlen(optarg) <= 32 &&
                 strspn(optarg, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(optarg);
            break;
        case 'n':
            ok = bench_parse_count(optarg, 100000000, &o->n);
            break;
        case 'b':
            ok = bench_parse_count(optarg, 1000000, &o->b) && o->b > 0;
            break;
        case 'c':
            ok = bench_parse_count(optarg, 1024, &o->c) && o->c > 0;
            break;
        case 's':
            ok = bench_parse_count(optarg, 100000000, &o->single_n);
            break;
        case 'k':
            ok = bench_parse_count(optarg, 1024, &o->single_c) && o->single_c > 0;
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
            if (ch == 'n' || ch == 'b' || ch == 'c')
                fprintf(stderr, "bench_ingest: bad value for -%c: '%s'\n", ch, optarg);
            else if (ch == 's' || ch == 'k' || ch == 'r')
                fprintf(stderr, "bench_ingest: bad value for --%s: '%s'\n",
                        ch == 's'   ? "single-n"
                        : ch == 'k' ? "single-c"
                                    : "run",
                        optarg);
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind != argc || o->url == NULL || o->token == NULL || o->cprs == NULL) {
        fputs(usage, stderr);
        return 2;
    }
    if (strlen(o->token) > 1500 || strpbrk(o->token, "\r\n") != NULL) {
        fprintf(stderr, "bench_ingest: --token is not a bearer token\n");
        return 2;
    }
    return 0;
}

static void
print_target(const char *what, bool met, const char *value)
{
    printf("  %-46s %s (%s)\n", what, met ? "met" : "MISSED", value);
}

int
main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "persons") == 0)
        return cmd_persons(argc, argv);
    struct opts o = {.n = 200000, .b = 1000, .c = 4, .single_n = 20000, .single_c = 64};
    int urc = parse_opts(argc, argv, &o);
    if (urc != 0)
        return urc;
    signal(SIGPIPE, SIG_IGN);
    char run[40];
    if (o.run != NULL)
        dfdg_strlcpy(run, o.run, sizeof run);
    else
        snprintf(run, sizeof run, "%llx-%x", (unsigned long long)time(NULL), (unsigned)getpid());
    const char *dir = o.db_dir != NULL ? o.db_dir : getenv("TMPDIR");
    if (dir == NULL || *dir == '\0')
        dir = "/tmp";

    struct dfdg_errinfo ei = {0};
    struct bench_http http;
    char(*cprs)[DFDG_CPR_LEN] = NULL;
    size_t ncprs = 0;
    if (bench_http_init(&http, o.url, &ei) != DFDG_OK ||
        bench_read_cprs(o.cprs, &cprs, &ncprs, &ei) != DFDG_OK) {
        fprintf(stderr, "bench_ingest: %s\n", ei.msg);
        return 1;
    }
    char batch_headers[1800], single_headers[1800];
    snprintf(batch_headers, sizeof batch_headers,
             "Authorization: Bearer %s\r\nDFDG-Purpose: case-handling\r\n"
             "Content-Type: application/x-ndjson\r\n",
             o.token);
    snprintf(single_headers, sizeof single_headers,
             "Authorization: Bearer %s\r\nDFDG-Purpose: case-handling\r\n"
             "Content-Type: application/json\r\n",
             o.token);

    printf("dfdg ingest benchmark: run %s, %zu persons, server %s, %ld CPUs, durable "
           "(synchronous=FULL)\n",
           run, ncprs, http.hostport, sysconf(_SC_NPROCESSORS_ONLN));
    fflush(stdout);
    int status = 0;
    char g1[32], g2[32], g3[32], t1[32], t2[32];
    bool have_batched = false, have_single = false, have_raw = false, have_counters = false;
    struct phase_result batched = {0}, single = {0};
    struct bench_raw_result raw_b = {0}, raw_1 = {0};
    /* Writer counters before and after each run: requests per commit shows group commit. */
    unsigned long long bc0 = 0, br0 = 0, bc1 = 0, br1 = 0, c0 = 0, r0 = 0, c1 = 0, r1 = 0;
    bool have_bcounters = false;

    if (o.n > 0) {
        have_bcounters = bench_http_writer_counters(&http, &bc0, &br0);
        struct phase ph = {.http = &http,
                           .headers = batch_headers,
                           .path = "/v1/records/batch",
                           .batched = true,
                           .run = run,
                           .cprs = cprs,
                           .ncprs = ncprs,
                           .first = 0,
                           .total = o.n,
                           .per_req = o.b};
        if (run_phase(&ph, o.c, &batched, &ei) != DFDG_OK) {
            fprintf(stderr, "bench_ingest: %s\n", ei.msg);
            return 1;
        }
        have_bcounters =
            have_bcounters && bench_http_writer_counters(&http, &bc1, &br1) && bc1 > bc0;
        if (batched.failed > 0 || batched.created != o.n) {
            fprintf(stderr, "bench_ingest: batched: %zu of %zu records not created; first: %s\n",
                    o.n - batched.created, o.n, ph.first_error);
            status = 1;
        } else {
            have_batched = true;
        }
    }
    if (o.single_n > 0) {
        have_counters = bench_http_writer_counters(&http, &c0, &r0);
        struct phase ph = {.http = &http,
                           .headers = single_headers,
                           .path = "/v1/records",
                           .batched = false,
                           .run = run,
                           .cprs = cprs,
                           .ncprs = ncprs,
                           .first = o.n, /* after the batched records: new source_refs */
                           .total = o.single_n,
                           .per_req = 1};
        if (run_phase(&ph, o.single_c, &single, &ei) != DFDG_OK) {
            fprintf(stderr, "bench_ingest: %s\n", ei.msg);
            return 1;
        }
        have_counters = have_counters && bench_http_writer_counters(&http, &c1, &r1) && c1 > c0;
        if (single.failed > 0 || single.created != o.single_n) {
            fprintf(stderr, "bench_ingest: single: %zu of %zu records not created; first: %s\n",
                    o.single_n - single.created, o.single_n, ph.first_error);
            status = 1;
        } else {
            have_single = true;
        }
    }
    if (o.n > 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/bench-raw-%s.db", dir, run);
        if (bench_raw_run(path, run, cprs, ncprs, o.n, o.b, &raw_b, &ei) != DFDG_OK ||
            bench_raw_run(path, run, cprs, ncprs, o.n, 0, &raw_1, &ei) != DFDG_OK) {
            fprintf(stderr, "bench_ingest: %s\n", ei.msg);
            status = 1;
        } else {
            have_raw = true;
        }
    }

    /* The report. */
    double rate_b = have_batched ? (double)batched.created / batched.seconds : 0;
    double rate_s = have_single ? (double)single.created / single.seconds : 0;
    double rate_rb = have_raw ? (double)raw_b.rows / raw_b.seconds : 0;
    double rate_r1 = have_raw ? (double)raw_1.rows / raw_1.seconds : 0;
    char label[64];
    printf("\n");
    if (have_batched) {
        snprintf(label, sizeof label, "N=%zu B=%zu C=%zu", o.n, o.b, o.c);
        printf("  batched HTTP  %-28s: %9s rec/s  (%.2f s, client CPU %.2f s; request p50 %s, "
               "p99 %s)\n",
               label, bench_grouped(rate_b, g1), batched.seconds, batched.cpu,
               bench_ms(batched.p50, t1), bench_ms(batched.p99, t2));
        if (have_bcounters)
            printf("  group commit  %-28s: %9s commits for %s requests, %.1f a commit\n",
                   "batched HTTP", bench_grouped((double)(bc1 - bc0), g2),
                   bench_grouped((double)(br1 - br0), g3),
                   (double)(br1 - br0) / (double)(bc1 - bc0));
    }
    if (have_raw) {
        snprintf(label, sizeof label, "same rows, tx of %zu", o.b);
        printf("  raw SQLite    %-28s: %9s rec/s  (%.2f s)", label, bench_grouped(rate_rb, g1),
               raw_b.seconds);
        if (have_batched)
            printf("   ratio HTTP/raw = %.2f", rate_b / rate_rb);
        printf("\n  raw SQLite    %-28s: %9s rec/s  (%.2f s)", "same rows, one tx",
               bench_grouped(rate_r1, g1), raw_1.seconds);
        if (have_batched)
            printf("   ratio HTTP/raw = %.2f", rate_b / rate_r1);
        printf("\n");
    }
    if (have_single) {
        snprintf(label, sizeof label, "%zu clients, %zu", o.single_c, o.single_n);
        printf("  single POSTs  %-28s: %9s rec/s  (%.2f s, client CPU %.2f s; p50 %s, p99 %s)\n",
               label, bench_grouped(rate_s, g1), single.seconds, single.cpu,
               bench_ms(single.p50, t1), bench_ms(single.p99, t2));
        if (have_counters)
            printf("  group commit  %-28s: %9s commits for %s requests, %.1f a commit\n",
                   "single POSTs", bench_grouped((double)(c1 - c0), g2),
                   bench_grouped((double)(r1 - r0), g3), (double)(r1 - r0) / (double)(c1 - c0));
    }

    bool missed = false;
    if (have_batched || have_single)
        printf("\ntargets (2-core machine, synchronous=FULL):\n");
    if (have_batched) {
        print_target("batched HTTP >= 20,000 rec/s", rate_b >= TARGET_BATCHED,
                     bench_grouped(rate_b, g1));
        missed |= rate_b < TARGET_BATCHED;
    }
    if (have_batched && have_raw) {
        char v[32];
        snprintf(v, sizeof v, "%.2f", rate_b / rate_rb);
        snprintf(label, sizeof label, "batched HTTP >= 0.5 x raw SQLite (tx of %zu)", o.b);
        print_target(label, rate_b / rate_rb >= TARGET_RATIO, v);
        missed |= rate_b / rate_rb < TARGET_RATIO;
    }
    if (have_single) {
        print_target("single POSTs >= 5,000 rec/s", rate_s >= TARGET_SINGLE,
                     bench_grouped(rate_s, g1));
        missed |= rate_s < TARGET_SINGLE;
    }
    if (status == 0 && missed && o.strict)
        status = 3;
    free(cprs);
    return status;
}
