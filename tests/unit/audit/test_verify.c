/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_verify.c: the audit log's separate verifier (RFC 9162 sections 2.1.3.2 and 2.1.4.2) and
 * its streaming tree head. The published certificate-transparency proofs are accepted and every
 * corruption of them the transparency-dev/merkle suite tries is rejected; the streaming head
 * matches the published heads and a naive recursive MTH; proofs built by a naive recursive
 * RFC 9162 prover written here (independent of merkle.c) verify for every size up to 64 and
 * fail when tampered with; edge cases: size 1, index 0, first == second, too long and too short
 * proofs, zero sizes.
 *
 * Vectors: transparency-dev/merkle testonly/constants.go and proof/verify_test.go (its
 * inclusion vectors are 1-based), cross-checked with a throwaway Python RFC 9162 implementation.
 */
#include "core/dfdg.h"
#include "audit/verify.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>
#include <sodium.h>

#define H DFDG_VERIFY_HASH_LEN
#define MAXP 70

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
static const char *const ct_leaf_hashes[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
};
/* transparency-dev's sha256SomeHash: a value that is no node of the tree. */
static const char *const some_hash =
    "abacaba000000000000000000000000000000000000000000060061e00123456";

struct proof_vector {
    uint64_t a; /* inclusion: 0-based index; consistency: first */
    uint64_t b; /* tree size; consistency: second */
    size_t n;
    const char *const p[3];
};

static const struct proof_vector ct_inclusion[] = {
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
hx(const char *s, uint8_t out[H])
{
    assert_int_equal(unhex(s, out, H), H);
}

static size_t
load_proof(const struct proof_vector *v, uint8_t out[][H])
{
    for (size_t i = 0; i < v->n; i++)
        hx(v->p[i], out[i]);
    return v->n;
}

/* ---- a naive RFC 9162 prover, straight from the recursive definitions ---------------------- */

static void
naive_node(const uint8_t l[H], const uint8_t r[H], uint8_t out[H])
{
    uint8_t buf[1 + 2 * H];
    buf[0] = 1;
    memcpy(buf + 1, l, H);
    memcpy(buf + 1 + H, r, H);
    crypto_hash_sha256(out, buf, sizeof buf);
}

static size_t
naive_k(size_t n)
{
    size_t k = 1;
    while (2 * k < n)
        k *= 2;
    return k;
}

/* MTH(D[0:n]) over leaf hashes. */
static void
naive_mth(const uint8_t (*leaves)[H], size_t n, uint8_t out[H])
{
    if (n == 0) {
        crypto_hash_sha256(out, NULL, 0);
        return;
    }
    if (n == 1) {
        memcpy(out, leaves[0], H);
        return;
    }
    uint8_t l[H], r[H];
    size_t k = naive_k(n);
    naive_mth(leaves, k, l);
    naive_mth(leaves + k, n - k, r);
    naive_node(l, r, out);
}

static size_t
naive_path(size_t m, const uint8_t (*leaves)[H], size_t n, uint8_t out[][H])
{
    if (n == 1)
        return 0;
    size_t k = naive_k(n), c;
    if (m < k) {
        c = naive_path(m, leaves, k, out);
        naive_mth(leaves + k, n - k, out[c]);
    } else {
        c = naive_path(m - k, leaves + k, n - k, out);
        naive_mth(leaves, k, out[c]);
    }
    return c + 1;
}

static size_t
naive_subproof(size_t m, const uint8_t (*leaves)[H], size_t n, bool b, uint8_t out[][H])
{
    if (m == n) {
        if (b)
            return 0;
        naive_mth(leaves, n, out[0]);
        return 1;
    }
    size_t k = naive_k(n), c;
    if (m <= k) {
        c = naive_subproof(m, leaves, k, b, out);
        naive_mth(leaves + k, n - k, out[c]);
    } else {
        c = naive_subproof(m - k, leaves + k, n - k, false, out);
        naive_mth(leaves, k, out[c]);
    }
    return c + 1;
}

/* ---- corruption probes, after transparency-dev/merkle proof/verify_test.go ---------------- */

static void
assert_inclusion_probes_fail(const uint8_t leaf[H], uint64_t index, uint64_t size,
                             uint8_t (*proof)[H], size_t n, const uint8_t root[H])
{
    uint8_t empty[H], some[H], zero[H] = {0}, wrong_leaf[H], buf[MAXP][H];

    hx(ct_empty_root, empty);
    hx(some_hash, some);
    memcpy(wrong_leaf, leaf, H);
    wrong_leaf[H - 1] ^= 0xff;
    assert_true(n + 1 < MAXP);

    assert_true(dfdg_verify_inclusion(leaf, index, size, proof, n, root));
    if (index > 0)
        assert_false(dfdg_verify_inclusion(leaf, index - 1, size, proof, n, root));
    if (index + 1 < size)
        assert_false(dfdg_verify_inclusion(leaf, index + 1, size, proof, n, root));
    if ((index ^ 2) < size)
        assert_false(dfdg_verify_inclusion(leaf, index ^ 2, size, proof, n, root));
    assert_false(dfdg_verify_inclusion(leaf, index, size * 2, proof, n, root));
    assert_false(dfdg_verify_inclusion(leaf, index, size / 2, proof, n, root));
    assert_false(dfdg_verify_inclusion(wrong_leaf, index, size, proof, n, root));
    assert_false(dfdg_verify_inclusion(leaf, index, size, proof, n, empty));
    assert_false(dfdg_verify_inclusion(leaf, index, size, proof, n, some));
    /* Trailing and preceding garbage. */
    memcpy(buf, proof, n * H);
    memcpy(buf[n], zero, H);
    assert_false(dfdg_verify_inclusion(leaf, index, size, buf, n + 1, root));
    memcpy(buf[n], root, H);
    assert_false(dfdg_verify_inclusion(leaf, index, size, buf, n + 1, root));
    memcpy(buf[0], zero, H);
    memcpy(buf + 1, proof, n * H);
    assert_false(dfdg_verify_inclusion(leaf, index, size, buf, n + 1, root));
    memcpy(buf[0], root, H);
    assert_false(dfdg_verify_inclusion(leaf, index, size, buf, n + 1, root));
    /* One bit changed in each element. */
    for (size_t i = 0; i < n; i++) {
        memcpy(buf, proof, n * H);
        buf[i][0] ^= 8;
        assert_false(dfdg_verify_inclusion(leaf, index, size, buf, n, root));
    }
    if (n > 0)
        assert_false(dfdg_verify_inclusion(leaf, index, size, proof, n - 1, root));
    if (n > 1) {
        /* A component inserted after the first. */
        memcpy(buf[0], proof[0], H);
        memcpy(buf[1], some, H);
        memcpy(buf + 2, proof + 1, (n - 1) * H);
        assert_false(dfdg_verify_inclusion(leaf, index, size, buf, n + 1, root));
    }
}

static void
assert_consistency_probes_fail(uint64_t first, uint64_t second, const uint8_t r1[H],
                               const uint8_t r2[H], uint8_t (*proof)[H], size_t n)
{
    uint8_t zero[H] = {0}, wrong[H], buf[MAXP][H];

    memset(wrong, 0x77, H);
    assert_true(n + 1 < MAXP && n > 0);
    assert_true(dfdg_verify_consistency(first, second, r1, r2, proof, n));

    assert_false(dfdg_verify_consistency(first - 1, second, r1, r2, proof, n));
    assert_false(dfdg_verify_consistency(first + 1, second, r1, r2, proof, n));
    assert_false(dfdg_verify_consistency(first ^ 2, second, r1, r2, proof, n));
    assert_false(dfdg_verify_consistency(first, second * 2, r1, r2, proof, n));
    assert_false(dfdg_verify_consistency(first, second / 2, r1, r2, proof, n));
    assert_false(dfdg_verify_consistency(first, second, wrong, r2, proof, n));
    assert_false(dfdg_verify_consistency(first, second, r1, wrong, proof, n));
    assert_false(dfdg_verify_consistency(first, second, r2, r1, proof, n));
    assert_false(dfdg_verify_consistency(first, second, r1, r2, NULL, 0));

    const uint8_t *extra[] = {zero, r1, r2};
    for (size_t e = 0; e < DFDG_ARRAY_LEN(extra); e++) {
        memcpy(buf, proof, n * H);
        memcpy(buf[n], extra[e], H);
        assert_false(dfdg_verify_consistency(first, second, r1, r2, buf, n + 1));
    }
    const uint8_t *lead[] = {zero, r1, r2, proof[0]};
    for (size_t e = 0; e < DFDG_ARRAY_LEN(lead); e++) {
        memcpy(buf[0], lead[e], H);
        memcpy(buf + 1, proof, n * H);
        assert_false(dfdg_verify_consistency(first, second, r1, r2, buf, n + 1));
    }
    assert_false(dfdg_verify_consistency(first, second, r1, r2, proof, n - 1));
    for (size_t i = 0; i < n; i++) {
        memcpy(buf, proof, n * H);
        buf[i][0] ^= 16;
        assert_false(dfdg_verify_consistency(first, second, r1, r2, buf, n));
    }
}

/* ---- tests -------------------------------------------------------------------------------- */

static void
test_streaming_root_matches_vectors(void **state)
{
    (void)state;
    struct dfdg_verify_tree t;
    uint8_t e[16], h[H], want[H];

    dfdg_verify_tree_init(&t);
    dfdg_verify_tree_root(&t, h);
    hx(ct_empty_root, want);
    assert_memory_equal(h, want, H);
    for (int i = 0; i < 8; i++) {
        size_t n = unhex(ct_leaves[i], e, sizeof e);
        dfdg_verify_leaf_hash(n ? e : NULL, n, h);
        hx(ct_leaf_hashes[i], want);
        assert_memory_equal(h, want, H);

        dfdg_verify_tree_add(&t, n ? e : NULL, n);
        assert_true(t.size == (uint64_t)i + 1);
        dfdg_verify_tree_root(&t, h);
        hx(ct_roots[i], want);
        assert_memory_equal(h, want, H);
    }
}

/* The streaming head agrees with the recursive definition at every size up to 300. */
static void
test_streaming_root_matches_naive(void **state)
{
    (void)state;
    static uint8_t leaves[300][H];
    struct dfdg_verify_tree t;
    uint8_t e[4], a[H], b[H];

    dfdg_verify_tree_init(&t);
    for (size_t i = 0; i < 300; i++) {
        memcpy(e, &i, sizeof e);
        dfdg_verify_leaf_hash(e, sizeof e, leaves[i]);
        dfdg_verify_tree_add(&t, e, sizeof e);
        dfdg_verify_tree_root(&t, a);
        naive_mth((const uint8_t(*)[H])leaves, i + 1, b);
        assert_memory_equal(a, b, H);
    }
}

static void
test_published_inclusion_proofs(void **state)
{
    (void)state;
    uint8_t proof[8][H], leaf[H], root[H];

    for (size_t v = 0; v < DFDG_ARRAY_LEN(ct_inclusion); v++) {
        const struct proof_vector *tv = &ct_inclusion[v];
        size_t n = load_proof(tv, proof);
        hx(ct_leaf_hashes[tv->a], leaf);
        hx(ct_roots[tv->b - 1], root);
        assert_inclusion_probes_fail(leaf, tv->a, tv->b, proof, n, root);
    }
}

static void
test_published_consistency_proofs(void **state)
{
    (void)state;
    uint8_t proof[8][H], r1[H], r2[H];

    for (size_t v = 0; v < DFDG_ARRAY_LEN(ct_consistency); v++) {
        const struct proof_vector *tv = &ct_consistency[v];
        size_t n = load_proof(tv, proof);
        hx(ct_roots[tv->a - 1], r1);
        hx(ct_roots[tv->b - 1], r2);
        assert_consistency_probes_fail(tv->a, tv->b, r1, r2, proof, n);
    }
}

/* Every proof the naive prover makes for trees up to 64 leaves verifies, and no corruption does. */
static void
test_naive_proofs_verify(void **state)
{
    (void)state;
    static uint8_t leaves[64][H];
    uint8_t proof[MAXP][H], r1[H], r2[H];
    uint8_t e[1];

    for (size_t i = 0; i < 64; i++) {
        e[0] = (uint8_t)i;
        dfdg_verify_leaf_hash(e, 1, leaves[i]);
    }
    const uint8_t(*lv)[H] = (const uint8_t(*)[H])leaves;
    for (size_t size = 1; size <= 64; size++) {
        naive_mth(lv, size, r2);
        for (size_t i = 0; i < size; i++) {
            size_t n = naive_path(i, lv, size, proof);
            assert_inclusion_probes_fail(leaves[i], i, size, proof, n, r2);
        }
        for (size_t first = 1; first < size; first++) {
            naive_mth(lv, first, r1);
            size_t n = naive_subproof(first, lv, size, true, proof);
            assert_consistency_probes_fail(first, size, r1, r2, proof, n);
        }
    }
}

static void
test_edge_cases(void **state)
{
    (void)state;
    uint8_t leaf[H], other[H], root[H], proof[2][H];

    dfdg_verify_leaf_hash((const uint8_t *)"data", 4, leaf);
    memset(other, 0x42, H);
    /* A one-leaf tree: the root is the leaf hash and the proof is empty. */
    assert_true(dfdg_verify_inclusion(leaf, 0, 1, NULL, 0, leaf));
    assert_false(dfdg_verify_inclusion(leaf, 0, 1, NULL, 0, other));
    assert_false(dfdg_verify_inclusion(other, 0, 1, NULL, 0, leaf));
    memcpy(proof[0], other, H);
    assert_false(dfdg_verify_inclusion(leaf, 0, 1, proof, 1, leaf));
    /* Indices outside the tree and the empty tree. */
    assert_false(dfdg_verify_inclusion(leaf, 0, 0, NULL, 0, leaf));
    assert_false(dfdg_verify_inclusion(leaf, 1, 1, NULL, 0, leaf));
    assert_false(dfdg_verify_inclusion(leaf, 2, 1, NULL, 0, leaf));
    assert_false(dfdg_verify_inclusion(leaf, UINT64_MAX, UINT64_MAX, NULL, 0, leaf));
    /* A two-leaf tree needs exactly one hash. */
    dfdg_verify_leaf_hash((const uint8_t *)"more", 4, proof[0]);
    uint8_t buf[1 + 2 * H];
    buf[0] = 1;
    memcpy(buf + 1, leaf, H);
    memcpy(buf + 1 + H, proof[0], H);
    crypto_hash_sha256(root, buf, sizeof buf);
    assert_true(dfdg_verify_inclusion(leaf, 0, 2, proof, 1, root));
    assert_false(dfdg_verify_inclusion(leaf, 0, 2, NULL, 0, root));
    memcpy(proof[1], root, H);
    assert_false(dfdg_verify_inclusion(leaf, 0, 2, proof, 2, root));
    assert_false(dfdg_verify_inclusion(leaf, 1, 2, proof, 1, root));
    /* A one-leaf tree is consistent with the two-leaf tree through the other leaf's hash. */
    assert_true(dfdg_verify_consistency(1, 2, leaf, root, proof, 1));
    assert_false(dfdg_verify_consistency(1, 2, leaf, root, NULL, 0));
    assert_false(dfdg_verify_consistency(1, 2, leaf, root, proof, 2));

    /* first == second: an empty proof and equal roots, nothing else. */
    assert_true(dfdg_verify_consistency(1, 1, leaf, leaf, NULL, 0));
    assert_true(dfdg_verify_consistency(5, 5, root, root, NULL, 0));
    assert_false(dfdg_verify_consistency(1, 1, leaf, other, NULL, 0));
    assert_false(dfdg_verify_consistency(1, 1, leaf, leaf, proof, 1));
    /* The empty tree and going back in time. */
    assert_false(dfdg_verify_consistency(0, 0, leaf, leaf, NULL, 0));
    assert_false(dfdg_verify_consistency(0, 1, leaf, leaf, NULL, 0));
    assert_false(dfdg_verify_consistency(2, 1, root, leaf, proof, 1));
    assert_false(dfdg_verify_consistency(2, 1, root, leaf, NULL, 0));
}

/* Long proofs cannot run the verifier past the 64 levels of a tree size. */
static void
test_overlong_proofs_rejected(void **state)
{
    (void)state;
    static uint8_t proof[200][H];
    uint8_t leaf[H], root[H];

    memset(proof, 0x33, sizeof proof);
    memset(leaf, 0x01, H);
    memset(root, 0x02, H);
    assert_false(dfdg_verify_inclusion(leaf, 12345, UINT64_MAX, proof, 200, root));
    assert_false(dfdg_verify_inclusion(leaf, UINT64_MAX - 1, UINT64_MAX, proof, 64, root));
    assert_false(dfdg_verify_consistency(3, UINT64_MAX, leaf, root, proof, 200));
    assert_false(dfdg_verify_consistency(UINT64_C(1) << 40, UINT64_MAX, leaf, root, proof, 200));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_streaming_root_matches_vectors),
        cmocka_unit_test(test_streaming_root_matches_naive),
        cmocka_unit_test(test_published_inclusion_proofs),
        cmocka_unit_test(test_published_consistency_proofs),
        cmocka_unit_test(test_naive_proofs_verify),
        cmocka_unit_test(test_edge_cases),
        cmocka_unit_test(test_overlong_proofs_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
