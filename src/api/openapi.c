/* SPDX-License-Identifier: Apache-2.0 */
/*
 * openapi.c: GET /openapi.json, an OpenAPI 3.1 document generated from the route table and the
 * catalog, so it cannot drift from what the server does. Each operation carries the route's
 * flags as extensions (x-dfdg-personal: the route touches personal data, needs DFDG-Purpose
 * and is audit-logged; x-dfdg-citizen: citizen tokens may call it) and the catalog's types
 * are the record schemas' "type" enum.
 */
#include "core/dfdg.h"
#include "api/api_int.h"

static json_t *
operation(const struct dfdg_route *rt)
{
    json_t *op = json_object();
    char id[128];
    size_t n = 0;
    for (const char *p = rt->method; *p != '\0' && n + 1 < sizeof id; p++)
        id[n++] = (char)(*p | 0x20);
    for (const char *p = rt->pattern; *p != '\0' && n + 1 < sizeof id; p++)
        id[n++] = (*p == '/' || *p == '{' || *p == '}' || *p == '-' || *p == '.') ? '_' : *p;
    id[n] = '\0';
    json_object_set_new(op, "operationId", json_string(id));
    json_t *params = json_array();
    for (const char *p = strchr(rt->pattern, '{'); p != NULL; p = strchr(p + 1, '{')) {
        const char *close = strchr(p, '}');
        if (close == NULL)
            break;
        json_array_append_new(params, json_pack("{s:s%, s:s, s:b, s:{s:s}}", "name", p + 1,
                                                (size_t)(close - p - 1), "in", "path", "required",
                                                1, "schema", "type", "string"));
    }
    if (rt->flags & DFDG_ROUTE_PERSONAL)
        json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:s}", "name", "DFDG-Purpose",
                                                "in", "header", "required", 1, "description",
                                                "the purpose of processing (DESIGN section 4)"));
    json_object_set_new(op, "parameters", params);
    if (rt->flags & DFDG_ROUTE_AUTH)
        json_object_set_new(op, "security", json_pack("[{s:[]}]", "bearer"));
    json_object_set_new(op, "x-dfdg-personal", json_boolean(rt->flags & DFDG_ROUTE_PERSONAL));
    json_object_set_new(op, "x-dfdg-citizen",
                        json_boolean(rt->flags & (DFDG_ROUTE_CITIZEN | DFDG_ROUTE_ME)));
    json_object_set_new(op, "x-dfdg-citizen-only", json_boolean(rt->flags & DFDG_ROUTE_ME));
    json_object_set_new(op, "responses",
                        json_pack("{s:{s:s}, s:{s:s}}", "2XX", "description", "success", "default",
                                  "description", "an RFC 9457 problem"));
    return op;
}

void
dfdg_h_openapi(struct dfdg_req *r)
{
    json_t *paths = json_object();
    for (size_t i = 0; i < dfdg_nroutes; i++) {
        const struct dfdg_route *rt = &dfdg_routes[i];
        json_t *item = json_object_get(paths, rt->pattern);
        if (item == NULL) {
            item = json_object();
            json_object_set_new(paths, rt->pattern, item);
        }
        char method[8];
        size_t n = 0;
        for (const char *p = rt->method; *p != '\0' && n + 1 < sizeof method; p++)
            method[n++] = (char)(*p | 0x20);
        method[n] = '\0';
        json_object_set_new(item, method, operation(rt));
    }
    json_t *types = json_array();
    for (size_t i = 0; i < r->st->cat->ntypes; i++)
        json_array_append_new(types, json_string(r->st->cat->types[i].code));
    json_t *doc = json_pack(
        "{s:s, s:{s:s, s:s}, s:o, s:{s:{s:{s:s, s:s, s:s}}, s:{s:{s:s, s:{s:o}}}}}", "openapi",
        "3.1.0", "info", "title", "dfdg", "version", "0.1.0", "paths", paths, "components",
        "securitySchemes", "bearer", "type", "http", "scheme", "bearer", "bearerFormat",
        "JWT (EdDSA)", "schemas", "RecordType", "type", "string", "properties", "enum", types);
    dfdg_reply_json(r, 200, doc);
}
