/*
 * date.h - HTTP-date formatting and parsing (RFC 9110 5.6.7).
 *
 * Pure functions over time_t (seconds since the epoch, UTC); they never read the
 * clock. Thread-safe.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"

#include <time.h>

#define HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Writes the IMF-fixdate of t into out (exactly HTTP_DATE_LEN bytes, no NUL). */
void http_date_format(char *out, time_t t);

/*
 * Parses an HTTP-date in any of the three formats a recipient must accept:
 * IMF-fixdate, obsolete RFC 850 and asctime. now is the current time, which
 * places an RFC 850 two-digit year: the latest year with those digits that is
 * at most 50 years after now's year (RFC 9110 5.6.7). The caller reads the
 * clock, so proto/ makes no system calls. Returns 0 and sets *t, or -EINVAL.
 */
int http_date_parse(struct slice s, time_t now, time_t *t) MUST_CHECK;
