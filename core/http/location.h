/*
 * location.h - a server's locations, and which one a path selects (nginx's rules).
 *
 * Precedence, at each level (a server's locations, then a location's nested ones):
 *   1. an exact location (`= /uri`) equal to the path wins at once;
 *   2. otherwise the longest prefix location (`/uri`, `^~ /uri`) is remembered;
 *      if it has nested locations, they are searched the same way first, and an
 *      exact or regex match found there wins;
 *   3. unless that prefix is `^~`, the regex locations (`~` case-sensitive, `~*`
 *      caseless) of the level are tried in file order: the first that matches wins
 *      (its own nested locations searched in turn), with its captures;
 *   4. otherwise the remembered prefix, else the server's own settings.
 * Named locations (`@name`) are never selected by a path: only try_files and
 * error_page go there.
 *
 * The prefix and exact lookup costs one pass over the path whatever the number of
 * locations: a rolling hash of the path is probed in a hash table at each length
 * some prefix of the level has (the lengths, not the locations, are iterated).
 *
 * The module `location` owns `internal` and `refuse_dotfiles`, and builds every
 * server's locations in its finish (after the route module's, which made the
 * servers); read-only afterwards, any thread.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "core/conf/conf.h"
#include "core/http/req.h"

#include <stdbool.h>

struct route_loc;
struct route_server;
struct loc_set;

extern const struct conf_module location_module;

/*
 * The location for a normalized path (see above). When a regex location is chosen and caps
 * is not NULL, its captures are stored there and *captured set.
 */
const struct route_loc *loc_find(const struct route_server *s, struct slice path,
                                 struct http_captures *caps, bool *captured);

/* The location for a normalized path, captures not kept. */
const struct route_loc *route_location(const struct route_server *s, struct slice path);

/* While finishing (after this module's finish): whether the server block b is in has a named
 * location `name` ("@x"). For configuration checks of try_files and error_page. */
bool loc_named_exists(const struct conf *c, const struct conf_block *b, const char *name);

/* The named location "@name" of s, or NULL. */
const struct route_loc *loc_named(const struct route_server *s, struct slice name);
