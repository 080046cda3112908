/* SPDX-License-Identifier: Apache-2.0 */
/*
 * merkle.h: the writer and prover side of the tamper-evident audit log, a Merkle tree as in
 * RFC 9162 section 2.1 (leaf hash SHA-256(0x00 || entry), node hash SHA-256(0x01 || left ||
 * right)). The library stores nothing: a store hands it the hashes of PERFECT subtrees through
 * a callback, and every root and proof is built from O(log n) of them, never by recomputing the
 * tree. The independent checker lives in verify.h.
 *
 * Node addressing: level L, index i is the perfect subtree over leaves [i*2^L, (i+1)*2^L);
 * level 0 holds the leaf hashes. A store that persists what dfdg_merkle_append puts can answer
 * every request the functions below make for a tree size up to what it has appended.
 */
#ifndef DFDG_AUDIT_MERKLE_H
#define DFDG_AUDIT_MERKLE_H

#include "core/dfdg.h"

#define DFDG_HASH_LEN 32
/* Upper bounds on proof lengths for any 64-bit tree size, for sizing proof buffers. */
#define DFDG_MERKLE_MAX_INCLUSION 64
#define DFDG_MERKLE_MAX_CONSISTENCY 65

/* SHA-256(0x00 || entry): the hash of one log entry as a leaf. entry may be NULL when len is 0. */
void dfdg_merkle_leaf_hash(const uint8_t *entry, size_t len, uint8_t out[DFDG_HASH_LEN] /* OUT */);
/* SHA-256(0x01 || left || right): an interior node. out may alias left or right. */
void dfdg_merkle_node_hash(const uint8_t left[DFDG_HASH_LEN], const uint8_t right[DFDG_HASH_LEN],
                           uint8_t out[DFDG_HASH_LEN] /* OUT */);
/* The root of the empty tree: SHA-256 of the empty string. */
void dfdg_merkle_empty_root(uint8_t out[DFDG_HASH_LEN] /* OUT */);

/*
 * Reads the hash of the perfect subtree at (level, index) into out. The library only asks for
 * subtrees that lie wholly inside the tree size it was given. Any error is passed back to the
 * caller unchanged (a store would return DFDG_NOT_FOUND, DFDG_IO or DFDG_CORRUPT).
 */
typedef dfdg_err (*dfdg_merkle_node_fn)(void *ctx, unsigned level, uint64_t index,
                                        uint8_t out[DFDG_HASH_LEN] /* OUT */);

/*
 * MTH(D[0:size]), from at most popcount(size) perfect subtrees. size 0 gives the empty root.
 * Errors: whatever get returns.
 */
dfdg_err dfdg_merkle_root(dfdg_merkle_node_fn get, void *ctx, uint64_t size,
                          uint8_t out[DFDG_HASH_LEN] /* OUT */);

/*
 * The inclusion proof PATH(index, D[0:size]) of RFC 9162 section 2.1.3.1, bottom-up: out[0] is
 * the sibling nearest the leaf. Writes *n hashes (at most ceil(log2 size)), using at most
 * 2*ceil(log2 size) calls to get. out is written only on success.
 * Errors: DFDG_INVAL when index >= size or cap is too small (*n is then the length needed when
 * the arguments were otherwise valid); whatever get returns.
 */
dfdg_err dfdg_merkle_inclusion_proof(dfdg_merkle_node_fn get, void *ctx, uint64_t index,
                                     uint64_t size, uint8_t out[][DFDG_HASH_LEN] /* OUT */,
                                     size_t cap, size_t *n /* OUT */);

/*
 * The consistency proof PROOF(first, D[0:second]) = SUBPROOF(first, D[0:second], true) of
 * RFC 9162 section 2.1.4.1, for 1 <= first <= second; first == second gives an empty proof.
 * Writes *n hashes (at most ceil(log2 second) + 1), using O(log second) calls to get. out is
 * written only on success.
 * Errors: DFDG_INVAL when first == 0, first > second or cap is too small (*n is then the length
 * needed); whatever get returns.
 */
dfdg_err dfdg_merkle_consistency_proof(dfdg_merkle_node_fn get, void *ctx, uint64_t first,
                                       uint64_t second, uint8_t out[][DFDG_HASH_LEN] /* OUT */,
                                       size_t cap, size_t *n /* OUT */);

/*
 * The right edge of the tree, kept in memory by the single appender so appends and the current
 * root cost O(log n) hashing without reading the store. Not thread-safe: the appender owns it.
 */
struct dfdg_merkle_frontier {
    uint64_t size;                    /* leaves appended so far */
    uint8_t nodes[64][DFDG_HASH_LEN]; /* nodes[L]: root of the level-L perfect subtree of the
                                         tree, valid only when bit L of size is set */
};

/* Stores the hash of a perfect subtree that an append completed (level 0: the leaf itself). */
typedef dfdg_err (*dfdg_merkle_put_fn)(void *ctx, unsigned level, uint64_t index,
                                       const uint8_t hash[DFDG_HASH_LEN]);

/* Makes f the frontier of the empty tree. */
void dfdg_merkle_frontier_init(struct dfdg_merkle_frontier *f /* OUT */);

/*
 * Appends a leaf hash (see dfdg_merkle_leaf_hash) as leaf number f->size. Calls put for the
 * leaf at level 0 and then for every perfect subtree the leaf completes, lowest level first:
 * 1 + (trailing one bits of the old size) calls, O(1) amortised. put may be NULL.
 * On any error f is unchanged; puts already made hold the same hashes a retry puts again, so a
 * store may overwrite or ignore them.
 * Errors: DFDG_TOO_LARGE when the tree is full (2^64 - 1 leaves); whatever put returns.
 */
dfdg_err dfdg_merkle_append(struct dfdg_merkle_frontier *f, const uint8_t leaf[DFDG_HASH_LEN],
                            dfdg_merkle_put_fn put, void *ctx);

/* MTH of the tree f describes, from its popcount(size) nodes; the empty root for size 0. */
void dfdg_merkle_frontier_root(const struct dfdg_merkle_frontier *f,
                               uint8_t out[DFDG_HASH_LEN] /* OUT */);

/*
 * Rebuilds the frontier of a tree of `size` leaves from stored nodes (at start-up), with
 * popcount(size) calls to get. On error f is unchanged.
 * Errors: whatever get returns.
 */
dfdg_err dfdg_merkle_frontier_load(struct dfdg_merkle_frontier *f, uint64_t size,
                                   dfdg_merkle_node_fn get, void *ctx);

#endif
