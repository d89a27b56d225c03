/*
 * http_root.h - a directory that files are opened beneath (a root, an alias' directory, a
 * user's public_html), shared by files.h and userdir.h.
 */
#pragma once

#include "fs/docroot.h"

#include <stdint.h>

struct http_root {
    char *path;
    struct fs_root root;
    uint32_t id; /* keys the file cache: the same path under two roots is two files; the same
                  * directory keeps its id across reloads (files.c) */
};
