/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_insight.c: placeholder until `dfdg insight` lands.
 */
#include "core/dfdg.h"
#include "cli/cli.h"

int
dfdg_cmd_insight(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "dfdg insight: not implemented yet\n");
    return DFDG_EXIT_FAIL;
}
