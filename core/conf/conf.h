/*
 * conf.h - the configuration engine: nginx's syntax, directives as rows owned by modules.
 *
 * The file syntax is nginx's: `name arg ...;` directives, `name arg { ... }`
 * blocks (`server`, `location`), `#` comments, quoted strings. The engine
 * knows no directive itself: every module (routing, the static handler, the
 * access log, ...) brings a table of rows, and each row says everything
 * about one directive:
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
 * location. Defaults are applied in the main block. Inherited values are
 * shared, never copied: only the block that set a value owns (and frees) it.
 *
 * `--print-config` (conf_print) is generated from the rows, so it cannot
 * drift: it prints every row of the main context with its value (defaults
 * included), and in each server and location the rows set there. Feeding
 * the output back gives the identical configuration (tests/unit/core/conf).
 *
 * The engine is split by what each part holds: this header and conf.c (blocks,
 * modules, parsing, defaults, inheritance), values.h (the parse context, errors
 * with file:line, sizes and times), types.h (the built-in value types) and
 * print.h (writing directives back).
 *
 * Errors are one sentence naming the file and line:
 *   "spate.conf:12: unknown directive "rot""
 *
 * Built and checked on the main thread, then frozen: workers only read it.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/conf/values.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONF_MODULES_MAX 32

/* Contexts (bit mask). */
enum conf_ctx {
    CONF_MAIN = 1u << 0,
    CONF_SERVER = 1u << 1,
    CONF_LOCATION = 1u << 2,
};

/* Where a row's value lives. */
enum conf_store {
    CONF_STORE_MAIN, /* the main block only */
    CONF_STORE_SRV,  /* main and server blocks; servers inherit from main */
    CONF_STORE_LOC,  /* every block; inherited main -> server -> location */
    CONF_STORES,
};

/* Row flags. */
enum conf_flag {
    CONF_MULTI = 1u << 0,   /* repeatable: each occurrence adds to the block's list */
    CONF_CONTENT = 1u << 1, /* names what answers requests in its location (a handler) */
};

struct conf;
struct conf_block;
struct conf_row;
struct conf_parse;
struct conf_out;

/* A value type: how to parse, print and free a field. */
struct conf_type {
    const char *name;
    size_t size; /* bytes of the field, for sharing an inherited value */
    /* parses args into field (for CONF_MULTI rows: appends); 0 or conf_error() */
    int (*parse)(struct conf_parse *p, const struct conf_row *r, void *field, char **args,
                 unsigned nargs);
    /* prints the directive (one or more lines) for the value in field */
    void (*print)(struct conf_out *o, const struct conf_row *r, const void *field);
    /* frees what the field owns, or NULL */
    void (*release)(void *field);
};

struct conf_row {
    const char *name;
    uint8_t ctx;   /* enum conf_ctx mask */
    uint8_t store; /* enum conf_store */
    uint8_t min_args, max_args;
    uint16_t flags; /* enum conf_flag */
    const struct conf_type *type;
    size_t offset;           /* of the field in the store's struct */
    const char *def;         /* default in file syntax (space-separated arguments), or NULL */
    uint64_t min, max;       /* bounds: numbers, sizes in bytes, times in ms */
    const char *example;     /* a valid value other than the default (round-trip tests) */
    const char *const *keys; /* enum types: the accepted words, NULL-terminated */
};

/* A module: rows, the structs they fill, and what it derives once everything is parsed. */
struct conf_module {
    const char *name;
    const struct conf_row *rows;
    unsigned nrows;
    size_t size[CONF_STORES]; /* bytes of the module's struct per store (0: none) */
    /*
     * After parsing, defaults and inheritance: cross-row checks and derived state (opened
     * roots, compiled formats, the routing table). Runs for -t exactly as for a start.
     * 0, or -1 with a "file:line: sentence" in err.
     */
    int (*finish)(struct conf *c, unsigned slot, char *err, size_t errlen);
    /* frees what finish derived */
    void (*release)(struct conf *c, unsigned slot);
    /* opaque to the engine: what a CONF_CONTENT row of this module installs (a handler) */
    const void *content;
    /* this module's content answers locations whose directives name no other */
    bool default_content;
};

/* One module's state in one block. */
struct conf_slot {
    void *st[CONF_STORES];    /* the module's structs present in this block (else NULL) */
    struct conf_where *where; /* per row: where its value was set in this block */
};

struct conf_block {
    enum conf_ctx kind;
    struct conf_block *parent;
    struct conf_block *children, *last_child, *next; /* servers of main, locations of a server */
    unsigned nchildren;
    struct conf_where where; /* the block's opening line */
    char **args;             /* a location's arguments */
    unsigned nargs;
    const struct conf_module *content; /* the module that answers here (CONF_CONTENT), or NULL */
    struct conf_where content_at;
    struct conf_slot *mods; /* [nmodules] */
};

struct conf {
    const struct conf_module *const *modules;
    unsigned nmodules;
    struct conf_block *main;
    char *source; /* the file it came from, or "(command line)" */
    char *dir;    /* its directory, absolute: relative paths resolve against it */
    char **files; /* names the conf_where.file pointers point to */
    unsigned nfiles;
    bool finished;
};

/* ---- building (main thread) ---- */

/* An empty configuration over these modules (at most CONF_MODULES_MAX). 0 or -ENOMEM. */
int conf_init(struct conf *c, const struct conf_module *const *modules, unsigned n) MUST_CHECK;

/* Parses a file into c. 0, or -1 with a "file:line: sentence" in err. */
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
