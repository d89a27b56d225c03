/* settings.c - the http module's rows (see settings.h). */
#include "core/http/settings.h"

#include "core/conf/types.h"

#include <stddef.h>

#define OFF(f) offsetof(struct http_settings, f)
#define T_MAX_MS (30u * 86400 * 1000)
#define MAIN CONF_MAIN, CONF_STORE_MAIN, 1, 1, 0

static int check(struct conf *c, unsigned slot, char *err, size_t errlen)
{
    const struct http_settings *s = conf_main(c, slot);
    if (s->limits.max_request_line > s->limits.max_head) {
        struct conf_where w = conf_where_of(c->main, slot, 1);
        return conf_fail_at(err, errlen, w.line ? w : conf_where_of(c->main, slot, 2),
                            "request_line_max (%u) is larger than header_max (%u)",
                            s->limits.max_request_line, s->limits.max_head);
    }
    return 0;
}

/* The order of the first three matters to check(): request_line_max, header_max. */
static const struct conf_row rows[] = {
    {"max_connections", MAIN, &conf_u32, OFF(max_connections), "16384", 1, 1u << 22, "4096", NULL},
    {"request_line_max", MAIN, &conf_size32, OFF(limits.max_request_line), "8k", 64, 1u << 20, "4k",
     NULL},
    {"header_max", MAIN, &conf_size32, OFF(limits.max_head), "32k", 256, 1u << 20, "16k", NULL},
    {"headers_count_max", MAIN, &conf_u32, OFF(limits.max_headers), "100", 1, 10000, "50", NULL},
    {"client_max_body_size", MAIN, &conf_size64, OFF(max_body), "1m", 0, UINT64_MAX, "10m", NULL},
    {"pipeline_max", MAIN, &conf_u32, OFF(max_pipeline), "64", 1, 1024, "16", NULL},
    {"client_header_timeout", MAIN, &conf_msec32, OFF(header_timeout_ms), "60s", 1, T_MAX_MS, "10s",
     NULL},
    {"client_body_timeout", MAIN, &conf_msec32, OFF(body_timeout_ms), "60s", 1, T_MAX_MS, "10s",
     NULL},
    {"keepalive_timeout", MAIN, &conf_msec32, OFF(keepalive_timeout_ms), "75s", 0, T_MAX_MS, "30s",
     NULL},
    {"keepalive_requests", MAIN, &conf_u32, OFF(keepalive_requests), "1000000", 1, UINT32_MAX,
     "10000", NULL},
    {"send_timeout", MAIN, &conf_msec32, OFF(send_timeout_ms), "60s", 1, T_MAX_MS, "20s", NULL},
    {"lingering_timeout", MAIN, &conf_msec32, OFF(linger_timeout_ms), "2s", 1, T_MAX_MS, "500ms",
     NULL},
    {"drain_timeout", MAIN, &conf_msec32, OFF(drain_timeout_ms), "10s", 0, T_MAX_MS, "30s", NULL},
    {"drain_delay", MAIN, &conf_msec32, OFF(drain_delay_ms), "5s", 0, T_MAX_MS, "10s", NULL},
    {"trace", MAIN, &conf_flag, OFF(trace), "off", 0, 0, "on", NULL},
    {"latency_histograms", MAIN, &conf_flag, OFF(latency), "off", 0, 0, "on", NULL},
    {"open_file_cache", MAIN, &conf_flag, OFF(file_cache.enabled), "on", 0, 0, "off", NULL},
    {"open_file_cache_max", MAIN, &conf_u32, OFF(file_cache.max_entries), "65536", 1, 1u << 24,
     "200000", NULL},
    {"open_file_cache_bytes", MAIN, &conf_size64, OFF(file_cache.max_bytes), "64m", 0, 1ull << 40,
     "512m", NULL},
    {"open_file_cache_small", MAIN, &conf_size32, OFF(file_cache.small_max), "64k", 0, 64u << 20,
     "256k", NULL},
    {"open_file_cache_fds", MAIN, &conf_u32, OFF(file_cache.max_fds), "1024", 0, 1u << 20, "4096",
     NULL},
    {"open_file_cache_valid", MAIN, &conf_msec32, OFF(file_cache.valid_ms), "1s", 0, T_MAX_MS, "5s",
     NULL},
    {"open_file_cache_loads", MAIN, &conf_u32, OFF(cache_loads), "64", 0, 4096, "16", NULL},
    {"open_file_cache_negative", MAIN, &conf_msec32, OFF(file_cache.negative_ms), "1s", 0, T_MAX_MS,
     "2s", NULL},
};

const struct conf_module http_module = {
    .name = "http",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_MAIN] = sizeof(struct http_settings)},
    .finish = check,
};

const struct http_settings *http_settings(const struct conf *c)
{
    int slot = conf_slot(c, &http_module);
    return slot < 0 ? NULL : conf_main(c, (unsigned)slot);
}
