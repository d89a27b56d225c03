/*
 * settings.h - the http module: connection and request settings of the main context.
 *
 * Timeouts, limits, keep-alive, pipelining, TRACE, the request body limit,
 * the open-file cache and the drain timeout: what the HTTP/1 session and the
 * worker read. Each timeout class has one duration per process (each is a
 * fixed-duration timer list: O(1) arming), so these are main-context only.
 */
#pragma once

#include "core/conf/conf.h"
#include "fs/cache.h"
#include "proto/request.h"

#include <stdbool.h>
#include <stdint.h>

struct http_settings {
    uint32_t max_connections; /* per worker */
    struct http_limits limits;
    uint64_t max_body;             /* client_max_body_size: 413 beyond */
    uint32_t max_pipeline;         /* responses queued per connection before reading pauses */
    uint32_t header_timeout_ms;    /* the whole request head must arrive within */
    uint32_t body_timeout_ms;      /* between two reads of a body */
    uint32_t keepalive_timeout_ms; /* idle between requests; 0 disables keep-alive */
    uint32_t keepalive_requests;   /* requests per connection, then close */
    uint32_t send_timeout_ms;      /* between two successful writes */
    uint32_t linger_timeout_ms;    /* wait for the client's FIN after our last response */
    uint32_t drain_timeout_ms;     /* graceful shutdown limit */
    uint32_t drain_delay_ms;       /* spate -s drain: health checks fail this long first */
    bool trace;
    bool latency; /* latency_histograms: every worker's service and queueing histograms */
    struct fs_cache_limits file_cache;
    uint32_t cache_loads; /* cache misses in flight per worker (0: loaded on the thread) */
};

extern const struct conf_module http_module;

/* The settings of a finished configuration (defaults included). */
const struct http_settings *http_settings(const struct conf *c);
