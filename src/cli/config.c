/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.c: the configuration file of `dfdg serve --config FILE` (format in config.h). The
 * file is JSON (RFC 8259) read with jansson, duplicate keys refused; each key is checked for
 * its type and range and every problem is reported with the file's name and the key, so an
 * operator can fix it without reading the source. The file names files (certificate, key,
 * CA) but never holds key material, so nothing here is secret and messages may quote keys.
 */
#include "core/dfdg.h"
#include "cli/config.h"

#include <errno.h>
#include <jansson.h>

#define CONFIG_MAX_BYTES (1u << 20)  /* a larger file is refused */
#define CONFIG_MAX_CLIENT_ORGS 10000 /* most entries in tls.client_orgs */

/* key as it may be printed: control characters and quotes become '?', long keys are cut. */
static const char *
printable(const char *key, char *buf, size_t size)
{
    size_t i = 0;
    for (const unsigned char *p = (const unsigned char *)key; *p != '\0' && i + 1 < size; p++)
        buf[i++] = (*p < 0x20 || *p == 0x7f || *p == '"') ? '?' : (char)*p;
    buf[i] = '\0';
    return buf;
}

static dfdg_err
get_string(const char *name, const char *key, json_t *v, char **dst /* OUT */,
           struct dfdg_errinfo *ei)
{
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        strlen(json_string_value(v)) != json_string_length(v))
        return dfdg_errinfo_set(ei, DFDG_INVAL, "%s: \"%s\" must be a non-empty string", name, key);
    free(*dst);
    *dst = strdup(json_string_value(v));
    return *dst != NULL ? DFDG_OK : DFDG_NOMEM;
}

static dfdg_err
get_int(const char *name, const char *key, json_t *v, long long lo, long long hi,
        long long *dst /* OUT */, struct dfdg_errinfo *ei)
{
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return dfdg_errinfo_set(ei, DFDG_INVAL,
                                "%s: \"%s\" must be a whole number from %lld to %lld", name, key,
                                lo, hi);
    *dst = json_integer_value(v);
    return DFDG_OK;
}

static dfdg_err
parse_log_level(const char *name, json_t *v, enum dfdg_log_level *out /* OUT */,
                struct dfdg_errinfo *ei)
{
    static const struct {
        const char *name;
        enum dfdg_log_level level;
    } levels[] = {{"debug", DFDG_LOG_DEBUG},
                  {"info", DFDG_LOG_INFO},
                  {"warn", DFDG_LOG_WARN},
                  {"error", DFDG_LOG_ERROR}};
    const char *s = json_string_value(v);
    for (size_t i = 0; s != NULL && i < DFDG_ARRAY_LEN(levels); i++) {
        if (strcmp(s, levels[i].name) == 0) {
            *out = levels[i].level;
            return DFDG_OK;
        }
    }
    return dfdg_errinfo_set(ei, DFDG_INVAL,
                            "%s: \"log_level\" must be \"debug\", \"info\", \"warn\" or \"error\"",
                            name);
}

static dfdg_err
parse_client_orgs(const char *name, json_t *obj, struct dfdg_cli_config *f, struct dfdg_errinfo *ei)
{
    if (!json_is_object(obj))
        return dfdg_errinfo_set(ei, DFDG_INVAL,
                                "%s: \"tls.client_orgs\" must be an object of "
                                "\"<subject DN or CN>\": \"<org id>\"",
                                name);
    size_t n = json_object_size(obj);
    if (n > CONFIG_MAX_CLIENT_ORGS)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "%s: \"tls.client_orgs\" has more than %u entries",
                                name, CONFIG_MAX_CLIENT_ORGS);
    f->tls_client_orgs = calloc(n > 0 ? n : 1, sizeof *f->tls_client_orgs);
    if (f->tls_client_orgs == NULL)
        return DFDG_NOMEM;
    const char *subject;
    json_t *v;
    json_object_foreach(obj, subject, v)
    {
        char shown[96];
        if (subject[0] == '\0')
            return dfdg_errinfo_set(ei, DFDG_INVAL, "%s: \"tls.client_orgs\" has an empty subject",
                                    name);
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            strlen(json_string_value(v)) != json_string_length(v))
            return dfdg_errinfo_set(ei, DFDG_INVAL,
                                    "%s: \"tls.client_orgs\": the org of \"%s\" must be a "
                                    "non-empty string such as \"kommune:101\"",
                                    name, printable(subject, shown, sizeof shown));
        struct dfdg_tls_client_org *m = &f->tls_client_orgs[f->tls_nclient_orgs];
        m->subject = strdup(subject);
        m->org = strdup(json_string_value(v));
        f->tls_nclient_orgs++;
        if (m->subject == NULL || m->org == NULL)
            return DFDG_NOMEM;
    }
    return DFDG_OK;
}

static dfdg_err
parse_tls(const char *name, json_t *obj, struct dfdg_cli_config *f, struct dfdg_errinfo *ei)
{
    if (!json_is_object(obj))
        return dfdg_errinfo_set(ei, DFDG_INVAL, "%s: \"tls\" must be an object", name);
    f->has_tls = true;
    bool has_bearer = false;
    const char *key;
    json_t *v;
    dfdg_err rc = DFDG_OK;
    json_object_foreach(obj, key, v)
    {
        char shown[96];
        if (strcmp(key, "cert") == 0) {
            rc = get_string(name, "tls.cert", v, &f->tls_cert, ei);
        } else if (strcmp(key, "key") == 0) {
            rc = get_string(name, "tls.key", v, &f->tls_key, ei);
        } else if (strcmp(key, "client_ca") == 0) {
            rc = get_string(name, "tls.client_ca", v, &f->tls_client_ca, ei);
        } else if (strcmp(key, "client_orgs") == 0) {
            rc = parse_client_orgs(name, v, f, ei);
        } else if (strcmp(key, "allow_bearer") == 0) {
            if (!json_is_boolean(v))
                return dfdg_errinfo_set(ei, DFDG_INVAL,
                                        "%s: \"tls.allow_bearer\" must be true or false", name);
            f->tls_allow_bearer = json_is_true(v);
            has_bearer = true;
        } else {
            return dfdg_errinfo_set(ei, DFDG_INVAL,
                                    "%s: unknown key \"tls.%s\" (known: cert, key, client_ca, "
                                    "client_orgs, allow_bearer)",
                                    name, printable(key, shown, sizeof shown));
        }
        if (rc != DFDG_OK)
            return rc;
    }
    if (f->tls_cert == NULL || f->tls_key == NULL)
        return dfdg_errinfo_set(
            ei, DFDG_INVAL, "%s: \"tls\" needs both \"cert\" and \"key\" (PEM file paths)", name);
    if (f->tls_client_ca == NULL && (f->tls_client_orgs != NULL || has_bearer))
        return dfdg_errinfo_set(ei, DFDG_INVAL,
                                "%s: \"tls.%s\" needs \"tls.client_ca\" (client certificates are "
                                "only asked for when a CA to verify them is set)",
                                name, f->tls_client_orgs != NULL ? "client_orgs" : "allow_bearer");
    return DFDG_OK;
}

/* One top-level key. */
static dfdg_err
parse_key(const char *name, const char *key, json_t *v, struct dfdg_cli_config *f,
          struct dfdg_errinfo *ei)
{
    long long n = 0;
    dfdg_err rc;
    if (strcmp(key, "db") == 0)
        return get_string(name, key, v, &f->db, ei);
    if (strcmp(key, "listen") == 0)
        return get_string(name, key, v, &f->listen, ei);
    if (strcmp(key, "catalog") == 0)
        return get_string(name, key, v, &f->catalog, ei);
    if (strcmp(key, "threads") == 0) {
        rc = get_int(name, key, v, 1, 256, &n, ei);
        f->threads = (unsigned)n;
        f->has_threads = rc == DFDG_OK;
        return rc;
    }
    if (strcmp(key, "max_body") == 0) {
        rc = get_int(name, key, v, 1, 1ll << 40, &n, ei);
        f->max_body = (size_t)n;
        f->has_max_body = rc == DFDG_OK;
        return rc;
    }
    if (strcmp(key, "max_batch") == 0) {
        rc = get_int(name, key, v, 1, 1ll << 40, &n, ei);
        f->max_batch = (size_t)n;
        f->has_max_batch = rc == DFDG_OK;
        return rc;
    }
    if (strcmp(key, "writer_queue") == 0) {
        rc = get_int(name, key, v, 1, 1000000, &n, ei);
        f->writer_queue = (size_t)n;
        f->has_writer_queue = rc == DFDG_OK;
        return rc;
    }
    if (strcmp(key, "connection_timeout") == 0) {
        rc = get_int(name, key, v, 1, 3600, &n, ei);
        f->connection_timeout = (unsigned)n;
        f->has_connection_timeout = rc == DFDG_OK;
        return rc;
    }
    if (strcmp(key, "request_timeout") == 0) {
        rc = get_int(name, key, v, 1, 3600, &n, ei);
        f->request_timeout = (unsigned)n;
        f->has_request_timeout = rc == DFDG_OK;
        return rc;
    }
    if (strcmp(key, "access_grace_days") == 0) {
        rc = get_int(name, key, v, 0, 365, &n, ei);
        f->access_grace_days = (int32_t)n;
        f->has_access_grace_days = rc == DFDG_OK;
        return rc;
    }
    if (strcmp(key, "log_level") == 0) {
        rc = parse_log_level(name, v, &f->log_level, ei);
        f->has_log_level = rc == DFDG_OK;
        return rc;
    }
    if (strcmp(key, "tls") == 0)
        return parse_tls(name, v, f, ei);
    char shown[96];
    return dfdg_errinfo_set(ei, DFDG_INVAL,
                            "%s: unknown key \"%s\" (known: db, listen, threads, max_body, "
                            "max_batch, writer_queue, connection_timeout, request_timeout, "
                            "access_grace_days, log_level, catalog, tls)",
                            name, printable(key, shown, sizeof shown));
}

dfdg_err
dfdg_cli_config_parse(const char *text, size_t len, const char *name, struct dfdg_cli_config **out,
                      struct dfdg_errinfo *ei)
{
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return dfdg_errinfo_set(ei, DFDG_INVAL, "%s:%d:%d: not valid JSON: %s", name, jerr.line,
                                jerr.column, jerr.text);
    dfdg_err rc = DFDG_OK;
    struct dfdg_cli_config *f = NULL;
    if (!json_is_object(root)) {
        rc = dfdg_errinfo_set(ei, DFDG_INVAL, "%s: the file must hold one JSON object", name);
        goto free_root;
    }
    f = calloc(1, sizeof *f);
    if (f == NULL) {
        rc = DFDG_NOMEM;
        goto free_root;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        rc = parse_key(name, key, v, f, ei);
        if (rc != DFDG_OK)
            break;
    }
    if (rc != DFDG_OK) {
        dfdg_cli_config_free(f);
        f = NULL;
    }
free_root:
    json_decref(root);
    *out = f;
    return rc;
}

dfdg_err
dfdg_cli_config_load(const char *path, struct dfdg_cli_config **out, struct dfdg_errinfo *ei)
{
    *out = NULL;
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return dfdg_errinfo_set(ei, DFDG_IO, "cannot read the config file %s: %s", path,
                                strerror(errno));
    dfdg_err rc = DFDG_OK;
    char *text = malloc(CONFIG_MAX_BYTES + 1);
    if (text == NULL) {
        rc = DFDG_NOMEM;
        goto close_file;
    }
    size_t n = fread(text, 1, CONFIG_MAX_BYTES + 1, fp);
    if (ferror(fp)) {
        rc = dfdg_errinfo_set(ei, DFDG_IO, "cannot read the config file %s: %s", path,
                              strerror(errno));
        goto free_text;
    }
    if (n > CONFIG_MAX_BYTES) {
        rc = dfdg_errinfo_set(ei, DFDG_INVAL, "%s: the config file is larger than %u bytes", path,
                              CONFIG_MAX_BYTES);
        goto free_text;
    }
    rc = dfdg_cli_config_parse(text, n, path, out, ei);
free_text:
    free(text);
close_file:
    fclose(fp);
    return rc;
}

void
dfdg_cli_config_apply(const struct dfdg_cli_config *f, struct dfdg_server_config *c,
                      const char **catalog_dir)
{
    if (f->db != NULL)
        c->store_uri = f->db;
    if (f->listen != NULL)
        c->listen = f->listen;
    if (f->catalog != NULL)
        *catalog_dir = f->catalog;
    if (f->has_threads)
        c->threads = f->threads;
    if (f->has_max_body)
        c->max_body = f->max_body;
    if (f->has_max_batch)
        c->max_batch_lines = f->max_batch;
    if (f->has_writer_queue)
        c->writer_queue = f->writer_queue;
    if (f->has_connection_timeout)
        c->connection_timeout = f->connection_timeout;
    if (f->has_request_timeout)
        c->request_timeout = f->request_timeout;
    if (f->has_access_grace_days)
        c->access_grace_days = f->access_grace_days;
    if (f->has_log_level)
        dfdg_log_set_level(f->log_level);
    if (f->has_tls) {
        c->tls_cert = f->tls_cert;
        c->tls_key = f->tls_key;
        c->tls_client_ca = f->tls_client_ca;
        c->tls_client_orgs = f->tls_client_orgs;
        c->tls_nclient_orgs = f->tls_nclient_orgs;
        c->tls_allow_bearer = f->tls_allow_bearer;
    }
}

void
dfdg_cli_config_free(struct dfdg_cli_config *f)
{
    if (f == NULL)
        return;
    free(f->db);
    free(f->listen);
    free(f->catalog);
    free(f->tls_cert);
    free(f->tls_key);
    free(f->tls_client_ca);
    for (size_t i = 0; i < f->tls_nclient_orgs; i++) {
        free((char *)f->tls_client_orgs[i].subject);
        free((char *)f->tls_client_orgs[i].org);
    }
    free(f->tls_client_orgs);
    free(f);
}
