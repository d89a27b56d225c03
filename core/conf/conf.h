/*
 * conf.h - the configuration engine: nginx's syntax, directives as rows owned by modules.
 *
 * The file syntax is nginx's: `name arg ...;` directives, `name arg { ... }`
 * blocks (`server`, `location`), `#` comments, quoted strings. The engine
 * knows only the blocks (`server`, `location`, nginx's `http` and `events`)
 * and `include`; every other directive belongs to a module (routing, the
 * static handler, the access log, ...), which brings a table of rows, and
 * each row says everything about one directive:
 *
 *   name, the contexts it may appear in, its argument count, its type
 *   (parser, printer, destructor), where its value lives (the module's
 *   struct for the main block, for server blocks, or for locations: the
 *   "store", with an offset), its default (in file syntax, parsed by the
 *   same parser), its bounds, and an example value for the tests.
 *
 * Each block (main, server, location) holds one struct per module and store.
 * A row of the SRV store set in the main block is inherited by servers that
 * do not set it; a row of the LOC store is inherited main -> server ->
 * location -> nested location. Defaults are applied in the main block. Inherited values are
 * shared, never copied: only the block that set a value owns (and frees) it.
 *
 * `--print-config` (conf_print) is generated from the rows, so it cannot
 * drift: it prints every row of the main context with its value (defaults
 * included), and in each server and location the rows set there. Feeding
 * the output back gives the identical configuration (tests/unit/core/conf).
 *
 * The engine is split by what each part holds: this header and conf.c (a
 * configuration's life: loading, command-line settings, defaults,
 * inheritance, freeing), conf_types.h (the types), block.c (blocks, and rows
 * applied to them), parse.c (the file syntax, module blocks), location.c
 * (location modifiers and nesting rules), include.c (reading files, `include`
 * with globs), nginx_compat.c (nginx directives spate does not have: aliases,
 * no-ops, one-line refusals), values.h (the parse context, errors with
 * file:line, sizes and times), types.h (the built-in value types) and print.h
 * (writing directives back).
 *
 * Pasted nginx configurations: `http { }` is transparent (its directives are
 * the main block's, its servers are servers), `events { }` maps
 * `worker_connections` to `max_connections`, and directives that have no
 * effect in spate are accepted with a notice (struct conf's notices, which
 * core/app writes to the error log).
 *
 * Errors are one sentence naming the file and line:
 *   "spate.conf:12: unknown directive "rot""
 *
 * Built and checked on the main thread, then frozen: workers only read it.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/conf/conf_types.h"
#include "core/conf/values.h"

#include <stdbool.h>
#include <stddef.h>

/* ---- building (main thread) ---- */

/* An empty configuration over these modules (at most CONF_MODULES_MAX). 0 or -ENOMEM. */
int conf_init(struct conf *c, const struct conf_module *const *modules, unsigned n) MUST_CHECK;

/*
 * Parses a file into c (and the files it includes: relative names are looked up beside the
 * including file, then beside the main file, as nginx does). 0, or -1 with a
 * "file:line: sentence" in err that names the file the error is in.
 */
int conf_load_file(struct conf *c, const char *path, char *err, size_t errlen) MUST_CHECK;

/* Parses text (tests); name stands for the file in messages, relative paths are cwd-based. */
int conf_load_string(struct conf *c, const char *name, const char *text, char *err,
                     size_t errlen) MUST_CHECK;

/* Adds an empty server block (spate without -c). NULL on OOM. */
struct conf_block *conf_add_server(struct conf *c) MUST_CHECK;

/*
 * Sets a directive in block b as if written there (command-line flags): what
 * the file set at that level is replaced; a CONF_MULTI row set again by a
 * flag adds to the list. where names the origin ("--root"). 0, or -1 + err.
 */
int conf_set(struct conf *c, struct conf_block *b, const char *where, const char *name,
             const char *const *args, unsigned nargs, char *err, size_t errlen) MUST_CHECK;

/* Applies defaults and inheritance, then every module's finish. 0, or -1 + err. */
int conf_finish(struct conf *c, char *err, size_t errlen) MUST_CHECK;

/* Frees everything (modules' release first). */
void conf_free(struct conf *c);

/* ---- reading (any thread, once finished) ---- */

/* The slot of module m in c, or -1. */
int conf_slot(const struct conf *c, const struct conf_module *m);

/* Module slot's struct of store st in block b (NULL where that store does not exist). */
static inline void *conf_get(const struct conf_block *b, unsigned slot, enum conf_store st)
{
    return b->mods[slot].st[st];
}

/* Where row `row` (index in the module's table) of module slot was set in b. */
static inline struct conf_where conf_where_of(const struct conf_block *b, unsigned slot,
                                              unsigned row)
{
    return b->mods[slot].where[row];
}

/* The module's main-block struct. */
static inline void *conf_main(const struct conf *c, unsigned slot)
{
    return conf_get(c->main, slot, CONF_STORE_MAIN);
}

/* The row of module m named name, or -1. */
int conf_row_index(const struct conf_module *m, const char *name);
