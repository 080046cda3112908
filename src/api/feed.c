/* SPDX-License-Identifier: Apache-2.0 */
/*
 * feed.c: GET /v1/feed?after=&limit=&wait= (DESIGN section 5): the caller org's deliveries in
 * commit order after an opaque cursor.
 *
 * Invariants:
 *   1. The cursor is the seq of the last delivery handed out. Deliveries get their seq in
 *      commit order (one writer; see store), so a cursor never skips a delivery and never
 *      repeats one.
 *   2. Every delivery handed out is recorded as a disclosure (org, user, purpose, legal basis)
 *      in a committed transaction before the response leaves.
 *   3. A waiting consumer holds no server thread: its connection is suspended until a commit
 *      delivers to its org (feedwait announces it) or its wait runs out.
 *
 * States: QUERY -> (nothing, may wait) WAITING -> QUERY ... -> (items, or the wait is over)
 *         LOGGING -> REPLY
 */
#include "core/dfdg.h"
#include "api/api_int.h"
#include "api/query.h"
#include "exchange/present.h"
#include "audit/auditlog.h"
#include "core/when.h"

#define FEED_LIMIT_DEFAULT 100
#define FEED_LIMIT_MAX 1000
#define FEED_WAIT_MAX 60 /* seconds */
#define CURSOR_PREFIX "v1."

struct feed_state {
    struct dfdg_write_req wr;     /* the disclosures' write (first: the writer hands it back) */
    struct dfdg_req *r;           /* the request */
    int64_t after;                /* cursor position */
    size_t limit;                 /* most items */
    int64_t deadline_us;          /* monotonic end of the wait, 0 = do not wait */
    json_t *items;                /* the items to answer */
    int64_t last_seq;             /* seq of the last item */
    bool more;                    /* more deliveries follow */
    struct dfdg_disclosure *disc; /* one per item */
    size_t ndisc;
};

static void
feed_free(void *p)
{
    struct feed_state *f = p;
    json_decref(f->items);
    free(f->disc);
    free(f);
}

static void
format_cursor(int64_t seq, char *buf, size_t size)
{
    snprintf(buf, size, CURSOR_PREFIX "%lld", (long long)seq);
}

static bool
item_cb(const struct dfdg_delivery *d, const struct dfdg_record *rec, const char *cpr, void *ctx)
{
    struct feed_state *f = ctx;
    if (json_array_size(f->items) == f->limit) {
        f->more = true;
        return false;
    }
    char cur[32];
    format_cursor(d->seq, cur, sizeof cur);
    json_t *record = dfdg_present_record(rec, cpr[0] != '\0' ? cpr : NULL);
    json_array_append_new(f->items, json_pack("{s:s, s:s, s:o}", "cursor", cur, "reason", d->reason,
                                              "record", record));
    f->last_seq = d->seq;
    struct dfdg_disclosure *x = &f->disc[f->ndisc++];
    memset(x, 0, sizeof *x);
    dfdg_strlcpy(x->org_id, f->r->actor.org, sizeof x->org_id);
    dfdg_strlcpy(x->sub, f->r->actor.sub, sizeof x->sub);
    x->person_id = rec->person_id;
    dfdg_strlcpy(x->record_id, rec->id, sizeof x->record_id);
    dfdg_strlcpy(x->type, rec->type, sizeof x->type);
    dfdg_strlcpy(x->purpose, dfdg_purpose_name(f->r->actor.purpose), sizeof x->purpose);
    dfdg_type_legal_basis(dfdg_catalog_find(f->r->st->cat, rec->type), x->legal_basis,
                          sizeof x->legal_basis);
    dfdg_strlcpy(x->channel, "feed", sizeof x->channel);
    return true;
}

static dfdg_err
log_disclosures(struct dfdg_tx *tx, struct dfdg_write_req *wr)
{
    struct feed_state *f = (struct feed_state *)wr;
    struct dfdg_req *r = f->r;
    json_t *ev = dfdg_audit_event_new(r->actor.org, r->actor.sub, "feed.read",
                                      dfdg_purpose_name(r->actor.purpose),
                                      dfdg_purpose_legal_basis(r->actor.purpose), NULL);
    if (ev == NULL)
        return DFDG_NOMEM;
    dfdg_err rc = DFDG_OK;
    int64_t *persons = malloc((f->ndisc + 1) * sizeof *persons);
    if (persons == NULL) {
        json_decref(ev);
        return DFDG_NOMEM;
    }
    for (size_t i = 0; i < f->ndisc; i++)
        persons[i] = f->disc[i].person_id;
    dfdg_audit_event_set_persons(ev, persons, f->ndisc);
    free(persons);
    for (size_t i = 0; i < f->ndisc && rc == DFDG_OK; i++) {
        f->disc[i].at = tx->time;
        rc = dfdg_store_disclosure_insert(tx->store, &f->disc[i]);
        dfdg_audit_event_add_record(ev, f->disc[i].record_id, f->disc[i].type, f->disc[i].person_id,
                                    0, NULL);
        dfdg_audit_event_add_legal_basis(ev, f->disc[i].legal_basis);
    }
    if (rc == DFDG_OK)
        rc = dfdg_audit_append(tx->audit, tx->store, ev, tx->time);
    json_decref(ev);
    return rc;
}

static void
reply(struct dfdg_req *r)
{
    struct feed_state *f = r->ext;
    if (f->wr.rc != DFDG_OK) {
        /* Nothing may leave unlogged: the consumer asks again with the same cursor. */
        dfdg_reply_err(r, f->wr.rc, "the feed could not be logged; try again");
        return;
    }
    char cur[32];
    format_cursor(json_array_size(f->items) > 0 ? f->last_seq : f->after, cur, sizeof cur);
    json_t *body = json_pack("{s:O, s:s, s:b}", "items", f->items, "cursor", cur, "more", f->more);
    dfdg_reply_json(r, 200, body);
}

static void run(struct dfdg_req *r);

static void
before_wait(void *ctx)
{
    struct dfdg_req *r = ctx;
    dfdg_req_suspend(r, run);
}

static void
wake(void *ctx)
{
    dfdg_req_wake(ctx);
}

/* Queries; then answers, logs and answers, or waits. */
static void
run(struct dfdg_req *r)
{
    struct feed_state *f = r->ext;
    for (int attempt = 0; attempt < 3; attempt++) {
        json_decref(f->items);
        f->items = json_array();
        f->ndisc = 0;
        f->more = false;
        struct dfdg_store *s = dfdg_store_pool_take(r->st->readers);
        dfdg_err rc = dfdg_store_feed(s, r->actor.org, f->after, f->limit + 1, item_cb, f);
        dfdg_store_pool_put(r->st->readers, s);
        if (rc != DFDG_OK) {
            dfdg_reply_err(r, rc, NULL);
            return;
        }
        if (json_array_size(f->items) > 0) {
            f->wr.apply = log_disclosures;
            dfdg_req_submit_write(r, &f->wr, reply);
            return;
        }
        if (f->deadline_us == 0 || dfdg_feedwait_now() >= f->deadline_us)
            break;
        /* Registering fails when a delivery was announced since the query: query again. A
         * wake that brings nothing for this org (a poke) just waits on until the deadline. */
        if (dfdg_feedwait_register(r->st->feedwait, r->actor.org, f->after, f->deadline_us,
                                   before_wait, wake, r)) {
            return;
        }
    }
    f->wr.rc = DFDG_OK;
    reply(r);
}

void
dfdg_h_feed(struct dfdg_req *r)
{
    struct dfdg_verrors ve = {0};
    struct feed_state *f = calloc(1, sizeof *f);
    if (f == NULL) {
        dfdg_reply_err(r, DFDG_NOMEM, NULL);
        return;
    }
    f->r = r;
    r->ext = f;
    r->ext_free = feed_free;
    if (!dfdg_query_parse_cursor(dfdg_req_query(r, "after"), CURSOR_PREFIX, &f->after))
        dfdg_verrors_add(&ve, "after", "cursor", "after must be a cursor from an earlier feed");
    f->limit = FEED_LIMIT_DEFAULT;
    const char *l = dfdg_req_query(r, "limit");
    long n;
    if (l != NULL) {
        if (!dfdg_query_parse_long(l, 1, FEED_LIMIT_MAX, &n))
            dfdg_verrors_add(&ve, "limit", "range", "limit must be 1 to %d", FEED_LIMIT_MAX);
        else
            f->limit = (size_t)n;
    }
    const char *w = dfdg_req_query(r, "wait");
    if (w != NULL) {
        if (!dfdg_query_parse_long(w, 0, FEED_WAIT_MAX, &n))
            dfdg_verrors_add(&ve, "wait", "range", "wait must be 0 to %d seconds", FEED_WAIT_MAX);
        else if (n > 0)
            f->deadline_us = dfdg_feedwait_now() + (int64_t)n * 1000000;
    }
    if (ve.n > 0) {
        dfdg_reply_invalid(r, &ve);
        return;
    }
    f->disc = calloc(f->limit + 1, sizeof *f->disc);
    if (f->disc == NULL) {
        dfdg_reply_err(r, DFDG_NOMEM, NULL);
        return;
    }
    run(r);
}
