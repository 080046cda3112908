/* SPDX-License-Identifier: Apache-2.0 */
/*
 * me.c: citizen self-service, the back end of a Jobnet-like portal (DESIGN sections 4-5):
 * GET /v1/me (own master data, protected address included), GET /v1/me/records (own records
 * of jobnet-visible types, grouped by type) and POST /v1/me/records (the citizen's own
 * reports). The routes take citizen tokens only (server.c). The person is always the one the
 * token's cpr claim names (r->actor.person_id); the DFDG-CPR header is never read here, so no
 * header can point a citizen at another person's data.
 */
#include "core/dfdg.h"
#include "api/api_int.h"
#include "exchange/present.h"
#include "audit/auditlog.h"
#include "core/when.h"

/* At most this many records in GET /v1/me/records; more sets "truncated". */
#define DFDG_ME_RECORDS_MAX 10000

/* The token's person must be in the CPR master data; replies 404 and returns false if not. */
static bool
me_is_known(struct dfdg_req *r)
{
    if (r->actor.person_id != 0)
        return true;
    dfdg_reply_problem(r, 404, "unknown-person",
                       "the person the token names is not in the CPR master data");
    return false;
}

/* --- GET /v1/me --------------------------------------------------------------------------- */

void
dfdg_h_me_get(struct dfdg_req *r)
{
    if (!me_is_known(r))
        return;
    struct dfdg_store *s = dfdg_store_pool_take(r->st->readers);
    struct dfdg_person p = {0};
    struct dfdg_relations rel;
    struct dfdg_denial why = {0};
    int32_t today = dfdg_date_today();
    dfdg_err rc = dfdg_authz_relations(s, &r->actor, r->actor.person_id, today, &rel);
    if (rc != DFDG_OK) {
        dfdg_reply_err(r, rc, NULL);
        goto put_store;
    }
    /* Always true for the own person; asked anyway so the central rule stays the one rule. */
    if (!dfdg_authz_may_read_person(&r->actor, &rel, &why)) {
        dfdg_reply_denied(r, &why);
        goto put_store;
    }
    bool protected_now = false;
    rc = dfdg_store_person_get(s, r->actor.person_id, &p);
    if (rc == DFDG_OK)
        rc = dfdg_store_is_protected_on(s, r->actor.person_id, today, &protected_now);
    if (rc == DFDG_NOT_FOUND) {
        dfdg_reply_problem(r, 404, "unknown-person",
                           "the person the token names is not in the CPR master data");
        goto cleanup;
    }
    if (rc != DFDG_OK) {
        dfdg_reply_err(r, rc, NULL);
        goto cleanup;
    }
    /* The citizen sees their own protected address: protection hides it from others only. */
    dfdg_req_audit_then_reply(r, dfdg_req_read_event(r, "me.read", r->actor.person_id, NULL), 200,
                              dfdg_present_person(&p, protected_now, false));
cleanup:
    dfdg_person_cleanup(&p);
put_store:
    dfdg_store_pool_put(r->st->readers, s);
}

/* --- GET /v1/me/records ------------------------------------------------------------------- */

/*
 * Grouping. The store hands the records newest first (newest valid_from, then newest
 * recorded_at), so the first record seen of a type is that type's newest: a group is opened at
 * its first record and the groups come out ordered by their newest record, newest first, and
 * the records inside each group newest first too. "Newest" is valid time, since that is what
 * the portal shows (when the registration or sick report applies); transaction time breaks
 * ties.
 */
struct me_group {
    const struct dfdg_type *t; /* the group's type */
    json_t *records;           /* its records, newest first */
};

struct me_list {
    struct dfdg_req *r;               /* the request */
    const struct dfdg_relations *rel; /* the citizen's relations to themselves (self) */
    const char *cpr;                  /* the person's current number */
    struct me_group *groups;          /* ngroups used, room for every catalog type */
    size_t ngroups;
    size_t cap_groups;
    size_t nrecords; /* records added over all groups */
    bool truncated;  /* stopped at DFDG_ME_RECORDS_MAX */
    bool nomem;      /* an allocation failed */
};

static bool
me_list_cb(const struct dfdg_record *rec, void *arg)
{
    struct me_list *c = arg;
    const struct dfdg_type *t = dfdg_catalog_find(c->r->st->cat, rec->type);
    /* DESIGN section 4: a citizen reads their own records of jobnet-visible types only,
     * whoever reported them. */
    if (t == NULL || !dfdg_authz_may_read(&c->r->actor, t, rec->owner, c->rel, NULL))
        return true;
    if (c->nrecords == DFDG_ME_RECORDS_MAX) {
        c->truncated = true;
        return false;
    }
    struct me_group *g = NULL;
    for (size_t i = 0; i < c->ngroups && g == NULL; i++)
        if (c->groups[i].t == t)
            g = &c->groups[i];
    if (g == NULL) {
        if (c->ngroups == c->cap_groups) /* a type the catalog lacks cannot get here */
            return true;
        g = &c->groups[c->ngroups];
        g->records = json_array();
        if (g->records == NULL) {
            c->nomem = true;
            return false;
        }
        g->t = t;
        c->ngroups++;
    }
    json_t *o = dfdg_present_record(rec, c->cpr);
    if (o == NULL || json_array_append_new(g->records, o) != 0) {
        c->nomem = true;
        return false;
    }
    c->nrecords++;
    return true;
}

/* The groups as JSON: {"type", "name": {"da", "en"}, "records"}; takes the record arrays. */
static json_t *
me_groups_json(struct me_list *c)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < c->ngroups; i++) {
        struct me_group *g = &c->groups[i];
        json_t *name = json_deep_copy(json_object_get(g->t->json, "name"));
        json_t *o = json_pack("{s:s, s:o, s:o}", "type", g->t->code, "name",
                              name != NULL ? name : json_object(), "records", g->records);
        g->records = NULL; /* json_pack took it, even on failure */
        if (arr != NULL && o != NULL)
            json_array_append_new(arr, o);
        else
            json_decref(o);
    }
    return arr;
}

void
dfdg_h_me_records(struct dfdg_req *r)
{
    if (!me_is_known(r))
        return;
    struct dfdg_record_query q = {
        .person_id = r->actor.person_id, .valid_on = DFDG_DATE_NONE, .as_of = INT64_MAX};
    const char *type = dfdg_req_query(r, "type");
    if (type != NULL) {
        if (dfdg_catalog_find(r->st->cat, type) == NULL) {
            struct dfdg_verrors ve = {0};
            dfdg_verrors_add(&ve, "type", "unknown_type", "no information type has that code");
            dfdg_reply_invalid(r, &ve);
            return;
        }
        q.type = type;
    }
    struct dfdg_store *s = dfdg_store_pool_take(r->st->readers);
    struct dfdg_person p = {0};
    struct dfdg_relations rel;
    struct me_list c = {.r = r, .rel = &rel, .cap_groups = r->st->cat->ntypes};
    dfdg_err rc = dfdg_authz_relations(s, &r->actor, r->actor.person_id, dfdg_date_today(), &rel);
    if (rc == DFDG_OK)
        rc = dfdg_store_person_get(s, r->actor.person_id, &p);
    if (rc == DFDG_NOT_FOUND) {
        dfdg_reply_problem(r, 404, "unknown-person",
                           "the person the token names is not in the CPR master data");
        goto cleanup;
    }
    if (rc != DFDG_OK) {
        dfdg_reply_err(r, rc, NULL);
        goto cleanup;
    }
    c.cpr = p.cpr;
    c.groups = calloc(c.cap_groups > 0 ? c.cap_groups : 1, sizeof *c.groups);
    if (c.groups == NULL) {
        dfdg_reply_err(r, DFDG_NOMEM, NULL);
        goto cleanup;
    }
    rc = dfdg_store_records_query(s, &q, me_list_cb, &c);
    if (rc == DFDG_OK && c.nomem)
        rc = DFDG_NOMEM;
    if (rc != DFDG_OK) {
        dfdg_reply_err(r, rc, NULL);
        goto free_groups;
    }
    json_t *groups = me_groups_json(&c);
    if (groups == NULL) {
        dfdg_reply_err(r, DFDG_NOMEM, NULL);
        goto free_groups;
    }
    /* Logged like any read of personal data (a citizen's own reads stay out of their access
     * log, which shows others' accesses). */
    json_t *ev = dfdg_req_read_event(r, "me.records", r->actor.person_id, NULL);
    size_t gi;
    json_t *g;
    json_array_foreach(groups, gi, g)
    {
        size_t ri;
        json_t *rec;
        json_array_foreach(json_object_get(g, "records"), ri, rec)
        {
            dfdg_audit_event_add_record(ev, json_string_value(json_object_get(rec, "id")),
                                        json_string_value(json_object_get(rec, "type")),
                                        r->actor.person_id, 0, NULL);
        }
    }
    dfdg_req_audit_then_reply(r, ev, 200,
                              json_pack("{s:o, s:b}", "groups", groups, "truncated", c.truncated));
free_groups:
    for (size_t i = 0; i < c.ngroups; i++)
        json_decref(c.groups[i].records);
    free(c.groups);
cleanup:
    dfdg_person_cleanup(&p);
    dfdg_store_pool_put(r->st->readers, s);
}

/* --- POST /v1/me/records ------------------------------------------------------------------ */

/*
 * Whether the body's optional "cpr" names the token's person; replies (400 for a malformed
 * number, 403 report.self for another person) and returns false when not. The same digits in
 * either form count, and so does an earlier CPR number of the same person.
 */
static bool
me_cpr_is_self(struct dfdg_req *r, const json_t *v)
{
    struct dfdg_cpr cpr;
    struct dfdg_errinfo ei = {0};
    if (!json_is_string(v) ||
        dfdg_cpr_parse(json_string_value(v), json_string_length(v), &cpr, &ei) != DFDG_OK) {
        struct dfdg_verrors ve = {0};
        dfdg_verrors_add(&ve, "cpr", json_is_string(v) ? "cpr" : "type",
                         "cpr must be a valid CPR number (or be left out): %s",
                         json_is_string(v) ? ei.msg : "not a string");
        dfdg_reply_invalid(r, &ve);
        return false;
    }
    bool self = strcmp(cpr.digits, r->actor.cpr) == 0;
    if (!self) {
        int64_t person_id = 0;
        struct dfdg_store *s = dfdg_store_pool_take(r->st->readers);
        dfdg_err rc = dfdg_store_person_resolve(s, cpr.digits, &person_id);
        dfdg_store_pool_put(r->st->readers, s);
        if (rc != DFDG_OK && rc != DFDG_NOT_FOUND) {
            dfdg_reply_err(r, rc, NULL);
            return false;
        }
        self = rc == DFDG_OK && person_id == r->actor.person_id;
    }
    if (!self) {
        struct dfdg_denial why = {"report.self", "a citizen may report only about themselves"};
        dfdg_reply_denied(r, &why);
        return false;
    }
    return true;
}

void
dfdg_h_me_record_post(struct dfdg_req *r)
{
    if (!me_is_known(r) || !dfdg_api_content_type_is_json(r))
        return;
    json_t *body = dfdg_req_parse_json(r, r->body != NULL ? r->body : "", r->body_len);
    if (body == NULL)
        return;
    if (!json_is_object(body)) {
        struct dfdg_verrors ve = {0};
        dfdg_verrors_add(&ve, "", "type", "the body must be a JSON object");
        dfdg_reply_invalid(r, &ve);
        json_decref(body);
        return;
    }
    json_t *cpr = json_object_get(body, "cpr");
    if (cpr != NULL && !me_cpr_is_self(r, cpr)) {
        json_decref(body);
        return;
    }
    /* The subject is the token's person whatever the body said; validation, the report rules
     * (the citizen must be a reporter of the type, report.kind) and routing follow as for any
     * record. */
    if (json_object_set_new(body, "cpr", json_string(r->actor.cpr)) != 0) {
        json_decref(body);
        dfdg_reply_err(r, DFDG_NOMEM, NULL);
        return;
    }
    dfdg_api_ingest_one(r, body, NULL, false);
}
