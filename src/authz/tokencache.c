/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tokencache.c: the verified-token cache (see tokencache.h).
 *
 * Invariants:
 *   1. Only tokens whose signature verified are in the table.
 *   2. A hit is re-checked against the clock exactly as dfdg_token_verify checks it.
 *   3. The key is a BLAKE2b hash of the whole token under a random per-process key, so no one
 *      can aim a collision at a slot, and the table holds no token text.
 */
#include "core/dfdg.h"
#include "authz/tokencache.h"

#include <pthread.h>
#include <sodium.h>

struct slot {
    uint8_t key[32];           /* keyed hash of the token */
    bool used;                 /* holds a verified token */
    struct dfdg_claims claims; /* its claims */
};

struct dfdg_token_cache {
    pthread_mutex_t lock;                          /* guards slots and the counters */
    struct slot *slots;                            /* mask + 1 entries (lock) */
    size_t mask;                                   /* slots - 1 */
    uint8_t hash_key[crypto_generichash_KEYBYTES]; /* per-process secret */
    uint64_t hits;                                 /* (lock) */
    uint64_t misses;                               /* (lock) */
};

dfdg_err
dfdg_token_cache_new(size_t slots, struct dfdg_token_cache **out)
{
    *out = NULL;
    size_t n = 1;
    while (n < slots && n < ((size_t)1 << 20))
        n <<= 1;
    struct dfdg_token_cache *c = calloc(1, sizeof *c);
    if (c == NULL)
        return DFDG_NOMEM;
    c->slots = calloc(n, sizeof *c->slots);
    if (c->slots == NULL) {
        free(c);
        return DFDG_NOMEM;
    }
    c->mask = n - 1;
    randombytes_buf(c->hash_key, sizeof c->hash_key);
    pthread_mutex_init(&c->lock, NULL);
    *out = c;
    return DFDG_OK;
}

void
dfdg_token_cache_free(struct dfdg_token_cache *c)
{
    if (c == NULL)
        return;
    pthread_mutex_destroy(&c->lock);
    sodium_memzero(c->hash_key, sizeof c->hash_key);
    free(c->slots);
    free(c);
}

/* The same time rules as dfdg_token_verify (token.c). */
static bool
times_hold(const struct dfdg_claims *cl, int64_t now)
{
    return cl->exp > now - DFDG_TOKEN_LEEWAY && cl->iat <= now + DFDG_TOKEN_LEEWAY &&
           (cl->nbf == 0 || cl->nbf <= now + DFDG_TOKEN_LEEWAY);
}

dfdg_err
dfdg_token_cache_verify(struct dfdg_token_cache *c, const char *tok, size_t len, int64_t now,
                        dfdg_issuer_lookup lookup, void *lookup_ctx, struct dfdg_claims *out,
                        struct dfdg_errinfo *ei)
{
    if (len == 0 || len > DFDG_TOKEN_MAX)
        return dfdg_token_verify(tok, len, now, lookup, lookup_ctx, out, ei);
    uint8_t key[32];
    crypto_generichash(key, sizeof key, (const unsigned char *)tok, len, c->hash_key,
                       sizeof c->hash_key);
    struct slot *s = &c->slots[(key[0] | (size_t)key[1] << 8 | (size_t)key[2] << 16) & c->mask];
    pthread_mutex_lock(&c->lock);
    if (s->used && sodium_memcmp(s->key, key, sizeof key) == 0) {
        struct dfdg_claims cl = s->claims;
        c->hits++;
        pthread_mutex_unlock(&c->lock);
        if (!times_hold(&cl, now))
            return dfdg_token_verify(tok, len, now, lookup, lookup_ctx, out, ei);
        *out = cl;
        return DFDG_OK;
    }
    c->misses++;
    pthread_mutex_unlock(&c->lock);
    dfdg_err rc = dfdg_token_verify(tok, len, now, lookup, lookup_ctx, out, ei);
    if (rc != DFDG_OK)
        return rc;
    pthread_mutex_lock(&c->lock);
    memcpy(s->key, key, sizeof key);
    s->claims = *out;
    s->used = true;
    pthread_mutex_unlock(&c->lock);
    return DFDG_OK;
}

void
dfdg_token_cache_stats(struct dfdg_token_cache *c, uint64_t *hits, uint64_t *misses)
{
    pthread_mutex_lock(&c->lock);
    *hits = c->hits;
    *misses = c->misses;
    pthread_mutex_unlock(&c->lock);
}
