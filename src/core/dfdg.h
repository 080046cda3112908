/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dfdg.h: the common internal header every unit includes first. It holds the one error list
 * (DFDG_ERR_MAP, after libuv's UV_ERRNO_MAP), the error-info struct that carries detail text
 * in a fixed buffer, the always-on assertion, and the banned-function poison list (curl's).
 */
#ifndef DFDG_CORE_DFDG_H
#define DFDG_CORE_DFDG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Every error code, its name, message and the HTTP status it maps to. The enum, the name and
 * message lookups, and the status lookup are generated from this one list.
 */
#define DFDG_ERR_MAP(XX)                                                                           \
    XX(OK, "ok", 200)                                                                              \
    XX(NOMEM, "out of memory", 503)                                                                \
    XX(INVAL, "invalid input", 400)                                                                \
    XX(TOO_LARGE, "input too large", 413)                                                          \
    XX(UNAUTH, "missing or invalid credentials", 401)                                              \
    XX(DENIED, "access denied", 403)                                                               \
    XX(NOT_FOUND, "not found", 404)                                                                \
    XX(METHOD, "method not allowed", 405)                                                          \
    XX(CONFLICT, "conflict with an earlier request", 409)                                          \
    XX(UNSUPPORTED_MEDIA, "unsupported media type", 415)                                           \
    XX(SEMANTIC, "semantic rule broken", 422)                                                      \
    XX(BUSY, "overloaded, try again later", 503)                                                   \
    XX(SHUTDOWN, "shutting down", 503)                                                             \
    XX(IO, "storage or i/o error", 500)                                                            \
    XX(CORRUPT, "stored data is inconsistent", 500)                                                \
    XX(CONFIG, "configuration error", 500)                                                         \
    XX(INTERNAL, "internal error", 500)

#define DFDG_ERR_ENUM_(name, msg, status) DFDG_##name,
typedef enum { DFDG_ERR_MAP(DFDG_ERR_ENUM_) DFDG_ERR__COUNT } dfdg_err;
#undef DFDG_ERR_ENUM_

/* The symbolic name of an error ("NOT_FOUND"); never NULL. */
const char *dfdg_err_name(dfdg_err rc);
/* A one-line English message for an error; never NULL. */
const char *dfdg_err_message(dfdg_err rc);
/* The HTTP status an error maps to. */
int dfdg_err_http_status(dfdg_err rc);

/*
 * Optional detail for an error. Callees fill it with dfdg_errinfo_set() when the caller passed
 * one; text is truncated to the buffer and never holds a CPR number or a secret.
 */
struct dfdg_errinfo {
    char msg[512];   /* human-readable detail, NUL-terminated */
    char field[128]; /* the input field the error is about, or "" */
};

#if defined(__GNUC__)
#define DFDG_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define DFDG_PRINTF(fmt, args)
#endif

/* Sets ei->msg (if ei is not NULL) and returns rc, so callers can `return dfdg_errinfo_set()`. */
dfdg_err dfdg_errinfo_set(struct dfdg_errinfo *ei, dfdg_err rc, const char *fmt, ...)
    DFDG_PRINTF(3, 4);

/* Stops the process on a broken invariant: a register stops rather than corrupts data. */
#define DFDG_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            dfdg_assert_fail(#cond, __FILE__, __LINE__);                                           \
    } while (0)
_Noreturn void dfdg_assert_fail(const char *expr, const char *file, int line);

#define DFDG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Bounded string copy: always NUL-terminates; returns false when src was truncated. */
bool dfdg_strlcpy(char *dst, const char *src, size_t size);

/* Unit tests reach static functions through this (curl's UNITTEST). */
#ifdef DFDG_UNITTEST
#define DFDG_STATIC
#else
#define DFDG_STATIC static
#endif

/* Banned functions (curl's list); the pragma stays last so system headers above are unaffected. */
#if defined(__GNUC__) && !defined(DFDG_NO_POISON)
#pragma GCC poison strcpy strcat sprintf vsprintf gets atoi atol strtok
#endif

#endif
