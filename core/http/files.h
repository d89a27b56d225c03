/*
 * files.h - which file a URI names: `root`, `alias` and `try_files`.
 *
 * `root DIR` (main, server, location; inherited): the file for URI is DIR/URI.
 * `alias PATH` (location; not inherited): in a prefix location the location's
 * prefix is replaced by PATH (`location /i/ { alias /data/images/; }`: /i/a.png
 * is /data/images/a.png); in a regex or exact location PATH is the whole file
 * name and may use the captures ($1..$9) and variables. Every name is opened
 * beneath a directory opened at startup (openat2 RESOLVE_BENEATH): the root, or
 * the directory part of the alias up to its first variable; nothing outside it
 * is reachable, whatever the URI or the captures hold.
 *
 * `try_files FILE ... LAST` (server, location; not inherited): each FILE (with
 * variables: `$uri`, `$uri/`, `/index.html`) is looked up as above; a name ending
 * in '/' must be a directory, others a file. The first that exists becomes the
 * request's URI, served by this location's handler. If none does, LAST decides:
 * `=CODE` answers CODE, `@name` goes to that named location, a URI is an internal
 * redirect (the locations are searched again).
 *
 * The roots are opened by this module's finish (before the static handler's,
 * which serves from them). Read-only afterwards; workers map names per request.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "core/conf/conf.h"
#include "core/http/http_root.h"
#include "core/http/req.h"
#include "fs/docroot.h"

#include <stdbool.h>

struct route_loc;


extern const struct conf_module files_module;

/* True when block b can map URIs to files (it has a root or an alias). */
bool http_files_mapped(const struct conf_block *b);

/* Where the root b uses was set (for messages), or the block itself. */
struct conf_where http_files_where(const struct conf_block *b);

/*
 * The file for uri in location l: the directory it is beneath and the path there ("/a/b").
 * 0, or a status: 404 (the location has no files, or the URI cannot be under its alias),
 * 503, HANDLER_LATER (a user directory is being looked up: userdir.h), -ENOMEM.
 * A `/~user/` URI in a server with `userdir on` maps to that user's directory unless the
 * location has an alias.
 */
int http_file_map(struct req *r, const struct route_loc *l, struct slice uri,
                  const struct http_root **root, struct slice *path) MUST_CHECK;

/*
 * Runs try_files of r->loc, if it has one. *done false: go on with the handler (r->path
 * may have changed). *done true: the request went elsewhere; return the result as the
 * handler's (HANDLER_LATER while a lookup loads, a status, REQ_NEXT_URI / REQ_NEXT_LOC for
 * the last argument, -ENOMEM).
 */
int http_try_files(struct req *r, bool *done) MUST_CHECK;
