/* SPDX-License-Identifier: Apache-2.0 */
/*
 * me_log.c: the citizen's view of who processed their data (DESIGN section 5):
 *   GET /v1/me/access-log?before=&limit=   every access to the citizen's data by anyone but a
 *                                          citizen, newest first, paged (insight/insight.h)
 *   GET /v1/me/insight?format=json|html    everything held about the citizen (GDPR art. 15)
 * Citizen tokens only (ME routes); the person is the token's. Both are reads of personal data
 * and are logged before they are answered, like any read; the citizen's own reads stay out of
 * their access log.
 */
#include "core/dfdg.h"
#include "api/api_int.h"
#include "api/query.h"
#include "audit/auditlog.h"
#include "core/when.h"
#include "insight/insight.h"

/* The token's person must be in the CPR master data; replies 404 and returns false if not. */
static bool
me_is_known(struct dfdg_req *r)
{
    if (r->actor.person_id != 0)
        return true;
    dfdg_reply_problem(r, 404, "unknown-person",
                       "the person the token names is not in the CPR master data");
    return false;
}

static void
insight_src(struct dfdg_req *r, struct dfdg_store *s, struct dfdg_insight_src *src /* OUT */)
{
    src->s = s;
    src->cat = r->st->cat;
    src->orgs = r->st->orgs;
    src->norgs = r->st->norgs;
}

/* --- GET /v1/me/access-log ---------------------------------------------------------------- */

void
dfdg_h_me_access_log(struct dfdg_req *r)
{
    if (!me_is_known(r))
        return;
    struct dfdg_verrors ve = {0};
    int64_t before = INT64_MAX;
    size_t limit = DFDG_ACCESS_LOG_DEFAULT;
    const char *b = dfdg_req_query(r, "before");
    if (b != NULL && dfdg_insight_cursor_parse(b, &before) != DFDG_OK)
        dfdg_verrors_add(&ve, "before", "cursor", "before must be the \"next\" of an earlier page");
    const char *l = dfdg_req_query(r, "limit");
    if (l != NULL) {
        long n;
        if (!dfdg_query_parse_long(l, 1, DFDG_ACCESS_LOG_MAX, &n))
            dfdg_verrors_add(&ve, "limit", "range", "limit must be 1 to %d", DFDG_ACCESS_LOG_MAX);
        else
            limit = (size_t)n;
    }
    if (ve.n > 0) {
        dfdg_reply_invalid(r, &ve);
        return;
    }
    struct dfdg_store *s = dfdg_store_pool_take(r->st->readers);
    struct dfdg_insight_src src;
    insight_src(r, s, &src);
    json_t *page = NULL;
    dfdg_err rc = dfdg_insight_access_log(&src, r->actor.person_id, before, limit, &page);
    dfdg_store_pool_put(r->st->readers, s);
    if (rc != DFDG_OK) {
        dfdg_reply_err(r, rc, NULL);
        return;
    }
    dfdg_req_audit_then_reply(r, dfdg_req_read_event(r, "me.access-log", r->actor.person_id, NULL),
                              200, page);
}

/* --- GET /v1/me/insight ------------------------------------------------------------------- */

/* The HTML answer waits for its audit entry in the writer (dfdg_req_audit_then_reply sends
 * JSON bodies only). */
struct html_write {
    struct dfdg_write_req wr; /* first: the writer hands it back */
    json_t *ev;               /* the audit entry */
    char *html;               /* the page, sent once the entry is committed */
    size_t len;               /* its length */
};

static void
html_write_free(void *ext)
{
    struct html_write *hw = ext;
    if (hw == NULL)
        return;
    json_decref(hw->ev);
    free(hw->html);
    free(hw);
}

static dfdg_err
html_apply(struct dfdg_tx *tx, struct dfdg_write_req *wr)
{
    struct html_write *hw = (struct html_write *)wr;
    return dfdg_audit_append(tx->audit, tx->store, hw->ev, tx->time);
}

static void
html_logged(struct dfdg_req *r)
{
    struct html_write *hw = r->ext;
    if (hw->wr.rc != DFDG_OK) {
        /* Nothing leaves unlogged. */
        dfdg_reply_err(r, hw->wr.rc, "the access could not be logged; try again");
        return;
    }
    dfdg_reply_raw(r, 200, "text/html; charset=utf-8", hw->html, hw->len);
    hw->html = NULL;
}

/* The audit entry of an insight read: the person and every record the document shows. */
static json_t *
insight_event(struct dfdg_req *r, json_t *doc)
{
    json_t *ev = dfdg_req_read_event(r, "me.insight", r->actor.person_id, NULL);
    size_t gi, ri;
    json_t *g, *rec;
    json_array_foreach(json_object_get(doc, "records"), gi, g)
    {
        json_array_foreach(json_object_get(g, "records"), ri, rec)
        {
            dfdg_audit_event_add_record(ev, json_string_value(json_object_get(rec, "id")),
                                        json_string_value(json_object_get(rec, "type")),
                                        r->actor.person_id, 0, NULL);
        }
    }
    return ev;
}

void
dfdg_h_me_insight(struct dfdg_req *r)
{
    if (!me_is_known(r))
        return;
    const char *format = dfdg_req_query(r, "format");
    bool html = format != NULL && strcmp(format, "html") == 0;
    if (format != NULL && !html && strcmp(format, "json") != 0) {
        struct dfdg_verrors ve = {0};
        dfdg_verrors_add(&ve, "format", "enum", "format must be json or html");
        dfdg_reply_invalid(r, &ve);
        return;
    }
    struct dfdg_store *s = dfdg_store_pool_take(r->st->readers);
    struct dfdg_insight_src src;
    insight_src(r, s, &src);
    json_t *doc = NULL;
    dfdg_err rc = dfdg_insight_build(&src, r->actor.person_id, dfdg_time_now_us(), &doc);
    dfdg_store_pool_put(r->st->readers, s);
    if (rc == DFDG_NOT_FOUND) {
        dfdg_reply_problem(r, 404, "unknown-person",
                           "the person the token names is not in the CPR master data");
        return;
    }
    if (rc != DFDG_OK) {
        dfdg_reply_err(r, rc, NULL);
        return;
    }
    json_t *ev = insight_event(r, doc);
    if (!html) {
        dfdg_req_audit_then_reply(r, ev, 200, doc);
        return;
    }
    struct html_write *hw = calloc(1, sizeof *hw);
    if (hw == NULL || ev == NULL) {
        free(hw);
        json_decref(ev);
        json_decref(doc);
        dfdg_reply_err(r, DFDG_NOMEM, NULL);
        return;
    }
    hw->ev = ev;
    rc = dfdg_insight_render_html(doc, &hw->html, &hw->len);
    json_decref(doc);
    if (rc != DFDG_OK) {
        html_write_free(hw);
        dfdg_reply_err(r, rc, NULL);
        return;
    }
    hw->wr.apply = html_apply;
    r->ext = hw;
    r->ext_free = html_write_free;
    dfdg_req_submit_write(r, &hw->wr, html_logged);
}
