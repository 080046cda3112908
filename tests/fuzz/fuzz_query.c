/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_query.c: libFuzzer target for the request headers and query parameters the API parses
 * itself (libmicrohttpd splits and percent-decodes them; each value arrives as a C string):
 * DFDG-CPR (src/api/person.c), DFDG-Purpose (dfdg_purpose_parse, src/authz/access.c), limit
 * and wait (dfdg_query_parse_long), the feed's after cursor (dfdg_query_parse_cursor), the
 * audit proofs' index/size/first/second (dfdg_query_parse_u64), valid_on and as_of
 * (src/core/when.c), the access log's before cursor (src/insight/insight.c) and type (the
 * catalog lookup).
 *
 * Input: one selector byte, then the value. Properties: what is accepted is exactly the
 * grammar the API documents (digits are digits, values fit, names round-trip), and messages
 * never hold a CPR number.
 */
#include "core/dfdg.h"
#include "api/query.h"
#include "authz/access.h"
#include "catalog/catalog.h"
#include "core/cpr.h"
#include "core/when.h"
#include "insight/insight.h"

#include "fuzz_common.h"

static struct dfdg_catalog *cat;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct dfdg_errinfo ei = {{0}, {0}};
    FUZZ_CHECK(dfdg_catalog_load_builtin(&cat, &ei) == DFDG_OK);
    return 0;
}

/* The value of s when it is 1 or more ASCII digits that fit max; false otherwise. */
static bool
exact_digits(const char *s, uint64_t max, uint64_t *v /* OUT */)
{
    uint64_t n = 0;
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return false;
        uint64_t d = (uint64_t)(*s - '0');
        if (n > (max - d) / 10)
            return false;
        n = n * 10 + d;
    }
    *v = n;
    return true;
}

static void
check_cpr_header(const char *h)
{
    /* As person.c's resolve_person: empty is "missing", else the number or a field error. */
    if (*h == '\0')
        return;
    struct dfdg_cpr cpr;
    struct dfdg_errinfo ei = {{0}, {0}};
    if (dfdg_cpr_parse(h, strlen(h), &cpr, &ei) == DFDG_OK) {
        FUZZ_CHECK(strlen(cpr.digits) == 10);
        return;
    }
    struct dfdg_verrors ve = {0};
    dfdg_verrors_add(&ve, "DFDG-CPR", "cpr", "not a valid CPR number: %s", ei.msg);
    FUZZ_CHECK(ve.n == 1 && !fuzz_has_cpr_like(ve.e[0].message));
}

static void
check_purpose(const char *s)
{
    enum dfdg_purpose p = DFDG_PURPOSE_NONE;
    if (dfdg_purpose_parse(s, &p) != DFDG_OK)
        return;
    FUZZ_CHECK(p > DFDG_PURPOSE_NONE && p < DFDG_PURPOSE__COUNT);
    FUZZ_CHECK(strcmp(dfdg_purpose_name(p), s) == 0);
    FUZZ_CHECK(dfdg_purpose_legal_basis(p)[0] != '\0');
    for (int k = 0; k < DFDG_KIND__COUNT; k++)
        (void)dfdg_purpose_is_allowed((enum dfdg_org_kind)k, p);
}

static void
check_long(const char *s, uint8_t which)
{
    static const long ranges[][2] = {
        {1, 1000},                /* feed limit */
        {0, 60},                  /* feed wait */
        {1, 10000},               /* person records limit */
        {1, DFDG_ACCESS_LOG_MAX}, /* access-log limit */
    };
    const long *r = ranges[which % DFDG_ARRAY_LEN(ranges)];
    long n = -12345;
    if (dfdg_query_parse_long(s, r[0], r[1], &n)) {
        char *end;
        FUZZ_CHECK(n >= r[0] && n <= r[1]);
        FUZZ_CHECK(strtol(s, &end, 10) == n && *end == '\0');
    } else {
        FUZZ_CHECK(n == -12345);
    }
}

static void
check_cursor(const char *s)
{
    int64_t v = -1;
    bool ok = dfdg_query_parse_cursor(s, "v1.", &v);
    if (*s == '\0') {
        FUZZ_CHECK(ok && v == 0);
        return;
    }
    uint64_t want;
    bool good = strncmp(s, "v1.", 3) == 0 && exact_digits(s + 3, INT64_MAX, &want);
    FUZZ_CHECK(ok == good);
    if (ok) {
        FUZZ_CHECK(v >= 0 && (uint64_t)v == want);
        char again[32];
        snprintf(again, sizeof again, "v1.%lld", (long long)v);
        int64_t w = -1;
        FUZZ_CHECK(dfdg_query_parse_cursor(again, "v1.", &w) && w == v);
    }
}

static void
check_u64(const char *s)
{
    uint64_t v = 12345, want;
    bool ok = dfdg_query_parse_u64(s, &v);
    bool good = exact_digits(s, UINT64_MAX, &want);
    FUZZ_CHECK(ok == good);
    FUZZ_CHECK(ok ? v == want : v == 12345);
}

static void
check_dates(const char *s, bool time)
{
    struct dfdg_errinfo ei = {{0}, {0}};
    if (time) {
        int64_t us;
        if (dfdg_time_parse(s, strlen(s), &us, &ei) != DFDG_OK)
            FUZZ_CHECK(fuzz_is_safe_message(ei.msg, sizeof ei.msg) && ei.msg[0] != '\0');
    } else {
        int32_t day;
        if (dfdg_date_parse(s, strlen(s), &day, &ei) == DFDG_OK) {
            char txt[DFDG_DATE_LEN];
            dfdg_date_format(day, txt);
            FUZZ_CHECK(strcmp(txt, s) == 0);
        } else {
            FUZZ_CHECK(fuzz_is_safe_message(ei.msg, sizeof ei.msg) && ei.msg[0] != '\0');
        }
    }
}

static void
check_insight_cursor(const char *s)
{
    int64_t v = -1;
    uint64_t want;
    bool ok = dfdg_insight_cursor_parse(s, &v) == DFDG_OK;
    bool good = exact_digits(s, INT64_MAX, &want) && want >= 1;
    FUZZ_CHECK(ok == good);
    if (ok)
        FUZZ_CHECK((uint64_t)v == want);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    char *s = fuzz_strndup(data + 1, size - 1);
    switch (sel % 9) {
    case 0:
        check_cpr_header(s);
        break;
    case 1:
        check_purpose(s);
        break;
    case 2:
        check_long(s, (uint8_t)(sel / 9));
        break;
    case 3:
        check_cursor(s);
        break;
    case 4:
        check_u64(s);
        break;
    case 5:
        check_dates(s, false);
        break;
    case 6:
        check_dates(s, true);
        break;
    case 7:
        check_insight_cursor(s);
        break;
    default: {
        const struct dfdg_type *t = dfdg_catalog_find(cat, s);
        FUZZ_CHECK(t == NULL || strcmp(t->code, s) == 0);
        break;
    }
    }
    free(s);
    return 0;
}
