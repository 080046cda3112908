/* SPDX-License-Identifier: Apache-2.0 */
/*
 * builtin.c: lookup of the reference data files compiled into the binary by cmake/embed.cmake
 * (data/kommuner.csv, data/akasser.csv). The table is short, so a linear search is enough.
 */
#include "core/dfdg.h"
#include "core/builtin.h"

const char *
dfdg_builtin_data(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < dfdg_builtin_data_count && dfdg_builtin_data_names[i] != NULL; i++)
        if (strcmp(dfdg_builtin_data_names[i], name) == 0)
            return dfdg_builtin_data_texts[i];
    return NULL;
}
