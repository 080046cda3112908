/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gen.c: what bench_audit's parts share: a small reproducible random generator, synthetic
 * audit entries shaped like the ones the server writes (src/exchange/ingest.c and
 * src/api/server.c build theirs with the same dfdg_audit_event_* calls), and the latency
 * figures and microsecond format of the report.
 */
#include "core/dfdg.h"
#include "audit.h"
#include "audit/auditlog.h"
#include "authz/access.h"

void
bench_rng_init(struct bench_rng *r, uint64_t seed)
{
    /* splitmix64 of the seed, so nearby seeds give unrelated streams and the state is not 0 */
    uint64_t z = seed + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    r->s = z != 0 ? z : 1;
}

uint64_t
bench_rng_next(struct bench_rng *r)
{
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return x * 0x2545f4914f6cdd1dull;
}

uint64_t
bench_rng_below(struct bench_rng *r, uint64_t n)
{
    return bench_rng_next(r) % n;
}

static const char *const types[] = {"absence", "job-seeker-status", "akasse-membership",
                                    "availability", "sick-leave"};

json_t *
bench_audit_event(struct bench_rng *r, int64_t unix_ms)
{
    /* Most traffic is reports (201), then reads (status 0), then corrections (200). */
    uint64_t kind = bench_rng_below(r, 10);
    const char *action = kind < 6 ? "record.create" : kind < 9 ? "record.read" : "record.correct";
    int status = kind < 6 ? 201 : kind < 9 ? 0 : 200;
    char org[32], sub[32];
    snprintf(org, sizeof org, "kommune:%u", 101 + (unsigned)bench_rng_below(r, 760));
    snprintf(sub, sizeof sub, "sb%05u", (unsigned)bench_rng_below(r, 100000));
    json_t *ev =
        dfdg_audit_event_new(org, sub, action, dfdg_purpose_name(DFDG_PURPOSE_CASE_HANDLING),
                             dfdg_purpose_legal_basis(DFDG_PURPOSE_CASE_HANDLING), NULL);
    if (ev == NULL)
        return NULL;
    int64_t persons[2];
    size_t np = bench_rng_below(r, 4) == 0 ? 2 : 1;
    for (size_t i = 0; i < np; i++)
        persons[i] = 1 + (int64_t)bench_rng_below(r, 6000000);
    /* 1 record (60%), 2 (30%) or 3 (10%) */
    uint64_t rr = bench_rng_below(r, 10);
    size_t nr = rr < 6 ? 1 : rr < 9 ? 2 : 3;
    const char *type = types[bench_rng_below(r, DFDG_ARRAY_LEN(types))];
    for (size_t i = 0; i < nr; i++) {
        char id[DFDG_UUID_LEN];
        dfdg_uuid7_make(unix_ms, id);
        dfdg_audit_event_add_record(ev, id, type, persons[i % np], status, NULL);
    }
    dfdg_audit_event_set_persons(ev, persons, np);
    return ev;
}

void
bench_lat_of(double *v, size_t n, struct bench_lat *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return;
    qsort(v, n, sizeof *v, bench_cmp_double);
    out->n = n;
    out->p50 = v[(size_t)(0.50 * (double)(n - 1))];
    out->p99 = v[(size_t)(0.99 * (double)(n - 1))];
    out->max = v[n - 1];
}

const char *
bench_us(double seconds, char buf[32])
{
    double us = seconds * 1e6;
    snprintf(buf, 32, us < 10 ? "%.2f us" : us < 100 ? "%.1f us" : "%.0f us", us);
    return buf;
}
