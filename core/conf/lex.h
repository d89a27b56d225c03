/*
 * lex.h - the configuration tokenizer: words (quoted or not), ';', '{', '}'.
 *
 * Internal to core/conf. The rules are nginx's, so a pasted nginx.conf means the same:
 * `#` starts a comment where a word could start (inside a word it is a character, as in
 * `a#b`); "double" and 'single' quotes open a quoted word only at the start of a word and
 * keep spaces and ;{}#; `${name}` stays in its word. In any word a backslash makes the next
 * character plain, and \" \' \\ \n \r \t are replaced by what they stand for, while any
 * other backslash stays as written, so a regular expression such as `\.png$` or
 * "\d{2}" keeps its text exactly. A NUL byte is an error.
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
