/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pg_int.h: private to the PostgreSQL backend (pg.c, pg_records.c). The handle, the prepared
 * statements by id, and the helpers both files use to bind parameters, run a prepared
 * statement and read its binary result columns. Nothing here leaves src/store.
 */
#ifndef DFDG_STORE_PG_INT_H
#define DFDG_STORE_PG_INT_H

#include <libpq-fe.h>

#include "store/store_int.h"

/*
 * Two look-ups the single statements (pg.c) and the writer's prefetch (pg_batch.c) both make,
 * with the person and the day as SQL expressions: "$1", "$2" in a statement, columns of a row
 * in the prefetch. One text, so the cached answer is the statement's answer.
 */
/* The kommune of residence on day D (address periods end the day before valid_to). */
#define DFDG_PG_RESIDENCE_SQL(P, D)                                                                \
    "SELECT kommunekode FROM person_address WHERE person_id = " P " AND valid_from <= " D          \
    " AND (valid_to IS NULL OR " D " < valid_to) ORDER BY valid_from DESC, pos DESC LIMIT 1"
/*
 * BEK kap. 16: the owners of current membership chains on day D (valid_to inclusive); a
 * correction keeps the owner. COLLATE "C": org id order is byte order, as in SQLite.
 */
#define DFDG_PG_MEMBERS_SQL(P, D)                                                                  \
    "SELECT DISTINCT r.owner COLLATE \"C\" FROM record r WHERE r.person_id = " P                   \
    " AND r.type = 'akasse-membership' AND r.kind <> 2 AND r.valid_from <= " D                     \
    " AND (r.valid_to IS NULL OR r.valid_to >= " D ")"                                             \
    " AND NOT EXISTS (SELECT 1 FROM record s WHERE s.target_id = r.id) ORDER BY 1"

/* Rows fetched per round trip by the scans that can grow without bound (feed, audit, ...). */
#define DFDG_PG_PAGE 1000

enum dfdg_pg_stmt {
    PG_META_PUT,
    PG_META_GET,
    PG_ORG_PUT,
    PG_ORG_GET,
    PG_ISSUER_PUT,
    PG_ISSUER_GET,
    PG_ORG_LIST,
    PG_ISSUER_LIST,
    PG_CPR_RESOLVE,
    PG_CPR_MAP,
    PG_PERSON_INSERT,
    PG_PERSON_UPDATE,
    PG_ADDR_DELETE,
    PG_PROT_DELETE,
    PG_CHILD_DELETE,
    PG_ADDR_INSERT,
    PG_PROT_INSERT,
    PG_CHILD_INSERT,
    PG_PERSON_GET,
    PG_PERSON_CPRS,
    PG_ADDR_LIST,
    PG_PROT_LIST,
    PG_CHILD_LIST,
    PG_RESIDENCE_ON,
    PG_PROTECTED_ON,
    PG_MEMBER_ON,
    PG_RECORD_CLASH,
    PG_RECORD_GET,
    PG_RECORD_BY_SOURCE,
    PG_RECORD_SUCCESSOR,
    PG_LAST_RECORDED_AT,
    PG_QUERY,
    PG_QUERY_TYPE,
    PG_QUERY_VALID,
    PG_QUERY_TYPE_VALID,
    PG_COUNT_RECORDS,
    PG_COUNT_PERSONS,
    PG_MEMBERS_ON,
    PG_FEED,
    PG_DELIVERIES_OF,
    PG_LAST_DELIVERY_SEQ,
    PG_DISCLOSURE_INSERT,
    PG_COUNT_DISCLOSURES,
    PG_AUDIT_APPEND,
    PG_AUDIT_NODE_PUT,
    PG_AUDIT_NODE_GET,
    PG_AUDIT_SIZE,
    PG_AUDIT_SCAN,
    PG_AUDIT_OF_PERSON,
    PG_STH_PUT,
    PG_STH_LATEST,
    PG_STH_SCAN,
    PG_ENDED_VALID,
    PG_ENDED_CANCEL,
    PG_HAS_SUCCESSOR,
    PG_MAX_RECORD_SEQ,
    PG_DELIVERIES_COUNT,
    PG_RETENTION_ON,
    PG_RETENTION_OFF,
    PG_DELIVERY_DELETE,
    PG_RECORD_DELETE,
    PG_PERSON_EXISTS,
    PG_DELIVERY_CHECK,
    PG__COUNT
};

struct dfdg_pg_store {
    struct dfdg_store base;      /* must stay first */
    PGconn *conn;                /* the connection; its statements are prepared (pg.c) */
    char schema[64];             /* the schema the store lives in ([a-z_][a-z0-9_]*) */
    char begin_sql[192];         /* BEGIN, lock timeout and this store's advisory lock */
    bool in_tx;                  /* begin succeeded and no commit/rollback since */
    struct dfdg_pg_batch *batch; /* the writer's cache and buffered rows (pg_batch.c) */
};

/* Parameters of one statement: text, int64 (as text) or binary bytes; NULL is SQL NULL. */
#define DFDG_PG_PARAMS_MAX 16
struct dfdg_pg_params {
    int n;                                  /* parameters bound */
    const char *values[DFDG_PG_PARAMS_MAX]; /* each value, or NULL for SQL NULL */
    int lengths[DFDG_PG_PARAMS_MAX];        /* byte length of binary values */
    int formats[DFDG_PG_PARAMS_MAX];        /* 0 text, 1 binary */
    char num[DFDG_PG_PARAMS_MAX][24];       /* storage for integers printed as text */
    bool bad_text;                          /* a text value was not valid UTF-8 */
    bool too_large;                         /* a binary value was longer than INT_MAX */
};

static inline struct dfdg_pg_store *
dfdg_pg(struct dfdg_store *s)
{
    return (struct dfdg_pg_store *)s;
}

/* Binding: in order, $1 first. Text must be NUL-terminated; "" binds an empty string. */
void dfdg_pg_p_text(struct dfdg_pg_params *p, const char *v);
/* "" and NULL bind SQL NULL (SQLite's b_text_or_null). */
void dfdg_pg_p_text_or_null(struct dfdg_pg_params *p, const char *v);
void dfdg_pg_p_null(struct dfdg_pg_params *p);
void dfdg_pg_p_int64(struct dfdg_pg_params *p, int64_t v);
/* DFDG_DATE_NONE (an open end) binds NULL. */
void dfdg_pg_p_date(struct dfdg_pg_params *p, int32_t day);
void dfdg_pg_p_bytes(struct dfdg_pg_params *p, const void *v, size_t len);
/* 0 (and anything above INT64_MAX) binds NULL: "LIMIT NULL" is no limit. */
void dfdg_pg_p_limit(struct dfdg_pg_params *p, size_t limit);

/*
 * Runs prepared statement id with p (may be NULL) and binary results. *out (caller clears
 * with PQclear) holds the rows. A text parameter that is not valid UTF-8 cannot match stored
 * text: a read returns an empty result, a write DFDG_INVAL, and nothing reaches the server.
 */
dfdg_err dfdg_pg_exec(struct dfdg_pg_store *q, enum dfdg_pg_stmt id, const struct dfdg_pg_params *p,
                      const char *what, PGresult **out /* OUT */);
/* Runs id and returns the first column of its single row as an int64 (DFDG_NOT_FOUND: none). */
dfdg_err dfdg_pg_scalar(struct dfdg_pg_store *q, enum dfdg_pg_stmt id,
                        const struct dfdg_pg_params *p, const char *what, int64_t *out /* OUT */);
/* Runs SQL text (transaction control) with no parameters or result rows. */
dfdg_err dfdg_pg_run(struct dfdg_pg_store *q, const char *sql, const char *what);
/* True while the connection is inside a transaction block (maybe an aborted one). */
bool dfdg_pg_in_tx(const struct dfdg_pg_store *q);
/* Records why a statement failed (res may be NULL) and returns the translated error. */
dfdg_err dfdg_pg_fail(struct dfdg_pg_store *q, const PGresult *res, const char *what);
/* Records "<what> holds a value out of range" and returns DFDG_CORRUPT. */
dfdg_err dfdg_pg_corrupt(struct dfdg_pg_store *q, const char *what);
/* Whether s (NUL-terminated) is valid UTF-8, as PostgreSQL's text requires. */
bool dfdg_pg_utf8_is_valid(const char *s);

/* Result columns (binary format). Each returns false when the value does not fit. */
bool dfdg_pg_col_int64(const PGresult *res, int row, int col, int64_t *out /* OUT */);
/* NULL reads as "". */
bool dfdg_pg_col_text(const PGresult *res, int row, int col, char *dst, size_t size);
/* NULL reads as DFDG_DATE_NONE. */
bool dfdg_pg_col_date(const PGresult *res, int row, int col, int32_t *day /* OUT */);
/* Exactly n bytes, or false. */
bool dfdg_pg_col_bytes(const PGresult *res, int row, int col, void *dst, size_t n);

/* Makes room for one more element of arr (see sqlite.c); NULL on failure, arr untouched. */
void *dfdg_pg_grow(void *arr, size_t *cap, size_t n, size_t elem);

/*
 * pg_batch.c: the writer's fast path (see there). The transaction hooks are called by pg.c:
 * sync before any statement is sent (dfdg_pg_exec, dfdg_pg_run, commit), reset when a
 * transaction ends, the savepoint ones with the savepoint's depth, forget from person_put.
 * The cached_ functions answer from the prefetch when they can (true / non-NULL), else the
 * caller runs its statement; batch_record and batch_delivery buffer an insert.
 */
struct dfdg_pg_batch;
dfdg_err dfdg_pg_batch_sync(struct dfdg_pg_store *q);
void dfdg_pg_batch_reset(struct dfdg_pg_store *q);
void dfdg_pg_batch_free(struct dfdg_pg_store *q);
void dfdg_pg_batch_forget(struct dfdg_pg_store *q);
void dfdg_pg_batch_savepoint(struct dfdg_pg_store *q);
void dfdg_pg_batch_release(struct dfdg_pg_store *q, size_t depth);
void dfdg_pg_batch_rollback_to(struct dfdg_pg_store *q, size_t depth);
dfdg_err dfdg_pg_batch_record(struct dfdg_pg_store *q, struct dfdg_record *r);
dfdg_err dfdg_pg_batch_delivery(struct dfdg_pg_store *q, struct dfdg_delivery *d);
dfdg_err dfdg_pg_prefetch(struct dfdg_store *s, const struct dfdg_prefetch *pf);
bool dfdg_pg_cached_person(struct dfdg_pg_store *q, const char *cpr, int64_t *person_id);
bool dfdg_pg_cached_residence(struct dfdg_pg_store *q, int64_t person_id, int32_t day, bool *found,
                              char kommunekode[4]);
/* The a-kasser of current memberships, '\n' between, or NULL when not cached. */
const char *dfdg_pg_cached_members(struct dfdg_pg_store *q, int64_t person_id, int32_t day);
/* True when records_query(qr) is known to find nothing. */
bool dfdg_pg_cached_no_records(struct dfdg_pg_store *q, const struct dfdg_record_query *qr);
bool dfdg_pg_cached_source_absent(struct dfdg_pg_store *q, const char *reporter,
                                  const char *source_ref);

/* pg_records.c: the vtable entries for records, deliveries, disclosures, audit, retention. */
dfdg_err dfdg_pg_record_insert(struct dfdg_store *s, struct dfdg_record *r);
dfdg_err dfdg_pg_record_get(struct dfdg_store *s, const char *id, struct dfdg_record *out);
dfdg_err dfdg_pg_record_by_source(struct dfdg_store *s, const char *reporter,
                                  const char *source_ref, struct dfdg_record *out);
dfdg_err dfdg_pg_record_successor(struct dfdg_store *s, const char *id, int64_t as_of,
                                  struct dfdg_record *out);
dfdg_err dfdg_pg_last_recorded_at(struct dfdg_store *s, int64_t *out);
dfdg_err dfdg_pg_records_query(struct dfdg_store *s, const struct dfdg_record_query *q,
                               dfdg_record_cb cb, void *ctx);
dfdg_err dfdg_pg_count_records(struct dfdg_store *s, int64_t *out);
dfdg_err dfdg_pg_members_on(struct dfdg_store *s, int64_t person_id, int32_t day, dfdg_org_cb cb,
                            void *ctx);
dfdg_err dfdg_pg_is_member_on(struct dfdg_store *s, int64_t person_id, const char *akasse_id,
                              int32_t day, bool *out);
dfdg_err dfdg_pg_delivery_insert(struct dfdg_store *s, struct dfdg_delivery *d);
dfdg_err dfdg_pg_feed(struct dfdg_store *s, const char *org_id, int64_t after, size_t limit,
                      dfdg_delivery_cb cb, void *ctx);
dfdg_err dfdg_pg_deliveries_of(struct dfdg_store *s, const char *record_id, dfdg_delivery_cb cb,
                               void *ctx);
dfdg_err dfdg_pg_last_delivery_seq(struct dfdg_store *s, int64_t *out);
dfdg_err dfdg_pg_disclosure_insert(struct dfdg_store *s, struct dfdg_disclosure *d);
dfdg_err dfdg_pg_count_disclosures(struct dfdg_store *s, int64_t *out);
dfdg_err dfdg_pg_audit_append(struct dfdg_store *s, int64_t idx, int64_t at, const char *entry,
                              size_t len, const int64_t *persons, size_t npersons);
dfdg_err dfdg_pg_audit_node_put(struct dfdg_store *s, unsigned level, int64_t index,
                                const uint8_t hash[32]);
dfdg_err dfdg_pg_audit_node_get(struct dfdg_store *s, unsigned level, int64_t index,
                                uint8_t hash[32]);
dfdg_err dfdg_pg_audit_size(struct dfdg_store *s, int64_t *out);
dfdg_err dfdg_pg_audit_scan(struct dfdg_store *s, int64_t from, dfdg_audit_entry_cb cb, void *ctx);
dfdg_err dfdg_pg_audit_of_person(struct dfdg_store *s, int64_t person_id, int64_t before,
                                 size_t limit, dfdg_audit_entry_cb cb, void *ctx);
dfdg_err dfdg_pg_sth_put(struct dfdg_store *s, const struct dfdg_sth *h);
dfdg_err dfdg_pg_sth_latest(struct dfdg_store *s, struct dfdg_sth *out);
dfdg_err dfdg_pg_sth_scan(struct dfdg_store *s, dfdg_sth_cb cb, void *ctx);
dfdg_err dfdg_pg_chains_ended(struct dfdg_store *s, const char *type, int32_t before,
                              struct dfdg_chain_cursor *cur, dfdg_chain_end_cb cb, void *ctx);
dfdg_err dfdg_pg_chain_delete(struct dfdg_store *s, const char *last_id, bool dry_run,
                              dfdg_record_cb cb, void *ctx, struct dfdg_chain_deleted *out);

#endif
