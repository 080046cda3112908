/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_serve.c: `dfdg serve`: checks the catalog, starts the HTTP server, and on SIGTERM or
 * SIGINT stops accepting, finishes in-flight requests (their commits included) and exits 0.
 */
#include "core/dfdg.h"
#include "api/api.h"
#include "cli/cli.h"
#include "cli/config.h"
#include "core/log.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>

static const char help[] =
    "usage: dfdg serve --db PATH [--listen ADDR:PORT] [options]\n\n"
    "Runs the dfdg HTTP API (DESIGN section 5) on the database. Logs go to stderr, one line\n"
    "an event. SIGTERM or SIGINT: stop accepting, finish in-flight requests, exit 0.\n\n"
    "options:\n"
    "  --db PATH            the database made by 'dfdg init'\n"
    "  --listen ADDR:PORT   where to listen (default 127.0.0.1:8080; port 0 picks one)\n"
    "  --catalog DIR        load the information types from DIR instead of the built-in\n"
    "                       catalog (checked the same way: a broken catalog stops dfdg)\n"
    "  --threads N          server threads (default: 2 per CPU, at least 4)\n"
    "  --max-body BYTES     largest single-record body (default 1048576)\n"
    "  --max-batch N        most records in one batch (default 10000)\n"
    "  --writer-queue N     most write requests waiting for the writer (default 4096);\n"
    "                       beyond it requests are answered 503 with Retry-After\n"
    "  --connection-timeout SECONDS  close a connection idle this long (default 30)\n"
    "  --request-timeout SECONDS  close a connection whose request (headers and body) has\n"
    "                       not fully arrived this long after it began (default 120)\n"
    "  --access-grace-days N  days a kommune or a-kasse keeps read access to a person after\n"
    "                       a move or a change of a-kasse (default 0: it ends that day)\n"
    "  --log-level LEVEL    debug, info, warn or error (default info)\n"
    "  --config FILE        read settings from a JSON file (below); options given on the\n"
    "                       command line override the file's\n"
    "  --help               show this help\n\n"
    "config file: one JSON object; every key is optional. These mirror the options above:\n"
    "  \"db\", \"listen\", \"catalog\", \"log_level\" (strings), \"threads\", \"max_body\",\n"
    "  \"max_batch\", \"writer_queue\", \"connection_timeout\", \"request_timeout\",\n"
    "  \"access_grace_days\" (numbers). HTTPS is set in the file only:\n"
    "  \"tls\": {\n"
    "    \"cert\": PATH, \"key\": PATH          the server certificate (chain) and its\n"
    "                                       unencrypted private key, PEM files\n"
    "    \"client_ca\": PATH                  require client certificates issued by these\n"
    "                                       CAs (PEM) on routes that need authentication\n"
    "    \"client_orgs\": {SUBJECT: ORG, ...} the org a certificate acts as: SUBJECT is its\n"
    "                                       subject DN (RFC 4514, \"CN=x,O=y,C=DK\") or CN,\n"
    "                                       ORG an org id such as \"kommune:101\"\n"
    "    \"allow_bearer\": true|false}        with client_ca: also accept bearer tokens from\n"
    "                                       clients without a certificate (default false)\n"
    "  Paths are used as given (relative to the working directory). The key is wiped from\n"
    "  memory once the server runs; no file's contents are ever printed.\n\n"
    "exit status: 0 stopped by SIGTERM/SIGINT; 1 cannot start (database, catalog,\n"
    "certificate files, address); 2 bad options or a bad config file (the key is named).\n";

/* The --config file's settings; cfg borrows its strings. File scope so that it stays
 * reachable (not a leak) on the early returns until the process ends. */
static struct dfdg_cli_config *file_config;

static bool
parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v == 0 || v > (1ull << 40))
        return false;
    *out = (size_t)v;
    return true;
}

int
dfdg_cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"catalog", required_argument, NULL, 'c'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"max-body", required_argument, NULL, 'b'},
                                         {"max-batch", required_argument, NULL, 'n'},
                                         {"writer-queue", required_argument, NULL, 'q'},
                                         {"log-level", required_argument, NULL, 'v'},
                                         {"access-grace-days", required_argument, NULL, 'g'},
                                         {"connection-timeout", required_argument, NULL, 'T'},
                                         {"request-timeout", required_argument, NULL, 'R'},
                                         {"config", required_argument, NULL, 'C'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    struct dfdg_server_config cfg;
    dfdg_server_config_defaults(&cfg);
    const char *catalog_dir = NULL;
    size_t n;
    int c;
    /* --config first, in a quiet pass of its own, so the options given with it override the
     * file's settings in the real pass below (optind = 0 restarts glibc's getopt). */
    const char *config_path = NULL;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
        if (c == 'C')
            config_path = optarg;
    opterr = 1;
    optind = 0;
    if (config_path != NULL) {
        struct dfdg_errinfo cei = {0};
        dfdg_err crc = dfdg_cli_config_load(config_path, &file_config, &cei);
        if (crc != DFDG_OK) {
            dfdg_cli_fail("serve", crc, &cei);
            return DFDG_EXIT_USAGE;
        }
        dfdg_cli_config_apply(file_config, &cfg, &catalog_dir);
    }
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            cfg.store_uri = optarg;
            break;
        case 'l':
            cfg.listen = optarg;
            break;
        case 'c':
            catalog_dir = optarg;
            break;
        case 't':
            if (!parse_size(optarg, &n) || n > 256) {
                fprintf(stderr, "dfdg serve: --threads must be 1 to 256\n");
                return DFDG_EXIT_USAGE;
            }
            cfg.threads = (unsigned)n;
            break;
        case 'b':
            if (!parse_size(optarg, &cfg.max_body)) {
                fprintf(stderr, "dfdg serve: --max-body must be a positive number of bytes\n");
                return DFDG_EXIT_USAGE;
            }
            break;
        case 'n':
            if (!parse_size(optarg, &cfg.max_batch_lines)) {
                fprintf(stderr, "dfdg serve: --max-batch must be a positive number\n");
                return DFDG_EXIT_USAGE;
            }
            break;
        case 'q':
            if (!parse_size(optarg, &cfg.writer_queue) || cfg.writer_queue > 1000000) {
                fprintf(stderr, "dfdg serve: --writer-queue must be 1 to 1000000\n");
                return DFDG_EXIT_USAGE;
            }
            break;
        case 'T':
            if (!parse_size(optarg, &n) || n > 3600) {
                fprintf(stderr, "dfdg serve: --connection-timeout must be 1 to 3600 seconds\n");
                return DFDG_EXIT_USAGE;
            }
            cfg.connection_timeout = (unsigned)n;
            break;
        case 'R':
            if (!parse_size(optarg, &n) || n > 3600) {
                fprintf(stderr, "dfdg serve: --request-timeout must be 1 to 3600 seconds\n");
                return DFDG_EXIT_USAGE;
            }
            cfg.request_timeout = (unsigned)n;
            break;
        case 'g':
            if (!parse_size(optarg, &n) || n > 365) {
                if (strcmp(optarg, "0") != 0) {
                    fprintf(stderr, "dfdg serve: --access-grace-days must be 0 to 365\n");
                    return DFDG_EXIT_USAGE;
                }
                n = 0;
            }
            cfg.access_grace_days = (int32_t)n;
            break;
        case 'v':
            if (strcmp(optarg, "debug") == 0)
                dfdg_log_set_level(DFDG_LOG_DEBUG);
            else if (strcmp(optarg, "info") == 0)
                dfdg_log_set_level(DFDG_LOG_INFO);
            else if (strcmp(optarg, "warn") == 0)
                dfdg_log_set_level(DFDG_LOG_WARN);
            else if (strcmp(optarg, "error") == 0)
                dfdg_log_set_level(DFDG_LOG_ERROR);
            else {
                fprintf(stderr, "dfdg serve: --log-level is debug, info, warn or error\n");
                return DFDG_EXIT_USAGE;
            }
            break;
        case 'C':
            break; /* read above */
        case 'h':
            fputs(help, stdout);
            return DFDG_EXIT_OK;
        default:
            fputs(help, stderr);
            return DFDG_EXIT_USAGE;
        }
    }
    if (cfg.store_uri == NULL || optind != argc) {
        fputs(help, stderr);
        return DFDG_EXIT_USAGE;
    }
    if (sodium_init() < 0)
        return DFDG_EXIT_FAIL;
    struct dfdg_catalog *cat = dfdg_cli_load_catalog("serve", catalog_dir);
    if (cat == NULL)
        return DFDG_EXIT_FAIL;
    cfg.cat = cat;

    /* Block the stop signals in every thread; this one waits for them with sigwait. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct dfdg_server *srv = NULL;
    struct dfdg_errinfo ei = {0};
    dfdg_err rc = dfdg_server_start(&cfg, &srv, &ei);
    if (rc != DFDG_OK) {
        dfdg_cli_fail("serve", rc, &ei);
        dfdg_catalog_free(cat);
        return DFDG_EXIT_FAIL;
    }
    dfdg_log(DFDG_LOG_INFO, "serve.ready", "listen=%s port=%u types=%zu", cfg.listen,
             dfdg_server_port(srv), cat->ntypes);
    int sig = 0;
    sigwait(&stop, &sig);
    dfdg_log(DFDG_LOG_INFO, "serve.stopping", "signal=%d", sig);
    dfdg_server_stop(srv, 10);
    dfdg_catalog_free(cat);
    dfdg_cli_config_free(file_config);
    dfdg_log(DFDG_LOG_INFO, "serve.stopped", "ok=1");
    return DFDG_EXIT_OK;
}
