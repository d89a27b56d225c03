/*
 * precompressed.h - serving x.css.br, x.css.zst or x.css.gz for x.css.
 *
 *   precompressed br zstd gzip | off;   the codings to look for, in the server's order
 *   gzip_static on | off | always;      nginx's: on adds gzip to the list; always sends
 *                                       x.gz whatever Accept-Encoding says
 *   precompressed_stale on | off;       serve a variant older than its original (off:
 *                                       such a variant is ignored)
 *
 * Inherited main -> server -> location (rows in static.c, which serves the choice). The
 * client's Accept-Encoding (q-values, identity;q=0, *) and the server's order decide
 * (proto/negotiate.h); each variant is a file-cache entry of its own, typed as the
 * original's name and carrying its coding, so its ETag, Last-Modified, Content-Length and
 * Range are its own and a hit costs one more lookup. Every response for a resource of such
 * a location carries Vary: Accept-Encoding, the identity one and 304s included.
 */
#pragma once

#include "core/http/http_root.h"
#include "core/http/req.h"
#include "fs/cache.h"

#include <stdbool.h>
#include <stdint.h>

struct precomp_conf {
    uint8_t order[FS_ENC_COUNT]; /* enum fs_enc, server preference first */
    uint8_t n;                   /* 0: off */
    bool always;                 /* gzip_static always */
    bool stale_ok;               /* precompressed_stale on */
};

/*
 * The representation of fpath (under root, as r's location types it) to send: *out is
 * orig (the original's entry, a file or an error, referenced by the caller) or a variant
 * (referenced for the caller). 0, or a status: HANDLER_LATER (a variant is loading: r is
 * dispatched again), 406 (identity refused and no acceptable variant), 503.
 */
int precompressed_pick(struct req *r, const struct precomp_conf *pc, const struct http_root *root,
                       struct slice fpath, struct fs_entry *orig, struct fs_entry **out);
