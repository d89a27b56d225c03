/*
 * ssi_conf.h - the SSI module: its directives (ssi.h lists them) and what a location says.
 */
#pragma once

#include "core/conf/conf.h"
#include "core/conf/types.h"
#include "core/http/req.h"
#include "fs/cache.h"

#include <stdbool.h>
#include <stdint.h>

/* A location's settings (CONF_STORE_LOC, inherited main -> server -> location). */
struct ssi_conf {
    bool on;
    struct conf_words types;
    bool silent;
    uint32_t value_length;
    bool last_modified;
    bool exec;
    uint32_t max_depth;
};

extern const struct conf_module ssi_module;

/* r's location's settings, or NULL before the module was finished. */
const struct ssi_conf *ssi_conf_of(const struct req *r);

/* True when r's location processes e (a file) as SSI: `ssi on` and its type listed. */
bool ssi_wants(const struct req *r, const struct fs_entry *e);
