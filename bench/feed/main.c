/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c: bench_feed, the feed benchmark (DESIGN section 7, "Speed"; bench/README.md).
 * Against a running `dfdg serve` whose persons are members of akasse:3f (it makes them
 * members first), it measures (1) the drain: D absence reports by kommune:101 are loaded,
 * each routed to akasse:3f, and one consumer reads akasse:3f's feed from the start, a page of
 * `limit` at a time, until no more follow; the same rows are then read straight from SQLite
 * with the store's feed query (raw.c), with and without the durable disclosure log, for the
 * ratio. (2) Commit to consumer while ingest runs: K writers POST single reports at a steady
 * rate for S seconds while one consumer long-polls the feed; for each record, the time from
 * the writer's 201 to the consumer's page holding it, both on this process's monotonic clock.
 *
 * Checked, not assumed: cursors strictly increase, no record comes twice, the drain sees
 * every delivery the loads were routed to, the raw read returns the same rows, and in (2)
 * every record routed to akasse:3f reaches the consumer exactly once. A failed check is
 * reported and makes the exit status 1.
 */
#include "core/dfdg.h"
#include "feed.h"

#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_JSON 512 /* one record's JSON line is far shorter */
#define MEMBER_SINCE "2000-01-01"

static const char usage[] =
    "usage: bench_feed --url http://HOST:PORT --kommune-token T --akasse-token T --cprs FILE\n"
    "                  --db PATH [options]\n"
    "       bench_feed persons COUNT FILE\n\n"
    "Feed benchmark (bench/README.md). The first form measures a running `dfdg serve` on a\n"
    "fresh database PATH that holds the persons of FILE (a CPR import file, as written by the\n"
    "second form: COUNT synthetic persons living in kommune 101). The kommune token is for\n"
    "kommune:101, the a-kasse token for akasse:3f. It makes every person a member of akasse:3f\n"
    "(batch POSTs; a replay on a second run), then measures.\n\n"
    "options:\n"
    "  -d D            absence records loaded for the drain (default 100000; 0 skips it)\n"
    "  -b B            records a load batch (default 1000)\n"
    "  -c C            concurrent load clients (default 2)\n"
    "  --limit L       feed page size, 1 to 1000 (default 1000)\n"
    "  --rate R        records a second the writers post in (2) (default 1000; 0 skips (2))\n"
    "  --writers K     concurrent single-POST writers in (2) (default 8)\n"
    "  --seconds S     how long the writers post in (2) (default 10)\n"
    "  --wait W        the consumer's long-poll wait in (2), seconds (default 10)\n"
    "  --db-dir DIR    where the baseline's scratch SQLite file goes; put it on the server\n"
    "                  database's file system (default: the folder of --db)\n"
    "  --run ID        names the run in source_refs (default: from time and pid)\n"
    "  --help          show this help\n\n"
    "Exit status: 0 done, 1 errors (a record not answered 201, a failed check, the server\n"
    "unreachable), 2 usage.\n";

struct opts {
    const char *url, *ktoken, *atoken, *cprs, *db, *db_dir, *run;
    size_t d, b, c, limit, rate, writers, seconds, wait;
};

static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;
static char first_error[600]; /* the first failure of any phase, for the report */
static atomic_size_t errors;  /* failures of any phase */

static void
note_error(const char *what, const char *detail)
{
    atomic_fetch_add(&errors, 1);
    pthread_mutex_lock(&err_lock);
    if (first_error[0] == '\0') {
        char shown[400];
        size_t i = 0;
        for (; detail[i] != '\0' && detail[i] != '\n' && i < sizeof shown - 1; i++)
            shown[i] = detail[i];
        shown[i] = '\0';
        snprintf(first_error, sizeof first_error, "%s: %s", what, shown);
    }
    pthread_mutex_unlock(&err_lock);
}

static void
sleep_until(double t)
{
    struct timespec ts;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
    }
}

static double
quantile(const double *sorted, size_t n, double q)
{
    return n == 0 ? 0 : sorted[(size_t)(q * (double)(n - 1))];
}

/* --- loading: batch POSTs of memberships or absence reports --------------------------------- */

struct load {
    const struct bench_http *http;
    const char *headers;        /* auth, purpose and content type lines */
    bool members;               /* akasse-membership records (else absence reports) */
    const char *run;            /* run id */
    char (*cprs)[DFDG_CPR_LEN]; /* subjects */
    size_t ncprs;
    size_t total;            /* records */
    size_t per_req;          /* records a request */
    size_t nreq;             /* requests */
    atomic_size_t next;      /* next request index to take */
    atomic_size_t stored;    /* records answered 201 (or 200, a replay, for memberships) */
    atomic_size_t routed;    /* records whose routed_to names the consumer */
    pthread_barrier_t start; /* clients connected: the clock starts */
};

static size_t
member_json(const char *cpr, size_t i, char *buf, size_t cap)
{
    /* BEK kap. 16: a membership since 2000, open, so it holds on every 2024 absence. */
    int n = snprintf(buf, cap,
                     "{\"type\":\"akasse-membership\",\"cpr\":\"%s\","
                     "\"source_ref\":\"bench-member-%zu\",\"valid_from\":\"" MEMBER_SINCE "\","
                     "\"data\":{\"start_date\":\"" MEMBER_SINCE "\"}}",
                     cpr, i);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* Counts a batch's result lines: each must be 201 (or 200 for a membership replay). */
static void
check_batch(struct load *ld, const char *body, size_t expect)
{
    size_t lines = 0, stored = 0, routed = 0;
    const char *bad = NULL;
    for (const char *p = body; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        const char *end = nl != NULL ? nl : p + strlen(p);
        if (end > p) {
            lines++;
            /* A JSON string cannot hold "status": unescaped, so this is the key. */
            const char *s = strstr(p, "\"status\":");
            long st = s != NULL && s < end ? strtol(s + 9, NULL, 10) : 0;
            if (st == 201 || (st == 200 && ld->members))
                stored++;
            else if (bad == NULL)
                bad = p;
            const char *r = strstr(p, "\"" FEED_CONSUMER "\"");
            routed += r != NULL && r < end;
        }
        p = nl != NULL ? nl + 1 : end;
    }
    atomic_fetch_add(&ld->stored, stored);
    atomic_fetch_add(&ld->routed, routed);
    if (bad != NULL)
        note_error(ld->members ? "membership line not stored" : "load line not 201", bad);
    if (lines != expect)
        note_error("batch result has the wrong length", body);
}

static void *
load_main(void *arg)
{
    struct load *ld = arg;
    struct bench_conn conn;
    struct bench_resp resp;
    struct dfdg_errinfo ei = {0};
    bench_conn_init(&conn, ld->http);
    size_t cap = ld->per_req * LINE_MAX_JSON + 1;
    char *body = malloc(cap);
    bool ready = body != NULL &&
                 bench_http_request(&conn, "GET", "/healthz", "", NULL, 0, &resp, &ei) == DFDG_OK;
    if (!ready)
        note_error("connect", body == NULL ? "out of memory" : ei.msg);
    pthread_barrier_wait(&ld->start);
    while (ready) {
        size_t k = atomic_fetch_add(&ld->next, 1);
        if (k >= ld->nreq)
            break;
        size_t first = k * ld->per_req;
        size_t m = ld->total - first < ld->per_req ? ld->total - first : ld->per_req;
        size_t len = 0;
        for (size_t i = 0; i < m; i++) {
            if (ld->members) {
                len += member_json(ld->cprs[first + i], first + i, body + len, cap - len - 1);
            } else {
                struct bench_rec rec;
                bench_record(ld->run, first + i, ld->cprs, ld->ncprs, &rec);
                len += bench_record_json(&rec, body + len, cap - len - 1);
            }
            body[len++] = '\n';
        }
        if (bench_http_request(&conn, "POST", "/v1/records/batch", ld->headers, body, len, &resp,
                               &ei) != DFDG_OK) {
            note_error("batch request failed", ei.msg);
        } else if (resp.status != 200) {
            char what[64];
            snprintf(what, sizeof what, "batch: HTTP %d", resp.status);
            note_error(what, resp.body);
        } else {
            check_batch(ld, resp.body, m);
        }
    }
    free(body);
    bench_conn_cleanup(&conn);
    return NULL;
}

/* Runs a load with nclients clients; *seconds is its wall time. */
static void
run_load(struct load *ld, size_t nclients, double *seconds)
{
    ld->nreq = (ld->total + ld->per_req - 1) / ld->per_req;
    if (nclients > ld->nreq)
        nclients = ld->nreq;
    pthread_t th[64];
    if (nclients > DFDG_ARRAY_LEN(th))
        nclients = DFDG_ARRAY_LEN(th);
    atomic_init(&ld->next, 0);
    atomic_init(&ld->stored, 0);
    atomic_init(&ld->routed, 0);
    pthread_barrier_init(&ld->start, NULL, (unsigned)nclients + 1);
    for (size_t i = 0; i < nclients; i++) {
        if (pthread_create(&th[i], NULL, load_main, ld) != 0) {
            /* Threads already waiting at the barrier cannot be released without the rest. */
            fprintf(stderr, "bench_feed: cannot start %zu load threads\n", nclients);
            exit(1);
        }
    }
    pthread_barrier_wait(&ld->start);
    double t0 = bench_now();
    for (size_t i = 0; i < nclients; i++)
        pthread_join(th[i], NULL);
    *seconds = bench_now() - t0;
    pthread_barrier_destroy(&ld->start);
}

/* --- the consumer ----------------------------------------------------------------------- */

struct consumer {
    const struct bench_http *http;
    const char *headers; /* the a-kasse's auth and purpose */
    int64_t cursor;      /* where it reads from; where it got to */
    size_t limit;        /* page size */
    size_t wait;         /* long-poll seconds (0: drain until "more" is false) */
    /* Set by the main thread while the consumer runs (phase 2): stop once `target` items
     * came, or once a whole wait brought nothing. */
    atomic_bool done;
    atomic_size_t target;
    /* Results, the consumer's own until it is joined. */
    struct feed_item *items; /* every item, in the order read */
    size_t n, cap;
    size_t pages;   /* pages with at least one item */
    double *page_s; /* request time of each page with items */
    size_t page_cap;
    bool seq_ok;  /* every cursor above the one before */
    bool failed;  /* a request or page failed: stopped */
    double cpu;   /* CPU seconds of this process while it ran (drain) */
    double start; /* its first request was sent */
    double end;   /* its last page arrived */
};

static bool
grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t ncap = *cap ? *cap : 4096;
    while (ncap < need)
        ncap *= 2;
    void *q = realloc(*p, ncap * size);
    if (q == NULL)
        return false;
    *p = q;
    *cap = ncap;
    return true;
}

static void *
consumer_main(void *arg)
{
    struct consumer *c = arg;
    struct bench_conn conn;
    struct bench_resp resp;
    struct feed_page page = {0};
    struct dfdg_errinfo ei = {0};
    bench_conn_init(&conn, c->http);
    c->seq_ok = true;
    int64_t last = c->cursor;
    double cpu0 = bench_cpu_seconds();
    c->start = bench_now();
    for (;;) {
        char path[160];
        if (c->wait > 0)
            snprintf(path, sizeof path, "/v1/feed?after=v1.%lld&limit=%zu&wait=%zu",
                     (long long)c->cursor, c->limit, c->wait);
        else
            snprintf(path, sizeof path, "/v1/feed?after=v1.%lld&limit=%zu", (long long)c->cursor,
                     c->limit);
        double t0 = bench_now();
        dfdg_err rc = bench_http_request(&conn, "GET", path, c->headers, NULL, 0, &resp, &ei);
        double t = bench_now();
        if (rc != DFDG_OK) {
            note_error("feed request failed", ei.msg);
            c->failed = true;
            break;
        }
        if (resp.status != 200) {
            char what[64];
            snprintf(what, sizeof what, "feed: HTTP %d", resp.status);
            note_error(what, resp.body);
            c->failed = true;
            break;
        }
        if (bench_feed_page_parse(resp.body, resp.body_len, &page, &ei) != DFDG_OK) {
            note_error("feed page", ei.msg);
            c->failed = true;
            break;
        }
        if (!grow((void **)&c->items, &c->cap, c->n + page.n, sizeof *c->items) ||
            !grow((void **)&c->page_s, &c->page_cap, c->pages + 1, sizeof *c->page_s)) {
            note_error("consumer", "out of memory");
            c->failed = true;
            break;
        }
        for (size_t i = 0; i < page.n; i++) {
            if (page.items[i].seq <= last)
                c->seq_ok = false;
            last = page.items[i].seq;
            page.items[i].t = t;
            c->items[c->n++] = page.items[i];
        }
        if (page.n > 0) {
            c->page_s[c->pages++] = t - t0;
            c->end = t;
            if (page.cursor != last)
                c->seq_ok = false;
        } else if (page.cursor != c->cursor) {
            c->seq_ok = false; /* an empty page keeps the cursor */
        }
        c->cursor = page.cursor;
        if (c->wait == 0) {
            if (!page.more)
                break;
        } else if (atomic_load(&c->done) && (c->n >= atomic_load(&c->target) || page.n == 0)) {
            break;
        }
    }
    c->cpu = bench_cpu_seconds() - cpu0;
    bench_feed_page_cleanup(&page);
    bench_conn_cleanup(&conn);
    return NULL;
}

static int
cmp_item_id(const void *a, const void *b)
{
    return strcmp(((const struct feed_item *)a)->id, ((const struct feed_item *)b)->id);
}

/* Items with an id seen before (sorts a copy). */
static size_t
repeated_ids(const struct feed_item *items, size_t n)
{
    struct feed_item *s = malloc(n * sizeof *s + 1);
    if (s == NULL)
        return n; /* cannot check: counts as failed */
    memcpy(s, items, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_item_id);
    size_t rep = 0;
    for (size_t i = 1; i < n; i++)
        rep += strcmp(s[i].id, s[i - 1].id) == 0;
    free(s);
    return rep;
}

/* --- phase 2: writers at a steady rate ----------------------------------------------------- */

/* One single POST of phase 2. */
struct wrec {
    double due;             /* when it was scheduled */
    double sent;            /* when the request was sent */
    double done;            /* when its 201 arrived */
    char id[DFDG_UUID_LEN]; /* the record's id, from the 201 */
    bool ok;                /* answered 201 with an id */
    bool routed;            /* routed_to names the consumer */
};

struct writers {
    const struct bench_http *http;
    const char *headers; /* the kommune's auth, purpose and content type */
    const char *run;
    char (*cprs)[DFDG_CPR_LEN];
    size_t ncprs;
    size_t first;            /* record index of the first record (after the drain's) */
    size_t n;                /* records */
    size_t k;                /* writers */
    double rate;             /* records a second, all writers together */
    double t0;               /* record i is due at t0 + i / rate */
    struct wrec *w;          /* n */
    pthread_barrier_t ready; /* writers connected */
    pthread_barrier_t go;    /* t0 is set */
};

struct writer {
    struct writers *ws;
    size_t index;
    pthread_t thread;
};

/* POSTs record index i; fills *w from the answer. */
static void
post_one(struct bench_conn *conn, struct writers *ws, size_t i, struct wrec *w)
{
    char body[LINE_MAX_JSON];
    struct bench_rec rec;
    struct bench_resp resp;
    struct dfdg_errinfo ei = {0};
    bench_record(ws->run, i, ws->cprs, ws->ncprs, &rec);
    size_t len = bench_record_json(&rec, body, sizeof body);
    w->sent = bench_now();
    dfdg_err rc =
        bench_http_request(conn, "POST", "/v1/records", ws->headers, body, len, &resp, &ei);
    w->done = bench_now();
    if (rc != DFDG_OK) {
        note_error("POST failed", ei.msg);
        return;
    }
    if (resp.status != 201) {
        char what[64];
        snprintf(what, sizeof what, "POST: HTTP %d", resp.status);
        note_error(what, resp.body);
        return;
    }
    json_t *o = json_loadb(resp.body, resp.body_len, 0, NULL);
    const char *id = json_string_value(json_object_get(o, "id"));
    json_t *to = json_object_get(o, "routed_to");
    size_t k;
    json_t *v;
    json_array_foreach(to, k, v)
    {
        const char *org = json_string_value(v);
        w->routed |= org != NULL && strcmp(org, FEED_CONSUMER) == 0;
    }
    if (id != NULL && strlen(id) == DFDG_UUID_LEN - 1) {
        memcpy(w->id, id, DFDG_UUID_LEN);
        w->ok = true;
    } else {
        note_error("POST: a 201 without an id", resp.body);
    }
    json_decref(o);
}

static void *
writer_main(void *arg)
{
    struct writer *wr = arg;
    struct writers *ws = wr->ws;
    struct bench_conn conn;
    struct bench_resp resp;
    struct dfdg_errinfo ei = {0};
    bench_conn_init(&conn, ws->http);
    bool ready = bench_http_request(&conn, "GET", "/healthz", "", NULL, 0, &resp, &ei) == DFDG_OK;
    if (!ready)
        note_error("connect", ei.msg);
    pthread_barrier_wait(&ws->ready);
    pthread_barrier_wait(&ws->go);
    for (size_t i = wr->index; ready && i < ws->n; i += ws->k) {
        struct wrec *w = &ws->w[i];
        w->due = ws->t0 + (double)i / ws->rate;
        sleep_until(w->due);
        post_one(&conn, ws, ws->first + i, w);
    }
    bench_conn_cleanup(&conn);
    return NULL;
}

static int
cmp_wrec_id(const void *a, const void *b)
{
    return strcmp(((const struct wrec *)a)->id, ((const struct wrec *)b)->id);
}

struct lat_result {
    size_t posted;         /* answered 201 */
    size_t routed;         /* of those, routed to the consumer */
    size_t seen;           /* consumer items, without the sentinel */
    size_t matched;        /* routed records the consumer saw */
    size_t missing;        /* routed records it did not see */
    size_t repeated;       /* items it saw more than once */
    size_t unexpected;     /* items that are none of the writers' records */
    size_t negative;       /* seen before the writer had its 201 */
    size_t pages;          /* consumer pages with items */
    bool seq_ok;           /* cursors increased */
    double window;         /* first due to the last item's arrival */
    double post_window;    /* first due to the last 201 */
    double d50, d99, dmax; /* 201 -> consumer */
    double s50, s99, smax; /* sent -> consumer */
    double p50, p99, pmax; /* POST latency */
    double late_max;       /* worst start behind schedule */
    double cpu;            /* this process's CPU seconds over the run */
};

/* Joins writers' records and the consumer's items by record id. */
static void
match(struct writers *ws, struct consumer *c, const char *sentinel, struct lat_result *r)
{
    size_t n = ws->n;
    struct wrec *w = ws->w;
    double *d = calloc(n + 1, sizeof *d), *s = calloc(n + 1, sizeof *s),
           *p = calloc(n + 1, sizeof *p);
    struct feed_item *items = malloc(c->n * sizeof *items + 1);
    if (d == NULL || s == NULL || p == NULL || items == NULL) {
        note_error("matching", "out of memory");
        goto free_all;
    }
    double last_done = ws->t0, last_seen = ws->t0;
    for (size_t i = 0; i < n; i++) {
        if (w[i].sent - w[i].due > r->late_max)
            r->late_max = w[i].sent - w[i].due;
        if (!w[i].ok)
            continue;
        p[r->posted++] = w[i].done - w[i].sent;
        r->routed += w[i].routed;
        if (w[i].done > last_done)
            last_done = w[i].done;
    }
    memcpy(items, c->items, c->n * sizeof *items);
    qsort(items, c->n, sizeof *items, cmp_item_id);
    qsort(w, n, sizeof *w, cmp_wrec_id);
    /* Both sorted by id: one merge. Writers' records that failed have id "" and sort first. */
    size_t j = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (i > 0 && strcmp(items[i].id, items[i - 1].id) == 0) {
            r->repeated++;
            continue;
        }
        if (strcmp(items[i].id, sentinel) == 0)
            continue;
        r->seen++;
        while (j < n && strcmp(w[j].id, items[i].id) < 0)
            j++;
        if (j == n || !w[j].ok || strcmp(w[j].id, items[i].id) != 0 || !w[j].routed) {
            r->unexpected++;
            continue;
        }
        if (items[i].t > last_seen)
            last_seen = items[i].t;
        double lat = items[i].t - w[j].done;
        r->negative += lat < 0;
        d[r->matched] = lat;
        s[r->matched] = items[i].t - w[j].sent;
        r->matched++;
    }
    r->missing = r->routed - r->matched;
    /* Repeats of the sentinel count too: seen counts distinct items only. */
    r->window = last_seen - ws->t0;
    r->post_window = last_done - ws->t0;
    qsort(d, r->matched, sizeof *d, bench_cmp_double);
    qsort(s, r->matched, sizeof *s, bench_cmp_double);
    qsort(p, r->posted, sizeof *p, bench_cmp_double);
    r->d50 = quantile(d, r->matched, 0.50);
    r->d99 = quantile(d, r->matched, 0.99);
    r->dmax = r->matched > 0 ? d[r->matched - 1] : 0;
    r->s50 = quantile(s, r->matched, 0.50);
    r->s99 = quantile(s, r->matched, 0.99);
    r->smax = r->matched > 0 ? s[r->matched - 1] : 0;
    r->p50 = quantile(p, r->posted, 0.50);
    r->p99 = quantile(p, r->posted, 0.99);
    r->pmax = r->posted > 0 ? p[r->posted - 1] : 0;
free_all:
    free(items);
    free(d);
    free(s);
    free(p);
}

/* Phase 2. The consumer reads from `cursor` (where the drain ended). */
static dfdg_err
run_latency(const struct bench_http *http, const struct opts *o, const char *kheaders,
            const char *aheaders, const char *run, char (*cprs)[DFDG_CPR_LEN], size_t ncprs,
            int64_t cursor, struct lat_result *r, struct dfdg_errinfo *ei)
{
    memset(r, 0, sizeof *r);
    struct writers ws = {.http = http,
                         .headers = kheaders,
                         .run = run,
                         .cprs = cprs,
                         .ncprs = ncprs,
                         .first = o->d,
                         .n = o->rate * o->seconds,
                         .k = o->writers,
                         .rate = (double)o->rate};
    if (ws.k > ws.n)
        ws.k = ws.n;
    struct consumer c = {
        .http = http, .headers = aheaders, .cursor = cursor, .limit = o->limit, .wait = o->wait};
    atomic_init(&c.done, false);
    atomic_init(&c.target, 0);
    ws.w = calloc(ws.n, sizeof *ws.w);
    struct writer *wr = calloc(ws.k, sizeof *wr);
    if (ws.w == NULL || wr == NULL) {
        free(ws.w);
        free(wr);
        return dfdg_errinfo_set(ei, DFDG_NOMEM, "writer state");
    }
    pthread_t ct;
    if (pthread_create(&ct, NULL, consumer_main, &c) != 0) {
        free(ws.w);
        free(wr);
        return dfdg_errinfo_set(ei, DFDG_INTERNAL, "cannot start the consumer");
    }
    pthread_barrier_init(&ws.ready, NULL, (unsigned)ws.k + 1);
    pthread_barrier_init(&ws.go, NULL, (unsigned)ws.k + 1);
    for (size_t i = 0; i < ws.k; i++) {
        wr[i].ws = &ws;
        wr[i].index = i;
        if (pthread_create(&wr[i].thread, NULL, writer_main, &wr[i]) != 0) {
            fprintf(stderr, "bench_feed: cannot start %zu writer threads\n", ws.k);
            exit(1);
        }
    }
    pthread_barrier_wait(&ws.ready);
    /* 0.2 s for the consumer, started first, to reach its long poll. */
    double cpu0 = bench_cpu_seconds();
    ws.t0 = bench_now() + 0.2;
    pthread_barrier_wait(&ws.go);
    for (size_t i = 0; i < ws.k; i++)
        pthread_join(wr[i].thread, NULL);

    /*
     * The sentinel: one more report, committed after every writer's. The consumer stops once
     * it has as many items as were routed, plus this one, so a missing or repeated item shows.
     */
    size_t routed = 0;
    for (size_t i = 0; i < ws.n; i++)
        routed += ws.w[i].ok && ws.w[i].routed;
    atomic_store(&c.target, routed + 1);
    atomic_store(&c.done, true);
    struct bench_conn conn;
    struct wrec sw = {0};
    bench_conn_init(&conn, http);
    post_one(&conn, &ws, ws.first + ws.n, &sw);
    bench_conn_cleanup(&conn);
    if (!sw.routed)
        note_error("sentinel", "not routed to " FEED_CONSUMER);
    pthread_join(ct, NULL);
    r->cpu = bench_cpu_seconds() - cpu0;

    r->seq_ok = c.seq_ok;
    r->pages = c.pages;
    if (!c.failed)
        match(&ws, &c, sw.id, r);
    pthread_barrier_destroy(&ws.ready);
    pthread_barrier_destroy(&ws.go);
    free(c.items);
    free(c.page_s);
    free(ws.w);
    free(wr);
    return DFDG_OK;
}

/* --- options and the report ------------------------------------------------------------- */

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
        fprintf(stderr, "bench_feed: %s\n", ei.msg);
        return 1;
    }
    return 0;
}

static bool
token_ok(const char *t)
{
    return strlen(t) <= 1500 && strpbrk(t, "\r\n") == NULL;
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
    enum {
        O_URL = 256,
        O_KT,
        O_AT,
        O_CPRS,
        O_DB,
        O_DBDIR,
        O_RUN,
        O_LIMIT,
        O_RATE,
        O_WRITERS,
        O_SECONDS,
        O_WAIT
    };
    static const struct option longopts[] = {{"url", required_argument, NULL, O_URL},
                                             {"kommune-token", required_argument, NULL, O_KT},
                                             {"akasse-token", required_argument, NULL, O_AT},
                                             {"cprs", required_argument, NULL, O_CPRS},
                                             {"db", required_argument, NULL, O_DB},
                                             {"db-dir", required_argument, NULL, O_DBDIR},
                                             {"run", required_argument, NULL, O_RUN},
                                             {"limit", required_argument, NULL, O_LIMIT},
                                             {"rate", required_argument, NULL, O_RATE},
                                             {"writers", required_argument, NULL, O_WRITERS},
                                             {"seconds", required_argument, NULL, O_SECONDS},
                                             {"wait", required_argument, NULL, O_WAIT},
                                             {"help", no_argument, NULL, 'h'},
                                             {0}};
    int ch, idx = -1;
    while ((ch = getopt_long(argc, argv, "d:b:c:", longopts, &idx)) != -1) {
        bool ok = true;
        switch (ch) {
        case O_URL:
            o->url = optarg;
            break;
        case O_KT:
            o->ktoken = optarg;
            ok = token_ok(optarg);
            break;
        case O_AT:
            o->atoken = optarg;
            ok = token_ok(optarg);
            break;
        case O_CPRS:
            o->cprs = optarg;
            break;
        case O_DB:
            o->db = optarg;
            break;
        case O_DBDIR:
            o->db_dir = optarg;
            break;
        case O_RUN:
            o->run = optarg;
            ok = strlen(optarg) > 0 && strlen(optarg) <= 32 &&
                 strspn(optarg, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(optarg);
            break;
        case 'd':
            ok = bench_parse_count(optarg, 10000000, &o->d);
            break;
        case 'b':
            ok = bench_parse_count(optarg, 10000, &o->b) && o->b > 0;
            break;
        case 'c':
            ok = bench_parse_count(optarg, 64, &o->c) && o->c > 0;
            break;
        case O_LIMIT:
            ok = bench_parse_count(optarg, 1000, &o->limit) && o->limit > 0;
            break;
        case O_RATE:
            ok = bench_parse_count(optarg, 100000, &o->rate);
            break;
        case O_WRITERS:
            ok = bench_parse_count(optarg, 256, &o->writers) && o->writers > 0;
            break;
        case O_SECONDS:
            ok = bench_parse_count(optarg, 600, &o->seconds) && o->seconds > 0;
            break;
        case O_WAIT:
            ok = bench_parse_count(optarg, 60, &o->wait) && o->wait > 0;
            break;
        case 'h':
            fputs(usage, stdout);
            exit(0);
        default:
            ok = false;
        }
        if (!ok) {
            if (ch == 'd' || ch == 'b' || ch == 'c')
                fprintf(stderr, "bench_feed: bad value for -%c: '%s'\n", ch, optarg);
            else if (ch != '?' && ch != 'h' && idx >= 0)
                fprintf(stderr, "bench_feed: bad value for --%s\n", longopts[idx].name);
            fputs(usage, stderr);
            return 2;
        }
        idx = -1;
    }
    if (optind != argc || o->url == NULL || o->ktoken == NULL || o->atoken == NULL ||
        o->cprs == NULL || o->db == NULL) {
        fputs(usage, stderr);
        return 2;
    }
    return 0;
}

/* "5.25 ms", with a sign for the latencies that can be negative. */
static const char *
sms(double seconds, char buf[32])
{
    if (seconds >= 0)
        return bench_ms(seconds, buf);
    char pos[32];
    snprintf(buf, 32, "-%s", bench_ms(-seconds, pos));
    return buf;
}

int
main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "persons") == 0)
        return cmd_persons(argc, argv);
    struct opts o = {.d = 100000,
                     .b = 1000,
                     .c = 2,
                     .limit = 1000,
                     .rate = 1000,
                     .writers = 8,
                     .seconds = 10,
                     .wait = 10};
    int urc = parse_opts(argc, argv, &o);
    if (urc != 0)
        return urc;
    signal(SIGPIPE, SIG_IGN);
    char run[40];
    if (o.run != NULL)
        dfdg_strlcpy(run, o.run, sizeof run);
    else
        snprintf(run, sizeof run, "%llx-%x", (unsigned long long)time(NULL), (unsigned)getpid());
    char dir[4096];
    if (o.db_dir != NULL) {
        dfdg_strlcpy(dir, o.db_dir, sizeof dir);
    } else {
        dfdg_strlcpy(dir, o.db, sizeof dir);
        char *slash = strrchr(dir, '/');
        if (slash == NULL)
            dfdg_strlcpy(dir, ".", sizeof dir);
        else
            slash[slash == dir] = '\0';
    }

    struct dfdg_errinfo ei = {0};
    struct bench_http http;
    char(*cprs)[DFDG_CPR_LEN] = NULL;
    size_t ncprs = 0;
    if (bench_http_init(&http, o.url, &ei) != DFDG_OK ||
        bench_read_cprs(o.cprs, &cprs, &ncprs, &ei) != DFDG_OK) {
        fprintf(stderr, "bench_feed: %s\n", ei.msg);
        return 1;
    }
    char kbatch[1800], ksingle[1800], abatch[1800], afeed[1800];
    snprintf(kbatch, sizeof kbatch,
             "Authorization: Bearer %s\r\nDFDG-Purpose: case-handling\r\n"
             "Content-Type: application/x-ndjson\r\n",
             o.ktoken);
    snprintf(ksingle, sizeof ksingle,
             "Authorization: Bearer %s\r\nDFDG-Purpose: case-handling\r\n"
             "Content-Type: application/json\r\n",
             o.ktoken);
    snprintf(abatch, sizeof abatch,
             "Authorization: Bearer %s\r\nDFDG-Purpose: case-handling\r\n"
             "Content-Type: application/x-ndjson\r\n",
             o.atoken);
    snprintf(afeed, sizeof afeed, "Authorization: Bearer %s\r\nDFDG-Purpose: case-handling\r\n",
             o.atoken);

    printf("dfdg feed benchmark: run %s, %zu persons, server %s, %ld CPUs, consumer " FEED_CONSUMER
           ", durable (synchronous=FULL)\n",
           run, ncprs, http.hostport, sysconf(_SC_NPROCESSORS_ONLN));
    fflush(stdout);
    int status = 0;
    char g1[32], g2[32], g3[32], t1[32], t2[32], t3[32];

    /* Setup: every person a member of the a-kasse, so their absences are routed to it. */
    struct load members = {.http = &http,
                           .headers = abatch,
                           .members = true,
                           .run = run,
                           .cprs = cprs,
                           .ncprs = ncprs,
                           .total = ncprs,
                           .per_req = o.b};
    double secs;
    run_load(&members, o.c, &secs);
    if (atomic_load(&members.stored) != ncprs) {
        fprintf(stderr, "bench_feed: %zu of %zu memberships not stored; first: %s\n",
                ncprs - atomic_load(&members.stored), ncprs, first_error);
        free(cprs);
        return 1;
    }
    fprintf(stderr, "bench_feed: %zu persons are members of " FEED_CONSUMER " (%.2f s)\n", ncprs,
            secs);

    printf("\n");
    int64_t cursor = 0;
    if (o.d > 0) {
        struct load pre = {.http = &http,
                           .headers = kbatch,
                           .members = false,
                           .run = run,
                           .cprs = cprs,
                           .ncprs = ncprs,
                           .total = o.d,
                           .per_req = o.b};
        double pre_s;
        run_load(&pre, o.c, &pre_s);
        size_t stored = atomic_load(&pre.stored), routed = atomic_load(&pre.routed);
        char label[64];
        snprintf(label, sizeof label, "D=%zu B=%zu C=%zu", o.d, o.b, o.c);
        printf("  load          %-28s: %9s rec/s  (%.2f s; %s routed to " FEED_CONSUMER ")\n",
               label, bench_grouped((double)stored / pre_s, g1), pre_s,
               bench_grouped((double)routed, g2));
        fflush(stdout);
        if (stored != o.d || routed != o.d) {
            fprintf(stderr,
                    "bench_feed: load: %zu of %zu records stored, %zu routed to " FEED_CONSUMER
                    "; first error: %s\n",
                    stored, o.d, routed, first_error);
            free(cprs);
            return 1;
        }

        /* The drain: from the start of the feed until no more follow. */
        struct consumer c = {.http = &http, .headers = afeed, .cursor = 0, .limit = o.limit};
        atomic_init(&c.done, false);
        atomic_init(&c.target, 0);
        consumer_main(&c);
        double drain_s = c.end - c.start;
        size_t rep = repeated_ids(c.items, c.n);
        bool drain_ok = !c.failed && c.seq_ok && rep == 0 && c.n == routed;
        cursor = c.cursor;
        if (!drain_ok) {
            fprintf(
                stderr,
                "bench_feed: drain: %zu items of %zu routed, cursors %s, %zu repeated ids%s%s\n",
                c.n, routed, c.seq_ok ? "increase" : "DO NOT increase", rep,
                c.failed ? "; stopped: " : "", c.failed ? first_error : "");
            status = 1;
        }
        double rate_h = drain_ok ? (double)c.n / drain_s : 0;
        if (drain_ok) {
            qsort(c.page_s, c.pages, sizeof *c.page_s, bench_cmp_double);
            snprintf(label, sizeof label, "HTTP feed, limit=%zu", o.limit);
            printf("  drain         %-28s: %9s deliveries/s  (%s in %.2f s, %zu pages; page p50 "
                   "%s, p99 %s; client CPU %.2f s)\n",
                   label, bench_grouped(rate_h, g1), bench_grouped((double)c.n, g2), drain_s,
                   c.pages, bench_ms(quantile(c.page_s, c.pages, 0.5), t1),
                   bench_ms(quantile(c.page_s, c.pages, 0.99), t2), c.cpu);
            fflush(stdout);
        }

        /* The baselines: the same rows from SQLite, then with the durable disclosure log. */
        struct feed_raw_result raw_r = {0}, raw_d = {0};
        if (bench_feed_raw_run(o.db, FEED_CONSUMER, 0, o.limit, NULL, c.items, c.n, &raw_r, &ei) !=
                DFDG_OK ||
            bench_feed_raw_run(o.db, FEED_CONSUMER, 0, o.limit, dir, c.items, c.n, &raw_d, &ei) !=
                DFDG_OK) {
            fprintf(stderr, "bench_feed: %s\n", ei.msg);
            status = 1;
        } else {
            double rr = (double)raw_r.rows / raw_r.seconds, rd = (double)raw_d.rows / raw_d.seconds;
            snprintf(label, sizeof label, "same query, read only");
            printf("  raw SQLite    %-28s: %9s rows/s  (%.2f s, %zu queries)", label,
                   bench_grouped(rr, g1), raw_r.seconds, raw_r.pages);
            if (drain_ok)
                printf("   ratio HTTP/raw = %.2f", rate_h / rr);
            printf("\n");
            printf("  raw SQLite    %-28s: %9s rows/s  (%.2f s, %zu commits)",
                   "read + disclosures, tx/page", bench_grouped(rd, g1), raw_d.seconds,
                   raw_d.pages);
            if (drain_ok)
                printf("   ratio HTTP/raw = %.2f", rate_h / rd);
            printf("\n");
            bool same = raw_r.same && raw_d.same;
            bool logged = raw_r.have_discl && raw_r.discl == c.n;
            printf("  checks        %-28s: cursors %s, ids %s, raw rows %s, %s disclosures "
                   "logged for %s items\n",
                   "drain", c.seq_ok ? "increase" : "DO NOT INCREASE",
                   rep == 0 ? "unique" : "REPEATED", same ? "identical" : "DIFFER",
                   bench_grouped((double)raw_r.discl, g2), bench_grouped((double)c.n, g3));
            if (!same || !logged) {
                fprintf(stderr,
                        "bench_feed: drain: the raw read %s, the server logged %zu feed "
                        "disclosures for %zu items\n",
                        same ? "agrees" : "returned other rows", raw_r.discl, c.n);
                status = 1;
            }
        }
        fflush(stdout);
        free(c.items);
        free(c.page_s);
    } else {
        /* Nothing drained: follow the feed from its end, which a drain finds quickest. */
        struct consumer c = {.http = &http, .headers = afeed, .cursor = 0, .limit = o.limit};
        atomic_init(&c.done, false);
        atomic_init(&c.target, 0);
        consumer_main(&c);
        cursor = c.cursor;
        free(c.items);
        free(c.page_s);
        if (c.failed) {
            fprintf(stderr, "bench_feed: reading the feed's end: %s\n", first_error);
            free(cprs);
            return 1;
        }
    }

    if (o.rate > 0) {
        unsigned long long c0 = 0, r0 = 0, c1 = 0, r1 = 0;
        bool have_counters = bench_http_writer_counters(&http, &c0, &r0);
        size_t errors0 = atomic_load(&errors);
        struct lat_result r;
        if (run_latency(&http, &o, ksingle, afeed, run, cprs, ncprs, cursor, &r, &ei) != DFDG_OK) {
            fprintf(stderr, "bench_feed: %s\n", ei.msg);
            free(cprs);
            return 1;
        }
        have_counters = have_counters && bench_http_writer_counters(&http, &c1, &r1) && c1 > c0;
        size_t n = o.rate * o.seconds;
        bool once = r.seq_ok && r.missing == 0 && r.repeated == 0 && r.unexpected == 0 &&
                    r.seen == r.routed && r.routed == r.posted && r.posted == n;
        if (atomic_load(&errors) > errors0 || !once) {
            fprintf(stderr,
                    "bench_feed: while ingest: %zu of %zu posted, %zu routed, %zu seen, %zu "
                    "missing, %zu repeated, %zu unexpected, cursors %s; first error: %s\n",
                    r.posted, n, r.routed, r.seen, r.missing, r.repeated, r.unexpected,
                    r.seq_ok ? "increase" : "DO NOT increase",
                    first_error[0] != '\0' ? first_error : "none");
            status = 1;
        }
        char label[64];
        snprintf(label, sizeof label, "K=%zu, %zu rec/s for %zu s", o.writers, o.rate, o.seconds);
        char g4[32];
        printf("  while ingest  %-28s: %9s deliveries/s  (%s seen = %s routed, %s; %s pages, "
               "%.1f a page; client CPU %.2f s)\n",
               label, bench_grouped((double)r.seen / r.window, g1),
               bench_grouped((double)r.seen, g2), bench_grouped((double)r.routed, g3),
               once ? "each once" : "NOT EXACTLY ONCE", bench_grouped((double)r.pages, g4),
               r.pages > 0 ? (double)r.seen / (double)r.pages : 0, r.cpu);
        printf("  latency       %-28s: p50 %s, p99 %s, max %s  (%s of %s seen before the "
               "writer had its 201)\n",
               "201 at writer -> consumer", sms(r.d50, t1), sms(r.d99, t2), sms(r.dmax, t3),
               bench_grouped((double)r.negative, g2), bench_grouped((double)r.matched, g3));
        printf("  latency       %-28s: p50 %s, p99 %s, max %s\n", "POST sent -> consumer",
               bench_ms(r.s50, t1), bench_ms(r.s99, t2), bench_ms(r.smax, t3));
        printf("  single POSTs  %-28s: %9s rec/s  (p50 %s, p99 %s, max %s; at worst %s behind "
               "schedule)\n",
               "the writers' own", bench_grouped((double)r.posted / r.post_window, g1),
               bench_ms(r.p50, t1), bench_ms(r.p99, t2), bench_ms(r.pmax, t3),
               bench_ms(r.late_max, g2));
        if (have_counters)
            printf("  group commit  %-28s: %9s commits for %s requests, %.1f a commit\n",
                   "records and feed logs", bench_grouped((double)(c1 - c0), g2),
                   bench_grouped((double)(r1 - r0), g3), (double)(r1 - r0) / (double)(c1 - c0));
    }
    if (status != 0 && first_error[0] != '\0')
        fprintf(stderr, "bench_feed: first error: %s\n", first_error);
    free(cprs);
    return status;
}
