/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_common.h: helpers shared by the libFuzzer targets (tests/fuzz/fuzz_*.c): an oracle
 * check that aborts with a message (so libFuzzer keeps the input as a crash), and checks for
 * the promises every parser makes about its messages (NUL-terminated, printable UTF-8, never
 * a CPR number).
 */
#ifndef DFDG_FUZZ_COMMON_H
#define DFDG_FUZZ_COMMON_H

#include "core/dfdg.h"

#include <jansson.h>

/* A property a parser promises; on failure the input is a reproducer. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz: property failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A NUL-terminated copy of data[0..size) (caller frees). */
static inline char *
fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    FUZZ_CHECK(s != NULL);
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* True when s holds a run of 10 or more ASCII digits: what a CPR number looks like. */
static inline bool
fuzz_has_cpr_like(const char *s)
{
    size_t run = 0;
    for (; *s != '\0'; s++) {
        run = (*s >= '0' && *s <= '9') ? run + 1 : 0;
        if (run >= 10)
            return true;
    }
    return false;
}

/* True when buf[0..cap) is NUL-terminated, valid UTF-8 and free of control characters. */
static inline bool
fuzz_is_clean_text(const char *buf, size_t cap)
{
    size_t n = strnlen(buf, cap);
    if (n == cap)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)buf[i];
        if (ch < 0x20 || ch == 0x7f)
            return false;
    }
    json_t *j = json_stringn(buf, n); /* NULL for invalid UTF-8 */
    bool ok = j != NULL;
    json_decref(j);
    return ok;
}

/* A message for people (errinfo, verrors): NUL-terminated within cap and no CPR number. */
static inline bool
fuzz_is_safe_message(const char *buf, size_t cap)
{
    return strnlen(buf, cap) < cap && !fuzz_has_cpr_like(buf);
}

#endif
