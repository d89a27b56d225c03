/*
 * cond.h - conditional requests (RFC 9110 section 13): If-Match, If-None-Match,
 * If-Modified-Since, If-Unmodified-Since, If-Range, evaluated in the order of
 * section 13.2.2 against a representation's validators. Pure.
 */
#pragma once

#include "core/base/slice.h"
#include "proto/hdr_table.h"
#include "proto/http.h"

#include <stdbool.h>
#include <time.h>

/* The current representation's validators. */
struct http_validators {
    struct slice etag; /* quoted, strong (e.g. "1a-2b-3c"); empty if none */
    time_t last_modified;
    bool has_last_modified;
    time_t now; /* the current time, for two-digit years in RFC 850 dates (date.h) */
};

enum http_precondition {
    HTTP_PRECOND_PROCEED = 0, /* no condition says otherwise: answer normally */
    HTTP_PRECOND_NOT_MODIFIED = 304,
    HTTP_PRECOND_FAILED = 412,
};

/* Evaluates the preconditions of a request (RFC 9110 13.2.2, steps 1-4). */
enum http_precondition http_preconditions(const struct hdr_table *h, enum http_method m,
                                          const struct http_validators *v);

/*
 * If-Range (RFC 9110 13.1.5): true if the Range header should be honoured
 * (no If-Range, or its validator matches: an entity-tag by strong comparison,
 * or a date equal to Last-Modified).
 */
bool http_if_range_ok(const struct hdr_table *h, const struct http_validators *v);

/*
 * True if the entity-tag list `list` ("*", or comma-separated, possibly W/
 * prefixed tags) matches etag. weak: weak comparison (W/ ignored); else
 * strong (neither may be weak). A malformed list matches nothing.
 */
bool http_etag_list_matches(struct slice list, struct slice etag, bool weak);
