/*
 * autoindex.h - generated directory listings (nginx's autoindex), read off the workers.
 *
 * When a request for a directory (a path ending in '/') finds no index file, the static
 * handler asks autoindex_answer, which answers 404 (the fallback) unless `autoindex on`
 * applies to the request's location. Then the listing is an HTML page or, by
 * `Accept: application/json`, `?format=json` or `autoindex_format json`, nginx's JSON
 * array; sorted by name, time or size from the query (Apache's `?C=N|M|S;O=A|D`, or
 * `?sort=name|time|size&order=asc|desc`), directories first, hidden files left out.
 *
 * Reading the directory (getdents64 and a stat per entry) and rendering the page run as an
 * offload job on a helper thread (core/io/offload.h): the request waits (req_wait) and is
 * dispatched again when the page is ready, while the worker goes on serving others. Each
 * worker keeps the pages it made (per directory, URI, format and order, 32 MiB and 64
 * pages at most, least recently used out first) until the directory changes: a page is
 * served while the file cache's entry for the directory (revalidated every
 * open_file_cache_valid) still has the ETag it had when the page was read, and for at most
 * a minute, which bounds how long an entry's size or time may lag when a file changes in
 * place (that does not touch the directory). Requests for a page being made join its job.
 * A directory of more than 250,000 visible entries is not listed (403, and a warning).
 *
 * The module owns `autoindex`, `autoindex_format`, `autoindex_exact_size` and
 * `autoindex_localtime` (main, server, location). Worker threads call autoindex_answer;
 * each worker's cache is its own, and outlives configurations: a reload may free one while
 * a page made under it is being sent or a job is on a helper (pages are keyed by the
 * configuration's number, and jobs hold their own root descriptor); the worker drops an
 * older configuration's pages the next time it lists, and the process's exit the rest.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "core/conf/conf.h"
#include "core/http/req.h"
#include "fs/docroot.h"

#include <stdint.h>

extern const struct conf_module autoindex_module;

/*
 * Answers a directory request that found no index file. root and root_id are what the
 * static handler looked the directory up with, fs_dir its path there ("/a/b/", with the
 * trailing slash, NUL-terminated as http_file_get wants it); r->path is the URI (the page's
 * title and its links are relative to it).
 * Returns what a handler returns: 0 (answered), HANDLER_LATER (r->wait is linked: the
 * listing is being made), or a status: fallback when listings are off here, 404 or 403
 * when the directory cannot be read, 503 when the helpers' queue is full.
 */
int autoindex_answer(struct req *r, const struct fs_root *root, uint32_t root_id,
                     struct slice fs_dir, int fallback) MUST_CHECK;
