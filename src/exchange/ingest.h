/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ingest.h: the ingest pipeline. A request thread turns a JSON body into prepared items
 * (validated against the catalog, canonical data, content hash, the static report rule);
 * the writer thread applies them inside the group transaction (idempotency, person lookup,
 * corrections and cancellations, the residence and membership rules, the insert).
 *
 * Outcomes per item, as HTTP statuses: 201 created; 200 replay (same source_ref, same
 * content: the earlier id); 403 denied (rule named); 404 no such record to correct or cancel;
 * 409 same source_ref with other content, or the target was already corrected or cancelled;
 * 422 semantic rule broken (unknown person, a correction that changes type or subject).
 */
#ifndef DFDG_EXCHANGE_INGEST_H
#define DFDG_EXCHANGE_INGEST_H

#include "core/dfdg.h"
#include "authz/access.h"
#include "catalog/catalog.h"
#include "exchange/route.h"
#include "exchange/writer.h"
#include "store/store.h"

#define DFDG_REASON_MAX 500 /* longest cancellation reason, in bytes */

struct dfdg_ingest_item {
    /* Prepared by the request thread. */
    enum dfdg_record_kind kind;    /* original, correction or cancellation */
    char target_id[DFDG_UUID_LEN]; /* the corrected or cancelled record, or "" */
    const struct dfdg_type *type;  /* NULL for a cancellation (inherited from the target) */
    char cpr[DFDG_CPR_LEN];        /* subject person, normalised, or "" */
    char cvr[DFDG_CVR_LEN];        /* subject company, or "" */
    char source_ref[129];          /* the reporter's idempotency key */
    int32_t valid_from;            /* day number */
    int32_t valid_to;              /* day number or DFDG_DATE_NONE */
    char *data;                    /* canonical JSON of data (owned) */
    char *reason;                  /* cancellation reason (owned) or NULL */
    uint8_t content_hash[32];      /* SHA-256 over the canonical content */
    /* Set by the writer thread. */
    int status;                /* HTTP status of the outcome (0 = not applied) */
    char id[DFDG_UUID_LEN];    /* the record id (new or replayed) */
    int64_t recorded_at;       /* its transaction time */
    const char *rule;          /* for 403: the rule that denied it */
    char detail[256];          /* for errors: an English sentence */
    struct dfdg_routed routed; /* the orgs it was delivered to (set by the writer) */
    int64_t person_id;         /* the subject's internal id, once resolved (set by the writer) */
    struct dfdg_routed handed; /* hand-over deliveries it caused (a new a-kasse membership) */
    const struct dfdg_type *target_type; /* a cancellation's type, from its target (writer) */
};
void dfdg_ingest_item_cleanup(struct dfdg_ingest_item *it);

/* A write request carrying items; the api embeds it in its connection state. */
struct dfdg_ingest_req {
    struct dfdg_write_req wr;       /* wr.apply = dfdg_ingest_apply; done/ctx set by caller */
    struct dfdg_actor actor;        /* the caller */
    const struct dfdg_catalog *cat; /* for routing (types of cancelled records) */
    struct dfdg_ingest_item *items; /* nitems items (caller owns) */
    size_t nitems;
};

/*
 * Prepares an original record (target_id NULL) or a correction of target_id from a parsed
 * body. DFDG_INVAL with ve filled on validation errors; DFDG_DENIED with why when the caller's
 * kind may not report the type; DFDG_NOMEM. On success the caller cleans up *out.
 */
dfdg_err dfdg_ingest_prepare_record(const struct dfdg_catalog *cat, const struct dfdg_actor *a,
                                    json_t *body, const char *target_id,
                                    struct dfdg_ingest_item *out /* OUT */, struct dfdg_verrors *ve,
                                    struct dfdg_denial *why);
/* Prepares a cancellation of target_id from {source_ref, reason}. Errors as above. */
dfdg_err dfdg_ingest_prepare_cancellation(const struct dfdg_actor *a, json_t *body,
                                          const char *target_id,
                                          struct dfdg_ingest_item *out /* OUT */,
                                          struct dfdg_verrors *ve);

/*
 * The reporter id records carry for actor a: its org id, or for a citizen
 * "citizen:<person_id>", so each citizen has their own idempotency keys and owns their own
 * records (the internal person id, never the CPR number).
 */
void dfdg_ingest_reporter_id(const struct dfdg_actor *a, char *buf, size_t size);

/* Sets it->content_hash from the item's content (what replays are compared on). */
void dfdg_ingest_hash(struct dfdg_ingest_item *it);

/* The writer's apply function for a struct dfdg_ingest_req (its wr member). */
dfdg_err dfdg_ingest_apply(struct dfdg_tx *tx, struct dfdg_write_req *wr);

#endif
