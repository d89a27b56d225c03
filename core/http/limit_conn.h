/*
 * limit_conn.h - limit_conn: requests in progress per key, across every worker (nginx's).
 *
 *   limit_conn_zone KEY zone=NAME:SIZE;      (http)
 *   limit_conn ZONE N;                       (http, server, location; several)
 *   limit_conn_status CODE;  limit_conn_log_level LEVEL;  limit_conn_dry_run on|off;
 *
 * As nginx, a request counts from the access phase until it ends (its response sent, or its
 * connection gone): so "connections" are connections with a request in progress. The count
 * lives in a zone shared by the workers (core/base/keyslots.h), so limit_conn 1 holds for a
 * client whose connections land on different workers.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/conf/conf.h"
#include "core/http/req.h"

/* ACCESS_NEXT, limit_conn_status, or -ENOMEM. */
int limit_conn_check(struct req *r) MUST_CHECK;

extern const struct conf_module limit_conn_module;
