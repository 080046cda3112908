/* SPDX-License-Identifier: Apache-2.0 */
/*
 * server.c: the HTTP server on libmicrohttpd (RFC 9110/9112 handled by the library) with an
 * epoll thread pool, suspend/resume for writes, and the reply helpers.
 *
 * Invariants:
 *   1. Every request gets exactly one response, built by one of the dfdg_reply_* helpers.
 *   2. A suspended request is resumed exactly once, by the writer's done callback; while it is
 *      suspended only the writer touches r->ingest.
 *   3. Bodies are capped per route: past the cap the rest is read and discarded and the
 *      answer is 413; a Content-Length over the cap is answered at once.
 *   4. No CPR number reaches a log line or a URL: CPR travels in headers and bodies only, and
 *      the access log writes the route pattern, not the query string.
 *
 * States of a request (struct dfdg_req):
 *   NEW --headers--> (route, auth) --body chunks--> BODY --end--> HANDLED
 *   HANDLED --write submitted--> SUSPENDED --writer done--> RESUMED --> reply queued --> DONE
 */
#include "core/dfdg.h"
#include "api/api_int.h"
#include "api/conntrack.h"
#include "api/tls.h"
#include "audit/auditlog.h"
#include "authz/token.h"
#include "core/log.h"
#include "core/when.h"
#include "exchange/writer.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct dfdg_server {
    struct dfdg_server_state st; /* shared state */
    pthread_t watcher;           /* wakes feeds for other processes' deliveries */
    pthread_mutex_t watch_lock;  /* guards watch_stop */
    pthread_cond_t watch_cond;   /* signalled to stop the watcher (watch_lock) */
    bool watch_stop;             /* (watch_lock) */
    bool watching;               /* the watcher runs */
    struct MHD_Daemon *daemon;   /* libmicrohttpd */
    struct dfdg_tls *tls;        /* HTTPS, client certificates (api/tls.c), or NULL */
    unsigned port;               /* bound port */
    atomic_long inflight;        /* requests between first callback and completion */
    atomic_ulong requests;       /* completed requests */
    atomic_ulong by_class[6];    /* completed requests by status class (1xx..5xx) */
    atomic_ulong problems;       /* problem responses sent */
    struct dfdg_conntrack *ct;   /* request arrival deadlines (slow clients) */
};

void
dfdg_server_config_defaults(struct dfdg_server_config *c)
{
    memset(c, 0, sizeof *c);
    c->listen = "127.0.0.1:8080";
    c->threads = 0;
    c->max_body = 1u << 20;
    c->max_batch_body = 64u << 20;
    c->max_batch_lines = 10000;
    c->max_json_depth = 32;
    c->writer_queue = 4096;
    c->connection_timeout = 30;
    c->request_timeout = 120;
    c->max_connections = 1024;
}

/* --- replies ------------------------------------------------------------------------------ */

void
dfdg_reply_raw(struct dfdg_req *r, int status, const char *type, char *body, size_t len)
{
    if (r->status != 0) {
        free(body);
        return;
    }
    r->status = status;
    r->resp = body;
    r->resp_len = len;
    r->resp_type = type;
}

void
dfdg_reply_json(struct dfdg_req *r, int status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (text == NULL) {
        dfdg_reply_raw(r, 503, "text/plain", NULL, 0);
        return;
    }
    dfdg_reply_raw(r, status, "application/json", text, strlen(text));
}

static const char *
status_title(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    default:
        return status >= 500 ? "Internal Server Error" : "Error";
    }
}

/* Copies src into dst without control characters: user input echoed back stays printable. */
static void
strip_controls(char *s)
{
    for (unsigned char *p = (unsigned char *)s; *p != '\0'; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = ' ';
}

json_t *
dfdg_problem_new(int status, const char *slug, const char *detail)
{
    char type[96];
    snprintf(type, sizeof type, "urn:dfdg:problem:%s", slug);
    char *clean = strdup(detail != NULL ? detail : "");
    if (clean != NULL)
        strip_controls(clean);
    json_t *p = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", status_title(status),
                          "status", status, "detail", clean != NULL ? clean : "");
    free(clean);
    return p;
}

void
dfdg_problem_add_errors(json_t *problem, const struct dfdg_verrors *ve)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < ve->n && i < DFDG_VERR_MAX; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "field", ve->e[i].field, "code",
                                             ve->e[i].code, "message", ve->e[i].message));
    json_object_set_new(problem, "errors", arr);
}

static void
reply_problem_json(struct dfdg_req *r, int status, json_t *p)
{
    char *text = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    atomic_fetch_add(&r->srv->problems, 1);
    dfdg_reply_raw(r, status, "application/problem+json", text, text != NULL ? strlen(text) : 0);
}

void
dfdg_reply_problem(struct dfdg_req *r, int status, const char *slug, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    reply_problem_json(r, status, dfdg_problem_new(status, slug, detail));
}

void
dfdg_reply_invalid(struct dfdg_req *r, const struct dfdg_verrors *ve)
{
    json_t *p = dfdg_problem_new(400, "validation", "the request does not pass validation");
    dfdg_problem_add_errors(p, ve);
    reply_problem_json(r, 400, p);
}

void
dfdg_reply_denied(struct dfdg_req *r, const struct dfdg_denial *why)
{
    if (r->status == 0)
        r->denied_rule = why->rule != NULL ? why->rule : "denied";
    json_t *p = dfdg_problem_new(403, "denied", why->msg);
    json_object_set_new(p, "rule", json_string(why->rule != NULL ? why->rule : "denied"));
    reply_problem_json(r, 403, p);
}

void
dfdg_reply_err(struct dfdg_req *r, dfdg_err rc, const char *detail)
{
    int status = dfdg_err_http_status(rc);
    if (rc == DFDG_BUSY || rc == DFDG_SHUTDOWN || rc == DFDG_NOMEM)
        dfdg_strlcpy(r->retry_after, "1", sizeof r->retry_after);
    char slug[32];
    size_t i = 0;
    for (const char *p = dfdg_err_name(rc); *p != '\0' && i + 1 < sizeof slug; p++)
        slug[i++] = *p == '_' ? '-' : (char)(*p | 0x20);
    slug[i] = '\0';
    dfdg_reply_problem(r, status, slug, "%s",
                       detail != NULL && *detail != '\0' ? detail : dfdg_err_message(rc));
}

/* --- request helpers ---------------------------------------------------------------------- */

const char *
dfdg_req_header(struct dfdg_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *
dfdg_req_query(struct dfdg_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

bool
dfdg_json_too_deep(const char *text, size_t len, size_t max)
{
    size_t depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return true;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return false;
}

json_t *
dfdg_req_parse_json(struct dfdg_req *r, const char *text, size_t len)
{
    if (dfdg_json_too_deep(text, len, r->st->cfg.max_json_depth)) {
        dfdg_reply_problem(r, 400, "json-too-deep", "JSON nesting is deeper than %zu levels",
                           r->st->cfg.max_json_depth);
        return NULL;
    }
    json_error_t jerr;
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL)
        dfdg_reply_problem(r, 400, "malformed-json", "the body is not valid JSON: %s (line %d)",
                           jerr.text, jerr.line);
    return v;
}

const struct dfdg_org *
dfdg_server_find_org(const struct dfdg_server_state *st, const char *id)
{
    size_t lo = 0, hi = st->norgs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(id, st->orgs[mid].id);
        if (c == 0)
            return &st->orgs[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

void
dfdg_req_suspend(struct dfdg_req *r, dfdg_handler_fn resume)
{
    r->resume = resume;
    r->suspended = true;
    MHD_suspend_connection(r->conn);
}

void
dfdg_req_wake(struct dfdg_req *r)
{
    MHD_resume_connection(r->conn);
}

static void
write_done(struct dfdg_write_req *wr)
{
    dfdg_req_wake(wr->ctx);
}

/* After an ingest commit: tell waiting feed consumers, then answer. */
static void
ingest_done(struct dfdg_write_req *wr)
{
    struct dfdg_req *r = wr->ctx;
    if (wr->rc == DFDG_OK) {
        for (size_t i = 0; i < r->ingest.nitems; i++) {
            const struct dfdg_ingest_item *it = &r->ingest.items[i];
            if (it->status != 201)
                continue;
            for (size_t j = 0; j < it->routed.n; j++)
                dfdg_feedwait_announce(r->st->feedwait, it->routed.to[j].org, it->routed.to[j].seq);
            for (size_t j = 0; j < it->handed.n; j++)
                dfdg_feedwait_announce(r->st->feedwait, it->handed.to[j].org, it->handed.to[j].seq);
        }
    }
    dfdg_req_wake(r);
}

static void
submit(struct dfdg_req *r, struct dfdg_write_req *wr, dfdg_write_done_fn done,
       dfdg_handler_fn resume)
{
    wr->done = done;
    wr->ctx = r;
    /* Suspend first: the writer may finish and resume before submit even returns. */
    dfdg_req_suspend(r, resume);
    dfdg_err rc = dfdg_writer_submit(r->st->writer, wr);
    if (rc != DFDG_OK) {
        /* The writer refused it: resume at once; the resume handler sees wr->rc. */
        wr->rc = rc;
        dfdg_req_wake(r);
    }
}

void
dfdg_req_submit_write(struct dfdg_req *r, struct dfdg_write_req *wr, dfdg_handler_fn resume)
{
    submit(r, wr, write_done, resume);
}

struct dfdg_audit_write {
    struct dfdg_write_req wr; /* first: the writer hands it back */
    json_t *ev;               /* the entry */
    int status;               /* the reply waiting for the commit */
    json_t *body;             /* (NULL: the reply is already set, e.g. a 403) */
};

json_t *
dfdg_req_audit_event(struct dfdg_req *r, const char *action)
{
    return dfdg_audit_event_new(r->actor.org, r->actor.sub, action,
                                dfdg_purpose_name(r->actor.purpose),
                                dfdg_purpose_legal_basis(r->actor.purpose), NULL);
}

static void
add_read_record(struct dfdg_req *r, json_t *ev, json_t *rec, int64_t person_id,
                const struct dfdg_type **last)
{
    const char *id = json_string_value(json_object_get(rec, "id"));
    const char *type = json_string_value(json_object_get(rec, "type"));
    if (id == NULL || type == NULL)
        return;
    dfdg_audit_event_add_record(ev, id, type, person_id, 0, NULL);
    const struct dfdg_type *t = dfdg_catalog_find(r->st->cat, type);
    if (t != NULL && t != *last) {
        char basis[512];
        dfdg_type_legal_basis(t, basis, sizeof basis);
        dfdg_audit_event_add_legal_basis(ev, basis);
        *last = t;
    }
}

json_t *
dfdg_req_read_event(struct dfdg_req *r, const char *action, int64_t person_id, json_t *records)
{
    json_t *ev = dfdg_req_audit_event(r, action);
    if (ev == NULL)
        return NULL;
    int64_t ids[1] = {person_id};
    dfdg_audit_event_set_persons(ev, ids, 1);
    const struct dfdg_type *last = NULL;
    if (json_is_array(records)) {
        size_t i;
        json_t *rec;
        json_array_foreach(records, i, rec)
        {
            add_read_record(r, ev, rec, person_id, &last);
        }
    } else if (json_is_object(records)) {
        add_read_record(r, ev, records, person_id, &last);
    }
    return ev;
}

static dfdg_err
audit_apply(struct dfdg_tx *tx, struct dfdg_write_req *wr)
{
    struct dfdg_audit_write *aw = (struct dfdg_audit_write *)wr;
    return dfdg_audit_append(tx->audit, tx->store, aw->ev, tx->time);
}

static void
audit_free(struct dfdg_audit_write *aw)
{
    if (aw == NULL)
        return;
    json_decref(aw->ev);
    json_decref(aw->body);
    free(aw);
}

static void
audit_logged(struct dfdg_req *r)
{
    struct dfdg_audit_write *aw = r->aw;
    if (aw->wr.rc != DFDG_OK) {
        /* Nothing leaves unlogged. */
        free(r->resp);
        r->resp = NULL;
        r->status = 0;
        dfdg_reply_err(r, aw->wr.rc, "the access could not be logged; try again");
        return;
    }
    if (aw->body != NULL) {
        dfdg_reply_json(r, aw->status, aw->body);
        aw->body = NULL;
    }
}

void
dfdg_req_audit_then_reply(struct dfdg_req *r, json_t *ev, int status, json_t *body)
{
    struct dfdg_audit_write *aw = calloc(1, sizeof *aw);
    if (aw == NULL || ev == NULL) {
        free(aw);
        json_decref(ev);
        json_decref(body);
        dfdg_reply_err(r, DFDG_NOMEM, NULL);
        return;
    }
    aw->wr.apply = audit_apply;
    aw->ev = ev;
    aw->status = status;
    aw->body = body;
    audit_free(r->aw);
    r->aw = aw;
    dfdg_req_submit_write(r, &aw->wr, audit_logged);
}

/* A denied attempt by an authenticated caller is logged before the 403 leaves. */
static bool
log_denial(struct dfdg_req *r)
{
    if (r->status != 403 || !r->authed || r->denied_rule == NULL || r->aw != NULL)
        return false;
    char action[128];
    snprintf(action, sizeof action, "%s %s", r->method, r->route->pattern);
    json_t *ev = dfdg_audit_event_new(r->actor.org, r->actor.sub, action,
                                      dfdg_purpose_name(r->actor.purpose),
                                      dfdg_purpose_legal_basis(r->actor.purpose), r->denied_rule);
    if (ev == NULL)
        return false;
    dfdg_audit_event_add_person(ev, r->audit_person);
    dfdg_req_audit_then_reply(r, ev, 0, NULL);
    return true;
}

void
dfdg_req_submit(struct dfdg_req *r, dfdg_handler_fn resume)
{
    r->ingest.wr.apply = dfdg_ingest_apply;
    r->ingest.actor = r->actor;
    r->ingest.cat = r->st->cat;
    submit(r, &r->ingest.wr, ingest_done, resume);
}

/* --- authentication ----------------------------------------------------------------------- */

static dfdg_err
issuer_lookup(void *ctx, const char *iss, uint8_t pk[32])
{
    const struct dfdg_server_state *st = ctx;
    for (size_t i = 0; i < st->nissuers; i++) {
        if (strcmp(st->issuers[i].iss, iss) == 0) {
            memcpy(pk, st->issuers[i].public_key, 32);
            return DFDG_OK;
        }
    }
    return DFDG_NOT_FOUND;
}

/* Authenticates the caller and checks the purpose; replies and returns false on failure. */
static bool
authenticate(struct dfdg_req *r)
{
    struct dfdg_claims claims;
    struct dfdg_errinfo ei = {0};
    /* Mutual TLS: a verified client certificate mapped to an org stands in for the token. */
    switch (dfdg_tls_authenticate(r->srv->tls, r->conn, &claims, &ei)) {
    case DFDG_TLS_AUTH_CERT:
        goto have_claims;
    case DFDG_TLS_AUTH_MISSING:
        dfdg_reply_problem(r, 401, "unauthenticated", "%s", ei.msg);
        return false;
    case DFDG_TLS_AUTH_INVALID:
        dfdg_reply_problem(r, 401, "invalid-certificate", "%s", ei.msg);
        return false;
    case DFDG_TLS_AUTH_BEARER:
        break;
    }
    const char *auth = dfdg_req_header(r, "Authorization");
    if (auth == NULL) {
        dfdg_reply_problem(r, 401, "unauthenticated", "an Authorization: Bearer token is required");
        return false;
    }
    if (strncasecmp(auth, "Bearer ", 7) != 0) {
        dfdg_reply_problem(r, 401, "unauthenticated", "the Authorization scheme must be Bearer");
        return false;
    }
    const char *tok = auth + 7;
    while (*tok == ' ')
        tok++;
    int64_t now = dfdg_time_now_us() / 1000000;
    if (dfdg_token_cache_verify(r->st->tokens, tok, strlen(tok), now, issuer_lookup, r->st, &claims,
                                &ei) != DFDG_OK) {
        dfdg_reply_problem(r, 401, "invalid-token", "%s", ei.msg);
        return false;
    }
have_claims:
    if (dfdg_actor_from_claims(&claims, &r->actor, &ei) != DFDG_OK) {
        dfdg_reply_problem(r, 401, "invalid-token", "%s", ei.msg);
        return false;
    }
    r->authed = true;
    if (r->actor.kind != DFDG_KIND_CITIZEN && dfdg_server_find_org(r->st, claims.org) == NULL) {
        dfdg_reply_problem(r, 401, "invalid-token", "the token's org does not exist");
        return false;
    }
    if (r->actor.kind != DFDG_KIND_CITIZEN && (r->route->flags & DFDG_ROUTE_ME) != 0) {
        struct dfdg_denial why = {"citizen.only", "only citizen tokens may use /v1/me"};
        dfdg_reply_denied(r, &why);
        return false;
    }
    if (r->actor.kind == DFDG_KIND_CITIZEN &&
        (r->route->flags & (DFDG_ROUTE_CITIZEN | DFDG_ROUTE_ME)) == 0) {
        struct dfdg_denial why = {"citizen.route", "citizen tokens may not use this route"};
        dfdg_reply_denied(r, &why);
        return false;
    }
    if (r->actor.kind == DFDG_KIND_CITIZEN) {
        struct dfdg_store *s = dfdg_store_pool_take(r->st->readers);
        dfdg_err rc = dfdg_store_person_resolve(s, r->actor.cpr, &r->actor.person_id);
        dfdg_store_pool_put(r->st->readers, s);
        if (rc != DFDG_OK && rc != DFDG_NOT_FOUND) {
            dfdg_reply_err(r, rc, NULL);
            return false;
        }
    }
    if (r->route->flags & DFDG_ROUTE_PERSONAL) {
        const char *purpose = dfdg_req_header(r, "DFDG-Purpose");
        struct dfdg_denial why = {0};
        if (purpose == NULL || *purpose == '\0') {
            why.rule = "purpose.missing";
            dfdg_strlcpy(why.msg, "calls on personal data must name a purpose in DFDG-Purpose",
                         sizeof why.msg);
            dfdg_reply_denied(r, &why);
            return false;
        }
        if (dfdg_purpose_parse(purpose, &r->actor.purpose) != DFDG_OK ||
            !dfdg_purpose_is_allowed(r->actor.kind, r->actor.purpose)) {
            why.rule = "purpose.kind";
            snprintf(why.msg, sizeof why.msg,
                     "the purpose in DFDG-Purpose is unknown or not allowed for org kind '%s'",
                     dfdg_org_kind_name(r->actor.kind));
            dfdg_reply_denied(r, &why);
            return false;
        }
    }
    return true;
}

/* --- routing ------------------------------------------------------------------------------ */

/* Matches path against pattern; copies a {x} segment into param. */
static bool
route_matches(const char *pattern, const char *path, char *param, size_t param_size)
{
    const char *p = pattern, *u = path;
    while (*p != '\0' && *u != '\0') {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            const char *seg_end = strchr(u, '/');
            size_t seg_len = seg_end != NULL ? (size_t)(seg_end - u) : strlen(u);
            if (close == NULL || seg_len == 0 || seg_len >= param_size)
                return false;
            memcpy(param, u, seg_len);
            param[seg_len] = '\0';
            p = close + 1;
            u += seg_len;
            continue;
        }
        if (*p != *u)
            return false;
        p++;
        u++;
    }
    return *p == '\0' && *u == '\0';
}

/* Finds the route; sets r->allow when the path exists for other methods only. */
static const struct dfdg_route *
find_route(struct dfdg_req *r)
{
    char param[sizeof r->param];
    for (size_t i = 0; i < dfdg_nroutes; i++) {
        const struct dfdg_route *rt = &dfdg_routes[i];
        if (!route_matches(rt->pattern, r->path, param, sizeof param))
            continue;
        if (strcmp(rt->method, r->method) == 0) {
            memcpy(r->param, param, sizeof param);
            return rt;
        }
        if (r->allow[0] == '\0')
            dfdg_strlcpy(r->allow, rt->method, sizeof r->allow);
    }
    return NULL;
}

/* --- libmicrohttpd callbacks -------------------------------------------------------------- */

/* The body of a 503 whose own problem could not be built (out of memory): no allocation. */
static const char overloaded_problem[] =
    "{\"type\":\"urn:dfdg:problem:busy\",\"title\":\"Service Unavailable\",\"status\":503,"
    "\"detail\":\"overloaded, try again later\"}";

/* Every 503 says when to come back (Retry-After) and is a problem like every other error,
 * whichever path produced it; a 503 without a problem body gets the fixed one. */
static bool
finish_overloaded(struct dfdg_req *r)
{
    if (r->status != 503)
        return false;
    if (r->retry_after[0] == '\0')
        dfdg_strlcpy(r->retry_after, "1", sizeof r->retry_after);
    if (r->resp != NULL && r->resp_type != NULL &&
        strcmp(r->resp_type, "application/problem+json") == 0)
        return false;
    if (r->resp_type == NULL || strcmp(r->resp_type, "application/problem+json") != 0)
        atomic_fetch_add(&r->srv->problems, 1);
    free(r->resp);
    r->resp = NULL;
    r->resp_type = "application/problem+json";
    return true;
}

static enum MHD_Result
queue_reply(struct dfdg_req *r)
{
    if (r->status == 0)
        dfdg_reply_err(r, DFDG_INTERNAL, "the handler produced no response");
    struct MHD_Response *resp;
    if (finish_overloaded(r)) {
        resp = MHD_create_response_from_buffer(sizeof overloaded_problem - 1,
                                               (void *)overloaded_problem, MHD_RESPMEM_PERSISTENT);
    } else if (r->resp != NULL) {
        resp = MHD_create_response_from_buffer(r->resp_len, r->resp, MHD_RESPMEM_MUST_FREE);
        if (resp != NULL)
            r->resp = NULL; /* libmicrohttpd owns it now */
    } else {
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    if (resp == NULL)
        return MHD_NO;
    if (r->resp_type != NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->resp_type);
    if (r->retry_after[0] != '\0')
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, r->retry_after);
    if (r->status == 405 && r->allow[0] != '\0')
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* No request is read further than its route's body cap and this many bytes: a body read only
 * to be thrown away (an error is waiting, or it passed the cap) is dropped up to there, and
 * then the connection is closed, so an endless body ends. */
#define DRAIN_MAX ((size_t)4 << 20)

/* Headers that must appear at most once: each names one thing (the caller, the person, the
 * purpose, the body's type), and a second copy, say from a proxy, would make it two. */
static const char *const single_headers[] = {MHD_HTTP_HEADER_AUTHORIZATION, "DFDG-CPR",
                                             "DFDG-Purpose", MHD_HTTP_HEADER_CONTENT_TYPE,
                                             MHD_HTTP_HEADER_TRANSFER_ENCODING};

/* The most query parameters a request may have (no route takes more than four). */
#define QUERY_MAX 32

struct header_scan {
    unsigned content_lengths;                      /* Content-Length headers */
    unsigned transfer_codings;                     /* Transfer-Encoding headers */
    const char *first_length;                      /* the first Content-Length value */
    const char *coding;                            /* the Transfer-Encoding value */
    bool lengths_differ;                           /* two Content-Length values differ */
    unsigned seen[DFDG_ARRAY_LEN(single_headers)]; /* copies of each single header */
    const char *query[QUERY_MAX];                  /* the query parameters' names */
    size_t nquery;                                 /* query parameters (may pass QUERY_MAX) */
    const char *twice;                             /* a query parameter given twice */
};

static enum MHD_Result
scan_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    struct header_scan *h = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (h->content_lengths++ == 0)
            h->first_length = value;
        else if (value == NULL || h->first_length == NULL || strcmp(value, h->first_length) != 0)
            h->lengths_differ = true;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        h->transfer_codings++;
        h->coding = value;
    }
    for (size_t i = 0; i < DFDG_ARRAY_LEN(single_headers); i++)
        if (strcasecmp(key, single_headers[i]) == 0)
            h->seen[i]++;
    return MHD_YES;
}

static enum MHD_Result
scan_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    (void)value;
    struct header_scan *h = cls;
    if (h->nquery >= QUERY_MAX) {
        h->nquery++;
        return MHD_NO; /* too many: no need to look further */
    }
    for (size_t i = 0; i < h->nquery && h->twice == NULL; i++)
        if (strcmp(h->query[i], key) == 0)
            h->twice = h->query[i];
    h->query[h->nquery++] = key;
    return MHD_YES;
}

/*
 * Headers and a query with one meaning only, or 400 (and the connection closes). RFC 9112
 * sections 6.1 and 6.3: both Content-Length and Transfer-Encoding, or differing
 * Content-Lengths, are read one way here and maybe another way by a proxy in front (request
 * smuggling). A second DFDG-CPR, DFDG-Purpose or Authorization, or a query parameter given
 * twice ("?type=a&type=b"), would leave it open which one counts. (A raw NUL byte inside a
 * header cannot be seen here: libmicrohttpd 0.9.75 cuts the value at it.)
 */
static bool
headers_are_clear(struct dfdg_req *r)
{
    struct header_scan h = {0};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, scan_header, &h);
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, scan_query, &h);
    if (h.transfer_codings > 0 && h.content_lengths > 0) {
        dfdg_reply_problem(r, 400, "bad-framing",
                           "the request has both Content-Length and Transfer-Encoding");
        return false;
    }
    if (h.lengths_differ) {
        dfdg_reply_problem(r, 400, "bad-framing", "the request has conflicting Content-Lengths");
        return false;
    }
    /* RFC 9112 section 6.1: a coding we do not know leaves the body's end unknown. */
    if (h.transfer_codings == 1 && (h.coding == NULL || strcasecmp(h.coding, "chunked") != 0)) {
        dfdg_reply_problem(r, 501, "unsupported-transfer-coding",
                           "the only Transfer-Encoding understood is chunked");
        return false;
    }
    for (size_t i = 0; i < DFDG_ARRAY_LEN(single_headers); i++) {
        if (h.seen[i] > 1) {
            dfdg_reply_problem(r, 400, "bad-header", "the %s header appears more than once",
                               single_headers[i]);
            return false;
        }
    }
    if (h.nquery > QUERY_MAX) {
        dfdg_reply_problem(r, 400, "bad-query", "the query has more than %d parameters", QUERY_MAX);
        return false;
    }
    if (h.twice != NULL) {
        dfdg_reply_problem(r, 400, "bad-query", "the query parameter '%s' is given more than once",
                           h.twice);
        return false;
    }
    return true;
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Decodes the %HH escapes of the path and of query names and values (RFC 3986 section 2.1)
 * as libmicrohttpd's own decoder does, but leaves "%00" as it is: a NUL would cut the string
 * short for every C reader after us ("/v1/records/<id>%00junk" read as the id, "limit=5%00x"
 * as 5), so it stays three characters that match no route and pass no validation.
 */
static size_t
unescape_url(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls;
    (void)conn;
    char *w = s;
    const char *p = s;
    while (*p != '\0') {
        int hi = p[0] == '%' ? hex_value(p[1]) : -1;
        int lo = hi >= 0 ? hex_value(p[2]) : -1;
        if (lo >= 0 && (hi | lo) != 0) {
            *w++ = (char)(hi << 4 | lo);
            p += 3;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

/*
 * The first callback of a request: headers, route, size checks and authentication (no body
 * yet). Returns true when the reply must go out at once, before the body: libmicrohttpd then
 * reads none of it and closes the connection after the reply. That is so for unclear framing,
 * for a Content-Length longer than would ever be drained, and for any error when the client
 * waits for "100 Continue" before sending its body. Otherwise a body is read (and thrown
 * away, up to the cap and DRAIN_MAX) and the reply follows it, as clients that send before
 * they read expect. A denial is never early: it is audit-logged first (log_denial).
 */
static bool
begin_request(struct dfdg_req *r)
{
    if (!headers_are_clear(r))
        return true;
    const char *cl = dfdg_req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long announced = 0;
    if (cl != NULL) {
        char *end;
        announced = strtoull(cl, &end, 10);
        if (*end != '\0')
            announced = 0; /* libmicrohttpd refuses a malformed length before we are called */
    }
    const char *expect = dfdg_req_header(r, MHD_HTTP_HEADER_EXPECT);
    bool early = expect != NULL && strcasecmp(expect, "100-continue") == 0;
    r->route = find_route(r);
    if (r->route == NULL) {
        if (r->allow[0] != '\0')
            dfdg_reply_problem(r, 405, "method-not-allowed", "%s is not allowed here; use %s",
                               r->method, r->allow);
        else
            dfdg_reply_problem(r, 404, "not-found", "no such resource");
        return early || announced > DRAIN_MAX;
    }
    r->body_max = (r->route->flags & DFDG_ROUTE_BATCH)  ? r->st->cfg.max_batch_body
                  : (r->route->flags & DFDG_ROUTE_BODY) ? r->st->cfg.max_body
                                                        : 0;
    if (announced > r->body_max) {
        r->body_too_large = true;
        dfdg_reply_problem(r, 413, "too-large", "the body is larger than %zu bytes", r->body_max);
        return early || announced > r->body_max + DRAIN_MAX;
    }
    if ((r->route->flags & DFDG_ROUTE_AUTH) && !authenticate(r))
        return early && !(r->status == 403 && r->authed);
    return false;
}

static bool
append_body(struct dfdg_req *r, const char *data, size_t n)
{
    if (r->body_too_large || r->body_len + n > r->body_max) {
        r->body_too_large = true;
        return true; /* read and drop the rest; answer 413 at the end */
    }
    if (r->body_len + n + 1 > r->body_cap) {
        size_t cap = r->body_cap != 0 ? r->body_cap : 4096;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        char *nb = realloc(r->body, cap);
        if (nb == NULL)
            return false;
        r->body = nb;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return true;
}

/* The connection's arrival tracker (conntrack.h), or NULL when it is not tracked. */
static struct dfdg_conn *
tracked(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci != NULL ? ci->socket_context : NULL;
}

static void
connection_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                  enum MHD_ConnectionNotificationCode code)
{
    struct dfdg_server *srv = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = dfdg_conntrack_open(srv->ct, ci != NULL ? ci->connect_fd : -1);
    } else {
        /* libmicrohttpd closes the socket only after this (conntrack.c invariant 1). */
        dfdg_conntrack_close(srv->ct, *socket_context);
        *socket_context = NULL;
    }
}

static enum MHD_Result
access_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
               const char *version, const char *upload_data, size_t *upload_data_size,
               void **con_cls)
{
    struct dfdg_server *srv = cls;
    struct dfdg_req *r = *con_cls;
    if (r == NULL) {
        r = calloc(1, sizeof *r);
        if (r == NULL)
            return MHD_NO;
        r->srv = srv;
        r->st = &srv->st;
        r->conn = conn;
        r->method = method;
        r->path = url;
        r->started_us = dfdg_time_now_us();
        *con_cls = r;
        atomic_fetch_add(&srv->inflight, 1);
        if (begin_request(r)) {
            dfdg_conntrack_arrived(srv->ct, tracked(conn));
            return queue_reply(r);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->status == 0 && r->body_max == 0) {
            r->body_too_large = true; /* a body where none is expected */
        } else if (r->status == 0 && !append_body(r, upload_data, n)) {
            dfdg_reply_err(r, DFDG_NOMEM, NULL);
        }
        if ((r->status != 0 || r->body_too_large) &&
            !dfdg_conntrack_drain(srv->ct, tracked(conn), n, r->body_max + DRAIN_MAX))
            return MHD_NO; /* thrown away long enough: close without an answer */
        return MHD_YES;
    }
    /* The whole request is in: its arrival deadline no longer applies. */
    dfdg_conntrack_arrived(srv->ct, tracked(conn));
    if (r->suspended) {
        /* Resumed by the writer: build the reply from the outcome. */
        r->suspended = false;
        r->resume(r);
        if (r->suspended || log_denial(r))
            return MHD_YES; /* waits again (a feed logging its disclosures, a denial logged) */
        return queue_reply(r);
    }
    if (r->status == 0 && !r->handled) {
        r->handled = true;
        if (r->body_too_large)
            dfdg_reply_problem(r, 413, "too-large", "the body is larger than %zu bytes",
                               r->body_max);
        else
            r->route->handler(r);
        if (r->suspended)
            return MHD_YES;
    }
    if (log_denial(r))
        return MHD_YES;
    return queue_reply(r);
}

static void
request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                  enum MHD_RequestTerminationCode toe)
{
    struct dfdg_server *srv = cls;
    struct dfdg_req *r = *con_cls;
    dfdg_conntrack_next(srv->ct, tracked(conn)); /* the next request's clock starts */
    if (r == NULL)
        return;
    int64_t us = dfdg_time_now_us() - r->started_us;
    int status = r->status;
    dfdg_log(DFDG_LOG_DEBUG, "http.request", "method=%s route=%s status=%d us=%lld%s", r->method,
             r->route != NULL ? r->route->pattern : "-", status, (long long)us,
             toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
    atomic_fetch_add(&srv->requests, 1);
    if (status >= 100 && status < 600)
        atomic_fetch_add(&srv->by_class[status / 100], 1);
    for (size_t i = 0; i < r->ingest.nitems; i++)
        dfdg_ingest_item_cleanup(&r->ingest.items[i]);
    free(r->ingest.items);
    if (r->ext_free != NULL)
        r->ext_free(r->ext);
    audit_free(r->aw);
    free(r->body);
    free(r->resp);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&srv->inflight, 1);
}

/* --- metrics ------------------------------------------------------------------------------ */

void
dfdg_metrics_render(struct dfdg_req *r)
{
    struct dfdg_server *srv = r->srv;
    struct dfdg_writer_stats ws;
    dfdg_writer_get_stats(r->st->writer, &ws);
    uint64_t hits, misses;
    dfdg_token_cache_stats(r->st->tokens, &hits, &misses);
    char *buf = malloc(4096);
    if (buf == NULL) {
        dfdg_reply_err(r, DFDG_NOMEM, NULL);
        return;
    }
    int n = snprintf(
        buf, 4096,
        "# HELP dfdg_http_requests_total Completed HTTP requests by status class.\n"
        "# TYPE dfdg_http_requests_total counter\n"
        "dfdg_http_requests_total{class=\"2xx\"} %lu\n"
        "dfdg_http_requests_total{class=\"3xx\"} %lu\n"
        "dfdg_http_requests_total{class=\"4xx\"} %lu\n"
        "dfdg_http_requests_total{class=\"5xx\"} %lu\n"
        "# HELP dfdg_http_problems_total Problem (error) responses sent.\n"
        "# TYPE dfdg_http_problems_total counter\n"
        "dfdg_http_problems_total %lu\n"
        "# HELP dfdg_http_inflight Requests in progress.\n"
        "# TYPE dfdg_http_inflight gauge\n"
        "dfdg_http_inflight %ld\n"
        "# HELP dfdg_writer_commits_total Group-commit transactions.\n"
        "# TYPE dfdg_writer_commits_total counter\n"
        "dfdg_writer_commits_total %llu\n"
        "# HELP dfdg_writer_requests_total Write requests committed.\n"
        "# TYPE dfdg_writer_requests_total counter\n"
        "dfdg_writer_requests_total %llu\n"
        "# HELP dfdg_writer_failed_total Write requests failed by store errors.\n"
        "# TYPE dfdg_writer_failed_total counter\n"
        "dfdg_writer_failed_total %llu\n"
        "# HELP dfdg_writer_rejected_total Write requests refused with 503 (queue full).\n"
        "# TYPE dfdg_writer_rejected_total counter\n"
        "dfdg_writer_rejected_total %llu\n"
        "# HELP dfdg_token_cache_hits_total Bearer tokens answered from the verified-token cache.\n"
        "# TYPE dfdg_token_cache_hits_total counter\n"
        "dfdg_token_cache_hits_total %llu\n"
        "# HELP dfdg_token_cache_misses_total Bearer tokens whose signature was checked.\n"
        "# TYPE dfdg_token_cache_misses_total counter\n"
        "dfdg_token_cache_misses_total %llu\n"
        "# HELP dfdg_http_request_timeouts_total Connections closed because a request did not "
        "arrive within the request timeout.\n"
        "# TYPE dfdg_http_request_timeouts_total counter\n"
        "dfdg_http_request_timeouts_total %llu\n",
        atomic_load(&srv->by_class[2]), atomic_load(&srv->by_class[3]),
        atomic_load(&srv->by_class[4]), atomic_load(&srv->by_class[5]), atomic_load(&srv->problems),
        atomic_load(&srv->inflight), (unsigned long long)ws.groups, (unsigned long long)ws.requests,
        (unsigned long long)ws.failed, (unsigned long long)ws.rejected, (unsigned long long)hits,
        (unsigned long long)misses, (unsigned long long)dfdg_conntrack_cut_count(srv->ct));
    if (n < 0 || n >= 4096) {
        free(buf);
        dfdg_reply_err(r, DFDG_INTERNAL, "the metrics do not fit their buffer");
        return;
    }
    dfdg_reply_raw(r, 200, "text/plain; version=0.0.4", buf, (size_t)n);
}

/* --- the delivery watcher -------------------------------------------------------------------- */

/*
 * Deliveries committed by another process (a CPR import's hand-overs) are not announced by
 * this server's writer. While consumers wait, the store's newest delivery is checked twice a
 * second; when it is newer than anything announced here, every waiter queries again.
 */
static void *
watcher_main(void *arg)
{
    struct dfdg_server *srv = arg;
    int64_t seen = 0;
    pthread_mutex_lock(&srv->watch_lock);
    while (!srv->watch_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 500000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&srv->watch_cond, &srv->watch_lock, &ts);
        if (srv->watch_stop || dfdg_feedwait_count(srv->st.feedwait) == 0)
            continue;
        pthread_mutex_unlock(&srv->watch_lock);
        int64_t last = 0;
        struct dfdg_store *s = dfdg_store_pool_take(srv->st.readers);
        dfdg_err rc = dfdg_store_last_delivery_seq(s, &last);
        dfdg_store_pool_put(srv->st.readers, s);
        /* A delivery newer than the last check may be another process's, for an org this
         * node never heard of: every waiter queries again (a waiter with nothing new waits
         * on). Announcements cover this node's own deliveries at once. */
        if (rc == DFDG_OK && last > seen)
            dfdg_feedwait_poke_all(srv->st.feedwait);
        if (rc == DFDG_OK && last > seen)
            seen = last;
        pthread_mutex_lock(&srv->watch_lock);
    }
    pthread_mutex_unlock(&srv->watch_lock);
    return NULL;
}

/* --- start and stop ----------------------------------------------------------------------- */

static int
org_cmp(const void *a, const void *b)
{
    return strcmp(((const struct dfdg_org *)a)->id, ((const struct dfdg_org *)b)->id);
}

static dfdg_err
load_orgs_and_issuers(struct dfdg_server_state *st, struct dfdg_store *s, struct dfdg_errinfo *ei)
{
    dfdg_err rc = dfdg_store_org_list(s, &st->orgs, &st->norgs);
    if (rc != DFDG_OK)
        return dfdg_errinfo_set(ei, rc, "cannot read the orgs: %s", dfdg_err_message(rc));
    qsort(st->orgs, st->norgs, sizeof *st->orgs, org_cmp);
    struct dfdg_issuer *keys = NULL;
    size_t n = 0;
    rc = dfdg_store_issuer_list(s, &keys, &n);
    if (rc != DFDG_OK)
        return dfdg_errinfo_set(ei, rc, "cannot read the token issuers: %s", dfdg_err_message(rc));
    st->issuers = keys;
    st->nissuers = n;
    return DFDG_OK;
}

static dfdg_err
render_catalog(struct dfdg_server_state *st)
{
    const struct dfdg_catalog *cat = st->cat;
    st->catalog_text = calloc(cat->ntypes + 1, sizeof *st->catalog_text);
    if (st->catalog_text == NULL)
        return DFDG_NOMEM;
    for (size_t i = 0; i <= cat->ntypes; i++) {
        json_t *j = i < cat->ntypes ? cat->types[i].json : cat->json;
        st->catalog_text[i] = json_dumps(j, JSON_COMPACT);
        if (st->catalog_text[i] == NULL)
            return DFDG_NOMEM;
    }
    return DFDG_OK;
}

static void
free_catalog_text(struct dfdg_server_state *st)
{
    if (st->catalog_text == NULL)
        return;
    for (size_t i = 0; i <= st->cat->ntypes; i++)
        free(st->catalog_text[i]);
    free(st->catalog_text);
}

static dfdg_err
parse_listen(const char *listen, struct sockaddr_in *sa, struct dfdg_errinfo *ei)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    const char *colon = strrchr(listen, ':');
    char host[64];
    if (colon == NULL || (size_t)(colon - listen) >= sizeof host)
        return dfdg_errinfo_set(ei, DFDG_CONFIG, "--listen must be ADDR:PORT, e.g. 127.0.0.1:8080");
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || colon[1] == '\0' || port < 0 || port > 65535)
        return dfdg_errinfo_set(ei, DFDG_CONFIG, "--listen: bad port in '%s'", listen);
    if (strcmp(host, "localhost") == 0)
        dfdg_strlcpy(host, "127.0.0.1", sizeof host);
    if (inet_pton(AF_INET, host[0] != '\0' ? host : "0.0.0.0", &sa->sin_addr) != 1)
        return dfdg_errinfo_set(ei, DFDG_CONFIG, "--listen: '%s' is not an IPv4 address", host);
    sa->sin_port = htons((uint16_t)port);
    return DFDG_OK;
}

dfdg_err
dfdg_server_start(const struct dfdg_server_config *c, struct dfdg_server **out,
                  struct dfdg_errinfo *ei)
{
    *out = NULL;
    struct sockaddr_in sa;
    dfdg_err rc = parse_listen(c->listen, &sa, ei);
    if (rc != DFDG_OK)
        return rc;
    struct dfdg_server *srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return DFDG_NOMEM;
    srv->st.cfg = *c;
    srv->st.cat = c->cat;
    rc = render_catalog(&srv->st);
    if (rc == DFDG_OK)
        rc = dfdg_token_cache_new(4096, &srv->st.tokens);
    if (rc == DFDG_OK)
        rc = dfdg_feedwait_new(&srv->st.feedwait);
    if (rc == DFDG_OK)
        rc = dfdg_conntrack_new(c->request_timeout, &srv->ct);
    if (rc != DFDG_OK)
        goto free_srv;
    unsigned threads = c->threads;
    if (threads == 0) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        threads = ncpu > 0 ? (unsigned)(ncpu * 2) : 4;
        if (threads < 4)
            threads = 4;
    }
    rc = dfdg_store_pool_new(c->store_uri, threads + 2, &srv->st.readers, ei);
    if (rc != DFDG_OK)
        goto free_srv;
    struct dfdg_store *s = dfdg_store_pool_take(srv->st.readers);
    rc = load_orgs_and_issuers(&srv->st, s, ei);
    dfdg_store_pool_put(srv->st.readers, s);
    if (rc != DFDG_OK)
        goto free_pool;
    rc = dfdg_tls_new(c, &srv->st, &srv->tls, ei);
    if (rc != DFDG_OK)
        goto free_pool;
    rc = dfdg_writer_start(c->store_uri, c->writer_queue, &srv->st.writer, ei);
    if (rc != DFDG_OK)
        goto free_pool;
    srv->daemon = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
            dfdg_tls_daemon_flags(srv->tls),
        0, NULL, NULL, access_handler, srv, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED, request_completed, srv,
        MHD_OPTION_NOTIFY_CONNECTION, connection_notify, srv, MHD_OPTION_UNESCAPE_CALLBACK,
        unescape_url, NULL, MHD_OPTION_CONNECTION_TIMEOUT, c->connection_timeout,
        MHD_OPTION_CONNECTION_LIMIT, c->max_connections, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(64 * 1024), MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_ARRAY,
        dfdg_tls_daemon_options(srv->tls), MHD_OPTION_END);
    if (srv->daemon == NULL) {
        rc = dfdg_errinfo_set(ei, DFDG_CONFIG, "cannot listen on %s (address in use?)", c->listen);
        goto stop_writer;
    }
    dfdg_tls_started(srv->tls); /* GnuTLS has its copy: the key leaves our memory */
    pthread_mutex_init(&srv->watch_lock, NULL);
    pthread_cond_init(&srv->watch_cond, NULL);
    srv->watching = pthread_create(&srv->watcher, NULL, watcher_main, srv) == 0;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info != NULL ? info->port : 0;
    *out = srv;
    return DFDG_OK;

stop_writer:
    dfdg_writer_stop(srv->st.writer);
free_pool:
    dfdg_store_pool_free(srv->st.readers);
free_srv:
    dfdg_tls_free(srv->tls);
    dfdg_conntrack_free(srv->ct);
    dfdg_feedwait_free(srv->st.feedwait);
    dfdg_token_cache_free(srv->st.tokens);
    free_catalog_text(&srv->st);
    free(srv->st.orgs);
    free(srv->st.issuers);
    free(srv);
    return rc;
}

unsigned
dfdg_server_port(const struct dfdg_server *srv)
{
    return srv->port;
}

void
dfdg_server_stop(struct dfdg_server *srv, unsigned grace_seconds)
{
    if (srv == NULL)
        return;
    MHD_socket lsock = MHD_quiesce_daemon(srv->daemon);
    if (lsock != MHD_INVALID_SOCKET)
        close(lsock);
    if (srv->watching) {
        pthread_mutex_lock(&srv->watch_lock);
        srv->watch_stop = true;
        pthread_cond_signal(&srv->watch_cond);
        pthread_mutex_unlock(&srv->watch_lock);
        pthread_join(srv->watcher, NULL);
    }
    pthread_cond_destroy(&srv->watch_cond);
    pthread_mutex_destroy(&srv->watch_lock);
    /* Long-polling consumers are answered now with what there is. */
    dfdg_feedwait_stop(srv->st.feedwait);
    /* In-flight requests finish: the writer keeps committing and resuming them. */
    for (unsigned i = 0; i < grace_seconds * 100 && atomic_load(&srv->inflight) > 0; i++)
        usleep(10000);
    /* Stopping the writer drains its queue, so every suspended request is resumed while the
     * daemon still runs; after this nothing can resume a connection any more. */
    dfdg_writer_stop(srv->st.writer);
    for (unsigned i = 0; i < 200 && atomic_load(&srv->inflight) > 0; i++)
        usleep(10000);
    MHD_stop_daemon(srv->daemon);
    dfdg_conntrack_free(srv->ct); /* after the daemon: every connection has closed */
    dfdg_tls_free(srv->tls);
    dfdg_store_pool_free(srv->st.readers);
    dfdg_feedwait_free(srv->st.feedwait);
    dfdg_token_cache_free(srv->st.tokens);
    free_catalog_text(&srv->st);
    free(srv->st.orgs);
    free(srv->st.issuers);
    free(srv);
}
