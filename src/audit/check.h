/* SPDX-License-Identifier: Apache-2.0 */
/*
 * check.h: `dfdg audit verify` as a library call. Reads a store's audit log and signed tree
 * heads and decides whether they are still what the writer made: the tree (RFC 9162 section
 * 2.1.1) is recomputed from the stored entries with the separate verifier (verify.h), every
 * tree head's Ed25519 signature is checked against the stored public key, and every head must
 * equal the recomputed tree of its size. Shares no code with the writer (auditlog.c, merkle.c).
 */
#ifndef DFDG_AUDIT_CHECK_H
#define DFDG_AUDIT_CHECK_H

#include "core/dfdg.h"
#include "store/store.h"

/* The outcome of one check. problem names the FIRST problem in log order; checking stops there. */
struct dfdg_audit_report {
    uint64_t entries;       /* entries read and found good (up to the problem, if any) */
    uint64_t heads;         /* tree heads found good */
    uint64_t unsigned_tail; /* good entries after the newest good head (not an error) */
    bool ok;                /* no problem found */
    int64_t bad_entry;      /* the entry the problem names, or -1 (e.g. a bad head) */
    int64_t bad_head;       /* the size of the tree head the problem names, or -1 */
    bool has_key;           /* public_key was found in the store */
    uint8_t public_key[32]; /* the Ed25519 key the heads were checked with */
    char problem[256];      /* "" when ok; else one sentence, e.g. "entry 3 was edited: ..." */
};

/* Called every few thousand entries and at the end; total is the log's size when it started. */
typedef void (*dfdg_audit_progress_cb)(void *ctx, uint64_t done, uint64_t total);

/*
 * Checks the audit log of s and fills *out. A log that does not verify is still DFDG_OK, with
 * out->ok false and out->problem set; only a failure to read the store is an error (DFDG_IO,
 * DFDG_NOMEM, ...), and then out->problem holds the store's detail. The checks, per entry in
 * index order: indexes run 0, 1, 2, ... ("entry N is missing"); the entry is a JSON object whose
 * "i" is its index ("entry N was moved or renumbered") and whose "at" is the row's time; its
 * leaf hash equals the stored level-0 node ("entry N was edited"). Per tree head, when the
 * recomputed tree reaches its size: the signature verifies, its time is not before the previous
 * head's, and its root equals the recomputed root (else the first bad entry lies between the
 * previous good head and this one). A head larger than the log names the missing entries.
 * The heads and the entries they cover are read in one snapshot (that of the heads' scan); a
 * writer may append meanwhile, and entries after the last head read count as an unsigned tail.
 * progress may be NULL. Memory is O(log n): nothing is collected.
 */
dfdg_err dfdg_audit_check(struct dfdg_store *s, dfdg_audit_progress_cb progress, void *ctx,
                          struct dfdg_audit_report *out /* OUT */);

#endif
