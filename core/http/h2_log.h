/*
 * h2_log.h - access log lines of HTTP/2 streams (h2_log.c): exactly one per stream that got
 * a response head, written when nghttp2 closed the stream (or the connection went).
 */
#pragma once

#include "core/http/h2_state.h"

/* Phase 1 of st's log line, when its head is submitted. */
void h2_stream_capture(struct h2_stream *st);

/* Logs st's line and runs its ends (once). */
void h2_stream_log(struct h2_stream *st);
