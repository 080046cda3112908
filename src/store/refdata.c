/* SPDX-License-Identifier: Apache-2.0 */
/*
 * refdata.c: parsing the built-in CSV reference lists (RFC 4180: comma-separated, fields may
 * be double-quoted with "" for a quote) into orgs.
 */
#include "core/dfdg.h"
#include "store/refdata.h"
#include "core/builtin.h"

#define MAX_COLS 8

/* Splits one CSV line at *p into cols (copied into buf); advances *p past the line. Returns
 * the number of columns, or -1 on a malformed line. */
static int
csv_line(const char **p, char *buf, size_t bufsize, char *cols[MAX_COLS])
{
    const char *s = *p;
    size_t o = 0;
    int n = 0;
    cols[n++] = buf;
    for (;;) {
        if (*s == '"') {
            s++;
            for (;;) {
                if (*s == '\0')
                    return -1;
                if (*s == '"' && s[1] == '"') {
                    s += 2;
                    if (o + 1 >= bufsize)
                        return -1;
                    buf[o++] = '"';
                } else if (*s == '"') {
                    s++;
                    break;
                } else {
                    if (o + 1 >= bufsize)
                        return -1;
                    buf[o++] = *s++;
                }
            }
        }
        while (*s != ',' && *s != '\n' && *s != '\r' && *s != '\0') {
            if (o + 1 >= bufsize)
                return -1;
            buf[o++] = *s++;
        }
        if (o + 1 >= bufsize)
            return -1;
        buf[o++] = '\0';
        if (*s == ',') {
            s++;
            if (n == MAX_COLS)
                return -1;
            cols[n++] = buf + o;
            continue;
        }
        while (*s == '\r' || *s == '\n')
            s++;
        *p = s;
        return n;
    }
}

static dfdg_err
add_org(struct dfdg_org **orgs, size_t *n, size_t *cap, const char *kind, const char *code,
        const char *name)
{
    if (*n == *cap) {
        size_t nc = *cap != 0 ? *cap * 2 : 128;
        struct dfdg_org *grown = realloc(*orgs, nc * sizeof **orgs);
        if (grown == NULL)
            return DFDG_NOMEM;
        *orgs = grown;
        *cap = nc;
    }
    struct dfdg_org *o = &(*orgs)[(*n)++];
    memset(o, 0, sizeof *o);
    if (code != NULL)
        snprintf(o->id, sizeof o->id, "%s:%s", kind, code);
    else
        dfdg_strlcpy(o->id, kind, sizeof o->id);
    dfdg_strlcpy(o->kind, kind, sizeof o->kind);
    dfdg_strlcpy(o->name, name, sizeof o->name);
    return DFDG_OK;
}

static dfdg_err
parse_list(const char *file, const char *kind, const char *suffix, struct dfdg_org **orgs,
           size_t *n, size_t *cap, struct dfdg_errinfo *ei)
{
    const char *text = dfdg_builtin_data(file);
    if (text == NULL)
        return dfdg_errinfo_set(ei, DFDG_CORRUPT, "built-in %s is missing", file);
    char buf[512];
    char *cols[MAX_COLS];
    const char *p = text;
    int line = 0;
    while (*p != '\0') {
        line++;
        int nc = csv_line(&p, buf, sizeof buf, cols);
        if (nc < 2)
            return dfdg_errinfo_set(ei, DFDG_CORRUPT, "%s line %d is malformed", file, line);
        if (line == 1)
            continue; /* header */
        char name[128];
        snprintf(name, sizeof name, "%s%s", cols[1], suffix);
        dfdg_err rc = add_org(orgs, n, cap, kind, cols[0], name);
        if (rc != DFDG_OK)
            return rc;
    }
    return DFDG_OK;
}

dfdg_err
dfdg_refdata_orgs(struct dfdg_org **out, size_t *n, struct dfdg_errinfo *ei)
{
    struct dfdg_org *orgs = NULL;
    size_t cnt = 0, cap = 0;
    dfdg_err rc = parse_list("kommuner.csv", "kommune", " Kommune", &orgs, &cnt, &cap, ei);
    if (rc == DFDG_OK)
        rc = parse_list("akasser.csv", "akasse", "", &orgs, &cnt, &cap, ei);
    if (rc == DFDG_OK)
        rc =
            add_org(&orgs, &cnt, &cap, "star", NULL, "Styrelsen for Arbejdsmarked og Rekruttering");
    if (rc == DFDG_OK)
        rc = add_org(&orgs, &cnt, &cap, "dst", NULL, "Danmarks Statistik");
    if (rc == DFDG_OK)
        rc = add_org(&orgs, &cnt, &cap, "udk", NULL, "Udbetaling Danmark");
    if (rc != DFDG_OK) {
        free(orgs);
        return rc;
    }
    *out = orgs;
    *n = cnt;
    return DFDG_OK;
}

dfdg_err
dfdg_refdata_install(struct dfdg_store *s, struct dfdg_errinfo *ei)
{
    struct dfdg_org *orgs;
    size_t n;
    dfdg_err rc = dfdg_refdata_orgs(&orgs, &n, ei);
    if (rc != DFDG_OK)
        return rc;
    for (size_t i = 0; i < n && rc == DFDG_OK; i++)
        rc = dfdg_store_org_put(s, &orgs[i]);
    free(orgs);
    return rc;
}
