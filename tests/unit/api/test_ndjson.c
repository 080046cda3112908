/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_ndjson.c: the NDJSON batch splitter (src/api/ndjson.c): lines and their numbers,
 * blank lines skipped but counted, CRLF, a missing final newline, the line cap, empty bodies.
 */
#include "core/dfdg.h"
#include "api/ndjson.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#define MAX_LINES 8

struct split {
    size_t n;                 /* lines returned */
    char text[MAX_LINES][64]; /* each line, NUL-terminated copy */
    size_t line_no[MAX_LINES];
};

static void
split(const char *body, struct split *out)
{
    struct dfdg_ndjson_iter it;
    struct dfdg_ndjson_line line;
    memset(out, 0, sizeof *out);
    dfdg_ndjson_init(&it, body, strlen(body));
    while (dfdg_ndjson_next(&it, &line)) {
        assert_true(out->n < MAX_LINES);
        assert_true(line.len < sizeof out->text[0]);
        assert_true(line.text >= body && line.text + line.len <= body + strlen(body));
        memcpy(out->text[out->n], line.text, line.len);
        out->line_no[out->n] = line.line_no;
        out->n++;
    }
    /* The iterator stays at the end. */
    assert_false(dfdg_ndjson_next(&it, &line));
}

static size_t
count(const char *body, size_t max, dfdg_err want)
{
    size_t n = 999;
    assert_int_equal(dfdg_ndjson_count(body, strlen(body), max, &n), want);
    return n;
}

static void
test_lines_and_numbers(void **state)
{
    (void)state;
    struct split s;
    split("{\"a\":1}\n{\"b\":2}\n", &s);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.text[0], "{\"a\":1}");
    assert_string_equal(s.text[1], "{\"b\":2}");
    assert_int_equal(s.line_no[0], 1);
    assert_int_equal(s.line_no[1], 2);
    assert_int_equal(count("{\"a\":1}\n{\"b\":2}\n", 10, DFDG_OK), 2);
}

static void
test_blank_lines_are_skipped_but_numbered(void **state)
{
    (void)state;
    struct split s;
    /* As the integration test sends it: records on lines 1, 3 and 5. */
    split("A\n\nB\n \t \r\nC\n", &s);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.text[0], "A");
    assert_string_equal(s.text[1], "B");
    assert_string_equal(s.text[2], "C");
    assert_int_equal(s.line_no[0], 1);
    assert_int_equal(s.line_no[1], 3);
    assert_int_equal(s.line_no[2], 5);
    /* Leading blank lines count too. */
    split("\n\n  x\n", &s);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.text[0], "  x");
    assert_int_equal(s.line_no[0], 3);
}

static void
test_crlf(void **state)
{
    (void)state;
    struct split s;
    split("A\r\nB\r\n\r\nC", &s);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.text[0], "A");
    assert_string_equal(s.text[1], "B");
    assert_string_equal(s.text[2], "C");
    assert_int_equal(s.line_no[2], 4);
    /* Only the one "\r" of the line end goes; one inside the line stays. */
    split("x\ry\r\r\n", &s);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.text[0], "x\ry\r");
}

static void
test_missing_final_newline(void **state)
{
    (void)state;
    struct split s;
    split("A\nB", &s);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.text[1], "B");
    assert_int_equal(s.line_no[1], 2);
    split("A", &s);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.text[0], "A");
    /* A final newline makes no extra (empty) line. */
    split("A\n", &s);
    assert_int_equal(s.n, 1);
}

static void
test_empty_and_blank_bodies(void **state)
{
    (void)state;
    struct split s;
    struct dfdg_ndjson_iter it;
    struct dfdg_ndjson_line line;
    split("", &s);
    assert_int_equal(s.n, 0);
    split("\n", &s);
    assert_int_equal(s.n, 0);
    split("\n  \n\t\r\n", &s);
    assert_int_equal(s.n, 0);
    assert_int_equal(count("\n  \n\t\r\n", 0, DFDG_OK), 0);
    /* A request without a body. */
    dfdg_ndjson_init(&it, NULL, 0);
    assert_false(dfdg_ndjson_next(&it, &line));
    size_t n = 9;
    assert_int_equal(dfdg_ndjson_count(NULL, 0, 5, &n), DFDG_OK);
    assert_int_equal(n, 0);
}

static void
test_line_cap(void **state)
{
    (void)state;
    /* Exactly the cap is fine, and blank lines do not count against it. */
    assert_int_equal(count("a\n\nb\n\nc\n", 3, DFDG_OK), 3);
    /* One more is too large; counting stops there. */
    assert_int_equal(count("a\nb\nc\nd\ne\n", 3, DFDG_TOO_LARGE), 4);
    assert_int_equal(count("a\n", 0, DFDG_TOO_LARGE), 1);
}

static void
test_nul_bytes_stay_in_the_line(void **state)
{
    (void)state;
    static const char body[] = "a\0b\nc";
    struct dfdg_ndjson_iter it;
    struct dfdg_ndjson_line line;
    dfdg_ndjson_init(&it, body, sizeof body - 1);
    assert_true(dfdg_ndjson_next(&it, &line));
    assert_int_equal(line.len, 3);
    assert_memory_equal(line.text, "a\0b", 3);
    assert_true(dfdg_ndjson_next(&it, &line));
    assert_int_equal(line.len, 1);
    assert_int_equal(line.line_no, 2);
    assert_false(dfdg_ndjson_next(&it, &line));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_and_numbers),
        cmocka_unit_test(test_blank_lines_are_skipped_but_numbered),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_missing_final_newline),
        cmocka_unit_test(test_empty_and_blank_bodies),
        cmocka_unit_test(test_line_cap),
        cmocka_unit_test(test_nul_bytes_stay_in_the_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
