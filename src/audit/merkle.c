/* SPDX-License-Identifier: Apache-2.0 */
/*
 * merkle.c: the audit log's Merkle tree, writer and prover side (RFC 9162 section 2.1): leaf
 * and node hashing, the tree head MTH, inclusion proofs (2.1.3.1) and consistency proofs
 * (2.1.4.1), and the in-memory right edge used for appends. Storage is the caller's: the
 * functions read and write perfect-subtree hashes through callbacks.
 *
 * Design:
 *  1. Node (L, i) is the perfect subtree over leaves [i*2^L, (i+1)*2^L). Such a node never
 *     changes once its last leaf is appended, so a store can write it once and keep it.
 *  2. MTH(D[s:e]) for any range the RFC recursion visits is a right fold over the perfect
 *     subtrees of the binary decomposition of e - s (largest first), because the recursion
 *     splits at the largest power of two below the size. That needs s to be a multiple of the
 *     largest of those subtrees; the recursion guarantees it and mth_range() checks it.
 *  3. The RFC recursions are run top-down as loops. Before the first step into a left child
 *     every sibling is a perfect left subtree (one read); the first step left leaves one
 *     right-hand sibling of up to log2 n reads; after it every range is perfect. So a proof costs
 *     O(log n) reads and hashes, never a pass over the tree.
 *  4. Proofs are collected top-down into a local buffer and handed out reversed (bottom-up, the
 *     RFC order), so the caller's buffer is only written on success.
 */
#include "core/dfdg.h"
#include "audit/merkle.h"

#include <pthread.h>
#include <sodium.h>

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_rc;

static void
sodium_start(void)
{
    sodium_rc = sodium_init();
}

static void
sha_ready(void)
{
    pthread_once(&sodium_once, sodium_start);
    /* sodium_init only fails when the process cannot work at all. */
    DFDG_ASSERT(sodium_rc >= 0);
}

void
dfdg_merkle_leaf_hash(const uint8_t *entry, size_t len, uint8_t out[DFDG_HASH_LEN])
{
    static const uint8_t prefix = 0x00;
    crypto_hash_sha256_state st;

    sha_ready();
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    if (len > 0)
        crypto_hash_sha256_update(&st, entry, len);
    crypto_hash_sha256_final(&st, out);
}

void
dfdg_merkle_node_hash(const uint8_t left[DFDG_HASH_LEN], const uint8_t right[DFDG_HASH_LEN],
                      uint8_t out[DFDG_HASH_LEN])
{
    uint8_t buf[1 + 2 * DFDG_HASH_LEN];

    sha_ready();
    buf[0] = 0x01;
    memcpy(buf + 1, left, DFDG_HASH_LEN);
    memcpy(buf + 1 + DFDG_HASH_LEN, right, DFDG_HASH_LEN);
    crypto_hash_sha256(out, buf, sizeof buf);
}

void
dfdg_merkle_empty_root(uint8_t out[DFDG_HASH_LEN])
{
    sha_ready();
    crypto_hash_sha256(out, NULL, 0);
}

/* floor(log2(x)) for x > 0. */
static unsigned
floor_log2(uint64_t x)
{
    unsigned l = 0;
    while (x >>= 1)
        l++;
    return l;
}

/* The RFC's k: the largest power of two smaller than n, for n >= 2. */
static uint64_t
split_point(uint64_t n)
{
    return UINT64_C(1) << floor_log2(n - 1);
}

/*
 * MTH(D[start:end]) as a right fold over the perfect subtrees of end - start (invariant 2):
 * popcount(end - start) reads. Walking the set bits from the lowest up visits the subtrees from
 * the right end leftwards, which is the order the fold needs.
 */
static dfdg_err
mth_range(dfdg_merkle_node_fn get, void *ctx, uint64_t start, uint64_t end,
          uint8_t out[DFDG_HASH_LEN] /* OUT */)
{
    dfdg_err rc;
    uint64_t size = end - start;
    uint8_t h[DFDG_HASH_LEN];
    bool first = true;

    DFDG_ASSERT(start <= end);
    if (size == 0) {
        dfdg_merkle_empty_root(out);
        return DFDG_OK;
    }
    /* The largest subtree must start on its own boundary or it is not a stored node. */
    DFDG_ASSERT(start % (UINT64_C(1) << floor_log2(size)) == 0);

    uint64_t pos = end;
    for (unsigned level = 0; level < 64; level++) {
        if (!((size >> level) & 1))
            continue;
        pos -= UINT64_C(1) << level;
        if ((rc = get(ctx, level, pos >> level, h)) != DFDG_OK)
            return rc;
        if (first) {
            memcpy(out, h, DFDG_HASH_LEN);
            first = false;
        } else {
            dfdg_merkle_node_hash(h, out, out);
        }
    }
    return DFDG_OK;
}

dfdg_err
dfdg_merkle_root(dfdg_merkle_node_fn get, void *ctx, uint64_t size, uint8_t out[DFDG_HASH_LEN])
{
    return mth_range(get, ctx, 0, size, out);
}

/* Hands out the top-down list tmp[0..cnt) bottom-up (invariant 4). */
static dfdg_err
emit_reversed(uint8_t (*tmp)[DFDG_HASH_LEN], size_t cnt, uint8_t out[][DFDG_HASH_LEN], size_t cap,
              size_t *n)
{
    *n = cnt;
    if (cnt > cap)
        return DFDG_INVAL;
    for (size_t i = 0; i < cnt; i++)
        memcpy(out[i], tmp[cnt - 1 - i], DFDG_HASH_LEN);
    return DFDG_OK;
}

dfdg_err
dfdg_merkle_inclusion_proof(dfdg_merkle_node_fn get, void *ctx, uint64_t index, uint64_t size,
                            uint8_t out[][DFDG_HASH_LEN], size_t cap, size_t *n)
{
    dfdg_err rc;
    uint8_t tmp[DFDG_MERKLE_MAX_INCLUSION][DFDG_HASH_LEN];
    size_t cnt = 0;

    *n = 0;
    if (index >= size)
        return DFDG_INVAL;

    /* PATH(m, D[s:e]): the sibling of the half holding m, then recurse into that half. */
    uint64_t s = 0, e = size;
    while (e - s > 1) {
        uint64_t k = split_point(e - s);
        DFDG_ASSERT(cnt < DFDG_MERKLE_MAX_INCLUSION);
        if (index < s + k) {
            rc = mth_range(get, ctx, s + k, e, tmp[cnt]);
            e = s + k;
        } else {
            rc = mth_range(get, ctx, s, s + k, tmp[cnt]);
            s += k;
        }
        if (rc != DFDG_OK)
            return rc;
        cnt++;
    }
    return emit_reversed(tmp, cnt, out, cap, n);
}

dfdg_err
dfdg_merkle_consistency_proof(dfdg_merkle_node_fn get, void *ctx, uint64_t first, uint64_t second,
                              uint8_t out[][DFDG_HASH_LEN], size_t cap, size_t *n)
{
    dfdg_err rc;
    uint8_t tmp[DFDG_MERKLE_MAX_CONSISTENCY][DFDG_HASH_LEN];
    size_t cnt = 0;

    *n = 0;
    if (first == 0 || first > second)
        return DFDG_INVAL;

    /*
     * SUBPROOF(m, D[s:e], b) with m = first - s. b turns false at the first step right: from
     * then on the old tree's head is not a node the verifier already holds, so it is sent.
     */
    uint64_t s = 0, e = second;
    bool b = true;
    for (;;) {
        uint64_t m = first - s;
        DFDG_ASSERT(cnt < DFDG_MERKLE_MAX_CONSISTENCY);
        if (m == e - s) {
            if (!b) {
                if ((rc = mth_range(get, ctx, s, e, tmp[cnt])) != DFDG_OK)
                    return rc;
                cnt++;
            }
            break;
        }
        /* Here 1 <= m < e - s, so the range has at least two leaves. */
        uint64_t k = split_point(e - s);
        if (m <= k) {
            rc = mth_range(get, ctx, s + k, e, tmp[cnt]);
            e = s + k;
        } else {
            rc = mth_range(get, ctx, s, s + k, tmp[cnt]);
            s += k;
            b = false;
        }
        if (rc != DFDG_OK)
            return rc;
        cnt++;
    }
    return emit_reversed(tmp, cnt, out, cap, n);
}

void
dfdg_merkle_frontier_init(struct dfdg_merkle_frontier *f)
{
    memset(f, 0, sizeof *f);
}

dfdg_err
dfdg_merkle_append(struct dfdg_merkle_frontier *f, const uint8_t leaf[DFDG_HASH_LEN],
                   dfdg_merkle_put_fn put, void *ctx)
{
    dfdg_err rc;
    uint64_t s = f->size;
    uint8_t carry[DFDG_HASH_LEN];
    unsigned level = 0;

    if (s == UINT64_MAX)
        return DFDG_TOO_LARGE;
    if (put && (rc = put(ctx, 0, s, leaf)) != DFDG_OK)
        return rc;
    memcpy(carry, leaf, DFDG_HASH_LEN);
    /*
     * Each trailing one bit of the old size is a perfect subtree the new leaf's subtree now
     * pairs with; the low `level` bits of s are all ones, so the finished node's index is
     * s >> level. f is only written once every put has succeeded.
     */
    while ((s >> level) & 1) {
        dfdg_merkle_node_hash(f->nodes[level], carry, carry);
        level++;
        if (put && (rc = put(ctx, level, s >> level, carry)) != DFDG_OK)
            return rc;
    }
    memcpy(f->nodes[level], carry, DFDG_HASH_LEN);
    f->size = s + 1;
    return DFDG_OK;
}

void
dfdg_merkle_frontier_root(const struct dfdg_merkle_frontier *f, uint8_t out[DFDG_HASH_LEN])
{
    bool first = true;

    if (f->size == 0) {
        dfdg_merkle_empty_root(out);
        return;
    }
    for (unsigned level = 0; level < 64; level++) {
        if (!((f->size >> level) & 1))
            continue;
        if (first) {
            memcpy(out, f->nodes[level], DFDG_HASH_LEN);
            first = false;
        } else {
            dfdg_merkle_node_hash(f->nodes[level], out, out);
        }
    }
}

dfdg_err
dfdg_merkle_frontier_load(struct dfdg_merkle_frontier *f, uint64_t size, dfdg_merkle_node_fn get,
                          void *ctx)
{
    dfdg_err rc;
    struct dfdg_merkle_frontier tmp;

    dfdg_merkle_frontier_init(&tmp);
    for (unsigned level = 0; level < 64; level++) {
        if (!((size >> level) & 1))
            continue;
        /* The level-L subtree of the edge ends at size with its lower bits cleared. */
        if ((rc = get(ctx, level, (size >> level) - 1, tmp.nodes[level])) != DFDG_OK)
            return rc;
    }
    tmp.size = size;
    *f = tmp;
    return DFDG_OK;
}
