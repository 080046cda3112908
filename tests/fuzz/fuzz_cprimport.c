/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_cprimport.c: libFuzzer target for one line of the CPR master-data import
 * (dfdg_cprimport_parse_line in src/exchange/cprimport.c), the JSON person `dfdg cpr import`
 * reads per line.
 *
 * Properties: an accepted person is fully valid (the parser's invariant 2: real dates, periods
 * non-empty, sorted and non-overlapping, numbers that parse, strings that fit); a refused line
 * leaves *out empty and a message and field name that never hold a CPR number (invariant 1).
 */
#include "core/dfdg.h"
#include "core/cpr.h"
#include "core/when.h"
#include "exchange/cprimport.h"

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_person(const struct dfdg_person *p)
{
    struct dfdg_cpr c;
    FUZZ_CHECK(dfdg_cpr_parse(p->cpr, strnlen(p->cpr, sizeof p->cpr), &c, NULL) == DFDG_OK);
    FUZZ_CHECK(c.birthdate == p->birthdate);
    for (size_t i = 0; i < p->nprevious; i++) {
        FUZZ_CHECK(dfdg_cpr_parse(p->previous[i], strnlen(p->previous[i], DFDG_CPR_LEN), &c,
                                  NULL) == DFDG_OK);
        FUZZ_CHECK(strcmp(p->previous[i], p->cpr) != 0);
    }
    FUZZ_CHECK(strcmp(p->sex, "M") == 0 || strcmp(p->sex, "F") == 0);
    FUZZ_CHECK(p->status[0] != '\0' && strnlen(p->status, sizeof p->status) < sizeof p->status);
    FUZZ_CHECK(strnlen(p->first, sizeof p->first) < sizeof p->first);
    FUZZ_CHECK(strnlen(p->middle, sizeof p->middle) < sizeof p->middle);
    FUZZ_CHECK(strnlen(p->last, sizeof p->last) < sizeof p->last);
    for (size_t i = 0; i < p->naddresses; i++) {
        const struct dfdg_address *a = &p->addresses[i];
        FUZZ_CHECK(strnlen(a->kommunekode, sizeof a->kommunekode) == 3);
        FUZZ_CHECK(a->to == DFDG_DATE_NONE || a->to > a->from);
        if (i > 0) {
            const struct dfdg_address *prev = &p->addresses[i - 1];
            FUZZ_CHECK(prev->to != DFDG_DATE_NONE && prev->to <= a->from);
        }
    }
    for (size_t i = 0; i < p->nprotection; i++) {
        const struct dfdg_period *pp = &p->protection[i];
        FUZZ_CHECK(pp->to == DFDG_DATE_NONE || pp->to > pp->from);
        if (i > 0)
            FUZZ_CHECK(p->protection[i - 1].to != DFDG_DATE_NONE &&
                       p->protection[i - 1].to <= pp->from);
    }
    for (size_t i = 0; i < p->nchildren; i++)
        FUZZ_CHECK(p->children[i] > p->birthdate);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dfdg_person p;
    struct dfdg_errinfo ei = {{0}, {0}};
    dfdg_err rc = dfdg_cprimport_parse_line((const char *)data, size, &p, &ei);
    FUZZ_CHECK(rc == DFDG_OK || rc == DFDG_INVAL);
    if (rc == DFDG_OK) {
        check_person(&p);
    } else {
        FUZZ_CHECK(ei.msg[0] != '\0');
        FUZZ_CHECK(fuzz_is_safe_message(ei.msg, sizeof ei.msg));
        FUZZ_CHECK(fuzz_is_safe_message(ei.field, sizeof ei.field));
        FUZZ_CHECK(p.previous == NULL && p.addresses == NULL && p.protection == NULL &&
                   p.children == NULL);
    }
    dfdg_person_cleanup(&p);
    return 0;
}
