// h1_rig.h - the whole HTTP/1 request path without a socket, for bench_h1 (C API, C++-safe).
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>

/* Sets up a worker's HTTP/1 path (configuration, file cache, one connection) over a transport
 * that takes every byte at once. conf_extra goes into the server block. 0 or -1. */
int h1_rig_init(const char *conf_extra);

/* The same with main_extra at the top level too (latency_histograms on;). 0 or -1. */
int h1_rig_init_main(const char *main_extra, const char *conf_extra);

/* Feeds n bytes to the connection and runs the loop's deferred work; returns bytes "sent". */
size_t h1_rig_feed(const char *p, size_t n);

void h1_rig_fini(void);

#ifdef __cplusplus
}
#endif
