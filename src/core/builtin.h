/* SPDX-License-Identifier: Apache-2.0 */
/*
 * builtin.h: files compiled into the binary by cmake/embed.cmake: the catalog types
 * (every catalog/types/NAME.json) and the reference lists (data/kommuner.csv, data/akasser.csv).
 * Each table is NULL-terminated and has count entries; texts are NUL-terminated.
 */
#ifndef DFDG_CORE_BUILTIN_H
#define DFDG_CORE_BUILTIN_H

#include <stddef.h>

extern const char *const dfdg_builtin_catalog_names[];
extern const char *const dfdg_builtin_catalog_texts[];
extern const size_t dfdg_builtin_catalog_count;
extern const char *const dfdg_builtin_data_names[];
extern const char *const dfdg_builtin_data_texts[];
extern const size_t dfdg_builtin_data_count;

/* The text of a builtin data file by base name ("kommuner.csv"), or NULL. */
const char *dfdg_builtin_data(const char *name);

#endif
