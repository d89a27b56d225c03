/*
 * modules.h - the modules built into this binary, in the order their rows are printed.
 *
 * A static list in one place (no constructor registration): a new handler or
 * protocol module is one line in modules.c.
 */
#pragma once

#include "core/conf/conf.h"

extern const struct conf_module *const spate_modules[];
extern const unsigned spate_nmodules;
