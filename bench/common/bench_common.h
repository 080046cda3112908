/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_common.h: what the benchmarks (bench/README.md) share: synthetic persons and absence
 * records (gen.c), a minimal HTTP/1.1 keep-alive client over plain sockets (http.c), fresh
 * SQLite files with the store's schema for the baselines (rawdb.c), and clocks, CPU time and
 * number formatting for the reports (util.c). Each benchmark's own header adds its baseline.
 */
#ifndef DFDG_BENCH_COMMON_BENCH_COMMON_H
#define DFDG_BENCH_COMMON_BENCH_COMMON_H

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

/* The dfdg writer's counters from GET /metrics (dfdg_writer_commits_total and
 * dfdg_writer_requests_total); false when the server cannot be asked or does not export them. */
bool bench_http_writer_counters(const struct bench_http *h, unsigned long long *commits /* OUT */,
                                unsigned long long *requests /* OUT */);

/* --- rawdb.c: SQLite files for the baselines ---------------------------------------------- */

struct sqlite3; /* sqlite3.h's connection, so this header does not need sqlite3.h */

/* DFDG_IO with "raw sqlite: what: <SQLite's message>" in ei. */
dfdg_err bench_sqlite_fail(struct sqlite3 *db, const char *what, struct dfdg_errinfo *ei);
/* Runs SQL text with no results; bench_sqlite_fail when it fails. */
dfdg_err bench_sqlite_exec(struct sqlite3 *db, const char *sql, const char *what,
                           struct dfdg_errinfo *ei);
/* Sets the store's PRAGMAs (WAL, synchronous=FULL, foreign keys, cache size, 5 s busy timeout)
 * on a new, empty file and runs every migration of src/store/schema_sqlite.h. */
dfdg_err bench_sqlite_create_schema(struct sqlite3 *db, struct dfdg_errinfo *ei);
/* Removes a SQLite file with its -wal and -shm files (those that exist). */
void bench_sqlite_remove(const char *path);

/* --- util.c: clocks and the report ------------------------------------------------------- */

/* Seconds on the monotonic clock. */
double bench_now(void);
/* User and system CPU time of the whole process (every thread), in seconds. */
double bench_cpu_seconds(void);
/* qsort comparison of doubles, ascending. */
int bench_cmp_double(const void *a, const void *b);
/* A decimal count in s (0 to max, nothing else) into *out; false when s is not one. */
bool bench_parse_count(const char *s, size_t max, size_t *out /* OUT */);
/* 1234567.8 -> "1,234,568" (negative values show as 0); returns buf. */
const char *bench_grouped(double v, char buf[32]);
/* Seconds as milliseconds with 2 to 3 significant digits ("5.25 ms", "113 ms"); returns buf. */
const char *bench_ms(double seconds, char buf[32]);

#endif
