/* SPDX-License-Identifier: Apache-2.0 */
/*
 * validate.c: checks an incoming record body (DESIGN section 5, POST /v1/records) against the
 * catalog: the envelope {type, cpr|cvr, source_ref, valid_from, valid_to, data} and the data
 * object field by field, collecting every problem as {field, code, message} for the RFC 9457
 * problem's "errors" array.
 *
 * Rules kept here:
 *  1. Every problem is reported, not just the first, up to DFDG_VERR_MAX entries.
 *  2. Messages are English sentences and never echo a CPR number (GDPR art. 5(1)(f)): CPR
 *     parse errors carry only the reason, and user-supplied values are not repeated.
 *  3. Entries are clean UTF-8 without control characters, whatever the input was, so the
 *     problem renderer can always turn them into JSON strings.
 *  4. The OUT record is written only on success.
 */
#include "core/dfdg.h"
#include "catalog/catalog.h"
#include "core/cpr.h"
#include "core/when.h"

#include <math.h>
#include <stdarg.h>

#define SOURCE_REF_MAX 128 /* bytes */
#define STRING_CAP 4000    /* characters, for string fields without max_length */
#define ENUM_LIST_MAX 10   /* allowed values listed in an "enum" message */

/*
 * Copies src into dst (size > 0) with control characters replaced by '?', cutting only on a
 * UTF-8 character boundary.
 */
static void
copy_clean(char *dst, size_t size, const char *src)
{
    size_t len = strlen(src);
    if (len > size - 1) {
        len = size - 1;
        while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80)
            len--;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)src[i];
        dst[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    dst[len] = '\0';
}

void
dfdg_verrors_add(struct dfdg_verrors *ve, const char *field, const char *code, const char *fmt, ...)
{
    if (ve == NULL || ve->n >= DFDG_VERR_MAX)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    copy_clean(ve->e[ve->n].field, sizeof ve->e[ve->n].field, field != NULL ? field : "");
    copy_clean(ve->e[ve->n].code, sizeof ve->e[ve->n].code, code != NULL ? code : "");
    copy_clean(ve->e[ve->n].message, sizeof ve->e[ve->n].message, msg);
    ve->n++;
}

/* Counts problems even past DFDG_VERR_MAX, so a full ve still means "invalid". */
struct vctx {
    struct dfdg_verrors *ve; /* where problems go */
    size_t nerr;             /* problems found by this call */
};

static void verr(struct vctx *v, const char *field, const char *code, const char *fmt, ...)
    DFDG_PRINTF(4, 5);

static void
verr(struct vctx *v, const char *field, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dfdg_verrors_add(v->ve, field, code, "%s", msg);
    v->nerr++;
}

/*
 * The reason text of a CPR/CVR/date parse error, shortened; dropped when it would repeat the
 * input (the parsers promise not to, but a CPR number must never leak through a message).
 */
static const char *
safe_reason(const struct dfdg_errinfo *ei, const char *input, size_t len, char *buf, size_t size)
{
    if (ei->msg[0] == '\0')
        return "it is malformed";
    copy_clean(buf, size, ei->msg);
    if (len >= 4 && len < 64) {
        char in[64];
        memcpy(in, input, len);
        in[len] = '\0';
        if (strstr(ei->msg, in) != NULL)
            return "it is malformed";
    }
    return buf;
}

/* Control characters other than newline and tab are refused in free text. */
static bool
has_bad_control(const char *s, size_t len, bool allow_nl_tab)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (allow_nl_tab && (ch == '\n' || ch == '\t'))
            continue;
        if (ch < 0x20 || ch == 0x7f)
            return true;
    }
    return false;
}

/* Characters (code points) in valid UTF-8. */
static size_t
utf8_length(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

static bool
check_cpr(struct vctx *v, const char *path, json_t *val, struct dfdg_cpr *out /* OUT */)
{
    if (!json_is_string(val)) {
        verr(v, path, "type", "%s must be a CPR number written as a string of 10 digits.", path);
        return false;
    }
    struct dfdg_errinfo ei = {{0}, {0}};
    const char *s = json_string_value(val);
    size_t len = json_string_length(val);
    if (dfdg_cpr_parse(s, len, out, &ei) != DFDG_OK) {
        char buf[128];
        verr(v, path, "type", "%s is not a valid CPR number: %s", path,
             safe_reason(&ei, s, len, buf, sizeof buf));
        return false;
    }
    return true;
}

static bool
check_cvr(struct vctx *v, const char *path, json_t *val, char out[DFDG_CVR_LEN] /* OUT */)
{
    if (!json_is_string(val)) {
        verr(v, path, "type", "%s must be a CVR number written as a string of 8 digits.", path);
        return false;
    }
    struct dfdg_errinfo ei = {{0}, {0}};
    const char *s = json_string_value(val);
    size_t len = json_string_length(val);
    if (dfdg_cvr_parse(s, len, out, &ei) != DFDG_OK) {
        char buf[128];
        verr(v, path, "type", "%s is not a valid CVR number: %s", path,
             safe_reason(&ei, s, len, buf, sizeof buf));
        return false;
    }
    return true;
}

static bool
check_date(struct vctx *v, const char *path, json_t *val, int32_t *day /* OUT */)
{
    if (!json_is_string(val)) {
        verr(v, path, "type", "%s must be a date written as a string YYYY-MM-DD.", path);
        return false;
    }
    struct dfdg_errinfo ei = {{0}, {0}};
    const char *s = json_string_value(val);
    size_t len = json_string_length(val);
    if (dfdg_date_parse(s, len, day, &ei) != DFDG_OK) {
        char buf[128];
        verr(v, path, "type", "%s is not a valid date (YYYY-MM-DD): %s", path,
             safe_reason(&ei, s, len, buf, sizeof buf));
        return false;
    }
    return true;
}

static void
check_bounds(struct vctx *v, const char *path, const struct dfdg_field *f, double x)
{
    if ((f->has_min && x < f->min) || (f->has_max && x > f->max)) {
        if (f->has_min && f->has_max)
            verr(v, path, "range", "%s must be between %.15g and %.15g.", path, f->min, f->max);
        else if (f->has_min)
            verr(v, path, "range", "%s must be at least %.15g.", path, f->min);
        else
            verr(v, path, "range", "%s must be at most %.15g.", path, f->max);
    }
}

static void
check_enum(struct vctx *v, const char *path, const struct dfdg_field *f, json_t *val)
{
    if (json_is_string(val)) {
        const char *s = json_string_value(val);
        for (size_t i = 0; i < f->nvalues; i++)
            if (strcmp(s, f->values[i]) == 0)
                return;
    }
    /* The message must fit a verror's 192 bytes, so the list stops early on long codes. */
    char list[120] = "";
    size_t used = 0, shown = 0;
    for (; shown < f->nvalues && shown < ENUM_LIST_MAX; shown++) {
        size_t need = strlen(f->values[shown]) + (shown > 0 ? 2 : 0);
        if (used + need >= sizeof list - 8)
            break;
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", shown > 0 ? ", " : "",
                                 f->values[shown]);
    }
    if (shown < f->nvalues)
        snprintf(list + used, sizeof list - used, "%s...", shown > 0 ? ", " : "");
    verr(v, path, "enum", "%s must be one of: %s.", path, list);
}

static void
check_value(struct vctx *v, const char *path, const struct dfdg_field *f, json_t *val)
{
    switch (f->type) {
    case DFDG_FT_STRING: {
        if (!json_is_string(val)) {
            verr(v, path, "type", "%s must be a string.", path);
            return;
        }
        const char *s = json_string_value(val);
        size_t len = json_string_length(val);
        size_t cap = f->max_length != 0 ? f->max_length : STRING_CAP;
        if (utf8_length(s, len) > cap)
            verr(v, path, "max_length", "%s is longer than the maximum of %zu characters.", path,
                 cap);
        if (has_bad_control(s, len, true))
            verr(v, path, "type",
                 "%s must not contain control characters other than newline and tab.", path);
        return;
    }
    case DFDG_FT_INT:
        if (!json_is_integer(val)) {
            verr(v, path, "type", "%s must be an integer.", path);
            return;
        }
        check_bounds(v, path, f, (double)json_integer_value(val));
        return;
    case DFDG_FT_DECIMAL: {
        double x = json_number_value(val);
        if (!json_is_number(val) || !isfinite(x)) {
            verr(v, path, "type", "%s must be a number.", path);
            return;
        }
        check_bounds(v, path, f, x);
        return;
    }
    case DFDG_FT_BOOL:
        if (!json_is_boolean(val))
            verr(v, path, "type", "%s must be true or false.", path);
        return;
    case DFDG_FT_DATE: {
        int32_t day;
        check_date(v, path, val, &day);
        return;
    }
    case DFDG_FT_ENUM:
        check_enum(v, path, f, val);
        return;
    case DFDG_FT_CPR: {
        struct dfdg_cpr cpr;
        check_cpr(v, path, val, &cpr);
        return;
    }
    case DFDG_FT_CVR: {
        char cvr[DFDG_CVR_LEN];
        check_cvr(v, path, val, cvr);
        return;
    }
    }
    verr(v, path, "type", "%s has a type the hub does not know.", path);
}

static bool
reporter_may_set(const struct dfdg_field *f, enum dfdg_org_kind reporter)
{
    if (f->reporters == 0 || reporter == DFDG_KIND_STAR)
        return true;
    return (unsigned)reporter < DFDG_KIND__COUNT && (f->reporters & DFDG_KIND_BIT(reporter));
}

static void
check_data(struct vctx *v, const struct dfdg_type *t, json_t *data, enum dfdg_org_kind reporter)
{
    char path[128];
    for (size_t i = 0; i < t->nfields; i++) {
        const struct dfdg_field *f = &t->fields[i];
        json_t *val = json_object_get(data, f->name);
        bool may = reporter_may_set(f, reporter);
        snprintf(path, sizeof path, "data.%s", f->name);
        if (val == NULL || json_is_null(val)) {
            /* A field restricted to other reporter kinds cannot be required of this one. */
            if (f->required && may)
                verr(v, path, "required", "%s is required.", path);
            continue;
        }
        if (!may) {
            const char *kind = dfdg_org_kind_name(reporter);
            verr(v, path, "forbidden_field", "%s may not be set by a reporter of kind '%s'.", path,
                 kind != NULL ? kind : "unknown");
            continue;
        }
        check_value(v, path, f, val);
    }
    const char *key;
    json_t *val;
    json_object_foreach(data, key, val)
    {
        bool known = false;
        for (size_t i = 0; i < t->nfields && !known; i++)
            known = strcmp(key, t->fields[i].name) == 0;
        if (!known) {
            char clipped[100];
            copy_clean(clipped, sizeof clipped, key);
            snprintf(path, sizeof path, "data.%s", clipped);
            verr(v, path, "unknown", "Type '%s' has no such data field.", t->code);
        }
    }
}

dfdg_err
dfdg_catalog_validate_data(const struct dfdg_type *t, json_t *data, enum dfdg_org_kind reporter,
                           struct dfdg_verrors *ve)
{
    struct dfdg_verrors scratch = {0};
    struct vctx v = {ve != NULL ? ve : &scratch, 0};
    if (t == NULL)
        verr(&v, "type", "unknown_type", "The record type is not known.");
    else if (!json_is_object(data))
        verr(&v, "data", "type", "data must be a JSON object.");
    else
        check_data(&v, t, data, reporter);
    return v.nerr > 0 ? DFDG_INVAL : DFDG_OK;
}

static const char *const envelope_keys[] = {
    "type", "cpr", "cvr", "source_ref", "valid_from", "valid_to", "data",
};

/* The subject keys: the one the type's subject needs, and a wrong one refused. */
static void
check_subject(struct vctx *v, const struct dfdg_type *t, json_t *body, struct dfdg_record_in *rec)
{
    json_t *jcpr = json_object_get(body, "cpr");
    json_t *jcvr = json_object_get(body, "cvr");
    /* A null subject key counts as absent, as clients often send both keys. */
    if (json_is_null(jcpr))
        jcpr = NULL;
    if (json_is_null(jcvr))
        jcvr = NULL;
    if (t != NULL && t->subject == DFDG_SUBJECT_PERSON) {
        if (jcpr == NULL)
            verr(v, "cpr", "required", "cpr is required: type '%s' is about a person.", t->code);
        if (jcvr != NULL)
            verr(v, "cvr", "unexpected",
                 "cvr is not allowed: type '%s' is about a person, named by cpr.", t->code);
    } else if (t != NULL) {
        if (jcvr == NULL)
            verr(v, "cvr", "required", "cvr is required: type '%s' is about a company.", t->code);
        if (jcpr != NULL)
            verr(v, "cpr", "unexpected",
                 "cpr is not allowed: type '%s' is about a company, named by cvr.", t->code);
    }
    if (jcpr != NULL && (t == NULL || t->subject == DFDG_SUBJECT_PERSON))
        check_cpr(v, "cpr", jcpr, &rec->cpr);
    if (jcvr != NULL && (t == NULL || t->subject == DFDG_SUBJECT_COMPANY))
        check_cvr(v, "cvr", jcvr, rec->cvr);
}

static void
check_source_ref(struct vctx *v, json_t *body, struct dfdg_record_in *rec)
{
    json_t *js = json_object_get(body, "source_ref");
    if (js == NULL || json_is_null(js)) {
        verr(v, "source_ref", "required", "source_ref is required.");
        return;
    }
    if (!json_is_string(js)) {
        verr(v, "source_ref", "type", "source_ref must be a string.");
        return;
    }
    size_t len = json_string_length(js);
    const char *s = json_string_value(js);
    if (len == 0)
        verr(v, "source_ref", "required", "source_ref must not be empty.");
    else if (len > SOURCE_REF_MAX)
        verr(v, "source_ref", "max_length", "source_ref is longer than %d bytes.", SOURCE_REF_MAX);
    else if (has_bad_control(s, len, false))
        verr(v, "source_ref", "type", "source_ref must not contain control characters.");
    else
        rec->source_ref = s;
}

static void
check_period(struct vctx *v, json_t *body, struct dfdg_record_in *rec)
{
    json_t *jf = json_object_get(body, "valid_from");
    json_t *jt = json_object_get(body, "valid_to");
    bool from_ok = false, to_ok = false;
    if (jf == NULL || json_is_null(jf))
        verr(v, "valid_from", "required", "valid_from is required.");
    else
        from_ok = check_date(v, "valid_from", jf, &rec->valid_from);
    rec->valid_to = DFDG_DATE_NONE;
    if (jt != NULL && !json_is_null(jt))
        to_ok = check_date(v, "valid_to", jt, &rec->valid_to);
    if (from_ok && to_ok && rec->valid_to < rec->valid_from)
        verr(v, "valid_to", "range", "valid_to must not be before valid_from.");
}

dfdg_err
dfdg_catalog_validate_record(const struct dfdg_catalog *cat, json_t *body,
                             enum dfdg_org_kind reporter, struct dfdg_record_in *out /* OUT */,
                             struct dfdg_verrors *ve)
{
    struct dfdg_verrors scratch;
    if (ve == NULL)
        ve = &scratch;
    ve->n = 0;
    struct vctx v = {ve, 0};
    struct dfdg_record_in rec;
    memset(&rec, 0, sizeof rec);

    if (!json_is_object(body)) {
        verr(&v, "", "type", "The record must be a JSON object.");
        return DFDG_INVAL;
    }
    const char *key;
    json_t *val;
    json_object_foreach(body, key, val)
    {
        bool known = false;
        for (size_t i = 0; i < DFDG_ARRAY_LEN(envelope_keys) && !known; i++)
            known = strcmp(key, envelope_keys[i]) == 0;
        if (!known)
            verr(&v, key, "unknown",
                 "Unknown key; a record has type, cpr or cvr, source_ref, valid_from, valid_to "
                 "and data.");
    }

    const struct dfdg_type *t = NULL;
    json_t *jt = json_object_get(body, "type");
    if (jt == NULL || json_is_null(jt))
        verr(&v, "type", "required", "type is required.");
    else if (!json_is_string(jt))
        verr(&v, "type", "type", "type must be a string naming a catalog type.");
    else if ((t = dfdg_catalog_find(cat, json_string_value(jt))) == NULL)
        verr(&v, "type", "unknown_type",
             "type is not a known information type; GET /v1/catalog lists them.");

    check_subject(&v, t, body, &rec);
    check_source_ref(&v, body, &rec);
    check_period(&v, body, &rec);

    json_t *jd = json_object_get(body, "data");
    if (jd == NULL || json_is_null(jd))
        verr(&v, "data", "required", "data is required.");
    else if (!json_is_object(jd))
        verr(&v, "data", "type", "data must be a JSON object.");
    else if (t != NULL)
        check_data(&v, t, jd, reporter);

    if (v.nerr > 0)
        return DFDG_INVAL;
    rec.type = t;
    rec.data = jd;
    if (out != NULL)
        *out = rec;
    return DFDG_OK;
}
