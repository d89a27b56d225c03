/*
 * serve.h - turning a parsed request into a queued response.
 *
 * Static serving: virtual host choice, method rules, path normalization,
 * file cache lookup, index files, redirects for directories, error pages.
 * Runs on the worker thread that owns the connection. Never blocks except
 * for the open/stat/read of a file-cache miss.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/conn.h"
#include "proto/request.h"

#include <stdbool.h>

/*
 * Queues the response to req on c. Returns 0, or -EAGAIN when the output
 * queue has no room (nothing was queued; call again once it drained). Sets
 * CF_CLOSE_AFTER|CF_STOP_READ when the connection must close after it, and
 * c->body_left for a request body to discard.
 */
int serve_request(struct conn *c, const struct http_request *req) MUST_CHECK;

/* Queues an error response with a small HTML body, closing the connection after it, for
 * input that is not a valid request (buf: the bytes that were received, for the access log). */
int serve_bad_request(struct conn *c, int status, const char *buf, size_t len) MUST_CHECK;
