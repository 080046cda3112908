/* SPDX-License-Identifier: Apache-2.0 */
/*
 * seed.h: a deterministic synthetic population and record history (`dfdg seed`, DESIGN
 * section 5). For a given seed and person count the persons (CPR master data), the a-kasse
 * memberships and the records of every catalog type are identical byte for byte, ids and
 * transaction times included: everything comes from our own PRNG (xoshiro256**), never from
 * the clock or rand().
 *
 * What is made:
 *   - persons with unique CPR numbers (century digit per the CPR office's table, a few without
 *     modulus 11, a few CPR-number changers), Danish names, sex from the 10th digit, an address
 *     history over the 98 kommuner weighted by population (0-2 moves), ~1% address protection
 *     and children's birth dates for some;
 *   - akasse-membership records for ~75% of those aged 18-66, some ended, some transferred to
 *     another a-kasse (leaving reason "A");
 *   - ~20 records a person on average of every catalog type, following the report rules of
 *     authz/access.h exactly, with data generated from the type's fields and checked with
 *     dfdg_catalog_validate_data, plus a few corrections and cancellations.
 *
 * Valid time runs up to DFDG_SEED_LAST_DAY; every recorded_at lies before
 * DFDG_SEED_TIME_CAP, so a seeded store is history in the past and later writes come after it.
 */
#ifndef DFDG_SEED_SEED_H
#define DFDG_SEED_SEED_H

#include "core/dfdg.h"
#include "catalog/catalog.h"
#include "store/store.h"

#define DFDG_SEED_MAX_PERSONS 10000000u  /* the largest --persons accepted */
#define DFDG_SEED_BATCH 2000u            /* persons per transaction by default */
#define DFDG_SEED_FIRST_DAY "2016-01-01" /* first valid_from of seeded records */
#define DFDG_SEED_LAST_DAY "2025-12-31"  /* last valid_from of seeded records */
#define DFDG_SEED_TIME_CAP "2026-07-01"  /* every recorded_at is before this day */

/* Counts so far (progress) or in total (result). */
struct dfdg_seed_stats {
    size_t persons;         /* persons written */
    uint64_t records;       /* records written: originals, corrections and cancellations */
    uint64_t corrections;   /* of which corrections */
    uint64_t cancellations; /* of which cancellations */
    size_t orgs_added;      /* orgs the seed had to insert (kommuner, a-kasser, other actors) */
    double seconds;         /* wall-clock time spent */
};

/* Called after each committed batch with the counts so far and the persons asked for. */
typedef void (*dfdg_seed_progress_cb)(const struct dfdg_seed_stats *so_far, size_t total,
                                      void *ctx);

struct dfdg_seed_opts {
    uint64_t seed;                  /* PRNG seed; the CLI's default is 1 */
    size_t persons;                 /* persons to make, 1..DFDG_SEED_MAX_PERSONS */
    size_t batch;                   /* persons per transaction; 0 = DFDG_SEED_BATCH */
    dfdg_seed_progress_cb progress; /* or NULL */
    void *progress_ctx;             /* passed to progress */
};

/*
 * Seeds store s (which must hold no persons yet) with o->persons persons and their records,
 * using catalog cat for the types. Inserts the orgs it reports as when they are missing
 * (kommuner and a-kasser from the built-in lists, the other actors "aktoer:<cvr>"). Writes in
 * transactions of o->batch persons; on failure the batch in progress is rolled back, earlier
 * batches stay (the store then holds persons and a new seed is refused: start from a fresh
 * store).
 * Errors: DFDG_INVAL (bad options), DFDG_CONFLICT (the store already holds persons),
 * DFDG_INTERNAL (generated data failed validation: a bug in the seed, named in ei), DFDG_NOMEM,
 * store errors. out (may be NULL) gets the counts, also on failure.
 * Not thread-safe with other users of s.
 */
dfdg_err dfdg_seed_run(struct dfdg_store *s, const struct dfdg_catalog *cat,
                       const struct dfdg_seed_opts *o, struct dfdg_seed_stats *out /* OUT */,
                       struct dfdg_errinfo *ei);

#endif
