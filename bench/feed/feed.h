/* SPDX-License-Identifier: Apache-2.0 */
/*
 * feed.h: the parts of bench_feed (bench/README.md): reading a feed page without building a
 * JSON tree (page.c), and the raw SQLite baseline that reads the same deliveries with the
 * store's own feed query (raw.c), on top of what the benchmarks share (bench/common). main.c
 * drives them and reports.
 */
#ifndef DFDG_BENCH_FEED_FEED_H
#define DFDG_BENCH_FEED_FEED_H

#include "core/dfdg.h"
#include "bench_common.h"

#define FEED_CONSUMER "akasse:3f" /* the one consumer: members' absences are routed here */

/* One delivery as the consumer saw it. */
struct feed_item {
    int64_t seq;            /* from the item's cursor "v1.<seq>" */
    char id[DFDG_UUID_LEN]; /* record.id */
    double t;               /* monotonic seconds the page holding it was read */
};

/* One page of GET /v1/feed. */
struct feed_page {
    struct feed_item *items; /* owned, grown as needed */
    size_t n;                /* items on this page */
    size_t cap;              /* room in items */
    int64_t cursor;          /* the page's "cursor" */
    bool more;               /* the page's "more" */
};

/*
 * Reads a feed response body (NUL-terminated, len bytes): each item's cursor and record id,
 * and the page's cursor and "more". A single pass over the text, no JSON tree, so the client
 * takes little CPU from the server on the same machine. Replaces page->items[0..n). DFDG_INVAL
 * (with ei) when the body is not a feed page: an item without a "v1." cursor or a 36-character
 * record id, or JSON this reader does not follow.
 */
dfdg_err bench_feed_page_parse(const char *body, size_t len, struct feed_page *page,
                               struct dfdg_errinfo *ei);
void bench_feed_page_cleanup(struct feed_page *page);

struct feed_raw_result {
    size_t rows;     /* deliveries read */
    size_t pages;    /* queries run */
    double seconds;  /* wall time of the reads (and the disclosure commits) */
    bool same;       /* rows equal expect[] (seq and record id, in order) */
    bool have_discl; /* the server's disclosure log could be read */
    size_t discl;    /* feed disclosures the server logged for the consumer */
};

/*
 * Reads org's feed from the server's database at db_path (read-only, while the server runs;
 * WAL lets both read) after seq `after` with the store's feed query, `page` deliveries a query,
 * asking for one row more than a page like the store does (to know whether more follow),
 * fetching every column of every row, until no more follow. When scratch_dir is not NULL it also
 * writes, per page and in one durable transaction, one disclosure row a delivery into a fresh
 * SQLite file there (the store's schema, PRAGMAs and disclosure INSERT, with the values the server
 * logged): what the server does before it answers a page. expect (nexpect rows) is what the HTTP
 * consumer saw; out->same says whether the rows agree.
 */
dfdg_err bench_feed_raw_run(const char *db_path, const char *org, int64_t after, size_t page,
                            const char *scratch_dir, const struct feed_item *expect, size_t nexpect,
                            struct feed_raw_result *out /* OUT */, struct dfdg_errinfo *ei);

#endif
