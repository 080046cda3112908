/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench.h: the parts of bench_ingest (bench/README.md): synthetic persons and records
 * (gen.c), a minimal HTTP/1.1 keep-alive client over plain sockets (http.c), and the raw
 * SQLite baseline on the store's own schema (raw.c). main.c drives them and reports.
 */
#ifndef DFDG_BENCH_INGEST_BENCH_H
#define DFDG_BENCH_INGEST_BENCH_H

#include "core/dfdg.h"
#include "core/cpr.h"
#include "core/uuid.h"

#include <sys/socket.h>

#define BENCH_KOMMUNE "101"          /* every synthetic person lives here ... */
#define BENCH_REPORTER "kommune:101" /* ... so this org may report on all of them */
#define BENCH_TYPE "absence"         /* a person type a kommune may report */
#define BENCH_MAX_PERSONS 58400000u  /* 14,600 birth dates x 4,000 serials (gen.c) */

/* --- gen.c: synthetic data ---------------------------------------------------------------- */

/* The CPR number of synthetic person i (i < BENCH_MAX_PERSONS): unique, a real birth date. */
void bench_person_cpr(size_t i, char out[DFDG_CPR_LEN] /* OUT */);
/* Writes persons 0..n-1 as CPR import JSON lines (DESIGN section 5) to path. */
dfdg_err bench_write_persons(const char *path, size_t n, struct dfdg_errinfo *ei);
/* Reads the "cpr" of every line of a CPR import file. Caller frees *out with free(). */
dfdg_err bench_read_cprs(const char *path, char (**out)[DFDG_CPR_LEN] /* OUT */,
                         size_t *n /* OUT */, struct dfdg_errinfo *ei);

/* One record of a run, as the reporter sends it. */
struct bench_rec {
    size_t person;          /* index into the CPR list */
    char cpr[DFDG_CPR_LEN]; /* its subject */
    char source_ref[96];    /* "bench-<run>-<i>" */
    int32_t valid_from;     /* day number */
    int32_t valid_to;       /* day number (inclusive) */
    char data[128];         /* canonical JSON of data (sorted keys, compact) */
};
/* Record i of run: subject cprs[i % ncprs], valid in 2024, data from absence.json. */
void bench_record(const char *run, size_t i, char (*cprs)[DFDG_CPR_LEN], size_t ncprs,
                  struct bench_rec *out /* OUT */);
/* The request JSON of r on one line (no newline) into buf; its length, 0 if cap is short. */
size_t bench_record_json(const struct bench_rec *r, char *buf, size_t cap);
/* The content hash the server stores for r (dfdg_ingest_hash of src/exchange/ingest.c). */
void bench_record_hash(const struct bench_rec *r, uint8_t out[32] /* OUT */);

/* --- http.c: the client ------------------------------------------------------------------- */

/* Where the server is: from "http://HOST:PORT" (no TLS, no path). */
struct bench_http {
    struct sockaddr_storage addr; /* resolved address */
    socklen_t addrlen;            /* its length */
    char hostport[300];           /* for the Host header */
};
dfdg_err bench_http_init(struct bench_http *h, const char *url, struct dfdg_errinfo *ei);

/* One keep-alive connection, used by one thread. */
struct bench_conn {
    const struct bench_http *h; /* borrowed */
    int fd;                     /* -1 when closed */
    char *buf;                  /* response buffer (owned) */
    size_t cap;                 /* its size */
};
void bench_conn_init(struct bench_conn *c, const struct bench_http *h);
void bench_conn_cleanup(struct bench_conn *c);

struct bench_resp {
    int status;       /* HTTP status */
    const char *body; /* NUL-terminated, borrowed until the next request on the connection */
    size_t body_len;  /* bytes of body */
};
/*
 * Sends one request and reads the whole response. headers are extra header lines, each ending
 * in "\r\n" (may be ""); body may be NULL for none. Connects first when the connection is
 * closed; closes it after a "Connection: close" response. DFDG_IO (with ei) when the server
 * cannot be reached, closes mid-response or answers something this client does not parse.
 */
dfdg_err bench_http_request(struct bench_conn *c, const char *method, const char *path,
                            const char *headers, const char *body, size_t len,
                            struct bench_resp *out /* OUT */, struct dfdg_errinfo *ei);

/* --- raw.c: the SQLite baseline ----------------------------------------------------------- */

struct bench_raw_result {
    size_t rows;    /* records inserted */
    double seconds; /* time inside SQLite: BEGIN to COMMIT of every transaction */
};
/*
 * Creates a fresh SQLite file at path (an existing one is replaced) with the store's schema
 * and PRAGMAs, inserts the persons of cprs minimally (person and person_cpr), then records
 * 0..n-1 of run in transactions of batch rows (batch 0: one transaction for all), single-
 * threaded with one prepared statement. Row values are made outside the timed part. The file
 * is removed afterwards.
 */
dfdg_err bench_raw_run(const char *path, const char *run, char (*cprs)[DFDG_CPR_LEN], size_t ncprs,
                       size_t n, size_t batch, struct bench_raw_result *out /* OUT */,
                       struct dfdg_errinfo *ei);

/* Seconds on the monotonic clock. */
double bench_now(void);

#endif
