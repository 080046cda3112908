/* SPDX-License-Identifier: Apache-2.0 */
/*
 * retention.c: deleting chains past their type's retention period (see retention.h; GDPR
 * art. 5(1)(e)).
 *
 * Invariants:
 *   1. A chain is deleted whole (every version and every delivery) or not at all, and only
 *      when it ended before its type's cutoff: the store's scan finds it and the store's
 *      delete checks again, in the same transaction, that it is still the chain's last version.
 *   2. Every transaction that deletes appends exactly one audit entry naming every record it
 *      deleted and the persons they concerned, and signs a tree head, before it commits; a
 *      transaction that deletes nothing writes nothing and is rolled back.
 *   3. The in-memory audit state follows the store: it is brought up to date under the write
 *      lock before each batch (a running server may have appended meanwhile) and reset to its
 *      mark when a batch does not commit.
 *   4. A dry run writes nothing and takes no write lock; it counts what a real run on the same
 *      data would delete (held chains included).
 *   5. The statistics count committed work only.
 */
#include "core/dfdg.h"
#include "exchange/retention.h"
#include "audit/auditlog.h"
#include "core/when.h"

#include <time.h>

/* GDPR art. 5(1)(e): kept no longer than necessary for the purposes. */
#define RETENTION_LEGAL_BASIS "GDPR art. 5(1)(e)"

static int
days_in_month(int y, int m)
{
    for (int d = 31; d > 28; d--) {
        if (dfdg_date_is_valid_ymd(y, m, d))
            return d;
    }
    return 28;
}

int32_t
dfdg_retention_add_years(int32_t day, int years)
{
    int y, m, d;
    dfdg_date_to_ymd(day, &y, &m, &d);
    if (years < 0 || y < 1 || y > 9999 - years)
        return DFDG_DATE_NONE;
    int ny = y + years;
    int dim = days_in_month(ny, m);
    return dfdg_date_from_ymd(ny, m, d <= dim ? d : dim);
}

int32_t
dfdg_retention_cutoff(int32_t today, int years)
{
    int32_t first = dfdg_date_from_ymd(1, 1, 1);
    int y, m, d;
    dfdg_date_to_ymd(today, &y, &m, &d);
    if (years < 0 || y - years < 1)
        return first; /* no real day ended that long before today */
    int cy = y - years;
    int dim = days_in_month(cy, m);
    int32_t c = dfdg_date_from_ymd(cy, m, d <= dim ? d : dim);
    /*
     * Settle c so that add_years(c - 1) < today <= add_years(c): add_years never decreases, so
     * then exactly the days before c are past. The guess is off by at most a day or two (29
     * February), so the loops are short.
     */
    while (dfdg_retention_add_years(c, years) < today)
        c++;
    while (c > first && dfdg_retention_add_years(c - 1, years) >= today)
        c--;
    return c;
}

void
dfdg_retention_stats_cleanup(struct dfdg_retention_stats *st)
{
    if (st == NULL)
        return;
    free(st->types);
    st->types = NULL;
    st->ntypes = 0;
}

static double
mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A chain found past retention, waiting in the batch. */
struct pending {
    struct dfdg_chain_end end; /* the chain */
    size_t type;               /* index into the run's types */
};

struct batch {
    struct pending *items; /* n of cap */
    size_t n;
    size_t cap;
    size_t type; /* the type being scanned */
};

static bool
collect_cb(const struct dfdg_chain_end *c, void *ctx)
{
    struct batch *b = ctx;
    b->items[b->n].end = *c;
    b->items[b->n].type = b->type;
    b->n++;
    return b->n < b->cap;
}

/* The audit entry of one transaction, filled as versions are deleted. */
struct entry {
    json_t *ev;       /* the entry (owned) */
    int64_t *persons; /* npersons of cap, repeats allowed (set_persons sorts them out) */
    size_t npersons;
    size_t cap;
    bool nomem; /* an allocation failed: the entry is incomplete and must not be written */
};

static bool
entry_add_cb(const struct dfdg_record *r, void *ctx)
{
    struct entry *e = ctx;
    dfdg_audit_event_add_record(e->ev, r->id, r->type, r->person_id, 0, "");
    if (r->person_id == 0)
        return true;
    if (e->npersons == e->cap) {
        size_t ncap = e->cap != 0 ? e->cap * 2 : 64;
        int64_t *p = realloc(e->persons, ncap * sizeof *p);
        if (p == NULL) {
            e->nomem = true;
            return true;
        }
        e->persons = p;
        e->cap = ncap;
    }
    e->persons[e->npersons++] = r->person_id;
    return true;
}

static bool
last_at_cb(int64_t idx, int64_t at, const char *entry, size_t len, void *ctx)
{
    (void)idx;
    (void)entry;
    (void)len;
    *(int64_t *)ctx = at;
    return false;
}

/*
 * Now, but never before the newest audit entry or tree head, so entry and head times do not go
 * back (a verifier refuses a head dated before the one it follows) even if this machine's clock
 * is behind the server's.
 */
static dfdg_err
entry_time(struct dfdg_store *s, int64_t *at /* OUT */)
{
    int64_t size = 0, last = 0;
    dfdg_err rc = dfdg_store_audit_size(s, &size);
    if (rc == DFDG_OK && size > 0)
        rc = dfdg_store_audit_scan(s, size - 1, last_at_cb, &last);
    struct dfdg_sth h;
    dfdg_err r2 = rc == DFDG_OK ? dfdg_store_sth_latest(s, &h) : DFDG_NOT_FOUND;
    if (r2 == DFDG_OK && h.at > last)
        last = h.at;
    else if (r2 != DFDG_NOT_FOUND)
        rc = r2;
    int64_t now = dfdg_time_now_us();
    *at = now > last ? now : last + 1;
    return rc;
}

/* Per-type counts of the batch in hand, added to the run's statistics once it commits. */
static void
tally(struct dfdg_retention_stats *st, const struct dfdg_retention_type *delta)
{
    for (size_t i = 0; i < st->ntypes; i++) {
        st->types[i].chains += delta[i].chains;
        st->types[i].records += delta[i].records;
        st->types[i].deliveries += delta[i].deliveries;
        st->types[i].held += delta[i].held;
        st->chains += delta[i].chains;
        st->records += delta[i].records;
        st->deliveries += delta[i].deliveries;
        st->held += delta[i].held;
    }
}

static dfdg_err
store_fail(struct dfdg_store *s, dfdg_err rc, struct dfdg_errinfo *ei, const char *what)
{
    if (ei != NULL && ei->msg[0] != '\0')
        return rc;
    const char *detail = dfdg_store_last_error(s);
    return dfdg_errinfo_set(ei, rc, "retention: %s: %s", what,
                            detail[0] != '\0' ? detail : dfdg_err_message(rc));
}

/*
 * Scans from (*t, *cur) until the batch is full or every type is done, then deletes (or, dry,
 * counts) the chains collected into delta. *deleted is the number of chains deleted.
 */
static dfdg_err
batch_run(struct dfdg_store *s, struct dfdg_retention_stats *st, bool dry_run, struct batch *b,
          size_t *t, struct dfdg_chain_cursor *cur, struct dfdg_retention_type *delta,
          struct entry *e, uint64_t *deleted /* OUT */, struct dfdg_errinfo *ei)
{
    *deleted = 0;
    b->n = 0;
    while (*t < st->ntypes && b->n < b->cap) {
        b->type = *t;
        dfdg_err rc = dfdg_store_chains_ended(s, st->types[*t].code, st->types[*t].cutoff, cur,
                                              collect_cb, b);
        if (rc != DFDG_OK)
            return store_fail(s, rc, ei, "finding chains past retention");
        if (cur->phase == 2) {
            (*t)++;
            memset(cur, 0, sizeof *cur);
        }
    }
    for (size_t i = 0; i < b->n; i++) {
        const struct pending *p = &b->items[i];
        struct dfdg_chain_deleted out;
        dfdg_err rc = dfdg_store_chain_delete(s, p->end.last_id, dry_run,
                                              dry_run ? NULL : entry_add_cb, e, &out);
        if (rc != DFDG_OK)
            return store_fail(s, rc, ei, "deleting a chain");
        struct dfdg_retention_type *d = &delta[p->type];
        if (out.held) {
            d->held++;
            continue;
        }
        d->chains++;
        d->records += out.records;
        d->deliveries += out.deliveries;
        (*deleted)++;
    }
    if (e->nomem)
        return dfdg_errinfo_set(ei, DFDG_NOMEM, "retention: out of memory for the audit entry");
    return DFDG_OK;
}

/* Appends the batch's audit entry and signs a tree head, in the batch's transaction. */
static dfdg_err
batch_account(struct dfdg_store *s, struct dfdg_audit *a, struct entry *e, bool *signed_out,
              struct dfdg_errinfo *ei)
{
    int64_t at;
    dfdg_err rc = entry_time(s, &at);
    if (rc != DFDG_OK)
        return store_fail(s, rc, ei, "reading the audit log");
    /* A batch of company records only has no persons: qsort must not get a NULL array. */
    int64_t none = 0;
    dfdg_audit_event_set_persons(e->ev, e->persons != NULL ? e->persons : &none, e->npersons);
    rc = dfdg_audit_append(a, s, e->ev, at);
    if (rc != DFDG_OK)
        return store_fail(s, rc, ei, "appending the audit entry");
    rc = dfdg_audit_sign(a, s, at);
    if (rc != DFDG_OK)
        return store_fail(s, rc, ei, "signing the audit log");
    *signed_out = true;
    return DFDG_OK;
}

static dfdg_err
types_init(const struct dfdg_catalog *cat, int32_t today, struct dfdg_retention_stats *st,
           struct dfdg_retention_type **delta /* OUT */)
{
    st->types = calloc(cat->ntypes != 0 ? cat->ntypes : 1, sizeof *st->types);
    *delta = calloc(cat->ntypes != 0 ? cat->ntypes : 1, sizeof **delta);
    if (st->types == NULL || *delta == NULL) {
        free(st->types);
        free(*delta);
        st->types = NULL;
        *delta = NULL;
        return DFDG_NOMEM;
    }
    st->ntypes = cat->ntypes;
    for (size_t i = 0; i < cat->ntypes; i++) {
        const struct dfdg_type *t = &cat->types[i];
        st->types[i].code = t->code;
        st->types[i].retention_years = t->retention_years;
        st->types[i].cutoff = dfdg_retention_cutoff(today, t->retention_years);
    }
    return DFDG_OK;
}

dfdg_err
dfdg_retention_run(struct dfdg_store *s, const struct dfdg_catalog *cat,
                   const struct dfdg_retention_opts *o, struct dfdg_retention_stats *st /* OUT */,
                   struct dfdg_errinfo *ei)
{
    if (st != NULL)
        memset(st, 0, sizeof *st);
    if (s == NULL || cat == NULL || o == NULL || st == NULL)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "retention: needs a store, a catalog and options");
    int y, m, d;
    dfdg_date_to_ymd(o->today, &y, &m, &d);
    if (o->today == DFDG_DATE_NONE || !dfdg_date_is_valid_ymd(y, m, d))
        return dfdg_errinfo_set(ei, DFDG_INVAL, "retention: today is not a real day");
    double t0 = mono_seconds();

    struct dfdg_retention_type *delta = NULL;
    dfdg_err rc = types_init(cat, o->today, st, &delta);
    if (rc != DFDG_OK)
        return dfdg_errinfo_set(ei, rc, "retention: out of memory");
    struct batch b = {0};
    b.cap = o->batch != 0 ? o->batch : DFDG_RETENTION_BATCH;
    b.items = malloc(b.cap * sizeof *b.items);
    struct dfdg_audit *a = NULL;
    if (b.items == NULL) {
        rc = dfdg_errinfo_set(ei, DFDG_NOMEM, "retention: out of memory");
        goto free_delta;
    }
    if (!o->dry_run) {
        rc = dfdg_audit_open(s, &a, ei);
        if (rc != DFDG_OK)
            goto free_batch;
    }

    size_t t = 0;
    struct dfdg_chain_cursor cur;
    memset(&cur, 0, sizeof cur);
    while (t < st->ntypes) {
        memset(delta, 0, st->ntypes * sizeof *delta);
        struct entry e = {0};
        struct dfdg_audit_mark mark;
        memset(&mark, 0, sizeof mark);
        bool signed_head = false;
        uint64_t deleted = 0;
        if (!o->dry_run) {
            rc = dfdg_store_begin(s);
            if (rc != DFDG_OK) {
                store_fail(s, rc, ei, "starting a transaction");
                break;
            }
            /* Under the write lock: catch up with entries a running server appended. */
            rc = dfdg_audit_sync(a, s);
            if (rc != DFDG_OK)
                store_fail(s, rc, ei, "reading the audit log");
            dfdg_audit_mark(a, &mark);
            e.ev = dfdg_audit_event_new("dfdg", "retention", "retention.delete", "",
                                        RETENTION_LEGAL_BASIS, "");
            if (rc == DFDG_OK && e.ev == NULL)
                rc = dfdg_errinfo_set(ei, DFDG_NOMEM, "retention: out of memory");
        }
        if (rc == DFDG_OK)
            rc = batch_run(s, st, o->dry_run, &b, &t, &cur, delta, &e, &deleted, ei);
        if (rc == DFDG_OK && !o->dry_run && deleted > 0)
            rc = batch_account(s, a, &e, &signed_head, ei);
        if (!o->dry_run) {
            if (rc == DFDG_OK && deleted > 0) {
                rc = dfdg_store_commit(s);
                if (rc != DFDG_OK)
                    store_fail(s, rc, ei, "committing");
            } else if (rc == DFDG_OK) {
                /* Nothing deleted (none found, or every chain held): nothing to keep. */
                (void)dfdg_store_rollback(s);
            }
            if (rc != DFDG_OK) {
                (void)dfdg_store_rollback(s);
                dfdg_audit_reset(a, &mark);
                if (signed_head)
                    dfdg_audit_sign_failed(a);
            }
        }
        json_decref(e.ev);
        free(e.persons);
        if (rc != DFDG_OK)
            break;
        tally(st, delta);
        if (!o->dry_run && deleted > 0)
            st->transactions++;
        st->seconds = mono_seconds() - t0;
        if (o->progress != NULL)
            o->progress(st, o->ctx);
    }
    st->seconds = mono_seconds() - t0;

    dfdg_audit_free(a);
free_batch:
    free(b.items);
free_delta:
    free(delta);
    return rc;
}
