/* SPDX-License-Identifier: Apache-2.0 */
/*
 * util.c: the small helpers every benchmark's report needs: the monotonic clock the timings
 * use, the process's CPU time (the clients' share of the machine), sorting latencies, reading
 * counts from the command line, and the number formats of the report lines.
 */
#include "core/dfdg.h"
#include "bench_common.h"

#include <errno.h>
#include <sys/resource.h>
#include <time.h>

double
bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
bench_cpu_seconds(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int
bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

bool
bench_parse_count(const char *s, size_t max, size_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *s == '\0' || *end != '\0' || v < 0 || (unsigned long long)v > max)
        return false;
    *out = (size_t)v;
    return true;
}

const char *
bench_grouped(double v, char buf[32])
{
    char digits[32];
    snprintf(digits, sizeof digits, "%.0f", v < 0 ? 0 : v);
    size_t n = strlen(digits), j = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[j++] = ',';
        buf[j++] = digits[i];
    }
    buf[j] = '\0';
    return buf;
}

const char *
bench_ms(double seconds, char buf[32])
{
    snprintf(buf, 32,
             seconds < 0.01  ? "%.2f ms"
             : seconds < 0.1 ? "%.1f ms"
                             : "%.0f ms",
             seconds * 1e3);
    return buf;
}
