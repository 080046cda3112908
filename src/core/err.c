/* SPDX-License-Identifier: Apache-2.0 */
/*
 * err.c: the lookups generated from DFDG_ERR_MAP, error-info formatting, the assertion handler
 * and the bounded string copy.
 */
#include "core/dfdg.h"

#include <stdarg.h>

const char *
dfdg_err_name(dfdg_err rc)
{
    switch (rc) {
#define XX(name, msg, status)                                                                      \
    case DFDG_##name:                                                                              \
        return #name;
        DFDG_ERR_MAP(XX)
#undef XX
    default:
        return "UNKNOWN";
    }
}

const char *
dfdg_err_message(dfdg_err rc)
{
    switch (rc) {
#define XX(name, msg, status)                                                                      \
    case DFDG_##name:                                                                              \
        return msg;
        DFDG_ERR_MAP(XX)
#undef XX
    default:
        return "unknown error";
    }
}

int
dfdg_err_http_status(dfdg_err rc)
{
    switch (rc) {
#define XX(name, msg, status)                                                                      \
    case DFDG_##name:                                                                              \
        return status;
        DFDG_ERR_MAP(XX)
#undef XX
    default:
        return 500;
    }
}

dfdg_err
dfdg_errinfo_set(struct dfdg_errinfo *ei, dfdg_err rc, const char *fmt, ...)
{
    if (ei != NULL && fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ei->msg, sizeof ei->msg, fmt, ap);
        va_end(ap);
    }
    return rc;
}

_Noreturn void
dfdg_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "dfdg: assertion failed: %s (%s:%d)\n", expr, file, line);
    fflush(stderr);
    abort();
}

bool
dfdg_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);
    if (size == 0)
        return n == 0;
    if (n >= size) {
        memcpy(dst, src, size - 1);
        dst[size - 1] = '\0';
        return false;
    }
    memcpy(dst, src, n + 1);
    return true;
}
