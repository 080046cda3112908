/* SPDX-License-Identifier: Apache-2.0 */
/*
 * verify.c: the verifier's throughput. dfdg_audit_check (src/audit/check.h, the work of
 * `dfdg audit verify`) reads the whole log through the store, rebuilds the tree with verify.h,
 * compares each leaf with its stored node and checks every signed head. The baseline is a
 * plain raw SQLite scan of the same rows with no hashing at all; a second line adds only the
 * tree recomputation (verify.h) to that scan, the least any verifier must do.
 */
#include "core/dfdg.h"
#include "audit.h"
#include "audit/verify.h"

#include <sqlite3.h>

/* Scans audit_entry in idx order; with tree, adds each entry to it. Rows counted in *rows. */
static dfdg_err
raw_scan(sqlite3 *db, struct dfdg_verify_tree *tree, uint64_t *rows, double *seconds,
         struct dfdg_errinfo *ei)
{
    sqlite3_stmt *st;
    /* The store's own scan (ST_AUDIT_SCAN in src/store/sqlite.c) from 0. */
    if (sqlite3_prepare_v2(db,
                           "SELECT idx, at, entry FROM audit_entry WHERE idx >= ?1 ORDER BY idx",
                           -1, &st, NULL) != SQLITE_OK)
        return bench_sqlite_fail(db, "prepare the scan", ei);
    sqlite3_bind_int64(st, 1, 0);
    uint64_t n = 0;
    int src;
    double t0 = bench_now();
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        /* Every column is fetched, as the store's scan hands each to its callback. */
        (void)sqlite3_column_int64(st, 0);
        (void)sqlite3_column_int64(st, 1);
        const void *entry = sqlite3_column_blob(st, 2);
        size_t len = (size_t)sqlite3_column_bytes(st, 2);
        if (tree != NULL)
            dfdg_verify_tree_add(tree, entry, len);
        n++;
    }
    *seconds = bench_now() - t0;
    sqlite3_finalize(st);
    if (src != SQLITE_DONE)
        return bench_sqlite_fail(db, "the scan", ei);
    *rows = n;
    return DFDG_OK;
}

dfdg_err
bench_verify_run(const char *path, struct bench_verify_result *out, struct dfdg_errinfo *ei)
{
    memset(out, 0, sizeof *out);
    sqlite3 *db = NULL;
    struct dfdg_store *s = NULL;
    dfdg_err rc = DFDG_OK;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA cache_size=-65536", NULL, NULL, NULL) != SQLITE_OK) {
        rc = bench_sqlite_fail(db, "open the baseline connection", ei);
        goto close_all;
    }
    rc = raw_scan(db, NULL, &out->raw_rows, &out->raw_s, ei);
    if (rc != DFDG_OK)
        goto close_all;

    rc = dfdg_store_open(path, DFDG_STORE_OPEN, &s, ei);
    if (rc != DFDG_OK)
        goto close_all;
    double t0 = bench_now();
    rc = dfdg_audit_check(s, NULL, NULL, &out->rep);
    out->check_s = bench_now() - t0;
    if (rc != DFDG_OK) {
        dfdg_errinfo_set(ei, rc, "audit check: %s", out->rep.problem);
        goto close_all;
    }

    struct dfdg_verify_tree tree;
    dfdg_verify_tree_init(&tree);
    rc = raw_scan(db, &tree, &out->tree_rows, &out->tree_s, ei);
    struct dfdg_sth top;
    if (rc == DFDG_OK)
        rc = dfdg_store_sth_latest(s, &top);
    if (rc == DFDG_OK) {
        uint8_t root[DFDG_VERIFY_HASH_LEN];
        dfdg_verify_tree_root(&tree, root);
        out->tree_matches = tree.size == (uint64_t)top.size && memcmp(root, top.root, 32) == 0;
    }
close_all:
    dfdg_store_close(s);
    sqlite3_close(db);
    return rc;
}
