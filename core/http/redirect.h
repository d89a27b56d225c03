/*
 * redirect.h - the Location of a redirect, as absolute_redirect, port_in_redirect and
 * server_name_in_redirect say (nginx's directives and defaults).
 *
 * A target that is a path ("/new") becomes "http://HOST[:PORT]/new" when
 * absolute_redirect is on (the default): HOST is the request's Host (without
 * its port), or the server's first name when server_name_in_redirect is on or
 * the request had no Host; PORT is the port the request arrived on, left out
 * when it is 80 or port_in_redirect is off. A target with a scheme is sent as
 * it is; with absolute_redirect off, a path is sent as it is (RFC 9110 10.2.2
 * allows a relative reference).
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "core/conf/conf.h"
#include "core/http/req.h"

extern const struct conf_module redirect_module;

/* True when target starts with a scheme ("http://", "https://"). */
bool http_has_scheme(struct slice target);

/* path (decoded) as a URI path in the arena: '%', '?', '#' and what a URI cannot carry are
 * %XX. SLICE_NULL when out of memory. */
struct slice http_escape_path(struct req *r, struct slice path);

/* The Location value for target in r's location, in the arena. 0, or -ENOMEM. */
int http_location(struct req *r, struct slice target, struct slice *out) MUST_CHECK;

/* Starts a redirect response (status 301/302/303/307/308) to target; returns status, or 500. */
int http_redirect_to(struct req *r, int status, struct slice target) MUST_CHECK;
