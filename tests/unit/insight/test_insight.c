/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_insight.c: the access log and the GDPR art. 15 document (insight/insight.h) built from a
 * real SQLite store: records with a correction chain and a withdrawn chain (found through the
 * audit log's writes), deliveries, and audit entries by a kommune, an a-kasse feed page that
 * covers two persons, STAR, the citizen and a refused kommune. Covered: the HTML escaping, the
 * cursor parser, which entries the access log shows and in what order, paging, bulk entries
 * cut down to the person's own kinds of data and legal bases, denied attempts, the document's
 * history, statuses, retention, sources, recipients and disclosures, and the HTML rendering.
 */
#include "core/dfdg.h"
#include "audit/auditlog.h"
#include "authz/access.h"
#include "core/when.h"
#include "insight/insight.h"

#include <setjmp.h>
#include <stdarg.h>
#include <unistd.h>
#include <cmocka.h>

#ifndef DFDG_TEST_TMP
#define DFDG_TEST_TMP "/tmp"
#endif

#define T0 INT64_C(1740000000000000) /* 2025-02-19T21:20:00Z */
#define SEC INT64_C(1000000)

struct fx {
    char path[512];
    struct dfdg_store *s;
    struct dfdg_catalog *cat;
    int64_t anna, other;            /* person ids */
    char a[DFDG_UUID_LEN];          /* jobseeker-registration, superseded by b */
    char b[DFDG_UUID_LEN];          /* its correction (current) */
    char c[DFDG_UUID_LEN];          /* caseworker-assignment with markup in it (current) */
    char d[DFDG_UUID_LEN];          /* absence, withdrawn by x */
    char x[DFDG_UUID_LEN];          /* the cancellation */
    char o[DFDG_UUID_LEN];          /* the other person's job-interview */
    int64_t x_at;                   /* when x was recorded */
    int64_t idx_read, idx_feed;     /* audit indexes of the kommune's read, the feed page */
    int64_t idx_star, idx_own;      /* STAR's read, the citizen's own read */
    int64_t idx_denied, idx_create; /* the refused read, the first write */
};

static void
make_id(unsigned n, char out[DFDG_UUID_LEN])
{
    snprintf(out, DFDG_UUID_LEN, "01900000-0000-7000-8000-%012x", n);
}

static int64_t
put_person(struct dfdg_store *s, const char *cpr, const char *first)
{
    struct dfdg_person p = {0};
    struct dfdg_address a = {0};
    dfdg_strlcpy(p.cpr, cpr, sizeof p.cpr);
    p.birthdate = dfdg_date_from_ymd(1985, 2, 2);
    dfdg_strlcpy(p.sex, "F", sizeof p.sex);
    dfdg_strlcpy(p.status, "active", sizeof p.status);
    dfdg_strlcpy(p.first, first, sizeof p.first);
    dfdg_strlcpy(p.last, "Hansen", sizeof p.last);
    dfdg_strlcpy(a.kommunekode, "101", sizeof a.kommunekode);
    dfdg_strlcpy(a.road, "Testvej", sizeof a.road);
    dfdg_strlcpy(a.house, "7", sizeof a.house);
    dfdg_strlcpy(a.postcode, "1165", sizeof a.postcode);
    dfdg_strlcpy(a.city,
                 "K\xc3\xb8"
                 "benhavn K",
                 sizeof a.city);
    a.from = dfdg_date_from_ymd(2000, 1, 1);
    a.to = DFDG_DATE_NONE;
    p.addresses = &a;
    p.naddresses = 1;
    assert_int_equal(dfdg_store_person_put(s, &p, NULL), DFDG_OK);
    return p.person_id;
}

static void
put_record(struct dfdg_store *s, char id[DFDG_UUID_LEN], unsigned n, const char *type,
           int64_t person, enum dfdg_record_kind kind, const char *target, const char *data,
           int64_t at)
{
    struct dfdg_record r = {0};
    make_id(n, r.id);
    dfdg_strlcpy(r.type, type, sizeof r.type);
    r.person_id = person;
    dfdg_strlcpy(r.reporter, "kommune:101", sizeof r.reporter);
    snprintf(r.source_ref, sizeof r.source_ref, "ref-%u", n);
    r.valid_from = dfdg_date_from_ymd(2025, 3, 2);
    r.valid_to = DFDG_DATE_NONE;
    r.recorded_at = at;
    r.kind = kind;
    if (target != NULL)
        dfdg_strlcpy(r.target_id, target, sizeof r.target_id);
    r.content_hash[0] = (uint8_t)n;
    r.data = (char *)data;
    if (kind == DFDG_RECORD_CANCELLATION)
        r.reason = (char *)"registered in error";
    assert_int_equal(dfdg_store_record_insert(s, &r), DFDG_OK);
    dfdg_strlcpy(id, r.id, DFDG_UUID_LEN);
}

static void
deliver(struct dfdg_store *s, const char *org, const char *record, int64_t at)
{
    struct dfdg_delivery d = {0};
    dfdg_strlcpy(d.org_id, org, sizeof d.org_id);
    dfdg_strlcpy(d.record_id, record, sizeof d.record_id);
    dfdg_strlcpy(d.reason, "membership", sizeof d.reason);
    d.created_at = at;
    assert_int_equal(dfdg_store_delivery_insert(s, &d), DFDG_OK);
}

/* An entry as the server writes it: the purpose's basis, then the types' bases. */
static json_t *
event(struct fx *f, const char *org, const char *action, enum dfdg_purpose p, const char *rule)
{
    json_t *ev = dfdg_audit_event_new(org, "user-1", action, dfdg_purpose_name(p),
                                      dfdg_purpose_legal_basis(p), rule);
    assert_non_null(ev);
    (void)f;
    return ev;
}

static void
add_rec(struct fx *f, json_t *ev, const char *id, const char *type, int64_t person, int status)
{
    char basis[512];
    dfdg_audit_event_add_record(ev, id, type, person, status, NULL);
    dfdg_type_legal_basis(dfdg_catalog_find(f->cat, type), basis, sizeof basis);
    dfdg_audit_event_add_legal_basis(ev, basis);
}

static int64_t
append(struct dfdg_audit *a, struct fx *f, json_t *ev, int64_t *persons, size_t n, int64_t at)
{
    dfdg_audit_event_set_persons(ev, persons, n);
    int64_t idx = (int64_t)dfdg_audit_size(a);
    assert_int_equal(dfdg_audit_append(a, f->s, ev, at), DFDG_OK);
    json_decref(ev);
    return idx;
}

static int
setup(void **state)
{
    static unsigned counter;
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->path, sizeof f->path, "%s/insight_%ld_%u.db", DFDG_TEST_TMP, (long)getpid(),
             counter++);
    unlink(f->path);
    struct dfdg_errinfo ei = {0};
    assert_int_equal(dfdg_store_open(f->path, DFDG_STORE_CREATE, &f->s, &ei), DFDG_OK);
    assert_int_equal(dfdg_catalog_load_builtin(&f->cat, &ei), DFDG_OK);
    struct dfdg_store *s = f->s;

    static const struct dfdg_org orgs[] = {
        {"kommune:101", "kommune",
         "K\xc3\xb8"
         "benhavn Kommune"},
        {"kommune:147", "kommune", "Frederiksberg Kommune"},
        {"akasse:3f", "akasse", "3F A-kasse"},
        {"star", "star", "Styrelsen for Arbejdsmarked og Rekruttering"},
        {"dst", "dst", "Danmarks Statistik"},
    };
    assert_int_equal(dfdg_store_begin(s), DFDG_OK);
    for (size_t i = 0; i < DFDG_ARRAY_LEN(orgs); i++)
        assert_int_equal(dfdg_store_org_put(s, &orgs[i]), DFDG_OK);
    f->anna = put_person(s, "0202851234", "Ann<e>");
    f->other = put_person(s, "0101901235", "Otto");
    put_record(s, f->a, 1, "jobseeker-registration", f->anna, DFDG_RECORD_ORIGINAL, NULL,
               "{\"registration_date\":\"2025-03-02\",\"target_group\":\"1\"}", T0 + 1 * SEC);
    put_record(s, f->b, 2, "jobseeker-registration", f->anna, DFDG_RECORD_CORRECTION, f->a,
               "{\"registration_date\":\"2025-03-02\",\"target_group\":\"2\"}", T0 + 2 * SEC);
    put_record(s, f->c, 3, "caseworker-assignment", f->anna, DFDG_RECORD_ORIGINAL, NULL,
               "{\"role\":\"coordinating_caseworker\",\"caseworker_name\":\"<script>x</script>\"}",
               T0 + 3 * SEC);
    put_record(s, f->d, 4, "absence", f->anna, DFDG_RECORD_ORIGINAL, NULL,
               "{\"absence_type\":\"1\",\"notification_date\":\"2025-03-02\"}", T0 + 4 * SEC);
    f->x_at = T0 + 400000 * SEC; /* a later day */
    put_record(s, f->x, 5, "absence", f->anna, DFDG_RECORD_CANCELLATION, f->d, "{}", f->x_at);
    put_record(s, f->o, 6, "job-interview", f->other, DFDG_RECORD_ORIGINAL, NULL,
               "{\"kind\":\"held_interview\"}", f->x_at + SEC);
    deliver(s, "akasse:3f", f->a, T0 + 1 * SEC);
    deliver(s, "dst", f->a, T0 + 1 * SEC);
    deliver(s, "akasse:3f", f->o, f->x_at + SEC);
    assert_int_equal(dfdg_store_commit(s), DFDG_OK);

    struct dfdg_audit *a = NULL;
    assert_int_equal(dfdg_audit_open(s, &a, &ei), DFDG_OK);
    assert_int_equal(dfdg_store_begin(s), DFDG_OK);
    int64_t me[1] = {f->anna}, both[2] = {f->anna, f->other};
    int64_t at = f->x_at + 2 * SEC;
    /* The writes that made d and x: the only trace of the withdrawn chain outside the store. */
    json_t *ev = event(f, "kommune:101", "record.create", DFDG_PURPOSE_CASE_HANDLING, NULL);
    add_rec(f, ev, f->d, "absence", f->anna, 201);
    f->idx_create = append(a, f, ev, me, 1, at++);
    ev = event(f, "kommune:101", "record.cancel", DFDG_PURPOSE_CASE_HANDLING, NULL);
    add_rec(f, ev, f->x, "absence", f->anna, 201);
    append(a, f, ev, me, 1, at++);
    ev = event(f, "kommune:101", "person.read", DFDG_PURPOSE_CASE_HANDLING, NULL);
    f->idx_read = append(a, f, ev, me, 1, at++);
    ev = event(f, "akasse:3f", "feed.read", DFDG_PURPOSE_CASE_HANDLING, NULL);
    add_rec(f, ev, f->a, "jobseeker-registration", f->anna, 0);
    add_rec(f, ev, f->o, "job-interview", f->other, 0);
    f->idx_feed = append(a, f, ev, both, 2, at++);
    ev = event(f, "star", "records.list", DFDG_PURPOSE_SUPERVISION, NULL);
    add_rec(f, ev, f->b, "jobseeker-registration", f->anna, 0);
    add_rec(f, ev, f->c, "caseworker-assignment", f->anna, 0);
    f->idx_star = append(a, f, ev, me, 1, at++);
    ev = event(f, "citizen", "me.read", DFDG_PURPOSE_SELF_SERVICE, NULL);
    f->idx_own = append(a, f, ev, me, 1, at++);
    ev = event(f, "kommune:147", "GET /v1/person", DFDG_PURPOSE_CASE_HANDLING, "read.relationship");
    f->idx_denied = append(a, f, ev, me, 1, at++);
    assert_int_equal(dfdg_store_commit(s), DFDG_OK);
    dfdg_audit_free(a);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    dfdg_store_close(f->s);
    dfdg_catalog_free(f->cat);
    char side[600];
    unlink(f->path);
    snprintf(side, sizeof side, "%s-wal", f->path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", f->path);
    unlink(side);
    free(f);
    return 0;
}

/* --- escaping and cursors ------------------------------------------------------------------ */

static void
check_escape(const char *in, const char *want)
{
    char *got = dfdg_insight_html_escape(in);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void
test_html_escape(void **state)
{
    (void)state;
    check_escape("<script>alert('x')</script>", "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;");
    check_escape("a & b \"c\"", "a &amp; b &quot;c&quot;");
    check_escape("&amp;", "&amp;amp;"); /* escaped again, never trusted */
    check_escape("line\nnext\ttab\x01\x1b[31m\x7f", "line\nnext\ttab  [31m ");
    check_escape("K\xc3\xb8"
                 "benhavn",
                 "K\xc3\xb8"
                 "benhavn");
    check_escape("", "");
    check_escape(NULL, "");
}

static void
test_cursor_parse(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(dfdg_insight_cursor_parse("5", &v), DFDG_OK);
    assert_int_equal(v, 5);
    assert_int_equal(dfdg_insight_cursor_parse("9223372036854775807", &v), DFDG_OK);
    assert_true(v == INT64_MAX);
    static const char *const bad[] = {
        "", "0", "-1", "+1", " 1", "1x", "abc", "1.5", "99999999999999999999"};
    for (size_t i = 0; i < DFDG_ARRAY_LEN(bad); i++)
        assert_int_equal(dfdg_insight_cursor_parse(bad[i], &v), DFDG_INVAL);
    assert_int_equal(dfdg_insight_cursor_parse(NULL, &v), DFDG_INVAL);
}

/* --- the access log ------------------------------------------------------------------------ */

static json_t *
page(struct fx *f, int64_t person, int64_t before, size_t limit, const struct dfdg_org *orgs,
     size_t norgs)
{
    struct dfdg_insight_src src = {f->s, f->cat, orgs, norgs};
    json_t *out = NULL;
    assert_int_equal(dfdg_insight_access_log(&src, person, before, limit, &out), DFDG_OK);
    assert_non_null(out);
    return out;
}

static json_t *
entry_at(json_t *entries, int64_t idx)
{
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        if (json_integer_value(json_object_get(e, "audit_index")) == idx)
            return e;
    }
    return NULL;
}

static const char *
s_of(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    assert_non_null(v);
    return v;
}

/* The types named in an entry's kinds_of_data, ","-joined. */
static void
kinds_of(json_t *e, char *buf, size_t size)
{
    buf[0] = '\0';
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(e, "kinds_of_data"), i, k)
    {
        size_t used = strlen(buf);
        snprintf(buf + used, size - used, "%s%s", i > 0 ? "," : "", s_of(k, "type"));
    }
}

static void
test_access_log_shows_others_newest_first(void **state)
{
    struct fx *f = *state;
    json_t *p = page(f, f->anna, INT64_MAX, DFDG_ACCESS_LOG_MAX, NULL, 0);
    json_t *entries = json_object_get(p, "entries");
    assert_true(json_is_null(json_object_get(p, "next")));
    /* Seven entries concern Anna; her own read is left out. */
    assert_int_equal(json_array_size(entries), 6);
    assert_null(entry_at(entries, f->idx_own));
    for (size_t i = 1; i < json_array_size(entries); i++)
        assert_true(
            json_integer_value(json_object_get(json_array_get(entries, i - 1), "audit_index")) >
            json_integer_value(json_object_get(json_array_get(entries, i), "audit_index")));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(entries, 0), "audit_index")),
                     f->idx_denied);
    char kinds[256];

    json_t *read = entry_at(entries, f->idx_read);
    assert_non_null(read);
    assert_string_equal(s_of(json_object_get(read, "org"), "name"), "K\xc3\xb8"
                                                                    "benhavn Kommune");
    assert_string_equal(s_of(json_object_get(read, "org"), "kind"), "kommune");
    assert_string_equal(s_of(read, "purpose"), "case-handling");
    assert_string_equal(s_of(read, "legal_basis"), "LBU \xc2\xa7\xc2\xa7 33-34; GDPR art. 6(1)(c) "
                                                   "and (e)");
    kinds_of(read, kinds, sizeof kinds);
    assert_string_equal(kinds, "master-data");
    assert_string_equal(s_of(read, "outcome"), "allowed");
    assert_false(json_is_true(json_object_get(read, "bulk")));

    /* The feed page covered Otto too: Anna sees her kinds and her legal bases only. */
    json_t *feed = entry_at(entries, f->idx_feed);
    assert_non_null(feed);
    assert_true(json_is_true(json_object_get(feed, "bulk")));
    kinds_of(feed, kinds, sizeof kinds);
    assert_string_equal(kinds, "jobseeker-registration");
    const char *basis = s_of(feed, "legal_basis");
    assert_non_null(strstr(basis, "BEK 442/2023 kap. 4"));
    assert_non_null(strstr(basis, "LBU \xc2\xa7\xc2\xa7 33-34"));
    assert_null(strstr(basis, "kap. 6;"));
    assert_null(strstr(basis, "LAB \xc2\xa7 121"));

    json_t *star = entry_at(entries, f->idx_star);
    assert_string_equal(s_of(json_object_get(star, "org"), "name"),
                        "Styrelsen for Arbejdsmarked og Rekruttering");
    assert_string_equal(s_of(star, "purpose"), "supervision");
    kinds_of(star, kinds, sizeof kinds);
    assert_string_equal(kinds, "jobseeker-registration,caseworker-assignment");

    json_t *denied = entry_at(entries, f->idx_denied);
    assert_string_equal(s_of(denied, "outcome"), "denied");
    assert_string_equal(s_of(denied, "rule"), "read.relationship");
    kinds_of(denied, kinds, sizeof kinds);
    assert_string_equal(kinds, "master-data");
    assert_string_equal(s_of(json_object_get(denied, "label"), "en"),
                        "Tried to read your master data");

    json_t *create = entry_at(entries, f->idx_create);
    assert_string_equal(s_of(create, "action"), "record.create");
    kinds_of(create, kinds, sizeof kinds);
    assert_string_equal(kinds, "absence");
    json_decref(p);

    /* Otto: only the shared feed page, with his kinds. */
    p = page(f, f->other, INT64_MAX, 50, NULL, 0);
    entries = json_object_get(p, "entries");
    assert_int_equal(json_array_size(entries), 1);
    feed = json_array_get(entries, 0);
    assert_int_equal(json_integer_value(json_object_get(feed, "audit_index")), f->idx_feed);
    kinds_of(feed, kinds, sizeof kinds);
    assert_string_equal(kinds, "job-interview");
    assert_null(strstr(s_of(feed, "legal_basis"), "kap. 4;"));
    json_decref(p);

    /* A person nobody touched. */
    p = page(f, f->other + 100, INT64_MAX, 50, NULL, 0);
    assert_int_equal(json_array_size(json_object_get(p, "entries")), 0);
    json_decref(p);
}

static void
test_access_log_pages(void **state)
{
    struct fx *f = *state;
    /* The org list given (sorted by id) instead of the store. */
    static const struct dfdg_org orgs[] = {{"akasse:3f", "akasse", "Tre F"},
                                           {"kommune:101", "kommune", "Kbh"},
                                           {"star", "star", "STAR"}};
    json_t *all = page(f, f->anna, INT64_MAX, 500, orgs, DFDG_ARRAY_LEN(orgs));
    json_t *want = json_object_get(all, "entries");
    json_t *got = json_array();
    int64_t before = INT64_MAX;
    size_t pages = 0;
    for (;;) {
        json_t *p = page(f, f->anna, before, 4, orgs, DFDG_ARRAY_LEN(orgs));
        json_t *entries = json_object_get(p, "entries");
        assert_true(json_array_size(entries) <= 4);
        json_array_extend(got, entries);
        pages++;
        json_t *next = json_object_get(p, "next");
        if (json_is_null(next)) {
            json_decref(p);
            break;
        }
        assert_string_equal(json_string_value(next),
                            s_of(json_array_get(entries, json_array_size(entries) - 1), "cursor"));
        assert_int_equal(dfdg_insight_cursor_parse(json_string_value(next), &before), DFDG_OK);
        json_decref(p);
    }
    assert_int_equal(pages, 2);
    assert_true(json_equal(got, want));
    /* Names from the list; an org missing from it is named by its id. */
    assert_string_equal(s_of(json_object_get(entry_at(want, f->idx_star), "org"), "name"), "STAR");
    assert_string_equal(s_of(json_object_get(entry_at(want, f->idx_denied), "org"), "name"),
                        "kommune:147");
    json_decref(got);
    json_decref(all);

    struct dfdg_insight_src src = {f->s, f->cat, NULL, 0};
    json_t *out = NULL;
    assert_int_equal(dfdg_insight_access_log(&src, f->anna, INT64_MAX, 0, &out), DFDG_INVAL);
    assert_int_equal(
        dfdg_insight_access_log(&src, f->anna, INT64_MAX, DFDG_ACCESS_LOG_MAX + 1, &out),
        DFDG_INVAL);
    assert_int_equal(dfdg_insight_access_log(&src, f->anna, 0, 10, &out), DFDG_INVAL);
    assert_null(out);
}

/* --- the document -------------------------------------------------------------------------- */

static json_t *
group_of(json_t *doc, const char *type)
{
    size_t i;
    json_t *g;
    json_array_foreach(json_object_get(doc, "records"), i, g)
    {
        if (strcmp(s_of(g, "type"), type) == 0)
            return g;
    }
    return NULL;
}

static json_t *
record_in(json_t *g, const char *id)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(g, "records"), i, r)
    {
        if (strcmp(s_of(r, "id"), id) == 0)
            return r;
    }
    return NULL;
}

static bool
has_org(json_t *arr, const char *id)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        json_t *org = json_object_get(o, "org") != NULL ? json_object_get(o, "org") : o;
        if (strcmp(s_of(org, "id"), id) == 0)
            return true;
    }
    return false;
}

static bool
has_string(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

static json_t *
build(struct fx *f, int64_t person)
{
    struct dfdg_insight_src src = {f->s, f->cat, NULL, 0};
    json_t *doc = NULL;
    assert_int_equal(dfdg_insight_build(&src, person, T0, &doc), DFDG_OK);
    assert_non_null(doc);
    return doc;
}

static void
test_document(void **state)
{
    struct fx *f = *state;
    json_t *doc = build(f, f->anna);
    json_t *person = json_object_get(doc, "person");
    assert_string_equal(s_of(person, "cpr"), "0202851234");
    assert_string_equal(s_of(json_object_get(person, "name"), "first"), "Ann<e>");
    assert_int_equal(json_array_size(json_object_get(person, "addresses")), 1);
    assert_non_null(strstr(s_of(json_object_get(doc, "controller"), "name"),
                           "Styrelsen for Arbejdsmarked og Rekruttering"));
    assert_non_null(strchr(s_of(json_object_get(doc, "dpo"), "email"), '@'));
    assert_string_equal(s_of(doc, "generated_at"), "2025-02-19T21:20:00.000000Z");

    /* Every version: the chain a -> b, the current c, and d withdrawn by x (found through the
     * audit log's writes: neither is current). Not Otto's record. */
    assert_int_equal(json_integer_value(json_object_get(doc, "record_count")), 5);
    json_t *reg = group_of(doc, "jobseeker-registration");
    assert_non_null(reg);
    json_t *ra = record_in(reg, f->a), *rb = record_in(reg, f->b);
    assert_non_null(ra);
    assert_non_null(rb);
    assert_string_equal(s_of(ra, "status"), "superseded");
    assert_string_equal(s_of(ra, "superseded_by"), f->b);
    assert_string_equal(s_of(rb, "status"), "current");
    assert_string_equal(s_of(rb, "corrects"), f->a);
    assert_string_equal(s_of(json_object_get(rb, "data"), "target_group"), "2");
    assert_true(json_is_null(json_object_get(rb, "retained_until"))); /* open chain */
    json_t *ab = group_of(doc, "absence");
    assert_non_null(ab);
    assert_string_equal(s_of(record_in(ab, f->d), "status"), "withdrawn");
    assert_string_equal(s_of(record_in(ab, f->x), "status"), "cancellation");
    assert_string_equal(s_of(record_in(ab, f->x), "reason"), "registered in error");
    /* Retention: the chain ended the day it was cancelled; absence keeps 5 years. */
    int y, m, d;
    dfdg_date_to_ymd((int32_t)(f->x_at / (86400 * SEC)), &y, &m, &d);
    char until[DFDG_DATE_LEN];
    dfdg_date_format(dfdg_date_from_ymd(y + 5, m, d), until);
    assert_string_equal(s_of(record_in(ab, f->d), "retained_until"), until);
    assert_string_equal(s_of(record_in(ab, f->x), "retained_until"), until);
    assert_null(group_of(doc, "job-interview"));
    char *text = json_dumps(doc, 0);
    assert_null(strstr(text, f->o));
    assert_null(strstr(text, "Otto"));
    free(text);

    /* Per type: what the catalog says, and what happened. */
    const struct dfdg_type *t = dfdg_catalog_find(f->cat, "jobseeker-registration");
    assert_true(
        json_equal(json_object_get(reg, "legal_basis"), json_object_get(t->json, "legal_basis")));
    assert_int_equal(json_integer_value(json_object_get(reg, "retention_years")),
                     t->retention_years);
    assert_true(has_string(json_object_get(reg, "purposes"), "case-handling"));
    assert_true(has_string(json_object_get(reg, "purposes_used"), "case-handling"));
    assert_true(has_string(json_object_get(reg, "purposes_used"), "supervision"));
    assert_false(has_string(json_object_get(ab, "purposes_used"), "supervision"));
    json_t *sources = json_object_get(reg, "sources");
    assert_int_equal(json_array_size(sources), 1);
    assert_true(has_org(sources, "kommune:101"));
    json_t *routed = json_object_get(json_object_get(reg, "recipients"), "routed_to");
    assert_true(has_org(routed, "akasse:3f"));
    assert_true(has_org(routed, "dst"));
    assert_int_equal(json_array_size(routed), 2);
    assert_int_equal(
        json_array_size(json_object_get(json_object_get(reg, "recipients"), "by_rule")),
        t->nrecipients);

    /* Disclosures: reads and feed pages by organisations; not writes, not refusals, not the
     * citizen's own reads. */
    json_t *disc = json_object_get(doc, "disclosures");
    assert_int_equal(json_array_size(disc), 3);
    assert_true(has_org(disc, "akasse:3f"));
    assert_true(has_org(disc, "star"));
    assert_true(has_org(disc, "kommune:101"));
    assert_false(has_org(disc, "kommune:147"));
    json_t *access = json_object_get(json_object_get(doc, "access_log"), "entries");
    assert_int_equal(json_array_size(access), 6);
    assert_false(json_is_true(json_object_get(json_object_get(doc, "access_log"), "truncated")));
    json_decref(doc);

    struct dfdg_insight_src src = {f->s, f->cat, NULL, 0};
    json_t *none = NULL;
    assert_int_equal(dfdg_insight_build(&src, f->anna + 1000, T0, &none), DFDG_NOT_FOUND);
    assert_null(none);
}

static void
test_html(void **state)
{
    struct fx *f = *state;
    json_t *doc = build(f, f->anna);
    char *html = NULL;
    size_t len = 0;
    assert_int_equal(dfdg_insight_render_html(doc, &html, &len), DFDG_OK);
    assert_non_null(html);
    assert_int_equal(strlen(html), len);
    assert_true(strncmp(html, "<!DOCTYPE html>", 15) == 0);
    assert_non_null(strstr(html, "<style>"));
    assert_non_null(strstr(html, "@media print"));
    /* Every text from the data is escaped: the record's markup and the person's name. */
    assert_non_null(strstr(html, "&lt;script&gt;x&lt;/script&gt;"));
    assert_null(strstr(html, "<script"));
    assert_non_null(strstr(html, "Ann&lt;e&gt;"));
    assert_null(strstr(html, "Ann<e>"));
    /* Headings per section; the organisations by name; the denied attempt. */
    const char *const want[] = {"Dataansvarlig",
                                "Databeskyttelsesr\xc3\xa5"
                                "dgiver",
                                "Stamdata",
                                "Oplysninger om dig",
                                "Videregivelser",
                                "Adgangslog",
                                "Dine rettigheder",
                                "3F A-kasse",
                                "Frederiksberg Kommune",
                                "read.relationship",
                                f->a};
    for (size_t i = 0; i < DFDG_ARRAY_LEN(want); i++)
        assert_non_null(strstr(html, want[i]));
    free(html);

    /* Injected markup anywhere in the document stays text. */
    json_object_set_new(doc, "generated_at", json_string("\"><img src=x onerror=alert(1)>"));
    assert_int_equal(dfdg_insight_render_html(doc, &html, &len), DFDG_OK);
    assert_null(strstr(html, "<img"));
    assert_non_null(strstr(html, "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    free(html);
    json_decref(doc);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_html_escape),
        cmocka_unit_test(test_cursor_parse),
        cmocka_unit_test_setup_teardown(test_access_log_shows_others_newest_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_access_log_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_document, setup, teardown),
        cmocka_unit_test_setup_teardown(test_html, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
