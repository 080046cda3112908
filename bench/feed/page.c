/* SPDX-License-Identifier: Apache-2.0 */
/*
 * page.c: reads a GET /v1/feed page (DESIGN section 5) in one pass over the text, without
 * building a JSON tree: {"items":[{"cursor":"v1.N","reason":..,"record":{..,"id":..}}],
 * "cursor":"v1.N","more":bool}. Keys may come in any order and unknown keys are skipped, so it
 * follows the server's JSON (RFC 8259) rather than one rendering of it. The values it keeps
 * (cursors, record ids) hold no escapes; an escape in one of them is an error.
 */
#include "core/dfdg.h"
#include "feed.h"

#include <errno.h>

#define DEPTH_MAX 32 /* deeper JSON is not a feed page */

struct scan {
    const char *start;       /* the first byte */
    const char *p;           /* next byte */
    const char *end;         /* one past the last byte */
    struct dfdg_errinfo *ei; /* for the first error */
    bool bad;                /* an error was found */
};

static void
fail(struct scan *s, const char *what)
{
    if (!s->bad)
        dfdg_errinfo_set(s->ei, DFDG_INVAL, "feed page: %s at byte %zu", what,
                         (size_t)(s->p - s->start));
    s->bad = true;
}

static void
ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* Consumes c (after white space); false (and an error) when it is not next. */
static bool
need(struct scan *s, char c)
{
    ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return true;
    }
    char what[32];
    snprintf(what, sizeof what, "expected '%c'", c);
    fail(s, what);
    return false;
}

/* Consumes c when it is next (after white space). */
static bool
take(struct scan *s, char c)
{
    ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return true;
    }
    return false;
}

/* A string: *v and *n span its raw contents; *esc tells whether it holds an escape. */
static bool
string(struct scan *s, const char **v, size_t *n, bool *esc)
{
    if (!need(s, '"'))
        return false;
    const char *start = s->p;
    *esc = false;
    while (s->p < s->end && *s->p != '"') {
        if (*s->p == '\\') {
            *esc = true;
            s->p++;
        }
        s->p++;
    }
    if (s->p >= s->end) {
        fail(s, "unterminated string");
        return false;
    }
    *v = start;
    *n = (size_t)(s->p - start);
    s->p++;
    return true;
}

static bool skip_value(struct scan *s, int depth);

/* The members of an object or the elements of an array, after its opening bracket. */
static bool
skip_container(struct scan *s, char close, int depth)
{
    if (depth > DEPTH_MAX) {
        fail(s, "nested too deep");
        return false;
    }
    if (take(s, close))
        return true;
    do {
        if (close == '}') {
            const char *k;
            size_t kn;
            bool esc;
            if (!string(s, &k, &kn, &esc) || !need(s, ':'))
                return false;
        }
        if (!skip_value(s, depth + 1))
            return false;
    } while (take(s, ','));
    return need(s, close);
}

static bool
skip_value(struct scan *s, int depth)
{
    ws(s);
    if (s->p >= s->end) {
        fail(s, "value missing");
        return false;
    }
    const char *v;
    size_t n;
    bool esc;
    switch (*s->p) {
    case '"':
        return string(s, &v, &n, &esc);
    case '{':
        s->p++;
        return skip_container(s, '}', depth);
    case '[':
        s->p++;
        return skip_container(s, ']', depth);
    default:
        /* A number or a literal: up to the next delimiter. */
        v = s->p;
        while (s->p < s->end && strchr(",}] \t\r\n", *s->p) == NULL)
            s->p++;
        if (s->p == v) {
            fail(s, "value missing");
            return false;
        }
        return true;
    }
}

/* "v1.<seq>" */
static bool
cursor_value(struct scan *s, int64_t *seq)
{
    const char *v;
    size_t n;
    bool esc;
    if (!string(s, &v, &n, &esc))
        return false;
    char buf[32];
    if (esc || n < 4 || n >= sizeof buf || strncmp(v, "v1.", 3) != 0) {
        fail(s, "a cursor is not v1.<seq>");
        return false;
    }
    memcpy(buf, v, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    long long x = strtoll(buf + 3, &end, 10);
    if (errno != 0 || *end != '\0' || x < 0 || buf[3] == '-' || buf[3] == '+') {
        fail(s, "a cursor is not v1.<seq>");
        return false;
    }
    *seq = x;
    return true;
}

/* The "record" object of an item: only its "id". */
static bool
record(struct scan *s, struct feed_item *it, bool *have_id)
{
    if (!need(s, '{'))
        return false;
    if (take(s, '}'))
        return true;
    do {
        const char *k, *v;
        size_t kn, n;
        bool esc;
        if (!string(s, &k, &kn, &esc) || !need(s, ':'))
            return false;
        if (kn == 2 && memcmp(k, "id", 2) == 0) {
            if (!string(s, &v, &n, &esc))
                return false;
            if (esc || n != DFDG_UUID_LEN - 1) {
                fail(s, "a record id is not a UUID");
                return false;
            }
            memcpy(it->id, v, n);
            it->id[n] = '\0';
            *have_id = true;
        } else if (!skip_value(s, 3)) {
            return false;
        }
    } while (take(s, ','));
    return need(s, '}');
}

static bool
item(struct scan *s, struct feed_item *it)
{
    bool have_cursor = false, have_id = false;
    if (!need(s, '{'))
        return false;
    if (!take(s, '}')) {
        do {
            const char *k;
            size_t kn;
            bool esc;
            if (!string(s, &k, &kn, &esc) || !need(s, ':'))
                return false;
            bool ok;
            if (kn == 6 && memcmp(k, "cursor", 6) == 0)
                ok = have_cursor = cursor_value(s, &it->seq);
            else if (kn == 6 && memcmp(k, "record", 6) == 0)
                ok = record(s, it, &have_id);
            else
                ok = skip_value(s, 2);
            if (!ok)
                return false;
        } while (take(s, ','));
        if (!need(s, '}'))
            return false;
    }
    if (!have_cursor || !have_id) {
        fail(s, "an item without a cursor or a record id");
        return false;
    }
    return true;
}

static bool
items(struct scan *s, struct feed_page *page)
{
    if (!need(s, '['))
        return false;
    if (take(s, ']'))
        return true;
    do {
        if (page->n == page->cap) {
            size_t ncap = page->cap ? page->cap * 2 : 1024;
            void *grown = realloc(page->items, ncap * sizeof *page->items);
            if (grown == NULL) {
                fail(s, "out of memory");
                return false;
            }
            page->items = grown;
            page->cap = ncap;
        }
        struct feed_item *it = &page->items[page->n];
        memset(it, 0, sizeof *it);
        if (!item(s, it))
            return false;
        page->n++;
    } while (take(s, ','));
    return need(s, ']');
}

dfdg_err
bench_feed_page_parse(const char *body, size_t len, struct feed_page *page, struct dfdg_errinfo *ei)
{
    struct scan s = {.start = body, .p = body, .end = body + len, .ei = ei};
    bool have_items = false, have_cursor = false, have_more = false;
    page->n = 0;
    page->more = false;
    if (!need(&s, '{'))
        return DFDG_INVAL;
    if (!take(&s, '}')) {
        do {
            const char *k;
            size_t kn;
            bool esc;
            if (!string(&s, &k, &kn, &esc) || !need(&s, ':'))
                return DFDG_INVAL;
            bool ok;
            if (kn == 5 && memcmp(k, "items", 5) == 0) {
                ok = have_items = items(&s, page);
            } else if (kn == 6 && memcmp(k, "cursor", 6) == 0) {
                ok = have_cursor = cursor_value(&s, &page->cursor);
            } else if (kn == 4 && memcmp(k, "more", 4) == 0) {
                ws(&s);
                if ((size_t)(s.end - s.p) >= 4 && memcmp(s.p, "true", 4) == 0) {
                    page->more = true;
                    s.p += 4;
                } else if ((size_t)(s.end - s.p) >= 5 && memcmp(s.p, "false", 5) == 0) {
                    s.p += 5;
                } else {
                    fail(&s, "\"more\" is not a boolean");
                }
                ok = have_more = !s.bad;
            } else {
                ok = skip_value(&s, 1);
            }
            if (!ok)
                return DFDG_INVAL;
        } while (take(&s, ','));
        if (!need(&s, '}'))
            return DFDG_INVAL;
    }
    ws(&s);
    if (s.p != s.end) {
        fail(&s, "bytes after the page");
        return DFDG_INVAL;
    }
    if (!have_items || !have_cursor || !have_more)
        return dfdg_errinfo_set(ei, DFDG_INVAL,
                                "feed page: \"items\", \"cursor\" or \"more\" "
                                "missing");
    return DFDG_OK;
}

void
bench_feed_page_cleanup(struct feed_page *page)
{
    if (page == NULL)
        return;
    free(page->items);
    page->items = NULL;
    page->n = page->cap = 0;
}
