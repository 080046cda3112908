/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api_int.h: private to src/api. The per-request state, the route table entry and the reply
 * helpers the handlers use. Handlers never call libmicrohttpd directly.
 */
#ifndef DFDG_API_API_INT_H
#define DFDG_API_API_INT_H

#include "core/dfdg.h"
#include "api/api.h"
#include "authz/access.h"
#include "authz/tokencache.h"
#include "exchange/feedwait.h"
#include "exchange/ingest.h"
#include "store/pool.h"

#include <jansson.h>

struct dfdg_req;
typedef void (*dfdg_handler_fn)(struct dfdg_req *r);

enum dfdg_route_flags {
    DFDG_ROUTE_AUTH = 1 << 0,     /* needs a valid bearer token */
    DFDG_ROUTE_PERSONAL = 1 << 1, /* touches personal data: needs an allowed DFDG-Purpose */
    DFDG_ROUTE_BODY = 1 << 2,     /* reads a request body (max_body) */
    DFDG_ROUTE_BATCH = 1 << 3,    /* reads a batch body (max_batch_body) */
    DFDG_ROUTE_CITIZEN = 1 << 4,  /* citizen tokens may call it */
    DFDG_ROUTE_ME = 1 << 5,       /* citizen self-service: citizen tokens only */
};

struct dfdg_route {
    const char *method;      /* "GET", "POST" */
    const char *pattern;     /* "/v1/records/{id}/correction": {x} matches one segment */
    dfdg_handler_fn handler; /* runs when the body is complete */
    unsigned flags;          /* enum dfdg_route_flags */
};
extern const struct dfdg_route dfdg_routes[];
extern const size_t dfdg_nroutes;

/* Shared, read-only after start (but the counters). */
struct dfdg_server_state {
    struct dfdg_server_config cfg;   /* copy of the configuration */
    const struct dfdg_catalog *cat;  /* the catalog */
    struct dfdg_writer *writer;      /* the group-commit writer */
    struct dfdg_store_pool *readers; /* connections for reads */
    struct dfdg_org *orgs;           /* every known org, sorted by id */
    size_t norgs;
    struct dfdg_issuer *issuers; /* token issuers */
    size_t nissuers;
    char **catalog_text;             /* JSON of each type, then of the whole catalog */
    struct dfdg_token_cache *tokens; /* verified bearer tokens */
    struct dfdg_feedwait *feedwait;  /* long-polling feed consumers */
};

/* Per-request state; lives from the first callback to the completion callback. */
struct dfdg_req {
    struct dfdg_server *srv;        /* the server */
    struct dfdg_server_state *st;   /* its shared state */
    void *conn;                     /* the libmicrohttpd connection */
    const struct dfdg_route *route; /* the matched route, or NULL */
    const char *method;             /* borrowed from libmicrohttpd */
    const char *path;               /* borrowed from libmicrohttpd */
    char param[96];                 /* the {x} segment of the route, if any */
    char *body;                     /* request body (NUL-terminated), owned */
    size_t body_len;                /* bytes in body */
    size_t body_cap;                /* allocated */
    size_t body_max;                /* the route's cap */
    bool body_too_large;            /* the body passed body_max: answer 413 */
    bool handled;                   /* the handler has run */
    bool suspended;                 /* waiting for the writer */
    struct dfdg_actor actor;        /* the caller (routes with AUTH) */
    dfdg_handler_fn resume;         /* runs when the writer is done (suspended) */
    struct dfdg_ingest_req ingest;  /* the write, for ingest routes */
    void *batch;                    /* per-line state of a batch (records.c) */
    void *ext;                      /* a handler's own state (feed.c) */
    struct dfdg_audit_write *aw;    /* a read's audit entry on its way to the writer */
    bool authed;                    /* the caller was authenticated (actor is set) */
    const char *denied_rule;        /* the rule of a 403 reply (logged as a denied attempt) */
    int64_t audit_person;           /* the person a denied call concerned, if known */
    void (*ext_free)(void *ext);    /* frees ext at completion */
    int status;                     /* response status, 0 until set */
    char *resp;                     /* response body, owned */
    size_t resp_len;                /* its length */
    const char *resp_type;          /* its content type */
    char retry_after[8];            /* Retry-After value, or "" */
    char allow[32];                 /* Allow value for 405, or "" */
    int64_t started_us;             /* when the request arrived */
};

/* Reply helpers: each sets the response once (later calls are ignored). */
void dfdg_reply_json(struct dfdg_req *r, int status, json_t *body /* TAKES */);
void dfdg_reply_raw(struct dfdg_req *r, int status, const char *type, char *body /* TAKES */,
                    size_t len);
/* An RFC 9457 problem; slug names the problem type, detail is printf-style. */
void dfdg_reply_problem(struct dfdg_req *r, int status, const char *slug, const char *fmt, ...)
    DFDG_PRINTF(4, 5);
/* 400 with the field-level errors of ve. */
void dfdg_reply_invalid(struct dfdg_req *r, const struct dfdg_verrors *ve);
/* 403 naming the rule. */
void dfdg_reply_denied(struct dfdg_req *r, const struct dfdg_denial *why);
/* A problem for a dfdg_err (status from DFDG_ERR_MAP), with optional detail. */
void dfdg_reply_err(struct dfdg_req *r, dfdg_err rc, const char *detail);
/* Builds (does not send) a problem object; caller owns the result. */
json_t *dfdg_problem_new(int status, const char *slug, const char *detail);
/* Adds ve as the problem's "errors" array. */
void dfdg_problem_add_errors(json_t *problem, const struct dfdg_verrors *ve);

/* Request accessors. Header and query values are borrowed for the request's lifetime. */
const char *dfdg_req_header(struct dfdg_req *r, const char *name);
const char *dfdg_req_query(struct dfdg_req *r, const char *name);

/*
 * Suspends the request and hands r->ingest to the writer; when it has committed (or failed:
 * r->ingest.wr.rc), resume runs in a server thread to build the reply. When the writer refuses
 * the request (full queue), resume runs at once with wr.rc set.
 */
void dfdg_req_submit(struct dfdg_req *r, dfdg_handler_fn resume);

/*
 * Suspends the request and hands wr (apply set by the caller) to the writer; when it has
 * committed (or failed: wr->rc), resume runs in a server thread. A full queue resumes at once
 * with wr->rc = DFDG_BUSY.
 */
void dfdg_req_submit_write(struct dfdg_req *r, struct dfdg_write_req *wr, dfdg_handler_fn resume);
/*
 * Logs ev (an audit entry, TAKES) through the writer and sends status/body (TAKES) only after
 * the entry has committed: every read of personal data is logged before it is answered. If
 * the entry cannot be committed the caller gets 503 instead of the data.
 */
void dfdg_req_audit_then_reply(struct dfdg_req *r, json_t *ev /* TAKES */, int status,
                               json_t *body /* TAKES */);
/* A new audit entry for this request's caller and purpose (see audit/auditlog.h). */
json_t *dfdg_req_audit_event(struct dfdg_req *r, const char *action);
/*
 * The audit entry of a read of personal data: the person, and each record in records (one
 * record object as the API shows it, an array of them, or NULL) by id and type, with the
 * types' legal bases. records is borrowed.
 */
json_t *dfdg_req_read_event(struct dfdg_req *r, const char *action, int64_t person_id,
                            json_t *records);

/* Suspends the request until dfdg_req_wake; then resume runs in a server thread. */
void dfdg_req_suspend(struct dfdg_req *r, dfdg_handler_fn resume);
/* Resumes a suspended request (from any thread). */
void dfdg_req_wake(struct dfdg_req *r);

/* Parses a JSON body with the depth cap; on failure replies 400 and returns NULL. */
json_t *dfdg_req_parse_json(struct dfdg_req *r, const char *text, size_t len);
/* Whether text nests deeper than max (ignores brackets inside strings). */
bool dfdg_json_too_deep(const char *text, size_t len, size_t max);

/* Looks an org up among the known orgs; NULL when unknown. */
const struct dfdg_org *dfdg_server_find_org(const struct dfdg_server_state *st, const char *id);

/* Handlers (routes.c, records.c, person.c). */
void dfdg_h_healthz(struct dfdg_req *r);
void dfdg_h_metrics(struct dfdg_req *r);
void dfdg_h_openapi(struct dfdg_req *r);
void dfdg_h_catalog_list(struct dfdg_req *r);
void dfdg_h_catalog_get(struct dfdg_req *r);
void dfdg_h_record_post(struct dfdg_req *r);
void dfdg_h_batch_post(struct dfdg_req *r);
void dfdg_h_correction_post(struct dfdg_req *r);
void dfdg_h_cancellation_post(struct dfdg_req *r);
void dfdg_h_record_get(struct dfdg_req *r);
void dfdg_h_person_get(struct dfdg_req *r);
void dfdg_h_person_records(struct dfdg_req *r);
void dfdg_h_feed(struct dfdg_req *r);
void dfdg_h_audit_sth(struct dfdg_req *r);
void dfdg_h_audit_inclusion(struct dfdg_req *r);
void dfdg_h_audit_consistency(struct dfdg_req *r);
void dfdg_h_me_get(struct dfdg_req *r);
void dfdg_h_me_records(struct dfdg_req *r);
void dfdg_h_me_record_post(struct dfdg_req *r);
void dfdg_h_me_access_log(struct dfdg_req *r); /* me_log.c */
void dfdg_h_me_insight(struct dfdg_req *r);    /* me_log.c */

/*
 * Ingests one record (target_id NULL), correction (of target_id) or cancellation from a parsed
 * body, as the caller r->actor: validates, suspends for the writer and replies (201/200 with
 * {id, recorded_at, routed_to}, or a problem). Takes body.
 */
void dfdg_api_ingest_one(struct dfdg_req *r, json_t *body /* TAKES */, const char *target_id,
                         bool cancellation);
/* Whether the Content-Type (if any) is JSON; replies 415 and returns false when not. */
bool dfdg_api_content_type_is_json(struct dfdg_req *r);

/* Metrics counters (server.c). */
void dfdg_metrics_render(struct dfdg_req *r);

#endif
