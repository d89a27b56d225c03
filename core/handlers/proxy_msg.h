/*
 * proxy_msg.h - the messages the reverse proxy writes and rewrites (proxy_msg.c): the request
 * head for the upstream, and the upstream's response head turned into the client's.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/handlers/proxy_conf.h"
#include "core/http/req.h"
#include "proto/upstream_head.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * The request head for the upstream (heap memory, sp_free): the request line with the URI
 * nginx would pass (the location's prefix replaced by proxy_pass's URI, or the client's
 * URI), the location's fields (Host $proxy_host and Connection close unless set), the
 * client's fields less hop-by-hop ones and those set, and the body's framing (chunked: the
 * client's body is re-chunked). Needs r->msg. 0 or -ENOMEM.
 */
int proxy_request_head(struct req *r, const struct proxy_conf *pc, bool chunked, char **out,
                       size_t *len) MUST_CHECK;

/*
 * Starts r's response from the upstream's head: its status, and its fields less hop-by-hop
 * ones, the framing and the hidden ones (proxy_hide_header, nginx's defaults), a Location
 * rewritten by proxy_redirect default. 0 or -ENOMEM.
 */
int proxy_response_head(struct req *r, const struct proxy_conf *pc, const struct upstream_head *uh)
    MUST_CHECK;
