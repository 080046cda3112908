/* SPDX-License-Identifier: Apache-2.0 */
/*
 * refdata.h: the orgs every store starts with, from the reference lists compiled into the
 * binary (data/kommuner.csv: the 98 municipalities; data/akasser.csv: the recognised a-kasser)
 * plus the national authorities (STAR, Danmarks Statistik, Udbetaling Danmark).
 */
#ifndef DFDG_STORE_REFDATA_H
#define DFDG_STORE_REFDATA_H

#include "core/dfdg.h"
#include "store/store.h"

/* Parses the built-in lists into orgs. Caller frees *out. DFDG_CORRUPT on a malformed list. */
dfdg_err dfdg_refdata_orgs(struct dfdg_org **out /* OUT */, size_t *n /* OUT */,
                           struct dfdg_errinfo *ei);
/* Inserts (or replaces) every reference org in s. */
dfdg_err dfdg_refdata_install(struct dfdg_store *s, struct dfdg_errinfo *ei);

#endif
