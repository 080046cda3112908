/* SPDX-License-Identifier: Apache-2.0 */
/*
 * feedwait.h: long-poll waiters of the feed. A consumer that finds nothing new may wait; it
 * holds no thread while it waits (its connection is suspended), and a commit that delivers to
 * its org wakes it at once. A timer thread wakes waiters whose deadline passed.
 *
 * The race between "the feed query found nothing" and "a commit delivered just then" is
 * closed by announcements: the writer announces, per org, the highest delivery seq it
 * committed; registering with the cursor the query used fails when a newer seq was announced,
 * and the caller queries again instead of waiting.
 */
#ifndef DFDG_EXCHANGE_FEEDWAIT_H
#define DFDG_EXCHANGE_FEEDWAIT_H

#include "core/dfdg.h"

struct dfdg_feedwait;

/* Called exactly once per registered waiter: on news, at its deadline, or at shutdown. */
typedef void (*dfdg_wake_fn)(void *ctx);

/* Starts the registry and its timer thread. Caller owns *out. */
dfdg_err dfdg_feedwait_new(struct dfdg_feedwait **out /* OUT */);
/* Wakes every waiter and refuses new ones (register returns false from now on). */
void dfdg_feedwait_stop(struct dfdg_feedwait *w);
/* Stops (if not yet), ends the timer thread and frees w. Accepts NULL. */
void dfdg_feedwait_free(struct dfdg_feedwait *w);

/*
 * Registers a waiter for org's deliveries after seq `after`, until deadline_us (monotonic
 * microseconds, dfdg_feedwait_now). before_wait(ctx) runs under the registry's lock just
 * before the waiter is added, so it can suspend the caller before any wake can arrive.
 * Returns true when registered (wake will be called once), false when a delivery newer than
 * `after` was announced already (query again) or the registry is stopping.
 */
bool dfdg_feedwait_register(struct dfdg_feedwait *w, const char *org, int64_t after,
                            int64_t deadline_us, void (*before_wait)(void *ctx), dfdg_wake_fn wake,
                            void *ctx);

/* Announces that deliveries up to seq were committed for org; wakes its waiters. */
void dfdg_feedwait_announce(struct dfdg_feedwait *w, const char *org, int64_t seq);

/*
 * Wakes every waiter (they query again and wait on if nothing is theirs): for deliveries
 * another process committed, which no announcement covers.
 */
void dfdg_feedwait_poke_all(struct dfdg_feedwait *w);

/* CLOCK_MONOTONIC in microseconds. */
int64_t dfdg_feedwait_now(void);

/* Waiters registered now (for /metrics and tests). */
size_t dfdg_feedwait_count(struct dfdg_feedwait *w);

#endif
