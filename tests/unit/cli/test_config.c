/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_config.c: the `dfdg serve --config` file (cli/config.c): every key read and applied,
 * settings the file leaves out left alone, and each kind of mistake (bad JSON, unknown key,
 * wrong type, out of range, incomplete tls) refused with a message naming the key.
 *
 * src/cli is not part of dfdg_lib (it holds main()), so the unit under test is compiled in.
 */
#include "core/dfdg.h"
#include "cli/config.c"

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

static dfdg_err
parse(const char *text, struct dfdg_cli_config **out, struct dfdg_errinfo *ei)
{
    memset(ei, 0, sizeof *ei);
    return dfdg_cli_config_parse(text, strlen(text), "serve.json", out, ei);
}

/* The text must be refused, with a message that starts with the file name and holds want. */
static void
assert_refused(const char *text, const char *want)
{
    struct dfdg_cli_config *f = (void *)1;
    struct dfdg_errinfo ei;
    assert_int_equal(parse(text, &f, &ei), DFDG_INVAL);
    assert_null(f);
    if (strncmp(ei.msg, "serve.json", 10) != 0 || strstr(ei.msg, want) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", ei.msg, want);
}

static void
test_every_key_applied(void **state)
{
    (void)state;
    const char *text =
        "{\"db\": \"/var/lib/dfdg/hub.db\", \"listen\": \"0.0.0.0:8443\", \"threads\": 8,\n"
        " \"max_body\": 2048, \"max_batch\": 50, \"access_grace_days\": 14,\n"
        " \"writer_queue\": 16, \"connection_timeout\": 7, \"request_timeout\": 9,\n"
        " \"log_level\": \"warn\", \"catalog\": \"/etc/dfdg/catalog\",\n"
        " \"tls\": {\"cert\": \"server.pem\", \"key\": \"server.key\", \"client_ca\": \"ca.pem\",\n"
        "         \"client_orgs\": {\"CN=kk,O=Koebenhavns Kommune,C=DK\": \"kommune:101\",\n"
        "                         \"star-batch\": \"star\"},\n"
        "         \"allow_bearer\": true}}";
    struct dfdg_cli_config *f = NULL;
    struct dfdg_errinfo ei;
    assert_int_equal(parse(text, &f, &ei), DFDG_OK);
    struct dfdg_server_config c;
    dfdg_server_config_defaults(&c);
    const char *catalog = NULL;
    dfdg_cli_config_apply(f, &c, &catalog);
    assert_string_equal(c.store_uri, "/var/lib/dfdg/hub.db");
    assert_string_equal(c.listen, "0.0.0.0:8443");
    assert_int_equal(c.threads, 8);
    assert_int_equal(c.max_body, 2048);
    assert_int_equal(c.max_batch_lines, 50);
    assert_int_equal(c.access_grace_days, 14);
    assert_int_equal(c.writer_queue, 16);
    assert_int_equal(c.connection_timeout, 7);
    assert_int_equal(c.request_timeout, 9);
    assert_string_equal(catalog, "/etc/dfdg/catalog");
    assert_string_equal(c.tls_cert, "server.pem");
    assert_string_equal(c.tls_key, "server.key");
    assert_string_equal(c.tls_client_ca, "ca.pem");
    assert_true(c.tls_allow_bearer);
    assert_int_equal(c.tls_nclient_orgs, 2);
    bool kk = false, star = false;
    for (size_t i = 0; i < c.tls_nclient_orgs; i++) {
        const struct dfdg_tls_client_org *m = &c.tls_client_orgs[i];
        kk |= strcmp(m->subject, "CN=kk,O=Koebenhavns Kommune,C=DK") == 0 &&
              strcmp(m->org, "kommune:101") == 0;
        star |= strcmp(m->subject, "star-batch") == 0 && strcmp(m->org, "star") == 0;
    }
    assert_true(kk && star);
    assert_int_equal(f->log_level, DFDG_LOG_WARN);
    dfdg_log_set_level(DFDG_LOG_INFO);
    dfdg_cli_config_free(f);
}

static void
test_absent_keys_leave_defaults(void **state)
{
    (void)state;
    struct dfdg_cli_config *f = NULL;
    struct dfdg_errinfo ei;
    assert_int_equal(parse("{\"threads\": 3}", &f, &ei), DFDG_OK);
    struct dfdg_server_config c, d;
    dfdg_server_config_defaults(&c);
    dfdg_server_config_defaults(&d);
    c.store_uri = "given.db";
    const char *catalog = "given-dir";
    dfdg_cli_config_apply(f, &c, &catalog);
    assert_int_equal(c.threads, 3);
    assert_string_equal(c.store_uri, "given.db");
    assert_string_equal(catalog, "given-dir");
    assert_string_equal(c.listen, d.listen);
    assert_int_equal(c.max_body, d.max_body);
    assert_int_equal(c.max_batch_lines, d.max_batch_lines);
    assert_int_equal(c.access_grace_days, 0);
    assert_null(c.tls_cert); /* no "tls": plain HTTP */
    dfdg_cli_config_free(f);

    assert_int_equal(parse("{}", &f, &ei), DFDG_OK);
    dfdg_cli_config_free(f);
    assert_int_equal(parse("{\"tls\": {\"cert\": \"c.pem\", \"key\": \"k.pem\"}}", &f, &ei),
                     DFDG_OK);
    dfdg_server_config_defaults(&c);
    dfdg_cli_config_apply(f, &c, &catalog);
    assert_null(c.tls_client_ca);
    assert_int_equal(c.tls_nclient_orgs, 0);
    dfdg_cli_config_free(f);
    dfdg_cli_config_free(NULL);
}

static void
test_bad_json_names_line(void **state)
{
    (void)state;
    assert_refused("{\"db\": \"x.db\",\n \"threads\": }", "serve.json:2:");
    assert_refused("{\"db\": \"x.db\"", "not valid JSON");
    assert_refused("", "not valid JSON");
    assert_refused("{\"db\": \"a.db\", \"db\": \"b.db\"}", "duplicate");
    assert_refused("[1, 2]", "one JSON object");
    assert_refused("\"serve\"", "not valid JSON"); /* jansson wants an array or object */
}

static void
test_unknown_keys_named(void **state)
{
    (void)state;
    assert_refused("{\"db\": \"x.db\", \"treads\": 4}", "unknown key \"treads\"");
    assert_refused("{\"max-body\": 10}", "unknown key \"max-body\"");
    assert_refused("{\"tls\": {\"cert\": \"c\", \"key\": \"k\", \"ca\": \"x\"}}",
                   "unknown key \"tls.ca\"");
    assert_refused("{\"a\\nb\": 1}", "unknown key \"a?b\""); /* no control characters echoed */
}

static void
test_types_and_ranges(void **state)
{
    (void)state;
    assert_refused("{\"db\": 5}", "\"db\" must be a non-empty string");
    assert_refused("{\"listen\": \"\"}", "\"listen\" must be a non-empty string");
    assert_refused("{\"catalog\": \"a\\u0000b\"}", "not valid JSON"); /* NUL refused */
    assert_refused("{\"threads\": 0}", "\"threads\" must be a whole number from 1 to 256");
    assert_refused("{\"threads\": 257}", "\"threads\"");
    assert_refused("{\"threads\": 4.0}", "\"threads\"");
    assert_refused("{\"threads\": \"4\"}", "\"threads\"");
    assert_refused("{\"max_body\": -1}", "\"max_body\"");
    assert_refused("{\"max_batch\": 0}", "\"max_batch\"");
    assert_refused("{\"access_grace_days\": 366}", "\"access_grace_days\"");
    assert_refused("{\"writer_queue\": 0}", "\"writer_queue\"");
    assert_refused("{\"connection_timeout\": 3601}", "\"connection_timeout\"");
    assert_refused("{\"request_timeout\": 0}", "\"request_timeout\"");
    assert_refused("{\"log_level\": \"loud\"}", "\"log_level\" must be");
    assert_refused("{\"tls\": true}", "\"tls\" must be an object");
    assert_refused("{\"tls\": {\"cert\": \"c\", \"key\": \"k\", \"client_ca\": \"a\", "
                   "\"allow_bearer\": \"no\"}}",
                   "\"tls.allow_bearer\" must be true or false");
    assert_refused("{\"tls\": {\"cert\": \"c\", \"key\": \"k\", \"client_ca\": \"a\", "
                   "\"client_orgs\": [\"x\"]}}",
                   "\"tls.client_orgs\" must be an object");
    assert_refused("{\"tls\": {\"cert\": \"c\", \"key\": \"k\", \"client_ca\": \"a\", "
                   "\"client_orgs\": {\"CN=x\": 101}}}",
                   "the org of \"CN=x\" must be");
    assert_refused("{\"tls\": {\"cert\": \"c\", \"key\": \"k\", \"client_ca\": \"a\", "
                   "\"client_orgs\": {\"\": \"star\"}}}",
                   "empty subject");
    struct dfdg_cli_config *f = NULL;
    struct dfdg_errinfo ei;
    assert_int_equal(parse("{\"access_grace_days\": 0, \"max_body\": 1099511627776}", &f, &ei),
                     DFDG_OK);
    assert_true(f->has_access_grace_days);
    assert_int_equal(f->max_body, 1099511627776ull);
    dfdg_cli_config_free(f);
}

static void
test_incomplete_tls_refused(void **state)
{
    (void)state;
    assert_refused("{\"tls\": {\"cert\": \"c.pem\"}}", "needs both \"cert\" and \"key\"");
    assert_refused("{\"tls\": {\"key\": \"k.pem\"}}", "needs both \"cert\" and \"key\"");
    assert_refused("{\"tls\": {\"cert\": \"c\", \"key\": \"k\", \"client_orgs\": {}}}",
                   "\"tls.client_orgs\" needs \"tls.client_ca\"");
    assert_refused("{\"tls\": {\"cert\": \"c\", \"key\": \"k\", \"allow_bearer\": false}}",
                   "\"tls.allow_bearer\" needs \"tls.client_ca\"");
}

static void
test_load_from_file(void **state)
{
    (void)state;
    struct dfdg_cli_config *f = (void *)1;
    struct dfdg_errinfo ei = {0};
    assert_int_equal(dfdg_cli_config_load(DFDG_TEST_TMP "/no-such-config.json", &f, &ei), DFDG_IO);
    assert_null(f);
    assert_non_null(strstr(ei.msg, "no-such-config.json"));

    const char *path = DFDG_TEST_TMP "/test_config.json";
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("{\"listen\": \"127.0.0.1:9\", \"log_level\": \"debug\"}\n", fp);
    fclose(fp);
    memset(&ei, 0, sizeof ei);
    assert_int_equal(dfdg_cli_config_load(path, &f, &ei), DFDG_OK);
    assert_string_equal(f->listen, "127.0.0.1:9");
    assert_true(f->has_log_level && f->log_level == DFDG_LOG_DEBUG);
    dfdg_cli_config_free(f);

    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("{\"listen\": \"127.0.0.1:9\",\n\n  \"bogus\": 1}\n", fp);
    fclose(fp);
    memset(&ei, 0, sizeof ei);
    assert_int_equal(dfdg_cli_config_load(path, &f, &ei), DFDG_INVAL);
    assert_non_null(strstr(ei.msg, path));
    assert_non_null(strstr(ei.msg, "unknown key \"bogus\""));
    remove(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_key_applied),
        cmocka_unit_test(test_absent_keys_leave_defaults),
        cmocka_unit_test(test_bad_json_names_line),
        cmocka_unit_test(test_unknown_keys_named),
        cmocka_unit_test(test_types_and_ranges),
        cmocka_unit_test(test_incomplete_tls_refused),
        cmocka_unit_test(test_load_from_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
