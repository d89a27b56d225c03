/*
 * respond.h - the response writer: the one way every handler answers a request.
 *
 * A handler describes its response; it never writes protocol bytes, never
 * sizes a buffer, never decides the body framing:
 *
 *   resp_begin(r, 200);
 *   resp_entity(r, e, RESP_ENT_TYPE | RESP_ENT_VALIDATORS);   file facts: type, validators
 *   resp_field(r, SLICE_LIT("Content-Range"), value);          any other field
 *   resp_body_file(r, e, off, len);                            and/or resp_body_mem()
 *   return resp_send(r);
 *
 * or, for a body of unknown length produced bit by bit (a listing, a CGI
 * script, a proxied response):
 *
 *   resp_begin(r, 200); resp_field(...);
 *   resp_stream(r, &ops);       head now; later, whenever there is data:
 *   n = resp_stream_write(r, p, len);   takes what fits, 0 when the queue is full:
 *                                       ops->writable(r) is called when there is room
 *   resp_stream_end(r);
 *
 * The session under the request turns this into its protocol: for HTTP/1
 * (http/h1_write.c) a status line, Server and Date, the fields, framing
 * (Content-Length from the body's length; chunked, or close-delimited for
 * HTTP/1.0, for a stream), Connection, and the location's configured fields
 * (http/headers.h: add_header, expires), which replace generated fields of
 * the same name. HEAD gets the head of the GET response and no body.
 *
 * Memory: field values and body pieces given without a reference are copied
 * when the response is sent, so they may live in the request's arena; a
 * piece given with a file-cache reference is sent from that memory without a
 * copy (the entry is kept alive until it is sent).
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "fs/cache.h"

#include <stdbool.h>
#include <stdint.h>

struct req;

#define RESP_FIELDS_MAX 8
#define RESP_PIECES_MAX 40   /* multipart/byteranges: 16 parts, a head before each, a tail */
#define RESP_PIECES_INLINE 3 /* more come from the request's arena */

/* What resp_entity takes from the file facts. */
enum resp_entity_part {
    RESP_ENT_TYPE = 1u << 0,       /* Content-Type */
    RESP_ENT_VALIDATORS = 1u << 1, /* Last-Modified, ETag, Accept-Ranges */
};

enum resp_body_kind {
    RESP_BODY_NONE,   /* no body (Content-Length: 0 where a length is sent) */
    RESP_BODY_PAGE,   /* the small HTML page for the status */
    RESP_BODY_PIECES, /* memory and file pieces, length known */
    RESP_BODY_STREAM, /* produced later, length unknown */
};

struct resp_field {
    struct slice name, value;
};

struct resp_piece {
    const char *ptr;      /* memory, or NULL for a file range */
    uint64_t off, len;    /* file range: offset; both: length */
    struct fs_entry *ref; /* keeps ptr alive, or names the file; NULL: copy ptr at send */
};

/* Told by the writer about a streamed body's queue. */
struct resp_stream_ops {
    /* the queue has room again: write more (called at the start of a loop turn) */
    void (*writable)(struct req *r);
    /* the connection went away: stop producing; the request ends when this returns */
    void (*abort)(struct req *r);
};

struct resp {
    int status;
    bool close; /* the connection closes after this response */
    bool sent;  /* the head is queued: nothing may change any more */
    uint8_t body;
    uint8_t entity_parts;
    uint8_t nfields, npieces, pieces_cap;
    const struct fs_entry *entity;
    uint64_t length; /* RESP_BODY_PIECES: bytes of all pieces */
    struct resp_field fields[RESP_FIELDS_MAX];
    struct resp_piece *pieces; /* inline_pieces, or a larger copy in the arena */
    struct resp_piece inline_pieces[RESP_PIECES_INLINE];
    const struct resp_stream_ops *stream;
    void *stream_arg;
};

/* Starts (or restarts) the response: status, no fields, no body. */
void resp_begin(struct req *r, int status);

/* Adds a field (the writer copies it at send). -ENOSPC past RESP_FIELDS_MAX. */
int resp_field(struct req *r, struct slice name, struct slice value) MUST_CHECK;

/* Takes the given facts of e (which the caller keeps referenced until resp_send). */
void resp_entity(struct req *r, const struct fs_entry *e, unsigned parts);

/* Appends len bytes at p to the body; ref keeps them alive (no copy), or NULL (copied). */
int resp_body_mem(struct req *r, const char *p, size_t len, struct fs_entry *ref) MUST_CHECK;

/* Appends bytes [off, off + len) of e's file (from memory when cached, else sendfile). */
int resp_body_file(struct req *r, struct fs_entry *e, uint64_t off, uint64_t len) MUST_CHECK;

/* Sends the response. 0, or -ENOMEM (the connection is then closed). */
int resp_send(struct req *r) MUST_CHECK;

/* The status with its small HTML page (fields added so far are kept, the body replaced). */
int resp_error(struct req *r, int status) MUST_CHECK;

/* Sends the head of a streamed body; ops->writable will be called when there is room. */
int resp_stream(struct req *r, const struct resp_stream_ops *ops, void *arg) MUST_CHECK;

/* Queues up to len bytes of the streamed body; returns how many it took (0: wait). */
size_t resp_stream_write(struct req *r, const void *p, size_t len);

/* Ends the streamed body; the request is done when this returns. 0 or -ENOMEM. */
int resp_stream_end(struct req *r) MUST_CHECK;
