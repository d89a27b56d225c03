/*
 * lex.h - the configuration tokenizer: words (quoted or not), ';', '{', '}'.
 *
 * Internal to core/conf. `#` starts a comment to the end of the line outside
 * quotes; "double" and 'single' quotes keep spaces and ;{}# and take the
 * escapes \" \' \\ \n \t. A NUL byte is an error.
 */
#pragma once

#include <stddef.h>

struct conf_tok {
    char *text; /* NUL-terminated, unquoted */
    int line;
    char kind; /* 'w' word, ';', '{', '}' */
};

struct conf_toks {
    struct conf_tok *v;
    size_t n, cap;
};

/* Splits src into tokens. 0, or -1 with "name:line: sentence" in err. */
int conf_lex(const char *name, const char *src, size_t len, struct conf_toks *out, char *err,
             size_t errlen);

void conf_toks_free(struct conf_toks *t);
