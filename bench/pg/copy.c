/* SPDX-License-Identifier: Apache-2.0 */
/*
 * copy.c: bench_pg_copy, the PostgreSQL baseline of the ingest benchmark (bench/README.md,
 * "bench/pg"). The same record rows that bench_ingest sends over HTTP go straight into a
 * fresh schema of the same database with a plain libpq program: COPY FROM STDIN, one
 * transaction per B rows (as the server commits a batch), then all rows in one transaction
 * (the ceiling), then the store's former per-row INSERT statement once per row (one round
 * trip a row, transactions of B), which shows what a round trip per statement costs alone.
 *
 * Each schema is made by dfdg_store_open(CREATE), i.e. by the migrations of
 * src/store/schema_pg.h, so it has the server's tables, keys, indexes, CHECKs and triggers.
 * Persons go in minimally (person and person_cpr rows) before the clock starts. Row values are
 * the server's (a UUIDv7 id, the canonical data, the content hash of dfdg_ingest_hash) and are
 * made and formatted outside the timed part, so only PostgreSQL's work and the wire are timed.
 * Transactions start like the store's (READ COMMITTED plus a transaction-level advisory
 * lock). The schemas are dropped at the end unless --keep is given.
 */
#include "core/dfdg.h"
#include "bench_common.h"
#include "core/when.h"
#include "store/store.h"

#include <getopt.h>
#include <libpq-fe.h>

/* The columns the server fills, in the order of the store's record INSERT (pg.c). */
#define RECORD_COLUMNS                                                                             \
    "id, type, person_id, cvr, reporter, source_ref, valid_from, valid_to, recorded_at, kind,"     \
    " target_id, content_hash, data, reason, owner"
#define INSERT_COLUMNS 15 /* the columns named above; seq is an identity */
#define ROW_MAX 1024      /* most bytes of one row's COPY line (escaping doubles at worst) */

/* The record INSERT the store used a row at a time before its COPY fast path (pg_batch.c). */
static const char insert_sql[] =
    "INSERT INTO record(" RECORD_COLUMNS ")"
    " SELECT $1::text, $2::text, $3::bigint, $4::text, $5::text, $6::text, $7::bigint,"
    " $8::bigint, $9::bigint, $10::smallint, $11::text, $12::bytea, $13::text, $14::text,"
    " $15::text"
    " WHERE $3::bigint IS NULL OR EXISTS (SELECT 1 FROM person WHERE person_id = $3::bigint)"
    " ON CONFLICT DO NOTHING RETURNING seq";

/* Like the store's begin (pg.c): the write lock is a transaction-level advisory lock. */
static const char begin_sql[] = "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = "
                                "'5s'; SELECT pg_catalog.pg_advisory_xact_lock(1684432487, 0)";

static const char usage[] =
    "usage: bench_pg_copy --pg CONNINFO --cprs FILE --run ID [options]\n\n"
    "The PostgreSQL baseline of the ingest benchmark (bench/README.md, bench/pg): records\n"
    "0..N-1 of run ID (the rows bench_ingest --run ID sends), about the persons of FILE,\n"
    "inserted into fresh schemas of the database CONNINFO names (a libpq keyword/value\n"
    "string without schema=), with COPY and with the store's former per-row INSERT.\n\n"
    "options:\n"
    "  -n N          records (default 200000)\n"
    "  -b B          rows a transaction (default 1000)\n"
    "  --no-insert   skip the per-row INSERT line\n"
    "  --keep        keep the schemas (bench_<run>_copy, _copy1, _insert)\n"
    "  --help        show this help\n\n"
    "Exit status: 0 done, 1 errors, 2 usage.\n";

struct opts {
    const char *pg, *cprs, *run;
    size_t n, b;
    bool insert, keep;
};

/* One pass: its rate and the number of commits. */
struct pass {
    size_t rows;
    double seconds; /* from each BEGIN to its COMMIT's answer */
    size_t commits;
};

/* The text of every row in COPY's text format, made once, and where each row starts. */
struct rows {
    char *text;    /* n rows, each ending in '\n' */
    size_t *off;   /* n + 1 offsets into text */
    size_t n;      /* rows */
    char **ids;    /* the UUIDv7 of each row (for the INSERT pass) */
    uint8_t *hash; /* 32 bytes a row */
    struct bench_rec *rec;
};

static dfdg_err
pg_fail(PGconn *c, const PGresult *res, const char *what, struct dfdg_errinfo *ei)
{
    const char *m = res != NULL ? PQresultErrorMessage(res) : NULL;
    if (m == NULL || *m == '\0')
        m = PQerrorMessage(c);
    char msg[300];
    snprintf(msg, sizeof msg, "%s", m != NULL ? m : "unknown error");
    size_t len = strlen(msg);
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
        msg[--len] = '\0';
    return dfdg_errinfo_set(ei, DFDG_IO, "postgres: %s: %s", what, msg);
}

/* Runs SQL with no rows wanted (several statements allowed). */
static dfdg_err
pg_run(PGconn *c, const char *sql, const char *what, struct dfdg_errinfo *ei)
{
    PGresult *res = PQexec(c, sql);
    ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    dfdg_err rc =
        st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? DFDG_OK : pg_fail(c, res, what, ei);
    PQclear(res);
    return rc;
}

/* The first column of the first row of a query, copied into buf. */
static dfdg_err
pg_value(PGconn *c, const char *sql, char *buf, size_t size, struct dfdg_errinfo *ei)
{
    PGresult *res = PQexec(c, sql);
    dfdg_err rc = DFDG_OK;
    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1)
        rc = pg_fail(c, res, sql, ei);
    else
        dfdg_strlcpy(buf, PQgetvalue(res, 0, 0), size);
    PQclear(res);
    return rc;
}

/* Appends s to COPY text, escaping what the text format treats specially. */
static size_t
copy_text(char *out, const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++) {
        char e = *s == '\\' ? '\\' : *s == '\t' ? 't' : *s == '\n' ? 'n' : *s == '\r' ? 'r' : 0;
        if (e != 0) {
            out[n++] = '\\';
            out[n++] = e;
        } else {
            out[n++] = *s;
        }
    }
    return n;
}

static void
rows_free(struct rows *r)
{
    if (r->ids != NULL)
        for (size_t i = 0; i < r->n; i++)
            free(r->ids[i]);
    free(r->ids);
    free(r->text);
    free(r->off);
    free(r->hash);
    free(r->rec);
    memset(r, 0, sizeof *r);
}

/*
 * Makes the n rows of run: record i of run, with a UUIDv7 and a transaction time that grows
 * from batch to batch, as the writer gives each commit its own time.
 */
static dfdg_err
rows_make(struct rows *r, const char *run, char (*cprs)[DFDG_CPR_LEN], size_t ncprs, size_t n,
          size_t batch, struct dfdg_errinfo *ei)
{
    memset(r, 0, sizeof *r);
    r->n = n;
    /* A row is about 300 bytes and never more than ROW_MAX; the text grows as needed. */
    size_t cap = n * 320 + ROW_MAX;
    r->text = malloc(cap);
    r->off = calloc(n + 1, sizeof *r->off);
    r->ids = calloc(n, sizeof *r->ids);
    r->hash = malloc(n * 32);
    r->rec = calloc(n, sizeof *r->rec);
    if (r->text == NULL || r->off == NULL || r->ids == NULL || r->hash == NULL || r->rec == NULL) {
        rows_free(r);
        return dfdg_errinfo_set(ei, DFDG_NOMEM, "rows");
    }
    int64_t at = 0;
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % batch == 0) {
            int64_t now = dfdg_time_now_us();
            at = now > at ? now : at + 1;
        }
        if (cap - len < ROW_MAX) {
            char *grown = realloc(r->text, cap * 2);
            if (grown == NULL) {
                rows_free(r);
                return dfdg_errinfo_set(ei, DFDG_NOMEM, "rows");
            }
            r->text = grown;
            cap *= 2;
        }
        struct bench_rec *rec = &r->rec[i];
        bench_record(run, i, cprs, ncprs, rec);
        bench_record_hash(rec, r->hash + 32 * i);
        r->ids[i] = malloc(DFDG_UUID_LEN);
        if (r->ids[i] == NULL) {
            rows_free(r);
            return dfdg_errinfo_set(ei, DFDG_NOMEM, "rows");
        }
        dfdg_uuid7_make(at / 1000, r->ids[i]);
        char hex[65];
        for (size_t k = 0; k < 32; k++)
            snprintf(hex + 2 * k, 3, "%02x", r->hash[32 * i + k]);
        char *p = r->text + len;
        int m = snprintf(p, ROW_MAX, "%s\t" BENCH_TYPE "\t%zu\t\\N\t" BENCH_REPORTER "\t",
                         r->ids[i], rec->person + 1);
        size_t k = (size_t)m;
        k += copy_text(p + k, rec->source_ref);
        m = snprintf(p + k, ROW_MAX - k, "\t%d\t%d\t%lld\t0\t\\N\t\\\\x%s\t", (int)rec->valid_from,
                     (int)rec->valid_to, (long long)at, hex);
        k += (size_t)m;
        k += copy_text(p + k, rec->data);
        m = snprintf(p + k, ROW_MAX - k, "\t\\N\t" BENCH_REPORTER "\n");
        k += (size_t)m;
        len += k;
        r->off[i + 1] = len;
    }
    return DFDG_OK;
}

/* A fresh schema with the store's migrations; refuses one that exists. */
static dfdg_err
make_schema(const char *conninfo, const char *schema, struct dfdg_errinfo *ei)
{
    char uri[2048];
    int len = snprintf(uri, sizeof uri, "postgres:%s schema=%s", conninfo, schema);
    if (len < 0 || (size_t)len >= sizeof uri)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "--pg is too long");
    struct dfdg_store *s = NULL;
    dfdg_err rc = dfdg_store_open(uri, DFDG_STORE_CREATE, &s, ei);
    dfdg_store_close(s);
    return rc;
}

/* Connects with search_path = schema, and checks the record table has the columns we fill. */
static dfdg_err
connect_schema(const char *conninfo, const char *schema, PGconn **out, struct dfdg_errinfo *ei)
{
    *out = NULL;
    PGconn *c = PQconnectdb(conninfo);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        dfdg_err rc = pg_fail(c, NULL, "connect", ei);
        PQfinish(c);
        return rc;
    }
    char sql[256], v[32];
    snprintf(sql, sizeof sql, "SELECT pg_catalog.set_config('search_path', '\"%s\"', false)",
             schema);
    dfdg_err rc = pg_run(c, sql, "search_path", ei);
    if (rc == DFDG_OK) {
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM information_schema.columns"
                 " WHERE table_schema = '%s' AND table_name = 'record'",
                 schema);
        rc = pg_value(c, sql, v, sizeof v, ei);
    }
    if (rc == DFDG_OK && strtol(v, NULL, 10) != INSERT_COLUMNS + 1)
        rc = dfdg_errinfo_set(ei, DFDG_CONFIG,
                              "postgres: the schema's record table has %s columns, but "
                              "bench/pg/copy.c fills %d (and seq): update RECORD_COLUMNS",
                              v, INSERT_COLUMNS);
    if (rc != DFDG_OK) {
        PQfinish(c);
        return rc;
    }
    *out = c;
    return DFDG_OK;
}

/* Streams text[0..len) into a COPY that the caller started; waits for its result. */
static dfdg_err
copy_in(PGconn *c, const char *sql, const char *text, size_t len, struct dfdg_errinfo *ei)
{
    PGresult *res = PQexec(c, sql);
    if (res == NULL || PQresultStatus(res) != PGRES_COPY_IN) {
        dfdg_err rc = pg_fail(c, res, "COPY", ei);
        PQclear(res);
        return rc;
    }
    PQclear(res);
    const size_t chunk = 1u << 20;
    for (size_t done = 0; done < len;) {
        size_t m = len - done < chunk ? len - done : chunk;
        if (PQputCopyData(c, text + done, (int)m) != 1)
            return pg_fail(c, NULL, "COPY data", ei);
        done += m;
    }
    if (PQputCopyEnd(c, NULL) != 1)
        return pg_fail(c, NULL, "COPY end", ei);
    dfdg_err rc = DFDG_OK;
    while ((res = PQgetResult(c)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == DFDG_OK)
            rc = pg_fail(c, res, "COPY", ei);
        PQclear(res);
    }
    return rc;
}

/* Persons 1..ncprs with one CPR number each (person, person_cpr), not timed. */
static dfdg_err
insert_persons(PGconn *c, char (*cprs)[DFDG_CPR_LEN], size_t ncprs, struct dfdg_errinfo *ei)
{
    char *p = malloc(ncprs * 80 + 1), *m = malloc(ncprs * 40 + 1);
    dfdg_err rc = DFDG_NOMEM;
    if (p == NULL || m == NULL) {
        rc = dfdg_errinfo_set(ei, DFDG_NOMEM, "persons");
        goto free_text;
    }
    size_t plen = 0, mlen = 0;
    for (size_t i = 0; i < ncprs; i++) {
        plen += (size_t)snprintf(p + plen, 80, "%zu\t%s\t0\tM\tactive\tBench\t\\N\tPerson\t0\n",
                                 i + 1, cprs[i]);
        mlen += (size_t)snprintf(m + mlen, 40, "%s\t%zu\n", cprs[i], i + 1);
    }
    rc = pg_run(c, "BEGIN", "begin persons", ei);
    if (rc == DFDG_OK)
        rc = copy_in(c,
                     "COPY person(person_id, cpr, birthdate, sex, status, first_name, middle_name,"
                     " last_name, updated_at) FROM STDIN",
                     p, plen, ei);
    if (rc == DFDG_OK)
        rc = copy_in(c, "COPY person_cpr(cpr, person_id) FROM STDIN", m, mlen, ei);
    if (rc == DFDG_OK)
        rc = pg_run(c, "COMMIT", "commit persons", ei);
    else
        PQclear(PQexec(c, "ROLLBACK"));
free_text:
    free(p);
    free(m);
    return rc;
}

/* A fresh schema with the persons in it, and a connection to it. */
static dfdg_err
prepare_schema(const struct opts *o, const char *schema, char (*cprs)[DFDG_CPR_LEN], size_t ncprs,
               PGconn **out, struct dfdg_errinfo *ei)
{
    dfdg_err rc = make_schema(o->pg, schema, ei);
    if (rc == DFDG_OK)
        rc = connect_schema(o->pg, schema, out, ei);
    if (rc == DFDG_OK) {
        rc = insert_persons(*out, cprs, ncprs, ei);
        if (rc != DFDG_OK) {
            PQfinish(*out);
            *out = NULL;
        }
    }
    return rc;
}

/* COPY of rows [first, first + m) in one transaction, timed from BEGIN to COMMIT. */
static dfdg_err
copy_tx(PGconn *c, const struct rows *r, size_t first, size_t m, struct pass *ps,
        struct dfdg_errinfo *ei)
{
    double t0 = bench_now();
    dfdg_err rc = pg_run(c, begin_sql, "begin", ei);
    if (rc == DFDG_OK)
        rc = copy_in(c, "COPY record(" RECORD_COLUMNS ") FROM STDIN", r->text + r->off[first],
                     r->off[first + m] - r->off[first], ei);
    if (rc == DFDG_OK)
        rc = pg_run(c, "COMMIT", "commit", ei);
    if (rc != DFDG_OK) {
        PQclear(PQexec(c, "ROLLBACK"));
        return rc;
    }
    ps->seconds += bench_now() - t0;
    ps->rows += m;
    ps->commits++;
    return DFDG_OK;
}

/* The store's former per-row INSERT, transactions of b rows. */
static dfdg_err
insert_pass(PGconn *c, const struct rows *r, size_t b, struct pass *ps, struct dfdg_errinfo *ei)
{
    PGresult *res = PQprepare(c, "ins", insert_sql, 0, NULL);
    if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
        dfdg_err rc = pg_fail(c, res, "prepare", ei);
        PQclear(res);
        return rc;
    }
    PQclear(res);
    for (size_t first = 0; first < r->n; first += b) {
        size_t m = r->n - first < b ? r->n - first : b;
        /* The values as text, made before the clock runs (the hash goes binary). */
        char(*num)[4][24] = calloc(m, sizeof *num);
        if (num == NULL)
            return dfdg_errinfo_set(ei, DFDG_NOMEM, "insert values");
        for (size_t k = 0; k < m; k++) {
            const struct bench_rec *rec = &r->rec[first + k];
            const char *line = r->text + r->off[first + k];
            /* recorded_at is the 9th field of the COPY line: reuse it. */
            const char *f = line;
            for (int tabs = 0; tabs < 8; f++)
                tabs += *f == '\t';
            size_t flen = strcspn(f, "\t");
            snprintf(num[k][0], sizeof num[k][0], "%zu", rec->person + 1);
            snprintf(num[k][1], sizeof num[k][1], "%d", (int)rec->valid_from);
            snprintf(num[k][2], sizeof num[k][2], "%d", (int)rec->valid_to);
            snprintf(num[k][3], sizeof num[k][3], "%.*s", (int)flen, f);
        }
        double t0 = bench_now();
        dfdg_err rc = pg_run(c, begin_sql, "begin", ei);
        for (size_t k = 0; k < m && rc == DFDG_OK; k++) {
            const struct bench_rec *rec = &r->rec[first + k];
            const char *values[INSERT_COLUMNS] = {r->ids[first + k],
                                                  BENCH_TYPE,
                                                  num[k][0],
                                                  NULL,
                                                  BENCH_REPORTER,
                                                  rec->source_ref,
                                                  num[k][1],
                                                  num[k][2],
                                                  num[k][3],
                                                  "0",
                                                  NULL,
                                                  (const char *)(r->hash + 32 * (first + k)),
                                                  rec->data,
                                                  NULL,
                                                  BENCH_REPORTER};
            int lengths[INSERT_COLUMNS] = {0};
            int formats[INSERT_COLUMNS] = {0};
            lengths[11] = 32;
            formats[11] = 1;
            res = PQexecPrepared(c, "ins", INSERT_COLUMNS, values, lengths, formats, 0);
            if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
                rc = res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK
                         ? dfdg_errinfo_set(ei, DFDG_CONFLICT, "postgres: a row was not inserted")
                         : pg_fail(c, res, "insert", ei);
            PQclear(res);
        }
        if (rc == DFDG_OK)
            rc = pg_run(c, "COMMIT", "commit", ei);
        free(num);
        if (rc != DFDG_OK) {
            PQclear(PQexec(c, "ROLLBACK"));
            return rc;
        }
        ps->seconds += bench_now() - t0;
        ps->rows += m;
        ps->commits++;
    }
    return DFDG_OK;
}

/* Counts the rows of record in the connection's schema; they must be exactly n. */
static dfdg_err
check_count(PGconn *c, size_t n, struct dfdg_errinfo *ei)
{
    char v[32];
    dfdg_err rc = pg_value(c, "SELECT count(*) FROM record", v, sizeof v, ei);
    if (rc == DFDG_OK && strtoull(v, NULL, 10) != n)
        rc = dfdg_errinfo_set(ei, DFDG_CORRUPT, "postgres: %s rows in record, not %zu", v, n);
    return rc;
}

static void
notice_ignore(void *arg, const char *message)
{
    /* "drop cascades to ...": libpq would print every object to stderr. */
    (void)arg;
    (void)message;
}

static void
drop_schema(const char *conninfo, const char *schema)
{
    PGconn *c = PQconnectdb(conninfo);
    if (c != NULL && PQstatus(c) == CONNECTION_OK) {
        PQsetNoticeProcessor(c, notice_ignore, NULL);
        char sql[160];
        snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS \"%s\" CASCADE", schema);
        PQclear(PQexec(c, sql));
    }
    PQfinish(c);
}

static void
print_pass(const char *what, const char *label, const struct pass *ps)
{
    char g[32];
    printf("  %-13s %-28s: %9s rec/s  (%.2f s, %zu commit%s)\n", what, label,
           bench_grouped((double)ps->rows / ps->seconds, g), ps->seconds, ps->commits,
           ps->commits == 1 ? "" : "s");
    fflush(stdout);
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {{"pg", required_argument, NULL, 'p'},
                                             {"cprs", required_argument, NULL, 'c'},
                                             {"run", required_argument, NULL, 'r'},
                                             {"no-insert", no_argument, NULL, 'I'},
                                             {"keep", no_argument, NULL, 'k'},
                                             {"help", no_argument, NULL, 'h'},
                                             {0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "n:b:", longopts, NULL)) != -1) {
        bool ok = true;
        switch (ch) {
        case 'p':
            o->pg = optarg;
            ok = strstr(optarg, "schema=") == NULL;
            break;
        case 'c':
            o->cprs = optarg;
            break;
        case 'r':
            o->run = optarg;
            ok = strlen(optarg) > 0 && strlen(optarg) <= 32 &&
                 strspn(optarg, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(optarg);
            break;
        case 'n':
            ok = bench_parse_count(optarg, 10000000, &o->n) && o->n > 0;
            break;
        case 'b':
            ok = bench_parse_count(optarg, 1000000, &o->b) && o->b > 0;
            break;
        case 'I':
            o->insert = false;
            break;
        case 'k':
            o->keep = true;
            break;
        case 'h':
            fputs(usage, stdout);
            exit(0);
        default:
            ok = false;
        }
        if (!ok) {
            fprintf(stderr, "bench_pg_copy: bad value '%s'\n", optarg != NULL ? optarg : "");
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind != argc || o->pg == NULL || o->cprs == NULL || o->run == NULL) {
        fputs(usage, stderr);
        return 2;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct opts o = {.n = 200000, .b = 1000, .insert = true};
    int urc = parse_opts(argc, argv, &o);
    if (urc != 0)
        return urc;
    struct dfdg_errinfo ei = {0};
    char(*cprs)[DFDG_CPR_LEN] = NULL;
    size_t ncprs = 0;
    if (bench_read_cprs(o.cprs, &cprs, &ncprs, &ei) != DFDG_OK) {
        fprintf(stderr, "bench_pg_copy: %s\n", ei.msg);
        return 1;
    }
    /* Schema names: bench_<run>_<pass>, with the run's '-' as '_'. */
    char base[48];
    snprintf(base, sizeof base, "bench_%s", o.run);
    for (char *p = base; *p != '\0'; p++)
        if (*p == '-')
            *p = '_';
    char s_copy[64], s_one[64], s_ins[64];
    snprintf(s_copy, sizeof s_copy, "%s_copy", base);
    snprintf(s_one, sizeof s_one, "%s_copy1", base);
    snprintf(s_ins, sizeof s_ins, "%s_insert", base);

    struct rows rows;
    if (rows_make(&rows, o.run, cprs, ncprs, o.n, o.b, &ei) != DFDG_OK) {
        fprintf(stderr, "bench_pg_copy: %s\n", ei.msg);
        free(cprs);
        return 1;
    }
    int status = 0;
    PGconn *c = NULL;
    struct pass copy_b = {0}, copy_1 = {0}, ins = {0};
    char label[64];
    dfdg_err rc = prepare_schema(&o, s_copy, cprs, ncprs, &c, &ei);
    if (rc == DFDG_OK) {
        char fsync[16] = "?", sc[16] = "?", ver[64] = "?";
        (void)pg_value(c, "SHOW fsync", fsync, sizeof fsync, &ei);
        (void)pg_value(c, "SHOW synchronous_commit", sc, sizeof sc, &ei);
        (void)pg_value(c, "SHOW server_version", ver, sizeof ver, &ei);
        printf("  (PostgreSQL %s: fsync=%s, synchronous_commit=%s; %zu persons)\n", ver, fsync, sc,
               ncprs);
    }
    for (size_t first = 0; rc == DFDG_OK && first < o.n; first += o.b)
        rc = copy_tx(c, &rows, first, o.n - first < o.b ? o.n - first : o.b, &copy_b, &ei);
    if (rc == DFDG_OK)
        rc = check_count(c, o.n, &ei);
    if (rc == DFDG_OK) {
        snprintf(label, sizeof label, "same rows, tx of %zu", o.b);
        print_pass("PG COPY", label, &copy_b);
    }
    PQfinish(c);
    c = NULL;
    if (rc == DFDG_OK)
        rc = prepare_schema(&o, s_one, cprs, ncprs, &c, &ei);
    if (rc == DFDG_OK)
        rc = copy_tx(c, &rows, 0, o.n, &copy_1, &ei);
    if (rc == DFDG_OK)
        rc = check_count(c, o.n, &ei);
    if (rc == DFDG_OK)
        print_pass("PG COPY", "same rows, one tx", &copy_1);
    PQfinish(c);
    c = NULL;
    if (rc == DFDG_OK && o.insert) {
        rc = prepare_schema(&o, s_ins, cprs, ncprs, &c, &ei);
        if (rc == DFDG_OK)
            rc = insert_pass(c, &rows, o.b, &ins, &ei);
        if (rc == DFDG_OK)
            rc = check_count(c, o.n, &ei);
        if (rc == DFDG_OK) {
            snprintf(label, sizeof label, "a row a round trip, tx %zu", o.b);
            print_pass("PG INSERT", label, &ins);
        }
        PQfinish(c);
    }
    if (rc != DFDG_OK) {
        fprintf(stderr, "bench_pg_copy: %s\n", ei.msg);
        status = 1;
    }
    if (!o.keep) {
        drop_schema(o.pg, s_copy);
        drop_schema(o.pg, s_one);
        drop_schema(o.pg, s_ins);
    }
    rows_free(&rows);
    free(cprs);
    return status;
}
