/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_retention.c: placeholder until `dfdg retention` lands.
 */
#include "core/dfdg.h"
#include "cli/cli.h"

int
dfdg_cmd_retention(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "dfdg retention: not implemented yet\n");
    return DFDG_EXIT_FAIL;
}
