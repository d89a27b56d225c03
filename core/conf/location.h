/*
 * location.h - a `location` block's arguments and nginx's rules for them (core/conf only).
 *
 * Main thread, while a configuration is built.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/conf/conf_types.h"

/*
 * Opens `location ARGS {` in parent: normalizes the arguments to {modifier, text} (the
 * joined forms too, see enum conf_loc_kind), checks them against nginx's rules (the
 * modifier, '/' first, where named and nested locations may be, duplicates) and appends
 * the new block to parent. 0 with *out, or -1 with p's error.
 */
int conf_location_open(struct conf_parse *p, struct conf_block *parent, char **args, unsigned nargs,
                       struct conf_block **out) MUST_CHECK;
