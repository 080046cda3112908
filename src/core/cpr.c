/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cpr.c: parsing of Danish CPR numbers (the CPR office's layout and century table, see
 * cpr.dk "Opbygning af CPR-nummeret") and CVR numbers (8 digits, modulus 11 with weights
 * 2,7,6,5,4,3,2,1). CPR numbers are not required to pass modulus 11: since 1 Oct 2007 numbers
 * without a valid check digit are issued and systems must accept them. Error messages never
 * repeat the number, since a CPR number is personal data.
 */
#include "core/dfdg.h"
#include "core/cpr.h"
#include "core/when.h"

static bool
all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

int
dfdg_cpr_century_year(int yy, int digit7)
{
    /* The CPR office's table: 7th digit 0-3 -> 1900s; 4 and 9 -> 2000s for YY 00-36, else
     * 1900s; 5-8 -> 2000s for YY 00-57, else 1800s. */
    if (digit7 >= 0 && digit7 <= 3)
        return 1900 + yy;
    if (digit7 == 4 || digit7 == 9)
        return (yy <= 36 ? 2000 : 1900) + yy;
    return (yy <= 57 ? 2000 : 1800) + yy;
}

bool
dfdg_cpr_has_mod11(const char digits[10])
{
    static const int weights[10] = {4, 3, 2, 7, 6, 5, 4, 3, 2, 1};
    int sum = 0;
    for (int i = 0; i < 10; i++) {
        if (digits[i] < '0' || digits[i] > '9')
            return false;
        sum += weights[i] * (digits[i] - '0');
    }
    return sum % 11 == 0;
}

dfdg_err
dfdg_cpr_parse(const char *s, size_t len, struct dfdg_cpr *out /* OUT */, struct dfdg_errinfo *ei)
{
    char digits[DFDG_CPR_LEN];

    if (s == NULL || (len != 10 && len != 11))
        return dfdg_errinfo_set(ei, DFDG_INVAL, "a CPR number has 10 digits (DDMMYY-SSSS)");
    if (len == 11) {
        if (s[6] != '-')
            return dfdg_errinfo_set(ei, DFDG_INVAL,
                                    "a CPR number has 10 digits, optionally DDMMYY-SSSS");
        memcpy(digits, s, 6);
        memcpy(digits + 6, s + 7, 4);
    } else {
        memcpy(digits, s, 10);
    }
    digits[10] = '\0';
    if (!all_digits(digits, 10))
        return dfdg_errinfo_set(ei, DFDG_INVAL, "a CPR number has only digits");
    /* 0000000000 is STAR's "required but unknown" and names nobody. */
    if (strcmp(digits, "0000000000") == 0)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "an all-zero CPR number names nobody");

    int dd = (digits[0] - '0') * 10 + (digits[1] - '0');
    int mm = (digits[2] - '0') * 10 + (digits[3] - '0');
    int yy = (digits[4] - '0') * 10 + (digits[5] - '0');
    int year = dfdg_cpr_century_year(yy, digits[6] - '0');
    if (!dfdg_date_is_valid_ymd(year, mm, dd))
        return dfdg_errinfo_set(ei, DFDG_INVAL, "the CPR number's birth date does not exist");

    memcpy(out->digits, digits, sizeof out->digits);
    out->birthdate = dfdg_date_from_ymd(year, mm, dd);
    out->male = ((digits[9] - '0') % 2) == 1;
    return DFDG_OK;
}

dfdg_err
dfdg_cvr_parse(const char *s, size_t len, char out[DFDG_CVR_LEN] /* OUT */, struct dfdg_errinfo *ei)
{
    static const int weights[8] = {2, 7, 6, 5, 4, 3, 2, 1};

    if (s == NULL || len != 8)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "a CVR number has 8 digits");
    if (!all_digits(s, 8))
        return dfdg_errinfo_set(ei, DFDG_INVAL, "a CVR number has only digits");
    int sum = 0;
    for (int i = 0; i < 8; i++)
        sum += weights[i] * (s[i] - '0');
    if (sum == 0)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "an all-zero CVR number names no company");
    if (sum % 11 != 0)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "the CVR number's check digit is wrong");
    memcpy(out, s, 8);
    out[8] = '\0';
    return DFDG_OK;
}
