/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_merkle.c: the audit log's Merkle prover (RFC 9162 section 2.1). Hashes, tree heads and
 * proofs for the certificate-transparency test leaves match the published values; for every
 * tree up to 200 leaves every inclusion proof, and for every pair of sizes up to 100 every
 * consistency proof, is accepted by the separate verifier and rejected once tampered with;
 * proofs stay within the RFC length bounds and read O(log n) stored nodes, also for a tree of
 * 2^20 + 12345 leaves and for sizes near 2^64; appends store exactly the perfect subtrees; the
 * in-memory frontier agrees with the stored tree and can be rebuilt from it; bad arguments and
 * store errors are reported.
 *
 * Vectors: the leaf inputs, node hashes and tree heads are those of transparency-dev/merkle
 * testonly/constants.go, and the proofs those of its proof/verify_test.go (inclusion vectors
 * there are 1-based); all were recomputed independently with a throwaway Python RFC 9162
 * implementation (hashlib) and agree. The consistency proof (3, 7) comes from that Python
 * implementation only.
 */
#include "core/dfdg.h"
#include "audit/merkle.h"
#include "audit/verify.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#define H DFDG_HASH_LEN

/* ---- vectors ---------------------------------------------------------------------------- */

static const char *const ct_leaves[8] = {
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
};

static const char *const ct_empty_root =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/* Tree heads for sizes 1..8. */
static const char *const ct_roots[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

/* Every perfect subtree of the 8-leaf tree, by level and index. */
static const char *const ct_level0[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
};
static const char *const ct_level1[4] = {
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
};
static const char *const ct_level2[2] = {
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
};

struct proof_vector {
    uint64_t a;             /* inclusion: 0-based index; consistency: first */
    uint64_t b;             /* tree size; consistency: second */
    size_t n;               /* proof length */
    const char *const p[4]; /* the proof, bottom-up */
};

static const struct proof_vector ct_inclusion[] = {
    {0, 1, 0, {NULL}},
    {0,
     8,
     3,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {5,
     8,
     3,
     {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 3, 1, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {1,
     5,
     3,
     {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

static const struct proof_vector ct_consistency[] = {
    {1, 1, 0, {NULL}},
    {1,
     8,
     3,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6,
     8,
     3,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2,
     5,
     2,
     {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {6,
     7,
     3,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {3,
     7,
     4,
     {"0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
      "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
      "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
      "837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e"}},
};

static size_t
unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = strlen(s) / 2;
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

static void
assert_hash_hex(const uint8_t h[H], const char *hex)
{
    uint8_t want[H];
    assert_int_equal(unhex(hex, want, H), H);
    assert_memory_equal(h, want, H);
}

/* ---- an in-memory node store ------------------------------------------------------------ */

struct store {
    uint8_t (*lv[64])[H];  /* lv[L][i]: node (L, i) */
    uint64_t count[64];    /* nodes held per level */
    uint64_t alloc[64];    /* capacity per level */
    uint64_t limit;        /* the tree size a reader may see; nodes beyond it are refused */
    size_t reads;          /* get calls */
    size_t writes;         /* put calls */
    size_t beyond;         /* reads for nodes not wholly inside limit */
    dfdg_err fail_get;     /* when not DFDG_OK, get returns this */
    dfdg_err fail_put;     /* when not DFDG_OK, put returns this */
    size_t fail_put_after; /* writes that succeed before fail_put applies */
};

static dfdg_err
store_put(void *ctx, unsigned level, uint64_t index, const uint8_t hash[H])
{
    struct store *s = ctx;
    assert_true(level < 64);
    if (s->fail_put != DFDG_OK && s->writes >= s->fail_put_after)
        return s->fail_put;
    s->writes++;
    /* Appends complete the nodes of a level left to right; a retry may repeat the last one. */
    assert_true(index <= s->count[level]);
    if (index < s->count[level]) {
        assert_memory_equal(s->lv[level][index], hash, H);
        return DFDG_OK;
    }
    if (s->count[level] == s->alloc[level]) {
        uint64_t na = s->alloc[level] ? 2 * s->alloc[level] : 16;
        void *p = realloc(s->lv[level], (size_t)na * H);
        assert_non_null(p);
        s->lv[level] = p;
        s->alloc[level] = na;
    }
    memcpy(s->lv[level][index], hash, H);
    s->count[level]++;
    return DFDG_OK;
}

static dfdg_err
store_get(void *ctx, unsigned level, uint64_t index, uint8_t out[H])
{
    struct store *s = ctx;
    s->reads++;
    if (s->fail_get != DFDG_OK)
        return s->fail_get;
    /* (index + 1) * 2^level <= limit, written so it cannot overflow. */
    if (level >= 64 || index >= (s->limit >> level)) {
        s->beyond++;
        return DFDG_NOT_FOUND;
    }
    if (index >= s->count[level])
        return DFDG_NOT_FOUND;
    memcpy(out, s->lv[level][index], H);
    return DFDG_OK;
}

static void
store_free(struct store *s)
{
    for (int i = 0; i < 64; i++)
        free(s->lv[i]);
}

/* A distinct, reproducible entry per index. */
static void
entry_leaf(uint64_t i, uint8_t leaf[H])
{
    uint8_t e[8];
    for (int b = 0; b < 8; b++)
        e[b] = (uint8_t)(i >> (8 * b));
    dfdg_merkle_leaf_hash(e, sizeof e, leaf);
}

static void
append_n(struct store *s, struct dfdg_merkle_frontier *f, uint64_t n)
{
    uint8_t leaf[H];
    for (uint64_t i = 0; i < n; i++) {
        entry_leaf(f->size, leaf);
        assert_int_equal(dfdg_merkle_append(f, leaf, store_put, s), DFDG_OK);
    }
    s->limit = f->size;
}

static unsigned
ceil_log2(uint64_t n)
{
    unsigned l = 0;
    while (l < 64 && (UINT64_C(1) << l) < n)
        l++;
    return l;
}

static int
popcount64(uint64_t x)
{
    int c = 0;
    for (; x; x &= x - 1)
        c++;
    return c;
}

/* Two frontiers describe the same tree: same size, same nodes where the size has a bit. */
static void
assert_frontier_equal(const struct dfdg_merkle_frontier *a, const struct dfdg_merkle_frontier *b)
{
    assert_true(a->size == b->size);
    for (unsigned l = 0; l < 64; l++)
        if ((a->size >> l) & 1)
            assert_memory_equal(a->nodes[l], b->nodes[l], H);
}

/* ---- tests ------------------------------------------------------------------------------ */

static void
test_hashes_match_vectors(void **state)
{
    (void)state;
    uint8_t e[16], h[H], l[H], r[H];

    dfdg_merkle_empty_root(h);
    assert_hash_hex(h, ct_empty_root);
    for (int i = 0; i < 8; i++) {
        size_t n = unhex(ct_leaves[i], e, sizeof e);
        dfdg_merkle_leaf_hash(n ? e : NULL, n, h);
        assert_hash_hex(h, ct_level0[i]);
    }
    for (int i = 0; i < 4; i++) {
        unhex(ct_level0[2 * i], l, H);
        unhex(ct_level0[2 * i + 1], r, H);
        dfdg_merkle_node_hash(l, r, h);
        assert_hash_hex(h, ct_level1[i]);
    }
    /* The node hash may write over an input, and the order of children matters. */
    unhex(ct_level1[0], l, H);
    unhex(ct_level1[1], r, H);
    dfdg_merkle_node_hash(r, l, h);
    assert_memory_not_equal(h, l, H);
    dfdg_merkle_node_hash(l, r, l);
    assert_hash_hex(l, ct_level2[0]);
}

/* The 8 CT leaves appended one by one: what is stored, and the tree heads at every size. */
static void
test_append_and_roots_match_vectors(void **state)
{
    (void)state;
    struct store s = {0};
    struct dfdg_merkle_frontier f;
    uint8_t e[16], leaf[H], h[H];

    dfdg_merkle_frontier_init(&f);
    dfdg_merkle_frontier_root(&f, h);
    assert_hash_hex(h, ct_empty_root);
    assert_int_equal(dfdg_merkle_root(store_get, &s, 0, h), DFDG_OK);
    assert_hash_hex(h, ct_empty_root);
    assert_int_equal(s.reads, 0);

    for (int i = 0; i < 8; i++) {
        size_t n = unhex(ct_leaves[i], e, sizeof e);
        size_t before = s.writes;
        dfdg_merkle_leaf_hash(e, n, leaf);
        assert_int_equal(dfdg_merkle_append(&f, leaf, store_put, &s), DFDG_OK);
        s.limit = f.size;
        /* One put for the leaf and one per trailing one bit of the old size. */
        unsigned trailing = 0;
        while (((unsigned)i >> trailing) & 1)
            trailing++;
        assert_int_equal(s.writes - before, 1 + trailing);
        assert_int_equal(f.size, (uint64_t)i + 1);

        dfdg_merkle_frontier_root(&f, h);
        assert_hash_hex(h, ct_roots[i]);
        s.reads = 0;
        assert_int_equal(dfdg_merkle_root(store_get, &s, f.size, h), DFDG_OK);
        assert_hash_hex(h, ct_roots[i]);
        assert_int_equal(s.reads, popcount64(f.size));
    }
    /* Exactly the 15 perfect subtrees were stored, with the published hashes. */
    assert_int_equal(s.writes, 15);
    assert_int_equal(s.count[0], 8);
    assert_int_equal(s.count[1], 4);
    assert_int_equal(s.count[2], 2);
    assert_int_equal(s.count[3], 1);
    assert_int_equal(s.count[4], 0);
    for (int i = 0; i < 8; i++)
        assert_hash_hex(s.lv[0][i], ct_level0[i]);
    for (int i = 0; i < 4; i++)
        assert_hash_hex(s.lv[1][i], ct_level1[i]);
    for (int i = 0; i < 2; i++)
        assert_hash_hex(s.lv[2][i], ct_level2[i]);
    assert_hash_hex(s.lv[3][0], ct_roots[7]);
    /* Roots of earlier sizes come from the same store. */
    for (uint64_t size = 1; size <= 8; size++) {
        assert_int_equal(dfdg_merkle_root(store_get, &s, size, h), DFDG_OK);
        assert_hash_hex(h, ct_roots[size - 1]);
    }
    store_free(&s);
}

static struct store
ct_store(void)
{
    struct store s = {0};
    struct dfdg_merkle_frontier f;
    uint8_t e[16], leaf[H];

    dfdg_merkle_frontier_init(&f);
    for (int i = 0; i < 8; i++) {
        size_t n = unhex(ct_leaves[i], e, sizeof e);
        dfdg_merkle_leaf_hash(e, n, leaf);
        assert_int_equal(dfdg_merkle_append(&f, leaf, store_put, &s), DFDG_OK);
    }
    s.limit = 8;
    return s;
}

static void
test_proofs_match_vectors(void **state)
{
    (void)state;
    struct store s = ct_store();
    uint8_t out[8][H], root[H], root2[H];
    size_t n;

    for (size_t v = 0; v < DFDG_ARRAY_LEN(ct_inclusion); v++) {
        const struct proof_vector *tv = &ct_inclusion[v];
        s.limit = tv->b;
        assert_int_equal(
            dfdg_merkle_inclusion_proof(store_get, &s, tv->a, tv->b, out, DFDG_ARRAY_LEN(out), &n),
            DFDG_OK);
        assert_int_equal(n, tv->n);
        for (size_t i = 0; i < n; i++)
            assert_hash_hex(out[i], tv->p[i]);
        unhex(ct_roots[tv->b - 1], root, H);
        assert_true(dfdg_verify_inclusion(s.lv[0][tv->a], tv->a, tv->b, out, n, root));
    }
    for (size_t v = 0; v < DFDG_ARRAY_LEN(ct_consistency); v++) {
        const struct proof_vector *tv = &ct_consistency[v];
        s.limit = tv->b;
        assert_int_equal(dfdg_merkle_consistency_proof(store_get, &s, tv->a, tv->b, out,
                                                       DFDG_ARRAY_LEN(out), &n),
                         DFDG_OK);
        assert_int_equal(n, tv->n);
        for (size_t i = 0; i < n; i++)
            assert_hash_hex(out[i], tv->p[i]);
        unhex(ct_roots[tv->a - 1], root, H);
        unhex(ct_roots[tv->b - 1], root2, H);
        assert_true(dfdg_verify_consistency(tv->a, tv->b, root, root2, out, n));
    }
    assert_int_equal(s.beyond, 0);
    store_free(&s);
}

/*
 * For every size 1..200 and every index: the proof verifies against the stored root, has at most
 * ceil(log2 size) hashes, reads at most 2*ceil(log2 size) nodes, none beyond the size; it is
 * rejected with any hash flipped, one dropped, a changed leaf, a neighbouring index, or another
 * tree (size and root of a neighbouring, double or half size). A proof can check out for another
 * size with the SAME root (index 0 of 3 and of 4 hash alike): the size is not hashed in, so a
 * caller must take size and root from the same signed tree head.
 */
static void
test_inclusion_every_index(void **state)
{
    (void)state;
    struct store s = {0};
    struct dfdg_merkle_frontier f;
    uint8_t out[DFDG_MERKLE_MAX_INCLUSION][H], leaf[H];
    static uint8_t roots[402][H];
    size_t n;

    dfdg_merkle_frontier_init(&f);
    append_n(&s, &f, 401);
    for (uint64_t size = 0; size <= 401; size++)
        assert_int_equal(dfdg_merkle_root(store_get, &s, size, roots[size]), DFDG_OK);
    for (uint64_t size = 1; size <= 200; size++) {
        const uint8_t *root = roots[size];
        s.limit = size;
        unsigned depth = ceil_log2(size);
        for (uint64_t i = 0; i < size; i++) {
            s.reads = 0;
            assert_int_equal(
                dfdg_merkle_inclusion_proof(store_get, &s, i, size, out, DFDG_ARRAY_LEN(out), &n),
                DFDG_OK);
            assert_true(n <= depth);
            assert_true(s.reads <= 2 * (size_t)depth);
            memcpy(leaf, s.lv[0][i], H);
            assert_true(dfdg_verify_inclusion(leaf, i, size, out, n, root));

            for (size_t k = 0; k < n; k++) {
                out[k][k % H] ^= 0x20;
                assert_false(dfdg_verify_inclusion(leaf, i, size, out, n, root));
                out[k][k % H] ^= 0x20;
            }
            if (i + 1 < size)
                assert_false(dfdg_verify_inclusion(leaf, i + 1, size, out, n, root));
            if (i > 0)
                assert_false(dfdg_verify_inclusion(leaf, i - 1, size, out, n, root));
            const uint64_t other[] = {size - 1, size + 1, 2 * size, size / 2};
            for (size_t k = 0; k < DFDG_ARRAY_LEN(other); k++)
                if (other[k] != size && other[k] > i)
                    assert_false(dfdg_verify_inclusion(leaf, i, other[k], out, n, roots[other[k]]));
            if (n > 0)
                assert_false(dfdg_verify_inclusion(leaf, i, size, out, n - 1, root));
            leaf[0] ^= 1;
            assert_false(dfdg_verify_inclusion(leaf, i, size, out, n, root));
        }
    }
    assert_int_equal(s.beyond, 0);
    store_free(&s);
}

/*
 * For every 1 <= first <= second <= 100: the proof verifies against the two stored roots, has at
 * most ceil(log2 second) + 1 hashes, reads O(log second) nodes, none beyond second; it is
 * rejected with a hash flipped, one dropped or added, the roots swapped, or for another pair of
 * trees (a neighbouring first or second, or double the second, each with its own root).
 */
static void
test_consistency_every_pair(void **state)
{
    (void)state;
    struct store s = {0};
    struct dfdg_merkle_frontier f;
    uint8_t out[DFDG_MERKLE_MAX_CONSISTENCY + 1][H];
    static uint8_t roots[202][H];
    size_t n;

    dfdg_merkle_frontier_init(&f);
    append_n(&s, &f, 201);
    for (uint64_t size = 0; size <= 201; size++)
        assert_int_equal(dfdg_merkle_root(store_get, &s, size, roots[size]), DFDG_OK);
    for (uint64_t second = 1; second <= 100; second++) {
        const uint8_t *r2 = roots[second];
        s.limit = second;
        unsigned depth = ceil_log2(second);
        for (uint64_t first = 1; first <= second; first++) {
            const uint8_t *r1 = roots[first];
            s.reads = 0;
            assert_int_equal(dfdg_merkle_consistency_proof(store_get, &s, first, second, out,
                                                           DFDG_MERKLE_MAX_CONSISTENCY, &n),
                             DFDG_OK);
            assert_true(s.reads <= 2 * (size_t)depth + 1);
            assert_true(n <= depth + 1);
            assert_true(dfdg_verify_consistency(first, second, r1, r2, out, n));
            if (first == second) {
                assert_int_equal(n, 0);
                continue;
            }
            assert_true(n > 0);
            for (size_t k = 0; k < n; k++) {
                out[k][31 - k % H] ^= 0x10;
                assert_false(dfdg_verify_consistency(first, second, r1, r2, out, n));
                out[k][31 - k % H] ^= 0x10;
            }
            assert_false(dfdg_verify_consistency(first, second, r1, r2, out, n - 1));
            memcpy(out[n], r2, H);
            assert_false(dfdg_verify_consistency(first, second, r1, r2, out, n + 1));
            assert_false(dfdg_verify_consistency(first, second, r2, r1, out, n));

            const uint64_t f2[] = {first - 1, first + 1};
            for (size_t k = 0; k < DFDG_ARRAY_LEN(f2); k++) {
                assert_false(dfdg_verify_consistency(f2[k], second, roots[f2[k]], r2, out, n));
                assert_false(dfdg_verify_consistency(f2[k], second, r1, r2, out, n));
            }
            const uint64_t s2[] = {second - 1, second + 1, 2 * second};
            for (size_t k = 0; k < DFDG_ARRAY_LEN(s2); k++)
                assert_false(dfdg_verify_consistency(first, s2[k], r1, roots[s2[k]], out, n));
        }
    }
    assert_int_equal(s.beyond, 0);
    store_free(&s);
}

/* At every size up to 300 the frontier's root is the stored root, and loading reproduces it. */
static void
test_frontier_matches_store(void **state)
{
    (void)state;
    struct store s = {0};
    struct dfdg_merkle_frontier f, g;
    struct dfdg_verify_tree t;
    uint8_t a[H], b[H], c[H], e[8];

    dfdg_merkle_frontier_init(&f);
    dfdg_verify_tree_init(&t);
    for (uint64_t size = 0; size <= 300; size++) {
        if (size > 0) {
            for (int k = 0; k < 8; k++)
                e[k] = (uint8_t)((size - 1) >> (8 * k));
            dfdg_verify_tree_add(&t, e, sizeof e);
            append_n(&s, &f, 1);
        }
        dfdg_merkle_frontier_root(&f, a);
        assert_int_equal(dfdg_merkle_root(store_get, &s, size, b), DFDG_OK);
        dfdg_verify_tree_root(&t, c);
        assert_memory_equal(a, b, H);
        assert_memory_equal(a, c, H);

        memset(&g, 0xa5, sizeof g);
        s.reads = 0;
        assert_int_equal(dfdg_merkle_frontier_load(&g, size, store_get, &s), DFDG_OK);
        assert_int_equal(s.reads, popcount64(size));
        assert_frontier_equal(&f, &g);
        dfdg_merkle_frontier_root(&g, b);
        assert_memory_equal(a, b, H);
    }
    /* A loaded frontier goes on appending exactly like the original. */
    assert_int_equal(dfdg_merkle_frontier_load(&g, 77, store_get, &s), DFDG_OK);
    struct store s2 = {0};
    struct dfdg_merkle_frontier f2;
    dfdg_merkle_frontier_init(&f2);
    append_n(&s2, &f2, 77);
    for (uint64_t i = 77; i < 300; i++) {
        uint8_t leaf[H];
        entry_leaf(i, leaf);
        assert_int_equal(dfdg_merkle_append(&g, leaf, NULL, NULL), DFDG_OK);
        assert_int_equal(dfdg_merkle_append(&f2, leaf, store_put, &s2), DFDG_OK);
    }
    assert_frontier_equal(&f, &g);
    assert_frontier_equal(&f, &f2);
    store_free(&s2);
    store_free(&s);
}

/*
 * A tree of 2^20 + 12345 leaves: every stored node is used at most once per level, roots at
 * chosen sizes match the separate verifier's streaming recomputation, and proofs at those sizes
 * verify while reading only O(log n) nodes.
 */
static void
test_large_tree(void **state)
{
    (void)state;
    const uint64_t big = (UINT64_C(1) << 20) + 12345;
    static const uint64_t sizes[] = {
        1,
        2,
        3,
        12345,
        524291,
        999999,
        1000000,
        (UINT64_C(1) << 20) - 1,
        UINT64_C(1) << 20,
        (UINT64_C(1) << 20) + 1,
        (UINT64_C(1) << 20) + 12344,
        (UINT64_C(1) << 20) + 12345,
    };
    uint8_t roots[DFDG_ARRAY_LEN(sizes)][H];
    struct store s = {0};
    struct dfdg_merkle_frontier f, g;
    struct dfdg_verify_tree t;
    uint8_t leaf[H], e[8], r[H], r1[H], out[DFDG_MERKLE_MAX_CONSISTENCY][H];
    size_t n, next = 0;

    dfdg_merkle_frontier_init(&f);
    dfdg_verify_tree_init(&t);
    for (uint64_t i = 0; i < big; i++) {
        for (int k = 0; k < 8; k++)
            e[k] = (uint8_t)(i >> (8 * k));
        dfdg_merkle_leaf_hash(e, sizeof e, leaf);
        assert_int_equal(dfdg_merkle_append(&f, leaf, store_put, &s), DFDG_OK);
        dfdg_verify_tree_add(&t, e, sizeof e);
        if (next < DFDG_ARRAY_LEN(sizes) && f.size == sizes[next])
            dfdg_verify_tree_root(&t, roots[next++]);
    }
    assert_int_equal(next, DFDG_ARRAY_LEN(sizes));
    /* 2n - popcount(n) perfect subtrees in a tree of n leaves, each put once. */
    assert_true(s.writes == 2 * big - (uint64_t)popcount64(big));
    s.limit = big;
    dfdg_merkle_frontier_root(&f, r);
    assert_memory_equal(r, roots[DFDG_ARRAY_LEN(sizes) - 1], H);
    assert_int_equal(dfdg_merkle_frontier_load(&g, big, store_get, &s), DFDG_OK);
    assert_frontier_equal(&f, &g);

    for (size_t a = 0; a < DFDG_ARRAY_LEN(sizes); a++) {
        uint64_t size = sizes[a];
        unsigned depth = ceil_log2(size);
        s.limit = size;
        s.reads = 0;
        assert_int_equal(dfdg_merkle_root(store_get, &s, size, r), DFDG_OK);
        assert_memory_equal(r, roots[a], H);
        assert_int_equal(s.reads, popcount64(size));

        const uint64_t idx[] = {0, size / 3, size / 2, size - 2, size - 1};
        for (size_t k = 0; k < DFDG_ARRAY_LEN(idx); k++) {
            if (idx[k] >= size)
                continue;
            s.reads = 0;
            assert_int_equal(dfdg_merkle_inclusion_proof(store_get, &s, idx[k], size, out,
                                                         DFDG_ARRAY_LEN(out), &n),
                             DFDG_OK);
            assert_true(s.reads <= 2 * (size_t)depth);
            assert_true(n <= depth);
            assert_true(dfdg_verify_inclusion(s.lv[0][idx[k]], idx[k], size, out, n, roots[a]));
            if (n > 0) {
                out[n / 2][7] ^= 1;
                assert_false(
                    dfdg_verify_inclusion(s.lv[0][idx[k]], idx[k], size, out, n, roots[a]));
            }
        }
        for (size_t b = 0; b <= a; b++) {
            s.reads = 0;
            assert_int_equal(dfdg_merkle_consistency_proof(store_get, &s, sizes[b], size, out,
                                                           DFDG_ARRAY_LEN(out), &n),
                             DFDG_OK);
            assert_true(s.reads <= 2 * (size_t)depth + 1);
            assert_true(n <= depth + 1);
            memcpy(r1, roots[b], H);
            assert_true(dfdg_verify_consistency(sizes[b], size, r1, roots[a], out, n));
            if (n > 0) {
                out[n - 1][0] ^= 0x80;
                assert_false(dfdg_verify_consistency(sizes[b], size, r1, roots[a], out, n));
            }
        }
    }
    assert_int_equal(s.beyond, 0);
    store_free(&s);
}

/*
 * A synthetic store for trees of up to 2^64 - 1 leaves: node hashes are made up from (level,
 * index), so nothing verifies, but sizes, indices and reads are checked for overflow and bounds.
 */
struct synth {
    uint64_t limit;
    size_t reads;
    size_t beyond;
};

static dfdg_err
synth_get(void *ctx, unsigned level, uint64_t index, uint8_t out[H])
{
    struct synth *s = ctx;
    s->reads++;
    if (level >= 64 || index >= (s->limit >> level))
        s->beyond++;
    memset(out, 0, H);
    memcpy(out, &index, sizeof index);
    out[8] = (uint8_t)level;
    return DFDG_OK;
}

static void
test_huge_sizes_stay_logarithmic(void **state)
{
    (void)state;
    static const uint64_t sizes[] = {UINT64_MAX, UINT64_MAX - 1, UINT64_C(1) << 63,
                                     (UINT64_C(1) << 63) + 12345, (UINT64_C(1) << 40) + 3};
    uint8_t out[DFDG_MERKLE_MAX_CONSISTENCY][H], r[H];
    size_t n;

    for (size_t a = 0; a < DFDG_ARRAY_LEN(sizes); a++) {
        uint64_t size = sizes[a];
        unsigned depth = ceil_log2(size);
        struct synth s = {.limit = size};
        assert_int_equal(dfdg_merkle_root(synth_get, &s, size, r), DFDG_OK);
        assert_int_equal(s.reads, popcount64(size));

        const uint64_t idx[] = {0, 1, size / 2, size / 2 + 1, size - 2, size - 1};
        for (size_t k = 0; k < DFDG_ARRAY_LEN(idx); k++) {
            s.reads = 0;
            assert_int_equal(dfdg_merkle_inclusion_proof(synth_get, &s, idx[k], size, out,
                                                         DFDG_MERKLE_MAX_INCLUSION, &n),
                             DFDG_OK);
            assert_true(n <= depth && n >= 1);
            assert_true(s.reads <= 2 * (size_t)depth);
        }
        const uint64_t firsts[] = {1, 2, 3, size / 2, (size / 2) | 1, size - 1, size};
        for (size_t k = 0; k < DFDG_ARRAY_LEN(firsts); k++) {
            s.reads = 0;
            assert_int_equal(dfdg_merkle_consistency_proof(synth_get, &s, firsts[k], size, out,
                                                           DFDG_MERKLE_MAX_CONSISTENCY, &n),
                             DFDG_OK);
            assert_true(n <= depth + 1);
            assert_true(s.reads <= 2 * (size_t)depth + 1);
        }
        assert_int_equal(s.beyond, 0);
    }
}

static void
test_bad_arguments(void **state)
{
    (void)state;
    struct store s = ct_store();
    uint8_t out[8][H], keep[8][H];
    size_t n = 99;

    memset(out, 0x5a, sizeof out);
    memcpy(keep, out, sizeof out);
    assert_int_equal(dfdg_merkle_inclusion_proof(store_get, &s, 0, 0, out, 8, &n), DFDG_INVAL);
    assert_int_equal(dfdg_merkle_inclusion_proof(store_get, &s, 8, 8, out, 8, &n), DFDG_INVAL);
    assert_int_equal(dfdg_merkle_inclusion_proof(store_get, &s, UINT64_MAX, 8, out, 8, &n),
                     DFDG_INVAL);
    assert_int_equal(dfdg_merkle_consistency_proof(store_get, &s, 0, 8, out, 8, &n), DFDG_INVAL);
    assert_int_equal(dfdg_merkle_consistency_proof(store_get, &s, 0, 0, out, 8, &n), DFDG_INVAL);
    assert_int_equal(dfdg_merkle_consistency_proof(store_get, &s, 5, 4, out, 8, &n), DFDG_INVAL);
    assert_int_equal(s.reads, 0);

    /* Too small a buffer: refused, the length needed reported, the buffer left alone. */
    assert_int_equal(dfdg_merkle_inclusion_proof(store_get, &s, 5, 8, out, 2, &n), DFDG_INVAL);
    assert_int_equal(n, 3);
    assert_int_equal(dfdg_merkle_consistency_proof(store_get, &s, 3, 7, out, 3, &n), DFDG_INVAL);
    assert_int_equal(n, 4);
    assert_memory_equal(out, keep, sizeof out);
    /* Empty proofs need no buffer at all. */
    assert_int_equal(dfdg_merkle_inclusion_proof(store_get, &s, 0, 1, NULL, 0, &n), DFDG_OK);
    assert_int_equal(n, 0);
    assert_int_equal(dfdg_merkle_consistency_proof(store_get, &s, 8, 8, NULL, 0, &n), DFDG_OK);
    assert_int_equal(n, 0);

    /* A full tree takes no more leaves. */
    struct dfdg_merkle_frontier f;
    dfdg_merkle_frontier_init(&f);
    f.size = UINT64_MAX;
    size_t writes = s.writes;
    assert_int_equal(dfdg_merkle_append(&f, out[0], store_put, &s), DFDG_TOO_LARGE);
    assert_true(f.size == UINT64_MAX);
    assert_int_equal(s.writes, writes);
    store_free(&s);
}

/* Store errors come back unchanged, and leave the caller's frontier and buffers as they were. */
static void
test_store_errors_propagate(void **state)
{
    (void)state;
    struct store s = ct_store();
    struct dfdg_merkle_frontier f, before;
    uint8_t out[8][H], keep[8][H], h[H], leaf[H];
    size_t n;

    memset(out, 0x11, sizeof out);
    memcpy(keep, out, sizeof out);
    s.fail_get = DFDG_IO;
    assert_int_equal(dfdg_merkle_root(store_get, &s, 7, h), DFDG_IO);
    assert_int_equal(dfdg_merkle_inclusion_proof(store_get, &s, 3, 7, out, 8, &n), DFDG_IO);
    assert_int_equal(dfdg_merkle_consistency_proof(store_get, &s, 3, 7, out, 8, &n), DFDG_IO);
    assert_memory_equal(out, keep, sizeof out);
    dfdg_merkle_frontier_init(&f);
    assert_int_equal(dfdg_merkle_frontier_load(&f, 7, store_get, &s), DFDG_IO);
    assert_true(f.size == 0);
    s.fail_get = DFDG_OK;

    /* A node the store does not have (the tree is only 8 leaves). */
    s.limit = 9;
    assert_int_equal(dfdg_merkle_root(store_get, &s, 9, h), DFDG_NOT_FOUND);
    s.limit = 8;

    /* A failing put: the frontier does not move, and a retry completes the same tree. */
    assert_int_equal(dfdg_merkle_frontier_load(&f, 7, store_get, &s), DFDG_OK);
    struct store t = {0};
    struct dfdg_merkle_frontier ft;
    dfdg_merkle_frontier_init(&ft);
    for (int i = 0; i < 7; i++)
        assert_int_equal(dfdg_merkle_append(&ft, s.lv[0][i], store_put, &t), DFDG_OK);
    memcpy(leaf, s.lv[0][7], H);
    for (size_t ok = 0; ok < 4; ok++) {
        before = ft;
        t.fail_put = DFDG_IO;
        t.fail_put_after = t.writes + ok;
        assert_int_equal(dfdg_merkle_append(&ft, leaf, store_put, &t), DFDG_IO);
        assert_memory_equal(&ft, &before, sizeof ft);
    }
    t.fail_put = DFDG_OK;
    assert_int_equal(dfdg_merkle_append(&ft, leaf, store_put, &t), DFDG_OK);
    dfdg_merkle_frontier_root(&ft, h);
    assert_hash_hex(h, ct_roots[7]);
    assert_int_equal(t.count[3], 1);
    assert_hash_hex(t.lv[3][0], ct_roots[7]);
    store_free(&t);
    store_free(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hashes_match_vectors),
        cmocka_unit_test(test_append_and_roots_match_vectors),
        cmocka_unit_test(test_proofs_match_vectors),
        cmocka_unit_test(test_inclusion_every_index),
        cmocka_unit_test(test_consistency_every_pair),
        cmocka_unit_test(test_frontier_matches_store),
        cmocka_unit_test(test_large_tree),
        cmocka_unit_test(test_huge_sizes_stay_logarithmic),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_store_errors_propagate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
