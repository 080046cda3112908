/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_ndjson.c: libFuzzer target for the NDJSON batch splitter (src/api/ndjson.c) that POST
 * /v1/records/batch uses, checked against a plain reference splitter written from the
 * contract in ndjson.h (the code the batch handler had inline before the splitter was
 * extracted), and the per-line depth check and JSON parse the handler runs on each line.
 *
 * Input: one byte that picks the line cap (0-15, or the server's default 10000 for 255), then
 * the body.
 */
#include "core/dfdg.h"
#include "api/api_int.h"
#include "api/ndjson.h"

#include "fuzz_common.h"

#define MAX_JSON_DEPTH 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ref_line {
    size_t start;   /* offset of its first byte */
    size_t raw_len; /* bytes up to the "\n" or the end, "\r" included */
    size_t line_no; /* 1-based, blank lines counted */
};

static bool
ref_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

/* The reference: every "\n"-separated segment, no empty segment after a final "\n". */
static size_t
ref_split(const char *body, size_t len, struct ref_line *out, size_t cap)
{
    size_t n = 0, line_no = 0;
    for (size_t p = 0; p < len;) {
        const char *nl = memchr(body + p, '\n', len - p);
        size_t end = nl != NULL ? (size_t)(nl - body) : len;
        line_no++;
        if (!ref_blank(body + p, end - p)) {
            FUZZ_CHECK(n < cap);
            out[n].start = p;
            out[n].raw_len = end - p;
            out[n].line_no = line_no;
            n++;
        }
        p = end + 1;
    }
    return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t max = data[0] == 255 ? 10000 : data[0] % 16;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;

    struct ref_line *ref = calloc(len + 1, sizeof *ref);
    FUZZ_CHECK(ref != NULL);
    size_t nref = ref_split(body, len, ref, len + 1);

    size_t n = 12345;
    dfdg_err rc = dfdg_ndjson_count(len > 0 ? body : NULL, len, max, &n);
    if (nref > max) {
        FUZZ_CHECK(rc == DFDG_TOO_LARGE && n == max + 1);
    } else {
        FUZZ_CHECK(rc == DFDG_OK && n == nref);
    }

    struct dfdg_ndjson_iter it;
    struct dfdg_ndjson_line line;
    size_t i = 0, prev_no = 0;
    dfdg_ndjson_init(&it, len > 0 ? body : NULL, len);
    while (dfdg_ndjson_next(&it, &line)) {
        FUZZ_CHECK(i < nref);
        const struct ref_line *r = &ref[i];
        size_t want = r->raw_len;
        if (body[r->start + want - 1] == '\r')
            want--;
        FUZZ_CHECK(line.text == body + r->start);
        FUZZ_CHECK(line.len == want && line.len > 0);
        FUZZ_CHECK(line.line_no == r->line_no && line.line_no > prev_no);
        FUZZ_CHECK(memchr(line.text, '\n', line.len) == NULL);
        FUZZ_CHECK(!ref_blank(line.text, line.len));
        prev_no = line.line_no;
        /* What prepare_line does with each line. */
        if (!dfdg_json_too_deep(line.text, line.len, MAX_JSON_DEPTH)) {
            json_error_t jerr;
            json_decref(json_loadb(line.text, line.len, JSON_REJECT_DUPLICATES, &jerr));
        }
        i++;
    }
    FUZZ_CHECK(i == nref);
    FUZZ_CHECK(!dfdg_ndjson_next(&it, &line)); /* stays at the end */
    free(ref);
    return 0;
}
