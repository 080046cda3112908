/* SPDX-License-Identifier: Apache-2.0 */
/*
 * writer.c: one writer thread with group commit (see writer.h).
 *
 * Invariants:
 *   1. Only this thread writes to the store while the server runs.
 *   2. A request's done callback runs only after its transaction committed (rc DFDG_OK) or
 *      definitely did not (rc != DFDG_OK, nothing of it is in the store).
 *   3. Transaction times strictly increase from group to group, even if the clock steps back.
 *   4. The queue never holds more than queue_cap requests.
 *
 * States of a request: QUEUED -> (group taken) APPLYING -> COMMITTED | FAILED -> done().
 */
#include "core/dfdg.h"
#include "exchange/writer.h"
#include "audit/auditlog.h"
#include "core/log.h"
#include "core/when.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

/* A group never exceeds this many requests, so one huge burst still commits in slices. */
#define DFDG_WRITER_MAX_GROUP 4096
/* Tree heads are signed at least this often while audit entries arrive. */
#define DFDG_STH_INTERVAL_US 1000000

struct dfdg_writer {
    struct dfdg_store *store;    /* the writer's own connection (writer thread only) */
    pthread_t thread;            /* the writer thread */
    pthread_mutex_t lock;        /* guards the fields below */
    pthread_cond_t wake;         /* signalled on submit and on stop (lock) */
    struct dfdg_write_req *head; /* queue head (lock) */
    struct dfdg_write_req *tail; /* queue tail (lock) */
    size_t queued;               /* requests in the queue (lock) */
    size_t queue_cap;            /* bound on queued (immutable) */
    bool stopping;               /* no new submissions (lock) */
    int64_t last_tx_time;        /* writer thread only */
    struct dfdg_audit *audit;    /* the audit log (writer thread only) */
    int64_t last_sth_us;         /* when the newest tree head was signed (writer thread) */
    struct dfdg_writer_stats st; /* counters (lock) */
};

static void
finish_all(struct dfdg_write_req *list, dfdg_err rc, int64_t tx_time)
{
    while (list != NULL) {
        struct dfdg_write_req *next = list->next;
        list->next = NULL;
        if (rc != DFDG_OK)
            list->rc = rc;
        list->tx_time = tx_time;
        list->done(list);
        list = next;
    }
}

/* Counts a finished group; done callbacks run after this, so a submitter that has its answer
 * also sees its request in the stats. */
static void
count_group(struct dfdg_writer *w, size_t n, size_t failed)
{
    pthread_mutex_lock(&w->lock);
    w->st.groups++;
    w->st.requests += n - failed;
    w->st.failed += failed;
    pthread_mutex_unlock(&w->lock);
}

/* Runs one group of n requests in one transaction, then answers each. */
static void
run_group(struct dfdg_writer *w, struct dfdg_write_req *group, size_t n)
{
    int64_t tx_time = 0;
    struct dfdg_tx tx = {w->store, 0, w->audit};
    struct dfdg_audit_mark group_mark, req_mark;
    dfdg_audit_mark(w->audit, &group_mark);
    size_t failed = 0;
    dfdg_err rc = dfdg_store_begin(w->store);
    /* With the write lock held, catch up with audit entries other processes appended. */
    if (rc == DFDG_OK) {
        rc = dfdg_audit_sync(w->audit, w->store);
        if (rc != DFDG_OK)
            (void)dfdg_store_rollback(w->store);
        dfdg_audit_mark(w->audit, &group_mark);
    }
    /* The transaction time is taken with the write lock held, after every other process's
     * commit: times then increase in commit order across nodes too (every write group
     * appends an audit entry, so the newest entry's time is the newest commit's). */
    int64_t now = dfdg_time_now_us();
    int64_t newest = w->last_tx_time > dfdg_audit_last_at(w->audit) ? w->last_tx_time
                                                                    : dfdg_audit_last_at(w->audit);
    tx_time = now > newest ? now : newest + 1;
    tx.time = tx_time;
    if (rc != DFDG_OK) {
        dfdg_log(DFDG_LOG_ERROR, "writer.begin_failed", "err=%s", dfdg_err_name(rc));
        count_group(w, n, n);
        finish_all(group, rc, 0);
        return;
    }
    for (struct dfdg_write_req *r = group; r != NULL; r = r->next) {
        r->rc = DFDG_OK;
        rc = dfdg_store_savepoint(w->store, "req");
        if (rc == DFDG_OK) {
            dfdg_audit_mark(w->audit, &req_mark);
            rc = r->apply(&tx, r);
            if (rc != DFDG_OK) {
                /* Undo only this request's writes; the rest of the group goes on. */
                dfdg_err rc2 = dfdg_store_rollback_to(w->store, "req");
                DFDG_ASSERT(rc2 == DFDG_OK);
                dfdg_audit_reset(w->audit, &req_mark);
            }
            dfdg_err rc3 = dfdg_store_release(w->store, "req");
            DFDG_ASSERT(rc3 == DFDG_OK);
        }
        if (rc != DFDG_OK) {
            r->rc = rc;
            failed++;
        }
    }
    rc = dfdg_store_commit(w->store);
    if (rc != DFDG_OK) {
        dfdg_log(DFDG_LOG_ERROR, "writer.commit_failed", "err=%s", dfdg_err_name(rc));
        (void)dfdg_store_rollback(w->store);
        dfdg_audit_reset(w->audit, &group_mark);
        count_group(w, n, n);
        finish_all(group, rc, 0);
        return;
    }
    w->last_tx_time = tx_time;
    count_group(w, n, failed);
    finish_all(group, DFDG_OK, tx_time);
}

/* Signs a tree head over the audit entries committed so far, in its own transaction. */
static void
sign_tree_head(struct dfdg_writer *w)
{
    int64_t now = dfdg_time_now_us();
    w->last_sth_us = now;
    dfdg_err rc = dfdg_store_begin(w->store);
    if (rc == DFDG_OK) {
        rc = dfdg_audit_sync(w->audit, w->store);
        if (rc == DFDG_OK)
            rc = dfdg_audit_sign(w->audit, w->store, now);
        if (rc == DFDG_OK)
            rc = dfdg_store_commit(w->store);
        if (rc != DFDG_OK) {
            (void)dfdg_store_rollback(w->store);
            dfdg_audit_sign_failed(w->audit);
        }
        if (rc == DFDG_CONFLICT)
            return; /* another process signed this size already */
    }
    if (rc != DFDG_OK) {
        dfdg_log(DFDG_LOG_ERROR, "writer.sth_failed", "err=%s", dfdg_err_name(rc));
        return;
    }
    pthread_mutex_lock(&w->lock);
    w->st.sths++;
    pthread_mutex_unlock(&w->lock);
}

static bool
sth_due(struct dfdg_writer *w)
{
    return dfdg_audit_is_unsigned(w->audit) &&
           dfdg_time_now_us() - w->last_sth_us >= DFDG_STH_INTERVAL_US;
}

static void *
writer_main(void *arg)
{
    struct dfdg_writer *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        while (w->head == NULL && !w->stopping) {
            if (!dfdg_audit_is_unsigned(w->audit)) {
                pthread_cond_wait(&w->wake, &w->lock);
                continue;
            }
            /* Unsigned entries: wake in time to sign them within the interval. */
            int64_t due = w->last_sth_us + DFDG_STH_INTERVAL_US;
            struct timespec ts = {(time_t)(due / 1000000), (long)(due % 1000000) * 1000};
            if (pthread_cond_timedwait(&w->wake, &w->lock, &ts) == ETIMEDOUT) {
                pthread_mutex_unlock(&w->lock);
                sign_tree_head(w);
                pthread_mutex_lock(&w->lock);
            }
        }
        if (w->head == NULL && w->stopping) {
            pthread_mutex_unlock(&w->lock);
            if (dfdg_audit_is_unsigned(w->audit))
                sign_tree_head(w); /* the last entries get their tree head too */
            break;
        }
        /* Take up to MAX_GROUP requests off the queue. */
        struct dfdg_write_req *group = w->head, *last = w->head;
        size_t n = 1;
        while (last->next != NULL && n < DFDG_WRITER_MAX_GROUP) {
            last = last->next;
            n++;
        }
        w->head = last->next;
        if (w->head == NULL)
            w->tail = NULL;
        last->next = NULL;
        w->queued -= n;
        pthread_mutex_unlock(&w->lock);

        run_group(w, group, n);
        if (sth_due(w))
            sign_tree_head(w);
    }
    return NULL;
}

dfdg_err
dfdg_writer_start(const char *uri, size_t queue_cap, struct dfdg_writer **out,
                  struct dfdg_errinfo *ei)
{
    *out = NULL;
    struct dfdg_writer *w = calloc(1, sizeof *w);
    if (w == NULL)
        return DFDG_NOMEM;
    w->queue_cap = queue_cap > 0 ? queue_cap : 1;
    dfdg_err rc = dfdg_store_open(uri, DFDG_STORE_OPEN, &w->store, ei);
    if (rc != DFDG_OK)
        goto free_writer;
    rc = dfdg_store_last_recorded_at(w->store, &w->last_tx_time);
    if (rc == DFDG_OK)
        rc = dfdg_audit_open(w->store, &w->audit, ei);
    if (rc != DFDG_OK)
        goto close_store;
    w->last_sth_us = dfdg_time_now_us();
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        rc = dfdg_errinfo_set(ei, DFDG_INTERNAL, "cannot start the writer thread");
        goto destroy_sync;
    }
    *out = w;
    return DFDG_OK;

destroy_sync:
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
close_store:
    dfdg_audit_free(w->audit);
    dfdg_store_close(w->store);
free_writer:
    free(w);
    return rc;
}

dfdg_err
dfdg_writer_submit(struct dfdg_writer *w, struct dfdg_write_req *req)
{
    DFDG_ASSERT(req->apply != NULL && req->done != NULL);
    req->next = NULL;
    pthread_mutex_lock(&w->lock);
    if (w->stopping) {
        pthread_mutex_unlock(&w->lock);
        return DFDG_SHUTDOWN;
    }
    if (w->queued >= w->queue_cap) {
        w->st.rejected++;
        pthread_mutex_unlock(&w->lock);
        return DFDG_BUSY;
    }
    if (w->tail != NULL)
        w->tail->next = req;
    else
        w->head = req;
    w->tail = req;
    w->queued++;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    return DFDG_OK;
}

void
dfdg_writer_stop(struct dfdg_writer *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    dfdg_audit_free(w->audit);
    dfdg_store_close(w->store);
    free(w);
}

void
dfdg_writer_get_stats(struct dfdg_writer *w, struct dfdg_writer_stats *out)
{
    pthread_mutex_lock(&w->lock);
    *out = w->st;
    pthread_mutex_unlock(&w->lock);
}
