/* SPDX-License-Identifier: Apache-2.0 */
/*
 * feedwait.c: the long-poll registry (see feedwait.h).
 *
 * Invariants:
 *   1. A registered waiter is woken exactly once, and removed from the list before its wake
 *      runs.
 *   2. announced(org) only grows.
 *   3. Wakes run with the registry lock held, so a waiter cannot be woken before its
 *      before_wait (which suspends the connection) has run.
 */
#include "core/dfdg.h"
#include "exchange/feedwait.h"

#include <pthread.h>
#include <time.h>

#define NBUCKETS 256

struct announced {
    struct announced *next; /* bucket chain */
    int64_t seq;            /* highest delivery seq committed for org */
    char org[64];
};

struct waiter {
    struct waiter *next; /* list link */
    char org[64];        /* the feed's org */
    int64_t deadline_us; /* monotonic */
    dfdg_wake_fn wake;   /* the callback */
    void *ctx;           /* its argument */
};

struct dfdg_feedwait {
    pthread_mutex_t lock;                /* guards everything below */
    pthread_cond_t changed;              /* a waiter was added, or stopping (lock) */
    pthread_t timer;                     /* wakes expired waiters */
    struct waiter *waiters;              /* registered waiters (lock) */
    size_t nwaiters;                     /* (lock) */
    struct announced *buckets[NBUCKETS]; /* announced seq per org (lock) */
    bool stopping;                       /* (lock) */
};

int64_t
dfdg_feedwait_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static size_t
bucket_of(const char *org)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)org; *p != '\0'; p++)
        h = (h ^ *p) * 16777619u;
    return h % NBUCKETS;
}

static struct announced *
find_announced(struct dfdg_feedwait *w, const char *org, bool create)
{
    size_t b = bucket_of(org);
    for (struct announced *a = w->buckets[b]; a != NULL; a = a->next)
        if (strcmp(a->org, org) == 0)
            return a;
    if (!create)
        return NULL;
    struct announced *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    dfdg_strlcpy(a->org, org, sizeof a->org);
    a->next = w->buckets[b];
    w->buckets[b] = a;
    return a;
}

/* Removes and wakes every waiter for which pred holds. Lock held. */
static void
wake_where(struct dfdg_feedwait *w, bool (*pred)(const struct waiter *, const void *),
           const void *arg)
{
    struct waiter **pp = &w->waiters;
    while (*pp != NULL) {
        struct waiter *x = *pp;
        if (pred(x, arg)) {
            *pp = x->next;
            w->nwaiters--;
            x->wake(x->ctx);
            free(x);
        } else {
            pp = &x->next;
        }
    }
}

static bool
is_expired(const struct waiter *x, const void *arg)
{
    return x->deadline_us <= *(const int64_t *)arg;
}

static bool
is_for_org(const struct waiter *x, const void *arg)
{
    return strcmp(x->org, (const char *)arg) == 0;
}

static bool
is_any(const struct waiter *x, const void *arg)
{
    (void)x;
    (void)arg;
    return true;
}

static void *
timer_main(void *arg)
{
    struct dfdg_feedwait *w = arg;
    pthread_mutex_lock(&w->lock);
    while (!w->stopping) {
        int64_t now = dfdg_feedwait_now();
        wake_where(w, is_expired, &now);
        int64_t next = INT64_MAX;
        for (struct waiter *x = w->waiters; x != NULL; x = x->next)
            if (x->deadline_us < next)
                next = x->deadline_us;
        if (next == INT64_MAX) {
            pthread_cond_wait(&w->changed, &w->lock);
        } else {
            struct timespec ts = {(time_t)(next / 1000000), (long)(next % 1000000) * 1000};
            pthread_cond_timedwait(&w->changed, &w->lock, &ts);
        }
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

dfdg_err
dfdg_feedwait_new(struct dfdg_feedwait **out)
{
    *out = NULL;
    struct dfdg_feedwait *w = calloc(1, sizeof *w);
    if (w == NULL)
        return DFDG_NOMEM;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->changed, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&w->lock, NULL);
    if (pthread_create(&w->timer, NULL, timer_main, w) != 0) {
        pthread_cond_destroy(&w->changed);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return DFDG_INTERNAL;
    }
    *out = w;
    return DFDG_OK;
}

void
dfdg_feedwait_stop(struct dfdg_feedwait *w)
{
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    wake_where(w, is_any, NULL);
    pthread_cond_signal(&w->changed);
    pthread_mutex_unlock(&w->lock);
}

void
dfdg_feedwait_free(struct dfdg_feedwait *w)
{
    if (w == NULL)
        return;
    dfdg_feedwait_stop(w);
    pthread_join(w->timer, NULL);
    for (size_t b = 0; b < NBUCKETS; b++) {
        while (w->buckets[b] != NULL) {
            struct announced *a = w->buckets[b];
            w->buckets[b] = a->next;
            free(a);
        }
    }
    pthread_cond_destroy(&w->changed);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

bool
dfdg_feedwait_register(struct dfdg_feedwait *w, const char *org, int64_t after, int64_t deadline_us,
                       void (*before_wait)(void *ctx), dfdg_wake_fn wake, void *ctx)
{
    struct waiter *x = calloc(1, sizeof *x);
    if (x == NULL)
        return false;
    dfdg_strlcpy(x->org, org, sizeof x->org);
    x->deadline_us = deadline_us;
    x->wake = wake;
    x->ctx = ctx;
    pthread_mutex_lock(&w->lock);
    struct announced *a = find_announced(w, org, false);
    if (w->stopping || (a != NULL && a->seq > after)) {
        pthread_mutex_unlock(&w->lock);
        free(x);
        return false;
    }
    if (before_wait != NULL)
        before_wait(ctx);
    x->next = w->waiters;
    w->waiters = x;
    w->nwaiters++;
    pthread_cond_signal(&w->changed);
    pthread_mutex_unlock(&w->lock);
    return true;
}

void
dfdg_feedwait_announce(struct dfdg_feedwait *w, const char *org, int64_t seq)
{
    pthread_mutex_lock(&w->lock);
    struct announced *a = find_announced(w, org, true);
    if (a != NULL && seq > a->seq)
        a->seq = seq;
    wake_where(w, is_for_org, org);
    pthread_mutex_unlock(&w->lock);
}

void
dfdg_feedwait_poke_all(struct dfdg_feedwait *w)
{
    pthread_mutex_lock(&w->lock);
    wake_where(w, is_any, NULL);
    pthread_mutex_unlock(&w->lock);
}

size_t
dfdg_feedwait_count(struct dfdg_feedwait *w)
{
    pthread_mutex_lock(&w->lock);
    size_t n = w->nwaiters;
    pthread_mutex_unlock(&w->lock);
    return n;
}
