/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_seed.c: the synthetic population of `dfdg seed` (seed/seed.h). Three fresh stores are
 * seeded with 300 persons: two with the same seed, one with another. Checked: the same seed
 * gives the same persons and records byte for byte (ids and times included) and another seed
 * does not; every catalog type appears; every record keeps the report rules (reporter kind,
 * residence for kommuner, membership for a-kasser, "citizen" for citizens, company subjects
 * with a valid CVR and no person); every data object validates; corrections and cancellations
 * form chains recorded later by the same reporter; content hashes are what ingest computes;
 * CPR numbers, addresses, orgs and transaction times are as promised; a populated store is
 * refused.
 */
#include "core/dfdg.h"
#include "seed/seed.h"
#include "catalog/catalog.h"
#include "core/cpr.h"
#include "core/uuid.h"
#include "core/when.h"
#include "exchange/ingest.h"
#include "store/store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>
#include <sodium.h>
#include <sqlite3.h>

#ifndef DFDG_TEST_TMP
#define DFDG_TEST_TMP "/tmp"
#endif

#define PERSONS 300

struct seeded {
    char path[512];
    struct dfdg_store *s;
    struct dfdg_seed_stats st;
};

static struct dfdg_catalog *cat;
static struct seeded a, b, c; /* seed 7, seed 7, seed 8 */

static void
remove_store(const char *path)
{
    char p[600];
    (void)remove(path);
    snprintf(p, sizeof p, "%s-wal", path);
    (void)remove(p);
    snprintf(p, sizeof p, "%s-shm", path);
    (void)remove(p);
}

static int
seed_store(struct seeded *sdd, const char *name, uint64_t seed)
{
    snprintf(sdd->path, sizeof sdd->path, "%s/test_seed_%ld_%s.db", DFDG_TEST_TMP, (long)getpid(),
             name);
    remove_store(sdd->path);
    struct dfdg_errinfo ei = {0};
    if (dfdg_store_open(sdd->path, DFDG_STORE_CREATE, &sdd->s, &ei) != DFDG_OK) {
        fprintf(stderr, "open %s: %s\n", sdd->path, ei.msg);
        return -1;
    }
    /* Small batches so several transactions are exercised. */
    struct dfdg_seed_opts o = {.seed = seed, .persons = PERSONS, .batch = 64};
    dfdg_err rc = dfdg_seed_run(sdd->s, cat, &o, &sdd->st, &ei);
    if (rc != DFDG_OK) {
        fprintf(stderr, "seed %s: %s: %s\n", name, dfdg_err_name(rc), ei.msg);
        return -1;
    }
    return 0;
}

static int
group_setup(void **state)
{
    (void)state;
    struct dfdg_errinfo ei = {0};
    if (dfdg_catalog_load_builtin(&cat, &ei) != DFDG_OK) {
        fprintf(stderr, "catalog: %s\n", ei.msg);
        return -1;
    }
    if (seed_store(&a, "a", 7) != 0 || seed_store(&b, "b", 7) != 0 || seed_store(&c, "c", 8) != 0)
        return -1;
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    struct seeded *all[] = {&a, &b, &c};
    for (size_t i = 0; i < DFDG_ARRAY_LEN(all); i++) {
        dfdg_store_close(all[i]->s);
        remove_store(all[i]->path);
    }
    dfdg_catalog_free(cat);
    return 0;
}

/* --- raw access for whole-store checks ---------------------------------------------------- */

static sqlite3 *
raw_open(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    return db;
}

static int64_t
raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* SHA-256 over every row of a query's text form: a fingerprint of the table's content. */
static void
raw_digest(sqlite3 *db, const char *sql, uint8_t out[32])
{
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            const unsigned char *t = sqlite3_column_text(st, i);
            size_t n = t != NULL ? (size_t)sqlite3_column_bytes(st, i) : 0;
            crypto_hash_sha256_update(&h, t != NULL ? t : (const unsigned char *)"\x01", n + 1);
        }
    }
    assert_int_equal(src, SQLITE_DONE);
    sqlite3_finalize(st);
    crypto_hash_sha256_final(&h, out);
}

static const char *const records_sql =
    "SELECT id, type, person_id, cvr, reporter, source_ref, valid_from, valid_to, recorded_at,"
    " kind, target_id, hex(content_hash), data, reason FROM record ORDER BY seq";
static const char *const persons_sql =
    "SELECT p.person_id, p.cpr, p.birthdate, p.sex, p.first_name, p.middle_name, p.last_name,"
    " (SELECT group_concat(kommunekode || road || house || postcode || city || valid_from || '-'"
    "  || ifnull(valid_to, ''), ';') FROM person_address a WHERE a.person_id = p.person_id),"
    " (SELECT group_concat(cpr, ';') FROM person_cpr c WHERE c.person_id = p.person_id)"
    " FROM person p ORDER BY p.person_id";

/* --- determinism --------------------------------------------------------------------------- */

struct idlist {
    char ids[512][DFDG_UUID_LEN];
    size_t n;
};

static bool
collect_id(const struct dfdg_record *r, void *ctx)
{
    struct idlist *l = ctx;
    if (l->n < DFDG_ARRAY_LEN(l->ids))
        dfdg_strlcpy(l->ids[l->n++], r->id, sizeof l->ids[0]);
    return true;
}

static void
person_ids(struct dfdg_store *s, int64_t person_id, struct idlist *out)
{
    memset(out, 0, sizeof *out);
    struct dfdg_record_query q = {
        .person_id = person_id, .type = NULL, .valid_on = DFDG_DATE_NONE, .as_of = INT64_MAX};
    assert_int_equal(dfdg_store_records_query(s, &q, collect_id, out), DFDG_OK);
}

static void
test_same_seed_same_history(void **state)
{
    (void)state;
    assert_int_equal(a.st.persons, PERSONS);
    assert_int_equal(b.st.persons, PERSONS);
    assert_true(a.st.records == b.st.records);
    assert_true(a.st.corrections == b.st.corrections);
    assert_true(a.st.cancellations == b.st.cancellations);
    int64_t na, nb;
    assert_int_equal(dfdg_store_count_records(a.s, &na), DFDG_OK);
    assert_int_equal(dfdg_store_count_records(b.s, &nb), DFDG_OK);
    assert_true(na == nb && (uint64_t)na == a.st.records);
    assert_int_equal(dfdg_store_count_persons(a.s, &na), DFDG_OK);
    assert_int_equal(na, PERSONS);

    /* The current records of some persons, through the store interface. */
    size_t nonempty = 0;
    for (int64_t pid = 1; pid <= PERSONS; pid += 23) {
        struct idlist la, lb;
        person_ids(a.s, pid, &la);
        person_ids(b.s, pid, &lb);
        assert_int_equal(la.n, lb.n);
        for (size_t i = 0; i < la.n; i++)
            assert_string_equal(la.ids[i], lb.ids[i]);
        nonempty += la.n > 0;
    }
    assert_true(nonempty >= 5);

    /* And everything, byte for byte: records and master data. */
    sqlite3 *da = raw_open(a.path), *db = raw_open(b.path);
    uint8_t ha[32], hb[32];
    raw_digest(da, records_sql, ha);
    raw_digest(db, records_sql, hb);
    assert_memory_equal(ha, hb, 32);
    raw_digest(da, persons_sql, ha);
    raw_digest(db, persons_sql, hb);
    assert_memory_equal(ha, hb, 32);
    sqlite3_close(da);
    sqlite3_close(db);
}

static void
test_other_seed_differs(void **state)
{
    (void)state;
    struct dfdg_person pa = {0}, pc = {0};
    assert_int_equal(dfdg_store_person_get(a.s, 1, &pa), DFDG_OK);
    assert_int_equal(dfdg_store_person_get(c.s, 1, &pc), DFDG_OK);
    assert_string_not_equal(pa.cpr, pc.cpr);
    dfdg_person_cleanup(&pa);
    dfdg_person_cleanup(&pc);

    sqlite3 *da = raw_open(a.path), *dc = raw_open(c.path);
    uint8_t ha[32], hc[32];
    raw_digest(da, records_sql, ha);
    raw_digest(dc, records_sql, hc);
    assert_memory_not_equal(ha, hc, 32);
    /* Source refs name the seed. */
    assert_int_equal(
        raw_int(dc, "SELECT count(*) FROM record WHERE source_ref NOT LIKE 'seed-8-%'"), 0);
    sqlite3_close(da);
    sqlite3_close(dc);
}

/* --- the records keep the rules ------------------------------------------------------------ */

static enum dfdg_org_kind
kind_of(const char *org, char *code, size_t size)
{
    char kind[32];
    const char *colon = strchr(org, ':');
    size_t n = colon != NULL ? (size_t)(colon - org) : strlen(org);
    assert_true(n < sizeof kind);
    memcpy(kind, org, n);
    kind[n] = '\0';
    dfdg_strlcpy(code, colon != NULL ? colon + 1 : "", size);
    enum dfdg_org_kind k;
    assert_int_equal(dfdg_org_kind_parse(kind, &k), DFDG_OK);
    return k;
}

static void
cpr_of(sqlite3 *db, int64_t person_id, char out[DFDG_CPR_LEN])
{
    sqlite3_stmt *st;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT cpr FROM person WHERE person_id = ?1", -1, &st, NULL),
        SQLITE_OK);
    sqlite3_bind_int64(st, 1, person_id);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    dfdg_strlcpy(out, (const char *)sqlite3_column_text(st, 0), DFDG_CPR_LEN);
    sqlite3_finalize(st);
}

static void
test_records_keep_the_rules(void **state)
{
    (void)state;
    sqlite3 *db = raw_open(a.path);
    size_t *per_type = calloc(cat->ntypes, sizeof *per_type);
    assert_non_null(per_type);
    int64_t cap_us = 0;
    {
        int32_t cap;
        assert_int_equal(dfdg_date_parse(DFDG_SEED_TIME_CAP, 10, &cap, NULL), DFDG_OK);
        cap_us = (int64_t)cap * INT64_C(86400000000);
    }
    assert_true(cap_us < dfdg_time_now_us());

    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT r.id, r.type, ifnull(r.person_id, 0), r.cvr,"
                                        " r.reporter, r.valid_from, ifnull(r.valid_to, -1),"
                                        " r.recorded_at, r.kind, r.target_id, r.content_hash,"
                                        " r.data, r.reason FROM record r ORDER BY r.seq",
                                        -1, &st, NULL),
                     SQLITE_OK);
    size_t n = 0, kommune_checked = 0, akasse_checked = 0, citizen = 0, company = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        n++;
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *type = (const char *)sqlite3_column_text(st, 1);
        int64_t person_id = sqlite3_column_int64(st, 2);
        const char *cvr = (const char *)sqlite3_column_text(st, 3);
        const char *reporter = (const char *)sqlite3_column_text(st, 4);
        int32_t valid_from = (int32_t)sqlite3_column_int64(st, 5);
        int64_t vt = sqlite3_column_int64(st, 6);
        int32_t valid_to = vt < 0 ? DFDG_DATE_NONE : (int32_t)vt;
        int64_t recorded_at = sqlite3_column_int64(st, 7);
        int kind = sqlite3_column_int(st, 8);
        const char *target = (const char *)sqlite3_column_text(st, 9);
        const uint8_t *hash = sqlite3_column_blob(st, 10);
        const char *data = (const char *)sqlite3_column_text(st, 11);
        const char *reason = (const char *)sqlite3_column_text(st, 12);

        const struct dfdg_type *t = dfdg_catalog_find(cat, type);
        assert_non_null(t);
        per_type[t - cat->types]++;

        /* Ids: UUIDv7 whose time is recorded_at's millisecond; times in the past. */
        assert_true(dfdg_uuid_is_valid(id));
        assert_int_equal(id[14], '7');
        char ms_hex[16];
        snprintf(ms_hex, sizeof ms_hex, "%08llx%04llx",
                 (unsigned long long)((recorded_at / 1000) >> 16),
                 (unsigned long long)((recorded_at / 1000) & 0xffff));
        assert_memory_equal(id, ms_hex, 8);
        assert_memory_equal(id + 9, ms_hex + 8, 4);
        assert_true(recorded_at > 0 && recorded_at < cap_us);

        /* Reporter kind and subject. */
        char code[64];
        enum dfdg_org_kind k = kind_of(reporter, code, sizeof code);
        assert_true(dfdg_type_has_reporter(t, k));
        assert_true(k == DFDG_KIND_KOMMUNE || k == DFDG_KIND_AKASSE || k == DFDG_KIND_CITIZEN);
        if (t->subject == DFDG_SUBJECT_COMPANY) {
            char norm[DFDG_CVR_LEN];
            assert_non_null(cvr);
            assert_int_equal(dfdg_cvr_parse(cvr, strlen(cvr), norm, NULL), DFDG_OK);
            assert_true(person_id == 0);
            company++;
        } else {
            assert_null(cvr);
            assert_true(person_id > 0);
        }

        /* The report rules on valid_from (cancellations inherit the target's). */
        if (k == DFDG_KIND_CITIZEN) {
            char self[64];
            snprintf(self, sizeof self, "citizen:%lld", (long long)person_id);
            assert_string_equal(reporter, self);
            citizen++;
        } else if (k == DFDG_KIND_KOMMUNE && t->subject == DFDG_SUBJECT_PERSON) {
            char kode[4];
            assert_int_equal(dfdg_store_residence_on(a.s, person_id, valid_from, kode), DFDG_OK);
            assert_string_equal(kode, code);
            kommune_checked++;
        } else if (k == DFDG_KIND_AKASSE && t->subject == DFDG_SUBJECT_PERSON &&
                   strcmp(type, "akasse-membership") != 0) {
            bool member = false;
            assert_int_equal(dfdg_store_is_member_on(a.s, person_id, reporter, valid_from, &member),
                             DFDG_OK);
            assert_true(member);
            akasse_checked++;
        }

        /* Data and the content hash ingest would compute. */
        struct dfdg_ingest_item it;
        memset(&it, 0, sizeof it);
        it.kind = (enum dfdg_record_kind)kind;
        dfdg_strlcpy(it.target_id, target != NULL ? target : "", sizeof it.target_id);
        it.data = (char *)data;
        it.reason = (char *)reason;
        if (kind == DFDG_RECORD_CANCELLATION) {
            assert_string_equal(data, "{}");
            assert_non_null(reason);
            assert_true(strlen(reason) > 0);
            it.valid_from = 0;
            it.valid_to = DFDG_DATE_NONE;
        } else {
            assert_null(reason);
            json_error_t jerr;
            json_t *j = json_loads(data, 0, &jerr);
            assert_non_null(j);
            struct dfdg_verrors ve = {0};
            if (dfdg_catalog_validate_data(t, j, k, &ve) != DFDG_OK)
                fail_msg("type %s: %s: %s", type, ve.e[0].field, ve.e[0].message);
            /* Stored in canonical form. */
            char *canon = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
            assert_string_equal(canon, data);
            free(canon);
            json_decref(j);
            it.type = t;
            if (t->subject == DFDG_SUBJECT_COMPANY)
                dfdg_strlcpy(it.cvr, cvr, sizeof it.cvr);
            else
                cpr_of(db, person_id, it.cpr);
            it.valid_from = valid_from;
            it.valid_to = valid_to;
        }
        dfdg_ingest_hash(&it);
        assert_memory_equal(it.content_hash, hash, 32);
    }
    sqlite3_finalize(st);

    /* Every catalog type appears. */
    for (size_t i = 0; i < cat->ntypes; i++)
        if (per_type[i] == 0)
            fail_msg("type %s does not appear among %zu records", cat->types[i].code, n);
    free(per_type);
    assert_true(kommune_checked > 500 && akasse_checked > 500 && citizen > 100 && company > 10);
    /* About 20 records a person. */
    assert_in_range(n, 15 * PERSONS, 25 * PERSONS);

    /* Corrections and cancellations: a chain, later, same reporter, type and subject. */
    assert_int_equal(raw_int(db, "SELECT count(*) FROM (SELECT target_id FROM record WHERE"
                                 " target_id IS NOT NULL GROUP BY target_id HAVING count(*) > 1)"),
                     0);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM record s LEFT JOIN record t ON t.id ="
                                 " s.target_id WHERE s.target_id IS NOT NULL AND (t.id IS NULL OR"
                                 " t.kind = 2 OR s.recorded_at <= t.recorded_at OR s.reporter !="
                                 " t.reporter OR s.type != t.type OR s.valid_from != t.valid_from"
                                 " OR ifnull(s.person_id, 0) != ifnull(t.person_id, 0)"
                                 " OR ifnull(s.cvr, '') != ifnull(t.cvr, ''))"),
                     0);
    assert_true(raw_int(db, "SELECT count(*) FROM record WHERE kind = 1") > 10);
    assert_true(raw_int(db, "SELECT count(*) FROM record WHERE kind = 2") > 10);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM record WHERE kind = 1 AND type !="
                                 " 'akasse-membership'"),
                     (int64_t)a.st.corrections -
                         raw_int(db, "SELECT count(*) FROM record WHERE kind = 1 AND type ="
                                     " 'akasse-membership'"));
    sqlite3_close(db);
}

/* --- persons and orgs ---------------------------------------------------------------------- */

static void
test_persons(void **state)
{
    (void)state;
    size_t no_mod11 = 0, changers = 0, protected = 0, with_children = 0, moved = 0;
    for (int64_t pid = 1; pid <= PERSONS; pid++) {
        struct dfdg_person p = {0};
        assert_int_equal(dfdg_store_person_get(a.s, pid, &p), DFDG_OK);
        struct dfdg_cpr cpr;
        assert_int_equal(dfdg_cpr_parse(p.cpr, strlen(p.cpr), &cpr, NULL), DFDG_OK);
        assert_int_equal(cpr.birthdate, p.birthdate);
        assert_string_equal(p.sex, cpr.male ? "M" : "F");
        int y, m, d;
        dfdg_date_to_ymd(p.birthdate, &y, &m, &d);
        assert_in_range(y, 1955, 2007);
        no_mod11 += !dfdg_cpr_has_mod11(p.cpr);
        assert_true(p.first[0] != '\0' && p.last[0] != '\0');
        for (size_t i = 0; i < p.nprevious; i++) {
            int64_t other;
            assert_int_equal(dfdg_store_person_resolve(a.s, p.previous[i], &other), DFDG_OK);
            assert_true(other == pid);
            assert_int_equal(dfdg_cpr_parse(p.previous[i], 10, &cpr, NULL), DFDG_OK);
        }
        changers += p.nprevious > 0;
        protected += p.nprotection > 0;
        with_children += p.nchildren > 0;
        moved += p.naddresses > 1;
        /* Addresses follow each other: 'to' (exclusive) is the next 'from'; the last is open. */
        assert_true(p.naddresses >= 1 && p.naddresses <= 3);
        for (size_t i = 0; i + 1 < p.naddresses; i++)
            assert_int_equal(p.addresses[i].to, p.addresses[i + 1].from);
        assert_int_equal(p.addresses[p.naddresses - 1].to, DFDG_DATE_NONE);
        dfdg_person_cleanup(&p);
    }
    assert_true(no_mod11 >= 1 && no_mod11 < PERSONS / 10);
    assert_true(changers >= 1);
    assert_true(protected >= 1 && protected < PERSONS / 20);
    assert_true(with_children > PERSONS / 10);
    assert_true(moved > PERSONS / 10);

    sqlite3 *db = raw_open(a.path);
    /* Every kommune has residents; numbers are unique; the big cities are biggest. */
    assert_int_equal(raw_int(db, "SELECT count(DISTINCT kommunekode) FROM person_address"), 98);
    assert_int_equal(raw_int(db, "SELECT count(*) - count(DISTINCT cpr) FROM person_cpr"), 0);
    assert_true(raw_int(db, "SELECT count(*) FROM person_address WHERE kommunekode = '101'") >
                raw_int(db, "SELECT count(*) FROM person_address WHERE kommunekode = '825'"));
    /* A-kasse membership for roughly three in four of those of working age. */
    int64_t members = raw_int(db, "SELECT count(DISTINCT person_id) FROM record"
                                  " WHERE type = 'akasse-membership'");
    assert_in_range(members, PERSONS / 2, PERSONS * 9 / 10);
    sqlite3_close(db);
}

static void
test_orgs_inserted(void **state)
{
    (void)state;
    /* The stores were made without orgs: the seed added what it reports as. */
    assert_true(a.st.orgs_added >= 98 + 8);
    struct dfdg_org o;
    assert_int_equal(dfdg_store_org_get(a.s, "kommune:825", &o), DFDG_OK);
    assert_string_equal(o.kind, "kommune");
    assert_int_equal(dfdg_store_org_get(a.s, "akasse:3f", &o), DFDG_OK);
    sqlite3 *db = raw_open(a.path);
    /* Every reporter and every referred actor exists as an org. */
    assert_int_equal(raw_int(db,
                             "SELECT count(*) FROM record WHERE reporter NOT LIKE 'citizen:%' AND"
                             " reporter NOT IN (SELECT org_id FROM org)"),
                     0);
    assert_true(raw_int(db, "SELECT count(*) FROM record WHERE type = 'other-actor-referral'") > 0);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM record WHERE type = 'other-actor-referral'"
                                 " AND kind != 2 AND 'aktoer:' || json_extract(data, '$.actor_cvr')"
                                 " NOT IN (SELECT org_id FROM org WHERE kind = 'aktoer')"),
                     0);
    sqlite3_close(db);
}

static void
test_refuses_populated_store_and_bad_options(void **state)
{
    (void)state;
    struct dfdg_errinfo ei = {0};
    struct dfdg_seed_opts o = {.seed = 7, .persons = 10};
    struct dfdg_seed_stats st;
    assert_int_equal(dfdg_seed_run(a.s, cat, &o, &st, &ei), DFDG_CONFLICT);
    assert_non_null(strstr(ei.msg, "already holds"));
    int64_t n;
    assert_int_equal(dfdg_store_count_records(a.s, &n), DFDG_OK);
    assert_true((uint64_t)n == a.st.records);

    char path[512];
    snprintf(path, sizeof path, "%s/test_seed_%ld_bad.db", DFDG_TEST_TMP, (long)getpid());
    remove_store(path);
    struct dfdg_store *s = NULL;
    assert_int_equal(dfdg_store_open(path, DFDG_STORE_CREATE, &s, &ei), DFDG_OK);
    o.persons = 0;
    assert_int_equal(dfdg_seed_run(s, cat, &o, &st, &ei), DFDG_INVAL);
    o.persons = DFDG_SEED_MAX_PERSONS + 1;
    assert_int_equal(dfdg_seed_run(s, cat, &o, &st, &ei), DFDG_INVAL);
    assert_int_equal(dfdg_store_count_persons(s, &n), DFDG_OK);
    assert_int_equal(n, 0);
    dfdg_store_close(s);
    remove_store(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_history),
        cmocka_unit_test(test_other_seed_differs),
        cmocka_unit_test(test_records_keep_the_rules),
        cmocka_unit_test(test_persons),
        cmocka_unit_test(test_orgs_inserted),
        cmocka_unit_test(test_refuses_populated_store_and_bad_options),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
