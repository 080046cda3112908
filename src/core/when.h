/* SPDX-License-Identifier: Apache-2.0 */
/*
 * when.h: calendar dates and instants. A date is a day number (days since 1970-01-01, proleptic
 * Gregorian), an instant is microseconds since the Unix epoch in UTC. Text forms are ISO 8601
 * dates (YYYY-MM-DD) and RFC 3339 UTC times (YYYY-MM-DDTHH:MM:SS.ffffffZ).
 */
#ifndef DFDG_CORE_WHEN_H
#define DFDG_CORE_WHEN_H

#include "core/dfdg.h"

/* "no date": used for an open end (valid_to absent). Sorts after every real date. */
#define DFDG_DATE_NONE INT32_MAX
#define DFDG_DATE_LEN 11 /* "YYYY-MM-DD" + NUL */
#define DFDG_TIME_LEN 28 /* "YYYY-MM-DDTHH:MM:SS.ffffffZ" + NUL */

/* True when y-m-d is a real calendar date (leap years per the Gregorian rules), year 1..9999. */
bool dfdg_date_is_valid_ymd(int y, int m, int d);
/* Day number of a valid y-m-d. */
int32_t dfdg_date_from_ymd(int y, int m, int d);
/* Splits a day number into y-m-d. */
void dfdg_date_to_ymd(int32_t day, int *y /* OUT */, int *m /* OUT */, int *d /* OUT */);
/*
 * Parses exactly "YYYY-MM-DD" (len bytes, no NUL needed). Returns DFDG_INVAL with a message in
 * ei for anything else: wrong shape, a month or day out of range, 2023-02-29.
 */
dfdg_err dfdg_date_parse(const char *s, size_t len, int32_t *day /* OUT */,
                         struct dfdg_errinfo *ei);
/* Writes "YYYY-MM-DD" into out. */
void dfdg_date_format(int32_t day, char out[DFDG_DATE_LEN]);
/* Today's date in UTC. */
int32_t dfdg_date_today(void);

/* The current instant (CLOCK_REALTIME) in microseconds since the epoch. */
int64_t dfdg_time_now_us(void);
/* Writes the RFC 3339 UTC form with microseconds into out. */
void dfdg_time_format(int64_t us, char out[DFDG_TIME_LEN]);
/*
 * Parses an RFC 3339 time: "YYYY-MM-DDTHH:MM:SS" with optional fraction (up to 6 digits) and
 * "Z" or "+hh:mm"/"-hh:mm". Also accepts a bare date, meaning the end of that day (the last
 * microsecond), which is what "as of 2026-01-31" means to a user. A time whose UTC instant falls
 * outside the years 0001 to 9999 (only reachable through an offset) is refused.
 */
dfdg_err dfdg_time_parse(const char *s, size_t len, int64_t *us /* OUT */, struct dfdg_errinfo *ei);

#endif
