/* SPDX-License-Identifier: Apache-2.0 */
/*
 * uuid.c: UUIDv7 record ids (RFC 9562 section 5.7): 48 bits of Unix milliseconds, the version
 * nibble 7, 12 random bits, the variant bits 10, then 62 random bits. The random bits come from
 * libsodium's randombytes_buf, which is thread-safe.
 */
#include "core/dfdg.h"
#include "core/uuid.h"

#include <pthread.h>
#include <sodium.h>

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_rc;

static void
sodium_start(void)
{
    sodium_rc = sodium_init();
}

/* Random bytes are drawn from libsodium in blocks per thread: one getrandom(2) call per id
 * was a measurable share of the writer thread's time. */
#define RANDOM_POOL 640

static void
random_bytes(uint8_t *dst, size_t n)
{
    static _Thread_local uint8_t pool[RANDOM_POOL];
    static _Thread_local size_t used = RANDOM_POOL;
    if (used + n > RANDOM_POOL) {
        randombytes_buf(pool, sizeof pool);
        used = 0;
    }
    memcpy(dst, pool + used, n);
    sodium_memzero(pool + used, n); /* a byte is handed out once */
    used += n;
}

void
dfdg_uuid7_make(int64_t unix_ms, char out[DFDG_UUID_LEN])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];

    pthread_once(&sodium_once, sodium_start);
    /* Without a working random source ids could collide: stop rather than corrupt. */
    DFDG_ASSERT(sodium_rc >= 0);

    uint64_t ms = unix_ms < 0 ? 0 : (uint64_t)unix_ms;
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)(ms >> (8 * (5 - i)));
    random_bytes(b + 6, 10);
    b[6] = (uint8_t)(0x70 | (b[6] & 0x0f));
    b[8] = (uint8_t)(0x80 | (b[8] & 0x3f));

    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 0x0f];
    }
    out[o] = '\0';
}

bool
dfdg_uuid_is_valid(const char *s)
{
    bool lower = false, upper = false;

    if (s == NULL)
        return false;
    for (size_t i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (c >= 'a' && c <= 'f') {
            lower = true;
        } else if (c >= 'A' && c <= 'F') {
            upper = true;
        } else if (c < '0' || c > '9') {
            return false; /* also stops at an early NUL */
        }
    }
    /* Canonical text is one case throughout. */
    return s[36] == '\0' && !(lower && upper);
}
