/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pg_batch.c: the writer's fast path on PostgreSQL (pg_int.h, "batch"). A round trip costs
 * 100-150 µs on one machine, so one per statement caps ingest at a few thousand records a
 * second whatever PostgreSQL could take. Within one write transaction this file
 *   - answers the writer's reads about a request's persons (CPR to person, residence,
 *     a-kasse memberships, whether a record of the prefetch's query type may
 *     exist) and its idempotency look-ups from two set-based queries made by
 *     dfdg_store_prefetch (pg_prefetch), instead of a few statements per record;
 *   - keeps new records and deliveries in COPY buffers and sends them with COPY FROM STDIN
 *     before the next statement of any kind (SAVEPOINT and COMMIT included).
 *
 * Invariants:
 *   1. Every answer is the one the statement it replaces would give at that point of the
 *      transaction. The cache is filled under the write lock, so no other writer changes the
 *      store meanwhile; a record of a type relationships derive from (a-kasse membership, the
 *      prefetch's query type) makes its person's cached relationships stale (generations);
 *      person_put forgets the whole cache; it is dropped when the transaction ends.
 *   2. The server sees the rows in insert order, and a savepoint never splits the buffer:
 *      rows are sent before every statement, so the buffer only holds rows written after the
 *      newest savepoint, and rollback_to drops them all.
 *   3. seq values are handed out here from the tables' own sequences, read once a
 *      transaction under the write lock and moved on with setval after each COPY: they grow
 *      in commit order as the identity defaults would (pg.c invariant 3).
 *   4. A row is buffered only when the checks its INSERT statement makes are known to pass:
 *      the id and (reporter, source_ref) are new, the person exists, the delivery's record
 *      exists and has not reached that org. A COPY therefore fails only on a broken
 *      connection or server, and then the request's savepoint (or the transaction) goes.
 */
#include "core/dfdg.h"
#include "store/pg_int.h"

#include <limits.h>

/* The type relationships to a-kasser derive from (PG_MEMBERS_ON in pg.c). */
#define MEMBERSHIP_TYPE "akasse-membership"
#define BATCH_MARKS 16 /* savepoint depth the marks follow (pg.c allows 16) */

/* --- a string map: chained hashing over an array, so truncation to a mark is cheap ------- */

struct map_entry {
    char *key;   /* malloc */
    int64_t val; /* the value */
    size_t next; /* next entry in the chain, +1 (0: end) */
};

struct map {
    struct map_entry *e; /* entries in insertion order */
    size_t n, cap;       /* entries used, allocated */
    size_t *buckets;     /* first entry of each chain, +1 (0: empty) */
    size_t nbuckets;     /* a power of two, or 0 */
};

static uint64_t
hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    /* FNV's low bits mix poorly and buckets are picked by them: finish like MurmurHash3. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static struct map_entry *
map_find(const struct map *m, const char *key)
{
    if (m->nbuckets == 0)
        return NULL;
    for (size_t i = m->buckets[hash_str(key) & (m->nbuckets - 1)]; i != 0; i = m->e[i - 1].next)
        if (strcmp(m->e[i - 1].key, key) == 0)
            return &m->e[i - 1];
    return NULL;
}

static bool
map_get(const struct map *m, const char *key, int64_t *val)
{
    const struct map_entry *e = map_find(m, key);
    if (e != NULL && val != NULL)
        *val = e->val;
    return e != NULL;
}

static void
map_rehash(struct map *m)
{
    memset(m->buckets, 0, m->nbuckets * sizeof *m->buckets);
    for (size_t i = 0; i < m->n; i++) {
        size_t b = hash_str(m->e[i].key) & (m->nbuckets - 1);
        m->e[i].next = m->buckets[b];
        m->buckets[b] = i + 1;
    }
}

/* Sets key to val (adding it when new). */
static dfdg_err
map_put(struct map *m, const char *key, int64_t val)
{
    struct map_entry *found = map_find(m, key);
    if (found != NULL) {
        found->val = val;
        return DFDG_OK;
    }
    if (m->n + 1 > m->nbuckets / 2) {
        size_t nb = m->nbuckets == 0 ? 256 : m->nbuckets * 2;
        size_t *b = realloc(m->buckets, nb * sizeof *b);
        if (b == NULL)
            return DFDG_NOMEM;
        m->buckets = b;
        m->nbuckets = nb;
        map_rehash(m);
    }
    if (m->n == m->cap) {
        size_t nc = m->cap == 0 ? 128 : m->cap * 2;
        struct map_entry *e = realloc(m->e, nc * sizeof *e);
        if (e == NULL)
            return DFDG_NOMEM;
        m->e = e;
        m->cap = nc;
    }
    char *k = strdup(key);
    if (k == NULL)
        return DFDG_NOMEM;
    size_t b = hash_str(key) & (m->nbuckets - 1);
    m->e[m->n] = (struct map_entry){k, val, m->buckets[b]};
    m->buckets[b] = ++m->n;
    return DFDG_OK;
}

/* Drops the entries added after the first n. */
static void
map_truncate(struct map *m, size_t n)
{
    if (n >= m->n)
        return;
    for (size_t i = n; i < m->n; i++)
        free(m->e[i].key);
    m->n = n;
    map_rehash(m);
}

static void
map_free(struct map *m)
{
    map_truncate(m, 0);
    free(m->e);
    free(m->buckets);
    memset(m, 0, sizeof *m);
}

/* --- COPY buffers ---------------------------------------------------------------------------- */

struct cbuf {
    char *p;         /* COPY text format, one line a row */
    size_t len, cap; /* bytes used, allocated */
    size_t rows;     /* lines */
};

static bool
cb_reserve(struct cbuf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return true;
    size_t nc = b->cap == 0 ? 65536 : b->cap;
    while (nc < b->len + more)
        nc *= 2;
    char *p = realloc(b->p, nc);
    if (p == NULL)
        return false;
    b->p = p;
    b->cap = nc;
    return true;
}

/* Appends a column separator (unless first) and s escaped for COPY's text format; NULL and
 * (with empty_null) "" are \N. */
static bool
cb_text(struct cbuf *b, const char *s, bool empty_null, bool first)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (!cb_reserve(b, 2 * n + 4))
        return false;
    if (!first)
        b->p[b->len++] = '\t';
    if (s == NULL || (empty_null && n == 0)) {
        memcpy(b->p + b->len, "\\N", 2);
        b->len += 2;
        return true;
    }
    for (const char *c = s; *c != '\0'; c++) {
        char e = *c == '\\' ? '\\' : *c == '\t' ? 't' : *c == '\n' ? 'n' : *c == '\r' ? 'r' : 0;
        if (e != 0) {
            b->p[b->len++] = '\\';
            b->p[b->len++] = e;
        } else {
            b->p[b->len++] = *c;
        }
    }
    return true;
}

static bool
cb_int(struct cbuf *b, int64_t v, bool null)
{
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)v);
    return cb_text(b, null ? NULL : num, false, false);
}

/* A bytea in hex: \\x.. (the backslash escaped for COPY). */
static bool
cb_bytes(struct cbuf *b, const uint8_t *v, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (!cb_reserve(b, 2 * n + 5))
        return false;
    memcpy(b->p + b->len, "\t\\\\x", 4);
    b->len += 4;
    for (size_t i = 0; i < n; i++) {
        b->p[b->len++] = hex[v[i] >> 4];
        b->p[b->len++] = hex[v[i] & 15];
    }
    return true;
}

static bool
cb_end_row(struct cbuf *b)
{
    if (!cb_reserve(b, 1))
        return false;
    b->p[b->len++] = '\n';
    b->rows++;
    return true;
}

/* --- the batch state -------------------------------------------------------------------------- */

/* What the prefetch learnt about one person on one day. */
struct fact {
    int64_t gen;      /* the prefetch that loaded it */
    bool resident;    /* a residence on the day (kommune below) */
    char kommune[4];  /* its kommunekode */
    bool query_maybe; /* a record of the query type may be valid on the day */
    char *members;    /* a-kasser of the current memberships, '\n' between (malloc) */
};

struct marks {
    size_t sources, records, delivered;
};

struct dfdg_pg_batch {
    /* The cache (invariant 1), from prefetches in this transaction. */
    int64_t gen;           /* prefetches so far */
    struct map cprs;       /* CPR -> person id (0: no such person) */
    struct map persons;    /* person id -> 1: exists */
    struct map fact_ix;    /* "person/day" -> index into facts */
    struct fact *facts;    /* the facts */
    size_t nfacts, cfacts; /* used, allocated */
    struct map stale;      /* person id -> generation its relationships last changed in */
    struct map absent;     /* reporter \x1f source_ref -> 1: no such record at prefetch */
    char query_type[64];   /* the prefetch's query type ("" none) */
    /* This transaction's new rows (invariant 4). */
    struct map sources;   /* reporter \x1f source_ref of records inserted */
    struct map records;   /* ids of records inserted */
    struct map delivered; /* record id \x1f org of deliveries inserted */
    struct cbuf rec, del; /* rows not yet sent */
    bool seq_read;        /* rec_seq and del_seq hold the sequences' state */
    int64_t rec_seq;      /* last record.seq handed out */
    int64_t del_seq;      /* last delivery.seq handed out */
    struct marks marks[BATCH_MARKS];
    size_t nmarks;
    bool syncing; /* inside dfdg_pg_batch_sync */
};

static struct dfdg_pg_batch *
batch_of(struct dfdg_pg_store *q)
{
    if (q->batch == NULL)
        q->batch = calloc(1, sizeof *q->batch);
    return q->batch;
}

static void
forget_cache(struct dfdg_pg_batch *b)
{
    map_truncate(&b->cprs, 0);
    map_truncate(&b->persons, 0);
    map_truncate(&b->fact_ix, 0);
    map_truncate(&b->stale, 0);
    map_truncate(&b->absent, 0);
    for (size_t i = 0; i < b->nfacts; i++)
        free(b->facts[i].members);
    b->nfacts = 0;
    b->query_type[0] = '\0';
}

void
dfdg_pg_batch_forget(struct dfdg_pg_store *q)
{
    if (q->batch != NULL)
        forget_cache(q->batch);
}

void
dfdg_pg_batch_reset(struct dfdg_pg_store *q)
{
    struct dfdg_pg_batch *b = q->batch;
    if (b == NULL)
        return;
    forget_cache(b);
    map_truncate(&b->sources, 0);
    map_truncate(&b->records, 0);
    map_truncate(&b->delivered, 0);
    b->rec.len = b->rec.rows = 0;
    b->del.len = b->del.rows = 0;
    b->seq_read = false;
    b->nmarks = 0;
    b->syncing = false;
}

void
dfdg_pg_batch_free(struct dfdg_pg_store *q)
{
    struct dfdg_pg_batch *b = q->batch;
    if (b == NULL)
        return;
    dfdg_pg_batch_reset(q);
    map_free(&b->cprs);
    map_free(&b->persons);
    map_free(&b->fact_ix);
    map_free(&b->stale);
    map_free(&b->absent);
    map_free(&b->sources);
    map_free(&b->records);
    map_free(&b->delivered);
    free(b->facts);
    free(b->rec.p);
    free(b->del.p);
    free(b);
    q->batch = NULL;
}

void
dfdg_pg_batch_savepoint(struct dfdg_pg_store *q)
{
    struct dfdg_pg_batch *b = q->batch;
    if (b == NULL || b->nmarks >= BATCH_MARKS)
        return;
    b->marks[b->nmarks++] = (struct marks){b->sources.n, b->records.n, b->delivered.n};
}

void
dfdg_pg_batch_release(struct dfdg_pg_store *q, size_t depth)
{
    if (q->batch != NULL && depth < q->batch->nmarks)
        q->batch->nmarks = depth;
}

void
dfdg_pg_batch_rollback_to(struct dfdg_pg_store *q, size_t depth)
{
    struct dfdg_pg_batch *b = q->batch;
    if (b == NULL)
        return;
    /* Invariant 2: every buffered row came after the newest savepoint. */
    b->rec.len = b->rec.rows = 0;
    b->del.len = b->del.rows = 0;
    if (depth < b->nmarks) {
        map_truncate(&b->sources, b->marks[depth].sources);
        map_truncate(&b->records, b->marks[depth].records);
        map_truncate(&b->delivered, b->marks[depth].delivered);
        b->nmarks = depth + 1;
    } else {
        /* Deeper than the marks follow: forget what this transaction wrote. */
        map_truncate(&b->sources, 0);
        map_truncate(&b->records, 0);
        map_truncate(&b->delivered, 0);
    }
}

/* --- sending ------------------------------------------------------------------------------------
 */

static dfdg_err
copy_send(struct dfdg_pg_store *q, const char *sql, struct cbuf *buf, const char *what)
{
    size_t len = buf->len;
    buf->len = buf->rows = 0;
    PGresult *res = PQexec(q->conn, sql);
    if (res == NULL || PQresultStatus(res) != PGRES_COPY_IN) {
        dfdg_err rc = dfdg_pg_fail(q, res, what);
        PQclear(res);
        return rc;
    }
    PQclear(res);
    bool ok = true;
    for (size_t off = 0; ok && off < len;) {
        size_t n = len - off < (1u << 20) ? len - off : (1u << 20);
        ok = PQputCopyData(q->conn, buf->p + off, (int)n) == 1;
        off += n;
    }
    ok = PQputCopyEnd(q->conn, ok ? NULL : "dfdg: sending the rows failed") == 1 && ok;
    res = PQgetResult(q->conn);
    dfdg_err rc = DFDG_OK;
    if (!ok || res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = dfdg_pg_fail(q, res, what);
    PQclear(res);
    while ((res = PQgetResult(q->conn)) != NULL)
        PQclear(res);
    return rc;
}

static dfdg_err nomem(struct dfdg_pg_store *q, const char *what);

#define RECORD_COLUMNS                                                                             \
    "record(seq, id, type, person_id, cvr, reporter, owner, source_ref, valid_from, valid_to,"     \
    " recorded_at, kind, target_id, content_hash, data, reason)"
#define DELIVERY_COLUMNS "delivery(seq, org_id, record_id, reason, created_at)"
/* Rows up to which one INSERT ... VALUES statement beats COPY's extra round trips. */
#define SMALL_SYNC_ROWS 32

/* Appends n bytes of text to out, keeping it NUL-terminated; false when out of memory. */
static bool
cb_add(struct cbuf *out, const char *text, size_t n)
{
    if (!cb_reserve(out, n + 1))
        return false;
    memcpy(out->p + out->len, text, n);
    out->len += n;
    out->p[out->len] = '\0';
    return true;
}

/*
 * Appends the rows of a COPY text buffer as a VALUES list: each field unescaped, then quoted
 * with PQescapeLiteral (\N is NULL). PostgreSQL casts the quoted literals to the columns'
 * types as an INSERT does, so the rows mean what the COPY would.
 */
static bool
copy_to_values(PGconn *conn, const struct cbuf *b, struct cbuf *out)
{
    char *field = malloc(b->len + 1);
    if (field == NULL)
        return false;
    bool ok = true;
    size_t i = 0, row = 0;
    while (ok && i < b->len) {
        ok = row == 0 ? cb_add(out, "(", 1) : cb_add(out, ",(", 2);
        row++;
        for (bool first = true; ok; first = false) {
            size_t n = 0;
            bool null = b->len - i >= 2 && b->p[i] == '\\' && b->p[i + 1] == 'N' &&
                        (i + 2 == b->len || b->p[i + 2] == '\t' || b->p[i + 2] == '\n');
            if (null)
                i += 2;
            while (!null && i < b->len && b->p[i] != '\t' && b->p[i] != '\n') {
                char c = b->p[i++];
                if (c == '\\' && i < b->len) {
                    char e = b->p[i++];
                    c = e == 't' ? '\t' : e == 'n' ? '\n' : e == 'r' ? '\r' : e;
                }
                field[n++] = c;
            }
            field[n] = '\0';
            if (!first)
                ok = cb_add(out, ",", 1);
            if (ok && null) {
                ok = cb_add(out, "NULL", 4);
            } else if (ok) {
                char *lit = PQescapeLiteral(conn, field, n);
                ok = lit != NULL && cb_add(out, lit, strlen(lit));
                PQfreemem(lit);
            }
            if (i >= b->len || b->p[i++] == '\n')
                break;
        }
        ok = ok && cb_add(out, ")", 1);
    }
    free(field);
    return ok;
}

/* The statement moving the sequences on after the numbers handed out (invariant 3). */
static void
setval_sql(const struct dfdg_pg_batch *b, char *sql, size_t size)
{
    snprintf(sql, size,
             "SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence('record', 'seq'),"
             " %lld, %s), pg_catalog.setval(pg_catalog.pg_get_serial_sequence('delivery', 'seq'),"
             " %lld, %s)",
             (long long)(b->rec_seq >= 1 ? b->rec_seq : 1), b->rec_seq >= 1 ? "true" : "false",
             (long long)(b->del_seq >= 1 ? b->del_seq : 1), b->del_seq >= 1 ? "true" : "false");
}

/* Sends a few rows and the sequences in one round trip (one multi-statement query). */
static dfdg_err
small_send(struct dfdg_pg_store *q, struct dfdg_pg_batch *b)
{
    struct cbuf sql = {0};
    char sv[400];
    setval_sql(b, sv, sizeof sv);
    bool ok = true;
    if (b->rec.rows > 0)
        ok = cb_add(&sql, "INSERT INTO " RECORD_COLUMNS " VALUES ",
                    strlen("INSERT INTO " RECORD_COLUMNS " VALUES ")) &&
             copy_to_values(q->conn, &b->rec, &sql) && cb_add(&sql, ";", 1);
    if (ok && b->del.rows > 0)
        ok = cb_add(&sql, "INSERT INTO " DELIVERY_COLUMNS " VALUES ",
                    strlen("INSERT INTO " DELIVERY_COLUMNS " VALUES ")) &&
             copy_to_values(q->conn, &b->del, &sql) && cb_add(&sql, ";", 1);
    ok = ok && cb_add(&sql, sv, strlen(sv));
    if (!ok) {
        free(sql.p);
        return nomem(q, "sending rows");
    }
    dfdg_err rc = DFDG_OK;
    if (PQsendQuery(q->conn, sql.p) != 1)
        rc = dfdg_pg_fail(q, NULL, "sending rows");
    PGresult *res;
    while ((res = PQgetResult(q->conn)) != NULL) {
        ExecStatusType st = PQresultStatus(res);
        if (rc == DFDG_OK && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
            rc = dfdg_pg_fail(q, res, "sending rows");
        PQclear(res);
    }
    free(sql.p);
    return rc;
}

dfdg_err
dfdg_pg_batch_sync(struct dfdg_pg_store *q)
{
    struct dfdg_pg_batch *b = q->batch;
    if (b == NULL || b->syncing || (b->rec.rows == 0 && b->del.rows == 0))
        return DFDG_OK;
    b->syncing = true;
    dfdg_err rc = DFDG_OK;
    if (b->rec.rows + b->del.rows <= SMALL_SYNC_ROWS) {
        rc = small_send(q, b);
    } else {
        if (b->rec.rows > 0)
            rc = copy_send(q, "COPY " RECORD_COLUMNS " FROM STDIN", &b->rec, "sending records");
        if (rc == DFDG_OK && b->del.rows > 0)
            rc =
                copy_send(q, "COPY " DELIVERY_COLUMNS " FROM STDIN", &b->del, "sending deliveries");
        if (rc == DFDG_OK) {
            char sv[400];
            setval_sql(b, sv, sizeof sv);
            PGresult *res = PQexec(q->conn, sv);
            if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
                rc = dfdg_pg_fail(q, res, "moving the sequences on");
            PQclear(res);
        }
    }
    b->rec.len = b->rec.rows = 0;
    b->del.len = b->del.rows = 0;
    b->syncing = false;
    return rc;
}

/* Reads the sequences' last values once a transaction (invariant 3). */
static dfdg_err
read_seqs(struct dfdg_pg_store *q, struct dfdg_pg_batch *b)
{
    if (b->seq_read)
        return DFDG_OK;
    PGresult *res =
        PQexec(q->conn, "SELECT COALESCE(pg_catalog.pg_sequence_last_value("
                        "pg_catalog.pg_get_serial_sequence('record', 'seq')::regclass), 0),"
                        " COALESCE(pg_catalog.pg_sequence_last_value("
                        "pg_catalog.pg_get_serial_sequence('delivery', 'seq')::regclass), 0)");
    dfdg_err rc = DFDG_OK;
    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = dfdg_pg_fail(q, res, "reading the sequences");
    else if (PQntuples(res) != 1)
        rc = dfdg_pg_corrupt(q, "the sequences");
    else {
        b->rec_seq = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        b->del_seq = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        b->seq_read = true;
    }
    PQclear(res);
    return rc;
}

/* --- the cache ------------------------------------------------------------------------------- */

static void
fact_key(int64_t person_id, int32_t day, char key[48])
{
    snprintf(key, 48, "%lld/%ld", (long long)person_id, (long)day);
}

static void
person_key(int64_t person_id, char key[24])
{
    snprintf(key, 24, "%lld", (long long)person_id);
}

static void
pair_key(const char *a, const char *b, char *key, size_t size)
{
    snprintf(key, size, "%s\x1f%s", a, b);
}

/* The fact about person on day, if the cache holds it (and, with rel, its relationships to
 * records are not stale). */
static const struct fact *
fact_get(struct dfdg_pg_store *q, int64_t person_id, int32_t day, bool rel)
{
    struct dfdg_pg_batch *b = q->batch;
    if (b == NULL || b->nfacts == 0 || !q->in_tx)
        return NULL;
    char key[48];
    int64_t ix;
    fact_key(person_id, day, key);
    if (!map_get(&b->fact_ix, key, &ix))
        return NULL;
    const struct fact *f = &b->facts[ix];
    if (rel) {
        char pk[24];
        int64_t stale;
        person_key(person_id, pk);
        if (map_get(&b->stale, pk, &stale) && stale >= f->gen)
            return NULL;
    }
    return f;
}

bool
dfdg_pg_cached_person(struct dfdg_pg_store *q, const char *cpr, int64_t *person_id)
{
    struct dfdg_pg_batch *b = q->batch;
    return b != NULL && q->in_tx && map_get(&b->cprs, cpr, person_id);
}

bool
dfdg_pg_cached_residence(struct dfdg_pg_store *q, int64_t person_id, int32_t day, bool *found,
                         char kommunekode[4])
{
    const struct fact *f = fact_get(q, person_id, day, false);
    if (f == NULL)
        return false;
    *found = f->resident;
    memcpy(kommunekode, f->kommune, 4);
    return true;
}

const char *
dfdg_pg_cached_members(struct dfdg_pg_store *q, int64_t person_id, int32_t day)
{
    const struct fact *f = fact_get(q, person_id, day, true);
    return f != NULL ? f->members : NULL;
}

bool
dfdg_pg_cached_no_records(struct dfdg_pg_store *q, const struct dfdg_record_query *qr)
{
    struct dfdg_pg_batch *b = q->batch;
    if (b == NULL || qr->type == NULL || b->query_type[0] == '\0' ||
        strcmp(qr->type, b->query_type) != 0 || qr->valid_on == DFDG_DATE_NONE ||
        qr->as_of != INT64_MAX)
        return false;
    const struct fact *f = fact_get(q, qr->person_id, qr->valid_on, true);
    return f != NULL && !f->query_maybe;
}

bool
dfdg_pg_cached_source_absent(struct dfdg_pg_store *q, const char *reporter, const char *source_ref)
{
    struct dfdg_pg_batch *b = q->batch;
    if (b == NULL || !q->in_tx || b->absent.n == 0)
        return false;
    char key[2 * 256 + 2];
    pair_key(reporter, source_ref, key, sizeof key);
    return !map_get(&b->sources, key, NULL) && map_get(&b->absent, key, NULL);
}

/* --- buffered inserts ---------------------------------------------------------------------- */

static dfdg_err
nomem(struct dfdg_pg_store *q, const char *what)
{
    return dfdg_store_set_error(&q->base, DFDG_NOMEM, "postgres: %s: out of memory", what);
}

/* Whether person_id exists: known, or asked once (PG_PERSON_EXISTS). */
static dfdg_err
person_exists(struct dfdg_pg_store *q, struct dfdg_pg_batch *b, int64_t person_id, bool *out)
{
    char pk[24];
    person_key(person_id, pk);
    if (map_get(&b->persons, pk, NULL)) {
        *out = true;
        return DFDG_OK;
    }
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_int64(&p, person_id);
    int64_t v = 0;
    dfdg_err rc = dfdg_pg_scalar(q, PG_PERSON_EXISTS, &p, "record_insert", &v);
    if (rc != DFDG_OK)
        return rc;
    *out = v != 0;
    if (*out && map_put(&b->persons, pk, 1) != DFDG_OK)
        return nomem(q, "record_insert");
    return DFDG_OK;
}

dfdg_err
dfdg_pg_batch_record(struct dfdg_pg_store *q, struct dfdg_record *r)
{
    struct dfdg_pg_batch *b = batch_of(q);
    if (b == NULL)
        return nomem(q, "record_insert");
    char pair[2 * 256 + 2];
    pair_key(r->reporter, r->source_ref, pair, sizeof pair);
    if (map_get(&b->records, r->id, NULL) || map_get(&b->sources, pair, NULL))
        return dfdg_store_set_error(&q->base, DFDG_CONFLICT,
                                    "postgres: record_insert: a record with this id or this "
                                    "(reporter, source_ref) exists");
    dfdg_err rc;
    if (!map_get(&b->absent, pair, NULL)) {
        struct dfdg_pg_params c = {0};
        dfdg_pg_p_text(&c, r->id);
        dfdg_pg_p_text(&c, r->reporter);
        dfdg_pg_p_text(&c, r->source_ref);
        int64_t clash = 0;
        rc = dfdg_pg_scalar(q, PG_RECORD_CLASH, &c, "record_insert", &clash);
        if (rc != DFDG_OK)
            return rc;
        if (clash)
            return dfdg_store_set_error(&q->base, DFDG_CONFLICT,
                                        "postgres: record_insert: a record with this id or this "
                                        "(reporter, source_ref) exists");
    }
    if (r->person_id != 0) {
        bool exists = false;
        rc = person_exists(q, b, r->person_id, &exists);
        if (rc != DFDG_OK)
            return rc;
        if (!exists)
            return dfdg_store_set_error(&q->base, DFDG_IO,
                                        "postgres: record_insert: the subject person does not "
                                        "exist (foreign key)");
    }
    if ((rc = read_seqs(q, b)) != DFDG_OK)
        return rc;
    struct cbuf *c = &b->rec;
    size_t undo = c->len, nrecords = b->records.n, nsources = b->sources.n;
    int64_t seq = b->rec_seq + 1;
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)seq);
    bool ok =
        cb_text(c, num, false, true) && cb_text(c, r->id, false, false) &&
        cb_text(c, r->type, false, false) && cb_int(c, r->person_id, r->person_id == 0) &&
        cb_text(c, r->cvr, true, false) && cb_text(c, r->reporter, false, false) &&
        cb_text(c, r->owner[0] != '\0' ? r->owner : r->reporter, false, false) &&
        cb_text(c, r->source_ref, false, false) && cb_int(c, r->valid_from, false) &&
        cb_int(c, r->valid_to, r->valid_to == DFDG_DATE_NONE) && cb_int(c, r->recorded_at, false) &&
        cb_int(c, (int64_t)r->kind, false) && cb_text(c, r->target_id, true, false) &&
        cb_bytes(c, r->content_hash, sizeof r->content_hash) && cb_text(c, r->data, false, false) &&
        cb_text(c, r->reason, false, false) && cb_end_row(c) &&
        map_put(&b->records, r->id, 1) == DFDG_OK && map_put(&b->sources, pair, 1) == DFDG_OK;
    if (!ok) {
        c->len = undo;
        map_truncate(&b->records, nrecords);
        map_truncate(&b->sources, nsources);
        return nomem(q, "record_insert");
    }
    b->rec_seq = seq;
    r->seq = seq;
    /* Invariant 1: relationships that derive from this type are stale for the person. */
    if (r->person_id != 0 && (strcmp(r->type, MEMBERSHIP_TYPE) == 0 ||
                              (b->query_type[0] != '\0' && strcmp(r->type, b->query_type) == 0))) {
        char pk[24];
        person_key(r->person_id, pk);
        if (map_put(&b->stale, pk, b->gen) != DFDG_OK) {
            forget_cache(b);
            return DFDG_OK;
        }
    }
    return DFDG_OK;
}

dfdg_err
dfdg_pg_batch_delivery(struct dfdg_pg_store *q, struct dfdg_delivery *d)
{
    struct dfdg_pg_batch *b = batch_of(q);
    if (b == NULL)
        return nomem(q, "delivery_insert");
    char pair[2 * 64 + 2];
    pair_key(d->record_id, d->org_id, pair, sizeof pair);
    if (map_get(&b->delivered, pair, NULL))
        return dfdg_store_set_error(&q->base, DFDG_CONFLICT,
                                    "postgres: delivery_insert: the record already reached "
                                    "that org");
    dfdg_err rc;
    if (!map_get(&b->records, d->record_id, NULL)) {
        /* A record from before this transaction: ask whether it exists and what it reached. */
        struct dfdg_pg_params p = {0};
        dfdg_pg_p_text(&p, d->record_id);
        dfdg_pg_p_text(&p, d->org_id);
        int64_t state = 0;
        rc = dfdg_pg_scalar(q, PG_DELIVERY_CHECK, &p, "delivery_insert", &state);
        if (rc != DFDG_OK)
            return rc;
        if (state == 0)
            return dfdg_store_set_error(&q->base, DFDG_IO,
                                        "postgres: delivery_insert: the record does not exist "
                                        "(foreign key)");
        if (state == 2)
            return dfdg_store_set_error(&q->base, DFDG_CONFLICT,
                                        "postgres: delivery_insert: the record already reached "
                                        "that org");
    }
    if ((rc = read_seqs(q, b)) != DFDG_OK)
        return rc;
    struct cbuf *c = &b->del;
    size_t undo = c->len;
    int64_t seq = b->del_seq + 1;
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)seq);
    bool ok = cb_text(c, num, false, true) && cb_text(c, d->org_id, false, false) &&
              cb_text(c, d->record_id, false, false) && cb_text(c, d->reason, false, false) &&
              cb_int(c, d->created_at, false) && cb_end_row(c) &&
              map_put(&b->delivered, pair, 1) == DFDG_OK;
    if (!ok) {
        c->len = undo;
        return nomem(q, "delivery_insert");
    }
    b->del_seq = seq;
    d->seq = seq;
    return DFDG_OK;
}

/* --- the prefetch ----------------------------------------------------------------------------- */

/* Appends s to an array literal as a quoted element. */
static bool
lit_add(struct cbuf *a, const char *s)
{
    size_t n = strlen(s);
    if (!cb_reserve(a, 2 * n + 4))
        return false;
    a->p[a->len++] = a->rows++ == 0 ? '{' : ',';
    a->p[a->len++] = '"';
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            a->p[a->len++] = '\\';
        a->p[a->len++] = *s;
    }
    a->p[a->len++] = '"';
    a->p[a->len] = '\0';
    return true;
}

static bool
lit_end(struct cbuf *a)
{
    if (!cb_reserve(a, 3))
        return false;
    if (a->rows == 0)
        a->p[a->len++] = '{';
    a->p[a->len++] = '}';
    a->p[a->len] = '\0';
    return true;
}

static bool
is_cpr(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if (s[n] < '0' || s[n] > '9')
            return false;
    return n == 10;
}

/*
 * The relationships of each (CPR, day): the statements PG_CPR_RESOLVE, PG_RESIDENCE_ON and
 * PG_MEMBERS_ON of pg.c over a set, plus whether a record of the query
 * type ($3) begins on or before the day (if so, records_query asks the table itself).
 * Every look-up is a scalar subquery, so each stays an index probe per row: as joins, the
 * planner may hash a whole table per request when its statistics are stale (a young store),
 * which made ingest grow slower with every record.
 */
static const char facts_sql[] =
    "SELECT t.cpr, t.pid, t.day,"
    " (" DFDG_PG_RESIDENCE_SQL(
        "t.pid",
        "t.day") "),"
                 " array_to_string(ARRAY(" DFDG_PG_MEMBERS_SQL(
                     "t.pid",
                     "t.day") "), E'\\n'),"
                              " EXISTS(SELECT 1 FROM record r WHERE r.person_id = t.pid AND r.type "
                              "= $3"
                              "   AND r.valid_from <= t.day)"
                              " FROM (SELECT i.cpr, i.day, (SELECT c.person_id FROM person_cpr c "
                              "WHERE c.cpr = i.cpr) AS pid"
                              "   FROM unnest($1::text[], $2::bigint[]) AS i(cpr, day) OFFSET 0) t";

/* Which of the reporter's source_refs exist (a probe of the unique key each, as above). */
static const char sources_sql[] =
    "SELECT s FROM unnest($2::text[]) AS s"
    " WHERE (SELECT true FROM record r WHERE r.reporter = $1 AND r.source_ref = s)";

static dfdg_err
load_facts(struct dfdg_pg_store *q, struct dfdg_pg_batch *b, const struct dfdg_prefetch *pf)
{
    struct cbuf cprs = {0}, days = {0};
    struct map seen = {0};
    dfdg_err rc = DFDG_NOMEM;
    for (size_t i = 0; i < pf->npersons; i++) {
        char key[48], num[24];
        if (pf->cprs[i] == NULL || !is_cpr(pf->cprs[i]) || pf->days[i] == DFDG_DATE_NONE)
            continue;
        snprintf(key, sizeof key, "%s/%ld", pf->cprs[i], (long)pf->days[i]);
        if (map_get(&seen, key, NULL))
            continue;
        snprintf(num, sizeof num, "%ld", (long)pf->days[i]);
        if (map_put(&seen, key, 1) != DFDG_OK || !lit_add(&cprs, pf->cprs[i]) ||
            !lit_add(&days, num))
            goto free_lits;
    }
    if (cprs.rows == 0) {
        rc = DFDG_OK;
        goto free_lits;
    }
    if (!lit_end(&cprs) || !lit_end(&days))
        goto free_lits;
    const char *values[3] = {cprs.p, days.p, b->query_type[0] != '\0' ? b->query_type : NULL};
    PGresult *res = PQexecParams(q->conn, facts_sql, 3, NULL, values, NULL, NULL, 0);
    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = dfdg_pg_fail(q, res, "prefetch");
        PQclear(res);
        goto free_lits;
    }
    rc = DFDG_OK;
    for (int row = 0; row < PQntuples(res) && rc == DFDG_OK; row++) {
        const char *cpr = PQgetvalue(res, row, 0);
        int64_t pid = PQgetisnull(res, row, 1) ? 0 : strtoll(PQgetvalue(res, row, 1), NULL, 10);
        int32_t day = (int32_t)strtol(PQgetvalue(res, row, 2), NULL, 10);
        char pk[24], fk[48];
        person_key(pid, pk);
        if (map_put(&b->cprs, cpr, pid) != DFDG_OK ||
            (pid != 0 && map_put(&b->persons, pk, 1) != DFDG_OK)) {
            rc = DFDG_NOMEM;
            break;
        }
        if (pid == 0)
            continue;
        struct fact *f = dfdg_pg_grow(b->facts, &b->cfacts, b->nfacts, sizeof *f);
        if (f == NULL) {
            rc = DFDG_NOMEM;
            break;
        }
        b->facts = f;
        f = &b->facts[b->nfacts];
        memset(f, 0, sizeof *f);
        f->gen = b->gen;
        f->resident = !PQgetisnull(res, row, 3);
        if (f->resident)
            dfdg_strlcpy(f->kommune, PQgetvalue(res, row, 3), sizeof f->kommune);
        f->query_maybe = PQgetvalue(res, row, 5)[0] == 't';
        f->members = strdup(PQgetvalue(res, row, 4));
        fact_key(pid, day, fk);
        if (f->members == NULL || map_put(&b->fact_ix, fk, (int64_t)b->nfacts) != DFDG_OK) {
            free(f->members);
            rc = DFDG_NOMEM;
            break;
        }
        b->nfacts++;
    }
    PQclear(res);
free_lits:
    free(cprs.p);
    free(days.p);
    map_free(&seen);
    return rc;
}

static dfdg_err
load_sources(struct dfdg_pg_store *q, struct dfdg_pg_batch *b, const struct dfdg_prefetch *pf)
{
    if (pf->reporter == NULL || pf->nsources == 0 || !dfdg_pg_utf8_is_valid(pf->reporter))
        return DFDG_OK;
    struct cbuf refs = {0};
    dfdg_err rc = DFDG_NOMEM;
    for (size_t i = 0; i < pf->nsources; i++)
        if (pf->source_refs[i] != NULL && pf->source_refs[i][0] != '\0' &&
            dfdg_pg_utf8_is_valid(pf->source_refs[i]) && !lit_add(&refs, pf->source_refs[i]))
            goto free_refs;
    if (refs.rows == 0) {
        rc = DFDG_OK;
        goto free_refs;
    }
    if (!lit_end(&refs))
        goto free_refs;
    const char *values[2] = {pf->reporter, refs.p};
    PGresult *res = PQexecParams(q->conn, sources_sql, 2, NULL, values, NULL, NULL, 0);
    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = dfdg_pg_fail(q, res, "prefetch");
        PQclear(res);
        goto free_refs;
    }
    /* The ones that exist stay unknown (the statement answers them); the others are absent. */
    struct map present = {0};
    rc = DFDG_OK;
    for (int row = 0; row < PQntuples(res) && rc == DFDG_OK; row++)
        rc = map_put(&present, PQgetvalue(res, row, 0), 1);
    for (size_t i = 0; i < pf->nsources && rc == DFDG_OK; i++) {
        const char *ref = pf->source_refs[i];
        if (ref == NULL || ref[0] == '\0' || !dfdg_pg_utf8_is_valid(ref) ||
            map_get(&present, ref, NULL) || strlen(ref) > 255 || strlen(pf->reporter) > 255)
            continue;
        char key[2 * 256 + 2];
        pair_key(pf->reporter, ref, key, sizeof key);
        rc = map_put(&b->absent, key, 1);
    }
    map_free(&present);
    PQclear(res);
free_refs:
    free(refs.p);
    return rc;
}

dfdg_err
dfdg_pg_prefetch(struct dfdg_store *s, const struct dfdg_prefetch *pf)
{
    struct dfdg_pg_store *q = dfdg_pg(s);
    if (!q->in_tx)
        return DFDG_OK; /* the cache holds only under the write lock (invariant 1) */
    struct dfdg_pg_batch *b = batch_of(q);
    if (b == NULL)
        return nomem(q, "prefetch");
    /* The queries below must see the rows written so far. */
    dfdg_err rc = dfdg_pg_batch_sync(q);
    if (rc != DFDG_OK)
        return rc;
    const char *qt = pf->query_type != NULL ? pf->query_type : "";
    if (strcmp(qt, b->query_type) != 0) {
        if (b->query_type[0] != '\0')
            forget_cache(b); /* the facts answered another type */
        dfdg_strlcpy(b->query_type, qt, sizeof b->query_type);
    }
    b->gen++;
    rc = load_facts(q, b, pf);
    if (rc == DFDG_OK)
        rc = load_sources(q, b, pf);
    if (rc == DFDG_NOMEM) {
        forget_cache(b);
        return nomem(q, "prefetch");
    }
    if (rc != DFDG_OK)
        forget_cache(b);
    return rc;
}
