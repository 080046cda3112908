/* SPDX-License-Identifier: Apache-2.0 */
/*
 * when.c: calendar dates as day numbers since 1970-01-01 in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil / civil_from_days algorithms), and instants as microseconds
 * since the Unix epoch, with the ISO 8601 date and RFC 3339 time text forms of when.h.
 */
#include "core/dfdg.h"
#include "core/when.h"

#include <time.h>

#define US_PER_SEC INT64_C(1000000)
#define US_PER_DAY (INT64_C(86400) * US_PER_SEC)
/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z: the instants a time text can name. */
#define TIME_MIN_US (INT64_C(-719162) * US_PER_DAY)
#define TIME_MAX_US (INT64_C(2932897) * US_PER_DAY - 1)

static bool
is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
month_days(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && is_leap(y))
        return 29;
    return days[m - 1];
}

bool
dfdg_date_is_valid_ymd(int y, int m, int d)
{
    if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1)
        return false;
    return d <= month_days(y, m);
}

int32_t
dfdg_date_from_ymd(int y, int m, int d)
{
    /* Years start in March so the leap day is the last day of the shifted year. */
    int64_t yy = (int64_t)y - (m <= 2);
    int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
    int64_t yoe = yy - era * 400;
    int64_t mp = (m + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int32_t)(era * 146097 + doe - 719468);
}

void
dfdg_date_to_ymd(int32_t day, int *y /* OUT */, int *m /* OUT */, int *d /* OUT */)
{
    int64_t z = (int64_t)day + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t dd = doy - (153 * mp + 2) / 5 + 1;
    int64_t mm = mp < 10 ? mp + 3 : mp - 9;
    int64_t yy = yoe + era * 400 + (mm <= 2);
    *y = (int)yy;
    *m = (int)mm;
    *d = (int)dd;
}

/* Writes v as exactly n decimal digits (v is in range for every caller). */
static void
put_digits(char *out, int64_t v, size_t n)
{
    for (size_t i = n; i > 0; i--) {
        out[i - 1] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* Reads n ASCII digits at s; false when any is not a digit. */
static bool
read_digits(const char *s, size_t n, int *out /* OUT */)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

dfdg_err
dfdg_date_parse(const char *s, size_t len, int32_t *day /* OUT */, struct dfdg_errinfo *ei)
{
    int y, m, d;
    if (s == NULL || len != 10 || s[4] != '-' || s[7] != '-' || !read_digits(s, 4, &y) ||
        !read_digits(s + 5, 2, &m) || !read_digits(s + 8, 2, &d))
        return dfdg_errinfo_set(ei, DFDG_INVAL, "not a date of the form YYYY-MM-DD");
    if (y < 1)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "year out of range");
    if (m < 1 || m > 12)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "month out of range");
    if (!dfdg_date_is_valid_ymd(y, m, d))
        return dfdg_errinfo_set(ei, DFDG_INVAL, "day out of range for the month");
    *day = dfdg_date_from_ymd(y, m, d);
    return DFDG_OK;
}

void
dfdg_date_format(int32_t day, char out[DFDG_DATE_LEN])
{
    int y, m, d;
    dfdg_date_to_ymd(day, &y, &m, &d);
    if (y < 0 || y > 9999) {
        /* Never reached for dates that came through dfdg_date_parse; keep the shape anyway. */
        dfdg_strlcpy(out, y < 0 ? "0000-01-01" : "9999-12-31", DFDG_DATE_LEN);
        return;
    }
    put_digits(out, y, 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    out[10] = '\0';
}

int32_t
dfdg_date_today(void)
{
    int64_t us = dfdg_time_now_us();
    int64_t days = us / US_PER_DAY;
    if (us < 0 && us % US_PER_DAY != 0)
        days--;
    return (int32_t)days;
}

int64_t
dfdg_time_now_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return (int64_t)time(NULL) * US_PER_SEC;
    return (int64_t)ts.tv_sec * US_PER_SEC + ts.tv_nsec / 1000;
}

void
dfdg_time_format(int64_t us, char out[DFDG_TIME_LEN])
{
    int64_t days = us / US_PER_DAY;
    int64_t rem = us % US_PER_DAY;
    if (rem < 0) {
        rem += US_PER_DAY;
        days--;
    }
    int y, m, d;
    dfdg_date_to_ymd((int32_t)days, &y, &m, &d);
    if (y < 0 || y > 9999) {
        dfdg_strlcpy(out, y < 0 ? "0000-01-01T00:00:00.000000Z" : "9999-12-31T23:59:59.999999Z",
                     DFDG_TIME_LEN);
        return;
    }
    int64_t secs = rem / US_PER_SEC;
    dfdg_date_format((int32_t)days, out);
    out[10] = 'T';
    put_digits(out + 11, secs / 3600, 2);
    out[13] = ':';
    put_digits(out + 14, secs / 60 % 60, 2);
    out[16] = ':';
    put_digits(out + 17, secs % 60, 2);
    out[19] = '.';
    put_digits(out + 20, rem % US_PER_SEC, 6);
    out[26] = 'Z';
    out[27] = '\0';
}

dfdg_err
dfdg_time_parse(const char *s, size_t len, int64_t *us /* OUT */, struct dfdg_errinfo *ei)
{
    int32_t day;
    dfdg_err rc;

    if (s == NULL || len < 10)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "not an RFC 3339 time or a YYYY-MM-DD date");
    rc = dfdg_date_parse(s, 10, &day, ei);
    if (rc != DFDG_OK)
        return rc;
    if (len == 10) {
        /* A bare date means "as of that day", so the whole day is included. */
        *us = ((int64_t)day + 1) * US_PER_DAY - 1;
        return DFDG_OK;
    }

    int hh, mi, ss;
    if (len < 20 || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' ||
        !read_digits(s + 11, 2, &hh) || !read_digits(s + 14, 2, &mi) ||
        !read_digits(s + 17, 2, &ss))
        return dfdg_errinfo_set(ei, DFDG_INVAL,
                                "not an RFC 3339 time (YYYY-MM-DDTHH:MM:SS[.ffffff]Z)");
    if (hh > 23 || mi > 59 || ss > 59)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "time of day out of range");

    size_t i = 19;
    int64_t frac = 0;
    if (s[i] == '.') {
        size_t ndig = 0;
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (ndig == 6)
                return dfdg_errinfo_set(ei, DFDG_INVAL,
                                        "fraction of a second has more than 6 digits");
            frac = frac * 10 + (s[i] - '0');
            ndig++;
            i++;
        }
        if (ndig == 0)
            return dfdg_errinfo_set(ei, DFDG_INVAL, "empty fraction of a second");
        for (; ndig < 6; ndig++)
            frac *= 10;
    }

    int64_t offset_s = 0;
    if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        if (len - i < 6 || s[i + 3] != ':' || !read_digits(s + i + 1, 2, &oh) ||
            !read_digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return dfdg_errinfo_set(ei, DFDG_INVAL, "bad UTC offset (expected +hh:mm)");
        offset_s = (int64_t)oh * 3600 + (int64_t)om * 60;
        if (s[i] == '-')
            offset_s = -offset_s;
        i += 6;
    } else {
        return dfdg_errinfo_set(ei, DFDG_INVAL, "time lacks a UTC offset (Z or +hh:mm)");
    }
    if (i != len)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "trailing characters after the time");

    int64_t local_s = (int64_t)day * 86400 + (int64_t)hh * 3600 + (int64_t)mi * 60 + ss;
    int64_t t = (local_s - offset_s) * US_PER_SEC + frac;
    /* An offset can carry 0001-01-01 or 9999-12-31 out of the years a time is written in
     * (dfdg_time_format would clamp it to another instant), so those are refused too. */
    if (t < TIME_MIN_US || t > TIME_MAX_US)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "time out of range (years 0001 to 9999 in UTC)");
    *us = t;
    return DFDG_OK;
}
