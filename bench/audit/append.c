/* SPDX-License-Identifier: Apache-2.0 */
/*
 * append.c: durable appends through the real group-commit writer (src/exchange/writer.h),
 * one write request an entry from concurrent submitter threads, and the baseline: the same
 * audit_entry and audit_subject rows, read back from the writer's store, inserted into a fresh
 * file with the store's schema, PRAGMAs and INSERTs by one thread with plain SQLite. The
 * baseline leaves out what the audit log adds to a row: the Merkle nodes (audit_node), the
 * canonical JSON and hashing, and the signed tree heads. The benchmarks, not src/store, own
 * these raw connections, so this file may include sqlite3.h.
 */
#include "core/dfdg.h"
#include "audit.h"
#include "audit/auditlog.h"
#include "core/when.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <time.h>

/* --- the writer run ----------------------------------------------------------------------- */

/* One submitter's request; reused for each of its appends. */
struct append_req {
    struct dfdg_write_req wr; /* first: the writer hands it back */
    json_t *ev;               /* the entry to append (the submitter's) */
    pthread_mutex_t lock;     /* guards done */
    pthread_cond_t cond;      /* signalled when done is set */
    bool done;                /* the writer answered (lock) */
};

struct run {
    struct dfdg_writer *w;   /* the writer under test */
    size_t n;                /* appends to make */
    uint64_t seed;           /* per-thread streams derive from it */
    atomic_size_t next;      /* next append index to take */
    atomic_size_t ok;        /* appends answered DFDG_OK */
    atomic_size_t failed;    /* appends answered with an error */
    atomic_size_t busy;      /* DFDG_BUSY answers to submit */
    double *lat;             /* seconds, per append index */
    pthread_barrier_t start; /* every submitter is ready: the clock starts */
    pthread_mutex_t lock;    /* guards first_error */
    char first_error[256];   /* the first failure */
};

struct submitter {
    struct run *run;
    size_t no; /* thread number, for its random stream */
    pthread_t thread;
};

static void
note_error(struct run *run, const char *what, const char *detail)
{
    pthread_mutex_lock(&run->lock);
    if (run->first_error[0] == '\0')
        snprintf(run->first_error, sizeof run->first_error, "%s: %s", what, detail);
    pthread_mutex_unlock(&run->lock);
}

/* In the writer thread, inside the group's transaction: what an audited request does. */
static dfdg_err
apply_append(struct dfdg_tx *tx, struct dfdg_write_req *wr)
{
    struct append_req *r = (struct append_req *)wr;
    return dfdg_audit_append(tx->audit, tx->store, r->ev, tx->time);
}

/* In the writer thread, after the commit. */
static void
done_append(struct dfdg_write_req *wr)
{
    struct append_req *r = (struct append_req *)wr;
    pthread_mutex_lock(&r->lock);
    r->done = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static void *
submitter_main(void *arg)
{
    struct submitter *sm = arg;
    struct run *run = sm->run;
    struct bench_rng rng;
    bench_rng_init(&rng, run->seed * 1000003u + sm->no);
    struct append_req req = {.wr = {.apply = apply_append, .done = done_append}};
    pthread_mutex_init(&req.lock, NULL);
    pthread_cond_init(&req.cond, NULL);
    pthread_barrier_wait(&run->start);
    for (;;) {
        size_t k = atomic_fetch_add(&run->next, 1);
        if (k >= run->n)
            break;
        /* The request thread builds the entry, as the server's handlers do. */
        double t0 = bench_now();
        req.ev = bench_audit_event(&rng, dfdg_time_now_us() / 1000);
        if (req.ev == NULL) {
            atomic_fetch_add(&run->failed, 1);
            note_error(run, "entry", "out of memory");
            continue;
        }
        req.done = false;
        dfdg_err rc;
        while ((rc = dfdg_writer_submit(run->w, &req.wr)) == DFDG_BUSY) {
            atomic_fetch_add(&run->busy, 1);
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
        if (rc != DFDG_OK) {
            atomic_fetch_add(&run->failed, 1);
            note_error(run, "submit", dfdg_err_name(rc));
            json_decref(req.ev);
            continue;
        }
        pthread_mutex_lock(&req.lock);
        while (!req.done)
            pthread_cond_wait(&req.cond, &req.lock);
        pthread_mutex_unlock(&req.lock);
        run->lat[k] = bench_now() - t0;
        if (req.wr.rc == DFDG_OK) {
            atomic_fetch_add(&run->ok, 1);
        } else {
            atomic_fetch_add(&run->failed, 1);
            note_error(run, "append", dfdg_err_name(req.wr.rc));
        }
        json_decref(req.ev);
    }
    pthread_cond_destroy(&req.cond);
    pthread_mutex_destroy(&req.lock);
    return NULL;
}

dfdg_err
bench_append_run(const char *path, size_t n, size_t c, uint64_t seed,
                 struct bench_append_result *out, struct dfdg_errinfo *ei)
{
    memset(out, 0, sizeof *out);
    bench_sqlite_remove(path);
    struct dfdg_store *s = NULL;
    dfdg_err rc = dfdg_store_open(path, DFDG_STORE_CREATE, &s, ei);
    dfdg_store_close(s);
    if (rc != DFDG_OK)
        return rc;

    struct run run = {.n = n, .seed = seed};
    run.lat = calloc(n > 0 ? n : 1, sizeof *run.lat);
    struct submitter *sm = calloc(c, sizeof *sm);
    if (run.lat == NULL || sm == NULL) {
        rc = dfdg_errinfo_set(ei, DFDG_NOMEM, "submitter state");
        goto free_state;
    }
    /* The server's queue bound; c submitters never fill it. */
    rc = dfdg_writer_start(path, 4096, &run.w, ei);
    if (rc != DFDG_OK)
        goto free_state;
    atomic_init(&run.next, 0);
    atomic_init(&run.ok, 0);
    atomic_init(&run.failed, 0);
    atomic_init(&run.busy, 0);
    pthread_mutex_init(&run.lock, NULL);
    pthread_barrier_init(&run.start, NULL, (unsigned)c + 1);
    for (size_t i = 0; i < c; i++) {
        sm[i].run = &run;
        sm[i].no = i;
        if (pthread_create(&sm[i].thread, NULL, submitter_main, &sm[i]) != 0) {
            /* Threads already waiting at the barrier cannot be released without the rest. */
            fprintf(stderr, "bench_audit: cannot start %zu submitter threads\n", c);
            exit(1);
        }
    }
    pthread_barrier_wait(&run.start);
    double t0 = bench_now(), cpu0 = bench_cpu_seconds();
    for (size_t i = 0; i < c; i++)
        pthread_join(sm[i].thread, NULL);
    out->seconds = bench_now() - t0;
    out->cpu = bench_cpu_seconds() - cpu0;
    dfdg_writer_get_stats(run.w, &out->during);
    dfdg_writer_stop(run.w); /* signs the last entries' tree head */
    out->entries = atomic_load(&run.ok);
    out->failed = atomic_load(&run.failed);
    out->busy = atomic_load(&run.busy);
    bench_lat_of(run.lat, n, &out->lat);
    dfdg_strlcpy(out->first_error, run.first_error, sizeof out->first_error);
    pthread_barrier_destroy(&run.start);
    pthread_mutex_destroy(&run.lock);

    /* The log the writer left must verify, with every head it signed. */
    rc = dfdg_store_open(path, DFDG_STORE_OPEN, &s, ei);
    if (rc == DFDG_OK) {
        rc = dfdg_audit_check(s, NULL, NULL, &out->checked);
        if (rc != DFDG_OK)
            dfdg_errinfo_set(ei, rc, "audit check: %s", out->checked.problem);
        dfdg_store_close(s);
    }
free_state:
    free(sm);
    free(run.lat);
    return rc;
}

/* --- the baseline ------------------------------------------------------------------------- */

struct bench_rows {
    size_t n;          /* entries */
    int64_t *idx;      /* per entry */
    int64_t *at;       /* per entry */
    size_t *off;       /* entry i's bytes: bytes[off[i] .. off[i + 1]) */
    char *bytes;       /* every entry, back to back */
    size_t nsub;       /* audit_subject rows */
    int64_t *sub_idx;  /* per subject row, ascending */
    int64_t *sub_pers; /* per subject row */
};

void
bench_rows_free(struct bench_rows *rows)
{
    if (rows == NULL)
        return;
    free(rows->idx);
    free(rows->at);
    free(rows->off);
    free(rows->bytes);
    free(rows->sub_idx);
    free(rows->sub_pers);
    free(rows);
}

double
bench_rows_entry_bytes(const struct bench_rows *rows)
{
    return rows->n > 0 ? (double)rows->off[rows->n] / (double)rows->n : 0;
}

/* Grows *p (elements of size sz) to hold at least need; false when out of memory. */
static bool
grow(void **p, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap)
        return true;
    size_t ncap = *cap > 0 ? *cap : 1024;
    while (ncap < need)
        ncap *= 2;
    void *np = realloc(*p, ncap * sz);
    if (np == NULL)
        return false;
    *p = np;
    *cap = ncap;
    return true;
}

static dfdg_err
load_entries(sqlite3 *db, struct bench_rows *rows, struct dfdg_errinfo *ei)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT idx, at, entry FROM audit_entry ORDER BY idx", -1, &st,
                           NULL) != SQLITE_OK)
        return bench_sqlite_fail(db, "read audit_entry", ei);
    size_t cap = 0, bcap = 0, ocap = 0, used = 0;
    dfdg_err rc = DFDG_OK;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        size_t len = (size_t)sqlite3_column_bytes(st, 2);
        size_t n = rows->n;
        size_t c1 = cap, c2 = cap;
        if (!grow((void **)&rows->idx, &c1, n + 1, sizeof *rows->idx) ||
            !grow((void **)&rows->at, &c2, n + 1, sizeof *rows->at) ||
            !grow((void **)&rows->off, &ocap, n + 2, sizeof *rows->off) ||
            !grow((void **)&rows->bytes, &bcap, used + len + 1, 1)) {
            rc = dfdg_errinfo_set(ei, DFDG_NOMEM, "baseline rows");
            break;
        }
        cap = c1;
        rows->idx[n] = sqlite3_column_int64(st, 0);
        rows->at[n] = sqlite3_column_int64(st, 1);
        rows->off[n] = used;
        if (len > 0)
            memcpy(rows->bytes + used, sqlite3_column_blob(st, 2), len);
        used += len;
        rows->n = n + 1;
        rows->off[rows->n] = used;
    }
    if (rc == DFDG_OK && src != SQLITE_DONE)
        rc = bench_sqlite_fail(db, "read audit_entry", ei);
    sqlite3_finalize(st);
    return rc;
}

static dfdg_err
load_subjects(sqlite3 *db, struct bench_rows *rows, struct dfdg_errinfo *ei)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT person_id, idx FROM audit_subject ORDER BY idx, person_id",
                           -1, &st, NULL) != SQLITE_OK)
        return bench_sqlite_fail(db, "read audit_subject", ei);
    size_t cap = 0;
    dfdg_err rc = DFDG_OK;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        size_t c1 = cap, c2 = cap;
        if (!grow((void **)&rows->sub_idx, &c1, rows->nsub + 1, sizeof *rows->sub_idx) ||
            !grow((void **)&rows->sub_pers, &c2, rows->nsub + 1, sizeof *rows->sub_pers)) {
            rc = dfdg_errinfo_set(ei, DFDG_NOMEM, "baseline rows");
            break;
        }
        cap = c1;
        rows->sub_pers[rows->nsub] = sqlite3_column_int64(st, 0);
        rows->sub_idx[rows->nsub] = sqlite3_column_int64(st, 1);
        rows->nsub++;
    }
    if (rc == DFDG_OK && src != SQLITE_DONE)
        rc = bench_sqlite_fail(db, "read audit_subject", ei);
    sqlite3_finalize(st);
    return rc;
}

dfdg_err
bench_rows_load(const char *path, struct bench_rows **out, struct dfdg_errinfo *ei)
{
    *out = NULL;
    struct bench_rows *rows = calloc(1, sizeof *rows);
    if (rows == NULL)
        return dfdg_errinfo_set(ei, DFDG_NOMEM, "baseline rows");
    sqlite3 *db = NULL;
    dfdg_err rc = DFDG_OK;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        rc = bench_sqlite_fail(db, "open the writer's store", ei);
    if (rc == DFDG_OK)
        rc = load_entries(db, rows, ei);
    if (rc == DFDG_OK)
        rc = load_subjects(db, rows, ei);
    sqlite3_close(db);
    if (rc == DFDG_OK && rows->n == 0)
        rc = dfdg_errinfo_set(ei, DFDG_NOT_FOUND, "the writer's store has no audit entries");
    if (rc != DFDG_OK) {
        bench_rows_free(rows);
        return rc;
    }
    *out = rows;
    return DFDG_OK;
}

dfdg_err
bench_rows_insert(const struct bench_rows *rows, const char *path, size_t group,
                  struct bench_raw_result *out, struct dfdg_errinfo *ei)
{
    memset(out, 0, sizeof *out);
    if (group == 0)
        group = rows->n;
    bench_sqlite_remove(path);
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL, *sub = NULL;
    dfdg_err rc = DFDG_OK;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        rc = bench_sqlite_fail(db, "open", ei);
    if (rc == DFDG_OK)
        rc = bench_sqlite_create_schema(db, ei);
    /* The store's own statements (ST_AUDIT_APPEND and ST_AUDIT_SUBJECT in src/store/sqlite.c). */
    if (rc == DFDG_OK &&
        (sqlite3_prepare_v2(db, "INSERT INTO audit_entry(idx, at, entry) VALUES(?1, ?2, ?3)", -1,
                            &ins, NULL) != SQLITE_OK ||
         sqlite3_prepare_v2(db,
                            "INSERT OR IGNORE INTO audit_subject(person_id, idx) VALUES(?1, ?2)",
                            -1, &sub, NULL) != SQLITE_OK))
        rc = bench_sqlite_fail(db, "prepare", ei);
    if (rc != DFDG_OK)
        goto close_db;

    double t0 = bench_now();
    size_t j = 0; /* next subject row */
    for (size_t i = 0; i < rows->n && rc == DFDG_OK; i++) {
        if (i % group == 0)
            rc = bench_sqlite_exec(db, "BEGIN IMMEDIATE", "begin", ei);
        if (rc != DFDG_OK)
            break;
        sqlite3_bind_int64(ins, 1, rows->idx[i]);
        sqlite3_bind_int64(ins, 2, rows->at[i]);
        sqlite3_bind_blob64(ins, 3, rows->bytes + rows->off[i],
                            (sqlite3_uint64)(rows->off[i + 1] - rows->off[i]), SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE)
            rc = bench_sqlite_fail(db, "insert audit_entry", ei);
        sqlite3_reset(ins);
        while (rc == DFDG_OK && j < rows->nsub && rows->sub_idx[j] <= rows->idx[i]) {
            sqlite3_bind_int64(sub, 1, rows->sub_pers[j]);
            sqlite3_bind_int64(sub, 2, rows->sub_idx[j]);
            if (sqlite3_step(sub) != SQLITE_DONE)
                rc = bench_sqlite_fail(db, "insert audit_subject", ei);
            sqlite3_reset(sub);
            j++;
            out->subjects++;
        }
        if (rc == DFDG_OK && (i % group == group - 1 || i + 1 == rows->n)) {
            rc = bench_sqlite_exec(db, "COMMIT", "commit", ei);
            out->commits++;
        }
        out->entries++;
    }
    out->seconds = bench_now() - t0;
    if (rc != DFDG_OK)
        (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
close_db:
    sqlite3_finalize(ins);
    sqlite3_finalize(sub);
    sqlite3_close(db);
    bench_sqlite_remove(path);
    return rc;
}
