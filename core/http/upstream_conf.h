/*
 * upstream_conf.h - the `upstream NAME { ... }` directive, and groups made for a bare address
 * (upstream_conf.c). What a group holds and how requests use it: upstream.h.
 */
#pragma once

#include "core/conf/conf.h"

#include <stddef.h>
#include <stdint.h>

struct upstream_group;

extern const struct conf_module upstream_module;

/* The group named name in c (parsed; its module finished first), or NULL. */
struct upstream_group *upstream_find(const struct conf *c, const char *name);

/*
 * A group for "host:port" or "unix:/path" (resolved now; a name with several addresses gives
 * a peer each, as nginx does). NULL with a sentence in err. Free with upstream_group_free.
 */
struct upstream_group *upstream_group_address(const char *addr, uint16_t default_port, char *err,
                                              size_t errlen);
