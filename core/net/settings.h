/*
 * settings.h - the net module: how the socket transport sends files (main context).
 */
#pragma once

#include "core/conf/conf.h"

#include <stdbool.h>
#include <stdint.h>

struct net_settings {
    uint32_t sendfile_chunk; /* sendfile_max_chunk: bytes per connection per loop turn */
    bool sendfile;           /* off: every file range is read with io_uring and sent */
    bool cold_reads;         /* cold_file_reads: uncached ranges are read, not sendfile'd */
};

extern const struct conf_module net_module;

const struct net_settings *net_settings(const struct conf *c);
