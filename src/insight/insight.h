/* SPDX-License-Identifier: Apache-2.0 */
/*
 * insight.h: what a citizen is told about the processing of their data. Two products, built
 * from a store and the catalog, shared by the API (GET /v1/me/access-log, GET /v1/me/insight)
 * and the command line (`dfdg insight`):
 *
 *   - the access log: every audit entry that concerns the person and was made by someone other
 *     than a citizen (the person's own self-service is left out), newest first, paged by the
 *     entry index; each shows the organisation, when, what it did, which kinds of the person's
 *     data, the purpose, the legal basis and the outcome (denied attempts included);
 *   - the GDPR art. 15 document: master data, every record of the person with its history,
 *     per type the purposes, legal basis, sources, recipients and retention, the disclosures,
 *     the access log, and the controller's and DPO's contacts; as JSON, and as a printable HTML
 *     page rendered from that JSON.
 *
 * Nothing here writes: the caller logs the read (the API through the writer, the CLI with
 * audit/auditlog.h) before anything leaves. A struct dfdg_insight_src is used by one thread.
 */
#ifndef DFDG_INSIGHT_INSIGHT_H
#define DFDG_INSIGHT_INSIGHT_H

#include "core/dfdg.h"
#include "catalog/catalog.h"
#include "store/store.h"

#include <jansson.h>

/* Page sizes of the access log (GET /v1/me/access-log?limit=). */
#define DFDG_ACCESS_LOG_DEFAULT 50
#define DFDG_ACCESS_LOG_MAX 500
/* At most this many access-log entries and records go into one art. 15 document. */
#define DFDG_INSIGHT_MAX_ENTRIES 20000
#define DFDG_INSIGHT_MAX_RECORDS 100000
/* The largest HTML rendering (DFDG_TOO_LARGE beyond). */
#define DFDG_INSIGHT_HTML_MAX (256u * 1024u * 1024u)

/* Where the products are built from. */
struct dfdg_insight_src {
    struct dfdg_store *s;           /* a store handle (reads only); borrowed */
    const struct dfdg_catalog *cat; /* the catalog; borrowed */
    const struct dfdg_org *orgs;    /* the known orgs sorted by id, or NULL: asked of s */
    size_t norgs;                   /* entries in orgs */
};

/*
 * Parses an access-log cursor (the "next" of a page: a decimal entry index, 1..INT64_MAX).
 * DFDG_INVAL for anything else.
 */
dfdg_err dfdg_insight_cursor_parse(const char *text, int64_t *before /* OUT */);

/*
 * One page of the person's access log: {"entries": [...], "next": cursor or null}, the entries
 * with index below before (INT64_MAX: from the newest), at most limit (1..DFDG_ACCESS_LOG_MAX,
 * else DFDG_INVAL), newest first. Each entry: {"cursor", "audit_index", "at", "org": {"id",
 * "name", "kind"}, "action", "label": {"da", "en"}, "bulk", "kinds_of_data": [{"type", "name":
 * {"da", "en"}}], "purpose", "legal_basis", "outcome", "rule"?}. Bulk entries (feed pages,
 * batches) name only this person's kinds of data and the legal bases that concern them.
 * Caller owns *out. Store errors are returned as they come.
 */
dfdg_err dfdg_insight_access_log(const struct dfdg_insight_src *src, int64_t person_id,
                                 int64_t before, size_t limit, json_t **out /* OUT */);

/*
 * The GDPR art. 15 document of a person, generated at now_us: {"generated_at", "controller",
 * "dpo", "supervisory_authority", "rights", "purposes", "person", "records": [per type {"type",
 * "name", "sensitive", "purposes", "purposes_used", "legal_basis", "sources", "recipients":
 * {"by_rule", "routed_to"}, "retention_years", "records": [...]}], "record_count",
 * "disclosures", "access_log": {"entries", "truncated"}, "notes"}. Records include superseded
 * versions, cancellations and withdrawn records, each with "status" (current, superseded,
 * withdrawn, cancellation), "superseded_by" and "retained_until" (its chain's end plus the
 * type's retention; null while the chain is open). History is found from the current records,
 * the writes named in the person's audit entries, and the corrects/cancels links both ways; a
 * withdrawn chain that no audit entry names (bulk-loaded data) is not found. The disclosures
 * are derived from the person's audit entries (reads, feed pages, extracts by organisations).
 * DFDG_NOT_FOUND when there is no such person. Caller owns *out.
 */
dfdg_err dfdg_insight_build(const struct dfdg_insight_src *src, int64_t person_id, int64_t now_us,
                            json_t **out /* OUT */);

/*
 * Renders a document from dfdg_insight_build as a self-contained printable HTML page (UTF-8,
 * an embedded print stylesheet, every text from the document escaped). Caller frees *out;
 * *len excludes the NUL. DFDG_NOMEM, DFDG_TOO_LARGE past DFDG_INSIGHT_HTML_MAX.
 */
dfdg_err dfdg_insight_render_html(const json_t *doc, char **out /* OUT */, size_t *len /* OUT */);

/*
 * text with & < > " ' as character references and control characters (but tab, newline and
 * carriage return) as spaces: safe in HTML element content and in quoted attributes. Caller
 * frees; NULL when out of memory. NULL text gives "".
 */
char *dfdg_insight_html_escape(const char *text);

#endif
