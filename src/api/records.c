/* SPDX-License-Identifier: Apache-2.0 */
/*
 * records.c: the ingest routes (POST /v1/records, /v1/records/batch, corrections and
 * cancellations) and GET /v1/records/{id} (DESIGN section 5).
 *
 * Ingest handlers validate in the server thread, then suspend the request and hand it to the
 * writer; the reply is built only after the commit, so a 201 always means durable.
 */
#include "core/dfdg.h"
#include "api/api_int.h"
#include "api/ndjson.h"
#include "exchange/present.h"
#include "core/when.h"

/* --- rendering ---------------------------------------------------------------------------- */

/* The outcome of one ingest item as a JSON object: the success body or a problem. */
static json_t *
item_result(const struct dfdg_ingest_item *it)
{
    if (it->status == 201 || it->status == 200) {
        char at[DFDG_TIME_LEN];
        dfdg_time_format(it->recorded_at, at);
        json_t *routed = json_array();
        for (size_t i = 0; i < it->routed.n; i++)
            json_array_append_new(routed, json_string(it->routed.to[i].org));
        return json_pack("{s:s, s:s, s:o}", "id", it->id, "recorded_at", at, "routed_to", routed);
    }
    const char *slug = it->status == 403   ? "denied"
                       : it->status == 404 ? "not-found"
                       : it->status == 409 ? "conflict"
                       : it->status == 422 ? "semantic"
                                           : "write-failed";
    json_t *p = dfdg_problem_new(it->status != 0 ? it->status : 503, slug, it->detail);
    if (it->rule != NULL)
        json_object_set_new(p, "rule", json_string(it->rule));
    return p;
}

/* --- single records ----------------------------------------------------------------------- */

/* Replies for a write the writer refused or could not commit; true when it did. */
static bool
write_failed(struct dfdg_req *r)
{
    dfdg_err rc = r->ingest.wr.rc;
    if (rc == DFDG_OK)
        return false;
    dfdg_reply_err(r, rc,
                   rc == DFDG_BUSY ? "the write queue is full; try again"
                                   : "the write could not be committed; nothing was stored");
    return true;
}

static void
single_done(struct dfdg_req *r)
{
    if (write_failed(r))
        return;
    const struct dfdg_ingest_item *it = &r->ingest.items[0];
    json_t *body = item_result(it);
    if (it->status == 201 || it->status == 200) {
        dfdg_reply_json(r, it->status, body);
        return;
    }
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    dfdg_reply_raw(r, it->status != 0 ? it->status : 503, "application/problem+json", text,
                   text != NULL ? strlen(text) : 0);
}

bool
dfdg_api_content_type_is_json(struct dfdg_req *r)
{
    const char *ct = dfdg_req_header(r, "Content-Type");
    if (ct == NULL || strstr(ct, "json") != NULL)
        return true;
    dfdg_reply_problem(r, 415, "unsupported-media-type", "send the body as application/json");
    return false;
}

void
dfdg_api_ingest_one(struct dfdg_req *r, json_t *body, const char *target_id, bool cancellation)
{
    r->ingest.items = calloc(1, sizeof *r->ingest.items);
    if (r->ingest.items == NULL) {
        json_decref(body);
        dfdg_reply_err(r, DFDG_NOMEM, NULL);
        return;
    }
    r->ingest.nitems = 1;
    struct dfdg_verrors ve = {0};
    struct dfdg_denial why = {0};
    dfdg_err rc = cancellation ? dfdg_ingest_prepare_cancellation(&r->actor, body, target_id,
                                                                  &r->ingest.items[0], &ve)
                               : dfdg_ingest_prepare_record(r->st->cat, &r->actor, body, target_id,
                                                            &r->ingest.items[0], &ve, &why);
    json_decref(body);
    if (rc == DFDG_INVAL)
        dfdg_reply_invalid(r, &ve);
    else if (rc == DFDG_DENIED)
        dfdg_reply_denied(r, &why);
    else if (rc != DFDG_OK)
        dfdg_reply_err(r, rc, NULL);
    else
        dfdg_req_submit(r, single_done);
}

/* Parses the body and ingests one item (an original, a correction, or a cancellation);
 * replies itself on any error. */
static void
submit_single(struct dfdg_req *r, const char *target_id, bool cancellation)
{
    if (!dfdg_api_content_type_is_json(r))
        return;
    if (target_id != NULL && !dfdg_uuid_is_valid(target_id)) {
        dfdg_reply_problem(r, 404, "not-found", "record ids are UUIDs");
        return;
    }
    json_t *body = dfdg_req_parse_json(r, r->body != NULL ? r->body : "", r->body_len);
    if (body != NULL)
        dfdg_api_ingest_one(r, body, target_id, cancellation);
}

void
dfdg_h_record_post(struct dfdg_req *r)
{
    submit_single(r, NULL, false);
}

void
dfdg_h_correction_post(struct dfdg_req *r)
{
    submit_single(r, r->param, false);
}

void
dfdg_h_cancellation_post(struct dfdg_req *r)
{
    submit_single(r, r->param, true);
}

/* --- batches ------------------------------------------------------------------------------ */

/* Per batch line: its line number and, when it failed before the writer, its problem. */
struct batch_line {
    size_t line_no;
    json_t *problem;
};

static void
batch_done(struct dfdg_req *r)
{
    struct batch_line *lines = r->batch;
    size_t cap = 256 * r->ingest.nitems + 64, len = 0;
    char *out = NULL;
    if (write_failed(r))
        goto free_lines;
    out = malloc(cap);
    if (out == NULL) {
        dfdg_reply_err(r, DFDG_NOMEM, NULL);
        goto free_lines;
    }
    for (size_t i = 0; i < r->ingest.nitems; i++) {
        const struct dfdg_ingest_item *it = &r->ingest.items[i];
        json_t *res = lines[i].problem != NULL ? json_incref(lines[i].problem) : item_result(it);
        int status = lines[i].problem != NULL
                         ? (int)json_integer_value(json_object_get(res, "status"))
                         : (it->status != 0 ? it->status : 503);
        json_object_set_new(res, "line", json_integer((json_int_t)lines[i].line_no));
        json_object_set_new(res, "status", json_integer(status));
        char *text = json_dumps(res, JSON_COMPACT);
        json_decref(res);
        size_t n = text != NULL ? strlen(text) : 0;
        if (len + n + 2 > cap) {
            while (len + n + 2 > cap)
                cap *= 2;
            char *grown = realloc(out, cap);
            if (grown == NULL) {
                free(text);
                free(out);
                dfdg_reply_err(r, DFDG_NOMEM, NULL);
                goto free_lines;
            }
            out = grown;
        }
        memcpy(out + len, text, n);
        len += n;
        out[len++] = '\n';
        free(text);
    }
    out[len] = '\0';
    dfdg_reply_raw(r, 200, "application/x-ndjson", out, len);
free_lines:
    for (size_t i = 0; i < r->ingest.nitems; i++)
        json_decref(lines[i].problem);
    free(lines);
    r->batch = NULL;
}

/* Fills item i from one line; on failure keeps the problem for the result line. */
static void
prepare_line(struct dfdg_req *r, struct batch_line *bl, struct dfdg_ingest_item *it,
             const char *text, size_t len)
{
    /* Every failure below sets it->status too, so the writer skips the item. */
    if (dfdg_json_too_deep(text, len, r->st->cfg.max_json_depth)) {
        bl->problem = dfdg_problem_new(400, "json-too-deep", "JSON nesting is too deep");
        goto set_status;
    }
    json_error_t jerr;
    json_t *body = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (body == NULL) {
        char detail[256];
        snprintf(detail, sizeof detail, "the line is not valid JSON: %s", jerr.text);
        bl->problem = dfdg_problem_new(400, "malformed-json", detail);
        goto set_status;
    }
    struct dfdg_verrors ve = {0};
    struct dfdg_denial why = {0};
    dfdg_err rc = dfdg_ingest_prepare_record(r->st->cat, &r->actor, body, NULL, it, &ve, &why);
    json_decref(body);
    if (rc == DFDG_INVAL) {
        bl->problem = dfdg_problem_new(400, "validation", "the record does not pass validation");
        dfdg_problem_add_errors(bl->problem, &ve);
    } else if (rc == DFDG_DENIED) {
        bl->problem = dfdg_problem_new(403, "denied", why.msg);
        json_object_set_new(bl->problem, "rule", json_string(why.rule));
    } else if (rc != DFDG_OK) {
        bl->problem = dfdg_problem_new(dfdg_err_http_status(rc), "internal", dfdg_err_message(rc));
    }
set_status:
    if (bl->problem != NULL)
        it->status = (int)json_integer_value(json_object_get(bl->problem, "status"));
}

void
dfdg_h_batch_post(struct dfdg_req *r)
{
    const char *ct = dfdg_req_header(r, "Content-Type");
    if (ct != NULL && strstr(ct, "ndjson") == NULL && strstr(ct, "json") == NULL) {
        dfdg_reply_problem(r, 415, "unsupported-media-type",
                           "send the batch as application/x-ndjson, one record a line");
        return;
    }
    const char *body = r->body != NULL ? r->body : "";
    size_t n = 0;
    dfdg_err rc = dfdg_ndjson_count(body, r->body_len, r->st->cfg.max_batch_lines, &n);
    if (n == 0) {
        dfdg_reply_problem(r, 400, "empty-batch", "the batch has no records");
        return;
    }
    if (rc == DFDG_TOO_LARGE) {
        dfdg_reply_problem(r, 413, "too-large", "a batch holds at most %zu records",
                           r->st->cfg.max_batch_lines);
        return;
    }
    r->ingest.items = calloc(n, sizeof *r->ingest.items);
    struct batch_line *lines = calloc(n, sizeof *lines);
    if (r->ingest.items == NULL || lines == NULL) {
        free(lines);
        dfdg_reply_err(r, DFDG_NOMEM, NULL);
        return;
    }
    r->ingest.nitems = n;
    r->batch = lines;
    size_t i = 0, pending = 0;
    struct dfdg_ndjson_iter it;
    struct dfdg_ndjson_line line;
    dfdg_ndjson_init(&it, body, r->body_len);
    while (i < n && dfdg_ndjson_next(&it, &line)) {
        lines[i].line_no = line.line_no;
        prepare_line(r, &lines[i], &r->ingest.items[i], line.text, line.len);
        if (lines[i].problem == NULL)
            pending++;
        i++;
    }
    if (pending == 0) {
        batch_done(r); /* nothing reached the writer: answer at once */
        return;
    }
    dfdg_req_submit(r, batch_done);
}

/* --- reads -------------------------------------------------------------------------------- */

void
dfdg_h_record_get(struct dfdg_req *r)
{
    if (!dfdg_uuid_is_valid(r->param)) {
        dfdg_reply_problem(r, 404, "not-found", "record ids are UUIDs");
        return;
    }
    struct dfdg_store *s = dfdg_store_pool_take(r->st->readers);
    struct dfdg_record rec = {0}, succ = {0};
    struct dfdg_person person = {0};
    dfdg_err rc = dfdg_store_record_get(s, r->param, &rec);
    if (rc == DFDG_NOT_FOUND) {
        dfdg_reply_problem(r, 404, "not-found", "there is no record with that id");
        goto put_store;
    }
    if (rc != DFDG_OK) {
        dfdg_reply_err(r, rc, NULL);
        goto put_store;
    }
    const struct dfdg_type *t = dfdg_catalog_find(r->st->cat, rec.type);
    struct dfdg_denial why = {0};
    r->audit_person = rec.person_id;
    struct dfdg_access_q q = {.actor = &r->actor,
                              .action = DFDG_ACTION_READ,
                              .type = t,
                              .person_id = rec.person_id,
                              .owner = rec.owner,
                              .day = dfdg_date_today(),
                              .grace_days = r->st->cfg.access_grace_days};
    rc = dfdg_authz_decide(s, &q, &why);
    if (rc == DFDG_DENIED) {
        dfdg_reply_denied(r, &why);
        goto cleanup;
    }
    if (rc == DFDG_OK && rec.person_id != 0)
        rc = dfdg_store_person_get(s, rec.person_id, &person);
    if (rc != DFDG_OK) {
        dfdg_reply_err(r, rc, NULL);
        goto cleanup;
    }
    json_t *o = dfdg_present_record(&rec, person.cpr);
    rc = dfdg_store_record_successor(s, rec.id, INT64_MAX, &succ);
    if (rc == DFDG_OK) {
        json_object_set_new(
            o, "status",
            json_string(succ.kind == DFDG_RECORD_CANCELLATION ? "withdrawn" : "superseded"));
        json_object_set_new(o, "superseded_by", json_string(succ.id));
    } else if (rc == DFDG_NOT_FOUND) {
        json_object_set_new(
            o, "status",
            json_string(rec.kind == DFDG_RECORD_CANCELLATION ? "cancellation" : "current"));
    } else {
        json_decref(o);
        dfdg_reply_err(r, rc, NULL);
        goto cleanup;
    }
    dfdg_req_audit_then_reply(r, dfdg_req_read_event(r, "record.read", rec.person_id, o), 200, o);
cleanup:
    dfdg_person_cleanup(&person);
    dfdg_record_cleanup(&succ);
    dfdg_record_cleanup(&rec);
put_store:
    dfdg_store_pool_put(r->st->readers, s);
}
