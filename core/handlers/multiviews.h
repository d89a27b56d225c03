/*
 * multiviews.h - content negotiation among files (RFC 9110 section 12.1), as Apache's
 * MultiViews and type maps, in nginx's directive form (the module: multiviews_conf.h).
 *
 *   multiviews on | off;                   /doc missing: negotiate among doc.*
 *   multiviews_languages auto | TAG ...;   which extensions name a language
 *   multiviews_default_language TAG | off; the language of a request that states none
 *   multiviews_quality TYPE Q;             the server's quality for a type (repeatable)
 *   multiviews_fallback *.SUFFIX | off;    sent when nothing is acceptable (else 406)
 *   variants URI { FILE TYPE [LANG] [charset=CS] [qs=Q]; ... }   a declared list
 *
 * All of them are inherited main -> server -> location. When the static handler finds no
 * file for a URI (a 404 from the file cache) in a location where either applies, it calls
 * multiviews_answer: a declared list for the URI, or with `multiviews on` the names
 * `BASE.EXT...` beside the missing BASE (multiviews_names.h reads them off the worker), are
 * the variants. Each name's extensions are classified by the location's typing (a type),
 * the language set (a language) and a built-in charset table (a charset); a name with any
 * other extension, or with a coding one (gz, br, zst), is not a variant. proto/negotiate.h
 * chooses from Accept, Accept-Language and Accept-Charset and the server's qualities, and
 * the static handler sends the chosen file (static_serve) with Vary, Content-Language and
 * Content-Location on every response for it (200, 206, 304, 412, 416). The variant is typed as its
 * type extension says, whichever extension comes last (doc.html.en is text/html).
 *
 * Threads: the module's finish and release on the main thread; the rest on workers.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "core/conf/conf.h"
#include "core/http/http_root.h"
#include "core/http/req.h"

#include <stdbool.h>

struct route_loc;

/* True when MultiViews or a declared variant list applies to location l (one flag test). */
bool multiviews_on(const struct route_loc *l);

/* The variant to send, and the fields every response for it carries (static.h's extra). */
struct multiviews_choice {
    struct fs_entry *e; /* referenced for the caller */
    struct slice vary, content_language, content_location;
};

/*
 * Negotiates for a request whose file is missing: fpath is its path beneath root
 * (NUL-terminated, as the static handler looked it up), r->path its URI. 0 with c->e set:
 * send it (static_serve with c's fields; then release it). 0 with c->e NULL: answered (the
 * 406 page of the variants). Or a status: HANDLER_LATER (r->wait linked: names or a file
 * loading), 404 when there is nothing to negotiate (no variants, a directory URI), 503.
 */
int multiviews_answer(struct req *r, const struct http_root *root, struct slice fpath,
                      struct multiviews_choice *c) MUST_CHECK;
