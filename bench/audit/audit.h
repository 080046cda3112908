/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit.h: the parts of bench_audit (bench/README.md), the audit log benchmark: synthetic
 * audit entries and the report's latency figures (gen.c), durable appends through the real
 * writer with a raw SQLite baseline (append.c), a 10^6-entry log with inclusion and consistency
 * proofs replayed against raw SQLite (proofs.c), and the verifier against a plain scan
 * (verify.c). main.c drives them and reports against the targets of the issue.
 */
#ifndef DFDG_BENCH_AUDIT_AUDIT_H
#define DFDG_BENCH_AUDIT_AUDIT_H

#include "core/dfdg.h"
#include "audit/check.h"
#include "bench_common.h"
#include "exchange/writer.h"

#include <jansson.h>

/* --- gen.c: entries, random numbers, latencies ------------------------------------------- */

/* xorshift64*: reproducible per seed, one per thread. */
struct bench_rng {
    uint64_t s; /* state, never 0 */
};
void bench_rng_init(struct bench_rng *r, uint64_t seed);
uint64_t bench_rng_next(struct bench_rng *r);
/* Uniform in [0, n), n > 0. */
uint64_t bench_rng_below(struct bench_rng *r, uint64_t n);

/*
 * A realistic audit entry without "i" and "at" (dfdg_audit_append adds them): a caseworker of
 * a kommune creating, reading or correcting 1 to 3 records about 1 or 2 persons, with the
 * purpose and legal basis the server logs: about 340 bytes once appended with one record, and
 * about 75 more a record. Caller owns it; NULL when out of memory.
 */
json_t *bench_audit_event(struct bench_rng *r, int64_t unix_ms);

/* Latency figures of a sample, in seconds. */
struct bench_lat {
    size_t n;   /* samples */
    double p50; /* median */
    double p99; /* 99th percentile */
    double max; /* largest */
};
/* Sorts v[n] in place and fills *out (all zero for n == 0). */
void bench_lat_of(double *v, size_t n, struct bench_lat *out /* OUT */);
/* Seconds as microseconds with 2 to 3 significant digits ("85.2 us", "912 us"); returns buf. */
const char *bench_us(double seconds, char buf[32]);

/* --- append.c: the writer against raw SQLite --------------------------------------------- */

struct bench_append_result {
    size_t entries;                   /* appends acknowledged DFDG_OK */
    size_t failed;                    /* appends the writer failed */
    size_t busy;                      /* submissions refused with DFDG_BUSY (retried) */
    double seconds;                   /* start barrier to the last acknowledgement */
    double cpu;                       /* CPU seconds of the process (writer and submitters) */
    struct bench_lat lat;             /* submit to done, per append */
    struct dfdg_writer_stats during;  /* writer counters when the last append was answered */
    struct dfdg_audit_report checked; /* dfdg_audit_check over the log afterwards */
    char first_error[256];            /* the first failure, for the report */
};
/*
 * Creates a fresh store at path (dfdg_store_open CREATE), starts the real writer on it and
 * lets c submitter threads append n entries, one request an entry, each thread waiting for
 * its acknowledgement before it builds the next (like HTTP clients). The writer signs a tree
 * head at least every second. Then stops the writer and checks the log with dfdg_audit_check.
 * The store is left at path.
 */
dfdg_err bench_append_run(const char *path, size_t n, size_t c, uint64_t seed,
                          struct bench_append_result *out /* OUT */, struct dfdg_errinfo *ei);

/* The rows of an audit log held in memory for the baseline. */
struct bench_rows;
/* Reads every audit_entry and audit_subject row of the store at path (raw SQLite). */
dfdg_err bench_rows_load(const char *path, struct bench_rows **out /* OUT */,
                         struct dfdg_errinfo *ei);
void bench_rows_free(struct bench_rows *rows);
/* Average length of the entries' bytes. */
double bench_rows_entry_bytes(const struct bench_rows *rows);

struct bench_raw_result {
    size_t entries;  /* audit_entry rows inserted */
    size_t subjects; /* audit_subject rows inserted */
    size_t commits;  /* transactions */
    double seconds;  /* BEGIN of the first to COMMIT of the last */
};
/*
 * Inserts rows into a fresh SQLite file at path with the store's schema and PRAGMAs, with the
 * store's own INSERTs, single-threaded, in transactions of `group` entries (0: one transaction
 * for all). The file is removed afterwards.
 */
dfdg_err bench_rows_insert(const struct bench_rows *rows, const char *path, size_t group,
                           struct bench_raw_result *out /* OUT */, struct dfdg_errinfo *ei);

/* --- proofs.c: proofs at 10^6 entries ---------------------------------------------------- */

/*
 * Setup, not measured: a fresh store at path with n entries appended by dfdg_audit_append
 * in large transactions, with a signed tree head every head_every entries and one at n.
 */
dfdg_err bench_log_build(const char *path, size_t n, size_t head_every, uint64_t seed,
                         struct dfdg_errinfo *ei);

struct bench_proof_result {
    int64_t size;                /* entries in the log (the newest head's size) */
    size_t heads;                /* tree heads in the store */
    struct bench_lat incl;       /* inclusion proof through the store */
    struct bench_lat incl_check; /* verifying it (verify.h) */
    struct bench_lat incl_raw;   /* the same node reads, raw SQLite */
    double incl_nodes;           /* node reads an inclusion proof made, on average */
    struct bench_lat cons;       /* consistency proof between two random heads */
    struct bench_lat cons_check; /* verifying it */
    struct bench_lat cons_raw;   /* the same node reads, raw SQLite */
    double cons_nodes;           /* node reads a consistency proof made, on average */
    struct bench_lat sth;        /* dfdg_store_sth_latest */
    struct bench_lat sth_raw;    /* the same query, raw SQLite */
};
/*
 * On a new connection to the store at path: np inclusion proofs of random entries against the
 * newest head and np consistency proofs between two random heads, each verified with
 * verify.h (a proof that does not verify is DFDG_CORRUPT), and np dfdg_store_sth_latest
 * calls. Every node read of every proof is recorded and replayed with raw SQLite.
 */
dfdg_err bench_proofs_run(const char *path, size_t np, uint64_t seed,
                          struct bench_proof_result *out /* OUT */, struct dfdg_errinfo *ei);

/* --- verify.c: the verifier against a plain scan ----------------------------------------- */

struct bench_verify_result {
    struct dfdg_audit_report rep; /* what dfdg_audit_check found */
    double check_s;               /* its time */
    uint64_t raw_rows;            /* rows the plain scan read */
    double raw_s;                 /* SELECT idx, at, entry ... ORDER BY idx, no hashing */
    uint64_t tree_rows;           /* rows the scan with the tree recomputation read */
    double tree_s;                /* the same scan, each entry added to a verify.h tree */
    bool tree_matches;            /* its root equals the newest head's */
};
/* Runs the plain scan, dfdg_audit_check, and the scan with the tree, in that order. */
dfdg_err bench_verify_run(const char *path, struct bench_verify_result *out /* OUT */,
                          struct dfdg_errinfo *ei);

#endif
