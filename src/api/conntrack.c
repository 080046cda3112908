/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conntrack.c: the per-request arrival deadline (see conntrack.h).
 *
 * Invariants:
 *   1. A connection is in the list from its open notification to its close notification;
 *      libmicrohttpd sends the close notification before it closes the socket, and both the
 *      removal and the reaper's shutdown(2) happen under the tracker's lock, so the reaper
 *      never touches a socket number that was closed and handed to someone else.
 *   2. The reaper only shuts a socket down (never closes it): libmicrohttpd still owns it, sees
 *      the end of the stream and cleans the connection up in its own thread.
 *   3. Each connection is cut at most once.
 *
 * States of a connection: RECEIVING --request arrived--> ANSWERING --completed--> RECEIVING;
 * RECEIVING past the deadline --reaper--> CUT (closing).
 */
#include "core/dfdg.h"
#include "api/conntrack.h"
#include "core/log.h"

#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

/* How often the reaper looks; a request is cut at most this much after its deadline. */
#define CONNTRACK_TICK_US 200000

struct dfdg_conn {
    struct dfdg_conn *prev, *next; /* the tracker's list (lock) */
    int fd;                        /* the socket */
    int64_t since_us;              /* when the current request's clock started (lock) */
    bool receiving;                /* the current request has not fully arrived (lock) */
    bool cut;                      /* shut down by the reaper (lock) */
    size_t drained;                /* body bytes of this request thrown away (its thread) */
};

struct dfdg_conntrack {
    pthread_mutex_t lock;    /* guards everything below but timeout_us */
    pthread_cond_t changed;  /* signalled to stop the reaper (lock) */
    pthread_t reaper;        /* the reaper thread */
    bool reaping;            /* the reaper runs */
    bool stop;               /* the reaper should end (lock) */
    struct dfdg_conn *conns; /* open connections (lock) */
    int64_t timeout_us;      /* the deadline, fixed at start */
    uint64_t cut;            /* connections cut (lock) */
};

static int64_t
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Cuts every connection that has been receiving one request for longer than the deadline. */
static void
reap(struct dfdg_conntrack *ct, int64_t now)
{
    if (ct->timeout_us == 0)
        return; /* no deadline */
    for (struct dfdg_conn *c = ct->conns; c != NULL; c = c->next) {
        if (!c->receiving || c->cut || now - c->since_us <= ct->timeout_us)
            continue;
        c->cut = true;
        ct->cut++;
        /* RD and WR: libmicrohttpd's next read sees the end of the stream and closes. */
        (void)shutdown(c->fd, SHUT_RDWR);
        dfdg_log(DFDG_LOG_INFO, "http.request_timeout", "seconds=%lld",
                 (long long)(ct->timeout_us / 1000000));
    }
}

static void *
reaper_main(void *arg)
{
    struct dfdg_conntrack *ct = arg;
    pthread_mutex_lock(&ct->lock);
    while (!ct->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += CONNTRACK_TICK_US * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&ct->changed, &ct->lock, &ts);
        if (!ct->stop)
            reap(ct, now_us());
    }
    pthread_mutex_unlock(&ct->lock);
    return NULL;
}

dfdg_err
dfdg_conntrack_new(unsigned timeout_s, struct dfdg_conntrack **out)
{
    *out = NULL;
    struct dfdg_conntrack *ct = calloc(1, sizeof *ct);
    if (ct == NULL)
        return DFDG_NOMEM;
    ct->timeout_us = (int64_t)timeout_s * 1000000;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ct->changed, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&ct->lock, NULL);
    if (pthread_create(&ct->reaper, NULL, reaper_main, ct) != 0) {
        pthread_cond_destroy(&ct->changed);
        pthread_mutex_destroy(&ct->lock);
        free(ct);
        return DFDG_INTERNAL;
    }
    ct->reaping = true;
    *out = ct;
    return DFDG_OK;
}

void
dfdg_conntrack_free(struct dfdg_conntrack *ct)
{
    if (ct == NULL)
        return;
    if (ct->reaping) {
        pthread_mutex_lock(&ct->lock);
        ct->stop = true;
        pthread_cond_signal(&ct->changed);
        pthread_mutex_unlock(&ct->lock);
        pthread_join(ct->reaper, NULL);
    }
    while (ct->conns != NULL) {
        struct dfdg_conn *c = ct->conns;
        ct->conns = c->next;
        free(c);
    }
    pthread_cond_destroy(&ct->changed);
    pthread_mutex_destroy(&ct->lock);
    free(ct);
}

struct dfdg_conn *
dfdg_conntrack_open(struct dfdg_conntrack *ct, int fd)
{
    if (ct == NULL || fd < 0)
        return NULL;
    struct dfdg_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->fd = fd;
    c->since_us = now_us();
    c->receiving = true;
    pthread_mutex_lock(&ct->lock);
    c->next = ct->conns;
    if (ct->conns != NULL)
        ct->conns->prev = c;
    ct->conns = c;
    pthread_mutex_unlock(&ct->lock);
    return c;
}

void
dfdg_conntrack_close(struct dfdg_conntrack *ct, struct dfdg_conn *c)
{
    if (ct == NULL || c == NULL)
        return;
    pthread_mutex_lock(&ct->lock);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        ct->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&ct->lock);
    free(c);
}

void
dfdg_conntrack_arrived(struct dfdg_conntrack *ct, struct dfdg_conn *c)
{
    if (ct == NULL || c == NULL)
        return;
    pthread_mutex_lock(&ct->lock);
    c->receiving = false;
    pthread_mutex_unlock(&ct->lock);
}

void
dfdg_conntrack_next(struct dfdg_conntrack *ct, struct dfdg_conn *c)
{
    if (ct == NULL || c == NULL)
        return;
    int64_t now = now_us();
    pthread_mutex_lock(&ct->lock);
    c->since_us = now;
    c->receiving = true;
    c->drained = 0;
    pthread_mutex_unlock(&ct->lock);
}

bool
dfdg_conntrack_drain(struct dfdg_conntrack *ct, struct dfdg_conn *c, size_t n, size_t max)
{
    (void)ct;
    if (c == NULL)
        return true;
    /* Only the connection's own server thread counts here (and resets in _next). */
    c->drained = n > SIZE_MAX - c->drained ? SIZE_MAX : c->drained + n;
    return c->drained <= max;
}

uint64_t
dfdg_conntrack_cut_count(struct dfdg_conntrack *ct)
{
    if (ct == NULL)
        return 0;
    pthread_mutex_lock(&ct->lock);
    uint64_t n = ct->cut;
    pthread_mutex_unlock(&ct->lock);
    return n;
}
