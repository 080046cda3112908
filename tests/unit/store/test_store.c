/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_store.c: the store conformance suite (store.h). Every test takes a fresh store from a
 * backend's setup function, which hands out a URI; the same tests run against PostgreSQL
 * (`test_store pg`, in a dfdg built with -DDFDG_PG=ON, on the cluster DFDG_TEST_PG names). Only
 * the checks that need raw SQL (the append-only triggers, the schema version row) go through
 * backend-specific helpers; they are skipped where a backend has none.
 *
 * Covered: create/open/conflict/missing, migrations on reopen and a too-new schema, meta,
 * orgs, issuers, persons (round trip, replace, CPR change, numbers of two persons),
 * residence and address protection at period boundaries, record insert/get/by_source,
 * idempotency conflicts, correction chains and cancellations as of a transaction time,
 * valid_on and type filters, append-only triggers, a-kasse membership (one a-kasse, and every
 * a-kasse of a person on a day), deliveries and feeds (order, cursor, limit, per org, CPR
 * number, re-entrant callbacks), disclosures, the v1 -> v2 migration, rollback and savepoints,
 * the audit log (entries stored byte for byte and scanned in order, duplicate indexes, the
 * persons an entry concerns and their access log, tree nodes written once, signed tree heads,
 * no triggers in the way of a tamperer, re-entrant callbacks, the v2 -> v3 migration),
 * retention (which chains have ended before a day, deleting a chain with its deliveries while
 * disclosures stay, dry runs, the newest record or delivery held back, broken links, the v3 ->
 * v4 migration), and throughput figures (printed, not asserted).
 */
#include "core/dfdg.h"
#include "store/store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <sqlite3.h>
#ifdef DFDG_WITH_PG
#include <errno.h>
#include <libpq-fe.h>
#endif

#ifndef DFDG_TEST_TMP
#define DFDG_TEST_TMP "/tmp"
#endif

/* --- backends and fixtures ---------------------------------------------------------------- */

struct backend {
    const char *name;
    /* Writes the URI of a store that does not exist yet into uri. */
    void (*fresh_uri)(char *uri, size_t n);
    /* Removes whatever the URI names. */
    void (*destroy)(const char *uri);
    /* Runs SQL directly against the store; NULL when the backend has no raw access. */
    int (*raw_exec)(const char *uri, const char *sql, char *err, size_t nerr);
    /* Runs a query for one integer; 0 on success. NULL with raw_exec. */
    int (*raw_int64)(const char *uri, const char *sql, int64_t *out);
};

struct fixture {
    const struct backend *be; /* the backend under test */
    char uri[512];            /* the store's URI */
    struct dfdg_store *s;     /* open handle */
};

static const char *
sqlite_path(const char *uri)
{
    return strncmp(uri, "sqlite:", 7) == 0 ? uri + 7 : uri;
}

static void
sqlite_fresh_uri(char *uri, size_t n)
{
    static unsigned counter;
    snprintf(uri, n, "sqlite:%s/store_%ld_%u.db", DFDG_TEST_TMP, (long)getpid(), counter++);
    char side[600];
    const char *path = sqlite_path(uri);
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

static void
sqlite_destroy(const char *uri)
{
    char side[600];
    const char *path = sqlite_path(uri);
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

/* Opens the store file with the SQLite library itself, as a tamperer or a DBA would. */
static int
sqlite_raw_exec(const char *uri, const char *sql, char *err, size_t nerr)
{
    sqlite3 *db = NULL;
    int src = sqlite3_open_v2(sqlite_path(uri), &db, SQLITE_OPEN_READWRITE, NULL);
    if (src == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        char *msg = NULL;
        src = sqlite3_exec(db, sql, NULL, NULL, &msg);
        if (err != NULL)
            snprintf(err, nerr, "%s", msg != NULL ? msg : "");
        sqlite3_free(msg);
    }
    sqlite3_close(db);
    return src;
}

/* Runs a query returning one integer directly against the store file. */
static int
sqlite_raw_int64(const char *uri, const char *sql, int64_t *out)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int src = sqlite3_open_v2(sqlite_path(uri), &db, SQLITE_OPEN_READWRITE, NULL);
    if (src == SQLITE_OK)
        src = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (src == SQLITE_OK) {
        src = sqlite3_step(st);
        if (src == SQLITE_ROW) {
            *out = sqlite3_column_int64(st, 0);
            src = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return src;
}

static const struct backend sqlite_backend = {
    .name = "sqlite",
    .fresh_uri = sqlite_fresh_uri,
    .destroy = sqlite_destroy,
    .raw_exec = sqlite_raw_exec,
    .raw_int64 = sqlite_raw_int64,
};

static int
setup_backend(void **state, const struct backend *be)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    f->be = be;
    be->fresh_uri(f->uri, sizeof f->uri);
    struct dfdg_errinfo ei = {{0}, {0}};
    if (dfdg_store_open(f->uri, DFDG_STORE_CREATE, &f->s, &ei) != DFDG_OK) {
        fprintf(stderr, "setup: %s\n", ei.msg);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int
setup_sqlite(void **state)
{
    return setup_backend(state, &sqlite_backend);
}

#ifdef DFDG_WITH_PG
/*
 * PostgreSQL (built with -DDFDG_PG=ON, run as `test_store pg`): DFDG_TEST_PG is a libpq conninfo
 * and each store is a schema of its own in that database, "postgres:<conninfo> schema=t<pid>_<n>",
 * dropped with everything in it when the test ends. Raw SQL goes over libpq with search_path set
 * to the store's schema, as a DBA's psql session would. The few statements the tests write in
 * SQLite's dialect (the tamper tests, the migration tests' undoing of later versions) are
 * translated (pg_dialect); the tests that only mean something for SQLite are listed in
 * pg_sqlite_only with the reason, and reported as skipped.
 */
static void
pg_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* "schema does not exist, skipping" and the like */
}

/* Splits "postgres:<conninfo> schema=NAME" into its two parts; 0 on success. */
static int
pg_split(const char *uri, char *conninfo, size_t nconninfo, char *schema, size_t nschema)
{
    if (strncmp(uri, "postgres:", 9) != 0)
        return -1;
    const char *body = uri + 9;
    const char *tok = NULL;
    for (const char *p = strstr(body, " schema="); p != NULL; p = strstr(p + 1, " schema="))
        tok = p;
    if (tok == NULL || tok[8] == '\0')
        return -1;
    snprintf(conninfo, nconninfo, "%.*s", (int)(tok - body), body);
    snprintf(schema, nschema, "%s", tok + 8);
    return 0;
}

/* Runs one SQL string (several statements allowed); 0 on success, else the message in err. */
static int
pg_exec(PGconn *conn, const char *sql, char *err, size_t nerr)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (err != NULL)
        snprintf(err, nerr, "%s", ok ? "" : PQresultErrorMessage(res));
    PQclear(res);
    return ok ? 0 : 1;
}

/* Connects to the database a URI names; with search_path set to its schema when schema_too. */
static PGconn *
pg_connect(const char *uri, bool schema_too, char *schema, size_t nschema, char *err, size_t nerr)
{
    char conninfo[512];
    if (pg_split(uri, conninfo, sizeof conninfo, schema, nschema) != 0) {
        snprintf(err, nerr, "not a PostgreSQL test URI: %s", uri);
        return NULL;
    }
    PGconn *conn = PQconnectdb(conninfo);
    if (PQstatus(conn) != CONNECTION_OK) {
        snprintf(err, nerr, "%s", PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, pg_quiet, NULL);
    if (schema_too) {
        char sql[256];
        snprintf(sql, sizeof sql, "SET search_path TO \"%s\"", schema);
        if (pg_exec(conn, sql, err, nerr) != 0) {
            PQfinish(conn);
            return NULL;
        }
    }
    return conn;
}

/* Drops the URI's schema and everything in it. */
static void
pg_destroy(const char *uri)
{
    char schema[128], err[512], sql[256];
    PGconn *conn = pg_connect(uri, false, schema, sizeof schema, err, sizeof err);
    if (conn == NULL) {
        fprintf(stderr, "pg_destroy: %s\n", err);
        return;
    }
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS \"%s\" CASCADE", schema);
    if (pg_exec(conn, sql, err, sizeof err) != 0)
        fprintf(stderr, "pg_destroy: %s\n", err);
    PQfinish(conn);
}

static void
pg_fresh_uri(char *uri, size_t n)
{
    static unsigned counter;
    const char *conninfo = getenv("DFDG_TEST_PG");
    snprintf(uri, n, "postgres:%s schema=t%ld_%u", conninfo != NULL ? conninfo : "", (long)getpid(),
             counter++);
    pg_destroy(uri); /* left over from a crashed run with the same pid */
}

/*
 * The tests' SQLite-dialect statements and what a DBA or a tamperer would write in PostgreSQL
 * instead (schema_pg.h names the objects). "Switching checks off" is dropping the table's CHECK
 * constraints; undoing v4 also drops the function its triggers call, which v4 creates again.
 */
#define PG_DROP_CHECKS(table)                                                                      \
    "DO $$DECLARE c name; BEGIN FOR c IN SELECT conname FROM pg_constraint WHERE conrelid = "      \
    "'" table "'::regclass AND contype = 'c' LOOP EXECUTE format('ALTER TABLE " table              \
    " DROP CONSTRAINT %I', c); END LOOP; END$$;"
#define PG_IN_SCHEMA "relnamespace = current_schema()::regnamespace"

static const struct {
    const char *sqlite;
    const char *pg;
} pg_dialect[] = {
    {"SELECT count(*) FROM audit_entry WHERE typeof(entry) = 'blob'",
     "SELECT count(*) FROM audit_entry WHERE pg_typeof(entry) = 'bytea'::regtype"},
    {"PRAGMA ignore_check_constraints = ON;"
     " UPDATE audit_node SET hash = x'0102' WHERE level = 0 AND idx = 1",
     PG_DROP_CHECKS("audit_node") " UPDATE audit_node SET hash = '\\x0102'::bytea"
                                  " WHERE level = 0 AND idx = 1"},
    {"PRAGMA ignore_check_constraints = ON; UPDATE audit_sth SET sig = x'00' WHERE size = 7",
     PG_DROP_CHECKS("audit_sth") " UPDATE audit_sth SET sig = '\\x00'::bytea WHERE size = 7"},
    {"UPDATE audit_entry SET entry = x'00ff', at = 7 WHERE idx = 1;"
     " DELETE FROM audit_entry WHERE idx = 2; DELETE FROM audit_subject WHERE idx = 0;"
     " UPDATE audit_node SET hash = zeroblob(32); UPDATE audit_sth SET at = 1",
     "UPDATE audit_entry SET entry = '\\x00ff'::bytea, at = 7 WHERE idx = 1;"
     " DELETE FROM audit_entry WHERE idx = 2; DELETE FROM audit_subject WHERE idx = 0;"
     " UPDATE audit_node SET hash = decode(repeat('00', 32), 'hex'); UPDATE audit_sth SET at = 1"},
    /* The migration tests: undoing v4, and what each version added. */
    {"DROP INDEX record_ended_cancel; DROP TRIGGER record_no_delete;"
     " CREATE TRIGGER record_no_delete BEFORE DELETE ON record"
     " BEGIN SELECT RAISE(ABORT, 'records are append-only: no delete'); END;",
     "DROP INDEX record_ended_cancel; DROP TRIGGER record_no_delete ON record;"
     " CREATE TRIGGER record_no_delete BEFORE DELETE ON record FOR EACH ROW"
     " EXECUTE FUNCTION dfdg_refuse('records are append-only: no delete')"},
    {"DROP TRIGGER delivery_no_delete;"
     " CREATE TRIGGER delivery_no_delete BEFORE DELETE ON delivery"
     " BEGIN SELECT RAISE(ABORT, 'deliveries are append-only: no delete'); END;",
     "DROP TRIGGER delivery_no_delete ON delivery;"
     " CREATE TRIGGER delivery_no_delete BEFORE DELETE ON delivery FOR EACH ROW"
     " EXECUTE FUNCTION dfdg_refuse('deliveries are append-only: no delete');"
     " DROP FUNCTION dfdg_refuse_delete()"},
    {"DROP TABLE delivery; DROP TABLE disclosure; DROP TABLE audit_entry; DROP TABLE audit_subject;"
     " DROP TABLE audit_node; DROP TABLE audit_sth; UPDATE schema_version SET version = 1",
     "DROP TABLE delivery; DROP FUNCTION dfdg_refuse_delete(); DROP TABLE disclosure;"
     " DROP TABLE audit_entry; DROP TABLE audit_subject; DROP TABLE audit_node;"
     " DROP TABLE audit_sth; UPDATE schema_version SET version = 1"},
    {"SELECT count(*) FROM sqlite_master WHERE name IN ('delivery', 'disclosure',"
     " 'delivery_org_seq', 'disclosure_person_at', 'delivery_no_update', 'delivery_no_delete',"
     " 'disclosure_no_update', 'disclosure_no_delete')",
     "SELECT (SELECT count(*) FROM pg_class WHERE " PG_IN_SCHEMA
     " AND relname IN ('delivery', 'disclosure', 'delivery_org_seq', 'disclosure_person_at'))"
     " + (SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
     "WHERE " PG_IN_SCHEMA " AND tgname IN ('delivery_no_update', 'delivery_no_delete',"
     " 'disclosure_no_update', 'disclosure_no_delete'))"},
    {"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('audit_entry',"
     " 'audit_subject', 'audit_node', 'audit_sth')",
     "SELECT count(*) FROM pg_class WHERE " PG_IN_SCHEMA " AND relkind = 'r'"
     " AND relname IN ('audit_entry', 'audit_subject', 'audit_node', 'audit_sth')"},
    {"SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE 'audit%'",
     "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE " PG_IN_SCHEMA
     " AND c.relname LIKE 'audit%' AND NOT t.tgisinternal"},
    {"SELECT count(*) FROM sqlite_master WHERE (type = 'index' AND name ="
     " 'record_ended_cancel') OR (type = 'trigger' AND sql LIKE '%retention_delete%')",
     "SELECT (SELECT count(*) FROM pg_class WHERE " PG_IN_SCHEMA " AND relkind = 'i'"
     " AND relname = 'record_ended_cancel') + (SELECT count(*) FROM pg_trigger t"
     " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid WHERE " PG_IN_SCHEMA
     " AND p.prosrc LIKE '%retention_delete%')"},
    {"BEGIN; INSERT INTO meta VALUES('retention_delete', 1); DELETE FROM record; COMMIT",
     "BEGIN; INSERT INTO meta VALUES('retention_delete', '\\x01'::bytea); DELETE FROM record;"
     " COMMIT"},
};

/* The statement in PostgreSQL's dialect; one still in SQLite's is named, to be added above. */
static const char *
pg_translate(const char *sql)
{
    for (size_t i = 0; i < DFDG_ARRAY_LEN(pg_dialect); i++)
        if (strcmp(sql, pg_dialect[i].sqlite) == 0)
            return pg_dialect[i].pg;
    static const char *const sqlite_only[] = {"sqlite_master", "PRAGMA",    "RAISE(",
                                              "typeof(",       "zeroblob(", " x'"};
    for (size_t i = 0; i < DFDG_ARRAY_LEN(sqlite_only); i++)
        if (strstr(sql, sqlite_only[i]) != NULL)
            fprintf(stderr, "test_store: SQLite SQL with no PostgreSQL translation: %s\n", sql);
    return sql;
}

static int
pg_raw_exec(const char *uri, const char *sql, char *err, size_t nerr)
{
    char schema[128], msg[512];
    PGconn *conn = pg_connect(uri, true, schema, sizeof schema, msg, sizeof msg);
    if (conn == NULL) {
        if (err != NULL)
            snprintf(err, nerr, "%s", msg);
        return -1;
    }
    int rc = pg_exec(conn, pg_translate(sql), err, nerr);
    PQfinish(conn);
    return rc;
}

static int
pg_raw_int64(const char *uri, const char *sql, int64_t *out)
{
    char schema[128], msg[512];
    PGconn *conn = pg_connect(uri, true, schema, sizeof schema, msg, sizeof msg);
    if (conn == NULL) {
        fprintf(stderr, "pg_raw_int64: %s\n", msg);
        return -1;
    }
    int rc = -1;
    PGresult *res = PQexec(conn, pg_translate(sql));
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) == 1 &&
        !PQgetisnull(res, 0, 0)) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(PQgetvalue(res, 0, 0), &end, 10);
        if (errno == 0 && end != NULL && *end == '\0') {
            *out = v;
            rc = 0;
        }
    }
    if (rc != 0)
        fprintf(stderr, "pg_raw_int64: %s: %s\n", sql, PQresultErrorMessage(res));
    PQclear(res);
    PQfinish(conn);
    return rc;
}

static const struct backend pg_backend = {
    .name = "postgres",
    .fresh_uri = pg_fresh_uri,
    .destroy = pg_destroy,
    .raw_exec = pg_raw_exec,
    .raw_int64 = pg_raw_int64,
};

static int
setup_pg(void **state)
{
    return setup_backend(state, &pg_backend);
}
#endif /* DFDG_WITH_PG */

static int
teardown(void **state)
{
    struct fixture *f = *state;
    dfdg_store_close(f->s);
    f->be->destroy(f->uri);
    free(f);
    return 0;
}

/* Closes and reopens the fixture's store. */
static void
reopen(struct fixture *f)
{
    dfdg_store_close(f->s);
    f->s = NULL;
    assert_int_equal(dfdg_store_open(f->uri, DFDG_STORE_OPEN, &f->s, NULL), DFDG_OK);
}

/* --- builders ----------------------------------------------------------------------------- */

static int32_t
day(int y, int m, int d)
{
    /* Days from civil (Howard Hinnant's algorithm), so the suite needs no other unit. */
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + doe - 719468);
}

static void
make_id(unsigned n, char out[DFDG_UUID_LEN])
{
    snprintf(out, DFDG_UUID_LEN, "01900000-0000-7000-8000-%012x", n);
}

static void
person_init(struct dfdg_person *p, const char *cpr, const char *first)
{
    memset(p, 0, sizeof *p);
    dfdg_strlcpy(p->cpr, cpr, sizeof p->cpr);
    p->birthdate = day(1990, 1, 1);
    dfdg_strlcpy(p->sex, "F", sizeof p->sex);
    dfdg_strlcpy(p->status, "active", sizeof p->status);
    dfdg_strlcpy(p->first, first, sizeof p->first);
    dfdg_strlcpy(p->last, "Hansen", sizeof p->last);
}

static void
address_init(struct dfdg_address *a, const char *kommune, int32_t from, int32_t to)
{
    memset(a, 0, sizeof *a);
    dfdg_strlcpy(a->kommunekode, kommune, sizeof a->kommunekode);
    dfdg_strlcpy(a->road, "N\xc3\xb8rregade", sizeof a->road);
    dfdg_strlcpy(a->house, "7", sizeof a->house);
    dfdg_strlcpy(a->postcode, "1165", sizeof a->postcode);
    dfdg_strlcpy(a->city,
                 "K\xc3\xb8"
                 "benhavn K",
                 sizeof a->city);
    a->from = from;
    a->to = to;
}

/* Puts a person with one open address in kommune 101; returns the person_id. */
static int64_t
put_simple_person(struct dfdg_store *s, const char *cpr)
{
    struct dfdg_person p;
    struct dfdg_address a;
    person_init(&p, cpr, "Ane");
    address_init(&a, "101", day(2015, 3, 1), DFDG_DATE_NONE);
    p.addresses = &a;
    p.naddresses = 1;
    assert_int_equal(dfdg_store_person_put(s, &p, NULL), DFDG_OK);
    assert_true(p.person_id > 0);
    return p.person_id;
}

static void
record_init(struct dfdg_record *r, unsigned n, const char *type, int64_t person_id,
            const char *reporter, int32_t from, int32_t to, int64_t at)
{
    memset(r, 0, sizeof *r);
    make_id(n, r->id);
    dfdg_strlcpy(r->type, type, sizeof r->type);
    r->person_id = person_id;
    dfdg_strlcpy(r->reporter, reporter, sizeof r->reporter);
    snprintf(r->source_ref, sizeof r->source_ref, "ref-%u", n);
    r->valid_from = from;
    r->valid_to = to;
    r->recorded_at = at;
    r->kind = DFDG_RECORD_ORIGINAL;
    for (size_t i = 0; i < sizeof r->content_hash; i++)
        r->content_hash[i] = (uint8_t)(n + i);
    r->data = (char *)"{\"start_date\":\"2024-01-01\"}";
}

/* A correction (kind 1) or cancellation (kind 2) of target. */
static void
successor_init(struct dfdg_record *r, unsigned n, const struct dfdg_record *target,
               enum dfdg_record_kind kind, int64_t at)
{
    record_init(r, n, target->type, target->person_id, target->reporter, target->valid_from,
                target->valid_to, at);
    r->kind = kind;
    dfdg_strlcpy(r->target_id, target->id, sizeof r->target_id);
    if (kind == DFDG_RECORD_CANCELLATION) {
        r->data = (char *)"{}";
        r->reason = (char *)"reported in error";
    }
}

static void
insert_one(struct dfdg_store *s, struct dfdg_record *r)
{
    assert_int_equal(dfdg_store_begin(s), DFDG_OK);
    assert_int_equal(dfdg_store_record_insert(s, r), DFDG_OK);
    assert_int_equal(dfdg_store_commit(s), DFDG_OK);
}

/* Collects the ids a query returns, in order. */
struct collected {
    char ids[16][DFDG_UUID_LEN];
    size_t n;
    size_t stop_after; /* 0 = never stop */
};

static bool
collect_cb(const struct dfdg_record *r, void *ctx)
{
    struct collected *c = ctx;
    if (c->n < DFDG_ARRAY_LEN(c->ids))
        dfdg_strlcpy(c->ids[c->n], r->id, DFDG_UUID_LEN);
    c->n++;
    return c->stop_after == 0 || c->n < c->stop_after;
}

static size_t
query(struct dfdg_store *s, int64_t person_id, const char *type, int32_t valid_on, int64_t as_of,
      struct collected *c)
{
    memset(c, 0, sizeof *c);
    struct dfdg_record_query q = {person_id, type, valid_on, as_of, 0};
    assert_int_equal(dfdg_store_records_query(s, &q, collect_cb, c), DFDG_OK);
    return c->n;
}

/* --- open, create, migrations ------------------------------------------------------------- */

static void
test_open_modes(void **state)
{
    struct fixture *f = *state;
    struct dfdg_store *s2 = NULL;
    struct dfdg_errinfo ei;

    /* CREATE over an existing store is refused, and leaves the store intact. */
    memset(&ei, 0, sizeof ei);
    assert_int_equal(dfdg_store_open(f->uri, DFDG_STORE_CREATE, &s2, &ei), DFDG_CONFLICT);
    assert_null(s2);
    assert_true(ei.msg[0] != '\0');
    reopen(f);

    /* OPEN of a missing store is NOT_FOUND and creates nothing. */
    char missing[512];
    f->be->fresh_uri(missing, sizeof missing);
    memset(&ei, 0, sizeof ei);
    assert_int_equal(dfdg_store_open(missing, DFDG_STORE_OPEN, &s2, &ei), DFDG_NOT_FOUND);
    assert_null(s2);
    assert_true(ei.msg[0] != '\0');
    assert_int_equal(access(sqlite_path(missing), F_OK), -1);

    /* A plain path means SQLite, like "sqlite:PATH". */
    assert_int_equal(dfdg_store_open(sqlite_path(f->uri), DFDG_STORE_OPEN, &s2, NULL), DFDG_OK);
    dfdg_store_close(s2);
    s2 = NULL;

#ifndef DFDG_WITH_PG
    /* A dfdg built without PostgreSQL says so. */
    memset(&ei, 0, sizeof ei);
    assert_int_equal(dfdg_store_open("postgresql://localhost/dfdg", DFDG_STORE_OPEN, &s2, &ei),
                     DFDG_CONFIG);
    assert_non_null(strstr(ei.msg, "not built"));
    assert_int_equal(dfdg_store_open("postgres:dbname=dfdg", DFDG_STORE_OPEN, &s2, NULL),
                     DFDG_CONFIG);
#endif
    assert_int_equal(dfdg_store_open("", DFDG_STORE_OPEN, &s2, NULL), DFDG_INVAL);
    assert_int_equal(dfdg_store_open("sqlite:", DFDG_STORE_OPEN, &s2, NULL), DFDG_INVAL);

    /* CREATE in a folder that does not exist fails and leaves nothing behind. */
    char nodir[600];
    snprintf(nodir, sizeof nodir, "sqlite:%s/no-such-dir-%ld/x.db", DFDG_TEST_TMP, (long)getpid());
    assert_int_equal(dfdg_store_open(nodir, DFDG_STORE_CREATE, &s2, NULL), DFDG_IO);
    assert_null(s2);
}

static void
test_open_not_a_database(void **state)
{
    struct fixture *f = *state;
    char uri[512];
    f->be->fresh_uri(uri, sizeof uri);
    FILE *fp = fopen(sqlite_path(uri), "w");
    assert_non_null(fp);
    for (int i = 0; i < 200; i++)
        fputs("this is not a database, it is a text file\n", fp);
    fclose(fp);
    struct dfdg_store *s2 = NULL;
    struct dfdg_errinfo ei;
    memset(&ei, 0, sizeof ei);
    assert_int_equal(dfdg_store_open(uri, DFDG_STORE_OPEN, &s2, &ei), DFDG_CORRUPT);
    assert_null(s2);
    assert_true(ei.msg[0] != '\0');
    f->be->destroy(uri);
}

static void
test_migrations_on_reopen(void **state)
{
    struct fixture *f = *state;
    assert_true(dfdg_store_schema_version() >= 1);
    struct dfdg_org org = {"kommune:101", "kommune",
                           "K\xc3\xb8"
                           "benhavns Kommune"};
    assert_int_equal(dfdg_store_org_put(f->s, &org), DFDG_OK);
    int64_t pid = put_simple_person(f->s, "0101901234");

    /* Reopening runs no migration twice and keeps the data. */
    reopen(f);
    reopen(f);
    struct dfdg_org got;
    assert_int_equal(dfdg_store_org_get(f->s, "kommune:101", &got), DFDG_OK);
    assert_string_equal(got.name, org.name);
    int64_t pid2;
    assert_int_equal(dfdg_store_person_resolve(f->s, "0101901234", &pid2), DFDG_OK);
    assert_int_equal(pid, pid2);

    if (f->be->raw_exec == NULL)
        return;
    /* Exactly one version row, at the binary's version. */
    char sql[256], err[256];
    int64_t v = -1;
    assert_int_equal(f->be->raw_int64(f->uri, "SELECT count(*) FROM schema_version", &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(f->be->raw_int64(f->uri, "SELECT version FROM schema_version", &v), 0);
    assert_int_equal(v, dfdg_store_schema_version());

    /* A store from a newer dfdg is refused, not downgraded or touched. */
    dfdg_store_close(f->s);
    f->s = NULL;
    assert_int_equal(
        f->be->raw_exec(f->uri, "UPDATE schema_version SET version = 999", err, sizeof err), 0);
    struct dfdg_errinfo ei;
    memset(&ei, 0, sizeof ei);
    assert_int_equal(dfdg_store_open(f->uri, DFDG_STORE_OPEN, &f->s, &ei), DFDG_CORRUPT);
    assert_null(f->s);
    assert_non_null(strstr(ei.msg, "newer"));
    assert_int_equal(f->be->raw_int64(f->uri, "SELECT version FROM schema_version", &v), 0);
    assert_int_equal(v, 999);
    /* Put it back so teardown has a store to close. */
    snprintf(sql, sizeof sql, "UPDATE schema_version SET version = %d",
             dfdg_store_schema_version());
    assert_int_equal(f->be->raw_exec(f->uri, sql, err, sizeof err), 0);
    reopen(f);
}

/* --- meta, orgs, issuers ------------------------------------------------------------------ */

static void
test_meta(void **state)
{
    struct fixture *f = *state;
    uint8_t buf[64];
    size_t len = sizeof buf;
    assert_int_equal(dfdg_store_meta_get(f->s, "k", buf, &len), DFDG_NOT_FOUND);

    const uint8_t val[5] = {0, 1, 2, 0, 255};
    assert_int_equal(dfdg_store_meta_put(f->s, "k", val, sizeof val), DFDG_OK);
    len = sizeof buf;
    assert_int_equal(dfdg_store_meta_get(f->s, "k", buf, &len), DFDG_OK);
    assert_int_equal(len, sizeof val);
    assert_memory_equal(buf, val, sizeof val);

    /* Too small a buffer: TOO_LARGE and the size needed. */
    len = 3;
    assert_int_equal(dfdg_store_meta_get(f->s, "k", buf, &len), DFDG_TOO_LARGE);
    assert_int_equal(len, sizeof val);

    /* Overwrite, and an empty value is a value, not an absence. */
    assert_int_equal(dfdg_store_meta_put(f->s, "k", "xy", 2), DFDG_OK);
    len = sizeof buf;
    assert_int_equal(dfdg_store_meta_get(f->s, "k", buf, &len), DFDG_OK);
    assert_int_equal(len, 2);
    assert_memory_equal(buf, "xy", 2);
    assert_int_equal(dfdg_store_meta_put(f->s, "empty", NULL, 0), DFDG_OK);
    len = sizeof buf;
    assert_int_equal(dfdg_store_meta_get(f->s, "empty", buf, &len), DFDG_OK);
    assert_int_equal(len, 0);

    reopen(f);
    len = sizeof buf;
    assert_int_equal(dfdg_store_meta_get(f->s, "k", buf, &len), DFDG_OK);
    assert_int_equal(len, 2);
}

static void
test_org_issuer(void **state)
{
    struct fixture *f = *state;
    struct dfdg_org got;
    assert_int_equal(dfdg_store_org_get(f->s, "akasse:3f", &got), DFDG_NOT_FOUND);
    struct dfdg_org org = {"akasse:3f", "akasse", "Fagets A-kasse"};
    assert_int_equal(dfdg_store_org_put(f->s, &org), DFDG_OK);
    assert_int_equal(dfdg_store_org_get(f->s, "akasse:3f", &got), DFDG_OK);
    assert_string_equal(got.id, "akasse:3f");
    assert_string_equal(got.kind, "akasse");
    assert_string_equal(got.name, "Fagets A-kasse");
    /* put replaces */
    dfdg_strlcpy(org.name, "Fagets nye A-kasse", sizeof org.name);
    assert_int_equal(dfdg_store_org_put(f->s, &org), DFDG_OK);
    assert_int_equal(dfdg_store_org_get(f->s, "akasse:3f", &got), DFDG_OK);
    assert_string_equal(got.name, "Fagets nye A-kasse");

    uint8_t pk[32], out[32];
    for (int i = 0; i < 32; i++)
        pk[i] = (uint8_t)(i * 7);
    assert_int_equal(dfdg_store_issuer_get(f->s, "dev", out), DFDG_NOT_FOUND);
    assert_int_equal(dfdg_store_issuer_put(f->s, "dev", pk), DFDG_OK);
    assert_int_equal(dfdg_store_issuer_get(f->s, "dev", out), DFDG_OK);
    assert_memory_equal(out, pk, 32);
    pk[0] ^= 0xff;
    assert_int_equal(dfdg_store_issuer_put(f->s, "dev", pk), DFDG_OK);
    assert_int_equal(dfdg_store_issuer_get(f->s, "dev", out), DFDG_OK);
    assert_memory_equal(out, pk, 32);

    /* Lists: every org and issuer once. */
    struct dfdg_org org2 = {"star", "star", "STAR"};
    assert_int_equal(dfdg_store_org_put(f->s, &org2), DFDG_OK);
    struct dfdg_org *orgs = NULL;
    size_t n = 99;
    assert_int_equal(dfdg_store_org_list(f->s, &orgs, &n), DFDG_OK);
    assert_int_equal(n, 2);
    bool seen_akasse = false, seen_star = false;
    for (size_t i = 0; i < n; i++) {
        seen_akasse |=
            strcmp(orgs[i].id, "akasse:3f") == 0 && strcmp(orgs[i].name, "Fagets nye A-kasse") == 0;
        seen_star |= strcmp(orgs[i].id, "star") == 0 && strcmp(orgs[i].kind, "star") == 0;
    }
    assert_true(seen_akasse && seen_star);
    free(orgs);
    uint8_t pk2[32] = {1};
    assert_int_equal(dfdg_store_issuer_put(f->s, "other", pk2), DFDG_OK);
    struct dfdg_issuer *iss = NULL;
    assert_int_equal(dfdg_store_issuer_list(f->s, &iss, &n), DFDG_OK);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(iss[i].iss, "dev") == 0)
            assert_memory_equal(iss[i].public_key, pk, 32);
        else
            assert_memory_equal(iss[i].public_key, pk2, 32);
    }
    free(iss);
    char longname[80];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(dfdg_store_issuer_put(f->s, longname, pk), DFDG_INVAL);
}

/* --- persons ------------------------------------------------------------------------------ */

static void
test_person_roundtrip(void **state)
{
    struct fixture *f = *state;
    struct dfdg_person p;
    struct dfdg_address addr[2];
    struct dfdg_period prot[1] = {{day(2020, 1, 1), DFDG_DATE_NONE}};
    int32_t kids[2] = {day(2018, 6, 30), day(2021, 2, 3)};
    char prev[1][DFDG_CPR_LEN] = {"0101901233"};
    person_init(&p, "0101901234", "Ane");
    dfdg_strlcpy(p.middle, "Marie", sizeof p.middle);
    address_init(&addr[0], "751", day(2010, 1, 1), day(2015, 3, 1));
    address_init(&addr[1], "101", day(2015, 3, 1), DFDG_DATE_NONE);
    p.addresses = addr;
    p.naddresses = 2;
    p.protection = prot;
    p.nprotection = 1;
    p.children = kids;
    p.nchildren = 2;
    p.previous = prev;
    p.nprevious = 1;
    assert_int_equal(dfdg_store_person_put(f->s, &p, NULL), DFDG_OK);
    assert_true(p.person_id > 0);

    int64_t id;
    assert_int_equal(dfdg_store_person_resolve(f->s, "0101901234", &id), DFDG_OK);
    assert_int_equal(id, p.person_id);
    assert_int_equal(dfdg_store_person_resolve(f->s, "0101901233", &id), DFDG_OK);
    assert_int_equal(id, p.person_id);
    assert_int_equal(dfdg_store_person_resolve(f->s, "0202902222", &id), DFDG_NOT_FOUND);

    struct dfdg_person g;
    assert_int_equal(dfdg_store_person_get(f->s, p.person_id, &g), DFDG_OK);
    assert_int_equal(g.person_id, p.person_id);
    assert_string_equal(g.cpr, "0101901234");
    assert_int_equal(g.nprevious, 1);
    assert_string_equal(g.previous[0], "0101901233");
    assert_int_equal(g.birthdate, p.birthdate);
    assert_string_equal(g.sex, "F");
    assert_string_equal(g.status, "active");
    assert_string_equal(g.first, "Ane");
    assert_string_equal(g.middle, "Marie");
    assert_string_equal(g.last, "Hansen");
    assert_int_equal(g.naddresses, 2);
    assert_string_equal(g.addresses[0].kommunekode, "751");
    assert_int_equal(g.addresses[0].to, day(2015, 3, 1));
    assert_string_equal(g.addresses[1].kommunekode, "101");
    assert_string_equal(g.addresses[1].road, "N\xc3\xb8rregade");
    assert_string_equal(g.addresses[1].city, "K\xc3\xb8"
                                             "benhavn K");
    assert_string_equal(g.addresses[1].postcode, "1165");
    assert_string_equal(g.addresses[1].house, "7");
    assert_int_equal(g.addresses[1].from, day(2015, 3, 1));
    assert_int_equal(g.addresses[1].to, DFDG_DATE_NONE);
    assert_int_equal(g.nprotection, 1);
    assert_int_equal(g.protection[0].from, day(2020, 1, 1));
    assert_int_equal(g.protection[0].to, DFDG_DATE_NONE);
    assert_int_equal(g.nchildren, 2);
    assert_int_equal(g.children[0], kids[0]);
    assert_int_equal(g.children[1], kids[1]);
    dfdg_person_cleanup(&g);
    assert_null(g.addresses);
    dfdg_person_cleanup(&g); /* twice is harmless */
    dfdg_person_cleanup(NULL);

    struct dfdg_person none;
    assert_int_equal(dfdg_store_person_get(f->s, p.person_id + 1000, &none), DFDG_NOT_FOUND);
    dfdg_person_cleanup(&none);

    /* A second put of the same person replaces master data: addresses, kids, protection. */
    struct dfdg_person p2;
    struct dfdg_address a2;
    person_init(&p2, "0101901234", "Anne");
    address_init(&a2, "147", day(2023, 5, 1), DFDG_DATE_NONE);
    p2.addresses = &a2;
    p2.naddresses = 1;
    assert_int_equal(dfdg_store_person_put(f->s, &p2, NULL), DFDG_OK);
    assert_int_equal(p2.person_id, p.person_id);
    assert_int_equal(dfdg_store_person_get(f->s, p.person_id, &g), DFDG_OK);
    assert_string_equal(g.first, "Anne");
    assert_string_equal(g.middle, "");
    assert_int_equal(g.naddresses, 1);
    assert_string_equal(g.addresses[0].kommunekode, "147");
    assert_int_equal(g.nprotection, 0);
    assert_int_equal(g.nchildren, 0);
    /* ...but a number once had still resolves. */
    assert_int_equal(g.nprevious, 1);
    dfdg_person_cleanup(&g);
    int64_t n;
    assert_int_equal(dfdg_store_count_persons(f->s, &n), DFDG_OK);
    assert_int_equal(n, 1);
}

static void
test_person_bad_input(void **state)
{
    struct fixture *f = *state;
    struct dfdg_person p;
    struct dfdg_errinfo ei;
    person_init(&p, "01019012", "Ane");
    memset(&ei, 0, sizeof ei);
    assert_int_equal(dfdg_store_person_put(f->s, &p, &ei), DFDG_INVAL);
    assert_true(ei.msg[0] != '\0');

    struct dfdg_address a;
    person_init(&p, "0101901234", "Ane");
    address_init(&a, "101", day(2020, 1, 1), day(2019, 1, 1));
    p.addresses = &a;
    p.naddresses = 1;
    assert_int_equal(dfdg_store_person_put(f->s, &p, NULL), DFDG_INVAL);
    address_init(&a, "1x1", day(2020, 1, 1), DFDG_DATE_NONE);
    assert_int_equal(dfdg_store_person_put(f->s, &p, NULL), DFDG_INVAL);
    int64_t n;
    assert_int_equal(dfdg_store_count_persons(f->s, &n), DFDG_OK);
    assert_int_equal(n, 0);
}

static void
test_cpr_change(void **state)
{
    struct fixture *f = *state;
    int64_t old_id = put_simple_person(f->s, "0101901234");

    /* CPR office issues a new number: the line names the old one as previous. */
    struct dfdg_person p;
    char prev[1][DFDG_CPR_LEN] = {"0101901234"};
    person_init(&p, "0101905678", "Ane");
    p.previous = prev;
    p.nprevious = 1;
    assert_int_equal(dfdg_store_person_put(f->s, &p, NULL), DFDG_OK);
    assert_int_equal(p.person_id, old_id);

    int64_t a, b;
    assert_int_equal(dfdg_store_person_resolve(f->s, "0101901234", &a), DFDG_OK);
    assert_int_equal(dfdg_store_person_resolve(f->s, "0101905678", &b), DFDG_OK);
    assert_int_equal(a, old_id);
    assert_int_equal(b, old_id);

    struct dfdg_person g;
    assert_int_equal(dfdg_store_person_get(f->s, old_id, &g), DFDG_OK);
    assert_string_equal(g.cpr, "0101905678");
    assert_int_equal(g.nprevious, 1);
    assert_string_equal(g.previous[0], "0101901234");
    dfdg_person_cleanup(&g);

    /* A later line under the new number alone keeps the old one resolving. */
    person_init(&p, "0101905678", "Ane");
    assert_int_equal(dfdg_store_person_put(f->s, &p, NULL), DFDG_OK);
    assert_int_equal(dfdg_store_person_resolve(f->s, "0101901234", &a), DFDG_OK);
    assert_int_equal(a, old_id);
    int64_t n;
    assert_int_equal(dfdg_store_count_persons(f->s, &n), DFDG_OK);
    assert_int_equal(n, 1);
}

static void
test_cpr_two_persons_conflict(void **state)
{
    struct fixture *f = *state;
    int64_t a = put_simple_person(f->s, "0101901234");
    int64_t b = put_simple_person(f->s, "0202905678");
    assert_true(a != b);

    struct dfdg_person p;
    char prev[1][DFDG_CPR_LEN] = {"0202905678"};
    person_init(&p, "0101901234", "Merged");
    p.previous = prev;
    p.nprevious = 1;
    struct dfdg_errinfo ei;
    memset(&ei, 0, sizeof ei);
    assert_int_equal(dfdg_store_person_put(f->s, &p, &ei), DFDG_CONFLICT);
    assert_true(ei.msg[0] != '\0');
    assert_null(strstr(ei.msg, "0101901234"));
    assert_null(strstr(ei.msg, "0202905678"));

    /* Nothing changed: both still resolve to themselves, names untouched. */
    int64_t x;
    assert_int_equal(dfdg_store_person_resolve(f->s, "0101901234", &x), DFDG_OK);
    assert_int_equal(x, a);
    assert_int_equal(dfdg_store_person_resolve(f->s, "0202905678", &x), DFDG_OK);
    assert_int_equal(x, b);
    struct dfdg_person g;
    assert_int_equal(dfdg_store_person_get(f->s, a, &g), DFDG_OK);
    assert_string_equal(g.first, "Ane");
    dfdg_person_cleanup(&g);
}

static void
test_person_put_inside_transaction(void **state)
{
    struct fixture *f = *state;
    int64_t a = put_simple_person(f->s, "0101901234");
    put_simple_person(f->s, "0202905678");

    /* In the caller's transaction a failing put undoes only itself. */
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    struct dfdg_record r;
    record_init(&r, 1, "summons", a, "kommune:101", day(2024, 1, 1), DFDG_DATE_NONE, 1000);
    assert_int_equal(dfdg_store_record_insert(f->s, &r), DFDG_OK);
    struct dfdg_person p;
    char prev[1][DFDG_CPR_LEN] = {"0202905678"};
    person_init(&p, "0101901234", "Merged");
    p.previous = prev;
    p.nprevious = 1;
    assert_int_equal(dfdg_store_person_put(f->s, &p, NULL), DFDG_CONFLICT);
    int64_t c = put_simple_person(f->s, "0303903333");
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);

    int64_t n;
    assert_int_equal(dfdg_store_count_records(f->s, &n), DFDG_OK);
    assert_int_equal(n, 1);
    assert_int_equal(dfdg_store_count_persons(f->s, &n), DFDG_OK);
    assert_int_equal(n, 3);
    int64_t x;
    assert_int_equal(dfdg_store_person_resolve(f->s, "0303903333", &x), DFDG_OK);
    assert_int_equal(x, c);

    /* And a put in a transaction that is rolled back leaves nothing. */
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    put_simple_person(f->s, "0404904444");
    assert_int_equal(dfdg_store_rollback(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_person_resolve(f->s, "0404904444", &x), DFDG_NOT_FOUND);
}

static void
test_residence_and_protection_boundaries(void **state)
{
    struct fixture *f = *state;
    struct dfdg_person p;
    struct dfdg_address addr[2];
    struct dfdg_period prot[1] = {{day(2021, 1, 1), day(2022, 1, 1)}};
    int32_t move = day(2015, 3, 1);
    person_init(&p, "0101901234", "Ane");
    address_init(&addr[0], "751", day(2010, 1, 1), move);
    address_init(&addr[1], "101", move, DFDG_DATE_NONE);
    p.addresses = addr;
    p.naddresses = 2;
    p.protection = prot;
    p.nprotection = 1;
    assert_int_equal(dfdg_store_person_put(f->s, &p, NULL), DFDG_OK);

    char k[4];
    assert_int_equal(dfdg_store_residence_on(f->s, p.person_id, day(2009, 12, 31), k),
                     DFDG_NOT_FOUND);
    assert_int_equal(dfdg_store_residence_on(f->s, p.person_id, day(2010, 1, 1), k), DFDG_OK);
    assert_string_equal(k, "751");
    assert_int_equal(dfdg_store_residence_on(f->s, p.person_id, move - 1, k), DFDG_OK);
    assert_string_equal(k, "751");
    /* The day of moving belongs to the new address (to is exclusive). */
    assert_int_equal(dfdg_store_residence_on(f->s, p.person_id, move, k), DFDG_OK);
    assert_string_equal(k, "101");
    assert_int_equal(dfdg_store_residence_on(f->s, p.person_id, day(2099, 1, 1), k), DFDG_OK);
    assert_string_equal(k, "101");
    assert_int_equal(dfdg_store_residence_on(f->s, p.person_id + 99, move, k), DFDG_NOT_FOUND);

    /* Emigrated: the day the last address ends has no residence. */
    struct dfdg_person e;
    struct dfdg_address ea;
    int32_t left = day(2022, 8, 1);
    person_init(&e, "0202905678", "Emil");
    address_init(&ea, "461", day(2000, 1, 1), left);
    e.addresses = &ea;
    e.naddresses = 1;
    assert_int_equal(dfdg_store_person_put(f->s, &e, NULL), DFDG_OK);
    assert_int_equal(dfdg_store_residence_on(f->s, e.person_id, left - 1, k), DFDG_OK);
    assert_string_equal(k, "461");
    assert_int_equal(dfdg_store_residence_on(f->s, e.person_id, left, k), DFDG_NOT_FOUND);

    bool on;
    assert_int_equal(dfdg_store_is_protected_on(f->s, p.person_id, day(2020, 12, 31), &on),
                     DFDG_OK);
    assert_false(on);
    assert_int_equal(dfdg_store_is_protected_on(f->s, p.person_id, day(2021, 1, 1), &on), DFDG_OK);
    assert_true(on);
    assert_int_equal(dfdg_store_is_protected_on(f->s, p.person_id, day(2021, 12, 31), &on),
                     DFDG_OK);
    assert_true(on);
    assert_int_equal(dfdg_store_is_protected_on(f->s, p.person_id, day(2022, 1, 1), &on), DFDG_OK);
    assert_false(on);
}

/* --- records ------------------------------------------------------------------------------ */

static void
assert_record_equal(const struct dfdg_record *a, const struct dfdg_record *b)
{
    assert_int_equal(a->seq, b->seq);
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->type, b->type);
    assert_int_equal(a->person_id, b->person_id);
    assert_string_equal(a->cvr, b->cvr);
    assert_string_equal(a->reporter, b->reporter);
    assert_string_equal(a->source_ref, b->source_ref);
    assert_int_equal(a->valid_from, b->valid_from);
    assert_int_equal(a->valid_to, b->valid_to);
    assert_int_equal(a->recorded_at, b->recorded_at);
    assert_int_equal(a->kind, b->kind);
    assert_string_equal(a->target_id, b->target_id);
    assert_memory_equal(a->content_hash, b->content_hash, sizeof a->content_hash);
    assert_string_equal(a->data, b->data);
    if (a->reason == NULL || b->reason == NULL)
        assert_true(a->reason == b->reason);
    else
        assert_string_equal(a->reason, b->reason);
}

static void
test_record_insert_get(void **state)
{
    struct fixture *f = *state;
    int64_t pid = put_simple_person(f->s, "0101901234");
    struct dfdg_record r, c, g;
    record_init(&r, 1, "akasse-membership", pid, "akasse:3f", day(2024, 1, 1), DFDG_DATE_NONE,
                1700000000000000);
    insert_one(f->s, &r);
    assert_true(r.seq > 0);

    /* A company record: no person, a CVR number, a closed valid period. */
    record_init(&c, 2, "company", 0, "kommune:101", day(2024, 2, 1), day(2024, 2, 29),
                1700000000000001);
    dfdg_strlcpy(c.cvr, "12345674", sizeof c.cvr);
    insert_one(f->s, &c);
    assert_true(c.seq > r.seq);

    assert_int_equal(dfdg_store_record_get(f->s, r.id, &g), DFDG_OK);
    assert_record_equal(&g, &r);
    dfdg_record_cleanup(&g);
    assert_null(g.data);
    dfdg_record_cleanup(&g);
    dfdg_record_cleanup(NULL);

    assert_int_equal(dfdg_store_record_by_source(f->s, "kommune:101", "ref-2", &g), DFDG_OK);
    assert_record_equal(&g, &c);
    assert_int_equal(g.person_id, 0);
    dfdg_record_cleanup(&g);

    char other[DFDG_UUID_LEN];
    make_id(99, other);
    assert_int_equal(dfdg_store_record_get(f->s, other, &g), DFDG_NOT_FOUND);
    assert_null(g.data);
    assert_int_equal(dfdg_store_record_by_source(f->s, "akasse:other", "ref-1", &g),
                     DFDG_NOT_FOUND);

    int64_t n, last;
    assert_int_equal(dfdg_store_count_records(f->s, &n), DFDG_OK);
    assert_int_equal(n, 2);
    assert_int_equal(dfdg_store_last_recorded_at(f->s, &last), DFDG_OK);
    assert_int_equal(last, 1700000000000001);

    /* Survives a reopen (WAL, committed). */
    reopen(f);
    assert_int_equal(dfdg_store_record_get(f->s, r.id, &g), DFDG_OK);
    assert_record_equal(&g, &r);
    dfdg_record_cleanup(&g);
}

static void
test_record_conflicts_and_rules(void **state)
{
    struct fixture *f = *state;
    int64_t pid = put_simple_person(f->s, "0101901234");
    struct dfdg_record r, dup;
    record_init(&r, 1, "summons", pid, "kommune:101", day(2024, 1, 1), DFDG_DATE_NONE, 1000);
    insert_one(f->s, &r);

    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    /* Same (reporter, source_ref), new id. */
    record_init(&dup, 2, "summons", pid, "kommune:101", day(2024, 1, 1), DFDG_DATE_NONE, 2000);
    dfdg_strlcpy(dup.source_ref, r.source_ref, sizeof dup.source_ref);
    assert_int_equal(dfdg_store_record_insert(f->s, &dup), DFDG_CONFLICT);
    /* Same id, new source_ref. */
    record_init(&dup, 1, "summons", pid, "kommune:101", day(2024, 1, 1), DFDG_DATE_NONE, 2000);
    dfdg_strlcpy(dup.source_ref, "fresh", sizeof dup.source_ref);
    assert_int_equal(dfdg_store_record_insert(f->s, &dup), DFDG_CONFLICT);
    /* The same source_ref from another reporter is another record. */
    record_init(&dup, 3, "summons", pid, "kommune:147", day(2024, 1, 1), DFDG_DATE_NONE, 2000);
    dfdg_strlcpy(dup.source_ref, r.source_ref, sizeof dup.source_ref);
    assert_int_equal(dfdg_store_record_insert(f->s, &dup), DFDG_OK);
    /* A correction must name a target; an original must not. */
    record_init(&dup, 4, "summons", pid, "kommune:101", day(2024, 1, 1), DFDG_DATE_NONE, 2000);
    dup.kind = DFDG_RECORD_CORRECTION;
    assert_int_equal(dfdg_store_record_insert(f->s, &dup), DFDG_INVAL);
    record_init(&dup, 5, "summons", pid, "kommune:101", day(2024, 1, 2), day(2024, 1, 1), 2000);
    assert_int_equal(dfdg_store_record_insert(f->s, &dup), DFDG_INVAL);
    /* A person that does not exist is refused by the foreign key. */
    record_init(&dup, 6, "summons", pid + 500, "kommune:101", day(2024, 1, 1), DFDG_DATE_NONE,
                2000);
    assert_int_not_equal(dfdg_store_record_insert(f->s, &dup), DFDG_OK);
    assert_true(dfdg_store_last_error(f->s)[0] != '\0');
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);

    /* Outside a transaction record_insert refuses (the writer always batches). */
    record_init(&dup, 7, "summons", pid, "kommune:101", day(2024, 1, 1), DFDG_DATE_NONE, 3000);
    assert_int_equal(dfdg_store_record_insert(f->s, &dup), DFDG_INTERNAL);

    int64_t n;
    assert_int_equal(dfdg_store_count_records(f->s, &n), DFDG_OK);
    assert_int_equal(n, 2);
}

static void
test_correction_chain_as_of(void **state)
{
    struct fixture *f = *state;
    int64_t pid = put_simple_person(f->s, "0101901234");
    struct dfdg_record orig, corr, canc, g;
    struct collected c;
    record_init(&orig, 1, "absence", pid, "kommune:101", day(2024, 3, 1), day(2024, 3, 5), 1000);
    insert_one(f->s, &orig);
    successor_init(&corr, 2, &orig, DFDG_RECORD_CORRECTION, 2000);
    corr.valid_to = day(2024, 3, 8);
    insert_one(f->s, &corr);
    successor_init(&canc, 3, &corr, DFDG_RECORD_CANCELLATION, 3000);
    insert_one(f->s, &canc);

    /* Before anything was known. */
    assert_int_equal(query(f->s, pid, NULL, DFDG_DATE_NONE, 999, &c), 0);
    /* As known before the correction: the original. */
    assert_int_equal(query(f->s, pid, NULL, DFDG_DATE_NONE, 1000, &c), 1);
    assert_string_equal(c.ids[0], orig.id);
    assert_int_equal(query(f->s, pid, NULL, DFDG_DATE_NONE, 1999, &c), 1);
    assert_string_equal(c.ids[0], orig.id);
    /* After the correction: the correction only. */
    assert_int_equal(query(f->s, pid, NULL, DFDG_DATE_NONE, 2000, &c), 1);
    assert_string_equal(c.ids[0], corr.id);
    assert_int_equal(query(f->s, pid, NULL, DFDG_DATE_NONE, 2999, &c), 1);
    assert_string_equal(c.ids[0], corr.id);
    /* After the cancellation: nothing (the cancellation itself is never listed). */
    assert_int_equal(query(f->s, pid, NULL, DFDG_DATE_NONE, 3000, &c), 0);
    assert_int_equal(query(f->s, pid, NULL, DFDG_DATE_NONE, INT64_MAX, &c), 0);

    /* Bitemporal: on 2024-03-07, as known at 1500 nothing was valid; as known at 2500, yes. */
    assert_int_equal(query(f->s, pid, NULL, day(2024, 3, 7), 1500, &c), 0);
    assert_int_equal(query(f->s, pid, NULL, day(2024, 3, 7), 2500, &c), 1);
    assert_string_equal(c.ids[0], corr.id);

    /* Successors as of a time. */
    assert_int_equal(dfdg_store_record_successor(f->s, orig.id, 1999, &g), DFDG_NOT_FOUND);
    assert_int_equal(dfdg_store_record_successor(f->s, orig.id, 2000, &g), DFDG_OK);
    assert_string_equal(g.id, corr.id);
    assert_int_equal(g.kind, DFDG_RECORD_CORRECTION);
    assert_string_equal(g.target_id, orig.id);
    dfdg_record_cleanup(&g);
    assert_int_equal(dfdg_store_record_successor(f->s, corr.id, INT64_MAX, &g), DFDG_OK);
    assert_string_equal(g.id, canc.id);
    assert_int_equal(g.kind, DFDG_RECORD_CANCELLATION);
    assert_string_equal(g.reason, "reported in error");
    assert_string_equal(g.data, "{}");
    dfdg_record_cleanup(&g);
    assert_int_equal(dfdg_store_record_successor(f->s, canc.id, INT64_MAX, &g), DFDG_NOT_FOUND);

    /* The history stays readable by id. */
    assert_int_equal(dfdg_store_record_get(f->s, orig.id, &g), DFDG_OK);
    assert_int_equal(g.valid_to, day(2024, 3, 5));
    dfdg_record_cleanup(&g);
}

static void
test_query_filters_and_order(void **state)
{
    struct fixture *f = *state;
    int64_t pid = put_simple_person(f->s, "0101901234");
    int64_t other = put_simple_person(f->s, "0202905678");
    struct dfdg_record r[6];
    struct collected c;
    record_init(&r[0], 1, "summons", pid, "kommune:101", day(2024, 1, 1), day(2024, 1, 31), 10);
    record_init(&r[1], 2, "summons", pid, "kommune:101", day(2024, 2, 1), DFDG_DATE_NONE, 20);
    record_init(&r[2], 3, "absence", pid, "kommune:101", day(2024, 1, 15), day(2024, 1, 20), 30);
    record_init(&r[3], 4, "summons", other, "kommune:101", day(2024, 1, 1), DFDG_DATE_NONE, 40);
    /* Same valid_from as r[1], recorded later: comes first. */
    record_init(&r[4], 5, "absence", pid, "kommune:101", day(2024, 2, 1), day(2024, 2, 1), 50);
    record_init(&r[5], 6, "holiday", pid, "citizen", day(2023, 7, 1), day(2023, 7, 21), 60);
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(dfdg_store_record_insert(f->s, &r[i]), DFDG_OK);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);

    /* All of the person's records, newest valid_from first, then newest recorded_at. */
    assert_int_equal(query(f->s, pid, NULL, DFDG_DATE_NONE, INT64_MAX, &c), 5);
    assert_string_equal(c.ids[0], r[4].id);
    assert_string_equal(c.ids[1], r[1].id);
    assert_string_equal(c.ids[2], r[2].id);
    assert_string_equal(c.ids[3], r[0].id);
    assert_string_equal(c.ids[4], r[5].id);

    /* Type filter. */
    assert_int_equal(query(f->s, pid, "summons", DFDG_DATE_NONE, INT64_MAX, &c), 2);
    assert_string_equal(c.ids[0], r[1].id);
    assert_string_equal(c.ids[1], r[0].id);
    assert_int_equal(query(f->s, pid, "cv", DFDG_DATE_NONE, INT64_MAX, &c), 0);

    /* valid_on: from and to both inclusive. */
    assert_int_equal(query(f->s, pid, NULL, day(2024, 1, 31), INT64_MAX, &c), 1);
    assert_string_equal(c.ids[0], r[0].id);
    assert_int_equal(query(f->s, pid, NULL, day(2024, 1, 15), INT64_MAX, &c), 2);
    assert_string_equal(c.ids[0], r[2].id);
    assert_string_equal(c.ids[1], r[0].id);
    assert_int_equal(query(f->s, pid, NULL, day(2024, 2, 1), INT64_MAX, &c), 2);
    assert_int_equal(query(f->s, pid, NULL, day(2024, 2, 2), INT64_MAX, &c), 1);
    assert_string_equal(c.ids[0], r[1].id);
    assert_int_equal(query(f->s, pid, NULL, day(2023, 12, 31), INT64_MAX, &c), 0);
    /* Both filters. */
    assert_int_equal(query(f->s, pid, "absence", day(2024, 1, 20), INT64_MAX, &c), 1);
    assert_string_equal(c.ids[0], r[2].id);
    assert_int_equal(query(f->s, pid, "absence", day(2024, 1, 21), INT64_MAX, &c), 0);
    /* as_of cuts by transaction time. */
    assert_int_equal(query(f->s, pid, NULL, DFDG_DATE_NONE, 25, &c), 2);

    /* limit, and a callback that stops. */
    memset(&c, 0, sizeof c);
    struct dfdg_record_query q = {pid, NULL, DFDG_DATE_NONE, INT64_MAX, 3};
    assert_int_equal(dfdg_store_records_query(f->s, &q, collect_cb, &c), DFDG_OK);
    assert_int_equal(c.n, 3);
    memset(&c, 0, sizeof c);
    c.stop_after = 2;
    q.limit = 0;
    assert_int_equal(dfdg_store_records_query(f->s, &q, collect_cb, &c), DFDG_OK);
    assert_int_equal(c.n, 2);
    /* The statement was reset: the same query runs again in full. */
    assert_int_equal(query(f->s, pid, NULL, DFDG_DATE_NONE, INT64_MAX, &c), 5);
}

/* A callback that reads from the store while the outer query is still stepping. */
struct nested {
    struct dfdg_store *s;
    size_t outer;
    size_t inner;
    size_t got;
};

static bool
nested_cb(const struct dfdg_record *r, void *ctx)
{
    struct nested *n = ctx;
    n->outer++;
    struct collected c;
    memset(&c, 0, sizeof c);
    struct dfdg_record_query q = {r->person_id, NULL, DFDG_DATE_NONE, INT64_MAX, 0};
    if (dfdg_store_records_query(n->s, &q, collect_cb, &c) == DFDG_OK)
        n->inner += c.n;
    struct dfdg_record g;
    if (dfdg_store_record_get(n->s, r->id, &g) == DFDG_OK) {
        n->got++;
        dfdg_record_cleanup(&g);
    }
    return true;
}

static void
test_query_reentrant(void **state)
{
    struct fixture *f = *state;
    int64_t pid = put_simple_person(f->s, "0101901234");
    struct dfdg_record r;
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    for (unsigned i = 0; i < 3; i++) {
        record_init(&r, i + 1, "summons", pid, "kommune:101", day(2024, 1, 1) + (int32_t)i,
                    DFDG_DATE_NONE, 100 + i);
        assert_int_equal(dfdg_store_record_insert(f->s, &r), DFDG_OK);
    }
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
    struct nested n = {f->s, 0, 0, 0};
    struct dfdg_record_query q = {pid, NULL, DFDG_DATE_NONE, INT64_MAX, 0};
    assert_int_equal(dfdg_store_records_query(f->s, &q, nested_cb, &n), DFDG_OK);
    assert_int_equal(n.outer, 3);
    assert_int_equal(n.inner, 9);
    assert_int_equal(n.got, 3);
}

static void
test_records_append_only(void **state)
{
    struct fixture *f = *state;
    if (f->be->raw_exec == NULL)
        skip();
    int64_t pid = put_simple_person(f->s, "0101901234");
    struct dfdg_record r, g;
    record_init(&r, 1, "summons", pid, "kommune:101", day(2024, 1, 1), DFDG_DATE_NONE, 1000);
    insert_one(f->s, &r);

    char err[256];
    assert_int_not_equal(
        f->be->raw_exec(f->uri, "UPDATE record SET data = '{\"x\":1}'", err, sizeof err), 0);
    assert_non_null(strstr(err, "append-only"));
    assert_int_not_equal(f->be->raw_exec(f->uri, "DELETE FROM record", err, sizeof err), 0);
    assert_non_null(strstr(err, "append-only"));
    assert_int_not_equal(f->be->raw_exec(f->uri, "UPDATE record SET valid_to = 1", err, sizeof err),
                         0);

    assert_int_equal(dfdg_store_record_get(f->s, r.id, &g), DFDG_OK);
    assert_record_equal(&g, &r);
    dfdg_record_cleanup(&g);
    int64_t n;
    assert_int_equal(dfdg_store_count_records(f->s, &n), DFDG_OK);
    assert_int_equal(n, 1);
}

static bool
member(struct dfdg_store *s, int64_t pid, const char *akasse, int32_t d)
{
    bool on = true;
    assert_int_equal(dfdg_store_is_member_on(s, pid, akasse, d, &on), DFDG_OK);
    return on;
}

static void
test_is_member_on(void **state)
{
    struct fixture *f = *state;
    int64_t pid = put_simple_person(f->s, "0101901234");
    int64_t p2 = put_simple_person(f->s, "0202905678");
    int64_t p3 = put_simple_person(f->s, "0303903333");
    struct dfdg_record m, corr, m2, canc, other;
    int32_t start = day(2024, 1, 1), end = day(2024, 6, 30);

    assert_false(member(f->s, pid, "akasse:3f", start));
    record_init(&m, 1, "akasse-membership", pid, "akasse:3f", start, end, 1000);
    insert_one(f->s, &m);
    assert_false(member(f->s, pid, "akasse:3f", start - 1));
    assert_true(member(f->s, pid, "akasse:3f", start));
    assert_true(member(f->s, pid, "akasse:3f", end)); /* valid_to is inclusive */
    assert_false(member(f->s, pid, "akasse:3f", end + 1));
    assert_false(member(f->s, pid, "akasse:other", start));
    assert_false(member(f->s, p2, "akasse:3f", start));

    /* Another type from the same a-kasse is no membership. */
    record_init(&other, 2, "akasse-interview", p2, "akasse:3f", start, DFDG_DATE_NONE, 1500);
    insert_one(f->s, &other);
    assert_false(member(f->s, p2, "akasse:3f", start));

    /* A correction moves the end: the superseded period no longer counts on its own. */
    successor_init(&corr, 3, &m, DFDG_RECORD_CORRECTION, 2000);
    corr.valid_from = day(2024, 2, 1);
    corr.valid_to = DFDG_DATE_NONE;
    insert_one(f->s, &corr);
    assert_false(member(f->s, pid, "akasse:3f", start));
    assert_true(member(f->s, pid, "akasse:3f", day(2024, 2, 1)));
    assert_true(member(f->s, pid, "akasse:3f", day(2030, 1, 1)));

    /* A cancelled membership is none. */
    record_init(&m2, 4, "akasse-membership", p3, "akasse:3f", start, DFDG_DATE_NONE, 3000);
    insert_one(f->s, &m2);
    assert_true(member(f->s, p3, "akasse:3f", start));
    successor_init(&canc, 5, &m2, DFDG_RECORD_CANCELLATION, 4000);
    insert_one(f->s, &canc);
    assert_false(member(f->s, p3, "akasse:3f", start));
    assert_false(member(f->s, p3, "akasse:3f", day(2030, 1, 1)));
}

/* --- relationships: a-kasse memberships on a day ------------------------------------------- */

/* Collects the org ids members_on reports, in order. */
struct orgs_seen {
    char ids[8][64];
    size_t n;
    size_t stop_after; /* 0 = never stop */
};

static bool
orgs_cb(const char *org_id, void *ctx)
{
    struct orgs_seen *o = ctx;
    if (o->n < DFDG_ARRAY_LEN(o->ids))
        dfdg_strlcpy(o->ids[o->n], org_id, sizeof o->ids[0]);
    o->n++;
    return o->stop_after == 0 || o->n < o->stop_after;
}

static size_t
members(struct dfdg_store *s, int64_t pid, int32_t d, struct orgs_seen *o)
{
    memset(o, 0, sizeof *o);
    assert_int_equal(dfdg_store_members_on(s, pid, d, orgs_cb, o), DFDG_OK);
    return o->n;
}

static void
test_members_on(void **state)
{
    struct fixture *f = *state;
    int64_t pid = put_simple_person(f->s, "0101901234");
    int64_t p2 = put_simple_person(f->s, "0202905678");
    struct dfdg_record r[9];
    struct orgs_seen o;
    int32_t jan = day(2024, 1, 1), mar = day(2024, 3, 1), jun = day(2024, 6, 30);

    assert_int_equal(members(f->s, pid, mar, &o), 0);
    /* Two a-kasser at once (recorded in reverse id order: the answer is in id order). */
    record_init(&r[0], 1, "akasse-membership", pid, "akasse:zz", jan, DFDG_DATE_NONE, 1000);
    record_init(&r[1], 2, "akasse-membership", pid, "akasse:aa", jan, jun, 1001);
    /* A second, overlapping membership record of the same a-kasse: reported once. */
    record_init(&r[2], 3, "akasse-membership", pid, "akasse:aa", mar, DFDG_DATE_NONE, 1002);
    /* Ended before March. */
    record_init(&r[3], 4, "akasse-membership", pid, "akasse:ended", jan, day(2024, 2, 29), 1003);
    /* Cancelled below. */
    record_init(&r[4], 5, "akasse-membership", pid, "akasse:gone", jan, DFDG_DATE_NONE, 1004);
    /* Corrected below by STAR: the chain still belongs to akasse:mm. */
    record_init(&r[5], 6, "akasse-membership", pid, "akasse:mm", jan, day(2024, 1, 31), 1005);
    /* Not a membership; and another person's membership. */
    record_init(&r[6], 7, "akasse-interview", pid, "akasse:xx", jan, DFDG_DATE_NONE, 1006);
    record_init(&r[7], 8, "akasse-membership", p2, "akasse:yy", jan, DFDG_DATE_NONE, 1007);
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(dfdg_store_record_insert(f->s, &r[i]), DFDG_OK);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);

    /* Before the cancellation and the correction. */
    assert_int_equal(members(f->s, pid, jan, &o), 5);
    assert_string_equal(o.ids[0], "akasse:aa");
    assert_string_equal(o.ids[1], "akasse:ended");
    assert_string_equal(o.ids[2], "akasse:gone");
    assert_string_equal(o.ids[3], "akasse:mm");
    assert_string_equal(o.ids[4], "akasse:zz");
    assert_int_equal(members(f->s, pid, mar, &o), 3);
    assert_string_equal(o.ids[0], "akasse:aa");
    assert_string_equal(o.ids[1], "akasse:gone");
    assert_string_equal(o.ids[2], "akasse:zz");
    /* valid_to is inclusive: the last day of February is still a member day. */
    assert_int_equal(members(f->s, pid, day(2024, 2, 29), &o), 4);
    assert_string_equal(o.ids[1], "akasse:ended");
    assert_int_equal(members(f->s, pid, jan - 1, &o), 0);

    /* Cancel akasse:gone's membership; STAR corrects akasse:mm's to run open-ended from May. */
    struct dfdg_record canc, corr;
    successor_init(&canc, 9, &r[4], DFDG_RECORD_CANCELLATION, 2000);
    insert_one(f->s, &canc);
    successor_init(&corr, 10, &r[5], DFDG_RECORD_CORRECTION, 2001);
    dfdg_strlcpy(corr.reporter, "star", sizeof corr.reporter);
    dfdg_strlcpy(corr.owner, "akasse:mm", sizeof corr.owner);
    corr.valid_from = day(2024, 5, 1);
    corr.valid_to = DFDG_DATE_NONE;
    insert_one(f->s, &corr);

    assert_int_equal(members(f->s, pid, jan, &o), 3); /* mm's old period was superseded */
    assert_string_equal(o.ids[0], "akasse:aa");
    assert_string_equal(o.ids[1], "akasse:ended");
    assert_string_equal(o.ids[2], "akasse:zz");
    assert_int_equal(members(f->s, pid, day(2024, 7, 1), &o), 3);
    assert_string_equal(o.ids[0], "akasse:aa"); /* from the second, open record */
    assert_string_equal(o.ids[1], "akasse:mm"); /* the owner, not the corrector "star" */
    assert_string_equal(o.ids[2], "akasse:zz");
    bool on = false;
    assert_int_equal(dfdg_store_is_member_on(f->s, pid, "akasse:mm", day(2024, 7, 1), &on),
                     DFDG_OK);
    assert_true(on);

    assert_int_equal(members(f->s, p2, mar, &o), 1);
    assert_string_equal(o.ids[0], "akasse:yy");

    /* A callback that stops; then the statement runs again in full. */
    memset(&o, 0, sizeof o);
    o.stop_after = 1;
    assert_int_equal(dfdg_store_members_on(f->s, pid, day(2024, 7, 1), orgs_cb, &o), DFDG_OK);
    assert_int_equal(o.n, 1);
    assert_int_equal(members(f->s, pid, day(2024, 7, 1), &o), 3);
    assert_int_equal(dfdg_store_members_on(f->s, pid, mar, NULL, NULL), DFDG_INVAL);
}

/* A members_on callback that asks the store again while the outer statement steps. */
struct members_nested {
    struct dfdg_store *s;
    int64_t pid;
    size_t outer;
    size_t inner;
};

static bool
members_nested_cb(const char *org_id, void *ctx)
{
    struct members_nested *m = ctx;
    m->outer++;
    struct orgs_seen o;
    memset(&o, 0, sizeof o);
    if (dfdg_store_members_on(m->s, m->pid, day(2024, 3, 1), orgs_cb, &o) == DFDG_OK)
        m->inner += o.n;
    bool on = false;
    if (dfdg_store_is_member_on(m->s, m->pid, org_id, day(2024, 3, 1), &on) == DFDG_OK && on)
        m->inner++;
    return true;
}

static void
test_members_on_reentrant(void **state)
{
    struct fixture *f = *state;
    int64_t pid = put_simple_person(f->s, "0101901234");
    struct dfdg_record a, b;
    record_init(&a, 1, "akasse-membership", pid, "akasse:aa", day(2024, 1, 1), DFDG_DATE_NONE, 1);
    record_init(&b, 2, "akasse-membership", pid, "akasse:bb", day(2024, 1, 1), DFDG_DATE_NONE, 2);
    insert_one(f->s, &a);
    insert_one(f->s, &b);
    struct members_nested m = {f->s, pid, 0, 0};
    assert_int_equal(dfdg_store_members_on(f->s, pid, day(2024, 3, 1), members_nested_cb, &m),
                     DFDG_OK);
    assert_int_equal(m.outer, 2);
    assert_int_equal(m.inner, 2 * (2 + 1));
}

/* --- deliveries and disclosures ------------------------------------------------------------ */

static void
delivery_init(struct dfdg_delivery *d, const char *org, const char *record_id, const char *reason,
              int64_t at)
{
    memset(d, 0, sizeof *d);
    dfdg_strlcpy(d->org_id, org, sizeof d->org_id);
    dfdg_strlcpy(d->record_id, record_id, sizeof d->record_id);
    dfdg_strlcpy(d->reason, reason, sizeof d->reason);
    d->created_at = at;
}

/* What a feed or deliveries_of call handed to its callback, in order. */
struct seen_delivery {
    struct dfdg_delivery d;
    char type[48];
    char data[128];
    int64_t person_id;
    char cvr[DFDG_CVR_LEN];
    char cpr[DFDG_CPR_LEN];
};

struct deliveries_seen {
    struct seen_delivery items[16];
    size_t n;
    size_t stop_after;    /* 0 = never stop */
    struct dfdg_store *s; /* non-NULL: re-enter the store from the callback */
    size_t nested_ok;     /* successful nested calls */
};

static bool
count_cb(const struct dfdg_delivery *d, const struct dfdg_record *r, const char *cpr, void *ctx)
{
    (void)d;
    (void)r;
    (void)cpr;
    (*(size_t *)ctx)++;
    return true;
}

static bool
deliveries_cb(const struct dfdg_delivery *d, const struct dfdg_record *r, const char *cpr,
              void *ctx)
{
    struct deliveries_seen *c = ctx;
    /* The record and delivery agree, and the borrowed data is readable. */
    assert_string_equal(d->record_id, r->id);
    assert_non_null(r->data);
    assert_non_null(cpr);
    if (c->n < DFDG_ARRAY_LEN(c->items)) {
        struct seen_delivery *it = &c->items[c->n];
        it->d = *d;
        dfdg_strlcpy(it->type, r->type, sizeof it->type);
        dfdg_strlcpy(it->data, r->data, sizeof it->data);
        it->person_id = r->person_id;
        dfdg_strlcpy(it->cvr, r->cvr, sizeof it->cvr);
        dfdg_strlcpy(it->cpr, cpr, sizeof it->cpr);
    }
    c->n++;
    if (c->s != NULL) {
        /* Re-enter: the same feed, the record's deliveries and the record itself. */
        size_t k = 0;
        if (dfdg_store_feed(c->s, d->org_id, 0, 0, count_cb, &k) == DFDG_OK && k > 0)
            c->nested_ok++;
        k = 0;
        if (dfdg_store_deliveries_of(c->s, r->id, count_cb, &k) == DFDG_OK && k > 0)
            c->nested_ok++;
        struct dfdg_record g;
        if (dfdg_store_record_get(c->s, r->id, &g) == DFDG_OK) {
            c->nested_ok++;
            dfdg_record_cleanup(&g);
        }
    }
    return c->stop_after == 0 || c->n < c->stop_after;
}

static size_t
feed(struct dfdg_store *s, const char *org, int64_t after, size_t limit, struct deliveries_seen *c)
{
    memset(c, 0, sizeof *c);
    assert_int_equal(dfdg_store_feed(s, org, after, limit, deliveries_cb, c), DFDG_OK);
    return c->n;
}

static size_t
deliveries_of(struct dfdg_store *s, const char *record_id, struct deliveries_seen *c)
{
    memset(c, 0, sizeof *c);
    assert_int_equal(dfdg_store_deliveries_of(s, record_id, deliveries_cb, c), DFDG_OK);
    return c->n;
}

static void
test_delivery_feed(void **state)
{
    struct fixture *f = *state;
    int64_t pid = put_simple_person(f->s, "0101901234");
    struct dfdg_record r[4], comp;
    struct dfdg_delivery d[6];
    struct deliveries_seen c;
    int64_t last = -1;

    assert_int_equal(dfdg_store_last_delivery_seq(f->s, &last), DFDG_OK);
    assert_int_equal(last, 0);
    assert_int_equal(feed(f->s, "kommune:101", 0, 0, &c), 0);

    record_init(&r[0], 1, "akasse-membership", pid, "akasse:3f", day(2024, 1, 1), DFDG_DATE_NONE,
                1000);
    record_init(&r[1], 2, "summons", pid, "kommune:101", day(2024, 2, 1), DFDG_DATE_NONE, 1001);
    r[1].data = (char *)"{\"summons\":2}";
    record_init(&r[2], 3, "akasse-interview", pid, "akasse:3f", day(2024, 3, 1), DFDG_DATE_NONE,
                1002);
    record_init(&r[3], 4, "summons", pid, "kommune:101", day(2024, 4, 1), DFDG_DATE_NONE, 1003);
    record_init(&comp, 5, "company", 0, "kommune:101", day(2024, 2, 1), DFDG_DATE_NONE, 1004);
    dfdg_strlcpy(comp.cvr, "12345674", sizeof comp.cvr);
    comp.data = (char *)"{\"name\":\"Firma\"}";

    struct dfdg_delivery dup;
    /* Routing happens in the writer's transaction, with the records. */
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(dfdg_store_record_insert(f->s, &r[i]), DFDG_OK);
    assert_int_equal(dfdg_store_record_insert(f->s, &comp), DFDG_OK);
    delivery_init(&d[0], "kommune:101", r[0].id, "residence", 1000);
    delivery_init(&d[1], "akasse:3f", r[0].id, "membership", 1000);
    delivery_init(&d[2], "kommune:101", r[1].id, "residence", 1001);
    delivery_init(&d[3], "kommune:101", comp.id, "all", 1004);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(dfdg_store_delivery_insert(f->s, &d[i]), DFDG_OK);
        assert_true(d[i].seq > (i == 0 ? 0 : d[i - 1].seq));
    }
    /* Every reason routing knows is accepted. */
    static const char *const reasons[] = {"residence", "membership", "referral", "all", "handover"};
    for (size_t i = 0; i < DFDG_ARRAY_LEN(reasons); i++) {
        char org[64];
        snprintf(org, sizeof org, "aktoer:%zu", i);
        delivery_init(&dup, org, r[3].id, reasons[i], 1004);
        assert_int_equal(dfdg_store_delivery_insert(f->s, &dup), DFDG_OK);
        assert_true(dup.seq > d[3].seq);
    }
    /* A record reaches an org at most once, whatever the reason. */
    delivery_init(&dup, "kommune:101", r[0].id, "handover", 1005);
    assert_int_equal(dfdg_store_delivery_insert(f->s, &dup), DFDG_CONFLICT);
    assert_true(dfdg_store_last_error(f->s)[0] != '\0');
    /* Bad input never reaches SQL; a record that does not exist is refused by the key. */
    delivery_init(&dup, "kommune:101", r[3].id, "because", 1005);
    assert_int_equal(dfdg_store_delivery_insert(f->s, &dup), DFDG_INVAL);
    delivery_init(&dup, "", r[3].id, "all", 1005);
    assert_int_equal(dfdg_store_delivery_insert(f->s, &dup), DFDG_INVAL);
    assert_int_equal(dfdg_store_delivery_insert(f->s, NULL), DFDG_INVAL);
    char missing[DFDG_UUID_LEN];
    make_id(999, missing);
    delivery_init(&dup, "kommune:101", missing, "all", 1005);
    assert_int_not_equal(dfdg_store_delivery_insert(f->s, &dup), DFDG_OK);
    /* The transaction goes on after the refusals. */
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);

    /* A later transaction's deliveries come after the earlier ones. */
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    delivery_init(&d[4], "akasse:3f", r[2].id, "membership", 1006);
    assert_int_equal(dfdg_store_delivery_insert(f->s, &d[4]), DFDG_OK);
    delivery_init(&d[5], "kommune:101", r[3].id, "handover", 1007);
    assert_int_equal(dfdg_store_delivery_insert(f->s, &d[5]), DFDG_OK);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
    assert_true(d[4].seq > d[3].seq && d[5].seq > d[4].seq);

    /* Outside a transaction delivery_insert refuses. */
    delivery_init(&dup, "akasse:3f", r[3].id, "membership", 1008);
    assert_int_equal(dfdg_store_delivery_insert(f->s, &dup), DFDG_INTERNAL);

    assert_int_equal(dfdg_store_last_delivery_seq(f->s, &last), DFDG_OK);
    assert_int_equal(last, d[5].seq);

    /* The kommune's feed: its own deliveries only, in seq order, with record and CPR. */
    assert_int_equal(feed(f->s, "kommune:101", 0, 0, &c), 4);
    assert_int_equal(c.items[0].d.seq, d[0].seq);
    assert_string_equal(c.items[0].d.record_id, r[0].id);
    assert_string_equal(c.items[0].d.org_id, "kommune:101");
    assert_string_equal(c.items[0].d.reason, "residence");
    assert_int_equal(c.items[0].d.created_at, 1000);
    assert_string_equal(c.items[0].type, "akasse-membership");
    assert_string_equal(c.items[0].cpr, "0101901234");
    assert_int_equal(c.items[0].person_id, pid);
    assert_string_equal(c.items[1].d.record_id, r[1].id);
    assert_string_equal(c.items[1].data, "{\"summons\":2}");
    assert_string_equal(c.items[1].cpr, "0101901234");
    /* A company record has no CPR number. */
    assert_string_equal(c.items[2].d.record_id, comp.id);
    assert_string_equal(c.items[2].d.reason, "all");
    assert_string_equal(c.items[2].cpr, "");
    assert_string_equal(c.items[2].cvr, "12345674");
    assert_int_equal(c.items[2].person_id, 0);
    assert_string_equal(c.items[2].data, "{\"name\":\"Firma\"}");
    assert_string_equal(c.items[3].d.record_id, r[3].id);
    assert_string_equal(c.items[3].d.reason, "handover");

    /* after and limit page through it. */
    assert_int_equal(feed(f->s, "kommune:101", d[0].seq, 0, &c), 3);
    assert_string_equal(c.items[0].d.record_id, r[1].id);
    assert_int_equal(feed(f->s, "kommune:101", d[0].seq, 2, &c), 2);
    assert_string_equal(c.items[0].d.record_id, r[1].id);
    assert_string_equal(c.items[1].d.record_id, comp.id);
    assert_int_equal(feed(f->s, "kommune:101", d[3].seq, 2, &c), 1);
    assert_string_equal(c.items[0].d.record_id, r[3].id);
    assert_int_equal(feed(f->s, "kommune:101", d[5].seq, 0, &c), 0);
    assert_int_equal(feed(f->s, "kommune:101", -5, 1, &c), 1);
    assert_string_equal(c.items[0].d.record_id, r[0].id);

    /* The a-kasse sees its two, interleaved in seq with the kommune's. */
    assert_int_equal(feed(f->s, "akasse:3f", 0, 0, &c), 2);
    assert_string_equal(c.items[0].d.record_id, r[0].id);
    assert_string_equal(c.items[0].d.reason, "membership");
    assert_string_equal(c.items[1].d.record_id, r[2].id);
    assert_int_equal(c.items[1].d.seq, d[4].seq);
    assert_int_equal(feed(f->s, "akasse:other", 0, 0, &c), 0);
    assert_int_equal(feed(f->s, "kommune:10", 0, 0, &c), 0); /* no prefix matching */

    /* A callback that stops; then the statement runs again in full. */
    memset(&c, 0, sizeof c);
    c.stop_after = 1;
    assert_int_equal(dfdg_store_feed(f->s, "kommune:101", 0, 0, deliveries_cb, &c), DFDG_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(feed(f->s, "kommune:101", 0, 0, &c), 4);
    assert_int_equal(dfdg_store_feed(f->s, "", 0, 0, deliveries_cb, &c), DFDG_INVAL);
    assert_int_equal(dfdg_store_feed(f->s, "kommune:101", 0, 0, NULL, NULL), DFDG_INVAL);

    /* Where each record went, in seq order. */
    assert_int_equal(deliveries_of(f->s, r[0].id, &c), 2);
    assert_string_equal(c.items[0].d.org_id, "kommune:101");
    assert_string_equal(c.items[1].d.org_id, "akasse:3f");
    assert_string_equal(c.items[1].d.record_id, r[0].id);
    assert_string_equal(c.items[1].cpr, "0101901234");
    assert_int_equal(deliveries_of(f->s, comp.id, &c), 1);
    assert_string_equal(c.items[0].cpr, "");
    assert_int_equal(deliveries_of(f->s, missing, &c), 0);

    /* The feed names the person's current CPR number after a change. */
    struct dfdg_person p;
    char prev[1][DFDG_CPR_LEN] = {"0101901234"};
    person_init(&p, "0101905678", "Ane");
    p.previous = prev;
    p.nprevious = 1;
    assert_int_equal(dfdg_store_person_put(f->s, &p, NULL), DFDG_OK);
    assert_int_equal(feed(f->s, "akasse:3f", 0, 1, &c), 1);
    assert_string_equal(c.items[0].cpr, "0101905678");

    /* Deliveries survive a reopen. */
    reopen(f);
    assert_int_equal(feed(f->s, "kommune:101", 0, 0, &c), 4);
    assert_int_equal(dfdg_store_last_delivery_seq(f->s, &last), DFDG_OK);
    assert_int_equal(last, d[5].seq);
}

static void
test_feed_reentrant(void **state)
{
    struct fixture *f = *state;
    int64_t pid = put_simple_person(f->s, "0101901234");
    struct dfdg_record r;
    struct dfdg_delivery d;
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    for (unsigned i = 0; i < 3; i++) {
        record_init(&r, i + 1, "summons", pid, "kommune:101", day(2024, 1, 1), DFDG_DATE_NONE,
                    100 + i);
        assert_int_equal(dfdg_store_record_insert(f->s, &r), DFDG_OK);
        delivery_init(&d, "kommune:101", r.id, "residence", 100 + i);
        assert_int_equal(dfdg_store_delivery_insert(f->s, &d), DFDG_OK);
    }
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);

    struct deliveries_seen c;
    memset(&c, 0, sizeof c);
    c.s = f->s;
    assert_int_equal(dfdg_store_feed(f->s, "kommune:101", 0, 0, deliveries_cb, &c), DFDG_OK);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.nested_ok, 3 * 3);
    /* The outer row's borrowed record stayed intact across the nested calls. */
    assert_string_equal(c.items[2].data, "{\"start_date\":\"2024-01-01\"}");
    make_id(3, r.id);
    assert_string_equal(c.items[2].d.record_id, r.id);

    memset(&c, 0, sizeof c);
    c.s = f->s;
    assert_int_equal(dfdg_store_deliveries_of(f->s, r.id, deliveries_cb, &c), DFDG_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.nested_ok, 3);
}

static void
disclosure_init(struct dfdg_disclosure *d, int64_t at, const char *org, int64_t person_id,
                const char *record_id, const char *type)
{
    memset(d, 0, sizeof *d);
    d->at = at;
    dfdg_strlcpy(d->org_id, org, sizeof d->org_id);
    dfdg_strlcpy(d->sub, "user-7", sizeof d->sub);
    d->person_id = person_id;
    dfdg_strlcpy(d->record_id, record_id, sizeof d->record_id);
    dfdg_strlcpy(d->type, type, sizeof d->type);
    dfdg_strlcpy(d->purpose, "case-handling", sizeof d->purpose);
    dfdg_strlcpy(d->legal_basis, "LAB \xc2\xa7 1; BEK 1234/2024", sizeof d->legal_basis);
    dfdg_strlcpy(d->channel, "feed", sizeof d->channel);
}

static void
test_disclosures(void **state)
{
    struct fixture *f = *state;
    int64_t pid = put_simple_person(f->s, "0101901234");
    struct dfdg_disclosure a, b, bad;
    int64_t n = -1;
    char rid[DFDG_UUID_LEN];
    make_id(1, rid);

    assert_int_equal(dfdg_store_count_disclosures(f->s, &n), DFDG_OK);
    assert_int_equal(n, 0);
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    disclosure_init(&a, 5000, "kommune:101", pid, rid, "summons");
    assert_int_equal(dfdg_store_disclosure_insert(f->s, &a), DFDG_OK);
    /* Company data: no person, and not of one record. */
    disclosure_init(&b, 5001, "star", 0, "", "");
    dfdg_strlcpy(b.sub, "", sizeof b.sub);
    assert_int_equal(dfdg_store_disclosure_insert(f->s, &b), DFDG_OK);
    assert_true(a.seq > 0 && b.seq > a.seq);
    /* GDPR: never without a purpose, a legal basis and a channel. */
    disclosure_init(&bad, 5002, "kommune:101", pid, rid, "summons");
    bad.purpose[0] = '\0';
    assert_int_equal(dfdg_store_disclosure_insert(f->s, &bad), DFDG_INVAL);
    disclosure_init(&bad, 5002, "kommune:101", pid, rid, "summons");
    bad.legal_basis[0] = '\0';
    assert_int_equal(dfdg_store_disclosure_insert(f->s, &bad), DFDG_INVAL);
    disclosure_init(&bad, 5002, "kommune:101", pid, rid, "summons");
    memset(bad.channel, 'x', sizeof bad.channel);
    assert_int_equal(dfdg_store_disclosure_insert(f->s, &bad), DFDG_INVAL);
    disclosure_init(&bad, 5002, "", pid, rid, "summons");
    assert_int_equal(dfdg_store_disclosure_insert(f->s, &bad), DFDG_INVAL);
    assert_int_equal(dfdg_store_disclosure_insert(f->s, NULL), DFDG_INVAL);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);

    disclosure_init(&bad, 5003, "kommune:101", pid, rid, "summons");
    assert_int_equal(dfdg_store_disclosure_insert(f->s, &bad), DFDG_INTERNAL);
    assert_int_equal(dfdg_store_count_disclosures(f->s, &n), DFDG_OK);
    assert_int_equal(n, 2);
    reopen(f);
    assert_int_equal(dfdg_store_count_disclosures(f->s, &n), DFDG_OK);
    assert_int_equal(n, 2);

    if (f->be->raw_int64 == NULL)
        return;
    /* Stored as given; absent person, record and type are NULL, not 0 or "". */
    int64_t v = -1;
    assert_int_equal(f->be->raw_int64(f->uri,
                                      "SELECT count(*) FROM disclosure WHERE person_id IS NULL"
                                      " AND record_id IS NULL AND type IS NULL AND org_id = 'star'",
                                      &v),
                     0);
    assert_int_equal(v, 1);
    assert_int_equal(f->be->raw_int64(f->uri,
                                      "SELECT count(*) FROM disclosure WHERE at = 5000"
                                      " AND org_id = 'kommune:101' AND sub = 'user-7'"
                                      " AND type = 'summons' AND purpose = 'case-handling'"
                                      " AND channel = 'feed' AND legal_basis LIKE 'LAB %'",
                                      &v),
                     0);
    assert_int_equal(v, 1);
}

static void
test_deliveries_disclosures_append_only(void **state)
{
    struct fixture *f = *state;
    if (f->be->raw_exec == NULL)
        skip();
    int64_t pid = put_simple_person(f->s, "0101901234");
    struct dfdg_record r;
    struct dfdg_delivery d;
    struct dfdg_disclosure x;
    record_init(&r, 1, "summons", pid, "kommune:101", day(2024, 1, 1), DFDG_DATE_NONE, 1000);
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_record_insert(f->s, &r), DFDG_OK);
    delivery_init(&d, "kommune:101", r.id, "residence", 1000);
    assert_int_equal(dfdg_store_delivery_insert(f->s, &d), DFDG_OK);
    disclosure_init(&x, 1000, "kommune:101", pid, r.id, "summons");
    assert_int_equal(dfdg_store_disclosure_insert(f->s, &x), DFDG_OK);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);

    static const char *const tampering[] = {
        "UPDATE delivery SET org_id = 'akasse:evil'",
        "UPDATE delivery SET seq = seq + 100",
        "DELETE FROM delivery",
        "UPDATE disclosure SET purpose = 'statistics'",
        "DELETE FROM disclosure",
    };
    char err[256];
    for (size_t i = 0; i < DFDG_ARRAY_LEN(tampering); i++) {
        assert_int_not_equal(f->be->raw_exec(f->uri, tampering[i], err, sizeof err), 0);
        assert_non_null(strstr(err, "append-only"));
    }
    /* The schema refuses a reason outside the list even past store.c's check. */
    assert_int_not_equal(f->be->raw_exec(f->uri,
                                         "INSERT INTO delivery(org_id, record_id, reason,"
                                         " created_at) SELECT 'star', id, 'whim', 1 FROM record",
                                         err, sizeof err),
                         0);

    struct deliveries_seen c;
    assert_int_equal(feed(f->s, "kommune:101", 0, 0, &c), 1);
    assert_int_equal(c.items[0].d.seq, d.seq);
    assert_int_equal(feed(f->s, "akasse:evil", 0, 0, &c), 0);
    assert_int_equal(feed(f->s, "star", 0, 0, &c), 0);
    int64_t n;
    assert_int_equal(dfdg_store_count_disclosures(f->s, &n), DFDG_OK);
    assert_int_equal(n, 1);
}

static void
test_rollback_leaves_no_delivery(void **state)
{
    struct fixture *f = *state;
    int64_t pid = put_simple_person(f->s, "0101901234");
    struct dfdg_record r;
    struct dfdg_delivery d;
    struct dfdg_disclosure x;
    record_init(&r, 1, "summons", pid, "kommune:101", day(2024, 1, 1), DFDG_DATE_NONE, 1000);
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_record_insert(f->s, &r), DFDG_OK);
    delivery_init(&d, "kommune:101", r.id, "residence", 1000);
    assert_int_equal(dfdg_store_delivery_insert(f->s, &d), DFDG_OK);
    disclosure_init(&x, 1000, "kommune:101", pid, r.id, "summons");
    assert_int_equal(dfdg_store_disclosure_insert(f->s, &x), DFDG_OK);
    /* Visible inside the transaction... */
    struct deliveries_seen c;
    assert_int_equal(feed(f->s, "kommune:101", 0, 0, &c), 1);
    assert_int_equal(dfdg_store_rollback(f->s), DFDG_OK);

    /* ...and gone after the rollback. */
    assert_int_equal(feed(f->s, "kommune:101", 0, 0, &c), 0);
    assert_int_equal(deliveries_of(f->s, r.id, &c), 0);
    int64_t n = -1;
    assert_int_equal(dfdg_store_last_delivery_seq(f->s, &n), DFDG_OK);
    assert_int_equal(n, 0);
    assert_int_equal(dfdg_store_count_disclosures(f->s, &n), DFDG_OK);
    assert_int_equal(n, 0);

    /* A savepoint rolled back takes its deliveries along, and the record's stay. */
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_record_insert(f->s, &r), DFDG_OK);
    delivery_init(&d, "kommune:101", r.id, "residence", 1000);
    assert_int_equal(dfdg_store_delivery_insert(f->s, &d), DFDG_OK);
    assert_int_equal(dfdg_store_savepoint(f->s, "route"), DFDG_OK);
    delivery_init(&d, "akasse:3f", r.id, "membership", 1000);
    assert_int_equal(dfdg_store_delivery_insert(f->s, &d), DFDG_OK);
    assert_int_equal(dfdg_store_rollback_to(f->s, "route"), DFDG_OK);
    assert_int_equal(dfdg_store_release(f->s, "route"), DFDG_OK);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
    assert_int_equal(deliveries_of(f->s, r.id, &c), 1);
    assert_string_equal(c.items[0].d.org_id, "kommune:101");
    assert_int_equal(feed(f->s, "akasse:3f", 0, 0, &c), 0);
}

/*
 * What v4 changed, undone on a current store, so older versions can be made from it: the
 * retention index goes and the delete triggers refuse every DELETE again, as up to v3.
 */
static const char undo_v4_record[] =
    "DROP INDEX record_ended_cancel; DROP TRIGGER record_no_delete;"
    " CREATE TRIGGER record_no_delete BEFORE DELETE ON record"
    " BEGIN SELECT RAISE(ABORT, 'records are append-only: no delete'); END;";
static const char undo_v4_delivery[] =
    "DROP TRIGGER delivery_no_delete;"
    " CREATE TRIGGER delivery_no_delete BEFORE DELETE ON delivery"
    " BEGIN SELECT RAISE(ABORT, 'deliveries are append-only: no delete'); END;";

/*
 * A store written by a dfdg at schema version 1 (before deliveries and disclosures): made here
 * by creating a current store and taking the v2 tables out again, then reopened.
 */
static void
test_migration_v1_to_v2(void **state)
{
    struct fixture *f = *state;
    if (f->be->raw_exec == NULL)
        skip();
    assert_true(dfdg_store_schema_version() >= 2);
    struct dfdg_org org = {"kommune:101", "kommune",
                           "K\xc3\xb8"
                           "benhavns Kommune"};
    assert_int_equal(dfdg_store_org_put(f->s, &org), DFDG_OK);
    int64_t pid = put_simple_person(f->s, "0101901234");
    struct dfdg_record r, g;
    record_init(&r, 1, "summons", pid, "kommune:101", day(2024, 1, 1), DFDG_DATE_NONE, 1000);
    insert_one(f->s, &r);
    dfdg_store_close(f->s);
    f->s = NULL;

    static const char v2_objects[] =
        "SELECT count(*) FROM sqlite_master WHERE name IN ('delivery', 'disclosure',"
        " 'delivery_org_seq', 'disclosure_person_at', 'delivery_no_update', 'delivery_no_delete',"
        " 'disclosure_no_update', 'disclosure_no_delete')";
    char err[256];
    int64_t v = -1;
    /* What later versions added goes too: a v1 store has none of it. */
    assert_int_equal(f->be->raw_exec(f->uri, undo_v4_record, err, sizeof err), 0);
    assert_int_equal(f->be->raw_exec(f->uri,
                                     "DROP TABLE delivery; DROP TABLE disclosure;"
                                     " DROP TABLE audit_entry; DROP TABLE audit_subject;"
                                     " DROP TABLE audit_node; DROP TABLE audit_sth;"
                                     " UPDATE schema_version SET version = 1",
                                     err, sizeof err),
                     0);
    assert_int_equal(f->be->raw_int64(f->uri, v2_objects, &v), 0);
    assert_int_equal(v, 0);

    /* Opening migrates: the v2 tables, indexes and triggers exist, the version row is current. */
    reopen(f);
    assert_int_equal(f->be->raw_int64(f->uri, v2_objects, &v), 0);
    assert_int_equal(v, 8);
    assert_int_equal(f->be->raw_int64(f->uri, "SELECT count(*) FROM schema_version", &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(f->be->raw_int64(f->uri, "SELECT version FROM schema_version", &v), 0);
    assert_int_equal(v, dfdg_store_schema_version());

    /* The v1 data is kept. */
    struct dfdg_org got;
    assert_int_equal(dfdg_store_org_get(f->s, "kommune:101", &got), DFDG_OK);
    assert_string_equal(got.name, org.name);
    int64_t pid2;
    assert_int_equal(dfdg_store_person_resolve(f->s, "0101901234", &pid2), DFDG_OK);
    assert_int_equal(pid2, pid);
    assert_int_equal(dfdg_store_record_get(f->s, r.id, &g), DFDG_OK);
    assert_record_equal(&g, &r);
    dfdg_record_cleanup(&g);

    /* And the new tables work, old records included. */
    int64_t n = -1;
    assert_int_equal(dfdg_store_last_delivery_seq(f->s, &n), DFDG_OK);
    assert_int_equal(n, 0);
    struct dfdg_delivery d;
    delivery_init(&d, "kommune:101", r.id, "residence", 2000);
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_delivery_insert(f->s, &d), DFDG_OK);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
    struct deliveries_seen c;
    assert_int_equal(feed(f->s, "kommune:101", 0, 0, &c), 1);
    assert_string_equal(c.items[0].d.record_id, r.id);
    assert_string_equal(c.items[0].cpr, "0101901234");
    assert_int_not_equal(f->be->raw_exec(f->uri, "DELETE FROM delivery", err, sizeof err), 0);
    assert_non_null(strstr(err, "append-only"));

    /* A second reopen migrates nothing again. */
    reopen(f);
    assert_int_equal(feed(f->s, "kommune:101", 0, 0, &c), 1);
}

/* --- the audit log ------------------------------------------------------------------------ */

static void
fill_hash(uint8_t *h, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        h[i] = (uint8_t)(seed * 31u + i);
}

/* What an audit_scan or audit_of_person call handed to its callback, in order. */
struct seen_entry {
    int64_t idx;
    int64_t at;
    char bytes[64];
    size_t len;
};

struct audit_seen {
    struct seen_entry items[32];
    size_t n;
    size_t stop_after;    /* 0 = never stop */
    struct dfdg_store *s; /* non-NULL: re-enter the store from the callback */
    size_t nested_ok;     /* successful nested calls */
};

static bool
audit_count_cb(int64_t idx, int64_t at, const char *entry, size_t len, void *ctx)
{
    (void)idx;
    (void)at;
    (void)entry;
    (void)len;
    (*(size_t *)ctx)++;
    return true;
}

static bool
sth_count_cb(const struct dfdg_sth *h, void *ctx)
{
    (void)h;
    (*(size_t *)ctx)++;
    return true;
}

static bool
audit_cb(int64_t idx, int64_t at, const char *entry, size_t len, void *ctx)
{
    struct audit_seen *c = ctx;
    assert_non_null(entry);
    char copy[64];
    size_t ncopy = len < sizeof copy ? len : sizeof copy;
    memcpy(copy, entry, ncopy);
    if (c->n < DFDG_ARRAY_LEN(c->items)) {
        struct seen_entry *it = &c->items[c->n];
        it->idx = idx;
        it->at = at;
        it->len = len;
        memcpy(it->bytes, entry, ncopy);
    }
    c->n++;
    if (c->s != NULL) {
        /* Re-enter: the size, this leaf's node, the same scan, a person's log, tree heads. */
        int64_t size = -1;
        if (dfdg_store_audit_size(c->s, &size) == DFDG_OK && size > idx)
            c->nested_ok++;
        uint8_t h[32];
        if (dfdg_store_audit_node_get(c->s, 0, idx, h) == DFDG_OK)
            c->nested_ok++;
        size_t k = 0;
        if (dfdg_store_audit_scan(c->s, idx, audit_count_cb, &k) == DFDG_OK && k > 0)
            c->nested_ok++;
        k = 0;
        if (dfdg_store_audit_of_person(c->s, 11, INT64_MAX, 0, audit_count_cb, &k) == DFDG_OK &&
            k > 0)
            c->nested_ok++;
        struct dfdg_sth sth;
        if (dfdg_store_sth_latest(c->s, &sth) == DFDG_OK)
            c->nested_ok++;
        k = 0;
        if (dfdg_store_sth_scan(c->s, sth_count_cb, &k) == DFDG_OK && k > 0)
            c->nested_ok++;
        /* The outer row's borrowed bytes stayed intact across the nested calls. */
        assert_memory_equal(entry, copy, ncopy);
    }
    return c->stop_after == 0 || c->n < c->stop_after;
}

static size_t
audit_scan(struct dfdg_store *s, int64_t from, struct audit_seen *c)
{
    memset(c, 0, sizeof *c);
    assert_int_equal(dfdg_store_audit_scan(s, from, audit_cb, c), DFDG_OK);
    return c->n;
}

static size_t
audit_of(struct dfdg_store *s, int64_t person, int64_t before, size_t limit, struct audit_seen *c)
{
    memset(c, 0, sizeof *c);
    assert_int_equal(dfdg_store_audit_of_person(s, person, before, limit, audit_cb, c), DFDG_OK);
    return c->n;
}

static void
append(struct dfdg_store *s, int64_t idx, int64_t at, const char *entry, size_t len,
       const int64_t *persons, size_t npersons)
{
    if (dfdg_store_audit_append(s, idx, at, entry, len, persons, npersons) != DFDG_OK)
        fail_msg("audit_append %lld: %s", (long long)idx, dfdg_store_last_error(s));
}

/* An entry "e<idx>" at 1000 + idx, concerning persons. */
static void
append_simple(struct dfdg_store *s, int64_t idx, const int64_t *persons, size_t npersons)
{
    char e[32];
    int n = snprintf(e, sizeof e, "e%lld", (long long)idx);
    append(s, idx, 1000 + idx, e, (size_t)n, persons, npersons);
}

static void
test_audit_append_scan(void **state)
{
    struct fixture *f = *state;
    struct audit_seen c;
    int64_t n = -1;
    assert_int_equal(dfdg_store_audit_size(f->s, &n), DFDG_OK);
    assert_int_equal(n, 0);
    assert_int_equal(audit_scan(f->s, 0, &c), 0);

    /* Bytes come back exactly: an inner NUL and high bytes, JSON, and an empty entry. */
    static const char bin[] = {'a', '\0', (char)0xff, 'b', '\n'};
    static const char json[] = "{\"op\":\"feed\",\"org\":\"kommune:101\"}";
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    append(f->s, 0, 1700000000000001, bin, sizeof bin, NULL, 0);
    append(f->s, 1, 1700000000000002, json, strlen(json), NULL, 0);
    append(f->s, 2, 1700000000000003, "", 0, NULL, 0);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_audit_size(f->s, &n), DFDG_OK);
    assert_int_equal(n, 3);

    assert_int_equal(audit_scan(f->s, 0, &c), 3);
    assert_int_equal(c.items[0].idx, 0);
    assert_int_equal(c.items[0].at, 1700000000000001);
    assert_int_equal(c.items[0].len, sizeof bin);
    assert_memory_equal(c.items[0].bytes, bin, sizeof bin);
    assert_int_equal(c.items[1].idx, 1);
    assert_int_equal(c.items[1].at, 1700000000000002);
    assert_int_equal(c.items[1].len, strlen(json));
    assert_memory_equal(c.items[1].bytes, json, strlen(json));
    assert_int_equal(c.items[2].idx, 2);
    assert_int_equal(c.items[2].len, 0);

    /* from is inclusive; past the end is empty; below 0 is everything. */
    assert_int_equal(audit_scan(f->s, 1, &c), 2);
    assert_int_equal(c.items[0].idx, 1);
    assert_int_equal(audit_scan(f->s, 3, &c), 0);
    assert_int_equal(audit_scan(f->s, -5, &c), 3);
    memset(&c, 0, sizeof c);
    c.stop_after = 2;
    assert_int_equal(dfdg_store_audit_scan(f->s, 0, audit_cb, &c), DFDG_OK);
    assert_int_equal(c.n, 2);

    /* Stored as a BLOB (not TEXT, which SQLite might re-encode). */
    if (f->be->raw_int64 != NULL) {
        assert_int_equal(f->be->raw_int64(f->uri,
                                          "SELECT count(*) FROM audit_entry"
                                          " WHERE typeof(entry) = 'blob'",
                                          &n),
                         0);
        assert_int_equal(n, 3);
    }

    /* The store takes indexes as given: a gap shows in scan, and size is the largest + 1. */
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    append_simple(f->s, 5, NULL, 0);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_audit_size(f->s, &n), DFDG_OK);
    assert_int_equal(n, 6);
    assert_int_equal(audit_scan(f->s, 2, &c), 2);
    assert_int_equal(c.items[0].idx, 2);
    assert_int_equal(c.items[1].idx, 5);
    assert_memory_equal(c.items[1].bytes, "e5", 2);

    /* Committed entries survive a reopen. */
    reopen(f);
    assert_int_equal(dfdg_store_audit_size(f->s, &n), DFDG_OK);
    assert_int_equal(n, 6);
    assert_int_equal(audit_scan(f->s, 0, &c), 4);
    assert_memory_equal(c.items[0].bytes, bin, sizeof bin);
}

static void
test_audit_refusals(void **state)
{
    struct fixture *f = *state;
    int64_t n = -1;
    int64_t persons[] = {11};
    struct dfdg_sth h;
    memset(&h, 0, sizeof h);
    h.size = 1;

    /* Outside a transaction: refused, and nothing stored. */
    assert_int_equal(dfdg_store_audit_append(f->s, 0, 1000, "e0", 2, persons, 1), DFDG_INTERNAL);
    assert_non_null(strstr(dfdg_store_last_error(f->s), "transaction"));
    assert_int_equal(dfdg_store_sth_put(f->s, &h), DFDG_INTERNAL);
    assert_int_equal(dfdg_store_audit_size(f->s, &n), DFDG_OK);
    assert_int_equal(n, 0);
    assert_int_equal(dfdg_store_sth_latest(f->s, &h), DFDG_NOT_FOUND);

    /* A duplicate index is a conflict, keeps the first entry and leaves the transaction usable. */
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    append_simple(f->s, 0, persons, 1);
    assert_int_equal(dfdg_store_audit_append(f->s, 0, 2000, "other", 5, persons, 1), DFDG_CONFLICT);
    assert_true(dfdg_store_last_error(f->s)[0] != '\0');
    append_simple(f->s, 1, NULL, 0);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_audit_append(f->s, 1, 2000, "other", 5, NULL, 0), DFDG_CONFLICT);
    assert_int_equal(dfdg_store_rollback(f->s), DFDG_OK);
    struct audit_seen c;
    assert_int_equal(audit_scan(f->s, 0, &c), 2);
    assert_int_equal(c.items[0].at, 1000);
    assert_memory_equal(c.items[0].bytes, "e0", 2);
    assert_int_equal(c.items[1].at, 1001);
    assert_int_equal(audit_of(f->s, 11, INT64_MAX, 0, &c), 1);

    /* Bad arguments never reach the backend. */
    uint8_t hash[32] = {0};
    int64_t bad[] = {11, -3};
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_audit_append(f->s, -1, 0, "x", 1, NULL, 0), DFDG_INVAL);
    assert_int_equal(dfdg_store_audit_append(f->s, 9, 0, NULL, 0, NULL, 0), DFDG_INVAL);
    assert_int_equal(dfdg_store_audit_append(f->s, 9, 0, "x", 1, NULL, 1), DFDG_INVAL);
    assert_int_equal(dfdg_store_audit_append(f->s, 9, 0, "x", 1, bad, 2), DFDG_INVAL);
    assert_int_equal(dfdg_store_audit_node_put(f->s, 64, 0, hash), DFDG_INVAL);
    assert_int_equal(dfdg_store_audit_node_put(f->s, 0, -1, hash), DFDG_INVAL);
    assert_int_equal(dfdg_store_audit_node_put(f->s, 0, 0, NULL), DFDG_INVAL);
    assert_int_equal(dfdg_store_audit_node_get(f->s, 64, 0, hash), DFDG_INVAL);
    assert_int_equal(dfdg_store_audit_node_get(f->s, 0, -1, hash), DFDG_INVAL);
    assert_int_equal(dfdg_store_audit_node_get(f->s, 0, 0, NULL), DFDG_INVAL);
    h.size = -1;
    assert_int_equal(dfdg_store_sth_put(f->s, &h), DFDG_INVAL);
    assert_int_equal(dfdg_store_sth_put(f->s, NULL), DFDG_INVAL);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_audit_size(f->s, NULL), DFDG_INVAL);
    assert_int_equal(dfdg_store_audit_scan(f->s, 0, NULL, NULL), DFDG_INVAL);
    assert_int_equal(dfdg_store_audit_of_person(f->s, 11, INT64_MAX, 0, NULL, NULL), DFDG_INVAL);
    assert_int_equal(dfdg_store_sth_latest(f->s, NULL), DFDG_INVAL);
    assert_int_equal(dfdg_store_sth_scan(f->s, NULL, NULL), DFDG_INVAL);
    assert_int_equal(dfdg_store_audit_size(NULL, &n), DFDG_INVAL);
    assert_int_equal(dfdg_store_audit_append(NULL, 0, 0, "x", 1, NULL, 0), DFDG_INVAL);
    assert_int_equal(dfdg_store_audit_size(f->s, &n), DFDG_OK);
    assert_int_equal(n, 2);
    assert_int_equal(dfdg_store_audit_node_get(f->s, 0, 0, hash), DFDG_NOT_FOUND);
}

static void
test_audit_of_person(void **state)
{
    struct fixture *f = *state;
    static const int64_t p0[] = {11};
    static const int64_t p1[] = {11, 22, 11, 0}; /* a repeat and "no person" */
    static const int64_t p2[] = {22};
    static const int64_t p4[] = {0};
    static const int64_t p5[] = {11, 11};
    static const int64_t p6[] = {33, 11, 22, 11};
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    append_simple(f->s, 0, p0, DFDG_ARRAY_LEN(p0));
    append_simple(f->s, 1, p1, DFDG_ARRAY_LEN(p1));
    append_simple(f->s, 2, p2, DFDG_ARRAY_LEN(p2));
    append_simple(f->s, 3, NULL, 0);
    append_simple(f->s, 4, p4, DFDG_ARRAY_LEN(p4));
    append_simple(f->s, 5, p5, DFDG_ARRAY_LEN(p5));
    append_simple(f->s, 6, p6, DFDG_ARRAY_LEN(p6));
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);

    /* Each person once per entry, newest first, with the entry's time and bytes. */
    struct audit_seen c;
    assert_int_equal(audit_of(f->s, 11, INT64_MAX, 0, &c), 4);
    assert_int_equal(c.items[0].idx, 6);
    assert_int_equal(c.items[1].idx, 5);
    assert_int_equal(c.items[2].idx, 1);
    assert_int_equal(c.items[3].idx, 0);
    assert_int_equal(c.items[0].at, 1006);
    assert_int_equal(c.items[0].len, 2);
    assert_memory_equal(c.items[0].bytes, "e6", 2);
    assert_int_equal(audit_of(f->s, 22, INT64_MAX, 0, &c), 3);
    assert_int_equal(c.items[0].idx, 6);
    assert_int_equal(c.items[1].idx, 2);
    assert_int_equal(c.items[2].idx, 1);
    assert_int_equal(audit_of(f->s, 33, INT64_MAX, 0, &c), 1);
    assert_int_equal(c.items[0].idx, 6);
    assert_int_equal(audit_of(f->s, 44, INT64_MAX, 0, &c), 0);
    /* 0 means "no person": never recorded as one. */
    assert_int_equal(audit_of(f->s, 0, INT64_MAX, 0, &c), 0);

    /* before is exclusive; limit pages backwards. */
    assert_int_equal(audit_of(f->s, 11, 6, 0, &c), 3);
    assert_int_equal(c.items[0].idx, 5);
    assert_int_equal(audit_of(f->s, 11, 5, 0, &c), 2);
    assert_int_equal(c.items[0].idx, 1);
    assert_int_equal(audit_of(f->s, 11, 0, 0, &c), 0);
    assert_int_equal(audit_of(f->s, 11, INT64_MAX, 2, &c), 2);
    assert_int_equal(c.items[0].idx, 6);
    assert_int_equal(c.items[1].idx, 5);
    assert_int_equal(audit_of(f->s, 11, c.items[1].idx, 2, &c), 2);
    assert_int_equal(c.items[0].idx, 1);
    assert_int_equal(c.items[1].idx, 0);
    assert_int_equal(audit_of(f->s, 11, 0, 2, &c), 0);
    memset(&c, 0, sizeof c);
    c.stop_after = 1;
    assert_int_equal(dfdg_store_audit_of_person(f->s, 22, INT64_MAX, 0, audit_cb, &c), DFDG_OK);
    assert_int_equal(c.n, 1);

    if (f->be->raw_int64 == NULL)
        return;
    int64_t n = -1;
    assert_int_equal(f->be->raw_int64(f->uri, "SELECT count(*) FROM audit_subject", &n), 0);
    assert_int_equal(n, 1 + 2 + 1 + 1 + 3);
    assert_int_equal(
        f->be->raw_int64(f->uri, "SELECT count(*) FROM audit_subject WHERE person_id = 0", &n), 0);
    assert_int_equal(n, 0);
}

static void
test_audit_nodes(void **state)
{
    struct fixture *f = *state;
    uint8_t h[4][32], got[32];
    for (unsigned i = 0; i < 4; i++)
        fill_hash(h[i], sizeof h[i], i + 1);
    assert_int_equal(dfdg_store_audit_node_get(f->s, 0, 0, got), DFDG_NOT_FOUND);

    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_audit_node_put(f->s, 0, 0, h[0]), DFDG_OK);
    assert_int_equal(dfdg_store_audit_node_put(f->s, 0, 1, h[1]), DFDG_OK);
    assert_int_equal(dfdg_store_audit_node_put(f->s, 1, 0, h[2]), DFDG_OK);
    assert_int_equal(dfdg_store_audit_node_put(f->s, 63, 123456789012, h[3]), DFDG_OK);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);

    assert_int_equal(dfdg_store_audit_node_get(f->s, 0, 0, got), DFDG_OK);
    assert_memory_equal(got, h[0], 32);
    assert_int_equal(dfdg_store_audit_node_get(f->s, 0, 1, got), DFDG_OK);
    assert_memory_equal(got, h[1], 32);
    assert_int_equal(dfdg_store_audit_node_get(f->s, 1, 0, got), DFDG_OK);
    assert_memory_equal(got, h[2], 32);
    assert_int_equal(dfdg_store_audit_node_get(f->s, 63, 123456789012, got), DFDG_OK);
    assert_memory_equal(got, h[3], 32);
    /* The level is part of the key. */
    assert_int_equal(dfdg_store_audit_node_get(f->s, 1, 1, got), DFDG_NOT_FOUND);
    assert_int_equal(dfdg_store_audit_node_get(f->s, 0, 2, got), DFDG_NOT_FOUND);
    assert_int_equal(dfdg_store_audit_node_get(f->s, 2, 0, got), DFDG_NOT_FOUND);

    /* Written once: a second write conflicts and the first hash stays. */
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_audit_node_put(f->s, 0, 0, h[3]), DFDG_CONFLICT);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
    reopen(f);
    assert_int_equal(dfdg_store_audit_node_get(f->s, 0, 0, got), DFDG_OK);
    assert_memory_equal(got, h[0], 32);

    if (f->be->raw_exec == NULL)
        return;
    /* A hash of the wrong length (checks switched off by a tamperer) is corrupt, not data. */
    char err[256];
    assert_int_equal(f->be->raw_exec(f->uri,
                                     "PRAGMA ignore_check_constraints = ON;"
                                     " UPDATE audit_node SET hash = x'0102' WHERE level = 0"
                                     " AND idx = 1",
                                     err, sizeof err),
                     0);
    assert_int_equal(dfdg_store_audit_node_get(f->s, 0, 1, got), DFDG_CORRUPT);
    assert_non_null(strstr(dfdg_store_last_error(f->s), "audit_node"));
}

static void
sth_init(struct dfdg_sth *h, int64_t size, int64_t at, unsigned seed)
{
    memset(h, 0, sizeof *h);
    h->size = size;
    h->at = at;
    fill_hash(h->root, sizeof h->root, seed);
    fill_hash(h->sig, sizeof h->sig, seed + 100);
}

struct sths_seen {
    struct dfdg_sth items[8];
    size_t n;
    size_t stop_after; /* 0 = never stop */
};

static bool
sth_cb(const struct dfdg_sth *h, void *ctx)
{
    struct sths_seen *c = ctx;
    if (c->n < DFDG_ARRAY_LEN(c->items))
        c->items[c->n] = *h;
    c->n++;
    return c->stop_after == 0 || c->n < c->stop_after;
}

static void
assert_sth_equal(const struct dfdg_sth *a, const struct dfdg_sth *b)
{
    assert_int_equal(a->size, b->size);
    assert_int_equal(a->at, b->at);
    assert_memory_equal(a->root, b->root, sizeof a->root);
    assert_memory_equal(a->sig, b->sig, sizeof a->sig);
}

static void
test_sth(void **state)
{
    struct fixture *f = *state;
    struct dfdg_sth h[4], got;
    struct sths_seen c;
    memset(&c, 0, sizeof c);
    assert_int_equal(dfdg_store_sth_latest(f->s, &got), DFDG_NOT_FOUND);
    assert_int_equal(dfdg_store_sth_scan(f->s, sth_cb, &c), DFDG_OK);
    assert_int_equal(c.n, 0);

    /* Stored out of order: latest is the largest size (not the latest signed), scan ascends. */
    sth_init(&h[0], 3, 3000, 3);
    sth_init(&h[1], 1, 1000, 1);
    sth_init(&h[2], 7, 2500, 7);
    sth_init(&h[3], 0, 500, 9);
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(dfdg_store_sth_put(f->s, &h[i]), DFDG_OK);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_sth_latest(f->s, &got), DFDG_OK);
    assert_sth_equal(&got, &h[2]);
    assert_int_equal(dfdg_store_sth_scan(f->s, sth_cb, &c), DFDG_OK);
    assert_int_equal(c.n, 4);
    assert_sth_equal(&c.items[0], &h[3]);
    assert_sth_equal(&c.items[1], &h[1]);
    assert_sth_equal(&c.items[2], &h[0]);
    assert_sth_equal(&c.items[3], &h[2]);
    memset(&c, 0, sizeof c);
    c.stop_after = 2;
    assert_int_equal(dfdg_store_sth_scan(f->s, sth_cb, &c), DFDG_OK);
    assert_int_equal(c.n, 2);

    /* One head per size: a second conflicts and the first stays. */
    struct dfdg_sth other;
    sth_init(&other, 7, 9999, 42);
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_sth_put(f->s, &other), DFDG_CONFLICT);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
    reopen(f);
    assert_int_equal(dfdg_store_sth_latest(f->s, &got), DFDG_OK);
    assert_sth_equal(&got, &h[2]);

    if (f->be->raw_exec == NULL)
        return;
    char err[256];
    assert_int_equal(f->be->raw_exec(f->uri,
                                     "PRAGMA ignore_check_constraints = ON;"
                                     " UPDATE audit_sth SET sig = x'00' WHERE size = 7",
                                     err, sizeof err),
                     0);
    assert_int_equal(dfdg_store_sth_latest(f->s, &got), DFDG_CORRUPT);
    memset(&c, 0, sizeof c);
    assert_int_equal(dfdg_store_sth_scan(f->s, sth_cb, &c), DFDG_CORRUPT);
    assert_int_equal(c.n, 3);
}

static void
test_audit_rollback(void **state)
{
    struct fixture *f = *state;
    static const int64_t persons[] = {11};
    uint8_t hash[32], got[32];
    fill_hash(hash, sizeof hash, 5);
    struct dfdg_sth h, gh;
    sth_init(&h, 1, 1000, 1);

    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    append_simple(f->s, 0, persons, 1);
    assert_int_equal(dfdg_store_audit_node_put(f->s, 0, 0, hash), DFDG_OK);
    assert_int_equal(dfdg_store_sth_put(f->s, &h), DFDG_OK);
    /* Visible inside the transaction... */
    int64_t n = -1;
    assert_int_equal(dfdg_store_audit_size(f->s, &n), DFDG_OK);
    assert_int_equal(n, 1);
    assert_int_equal(dfdg_store_rollback(f->s), DFDG_OK);

    /* ...and gone after the rollback, with the persons' rows. */
    struct audit_seen c;
    assert_int_equal(dfdg_store_audit_size(f->s, &n), DFDG_OK);
    assert_int_equal(n, 0);
    assert_int_equal(audit_scan(f->s, 0, &c), 0);
    assert_int_equal(audit_of(f->s, 11, INT64_MAX, 0, &c), 0);
    assert_int_equal(dfdg_store_audit_node_get(f->s, 0, 0, got), DFDG_NOT_FOUND);
    assert_int_equal(dfdg_store_sth_latest(f->s, &gh), DFDG_NOT_FOUND);
    if (f->be->raw_int64 != NULL) {
        assert_int_equal(f->be->raw_int64(f->uri, "SELECT count(*) FROM audit_subject", &n), 0);
        assert_int_equal(n, 0);
    }

    /* A savepoint rolled back takes its entries and nodes along; the earlier ones stay. */
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    append_simple(f->s, 0, persons, 1);
    assert_int_equal(dfdg_store_savepoint(f->s, "batch"), DFDG_OK);
    append_simple(f->s, 1, persons, 1);
    assert_int_equal(dfdg_store_audit_node_put(f->s, 0, 1, hash), DFDG_OK);
    assert_int_equal(dfdg_store_rollback_to(f->s, "batch"), DFDG_OK);
    assert_int_equal(dfdg_store_release(f->s, "batch"), DFDG_OK);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_audit_size(f->s, &n), DFDG_OK);
    assert_int_equal(n, 1);
    assert_int_equal(audit_of(f->s, 11, INT64_MAX, 0, &c), 1);
    assert_int_equal(dfdg_store_audit_node_get(f->s, 0, 1, got), DFDG_NOT_FOUND);
}

/*
 * The audit tables have no append-only triggers on purpose: someone with raw access could drop
 * them anyway, so protection is the Merkle tree's (src/audit), and the store must hand a
 * verifier exactly what is there, tampered or not.
 */
static void
test_audit_tamper_is_visible(void **state)
{
    struct fixture *f = *state;
    if (f->be->raw_exec == NULL)
        skip();
    static const int64_t persons[] = {11};
    uint8_t hash[32], got[32];
    fill_hash(hash, sizeof hash, 5);
    struct dfdg_sth h;
    sth_init(&h, 3, 3000, 3);
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    for (int64_t i = 0; i < 3; i++)
        append_simple(f->s, i, persons, 1);
    assert_int_equal(dfdg_store_audit_node_put(f->s, 0, 0, hash), DFDG_OK);
    assert_int_equal(dfdg_store_sth_put(f->s, &h), DFDG_OK);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);

    char err[256];
    assert_int_equal(f->be->raw_exec(f->uri,
                                     "UPDATE audit_entry SET entry = x'00ff', at = 7"
                                     " WHERE idx = 1;"
                                     " DELETE FROM audit_entry WHERE idx = 2;"
                                     " DELETE FROM audit_subject WHERE idx = 0;"
                                     " UPDATE audit_node SET hash = zeroblob(32);"
                                     " UPDATE audit_sth SET at = 1",
                                     err, sizeof err),
                     0);
    struct audit_seen c;
    assert_int_equal(audit_scan(f->s, 0, &c), 2);
    assert_int_equal(c.items[1].idx, 1);
    assert_int_equal(c.items[1].at, 7);
    assert_int_equal(c.items[1].len, 2);
    assert_memory_equal(c.items[1].bytes, "\x00\xff", 2);
    int64_t n = -1;
    assert_int_equal(dfdg_store_audit_size(f->s, &n), DFDG_OK);
    assert_int_equal(n, 2);
    assert_int_equal(audit_of(f->s, 11, INT64_MAX, 0, &c), 1);
    assert_int_equal(c.items[0].idx, 1);
    assert_int_equal(dfdg_store_audit_node_get(f->s, 0, 0, got), DFDG_OK);
    static const uint8_t zero[32] = {0};
    assert_memory_equal(got, zero, 32);
    struct dfdg_sth gh;
    assert_int_equal(dfdg_store_sth_latest(f->s, &gh), DFDG_OK);
    assert_int_equal(gh.at, 1);
}

static void
test_audit_reentrant(void **state)
{
    struct fixture *f = *state;
    static const int64_t persons[] = {11};
    uint8_t hash[32];
    struct dfdg_sth h;
    sth_init(&h, 3, 3000, 3);
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    for (int64_t i = 0; i < 3; i++) {
        append_simple(f->s, i, persons, 1);
        fill_hash(hash, sizeof hash, (unsigned)i);
        assert_int_equal(dfdg_store_audit_node_put(f->s, 0, i, hash), DFDG_OK);
    }
    assert_int_equal(dfdg_store_sth_put(f->s, &h), DFDG_OK);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);

    struct audit_seen c;
    memset(&c, 0, sizeof c);
    c.s = f->s;
    assert_int_equal(dfdg_store_audit_scan(f->s, 0, audit_cb, &c), DFDG_OK);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.nested_ok, 3 * 6);
    assert_memory_equal(c.items[2].bytes, "e2", 2);

    memset(&c, 0, sizeof c);
    c.s = f->s;
    assert_int_equal(dfdg_store_audit_of_person(f->s, 11, INT64_MAX, 0, audit_cb, &c), DFDG_OK);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.nested_ok, 3 * 6);
    assert_int_equal(c.items[0].idx, 2);
}

/*
 * A store written by a dfdg at schema version 2 (before the audit log): made by creating a
 * current store and taking the v3 tables out again, then reopened.
 */
static void
test_migration_v2_to_v3(void **state)
{
    struct fixture *f = *state;
    if (f->be->raw_exec == NULL)
        skip();
    assert_true(dfdg_store_schema_version() >= 3);
    int64_t pid = put_simple_person(f->s, "0101901234");
    struct dfdg_record r, g;
    record_init(&r, 1, "summons", pid, "kommune:101", day(2024, 1, 1), DFDG_DATE_NONE, 1000);
    struct dfdg_delivery d;
    delivery_init(&d, "kommune:101", r.id, "residence", 1000);
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_record_insert(f->s, &r), DFDG_OK);
    assert_int_equal(dfdg_store_delivery_insert(f->s, &d), DFDG_OK);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
    dfdg_store_close(f->s);
    f->s = NULL;

    static const char v3_objects[] =
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('audit_entry',"
        " 'audit_subject', 'audit_node', 'audit_sth')";
    static const char audit_triggers[] =
        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name LIKE 'audit%'";
    char err[256];
    int64_t v = -1;
    assert_int_equal(f->be->raw_exec(f->uri, undo_v4_record, err, sizeof err), 0);
    assert_int_equal(f->be->raw_exec(f->uri, undo_v4_delivery, err, sizeof err), 0);
    assert_int_equal(f->be->raw_exec(f->uri,
                                     "DROP TABLE audit_entry; DROP TABLE audit_subject;"
                                     " DROP TABLE audit_node; DROP TABLE audit_sth;"
                                     " UPDATE schema_version SET version = 2",
                                     err, sizeof err),
                     0);
    assert_int_equal(f->be->raw_int64(f->uri, v3_objects, &v), 0);
    assert_int_equal(v, 0);

    /* Opening migrates: the audit tables exist, without triggers, and the version is current. */
    reopen(f);
    assert_int_equal(f->be->raw_int64(f->uri, v3_objects, &v), 0);
    assert_int_equal(v, 4);
    assert_int_equal(f->be->raw_int64(f->uri, audit_triggers, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(f->be->raw_int64(f->uri, "SELECT count(*) FROM schema_version", &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(f->be->raw_int64(f->uri, "SELECT version FROM schema_version", &v), 0);
    assert_int_equal(v, dfdg_store_schema_version());

    /* The v2 data is kept. */
    assert_int_equal(dfdg_store_record_get(f->s, r.id, &g), DFDG_OK);
    assert_record_equal(&g, &r);
    dfdg_record_cleanup(&g);
    struct deliveries_seen c;
    assert_int_equal(feed(f->s, "kommune:101", 0, 0, &c), 1);
    assert_string_equal(c.items[0].d.record_id, r.id);

    /* And the audit log works. */
    int64_t n = -1;
    assert_int_equal(dfdg_store_audit_size(f->s, &n), DFDG_OK);
    assert_int_equal(n, 0);
    int64_t persons[] = {pid};
    uint8_t hash[32], got[32];
    fill_hash(hash, sizeof hash, 1);
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    append_simple(f->s, 0, persons, 1);
    assert_int_equal(dfdg_store_audit_node_put(f->s, 0, 0, hash), DFDG_OK);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);

    /* A second reopen migrates nothing again. */
    reopen(f);
    assert_int_equal(dfdg_store_audit_size(f->s, &n), DFDG_OK);
    assert_int_equal(n, 1);
    struct audit_seen a;
    assert_int_equal(audit_of(f->s, pid, INT64_MAX, 0, &a), 1);
    assert_int_equal(dfdg_store_audit_node_get(f->s, 0, 0, got), DFDG_OK);
    assert_memory_equal(got, hash, 32);
}

/* --- transactions ------------------------------------------------------------------------- */

static void
test_rollback_leaves_nothing(void **state)
{
    struct fixture *f = *state;
    int64_t pid = put_simple_person(f->s, "0101901234");
    struct dfdg_record r, g;
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    record_init(&r, 1, "summons", pid, "kommune:101", day(2024, 1, 1), DFDG_DATE_NONE, 1000);
    assert_int_equal(dfdg_store_record_insert(f->s, &r), DFDG_OK);
    struct dfdg_org org = {"star", "star", "STAR"};
    assert_int_equal(dfdg_store_org_put(f->s, &org), DFDG_OK);
    assert_int_equal(dfdg_store_meta_put(f->s, "k", "v", 1), DFDG_OK);
    assert_int_equal(dfdg_store_rollback(f->s), DFDG_OK);

    int64_t n;
    assert_int_equal(dfdg_store_count_records(f->s, &n), DFDG_OK);
    assert_int_equal(n, 0);
    assert_int_equal(dfdg_store_record_get(f->s, r.id, &g), DFDG_NOT_FOUND);
    struct dfdg_org got;
    assert_int_equal(dfdg_store_org_get(f->s, "star", &got), DFDG_NOT_FOUND);
    struct dfdg_org *orgs = (struct dfdg_org *)&got;
    size_t norgs = 5;
    assert_int_equal(dfdg_store_org_list(f->s, &orgs, &norgs), DFDG_OK);
    assert_int_equal(norgs, 0);
    free(orgs);
    char buf[8];
    size_t len = sizeof buf;
    assert_int_equal(dfdg_store_meta_get(f->s, "k", buf, &len), DFDG_NOT_FOUND);
    assert_int_equal(dfdg_store_last_recorded_at(f->s, &n), DFDG_OK);
    assert_int_equal(n, 0);

    /* Rollback with nothing open is harmless; begin twice is refused. */
    assert_int_equal(dfdg_store_rollback(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    assert_int_not_equal(dfdg_store_begin(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_rollback(f->s), DFDG_OK);
    assert_int_not_equal(dfdg_store_commit(f->s), DFDG_OK);
}

static void
test_savepoints(void **state)
{
    struct fixture *f = *state;
    int64_t pid = put_simple_person(f->s, "0101901234");
    struct dfdg_record r1, r2, r3, g;
    record_init(&r1, 1, "summons", pid, "kommune:101", day(2024, 1, 1), DFDG_DATE_NONE, 1000);
    record_init(&r2, 2, "summons", pid, "kommune:101", day(2024, 1, 2), DFDG_DATE_NONE, 1001);
    record_init(&r3, 3, "summons", pid, "kommune:101", day(2024, 1, 3), DFDG_DATE_NONE, 1002);

    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_record_insert(f->s, &r1), DFDG_OK);
    assert_int_equal(dfdg_store_savepoint(f->s, "req_1"), DFDG_OK);
    assert_int_equal(dfdg_store_record_insert(f->s, &r2), DFDG_OK);
    assert_int_equal(dfdg_store_rollback_to(f->s, "req_1"), DFDG_OK);
    assert_int_equal(dfdg_store_release(f->s, "req_1"), DFDG_OK);
    assert_int_equal(dfdg_store_savepoint(f->s, "req_2"), DFDG_OK);
    assert_int_equal(dfdg_store_record_insert(f->s, &r3), DFDG_OK);
    assert_int_equal(dfdg_store_release(f->s, "req_2"), DFDG_OK);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);

    assert_int_equal(dfdg_store_record_get(f->s, r1.id, &g), DFDG_OK);
    dfdg_record_cleanup(&g);
    assert_int_equal(dfdg_store_record_get(f->s, r2.id, &g), DFDG_NOT_FOUND);
    assert_int_equal(dfdg_store_record_get(f->s, r3.id, &g), DFDG_OK);
    dfdg_record_cleanup(&g);

    /* Names outside [a-z0-9_]+ never reach SQL. */
    assert_int_equal(dfdg_store_savepoint(f->s, ""), DFDG_INVAL);
    assert_int_equal(dfdg_store_savepoint(f->s, "Req"), DFDG_INVAL);
    assert_int_equal(dfdg_store_savepoint(f->s, "a; DROP TABLE record"), DFDG_INVAL);
    assert_int_equal(dfdg_store_release(f->s, "a-b"), DFDG_INVAL);
    assert_int_equal(dfdg_store_rollback_to(f->s, NULL), DFDG_INVAL);
    assert_int_not_equal(dfdg_store_release(f->s, "never_made"), DFDG_OK);
}

static void
test_null_handles(void **state)
{
    (void)state;
    int64_t n;
    assert_int_equal(dfdg_store_count_records(NULL, &n), DFDG_INVAL);
    assert_int_equal(dfdg_store_begin(NULL), DFDG_INVAL);
    assert_string_equal(dfdg_store_last_error(NULL), "");
    dfdg_store_close(NULL);
    assert_int_equal(dfdg_store_open("x", DFDG_STORE_OPEN, NULL, NULL), DFDG_INVAL);
}

/* --- throughput (printed, never asserted: speed is measured in bench/) --------------------- */

static void
test_throughput(void **state)
{
    struct fixture *f = *state;
    enum { N = 100000, PERSONS = 100 };
    int64_t pids[PERSONS];
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    for (int i = 0; i < PERSONS; i++) {
        char cpr[DFDG_CPR_LEN];
        snprintf(cpr, sizeof cpr, "0101%06u", (unsigned)i % 1000000u);
        pids[i] = put_simple_person(f->s, cpr);
    }
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);

    static const char data[] = "{\"start_date\":\"2024-01-01\",\"leaving_reason\":null,"
                               "\"note\":\"synthetic record for the store throughput check\"}";
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    struct dfdg_record r;
    for (unsigned i = 0; i < N; i++) {
        record_init(&r, i + 1, (i % 3) != 0 ? "summons" : "absence", pids[i % PERSONS],
                    "kommune:101", day(2024, 1, 1) + (int32_t)(i % 365), DFDG_DATE_NONE,
                    1700000000000000 + i);
        r.data = (char *)data;
        if (dfdg_store_record_insert(f->s, &r) != DFDG_OK)
            fail_msg("insert %u: %s", i, dfdg_store_last_error(f->s));
    }
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("store throughput: %d records in one transaction in %.3f s = %.0f records/s\n", N, secs,
           (double)N / secs);

    int64_t n;
    assert_int_equal(dfdg_store_count_records(f->s, &n), DFDG_OK);
    assert_int_equal(n, N);
    assert_int_equal(dfdg_store_last_recorded_at(f->s, &n), DFDG_OK);
    assert_int_equal(n, 1700000000000000 + N - 1);

    /* A person's records of a type valid on a day: printed for the same reason. */
    struct collected c;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t total = 0;
    for (int i = 0; i < 1000; i++)
        total += query(f->s, pids[i % PERSONS], "absence", day(2024, 6, 1), INT64_MAX, &c);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(total > 0);
    printf("store query: 1000 person/type/valid_on queries (~%zu rows each) in %.3f s\n",
           total / 1000, secs);
}

/*
 * The audit writer's work per entry: the entry with its persons, its leaf hash and the hashes
 * of the perfect subtrees it completes (about two node writes per entry on average).
 */
static void
audit_write_one(struct dfdg_store *s, int64_t i)
{
    char e[256];
    int len = snprintf(e, sizeof e,
                       "{\"at\":%lld,\"channel\":\"feed\",\"org\":\"kommune:101\","
                       "\"purpose\":\"case-handling\",\"record\":\"01900000-0000-7000-8000-%012llx"
                       "\",\"sub\":\"user-7\",\"type\":\"summons\"}",
                       (long long)(1700000000000000 + i), (unsigned long long)i);
    int64_t persons[2] = {1 + i % 10000, 1 + (i * 7) % 10000};
    if (dfdg_store_audit_append(s, i, 1700000000000000 + i, e, (size_t)len, persons,
                                i % 10 == 0 ? 2 : 1) != DFDG_OK)
        fail_msg("audit_append %lld: %s", (long long)i, dfdg_store_last_error(s));
    uint8_t h[32];
    fill_hash(h, sizeof h, (unsigned)i);
    int64_t idx = i;
    for (unsigned level = 0;; level++) {
        if (dfdg_store_audit_node_put(s, level, idx, h) != DFDG_OK)
            fail_msg("audit_node_put %u/%lld: %s", level, (long long)idx, dfdg_store_last_error(s));
        if ((idx & 1) == 0)
            break;
        idx >>= 1;
    }
}

static double
seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void
test_audit_throughput(void **state)
{
    struct fixture *f = *state;
    enum { N = 100000, GROUPS = 40, GROUP = 500 };
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    for (int64_t i = 0; i < N; i++)
        audit_write_one(f->s, i);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
    double secs = seconds_since(&t0);
    printf("audit throughput: %d entries (+ nodes, persons) in one transaction in %.3f s"
           " = %.0f entries/s\n",
           N, secs, (double)N / secs);

    /* Group commit: every commit durable (synchronous=FULL). */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int64_t g = 0; g < GROUPS; g++) {
        assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
        for (int64_t i = 0; i < GROUP; i++)
            audit_write_one(f->s, N + g * GROUP + i);
        assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
    }
    secs = seconds_since(&t0);
    printf("audit throughput: %d entries in %d durable commits of %d in %.3f s = %.0f entries/s\n",
           GROUPS * GROUP, GROUPS, GROUP, secs, (double)(GROUPS * GROUP) / secs);

    int64_t n = -1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(dfdg_store_audit_size(f->s, &n), DFDG_OK);
    secs = seconds_since(&t0);
    assert_int_equal(n, N + GROUPS * GROUP);
    printf("audit size: 1000 calls in %.4f s\n", secs);

    size_t k = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(dfdg_store_audit_scan(f->s, 0, audit_count_cb, &k), DFDG_OK);
    secs = seconds_since(&t0);
    assert_int_equal(k, N + GROUPS * GROUP);
    printf("audit scan: %zu entries in %.3f s\n", k, secs);

    k = 0;
    assert_int_equal(dfdg_store_audit_of_person(f->s, 1, INT64_MAX, 0, audit_count_cb, &k),
                     DFDG_OK);
    assert_true(k > 0);
    uint8_t h[32], want[32];
    assert_int_equal(dfdg_store_audit_node_get(f->s, 16, 0, h), DFDG_OK);
    fill_hash(want, sizeof want, (unsigned)((1 << 16) - 1));
    assert_memory_equal(h, want, 32);
}

/* --- retention ---------------------------------------------------------------------------- */

#define US_DAY INT64_C(86400000000)

/* The chains a scan passed to its callback, in order. */
struct ends_seen {
    struct dfdg_chain_end items[32];
    size_t n;
    size_t stop_after; /* stop after this many in one call (0 = never) */
    size_t in_call;    /* passed in the current call */
};

static bool
ends_cb(const struct dfdg_chain_end *c, void *ctx)
{
    struct ends_seen *e = ctx;
    if (e->n < DFDG_ARRAY_LEN(e->items))
        e->items[e->n] = *c;
    e->n++;
    e->in_call++;
    return e->stop_after == 0 || e->in_call < e->stop_after;
}

/* Scans type to the end, in calls of at most stop_after chains; returns the calls made. */
static size_t
scan_ended(struct dfdg_store *s, const char *type, int32_t before, size_t stop_after,
           struct ends_seen *e)
{
    memset(e, 0, sizeof *e);
    e->stop_after = stop_after;
    struct dfdg_chain_cursor cur;
    memset(&cur, 0, sizeof cur);
    size_t calls = 0;
    while (cur.phase != 2) {
        e->in_call = 0;
        assert_int_equal(dfdg_store_chains_ended(s, type, before, &cur, ends_cb, e), DFDG_OK);
        calls++;
        assert_true(calls < 100);
    }
    /* A finished scan stays finished. */
    size_t n = e->n;
    assert_int_equal(dfdg_store_chains_ended(s, type, before, &cur, ends_cb, e), DFDG_OK);
    assert_int_equal(e->n, n);
    return calls;
}

static const struct dfdg_chain_end *
find_end(const struct ends_seen *e, const char *id)
{
    for (size_t i = 0; i < e->n && i < DFDG_ARRAY_LEN(e->items); i++) {
        if (strcmp(e->items[i].last_id, id) == 0)
            return &e->items[i];
    }
    return NULL;
}

static void
insert_all(struct dfdg_store *s, struct dfdg_record *r, size_t n)
{
    assert_int_equal(dfdg_store_begin(s), DFDG_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(dfdg_store_record_insert(s, &r[i]), DFDG_OK);
    assert_int_equal(dfdg_store_commit(s), DFDG_OK);
}

/*
 * Which chains have ended before a day: by the current version's valid_to (a correction counts,
 * not what it replaced), by the day a cancellation was recorded, never while open; per type;
 * the day itself is not before it; days before 1970 too; and a scan stopped after every chain
 * and resumed sees each chain exactly once, in the same order.
 */
static void
test_chains_ended(void **state)
{
    struct fixture *f = *state;
    int64_t pid = put_simple_person(f->s, "0101901234");
    int32_t before = day(2020, 1, 1);
    int64_t t = day(2001, 1, 1) * US_DAY;
    struct dfdg_record r[14];
    /* 0: ended 2010-06-30. */
    record_init(&r[0], 1, "summons", pid, "kommune:101", day(2010, 1, 1), day(2010, 6, 30), t + 1);
    /* 1: open: never ends. */
    record_init(&r[1], 2, "summons", pid, "kommune:101", day(2005, 1, 1), DFDG_DATE_NONE, t + 2);
    /* 2 -> 3: ended in 2005, then corrected to end in 2030: not ended. */
    record_init(&r[2], 3, "summons", pid, "kommune:101", day(2005, 1, 1), day(2005, 2, 1), t + 3);
    successor_init(&r[3], 4, &r[2], DFDG_RECORD_CORRECTION, t + 4);
    r[3].valid_to = day(2030, 1, 1);
    /* 4 -> 5: open, then corrected to end 2009-12-31: ended, at the correction. */
    record_init(&r[4], 5, "summons", pid, "kommune:101", day(2009, 1, 1), DFDG_DATE_NONE, t + 5);
    successor_init(&r[5], 6, &r[4], DFDG_RECORD_CORRECTION, t + 6);
    r[5].valid_to = day(2009, 12, 31);
    /* 6 -> 7: open, cancelled on 2012-03-04 at noon UTC: ended that day. */
    record_init(&r[6], 7, "summons", pid, "kommune:101", day(2011, 1, 1), DFDG_DATE_NONE,
                day(2011, 1, 1) * US_DAY);
    successor_init(&r[7], 8, &r[6], DFDG_RECORD_CANCELLATION,
                   day(2012, 3, 4) * US_DAY + 43200000000);
    /* 8: another type: not in a summons scan. */
    record_init(&r[8], 9, "absence", pid, "kommune:101", day(2005, 1, 1), day(2005, 1, 2), t + 9);
    /* 9: ends on the day itself: not before it. 10: the day before: ended. */
    record_init(&r[9], 10, "summons", pid, "kommune:101", day(2019, 1, 1), before,
                day(2019, 1, 1) * US_DAY);
    record_init(&r[10], 11, "summons", pid, "kommune:101", day(2019, 1, 1), before - 1,
                day(2019, 1, 2) * US_DAY);
    /* 11: before 1970. */
    record_init(&r[11], 12, "summons", pid, "kommune:101", day(1965, 5, 1), day(1969, 12, 31),
                day(2019, 1, 3) * US_DAY);
    /* 12 -> 13: cancelled on the day itself (its first microsecond): not ended before it. */
    record_init(&r[12], 13, "summons", pid, "kommune:101", day(2001, 1, 1), day(2002, 1, 1),
                day(2019, 1, 4) * US_DAY);
    successor_init(&r[13], 14, &r[12], DFDG_RECORD_CANCELLATION, (int64_t)before * US_DAY);
    insert_all(f->s, r, DFDG_ARRAY_LEN(r));

    struct ends_seen all, one;
    scan_ended(f->s, "summons", before, 0, &all);
    assert_int_equal(all.n, 5);
    /* By valid_from first (1965, 2009, 2010, 2019), then the cancellation. */
    assert_string_equal(all.items[0].last_id, r[11].id);
    assert_string_equal(all.items[1].last_id, r[5].id);
    assert_string_equal(all.items[2].last_id, r[0].id);
    assert_string_equal(all.items[3].last_id, r[10].id);
    assert_string_equal(all.items[4].last_id, r[7].id);
    const struct dfdg_chain_end *c = find_end(&all, r[5].id);
    assert_int_equal(c->end, day(2009, 12, 31));
    assert_false(c->cancelled);
    assert_int_equal(c->person_id, pid);
    c = find_end(&all, r[7].id);
    assert_int_equal(c->end, day(2012, 3, 4));
    assert_true(c->cancelled);
    assert_int_equal(find_end(&all, r[11].id)->end, day(1969, 12, 31));
    assert_int_equal(find_end(&all, r[10].id)->end, before - 1);
    assert_null(find_end(&all, r[9].id));
    assert_null(find_end(&all, r[13].id));
    assert_null(find_end(&all, r[3].id));
    assert_null(find_end(&all, r[2].id));

    /* One chain a call: the same chains in the same order, each once. */
    size_t calls = scan_ended(f->s, "summons", before, 1, &one);
    assert_true(calls >= 5);
    assert_int_equal(one.n, all.n);
    for (size_t i = 0; i < all.n; i++)
        assert_string_equal(one.items[i].last_id, all.items[i].last_id);

    /* Another type and an earlier day. */
    scan_ended(f->s, "absence", before, 0, &one);
    assert_int_equal(one.n, 1);
    assert_string_equal(one.items[0].last_id, r[8].id);
    scan_ended(f->s, "summons", day(2010, 1, 1), 0, &one);
    assert_int_equal(one.n, 2); /* 1969 and 2009 */
    scan_ended(f->s, "no-such-type", before, 0, &one);
    assert_int_equal(one.n, 0);

    /* Bad arguments. */
    struct dfdg_chain_cursor cur = {0};
    assert_int_equal(dfdg_store_chains_ended(f->s, "summons", DFDG_DATE_NONE, &cur, ends_cb, &one),
                     DFDG_INVAL);
    assert_int_equal(dfdg_store_chains_ended(f->s, "", before, &cur, ends_cb, &one), DFDG_INVAL);
    assert_int_equal(dfdg_store_chains_ended(f->s, "summons", before, NULL, ends_cb, &one),
                     DFDG_INVAL);
    cur.phase = 3;
    assert_int_equal(dfdg_store_chains_ended(f->s, "summons", before, &cur, ends_cb, &one),
                     DFDG_INVAL);
}

/* The versions chain_delete handed to its callback, in order. */
struct versions_seen {
    char ids[8][DFDG_UUID_LEN];
    size_t n;
};

static bool
versions_cb(const struct dfdg_record *r, void *ctx)
{
    struct versions_seen *v = ctx;
    if (v->n < DFDG_ARRAY_LEN(v->ids))
        dfdg_strlcpy(v->ids[v->n], r->id, DFDG_UUID_LEN);
    v->n++;
    return true;
}

static bool
record_exists(struct dfdg_store *s, const char *id)
{
    struct dfdg_record g;
    dfdg_err rc = dfdg_store_record_get(s, id, &g);
    assert_true(rc == DFDG_OK || rc == DFDG_NOT_FOUND);
    dfdg_record_cleanup(&g);
    return rc == DFDG_OK;
}

static int64_t
count_of(struct fixture *f, const char *sql)
{
    int64_t v = -1;
    assert_int_equal(f->be->raw_int64(f->uri, sql, &v), 0);
    return v;
}

/*
 * Deleting a chain: the original, its correction and its cancellation go with their deliveries,
 * all at once; disclosures stay; other chains stay. A dry run and a rolled-back run change
 * nothing. Only the last version names a chain; the newest record or delivery is held back so
 * no seq is handed out twice; raw DELETEs are still refused afterwards.
 */
static void
test_chain_delete(void **state)
{
    struct fixture *f = *state;
    int64_t pid = put_simple_person(f->s, "0101901234");
    int64_t t = day(2005, 1, 1) * US_DAY;
    struct dfdg_record r[4];
    record_init(&r[0], 1, "summons", pid, "kommune:101", day(2005, 1, 1), day(2005, 2, 1), t + 1);
    successor_init(&r[1], 2, &r[0], DFDG_RECORD_CORRECTION, t + 2);
    successor_init(&r[2], 3, &r[1], DFDG_RECORD_CANCELLATION, t + 3);
    /* A newer chain of the same person: it stays. */
    record_init(&r[3], 4, "summons", pid, "kommune:101", day(2024, 1, 1), DFDG_DATE_NONE, t + 4);
    struct dfdg_delivery d[5];
    delivery_init(&d[0], "kommune:101", r[0].id, "residence", t + 1);
    delivery_init(&d[1], "star", r[0].id, "all", t + 1);
    delivery_init(&d[2], "kommune:101", r[1].id, "residence", t + 2);
    delivery_init(&d[3], "kommune:101", r[2].id, "residence", t + 3);
    delivery_init(&d[4], "kommune:101", r[3].id, "residence", t + 4);
    struct dfdg_disclosure x;
    disclosure_init(&x, t + 5, "kommune:101", pid, r[0].id, "summons");
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    for (size_t i = 0; i < DFDG_ARRAY_LEN(r); i++)
        assert_int_equal(dfdg_store_record_insert(f->s, &r[i]), DFDG_OK);
    for (size_t i = 0; i < DFDG_ARRAY_LEN(d); i++)
        assert_int_equal(dfdg_store_delivery_insert(f->s, &d[i]), DFDG_OK);
    assert_int_equal(dfdg_store_disclosure_insert(f->s, &x), DFDG_OK);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);

    /* Only the last version names the chain; unknown ids are not found. */
    struct dfdg_chain_deleted out;
    assert_int_equal(dfdg_store_chain_delete(f->s, r[0].id, true, NULL, NULL, &out), DFDG_CONFLICT);
    assert_int_equal(dfdg_store_chain_delete(f->s, r[1].id, true, NULL, NULL, &out), DFDG_CONFLICT);
    char unknown[DFDG_UUID_LEN];
    make_id(999, unknown);
    assert_int_equal(dfdg_store_chain_delete(f->s, unknown, true, NULL, NULL, &out),
                     DFDG_NOT_FOUND);
    assert_int_equal(dfdg_store_chain_delete(f->s, "", true, NULL, NULL, &out), DFDG_INVAL);

    /* A dry run says what would go, newest first, and changes nothing. */
    struct versions_seen v = {0};
    assert_int_equal(dfdg_store_chain_delete(f->s, r[2].id, true, versions_cb, &v, &out), DFDG_OK);
    assert_int_equal(out.records, 3);
    assert_int_equal(out.deliveries, 4);
    assert_false(out.held);
    assert_int_equal(v.n, 3);
    assert_string_equal(v.ids[0], r[2].id);
    assert_string_equal(v.ids[1], r[1].id);
    assert_string_equal(v.ids[2], r[0].id);
    assert_int_equal(count_of(f, "SELECT count(*) FROM record"), 4);
    assert_int_equal(count_of(f, "SELECT count(*) FROM delivery"), 5);

    /* Deleting needs a transaction. */
    assert_int_equal(dfdg_store_chain_delete(f->s, r[2].id, false, NULL, NULL, &out),
                     DFDG_INTERNAL);
    assert_true(record_exists(f->s, r[0].id));

    /* Rolled back: all still there. */
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_chain_delete(f->s, r[2].id, false, NULL, NULL, &out), DFDG_OK);
    assert_false(record_exists(f->s, r[0].id));
    assert_int_equal(dfdg_store_rollback(f->s), DFDG_OK);
    for (size_t i = 0; i < DFDG_ARRAY_LEN(r); i++)
        assert_true(record_exists(f->s, r[i].id));
    assert_int_equal(count_of(f, "SELECT count(*) FROM delivery"), 5);

    /* For real. */
    int64_t last_delivery = 0;
    assert_int_equal(dfdg_store_last_delivery_seq(f->s, &last_delivery), DFDG_OK);
    memset(&v, 0, sizeof v);
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_chain_delete(f->s, r[2].id, false, versions_cb, &v, &out), DFDG_OK);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
    assert_int_equal(out.records, 3);
    assert_int_equal(out.deliveries, 4);
    assert_false(out.held);
    assert_int_equal(v.n, 3);
    for (size_t i = 0; i < 3; i++)
        assert_false(record_exists(f->s, r[i].id));
    assert_true(record_exists(f->s, r[3].id));
    struct deliveries_seen c;
    assert_int_equal(deliveries_of(f->s, r[0].id, &c), 0);
    assert_int_equal(feed(f->s, "kommune:101", 0, 0, &c), 1);
    assert_string_equal(c.items[0].d.record_id, r[3].id);
    assert_int_equal(feed(f->s, "star", 0, 0, &c), 0);
    struct collected q;
    assert_int_equal(query(f->s, pid, NULL, DFDG_DATE_NONE, INT64_MAX, &q), 1);
    assert_string_equal(q.ids[0], r[3].id);
    int64_t n = -1;
    assert_int_equal(dfdg_store_count_records(f->s, &n), DFDG_OK);
    assert_int_equal(n, 1);
    /* The disclosure stays, naming the record that is gone. */
    assert_int_equal(dfdg_store_count_disclosures(f->s, &n), DFDG_OK);
    assert_int_equal(n, 1);
    assert_int_equal(count_of(f, "SELECT count(*) FROM disclosure WHERE record_id ="
                                 " '01900000-0000-7000-8000-000000000001'"),
                     1);
    /* The permission row never committed; raw deletes are refused as before. */
    assert_int_equal(count_of(f, "SELECT count(*) FROM meta WHERE key = 'retention_delete'"), 0);
    char err[256];
    assert_int_not_equal(f->be->raw_exec(f->uri, "DELETE FROM record", err, sizeof err), 0);
    assert_non_null(strstr(err, "append-only"));
    assert_int_not_equal(f->be->raw_exec(f->uri, "DELETE FROM delivery", err, sizeof err), 0);
    assert_non_null(strstr(err, "append-only"));
    /* Feed positions keep growing. */
    struct dfdg_delivery nd;
    delivery_init(&nd, "star", r[3].id, "all", t + 9);
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_delivery_insert(f->s, &nd), DFDG_OK);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
    assert_true(nd.seq > last_delivery);
}

/*
 * A chain holding the store's newest record or newest delivery is held back (deleting it would
 * let the next insert take its seq, and a feed reader past that seq would miss a delivery),
 * until something newer arrives.
 */
static void
test_chain_delete_holds_newest(void **state)
{
    struct fixture *f = *state;
    int64_t pid = put_simple_person(f->s, "0101901234");
    int64_t t = day(2005, 1, 1) * US_DAY;
    struct dfdg_record old, newer;
    record_init(&old, 1, "summons", pid, "kommune:101", day(2005, 1, 1), day(2005, 2, 1), t + 1);
    struct dfdg_delivery d;
    delivery_init(&d, "kommune:101", old.id, "residence", t + 1);
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_record_insert(f->s, &old), DFDG_OK);
    assert_int_equal(dfdg_store_delivery_insert(f->s, &d), DFDG_OK);
    struct dfdg_chain_deleted out;
    struct versions_seen v = {0};
    /* The newest record (and delivery): held, and the callback hears of nothing. */
    assert_int_equal(dfdg_store_chain_delete(f->s, old.id, false, versions_cb, &v, &out), DFDG_OK);
    assert_true(out.held);
    assert_int_equal(out.records, 1);
    assert_int_equal(v.n, 0);
    assert_true(record_exists(f->s, old.id));
    /* A newer record without a delivery: still the newest delivery, still held. */
    record_init(&newer, 2, "summons", pid, "kommune:101", day(2024, 1, 1), DFDG_DATE_NONE, t + 2);
    assert_int_equal(dfdg_store_record_insert(f->s, &newer), DFDG_OK);
    assert_int_equal(dfdg_store_chain_delete(f->s, old.id, true, NULL, NULL, &out), DFDG_OK);
    assert_true(out.held);
    assert_int_equal(dfdg_store_chain_delete(f->s, old.id, false, NULL, NULL, &out), DFDG_OK);
    assert_true(out.held);
    assert_true(record_exists(f->s, old.id));
    /* A newer delivery: now it goes. */
    struct dfdg_delivery d2;
    delivery_init(&d2, "kommune:101", newer.id, "residence", t + 2);
    assert_int_equal(dfdg_store_delivery_insert(f->s, &d2), DFDG_OK);
    assert_int_equal(dfdg_store_chain_delete(f->s, old.id, false, NULL, NULL, &out), DFDG_OK);
    assert_false(out.held);
    assert_int_equal(out.records, 1);
    assert_int_equal(out.deliveries, 1);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
    assert_false(record_exists(f->s, old.id));
}

/* A chain whose link names a missing record is corrupt, and nothing of it is deleted. */
static void
test_chain_delete_broken_link(void **state)
{
    struct fixture *f = *state;
    int64_t pid = put_simple_person(f->s, "0101901234");
    struct dfdg_record a, orphan, newest;
    record_init(&a, 1, "summons", pid, "kommune:101", day(2005, 1, 1), day(2005, 2, 1), 1000);
    successor_init(&orphan, 2, &a, DFDG_RECORD_CORRECTION, 2000);
    make_id(77, orphan.target_id); /* never inserted */
    record_init(&newest, 3, "summons", pid, "kommune:101", day(2024, 1, 1), DFDG_DATE_NONE, 3000);
    insert_one(f->s, &a);
    insert_one(f->s, &orphan);
    insert_one(f->s, &newest);
    struct dfdg_chain_deleted out;
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_chain_delete(f->s, orphan.id, false, NULL, NULL, &out),
                     DFDG_CORRUPT);
    assert_non_null(strstr(dfdg_store_last_error(f->s), "target"));
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
    assert_true(record_exists(f->s, orphan.id));
    assert_true(record_exists(f->s, a.id));
}

/*
 * A store written at schema version 3 (before retention): made by undoing v4 on a current
 * store. Opening migrates it: the index is there, the delete triggers let retention through and
 * nothing else, the data is kept.
 */
static void
test_migration_v3_to_v4(void **state)
{
    struct fixture *f = *state;
    if (f->be->raw_exec == NULL)
        skip();
    assert_true(dfdg_store_schema_version() >= 4);
    int64_t pid = put_simple_person(f->s, "0101901234");
    struct dfdg_record r, newer;
    record_init(&r, 1, "summons", pid, "kommune:101", day(2005, 1, 1), day(2005, 2, 1), 1000);
    record_init(&newer, 2, "summons", pid, "kommune:101", day(2024, 1, 1), DFDG_DATE_NONE, 2000);
    insert_one(f->s, &r);
    insert_one(f->s, &newer);
    dfdg_store_close(f->s);
    f->s = NULL;

    char err[256];
    assert_int_equal(f->be->raw_exec(f->uri, undo_v4_record, err, sizeof err), 0);
    assert_int_equal(f->be->raw_exec(f->uri, undo_v4_delivery, err, sizeof err), 0);
    assert_int_equal(
        f->be->raw_exec(f->uri, "UPDATE schema_version SET version = 3", err, sizeof err), 0);
    static const char v4_objects[] =
        "SELECT count(*) FROM sqlite_master WHERE (type = 'index' AND name ="
        " 'record_ended_cancel') OR (type = 'trigger' AND sql LIKE '%retention_delete%')";
    assert_int_equal(count_of(f, v4_objects), 0);
    /* Even with the permission row, a v3 store refuses. */
    assert_int_not_equal(f->be->raw_exec(f->uri,
                                         "BEGIN; INSERT INTO meta VALUES('retention_delete', 1);"
                                         " DELETE FROM record; COMMIT",
                                         err, sizeof err),
                         0);
    (void)f->be->raw_exec(f->uri, "ROLLBACK", err, sizeof err);

    reopen(f);
    assert_int_equal(count_of(f, v4_objects), 3);
    assert_int_equal(count_of(f, "SELECT version FROM schema_version"),
                     dfdg_store_schema_version());
    assert_int_equal(count_of(f, "SELECT count(*) FROM record"), 2);
    assert_int_not_equal(f->be->raw_exec(f->uri, "DELETE FROM record", err, sizeof err), 0);
    assert_non_null(strstr(err, "append-only"));
    struct dfdg_chain_deleted out;
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_chain_delete(f->s, r.id, false, NULL, NULL, &out), DFDG_OK);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
    assert_false(record_exists(f->s, r.id));
    assert_true(record_exists(f->s, newer.id));
    reopen(f);
    assert_true(record_exists(f->s, newer.id));
}

#ifdef DFDG_WITH_PG
/* The tests that only mean something for SQLite, and why; the PostgreSQL run skips them. */
static const struct {
    CMUnitTestFunction test;
    const char *why;
} pg_sqlite_only[] = {
    {test_open_not_a_database, "a store is a file only in SQLite"},
};

static void
sqlite_only(void **state)
{
    print_message("[  SKIPPED ] on PostgreSQL: %s\n", (const char *)*state);
    skip();
}

/* Runs the SQLite group's tests on PostgreSQL: same list, PostgreSQL fixtures. */
static int
run_pg(const struct CMUnitTest *tests, size_t n)
{
    const char *conninfo = getenv("DFDG_TEST_PG");
    if (conninfo == NULL || conninfo[0] == '\0') {
        printf("store/postgres: DFDG_TEST_PG (a libpq conninfo) is not set; skipped\n");
        return 77;
    }
    struct CMUnitTest *pg = calloc(n, sizeof *pg);
    if (pg == NULL)
        return 1;
    for (size_t i = 0; i < n; i++) {
        pg[i] = tests[i];
        if (pg[i].setup_func == setup_sqlite)
            pg[i].setup_func = setup_pg;
        for (size_t j = 0; j < DFDG_ARRAY_LEN(pg_sqlite_only); j++) {
            if (tests[i].test_func == pg_sqlite_only[j].test) {
                pg[i].test_func = sqlite_only;
                pg[i].setup_func = NULL;
                pg[i].teardown_func = NULL;
                pg[i].initial_state = (void *)pg_sqlite_only[j].why;
            }
        }
    }
    int failed = _cmocka_run_group_tests("store/postgres", pg, n, NULL, NULL);
    free(pg);
    return failed;
}
#endif

/* --- the writer's prefetch (dfdg_store_prefetch) ------------------------------------------- */

static void
prefetch_persons(struct dfdg_store *s, const char *const *cprs, const int32_t *days, size_t n,
                 const char *reporter, const char *const *refs, size_t nrefs)
{
    struct dfdg_prefetch pf = {.reporter = reporter,
                               .source_refs = refs,
                               .nsources = nrefs,
                               .cprs = cprs,
                               .days = days,
                               .npersons = n,
                               .query_type = "other-actor-referral"};
    assert_int_equal(dfdg_store_prefetch(s, &pf), DFDG_OK);
}

/*
 * A prefetch changes no answer: before and after it, and after writes in the same
 * transaction (which PostgreSQL buffers), every read says what the store holds, and a
 * savepoint rolled back takes the buffered rows with it.
 */
static void
test_prefetch_keeps_answers(void **state)
{
    struct fixture *f = *state;
    int64_t pid = put_simple_person(f->s, "0101901234");
    int64_t p2 = put_simple_person(f->s, "0202905678");
    int32_t jan = day(2024, 1, 1);
    struct dfdg_record m, ref, m2, dup, late, r4;
    record_init(&m, 1, "akasse-membership", pid, "akasse:3f", jan, DFDG_DATE_NONE, 1000);
    insert_one(f->s, &m);
    record_init(&ref, 2, "other-actor-referral", p2, "kommune:101", jan, DFDG_DATE_NONE, 1100);
    insert_one(f->s, &ref);

    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    const char *cprs[] = {"0101901234", "0202905678", "0909909999", "not a cpr"};
    int32_t days[] = {jan, jan, jan, jan};
    const char *refs[] = {"ref-3", "ref-1", ""};
    prefetch_persons(f->s, cprs, days, 4, "akasse:3f", refs, 3);

    int64_t id = 0;
    assert_int_equal(dfdg_store_person_resolve(f->s, "0101901234", &id), DFDG_OK);
    assert_int_equal(id, pid);
    assert_int_equal(dfdg_store_person_resolve(f->s, "0909909999", &id), DFDG_NOT_FOUND);
    char kode[4];
    assert_int_equal(dfdg_store_residence_on(f->s, pid, jan, kode), DFDG_OK);
    assert_string_equal(kode, "101");
    assert_int_equal(dfdg_store_residence_on(f->s, pid, day(2000, 1, 1), kode), DFDG_NOT_FOUND);
    bool prot = true;
    assert_int_equal(dfdg_store_is_protected_on(f->s, pid, jan, &prot), DFDG_OK);
    assert_false(prot);
    struct orgs_seen o;
    assert_int_equal(members(f->s, pid, jan, &o), 1);
    assert_string_equal(o.ids[0], "akasse:3f");
    assert_true(member(f->s, pid, "akasse:3f", jan));
    assert_false(member(f->s, pid, "akasse:3", jan)); /* a prefix is no membership */
    assert_int_equal(members(f->s, p2, jan, &o), 0);
    struct collected c;
    assert_int_equal(query(f->s, p2, "other-actor-referral", jan, INT64_MAX, &c), 1);
    assert_int_equal(query(f->s, pid, "other-actor-referral", jan, INT64_MAX, &c), 0);
    struct dfdg_record got = {0};
    assert_int_equal(dfdg_store_record_by_source(f->s, "akasse:3f", "ref-1", &got), DFDG_OK);
    assert_string_equal(got.id, m.id);
    dfdg_record_cleanup(&got);
    assert_int_equal(dfdg_store_record_by_source(f->s, "akasse:3f", "ref-3", &got), DFDG_NOT_FOUND);

    /* Writes in the transaction show at once: a new membership, its source_ref taken. */
    record_init(&m2, 3, "akasse-membership", p2, "akasse:3f", jan, DFDG_DATE_NONE, 2000);
    assert_int_equal(dfdg_store_record_insert(f->s, &m2), DFDG_OK);
    assert_int_equal(members(f->s, p2, jan, &o), 1);
    assert_true(member(f->s, p2, "akasse:3f", jan));
    assert_int_equal(dfdg_store_record_by_source(f->s, "akasse:3f", "ref-3", &got), DFDG_OK);
    assert_string_equal(got.id, m2.id);
    dfdg_record_cleanup(&got);
    record_init(&dup, 30, "akasse-membership", p2, "akasse:3f", jan, DFDG_DATE_NONE, 2000);
    dfdg_strlcpy(dup.source_ref, "ref-3", sizeof dup.source_ref);
    assert_int_equal(dfdg_store_record_insert(f->s, &dup), DFDG_CONFLICT);
    /* A person that does not exist is refused as without the prefetch. */
    record_init(&late, 31, "akasse-interview", 999999, "akasse:3f", jan, DFDG_DATE_NONE, 2000);
    assert_int_not_equal(dfdg_store_record_insert(f->s, &late), DFDG_OK);

    /* Deliveries of the new record: once per org, seq growing. */
    struct dfdg_delivery d1 = {0}, d2 = {0}, d3 = {0};
    dfdg_strlcpy(d1.org_id, "dst", sizeof d1.org_id);
    dfdg_strlcpy(d1.record_id, m2.id, sizeof d1.record_id);
    dfdg_strlcpy(d1.reason, "all", sizeof d1.reason);
    d1.created_at = 2000;
    d2 = d1;
    dfdg_strlcpy(d2.org_id, "udk", sizeof d2.org_id);
    d3 = d1;
    assert_int_equal(dfdg_store_delivery_insert(f->s, &d1), DFDG_OK);
    assert_int_equal(dfdg_store_delivery_insert(f->s, &d2), DFDG_OK);
    assert_true(d2.seq > d1.seq);
    assert_int_equal(dfdg_store_delivery_insert(f->s, &d3), DFDG_CONFLICT);

    /* A savepoint rolled back takes its (buffered) rows along, and only those. */
    assert_int_equal(dfdg_store_savepoint(f->s, "req"), DFDG_OK);
    record_init(&r4, 4, "other-actor-referral", pid, "kommune:101", jan, DFDG_DATE_NONE, 2000);
    assert_int_equal(dfdg_store_record_insert(f->s, &r4), DFDG_OK);
    assert_int_equal(query(f->s, pid, "other-actor-referral", jan, INT64_MAX, &c), 1);
    assert_int_equal(dfdg_store_rollback_to(f->s, "req"), DFDG_OK);
    assert_int_equal(dfdg_store_release(f->s, "req"), DFDG_OK);
    assert_int_equal(query(f->s, pid, "other-actor-referral", jan, INT64_MAX, &c), 0);
    assert_int_equal(dfdg_store_record_get(f->s, r4.id, &got), DFDG_NOT_FOUND);
    assert_int_equal(dfdg_store_record_insert(f->s, &r4), DFDG_OK); /* its keys are free again */
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);

    /* Committed: everything written is there, once. */
    assert_int_equal(dfdg_store_record_get(f->s, m2.id, &got), DFDG_OK);
    assert_record_equal(&got, &m2);
    dfdg_record_cleanup(&got);
    assert_int_equal(dfdg_store_record_get(f->s, r4.id, &got), DFDG_OK);
    dfdg_record_cleanup(&got);
    int64_t n = 0;
    assert_int_equal(dfdg_store_count_records(f->s, &n), DFDG_OK);
    assert_int_equal(n, 4);
    assert_true(member(f->s, p2, "akasse:3f", jan));
    /* A later transaction's delivery comes after the buffered ones. */
    struct dfdg_delivery d4 = d1;
    dfdg_strlcpy(d4.org_id, "kommune:101", sizeof d4.org_id);
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_delivery_insert(f->s, &d4), DFDG_OK);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
    assert_true(d4.seq > d2.seq);

    /* Text that COPY and a VALUES list must escape, in a few rows and in many (PostgreSQL
     * sends those two ways). */
    static char tricky[] = "{\"note\":\"tab\there, line\\nbreak, back\\\\slash \\\\N 'q' \\\"\"}";
    static const unsigned counts[] = {1, 40, 300}; /* one statement, COPY, a bigger COPY */
    static struct dfdg_record many[300];
    unsigned next_n = 100;
    for (size_t k = 0; k < DFDG_ARRAY_LEN(counts); k++) {
        unsigned rows = counts[k];
        assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
        for (unsigned i = 0; i < rows; i++) {
            record_init(&many[i], next_n++, "akasse-interview", pid, "akasse:3f", jan,
                        DFDG_DATE_NONE, 3000);
            many[i].data = tricky;
            many[i].reason = (char *)"a\\b\tc";
            assert_int_equal(dfdg_store_record_insert(f->s, &many[i]), DFDG_OK);
        }
        assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
        for (unsigned i = 0; i < rows; i++) {
            assert_int_equal(dfdg_store_record_get(f->s, many[i].id, &got), DFDG_OK);
            assert_record_equal(&got, &many[i]);
            dfdg_record_cleanup(&got);
        }
    }
    /* Buffered rows go with their savepoint, and the transaction goes on. */
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_savepoint(f->s, "req"), DFDG_OK);
    for (unsigned i = 0; i < 300; i++) {
        record_init(&many[i], next_n++, "akasse-interview", pid, "akasse:3f", jan, DFDG_DATE_NONE,
                    4000);
        assert_int_equal(dfdg_store_record_insert(f->s, &many[i]), DFDG_OK);
    }
    assert_int_equal(dfdg_store_rollback_to(f->s, "req"), DFDG_OK);
    assert_int_equal(dfdg_store_release(f->s, "req"), DFDG_OK);
    assert_int_equal(dfdg_store_record_insert(f->s, &many[0]), DFDG_OK);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_record_get(f->s, many[299].id, &got), DFDG_NOT_FOUND);
    assert_int_equal(dfdg_store_record_get(f->s, many[0].id, &got), DFDG_OK);
    dfdg_record_cleanup(&got);
    assert_int_equal(dfdg_store_count_records(f->s, &n), DFDG_OK);
    assert_int_equal(n, 4 + 1 + 40 + 300 + 1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_sqlite, teardown)

/* No argument: the suite on SQLite. "pg": the same suite on the PostgreSQL at $DFDG_TEST_PG. */
int
main(int argc, char **argv)
{
    const struct CMUnitTest sqlite_tests[] = {
        T(test_open_modes),
        T(test_open_not_a_database),
        T(test_migrations_on_reopen),
        T(test_meta),
        T(test_org_issuer),
        T(test_person_roundtrip),
        T(test_person_bad_input),
        T(test_cpr_change),
        T(test_cpr_two_persons_conflict),
        T(test_person_put_inside_transaction),
        T(test_residence_and_protection_boundaries),
        T(test_record_insert_get),
        T(test_record_conflicts_and_rules),
        T(test_correction_chain_as_of),
        T(test_query_filters_and_order),
        T(test_query_reentrant),
        T(test_records_append_only),
        T(test_is_member_on),
        T(test_rollback_leaves_nothing),
        T(test_savepoints),
        T(test_members_on),
        T(test_members_on_reentrant),
        T(test_prefetch_keeps_answers),
        T(test_delivery_feed),
        T(test_feed_reentrant),
        T(test_disclosures),
        T(test_deliveries_disclosures_append_only),
        T(test_rollback_leaves_no_delivery),
        T(test_migration_v1_to_v2),
        T(test_audit_append_scan),
        T(test_audit_refusals),
        T(test_audit_of_person),
        T(test_audit_nodes),
        T(test_sth),
        T(test_audit_rollback),
        T(test_audit_tamper_is_visible),
        T(test_audit_reentrant),
        T(test_migration_v2_to_v3),
        T(test_chains_ended),
        T(test_chain_delete),
        T(test_chain_delete_holds_newest),
        T(test_chain_delete_broken_link),
        T(test_migration_v3_to_v4),
        cmocka_unit_test(test_null_handles),
        T(test_throughput),
        T(test_audit_throughput),
    };
    if (argc == 2 && strcmp(argv[1], "pg") == 0) {
#ifdef DFDG_WITH_PG
        return run_pg(sqlite_tests, DFDG_ARRAY_LEN(sqlite_tests));
#else
        fprintf(stderr, "test_store: built without PostgreSQL (configure with -DDFDG_PG=ON)\n");
        return 1;
#endif
    }
    if (argc != 1) {
        fprintf(stderr, "usage: %s [pg]\n", argv[0]);
        return 2;
    }
    return cmocka_run_group_tests_name("store/sqlite", sqlite_tests, NULL, NULL);
}
