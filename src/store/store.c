/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.c: the public storage functions of store.h. dfdg_store_open picks the backend from the
 * URI ("sqlite:PATH" or a plain PATH for SQLite, "postgres:CONNINFO" / "postgresql://..." for
 * PostgreSQL, when built with DFDG_WITH_PG; see pg.c); every other function checks the arguments
 * all backends share and dispatches through the handle's vtable (store_int.h).
 *
 * Invariants:
 *   1. A backend is only called with a non-NULL handle and non-NULL required pointers.
 *   2. Savepoint names reaching a backend match [a-z0-9_]{1,63}, so backends may paste them
 *      into SQL text.
 *   3. Every failure leaves a detail in s->errmsg (dfdg_store_last_error); success clears it.
 */
#include "core/dfdg.h"

#include <stdarg.h>

#include "store/store_int.h"

#define SAVEPOINT_NAME_MAX 63

dfdg_err
dfdg_store_set_error(struct dfdg_store *s, dfdg_err rc, const char *fmt, ...)
{
    if (s != NULL && fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static bool
has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

dfdg_err
dfdg_store_open(const char *uri, enum dfdg_store_mode mode, struct dfdg_store **out /* OUT */,
                struct dfdg_errinfo *ei)
{
    if (out == NULL)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "store: no place for the handle");
    *out = NULL;
    if (uri == NULL || uri[0] == '\0')
        return dfdg_errinfo_set(ei, DFDG_INVAL, "store: empty database location");
    if (mode != DFDG_STORE_OPEN && mode != DFDG_STORE_CREATE)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "store: unknown open mode");
    if (has_prefix(uri, "postgres:") || has_prefix(uri, "postgresql:")) {
#ifdef DFDG_WITH_PG
        /* A URI goes to libpq whole; "postgres:CONNINFO" loses its scheme. */
        if (has_prefix(uri, "postgres://") || has_prefix(uri, "postgresql://"))
            return dfdg_store_pg_open(uri, mode, out, ei);
        return dfdg_store_pg_open(strchr(uri, ':') + 1, mode, out, ei);
#else
        return dfdg_errinfo_set(ei, DFDG_CONFIG,
                                "store: the PostgreSQL backend is not built into this dfdg");
#endif
    }
    const char *path = uri;
    if (has_prefix(uri, "sqlite:"))
        path = uri + strlen("sqlite:");
    if (path[0] == '\0')
        return dfdg_errinfo_set(ei, DFDG_INVAL, "store: empty SQLite path");
    return dfdg_store_sqlite_open(path, mode, out, ei);
}

void
dfdg_store_close(struct dfdg_store *s)
{
    if (s == NULL)
        return;
    s->vt->close(s);
}

int
dfdg_store_schema_version(void)
{
    return DFDG_STORE_SCHEMA_VERSION;
}

const char *
dfdg_store_last_error(const struct dfdg_store *s)
{
    return s == NULL ? "" : s->errmsg;
}

/*
 * Records a generic error detail if the backend left none; on success clears any detail a
 * nested call (a callback that re-entered the store and failed) may have left.
 */
static dfdg_err
done(struct dfdg_store *s, dfdg_err rc)
{
    if (rc == DFDG_OK)
        s->errmsg[0] = '\0';
    else if (s->errmsg[0] == '\0')
        dfdg_store_set_error(s, rc, "%s", dfdg_err_message(rc));
    return rc;
}

static dfdg_err
start(struct dfdg_store *s)
{
    if (s == NULL)
        return DFDG_INVAL;
    s->errmsg[0] = '\0';
    return DFDG_OK;
}

static dfdg_err
bad_arg(struct dfdg_store *s, const char *what)
{
    return dfdg_store_set_error(s, DFDG_INVAL, "store: %s", what);
}

/* --- transactions ------------------------------------------------------------------------- */

dfdg_err
dfdg_store_begin(struct dfdg_store *s)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    return done(s, s->vt->begin(s));
}

dfdg_err
dfdg_store_commit(struct dfdg_store *s)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    return done(s, s->vt->commit(s));
}

dfdg_err
dfdg_store_rollback(struct dfdg_store *s)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    return done(s, s->vt->rollback(s));
}

static bool
savepoint_name_is_valid(const char *name)
{
    if (name == NULL || name[0] == '\0')
        return false;
    size_t n = 0;
    for (const char *c = name; *c != '\0'; c++, n++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_';
        if (!ok || n >= SAVEPOINT_NAME_MAX)
            return false;
    }
    return true;
}

dfdg_err
dfdg_store_savepoint(struct dfdg_store *s, const char *name)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (!savepoint_name_is_valid(name))
        return bad_arg(s, "savepoint name must match [a-z0-9_]+ (at most 63 characters)");
    return done(s, s->vt->savepoint(s, name));
}

dfdg_err
dfdg_store_release(struct dfdg_store *s, const char *name)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (!savepoint_name_is_valid(name))
        return bad_arg(s, "savepoint name must match [a-z0-9_]+ (at most 63 characters)");
    return done(s, s->vt->release(s, name));
}

dfdg_err
dfdg_store_rollback_to(struct dfdg_store *s, const char *name)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (!savepoint_name_is_valid(name))
        return bad_arg(s, "savepoint name must match [a-z0-9_]+ (at most 63 characters)");
    return done(s, s->vt->rollback_to(s, name));
}

/* --- meta, orgs, issuers ------------------------------------------------------------------ */

dfdg_err
dfdg_store_meta_put(struct dfdg_store *s, const char *key, const void *val, size_t len)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (key == NULL || key[0] == '\0' || (val == NULL && len != 0))
        return bad_arg(s, "meta_put needs a key and a value");
    return done(s, s->vt->meta_put(s, key, val, len));
}

dfdg_err
dfdg_store_meta_get(struct dfdg_store *s, const char *key, void *buf, size_t *len)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (key == NULL || key[0] == '\0' || len == NULL || (buf == NULL && *len != 0))
        return bad_arg(s, "meta_get needs a key, a buffer and its size");
    return done(s, s->vt->meta_get(s, key, buf, len));
}

dfdg_err
dfdg_store_org_put(struct dfdg_store *s, const struct dfdg_org *org)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (org == NULL || org->id[0] == '\0' || memchr(org->id, '\0', sizeof org->id) == NULL ||
        memchr(org->kind, '\0', sizeof org->kind) == NULL ||
        memchr(org->name, '\0', sizeof org->name) == NULL)
        return bad_arg(s, "org_put needs an org with an id and terminated strings");
    return done(s, s->vt->org_put(s, org));
}

dfdg_err
dfdg_store_org_get(struct dfdg_store *s, const char *id, struct dfdg_org *out /* OUT */)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (id == NULL || out == NULL)
        return bad_arg(s, "org_get needs an id and an output");
    return done(s, s->vt->org_get(s, id, out));
}

dfdg_err
dfdg_store_issuer_put(struct dfdg_store *s, const char *iss, const uint8_t pk[32])
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (iss == NULL || iss[0] == '\0' || pk == NULL ||
        strlen(iss) >= sizeof((struct dfdg_issuer *)NULL)->iss)
        return bad_arg(s, "issuer_put needs a name (at most 63 bytes) and a key");
    return done(s, s->vt->issuer_put(s, iss, pk));
}

dfdg_err
dfdg_store_issuer_get(struct dfdg_store *s, const char *iss, uint8_t pk[32] /* OUT */)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (iss == NULL || pk == NULL)
        return bad_arg(s, "issuer_get needs a name and an output");
    return done(s, s->vt->issuer_get(s, iss, pk));
}

dfdg_err
dfdg_store_org_list(struct dfdg_store *s, struct dfdg_org **out /* OUT */, size_t *n /* OUT */)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (out == NULL || n == NULL)
        return bad_arg(s, "org_list needs outputs");
    *out = NULL;
    *n = 0;
    return done(s, s->vt->org_list(s, out, n));
}

dfdg_err
dfdg_store_issuer_list(struct dfdg_store *s, struct dfdg_issuer **out /* OUT */,
                       size_t *n /* OUT */)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (out == NULL || n == NULL)
        return bad_arg(s, "issuer_list needs outputs");
    *out = NULL;
    *n = 0;
    return done(s, s->vt->issuer_list(s, out, n));
}

/* --- persons ------------------------------------------------------------------------------ */

void
dfdg_person_cleanup(struct dfdg_person *p)
{
    if (p == NULL)
        return;
    free(p->previous);
    free(p->addresses);
    free(p->protection);
    free(p->children);
    p->previous = NULL;
    p->nprevious = 0;
    p->addresses = NULL;
    p->naddresses = 0;
    p->protection = NULL;
    p->nprotection = 0;
    p->children = NULL;
    p->nchildren = 0;
}

dfdg_err
dfdg_store_person_put(struct dfdg_store *s, struct dfdg_person *p, struct dfdg_errinfo *ei)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return dfdg_errinfo_set(ei, rc, "store: no handle");
    if (p == NULL) {
        bad_arg(s, "person_put needs a person");
        return dfdg_errinfo_set(ei, DFDG_INVAL, "%s", s->errmsg);
    }
    rc = done(s, s->vt->person_put(s, p));
    if (rc != DFDG_OK)
        dfdg_errinfo_set(ei, rc, "%s", s->errmsg);
    return rc;
}

dfdg_err
dfdg_store_person_resolve(struct dfdg_store *s, const char *cpr, int64_t *person_id /* OUT */)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (cpr == NULL || person_id == NULL)
        return bad_arg(s, "person_resolve needs a number and an output");
    return done(s, s->vt->person_resolve(s, cpr, person_id));
}

dfdg_err
dfdg_store_prefetch(struct dfdg_store *s, const struct dfdg_prefetch *pf)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (pf == NULL || (pf->nsources > 0 && pf->source_refs == NULL) ||
        (pf->npersons > 0 && (pf->cprs == NULL || pf->days == NULL)))
        return bad_arg(s, "prefetch needs its arrays");
    if (s->vt->prefetch == NULL)
        return DFDG_OK;
    return done(s, s->vt->prefetch(s, pf));
}

dfdg_err
dfdg_store_person_get(struct dfdg_store *s, int64_t person_id, struct dfdg_person *out /* OUT */)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (out == NULL)
        return bad_arg(s, "person_get needs an output");
    return done(s, s->vt->person_get(s, person_id, out));
}

dfdg_err
dfdg_store_residence_on(struct dfdg_store *s, int64_t person_id, int32_t day,
                        char kommunekode[4] /* OUT */)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (kommunekode == NULL)
        return bad_arg(s, "residence_on needs an output");
    return done(s, s->vt->residence_on(s, person_id, day, kommunekode));
}

dfdg_err
dfdg_store_is_protected_on(struct dfdg_store *s, int64_t person_id, int32_t day,
                           bool *out /* OUT */)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (out == NULL)
        return bad_arg(s, "is_protected_on needs an output");
    return done(s, s->vt->is_protected_on(s, person_id, day, out));
}

dfdg_err
dfdg_store_is_member_on(struct dfdg_store *s, int64_t person_id, const char *akasse_id, int32_t day,
                        bool *out /* OUT */)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (akasse_id == NULL || out == NULL)
        return bad_arg(s, "is_member_on needs an a-kasse and an output");
    return done(s, s->vt->is_member_on(s, person_id, akasse_id, day, out));
}

/* --- records ------------------------------------------------------------------------------ */

void
dfdg_record_cleanup(struct dfdg_record *r)
{
    if (r == NULL)
        return;
    free(r->data);
    free(r->reason);
    r->data = NULL;
    r->reason = NULL;
}

dfdg_err
dfdg_store_record_insert(struct dfdg_store *s, struct dfdg_record *r)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (r == NULL)
        return bad_arg(s, "record_insert needs a record");
    return done(s, s->vt->record_insert(s, r));
}

dfdg_err
dfdg_store_record_get(struct dfdg_store *s, const char *id, struct dfdg_record *out /* OUT */)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (id == NULL || out == NULL)
        return bad_arg(s, "record_get needs an id and an output");
    return done(s, s->vt->record_get(s, id, out));
}

dfdg_err
dfdg_store_record_by_source(struct dfdg_store *s, const char *reporter, const char *source_ref,
                            struct dfdg_record *out /* OUT */)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (reporter == NULL || source_ref == NULL || out == NULL)
        return bad_arg(s, "record_by_source needs a reporter, a source_ref and an output");
    return done(s, s->vt->record_by_source(s, reporter, source_ref, out));
}

dfdg_err
dfdg_store_record_successor(struct dfdg_store *s, const char *id, int64_t as_of,
                            struct dfdg_record *out /* OUT */)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (id == NULL || out == NULL)
        return bad_arg(s, "record_successor needs an id and an output");
    return done(s, s->vt->record_successor(s, id, as_of, out));
}

dfdg_err
dfdg_store_last_recorded_at(struct dfdg_store *s, int64_t *out /* OUT */)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (out == NULL)
        return bad_arg(s, "last_recorded_at needs an output");
    return done(s, s->vt->last_recorded_at(s, out));
}

dfdg_err
dfdg_store_records_query(struct dfdg_store *s, const struct dfdg_record_query *q, dfdg_record_cb cb,
                         void *ctx)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (q == NULL || cb == NULL)
        return bad_arg(s, "records_query needs a query and a callback");
    return done(s, s->vt->records_query(s, q, cb, ctx));
}

dfdg_err
dfdg_store_count_records(struct dfdg_store *s, int64_t *out /* OUT */)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (out == NULL)
        return bad_arg(s, "count_records needs an output");
    return done(s, s->vt->count_records(s, out));
}

dfdg_err
dfdg_store_count_persons(struct dfdg_store *s, int64_t *out /* OUT */)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (out == NULL)
        return bad_arg(s, "count_persons needs an output");
    return done(s, s->vt->count_persons(s, out));
}

/* --- relationships derived from records ---------------------------------------------------- */

dfdg_err
dfdg_store_members_on(struct dfdg_store *s, int64_t person_id, int32_t day, dfdg_org_cb cb,
                      void *ctx)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (cb == NULL)
        return bad_arg(s, "members_on needs a callback");
    return done(s, s->vt->members_on(s, person_id, day, cb, ctx));
}

/* --- deliveries ----------------------------------------------------------------------------- */

/* The reasons a record reaches a feed; the schema's CHECK holds the same list. */
static bool
delivery_reason_is_valid(const char *reason)
{
    static const char *const reasons[] = {"residence", "membership", "referral", "all", "handover"};
    for (size_t i = 0; i < DFDG_ARRAY_LEN(reasons); i++) {
        if (strcmp(reason, reasons[i]) == 0)
            return true;
    }
    return false;
}

/* True when the fixed buffer holds a terminated, non-empty string. */
static bool
is_filled(const char *buf, size_t size)
{
    return buf[0] != '\0' && memchr(buf, '\0', size) != NULL;
}

dfdg_err
dfdg_store_delivery_insert(struct dfdg_store *s, struct dfdg_delivery *d)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (d == NULL || !is_filled(d->org_id, sizeof d->org_id) ||
        !is_filled(d->record_id, sizeof d->record_id) || !is_filled(d->reason, sizeof d->reason))
        return bad_arg(s, "delivery_insert needs an org, a record and a reason");
    if (!delivery_reason_is_valid(d->reason))
        return bad_arg(s, "delivery reason must be residence, membership, referral, all or "
                          "handover");
    return done(s, s->vt->delivery_insert(s, d));
}

dfdg_err
dfdg_store_feed(struct dfdg_store *s, const char *org_id, int64_t after, size_t limit,
                dfdg_delivery_cb cb, void *ctx)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (org_id == NULL || org_id[0] == '\0' || cb == NULL)
        return bad_arg(s, "feed needs an org and a callback");
    return done(s, s->vt->feed(s, org_id, after, limit, cb, ctx));
}

dfdg_err
dfdg_store_deliveries_of(struct dfdg_store *s, const char *record_id, dfdg_delivery_cb cb,
                         void *ctx)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (record_id == NULL || cb == NULL)
        return bad_arg(s, "deliveries_of needs a record id and a callback");
    return done(s, s->vt->deliveries_of(s, record_id, cb, ctx));
}

dfdg_err
dfdg_store_last_delivery_seq(struct dfdg_store *s, int64_t *out /* OUT */)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (out == NULL)
        return bad_arg(s, "last_delivery_seq needs an output");
    return done(s, s->vt->last_delivery_seq(s, out));
}

/* --- disclosures ---------------------------------------------------------------------------- */

dfdg_err
dfdg_store_disclosure_insert(struct dfdg_store *s, struct dfdg_disclosure *d)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    /*
     * GDPR art. 30: no disclosure without a purpose and a legal basis. sub may be empty (a
     * caller without a user); record_id and type are empty when no one record was disclosed.
     */
    if (d == NULL || !is_filled(d->org_id, sizeof d->org_id) ||
        memchr(d->sub, '\0', sizeof d->sub) == NULL || d->person_id < 0 ||
        memchr(d->record_id, '\0', sizeof d->record_id) == NULL ||
        memchr(d->type, '\0', sizeof d->type) == NULL ||
        !is_filled(d->purpose, sizeof d->purpose) ||
        !is_filled(d->legal_basis, sizeof d->legal_basis) ||
        !is_filled(d->channel, sizeof d->channel))
        return bad_arg(s, "disclosure_insert needs an org, a purpose, a legal basis, a channel "
                          "and terminated strings");
    return done(s, s->vt->disclosure_insert(s, d));
}

dfdg_err
dfdg_store_count_disclosures(struct dfdg_store *s, int64_t *out /* OUT */)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (out == NULL)
        return bad_arg(s, "count_disclosures needs an output");
    return done(s, s->vt->count_disclosures(s, out));
}

/* --- the audit log -------------------------------------------------------------------------- */

/* A tree over int64 leaf indexes has at most 64 levels. */
#define AUDIT_LEVELS 64

dfdg_err
dfdg_store_audit_append(struct dfdg_store *s, int64_t idx, int64_t at, const char *entry,
                        size_t len, const int64_t *persons, size_t npersons)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (idx < 0 || entry == NULL || (persons == NULL && npersons != 0))
        return bad_arg(s, "audit_append needs an index (>= 0), an entry and its persons");
    for (size_t i = 0; i < npersons; i++) {
        if (persons[i] < 0)
            return bad_arg(s, "audit_append: a person id is negative");
    }
    return done(s, s->vt->audit_append(s, idx, at, entry, len, persons, npersons));
}

dfdg_err
dfdg_store_audit_node_put(struct dfdg_store *s, unsigned level, int64_t index,
                          const uint8_t hash[32])
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (level >= AUDIT_LEVELS || index < 0 || hash == NULL)
        return bad_arg(s, "audit_node_put needs a level (< 64), an index (>= 0) and a hash");
    return done(s, s->vt->audit_node_put(s, level, index, hash));
}

dfdg_err
dfdg_store_audit_node_get(struct dfdg_store *s, unsigned level, int64_t index,
                          uint8_t hash[32] /* OUT */)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (level >= AUDIT_LEVELS || index < 0 || hash == NULL)
        return bad_arg(s, "audit_node_get needs a level (< 64), an index (>= 0) and an output");
    return done(s, s->vt->audit_node_get(s, level, index, hash));
}

dfdg_err
dfdg_store_audit_size(struct dfdg_store *s, int64_t *out /* OUT */)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (out == NULL)
        return bad_arg(s, "audit_size needs an output");
    return done(s, s->vt->audit_size(s, out));
}

dfdg_err
dfdg_store_audit_scan(struct dfdg_store *s, int64_t from, dfdg_audit_entry_cb cb, void *ctx)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (cb == NULL)
        return bad_arg(s, "audit_scan needs a callback");
    return done(s, s->vt->audit_scan(s, from, cb, ctx));
}

dfdg_err
dfdg_store_audit_of_person(struct dfdg_store *s, int64_t person_id, int64_t before, size_t limit,
                           dfdg_audit_entry_cb cb, void *ctx)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (cb == NULL)
        return bad_arg(s, "audit_of_person needs a callback");
    return done(s, s->vt->audit_of_person(s, person_id, before, limit, cb, ctx));
}

dfdg_err
dfdg_store_sth_put(struct dfdg_store *s, const struct dfdg_sth *h)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (h == NULL || h->size < 0)
        return bad_arg(s, "sth_put needs a tree head with a size >= 0");
    return done(s, s->vt->sth_put(s, h));
}

dfdg_err
dfdg_store_sth_latest(struct dfdg_store *s, struct dfdg_sth *out /* OUT */)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (out == NULL)
        return bad_arg(s, "sth_latest needs an output");
    return done(s, s->vt->sth_latest(s, out));
}

dfdg_err
dfdg_store_sth_scan(struct dfdg_store *s, dfdg_sth_cb cb, void *ctx)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (cb == NULL)
        return bad_arg(s, "sth_scan needs a callback");
    return done(s, s->vt->sth_scan(s, cb, ctx));
}

/* --- retention ------------------------------------------------------------------------------ */

dfdg_err
dfdg_store_chains_ended(struct dfdg_store *s, const char *type, int32_t before,
                        struct dfdg_chain_cursor *cur, dfdg_chain_end_cb cb, void *ctx)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (type == NULL || type[0] == '\0' || cur == NULL || cb == NULL)
        return bad_arg(s, "chains_ended needs a type, a cursor and a callback");
    if (before == DFDG_DATE_NONE)
        return bad_arg(s, "chains_ended needs a real day to count from");
    if (cur->phase < 0 || cur->phase > 2)
        return bad_arg(s, "chains_ended: the cursor's phase is not 0, 1 or 2");
    if (cur->phase == 2)
        return done(s, DFDG_OK);
    return done(s, s->vt->chains_ended(s, type, before, cur, cb, ctx));
}

dfdg_err
dfdg_store_chain_delete(struct dfdg_store *s, const char *last_id, bool dry_run, dfdg_record_cb cb,
                        void *ctx, struct dfdg_chain_deleted *out /* OUT */)
{
    dfdg_err rc = start(s);
    if (rc != DFDG_OK)
        return rc;
    if (last_id == NULL || last_id[0] == '\0' || out == NULL)
        return bad_arg(s, "chain_delete needs a record id and an output");
    memset(out, 0, sizeof *out);
    return done(s, s->vt->chain_delete(s, last_id, dry_run, cb, ctx, out));
}
