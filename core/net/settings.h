/*
 * settings.h - the net module: how the socket transport sends files, and the TCP congestion
 * control of listeners that name none (main context).
 */
#pragma once

#include "core/conf/conf.h"

#include <stdbool.h>
#include <stdint.h>

struct net_settings {
    uint32_t sendfile_chunk; /* sendfile_max_chunk: bytes per connection per loop turn */
    bool sendfile;           /* off: every file range is read with io_uring and sent */
    bool cold_reads;         /* cold_file_reads: uncached ranges are read, not sendfile'd */
    char congestion[16];     /* tcp_congestion: for every listen without tcp_congestion= */
};

/* Parses a TCP congestion control name into dst[16], checking that it can be set here. */
int net_congestion_parse(struct conf_parse *p, const char *name, char dst[16]) MUST_CHECK;

extern const struct conf_module net_module;

const struct net_settings *net_settings(const struct conf *c);
