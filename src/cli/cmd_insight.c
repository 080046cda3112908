/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_insight.c: `dfdg insight`: everything held about a person (GDPR art. 15), for STAR to
 * answer an access request made on paper. The same document as GET /v1/me/insight
 * (insight/insight.h), as JSON or as a printable HTML page.
 *
 * The CPR number is given as an option (this is an operator tool on the server) and is never
 * printed. The export is itself a processing of personal data: it is appended to the audit
 * log (org "star", the operator's --sub, action "insight.export", purpose "supervision", legal
 * basis GDPR art. 15) and committed, with a signed tree head, before any output is written, so
 * it shows in the person's access log. If the entry cannot be committed nothing is written.
 */
#include "core/dfdg.h"
#include "audit/auditlog.h"
#include "cli/cli.h"
#include "core/cpr.h"
#include "core/when.h"
#include "insight/insight.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <unistd.h>

static const char help[] =
    "usage: dfdg insight --db PATH --cpr CPR --sub USER [--format json|html] [--output FILE]\n"
    "                    [--catalog DIR]\n\n"
    "Prints everything held about one person (GDPR art. 15): master data, every record with\n"
    "its history, per type the purposes, legal basis, sources, recipients and retention, the\n"
    "disclosures, the access log, and the controller's and DPO's contacts. For answering\n"
    "access requests made on paper; citizens use GET /v1/me/insight.\n\n"
    "The export is logged in the audit log as STAR's (org star, action insight.export,\n"
    "purpose supervision, legal basis GDPR art. 15) before anything is written. The CPR\n"
    "number is never printed.\n\n"
    "options:\n"
    "  --db PATH        the database\n"
    "  --cpr CPR        the person (any CPR number they have had)\n"
    "  --sub USER       the STAR employee answering the request (kept in the audit log)\n"
    "  --format FORMAT  json (default) or html (a printable page)\n"
    "  --output FILE    write to FILE (created with mode 0600) instead of standard output\n"
    "  --catalog DIR    a folder of <code>.json type files instead of the built-in catalog\n"
    "  --help           show this help\n";

#define CMD "insight"
#define INSIGHT_ORG "star"
#define INSIGHT_ACTION "insight.export"
#define INSIGHT_PURPOSE "supervision"
#define INSIGHT_BASIS "GDPR art. 15" /* GDPR art. 15 */

static int
org_sort(const void *a, const void *b)
{
    return strcmp(((const struct dfdg_org *)a)->id, ((const struct dfdg_org *)b)->id);
}

/*
 * Appends the export's audit entry and a signed tree head in one transaction (GDPR art. 15:
 * the answer is a processing like any other). *idx is the entry's index.
 */
static dfdg_err
log_export(struct dfdg_store *s, const char *sub, int64_t person_id, const json_t *doc,
           int64_t *idx /* OUT */, struct dfdg_errinfo *ei)
{
    struct dfdg_audit *a = NULL;
    dfdg_err rc = dfdg_audit_open(s, &a, ei);
    if (rc != DFDG_OK)
        return rc;
    json_t *ev = dfdg_audit_event_new(INSIGHT_ORG, sub, INSIGHT_ACTION, INSIGHT_PURPOSE,
                                      INSIGHT_BASIS, NULL);
    if (ev == NULL) {
        rc = DFDG_NOMEM;
        goto free_audit;
    }
    dfdg_audit_event_add_person(ev, person_id);
    size_t gi, ri;
    json_t *g, *rec;
    json_array_foreach(json_object_get(doc, "records"), gi, g)
    {
        json_array_foreach(json_object_get(g, "records"), ri, rec)
        {
            dfdg_audit_event_add_record(ev, json_string_value(json_object_get(rec, "id")),
                                        json_string_value(json_object_get(rec, "type")), person_id,
                                        0, NULL);
        }
    }
    rc = dfdg_store_begin(s);
    if (rc != DFDG_OK)
        goto free_event;
    /* A running server may have appended since dfdg_audit_open: catch up under the lock. */
    rc = dfdg_audit_sync(a, s);
    int64_t now = dfdg_time_now_us();
    struct dfdg_sth last;
    if (rc == DFDG_OK) {
        dfdg_err r2 = dfdg_store_sth_latest(s, &last);
        if (r2 == DFDG_OK && last.at > now)
            now = last.at; /* tree heads are never dated before an earlier one */
        else if (r2 != DFDG_OK && r2 != DFDG_NOT_FOUND)
            rc = r2;
    }
    if (rc == DFDG_OK) {
        *idx = (int64_t)dfdg_audit_size(a);
        rc = dfdg_audit_append(a, s, ev, now);
    }
    if (rc == DFDG_OK)
        rc = dfdg_audit_sign(a, s, now);
    if (rc == DFDG_OK)
        rc = dfdg_store_commit(s);
    if (rc != DFDG_OK) {
        (void)dfdg_store_rollback(s);
        dfdg_errinfo_set(ei, rc, "cannot log the export in the audit log (%s); nothing written",
                         dfdg_err_message(rc));
    }
free_event:
    json_decref(ev);
free_audit:
    dfdg_audit_free(a);
    return rc;
}

/* Writes all of buf to fd; false on error. */
static bool
write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* Writes the output to path (mode 0600: it is personal data) or to standard output. */
static bool
write_output(const char *path, const char *buf, size_t len)
{
    if (path == NULL)
        return write_all(STDOUT_FILENO, buf, len);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "dfdg %s: cannot create %s: %s\n", CMD, path, strerror(errno));
        return false;
    }
    bool ok = write_all(fd, buf, len) && fsync(fd) == 0;
    if (close(fd) != 0)
        ok = false;
    if (!ok)
        fprintf(stderr, "dfdg %s: cannot write %s: %s\n", CMD, path, strerror(errno));
    return ok;
}

int
dfdg_cmd_insight(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},     {"cpr", required_argument, NULL, 'c'},
        {"sub", required_argument, NULL, 's'},    {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'}, {"catalog", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},         {0}};
    const char *db = NULL, *cpr = NULL, *sub = NULL, *format = "json", *output = NULL;
    const char *catdir = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 'c':
            cpr = optarg;
            break;
        case 's':
            sub = optarg;
            break;
        case 'f':
            format = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 'k':
            catdir = optarg;
            break;
        case 'h':
            fputs(help, stdout);
            return DFDG_EXIT_OK;
        default:
            fputs(help, stderr);
            return DFDG_EXIT_USAGE;
        }
    }
    if (db == NULL || cpr == NULL || sub == NULL || optind != argc) {
        fputs(help, stderr);
        return DFDG_EXIT_USAGE;
    }
    bool html = strcmp(format, "html") == 0;
    if (!html && strcmp(format, "json") != 0) {
        fprintf(stderr, "dfdg %s: --format must be json or html\n", CMD);
        return DFDG_EXIT_USAGE;
    }
    if (*sub == '\0' || strlen(sub) >= 128) {
        fprintf(stderr, "dfdg %s: --sub must name the STAR employee (1 to 127 bytes)\n", CMD);
        return DFDG_EXIT_USAGE;
    }
    struct dfdg_cpr parsed;
    struct dfdg_errinfo ei = {0};
    if (dfdg_cpr_parse(cpr, strlen(cpr), &parsed, &ei) != DFDG_OK) {
        /* ei names what is wrong without repeating the number. */
        fprintf(stderr, "dfdg %s: --cpr is not a valid CPR number: %s\n", CMD, ei.msg);
        return DFDG_EXIT_USAGE;
    }

    int status = DFDG_EXIT_FAIL;
    struct dfdg_catalog *cat = dfdg_cli_load_catalog(CMD, catdir);
    if (cat == NULL)
        return DFDG_EXIT_FAIL;
    struct dfdg_store *s = NULL;
    struct dfdg_org *orgs = NULL;
    size_t norgs = 0;
    json_t *doc = NULL;
    char *out = NULL;
    size_t len = 0;
    dfdg_err rc = dfdg_store_open(db, DFDG_STORE_OPEN, &s, &ei);
    if (rc != DFDG_OK) {
        dfdg_cli_fail(CMD, rc, &ei);
        goto free_catalog;
    }
    int64_t person_id = 0;
    rc = dfdg_store_person_resolve(s, parsed.digits, &person_id);
    if (rc == DFDG_NOT_FOUND) {
        fprintf(stderr, "dfdg %s: no person in the CPR master data has that CPR number\n", CMD);
        goto close_store;
    }
    if (rc == DFDG_OK)
        rc = dfdg_store_org_list(s, &orgs, &norgs);
    if (rc != DFDG_OK) {
        dfdg_cli_fail(CMD, rc, NULL);
        goto close_store;
    }
    qsort(orgs, norgs, sizeof *orgs, org_sort);
    struct dfdg_insight_src src = {s, cat, orgs, norgs};
    rc = dfdg_insight_build(&src, person_id, dfdg_time_now_us(), &doc);
    if (rc == DFDG_OK && html) {
        rc = dfdg_insight_render_html(doc, &out, &len);
    } else if (rc == DFDG_OK) {
        char *text = json_dumps(doc, JSON_INDENT(2));
        len = text != NULL ? strlen(text) : 0;
        out = text != NULL ? realloc(text, len + 2) : NULL;
        if (out == NULL) {
            free(text);
            rc = DFDG_NOMEM;
        } else {
            out[len++] = '\n';
            out[len] = '\0';
        }
    }
    if (rc != DFDG_OK) {
        dfdg_cli_fail(CMD, rc, NULL);
        goto free_doc;
    }
    int64_t idx = -1;
    memset(&ei, 0, sizeof ei);
    rc = log_export(s, sub, person_id, doc, &idx, &ei);
    if (rc != DFDG_OK) {
        dfdg_cli_fail(CMD, rc, &ei);
        goto free_doc;
    }
    if (!write_output(output, out, len))
        goto free_doc;
    fprintf(stderr, "dfdg %s: %lld records, %zu access-log entries (logged as audit entry %lld)\n",
            CMD, (long long)json_integer_value(json_object_get(doc, "record_count")),
            json_array_size(json_object_get(json_object_get(doc, "access_log"), "entries")),
            (long long)idx);
    status = DFDG_EXIT_OK;
free_doc:
    free(out);
    json_decref(doc);
close_store:
    free(orgs);
    dfdg_store_close(s);
free_catalog:
    dfdg_catalog_free(cat);
    return status;
}
