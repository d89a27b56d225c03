/* plot.c - see plot.h. */
#include "tools/load/plot.h"

#include "tools/load/report.h"
#include "tools/load/text.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define W 940
#define H 520
#define ML 80 /* margins: left, right, top, bottom */
#define MR 280
#define MT 40
#define MB 60
#define NINES 5.0 /* the x axis ends at 99.999% */

struct series {
    char label[200];
    double pct[REPORT_CURVE_POINTS], us[REPORT_CURVE_POINTS];
    int n;
};

bool plot_name_ok(const char *path)
{
    size_t n = strlen(path);
    return (n > 4 && !strcmp(path + n - 4, ".svg")) || (n > 5 && !strcmp(path + n - 5, ".html"));
}

/* ten colours, then the same ten dashed: twenty runs before two lines look alike */
static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                     "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
#define NCOLORS 10

/* x position of a percentile: log10(1 / (1 - p)), the count of nines, capped at NINES */
static double xpos(double pct)
{
    double nines = pct >= 100 ? NINES : log10(1.0 / (1.0 - pct / 100.0));
    if (nines > NINES) {
        nines = NINES;
    }
    return ML + (W - ML - MR) * nines / NINES;
}

/* A round top for the y axis: 1, 2, 2.5 or 5 times a power of ten. */
static double nice_top(double v)
{
    if (v <= 0) {
        return 1;
    }
    double p = pow(10, floor(log10(v)));
    static const double steps[] = {1, 2, 2.5, 5, 10};
    for (int i = 0; i < 5; i++) {
        if (steps[i] * p >= v) {
            return steps[i] * p;
        }
    }
    return 10 * p;
}

struct yaxis {
    bool log;
    double scale, top; /* linear: the unit (1 us or 1000) and the axis's top in it */
    double d0, d1;     /* log: the decades of microseconds at the bottom and the top */
};

static double ypos(const struct yaxis *a, double us)
{
    double f;
    if (a->log) {
        double d = us > 0 ? log10(us) : a->d0;
        f = ((d < a->d0 ? a->d0 : d) - a->d0) / (a->d1 - a->d0);
    } else {
        f = us / a->scale / a->top;
    }
    return H - MB - (H - MT - MB) * f;
}

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<') {
            fputs("&lt;", f);
        } else if (*s == '&') {
            fputs("&amp;", f);
        } else if (*s == '"') {
            fputs("&quot;", f);
        } else {
            fputc(*s, f);
        }
    }
}

static int draw(const char *path, int n, const struct series *s)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        return -1;
    }
    size_t pl = strlen(path);
    bool html = pl > 5 && !strcmp(path + pl - 5, ".html");
    if (html) {
        fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>spate-load latency"
              "</title></head><body>\n",
              f);
    }
    double top = 0, low = INFINITY; /* the highest latency, and the lowest median */
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < s[i].n; k++) {
            top = s[i].us[k] > top ? s[i].us[k] : top;
            if (s[i].pct[k] >= 50 && s[i].us[k] > 0 && s[i].us[k] < low) {
                low = s[i].us[k];
            }
        }
    }
    bool ms = top >= 10000;
    double scale = ms ? 1000 : 1, ytop = nice_top(top / scale);
    /* curves more than 100x apart (one server queueing at 90% load, the others not): a log
     * axis in decades, or every curve but the worst lies flat on the floor */
    struct yaxis ya = {.log = isfinite(low) && top / low > 100, .scale = scale, .top = ytop};
    if (ya.log) {
        ya.d0 = floor(log10(low));
        ya.d1 = ceil(log10(top));
    }
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
            W, H, W, H);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    fprintf(f, "<text x=\"%d\" y=\"24\" font-size=\"15\">Latency by percentile</text>\n", ML);
    static const char *const ticks[] = {"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"};
    for (int t = 0; t <= 5; t++) {
        double x = ML + (W - ML - MR) * t / NINES;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n", x, MT,
                x, H - MB);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", x, H - MB + 18,
                ticks[t]);
    }
    int nt = ya.log ? (int)(ya.d1 - ya.d0) : 5;
    for (int t = 0; t <= nt; t++) {
        double y = H - MB - (H - MT - MB) * t / (double)nt;
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", ML, y,
                W - MR, y);
        char lab[32];
        if (ya.log) {
            double us = pow(10, ya.d0 + t);
            snprintf(lab, sizeof(lab), "%g %s", us >= 1e6 ? us / 1e6 : us >= 1e3 ? us / 1e3 : us,
                     us >= 1e6 ? "s" : us >= 1e3 ? "ms" : "us");
        } else {
            snprintf(lab, sizeof(lab), "%g", ytop * t / 5.0);
        }
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", ML - 6, y + 4,
                lab);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">percentile</text>\n",
            (ML + W - MR) / 2, H - 18);
    fprintf(f, "<text transform=\"translate(20 %d) rotate(-90)\" text-anchor=\"middle\">"
               "latency (%s)</text>\n",
            (MT + H - MB) / 2, ya.log ? "log scale" : ms ? "ms" : "us");
    for (int i = 0; i < n; i++) {
        const char *col = colors[i % NCOLORS];
        const char *dash = i / NCOLORS % 2 ? " stroke-dasharray=\"6 3\"" : "";
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", col,
                dash);
        for (int k = 0; k < s[i].n; k++) {
            double y = ypos(&ya, s[i].us[k]);
            fprintf(f, "%.1f,%.1f ", xpos(s[i].pct[k]), y);
        }
        fputs("\"/>\n", f);
        int ly = MT + 10 + 20 * i;
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
                   "stroke-width=\"3\"%s/>\n",
                W - MR + 12, ly, W - MR + 32, ly, col, dash);
        fprintf(f, "<text x=\"%d\" y=\"%d\">", W - MR + 38, ly + 4);
        char shortl[40];
        text_label(shortl, sizeof(shortl), s[i].label); /* valid already: a cut, at a char */
        xml_text(f, shortl);
        fputs("<title>", f);
        xml_text(f, s[i].label);
        fputs("</title></text>\n", f);
    }
    fputs("</svg>\n", f);
    if (html) {
        fputs("</body></html>\n", f);
    }
    int bad = ferror(f);
    bad |= fclose(f);
    return bad ? -1 : 0;
}

int plot_write(const char *path, int n, const char *const labels[],
               struct hist_snap *const hists[])
{
    struct series *s = calloc((size_t)n, sizeof(*s));
    for (int i = 0; i < n; i++) {
        text_label(s[i].label, sizeof(s[i].label), labels[i]);
        for (int k = 0; k < REPORT_CURVE_POINTS; k++) {
            s[i].pct[k] = report_curve_pct(k);
            s[i].us[k] = (double)hist_percentile(hists[i], s[i].pct[k]) / 1e3;
        }
        s[i].n = REPORT_CURVE_POINTS;
    }
    int rc = draw(path, n, s);
    free(s);
    return rc;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    size_t cap = 1 << 16, len = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len + 1 == cap) {
            cap *= 2;
            char *m = realloc(buf, cap);
            if (!m) {
                free(buf);
                buf = NULL;
            }
            buf = m;
        }
    }
    fclose(f);
    if (buf) {
        buf[len] = 0;
    }
    return buf;
}

/* Reads "label" and "curve" back from a JSON file spate-load wrote; -1 if they are missing. */
static int read_run(const char *path, struct series *s)
{
    char *j = slurp(path);
    if (!j) {
        return -1;
    }
    const char *l = strstr(j, "\"label\"");
    text_label(s->label, sizeof(s->label), path);
    if (l && (l = strchr(l + 7, '"'))) {
        char raw[sizeof(s->label) * 2];
        text_json_string(l + 1, raw, sizeof(raw));
        text_label(s->label, sizeof(s->label), raw);
    }
    const char *c = strstr(j, "\"curve\"");
    c = c ? strchr(c, '[') : NULL;
    s->n = 0;
    while (c && s->n < REPORT_CURVE_POINTS) {
        c = strchr(c + 1, '[');
        if (!c) {
            break;
        }
        char *end;
        double p = strtod(c + 1, &end);
        if (end == c + 1 || *end != ',') {
            break;
        }
        double v = strtod(end + 1, &end);
        s->pct[s->n] = p;
        s->us[s->n] = v;
        s->n++;
        c = strchr(end, ']');
        if (c && c[1] == ']') {
            break;
        }
        if (c && c[1] == ',') {
            c++;
        }
    }
    free(j);
    return s->n >= 2 ? 0 : -1;
}

int plot_merge(const char *out, int n, char **json_files)
{
    if (!plot_name_ok(out)) {
        fprintf(stderr, "spate-load: --plot-merge OUT must end in .svg or .html, not '%s' "
                        "(usage: --plot-merge OUT.svg A.json [B.json ...])\n", out);
        return 2;
    }
    struct stat so;
    bool out_exists = stat(out, &so) == 0;
    struct series *s = calloc((size_t)n, sizeof(*s));
    for (int i = 0; i < n; i++) {
        struct stat si;
        if (stat(json_files[i], &si) < 0) {
            fprintf(stderr, "spate-load: cannot read %s: %s\n", json_files[i], strerror(errno));
            free(s);
            return 1;
        }
        if (out_exists && si.st_dev == so.st_dev && si.st_ino == so.st_ino) {
            fprintf(stderr, "spate-load: --plot-merge would write over its input %s\n", out);
            free(s);
            return 2;
        }
        if (read_run(json_files[i], &s[i]) < 0) {
            fprintf(stderr, "spate-load: %s is not a spate-load JSON file with a \"curve\"\n",
                    json_files[i]);
            free(s);
            return 1;
        }
    }
    int rc = draw(out, n, s);
    if (rc < 0) {
        fprintf(stderr, "spate-load: cannot write %s: %s\n", out, strerror(errno));
    }
    free(s);
    return rc < 0 ? 1 : 0;
}
