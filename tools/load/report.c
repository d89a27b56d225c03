/* report.c - see report.h. */
#include "tools/load/report.h"

#include <math.h>
#include <string.h>

const char *const load_err_names[ERR_N] = {"connect", "read",   "write", "timeout",
                                            "parse",   "closed", "check"};

static const double table_pct[] = {50, 75, 90, 99, 99.9, 99.99, 99.999};
static const char *const table_key[] = {"p50", "p75", "p90", "p99", "p99.9", "p99.99",
                                        "p99.999"};
#define NPCT (sizeof(table_pct) / sizeof(table_pct[0]))

double report_curve_pct(int k)
{
    if (k <= 0) {
        return 0;
    }
    if (k >= REPORT_CURVE_POINTS - 1) {
        return 100;
    }
    return 100.0 * (1.0 - pow(10.0, -(double)k / 20.0));
}

/* A duration in ns as wrk prints it: 812.00us, 1.25ms, 2.01s. */
static void fmt_time(char *buf, size_t n, double ns)
{
    if (ns < 1e6) {
        snprintf(buf, n, "%.2fus", ns / 1e3);
    } else if (ns < 1e9) {
        snprintf(buf, n, "%.2fms", ns / 1e6);
    } else {
        snprintf(buf, n, "%.2fs", ns / 1e9);
    }
}

static void fmt_bytes(char *buf, size_t n, double b)
{
    const char *unit[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (b >= 1024 && u < 4) {
        b /= 1024;
        u++;
    }
    snprintf(buf, n, "%.2f%s", b, unit[u]);
}

static double mean_ns(const struct hist_snap *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0;
}

/* From the buckets' midpoints: the histogram keeps no sum of squares. */
static double stdev_ns(const struct hist_snap *h)
{
    if (h->count < 2) {
        return 0;
    }
    double m = mean_ns(h), acc = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        if (h->b[i]) {
            double mid = ((double)hist_bucket_low(i) + (double)hist_bucket_high(i)) / 2;
            acc += (double)h->b[i] * (mid - m) * (mid - m);
        }
    }
    return sqrt(acc / (double)(h->count - 1));
}

void report_start(FILE *f, const struct load_opts *o)
{
    fprintf(f, "Running %.3gs test @ %s\n", (double)o->duration_ns / 1e9, o->url);
    fprintf(f, "  %d threads and %d connections", o->threads, o->conns);
    if (o->rate > 0) {
        fprintf(f, ", open loop at %.6g req/s (%s)", o->rate, o->poisson ? "Poisson" : "even");
    } else {
        fprintf(f, ", closed loop");
    }
    if (o->pipeline > 1 && !o->close) {
        fprintf(f, ", pipeline %d", o->pipeline);
    }
    fprintf(f, "%s\n", o->close ? ", Connection: close" : "");
    fflush(f);
}

void report_text(FILE *f, const struct load_opts *o, const struct load_result *r)
{
    const struct load_stats *t = &r->total;
    char a[32], b[32], c[32];
    fmt_time(a, sizeof(a), mean_ns(r->lat));
    fmt_time(b, sizeof(b), stdev_ns(r->lat));
    fmt_time(c, sizeof(c), (double)r->lat->max);
    fprintf(f, "  %-12s %10s %10s %10s\n", "", "Avg", "Stdev", "Max");
    fprintf(f, "  %-12s %10s %10s %10s\n", "Latency", a, b, c);
    fprintf(f, "  Latency Distribution (%s)\n",
            o->rate > 0 ? "from each request's intended send time" : "from the send");
    for (unsigned i = 0; i < NPCT; i++) {
        fmt_time(a, sizeof(a), (double)hist_percentile(r->lat, table_pct[i]));
        fprintf(f, "   %8.3f%%  %10s\n", table_pct[i], a);
    }
    fmt_time(a, sizeof(a), (double)r->lat->max);
    fprintf(f, "   %8s   %10s\n", "max", a);
    fmt_bytes(a, sizeof(a), (double)t->bytes);
    fprintf(f, "  %llu requests in %.2fs, %s read\n", (unsigned long long)t->requests,
            r->seconds, a);
    uint64_t non2xx = t->requests - t->status[2] - t->status[3];
    if (non2xx) {
        fprintf(f, "  Non-2xx or 3xx responses: %llu\n", (unsigned long long)non2xx);
    }
    fprintf(f, "  Status: 1xx %llu, 2xx %llu, 3xx %llu, 4xx %llu, 5xx %llu\n",
            (unsigned long long)t->status[1], (unsigned long long)t->status[2],
            (unsigned long long)t->status[3], (unsigned long long)t->status[4],
            (unsigned long long)t->status[5]);
    uint64_t nerr = 0;
    for (int i = 0; i < ERR_N; i++) {
        nerr += t->err[i];
    }
    if (nerr) {
        fprintf(f, "  Socket errors: connect %llu, read %llu, write %llu, timeout %llu\n",
                (unsigned long long)t->err[ERR_CONNECT], (unsigned long long)t->err[ERR_READ],
                (unsigned long long)t->err[ERR_WRITE], (unsigned long long)t->err[ERR_TIMEOUT]);
        fprintf(f, "  HTTP errors: parse %llu, closed early %llu, check %llu\n",
                (unsigned long long)t->err[ERR_PARSE], (unsigned long long)t->err[ERR_CLOSED],
                (unsigned long long)t->err[ERR_CHECK]);
    }
    if (t->err[ERR_TIMEOUT]) {
        fprintf(f, "  The latency distribution includes the %llu timed-out requests, each at the "
                   "time it was given up\n",
                (unsigned long long)t->err[ERR_TIMEOUT]);
    }
    fprintf(f, "Requests/sec: %10.2f\n", r->rate);
    fmt_bytes(a, sizeof(a), r->seconds > 0 ? (double)t->bytes / r->seconds : 0);
    fprintf(f, "Transfer/sec: %10s\n", a);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            fprintf(f, "\\%c", ch);
        } else if (ch < 0x20) {
            fprintf(f, "\\u%04x", ch);
        } else {
            fputc(ch, f);
        }
    }
    fputc('"', f);
}

int report_json(const char *path, const struct load_opts *o, const struct load_result *r)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "w") : stdout;
    if (!f) {
        return -1;
    }
    const struct load_stats *t = &r->total;
    fprintf(f, "{\n  \"label\": ");
    json_str(f, o->label);
    fprintf(f, ",\n  \"url\": ");
    json_str(f, o->url);
    fprintf(f, ",\n  \"threads\": %d, \"connections\": %d, \"pipeline\": %d, \"close\": %s,\n",
            o->threads, o->conns, o->close ? 1 : o->pipeline, o->close ? "true" : "false");
    fprintf(f, "  \"duration_s\": %.6f, \"mode\": \"%s\", \"poisson\": %s,\n", r->seconds,
            o->rate > 0 ? "open" : "closed", o->poisson ? "true" : "false");
    fprintf(f, "  \"target_rate\": %.3f, \"rate\": %.3f, \"rate_short\": %s,\n", o->rate, r->rate,
            r->rate_short ? "true" : "false");
    if (r->rate_short) {
        fprintf(f, "  \"warning\": \"achieved %.0f req/s, below 95%% of the target %.0f\",\n",
                r->rate, o->rate);
    }
    fprintf(f, "  \"requests\": %llu, \"sent\": %llu, \"bytes\": %llu,\n",
            (unsigned long long)t->requests, (unsigned long long)t->sent,
            (unsigned long long)t->bytes);
    fprintf(f, "  \"errors\": {");
    for (int i = 0; i < ERR_N; i++) {
        fprintf(f, "%s\"%s\": %llu", i ? ", " : "", load_err_names[i],
                (unsigned long long)t->err[i]);
    }
    fprintf(f, "},\n  \"status\": {\"1xx\": %llu, \"2xx\": %llu, \"3xx\": %llu, \"4xx\": %llu, "
               "\"5xx\": %llu, \"other\": %llu},\n",
            (unsigned long long)t->status[1], (unsigned long long)t->status[2],
            (unsigned long long)t->status[3], (unsigned long long)t->status[4],
            (unsigned long long)t->status[5], (unsigned long long)t->status[0]);
    fprintf(f, "  \"latency_us\": {");
    for (unsigned i = 0; i < NPCT; i++) {
        fprintf(f, "\"%s\": %.3f, ", table_key[i],
                (double)hist_percentile(r->lat, table_pct[i]) / 1e3);
    }
    fprintf(f, "\"max\": %.3f, \"mean\": %.3f, \"stdev\": %.3f},\n", (double)r->lat->max / 1e3,
            mean_ns(r->lat) / 1e3, stdev_ns(r->lat) / 1e3);
    /* the percentile curve, for plots that overlay runs (--plot-merge reads it back) */
    fprintf(f, "  \"curve\": [");
    for (int k = 0; k < REPORT_CURVE_POINTS; k++) {
        double p = report_curve_pct(k);
        fprintf(f, "%s[%.6f, %.3f]", k ? ", " : "", p, (double)hist_percentile(r->lat, p) / 1e3);
    }
    /* the non-empty buckets, exact: [lowest ns, highest ns, count] */
    fprintf(f, "],\n  \"histogram\": [");
    bool first = true;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        if (r->lat->b[i]) {
            fprintf(f, "%s[%llu, %llu, %llu]", first ? "" : ", ",
                    (unsigned long long)hist_bucket_low(i),
                    (unsigned long long)hist_bucket_high(i), (unsigned long long)r->lat->b[i]);
            first = false;
        }
    }
    fprintf(f, "]\n}\n");
    int bad = ferror(f);
    if (f != stdout) {
        bad |= fclose(f);
    } else {
        fflush(f);
    }
    return bad ? -1 : 0;
}
