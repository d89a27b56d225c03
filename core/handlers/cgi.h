/*
 * cgi.h - the CGI handler (RFC 3875): a request runs a script, its output is the response.
 *
 * For a location with `cgi on` (every file a script) or `cgi_extension` (files with those
 * endings; the others are answered as the static handler would), handle() maps the URI
 * under the location's root or alias and walks its components on a helper thread (the
 * first regular file is the script, the rest PATH_INFO; a missing one 404, a directory or a
 * file without an execute bit 403). It answers later (resp_defer): the environment is built
 * (cgi_env.h), three pipes and a status pipe are made, and the spawner process starts the
 * script (cgi_spawn.h). Every pipe is read and written through the worker's io_uring:
 *
 *   stdin   the request body (req_body_read), one write in flight: the body waits while it
 *           is (backpressure); EPIPE (the script does not read it) stops feeding, the rest
 *           of the body is read and dropped, the output is still used
 *   stdout  the head (proto/cgi_head.h) answered by http/cgi_reply.h; the body streamed
 *           with resp_stream_write, one read at a time, none while the client's queue is full
 *   stderr  lines to the error log with the script's name (at most 100 lines a script)
 *   status  the pid, an exec failure, the exit status (logged when not 0)
 *
 * Failures: a script that cannot start 403/502/503, one that exits or crashes before a
 * complete head 502, a malformed head 502, cgi_max_output passed 502 (or the response cut),
 * no progress for cgi_timeout 504 (or cut); each time the script's process group is killed
 * and reaped by the spawner. A client that goes away kills the script the same way.
 */
#pragma once

#include "core/conf/conf.h"
#include "core/http/handler.h"

/* The module: its rows (cgi_conf.h) and this handler. */
extern const struct conf_module cgi_module;
extern const struct handler_ops cgi_handler;
