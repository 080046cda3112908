/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_cpr.c: libFuzzer target for CPR and CVR numbers (src/core/cpr.c) as they arrive in
 * record bodies (length-delimited JSON strings), in the DFDG-CPR header (a C string, as
 * src/api/person.c reads it) and in CVR fields.
 *
 * Input: one selector byte (0: CPR by length, 1: CPR as a header, 2: CVR), then the text.
 * Properties: an accepted CPR number is the input's digits with the birth date and sex they
 * spell; an accepted CVR number passes modulus 11; no message holds the number.
 */
#include "core/dfdg.h"
#include "core/cpr.h"
#include "core/when.h"

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_cpr(const char *s, size_t len, const struct dfdg_cpr *c)
{
    char digits[11];
    FUZZ_CHECK(len == 10 || len == 11);
    if (len == 11) {
        memcpy(digits, s, 6);
        memcpy(digits + 6, s + 7, 4);
    } else {
        memcpy(digits, s, 10);
    }
    digits[10] = '\0';
    FUZZ_CHECK(strcmp(c->digits, digits) == 0);
    int y, m, d;
    dfdg_date_to_ymd(c->birthdate, &y, &m, &d);
    FUZZ_CHECK(d == (digits[0] - '0') * 10 + (digits[1] - '0'));
    FUZZ_CHECK(m == (digits[2] - '0') * 10 + (digits[3] - '0'));
    FUZZ_CHECK(y % 100 == (digits[4] - '0') * 10 + (digits[5] - '0'));
    FUZZ_CHECK(y == dfdg_cpr_century_year(y % 100, digits[6] - '0'));
    FUZZ_CHECK(y >= 1858 && y <= 2057);
    FUZZ_CHECK(c->male == ((digits[9] - '0') % 2 == 1));
    (void)dfdg_cpr_has_mod11(c->digits);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0] % 3;
    char *s = fuzz_strndup(data + 1, size - 1);
    size_t len = size - 1;
    struct dfdg_errinfo ei = {{0}, {0}};
    dfdg_err rc;
    switch (sel) {
    case 0: {
        struct dfdg_cpr c;
        rc = dfdg_cpr_parse(s, len, &c, &ei);
        if (rc == DFDG_OK)
            check_cpr(s, len, &c);
        break;
    }
    case 1: {
        /* DFDG-CPR: libmicrohttpd hands over a C string; an empty header is "missing". */
        struct dfdg_cpr c;
        size_t n = strlen(s);
        if (n == 0) {
            rc = DFDG_OK;
            break;
        }
        rc = dfdg_cpr_parse(s, n, &c, &ei);
        if (rc == DFDG_OK)
            check_cpr(s, n, &c);
        break;
    }
    default: {
        char cvr[DFDG_CVR_LEN];
        rc = dfdg_cvr_parse(s, len, cvr, &ei);
        if (rc == DFDG_OK) {
            static const int w[8] = {2, 7, 6, 5, 4, 3, 2, 1};
            int sum = 0;
            FUZZ_CHECK(len == 8 && memcmp(cvr, s, 8) == 0 && cvr[8] == '\0');
            for (int i = 0; i < 8; i++) {
                FUZZ_CHECK(cvr[i] >= '0' && cvr[i] <= '9');
                sum += w[i] * (cvr[i] - '0');
            }
            FUZZ_CHECK(sum % 11 == 0 && sum > 0);
        }
        break;
    }
    }
    FUZZ_CHECK(rc == DFDG_OK || rc == DFDG_INVAL);
    FUZZ_CHECK(rc == DFDG_OK || ei.msg[0] != '\0');
    FUZZ_CHECK(fuzz_is_safe_message(ei.msg, sizeof ei.msg));
    free(s);
    return 0;
}
