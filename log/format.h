/*
 * format.h - access-log formats: compilation and two-phase rendering.
 *
 * A format is nginx-style text with $variables, compiled once at startup into
 * a list of ops. A line is rendered in two phases so the request's bytes are
 * never kept after its head is parsed (zero-copy parsing leaves them in a
 * receive buffer that is recycled at once):
 *
 *   1. when the response is queued: everything the request determines
 *      (address, request line, headers, status ...) is rendered, escaped, into
 *      a small capture, leaving "holes" for what is only known later;
 *   2. when the response has been sent (or the connection died): the holes
 *      (bytes sent, duration, time) are filled while the line is copied into
 *      the worker's log ring.
 *
 * Escaping: "default" writes `"`, `\`, bytes below 0x20 and from 0x7f up as
 * \xHH (nginx's rule), so no request can forge or split a line; "json"
 * escapes per RFC 8259 and writes bytes that are not valid UTF-8 as \u00HH,
 * so every line is valid JSON. Pure: no I/O.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "proto/hdr_table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_escape {
    LOG_ESC_DEFAULT,
    LOG_ESC_JSON,
    LOG_ESC_NONE,
};

struct log_op;

struct log_format {
    struct log_op *ops;
    unsigned nops;
    enum log_escape escape;
    bool needs_addr; /* uses the client address or port (getpeername once per connection) */
    char *name;
};

/*
 * Compiles text (variables: see docs/logging.md) into f. Returns 0, or -1 with
 * a message naming the unknown variable in err.
 */
int log_format_compile(struct log_format *f, const char *name, const char *text,
                       enum log_escape esc, char *err, size_t errlen) MUST_CHECK;

/* The text of a built-in format ("common", "combined", "json"), or NULL. */
const char *log_format_builtin(const char *name, enum log_escape *esc);

void log_format_free(struct log_format *f);

/* What phase 1 knows. Slices may be empty; request == NULL for a head that failed to parse. */
struct log_req_info {
    struct slice request_line; /* as received (for a malformed head: its first line, cut) */
    struct slice method, target, path, query, protocol;
    bool has_query;
    struct slice host, referer, user_agent;
    const struct hdr_table *headers; /* for $http_NAME, or NULL */
    int status;
    const char *client_addr; /* text, or NULL */
    unsigned client_port;
    bool host_lookups; /* hostname_lookups is on for the request: $clf_host is the name */
    const char *remote_user; /* NULL: "-" */
    unsigned worker;
    uint64_t connection;
    uint32_t conn_requests;
};

/* What phase 2 knows. */
struct log_done_info {
    uint64_t bytes_sent; /* head + body bytes handed to the kernel */
    uint64_t body_bytes_sent;
    uint64_t duration_us;
    const char *time_local;   /* "26/Nov/2026:01:44:04 +0000" */
    const char *time_iso8601; /* "2026-11-26T01:44:04+00:00" (local) */
    const char *time_utc;     /* "2026-11-26T01:44:04.123Z" */
    uint64_t epoch_ms;
    /* the answers of the lookups (core/http/client_id.h), NULL: none (the address, "-") */
    const char *remote_host;  /* the client's name */
    const char *remote_ident; /* the user id its ident server gave */
};

/*
 * Phase 1: renders into cap bytes at out. Returns the capture length, or 0 if
 * cap was too small (callers size it with log_capture_bound()).
 */
size_t log_render_request(const struct log_format *f, const struct log_req_info *ri, char *out,
                          size_t cap);

/* An upper bound of the phase-1 capture for ri (for any request when ri is NULL). */
size_t log_capture_bound(const struct log_format *f, const struct log_req_info *ri);

/* Phase 2: the final line (with its newline) into out; returns its length (cut to cap). */
size_t log_render_done(const char *capture, size_t caplen, const struct log_done_info *di,
                       char *out, size_t cap);

/* The most bytes phase 2 can add to a capture (for reserving ring space). */
size_t log_done_bound(const char *capture, size_t caplen);

/*
 * Escapes s into out (at most cap bytes, never splitting an escape) per esc;
 * returns bytes written and, if consumed is not NULL, how many input bytes they cover.
 */
size_t log_escape_into(char *out, size_t cap, struct slice s, enum log_escape esc,
                       size_t *consumed);
