/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check.c: the verification pass behind `dfdg audit verify` (see check.h). It reads the store
 * as an outsider would: the tree is rebuilt with verify.h's streaming tree, the signed bytes of
 * a tree head are built here again, and an entry is read by a small scanner of its top level,
 * so that nothing in auditlog.c or merkle.c can vouch for itself.
 *
 * Invariants:
 *   1. Checking stops at the first problem in log order, so the report names the earliest
 *      place where the log and its heads disagree; anything after it is not looked at.
 *   2. Heads drive the pass: the tree heads' scan runs outermost and, for each head, the
 *      entries up to its size are scanned from where the previous head left off. Everything a
 *      head covers is therefore read in the one snapshot the outer scan holds, and memory stays
 *      O(log n) however many heads or entries there are.
 *   3. This file allocates nothing per entry: the row's bytes are borrowed from the store,
 *      the scanner only walks them, and hashes live on the stack.
 */
#include "core/dfdg.h"
#include "audit/check.h"
#include "audit/verify.h"
#include "core/when.h"

#include <sodium.h>
#include <stdarg.h>

#define PUBLIC_KEY "audit_public"
#define STH_MESSAGE_LEN (11 + 8 + 8 + 32)
#define PROGRESS_EVERY 16384u

struct check {
    struct dfdg_store *s;            /* the store read */
    struct dfdg_audit_report *out;   /* the report being filled */
    struct dfdg_verify_tree tree;    /* the tree of the good entries read so far */
    dfdg_audit_progress_cb progress; /* or NULL */
    void *ctx;                       /* progress's */
    uint64_t total;                  /* log size when the check started (for progress) */
    int64_t from;                    /* where the next entry scan starts */
    uint64_t target;                 /* the entry scan stops when the tree reaches this size */
    int64_t prev_size;               /* size of the last good head (0 before the first) */
    int64_t prev_at;                 /* its time, or INT64_MIN */
    bool failed;                     /* a problem was found: stop */
    dfdg_err rc;                     /* a store error met inside a callback */
};

/* Records the first problem and stops the pass. */
static void problem(struct check *c, int64_t entry, int64_t head, const char *fmt, ...)
    DFDG_PRINTF(4, 5);

static void
problem(struct check *c, int64_t entry, int64_t head, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->out->problem, sizeof c->out->problem, fmt, ap);
    va_end(ap);
    c->out->ok = false;
    c->out->bad_entry = entry;
    c->out->bad_head = head;
    c->failed = true;
}

/* --- reading an entry's top level ----------------------------------------------------------- */

/* What the checker needs from an entry: its "i" and the text of its "at". */
struct fields {
    bool has_i;
    int64_t i;
    const char *at; /* the string's bytes between the quotes, or NULL */
    size_t at_len;
};

static const char *
skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* p is at a '"'; returns the byte after the closing quote, or NULL. */
static const char *
skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '"')
            return p + 1;
        if ((unsigned char)*p < 0x20)
            return NULL;
        if (*p == '\\' && ++p == end)
            return NULL;
    }
    return NULL;
}

/*
 * Skips one value: a string, a scalar, or an object/array with balanced and matching brackets
 * (at most 64 deep). A reader of the structure, not a validator: the leaf hash vouches for the
 * bytes, this only has to find the top level reliably.
 */
static const char *
skip_value(const char *p, const char *end)
{
    uint64_t kinds = 0; /* bit d: the container at depth d is an object */
    unsigned depth = 0;

    do {
        p = skip_ws(p, end);
        if (p == end)
            return NULL;
        if (*p == '"') {
            p = skip_string(p, end);
            if (p == NULL)
                return NULL;
        } else if (*p == '{' || *p == '[') {
            if (depth == 64)
                return NULL;
            kinds = (kinds & ~(UINT64_C(1) << depth)) | ((uint64_t)(*p == '{') << depth);
            depth++;
            p++;
        } else if (*p == '}' || *p == ']') {
            if (depth == 0 || ((kinds >> (depth - 1)) & 1) != (uint64_t)(*p == '}'))
                return NULL;
            depth--;
            p++;
        } else if (*p == ',' || *p == ':') {
            if (depth == 0)
                return NULL;
            p++;
        } else {
            const char *q = p;
            while (p < end && (*p == '-' || *p == '+' || *p == '.' || (*p >= '0' && *p <= '9') ||
                               (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
                p++;
            if (p == q)
                return NULL;
        }
    } while (depth > 0);
    return p;
}

/* Parses a JSON integer (no fraction, no exponent) filling exactly [p, q). */
static bool
parse_int(const char *p, const char *q, int64_t *out /* OUT */)
{
    bool neg = p < q && *p == '-';
    uint64_t v = 0;
    const uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;

    if (neg)
        p++;
    if (p == q)
        return false;
    for (; p < q; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (lim - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    return true;
}

/* Reads the top-level object of an entry; false when it is not one or "i"/"at" is malformed. */
static bool
read_fields(const char *p, size_t len, struct fields *f /* OUT */)
{
    const char *end = p + len;

    memset(f, 0, sizeof *f);
    p = skip_ws(p, end);
    if (p == end || *p++ != '{')
        return false;
    p = skip_ws(p, end);
    if (p < end && *p == '}')
        return skip_ws(p + 1, end) == end;
    for (;;) {
        if (p == end || *p != '"')
            return false;
        const char *key = p + 1;
        p = skip_string(p, end);
        if (p == NULL)
            return false;
        size_t klen = (size_t)(p - 1 - key);
        p = skip_ws(p, end);
        if (p == end || *p++ != ':')
            return false;
        p = skip_ws(p, end);
        const char *v = p;
        p = skip_value(p, end);
        if (p == NULL)
            return false;
        if (klen == 1 && key[0] == 'i') {
            if (f->has_i || !parse_int(v, p, &f->i))
                return false;
            f->has_i = true;
        } else if (klen == 2 && key[0] == 'a' && key[1] == 't') {
            if (f->at != NULL || *v != '"')
                return false;
            f->at = v + 1;
            f->at_len = (size_t)(p - v - 2);
        }
        p = skip_ws(p, end);
        if (p == end)
            return false;
        if (*p == '}')
            return skip_ws(p + 1, end) == end;
        if (*p++ != ',')
            return false;
        p = skip_ws(p, end);
    }
}

/* --- entries --------------------------------------------------------------------------------- */

static void
report_progress(struct check *c)
{
    if (c->progress != NULL)
        c->progress(c->ctx, c->tree.size, c->total);
}

/* Checks one entry against its index, its row's time and its stored leaf hash; adds it. */
static bool
on_entry(int64_t idx, int64_t at, const char *entry, size_t len, void *ctx)
{
    struct check *c = ctx;
    int64_t want = (int64_t)c->tree.size;

    if (idx < want) {
        problem(c, idx, -1, "entry %lld does not belong in the log: entries are numbered from 0",
                (long long)idx);
        return false;
    }
    if (idx > want) {
        if (idx == want + 1)
            problem(c, want, -1, "entry %lld is missing", (long long)want);
        else
            problem(c, want, -1, "entries %lld..%lld are missing", (long long)want,
                    (long long)idx - 1);
        return false;
    }
    struct fields f;
    if (!read_fields(entry, len, &f) || !f.has_i || f.at == NULL) {
        problem(c, idx, -1, "entry %lld was edited: it is not a well-formed audit entry",
                (long long)idx);
        return false;
    }
    if (f.i != idx) {
        problem(c, idx, -1, "entry %lld was moved or renumbered: it says it is entry %lld",
                (long long)idx, (long long)f.i);
        return false;
    }
    char when[DFDG_TIME_LEN];
    dfdg_time_format(at, when);
    if (f.at_len != strlen(when) || memcmp(f.at, when, f.at_len) != 0) {
        problem(c, idx, -1, "entry %lld was edited: its row's time %s is not the entry's \"%.*s\"",
                (long long)idx, when, (int)(f.at_len < 40 ? f.at_len : 40), f.at);
        return false;
    }
    uint8_t leaf[DFDG_VERIFY_HASH_LEN], stored[DFDG_VERIFY_HASH_LEN];
    dfdg_verify_leaf_hash((const uint8_t *)entry, len, leaf);
    dfdg_err rc = dfdg_store_audit_node_get(c->s, 0, idx, stored);
    if (rc == DFDG_NOT_FOUND || rc == DFDG_CORRUPT) {
        problem(c, idx, -1,
                "entry %lld has no valid stored leaf hash: it was inserted or its hash removed",
                (long long)idx);
        return false;
    }
    if (rc != DFDG_OK) {
        c->rc = rc;
        return false;
    }
    if (memcmp(leaf, stored, sizeof leaf) != 0) {
        problem(c, idx, -1, "entry %lld was edited: it does not match its stored leaf hash",
                (long long)idx);
        return false;
    }
    dfdg_verify_tree_add_leaf(&c->tree, leaf);
    c->out->entries++;
    if (c->tree.size % PROGRESS_EVERY == 0)
        report_progress(c);
    return c->tree.size < c->target;
}

/* Reads entries until the tree has target of them (or the log ends, or a problem). */
static dfdg_err
scan_to(struct check *c, uint64_t target)
{
    c->target = target;
    dfdg_err rc = dfdg_store_audit_scan(c->s, c->from, on_entry, c);
    c->from = (int64_t)c->tree.size;
    if (rc == DFDG_CORRUPT) {
        problem(c, (int64_t)c->tree.size, -1, "entry %lld is unreadable: %s",
                (long long)c->tree.size, dfdg_store_last_error(c->s));
        rc = DFDG_OK;
    }
    return rc != DFDG_OK ? rc : c->rc;
}

/* --- tree heads ------------------------------------------------------------------------------ */

static void
put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* The bytes a head's signature covers: "dfdg-sth-v1" || size || at (big-endian) || root. */
static void
sth_message(const struct dfdg_sth *h, uint8_t out[STH_MESSAGE_LEN])
{
    memcpy(out, "dfdg-sth-v1", 11);
    put_be64(out + 11, (uint64_t)h->size);
    put_be64(out + 19, (uint64_t)h->at);
    memcpy(out + 27, h->root, 32);
}

/* Brings the tree to the head's size and checks the head against it. */
static bool
on_head(const struct dfdg_sth *h, void *ctx)
{
    struct check *c = ctx;
    long long size = (long long)h->size;

    if (h->size < 0 || (uint64_t)h->size < c->tree.size) {
        problem(c, -1, h->size, "tree head of size %lld has an impossible size", size);
        return false;
    }
    if ((uint64_t)h->size > c->tree.size) {
        c->rc = scan_to(c, (uint64_t)h->size);
        if (c->rc != DFDG_OK || c->failed)
            return false;
    }
    if ((uint64_t)h->size > c->tree.size) {
        long long have = (long long)c->tree.size;
        if (have == size - 1)
            problem(c, have, h->size,
                    "entry %lld is missing (the tree head of size %lld covers it)", have, size);
        else
            problem(c, have, h->size,
                    "entries %lld..%lld are missing (the tree head of size %lld covers them)", have,
                    size - 1, size);
        return false;
    }
    if (!c->out->has_key) {
        problem(c, -1, h->size,
                "tree head of size %lld cannot be checked: the store has no audit public key",
                size);
        return false;
    }
    uint8_t msg[STH_MESSAGE_LEN];
    sth_message(h, msg);
    if (crypto_sign_verify_detached(h->sig, msg, sizeof msg, c->out->public_key) != 0) {
        problem(c, -1, h->size, "tree head of size %lld has a bad signature", size);
        return false;
    }
    if (h->at < c->prev_at) {
        problem(c, -1, h->size, "tree head of size %lld is dated before the tree head of size %lld",
                size, (long long)c->prev_size);
        return false;
    }
    uint8_t root[DFDG_VERIFY_HASH_LEN];
    dfdg_verify_tree_root(&c->tree, root);
    if (memcmp(root, h->root, sizeof root) != 0) {
        if (h->size == 0)
            problem(c, -1, 0, "tree head of size 0 does not match the empty tree");
        else
            problem(c, -1, h->size,
                    "tree head of size %lld does not match the entries: the first bad entry is "
                    "between %lld and %lld",
                    size, (long long)c->prev_size, size - 1);
        return false;
    }
    c->prev_size = h->size;
    c->prev_at = h->at;
    c->out->heads++;
    return true;
}

/* Loads the public key; its absence is a problem only once a head needs it. */
static dfdg_err
load_key(struct check *c)
{
    uint8_t buf[64];
    size_t len = sizeof buf;
    dfdg_err rc = dfdg_store_meta_get(c->s, PUBLIC_KEY, buf, &len);
    if (rc == DFDG_NOT_FOUND || rc == DFDG_TOO_LARGE || (rc == DFDG_OK && len != 32))
        return DFDG_OK; /* has_key stays false */
    if (rc != DFDG_OK)
        return rc;
    memcpy(c->out->public_key, buf, 32);
    c->out->has_key = true;
    return DFDG_OK;
}

dfdg_err
dfdg_audit_check(struct dfdg_store *s, dfdg_audit_progress_cb progress, void *ctx,
                 struct dfdg_audit_report *out)
{
    struct check c = {.s = s, .out = out, .progress = progress, .ctx = ctx};

    memset(out, 0, sizeof *out);
    out->ok = true;
    out->bad_entry = -1;
    out->bad_head = -1;
    c.from = INT64_MIN; /* so that a row numbered below 0 is seen too */
    c.prev_at = INT64_MIN;
    dfdg_verify_tree_init(&c.tree);
    if (sodium_init() < 0)
        return DFDG_INTERNAL;

    int64_t total = 0;
    dfdg_err rc = dfdg_store_audit_size(s, &total);
    if (rc == DFDG_OK) {
        c.total = total > 0 ? (uint64_t)total : 0;
        rc = load_key(&c);
    }
    if (rc == DFDG_OK) {
        rc = dfdg_store_sth_scan(s, on_head, &c);
        if (rc == DFDG_CORRUPT && !c.failed) {
            problem(&c, -1, -1, "a stored tree head is malformed: %s", dfdg_store_last_error(s));
            rc = DFDG_OK;
        }
        if (rc == DFDG_OK)
            rc = c.rc;
    }
    /* The entries after the newest head: checked like the rest, but no head vouches for them. */
    if (rc == DFDG_OK && !c.failed)
        rc = scan_to(&c, UINT64_MAX);
    if (rc != DFDG_OK) {
        out->ok = false;
        snprintf(out->problem, sizeof out->problem, "cannot read the audit log: %s (%s)",
                 dfdg_err_message(rc), dfdg_store_last_error(s));
        return rc;
    }
    if (!c.failed)
        out->unsigned_tail = c.tree.size - (uint64_t)c.prev_size;
    report_progress(&c);
    return DFDG_OK;
}
