/* SPDX-License-Identifier: Apache-2.0 */
/*
 * route.h: routing. Every record, correction and cancellation becomes a delivery to each org
 * that the catalog names as a recipient of its type and whose relationship to the person holds
 * on the record's valid_from; deliveries are written in the same transaction as the record.
 * Moves and a-kasse changes hand the person's open records over to the new kommune or a-kasse.
 */
#ifndef DFDG_EXCHANGE_ROUTE_H
#define DFDG_EXCHANGE_ROUTE_H

#include "core/dfdg.h"
#include "catalog/catalog.h"
#include "store/store.h"

#define DFDG_ROUTE_MAX 16 /* most recipients of one record */
/* The type whose records route to an other actor (BEK kap. 22: the referral). */
#define DFDG_REFERRAL_TYPE "other-actor-referral"

/* The orgs a record was routed to, with the seq of each delivery. */
struct dfdg_routed {
    size_t n;
    struct {
        char org[64];
        int64_t seq;
    } to[DFDG_ROUTE_MAX];
};

/*
 * Routes rec (already inserted, in the current transaction) of type t: one delivery per
 * recipient org whose relationship holds on rec->valid_from, never to the record's owner or
 * reporter. Appends to out (which may be NULL). Store errors are returned.
 */
dfdg_err dfdg_route_record(struct dfdg_store *s, const struct dfdg_type *t,
                           const struct dfdg_record *rec, int64_t tx_time, struct dfdg_routed *out);

/*
 * Delivers rec, a correction or cancellation, to every org that received the record it
 * supersedes or withdraws (with that delivery's reason), so the parties that have a record
 * also learn that it changed, even when the change ends their relationship (a cancelled
 * referral still reaches the other actor). Appends to out.
 */
dfdg_err dfdg_route_follow(struct dfdg_store *s, const struct dfdg_record *rec, int64_t tx_time,
                           struct dfdg_routed *out);

/*
 * Hands the person's open records (current now, valid on day or later) over to org, a new
 * kommune (kind KOMMUNE: types with a residence recipient) or a new a-kasse (kind AKASSE:
 * types with a membership recipient): a "handover" delivery of each that org has not had and
 * does not own. When any were made, out (may be NULL) gets org once, with the last seq.
 */
dfdg_err dfdg_route_handover(struct dfdg_store *s, const struct dfdg_catalog *cat,
                             int64_t person_id, const char *org, enum dfdg_org_kind kind,
                             int32_t day, int64_t tx_time, struct dfdg_routed *out);

#endif
