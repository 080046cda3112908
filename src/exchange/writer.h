/* SPDX-License-Identifier: Apache-2.0 */
/*
 * writer.h: the single writer thread and its group commit.
 *
 * Request threads prepare work (parse, validate, check what can be checked without the store)
 * and submit it here. The writer takes every queued request, runs them all in ONE transaction
 * (each inside its own savepoint, so one failing request never takes its neighbours down),
 * commits with one fsync, and only then tells each submitter its outcome. An acknowledged
 * write is therefore always durable, and concurrent requests share the cost of a commit.
 */
#ifndef DFDG_EXCHANGE_WRITER_H
#define DFDG_EXCHANGE_WRITER_H

#include "core/dfdg.h"
#include "store/store.h"

struct dfdg_writer;
struct dfdg_write_req;
struct dfdg_audit;

/* What a request's work runs in: the writer's transaction. */
struct dfdg_tx {
    struct dfdg_store *store; /* the writer's connection, inside a transaction */
    int64_t time;             /* the group's transaction time (microseconds, increasing) */
    struct dfdg_audit *audit; /* the audit log (audit/auditlog.h): append entries here */
};

/*
 * Runs in the writer thread inside the group's transaction. Per-item outcomes (denied,
 * conflict, ...) are kept in the request and DFDG_OK returned; a non-OK return means the
 * store failed, and everything the request wrote (audit entries included) is rolled back.
 */
typedef dfdg_err (*dfdg_write_apply_fn)(struct dfdg_tx *tx, struct dfdg_write_req *req);
/* Called once per request from the writer thread after the commit (or the failure). */
typedef void (*dfdg_write_done_fn)(struct dfdg_write_req *req);

struct dfdg_write_req {
    dfdg_write_apply_fn apply;   /* the work (set by the submitter) */
    dfdg_write_done_fn done;     /* completion (set by the submitter) */
    void *ctx;                   /* the submitter's data */
    dfdg_err rc;                 /* set by the writer: DFDG_OK when committed */
    int64_t tx_time;             /* set by the writer: the group's transaction time */
    struct dfdg_write_req *next; /* queue link (writer's) */
};

struct dfdg_writer_stats {
    uint64_t groups;   /* transactions committed */
    uint64_t sths;     /* signed tree heads written */
    uint64_t requests; /* requests committed */
    uint64_t failed;   /* requests failed by store errors */
    uint64_t rejected; /* submissions refused because the queue was full */
};

/*
 * Opens its own store connection on uri, loads the audit log, and starts the thread.
 * queue_cap bounds the number of queued requests (submit answers DFDG_BUSY beyond it). While
 * audit entries arrive the writer signs a tree head at least every second. Caller owns *out.
 */
dfdg_err dfdg_writer_start(const char *uri, size_t queue_cap, struct dfdg_writer **out /* OUT */,
                           struct dfdg_errinfo *ei);
/*
 * Queues req. On DFDG_OK, done will be called exactly once, from the writer thread. On
 * DFDG_BUSY (queue full) or DFDG_SHUTDOWN (stopping), done is not called. Thread-safe.
 */
dfdg_err dfdg_writer_submit(struct dfdg_writer *w, struct dfdg_write_req *req);
/* Finishes every queued request, then stops the thread and frees w. Accepts NULL. */
void dfdg_writer_stop(struct dfdg_writer *w);
/* A snapshot of the counters. Thread-safe. */
void dfdg_writer_get_stats(struct dfdg_writer *w, struct dfdg_writer_stats *out /* OUT */);

#endif
