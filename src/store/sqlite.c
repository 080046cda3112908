/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sqlite.c: the SQLite backend of the storage interface (store.h). One handle is one
 * connection in WAL mode with synchronous=FULL (an acknowledged commit survives a power cut),
 * foreign keys on and a 5 s busy timeout. Every statement is prepared once at open and reset
 * after use, so inserts and lookups do no SQL parsing.
 *
 * Invariants:
 *   1. After a successful open the schema is at DFDG_STORE_SCHEMA_VERSION: the missing
 *      migrations of schema_sqlite.h were applied in one transaction. A store with a newer
 *      schema is refused (DFDG_CORRUPT), never touched.
 *   2. SQLITE_* codes do not leave this file: translate() maps them, and the detail (with
 *      sqlite3_errmsg) goes to the handle's errmsg. Messages never hold a CPR number: SQLite
 *      names columns in its messages, not values, and our own texts name none.
 *   3. A cached statement is reset (and its bindings cleared) before the function that used it
 *      returns. A statement still stepping (a records_query callback that calls back into the
 *      store) is never reused: stmt_get prepares a private copy instead.
 *   4. Records, deliveries and disclosures are only ever inserted; triggers in the schema
 *      reject UPDATE and DELETE. The one exception is retention: chain_delete deletes whole
 *      chains and their deliveries under a savepoint, with the permission row the v4 triggers
 *      look for inserted and removed inside it, so that row never commits. The audit tables
 *      have no triggers on purpose: their protection is cryptographic (schema_sqlite.h, v2 ->
 *      v3), but this file only ever inserts into them too, and a node or tree head, once
 *      written, is never replaced.
 *   5. person_put changes a person's master data all or nothing: inside the caller's
 *      transaction it works under a savepoint, otherwise in a transaction of its own.
 *   6. A delivery's seq is its rowid and grows in commit order: SQLite runs one write
 *      transaction at a time, so no transaction can commit a smaller rowid after a larger one
 *      became visible (schema_sqlite.h, v1 -> v2). Delivery and disclosure inserts, like record
 *      inserts, refuse to run outside a transaction. Retention never deletes the newest
 *      delivery or the newest record (chain_delete holds such a chain back), so max(seq) never
 *      goes down and no seq is handed out twice.
 *   7. An audit entry's idx is the leaf index the caller gives, never a rowid SQLite picks;
 *      audit_append and sth_put refuse to run outside a transaction. audit_append is one
 *      entry insert plus one insert per person, all prepared: no lookups on the write path.
 */
#include "core/dfdg.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/schema_sqlite.h"
#include "store/store_int.h"

_Static_assert(DFDG_ARRAY_LEN(dfdg_sqlite_migrations) == DFDG_STORE_SCHEMA_VERSION,
               "one SQLite migration per schema version");

#define BUSY_TIMEOUT_MS 5000

/* The columns of a record, in the order row_to_record reads them. */
#define RECORD_COLS                                                                                \
    "r.seq, r.id, r.type, r.person_id, r.cvr, r.reporter, r.source_ref, r.valid_from, "            \
    "r.valid_to, r.recorded_at, r.kind, r.target_id, r.content_hash, r.data, r.reason, r.owner"

/*
 * records_query: ?1 person, ?2 as_of, ?3 type, ?4 valid_on, ?5 limit (-1 = none). One
 * statement per combination of the optional filters, so each can use the best index.
 */
#define QUERY_HEAD                                                                                 \
    "SELECT " RECORD_COLS " FROM record r WHERE r.person_id = ?1 AND r.kind != 2"                  \
    " AND r.recorded_at <= ?2"
#define QUERY_TYPE " AND r.type = ?3"
#define QUERY_VALID " AND r.valid_from <= ?4 AND (r.valid_to IS NULL OR r.valid_to >= ?4)"
#define QUERY_TAIL                                                                                 \
    " AND NOT EXISTS (SELECT 1 FROM record s WHERE s.target_id = r.id AND s.recorded_at <= ?2)"    \
    " ORDER BY r.valid_from DESC, r.recorded_at DESC, r.seq DESC LIMIT ?5"

/*
 * A delivery with its record and the subject's current CPR number, in the column order
 * delivery_row reads: the record first, so row_to_record's indexes hold, then the rest.
 */
#define DELIVERY_COL_CPR 16
#define DELIVERY_HEAD                                                                              \
    "SELECT " RECORD_COLS ", p.cpr, d.seq, d.org_id, d.record_id, d.reason, d.created_at"          \
    " FROM delivery d JOIN record r ON r.id = d.record_id"                                         \
    " LEFT JOIN person p ON p.person_id = r.person_id"

enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SP_PERSON,
    ST_RELEASE_PERSON,
    ST_ROLLBACK_TO_PERSON,
    ST_META_PUT,
    ST_META_GET,
    ST_ORG_PUT,
    ST_ORG_GET,
    ST_ISSUER_PUT,
    ST_ISSUER_GET,
    ST_ORG_LIST,
    ST_ISSUER_LIST,
    ST_CPR_RESOLVE,
    ST_CPR_MAP,
    ST_PERSON_INSERT,
    ST_PERSON_UPDATE,
    ST_ADDR_DELETE,
    ST_PROT_DELETE,
    ST_CHILD_DELETE,
    ST_ADDR_INSERT,
    ST_PROT_INSERT,
    ST_CHILD_INSERT,
    ST_PERSON_GET,
    ST_PERSON_CPRS,
    ST_ADDR_LIST,
    ST_PROT_LIST,
    ST_CHILD_LIST,
    ST_RESIDENCE_ON,
    ST_PROTECTED_ON,
    ST_MEMBER_ON,
    ST_RECORD_INSERT,
    ST_RECORD_GET,
    ST_RECORD_BY_SOURCE,
    ST_RECORD_SUCCESSOR,
    ST_LAST_RECORDED_AT,
    ST_QUERY,
    ST_QUERY_TYPE,
    ST_QUERY_VALID,
    ST_QUERY_TYPE_VALID,
    ST_COUNT_RECORDS,
    ST_COUNT_PERSONS,
    ST_MEMBERS_ON,
    ST_DELIVERY_INSERT,
    ST_FEED,
    ST_DELIVERIES_OF,
    ST_LAST_DELIVERY_SEQ,
    ST_DISCLOSURE_INSERT,
    ST_COUNT_DISCLOSURES,
    ST_AUDIT_APPEND,
    ST_AUDIT_SUBJECT,
    ST_AUDIT_NODE_PUT,
    ST_AUDIT_NODE_GET,
    ST_AUDIT_SIZE,
    ST_AUDIT_SCAN,
    ST_AUDIT_OF_PERSON,
    ST_STH_PUT,
    ST_STH_LATEST,
    ST_STH_SCAN,
    ST_ENDED_VALID,
    ST_ENDED_CANCEL,
    ST_HAS_SUCCESSOR,
    ST_MAX_RECORD_SEQ,
    ST_DELIVERIES_COUNT,
    ST_SP_CHAIN,
    ST_RELEASE_CHAIN,
    ST_ROLLBACK_TO_CHAIN,
    ST_RETENTION_ON,
    ST_RETENTION_OFF,
    ST_DELIVERY_DELETE,
    ST_RECORD_DELETE,
    ST__COUNT
};

static const char *const stmt_sql[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SP_PERSON] = "SAVEPOINT dfdg_person_put",
    [ST_RELEASE_PERSON] = "RELEASE SAVEPOINT dfdg_person_put",
    [ST_ROLLBACK_TO_PERSON] = "ROLLBACK TO SAVEPOINT dfdg_person_put",
    [ST_META_PUT] = "INSERT INTO meta(key, value) VALUES(?1, ?2)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [ST_ORG_PUT] = "INSERT INTO org(org_id, kind, name) VALUES(?1, ?2, ?3)"
                   " ON CONFLICT(org_id) DO UPDATE SET kind = excluded.kind, name = excluded.name",
    [ST_ORG_GET] = "SELECT org_id, kind, name FROM org WHERE org_id = ?1",
    [ST_ISSUER_PUT] = "INSERT INTO issuer(iss, public_key) VALUES(?1, ?2)"
                      " ON CONFLICT(iss) DO UPDATE SET public_key = excluded.public_key",
    [ST_ISSUER_GET] = "SELECT public_key FROM issuer WHERE iss = ?1",
    [ST_ORG_LIST] = "SELECT org_id, kind, name FROM org ORDER BY org_id",
    [ST_ISSUER_LIST] = "SELECT iss, public_key FROM issuer ORDER BY iss",
    [ST_CPR_RESOLVE] = "SELECT person_id FROM person_cpr WHERE cpr = ?1",
    [ST_CPR_MAP] = "INSERT OR IGNORE INTO person_cpr(cpr, person_id) VALUES(?1, ?2)",
    [ST_PERSON_INSERT] = "INSERT INTO person(cpr, birthdate, sex, status, first_name, middle_name,"
                         " last_name, updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_PERSON_UPDATE] = "UPDATE person SET cpr = ?1, birthdate = ?2, sex = ?3, status = ?4,"
                         " first_name = ?5, middle_name = ?6, last_name = ?7, updated_at = ?8"
                         " WHERE person_id = ?9",
    [ST_ADDR_DELETE] = "DELETE FROM person_address WHERE person_id = ?1",
    [ST_PROT_DELETE] = "DELETE FROM person_protection WHERE person_id = ?1",
    [ST_CHILD_DELETE] = "DELETE FROM person_child WHERE person_id = ?1",
    [ST_ADDR_INSERT] = "INSERT INTO person_address(person_id, kommunekode, road, house, postcode,"
                       " city, valid_from, valid_to) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [ST_PROT_INSERT] = "INSERT INTO person_protection(person_id, valid_from, valid_to)"
                       " VALUES(?1, ?2, ?3)",
    [ST_CHILD_INSERT] = "INSERT INTO person_child(person_id, birthdate) VALUES(?1, ?2)",
    [ST_PERSON_GET] = "SELECT cpr, birthdate, sex, status, first_name, middle_name, last_name"
                      " FROM person WHERE person_id = ?1",
    [ST_PERSON_CPRS] = "SELECT cpr FROM person_cpr WHERE person_id = ?1 AND cpr != ?2"
                       " ORDER BY rowid",
    [ST_ADDR_LIST] = "SELECT kommunekode, road, house, postcode, city, valid_from, valid_to"
                     " FROM person_address WHERE person_id = ?1 ORDER BY valid_from, rowid",
    [ST_PROT_LIST] = "SELECT valid_from, valid_to FROM person_protection WHERE person_id = ?1"
                     " ORDER BY valid_from, rowid",
    [ST_CHILD_LIST] = "SELECT birthdate FROM person_child WHERE person_id = ?1"
                      " ORDER BY birthdate, rowid",
    /* Addresses end exclusively: the day of moving away is at the new address. */
    [ST_RESIDENCE_ON] = "SELECT kommunekode FROM person_address WHERE person_id = ?1"
                        " AND valid_from <= ?2 AND (valid_to IS NULL OR ?2 < valid_to)"
                        " ORDER BY valid_from DESC, rowid DESC LIMIT 1",
    [ST_PROTECTED_ON] = "SELECT EXISTS(SELECT 1 FROM person_protection WHERE person_id = ?1"
                        " AND valid_from <= ?2 AND (valid_to IS NULL OR ?2 < valid_to))",
    /* BEK kap. 16: membership from current akasse-membership records (valid_to inclusive). */
    [ST_MEMBER_ON] = "SELECT EXISTS(SELECT 1 FROM record r WHERE r.person_id = ?1"
                     " AND r.type = 'akasse-membership' AND r.owner = ?2 AND r.kind != 2"
                     " AND r.valid_from <= ?3 AND (r.valid_to IS NULL OR r.valid_to >= ?3)"
                     " AND NOT EXISTS (SELECT 1 FROM record s WHERE s.target_id = r.id))",
    [ST_RECORD_INSERT] = "INSERT INTO record(id, type, person_id, cvr, reporter, source_ref,"
                         " valid_from, valid_to, recorded_at, kind, target_id, content_hash,"
                         " data, reason, owner)"
                         " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
                         " ?15)",
    [ST_RECORD_GET] = "SELECT " RECORD_COLS " FROM record r WHERE r.id = ?1",
    [ST_RECORD_BY_SOURCE] = "SELECT " RECORD_COLS " FROM record r"
                            " WHERE r.reporter = ?1 AND r.source_ref = ?2",
    [ST_RECORD_SUCCESSOR] = "SELECT " RECORD_COLS " FROM record r"
                            " WHERE r.target_id = ?1 AND r.recorded_at <= ?2"
                            " ORDER BY r.recorded_at, r.seq LIMIT 1",
    [ST_LAST_RECORDED_AT] = "SELECT COALESCE(max(recorded_at), 0) FROM record",
    [ST_QUERY] = QUERY_HEAD QUERY_TAIL,
    [ST_QUERY_TYPE] = QUERY_HEAD QUERY_TYPE QUERY_TAIL,
    [ST_QUERY_VALID] = QUERY_HEAD QUERY_VALID QUERY_TAIL,
    [ST_QUERY_TYPE_VALID] = QUERY_HEAD QUERY_TYPE QUERY_VALID QUERY_TAIL,
    [ST_COUNT_RECORDS] = "SELECT count(*) FROM record",
    [ST_COUNT_PERSONS] = "SELECT count(*) FROM person",
    /* BEK kap. 16: the owners of current membership chains; a correction keeps the owner. */
    [ST_MEMBERS_ON] = "SELECT DISTINCT r.owner FROM record r WHERE r.person_id = ?1"
                      " AND r.type = 'akasse-membership' AND r.kind != 2"
                      " AND r.valid_from <= ?2 AND (r.valid_to IS NULL OR r.valid_to >= ?2)"
                      " AND NOT EXISTS (SELECT 1 FROM record s WHERE s.target_id = r.id)"
                      " ORDER BY r.owner",
    [ST_DELIVERY_INSERT] = "INSERT INTO delivery(org_id, record_id, reason, created_at)"
                           " VALUES(?1, ?2, ?3, ?4)",
    [ST_FEED] = DELIVERY_HEAD " WHERE d.org_id = ?1 AND d.seq > ?2 ORDER BY d.seq LIMIT ?3",
    [ST_DELIVERIES_OF] = DELIVERY_HEAD " WHERE d.record_id = ?1 ORDER BY d.seq",
    [ST_LAST_DELIVERY_SEQ] = "SELECT COALESCE(max(seq), 0) FROM delivery",
    [ST_DISCLOSURE_INSERT] = "INSERT INTO disclosure(at, org_id, sub, person_id, record_id, type,"
                             " purpose, legal_basis, channel)"
                             " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [ST_COUNT_DISCLOSURES] = "SELECT count(*) FROM disclosure",
    /* idx is the leaf index as given: a duplicate is a PRIMARY KEY conflict, not a new rowid. */
    [ST_AUDIT_APPEND] = "INSERT INTO audit_entry(idx, at, entry) VALUES(?1, ?2, ?3)",
    /* OR IGNORE: a person named twice in one entry is one row, with no lookup of our own. */
    [ST_AUDIT_SUBJECT] = "INSERT OR IGNORE INTO audit_subject(person_id, idx) VALUES(?1, ?2)",
    /* Plain INSERT: a node is written once, and a second write is a conflict, not a repair. */
    [ST_AUDIT_NODE_PUT] = "INSERT INTO audit_node(level, idx, hash) VALUES(?1, ?2, ?3)",
    [ST_AUDIT_NODE_GET] = "SELECT hash FROM audit_node WHERE level = ?1 AND idx = ?2",
    [ST_AUDIT_SIZE] = "SELECT COALESCE(max(idx) + 1, 0) FROM audit_entry",
    [ST_AUDIT_SCAN] = "SELECT idx, at, entry FROM audit_entry WHERE idx >= ?1 ORDER BY idx",
    /* GDPR art. 15: the citizen's access log, newest first. */
    [ST_AUDIT_OF_PERSON] = "SELECT e.idx, e.at, e.entry FROM audit_subject s"
                           " JOIN audit_entry e ON e.idx = s.idx"
                           " WHERE s.person_id = ?1 AND s.idx < ?2 ORDER BY s.idx DESC LIMIT ?3",
    [ST_STH_PUT] = "INSERT INTO audit_sth(size, at, root, sig) VALUES(?1, ?2, ?3, ?4)",
    [ST_STH_LATEST] = "SELECT size, at, root, sig FROM audit_sth ORDER BY size DESC LIMIT 1",
    [ST_STH_SCAN] = "SELECT size, at, root, sig FROM audit_sth ORDER BY size",
    /*
     * Retention: chains whose current version ended (valid_to) before ?2, walked through
     * record_type_valid in (valid_from, seq) order from the cursor (?3, ?4). valid_from < ?2 is
     * implied by valid_to < ?2 and bounds the index range.
     */
    [ST_ENDED_VALID] =
        "SELECT r.seq, r.id, r.person_id, r.valid_from, r.valid_to FROM record r"
        " WHERE r.type = ?1 AND r.valid_from < ?2 AND (r.valid_from, r.seq) > (?3, ?4)"
        " AND r.valid_to < ?2 AND r.kind != 2"
        " AND NOT EXISTS (SELECT 1 FROM record s WHERE s.target_id = r.id)"
        " ORDER BY r.valid_from, r.seq",
    /* Chains withdrawn by a cancellation recorded before ?2 (record_ended_cancel). */
    [ST_ENDED_CANCEL] = "SELECT r.seq, r.id, r.person_id, r.recorded_at FROM record r"
                        " WHERE r.type = ?1 AND r.kind = 2 AND r.recorded_at < ?2"
                        " AND (r.recorded_at, r.seq) > (?3, ?4) ORDER BY r.recorded_at, r.seq",
    [ST_HAS_SUCCESSOR] = "SELECT EXISTS(SELECT 1 FROM record WHERE target_id = ?1)",
    [ST_MAX_RECORD_SEQ] = "SELECT COALESCE(max(seq), 0) FROM record",
    [ST_DELIVERIES_COUNT] = "SELECT count(*), COALESCE(max(seq), 0) FROM delivery"
                            " WHERE record_id = ?1",
    [ST_SP_CHAIN] = "SAVEPOINT dfdg_chain_delete",
    [ST_RELEASE_CHAIN] = "RELEASE SAVEPOINT dfdg_chain_delete",
    [ST_ROLLBACK_TO_CHAIN] = "ROLLBACK TO SAVEPOINT dfdg_chain_delete",
    /* The permission the v4 delete triggers look for; never committed (schema_sqlite.h). */
    [ST_RETENTION_ON] = "INSERT INTO meta(key, value) VALUES('retention_delete', 1)",
    [ST_RETENTION_OFF] = "DELETE FROM meta WHERE key = 'retention_delete'",
    [ST_DELIVERY_DELETE] = "DELETE FROM delivery WHERE record_id = ?1",
    [ST_RECORD_DELETE] = "DELETE FROM record WHERE id = ?1",
};

struct sq_store {
    struct dfdg_store base;        /* must stay first */
    sqlite3 *db;                   /* the connection */
    sqlite3_stmt *stmt[ST__COUNT]; /* prepared at open, reset after each use */
};

static const struct dfdg_store_vt sqlite_vt;

static struct sq_store *
sq(struct dfdg_store *s)
{
    return (struct sq_store *)s;
}

/* --- result codes, statements and bindings ------------------------------------------------ */

static dfdg_err
translate(int src)
{
    switch (src) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return DFDG_CONFLICT;
    default:
        break;
    }
    switch (src & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return DFDG_BUSY;
    case SQLITE_NOMEM:
        return DFDG_NOMEM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return DFDG_CORRUPT;
    default:
        return DFDG_IO;
    }
}

/* Translates src, keeps SQLite's message as the handle's error detail and returns the code. */
static dfdg_err
fail(struct sq_store *q, int src, const char *what)
{
    return dfdg_store_set_error(&q->base, translate(src), "sqlite: %s: %s", what,
                                sqlite3_errmsg(q->db));
}

/* The cached statement for id, or a private copy while the cached one is still stepping. */
static dfdg_err
stmt_get(struct sq_store *q, enum stmt_id id, sqlite3_stmt **out /* OUT */)
{
    sqlite3_stmt *st = q->stmt[id];
    if (!sqlite3_stmt_busy(st)) {
        *out = st;
        return DFDG_OK;
    }
    int src = sqlite3_prepare_v2(q->db, stmt_sql[id], -1, out, NULL);
    if (src != SQLITE_OK) {
        *out = NULL;
        return fail(q, src, "prepare");
    }
    return DFDG_OK;
}

static void
stmt_put(struct sq_store *q, enum stmt_id id, sqlite3_stmt *st)
{
    if (st == NULL)
        return;
    if (st != q->stmt[id]) {
        sqlite3_finalize(st);
        return;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Positional binding that remembers the first failure, so a run of binds is checked once. */
struct binder {
    sqlite3_stmt *st; /* the statement being bound */
    int i;            /* the last index bound */
    int err;          /* first SQLite error, or SQLITE_OK */
};

static void
b_note(struct binder *b, int src)
{
    if (src != SQLITE_OK && b->err == SQLITE_OK)
        b->err = src;
}

static void
b_null(struct binder *b)
{
    b_note(b, sqlite3_bind_null(b->st, ++b->i));
}

static void
b_text(struct binder *b, const char *v)
{
    b_note(b, sqlite3_bind_text(b->st, ++b->i, v, -1, SQLITE_STATIC));
}

/* "" and NULL are stored as NULL. */
static void
b_text_or_null(struct binder *b, const char *v)
{
    if (v == NULL || v[0] == '\0')
        b_null(b);
    else
        b_text(b, v);
}

static void
b_int64(struct binder *b, int64_t v)
{
    b_note(b, sqlite3_bind_int64(b->st, ++b->i, v));
}

/* DFDG_DATE_NONE (an open end) is stored as NULL. */
static void
b_date(struct binder *b, int32_t day)
{
    if (day == DFDG_DATE_NONE)
        b_null(b);
    else
        b_int64(b, day);
}

static void
b_blob(struct binder *b, const void *v, size_t len)
{
    /* A zero-length blob with a NULL pointer would bind SQL NULL; bind an empty blob. */
    if (len == 0)
        b_note(b, sqlite3_bind_zeroblob(b->st, ++b->i, 0));
    else
        b_note(b, sqlite3_bind_blob64(b->st, ++b->i, v, (sqlite3_uint64)len, SQLITE_STATIC));
}

static dfdg_err
b_check(struct sq_store *q, const struct binder *b, const char *what)
{
    return b->err == SQLITE_OK ? DFDG_OK : fail(q, b->err, what);
}

/* Steps a statement that returns no row. */
static dfdg_err
step_done(struct sq_store *q, sqlite3_stmt *st, const char *what)
{
    int src = sqlite3_step(st);
    if (src == SQLITE_DONE || src == SQLITE_ROW)
        return DFDG_OK;
    return fail(q, src, what);
}

/* Runs a cached statement without parameters or result rows. */
static dfdg_err
run(struct sq_store *q, enum stmt_id id, const char *what)
{
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, id, &st);
    if (rc != DFDG_OK)
        return rc;
    rc = step_done(q, st, what);
    stmt_put(q, id, st);
    return rc;
}

/* Runs a statement with a single int64 result; DFDG_NOT_FOUND when it returns no row. */
static dfdg_err
step_int64(struct sq_store *q, sqlite3_stmt *st, const char *what, int64_t *out /* OUT */)
{
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        return DFDG_OK;
    }
    if (src == SQLITE_DONE)
        return DFDG_NOT_FOUND;
    return fail(q, src, what);
}

/* Copies a text column into a fixed buffer; false when it does not fit (a corrupt store). */
static bool
col_copy(sqlite3_stmt *st, int col, char *dst, size_t size)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    if (t == NULL) {
        dst[0] = '\0';
        return sqlite3_column_type(st, col) == SQLITE_NULL;
    }
    return dfdg_strlcpy(dst, (const char *)t, size);
}

/* A day-number column; NULL is an open end (DFDG_DATE_NONE). */
static bool
col_date(sqlite3_stmt *st, int col, int32_t *day /* OUT */)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL) {
        *day = DFDG_DATE_NONE;
        return true;
    }
    int64_t v = sqlite3_column_int64(st, col);
    if (v < INT32_MIN || v >= INT32_MAX)
        return false;
    *day = (int32_t)v;
    return true;
}

static dfdg_err
corrupt(struct sq_store *q, const char *what)
{
    return dfdg_store_set_error(&q->base, DFDG_CORRUPT, "sqlite: %s holds a value out of range",
                                what);
}

static int64_t
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* True when buf (size bytes) holds a NUL. */
static bool
is_terminated(const char *buf, size_t size)
{
    return memchr(buf, '\0', size) != NULL;
}

static bool
is_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
    }
    return s[n] == '\0';
}

/* Makes room for one more element; returns the (maybe moved) array or NULL, arr untouched. */
static void *
grow(void *arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return arr;
    size_t ncap = *cap != 0 ? *cap * 2 : 4;
    if (ncap > SIZE_MAX / elem)
        return NULL;
    void *p = realloc(arr, ncap * elem);
    if (p != NULL)
        *cap = ncap;
    return p;
}

/* --- open, migrations, close -------------------------------------------------------------- */

/* Runs SQL text with no results (PRAGMAs, migrations, savepoints). */
static dfdg_err
exec_sql(struct sq_store *q, const char *sql, const char *what)
{
    int src = sqlite3_exec(q->db, sql, NULL, NULL, NULL);
    return src == SQLITE_OK ? DFDG_OK : fail(q, src, what);
}

/* One int64 from SQL text (open-time queries, before the statement cache exists). */
static dfdg_err
query_int64(struct sq_store *q, const char *sql, const char *what, int64_t *out /* OUT */)
{
    sqlite3_stmt *st;
    int src = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL);
    if (src != SQLITE_OK)
        return fail(q, src, what);
    dfdg_err rc = step_int64(q, st, what, out);
    sqlite3_finalize(st);
    return rc;
}

/* The schema version in the store: 0 for a new, empty store. */
static dfdg_err
read_version(struct sq_store *q, int64_t *version /* OUT */)
{
    int64_t has = 0;
    dfdg_err rc = query_int64(q,
                              "SELECT count(*) FROM sqlite_master"
                              " WHERE type = 'table' AND name = 'schema_version'",
                              "reading the schema", &has);
    if (rc != DFDG_OK)
        return rc;
    if (has == 0) {
        *version = 0;
        return DFDG_OK;
    }
    int64_t rows = 0;
    rc = query_int64(q, "SELECT count(*) FROM schema_version", "reading the schema version", &rows);
    if (rc != DFDG_OK)
        return rc;
    if (rows == 0) {
        *version = 0;
        return DFDG_OK;
    }
    if (rows != 1)
        return dfdg_store_set_error(&q->base, DFDG_CORRUPT,
                                    "sqlite: schema_version holds %lld rows, not one",
                                    (long long)rows);
    return query_int64(q, "SELECT version FROM schema_version", "reading the schema version",
                       version);
}

/*
 * Brings the schema to DFDG_STORE_SCHEMA_VERSION. The common case (already current) takes no
 * write lock, so reader connections open without waiting for the writer.
 */
static dfdg_err
migrate(struct sq_store *q)
{
    int64_t version;
    dfdg_err rc = read_version(q, &version);
    if (rc != DFDG_OK)
        return rc;
    if (version == DFDG_STORE_SCHEMA_VERSION)
        return DFDG_OK;

    rc = exec_sql(q, "BEGIN IMMEDIATE", "starting the migration");
    if (rc != DFDG_OK)
        return rc;
    /* Read again under the write lock: another process may have migrated meanwhile. */
    rc = read_version(q, &version);
    if (rc != DFDG_OK)
        goto rollback;
    if (version > DFDG_STORE_SCHEMA_VERSION || version < 0) {
        rc = dfdg_store_set_error(&q->base, DFDG_CORRUPT,
                                  "sqlite: the store has schema version %lld, newer than this "
                                  "dfdg knows (%d); use a newer dfdg",
                                  (long long)version, DFDG_STORE_SCHEMA_VERSION);
        goto rollback;
    }
    rc = exec_sql(q, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)",
                  "creating schema_version");
    if (rc != DFDG_OK)
        goto rollback;
    for (int64_t v = version; v < DFDG_STORE_SCHEMA_VERSION; v++) {
        rc = exec_sql(q, dfdg_sqlite_migrations[v], "migrating the schema");
        if (rc != DFDG_OK)
            goto rollback;
    }
    char sql[128];
    snprintf(sql, sizeof sql, "DELETE FROM schema_version; INSERT INTO schema_version VALUES(%d)",
             DFDG_STORE_SCHEMA_VERSION);
    rc = exec_sql(q, sql, "recording the schema version");
    if (rc != DFDG_OK)
        goto rollback;
    rc = exec_sql(q, "COMMIT", "committing the migration");
    if (rc != DFDG_OK)
        goto rollback;
    return DFDG_OK;

rollback:
    sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static dfdg_err
configure(struct sq_store *q)
{
    sqlite3_extended_result_codes(q->db, 1);
    int src = sqlite3_busy_timeout(q->db, BUSY_TIMEOUT_MS);
    if (src != SQLITE_OK)
        return fail(q, src, "setting the busy timeout");

    /* journal_mode answers with the mode in force; anything but "wal" is a failure. */
    sqlite3_stmt *st;
    src = sqlite3_prepare_v2(q->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    if (src != SQLITE_OK)
        return fail(q, src, "setting WAL mode");
    src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        dfdg_err rc = fail(q, src, "setting WAL mode");
        sqlite3_finalize(st);
        return rc;
    }
    const unsigned char *mode = sqlite3_column_text(st, 0);
    bool wal = mode != NULL && strcmp((const char *)mode, "wal") == 0;
    sqlite3_finalize(st);
    if (!wal)
        return dfdg_store_set_error(&q->base, DFDG_IO, "sqlite: the store cannot use WAL mode");

    /*
     * synchronous=FULL: a commit is on disk before it is acknowledged (DESIGN section 6). The
     * 64 MiB page cache (allocated as used) keeps a group-commit batch from spilling to the
     * WAL half-way: about a third more inserts per second than the 2 MiB default.
     */
    return exec_sql(q, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536",
                    "setting pragmas");
}

static dfdg_err
prepare_all(struct sq_store *q)
{
    for (size_t i = 0; i < ST__COUNT; i++) {
        int src = sqlite3_prepare_v3(q->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->stmt[i],
                                     NULL);
        if (src != SQLITE_OK)
            return fail(q, src, "preparing statements");
    }
    return DFDG_OK;
}

static void
sq_close(struct dfdg_store *s)
{
    struct sq_store *q = sq(s);
    for (size_t i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(q->stmt[i]);
    sqlite3_close_v2(q->db);
    free(q);
}

/* Removes a store file this open created, with its WAL and shared-memory files. */
static void
remove_created(const char *path)
{
    unlink(path);
    size_t n = strlen(path) + 5;
    char *side = malloc(n);
    if (side == NULL)
        return;
    snprintf(side, n, "%s-wal", path);
    unlink(side);
    snprintf(side, n, "%s-shm", path);
    unlink(side);
    free(side);
}

dfdg_err
dfdg_store_sqlite_open(const char *path, enum dfdg_store_mode mode,
                       struct dfdg_store **out /* OUT */, struct dfdg_errinfo *ei)
{
    dfdg_err rc;
    bool created = false;
    *out = NULL;

    if (mode == DFDG_STORE_CREATE) {
        /* O_EXCL makes "create, but never over an existing store" race-free. */
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            if (errno == EEXIST)
                return dfdg_errinfo_set(ei, DFDG_CONFLICT, "a store already exists at %s", path);
            return dfdg_errinfo_set(ei, DFDG_IO, "cannot create a store at %s: %s", path,
                                    strerror(errno));
        }
        close(fd);
        created = true;
    } else {
        struct stat sb;
        if (stat(path, &sb) != 0) {
            if (errno == ENOENT)
                return dfdg_errinfo_set(ei, DFDG_NOT_FOUND, "no store at %s", path);
            return dfdg_errinfo_set(ei, DFDG_IO, "cannot open the store at %s: %s", path,
                                    strerror(errno));
        }
    }

    struct sq_store *q = calloc(1, sizeof *q);
    if (q == NULL) {
        rc = dfdg_errinfo_set(ei, DFDG_NOMEM, "out of memory opening the store");
        goto remove_file;
    }
    q->base.vt = &sqlite_vt;

    /* No SQLITE_OPEN_CREATE: OPEN must not conjure an empty store out of a typo. */
    int src = sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (src != SQLITE_OK) {
        rc = q->db != NULL ? fail(q, src, "opening") : DFDG_NOMEM;
        if ((src & 0xff) == SQLITE_CANTOPEN && !created)
            rc = DFDG_NOT_FOUND;
        dfdg_errinfo_set(ei, rc, "cannot open the store at %s: %s", path,
                         q->db != NULL ? sqlite3_errmsg(q->db) : "out of memory");
        goto close_db;
    }
    rc = configure(q);
    if (rc == DFDG_OK)
        rc = migrate(q);
    if (rc == DFDG_OK)
        rc = prepare_all(q);
    if (rc != DFDG_OK) {
        dfdg_errinfo_set(ei, rc, "%s (%s)", q->base.errmsg, path);
        goto close_db;
    }
    *out = &q->base;
    return DFDG_OK;

close_db:
    sq_close(&q->base);
remove_file:
    if (created)
        remove_created(path);
    return rc;
}

/* --- transactions ------------------------------------------------------------------------- */

static dfdg_err
sq_begin(struct dfdg_store *s)
{
    return run(sq(s), ST_BEGIN, "begin");
}

static dfdg_err
sq_commit(struct dfdg_store *s)
{
    return run(sq(s), ST_COMMIT, "commit");
}

static dfdg_err
sq_rollback(struct dfdg_store *s)
{
    struct sq_store *q = sq(s);
    /* Rolling back nothing is fine: cleanup paths need not know how far they got. */
    if (sqlite3_get_autocommit(q->db))
        return DFDG_OK;
    return run(q, ST_ROLLBACK, "rollback");
}

/* name was checked by store.c: [a-z0-9_]{1,63}, safe to paste into SQL. */
static dfdg_err
savepoint_exec(struct sq_store *q, const char *verb, const char *name)
{
    char sql[128];
    snprintf(sql, sizeof sql, "%s %s", verb, name);
    return exec_sql(q, sql, verb);
}

static dfdg_err
sq_savepoint(struct dfdg_store *s, const char *name)
{
    return savepoint_exec(sq(s), "SAVEPOINT", name);
}

static dfdg_err
sq_release(struct dfdg_store *s, const char *name)
{
    return savepoint_exec(sq(s), "RELEASE SAVEPOINT", name);
}

static dfdg_err
sq_rollback_to(struct dfdg_store *s, const char *name)
{
    return savepoint_exec(sq(s), "ROLLBACK TO SAVEPOINT", name);
}

/* --- meta, orgs, issuers ------------------------------------------------------------------ */

static dfdg_err
sq_meta_put(struct dfdg_store *s, const char *key, const void *val, size_t len)
{
    struct sq_store *q = sq(s);
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_META_PUT, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_text(&b, key);
    b_blob(&b, val, len);
    rc = b_check(q, &b, "meta_put");
    if (rc == DFDG_OK)
        rc = step_done(q, st, "meta_put");
    stmt_put(q, ST_META_PUT, st);
    return rc;
}

static dfdg_err
sq_meta_get(struct dfdg_store *s, const char *key, void *buf, size_t *len)
{
    struct sq_store *q = sq(s);
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_META_GET, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_text(&b, key);
    rc = b_check(q, &b, "meta_get");
    if (rc != DFDG_OK)
        goto reset;
    int src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        rc = DFDG_NOT_FOUND;
        goto reset;
    }
    if (src != SQLITE_ROW) {
        rc = fail(q, src, "meta_get");
        goto reset;
    }
    const void *v = sqlite3_column_blob(st, 0);
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    if (n > *len) {
        *len = n;
        rc = dfdg_store_set_error(s, DFDG_TOO_LARGE, "meta value needs %zu bytes", n);
        goto reset;
    }
    if (n > 0)
        memcpy(buf, v, n);
    *len = n;
reset:
    stmt_put(q, ST_META_GET, st);
    return rc;
}

static dfdg_err
sq_org_put(struct dfdg_store *s, const struct dfdg_org *org)
{
    struct sq_store *q = sq(s);
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_ORG_PUT, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_text(&b, org->id);
    b_text(&b, org->kind);
    b_text(&b, org->name);
    rc = b_check(q, &b, "org_put");
    if (rc == DFDG_OK)
        rc = step_done(q, st, "org_put");
    stmt_put(q, ST_ORG_PUT, st);
    return rc;
}

static dfdg_err
sq_org_get(struct dfdg_store *s, const char *id, struct dfdg_org *out /* OUT */)
{
    struct sq_store *q = sq(s);
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_ORG_GET, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_text(&b, id);
    rc = b_check(q, &b, "org_get");
    if (rc != DFDG_OK)
        goto reset;
    int src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        rc = DFDG_NOT_FOUND;
    } else if (src != SQLITE_ROW) {
        rc = fail(q, src, "org_get");
    } else {
        memset(out, 0, sizeof *out);
        if (!col_copy(st, 0, out->id, sizeof out->id) ||
            !col_copy(st, 1, out->kind, sizeof out->kind) ||
            !col_copy(st, 2, out->name, sizeof out->name))
            rc = corrupt(q, "org");
    }
reset:
    stmt_put(q, ST_ORG_GET, st);
    return rc;
}

static dfdg_err
sq_issuer_put(struct dfdg_store *s, const char *iss, const uint8_t pk[32])
{
    struct sq_store *q = sq(s);
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_ISSUER_PUT, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_text(&b, iss);
    b_blob(&b, pk, 32);
    rc = b_check(q, &b, "issuer_put");
    if (rc == DFDG_OK)
        rc = step_done(q, st, "issuer_put");
    stmt_put(q, ST_ISSUER_PUT, st);
    return rc;
}

static dfdg_err
sq_issuer_get(struct dfdg_store *s, const char *iss, uint8_t pk[32] /* OUT */)
{
    struct sq_store *q = sq(s);
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_ISSUER_GET, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_text(&b, iss);
    rc = b_check(q, &b, "issuer_get");
    if (rc != DFDG_OK)
        goto reset;
    int src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        rc = DFDG_NOT_FOUND;
    } else if (src != SQLITE_ROW) {
        rc = fail(q, src, "issuer_get");
    } else {
        const void *v = sqlite3_column_blob(st, 0);
        if (v == NULL || sqlite3_column_bytes(st, 0) != 32)
            rc = corrupt(q, "issuer");
        else
            memcpy(pk, v, 32);
    }
reset:
    stmt_put(q, ST_ISSUER_GET, st);
    return rc;
}

/* Reads one row of a list into elem; false when the row is malformed. */
typedef bool (*row_fn)(sqlite3_stmt *st, void *elem);

/* Runs statement id and collects every row into a malloc'ed array of elem_size elements. */
static dfdg_err
list_rows(struct sq_store *q, enum stmt_id id, size_t elem_size, row_fn read, const char *what,
          void **out /* OUT */, size_t *n /* OUT */)
{
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, id, &st);
    if (rc != DFDG_OK)
        return rc;
    char *list = NULL;
    size_t cap = 0, count = 0;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        void *np = grow(list, &cap, count, elem_size);
        if (np == NULL) {
            rc = DFDG_NOMEM;
            goto free_list;
        }
        list = np;
        void *elem = list + count * elem_size;
        memset(elem, 0, elem_size);
        if (!read(st, elem)) {
            rc = corrupt(q, what);
            goto free_list;
        }
        count++;
    }
    if (src != SQLITE_DONE) {
        rc = fail(q, src, what);
        goto free_list;
    }
    stmt_put(q, id, st);
    *out = list;
    *n = count;
    return DFDG_OK;

free_list:
    stmt_put(q, id, st);
    free(list);
    return rc;
}

static bool
org_row(sqlite3_stmt *st, void *elem)
{
    struct dfdg_org *o = elem;
    return col_copy(st, 0, o->id, sizeof o->id) && col_copy(st, 1, o->kind, sizeof o->kind) &&
           col_copy(st, 2, o->name, sizeof o->name);
}

static dfdg_err
sq_org_list(struct dfdg_store *s, struct dfdg_org **out /* OUT */, size_t *n /* OUT */)
{
    return list_rows(sq(s), ST_ORG_LIST, sizeof **out, org_row, "org_list", (void **)out, n);
}

static bool
issuer_row(sqlite3_stmt *st, void *elem)
{
    struct dfdg_issuer *is = elem;
    const void *pk = sqlite3_column_blob(st, 1);
    if (!col_copy(st, 0, is->iss, sizeof is->iss) || pk == NULL ||
        sqlite3_column_bytes(st, 1) != (int)sizeof is->public_key)
        return false;
    memcpy(is->public_key, pk, sizeof is->public_key);
    return true;
}

static dfdg_err
sq_issuer_list(struct dfdg_store *s, struct dfdg_issuer **out /* OUT */, size_t *n /* OUT */)
{
    return list_rows(sq(s), ST_ISSUER_LIST, sizeof **out, issuer_row, "issuer_list", (void **)out,
                     n);
}

/* --- persons ------------------------------------------------------------------------------ */

static bool
period_is_valid(int32_t from, int32_t to)
{
    return from != DFDG_DATE_NONE && (to == DFDG_DATE_NONE || to >= from);
}

/* Checks p before anything is written; messages never repeat a CPR number. */
static dfdg_err
person_check(struct sq_store *q, const struct dfdg_person *p)
{
    struct dfdg_store *s = &q->base;
    if (!is_digits(p->cpr, 10))
        return dfdg_store_set_error(s, DFDG_INVAL, "person: the CPR number is not 10 digits");
    if (p->nprevious > 0 && p->previous == NULL)
        return dfdg_store_set_error(s, DFDG_INVAL, "person: previous numbers missing");
    for (size_t i = 0; i < p->nprevious; i++) {
        if (!is_digits(p->previous[i], 10))
            return dfdg_store_set_error(s, DFDG_INVAL,
                                        "person: previous CPR number %zu is not 10 digits", i);
    }
    if (!is_terminated(p->sex, sizeof p->sex) || !is_terminated(p->status, sizeof p->status) ||
        !is_terminated(p->first, sizeof p->first) || !is_terminated(p->middle, sizeof p->middle) ||
        !is_terminated(p->last, sizeof p->last))
        return dfdg_store_set_error(s, DFDG_INVAL, "person: a name field is not terminated");
    if ((p->naddresses > 0 && p->addresses == NULL) ||
        (p->nprotection > 0 && p->protection == NULL) || (p->nchildren > 0 && p->children == NULL))
        return dfdg_store_set_error(s, DFDG_INVAL, "person: a list is missing its items");
    for (size_t i = 0; i < p->naddresses; i++) {
        const struct dfdg_address *a = &p->addresses[i];
        if (!is_digits(a->kommunekode, 3))
            return dfdg_store_set_error(s, DFDG_INVAL,
                                        "person: address %zu: kommunekode is not 3 digits", i);
        if (!is_terminated(a->road, sizeof a->road) || !is_terminated(a->house, sizeof a->house) ||
            !is_terminated(a->postcode, sizeof a->postcode) ||
            !is_terminated(a->city, sizeof a->city))
            return dfdg_store_set_error(s, DFDG_INVAL,
                                        "person: address %zu: a field is not terminated", i);
        if (!period_is_valid(a->from, a->to))
            return dfdg_store_set_error(s, DFDG_INVAL, "person: address %zu ends before it starts",
                                        i);
    }
    for (size_t i = 0; i < p->nprotection; i++) {
        if (!period_is_valid(p->protection[i].from, p->protection[i].to))
            return dfdg_store_set_error(s, DFDG_INVAL,
                                        "person: address protection %zu ends before it starts", i);
    }
    return DFDG_OK;
}

/* The person a CPR number resolves to, or 0. */
static dfdg_err
cpr_lookup(struct sq_store *q, const char *cpr, int64_t *person_id /* OUT */)
{
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_CPR_RESOLVE, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_text(&b, cpr);
    rc = b_check(q, &b, "resolving a CPR number");
    if (rc == DFDG_OK) {
        rc = step_int64(q, st, "resolving a CPR number", person_id);
        if (rc == DFDG_NOT_FOUND) {
            *person_id = 0;
            rc = DFDG_OK;
        }
    }
    stmt_put(q, ST_CPR_RESOLVE, st);
    return rc;
}

/* Folds one number's person into *found; DFDG_CONFLICT when it is another person. */
static dfdg_err
resolve_one(struct sq_store *q, const char *cpr, int64_t *found)
{
    int64_t id;
    dfdg_err rc = cpr_lookup(q, cpr, &id);
    if (rc != DFDG_OK || id == 0)
        return rc;
    if (*found != 0 && *found != id)
        return dfdg_store_set_error(&q->base, DFDG_CONFLICT,
                                    "person: the CPR numbers given belong to two different "
                                    "persons (%lld and %lld)",
                                    (long long)*found, (long long)id);
    *found = id;
    return DFDG_OK;
}

static dfdg_err
person_row(struct sq_store *q, const struct dfdg_person *p, int64_t existing, int64_t *id)
{
    enum stmt_id sid = existing != 0 ? ST_PERSON_UPDATE : ST_PERSON_INSERT;
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, sid, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_text(&b, p->cpr);
    b_date(&b, p->birthdate);
    b_text_or_null(&b, p->sex);
    b_text_or_null(&b, p->status);
    b_text(&b, p->first);
    b_text(&b, p->middle);
    b_text(&b, p->last);
    b_int64(&b, now_us());
    if (existing != 0)
        b_int64(&b, existing);
    rc = b_check(q, &b, "person");
    if (rc == DFDG_OK)
        rc = step_done(q, st, "writing the person");
    if (rc == DFDG_OK)
        *id = existing != 0 ? existing : sqlite3_last_insert_rowid(q->db);
    stmt_put(q, sid, st);
    return rc;
}

/* Runs one of the "WHERE person_id = ?1" deletes. */
static dfdg_err
delete_for(struct sq_store *q, enum stmt_id sid, int64_t person_id)
{
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, sid, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_int64(&b, person_id);
    rc = b_check(q, &b, "replacing master data");
    if (rc == DFDG_OK)
        rc = step_done(q, st, "replacing master data");
    stmt_put(q, sid, st);
    return rc;
}

static dfdg_err
insert_details(struct sq_store *q, const struct dfdg_person *p, int64_t id)
{
    dfdg_err rc = DFDG_OK;
    sqlite3_stmt *st;
    for (size_t i = 0; i < p->naddresses && rc == DFDG_OK; i++) {
        const struct dfdg_address *a = &p->addresses[i];
        rc = stmt_get(q, ST_ADDR_INSERT, &st);
        if (rc != DFDG_OK)
            return rc;
        struct binder b = {st, 0, SQLITE_OK};
        b_int64(&b, id);
        b_text(&b, a->kommunekode);
        b_text(&b, a->road);
        b_text(&b, a->house);
        b_text(&b, a->postcode);
        b_text(&b, a->city);
        b_date(&b, a->from);
        b_date(&b, a->to);
        rc = b_check(q, &b, "address");
        if (rc == DFDG_OK)
            rc = step_done(q, st, "writing an address");
        stmt_put(q, ST_ADDR_INSERT, st);
    }
    for (size_t i = 0; i < p->nprotection && rc == DFDG_OK; i++) {
        rc = stmt_get(q, ST_PROT_INSERT, &st);
        if (rc != DFDG_OK)
            return rc;
        struct binder b = {st, 0, SQLITE_OK};
        b_int64(&b, id);
        b_date(&b, p->protection[i].from);
        b_date(&b, p->protection[i].to);
        rc = b_check(q, &b, "address protection");
        if (rc == DFDG_OK)
            rc = step_done(q, st, "writing address protection");
        stmt_put(q, ST_PROT_INSERT, st);
    }
    for (size_t i = 0; i < p->nchildren && rc == DFDG_OK; i++) {
        rc = stmt_get(q, ST_CHILD_INSERT, &st);
        if (rc != DFDG_OK)
            return rc;
        struct binder b = {st, 0, SQLITE_OK};
        b_int64(&b, id);
        b_int64(&b, p->children[i]);
        rc = b_check(q, &b, "child");
        if (rc == DFDG_OK)
            rc = step_done(q, st, "writing a child");
        stmt_put(q, ST_CHILD_INSERT, st);
    }
    return rc;
}

static dfdg_err
cpr_map(struct sq_store *q, const char *cpr, int64_t id)
{
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_CPR_MAP, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_text(&b, cpr);
    b_int64(&b, id);
    rc = b_check(q, &b, "CPR number");
    if (rc == DFDG_OK)
        rc = step_done(q, st, "mapping a CPR number");
    stmt_put(q, ST_CPR_MAP, st);
    return rc;
}

/* The body of person_put, inside a transaction or savepoint. */
static dfdg_err
person_write(struct sq_store *q, const struct dfdg_person *p, int64_t *id /* OUT */)
{
    int64_t found = 0;
    dfdg_err rc = resolve_one(q, p->cpr, &found);
    for (size_t i = 0; i < p->nprevious && rc == DFDG_OK; i++)
        rc = resolve_one(q, p->previous[i], &found);
    if (rc != DFDG_OK)
        return rc;

    rc = person_row(q, p, found, id);
    if (rc != DFDG_OK)
        return rc;
    /* Master data from CPR is replaced as a whole; records are never touched here. */
    if (found != 0) {
        rc = delete_for(q, ST_ADDR_DELETE, found);
        if (rc == DFDG_OK)
            rc = delete_for(q, ST_PROT_DELETE, found);
        if (rc == DFDG_OK)
            rc = delete_for(q, ST_CHILD_DELETE, found);
        if (rc != DFDG_OK)
            return rc;
    }
    rc = insert_details(q, p, *id);
    if (rc != DFDG_OK)
        return rc;
    rc = cpr_map(q, p->cpr, *id);
    for (size_t i = 0; i < p->nprevious && rc == DFDG_OK; i++)
        rc = cpr_map(q, p->previous[i], *id);
    return rc;
}

static dfdg_err
sq_person_put(struct dfdg_store *s, struct dfdg_person *p)
{
    struct sq_store *q = sq(s);
    dfdg_err rc = person_check(q, p);
    if (rc != DFDG_OK)
        return rc;

    /* Our own transaction only when the caller has none open; else a savepoint in theirs. */
    bool own = sqlite3_get_autocommit(q->db) != 0;
    rc = run(q, own ? ST_BEGIN : ST_SP_PERSON, "person_put");
    if (rc != DFDG_OK)
        return rc;
    int64_t id = 0;
    rc = person_write(q, p, &id);
    if (rc == DFDG_OK)
        rc = run(q, own ? ST_COMMIT : ST_RELEASE_PERSON, "person_put");
    if (rc != DFDG_OK)
        goto undo;
    p->person_id = id;
    return DFDG_OK;

undo:
    /* Keep the first error's detail: the undo steps must not overwrite it. */
    {
        char keep[sizeof q->base.errmsg];
        memcpy(keep, q->base.errmsg, sizeof keep);
        if (own) {
            run(q, ST_ROLLBACK, "person_put");
        } else {
            run(q, ST_ROLLBACK_TO_PERSON, "person_put");
            run(q, ST_RELEASE_PERSON, "person_put");
        }
        memcpy(q->base.errmsg, keep, sizeof keep);
    }
    return rc;
}

static dfdg_err
sq_person_resolve(struct dfdg_store *s, const char *cpr, int64_t *person_id /* OUT */)
{
    int64_t id = 0;
    dfdg_err rc = cpr_lookup(sq(s), cpr, &id);
    if (rc != DFDG_OK)
        return rc;
    if (id == 0)
        return DFDG_NOT_FOUND;
    *person_id = id;
    return DFDG_OK;
}

/* Binds ?1 = person_id (and ?2 = text when given) to a list statement. */
static dfdg_err
list_open(struct sq_store *q, enum stmt_id sid, int64_t person_id, const char *text,
          sqlite3_stmt **st /* OUT */)
{
    dfdg_err rc = stmt_get(q, sid, st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {*st, 0, SQLITE_OK};
    b_int64(&b, person_id);
    if (text != NULL)
        b_text(&b, text);
    rc = b_check(q, &b, "person_get");
    if (rc != DFDG_OK) {
        stmt_put(q, sid, *st);
        *st = NULL;
    }
    return rc;
}

static dfdg_err
load_previous(struct sq_store *q, int64_t person_id, struct dfdg_person *out)
{
    sqlite3_stmt *st;
    dfdg_err rc = list_open(q, ST_PERSON_CPRS, person_id, out->cpr, &st);
    if (rc != DFDG_OK)
        return rc;
    size_t cap = 0;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        void *np = grow(out->previous, &cap, out->nprevious, sizeof *out->previous);
        if (np == NULL) {
            rc = DFDG_NOMEM;
            goto reset;
        }
        out->previous = np;
        if (!col_copy(st, 0, out->previous[out->nprevious], DFDG_CPR_LEN)) {
            rc = corrupt(q, "person_cpr");
            goto reset;
        }
        out->nprevious++;
    }
    if (src != SQLITE_DONE)
        rc = fail(q, src, "person_get");
reset:
    stmt_put(q, ST_PERSON_CPRS, st);
    return rc;
}

static dfdg_err
load_addresses(struct sq_store *q, int64_t person_id, struct dfdg_person *out)
{
    sqlite3_stmt *st;
    dfdg_err rc = list_open(q, ST_ADDR_LIST, person_id, NULL, &st);
    if (rc != DFDG_OK)
        return rc;
    size_t cap = 0;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        void *np = grow(out->addresses, &cap, out->naddresses, sizeof *out->addresses);
        if (np == NULL) {
            rc = DFDG_NOMEM;
            goto reset;
        }
        out->addresses = np;
        struct dfdg_address *a = &out->addresses[out->naddresses];
        memset(a, 0, sizeof *a);
        if (!col_copy(st, 0, a->kommunekode, sizeof a->kommunekode) ||
            !col_copy(st, 1, a->road, sizeof a->road) ||
            !col_copy(st, 2, a->house, sizeof a->house) ||
            !col_copy(st, 3, a->postcode, sizeof a->postcode) ||
            !col_copy(st, 4, a->city, sizeof a->city) || !col_date(st, 5, &a->from) ||
            !col_date(st, 6, &a->to)) {
            rc = corrupt(q, "person_address");
            goto reset;
        }
        out->naddresses++;
    }
    if (src != SQLITE_DONE)
        rc = fail(q, src, "person_get");
reset:
    stmt_put(q, ST_ADDR_LIST, st);
    return rc;
}

static dfdg_err
load_protection(struct sq_store *q, int64_t person_id, struct dfdg_person *out)
{
    sqlite3_stmt *st;
    dfdg_err rc = list_open(q, ST_PROT_LIST, person_id, NULL, &st);
    if (rc != DFDG_OK)
        return rc;
    size_t cap = 0;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        void *np = grow(out->protection, &cap, out->nprotection, sizeof *out->protection);
        if (np == NULL) {
            rc = DFDG_NOMEM;
            goto reset;
        }
        out->protection = np;
        struct dfdg_period *pp = &out->protection[out->nprotection];
        if (!col_date(st, 0, &pp->from) || !col_date(st, 1, &pp->to)) {
            rc = corrupt(q, "person_protection");
            goto reset;
        }
        out->nprotection++;
    }
    if (src != SQLITE_DONE)
        rc = fail(q, src, "person_get");
reset:
    stmt_put(q, ST_PROT_LIST, st);
    return rc;
}

static dfdg_err
load_children(struct sq_store *q, int64_t person_id, struct dfdg_person *out)
{
    sqlite3_stmt *st;
    dfdg_err rc = list_open(q, ST_CHILD_LIST, person_id, NULL, &st);
    if (rc != DFDG_OK)
        return rc;
    size_t cap = 0;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        void *np = grow(out->children, &cap, out->nchildren, sizeof *out->children);
        if (np == NULL) {
            rc = DFDG_NOMEM;
            goto reset;
        }
        out->children = np;
        if (!col_date(st, 0, &out->children[out->nchildren])) {
            rc = corrupt(q, "person_child");
            goto reset;
        }
        out->nchildren++;
    }
    if (src != SQLITE_DONE)
        rc = fail(q, src, "person_get");
reset:
    stmt_put(q, ST_CHILD_LIST, st);
    return rc;
}

static dfdg_err
sq_person_get(struct dfdg_store *s, int64_t person_id, struct dfdg_person *out /* OUT */)
{
    struct sq_store *q = sq(s);
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st;
    dfdg_err rc = list_open(q, ST_PERSON_GET, person_id, NULL, &st);
    if (rc != DFDG_OK)
        return rc;
    int src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        rc = DFDG_NOT_FOUND;
    } else if (src != SQLITE_ROW) {
        rc = fail(q, src, "person_get");
    } else {
        out->person_id = person_id;
        if (!col_copy(st, 0, out->cpr, sizeof out->cpr) || !col_date(st, 1, &out->birthdate) ||
            !col_copy(st, 2, out->sex, sizeof out->sex) ||
            !col_copy(st, 3, out->status, sizeof out->status) ||
            !col_copy(st, 4, out->first, sizeof out->first) ||
            !col_copy(st, 5, out->middle, sizeof out->middle) ||
            !col_copy(st, 6, out->last, sizeof out->last))
            rc = corrupt(q, "person");
    }
    stmt_put(q, ST_PERSON_GET, st);
    if (rc == DFDG_OK)
        rc = load_previous(q, person_id, out);
    if (rc == DFDG_OK)
        rc = load_addresses(q, person_id, out);
    if (rc == DFDG_OK)
        rc = load_protection(q, person_id, out);
    if (rc == DFDG_OK)
        rc = load_children(q, person_id, out);
    if (rc != DFDG_OK)
        dfdg_person_cleanup(out);
    return rc;
}

static dfdg_err
sq_residence_on(struct dfdg_store *s, int64_t person_id, int32_t day, char kommunekode[4] /* OUT */)
{
    struct sq_store *q = sq(s);
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_RESIDENCE_ON, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_int64(&b, person_id);
    b_int64(&b, day);
    rc = b_check(q, &b, "residence_on");
    if (rc != DFDG_OK)
        goto reset;
    int src = sqlite3_step(st);
    if (src == SQLITE_DONE)
        rc = DFDG_NOT_FOUND;
    else if (src != SQLITE_ROW)
        rc = fail(q, src, "residence_on");
    else if (!col_copy(st, 0, kommunekode, 4))
        rc = corrupt(q, "person_address");
reset:
    stmt_put(q, ST_RESIDENCE_ON, st);
    return rc;
}

/* Runs an EXISTS(...) statement whose parameters are already bound. */
static dfdg_err
step_bool(struct sq_store *q, sqlite3_stmt *st, const char *what, bool *out /* OUT */)
{
    int64_t v = 0;
    dfdg_err rc = step_int64(q, st, what, &v);
    if (rc == DFDG_OK)
        *out = v != 0;
    return rc;
}

static dfdg_err
sq_is_protected_on(struct dfdg_store *s, int64_t person_id, int32_t day, bool *out /* OUT */)
{
    struct sq_store *q = sq(s);
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_PROTECTED_ON, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_int64(&b, person_id);
    b_int64(&b, day);
    rc = b_check(q, &b, "is_protected_on");
    if (rc == DFDG_OK)
        rc = step_bool(q, st, "is_protected_on", out);
    stmt_put(q, ST_PROTECTED_ON, st);
    return rc;
}

static dfdg_err
sq_is_member_on(struct dfdg_store *s, int64_t person_id, const char *akasse_id, int32_t day,
                bool *out /* OUT */)
{
    struct sq_store *q = sq(s);
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_MEMBER_ON, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_int64(&b, person_id);
    b_text(&b, akasse_id);
    b_int64(&b, day);
    rc = b_check(q, &b, "is_member_on");
    if (rc == DFDG_OK)
        rc = step_bool(q, st, "is_member_on", out);
    stmt_put(q, ST_MEMBER_ON, st);
    return rc;
}

/* --- records ------------------------------------------------------------------------------ */

static dfdg_err
record_check(struct sq_store *q, const struct dfdg_record *r)
{
    struct dfdg_store *s = &q->base;
    if (!is_terminated(r->id, sizeof r->id) || r->id[0] == '\0' ||
        !is_terminated(r->type, sizeof r->type) || r->type[0] == '\0' ||
        !is_terminated(r->cvr, sizeof r->cvr) || !is_terminated(r->reporter, sizeof r->reporter) ||
        !is_terminated(r->owner, sizeof r->owner) || r->reporter[0] == '\0' ||
        !is_terminated(r->source_ref, sizeof r->source_ref) || r->source_ref[0] == '\0' ||
        !is_terminated(r->target_id, sizeof r->target_id))
        return dfdg_store_set_error(s, DFDG_INVAL,
                                    "record: a required field is empty or "
                                    "not terminated");
    if (r->kind != DFDG_RECORD_ORIGINAL && r->kind != DFDG_RECORD_CORRECTION &&
        r->kind != DFDG_RECORD_CANCELLATION)
        return dfdg_store_set_error(s, DFDG_INVAL, "record: unknown kind %d", (int)r->kind);
    if ((r->kind == DFDG_RECORD_ORIGINAL) != (r->target_id[0] == '\0'))
        return dfdg_store_set_error(s, DFDG_INVAL,
                                    "record: corrections and cancellations (and only they) "
                                    "name a target");
    if (r->person_id < 0 || r->data == NULL)
        return dfdg_store_set_error(s, DFDG_INVAL, "record: bad subject or no data");
    if (!period_is_valid(r->valid_from, r->valid_to))
        return dfdg_store_set_error(s, DFDG_INVAL, "record: valid_to is before valid_from");
    return DFDG_OK;
}

static dfdg_err
sq_record_insert(struct dfdg_store *s, struct dfdg_record *r)
{
    struct sq_store *q = sq(s);
    if (sqlite3_get_autocommit(q->db))
        return dfdg_store_set_error(s, DFDG_INTERNAL,
                                    "record_insert outside a transaction (call begin first)");
    dfdg_err rc = record_check(q, r);
    if (rc != DFDG_OK)
        return rc;
    sqlite3_stmt *st;
    rc = stmt_get(q, ST_RECORD_INSERT, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_text(&b, r->id);
    b_text(&b, r->type);
    if (r->person_id != 0)
        b_int64(&b, r->person_id);
    else
        b_null(&b);
    b_text_or_null(&b, r->cvr);
    b_text(&b, r->reporter);
    b_text(&b, r->source_ref);
    b_date(&b, r->valid_from);
    b_date(&b, r->valid_to);
    b_int64(&b, r->recorded_at);
    b_int64(&b, (int64_t)r->kind);
    b_text_or_null(&b, r->target_id);
    b_blob(&b, r->content_hash, sizeof r->content_hash);
    b_text(&b, r->data);
    if (r->reason != NULL)
        b_text(&b, r->reason);
    else
        b_null(&b);
    b_text(&b, r->owner[0] != '\0' ? r->owner : r->reporter);
    rc = b_check(q, &b, "record_insert");
    if (rc == DFDG_OK)
        rc = step_done(q, st, "record_insert");
    if (rc == DFDG_OK)
        r->seq = sqlite3_last_insert_rowid(q->db);
    stmt_put(q, ST_RECORD_INSERT, st);
    return rc;
}

/*
 * Fills out from a row of RECORD_COLS. With copy, data and reason are the caller's (malloc);
 * without, they point into the statement and are valid until it steps again.
 */
static dfdg_err
row_to_record(struct sq_store *q, sqlite3_stmt *st, bool copy, struct dfdg_record *out /* OUT */)
{
    memset(out, 0, sizeof *out);
    out->seq = sqlite3_column_int64(st, 0);
    out->person_id = sqlite3_column_int64(st, 3);
    out->recorded_at = sqlite3_column_int64(st, 9);
    int64_t kind = sqlite3_column_int64(st, 10);
    if (!col_copy(st, 1, out->id, sizeof out->id) ||
        !col_copy(st, 2, out->type, sizeof out->type) ||
        !col_copy(st, 4, out->cvr, sizeof out->cvr) ||
        !col_copy(st, 5, out->reporter, sizeof out->reporter) ||
        !col_copy(st, 6, out->source_ref, sizeof out->source_ref) ||
        !col_date(st, 7, &out->valid_from) || !col_date(st, 8, &out->valid_to) ||
        !col_copy(st, 11, out->target_id, sizeof out->target_id) ||
        !col_copy(st, 15, out->owner, sizeof out->owner) || kind < 0 || kind > 2)
        return corrupt(q, "record");
    out->kind = (enum dfdg_record_kind)kind;
    const void *hash = sqlite3_column_blob(st, 12);
    if (hash == NULL || sqlite3_column_bytes(st, 12) != (int)sizeof out->content_hash)
        return corrupt(q, "record.content_hash");
    memcpy(out->content_hash, hash, sizeof out->content_hash);

    const char *data = (const char *)sqlite3_column_text(st, 13);
    size_t ndata = (size_t)sqlite3_column_bytes(st, 13);
    const char *reason = (const char *)sqlite3_column_text(st, 14);
    size_t nreason = (size_t)sqlite3_column_bytes(st, 14);
    if (data == NULL)
        return corrupt(q, "record.data");
    if (!copy) {
        out->data = (char *)data;
        out->reason = (char *)reason;
        return DFDG_OK;
    }
    out->data = malloc(ndata + 1);
    if (out->data == NULL)
        return DFDG_NOMEM;
    memcpy(out->data, data, ndata + 1);
    if (reason != NULL) {
        out->reason = malloc(nreason + 1);
        if (out->reason == NULL) {
            dfdg_record_cleanup(out);
            return DFDG_NOMEM;
        }
        memcpy(out->reason, reason, nreason + 1);
    }
    return DFDG_OK;
}

/* Runs a bound single-record statement and copies its row into out. */
static dfdg_err
record_one(struct sq_store *q, enum stmt_id sid, sqlite3_stmt *st, struct binder *b,
           const char *what, struct dfdg_record *out /* OUT */)
{
    dfdg_err rc = b_check(q, b, what);
    if (rc == DFDG_OK) {
        int src = sqlite3_step(st);
        if (src == SQLITE_DONE)
            rc = DFDG_NOT_FOUND;
        else if (src != SQLITE_ROW)
            rc = fail(q, src, what);
        else
            rc = row_to_record(q, st, true, out);
    }
    stmt_put(q, sid, st);
    if (rc != DFDG_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

static dfdg_err
sq_record_get(struct dfdg_store *s, const char *id, struct dfdg_record *out /* OUT */)
{
    struct sq_store *q = sq(s);
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_RECORD_GET, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_text(&b, id);
    return record_one(q, ST_RECORD_GET, st, &b, "record_get", out);
}

static dfdg_err
sq_record_by_source(struct dfdg_store *s, const char *reporter, const char *source_ref,
                    struct dfdg_record *out /* OUT */)
{
    struct sq_store *q = sq(s);
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_RECORD_BY_SOURCE, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_text(&b, reporter);
    b_text(&b, source_ref);
    return record_one(q, ST_RECORD_BY_SOURCE, st, &b, "record_by_source", out);
}

static dfdg_err
sq_record_successor(struct dfdg_store *s, const char *id, int64_t as_of,
                    struct dfdg_record *out /* OUT */)
{
    struct sq_store *q = sq(s);
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_RECORD_SUCCESSOR, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_text(&b, id);
    b_int64(&b, as_of);
    return record_one(q, ST_RECORD_SUCCESSOR, st, &b, "record_successor", out);
}

/* Runs a cached statement without parameters that returns one int64. */
static dfdg_err
scalar(struct sq_store *q, enum stmt_id sid, const char *what, int64_t *out /* OUT */)
{
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, sid, &st);
    if (rc != DFDG_OK)
        return rc;
    rc = step_int64(q, st, what, out);
    stmt_put(q, sid, st);
    return rc;
}

static dfdg_err
sq_last_recorded_at(struct dfdg_store *s, int64_t *out /* OUT */)
{
    return scalar(sq(s), ST_LAST_RECORDED_AT, "last_recorded_at", out);
}

static dfdg_err
sq_records_query(struct dfdg_store *s, const struct dfdg_record_query *qr, dfdg_record_cb cb,
                 void *ctx)
{
    struct sq_store *q = sq(s);
    bool by_type = qr->type != NULL;
    bool by_valid = qr->valid_on != DFDG_DATE_NONE;
    enum stmt_id sid = by_type ? (by_valid ? ST_QUERY_TYPE_VALID : ST_QUERY_TYPE)
                               : (by_valid ? ST_QUERY_VALID : ST_QUERY);
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, sid, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_int64(&b, qr->person_id);
    b_int64(&b, qr->as_of);
    if (by_type) {
        b_text(&b, qr->type);
    } else {
        b.i++; /* ?3 is absent from this statement */
    }
    if (by_valid) {
        b_int64(&b, qr->valid_on);
    } else {
        b.i++;
    }
    b_int64(&b, qr->limit == 0 || qr->limit > INT64_MAX ? -1 : (int64_t)qr->limit);
    rc = b_check(q, &b, "records_query");
    if (rc != DFDG_OK)
        goto reset;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        struct dfdg_record r;
        rc = row_to_record(q, st, false, &r);
        if (rc != DFDG_OK)
            goto reset;
        if (!cb(&r, ctx)) {
            src = SQLITE_DONE;
            break;
        }
    }
    if (src != SQLITE_DONE)
        rc = fail(q, src, "records_query");
reset:
    stmt_put(q, sid, st);
    return rc;
}

static dfdg_err
sq_count_records(struct dfdg_store *s, int64_t *out /* OUT */)
{
    return scalar(sq(s), ST_COUNT_RECORDS, "count_records", out);
}

static dfdg_err
sq_count_persons(struct dfdg_store *s, int64_t *out /* OUT */)
{
    return scalar(sq(s), ST_COUNT_PERSONS, "count_persons", out);
}

/* --- relationships derived from records ---------------------------------------------------- */

static dfdg_err
sq_members_on(struct dfdg_store *s, int64_t person_id, int32_t day, dfdg_org_cb cb, void *ctx)
{
    struct sq_store *q = sq(s);
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_MEMBERS_ON, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_int64(&b, person_id);
    b_int64(&b, day);
    rc = b_check(q, &b, "members_on");
    if (rc != DFDG_OK)
        goto reset;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *owner = (const char *)sqlite3_column_text(st, 0);
        if (owner == NULL) {
            rc = corrupt(q, "record.owner");
            goto reset;
        }
        if (!cb(owner, ctx)) {
            src = SQLITE_DONE;
            break;
        }
    }
    if (src != SQLITE_DONE)
        rc = fail(q, src, "members_on");
reset:
    stmt_put(q, ST_MEMBERS_ON, st);
    return rc;
}

/* --- deliveries and disclosures ------------------------------------------------------------- */

static dfdg_err
sq_delivery_insert(struct dfdg_store *s, struct dfdg_delivery *d)
{
    struct sq_store *q = sq(s);
    if (sqlite3_get_autocommit(q->db))
        return dfdg_store_set_error(s, DFDG_INTERNAL,
                                    "delivery_insert outside a transaction (call begin first)");
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_DELIVERY_INSERT, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_text(&b, d->org_id);
    b_text(&b, d->record_id);
    b_text(&b, d->reason);
    b_int64(&b, d->created_at);
    rc = b_check(q, &b, "delivery_insert");
    if (rc == DFDG_OK)
        rc = step_done(q, st, "delivery_insert");
    if (rc == DFDG_OK)
        d->seq = sqlite3_last_insert_rowid(q->db);
    stmt_put(q, ST_DELIVERY_INSERT, st);
    return rc;
}

/* Fills d, r (borrowing data and reason from st) and *cpr from a row of DELIVERY_HEAD. */
static dfdg_err
delivery_row(struct sq_store *q, sqlite3_stmt *st, struct dfdg_delivery *d /* OUT */,
             struct dfdg_record *r /* OUT */, const char **cpr /* OUT */)
{
    dfdg_err rc = row_to_record(q, st, false, r);
    if (rc != DFDG_OK)
        return rc;
    /* A company record has no person: its CPR number is "". */
    const unsigned char *c = sqlite3_column_text(st, DELIVERY_COL_CPR);
    *cpr = c != NULL ? (const char *)c : "";
    memset(d, 0, sizeof *d);
    d->seq = sqlite3_column_int64(st, DELIVERY_COL_CPR + 1);
    d->created_at = sqlite3_column_int64(st, DELIVERY_COL_CPR + 5);
    if (!col_copy(st, DELIVERY_COL_CPR + 2, d->org_id, sizeof d->org_id) ||
        !col_copy(st, DELIVERY_COL_CPR + 3, d->record_id, sizeof d->record_id) ||
        !col_copy(st, DELIVERY_COL_CPR + 4, d->reason, sizeof d->reason))
        return corrupt(q, "delivery");
    return DFDG_OK;
}

/* Steps a bound DELIVERY_HEAD statement, calling cb per row, and puts the statement back. */
static dfdg_err
deliveries_run(struct sq_store *q, enum stmt_id sid, sqlite3_stmt *st, const struct binder *b,
               const char *what, dfdg_delivery_cb cb, void *ctx)
{
    dfdg_err rc = b_check(q, b, what);
    if (rc != DFDG_OK)
        goto reset;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        struct dfdg_delivery d;
        struct dfdg_record r;
        const char *cpr;
        rc = delivery_row(q, st, &d, &r, &cpr);
        if (rc != DFDG_OK)
            goto reset;
        if (!cb(&d, &r, cpr, ctx)) {
            src = SQLITE_DONE;
            break;
        }
    }
    if (src != SQLITE_DONE)
        rc = fail(q, src, what);
reset:
    stmt_put(q, sid, st);
    return rc;
}

static dfdg_err
sq_feed(struct dfdg_store *s, const char *org_id, int64_t after, size_t limit, dfdg_delivery_cb cb,
        void *ctx)
{
    struct sq_store *q = sq(s);
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_FEED, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_text(&b, org_id);
    b_int64(&b, after);
    b_int64(&b, limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit);
    return deliveries_run(q, ST_FEED, st, &b, "feed", cb, ctx);
}

static dfdg_err
sq_deliveries_of(struct dfdg_store *s, const char *record_id, dfdg_delivery_cb cb, void *ctx)
{
    struct sq_store *q = sq(s);
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_DELIVERIES_OF, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_text(&b, record_id);
    return deliveries_run(q, ST_DELIVERIES_OF, st, &b, "deliveries_of", cb, ctx);
}

static dfdg_err
sq_last_delivery_seq(struct dfdg_store *s, int64_t *out /* OUT */)
{
    return scalar(sq(s), ST_LAST_DELIVERY_SEQ, "last_delivery_seq", out);
}

static dfdg_err
sq_disclosure_insert(struct dfdg_store *s, struct dfdg_disclosure *d)
{
    struct sq_store *q = sq(s);
    if (sqlite3_get_autocommit(q->db))
        return dfdg_store_set_error(s, DFDG_INTERNAL,
                                    "disclosure_insert outside a transaction (call begin first)");
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_DISCLOSURE_INSERT, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_int64(&b, d->at);
    b_text(&b, d->org_id);
    b_text(&b, d->sub);
    if (d->person_id != 0)
        b_int64(&b, d->person_id);
    else
        b_null(&b);
    b_text_or_null(&b, d->record_id);
    b_text_or_null(&b, d->type);
    b_text(&b, d->purpose);
    b_text(&b, d->legal_basis);
    b_text(&b, d->channel);
    rc = b_check(q, &b, "disclosure_insert");
    if (rc == DFDG_OK)
        rc = step_done(q, st, "disclosure_insert");
    if (rc == DFDG_OK)
        d->seq = sqlite3_last_insert_rowid(q->db);
    stmt_put(q, ST_DISCLOSURE_INSERT, st);
    return rc;
}

static dfdg_err
sq_count_disclosures(struct dfdg_store *s, int64_t *out /* OUT */)
{
    return scalar(sq(s), ST_COUNT_DISCLOSURES, "count_disclosures", out);
}

/* --- the audit log -------------------------------------------------------------------------- */

static dfdg_err
sq_audit_append(struct dfdg_store *s, int64_t idx, int64_t at, const char *entry, size_t len,
                const int64_t *persons, size_t npersons)
{
    struct sq_store *q = sq(s);
    if (sqlite3_get_autocommit(q->db))
        return dfdg_store_set_error(s, DFDG_INTERNAL,
                                    "audit_append outside a transaction (call begin first)");
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_AUDIT_APPEND, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_int64(&b, idx);
    b_int64(&b, at);
    b_blob(&b, entry, len);
    rc = b_check(q, &b, "audit_append");
    if (rc == DFDG_OK)
        rc = step_done(q, st, "audit_append");
    stmt_put(q, ST_AUDIT_APPEND, st);
    if (rc != DFDG_OK || npersons == 0)
        return rc;

    /*
     * A failure from here on leaves the entry without all its persons: like every failed write
     * in a transaction, the caller rolls back. The statement stays bound to idx; only the person
     * changes per row.
     */
    rc = stmt_get(q, ST_AUDIT_SUBJECT, &st);
    if (rc != DFDG_OK)
        return rc;
    b = (struct binder){st, 1, SQLITE_OK};
    b_int64(&b, idx);
    rc = b_check(q, &b, "audit_append (persons)");
    for (size_t i = 0; i < npersons && rc == DFDG_OK; i++) {
        /* 0 is "no person" (company data); an adjacent repeat costs no statement. */
        if (persons[i] == 0 || (i > 0 && persons[i] == persons[i - 1]))
            continue;
        int src = sqlite3_bind_int64(st, 1, persons[i]);
        if (src != SQLITE_OK) {
            rc = fail(q, src, "audit_append (persons)");
            break;
        }
        rc = step_done(q, st, "audit_append (persons)");
        sqlite3_reset(st);
    }
    stmt_put(q, ST_AUDIT_SUBJECT, st);
    return rc;
}

static dfdg_err
sq_audit_node_put(struct dfdg_store *s, unsigned level, int64_t index, const uint8_t hash[32])
{
    struct sq_store *q = sq(s);
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_AUDIT_NODE_PUT, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_int64(&b, (int64_t)level);
    b_int64(&b, index);
    b_blob(&b, hash, 32);
    rc = b_check(q, &b, "audit_node_put");
    if (rc == DFDG_OK)
        rc = step_done(q, st, "audit_node_put");
    stmt_put(q, ST_AUDIT_NODE_PUT, st);
    return rc;
}

static dfdg_err
sq_audit_node_get(struct dfdg_store *s, unsigned level, int64_t index, uint8_t hash[32] /* OUT */)
{
    struct sq_store *q = sq(s);
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_AUDIT_NODE_GET, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_int64(&b, (int64_t)level);
    b_int64(&b, index);
    rc = b_check(q, &b, "audit_node_get");
    if (rc != DFDG_OK)
        goto reset;
    int src = sqlite3_step(st);
    if (src == SQLITE_DONE) {
        rc = dfdg_store_set_error(s, DFDG_NOT_FOUND, "no audit node at level %u, index %lld", level,
                                  (long long)index);
    } else if (src != SQLITE_ROW) {
        rc = fail(q, src, "audit_node_get");
    } else {
        const void *v = sqlite3_column_blob(st, 0);
        if (v == NULL || sqlite3_column_bytes(st, 0) != 32)
            rc = corrupt(q, "audit_node.hash");
        else
            memcpy(hash, v, 32);
    }
reset:
    stmt_put(q, ST_AUDIT_NODE_GET, st);
    return rc;
}

static dfdg_err
sq_audit_size(struct dfdg_store *s, int64_t *out /* OUT */)
{
    return scalar(sq(s), ST_AUDIT_SIZE, "audit_size", out);
}

/*
 * Steps a bound statement whose rows are (idx, at, entry), calling cb per row with the entry
 * borrowed from the statement, and puts the statement back. Rows stream: nothing is collected,
 * so a scan of millions of entries holds one row at a time.
 */
static dfdg_err
audit_entries_run(struct sq_store *q, enum stmt_id sid, sqlite3_stmt *st, const struct binder *b,
                  const char *what, dfdg_audit_entry_cb cb, void *ctx)
{
    dfdg_err rc = b_check(q, b, what);
    if (rc != DFDG_OK)
        goto reset;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t idx = sqlite3_column_int64(st, 0);
        int64_t at = sqlite3_column_int64(st, 1);
        /* Blob before bytes (SQLite's advice); an empty blob comes back as a NULL pointer. */
        const char *entry = sqlite3_column_blob(st, 2);
        size_t len = (size_t)sqlite3_column_bytes(st, 2);
        if (sqlite3_column_type(st, 2) == SQLITE_NULL) {
            rc = dfdg_store_set_error(&q->base, DFDG_CORRUPT,
                                      "sqlite: audit entry %lld has no bytes", (long long)idx);
            goto reset;
        }
        if (!cb(idx, at, entry != NULL ? entry : "", len, ctx)) {
            src = SQLITE_DONE;
            break;
        }
    }
    if (src != SQLITE_DONE)
        rc = fail(q, src, what);
reset:
    stmt_put(q, sid, st);
    return rc;
}

static dfdg_err
sq_audit_scan(struct dfdg_store *s, int64_t from, dfdg_audit_entry_cb cb, void *ctx)
{
    struct sq_store *q = sq(s);
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_AUDIT_SCAN, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_int64(&b, from);
    return audit_entries_run(q, ST_AUDIT_SCAN, st, &b, "audit_scan", cb, ctx);
}

static dfdg_err
sq_audit_of_person(struct dfdg_store *s, int64_t person_id, int64_t before, size_t limit,
                   dfdg_audit_entry_cb cb, void *ctx)
{
    struct sq_store *q = sq(s);
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_AUDIT_OF_PERSON, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_int64(&b, person_id);
    b_int64(&b, before);
    b_int64(&b, limit == 0 || limit > INT64_MAX ? -1 : (int64_t)limit);
    return audit_entries_run(q, ST_AUDIT_OF_PERSON, st, &b, "audit_of_person", cb, ctx);
}

static dfdg_err
sq_sth_put(struct dfdg_store *s, const struct dfdg_sth *h)
{
    struct sq_store *q = sq(s);
    if (sqlite3_get_autocommit(q->db))
        return dfdg_store_set_error(s, DFDG_INTERNAL,
                                    "sth_put outside a transaction (call begin first)");
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_STH_PUT, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_int64(&b, h->size);
    b_int64(&b, h->at);
    b_blob(&b, h->root, sizeof h->root);
    b_blob(&b, h->sig, sizeof h->sig);
    rc = b_check(q, &b, "sth_put");
    if (rc == DFDG_OK)
        rc = step_done(q, st, "sth_put");
    stmt_put(q, ST_STH_PUT, st);
    return rc;
}

/* Fills out from a row of (size, at, root, sig). */
static dfdg_err
sth_row(struct sq_store *q, sqlite3_stmt *st, struct dfdg_sth *out /* OUT */)
{
    memset(out, 0, sizeof *out);
    out->size = sqlite3_column_int64(st, 0);
    out->at = sqlite3_column_int64(st, 1);
    const void *root = sqlite3_column_blob(st, 2);
    if (root == NULL || sqlite3_column_bytes(st, 2) != (int)sizeof out->root)
        return corrupt(q, "audit_sth.root");
    memcpy(out->root, root, sizeof out->root);
    const void *sig = sqlite3_column_blob(st, 3);
    if (sig == NULL || sqlite3_column_bytes(st, 3) != (int)sizeof out->sig)
        return corrupt(q, "audit_sth.sig");
    memcpy(out->sig, sig, sizeof out->sig);
    return DFDG_OK;
}

static dfdg_err
sq_sth_latest(struct dfdg_store *s, struct dfdg_sth *out /* OUT */)
{
    struct sq_store *q = sq(s);
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_STH_LATEST, &st);
    if (rc != DFDG_OK)
        return rc;
    int src = sqlite3_step(st);
    if (src == SQLITE_DONE)
        rc = dfdg_store_set_error(s, DFDG_NOT_FOUND, "no signed tree head yet");
    else if (src != SQLITE_ROW)
        rc = fail(q, src, "sth_latest");
    else
        rc = sth_row(q, st, out);
    stmt_put(q, ST_STH_LATEST, st);
    if (rc != DFDG_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

static dfdg_err
sq_sth_scan(struct dfdg_store *s, dfdg_sth_cb cb, void *ctx)
{
    struct sq_store *q = sq(s);
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, ST_STH_SCAN, &st);
    if (rc != DFDG_OK)
        return rc;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        struct dfdg_sth h;
        rc = sth_row(q, st, &h);
        if (rc != DFDG_OK)
            goto reset;
        if (!cb(&h, ctx)) {
            src = SQLITE_DONE;
            break;
        }
    }
    if (src != SQLITE_DONE)
        rc = fail(q, src, "sth_scan");
reset:
    stmt_put(q, ST_STH_SCAN, st);
    return rc;
}

/* --- retention -------------------------------------------------------------------------------- */

#define US_PER_DAY INT64_C(86400000000)
/* No chain is this long; a longer walk means the links loop (a corrupt store). */
#define CHAIN_MAX 100000

/* The day (UTC) of an instant, rounding down for instants before the epoch. */
static int32_t
day_of_us(int64_t us)
{
    int64_t d = us / US_PER_DAY;
    if (us % US_PER_DAY < 0)
        d--;
    return (int32_t)d;
}

/* Runs one phase of a scan of ended chains from *cur; *more is false when the phase ran out. */
static dfdg_err
ended_phase(struct sq_store *q, const char *type, int32_t before, struct dfdg_chain_cursor *cur,
            dfdg_chain_end_cb cb, void *ctx, bool *more /* OUT */)
{
    enum stmt_id sid = cur->phase == 0 ? ST_ENDED_VALID : ST_ENDED_CANCEL;
    *more = false;
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, sid, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_text(&b, type);
    b_int64(&b, cur->phase == 0 ? (int64_t)before : (int64_t)before * US_PER_DAY);
    /* Every real row sorts after (INT64_MIN, INT64_MIN): seq is at least 1. */
    b_int64(&b, cur->begun ? cur->key : INT64_MIN);
    b_int64(&b, cur->begun ? cur->seq : INT64_MIN);
    rc = b_check(q, &b, "chains_ended");
    if (rc != DFDG_OK)
        goto reset;
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        struct dfdg_chain_end c;
        memset(&c, 0, sizeof c);
        int64_t seq = sqlite3_column_int64(st, 0);
        int64_t key = sqlite3_column_int64(st, 3);
        c.person_id = sqlite3_column_int64(st, 2);
        c.cancelled = cur->phase == 1;
        if (!col_copy(st, 1, c.last_id, sizeof c.last_id)) {
            rc = corrupt(q, "record.id");
            goto reset;
        }
        if (c.cancelled) {
            c.end = day_of_us(key);
        } else if (!col_date(st, 4, &c.end) || c.end == DFDG_DATE_NONE) {
            rc = corrupt(q, "record.valid_to");
            goto reset;
        }
        cur->key = key;
        cur->seq = seq;
        cur->begun = true;
        if (!cb(&c, ctx)) {
            *more = true;
            src = SQLITE_DONE;
            break;
        }
    }
    if (src != SQLITE_DONE)
        rc = fail(q, src, "chains_ended");
reset:
    stmt_put(q, sid, st);
    return rc;
}

static dfdg_err
sq_chains_ended(struct dfdg_store *s, const char *type, int32_t before,
                struct dfdg_chain_cursor *cur, dfdg_chain_end_cb cb, void *ctx)
{
    struct sq_store *q = sq(s);
    while (cur->phase < 2) {
        bool more;
        dfdg_err rc = ended_phase(q, type, before, cur, cb, ctx, &more);
        if (rc != DFDG_OK || more)
            return rc;
        cur->phase++;
        cur->begun = false;
        cur->key = 0;
        cur->seq = 0;
    }
    return DFDG_OK;
}

/* Runs a cached statement bound to one text parameter that returns one or two int64s. */
static dfdg_err
scalar_text(struct sq_store *q, enum stmt_id sid, const char *arg, const char *what,
            int64_t *a /* OUT */, int64_t *b2 /* OUT */)
{
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, sid, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_text(&b, arg);
    rc = b_check(q, &b, what);
    if (rc == DFDG_OK)
        rc = step_int64(q, st, what, a);
    if (rc == DFDG_OK && b2 != NULL)
        *b2 = sqlite3_column_int64(st, 1);
    stmt_put(q, sid, st);
    return rc;
}

/* Runs a cached statement bound to one text parameter; *changes is the rows it changed. */
static dfdg_err
exec_text(struct sq_store *q, enum stmt_id sid, const char *arg, const char *what,
          int64_t *changes /* OUT */)
{
    sqlite3_stmt *st;
    dfdg_err rc = stmt_get(q, sid, &st);
    if (rc != DFDG_OK)
        return rc;
    struct binder b = {st, 0, SQLITE_OK};
    b_text(&b, arg);
    rc = b_check(q, &b, what);
    if (rc == DFDG_OK)
        rc = step_done(q, st, what);
    if (rc == DFDG_OK)
        *changes = sqlite3_changes64(q->db);
    stmt_put(q, sid, st);
    return rc;
}

static void
chain_free(struct dfdg_record *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dfdg_record_cleanup(&v[i]);
    free(v);
}

/* Loads the chain ending at last_id, newest first: *v (caller frees with chain_free), *n. */
static dfdg_err
chain_load(struct sq_store *q, const char *last_id, struct dfdg_record **v /* OUT */,
           size_t *n /* OUT */)
{
    struct dfdg_record *arr = NULL;
    size_t cap = 0, len = 0;
    dfdg_err rc = DFDG_OK;
    char id[DFDG_UUID_LEN]; /* a copy: growing arr may move the target_id it came from */
    if (!dfdg_strlcpy(id, last_id, sizeof id))
        return dfdg_store_set_error(&q->base, DFDG_NOT_FOUND, "no record with that id");
    for (;;) {
        if (len >= CHAIN_MAX) {
            rc = dfdg_store_set_error(&q->base, DFDG_CORRUPT,
                                      "sqlite: the chain of record %s does not end", last_id);
            break;
        }
        struct dfdg_record *grown = grow(arr, &cap, len, sizeof *arr);
        if (grown == NULL) {
            rc = DFDG_NOMEM;
            break;
        }
        arr = grown;
        rc = sq_record_get(&q->base, id, &arr[len]);
        if (rc == DFDG_NOT_FOUND && len > 0)
            rc = dfdg_store_set_error(&q->base, DFDG_CORRUPT,
                                      "sqlite: record %s names a target that is not there",
                                      arr[len - 1].id);
        if (rc != DFDG_OK)
            break;
        len++;
        if (arr[len - 1].target_id[0] == '\0')
            break;
        dfdg_strlcpy(id, arr[len - 1].target_id, sizeof id);
    }
    if (rc != DFDG_OK) {
        chain_free(arr, len);
        return rc;
    }
    *v = arr;
    *n = len;
    return DFDG_OK;
}

/* Deletes the versions v[0..n) and their deliveries; the caller holds the savepoint. */
static dfdg_err
chain_remove(struct sq_store *q, const struct dfdg_record *v, size_t n)
{
    dfdg_err rc = run(q, ST_RETENTION_ON, "chain_delete (permission)");
    for (size_t i = 0; i < n && rc == DFDG_OK; i++) {
        int64_t changes = 0;
        rc = exec_text(q, ST_DELIVERY_DELETE, v[i].id, "chain_delete (deliveries)", &changes);
        if (rc == DFDG_OK)
            rc = exec_text(q, ST_RECORD_DELETE, v[i].id, "chain_delete (record)", &changes);
        if (rc == DFDG_OK && changes != 1)
            rc =
                dfdg_store_set_error(&q->base, DFDG_CORRUPT,
                                     "sqlite: record %s went while its chain was deleted", v[i].id);
    }
    if (rc == DFDG_OK)
        rc = run(q, ST_RETENTION_OFF, "chain_delete (permission)");
    return rc;
}

static dfdg_err
sq_chain_delete(struct dfdg_store *s, const char *last_id, bool dry_run, dfdg_record_cb cb,
                void *ctx, struct dfdg_chain_deleted *out /* OUT */)
{
    struct sq_store *q = sq(s);
    if (!dry_run && sqlite3_get_autocommit(q->db))
        return dfdg_store_set_error(s, DFDG_INTERNAL,
                                    "chain_delete outside a transaction (call begin first)");
    int64_t has = 0;
    dfdg_err rc = scalar_text(q, ST_HAS_SUCCESSOR, last_id, "chain_delete", &has, NULL);
    if (rc != DFDG_OK)
        return rc;
    if (has != 0)
        return dfdg_store_set_error(s, DFDG_CONFLICT,
                                    "record %s is not the last version of its chain", last_id);
    struct dfdg_record *v = NULL;
    size_t n = 0;
    rc = chain_load(q, last_id, &v, &n);
    if (rc != DFDG_OK)
        return rc;

    int64_t max_record = 0, max_delivery = 0;
    rc = scalar(q, ST_MAX_RECORD_SEQ, "chain_delete", &max_record);
    if (rc == DFDG_OK)
        rc = scalar(q, ST_LAST_DELIVERY_SEQ, "chain_delete", &max_delivery);
    for (size_t i = 0; i < n && rc == DFDG_OK; i++) {
        int64_t count = 0, newest = 0;
        rc = scalar_text(q, ST_DELIVERIES_COUNT, v[i].id, "chain_delete (deliveries)", &count,
                         &newest);
        out->deliveries += (size_t)count;
        if (v[i].seq == max_record || (count > 0 && newest == max_delivery))
            out->held = true;
    }
    if (rc != DFDG_OK)
        goto free_chain;
    out->records = n;
    if (out->held)
        goto free_chain;
    if (cb != NULL) {
        for (size_t i = 0; i < n; i++)
            (void)cb(&v[i], ctx);
    }
    if (dry_run)
        goto free_chain;

    rc = run(q, ST_SP_CHAIN, "chain_delete (savepoint)");
    if (rc != DFDG_OK)
        goto free_chain;
    rc = chain_remove(q, v, n);
    if (rc != DFDG_OK) {
        /* Undo the part deleted, the permission row included, and keep the first error. */
        char keep[sizeof s->errmsg];
        dfdg_strlcpy(keep, s->errmsg, sizeof keep);
        dfdg_err rc2 = run(q, ST_ROLLBACK_TO_CHAIN, "chain_delete (rollback)");
        DFDG_ASSERT(rc2 == DFDG_OK);
        dfdg_strlcpy(s->errmsg, keep, sizeof s->errmsg);
    }
    dfdg_err rc3 = run(q, ST_RELEASE_CHAIN, "chain_delete (release)");
    if (rc == DFDG_OK)
        rc = rc3;
free_chain:
    chain_free(v, n);
    return rc;
}

static const struct dfdg_store_vt sqlite_vt = {
    .name = "sqlite",
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .savepoint = sq_savepoint,
    .release = sq_release,
    .rollback_to = sq_rollback_to,
    .meta_put = sq_meta_put,
    .meta_get = sq_meta_get,
    .org_put = sq_org_put,
    .org_get = sq_org_get,
    .issuer_put = sq_issuer_put,
    .issuer_get = sq_issuer_get,
    .org_list = sq_org_list,
    .issuer_list = sq_issuer_list,
    .person_put = sq_person_put,
    .person_resolve = sq_person_resolve,
    .person_get = sq_person_get,
    .residence_on = sq_residence_on,
    .is_protected_on = sq_is_protected_on,
    .is_member_on = sq_is_member_on,
    .record_insert = sq_record_insert,
    .record_get = sq_record_get,
    .record_by_source = sq_record_by_source,
    .record_successor = sq_record_successor,
    .last_recorded_at = sq_last_recorded_at,
    .records_query = sq_records_query,
    .count_records = sq_count_records,
    .count_persons = sq_count_persons,
    .members_on = sq_members_on,
    .delivery_insert = sq_delivery_insert,
    .feed = sq_feed,
    .deliveries_of = sq_deliveries_of,
    .last_delivery_seq = sq_last_delivery_seq,
    .disclosure_insert = sq_disclosure_insert,
    .count_disclosures = sq_count_disclosures,
    .audit_append = sq_audit_append,
    .audit_node_put = sq_audit_node_put,
    .audit_node_get = sq_audit_node_get,
    .audit_size = sq_audit_size,
    .audit_scan = sq_audit_scan,
    .audit_of_person = sq_audit_of_person,
    .sth_put = sq_sth_put,
    .sth_latest = sq_sth_latest,
    .sth_scan = sq_sth_scan,
    .chains_ended = sq_chains_ended,
    .chain_delete = sq_chain_delete,
};
