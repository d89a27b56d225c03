/*
 * cgi_env.h - a CGI script's environment: the meta-variables of RFC 3875 4.1 and the
 * request's fields as HTTP_* (4.1.18).
 *
 * The handler evaluates the values (cgi.c); this builds the strings, so it is testable alone.
 * Written in this order: AUTH_TYPE, CONTENT_LENGTH, CONTENT_TYPE, GATEWAY_INTERFACE
 * (CGI/1.1), PATH_INFO, PATH_TRANSLATED, QUERY_STRING, REMOTE_ADDR, REMOTE_HOST, REMOTE_PORT,
 * REMOTE_USER, REQUEST_METHOD, REQUEST_SCHEME, REQUEST_URI, SCRIPT_NAME, SCRIPT_FILENAME,
 * DOCUMENT_ROOT, SERVER_NAME, SERVER_PORT, SERVER_PROTOCOL, SERVER_SOFTWARE, REDIRECT_STATUS
 * (200: PHP's php-cgi wants it), HTTPS, PATH; a value with a NULL ptr is left out (an empty
 * one is written: QUERY_STRING= when there is no query).
 *
 * Then one HTTP_NAME per field name (uppercased, '-' as '_'; the values of repeated fields
 * joined with ", ", Cookie's with "; "), except: Proxy (never HTTP_PROXY: scripts read it as their
 * proxy, the httpoxy class), Content-Type and Content-Length (they are CONTENT_TYPE and
 * CONTENT_LENGTH), Authorization and Proxy-Authorization (4.1.18: credentials stay with the
 * server), and any name with a character other than letters, digits and '-' (X_Forwarded would
 * otherwise pass for X-Forwarded, as nginx's underscores_in_headers off and Apache 2.4 drop them).
 *
 * Last the extra variables (cgi_param), each replacing a variable of the same name above.
 * A value holding a NUL is left out (the environment cannot carry it).
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "proto/hdr_table.h"

#include <stddef.h>

struct cgi_env_var {
    struct slice name, value;
};

struct cgi_env_in {
    struct slice auth_type, content_length, content_type, path_info, path_translated, query,
        remote_addr, remote_host, remote_port, remote_user, method, scheme, request_uri,
        script_name, script_filename, document_root, server_name, server_port, server_protocol,
        server_software, https;
    const struct hdr_table *headers; /* NULL: none */
    const struct cgi_env_var *extra;
    unsigned nextra;
};

/* The search path every script gets. */
#define CGI_ENV_PATH "/usr/local/bin:/usr/bin:/bin"

/*
 * Writes the environment into buf as NAME=VALUE strings, each NUL-terminated, one after the
 * other. Returns the bytes written and sets *count, or -E2BIG when cap is too small.
 */
long cgi_env_build(const struct cgi_env_in *in, char *buf, size_t cap, unsigned *count) MUST_CHECK;
