/* SPDX-License-Identifier: Apache-2.0 */
/*
 * access.h: who may do what (DESIGN section 4). The caller (an actor, from a verified token),
 * the information type (from the catalog) and the relationships of the actor's org to the
 * person at a point in time decide every report and every read. Each denial names the rule.
 *
 * Rules (greppable names, used in 403 problems as "rule"):
 *   report.kind        the caller's org kind is not a reporter of the type
 *   report.residence   a kommune reports only on persons resident in it on valid_from
 *   report.membership  an a-kasse reports only on its members on valid_from (except the
 *                      akasse-membership record that starts the membership)
 *   report.self        a citizen reports only about themselves
 *   report.owner       only the original reporter (or STAR) corrects or cancels a record
 *   read.relationship  the org has no relationship to the person that entitles it to the type
 *   read.citizen       a citizen reads only their own records of jobnet-visible types
 *   purpose.missing    the DFDG-Purpose header is missing on a call on personal data
 *   purpose.kind       the purpose is not allowed for the caller's org kind
 */
#ifndef DFDG_AUTHZ_ACCESS_H
#define DFDG_AUTHZ_ACCESS_H

#include "core/dfdg.h"
#include "authz/token.h"
#include "catalog/catalog.h"
#include "store/store.h"

/* Purposes of processing (DESIGN section 4), in the DFDG-Purpose header. */
enum dfdg_purpose {
    DFDG_PURPOSE_NONE,
    DFDG_PURPOSE_CASE_HANDLING, /* "case-handling" */
    DFDG_PURPOSE_PAYMENT,       /* "payment" */
    DFDG_PURPOSE_SUPERVISION,   /* "supervision" */
    DFDG_PURPOSE_SUPPORT,       /* "support" */
    DFDG_PURPOSE_STATISTICS,    /* "statistics" */
    DFDG_PURPOSE_RESEARCH,      /* "research" */
    DFDG_PURPOSE_SELF_SERVICE,  /* "self-service" */
    DFDG_PURPOSE__COUNT
};
const char *dfdg_purpose_name(enum dfdg_purpose p);
/* DFDG_INVAL for an unknown name. */
dfdg_err dfdg_purpose_parse(const char *s, enum dfdg_purpose *out /* OUT */);
/* The legal basis a purpose of processing rests on (NOTES section 7), for the audit log. */
const char *dfdg_purpose_legal_basis(enum dfdg_purpose p);
/* Whether org kind k may process personal data for purpose p. */
bool dfdg_purpose_is_allowed(enum dfdg_org_kind k, enum dfdg_purpose p);

/* The authenticated caller. */
struct dfdg_actor {
    char org[64];              /* org id ("kommune:101", "akasse:3f", "star") or "citizen" */
    enum dfdg_org_kind kind;   /* parsed from org */
    char code[32];             /* the part after "kind:" ("101", "3f", a CVR), or "" */
    char sub[128];             /* the user (token sub) */
    int64_t person_id;         /* citizens: the person their cpr claim names (0 if unknown) */
    char cpr[DFDG_CPR_LEN];    /* citizens: their CPR number */
    enum dfdg_purpose purpose; /* from DFDG-Purpose, or NONE */
};

/* What is asked (dfdg_authz_decide). */
enum dfdg_action {
    DFDG_ACTION_REPORT,      /* report a record of a type about a person or company */
    DFDG_ACTION_READ,        /* read a record of a type */
    DFDG_ACTION_READ_PERSON, /* read a person's master data */
};

/* Why something was denied. */
struct dfdg_denial {
    const char *rule; /* one of the rule names above (static string) */
    char msg[256];    /* English sentence for the problem's detail; no CPR numbers */
};

struct dfdg_relations;

/* One access question: may actor do action on type for person at day? */
struct dfdg_access_q {
    const struct dfdg_actor *actor;   /* who asks */
    enum dfdg_action action;          /* what */
    const struct dfdg_type *type;     /* the information type (REPORT, READ) */
    int64_t person_id;                /* the subject person, 0 for a company */
    const char *owner;                /* READ: the org that owns the record chain */
    int32_t day;                      /* REPORT: valid_from; READ: the day of the read */
    int32_t grace_days;               /* READ: access kept after a relationship ended */
    const struct dfdg_relations *rel; /* READ: relations already computed, or NULL */
};

/*
 * The access decision: every allow and deny in dfdg goes through here. DFDG_OK when allowed,
 * DFDG_DENIED with why naming the rule, or a store error. (Routing derives its recipients from
 * the same relationships: see exchange/route.c.)
 */
dfdg_err dfdg_authz_decide(struct dfdg_store *s, const struct dfdg_access_q *q,
                           struct dfdg_denial *why /* OUT */);

/*
 * Builds an actor from verified claims: parses the org id into kind and code. DFDG_UNAUTH for
 * an org id of unknown shape. (Whether the org exists is the caller's check.)
 */
dfdg_err dfdg_actor_from_claims(const struct dfdg_claims *c, struct dfdg_actor *out /* OUT */,
                                struct dfdg_errinfo *ei);

/*
 * May actor a report a record of type t about person_id (0 for a company subject) valid from
 * valid_from? DFDG_OK, DFDG_DENIED with why filled, or a store error.
 */
dfdg_err dfdg_authz_may_report(struct dfdg_store *s, const struct dfdg_actor *a,
                               const struct dfdg_type *t, int64_t person_id, int32_t valid_from,
                               struct dfdg_denial *why /* OUT */);

/* The relationships of the actor's org to one person on one day. */
struct dfdg_relations {
    int64_t person_id; /* the person */
    bool resident;     /* kommune: the person lives there */
    bool member;       /* a-kasse: the person is a member */
    bool referred;     /* other actor: the person is referred to it */
    bool self;         /* citizen: it is the citizen */
};
dfdg_err dfdg_authz_relations(struct dfdg_store *s, const struct dfdg_actor *a, int64_t person_id,
                              int32_t day, struct dfdg_relations *out /* OUT */);

/*
 * The relations that decide reads on day: those of dfdg_authz_relations, and with
 * grace_days > 0 also those that held on any day of the grace_days before, so an org keeps
 * read access for the grace period after a move or a change of a-kasse (default none: access
 * ends on the day).
 */
dfdg_err dfdg_authz_relations_for_read(struct dfdg_store *s, const struct dfdg_actor *a,
                                       int64_t person_id, int32_t day, int32_t grace_days,
                                       struct dfdg_relations *out /* OUT */);

/*
 * May actor a read a record of type t whose chain belongs to owner (the reporter of its
 * original), given the relations? Pure function; fills why when denying.
 */
bool dfdg_authz_may_read(const struct dfdg_actor *a, const struct dfdg_type *t, const char *owner,
                         const struct dfdg_relations *rel, struct dfdg_denial *why /* OUT */);
/* May actor a see the person's master data at all (any relationship, STAR, self)? */
bool dfdg_authz_may_read_person(const struct dfdg_actor *a, const struct dfdg_relations *rel,
                                struct dfdg_denial *why /* OUT */);
/* Whether protected addresses are masked for this caller (a-kasser, other actors, research). */
bool dfdg_authz_masks_address(const struct dfdg_actor *a);

#endif
