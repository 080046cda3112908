/* SPDX-License-Identifier: Apache-2.0 */
/*
 * proofs.c: proof latency on a large log. bench_log_build makes the log (setup, not
 * measured): entries appended with dfdg_audit_append in large transactions, a tree head
 * signed every few thousand entries. bench_proofs_run then asks a fresh store connection for
 * random inclusion proofs (against the newest head) and consistency proofs (between two random
 * heads), built by merkle.h from the stored perfect subtrees with dfdg_store_audit_node_get,
 * and checks each with the independent verifier (verify.h). Every node read of every proof is
 * recorded; the baseline replays exactly those reads with one prepared raw SQLite statement,
 * so its ratio is what the store layer and the proof logic cost on top of the B-tree lookups.
 */
#include "core/dfdg.h"
#include "audit.h"
#include "audit/auditlog.h"
#include "audit/merkle.h"
#include "audit/verify.h"
#include "core/when.h"

#include <sqlite3.h>

/* A proof at 2^64 leaves reads fewer nodes than this; at 10^6, about 20 to 40. */
#define TRACE_MAX 160
/* Entries a build transaction holds at most (rounded to whole head intervals). */
#define BUILD_TX_ENTRIES 50000

dfdg_err
bench_log_build(const char *path, size_t n, size_t head_every, uint64_t seed,
                struct dfdg_errinfo *ei)
{
    bench_sqlite_remove(path);
    struct dfdg_store *s = NULL;
    struct dfdg_audit *a = NULL;
    dfdg_err rc = dfdg_store_open(path, DFDG_STORE_CREATE, &s, ei);
    if (rc == DFDG_OK)
        rc = dfdg_audit_open(s, &a, ei);
    if (rc != DFDG_OK)
        goto close_store;
    struct bench_rng rng;
    bench_rng_init(&rng, seed ^ 0x6c6f67u);
    size_t heads_per_tx = head_every < BUILD_TX_ENTRIES ? BUILD_TX_ENTRIES / head_every : 1;
    size_t nheads = (n + head_every - 1) / head_every;
    /* One head a second, ending now, as a writer under steady load would have signed them. */
    int64_t t0 = dfdg_time_now_us() - (int64_t)nheads * 1000000;
    bool in_tx = false;
    size_t i = 0;
    for (size_t h = 0; h < nheads; h++) {
        int64_t t = t0 + (int64_t)h * 1000000;
        if (!in_tx) {
            rc = dfdg_store_begin(s);
            if (rc != DFDG_OK)
                break;
            in_tx = true;
        }
        for (size_t j = 0; j < head_every && i < n && rc == DFDG_OK; j++, i++) {
            json_t *ev = bench_audit_event(&rng, t / 1000);
            rc = ev != NULL ? dfdg_audit_append(a, s, ev, t) : DFDG_NOMEM;
            json_decref(ev);
        }
        if (rc == DFDG_OK)
            rc = dfdg_audit_sign(a, s, t);
        if (rc == DFDG_OK && ((h + 1) % heads_per_tx == 0 || h + 1 == nheads)) {
            rc = dfdg_store_commit(s);
            in_tx = false;
        }
        if (rc != DFDG_OK)
            break;
    }
    if (rc != DFDG_OK) {
        dfdg_errinfo_set(ei, rc, "building the log: %s", dfdg_store_last_error(s));
        if (in_tx)
            (void)dfdg_store_rollback(s);
    }
close_store:
    dfdg_audit_free(a);
    dfdg_store_close(s);
    return rc;
}

/* The node reads of one proof, in order. */
struct trace {
    size_t n; /* reads recorded */
    uint8_t level[TRACE_MAX];
    int64_t idx[TRACE_MAX];
};

/* The getter's context: the store connection and where to record the reads. */
struct getter {
    struct dfdg_store *s; /* the reader's connection */
    struct trace *t;      /* the current proof's trace */
    size_t calls;         /* reads over all proofs */
};

static dfdg_err
get_node(void *ctx, unsigned level, uint64_t index, uint8_t out[DFDG_HASH_LEN])
{
    struct getter *g = ctx;
    g->calls++;
    if (g->t->n < TRACE_MAX) {
        g->t->level[g->t->n] = (uint8_t)level;
        g->t->idx[g->t->n] = (int64_t)index;
        g->t->n++;
    }
    return dfdg_store_audit_node_get(g->s, level, (int64_t)index, out);
}

struct heads {
    size_t n, cap;
    struct dfdg_sth *v;
    bool nomem; /* the scan stopped early: out of memory */
};

static bool
collect_head(const struct dfdg_sth *h, void *ctx)
{
    struct heads *hs = ctx;
    if (hs->n == hs->cap) {
        size_t ncap = hs->cap > 0 ? hs->cap * 2 : 256;
        struct dfdg_sth *nv = realloc(hs->v, ncap * sizeof *nv);
        if (nv == NULL) {
            hs->nomem = true;
            return false;
        }
        hs->v = nv;
        hs->cap = ncap;
    }
    hs->v[hs->n++] = *h;
    return true;
}

/* The entry a scan from idx meets first, copied out. */
struct one_entry {
    int64_t want; /* the idx asked for */
    bool found;   /* the scan's first row had it */
    size_t len;
    uint8_t buf[4096];
};

static bool
first_entry(int64_t idx, int64_t at, const char *entry, size_t len, void *ctx)
{
    (void)at;
    struct one_entry *e = ctx;
    e->found = idx == e->want && len <= sizeof e->buf;
    if (e->found) {
        memcpy(e->buf, entry, len);
        e->len = len;
    }
    return false;
}

/* Replays traces[0..n) with raw SQLite, one timing per trace. */
static dfdg_err
replay(sqlite3 *db, sqlite3_stmt *st, const struct trace *traces, size_t n, double *lat,
       struct dfdg_errinfo *ei)
{
    uint8_t sink = 0;
    for (size_t k = 0; k < n; k++) {
        const struct trace *t = &traces[k];
        double t0 = bench_now();
        for (size_t j = 0; j < t->n; j++) {
            sqlite3_bind_int(st, 1, t->level[j]);
            sqlite3_bind_int64(st, 2, t->idx[j]);
            if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_bytes(st, 0) != 32) {
                sqlite3_reset(st);
                return bench_sqlite_fail(db, "replay a node read", ei);
            }
            uint8_t h[32];
            memcpy(h, sqlite3_column_blob(st, 0), 32);
            sink ^= h[0];
            sqlite3_reset(st);
        }
        lat[k] = bench_now() - t0;
    }
    (void)sink;
    return DFDG_OK;
}

static dfdg_err
inclusion_proofs(struct getter *g, struct bench_rng *rng, const struct dfdg_sth *top, size_t np,
                 struct trace *traces, double *lat, double *chk, struct dfdg_errinfo *ei)
{
    uint8_t proof[DFDG_MERKLE_MAX_INCLUSION][DFDG_HASH_LEN];
    struct one_entry *e = malloc(sizeof *e);
    if (e == NULL)
        return dfdg_errinfo_set(ei, DFDG_NOMEM, "entry buffer");
    dfdg_err rc = DFDG_OK;
    for (size_t k = 0; k < np && rc == DFDG_OK; k++) {
        uint64_t i = bench_rng_below(rng, (uint64_t)top->size);
        size_t plen = 0;
        traces[k].n = 0;
        g->t = &traces[k];
        double t0 = bench_now();
        rc = dfdg_merkle_inclusion_proof(get_node, g, i, (uint64_t)top->size, proof,
                                         DFDG_ARRAY_LEN(proof), &plen);
        lat[k] = bench_now() - t0;
        if (rc != DFDG_OK) {
            dfdg_errinfo_set(ei, rc, "inclusion proof of entry %llu: %s", (unsigned long long)i,
                             dfdg_store_last_error(g->s));
            break;
        }
        /* The checker has the entry; reading it is not part of either timing. */
        e->want = (int64_t)i;
        e->found = false;
        rc = dfdg_store_audit_scan(g->s, (int64_t)i, first_entry, e);
        if (rc == DFDG_OK && !e->found)
            rc = DFDG_NOT_FOUND;
        if (rc != DFDG_OK) {
            dfdg_errinfo_set(ei, rc, "reading entry %llu", (unsigned long long)i);
            break;
        }
        t0 = bench_now();
        uint8_t leaf[DFDG_VERIFY_HASH_LEN];
        dfdg_verify_leaf_hash(e->buf, e->len, leaf);
        bool ok =
            dfdg_verify_inclusion(leaf, i, (uint64_t)top->size,
                                  (const uint8_t(*)[DFDG_VERIFY_HASH_LEN])proof, plen, top->root);
        chk[k] = bench_now() - t0;
        if (!ok)
            rc = dfdg_errinfo_set(ei, DFDG_CORRUPT,
                                  "the inclusion proof of entry %llu in %lld does not verify",
                                  (unsigned long long)i, (long long)top->size);
    }
    free(e);
    return rc;
}

static dfdg_err
consistency_proofs(struct getter *g, struct bench_rng *rng, const struct heads *hs, size_t np,
                   struct trace *traces, double *lat, double *chk, struct dfdg_errinfo *ei)
{
    uint8_t proof[DFDG_MERKLE_MAX_CONSISTENCY][DFDG_HASH_LEN];
    for (size_t k = 0; k < np; k++) {
        size_t a = bench_rng_below(rng, hs->n), b;
        do
            b = bench_rng_below(rng, hs->n);
        while (b == a);
        if (a > b) {
            size_t x = a;
            a = b;
            b = x;
        }
        const struct dfdg_sth *h1 = &hs->v[a], *h2 = &hs->v[b];
        size_t plen = 0;
        traces[k].n = 0;
        g->t = &traces[k];
        double t0 = bench_now();
        dfdg_err rc =
            dfdg_merkle_consistency_proof(get_node, g, (uint64_t)h1->size, (uint64_t)h2->size,
                                          proof, DFDG_ARRAY_LEN(proof), &plen);
        lat[k] = bench_now() - t0;
        if (rc != DFDG_OK)
            return dfdg_errinfo_set(ei, rc, "consistency proof %lld -> %lld: %s",
                                    (long long)h1->size, (long long)h2->size,
                                    dfdg_store_last_error(g->s));
        t0 = bench_now();
        bool ok =
            dfdg_verify_consistency((uint64_t)h1->size, (uint64_t)h2->size, h1->root, h2->root,
                                    (const uint8_t(*)[DFDG_VERIFY_HASH_LEN])proof, plen);
        chk[k] = bench_now() - t0;
        if (!ok)
            return dfdg_errinfo_set(ei, DFDG_CORRUPT,
                                    "the consistency proof %lld -> %lld does not verify",
                                    (long long)h1->size, (long long)h2->size);
    }
    return DFDG_OK;
}

static dfdg_err
sth_latest_runs(struct dfdg_store *s, sqlite3 *db, size_t np, double *lat, double *raw,
                struct dfdg_errinfo *ei)
{
    sqlite3_stmt *st = NULL;
    /* The store's own query (ST_STH_LATEST in src/store/sqlite.c). */
    if (sqlite3_prepare_v2(db,
                           "SELECT size, at, root, sig FROM audit_sth ORDER BY size DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return bench_sqlite_fail(db, "prepare the head query", ei);
    dfdg_err rc = DFDG_OK;
    for (size_t k = 0; k < np && rc == DFDG_OK; k++) {
        struct dfdg_sth h;
        double t0 = bench_now();
        rc = dfdg_store_sth_latest(s, &h);
        lat[k] = bench_now() - t0;
        if (rc != DFDG_OK)
            dfdg_errinfo_set(ei, rc, "sth_latest: %s", dfdg_store_last_error(s));
    }
    for (size_t k = 0; k < np && rc == DFDG_OK; k++) {
        struct dfdg_sth h;
        double t0 = bench_now();
        if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_bytes(st, 2) != 32 ||
            sqlite3_column_bytes(st, 3) != 64) {
            rc = bench_sqlite_fail(db, "the head query", ei);
        } else {
            h.size = sqlite3_column_int64(st, 0);
            h.at = sqlite3_column_int64(st, 1);
            memcpy(h.root, sqlite3_column_blob(st, 2), 32);
            memcpy(h.sig, sqlite3_column_blob(st, 3), 64);
        }
        sqlite3_reset(st);
        raw[k] = bench_now() - t0;
    }
    sqlite3_finalize(st);
    return rc;
}

dfdg_err
bench_proofs_run(const char *path, size_t np, uint64_t seed, struct bench_proof_result *out,
                 struct dfdg_errinfo *ei)
{
    memset(out, 0, sizeof *out);
    struct heads hs = {0};
    struct dfdg_store *s = NULL;
    sqlite3 *db = NULL;
    sqlite3_stmt *node = NULL;
    struct trace *traces = calloc(np, sizeof *traces);
    double *lat = calloc(np, sizeof *lat), *chk = calloc(np, sizeof *chk);
    double *raw = calloc(np, sizeof *raw);
    dfdg_err rc = DFDG_OK;
    if (traces == NULL || lat == NULL || chk == NULL || raw == NULL) {
        rc = dfdg_errinfo_set(ei, DFDG_NOMEM, "proof timings");
        goto free_all;
    }
    rc = dfdg_store_open(path, DFDG_STORE_OPEN, &s, ei);
    if (rc != DFDG_OK)
        goto free_all;
    rc = dfdg_store_sth_scan(s, collect_head, &hs);
    if (rc == DFDG_OK && hs.nomem)
        rc = dfdg_errinfo_set(ei, DFDG_NOMEM, "tree heads");
    if (rc == DFDG_OK && hs.n < 2)
        rc = dfdg_errinfo_set(ei, DFDG_NOT_FOUND, "the log needs two tree heads");
    if (rc != DFDG_OK)
        goto free_all;
    out->heads = hs.n;
    out->size = hs.v[hs.n - 1].size;

    /* The baseline's connection: the store's cache size, so both keep as many pages. */
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA cache_size=-65536", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT hash FROM audit_node WHERE level = ?1 AND idx = ?2", -1,
                           &node, NULL) != SQLITE_OK) {
        rc = bench_sqlite_fail(db, "open the baseline connection", ei);
        goto free_all;
    }

    struct bench_rng rng;
    bench_rng_init(&rng, seed ^ 0x70726f6fu);
    struct getter g = {.s = s};
    rc = inclusion_proofs(&g, &rng, &hs.v[hs.n - 1], np, traces, lat, chk, ei);
    if (rc == DFDG_OK)
        rc = replay(db, node, traces, np, raw, ei);
    if (rc != DFDG_OK)
        goto free_all;
    out->incl_nodes = (double)g.calls / (double)np;
    bench_lat_of(lat, np, &out->incl);
    bench_lat_of(chk, np, &out->incl_check);
    bench_lat_of(raw, np, &out->incl_raw);

    g.calls = 0;
    rc = consistency_proofs(&g, &rng, &hs, np, traces, lat, chk, ei);
    if (rc == DFDG_OK)
        rc = replay(db, node, traces, np, raw, ei);
    if (rc != DFDG_OK)
        goto free_all;
    out->cons_nodes = (double)g.calls / (double)np;
    bench_lat_of(lat, np, &out->cons);
    bench_lat_of(chk, np, &out->cons_check);
    bench_lat_of(raw, np, &out->cons_raw);

    rc = sth_latest_runs(s, db, np, lat, raw, ei);
    if (rc == DFDG_OK) {
        bench_lat_of(lat, np, &out->sth);
        bench_lat_of(raw, np, &out->sth_raw);
    }
free_all:
    sqlite3_finalize(node);
    sqlite3_close(db);
    dfdg_store_close(s);
    free(hs.v);
    free(raw);
    free(chk);
    free(lat);
    free(traces);
    return rc;
}
