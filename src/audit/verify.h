/* SPDX-License-Identifier: Apache-2.0 */
/*
 * verify.h: the checker side of the audit log, kept apart from the prover (merkle.h) so that a
 * bug there cannot vouch for itself: RFC 9162 inclusion (2.1.3.2) and consistency (2.1.4.2)
 * proof verification, and a streaming recomputation of the tree head for `dfdg audit verify`.
 * Hashes are 32-byte SHA-256 values as in RFC 9162 section 2.1.
 */
#ifndef DFDG_AUDIT_VERIFY_H
#define DFDG_AUDIT_VERIFY_H

#include "core/dfdg.h"

#define DFDG_VERIFY_HASH_LEN 32

/* SHA-256(0x00 || entry): the leaf hash to check an entry's inclusion with. */
void dfdg_verify_leaf_hash(const uint8_t *entry, size_t len,
                           uint8_t out[DFDG_VERIFY_HASH_LEN] /* OUT */);

/*
 * True when proof (n hashes, bottom-up) shows that leaf_hash is leaf number index of the tree
 * of `size` leaves whose head is root. False for index >= size and for proofs that are too long
 * or too short. proof may be NULL when n is 0.
 */
bool dfdg_verify_inclusion(const uint8_t leaf_hash[DFDG_VERIFY_HASH_LEN], uint64_t index,
                           uint64_t size, const uint8_t proof[][DFDG_VERIFY_HASH_LEN], size_t n,
                           const uint8_t root[DFDG_VERIFY_HASH_LEN]);

/*
 * True when proof (n hashes) shows that the tree of `first` leaves with head first_root is a
 * prefix of the tree of `second` leaves with head second_root. first == second needs an empty
 * proof and equal roots. False for first == 0 (the empty tree is a prefix of every tree; there
 * is nothing to verify) and first > second. proof may be NULL when n is 0.
 */
bool dfdg_verify_consistency(uint64_t first, uint64_t second,
                             const uint8_t first_root[DFDG_VERIFY_HASH_LEN],
                             const uint8_t second_root[DFDG_VERIFY_HASH_LEN],
                             const uint8_t proof[][DFDG_VERIFY_HASH_LEN], size_t n);

/* A tree rebuilt from its entries in order, O(log n) memory; the root is available at any size. */
struct dfdg_verify_tree {
    uint64_t size;                           /* entries added so far */
    uint8_t stack[64][DFDG_VERIFY_HASH_LEN]; /* stack[L]: the level-L perfect subtree on the
                                                right edge, valid when bit L of size is set */
};

/* Makes t the empty tree. */
void dfdg_verify_tree_init(struct dfdg_verify_tree *t /* OUT */);
/* Adds one entry (hashed as a leaf) at index t->size. entry may be NULL when len is 0. */
void dfdg_verify_tree_add(struct dfdg_verify_tree *t, const uint8_t *entry, size_t len);
/* Adds one leaf by its hash (dfdg_verify_leaf_hash of the entry) at index t->size. */
void dfdg_verify_tree_add_leaf(struct dfdg_verify_tree *t,
                               const uint8_t leaf_hash[DFDG_VERIFY_HASH_LEN]);
/* The head of the tree of the entries added so far; SHA-256("") when there are none. */
void dfdg_verify_tree_root(const struct dfdg_verify_tree *t,
                           uint8_t out[DFDG_VERIFY_HASH_LEN] /* OUT */);

#endif
