/* SPDX-License-Identifier: Apache-2.0 */
/*
 * conntrack.h: a deadline for each request to arrive (slowloris defence). libmicrohttpd
 * 0.9.75 closes a connection only after connection_timeout seconds WITHOUT traffic, so a
 * client that trickles a header or body byte just inside that time holds its connection for
 * ever. The tracker knows every open connection and whether it is still receiving a request;
 * a reaper thread shuts down (shutdown(2)) the socket of one that has been receiving for longer
 * than the request timeout, and libmicrohttpd then closes it as if the client had gone.
 *
 * A connection's clock starts when it opens and again when its previous request completes;
 * it stops when the request has fully arrived (the handler runs or an early answer is
 * queued). Requests being answered, suspended writes and long-polls are never cut. The
 * tracker also counts the body bytes of a request that are read only to be thrown away, so
 * that an endless body is bounded too.
 * Private to src/api (server.c); the only file besides server.c that sees a socket.
 */
#ifndef DFDG_API_CONNTRACK_H
#define DFDG_API_CONNTRACK_H

#include "core/dfdg.h"

struct dfdg_conntrack;
struct dfdg_conn; /* one tracked connection */

/* Starts a tracker whose requests must arrive within timeout_s seconds (0: no deadline), and
 * its reaper thread. Caller owns *out; stop it with dfdg_conntrack_free. */
dfdg_err dfdg_conntrack_new(unsigned timeout_s, struct dfdg_conntrack **out /* OUT */);
/* Stops the reaper and frees the tracker and any connection still in it. Accepts NULL. */
void dfdg_conntrack_free(struct dfdg_conntrack *ct);

/* A connection opened on socket fd; its clock starts now. NULL when out of memory (the
 * connection is then not tracked; every function below accepts NULL). */
struct dfdg_conn *dfdg_conntrack_open(struct dfdg_conntrack *ct, int fd);
/* The connection is closing: forget it. Must run before its socket is closed, which
 * libmicrohttpd guarantees for its connection-closed notification. */
void dfdg_conntrack_close(struct dfdg_conntrack *ct, struct dfdg_conn *c);
/* Its current request has arrived (or is being answered early): the clock stops. */
void dfdg_conntrack_arrived(struct dfdg_conntrack *ct, struct dfdg_conn *c);
/* Its request completed: the clock starts again for the next request on the connection. */
void dfdg_conntrack_next(struct dfdg_conntrack *ct, struct dfdg_conn *c);
/* n more bytes of the current request's body were read only to be thrown away; false once
 * more than max were (the caller then closes the connection). */
bool dfdg_conntrack_drain(struct dfdg_conntrack *ct, struct dfdg_conn *c, size_t n, size_t max);
/* Connections cut so far for taking too long (for /metrics and the log). */
uint64_t dfdg_conntrack_cut_count(struct dfdg_conntrack *ct);

#endif
