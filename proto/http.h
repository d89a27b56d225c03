/*
 * http.h - HTTP/1.x vocabulary: methods, versions, status codes, and the
 * field-value list grammar shared by every header parser.
 *
 * Pure tables and functions, no I/O. Parser and handlers return negative HTTP status codes
 * for errors (-400, -414, ...) and -EAGAIN for "need more bytes", so one int
 * carries both results (see request.h).
 */
#pragma once

#include "core/base/slice.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum http_method {
    HTTP_METHOD_UNKNOWN = 0, /* a valid token we do not implement: 501 */
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_DELETE,
    HTTP_CONNECT,
    HTTP_OPTIONS,
    HTTP_TRACE,
    HTTP_PATCH,
    HTTP_METHOD__COUNT
};

/* The method for a request-line token (case-sensitive, RFC 9110 9.1). */
enum http_method http_method_from(struct slice token);

/* The canonical name ("GET"), or "UNKNOWN". */
struct slice http_method_name(enum http_method m);

/* Reason phrase for a status code ("Not Found"); "Unknown" for codes we never send. */
struct slice http_status_reason(int status);

/* True for the tchar set of RFC 9110 5.6.2 (token characters). */
extern const uint8_t http_tchar[256];

static inline bool http_is_tchar(unsigned char c)
{
    return http_tchar[c] != 0;
}

/*
 * Iterates a comma-separated list (RFC 9110 5.6.1): each call stores the next
 * element, OWS-trimmed and possibly empty, in *el. *pos starts at 0. Returns
 * false when the list is exhausted.
 */
bool http_list_next(struct slice v, size_t *pos, struct slice *el);

/* True if the comma-separated token list in v contains tok (case-insensitive). */
bool http_list_has_token(struct slice v, struct slice tok);
