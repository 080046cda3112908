/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pool.c: a mutex-guarded stack of store connections (see pool.h).
 */
#include "core/dfdg.h"
#include "store/pool.h"

#include <pthread.h>

struct dfdg_store_pool {
    pthread_mutex_t lock;     /* guards free and nfree */
    pthread_cond_t available; /* signalled when a connection is put back (lock) */
    struct dfdg_store **all;  /* every connection (n) */
    struct dfdg_store **free; /* the free ones, a stack (lock) */
    size_t n;                 /* connections in all */
    size_t nfree;             /* connections in free (lock) */
};

dfdg_err
dfdg_store_pool_new(const char *uri, size_t n, struct dfdg_store_pool **out,
                    struct dfdg_errinfo *ei)
{
    *out = NULL;
    struct dfdg_store_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return DFDG_NOMEM;
    p->all = calloc(n, sizeof *p->all);
    p->free = calloc(n, sizeof *p->free);
    if (p->all == NULL || p->free == NULL) {
        free(p->all);
        free(p->free);
        free(p);
        return DFDG_NOMEM;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->available, NULL);
    for (; p->n < n; p->n++) {
        dfdg_err rc = dfdg_store_open(uri, DFDG_STORE_OPEN, &p->all[p->n], ei);
        if (rc != DFDG_OK) {
            dfdg_store_pool_free(p);
            return rc;
        }
        p->free[p->nfree++] = p->all[p->n];
    }
    *out = p;
    return DFDG_OK;
}

void
dfdg_store_pool_free(struct dfdg_store_pool *p)
{
    if (p == NULL)
        return;
    DFDG_ASSERT(p->nfree == p->n);
    for (size_t i = 0; i < p->n; i++)
        dfdg_store_close(p->all[i]);
    pthread_cond_destroy(&p->available);
    pthread_mutex_destroy(&p->lock);
    free(p->all);
    free(p->free);
    free(p);
}

struct dfdg_store *
dfdg_store_pool_take(struct dfdg_store_pool *p)
{
    pthread_mutex_lock(&p->lock);
    while (p->nfree == 0)
        pthread_cond_wait(&p->available, &p->lock);
    struct dfdg_store *s = p->free[--p->nfree];
    pthread_mutex_unlock(&p->lock);
    return s;
}

void
dfdg_store_pool_put(struct dfdg_store_pool *p, struct dfdg_store *s)
{
    pthread_mutex_lock(&p->lock);
    DFDG_ASSERT(p->nfree < p->n);
    p->free[p->nfree++] = s;
    pthread_cond_signal(&p->available);
    pthread_mutex_unlock(&p->lock);
}
