/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_when.c: libFuzzer target for the date and time parsers (src/core/when.c) that read
 * valid_from/valid_to and data dates (YYYY-MM-DD) and the as_of query parameter (RFC 3339 or
 * a bare date), and the calendar arithmetic behind them.
 *
 * Input: one selector byte (0: date, 1: time, 2: day-number and instant arithmetic on the
 * bytes as integers), then the text or the integers.
 * Properties: an accepted date formats back to exactly the input; an accepted time formats
 * to a time that parses back to the same instant; civil dates round-trip through day numbers.
 */
#include "core/dfdg.h"
#include "core/when.h"

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_arithmetic(const uint8_t *data, size_t size)
{
    int32_t day = 0;
    int64_t us = 0;
    memcpy(&day, data, size < sizeof day ? size : sizeof day);
    if (size > sizeof day)
        memcpy(&us, data + sizeof day,
               size - sizeof day < sizeof us ? size - sizeof day : sizeof us);
    int y, m, d;
    dfdg_date_to_ymd(day, &y, &m, &d);
    if (dfdg_date_is_valid_ymd(y, m, d)) {
        FUZZ_CHECK(dfdg_date_from_ymd(y, m, d) == day);
        char txt[DFDG_DATE_LEN];
        int32_t back;
        dfdg_date_format(day, txt);
        FUZZ_CHECK(dfdg_date_parse(txt, strlen(txt), &back, NULL) == DFDG_OK && back == day);
    }
    char tt[DFDG_TIME_LEN];
    dfdg_time_format(us, tt);
    FUZZ_CHECK(strlen(tt) == DFDG_TIME_LEN - 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0] % 3;
    data++;
    size--;
    if (sel == 2) {
        check_arithmetic(data, size);
        return 0;
    }
    /* An exact-size copy, so ASan sees any read past the length. */
    char *s = malloc(size > 0 ? size : 1);
    FUZZ_CHECK(s != NULL);
    if (size > 0)
        memcpy(s, data, size);
    struct dfdg_errinfo ei = {{0}, {0}};
    if (sel == 0) {
        int32_t day;
        if (dfdg_date_parse(s, size, &day, &ei) == DFDG_OK) {
            char txt[DFDG_DATE_LEN];
            dfdg_date_format(day, txt);
            FUZZ_CHECK(size == 10 && memcmp(txt, s, 10) == 0);
        } else {
            FUZZ_CHECK(ei.msg[0] != '\0');
        }
    } else {
        int64_t us;
        if (dfdg_time_parse(s, size, &us, &ei) == DFDG_OK) {
            char txt[DFDG_TIME_LEN];
            int64_t back;
            dfdg_time_format(us, txt);
            struct dfdg_errinfo ei2 = {{0}, {0}};
            if (dfdg_time_parse(txt, strlen(txt), &back, &ei2) != DFDG_OK)
                fprintf(stderr, "fuzz: %s does not parse back: %s\n", txt, ei2.msg);
            FUZZ_CHECK(dfdg_time_parse(txt, strlen(txt), &back, NULL) == DFDG_OK);
            FUZZ_CHECK(back == us);
        } else {
            FUZZ_CHECK(ei.msg[0] != '\0');
        }
    }
    FUZZ_CHECK(fuzz_is_safe_message(ei.msg, sizeof ei.msg));
    free(s);
    return 0;
}
