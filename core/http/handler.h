/*
 * handler.h - what answers the requests of a location.
 *
 * A handler is a module (conf/conf.h) whose `content` points to a struct
 * handler_ops. A location gets its handler from the directive that names it
 * (a row with CONF_CONTENT, such as `test_stream` today and `fastcgi_pass`,
 * `proxy_pass` later); a location that names none is served by the module
 * marked default_content (the static files). `return` and `rewrite` run
 * before any handler (http/rewrite.h), not as one.
 *
 * handle() runs after routing and the method policy (http/dispatch.c): the
 * method is one of `methods` (HEAD counts as GET), the request head is valid.
 * It answers through the response writer and returns 0, or returns an HTTP
 * status (>= 300) and lets the dispatcher send the standard response for it
 * (a small HTML page, later the location's error_page).
 */
#pragma once

#include "core/http/req.h"
#include "proto/http.h"

#define HANDLER_LATER 1

/* A method's bit in handler_ops.methods. */
#define HANDLER_METHOD(m) (1u << (m))

struct handler_ops {
    const char *name;
    unsigned methods; /* HANDLER_METHOD(HTTP_GET) | ... */
    /* conf: the handler module's location struct (CONF_STORE_LOC) for this location */
    int (*handle)(struct req *r, const void *conf);
};
