/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cpr.h: Danish CPR numbers (personnummer) and CVR numbers (company numbers).
 *
 * A CPR number is DDMMYY + a 4-digit serial; the 7th digit and YY give the century (CPR
 * office table). Since 1 Oct 2007 numbers without a valid modulus-11 check digit are issued,
 * so modulus 11 is never required. A CVR number is 8 digits with weights 2,7,6,5,4,3,2,1 and a
 * weighted sum divisible by 11.
 */
#ifndef DFDG_CORE_CPR_H
#define DFDG_CORE_CPR_H

#include "core/dfdg.h"

#define DFDG_CPR_LEN 11 /* 10 digits + NUL */
#define DFDG_CVR_LEN 9  /* 8 digits + NUL */

struct dfdg_cpr {
    char digits[DFDG_CPR_LEN]; /* normalised: 10 digits, no hyphen */
    int32_t birthdate;         /* day number (core/when.h) */
    bool male;                 /* the 10th digit is odd */
};

/*
 * Parses "DDMMYYSSSS" or "DDMMYY-SSSS" (len bytes). The birth date must be a real date with the
 * century from the 7th digit. Modulus 11 is not checked. "0000000000" is rejected (it means
 * "unknown" in STAR's services and names nobody). The message in ei never repeats the number.
 */
dfdg_err dfdg_cpr_parse(const char *s, size_t len, struct dfdg_cpr *out /* OUT */,
                        struct dfdg_errinfo *ei);
/* The full year for a 2-digit year and the 7th digit (0-9), per the CPR office's table. */
int dfdg_cpr_century_year(int yy, int digit7);
/* True when the 10 digits pass the old modulus-11 check (informational only). */
bool dfdg_cpr_has_mod11(const char digits[10]);

/* Parses an 8-digit CVR number with a valid modulus-11 check; out gets the digits + NUL. */
dfdg_err dfdg_cvr_parse(const char *s, size_t len, char out[DFDG_CVR_LEN] /* OUT */,
                        struct dfdg_errinfo *ei);

#endif
