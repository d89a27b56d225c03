/*
 * fastcgi.h - the FastCGI handler: a location's requests answered by an application server
 * (php-fpm, fcgiwrap), as nginx's fastcgi_pass does.
 *
 *   location ~ [^/]\.php(/|$) {
 *       fastcgi_split_path_info ^(.+?\.php)(/.*)$;
 *       fastcgi_pass unix:/run/php/php8.2-fpm.sock;
 *       fastcgi_index index.php;
 *       include fastcgi.conf;             (examples/: nginx's set of fastcgi_param lines)
 *   }
 *
 * Per request: a connection from the worker's pool (fastcgi_keep_conn on) or a new one
 * (unix: or TCP, connected through io_uring), then BEGIN_REQUEST, the PARAMS (each
 * fastcgi_param whose value, evaluated, is not skipped by if_not_empty, and every request
 * field as HTTP_NAME unless a param of that name was given; never HTTP_PROXY), and STDIN:
 * the request body as it arrives from the client, with backpressure both ways, ended by an
 * empty record. STDOUT is a CGI response: its head (proto/cgi_head.h, at most
 * fastcgi_buffer_size bytes) becomes the response through http/cgi_reply.h (status, fields,
 * local and client redirects), the rest is the body, streamed (Content-Length when the head
 * gave one, else chunked); reading from the server stops while the client's queue is full.
 * STDERR lines go to the error log with the script's name (at most a few per request).
 * END_REQUEST ends the response; with fastcgi_keep_conn the connection goes back to the pool.
 *
 * Failures: a server that refuses or is not there gives 502; a timeout before the head 504
 * (connect, send, read: fastcgi_*_timeout, between two operations as nginx counts them); a
 * malformed or oversized head 502; a server that breaks off after the head cuts the client's
 * response (never a false end). A client that goes away closes the server connection (the
 * application sees its request aborted). Nothing blocks the worker.
 *
 * Variables (fastcgi_params.c): $fastcgi_script_name (the URI, or fastcgi_split_path_info's
 * first capture; a URI ending in '/' gets fastcgi_index appended), $fastcgi_path_info (the
 * second capture), and nginx's $document_root, $realpath_root and $request_filename.
 */
#pragma once

#include "core/conf/conf.h"

extern const struct conf_module fastcgi_module;
