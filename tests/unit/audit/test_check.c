/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_check.c: `dfdg audit verify`'s pass over a store (src/audit/check.h). A log is written
 * through the real writer (auditlog.h: entries appended in transactions, tree heads signed),
 * then tampered with through raw SQL as someone with access to the database file could: an
 * entry edited, deleted, inserted, moved; a row's time edited; a tree head's signature
 * flipped, a head re-signed with the real key but dated back; an entry edited together with its
 * stored leaf hash (only a head can catch that); the last entries a head covers deleted; the
 * public key removed. Each must be reported, with the first bad entry or head named, and an
 * untouched log (with or without an unsigned tail) must verify.
 */
#include "core/dfdg.h"
#include "audit/auditlog.h"
#include "audit/check.h"
#include "audit/verify.h"
#include "store/store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>
#include <sodium.h>
#include <sqlite3.h>
#include <unistd.h>

#define T0 INT64_C(1735689600000000) /* 2025-01-01T00:00:00Z */
#define NENTRIES 40

/* Heads at 10, 25 and 40: the default log. */
static const int64_t default_heads[] = {10, 25, 40};

struct fixture {
    char path[256];
    struct dfdg_audit_report rep;
};

static void
remove_db(const char *path)
{
    char p[300];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

/* Writes n entries through the writer, signing a head whenever the size is one of heads[]. */
static void
build_log(const char *path, int64_t n, const int64_t *heads, size_t nheads)
{
    struct dfdg_store *s = NULL;
    struct dfdg_audit *a = NULL;
    struct dfdg_errinfo ei = {0};

    remove_db(path);
    assert_int_equal(dfdg_store_open(path, DFDG_STORE_CREATE, &s, &ei), DFDG_OK);
    assert_int_equal(dfdg_audit_open(s, &a, &ei), DFDG_OK);
    size_t h = 0;
    for (int64_t i = 0; i < n; i++) {
        json_t *ev = dfdg_audit_event_new("kommune:101", "caseworker", i % 3 ? "read" : "write",
                                          "case-handling", "LBK nr. 701 § 7", "");
        dfdg_audit_event_add_person(ev, 1 + i % 5);
        dfdg_audit_event_add_record(ev, "0190a0b0-0000-7000-8000-000000000001", "absence",
                                    1 + i % 5, i % 3 ? 0 : 201, "");
        assert_int_equal(dfdg_store_begin(s), DFDG_OK);
        assert_int_equal(dfdg_audit_append(a, s, ev, T0 + i * 1000), DFDG_OK);
        assert_int_equal(dfdg_store_commit(s), DFDG_OK);
        json_decref(ev);
        if (h < nheads && heads[h] == i + 1) {
            assert_int_equal(dfdg_store_begin(s), DFDG_OK);
            assert_int_equal(dfdg_audit_sign(a, s, T0 + i * 1000 + 500), DFDG_OK);
            assert_int_equal(dfdg_store_commit(s), DFDG_OK);
            h++;
        }
    }
    dfdg_audit_free(a);
    dfdg_store_close(s);
}

static int
setup(void **state)
{
    static int counter;
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->path, sizeof f->path, "%s/test_check_%d_%d.db", DFDG_TEST_TMP, (int)getpid(),
             counter++);
    build_log(f->path, NENTRIES, default_heads, DFDG_ARRAY_LEN(default_heads));
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    remove_db(f->path);
    free(f);
    return 0;
}

/* Runs the check on the store at path. */
static void
check(struct fixture *f)
{
    struct dfdg_store *s = NULL;
    struct dfdg_errinfo ei = {0};
    assert_int_equal(dfdg_store_open(f->path, DFDG_STORE_OPEN, &s, &ei), DFDG_OK);
    assert_int_equal(dfdg_audit_check(s, NULL, NULL, &f->rep), DFDG_OK);
    dfdg_store_close(s);
}

/* Asserts a failed check naming entry and head (-1: none) with a problem containing text. */
static void
expect_problem(struct fixture *f, int64_t entry, int64_t head, const char *text)
{
    check(f);
    if (f->rep.ok || strstr(f->rep.problem, text) == NULL)
        fail_msg("expected a problem with \"%s\", got ok=%d \"%s\"", text, (int)f->rep.ok,
                 f->rep.problem);
    assert_int_equal(f->rep.bad_entry, entry);
    assert_int_equal(f->rep.bad_head, head);
}

/* --- raw tampering ----------------------------------------------------------------------- */

static sqlite3 *
raw_open(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    return db;
}

static void
raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = raw_open(path);
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err);
    sqlite3_close(db);
}

/* Reads one blob (the first column of the first row of sql) into buf; returns its length. */
static size_t
raw_blob(sqlite3 *db, const char *sql, uint8_t *buf, size_t cap)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    assert_true(n <= cap);
    memcpy(buf, sqlite3_column_blob(st, 0), n);
    sqlite3_finalize(st);
    return n;
}

/* Runs sql with ?1 bound to the blob buf[n]. */
static void
raw_put_blob(sqlite3 *db, const char *sql, const uint8_t *buf, size_t n)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_bind_blob(st, 1, buf, (int)n, SQLITE_TRANSIENT), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
}

/* Changes the first "read" in entry idx to "sent"; with fix_leaf, its level-0 node too. */
static void
edit_entry(const char *path, int64_t idx, bool fix_leaf)
{
    sqlite3 *db = raw_open(path);
    uint8_t buf[1024];
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT entry FROM audit_entry WHERE idx = %lld", (long long)idx);
    size_t n = raw_blob(db, sql, buf, sizeof buf);
    size_t at = 0;
    while (at + 6 <= n && memcmp(buf + at, "\"read\"", 6) != 0)
        at++;
    assert_true(at + 6 <= n);
    memcpy(buf + at, "\"sent\"", 6);
    snprintf(sql, sizeof sql, "UPDATE audit_entry SET entry = ?1 WHERE idx = %lld", (long long)idx);
    raw_put_blob(db, sql, buf, n);
    if (fix_leaf) {
        uint8_t leaf[DFDG_VERIFY_HASH_LEN];
        dfdg_verify_leaf_hash(buf, n, leaf);
        snprintf(sql, sizeof sql, "UPDATE audit_node SET hash = ?1 WHERE level = 0 AND idx = %lld",
                 (long long)idx);
        raw_put_blob(db, sql, leaf, sizeof leaf);
    }
    sqlite3_close(db);
}

/* Re-signs the head of `size` with the store's own secret key, with a new time. */
static void
resign_head(const char *path, int64_t size, int64_t at)
{
    sqlite3 *db = raw_open(path);
    uint8_t sk[crypto_sign_SECRETKEYBYTES], root[32], msg[DFDG_STH_MESSAGE_LEN], sig[64];
    char sql[128];
    assert_int_equal(
        raw_blob(db, "SELECT value FROM meta WHERE key = 'audit_secret'", sk, sizeof sk),
        sizeof sk);
    snprintf(sql, sizeof sql, "SELECT root FROM audit_sth WHERE size = %lld", (long long)size);
    assert_int_equal(raw_blob(db, sql, root, sizeof root), sizeof root);
    struct dfdg_sth h = {.size = size, .at = at};
    memcpy(h.root, root, sizeof root);
    dfdg_sth_message(&h, msg);
    crypto_sign_detached(sig, NULL, msg, sizeof msg, sk);
    snprintf(sql, sizeof sql, "UPDATE audit_sth SET sig = ?1, at = %lld WHERE size = %lld",
             (long long)at, (long long)size);
    raw_put_blob(db, sql, sig, sizeof sig);
    sodium_memzero(sk, sizeof sk);
    sqlite3_close(db);
}

/* --- the untouched log -------------------------------------------------------------------- */

static void
progress(void *ctx, uint64_t done, uint64_t total)
{
    uint64_t *last = ctx;
    assert_true(done <= total);
    *last = done;
}

static void
test_untouched_log_verifies(void **state)
{
    struct fixture *f = *state;
    struct dfdg_store *s = NULL;
    struct dfdg_errinfo ei = {0};
    uint64_t last = 0;
    uint8_t pk[32];

    assert_int_equal(dfdg_store_open(f->path, DFDG_STORE_OPEN, &s, &ei), DFDG_OK);
    assert_int_equal(dfdg_audit_check(s, progress, &last, &f->rep), DFDG_OK);
    assert_int_equal(dfdg_audit_public_key(s, pk), DFDG_OK);
    dfdg_store_close(s);
    assert_true(f->rep.ok);
    assert_string_equal(f->rep.problem, "");
    assert_int_equal(f->rep.entries, NENTRIES);
    assert_int_equal(f->rep.heads, 3);
    assert_int_equal(f->rep.unsigned_tail, 0);
    assert_int_equal(f->rep.bad_entry, -1);
    assert_int_equal(f->rep.bad_head, -1);
    assert_true(f->rep.has_key);
    assert_memory_equal(f->rep.public_key, pk, 32);
    assert_int_equal(last, NENTRIES);
}

static void
test_unsigned_tail_is_counted_not_failed(void **state)
{
    struct fixture *f = *state;
    const int64_t heads[] = {10, 25};
    build_log(f->path, 33, heads, DFDG_ARRAY_LEN(heads));
    check(f);
    assert_true(f->rep.ok);
    assert_int_equal(f->rep.entries, 33);
    assert_int_equal(f->rep.heads, 2);
    assert_int_equal(f->rep.unsigned_tail, 8);
}

static void
test_empty_log_verifies(void **state)
{
    struct fixture *f = *state;
    build_log(f->path, 0, NULL, 0);
    check(f);
    assert_true(f->rep.ok);
    assert_int_equal(f->rep.entries, 0);
    assert_int_equal(f->rep.heads, 0);
}

/* One head over every size from 1 to 20: each recomputed root must match. */
static void
test_head_after_every_entry_verifies(void **state)
{
    struct fixture *f = *state;
    int64_t heads[20];
    for (int i = 0; i < 20; i++)
        heads[i] = i + 1;
    build_log(f->path, 20, heads, DFDG_ARRAY_LEN(heads));
    check(f);
    assert_true(f->rep.ok);
    assert_int_equal(f->rep.heads, 20);
}

/* --- entries tampered with ----------------------------------------------------------------- */

static void
test_edited_entry_is_named(void **state)
{
    struct fixture *f = *state;
    edit_entry(f->path, 17, false);
    expect_problem(f, 17, -1, "entry 17 was edited");
    assert_int_equal(f->rep.entries, 17);
    assert_int_equal(f->rep.heads, 1);
}

static void
test_garbled_entry_is_named(void **state)
{
    struct fixture *f = *state;
    raw_exec(f->path, "UPDATE audit_entry SET entry = CAST('{\"i\":7,' AS BLOB) WHERE idx = 7");
    expect_problem(f, 7, -1, "entry 7 was edited: it is not a well-formed");
}

static void
test_edited_row_time_is_named(void **state)
{
    struct fixture *f = *state;
    raw_exec(f->path, "UPDATE audit_entry SET at = at + 3600000000 WHERE idx = 30");
    expect_problem(f, 30, -1, "entry 30 was edited: its row's time");
    raw_exec(f->path, "UPDATE audit_entry SET at = 9223372036854775807 WHERE idx = 4");
    expect_problem(f, 4, -1, "entry 4 was edited: its row's time");
    raw_exec(f->path, "UPDATE audit_entry SET at = -9223372036854775808 WHERE idx = 1");
    expect_problem(f, 1, -1, "entry 1 was edited: its row's time");
}

static void
test_deleted_entry_is_named(void **state)
{
    struct fixture *f = *state;
    raw_exec(f->path, "DELETE FROM audit_entry WHERE idx = 12");
    expect_problem(f, 12, -1, "entry 12 is missing");
}

static void
test_deleted_first_entries_are_named(void **state)
{
    struct fixture *f = *state;
    raw_exec(f->path, "DELETE FROM audit_entry WHERE idx < 3");
    expect_problem(f, 0, -1, "entries 0..2 are missing");
}

/* A row slipped in at 20 (a copy of a neighbour, renumbered), later rows moved up to make room. */
static void
test_inserted_entry_is_named(void **state)
{
    struct fixture *f = *state;
    raw_exec(f->path, "UPDATE audit_entry SET idx = -(idx + 1) WHERE idx >= 20;"
                      "UPDATE audit_entry SET idx = -idx WHERE idx < 0;"
                      "INSERT INTO audit_entry(idx, at, entry) SELECT 20, at, "
                      "  CAST(replace(CAST(entry AS TEXT), '\"i\":21', '\"i\":20') AS BLOB)"
                      "  FROM audit_entry WHERE idx = 22;");
    expect_problem(f, 20, -1, "entry 20 was edited");
}

/* A row added after the end, numbered as the next entry would be, without a leaf hash. */
static void
test_appended_entry_without_leaf_is_named(void **state)
{
    struct fixture *f = *state;
    raw_exec(f->path, "INSERT INTO audit_entry(idx, at, entry) SELECT 40, at, "
                      "  CAST(replace(CAST(entry AS TEXT), '\"i\":39', '\"i\":40') AS BLOB)"
                      "  FROM audit_entry WHERE idx = 39;");
    expect_problem(f, 40, -1, "entry 40 has no valid stored leaf hash");
    assert_int_equal(f->rep.heads, 3);
}

static void
test_row_below_zero_is_named(void **state)
{
    struct fixture *f = *state;
    raw_exec(f->path, "INSERT INTO audit_entry(idx, at, entry) SELECT -1, at, entry "
                      "FROM audit_entry WHERE idx = 0");
    expect_problem(f, -1, -1, "entry -1 does not belong in the log");
}

/* Rows 5 and 9 swap places (their numbers stay). */
static void
test_reordered_entries_are_named(void **state)
{
    struct fixture *f = *state;
    raw_exec(f->path, "UPDATE audit_entry SET idx = -1 WHERE idx = 5;"
                      "UPDATE audit_entry SET idx = 5 WHERE idx = 9;"
                      "UPDATE audit_entry SET idx = 9 WHERE idx = -1;");
    expect_problem(f, 5, -1, "entry 5 was moved or renumbered: it says it is entry 9");
}

/* An edit that fixes the stored leaf hash too: only the tree head of size 25 can see it. */
static void
test_consistent_edit_is_caught_by_the_head(void **state)
{
    struct fixture *f = *state;
    edit_entry(f->path, 17, true);
    expect_problem(f, -1, 25,
                   "tree head of size 25 does not match the entries: the first bad entry is "
                   "between 10 and 24");
    assert_int_equal(f->rep.heads, 1);
}

/* The same in the first head's range: the range starts at 0. */
static void
test_consistent_edit_before_the_first_head(void **state)
{
    struct fixture *f = *state;
    edit_entry(f->path, 2, true);
    expect_problem(f, -1, 10,
                   "tree head of size 10 does not match the entries: the first bad "
                   "entry is between 0 and 9");
}

static void
test_deleted_last_entries_are_named(void **state)
{
    struct fixture *f = *state;
    raw_exec(f->path, "DELETE FROM audit_entry WHERE idx >= 37");
    expect_problem(f, 37, 40, "entries 37..39 are missing (the tree head of size 40 covers them)");
    assert_int_equal(f->rep.entries, 37);
}

static void
test_deleted_last_entry_is_named(void **state)
{
    struct fixture *f = *state;
    raw_exec(f->path, "DELETE FROM audit_entry WHERE idx = 39");
    expect_problem(f, 39, 40, "entry 39 is missing (the tree head of size 40 covers it)");
}

/* --- tree heads tampered with -------------------------------------------------------------- */

static void
test_flipped_signature_is_named(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db = raw_open(f->path);
    uint8_t sig[64];
    assert_int_equal(raw_blob(db, "SELECT sig FROM audit_sth WHERE size = 25", sig, sizeof sig),
                     64);
    sig[13] ^= 0x01;
    raw_put_blob(db, "UPDATE audit_sth SET sig = ?1 WHERE size = 25", sig, sizeof sig);
    sqlite3_close(db);
    expect_problem(f, -1, 25, "tree head of size 25 has a bad signature");
    assert_int_equal(f->rep.heads, 1);
}

/* A head's root changed to the one the edited entries give: the signature no longer fits. */
static void
test_forged_root_is_named(void **state)
{
    struct fixture *f = *state;
    sqlite3 *db = raw_open(f->path);
    uint8_t root[32];
    assert_int_equal(raw_blob(db, "SELECT root FROM audit_sth WHERE size = 10", root, 32), 32);
    root[0] ^= 0x80;
    raw_put_blob(db, "UPDATE audit_sth SET root = ?1 WHERE size = 10", root, sizeof root);
    sqlite3_close(db);
    expect_problem(f, -1, 10, "tree head of size 10 has a bad signature");
}

/* A head signed with another key (the forger does not have the hub's). */
static void
test_head_signed_with_another_key_is_named(void **state)
{
    struct fixture *f = *state;
    uint8_t pk[32], sk[crypto_sign_SECRETKEYBYTES], msg[DFDG_STH_MESSAGE_LEN];
    struct dfdg_sth h = {.size = 41, .at = T0 + 50 * 1000};
    crypto_sign_keypair(pk, sk);
    memset(h.root, 0x42, sizeof h.root);
    dfdg_sth_message(&h, msg);
    crypto_sign_detached(h.sig, NULL, msg, sizeof msg, sk);
    raw_exec(f->path, "INSERT INTO audit_entry(idx, at, entry) SELECT 40, at, "
                      "  CAST(replace(CAST(entry AS TEXT), '\"i\":39', '\"i\":40') AS BLOB)"
                      "  FROM audit_entry WHERE idx = 39;");
    sqlite3 *db = raw_open(f->path);
    sqlite3_stmt *st = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db, "INSERT INTO audit_sth VALUES(41, ?1, ?2, ?3)", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_int64(st, 1, h.at);
    sqlite3_bind_blob(st, 2, h.root, 32, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, h.sig, 64, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* The appended entry, which has no leaf hash, is met first in log order. */
    expect_problem(f, 40, -1, "entry 40 has no valid stored leaf hash");
    /* With a leaf hash that fits, the head itself is what fails. */
    uint8_t buf[1024], leaf[32];
    db = raw_open(f->path);
    size_t n = raw_blob(db, "SELECT entry FROM audit_entry WHERE idx = 40", buf, sizeof buf);
    dfdg_verify_leaf_hash(buf, n, leaf);
    raw_put_blob(db, "INSERT INTO audit_node(level, idx, hash) VALUES(0, 40, ?1)", leaf, 32);
    sqlite3_close(db);
    expect_problem(f, -1, 41, "tree head of size 41 has a bad signature");
    assert_int_equal(f->rep.heads, 3);
}

/* Re-signed with the hub's own key but dated before the head before it. */
static void
test_head_dated_back_is_named(void **state)
{
    struct fixture *f = *state;
    resign_head(f->path, 25, T0);
    expect_problem(f, -1, 25, "tree head of size 25 is dated before the tree head of size 10");
}

/* Whoever holds the secret key can re-sign, but not make a head fit entries it does not. */
static void
test_resigned_head_still_needs_matching_entries(void **state)
{
    struct fixture *f = *state;
    edit_entry(f->path, 31, true);
    resign_head(f->path, 40, T0 + 60 * 1000);
    expect_problem(f, -1, 40,
                   "tree head of size 40 does not match the entries: the first bad "
                   "entry is between 25 and 39");
}

static void
test_missing_public_key_is_named(void **state)
{
    struct fixture *f = *state;
    raw_exec(f->path, "DELETE FROM meta WHERE key = 'audit_public'");
    expect_problem(f, -1, 10, "tree head of size 10 cannot be checked");
    assert_false(f->rep.has_key);
}

static void
test_replaced_public_key_fails_every_head(void **state)
{
    struct fixture *f = *state;
    uint8_t pk[32], sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair(pk, sk);
    sqlite3 *db = raw_open(f->path);
    raw_put_blob(db, "UPDATE meta SET value = ?1 WHERE key = 'audit_public'", pk, sizeof pk);
    sqlite3_close(db);
    expect_problem(f, -1, 10, "tree head of size 10 has a bad signature");
    assert_memory_equal(f->rep.public_key, pk, 32);
}

/* A head with a size the log never had. */
static void
test_head_beyond_the_log_is_named(void **state)
{
    struct fixture *f = *state;
    raw_exec(f->path, "UPDATE audit_sth SET size = 45 WHERE size = 40");
    expect_problem(f, 40, 45, "entries 40..44 are missing (the tree head of size 45 covers them)");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_untouched_log_verifies),
        T(test_unsigned_tail_is_counted_not_failed),
        T(test_empty_log_verifies),
        T(test_head_after_every_entry_verifies),
        T(test_edited_entry_is_named),
        T(test_garbled_entry_is_named),
        T(test_edited_row_time_is_named),
        T(test_deleted_entry_is_named),
        T(test_deleted_first_entries_are_named),
        T(test_inserted_entry_is_named),
        T(test_appended_entry_without_leaf_is_named),
        T(test_row_below_zero_is_named),
        T(test_reordered_entries_are_named),
        T(test_consistent_edit_is_caught_by_the_head),
        T(test_consistent_edit_before_the_first_head),
        T(test_deleted_last_entries_are_named),
        T(test_deleted_last_entry_is_named),
        T(test_flipped_signature_is_named),
        T(test_forged_root_is_named),
        T(test_head_signed_with_another_key_is_named),
        T(test_head_dated_back_is_named),
        T(test_resigned_head_still_needs_matching_entries),
        T(test_missing_public_key_is_named),
        T(test_replaced_public_key_fails_every_head),
        T(test_head_beyond_the_log_is_named),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
