/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rawdb.c: what the SQLite baselines share: a fresh SQLite file with the store's own schema
 * (the migrations of src/store/schema_sqlite.h: same tables, indexes, CHECKs and triggers)
 * and PRAGMAs (WAL, synchronous=FULL, foreign_keys, cache_size), so a baseline pays what the
 * server pays for every row it writes. The benchmarks, not src/store, own these connections,
 * so they may include sqlite3.h.
 */
#include "core/dfdg.h"
#include "bench_common.h"
#include "store/schema_sqlite.h"

#include <sqlite3.h>
#include <unistd.h>

dfdg_err
bench_sqlite_fail(struct sqlite3 *db, const char *what, struct dfdg_errinfo *ei)
{
    return dfdg_errinfo_set(ei, DFDG_IO, "raw sqlite: %s: %s", what, sqlite3_errmsg(db));
}

dfdg_err
bench_sqlite_exec(struct sqlite3 *db, const char *sql, const char *what, struct dfdg_errinfo *ei)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return bench_sqlite_fail(db, what, ei);
    return DFDG_OK;
}

void
bench_sqlite_remove(const char *path)
{
    char p[4096];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

/* The store's configure() and migrate(), minus the error reporting it needs. */
dfdg_err
bench_sqlite_create_schema(struct sqlite3 *db, struct dfdg_errinfo *ei)
{
    sqlite3_busy_timeout(db, 5000);
    dfdg_err rc = bench_sqlite_exec(
        db,
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
        " PRAGMA cache_size=-65536",
        "pragmas", ei);
    if (rc != DFDG_OK)
        return rc;
    rc = bench_sqlite_exec(
        db, "BEGIN IMMEDIATE; CREATE TABLE schema_version(version INTEGER NOT NULL)", "schema", ei);
    for (size_t i = 0; rc == DFDG_OK && i < DFDG_ARRAY_LEN(dfdg_sqlite_migrations); i++)
        rc = bench_sqlite_exec(db, dfdg_sqlite_migrations[i], "schema", ei);
    if (rc == DFDG_OK) {
        char sql[96];
        snprintf(sql, sizeof sql, "INSERT INTO schema_version VALUES(%zu); COMMIT",
                 DFDG_ARRAY_LEN(dfdg_sqlite_migrations));
        rc = bench_sqlite_exec(db, sql, "schema", ei);
    }
    return rc;
}
