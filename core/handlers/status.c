/*
 * status.c - `status;` and `stub_status;`: the process at a glance.
 *
 *   location = /basic_status { stub_status; }   nginx's four lines, exactly as nginx writes
 *   location = /status { status; }              the same lines, then a per-worker table,
 *                                               latency percentiles, locations; as JSON or a
 *                                               self-refreshing HTML page on request
 *
 * `status;` picks its form from ?format=text|json|html, else from Accept (text/html: the
 * page; application/json: JSON), else text. spate does not track which connections are
 * reading a request, writing a response or idle (that would cost every request a state
 * change on a shared counter), so nginx's "Reading: Writing: Waiting:" line gives every open
 * connection as Writing; the totals (active, accepts, handled, requests) are exact.
 */
#include "core/handlers/status.h"

#include "core/base/alloc.h"
#include "core/base/compiler.h"
#include "core/handlers/report.h"
#include "core/handlers/status_page.h"
#include "core/http/handler.h"
#include "core/http/respond.h"

#include <inttypes.h>
#include <string.h>

struct status_conf {
    bool on;
};

static const struct conf_row status_rows[] = {
    {"status", CONF_LOCATION, CONF_STORE_LOC, 0, 1, CONF_CONTENT, &report_on_type, 0, NULL, 0, 0,
     "", NULL},
};

static const struct conf_row stub_rows[] = {
    {"stub_status", CONF_LOCATION, CONF_STORE_LOC, 0, 1, CONF_CONTENT, &report_on_type, 0, NULL, 0,
     0, "", NULL},
};

static void stub_lines(struct rbuf *b, const struct report *rep)
{
    const struct worker_stats *t = &rep->total.s;
    /* handled: accepted and kept (nginx counts the same minus those closed for a limit) */
    uint64_t handled = t->accepted >= t->refused + t->denied ? t->accepted - t->refused - t->denied : 0;
    /* nginx counts a request when it arrives, so its page counts itself; spate counts one
     * when it is answered: the one being answered now is added */
    rb_printf(b,
              "Active connections: %" PRIu64 " \nserver accepts handled requests\n %" PRIu64
              " %" PRIu64 " %" PRIu64 " \nReading: 0 Writing: %" PRIu64 " Waiting: 0 \n",
              t->conns_open, t->accepted, handled, t->requests + 1, t->conns_open);
}

static uint64_t pct_us(const struct hist_snap *s, double p)
{
    return s ? hist_percentile(s, p) / 1000 : 0;
}

static void text_form(struct rbuf *b, const struct report *rep)
{
    stub_lines(b, rep);
    rb_printf(b, "\nuptime %llds, %u workers, configuration %" PRIu64 "%s\n", rep->uptime_s,
              rep->nworkers, rep->gen, rep->draining ? ", draining" : "");
    rb_puts(b, "\nworker cpu   requests   active   accepted  refused       2xx       3xx       "
               "4xx       5xx\n");
    for (unsigned i = 0; i <= rep->nworkers; i++) {
        const struct worker_stats *s = i < rep->nworkers ? &rep->w[i].s : &rep->total.s;
        char who[16];
        snprintf(who, sizeof(who), i < rep->nworkers ? "%u" : "all", s->worker);
        rb_printf(b,
                  "%6s %3d %10" PRIu64 " %8" PRIu64 " %10" PRIu64 " %8" PRIu64 " %9" PRIu64
                  " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 "\n",
                  who, i < rep->nworkers ? s->cpu : -1, s->requests, s->conns_open, s->accepted,
                  s->refused + s->denied, s->responses[2], s->responses[3], s->responses[4],
                  s->responses[5]);
    }
    if (!rep->latency && !rep->nlocs) {
        rb_puts(b, "\nlatency histograms: off (latency_histograms on; to record them)\n");
        return;
    }
    rb_puts(b, "\nlatency (us)          count       p50       p90       p99     p99.9    p99.99       max\n");
    for (unsigned i = 0; rep->latency && i <= rep->nworkers; i++) {
        const struct report_worker *w = i < rep->nworkers ? &rep->w[i] : &rep->total;
        for (int k = 0; k < 2; k++) {
            const struct hist_snap *s = k ? w->queue : w->service;
            char who[40];
            if (i < rep->nworkers) {
                snprintf(who, sizeof(who), "w%u %s", w->s.worker, k ? "queue" : "service");
            } else {
                snprintf(who, sizeof(who), "all %s", k ? "queue" : "service");
            }
            rb_printf(b, "%-18s %9" PRIu64, who, s->count);
            for (int p = 0; p < REPORT_NPCT; p++) {
                rb_printf(b, " %9" PRIu64, pct_us(s, report_pct[p]));
            }
            rb_printf(b, " %9" PRIu64 "\n", s->max / 1000);
        }
    }
    for (unsigned i = 0; i < rep->nlocs; i++) {
        const struct report_loc *l = &rep->locs[i];
        rb_printf(b, "%s %s\n%-18s %9" PRIu64, l->server[0] ? l->server : "(default)",
                  l->location[0] ? l->location : "(server)", "", l->service->count);
        for (int p = 0; p < REPORT_NPCT; p++) {
            rb_printf(b, " %9" PRIu64, pct_us(l->service, report_pct[p]));
        }
        rb_printf(b, " %9" PRIu64 "\n", l->service->max / 1000);
    }
}

static void json_latency(struct rbuf *b, const char *key, const struct hist_snap *s)
{
    rb_printf(b, "\"%s\":{\"count\":%" PRIu64 ",\"mean\":%" PRIu64, key, s->count,
              s->count ? s->sum / s->count / 1000 : 0);
    for (int p = 0; p < REPORT_NPCT; p++) {
        rb_printf(b, ",\"p%s\":%" PRIu64, report_pct_name[p], pct_us(s, report_pct[p]));
    }
    rb_printf(b, ",\"max\":%" PRIu64 "}", s->max / 1000);
}

static void json_worker(struct rbuf *b, const struct report_worker *w, bool total)
{
    const struct worker_stats *s = &w->s;
    if (!total) {
        rb_printf(b, "{\"worker\":%u,\"cpu\":%d,", s->worker, s->cpu);
    } else {
        rb_puts(b, "{");
    }
    rb_printf(b,
              "\"requests\":%" PRIu64 ",\"connections\":{\"active\":%" PRIu64
              ",\"accepted\":%" PRIu64 ",\"refused\":%" PRIu64 ",\"denied\":%" PRIu64
              ",\"closed\":%" PRIu64 ",\"timeouts\":%" PRIu64 ",\"accept_errors\":%" PRIu64 "},",
              s->requests, s->conns_open, s->accepted, s->refused, s->denied, s->closed,
              s->timeouts, s->accept_errors);
    rb_printf(b,
              "\"responses\":{\"1xx\":%" PRIu64 ",\"2xx\":%" PRIu64 ",\"3xx\":%" PRIu64
              ",\"4xx\":%" PRIu64 ",\"5xx\":%" PRIu64 "},",
              s->responses[1], s->responses[2], s->responses[3], s->responses[4], s->responses[5]);
    rb_printf(b, "\"bytes\":{\"received\":%" PRIu64 ",\"sent\":%" PRIu64 "},", s->bytes_in,
              s->bytes_out);
    rb_printf(b,
              "\"file_cache\":{\"hits\":%" PRIu64 ",\"misses\":%" PRIu64 ",\"evictions\":%" PRIu64
              ",\"entries\":%" PRIu64 ",\"bytes\":%" PRIu64 "},",
              s->fcache_hits, s->fcache_misses, s->fcache_evictions, s->fcache_entries,
              s->fcache_bytes);
    rb_printf(b,
              "\"log\":{\"lines\":%" PRIu64 ",\"stalls\":%" PRIu64 ",\"dropped\":%" PRIu64 "},",
              s->log_lines, s->log_stalls, s->log_dropped);
    rb_printf(b,
              "\"tls\":{\"handshakes\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"resumed\":%" PRIu64
              ",\"ktls\":%" PRIu64 ",\"userspace\":%" PRIu64 ",\"sealed\":%" PRIu64 "}",
              s->tls_handshakes, s->tls_failed, s->tls_resumed, s->tls_ktls, s->tls_user,
              s->tls_sealed);
    if (w->service) {
        rb_puts(b, ",\"latency_us\":{");
        json_latency(b, "service", w->service);
        rb_puts(b, ",");
        json_latency(b, "queue", w->queue);
        rb_puts(b, "}");
    }
    rb_puts(b, "}");
}

void status_json(struct rbuf *b, const struct report *rep)
{
    rb_printf(b,
              "{\"version\":\"%s\",\"uptime_s\":%lld,\"started\":%lld,\"workers_n\":%u,"
              "\"generation\":%" PRIu64 ",\"reloads\":%" PRIu64 ",\"reload_failures\":%" PRIu64
              ",\"draining\":%s,\"latency_histograms\":%s,",
              SPATE_VERSION, rep->uptime_s, rep->started, rep->nworkers, rep->gen, rep->reloads,
              rep->reload_failed, rep->draining ? "true" : "false",
              rep->latency ? "true" : "false");
    rb_puts(b, "\"total\":");
    json_worker(b, &rep->total, true);
    rb_puts(b, ",\"workers\":[");
    for (unsigned i = 0; i < rep->nworkers; i++) {
        rb_puts(b, i ? "," : "");
        json_worker(b, &rep->w[i], false);
    }
    rb_puts(b, "],\"locations\":[");
    for (unsigned i = 0; i < rep->nlocs; i++) {
        const struct report_loc *l = &rep->locs[i];
        rb_puts(b, i ? ",{\"server\":\"" : "{\"server\":\"");
        rb_json_str(b, l->server, strlen(l->server));
        rb_puts(b, "\",\"location\":\"");
        rb_json_str(b, l->location, strlen(l->location));
        rb_puts(b, "\",\"latency_us\":{");
        json_latency(b, "service", l->service);
        rb_puts(b, "}}");
    }
    rb_puts(b, "]}\n");
}

enum form { FORM_TEXT, FORM_JSON, FORM_HTML };

static bool has(struct slice s, const char *word)
{
    size_t n = strlen(word);
    for (size_t i = 0; i + n <= s.len; i++) {
        if (strncasecmp(s.ptr + i, word, n) == 0) {
            return true;
        }
    }
    return false;
}

static enum form form_of(const struct req *r)
{
    struct slice a = r->args;
    if (has(a, "format=json")) {
        return FORM_JSON;
    }
    if (has(a, "format=html")) {
        return FORM_HTML;
    }
    if (has(a, "format=text")) {
        return FORM_TEXT;
    }
    const struct http_header *f = r->msg ? hdr_get(&r->msg->headers, SLICE_LIT("Accept")) : NULL;
    if (f && has(f->value, "text/html")) {
        return FORM_HTML;
    }
    if (f && has(f->value, "application/json")) {
        return FORM_JSON;
    }
    return FORM_TEXT;
}

static int answer(struct req *r, bool stub)
{
    struct report rep;
    if (report_gather(&rep, r) < 0) {
        return 500;
    }
    struct rbuf b = {0};
    enum form f = stub ? FORM_TEXT : form_of(r);
    const char *type = "text/plain; charset=utf-8";
    if (stub) {
        stub_lines(&b, &rep);
    } else if (f == FORM_JSON) {
        status_json(&b, &rep);
        type = "application/json";
    } else if (f == FORM_HTML) {
        struct rbuf j = {0};
        status_json(&j, &rep);
        b.oom = j.oom;
        status_page(&b, j.p, j.len);
        sp_free(j.p);
        type = "text/html; charset=utf-8";
    } else {
        text_form(&b, &rep);
    }
    report_free(&rep);
    /* the form follows Accept unless ?format= names it: caches must know */
    return rb_send(r, &b, type, stub ? NULL : "Accept");
}

static int handle_status(struct req *r, const void *conf)
{
    (void)conf;
    return answer(r, false);
}

static int handle_stub(struct req *r, const void *conf)
{
    (void)conf;
    return answer(r, true);
}

static const struct handler_ops status_handler = {
    .name = "status",
    .methods = HANDLER_METHOD(HTTP_GET),
    .handle = handle_status,
};

static const struct handler_ops stub_handler = {
    .name = "stub_status",
    .methods = HANDLER_METHOD(HTTP_GET),
    .handle = handle_stub,
};

const struct conf_module status_module = {
    .name = "status",
    .rows = status_rows,
    .nrows = ARRAY_SIZE(status_rows),
    .size = {[CONF_STORE_LOC] = sizeof(struct status_conf)},
    .content = &status_handler,
};

const struct conf_module stub_status_module = {
    .name = "stub_status",
    .rows = stub_rows,
    .nrows = ARRAY_SIZE(stub_rows),
    .size = {[CONF_STORE_LOC] = sizeof(struct status_conf)},
    .content = &stub_handler,
};
