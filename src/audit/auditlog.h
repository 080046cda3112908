/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auditlog.h: the writer's side of the audit log. Every write, every read of personal data
 * and every denied attempt becomes one entry: a canonical JSON object (who, what, purpose,
 * legal basis, which persons by internal id, which records by id and type; never a CPR number
 * or record contents) appended as the next leaf of a Merkle tree (RFC 9162, src/audit/merkle.h)
 * in the same transaction as the data it accounts for. Signed tree heads (Ed25519) commit to
 * the tree at least every second while entries arrive.
 *
 * One struct dfdg_audit belongs to the writer thread; it is not thread-safe.
 */
#ifndef DFDG_AUDIT_AUDITLOG_H
#define DFDG_AUDIT_AUDITLOG_H

#include "core/dfdg.h"
#include "audit/merkle.h"
#include "store/store.h"

#include <jansson.h>

struct dfdg_audit;

/* The in-memory state to return to when a savepoint or transaction is rolled back. */
struct dfdg_audit_mark {
    struct dfdg_merkle_frontier frontier;
};

/*
 * Opens the audit state on s: the tree size and its right edge from the stored nodes, and the
 * signing key from meta (made and stored when the store has none). Caller owns *out.
 */
dfdg_err dfdg_audit_open(struct dfdg_store *s, struct dfdg_audit **out /* OUT */,
                         struct dfdg_errinfo *ei);
void dfdg_audit_free(struct dfdg_audit *a);

/*
 * Appends one entry in the current transaction. ev is the entry without "i" and "at", which
 * are set here (ev is modified); "persons" (array of internal ids) names the persons it
 * concerns. Returns store errors; on error the caller rolls back and resets to its mark.
 */
dfdg_err dfdg_audit_append(struct dfdg_audit *a, struct dfdg_store *s, json_t *ev, int64_t tx_time);

/*
 * Brings the in-memory tree up to date with the store, in a transaction that holds the write
 * lock: another process (a second server, an admin command) may have appended entries since.
 */
dfdg_err dfdg_audit_sync(struct dfdg_audit *a, struct dfdg_store *s);
/* The time of the newest entry known (after a sync: written by any process). */
int64_t dfdg_audit_last_at(const struct dfdg_audit *a);

void dfdg_audit_mark(const struct dfdg_audit *a, struct dfdg_audit_mark *m /* OUT */);
void dfdg_audit_reset(struct dfdg_audit *a, const struct dfdg_audit_mark *m);

/* Entries in the tree, and whether entries were added since the last signed tree head. */
uint64_t dfdg_audit_size(const struct dfdg_audit *a);
bool dfdg_audit_is_unsigned(const struct dfdg_audit *a);
/* Signs and stores a tree head for the current size at time now (in a transaction). */
dfdg_err dfdg_audit_sign(struct dfdg_audit *a, struct dfdg_store *s, int64_t now);
/* Marks the last signing as undone (its transaction did not commit). */
void dfdg_audit_sign_failed(struct dfdg_audit *a);

/* The bytes a tree head's signature covers: "dfdg-sth-v1" ‖ size ‖ at (big-endian) ‖ root. */
#define DFDG_STH_MESSAGE_LEN (11 + 8 + 8 + 32)
void dfdg_sth_message(const struct dfdg_sth *h, uint8_t out[DFDG_STH_MESSAGE_LEN]);

/* Reads the audit signing public key from the store (made at init). */
dfdg_err dfdg_audit_public_key(struct dfdg_store *s, uint8_t pk[32] /* OUT */);

/*
 * Builds an entry (without "i" and "at"): org, sub, action, purpose, legal basis, outcome and
 * rule ("" when allowed). Caller adds persons/records with the helpers and owns the result.
 */
json_t *dfdg_audit_event_new(const char *org, const char *sub, const char *action,
                             const char *purpose, const char *legal_basis, const char *rule);
void dfdg_audit_event_add_person(json_t *ev, int64_t person_id);
/* Sets "persons" to the distinct non-zero ids of ids[n] in ascending order (sorts ids). */
void dfdg_audit_event_set_persons(json_t *ev, int64_t *ids, size_t n);
/*
 * Adds a record touched: its id ("" when none was made), type, the person it concerns (0 for a
 * company), the HTTP status of the outcome (0 for reads) and the rule that denied it (or "").
 * The person is not added to "persons": callers collect them and use set_persons, which keeps
 * large batches linear.
 */
void dfdg_audit_event_add_record(json_t *ev, const char *id, const char *type, int64_t person_id,
                                 int status, const char *rule);
/* Adds a legal basis text unless the entry has it already ("; "-joined). */
void dfdg_audit_event_add_legal_basis(json_t *ev, const char *basis);

#endif
