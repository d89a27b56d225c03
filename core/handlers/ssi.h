/*
 * ssi.h - server-side includes: documents assembled from includes, variables and conditions.
 *
 *   ssi on | off;                     process the files of this location (nginx's)
 *   ssi_types MIME ...;               types processed besides text/html (`*`: any)
 *   ssi_silent_errors on | off;       a failed directive prints nothing instead of errmsg
 *   ssi_value_length N;               the longest parameter value (256)
 *   ssi_last_modified on | off;       keep Last-Modified on a processed page (off: neither it
 *                                     nor ETag, as nginx)
 *   ssi_exec on | off;                allow <!--#exec cgi="/uri" --> (spate's; off)
 *   ssi_max_depth N;                  includes nested at most this deep (10)
 *
 * The static file handler hands a file of such a location and type to ssi_serve instead of
 * sending it. The document's template (ssi_parse.h) is kept per worker, keyed by the file
 * cache entry's identity (size, mtime, ETag), so an unchanged file is parsed once; the
 * page streams (chunked): literal text goes out from the template's memory, each
 * <!--#include virtual --> is a subrequest (http/subreq.h) through normal routing, whose
 * output joins the stream in place, with backpressure. Directives: include (virtual, file),
 * echo, set, config, flastmod, fsize, if / elif / else / endif, exec (cgi only, with
 * ssi_exec on). See docs/config.md for each.
 */
#pragma once

#include "core/http/http_root.h"
#include "core/http/req.h"
#include "fs/cache.h"

#include <stdbool.h>

/* The module and ssi_wants(): ssi_conf.h. */

/*
 * Answers r with the processed document e (fpath under root: for file= names and loop
 * detection). Returns what a handler returns: 0 (streaming), or a status.
 */
int ssi_serve(struct req *r, struct fs_entry *e, const struct http_root *root, struct slice fpath);

/* Templates parsed by this worker so far (tests: a cache hit parses nothing). */
uint64_t ssi_parses(void);
