/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit.c: the audit log's public face (RFC 9162 section 4 style, over JSON):
 *   GET /v1/audit/sth                                  the newest signed tree head
 *   GET /v1/audit/proof/inclusion?index=&size=         an entry is in the tree of that size
 *   GET /v1/audit/proof/consistency?first=&second=     the smaller tree is a prefix
 * Proofs come from the stored perfect-subtree hashes in O(log n) reads; the tree is never
 * recomputed for a request. Hashes and signatures are base64 (RFC 4648 section 4).
 */
#include "core/dfdg.h"
#include "api/api_int.h"
#include "api/query.h"
#include "audit/auditlog.h"
#include "core/when.h"

#include <sodium.h>

static json_t *
b64(const uint8_t *bin, size_t len)
{
    char buf[128];
    sodium_bin2base64(buf, sizeof buf, bin, len, sodium_base64_VARIANT_ORIGINAL);
    return json_string(buf);
}

static dfdg_err
get_node(void *ctx, unsigned level, uint64_t index, uint8_t out[32])
{
    return dfdg_store_audit_node_get(ctx, level, (int64_t)index, out);
}

void
dfdg_h_audit_sth(struct dfdg_req *r)
{
    struct dfdg_store *s = dfdg_store_pool_take(r->st->readers);
    struct dfdg_sth h;
    uint8_t pk[32];
    dfdg_err rc = dfdg_store_sth_latest(s, &h);
    if (rc == DFDG_OK)
        rc = dfdg_audit_public_key(s, pk);
    dfdg_store_pool_put(r->st->readers, s);
    if (rc == DFDG_NOT_FOUND) {
        dfdg_reply_problem(r, 404, "no-tree-head", "no tree head has been signed yet");
        return;
    }
    if (rc != DFDG_OK) {
        dfdg_reply_err(r, rc, NULL);
        return;
    }
    char at[DFDG_TIME_LEN];
    dfdg_time_format(h.at, at);
    json_t *o = json_pack("{s:I, s:s, s:I, s:o, s:o, s:s, s:o, s:s}", "tree_size",
                          (json_int_t)h.size, "timestamp", at, "timestamp_us", (json_int_t)h.at,
                          "root_hash", b64(h.root, 32), "signature", b64(h.sig, 64),
                          "signature_alg", "Ed25519", "public_key", b64(pk, 32), "signed_message",
                          "\"dfdg-sth-v1\" || tree_size (8 bytes, big-endian) || "
                          "timestamp_us (8 bytes, big-endian) || root_hash");
    dfdg_reply_json(r, 200, o);
}

/* Parses a non-negative integer query parameter; adds a field error when bad. */
static bool
query_u64(struct dfdg_req *r, const char *name, uint64_t *out, struct dfdg_verrors *ve)
{
    if (!dfdg_query_parse_u64(dfdg_req_query(r, name), out)) {
        dfdg_verrors_add(ve, name, "required", "%s must be a non-negative integer", name);
        return false;
    }
    return true;
}

/* The number of entries stored; proofs are only for trees that exist. */
static bool
check_size(struct dfdg_req *r, struct dfdg_store *s, uint64_t size, struct dfdg_verrors *ve,
           const char *field)
{
    int64_t have = 0;
    dfdg_err rc = dfdg_store_audit_size(s, &have);
    if (rc != DFDG_OK) {
        dfdg_reply_err(r, rc, NULL);
        return false;
    }
    if (size > (uint64_t)have) {
        dfdg_verrors_add(ve, field, "range", "the log has %lld entries", (long long)have);
        dfdg_reply_invalid(r, ve);
        return false;
    }
    return true;
}

static json_t *
path_json(uint8_t (*path)[32], size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, b64(path[i], 32));
    return arr;
}

void
dfdg_h_audit_inclusion(struct dfdg_req *r)
{
    struct dfdg_verrors ve = {0};
    uint64_t index = 0, size = 0;
    bool ok = query_u64(r, "index", &index, &ve);
    ok = query_u64(r, "size", &size, &ve) && ok;
    if (ok && index >= size)
        dfdg_verrors_add(&ve, "index", "range", "index must be below size");
    if (ve.n > 0) {
        dfdg_reply_invalid(r, &ve);
        return;
    }
    struct dfdg_store *s = dfdg_store_pool_take(r->st->readers);
    uint8_t path[DFDG_MERKLE_MAX_INCLUSION][32], leaf[32];
    size_t n = 0;
    if (check_size(r, s, size, &ve, "size")) {
        dfdg_err rc = dfdg_merkle_inclusion_proof(get_node, s, index, size, path,
                                                  DFDG_MERKLE_MAX_INCLUSION, &n);
        if (rc == DFDG_OK)
            rc = dfdg_store_audit_node_get(s, 0, (int64_t)index, leaf);
        if (rc != DFDG_OK)
            dfdg_reply_err(r, rc, NULL);
        else
            dfdg_reply_json(r, 200,
                            json_pack("{s:I, s:I, s:o, s:o}", "leaf_index", (json_int_t)index,
                                      "tree_size", (json_int_t)size, "leaf_hash", b64(leaf, 32),
                                      "inclusion_path", path_json(path, n)));
    }
    dfdg_store_pool_put(r->st->readers, s);
}

void
dfdg_h_audit_consistency(struct dfdg_req *r)
{
    struct dfdg_verrors ve = {0};
    uint64_t first = 0, second = 0;
    bool ok = query_u64(r, "first", &first, &ve);
    ok = query_u64(r, "second", &second, &ve) && ok;
    if (ok && (first == 0 || first > second))
        dfdg_verrors_add(&ve, "first", "range", "first must be 1 to second");
    if (ve.n > 0) {
        dfdg_reply_invalid(r, &ve);
        return;
    }
    struct dfdg_store *s = dfdg_store_pool_take(r->st->readers);
    uint8_t path[DFDG_MERKLE_MAX_CONSISTENCY][32];
    size_t n = 0;
    if (check_size(r, s, second, &ve, "second")) {
        dfdg_err rc = dfdg_merkle_consistency_proof(get_node, s, first, second, path,
                                                    DFDG_MERKLE_MAX_CONSISTENCY, &n);
        if (rc != DFDG_OK)
            dfdg_reply_err(r, rc, NULL);
        else
            dfdg_reply_json(r, 200,
                            json_pack("{s:I, s:I, s:o}", "first", (json_int_t)first, "second",
                                      (json_int_t)second, "consistency_path", path_json(path, n)));
    }
    dfdg_store_pool_put(r->st->readers, s);
}
