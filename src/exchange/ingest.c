/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ingest.c: preparing records in request threads and applying them in the writer thread
 * (see ingest.h for the outcomes).
 *
 * Invariants:
 *   1. Nothing is updated in place: a correction or cancellation is a new record whose
 *      target_id names the record it supersedes or withdraws.
 *   2. (reporter, source_ref) identifies a report: the same content again is a replay that
 *      answers the first id; other content is a conflict. The content hash covers everything
 *      the reporter sent (kind, target, type, subject, valid time, data, reason).
 *   3. A record is superseded or withdrawn at most once: only a current record can be the
 *      target of a correction or cancellation, so history is a chain, never a tree.
 *   4. Checks that read the store (idempotency, residence, membership, the target) run in
 *      the writer's transaction, so they see every write committed before and every write
 *      of the same group before them.
 */
#include "core/dfdg.h"
#include "exchange/ingest.h"
#include "core/uuid.h"
#include "core/when.h"
#include "audit/auditlog.h"

#include <sodium.h>

#define MEMBERSHIP_TYPE "akasse-membership" /* BEK kap. 16 */
#include <stdarg.h>

void
dfdg_ingest_item_cleanup(struct dfdg_ingest_item *it)
{
    if (it == NULL)
        return;
    free(it->data);
    free(it->reason);
    it->data = NULL;
    it->reason = NULL;
}

/* SHA-256 over the canonical content, each part length-prefixed so parts cannot run into
 * each other. */
void
dfdg_ingest_hash(struct dfdg_ingest_item *it)
{
    crypto_hash_sha256_state st;
    const char *parts[] = {
        it->kind == DFDG_RECORD_ORIGINAL     ? "original"
        : it->kind == DFDG_RECORD_CORRECTION ? "correction"
                                             : "cancellation",
        it->target_id,
        it->type != NULL ? it->type->code : "",
        it->cpr,
        it->cvr,
        it->data != NULL ? it->data : "",
        it->reason != NULL ? it->reason : "",
    };
    crypto_hash_sha256_init(&st);
    for (size_t i = 0; i < DFDG_ARRAY_LEN(parts); i++) {
        uint64_t n = strlen(parts[i]);
        crypto_hash_sha256_update(&st, (const unsigned char *)&n, sizeof n);
        crypto_hash_sha256_update(&st, (const unsigned char *)parts[i], n);
    }
    int32_t days[2] = {it->valid_from, it->valid_to};
    crypto_hash_sha256_update(&st, (const unsigned char *)days, sizeof days);
    crypto_hash_sha256_final(&st, it->content_hash);
}

dfdg_err
dfdg_ingest_prepare_record(const struct dfdg_catalog *cat, const struct dfdg_actor *a, json_t *body,
                           const char *target_id, struct dfdg_ingest_item *out,
                           struct dfdg_verrors *ve, struct dfdg_denial *why)
{
    memset(out, 0, sizeof *out);
    struct dfdg_record_in in;
    dfdg_err rc = dfdg_catalog_validate_record(cat, body, a->kind, &in, ve);
    if (rc != DFDG_OK)
        return rc;
    if (!dfdg_type_has_reporter(in.type, a->kind)) {
        why->rule = "report.kind";
        snprintf(why->msg, sizeof why->msg, "org kind '%s' may not report type '%s'",
                 dfdg_org_kind_name(a->kind), in.type->code);
        return DFDG_DENIED;
    }
    out->kind = target_id != NULL ? DFDG_RECORD_CORRECTION : DFDG_RECORD_ORIGINAL;
    if (target_id != NULL)
        dfdg_strlcpy(out->target_id, target_id, sizeof out->target_id);
    out->type = in.type;
    if (in.type->subject == DFDG_SUBJECT_PERSON)
        dfdg_strlcpy(out->cpr, in.cpr.digits, sizeof out->cpr);
    else
        dfdg_strlcpy(out->cvr, in.cvr, sizeof out->cvr);
    dfdg_strlcpy(out->source_ref, in.source_ref, sizeof out->source_ref);
    out->valid_from = in.valid_from;
    out->valid_to = in.valid_to;
    out->data = json_dumps(in.data, JSON_COMPACT | JSON_SORT_KEYS);
    if (out->data == NULL)
        return DFDG_NOMEM;
    dfdg_ingest_hash(out);
    return DFDG_OK;
}

dfdg_err
dfdg_ingest_prepare_cancellation(const struct dfdg_actor *a, json_t *body, const char *target_id,
                                 struct dfdg_ingest_item *out, struct dfdg_verrors *ve)
{
    (void)a;
    memset(out, 0, sizeof *out);
    if (!json_is_object(body)) {
        dfdg_verrors_add(ve, "", "type", "the body must be a JSON object");
        return DFDG_INVAL;
    }
    const char *key;
    json_t *val;
    json_object_foreach(body, key, val)
    {
        if (strcmp(key, "source_ref") != 0 && strcmp(key, "reason") != 0)
            dfdg_verrors_add(ve, key, "unknown", "unknown key; expected source_ref and reason");
    }
    json_t *sr = json_object_get(body, "source_ref");
    size_t srlen = json_string_length(sr);
    if (!json_is_string(sr) || srlen == 0 || srlen >= sizeof out->source_ref)
        dfdg_verrors_add(ve, "source_ref", json_is_string(sr) ? "max_length" : "required",
                         "source_ref must be a string of 1 to 128 characters");
    else if (strlen(json_string_value(sr)) != srlen)
        dfdg_verrors_add(ve, "source_ref", "type", "source_ref must not contain NUL characters");
    json_t *reason = json_object_get(body, "reason");
    size_t rlen = json_string_length(reason);
    if (!json_is_string(reason) || rlen == 0 || rlen > DFDG_REASON_MAX)
        dfdg_verrors_add(ve, "reason", json_is_string(reason) ? "max_length" : "required",
                         "reason must be a string of 1 to %d bytes", DFDG_REASON_MAX);
    else if (strlen(json_string_value(reason)) != rlen)
        dfdg_verrors_add(ve, "reason", "type", "reason must not contain NUL characters");
    if (ve->n > 0)
        return DFDG_INVAL;
    out->kind = DFDG_RECORD_CANCELLATION;
    dfdg_strlcpy(out->target_id, target_id, sizeof out->target_id);
    dfdg_strlcpy(out->source_ref, json_string_value(sr), sizeof out->source_ref);
    out->valid_from = 0;
    out->valid_to = DFDG_DATE_NONE;
    out->reason = strdup(json_string_value(reason));
    out->data = strdup("{}");
    if (out->reason == NULL || out->data == NULL)
        return DFDG_NOMEM;
    dfdg_ingest_hash(out);
    return DFDG_OK;
}

static void outcome(struct dfdg_ingest_item *it, int status, const char *rule, const char *fmt, ...)
    DFDG_PRINTF(4, 5);

void
dfdg_ingest_reporter_id(const struct dfdg_actor *a, char *buf, size_t size)
{
    if (a->kind == DFDG_KIND_CITIZEN)
        snprintf(buf, size, "citizen:%lld", (long long)a->person_id);
    else
        dfdg_strlcpy(buf, a->org, size);
}

static void
outcome(struct dfdg_ingest_item *it, int status, const char *rule, const char *fmt, ...)
{
    it->status = status;
    it->rule = rule;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(it->detail, sizeof it->detail, fmt, ap);
    va_end(ap);
}

/* Checks the target of a correction or cancellation and fills the inherited parts of rec.
 * Returns DFDG_OK with it->status still 0 when the item may go on. */
static dfdg_err
check_target(struct dfdg_store *s, const struct dfdg_actor *a, struct dfdg_ingest_item *it,
             struct dfdg_record *rec)
{
    struct dfdg_record target = {0}, succ = {0};
    dfdg_err rc = dfdg_store_record_get(s, it->target_id, &target);
    if (rc == DFDG_NOT_FOUND) {
        outcome(it, 404, NULL, "there is no record with id %s", it->target_id);
        return DFDG_OK;
    }
    if (rc != DFDG_OK)
        return rc;
    if (target.kind == DFDG_RECORD_CANCELLATION) {
        outcome(it, 422, NULL, "record %s is a cancellation and cannot be corrected or cancelled",
                it->target_id);
        goto done;
    }
    /* The chain belongs to the reporter of its original, whoever corrected it since. */
    char me[64];
    dfdg_ingest_reporter_id(a, me, sizeof me);
    if (strcmp(target.owner, me) != 0 && a->kind != DFDG_KIND_STAR) {
        outcome(it, 403, "report.owner",
                "only the reporter of a record (or STAR) may correct or cancel it");
        goto done;
    }
    rc = dfdg_store_record_successor(s, it->target_id, INT64_MAX, &succ);
    if (rc == DFDG_OK) {
        outcome(it, 409, NULL, "record %s was already %s by record %s", it->target_id,
                succ.kind == DFDG_RECORD_CANCELLATION ? "cancelled" : "corrected", succ.id);
        goto done;
    }
    if (rc != DFDG_NOT_FOUND)
        goto done;
    rc = DFDG_OK;
    dfdg_strlcpy(rec->owner, target.owner, sizeof rec->owner);
    if (it->kind == DFDG_RECORD_CORRECTION) {
        if (strcmp(target.type, it->type->code) != 0 || target.person_id != rec->person_id ||
            strcmp(target.cvr, rec->cvr) != 0)
            outcome(it, 422, NULL,
                    "a correction keeps the type and the subject of the record it corrects");
    } else {
        dfdg_strlcpy(rec->type, target.type, sizeof rec->type);
        rec->person_id = target.person_id;
        dfdg_strlcpy(rec->cvr, target.cvr, sizeof rec->cvr);
        rec->valid_from = target.valid_from;
        rec->valid_to = target.valid_to;
    }
done:
    dfdg_record_cleanup(&succ);
    dfdg_record_cleanup(&target);
    return rc;
}

static bool
routed_cb(const struct dfdg_delivery *d, const struct dfdg_record *r, const char *cpr, void *ctx)
{
    (void)r;
    (void)cpr;
    struct dfdg_routed *out = ctx;
    /* routed_to names where the record was routed, not later hand-overs. */
    if (strcmp(d->reason, "handover") != 0 && out->n < DFDG_ROUTE_MAX) {
        dfdg_strlcpy(out->to[out->n].org, d->org_id, sizeof out->to[0].org);
        out->to[out->n].seq = d->seq;
        out->n++;
    }
    return true;
}

/* An item's type; a cancellation has the type of the record it withdraws. */
static const struct dfdg_type *
item_type(const struct dfdg_ingest_item *it)
{
    return it->type != NULL ? it->type : it->target_type;
}

/* Routes a new record and, for a new a-kasse membership, hands the open records over. */
static dfdg_err
route(struct dfdg_store *s, const struct dfdg_catalog *cat, struct dfdg_ingest_item *it,
      const struct dfdg_record *rec, int64_t tx_time)
{
    const struct dfdg_type *t = item_type(it);
    if (t == NULL)
        return DFDG_OK;
    dfdg_err rc = dfdg_route_record(s, t, rec, tx_time, &it->routed);
    /* A correction or cancellation also reaches every org that had the record. */
    if (rc == DFDG_OK && rec->kind != DFDG_RECORD_ORIGINAL)
        rc = dfdg_route_follow(s, rec, tx_time, &it->routed);
    /* BEK kap. 16 and 24: on a change of a-kasse the new one receives the open records. */
    if (rc == DFDG_OK && rec->kind == DFDG_RECORD_ORIGINAL && rec->person_id != 0 &&
        strcmp(rec->type, MEMBERSHIP_TYPE) == 0)
        rc = dfdg_route_handover(s, cat, rec->person_id, rec->owner, DFDG_KIND_AKASSE,
                                 rec->valid_from, tx_time, &it->handed);
    return rc;
}

static dfdg_err
apply_item(struct dfdg_store *s, const struct dfdg_catalog *cat, const struct dfdg_actor *a,
           struct dfdg_ingest_item *it, int64_t tx_time)
{
    struct dfdg_record prev = {0};
    char reporter[64];
    dfdg_ingest_reporter_id(a, reporter, sizeof reporter);
    dfdg_err rc = dfdg_store_record_by_source(s, reporter, it->source_ref, &prev);
    if (rc == DFDG_OK) {
        if (sodium_memcmp(prev.content_hash, it->content_hash, sizeof it->content_hash) == 0) {
            it->status = 200;
            it->person_id = prev.person_id;
            dfdg_strlcpy(it->id, prev.id, sizeof it->id);
            it->recorded_at = prev.recorded_at;
            rc = dfdg_store_deliveries_of(s, prev.id, routed_cb, &it->routed);
            dfdg_record_cleanup(&prev);
            return rc;
        } else {
            outcome(it, 409, NULL,
                    "source_ref '%s' was already used by this reporter for other content",
                    it->source_ref);
        }
        dfdg_record_cleanup(&prev);
        return DFDG_OK;
    }
    if (rc != DFDG_NOT_FOUND)
        return rc;

    struct dfdg_record rec = {0};
    if (it->cpr[0] != '\0') {
        rc = dfdg_store_person_resolve(s, it->cpr, &rec.person_id);
        it->person_id = rec.person_id;
        if (rc == DFDG_NOT_FOUND) {
            outcome(it, 422, NULL, "the person is not in the CPR master data");
            return DFDG_OK;
        }
        if (rc != DFDG_OK)
            return rc;
    }
    dfdg_strlcpy(rec.cvr, it->cvr, sizeof rec.cvr);
    if (it->type != NULL)
        dfdg_strlcpy(rec.type, it->type->code, sizeof rec.type);
    rec.valid_from = it->valid_from;
    rec.valid_to = it->valid_to;
    if (it->kind != DFDG_RECORD_ORIGINAL) {
        rc = check_target(s, a, it, &rec);
        if (it->kind == DFDG_RECORD_CANCELLATION && rec.type[0] != '\0')
            it->target_type = dfdg_catalog_find(cat, rec.type); /* for its audit entry */
        if (it->person_id == 0)
            it->person_id = rec.person_id;
        if (rc != DFDG_OK || it->status != 0)
            return rc;
    }
    if (it->kind != DFDG_RECORD_CANCELLATION) {
        struct dfdg_denial why = {0};
        struct dfdg_access_q q = {.actor = a,
                                  .action = DFDG_ACTION_REPORT,
                                  .type = it->type,
                                  .person_id = rec.person_id,
                                  .day = it->valid_from};
        rc = dfdg_authz_decide(s, &q, &why);
        if (rc == DFDG_DENIED) {
            outcome(it, 403, why.rule, "%s", why.msg);
            return DFDG_OK;
        }
        if (rc != DFDG_OK)
            return rc;
    }
    dfdg_uuid7_make(tx_time / 1000, rec.id);
    dfdg_strlcpy(rec.reporter, reporter, sizeof rec.reporter);
    dfdg_strlcpy(rec.source_ref, it->source_ref, sizeof rec.source_ref);
    dfdg_strlcpy(rec.target_id, it->target_id, sizeof rec.target_id);
    rec.recorded_at = tx_time;
    rec.kind = it->kind;
    memcpy(rec.content_hash, it->content_hash, sizeof rec.content_hash);
    rec.data = it->data;
    rec.reason = it->reason;
    rc = dfdg_store_record_insert(s, &rec);
    if (rc == DFDG_OK) {
        if (rec.owner[0] == '\0')
            dfdg_strlcpy(rec.owner, rec.reporter, sizeof rec.owner);
        rc = route(s, cat, it, &rec, tx_time);
    }
    if (rc != DFDG_OK)
        return rc;
    it->status = 201;
    dfdg_strlcpy(it->id, rec.id, sizeof it->id);
    it->recorded_at = tx_time;
    return DFDG_OK;
}

static const char *
op_name(enum dfdg_record_kind k)
{
    return k == DFDG_RECORD_CORRECTION     ? "record.correct"
           : k == DFDG_RECORD_CANCELLATION ? "record.cancel"
                                           : "record.create";
}

/* One audit entry for the whole request: every item with its outcome. */
static dfdg_err
audit_request(struct dfdg_tx *tx, const struct dfdg_ingest_req *req)
{
    const struct dfdg_actor *a = &req->actor;
    const char *action = req->nitems == 1 ? op_name(req->items[0].kind) : "record.batch";
    json_t *ev = dfdg_audit_event_new(a->org, a->sub, action, dfdg_purpose_name(a->purpose),
                                      dfdg_purpose_legal_basis(a->purpose), NULL);
    if (ev == NULL)
        return DFDG_NOMEM;
    bool any_denied = false;
    int64_t *persons = malloc((req->nitems + 1) * sizeof *persons);
    if (persons == NULL) {
        json_decref(ev);
        return DFDG_NOMEM;
    }
    for (size_t i = 0; i < req->nitems; i++) {
        const struct dfdg_ingest_item *it = &req->items[i];
        persons[i] = it->person_id;
        const struct dfdg_type *t = item_type(it);
        const struct dfdg_type *prev_t = i > 0 ? item_type(&req->items[i - 1]) : NULL;
        const char *type = t != NULL ? t->code : "";
        if (t != NULL && (i == 0 || t != prev_t)) {
            char basis[512];
            dfdg_type_legal_basis(t, basis, sizeof basis);
            dfdg_audit_event_add_legal_basis(ev, basis);
        }
        dfdg_audit_event_add_record(ev, it->id, type, it->person_id, it->status, it->rule);
        any_denied |= it->status == 403;
    }
    dfdg_audit_event_set_persons(ev, persons, req->nitems);
    free(persons);
    if (any_denied) {
        json_object_set_new(ev, "outcome",
                            json_string(req->nitems == 1 ? "denied" : "partly denied"));
        if (req->nitems == 1 && req->items[0].rule != NULL)
            json_object_set_new(ev, "rule", json_string(req->items[0].rule));
    }
    dfdg_err rc = dfdg_audit_append(tx->audit, tx->store, ev, tx->time);
    json_decref(ev);
    return rc;
}

/*
 * Tells the store what the items will ask about (dfdg_store_prefetch): each subject on its
 * valid_from (the report rule and routing decide on that day), the source_refs, and the
 * referral records routing and the report rule look for.
 */
static dfdg_err
prefetch(struct dfdg_store *s, const struct dfdg_ingest_req *req)
{
    size_t n = req->nitems;
    const char **refs = malloc((n + 1) * sizeof *refs);
    const char **cprs = malloc((n + 1) * sizeof *cprs);
    int32_t *days = malloc((n + 1) * sizeof *days);
    char reporter[64];
    dfdg_ingest_reporter_id(&req->actor, reporter, sizeof reporter);
    dfdg_err rc = DFDG_NOMEM;
    if (refs == NULL || cprs == NULL || days == NULL)
        goto free_arrays;
    size_t nrefs = 0, ncprs = 0;
    for (size_t i = 0; i < n; i++) {
        const struct dfdg_ingest_item *it = &req->items[i];
        if (it->status != 0)
            continue;
        refs[nrefs++] = it->source_ref;
        if (it->cpr[0] != '\0') {
            cprs[ncprs] = it->cpr;
            days[ncprs++] = it->valid_from;
        }
    }
    struct dfdg_prefetch pf = {.reporter = reporter,
                               .source_refs = refs,
                               .nsources = nrefs,
                               .cprs = cprs,
                               .days = days,
                               .npersons = ncprs,
                               .query_type = DFDG_REFERRAL_TYPE};
    rc = nrefs > 0 ? dfdg_store_prefetch(s, &pf) : DFDG_OK;
free_arrays:
    free(refs);
    free(cprs);
    free(days);
    return rc;
}

dfdg_err
dfdg_ingest_apply(struct dfdg_tx *tx, struct dfdg_write_req *wr)
{
    struct dfdg_ingest_req *req = (struct dfdg_ingest_req *)wr;
    dfdg_err rc = prefetch(tx->store, req);
    for (size_t i = 0; i < req->nitems && rc == DFDG_OK; i++) {
        struct dfdg_ingest_item *it = &req->items[i];
        if (it->status != 0)
            continue; /* rejected before it reached the writer */
        rc = apply_item(tx->store, req->cat, &req->actor, it, tx->time);
    }
    /* Every write, and every denied attempt, is accounted for in the same transaction. */
    if (rc == DFDG_OK && tx->audit != NULL)
        rc = audit_request(tx, req);
    if (rc != DFDG_OK) {
        /* The whole request is rolled back: no item of it may look applied. */
        for (size_t j = 0; j < req->nitems; j++)
            if (req->items[j].status == 201 || req->items[j].status == 200) {
                req->items[j].status = 0;
                req->items[j].routed.n = 0;
                req->items[j].handed.n = 0;
            }
    }
    return rc;
}
