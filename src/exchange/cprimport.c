/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cprimport.c: the CPR master-data import (DESIGN section 5): a parser for one JSON line of the
 * import format into a struct dfdg_person, and a file importer that applies a whole file in one
 * store transaction, all or nothing unless bad lines are to be skipped.
 *
 * Invariants:
 *   1. No message produced here holds a CPR number (they are personal data and messages end up
 *      in logs and terminals): numbers are named by key ("previous_cprs[1]"), jansson's error
 *      text (which quotes the input) is never used, and unknown keys are only echoed when they
 *      are short plain words.
 *   2. A person that leaves dfdg_cprimport_parse_line successfully is fully valid: every date
 *      real, periods non-empty and non-overlapping and sorted oldest first, strings fitting
 *      their buffers without truncation.
 *   3. dfdg_cprimport_file either commits every good line or rolls back: a failure after
 *      dfdg_store_begin always ends in dfdg_store_rollback.
 */
#include "core/dfdg.h"
#include "exchange/cprimport.h"
#include "exchange/route.h"

#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>

#include <jansson.h>

#include "core/cpr.h"
#include "core/when.h"

#define FIELD_MAX 96              /* "addresses[123456].kommunekode" and the like */
#define READ_CHUNK (64 * 1024)    /* bytes read from the file at a time */
#define PROGRESS_EVERY 1000       /* lines between progress calls */
#define LINE_SAVEPOINT "cpr_line" /* per-line savepoint under skip_bad */

/* --- messages ------------------------------------------------------------------------------ */

/* Fills ei with "FIELD: detail" (or just the detail for the whole line) and returns INVAL. */
static dfdg_err reject(struct dfdg_errinfo *ei, const char *field, const char *fmt, ...)
    DFDG_PRINTF(3, 4);

static dfdg_err
reject(struct dfdg_errinfo *ei, const char *field, const char *fmt, ...)
{
    if (ei != NULL) {
        char detail[400];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
        dfdg_strlcpy(ei->field, field, sizeof ei->field);
        if (field[0] == '\0')
            dfdg_errinfo_set(ei, DFDG_INVAL, "%s", detail);
        else
            dfdg_errinfo_set(ei, DFDG_INVAL, "%s: %s", field, detail);
    }
    return DFDG_INVAL;
}

static dfdg_err
no_memory(struct dfdg_errinfo *ei)
{
    if (ei != NULL)
        ei->field[0] = '\0';
    return dfdg_errinfo_set(ei, DFDG_NOMEM, "out of memory while reading a CPR line");
}

/* "path.key", or "key" at the top level (cut to FIELD_MAX, which real keys never reach). */
static void
field_name(char out[FIELD_MAX], const char *path, const char *key)
{
    int n;
    if (path[0] == '\0')
        n = snprintf(out, FIELD_MAX, "%s", key);
    else
        n = snprintf(out, FIELD_MAX, "%s.%s", path, key);
    if (n < 0)
        out[0] = '\0';
}

/* A key that is safe to repeat in a message: a short word, so never a CPR number. */
static bool
is_plain_key(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* --- typed access to JSON members ---------------------------------------------------------- */

/* Rejects keys of obj not in allowed (NULL-terminated). */
static dfdg_err
check_keys(json_t *obj, const char *path, const char *const *allowed, struct dfdg_errinfo *ei)
{
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        bool known = false;
        for (size_t i = 0; allowed[i] != NULL && !known; i++)
            known = strcmp(key, allowed[i]) == 0;
        if (known)
            continue;
        if (is_plain_key(key)) {
            char f[FIELD_MAX];
            field_name(f, path, key);
            return reject(ei, f, "unknown key");
        }
        return reject(ei, path, "%s",
                      path[0] != '\0' ? "holds an unknown key (not shown)"
                                      : "the line holds an unknown key (not shown)");
    }
    return DFDG_OK;
}

/*
 * Looks key up in obj. Absent or null gives *out == NULL, which is an error when required.
 */
static dfdg_err
get_member(json_t *obj, const char *path, const char *key, bool required, json_t **out /* OUT */,
           struct dfdg_errinfo *ei)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        if (!required)
            return DFDG_OK;
        char f[FIELD_MAX];
        field_name(f, path, key);
        return reject(ei, f, v == NULL ? "missing" : "must not be null");
    }
    *out = v;
    return DFDG_OK;
}

/* Copies a string member into buf[size]; absent/null (when allowed) gives "". */
static dfdg_err
get_text(json_t *obj, const char *path, const char *key, bool required, char *buf, size_t size,
         struct dfdg_errinfo *ei)
{
    json_t *v;
    char f[FIELD_MAX];
    dfdg_err rc = get_member(obj, path, key, required, &v, ei);
    if (rc != DFDG_OK)
        return rc;
    buf[0] = '\0';
    if (v == NULL)
        return DFDG_OK;
    field_name(f, path, key);
    if (!json_is_string(v))
        return reject(ei, f, "must be a string");
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len >= size)
        return reject(ei, f, "longer than %zu bytes", size - 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return reject(ei, f, "holds a control character");
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    return DFDG_OK;
}

/* Parses a date string value v (named f). */
static dfdg_err
date_value(json_t *v, const char *f, int32_t *out /* OUT */, struct dfdg_errinfo *ei)
{
    struct dfdg_errinfo sub;
    if (!json_is_string(v))
        return reject(ei, f, "must be a date string (YYYY-MM-DD)");
    memset(&sub, 0, sizeof sub);
    if (dfdg_date_parse(json_string_value(v), json_string_length(v), out, &sub) != DFDG_OK)
        return reject(ei, f, "%s", sub.msg);
    return DFDG_OK;
}

/* A date member; absent/null (when allowed) gives DFDG_DATE_NONE. */
static dfdg_err
get_date(json_t *obj, const char *path, const char *key, bool required, int32_t *out /* OUT */,
         struct dfdg_errinfo *ei)
{
    json_t *v;
    char f[FIELD_MAX];
    dfdg_err rc = get_member(obj, path, key, required, &v, ei);
    if (rc != DFDG_OK)
        return rc;
    *out = DFDG_DATE_NONE;
    if (v == NULL)
        return DFDG_OK;
    field_name(f, path, key);
    return date_value(v, f, out, ei);
}

/* An optional array member: *out NULL when absent or null. */
static dfdg_err
get_array(json_t *obj, const char *key, json_t **out /* OUT */, struct dfdg_errinfo *ei)
{
    dfdg_err rc = get_member(obj, "", key, false, out, ei);
    if (rc != DFDG_OK)
        return rc;
    if (*out != NULL && !json_is_array(*out))
        return reject(ei, key, "must be an array");
    return DFDG_OK;
}

/* Parses a CPR number value v (named f). The number never reaches the message. */
static dfdg_err
cpr_value(json_t *v, const char *f, struct dfdg_cpr *out /* OUT */, struct dfdg_errinfo *ei)
{
    struct dfdg_errinfo sub;
    if (!json_is_string(v))
        return reject(ei, f, "must be a string");
    memset(&sub, 0, sizeof sub);
    if (dfdg_cpr_parse(json_string_value(v), json_string_length(v), out, &sub) != DFDG_OK)
        return reject(ei, f, "not a valid CPR number (%s)", sub.msg);
    return DFDG_OK;
}

/* --- periods ------------------------------------------------------------------------------- */

struct span {
    int32_t from;
    int32_t to; /* exclusive, or DFDG_DATE_NONE */
    size_t idx; /* position in the input, for messages */
};

static int
span_cmp(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    if (x->from != y->from)
        return x->from < y->from ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * Sorts spans by start and rejects overlaps. Ends are exclusive, so a period may start on the
 * day the previous one ends (the day of a move belongs to the new address).
 */
static dfdg_err
check_spans(struct span *sp, size_t n, const char *what, struct dfdg_errinfo *ei)
{
    if (n < 2)
        return DFDG_OK;
    qsort(sp, n, sizeof *sp, span_cmp);
    for (size_t i = 1; i < n; i++) {
        const struct span *prev = &sp[i - 1];
        if (prev->to == DFDG_DATE_NONE || prev->to > sp[i].from) {
            size_t lo = prev->idx < sp[i].idx ? prev->idx : sp[i].idx;
            size_t hi = prev->idx < sp[i].idx ? sp[i].idx : prev->idx;
            char f[FIELD_MAX];
            snprintf(f, sizeof f, "%s[%zu]", what, hi);
            return reject(ei, f, "overlaps %s[%zu]", what, lo);
        }
    }
    return DFDG_OK;
}

/* Reads "from" and "to" of obj (named path); to must be after from. */
static dfdg_err
get_period(json_t *obj, const char *path, int32_t *from /* OUT */, int32_t *to /* OUT */,
           struct dfdg_errinfo *ei)
{
    dfdg_err rc = get_date(obj, path, "from", true, from, ei);
    if (rc != DFDG_OK)
        return rc;
    rc = get_date(obj, path, "to", false, to, ei);
    if (rc != DFDG_OK)
        return rc;
    if (*to != DFDG_DATE_NONE && *to <= *from) {
        char f[FIELD_MAX];
        field_name(f, path, "to");
        return reject(ei, f, "must be after from (to is the first day after the period)");
    }
    return DFDG_OK;
}

/* --- the person ---------------------------------------------------------------------------- */

static const char *const top_keys[] = {
    "cpr",       "previous_cprs",      "birthdate",           "sex", "status", "name",
    "addresses", "address_protection", "children_birthdates", NULL};
static const char *const name_keys[] = {"first", "middle", "last", NULL};
static const char *const address_keys[] = {"kommunekode", "road", "house", "postcode",
                                           "city",        "from", "to",    NULL};
static const char *const period_keys[] = {"from", "to", NULL};

static dfdg_err
parse_numbers(json_t *root, struct dfdg_person *out, int32_t *birthdate /* OUT */,
              struct dfdg_errinfo *ei)
{
    struct dfdg_cpr cpr;
    json_t *v, *arr;
    dfdg_err rc = get_member(root, "", "cpr", true, &v, ei);
    if (rc != DFDG_OK)
        return rc;
    rc = cpr_value(v, "cpr", &cpr, ei);
    if (rc != DFDG_OK)
        return rc;
    memcpy(out->cpr, cpr.digits, sizeof out->cpr);
    *birthdate = cpr.birthdate;

    rc = get_array(root, "previous_cprs", &arr, ei);
    if (rc != DFDG_OK || arr == NULL || json_array_size(arr) == 0)
        return rc;
    size_t n = json_array_size(arr);
    out->previous = calloc(n, sizeof *out->previous);
    if (out->previous == NULL)
        return no_memory(ei);
    for (size_t i = 0; i < n; i++) {
        char f[FIELD_MAX];
        struct dfdg_cpr prev;
        snprintf(f, sizeof f, "previous_cprs[%zu]", i);
        rc = cpr_value(json_array_get(arr, i), f, &prev, ei);
        if (rc != DFDG_OK)
            return rc;
        if (strcmp(prev.digits, out->cpr) == 0)
            return reject(ei, f, "is the current number (cpr)");
        for (size_t j = 0; j < i; j++)
            if (strcmp(prev.digits, out->previous[j]) == 0)
                return reject(ei, f, "repeats previous_cprs[%zu]", j);
        memcpy(out->previous[i], prev.digits, sizeof out->previous[i]);
        out->nprevious = i + 1;
    }
    return DFDG_OK;
}

static dfdg_err
parse_name(json_t *root, struct dfdg_person *out, struct dfdg_errinfo *ei)
{
    json_t *name;
    dfdg_err rc = get_member(root, "", "name", true, &name, ei);
    if (rc != DFDG_OK)
        return rc;
    if (!json_is_object(name))
        return reject(ei, "name", "must be an object {first, middle, last}");
    rc = check_keys(name, "name", name_keys, ei);
    if (rc == DFDG_OK)
        rc = get_text(name, "name", "first", true, out->first, sizeof out->first, ei);
    if (rc == DFDG_OK)
        rc = get_text(name, "name", "middle", false, out->middle, sizeof out->middle, ei);
    if (rc == DFDG_OK)
        rc = get_text(name, "name", "last", true, out->last, sizeof out->last, ei);
    return rc;
}

static dfdg_err
parse_addresses(json_t *root, struct dfdg_person *out, struct dfdg_errinfo *ei)
{
    json_t *arr;
    dfdg_err rc = get_array(root, "addresses", &arr, ei);
    if (rc != DFDG_OK || arr == NULL || json_array_size(arr) == 0)
        return rc;
    size_t n = json_array_size(arr);
    struct span *sp = calloc(n, sizeof *sp);
    struct dfdg_address *tmp = calloc(n, sizeof *tmp);
    if (sp == NULL || tmp == NULL) {
        rc = no_memory(ei);
        goto free_scratch;
    }
    for (size_t i = 0; i < n; i++) {
        char path[FIELD_MAX], f[FIELD_MAX];
        struct dfdg_address *a = &tmp[i];
        json_t *obj = json_array_get(arr, i);
        snprintf(path, sizeof path, "addresses[%zu]", i);
        if (!json_is_object(obj)) {
            rc = reject(ei, path, "must be an object");
            goto free_scratch;
        }
        rc = check_keys(obj, path, address_keys, ei);
        if (rc == DFDG_OK)
            rc =
                get_text(obj, path, "kommunekode", true, a->kommunekode, sizeof a->kommunekode, ei);
        if (rc == DFDG_OK) {
            field_name(f, path, "kommunekode");
            for (size_t k = 0; k < 3 && rc == DFDG_OK; k++)
                if (a->kommunekode[k] < '0' || a->kommunekode[k] > '9')
                    rc = reject(ei, f, "must be 3 digits");
        }
        if (rc == DFDG_OK)
            rc = get_text(obj, path, "road", false, a->road, sizeof a->road, ei);
        if (rc == DFDG_OK)
            rc = get_text(obj, path, "house", false, a->house, sizeof a->house, ei);
        if (rc == DFDG_OK)
            rc = get_text(obj, path, "postcode", false, a->postcode, sizeof a->postcode, ei);
        if (rc == DFDG_OK)
            rc = get_text(obj, path, "city", false, a->city, sizeof a->city, ei);
        if (rc == DFDG_OK)
            rc = get_period(obj, path, &a->from, &a->to, ei);
        if (rc != DFDG_OK)
            goto free_scratch;
        sp[i].from = a->from;
        sp[i].to = a->to;
        sp[i].idx = i;
    }
    rc = check_spans(sp, n, "addresses", ei);
    if (rc != DFDG_OK)
        goto free_scratch;
    out->addresses = calloc(n, sizeof *out->addresses);
    if (out->addresses == NULL) {
        rc = no_memory(ei);
        goto free_scratch;
    }
    for (size_t i = 0; i < n; i++)
        out->addresses[i] = tmp[sp[i].idx];
    out->naddresses = n;
free_scratch:
    free(tmp);
    free(sp);
    return rc;
}

static dfdg_err
parse_protection(json_t *root, struct dfdg_person *out, struct dfdg_errinfo *ei)
{
    json_t *arr;
    dfdg_err rc = get_array(root, "address_protection", &arr, ei);
    if (rc != DFDG_OK || arr == NULL || json_array_size(arr) == 0)
        return rc;
    size_t n = json_array_size(arr);
    struct span *sp = calloc(n, sizeof *sp);
    if (sp == NULL)
        return no_memory(ei);
    for (size_t i = 0; i < n; i++) {
        char path[FIELD_MAX];
        json_t *obj = json_array_get(arr, i);
        snprintf(path, sizeof path, "address_protection[%zu]", i);
        if (!json_is_object(obj)) {
            rc = reject(ei, path, "must be an object {from, to}");
            goto free_spans;
        }
        rc = check_keys(obj, path, period_keys, ei);
        if (rc == DFDG_OK)
            rc = get_period(obj, path, &sp[i].from, &sp[i].to, ei);
        if (rc != DFDG_OK)
            goto free_spans;
        sp[i].idx = i;
    }
    rc = check_spans(sp, n, "address_protection", ei);
    if (rc != DFDG_OK)
        goto free_spans;
    out->protection = calloc(n, sizeof *out->protection);
    if (out->protection == NULL) {
        rc = no_memory(ei);
        goto free_spans;
    }
    for (size_t i = 0; i < n; i++) {
        out->protection[i].from = sp[i].from;
        out->protection[i].to = sp[i].to;
    }
    out->nprotection = n;
free_spans:
    free(sp);
    return rc;
}

static dfdg_err
parse_children(json_t *root, struct dfdg_person *out, struct dfdg_errinfo *ei)
{
    json_t *arr;
    dfdg_err rc = get_array(root, "children_birthdates", &arr, ei);
    if (rc != DFDG_OK || arr == NULL || json_array_size(arr) == 0)
        return rc;
    size_t n = json_array_size(arr);
    out->children = calloc(n, sizeof *out->children);
    if (out->children == NULL)
        return no_memory(ei);
    for (size_t i = 0; i < n; i++) {
        char f[FIELD_MAX];
        snprintf(f, sizeof f, "children_birthdates[%zu]", i);
        rc = date_value(json_array_get(arr, i), f, &out->children[i], ei);
        if (rc != DFDG_OK)
            return rc;
        if (out->children[i] <= out->birthdate)
            return reject(ei, f, "not after the person's own birth date");
        out->nchildren = i + 1;
    }
    return DFDG_OK;
}

static dfdg_err
parse_person(json_t *root, struct dfdg_person *out, struct dfdg_errinfo *ei)
{
    int32_t cpr_birth;
    json_t *v;
    dfdg_err rc = check_keys(root, "", top_keys, ei);
    if (rc != DFDG_OK)
        return rc;
    rc = parse_numbers(root, out, &cpr_birth, ei);
    if (rc != DFDG_OK)
        return rc;

    rc = get_date(root, "", "birthdate", true, &out->birthdate, ei);
    if (rc != DFDG_OK)
        return rc;
    if (out->birthdate != cpr_birth)
        return reject(ei, "birthdate", "differs from the birth date in the CPR number");

    rc = get_member(root, "", "sex", true, &v, ei);
    if (rc != DFDG_OK)
        return rc;
    if (!json_is_string(v) ||
        (strcmp(json_string_value(v), "M") != 0 && strcmp(json_string_value(v), "F") != 0))
        return reject(ei, "sex", "must be \"M\" or \"F\"");
    dfdg_strlcpy(out->sex, json_string_value(v), sizeof out->sex);

    rc = get_text(root, "", "status", true, out->status, sizeof out->status, ei);
    if (rc != DFDG_OK)
        return rc;
    if (out->status[0] == '\0')
        return reject(ei, "status", "must not be empty");
    for (const char *c = out->status; *c != '\0'; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
            return reject(ei, "status", "must be a lower-case word such as \"active\"");

    rc = parse_name(root, out, ei);
    if (rc == DFDG_OK)
        rc = parse_addresses(root, out, ei);
    if (rc == DFDG_OK)
        rc = parse_protection(root, out, ei);
    if (rc == DFDG_OK)
        rc = parse_children(root, out, ei);
    return rc;
}

dfdg_err
dfdg_cprimport_parse_line(const char *line, size_t len, struct dfdg_person *out /* OUT */,
                          struct dfdg_errinfo *ei)
{
    json_error_t jerr;
    json_t *root;
    dfdg_err rc;

    memset(out, 0, sizeof *out);
    if (ei != NULL)
        ei->field[0] = '\0';
    if (line == NULL || len == 0)
        return reject(ei, "", "empty line");
    if (len > DFDG_CPRIMPORT_LINE_MAX)
        return reject(ei, "", "line longer than 1 MiB");

    root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        /* jerr.text quotes the input, which may hold a CPR number: only say where. */
        switch (json_error_code(&jerr)) {
        case json_error_duplicate_key:
            return reject(ei, "", "a key appears twice in one object (near byte %d)",
                          jerr.position);
        case json_error_invalid_utf8:
            return reject(ei, "", "not valid UTF-8");
        case json_error_out_of_memory:
            return no_memory(ei);
        default:
            return reject(ei, "", "not valid JSON (near byte %d)", jerr.position);
        }
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return reject(ei, "", "a line must be one JSON object");
    }
    rc = parse_person(root, out, ei);
    json_decref(root);
    if (rc != DFDG_OK) {
        dfdg_person_cleanup(out);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

/* --- the file ------------------------------------------------------------------------------ */

/* Reads a file line by line with a bounded line buffer, whatever the line lengths. */
struct line_reader {
    FILE *f;
    char *chunk;    /* READ_CHUNK bytes read ahead */
    size_t pos;     /* next unread byte of chunk */
    size_t end;     /* bytes valid in chunk */
    bool eof;       /* fread hit the end */
    char *line;     /* the current line, DFDG_CPRIMPORT_LINE_MAX bytes, not NUL-terminated */
    size_t len;     /* bytes in line */
    bool too_long;  /* the current line exceeded the buffer; its content is not kept */
    uint64_t bytes; /* bytes consumed so far */
};

/* 1: a line is in r->line; 0: end of file; -1: read error (errno). */
static int
reader_next(struct line_reader *r)
{
    bool any = false;
    r->len = 0;
    r->too_long = false;
    for (;;) {
        if (r->pos == r->end) {
            if (r->eof)
                return any ? 1 : 0;
            size_t got = fread(r->chunk, 1, READ_CHUNK, r->f);
            if (got == 0) {
                if (ferror(r->f))
                    return -1;
                r->eof = true;
                continue;
            }
            r->pos = 0;
            r->end = got;
        }
        any = true;
        const char *start = r->chunk + r->pos;
        size_t avail = r->end - r->pos;
        const char *nl = memchr(start, '\n', avail);
        size_t take = nl != NULL ? (size_t)(nl - start) : avail;
        if (!r->too_long) {
            if (take > DFDG_CPRIMPORT_LINE_MAX - r->len) {
                r->too_long = true;
            } else {
                memcpy(r->line + r->len, start, take);
                r->len += take;
            }
        }
        size_t used = take + (nl != NULL ? 1 : 0);
        r->pos += used;
        r->bytes += used;
        if (nl != NULL)
            return 1;
    }
}

static bool
is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

/* Store errors that mean "this line's data is refused", as opposed to a broken store. */
static bool
is_data_error(dfdg_err rc)
{
    return rc == DFDG_INVAL || rc == DFDG_CONFLICT || rc == DFDG_SEMANTIC;
}

/*
 * Writes one parsed person. Under skip_bad a savepoint wraps the write so a refused person
 * leaves nothing half-written behind in the transaction.
 */
/* The kommune a known person lives in today ("" when unknown or without an address). */
static dfdg_err
residence_today(struct dfdg_store *s, const struct dfdg_person *p, int64_t person_id, char kode[4])
{
    (void)p;
    kode[0] = '\0';
    if (person_id == 0)
        return DFDG_OK;
    dfdg_err rc = dfdg_store_residence_on(s, person_id, dfdg_date_today(), kode);
    if (rc == DFDG_NOT_FOUND) {
        kode[0] = '\0';
        return DFDG_OK;
    }
    return rc;
}

/*
 * Writes the person and, when the import moves a known person to another kommune, hands the
 * person's open records over to the new kommune in the same transaction (its read access
 * starts on the move; the old kommune's ends, DESIGN section 4).
 */
static dfdg_err
put_and_route(struct dfdg_store *s, const struct dfdg_catalog *cat, struct dfdg_person *p,
              struct dfdg_errinfo *lei)
{
    int64_t existing = 0;
    char before[4] = "", after[4] = "";
    dfdg_err rc = DFDG_OK;
    if (cat != NULL) {
        rc = dfdg_store_person_resolve(s, p->cpr, &existing);
        for (size_t i = 0; rc == DFDG_NOT_FOUND && i < p->nprevious; i++)
            rc = dfdg_store_person_resolve(s, p->previous[i], &existing);
        if (rc == DFDG_NOT_FOUND)
            rc = DFDG_OK;
        if (rc == DFDG_OK)
            rc = residence_today(s, p, existing, before);
        if (rc != DFDG_OK)
            return dfdg_errinfo_set(lei, rc, "cannot read the person's residence");
    }
    rc = dfdg_store_person_put(s, p, lei);
    if (rc != DFDG_OK || cat == NULL || existing == 0)
        return rc;
    rc = residence_today(s, p, p->person_id, after);
    if (rc == DFDG_OK && after[0] != '\0' && strcmp(before, after) != 0) {
        char org[64];
        snprintf(org, sizeof org, "kommune:%s", after);
        rc = dfdg_route_handover(s, cat, p->person_id, org, DFDG_KIND_KOMMUNE, dfdg_date_today(),
                                 dfdg_time_now_us(), NULL);
    }
    if (rc != DFDG_OK)
        return dfdg_errinfo_set(lei, rc, "cannot hand the records over to the new kommune");
    return DFDG_OK;
}

static dfdg_err
put_person(struct dfdg_store *s, const struct dfdg_catalog *cat, struct dfdg_person *p,
           bool skip_bad, struct dfdg_errinfo *lei)
{
    dfdg_err rc;
    if (!skip_bad)
        return put_and_route(s, cat, p, lei);
    rc = dfdg_store_savepoint(s, LINE_SAVEPOINT);
    if (rc != DFDG_OK)
        return dfdg_errinfo_set(lei, rc, "cannot set a savepoint: %s", dfdg_err_message(rc));
    rc = put_and_route(s, cat, p, lei);
    if (rc != DFDG_OK) {
        dfdg_err rc2 = dfdg_store_rollback_to(s, LINE_SAVEPOINT);
        if (rc2 == DFDG_OK)
            rc2 = dfdg_store_release(s, LINE_SAVEPOINT);
        /* If the savepoint cannot be undone the line is no longer skippable. */
        if (rc2 != DFDG_OK)
            return dfdg_errinfo_set(lei, rc2, "cannot undo a refused person: %s",
                                    dfdg_err_message(rc2));
        return rc;
    }
    rc = dfdg_store_release(s, LINE_SAVEPOINT);
    if (rc != DFDG_OK)
        return dfdg_errinfo_set(lei, rc, "cannot release a savepoint: %s", dfdg_err_message(rc));
    return DFDG_OK;
}

dfdg_err
dfdg_cprimport_file(struct dfdg_store *s, const struct dfdg_catalog *cat, const char *path,
                    bool skip_bad, dfdg_cprimport_progress progress, dfdg_cprimport_badline bad,
                    void *ctx, struct dfdg_cprimport_stats *stats /* OUT */,
                    struct dfdg_errinfo *ei)
{
    struct dfdg_cprimport_stats st = {0, 0, 0};
    struct line_reader r;
    uint64_t total = 0;
    struct stat sb;
    dfdg_err rc;

    memset(&r, 0, sizeof r);
    if (ei != NULL)
        ei->field[0] = '\0';
    if (stats != NULL)
        *stats = st;
    if (s == NULL || path == NULL)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "CPR import needs a store and a file");

    r.f = fopen(path, "rb");
    if (r.f == NULL)
        return dfdg_errinfo_set(ei, DFDG_IO, "cannot open %s: %s", path, strerror(errno));
    if (fstat(fileno(r.f), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0)
        total = (uint64_t)sb.st_size;
    r.chunk = malloc(READ_CHUNK);
    r.line = malloc(DFDG_CPRIMPORT_LINE_MAX);
    if (r.chunk == NULL || r.line == NULL) {
        rc = dfdg_errinfo_set(ei, DFDG_NOMEM, "out of memory");
        goto free_reader;
    }

    rc = dfdg_store_begin(s);
    if (rc != DFDG_OK) {
        dfdg_errinfo_set(ei, rc, "cannot start a transaction: %s", dfdg_err_message(rc));
        goto free_reader;
    }

    for (;;) {
        struct dfdg_errinfo lei;
        struct dfdg_person person;
        int got = reader_next(&r);
        if (got < 0) {
            rc = dfdg_errinfo_set(ei, DFDG_IO, "cannot read %s: %s", path, strerror(errno));
            goto rollback;
        }
        if (got == 0)
            break;
        st.lines++;
        if (progress != NULL && st.lines % PROGRESS_EVERY == 0)
            progress(ctx, st.lines, r.bytes, total);

        memset(&lei, 0, sizeof lei);
        const char *text = r.line;
        size_t len = r.len;
        if (st.lines == 1 && len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
            text += 3;
            len -= 3;
        }
        if (r.too_long) {
            rc = dfdg_errinfo_set(&lei, DFDG_INVAL, "line longer than 1 MiB");
        } else if (is_blank(text, len)) {
            continue;
        } else {
            rc = dfdg_cprimport_parse_line(text, len, &person, &lei);
            if (rc == DFDG_OK) {
                rc = put_person(s, cat, &person, skip_bad, &lei);
                dfdg_person_cleanup(&person);
                if (rc == DFDG_OK) {
                    st.imported++;
                    continue;
                }
            }
        }

        /* A bad line, or a failure that stops the import. */
        if (!skip_bad || !is_data_error(rc)) {
            dfdg_errinfo_set(ei, rc, "line %zu: %s", st.lines, lei.msg);
            if (ei != NULL)
                dfdg_strlcpy(ei->field, lei.field, sizeof ei->field);
            goto rollback;
        }
        st.skipped++;
        if (bad != NULL)
            bad(ctx, st.lines, lei.msg);
    }

    if (progress != NULL)
        progress(ctx, st.lines, r.bytes, total);
    rc = dfdg_store_commit(s);
    if (rc != DFDG_OK) {
        dfdg_errinfo_set(ei, rc, "cannot commit the import: %s", dfdg_err_message(rc));
        goto rollback;
    }
    goto free_reader;

rollback:
    dfdg_store_rollback(s);
    st.imported = 0;
free_reader:
    free(r.line);
    free(r.chunk);
    fclose(r.f);
    if (stats != NULL)
        *stats = st;
    return rc;
}
