/*
 * location.c - `location [ = | ^~ | ~ | ~* ] URI { }` and `location @name { }`.
 *
 * The arguments become {modifier, text} (conf.h, enum conf_loc_kind), the joined forms
 * nginx accepts (`location =/x`, `location ^~/a`, `location ~*\.png$`) included. The rules
 * and their wording are nginx's: a prefix or exact URI starts with '/'; a named location
 * sits directly in a server; nothing nests in an exact or a named location; a nested prefix
 * or exact location lies inside its parent's text; one parent has no two equal locations
 * (nginx also counts `/a` and `^~ /a` as the same). Regular expressions are kept as written:
 * routing compiles them.
 */
#include "core/conf/location.h"

#include "core/base/alloc.h"
#include "core/conf/block.h"

#include <string.h>

/* The modifiers of the two-argument form, longest first for the joined one. */
static const struct {
    const char *text;
    enum conf_loc_kind kind;
} modifiers[] = {
    {"^~", CONF_LOC_PREFIX_NOREGEX},
    {"~*", CONF_LOC_REGEX_CASELESS},
    {"=", CONF_LOC_EXACT},
    {"~", CONF_LOC_REGEX},
};

static const char *modifier_of(enum conf_loc_kind kind)
{
    static const char *const text[] = {
        [CONF_LOC_PREFIX] = "", [CONF_LOC_EXACT] = "=",           [CONF_LOC_PREFIX_NOREGEX] = "^~",
        [CONF_LOC_REGEX] = "~", [CONF_LOC_REGEX_CASELESS] = "~*", [CONF_LOC_NAMED] = "@",
    };
    return text[kind];
}

static bool is_regex(enum conf_loc_kind kind)
{
    return kind == CONF_LOC_REGEX || kind == CONF_LOC_REGEX_CASELESS;
}

/* The kind and text of `location ARGS`. 0, or -1 with p's error. */
static int split(struct conf_parse *p, char **args, unsigned nargs, enum conf_loc_kind *kind,
                 const char **text)
{
    if (nargs == 2) {
        for (size_t i = 0; i < ARRAY_SIZE(modifiers); i++) {
            if (strcmp(args[0], modifiers[i].text) == 0) {
                *kind = modifiers[i].kind;
                *text = args[1];
                return 0;
            }
        }
        return conf_error(p, "invalid location modifier \"%s\"", args[0]);
    }
    if (nargs != 1) {
        return conf_error(p, "invalid number of arguments in \"location\" directive");
    }
    const char *a = args[0];
    if (a[0] == '@') {
        *kind = CONF_LOC_NAMED;
        *text = a;
        return 0;
    }
    for (size_t i = 0; i < ARRAY_SIZE(modifiers); i++) {
        size_t n = strlen(modifiers[i].text);
        if (strncmp(a, modifiers[i].text, n) == 0) {
            *kind = modifiers[i].kind;
            *text = a + n;
            return 0;
        }
    }
    *kind = CONF_LOC_PREFIX;
    *text = a;
    return 0;
}

/* What the text itself must be. */
static int check_text(struct conf_parse *p, enum conf_loc_kind kind, const char *text)
{
    switch (kind) {
    case CONF_LOC_NAMED:
        return text[1] ? 0 : conf_error(p, "named location \"@\" has no name");
    case CONF_LOC_REGEX:
    case CONF_LOC_REGEX_CASELESS:
        return text[0] ? 0
                       : conf_error(p, "location \"%s\" has an empty regular expression",
                                    modifier_of(kind));
    case CONF_LOC_EXACT:
        return text[0] == '/' ? 0
                              : conf_error(p, "exact location \"%s\" must start with '/'", text);
    default:
        if (text[0] == '/') {
            return 0;
        }
        return conf_error(p,
                          "location prefix \"%s\" must start with '/' (a regular expression "
                          "takes ~ or ~*)",
                          text);
    }
}

/* nginx's nesting rules, with its messages. */
static int check_nesting(struct conf_parse *p, const struct conf_block *parent,
                         enum conf_loc_kind kind, const char *text)
{
    if (parent->kind != CONF_LOCATION) {
        return 0; /* a server: parse.c allows locations nowhere else */
    }
    const char *ptext = parent->args[1];
    if (parent->loc_kind == CONF_LOC_EXACT) {
        return conf_error(p, "location \"%s\" cannot be inside the exact location \"%s\"", text,
                          ptext);
    }
    if (parent->loc_kind == CONF_LOC_NAMED) {
        return conf_error(p, "location \"%s\" cannot be inside the named location \"%s\"", text,
                          ptext);
    }
    if (kind == CONF_LOC_NAMED) {
        return conf_error(p, "named location \"%s\" can be on the server level only", text);
    }
    /* as nginx: against the parent's text, even where that is a regular expression */
    if (!is_regex(kind) && strncmp(text, ptext, strlen(ptext)) != 0) {
        return conf_error(p, "location \"%s\" is outside location \"%s\"", text, ptext);
    }
    return 0;
}

/* Same kind and text, or a prefix and a ^~ prefix of the same text (nginx's rule). */
static bool same(enum conf_loc_kind a, enum conf_loc_kind b)
{
    bool pa = a == CONF_LOC_PREFIX || a == CONF_LOC_PREFIX_NOREGEX;
    bool pb = b == CONF_LOC_PREFIX || b == CONF_LOC_PREFIX_NOREGEX;
    return a == b || (pa && pb);
}

static int check_duplicate(struct conf_parse *p, const struct conf_block *parent,
                           enum conf_loc_kind kind, const char *text)
{
    for (const struct conf_block *k = parent->children; k; k = k->next) {
        if (k->kind != CONF_LOCATION || !same(k->loc_kind, kind) || strcmp(k->args[1], text)) {
            continue;
        }
        if (k->where.file == p->file) {
            return conf_error(p, "duplicate location \"%s\" (first at line %d)", text,
                              k->where.line);
        }
        return conf_error(p, "duplicate location \"%s\" (first at %s:%d)", text, k->where.file,
                          k->where.line);
    }
    return 0;
}

int conf_location_open(struct conf_parse *p, struct conf_block *parent, char **args, unsigned nargs,
                       struct conf_block **out)
{
    enum conf_loc_kind kind = CONF_LOC_PREFIX;
    const char *text = ""; /* set by split when it succeeds (gcc -O2 cannot tell) */
    if (split(p, args, nargs, &kind, &text) < 0 || check_text(p, kind, text) < 0 ||
        check_nesting(p, parent, kind, text) < 0 || check_duplicate(p, parent, kind, text) < 0) {
        return -1;
    }
    struct conf_block *b = conf_block_new(p->conf, CONF_LOCATION, parent);
    if (!b) {
        return conf_error(p, "out of memory");
    }
    b->where = (struct conf_where){p->file, p->line};
    b->loc_kind = kind;
    if (!(b->args = sp_calloc(2, sizeof(char *)))) {
        return conf_error(p, "out of memory");
    }
    b->nargs = 2; /* the block is its parent's child already: conf_free frees what is set */
    if (!(b->args[0] = conf_strdup(p, modifier_of(kind))) || !(b->args[1] = conf_strdup(p, text))) {
        return -1;
    }
    *out = b;
    return 0;
}
