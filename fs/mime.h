/*
 * mime.h - Content-Type from a file name's extension.
 *
 * A built-in table of the common web types (the mime.types subset nginx ships
 * and a few modern additions), searched by binary search on the lowercased
 * extension. Read-only after start: any thread may call it.
 */
#pragma once

#include "core/base/slice.h"

/* The type for path's extension, or `fallback` when unknown or absent. */
struct slice fs_mime_for_path(struct slice path, struct slice fallback);

/* The type of a lowercased extension (no dot), or SLICE_NULL. */
struct slice fs_mime_find_ext(const char *ext);

/* Number of entries in the built-in table, and the i-th extension (tests check the order). */
unsigned fs_mime_count(void);
const char *fs_mime_ext_at(unsigned i);
const char *fs_mime_type_at(unsigned i);
