/*
 * print.h - writing a configuration back in file syntax: one directive at a time, or all.
 */
#pragma once

#include "core/base/compiler.h"

#include <stdint.h>
#include <stdio.h>

struct conf;

/* Prints the effective configuration in file syntax (--print-config). */
void conf_print(const struct conf *c, FILE *out);

/* Printing a directive: conf_out_begin(o, name), conf_out_arg()..., conf_out_end(). */
struct conf_out {
    FILE *f;
    int depth;
};

void conf_out_begin(struct conf_out *o, const char *name);
void conf_out_arg(struct conf_out *o, const char *arg); /* quoted when needed */
void conf_out_argf(struct conf_out *o, const char *fmt, ...) PRINTF_LIKE(2, 3);
void conf_out_end(struct conf_out *o);

/* A CONF_BLOCK row's block: conf_out_begin, conf_out_arg..., conf_out_open, one
 * conf_out_begin...conf_out_end per inner line, conf_out_close. */
void conf_out_open(struct conf_out *o);  /* " {" and a level deeper */
void conf_out_close(struct conf_out *o); /* a level up, "}" */

/* Sizes and times in the shortest exact unit ("64k", "90s", "250ms"). */
void conf_out_size(struct conf_out *o, uint64_t bytes);
/* The size as the configuration writes it (64k, 2m, 1g, 1000) */
void conf_fmt_size(char *buf, size_t len, uint64_t bytes);
void conf_out_time(struct conf_out *o, uint64_t ms);
