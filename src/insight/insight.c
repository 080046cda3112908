/* SPDX-License-Identifier: Apache-2.0 */
/*
 * insight.c: the citizen's access log and the GDPR art. 15 document (see insight.h), built
 * from the store's audit entries, records, deliveries and master data and the catalog, and the
 * document's printable HTML rendering.
 *
 * Invariants:
 *   1. Only the person's own data leaves: an audit entry that covers several persons (a feed
 *      page, a batch) shows only the records whose "person" is this person, and only the legal
 *      bases that concern them; records are taken only when their person_id is this person.
 *   2. The access log shows entries made by anyone but a citizen (org "citizen"): the person's
 *      own self-service is not an access by someone else. Denied attempts are shown.
 *   3. The HTML is built from the JSON document only, and every text taken from it passes
 *      through one escaping function (html_text); the rest is literal markup of this file.
 *   4. No store call is made from inside a store callback: callbacks copy what they need and
 *      the work that reads further happens after the scan.
 */
#include "core/dfdg.h"
#include "insight/insight.h"
#include "exchange/present.h"
#include "authz/access.h"
#include "core/when.h"

#include <errno.h>

/*
 * The controller and the data protection officer (GDPR art. 13-15). The texts are the
 * organisation-level contacts of STAR's public privacy notice for DFDG and Jobnet
 * (domain/privacy-notice-star-dfdg.da.txt, "Kontakt vedrørende DFDG og Jobnet.dk"); an operator
 * who runs dfdg for another controller replaces them here. No person's name belongs here.
 */
static const struct {
    const char *name, *address, *phone, *email, *note_da, *note_en;
} controller = {"Styrelsen for Arbejdsmarked og Rekruttering (STAR)",
                "Vermundsgade 38, 2100 København Ø",
                "72 21 74 00",
                "star@star.dk",
                "STAR er dataansvarlig for DFDG og Jobnet. Kommunen og a-kassen er "
                "dataansvarlige for de oplysninger, de indberetter.",
                "STAR is the controller for DFDG and Jobnet. The municipality and the a-kasse are "
                "controllers of the data they report."},
  dpo = {"Beskæftigelsesministeriets databeskyttelsesrådgiver (DPO)",
         "Beskæftigelsesministeriet, Holmens Kanal 20, 1060 København K, "
         "att.: Databeskyttelsesrådgiver",
         "72 20 50 00",
         "dpo@bm.dk",
         "Fælles databeskyttelsesrådgiver for Beskæftigelsesministeriet.",
         "The Ministry of Employment's joint data protection officer."};

/* The purposes of processing (authz/access.h), as the citizen reads them. */
static const struct {
    enum dfdg_purpose p;
    const char *da, *en;
} purpose_labels[] = {
    {DFDG_PURPOSE_CASE_HANDLING, "Sagsbehandling i jobcenter, kommune eller a-kasse",
     "Case handling by a job centre, municipality or a-kasse"},
    {DFDG_PURPOSE_PAYMENT, "Udbetaling af ydelser", "Payment of benefits"},
    {DFDG_PURPOSE_SUPERVISION, "Tilsyn og kontrol (STAR)", "Supervision and control (STAR)"},
    {DFDG_PURPOSE_SUPPORT, "Support af borgere og sagsbehandlere (STAR)",
     "Support of citizens and caseworkers (STAR)"},
    {DFDG_PURPOSE_STATISTICS, "Statistik", "Statistics"},
    {DFDG_PURPOSE_RESEARCH, "Forskning (pseudonymiseret)", "Research (pseudonymised)"},
    {DFDG_PURPOSE_SELF_SERVICE, "Selvbetjening på Jobnet", "Self-service on Jobnet"},
};

/* What an audit action means to the person (DESIGN section 2: actions of the audit log). */
enum channel { CH_NONE, CH_READ, CH_FEED, CH_EXTRACT };
struct action_label {
    const char *action; /* audit "action"; a trailing '*' matches a prefix */
    const char *da;     /* Danish label */
    const char *en;     /* English label */
    bool bulk;          /* covers many persons at once (feed page, batch, extract) */
    bool master;        /* concerns master data when no record is named */
    enum channel ch;    /* how data left, for the disclosures; CH_NONE: nothing left */
};
static const struct action_label action_labels[] = {
    {"person.read", "Læste dine stamdata", "Read your master data", false, true, CH_READ},
    {"records.list", "Læste dine oplysninger", "Read your records", false, false, CH_READ},
    {"record.read", "Læste en oplysning om dig", "Read a record about you", false, false, CH_READ},
    {"record.create", "Indberettede en oplysning om dig", "Reported a record about you", false,
     false, CH_NONE},
    {"record.correct", "Rettede en oplysning om dig", "Corrected a record about you", false, false,
     CH_NONE},
    {"record.cancel", "Annullerede en oplysning om dig", "Cancelled a record about you", false,
     false, CH_NONE},
    {"record.batch", "Indberettede oplysninger om dig (samlet indberetning)",
     "Reported records about you (bulk report)", true, false, CH_NONE},
    {"feed.read", "Modtog dine oplysninger (dataleverance)",
     "Received your records (data delivery)", true, false, CH_FEED},
    {"insight.export", "Udtrak alle dine oplysninger til en indsigtsanmodning (GDPR art. 15)",
     "Exported all your data to answer an access request (GDPR art. 15)", false, true, CH_NONE},
    {"extract.*", "Modtog et udtræk med dine oplysninger", "Received an extract with your data",
     true, false, CH_EXTRACT},
    {"GET /v1/person", "Forsøgte at læse dine stamdata", "Tried to read your master data", false,
     true, CH_NONE},
    {"GET /v1/person/records", "Forsøgte at læse dine oplysninger", "Tried to read your records",
     false, false, CH_NONE},
    {"GET /v1/records/{id}", "Forsøgte at læse en oplysning om dig",
     "Tried to read a record about you", false, false, CH_NONE},
};
static const struct action_label label_attempt = {
    "", "Forsøgte at tilgå dine oplysninger", "Tried to access your data", false, false, CH_NONE};
static const struct action_label label_other = {
    "", "Behandlede dine oplysninger", "Processed your data", false, false, CH_NONE};

static const struct action_label *
find_label(const char *action)
{
    for (size_t i = 0; i < DFDG_ARRAY_LEN(action_labels); i++) {
        const char *a = action_labels[i].action;
        size_t n = strlen(a);
        bool prefix = n > 0 && a[n - 1] == '*';
        if (prefix ? strncmp(action, a, n - 1) == 0 : strcmp(action, a) == 0)
            return &action_labels[i];
    }
    /* A denied attempt is logged as "METHOD /path". */
    return strchr(action, ' ') != NULL ? &label_attempt : &label_other;
}

#define MASTER_TYPE "master-data"

static json_t *
master_kind(void)
{
    return json_pack("{s:s, s:{s:s, s:s}}", "type", MASTER_TYPE, "name", "da",
                     "Stamdata fra CPR (navn, adresser, CPR-numre, børns fødselsdatoer)", "en",
                     "Master data from CPR (name, addresses, CPR numbers, children's birth dates)");
}

/* {"type", "name": {"da", "en"}} of a catalog type (the code as name when unknown). */
static json_t *
type_kind(const struct dfdg_catalog *cat, const char *code)
{
    if (strcmp(code, MASTER_TYPE) == 0)
        return master_kind();
    const struct dfdg_type *t = dfdg_catalog_find(cat, code);
    json_t *name = t != NULL ? json_deep_copy(json_object_get(t->json, "name")) : NULL;
    if (name == NULL)
        name = json_pack("{s:s, s:s}", "da", code, "en", code);
    return json_pack("{s:s, s:o}", "type", code, "name", name);
}

/* --- orgs --------------------------------------------------------------------------------- */

static int
org_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct dfdg_org *)elem)->id);
}

/* {"id", "name", "kind"} of an org; an unknown one is named by its id. */
static json_t *
org_json(const struct dfdg_insight_src *src, const char *id)
{
    struct dfdg_org o;
    const struct dfdg_org *found = NULL;
    if (src->orgs != NULL) {
        found = bsearch(id, src->orgs, src->norgs, sizeof *src->orgs, org_cmp);
    } else if (dfdg_store_org_get(src->s, id, &o) == DFDG_OK) {
        found = &o;
    }
    if (found != NULL)
        return json_pack("{s:s, s:s, s:s}", "id", found->id, "name", found->name, "kind",
                         found->kind);
    char kind[16];
    size_t n = strcspn(id, ":");
    snprintf(kind, sizeof kind, "%.*s", (int)(n < sizeof kind ? n : sizeof kind - 1), id);
    if (strcmp(id, "citizen") == 0)
        return json_pack("{s:s, s:s, s:s}", "id", id, "name", "Borger (selvbetjening)", "kind",
                         kind);
    return json_pack("{s:s, s:s, s:s}", "id", id, "name", id, "kind", kind);
}

/* --- "; "-joined legal bases --------------------------------------------------------------- */

/* Whether the "; "-joined list has part (n bytes) as one of its parts. */
static bool
list_has(const char *list, const char *part, size_t n)
{
    for (const char *p = list; p != NULL && *p != '\0';) {
        const char *end = strstr(p, "; ");
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, part, n) == 0)
            return true;
        p = end != NULL ? end + 2 : NULL;
    }
    return false;
}

/* Appends each part of parts to the "; "-joined buf (size cap) that it lacks. */
static void
list_add(char *buf, size_t size, const char *parts)
{
    for (const char *p = parts; p != NULL && *p != '\0';) {
        const char *end = strstr(p, "; ");
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        size_t used = strlen(buf);
        if (n > 0 && !list_has(buf, p, n) && used + n + 3 <= size)
            snprintf(buf + used, size - used, "%s%.*s", used > 0 ? "; " : "", (int)n, p);
        p = end != NULL ? end + 2 : NULL;
    }
}

/*
 * The legal bases of an entry that concern the person: of the recorded ones, those that belong
 * to the purpose or to one of the person's types; everything recorded when the entry concerns
 * the person alone. (A feed page's entry also names the bases of other persons' types.)
 */
static void
entry_legal_basis(const struct dfdg_catalog *cat, json_t *ev, json_t *kinds, bool only_me,
                  char *out, size_t size)
{
    const char *recorded = json_string_value(json_object_get(ev, "legal_basis"));
    out[0] = '\0';
    if (recorded == NULL)
        recorded = "";
    if (only_me) {
        dfdg_strlcpy(out, recorded, size);
        return;
    }
    char allowed[2048] = "";
    enum dfdg_purpose p;
    const char *pname = json_string_value(json_object_get(ev, "purpose"));
    if (pname != NULL && dfdg_purpose_parse(pname, &p) == DFDG_OK)
        list_add(allowed, sizeof allowed, dfdg_purpose_legal_basis(p));
    size_t i;
    json_t *k;
    json_array_foreach(kinds, i, k)
    {
        const struct dfdg_type *t =
            dfdg_catalog_find(cat, json_string_value(json_object_get(k, "type")));
        char basis[512];
        if (t == NULL)
            continue;
        dfdg_type_legal_basis(t, basis, sizeof basis);
        list_add(allowed, sizeof allowed, basis);
    }
    for (const char *q = recorded; *q != '\0';) {
        const char *end = strstr(q, "; ");
        size_t n = end != NULL ? (size_t)(end - q) : strlen(q);
        if (list_has(allowed, q, n)) {
            size_t used = strlen(out);
            if (used + n + 3 <= size)
                snprintf(out + used, size - used, "%s%.*s", used > 0 ? "; " : "", (int)n, q);
        }
        q = end != NULL ? end + 2 : q + n;
    }
    if (out[0] == '\0')
        dfdg_strlcpy(out, allowed, size);
}

/* --- access-log entries -------------------------------------------------------------------- */

/* What one audit entry says about the person. */
struct entry_view {
    const struct action_label *label; /* what the action means */
    json_t *kinds;                    /* the person's kinds of data (owned) */
    const char *outcome;              /* for the person: allowed, denied, partly denied */
    const char *rule;                 /* the rule that denied it, or NULL */
};

static bool
kinds_has(json_t *kinds, const char *type)
{
    size_t i;
    json_t *k;
    json_array_foreach(kinds, i, k)
    {
        if (strcmp(json_string_value(json_object_get(k, "type")), type) == 0)
            return true;
    }
    return false;
}

/* Fills v from ev; returns false when out of memory. only_me says no other person is named. */
static bool
entry_view(const struct dfdg_catalog *cat, int64_t person_id, json_t *ev, struct entry_view *v,
           bool *only_me)
{
    const char *action = json_string_value(json_object_get(ev, "action"));
    v->label = find_label(action != NULL ? action : "");
    v->kinds = json_array();
    v->rule = NULL;
    if (v->kinds == NULL)
        return false;
    size_t mine = 0, denied = 0, i;
    json_t *rec;
    *only_me = true;
    json_array_foreach(json_object_get(ev, "records"), i, rec)
    {
        json_t *pj = json_object_get(rec, "person");
        if (pj == NULL || json_integer_value(pj) != person_id) {
            *only_me = false;
            continue;
        }
        mine++;
        if (json_integer_value(json_object_get(rec, "status")) == 403) {
            denied++;
            if (v->rule == NULL)
                v->rule = json_string_value(json_object_get(rec, "rule"));
        }
        const char *type = json_string_value(json_object_get(rec, "type"));
        if (type != NULL && *type != '\0' && !kinds_has(v->kinds, type)) {
            json_t *k = type_kind(cat, type);
            if (k == NULL || json_array_append_new(v->kinds, k) != 0)
                return false;
        }
    }
    if (json_array_size(v->kinds) == 0 && v->label->master) {
        json_t *k = master_kind();
        if (k == NULL || json_array_append_new(v->kinds, k) != 0)
            return false;
    }
    const char *outcome = json_string_value(json_object_get(ev, "outcome"));
    if (mine > 0)
        v->outcome = denied == 0 ? "allowed" : denied == mine ? "denied" : "partly denied";
    else
        v->outcome = outcome != NULL ? outcome : "allowed";
    if (strcmp(v->outcome, "allowed") != 0 && v->rule == NULL) {
        const char *rule = json_string_value(json_object_get(ev, "rule"));
        v->rule = rule != NULL && *rule != '\0' ? rule : NULL;
    }
    return true;
}

/* One access-log item from an audit entry (ev borrowed); NULL when out of memory. */
static json_t *
entry_item(const struct dfdg_insight_src *src, int64_t person_id, int64_t idx, json_t *ev)
{
    struct entry_view v;
    bool only_me;
    if (!entry_view(src->cat, person_id, ev, &v, &only_me)) {
        json_decref(v.kinds);
        return NULL;
    }
    char basis[2048], cursor[24];
    entry_legal_basis(src->cat, ev, v.kinds, only_me, basis, sizeof basis);
    snprintf(cursor, sizeof cursor, "%lld", (long long)idx);
    const char *at = json_string_value(json_object_get(ev, "at"));
    const char *action = json_string_value(json_object_get(ev, "action"));
    const char *purpose = json_string_value(json_object_get(ev, "purpose"));
    const char *org = json_string_value(json_object_get(ev, "org"));
    json_t *o = json_pack(
        "{s:s, s:I, s:s, s:o, s:s, s:{s:s, s:s}, s:b, s:o, s:s, s:s, s:s}", "cursor", cursor,
        "audit_index", (json_int_t)idx, "at", at != NULL ? at : "", "org",
        org_json(src, org != NULL ? org : ""), "action", action != NULL ? action : "", "label",
        "da", v.label->da, "en", v.label->en, "bulk", v.label->bulk, "kinds_of_data", v.kinds,
        "purpose", purpose != NULL ? purpose : "", "legal_basis", basis, "outcome", v.outcome);
    if (o != NULL && v.rule != NULL)
        json_object_set_new(o, "rule", json_string(v.rule));
    return o;
}

/* Whether an entry was made by someone other than a citizen (invariant 2). */
static bool
is_by_other(json_t *ev)
{
    const char *org = json_string_value(json_object_get(ev, "org"));
    return org != NULL && strcmp(org, "citizen") != 0;
}

dfdg_err
dfdg_insight_cursor_parse(const char *text, int64_t *before)
{
    if (text == NULL || *text < '0' || *text > '9')
        return DFDG_INVAL;
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || n < 1)
        return DFDG_INVAL;
    *before = (int64_t)n;
    return DFDG_OK;
}

/* The collected entries of a scan: parsed, in the order seen (newest first). */
struct scan {
    json_t *evs;     /* array of entries */
    size_t want;     /* stop after this many kept (0: no limit) */
    bool others;     /* keep entries by others only */
    bool nomem;      /* an allocation failed */
    bool truncated;  /* stopped at want */
    size_t kept;     /* entries kept */
    json_t *all_evs; /* every entry (the own ones too), or NULL; capped like evs */
};

static bool
scan_cb(int64_t idx, int64_t at, const char *entry, size_t len, void *ctx)
{
    (void)at;
    struct scan *sc = ctx;
    json_t *ev = json_loadb(entry, len, 0, NULL);
    if (ev == NULL || !json_is_object(ev)) {
        json_decref(ev);
        return true; /* an unreadable entry is the verifier's business; show the rest */
    }
    json_object_set_new(ev, "i", json_integer((json_int_t)idx));
    if (sc->all_evs != NULL && json_array_append(sc->all_evs, ev) != 0)
        sc->nomem = true;
    if (sc->others && !is_by_other(ev)) {
        json_decref(ev);
        return !sc->nomem;
    }
    if (sc->want != 0 && sc->kept == sc->want) {
        sc->truncated = true;
        json_decref(ev);
        return false;
    }
    if (json_array_append_new(sc->evs, ev) != 0)
        sc->nomem = true;
    sc->kept++;
    return !sc->nomem;
}

/* The entries at evs[from..] as access-log items, appended to items. */
static dfdg_err
items_of(const struct dfdg_insight_src *src, int64_t person_id, json_t *evs, size_t n,
         json_t *items)
{
    for (size_t i = 0; i < n; i++) {
        json_t *ev = json_array_get(evs, i);
        json_t *it = entry_item(src, person_id, json_integer_value(json_object_get(ev, "i")), ev);
        if (it == NULL || json_array_append_new(items, it) != 0)
            return DFDG_NOMEM;
    }
    return DFDG_OK;
}

dfdg_err
dfdg_insight_access_log(const struct dfdg_insight_src *src, int64_t person_id, int64_t before,
                        size_t limit, json_t **out)
{
    *out = NULL;
    if (limit < 1 || limit > DFDG_ACCESS_LOG_MAX || before < 1)
        return DFDG_INVAL;
    /* One more than the page tells whether there is a next page. */
    struct scan sc = {.evs = json_array(), .want = limit + 1, .others = true};
    if (sc.evs == NULL)
        return DFDG_NOMEM;
    dfdg_err rc = dfdg_store_audit_of_person(src->s, person_id, before, 0, scan_cb, &sc);
    if (rc == DFDG_OK && sc.nomem)
        rc = DFDG_NOMEM;
    json_t *items = json_array();
    size_t n = json_array_size(sc.evs) > limit ? limit : json_array_size(sc.evs);
    if (rc == DFDG_OK)
        rc = items != NULL ? items_of(src, person_id, sc.evs, n, items) : DFDG_NOMEM;
    json_t *next = json_null();
    if (rc == DFDG_OK && json_array_size(sc.evs) > limit) {
        char cursor[24];
        snprintf(
            cursor, sizeof cursor, "%lld",
            (long long)json_integer_value(json_object_get(json_array_get(sc.evs, n - 1), "i")));
        next = json_string(cursor);
    }
    json_decref(sc.evs);
    if (rc == DFDG_OK) {
        *out = json_pack("{s:o, s:o}", "entries", items, "next", next);
        return *out != NULL ? DFDG_OK : DFDG_NOMEM;
    }
    json_decref(items);
    json_decref(next);
    return rc;
}

/* --- records with their history ------------------------------------------------------------ */

struct item {
    struct dfdg_record rec;        /* the record (owns data and reason) */
    char succ_id[DFDG_UUID_LEN];   /* the record that superseded or withdrew it, or "" */
    enum dfdg_record_kind succ_kd; /* its kind */
    int32_t chain_end;             /* the day its chain ended (DFDG_DATE_NONE: not yet) */
};

/* The person's records found so far, with an index by id (open addressing). */
struct recset {
    struct item *v; /* n items */
    size_t n, cap;
    size_t *slots; /* index + 1 of the item whose id hashes there; 0 when free */
    size_t nslots; /* a power of two, at least 2n */
    bool full;     /* stopped at DFDG_INSIGHT_MAX_RECORDS */
};

static size_t
id_hash(const char *id)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *id != '\0'; id++)
        h = (h ^ (uint8_t)*id) * 1099511628211ull;
    return (size_t)h;
}

/* The index of the item with this id, or SIZE_MAX. */
static size_t
recset_find(const struct recset *rs, const char *id)
{
    if (rs->nslots == 0)
        return SIZE_MAX;
    for (size_t i = id_hash(id) & (rs->nslots - 1);; i = (i + 1) & (rs->nslots - 1)) {
        if (rs->slots[i] == 0)
            return SIZE_MAX;
        if (strcmp(rs->v[rs->slots[i] - 1].rec.id, id) == 0)
            return rs->slots[i] - 1;
    }
}

static bool
recset_has(const struct recset *rs, const char *id)
{
    return recset_find(rs, id) != SIZE_MAX;
}

static void
recset_slot_put(size_t *slots, size_t nslots, const char *id, size_t index)
{
    size_t i = id_hash(id) & (nslots - 1);
    while (slots[i] != 0)
        i = (i + 1) & (nslots - 1);
    slots[i] = index + 1;
}

/* Rebuilds the index (after the items were reordered). */
static void
recset_reindex(struct recset *rs)
{
    if (rs->nslots == 0)
        return;
    memset(rs->slots, 0, rs->nslots * sizeof *rs->slots);
    for (size_t i = 0; i < rs->n; i++)
        recset_slot_put(rs->slots, rs->nslots, rs->v[i].rec.id, i);
}

/* Adds rec (TAKES its data and reason, also on failure). */
static dfdg_err
recset_add(struct recset *rs, struct dfdg_record *rec)
{
    if (rs->n == DFDG_INSIGHT_MAX_RECORDS) {
        rs->full = true;
        dfdg_record_cleanup(rec);
        return DFDG_OK;
    }
    if ((rs->n + 1) * 2 > rs->nslots) {
        size_t ns = rs->nslots != 0 ? rs->nslots * 2 : 64;
        size_t *slots = calloc(ns, sizeof *slots);
        if (slots == NULL)
            goto nomem;
        free(rs->slots);
        rs->slots = slots;
        rs->nslots = ns;
        recset_reindex(rs);
    }
    if (rs->n == rs->cap) {
        size_t cap = rs->cap != 0 ? rs->cap * 2 : 32;
        struct item *v = realloc(rs->v, cap * sizeof *v);
        if (v == NULL)
            goto nomem;
        rs->v = v;
        rs->cap = cap;
    }
    memset(&rs->v[rs->n], 0, sizeof rs->v[rs->n]);
    rs->v[rs->n].rec = *rec;
    rs->v[rs->n].chain_end = DFDG_DATE_NONE;
    recset_slot_put(rs->slots, rs->nslots, rec->id, rs->n);
    rs->n++;
    return DFDG_OK;
nomem:
    dfdg_record_cleanup(rec);
    return DFDG_NOMEM;
}

/*
 * Retention runs per chain (store.h): a chain ends on its current version's valid_to, or on
 * the day its cancellation was recorded; an open current version never ends. Sets chain_end
 * of every item from its chain's last version found.
 */
static void
recset_chain_ends(struct recset *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        size_t k = i;
        for (size_t steps = 0; rs->v[k].succ_id[0] != '\0' && steps < rs->n; steps++) {
            size_t next = recset_find(rs, rs->v[k].succ_id);
            if (next == SIZE_MAX)
                break;
            k = next;
        }
        const struct dfdg_record *last = &rs->v[k].rec;
        if (last->kind == DFDG_RECORD_CANCELLATION)
            rs->v[i].chain_end = (int32_t)(last->recorded_at / (86400 * INT64_C(1000000)));
        else if (rs->v[k].succ_id[0] == '\0')
            rs->v[i].chain_end = last->valid_to;
    }
}

static void
recset_cleanup(struct recset *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        dfdg_record_cleanup(&rs->v[i].rec);
    free(rs->v);
    free(rs->slots);
}

/* Copies a borrowed record (its strings too). */
static dfdg_err
record_copy(const struct dfdg_record *from, struct dfdg_record *to)
{
    *to = *from;
    to->data = from->data != NULL ? strdup(from->data) : NULL;
    to->reason = from->reason != NULL ? strdup(from->reason) : NULL;
    if ((from->data != NULL && to->data == NULL) || (from->reason != NULL && to->reason == NULL)) {
        dfdg_record_cleanup(to);
        return DFDG_NOMEM;
    }
    return DFDG_OK;
}

struct current_ctx {
    struct recset *rs;
    dfdg_err rc;
};

static bool
current_cb(const struct dfdg_record *r, void *arg)
{
    struct current_ctx *c = arg;
    struct dfdg_record copy;
    c->rc = record_copy(r, &copy);
    if (c->rc == DFDG_OK && !recset_has(c->rs, copy.id))
        c->rc = recset_add(c->rs, &copy);
    else if (c->rc == DFDG_OK)
        dfdg_record_cleanup(&copy);
    return c->rc == DFDG_OK && !c->rs->full;
}

/* Loads record id into rs if it is the person's and not there yet. */
static dfdg_err
recset_fetch(struct recset *rs, struct dfdg_store *s, int64_t person_id, const char *id)
{
    if (id[0] == '\0' || recset_has(rs, id) || rs->full)
        return DFDG_OK;
    struct dfdg_record rec = {0};
    dfdg_err rc = dfdg_store_record_get(s, id, &rec);
    if (rc == DFDG_NOT_FOUND)
        return DFDG_OK; /* deleted by retention, or an id of a write that made nothing */
    if (rc != DFDG_OK)
        return rc;
    if (rec.person_id != person_id) { /* invariant 1 */
        dfdg_record_cleanup(&rec);
        return DFDG_OK;
    }
    return recset_add(rs, &rec);
}

/*
 * Every version of the person's records: the current ones, the records named by the writes in
 * the person's audit entries (which finds withdrawn chains, which no longer show as current),
 * and, from each of these, the records they correct or cancel and those that superseded or
 * withdrew them, until nothing new turns up.
 */
static dfdg_err
collect_records(struct dfdg_store *s, int64_t person_id, json_t *all_evs, struct recset *rs)
{
    struct dfdg_record_query q = {
        .person_id = person_id, .valid_on = DFDG_DATE_NONE, .as_of = INT64_MAX};
    struct current_ctx c = {rs, DFDG_OK};
    dfdg_err rc = dfdg_store_records_query(s, &q, current_cb, &c);
    if (rc == DFDG_OK)
        rc = c.rc;
    size_t i;
    json_t *ev;
    json_array_foreach(all_evs, i, ev)
    {
        const char *action = json_string_value(json_object_get(ev, "action"));
        if (rc != DFDG_OK || action == NULL || strncmp(action, "record.", 7) != 0 ||
            strcmp(action, "record.read") == 0)
            continue;
        size_t j;
        json_t *rec;
        json_array_foreach(json_object_get(ev, "records"), j, rec)
        {
            json_int_t st = json_integer_value(json_object_get(rec, "status"));
            const char *id = json_string_value(json_object_get(rec, "id"));
            if (json_integer_value(json_object_get(rec, "person")) == person_id &&
                (st == 200 || st == 201) && id != NULL && rc == DFDG_OK)
                rc = recset_fetch(rs, s, person_id, id);
        }
    }
    for (size_t k = 0; k < rs->n && rc == DFDG_OK; k++) {
        char target[DFDG_UUID_LEN];
        dfdg_strlcpy(target, rs->v[k].rec.target_id, sizeof target);
        rc = recset_fetch(rs, s, person_id, target);
        if (rc != DFDG_OK)
            break;
        struct dfdg_record succ = {0};
        rc = dfdg_store_record_successor(s, rs->v[k].rec.id, INT64_MAX, &succ);
        if (rc == DFDG_NOT_FOUND) {
            rc = DFDG_OK;
            continue;
        }
        if (rc != DFDG_OK)
            break;
        dfdg_strlcpy(rs->v[k].succ_id, succ.id, sizeof rs->v[k].succ_id);
        rs->v[k].succ_kd = succ.kind;
        if (!recset_has(rs, succ.id) && succ.person_id == person_id)
            rc = recset_add(rs, &succ); /* takes succ's strings */
        else
            dfdg_record_cleanup(&succ);
    }
    return rc;
}

static int
item_cmp(const void *a, const void *b)
{
    const struct dfdg_record *x = &((const struct item *)a)->rec;
    const struct dfdg_record *y = &((const struct item *)b)->rec;
    int c = strcmp(x->type, y->type);
    if (c != 0)
        return c;
    if (x->valid_from != y->valid_from)
        return x->valid_from > y->valid_from ? -1 : 1;
    if (x->recorded_at != y->recorded_at)
        return x->recorded_at > y->recorded_at ? -1 : 1;
    return strcmp(x->id, y->id);
}

/* The last day a record is kept: its chain's end plus the type's retention (null: open). */
static json_t *
retained_until(const struct item *it, const struct dfdg_type *t)
{
    if (it->chain_end == DFDG_DATE_NONE || t == NULL)
        return json_null();
    int y, m, d;
    dfdg_date_to_ymd(it->chain_end, &y, &m, &d);
    y += t->retention_years;
    if (y > 9999)
        return json_null();
    if (!dfdg_date_is_valid_ymd(y, m, d))
        d = 28; /* 29 February into a common year */
    return dfdg_present_date(dfdg_date_from_ymd(y, m, d));
}

/* A record as the API shows it (without the CPR), with its place in history. */
static json_t *
record_json(const struct item *it, const struct dfdg_type *t)
{
    const struct dfdg_record *rec = &it->rec;
    json_t *o = dfdg_present_record(rec, NULL);
    const char *status =
        it->succ_id[0] != '\0'
            ? (it->succ_kd == DFDG_RECORD_CANCELLATION ? "withdrawn" : "superseded")
        : rec->kind == DFDG_RECORD_CANCELLATION ? "cancellation"
                                                : "current";
    json_object_set_new(o, "status", json_string(status));
    if (it->succ_id[0] != '\0')
        json_object_set_new(o, "superseded_by", json_string(it->succ_id));
    json_object_set_new(o, "retained_until", retained_until(it, t));
    return o;
}

/* --- the art. 15 document ------------------------------------------------------------------ */

/* Master data as GET /v1/me shows it, with the address-protection periods. */
static json_t *
person_json(const struct dfdg_person *p, bool protected_now)
{
    json_t *o = dfdg_present_person(p, protected_now, false);
    json_t *prot = json_array();
    for (size_t i = 0; i < p->nprotection; i++)
        json_array_append_new(prot, json_pack("{s:o, s:o}", "from",
                                              dfdg_present_date(p->protection[i].from), "to",
                                              dfdg_present_date(p->protection[i].to)));
    json_object_set_new(o, "address_protection", prot);
    /* Source and basis of the master data: the privacy notice's "stamoplysninger fra CPR". */
    json_object_set_new(o, "source", json_string("CPR (Det Centrale Personregister)"));
    json_object_set_new(
        o, "legal_basis",
        json_pack("[s, s]", "databeskyttelsesloven § 11 (CPR-nummer)", "GDPR art. 6(1)(e)"));
    return o;
}

/* Adds s to the set (a JSON object used as an ordered set) obj[key]. */
static void
set_add(json_t *obj, const char *key, const char *s)
{
    if (key == NULL || s == NULL || *s == '\0')
        return;
    json_t *set = json_object_get(obj, key);
    if (set == NULL) {
        set = json_object();
        if (set == NULL || json_object_set_new(obj, key, set) != 0)
            return;
    }
    json_object_set_new(set, s, json_true());
}

/* The keys of obj[key] as a JSON array of strings. */
static json_t *
set_keys(json_t *obj, const char *key)
{
    json_t *arr = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(obj, key), k, v)
    {
        json_array_append_new(arr, json_string(k));
    }
    return arr;
}

static json_t *
purposes_json(void)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < DFDG_ARRAY_LEN(purpose_labels); i++)
        json_array_append_new(arr, json_pack("{s:s, s:{s:s, s:s}, s:s}", "code",
                                             dfdg_purpose_name(purpose_labels[i].p), "name", "da",
                                             purpose_labels[i].da, "en", purpose_labels[i].en,
                                             "legal_basis",
                                             dfdg_purpose_legal_basis(purpose_labels[i].p)));
    return arr;
}

/* The purposes the type may be processed for: those of its reporters, recipients and STAR. */
static json_t *
type_purposes(const struct dfdg_type *t)
{
    unsigned kinds = t->reporters | DFDG_KIND_BIT(DFDG_KIND_STAR);
    for (size_t i = 0; i < t->nrecipients; i++)
        kinds |= DFDG_KIND_BIT(t->recipients[i].kind);
    if (t->jobnet_visible)
        kinds |= DFDG_KIND_BIT(DFDG_KIND_CITIZEN);
    json_t *arr = json_array();
    for (int p = 1; p < DFDG_PURPOSE__COUNT; p++) {
        bool any = false;
        for (int k = 0; k < DFDG_KIND__COUNT && !any; k++)
            any = (kinds & DFDG_KIND_BIT(k)) != 0 &&
                  dfdg_purpose_is_allowed((enum dfdg_org_kind)k, (enum dfdg_purpose)p);
        if (any)
            json_array_append_new(arr, json_string(dfdg_purpose_name((enum dfdg_purpose)p)));
    }
    return arr;
}

static const char *
via_name(enum dfdg_via v)
{
    return v == DFDG_VIA_RESIDENCE    ? "residence"
           : v == DFDG_VIA_MEMBERSHIP ? "membership"
           : v == DFDG_VIA_REFERRAL   ? "referral"
                                      : "all";
}

struct deliv_ctx {
    json_t *routed; /* {type: {org: true}} */
    const char *type;
};

static bool
deliv_cb(const struct dfdg_delivery *d, const struct dfdg_record *r, const char *cpr, void *ctx)
{
    (void)r;
    (void)cpr;
    struct deliv_ctx *c = ctx;
    set_add(c->routed, c->type, d->org_id);
    return true;
}

/* What the audit entries tell per type and per recipient. */
struct usage {
    json_t *purposes_used; /* {type: {purpose: true}} */
    json_t *disclosures;   /* {org: {"channels": {..}, "types": {..}, "purposes": {..}, ...}} */
    json_t *order;         /* org ids in the order first seen (newest first) */
};

static const char *
channel_name(enum channel ch)
{
    return ch == CH_FEED ? "feed" : ch == CH_EXTRACT ? "extract" : "read";
}

static dfdg_err
note_usage(const struct dfdg_catalog *cat, int64_t person_id, json_t *ev, struct usage *u)
{
    struct entry_view v;
    bool only_me;
    if (!entry_view(cat, person_id, ev, &v, &only_me)) {
        json_decref(v.kinds);
        return DFDG_NOMEM;
    }
    const char *purpose = json_string_value(json_object_get(ev, "purpose"));
    const char *org = json_string_value(json_object_get(ev, "org"));
    const char *at = json_string_value(json_object_get(ev, "at"));
    bool allowed = strcmp(v.outcome, "denied") != 0;
    size_t i;
    json_t *k;
    if (allowed) {
        json_array_foreach(v.kinds, i, k)
        {
            set_add(u->purposes_used, json_string_value(json_object_get(k, "type")), purpose);
        }
    }
    if (allowed && v.label->ch != CH_NONE && org != NULL && strcmp(org, "citizen") != 0) {
        json_t *d = json_object_get(u->disclosures, org);
        if (d == NULL) {
            d = json_pack("{s:{}, s:{}, s:{}, s:I, s:s, s:s}", "channels", "types", "purposes",
                          "count", (json_int_t)0, "first_at", at != NULL ? at : "", "last_at",
                          at != NULL ? at : "");
            if (d == NULL || json_object_set_new(u->disclosures, org, d) != 0 ||
                json_array_append_new(u->order, json_string(org)) != 0) {
                json_decref(v.kinds);
                return DFDG_NOMEM;
            }
        }
        set_add(d, "channels", channel_name(v.label->ch));
        set_add(d, "purposes", purpose);
        json_array_foreach(v.kinds, i, k)
        {
            set_add(d, "types", json_string_value(json_object_get(k, "type")));
        }
        json_object_set_new(d, "count",
                            json_integer(json_integer_value(json_object_get(d, "count")) + 1));
        if (at != NULL) /* newest first: each older entry moves first_at back */
            json_object_set_new(d, "first_at", json_string(at));
    }
    json_decref(v.kinds);
    return DFDG_OK;
}

/* The disclosures as a list, newest recipient first. */
static json_t *
disclosures_json(const struct dfdg_insight_src *src, struct usage *u)
{
    json_t *arr = json_array();
    size_t i;
    json_t *idj;
    json_array_foreach(u->order, i, idj)
    {
        const char *id = json_string_value(idj);
        json_t *d = json_object_get(u->disclosures, id);
        json_t *types = json_array();
        const char *code;
        json_t *v;
        json_object_foreach(json_object_get(d, "types"), code, v)
        {
            json_array_append_new(types, type_kind(src->cat, code));
        }
        json_array_append_new(
            arr,
            json_pack("{s:o, s:o, s:o, s:o, s:O, s:O, s:O}", "org", org_json(src, id), "channels",
                      set_keys(d, "channels"), "kinds_of_data", types, "purposes",
                      set_keys(d, "purposes"), "count", json_object_get(d, "count"), "first_at",
                      json_object_get(d, "first_at"), "last_at", json_object_get(d, "last_at")));
    }
    return arr;
}

/* One group of the document: a type, what is said about it, and its records. */
static json_t *
group_json(const struct dfdg_insight_src *src, const struct dfdg_type *t, const struct item *v,
           size_t n, json_t *routed, json_t *purposes_used)
{
    json_t *recs = json_array();
    json_t *sources = json_object(); /* reporter -> true, in the order seen */
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(recs, record_json(&v[i], t));
        json_object_set_new(sources, v[i].rec.reporter, json_true());
    }
    json_t *src_arr = json_array();
    const char *k;
    json_t *x;
    json_object_foreach(sources, k, x)
    {
        json_array_append_new(src_arr, org_json(src, k));
    }
    json_decref(sources);
    json_t *by_rule = json_array();
    for (size_t i = 0; i < t->nrecipients; i++)
        json_array_append_new(by_rule, json_pack("{s:s, s:s}", "kind",
                                                 dfdg_org_kind_name(t->recipients[i].kind), "via",
                                                 via_name(t->recipients[i].via)));
    json_t *routed_to = json_array();
    json_object_foreach(json_object_get(routed, t->code), k, x)
    {
        json_array_append_new(routed_to, org_json(src, k));
    }
    json_t *basis = json_deep_copy(json_object_get(t->json, "legal_basis"));
    json_t *name = json_deep_copy(json_object_get(t->json, "name"));
    return json_pack(
        "{s:s, s:o, s:b, s:o, s:o, s:o, s:o, s:{s:o, s:o}, s:i, s:o}", "type", t->code, "name",
        name != NULL ? name : json_object(), "sensitive", t->sensitive, "purposes",
        type_purposes(t), "purposes_used", set_keys(purposes_used, t->code), "legal_basis",
        basis != NULL ? basis : json_array(), "sources", src_arr, "recipients", "by_rule", by_rule,
        "routed_to", routed_to, "retention_years", t->retention_years, "records", recs);
}

static json_t *
contact_json(const char *name, const char *address, const char *phone, const char *email,
             const char *da, const char *en)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s}}", "name", name, "address", address,
                     "phone", phone, "email", email, "note", "da", da, "en", en);
}

static json_t *
text2(const char *da, const char *en)
{
    return json_pack("{s:s, s:s}", "da", da, "en", en);
}

/* GDPR art. 15(1)(e)-(h). */
static json_t *
rights_json(void)
{
    return json_pack(
        "[o, o, o, o, o]",
        text2(
            "Du kan bede om at få rettet forkerte oplysninger (art. 16). Ret henvendelse til den, "
            "der har indberettet oplysningen (kilden), eller til STAR.",
            "You may ask to have wrong data corrected (art. 16). Contact whoever reported it "
            "(the source), or STAR."),
        text2("Du kan i visse tilfælde bede om sletning eller begrænsning af behandlingen "
              "(art. 17-18) og gøre indsigelse mod den (art. 21).",
              "In some cases you may ask for erasure or restriction of processing (art. 17-18) "
              "and object to it (art. 21)."),
        text2("Du kan klage til Datatilsynet, www.datatilsynet.dk (art. 77).",
              "You may complain to the Danish Data Protection Agency (Datatilsynet), "
              "www.datatilsynet.dk (art. 77)."),
        text2("Oplysningerne opbevares i det antal år efter deres gyldighedsperiode, som står ved "
              "hver type.",
              "The data are kept for the number of years after their validity that each type "
              "states."),
        text2("DFDG træffer ingen automatiske afgørelser om dig; den opbevarer og udveksler "
              "oplysninger.",
              "DFDG makes no automated decisions about you; it stores and exchanges data."));
}

static json_t *
notes_json(void)
{
    return json_pack(
        "[o, o, o]",
        text2("Videregivelserne er udledt af revisionsloggen: hver læsning, dataleverance og hvert "
              "udtræk af en organisation er én post i loggen.",
              "The disclosures are derived from the audit log: every read, data delivery and "
              "extract by an organisation is one entry of the log."),
        text2("Adgangsloggen viser andres adgang til dine oplysninger, også afviste forsøg; din "
              "egen brug af selvbetjening er ikke med.",
              "The access log shows others' access to your data, denied attempts included; your "
              "own use of self-service is left out."),
        text2("Oplysningerne omfatter tidligere versioner (erstattet), annulleringer og "
              "tilbagekaldte oplysninger.",
              "The records include earlier versions (superseded), cancellations and withdrawn "
              "records."));
}

dfdg_err
dfdg_insight_build(const struct dfdg_insight_src *src, int64_t person_id, int64_t now_us,
                   json_t **out)
{
    *out = NULL;
    struct dfdg_person p = {0};
    bool protected_now = false;
    dfdg_err rc = dfdg_store_person_get(src->s, person_id, &p);
    if (rc == DFDG_OK)
        rc = dfdg_store_is_protected_on(src->s, person_id, dfdg_date_today(), &protected_now);
    if (rc != DFDG_OK)
        goto cleanup_person;

    /* Every entry of the person (own ones too: they name the records the citizen wrote). */
    struct scan sc = {.evs = json_array(), .all_evs = json_array()};
    struct recset rs = {0};
    struct usage u = {json_object(), json_object(), json_array()};
    json_t *items = json_array(), *groups = json_array(), *routed = json_object();
    if (sc.evs == NULL || sc.all_evs == NULL || u.purposes_used == NULL || u.disclosures == NULL ||
        u.order == NULL || items == NULL || groups == NULL || routed == NULL) {
        rc = DFDG_NOMEM;
        goto cleanup;
    }
    sc.want = DFDG_INSIGHT_MAX_ENTRIES;
    sc.others = true;
    rc = dfdg_store_audit_of_person(src->s, person_id, INT64_MAX, 0, scan_cb, &sc);
    if (rc == DFDG_OK && sc.nomem)
        rc = DFDG_NOMEM;
    if (rc == DFDG_OK)
        rc = items_of(src, person_id, sc.evs, json_array_size(sc.evs), items);
    size_t i;
    json_t *ev;
    json_array_foreach(sc.all_evs, i, ev)
    {
        if (rc == DFDG_OK)
            rc = note_usage(src->cat, person_id, ev, &u);
    }
    if (rc == DFDG_OK)
        rc = collect_records(src->s, person_id, sc.all_evs, &rs);
    for (size_t k = 0; k < rs.n && rc == DFDG_OK; k++) {
        struct deliv_ctx dc = {routed, rs.v[k].rec.type};
        rc = dfdg_store_deliveries_of(src->s, rs.v[k].rec.id, deliv_cb, &dc);
    }
    if (rc != DFDG_OK)
        goto cleanup;

    recset_chain_ends(&rs);
    qsort(rs.v, rs.n, sizeof *rs.v, item_cmp);
    recset_reindex(&rs);
    for (size_t a = 0; a < rs.n;) {
        size_t b = a;
        while (b < rs.n && strcmp(rs.v[b].rec.type, rs.v[a].rec.type) == 0)
            b++;
        const struct dfdg_type *t = dfdg_catalog_find(src->cat, rs.v[a].rec.type);
        if (t != NULL) { /* a type gone from the catalog cannot be described; never happens */
            json_t *g = group_json(src, t, &rs.v[a], b - a, routed, u.purposes_used);
            if (g == NULL || json_array_append_new(groups, g) != 0) {
                rc = DFDG_NOMEM;
                goto cleanup;
            }
        }
        a = b;
    }
    char at[DFDG_TIME_LEN];
    dfdg_time_format(now_us, at);
    *out = json_pack(
        "{s:s, s:o, s:o, s:{s:s, s:s}, s:o, s:o, s:o, s:o, s:I, s:b, s:o, s:{s:o, s:b}, s:o}",
        "generated_at", at, "controller",
        contact_json(controller.name, controller.address, controller.phone, controller.email,
                     controller.note_da, controller.note_en),
        "dpo", contact_json(dpo.name, dpo.address, dpo.phone, dpo.email, dpo.note_da, dpo.note_en),
        "supervisory_authority", "name", "Datatilsynet", "web", "https://www.datatilsynet.dk",
        "rights", rights_json(), "purposes", purposes_json(), "person",
        person_json(&p, protected_now), "records", groups, "record_count", (json_int_t)rs.n,
        "records_truncated", rs.full, "disclosures", disclosures_json(src, &u), "access_log",
        "entries", items, "truncated", sc.truncated, "notes", notes_json());
    groups = items = NULL; /* json_pack took them */
    if (*out == NULL)
        rc = DFDG_NOMEM;
cleanup:
    json_decref(items);
    json_decref(groups);
    json_decref(routed);
    json_decref(u.purposes_used);
    json_decref(u.disclosures);
    json_decref(u.order);
    json_decref(sc.evs);
    json_decref(sc.all_evs);
    recset_cleanup(&rs);
cleanup_person:
    dfdg_person_cleanup(&p);
    return rc;
}

/* --- HTML ---------------------------------------------------------------------------------- */

/* A growable output buffer with a cap. */
struct hbuf {
    char *p;
    size_t len, cap;
    dfdg_err rc; /* the first failure; later appends do nothing */
};

static void
hb_put(struct hbuf *b, const char *s, size_t n)
{
    if (b->rc != DFDG_OK)
        return;
    if (b->len + n + 1 > b->cap) {
        if (b->len + n + 1 > DFDG_INSIGHT_HTML_MAX) {
            b->rc = DFDG_TOO_LARGE;
            return;
        }
        size_t cap = b->cap != 0 ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (np == NULL) {
            b->rc = DFDG_NOMEM;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Literal markup of this file. */
static void
hb_raw(struct hbuf *b, const char *s)
{
    hb_put(b, s, strlen(s));
}

/* Text from the document, escaped (invariant 3). */
static void
html_text(struct hbuf *b, const char *s)
{
    if (s == NULL)
        return;
    const char *run = s;
    for (const char *p = s; *p != '\0'; p++) {
        const char *rep = NULL;
        unsigned char c = (unsigned char)*p;
        switch (c) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
                rep = " ";
        }
        if (rep != NULL) {
            hb_put(b, run, (size_t)(p - run));
            hb_raw(b, rep);
            run = p + 1;
        }
    }
    hb_raw(b, run);
}

char *
dfdg_insight_html_escape(const char *text)
{
    struct hbuf b = {0};
    hb_raw(&b, "");
    html_text(&b, text);
    if (b.rc != DFDG_OK) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

static const char *
jstr(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

/* A JSON value as text: strings as they are, other scalars in JSON, structures compact. */
static void
html_value(struct hbuf *b, const json_t *v)
{
    if (json_is_string(v)) {
        html_text(b, json_string_value(v));
        return;
    }
    if (v == NULL || json_is_null(v)) {
        hb_raw(b, "–");
        return;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s == NULL) {
        b->rc = DFDG_NOMEM;
        return;
    }
    html_text(b, s);
    free(s);
}

/* "da / en" of a {"da", "en"} object. */
static void
html_both(struct hbuf *b, const json_t *o)
{
    html_text(b, jstr(o, "da"));
    const char *en = jstr(o, "en");
    if (*en != '\0' && strcmp(en, jstr(o, "da")) != 0) {
        hb_raw(b, " <span class=\"en\">/ ");
        html_text(b, en);
        hb_raw(b, "</span>");
    }
}

/* The strings of an array, joined by ", " (objects by their "name"). */
static void
html_list(struct hbuf *b, const json_t *arr)
{
    size_t i;
    json_t *v;
    if (json_array_size(arr) == 0) {
        hb_raw(b, "–");
        return;
    }
    json_array_foreach(arr, i, v)
    {
        if (i > 0)
            hb_raw(b, ", ");
        if (json_is_object(v) && json_is_string(json_object_get(v, "name")))
            html_text(b, jstr(v, "name"));
        else if (json_is_object(v) && json_is_object(json_object_get(v, "name")))
            html_text(b, jstr(json_object_get(v, "name"), "da"));
        else if (json_is_object(v) && json_is_string(json_object_get(v, "kind"))) {
            html_text(b, jstr(v, "kind"));
            hb_raw(b, " (");
            html_text(b, jstr(v, "via"));
            hb_raw(b, ")");
        } else {
            html_value(b, v);
        }
    }
}

/* A purpose by its Danish name from the document's list of purposes (the code if absent). */
static void
html_purpose(struct hbuf *b, const char *code, const json_t *purposes)
{
    size_t i;
    json_t *p;
    json_array_foreach(purposes, i, p)
    {
        if (strcmp(jstr(p, "code"), code) == 0) {
            html_text(b, jstr(json_object_get(p, "name"), "da"));
            return;
        }
    }
    html_text(b, code);
}

static void
html_purposes(struct hbuf *b, const json_t *codes, const json_t *purposes)
{
    size_t i;
    json_t *c;
    if (json_array_size(codes) == 0)
        hb_raw(b, "–");
    json_array_foreach(codes, i, c)
    {
        if (i > 0)
            hb_raw(b, "; ");
        html_purpose(b, json_string_value(c) != NULL ? json_string_value(c) : "", purposes);
    }
}

static void
html_dt(struct hbuf *b, const char *da, const char *en)
{
    hb_raw(b, "<dt>");
    hb_raw(b, da);
    hb_raw(b, " <span class=\"en\">/ ");
    hb_raw(b, en);
    hb_raw(b, "</span></dt><dd>");
}

static void
html_contact(struct hbuf *b, const char *da, const char *en, const json_t *c)
{
    hb_raw(b, "<section><h2>");
    hb_raw(b, da);
    hb_raw(b, " <span class=\"en\">/ ");
    hb_raw(b, en);
    hb_raw(b, "</span></h2>\n<p><strong>");
    html_text(b, jstr(c, "name"));
    hb_raw(b, "</strong><br>");
    html_text(b, jstr(c, "address"));
    if (*jstr(c, "phone") != '\0') {
        hb_raw(b, "<br>Telefon / phone: ");
        html_text(b, jstr(c, "phone"));
    }
    if (*jstr(c, "email") != '\0') {
        hb_raw(b, "<br>E-mail: ");
        html_text(b, jstr(c, "email"));
    }
    if (*jstr(c, "web") != '\0') {
        hb_raw(b, "<br>");
        html_text(b, jstr(c, "web"));
    }
    hb_raw(b, "</p>\n");
    if (json_is_object(json_object_get(c, "note"))) {
        hb_raw(b, "<p class=\"note\">");
        html_both(b, json_object_get(c, "note"));
        hb_raw(b, "</p>\n");
    }
    hb_raw(b, "</section>\n");
}

static void
html_person(struct hbuf *b, const json_t *p)
{
    hb_raw(b, "<section><h2>Stamdata <span class=\"en\">/ Master data</span></h2>\n<dl>");
    const json_t *name = json_object_get(p, "name");
    html_dt(b, "Navn", "Name");
    html_text(b, jstr(name, "first"));
    if (*jstr(name, "middle") != '\0') {
        hb_raw(b, " ");
        html_text(b, jstr(name, "middle"));
    }
    hb_raw(b, " ");
    html_text(b, jstr(name, "last"));
    hb_raw(b, "</dd>");
    html_dt(b, "CPR-nummer", "CPR number");
    html_text(b, jstr(p, "cpr"));
    hb_raw(b, "</dd>");
    html_dt(b, "Tidligere CPR-numre", "Previous CPR numbers");
    html_list(b, json_object_get(p, "previous_cprs"));
    hb_raw(b, "</dd>");
    html_dt(b, "Fødselsdato", "Birth date");
    html_value(b, json_object_get(p, "birthdate"));
    hb_raw(b, "</dd>");
    html_dt(b, "Køn", "Sex");
    html_text(b, jstr(p, "sex"));
    hb_raw(b, "</dd>");
    html_dt(b, "Status", "Status");
    html_text(b, jstr(p, "status"));
    hb_raw(b, "</dd>");
    html_dt(b, "Adressebeskyttelse", "Address protection");
    hb_raw(b, json_is_true(json_object_get(p, "address_protected")) ? "ja / yes" : "nej / no");
    hb_raw(b, "</dd>");
    html_dt(b, "Børns fødselsdatoer", "Children's birth dates");
    html_list(b, json_object_get(p, "children_birthdates"));
    hb_raw(b, "</dd>");
    html_dt(b, "Kilde", "Source");
    html_text(b, jstr(p, "source"));
    hb_raw(b, "</dd>");
    html_dt(b, "Retsgrundlag", "Legal basis");
    html_list(b, json_object_get(p, "legal_basis"));
    hb_raw(b, "</dd></dl>\n<table><thead><tr><th>Adresse <span class=\"en\">/ Address</span></th>"
              "<th>Kommune</th><th>Fra <span class=\"en\">/ From</span></th>"
              "<th>Til <span class=\"en\">/ To</span></th></tr></thead><tbody>\n");
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(p, "addresses"), i, a)
    {
        hb_raw(b, "<tr><td>");
        html_text(b, jstr(a, "road"));
        hb_raw(b, " ");
        html_text(b, jstr(a, "house"));
        hb_raw(b, ", ");
        html_text(b, jstr(a, "postcode"));
        hb_raw(b, " ");
        html_text(b, jstr(a, "city"));
        hb_raw(b, "</td><td>");
        html_text(b, jstr(a, "kommunekode"));
        hb_raw(b, "</td><td>");
        html_value(b, json_object_get(a, "from"));
        hb_raw(b, "</td><td>");
        html_value(b, json_object_get(a, "to"));
        hb_raw(b, "</td></tr>\n");
    }
    hb_raw(b, "</tbody></table></section>\n");
}

static void
html_record_row(struct hbuf *b, const json_t *r)
{
    const char *status = jstr(r, "status");
    hb_raw(b, "<tr class=\"");
    hb_raw(b, strcmp(status, "current") == 0 ? "current" : "history");
    hb_raw(b, "\"><td>");
    html_text(b, jstr(r, "recorded_at"));
    hb_raw(b, "</td><td>");
    html_value(b, json_object_get(r, "valid_from"));
    hb_raw(b, " – ");
    html_value(b, json_object_get(r, "valid_to"));
    hb_raw(b, "</td><td>");
    html_text(b, jstr(r, "reporter"));
    hb_raw(b, "</td><td>");
    html_text(b, jstr(r, "kind"));
    hb_raw(b, "</td><td>");
    html_text(b, status);
    hb_raw(b, "</td><td>");
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(r, "data"), k, v)
    {
        hb_raw(b, "<div><span class=\"k\">");
        html_text(b, k);
        hb_raw(b, ":</span> ");
        html_value(b, v);
        hb_raw(b, "</div>");
    }
    if (*jstr(r, "reason") != '\0') {
        hb_raw(b, "<div><span class=\"k\">reason:</span> ");
        html_text(b, jstr(r, "reason"));
        hb_raw(b, "</div>");
    }
    hb_raw(b, "</td><td class=\"id\">");
    html_text(b, jstr(r, "id"));
    hb_raw(b, "</td></tr>\n");
}

static void
html_records(struct hbuf *b, const json_t *groups, const json_t *purposes)
{
    hb_raw(b, "<section><h2>Oplysninger om dig <span class=\"en\">/ Records about you</span>"
              "</h2>\n");
    if (json_array_size(groups) == 0)
        hb_raw(b, "<p>Ingen / None.</p>\n");
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g)
    {
        hb_raw(b, "<article><h3>");
        html_both(b, json_object_get(g, "name"));
        hb_raw(b, " <code>");
        html_text(b, jstr(g, "type"));
        hb_raw(b, "</code></h3>\n<dl>");
        html_dt(b, "Formål", "Purposes");
        html_purposes(b, json_object_get(g, "purposes"), purposes);
        hb_raw(b, "</dd>");
        html_dt(b, "Anvendt til", "Used for");
        html_purposes(b, json_object_get(g, "purposes_used"), purposes);
        hb_raw(b, "</dd>");
        html_dt(b, "Retsgrundlag", "Legal basis");
        html_list(b, json_object_get(g, "legal_basis"));
        hb_raw(b, "</dd>");
        html_dt(b, "Kilde", "Source");
        html_list(b, json_object_get(g, "sources"));
        hb_raw(b, "</dd>");
        const json_t *rc = json_object_get(g, "recipients");
        html_dt(b, "Modtagere efter reglerne", "Recipients by the rules");
        html_list(b, json_object_get(rc, "by_rule"));
        hb_raw(b, "</dd>");
        html_dt(b, "Sendt til", "Routed to");
        html_list(b, json_object_get(rc, "routed_to"));
        hb_raw(b, "</dd>");
        html_dt(b, "Opbevares", "Retention");
        html_value(b, json_object_get(g, "retention_years"));
        hb_raw(b, " år efter gyldighedsperiodens slut <span class=\"en\">/ years after the "
                  "end of validity</span>");
        if (json_is_true(json_object_get(g, "sensitive")))
            hb_raw(b, "</dd><dt>Følsomme oplysninger <span class=\"en\">/ Sensitive data</span>"
                      "</dt><dd>GDPR art. 9");
        hb_raw(b, "</dd></dl>\n<table><thead><tr><th>Registreret <span class=\"en\">/ "
                  "Recorded</span></th><th>Gyldig <span class=\"en\">/ Valid</span></th>"
                  "<th>Kilde <span class=\"en\">/ Source</span></th><th>Art <span class=\"en\">"
                  "/ Kind</span></th><th>Status</th><th>Indhold <span class=\"en\">/ Content"
                  "</span></th><th>Id</th></tr></thead><tbody>\n");
        size_t j;
        json_t *r;
        json_array_foreach(json_object_get(g, "records"), j, r)
        {
            html_record_row(b, r);
        }
        hb_raw(b, "</tbody></table></article>\n");
    }
    hb_raw(b, "</section>\n");
}

static void
html_disclosures(struct hbuf *b, const json_t *ds, const json_t *purposes)
{
    hb_raw(b, "<section><h2>Videregivelser <span class=\"en\">/ Disclosures</span></h2>\n");
    if (json_array_size(ds) == 0) {
        hb_raw(b, "<p>Ingen / None.</p></section>\n");
        return;
    }
    hb_raw(b, "<table><thead><tr><th>Modtager <span class=\"en\">/ Recipient</span></th>"
              "<th>Hvordan <span class=\"en\">/ How</span></th><th>Oplysninger <span "
              "class=\"en\">/ Data</span></th><th>Formål <span class=\"en\">/ Purpose</span></th>"
              "<th>Antal <span class=\"en\">/ Count</span></th><th>Første <span class=\"en\">/ "
              "First</span></th><th>Seneste <span class=\"en\">/ Last</span></th></tr></thead>"
              "<tbody>\n");
    size_t i;
    json_t *d;
    json_array_foreach(ds, i, d)
    {
        hb_raw(b, "<tr><td>");
        html_text(b, jstr(json_object_get(d, "org"), "name"));
        hb_raw(b, "</td><td>");
        html_list(b, json_object_get(d, "channels"));
        hb_raw(b, "</td><td>");
        html_list(b, json_object_get(d, "kinds_of_data"));
        hb_raw(b, "</td><td>");
        html_purposes(b, json_object_get(d, "purposes"), purposes);
        hb_raw(b, "</td><td>");
        html_value(b, json_object_get(d, "count"));
        hb_raw(b, "</td><td>");
        html_text(b, jstr(d, "first_at"));
        hb_raw(b, "</td><td>");
        html_text(b, jstr(d, "last_at"));
        hb_raw(b, "</td></tr>\n");
    }
    hb_raw(b, "</tbody></table></section>\n");
}

static void
html_access_log(struct hbuf *b, const json_t *log, const json_t *purposes)
{
    hb_raw(b, "<section><h2>Adgangslog <span class=\"en\">/ Access log</span></h2>\n");
    const json_t *entries = json_object_get(log, "entries");
    if (json_array_size(entries) == 0) {
        hb_raw(b, "<p>Ingen / None.</p></section>\n");
        return;
    }
    hb_raw(b, "<table><thead><tr><th>Tidspunkt <span class=\"en\">/ When</span></th>"
              "<th>Organisation</th><th>Handling <span class=\"en\">/ Action</span></th>"
              "<th>Oplysninger <span class=\"en\">/ Data</span></th><th>Formål <span "
              "class=\"en\">/ Purpose</span></th><th>Retsgrundlag <span class=\"en\">/ Legal "
              "basis</span></th><th>Udfald <span class=\"en\">/ Outcome</span></th></tr></thead>"
              "<tbody>\n");
    size_t i;
    json_t *e;
    json_array_foreach(entries, i, e)
    {
        hb_raw(b, "<tr><td>");
        html_text(b, jstr(e, "at"));
        hb_raw(b, "</td><td>");
        html_text(b, jstr(json_object_get(e, "org"), "name"));
        hb_raw(b, "</td><td>");
        html_both(b, json_object_get(e, "label"));
        hb_raw(b, "</td><td>");
        html_list(b, json_object_get(e, "kinds_of_data"));
        hb_raw(b, "</td><td>");
        html_purpose(b, jstr(e, "purpose"), purposes);
        hb_raw(b, "</td><td>");
        html_text(b, jstr(e, "legal_basis"));
        hb_raw(b, "</td><td>");
        html_text(b, jstr(e, "outcome"));
        if (*jstr(e, "rule") != '\0') {
            hb_raw(b, " (");
            html_text(b, jstr(e, "rule"));
            hb_raw(b, ")");
        }
        hb_raw(b, "</td></tr>\n");
    }
    hb_raw(b, "</tbody></table>");
    if (json_is_true(json_object_get(log, "truncated")))
        hb_raw(b, "<p class=\"note\">Kun de nyeste poster er med. <span class=\"en\">/ Only the "
                  "newest entries are included.</span></p>");
    hb_raw(b, "</section>\n");
}

/* Paragraphs of {"da", "en"} texts under a heading. */
static void
html_texts(struct hbuf *b, const char *da, const char *en, const json_t *arr)
{
    hb_raw(b, "<section><h2>");
    hb_raw(b, da);
    hb_raw(b, " <span class=\"en\">/ ");
    hb_raw(b, en);
    hb_raw(b, "</span></h2>\n<ul>");
    size_t i;
    json_t *t;
    json_array_foreach(arr, i, t)
    {
        hb_raw(b, "<li>");
        html_text(b, jstr(t, "da"));
        hb_raw(b, "<br><span class=\"en\">");
        html_text(b, jstr(t, "en"));
        hb_raw(b, "</span></li>");
    }
    hb_raw(b, "</ul></section>\n");
}

static const char style[] =
    "<style>\n"
    "body{font-family:\"IBM Plex Sans\",Arial,sans-serif;font-size:11pt;color:#1a1a1a;"
    "max-width:60rem;margin:1.5rem auto;padding:0 1rem;line-height:1.35}\n"
    "h1{font-size:18pt;margin:0 0 .3rem}h2{font-size:14pt;border-bottom:2px solid #1a1a1a;"
    "margin-top:1.6rem;page-break-after:avoid}h3{font-size:12pt;margin:1.2rem 0 .3rem;"
    "page-break-after:avoid}\n"
    ".en{color:#555;font-weight:normal}.note{font-size:9.5pt;color:#444}\n"
    "dl{display:grid;grid-template-columns:max-content auto;gap:.15rem 1rem;margin:.4rem 0}"
    "dt{font-weight:bold}dd{margin:0}\n"
    "table{border-collapse:collapse;width:100%;font-size:9.5pt;margin:.4rem 0}"
    "th,td{border:1px solid #999;padding:.2rem .35rem;text-align:left;vertical-align:top}"
    "th{background:#eee}tr{page-break-inside:avoid}thead{display:table-header-group}\n"
    "tr.history td{color:#555}td.id,code{font-family:monospace;font-size:8pt;"
    "word-break:break-all}.k{color:#555}\n"
    "article{page-break-inside:auto}\n"
    "@page{size:A4;margin:16mm 14mm}\n"
    "@media print{body{margin:0;max-width:none}a{color:inherit;text-decoration:none}"
    "th{background:#eee!important;-webkit-print-color-adjust:exact;print-color-adjust:exact}}\n"
    "</style>\n";

dfdg_err
dfdg_insight_render_html(const json_t *doc, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    struct hbuf b = {0};
    const json_t *person = json_object_get(doc, "person");
    const json_t *name = json_object_get(person, "name");
    hb_raw(&b, "<!DOCTYPE html>\n<html lang=\"da\">\n<head>\n<meta charset=\"utf-8\">\n"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
               "<title>Indsigt (GDPR art. 15): ");
    html_text(&b, jstr(name, "first"));
    hb_raw(&b, " ");
    html_text(&b, jstr(name, "last"));
    hb_raw(&b, "</title>\n");
    hb_raw(&b, style);
    hb_raw(&b, "</head>\n<body>\n<header><h1>Indsigt i dine oplysninger <span class=\"en\">/ "
               "Your data (GDPR art. 15)</span></h1>\n<p>");
    html_text(&b, jstr(name, "first"));
    hb_raw(&b, " ");
    html_text(&b, jstr(name, "last"));
    hb_raw(&b, " · Udskrevet <span class=\"en\">/ generated</span> ");
    html_text(&b, jstr(doc, "generated_at"));
    hb_raw(&b, "</p></header>\n");
    html_contact(&b, "Dataansvarlig", "Controller", json_object_get(doc, "controller"));
    html_contact(&b, "Databeskyttelsesrådgiver", "Data protection officer",
                 json_object_get(doc, "dpo"));
    html_person(&b, person);
    const json_t *purposes = json_object_get(doc, "purposes");
    html_records(&b, json_object_get(doc, "records"), purposes);
    html_disclosures(&b, json_object_get(doc, "disclosures"), purposes);
    html_access_log(&b, json_object_get(doc, "access_log"), purposes);
    hb_raw(&b, "<section><h2>Formål <span class=\"en\">/ Purposes</span></h2>\n<dl>");
    size_t i;
    json_t *p;
    json_array_foreach(purposes, i, p)
    {
        hb_raw(&b, "<dt>");
        html_text(&b, jstr(p, "code"));
        hb_raw(&b, "</dt><dd>");
        html_both(&b, json_object_get(p, "name"));
        hb_raw(&b, "<br><span class=\"note\">");
        html_text(&b, jstr(p, "legal_basis"));
        hb_raw(&b, "</span></dd>");
    }
    hb_raw(&b, "</dl></section>\n");
    html_texts(&b, "Dine rettigheder", "Your rights", json_object_get(doc, "rights"));
    html_contact(&b, "Tilsynsmyndighed", "Supervisory authority",
                 json_object_get(doc, "supervisory_authority"));
    html_texts(&b, "Bemærkninger", "Notes", json_object_get(doc, "notes"));
    hb_raw(&b, "</body>\n</html>\n");
    if (b.rc != DFDG_OK) {
        free(b.p);
        return b.rc;
    }
    *out = b.p;
    *len = b.len;
    return DFDG_OK;
}
