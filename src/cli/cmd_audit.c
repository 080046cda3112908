/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_audit.c: placeholder until `dfdg audit` lands.
 */
#include "core/dfdg.h"
#include "cli/cli.h"

int
dfdg_cmd_audit(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "dfdg audit: not implemented yet\n");
    return DFDG_EXIT_FAIL;
}
