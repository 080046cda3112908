/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_when.c: calendar dates (leap years, month lengths, shapes, day-number round trips) and
 * RFC 3339 instants (parse/format round trips, offsets, a bare date meaning end of day).
 */
#include "core/dfdg.h"
#include "core/when.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

static dfdg_err
parse_date(const char *s, int32_t *day)
{
    struct dfdg_errinfo ei;
    memset(&ei, 0, sizeof ei);
    dfdg_err rc = dfdg_date_parse(s, strlen(s), day, &ei);
    if (rc != DFDG_OK)
        assert_true(ei.msg[0] != '\0');
    return rc;
}

static void
test_leap_years(void **state)
{
    (void)state;
    assert_false(dfdg_date_is_valid_ymd(1900, 2, 29));
    assert_true(dfdg_date_is_valid_ymd(2000, 2, 29));
    assert_true(dfdg_date_is_valid_ymd(2024, 2, 29));
    assert_false(dfdg_date_is_valid_ymd(2023, 2, 29));
    assert_false(dfdg_date_is_valid_ymd(2100, 2, 29));
    assert_true(dfdg_date_is_valid_ymd(1600, 2, 29));

    int32_t day;
    assert_int_equal(parse_date("2023-02-29", &day), DFDG_INVAL);
    assert_int_equal(parse_date("1900-02-29", &day), DFDG_INVAL);
    assert_int_equal(parse_date("2000-02-29", &day), DFDG_OK);
    assert_int_equal(parse_date("2024-02-29", &day), DFDG_OK);
    assert_int_equal(day, dfdg_date_from_ymd(2024, 2, 29));
    assert_int_equal(parse_date("2024-03-01", &day), DFDG_OK);
    assert_int_equal(day, dfdg_date_from_ymd(2024, 2, 29) + 1);
}

static void
test_month_lengths(void **state)
{
    (void)state;
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (int m = 1; m <= 12; m++) {
        assert_true(dfdg_date_is_valid_ymd(2023, m, len[m - 1]));
        assert_false(dfdg_date_is_valid_ymd(2023, m, len[m - 1] + 1));
        assert_false(dfdg_date_is_valid_ymd(2023, m, 0));
    }
    assert_false(dfdg_date_is_valid_ymd(2023, 0, 1));
    assert_false(dfdg_date_is_valid_ymd(2023, 13, 1));
    assert_false(dfdg_date_is_valid_ymd(0, 1, 1));
    assert_false(dfdg_date_is_valid_ymd(10000, 1, 1));

    int32_t day;
    assert_int_equal(parse_date("2024-04-31", &day), DFDG_INVAL);
    assert_int_equal(parse_date("2024-04-30", &day), DFDG_OK);
    assert_int_equal(parse_date("2024-13-01", &day), DFDG_INVAL);
    assert_int_equal(parse_date("2024-00-10", &day), DFDG_INVAL);
    assert_int_equal(parse_date("2024-01-00", &day), DFDG_INVAL);
    assert_int_equal(parse_date("2024-12-32", &day), DFDG_INVAL);
    assert_int_equal(parse_date("0000-01-01", &day), DFDG_INVAL);
}

static void
test_bad_shapes(void **state)
{
    (void)state;
    int32_t day = 42;
    static const char *const bad[] = {
        "2024-1-01", "2024-01-1",   "2024-01-01x", "",           "abcd-ef-gh", "2024/01/01",
        "20240101",  " 2024-01-01", "2024-01-01 ", "2024-0a-01", "+024-01-01", "2024--1-01",
    };
    for (size_t i = 0; i < DFDG_ARRAY_LEN(bad); i++) {
        assert_int_equal(parse_date(bad[i], &day), DFDG_INVAL);
        assert_int_equal(day, 42); /* untouched on error */
    }
    /* len is honoured: no NUL is needed, and a longer buffer is not read past len. */
    assert_int_equal(dfdg_date_parse("2024-05-06xyz", 10, &day, NULL), DFDG_OK);
    assert_int_equal(day, dfdg_date_from_ymd(2024, 5, 6));
    assert_int_equal(dfdg_date_parse(NULL, 0, &day, NULL), DFDG_INVAL);
}

static void
test_known_day_numbers(void **state)
{
    (void)state;
    assert_int_equal(dfdg_date_from_ymd(1970, 1, 1), 0);
    assert_int_equal(dfdg_date_from_ymd(1970, 1, 2), 1);
    assert_int_equal(dfdg_date_from_ymd(1969, 12, 31), -1);
    assert_int_equal(dfdg_date_from_ymd(2000, 3, 1), 11017);
    assert_int_equal(dfdg_date_from_ymd(2026, 11, 27), 20784);
    assert_int_equal(dfdg_date_from_ymd(1, 1, 1), -719162);

    char buf[DFDG_DATE_LEN];
    dfdg_date_format(0, buf);
    assert_string_equal(buf, "1970-01-01");
    dfdg_date_format(-1, buf);
    assert_string_equal(buf, "1969-12-31");
    dfdg_date_format(dfdg_date_from_ymd(9999, 12, 31), buf);
    assert_string_equal(buf, "9999-12-31");
    dfdg_date_format(dfdg_date_from_ymd(1, 1, 1), buf);
    assert_string_equal(buf, "0001-01-01");
}

static void
test_round_trip_wide(void **state)
{
    (void)state;
    int32_t first = dfdg_date_from_ymd(1, 1, 1);
    int32_t last = dfdg_date_from_ymd(9999, 12, 31);
    int py = 0, pm = 12, pd = 31;
    for (int32_t day = first; day <= last; day++) {
        int y, m, d;
        dfdg_date_to_ymd(day, &y, &m, &d);
        assert_true(dfdg_date_is_valid_ymd(y, m, d));
        assert_int_equal(dfdg_date_from_ymd(y, m, d), day);
        /* Consecutive day numbers are consecutive calendar days. */
        if (d == 1) {
            assert_true((m == 1 && pm == 12 && y == py + 1) || (m == pm + 1 && y == py));
        } else {
            assert_int_equal(d, pd + 1);
            assert_int_equal(m, pm);
        }
        py = y;
        pm = m;
        pd = d;
    }
    assert_int_equal(py, 9999);

    /* Text round trip over a sample. */
    for (int32_t day = first; day <= last; day += 997) {
        char buf[DFDG_DATE_LEN];
        int32_t back;
        dfdg_date_format(day, buf);
        assert_int_equal(strlen(buf), 10);
        assert_int_equal(dfdg_date_parse(buf, 10, &back, NULL), DFDG_OK);
        assert_int_equal(back, day);
    }
}

static void
test_today_is_sane(void **state)
{
    (void)state;
    int32_t today = dfdg_date_today();
    assert_true(today > dfdg_date_from_ymd(2024, 1, 1));
    assert_true(today < dfdg_date_from_ymd(2100, 1, 1));
    int64_t now = dfdg_time_now_us();
    int64_t day_us = INT64_C(86400000000);
    assert_true(now / day_us == today || now / day_us == today - 1 || now / day_us == today + 1);
}

static int64_t
parse_time(const char *s)
{
    int64_t us = 0;
    struct dfdg_errinfo ei;
    memset(&ei, 0, sizeof ei);
    assert_int_equal(dfdg_time_parse(s, strlen(s), &us, &ei), DFDG_OK);
    return us;
}

static void
test_time_parse_forms(void **state)
{
    (void)state;
    assert_int_equal(parse_time("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(parse_time("1970-01-01T00:00:01Z"), 1000000);
    assert_int_equal(parse_time("1970-01-01T00:00:00.5Z"), 500000);
    assert_int_equal(parse_time("1970-01-01T00:00:00.000001Z"), 1);
    assert_int_equal(parse_time("1970-01-01t00:00:00.123z"), 123000);
    /* Offsets: the local time minus the offset is UTC. */
    assert_int_equal(parse_time("1970-01-01T01:00:00+01:00"), 0);
    assert_int_equal(parse_time("1969-12-31T23:30:00-00:30"), 0);
    assert_int_equal(parse_time("2026-11-27T09:00:00.123456+01:00"),
                     parse_time("2026-11-27T08:00:00.123456Z"));
    assert_int_equal(parse_time("2026-11-27T02:15:00-05:45"), parse_time("2026-11-27T08:00:00Z"));
    assert_int_equal(parse_time("1969-12-31T23:59:59.999999Z"), -1);
}

static void
test_time_bare_date_is_end_of_day(void **state)
{
    (void)state;
    int64_t end = parse_time("2026-01-31");
    assert_int_equal(end, parse_time("2026-02-01T00:00:00Z") - 1);
    assert_int_equal(end, parse_time("2026-01-31T23:59:59.999999Z"));
    char buf[DFDG_TIME_LEN];
    dfdg_time_format(end, buf);
    assert_string_equal(buf, "2026-01-31T23:59:59.999999Z");
}

static void
test_time_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "2026-01-31T",
        "2026-01-31T10:00:00",          /* no offset */
        "2026-01-31T10:00Z",            /* no seconds */
        "2026-01-31T24:00:00Z",         /* hour */
        "2026-01-31T10:60:00Z",         /* minute */
        "2026-01-31T10:00:60Z",         /* second */
        "2026-01-31T10:00:00.Z",        /* empty fraction */
        "2026-01-31T10:00:00.1234567Z", /* 7 fraction digits */
        "2026-01-31T10:00:00+1:00",
        "2026-01-31T10:00:00+01:60",
        "2026-01-31T10:00:00+0100",
        "2026-01-31T10:00:00Zx",
        "2026-01-31 10:00:00Z",
        "2026-02-30T10:00:00Z",
        "2026-01-31x",
    };
    for (size_t i = 0; i < DFDG_ARRAY_LEN(bad); i++) {
        int64_t us = 7;
        struct dfdg_errinfo ei;
        memset(&ei, 0, sizeof ei);
        assert_int_equal(dfdg_time_parse(bad[i], strlen(bad[i]), &us, &ei), DFDG_INVAL);
        assert_true(ei.msg[0] != '\0');
        assert_int_equal(us, 7);
    }
}

static void
test_time_round_trip(void **state)
{
    (void)state;
    char buf[DFDG_TIME_LEN];
    dfdg_time_format(0, buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000000Z");
    dfdg_time_format(-1, buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999999Z");

    int64_t t = parse_time("2026-11-27T08:00:00.123456Z");
    dfdg_time_format(t, buf);
    assert_string_equal(buf, "2026-11-27T08:00:00.123456Z");

    /* A spread of instants from year 1 to 9999 survives format and parse. */
    int64_t lo = parse_time("0001-01-01T00:00:00Z");
    int64_t hi = parse_time("9999-12-31T23:59:59.999999Z");
    int64_t step = (hi - lo) / 5003;
    for (int64_t us = lo; us <= hi; us += step + 12345) {
        dfdg_time_format(us, buf);
        assert_int_equal(strlen(buf), DFDG_TIME_LEN - 1);
        assert_int_equal(parse_time(buf), us);
    }
    int64_t now = dfdg_time_now_us();
    dfdg_time_format(now, buf);
    assert_int_equal(parse_time(buf), now);
}

/* Regression (fuzz_when): an offset carried year 1 or 9999 out of range, and the instant then
 * formatted as another one (year 0000, which does not parse, or a clamped 9999-12-31). */
static void
test_time_offset_out_of_range(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "0001-01-01T00:00:00+00:01",
        "0001-01-01T00:59:59.999999+01:00",
        "9999-12-31T23:59:59.999999-00:01",
        "9999-12-31T23:00:00-01:00",
    };
    for (size_t i = 0; i < DFDG_ARRAY_LEN(bad); i++) {
        int64_t us = 7;
        struct dfdg_errinfo ei;
        memset(&ei, 0, sizeof ei);
        assert_int_equal(dfdg_time_parse(bad[i], strlen(bad[i]), &us, &ei), DFDG_INVAL);
        assert_non_null(strstr(ei.msg, "out of range"));
        assert_int_equal(us, 7);
    }
    /* The edges themselves, also reached through an offset, are fine and format back. */
    char buf[DFDG_TIME_LEN];
    dfdg_time_format(parse_time("0001-01-01T01:00:00+01:00"), buf);
    assert_string_equal(buf, "0001-01-01T00:00:00.000000Z");
    dfdg_time_format(parse_time("9999-12-31T22:59:59.999999-01:00"), buf);
    assert_string_equal(buf, "9999-12-31T23:59:59.999999Z");
    dfdg_time_format(parse_time("9999-12-31"), buf);
    assert_string_equal(buf, "9999-12-31T23:59:59.999999Z");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leap_years),
        cmocka_unit_test(test_month_lengths),
        cmocka_unit_test(test_bad_shapes),
        cmocka_unit_test(test_known_day_numbers),
        cmocka_unit_test(test_round_trip_wide),
        cmocka_unit_test(test_today_is_sane),
        cmocka_unit_test(test_time_parse_forms),
        cmocka_unit_test(test_time_bare_date_is_end_of_day),
        cmocka_unit_test(test_time_bad),
        cmocka_unit_test(test_time_round_trip),
        cmocka_unit_test(test_time_offset_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
