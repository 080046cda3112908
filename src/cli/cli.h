/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cli.h: the subcommands of the dfdg binary (DESIGN section 5, command line). Each takes
 * argc/argv after its own name, prints its --help on request, and returns the exit status:
 * 0 success, 1 failure, 2 bad usage.
 */
#ifndef DFDG_CLI_CLI_H
#define DFDG_CLI_CLI_H

#include "core/dfdg.h"
#include "catalog/catalog.h"

#define DFDG_EXIT_OK 0
#define DFDG_EXIT_FAIL 1
#define DFDG_EXIT_USAGE 2

int dfdg_cmd_init(int argc, char **argv);
int dfdg_cmd_serve(int argc, char **argv);
int dfdg_cmd_token(int argc, char **argv);
int dfdg_cmd_cpr(int argc, char **argv);
int dfdg_cmd_seed(int argc, char **argv);
int dfdg_cmd_catalog(int argc, char **argv);
int dfdg_cmd_audit(int argc, char **argv);
int dfdg_cmd_insight(int argc, char **argv);
int dfdg_cmd_retention(int argc, char **argv);

/* Prints "dfdg <cmd>: <message>" to stderr for a failed rc (with ei's detail when set). */
void dfdg_cli_fail(const char *cmd, dfdg_err rc, const struct dfdg_errinfo *ei);
/* Loads the catalog from dir, or the built-in one when dir is NULL; prints errors. */
struct dfdg_catalog *dfdg_cli_load_catalog(const char *cmd, const char *dir);
/* Whether stderr is a terminal (progress lines are drawn only then). */
bool dfdg_cli_progress_enabled(void);

#endif
