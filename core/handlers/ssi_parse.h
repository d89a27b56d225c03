/*
 * ssi_parse.h - a server-side include template, parsed once into a list of nodes.
 *
 * A document is literal text with directives between them:
 *
 *   <!--#COMMAND NAME="VALUE" NAME='VALUE' ... -->
 *
 * (nginx's and Apache's syntax: a value in double or single quotes, a backslash before the
 * quote keeps it in the value). The parser copies the document once and turns it into nodes
 * that point into that copy: TEXT runs, one node per directive with its parameters checked
 * (the command known, each parameter one it takes, required ones present), and the if / elif /
 * else / endif chain linked so that rendering jumps without searching. A directive that
 * cannot be understood becomes an ERROR node at its place (the renderer prints errmsg there);
 * the rest of the document is parsed on. Pure: no I/O, no request; the renderer (ssi.h) keeps
 * the result with the file's cache entry, so a document is parsed once per change.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ssi_expr;

enum ssi_op {
    SSI_TEXT,     /* text: literal bytes */
    SSI_ECHO,     /* a: var, b: default (has_b), enc */
    SSI_INCLUDE,  /* a: the URI or file name (src), b: `set` variable (has_b), wait */
    SSI_SET,      /* a: var, b: value */
    SSI_CONFIG,   /* a: timefmt (has_a), b: errmsg (has_b), c: echomsg (has_c), sizefmt */
    SSI_FLASTMOD, /* a: the URI or file name (src) */
    SSI_FSIZE,    /* a: the URI or file name (src) */
    SSI_EXEC,     /* a: the URI (src SSI_SRC_CGI) or the command (SSI_SRC_CMD) */
    SSI_IF,       /* expr; next: the following elif/else/endif; end: the endif */
    SSI_ELIF,     /* as SSI_IF */
    SSI_ELSE,     /* end: the endif */
    SSI_ENDIF,
    SSI_ERROR, /* text: why (for the error log); the renderer prints errmsg */
};

enum ssi_src { SSI_SRC_VIRTUAL, SSI_SRC_FILE, SSI_SRC_CGI, SSI_SRC_CMD };

enum ssi_enc { SSI_ENC_ENTITY, SSI_ENC_NONE, SSI_ENC_URL }; /* entity: echo's default */

enum ssi_sizefmt { SSI_SIZEFMT_KEEP, SSI_SIZEFMT_BYTES, SSI_SIZEFMT_ABBREV };

struct ssi_node {
    uint8_t op;  /* enum ssi_op */
    uint8_t src; /* enum ssi_src */
    uint8_t enc; /* enum ssi_enc */
    uint8_t sizefmt;
    bool has_a, has_b, has_c;
    bool wait; /* include wait="yes" */
    uint32_t next, end;
    struct slice text, a, b, c;
    struct ssi_expr *expr;
};

struct ssi_template {
    char *bytes; /* the document's copy; every slice points into it */
    size_t len;
    struct ssi_node *nodes;
    uint32_t n, cap;
    uint32_t directives; /* nodes that are not text */
};

/*
 * Parses len bytes at p. 0 with *out (free with ssi_template_free), or -ENOMEM. Bad
 * directives are ERROR nodes, not failures.
 */
int ssi_parse(const char *p, size_t len, struct ssi_template **out) MUST_CHECK;

void ssi_template_free(struct ssi_template *t);

/* Bytes of memory t holds (for the cache's bound). */
size_t ssi_template_bytes(const struct ssi_template *t);
