/* SPDX-License-Identifier: Apache-2.0 */
/*
 * access.c: the access rules of DESIGN section 4 (see access.h for the rule names). Every
 * decision reads the catalog's reporters and recipients; no type is named here except the
 * two that create relationships (akasse-membership, other-actor-referral).
 */
#include "core/dfdg.h"
#include "authz/access.h"

#include <jansson.h>
#include <stdarg.h>

/* The type whose first record starts a membership (BEK kap. 16), and the referral type
 * (BEK kap. 13) with the data field that names the other actor's CVR number. */
#define MEMBERSHIP_TYPE "akasse-membership"
#define REFERRAL_TYPE "other-actor-referral"
#define REFERRAL_ACTOR_FIELD "actor_cvr"

static const char *const purpose_names[DFDG_PURPOSE__COUNT] = {
    [DFDG_PURPOSE_NONE] = "",
    [DFDG_PURPOSE_CASE_HANDLING] = "case-handling",
    [DFDG_PURPOSE_PAYMENT] = "payment",
    [DFDG_PURPOSE_SUPERVISION] = "supervision",
    [DFDG_PURPOSE_SUPPORT] = "support",
    [DFDG_PURPOSE_STATISTICS] = "statistics",
    [DFDG_PURPOSE_RESEARCH] = "research",
    [DFDG_PURPOSE_SELF_SERVICE] = "self-service",
};

/* The legal basis of each purpose (domain NOTES section 7; LBU = lov om organisering og
 * understøttelse af beskæftigelsesindsatsen). */
static const char *const purpose_bases[DFDG_PURPOSE__COUNT] = {
    [DFDG_PURPOSE_NONE] = "",
    [DFDG_PURPOSE_CASE_HANDLING] = "LBU §§ 33-34; GDPR art. 6(1)(c) and (e)",
    [DFDG_PURPOSE_PAYMENT] = "LBU §§ 33-34; GDPR art. 6(1)(c) and (e)",
    [DFDG_PURPOSE_SUPERVISION] = "LBU §§ 21, 32, 38; GDPR art. 6(1)(e)",
    [DFDG_PURPOSE_SUPPORT] = "LBU § 32; GDPR art. 6(1)(e)",
    [DFDG_PURPOSE_STATISTICS] = "LBU §§ 44, 53; databeskyttelsesloven § 10; GDPR art. 9(2)(j)",
    [DFDG_PURPOSE_RESEARCH] = "databeskyttelsesloven § 10; GDPR art. 9(2)(j) and art. 89",
    [DFDG_PURPOSE_SELF_SERVICE] = "GDPR art. 15",
};

const char *
dfdg_purpose_legal_basis(enum dfdg_purpose p)
{
    return (unsigned)p < DFDG_PURPOSE__COUNT ? purpose_bases[p] : "";
}

#define P(x) (1u << (unsigned)DFDG_PURPOSE_##x)
/* Which purposes each org kind may process personal data for. */
static const unsigned purposes_by_kind[DFDG_KIND__COUNT] = {
    [DFDG_KIND_KOMMUNE] = P(CASE_HANDLING) | P(PAYMENT),
    [DFDG_KIND_AKASSE] = P(CASE_HANDLING) | P(PAYMENT),
    [DFDG_KIND_AKTOER] = P(CASE_HANDLING),
    [DFDG_KIND_STAR] = P(SUPERVISION) | P(SUPPORT) | P(STATISTICS),
    [DFDG_KIND_DST] = P(STATISTICS),
    [DFDG_KIND_UDK] = P(PAYMENT),
    [DFDG_KIND_RESEARCH] = P(RESEARCH),
    [DFDG_KIND_CITIZEN] = P(SELF_SERVICE),
};
#undef P

const char *
dfdg_purpose_name(enum dfdg_purpose p)
{
    return (unsigned)p < DFDG_PURPOSE__COUNT ? purpose_names[p] : "";
}

dfdg_err
dfdg_purpose_parse(const char *s, enum dfdg_purpose *out)
{
    for (int p = DFDG_PURPOSE_NONE + 1; p < DFDG_PURPOSE__COUNT; p++) {
        if (strcmp(s, purpose_names[p]) == 0) {
            *out = (enum dfdg_purpose)p;
            return DFDG_OK;
        }
    }
    return DFDG_INVAL;
}

bool
dfdg_purpose_is_allowed(enum dfdg_org_kind k, enum dfdg_purpose p)
{
    if ((unsigned)k >= DFDG_KIND__COUNT || p == DFDG_PURPOSE_NONE || p >= DFDG_PURPOSE__COUNT)
        return false;
    return (purposes_by_kind[k] & (1u << (unsigned)p)) != 0;
}

static dfdg_err deny(struct dfdg_denial *why, const char *rule, const char *fmt, ...)
    DFDG_PRINTF(3, 4);

static dfdg_err
deny(struct dfdg_denial *why, const char *rule, const char *fmt, ...)
{
    if (why != NULL) {
        va_list ap;
        why->rule = rule;
        va_start(ap, fmt);
        vsnprintf(why->msg, sizeof why->msg, fmt, ap);
        va_end(ap);
    }
    return DFDG_DENIED;
}

dfdg_err
dfdg_actor_from_claims(const struct dfdg_claims *c, struct dfdg_actor *out, struct dfdg_errinfo *ei)
{
    memset(out, 0, sizeof *out);
    dfdg_strlcpy(out->org, c->org, sizeof out->org);
    dfdg_strlcpy(out->sub, c->sub, sizeof out->sub);
    dfdg_strlcpy(out->cpr, c->cpr, sizeof out->cpr);
    char kind[32];
    const char *colon = strchr(c->org, ':');
    size_t klen = colon != NULL ? (size_t)(colon - c->org) : strlen(c->org);
    if (klen == 0 || klen >= sizeof kind)
        return dfdg_errinfo_set(ei, DFDG_UNAUTH, "token org claim has an unknown form");
    memcpy(kind, c->org, klen);
    kind[klen] = '\0';
    if (dfdg_org_kind_parse(kind, &out->kind) != DFDG_OK)
        return dfdg_errinfo_set(ei, DFDG_UNAUTH, "token org claim names an unknown org kind");
    bool needs_code = out->kind == DFDG_KIND_KOMMUNE || out->kind == DFDG_KIND_AKASSE ||
                      out->kind == DFDG_KIND_AKTOER || out->kind == DFDG_KIND_RESEARCH;
    if (needs_code != (colon != NULL) || (colon != NULL && colon[1] == '\0') ||
        (colon != NULL && !dfdg_strlcpy(out->code, colon + 1, sizeof out->code)))
        return dfdg_errinfo_set(ei, DFDG_UNAUTH, "token org claim has an unknown form");
    if ((out->kind == DFDG_KIND_CITIZEN) != (c->cpr[0] != '\0'))
        return dfdg_errinfo_set(ei, DFDG_UNAUTH, "a cpr claim belongs to citizen tokens only");
    return DFDG_OK;
}

struct referral_scan {
    const char *cvr; /* the actor's CVR number */
    bool found;      /* a current referral names it */
};

static bool
referral_cb(const struct dfdg_record *r, void *ctx)
{
    struct referral_scan *sc = ctx;
    json_t *data = json_loads(r->data, 0, NULL);
    const char *cvr = json_string_value(json_object_get(data, REFERRAL_ACTOR_FIELD));
    sc->found = cvr != NULL && strcmp(cvr, sc->cvr) == 0;
    json_decref(data);
    return !sc->found;
}

dfdg_err
dfdg_authz_relations(struct dfdg_store *s, const struct dfdg_actor *a, int64_t person_id,
                     int32_t day, struct dfdg_relations *out)
{
    dfdg_err rc = DFDG_OK;
    memset(out, 0, sizeof *out);
    out->person_id = person_id;
    switch (a->kind) {
    case DFDG_KIND_KOMMUNE: {
        char kode[4];
        rc = dfdg_store_residence_on(s, person_id, day, kode);
        if (rc == DFDG_OK)
            out->resident = strcmp(kode, a->code) == 0;
        else if (rc == DFDG_NOT_FOUND)
            rc = DFDG_OK;
        break;
    }
    case DFDG_KIND_AKASSE:
        rc = dfdg_store_is_member_on(s, person_id, a->org, day, &out->member);
        break;
    case DFDG_KIND_AKTOER: {
        struct referral_scan sc = {.cvr = a->code};
        struct dfdg_record_query q = {
            .person_id = person_id, .type = REFERRAL_TYPE, .valid_on = day, .as_of = INT64_MAX};
        rc = dfdg_store_records_query(s, &q, referral_cb, &sc);
        out->referred = sc.found;
        break;
    }
    case DFDG_KIND_CITIZEN:
        out->self = a->person_id != 0 && a->person_id == person_id;
        break;
    default:
        break;
    }
    return rc;
}

/* A relationship period [from, to] (to inclusive; DFDG_DATE_NONE open) that touches
 * [lo, hi]. */
static bool
overlaps(int32_t from, int32_t to, int32_t lo, int32_t hi)
{
    return from <= hi && (to == DFDG_DATE_NONE || to >= lo);
}

struct window_scan {
    const struct dfdg_actor *a; /* the org */
    int32_t lo, hi;             /* the window */
    bool found;                 /* a relationship period touches it */
};

static bool
window_cb(const struct dfdg_record *r, void *ctx)
{
    struct window_scan *w = ctx;
    if (!overlaps(r->valid_from, r->valid_to, w->lo, w->hi))
        return true;
    if (w->a->kind == DFDG_KIND_AKASSE) {
        w->found = strcmp(r->owner, w->a->org) == 0;
    } else {
        json_t *data = json_loads(r->data, 0, NULL);
        const char *cvr = json_string_value(json_object_get(data, REFERRAL_ACTOR_FIELD));
        w->found = cvr != NULL && strcmp(cvr, w->a->code) == 0;
        json_decref(data);
    }
    return !w->found;
}

/* Whether the org's relationship to the person held on any day of [lo, hi]. */
static dfdg_err
related_in_window(struct dfdg_store *s, const struct dfdg_actor *a, int64_t person_id, int32_t lo,
                  int32_t hi, bool *out)
{
    *out = false;
    if (a->kind == DFDG_KIND_KOMMUNE) {
        struct dfdg_person p = {0};
        dfdg_err rc = dfdg_store_person_get(s, person_id, &p);
        for (size_t i = 0; rc == DFDG_OK && i < p.naddresses && !*out; i++) {
            const struct dfdg_address *ad = &p.addresses[i];
            /* Address periods end the day before `to` (the day moved away). */
            int32_t last = ad->to == DFDG_DATE_NONE ? DFDG_DATE_NONE : ad->to - 1;
            *out = strcmp(ad->kommunekode, a->code) == 0 && overlaps(ad->from, last, lo, hi);
        }
        dfdg_person_cleanup(&p);
        return rc;
    }
    if (a->kind != DFDG_KIND_AKASSE && a->kind != DFDG_KIND_AKTOER)
        return DFDG_OK;
    struct window_scan w = {.a = a, .lo = lo, .hi = hi};
    struct dfdg_record_query q = {.person_id = person_id,
                                  .type =
                                      a->kind == DFDG_KIND_AKASSE ? MEMBERSHIP_TYPE : REFERRAL_TYPE,
                                  .valid_on = DFDG_DATE_NONE,
                                  .as_of = INT64_MAX};
    dfdg_err rc = dfdg_store_records_query(s, &q, window_cb, &w);
    *out = w.found;
    return rc;
}

dfdg_err
dfdg_authz_relations_for_read(struct dfdg_store *s, const struct dfdg_actor *a, int64_t person_id,
                              int32_t day, int32_t grace_days, struct dfdg_relations *out)
{
    dfdg_err rc = dfdg_authz_relations(s, a, person_id, day, out);
    if (rc != DFDG_OK || grace_days <= 0 || out->resident || out->member || out->referred)
        return rc;
    bool held = false;
    rc = related_in_window(s, a, person_id, day - grace_days, day, &held);
    if (rc == DFDG_OK && held) {
        out->resident = a->kind == DFDG_KIND_KOMMUNE;
        out->member = a->kind == DFDG_KIND_AKASSE;
        out->referred = a->kind == DFDG_KIND_AKTOER;
    }
    return rc;
}

dfdg_err
dfdg_authz_may_report(struct dfdg_store *s, const struct dfdg_actor *a, const struct dfdg_type *t,
                      int64_t person_id, int32_t valid_from, struct dfdg_denial *why)
{
    if (!dfdg_type_has_reporter(t, a->kind))
        return deny(why, "report.kind", "org kind '%s' may not report type '%s'",
                    dfdg_org_kind_name(a->kind), t->code);
    if (a->kind == DFDG_KIND_STAR || t->subject == DFDG_SUBJECT_COMPANY)
        return DFDG_OK;
    /* A kommune has handlepligt only for its residents (retssikkerhedsloven § 9); an a-kasse
     * reports only on its members, except the membership record itself (BEK kap. 16). */
    if (a->kind == DFDG_KIND_AKASSE && strcmp(t->code, MEMBERSHIP_TYPE) == 0)
        return DFDG_OK;
    struct dfdg_relations rel;
    dfdg_err rc = dfdg_authz_relations(s, a, person_id, valid_from, &rel);
    if (rc != DFDG_OK)
        return rc;
    switch (a->kind) {
    case DFDG_KIND_KOMMUNE:
        if (!rel.resident)
            return deny(why, "report.residence",
                        "the person was not resident in kommune %s on valid_from", a->code);
        return DFDG_OK;
    case DFDG_KIND_AKASSE:
        if (!rel.member)
            return deny(why, "report.membership", "the person was not a member of %s on valid_from",
                        a->org);
        return DFDG_OK;
    case DFDG_KIND_CITIZEN:
        if (!rel.self)
            return deny(why, "report.self", "a citizen may report only about themselves");
        return DFDG_OK;
    default:
        return deny(why, "report.kind", "org kind '%s' may not report type '%s'",
                    dfdg_org_kind_name(a->kind), t->code);
    }
}

bool
dfdg_authz_may_read(const struct dfdg_actor *a, const struct dfdg_type *t, const char *owner,
                    const struct dfdg_relations *rel, struct dfdg_denial *why)
{
    if (a->kind == DFDG_KIND_STAR)
        return true;
    if (a->kind == DFDG_KIND_CITIZEN) {
        if (rel->self && t->jobnet_visible)
            return true;
        deny(why, "read.citizen", "a citizen reads only their own records of jobnet-visible types");
        return false;
    }
    if (owner != NULL && strcmp(owner, a->org) == 0)
        return true;
    for (size_t i = 0; i < t->nrecipients; i++) {
        const struct dfdg_recipient *r = &t->recipients[i];
        if (r->kind != a->kind)
            continue;
        switch (r->via) {
        case DFDG_VIA_RESIDENCE:
            if (rel->resident)
                return true;
            break;
        case DFDG_VIA_MEMBERSHIP:
            if (rel->member)
                return true;
            break;
        case DFDG_VIA_REFERRAL:
            if (rel->referred)
                return true;
            break;
        case DFDG_VIA_ALL:
            return true;
        }
    }
    deny(why, "read.relationship", "%s has no relationship to the person that entitles it to '%s'",
         a->org, t->code);
    return false;
}

bool
dfdg_authz_may_read_person(const struct dfdg_actor *a, const struct dfdg_relations *rel,
                           struct dfdg_denial *why)
{
    if (a->kind == DFDG_KIND_STAR || rel->resident || rel->member || rel->referred || rel->self)
        return true;
    deny(why, "read.relationship", "%s has no relationship to the person", a->org);
    return false;
}

bool
dfdg_authz_masks_address(const struct dfdg_actor *a)
{
    return a->kind == DFDG_KIND_AKASSE || a->kind == DFDG_KIND_AKTOER ||
           a->kind == DFDG_KIND_RESEARCH;
}

/* Company data (BEK kap. 32-33) is shared among the kinds that report it, and STAR. */
static dfdg_err
decide_company_read(const struct dfdg_access_q *q, struct dfdg_denial *why)
{
    if (q->actor->kind == DFDG_KIND_STAR ||
        (q->type != NULL && dfdg_type_has_reporter(q->type, q->actor->kind)))
        return DFDG_OK;
    return deny(why, "read.relationship", "org kind '%s' may not read '%s' records",
                dfdg_org_kind_name(q->actor->kind), q->type != NULL ? q->type->code : "?");
}

dfdg_err
dfdg_authz_decide(struct dfdg_store *s, const struct dfdg_access_q *q, struct dfdg_denial *why)
{
    if (q->action == DFDG_ACTION_REPORT)
        return dfdg_authz_may_report(s, q->actor, q->type, q->person_id, q->day, why);
    if (q->action == DFDG_ACTION_READ && q->person_id == 0)
        return decide_company_read(q, why);
    struct dfdg_relations computed;
    const struct dfdg_relations *rel = q->rel;
    if (rel == NULL) {
        dfdg_err rc = dfdg_authz_relations_for_read(s, q->actor, q->person_id, q->day,
                                                    q->grace_days, &computed);
        if (rc != DFDG_OK)
            return rc;
        rel = &computed;
    }
    if (q->action == DFDG_ACTION_READ_PERSON)
        return dfdg_authz_may_read_person(q->actor, rel, why) ? DFDG_OK : DFDG_DENIED;
    if (q->type == NULL)
        return deny(why, "read.relationship", "the record's type is not in the catalog");
    return dfdg_authz_may_read(q->actor, q->type, q->owner, rel, why) ? DFDG_OK : DFDG_DENIED;
}
