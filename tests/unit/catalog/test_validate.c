/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_validate.c: record validation against a small in-memory catalog: a good record and
 * what it yields, every error code, reversed dates, the wrong subject key, fields restricted to
 * a reporter kind (and STAR), modulus 11 not required, no CPR number in any message, the error
 * cap and the cleanliness of error entries.
 */
#include "core/dfdg.h"
#include "catalog/catalog.h"
#include "core/cpr.h"
#include "core/when.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

/* 01-01-1990, serial 1234: a real date, and the old modulus-11 check fails (sum 84). */
#define CPR_NO_MOD11 "0101901234"
/* 31 February does not exist. */
#define CPR_BAD "3102901234"
#define CVR_GOOD "10150817"

static const char *const type_names[] = {"thing.json", "firm.json"};
static const char *const type_texts[] = {
    "{\"code\": \"thing\", \"chapters\": [6], \"name\": {\"da\": \"Ting\", \"en\": \"Thing\"},"
    " \"subject\": \"person\", \"reporters\": [\"kommune\", \"akasse\", \"citizen\"],"
    " \"recipients\": [{\"kind\": \"kommune\", \"via\": \"residence\"}],"
    " \"sensitive\": false, \"legal_basis\": [\"x\"], \"jobnet_visible\": true,"
    " \"retention_years\": 10, \"fields\": ["
    " {\"name\": \"start_date\", \"type\": \"date\", \"required\": true},"
    " {\"name\": \"note\", \"type\": \"string\", \"max_length\": 10},"
    " {\"name\": \"text\", \"type\": \"string\"},"
    " {\"name\": \"count\", \"type\": \"int\", \"min\": 0, \"max\": 10},"
    " {\"name\": \"amount\", \"type\": \"decimal\", \"min\": 0},"
    " {\"name\": \"flag\", \"type\": \"bool\"},"
    " {\"name\": \"reason\", \"type\": \"enum\", \"values\": [\"S\", \"K\", \"E\", \"U\", \"A\","
    "   \"F\", \"O\", \"B\", \"D\", \"X\", \"Y\", \"Z\"]},"
    " {\"name\": \"other\", \"type\": \"cpr\"},"
    " {\"name\": \"employer\", \"type\": \"cvr\"},"
    " {\"name\": \"category\", \"type\": \"enum\", \"values\": [\"1\", \"2\"], \"required\": true,"
    "  \"reporters\": [\"kommune\"]}]}",
    "{\"code\": \"firm\", \"chapters\": [32], \"name\": {\"da\": \"Firma\", \"en\": \"Firm\"},"
    " \"subject\": \"company\", \"reporters\": [\"kommune\"], \"recipients\": [],"
    " \"sensitive\": false, \"legal_basis\": [\"x\"], \"jobnet_visible\": false,"
    " \"retention_years\": 5, \"fields\": [{\"name\": \"name\", \"type\": \"string\","
    " \"required\": true}]}",
};

static struct dfdg_catalog *cat;

static int
setup(void **state)
{
    (void)state;
    struct dfdg_errinfo ei = {{0}, {0}};
    if (dfdg_catalog_load_mem(type_names, type_texts, 2, &cat, &ei) != DFDG_OK) {
        fprintf(stderr, "test catalog: %s\n", ei.msg);
        return -1;
    }
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    dfdg_catalog_free(cat);
    cat = NULL;
    return 0;
}

static json_t *
parse(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (j == NULL)
        fail_msg("test JSON does not parse (%s): %s", err.text, text);
    return j;
}

/* The record envelope around a data object; the envelope extra goes before "data". */
#define REC_T(type, subj, extra, data)                                                             \
    "{\"type\": \"" type "\", " subj                                                               \
    ", \"source_ref\": \"r-1\", \"valid_from\": \"2026-03-02\"" extra ", \"data\": {" data "}}"
#define REC(extra, data) REC_T("thing", "\"cpr\": \"" CPR_NO_MOD11 "\"", extra, data)
#define GOOD_DATA "\"start_date\": \"2026-03-02\", \"category\": \"1\""

static bool
has_error(const struct dfdg_verrors *ve, const char *field, const char *code)
{
    for (size_t i = 0; i < ve->n; i++)
        if (strcmp(ve->e[i].field, field) == 0 && strcmp(ve->e[i].code, code) == 0)
            return true;
    return false;
}

static void
dump_errors(const struct dfdg_verrors *ve)
{
    for (size_t i = 0; i < ve->n; i++)
        fprintf(stderr, "  %s [%s] %s\n", ve->e[i].field, ve->e[i].code, ve->e[i].message);
}

/* No message, field or code may contain a CPR number (whole, or its date part). */
static void
assert_no_cpr(const struct dfdg_verrors *ve)
{
    static const char *const needles[] = {CPR_NO_MOD11, CPR_BAD, "010190", "310290"};
    for (size_t i = 0; i < ve->n; i++)
        for (size_t j = 0; j < DFDG_ARRAY_LEN(needles); j++)
            if (strstr(ve->e[i].message, needles[j]) || strstr(ve->e[i].field, needles[j]))
                fail_msg("error %zu echoes a CPR number: %s", i, ve->e[i].message);
}

/* Validates text; expects DFDG_INVAL with an error {field, code} and an untouched OUT. */
static void
expect_error(const char *text, enum dfdg_org_kind reporter, const char *field, const char *code)
{
    json_t *body = parse(text);
    struct dfdg_verrors ve;
    struct dfdg_record_in out, before;
    memset(&out, 0xAB, sizeof out);
    memcpy(&before, &out, sizeof out);
    dfdg_err rc = dfdg_catalog_validate_record(cat, body, reporter, &out, &ve);
    if (rc != DFDG_INVAL || !has_error(&ve, field, code)) {
        dump_errors(&ve);
        fail_msg("expected %s/%s (rc %s) for %s", field, code, dfdg_err_name(rc), text);
    }
    assert_memory_equal(&out, &before, sizeof out);
    for (size_t i = 0; i < ve.n; i++) {
        assert_true(ve.e[i].message[0] != '\0');
        assert_true(ve.e[i].code[0] != '\0');
    }
    assert_no_cpr(&ve);
    json_decref(body);
}

static void
expect_ok(const char *text, enum dfdg_org_kind reporter)
{
    json_t *body = parse(text);
    struct dfdg_verrors ve;
    struct dfdg_record_in out;
    dfdg_err rc = dfdg_catalog_validate_record(cat, body, reporter, &out, &ve);
    if (rc != DFDG_OK) {
        dump_errors(&ve);
        fail_msg("expected OK for %s", text);
    }
    assert_int_equal(ve.n, 0);
    json_decref(body);
}

static void
test_good_record(void **state)
{
    (void)state;
    json_t *body = parse(REC(", \"valid_to\": \"2026-12-31\"",
                             GOOD_DATA ", \"note\": \"0123456789\", \"count\": 10,"
                                       " \"amount\": 0, \"flag\": false, \"reason\": \"Z\","
                                       " \"other\": \"010190-1234\", \"employer\": \"" CVR_GOOD
                                       "\", \"text\": \"line\\nnext\\tcol\""));
    struct dfdg_verrors ve;
    struct dfdg_record_in out;
    assert_int_equal(dfdg_catalog_validate_record(cat, body, DFDG_KIND_KOMMUNE, &out, &ve),
                     DFDG_OK);
    assert_int_equal(ve.n, 0);
    assert_ptr_equal(out.type, dfdg_catalog_find(cat, "thing"));
    assert_string_equal(out.cpr.digits, CPR_NO_MOD11);
    assert_int_equal(out.cpr.birthdate, dfdg_date_from_ymd(1990, 1, 1));
    assert_ptr_equal(out.source_ref, json_string_value(json_object_get(body, "source_ref")));
    assert_string_equal(out.source_ref, "r-1");
    assert_int_equal(out.valid_from, dfdg_date_from_ymd(2026, 3, 2));
    assert_int_equal(out.valid_to, dfdg_date_from_ymd(2026, 12, 31));
    assert_ptr_equal(out.data, json_object_get(body, "data"));
    json_decref(body);

    /* Open end: no valid_to, or null, is DFDG_DATE_NONE; a one-day period is fine. */
    body = parse(REC(", \"valid_to\": null", GOOD_DATA));
    assert_int_equal(dfdg_catalog_validate_record(cat, body, DFDG_KIND_KOMMUNE, &out, &ve),
                     DFDG_OK);
    assert_int_equal(out.valid_to, DFDG_DATE_NONE);
    json_decref(body);
    expect_ok(REC(", \"valid_to\": \"2026-03-02\"", GOOD_DATA), DFDG_KIND_KOMMUNE);
    /* Optional fields may be null. */
    expect_ok(REC("", GOOD_DATA ", \"note\": null, \"count\": null"), DFDG_KIND_KOMMUNE);
    /* Decimals accept integers; characters, not bytes, count for max_length. */
    expect_ok(REC("", GOOD_DATA ", \"amount\": 2, \"note\": \"æøåæøåæøåæ\""), DFDG_KIND_KOMMUNE);
}

/* Since 2007 CPR numbers without modulus 11 are issued; they must be accepted. */
static void
test_cpr_without_mod11(void **state)
{
    (void)state;
    assert_false(dfdg_cpr_has_mod11(CPR_NO_MOD11));
    expect_ok(REC("", GOOD_DATA ", \"other\": \"" CPR_NO_MOD11 "\""), DFDG_KIND_KOMMUNE);
}

static void
test_company_record(void **state)
{
    (void)state;
    json_t *body =
        parse(REC_T("firm", "\"cvr\": \"" CVR_GOOD "\", \"cpr\": null", "", "\"name\": \"A/S\""));
    struct dfdg_verrors ve;
    struct dfdg_record_in out;
    assert_int_equal(dfdg_catalog_validate_record(cat, body, DFDG_KIND_KOMMUNE, &out, &ve),
                     DFDG_OK);
    assert_string_equal(out.cvr, CVR_GOOD);
    assert_string_equal(out.type->code, "firm");
    json_decref(body);

    expect_error(REC_T("firm", "\"cpr\": \"" CPR_NO_MOD11 "\"", "", "\"name\": \"A/S\""),
                 DFDG_KIND_KOMMUNE, "cpr", "unexpected");
    expect_error(REC_T("firm", "\"cpr\": \"" CPR_NO_MOD11 "\"", "", "\"name\": \"A/S\""),
                 DFDG_KIND_KOMMUNE, "cvr", "required");
    expect_error(REC_T("firm", "\"cvr\": \"10150818\"", "", "\"name\": \"A/S\""), DFDG_KIND_KOMMUNE,
                 "cvr", "type");
}

struct error_case {
    const char *body;
    enum dfdg_org_kind reporter;
    const char *field;
    const char *code;
};

static const struct error_case error_cases[] = {
    /* envelope */
    {REC(", \"colour\": 1", GOOD_DATA), DFDG_KIND_KOMMUNE, "colour", "unknown"},
    {"{\"cpr\": \"" CPR_NO_MOD11 "\", \"source_ref\": \"r\", \"valid_from\": \"2026-01-01\","
     " \"data\": {}}",
     DFDG_KIND_KOMMUNE, "type", "required"},
    {REC_T("nope", "\"cpr\": \"" CPR_NO_MOD11 "\"", "", GOOD_DATA), DFDG_KIND_KOMMUNE, "type",
     "unknown_type"},
    {"{\"type\": 7, \"cpr\": \"" CPR_NO_MOD11 "\", \"source_ref\": \"r\","
     " \"valid_from\": \"2026-01-01\", \"data\": {}}",
     DFDG_KIND_KOMMUNE, "type", "type"},
    {REC_T("thing", "\"cvr\": \"" CVR_GOOD "\"", "", GOOD_DATA), DFDG_KIND_KOMMUNE, "cpr",
     "required"},
    {REC_T("thing", "\"cvr\": \"" CVR_GOOD "\"", "", GOOD_DATA), DFDG_KIND_KOMMUNE, "cvr",
     "unexpected"},
    {REC_T("thing", "\"cpr\": \"" CPR_BAD "\"", "", GOOD_DATA), DFDG_KIND_KOMMUNE, "cpr", "type"},
    {REC_T("thing", "\"cpr\": 101901234", "", GOOD_DATA), DFDG_KIND_KOMMUNE, "cpr", "type"},
    {REC_T("thing", "\"cpr\": \"0000000000\"", "", GOOD_DATA), DFDG_KIND_KOMMUNE, "cpr", "type"},
    {"{\"type\": \"thing\", \"cpr\": \"" CPR_NO_MOD11 "\", \"valid_from\": \"2026-01-01\","
     " \"data\": {" GOOD_DATA "}}",
     DFDG_KIND_KOMMUNE, "source_ref", "required"},
    {"{\"type\": \"thing\", \"cpr\": \"" CPR_NO_MOD11 "\", \"source_ref\": \"\","
     " \"valid_from\": \"2026-01-01\", \"data\": {" GOOD_DATA "}}",
     DFDG_KIND_KOMMUNE, "source_ref", "required"},
    {"{\"type\": \"thing\", \"cpr\": \"" CPR_NO_MOD11 "\", \"source_ref\": 12,"
     " \"valid_from\": \"2026-01-01\", \"data\": {" GOOD_DATA "}}",
     DFDG_KIND_KOMMUNE, "source_ref", "type"},
    {"{\"type\": \"thing\", \"cpr\": \"" CPR_NO_MOD11 "\", \"source_ref\": \"a\\u0001b\","
     " \"valid_from\": \"2026-01-01\", \"data\": {" GOOD_DATA "}}",
     DFDG_KIND_KOMMUNE, "source_ref", "type"},
    {"{\"type\": \"thing\", \"cpr\": \"" CPR_NO_MOD11 "\", \"source_ref\": \"r\","
     " \"data\": {" GOOD_DATA "}}",
     DFDG_KIND_KOMMUNE, "valid_from", "required"},
    {"{\"type\": \"thing\", \"cpr\": \"" CPR_NO_MOD11 "\", \"source_ref\": \"r\","
     " \"valid_from\": \"2026-02-30\", \"data\": {" GOOD_DATA "}}",
     DFDG_KIND_KOMMUNE, "valid_from", "type"},
    {REC(", \"valid_to\": \"31-12-2026\"", GOOD_DATA), DFDG_KIND_KOMMUNE, "valid_to", "type"},
    {REC(", \"valid_to\": \"2026-03-01\"", GOOD_DATA), DFDG_KIND_KOMMUNE, "valid_to", "range"},
    {"{\"type\": \"thing\", \"cpr\": \"" CPR_NO_MOD11 "\", \"source_ref\": \"r\","
     " \"valid_from\": \"2026-01-01\"}",
     DFDG_KIND_KOMMUNE, "data", "required"},
    {"{\"type\": \"thing\", \"cpr\": \"" CPR_NO_MOD11 "\", \"source_ref\": \"r\","
     " \"valid_from\": \"2026-01-01\", \"data\": [1]}",
     DFDG_KIND_KOMMUNE, "data", "type"},
    {"[1, 2]", DFDG_KIND_KOMMUNE, "", "type"},
    /* data */
    {REC("", "\"category\": \"1\""), DFDG_KIND_KOMMUNE, "data.start_date", "required"},
    {REC("", "\"start_date\": null, \"category\": \"1\""), DFDG_KIND_KOMMUNE, "data.start_date",
     "required"},
    {REC("", "\"start_date\": \"2026-03-02\""), DFDG_KIND_KOMMUNE, "data.category", "required"},
    {REC("", "\"start_date\": \"2023-02-29\", \"category\": \"1\""), DFDG_KIND_KOMMUNE,
     "data.start_date", "type"},
    {REC("", GOOD_DATA ", \"note\": \"0123456789A\""), DFDG_KIND_KOMMUNE, "data.note",
     "max_length"},
    {REC("", GOOD_DATA ", \"note\": 5"), DFDG_KIND_KOMMUNE, "data.note", "type"},
    {REC("", GOOD_DATA ", \"text\": \"bell\\u0007\""), DFDG_KIND_KOMMUNE, "data.text", "type"},
    {REC("", GOOD_DATA ", \"text\": \"cr\\r\""), DFDG_KIND_KOMMUNE, "data.text", "type"},
    {REC("", GOOD_DATA ", \"count\": 11"), DFDG_KIND_KOMMUNE, "data.count", "range"},
    {REC("", GOOD_DATA ", \"count\": -1"), DFDG_KIND_KOMMUNE, "data.count", "range"},
    {REC("", GOOD_DATA ", \"count\": 1.5"), DFDG_KIND_KOMMUNE, "data.count", "type"},
    {REC("", GOOD_DATA ", \"count\": \"3\""), DFDG_KIND_KOMMUNE, "data.count", "type"},
    {REC("", GOOD_DATA ", \"amount\": -0.5"), DFDG_KIND_KOMMUNE, "data.amount", "range"},
    {REC("", GOOD_DATA ", \"amount\": \"1.5\""), DFDG_KIND_KOMMUNE, "data.amount", "type"},
    {REC("", GOOD_DATA ", \"flag\": \"true\""), DFDG_KIND_KOMMUNE, "data.flag", "type"},
    {REC("", GOOD_DATA ", \"reason\": \"Q\""), DFDG_KIND_KOMMUNE, "data.reason", "enum"},
    {REC("", GOOD_DATA ", \"reason\": 1"), DFDG_KIND_KOMMUNE, "data.reason", "enum"},
    {REC("", GOOD_DATA ", \"other\": \"" CPR_BAD "\""), DFDG_KIND_KOMMUNE, "data.other", "type"},
    {REC("", GOOD_DATA ", \"employer\": \"10150818\""), DFDG_KIND_KOMMUNE, "data.employer", "type"},
    {REC("", GOOD_DATA ", \"bogus\": 1"), DFDG_KIND_KOMMUNE, "data.bogus", "unknown"},
    {REC("", GOOD_DATA), DFDG_KIND_AKASSE, "data.category", "forbidden_field"},
    {REC("", GOOD_DATA), DFDG_KIND_CITIZEN, "data.category", "forbidden_field"},
};

static void
test_error_codes(void **state)
{
    (void)state;
    for (size_t i = 0; i < DFDG_ARRAY_LEN(error_cases); i++)
        expect_error(error_cases[i].body, error_cases[i].reporter, error_cases[i].field,
                     error_cases[i].code);
}

static void
test_long_values(void **state)
{
    (void)state;
    /* source_ref: 128 bytes fine, 129 not. */
    char ref[200], text[400];
    memset(ref, 'r', 128);
    ref[128] = '\0';
    snprintf(text, sizeof text,
             "{\"type\": \"thing\", \"cpr\": \"" CPR_NO_MOD11 "\", \"source_ref\": \"%s\","
             " \"valid_from\": \"2026-01-01\", \"data\": {" GOOD_DATA "}}",
             ref);
    expect_ok(text, DFDG_KIND_KOMMUNE);
    ref[128] = 'r';
    ref[129] = '\0';
    snprintf(text, sizeof text,
             "{\"type\": \"thing\", \"cpr\": \"" CPR_NO_MOD11 "\", \"source_ref\": \"%s\","
             " \"valid_from\": \"2026-01-01\", \"data\": {" GOOD_DATA "}}",
             ref);
    expect_error(text, DFDG_KIND_KOMMUNE, "source_ref", "max_length");

    /* A string field without max_length is capped at 4000 characters. */
    json_t *body = parse(REC("", GOOD_DATA));
    json_t *data = json_object_get(body, "data");
    char *big = malloc(4002);
    assert_non_null(big);
    memset(big, 'x', 4000);
    big[4000] = '\0';
    json_object_set_new(data, "text", json_string(big));
    struct dfdg_verrors ve;
    struct dfdg_record_in out;
    assert_int_equal(dfdg_catalog_validate_record(cat, body, DFDG_KIND_KOMMUNE, &out, &ve),
                     DFDG_OK);
    big[4000] = 'x';
    big[4001] = '\0';
    json_object_set_new(data, "text", json_string(big));
    assert_int_equal(dfdg_catalog_validate_record(cat, body, DFDG_KIND_KOMMUNE, &out, &ve),
                     DFDG_INVAL);
    assert_true(has_error(&ve, "data.text", "max_length"));
    free(big);
    json_decref(body);
}

/* An unknown type is reported together with the other envelope problems, data unchecked. */
static void
test_unknown_type_keeps_checking(void **state)
{
    (void)state;
    json_t *body = parse("{\"type\": \"nope\", \"cpr\": \"" CPR_BAD "\", \"valid_from\": "
                         "\"2026-01-01\", \"valid_to\": \"2025-01-01\", \"extra\": true,"
                         " \"data\": {\"whatever\": 1}}");
    struct dfdg_verrors ve;
    assert_int_equal(dfdg_catalog_validate_record(cat, body, DFDG_KIND_KOMMUNE, NULL, &ve),
                     DFDG_INVAL);
    assert_true(has_error(&ve, "type", "unknown_type"));
    assert_true(has_error(&ve, "cpr", "type"));
    assert_true(has_error(&ve, "source_ref", "required"));
    assert_true(has_error(&ve, "valid_to", "range"));
    assert_true(has_error(&ve, "extra", "unknown"));
    assert_false(has_error(&ve, "data.whatever", "unknown"));
    assert_int_equal(ve.n, 5);
    assert_no_cpr(&ve);
    json_decref(body);
}

/* Field restrictions: akasse and citizen may not set a kommune-only field; STAR may. */
static void
test_reporter_restrictions(void **state)
{
    (void)state;
    /* Not required of a reporter kind that may not set it. */
    expect_ok(REC("", "\"start_date\": \"2026-03-02\""), DFDG_KIND_AKASSE);
    expect_ok(REC("", "\"start_date\": \"2026-03-02\", \"category\": null"), DFDG_KIND_AKASSE);
    expect_ok(REC("", GOOD_DATA), DFDG_KIND_KOMMUNE);
    expect_ok(REC("", GOOD_DATA), DFDG_KIND_STAR);

    json_t *body = parse(REC("", GOOD_DATA));
    struct dfdg_verrors ve;
    assert_int_equal(dfdg_catalog_validate_record(cat, body, DFDG_KIND_AKASSE, NULL, &ve),
                     DFDG_INVAL);
    assert_int_equal(ve.n, 1);
    assert_string_equal(ve.e[0].code, "forbidden_field");
    assert_non_null(strstr(ve.e[0].message, "akasse"));
    json_decref(body);
}

static void
test_messages(void **state)
{
    (void)state;
    json_t *body = parse(REC_T("thing", "\"cpr\": \"" CPR_BAD "\"", "",
                               GOOD_DATA ", \"reason\": \"Q\", \"other\": \"" CPR_BAD "\","
                                         " \"count\": 99"));
    struct dfdg_verrors ve;
    assert_int_equal(dfdg_catalog_validate_record(cat, body, DFDG_KIND_KOMMUNE, NULL, &ve),
                     DFDG_INVAL);
    assert_int_equal(ve.n, 4);
    assert_no_cpr(&ve);
    for (size_t i = 0; i < ve.n; i++) {
        const char *m = ve.e[i].message;
        if (strcmp(ve.e[i].field, "cpr") == 0)
            assert_non_null(strstr(m, "cpr is not a valid CPR number: "));
        if (strcmp(ve.e[i].code, "enum") == 0) {
            /* Up to ten allowed values, then an ellipsis. */
            assert_non_null(strstr(m, "S, K, E, U, A, F, O, B, D, X, ..."));
            assert_null(strstr(m, "Z"));
        }
        if (strcmp(ve.e[i].code, "range") == 0)
            assert_non_null(strstr(m, "between 0 and 10"));
        assert_true(strlen(m) > 10);
    }
    json_decref(body);
}

/* Past DFDG_VERR_MAX problems the list is full and the record still invalid. */
static void
test_error_cap(void **state)
{
    (void)state;
    json_t *body = parse(REC("", GOOD_DATA));
    json_t *data = json_object_get(body, "data");
    for (int i = 0; i < 40; i++) {
        char key[32];
        snprintf(key, sizeof key, "junk_%d", i);
        json_object_set_new(data, key, json_integer(i));
    }
    struct dfdg_verrors ve;
    assert_int_equal(dfdg_catalog_validate_record(cat, body, DFDG_KIND_KOMMUNE, NULL, &ve),
                     DFDG_INVAL);
    assert_int_equal(ve.n, DFDG_VERR_MAX);
    json_decref(body);
}

static void
test_validate_data(void **state)
{
    (void)state;
    const struct dfdg_type *t = dfdg_catalog_find(cat, "thing");
    assert_non_null(t);
    struct dfdg_verrors ve = {0};
    dfdg_verrors_add(&ve, "earlier", "x", "An earlier problem.");
    json_t *good = parse("{" GOOD_DATA "}");
    json_t *bad = parse("{\"category\": \"3\"}");
    assert_int_equal(dfdg_catalog_validate_data(t, good, DFDG_KIND_KOMMUNE, &ve), DFDG_OK);
    assert_int_equal(ve.n, 1);
    assert_int_equal(dfdg_catalog_validate_data(t, bad, DFDG_KIND_KOMMUNE, &ve), DFDG_INVAL);
    assert_int_equal(ve.n, 3);
    assert_string_equal(ve.e[0].field, "earlier");
    assert_true(has_error(&ve, "data.start_date", "required"));
    assert_true(has_error(&ve, "data.category", "enum"));
    assert_int_equal(dfdg_catalog_validate_data(t, bad, DFDG_KIND_AKASSE, &ve), DFDG_INVAL);
    assert_true(has_error(&ve, "data.category", "forbidden_field"));
    assert_int_equal(dfdg_catalog_validate_data(NULL, good, DFDG_KIND_KOMMUNE, &ve), DFDG_INVAL);
    assert_int_equal(dfdg_catalog_validate_data(t, NULL, DFDG_KIND_KOMMUNE, &ve), DFDG_INVAL);
    /* A full list still reports invalid data. */
    ve.n = DFDG_VERR_MAX;
    assert_int_equal(dfdg_catalog_validate_data(t, bad, DFDG_KIND_KOMMUNE, &ve), DFDG_INVAL);
    assert_int_equal(ve.n, DFDG_VERR_MAX);
    json_decref(good);
    json_decref(bad);
}

/* Entries are clean: control characters replaced, UTF-8 never cut inside a character. */
static void
test_verrors_add(void **state)
{
    (void)state;
    struct dfdg_verrors ve = {0};
    char longkey[400] = "";
    for (int i = 0; i < 150; i++)
        memcpy(longkey + 2 * i, "\xc3\xb8", 3); /* "ø" */
    dfdg_verrors_add(&ve, longkey, "unknown",
                     "a\x01"
                     "b %d",
                     7);
    assert_int_equal(ve.n, 1);
    assert_true(strlen(ve.e[0].field) < sizeof ve.e[0].field);
    assert_int_equal(strlen(ve.e[0].field) % 2, 0);
    json_t *s = json_string(ve.e[0].field);
    assert_non_null(s);
    json_decref(s);
    assert_string_equal(ve.e[0].message, "a?b 7");
    dfdg_verrors_add(NULL, "x", "y", "ignored");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_record),
        cmocka_unit_test(test_cpr_without_mod11),
        cmocka_unit_test(test_company_record),
        cmocka_unit_test(test_error_codes),
        cmocka_unit_test(test_long_values),
        cmocka_unit_test(test_unknown_type_keeps_checking),
        cmocka_unit_test(test_reporter_restrictions),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_error_cap),
        cmocka_unit_test(test_validate_data),
        cmocka_unit_test(test_verrors_add),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
