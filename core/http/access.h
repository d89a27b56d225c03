/*
 * access.h - the access phase: whether a routed request may reach its handler.
 *
 * dispatch.c calls http_access() for the location that will answer (after its rewrites,
 * before the method policy, try_files and the handler), so a refused client learns nothing
 * of what the location holds. In nginx's order:
 *
 *   1. limits (nginx's preaccess phase), once per request, not again after an internal
 *      redirect or a wait: limit_req (http/limit_req.h), then limit_conn (http/limit_conn.h);
 *   2. the client rules (allow / deny by address, http/access.c) and the password
 *      (auth_basic, http/auth_basic.h), combined by `satisfy all` (both must let the
 *      request in) or `satisfy any` (either one); run again for each location an internal
 *      redirect reaches, as nginx does.
 *
 * A step returns ACCESS_NEXT (nothing configured, or this step lets the request go on),
 * ACCESS_GRANTED (only the client rules and the password: this one lets it in, which is
 * enough under `satisfy any`), an HTTP status (>= 300: the request is answered with it; a
 * step may add fields first, such as WWW-Authenticate), HANDLER_LATER (it waits: r->wait
 * is linked and the request is dispatched again from the start when it wakes) or -ENOMEM.
 * A step that counts a request sets its ACCESS_PASSED_* bit in r->wait->passed (when
 * r->wait is set) so that the next dispatch of the same request does not count it again.
 *
 * A location where none of these directives applies pays a load and a test per step (each
 * step's settings for the location): no lookup, no system call.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/conf/conf.h"
#include "core/http/access_step.h"
#include "core/http/req.h"

#include <stdbool.h>
#include <stdint.h>

/* The access phase for r->loc: ACCESS_NEXT (go on), a status, HANDLER_LATER or -ENOMEM. */
int http_access(struct req *r) MUST_CHECK;

/*
 * At accept, before a byte is read: false when the server rules (allow / deny in server
 * or http context) of every server on listen group g refuse the address, and the
 * connection is to be closed. A server none of whose locations has rules of its own is
 * decided by its rules alone; one with such a location, or with no rules, takes every
 * client here (its locations decide per request).
 */
struct route_group;
struct sockaddr_storage;
bool http_access_accept(const struct route_group *g, const struct sockaddr_storage *peer);

/* Whether every server on g has server-level rules: only then can a connection be refused
 * at accept (the acceptor then needs the peer's address). */
bool http_access_at_accept(const struct route_group *g);

/* The error log's info line for a refused connection, at most one a second per worker. */
void http_access_log_refusal(const struct sockaddr_storage *peer, uint64_t now_s);

extern const struct conf_module access_module;
