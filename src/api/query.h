/* SPDX-License-Identifier: Apache-2.0 */
/*
 * query.h: the parsers of the API's query parameters (limit, wait, feed cursors, audit proof
 * indices), as pure functions over the decoded value libmicrohttpd hands the handlers. Dates
 * (valid_on) and times (as_of) use core/when.h directly. None of them replies: each says
 * whether the value is good, and the handler turns "no" into a field error.
 */
#ifndef DFDG_API_QUERY_H
#define DFDG_API_QUERY_H

#include "core/dfdg.h"

/*
 * A decimal integer in [lo, hi] (strtol syntax: leading white space and a sign are allowed);
 * false for "", trailing characters or a value out of range. *out is set only on success.
 */
bool dfdg_query_parse_long(const char *s, long lo, long hi, long *out /* OUT */);

/*
 * A cursor of the form prefix + decimal digits (a non-negative int64 without sign, white space
 * or overflow). NULL or "" is the start, 0. *out is set only on success.
 */
bool dfdg_query_parse_cursor(const char *s, const char *prefix, int64_t *out /* OUT */);

/*
 * A non-negative integer written as decimal digits only (no sign, no white space) that fits
 * 64 bits. False for NULL, "" and anything else. *out is set only on success.
 */
bool dfdg_query_parse_u64(const char *s, uint64_t *out /* OUT */);

#endif
