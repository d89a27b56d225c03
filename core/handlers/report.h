/*
 * report.h - what the reporting handlers (metrics, status, health) share: a growing text
 * buffer whose memory lives until the response is out, the process's figures gathered from
 * every worker, and the `NAME;` directive form they are turned on with.
 *
 * A report is built in one pass on the answering worker, reading the other workers' counters
 * and histograms with relaxed loads (http/registry.h): no lock any worker waits on. The text
 * goes out as one memory piece; its buffer is freed when the request ends (req_on_end), after
 * the last byte left (an HTTP/2 stream copies its frames from it until then).
 */
#pragma once

#include "core/base/histogram.h"
#include "core/conf/conf.h"
#include "core/http/counters.h"
#include "core/http/req.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct rbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

void rb_put(struct rbuf *b, const char *s, size_t n);
void rb_puts(struct rbuf *b, const char *s);
void rb_printf(struct rbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string's contents, or HTML text (escaped) */
void rb_json_str(struct rbuf *b, const char *s, size_t n);
void rb_html(struct rbuf *b, const char *s, size_t n);

/*
 * Sends b as the whole response (status 200, type ctype, no caching); the buffer is the
 * request's from here and freed at its end. 0 (answered), or 500 (out of memory: the buffer
 * is freed, nothing was sent).
 */
int rb_send(struct req *r, struct rbuf *b, const char *ctype, const char *vary);

/* ---- the process's figures ---- */

/* One worker's figures, or (worker 0) the sum over all. */
struct report_worker {
    struct worker_stats s;
    struct hist_snap *service, *queue; /* NULL when latency_histograms is off */
};

/* A location with its own histograms (location_latency on), merged over the workers. */
struct report_loc {
    const char *server; /* its server's first name, or "" */
    const char *location;
    struct hist_snap *service;
};

struct report {
    unsigned nworkers;
    struct report_worker total;
    struct report_worker *w; /* [nworkers] */
    struct report_loc *locs;
    unsigned nlocs;
    bool latency; /* latency_histograms on (in the configuration the answering worker uses) */
    uint64_t gen, reloads, reload_failed;
    int draining;
    long long uptime_s, started;
};

/* Gathers everything, for request r's configuration. 0 or -ENOMEM (nothing to free then). */
int report_gather(struct report *rep, const struct req *r);
void report_free(struct report *rep);

/* The percentiles every report shows, and their labels ("50", "99.9", ...). */
#define REPORT_NPCT 5
extern const double report_pct[REPORT_NPCT];
extern const char *const report_pct_name[REPORT_NPCT];

/* The `status;` form: no argument (or "on", which older nginx configurations write). */
extern const struct conf_type report_on_type;
