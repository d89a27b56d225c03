/*
 * static.h - the static file handler: files under a document root, through the file cache.
 *
 * The handler every location has unless a directive names another: it maps
 * the request's normalized path under the location's `root`, serves files
 * (200, 304, 206 with one range or multipart/byteranges, 412, 416), answers
 * a directory request with the first `index` file that exists (an internal
 * redirect, as nginx's index module does), and redirects a directory named
 * without its trailing slash (301). The module owns `root` and `index`; its
 * finish opens every document root once (-t checks them as a start does).
 */
#pragma once

#include "core/base/slice.h"
#include "core/conf/conf.h"
#include "core/http/req.h"
#include "fs/cache.h"

extern const struct conf_module static_module;

/* Fields a negotiated representation carries on every response for it (empty: none). */
struct static_extra {
    struct slice vary;             /* "Accept-Encoding", "Accept, Accept-Language", ... */
    struct slice content_language; /* a MultiViews variant's language */
    struct slice content_location; /* the variant's own URI */
};

/*
 * Answers r with file entry e (referenced by the caller until this returns): the
 * preconditions, then Range, then 200 (RFC 9110 13.2.2), each response with x's fields
 * (x may be NULL). 0 or a status for the dispatcher's page.
 */
int static_serve(struct req *r, struct fs_entry *e, const struct static_extra *x) MUST_CHECK;
