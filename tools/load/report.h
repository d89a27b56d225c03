/*
 * report.h - spate-load's results: the wrk-like summary on stdout, the JSON file, and the
 * percentile curve both the JSON and the plot are drawn from.
 */
#pragma once

#include "tools/load/load.h"

#include <stdio.h>

struct load_result {
    struct load_stats total;  /* every thread's counters summed (total.lat unused) */
    struct hist_snap *lat;    /* every thread's latencies merged */
    double seconds;           /* the test's length */
    double rate;              /* achieved requests/s */
    bool rate_short;          /* an open-loop rate below 95% of the target */
};

/* The curve's percentiles: 0, then 100 * (1 - 10^(-k/20)) up to 99.999, then 100 (max). */
#define REPORT_CURVE_POINTS 102
double report_curve_pct(int k);

/* The first lines, before the run (as wrk prints them); then the summary after it. */
void report_start(FILE *f, const struct load_opts *o);
void report_text(FILE *f, const struct load_opts *o, const struct load_result *r);

/* Writes the JSON file; -1 (errno set) if it cannot be written. */
int report_json(const char *path, const struct load_opts *o, const struct load_result *r);
