/*
 * limit_req.h - limit_req: a request rate per key, shared by every worker (nginx's directives).
 *
 *   limit_req_zone KEY zone=NAME:SIZE rate=Nr/s|Nr/m;        (http)
 *   limit_req zone=NAME [burst=N] [nodelay | delay=N];      (http, server, location; several)
 *   limit_req_status CODE;  limit_req_log_level LEVEL;  limit_req_dry_run on|off;
 *
 * The access phase (http/access.h) calls limit_req_check() once per request. A request over
 * the burst is answered with limit_req_status; one within the burst but beyond `delay` waits
 * on a per-worker timer list (the worker goes on serving others) and is dispatched again when
 * its turn comes. The arithmetic is core/base/bucket.h, the shared table core/base/keyslots.h.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/conf/conf.h"
#include "core/http/req.h"

/* ACCESS_NEXT, limit_req_status, HANDLER_LATER (r->wait is linked: it waits) or -ENOMEM. */
int limit_req_check(struct req *r) MUST_CHECK;

extern const struct conf_module limit_req_module;
