/*
 * metrics.c - `metrics;`: every worker's counters and histograms in the Prometheus text
 * exposition format (version 0.0.4).
 *
 * Per-worker series are spate_worker_* with labels worker and cpu; process totals are the
 * same figures without the prefix's "worker_" and without labels, so that sum() over the
 * per-worker series and the totals never double count. Histograms are exported with fixed
 * `le` bounds (1 us .. 60 s, 1-2-5 steps), each bucket counting the samples of
 * base/histogram.h's buckets wholly below the bound: exact to the histogram's 0.8%.
 */
#include "core/handlers/metrics.h"

#include "core/base/alloc.h"
#include "core/base/compiler.h"
#include "core/handlers/report.h"
#include "core/http/handler.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>

struct metrics_conf {
    bool on;
};

static const struct conf_row rows[] = {
    {"metrics", CONF_LOCATION, CONF_STORE_LOC, 0, 1, CONF_CONTENT, &report_on_type, 0, NULL, 0, 0,
     "", NULL},
};

/* A counter or gauge read from struct worker_stats. */
struct metric {
    const char *name; /* after spate_ / spate_worker_ */
    const char *type;
    const char *help;
    size_t off;
};

#define M(n, t, h, f) {n, t, h, offsetof(struct worker_stats, f)}

static const struct metric counters[] = {
    M("requests_total", "counter", "Requests answered (heads parsed, or refused as malformed).",
      requests),
    M("received_bytes_total", "counter", "Bytes received from clients.", bytes_in),
    M("sent_bytes_total", "counter", "Bytes sent to clients.", bytes_out),
    M("connections_open", "gauge", "Client connections open now.", conns_open),
    M("connections_accepted_total", "counter", "Connections accepted.", accepted),
    M("connections_refused_total", "counter",
      "Connections closed at accept: worker_connections reached, out of memory.", refused),
    M("connections_denied_total", "counter", "Connections closed at accept by allow/deny rules.",
      denied),
    M("connections_closed_total", "counter", "Connections closed.", closed),
    M("accept_errors_total", "counter", "Accept operations that failed.", accept_errors),
    M("timeouts_total", "counter", "Connections closed by a timeout.", timeouts),
    M("file_cache_hits_total", "counter", "Open-file cache hits.", fcache_hits),
    M("file_cache_misses_total", "counter", "Open-file cache misses.", fcache_misses),
    M("file_cache_evictions_total", "counter", "Open-file cache evictions.", fcache_evictions),
    M("file_cache_entries", "gauge", "Open-file cache entries.", fcache_entries),
    M("file_cache_bytes", "gauge", "Bytes held by the open-file cache.", fcache_bytes),
    M("file_cache_rechecks_total", "counter", "Open-file cache revalidations.", fcache_rechecks),
    M("file_cache_rejected_total", "counter", "Files the open-file cache would not take.",
      fcache_rejected),
    M("log_lines_total", "counter", "Access-log lines handed to the log writer.", log_lines),
    M("log_stalls_total", "counter", "Episodes in which requests waited for the access log.",
      log_stalls),
    M("log_dropped_total", "counter", "Access-log lines dropped after access_log_wait.",
      log_dropped),
    M("recv_no_buffers_total", "counter", "Receives that found no provided buffer (ENOBUFS).",
      enobufs),
    M("cold_reads_total", "counter", "File reads that missed the page cache (offloaded).",
      cold_reads),
    M("tls_handshakes_total", "counter", "TLS handshakes completed.", tls_handshakes),
    M("tls_handshakes_failed_total", "counter", "TLS handshakes that failed.", tls_failed),
    M("tls_resumed_total", "counter", "TLS handshakes that resumed a session.", tls_resumed),
    M("tls_ktls_total", "counter", "TLS connections handed to kernel TLS.", tls_ktls),
    M("tls_userspace_total", "counter", "TLS connections encrypted in user space.", tls_user),
    M("tls_sealed_total", "counter",
      "TLS connections in user space whose records spate seals in place (TLS 1.3).", tls_sealed),
};

static uint64_t field(const struct worker_stats *s, size_t off)
{
    return *(const uint64_t *)((const char *)s + off);
}

static void family(struct rbuf *b, const char *prefix, const char *name, const char *type,
                   const char *help)
{
    rb_printf(b, "# HELP spate_%s%s %s\n# TYPE spate_%s%s %s\n", prefix, name, help, prefix,
              name, type);
}

static const char *const classes[6] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};

static void put_counters(struct rbuf *b, const struct report *rep)
{
    for (size_t m = 0; m < ARRAY_SIZE(counters); m++) {
        const struct metric *c = &counters[m];
        family(b, "", c->name, c->type, c->help);
        rb_printf(b, "spate_%s %" PRIu64 "\n", c->name, field(&rep->total.s, c->off));
        family(b, "worker_", c->name, c->type, c->help);
        for (unsigned i = 0; i < rep->nworkers; i++) {
            const struct worker_stats *s = &rep->w[i].s;
            rb_printf(b, "spate_worker_%s{worker=\"%u\",cpu=\"%d\"} %" PRIu64 "\n", c->name,
                      s->worker, s->cpu, field(s, c->off));
        }
    }
    family(b, "", "responses_total", "counter", "Responses fully sent, by status class.");
    for (unsigned k = 1; k < 6; k++) {
        rb_printf(b, "spate_responses_total{class=\"%s\"} %" PRIu64 "\n", classes[k],
                  rep->total.s.responses[k]);
    }
    family(b, "worker_", "responses_total", "counter", "Responses fully sent, by status class.");
    for (unsigned i = 0; i < rep->nworkers; i++) {
        const struct worker_stats *s = &rep->w[i].s;
        for (unsigned k = 1; k < 6; k++) {
            rb_printf(b, "spate_worker_responses_total{worker=\"%u\",cpu=\"%d\",class=\"%s\"} %" PRIu64 "\n",
                      s->worker, s->cpu, classes[k], s->responses[k]);
        }
    }
}

/* The exported bounds, in nanoseconds: 1-2-5 steps from 1 us to 50 s, then 60 s. */
static const uint64_t bounds_ns[] = {
    1000,       2000,       5000,        10000,       20000,       50000,      100000,
    200000,     500000,     1000000,     2000000,     5000000,     10000000,   20000000,
    50000000,   100000000,  200000000,   500000000,   1000000000,  2000000000, 5000000000,
    10000000000, 20000000000, 50000000000, 60000000000,
};

/* The bounds as `le` labels print them (%g of seconds), made once a scrape, not once a line. */
struct le_text {
    char s[ARRAY_SIZE(bounds_ns)][16];
};

static void le_text_init(struct le_text *t)
{
    for (size_t i = 0; i < ARRAY_SIZE(bounds_ns); i++) {
        snprintf(t->s[i], sizeof(t->s[i]), "%g", (double)bounds_ns[i] / 1e9);
    }
}

static void put_hist(struct rbuf *b, const struct le_text *le, const char *name, const char *labels,
                     const struct hist_snap *s)
{
    const char *sep = labels[0] ? "," : "";
    uint64_t n[ARRAY_SIZE(bounds_ns)];
    hist_counts_le(s, bounds_ns, ARRAY_SIZE(bounds_ns), n); /* one walk of the 3840 buckets */
    for (size_t i = 0; i < ARRAY_SIZE(bounds_ns); i++) {
        rb_printf(b, "%s_bucket{%s%sle=\"%s\"} %" PRIu64 "\n", name, labels, sep, le->s[i], n[i]);
    }
    rb_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, labels, sep, s->count);
    rb_printf(b, "%s_sum%s%s%s %.9f\n", name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "",
              (double)s->sum / 1e9);
    rb_printf(b, "%s_count%s%s%s %" PRIu64 "\n", name, labels[0] ? "{" : "", labels,
              labels[0] ? "}" : "", s->count);
}

static void put_label_value(struct rbuf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') {
            rb_put(b, "\\", 1);
            rb_put(b, v, 1);
        } else if (*v == '\n') {
            rb_puts(b, "\\n");
        } else {
            rb_put(b, v, 1);
        }
    }
}

static void put_histograms(struct rbuf *b, const struct report *rep)
{
    static const struct {
        const char *name, *help;
        size_t off;
    } kinds[] = {
        {"request_duration_seconds",
         "Service time: first request byte received to last response byte sent.",
         offsetof(struct report_worker, service)},
        {"request_queue_seconds", "Queueing delay: request received to its handler starting.",
         offsetof(struct report_worker, queue)},
    };
    char labels[64];
    struct le_text le;
    le_text_init(&le);
    for (size_t k = 0; rep->latency && k < ARRAY_SIZE(kinds); k++) {
        char name[80];
        family(b, "", kinds[k].name, "histogram", kinds[k].help);
        snprintf(name, sizeof(name), "spate_%s", kinds[k].name);
        put_hist(b, &le, name, "",
                 *(struct hist_snap *const *)((const char *)&rep->total + kinds[k].off));
        family(b, "worker_", kinds[k].name, "histogram", kinds[k].help);
        snprintf(name, sizeof(name), "spate_worker_%s", kinds[k].name);
        for (unsigned i = 0; i < rep->nworkers; i++) {
            const struct report_worker *w = &rep->w[i];
            snprintf(labels, sizeof(labels), "worker=\"%u\",cpu=\"%d\"", w->s.worker, w->s.cpu);
            put_hist(b, &le, name, labels,
                     *(struct hist_snap *const *)((const char *)w + kinds[k].off));
        }
    }
    if (!rep->nlocs) {
        return;
    }
    family(b, "", "location_request_duration_seconds", "histogram",
           "Service time of the locations with location_latency on.");
    for (unsigned i = 0; i < rep->nlocs; i++) {
        struct rbuf lb = {0};
        rb_puts(&lb, "server=\"");
        put_label_value(&lb, rep->locs[i].server);
        rb_puts(&lb, "\",location=\"");
        put_label_value(&lb, rep->locs[i].location);
        rb_puts(&lb, "\"");
        if (lb.oom) {
            b->oom = true;
        } else {
            put_hist(b, &le, "spate_location_request_duration_seconds", lb.p, rep->locs[i].service);
        }
        sp_free(lb.p);
    }
}

static int handle(struct req *r, const void *conf)
{
    (void)conf;
    struct report rep;
    if (report_gather(&rep, r) < 0) {
        return 500;
    }
    struct rbuf b = {0};
    family(&b, "", "info", "gauge", "The running spate: always 1, its version in a label.");
    rb_printf(&b, "spate_info{version=\"%s\"} 1\n", SPATE_VERSION);
    family(&b, "", "start_time_seconds", "gauge", "When the process started, in Unix time.");
    rb_printf(&b, "spate_start_time_seconds %lld\n", rep.started);
    family(&b, "", "workers", "gauge", "Worker threads.");
    rb_printf(&b, "spate_workers %u\n", rep.nworkers);
    family(&b, "", "config_generation", "gauge", "The configuration generation in force.");
    rb_printf(&b, "spate_config_generation %" PRIu64 "\n", rep.gen);
    family(&b, "", "reloads_total", "counter", "Reloads that put a new configuration in force.");
    rb_printf(&b, "spate_reloads_total %" PRIu64 "\n", rep.reloads);
    family(&b, "", "reload_failures_total", "counter", "Reloads that failed.");
    rb_printf(&b, "spate_reload_failures_total %" PRIu64 "\n", rep.reload_failed);
    family(&b, "", "draining", "gauge", "1 while the process drains (health checks fail).");
    rb_printf(&b, "spate_draining %d\n", rep.draining ? 1 : 0);
    put_counters(&b, &rep);
    put_histograms(&b, &rep);
    report_free(&rep);
    return rb_send(r, &b, "text/plain; version=0.0.4; charset=utf-8", NULL);
}

static const struct handler_ops metrics_handler = {
    .name = "metrics",
    .methods = HANDLER_METHOD(HTTP_GET),
    .handle = handle,
};

const struct conf_module metrics_module = {
    .name = "metrics",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_LOC] = sizeof(struct metrics_conf)},
    .content = &metrics_handler,
};
