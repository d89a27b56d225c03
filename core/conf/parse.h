/*
 * parse.h - the file syntax: tokens to blocks and rows, `include`, nginx's http and events
 * (core/conf only: conf_load_file and conf_load_string in conf.h are the way in).
 *
 * Main thread, while a configuration is built.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/conf/conf_types.h"

#include <stddef.h>

/*
 * Parses text, the contents of the file called name, into c's main block. real is the
 * file's realpath (for include cycles; NULL for a string), dir its directory (where its
 * includes are looked up first). 0, or -1 with "file:line: sentence" in err; on success
 * c->source is name.
 */
int conf_parse_text(struct conf *c, const char *name, const char *real, const char *dir,
                    const char *text, size_t len, char *err, size_t errlen) MUST_CHECK;
