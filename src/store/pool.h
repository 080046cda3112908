/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pool.h: a fixed set of store connections for request threads. A thread takes one for the
 * length of a read and gives it back; when all are taken it waits (the pool is sized to the
 * server's threads, so that wait is short).
 */
#ifndef DFDG_STORE_POOL_H
#define DFDG_STORE_POOL_H

#include "core/dfdg.h"
#include "store/store.h"

struct dfdg_store_pool;

/* Opens n connections to uri. Caller owns *out (dfdg_store_pool_free). */
dfdg_err dfdg_store_pool_new(const char *uri, size_t n, struct dfdg_store_pool **out /* OUT */,
                             struct dfdg_errinfo *ei);
/* Closes every connection; none may be taken. Accepts NULL. */
void dfdg_store_pool_free(struct dfdg_store_pool *p);
/* Takes a connection (waits while none is free). Give it back with dfdg_store_pool_put. */
struct dfdg_store *dfdg_store_pool_take(struct dfdg_store_pool *p);
void dfdg_store_pool_put(struct dfdg_store_pool *p, struct dfdg_store *s);

#endif
