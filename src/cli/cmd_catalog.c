/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_catalog.c: `dfdg catalog check [--catalog DIR]` and `dfdg catalog show [CODE]`.
 */
#include "core/dfdg.h"
#include "cli/cli.h"

#include <getopt.h>

static const char help[] =
    "usage: dfdg catalog check [--catalog DIR]\n"
    "       dfdg catalog show [--catalog DIR] [CODE]\n\n"
    "check: loads and checks the catalog (the built-in one, or DIR); a broken catalog is\n"
    "named by file and entry, and the exit status is 1.\n"
    "show: prints the catalog (or one type) as JSON, as GET /v1/catalog serves it.\n\n"
    "options:\n"
    "  --catalog DIR   a folder of <code>.json type files\n"
    "  --help          show this help\n";

int
dfdg_cmd_catalog(int argc, char **argv)
{
    static const struct option opts[] = {
        {"catalog", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'}, {0}};
    const char *dir = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'c') {
            dir = optarg;
        } else if (c == 'h') {
            fputs(help, stdout);
            return DFDG_EXIT_OK;
        } else {
            fputs(help, stderr);
            return DFDG_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fputs(help, stderr);
        return DFDG_EXIT_USAGE;
    }
    const char *verb = argv[optind];
    bool show = strcmp(verb, "show") == 0;
    if ((!show && strcmp(verb, "check") != 0) || argc - optind > (show ? 2 : 1)) {
        fputs(help, stderr);
        return DFDG_EXIT_USAGE;
    }
    struct dfdg_catalog *cat = dfdg_cli_load_catalog("catalog", dir);
    if (cat == NULL)
        return DFDG_EXIT_FAIL;
    int status = DFDG_EXIT_OK;
    if (!show) {
        fprintf(stderr, "dfdg catalog: %zu information types, all valid\n", cat->ntypes);
    } else {
        json_t *j = cat->json;
        if (argc - optind == 2) {
            const struct dfdg_type *t = dfdg_catalog_find(cat, argv[optind + 1]);
            if (t == NULL) {
                fprintf(stderr, "dfdg catalog: no information type '%s'\n", argv[optind + 1]);
                status = DFDG_EXIT_FAIL;
                goto done;
            }
            j = t->json;
        }
        json_dumpf(j, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
    }
done:
    dfdg_catalog_free(cat);
    return status;
}
