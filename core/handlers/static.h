/*
 * static.h - the static file handler: files under a document root, through the file cache.
 *
 * The handler every location has unless a directive names another: it maps
 * the request's normalized path under the location's `root`, serves files
 * (200, 304, 206 with one range or multipart/byteranges, 412, 416), answers
 * a directory request with the first `index` file that exists (an internal
 * redirect, as nginx's index module does), and redirects a directory named
 * without its trailing slash (301). The module owns `root` and `index`; its
 * finish opens every document root once (-t checks them as a start does).
 */
#pragma once

#include "core/conf/conf.h"

extern const struct conf_module static_module;
