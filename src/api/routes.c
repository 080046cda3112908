/* SPDX-License-Identifier: Apache-2.0 */
/*
 * routes.c: the route table (one declarative list: method, path, handler, flags) and the
 * handlers of the operational and catalog routes.
 */
#include "core/dfdg.h"
#include "api/api_int.h"

/* More specific patterns come first: "/v1/records/batch" before "/v1/records/{id}". */
const struct dfdg_route dfdg_routes[] = {
    {"GET", "/healthz", dfdg_h_healthz, 0},
    {"GET", "/metrics", dfdg_h_metrics, 0},
    {"GET", "/openapi.json", dfdg_h_openapi, 0},
    {"GET", "/v1/catalog", dfdg_h_catalog_list, 0},
    {"GET", "/v1/catalog/{code}", dfdg_h_catalog_get, 0},
    {"POST", "/v1/records", dfdg_h_record_post,
     DFDG_ROUTE_AUTH | DFDG_ROUTE_PERSONAL | DFDG_ROUTE_BODY | DFDG_ROUTE_CITIZEN},
    {"POST", "/v1/records/batch", dfdg_h_batch_post,
     DFDG_ROUTE_AUTH | DFDG_ROUTE_PERSONAL | DFDG_ROUTE_BATCH},
    {"POST", "/v1/records/{id}/correction", dfdg_h_correction_post,
     DFDG_ROUTE_AUTH | DFDG_ROUTE_PERSONAL | DFDG_ROUTE_BODY},
    {"POST", "/v1/records/{id}/cancellation", dfdg_h_cancellation_post,
     DFDG_ROUTE_AUTH | DFDG_ROUTE_PERSONAL | DFDG_ROUTE_BODY},
    {"GET", "/v1/records/{id}", dfdg_h_record_get,
     DFDG_ROUTE_AUTH | DFDG_ROUTE_PERSONAL | DFDG_ROUTE_CITIZEN},
    {"GET", "/v1/person", dfdg_h_person_get,
     DFDG_ROUTE_AUTH | DFDG_ROUTE_PERSONAL | DFDG_ROUTE_CITIZEN},
    {"GET", "/v1/person/records", dfdg_h_person_records,
     DFDG_ROUTE_AUTH | DFDG_ROUTE_PERSONAL | DFDG_ROUTE_CITIZEN},
    {"GET", "/v1/feed", dfdg_h_feed, DFDG_ROUTE_AUTH | DFDG_ROUTE_PERSONAL},
    {"GET", "/v1/audit/sth", dfdg_h_audit_sth, DFDG_ROUTE_AUTH | DFDG_ROUTE_CITIZEN},
    {"GET", "/v1/audit/proof/inclusion", dfdg_h_audit_inclusion,
     DFDG_ROUTE_AUTH | DFDG_ROUTE_CITIZEN},
    {"GET", "/v1/audit/proof/consistency", dfdg_h_audit_consistency,
     DFDG_ROUTE_AUTH | DFDG_ROUTE_CITIZEN},
    {"GET", "/v1/me", dfdg_h_me_get, DFDG_ROUTE_AUTH | DFDG_ROUTE_PERSONAL | DFDG_ROUTE_ME},
    {"GET", "/v1/me/records", dfdg_h_me_records,
     DFDG_ROUTE_AUTH | DFDG_ROUTE_PERSONAL | DFDG_ROUTE_ME},
    {"POST", "/v1/me/records", dfdg_h_me_record_post,
     DFDG_ROUTE_AUTH | DFDG_ROUTE_PERSONAL | DFDG_ROUTE_ME | DFDG_ROUTE_BODY},
    {"GET", "/v1/me/access-log", dfdg_h_me_access_log,
     DFDG_ROUTE_AUTH | DFDG_ROUTE_PERSONAL | DFDG_ROUTE_ME},
    {"GET", "/v1/me/insight", dfdg_h_me_insight,
     DFDG_ROUTE_AUTH | DFDG_ROUTE_PERSONAL | DFDG_ROUTE_ME},
};
const size_t dfdg_nroutes = DFDG_ARRAY_LEN(dfdg_routes);

void
dfdg_h_healthz(struct dfdg_req *r)
{
    dfdg_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

void
dfdg_h_metrics(struct dfdg_req *r)
{
    dfdg_metrics_render(r);
}

void
dfdg_h_catalog_list(struct dfdg_req *r)
{
    /* Rendered once at start: the catalog is immutable and jansson values are not shared
     * between threads. */
    char *copy = strdup(r->st->catalog_text[r->st->cat->ntypes]);
    dfdg_reply_raw(r, copy != NULL ? 200 : 503, "application/json", copy,
                   copy != NULL ? strlen(copy) : 0);
}

void
dfdg_h_catalog_get(struct dfdg_req *r)
{
    const struct dfdg_type *t = dfdg_catalog_find(r->st->cat, r->param);
    if (t == NULL) {
        dfdg_reply_problem(r, 404, "unknown-type", "there is no information type with that code");
        return;
    }
    char *copy = strdup(r->st->catalog_text[t - r->st->cat->types]);
    dfdg_reply_raw(r, copy != NULL ? 200 : 503, "application/json", copy,
                   copy != NULL ? strlen(copy) : 0);
}
