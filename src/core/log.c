/* SPDX-License-Identifier: Apache-2.0 */
/*
 * log.c: structured logging to stderr, one line an event:
 *   2026-11-27T08:00:00.123Z INFO event key=value ...
 * Each line is built in a stack buffer and written with one write(2), so lines from different
 * threads never interleave. Control characters in the formatted text are replaced, so an event
 * is always exactly one line. Over-long lines are cut and end in "...".
 */
#include "core/dfdg.h"
#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

static enum dfdg_log_level log_min = DFDG_LOG_INFO;

void
dfdg_log_set_level(enum dfdg_log_level lvl)
{
    log_min = lvl;
}

static const char *
level_name(enum dfdg_log_level lvl)
{
    switch (lvl) {
    case DFDG_LOG_DEBUG:
        return "DEBUG";
    case DFDG_LOG_INFO:
        return "INFO";
    case DFDG_LOG_WARN:
        return "WARN";
    case DFDG_LOG_ERROR:
        return "ERROR";
    }
    return "INFO";
}

void
dfdg_log(enum dfdg_log_level lvl, const char *event, const char *fmt, ...)
{
    char buf[LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int w;

    if (lvl < log_min)
        return;
    int saved_errno = errno; /* callers may log between a failure and strerror(errno) */
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        ts.tv_sec = time(NULL);
        ts.tv_nsec = 0;
    }
    if (gmtime_r(&ts.tv_sec, &tm) == NULL)
        memset(&tm, 0, sizeof tm);
    w = snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s %s",
                 (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100, tm.tm_mday % 100,
                 tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100,
                 (int)(ts.tv_nsec / 1000000) % 1000, level_name(lvl), event != NULL ? event : "-");
    if (w < 0)
        goto restore_errno;
    n = (size_t)w < sizeof buf ? (size_t)w : sizeof buf - 1;

    if (fmt != NULL && fmt[0] != '\0' && n < sizeof buf - 2) {
        va_list ap;
        buf[n++] = ' ';
        va_start(ap, fmt);
        w = vsnprintf(buf + n, sizeof buf - n, fmt, ap);
        va_end(ap);
        if (w < 0)
            w = 0;
        n = (size_t)w < sizeof buf - n ? n + (size_t)w : sizeof buf - 1;
    }
    /* One event is one line: neither the event name nor the values may break it. */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c < 0x20 || c == 0x7f)
            buf[i] = '?';
    }

    /* Room for the newline; mark a cut line. */
    if (n > sizeof buf - 1 - 1) {
        n = sizeof buf - 1 - 1;
        memcpy(buf + n - 3, "...", 3);
    }
    buf[n++] = '\n';

    size_t off = 0;
    while (off < n) {
        ssize_t r = write(STDERR_FILENO, buf + off, n - off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        off += (size_t)r;
    }
restore_errno:
    errno = saved_errno;
}
