/*
 * h2_conf.h - the http2 module: the HTTP/2 session's settings (nginx's http2_* directives).
 *
 * Main context only (one value per process: they size per-connection state and the
 * SETTINGS every connection announces). `http2 on` itself is routing's (http/route.h).
 */
#pragma once

#include "core/conf/conf.h"

#include <stdint.h>

struct h2_settings {
    uint32_t max_streams;  /* http2_max_concurrent_streams: SETTINGS_MAX_CONCURRENT_STREAMS */
    uint32_t recv_buffer;  /* http2_recv_buffer_size: input kept while the log holds requests */
    uint32_t chunk;        /* http2_chunk_size: the most body bytes in one DATA frame */
    uint32_t preread;      /* http2_body_preread_size: each stream's receive window */
    uint32_t max_requests; /* http2_max_requests: streams per connection, then GOAWAY */
    uint32_t max_resets;   /* http2_max_resets: streams a client may reset per second (burst
                            * twice that), then GOAWAY ENHANCE_YOUR_CALM (CVE-2023-44487) */
};

extern const struct conf_module h2_module;

/* The settings of a finished configuration (defaults included). */
const struct h2_settings *h2_settings_of(const struct conf *c);
