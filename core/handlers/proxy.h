/*
 * proxy.h - the reverse proxy's handler (proxy_pass): a request goes to a peer of an upstream
 * group over a connection of the worker's ring, and the peer's response comes back.
 *
 * Never blocks, and memory is bounded in both directions: the request body streams from the
 * client to the upstream through one buffer (reading from the client stops while it is
 * full), and the response body streams from the upstream to the client through another
 * (reading from the upstream stops while the client's queue is full). The upstream's head
 * is parsed strictly (proto/upstream_head.h): a malformed, ambiguous or oversized one is a
 * 502, and no byte of it reaches the client. Failures before anything was sent go to the
 * next peer (proxy_next_upstream) when the request has no body; after that, the client's
 * connection is cut, never ended as if the response were whole.
 *
 * Variables: $proxy_host, $proxy_port, $proxy_add_x_forwarded_for, $upstream_addr,
 * $upstream_status, $upstream_response_time (while the request is being proxied).
 */
#pragma once

#include "core/conf/conf.h"
#include "core/http/handler.h"

extern const struct handler_ops proxy_handler;

/* The proxy's directives (proxy_conf.c) with this handler. */
extern const struct conf_module proxy_module;
