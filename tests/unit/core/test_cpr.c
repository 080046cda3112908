/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_cpr.c: CPR numbers (century table, hyphen, leap days, modulus 11 not enforced,
 * 0000000000, shapes, sex, no number in messages) and CVR numbers (modulus 11).
 */
#include "core/dfdg.h"
#include "core/cpr.h"
#include "core/when.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

/* Parses s; on failure checks that the message exists and does not repeat the number. */
static dfdg_err
parse(const char *s, struct dfdg_cpr *out)
{
    struct dfdg_errinfo ei;
    memset(&ei, 0, sizeof ei);
    dfdg_err rc = dfdg_cpr_parse(s, strlen(s), out, &ei);
    if (rc != DFDG_OK) {
        assert_true(ei.msg[0] != '\0');
        if (strlen(s) >= 6) {
            char head[7];
            memcpy(head, s, 6);
            head[6] = '\0';
            assert_null(strstr(ei.msg, head));
        }
        assert_true(s[0] == '\0' || strstr(ei.msg, s) == NULL);
    }
    return rc;
}

static int32_t
ymd(int y, int m, int d)
{
    return dfdg_date_from_ymd(y, m, d);
}

static void
test_century_table(void **state)
{
    (void)state;
    static const int yys[6] = {0, 36, 37, 57, 58, 99};
    /* expected century per 7th digit (rows) and YY column (00-36, 37-57, 58-99) */
    static const int century[10][3] = {
        {1900, 1900, 1900}, {1900, 1900, 1900}, {1900, 1900, 1900}, {1900, 1900, 1900},
        {2000, 1900, 1900}, {2000, 2000, 1800}, {2000, 2000, 1800}, {2000, 2000, 1800},
        {2000, 2000, 1800}, {2000, 1900, 1900},
    };
    for (int d7 = 0; d7 <= 9; d7++) {
        for (int i = 0; i < 6; i++) {
            int yy = yys[i];
            int col = yy <= 36 ? 0 : yy <= 57 ? 1 : 2;
            int want = century[d7][col] + yy;
            assert_int_equal(dfdg_cpr_century_year(yy, d7), want);

            /* The parser uses the same table: 1 March of that year, serial d7 0 0 1. */
            char s[32];
            snprintf(s, sizeof s, "0103%02d%d001", yy, d7);
            struct dfdg_cpr c;
            assert_int_equal(parse(s, &c), DFDG_OK);
            assert_int_equal(c.birthdate, ymd(want, 3, 1));
        }
    }
}

static void
test_basic_and_hyphen(void **state)
{
    (void)state;
    struct dfdg_cpr a, b;
    assert_int_equal(parse("0101901234", &a), DFDG_OK);
    assert_string_equal(a.digits, "0101901234");
    assert_int_equal(a.birthdate, ymd(1990, 1, 1));
    assert_false(a.male); /* 10th digit 4 is even */

    assert_int_equal(parse("010190-1234", &b), DFDG_OK);
    assert_string_equal(b.digits, "0101901234");
    assert_int_equal(b.birthdate, a.birthdate);

    assert_int_equal(parse("3112994321", &a), DFDG_OK);
    assert_int_equal(a.birthdate, ymd(1999, 12, 31)); /* digit 4, YY 99 -> 1999 */
    assert_int_equal(parse("0101204321", &a), DFDG_OK);
    assert_int_equal(a.birthdate, ymd(2020, 1, 1));
    assert_true(a.male);
}

static void
test_sex_from_tenth_digit(void **state)
{
    (void)state;
    for (int d = 0; d <= 9; d++) {
        char s[32];
        snprintf(s, sizeof s, "150585123%d", d);
        struct dfdg_cpr c;
        assert_int_equal(parse(s, &c), DFDG_OK);
        assert_int_equal(c.male, d % 2 == 1);
    }
}

static void
test_leap_day(void **state)
{
    (void)state;
    struct dfdg_cpr c;
    assert_int_equal(parse("2902000000", &c), DFDG_INVAL); /* 1900: not a leap year */
    assert_int_equal(parse("2902004000", &c), DFDG_OK);    /* 2000 */
    assert_int_equal(c.birthdate, ymd(2000, 2, 29));
    assert_int_equal(parse("2902961234", &c), DFDG_OK); /* 1996 */
    assert_int_equal(parse("2902971234", &c), DFDG_INVAL);
    assert_int_equal(parse("2902241234", &c), DFDG_OK);    /* 1924 */
    assert_int_equal(parse("2902244321", &c), DFDG_OK);    /* 2024 */
    assert_int_equal(parse("2902235321", &c), DFDG_INVAL); /* 2023 */
    assert_int_equal(parse("2902585000", &c), DFDG_INVAL); /* 1858 */
    assert_int_equal(parse("2902565000", &c), DFDG_OK);    /* 2056 */
    assert_int_equal(parse("3002961234", &c), DFDG_INVAL);
    assert_int_equal(parse("3104901234", &c), DFDG_INVAL);
    assert_int_equal(parse("3204901234", &c), DFDG_INVAL);
    assert_int_equal(parse("0013901234", &c), DFDG_INVAL);
    assert_int_equal(parse("0001901234", &c), DFDG_INVAL);
    assert_int_equal(parse("0100901234", &c), DFDG_INVAL);
}

static void
test_mod11_not_enforced(void **state)
{
    (void)state;
    struct dfdg_cpr c;
    /* Numbers without a valid check digit are issued on 1 January since 2007: accepted. */
    assert_false(dfdg_cpr_has_mod11("0101651234"));
    assert_int_equal(parse("0101651234", &c), DFDG_OK);
    assert_int_equal(c.birthdate, ymd(1965, 1, 1));
    assert_false(dfdg_cpr_has_mod11("0101650000"));
    assert_int_equal(parse("010165-0000", &c), DFDG_OK);

    assert_true(dfdg_cpr_has_mod11("0101650006"));
    assert_true(dfdg_cpr_has_mod11("0101650014"));
    assert_false(dfdg_cpr_has_mod11("0101650015"));
    assert_false(dfdg_cpr_has_mod11("01016500x6"));
    assert_int_equal(parse("0101650006", &c), DFDG_OK);
}

static void
test_bad_numbers(void **state)
{
    (void)state;
    struct dfdg_cpr c;
    memset(&c, 0x5a, sizeof c);
    static const char *const bad[] = {
        "0000000000",  "000000-0000", "",
        "010190123",   "01019012345", "010190-123",
        "0101-901234", "010190 1234", "010190_1234",
        "a101901234",  "010190123x",  "0101901234-",
        "+101901234",  "01019O1234",  "010190--1234",
    };
    for (size_t i = 0; i < DFDG_ARRAY_LEN(bad); i++) {
        assert_int_equal(parse(bad[i], &c), DFDG_INVAL);
    }
    assert_int_equal(c.digits[0], 0x5a); /* untouched on error */
    /* len is honoured. */
    assert_int_equal(dfdg_cpr_parse("0101901234", 9, &c, NULL), DFDG_INVAL);
    assert_int_equal(dfdg_cpr_parse("0101901234567", 10, &c, NULL), DFDG_OK);
    assert_string_equal(c.digits, "0101901234");
    assert_int_equal(dfdg_cpr_parse(NULL, 0, &c, NULL), DFDG_INVAL);
}

static void
test_message_never_holds_number(void **state)
{
    (void)state;
    static const char *const bad[] = {"3102901234", "2902971234", "010190x234", "3113901234"};
    for (size_t i = 0; i < DFDG_ARRAY_LEN(bad); i++) {
        struct dfdg_errinfo ei;
        struct dfdg_cpr c;
        memset(&ei, 0, sizeof ei);
        assert_int_equal(dfdg_cpr_parse(bad[i], 10, &c, &ei), DFDG_INVAL);
        /* No run of 4 or more digits from the input appears in the message. */
        for (size_t off = 0; off + 4 <= 10; off++) {
            char part[5];
            memcpy(part, bad[i] + off, 4);
            part[4] = '\0';
            assert_null(strstr(ei.msg, part));
        }
    }
}

static void
test_cvr(void **state)
{
    (void)state;
    char out[DFDG_CVR_LEN];
    struct dfdg_errinfo ei;
    memset(&ei, 0, sizeof ei);
    /* 1*2 + 0*7 + 1*6 + 5*5 + 0*4 + 8*3 + 1*2 + 7*1 = 66 = 6 * 11 */
    assert_int_equal(dfdg_cvr_parse("10150817", 8, out, &ei), DFDG_OK);
    assert_string_equal(out, "10150817");
    assert_int_equal(dfdg_cvr_parse("10150818", 8, out, &ei), DFDG_INVAL);
    assert_true(ei.msg[0] != '\0');
    assert_int_equal(dfdg_cvr_parse("10150816", 8, out, &ei), DFDG_INVAL);
    /* 2*2 + 4*7 + 2*6 + 5*5 + 6*4 + 7*3 + 9*2 + 0*1 = 132 = 12 * 11 */
    assert_int_equal(dfdg_cvr_parse("24256790", 8, out, &ei), DFDG_OK);
    /* 2*2 + 5*7 + 1*6 + 5*5 + 8*4 + 0*3 + 6*2 + 4*1 = 118, not a multiple of 11 */
    assert_int_equal(dfdg_cvr_parse("25158064", 8, out, &ei), DFDG_INVAL);
    assert_int_equal(dfdg_cvr_parse("1015081", 7, out, &ei), DFDG_INVAL);
    assert_int_equal(dfdg_cvr_parse("101508170", 9, out, &ei), DFDG_INVAL);
    assert_int_equal(dfdg_cvr_parse("1015081a", 8, out, &ei), DFDG_INVAL);
    assert_int_equal(dfdg_cvr_parse("1015-817", 8, out, &ei), DFDG_INVAL);
    assert_int_equal(dfdg_cvr_parse("00000000", 8, out, &ei), DFDG_INVAL);
    assert_int_equal(dfdg_cvr_parse("", 0, out, &ei), DFDG_INVAL);
    assert_int_equal(dfdg_cvr_parse(NULL, 0, out, &ei), DFDG_INVAL);
    /* len is honoured */
    assert_int_equal(dfdg_cvr_parse("101508179", 8, out, &ei), DFDG_OK);
    assert_string_equal(out, "10150817");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_century_table),
        cmocka_unit_test(test_basic_and_hyphen),
        cmocka_unit_test(test_sex_from_tenth_digit),
        cmocka_unit_test(test_leap_day),
        cmocka_unit_test(test_mod11_not_enforced),
        cmocka_unit_test(test_bad_numbers),
        cmocka_unit_test(test_message_never_holds_number),
        cmocka_unit_test(test_cvr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
