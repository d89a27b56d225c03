/*
 * types.h - the built-in value types of rows (core/conf/types.c).
 */
#pragma once

#include "core/conf/conf.h"

extern const struct conf_type conf_flag;    /* bool: on | off */
extern const struct conf_type conf_u32;     /* uint32_t within [min, max] */
extern const struct conf_type conf_size32;  /* uint32_t bytes with k/m/g */
extern const struct conf_type conf_size64;  /* uint64_t bytes with k/m/g */
extern const struct conf_type conf_msec32;  /* uint32_t milliseconds from a time */
extern const struct conf_type conf_str;     /* char *, any text */
extern const struct conf_type conf_path_t;  /* char *, an absolute path */
extern const struct conf_type conf_words;   /* struct conf_words: every argument, accumulated */
extern const struct conf_type conf_keyword; /* unsigned: index of the word in row->keys */

struct conf_words {
    char **v;
    unsigned n;
};

/* conf_words' functions, for types that check the words first and store them alike. */
int conf_words_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **args,
                     unsigned nargs);
void conf_words_print(struct conf_out *o, const struct conf_row *r, const void *field);
void conf_words_release(void *field);
