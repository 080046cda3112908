/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench.h: the parts of bench_ingest (bench/README.md): the raw SQLite baseline on the
 * store's own schema (raw.c), on top of what the benchmarks share (bench/common: synthetic
 * persons and records, the HTTP/1.1 client, clocks). main.c drives them and reports.
 */
#ifndef DFDG_BENCH_INGEST_BENCH_H
#define DFDG_BENCH_INGEST_BENCH_H

#include "core/dfdg.h"
#include "bench_common.h"

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

#endif
