/* SPDX-License-Identifier: Apache-2.0 */
/*
 * verify.c: RFC 9162 proof verification (inclusion 2.1.3.2, consistency 2.1.4.2) and a
 * streaming tree-head recomputation. Deliberately shares no code with merkle.c except libsodium's
 * SHA-256: leaf and node hashing are written again here, so one mistake cannot be made twice.
 * Every loop is bounded by the 64 bits of the tree size, whatever the proof length.
 */
#include "core/dfdg.h"
#include "audit/verify.h"

#include <pthread.h>
#include <sodium.h>

#define HLEN DFDG_VERIFY_HASH_LEN

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
    DFDG_ASSERT(sodium_rc >= 0);
}

static void
hash_leaf(const uint8_t *entry, size_t len, uint8_t out[HLEN])
{
    const uint8_t prefix = 0x00;
    crypto_hash_sha256_state st;

    sha_ready();
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &prefix, 1);
    if (len > 0)
        crypto_hash_sha256_update(&st, entry, len);
    crypto_hash_sha256_final(&st, out);
}

/* out = SHA-256(0x01 || l || r); out may alias l or r. */
static void
hash_children(const uint8_t l[HLEN], const uint8_t r[HLEN], uint8_t out[HLEN])
{
    uint8_t buf[1 + 2 * HLEN];

    sha_ready();
    buf[0] = 0x01;
    memcpy(buf + 1, l, HLEN);
    memcpy(buf + 1 + HLEN, r, HLEN);
    crypto_hash_sha256(out, buf, sizeof buf);
}

static bool
hash_equal(const uint8_t a[HLEN], const uint8_t b[HLEN])
{
    return memcmp(a, b, HLEN) == 0;
}

void
dfdg_verify_leaf_hash(const uint8_t *entry, size_t len, uint8_t out[HLEN])
{
    hash_leaf(entry, len, out);
}

bool
dfdg_verify_inclusion(const uint8_t leaf_hash[HLEN], uint64_t index, uint64_t size,
                      const uint8_t proof[][HLEN], size_t n, const uint8_t root[HLEN])
{
    uint8_t r[HLEN];

    if (index >= size)
        return false;
    uint64_t fn = index, sn = size - 1;
    memcpy(r, leaf_hash, HLEN);
    for (size_t i = 0; i < n; i++) {
        /* sn reaching 0 means the path is at the root already: the proof is too long. */
        if (sn == 0)
            return false;
        if ((fn & 1) || fn == sn) {
            hash_children(proof[i], r, r);
            /* A right-edge node with no right sibling moves up without hashing. */
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            hash_children(r, proof[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && hash_equal(r, root);
}

bool
dfdg_verify_consistency(uint64_t first, uint64_t second, const uint8_t first_root[HLEN],
                        const uint8_t second_root[HLEN], const uint8_t proof[][HLEN], size_t n)
{
    uint8_t fr[HLEN], sr[HLEN];

    if (first == 0 || first > second)
        return false;
    if (first == second)
        return n == 0 && hash_equal(first_root, second_root);
    if (n == 0)
        return false;

    /* When first is a power of two its head is a node of the new tree, and the RFC has the
     * verifier put it in front of the path instead of the prover sending it. */
    bool lead = (first & (first - 1)) == 0;
    size_t total = n + (lead ? 1 : 0);
    uint64_t fn = first - 1, sn = second - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    memcpy(fr, lead ? first_root : proof[0], HLEN);
    memcpy(sr, fr, HLEN);
    for (size_t i = 1; i < total; i++) {
        const uint8_t *c = lead ? proof[i - 1] : proof[i];
        if (sn == 0)
            return false;
        if ((fn & 1) || fn == sn) {
            hash_children(c, fr, fr);
            hash_children(c, sr, sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            hash_children(sr, c, sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && hash_equal(fr, first_root) && hash_equal(sr, second_root);
}

void
dfdg_verify_tree_init(struct dfdg_verify_tree *t)
{
    memset(t, 0, sizeof *t);
}

void
dfdg_verify_tree_add(struct dfdg_verify_tree *t, const uint8_t *entry, size_t len)
{
    uint8_t leaf[HLEN];

    hash_leaf(entry, len, leaf);
    dfdg_verify_tree_add_leaf(t, leaf);
}

void
dfdg_verify_tree_add_leaf(struct dfdg_verify_tree *t, const uint8_t leaf_hash[HLEN])
{
    uint8_t carry[HLEN];
    unsigned level = 0;

    /* 2^64 - 1 entries cannot be reached by reading a log; stop rather than wrap. */
    DFDG_ASSERT(t->size != UINT64_MAX);
    memcpy(carry, leaf_hash, HLEN);
    while ((t->size >> level) & 1) {
        hash_children(t->stack[level], carry, carry);
        level++;
    }
    memcpy(t->stack[level], carry, HLEN);
    t->size++;
}

void
dfdg_verify_tree_root(const struct dfdg_verify_tree *t, uint8_t out[HLEN])
{
    bool have = false;

    if (t->size == 0) {
        sha_ready();
        crypto_hash_sha256(out, NULL, 0);
        return;
    }
    /* Fold the edge from the smallest (rightmost) subtree leftwards. */
    for (unsigned level = 0; level < 64; level++) {
        if (!((t->size >> level) & 1))
            continue;
        if (have) {
            hash_children(t->stack[level], out, out);
        } else {
            memcpy(out, t->stack[level], HLEN);
            have = true;
        }
    }
}
