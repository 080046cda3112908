/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ndjson.c: the line splitter of newline-delimited JSON bodies (https://github.com/ndjson/
 * ndjson-spec), as POST /v1/records/batch reads them: "\n" ends a line, a "\r" before it is
 * dropped (CRLF bodies from Windows clients), blank lines are skipped but keep their numbers,
 * and the last line may lack its newline. See ndjson.h for the contract.
 */
#include "core/dfdg.h"
#include "api/ndjson.h"

/* True when s[0..n) holds nothing but spaces, tabs and carriage returns. */
static bool
is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

void
dfdg_ndjson_init(struct dfdg_ndjson_iter *it, const char *body, size_t len)
{
    it->p = body;
    it->end = body != NULL ? body + len : NULL;
    it->line_no = 0;
}

bool
dfdg_ndjson_next(struct dfdg_ndjson_iter *it, struct dfdg_ndjson_line *out /* OUT */)
{
    while (it->p != NULL && it->p < it->end) {
        const char *start = it->p;
        const char *nl = memchr(start, '\n', (size_t)(it->end - start));
        const char *stop = nl != NULL ? nl : it->end;
        /* A body that ends in "\n" has no empty line after it: the loop ends at it->end. */
        it->p = nl != NULL ? nl + 1 : it->end;
        it->line_no++;
        size_t len = (size_t)(stop - start);
        if (is_blank(start, len))
            continue;
        if (start[len - 1] == '\r')
            len--;
        out->text = start;
        out->len = len;
        out->line_no = it->line_no;
        return true;
    }
    return false;
}

dfdg_err
dfdg_ndjson_count(const char *body, size_t len, size_t max, size_t *n /* OUT */)
{
    struct dfdg_ndjson_iter it;
    struct dfdg_ndjson_line line;
    size_t count = 0;
    dfdg_ndjson_init(&it, body, len);
    while (dfdg_ndjson_next(&it, &line)) {
        if (++count > max) {
            *n = count;
            return DFDG_TOO_LARGE;
        }
    }
    *n = count;
    return DFDG_OK;
}
