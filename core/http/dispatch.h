/*
 * dispatch.h - from a parsed request to its handler: routing, then the method policy, once.
 *
 * Protocol-neutral: a session fills a struct req (req.h) and calls
 * http_dispatch(); HTTP/1 and, later, HTTP/2 share every rule here:
 *
 *   1. the virtual host, by Host, among the servers of the address;
 *   2. a body larger than client_max_body_size: 413 (and close);
 *   3. an unknown method: 501;
 *   4. the path, normalized (a bad one is answered only if a handler would
 *      have served it), and the location;
 *   5. TRACE (echoed when `trace on`, else 405), OPTIONS (200 with Allow),
 *      POST without a length (411), a method the location's handler does not
 *      take (405 with Allow): answered here, not by handlers;
 *   6. the handler; a status it returns gets the standard response.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/http/req.h"

/* Answers r (or starts to: a stream). 0, or -ENOMEM: the session closes the connection. */
int http_dispatch(struct req *r) MUST_CHECK;

/*
 * An internal redirect: the request goes on as if it had asked for path (a
 * slice the caller keeps alive: the arena), through location matching and the
 * method policy again. For index files today, try_files and error_page later.
 * 0 when the request was answered, -ENOMEM, or a status (500 for a redirect
 * loop) for the caller to return.
 */
int http_redirect(struct req *r, struct slice path) MUST_CHECK;

/* An internal redirect to a named location (try_files, error_page): as http_redirect. */
int http_goto(struct req *r, const struct route_loc *l) MUST_CHECK;
