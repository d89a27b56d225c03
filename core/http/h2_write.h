/*
 * h2_write.h - the HTTP/2 writer's callbacks for nghttp2 and the connection (h2_write.c); its
 * struct req_proto is h2_proto (h2.h).
 */
#pragma once

#include "core/http/h2_state.h"

#include <nghttp2/nghttp2.h>
#include <stdbool.h>
#include <sys/types.h>

/* The writer's table for requests of HTTP/2 streams. */
extern const struct req_proto h2_proto;

/* The socket a request arrived on ($server_addr under a wildcard listen). */
int h2_req_fd(const struct req *r);

/* Resets st with code (RST_STREAM), as nghttp2 allows at this point. */
void h2_stream_reset(struct h2_stream *st, uint32_t code);

/* The handler let go of st: its line is logged once nghttp2 closed it too. */
void h2_stream_done(struct h2_stream *st);

/* The request body stops going to its consumer (the response is complete); what is kept
 * is dropped and its window opened. */
void h2_stream_body_let_go(struct h2_stream *st);

/* nghttp2's callbacks for a response body (the data provider and NO_COPY frames). */
ssize_t h2_data_read(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                     nghttp2_data_source *src, void *arg);
int h2_data_send(nghttp2_session *ng, nghttp2_frame *frame, const uint8_t *framehd, size_t len,
                 nghttp2_data_source *src, void *arg);

/* Streams whose producer waits for room get writable() (resume). */
void h2_writable(struct h2_conn *h);

/* Does st have body bytes ready to go in DATA frames? */
bool h2_stream_has_output(const struct h2_stream *st);
