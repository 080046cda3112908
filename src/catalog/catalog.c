/* SPDX-License-Identifier: Apache-2.0 */
/*
 * catalog.c: loading and checking the information types of DESIGN section 3 from JSON files
 * (catalog/types/<code>.json, one type a file), from memory or from the copy compiled into the
 * binary, and the lookups the rest of the hub uses (find by code, may-report, org kind names).
 *
 * Design:
 *  1. A loaded catalog is immutable: nothing changes it after dfdg_catalog_load_* returns, so
 *     any number of threads may read it without locks.
 *  2. types[] is sorted by code (strcmp) and codes are unique, so dfdg_catalog_find is a
 *     bsearch. Every code equals its file's base name without ".json".
 *  3. A catalog is all or nothing: the first problem in any file stops the load with
 *     DFDG_CONFIG, and ei->msg names the file, the type and the field ("f.json: type 'x':
 *     field 'y': ..."), ei->field the offending key. No partial catalog is ever returned.
 *  4. Only known keys are accepted, at type, field, name, label and recipient level, so a typo
 *     in a catalog file is an error at start, not a silently ignored setting.
 *  5. type->json is the file's own object with defaults made explicit (every field carries
 *     "required"); cat->json holds references to the same objects.
 */
#include "core/dfdg.h"
#include "catalog/catalog.h"
#include "core/builtin.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>

#define CATALOG_MAX_FILE (1024 * 1024) /* bytes; a type file is a few kB */
#define CATALOG_MAX_NAME 64            /* field names: "data.<name>" must fit a verror path */
#define CATALOG_MAX_CHAPTER 999        /* chapters of the executive order */
#define CATALOG_MAX_LENGTH 1000000     /* largest max_length a string field may declare */

static const char *const kind_names[DFDG_KIND__COUNT] = {
    [DFDG_KIND_KOMMUNE] = "kommune",   [DFDG_KIND_AKASSE] = "akasse",
    [DFDG_KIND_AKTOER] = "aktoer",     [DFDG_KIND_STAR] = "star",
    [DFDG_KIND_DST] = "dst",           [DFDG_KIND_UDK] = "udk",
    [DFDG_KIND_RESEARCH] = "research", [DFDG_KIND_CITIZEN] = "citizen",
};

static const char *const via_names[] = {
    [DFDG_VIA_RESIDENCE] = "residence",
    [DFDG_VIA_MEMBERSHIP] = "membership",
    [DFDG_VIA_REFERRAL] = "referral",
    [DFDG_VIA_ALL] = "all",
};

static const char *const field_type_names[] = {
    [DFDG_FT_STRING] = "string", [DFDG_FT_INT] = "int",   [DFDG_FT_DECIMAL] = "decimal",
    [DFDG_FT_BOOL] = "bool",     [DFDG_FT_DATE] = "date", [DFDG_FT_ENUM] = "enum",
    [DFDG_FT_CPR] = "cpr",       [DFDG_FT_CVR] = "cvr",
};

/* The kinds that may report a type (STAR is implicit) and the kinds that may receive it. */
#define REPORTER_KINDS                                                                             \
    (DFDG_KIND_BIT(DFDG_KIND_KOMMUNE) | DFDG_KIND_BIT(DFDG_KIND_AKASSE) |                          \
     DFDG_KIND_BIT(DFDG_KIND_CITIZEN))
#define RECIPIENT_KINDS                                                                            \
    (DFDG_KIND_BIT(DFDG_KIND_KOMMUNE) | DFDG_KIND_BIT(DFDG_KIND_AKASSE) |                          \
     DFDG_KIND_BIT(DFDG_KIND_AKTOER) | DFDG_KIND_BIT(DFDG_KIND_DST) |                              \
     DFDG_KIND_BIT(DFDG_KIND_UDK) | DFDG_KIND_BIT(DFDG_KIND_RESEARCH))

const char *
dfdg_org_kind_name(enum dfdg_org_kind k)
{
    if ((unsigned)k >= DFDG_KIND__COUNT)
        return NULL;
    return kind_names[k];
}

dfdg_err
dfdg_org_kind_parse(const char *s, enum dfdg_org_kind *out /* OUT */)
{
    if (s == NULL)
        return DFDG_INVAL;
    for (size_t i = 0; i < DFDG_KIND__COUNT; i++) {
        if (strcmp(s, kind_names[i]) == 0) {
            *out = (enum dfdg_org_kind)i;
            return DFDG_OK;
        }
    }
    return DFDG_INVAL;
}

/* --- error context ------------------------------------------------------------------------ */

/* Where the loader is, so every message names the file, the type and the field. */
struct load_ctx {
    const char *file;        /* display name of the file */
    const char *code;        /* the type's code once known, else NULL */
    char field[80];          /* "'name'" or "#3" inside a field entry, else "" */
    struct dfdg_errinfo *ei; /* may be NULL */
};

static dfdg_err cfg_error(const struct load_ctx *c, const char *key, const char *fmt, ...)
    DFDG_PRINTF(3, 4);

static dfdg_err
cfg_error(const struct load_ctx *c, const char *key, const char *fmt, ...)
{
    if (c->ei == NULL)
        return DFDG_CONFIG;
    char detail[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    char where[192] = "";
    size_t w = 0;
    if (c->code != NULL)
        w += (size_t)snprintf(where, sizeof where, "type '%s': ", c->code);
    if (c->field[0] != '\0' && w < sizeof where)
        snprintf(where + w, sizeof where - w, "field %s: ", c->field);
    /* A very long path can cut the detail short; the file name matters more. */
    if (snprintf(c->ei->msg, sizeof c->ei->msg, "%s: %s%s", c->file, where, detail) < 0)
        c->ei->msg[0] = '\0';
    dfdg_strlcpy(c->ei->field, key != NULL ? key : "", sizeof c->ei->field);
    return DFDG_CONFIG;
}

/* --- key checks ---------------------------------------------------------------------------- */

enum key_kind { K_STRING, K_INT, K_NUMBER, K_BOOL, K_ARRAY, K_OBJECT };

struct key_spec {
    const char *name;   /* JSON key */
    enum key_kind kind; /* JSON type it must have */
    bool required;      /* must be present */
};

static const char *const key_kind_words[] = {
    [K_STRING] = "a string",    [K_INT] = "an integer", [K_NUMBER] = "a number",
    [K_BOOL] = "true or false", [K_ARRAY] = "an array", [K_OBJECT] = "an object",
};

static bool
key_kind_matches(enum key_kind k, const json_t *v)
{
    switch (k) {
    case K_STRING:
        return json_is_string(v);
    case K_INT:
        return json_is_integer(v);
    case K_NUMBER:
        return json_is_number(v);
    case K_BOOL:
        return json_is_boolean(v);
    case K_ARRAY:
        return json_is_array(v);
    case K_OBJECT:
        return json_is_object(v);
    }
    return false;
}

/* Checks obj has every required key, each key of the right JSON type and no other key. */
static dfdg_err
check_keys(const struct load_ctx *c, const json_t *obj, const char *what,
           const struct key_spec *specs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(obj, specs[i].name);
        if (v == NULL) {
            if (specs[i].required)
                return cfg_error(c, specs[i].name, "%smissing required key '%s'", what,
                                 specs[i].name);
            continue;
        }
        if (!key_kind_matches(specs[i].kind, v))
            return cfg_error(c, specs[i].name, "%skey '%s' must be %s", what, specs[i].name,
                             key_kind_words[specs[i].kind]);
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        bool known = false;
        for (size_t i = 0; i < n && !known; i++)
            known = strcmp(key, specs[i].name) == 0;
        if (!known)
            return cfg_error(c, key, "%sunknown key '%.64s'", what, key);
    }
    return DFDG_OK;
}

/* True when s is non-empty and made only of [a-z0-9] and the extra character. */
static bool
is_ident(const char *s, char extra)
{
    if (s == NULL || *s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        char ch = *s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == extra))
            return false;
    }
    return true;
}

static int
name_index(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] != NULL && strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

static char *
dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

/* {"da": "...", "en": "..."}, both non-empty. */
static dfdg_err
check_name_pair(const struct load_ctx *c, const json_t *obj, const char *key)
{
    static const struct key_spec specs[] = {
        {"da", K_STRING, true},
        {"en", K_STRING, true},
    };
    char what[96];
    snprintf(what, sizeof what, "%.64s: ", key);
    dfdg_err rc = check_keys(c, obj, what, specs, DFDG_ARRAY_LEN(specs));
    if (rc != DFDG_OK)
        return rc;
    for (size_t i = 0; i < DFDG_ARRAY_LEN(specs); i++)
        if (json_string_length(json_object_get(obj, specs[i].name)) == 0)
            return cfg_error(c, key, "%s'%s' must not be empty", what, specs[i].name);
    return DFDG_OK;
}

/* A non-empty array of non-empty strings. */
static dfdg_err
check_string_list(const struct load_ctx *c, const json_t *arr, const char *key, bool nonempty)
{
    if (nonempty && json_array_size(arr) == 0)
        return cfg_error(c, key, "'%s' must not be empty", key);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v) || json_string_length(v) == 0)
            return cfg_error(c, key, "%s[%zu] must be a non-empty string", key, i);
    }
    return DFDG_OK;
}

/*
 * A list of org kinds, each one allowed (bit in `allowed`) and listed once; the bits go to
 * *bits.
 */
static dfdg_err
parse_kind_list(const struct load_ctx *c, const json_t *arr, const char *key, unsigned allowed,
                unsigned *bits /* OUT */)
{
    unsigned set = 0;
    size_t i;
    json_t *v;
    if (json_array_size(arr) == 0)
        return cfg_error(c, key, "'%s' must list at least one org kind", key);
    json_array_foreach(arr, i, v)
    {
        enum dfdg_org_kind k;
        if (!json_is_string(v))
            return cfg_error(c, key, "%s[%zu] must be a string", key, i);
        if (dfdg_org_kind_parse(json_string_value(v), &k) != DFDG_OK)
            return cfg_error(c, key, "unknown org kind '%.64s' in '%s'", json_string_value(v), key);
        if ((allowed & DFDG_KIND_BIT(k)) == 0)
            return cfg_error(c, key, "org kind '%s' is not allowed in '%s'", kind_names[k], key);
        if (set & DFDG_KIND_BIT(k))
            return cfg_error(c, key, "org kind '%s' is listed twice in '%s'", kind_names[k], key);
        set |= DFDG_KIND_BIT(k);
    }
    *bits = set;
    return DFDG_OK;
}

/* --- fields -------------------------------------------------------------------------------- */

static void
field_cleanup(struct dfdg_field *f)
{
    free(f->name);
    for (size_t i = 0; i < f->nvalues; i++)
        free(f->values[i]);
    free(f->values);
}

static dfdg_err
parse_enum_values(const struct load_ctx *c, const json_t *jf, struct dfdg_field *f)
{
    json_t *values = json_object_get(jf, "values");
    if (values == NULL)
        return cfg_error(c, "values", "an enum field must list its 'values'");
    size_t n = json_array_size(values);
    if (n == 0)
        return cfg_error(c, "values", "'values' must not be empty");
    f->values = calloc(n, sizeof *f->values);
    if (f->values == NULL)
        return cfg_error(c, "values", "out of memory");
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v)
    {
        if (!json_is_string(v) || json_string_length(v) == 0)
            return cfg_error(c, "values", "values[%zu] must be a non-empty string", i);
        const char *s = json_string_value(v);
        if (name_index((const char *const *)f->values, f->nvalues, s) >= 0)
            return cfg_error(c, "values", "value '%.64s' is listed twice", s);
        f->values[i] = dup_str(s);
        if (f->values[i] == NULL)
            return cfg_error(c, "values", "out of memory");
        f->nvalues = i + 1;
    }
    json_t *labels = json_object_get(jf, "labels");
    const char *key;
    json_object_foreach(labels, key, v)
    {
        if (name_index((const char *const *)f->values, f->nvalues, key) < 0)
            return cfg_error(c, "labels", "label for '%.64s', which is not in 'values'", key);
        char lk[96];
        snprintf(lk, sizeof lk, "labels.%.64s", key);
        if (!json_is_object(v))
            return cfg_error(c, "labels", "%s must be an object {\"da\", \"en\"}", lk);
        dfdg_err rc = check_name_pair(c, v, lk);
        if (rc != DFDG_OK)
            return rc;
    }
    return DFDG_OK;
}

static dfdg_err
parse_bounds(const struct load_ctx *c, const json_t *jf, struct dfdg_field *f)
{
    static const char *const keys[] = {"min", "max"};
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get(jf, keys[i]);
        if (v == NULL)
            continue;
        if (f->type != DFDG_FT_INT && f->type != DFDG_FT_DECIMAL)
            return cfg_error(c, keys[i], "'%s' is only allowed for int and decimal fields",
                             keys[i]);
        if (f->type == DFDG_FT_INT && !json_is_integer(v))
            return cfg_error(c, keys[i], "'%s' of an int field must be an integer", keys[i]);
        if (i == 0) {
            f->has_min = true;
            f->min = json_number_value(v);
        } else {
            f->has_max = true;
            f->max = json_number_value(v);
        }
    }
    if (f->has_min && f->has_max && f->min > f->max)
        return cfg_error(c, "min", "'min' (%g) is greater than 'max' (%g)", f->min, f->max);
    return DFDG_OK;
}

/*
 * Checks one entry of "fields" and fills f. *jout gets the public form: name, type and
 * required first, then the file's other keys.
 */
static dfdg_err
parse_field(struct load_ctx *c, json_t *jf, size_t index, unsigned type_reporters,
            struct dfdg_field *f, json_t **jout /* OUT */)
{
    static const struct key_spec specs[] = {
        {"name", K_STRING, true},         {"type", K_STRING, true},   {"required", K_BOOL, false},
        {"description", K_STRING, false}, {"values", K_ARRAY, false}, {"labels", K_OBJECT, false},
        {"max_length", K_INT, false},     {"min", K_NUMBER, false},   {"max", K_NUMBER, false},
        {"reporters", K_ARRAY, false},    {"assumed", K_BOOL, false},
    };
    dfdg_err rc;
    snprintf(c->field, sizeof c->field, "#%zu", index + 1);
    if (!json_is_object(jf))
        return cfg_error(c, "fields", "must be an object");
    json_t *jname = json_object_get(jf, "name");
    const char *name = json_string_value(jname);
    if (name != NULL && is_ident(name, '_') && strlen(name) <= CATALOG_MAX_NAME)
        snprintf(c->field, sizeof c->field, "'%s'", name);
    rc = check_keys(c, jf, "", specs, DFDG_ARRAY_LEN(specs));
    if (rc != DFDG_OK)
        return rc;
    if (!is_ident(name, '_'))
        return cfg_error(c, "name", "name '%.64s' must match [a-z0-9_]+", name);
    if (strlen(name) > CATALOG_MAX_NAME)
        return cfg_error(c, "name", "name is longer than %d characters", CATALOG_MAX_NAME);
    f->name = dup_str(name);
    if (f->name == NULL)
        return cfg_error(c, "name", "out of memory");

    const char *tname = json_string_value(json_object_get(jf, "type"));
    int ti = name_index(field_type_names, DFDG_ARRAY_LEN(field_type_names), tname);
    if (ti < 0)
        return cfg_error(c, "type", "unknown field type '%.64s'", tname);
    f->type = (enum dfdg_field_type)ti;
    f->required = json_is_true(json_object_get(jf, "required"));

    if (f->type == DFDG_FT_ENUM) {
        rc = parse_enum_values(c, jf, f);
        if (rc != DFDG_OK)
            return rc;
    } else if (json_object_get(jf, "values") != NULL) {
        return cfg_error(c, "values", "'values' is only allowed for enum fields");
    } else if (json_object_get(jf, "labels") != NULL) {
        return cfg_error(c, "labels", "'labels' is only allowed for enum fields");
    }

    json_t *ml = json_object_get(jf, "max_length");
    if (ml != NULL) {
        if (f->type != DFDG_FT_STRING)
            return cfg_error(c, "max_length", "'max_length' is only allowed for string fields");
        json_int_t v = json_integer_value(ml);
        if (v < 1 || v > CATALOG_MAX_LENGTH)
            return cfg_error(c, "max_length", "'max_length' must be between 1 and %d",
                             CATALOG_MAX_LENGTH);
        f->max_length = (size_t)v;
    }
    rc = parse_bounds(c, jf, f);
    if (rc != DFDG_OK)
        return rc;

    json_t *rep = json_object_get(jf, "reporters");
    if (rep != NULL) {
        rc = parse_kind_list(c, rep, "reporters", REPORTER_KINDS, &f->reporters);
        if (rc != DFDG_OK)
            return rc;
        unsigned extra = f->reporters & ~type_reporters;
        for (size_t k = 0; k < DFDG_KIND__COUNT; k++)
            if (extra & DFDG_KIND_BIT(k))
                return cfg_error(c, "reporters",
                                 "org kind '%s' may not report the type, so it cannot set the "
                                 "field",
                                 kind_names[k]);
    }

    json_t *pub = json_object();
    if (pub == NULL)
        return cfg_error(c, "fields", "out of memory");
    int bad = json_object_set(pub, "name", jname);
    bad |= json_object_set(pub, "type", json_object_get(jf, "type"));
    bad |= json_object_set_new(pub, "required", json_boolean(f->required));
    const char *key;
    json_t *v;
    json_object_foreach(jf, key, v)
    {
        if (strcmp(key, "name") != 0 && strcmp(key, "type") != 0 && strcmp(key, "required") != 0)
            bad |= json_object_set(pub, key, v);
    }
    if (bad) {
        json_decref(pub);
        return cfg_error(c, "fields", "out of memory");
    }
    *jout = pub;
    return DFDG_OK;
}

/* --- types --------------------------------------------------------------------------------- */

static void
type_cleanup(struct dfdg_type *t)
{
    free(t->code);
    free(t->file);
    free(t->recipients);
    for (size_t i = 0; i < t->nfields; i++)
        field_cleanup(&t->fields[i]);
    free(t->fields);
    json_decref(t->json);
    memset(t, 0, sizeof *t);
}

static enum dfdg_via
via_for_kind(enum dfdg_org_kind k)
{
    switch (k) {
    case DFDG_KIND_KOMMUNE:
        return DFDG_VIA_RESIDENCE;
    case DFDG_KIND_AKASSE:
        return DFDG_VIA_MEMBERSHIP;
    case DFDG_KIND_AKTOER:
        return DFDG_VIA_REFERRAL;
    default:
        return DFDG_VIA_ALL;
    }
}

static dfdg_err
parse_recipients(const struct load_ctx *c, const json_t *arr, struct dfdg_type *t)
{
    static const struct key_spec specs[] = {
        {"kind", K_STRING, true},
        {"via", K_STRING, true},
    };
    size_t n = json_array_size(arr);
    if (n == 0)
        return DFDG_OK;
    t->recipients = calloc(n, sizeof *t->recipients);
    if (t->recipients == NULL)
        return cfg_error(c, "recipients", "out of memory");
    unsigned seen = 0;
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r)
    {
        char what[48];
        snprintf(what, sizeof what, "recipients[%zu]: ", i);
        if (!json_is_object(r))
            return cfg_error(c, "recipients", "%smust be an object {\"kind\", \"via\"}", what);
        dfdg_err rc = check_keys(c, r, what, specs, DFDG_ARRAY_LEN(specs));
        if (rc != DFDG_OK)
            return rc;
        const char *ks = json_string_value(json_object_get(r, "kind"));
        const char *vs = json_string_value(json_object_get(r, "via"));
        enum dfdg_org_kind k;
        if (dfdg_org_kind_parse(ks, &k) != DFDG_OK || (RECIPIENT_KINDS & DFDG_KIND_BIT(k)) == 0)
            return cfg_error(c, "kind", "%sunknown recipient kind '%.64s'", what, ks);
        int vi = name_index(via_names, DFDG_ARRAY_LEN(via_names), vs);
        if (vi < 0)
            return cfg_error(c, "via", "%sunknown via '%.64s' for recipient '%s'", what, vs,
                             kind_names[k]);
        if ((enum dfdg_via)vi != via_for_kind(k))
            return cfg_error(c, "via", "%srecipient '%s' must have via '%s', not '%s'", what,
                             kind_names[k], via_names[via_for_kind(k)], vs);
        if (seen & DFDG_KIND_BIT(k))
            return cfg_error(c, "kind", "%srecipient '%s' is listed twice", what, kind_names[k]);
        seen |= DFDG_KIND_BIT(k);
        t->recipients[i].kind = k;
        t->recipients[i].via = (enum dfdg_via)vi;
        t->nrecipients = i + 1;
    }
    return DFDG_OK;
}

static dfdg_err
parse_fields(struct load_ctx *c, const json_t *arr, struct dfdg_type *t)
{
    size_t n = json_array_size(arr);
    if (n == 0)
        return DFDG_OK;
    t->fields = calloc(n, sizeof *t->fields);
    if (t->fields == NULL)
        return cfg_error(c, "fields", "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *pub = NULL;
        /* Count the entry first so a half-filled field is freed by type_cleanup. */
        t->nfields = i + 1;
        dfdg_err rc = parse_field(c, json_array_get(arr, i), i, t->reporters, &t->fields[i], &pub);
        if (rc != DFDG_OK)
            return rc;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(t->fields[j].name, t->fields[i].name) == 0) {
                json_decref(pub);
                return cfg_error(c, "name", "duplicate field name (also field #%zu)", j + 1);
            }
        }
        if (json_array_set_new((json_t *)arr, i, pub) != 0)
            return cfg_error(c, "fields", "out of memory");
    }
    c->field[0] = '\0';
    return DFDG_OK;
}

/* The base name of path without ".json", in buf; false when the name does not end so. */
static bool
code_from_file_name(const char *path, char *buf, size_t size)
{
    const char *base = strrchr(path, '/');
    base = base != NULL ? base + 1 : path;
    size_t n = strlen(base);
    if (n <= 5 || strcmp(base + n - 5, ".json") != 0 || n - 5 >= size)
        return false;
    memcpy(buf, base, n - 5);
    buf[n - 5] = '\0';
    return true;
}

/* Parses and checks one type file; on success t owns everything. */
static dfdg_err
parse_type(const char *display, const char *name, const char *text, struct dfdg_type *t,
           struct dfdg_errinfo *ei)
{
    static const struct key_spec specs[] = {
        {"code", K_STRING, true},         {"chapters", K_ARRAY, true},
        {"origin", K_STRING, false},      {"name", K_OBJECT, true},
        {"description", K_STRING, false}, {"subject", K_STRING, true},
        {"reporters", K_ARRAY, true},     {"recipients", K_ARRAY, true},
        {"sensitive", K_BOOL, true},      {"legal_basis", K_ARRAY, true},
        {"jobnet_visible", K_BOOL, true}, {"retention_years", K_INT, true},
        {"assumed", K_BOOL, false},       {"sources", K_ARRAY, false},
        {"fields", K_ARRAY, true},
    };
    struct load_ctx c = {.file = display, .code = NULL, .field = "", .ei = ei};
    dfdg_err rc;
    char want[128];

    t->file = dup_str(display);
    if (t->file == NULL)
        return cfg_error(&c, "", "out of memory");
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return cfg_error(&c, "", "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
                         jerr.text);
    t->json = root;
    if (!json_is_object(root))
        return cfg_error(&c, "", "the file must hold one JSON object");

    const char *code = json_string_value(json_object_get(root, "code"));
    if (code != NULL && is_ident(code, '-') && strlen(code) < sizeof want)
        c.code = code;
    rc = check_keys(&c, root, "", specs, DFDG_ARRAY_LEN(specs));
    if (rc != DFDG_OK)
        return rc;
    if (c.code == NULL)
        return cfg_error(&c, "code", "code '%.64s' must match [a-z0-9-]+", code);
    if (!code_from_file_name(name, want, sizeof want))
        return cfg_error(&c, "code", "the file name must be <code>.json");
    if (strcmp(want, code) != 0)
        return cfg_error(&c, "code", "code does not match the file name (expected '%s')", want);
    t->code = dup_str(code);
    if (t->code == NULL)
        return cfg_error(&c, "code", "out of memory");

    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(root, "chapters"), i, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > CATALOG_MAX_CHAPTER)
            return cfg_error(&c, "chapters", "chapters[%zu] must be an integer from 1 to %d", i,
                             CATALOG_MAX_CHAPTER);
    }
    const char *origin = json_string_value(json_object_get(root, "origin"));
    if (origin != NULL && strcmp(origin, "bek") != 0 && strcmp(origin, "jobnet") != 0)
        return cfg_error(&c, "origin", "origin '%.64s' must be \"bek\" or \"jobnet\"", origin);
    rc = check_name_pair(&c, json_object_get(root, "name"), "name");
    if (rc != DFDG_OK)
        return rc;

    const char *subject = json_string_value(json_object_get(root, "subject"));
    if (strcmp(subject, "person") == 0)
        t->subject = DFDG_SUBJECT_PERSON;
    else if (strcmp(subject, "company") == 0)
        t->subject = DFDG_SUBJECT_COMPANY;
    else
        return cfg_error(&c, "subject", "subject '%.64s' must be \"person\" or \"company\"",
                         subject);

    rc = parse_kind_list(&c, json_object_get(root, "reporters"), "reporters", REPORTER_KINDS,
                         &t->reporters);
    if (rc != DFDG_OK)
        return rc;
    rc = parse_recipients(&c, json_object_get(root, "recipients"), t);
    if (rc != DFDG_OK)
        return rc;
    t->sensitive = json_is_true(json_object_get(root, "sensitive"));
    t->jobnet_visible = json_is_true(json_object_get(root, "jobnet_visible"));
    rc = check_string_list(&c, json_object_get(root, "legal_basis"), "legal_basis", true);
    if (rc != DFDG_OK)
        return rc;
    json_t *sources = json_object_get(root, "sources");
    if (sources != NULL) {
        rc = check_string_list(&c, sources, "sources", false);
        if (rc != DFDG_OK)
            return rc;
    }
    json_int_t years = json_integer_value(json_object_get(root, "retention_years"));
    if (years < 1 || years > 100)
        return cfg_error(&c, "retention_years", "retention_years must be from 1 to 100");
    t->retention_years = (int)years;
    return parse_fields(&c, json_object_get(root, "fields"), t);
}

/* --- catalogs ------------------------------------------------------------------------------ */

void
dfdg_catalog_free(struct dfdg_catalog *cat)
{
    if (cat == NULL)
        return;
    for (size_t i = 0; i < cat->ntypes; i++)
        type_cleanup(&cat->types[i]);
    free(cat->types);
    json_decref(cat->json);
    free(cat);
}

static int
type_cmp(const void *a, const void *b)
{
    const struct dfdg_type *x = a, *y = b;
    int r = strcmp(x->code, y->code);
    return r != 0 ? r : strcmp(x->file, y->file);
}

/*
 * Loads n files: names[i] is the name the code must match, prefix + names[i] the name used in
 * messages.
 */
static dfdg_err
load_files(const char *prefix, const char *const *names, const char *const *texts, size_t n,
           struct dfdg_catalog **out /* OUT */, struct dfdg_errinfo *ei)
{
    struct load_ctx c = {.file = prefix, .code = NULL, .field = "", .ei = ei};
    dfdg_err rc = DFDG_OK;
    char *display = NULL;

    *out = NULL;
    if (ei != NULL) {
        ei->msg[0] = '\0';
        ei->field[0] = '\0';
    }
    if (n == 0)
        return cfg_error(&c, "", "the catalog has no type files (*.json)");
    struct dfdg_catalog *cat = calloc(1, sizeof *cat);
    if (cat == NULL)
        return cfg_error(&c, "", "out of memory");
    cat->types = calloc(n, sizeof *cat->types);
    if (cat->types == NULL) {
        rc = cfg_error(&c, "", "out of memory");
        goto free_cat;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(prefix) + strlen(names[i]) + 1;
        display = malloc(len);
        if (display == NULL) {
            rc = cfg_error(&c, "", "out of memory");
            goto free_cat;
        }
        snprintf(display, len, "%s%s", prefix, names[i]);
        cat->ntypes = i + 1;
        rc = parse_type(display, names[i], texts[i], &cat->types[i], ei);
        free(display);
        display = NULL;
        if (rc != DFDG_OK)
            goto free_cat;
    }
    qsort(cat->types, cat->ntypes, sizeof *cat->types, type_cmp);
    for (size_t i = 1; i < cat->ntypes; i++) {
        if (strcmp(cat->types[i - 1].code, cat->types[i].code) == 0) {
            c.file = cat->types[i].file;
            c.code = cat->types[i].code;
            rc =
                cfg_error(&c, "code", "duplicate code, also defined in %s", cat->types[i - 1].file);
            goto free_cat;
        }
    }
    json_t *arr = json_array();
    cat->json = json_object();
    if (arr == NULL || cat->json == NULL || json_object_set_new(cat->json, "types", arr) != 0) {
        if (cat->json == NULL)
            json_decref(arr);
        rc = cfg_error(&c, "", "out of memory");
        goto free_cat;
    }
    for (size_t i = 0; i < cat->ntypes; i++) {
        if (json_array_append(arr, cat->types[i].json) != 0) {
            rc = cfg_error(&c, "", "out of memory");
            goto free_cat;
        }
    }
    *out = cat;
    return DFDG_OK;

free_cat:
    dfdg_catalog_free(cat);
    return rc;
}

dfdg_err
dfdg_catalog_load_mem(const char *const *names, const char *const *texts, size_t n,
                      struct dfdg_catalog **out /* OUT */, struct dfdg_errinfo *ei)
{
    return load_files("", names, texts, n, out, ei);
}

dfdg_err
dfdg_catalog_load_builtin(struct dfdg_catalog **out /* OUT */, struct dfdg_errinfo *ei)
{
    return load_files("catalog/types/", dfdg_builtin_catalog_names, dfdg_builtin_catalog_texts,
                      dfdg_builtin_catalog_count, out, ei);
}

static int
str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Reads a whole regular file, capped, NUL-terminated. */
static dfdg_err
read_file(const struct load_ctx *c, const char *path, char **text /* OUT */)
{
    dfdg_err rc = DFDG_OK;
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return cfg_error(c, "", "cannot open: %s", strerror(errno));
    char *buf = malloc(CATALOG_MAX_FILE + 1);
    if (buf == NULL) {
        rc = cfg_error(c, "", "out of memory");
        goto close_fp;
    }
    size_t n = fread(buf, 1, CATALOG_MAX_FILE + 1, fp);
    if (ferror(fp)) {
        rc = cfg_error(c, "", "cannot read: %s", strerror(errno));
        goto free_buf;
    }
    if (n > CATALOG_MAX_FILE) {
        rc = cfg_error(c, "", "file is larger than %d bytes", CATALOG_MAX_FILE);
        goto free_buf;
    }
    if (memchr(buf, '\0', n) != NULL) {
        rc = cfg_error(c, "", "file contains a NUL byte");
        goto free_buf;
    }
    buf[n] = '\0';
    *text = buf;
    fclose(fp);
    return DFDG_OK;

free_buf:
    free(buf);
close_fp:
    fclose(fp);
    return rc;
}

dfdg_err
dfdg_catalog_load_dir(const char *dir, struct dfdg_catalog **out /* OUT */, struct dfdg_errinfo *ei)
{
    struct load_ctx c = {.file = dir, .code = NULL, .field = "", .ei = ei};
    dfdg_err rc = DFDG_OK;
    char **names = NULL;
    char **texts = NULL;
    size_t n = 0, cap = 0;
    char *prefix = NULL;

    *out = NULL;
    if (ei != NULL) {
        ei->msg[0] = '\0';
        ei->field[0] = '\0';
    }
    size_t dlen = strlen(dir);
    prefix = malloc(dlen + 2);
    if (prefix == NULL)
        return cfg_error(&c, "", "out of memory");
    snprintf(prefix, dlen + 2, "%s%s", dir, dlen > 0 && dir[dlen - 1] == '/' ? "" : "/");

    DIR *d = opendir(dir);
    if (d == NULL) {
        rc = cfg_error(&c, "", "cannot open the catalog folder: %s", strerror(errno));
        goto free_prefix;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        /* Dot files are editor leftovers, not types, just as a shell's *.json skips them. */
        if (de->d_name[0] == '.' || len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0)
            continue;
        char path[4096];
        struct stat st;
        if (snprintf(path, sizeof path, "%s%s", prefix, de->d_name) >= (int)sizeof path)
            continue;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            size_t ncap = cap != 0 ? cap * 2 : 64;
            char **p = realloc(names, ncap * sizeof *names);
            if (p == NULL) {
                rc = cfg_error(&c, "", "out of memory");
                goto close_dir;
            }
            names = p;
            cap = ncap;
        }
        names[n] = dup_str(de->d_name);
        if (names[n] == NULL) {
            rc = cfg_error(&c, "", "out of memory");
            goto close_dir;
        }
        n++;
    }
    closedir(d);
    d = NULL;

    if (n == 0) {
        rc = cfg_error(&c, "", "the catalog folder has no type files (*.json)");
        goto free_names;
    }
    qsort(names, n, sizeof *names, str_cmp);
    texts = calloc(n, sizeof *texts);
    if (texts == NULL) {
        rc = cfg_error(&c, "", "out of memory");
        goto free_names;
    }
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(prefix) + strlen(names[i]) + 1;
        char *path = malloc(len);
        if (path == NULL) {
            rc = cfg_error(&c, "", "out of memory");
            goto free_names;
        }
        snprintf(path, len, "%s%s", prefix, names[i]);
        struct load_ctx fc = {.file = path, .code = NULL, .field = "", .ei = ei};
        rc = read_file(&fc, path, &texts[i]);
        free(path);
        if (rc != DFDG_OK)
            goto free_names;
    }
    rc = load_files(prefix, (const char *const *)names, (const char *const *)texts, n, out, ei);

close_dir:
    if (d != NULL)
        closedir(d);
free_names:
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
        if (texts != NULL)
            free(texts[i]);
    }
    free(names);
    free(texts);
free_prefix:
    free(prefix);
    return rc;
}

/* --- lookups ------------------------------------------------------------------------------- */

static int
find_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct dfdg_type *)elem)->code);
}

const struct dfdg_type *
dfdg_catalog_find(const struct dfdg_catalog *cat, const char *code)
{
    if (cat == NULL || code == NULL || cat->ntypes == 0)
        return NULL;
    return bsearch(code, cat->types, cat->ntypes, sizeof *cat->types, find_cmp);
}

bool
dfdg_type_has_reporter(const struct dfdg_type *t, enum dfdg_org_kind k)
{
    if (t == NULL || (unsigned)k >= DFDG_KIND__COUNT)
        return false;
    if (k == DFDG_KIND_STAR) /* DESIGN section 3: STAR may report any type */
        return true;
    return (t->reporters & DFDG_KIND_BIT(k)) != 0;
}

void
dfdg_type_legal_basis(const struct dfdg_type *t, char *buf, size_t size)
{
    if (size == 0)
        return;
    buf[0] = '\0';
    json_t *arr = t != NULL ? json_object_get(t->json, "legal_basis") : NULL;
    size_t i, used = 0;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *text = json_string_value(v);
        int n =
            snprintf(buf + used, size - used, "%s%s", i > 0 ? "; " : "", text != NULL ? text : "");
        if (n < 0 || (size_t)n >= size - used) {
            buf[used] = '\0'; /* whole references only */
            break;
        }
        used += (size_t)n;
    }
}
