/* SPDX-License-Identifier: Apache-2.0 */
/*
 * person.c: person-scoped reads, GET /v1/person and GET /v1/person/records. The person is
 * named by the DFDG-CPR header, never in the URL. What the caller sees follows DESIGN
 * section 4: the relationship of the caller's org to the person today decides, per type;
 * protected addresses are masked for a-kasser, other actors and researchers.
 */
#include "core/dfdg.h"
#include "api/api_int.h"
#include "api/query.h"
#include "exchange/present.h"
#include "core/when.h"

/* Resolves DFDG-CPR and the caller's relations to the person; replies on failure. */
static bool
resolve_person(struct dfdg_req *r, struct dfdg_store *s, struct dfdg_relations *rel)
{
    const char *h = dfdg_req_header(r, "DFDG-CPR");
    if (h == NULL || *h == '\0') {
        dfdg_reply_problem(r, 400, "missing-cpr", "name the person in the DFDG-CPR header");
        return false;
    }
    struct dfdg_cpr cpr;
    struct dfdg_errinfo ei = {0};
    if (dfdg_cpr_parse(h, strlen(h), &cpr, &ei) != DFDG_OK) {
        struct dfdg_verrors ve = {0};
        dfdg_verrors_add(&ve, "DFDG-CPR", "cpr", "not a valid CPR number: %s", ei.msg);
        dfdg_reply_invalid(r, &ve);
        return false;
    }
    int64_t person_id;
    dfdg_err rc = dfdg_store_person_resolve(s, cpr.digits, &person_id);
    if (rc == DFDG_OK)
        r->audit_person = person_id; /* a denial is logged against the person */
    if (rc == DFDG_NOT_FOUND) {
        dfdg_reply_problem(r, 404, "unknown-person", "the person is not in the CPR master data");
        return false;
    }
    if (rc == DFDG_OK)
        rc = dfdg_authz_relations_for_read(s, &r->actor, person_id, dfdg_date_today(),
                                           r->st->cfg.access_grace_days, rel);
    if (rc != DFDG_OK) {
        dfdg_reply_err(r, rc, NULL);
        return false;
    }
    return true;
}

void
dfdg_h_person_get(struct dfdg_req *r)
{
    struct dfdg_store *s = dfdg_store_pool_take(r->st->readers);
    struct dfdg_relations rel;
    struct dfdg_person p = {0};
    if (!resolve_person(r, s, &rel))
        goto put_store;
    struct dfdg_denial why = {0};
    struct dfdg_access_q q = {.actor = &r->actor,
                              .action = DFDG_ACTION_READ_PERSON,
                              .person_id = rel.person_id,
                              .day = dfdg_date_today(),
                              .rel = &rel};
    if (dfdg_authz_decide(s, &q, &why) != DFDG_OK) {
        dfdg_reply_denied(r, &why);
        goto put_store;
    }
    bool protected_now = false;
    dfdg_err rc = dfdg_store_person_get(s, rel.person_id, &p);
    if (rc == DFDG_OK)
        rc = dfdg_store_is_protected_on(s, rel.person_id, dfdg_date_today(), &protected_now);
    if (rc != DFDG_OK) {
        dfdg_reply_err(r, rc, NULL);
        goto cleanup;
    }
    /* Address protection: a-kasser, other actors and researchers see the name only. The read
     * is logged before the answer leaves. */
    dfdg_req_audit_then_reply(
        r, dfdg_req_read_event(r, "person.read", rel.person_id, NULL), 200,
        dfdg_present_person(&p, protected_now, dfdg_authz_masks_address(&r->actor)));
cleanup:
    dfdg_person_cleanup(&p);
put_store:
    dfdg_store_pool_put(r->st->readers, s);
}

#define DFDG_LIST_DEFAULT 1000
#define DFDG_LIST_MAX 10000

struct list_ctx {
    struct dfdg_req *r;               /* the request */
    const struct dfdg_relations *rel; /* the caller's relations to the person */
    const char *cpr;                  /* the person's current number */
    json_t *out;                      /* the records array */
    size_t limit;                     /* stop after this many */
};

static bool
list_cb(const struct dfdg_record *rec, void *arg)
{
    struct list_ctx *c = arg;
    const struct dfdg_type *t = dfdg_catalog_find(c->r->st->cat, rec->type);
    struct dfdg_access_q q = {.actor = &c->r->actor,
                              .action = DFDG_ACTION_READ,
                              .type = t,
                              .person_id = rec->person_id,
                              .owner = rec->owner,
                              .rel = c->rel};
    /* With the relations given, the decision reads nothing from the store. */
    if (dfdg_authz_decide(NULL, &q, NULL) != DFDG_OK)
        return true;
    json_array_append_new(c->out, dfdg_present_record(rec, c->cpr));
    return json_array_size(c->out) < c->limit;
}

/* Parses the list filters; replies 400 and returns false when one is bad. */
static bool
parse_filters(struct dfdg_req *r, struct dfdg_record_query *q)
{
    struct dfdg_verrors ve = {0};
    struct dfdg_errinfo ei = {0};
    q->valid_on = DFDG_DATE_NONE;
    q->as_of = INT64_MAX;
    q->limit = DFDG_LIST_DEFAULT;
    const char *type = dfdg_req_query(r, "type");
    if (type != NULL) {
        if (dfdg_catalog_find(r->st->cat, type) == NULL)
            dfdg_verrors_add(&ve, "type", "unknown_type", "no information type has that code");
        q->type = type;
    }
    const char *v = dfdg_req_query(r, "valid_on");
    if (v != NULL && dfdg_date_parse(v, strlen(v), &q->valid_on, &ei) != DFDG_OK)
        dfdg_verrors_add(&ve, "valid_on", "date", "valid_on must be a date (YYYY-MM-DD): %s",
                         ei.msg);
    const char *a = dfdg_req_query(r, "as_of");
    if (a != NULL && dfdg_time_parse(a, strlen(a), &q->as_of, &ei) != DFDG_OK)
        dfdg_verrors_add(&ve, "as_of", "time", "as_of must be an RFC 3339 time or a date: %s",
                         ei.msg);
    const char *l = dfdg_req_query(r, "limit");
    if (l != NULL) {
        long n;
        if (!dfdg_query_parse_long(l, 1, DFDG_LIST_MAX, &n))
            dfdg_verrors_add(&ve, "limit", "range", "limit must be 1 to %d", DFDG_LIST_MAX);
        else
            q->limit = (size_t)n;
    }
    if (ve.n > 0) {
        dfdg_reply_invalid(r, &ve);
        return false;
    }
    return true;
}

void
dfdg_h_person_records(struct dfdg_req *r)
{
    struct dfdg_record_query q = {0};
    if (!parse_filters(r, &q))
        return;
    struct dfdg_store *s = dfdg_store_pool_take(r->st->readers);
    struct dfdg_relations rel;
    struct dfdg_person p = {0};
    if (!resolve_person(r, s, &rel))
        goto put_store;
    dfdg_err rc = dfdg_store_person_get(s, rel.person_id, &p);
    if (rc != DFDG_OK) {
        dfdg_reply_err(r, rc, NULL);
        goto cleanup;
    }
    /* One more than asked for tells whether the list was cut. */
    size_t want = q.limit;
    struct list_ctx c = {.r = r, .rel = &rel, .cpr = p.cpr, .out = json_array(), .limit = want + 1};
    q.person_id = rel.person_id;
    q.limit = 0; /* the read rule filters in the callback, which stops at c.limit */
    rc = dfdg_store_records_query(s, &q, list_cb, &c);
    if (rc != DFDG_OK) {
        json_decref(c.out);
        dfdg_reply_err(r, rc, NULL);
        goto cleanup;
    }
    bool truncated = json_array_size(c.out) > want;
    if (truncated)
        json_array_remove(c.out, want);
    json_t *ev = dfdg_req_read_event(r, "records.list", rel.person_id, c.out);
    dfdg_req_audit_then_reply(r, ev, 200,
                              json_pack("{s:o, s:b}", "records", c.out, "truncated", truncated));
cleanup:
    dfdg_person_cleanup(&p);
put_store:
    dfdg_store_pool_put(r->st->readers, s);
}
