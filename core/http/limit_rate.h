/*
 * limit_rate.h - limit_rate, limit_rate_after: a bandwidth cap per response (nginx's).
 *
 *   limit_rate RATE;        (http, server, location; bytes per second, 0: none; default 0)
 *   limit_rate_after SIZE;  (the first SIZE bytes of a body go at full speed; default 0)
 *
 * The HTTP/1 writer (http/h1_pace.h) paces a response body whose location has a rate: a
 * timer on the worker's ring lets the next bytes into the output queue when their time
 * comes, so a paced download costs a few wake-ups a second, never a busy loop.
 */
#pragma once

#include "core/conf/conf.h"

#include <stdbool.h>
#include <stdint.h>

struct route_loc;

/* The rate (bytes/s) of responses answered by l, and what goes before it; false: none. */
bool http_limit_rate(const struct route_loc *l, uint64_t *rate, uint64_t *after);

extern const struct conf_module limit_rate_module;
