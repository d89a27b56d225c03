/*
 * error_page.h - `error_page CODE ... [=[RESPONSE]] URI`, as nginx.
 *
 * When a request in a location is to be answered with one of the CODEs (by the
 * dispatcher, a handler, try_files or return), the URI answers instead:
 *   - a local URI ("/404.html", variables allowed): an internal redirect with
 *     method GET (HEAD stays HEAD), the locations searched again; the page is
 *     sent with the original code, or with RESPONSE (`=200`), or with the code
 *     its own answer has (`=` alone);
 *   - a named location ("@fallback"): as above, in that location;
 *   - a URL with a scheme: a 302 (or RESPONSE when it is a redirect code) to it.
 * One error page per request: an error while answering one gets the standard
 * page. The list is inherited main -> server -> location; a level that sets
 * error_page replaces it.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/conf/conf.h"
#include "core/http/req.h"

#include <stdbool.h>

extern const struct conf_module error_page_module;

/*
 * The error page for status in r's location, if one is configured: *done true and what to
 * do (REQ_NEXT_URI / REQ_NEXT_LOC, or a status: a redirect to a URL). *done false: none.
 */
int http_error_page(struct req *r, int status, bool *done) MUST_CHECK;
