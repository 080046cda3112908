/* SPDX-License-Identifier: Apache-2.0 */
/*
 * retention.h: deleting records past their type's retention period (GDPR art. 5(1)(e),
 * storage limitation; the catalog's retention_years, DESIGN section 3), for `dfdg retention
 * run`.
 *
 * What goes is whole chains (an original, its corrections and the cancellation that withdrew
 * it), with their deliveries, once the chain has ended long enough ago: a chain ends on its
 * current version's valid_to, or on the day (UTC) it was cancelled; an open chain never ends.
 * A chain that ended on day E goes when E + retention_years (calendar years; 29 February
 * counts as 28 February in a year without one) is before today: on that day itself it is
 * kept. Disclosures stay: they are the record of what was handed out, and keep the id of the
 * deleted record. The audit log stays verifiable: it never held record contents, and each
 * transaction that deletes appends one entry naming every record it deleted (id, type,
 * person) and signs a tree head, so the deletions themselves are accounted for.
 *
 * Types the store holds but the catalog does not name are not touched.
 */
#ifndef DFDG_EXCHANGE_RETENTION_H
#define DFDG_EXCHANGE_RETENTION_H

#include "core/dfdg.h"
#include "catalog/catalog.h"
#include "store/store.h"

/*
 * Chains per transaction by default. Each transaction holds the store's write lock (the
 * server's writer waits meanwhile, up to its busy timeout) and writes one audit entry listing
 * every record it deleted, so a batch is kept to a fraction of a second and an entry to a few
 * hundred kilobytes.
 */
#define DFDG_RETENTION_BATCH 1000

/* What a run did (or, dry, would do) to one type. */
struct dfdg_retention_type {
    const char *code;    /* the type (borrowed from the catalog) */
    int retention_years; /* from the catalog */
    int32_t cutoff;      /* chains that ended before this day go */
    uint64_t chains;     /* chains deleted */
    uint64_t records;    /* records deleted (every version of those chains) */
    uint64_t deliveries; /* deliveries deleted */
    uint64_t held;       /* chains past retention kept for now: they hold the store's newest
                            record or delivery (store.h, dfdg_store_chain_delete) */
};

struct dfdg_retention_stats {
    struct dfdg_retention_type *types; /* ntypes, in catalog order (owned; see cleanup) */
    size_t ntypes;
    uint64_t chains;       /* totals over the types */
    uint64_t records;      /* */
    uint64_t deliveries;   /* */
    uint64_t held;         /* */
    uint64_t transactions; /* committed transactions that deleted: one audit entry each */
    double seconds;        /* wall time of the run */
};

struct dfdg_retention_opts {
    int32_t today; /* the day the run counts from (a real day) */
    bool dry_run;  /* count only: nothing is written, no write lock is taken */
    size_t batch;  /* chains per transaction; 0 = DFDG_RETENTION_BATCH */
    /* Called after each batch with the totals so far (may be NULL). */
    void (*progress)(const struct dfdg_retention_stats *st, void *ctx);
    void *ctx; /* for progress */
};

/*
 * The day `years` calendar years after day: same month and day, with 29 February becoming
 * 28 February in a year without one. Years past 9999 give DFDG_DATE_NONE (never).
 */
int32_t dfdg_retention_add_years(int32_t day, int years);
/*
 * The first day whose chains are kept on `today`: a chain that ended on E goes exactly when
 * E < cutoff, i.e. when dfdg_retention_add_years(E, years) < today.
 */
int32_t dfdg_retention_cutoff(int32_t today, int years);

/*
 * Runs retention over every type of cat on store s (opened by the caller, not inside a
 * transaction). Each batch of chains is deleted in one transaction together with its audit
 * entry and a signed tree head; a failure rolls back the batch in hand and stops, and what
 * earlier batches committed stays (st says how much). *st is filled in either case; the caller
 * cleans it up with dfdg_retention_stats_cleanup. Errors: DFDG_INVAL (bad options), store and
 * audit errors with detail in ei.
 */
dfdg_err dfdg_retention_run(struct dfdg_store *s, const struct dfdg_catalog *cat,
                            const struct dfdg_retention_opts *o,
                            struct dfdg_retention_stats *st /* OUT */, struct dfdg_errinfo *ei);
/* Frees st->types. Accepts NULL. */
void dfdg_retention_stats_cleanup(struct dfdg_retention_stats *st);

#endif
