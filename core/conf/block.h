/*
 * block.h - blocks, and directives applied to them: what the parser builds a
 * configuration with (core/conf only; users read conf.h).
 *
 * Main thread, while a configuration is built.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/conf/conf_types.h"

/* A new empty block, appended to parent's children (NULL parent: the main block). NULL: OOM. */
struct conf_block *conf_block_new(struct conf *c, enum conf_ctx kind,
                                  struct conf_block *parent) MUST_CHECK;

/* Frees b, its children and the values it set (not inherited ones: those are shared). */
void conf_block_free(struct conf *c, struct conf_block *b);

/* The interned copy of a file name, alive as long as c (conf_where.file points there). */
const char *conf_intern_file(struct conf *c, const char *name);

/* "main", "server" or "location". */
const char *conf_ctx_name(enum conf_ctx kind);

/* A module's row called name: its slot and index, or NULL. */
const struct conf_row *conf_find_row(const struct conf *c, const char *name, unsigned *slot,
                                     unsigned *index);

/*
 * Applies one occurrence of row (slot, index) to block b, as row `as`: the row itself, or a
 * copy of it under an nginx alias's name, so that messages say what the file says (parsers
 * keep no pointer to the row). The argument count is checked already. 0, or -1 with p's
 * error.
 */
int conf_apply(struct conf_parse *p, struct conf_block *b, unsigned slot, unsigned index,
               const struct conf_row *as, char **args, unsigned nargs) MUST_CHECK;

/* Adds "file:line: <message>" to c->notices. 0, or -1 (out of memory, as p's error). */
int conf_note(struct conf_parse *p, const char *fmt, ...) PRINTF_LIKE(2, 3) MUST_CHECK;
