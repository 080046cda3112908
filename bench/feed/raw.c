/* SPDX-License-Identifier: Apache-2.0 */
/*
 * raw.c: the baseline of the drain. The deliveries the HTTP consumer read are read again
 * straight from the server's SQLite file with the store's own feed query, a page at a time,
 * every column of every row fetched as the store's row reader does. That is what the feed
 * costs SQLite alone, with no HTTP, token check, JSON or disclosure log. A second pass also
 * does what the server does before it answers a page: one disclosure row a delivery, written
 * and committed durably (synchronous=FULL) in one transaction a page, into a fresh file with
 * the store's schema on the same file system. The benchmark, not src/store, owns these
 * connections, so it may include sqlite3.h.
 */
#include "core/dfdg.h"
#include "feed.h"
#include "core/when.h"

#include <sqlite3.h>
#include <unistd.h>

/*
 * The store's feed query (DELIVERY_HEAD and ST_FEED in src/store/sqlite.c): the record's
 * columns, the subject's CPR number, then the delivery's. When the store's query changes,
 * change it here too.
 */
static const char feed_sql[] =
    "SELECT r.seq, r.id, r.type, r.person_id, r.cvr, r.reporter, r.source_ref, r.valid_from, "
    "r.valid_to, r.recorded_at, r.kind, r.target_id, r.content_hash, r.data, r.reason, r.owner"
    ", p.cpr, d.seq, d.org_id, d.record_id, d.reason, d.created_at"
    " FROM delivery d JOIN record r ON r.id = d.record_id"
    " LEFT JOIN person p ON p.person_id = r.person_id"
    " WHERE d.org_id = ?1 AND d.seq > ?2 ORDER BY d.seq LIMIT ?3";
#define COL_ID 1
#define COL_TYPE 2
#define COL_PERSON 3
#define COL_DSEQ 17

/* The store's disclosure INSERT (ST_DISCLOSURE_INSERT in src/store/sqlite.c). */
static const char disclosure_sql[] =
    "INSERT INTO disclosure(at, org_id, sub, person_id, record_id, type, purpose, legal_basis,"
    " channel) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

/* What the server logged with each feed disclosure: the same values go into the baseline. */
struct logged {
    char sub[128];
    char purpose[24];
    char legal_basis[512];
};

/* One delivery of a page, kept for its disclosure row like the server keeps it. */
struct row {
    int64_t seq;
    int64_t person_id;
    char id[DFDG_UUID_LEN];
    char type[48];
};

static void
copy_col(sqlite3_stmt *st, int col, char *buf, size_t size)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    dfdg_strlcpy(buf, t != NULL ? (const char *)t : "", size);
}

/* Every column of a row, as the store's row reader fetches them; a sum so none is skipped. */
static uint64_t
touch_row(sqlite3_stmt *st)
{
    uint64_t sum = 0;
    int n = sqlite3_column_count(st);
    for (int i = 0; i < n; i++) {
        switch (sqlite3_column_type(st, i)) {
        case SQLITE_INTEGER:
            sum += (uint64_t)sqlite3_column_int64(st, i);
            break;
        case SQLITE_TEXT: {
            const unsigned char *t = sqlite3_column_text(st, i);
            int len = sqlite3_column_bytes(st, i);
            sum += (uint64_t)len + (len > 0 ? t[len - 1] : 0);
            break;
        }
        case SQLITE_BLOB: {
            const unsigned char *b = sqlite3_column_blob(st, i);
            int len = sqlite3_column_bytes(st, i);
            sum += (uint64_t)len + (len > 0 ? b[0] : 0);
            break;
        }
        default:
            break;
        }
    }
    return sum;
}

/* The values of the server's feed disclosures for org, and how many there are. */
static bool
read_logged(sqlite3 *db, const char *org, struct logged *lg, size_t *count)
{
    sqlite3_stmt *st = NULL;
    bool ok = sqlite3_prepare_v2(db,
                                 "SELECT sub, purpose, legal_basis,"
                                 " (SELECT count(*) FROM disclosure"
                                 "  WHERE org_id = ?1 AND channel = 'feed')"
                                 " FROM disclosure WHERE org_id = ?1 AND channel = 'feed'"
                                 " ORDER BY seq LIMIT 1",
                                 -1, &st, NULL) == SQLITE_OK &&
              sqlite3_bind_text(st, 1, org, -1, SQLITE_STATIC) == SQLITE_OK &&
              sqlite3_step(st) == SQLITE_ROW;
    if (ok) {
        copy_col(st, 0, lg->sub, sizeof lg->sub);
        copy_col(st, 1, lg->purpose, sizeof lg->purpose);
        copy_col(st, 2, lg->legal_basis, sizeof lg->legal_basis);
        *count = (size_t)sqlite3_column_int64(st, 3);
    }
    sqlite3_finalize(st);
    return ok;
}

/* One page's disclosures in one durable transaction, as the server's writer logs them. */
static dfdg_err
log_page(sqlite3 *db, sqlite3_stmt *ins, const char *org, const struct logged *lg,
         const struct row *rows, size_t n, struct dfdg_errinfo *ei)
{
    dfdg_err rc = bench_sqlite_exec(db, "BEGIN IMMEDIATE", "begin", ei);
    if (rc != DFDG_OK)
        return rc;
    int64_t at = dfdg_time_now_us();
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_int64(ins, 1, at);
        sqlite3_bind_text(ins, 2, org, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, lg->sub, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 4, rows[i].person_id);
        sqlite3_bind_text(ins, 5, rows[i].id, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 6, rows[i].type, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 7, lg->purpose, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 8, lg->legal_basis, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 9, "feed", -1, SQLITE_STATIC);
        int src = sqlite3_step(ins);
        sqlite3_reset(ins);
        if (src != SQLITE_DONE) {
            rc = bench_sqlite_fail(db, "insert disclosure", ei);
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
    }
    return bench_sqlite_exec(db, "COMMIT", "commit", ei);
}

dfdg_err
bench_feed_raw_run(const char *db_path, const char *org, int64_t after, size_t page,
                   const char *scratch_dir, const struct feed_item *expect, size_t nexpect,
                   struct feed_raw_result *out, struct dfdg_errinfo *ei)
{
    memset(out, 0, sizeof *out);
    out->same = true;
    struct row *rows = calloc(page + 1, sizeof *rows);
    if (rows == NULL)
        return dfdg_errinfo_set(ei, DFDG_NOMEM, "raw rows");
    char scratch[4096] = "";
    sqlite3 *db = NULL, *log = NULL;
    sqlite3_stmt *st = NULL, *ins = NULL;
    struct logged lg = {0};
    dfdg_err rc;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        rc = bench_sqlite_fail(db, db_path, ei);
        goto close_dbs;
    }
    sqlite3_busy_timeout(db, 5000);
    /* The store's readers use the same page cache size. */
    if ((rc = bench_sqlite_exec(db, "PRAGMA cache_size=-65536", "pragmas", ei)) != DFDG_OK)
        goto close_dbs;
    out->have_discl = read_logged(db, org, &lg, &out->discl);
    if (scratch_dir != NULL) {
        if (!out->have_discl) {
            rc = dfdg_errinfo_set(ei, DFDG_INVAL,
                                  "raw sqlite: the server logged no feed disclosure for %s", org);
            goto close_dbs;
        }
        snprintf(scratch, sizeof scratch, "%s/bench-feed-raw-%ld.db", scratch_dir, (long)getpid());
        bench_sqlite_remove(scratch);
        if (sqlite3_open_v2(scratch, &log, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
            SQLITE_OK) {
            rc = bench_sqlite_fail(log, scratch, ei);
            goto close_dbs;
        }
        if ((rc = bench_sqlite_create_schema(log, ei)) != DFDG_OK)
            goto close_dbs;
        if (sqlite3_prepare_v3(log, disclosure_sql, -1, SQLITE_PREPARE_PERSISTENT, &ins, NULL) !=
            SQLITE_OK) {
            rc = bench_sqlite_fail(log, "prepare disclosure insert", ei);
            goto close_dbs;
        }
    }
    if (sqlite3_prepare_v3(db, feed_sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        rc = bench_sqlite_fail(db, "prepare the feed query", ei);
        goto close_dbs;
    }

    volatile uint64_t sink = 0;
    double t0 = bench_now();
    for (int64_t cursor = after;;) {
        /* The store asks for one row more than a page, to know whether more follow. */
        sqlite3_bind_text(st, 1, org, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, cursor);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)page + 1);
        size_t n = 0;
        int src;
        while ((src = sqlite3_step(st)) == SQLITE_ROW) {
            if (n == page)
                break;
            sink += touch_row(st);
            struct row *r = &rows[n++];
            r->seq = sqlite3_column_int64(st, COL_DSEQ);
            r->person_id = sqlite3_column_int64(st, COL_PERSON);
            copy_col(st, COL_ID, r->id, sizeof r->id);
            copy_col(st, COL_TYPE, r->type, sizeof r->type);
        }
        bool more = src == SQLITE_ROW;
        sqlite3_reset(st);
        if (src != SQLITE_ROW && src != SQLITE_DONE) {
            rc = bench_sqlite_fail(db, "feed query", ei);
            goto close_dbs;
        }
        if (n == 0)
            break;
        out->pages++;
        if (ins != NULL && (rc = log_page(log, ins, org, &lg, rows, n, ei)) != DFDG_OK)
            goto close_dbs;
        for (size_t i = 0; i < n; i++) {
            size_t k = out->rows + i;
            if (k >= nexpect || expect[k].seq != rows[i].seq ||
                strcmp(expect[k].id, rows[i].id) != 0)
                out->same = false;
        }
        out->rows += n;
        cursor = rows[n - 1].seq;
        if (!more)
            break;
    }
    out->seconds = bench_now() - t0;
    out->same = out->same && out->rows == nexpect;
    (void)sink;
    rc = DFDG_OK;

close_dbs:
    sqlite3_finalize(st);
    sqlite3_finalize(ins);
    sqlite3_close_v2(db);
    sqlite3_close_v2(log);
    if (scratch[0] != '\0')
        bench_sqlite_remove(scratch);
    free(rows);
    return rc;
}
