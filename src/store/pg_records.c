/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pg_records.c: the PostgreSQL backend's records, relationships, deliveries, disclosures,
 * audit log and retention (store.h), with the semantics of sqlite.c. The invariants are pg.c's;
 * the ones that shape this file: writes that callers expect to be refused are asked for
 * without an error (ON CONFLICT DO NOTHING RETURNING, EXISTS for foreign keys) so the
 * transaction goes on (pg.c, invariant 4); record, delivery, disclosure, audit and tree-head
 * inserts refuse to run outside a transaction, whose advisory lock keeps delivery.seq in
 * commit order and audit indexes gap-free (invariant 3); and every callback runs over a
 * result already fetched, a page at a time where a scan can be long (invariant 6).
 */
#include "core/dfdg.h"

#include <errno.h>

#include "store/pg_int.h"

#define US_PER_DAY INT64_C(86400000000)
/* No chain is this long; a longer walk means the links loop (a corrupt store). */
#define CHAIN_MAX 100000

/* Column of the subject's CPR number in a DELIVERY_HEAD row (pg.c), after RECORD_COLS. */
#define DELIVERY_COL_CPR 16

static dfdg_err
not_in_tx(struct dfdg_pg_store *q, const char *what)
{
    return dfdg_store_set_error(&q->base, DFDG_INTERNAL,
                                "%s outside a transaction (call begin first)", what);
}

/* Terminated and valid UTF-8 (pg.c, invariant 4). */
static bool
is_text(const char *buf, size_t size)
{
    return memchr(buf, '\0', size) != NULL && dfdg_pg_utf8_is_valid(buf);
}

/* Runs a statement that returns no rows we need. */
static dfdg_err
write_only(struct dfdg_pg_store *q, enum dfdg_pg_stmt id, const struct dfdg_pg_params *p,
           const char *what)
{
    PGresult *res;
    dfdg_err rc = dfdg_pg_exec(q, id, p, what, &res);
    PQclear(res);
    return rc;
}

/* Runs an EXISTS(...) statement; no row (an unmatchable argument) is false. */
static dfdg_err
exists(struct dfdg_pg_store *q, enum dfdg_pg_stmt id, const struct dfdg_pg_params *p,
       const char *what, bool *out /* OUT */)
{
    int64_t v = 0;
    dfdg_err rc = dfdg_pg_scalar(q, id, p, what, &v);
    if (rc == DFDG_NOT_FOUND)
        rc = DFDG_OK;
    *out = rc == DFDG_OK && v != 0;
    return rc;
}

/* --- records ------------------------------------------------------------------------------ */

static bool
period_is_valid(int32_t from, int32_t to)
{
    return from != DFDG_DATE_NONE && (to == DFDG_DATE_NONE || to >= from);
}

static dfdg_err
record_check(struct dfdg_pg_store *q, const struct dfdg_record *r)
{
    struct dfdg_store *s = &q->base;
    if (!is_text(r->id, sizeof r->id) || r->id[0] == '\0' || !is_text(r->type, sizeof r->type) ||
        r->type[0] == '\0' || !is_text(r->cvr, sizeof r->cvr) ||
        !is_text(r->reporter, sizeof r->reporter) || !is_text(r->owner, sizeof r->owner) ||
        r->reporter[0] == '\0' || !is_text(r->source_ref, sizeof r->source_ref) ||
        r->source_ref[0] == '\0' || !is_text(r->target_id, sizeof r->target_id))
        return dfdg_store_set_error(s, DFDG_INVAL,
                                    "record: a required field is empty, not terminated or not "
                                    "UTF-8");
    if (r->kind != DFDG_RECORD_ORIGINAL && r->kind != DFDG_RECORD_CORRECTION &&
        r->kind != DFDG_RECORD_CANCELLATION)
        return dfdg_store_set_error(s, DFDG_INVAL, "record: unknown kind %d", (int)r->kind);
    if ((r->kind == DFDG_RECORD_ORIGINAL) != (r->target_id[0] == '\0'))
        return dfdg_store_set_error(s, DFDG_INVAL,
                                    "record: corrections and cancellations (and only they) "
                                    "name a target");
    if (r->person_id < 0 || r->data == NULL)
        return dfdg_store_set_error(s, DFDG_INVAL, "record: bad subject or no data");
    if (!dfdg_pg_utf8_is_valid(r->data) || (r->reason != NULL && !dfdg_pg_utf8_is_valid(r->reason)))
        return dfdg_store_set_error(s, DFDG_INVAL, "record: data or reason is not UTF-8");
    if (!period_is_valid(r->valid_from, r->valid_to))
        return dfdg_store_set_error(s, DFDG_INVAL, "record: valid_to is before valid_from");
    return DFDG_OK;
}

dfdg_err
dfdg_pg_record_insert(struct dfdg_store *s, struct dfdg_record *r)
{
    struct dfdg_pg_store *q = dfdg_pg(s);
    if (!dfdg_pg_in_tx(q))
        return not_in_tx(q, "record_insert");
    dfdg_err rc = record_check(q, r);
    if (rc != DFDG_OK)
        return rc;
    return dfdg_pg_batch_record(q, r);
}

/*
 * Fills out from row of RECORD_COLS. With copy, data and reason are the caller's (malloc);
 * without, they point into res and are valid until it is cleared.
 */
static dfdg_err
row_to_record(struct dfdg_pg_store *q, const PGresult *res, int row, bool copy,
              struct dfdg_record *out /* OUT */)
{
    memset(out, 0, sizeof *out);
    int64_t kind = -1, person = 0;
    if (!dfdg_pg_col_int64(res, row, 0, &out->seq) ||
        (!PQgetisnull(res, row, 3) && !dfdg_pg_col_int64(res, row, 3, &person)) ||
        !dfdg_pg_col_int64(res, row, 9, &out->recorded_at) ||
        !dfdg_pg_col_int64(res, row, 10, &kind) ||
        !dfdg_pg_col_text(res, row, 1, out->id, sizeof out->id) ||
        !dfdg_pg_col_text(res, row, 2, out->type, sizeof out->type) ||
        !dfdg_pg_col_text(res, row, 4, out->cvr, sizeof out->cvr) ||
        !dfdg_pg_col_text(res, row, 5, out->reporter, sizeof out->reporter) ||
        !dfdg_pg_col_text(res, row, 6, out->source_ref, sizeof out->source_ref) ||
        !dfdg_pg_col_date(res, row, 7, &out->valid_from) ||
        !dfdg_pg_col_date(res, row, 8, &out->valid_to) ||
        !dfdg_pg_col_text(res, row, 11, out->target_id, sizeof out->target_id) ||
        !dfdg_pg_col_text(res, row, 15, out->owner, sizeof out->owner) || kind < 0 || kind > 2)
        return dfdg_pg_corrupt(q, "record");
    out->person_id = person;
    out->kind = (enum dfdg_record_kind)kind;
    if (!dfdg_pg_col_bytes(res, row, 12, out->content_hash, sizeof out->content_hash))
        return dfdg_pg_corrupt(q, "record.content_hash");
    if (PQgetisnull(res, row, 13))
        return dfdg_pg_corrupt(q, "record.data");
    char *data = PQgetvalue(res, row, 13);
    char *reason = PQgetisnull(res, row, 14) ? NULL : PQgetvalue(res, row, 14);
    if (!copy) {
        out->data = data;
        out->reason = reason;
        return DFDG_OK;
    }
    size_t ndata = (size_t)PQgetlength(res, row, 13);
    out->data = malloc(ndata + 1);
    if (out->data == NULL)
        return DFDG_NOMEM;
    memcpy(out->data, data, ndata + 1);
    if (reason != NULL) {
        size_t nreason = (size_t)PQgetlength(res, row, 14);
        out->reason = malloc(nreason + 1);
        if (out->reason == NULL) {
            dfdg_record_cleanup(out);
            return DFDG_NOMEM;
        }
        memcpy(out->reason, reason, nreason + 1);
    }
    return DFDG_OK;
}

/* Runs a single-record statement and copies its row into out. */
static dfdg_err
record_one(struct dfdg_pg_store *q, enum dfdg_pg_stmt id, const struct dfdg_pg_params *p,
           const char *what, struct dfdg_record *out /* OUT */)
{
    memset(out, 0, sizeof *out);
    PGresult *res;
    dfdg_err rc = dfdg_pg_exec(q, id, p, what, &res);
    if (rc != DFDG_OK)
        return rc;
    if (PQntuples(res) == 0)
        rc = DFDG_NOT_FOUND;
    else
        rc = row_to_record(q, res, 0, true, out);
    PQclear(res);
    if (rc != DFDG_OK) {
        dfdg_record_cleanup(out);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

dfdg_err
dfdg_pg_record_get(struct dfdg_store *s, const char *id, struct dfdg_record *out /* OUT */)
{
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_text(&p, id);
    return record_one(dfdg_pg(s), PG_RECORD_GET, &p, "record_get", out);
}

dfdg_err
dfdg_pg_record_by_source(struct dfdg_store *s, const char *reporter, const char *source_ref,
                         struct dfdg_record *out /* OUT */)
{
    if (dfdg_pg_cached_source_absent(dfdg_pg(s), reporter, source_ref))
        return DFDG_NOT_FOUND;
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_text(&p, reporter);
    dfdg_pg_p_text(&p, source_ref);
    return record_one(dfdg_pg(s), PG_RECORD_BY_SOURCE, &p, "record_by_source", out);
}

dfdg_err
dfdg_pg_record_successor(struct dfdg_store *s, const char *id, int64_t as_of,
                         struct dfdg_record *out /* OUT */)
{
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_text(&p, id);
    dfdg_pg_p_int64(&p, as_of);
    return record_one(dfdg_pg(s), PG_RECORD_SUCCESSOR, &p, "record_successor", out);
}

dfdg_err
dfdg_pg_last_recorded_at(struct dfdg_store *s, int64_t *out /* OUT */)
{
    return dfdg_pg_scalar(dfdg_pg(s), PG_LAST_RECORDED_AT, NULL, "last_recorded_at", out);
}

dfdg_err
dfdg_pg_records_query(struct dfdg_store *s, const struct dfdg_record_query *qr, dfdg_record_cb cb,
                      void *ctx)
{
    struct dfdg_pg_store *q = dfdg_pg(s);
    if (dfdg_pg_cached_no_records(q, qr))
        return DFDG_OK;
    bool by_type = qr->type != NULL;
    bool by_valid = qr->valid_on != DFDG_DATE_NONE;
    enum dfdg_pg_stmt id = by_type ? (by_valid ? PG_QUERY_TYPE_VALID : PG_QUERY_TYPE)
                                   : (by_valid ? PG_QUERY_VALID : PG_QUERY);
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_int64(&p, qr->person_id);
    dfdg_pg_p_int64(&p, qr->as_of);
    if (by_type)
        dfdg_pg_p_text(&p, qr->type);
    if (by_valid)
        dfdg_pg_p_int64(&p, qr->valid_on);
    dfdg_pg_p_limit(&p, qr->limit);
    /* One person's records: fetched whole, then handed out (pg.c, invariant 6). */
    PGresult *res;
    dfdg_err rc = dfdg_pg_exec(q, id, &p, "records_query", &res);
    if (rc != DFDG_OK)
        return rc;
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        struct dfdg_record r;
        rc = row_to_record(q, res, i, false, &r);
        if (rc != DFDG_OK || !cb(&r, ctx))
            break;
    }
    PQclear(res);
    return rc;
}

dfdg_err
dfdg_pg_count_records(struct dfdg_store *s, int64_t *out /* OUT */)
{
    return dfdg_pg_scalar(dfdg_pg(s), PG_COUNT_RECORDS, NULL, "count_records", out);
}

/* --- relationships derived from records ---------------------------------------------------- */

dfdg_err
dfdg_pg_is_member_on(struct dfdg_store *s, int64_t person_id, const char *akasse_id, int32_t day,
                     bool *out /* OUT */)
{
    const char *members = dfdg_pg_cached_members(dfdg_pg(s), person_id, day);
    if (members != NULL) {
        size_t n = strlen(akasse_id);
        *out = false;
        for (const char *m = members; *m != '\0' && !*out;
             m = strchr(m, '\n') ? strchr(m, '\n') + 1 : "")
            *out = strncmp(m, akasse_id, n) == 0 && (m[n] == '\n' || m[n] == '\0');
        return DFDG_OK;
    }
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_int64(&p, person_id);
    dfdg_pg_p_text(&p, akasse_id);
    dfdg_pg_p_int64(&p, day);
    return exists(dfdg_pg(s), PG_MEMBER_ON, &p, "is_member_on", out);
}

dfdg_err
dfdg_pg_members_on(struct dfdg_store *s, int64_t person_id, int32_t day, dfdg_org_cb cb, void *ctx)
{
    struct dfdg_pg_store *q = dfdg_pg(s);
    const char *members = dfdg_pg_cached_members(q, person_id, day);
    if (members != NULL) {
        /* The callback may write (a delivery): walk a copy, the cache may change meanwhile. */
        char *copy = strdup(members);
        if (copy == NULL)
            return dfdg_store_set_error(s, DFDG_NOMEM, "postgres: members_on: out of memory");
        for (char *m = copy, *end; *m != '\0'; m = end) {
            end = strchr(m, '\n');
            end = end != NULL ? (*end = '\0', end + 1) : m + strlen(m);
            if (!cb(m, ctx))
                break;
        }
        free(copy);
        return DFDG_OK;
    }
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_int64(&p, person_id);
    dfdg_pg_p_int64(&p, day);
    PGresult *res;
    dfdg_err rc = dfdg_pg_exec(q, PG_MEMBERS_ON, &p, "members_on", &res);
    if (rc != DFDG_OK)
        return rc;
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        if (PQgetisnull(res, i, 0)) {
            rc = dfdg_pg_corrupt(q, "record.owner");
            break;
        }
        if (!cb(PQgetvalue(res, i, 0), ctx))
            break;
    }
    PQclear(res);
    return rc;
}

/* --- deliveries and disclosures ------------------------------------------------------------- */

dfdg_err
dfdg_pg_delivery_insert(struct dfdg_store *s, struct dfdg_delivery *d)
{
    struct dfdg_pg_store *q = dfdg_pg(s);
    if (!dfdg_pg_in_tx(q))
        return not_in_tx(q, "delivery_insert");
    return dfdg_pg_batch_delivery(q, d);
}

/* Fills d, r (borrowing data and reason from res) and *cpr from a row of DELIVERY_HEAD. */
static dfdg_err
delivery_row(struct dfdg_pg_store *q, const PGresult *res, int row,
             struct dfdg_delivery *d /* OUT */, struct dfdg_record *r /* OUT */,
             const char **cpr /* OUT */)
{
    dfdg_err rc = row_to_record(q, res, row, false, r);
    if (rc != DFDG_OK)
        return rc;
    /* A company record has no person: its CPR number is "". */
    *cpr = PQgetisnull(res, row, DELIVERY_COL_CPR) ? "" : PQgetvalue(res, row, DELIVERY_COL_CPR);
    memset(d, 0, sizeof *d);
    if (!dfdg_pg_col_int64(res, row, DELIVERY_COL_CPR + 1, &d->seq) ||
        !dfdg_pg_col_int64(res, row, DELIVERY_COL_CPR + 5, &d->created_at) ||
        !dfdg_pg_col_text(res, row, DELIVERY_COL_CPR + 2, d->org_id, sizeof d->org_id) ||
        !dfdg_pg_col_text(res, row, DELIVERY_COL_CPR + 3, d->record_id, sizeof d->record_id) ||
        !dfdg_pg_col_text(res, row, DELIVERY_COL_CPR + 4, d->reason, sizeof d->reason))
        return dfdg_pg_corrupt(q, "delivery");
    return DFDG_OK;
}

/*
 * Hands the rows of a DELIVERY_HEAD result to cb. *stopped: cb asked to stop; *last: the seq
 * of the last row handed out.
 */
static dfdg_err
deliveries_run(struct dfdg_pg_store *q, const PGresult *res, dfdg_delivery_cb cb, void *ctx,
               bool *stopped /* OUT */, int64_t *last /* OUT */)
{
    *stopped = false;
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        struct dfdg_delivery d;
        struct dfdg_record r;
        const char *cpr;
        dfdg_err rc = delivery_row(q, res, i, &d, &r, &cpr);
        if (rc != DFDG_OK)
            return rc;
        *last = d.seq;
        if (!cb(&d, &r, cpr, ctx)) {
            *stopped = true;
            break;
        }
    }
    return DFDG_OK;
}

dfdg_err
dfdg_pg_feed(struct dfdg_store *s, const char *org_id, int64_t after, size_t limit,
             dfdg_delivery_cb cb, void *ctx)
{
    struct dfdg_pg_store *q = dfdg_pg(s);
    /* A page at a time by seq (pg.c, invariant 6); limit 0 is no limit. */
    size_t left = limit;
    int64_t cursor = after;
    for (;;) {
        size_t want = DFDG_PG_PAGE;
        if (limit != 0 && left < want)
            want = left;
        struct dfdg_pg_params p = {0};
        dfdg_pg_p_text(&p, org_id);
        dfdg_pg_p_int64(&p, cursor);
        dfdg_pg_p_limit(&p, want);
        PGresult *res;
        dfdg_err rc = dfdg_pg_exec(q, PG_FEED, &p, "feed", &res);
        if (rc != DFDG_OK)
            return rc;
        size_t got = (size_t)PQntuples(res);
        bool stopped = false;
        rc = deliveries_run(q, res, cb, ctx, &stopped, &cursor);
        PQclear(res);
        if (rc != DFDG_OK || stopped || got < want)
            return rc;
        if (limit != 0) {
            left -= got;
            if (left == 0)
                return DFDG_OK;
        }
    }
}

dfdg_err
dfdg_pg_deliveries_of(struct dfdg_store *s, const char *record_id, dfdg_delivery_cb cb, void *ctx)
{
    struct dfdg_pg_store *q = dfdg_pg(s);
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_text(&p, record_id);
    PGresult *res;
    dfdg_err rc = dfdg_pg_exec(q, PG_DELIVERIES_OF, &p, "deliveries_of", &res);
    if (rc != DFDG_OK)
        return rc;
    bool stopped;
    int64_t last = 0;
    rc = deliveries_run(q, res, cb, ctx, &stopped, &last);
    PQclear(res);
    return rc;
}

dfdg_err
dfdg_pg_last_delivery_seq(struct dfdg_store *s, int64_t *out /* OUT */)
{
    return dfdg_pg_scalar(dfdg_pg(s), PG_LAST_DELIVERY_SEQ, NULL, "last_delivery_seq", out);
}

dfdg_err
dfdg_pg_disclosure_insert(struct dfdg_store *s, struct dfdg_disclosure *d)
{
    struct dfdg_pg_store *q = dfdg_pg(s);
    if (!dfdg_pg_in_tx(q))
        return not_in_tx(q, "disclosure_insert");
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_int64(&p, d->at);
    dfdg_pg_p_text(&p, d->org_id);
    dfdg_pg_p_text(&p, d->sub);
    if (d->person_id != 0)
        dfdg_pg_p_int64(&p, d->person_id);
    else
        dfdg_pg_p_null(&p);
    dfdg_pg_p_text_or_null(&p, d->record_id);
    dfdg_pg_p_text_or_null(&p, d->type);
    dfdg_pg_p_text(&p, d->purpose);
    dfdg_pg_p_text(&p, d->legal_basis);
    dfdg_pg_p_text(&p, d->channel);
    int64_t seq = 0;
    dfdg_err rc = dfdg_pg_scalar(q, PG_DISCLOSURE_INSERT, &p, "disclosure_insert", &seq);
    if (rc == DFDG_OK)
        d->seq = seq;
    return rc;
}

dfdg_err
dfdg_pg_count_disclosures(struct dfdg_store *s, int64_t *out /* OUT */)
{
    return dfdg_pg_scalar(dfdg_pg(s), PG_COUNT_DISCLOSURES, NULL, "count_disclosures", out);
}

/* --- the audit log -------------------------------------------------------------------------- */

/* persons as an array literal ("{11,22}"), zeros left out; caller frees *out. */
static dfdg_err
persons_array(const int64_t *persons, size_t npersons, char **out /* OUT */)
{
    if (npersons > (SIZE_MAX - 3) / 21)
        return DFDG_TOO_LARGE;
    size_t cap = npersons * 21 + 3;
    char *buf = malloc(cap);
    if (buf == NULL)
        return DFDG_NOMEM;
    size_t o = 0;
    buf[o++] = '{';
    for (size_t i = 0; i < npersons; i++) {
        if (persons[i] == 0)
            continue;
        int n = snprintf(buf + o, cap - o, "%s%lld", o > 1 ? "," : "", (long long)persons[i]);
        o += (size_t)n;
    }
    buf[o++] = '}';
    buf[o] = '\0';
    *out = buf;
    return DFDG_OK;
}

dfdg_err
dfdg_pg_audit_append(struct dfdg_store *s, int64_t idx, int64_t at, const char *entry, size_t len,
                     const int64_t *persons, size_t npersons)
{
    struct dfdg_pg_store *q = dfdg_pg(s);
    if (!dfdg_pg_in_tx(q))
        return not_in_tx(q, "audit_append");
    char *arr = NULL;
    dfdg_err rc = persons_array(persons, npersons, &arr);
    if (rc != DFDG_OK)
        return dfdg_store_set_error(s, rc, "postgres: audit_append: no room for the persons");
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_int64(&p, idx);
    dfdg_pg_p_int64(&p, at);
    dfdg_pg_p_bytes(&p, entry, len);
    dfdg_pg_p_text(&p, arr);
    int64_t added = 0;
    rc = dfdg_pg_scalar(q, PG_AUDIT_APPEND, &p, "audit_append", &added);
    free(arr);
    if (rc == DFDG_OK && added == 0)
        rc = dfdg_store_set_error(s, DFDG_CONFLICT, "postgres: audit entry %lld exists",
                                  (long long)idx);
    return rc;
}

dfdg_err
dfdg_pg_audit_node_put(struct dfdg_store *s, unsigned level, int64_t index, const uint8_t hash[32])
{
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_int64(&p, (int64_t)level);
    dfdg_pg_p_int64(&p, index);
    dfdg_pg_p_bytes(&p, hash, 32);
    int64_t v = 0;
    dfdg_err rc = dfdg_pg_scalar(dfdg_pg(s), PG_AUDIT_NODE_PUT, &p, "audit_node_put", &v);
    if (rc == DFDG_NOT_FOUND)
        rc = dfdg_store_set_error(s, DFDG_CONFLICT,
                                  "postgres: audit node at level %u, index %lld exists", level,
                                  (long long)index);
    return rc;
}

dfdg_err
dfdg_pg_audit_node_get(struct dfdg_store *s, unsigned level, int64_t index,
                       uint8_t hash[32] /* OUT */)
{
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_int64(&p, (int64_t)level);
    dfdg_pg_p_int64(&p, index);
    PGresult *res;
    dfdg_err rc = dfdg_pg_exec(dfdg_pg(s), PG_AUDIT_NODE_GET, &p, "audit_node_get", &res);
    if (rc != DFDG_OK)
        return rc;
    if (PQntuples(res) == 0)
        rc = dfdg_store_set_error(s, DFDG_NOT_FOUND, "no audit node at level %u, index %lld", level,
                                  (long long)index);
    else if (!dfdg_pg_col_bytes(res, 0, 0, hash, 32))
        rc = dfdg_pg_corrupt(dfdg_pg(s), "audit_node.hash");
    PQclear(res);
    return rc;
}

dfdg_err
dfdg_pg_audit_size(struct dfdg_store *s, int64_t *out /* OUT */)
{
    return dfdg_pg_scalar(dfdg_pg(s), PG_AUDIT_SIZE, NULL, "audit_size", out);
}

/*
 * Hands the (idx, at, entry) rows of res to cb, the entry borrowed from res. *stopped: cb
 * asked to stop; *last: the idx of the last row handed out.
 */
static dfdg_err
audit_entries_run(struct dfdg_pg_store *q, const PGresult *res, dfdg_audit_entry_cb cb, void *ctx,
                  bool *stopped /* OUT */, int64_t *last /* OUT */)
{
    *stopped = false;
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        int64_t idx, at;
        if (!dfdg_pg_col_int64(res, i, 0, &idx) || !dfdg_pg_col_int64(res, i, 1, &at))
            return dfdg_pg_corrupt(q, "audit_entry");
        if (PQgetisnull(res, i, 2))
            return dfdg_store_set_error(&q->base, DFDG_CORRUPT,
                                        "postgres: audit entry %lld has no bytes", (long long)idx);
        *last = idx;
        if (!cb(idx, at, PQgetvalue(res, i, 2), (size_t)PQgetlength(res, i, 2), ctx)) {
            *stopped = true;
            break;
        }
    }
    return DFDG_OK;
}

dfdg_err
dfdg_pg_audit_scan(struct dfdg_store *s, int64_t from, dfdg_audit_entry_cb cb, void *ctx)
{
    struct dfdg_pg_store *q = dfdg_pg(s);
    /* A page at a time by idx: a scan of millions of entries holds one page (invariant 6). */
    int64_t next = from;
    for (;;) {
        struct dfdg_pg_params p = {0};
        dfdg_pg_p_int64(&p, next);
        dfdg_pg_p_limit(&p, DFDG_PG_PAGE);
        PGresult *res;
        dfdg_err rc = dfdg_pg_exec(q, PG_AUDIT_SCAN, &p, "audit_scan", &res);
        if (rc != DFDG_OK)
            return rc;
        int got = PQntuples(res);
        bool stopped = false;
        int64_t last = next;
        rc = audit_entries_run(q, res, cb, ctx, &stopped, &last);
        PQclear(res);
        if (rc != DFDG_OK || stopped || got < DFDG_PG_PAGE || last == INT64_MAX)
            return rc;
        next = last + 1;
    }
}

dfdg_err
dfdg_pg_audit_of_person(struct dfdg_store *s, int64_t person_id, int64_t before, size_t limit,
                        dfdg_audit_entry_cb cb, void *ctx)
{
    struct dfdg_pg_store *q = dfdg_pg(s);
    size_t left = limit;
    int64_t cursor = before;
    for (;;) {
        size_t want = DFDG_PG_PAGE;
        if (limit != 0 && left < want)
            want = left;
        struct dfdg_pg_params p = {0};
        dfdg_pg_p_int64(&p, person_id);
        dfdg_pg_p_int64(&p, cursor);
        dfdg_pg_p_limit(&p, want);
        PGresult *res;
        dfdg_err rc = dfdg_pg_exec(q, PG_AUDIT_OF_PERSON, &p, "audit_of_person", &res);
        if (rc != DFDG_OK)
            return rc;
        size_t got = (size_t)PQntuples(res);
        bool stopped = false;
        rc = audit_entries_run(q, res, cb, ctx, &stopped, &cursor);
        PQclear(res);
        if (rc != DFDG_OK || stopped || got < want)
            return rc;
        if (limit != 0) {
            left -= got;
            if (left == 0)
                return DFDG_OK;
        }
    }
}

dfdg_err
dfdg_pg_sth_put(struct dfdg_store *s, const struct dfdg_sth *h)
{
    struct dfdg_pg_store *q = dfdg_pg(s);
    if (!dfdg_pg_in_tx(q))
        return not_in_tx(q, "sth_put");
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_int64(&p, h->size);
    dfdg_pg_p_int64(&p, h->at);
    dfdg_pg_p_bytes(&p, h->root, sizeof h->root);
    dfdg_pg_p_bytes(&p, h->sig, sizeof h->sig);
    int64_t v = 0;
    dfdg_err rc = dfdg_pg_scalar(q, PG_STH_PUT, &p, "sth_put", &v);
    if (rc == DFDG_NOT_FOUND)
        rc = dfdg_store_set_error(s, DFDG_CONFLICT, "postgres: a tree head of size %lld exists",
                                  (long long)h->size);
    return rc;
}

/* Fills out from a row of (size, at, root, sig). */
static dfdg_err
sth_row(struct dfdg_pg_store *q, const PGresult *res, int row, struct dfdg_sth *out /* OUT */)
{
    memset(out, 0, sizeof *out);
    if (!dfdg_pg_col_int64(res, row, 0, &out->size) || !dfdg_pg_col_int64(res, row, 1, &out->at))
        return dfdg_pg_corrupt(q, "audit_sth");
    if (!dfdg_pg_col_bytes(res, row, 2, out->root, sizeof out->root))
        return dfdg_pg_corrupt(q, "audit_sth.root");
    if (!dfdg_pg_col_bytes(res, row, 3, out->sig, sizeof out->sig))
        return dfdg_pg_corrupt(q, "audit_sth.sig");
    return DFDG_OK;
}

dfdg_err
dfdg_pg_sth_latest(struct dfdg_store *s, struct dfdg_sth *out /* OUT */)
{
    struct dfdg_pg_store *q = dfdg_pg(s);
    PGresult *res;
    dfdg_err rc = dfdg_pg_exec(q, PG_STH_LATEST, NULL, "sth_latest", &res);
    if (rc != DFDG_OK)
        return rc;
    if (PQntuples(res) == 0)
        rc = dfdg_store_set_error(s, DFDG_NOT_FOUND, "no signed tree head yet");
    else
        rc = sth_row(q, res, 0, out);
    PQclear(res);
    if (rc != DFDG_OK)
        memset(out, 0, sizeof *out);
    return rc;
}

dfdg_err
dfdg_pg_sth_scan(struct dfdg_store *s, dfdg_sth_cb cb, void *ctx)
{
    struct dfdg_pg_store *q = dfdg_pg(s);
    int64_t after = INT64_MIN;
    for (;;) {
        struct dfdg_pg_params p = {0};
        dfdg_pg_p_int64(&p, after);
        dfdg_pg_p_limit(&p, DFDG_PG_PAGE);
        PGresult *res;
        dfdg_err rc = dfdg_pg_exec(q, PG_STH_SCAN, &p, "sth_scan", &res);
        if (rc != DFDG_OK)
            return rc;
        int got = PQntuples(res);
        bool stopped = false;
        for (int i = 0; i < got && !stopped; i++) {
            struct dfdg_sth h;
            rc = sth_row(q, res, i, &h);
            if (rc != DFDG_OK)
                break;
            after = h.size;
            stopped = !cb(&h, ctx);
        }
        PQclear(res);
        if (rc != DFDG_OK || stopped || got < DFDG_PG_PAGE)
            return rc;
    }
}

/* --- retention -------------------------------------------------------------------------------- */

/* The day (UTC) of an instant, rounding down for instants before the epoch. */
static int32_t
day_of_us(int64_t us)
{
    int64_t d = us / US_PER_DAY;
    if (us % US_PER_DAY < 0)
        d--;
    return (int32_t)d;
}

/* The first microsecond of day, clamped to int64. */
static int64_t
us_of_day(int32_t day)
{
    if (day > INT64_MAX / US_PER_DAY)
        return INT64_MAX;
    if (day < INT64_MIN / US_PER_DAY)
        return INT64_MIN;
    return (int64_t)day * US_PER_DAY;
}

/* Runs one phase of a scan of ended chains from *cur; *more is false when the phase ran out. */
static dfdg_err
ended_phase(struct dfdg_pg_store *q, const char *type, int32_t before,
            struct dfdg_chain_cursor *cur, dfdg_chain_end_cb cb, void *ctx, bool *more /* OUT */)
{
    enum dfdg_pg_stmt id = cur->phase == 0 ? PG_ENDED_VALID : PG_ENDED_CANCEL;
    *more = false;
    for (;;) {
        struct dfdg_pg_params p = {0};
        dfdg_pg_p_text(&p, type);
        dfdg_pg_p_int64(&p, cur->phase == 0 ? (int64_t)before : us_of_day(before));
        /* Every real row sorts after (INT64_MIN, INT64_MIN): seq is at least 1. */
        dfdg_pg_p_int64(&p, cur->begun ? cur->key : INT64_MIN);
        dfdg_pg_p_int64(&p, cur->begun ? cur->seq : INT64_MIN);
        dfdg_pg_p_limit(&p, DFDG_PG_PAGE);
        PGresult *res;
        dfdg_err rc = dfdg_pg_exec(q, id, &p, "chains_ended", &res);
        if (rc != DFDG_OK)
            return rc;
        int got = PQntuples(res);
        for (int i = 0; i < got && rc == DFDG_OK && !*more; i++) {
            struct dfdg_chain_end c;
            memset(&c, 0, sizeof c);
            int64_t seq, key, person = 0;
            c.cancelled = cur->phase == 1;
            if (!dfdg_pg_col_int64(res, i, 0, &seq) || !dfdg_pg_col_int64(res, i, 3, &key) ||
                (!PQgetisnull(res, i, 2) && !dfdg_pg_col_int64(res, i, 2, &person)) ||
                !dfdg_pg_col_text(res, i, 1, c.last_id, sizeof c.last_id)) {
                rc = dfdg_pg_corrupt(q, "record");
                break;
            }
            c.person_id = person;
            if (c.cancelled) {
                c.end = day_of_us(key);
            } else if (!dfdg_pg_col_date(res, i, 4, &c.end) || c.end == DFDG_DATE_NONE) {
                rc = dfdg_pg_corrupt(q, "record.valid_to");
                break;
            }
            cur->key = key;
            cur->seq = seq;
            cur->begun = true;
            if (!cb(&c, ctx))
                *more = true;
        }
        PQclear(res);
        if (rc != DFDG_OK || *more || got < DFDG_PG_PAGE)
            return rc;
    }
}

dfdg_err
dfdg_pg_chains_ended(struct dfdg_store *s, const char *type, int32_t before,
                     struct dfdg_chain_cursor *cur, dfdg_chain_end_cb cb, void *ctx)
{
    struct dfdg_pg_store *q = dfdg_pg(s);
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

static void
chain_free(struct dfdg_record *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dfdg_record_cleanup(&v[i]);
    free(v);
}

/* Loads the chain ending at last_id, newest first: *v (caller frees with chain_free), *n. */
static dfdg_err
chain_load(struct dfdg_pg_store *q, const char *last_id, struct dfdg_record **v /* OUT */,
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
                                      "postgres: the chain of record %s does not end", last_id);
            break;
        }
        struct dfdg_record *grown = dfdg_pg_grow(arr, &cap, len, sizeof *arr);
        if (grown == NULL) {
            rc = DFDG_NOMEM;
            break;
        }
        arr = grown;
        rc = dfdg_pg_record_get(&q->base, id, &arr[len]);
        if (rc == DFDG_NOT_FOUND && len > 0)
            rc = dfdg_store_set_error(&q->base, DFDG_CORRUPT,
                                      "postgres: record %s names a target that is not there",
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

/* Runs a delete bound to one id; *changes is the rows it deleted. */
static dfdg_err
delete_id(struct dfdg_pg_store *q, enum dfdg_pg_stmt id, const char *arg, const char *what,
          int64_t *changes /* OUT */)
{
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_text(&p, arg);
    PGresult *res;
    dfdg_err rc = dfdg_pg_exec(q, id, &p, what, &res);
    if (rc != DFDG_OK)
        return rc;
    const char *tuples = PQcmdTuples(res);
    char *end = NULL;
    errno = 0;
    long long v = strtoll(tuples, &end, 10);
    if (errno != 0 || end == tuples || *end != '\0')
        rc = dfdg_store_set_error(&q->base, DFDG_IO, "postgres: %s: no row count", what);
    else
        *changes = v;
    PQclear(res);
    return rc;
}

/* Deletes the versions v[0..n) and their deliveries; the caller holds the savepoint. */
static dfdg_err
chain_remove(struct dfdg_pg_store *q, const struct dfdg_record *v, size_t n)
{
    dfdg_err rc = write_only(q, PG_RETENTION_ON, NULL, "chain_delete (permission)");
    for (size_t i = 0; i < n && rc == DFDG_OK; i++) {
        int64_t changes = 0;
        rc = delete_id(q, PG_DELIVERY_DELETE, v[i].id, "chain_delete (deliveries)", &changes);
        if (rc == DFDG_OK)
            rc = delete_id(q, PG_RECORD_DELETE, v[i].id, "chain_delete (record)", &changes);
        if (rc == DFDG_OK && changes != 1)
            rc = dfdg_store_set_error(&q->base, DFDG_CORRUPT,
                                      "postgres: record %s went while its chain was deleted",
                                      v[i].id);
    }
    if (rc == DFDG_OK)
        rc = write_only(q, PG_RETENTION_OFF, NULL, "chain_delete (permission)");
    return rc;
}

dfdg_err
dfdg_pg_chain_delete(struct dfdg_store *s, const char *last_id, bool dry_run, dfdg_record_cb cb,
                     void *ctx, struct dfdg_chain_deleted *out /* OUT */)
{
    struct dfdg_pg_store *q = dfdg_pg(s);
    if (!dry_run && !dfdg_pg_in_tx(q))
        return not_in_tx(q, "chain_delete");
    struct dfdg_pg_params p = {0};
    dfdg_pg_p_text(&p, last_id);
    bool has = false;
    dfdg_err rc = exists(q, PG_HAS_SUCCESSOR, &p, "chain_delete", &has);
    if (rc != DFDG_OK)
        return rc;
    if (has)
        return dfdg_store_set_error(s, DFDG_CONFLICT,
                                    "record %s is not the last version of its chain", last_id);
    struct dfdg_record *v = NULL;
    size_t n = 0;
    rc = chain_load(q, last_id, &v, &n);
    if (rc != DFDG_OK)
        return rc;

    /* Held back: the newest record or delivery (store.h; sqlite.c, invariant 6). */
    int64_t max_record = 0, max_delivery = 0;
    rc = dfdg_pg_scalar(q, PG_MAX_RECORD_SEQ, NULL, "chain_delete", &max_record);
    if (rc == DFDG_OK)
        rc = dfdg_pg_scalar(q, PG_LAST_DELIVERY_SEQ, NULL, "chain_delete", &max_delivery);
    for (size_t i = 0; i < n && rc == DFDG_OK; i++) {
        struct dfdg_pg_params c = {0};
        dfdg_pg_p_text(&c, v[i].id);
        PGresult *res;
        rc = dfdg_pg_exec(q, PG_DELIVERIES_COUNT, &c, "chain_delete (deliveries)", &res);
        if (rc != DFDG_OK)
            break;
        int64_t count = 0, newest = 0;
        if (PQntuples(res) != 1 || !dfdg_pg_col_int64(res, 0, 0, &count) ||
            !dfdg_pg_col_int64(res, 0, 1, &newest))
            rc = dfdg_pg_corrupt(q, "delivery");
        PQclear(res);
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

    rc = dfdg_pg_run(q, "SAVEPOINT dfdg_chain_delete", "chain_delete (savepoint)");
    if (rc != DFDG_OK)
        goto free_chain;
    rc = chain_remove(q, v, n);
    if (rc != DFDG_OK) {
        /* Undo the part deleted, the permission row included, and keep the first error. */
        char keep[sizeof s->errmsg];
        dfdg_strlcpy(keep, s->errmsg, sizeof keep);
        (void)dfdg_pg_run(q, "ROLLBACK TO SAVEPOINT dfdg_chain_delete", "chain_delete (rollback)");
        dfdg_strlcpy(s->errmsg, keep, sizeof s->errmsg);
    }
    dfdg_err rc3 = dfdg_pg_run(q, "RELEASE SAVEPOINT dfdg_chain_delete", "chain_delete (release)");
    if (rc == DFDG_OK)
        rc = rc3;
free_chain:
    chain_free(v, n);
    return rc;
}
