/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pg.c: the PostgreSQL backend of the storage interface (store.h), on libpq: connection,
 * schema migrations (schema_pg.h), prepared statements, transactions and savepoints, meta,
 * orgs, issuers and persons. pg_records.c holds records, deliveries, disclosures, the audit
 * log and retention. The semantics are SQLite's (sqlite.c), error codes included; the
 * conformance suite (tests/unit/store/test_store.c) runs against both.
 *
 * Where a store is: dfdg_store_open("postgres:CONNINFO") with a libpq keyword/value string,
 * or "postgresql://..." / "postgres://..." URIs, handed to libpq as they are. A store lives in
 * one schema of the database named there: "public" unless the string carries a setting
 * schema=NAME (NAME: [a-z_][a-z0-9_]{0,62}), which this file takes out before libpq sees it,
 * e.g. "postgres:host=127.0.0.1 port=5432 dbname=dfdg user=dfdg schema=t123" or
 * "postgresql://dfdg@127.0.0.1/dfdg?schema=t123". So one database can hold many stores (one
 * per test, say). CREATE creates the schema when missing and refuses with DFDG_CONFLICT when
 * it already holds a dfdg store (a schema_version table); OPEN of a schema without one is
 * DFDG_NOT_FOUND. Dropping a schema is the operator's (or the test's) business.
 *
 * Invariants:
 *   1. After a successful open the schema is at DFDG_STORE_SCHEMA_VERSION: the missing
 *      migrations were applied in one transaction under the store's advisory lock. A newer
 *      schema is refused (DFDG_CORRUPT), never touched. Every connection runs with
 *      search_path = the store's schema and client_encoding = UTF8, and has every statement
 *      of stmt_sql prepared (in one pipelined round trip at connect, and again after a
 *      reconnect).
 *   2. PGRES_* codes and SQLSTATEs do not leave src/store: translate() maps them. Error
 *      details are PostgreSQL's primary message only: its DETAIL lines quote key values (a
 *      CPR number, say) and are never copied.
 *   3. dfdg_store_begin is "take the write lock", as SQLite's BEGIN IMMEDIATE: BEGIN ISOLATION
 *      LEVEL READ COMMITTED plus pg_advisory_xact_lock on a key of the store's schema, held to
 *      commit or rollback (waiting at most 5 s, then DFDG_BUSY). This serialises the writers
 *      of all nodes on one store, which keeps what SQLite's single writer guaranteed: audit
 *      indexes are handed out without gaps or races, and delivery.seq (a sequence, numbered
 *      at insert) grows in commit order, so a feed cursor never skips a delivery committed
 *      later with a smaller seq. Truly parallel writers would need seq assigned at commit;
 *      that is left for later.
 *   4. A statement that PostgreSQL refuses aborts the whole transaction, where SQLite undoes
 *      only the statement. So the refusals callers expect and go on after (duplicate ids and
 *      keys, a missing person or record, a second audit node) are asked for without an
 *      error: INSERT ... ON CONFLICT DO NOTHING RETURNING, guarded by EXISTS for the foreign
 *      keys, and an empty answer is then explained by a lookup. Text that is not valid UTF-8
 *      (which PostgreSQL would refuse) is refused before it is sent. Any other error leaves
 *      the transaction aborted; commit then rolls back and says so (never a silent success),
 *      and rollback_to a savepoint makes it usable again, as the writer does per request.
 *   5. Savepoints are tracked by name on the handle, so releasing or rolling back to one that
 *      does not exist is refused here, as in SQLite, instead of aborting the transaction.
 *      A savepoint needs a transaction (begin first); SQLite would open one.
 *   6. Results are fetched whole (a page at a time for scans that can grow without bound)
 *      before any callback runs, so a callback may call back into the store on the same
 *      connection; what it is handed points into that page and is valid for the call.
 *   7. person_put in the caller's transaction works without a savepoint: every refusal
 *      (DFDG_INVAL, DFDG_CONFLICT) is found before the first write, so a refused put has
 *      written nothing, and an unexpected error aborts the caller's transaction (invariant 4)
 *      so nothing half-written can commit. Outside a transaction it opens its own (with the
 *      write lock). Avoiding a subtransaction per person keeps a million-line CPR import
 *      from overflowing PostgreSQL's subtransaction cache.
 *   8. A lost connection is re-established (PQreset) at the next call outside a transaction,
 *      and a read that found it lost is asked again once; inside a transaction every call
 *      fails until the caller rolls back, so no write can slip into autocommit after a
 *      reconnect.
 */
#include "core/dfdg.h"

#include <limits.h>
#include <time.h>

#include "store/pg_int.h"
#include "store/schema_pg.h"

_Static_assert(DFDG_ARRAY_LEN(dfdg_pg_migrations) == DFDG_STORE_SCHEMA_VERSION,
               "one PostgreSQL migration per schema version");

/* The first half of every store's advisory lock key: "dfdg". */
#define LOCK_CLASS 0x64666467
/* How long begin waits for another writer, like SQLite's busy timeout. */
#define LOCK_TIMEOUT "5s"
#define SCHEMA_DEFAULT "public"
#define SAVEPOINTS_MAX 16

/* The columns of a record, in the order pg_records.c reads them. */
#define RECORD_COLS                                                                                \
    "r.seq, r.id, r.type, r.person_id, r.cvr, r.reporter, r.source_ref, r.valid_from, "            \
    "r.valid_to, r.recorded_at, r.kind, r.target_id, r.content_hash, r.data, r.reason, r.owner"

/*
 * records_query: $1 person, $2 as_of, then the optional type and valid_on, then the limit
 * (NULL = none). One statement per combination of the optional filters, so each has a plan
 * that uses the best index.
 */
#define QUERY_HEAD                                                                                 \
    "SELECT " RECORD_COLS " FROM record r WHERE r.person_id = $1 AND r.kind <> 2"                  \
    " AND r.recorded_at <= $2"
#define QUERY_TYPE(n) " AND r.type = $" #n
#define QUERY_VALID(n)                                                                             \
    " AND r.valid_from <= $" #n " AND (r.valid_to IS NULL OR r.valid_to >= $" #n ")"
#define QUERY_TAIL(n)                                                                              \
    " AND NOT EXISTS (SELECT 1 FROM record s WHERE s.target_id = r.id AND s.recorded_at <= $2)"    \
    " ORDER BY r.valid_from DESC, r.recorded_at DESC, r.seq DESC LIMIT $" #n

/* A delivery with its record and the subject's current CPR number (pg_records.c). */
#define DELIVERY_HEAD                                                                              \
    "SELECT " RECORD_COLS ", p.cpr, d.seq, d.org_id, d.record_id, d.reason, d.created_at"          \
    " FROM delivery d JOIN record r ON r.id = d.record_id"                                         \
    " LEFT JOIN person p ON p.person_id = r.person_id"

/*
 * Parameters are sent as text (integers printed) or binary (BYTEA); casts are written where
 * PostgreSQL could not infer a parameter's type from its use. Every read starts with SELECT;
 * every other statement writes (dfdg_pg_exec relies on it).
 */
static const char *const stmt_sql[PG__COUNT] = {
    [PG_META_PUT] = "INSERT INTO meta(key, value) VALUES($1, $2)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [PG_META_GET] = "SELECT value FROM meta WHERE key = $1",
    [PG_ORG_PUT] = "INSERT INTO org(org_id, kind, name) VALUES($1, $2, $3)"
                   " ON CONFLICT(org_id) DO UPDATE SET kind = excluded.kind, name = excluded.name",
    [PG_ORG_GET] = "SELECT org_id, kind, name FROM org WHERE org_id = $1",
    [PG_ISSUER_PUT] = "INSERT INTO issuer(iss, public_key) VALUES($1, $2)"
                      " ON CONFLICT(iss) DO UPDATE SET public_key = excluded.public_key",
    [PG_ISSUER_GET] = "SELECT public_key FROM issuer WHERE iss = $1",
    [PG_ORG_LIST] = "SELECT org_id, kind, name FROM org ORDER BY org_id",
    [PG_ISSUER_LIST] = "SELECT iss, public_key FROM issuer ORDER BY iss",
    [PG_CPR_RESOLVE] = "SELECT person_id FROM person_cpr WHERE cpr = $1",
    [PG_CPR_MAP] = "INSERT INTO person_cpr(cpr, person_id) VALUES($1, $2)"
                   " ON CONFLICT(cpr) DO NOTHING",
    [PG_PERSON_INSERT] = "INSERT INTO person(cpr, birthdate, sex, status, first_name, middle_name,"
                         " last_name, updated_at) VALUES($1, $2, $3, $4, $5, $6, $7, $8)"
                         " RETURNING person_id",
    [PG_PERSON_UPDATE] = "UPDATE person SET cpr = $1, birthdate = $2, sex = $3, status = $4,"
                         " first_name = $5, middle_name = $6, last_name = $7, updated_at = $8"
                         " WHERE person_id = $9",
    [PG_ADDR_DELETE] = "DELETE FROM person_address WHERE person_id = $1",
    [PG_PROT_DELETE] = "DELETE FROM person_protection WHERE person_id = $1",
    [PG_CHILD_DELETE] = "DELETE FROM person_child WHERE person_id = $1",
    [PG_ADDR_INSERT] = "INSERT INTO person_address(person_id, kommunekode, road, house, postcode,"
                       " city, valid_from, valid_to) VALUES($1, $2, $3, $4, $5, $6, $7, $8)",
    [PG_PROT_INSERT] = "INSERT INTO person_protection(person_id, valid_from, valid_to)"
                       " VALUES($1, $2, $3)",
    [PG_CHILD_INSERT] = "INSERT INTO person_child(person_id, birthdate) VALUES($1, $2)",
    [PG_PERSON_GET] = "SELECT cpr, birthdate, sex, status, first_name, middle_name, last_name"
                      " FROM person WHERE person_id = $1",
    [PG_PERSON_CPRS] = "SELECT cpr FROM person_cpr WHERE person_id = $1 AND cpr <> $2"
                       " ORDER BY pos",
    [PG_ADDR_LIST] = "SELECT kommunekode, road, house, postcode, city, valid_from, valid_to"
                     " FROM person_address WHERE person_id = $1 ORDER BY valid_from, pos",
    [PG_PROT_LIST] = "SELECT valid_from, valid_to FROM person_protection WHERE person_id = $1"
                     " ORDER BY valid_from, pos",
    [PG_CHILD_LIST] = "SELECT birthdate FROM person_child WHERE person_id = $1"
                      " ORDER BY birthdate, pos",
    /* Addresses end exclusively: the day of moving away is at the new address. */
    [PG_RESIDENCE_ON] = DFDG_PG_RESIDENCE_SQL("$1", "$2"),
    [PG_PROTECTED_ON] = "SELECT EXISTS(SELECT 1 FROM person_protection WHERE person_id = $1"
                        " AND valid_from <= $2 AND (valid_to IS NULL OR $2 < valid_to))",
    /* BEK kap. 16: membership from current akasse-membership records (valid_to inclusive). */
    [PG_MEMBER_ON] = "SELECT EXISTS(SELECT 1 FROM record r WHERE r.person_id = $1"
                     " AND r.type = 'akasse-membership' AND r.owner = $2 AND r.kind <> 2"
                     " AND r.valid_from <= $3 AND (r.valid_to IS NULL OR r.valid_to >= $3)"
                     " AND NOT EXISTS (SELECT 1 FROM record s WHERE s.target_id = r.id))",
    [PG_RECORD_CLASH] = "SELECT EXISTS(SELECT 1 FROM record WHERE id = $1"
                        " OR (reporter = $2 AND source_ref = $3))",
    [PG_RECORD_GET] = "SELECT " RECORD_COLS " FROM record r WHERE r.id = $1",
    [PG_RECORD_BY_SOURCE] = "SELECT " RECORD_COLS " FROM record r"
                            " WHERE r.reporter = $1 AND r.source_ref = $2",
    [PG_RECORD_SUCCESSOR] = "SELECT " RECORD_COLS " FROM record r"
                            " WHERE r.target_id = $1 AND r.recorded_at <= $2"
                            " ORDER BY r.recorded_at, r.seq LIMIT 1",
    [PG_LAST_RECORDED_AT] = "SELECT COALESCE(max(recorded_at), 0) FROM record",
    [PG_QUERY] = QUERY_HEAD QUERY_TAIL(3),
    [PG_QUERY_TYPE] = QUERY_HEAD QUERY_TYPE(3) QUERY_TAIL(4),
    [PG_QUERY_VALID] = QUERY_HEAD QUERY_VALID(3) QUERY_TAIL(4),
    [PG_QUERY_TYPE_VALID] = QUERY_HEAD QUERY_TYPE(3) QUERY_VALID(4) QUERY_TAIL(5),
    [PG_COUNT_RECORDS] = "SELECT count(*) FROM record",
    [PG_COUNT_PERSONS] = "SELECT count(*) FROM person",
    [PG_MEMBERS_ON] = DFDG_PG_MEMBERS_SQL("$1", "$2"),
    [PG_FEED] = DELIVERY_HEAD " WHERE d.org_id = $1 AND d.seq > $2 ORDER BY d.seq LIMIT $3",
    [PG_DELIVERIES_OF] = DELIVERY_HEAD " WHERE d.record_id = $1 ORDER BY d.seq",
    [PG_LAST_DELIVERY_SEQ] = "SELECT COALESCE(max(seq), 0) FROM delivery",
    [PG_DISCLOSURE_INSERT] = "INSERT INTO disclosure(at, org_id, sub, person_id, record_id, type,"
                             " purpose, legal_basis, channel)"
                             " VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING seq",
    [PG_COUNT_DISCLOSURES] = "SELECT count(*) FROM disclosure",
    /*
     * One round trip per entry: the entry and its persons ($4, an array; 0 is "no person"),
     * each once. The count is 0 when idx exists: a conflict, with nothing written.
     */
    [PG_AUDIT_APPEND] = "WITH e AS (INSERT INTO audit_entry(idx, at, entry)"
                        " VALUES($1::bigint, $2::bigint, $3::bytea)"
                        " ON CONFLICT DO NOTHING RETURNING idx),"
                        " s AS (INSERT INTO audit_subject(person_id, idx)"
                        " SELECT DISTINCT p.id, e.idx FROM e, unnest($4::bigint[]) AS p(id)"
                        " WHERE p.id <> 0 ON CONFLICT DO NOTHING)"
                        " SELECT count(*) FROM e",
    /* A node is written once: no row back is a conflict, not a repair. */
    [PG_AUDIT_NODE_PUT] = "INSERT INTO audit_node(level, idx, hash) VALUES($1, $2, $3)"
                          " ON CONFLICT DO NOTHING RETURNING idx",
    [PG_AUDIT_NODE_GET] = "SELECT hash FROM audit_node WHERE level = $1 AND idx = $2",
    [PG_AUDIT_SIZE] = "SELECT COALESCE(max(idx) + 1, 0) FROM audit_entry",
    [PG_AUDIT_SCAN] = "SELECT idx, at, entry FROM audit_entry WHERE idx >= $1 ORDER BY idx"
                      " LIMIT $2",
    /* GDPR art. 15: the citizen's access log, newest first. */
    [PG_AUDIT_OF_PERSON] = "SELECT e.idx, e.at, e.entry FROM audit_subject s"
                           " JOIN audit_entry e ON e.idx = s.idx"
                           " WHERE s.person_id = $1 AND s.idx < $2 ORDER BY s.idx DESC LIMIT $3",
    [PG_STH_PUT] = "INSERT INTO audit_sth(size, at, root, sig) VALUES($1, $2, $3, $4)"
                   " ON CONFLICT DO NOTHING RETURNING size",
    [PG_STH_LATEST] = "SELECT size, at, root, sig FROM audit_sth ORDER BY size DESC LIMIT 1",
    [PG_STH_SCAN] = "SELECT size, at, root, sig FROM audit_sth WHERE size > $1 ORDER BY size"
                    " LIMIT $2",
    /* Retention (sqlite.c): chains ended by valid_to before $2, from the cursor ($3, $4). */
    [PG_ENDED_VALID] =
        "SELECT r.seq, r.id, r.person_id, r.valid_from, r.valid_to FROM record r"
        " WHERE r.type = $1 AND r.valid_from < $2 AND (r.valid_from, r.seq) > ($3, $4)"
        " AND r.valid_to < $2 AND r.kind <> 2"
        " AND NOT EXISTS (SELECT 1 FROM record s WHERE s.target_id = r.id)"
        " ORDER BY r.valid_from, r.seq LIMIT $5",
    /* Chains withdrawn by a cancellation recorded before $2 (record_ended_cancel). */
    [PG_ENDED_CANCEL] = "SELECT r.seq, r.id, r.person_id, r.recorded_at FROM record r"
                        " WHERE r.type = $1 AND r.kind = 2 AND r.recorded_at < $2"
                        " AND (r.recorded_at, r.seq) > ($3, $4) ORDER BY r.recorded_at, r.seq"
                        " LIMIT $5",
    [PG_HAS_SUCCESSOR] = "SELECT EXISTS(SELECT 1 FROM record WHERE target_id = $1)",
    [PG_MAX_RECORD_SEQ] = "SELECT COALESCE(max(seq), 0) FROM record",
    [PG_DELIVERIES_COUNT] = "SELECT count(*), COALESCE(max(seq), 0) FROM delivery"
                            " WHERE record_id = $1",
    /* The permission the v4 delete triggers look for; never committed (schema_pg.h). */
    [PG_RETENTION_ON] = "INSERT INTO meta(key, value) VALUES('retention_delete',"
                        " decode('01', 'hex'))",
    [PG_RETENTION_OFF] = "DELETE FROM meta WHERE key = 'retention_delete'",
    [PG_DELIVERY_DELETE] = "DELETE FROM delivery WHERE record_id = $1",
    [PG_RECORD_DELETE] = "DELETE FROM record WHERE id = $1",
    [PG_PERSON_EXISTS] = "SELECT EXISTS(SELECT 1 FROM person WHERE person_id = $1)",
    /* 0: no such record, 2: it reached the org already, 1: it may be delivered. */
    [PG_DELIVERY_CHECK] = "SELECT CASE WHEN NOT EXISTS(SELECT 1 FROM record WHERE id = $1) THEN 0"
                          " WHEN EXISTS(SELECT 1 FROM delivery WHERE record_id = $1"
                          " AND org_id = $2) THEN 2 ELSE 1 END",
};

/*
 * The handle (pg_int.h) plus what only this file touches: the savepoints open in the current
 * transaction, innermost last.
 */
struct pg_handle {
    struct dfdg_pg_store pg;             /* must stay first */
    char savepoints[SAVEPOINTS_MAX][64]; /* names, outermost first */
    size_t nsavepoints;                  /* open savepoints */
};

static const struct dfdg_store_vt pg_vt;

static struct pg_handle *
handle(struct dfdg_store *s)
{
    return (struct pg_handle *)s;
}

/* --- result codes ------------------------------------------------------------------------- */

static bool
state_is(const char *state, const char *code)
{
    return state != NULL && strcmp(state, code) == 0;
}

static dfdg_err
translate(const char *state)
{
    if (state == NULL)
        return DFDG_IO;
    if (state_is(state, "23505")) /* unique_violation */
        return DFDG_CONFLICT;
    /* serialization_failure, deadlock, lock_not_available, query_canceled (a timeout),
     * too_many_connections */
    if (state_is(state, "40001") || state_is(state, "40P01") || state_is(state, "55P03") ||
        state_is(state, "57014") || state_is(state, "53300"))
        return DFDG_BUSY;
    if (state_is(state, "53200")) /* out_of_memory */
        return DFDG_NOMEM;
    if (state_is(state, "XX001") || state_is(state, "XX002")) /* data or index corrupted */
        return DFDG_CORRUPT;
    if (strncmp(state, "22", 2) == 0) /* data exception: a value the column cannot hold */
        return DFDG_INVAL;
    return DFDG_IO;
}

/* Copies libpq's connection-level message without its trailing newline. */
static void
conn_message(PGconn *conn, char *buf, size_t size)
{
    const char *m = conn != NULL ? PQerrorMessage(conn) : "out of memory";
    snprintf(buf, size, "%s", m != NULL && m[0] != '\0' ? m : "unknown error");
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
}

/*
 * Translates a failed result, keeps PostgreSQL's primary message (never its DETAIL, which
 * quotes key values) as the handle's error detail and returns the code.
 */
static dfdg_err fail(struct dfdg_pg_store *q, const PGresult *res, const char *what);

dfdg_err
dfdg_pg_fail(struct dfdg_pg_store *q, const PGresult *res, const char *what)
{
    return fail(q, res, what);
}

static dfdg_err
fail(struct dfdg_pg_store *q, const PGresult *res, const char *what)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (msg != NULL)
        return dfdg_store_set_error(&q->base, translate(state), "postgres: %s: %s", what, msg);
    char buf[200];
    conn_message(q->conn, buf, sizeof buf);
    return dfdg_store_set_error(&q->base, res == NULL ? DFDG_IO : translate(state),
                                "postgres: %s: %s", what, buf);
}

dfdg_err
dfdg_pg_corrupt(struct dfdg_pg_store *q, const char *what)
{
    return dfdg_store_set_error(&q->base, DFDG_CORRUPT, "postgres: %s holds a value out of range",
                                what);
}

/* --- parameters ----------------------------------------------------------------------------- */

bool
dfdg_pg_utf8_is_valid(const char *s)
{
    const unsigned char *c = (const unsigned char *)s;
    while (*c != '\0') {
        if (*c < 0x80) {
            c++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if ((*c & 0xe0) == 0xc0) {
            n = 1;
            cp = *c & 0x1fu;
        } else if ((*c & 0xf0) == 0xe0) {
            n = 2;
            cp = *c & 0x0fu;
        } else if ((*c & 0xf8) == 0xf0) {
            n = 3;
            cp = *c & 0x07u;
        } else {
            return false;
        }
        for (size_t i = 1; i <= n; i++) {
            if ((c[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (c[i] & 0x3fu);
        }
        /* No overlong forms, no surrogates, nothing past U+10FFFF. */
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            return false;
        c += n + 1;
    }
    return true;
}

static int
p_next(struct dfdg_pg_params *p)
{
    DFDG_ASSERT(p->n < DFDG_PG_PARAMS_MAX);
    int i = p->n++;
    p->values[i] = NULL;
    p->lengths[i] = 0;
    p->formats[i] = 0;
    return i;
}

void
dfdg_pg_p_text(struct dfdg_pg_params *p, const char *v)
{
    int i = p_next(p);
    p->values[i] = v;
    if (!dfdg_pg_utf8_is_valid(v))
        p->bad_text = true;
}

void
dfdg_pg_p_text_or_null(struct dfdg_pg_params *p, const char *v)
{
    if (v == NULL || v[0] == '\0')
        dfdg_pg_p_null(p);
    else
        dfdg_pg_p_text(p, v);
}

void
dfdg_pg_p_null(struct dfdg_pg_params *p)
{
    (void)p_next(p);
}

void
dfdg_pg_p_int64(struct dfdg_pg_params *p, int64_t v)
{
    int i = p_next(p);
    snprintf(p->num[i], sizeof p->num[i], "%lld", (long long)v);
    p->values[i] = p->num[i];
}

void
dfdg_pg_p_date(struct dfdg_pg_params *p, int32_t day)
{
    if (day == DFDG_DATE_NONE)
        dfdg_pg_p_null(p);
    else
        dfdg_pg_p_int64(p, day);
}

void
dfdg_pg_p_bytes(struct dfdg_pg_params *p, const void *v, size_t len)
{
    int i = p_next(p);
    /* A NULL value pointer is SQL NULL in libpq: an empty value needs a real pointer. */
    p->values[i] = len > 0 ? (const char *)v : "";
    p->lengths[i] = len > INT_MAX ? 0 : (int)len;
    p->formats[i] = 1;
    if (len > INT_MAX)
        p->too_large = true;
}

void
dfdg_pg_p_limit(struct dfdg_pg_params *p, size_t limit)
{
    if (limit == 0 || limit > INT64_MAX)
        dfdg_pg_p_null(p);
    else
        dfdg_pg_p_int64(p, (int64_t)limit);
}

/* --- running statements ----------------------------------------------------------------------- */

static dfdg_err session_setup(struct dfdg_pg_store *q);

bool
dfdg_pg_in_tx(const struct dfdg_pg_store *q)
{
    PGTransactionStatusType t = PQtransactionStatus(q->conn);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}

/* Reconnects a lost connection, but never inside a transaction (invariant 8). */
static dfdg_err
conn_ready(struct dfdg_pg_store *q)
{
    if (PQstatus(q->conn) == CONNECTION_OK)
        return DFDG_OK;
    if (q->in_tx)
        return dfdg_store_set_error(&q->base, DFDG_IO,
                                    "postgres: the connection was lost inside a transaction; "
                                    "roll back");
    PQreset(q->conn);
    if (PQstatus(q->conn) != CONNECTION_OK) {
        char buf[200];
        conn_message(q->conn, buf, sizeof buf);
        return dfdg_store_set_error(&q->base, DFDG_IO, "postgres: cannot reconnect: %s", buf);
    }
    return session_setup(q);
}

static void
stmt_name(enum dfdg_pg_stmt id, char name[16])
{
    snprintf(name, 16, "dfdg_%d", (int)id);
}

dfdg_err
dfdg_pg_exec(struct dfdg_pg_store *q, enum dfdg_pg_stmt id, const struct dfdg_pg_params *p,
             const char *what, PGresult **out /* OUT */)
{
    *out = NULL;
    if (p != NULL && p->too_large)
        return dfdg_store_set_error(&q->base, DFDG_TOO_LARGE, "postgres: %s: value too large",
                                    what);
    if (p != NULL && p->bad_text) {
        if (strncmp(stmt_sql[id], "SELECT", 6) != 0)
            return dfdg_store_set_error(&q->base, DFDG_INVAL,
                                        "postgres: %s: text is not valid UTF-8", what);
        /* Stored text is valid UTF-8, so nothing matches: an empty answer, as in SQLite. */
        *out = PQmakeEmptyPGresult(q->conn, PGRES_TUPLES_OK);
        return *out != NULL ? DFDG_OK : DFDG_NOMEM;
    }
    /* Buffered rows go first: the statement must see them (pg_batch.c invariant 2). */
    dfdg_err rc = dfdg_pg_batch_sync(q);
    if (rc != DFDG_OK)
        return rc;
    if (id == PG_RECORD_DELETE || id == PG_DELIVERY_DELETE)
        dfdg_pg_batch_reset(q); /* retention: forget what the batch knows of the rows */
    rc = conn_ready(q);
    if (rc != DFDG_OK)
        return rc;
    char name[16];
    stmt_name(id, name);
    for (int attempt = 0;; attempt++) {
        PGresult *res =
            PQexecPrepared(q->conn, name, p != NULL ? p->n : 0, p != NULL ? p->values : NULL,
                           p != NULL ? p->lengths : NULL, p != NULL ? p->formats : NULL, 1);
        ExecStatusType st = PQresultStatus(res);
        if (res != NULL && (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)) {
            *out = res;
            return DFDG_OK;
        }
        rc = fail(q, res, what);
        PQclear(res);
        /*
         * The server went away (a restart, a failover, an idle timeout): a read outside a
         * transaction is asked again, once, on a new connection. A write is not: it may have
         * committed before the answer was lost (invariant 8).
         */
        if (attempt > 0 || PQstatus(q->conn) == CONNECTION_OK || q->in_tx ||
            strncmp(stmt_sql[id], "SELECT", 6) != 0)
            return rc;
        char keep[sizeof q->base.errmsg];
        memcpy(keep, q->base.errmsg, sizeof keep);
        if (conn_ready(q) != DFDG_OK) {
            memcpy(q->base.errmsg, keep, sizeof keep);
            return rc;
        }
    }
}

dfdg_err
dfdg_pg_scalar(struct dfdg_pg_store *q, enum dfdg_pg_stmt id, const struct dfdg_pg_params *p,
               const char *what, int64_t *out /* OUT */)
{
    PGresult *res;
    dfdg_err rc = dfdg_pg_exec(q, id, p, what, &res);
    if (rc != DFDG_OK)
        return rc;
    if (PQntuples(res) == 0)
        rc = DFDG_NOT_FOUND;
    else if (!dfdg_pg_col_int64(res, 0, 0, out))
        rc = dfdg_pg_corrupt(q, what);
    PQclear(res);
    return rc;
}

dfdg_err
dfdg_pg_run(struct dfdg_pg_store *q, const char *sql, const char *what)
{
    dfdg_err rc = dfdg_pg_batch_sync(q);
    if (rc != DFDG_OK)
        return rc;
    rc = conn_ready(q);
    if (rc != DFDG_OK)
        return rc;
    PGresult *res = PQexec(q->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    if (res != NULL && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK))
        rc = DFDG_OK;
    else
        rc = fail(q, res, what);
    PQclear(res);
    return rc;
}

/* Runs SQL text with parameters (text) at open, before the statements are prepared. */
static dfdg_err
query_int64(struct dfdg_pg_store *q, const char *sql, const char *param, const char *what,
            int64_t *out /* OUT */)
{
    const char *values[1] = {param};
    PGresult *res = PQexecParams(q->conn, sql, param != NULL ? 1 : 0, NULL,
                                 param != NULL ? values : NULL, NULL, NULL, 1);
    dfdg_err rc;
    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = fail(q, res, what);
    else if (PQntuples(res) != 1 || !dfdg_pg_col_int64(res, 0, 0, out))
        rc = dfdg_pg_corrupt(q, what);
    else
        rc = DFDG_OK;
    PQclear(res);
    return rc;
}

/* --- result columns --------------------------------------------------------------------------- */

bool
dfdg_pg_col_int64(const PGresult *res, int row, int col, int64_t *out /* OUT */)
{
    if (PQgetisnull(res, row, col))
        return false;
    const unsigned char *v = (const unsigned char *)PQgetvalue(res, row, col);
    int len = PQgetlength(res, row, col);
    uint64_t u = 0;
    for (int i = 0; i < len && i < 8; i++)
        u = (u << 8) | v[i];
    switch (len) {
    case 8:
        *out = (int64_t)u;
        return true;
    case 4:
        *out = (int32_t)(uint32_t)u;
        return true;
    case 2:
        *out = (int16_t)(uint16_t)u;
        return true;
    case 1: /* bool */
        *out = v[0] != 0;
        return true;
    default:
        return false;
    }
}

bool
dfdg_pg_col_text(const PGresult *res, int row, int col, char *dst, size_t size)
{
    if (PQgetisnull(res, row, col)) {
        dst[0] = '\0';
        return true;
    }
    return dfdg_strlcpy(dst, PQgetvalue(res, row, col), size);
}

bool
dfdg_pg_col_date(const PGresult *res, int row, int col, int32_t *day /* OUT */)
{
    if (PQgetisnull(res, row, col)) {
        *day = DFDG_DATE_NONE;
        return true;
    }
    int64_t v;
    if (!dfdg_pg_col_int64(res, row, col, &v) || v < INT32_MIN || v >= INT32_MAX)
        return false;
    *day = (int32_t)v;
    return true;
}

bool
dfdg_pg_col_bytes(const PGresult *res, int row, int col, void *dst, size_t n)
{
    if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != (int)n)
        return false;
    memcpy(dst, PQgetvalue(res, row, col), n);
    return true;
}

void *
dfdg_pg_grow(void *arr, size_t *cap, size_t n, size_t elem)
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

/* --- where the store is ------------------------------------------------------------------------
 */

static bool
schema_name_is_valid(const char *s, size_t n)
{
    if (n == 0 || n > 63 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    }
    return true;
}

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool
is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* The query of a URI: keeps every parameter but schema=NAME, which goes to schema. */
static bool
split_uri(const char *in, char *out, char schema[64])
{
    const char *qm = strchr(in, '?');
    size_t head = qm != NULL ? (size_t)(qm - in) : strlen(in);
    memcpy(out, in, head);
    size_t o = head;
    if (qm == NULL) {
        out[o] = '\0';
        return true;
    }
    const char *c = qm + 1;
    bool first = true;
    while (*c != '\0') {
        const char *end = strchr(c, '&');
        size_t n = end != NULL ? (size_t)(end - c) : strlen(c);
        if (n > 7 && strncmp(c, "schema=", 7) == 0) {
            if (!schema_name_is_valid(c + 7, n - 7))
                return false;
            memcpy(schema, c + 7, n - 7);
            schema[n - 7] = '\0';
        } else if (n > 0) {
            out[o++] = first ? '?' : '&';
            memcpy(out + o, c, n);
            o += n;
            first = false;
        }
        c += n;
        if (*c == '&')
            c++;
    }
    out[o] = '\0';
    return true;
}

/*
 * A keyword/value string (libpq's syntax: key = value, value maybe in single quotes with
 * backslash escapes): keeps every setting but schema, whose value goes to schema. A string
 * this cannot read goes to libpq unchanged, which says what is wrong with it.
 */
static bool
split_keywords(const char *in, char *out, char schema[64])
{
    size_t o = 0;
    const char *c = in;
    for (;;) {
        while (is_space(*c))
            c++;
        if (*c == '\0')
            break;
        const char *start = c;
        const char *key = c;
        while (is_key_char(*c))
            c++;
        size_t klen = (size_t)(c - key);
        while (is_space(*c))
            c++;
        if (klen == 0 || *c != '=')
            goto unreadable;
        c++;
        while (is_space(*c))
            c++;
        char val[64];
        size_t vlen = 0;
        bool quoted = *c == '\'';
        if (quoted)
            c++;
        while (*c != '\0' && (quoted ? *c != '\'' : !is_space(*c))) {
            if (*c == '\\' && c[1] != '\0')
                c++;
            if (vlen < sizeof val - 1)
                val[vlen] = *c;
            vlen++;
            c++;
        }
        if (quoted) {
            if (*c != '\'')
                goto unreadable;
            c++;
        }
        if (klen == 6 && strncmp(key, "schema", 6) == 0) {
            if (vlen >= sizeof val || !schema_name_is_valid(val, vlen))
                return false;
            memcpy(schema, val, vlen);
            schema[vlen] = '\0';
            continue;
        }
        if (o > 0)
            out[o++] = ' ';
        memcpy(out + o, start, (size_t)(c - start));
        o += (size_t)(c - start);
    }
    out[o] = '\0';
    return true;

unreadable:
    memcpy(out, in, strlen(in) + 1);
    return true;
}

/* Splits schema=NAME off info; *conninfo (caller frees) is the rest, for libpq. */
static dfdg_err
split_schema(const char *info, char **conninfo /* OUT */, char schema[64], struct dfdg_errinfo *ei)
{
    *conninfo = malloc(strlen(info) + 1);
    if (*conninfo == NULL)
        return dfdg_errinfo_set(ei, DFDG_NOMEM, "out of memory opening the store");
    dfdg_strlcpy(schema, SCHEMA_DEFAULT, 64);
    bool uri = strncmp(info, "postgresql://", 13) == 0 || strncmp(info, "postgres://", 11) == 0;
    bool ok = uri ? split_uri(info, *conninfo, schema) : split_keywords(info, *conninfo, schema);
    if (!ok) {
        free(*conninfo);
        *conninfo = NULL;
        return dfdg_errinfo_set(ei, DFDG_INVAL,
                                "store: a PostgreSQL schema name must match [a-z_][a-z0-9_]* "
                                "(at most 63 characters)");
    }
    return DFDG_OK;
}

/* FNV-1a of the schema name: the second half of the store's advisory lock key. */
static int32_t
lock_key(const char *schema)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *c = (const unsigned char *)schema; *c != '\0'; c++) {
        h ^= *c;
        h *= 16777619u;
    }
    return (int32_t)h;
}

/* --- open, migrations, close ------------------------------------------------------------------ */

static void
notice_ignore(void *arg, const char *message)
{
    /* "schema already exists, skipping" and the like: libpq would print them to stderr. */
    (void)arg;
    (void)message;
}

/* Prepares every statement of stmt_sql, pipelined: one round trip (invariant 1). */
static dfdg_err
prepare_all(struct dfdg_pg_store *q)
{
    char name[16];
    if (PQenterPipelineMode(q->conn) != 1) {
        for (int i = 0; i < PG__COUNT; i++) {
            stmt_name((enum dfdg_pg_stmt)i, name);
            PGresult *res = PQprepare(q->conn, name, stmt_sql[i], 0, NULL);
            dfdg_err rc = res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK
                              ? DFDG_OK
                              : fail(q, res, "preparing statements");
            PQclear(res);
            if (rc != DFDG_OK)
                return rc;
        }
        return DFDG_OK;
    }
    dfdg_err rc = DFDG_OK;
    int sent = 0;
    for (; sent < PG__COUNT; sent++) {
        stmt_name((enum dfdg_pg_stmt)sent, name);
        if (PQsendPrepare(q->conn, name, stmt_sql[sent], 0, NULL) != 1)
            break;
    }
    if (sent < PG__COUNT || PQpipelineSync(q->conn) != 1) {
        rc = fail(q, NULL, "preparing statements");
        /* Nothing reliable can be read back; the connection is closed by the caller. */
        return rc;
    }
    /* Each prepare answers with a result and a NULL; the sync ends the batch. */
    int nulls = 0;
    for (;;) {
        PGresult *res = PQgetResult(q->conn);
        if (res == NULL) {
            if (++nulls > PG__COUNT + 1 || PQstatus(q->conn) != CONNECTION_OK) {
                if (rc == DFDG_OK)
                    rc = fail(q, NULL, "preparing statements");
                break;
            }
            continue;
        }
        ExecStatusType st = PQresultStatus(res);
        bool synced = st == PGRES_PIPELINE_SYNC;
        if (!synced && st != PGRES_COMMAND_OK && rc == DFDG_OK)
            rc = fail(q, res, "preparing statements");
        PQclear(res);
        if (synced)
            break;
    }
    if (PQexitPipelineMode(q->conn) != 1 && rc == DFDG_OK)
        rc = fail(q, NULL, "preparing statements");
    return rc;
}

/* Notices, encoding and search_path: what a connection needs before it reads the schema. */
static dfdg_err
session_path(struct dfdg_pg_store *q)
{
    PQsetNoticeProcessor(q->conn, notice_ignore, NULL);
    if (PQsetClientEncoding(q->conn, "UTF8") != 0)
        return fail(q, NULL, "setting the client encoding");
    char sql[200];
    /*
     * The name was checked ([a-z_][a-z0-9_]*): safe to paste, quoted. JIT off: every
     * statement here is short, and the writer's prefetch (pg_batch.c), estimated expensive
     * over a young store's statistics, spent 300 ms compiling to run for 8 ms.
     */
    snprintf(sql, sizeof sql,
             "SELECT pg_catalog.set_config('search_path', '\"%s\"', false),"
             " pg_catalog.set_config('jit', 'off', false)",
             q->schema);
    PGresult *res = PQexec(q->conn, sql);
    dfdg_err rc = res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK
                      ? DFDG_OK
                      : fail(q, res, "setting search_path");
    PQclear(res);
    return rc;
}

/* search_path and statements: what every connection of the store needs (invariant 1). */
static dfdg_err
session_setup(struct dfdg_pg_store *q)
{
    dfdg_err rc = session_path(q);
    return rc == DFDG_OK ? prepare_all(q) : rc;
}

/* Whether the store's schema holds a schema_version table, i.e. a dfdg store. */
static dfdg_err
store_exists(struct dfdg_pg_store *q, bool *out /* OUT */)
{
    int64_t v = 0;
    dfdg_err rc = query_int64(q,
                              "SELECT EXISTS(SELECT 1 FROM pg_catalog.pg_class c"
                              " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                              " WHERE n.nspname = $1 AND c.relname = 'schema_version'"
                              " AND c.relkind IN ('r', 'p'))",
                              q->schema, "looking for the store", &v);
    *out = v != 0;
    return rc;
}

/* The schema version in the store: 0 for an empty schema_version. */
static dfdg_err
read_version(struct dfdg_pg_store *q, int64_t *version /* OUT */)
{
    int64_t rows = 0;
    dfdg_err rc = query_int64(q, "SELECT count(*) FROM schema_version", NULL,
                              "reading the schema version", &rows);
    if (rc != DFDG_OK)
        return rc;
    if (rows == 0) {
        *version = 0;
        return DFDG_OK;
    }
    if (rows != 1)
        return dfdg_store_set_error(&q->base, DFDG_CORRUPT,
                                    "postgres: schema_version holds %lld rows, not one",
                                    (long long)rows);
    return query_int64(q, "SELECT version FROM schema_version", NULL, "reading the schema version",
                       version);
}

/* Applies the migrations from version on; the caller holds the lock in a transaction. */
static dfdg_err
migrate_locked(struct dfdg_pg_store *q, int64_t version)
{
    if (version > DFDG_STORE_SCHEMA_VERSION || version < 0)
        return dfdg_store_set_error(&q->base, DFDG_CORRUPT,
                                    "postgres: the store has schema version %lld, newer than "
                                    "this dfdg knows (%d); use a newer dfdg",
                                    (long long)version, DFDG_STORE_SCHEMA_VERSION);
    if (version == DFDG_STORE_SCHEMA_VERSION)
        return DFDG_OK;
    dfdg_err rc =
        dfdg_pg_run(q, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)",
                    "creating schema_version");
    for (int64_t v = version; v < DFDG_STORE_SCHEMA_VERSION && rc == DFDG_OK; v++)
        rc = dfdg_pg_run(q, dfdg_pg_migrations[v], "migrating the schema");
    if (rc != DFDG_OK)
        return rc;
    char sql[128];
    snprintf(sql, sizeof sql, "DELETE FROM schema_version; INSERT INTO schema_version VALUES(%d)",
             DFDG_STORE_SCHEMA_VERSION);
    return dfdg_pg_run(q, sql, "recording the schema version");
}

/* Rolls back after a failure at open, keeping the first error's detail. */
static void
rollback_keep(struct dfdg_pg_store *q)
{
    char keep[sizeof q->base.errmsg];
    memcpy(keep, q->base.errmsg, sizeof keep);
    PQclear(PQexec(q->conn, "ROLLBACK"));
    memcpy(q->base.errmsg, keep, sizeof keep);
}

/* CREATE: a new store in the schema, made under the lock in one transaction. */
static dfdg_err
create_store(struct dfdg_pg_store *q)
{
    dfdg_err rc = dfdg_pg_run(q, q->begin_sql, "starting the store");
    if (rc != DFDG_OK)
        goto rollback;
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE SCHEMA IF NOT EXISTS \"%s\"", q->schema);
    rc = dfdg_pg_run(q, sql, "creating the schema");
    if (rc != DFDG_OK)
        goto rollback;
    bool exists = false;
    rc = store_exists(q, &exists);
    if (rc == DFDG_OK && exists)
        rc = dfdg_store_set_error(&q->base, DFDG_CONFLICT,
                                  "postgres: the schema already holds a dfdg store");
    if (rc == DFDG_OK)
        rc = migrate_locked(q, 0);
    if (rc == DFDG_OK)
        rc = dfdg_pg_run(q, "COMMIT", "committing the new store");
    if (rc == DFDG_OK)
        return DFDG_OK;
rollback:
    rollback_keep(q);
    return rc;
}

/*
 * OPEN: the store must exist; missing migrations run under the lock. The common case (already
 * current) takes no lock, so reader connections open without waiting for the writer.
 */
static dfdg_err
open_store(struct dfdg_pg_store *q)
{
    bool exists = false;
    dfdg_err rc = store_exists(q, &exists);
    if (rc != DFDG_OK)
        return rc;
    if (!exists)
        return dfdg_store_set_error(&q->base, DFDG_NOT_FOUND,
                                    "postgres: the schema holds no dfdg store");
    int64_t version;
    rc = read_version(q, &version);
    if (rc != DFDG_OK || version == DFDG_STORE_SCHEMA_VERSION)
        return rc;
    rc = dfdg_pg_run(q, q->begin_sql, "starting the migration");
    /* Read again under the lock: another node may have migrated meanwhile. */
    if (rc == DFDG_OK)
        rc = read_version(q, &version);
    if (rc == DFDG_OK)
        rc = migrate_locked(q, version);
    if (rc == DFDG_OK)
        rc = dfdg_pg_run(q, "COMMIT", "committing the migration");
    if (rc != DFDG_OK)
        rollback_keep(q);
    return rc;
}

static void
pg_close(struct dfdg_store *s)
{
    struct dfdg_pg_store *q = dfdg_pg(s);
    dfdg_pg_batch_free(q);
    PQfinish(q->conn);
    free(handle(s));
}

dfdg_err
dfdg_store_pg_open(const char *conninfo, enum dfdg_store_mode mode,
                   struct dfdg_store **out /* OUT */, struct dfdg_errinfo *ei)
{
    *out = NULL;
    struct pg_handle *h = calloc(1, sizeof *h);
    if (h == NULL)
        return dfdg_errinfo_set(ei, DFDG_NOMEM, "out of memory opening the store");
    struct dfdg_pg_store *q = &h->pg;
    q->base.vt = &pg_vt;
    char *info = NULL;
    dfdg_err rc = split_schema(conninfo, &info, q->schema, ei);
    if (rc != DFDG_OK) {
        free(h);
        return rc;
    }
    snprintf(q->begin_sql, sizeof q->begin_sql,
             "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = '" LOCK_TIMEOUT
             "'; SELECT pg_catalog.pg_advisory_xact_lock(%d, %d)",
             (int)LOCK_CLASS, (int)lock_key(q->schema));

    q->conn = PQconnectdb(info);
    /* The string may hold a password: wipe it. */
    memset(info, 0, strlen(info));
    free(info);
    if (q->conn == NULL) {
        free(h);
        return dfdg_errinfo_set(ei, DFDG_NOMEM, "out of memory opening the store");
    }
    if (PQstatus(q->conn) != CONNECTION_OK) {
        char buf[200];
        conn_message(q->conn, buf, sizeof buf);
        rc = dfdg_errinfo_set(ei, DFDG_IO, "cannot connect to PostgreSQL: %s", buf);
        goto close;
    }
    /* The statements are prepared once the tables exist. */
    rc = session_path(q);
    if (rc == DFDG_OK)
        rc = mode == DFDG_STORE_CREATE ? create_store(q) : open_store(q);
    if (rc == DFDG_OK)
        rc = prepare_all(q);
    if (rc != DFDG_OK) {
        dfdg_errinfo_set(ei, rc, "%s (PostgreSQL schema %s)", q->base.errmsg, q->schema);
        goto close;
    }
    q->base.errmsg[0] = '\0';
    *out = &q->base;
    return DFDG_OK;

close:
    pg_close(&q->base);
    return rc;
}

/* --- transactions ------------------------------------------------------------------------------
 */

static dfdg_err
pg_begin(struct dfdg_store *s)
{
    struct dfdg_pg_store *q = dfdg_pg(s);
    if (dfdg_pg_in_tx(q))
        return dfdg_store_set_error(s, DFDG_IO, "postgres: begin: a transaction is already open");
    dfdg_err rc = dfdg_pg_run(q, q->begin_sql, "begin");
    if (rc != DFDG_OK) {
        /* The lock wait timed out (DFDG_BUSY) or worse: leave no half-open transaction. */
        if (dfdg_pg_in_tx(q))
            rollback_keep(q);
        return rc;
    }
    q->in_tx = true;
    handle(s)->nsavepoints = 0;
    dfdg_pg_batch_reset(q);
    return DFDG_OK;
}

static dfdg_err
pg_commit(struct dfdg_store *s)
{
    struct dfdg_pg_store *q = dfdg_pg(s);
    handle(s)->nsavepoints = 0;
    if (q->in_tx && (PQstatus(q->conn) != CONNECTION_OK || !dfdg_pg_in_tx(q) ||
                     PQtransactionStatus(q->conn) == PQTRANS_INERROR))
        dfdg_pg_batch_reset(q); /* the rows cannot be sent: the paths below say why */
    if (q->in_tx && PQstatus(q->conn) != CONNECTION_OK) {
        q->in_tx = false;
        return dfdg_store_set_error(s, DFDG_IO,
                                    "postgres: commit: the connection was lost; nothing was "
                                    "committed");
    }
    if (!dfdg_pg_in_tx(q)) {
        q->in_tx = false;
        return dfdg_store_set_error(s, DFDG_IO, "postgres: commit: no transaction is open");
    }
    if (PQtransactionStatus(q->conn) == PQTRANS_INERROR) {
        /* COMMIT would answer ROLLBACK without an error: say so instead (invariant 4). */
        PQclear(PQexec(q->conn, "ROLLBACK"));
        q->in_tx = false;
        return dfdg_store_set_error(s, DFDG_IO,
                                    "postgres: commit: a statement failed earlier in the "
                                    "transaction, so all of it was rolled back");
    }
    /* The buffered rows first; if they fail, nothing of the transaction stays. */
    dfdg_err rc = dfdg_pg_batch_sync(q);
    dfdg_pg_batch_reset(q);
    if (rc != DFDG_OK) {
        PQclear(PQexec(q->conn, "ROLLBACK"));
        q->in_tx = false;
        return rc;
    }
    rc = dfdg_pg_run(q, "COMMIT", "commit");
    q->in_tx = dfdg_pg_in_tx(q);
    return rc;
}

static dfdg_err
pg_rollback(struct dfdg_store *s)
{
    struct dfdg_pg_store *q = dfdg_pg(s);
    handle(s)->nsavepoints = 0;
    dfdg_pg_batch_reset(q);
    /* Rolling back nothing is fine: cleanup paths need not know how far they got. */
    if (!dfdg_pg_in_tx(q)) {
        q->in_tx = false;
        return DFDG_OK;
    }
    q->in_tx = false;
    PGresult *res = PQexec(q->conn, "ROLLBACK");
    dfdg_err rc =
        res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK ? DFDG_OK : fail(q, res, "rollback");
    PQclear(res);
    return rc;
}

/* The index of the innermost open savepoint called name, or -1. */
static int
savepoint_find(const struct pg_handle *h, const char *name)
{
    for (size_t i = h->nsavepoints; i > 0; i--) {
        if (strcmp(h->savepoints[i - 1], name) == 0)
            return (int)(i - 1);
    }
    return -1;
}

/* name was checked by store.c: [a-z0-9_]{1,63}, safe to paste into SQL. */
static dfdg_err
savepoint_exec(struct dfdg_pg_store *q, const char *verb, const char *name)
{
    char sql[128];
    snprintf(sql, sizeof sql, "%s %s", verb, name);
    return dfdg_pg_run(q, sql, verb);
}

static dfdg_err
pg_savepoint(struct dfdg_store *s, const char *name)
{
    struct pg_handle *h = handle(s);
    if (!dfdg_pg_in_tx(&h->pg))
        return dfdg_store_set_error(s, DFDG_INTERNAL,
                                    "savepoint outside a transaction (call begin first)");
    if (h->nsavepoints >= SAVEPOINTS_MAX)
        return dfdg_store_set_error(s, DFDG_INTERNAL, "postgres: more than %d nested savepoints",
                                    SAVEPOINTS_MAX);
    dfdg_err rc = savepoint_exec(&h->pg, "SAVEPOINT", name);
    if (rc == DFDG_OK) {
        dfdg_strlcpy(h->savepoints[h->nsavepoints++], name, sizeof h->savepoints[0]);
        dfdg_pg_batch_savepoint(&h->pg);
    }
    return rc;
}

static dfdg_err
pg_release(struct dfdg_store *s, const char *name)
{
    struct pg_handle *h = handle(s);
    int i = dfdg_pg_in_tx(&h->pg) ? savepoint_find(h, name) : -1;
    if (i < 0)
        return dfdg_store_set_error(s, DFDG_IO, "postgres: release: no such savepoint: %s", name);
    dfdg_err rc = savepoint_exec(&h->pg, "RELEASE SAVEPOINT", name);
    /* Releasing a savepoint releases the ones opened after it too. */
    if (rc == DFDG_OK) {
        h->nsavepoints = (size_t)i;
        dfdg_pg_batch_release(&h->pg, (size_t)i);
    }
    return rc;
}

static dfdg_err
pg_rollback_to(struct dfdg_store *s, const char *name)
{
    struct pg_handle *h = handle(s);
    int i = dfdg_pg_in_tx(&h->pg) ? savepoint_find(h, name) : -1;
    if (i < 0)
        return dfdg_store_set_error(s, DFDG_IO, "postgres: rollback_to: no such savepoint: %s",
                                    name);
    /* The buffered rows all came after the savepoint: drop them rather than send them. */
    dfdg_pg_batch_rollback_to(&h->pg, (size_t)i);
    dfdg_err rc = savepoint_exec(&h->pg, "ROLLBACK TO SAVEPOINT", name);
    /* The savepoint stays open; the ones opened after it are gone. */
    if (rc == DFDG_OK)
        h->nsavepoints = (size_t)i + 1;
    return rc;
}

/* --- meta, orgs, issuers ------------------------------------------------------------------ */

/* Runs a write that returns no rows. */
static dfdg_err
write_only(struct dfdg_pg_store *q, enum dfdg_pg_stmt id, const struct dfdg_pg_params *p,
           const char *what)
{
    PGresult *res;
    dfdg_err rc = dfdg_pg_exec(q, id, p, what, &res);
    PQclear(res);
    return rc;
}

static dfdg_err
pg_meta_put(struct dfdg_store *s, const char *key, const void *val, size_t len)
{
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_text(&p, key);
    dfdg_pg_p_bytes(&p, val, len);
    return write_only(dfdg_pg(s), PG_META_PUT, &p, "meta_put");
}

static dfdg_err
pg_meta_get(struct dfdg_store *s, const char *key, void *buf, size_t *len)
{
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_text(&p, key);
    PGresult *res;
    dfdg_err rc = dfdg_pg_exec(dfdg_pg(s), PG_META_GET, &p, "meta_get", &res);
    if (rc != DFDG_OK)
        return rc;
    if (PQntuples(res) == 0) {
        rc = DFDG_NOT_FOUND;
        goto clear;
    }
    size_t n = (size_t)PQgetlength(res, 0, 0);
    if (n > *len) {
        *len = n;
        rc = dfdg_store_set_error(s, DFDG_TOO_LARGE, "meta value needs %zu bytes", n);
        goto clear;
    }
    if (n > 0)
        memcpy(buf, PQgetvalue(res, 0, 0), n);
    *len = n;
clear:
    PQclear(res);
    return rc;
}

static dfdg_err
pg_org_put(struct dfdg_store *s, const struct dfdg_org *org)
{
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_text(&p, org->id);
    dfdg_pg_p_text(&p, org->kind);
    dfdg_pg_p_text(&p, org->name);
    return write_only(dfdg_pg(s), PG_ORG_PUT, &p, "org_put");
}

static bool
org_row(const PGresult *res, int row, struct dfdg_org *o /* OUT */)
{
    memset(o, 0, sizeof *o);
    return dfdg_pg_col_text(res, row, 0, o->id, sizeof o->id) &&
           dfdg_pg_col_text(res, row, 1, o->kind, sizeof o->kind) &&
           dfdg_pg_col_text(res, row, 2, o->name, sizeof o->name);
}

static dfdg_err
pg_org_get(struct dfdg_store *s, const char *id, struct dfdg_org *out /* OUT */)
{
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_text(&p, id);
    PGresult *res;
    dfdg_err rc = dfdg_pg_exec(dfdg_pg(s), PG_ORG_GET, &p, "org_get", &res);
    if (rc != DFDG_OK)
        return rc;
    if (PQntuples(res) == 0)
        rc = DFDG_NOT_FOUND;
    else if (!org_row(res, 0, out))
        rc = dfdg_pg_corrupt(dfdg_pg(s), "org");
    PQclear(res);
    return rc;
}

static dfdg_err
pg_issuer_put(struct dfdg_store *s, const char *iss, const uint8_t pk[32])
{
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_text(&p, iss);
    dfdg_pg_p_bytes(&p, pk, 32);
    return write_only(dfdg_pg(s), PG_ISSUER_PUT, &p, "issuer_put");
}

static dfdg_err
pg_issuer_get(struct dfdg_store *s, const char *iss, uint8_t pk[32] /* OUT */)
{
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_text(&p, iss);
    PGresult *res;
    dfdg_err rc = dfdg_pg_exec(dfdg_pg(s), PG_ISSUER_GET, &p, "issuer_get", &res);
    if (rc != DFDG_OK)
        return rc;
    if (PQntuples(res) == 0)
        rc = DFDG_NOT_FOUND;
    else if (!dfdg_pg_col_bytes(res, 0, 0, pk, 32))
        rc = dfdg_pg_corrupt(dfdg_pg(s), "issuer");
    PQclear(res);
    return rc;
}

static dfdg_err
pg_org_list(struct dfdg_store *s, struct dfdg_org **out /* OUT */, size_t *n /* OUT */)
{
    PGresult *res;
    dfdg_err rc = dfdg_pg_exec(dfdg_pg(s), PG_ORG_LIST, NULL, "org_list", &res);
    if (rc != DFDG_OK)
        return rc;
    size_t count = (size_t)PQntuples(res);
    struct dfdg_org *orgs = count > 0 ? calloc(count, sizeof *orgs) : NULL;
    if (count > 0 && orgs == NULL) {
        rc = DFDG_NOMEM;
        goto clear;
    }
    for (size_t i = 0; i < count; i++) {
        if (!org_row(res, (int)i, &orgs[i])) {
            rc = dfdg_pg_corrupt(dfdg_pg(s), "org");
            free(orgs);
            goto clear;
        }
    }
    *out = orgs;
    *n = count;
clear:
    PQclear(res);
    return rc;
}

static dfdg_err
pg_issuer_list(struct dfdg_store *s, struct dfdg_issuer **out /* OUT */, size_t *n /* OUT */)
{
    PGresult *res;
    dfdg_err rc = dfdg_pg_exec(dfdg_pg(s), PG_ISSUER_LIST, NULL, "issuer_list", &res);
    if (rc != DFDG_OK)
        return rc;
    size_t count = (size_t)PQntuples(res);
    struct dfdg_issuer *list = count > 0 ? calloc(count, sizeof *list) : NULL;
    if (count > 0 && list == NULL) {
        rc = DFDG_NOMEM;
        goto clear;
    }
    for (size_t i = 0; i < count; i++) {
        struct dfdg_issuer *is = &list[i];
        if (!dfdg_pg_col_text(res, (int)i, 0, is->iss, sizeof is->iss) ||
            !dfdg_pg_col_bytes(res, (int)i, 1, is->public_key, sizeof is->public_key)) {
            rc = dfdg_pg_corrupt(dfdg_pg(s), "issuer");
            free(list);
            goto clear;
        }
    }
    *out = list;
    *n = count;
clear:
    PQclear(res);
    return rc;
}

/* --- persons ------------------------------------------------------------------------------ */

static int64_t
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bool
is_terminated(const char *buf, size_t size)
{
    return memchr(buf, '\0', size) != NULL;
}

/* Terminated and valid UTF-8: what a text column takes (invariant 4). */
static bool
is_text(const char *buf, size_t size)
{
    return is_terminated(buf, size) && dfdg_pg_utf8_is_valid(buf);
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

static bool
period_is_valid(int32_t from, int32_t to)
{
    return from != DFDG_DATE_NONE && (to == DFDG_DATE_NONE || to >= from);
}

/*
 * Checks p before anything is written (invariant 7), as sqlite.c does, and that its text is
 * UTF-8; messages never repeat a CPR number.
 */
static dfdg_err
person_check(struct dfdg_pg_store *q, const struct dfdg_person *p)
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
    if (!is_text(p->sex, sizeof p->sex) || !is_text(p->status, sizeof p->status) ||
        !is_text(p->first, sizeof p->first) || !is_text(p->middle, sizeof p->middle) ||
        !is_text(p->last, sizeof p->last))
        return dfdg_store_set_error(s, DFDG_INVAL,
                                    "person: a name field is not terminated or not UTF-8");
    if ((p->naddresses > 0 && p->addresses == NULL) ||
        (p->nprotection > 0 && p->protection == NULL) || (p->nchildren > 0 && p->children == NULL))
        return dfdg_store_set_error(s, DFDG_INVAL, "person: a list is missing its items");
    for (size_t i = 0; i < p->naddresses; i++) {
        const struct dfdg_address *a = &p->addresses[i];
        if (!is_digits(a->kommunekode, 3))
            return dfdg_store_set_error(s, DFDG_INVAL,
                                        "person: address %zu: kommunekode is not 3 digits", i);
        if (!is_text(a->road, sizeof a->road) || !is_text(a->house, sizeof a->house) ||
            !is_text(a->postcode, sizeof a->postcode) || !is_text(a->city, sizeof a->city))
            return dfdg_store_set_error(s, DFDG_INVAL,
                                        "person: address %zu: a field is not terminated or not "
                                        "UTF-8",
                                        i);
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
cpr_lookup(struct dfdg_pg_store *q, const char *cpr, int64_t *person_id /* OUT */)
{
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_text(&p, cpr);
    dfdg_err rc = dfdg_pg_scalar(q, PG_CPR_RESOLVE, &p, "resolving a CPR number", person_id);
    if (rc == DFDG_NOT_FOUND) {
        *person_id = 0;
        rc = DFDG_OK;
    }
    return rc;
}

/* Folds one number's person into *found; DFDG_CONFLICT when it is another person. */
static dfdg_err
resolve_one(struct dfdg_pg_store *q, const char *cpr, int64_t *found)
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
person_row(struct dfdg_pg_store *q, const struct dfdg_person *p, int64_t existing, int64_t *id)
{
    struct dfdg_pg_params b = {0};
    dfdg_pg_p_text(&b, p->cpr);
    dfdg_pg_p_date(&b, p->birthdate);
    dfdg_pg_p_text_or_null(&b, p->sex);
    dfdg_pg_p_text_or_null(&b, p->status);
    dfdg_pg_p_text(&b, p->first);
    dfdg_pg_p_text(&b, p->middle);
    dfdg_pg_p_text(&b, p->last);
    dfdg_pg_p_int64(&b, now_us());
    if (existing != 0) {
        dfdg_pg_p_int64(&b, existing);
        *id = existing;
        return write_only(q, PG_PERSON_UPDATE, &b, "writing the person");
    }
    return dfdg_pg_scalar(q, PG_PERSON_INSERT, &b, "writing the person", id);
}

/* Runs one of the "WHERE person_id = $1" deletes. */
static dfdg_err
delete_for(struct dfdg_pg_store *q, enum dfdg_pg_stmt id, int64_t person_id)
{
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_int64(&p, person_id);
    return write_only(q, id, &p, "replacing master data");
}

static dfdg_err
insert_details(struct dfdg_pg_store *q, const struct dfdg_person *p, int64_t id)
{
    dfdg_err rc = DFDG_OK;
    for (size_t i = 0; i < p->naddresses && rc == DFDG_OK; i++) {
        const struct dfdg_address *a = &p->addresses[i];
        struct dfdg_pg_params b = {0};
        dfdg_pg_p_int64(&b, id);
        dfdg_pg_p_text(&b, a->kommunekode);
        dfdg_pg_p_text(&b, a->road);
        dfdg_pg_p_text(&b, a->house);
        dfdg_pg_p_text(&b, a->postcode);
        dfdg_pg_p_text(&b, a->city);
        dfdg_pg_p_date(&b, a->from);
        dfdg_pg_p_date(&b, a->to);
        rc = write_only(q, PG_ADDR_INSERT, &b, "writing an address");
    }
    for (size_t i = 0; i < p->nprotection && rc == DFDG_OK; i++) {
        struct dfdg_pg_params b = {0};
        dfdg_pg_p_int64(&b, id);
        dfdg_pg_p_date(&b, p->protection[i].from);
        dfdg_pg_p_date(&b, p->protection[i].to);
        rc = write_only(q, PG_PROT_INSERT, &b, "writing address protection");
    }
    for (size_t i = 0; i < p->nchildren && rc == DFDG_OK; i++) {
        struct dfdg_pg_params b = {0};
        dfdg_pg_p_int64(&b, id);
        dfdg_pg_p_int64(&b, p->children[i]);
        rc = write_only(q, PG_CHILD_INSERT, &b, "writing a child");
    }
    return rc;
}

static dfdg_err
cpr_map(struct dfdg_pg_store *q, const char *cpr, int64_t id)
{
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_text(&p, cpr);
    dfdg_pg_p_int64(&p, id);
    return write_only(q, PG_CPR_MAP, &p, "mapping a CPR number");
}

/* The body of person_put: lookups first, so a refusal comes before any write (invariant 7). */
static dfdg_err
person_write(struct dfdg_pg_store *q, const struct dfdg_person *p, int64_t *id /* OUT */)
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
        rc = delete_for(q, PG_ADDR_DELETE, found);
        if (rc == DFDG_OK)
            rc = delete_for(q, PG_PROT_DELETE, found);
        if (rc == DFDG_OK)
            rc = delete_for(q, PG_CHILD_DELETE, found);
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
pg_person_put(struct dfdg_store *s, struct dfdg_person *p)
{
    struct dfdg_pg_store *q = dfdg_pg(s);
    dfdg_err rc = person_check(q, p);
    if (rc != DFDG_OK)
        return rc;
    dfdg_pg_batch_forget(q); /* the cached persons may change */
    /* Our own transaction (with the write lock) only when the caller has none open. */
    bool own = !dfdg_pg_in_tx(q);
    if (own) {
        rc = pg_begin(s);
        if (rc != DFDG_OK)
            return rc;
    }
    int64_t id = 0;
    rc = person_write(q, p, &id);
    if (own) {
        if (rc == DFDG_OK) {
            rc = pg_commit(s);
        } else {
            /* Keep the first error's detail: the rollback must not overwrite it. */
            char keep[sizeof s->errmsg];
            memcpy(keep, s->errmsg, sizeof keep);
            (void)pg_rollback(s);
            memcpy(s->errmsg, keep, sizeof keep);
        }
    }
    if (rc == DFDG_OK)
        p->person_id = id;
    return rc;
}

static dfdg_err
pg_person_resolve(struct dfdg_store *s, const char *cpr, int64_t *person_id /* OUT */)
{
    int64_t id = 0;
    dfdg_err rc = DFDG_OK;
    if (!dfdg_pg_cached_person(dfdg_pg(s), cpr, &id))
        rc = cpr_lookup(dfdg_pg(s), cpr, &id);
    if (rc != DFDG_OK)
        return rc;
    if (id == 0)
        return DFDG_NOT_FOUND;
    *person_id = id;
    return DFDG_OK;
}

/* Runs a list statement bound to $1 = person_id (and $2 = text when given). */
static dfdg_err
list_open(struct dfdg_pg_store *q, enum dfdg_pg_stmt id, int64_t person_id, const char *text,
          PGresult **res /* OUT */)
{
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_int64(&p, person_id);
    if (text != NULL)
        dfdg_pg_p_text(&p, text);
    return dfdg_pg_exec(q, id, &p, "person_get", res);
}

static dfdg_err
load_previous(struct dfdg_pg_store *q, int64_t person_id, struct dfdg_person *out)
{
    PGresult *res;
    dfdg_err rc = list_open(q, PG_PERSON_CPRS, person_id, out->cpr, &res);
    if (rc != DFDG_OK)
        return rc;
    size_t n = (size_t)PQntuples(res);
    if (n > 0) {
        out->previous = calloc(n, sizeof *out->previous);
        if (out->previous == NULL)
            rc = DFDG_NOMEM;
    }
    for (size_t i = 0; i < n && rc == DFDG_OK; i++) {
        if (!dfdg_pg_col_text(res, (int)i, 0, out->previous[i], DFDG_CPR_LEN))
            rc = dfdg_pg_corrupt(q, "person_cpr");
        else
            out->nprevious++;
    }
    PQclear(res);
    return rc;
}

static dfdg_err
load_addresses(struct dfdg_pg_store *q, int64_t person_id, struct dfdg_person *out)
{
    PGresult *res;
    dfdg_err rc = list_open(q, PG_ADDR_LIST, person_id, NULL, &res);
    if (rc != DFDG_OK)
        return rc;
    size_t n = (size_t)PQntuples(res);
    if (n > 0) {
        out->addresses = calloc(n, sizeof *out->addresses);
        if (out->addresses == NULL)
            rc = DFDG_NOMEM;
    }
    for (size_t i = 0; i < n && rc == DFDG_OK; i++) {
        struct dfdg_address *a = &out->addresses[i];
        int r = (int)i;
        if (!dfdg_pg_col_text(res, r, 0, a->kommunekode, sizeof a->kommunekode) ||
            !dfdg_pg_col_text(res, r, 1, a->road, sizeof a->road) ||
            !dfdg_pg_col_text(res, r, 2, a->house, sizeof a->house) ||
            !dfdg_pg_col_text(res, r, 3, a->postcode, sizeof a->postcode) ||
            !dfdg_pg_col_text(res, r, 4, a->city, sizeof a->city) ||
            !dfdg_pg_col_date(res, r, 5, &a->from) || !dfdg_pg_col_date(res, r, 6, &a->to))
            rc = dfdg_pg_corrupt(q, "person_address");
        else
            out->naddresses++;
    }
    PQclear(res);
    return rc;
}

static dfdg_err
load_protection(struct dfdg_pg_store *q, int64_t person_id, struct dfdg_person *out)
{
    PGresult *res;
    dfdg_err rc = list_open(q, PG_PROT_LIST, person_id, NULL, &res);
    if (rc != DFDG_OK)
        return rc;
    size_t n = (size_t)PQntuples(res);
    if (n > 0) {
        out->protection = calloc(n, sizeof *out->protection);
        if (out->protection == NULL)
            rc = DFDG_NOMEM;
    }
    for (size_t i = 0; i < n && rc == DFDG_OK; i++) {
        struct dfdg_period *pp = &out->protection[i];
        if (!dfdg_pg_col_date(res, (int)i, 0, &pp->from) ||
            !dfdg_pg_col_date(res, (int)i, 1, &pp->to))
            rc = dfdg_pg_corrupt(q, "person_protection");
        else
            out->nprotection++;
    }
    PQclear(res);
    return rc;
}

static dfdg_err
load_children(struct dfdg_pg_store *q, int64_t person_id, struct dfdg_person *out)
{
    PGresult *res;
    dfdg_err rc = list_open(q, PG_CHILD_LIST, person_id, NULL, &res);
    if (rc != DFDG_OK)
        return rc;
    size_t n = (size_t)PQntuples(res);
    if (n > 0) {
        out->children = calloc(n, sizeof *out->children);
        if (out->children == NULL)
            rc = DFDG_NOMEM;
    }
    for (size_t i = 0; i < n && rc == DFDG_OK; i++) {
        if (!dfdg_pg_col_date(res, (int)i, 0, &out->children[i]))
            rc = dfdg_pg_corrupt(q, "person_child");
        else
            out->nchildren++;
    }
    PQclear(res);
    return rc;
}

static dfdg_err
pg_person_get(struct dfdg_store *s, int64_t person_id, struct dfdg_person *out /* OUT */)
{
    struct dfdg_pg_store *q = dfdg_pg(s);
    memset(out, 0, sizeof *out);
    PGresult *res;
    dfdg_err rc = list_open(q, PG_PERSON_GET, person_id, NULL, &res);
    if (rc != DFDG_OK)
        return rc;
    if (PQntuples(res) == 0) {
        rc = DFDG_NOT_FOUND;
    } else {
        out->person_id = person_id;
        if (!dfdg_pg_col_text(res, 0, 0, out->cpr, sizeof out->cpr) ||
            !dfdg_pg_col_date(res, 0, 1, &out->birthdate) ||
            !dfdg_pg_col_text(res, 0, 2, out->sex, sizeof out->sex) ||
            !dfdg_pg_col_text(res, 0, 3, out->status, sizeof out->status) ||
            !dfdg_pg_col_text(res, 0, 4, out->first, sizeof out->first) ||
            !dfdg_pg_col_text(res, 0, 5, out->middle, sizeof out->middle) ||
            !dfdg_pg_col_text(res, 0, 6, out->last, sizeof out->last))
            rc = dfdg_pg_corrupt(q, "person");
    }
    PQclear(res);
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
pg_residence_on(struct dfdg_store *s, int64_t person_id, int32_t day, char kommunekode[4] /* OUT */)
{
    bool found;
    if (dfdg_pg_cached_residence(dfdg_pg(s), person_id, day, &found, kommunekode))
        return found ? DFDG_OK : DFDG_NOT_FOUND;
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_int64(&p, person_id);
    dfdg_pg_p_int64(&p, day);
    PGresult *res;
    dfdg_err rc = dfdg_pg_exec(dfdg_pg(s), PG_RESIDENCE_ON, &p, "residence_on", &res);
    if (rc != DFDG_OK)
        return rc;
    if (PQntuples(res) == 0)
        rc = DFDG_NOT_FOUND;
    else if (!dfdg_pg_col_text(res, 0, 0, kommunekode, 4))
        rc = dfdg_pg_corrupt(dfdg_pg(s), "person_address");
    PQclear(res);
    return rc;
}

static dfdg_err
pg_is_protected_on(struct dfdg_store *s, int64_t person_id, int32_t day, bool *out /* OUT */)
{
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_int64(&p, person_id);
    dfdg_pg_p_int64(&p, day);
    int64_t v = 0;
    dfdg_err rc = dfdg_pg_scalar(dfdg_pg(s), PG_PROTECTED_ON, &p, "is_protected_on", &v);
    if (rc == DFDG_OK)
        *out = v != 0;
    return rc;
}

static dfdg_err
pg_count_persons(struct dfdg_store *s, int64_t *out /* OUT */)
{
    return dfdg_pg_scalar(dfdg_pg(s), PG_COUNT_PERSONS, NULL, "count_persons", out);
}

static const struct dfdg_store_vt pg_vt = {
    .name = "postgres",
    .close = pg_close,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .savepoint = pg_savepoint,
    .release = pg_release,
    .rollback_to = pg_rollback_to,
    .meta_put = pg_meta_put,
    .meta_get = pg_meta_get,
    .org_put = pg_org_put,
    .org_get = pg_org_get,
    .issuer_put = pg_issuer_put,
    .issuer_get = pg_issuer_get,
    .org_list = pg_org_list,
    .issuer_list = pg_issuer_list,
    .person_put = pg_person_put,
    .person_resolve = pg_person_resolve,
    .prefetch = dfdg_pg_prefetch,
    .person_get = pg_person_get,
    .residence_on = pg_residence_on,
    .is_protected_on = pg_is_protected_on,
    .is_member_on = dfdg_pg_is_member_on,
    .record_insert = dfdg_pg_record_insert,
    .record_get = dfdg_pg_record_get,
    .record_by_source = dfdg_pg_record_by_source,
    .record_successor = dfdg_pg_record_successor,
    .last_recorded_at = dfdg_pg_last_recorded_at,
    .records_query = dfdg_pg_records_query,
    .count_records = dfdg_pg_count_records,
    .count_persons = pg_count_persons,
    .members_on = dfdg_pg_members_on,
    .delivery_insert = dfdg_pg_delivery_insert,
    .feed = dfdg_pg_feed,
    .deliveries_of = dfdg_pg_deliveries_of,
    .last_delivery_seq = dfdg_pg_last_delivery_seq,
    .disclosure_insert = dfdg_pg_disclosure_insert,
    .count_disclosures = dfdg_pg_count_disclosures,
    .audit_append = dfdg_pg_audit_append,
    .audit_node_put = dfdg_pg_audit_node_put,
    .audit_node_get = dfdg_pg_audit_node_get,
    .audit_size = dfdg_pg_audit_size,
    .audit_scan = dfdg_pg_audit_scan,
    .audit_of_person = dfdg_pg_audit_of_person,
    .sth_put = dfdg_pg_sth_put,
    .sth_latest = dfdg_pg_sth_latest,
    .sth_scan = dfdg_pg_sth_scan,
    .chains_ended = dfdg_pg_chains_ended,
    .chain_delete = dfdg_pg_chain_delete,
};
