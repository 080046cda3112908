/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store_int.h: private to src/store. The backend vtable (one function pointer per operation of
 * store.h) and the base struct every backend embeds first, so a struct dfdg_store * can be cast
 * to the backend's own struct (SQLite's btree.h / btreeInt.h split). store.c validates the
 * arguments common to every backend (NULL handles and strings, savepoint names) and dispatches;
 * the backends translate their library's result codes into dfdg_err where they first appear.
 */
#ifndef DFDG_STORE_STORE_INT_H
#define DFDG_STORE_STORE_INT_H

#include "store/store.h"

/*
 * The schema version this binary writes. Every backend has exactly this many migrations, with
 * the same meaning per step, so a version number names one schema whatever the backend.
 */
#define DFDG_STORE_SCHEMA_VERSION 4

struct dfdg_store_vt {
    const char *name; /* "sqlite", "postgres" */
    void (*close)(struct dfdg_store *s);

    dfdg_err (*begin)(struct dfdg_store *s);
    dfdg_err (*commit)(struct dfdg_store *s);
    dfdg_err (*rollback)(struct dfdg_store *s);
    dfdg_err (*savepoint)(struct dfdg_store *s, const char *name);
    dfdg_err (*release)(struct dfdg_store *s, const char *name);
    dfdg_err (*rollback_to)(struct dfdg_store *s, const char *name);

    dfdg_err (*meta_put)(struct dfdg_store *s, const char *key, const void *val, size_t len);
    dfdg_err (*meta_get)(struct dfdg_store *s, const char *key, void *buf, size_t *len);
    dfdg_err (*org_put)(struct dfdg_store *s, const struct dfdg_org *org);
    dfdg_err (*org_get)(struct dfdg_store *s, const char *id, struct dfdg_org *out);
    dfdg_err (*issuer_put)(struct dfdg_store *s, const char *iss, const uint8_t pk[32]);
    dfdg_err (*issuer_get)(struct dfdg_store *s, const char *iss, uint8_t pk[32]);
    dfdg_err (*org_list)(struct dfdg_store *s, struct dfdg_org **out, size_t *n);
    dfdg_err (*issuer_list)(struct dfdg_store *s, struct dfdg_issuer **out, size_t *n);

    /* Failure detail goes to s->errmsg; store.c copies it into the caller's errinfo. */
    dfdg_err (*person_put)(struct dfdg_store *s, struct dfdg_person *p);
    dfdg_err (*person_resolve)(struct dfdg_store *s, const char *cpr, int64_t *person_id);
    /* NULL: the backend takes no hints. */
    dfdg_err (*prefetch)(struct dfdg_store *s, const struct dfdg_prefetch *pf);
    dfdg_err (*person_get)(struct dfdg_store *s, int64_t person_id, struct dfdg_person *out);
    dfdg_err (*residence_on)(struct dfdg_store *s, int64_t person_id, int32_t day,
                             char kommunekode[4]);
    dfdg_err (*is_protected_on)(struct dfdg_store *s, int64_t person_id, int32_t day, bool *out);
    dfdg_err (*is_member_on)(struct dfdg_store *s, int64_t person_id, const char *akasse_id,
                             int32_t day, bool *out);

    dfdg_err (*record_insert)(struct dfdg_store *s, struct dfdg_record *r);
    dfdg_err (*record_get)(struct dfdg_store *s, const char *id, struct dfdg_record *out);
    dfdg_err (*record_by_source)(struct dfdg_store *s, const char *reporter, const char *source_ref,
                                 struct dfdg_record *out);
    dfdg_err (*record_successor)(struct dfdg_store *s, const char *id, int64_t as_of,
                                 struct dfdg_record *out);
    dfdg_err (*last_recorded_at)(struct dfdg_store *s, int64_t *out);
    dfdg_err (*records_query)(struct dfdg_store *s, const struct dfdg_record_query *q,
                              dfdg_record_cb cb, void *ctx);
    dfdg_err (*count_records)(struct dfdg_store *s, int64_t *out);
    dfdg_err (*count_persons)(struct dfdg_store *s, int64_t *out);

    dfdg_err (*members_on)(struct dfdg_store *s, int64_t person_id, int32_t day, dfdg_org_cb cb,
                           void *ctx);

    dfdg_err (*delivery_insert)(struct dfdg_store *s, struct dfdg_delivery *d);
    /* limit: 0 = none. */
    dfdg_err (*feed)(struct dfdg_store *s, const char *org_id, int64_t after, size_t limit,
                     dfdg_delivery_cb cb, void *ctx);
    dfdg_err (*deliveries_of)(struct dfdg_store *s, const char *record_id, dfdg_delivery_cb cb,
                              void *ctx);
    dfdg_err (*last_delivery_seq)(struct dfdg_store *s, int64_t *out);

    dfdg_err (*disclosure_insert)(struct dfdg_store *s, struct dfdg_disclosure *d);
    dfdg_err (*count_disclosures)(struct dfdg_store *s, int64_t *out);

    /* persons: npersons ids, none of them negative (0 = none, skipped by the backend). */
    dfdg_err (*audit_append)(struct dfdg_store *s, int64_t idx, int64_t at, const char *entry,
                             size_t len, const int64_t *persons, size_t npersons);
    dfdg_err (*audit_node_put)(struct dfdg_store *s, unsigned level, int64_t index,
                               const uint8_t hash[32]);
    dfdg_err (*audit_node_get)(struct dfdg_store *s, unsigned level, int64_t index,
                               uint8_t hash[32]);
    dfdg_err (*audit_size)(struct dfdg_store *s, int64_t *out);
    dfdg_err (*audit_scan)(struct dfdg_store *s, int64_t from, dfdg_audit_entry_cb cb, void *ctx);
    /* limit: 0 = none. */
    dfdg_err (*audit_of_person)(struct dfdg_store *s, int64_t person_id, int64_t before,
                                size_t limit, dfdg_audit_entry_cb cb, void *ctx);
    dfdg_err (*sth_put)(struct dfdg_store *s, const struct dfdg_sth *h);
    dfdg_err (*sth_latest)(struct dfdg_store *s, struct dfdg_sth *out);
    dfdg_err (*sth_scan)(struct dfdg_store *s, dfdg_sth_cb cb, void *ctx);

    /* before is a real day; cur->phase is 0 or 1 (store.c returns at once for 2). */
    dfdg_err (*chains_ended)(struct dfdg_store *s, const char *type, int32_t before,
                             struct dfdg_chain_cursor *cur, dfdg_chain_end_cb cb, void *ctx);
    /* out is zeroed by store.c. */
    dfdg_err (*chain_delete)(struct dfdg_store *s, const char *last_id, bool dry_run,
                             dfdg_record_cb cb, void *ctx, struct dfdg_chain_deleted *out);
};

/* The part of every backend's handle that store.c sees; embedded first. */
struct dfdg_store {
    const struct dfdg_store_vt *vt; /* the backend's operations */
    char errmsg[256];               /* detail of the last failed operation, or "" */
};

/* Records msg (printf-style) as the handle's last error detail and returns rc. */
dfdg_err dfdg_store_set_error(struct dfdg_store *s, dfdg_err rc, const char *fmt, ...)
    DFDG_PRINTF(3, 4);

/* Backend constructors, called by dfdg_store_open with the URI's scheme stripped. */
dfdg_err dfdg_store_sqlite_open(const char *path, enum dfdg_store_mode mode,
                                struct dfdg_store **out /* OUT */, struct dfdg_errinfo *ei);
#ifdef DFDG_WITH_PG
/*
 * conninfo is a libpq keyword/value string or a postgresql:// URI, either maybe carrying
 * schema=NAME (pg.c says how a store lives in a schema).
 */
dfdg_err dfdg_store_pg_open(const char *conninfo, enum dfdg_store_mode mode,
                            struct dfdg_store **out /* OUT */, struct dfdg_errinfo *ei);
#endif

#endif
