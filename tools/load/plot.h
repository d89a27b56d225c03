/*
 * plot.h - latency-percentile plots (SVG, or SVG inside an HTML page when the name ends in
 * .html): x is the percentile on a log axis (HdrHistogram's habit: 0, 90, 99, ... 99.999, each
 * "nine" the same width), y the latency. Several runs overlay, one line each, so servers
 * compare at a glance; --plot-merge draws the curves stored in runs' JSON files.
 */
#pragma once

#include "core/base/histogram.h"

#include <stdbool.h>
#include <stddef.h>

/* Whether a plot may be written to path: its name ends in .svg or .html. */
bool plot_name_ok(const char *path);

/* Writes a plot of n runs (labels[i], hists[i]); -1 with errno if the file cannot be written. */
int plot_write(const char *path, int n, const char *const labels[],
               struct hist_snap *const hists[]);

/* spate-load --plot-merge OUT A.json ...: returns the exit status. */
int plot_merge(const char *out, int n, char **json_files);
