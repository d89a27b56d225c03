/*
 * h1_pace.h - the HTTP/1 writer's pacing of a response body (limit_rate, http/limit_rate.h).
 *
 * A paced response is queued like a streamed one: the head at once, then the body's pieces as
 * their time comes. The session keeps the request (h->stream) until the last byte is queued,
 * as for a stream, so the next request on the connection waits behind it and a connection
 * that dies stops the pacing (its abort). The first `after` bytes are queued at once; then,
 * at `rate` bytes a second counted from the response's start, a timer on the worker's ring
 * (one per paced response) lets in about an eighth of a second's worth at a time.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/http/h1_state.h"

#include <stdint.h>

/*
 * Starts pacing r's body (RESP_BODY_PIECES, its head already queued) on h: h->stream is r
 * until the body is queued. 0 or -ENOMEM.
 */
int h1_pace_start(struct h1_conn *h, struct req *r, uint64_t rate, uint64_t after) MUST_CHECK;
