/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c: the dfdg binary. Dispatches to the subcommands (commands as data: one table).
 */
#include "core/dfdg.h"
#include "cli/cli.h"

#include <unistd.h>

struct command {
    const char *name;         /* first word */
    int (*run)(int, char **); /* the subcommand */
    const char *summary;      /* one line for the overview */
};

static const struct command commands[] = {
    {"init", dfdg_cmd_init, "create a new database: schema, orgs, development token issuer"},
    {"serve", dfdg_cmd_serve, "run the hub's HTTP API"},
    {"token", dfdg_cmd_token, "print a development bearer token"},
    {"cpr", dfdg_cmd_cpr, "load CPR master data (cpr import)"},
    {"seed", dfdg_cmd_seed, "make a synthetic population with a record history"},
    {"catalog", dfdg_cmd_catalog, "check or print the information-type catalog"},
    {"audit", dfdg_cmd_audit, "verify the tamper-evident audit log (audit verify)"},
    {"insight", dfdg_cmd_insight, "everything held about a person (GDPR art. 15)"},
    {"retention", dfdg_cmd_retention, "delete records past their retention period"},
};

static void
usage(FILE *f)
{
    fprintf(f, "usage: dfdg <command> [options]\n\n"
               "dfdg is a register and exchange hub for employment data (modelled on\n"
               "Denmark's DFDG). Commands:\n\n");
    for (size_t i = 0; i < DFDG_ARRAY_LEN(commands); i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'dfdg <command> --help' for a command's options. Every command that takes\n"
               "--db PATH (SQLite) also takes --pg CONNINFO (PostgreSQL, when built with\n"
               "-DDFDG_PG=ON), e.g. --pg \"host=127.0.0.1 dbname=dfdg user=dfdg schema=hub\".\n");
}

void
dfdg_cli_fail(const char *cmd, dfdg_err rc, const struct dfdg_errinfo *ei)
{
    if (ei != NULL && ei->msg[0] != '\0')
        fprintf(stderr, "dfdg %s: %s\n", cmd, ei->msg);
    else
        fprintf(stderr, "dfdg %s: %s\n", cmd, dfdg_err_message(rc));
}

struct dfdg_catalog *
dfdg_cli_load_catalog(const char *cmd, const char *dir)
{
    struct dfdg_catalog *cat = NULL;
    struct dfdg_errinfo ei = {0};
    dfdg_err rc =
        dir != NULL ? dfdg_catalog_load_dir(dir, &cat, &ei) : dfdg_catalog_load_builtin(&cat, &ei);
    if (rc != DFDG_OK) {
        fprintf(stderr, "dfdg %s: broken catalog: %s\n", cmd, ei.msg);
        return NULL;
    }
    return cat;
}

bool
dfdg_cli_progress_enabled(void)
{
    return isatty(STDERR_FILENO) != 0;
}

/*
 * "--pg CONNINFO" is "--db postgres:CONNINFO" for every command (DESIGN section 5), rewritten
 * here once so each command only knows --db. The strings live as long as the process.
 */
static void
rewrite_pg_option(int argc, char **argv)
{
    static char buf[4096];
    size_t used = 0;
    for (int i = 1; i < argc; i++) {
        const char *prefix, *conninfo;
        if (strcmp(argv[i], "--pg") == 0 && i + 1 < argc) {
            argv[i] = (char *)"--db";
            prefix = "postgres:";
            conninfo = argv[++i];
        } else if (strncmp(argv[i], "--pg=", 5) == 0) {
            prefix = "--db=postgres:";
            conninfo = argv[i] + 5;
        } else {
            continue;
        }
        int n = snprintf(buf + used, sizeof buf - used, "%s%s", prefix, conninfo);
        if (n < 0 || (size_t)n >= sizeof buf - used)
            continue; /* too long: left as it is, and the command refuses the option */
        argv[i] = buf + used;
        used += (size_t)n + 1;
    }
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return DFDG_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return DFDG_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("dfdg 0.1.0\n");
        return DFDG_EXIT_OK;
    }
    rewrite_pg_option(argc, argv);
    for (size_t i = 0; i < DFDG_ARRAY_LEN(commands); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "dfdg: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return DFDG_EXIT_USAGE;
}
