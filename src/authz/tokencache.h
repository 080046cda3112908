/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokencache.h: a cache of verified bearer tokens. A caseworker system sends the same token
 * with every request until it expires; checking its Ed25519 signature each time was over a
 * third of the server's CPU on single-record writes. A token seen before (the same bytes,
 * identified by a keyed BLAKE2b hash) is answered from the cache; its times (exp, nbf, iat)
 * are checked again on every use, so an expired token is refused as before.
 *
 * Thread-safe. The cache is a fixed table (direct-mapped): a collision only evicts.
 */
#ifndef DFDG_AUTHZ_TOKENCACHE_H
#define DFDG_AUTHZ_TOKENCACHE_H

#include "core/dfdg.h"
#include "authz/token.h"

struct dfdg_token_cache;

/* A cache of slots entries (rounded up to a power of two). Caller owns *out. */
dfdg_err dfdg_token_cache_new(size_t slots, struct dfdg_token_cache **out /* OUT */);
/* Accepts NULL. */
void dfdg_token_cache_free(struct dfdg_token_cache *c);

/*
 * As dfdg_token_verify, answering from the cache when the same token verified before.
 * Failures are never cached.
 */
dfdg_err dfdg_token_cache_verify(struct dfdg_token_cache *c, const char *tok, size_t len,
                                 int64_t now, dfdg_issuer_lookup lookup, void *lookup_ctx,
                                 struct dfdg_claims *out /* OUT */, struct dfdg_errinfo *ei);

/* Hits and misses so far (for /metrics and tests). */
void dfdg_token_cache_stats(struct dfdg_token_cache *c, uint64_t *hits /* OUT */,
                            uint64_t *misses /* OUT */);

#endif
