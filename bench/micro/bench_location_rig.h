// bench_location_rig.h - a configuration's route table for bench_location (C API, C++-safe):
// the route and location headers use C11 atomics and cannot be included from C++.
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>

struct loc_rig;

/* Loads and finishes a whole configuration; NULL (and the error on stderr) when it fails. */
struct loc_rig *loc_rig_new(const char *conf_text);
void loc_rig_free(struct loc_rig *r);

/* loc_find on the first server for a normalized path, captures kept; the location's text
 * ("" for the server's own settings) in *text. */
const void *loc_rig_find(const struct loc_rig *r, const char *path, size_t n, const char **text);

/* route_server_for on the first address for a Host value; the server's file-order index. */
unsigned loc_rig_server(const struct loc_rig *r, const char *host, size_t n);

#ifdef __cplusplus
}
#endif
