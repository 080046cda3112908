/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_cprimport.c: the CPR import line parser (the DESIGN section 5 example, every kind of bad
 * line, limits, no CPR number in any message) and the file importer against a real SQLite store
 * (one transaction, line numbers, --skip-bad, progress, over-long lines, CPR number changes).
 */
#include "core/dfdg.h"
#include "exchange/cprimport.h"

#include <setjmp.h>
#include <stdarg.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/when.h"

/* The example line of DESIGN section 5, on one line. */
#define EX_ADDRESSES                                                                               \
    "[{\"kommunekode\":\"101\",\"road\":\"N\xc3\xb8rregade\",\"house\":\"7\",\"postcode\":"        \
    "\"1165\","                                                                                    \
    "\"city\":\"K\xc3\xb8"                                                                         \
    "benhavn K\",\"from\":\"2015-03-01\",\"to\":null}]"
static const char example[] =
    "{\"cpr\":\"0101901234\",\"previous_cprs\":[\"0101901233\"],\"birthdate\":\"1990-01-01\","
    "\"sex\":\"M\",\"status\":\"active\",\"name\":{\"first\":\"Ane\",\"middle\":null,"
    "\"last\":\"Hansen\"},\"addresses\":" EX_ADDRESSES ","
    "\"address_protection\":[{\"from\":\"2020-01-01\",\"to\":null}],"
    "\"children_birthdates\":[\"2018-06-30\"]}";

static int32_t
ymd(int y, int m, int d)
{
    return dfdg_date_from_ymd(y, m, d);
}

/* True when s holds a run of at least 6 digits (a CPR number or a part of one). */
static bool
has_digit_run(const char *s)
{
    int run = 0;
    for (; *s != '\0'; s++) {
        run = (*s >= '0' && *s <= '9') ? run + 1 : 0;
        if (run >= 6)
            return true;
    }
    return false;
}

static dfdg_err
parse(const char *line, struct dfdg_person *p, struct dfdg_errinfo *ei)
{
    memset(ei, 0, sizeof *ei);
    return dfdg_cprimport_parse_line(line, strlen(line), p, ei);
}

/* Returns a copy of base with the first occurrence of from replaced by to (caller frees). */
static char *
replace(const char *base, const char *from, const char *to)
{
    const char *at = strstr(base, from);
    assert_non_null(at);
    size_t n = strlen(base) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    assert_non_null(out);
    size_t head = (size_t)(at - base);
    memcpy(out, base, head);
    memcpy(out + head, to, strlen(to));
    memcpy(out + head + strlen(to), at + strlen(from), strlen(at + strlen(from)) + 1);
    return out;
}

/* --- the parser ---------------------------------------------------------------------------- */

static void
test_example_line(void **state)
{
    (void)state;
    struct dfdg_person p;
    struct dfdg_errinfo ei;
    assert_int_equal(parse(example, &p, &ei), DFDG_OK);
    assert_int_equal(p.person_id, 0);
    assert_string_equal(p.cpr, "0101901234");
    assert_int_equal(p.nprevious, 1);
    assert_string_equal(p.previous[0], "0101901233");
    assert_int_equal(p.birthdate, ymd(1990, 1, 1));
    assert_string_equal(p.sex, "M");
    assert_string_equal(p.status, "active");
    assert_string_equal(p.first, "Ane");
    assert_string_equal(p.middle, "");
    assert_string_equal(p.last, "Hansen");
    assert_int_equal(p.naddresses, 1);
    assert_string_equal(p.addresses[0].kommunekode, "101");
    assert_string_equal(p.addresses[0].road, "N\xc3\xb8rregade");
    assert_string_equal(p.addresses[0].house, "7");
    assert_string_equal(p.addresses[0].postcode, "1165");
    assert_string_equal(p.addresses[0].city, "K\xc3\xb8"
                                             "benhavn K");
    assert_int_equal(p.addresses[0].from, ymd(2015, 3, 1));
    assert_int_equal(p.addresses[0].to, DFDG_DATE_NONE);
    assert_int_equal(p.nprotection, 1);
    assert_int_equal(p.protection[0].from, ymd(2020, 1, 1));
    assert_int_equal(p.protection[0].to, DFDG_DATE_NONE);
    assert_int_equal(p.nchildren, 1);
    assert_int_equal(p.children[0], ymd(2018, 6, 30));
    dfdg_person_cleanup(&p);

    /* The same with a trailing CR (a CRLF file) and surrounding blanks. */
    char *crlf = malloc(strlen(example) + 4);
    assert_non_null(crlf);
    snprintf(crlf, strlen(example) + 4, " %s\r\n", example);
    assert_int_equal(parse(crlf, &p, &ei), DFDG_OK);
    assert_string_equal(p.cpr, "0101901234");
    dfdg_person_cleanup(&p);
    free(crlf);
}

static void
test_minimal_line(void **state)
{
    (void)state;
    struct dfdg_person p;
    struct dfdg_errinfo ei;
    /* Optional keys absent; a hyphenated number; one failing modulus 11 (issued since 2007). */
    const char *line = "{\"cpr\":\"010165-1234\",\"birthdate\":\"1965-01-01\",\"sex\":\"F\","
                       "\"status\":\"dead\",\"name\":{\"first\":\"B\",\"last\":\"C\"}}";
    assert_int_equal(parse(line, &p, &ei), DFDG_OK);
    assert_string_equal(p.cpr, "0101651234");
    assert_int_equal(p.nprevious, 0);
    assert_null(p.previous);
    assert_int_equal(p.naddresses, 0);
    assert_int_equal(p.nprotection, 0);
    assert_int_equal(p.nchildren, 0);
    assert_string_equal(p.middle, "");
    assert_string_equal(p.sex, "F");
    dfdg_person_cleanup(&p);

    /* Optional keys as null, and empty arrays. */
    line = "{\"cpr\":\"2902004000\",\"previous_cprs\":null,\"birthdate\":\"2000-02-29\","
           "\"sex\":\"F\",\"status\":\"emigrated\",\"name\":{\"first\":\"B\",\"middle\":\"M\","
           "\"last\":\"C\"},\"addresses\":[],\"address_protection\":null,"
           "\"children_birthdates\":[]}";
    assert_int_equal(parse(line, &p, &ei), DFDG_OK);
    assert_int_equal(p.birthdate, ymd(2000, 2, 29));
    assert_string_equal(p.middle, "M");
    assert_int_equal(p.naddresses + p.nprotection + p.nchildren + p.nprevious, 0);
    dfdg_person_cleanup(&p);
}

static void
test_addresses_sorted_and_adjacent(void **state)
{
    (void)state;
    struct dfdg_person p;
    struct dfdg_errinfo ei;
    /* Newest first in the input; each "to" is the day of the next move (exclusive). */
    const char *line =
        "{\"cpr\":\"0101901234\",\"birthdate\":\"1990-01-01\",\"sex\":\"M\",\"status\":\"active\","
        "\"name\":{\"first\":\"A\",\"last\":\"B\"},\"addresses\":["
        "{\"kommunekode\":\"751\",\"from\":\"2020-05-01\",\"to\":null},"
        "{\"kommunekode\":\"101\",\"from\":\"2010-01-01\",\"to\":\"2015-03-01\"},"
        "{\"kommunekode\":\"147\",\"from\":\"2015-03-01\",\"to\":\"2020-05-01\"}],"
        "\"address_protection\":[{\"from\":\"2021-01-01\",\"to\":null},"
        "{\"from\":\"2012-01-01\",\"to\":\"2013-01-01\"}]}";
    assert_int_equal(parse(line, &p, &ei), DFDG_OK);
    assert_int_equal(p.naddresses, 3);
    assert_string_equal(p.addresses[0].kommunekode, "101");
    assert_string_equal(p.addresses[1].kommunekode, "147");
    assert_string_equal(p.addresses[2].kommunekode, "751");
    assert_int_equal(p.addresses[0].to, ymd(2015, 3, 1));
    assert_int_equal(p.addresses[1].from, ymd(2015, 3, 1));
    assert_string_equal(p.addresses[0].road, "");
    assert_int_equal(p.nprotection, 2);
    assert_int_equal(p.protection[0].from, ymd(2012, 1, 1));
    assert_int_equal(p.protection[1].to, DFDG_DATE_NONE);
    dfdg_person_cleanup(&p);
}

static void
test_string_limits(void **state)
{
    (void)state;
    struct dfdg_person p;
    struct dfdg_errinfo ei;
    char name63[64], name64[65];
    memset(name63, 'a', 63);
    name63[63] = '\0';
    memset(name64, 'a', 64);
    name64[64] = '\0';

    char to[200];
    snprintf(to, sizeof to, "\"first\":\"%s\"", name63);
    char *line = replace(example, "\"first\":\"Ane\"", to);
    assert_int_equal(parse(line, &p, &ei), DFDG_OK);
    assert_string_equal(p.first, name63);
    dfdg_person_cleanup(&p);
    free(line);

    snprintf(to, sizeof to, "\"first\":\"%s\"", name64);
    line = replace(example, "\"first\":\"Ane\"", to);
    assert_int_equal(parse(line, &p, &ei), DFDG_INVAL);
    assert_string_equal(ei.field, "name.first");
    assert_non_null(strstr(ei.msg, "name.first: longer than 63 bytes"));
    assert_null(p.previous); /* nothing left to leak */
    dfdg_person_cleanup(&p);
    free(line);

    /* Bytes count, not characters: 32 two-byte letters are 64 bytes. */
    char wide[200] = "\"last\":\"";
    for (int i = 0; i < 32; i++)
        strncat(wide, "\xc3\xb8", sizeof wide - strlen(wide) - 1);
    strncat(wide, "\"", sizeof wide - strlen(wide) - 1);
    line = replace(example, "\"last\":\"Hansen\"", wide);
    assert_int_equal(parse(line, &p, &ei), DFDG_INVAL);
    assert_string_equal(ei.field, "name.last");
    dfdg_person_cleanup(&p);
    free(line);
}

struct bad_case {
    const char *from; /* text of the example line to replace */
    const char *to;   /* its replacement */
    const char *want; /* expected start of the message */
};

static const struct bad_case bad_cases[] = {
    /* shape */
    {"\"cpr\":\"0101901234\",", "", "cpr: missing"},
    {"\"cpr\":\"0101901234\"", "\"cpr\":101901234", "cpr: must be a string"},
    {"\"cpr\":\"0101901234\"", "\"cpr\":null", "cpr: must not be null"},
    {"\"cpr\":\"0101901234\"", "\"cpr\":\"3102901234\"", "cpr: not a valid CPR number"},
    {"\"cpr\":\"0101901234\"", "\"cpr\":\"0000000000\"", "cpr: not a valid CPR number"},
    {"\"cpr\":\"0101901234\"", "\"cpr\":\"010190123\"", "cpr: not a valid CPR number"},
    {"\"cpr\":\"0101901234\"", "\"cpr\":\"01019O1234\"", "cpr: not a valid CPR number"},
    {"\"cpr\":\"0101901234\"", "\"cpr\":\"0101901234\",\"nickname\":\"x\"",
     "nickname: unknown key"},
    {"\"cpr\":\"0101901234\"", "\"cpr\":\"0101901234\",\"0101901299\":1",
     "the line holds an unknown key (not shown)"},
    {"\"sex\":\"M\"", "\"sex\":\"M\",\"sex\":\"F\"", "a key appears twice"},
    {"\"first\":\"Ane\"", "\"first\":\"Ane\",\"first\":\"Bo\"", "a key appears twice"},
    /* previous numbers */
    {"[\"0101901233\"]", "\"0101901233\"", "previous_cprs: must be an array"},
    {"[\"0101901233\"]", "[\"0101901233\",\"3002901233\"]",
     "previous_cprs[1]: not a valid CPR number"},
    {"[\"0101901233\"]", "[\"0101901233\",7]", "previous_cprs[1]: must be a string"},
    {"[\"0101901233\"]", "[\"0101901234\"]", "previous_cprs[0]: is the current number"},
    {"[\"0101901233\"]", "[\"0101901233\",\"010190-1233\"]", "previous_cprs[1]: repeats"},
    /* birth date, sex, status */
    {"\"birthdate\":\"1990-01-01\",", "", "birthdate: missing"},
    {"\"birthdate\":\"1990-01-01\"", "\"birthdate\":\"1990-1-1\"", "birthdate: not a date"},
    {"\"birthdate\":\"1990-01-01\"", "\"birthdate\":19900101", "birthdate: must be a date"},
    {"\"birthdate\":\"1990-01-01\"", "\"birthdate\":\"2090-01-01\"", "birthdate: differs"},
    {"\"sex\":\"M\"", "\"sex\":\"X\"", "sex: must be"},
    {"\"sex\":\"M\"", "\"sex\":\"m\"", "sex: must be"},
    {"\"sex\":\"M\"", "\"sex\":\"MF\"", "sex: must be"},
    {"\"sex\":\"M\"", "\"sex\":1", "sex: must be"},
    {"\"sex\":\"M\",", "", "sex: missing"},
    {"\"status\":\"active\"", "\"status\":\"\"", "status: must not be empty"},
    {"\"status\":\"active\"", "\"status\":\"Active!\"", "status: must be a lower-case word"},
    {"\"status\":\"active\"", "\"status\":\"a-very-long-status\"", "status: longer than 15"},
    {"\"status\":\"active\",", "", "status: missing"},
    /* name */
    {"\"name\":{\"first\":\"Ane\",\"middle\":null,\"last\":\"Hansen\"}", "\"name\":\"Ane Hansen\"",
     "name: must be an object"},
    {"\"name\":{\"first\":\"Ane\",\"middle\":null,\"last\":\"Hansen\"},", "", "name: missing"},
    {"\"first\":\"Ane\",", "", "name.first: missing"},
    {"\"last\":\"Hansen\"", "\"last\":null", "name.last: must not be null"},
    {"\"middle\":null", "\"middle\":3", "name.middle: must be a string"},
    {"\"middle\":null", "\"nick\":null", "name.nick: unknown key"},
    {"\"first\":\"Ane\"", "\"first\":\"A\\nne\"", "name.first: holds a control character"},
    /* addresses */
    {EX_ADDRESSES, "{\"kommunekode\":\"101\",\"from\":\"2015-03-01\"}",
     "addresses: must be an array"},
    {"\"addresses\":[", "\"addresses\":[7,", "addresses[0]: must be an object"},
    {"\"kommunekode\":\"101\"", "\"kommunekode\":\"1010\"", "addresses[0].kommunekode: longer"},
    {"\"kommunekode\":\"101\"", "\"kommunekode\":\"10\"", "addresses[0].kommunekode: must be 3"},
    {"\"kommunekode\":\"101\"", "\"kommunekode\":\"1a1\"", "addresses[0].kommunekode: must be 3"},
    {"\"kommunekode\":\"101\"", "\"kommunekode\":101", "addresses[0].kommunekode: must be a str"},
    {"\"kommunekode\":\"101\",", "", "addresses[0].kommunekode: missing"},
    {"\"house\":\"7\"", "\"house\":\"7\",\"floor\":\"2\"", "addresses[0].floor: unknown key"},
    {"\"house\":\"7\"", "\"house\":\"12345678901234567\"", "addresses[0].house: longer than 15"},
    {"\"postcode\":\"1165\"", "\"postcode\":\"123456789\"", "addresses[0].postcode: longer"},
    {"\"from\":\"2015-03-01\",\"to\":null}]", "\"to\":null}]", "addresses[0].from: missing"},
    {"\"from\":\"2015-03-01\",\"to\":null}]", "\"from\":\"2015-02-29\",\"to\":null}]",
     "addresses[0].from: day out of range"},
    {"\"from\":\"2015-03-01\",\"to\":null}]", "\"from\":\"2015-03-01\",\"to\":\"2015-03-01\"}]",
     "addresses[0].to: must be after from"},
    {"\"from\":\"2015-03-01\",\"to\":null}]", "\"from\":\"2015-03-01\",\"to\":\"2014-03-01\"}]",
     "addresses[0].to: must be after from"},
    {"\"from\":\"2015-03-01\",\"to\":null}]", "\"from\":\"2015-03-01\",\"to\":\"soon\"}]",
     "addresses[0].to: not a date"},
    {"\"from\":\"2015-03-01\",\"to\":null}]",
     "\"from\":\"2015-03-01\",\"to\":null},{\"kommunekode\":\"147\",\"from\":\"2016-01-01\"}]",
     "addresses[1]: overlaps addresses[0]"},
    {"\"from\":\"2015-03-01\",\"to\":null}]",
     "\"from\":\"2015-03-01\",\"to\":\"2016-01-02\"},{\"kommunekode\":\"147\","
     "\"from\":\"2016-01-01\"}]",
     "addresses[1]: overlaps addresses[0]"},
    {"\"addresses\":[",
     "\"addresses\":[{\"kommunekode\":\"147\",\"from\":\"2015-03-01\",\"to\":\"2015-04-01\"},",
     "addresses[1]: overlaps addresses[0]"},
    /* address protection */
    {"[{\"from\":\"2020-01-01\",\"to\":null}]", "{\"from\":\"2020-01-01\"}",
     "address_protection: must be an array"},
    {"[{\"from\":\"2020-01-01\",\"to\":null}]", "[{\"to\":null}]",
     "address_protection[0].from: missing"},
    {"[{\"from\":\"2020-01-01\",\"to\":null}]", "[{\"from\":\"2020-01-01\",\"to\":\"2019-01-01\"}]",
     "address_protection[0].to: must be after from"},
    {"[{\"from\":\"2020-01-01\",\"to\":null}]",
     "[{\"from\":\"2020-01-01\",\"to\":null},{\"from\":\"2019-01-01\",\"to\":\"2020-01-02\"}]",
     "address_protection[1]: overlaps address_protection[0]"},
    {"[{\"from\":\"2020-01-01\",\"to\":null}]", "[{\"from\":\"2020-01-01\",\"why\":\"x\"}]",
     "address_protection[0].why: unknown key"},
    {"[{\"from\":\"2020-01-01\",\"to\":null}]", "[\"2020-01-01\"]",
     "address_protection[0]: must be an object"},
    /* children */
    {"[\"2018-06-30\"]", "[\"2018-06-31\"]", "children_birthdates[0]: day out of range"},
    {"[\"2018-06-30\"]", "[\"2018-06-30\",20180630]",
     "children_birthdates[1]: must be a date string"},
    {"[\"2018-06-30\"]", "[\"1989-06-30\"]", "children_birthdates[0]: not after the person"},
    {"[\"2018-06-30\"]", "\"2018-06-30\"", "children_birthdates: must be an array"},
};

static void
test_bad_lines(void **state)
{
    (void)state;
    for (size_t i = 0; i < DFDG_ARRAY_LEN(bad_cases); i++) {
        const struct bad_case *c = &bad_cases[i];
        char *line = replace(example, c->from, c->to);
        struct dfdg_person p;
        struct dfdg_errinfo ei;
        dfdg_err rc = parse(line, &p, &ei);
        if (rc != DFDG_INVAL || strncmp(ei.msg, c->want, strlen(c->want)) != 0)
            fail_msg("case %zu: rc %d, message \"%s\", wanted \"%s\"", i, rc, ei.msg, c->want);
        assert_false(has_digit_run(ei.msg));
        /* The output is empty after an error (so cleanup by the caller is optional). */
        assert_null(p.previous);
        assert_null(p.addresses);
        assert_null(p.protection);
        assert_null(p.children);
        assert_string_equal(p.cpr, "");
        dfdg_person_cleanup(&p);
        free(line);
    }
}

static void
test_not_json(void **state)
{
    (void)state;
    static const char *const lines[] = {
        "{",
        "[]",
        "42",
        "\"0101901234\"",
        "{\"cpr\":0101901234}",
        "{\"cpr\":\"0101901234\"} {}",
        "null",
        "{\"cpr\":\"\xff\xfe\"}",
        "{'cpr':'0101901234'}",
    };
    for (size_t i = 0; i < DFDG_ARRAY_LEN(lines); i++) {
        struct dfdg_person p;
        struct dfdg_errinfo ei;
        assert_int_equal(parse(lines[i], &p, &ei), DFDG_INVAL);
        assert_true(ei.msg[0] != '\0');
        assert_false(has_digit_run(ei.msg));
        dfdg_person_cleanup(&p);
    }
    struct dfdg_person p;
    struct dfdg_errinfo ei;
    memset(&ei, 0, sizeof ei);
    assert_int_equal(dfdg_cprimport_parse_line("", 0, &p, &ei), DFDG_INVAL);
    assert_int_equal(dfdg_cprimport_parse_line(NULL, 0, &p, NULL), DFDG_INVAL);
    /* len is honoured: the tail after len is not read. */
    char buf[sizeof example + 8];
    snprintf(buf, sizeof buf, "%sgarbage", example);
    assert_int_equal(dfdg_cprimport_parse_line(buf, strlen(example), &p, &ei), DFDG_OK);
    dfdg_person_cleanup(&p);
    assert_int_equal(dfdg_cprimport_parse_line(buf, strlen(buf), &p, &ei), DFDG_INVAL);
}

/* --- the file importer --------------------------------------------------------------------- */

static int file_seq;

/* A fresh path in the scratch folder (with .db files' companions removed). */
static void
scratch_path(char *out, size_t size, const char *ext)
{
    snprintf(out, size, "%s/cprimport_%ld_%d%s", DFDG_TEST_TMP, (long)getpid(), ++file_seq, ext);
    unlink(out);
    char side[600];
    snprintf(side, sizeof side, "%s-wal", out);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", out);
    unlink(side);
    snprintf(side, sizeof side, "%s-journal", out);
    unlink(side);
}

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

static struct dfdg_store *
new_store(char *path, size_t size)
{
    struct dfdg_store *s = NULL;
    struct dfdg_errinfo ei;
    memset(&ei, 0, sizeof ei);
    scratch_path(path, size, ".db");
    dfdg_err rc = dfdg_store_open(path, DFDG_STORE_CREATE, &s, &ei);
    if (rc != DFDG_OK)
        fail_msg("store_open: %s %s", dfdg_err_name(rc), ei.msg);
    return s;
}

static void
drop_store(struct dfdg_store *s, const char *path)
{
    dfdg_store_close(s);
    char side[600];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

static int64_t
count_persons(struct dfdg_store *s)
{
    int64_t n = -1;
    assert_int_equal(dfdg_store_count_persons(s, &n), DFDG_OK);
    return n;
}

/* A valid one-line person: number DDMMYY1SSS from day, plus optional extra keys. */
static void
person_line(char *out, size_t size, int32_t day, int serial, const char *extra)
{
    int y, m, d;
    char date[DFDG_DATE_LEN];
    dfdg_date_to_ymd(day, &y, &m, &d);
    dfdg_date_format(day, date);
    snprintf(out, size,
             "{\"cpr\":\"%02d%02d%02d1%03d\",\"birthdate\":\"%s\",\"sex\":\"F\","
             "\"status\":\"active\",\"name\":{\"first\":\"P\",\"last\":\"Q\"},"
             "\"addresses\":[{\"kommunekode\":\"101\",\"from\":\"2015-03-01\"}]%s}\n",
             d, m, y % 100, serial % 1000, date, extra != NULL ? extra : "");
}

struct calls {
    size_t nbad;
    size_t bad_lines[8];
    char bad_msg[256];
    size_t nprogress;
    size_t last_lines;
    uint64_t last_done, last_total;
};

static void
on_bad(void *ctx, size_t line_no, const char *msg)
{
    struct calls *c = ctx;
    if (c->nbad < DFDG_ARRAY_LEN(c->bad_lines))
        c->bad_lines[c->nbad] = line_no;
    c->nbad++;
    dfdg_strlcpy(c->bad_msg, msg, sizeof c->bad_msg);
}

static void
on_progress(void *ctx, size_t lines, uint64_t done, uint64_t total)
{
    struct calls *c = ctx;
    c->nprogress++;
    assert_true(lines >= c->last_lines);
    assert_true(done <= total);
    c->last_lines = lines;
    c->last_done = done;
    c->last_total = total;
}

static void
test_file_good(void **state)
{
    (void)state;
    char db[512], file[512], text[4096], l1[512], l2[512];
    struct dfdg_store *s = new_store(db, sizeof db);
    struct dfdg_cprimport_stats st;
    struct dfdg_errinfo ei;
    struct calls calls;
    memset(&calls, 0, sizeof calls);
    memset(&ei, 0, sizeof ei);

    person_line(l1, sizeof l1, ymd(1980, 5, 17), 123, NULL);
    person_line(l2, sizeof l2, ymd(1975, 12, 1), 456, NULL);
    /* BOM, blank lines, CRLF and no final newline. */
    snprintf(text, sizeof text, "\xef\xbb\xbf%s\n  \r\n%s\r\n%s", example, l1, l2);
    text[strlen(text) - 1] = '\0'; /* drop l2's newline */
    scratch_path(file, sizeof file, ".jsonl");
    write_file(file, text);

    dfdg_err rc = dfdg_cprimport_file(s, NULL, file, false, on_progress, on_bad, &calls, &st, &ei);
    if (rc != DFDG_OK)
        fail_msg("import: %s %s", dfdg_err_name(rc), ei.msg);
    assert_int_equal(st.lines, 5);
    assert_int_equal(st.imported, 3);
    assert_int_equal(st.skipped, 0);
    assert_int_equal(calls.nbad, 0);
    assert_int_equal(calls.nprogress, 1); /* the final call */
    assert_int_equal(calls.last_done, strlen(text));
    assert_int_equal(calls.last_total, strlen(text));
    assert_int_equal(count_persons(s), 3);

    /* Both numbers of the example person resolve to it; its data came through. */
    int64_t id1 = 0, id2 = 0;
    assert_int_equal(dfdg_store_person_resolve(s, "0101901234", &id1), DFDG_OK);
    assert_int_equal(dfdg_store_person_resolve(s, "0101901233", &id2), DFDG_OK);
    assert_true(id1 > 0);
    assert_int_equal(id1, id2);
    struct dfdg_person p;
    memset(&p, 0, sizeof p);
    assert_int_equal(dfdg_store_person_get(s, id1, &p), DFDG_OK);
    assert_string_equal(p.last, "Hansen");
    assert_int_equal(p.naddresses, 1);
    assert_string_equal(p.addresses[0].city, "K\xc3\xb8"
                                             "benhavn K");
    dfdg_person_cleanup(&p);
    char kk[4];
    assert_int_equal(dfdg_store_residence_on(s, id1, ymd(2016, 1, 1), kk), DFDG_OK);
    assert_string_equal(kk, "101");

    /* A CPR number change: a new number naming the old one keeps the person. */
    char change[2048];
    char *moved = replace(example, "\"cpr\":\"0101901234\",\"previous_cprs\":[\"0101901233\"]",
                          "\"cpr\":\"0101901235\",\"previous_cprs\":[\"0101901234\","
                          "\"0101901233\"]");
    char *renamed = replace(moved, "\"last\":\"Hansen\"", "\"last\":\"Jensen\"");
    snprintf(change, sizeof change, "%s\n", renamed);
    free(moved);
    free(renamed);
    write_file(file, change);
    rc = dfdg_cprimport_file(s, NULL, file, false, NULL, NULL, NULL, &st, &ei);
    if (rc != DFDG_OK)
        fail_msg("re-import: %s %s", dfdg_err_name(rc), ei.msg);
    assert_int_equal(st.imported, 1);
    assert_int_equal(count_persons(s), 3);
    int64_t id3 = 0;
    assert_int_equal(dfdg_store_person_resolve(s, "0101901235", &id3), DFDG_OK);
    assert_int_equal(id3, id1);
    assert_int_equal(dfdg_store_person_get(s, id1, &p), DFDG_OK);
    assert_string_equal(p.cpr, "0101901235");
    assert_string_equal(p.last, "Jensen");
    dfdg_person_cleanup(&p);

    unlink(file);
    drop_store(s, db);
}

static void
test_file_bad_line_applies_nothing(void **state)
{
    (void)state;
    char db[512], file[512], text[4096], l1[512], l2[512];
    struct dfdg_store *s = new_store(db, sizeof db);
    struct dfdg_cprimport_stats st;
    struct dfdg_errinfo ei;
    memset(&ei, 0, sizeof ei);

    person_line(l1, sizeof l1, ymd(1980, 5, 17), 123, NULL);
    person_line(l2, sizeof l2, ymd(1975, 12, 1), 456, NULL);
    char *bad = replace(example, "\"previous_cprs\":[\"0101901233\"]",
                        "\"previous_cprs\":[\"0101901233\",\"3102901233\"]");
    /* Line 3 is blank, the bad line is line 4. */
    snprintf(text, sizeof text, "%s%s\n%s\n%s", l1, l2, bad, example);
    free(bad);
    scratch_path(file, sizeof file, ".jsonl");
    write_file(file, text);

    dfdg_err rc = dfdg_cprimport_file(s, NULL, file, false, NULL, NULL, NULL, &st, &ei);
    assert_int_equal(rc, DFDG_INVAL);
    assert_string_equal(ei.msg, "line 4: previous_cprs[1]: not a valid CPR number (the CPR "
                                "number's birth date does not exist)");
    assert_string_equal(ei.field, "previous_cprs[1]");
    assert_int_equal(st.imported, 0);
    assert_int_equal(count_persons(s), 0); /* lines 1 and 2 were rolled back */
    int64_t id;
    assert_int_equal(dfdg_store_person_resolve(s, "1705801123", &id), DFDG_NOT_FOUND);

    /* The store is usable afterwards: the transaction was closed. */
    write_file(file, l1);
    assert_int_equal(dfdg_cprimport_file(s, NULL, file, false, NULL, NULL, NULL, &st, &ei),
                     DFDG_OK);
    assert_int_equal(count_persons(s), 1);

    /* A missing file. */
    char none[600];
    snprintf(none, sizeof none, "%s.missing", file);
    assert_int_equal(dfdg_cprimport_file(s, NULL, none, false, NULL, NULL, NULL, &st, &ei),
                     DFDG_IO);

    unlink(file);
    drop_store(s, db);
}

static void
test_file_skip_bad(void **state)
{
    (void)state;
    char db[512], file[512], text[8192], l1[512], l2[512], l3[512];
    struct dfdg_store *s = new_store(db, sizeof db);
    struct dfdg_cprimport_stats st;
    struct dfdg_errinfo ei;
    struct calls calls;
    memset(&calls, 0, sizeof calls);
    memset(&ei, 0, sizeof ei);

    person_line(l1, sizeof l1, ymd(1980, 5, 17), 123, NULL);
    person_line(l2, sizeof l2, ymd(1975, 12, 1), 456, NULL);
    person_line(l3, sizeof l3, ymd(1960, 2, 29), 789, NULL);
    /* Line 2: bad JSON; line 4: the numbers of two different persons (1 and 3). */
    char conflict[1024];
    person_line(conflict, sizeof conflict, ymd(1980, 5, 17), 123,
                ",\"previous_cprs\":[\"2902601789\"]");
    snprintf(text, sizeof text, "%s{\"cpr\":\n%s%s%s", l1, l3, conflict, l2);
    scratch_path(file, sizeof file, ".jsonl");
    write_file(file, text);

    dfdg_err rc = dfdg_cprimport_file(s, NULL, file, true, NULL, on_bad, &calls, &st, &ei);
    if (rc != DFDG_OK)
        fail_msg("import: %s %s", dfdg_err_name(rc), ei.msg);
    assert_int_equal(st.lines, 5);
    assert_int_equal(st.imported, 3);
    assert_int_equal(st.skipped, 2);
    assert_int_equal(calls.nbad, 2);
    assert_int_equal(calls.bad_lines[0], 2);
    assert_int_equal(calls.bad_lines[1], 4);
    assert_false(has_digit_run(calls.bad_msg));
    assert_int_equal(count_persons(s), 3);
    int64_t a, b;
    assert_int_equal(dfdg_store_person_resolve(s, "1705801123", &a), DFDG_OK);
    assert_int_equal(dfdg_store_person_resolve(s, "2902601789", &b), DFDG_OK);
    assert_true(a != b);

    /* Without skip_bad the same file fails on line 2 and changes nothing. */
    char db2[512];
    struct dfdg_store *s2 = new_store(db2, sizeof db2);
    rc = dfdg_cprimport_file(s2, NULL, file, false, NULL, NULL, NULL, &st, &ei);
    assert_int_equal(rc, DFDG_INVAL);
    assert_memory_equal(ei.msg, "line 2: ", 8);
    assert_int_equal(count_persons(s2), 0);
    /* Line 4 alone fails as a conflict once persons 1 and 3 exist. */
    snprintf(text, sizeof text, "%s%s", l2, conflict);
    write_file(file, text);
    rc = dfdg_cprimport_file(s, NULL, file, false, NULL, NULL, NULL, &st, &ei);
    assert_int_not_equal(rc, DFDG_OK);
    assert_memory_equal(ei.msg, "line 2: ", 8);
    assert_false(has_digit_run(ei.msg));
    drop_store(s2, db2);

    unlink(file);
    drop_store(s, db);
}

static void
test_file_long_line_and_progress(void **state)
{
    (void)state;
    char db[512], file[512], line[512];
    struct dfdg_store *s = new_store(db, sizeof db);
    struct dfdg_cprimport_stats st;
    struct dfdg_errinfo ei;
    struct calls calls;
    memset(&calls, 0, sizeof calls);
    memset(&ei, 0, sizeof ei);
    scratch_path(file, sizeof file, ".jsonl");

    /* 2500 persons, with a line of 1 MiB + 1 bytes as line 1001. */
    FILE *f = fopen(file, "wb");
    assert_non_null(f);
    int32_t day0 = ymd(1950, 1, 1);
    for (int i = 0; i < 2500; i++) {
        if (i == 1000) {
            for (size_t k = 0; k < DFDG_CPRIMPORT_LINE_MAX + 1; k++)
                fputc(' ', f);
            fputc('\n', f);
        }
        person_line(line, sizeof line, day0 + i, i, NULL);
        fputs(line, f);
    }
    assert_int_equal(fclose(f), 0);

    dfdg_err rc = dfdg_cprimport_file(s, NULL, file, false, on_progress, NULL, &calls, &st, &ei);
    assert_int_equal(rc, DFDG_INVAL);
    assert_string_equal(ei.msg, "line 1001: line longer than 1 MiB");
    assert_int_equal(count_persons(s), 0);

    memset(&calls, 0, sizeof calls);
    rc = dfdg_cprimport_file(s, NULL, file, true, on_progress, on_bad, &calls, &st, &ei);
    if (rc != DFDG_OK)
        fail_msg("import: %s %s", dfdg_err_name(rc), ei.msg);
    assert_int_equal(st.lines, 2501);
    assert_int_equal(st.imported, 2500);
    assert_int_equal(st.skipped, 1);
    assert_int_equal(calls.nbad, 1);
    assert_int_equal(calls.bad_lines[0], 1001);
    assert_int_equal(calls.nprogress, 3); /* lines 1000, 2000 and the end */
    assert_int_equal(calls.last_lines, 2501);
    assert_true(calls.last_total > DFDG_CPRIMPORT_LINE_MAX);
    assert_int_equal(calls.last_done, calls.last_total);
    assert_int_equal(count_persons(s), 2500);

    /* A line of exactly the maximum is not "too long" (it is just not JSON). */
    f = fopen(file, "wb");
    assert_non_null(f);
    for (size_t k = 0; k < DFDG_CPRIMPORT_LINE_MAX; k++)
        fputc('x', f);
    assert_int_equal(fclose(f), 0);
    rc = dfdg_cprimport_file(s, NULL, file, false, NULL, NULL, NULL, &st, &ei);
    assert_int_equal(rc, DFDG_INVAL);
    assert_memory_equal(ei.msg, "line 1: not valid JSON", 22);

    unlink(file);
    drop_store(s, db);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_line),
        cmocka_unit_test(test_minimal_line),
        cmocka_unit_test(test_addresses_sorted_and_adjacent),
        cmocka_unit_test(test_string_limits),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_file_good),
        cmocka_unit_test(test_file_bad_line_applies_nothing),
        cmocka_unit_test(test_file_skip_bad),
        cmocka_unit_test(test_file_long_line_and_progress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
