/* SPDX-License-Identifier: Apache-2.0 */
/*
 * auditlog.c: appending audit entries and signing tree heads (see auditlog.h).
 *
 * Invariants:
 *   1. Entries are numbered 0, 1, 2, ... with no gap; entry i is leaf i of the tree, and its
 *      canonical bytes carry i, so a row moved or renumbered no longer matches its leaf.
 *   2. The frontier in memory always equals the stored tree of the committed (or current)
 *      transaction: the writer marks it before each request and resets it on rollback.
 *   3. A tree head is signed over DFDG_STH_MESSAGE_LEN fixed bytes with a key that never
 *      leaves the store and process (sodium_malloc, wiped on free).
 */
#include "core/dfdg.h"
#include "audit/auditlog.h"
#include "core/log.h"
#include "core/when.h"

#include <sodium.h>

#define SECRET_KEY "audit_secret"
#define PUBLIC_KEY "audit_public"

struct dfdg_audit {
    struct dfdg_merkle_frontier frontier; /* the tree's right edge */
    uint8_t *sk;                          /* Ed25519 signing key (sodium_malloc) */
    uint64_t signed_size;                 /* size of the newest tree head */
    uint64_t signing_size;                /* size being signed, until committed */
    int64_t last_at;                      /* time of the newest entry known (microseconds) */
};

struct node_io {
    struct dfdg_store *s;
};

static dfdg_err
get_node(void *ctx, unsigned level, uint64_t index, uint8_t out[32])
{
    struct node_io *io = ctx;
    return dfdg_store_audit_node_get(io->s, level, (int64_t)index, out);
}

static dfdg_err
put_node(void *ctx, unsigned level, uint64_t index, const uint8_t hash[32])
{
    struct node_io *io = ctx;
    return dfdg_store_audit_node_put(io->s, level, (int64_t)index, hash);
}

/* Loads the signing key, or makes and stores one (in its own transaction). */
static dfdg_err
load_key(struct dfdg_store *s, uint8_t *sk, struct dfdg_errinfo *ei)
{
    size_t len = crypto_sign_SECRETKEYBYTES;
    dfdg_err rc = dfdg_store_meta_get(s, SECRET_KEY, sk, &len);
    if (rc == DFDG_OK && len == crypto_sign_SECRETKEYBYTES)
        return DFDG_OK;
    if (rc != DFDG_NOT_FOUND)
        return dfdg_errinfo_set(ei, rc == DFDG_OK ? DFDG_CORRUPT : rc,
                                "cannot read the audit signing key");
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_keypair(pk, sk);
    rc = dfdg_store_begin(s);
    if (rc == DFDG_OK)
        rc = dfdg_store_meta_put(s, SECRET_KEY, sk, crypto_sign_SECRETKEYBYTES);
    if (rc == DFDG_OK)
        rc = dfdg_store_meta_put(s, PUBLIC_KEY, pk, sizeof pk);
    if (rc == DFDG_OK)
        rc = dfdg_store_commit(s);
    else
        (void)dfdg_store_rollback(s);
    if (rc != DFDG_OK)
        return dfdg_errinfo_set(ei, rc, "cannot store a new audit signing key");
    return DFDG_OK;
}

static bool
last_at_cb(int64_t idx, int64_t at, const char *entry, size_t len, void *ctx)
{
    (void)idx;
    (void)entry;
    (void)len;
    int64_t *out = ctx;
    if (at > *out)
        *out = at;
    return true;
}

dfdg_err
dfdg_audit_open(struct dfdg_store *s, struct dfdg_audit **out, struct dfdg_errinfo *ei)
{
    *out = NULL;
    if (sodium_init() < 0)
        return dfdg_errinfo_set(ei, DFDG_INTERNAL, "libsodium failed to initialise");
    struct dfdg_audit *a = calloc(1, sizeof *a);
    if (a == NULL)
        return DFDG_NOMEM;
    a->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (a->sk == NULL) {
        free(a);
        return DFDG_NOMEM;
    }
    dfdg_err rc = load_key(s, a->sk, ei);
    int64_t size = 0;
    if (rc == DFDG_OK)
        rc = dfdg_store_audit_size(s, &size);
    struct node_io io = {s};
    if (rc == DFDG_OK)
        rc = dfdg_merkle_frontier_load(&a->frontier, (uint64_t)size, get_node, &io);
    if (rc == DFDG_OK && size > 0)
        rc = dfdg_store_audit_scan(s, size - 1, last_at_cb, &a->last_at);
    struct dfdg_sth sth;
    if (rc == DFDG_OK) {
        dfdg_err r2 = dfdg_store_sth_latest(s, &sth);
        if (r2 == DFDG_OK)
            a->signed_size = (uint64_t)sth.size;
        else if (r2 != DFDG_NOT_FOUND)
            rc = r2;
    }
    if (rc != DFDG_OK) {
        if (ei != NULL && ei->msg[0] == '\0')
            dfdg_errinfo_set(ei, rc, "cannot load the audit log: %s", dfdg_err_message(rc));
        dfdg_audit_free(a);
        return rc;
    }
    a->signing_size = a->signed_size;
    *out = a;
    return DFDG_OK;
}

void
dfdg_audit_free(struct dfdg_audit *a)
{
    if (a == NULL)
        return;
    sodium_free(a->sk);
    free(a);
}

json_t *
dfdg_audit_event_new(const char *org, const char *sub, const char *action, const char *purpose,
                     const char *legal_basis, const char *rule)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[], s:[]}", "org", org, "sub", sub,
                     "action", action, "purpose", purpose != NULL ? purpose : "", "legal_basis",
                     legal_basis != NULL ? legal_basis : "", "outcome",
                     rule != NULL && *rule != '\0' ? "denied" : "allowed", "rule",
                     rule != NULL ? rule : "", "persons", "records");
}

void
dfdg_audit_event_add_person(json_t *ev, int64_t person_id)
{
    if (person_id == 0)
        return;
    json_t *arr = json_object_get(ev, "persons");
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_integer_value(v) == person_id)
            return;
    }
    json_array_append_new(arr, json_integer(person_id));
}

void
dfdg_audit_event_add_record(json_t *ev, const char *id, const char *type, int64_t person_id,
                            int status, const char *rule)
{
    json_t *o = json_pack("{s:s, s:s}", "id", id, "type", type);
    if (person_id != 0)
        json_object_set_new(o, "person", json_integer(person_id));
    if (status != 0)
        json_object_set_new(o, "status", json_integer(status));
    if (rule != NULL && *rule != '\0')
        json_object_set_new(o, "rule", json_string(rule));
    json_array_append_new(json_object_get(ev, "records"), o);
}

static int
cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void
dfdg_audit_event_set_persons(json_t *ev, int64_t *ids, size_t n)
{
    if (n > 1)
        qsort(ids, n, sizeof *ids, cmp_id);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        if (ids[i] != 0 && (i == 0 || ids[i] != ids[i - 1]))
            json_array_append_new(arr, json_integer(ids[i]));
    json_object_set_new(ev, "persons", arr);
}

/* Whether the "; "-joined list cur has part (of length n) as one of its parts. */
static bool
has_part(const char *cur, const char *part, size_t n)
{
    for (const char *p = cur; p != NULL && *p != '\0';) {
        const char *end = strstr(p, "; ");
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, part, n) == 0)
            return true;
        p = end != NULL ? end + 2 : NULL;
    }
    return false;
}

void
dfdg_audit_event_add_legal_basis(json_t *ev, const char *basis)
{
    /* Each "; "-separated reference once, in the order first seen. */
    for (const char *p = basis; p != NULL && *p != '\0';) {
        const char *end = strstr(p, "; ");
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *cur = json_string_value(json_object_get(ev, "legal_basis"));
        if (cur == NULL)
            cur = "";
        if (n > 0 && !has_part(cur, p, n)) {
            size_t size = strlen(cur) + n + 3;
            char *joined = malloc(size);
            if (joined == NULL)
                return;
            snprintf(joined, size, "%s%s%.*s", cur, *cur != '\0' ? "; " : "", (int)n, p);
            json_object_set_new(ev, "legal_basis", json_string(joined));
            free(joined);
        }
        p = end != NULL ? end + 2 : NULL;
    }
}

dfdg_err
dfdg_audit_append(struct dfdg_audit *a, struct dfdg_store *s, json_t *ev, int64_t tx_time)
{
    uint64_t idx = a->frontier.size;
    char at[DFDG_TIME_LEN];
    dfdg_time_format(tx_time, at);
    json_object_set_new(ev, "i", json_integer((json_int_t)idx));
    json_object_set_new(ev, "at", json_string(at));
    char *bytes = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
    if (bytes == NULL)
        return DFDG_NOMEM;
    size_t len = strlen(bytes);

    json_t *persons = json_object_get(ev, "persons");
    size_t np = json_array_size(persons);
    int64_t ids[64];
    int64_t *pp = np <= DFDG_ARRAY_LEN(ids) ? ids : malloc(np * sizeof *pp);
    dfdg_err rc = DFDG_NOMEM;
    if (pp == NULL)
        goto free_bytes;
    for (size_t i = 0; i < np; i++)
        pp[i] = (int64_t)json_integer_value(json_array_get(persons, i));
    rc = dfdg_store_audit_append(s, (int64_t)idx, tx_time, bytes, len, pp, np);
    if (rc == DFDG_OK) {
        uint8_t leaf[32];
        dfdg_merkle_leaf_hash((const uint8_t *)bytes, len, leaf);
        struct node_io io = {s};
        rc = dfdg_merkle_append(&a->frontier, leaf, put_node, &io);
    }
    if (pp != ids)
        free(pp);
free_bytes:
    free(bytes);
    return rc;
}

dfdg_err
dfdg_audit_sync(struct dfdg_audit *a, struct dfdg_store *s)
{
    int64_t size = 0;
    dfdg_err rc = dfdg_store_audit_size(s, &size);
    if (rc != DFDG_OK || (uint64_t)size == a->frontier.size)
        return rc;
    struct node_io io = {s};
    dfdg_log(DFDG_LOG_INFO, "audit.resync", "from=%llu to=%lld",
             (unsigned long long)a->frontier.size, (long long)size);
    rc = dfdg_merkle_frontier_load(&a->frontier, (uint64_t)size, get_node, &io);
    /* Another process wrote since: its newest entry's time bounds ours from below. */
    if (rc == DFDG_OK && size > 0)
        rc = dfdg_store_audit_scan(s, size - 1, last_at_cb, &a->last_at);
    return rc;
}

int64_t
dfdg_audit_last_at(const struct dfdg_audit *a)
{
    return a->last_at;
}

void
dfdg_audit_mark(const struct dfdg_audit *a, struct dfdg_audit_mark *m)
{
    m->frontier = a->frontier;
}

void
dfdg_audit_reset(struct dfdg_audit *a, const struct dfdg_audit_mark *m)
{
    a->frontier = m->frontier;
}

uint64_t
dfdg_audit_size(const struct dfdg_audit *a)
{
    return a->frontier.size;
}

bool
dfdg_audit_is_unsigned(const struct dfdg_audit *a)
{
    return a->frontier.size > a->signed_size;
}

static void
put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

void
dfdg_sth_message(const struct dfdg_sth *h, uint8_t out[DFDG_STH_MESSAGE_LEN])
{
    memcpy(out, "dfdg-sth-v1", 11);
    put_be64(out + 11, (uint64_t)h->size);
    put_be64(out + 19, (uint64_t)h->at);
    memcpy(out + 27, h->root, 32);
}

dfdg_err
dfdg_audit_sign(struct dfdg_audit *a, struct dfdg_store *s, int64_t now)
{
    /* Tree heads are dated in order even when another node signed one a moment ago. */
    struct dfdg_sth latest;
    dfdg_err lrc = dfdg_store_sth_latest(s, &latest);
    if (lrc == DFDG_OK && latest.at >= now)
        now = latest.at + 1;
    else if (lrc != DFDG_OK && lrc != DFDG_NOT_FOUND)
        return lrc;
    struct dfdg_sth h = {.size = (int64_t)a->frontier.size, .at = now};
    dfdg_merkle_frontier_root(&a->frontier, h.root);
    uint8_t msg[DFDG_STH_MESSAGE_LEN];
    dfdg_sth_message(&h, msg);
    crypto_sign_detached(h.sig, NULL, msg, sizeof msg, a->sk);
    dfdg_err rc = dfdg_store_sth_put(s, &h);
    if (rc == DFDG_OK) {
        a->signing_size = a->signed_size;
        a->signed_size = a->frontier.size;
    }
    return rc;
}

void
dfdg_audit_sign_failed(struct dfdg_audit *a)
{
    a->signed_size = a->signing_size;
}

dfdg_err
dfdg_audit_public_key(struct dfdg_store *s, uint8_t pk[32])
{
    size_t len = 32;
    dfdg_err rc = dfdg_store_meta_get(s, PUBLIC_KEY, pk, &len);
    if (rc == DFDG_OK && len != 32)
        rc = DFDG_CORRUPT;
    return rc;
}
