/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_token.c: libFuzzer target for bearer tokens (src/authz/token.c, the verified-token
 * cache in src/authz/tokencache.c, and the actor built from the claims in src/authz/access.c).
 *
 * Input: one selector byte, then:
 *   0  a raw compact JWT, verified as it arrives in "Authorization: Bearer ...";
 *   1  the claims (payload) JSON, signed with the test key under a fixed EdDSA header, so the
 *      signature verifies and the claims checks are reached;
 *   2  "header JSON" NL "payload JSON", both fuzzed, signed with the test key;
 *   3  a raw token through the cache twice: the cache must answer as dfdg_token_verify does;
 *   4  the bytes of a struct dfdg_claims, minted with the test key and verified back.
 * Properties: verified claims are printable, NUL-terminated and a valid actor or refused as
 * one; a minted token whose times hold verifies to the same claims; the cache agrees.
 */
#include "core/dfdg.h"
#include "authz/access.h"
#include "authz/token.h"
#include "authz/tokencache.h"

#include <sodium.h>

#include "fuzz_common.h"

#define NOW INT64_C(1800000000) /* a fixed "now": 2027-01-15 */
#define TEST_ISS "test-issuer"
#define OTHER_ISS "other-issuer"
#define BROKEN_ISS "broken-issuer" /* its key lookup fails as a store would */

static uint8_t test_pk[crypto_sign_PUBLICKEYBYTES], test_sk[crypto_sign_SECRETKEYBYTES];
static uint8_t other_pk[crypto_sign_PUBLICKEYBYTES], other_sk[crypto_sign_SECRETKEYBYTES];
static struct dfdg_token_cache *cache;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    uint8_t seed[crypto_sign_SEEDBYTES];
    FUZZ_CHECK(sodium_init() >= 0);
    memset(seed, 0x42, sizeof seed);
    crypto_sign_seed_keypair(test_pk, test_sk, seed);
    memset(seed, 0x17, sizeof seed);
    crypto_sign_seed_keypair(other_pk, other_sk, seed);
    FUZZ_CHECK(dfdg_token_cache_new(64, &cache) == DFDG_OK);
    return 0;
}

static dfdg_err
lookup(void *ctx, const char *iss, uint8_t pk[32] /* OUT */)
{
    (void)ctx;
    if (strcmp(iss, TEST_ISS) == 0) {
        memcpy(pk, test_pk, 32);
        return DFDG_OK;
    }
    if (strcmp(iss, OTHER_ISS) == 0) {
        memcpy(pk, other_pk, 32);
        return DFDG_OK;
    }
    if (strcmp(iss, BROKEN_ISS) == 0)
        return DFDG_IO;
    return DFDG_NOT_FOUND;
}

static bool
printable(const char *buf, size_t cap, bool may_be_empty)
{
    size_t n = strnlen(buf, cap);
    if (n == cap || (n == 0 && !may_be_empty))
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
            return false;
    return true;
}

/* What the server does with verified claims: properties, then the actor. */
static void
check_claims(const struct dfdg_claims *c)
{
    FUZZ_CHECK(printable(c->iss, sizeof c->iss, false));
    FUZZ_CHECK(printable(c->sub, sizeof c->sub, false));
    FUZZ_CHECK(printable(c->org, sizeof c->org, false));
    FUZZ_CHECK(c->exp > NOW - DFDG_TOKEN_LEEWAY);
    FUZZ_CHECK(c->iat <= NOW + DFDG_TOKEN_LEEWAY);
    bool citizen = strcmp(c->org, "citizen") == 0;
    FUZZ_CHECK(citizen == (c->cpr[0] != '\0'));
    if (citizen) {
        struct dfdg_cpr parsed;
        FUZZ_CHECK(dfdg_cpr_parse(c->cpr, strlen(c->cpr), &parsed, NULL) == DFDG_OK);
    }
    struct dfdg_actor a;
    struct dfdg_errinfo ei = {{0}, {0}};
    dfdg_err rc = dfdg_actor_from_claims(c, &a, &ei);
    FUZZ_CHECK(rc == DFDG_OK || rc == DFDG_UNAUTH);
    FUZZ_CHECK(fuzz_is_safe_message(ei.msg, sizeof ei.msg));
    if (rc == DFDG_OK) {
        FUZZ_CHECK((unsigned)a.kind < DFDG_KIND__COUNT);
        FUZZ_CHECK(strcmp(a.org, c->org) == 0);
        FUZZ_CHECK(strnlen(a.code, sizeof a.code) < sizeof a.code);
        FUZZ_CHECK((a.kind == DFDG_KIND_CITIZEN) == citizen);
    }
}

static dfdg_err
verify(const char *tok, size_t len, struct dfdg_claims *c /* OUT */)
{
    struct dfdg_errinfo ei = {{0}, {0}};
    dfdg_err rc = dfdg_token_verify(tok, len, NOW, lookup, NULL, c, &ei);
    FUZZ_CHECK(rc == DFDG_OK || rc == DFDG_UNAUTH || rc == DFDG_IO);
    FUZZ_CHECK(rc == DFDG_OK || ei.msg[0] != '\0');
    FUZZ_CHECK(fuzz_is_safe_message(ei.msg, sizeof ei.msg));
    if (rc == DFDG_OK)
        check_claims(c);
    return rc;
}

/* base64url(header) "." base64url(payload) "." base64url(signature with sk). */
static char *
sign(const uint8_t *hdr, size_t hdr_len, const uint8_t *pay, size_t pay_len, const uint8_t *sk)
{
    const int v = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
    size_t cap = sodium_base64_ENCODED_LEN(hdr_len, v) + sodium_base64_ENCODED_LEN(pay_len, v) +
                 sodium_base64_ENCODED_LEN(crypto_sign_BYTES, v);
    char *tok = malloc(cap);
    FUZZ_CHECK(tok != NULL);
    sodium_bin2base64(tok, cap, hdr, hdr_len, v);
    size_t pos = strlen(tok);
    tok[pos++] = '.';
    sodium_bin2base64(tok + pos, cap - pos, pay, pay_len, v);
    pos += strlen(tok + pos);
    uint8_t sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, (const uint8_t *)tok, pos, sk);
    tok[pos++] = '.';
    sodium_bin2base64(tok + pos, cap - pos, sig, sizeof sig, v);
    return tok;
}

static bool
claims_equal(const struct dfdg_claims *a, const struct dfdg_claims *b)
{
    return strcmp(a->iss, b->iss) == 0 && strcmp(a->sub, b->sub) == 0 &&
           strcmp(a->org, b->org) == 0 && strcmp(a->cpr, b->cpr) == 0 && a->iat == b->iat &&
           a->exp == b->exp && a->nbf == b->nbf;
}

/* A verified token minted again from its claims verifies to the same claims. */
static void
check_remint(const struct dfdg_claims *c)
{
    char *tok = NULL;
    FUZZ_CHECK(dfdg_token_mint(c, test_sk, &tok) == DFDG_OK);
    struct dfdg_claims back;
    FUZZ_CHECK(verify(tok, strlen(tok), &back) == DFDG_OK);
    FUZZ_CHECK(claims_equal(&back, c));
    free(tok);
}

/* Mode 4: claims from raw bytes. What mint accepts, verify accepts (when the times hold). */
static void
check_mint(const uint8_t *data, size_t size)
{
    struct dfdg_claims c;
    memset(&c, 0, sizeof c);
    memcpy(&c, data, size < sizeof c ? size : sizeof c);
    /* Mostly the test issuer, so the signature can verify. */
    if (c.iss[0] == 't')
        dfdg_strlcpy(c.iss, TEST_ISS, sizeof c.iss);
    char *tok = NULL;
    dfdg_err rc = dfdg_token_mint(&c, test_sk, &tok);
    FUZZ_CHECK(rc == DFDG_OK || rc == DFDG_INVAL);
    if (rc != DFDG_OK || strnlen(c.iss, sizeof c.iss) == sizeof c.iss ||
        strcmp(c.iss, TEST_ISS) != 0) {
        free(tok);
        return;
    }
    FUZZ_CHECK(strlen(tok) <= DFDG_TOKEN_MAX);
    bool times_hold = c.exp > NOW - DFDG_TOKEN_LEEWAY && c.iat <= NOW + DFDG_TOKEN_LEEWAY &&
                      (c.nbf == 0 || c.nbf <= NOW + DFDG_TOKEN_LEEWAY);
    struct dfdg_claims back;
    struct dfdg_errinfo ei = {{0}, {0}};
    rc = dfdg_token_verify(tok, strlen(tok), NOW, lookup, NULL, &back, &ei);
    if (times_hold && rc != DFDG_OK)
        fprintf(stderr, "fuzz: minted token refused: %s\n", ei.msg);
    FUZZ_CHECK(times_hold == (rc == DFDG_OK));
    if (rc == DFDG_OK) {
        FUZZ_CHECK(claims_equal(&back, &c));
        check_claims(&back);
    }
    free(tok);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char fixed_hdr[] = "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}";
    if (size < 1)
        return 0;
    uint8_t sel = data[0] % 5;
    data++;
    size--;
    struct dfdg_claims c;
    char *tok = NULL;
    switch (sel) {
    case 0: {
        char *raw = malloc(size > 0 ? size : 1); /* exact size: ASan sees overreads */
        FUZZ_CHECK(raw != NULL);
        if (size > 0)
            memcpy(raw, data, size);
        verify(raw, size, &c);
        free(raw);
        return 0;
    }
    case 1:
        tok = sign((const uint8_t *)fixed_hdr, sizeof fixed_hdr - 1, data, size, test_sk);
        break;
    case 2: {
        const uint8_t *nl = memchr(data, '\n', size);
        if (nl == NULL)
            return 0;
        size_t hlen = (size_t)(nl - data);
        tok = sign(data, hlen, nl + 1, size - hlen - 1, test_sk);
        break;
    }
    case 3: {
        char *raw = fuzz_strndup(data, size);
        struct dfdg_claims c1, c2;
        struct dfdg_errinfo e1 = {{0}, {0}}, e2 = {{0}, {0}};
        dfdg_err want = verify(raw, size, &c);
        dfdg_err r1 = dfdg_token_cache_verify(cache, raw, size, NOW, lookup, NULL, &c1, &e1);
        dfdg_err r2 = dfdg_token_cache_verify(cache, raw, size, NOW, lookup, NULL, &c2, &e2);
        FUZZ_CHECK(r1 == want && r2 == want);
        if (want == DFDG_OK) {
            FUZZ_CHECK(claims_equal(&c1, &c) && claims_equal(&c2, &c));
        }
        free(raw);
        return 0;
    }
    default:
        check_mint(data, size);
        return 0;
    }
    if (verify(tok, strlen(tok), &c) == DFDG_OK && strcmp(c.iss, TEST_ISS) == 0)
        check_remint(&c);
    free(tok);
    return 0;
}
