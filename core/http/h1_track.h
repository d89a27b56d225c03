/*
 * h1_track.h - records of the responses an HTTP/1 connection has queued, and their log lines.
 */
#pragma once

#include "core/http/h1_state.h"

/* A record for the response whose head starts at h->queued, its log line's phase 1 captured;
 * NULL when memory ran out. */
struct h1_rec *h1_record(struct h1_conn *h, const struct req *r, struct slice raw);

/* Counts and logs the records whose last byte went out (h->sent). */
void h1_completed(struct h1_conn *h);

/* Runs and empties a list of request ends (req.h). */
void h1_run_ends(struct req_end **list);

/* Logs every record that never completed, with the bytes that did (the connection goes). */
void h1_log_unfinished(struct h1_conn *h);
