/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http.c: just enough of an HTTP/1.1 client (RFC 9112) for the benchmark: one keep-alive
 * connection per thread, a request with a Content-Length body written in one writev, and a
 * response read by its status line and Content-Length. No TLS, no chunked responses (dfdg
 * answers with buffers of known length), no pipelining. TCP_NODELAY, so a small request is
 * not held back by Nagle's algorithm waiting for the previous response's ACK.
 */
#include "core/dfdg.h"
#include "bench_common.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#define RESP_MAX (256u << 20) /* a response larger than this is an error */
#define IO_TIMEOUT_S 300      /* a request that takes longer is an error, not a hang */

dfdg_err
bench_http_init(struct bench_http *h, const char *url, struct dfdg_errinfo *ei)
{
    memset(h, 0, sizeof *h);
    static const char scheme[] = "http://";
    if (strncmp(url, scheme, sizeof scheme - 1) != 0)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "--url must start with http://");
    const char *hp = url + sizeof scheme - 1;
    size_t hplen = strcspn(hp, "/");
    if (hp[hplen] != '\0' && strcmp(hp + hplen, "/") != 0)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "--url takes no path: http://HOST:PORT");
    if (hplen == 0 || hplen >= sizeof h->hostport)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "--url: bad host");
    memcpy(h->hostport, hp, hplen);
    h->hostport[hplen] = '\0';

    char host[sizeof h->hostport];
    dfdg_strlcpy(host, h->hostport, sizeof host);
    char *colon = strrchr(host, ':');
    if (colon == NULL || colon[1] == '\0')
        return dfdg_errinfo_set(ei, DFDG_INVAL, "--url needs a port: http://HOST:PORT");
    *colon = '\0';
    const char *port = colon + 1;
    struct addrinfo hints = {0}, *res;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai != 0)
        return dfdg_errinfo_set(ei, DFDG_IO, "%s: %s", h->hostport, gai_strerror(gai));
    memcpy(&h->addr, res->ai_addr, res->ai_addrlen);
    h->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return DFDG_OK;
}

void
bench_conn_init(struct bench_conn *c, const struct bench_http *h)
{
    memset(c, 0, sizeof *c);
    c->h = h;
    c->fd = -1;
}

static void
conn_close(struct bench_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

void
bench_conn_cleanup(struct bench_conn *c)
{
    if (c == NULL)
        return;
    conn_close(c);
    free(c->buf);
    c->buf = NULL;
    c->cap = 0;
}

static dfdg_err
conn_open(struct bench_conn *c, struct dfdg_errinfo *ei)
{
    c->fd = socket(c->h->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return dfdg_errinfo_set(ei, DFDG_IO, "socket: %s", strerror(errno));
    int one = 1;
    struct timeval tv = {IO_TIMEOUT_S, 0};
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(c->fd, (const struct sockaddr *)&c->h->addr, c->h->addrlen) != 0) {
        dfdg_err rc =
            dfdg_errinfo_set(ei, DFDG_IO, "connect %s: %s", c->h->hostport, strerror(errno));
        conn_close(c);
        return rc;
    }
    return DFDG_OK;
}

static dfdg_err
send_all(struct bench_conn *c, struct iovec *iov, int niov, struct dfdg_errinfo *ei)
{
    while (niov > 0) {
        ssize_t n = writev(c->fd, iov, niov);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return dfdg_errinfo_set(ei, DFDG_IO, "send: %s", strerror(errno));
        size_t left = (size_t)n;
        while (niov > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            niov--;
        }
        if (niov > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return DFDG_OK;
}

/* Offset just past "\r\n\r\n" in buf[0..len), or 0 when the head is not complete yet. */
static size_t
head_end(const char *buf, size_t len)
{
    for (size_t i = 3; i < len; i++)
        if (buf[i] == '\n' && buf[i - 1] == '\r' && buf[i - 2] == '\n' && buf[i - 3] == '\r')
            return i + 1;
    return 0;
}

/* Parses the status line and the headers this client needs. */
static dfdg_err
parse_head(char *head, size_t hlen, int *status, size_t *clen, bool *close_after,
           struct dfdg_errinfo *ei)
{
    head[hlen - 2] = '\0'; /* ends the last header line; the blank line is not needed */
    if (strncmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ')
        return dfdg_errinfo_set(ei, DFDG_IO, "not an HTTP/1.x response");
    char *end;
    long st = strtol(head + 9, &end, 10);
    if (end != head + 12 || st < 100 || st > 599)
        return dfdg_errinfo_set(ei, DFDG_IO, "bad status line");
    *status = (int)st;
    *close_after = head[7] == '0';
    bool have_len = false;
    for (char *line = strstr(head, "\r\n"); line != NULL; line = strstr(line, "\r\n")) {
        line += 2;
        if (strncasecmp(line, "Content-Length:", 15) == 0) {
            errno = 0;
            unsigned long long v = strtoull(line + 15, &end, 10);
            if (errno != 0 || end == line + 15 || v > RESP_MAX)
                return dfdg_errinfo_set(ei, DFDG_IO, "bad or too large Content-Length");
            *clen = (size_t)v;
            have_len = true;
        } else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0) {
            return dfdg_errinfo_set(ei, DFDG_IO, "chunked responses are not supported");
        } else if (strncasecmp(line, "Connection:", 11) == 0) {
            const char *v = line + 11 + strspn(line + 11, " \t");
            if (strncasecmp(v, "close", 5) == 0)
                *close_after = true;
        }
    }
    if (!have_len) {
        /* 1xx, 204 and 304 have no body; anything else must say how long it is. */
        if (st >= 200 && st != 204 && st != 304)
            return dfdg_errinfo_set(ei, DFDG_IO, "response without Content-Length");
        *clen = 0;
    }
    return DFDG_OK;
}

dfdg_err
bench_http_request(struct bench_conn *c, const char *method, const char *path, const char *headers,
                   const char *body, size_t len, struct bench_resp *out, struct dfdg_errinfo *ei)
{
    memset(out, 0, sizeof *out);
    dfdg_err rc;
    if (c->fd < 0 && (rc = conn_open(c, ei)) != DFDG_OK)
        return rc;
    char head[2048];
    int hl = body != NULL ? snprintf(head, sizeof head,
                                     "%s %s HTTP/1.1\r\nHost: %s\r\n%sContent-Length: %zu\r\n\r\n",
                                     method, path, c->h->hostport, headers, len)
                          : snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: %s\r\n%s\r\n",
                                     method, path, c->h->hostport, headers);
    if (hl < 0 || (size_t)hl >= sizeof head)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "request head too long");
    struct iovec iov[2] = {{head, (size_t)hl}, {(void *)body, body != NULL ? len : 0}};
    rc = send_all(c, iov, body != NULL && len > 0 ? 2 : 1, ei);
    if (rc != DFDG_OK)
        goto close_conn;

    size_t got = 0, hlen = 0, clen = 0;
    bool close_after = false;
    for (;;) {
        if (c->cap - got < 4096 + 1) {
            size_t ncap = c->cap ? c->cap * 2 : 65536;
            if (ncap > RESP_MAX + 65536) {
                rc = dfdg_errinfo_set(ei, DFDG_TOO_LARGE, "response too large");
                goto close_conn;
            }
            char *grown = realloc(c->buf, ncap);
            if (grown == NULL) {
                rc = dfdg_errinfo_set(ei, DFDG_NOMEM, "response buffer");
                goto close_conn;
            }
            c->buf = grown;
            c->cap = ncap;
        }
        ssize_t n = read(c->fd, c->buf + got, c->cap - got - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = dfdg_errinfo_set(ei, DFDG_IO, "receive: %s", strerror(errno));
            goto close_conn;
        }
        if (n == 0) {
            rc = dfdg_errinfo_set(ei, DFDG_IO, "the server closed the connection %s",
                                  got == 0 ? "without answering" : "mid-response");
            goto close_conn;
        }
        got += (size_t)n;
        if (hlen == 0) {
            hlen = head_end(c->buf, got);
            if (hlen == 0)
                continue;
            c->buf[got] = '\0';
            rc = parse_head(c->buf, hlen, &out->status, &clen, &close_after, ei);
            if (rc != DFDG_OK)
                goto close_conn;
            if (out->status < 200) { /* an interim response: drop it and read on */
                memmove(c->buf, c->buf + hlen, got - hlen);
                got -= hlen;
                hlen = 0;
                continue;
            }
        }
        if (got >= hlen + clen)
            break;
    }
    if (got > hlen + clen) {
        rc = dfdg_errinfo_set(ei, DFDG_IO, "more bytes than Content-Length");
        goto close_conn;
    }
    c->buf[hlen + clen] = '\0';
    out->body = c->buf + hlen;
    out->body_len = clen;
    if (close_after)
        conn_close(c);
    return DFDG_OK;

close_conn:
    conn_close(c);
    return rc;
}

bool
bench_http_writer_counters(const struct bench_http *h, unsigned long long *commits,
                           unsigned long long *requests)
{
    struct bench_conn conn;
    struct bench_resp resp;
    struct dfdg_errinfo ei = {0};
    bench_conn_init(&conn, h);
    bool ok = bench_http_request(&conn, "GET", "/metrics", "", NULL, 0, &resp, &ei) == DFDG_OK &&
              resp.status == 200;
    const char *c = ok ? strstr(resp.body, "\ndfdg_writer_commits_total ") : NULL;
    const char *r = ok ? strstr(resp.body, "\ndfdg_writer_requests_total ") : NULL;
    ok = c != NULL && r != NULL;
    if (ok) {
        *commits = strtoull(c + strlen("\ndfdg_writer_commits_total "), NULL, 10);
        *requests = strtoull(r + strlen("\ndfdg_writer_requests_total "), NULL, 10);
    }
    bench_conn_cleanup(&conn);
    return ok;
}
