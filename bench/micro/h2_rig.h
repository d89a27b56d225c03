// h2_rig.h - the whole HTTP/2 request path without a socket, for bench_h2 (C API, C++-safe).
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

#include <stddef.h>

/* Sets up a worker's HTTP/1 and HTTP/2 paths (configuration, file cache, one connection that
 * switched to HTTP/2 with its preface and SETTINGS) over a transport that takes every byte at
 * once. conf_extra goes into the server block. 0 or -1. */
int h2_rig_init(const char *conf_extra);

/* Sends n requests for path (HEADERS frames on new streams, and the WINDOW_UPDATE that keeps
 * the connection's window open), runs the loop's deferred work; returns bytes "sent". */
size_t h2_rig_requests(unsigned n);

void h2_rig_fini(void);

#ifdef __cplusplus
}
#endif
