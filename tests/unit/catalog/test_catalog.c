/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_catalog.c: loading the catalog: the real catalog/types folder and the builtin copy,
 * a folder with stray files, the public JSON form (defaults explicit, sorted), the lookups,
 * and a table of broken catalogs that must each fail with a message naming file and entry.
 */
#include "core/dfdg.h"
#include "catalog/catalog.h"
#include "core/builtin.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

/* A valid type file whose code is `code` (the file must be named <code>.json). */
#define GOOD_TYPE(code)                                                                            \
    "{\"code\": \"" code "\", \"chapters\": [16], \"origin\": \"bek\","                            \
    " \"name\": {\"da\": \"Medlemskab\", \"en\": \"Membership\"},"                                 \
    " \"subject\": \"person\", \"reporters\": [\"akasse\", \"kommune\"],"                          \
    " \"recipients\": [{\"kind\": \"kommune\", \"via\": \"residence\"},"                           \
    "                  {\"kind\": \"dst\", \"via\": \"all\"}],"                                    \
    " \"sensitive\": false, \"legal_basis\": [\"BEK 1 kap. 16\"], \"jobnet_visible\": true,"       \
    " \"retention_years\": 10,"                                                                    \
    " \"fields\": [{\"name\": \"start_date\", \"type\": \"date\", \"required\": true},"            \
    "   {\"name\": \"reason\", \"type\": \"enum\", \"values\": [\"S\", \"K\"],"                    \
    "    \"labels\": {\"S\": {\"da\": \"Slut\", \"en\": \"End\"}}},"                               \
    "   {\"name\": \"note\", \"type\": \"string\", \"max_length\": 20,"                            \
    "    \"reporters\": [\"kommune\"]},"                                                           \
    "   {\"name\": \"hours\", \"type\": \"decimal\", \"min\": 0, \"max\": 37.5}]}"

static void
test_org_kinds(void **state)
{
    (void)state;
    enum dfdg_org_kind k;
    for (int i = 0; i < DFDG_KIND__COUNT; i++) {
        const char *name = dfdg_org_kind_name((enum dfdg_org_kind)i);
        assert_non_null(name);
        assert_int_equal(dfdg_org_kind_parse(name, &k), DFDG_OK);
        assert_int_equal(k, i);
    }
    assert_string_equal(dfdg_org_kind_name(DFDG_KIND_AKTOER), "aktoer");
    assert_null(dfdg_org_kind_name(DFDG_KIND__COUNT));
    assert_int_equal(dfdg_org_kind_parse("Kommune", &k), DFDG_INVAL);
    assert_int_equal(dfdg_org_kind_parse("", &k), DFDG_INVAL);
    assert_int_equal(dfdg_org_kind_parse(NULL, &k), DFDG_INVAL);
}

static void
test_load_mem_good(void **state)
{
    (void)state;
    const char *names[] = {"zeta.json", "akasse-membership.json"};
    const char *texts[] = {GOOD_TYPE("zeta"), GOOD_TYPE("akasse-membership")};
    struct dfdg_catalog *cat = NULL;
    struct dfdg_errinfo ei = {{0}, {0}};
    assert_int_equal(dfdg_catalog_load_mem(names, texts, 2, &cat, &ei), DFDG_OK);
    assert_non_null(cat);
    assert_int_equal(cat->ntypes, 2);
    /* Sorted by code, whatever the file order. */
    assert_string_equal(cat->types[0].code, "akasse-membership");
    assert_string_equal(cat->types[1].code, "zeta");
    assert_string_equal(cat->types[0].file, "akasse-membership.json");

    const struct dfdg_type *t = dfdg_catalog_find(cat, "zeta");
    assert_ptr_equal(t, &cat->types[1]);
    assert_ptr_equal(dfdg_catalog_find(cat, "akasse-membership"), &cat->types[0]);
    assert_null(dfdg_catalog_find(cat, "nope"));
    assert_null(dfdg_catalog_find(cat, ""));
    assert_null(dfdg_catalog_find(NULL, "zeta"));

    assert_int_equal(t->subject, DFDG_SUBJECT_PERSON);
    assert_int_equal(t->reporters,
                     DFDG_KIND_BIT(DFDG_KIND_AKASSE) | DFDG_KIND_BIT(DFDG_KIND_KOMMUNE));
    assert_true(dfdg_type_has_reporter(t, DFDG_KIND_AKASSE));
    assert_true(dfdg_type_has_reporter(t, DFDG_KIND_STAR));
    assert_false(dfdg_type_has_reporter(t, DFDG_KIND_CITIZEN));
    assert_false(dfdg_type_has_reporter(t, DFDG_KIND_DST));
    assert_false(dfdg_type_has_reporter(NULL, DFDG_KIND_STAR));
    assert_int_equal(t->nrecipients, 2);
    assert_int_equal(t->recipients[0].kind, DFDG_KIND_KOMMUNE);
    assert_int_equal(t->recipients[0].via, DFDG_VIA_RESIDENCE);
    assert_int_equal(t->recipients[1].kind, DFDG_KIND_DST);
    assert_int_equal(t->recipients[1].via, DFDG_VIA_ALL);
    assert_false(t->sensitive);
    assert_true(t->jobnet_visible);
    assert_int_equal(t->retention_years, 10);

    assert_int_equal(t->nfields, 4);
    assert_string_equal(t->fields[0].name, "start_date");
    assert_int_equal(t->fields[0].type, DFDG_FT_DATE);
    assert_true(t->fields[0].required);
    assert_int_equal(t->fields[1].type, DFDG_FT_ENUM);
    assert_false(t->fields[1].required);
    assert_int_equal(t->fields[1].nvalues, 2);
    assert_string_equal(t->fields[1].values[1], "K");
    assert_int_equal(t->fields[2].max_length, 20);
    assert_int_equal(t->fields[2].reporters, DFDG_KIND_BIT(DFDG_KIND_KOMMUNE));
    assert_int_equal(t->fields[1].reporters, 0);
    assert_true(t->fields[3].has_min);
    assert_true(t->fields[3].has_max);
    assert_true(t->fields[3].min == 0.0);
    assert_true(t->fields[3].max == 37.5);

    /* The public form: every field says whether it is required, even when the file did not. */
    json_t *fields = json_object_get(t->json, "fields");
    assert_int_equal(json_array_size(fields), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *f = json_array_get(fields, i);
        assert_true(json_is_boolean(json_object_get(f, "required")));
        assert_true(json_is_string(json_object_get(f, "name")));
        assert_true(json_is_string(json_object_get(f, "type")));
    }
    assert_true(json_is_false(json_object_get(json_array_get(fields, 1), "required")));
    assert_true(json_is_true(json_object_get(json_array_get(fields, 0), "required")));
    assert_int_equal(json_array_size(json_object_get(json_array_get(fields, 1), "values")), 2);
    assert_string_equal(json_string_value(json_object_get(t->json, "code")), "zeta");
    assert_string_equal(json_string_value(json_object_get(json_object_get(t->json, "name"), "en")),
                        "Membership");

    /* {"types": [...]} in code order, the same objects. */
    json_t *types = json_object_get(cat->json, "types");
    assert_int_equal(json_array_size(types), 2);
    assert_ptr_equal(json_array_get(types, 0), cat->types[0].json);
    assert_string_equal(json_string_value(json_object_get(json_array_get(types, 1), "code")),
                        "zeta");
    char *dump = json_dumps(cat->json, JSON_COMPACT);
    assert_non_null(dump);
    assert_non_null(strstr(dump, "\"required\":false"));
    free(dump);
    dfdg_catalog_free(cat);
    dfdg_catalog_free(NULL);
}

/* Optional keys may be left out: a minimal company type with no recipients. */
static void
test_load_mem_minimal(void **state)
{
    (void)state;
    const char *names[] = {"catalog/types/company.json"};
    const char *texts[] = {
        "{\"code\": \"company\", \"chapters\": [], \"name\": {\"da\": \"V\", \"en\": \"C\"},"
        " \"subject\": \"company\", \"reporters\": [\"kommune\"], \"recipients\": [],"
        " \"sensitive\": false, \"legal_basis\": [\"x\"], \"jobnet_visible\": false,"
        " \"retention_years\": 1, \"fields\": [{\"name\": \"p_number\", \"type\": \"int\"}]}"};
    struct dfdg_catalog *cat = NULL;
    struct dfdg_errinfo ei = {{0}, {0}};
    assert_int_equal(dfdg_catalog_load_mem(names, texts, 1, &cat, &ei), DFDG_OK);
    assert_int_equal(cat->types[0].subject, DFDG_SUBJECT_COMPANY);
    assert_int_equal(cat->types[0].nrecipients, 0);
    assert_false(cat->types[0].fields[0].has_min);
    assert_true(json_is_false(json_object_get(
        json_array_get(json_object_get(cat->types[0].json, "fields"), 0), "required")));
    dfdg_catalog_free(cat);
}

struct broken {
    const char *what;  /* test case name */
    const char *text;  /* file content */
    const char *entry; /* text the message must contain besides the file name */
    const char *key;   /* expected ei.field, or NULL to skip */
};

#define BASE_HEAD                                                                                  \
    "{\"code\": \"foo\", \"chapters\": [9], \"name\": {\"da\": \"d\", \"en\": \"e\"},"             \
    " \"subject\": \"person\", \"reporters\": [\"kommune\"],"                                      \
    " \"sensitive\": false, \"legal_basis\": [\"x\"], \"jobnet_visible\": false,"                  \
    " \"retention_years\": 5, "
#define RECIPS " \"recipients\": [{\"kind\": \"kommune\", \"via\": \"residence\"}],"
#define ONE_FIELD(f) BASE_HEAD RECIPS " \"fields\": [" f "]}"

static const struct broken broken_cases[] = {
    {"bad json", "{\"code\": \"foo\",\n \"chapters\": [9,,]}", "line 2", ""},
    {"not an object", "[1, 2]", "object", ""},
    {"duplicate key", "{\"code\": \"foo\", \"code\": \"foo\"}", "duplicate", ""},
    {"unknown key", BASE_HEAD RECIPS " \"fields\": [], \"colour\": \"red\"}", "type 'foo'",
     "colour"},
    {"missing key", BASE_HEAD " \"fields\": []}", "type 'foo'", "recipients"},
    {"wrong JSON type", ONE_FIELD("{\"name\": \"bar\", \"type\": \"int\", \"required\": 1}"),
     "field 'bar'", "required"},
    {"unknown field type", ONE_FIELD("{\"name\": \"bar\", \"type\": \"strnig\"}"),
     "type 'foo': field 'bar': unknown field type 'strnig'", "type"},
    {"unknown field key", ONE_FIELD("{\"name\": \"bar\", \"type\": \"int\", \"maxx\": 3}"),
     "field 'bar'", "maxx"},
    {"enum without values", ONE_FIELD("{\"name\": \"bar\", \"type\": \"enum\"}"),
     "type 'foo': field 'bar'", "values"},
    {"enum with empty values", ONE_FIELD("{\"name\": \"bar\", \"type\": \"enum\", \"values\": []}"),
     "type 'foo': field 'bar'", "values"},
    {"enum duplicate value",
     ONE_FIELD("{\"name\": \"bar\", \"type\": \"enum\", \"values\": [\"A\", \"A\"]}"),
     "field 'bar'", "values"},
    {"values on a string",
     ONE_FIELD("{\"name\": \"bar\", \"type\": \"string\", \"values\": [\"A\"]}"), "field 'bar'",
     "values"},
    {"label not in values",
     ONE_FIELD("{\"name\": \"bar\", \"type\": \"enum\", \"values\": [\"A\"],"
               " \"labels\": {\"B\": {\"da\": \"b\", \"en\": \"b\"}}}"),
     "field 'bar'", "labels"},
    {"duplicate field",
     ONE_FIELD("{\"name\": \"bar\", \"type\": \"int\"}, {\"name\": \"bar\", \"type\": \"date\"}"),
     "type 'foo': field 'bar': duplicate", "name"},
    {"bad field name", ONE_FIELD("{\"name\": \"Bar\", \"type\": \"int\"}"), "field #1", "name"},
    {"max_length on int", ONE_FIELD("{\"name\": \"bar\", \"type\": \"int\", \"max_length\": 3}"),
     "field 'bar'", "max_length"},
    {"max_length zero", ONE_FIELD("{\"name\": \"bar\", \"type\": \"string\", \"max_length\": 0}"),
     "field 'bar'", "max_length"},
    {"min above max", ONE_FIELD("{\"name\": \"bar\", \"type\": \"int\", \"min\": 5, \"max\": 1}"),
     "field 'bar'", "min"},
    {"min on a date", ONE_FIELD("{\"name\": \"bar\", \"type\": \"date\", \"min\": 5}"),
     "field 'bar'", "min"},
    {"field reporter not a type reporter",
     ONE_FIELD("{\"name\": \"bar\", \"type\": \"int\", \"reporters\": [\"akasse\"]}"),
     "field 'bar'", "reporters"},
    {"bad via for kind",
     BASE_HEAD " \"recipients\": [{\"kind\": \"kommune\", \"via\": \"membership\"}],"
               " \"fields\": []}",
     "type 'foo': recipients[0]: recipient 'kommune' must have via 'residence'", "via"},
    {"unknown recipient kind",
     BASE_HEAD " \"recipients\": [{\"kind\": \"bank\", \"via\": \"all\"}], \"fields\": []}",
     "type 'foo'", "kind"},
    {"star as reporter",
     "{\"code\": \"foo\", \"chapters\": [9], \"name\": {\"da\": \"d\", \"en\": \"e\"},"
     " \"subject\": \"person\", \"reporters\": [\"star\"], \"sensitive\": false,"
     " \"legal_basis\": [\"x\"], \"jobnet_visible\": false, \"retention_years\": 5," RECIPS
     " \"fields\": []}",
     "type 'foo'", "reporters"},
    {"bad subject",
     "{\"code\": \"foo\", \"chapters\": [9], \"name\": {\"da\": \"d\", \"en\": \"e\"},"
     " \"subject\": \"animal\", \"reporters\": [\"kommune\"], \"sensitive\": false,"
     " \"legal_basis\": [\"x\"], \"jobnet_visible\": false, \"retention_years\": 5," RECIPS
     " \"fields\": []}",
     "type 'foo'", "subject"},
    {"empty legal basis",
     "{\"code\": \"foo\", \"chapters\": [9], \"name\": {\"da\": \"d\", \"en\": \"e\"},"
     " \"subject\": \"person\", \"reporters\": [\"kommune\"], \"sensitive\": false,"
     " \"legal_basis\": [], \"jobnet_visible\": false, \"retention_years\": 5," RECIPS
     " \"fields\": []}",
     "type 'foo'", "legal_basis"},
    {"retention out of range",
     "{\"code\": \"foo\", \"chapters\": [9], \"name\": {\"da\": \"d\", \"en\": \"e\"},"
     " \"subject\": \"person\", \"reporters\": [\"kommune\"], \"sensitive\": false,"
     " \"legal_basis\": [\"x\"], \"jobnet_visible\": false, \"retention_years\": 0," RECIPS
     " \"fields\": []}",
     "type 'foo'", "retention_years"},
    {"name without en",
     "{\"code\": \"foo\", \"chapters\": [9], \"name\": {\"da\": \"d\"},"
     " \"subject\": \"person\", \"reporters\": [\"kommune\"], \"sensitive\": false,"
     " \"legal_basis\": [\"x\"], \"jobnet_visible\": false, \"retention_years\": 5," RECIPS
     " \"fields\": []}",
     "type 'foo'", "en"},
    {"code not the file name",
     "{\"code\": \"bar\", \"chapters\": [9], \"name\": {\"da\": \"d\", \"en\": \"e\"},"
     " \"subject\": \"person\", \"reporters\": [\"kommune\"], \"sensitive\": false,"
     " \"legal_basis\": [\"x\"], \"jobnet_visible\": false, \"retention_years\": 5," RECIPS
     " \"fields\": []}",
     "type 'bar'", "code"},
    {"bad code characters",
     "{\"code\": \"Foo\", \"chapters\": [9], \"name\": {\"da\": \"d\", \"en\": \"e\"},"
     " \"subject\": \"person\", \"reporters\": [\"kommune\"], \"sensitive\": false,"
     " \"legal_basis\": [\"x\"], \"jobnet_visible\": false, \"retention_years\": 5," RECIPS
     " \"fields\": []}",
     "'Foo'", "code"},
};

static void
test_broken_catalogs(void **state)
{
    (void)state;
    const char *names[] = {"catalog/types/foo.json"};
    for (size_t i = 0; i < DFDG_ARRAY_LEN(broken_cases); i++) {
        const struct broken *b = &broken_cases[i];
        struct dfdg_catalog *cat = (struct dfdg_catalog *)&cat; /* must be reset to NULL */
        struct dfdg_errinfo ei = {{0}, {0}};
        const char *texts[] = {b->text};
        dfdg_err rc = dfdg_catalog_load_mem(names, texts, 1, &cat, &ei);
        if (rc != DFDG_CONFIG || strstr(ei.msg, "catalog/types/foo.json: ") != ei.msg ||
            strstr(ei.msg, b->entry) == NULL || (b->key && strcmp(ei.field, b->key) != 0))
            fail_msg("case '%s': rc %s, msg \"%s\", field \"%s\"", b->what, dfdg_err_name(rc),
                     ei.msg, ei.field);
        assert_null(cat);
    }
}

/* Two files that both say "foo" (possible from memory, or from two folders' copies). */
static void
test_duplicate_code(void **state)
{
    (void)state;
    const char *names[] = {"a/foo.json", "b/foo.json"};
    const char *texts[] = {GOOD_TYPE("foo"), GOOD_TYPE("foo")};
    struct dfdg_catalog *cat = NULL;
    struct dfdg_errinfo ei = {{0}, {0}};
    assert_int_equal(dfdg_catalog_load_mem(names, texts, 2, &cat, &ei), DFDG_CONFIG);
    assert_null(cat);
    assert_non_null(strstr(ei.msg, "type 'foo'"));
    assert_non_null(strstr(ei.msg, "duplicate code"));
    assert_non_null(strstr(ei.msg, "a/foo.json"));
    assert_non_null(strstr(ei.msg, "b/foo.json"));
    assert_string_equal(ei.field, "code");
}

/* A bad second file fails the whole catalog: nothing half-loaded comes back. */
static void
test_all_or_nothing(void **state)
{
    (void)state;
    const char *names[] = {"good.json", "other.json"};
    const char *texts[] = {GOOD_TYPE("good"), "{"};
    struct dfdg_catalog *cat = NULL;
    struct dfdg_errinfo ei = {{0}, {0}};
    assert_int_equal(dfdg_catalog_load_mem(names, texts, 2, &cat, &ei), DFDG_CONFIG);
    assert_null(cat);
    assert_non_null(strstr(ei.msg, "other.json: invalid JSON at line 1"));
    assert_int_equal(dfdg_catalog_load_mem(names, texts, 0, &cat, &ei), DFDG_CONFIG);
    assert_null(cat);
}

static void
write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void
make_dir(const char *path)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        fail_msg("mkdir %s: %s", path, strerror(errno));
}

static void
remove_file(const char *dir, const char *name)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

static void
test_load_dir(void **state)
{
    (void)state;
    char dir[512];
    make_dir(DFDG_TEST_TMP);
    snprintf(dir, sizeof dir, "%s/catalog-test-%ld", DFDG_TEST_TMP, (long)getpid());
    make_dir(dir);
    struct dfdg_catalog *cat = NULL;
    struct dfdg_errinfo ei = {{0}, {0}};

    /* An empty folder is a configuration error, not an empty catalog. */
    assert_int_equal(dfdg_catalog_load_dir(dir, &cat, &ei), DFDG_CONFIG);
    assert_null(cat);
    assert_non_null(strstr(ei.msg, dir));

    write_file(dir, "beta.json", GOOD_TYPE("beta"));
    write_file(dir, "alpha.json", GOOD_TYPE("alpha"));
    write_file(dir, "README.md", "not a type");
    write_file(dir, ".#alpha.json", "{ editor leftovers");
    write_file(dir, "alpha.json~", "{ backup");
    assert_int_equal(dfdg_catalog_load_dir(dir, &cat, &ei), DFDG_OK);
    assert_int_equal(cat->ntypes, 2);
    assert_string_equal(cat->types[0].code, "alpha");
    assert_non_null(strstr(cat->types[0].file, "/alpha.json"));
    dfdg_catalog_free(cat);

    /* A broken file is named by its path. */
    write_file(dir, "gamma.json", GOOD_TYPE("gamma2"));
    assert_int_equal(dfdg_catalog_load_dir(dir, &cat, &ei), DFDG_CONFIG);
    assert_null(cat);
    char want[600];
    snprintf(want, sizeof want, "%s/gamma.json: type 'gamma2'", dir);
    assert_non_null(strstr(ei.msg, want));

    remove_file(dir, "gamma.json");
    remove_file(dir, "beta.json");
    remove_file(dir, "alpha.json");
    remove_file(dir, "README.md");
    remove_file(dir, ".#alpha.json");
    remove_file(dir, "alpha.json~");
    rmdir(dir);

    assert_int_equal(dfdg_catalog_load_dir(dir, &cat, &ei), DFDG_CONFIG);
    assert_null(cat);
    assert_non_null(strstr(ei.msg, "cannot open"));
}

/* Every type in a loaded catalog has fields with a name and a type, in both forms. */
static void
check_catalog_shape(const struct dfdg_catalog *cat)
{
    json_t *types = json_object_get(cat->json, "types");
    assert_int_equal(json_array_size(types), cat->ntypes);
    for (size_t i = 0; i < cat->ntypes; i++) {
        const struct dfdg_type *t = &cat->types[i];
        if (i > 0)
            assert_true(strcmp(cat->types[i - 1].code, t->code) < 0);
        assert_ptr_equal(dfdg_catalog_find(cat, t->code), t);
        if (t->nfields == 0)
            fail_msg("type %s has no fields", t->code);
        json_t *fields = json_object_get(t->json, "fields");
        assert_int_equal(json_array_size(fields), t->nfields);
        for (size_t j = 0; j < t->nfields; j++) {
            json_t *f = json_array_get(fields, j);
            assert_string_equal(json_string_value(json_object_get(f, "name")), t->fields[j].name);
            assert_true(json_is_string(json_object_get(f, "type")));
            assert_true(json_is_boolean(json_object_get(f, "required")));
            if (t->fields[j].type == DFDG_FT_ENUM)
                assert_true(t->fields[j].nvalues > 0);
        }
    }
}

static void
test_real_catalog(void **state)
{
    (void)state;
    const char *dir = DFDG_SOURCE_DIR "/catalog/types";
    size_t n = 0;
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            size_t len = strlen(de->d_name);
            if (de->d_name[0] != '.' && len > 5 && strcmp(de->d_name + len - 5, ".json") == 0)
                n++;
        }
        closedir(d);
    }
    if (n == 0)
        skip();
    struct dfdg_catalog *cat = NULL;
    struct dfdg_errinfo ei = {{0}, {0}};
    dfdg_err rc = dfdg_catalog_load_dir(dir, &cat, &ei);
    if (rc != DFDG_OK)
        fail_msg("real catalog: %s (%s)", ei.msg, ei.field);
    assert_int_equal(cat->ntypes, n);
    check_catalog_shape(cat);
    dfdg_catalog_free(cat);
}

static void
test_builtin_catalog(void **state)
{
    (void)state;
    if (dfdg_builtin_catalog_count == 0)
        skip();
    struct dfdg_catalog *cat = NULL;
    struct dfdg_errinfo ei = {{0}, {0}};
    dfdg_err rc = dfdg_catalog_load_builtin(&cat, &ei);
    if (rc != DFDG_OK)
        fail_msg("builtin catalog: %s (%s)", ei.msg, ei.field);
    assert_int_equal(cat->ntypes, dfdg_builtin_catalog_count);
    assert_non_null(strstr(cat->types[0].file, "catalog/types/"));
    check_catalog_shape(cat);
    dfdg_catalog_free(cat);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_org_kinds),        cmocka_unit_test(test_load_mem_good),
        cmocka_unit_test(test_load_mem_minimal), cmocka_unit_test(test_broken_catalogs),
        cmocka_unit_test(test_duplicate_code),   cmocka_unit_test(test_all_or_nothing),
        cmocka_unit_test(test_load_dir),         cmocka_unit_test(test_real_catalog),
        cmocka_unit_test(test_builtin_catalog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
