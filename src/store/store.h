/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store.h: the storage interface. Every backend (SQLite now, PostgreSQL later) implements the
 * vtable in store_int.h; the rest of dfdg calls only the functions below and never sees
 * SQLITE_* or PGRES_* codes.
 *
 * Model (DESIGN section 2):
 *   - persons with every CPR number they have had, addresses (residence by kommune), address
 *     protection periods and children's birth dates: master data from CPR import;
 *   - records, append-only and bitemporal: valid time [valid_from, valid_to] (inclusive days)
 *     and transaction time recorded_at (microseconds, strictly increasing per store). A
 *     correction is a new record whose target_id names the record it supersedes; a
 *     cancellation is a new record (kind CANCELLATION) whose target_id names the record it
 *     withdraws. Nothing is updated in place; only retention deletes, whole chains past their
 *     type's retention period (dfdg_store_chain_delete).
 *   - orgs, token issuers, and a small meta table.
 *
 * Threads: a store handle is one connection and is used by one thread at a time. The writer
 * thread has its own handle; readers take handles from a pool.
 */
#ifndef DFDG_STORE_STORE_H
#define DFDG_STORE_STORE_H

#include "core/dfdg.h"
#include "core/cpr.h"
#include "core/uuid.h"
#include "core/when.h"

struct dfdg_store;

/* --- open, close, transactions ------------------------------------------------------------ */

enum dfdg_store_mode {
    DFDG_STORE_OPEN,   /* open an existing store; migrate its schema to the current version */
    DFDG_STORE_CREATE, /* create a new store; DFDG_CONFLICT if it already exists */
};

/*
 * Opens a store. uri is "sqlite:PATH" or a plain PATH (SQLite). SQLite runs in WAL mode with
 * synchronous=FULL, foreign keys on and a busy timeout. Caller owns *out (dfdg_store_close).
 * Errors: DFDG_NOT_FOUND (no such store with OPEN), DFDG_CONFLICT (exists with CREATE),
 * DFDG_IO, DFDG_CORRUPT (schema newer than this binary).
 */
dfdg_err dfdg_store_open(const char *uri, enum dfdg_store_mode mode,
                         struct dfdg_store **out /* OUT */, struct dfdg_errinfo *ei);
void dfdg_store_close(struct dfdg_store *s);
/*
 * Detail of the last failed operation on s (for logs; never holds a CPR number), or "".
 * Borrowed until the next call on s. Accepts NULL.
 */
const char *dfdg_store_last_error(const struct dfdg_store *s);
/* The schema version this binary writes, and the one found in the store. */
int dfdg_store_schema_version(void);

/* BEGIN IMMEDIATE (SQLite) / BEGIN; COMMIT; ROLLBACK. One level; use savepoints inside. */
dfdg_err dfdg_store_begin(struct dfdg_store *s);
dfdg_err dfdg_store_commit(struct dfdg_store *s);
dfdg_err dfdg_store_rollback(struct dfdg_store *s);
/*
 * A named savepoint inside a transaction (name: [a-z0-9_]+, DFDG_INVAL otherwise). As in SQL,
 * rollback_to undoes the work done since the savepoint and leaves it open: release it after.
 */
dfdg_err dfdg_store_savepoint(struct dfdg_store *s, const char *name);
dfdg_err dfdg_store_release(struct dfdg_store *s, const char *name);
dfdg_err dfdg_store_rollback_to(struct dfdg_store *s, const char *name);

/* --- meta, orgs, issuers ------------------------------------------------------------------ */

/* Key/value settings (e.g. "dev_issuer_secret"). get: DFDG_NOT_FOUND if absent; *len in/out. */
dfdg_err dfdg_store_meta_put(struct dfdg_store *s, const char *key, const void *val, size_t len);
dfdg_err dfdg_store_meta_get(struct dfdg_store *s, const char *key, void *buf, size_t *len);

struct dfdg_org {
    char id[64];    /* "kommune:101", "akasse:3f", "star", "aktoer:12345678" */
    char kind[16];  /* "kommune", "akasse", ... (catalog/catalog.h names) */
    char name[128]; /* display name, UTF-8 */
};
/* Inserts or replaces an org. */
dfdg_err dfdg_store_org_put(struct dfdg_store *s, const struct dfdg_org *org);
/* DFDG_NOT_FOUND when there is no such org. */
dfdg_err dfdg_store_org_get(struct dfdg_store *s, const char *id, struct dfdg_org *out /* OUT */);

/* Token issuers: name and Ed25519 public key. */
dfdg_err dfdg_store_issuer_put(struct dfdg_store *s, const char *iss, const uint8_t pk[32]);
dfdg_err dfdg_store_issuer_get(struct dfdg_store *s, const char *iss, uint8_t pk[32] /* OUT */);

struct dfdg_issuer {
    char iss[64];           /* issuer name (the token's iss claim) */
    uint8_t public_key[32]; /* Ed25519 public key */
};
/* Every org / every issuer, in any order. Caller frees *out with free(). */
dfdg_err dfdg_store_org_list(struct dfdg_store *s, struct dfdg_org **out /* OUT */,
                             size_t *n /* OUT */);
dfdg_err dfdg_store_issuer_list(struct dfdg_store *s, struct dfdg_issuer **out /* OUT */,
                                size_t *n /* OUT */);

/* --- persons ------------------------------------------------------------------------------ */

struct dfdg_address {
    char kommunekode[4]; /* 3 digits */
    char road[128];
    char house[16];
    char postcode[8];
    char city[64];
    int32_t from; /* first day at the address */
    int32_t to;   /* day moved away (exclusive), or DFDG_DATE_NONE */
};

struct dfdg_period {
    int32_t from; /* first day */
    int32_t to;   /* exclusive end, or DFDG_DATE_NONE */
};

struct dfdg_person {
    int64_t person_id;              /* internal id; 0 before insert */
    char cpr[DFDG_CPR_LEN];         /* current CPR number */
    char (*previous)[DFDG_CPR_LEN]; /* nprevious earlier CPR numbers */
    size_t nprevious;
    int32_t birthdate;
    char sex[2];     /* "M" or "F" */
    char status[16]; /* "active", "dead", "emigrated", ... */
    char first[64];
    char middle[64]; /* "" when none */
    char last[64];
    struct dfdg_address *addresses; /* naddresses, oldest first */
    size_t naddresses;
    struct dfdg_period *protection; /* nprotection address-protection periods */
    size_t nprotection;
    int32_t *children; /* nchildren birth dates */
    size_t nchildren;
};
/* Frees the arrays inside p (not p itself). Accepts NULL. */
void dfdg_person_cleanup(struct dfdg_person *p);

/*
 * Inserts a person, or replaces the master data of the person that any of p's CPR numbers
 * (current or previous) already resolves to; every number then resolves to that person.
 * p->person_id is set. DFDG_CONFLICT when p's numbers resolve to two different persons.
 */
dfdg_err dfdg_store_person_put(struct dfdg_store *s, struct dfdg_person *p,
                               struct dfdg_errinfo *ei);
/* Resolves any CPR number the person has had. DFDG_NOT_FOUND when unknown. */
dfdg_err dfdg_store_person_resolve(struct dfdg_store *s, const char *cpr,
                                   int64_t *person_id /* OUT */);
/*
 * A hint from a writer about to apply a request, inside its transaction: the persons (CPR
 * and day) and source_refs its next calls will ask about, and a record type it will query
 * per person and day (records_query with that type, valid_on the day, as_of now). A backend
 * may load the answers in a few set-based statements and give them without a round trip
 * each; every answer stays exactly what the uncached call would give. A no-op where reads
 * are cheap (SQLite). Entries that are NULL, empty or malformed are skipped.
 */
struct dfdg_prefetch {
    const char *reporter;           /* whose source_refs */
    const char *const *source_refs; /* nsources source_refs */
    size_t nsources;
    const char *const *cprs; /* npersons CPR numbers ... */
    const int32_t *days;     /* ... each with its day */
    size_t npersons;
    const char *query_type; /* NULL: none */
};
dfdg_err dfdg_store_prefetch(struct dfdg_store *s, const struct dfdg_prefetch *pf);
/* Loads master data. Caller cleans up *out with dfdg_person_cleanup. DFDG_NOT_FOUND. */
dfdg_err dfdg_store_person_get(struct dfdg_store *s, int64_t person_id,
                               struct dfdg_person *out /* OUT */);
/* Kommune of residence on day; DFDG_NOT_FOUND when the person had no address then. */
dfdg_err dfdg_store_residence_on(struct dfdg_store *s, int64_t person_id, int32_t day,
                                 char kommunekode[4] /* OUT */);
/* Whether an address-protection period covers day. */
dfdg_err dfdg_store_is_protected_on(struct dfdg_store *s, int64_t person_id, int32_t day,
                                    bool *out /* OUT */);
/*
 * Whether the person is a member of a-kasse org akasse_id on day: a current (not superseded,
 * not cancelled) akasse-membership record reported by that org whose valid period covers day.
 */
dfdg_err dfdg_store_is_member_on(struct dfdg_store *s, int64_t person_id, const char *akasse_id,
                                 int32_t day, bool *out /* OUT */);

/* --- records ------------------------------------------------------------------------------ */

enum dfdg_record_kind {
    DFDG_RECORD_ORIGINAL = 0,     /* a first report */
    DFDG_RECORD_CORRECTION = 1,   /* supersedes target_id */
    DFDG_RECORD_CANCELLATION = 2, /* withdraws target_id */
};

struct dfdg_record {
    int64_t seq;            /* store-internal order of insertion (set by insert) */
    char id[DFDG_UUID_LEN]; /* UUIDv7 */
    char type[48];          /* catalog code */
    int64_t person_id;      /* subject person, or 0 for a company subject */
    char cvr[DFDG_CVR_LEN]; /* subject company, or "" */
    char reporter[64];      /* org id */
    char owner[64];         /* reporter of the chain's original ("" on insert = reporter) */
    char source_ref[129];   /* the reporter's idempotency key */
    int32_t valid_from;     /* day number */
    int32_t valid_to;       /* day number or DFDG_DATE_NONE */
    int64_t recorded_at;    /* transaction time, microseconds */
    enum dfdg_record_kind kind;
    char target_id[DFDG_UUID_LEN]; /* corrected/cancelled record, or "" */
    uint8_t content_hash[32];      /* SHA-256 of the canonical request content */
    char *data;                    /* canonical JSON of data ("{}" for cancellations); owned */
    char *reason;                  /* cancellation reason or NULL; owned */
};
/* Frees data and reason. Accepts NULL. */
void dfdg_record_cleanup(struct dfdg_record *r);

/*
 * Inserts a record as given (id, recorded_at and content_hash are set by the caller). Sets
 * r->seq. DFDG_CONFLICT when (reporter, source_ref) or id exists. Must be in a transaction.
 */
dfdg_err dfdg_store_record_insert(struct dfdg_store *s, struct dfdg_record *r);
/* Looks a record up by id / by (reporter, source_ref). DFDG_NOT_FOUND. Caller cleans up. */
dfdg_err dfdg_store_record_get(struct dfdg_store *s, const char *id,
                               struct dfdg_record *out /* OUT */);
dfdg_err dfdg_store_record_by_source(struct dfdg_store *s, const char *reporter,
                                     const char *source_ref, struct dfdg_record *out /* OUT */);
/*
 * The record that superseded or withdrew id, as known at as_of (microseconds; INT64_MAX for
 * now). DFDG_NOT_FOUND when id is still current at as_of.
 */
dfdg_err dfdg_store_record_successor(struct dfdg_store *s, const char *id, int64_t as_of,
                                     struct dfdg_record *out /* OUT */);
/* The largest recorded_at in the store (0 when empty): the writer keeps time increasing. */
dfdg_err dfdg_store_last_recorded_at(struct dfdg_store *s, int64_t *out /* OUT */);

struct dfdg_record_query {
    int64_t person_id; /* required */
    const char *type;  /* NULL = all types */
    int32_t valid_on;  /* DFDG_DATE_NONE = any; else valid_from <= valid_on <= valid_to */
    int64_t as_of;     /* transaction time; INT64_MAX = now */
    size_t limit;      /* 0 = no limit */
};
/*
 * Calls cb for each record of the person that was current as known at q->as_of: recorded at
 * or before as_of, not a cancellation, and not superseded or withdrawn by a record recorded at
 * or before as_of. Newest valid_from first, then newest recorded_at. The record passed to cb
 * is borrowed for the call. cb returns false to stop.
 */
typedef bool (*dfdg_record_cb)(const struct dfdg_record *r, void *ctx);
dfdg_err dfdg_store_records_query(struct dfdg_store *s, const struct dfdg_record_query *q,
                                  dfdg_record_cb cb, void *ctx);

/* Counts (for tests, seed progress and /metrics). */
dfdg_err dfdg_store_count_records(struct dfdg_store *s, int64_t *out /* OUT */);
dfdg_err dfdg_store_count_persons(struct dfdg_store *s, int64_t *out /* OUT */);

/* --- relationships derived from records ---------------------------------------------------- */

typedef bool (*dfdg_org_cb)(const char *org_id, void *ctx);
/*
 * Calls cb with the org id of every a-kasse the person is a member of on day: the owners of
 * current (not superseded, not cancelled) akasse-membership chains whose valid period covers
 * day, each once, in org id order. cb returns false to stop.
 */
dfdg_err dfdg_store_members_on(struct dfdg_store *s, int64_t person_id, int32_t day, dfdg_org_cb cb,
                               void *ctx);

/* --- deliveries: records routed to recipients' feeds ---------------------------------------- */

struct dfdg_delivery {
    int64_t seq;                   /* feed position; increases in commit order (set by insert) */
    char org_id[64];               /* the recipient */
    char record_id[DFDG_UUID_LEN]; /* the record delivered */
    char reason[16];               /* "residence", "membership", "referral", "all", "handover" */
    int64_t created_at;            /* transaction time of the delivery */
};
/*
 * Inserts a delivery and sets d->seq. DFDG_CONFLICT when the record already has a delivery to
 * that org (a record reaches an org at most once). Must be in a transaction.
 */
dfdg_err dfdg_store_delivery_insert(struct dfdg_store *s, struct dfdg_delivery *d);
/*
 * A delivery with its record and the subject's current CPR number ("" for a company record);
 * all borrowed for the call. cb returns false to stop.
 */
typedef bool (*dfdg_delivery_cb)(const struct dfdg_delivery *d, const struct dfdg_record *r,
                                 const char *cpr, void *ctx);
/* org's deliveries with seq > after, in seq order, at most limit (0 = no limit). */
dfdg_err dfdg_store_feed(struct dfdg_store *s, const char *org_id, int64_t after, size_t limit,
                         dfdg_delivery_cb cb, void *ctx);
/* Every delivery of one record, in seq order (for routed_to). */
dfdg_err dfdg_store_deliveries_of(struct dfdg_store *s, const char *record_id, dfdg_delivery_cb cb,
                                  void *ctx);
/* The largest delivery seq in the store (0 when none). */
dfdg_err dfdg_store_last_delivery_seq(struct dfdg_store *s, int64_t *out /* OUT */);

/* --- disclosures: personal data handed to someone (audit builds on these) ------------------ */

struct dfdg_disclosure {
    int64_t seq;                   /* set by insert */
    int64_t at;                    /* transaction time */
    char org_id[64];               /* who received the data */
    char sub[128];                 /* the user at that org */
    int64_t person_id;             /* whose data (0 for company data) */
    char record_id[DFDG_UUID_LEN]; /* the record disclosed */
    char type[48];                 /* its type */
    char purpose[24];              /* the DFDG-Purpose of the call */
    char legal_basis[512];         /* the type's legal basis, "; "-joined */
    char channel[16];              /* "feed" (later "read", "extract") */
};
/* Inserts a disclosure and sets d->seq. Must be in a transaction. */
dfdg_err dfdg_store_disclosure_insert(struct dfdg_store *s, struct dfdg_disclosure *d);
/* Number of disclosures (tests, /metrics). */
dfdg_err dfdg_store_count_disclosures(struct dfdg_store *s, int64_t *out /* OUT */);

/* --- the audit log: entries of a Merkle tree (RFC 9162; hashing and proofs in src/audit) --- */

/*
 * Appends audit entry idx (the next leaf index: 0, 1, 2, ... with no gap) recorded at `at`,
 * its canonical bytes (the Merkle leaf's content; no CPR numbers or record contents in it),
 * and the internal ids of the persons it concerns (for the citizen's access log). Must be in
 * a transaction. DFDG_CONFLICT when idx exists.
 */
dfdg_err dfdg_store_audit_append(struct dfdg_store *s, int64_t idx, int64_t at, const char *entry,
                                 size_t len, const int64_t *persons, size_t npersons);
/* Stores / reads the hash of the perfect subtree at level, index (level 0: leaf hashes). */
dfdg_err dfdg_store_audit_node_put(struct dfdg_store *s, unsigned level, int64_t index,
                                   const uint8_t hash[32]);
dfdg_err dfdg_store_audit_node_get(struct dfdg_store *s, unsigned level, int64_t index,
                                   uint8_t hash[32] /* OUT */);
/* Number of entries (the largest idx + 1; 0 when empty). */
dfdg_err dfdg_store_audit_size(struct dfdg_store *s, int64_t *out /* OUT */);
/* An entry as stored (borrowed for the call); cb returns false to stop. */
typedef bool (*dfdg_audit_entry_cb)(int64_t idx, int64_t at, const char *entry, size_t len,
                                    void *ctx);
/* Every stored entry in ascending idx order from idx >= from, as stored (gaps included). */
dfdg_err dfdg_store_audit_scan(struct dfdg_store *s, int64_t from, dfdg_audit_entry_cb cb,
                               void *ctx);
/* The entries that concern person_id with idx < before (INT64_MAX: all), newest first. */
dfdg_err dfdg_store_audit_of_person(struct dfdg_store *s, int64_t person_id, int64_t before,
                                    size_t limit, dfdg_audit_entry_cb cb, void *ctx);

/* A signed tree head. */
struct dfdg_sth {
    int64_t size;     /* entries covered */
    int64_t at;       /* when it was signed (microseconds) */
    uint8_t root[32]; /* the Merkle tree hash of the first size entries */
    uint8_t sig[64];  /* Ed25519 over the tree head's canonical bytes (src/audit) */
};
/* Stores a tree head (in a transaction). DFDG_CONFLICT when one of that size exists. */
dfdg_err dfdg_store_sth_put(struct dfdg_store *s, const struct dfdg_sth *h);
/* The newest tree head; DFDG_NOT_FOUND when none. */
dfdg_err dfdg_store_sth_latest(struct dfdg_store *s, struct dfdg_sth *out /* OUT */);
typedef bool (*dfdg_sth_cb)(const struct dfdg_sth *h, void *ctx);
/* Every tree head in ascending size order. */
dfdg_err dfdg_store_sth_scan(struct dfdg_store *s, dfdg_sth_cb cb, void *ctx);

/* --- retention: deleting chains past their type's retention period --------------------------- */

/*
 * A chain is an original with its corrections and, maybe, the cancellation that withdrew it
 * (history is a chain, never a tree). It has ended when its last version (the current one, or
 * the cancellation) has an end: the current version's valid_to, or the day (UTC) the
 * cancellation was recorded. A chain whose current version is open (valid_to absent) never
 * ends.
 */
struct dfdg_chain_end {
    char last_id[DFDG_UUID_LEN]; /* the chain's last version */
    int64_t person_id;           /* subject person, or 0 for a company subject */
    int32_t end;                 /* the day the chain ended */
    bool cancelled;              /* the last version is a cancellation */
};

/* Where a scan of ended chains stands; zero it to start. */
struct dfdg_chain_cursor {
    int phase;   /* 0: chains ended by valid_to, 1: by cancellation, 2: done */
    int64_t key; /* valid_from (phase 0) or recorded_at (phase 1) of the last chain passed */
    int64_t seq; /* seq of the last chain passed */
    bool begun;  /* a chain of this phase was passed (key and seq are set) */
};

typedef bool (*dfdg_chain_end_cb)(const struct dfdg_chain_end *c, void *ctx);
/*
 * Calls cb for each chain of type `type` that ended before day `before`, from where *cur
 * stands: first the chains whose current version's valid_to < before (by valid_from), then
 * those withdrawn by a cancellation recorded before that day (by recorded_at). *cur moves past
 * every chain passed to cb, so a scan can stop (cb returns false), let the caller delete what
 * it collected, and go on in a later transaction; cur->phase is 2 when the scan is done. The
 * chain passed to cb is borrowed for the call; cb must not call into the store.
 */
dfdg_err dfdg_store_chains_ended(struct dfdg_store *s, const char *type, int32_t before,
                                 struct dfdg_chain_cursor *cur, dfdg_chain_end_cb cb, void *ctx);

/* What dfdg_store_chain_delete deleted (or, with dry_run or held, would delete). */
struct dfdg_chain_deleted {
    size_t records;    /* versions of the chain (deleted unless dry_run or held) */
    size_t deliveries; /* deliveries of those versions (likewise) */
    bool held;         /* nothing deleted: the chain holds the store's newest record or
                          delivery; deleting it would let the next insert reuse its seq (a
                          feed cursor would skip a delivery), so it waits for a later run */
};
/*
 * Deletes the chain whose last version is last_id: every version back to the original and
 * their deliveries, all or nothing (under a savepoint). Disclosures of those records stay, as
 * the record of what was handed out. cb (may be NULL) is called with each version before it
 * goes (none when the chain is held), newest first, borrowed for the call; its return value is
 * ignored and it must not call into the store. With dry_run nothing changes and cb is still
 * called; *out says what a real run would do. Deleting needs a transaction (DFDG_INTERNAL
 * otherwise); a dry run does not. DFDG_NOT_FOUND: no record last_id. DFDG_CONFLICT: last_id
 * has a successor (it is not the chain's last version). DFDG_CORRUPT: a version's target is
 * missing.
 */
dfdg_err dfdg_store_chain_delete(struct dfdg_store *s, const char *last_id, bool dry_run,
                                 dfdg_record_cb cb, void *ctx,
                                 struct dfdg_chain_deleted *out /* OUT */);

#endif
