/*
 * resp.h - an incremental HTTP/1.x response parser for the load generator.
 *
 * Fed the bytes of a connection as they arrive, in pieces of any size, it finds where each
 * response ends: a status line and headers, then a body framed by Content-Length, by chunked
 * transfer coding, or by the end of the connection; none for HEAD, 204 and 304. Interim 1xx
 * responses (100 Continue, 103 Early Hints) are skipped: the request's answer is the final
 * one. Body bytes go to an optional callback (the --check digest) and are otherwise only
 * counted. No allocation; a header line longer than RESP_LINE_MAX is a parse error.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RESP_LINE_MAX 8192

enum resp_state {
    RESP_STATUS,      /* waiting for the status line */
    RESP_HEADERS,     /* header lines up to the empty one */
    RESP_BODY,        /* `remain` Content-Length bytes */
    RESP_CHUNK_SIZE,  /* a chunk-size line */
    RESP_CHUNK_DATA,  /* `remain` chunk bytes */
    RESP_CHUNK_CRLF,  /* the CRLF after a chunk's data */
    RESP_TRAILERS,    /* trailer lines up to the empty one */
    RESP_UNTIL_CLOSE, /* no framing: the body runs to the end of the connection */
    RESP_DONE,
};

struct resp {
    enum resp_state state;
    int status;        /* the final status */
    bool head;         /* the request was HEAD: no body whatever the headers say */
    bool close;        /* the connection ends after this response */
    bool have_length, chunked;
    bool te;           /* a Transfer-Encoding header came */
    uint64_t length;   /* Content-Length */
    uint64_t remain;
    uint64_t body;     /* body bytes so far */
    void (*on_body)(void *ctx, const char *p, size_t n);
    void *ctx;
    size_t linelen;
    char line[RESP_LINE_MAX];
};

/* Starts a response (head: the request was HEAD). Keeps on_body/ctx. */
void resp_begin(struct resp *r, bool head);

/* Parses up to n bytes. Returns the bytes used (fewer than n only when the response ended
 * there: state is RESP_DONE), or -1 on malformed input. */
long resp_feed(struct resp *r, const char *p, size_t n);

/* The connection ended: 1 if that completes the response (a body running to the close),
 * 0 if no byte of a response had arrived, -1 if it cut one short. */
int resp_eof(struct resp *r);
