/* SPDX-License-Identifier: Apache-2.0 */
/*
 * raw.c: the baseline. The same record rows go straight into SQLite, with the store's own
 * schema (the migrations of src/store/schema_sqlite.h: same tables, indexes, CHECKs and
 * triggers), the store's PRAGMAs (WAL, synchronous=FULL, foreign_keys, cache_size) and its
 * INSERT statement, single-threaded, one commit per batch. This is what the disk and SQLite
 * can do with no HTTP, JSON, validation, authorisation or idempotency lookups; the ratio of
 * the HTTP rate to it is the cost of everything dfdg adds. The benchmark, not src/store, owns
 * this connection, so it may include sqlite3.h.
 */
#include "core/dfdg.h"
#include "bench.h"
#include "core/when.h"

#include <sqlite3.h>

/*
 * The store's record INSERT (ST_RECORD_INSERT in src/store/sqlite.c). When the record table
 * gains a column, add it here too: check_columns() stops the run until both agree.
 */
static const char insert_record_sql[] =
    "INSERT INTO record(id, type, person_id, cvr, reporter, source_ref, valid_from, valid_to,"
    " recorded_at, kind, target_id, content_hash, data, reason, owner)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
#define INSERT_COLUMNS 15 /* the columns named above; seq is the rowid */

/* A row made ahead of its transaction, so only SQLite's work is timed. */
struct row {
    struct bench_rec rec;
    char id[DFDG_UUID_LEN];
    uint8_t hash[32];
};

/* The baseline must fill every column the server fills, or it would write less. */
static dfdg_err
check_columns(sqlite3 *db, struct dfdg_errinfo *ei)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM pragma_table_info('record')", -1, &st, NULL) !=
        SQLITE_OK)
        return bench_sqlite_fail(db, "reading the record columns", ei);
    int cols = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    if (cols != INSERT_COLUMNS + 1)
        return dfdg_errinfo_set(ei, DFDG_CONFIG,
                                "raw sqlite: the schema's record table has %d columns, but "
                                "bench/ingest/raw.c inserts %d (and seq): update its INSERT",
                                cols, INSERT_COLUMNS);
    return DFDG_OK;
}

/* Persons 1..ncprs with their one CPR number each, in one transaction (not timed). */
static dfdg_err
insert_persons(sqlite3 *db, char (*cprs)[DFDG_CPR_LEN], size_t ncprs, struct dfdg_errinfo *ei)
{
    sqlite3_stmt *person = NULL, *map = NULL;
    dfdg_err rc = bench_sqlite_exec(db, "BEGIN IMMEDIATE", "begin", ei);
    if (rc != DFDG_OK)
        return rc;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO person(person_id, cpr, birthdate, sex, status, first_name,"
                           " middle_name, last_name, updated_at)"
                           " VALUES(?1, ?2, 0, 'M', 'active', 'Bench', NULL, 'Person', 0)",
                           -1, &person, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO person_cpr(cpr, person_id) VALUES(?1, ?2)", -1, &map,
                           NULL) != SQLITE_OK) {
        rc = bench_sqlite_fail(db, "prepare persons", ei);
        goto finalize;
    }
    for (size_t i = 0; i < ncprs; i++) {
        sqlite3_int64 id = (sqlite3_int64)i + 1;
        sqlite3_bind_int64(person, 1, id);
        sqlite3_bind_text(person, 2, cprs[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(map, 1, cprs[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(map, 2, id);
        if (sqlite3_step(person) != SQLITE_DONE || sqlite3_step(map) != SQLITE_DONE) {
            rc = bench_sqlite_fail(db, "insert person", ei);
            goto finalize;
        }
        sqlite3_reset(person);
        sqlite3_reset(map);
    }
    rc = bench_sqlite_exec(db, "COMMIT", "commit persons", ei);
finalize:
    sqlite3_finalize(person);
    sqlite3_finalize(map);
    if (rc != DFDG_OK)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static dfdg_err
insert_row(sqlite3 *db, sqlite3_stmt *st, const struct row *r, int64_t recorded_at,
           struct dfdg_errinfo *ei)
{
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, BENCH_TYPE, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)r->rec.person + 1);
    sqlite3_bind_null(st, 4);
    sqlite3_bind_text(st, 5, BENCH_REPORTER, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, r->rec.source_ref, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 7, r->rec.valid_from);
    sqlite3_bind_int(st, 8, r->rec.valid_to);
    sqlite3_bind_int64(st, 9, recorded_at);
    sqlite3_bind_int(st, 10, 0);
    sqlite3_bind_null(st, 11);
    sqlite3_bind_blob(st, 12, r->hash, sizeof r->hash, SQLITE_STATIC);
    sqlite3_bind_text(st, 13, r->rec.data, -1, SQLITE_STATIC);
    sqlite3_bind_null(st, 14);
    /* owner: an original's owner is its reporter. */
    sqlite3_bind_text(st, 15, BENCH_REPORTER, -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    sqlite3_reset(st);
    if (src != SQLITE_DONE)
        return bench_sqlite_fail(db, "insert record", ei);
    return DFDG_OK;
}

dfdg_err
bench_raw_run(const char *path, const char *run, char (*cprs)[DFDG_CPR_LEN], size_t ncprs, size_t n,
              size_t batch, struct bench_raw_result *out, struct dfdg_errinfo *ei)
{
    memset(out, 0, sizeof *out);
    /* Rows are made a transaction's worth at a time outside the clock; the single
     * transaction spans chunks and pauses its clock while the next one is made. */
    size_t chunk = batch > 0 ? batch : 10000;
    struct row *rows = calloc(chunk, sizeof *rows);
    if (rows == NULL)
        return dfdg_errinfo_set(ei, DFDG_NOMEM, "raw rows");
    bench_sqlite_remove(path);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    dfdg_err rc;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        rc = bench_sqlite_fail(db, path, ei);
        goto close_db;
    }
    sqlite3_extended_result_codes(db, 1);
    if ((rc = bench_sqlite_create_schema(db, ei)) != DFDG_OK ||
        (rc = check_columns(db, ei)) != DFDG_OK ||
        (rc = insert_persons(db, cprs, ncprs, ei)) != DFDG_OK)
        goto close_db;
    if (sqlite3_prepare_v3(db, insert_record_sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
        SQLITE_OK) {
        rc = bench_sqlite_fail(db, "prepare record insert", ei);
        goto close_db;
    }

    double timed = 0;
    bool in_tx = false;
    int64_t last_at = 0;
    for (size_t first = 0; first < n;) {
        size_t m = n - first < chunk ? n - first : chunk;
        int64_t now = dfdg_time_now_us();
        int64_t at = now > last_at ? now : last_at + 1; /* like the writer: strictly increasing */
        for (size_t k = 0; k < m; k++) {
            bench_record(run, first + k, cprs, ncprs, &rows[k].rec);
            bench_record_hash(&rows[k].rec, rows[k].hash);
            dfdg_uuid7_make(at / 1000, rows[k].id);
        }
        double t0 = bench_now();
        if (!in_tx) {
            if ((rc = bench_sqlite_exec(db, "BEGIN IMMEDIATE", "begin", ei)) != DFDG_OK)
                goto finalize;
            in_tx = true;
            last_at = at;
        }
        for (size_t k = 0; k < m; k++)
            if ((rc = insert_row(db, st, &rows[k], last_at, ei)) != DFDG_OK)
                goto rollback;
        first += m;
        if (batch > 0 || first == n) {
            if ((rc = bench_sqlite_exec(db, "COMMIT", "commit", ei)) != DFDG_OK)
                goto rollback;
            in_tx = false;
        }
        timed += bench_now() - t0;
    }
    out->rows = n;
    out->seconds = timed;
    rc = DFDG_OK;
    goto finalize;

rollback:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
finalize:
    sqlite3_finalize(st);
close_db:
    sqlite3_close_v2(db);
    bench_sqlite_remove(path);
    free(rows);
    return rc;
}
