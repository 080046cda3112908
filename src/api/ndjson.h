/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ndjson.h: splitting a newline-delimited JSON body (POST /v1/records/batch, one record a line)
 * into its lines. Pure functions over a borrowed buffer: nothing is copied or allocated, and
 * the JSON of each line is the caller's to parse.
 *
 * Lines end at "\n"; a "\r" before it (CRLF) is not part of the line; the last line needs no
 * newline. A line of only spaces, tabs and carriage returns is blank: it is skipped and not
 * counted against the cap, but line numbers count it, so a result names the line a client
 * sees in its editor.
 */
#ifndef DFDG_API_NDJSON_H
#define DFDG_API_NDJSON_H

#include "core/dfdg.h"

/* One non-blank line of a body. */
struct dfdg_ndjson_line {
    const char *text; /* its first byte, borrowed from the body; not NUL-terminated */
    size_t len;       /* bytes, without the "\n" and without one "\r" before it */
    size_t line_no;   /* 1-based line number in the body, blank lines included */
};

/* Walks the lines of a body; fill with dfdg_ndjson_init. */
struct dfdg_ndjson_iter {
    const char *p;   /* next unread byte */
    const char *end; /* one past the body's last byte */
    size_t line_no;  /* lines consumed so far, blank ones included */
};

/* Starts iterating over body[0..len) (body may be NULL when len is 0). Borrows body. */
void dfdg_ndjson_init(struct dfdg_ndjson_iter *it, const char *body, size_t len);

/* The next non-blank line into *out; false at the end of the body. */
bool dfdg_ndjson_next(struct dfdg_ndjson_iter *it, struct dfdg_ndjson_line *out /* OUT */);

/*
 * Counts the non-blank lines of body[0..len) into *n. Returns DFDG_OK, or DFDG_TOO_LARGE as soon
 * as there are more than max (then *n is max + 1 and the rest is not read).
 */
dfdg_err dfdg_ndjson_count(const char *body, size_t len, size_t max, size_t *n /* OUT */);

#endif
