/*
 * cgi_head.h - the head of a CGI response (RFC 3875 6): what a script writes on its stdout,
 * or an application server in FastCGI's STDOUT stream, before the body.
 *
 * Header fields, one per line, up to an empty line. Lines end in LF or CRLF (scripts write
 * both, RFC 3875 6.1 allows either). Field names are tokens; values hold no CR, LF or NUL
 * and have their surrounding whitespace trimmed; a continuation line (obs-fold) is refused:
 * a script's head is the last place it would be meant. Status is "NNN [reason]" with NNN in
 * 200..599 (a script cannot send an interim response). At least one of Content-Type,
 * Location or Status must be present (6.2). Content-Length, when given, must be one decimal
 * value (twice with different values: malformed).
 *
 * Fields the server frames itself are not passed on: Status (consumed), Connection,
 * Keep-Alive, Transfer-Encoding, TE, Trailer, Upgrade, Proxy-Connection, and Server and Date
 * (the server writes its own; a second copy would make the response ambiguous).
 *
 * Pure: no allocation, no I/O. Slices point into the caller's buffer. Incremental: call
 * again with all the bytes so far until the head is complete.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CGI_HEAD_FIELDS_MAX 100

struct cgi_field {
    struct slice name, value;
};

struct cgi_head {
    int status;          /* from Status:, else 0 */
    struct slice reason; /* the Status line's text after the code (may be empty) */
    struct slice content_type;
    struct slice location;
    bool has_length;
    uint64_t content_length;
    unsigned nfields; /* the other fields, in order */
    struct cgi_field fields[CGI_HEAD_FIELDS_MAX];
    size_t head_len; /* bytes of the head, its empty line included */
};

/* What the script answered (RFC 3875 6.2). */
enum cgi_response_kind {
    CGI_DOCUMENT,        /* a document (Status, or 200), with a body */
    CGI_LOCAL_REDIRECT,  /* Location: /path, and no Status: the server serves that URI */
    CGI_CLIENT_REDIRECT, /* Location: an absolute URI, no Status: 302 to the client */
};

/*
 * Parses buf[0..len). Returns the head's length (> 0) once its empty line is in, 0 when
 * more bytes are needed, -EBADMSG for a malformed head, -E2BIG when the head is longer than
 * max bytes or has more than CGI_HEAD_FIELDS_MAX fields.
 */
int cgi_head_parse(const char *buf, size_t len, size_t max, struct cgi_head *h) MUST_CHECK;

enum cgi_response_kind cgi_head_kind(const struct cgi_head *h);
