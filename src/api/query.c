/* SPDX-License-Identifier: Apache-2.0 */
/*
 * query.c: the API's query-parameter parsers (see query.h): page sizes and waits, the feed's
 * opaque cursors and the audit log's proof indices (RFC 6962 tree sizes and leaf indices).
 * Values arrive percent-decoded from libmicrohttpd as NUL-terminated strings; a decoded "%00"
 * ends the string there, and everything after it is "trailing characters".
 */
#include "core/dfdg.h"
#include "api/query.h"

#include <errno.h>

/*
 * Decimal digits only that fit an int64_t. strtoll alone would also take leading white space, a
 * sign and an overflowing value (clamped): " -1" became 2^64-1 in strtoull, "v1. 5" a cursor, and
 * "v1.99999999999999999999" INT64_MAX, none of which is a value the API ever handed out.
 */
static bool
parse_digits(const char *s, int64_t *out /* OUT */)
{
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end;
    long long n = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = n;
    return true;
}

bool
dfdg_query_parse_long(const char *s, long lo, long hi, long *out /* OUT */)
{
    if (s == NULL || *s == '\0')
        return false;
    char *end;
    long n = strtol(s, &end, 10);
    if (*end != '\0' || n < lo || n > hi)
        return false;
    *out = n;
    return true;
}

bool
dfdg_query_parse_cursor(const char *s, const char *prefix, int64_t *out /* OUT */)
{
    if (s == NULL || *s == '\0') {
        *out = 0;
        return true;
    }
    size_t plen = strlen(prefix);
    if (strncmp(s, prefix, plen) != 0)
        return false;
    return parse_digits(s + plen, out);
}

bool
dfdg_query_parse_u64(const char *s, uint64_t *out /* OUT */)
{
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long n = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = (uint64_t)n;
    return true;
}
