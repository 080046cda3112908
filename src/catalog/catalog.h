/* SPDX-License-Identifier: Apache-2.0 */
/*
 * catalog.h: the information types (DESIGN section 3) loaded from JSON data, and validation of
 * incoming records against them. Validation, authorisation and routing all read the catalog;
 * no type is special-cased in code.
 *
 * A loaded catalog is immutable and may be shared by any number of threads.
 */
#ifndef DFDG_CATALOG_CATALOG_H
#define DFDG_CATALOG_CATALOG_H

#include "core/dfdg.h"
#include "core/cpr.h"

#include <jansson.h>

/* Org kinds (DESIGN section 2). The string forms are the prefixes of org ids. */
enum dfdg_org_kind {
    DFDG_KIND_KOMMUNE,  /* "kommune" */
    DFDG_KIND_AKASSE,   /* "akasse" */
    DFDG_KIND_AKTOER,   /* "aktoer" (anden aktør) */
    DFDG_KIND_STAR,     /* "star" */
    DFDG_KIND_DST,      /* "dst" (Danmarks Statistik) */
    DFDG_KIND_UDK,      /* "udk" (Udbetaling Danmark) */
    DFDG_KIND_RESEARCH, /* "research" */
    DFDG_KIND_CITIZEN,  /* "citizen" */
    DFDG_KIND__COUNT
};
/* "kommune" etc.; NULL for an out-of-range value. */
const char *dfdg_org_kind_name(enum dfdg_org_kind k);
/* Parses a kind name; DFDG_INVAL when unknown. */
dfdg_err dfdg_org_kind_parse(const char *s, enum dfdg_org_kind *out /* OUT */);
#define DFDG_KIND_BIT(k) (1u << (unsigned)(k))

/* The relationship that entitles a recipient (DESIGN section 2). */
enum dfdg_via {
    DFDG_VIA_RESIDENCE,  /* "residence": person lives in the kommune */
    DFDG_VIA_MEMBERSHIP, /* "membership": person is a member of the a-kasse */
    DFDG_VIA_REFERRAL,   /* "referral": person is referred to the other actor */
    DFDG_VIA_ALL,        /* "all": every record of the type (STAR, extract recipients) */
};

enum dfdg_field_type {
    DFDG_FT_STRING,
    DFDG_FT_INT,
    DFDG_FT_DECIMAL,
    DFDG_FT_BOOL,
    DFDG_FT_DATE,
    DFDG_FT_ENUM,
    DFDG_FT_CPR,
    DFDG_FT_CVR,
};

enum dfdg_subject { DFDG_SUBJECT_PERSON, DFDG_SUBJECT_COMPANY };

struct dfdg_field {
    char *name;                /* JSON key inside "data" */
    enum dfdg_field_type type; /* value type */
    bool required;             /* must be present (and not null) */
    char **values;             /* enum codes (type ENUM), nvalues of them */
    size_t nvalues;            /* number of enum codes */
    size_t max_length;         /* strings: max length in characters (0 = the global cap) */
    bool has_min;              /* int/decimal: min is set */
    bool has_max;              /* int/decimal: max is set */
    double min;                /* inclusive lower bound */
    double max;                /* inclusive upper bound */
    unsigned reporters;        /* DFDG_KIND_BITs allowed to set the field; 0 = any reporter */
};

struct dfdg_recipient {
    enum dfdg_org_kind kind; /* who receives */
    enum dfdg_via via;       /* the relationship that entitles it */
};

struct dfdg_type {
    char *code;                        /* stable API identifier, e.g. "akasse-membership" */
    char *file;                        /* catalog file it came from (for messages) */
    enum dfdg_subject subject;         /* person (by CPR) or company (by CVR) */
    unsigned reporters;                /* DFDG_KIND_BITs that may report it (STAR always may) */
    struct dfdg_recipient *recipients; /* nrecipients entries */
    size_t nrecipients;
    struct dfdg_field *fields; /* nfields entries, in catalog order */
    size_t nfields;
    bool sensitive;      /* GDPR art. 9 */
    bool jobnet_visible; /* shown to the citizen */
    int retention_years; /* records are kept this long after their valid end */
    json_t *json;        /* the public JSON form served at GET /v1/catalog/{code} (owned) */
};

struct dfdg_catalog {
    struct dfdg_type *types; /* ntypes entries, sorted by code */
    size_t ntypes;
    json_t *json; /* {"types": [...]} served at GET /v1/catalog (owned) */
};

/*
 * Loads every "*.json" file in dir (one type a file) and checks it: known keys, known kinds and
 * field types, enum fields with values, unique codes and field names, sane numbers. On failure
 * returns DFDG_CONFIG with ei->msg naming the file and the entry (and ei->field the key), and
 * *out is NULL. Caller owns *out (dfdg_catalog_free).
 */
dfdg_err dfdg_catalog_load_dir(const char *dir, struct dfdg_catalog **out /* OUT */,
                               struct dfdg_errinfo *ei);
/*
 * Same checks, from in-memory files (the copy compiled into the binary): names[i] is the file
 * name and texts[i] its NUL-terminated content.
 */
dfdg_err dfdg_catalog_load_mem(const char *const *names, const char *const *texts, size_t n,
                               struct dfdg_catalog **out /* OUT */, struct dfdg_errinfo *ei);
/* The catalog compiled into the binary from catalog/ (checked the same way). */
dfdg_err dfdg_catalog_load_builtin(struct dfdg_catalog **out /* OUT */, struct dfdg_errinfo *ei);
void dfdg_catalog_free(struct dfdg_catalog *cat);

/* The type with this code, or NULL. Borrowed for the catalog's lifetime. */
const struct dfdg_type *dfdg_catalog_find(const struct dfdg_catalog *cat, const char *code);
/* True when org kind k may report type t (STAR may report every type: DESIGN section 3). */
bool dfdg_type_has_reporter(const struct dfdg_type *t, enum dfdg_org_kind k);

/* The type's legal basis references, "; "-joined into buf (whole references only). */
void dfdg_type_legal_basis(const struct dfdg_type *t, char *buf, size_t size);

/* --- validation -------------------------------------------------------------------------- */

#define DFDG_VERR_MAX 32

/* Field-level validation errors, rendered as the problem's "errors" array. */
struct dfdg_verrors {
    size_t n; /* entries used */
    struct {
        char field[128];   /* JSON path-ish name: "valid_to", "data.start_date" */
        char code[32];     /* machine code: required, type, enum, max_length, unknown, ... */
        char message[192]; /* English text; never echoes a CPR number */
    } e[DFDG_VERR_MAX];
};
/* Appends an error (dropped silently past DFDG_VERR_MAX). */
void dfdg_verrors_add(struct dfdg_verrors *ve, const char *field, const char *code, const char *fmt,
                      ...) DFDG_PRINTF(4, 5);

/* An incoming record envelope after validation; pointers borrow from the parsed body. */
struct dfdg_record_in {
    const struct dfdg_type *type; /* the catalog type */
    struct dfdg_cpr cpr;          /* subject person (subject PERSON) */
    char cvr[DFDG_CVR_LEN];       /* subject company (subject COMPANY) */
    const char *source_ref;       /* the reporter's idempotency key, 1..128 chars */
    int32_t valid_from;           /* day number */
    int32_t valid_to;             /* day number or DFDG_DATE_NONE */
    json_t *data;                 /* the validated "data" object (borrowed) */
};

/*
 * Validates one record body {type, cpr|cvr, source_ref, valid_from, valid_to?, data}: known
 * type, the subject key that matches the type's subject (and not the other), a valid CPR or
 * CVR, source_ref a non-empty string of at most 128 characters, ISO dates, valid_to >=
 * valid_from, and data checked field by field (required, type, enum, max length, min/max,
 * dates, CPR/CVR, unknown keys, fields restricted to other reporter kinds). Unknown top-level
 * keys are errors. reporter is the caller's kind (for field restrictions).
 * Returns DFDG_OK, or DFDG_INVAL with every problem found in ve (ve->n > 0).
 */
dfdg_err dfdg_catalog_validate_record(const struct dfdg_catalog *cat, json_t *body,
                                      enum dfdg_org_kind reporter,
                                      struct dfdg_record_in *out /* OUT */,
                                      struct dfdg_verrors *ve);

/*
 * Validates the "data" object alone against type t (used by corrections, where the envelope is
 * checked against the corrected record). Appends to ve; returns DFDG_INVAL if ve grew.
 */
dfdg_err dfdg_catalog_validate_data(const struct dfdg_type *t, json_t *data,
                                    enum dfdg_org_kind reporter, struct dfdg_verrors *ve);

#endif
