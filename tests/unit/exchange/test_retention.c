/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_retention.c: deleting chains past their type's retention period (exchange/retention.h).
 * Calendar years (29 February), the cutoff day itself kept; per type; open chains kept; a
 * corrected chain ends with its current version; a cancelled chain ends the day it was
 * cancelled; deliveries go with their chain, disclosures stay; company records; a dry run
 * changes nothing and counts the same; each deleting transaction adds one audit entry naming
 * the deleted records (never their contents) and a signed head, and the audit log verifies
 * afterwards (audit/check.h), also when a server appended entries between two batches; a chain
 * holding the newest record waits; bad options are refused.
 */
#include "core/dfdg.h"
#include "audit/auditlog.h"
#include "audit/check.h"
#include "audit/verify.h"
#include "catalog/catalog.h"
#include "core/when.h"
#include "exchange/retention.h"
#include "store/store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>
#include <unistd.h>

#ifndef DFDG_TEST_TMP
#define DFDG_TEST_TMP "/tmp"
#endif

#define US_DAY INT64_C(86400000000)
/* In every record's data: it must never reach the audit log. */
#define SECRET "secret-note-7f3a"

/* --- fixture ------------------------------------------------------------------------------- */

#define TYPE(code, subject, years)                                                                 \
    "{\"code\": \"" code "\", \"chapters\": [1], \"name\": {\"da\": \"x\", \"en\": \"x\"},"        \
    " \"subject\": \"" subject "\", \"reporters\": [\"kommune\"], \"recipients\": [],"             \
    " \"sensitive\": false, \"legal_basis\": [\"LBU\"], \"jobnet_visible\": true,"                 \
    " \"retention_years\": " #years ", \"fields\": [{\"name\": \"note\", \"type\": \"string\","    \
    " \"required\": false}]}"

static const char *const type_names[] = {"short.json", "long.json", "firm.json"};
static const char *const type_texts[] = {
    TYPE("short", "person", 2),
    TYPE("long", "person", 10),
    TYPE("firm", "company", 2),
};

struct fixture {
    char path[256];
    struct dfdg_store *s;
    struct dfdg_catalog *cat;
    int64_t pid;   /* a person */
    unsigned next; /* record numbers */
};

static void
remove_db(const char *path)
{
    char p[300];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static int
setup(void **state)
{
    static unsigned counter;
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/retention_%ld_%u.db", DFDG_TEST_TMP, (long)getpid(),
             counter++);
    remove_db(f->path);
    struct dfdg_errinfo ei = {0};
    if (dfdg_store_open(f->path, DFDG_STORE_CREATE, &f->s, &ei) != DFDG_OK ||
        dfdg_catalog_load_mem(type_names, type_texts, DFDG_ARRAY_LEN(type_names), &f->cat, &ei) !=
            DFDG_OK) {
        fprintf(stderr, "setup: %s\n", ei.msg);
        return -1;
    }
    struct dfdg_person p;
    memset(&p, 0, sizeof p);
    dfdg_strlcpy(p.cpr, "0101901234", sizeof p.cpr);
    p.birthdate = dfdg_date_from_ymd(1990, 1, 1);
    dfdg_strlcpy(p.sex, "F", sizeof p.sex);
    dfdg_strlcpy(p.status, "active", sizeof p.status);
    dfdg_strlcpy(p.first, "Ane", sizeof p.first);
    dfdg_strlcpy(p.last, "Hansen", sizeof p.last);
    if (dfdg_store_person_put(f->s, &p, &ei) != DFDG_OK)
        return -1;
    f->pid = p.person_id;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    dfdg_store_close(f->s);
    dfdg_catalog_free(f->cat);
    remove_db(f->path);
    free(f);
    return 0;
}

static int32_t
ymd(int y, int m, int d)
{
    return dfdg_date_from_ymd(y, m, d);
}

/* --- builders ------------------------------------------------------------------------------- */

/* Inserts a record in its own transaction (kind from target: "" original). */
static void
put(struct fixture *f, struct dfdg_record *r, const char *type, int32_t from, int32_t to,
    int64_t at, enum dfdg_record_kind kind, const char *target)
{
    unsigned n = ++f->next;
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "01900000-0000-7000-8000-%012x", n);
    dfdg_strlcpy(r->type, type, sizeof r->type);
    if (strcmp(type, "firm") == 0)
        dfdg_strlcpy(r->cvr, "12345678", sizeof r->cvr);
    else
        r->person_id = f->pid;
    dfdg_strlcpy(r->reporter, "kommune:101", sizeof r->reporter);
    snprintf(r->source_ref, sizeof r->source_ref, "ref-%u", n);
    r->valid_from = from;
    r->valid_to = to;
    r->recorded_at = at;
    r->kind = kind;
    dfdg_strlcpy(r->target_id, target, sizeof r->target_id);
    r->data = (char *)(kind == DFDG_RECORD_CANCELLATION ? "{}" : "{\"note\":\"" SECRET "\"}");
    r->reason = (char *)(kind == DFDG_RECORD_CANCELLATION ? "in error" : NULL);
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_record_insert(f->s, r), DFDG_OK);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
}

static void
original(struct fixture *f, struct dfdg_record *r, const char *type, int32_t from, int32_t to,
         int64_t at)
{
    put(f, r, type, from, to, at, DFDG_RECORD_ORIGINAL, "");
}

static void
successor(struct fixture *f, struct dfdg_record *r, const struct dfdg_record *target,
          enum dfdg_record_kind kind, int32_t to, int64_t at)
{
    put(f, r, target->type, target->valid_from, to, at, kind, target->id);
}

static void
deliver(struct fixture *f, const char *org, const char *record_id)
{
    struct dfdg_delivery d;
    memset(&d, 0, sizeof d);
    dfdg_strlcpy(d.org_id, org, sizeof d.org_id);
    dfdg_strlcpy(d.record_id, record_id, sizeof d.record_id);
    dfdg_strlcpy(d.reason, "residence", sizeof d.reason);
    d.created_at = 1;
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_delivery_insert(f->s, &d), DFDG_OK);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
}

static bool
exists(struct fixture *f, const char *id)
{
    struct dfdg_record g;
    dfdg_err rc = dfdg_store_record_get(f->s, id, &g);
    assert_true(rc == DFDG_OK || rc == DFDG_NOT_FOUND);
    dfdg_record_cleanup(&g);
    return rc == DFDG_OK;
}

static bool
count_cb(const struct dfdg_delivery *d, const struct dfdg_record *r, const char *cpr, void *ctx)
{
    (void)d;
    (void)r;
    (void)cpr;
    (*(size_t *)ctx)++;
    return true;
}

static size_t
deliveries_of(struct fixture *f, const char *id)
{
    size_t n = 0;
    assert_int_equal(dfdg_store_deliveries_of(f->s, id, count_cb, &n), DFDG_OK);
    return n;
}

static int64_t
records(struct fixture *f)
{
    int64_t n = -1;
    assert_int_equal(dfdg_store_count_records(f->s, &n), DFDG_OK);
    return n;
}

static int64_t
audit_size(struct fixture *f)
{
    int64_t n = -1;
    assert_int_equal(dfdg_store_audit_size(f->s, &n), DFDG_OK);
    return n;
}

static const struct dfdg_retention_type *
type_stats(const struct dfdg_retention_stats *st, const char *code)
{
    for (size_t i = 0; i < st->ntypes; i++) {
        if (strcmp(st->types[i].code, code) == 0)
            return &st->types[i];
    }
    fail_msg("no stats for type %s", code);
    return NULL;
}

static void
run(struct fixture *f, int32_t today, bool dry, size_t batch, struct dfdg_retention_stats *st)
{
    struct dfdg_retention_opts o = {.today = today, .dry_run = dry, .batch = batch};
    struct dfdg_errinfo ei = {0};
    dfdg_err rc = dfdg_retention_run(f->s, f->cat, &o, st, &ei);
    if (rc != DFDG_OK)
        fail_msg("retention: %s", ei.msg);
}

static bool
tree_add_cb(int64_t idx, int64_t at, const char *entry, size_t len, void *ctx)
{
    (void)idx;
    (void)at;
    dfdg_verify_tree_add(ctx, (const uint8_t *)entry, len);
    return true;
}

/* The audit log verifies: every head's signature and root, every entry's leaf. */
static void
assert_log_verifies(struct fixture *f)
{
    struct dfdg_audit_report rep;
    assert_int_equal(dfdg_audit_check(f->s, NULL, NULL, &rep), DFDG_OK);
    if (!rep.ok)
        fail_msg("audit log does not verify: %s", rep.problem);
    assert_int_equal((int64_t)rep.entries, audit_size(f));
    assert_int_equal(rep.unsigned_tail, 0);

    /* And by hand: the newest signed head is the tree of every stored entry. */
    struct dfdg_verify_tree t;
    dfdg_verify_tree_init(&t);
    assert_int_equal(dfdg_store_audit_scan(f->s, 0, tree_add_cb, &t), DFDG_OK);
    struct dfdg_sth h;
    assert_int_equal(dfdg_store_sth_latest(f->s, &h), DFDG_OK);
    assert_int_equal(h.size, (int64_t)t.size);
    uint8_t root[DFDG_VERIFY_HASH_LEN];
    dfdg_verify_tree_root(&t, root);
    assert_memory_equal(root, h.root, sizeof root);
}

/* --- calendar ------------------------------------------------------------------------------ */

static void
test_add_years_and_cutoff(void **state)
{
    (void)state;
    assert_int_equal(dfdg_retention_add_years(ymd(2020, 2, 29), 1), ymd(2021, 2, 28));
    assert_int_equal(dfdg_retention_add_years(ymd(2020, 2, 29), 4), ymd(2024, 2, 29));
    assert_int_equal(dfdg_retention_add_years(ymd(2019, 12, 31), 5), ymd(2024, 12, 31));
    assert_int_equal(dfdg_retention_add_years(ymd(9990, 1, 1), 10), DFDG_DATE_NONE);

    /* Today 2025-02-28, one year: 2024-02-28 and -29 both reach today, so both stay. */
    assert_int_equal(dfdg_retention_cutoff(ymd(2025, 2, 28), 1), ymd(2024, 2, 28));
    /* The next day both go. */
    assert_int_equal(dfdg_retention_cutoff(ymd(2025, 3, 1), 1), ymd(2024, 3, 1));
    /* Today 2024-02-29, five years: 2019-02-28 reached its limit yesterday. */
    assert_int_equal(dfdg_retention_cutoff(ymd(2024, 2, 29), 5), ymd(2019, 3, 1));
    assert_int_equal(dfdg_retention_cutoff(ymd(2024, 2, 29), 4), ymd(2020, 2, 29));
    assert_int_equal(dfdg_retention_cutoff(ymd(2030, 6, 15), 2), ymd(2028, 6, 15));
    assert_int_equal(dfdg_retention_cutoff(ymd(50, 1, 1), 100), ymd(1, 1, 1));

    /* The definition, around every cutoff of ten years of days: E goes iff E + years < today. */
    for (int32_t today = ymd(2019, 1, 1); today < ymd(2029, 1, 1); today += 3) {
        for (int years = 1; years <= 12; years += 1) {
            int32_t c = dfdg_retention_cutoff(today, years);
            for (int32_t e = c - 3; e <= c + 3; e++) {
                bool past = dfdg_retention_add_years(e, years) < today;
                if (past != (e < c))
                    fail_msg("today %d, %d years, end %d, cutoff %d", today, years, e, c);
            }
        }
    }
}

/* --- runs ---------------------------------------------------------------------------------- */

/* What the main scenario holds. */
struct scene {
    struct dfdg_record gone_short, kept_boundary, kept_open, kept_corr_o, kept_corr_c;
    struct dfdg_record gone_corr_o, gone_corr_c, gone_canc_o, gone_canc_c, kept_canc_o, kept_canc_c;
    struct dfdg_record kept_long, gone_long, gone_firm, newest;
};

/*
 * Today 2030-06-15. short (2 years): chains that ended before 2028-06-15 go. long (10 years):
 * before 2020-06-15.
 */
static void
build_scene(struct fixture *f, struct scene *x)
{
    int64_t t = ymd(2001, 1, 1) * US_DAY;
    /* Ended the day before the cutoff: goes, with its two deliveries. */
    original(f, &x->gone_short, "short", ymd(2028, 1, 1), ymd(2028, 6, 14), t + 1);
    deliver(f, "kommune:101", x->gone_short.id);
    deliver(f, "star", x->gone_short.id);
    /* Ended on the cutoff: its limit is today itself, so it stays. */
    original(f, &x->kept_boundary, "short", ymd(2028, 1, 1), ymd(2028, 6, 15), t + 2);
    /* Open since 2001: never ends. */
    original(f, &x->kept_open, "short", ymd(2001, 1, 1), DFDG_DATE_NONE, t + 3);
    /* Ended in 2001, corrected to end in 2029: the current version counts. */
    original(f, &x->kept_corr_o, "short", ymd(2001, 1, 1), ymd(2001, 2, 1), t + 4);
    successor(f, &x->kept_corr_c, &x->kept_corr_o, DFDG_RECORD_CORRECTION, ymd(2029, 1, 1), t + 5);
    /* Open, corrected to end in 2020: goes, both versions and the correction's delivery. */
    original(f, &x->gone_corr_o, "short", ymd(2019, 1, 1), DFDG_DATE_NONE, t + 6);
    successor(f, &x->gone_corr_c, &x->gone_corr_o, DFDG_RECORD_CORRECTION, ymd(2020, 1, 1), t + 7);
    deliver(f, "kommune:101", x->gone_corr_c.id);
    /* Open, cancelled on 2027-01-01: goes. Cancelled on 2029-01-01: stays. */
    original(f, &x->gone_canc_o, "short", ymd(2020, 1, 1), DFDG_DATE_NONE, t + 8);
    successor(f, &x->gone_canc_c, &x->gone_canc_o, DFDG_RECORD_CANCELLATION, DFDG_DATE_NONE,
              ymd(2027, 1, 1) * US_DAY);
    original(f, &x->kept_canc_o, "short", ymd(2020, 1, 1), DFDG_DATE_NONE, t + 9);
    successor(f, &x->kept_canc_c, &x->kept_canc_o, DFDG_RECORD_CANCELLATION, DFDG_DATE_NONE,
              ymd(2029, 1, 1) * US_DAY);
    /* long: ended 2025 stays, ended 2019 goes. */
    original(f, &x->kept_long, "long", ymd(2024, 1, 1), ymd(2025, 1, 1), ymd(2029, 2, 1) * US_DAY);
    original(f, &x->gone_long, "long", ymd(2018, 1, 1), ymd(2019, 1, 1), ymd(2029, 2, 2) * US_DAY);
    /* A company record: goes, and names no person. */
    original(f, &x->gone_firm, "firm", ymd(2019, 1, 1), ymd(2019, 1, 1), ymd(2029, 2, 3) * US_DAY);
    /* The newest record and delivery, kept: nothing is held back. */
    original(f, &x->newest, "short", ymd(2030, 1, 1), DFDG_DATE_NONE, ymd(2030, 1, 1) * US_DAY);
    deliver(f, "kommune:101", x->newest.id);

    /* The store's audit log already holds what a server wrote, with a signed head. */
    struct dfdg_audit *a = NULL;
    struct dfdg_errinfo ei = {0};
    assert_int_equal(dfdg_audit_open(f->s, &a, &ei), DFDG_OK);
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    for (int i = 0; i < 3; i++) {
        json_t *ev = dfdg_audit_event_new("kommune:101", "caseworker", "record.read",
                                          "case-handling", "LBU", "");
        dfdg_audit_event_add_person(ev, f->pid);
        assert_int_equal(dfdg_audit_append(a, f->s, ev, dfdg_time_now_us()), DFDG_OK);
        json_decref(ev);
    }
    assert_int_equal(dfdg_audit_sign(a, f->s, dfdg_time_now_us()), DFDG_OK);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
    dfdg_audit_free(a);

    /* A disclosure of a record that will go. */
    struct dfdg_disclosure d;
    memset(&d, 0, sizeof d);
    d.at = t;
    dfdg_strlcpy(d.org_id, "kommune:101", sizeof d.org_id);
    dfdg_strlcpy(d.sub, "caseworker", sizeof d.sub);
    d.person_id = f->pid;
    dfdg_strlcpy(d.record_id, x->gone_short.id, sizeof d.record_id);
    dfdg_strlcpy(d.type, "short", sizeof d.type);
    dfdg_strlcpy(d.purpose, "case-handling", sizeof d.purpose);
    dfdg_strlcpy(d.legal_basis, "LBU", sizeof d.legal_basis);
    dfdg_strlcpy(d.channel, "feed", sizeof d.channel);
    assert_int_equal(dfdg_store_begin(f->s), DFDG_OK);
    assert_int_equal(dfdg_store_disclosure_insert(f->s, &d), DFDG_OK);
    assert_int_equal(dfdg_store_commit(f->s), DFDG_OK);
}

static void
assert_scene_counts(const struct dfdg_retention_stats *st)
{
    const struct dfdg_retention_type *s = type_stats(st, "short");
    assert_int_equal(s->retention_years, 2);
    assert_int_equal(s->cutoff, ymd(2028, 6, 15));
    assert_int_equal(s->chains, 3);
    assert_int_equal(s->records, 5);
    assert_int_equal(s->deliveries, 3);
    assert_int_equal(s->held, 0);
    const struct dfdg_retention_type *l = type_stats(st, "long");
    assert_int_equal(l->cutoff, ymd(2020, 6, 15));
    assert_int_equal(l->chains, 1);
    assert_int_equal(l->records, 1);
    assert_int_equal(l->deliveries, 0);
    const struct dfdg_retention_type *c = type_stats(st, "firm");
    assert_int_equal(c->chains, 1);
    assert_int_equal(c->records, 1);
    assert_int_equal(st->chains, 5);
    assert_int_equal(st->records, 7);
    assert_int_equal(st->deliveries, 3);
    assert_int_equal(st->held, 0);
}

/* The stored bytes of the newest audit entry (caller frees). */
static bool
last_entry_cb(int64_t idx, int64_t at, const char *entry, size_t len, void *ctx)
{
    (void)idx;
    (void)at;
    char **out = ctx;
    free(*out);
    *out = strndup(entry, len);
    return true;
}

static void
test_run_and_dry_run(void **state)
{
    struct fixture *f = *state;
    struct scene x;
    build_scene(f, &x);
    int32_t today = ymd(2030, 6, 15);
    int64_t n_records = records(f), n_audit = audit_size(f);
    assert_int_equal(n_records, 15);
    assert_int_equal(n_audit, 3);

    /* Dry: the same counts, nothing changed, nothing written to the audit log. */
    struct dfdg_retention_stats st;
    run(f, today, true, 0, &st);
    assert_scene_counts(&st);
    assert_int_equal(st.transactions, 0);
    dfdg_retention_stats_cleanup(&st);
    assert_int_equal(records(f), n_records);
    assert_int_equal(audit_size(f), n_audit);
    assert_true(exists(f, x.gone_short.id));
    assert_int_equal(deliveries_of(f, x.gone_short.id), 2);

    /* For real. */
    run(f, today, false, 0, &st);
    assert_scene_counts(&st);
    assert_int_equal(st.transactions, 1);
    dfdg_retention_stats_cleanup(&st);
    assert_int_equal(records(f), n_records - 7);
    const struct dfdg_record *gone[] = {&x.gone_short,  &x.gone_corr_o, &x.gone_corr_c,
                                        &x.gone_canc_o, &x.gone_canc_c, &x.gone_long,
                                        &x.gone_firm};
    const struct dfdg_record *kept[] = {&x.kept_boundary, &x.kept_open,   &x.kept_corr_o,
                                        &x.kept_corr_c,   &x.kept_canc_o, &x.kept_canc_c,
                                        &x.kept_long,     &x.newest};
    for (size_t i = 0; i < DFDG_ARRAY_LEN(gone); i++) {
        assert_false(exists(f, gone[i]->id));
        assert_int_equal(deliveries_of(f, gone[i]->id), 0);
    }
    for (size_t i = 0; i < DFDG_ARRAY_LEN(kept); i++)
        assert_true(exists(f, kept[i]->id));
    assert_int_equal(deliveries_of(f, x.newest.id), 1);
    int64_t nd = -1;
    assert_int_equal(dfdg_store_count_disclosures(f->s, &nd), DFDG_OK);
    assert_int_equal(nd, 1);

    /* One transaction: one entry, naming each deleted record and the person, not the data. */
    assert_int_equal(audit_size(f), n_audit + 1);
    char *entry = NULL;
    assert_int_equal(dfdg_store_audit_scan(f->s, n_audit, last_entry_cb, &entry), DFDG_OK);
    assert_non_null(entry);
    assert_null(strstr(entry, SECRET));
    assert_null(strstr(entry, "0101901234"));
    json_error_t jerr;
    json_t *ev = json_loads(entry, 0, &jerr);
    assert_non_null(ev);
    assert_string_equal(json_string_value(json_object_get(ev, "action")), "retention.delete");
    assert_string_equal(json_string_value(json_object_get(ev, "org")), "dfdg");
    assert_non_null(strstr(json_string_value(json_object_get(ev, "legal_basis")), "5(1)(e)"));
    json_t *recs = json_object_get(ev, "records");
    assert_int_equal(json_array_size(recs), 7);
    for (size_t i = 0; i < DFDG_ARRAY_LEN(gone); i++) {
        bool found = false;
        size_t k;
        json_t *r;
        json_array_foreach(recs, k, r)
        {
            if (strcmp(json_string_value(json_object_get(r, "id")), gone[i]->id) == 0) {
                found = true;
                assert_string_equal(json_string_value(json_object_get(r, "type")), gone[i]->type);
            }
        }
        assert_true(found);
    }
    json_t *persons = json_object_get(ev, "persons");
    assert_int_equal(json_array_size(persons), 1);
    assert_int_equal(json_integer_value(json_array_get(persons, 0)), f->pid);
    json_decref(ev);
    free(entry);
    struct dfdg_sth h;
    assert_int_equal(dfdg_store_sth_latest(f->s, &h), DFDG_OK);
    assert_int_equal(h.size, n_audit + 1);
    assert_log_verifies(f);

    /* Again: nothing left to delete, nothing written. */
    run(f, today, false, 0, &st);
    assert_int_equal(st.chains, 0);
    assert_int_equal(st.transactions, 0);
    dfdg_retention_stats_cleanup(&st);
    assert_int_equal(audit_size(f), n_audit + 1);
    /* A year later the boundary chain goes too. */
    run(f, ymd(2031, 1, 1), false, 0, &st);
    assert_int_equal(type_stats(&st, "short")->chains, 1);
    dfdg_retention_stats_cleanup(&st);
    assert_false(exists(f, x.kept_boundary.id));
    assert_true(exists(f, x.kept_canc_o.id)); /* cancelled 2029: limit 2031-01-01 */
    assert_log_verifies(f);
}

/* Appends one entry as a running server would, through its own connection and audit state. */
struct server {
    const char *path;
    int calls;
    int appended;
};

static void
server_appends(const struct dfdg_retention_stats *st, void *ctx)
{
    (void)st;
    struct server *sv = ctx;
    sv->calls++;
    if (sv->calls != 1)
        return;
    struct dfdg_store *s = NULL;
    struct dfdg_audit *a = NULL;
    struct dfdg_errinfo ei = {0};
    assert_int_equal(dfdg_store_open(sv->path, DFDG_STORE_OPEN, &s, &ei), DFDG_OK);
    assert_int_equal(dfdg_audit_open(s, &a, &ei), DFDG_OK);
    assert_int_equal(dfdg_store_begin(s), DFDG_OK);
    assert_int_equal(dfdg_audit_sync(a, s), DFDG_OK);
    json_t *ev = dfdg_audit_event_new("star", "analyst", "record.read", "supervision", "LBU", "");
    assert_int_equal(dfdg_audit_append(a, s, ev, dfdg_time_now_us()), DFDG_OK);
    json_decref(ev);
    assert_int_equal(dfdg_audit_sign(a, s, dfdg_time_now_us()), DFDG_OK);
    assert_int_equal(dfdg_store_commit(s), DFDG_OK);
    dfdg_audit_free(a);
    dfdg_store_close(s);
    sv->appended++;
}

/*
 * 25 chains in batches of 10: three transactions, three entries and heads; a server appends
 * between the first two batches, and the log still verifies.
 */
static void
test_run_in_batches(void **state)
{
    struct fixture *f = *state;
    struct dfdg_record r[25], newest;
    for (size_t i = 0; i < DFDG_ARRAY_LEN(r); i++) {
        original(f, &r[i], i % 2 ? "short" : "long", ymd(2001, 1, 1), ymd(2001, 1, 2),
                 (int64_t)(i + 1) * 1000);
        deliver(f, "kommune:101", r[i].id);
    }
    original(f, &newest, "short", ymd(2030, 1, 1), DFDG_DATE_NONE, 100000);
    deliver(f, "kommune:101", newest.id);
    int64_t before = audit_size(f);

    struct server sv = {f->path, 0, 0};
    struct dfdg_retention_opts o = {
        .today = ymd(2030, 6, 15), .batch = 10, .progress = server_appends, .ctx = &sv};
    struct dfdg_retention_stats st;
    struct dfdg_errinfo ei = {0};
    assert_int_equal(dfdg_retention_run(f->s, f->cat, &o, &st, &ei), DFDG_OK);
    assert_int_equal(st.chains, 25);
    assert_int_equal(st.records, 25);
    assert_int_equal(st.deliveries, 25);
    assert_int_equal(st.transactions, 3);
    assert_true(sv.calls >= 3);
    assert_int_equal(sv.appended, 1);
    dfdg_retention_stats_cleanup(&st);
    assert_int_equal(records(f), 1);
    assert_int_equal(audit_size(f), before + 3 + 1);
    int64_t heads = 0;
    struct dfdg_sth h;
    assert_int_equal(dfdg_store_sth_latest(f->s, &h), DFDG_OK);
    heads = h.size;
    assert_int_equal(heads, audit_size(f));
    assert_log_verifies(f);
}

/* The only chain past retention holds the newest record: it waits, and nothing is written. */
static void
test_newest_is_held(void **state)
{
    struct fixture *f = *state;
    struct dfdg_record r;
    original(f, &r, "short", ymd(2001, 1, 1), ymd(2001, 1, 2), 1000);
    struct dfdg_retention_stats st;
    for (int dry = 1; dry >= 0; dry--) {
        run(f, ymd(2030, 6, 15), dry != 0, 0, &st);
        assert_int_equal(st.chains, 0);
        assert_int_equal(st.held, 1);
        assert_int_equal(type_stats(&st, "short")->held, 1);
        assert_int_equal(st.transactions, 0);
        dfdg_retention_stats_cleanup(&st);
        assert_true(exists(f, r.id));
        assert_int_equal(audit_size(f), 0);
    }
    /* Once something newer arrives, it goes. */
    struct dfdg_record newer;
    original(f, &newer, "long", ymd(2030, 1, 1), DFDG_DATE_NONE, 2000);
    run(f, ymd(2030, 6, 15), false, 0, &st);
    assert_int_equal(st.chains, 1);
    assert_int_equal(st.held, 0);
    dfdg_retention_stats_cleanup(&st);
    assert_false(exists(f, r.id));
    assert_int_equal(audit_size(f), 1);
    assert_log_verifies(f);
}

static void
test_bad_options(void **state)
{
    struct fixture *f = *state;
    struct dfdg_retention_stats st;
    struct dfdg_errinfo ei = {0};
    struct dfdg_retention_opts o = {.today = DFDG_DATE_NONE};
    assert_int_equal(dfdg_retention_run(f->s, f->cat, &o, &st, &ei), DFDG_INVAL);
    assert_null(st.types);
    o.today = ymd(2030, 1, 1);
    assert_int_equal(dfdg_retention_run(NULL, f->cat, &o, &st, &ei), DFDG_INVAL);
    assert_int_equal(dfdg_retention_run(f->s, NULL, &o, &st, &ei), DFDG_INVAL);
    assert_int_equal(dfdg_retention_run(f->s, f->cat, NULL, &st, &ei), DFDG_INVAL);
    dfdg_retention_stats_cleanup(NULL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_years_and_cutoff),
        T(test_run_and_dry_run),
        T(test_run_in_batches),
        T(test_newest_is_held),
        T(test_bad_options),
    };
    return cmocka_run_group_tests_name("exchange/retention", tests, NULL, NULL);
}
