/* SPDX-License-Identifier: Apache-2.0 */
/*
 * present.h: how records and persons look outside the hub (the API, feeds, the art. 15
 * document): one JSON form each, so every output shows the same thing the same way.
 */
#ifndef DFDG_EXCHANGE_PRESENT_H
#define DFDG_EXCHANGE_PRESENT_H

#include "core/dfdg.h"
#include "store/store.h"

#include <jansson.h>

/* "YYYY-MM-DD", or null for DFDG_DATE_NONE. */
json_t *dfdg_present_date(int32_t day);
/*
 * A record: id, type, cpr (when cpr is not NULL and the subject is a person) or cvr, reporter,
 * source_ref, kind, corrects/cancels, valid_from, valid_to, recorded_at, data, reason.
 */
json_t *dfdg_present_record(const struct dfdg_record *rec, const char *cpr);
/*
 * A person's master data. With protected_now and mask (address protection towards a-kasser,
 * other actors and researchers, DESIGN section 4) the addresses are left out: name only.
 */
json_t *dfdg_present_person(const struct dfdg_person *p, bool protected_now, bool mask);

#endif
