/*
 * fastcgi.h - FastCGI records (the FastCGI 1.0 specification): what a web server sends an
 * application server (php-fpm, fcgiwrap) and reads back, as a responder.
 *
 * Every record is an 8-byte header (version 1, type, request id, content length, padding
 * length), content of 0..65535 bytes and 0..255 bytes of padding. A request is:
 *
 *   BEGIN_REQUEST (role RESPONDER, flag KEEP_CONN: the server keeps the connection open)
 *   PARAMS ...    name-value pairs (CGI meta-variables), ended by an empty PARAMS record
 *   STDIN ...     the request body, ended by an empty STDIN record
 *
 * and the answer is STDOUT records (a CGI response: head, then body), STDERR records (the
 * script's messages) and one END_REQUEST (app status, protocol status). A name-value pair is
 * each length in 1 byte (< 128) or 4 bytes (high bit set, 31 bits), then the name, then the
 * value.
 *
 * Encoders write into the caller's memory and say how much they wrote. The decoder is a
 * streaming state machine over the bytes a socket delivers, split anywhere: it buffers only
 * the 8-byte header and END_REQUEST's 8-byte body, returns STDOUT and STDERR content as
 * slices of the caller's input, and never trusts a length beyond the record it frames (a
 * record's content is consumed as it arrives, padding skipped). Pure: no allocation, no I/O.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FCGI_VERSION_1 1
#define FCGI_HEADER_LEN 8
#define FCGI_CONTENT_MAX 65535u
#define FCGI_BEGIN_LEN 16 /* a BEGIN_REQUEST record: header and body */
#define FCGI_PAIR_LEN_MAX 0x7fffffffu

enum fcgi_type {
    FCGI_BEGIN_REQUEST = 1,
    FCGI_ABORT_REQUEST = 2,
    FCGI_END_REQUEST = 3,
    FCGI_PARAMS = 4,
    FCGI_STDIN = 5,
    FCGI_STDOUT = 6,
    FCGI_STDERR = 7,
    FCGI_DATA = 8,
    FCGI_GET_VALUES = 9,
    FCGI_GET_VALUES_RESULT = 10,
    FCGI_UNKNOWN_TYPE = 11,
};

#define FCGI_RESPONDER 1
#define FCGI_KEEP_CONN 1

/* END_REQUEST's protocol status. */
enum fcgi_protocol_status {
    FCGI_REQUEST_COMPLETE = 0,
    FCGI_CANT_MPX_CONN = 1,
    FCGI_OVERLOADED = 2,
    FCGI_UNKNOWN_ROLE = 3,
};

/* Padding that rounds content of len bytes up to a multiple of 8 (what nginx sends). */
static inline unsigned fcgi_padding(size_t len)
{
    return (unsigned)((8 - (len & 7)) & 7);
}

/* Writes a record header for content_len bytes of content and pad bytes of padding. */
void fcgi_header(char out[FCGI_HEADER_LEN], enum fcgi_type type, uint16_t id, uint16_t content_len,
                 uint8_t pad);

/* Writes BEGIN_REQUEST for a responder (FCGI_BEGIN_LEN bytes). */
void fcgi_begin_request(char out[FCGI_BEGIN_LEN], uint16_t id, bool keep_conn);

/* Writes ABORT_REQUEST (FCGI_HEADER_LEN bytes). */
void fcgi_abort_request(char out[FCGI_HEADER_LEN], uint16_t id);

/* Bytes the name-value pair takes encoded; 0 when a length is over FCGI_PAIR_LEN_MAX. */
size_t fcgi_pair_size(size_t name_len, size_t value_len);

/* Encodes a pair (fcgi_pair_size bytes, which the caller checked were not 0). */
size_t fcgi_pair_encode(char *out, struct slice name, struct slice value);

/* Bytes fcgi_stream_encode writes for len bytes of a stream (records, padding; no end). */
size_t fcgi_stream_size(size_t len);

/*
 * Frames len bytes of a stream (PARAMS, STDIN) as records of at most FCGI_CONTENT_MAX bytes,
 * padded; len 0 writes the empty record that ends the stream. Returns the bytes written.
 */
size_t fcgi_stream_encode(char *out, enum fcgi_type type, uint16_t id, const char *p, size_t len);

/*
 * Decodes one name-value pair at p[0..len): 1 with *name and *value (slices of p) and *used,
 * 0 when it needs more bytes, -1 when a length is malformed (the 4-byte form over 31 bits is
 * impossible by construction: the high bit is the marker). For tests and the fuzz target.
 */
int fcgi_pair_decode(const char *p, size_t len, struct slice *name, struct slice *value,
                     size_t *used);

/* ---- decoding an application server's answer ---- */

enum {
    FCGI_DEC_MORE = 0,   /* all input consumed; no record of the answer ended */
    FCGI_DEC_STDOUT = 1, /* *data: STDOUT content; call again with the rest */
    FCGI_DEC_STDERR = 2, /* *data: STDERR content */
    FCGI_DEC_END = 3,    /* END_REQUEST (and its padding) ended *used bytes in: the answer is
                          * complete; what follows is not this request's */
};

#define FCGI_DEC_BAD_VERSION (-1)
#define FCGI_DEC_BAD_ID (-2)
#define FCGI_DEC_BAD_TYPE (-3)
#define FCGI_DEC_BAD_END (-4) /* END_REQUEST shorter than its 8-byte body */
#define FCGI_DEC_DONE (-5)    /* called after FCGI_DEC_END */

struct fcgi_decoder {
    uint8_t state;
    uint8_t have;  /* bytes of hdr or end collected */
    uint8_t type;  /* of the current record */
    uint8_t pad;   /* padding left of the current record */
    uint16_t id;   /* the request the answer is for */
    uint32_t left; /* content left of the current record */
    uint8_t hdr[FCGI_HEADER_LEN];
    uint8_t end[8];
    uint32_t app_status;  /* END_REQUEST's, once FCGI_DEC_END */
    uint8_t proto_status; /* enum fcgi_protocol_status */
    bool stdout_closed;   /* an empty STDOUT record came */
};

/* Starts decoding the answer to request id. */
void fcgi_decoder_init(struct fcgi_decoder *d, uint16_t id);

/*
 * Decodes from buf[0..len): *used bytes consumed, *data the content found (a slice of buf,
 * possibly empty). Returns an FCGI_DEC_* value, or a negative FCGI_DEC_BAD_* (the stream is
 * unusable: close the connection). Management records (request id 0) are skipped; records of
 * another request, and types a responder never receives, are errors.
 */
int fcgi_decode(struct fcgi_decoder *d, const char *buf, size_t len, size_t *used,
                struct slice *data) MUST_CHECK;

/* A sentence for a negative fcgi_decode result. */
const char *fcgi_decode_error(int rc);
