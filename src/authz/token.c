/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token.c: bearer tokens as JWTs (RFC 7519) in compact JWS form (RFC 7515), base64url without
 * padding (RFC 7515 §2), signed with Ed25519 ("alg": "EdDSA", RFC 8037) on libsodium.
 *
 * Verification order (each step rejects with DFDG_UNAUTH and a short reason):
 *  1. Shape: 1..DFDG_TOKEN_MAX bytes, exactly three non-empty parts.
 *  2. Strict base64url of every part (no padding, whitespace or other characters, canonical
 *     trailing bits); the signature decodes to exactly 64 bytes.
 *  3. Header: a JSON object without duplicate keys, "alg" exactly "EdDSA", "typ" "JWT" if
 *     present, "kid" a string if present, no "crit". Nothing is looked up before this.
 *  4. The payload is parsed only far enough to read "iss", which names the key to look up; it
 *     is an untrusted lookup key until step 5, and no other claim is read before then.
 *  5. Ed25519 signature over the ASCII "header.payload" with the issuer's key.
 *  6. Claims: types and lengths, exp/nbf/iat against now with DFDG_TOKEN_LEEWAY, cpr rules.
 * No message ever holds the token, a claim value or a CPR number.
 */
#include "core/dfdg.h"

#include "authz/token.h"

#include <jansson.h>
#include <sodium.h>

#define TOKEN_B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define TOKEN_SIG_LEN crypto_sign_BYTES
/* The largest decoded part: DFDG_TOKEN_MAX base64 characters carry 3/4 as many bytes. */
#define TOKEN_PART_MAX (DFDG_TOKEN_MAX / 4 * 3 + 3)
#define TOKEN_CITIZEN_ORG "citizen"

static dfdg_err
token_sodium_init(void)
{
    /* 0 on first success, 1 when already initialised; -1 means no usable randomness. */
    return sodium_init() < 0 ? DFDG_INTERNAL : DFDG_OK;
}

static int64_t
token_sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* Decodes one base64url part strictly; false on any non-alphabet byte or a non-canonical end. */
static bool
token_b64_decode(const char *s, size_t len, unsigned char *bin, size_t bin_max,
                 size_t *bin_len /* OUT */)
{
    /* libsodium 1.0.18 decodes every byte from 0x80 up as '_' (63), which would let one token
     * be spelled many ways, so the alphabet is checked here first. */
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
        if (!ok)
            return false;
    }
    /* ignore == NULL and b64_end == NULL make libsodium reject every byte it cannot decode. */
    return sodium_base642bin(bin, bin_max, s, len, NULL, bin_len, NULL, TOKEN_B64) == 0;
}

/* True when s holds no NUL or ASCII control character: these names reach logs and audit. */
static bool
token_is_printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f)
            return false;
    }
    return true;
}

/* True when v is a string of 1..max printable bytes. */
static bool
token_is_name(const json_t *v, size_t max)
{
    if (!json_is_string(v))
        return false;
    size_t n = json_string_length(v);
    return n > 0 && n <= max && token_is_printable(json_string_value(v), n);
}

static dfdg_err
token_check_header(const unsigned char *hdr, size_t hdr_len, struct dfdg_errinfo *ei)
{
    dfdg_err rc = DFDG_OK;
    json_error_t jerr;
    json_t *h = json_loadb((const char *)hdr, hdr_len, JSON_REJECT_DUPLICATES, &jerr);
    if (h == NULL || !json_is_object(h)) {
        rc = dfdg_errinfo_set(ei, DFDG_UNAUTH, "malformed token header");
        goto free_header;
    }
    json_t *alg = json_object_get(h, "alg");
    if (!json_is_string(alg) || json_string_length(alg) != 5 ||
        memcmp(json_string_value(alg), "EdDSA", 5) != 0) {
        rc = dfdg_errinfo_set(ei, DFDG_UNAUTH, "unsupported alg");
        goto free_header;
    }
    json_t *typ = json_object_get(h, "typ");
    if (typ != NULL && (!json_is_string(typ) || json_string_length(typ) != 3 ||
                        memcmp(json_string_value(typ), "JWT", 3) != 0)) {
        rc = dfdg_errinfo_set(ei, DFDG_UNAUTH, "unsupported token typ");
        goto free_header;
    }
    json_t *kid = json_object_get(h, "kid");
    if (kid != NULL && !json_is_string(kid)) {
        rc = dfdg_errinfo_set(ei, DFDG_UNAUTH, "malformed token header");
        goto free_header;
    }
    /* RFC 7515 §4.1.11: we understand no extensions, so any "crit" must be refused. */
    if (json_object_get(h, "crit") != NULL) {
        rc = dfdg_errinfo_set(ei, DFDG_UNAUTH, "unsupported critical header");
        goto free_header;
    }
free_header:
    json_decref(h);
    return rc;
}

/* Reads an integer claim; false when present with another type, or absent but required. */
static bool
token_get_int(const json_t *p, const char *key, bool required, int64_t *v /* OUT */)
{
    json_t *j = json_object_get(p, key);
    *v = 0;
    if (j == NULL)
        return !required;
    if (!json_is_integer(j))
        return false;
    *v = (int64_t)json_integer_value(j);
    return true;
}

/* Step 6: every claim of an already verified payload, into c. */
static dfdg_err
token_check_claims(const json_t *p, int64_t now, struct dfdg_claims *c /* OUT */,
                   struct dfdg_errinfo *ei)
{
    const json_t *iss = json_object_get(p, "iss");
    const json_t *sub = json_object_get(p, "sub");
    const json_t *org = json_object_get(p, "org");
    const json_t *cpr = json_object_get(p, "cpr");

    if (!token_is_name(iss, sizeof c->iss - 1))
        return dfdg_errinfo_set(ei, DFDG_UNAUTH, "invalid iss claim");
    if (!token_is_name(sub, sizeof c->sub - 1))
        return dfdg_errinfo_set(ei, DFDG_UNAUTH, "invalid sub claim");
    if (!token_is_name(org, sizeof c->org - 1))
        return dfdg_errinfo_set(ei, DFDG_UNAUTH, "invalid org claim");
    if (!token_get_int(p, "iat", true, &c->iat))
        return dfdg_errinfo_set(ei, DFDG_UNAUTH, "invalid iat claim");
    if (!token_get_int(p, "exp", true, &c->exp))
        return dfdg_errinfo_set(ei, DFDG_UNAUTH, "invalid exp claim");
    if (!token_get_int(p, "nbf", false, &c->nbf))
        return dfdg_errinfo_set(ei, DFDG_UNAUTH, "invalid nbf claim");
    dfdg_strlcpy(c->iss, json_string_value(iss), sizeof c->iss);
    dfdg_strlcpy(c->sub, json_string_value(sub), sizeof c->sub);
    dfdg_strlcpy(c->org, json_string_value(org), sizeof c->org);

    /* RFC 7519 §4.1.4/§4.1.5 with a small clock-skew allowance. */
    if (c->exp <= token_sat_add(now, -DFDG_TOKEN_LEEWAY))
        return dfdg_errinfo_set(ei, DFDG_UNAUTH, "token expired");
    if (json_object_get(p, "nbf") != NULL && c->nbf > token_sat_add(now, DFDG_TOKEN_LEEWAY))
        return dfdg_errinfo_set(ei, DFDG_UNAUTH, "token not yet valid");
    if (c->iat > token_sat_add(now, DFDG_TOKEN_LEEWAY))
        return dfdg_errinfo_set(ei, DFDG_UNAUTH, "token issued in the future");

    bool citizen = strcmp(c->org, TOKEN_CITIZEN_ORG) == 0;
    if (cpr == NULL) {
        if (citizen)
            return dfdg_errinfo_set(ei, DFDG_UNAUTH, "citizen token lacks cpr claim");
        c->cpr[0] = '\0';
        return DFDG_OK;
    }
    if (!citizen)
        return dfdg_errinfo_set(ei, DFDG_UNAUTH, "cpr claim only allowed for citizens");
    struct dfdg_cpr parsed;
    /* No errinfo: the parser's detail is not needed and the value must never reach a log. */
    if (!json_is_string(cpr) ||
        dfdg_cpr_parse(json_string_value(cpr), json_string_length(cpr), &parsed, NULL) != DFDG_OK)
        return dfdg_errinfo_set(ei, DFDG_UNAUTH, "invalid cpr claim");
    dfdg_strlcpy(c->cpr, parsed.digits, sizeof c->cpr);
    sodium_memzero(&parsed, sizeof parsed);
    return DFDG_OK;
}

dfdg_err
dfdg_token_verify(const char *tok, size_t len, int64_t now, dfdg_issuer_lookup lookup,
                  void *lookup_ctx, struct dfdg_claims *out /* OUT */, struct dfdg_errinfo *ei)
{
    dfdg_err rc;
    unsigned char hdr[TOKEN_PART_MAX];
    unsigned char pay[TOKEN_PART_MAX];
    unsigned char sig[TOKEN_SIG_LEN];
    size_t hdr_len, pay_len, sig_len;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    json_t *payload = NULL;
    struct dfdg_claims c;

    if (out != NULL)
        memset(out, 0, sizeof *out);
    if (out == NULL || lookup == NULL)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "token verify called without output or lookup");
    if ((rc = token_sodium_init()) != DFDG_OK)
        return dfdg_errinfo_set(ei, rc, "libsodium failed to initialise");
    memset(&c, 0, sizeof c);

    /* Step 1: shape. */
    if (tok == NULL || len == 0)
        return dfdg_errinfo_set(ei, DFDG_UNAUTH, "missing token");
    if (len > DFDG_TOKEN_MAX)
        return dfdg_errinfo_set(ei, DFDG_UNAUTH, "token too long");
    const char *dot1 = memchr(tok, '.', len);
    const char *dot2 = dot1 == NULL ? NULL : memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - tok));
    if (dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - tok)) != NULL)
        return dfdg_errinfo_set(ei, DFDG_UNAUTH, "malformed token: not three parts");
    size_t h64_len = (size_t)(dot1 - tok);
    size_t p64_len = (size_t)(dot2 - dot1 - 1);
    size_t s64_len = len - (size_t)(dot2 + 1 - tok);
    if (h64_len == 0 || p64_len == 0 || s64_len == 0)
        return dfdg_errinfo_set(ei, DFDG_UNAUTH, "malformed token: empty part");

    /* Step 2: strict base64url. */
    if (!token_b64_decode(tok, h64_len, hdr, sizeof hdr, &hdr_len) ||
        !token_b64_decode(dot1 + 1, p64_len, pay, sizeof pay, &pay_len) ||
        !token_b64_decode(dot2 + 1, s64_len, sig, sizeof sig, &sig_len))
        return dfdg_errinfo_set(ei, DFDG_UNAUTH, "malformed token: bad base64url");
    if (sig_len != TOKEN_SIG_LEN)
        return dfdg_errinfo_set(ei, DFDG_UNAUTH, "malformed token: bad signature length");

    /* Step 3: header, before any key is looked up. */
    if ((rc = token_check_header(hdr, hdr_len, ei)) != DFDG_OK)
        return rc;

    /* Step 4: "iss" as an untrusted lookup key only. Duplicate keys are refused so the issuer
     * used for the key is the one step 6 reads. */
    json_error_t jerr;
    payload = json_loadb((const char *)pay, pay_len, JSON_REJECT_DUPLICATES, &jerr);
    if (payload == NULL || !json_is_object(payload)) {
        rc = dfdg_errinfo_set(ei, DFDG_UNAUTH, "malformed token payload");
        goto free_payload;
    }
    const json_t *iss = json_object_get(payload, "iss");
    if (!token_is_name(iss, sizeof c.iss - 1)) {
        rc = dfdg_errinfo_set(ei, DFDG_UNAUTH, "invalid iss claim");
        goto free_payload;
    }
    rc = lookup(lookup_ctx, json_string_value(iss), pk);
    if (rc == DFDG_NOT_FOUND) {
        rc = dfdg_errinfo_set(ei, DFDG_UNAUTH, "unknown issuer");
        goto free_payload;
    }
    if (rc != DFDG_OK) {
        /* A store or memory failure is the server's, not a bad credential: pass it on. */
        rc = dfdg_errinfo_set(ei, rc, "issuer key lookup failed");
        goto free_payload;
    }

    /* Step 5: the signature covers the ASCII "header.payload" exactly as received. */
    if (crypto_sign_verify_detached(sig, (const unsigned char *)tok, (size_t)(dot2 - tok), pk) !=
        0) {
        rc = dfdg_errinfo_set(ei, DFDG_UNAUTH, "signature does not verify");
        goto free_payload;
    }

    /* Step 6: claims, now that they are known to come from the issuer. */
    if ((rc = token_check_claims(payload, now, &c, ei)) != DFDG_OK)
        goto free_payload;
    *out = c;

free_payload:
    json_decref(payload);
    sodium_memzero(pay, sizeof pay);
    sodium_memzero(&c, sizeof c);
    return rc;
}

/* Appends the base64url of bin at *pos in buf, which has room for it (see dfdg_token_mint). */
static void
token_b64_append(char *buf, size_t cap, size_t *pos, const unsigned char *bin, size_t bin_len)
{
    sodium_bin2base64(buf + *pos, cap - *pos, bin, bin_len, TOKEN_B64);
    *pos += strlen(buf + *pos);
}

static bool
token_set_str(json_t *obj, const char *key, const char *val, size_t cap)
{
    size_t n = strnlen(val, cap);
    if (n == 0 || n == cap || !token_is_printable(val, n))
        return false;
    /* json_stringn refuses invalid UTF-8 and returns NULL, which json_object_set_new rejects. */
    return json_object_set_new(obj, key, json_stringn(val, n)) == 0;
}

dfdg_err
dfdg_token_mint(const struct dfdg_claims *c, const uint8_t sk[64], char **out /* OUT */)
{
    static const char hdr_json[] = "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}";
    dfdg_err rc;
    json_t *payload = NULL;
    char *pay_json = NULL;
    char *tok = NULL;

    if (out == NULL)
        return DFDG_INVAL;
    *out = NULL;
    if (c == NULL || sk == NULL)
        return DFDG_INVAL;
    if ((rc = token_sodium_init()) != DFDG_OK)
        return rc;

    /* Refuse to mint what dfdg_token_verify would reject for its claims' shape. */
    bool citizen = strncmp(c->org, TOKEN_CITIZEN_ORG, sizeof c->org) == 0;
    bool has_cpr = c->cpr[0] != '\0';
    if (citizen != has_cpr)
        return DFDG_INVAL;
    if (has_cpr) {
        struct dfdg_cpr parsed;
        rc = dfdg_cpr_parse(c->cpr, strnlen(c->cpr, sizeof c->cpr), &parsed, NULL);
        sodium_memzero(&parsed, sizeof parsed);
        if (rc != DFDG_OK)
            return DFDG_INVAL;
    }

    payload = json_object();
    if (payload == NULL)
        return DFDG_NOMEM;
    if (!token_set_str(payload, "iss", c->iss, sizeof c->iss) ||
        !token_set_str(payload, "sub", c->sub, sizeof c->sub) ||
        !token_set_str(payload, "org", c->org, sizeof c->org) ||
        (has_cpr && !token_set_str(payload, "cpr", c->cpr, sizeof c->cpr))) {
        rc = DFDG_INVAL;
        goto free_payload;
    }
    if (json_object_set_new(payload, "iat", json_integer((json_int_t)c->iat)) != 0 ||
        json_object_set_new(payload, "exp", json_integer((json_int_t)c->exp)) != 0 ||
        (c->nbf != 0 &&
         json_object_set_new(payload, "nbf", json_integer((json_int_t)c->nbf)) != 0)) {
        rc = DFDG_NOMEM;
        goto free_payload;
    }
    pay_json = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS);
    if (pay_json == NULL) {
        rc = DFDG_NOMEM;
        goto free_payload;
    }

    size_t hdr_len = sizeof hdr_json - 1;
    size_t pay_len = strlen(pay_json);
    /* Each ENCODED_LEN counts a NUL; the two spare ones hold the dots. */
    size_t cap = sodium_base64_ENCODED_LEN(hdr_len, TOKEN_B64) +
                 sodium_base64_ENCODED_LEN(pay_len, TOKEN_B64) +
                 sodium_base64_ENCODED_LEN(TOKEN_SIG_LEN, TOKEN_B64);
    tok = malloc(cap);
    if (tok == NULL) {
        rc = DFDG_NOMEM;
        goto free_pay_json;
    }
    size_t pos = 0;
    token_b64_append(tok, cap, &pos, (const unsigned char *)hdr_json, hdr_len);
    tok[pos++] = '.';
    token_b64_append(tok, cap, &pos, (const unsigned char *)pay_json, pay_len);
    unsigned char sig[TOKEN_SIG_LEN];
    if (crypto_sign_detached(sig, NULL, (const unsigned char *)tok, pos, sk) != 0) {
        rc = DFDG_INTERNAL;
        goto free_tok;
    }
    tok[pos++] = '.';
    token_b64_append(tok, cap, &pos, sig, sizeof sig);
    if (pos > DFDG_TOKEN_MAX) {
        /* Cannot happen with claims of the struct's sizes; kept so mint never outruns verify. */
        rc = DFDG_TOO_LARGE;
        goto free_tok;
    }
    *out = tok;
    tok = NULL;
    rc = DFDG_OK;

free_tok:
    free(tok);
free_pay_json:
    free(pay_json);
free_payload:
    json_decref(payload);
    return rc;
}
