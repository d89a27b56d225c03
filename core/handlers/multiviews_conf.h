/*
 * multiviews_conf.h - the MultiViews module's configuration (rows in multiviews_conf.c, used
 * by multiviews.c; the directives are described in multiviews.h and docs/config.md).
 *
 * Built on the main thread, read-only once finished; workers read it through mv_conf_of.
 */
#pragma once

#include "core/conf/conf.h"
#include "core/conf/types.h"

#include <stdbool.h>
#include <stdint.h>

struct route_loc;

extern const struct conf_module multiviews_module;

/* Variants of one declared list, and URIs of one block, at most. */
#define MV_DECL_VARIANTS_MAX 32

/* `multiviews_quality TYPE Q`: TYPE is "type/subtype", "type/\*" or "*\/\*". */
struct mv_quality {
    char *type;
    uint16_t q; /* 0..1000 */
};

struct mv_qualities {
    struct mv_quality *v;
    unsigned n;
};

/* One line of a `variants URI { }` block: FILE TYPE [LANG] [charset=CS] [qs=Q]. */
struct mv_decl_variant {
    char *file; /* beneath the URI's directory: "doc.en.html", "en/doc.html" */
    char *type;
    char *lang;    /* or NULL */
    char *charset; /* or NULL */
    uint16_t qs;   /* 0..1000 */
    bool has_qs;   /* qs= was given (else multiviews_quality decides) */
};

struct mv_decl {
    char *uri; /* "/doc": the URI the list answers */
    struct mv_decl_variant *v;
    unsigned n;
    struct conf_where where; /* its `variants` line */
};

struct mv_decls {
    struct mv_decl *v;
    unsigned n;
};

/* The location struct (CONF_STORE_LOC), inherited main -> server -> location. */
struct mv_conf {
    bool on;
    struct conf_words languages; /* "auto" and/or tags */
    char *default_language;      /* a tag, or "off" */
    struct mv_qualities quality;
    char *fallback; /* "*.SUFFIX", or "off" */
    struct mv_decls variants;

    /* derived by finish, per block */
    bool active;                 /* on, or a declared list: the static handler asks */
    bool auto_languages;         /* "auto" is among the languages */
    const char *deflang;         /* default_language, NULL for off */
    const char *fallback_suffix; /* what follows the '*' of fallback, NULL for off */
};

/* The configuration of location l, or NULL before the module is set up. */
const struct mv_conf *mv_conf_of(const struct route_loc *l);

/* A quality as the configuration writes it: "0", "0.5", "0.125", "1". False when malformed. */
bool mv_parse_q(const char *s, uint16_t *q);

/* Whether s is a language tag: subtags of 1-8 letters or digits joined by '-', the first
 * one letters. */
bool mv_tag_ok(const char *s, size_t len);
