/*
 * opts.h - spate-load's command line: parses argv into struct load_opts, resolving the URL's
 * host once (getaddrinfo). A bad value is a usage error that names it (exit 2).
 */
#pragma once

#include "tools/load/load.h"

/* Fills o from argv. Returns 0, or exits 2 with a message on a bad argument. Sets *merge
 * when the command is --plot-merge OUT A.json ... (then *merge_argi is the index of OUT). */
int opts_parse(struct load_opts *o, int argc, char **argv, bool *merge, int *merge_argi);

void opts_free(struct load_opts *o);

/* Parsers, exposed for the unit test: 0 on success, -1 on a bad value. */
int opts_duration(const char *s, uint64_t *ns);
int opts_rate(const char *s, double *rate);
int opts_spin(const char *s, uint64_t *ns); /* 0, or a time in ns/us/ms up to 10 ms */
int opts_cpus(const char *s, int **cpus, int *n);

/* Whether path can be written: an existing file writable, or a new one's folder (errno set
 * when not). */
bool opts_writable(const char *path);
