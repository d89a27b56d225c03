/*
 * ident.h - RFC 1413 (the Identification Protocol): the query a server sends and the reply it
 * reads back. Pure: no I/O.
 *
 * The query names the connection by its two ports, the ident server's host's first
 * ("<port on the client> , <port on the server>\r\n"). The reply repeats the pair and says
 *   USERID : <opsys>[ , <charset>] : <user id>
 * or
 *   ERROR : <INVALID-PORT | NO-USER | HIDDEN-USER | UNKNOWN-ERROR | X-token>
 * on one line ended by CR LF. A reply of more than IDENT_REPLY_MAX bytes is refused (the RFC
 * allows a client to drop such a connection), and so is a user id over IDENT_USER_MAX octets.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"

#include <stddef.h>

#define IDENT_REPLY_MAX 1000u
#define IDENT_USER_MAX 512u

enum ident_status {
    IDENT_MORE = 0,       /* no end of line yet: read on */
    IDENT_USERID = 1,     /* user, opsys (and charset, empty if not given) are set */
    IDENT_ERROR = 2,      /* error names the error token */
    IDENT_MALFORMED = -1, /* not a reply to this query */
    IDENT_TOO_LONG = -2,  /* more than IDENT_REPLY_MAX bytes without an end of line */
};

struct ident_reply {
    struct slice opsys, charset, user, error;
};

/* Writes the query for the pair into buf (at least 16 bytes); returns its length. */
size_t ident_query(char *buf, unsigned client_port, unsigned server_port);

/*
 * Parses what arrived so far (len bytes at buf) as the reply to the query for the pair. The
 * slices of out point into buf. A bare LF is taken as the end of line as well (some servers
 * send it); the line's CR is not part of the user id.
 */
enum ident_status ident_parse(const char *buf, size_t len, unsigned client_port,
                              unsigned server_port, struct ident_reply *out) MUST_CHECK;
