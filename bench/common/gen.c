/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gen.c: the benchmark's synthetic data, deterministic for a run id. Persons have unique CPR
 * numbers with real birth dates (1950-1989; serials 0000-3999, so the 7th digit puts them in
 * the 1900s) and live in kommune 101 since 2000-01-01. Records are "absence" reports (the
 * required fields of catalog/types/absence.json) valid in 2024, so kommune:101 may report
 * every one of them; each has its own source_ref, so none is an idempotent replay.
 */
#include "core/dfdg.h"
#include "bench_common.h"
#include "core/when.h"
#include "exchange/ingest.h"

#include <errno.h>
#include <sys/types.h>
#include <jansson.h>

#define BIRTH_DAYS 14600u /* 1950-01-01 + 40 years of birth dates */

void
bench_person_cpr(size_t i, char out[DFDG_CPR_LEN])
{
    int y, m, d;
    dfdg_date_to_ymd(dfdg_date_from_ymd(1950, 1, 1) + (int32_t)(i % BIRTH_DAYS), &y, &m, &d);
    unsigned serial = (unsigned)(i / BIRTH_DAYS) % 4000u;
    char digits[48]; /* room for any int, so the compiler sees no truncation */
    snprintf(digits, sizeof digits, "%02d%02d%02d%04u", d, m, y % 100, serial);
    dfdg_strlcpy(out, digits, DFDG_CPR_LEN);
}

dfdg_err
bench_write_persons(const char *path, size_t n, struct dfdg_errinfo *ei)
{
    if (n == 0 || n > BENCH_MAX_PERSONS)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "persons: 1 to %u", BENCH_MAX_PERSONS);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return dfdg_errinfo_set(ei, DFDG_IO, "%s: %s", path, strerror(errno));
    for (size_t i = 0; i < n; i++) {
        char cpr[DFDG_CPR_LEN], birth[DFDG_DATE_LEN];
        bench_person_cpr(i, cpr);
        dfdg_date_format(dfdg_date_from_ymd(1950, 1, 1) + (int32_t)(i % BIRTH_DAYS), birth);
        fprintf(f,
                "{\"cpr\":\"%s\",\"previous_cprs\":[],\"birthdate\":\"%s\",\"sex\":\"%s\","
                "\"status\":\"active\",\"name\":{\"first\":\"Bench\",\"middle\":null,"
                "\"last\":\"Person%zu\"},\"addresses\":[{\"kommunekode\":\"" BENCH_KOMMUNE "\","
                "\"road\":\"Benchvej\",\"house\":\"%zu\",\"postcode\":\"1165\","
                "\"city\":\"K\\u00f8benhavn K\",\"from\":\"2000-01-01\",\"to\":null}],"
                "\"address_protection\":[],\"children_birthdates\":[]}\n",
                cpr, birth, (cpr[9] - '0') % 2 ? "M" : "F", i, i % 200 + 1);
    }
    if (ferror(f) | (fclose(f) != 0))
        return dfdg_errinfo_set(ei, DFDG_IO, "%s: write failed", path);
    return DFDG_OK;
}

dfdg_err
bench_read_cprs(const char *path, char (**out)[DFDG_CPR_LEN], size_t *n, struct dfdg_errinfo *ei)
{
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return dfdg_errinfo_set(ei, DFDG_IO, "%s: %s", path, strerror(errno));
    dfdg_err rc = DFDG_OK;
    char *line = NULL;
    size_t linecap = 0, cap = 0, lineno = 0;
    char(*cprs)[DFDG_CPR_LEN] = NULL;
    ssize_t len;
    while ((len = getline(&line, &linecap, f)) > 0) {
        lineno++;
        json_t *o = json_loadb(line, (size_t)len, 0, NULL);
        const char *cpr = json_string_value(json_object_get(o, "cpr"));
        if (cpr == NULL || strlen(cpr) != 10 || strspn(cpr, "0123456789") != 10) {
            json_decref(o);
            rc = dfdg_errinfo_set(ei, DFDG_INVAL, "%s:%zu: no 10-digit \"cpr\"", path, lineno);
            goto free_all;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 1024;
            void *grown = realloc(cprs, cap * sizeof *cprs);
            if (grown == NULL) {
                json_decref(o);
                rc = dfdg_errinfo_set(ei, DFDG_NOMEM, "reading %s", path);
                goto free_all;
            }
            cprs = grown;
        }
        dfdg_strlcpy(cprs[(*n)++], cpr, DFDG_CPR_LEN);
        json_decref(o);
    }
    if (*n == 0) {
        rc = dfdg_errinfo_set(ei, DFDG_INVAL, "%s: no persons", path);
        goto free_all;
    }
    free(line);
    fclose(f);
    *out = cprs;
    return DFDG_OK;

free_all:
    free(cprs);
    *n = 0;
    free(line);
    fclose(f);
    return rc;
}

void
bench_record(const char *run, size_t i, char (*cprs)[DFDG_CPR_LEN], size_t ncprs,
             struct bench_rec *out)
{
    out->person = i % ncprs;
    dfdg_strlcpy(out->cpr, cprs[out->person], sizeof out->cpr);
    snprintf(out->source_ref, sizeof out->source_ref, "bench-%s-%zu", run, i);
    out->valid_from = dfdg_date_from_ymd(2024, 1, 1) + (int32_t)(i % 366);
    out->valid_to = out->valid_from + 13;
    char notified[DFDG_DATE_LEN];
    dfdg_date_format(out->valid_from - 3, notified);
    /* Canonical form, as the server stores it: compact, keys sorted. */
    snprintf(out->data, sizeof out->data, "{\"absence_type\":\"10\",\"notification_date\":\"%s\"}",
             notified);
}

size_t
bench_record_json(const struct bench_rec *r, char *buf, size_t cap)
{
    char from[DFDG_DATE_LEN], to[DFDG_DATE_LEN];
    dfdg_date_format(r->valid_from, from);
    dfdg_date_format(r->valid_to, to);
    int n = snprintf(buf, cap,
                     "{\"type\":\"" BENCH_TYPE "\",\"cpr\":\"%s\",\"source_ref\":\"%s\","
                     "\"valid_from\":\"%s\",\"valid_to\":\"%s\",\"data\":%s}",
                     r->cpr, r->source_ref, from, to, r->data);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

void
bench_record_hash(const struct bench_rec *r, uint8_t out[32])
{
    /* The server's own function, so the baseline stores the very same hash. */
    static char code[] = BENCH_TYPE;
    struct dfdg_type type = {.code = code};
    struct dfdg_ingest_item it = {0};
    it.kind = DFDG_RECORD_ORIGINAL;
    it.type = &type;
    dfdg_strlcpy(it.cpr, r->cpr, sizeof it.cpr);
    dfdg_strlcpy(it.source_ref, r->source_ref, sizeof it.source_ref);
    it.valid_from = r->valid_from;
    it.valid_to = r->valid_to;
    it.data = (char *)r->data;
    dfdg_ingest_hash(&it);
    memcpy(out, it.content_hash, 32);
}
