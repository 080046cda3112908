/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_uuid.c: UUIDv7 ids: layout (version 7, variant 10xx, the time prefix), text ordering by
 * time, uniqueness, and dfdg_uuid_is_valid.
 */
#include "core/dfdg.h"
#include "core/uuid.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static void
test_format(void **state)
{
    (void)state;
    char u[DFDG_UUID_LEN];
    /* 2026-11-27T08:00:00.123Z */
    int64_t ms = INT64_C(1795766400123);
    for (int i = 0; i < 200; i++) {
        dfdg_uuid7_make(ms, u);
        assert_int_equal(strlen(u), 36);
        assert_true(dfdg_uuid_is_valid(u));
        assert_int_equal(u[8], '-');
        assert_int_equal(u[13], '-');
        assert_int_equal(u[18], '-');
        assert_int_equal(u[23], '-');
        for (int j = 0; j < 36; j++)
            if (j != 8 && j != 13 && j != 18 && j != 23)
                assert_true(hexval(u[j]) >= 0);     /* lower-case hex */
        assert_int_equal(u[14], '7');               /* version */
        assert_int_equal(hexval(u[19]) & 0xc, 0x8); /* variant 10xx */
        /* The first 48 bits are the milliseconds. */
        int64_t got = 0;
        for (int j = 0; j < 13; j++)
            if (j != 8)
                got = got * 16 + hexval(u[j]);
        assert_true(got == ms);
    }
    dfdg_uuid7_make(0, u);
    assert_memory_equal(u, "00000000-0000-7", 15);
}

static void
test_sorts_by_time(void **state)
{
    (void)state;
    char prev[DFDG_UUID_LEN], cur[DFDG_UUID_LEN];
    int64_t ms = INT64_C(1700000000000);
    dfdg_uuid7_make(ms, prev);
    for (int i = 1; i < 2000; i++) {
        dfdg_uuid7_make(ms + i * 7, cur);
        assert_true(strcmp(prev, cur) < 0);
        memcpy(prev, cur, sizeof cur);
    }
    /* Millisecond neighbours too. */
    dfdg_uuid7_make(ms, prev);
    dfdg_uuid7_make(ms + 1, cur);
    assert_true(strcmp(prev, cur) < 0);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void
test_unique(void **state)
{
    (void)state;
    enum { N = 10000 };
    char(*ids)[DFDG_UUID_LEN] = calloc(N, sizeof *ids);
    assert_non_null(ids);
    /* All in the same millisecond: only the random bits tell them apart. */
    for (int i = 0; i < N; i++)
        dfdg_uuid7_make(INT64_C(1795766400000), ids[i]);
    qsort(ids, N, sizeof *ids, cmp_str);
    for (int i = 1; i < N; i++)
        assert_true(strcmp(ids[i - 1], ids[i]) != 0);
    free(ids);
}

static void
test_is_valid(void **state)
{
    (void)state;
    assert_true(dfdg_uuid_is_valid("01890a5d-ac96-774b-bcce-b302099a8057"));
    assert_true(dfdg_uuid_is_valid("01890A5D-AC96-774B-BCCE-B302099A8057"));
    assert_true(dfdg_uuid_is_valid("f81d4fae-7dec-11d0-a765-00a0c91e6bf6")); /* v1 */
    assert_true(dfdg_uuid_is_valid("00000000-0000-0000-0000-000000000000"));
    assert_false(dfdg_uuid_is_valid(NULL));
    assert_false(dfdg_uuid_is_valid(""));
    assert_false(dfdg_uuid_is_valid("01890a5d-ac96-774b-bcce-b302099a805"));   /* short */
    assert_false(dfdg_uuid_is_valid("01890a5d-ac96-774b-bcce-b302099a80577")); /* long */
    assert_false(dfdg_uuid_is_valid("01890a5dac96774bbcceb302099a8057"));
    assert_false(dfdg_uuid_is_valid("01890a5d-ac96-774b-bcce-b302099a805g"));
    assert_false(dfdg_uuid_is_valid("01890a5d_ac96-774b-bcce-b302099a8057"));
    assert_false(dfdg_uuid_is_valid("01890a5d-ac96-774bb-cce-b302099a8057"));
    assert_false(dfdg_uuid_is_valid("{01890a5d-ac96-774b-bcce-b302099a8057}"));
    assert_false(dfdg_uuid_is_valid("01890a5d-AC96-774b-bcce-b302099a8057")); /* mixed case */
    assert_false(dfdg_uuid_is_valid(" 01890a5d-ac96-774b-bcce-b302099a8057"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_sorts_by_time),
        cmocka_unit_test(test_unique),
        cmocka_unit_test(test_is_valid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
