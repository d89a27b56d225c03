/*
 * values.h - what a row's parser works with: where it is, how to complain, sizes and times.
 *
 * Errors are one sentence naming the file and line ("spate.conf:12: ..."), or
 * the command-line flag a value came from. Main thread, while a
 * configuration is built.
 */
#pragma once

#include "core/base/compiler.h"

#include <stddef.h>
#include <stdint.h>

/* Room for one error sentence. */
#define CONF_ERR_MAX 512

struct conf;
struct conf_block;

/*
 * Where a value was set: a file and line (> 0), its default (CONF_LINE_DEFAULT),
 * a command-line flag (CONF_LINE_FLAG, file names the flag), or nowhere (0:
 * unset or inherited).
 */
struct conf_where {
    const char *file;
    int line;
};

#define CONF_LINE_DEFAULT (-1)
#define CONF_LINE_FLAG (-2)

/* Writes "file:line: <message>" (or "--flag: ...") for w into err; returns -1. */
int conf_fail_at(char *err, size_t errlen, struct conf_where w, const char *fmt, ...)
    PRINTF_LIKE(4, 5);

/* What a parser needs: where it is, and how to complain. */
struct conf_parse {
    struct conf *conf;
    struct conf_block *block;
    const char *file; /* of the directive being parsed */
    int line;
    const char *dir; /* the configuration's directory: relative paths resolve against it */
    char *err;
    size_t errlen;
};

/* Writes "file:line: <message>" into p->err; returns -1. */
int conf_error(struct conf_parse *p, const char *fmt, ...) PRINTF_LIKE(2, 3);

/*
 * Makes msg one line, even where it quotes a word of the file that holds a line break (a
 * quoted string): control characters become \n, \r, \t or \xHH. conf_error and
 * conf_fail_at do it; messages are one line each.
 */
void conf_one_line(char *msg, size_t cap);

/* An absolute copy of path: relative paths resolve against the configuration's directory. */
char *conf_path(struct conf_parse *p, const char *path) MUST_CHECK;

/* A copy of s, or NULL (after conf_error) when memory ran out. */
char *conf_strdup(struct conf_parse *p, const char *s) MUST_CHECK;

/* "64k" -> 65536 (k, m, g are powers of 1024). 0 or -1. */
int conf_parse_size(const char *s, uint64_t *out) MUST_CHECK;

/* "10s", "500ms", "2m", "1h", "1d"; a bare number is seconds. Result in ms. 0 or -1. */
int conf_parse_time_ms(const char *s, uint64_t *out) MUST_CHECK;
