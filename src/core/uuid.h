/* SPDX-License-Identifier: Apache-2.0 */
/*
 * uuid.h: record ids are UUIDv7 (RFC 9562 section 5.7): 48 bits of Unix milliseconds, version
 * 7, 74 random bits from libsodium. They sort by creation time as text.
 */
#ifndef DFDG_CORE_UUID_H
#define DFDG_CORE_UUID_H

#include "core/dfdg.h"

#define DFDG_UUID_LEN 37 /* 36 characters + NUL */

/* Makes a UUIDv7 for the given Unix time in milliseconds; lower-case hex with hyphens. */
void dfdg_uuid7_make(int64_t unix_ms, char out[DFDG_UUID_LEN]);
/* True when s (NUL-terminated) is a canonical lower- or upper-case UUID of any version. */
bool dfdg_uuid_is_valid(const char *s);

#endif
