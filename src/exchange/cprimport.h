/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cprimport.h: the CPR master-data import (DESIGN section 5, "CPR import format"): JSON Lines,
 * one person a line, loaded into the store in one transaction by `dfdg cpr import`.
 */
#ifndef DFDG_EXCHANGE_CPRIMPORT_H
#define DFDG_EXCHANGE_CPRIMPORT_H

#include "core/dfdg.h"
#include "catalog/catalog.h"
#include "store/store.h"

/* Longest line accepted, in bytes (without its newline). */
#define DFDG_CPRIMPORT_LINE_MAX ((size_t)1 << 20)

/*
 * Parses one JSON line of the CPR import format (DESIGN section 5) into *out; the caller cleans
 * up with dfdg_person_cleanup (also harmless after an error: *out is then empty).
 *
 * Keys: cpr, birthdate, sex ("M"/"F"), status and name {first, middle, last} are required;
 * name.middle, previous_cprs, addresses, address_protection, children_birthdates and, inside an
 * address, road/house/postcode/city/to and a protection period's to may be absent or null.
 * Unknown keys are errors. Dates are YYYY-MM-DD; an address's or period's "to" is the first day
 * after it (exclusive) and must be after "from"; addresses may not overlap, nor may
 * protection periods. Addresses and periods come out sorted oldest first. birthdate must equal
 * the birth date in the CPR number; children must be born after the person. Strings longer
 * than the struct's buffers are errors, not truncated.
 *
 * Errors: DFDG_INVAL, with ei->msg "KEY: problem" and ei->field KEY (e.g.
 * "previous_cprs[1]: not a valid CPR number"); DFDG_NOMEM. Messages never hold a CPR number.
 */
dfdg_err dfdg_cprimport_parse_line(const char *line, size_t len, struct dfdg_person *out /* OUT */,
                                   struct dfdg_errinfo *ei);

struct dfdg_cprimport_stats {
    size_t lines;    /* lines read, blank ones included */
    size_t imported; /* persons written (0 when the import failed and was rolled back) */
    size_t skipped;  /* bad lines skipped (skip_bad only) */
};

/* Called about every 1000 lines and once at the end: lines read, bytes read, file size. */
typedef void (*dfdg_cprimport_progress)(void *ctx, size_t lines, uint64_t bytes_done,
                                        uint64_t bytes_total);
/* Called for each bad line skipped under skip_bad; msg holds no CPR number. */
typedef void (*dfdg_cprimport_badline)(void *ctx, size_t line_no, const char *msg);

/*
 * Imports the file at path into s in ONE transaction (dfdg_store_begin ... commit). A line for
 * a known person (by any of its numbers) replaces that person's master data.
 *
 * Without skip_bad the first bad line (unparsable, longer than DFDG_CPRIMPORT_LINE_MAX, or
 * refused by the store, e.g. numbers of two different persons) rolls everything back and is
 * returned: DFDG_INVAL (or the store's DFDG_CONFLICT) with ei->msg "line N: ...". With skip_bad
 * bad lines are counted, reported through bad (if not NULL) and left out; the rest is applied.
 * Blank lines are ignored; line numbers count them. A UTF-8 byte-order mark is skipped.
 *
 * Other errors: DFDG_IO (cannot open or read the file), DFDG_NOMEM, and the store's errors
 * from begin/person_put/commit, after which nothing is applied. stats may be NULL.
 */
dfdg_err dfdg_cprimport_file(struct dfdg_store *s, const struct dfdg_catalog *cat, const char *path,
                             bool skip_bad, dfdg_cprimport_progress progress,
                             dfdg_cprimport_badline bad, void *ctx,
                             struct dfdg_cprimport_stats *stats /* OUT */, struct dfdg_errinfo *ei);

#endif
