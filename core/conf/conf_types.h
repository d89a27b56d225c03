/*
 * conf_types.h - the configuration engine's types: contexts, rows, modules, blocks, struct conf.
 *
 * Split from conf.h (which includes it, and which is what users include) only to break an
 * include cycle: conf.c loads files through parse.c, whose blocks and rows are block.c's,
 * and all of them need these types. Read conf.h for what they mean together.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/conf/values.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONF_MODULES_MAX 64

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
    CONF_STORE_LOC,  /* every block; inherited main -> server -> location -> nested ones */
    CONF_STORES,
};

/* Row flags. */
enum conf_flag {
    CONF_MULTI = 1u << 0,   /* repeatable: each occurrence adds to the block's list */
    CONF_CONTENT = 1u << 1, /* names what answers requests in its location (a handler) */
    /*
     * takes a { } block of the module's own lines: `name args { word args; ... }`. The type's
     * parse gets the block's arguments, then parse_inner each inner line; print writes the
     * whole block back (conf_out_open / conf_out_close). Not settable from the command line.
     */
    CONF_BLOCK = 1u << 2,
};

/*
 * A location's kind, from its modifier (nginx's syntax). Every location block has
 * nargs == 2: args[0] is the modifier as written below ("" for a plain prefix) and
 * args[1] the URI, the regular expression (its exact text, not compiled here) or the
 * name (with its '@'). The joined forms (`location =/x`, `location ~*\.png$`) are split.
 */
enum conf_loc_kind {
    CONF_LOC_PREFIX,         /* location /uri       {"", "/uri"}     (also: not a location) */
    CONF_LOC_EXACT,          /* location = /uri     {"=", "/uri"} */
    CONF_LOC_PREFIX_NOREGEX, /* location ^~ /uri    {"^~", "/uri"}: no regex check after it */
    CONF_LOC_REGEX,          /* location ~ RE       {"~", "RE"} */
    CONF_LOC_REGEX_CASELESS, /* location ~* RE      {"~*", "RE"} */
    CONF_LOC_NAMED,          /* location @name      {"@", "@name"}: only directly in a server */
};

/* How deep `include` may nest: a cycle is an error at the include line, not a hang. */
#define CONF_INCLUDE_DEPTH 16

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
    /*
     * CONF_BLOCK rows only: one inner line `word arg ...;` of the block, called after parse
     * took the block's own arguments. args[0] is the word and nargs counts it; p->file and
     * p->line name the line (an included file's, for an `include` inside the block). An
     * inner line that opens a block is an error before it gets here. 0 or conf_error().
     */
    int (*parse_inner)(struct conf_parse *p, const struct conf_row *r, void *field, char **args,
                       unsigned nargs);
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
    /* run by conf_init before anything is parsed (a module's variables: http_vars_provide);
     * 0, or -1 (out of room) */
    int (*start)(void);
};

/* One module's state in one block. */
struct conf_slot {
    void *st[CONF_STORES];    /* the module's structs present in this block (else NULL) */
    struct conf_where *where; /* per row: where its value was set in this block */
};

struct conf_block {
    enum conf_ctx kind;
    struct conf_block *parent;
    /* servers of main; locations of a server; nested locations of a location (in file order) */
    struct conf_block *children, *last_child, *next;
    unsigned nchildren;
    struct conf_where where; /* the block's opening line */
    char **args;             /* a location's: {modifier, text}, see enum conf_loc_kind */
    unsigned nargs;
    enum conf_loc_kind loc_kind;       /* a location's kind (kind == CONF_LOCATION only) */
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
    /*
     * "file:line: sentence" for each directive accepted without effect (nginx's tcp_nopush,
     * multi_accept, ...): core/app writes them to the error log at notice level.
     */
    char **notices;
    unsigned nnotices;
    bool finished;
};
