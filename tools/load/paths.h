/*
 * paths.h - the request paths of --paths FILE (one a line) and the per-request choice among
 * them: uniform, or Zipf (--zipf S: the path of rank k, in file order, with weight 1/k^S, the
 * shape of a CDN's popularity) by binary search in a precomputed cumulative table.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct load_paths {
    char **v;
    size_t n;
    double *cdf; /* NULL: uniform */
};

/* Reads FILE; NULL if it cannot be read, holds no path, or a line does not start with '/' or
 * holds a space or a control character; then why says which (and the line). */
struct load_paths *paths_load(const char *file, double zipf, char *why, size_t whylen);
void paths_free(struct load_paths *p);

/* A path's index for a uniform draw u in [0, 1). */
size_t paths_pick(const struct load_paths *p, double u);
