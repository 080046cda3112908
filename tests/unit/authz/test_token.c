/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_token.c: bearer-token minting and verification (authz/token.c). Forged tokens are built
 * by hand here (alg none, HS256 keyed with the public key, tampered or re-signed payloads, bad
 * base64url, wrong part counts) and each must be refused with DFDG_UNAUTH before it could grant
 * anything; the leeway boundaries and the "never echo the token or CPR" rule are pinned down.
 */
#include "core/dfdg.h"

#include "authz/token.h"

#include <jansson.h>
#include <sodium.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#define NOW INT64_C(1700000000)
#define CPR_DIGITS "0101901234"

static uint8_t dev_pk[32], dev_sk[64];     /* issuer "dev" */
static uint8_t other_pk[32], other_sk[64]; /* issuer "other"; also the "wrong key" */
static uint8_t stray_pk[32], stray_sk[64]; /* known to no issuer */
static int lookup_calls;

static dfdg_err
test_lookup(void *ctx, const char *iss, uint8_t pk[32])
{
    (void)ctx;
    lookup_calls++;
    if (strcmp(iss, "dev") == 0) {
        memcpy(pk, dev_pk, 32);
        return DFDG_OK;
    }
    if (strcmp(iss, "other") == 0) {
        memcpy(pk, other_pk, 32);
        return DFDG_OK;
    }
    if (strcmp(iss, "broken") == 0)
        return DFDG_IO;
    return DFDG_NOT_FOUND;
}

static int
setup_keys(void **state)
{
    (void)state;
    unsigned char seed[32];
    if (sodium_init() < 0)
        return -1;
    memset(seed, 1, sizeof seed);
    crypto_sign_seed_keypair(dev_pk, dev_sk, seed);
    memset(seed, 2, sizeof seed);
    crypto_sign_seed_keypair(other_pk, other_sk, seed);
    memset(seed, 3, sizeof seed);
    crypto_sign_seed_keypair(stray_pk, stray_sk, seed);
    return 0;
}

/* base64url without padding of n bytes; caller frees. */
static char *
b64(const void *bin, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *s = malloc(cap);
    assert_non_null(s);
    sodium_bin2base64(s, cap, bin, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return s;
}

/* "a.b.c" from three strings; caller frees. */
static char *
join3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
    char *s = malloc(n);
    assert_non_null(s);
    snprintf(s, n, "%s.%s.%s", a, b, c);
    return s;
}

/* A token with the given header and payload JSON text, signed with sk by Ed25519. */
static char *
forge(const char *hdr, const char *pay, const uint8_t *sk)
{
    char *h = b64(hdr, strlen(hdr));
    char *p = b64(pay, strlen(pay));
    size_t n = strlen(h) + strlen(p) + 2;
    char *input = malloc(n);
    assert_non_null(input);
    snprintf(input, n, "%s.%s", h, p);
    unsigned char sig[64];
    crypto_sign_detached(sig, NULL, (const unsigned char *)input, strlen(input), sk);
    char *s = b64(sig, sizeof sig);
    char *tok = join3(h, p, s);
    free(h);
    free(p);
    free(s);
    free(input);
    return tok;
}

/* A token with the given header and payload JSON text and a literal third part. */
static char *
forge_sigpart(const char *hdr, const char *pay, const char *sigpart)
{
    char *h = b64(hdr, strlen(hdr));
    char *p = b64(pay, strlen(pay));
    char *tok = join3(h, p, sigpart);
    free(h);
    free(p);
    return tok;
}

#define HDR "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}"
#define PAY_KK                                                                                     \
    "{\"iss\":\"dev\",\"sub\":\"u1\",\"org\":\"kk101\",\"iat\":1700000000,\"exp\":1700003600}"

static dfdg_err
verify_at(const char *tok, int64_t now, struct dfdg_claims *c, struct dfdg_errinfo *ei)
{
    memset(ei, 0, sizeof *ei);
    return dfdg_token_verify(tok, strlen(tok), now, test_lookup, NULL, c, ei);
}

/* Asserts tok is refused with DFDG_UNAUTH, a message containing want, and zeroed claims. */
static void
expect_reject(const char *tok, const char *want)
{
    struct dfdg_claims c;
    struct dfdg_errinfo ei;
    memset(&c, 0x5a, sizeof c);
    assert_int_equal(verify_at(tok, NOW, &c, &ei), DFDG_UNAUTH);
    if (strstr(ei.msg, want) == NULL)
        print_error("reason \"%s\", expected one containing \"%s\"\n", ei.msg, want);
    assert_non_null(strstr(ei.msg, want));
    struct dfdg_claims zero;
    memset(&zero, 0, sizeof zero);
    assert_memory_equal(&c, &zero, sizeof c);
}

static void
expect_reject_forged(const char *hdr, const char *pay, const uint8_t *sk, const char *want)
{
    char *tok = forge(hdr, pay, sk);
    expect_reject(tok, want);
    free(tok);
}

static struct dfdg_claims
kk_claims(void)
{
    struct dfdg_claims c;
    memset(&c, 0, sizeof c);
    dfdg_strlcpy(c.iss, "dev", sizeof c.iss);
    dfdg_strlcpy(c.sub, "caseworker-17", sizeof c.sub);
    dfdg_strlcpy(c.org, "kk101", sizeof c.org);
    c.iat = NOW;
    c.exp = NOW + 3600;
    return c;
}

static void
test_mint_verify_round_trip(void **state)
{
    (void)state;
    struct dfdg_claims in = kk_claims(), got;
    struct dfdg_errinfo ei;
    char *tok = NULL;
    assert_int_equal(dfdg_token_mint(&in, dev_sk, &tok), DFDG_OK);
    assert_non_null(tok);
    assert_null(strchr(tok, '='));
    assert_true(strlen(tok) <= DFDG_TOKEN_MAX);
    assert_int_equal(verify_at(tok, NOW, &got, &ei), DFDG_OK);
    assert_memory_equal(&in, &got, sizeof in);
    assert_int_equal(got.nbf, 0);
    assert_string_equal(got.cpr, "");

    /* The header is exactly the fixed one and the payload has sorted compact keys. */
    const char *dot = strchr(tok, '.');
    char *h = b64(HDR, strlen(HDR));
    assert_int_equal((size_t)(dot - tok), strlen(h));
    assert_memory_equal(tok, h, strlen(h));
    free(h);
    unsigned char pay[512];
    size_t pay_len;
    assert_int_equal(sodium_base642bin(pay, sizeof pay, dot + 1, strcspn(dot + 1, "."), NULL,
                                       &pay_len, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    const char *want = "{\"exp\":1700003600,\"iat\":1700000000,\"iss\":\"dev\","
                       "\"org\":\"kk101\",\"sub\":\"caseworker-17\"}";
    assert_int_equal(pay_len, strlen(want));
    assert_memory_equal(pay, want, pay_len);
    free(tok);

    /* nbf is carried when set. */
    in.nbf = NOW - 10;
    assert_int_equal(dfdg_token_mint(&in, dev_sk, &tok), DFDG_OK);
    assert_int_equal(verify_at(tok, NOW, &got, &ei), DFDG_OK);
    assert_int_equal(got.nbf, NOW - 10);
    free(tok);
}

static void
test_citizen_token(void **state)
{
    (void)state;
    struct dfdg_claims in = kk_claims(), got;
    struct dfdg_errinfo ei;
    char *tok = NULL;
    dfdg_strlcpy(in.org, "citizen", sizeof in.org);
    dfdg_strlcpy(in.cpr, CPR_DIGITS, sizeof in.cpr);
    assert_int_equal(dfdg_token_mint(&in, dev_sk, &tok), DFDG_OK);
    assert_int_equal(verify_at(tok, NOW, &got, &ei), DFDG_OK);
    assert_string_equal(got.org, "citizen");
    assert_string_equal(got.cpr, CPR_DIGITS);
    free(tok);

    /* A hyphenated cpr from another issuer is stored normalised. */
    tok = forge(HDR,
                "{\"iss\":\"dev\",\"sub\":\"c\",\"org\":\"citizen\",\"cpr\":\"010190-1234\","
                "\"iat\":1700000000,\"exp\":1700003600}",
                dev_sk);
    assert_int_equal(verify_at(tok, NOW, &got, &ei), DFDG_OK);
    assert_string_equal(got.cpr, CPR_DIGITS);
    free(tok);

    /* Citizen without cpr, cpr on a non-citizen, a bad cpr, a non-string cpr. */
    expect_reject_forged(HDR,
                         "{\"iss\":\"dev\",\"sub\":\"c\",\"org\":\"citizen\",\"iat\":1700000000,"
                         "\"exp\":1700003600}",
                         dev_sk, "lacks cpr");
    expect_reject_forged(HDR,
                         "{\"iss\":\"dev\",\"sub\":\"c\",\"org\":\"kk101\",\"cpr\":\"0101901234\","
                         "\"iat\":1700000000,\"exp\":1700003600}",
                         dev_sk, "cpr claim only");
    expect_reject_forged(
        HDR,
        "{\"iss\":\"dev\",\"sub\":\"c\",\"org\":\"citizen\",\"cpr\":\"0000000000\","
        "\"iat\":1700000000,\"exp\":1700003600}",
        dev_sk, "invalid cpr");
    expect_reject_forged(HDR,
                         "{\"iss\":\"dev\",\"sub\":\"c\",\"org\":\"citizen\",\"cpr\":101901234,"
                         "\"iat\":1700000000,\"exp\":1700003600}",
                         dev_sk, "invalid cpr");

    /* Mint refuses the same inconsistencies. */
    in.cpr[0] = '\0';
    assert_int_equal(dfdg_token_mint(&in, dev_sk, &tok), DFDG_INVAL);
    assert_null(tok);
    in = kk_claims();
    dfdg_strlcpy(in.cpr, CPR_DIGITS, sizeof in.cpr);
    assert_int_equal(dfdg_token_mint(&in, dev_sk, &tok), DFDG_INVAL);
}

static void
test_rejects_other_algorithms_before_lookup(void **state)
{
    (void)state;
    const char *pay = PAY_KK;
    static const char *const hdrs[] = {
        "{\"alg\":\"none\",\"typ\":\"JWT\"}",
        "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
        "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
        "{\"alg\":\"ES256\"}",
        "{\"typ\":\"JWT\"}",
        "{\"alg\":\"eddsa\"}",
        "{\"alg\":\"EdDSA \"}",
        "{\"alg\":null}",
        "{\"alg\":[\"EdDSA\"]}",
    };
    for (size_t i = 0; i < DFDG_ARRAY_LEN(hdrs); i++) {
        lookup_calls = 0;
        expect_reject_forged(hdrs[i], pay, dev_sk, "unsupported alg");
        assert_int_equal(lookup_calls, 0);
    }

    /* alg none with an empty signature: the classic unsigned token. */
    lookup_calls = 0;
    char *tok = forge_sigpart("{\"alg\":\"none\"}", pay, "");
    expect_reject(tok, "empty part");
    free(tok);
    /* ... and with a non-empty but meaningless signature part. */
    tok = forge_sigpart("{\"alg\":\"none\"}", pay, "AAAA");
    expect_reject(tok, "malformed");
    free(tok);
    assert_int_equal(lookup_calls, 0);

    /* HS256 keyed with the issuer's public key (algorithm confusion). */
    const char *hs = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char *h = b64(hs, strlen(hs));
    char *p = b64(pay, strlen(pay));
    size_t n = strlen(h) + strlen(p) + 2;
    char *input = malloc(n);
    assert_non_null(input);
    snprintf(input, n, "%s.%s", h, p);
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, dev_pk, sizeof dev_pk);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)input, strlen(input));
    crypto_auth_hmacsha256_final(&st, mac);
    char *m = b64(mac, sizeof mac);
    tok = join3(h, p, m);
    expect_reject(tok, "malformed"); /* 32-byte signature */
    free(tok);
    /* Even padded out to 64 bytes, the header is refused first. */
    unsigned char mac64[64] = {0};
    memcpy(mac64, mac, sizeof mac);
    free(m);
    m = b64(mac64, sizeof mac64);
    tok = join3(h, p, m);
    lookup_calls = 0;
    expect_reject(tok, "unsupported alg");
    assert_int_equal(lookup_calls, 0);
    free(tok);
    free(m);
    free(h);
    free(p);
    free(input);
}

static void
test_header_rules(void **state)
{
    (void)state;
    struct dfdg_claims c;
    struct dfdg_errinfo ei;
    /* Accepted: no typ, typ JWT, a kid, extra members. */
    static const char *const ok[] = {
        "{\"alg\":\"EdDSA\"}",
        "{\"typ\":\"JWT\",\"alg\":\"EdDSA\"}",
        "{\"alg\":\"EdDSA\",\"kid\":\"dev-2024\"}",
        " { \"alg\" : \"EdDSA\" } ",
    };
    for (size_t i = 0; i < DFDG_ARRAY_LEN(ok); i++) {
        char *tok = forge(ok[i], PAY_KK, dev_sk);
        assert_int_equal(verify_at(tok, NOW, &c, &ei), DFDG_OK);
        free(tok);
    }
    expect_reject_forged("{\"alg\":\"EdDSA\",\"typ\":\"JWS\"}", PAY_KK, dev_sk, "typ");
    expect_reject_forged("{\"alg\":\"EdDSA\",\"typ\":1}", PAY_KK, dev_sk, "typ");
    expect_reject_forged("{\"alg\":\"EdDSA\",\"kid\":7}", PAY_KK, dev_sk, "header");
    expect_reject_forged("{\"alg\":\"EdDSA\",\"crit\":[\"exp\"]}", PAY_KK, dev_sk, "critical");
    /* Non-object and malformed headers. */
    expect_reject_forged("[\"EdDSA\"]", PAY_KK, dev_sk, "header");
    expect_reject_forged("\"EdDSA\"", PAY_KK, dev_sk, "header");
    expect_reject_forged("{\"alg\":\"EdDSA\"", PAY_KK, dev_sk, "header");
    expect_reject_forged("{\"alg\":\"EdDSA\"} x", PAY_KK, dev_sk, "header");
    expect_reject_forged("", PAY_KK, dev_sk, "empty part");
    /* Duplicate keys: a second alg must not override or be overridden. */
    expect_reject_forged("{\"alg\":\"none\",\"alg\":\"EdDSA\"}", PAY_KK, dev_sk, "header");
    expect_reject_forged("{\"alg\":\"EdDSA\",\"alg\":\"EdDSA\"}", PAY_KK, dev_sk, "header");
}

static void
test_signature_rules(void **state)
{
    (void)state;
    struct dfdg_claims c;
    struct dfdg_errinfo ei;
    char *good = forge(HDR, PAY_KK, dev_sk);
    assert_int_equal(verify_at(good, NOW, &c, &ei), DFDG_OK);
    const char *sig = strrchr(good, '.') + 1;

    /* Signed by another issuer's key, and by a key known to nobody. */
    expect_reject_forged(HDR, PAY_KK, other_sk, "signature does not verify");
    expect_reject_forged(HDR, PAY_KK, stray_sk, "signature does not verify");

    /* A tampered payload and a swapped org claim, each with the original signature. */
    static const char *const tampered[] = {
        "{\"iss\":\"dev\",\"sub\":\"u1\",\"org\":\"kk101\",\"iat\":1700000000,\"exp\":1799999999}",
        "{\"iss\":\"dev\",\"sub\":\"u1\",\"org\":\"star\",\"iat\":1700000000,\"exp\":1700003600}",
        "{\"iss\":\"dev\",\"sub\":\"u2\",\"org\":\"kk101\",\"iat\":1700000000,\"exp\":1700003600}",
    };
    for (size_t i = 0; i < DFDG_ARRAY_LEN(tampered); i++) {
        char *tok = forge_sigpart(HDR, tampered[i], sig);
        expect_reject(tok, "signature does not verify");
        free(tok);
    }
    /* The same claims under another issuer name whose key differs. */
    char *tok = forge_sigpart(HDR,
                              "{\"iss\":\"other\",\"sub\":\"u1\",\"org\":\"kk101\","
                              "\"iat\":1700000000,\"exp\":1700003600}",
                              sig);
    expect_reject(tok, "signature does not verify");
    free(tok);

    /* A header changed to an equivalent one still breaks the signature over its bytes. */
    tok = forge_sigpart("{\"alg\":\"EdDSA\"}", PAY_KK, sig);
    expect_reject(tok, "signature does not verify");
    free(tok);

    /* One flipped signature bit. */
    tok = strdup(good);
    assert_non_null(tok);
    char *last = strrchr(tok, '.') + 1;
    last[3] = last[3] == 'A' ? 'B' : 'A';
    expect_reject(tok, "signature does not verify");
    free(tok);
    free(good);
}

static void
test_unknown_and_failing_issuer(void **state)
{
    (void)state;
    struct dfdg_claims c;
    struct dfdg_errinfo ei;
    expect_reject_forged(HDR,
                         "{\"iss\":\"nobody\",\"sub\":\"u1\",\"org\":\"kk101\","
                         "\"iat\":1700000000,\"exp\":1700003600}",
                         stray_sk, "unknown issuer");
    /* The issuer that names the key must be a proper string. */
    expect_reject_forged(HDR, "{\"sub\":\"u1\",\"org\":\"kk101\",\"iat\":1,\"exp\":1700003600}",
                         dev_sk, "invalid iss");
    expect_reject_forged(
        HDR, "{\"iss\":5,\"sub\":\"u1\",\"org\":\"kk101\",\"iat\":1,\"exp\":1700003600}", dev_sk,
        "invalid iss");
    /* A failing key store is the server's problem, not a 401. */
    char *tok = forge(HDR,
                      "{\"iss\":\"broken\",\"sub\":\"u1\",\"org\":\"kk101\",\"iat\":1700000000,"
                      "\"exp\":1700003600}",
                      dev_sk);
    assert_int_equal(verify_at(tok, NOW, &c, &ei), DFDG_IO);
    free(tok);
}

static void
test_shape_and_base64(void **state)
{
    (void)state;
    char *good = forge(HDR, PAY_KK, dev_sk);
    size_t n = strlen(good);
    char *buf = malloc(n + 16);
    assert_non_null(buf);
    const char *dot1 = strchr(good, '.');
    const char *dot2 = strrchr(good, '.');

    /* Two parts, four parts, one part, empty parts. */
    snprintf(buf, n + 16, "%.*s", (int)(dot2 - good), good);
    expect_reject(buf, "three parts");
    snprintf(buf, n + 16, "%s.AAAA", good);
    expect_reject(buf, "three parts");
    snprintf(buf, n + 16, "%s.", good);
    expect_reject(buf, "three parts");
    snprintf(buf, n + 16, "%.*s", (int)(dot1 - good), good);
    expect_reject(buf, "three parts");
    expect_reject("..", "empty part");
    snprintf(buf, n + 16, "%.*s.%s", (int)(dot1 - good), good, dot2);
    expect_reject(buf, "empty part");
    snprintf(buf, n + 16, "%.*s.", (int)(dot2 - good), good);
    expect_reject(buf, "empty part");
    snprintf(buf, n + 16, "%s", dot1);
    expect_reject(buf, "empty part");
    expect_reject("", "missing token");

    /* Padding on any part, whitespace, standard-alphabet and other characters. */
    snprintf(buf, n + 16, "%s=", good);
    expect_reject(buf, "base64");
    snprintf(buf, n + 16, "%.*s=%s", (int)(dot1 - good), good, dot1);
    expect_reject(buf, "base64");
    snprintf(buf, n + 16, "%.*s==%s", (int)(dot2 - good), good, dot2);
    expect_reject(buf, "base64");
    static const char bad_chars[] = {'+', '/', ' ', '\n', '\t', '*', '%', '\x80'};
    for (size_t i = 0; i < sizeof bad_chars; i++) {
        for (size_t where = 0; where < 3; where++) {
            size_t at = where == 0   ? 2
                        : where == 1 ? (size_t)(dot1 - good) + 2
                                     : (size_t)(dot2 - good) + 2;
            memcpy(buf, good, n + 1);
            buf[at] = bad_chars[i];
            expect_reject(buf, "base64");
        }
    }
    /* A NUL inside the counted length. */
    struct dfdg_claims c;
    struct dfdg_errinfo ei;
    memcpy(buf, good, n + 1);
    buf[5] = '\0';
    assert_int_equal(dfdg_token_verify(buf, n, NOW, test_lookup, NULL, &c, &ei), DFDG_UNAUTH);
    /* "Bearer " must have been stripped by the caller. */
    snprintf(buf, n + 16, "Bearer %s", good);
    expect_reject(buf, "base64");

    /* Bytes from 0x80 up, which libsodium 1.0.18 alone would decode as '_': the token must not
     * verify when spelled another way. */
    memcpy(buf, good, n + 1);
    char *us = strchr(strrchr(buf, '.'), '_');
    assert_non_null(us); /* the fixed key and claims give a signature with a '_' */
    for (int hi = 0x80; hi <= 0xff; hi += 0x3f) {
        *us = (char)hi;
        expect_reject(buf, "base64");
    }

    /* A non-canonical last character (spare bits set) is refused, not decoded leniently. */
    memcpy(buf, good, n + 1);
    char *end = buf + n - 1;
    assert_true(strchr("AQgw", *end) != NULL); /* 64 bytes leave 4 spare bits in the last char */
    *end = (char)(*end + 1);
    expect_reject(buf, "base64");
    /* A signature of the wrong length. */
    snprintf(buf, n + 16, "%.*s", (int)(n - 2), good);
    expect_reject(buf, "malformed");
    free(buf);
    free(good);
}

static void
test_too_long(void **state)
{
    (void)state;
    struct dfdg_claims c;
    struct dfdg_errinfo ei;
    /* A properly signed token just over the cap, made long by an extra claim. */
    size_t pad_len = DFDG_TOKEN_MAX;
    char *pad = malloc(pad_len + 1);
    assert_non_null(pad);
    memset(pad, 'x', pad_len);
    pad[pad_len] = '\0';
    size_t pay_cap = pad_len + 256;
    char *pay = malloc(pay_cap);
    assert_non_null(pay);
    char *tok = NULL;
    /* Find the longest padding that fits, then show one more byte of token is refused. */
    size_t lo = 0, hi = pad_len;
    while (lo < hi) {
        size_t mid = (lo + hi + 1) / 2;
        snprintf(pay, pay_cap,
                 "{\"iss\":\"dev\",\"sub\":\"u1\",\"org\":\"kk101\",\"iat\":1700000000,"
                 "\"exp\":1700003600,\"x\":\"%.*s\"}",
                 (int)mid, pad);
        tok = forge(HDR, pay, dev_sk);
        if (strlen(tok) <= DFDG_TOKEN_MAX)
            lo = mid;
        else
            hi = mid - 1;
        free(tok);
    }
    snprintf(pay, pay_cap,
             "{\"iss\":\"dev\",\"sub\":\"u1\",\"org\":\"kk101\",\"iat\":1700000000,"
             "\"exp\":1700003600,\"x\":\"%.*s\"}",
             (int)lo, pad);
    tok = forge(HDR, pay, dev_sk);
    assert_true(strlen(tok) <= DFDG_TOKEN_MAX);
    assert_true(strlen(tok) > DFDG_TOKEN_MAX - 4);
    assert_int_equal(verify_at(tok, NOW, &c, &ei), DFDG_OK);
    free(tok);
    snprintf(pay, pay_cap,
             "{\"iss\":\"dev\",\"sub\":\"u1\",\"org\":\"kk101\",\"iat\":1700000000,"
             "\"exp\":1700003600,\"x\":\"%.*s\"}",
             (int)lo + 3, pad);
    tok = forge(HDR, pay, dev_sk);
    assert_true(strlen(tok) > DFDG_TOKEN_MAX);
    expect_reject(tok, "too long");
    free(tok);

    /* A huge token is refused by its length alone. */
    size_t big = 1u << 20;
    char *huge = malloc(big + 1);
    assert_non_null(huge);
    memset(huge, 'A', big);
    huge[10] = '.';
    huge[20] = '.';
    huge[big] = '\0';
    lookup_calls = 0;
    expect_reject(huge, "too long");
    assert_int_equal(lookup_calls, 0);
    free(huge);
    free(pay);
    free(pad);
}

static void
test_payload_rules(void **state)
{
    (void)state;
    /* All signed with the right key, so only the claims can be at fault. */
    struct {
        const char *pay;
        const char *want;
    } cases[] = {
        {"{\"iss\":\"dev\",\"sub\":\"u1\",\"org\":\"kk101\",\"iat\":1700000000", "payload"},
        {"[\"dev\"]", "payload"},
        {"null", "payload"},
        {"{\"iss\":\"dev\",\"sub\":\"u1\",\"org\":\"kk101\",\"iat\":1700000000,"
         "\"exp\":1700003600} {}",
         "payload"},
        {"{\"iss\":\"dev\",\"sub\":\"u1\",\"org\":\"kk101\",\"org\":\"star\",\"iat\":1700000000,"
         "\"exp\":1700003600}",
         "payload"},
        {"{\"iss\":\"dev\",\"iss\":\"other\",\"sub\":\"u1\",\"org\":\"kk101\",\"iat\":1700000000,"
         "\"exp\":1700003600}",
         "payload"},
        {"{\"iss\":\"dev\",\"sub\":\"u1\",\"org\":\"kk101\",\"iat\":1700000000}", "invalid exp"},
        {"{\"iss\":\"dev\",\"sub\":\"u1\",\"org\":\"kk101\",\"iat\":1700000000,"
         "\"exp\":\"1700003600\"}",
         "invalid exp"},
        {"{\"iss\":\"dev\",\"sub\":\"u1\",\"org\":\"kk101\",\"iat\":1700000000,"
         "\"exp\":1700003600.0}",
         "invalid exp"},
        {"{\"iss\":\"dev\",\"sub\":\"u1\",\"org\":\"kk101\",\"iat\":1700000000,"
         "\"exp\":99999999999999999999999}",
         "payload"},
        {"{\"iss\":\"dev\",\"sub\":\"u1\",\"org\":\"kk101\",\"exp\":1700003600}", "invalid iat"},
        {"{\"iss\":\"dev\",\"sub\":\"u1\",\"org\":\"kk101\",\"iat\":true,\"exp\":1700003600}",
         "invalid iat"},
        {"{\"iss\":\"dev\",\"sub\":\"u1\",\"org\":\"kk101\",\"iat\":1700000000,"
         "\"exp\":1700003600,\"nbf\":null}",
         "invalid nbf"},
        {"{\"iss\":\"dev\",\"org\":\"kk101\",\"iat\":1700000000,\"exp\":1700003600}",
         "invalid sub"},
        {"{\"iss\":\"dev\",\"sub\":\"\",\"org\":\"kk101\",\"iat\":1700000000,\"exp\":1700003600}",
         "invalid sub"},
        {"{\"iss\":\"dev\",\"sub\":[\"u1\"],\"org\":\"kk101\",\"iat\":1700000000,"
         "\"exp\":1700003600}",
         "invalid sub"},
        {"{\"iss\":\"dev\",\"sub\":\"u\\n1\",\"org\":\"kk101\",\"iat\":1700000000,"
         "\"exp\":1700003600}",
         "invalid sub"},
        {"{\"iss\":\"dev\",\"sub\":\"u\\u00001\",\"org\":\"kk101\",\"iat\":1700000000,"
         "\"exp\":1700003600}",
         "payload"},
        {"{\"iss\":\"dev\",\"sub\":\"u1\",\"iat\":1700000000,\"exp\":1700003600}", "invalid org"},
        {"{\"iss\":\"dev\",\"sub\":\"u1\",\"org\":42,\"iat\":1700000000,\"exp\":1700003600}",
         "invalid org"},
    };
    for (size_t i = 0; i < DFDG_ARRAY_LEN(cases); i++)
        expect_reject_forged(HDR, cases[i].pay, dev_sk, cases[i].want);

    /* Length limits: 127/63 bytes pass, one more fails. */
    char sub[200], org[100], pay[512];
    struct dfdg_claims c;
    struct dfdg_errinfo ei;
    memset(sub, 's', 127);
    sub[127] = '\0';
    memset(org, 'o', 63);
    org[63] = '\0';
    snprintf(pay, sizeof pay,
             "{\"iss\":\"dev\",\"sub\":\"%s\",\"org\":\"%s\",\"iat\":1700000000,"
             "\"exp\":1700003600}",
             sub, org);
    char *tok = forge(HDR, pay, dev_sk);
    assert_int_equal(verify_at(tok, NOW, &c, &ei), DFDG_OK);
    assert_string_equal(c.sub, sub);
    assert_string_equal(c.org, org);
    free(tok);
    snprintf(pay, sizeof pay,
             "{\"iss\":\"dev\",\"sub\":\"%ss\",\"org\":\"kk101\",\"iat\":1700000000,"
             "\"exp\":1700003600}",
             sub);
    expect_reject_forged(HDR, pay, dev_sk, "invalid sub");
    snprintf(pay, sizeof pay,
             "{\"iss\":\"dev\",\"sub\":\"u1\",\"org\":\"%so\",\"iat\":1700000000,"
             "\"exp\":1700003600}",
             org);
    expect_reject_forged(HDR, pay, dev_sk, "invalid org");
    snprintf(pay, sizeof pay,
             "{\"iss\":\"%so\",\"sub\":\"u1\",\"org\":\"kk101\",\"iat\":1700000000,"
             "\"exp\":1700003600}",
             org);
    expect_reject_forged(HDR, pay, dev_sk, "invalid iss");

    /* Unknown claims are ignored (RFC 7519 §4). */
    tok = forge(HDR,
                "{\"iss\":\"dev\",\"sub\":\"u1\",\"org\":\"kk101\",\"iat\":1700000000,"
                "\"exp\":1700003600,\"aud\":\"dfdg\",\"jti\":\"x\"}",
                dev_sk);
    assert_int_equal(verify_at(tok, NOW, &c, &ei), DFDG_OK);
    free(tok);
}

/* A dev-signed kk101 token with the given time claims ("" leaves nbf out). */
static char *
timed_token(int64_t iat, int64_t exp, const char *nbf)
{
    char pay[256];
    snprintf(pay, sizeof pay,
             "{\"iss\":\"dev\",\"sub\":\"u1\",\"org\":\"kk101\",\"iat\":%lld,\"exp\":%lld%s}",
             (long long)iat, (long long)exp, nbf);
    return forge(HDR, pay, dev_sk);
}

static void
test_time_and_leeway(void **state)
{
    (void)state;
    struct dfdg_claims c;
    struct dfdg_errinfo ei;
    const int64_t L = DFDG_TOKEN_LEEWAY;
    char *tok;
    char nbf[64];

    /* exp: exactly now - leeway is expired; one second later is still good. */
    tok = timed_token(NOW - 3600, NOW - L, "");
    expect_reject(tok, "token expired");
    free(tok);
    tok = timed_token(NOW - 3600, NOW - L + 1, "");
    assert_int_equal(verify_at(tok, NOW, &c, &ei), DFDG_OK);
    assert_int_equal(c.exp, NOW - L + 1);
    free(tok);
    tok = timed_token(NOW - 7200, NOW - 3600, "");
    expect_reject(tok, "token expired");
    free(tok);

    /* nbf: now + leeway is accepted, one more second is not yet valid. */
    snprintf(nbf, sizeof nbf, ",\"nbf\":%lld", (long long)(NOW + L));
    tok = timed_token(NOW, NOW + 3600, nbf);
    assert_int_equal(verify_at(tok, NOW, &c, &ei), DFDG_OK);
    assert_int_equal(c.nbf, NOW + L);
    free(tok);
    snprintf(nbf, sizeof nbf, ",\"nbf\":%lld", (long long)(NOW + L + 1));
    tok = timed_token(NOW, NOW + 3600, nbf);
    expect_reject(tok, "not yet valid");
    free(tok);
    snprintf(nbf, sizeof nbf, ",\"nbf\":%lld", (long long)(NOW + 600));
    tok = timed_token(NOW, NOW + 3600, nbf);
    expect_reject(tok, "not yet valid");
    free(tok);

    /* iat: up to now + leeway, not beyond. */
    tok = timed_token(NOW + L, NOW + 3600, "");
    assert_int_equal(verify_at(tok, NOW, &c, &ei), DFDG_OK);
    free(tok);
    tok = timed_token(NOW + L + 1, NOW + 3600, "");
    expect_reject(tok, "future");
    free(tok);

    /* Extremes of int64 neither overflow nor pass. */
    tok = timed_token(0, INT64_MIN, "");
    expect_reject(tok, "token expired");
    free(tok);
    tok = timed_token(INT64_MAX, INT64_MAX, "");
    expect_reject(tok, "future");
    free(tok);
    tok = timed_token(INT64_MIN, INT64_MAX, "");
    assert_int_equal(verify_at(tok, INT64_MAX, &c, &ei), DFDG_OK);
    assert_int_equal(verify_at(tok, INT64_MIN, &c, &ei), DFDG_OK);
    free(tok);

    /* The same token is good now and expired later. */
    tok = timed_token(NOW, NOW + 60, "");
    assert_int_equal(verify_at(tok, NOW, &c, &ei), DFDG_OK);
    assert_int_equal(verify_at(tok, NOW + 60 + L, &c, &ei), DFDG_UNAUTH);
    assert_string_equal(ei.msg, "token expired");
    free(tok);
}

static void
assert_msg_clean(const char *msg, const char *tok)
{
    assert_true(msg[0] != '\0');
    assert_true(strlen(msg) < 80);
    assert_null(strstr(msg, CPR_DIGITS));
    assert_null(strstr(msg, "010190"));
    assert_null(strstr(msg, "caseworker"));
    /* No run of 8 or more characters of any token part is echoed. */
    size_t n = strlen(tok);
    for (size_t i = 0; i + 8 <= n; i++) {
        char piece[9];
        memcpy(piece, tok + i, 8);
        piece[8] = '\0';
        if (strchr(piece, '.') != NULL)
            continue;
        assert_null(strstr(msg, piece));
    }
}

static void
test_messages_do_not_leak(void **state)
{
    (void)state;
    struct dfdg_claims c;
    struct dfdg_errinfo ei;
    struct dfdg_claims in = kk_claims();
    dfdg_strlcpy(in.sub, "caseworker-17", sizeof in.sub);
    dfdg_strlcpy(in.org, "citizen", sizeof in.org);
    dfdg_strlcpy(in.cpr, CPR_DIGITS, sizeof in.cpr);
    in.exp = NOW - 3600;
    char *toks[8] = {0};
    size_t k = 0;
    assert_int_equal(dfdg_token_mint(&in, dev_sk, &toks[k++]), DFDG_OK);   /* expired */
    assert_int_equal(dfdg_token_mint(&in, other_sk, &toks[k++]), DFDG_OK); /* wrong key */
    toks[k++] =
        forge(HDR, "{\"iss\":\"dev\",\"cpr\":\"0101901234\",\"sub\":\"caseworker\"", dev_sk);
    toks[k++] = forge(HDR,
                      "{\"iss\":\"nobody-0101901234\",\"sub\":\"caseworker\",\"org\":\"citizen\","
                      "\"cpr\":\"0101901234\",\"iat\":1,\"exp\":2}",
                      dev_sk);
    toks[k++] = forge(HDR,
                      "{\"iss\":\"dev\",\"sub\":\"caseworker\",\"org\":\"citizen\","
                      "\"cpr\":\"010190-12345\",\"iat\":1700000000,\"exp\":1700003600}",
                      dev_sk);
    toks[k++] = forge("{\"alg\":\"0101901234\"}", "{\"cpr\":\"0101901234\"}", dev_sk);
    toks[k++] = forge("{\"alg\":\"EdDSA\",\"typ\":\"0101901234\"}", "{}", dev_sk);
    toks[k] = forge(HDR, "{\"iss\":\"dev\",\"sub\":\"caseworker\",\"cpr\":\"0101901234\"}", dev_sk);
    toks[k][5] = '!';
    k++;
    for (size_t i = 0; i < k; i++) {
        memset(&ei, 0, sizeof ei);
        assert_int_equal(verify_at(toks[i], NOW, &c, &ei), DFDG_UNAUTH);
        assert_msg_clean(ei.msg, toks[i]);
        assert_string_equal(c.cpr, "");
        free(toks[i]);
    }
}

static void
test_api_misuse(void **state)
{
    (void)state;
    struct dfdg_claims c, in = kk_claims();
    struct dfdg_errinfo ei;
    char *tok = NULL;
    assert_int_equal(dfdg_token_verify(NULL, 10, NOW, test_lookup, NULL, &c, &ei), DFDG_UNAUTH);
    assert_int_equal(dfdg_token_verify("a.b.c", 5, NOW, NULL, NULL, &c, &ei), DFDG_INVAL);
    assert_int_equal(dfdg_token_verify("a.b.c", 5, NOW, test_lookup, NULL, NULL, &ei), DFDG_INVAL);
    /* ei is optional. */
    assert_int_equal(dfdg_token_mint(&in, dev_sk, &tok), DFDG_OK);
    assert_int_equal(dfdg_token_verify(tok, strlen(tok), NOW, test_lookup, NULL, &c, NULL),
                     DFDG_OK);
    assert_int_equal(dfdg_token_verify(tok, strlen(tok), NOW + 86400, test_lookup, NULL, &c, NULL),
                     DFDG_UNAUTH);
    free(tok);
    tok = NULL;

    /* Mint refuses claims that verify would refuse for their shape. */
    assert_int_equal(dfdg_token_mint(NULL, dev_sk, &tok), DFDG_INVAL);
    assert_int_equal(dfdg_token_mint(&in, NULL, &tok), DFDG_INVAL);
    assert_int_equal(dfdg_token_mint(&in, dev_sk, NULL), DFDG_INVAL);
    in.sub[0] = '\0';
    assert_int_equal(dfdg_token_mint(&in, dev_sk, &tok), DFDG_INVAL);
    assert_null(tok);
    in = kk_claims();
    memset(in.iss, 'i', sizeof in.iss); /* no NUL */
    assert_int_equal(dfdg_token_mint(&in, dev_sk, &tok), DFDG_INVAL);
    in = kk_claims();
    dfdg_strlcpy(in.sub, "\xff\xfe", sizeof in.sub); /* not UTF-8 */
    assert_int_equal(dfdg_token_mint(&in, dev_sk, &tok), DFDG_INVAL);
    dfdg_strlcpy(in.sub, "u\n1", sizeof in.sub); /* verify would refuse it */
    assert_int_equal(dfdg_token_mint(&in, dev_sk, &tok), DFDG_INVAL);
    assert_null(tok);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mint_verify_round_trip),
        cmocka_unit_test(test_citizen_token),
        cmocka_unit_test(test_rejects_other_algorithms_before_lookup),
        cmocka_unit_test(test_header_rules),
        cmocka_unit_test(test_signature_rules),
        cmocka_unit_test(test_unknown_and_failing_issuer),
        cmocka_unit_test(test_shape_and_base64),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_payload_rules),
        cmocka_unit_test(test_time_and_leeway),
        cmocka_unit_test(test_messages_do_not_leak),
        cmocka_unit_test(test_api_misuse),
    };
    return cmocka_run_group_tests(tests, setup_keys, NULL);
}
