/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_query.c: the API's query-parameter parsers (src/api/query.c): limit/wait ranges, the
 * feed cursor and the audit proof indices, including the strictness regressions found by
 * tests/fuzz/fuzz_query.c (signs, white space and overflow were accepted).
 */
#include "core/dfdg.h"
#include "api/query.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

static void
test_long_range(void **state)
{
    (void)state;
    long n = -1;
    assert_true(dfdg_query_parse_long("1", 1, 1000, &n));
    assert_int_equal(n, 1);
    assert_true(dfdg_query_parse_long("1000", 1, 1000, &n));
    assert_int_equal(n, 1000);
    assert_true(dfdg_query_parse_long("0", 0, 60, &n));
    assert_int_equal(n, 0);
    n = -1;
    assert_false(dfdg_query_parse_long("0", 1, 1000, &n));
    assert_false(dfdg_query_parse_long("1001", 1, 1000, &n));
    assert_false(dfdg_query_parse_long("", 1, 1000, &n));
    assert_false(dfdg_query_parse_long(NULL, 1, 1000, &n));
    assert_false(dfdg_query_parse_long("5x", 1, 1000, &n));
    assert_false(dfdg_query_parse_long("-5", 1, 1000, &n));
    assert_false(dfdg_query_parse_long("99999999999999999999999", 1, 1000, &n));
    assert_int_equal(n, -1); /* untouched on failure */
}

static void
test_cursor(void **state)
{
    (void)state;
    int64_t v = -1;
    assert_true(dfdg_query_parse_cursor(NULL, "v1.", &v));
    assert_int_equal(v, 0);
    v = -1;
    assert_true(dfdg_query_parse_cursor("", "v1.", &v));
    assert_int_equal(v, 0);
    assert_true(dfdg_query_parse_cursor("v1.42", "v1.", &v));
    assert_int_equal(v, 42);
    assert_true(dfdg_query_parse_cursor("v1.9223372036854775807", "v1.", &v));
    assert_int_equal(v, INT64_MAX);
    v = -1;
    assert_false(dfdg_query_parse_cursor("v1.", "v1.", &v));
    assert_false(dfdg_query_parse_cursor("42", "v1.", &v));
    assert_false(dfdg_query_parse_cursor("v2.42", "v1.", &v));
    assert_false(dfdg_query_parse_cursor("v1.-1", "v1.", &v));
    assert_false(dfdg_query_parse_cursor("v1.+1", "v1.", &v));
    assert_false(dfdg_query_parse_cursor("v1.4x", "v1.", &v));
    assert_int_equal(v, -1);
}

/* Regression (fuzz_query): white space before the number made strtoll skip it and sign it. */
static void
test_cursor_refuses_white_space(void **state)
{
    (void)state;
    int64_t v = -1;
    assert_false(dfdg_query_parse_cursor("v1. 5", "v1.", &v));
    assert_false(dfdg_query_parse_cursor("v1.\t+5", "v1.", &v));
    assert_false(dfdg_query_parse_cursor("v1. -0", "v1.", &v));
    assert_int_equal(v, -1);
}

/* Regression (fuzz_query): an overflowing cursor was clamped to INT64_MAX and accepted. */
static void
test_cursor_refuses_overflow(void **state)
{
    (void)state;
    int64_t v = -1;
    assert_false(dfdg_query_parse_cursor("v1.9223372036854775808", "v1.", &v));
    assert_false(dfdg_query_parse_cursor("v1.99999999999999999999", "v1.", &v));
    assert_int_equal(v, -1);
}

static void
test_u64(void **state)
{
    (void)state;
    uint64_t v = 7;
    assert_true(dfdg_query_parse_u64("0", &v));
    assert_int_equal(v, 0);
    assert_true(dfdg_query_parse_u64("18446744073709551615", &v));
    assert_true(v == UINT64_MAX);
    v = 7;
    assert_false(dfdg_query_parse_u64(NULL, &v));
    assert_false(dfdg_query_parse_u64("", &v));
    assert_false(dfdg_query_parse_u64("-1", &v));
    assert_false(dfdg_query_parse_u64("1x", &v));
    assert_int_equal(v, 7);
}

/* Regression (fuzz_query): strtoull took "+33", and " -1" as 2^64-1, as non-negative integers. */
static void
test_u64_refuses_signs_and_white_space(void **state)
{
    (void)state;
    uint64_t v = 7;
    assert_false(dfdg_query_parse_u64("+33", &v));
    assert_false(dfdg_query_parse_u64(" -1", &v));
    assert_false(dfdg_query_parse_u64(" 5", &v));
    assert_int_equal(v, 7);
}

/* Regression (fuzz_query): an overflowing value was clamped to 2^64-1 and accepted. */
static void
test_u64_refuses_overflow(void **state)
{
    (void)state;
    uint64_t v = 7;
    assert_false(dfdg_query_parse_u64("18446744073709551616", &v));
    assert_false(dfdg_query_parse_u64("99999999999999999999999", &v));
    assert_int_equal(v, 7);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_range),
        cmocka_unit_test(test_cursor),
        cmocka_unit_test(test_cursor_refuses_white_space),
        cmocka_unit_test(test_cursor_refuses_overflow),
        cmocka_unit_test(test_u64),
        cmocka_unit_test(test_u64_refuses_signs_and_white_space),
        cmocka_unit_test(test_u64_refuses_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
