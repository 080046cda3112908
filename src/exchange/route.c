/* SPDX-License-Identifier: Apache-2.0 */
/*
 * route.c: routing and hand-over (see route.h).
 *
 * Invariants:
 *   1. A record reaches an org at most once (the store refuses a second delivery; a
 *      conflict here means "already delivered" and is not an error).
 *   2. Deliveries are written in the transaction of the record (or of the CPR import) that
 *      causes them, so there is never a record without its deliveries or the other way round.
 *   3. Recipients come from the catalog; the relationship is decided on the record's
 *      valid_from (DESIGN section 2), for cancellations on the withdrawn record's.
 */
#include "core/dfdg.h"
#include "exchange/route.h"

#include <jansson.h>

#define REFERRAL_ACTOR_FIELD "actor_cvr"

static const char *
via_name(enum dfdg_via v)
{
    switch (v) {
    case DFDG_VIA_RESIDENCE:
        return "residence";
    case DFDG_VIA_MEMBERSHIP:
        return "membership";
    case DFDG_VIA_REFERRAL:
        return "referral";
    default:
        return "all";
    }
}

struct route_ctx {
    struct dfdg_store *s;
    const struct dfdg_record *rec;
    int64_t tx_time;
    struct dfdg_routed *out;
    const char *reason;
    dfdg_err rc;
};

/* Delivers rec to org (unless it is the owner or reporter, or already has it); *made tells
 * whether a delivery was written. */
static dfdg_err
deliver(struct route_ctx *c, const char *org, bool *made)
{
    *made = false;
    if (strcmp(org, c->rec->owner) == 0 || strcmp(org, c->rec->reporter) == 0)
        return DFDG_OK;
    struct dfdg_delivery d = {0};
    dfdg_strlcpy(d.org_id, org, sizeof d.org_id);
    dfdg_strlcpy(d.record_id, c->rec->id, sizeof d.record_id);
    dfdg_strlcpy(d.reason, c->reason, sizeof d.reason);
    d.created_at = c->tx_time;
    dfdg_err rc = dfdg_store_delivery_insert(c->s, &d);
    if (rc == DFDG_CONFLICT)
        return DFDG_OK;
    if (rc != DFDG_OK)
        return rc;
    *made = true;
    if (c->out != NULL && c->out->n < DFDG_ROUTE_MAX) {
        dfdg_strlcpy(c->out->to[c->out->n].org, org, sizeof c->out->to[0].org);
        c->out->to[c->out->n].seq = d.seq;
        c->out->n++;
    }
    return DFDG_OK;
}

static bool
member_cb(const char *org_id, void *arg)
{
    struct route_ctx *c = arg;
    bool made;
    c->rc = deliver(c, org_id, &made);
    return c->rc == DFDG_OK;
}

static bool
referral_cb(const struct dfdg_record *r, void *arg)
{
    struct route_ctx *c = arg;
    json_t *data = json_loads(r->data, 0, NULL);
    const char *cvr = json_string_value(json_object_get(data, REFERRAL_ACTOR_FIELD));
    if (cvr != NULL) {
        char org[64];
        bool made;
        snprintf(org, sizeof org, "aktoer:%s", cvr);
        c->rc = deliver(c, org, &made);
    }
    json_decref(data);
    return c->rc == DFDG_OK;
}

dfdg_err
dfdg_route_record(struct dfdg_store *s, const struct dfdg_type *t, const struct dfdg_record *rec,
                  int64_t tx_time, struct dfdg_routed *out)
{
    if (rec->person_id == 0)
        return DFDG_OK; /* company data has no relationship to route by */
    struct route_ctx c = {.s = s, .rec = rec, .tx_time = tx_time, .out = out};
    int32_t day = rec->valid_from;
    bool made;
    for (size_t i = 0; i < t->nrecipients; i++) {
        const struct dfdg_recipient *rp = &t->recipients[i];
        c.reason = via_name(rp->via);
        c.rc = DFDG_OK;
        dfdg_err rc = DFDG_OK;
        switch (rp->via) {
        case DFDG_VIA_RESIDENCE: {
            char kode[4], org[64];
            /* A kommune's own original report: the report rule made sure the person lived in
             * that kommune on valid_from, and the reporter gets no delivery of its own. */
            if (rec->kind == DFDG_RECORD_ORIGINAL && strncmp(rec->reporter, "kommune:", 8) == 0)
                break;
            rc = dfdg_store_residence_on(s, rec->person_id, day, kode);
            if (rc == DFDG_NOT_FOUND) {
                rc = DFDG_OK;
                break;
            }
            if (rc == DFDG_OK && rp->kind == DFDG_KIND_KOMMUNE) {
                snprintf(org, sizeof org, "kommune:%s", kode);
                rc = deliver(&c, org, &made);
            }
            break;
        }
        case DFDG_VIA_MEMBERSHIP:
            if (rp->kind == DFDG_KIND_AKASSE)
                rc = dfdg_store_members_on(s, rec->person_id, day, member_cb, &c);
            break;
        case DFDG_VIA_REFERRAL: {
            struct dfdg_record_query q = {.person_id = rec->person_id,
                                          .type = DFDG_REFERRAL_TYPE,
                                          .valid_on = day,
                                          .as_of = INT64_MAX};
            if (rp->kind == DFDG_KIND_AKTOER)
                rc = dfdg_store_records_query(s, &q, referral_cb, &c);
            break;
        }
        case DFDG_VIA_ALL:
            /* National recipients (dst, udk) are single orgs named by their kind. */
            if (rp->kind == DFDG_KIND_DST || rp->kind == DFDG_KIND_UDK)
                rc = deliver(&c, dfdg_org_kind_name(rp->kind), &made);
            break;
        }
        if (rc == DFDG_OK)
            rc = c.rc;
        if (rc != DFDG_OK)
            return rc;
    }
    return DFDG_OK;
}

struct follow_ctx {
    struct route_ctx rc;
    char orgs[DFDG_ROUTE_MAX][64];
    char reasons[DFDG_ROUTE_MAX][16];
    size_t n;
};

static bool
follow_cb(const struct dfdg_delivery *d, const struct dfdg_record *r, const char *cpr, void *ctx)
{
    (void)r;
    (void)cpr;
    struct follow_ctx *f = ctx;
    if (f->n < DFDG_ROUTE_MAX) {
        dfdg_strlcpy(f->orgs[f->n], d->org_id, sizeof f->orgs[0]);
        dfdg_strlcpy(f->reasons[f->n], d->reason, sizeof f->reasons[0]);
        f->n++;
    }
    return true;
}

dfdg_err
dfdg_route_follow(struct dfdg_store *s, const struct dfdg_record *rec, int64_t tx_time,
                  struct dfdg_routed *out)
{
    if (rec->target_id[0] == '\0')
        return DFDG_OK;
    struct follow_ctx f = {.rc = {.s = s, .rec = rec, .tx_time = tx_time, .out = out}};
    /* Collect first: delivering while the query still runs would read its own inserts. */
    dfdg_err rc = dfdg_store_deliveries_of(s, rec->target_id, follow_cb, &f);
    for (size_t i = 0; rc == DFDG_OK && i < f.n; i++) {
        bool made;
        f.rc.reason = f.reasons[i];
        rc = deliver(&f.rc, f.orgs[i], &made);
    }
    return rc;
}

struct handover_ctx {
    struct route_ctx rc;            /* delivery state (rec set per record) */
    const struct dfdg_catalog *cat; /* types */
    const char *org;                /* the new kommune or a-kasse */
    enum dfdg_via via;              /* the relationship it gets them by */
    int32_t day;                    /* open records: valid on day or later */
    size_t handed;                  /* deliveries made */
    int64_t last_seq;               /* seq of the last one */
};

static bool
handover_cb(const struct dfdg_record *r, void *arg)
{
    struct handover_ctx *h = arg;
    if (r->valid_to != DFDG_DATE_NONE && r->valid_to < h->day)
        return true; /* closed before the change: not an open record */
    const struct dfdg_type *t = dfdg_catalog_find(h->cat, r->type);
    bool entitled = false;
    for (size_t i = 0; t != NULL && i < t->nrecipients; i++)
        entitled |= t->recipients[i].via == h->via;
    if (!entitled)
        return true;
    bool made;
    struct dfdg_routed one = {0};
    h->rc.rec = r;
    h->rc.out = &one;
    h->rc.rc = deliver(&h->rc, h->org, &made);
    if (made) {
        h->handed++;
        h->last_seq = one.to[0].seq;
    }
    return h->rc.rc == DFDG_OK;
}

dfdg_err
dfdg_route_handover(struct dfdg_store *s, const struct dfdg_catalog *cat, int64_t person_id,
                    const char *org, enum dfdg_org_kind kind, int32_t day, int64_t tx_time,
                    struct dfdg_routed *out)
{
    struct handover_ctx h = {.cat = cat, .org = org, .day = day};
    h.rc.s = s;
    h.rc.tx_time = tx_time;
    h.rc.reason = "handover";
    h.via = kind == DFDG_KIND_AKASSE ? DFDG_VIA_MEMBERSHIP : DFDG_VIA_RESIDENCE;
    struct dfdg_record_query q = {
        .person_id = person_id, .valid_on = DFDG_DATE_NONE, .as_of = INT64_MAX};
    dfdg_err rc = dfdg_store_records_query(s, &q, handover_cb, &h);
    if (rc == DFDG_OK)
        rc = h.rc.rc;
    if (rc == DFDG_OK && h.handed > 0 && out != NULL && out->n < DFDG_ROUTE_MAX) {
        dfdg_strlcpy(out->to[out->n].org, org, sizeof out->to[0].org);
        out->to[out->n].seq = h.last_seq;
        out->n++;
    }
    return rc;
}
