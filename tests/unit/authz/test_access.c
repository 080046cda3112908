/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_access.c: the pure access rules: purposes per org kind, actors from token claims, the
 * read rule over the real catalog, and who gets protected addresses masked.
 */
#include "core/dfdg.h"
#include "authz/access.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

static struct dfdg_catalog *cat;

static int
setup(void **state)
{
    (void)state;
    return dfdg_catalog_load_builtin(&cat, NULL) == DFDG_OK ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    dfdg_catalog_free(cat);
    return 0;
}

static struct dfdg_actor
actor(const char *org, const char *cpr)
{
    struct dfdg_claims c = {0};
    dfdg_strlcpy(c.org, org, sizeof c.org);
    dfdg_strlcpy(c.sub, "u", sizeof c.sub);
    if (cpr != NULL)
        dfdg_strlcpy(c.cpr, cpr, sizeof c.cpr);
    struct dfdg_actor a;
    assert_int_equal(dfdg_actor_from_claims(&c, &a, NULL), DFDG_OK);
    return a;
}

static void
test_purposes(void **state)
{
    (void)state;
    enum dfdg_purpose p;
    assert_int_equal(dfdg_purpose_parse("case-handling", &p), DFDG_OK);
    assert_int_equal(p, DFDG_PURPOSE_CASE_HANDLING);
    assert_int_equal(dfdg_purpose_parse("Case-Handling", &p), DFDG_INVAL);
    assert_int_equal(dfdg_purpose_parse("", &p), DFDG_INVAL);
    /* An a-kasse may use case-handling and payment, not statistics (DESIGN section 4). */
    assert_true(dfdg_purpose_is_allowed(DFDG_KIND_AKASSE, DFDG_PURPOSE_CASE_HANDLING));
    assert_true(dfdg_purpose_is_allowed(DFDG_KIND_AKASSE, DFDG_PURPOSE_PAYMENT));
    assert_false(dfdg_purpose_is_allowed(DFDG_KIND_AKASSE, DFDG_PURPOSE_STATISTICS));
    assert_true(dfdg_purpose_is_allowed(DFDG_KIND_STAR, DFDG_PURPOSE_SUPERVISION));
    assert_false(dfdg_purpose_is_allowed(DFDG_KIND_STAR, DFDG_PURPOSE_SELF_SERVICE));
    assert_true(dfdg_purpose_is_allowed(DFDG_KIND_CITIZEN, DFDG_PURPOSE_SELF_SERVICE));
    assert_false(dfdg_purpose_is_allowed(DFDG_KIND_CITIZEN, DFDG_PURPOSE_CASE_HANDLING));
    assert_false(dfdg_purpose_is_allowed(DFDG_KIND_KOMMUNE, DFDG_PURPOSE_NONE));
    for (int i = 1; i < DFDG_PURPOSE__COUNT; i++) {
        assert_int_equal(dfdg_purpose_parse(dfdg_purpose_name((enum dfdg_purpose)i), &p), DFDG_OK);
        assert_int_equal(p, i);
    }
}

static void
test_actor_from_claims(void **state)
{
    (void)state;
    struct dfdg_actor a = actor("kommune:101", NULL);
    assert_int_equal(a.kind, DFDG_KIND_KOMMUNE);
    assert_string_equal(a.code, "101");
    a = actor("star", NULL);
    assert_int_equal(a.kind, DFDG_KIND_STAR);
    a = actor("citizen", "0101901235");
    assert_int_equal(a.kind, DFDG_KIND_CITIZEN);
    const char *bad[] = {"", "kommune", "kommune:", "star:1", "pirate:1", ":101", "citizen"};
    for (size_t i = 0; i < DFDG_ARRAY_LEN(bad); i++) {
        struct dfdg_claims c = {0};
        dfdg_strlcpy(c.org, bad[i], sizeof c.org);
        struct dfdg_actor out;
        assert_int_equal(dfdg_actor_from_claims(&c, &out, NULL), DFDG_UNAUTH);
    }
    /* A cpr claim belongs to citizen tokens only. */
    struct dfdg_claims c = {0};
    dfdg_strlcpy(c.org, "kommune:101", sizeof c.org);
    dfdg_strlcpy(c.cpr, "0101901235", sizeof c.cpr);
    struct dfdg_actor out;
    assert_int_equal(dfdg_actor_from_claims(&c, &out, NULL), DFDG_UNAUTH);
}

/* The read rule for every type and kind, derived independently from the catalog data. */
static void
test_read_rule_over_catalog(void **state)
{
    (void)state;
    struct dfdg_actor k = actor("kommune:101", NULL), ak = actor("akasse:3f", NULL),
                      ao = actor("aktoer:10150817", NULL), st = actor("star", NULL),
                      ci = actor("citizen", "0101901235");
    ci.person_id = 7;
    struct dfdg_relations all = {
        .person_id = 7, .resident = true, .member = true, .referred = true, .self = true};
    struct dfdg_relations none = {.person_id = 7};
    for (size_t i = 0; i < cat->ntypes; i++) {
        const struct dfdg_type *t = &cat->types[i];
        bool kommune = false, akasse = false, aktoer = false;
        for (size_t j = 0; j < t->nrecipients; j++) {
            kommune |= t->recipients[j].kind == DFDG_KIND_KOMMUNE;
            akasse |= t->recipients[j].kind == DFDG_KIND_AKASSE;
            aktoer |= t->recipients[j].kind == DFDG_KIND_AKTOER;
        }
        struct dfdg_denial why = {0};
        assert_true(dfdg_authz_may_read(&st, t, "kommune:147", &none, &why));
        assert_int_equal(dfdg_authz_may_read(&k, t, "akasse:ase", &all, &why), kommune);
        assert_int_equal(dfdg_authz_may_read(&ak, t, "kommune:147", &all, &why), akasse);
        assert_int_equal(dfdg_authz_may_read(&ao, t, "kommune:147", &all, &why), aktoer);
        assert_false(dfdg_authz_may_read(&k, t, "akasse:ase", &none, &why));
        assert_string_equal(why.rule, "read.relationship");
        /* The reporter always reads its own records. */
        assert_true(dfdg_authz_may_read(&k, t, "kommune:101", &none, &why));
        assert_true(dfdg_authz_may_read(&ak, t, "akasse:3f", &none, &why));
        /* A citizen: own records of jobnet-visible types only. */
        assert_int_equal(dfdg_authz_may_read(&ci, t, "kommune:101", &all, &why), t->jobnet_visible);
        assert_false(dfdg_authz_may_read(&ci, t, "kommune:101", &none, &why));
        assert_string_equal(why.rule, "read.citizen");
    }
}

static void
test_masking_kinds(void **state)
{
    (void)state;
    assert_true(dfdg_authz_masks_address(&(struct dfdg_actor){.kind = DFDG_KIND_AKASSE}));
    assert_true(dfdg_authz_masks_address(&(struct dfdg_actor){.kind = DFDG_KIND_AKTOER}));
    assert_true(dfdg_authz_masks_address(&(struct dfdg_actor){.kind = DFDG_KIND_RESEARCH}));
    assert_false(dfdg_authz_masks_address(&(struct dfdg_actor){.kind = DFDG_KIND_KOMMUNE}));
    assert_false(dfdg_authz_masks_address(&(struct dfdg_actor){.kind = DFDG_KIND_STAR}));
    assert_false(dfdg_authz_masks_address(&(struct dfdg_actor){.kind = DFDG_KIND_CITIZEN}));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_purposes),
        cmocka_unit_test(test_actor_from_claims),
        cmocka_unit_test(test_read_rule_over_catalog),
        cmocka_unit_test(test_masking_kinds),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
