/*
 * typing.h - the `types` module: what decides a file's Content-Type, per location.
 *
 *   types { text/html html htm; image/png png; }   nginx's format; `include mime.types;`
 *                                                  inside or around it works as in nginx
 *   types_file /etc/mime.types;                    Debian's format (media-types package)
 *   default_type application/octet-stream;         names no table knows
 *   charset utf-8 | off;  charset_types TYPE ...;  "; charset=utf-8" for those types
 *   force_type TYPE [GLOB ...] | off;              this type whatever the name or bytes
 *                                                  (Apache's ForceType), for every file or
 *                                                  for base names matching a glob
 *   mime_magic off | on | all;                     libmagic for unknown names (on) or all
 *   nosniff on | off;                              X-Content-Type-Options: nosniff
 *   etag on | off | content;                       inode ETag, none, or XXH3-128 of the bytes
 *
 * All of them are inherited main -> server -> location. A `types` block or `types_file`
 * replaces the whole table for its block (nginx's rule); both in one block are merged
 * (the block's lines win). With neither anywhere, the built-in table serves.
 *
 * The module's finish seals one struct fs_typing per block (fs/types.h); the file cache
 * keys entries by its id, so each setting is applied once, when a file is loaded.
 */
#pragma once

#include "core/conf/conf.h"
#include "core/http/http_root.h"
#include "fs/cache.h"

struct route_loc;

extern const struct conf_module typing_module;

/* The typing of location l (its block's), or fs_typing_default before the module is set up. */
const struct fs_typing *http_typing(const struct route_loc *l);

/* l's default_type when a configuration block on its way set one (for `return`), or NULL. */
const char *http_configured_default_type(const struct route_loc *l);

/* How the files of l under root are looked at: root's id, l's typing, coding enc. */
static inline struct fs_view http_view(const struct route_loc *l, const struct http_root *root,
                                       unsigned enc)
{
    return (struct fs_view){root->id, (uint8_t)enc, http_typing(l)};
}
