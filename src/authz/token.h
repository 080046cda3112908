/* SPDX-License-Identifier: Apache-2.0 */
/*
 * token.h: bearer tokens. JWTs (RFC 7519) in compact JWS form (RFC 7515) signed with Ed25519
 * ("alg": "EdDSA", RFC 8037) on libsodium. Only EdDSA is accepted: "none" and every HMAC or
 * RSA algorithm are rejected before any key is looked up, so algorithm confusion is
 * impossible by construction.
 *
 * Claims: iss (issuer, names the verification key), sub (user), org (org id, or "citizen"),
 * iat, exp (required), nbf (optional), cpr (citizen tokens only).
 */
#ifndef DFDG_AUTHZ_TOKEN_H
#define DFDG_AUTHZ_TOKEN_H

#include "core/dfdg.h"
#include "core/cpr.h"

#define DFDG_TOKEN_MAX 4096  /* longest token accepted, in bytes */
#define DFDG_TOKEN_LEEWAY 30 /* seconds of clock skew tolerated for exp/nbf/iat */

struct dfdg_claims {
    char iss[64];
    char sub[128];
    char org[64];
    char cpr[DFDG_CPR_LEN]; /* "" unless a citizen token */
    int64_t iat;
    int64_t exp;
    int64_t nbf; /* 0 when absent */
};

/*
 * Looks up an issuer's Ed25519 public key. Returns DFDG_OK and fills pk, or DFDG_NOT_FOUND for
 * an unknown issuer.
 */
typedef dfdg_err (*dfdg_issuer_lookup)(void *ctx, const char *iss, uint8_t pk[32] /* OUT */);

/*
 * Verifies a compact JWT (len bytes, no "Bearer " prefix) at time now (Unix seconds): shape,
 * base64url, header {"alg":"EdDSA"} (typ optional "JWT"), a known issuer, the signature, exp >
 * now - leeway, nbf <= now + leeway, the required claims and their types, a valid cpr when
 * present. Every failure is DFDG_UNAUTH with a short reason in ei that never echoes the token.
 */
dfdg_err dfdg_token_verify(const char *tok, size_t len, int64_t now, dfdg_issuer_lookup lookup,
                           void *lookup_ctx, struct dfdg_claims *out /* OUT */,
                           struct dfdg_errinfo *ei);

/*
 * Mints a token for claims c (iat/exp as given) signed with the 64-byte libsodium Ed25519
 * secret key sk. *out is malloc'ed; caller frees.
 */
dfdg_err dfdg_token_mint(const struct dfdg_claims *c, const uint8_t sk[64], char **out /* OUT */);

#endif
