/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_record.c: libFuzzer target for a record body as POST /v1/records, the corrections route
 * and the cancellations route take it: the depth check, jansson with duplicate keys refused,
 * then dfdg_ingest_prepare_record (catalog validation against the built-in catalog, canonical
 * data, content hash) or dfdg_ingest_prepare_cancellation, and the problem the server would
 * render from the field errors.
 *
 * Input: one selector byte, then the body. Selector bits 0-2 pick the caller's org kind, bits
 * 3-4 the route (0 original, 1 correction, 2 cancellation, 3 the data object alone against the
 * type picked by bits 5-7 and the next byte).
 *
 * Properties checked beyond "no crash": every field error is clean UTF-8 text that renders to
 * JSON and never holds a CPR number; an accepted record, sent again in its canonical form,
 * is accepted again with the same content hash (what replays are compared on).
 */
#include "core/dfdg.h"
#include "api/api_int.h"
#include "catalog/catalog.h"
#include "core/when.h"
#include "exchange/ingest.h"

#include "fuzz_common.h"

#define MAX_JSON_DEPTH 32 /* the server's default (dfdg_server_config_defaults) */
#define TARGET_ID "0b9b7c9e-4f8e-4a67-9d2e-6b1a2c3d4e5f"

static struct dfdg_catalog *cat;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct dfdg_errinfo ei = {{0}, {0}};
    FUZZ_CHECK(dfdg_catalog_load_builtin(&cat, &ei) == DFDG_OK);
    return 0;
}

static void
actor_of_kind(enum dfdg_org_kind k, struct dfdg_actor *a /* OUT */)
{
    static const char *const orgs[DFDG_KIND__COUNT] = {
        [DFDG_KIND_KOMMUNE] = "kommune:101",
        [DFDG_KIND_AKASSE] = "akasse:3f",
        [DFDG_KIND_AKTOER] = "aktoer:12345674",
        [DFDG_KIND_STAR] = "star",
        [DFDG_KIND_DST] = "dst",
        [DFDG_KIND_UDK] = "udk",
        [DFDG_KIND_RESEARCH] = "research:1",
        [DFDG_KIND_CITIZEN] = "citizen",
    };
    memset(a, 0, sizeof *a);
    a->kind = k;
    dfdg_strlcpy(a->org, orgs[k], sizeof a->org);
    dfdg_strlcpy(a->sub, "fuzz", sizeof a->sub);
    if (k == DFDG_KIND_CITIZEN) {
        dfdg_strlcpy(a->cpr, "0101901234", sizeof a->cpr);
        a->person_id = 7;
    }
}

/* The field errors promise clean text without CPR numbers, and render as the server would. */
static void
check_verrors(const struct dfdg_verrors *ve)
{
    FUZZ_CHECK(ve->n <= DFDG_VERR_MAX);
    for (size_t i = 0; i < ve->n; i++) {
        FUZZ_CHECK(fuzz_is_clean_text(ve->e[i].field, sizeof ve->e[i].field));
        FUZZ_CHECK(fuzz_is_clean_text(ve->e[i].code, sizeof ve->e[i].code));
        FUZZ_CHECK(fuzz_is_clean_text(ve->e[i].message, sizeof ve->e[i].message));
        FUZZ_CHECK(!fuzz_has_cpr_like(ve->e[i].message));
    }
    json_t *p = dfdg_problem_new(400, "validation", "the record does not pass validation");
    FUZZ_CHECK(p != NULL);
    dfdg_problem_add_errors(p, ve);
    FUZZ_CHECK(json_array_size(json_object_get(p, "errors")) == ve->n);
    char *text = json_dumps(p, JSON_COMPACT);
    FUZZ_CHECK(text != NULL);
    free(text);
    json_decref(p);
}

/* Sends an accepted record again in its canonical form: same outcome, same content hash. */
static void
check_replay(const struct dfdg_actor *a, const struct dfdg_ingest_item *it, const char *target)
{
    json_error_t jerr;
    json_t *data = json_loads(it->data, 0, &jerr);
    FUZZ_CHECK(json_is_object(data));
    char from[DFDG_DATE_LEN], to[DFDG_DATE_LEN];
    dfdg_date_format(it->valid_from, from);
    json_t *body = json_pack("{s:s, s:s, s:s, s:o}", "type", it->type->code, "source_ref",
                             it->source_ref, "valid_from", from, "data", data);
    FUZZ_CHECK(body != NULL);
    if (it->valid_to != DFDG_DATE_NONE) {
        dfdg_date_format(it->valid_to, to);
        json_object_set_new(body, "valid_to", json_string(to));
    }
    if (it->cpr[0] != '\0')
        json_object_set_new(body, "cpr", json_string(it->cpr));
    else
        json_object_set_new(body, "cvr", json_string(it->cvr));

    struct dfdg_ingest_item again;
    struct dfdg_verrors ve = {0};
    struct dfdg_denial why = {0};
    dfdg_err rc = dfdg_ingest_prepare_record(cat, a, body, target, &again, &ve, &why);
    if (rc != DFDG_OK) {
        for (size_t i = 0; i < ve.n; i++)
            fprintf(stderr, "fuzz: replay error %s: %s\n", ve.e[i].field, ve.e[i].message);
    }
    FUZZ_CHECK(rc == DFDG_OK);
    FUZZ_CHECK(strcmp(again.data, it->data) == 0);
    FUZZ_CHECK(memcmp(again.content_hash, it->content_hash, sizeof it->content_hash) == 0);
    dfdg_ingest_item_cleanup(&again);
    json_decref(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    data++;
    size--;
    struct dfdg_actor a;
    actor_of_kind((enum dfdg_org_kind)(sel & 7), &a);
    unsigned mode = (sel >> 3) & 3;
    const struct dfdg_type *type = NULL;
    if (mode == 3) {
        if (size < 1)
            return 0;
        type = &cat->types[(((unsigned)sel >> 5) * 256u + data[0]) % cat->ntypes];
        data++;
        size--;
    }

    /* As dfdg_req_parse_json: the depth cap first, then jansson. */
    const char *text = (const char *)data;
    if (dfdg_json_too_deep(text, size, MAX_JSON_DEPTH))
        return 0;
    json_error_t jerr;
    json_t *body = json_loadb(text, size, JSON_REJECT_DUPLICATES, &jerr);
    if (body == NULL)
        return 0;

    struct dfdg_verrors ve = {0};
    struct dfdg_denial why = {0};
    struct dfdg_ingest_item it;
    dfdg_err rc;
    const char *target = mode == 1 ? TARGET_ID : NULL;
    switch (mode) {
    case 0:
    case 1:
        rc = dfdg_ingest_prepare_record(cat, &a, body, target, &it, &ve, &why);
        if (rc == DFDG_OK) {
            FUZZ_CHECK(it.type != NULL && it.data != NULL);
            FUZZ_CHECK(it.valid_to == DFDG_DATE_NONE || it.valid_to >= it.valid_from);
            FUZZ_CHECK(strlen(it.source_ref) > 0);
            check_replay(&a, &it, target);
        } else if (rc == DFDG_DENIED) {
            FUZZ_CHECK(why.rule != NULL && fuzz_is_safe_message(why.msg, sizeof why.msg));
        } else {
            FUZZ_CHECK(rc == DFDG_INVAL && ve.n > 0);
        }
        dfdg_ingest_item_cleanup(&it);
        break;
    case 2:
        rc = dfdg_ingest_prepare_cancellation(&a, body, TARGET_ID, &it, &ve);
        FUZZ_CHECK(rc == DFDG_OK || (rc == DFDG_INVAL && ve.n > 0));
        if (rc == DFDG_OK)
            FUZZ_CHECK(it.reason != NULL && strlen(it.source_ref) > 0);
        dfdg_ingest_item_cleanup(&it);
        break;
    default:
        rc = dfdg_catalog_validate_data(type, body, a.kind, &ve);
        FUZZ_CHECK(rc == DFDG_OK || (rc == DFDG_INVAL && ve.n > 0));
        break;
    }
    check_verrors(&ve);
    json_decref(body);
    return 0;
}
