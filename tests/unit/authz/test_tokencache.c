/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_tokencache.c: the verified-token cache answers a repeated token without a signature
 * check, still refuses it once expired, and never caches a failure or a forgery.
 */
#include "core/dfdg.h"
#include "authz/tokencache.h"

#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <cmocka.h>

static uint8_t pk[32], sk[64];
static int lookups;

static dfdg_err
lookup(void *ctx, const char *iss, uint8_t out[32])
{
    (void)ctx;
    lookups++;
    if (strcmp(iss, "test") != 0)
        return DFDG_NOT_FOUND;
    memcpy(out, pk, 32);
    return DFDG_OK;
}

static char *
mint(const char *org, int64_t iat, int64_t exp)
{
    struct dfdg_claims c = {0};
    dfdg_strlcpy(c.iss, "test", sizeof c.iss);
    dfdg_strlcpy(c.sub, "u", sizeof c.sub);
    dfdg_strlcpy(c.org, org, sizeof c.org);
    c.iat = iat;
    c.exp = exp;
    char *tok = NULL;
    assert_int_equal(dfdg_token_mint(&c, sk, &tok), DFDG_OK);
    return tok;
}

static void
test_hit_skips_verification_but_not_the_clock(void **state)
{
    (void)state;
    struct dfdg_token_cache *c;
    assert_int_equal(dfdg_token_cache_new(16, &c), DFDG_OK);
    int64_t now = 1800000000;
    char *tok = mint("kommune:101", now, now + 600);
    struct dfdg_claims out;
    lookups = 0;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(
            dfdg_token_cache_verify(c, tok, strlen(tok), now, lookup, NULL, &out, NULL), DFDG_OK);
        assert_string_equal(out.org, "kommune:101");
    }
    assert_int_equal(lookups, 1); /* verified once, then answered from the cache */
    uint64_t hits, misses;
    dfdg_token_cache_stats(c, &hits, &misses);
    assert_int_equal(hits, 4);
    assert_int_equal(misses, 1);
    /* Once expired, the cached token is refused like any other. */
    assert_int_equal(dfdg_token_cache_verify(c, tok, strlen(tok), now + 600 + DFDG_TOKEN_LEEWAY,
                                             lookup, NULL, &out, NULL),
                     DFDG_UNAUTH);
    free(tok);
    dfdg_token_cache_free(c);
}

static void
test_failures_and_forgeries_not_cached(void **state)
{
    (void)state;
    struct dfdg_token_cache *c;
    assert_int_equal(dfdg_token_cache_new(16, &c), DFDG_OK);
    int64_t now = 1800000000;
    char *tok = mint("kommune:101", now, now + 600);
    struct dfdg_claims out;
    assert_int_equal(dfdg_token_cache_verify(c, tok, strlen(tok), now, lookup, NULL, &out, NULL),
                     DFDG_OK);
    /* The same payload with one signature character changed is another token: verified,
     * and refused, every time. */
    char *forged = strdup(tok);
    size_t n = strlen(forged);
    forged[n - 2] = forged[n - 2] == 'A' ? 'B' : 'A';
    lookups = 0;
    for (int i = 0; i < 3; i++)
        assert_int_equal(dfdg_token_cache_verify(c, forged, n, now, lookup, NULL, &out, NULL),
                         DFDG_UNAUTH);
    assert_int_equal(lookups, 3);
    /* A token not yet valid is refused and not remembered. */
    char *early = mint("kommune:101", now + 3600, now + 7200);
    lookups = 0;
    for (int i = 0; i < 2; i++)
        assert_int_equal(
            dfdg_token_cache_verify(c, early, strlen(early), now, lookup, NULL, &out, NULL),
            DFDG_UNAUTH);
    assert_int_equal(lookups, 2);
    free(early);
    free(forged);
    free(tok);
    dfdg_token_cache_free(c);
}

static void
test_collisions_only_evict(void **state)
{
    (void)state;
    struct dfdg_token_cache *c;
    assert_int_equal(dfdg_token_cache_new(1, &c), DFDG_OK); /* one slot: every token collides */
    int64_t now = 1800000000;
    char *a = mint("kommune:101", now, now + 600), *b = mint("akasse:3f", now, now + 600);
    struct dfdg_claims out;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(dfdg_token_cache_verify(c, a, strlen(a), now, lookup, NULL, &out, NULL),
                         DFDG_OK);
        assert_string_equal(out.org, "kommune:101");
        assert_int_equal(dfdg_token_cache_verify(c, b, strlen(b), now, lookup, NULL, &out, NULL),
                         DFDG_OK);
        assert_string_equal(out.org, "akasse:3f");
    }
    free(a);
    free(b);
    dfdg_token_cache_free(c);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    crypto_sign_keypair(pk, sk);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_skips_verification_but_not_the_clock),
        cmocka_unit_test(test_failures_and_forgeries_not_cached),
        cmocka_unit_test(test_collisions_only_evict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
