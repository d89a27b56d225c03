/* location.c - building a server's locations and selecting one (see location.h). */
#include "core/http/location.h"

#include "core/base/alloc.h"
#include "core/conf/print.h"
#include "core/conf/types.h"
#include "core/conf/values.h"
#include "core/http/headers.h"
#include "core/http/latency.h"
#include "core/http/regex.h"
#include "core/http/route.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- the module's rows */

struct location_conf {
    bool internal; /* not inherited: a property of the location that says it */
    bool refuse_dotfiles;
    bool latency; /* location_latency: this location's own histograms (http/latency.h) */
};

/* `internal;`: no argument, set in the block that says it, never inherited (size 0). */
static int present_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                         unsigned n)
{
    (void)p, (void)r, (void)a, (void)n;
    *(bool *)field = true;
    return 0;
}

static void present_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    if (*(const bool *)field) {
        conf_out_begin(o, r->name);
        conf_out_end(o);
    }
}

static const struct conf_type present_type = {"flag", 0, present_parse, present_print, NULL};

#define OFF(f) offsetof(struct location_conf, f)

static const struct conf_row rows[] = {
    {"internal", CONF_LOCATION, CONF_STORE_LOC, 0, 0, 0, &present_type, OFF(internal), NULL, 0,
     0, "", NULL},
    {"refuse_dotfiles", CONF_MAIN | CONF_SERVER | CONF_LOCATION, CONF_STORE_LOC, 1, 1, 0,
     &conf_flag, OFF(refuse_dotfiles), "on", 0, 0, "off", NULL},
    {"location_latency", CONF_MAIN | CONF_SERVER | CONF_LOCATION, CONF_STORE_LOC, 1, 1, 0,
     &conf_flag, OFF(latency), "off", 0, 0, "on", NULL},
};


/* ---------------------------------------------------------------- a level's lookup tables */

struct loc_ent {
    uint64_t h;
    const struct route_loc *loc;
};

struct loc_set {
    struct loc_ent *prefix, *exact; /* open addressing, mask + 1 slots each */
    uint32_t prefix_mask, exact_mask;
    uint32_t *lens; /* distinct prefix lengths, ascending */
    unsigned nlens, nexact;
    uint64_t exact_lens; /* bit n: an exact location of n bytes (bit 63: of 63 or more) */
    const struct route_loc **regex; /* in file order */
    unsigned nregex;
};

#define FNV_OFF 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static inline uint64_t fnv_step(uint64_t h, unsigned char c)
{
    return (h ^ c) * FNV_PRIME;
}

static inline uint32_t slot_of(uint64_t h, uint32_t mask)
{
    return (uint32_t)(h ^ (h >> 29)) & mask;
}

static uint64_t hash_text(const char *p, size_t n)
{
    uint64_t h = FNV_OFF;
    for (size_t i = 0; i < n; i++) {
        h = fnv_step(h, (unsigned char)p[i]);
    }
    return h;
}

static void tab_put(struct loc_ent *t, uint32_t mask, const struct route_loc *l)
{
    uint64_t h = hash_text(l->prefix, l->prefix_len);
    uint32_t i = slot_of(h, mask);
    while (t[i].loc) {
        i = (i + 1) & mask;
    }
    t[i] = (struct loc_ent){h, l};
}

static const struct route_loc *tab_get(const struct loc_ent *t, uint32_t mask, uint64_t h,
                                       const char *p, size_t n)
{
    for (uint32_t i = slot_of(h, mask);; i = (i + 1) & mask) {
        const struct route_loc *l = t[i].loc;
        if (!l) {
            return NULL;
        }
        if (t[i].h == h && l->prefix_len == n && memcmp(l->prefix, p, n) == 0) {
            return l;
        }
    }
}

static uint32_t table_mask(unsigned n)
{
    uint32_t cap = 4;
    while (cap < 2 * n) {
        cap *= 2;
    }
    return cap - 1;
}

static void set_free(struct loc_set *set)
{
    if (set) {
        sp_free(set->prefix);
        sp_free(set->exact);
        sp_free(set->lens);
        sp_free(set->regex);
        sp_free(set);
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The lookup tables of the locations whose parent is `parent` (NULL: the server level). */
static struct loc_set *set_build(struct route_loc *locs, unsigned n,
                                 const struct route_loc *parent)
{
    unsigned np = 0, ne = 0, nr = 0;
    for (unsigned i = 0; i < n; i++) {
        if (locs[i].parent != parent) {
            continue;
        }
        switch (locs[i].kind) {
        case ROUTE_LOC_PREFIX:
        case ROUTE_LOC_NOREGEX:
            np++;
            break;
        case ROUTE_LOC_EXACT:
            ne++;
            break;
        case ROUTE_LOC_REGEX:
            nr++;
            break;
        default:
            break;
        }
    }
    if (np + ne + nr == 0) {
        return NULL;
    }
    struct loc_set *set = sp_calloc(1, sizeof(*set));
    if (!set) {
        return NULL;
    }
    set->prefix_mask = table_mask(np);
    set->exact_mask = table_mask(ne);
    set->prefix = sp_calloc(set->prefix_mask + 1, sizeof(*set->prefix));
    set->exact = sp_calloc(set->exact_mask + 1, sizeof(*set->exact));
    set->lens = sp_calloc(np ? np : 1, sizeof(*set->lens));
    set->regex = sp_calloc(nr ? nr : 1, sizeof(*set->regex));
    if (!set->prefix || !set->exact || !set->lens || !set->regex) {
        set_free(set);
        return NULL;
    }
    for (unsigned i = 0; i < n; i++) {
        const struct route_loc *l = &locs[i];
        if (l->parent != parent) {
            continue;
        }
        if (l->kind == ROUTE_LOC_PREFIX || l->kind == ROUTE_LOC_NOREGEX) {
            tab_put(set->prefix, set->prefix_mask, l);
            set->lens[set->nlens++] = (uint32_t)l->prefix_len;
        } else if (l->kind == ROUTE_LOC_EXACT) {
            tab_put(set->exact, set->exact_mask, l);
            set->nexact++;
            set->exact_lens |= 1ull << MIN(l->prefix_len, (size_t)63);
        } else if (l->kind == ROUTE_LOC_REGEX) {
            set->regex[set->nregex++] = l;
        }
    }
    qsort(set->lens, set->nlens, sizeof(*set->lens), cmp_u32);
    unsigned k = 0;
    for (unsigned i = 0; i < set->nlens; i++) {
        if (k == 0 || set->lens[k - 1] != set->lens[i]) {
            set->lens[k++] = set->lens[i];
        }
    }
    set->nlens = k;
    return set;
}

/* ---------------------------------------------------------------- building */

/* The module that answers locations naming no handler (the static files). */
static int default_content(const struct conf *c)
{
    for (unsigned i = 0; i < c->nmodules; i++) {
        if (c->modules[i]->content && c->modules[i]->default_content) {
            return (int)i;
        }
    }
    return -1;
}

/* The kind and the text of a location block: args are (modifier, text), or (text). */
static enum route_loc_kind block_kind(const struct conf_block *b, const char **text)
{
    if (b->nargs < 2) {
        *text = b->args[0];
        return ROUTE_LOC_PREFIX;
    }
    const char *m = b->args[0];
    *text = b->args[1];
    if (!strcmp(m, "=")) {
        return ROUTE_LOC_EXACT;
    }
    if (!strcmp(m, "^~")) {
        return ROUTE_LOC_NOREGEX;
    }
    if (!strcmp(m, "~") || !strcmp(m, "~*")) {
        return ROUTE_LOC_REGEX;
    }
    if (!strcmp(m, "@")) {
        return ROUTE_LOC_NAMED;
    }
    return ROUTE_LOC_PREFIX;
}

static int make_loc(const struct conf *c, struct route_loc *l, const struct route_server *s,
                    const struct conf_block *b, const struct route_loc *parent, char *err,
                    size_t errlen)
{
    int hslot = conf_slot(c, &headers_module);
    int lslot = conf_slot(c, &location_module);
    int cslot = b->content ? conf_slot(c, b->content) : default_content(c);
    if (cslot < 0) {
        return conf_fail_at(err, errlen, b->where, "no handler answers here");
    }
    const struct conf_module *m = c->modules[cslot];
    const char *text = "";
    l->kind = b->kind == CONF_SERVER ? ROUTE_LOC_SERVER : block_kind(b, &text);
    l->prefix = text;
    l->prefix_len = strlen(text);
    l->handler = m->content;
    l->handler_conf = conf_get(b, (unsigned)cslot, CONF_STORE_LOC);
    l->hdrs = hslot >= 0 ? conf_get(b, (unsigned)hslot, CONF_STORE_LOC) : NULL;
    if (lslot >= 0) {
        const struct location_conf *lc = conf_get(b, (unsigned)lslot, CONF_STORE_LOC);
        l->internal = lc->internal || l->kind == ROUTE_LOC_NAMED;
        l->refuse_dotfiles = lc->refuse_dotfiles;
        if (lc->latency && !(l->lat = loc_latency_new())) {
            return conf_fail_at(err, errlen, b->where, "out of memory");
        }
    }
    l->block = b;
    l->server = s;
    l->parent = parent;
    if (l->kind == ROUTE_LOC_REGEX) {
        char msg[512];
        l->re = http_regex_compile(text, strcmp(b->args[0], "~*") == 0, msg, sizeof(msg));
        if (!l->re) {
            return conf_fail_at(err, errlen, b->where, "%s", msg);
        }
    }
    return 0;
}

static unsigned count_locs(const struct conf_block *b)
{
    unsigned n = 0;
    for (const struct conf_block *k = b->children; k; k = k->next) {
        n += 1 + count_locs(k);
    }
    return n;
}

/* Adds b's locations (depth first, file order) under parent. */
static int add_locs(const struct conf *c, struct route_server *s, const struct conf_block *b,
                    const struct route_loc *parent, char *err, size_t errlen)
{
    for (const struct conf_block *k = b->children; k; k = k->next) {
        struct route_loc *l = &s->locs[s->nlocs++];
        if (make_loc(c, l, s, k, parent, err, errlen) < 0 ||
            add_locs(c, s, k, l, err, errlen) < 0) {
            return -1;
        }
    }
    return 0;
}

static int loc_build(const struct conf *c, struct route_server *s, char *err, size_t errlen)
{
    const struct conf_block *b = s->block;
    if (make_loc(c, &s->self, s, b, NULL, err, errlen) < 0) {
        return -1;
    }
    unsigned n = count_locs(b);
    if (n == 0) {
        return 0;
    }
    s->locs = sp_calloc(n, sizeof(*s->locs));
    if (!s->locs) {
        return conf_fail_at(err, errlen, b->where, "out of memory");
    }
    if (add_locs(c, s, b, NULL, err, errlen) < 0) {
        return -1;
    }
    s->top = set_build(s->locs, s->nlocs, NULL);
    for (unsigned i = 0; i < s->nlocs; i++) {
        struct route_loc *l = &s->locs[i];
        if (l->block->nchildren) {
            l->nested = set_build(s->locs, s->nlocs, l);
            if (!l->nested) {
                return conf_fail_at(err, errlen, l->block->where, "out of memory");
            }
        }
    }
    if (!s->top && n > 0) {
        /* only named locations (no set), or no memory */
        for (unsigned i = 0; i < s->nlocs; i++) {
            if (s->locs[i].kind != ROUTE_LOC_NAMED && !s->locs[i].parent) {
                return conf_fail_at(err, errlen, b->where, "out of memory");
            }
        }
    }
    return 0;
}

static void loc_release(struct route_server *s)
{
    for (unsigned i = 0; i < s->nlocs; i++) {
        http_regex_free(s->locs[i].re);
        loc_latency_free(s->locs[i].lat);
        set_free((struct loc_set *)s->locs[i].nested);
    }
    loc_latency_free(s->self.lat);
    s->self.lat = NULL;
    set_free(s->top);
    sp_free(s->locs);
    s->locs = NULL;
    s->top = NULL;
    s->nlocs = 0;
}

static int location_finish(struct conf *c, unsigned slot, char *err, size_t errlen)
{
    (void)slot;
    /* the route module made the table: its servers are this module's to fill */
    struct route_table *t = (struct route_table *)route_table(c);
    for (unsigned i = 0; t && i < t->nservers; i++) {
        if (loc_build(c, &t->servers[i], err, errlen) < 0) {
            return -1;
        }
    }
    return 0;
}

static void location_release(struct conf *c, unsigned slot)
{
    (void)slot;
    struct route_table *t = (struct route_table *)route_table(c);
    for (unsigned i = 0; t && i < t->nservers; i++) {
        loc_release(&t->servers[i]);
    }
}

const struct conf_module location_module = {
    .name = "location",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_LOC] = sizeof(struct location_conf)},
    .finish = location_finish,
    .release = location_release,
};

bool loc_named_exists(const struct conf *c, const struct conf_block *b, const char *name)
{
    while (b && b->kind != CONF_SERVER) {
        b = b->parent;
    }
    const struct route_table *t = route_table(c);
    for (unsigned i = 0; b && t && i < t->nservers; i++) {
        if (t->servers[i].block == b) {
            return loc_named(&t->servers[i], slice_cstr(name)) != NULL;
        }
    }
    return false;
}

const struct route_loc *route_location(const struct route_server *s, struct slice path)
{
    return loc_find(s, path, NULL, NULL);
}

/* ---------------------------------------------------------------- selecting (workers) */

struct found {
    const struct route_loc *loc;
    bool done; /* exact or regex: no outer level may override it */
};

static struct found find_in(const struct loc_set *set, struct slice path,
                            struct http_captures *caps, bool *captured)
{
    struct found f = {NULL, false};
    /* one pass: the rolling hash is probed at each length some prefix has */
    uint64_t h = FNV_OFF;
    size_t at = 0; /* bytes of the path in h */
    const struct route_loc *pre = NULL;
    for (unsigned li = 0; li < set->nlens && set->lens[li] <= path.len; li++) {
        for (size_t n = set->lens[li]; at < n; at++) {
            h = fnv_step(h, (unsigned char)path.ptr[at]);
        }
        const struct route_loc *l = tab_get(set->prefix, set->prefix_mask, h, path.ptr, at);
        if (l) {
            pre = l;
        }
    }
    /* the whole path's hash only when some exact location has its length: `location =
     * /metrics` must not make every other request hash its path to the end */
    if (set->exact_lens & (1ull << MIN(path.len, (size_t)63))) {
        for (; at < path.len; at++) {
            h = fnv_step(h, (unsigned char)path.ptr[at]);
        }
        const struct route_loc *ex = tab_get(set->exact, set->exact_mask, h, path.ptr, path.len);
        if (ex) {
            return (struct found){ex, true};
        }
    }
    bool noregex = pre && pre->kind == ROUTE_LOC_NOREGEX;
    f.loc = pre;
    if (pre && pre->nested) {
        struct found in = find_in(pre->nested, path, caps, captured);
        if (in.done) {
            return in;
        }
        if (in.loc) {
            f.loc = in.loc;
        }
    }
    if (noregex) {
        return f;
    }
    for (unsigned i = 0; i < set->nregex; i++) {
        const struct route_loc *l = set->regex[i];
        struct http_captures tmp;
        int m = http_regex_match(l->re, path, caps ? &tmp : NULL);
        if (m <= 0) {
            continue; /* a match that failed on a resource limit counts as no match */
        }
        if (caps) {
            *caps = tmp;
            *captured = true;
        }
        if (l->nested) {
            struct found in = find_in(l->nested, path, caps, captured);
            if (in.loc) {
                return (struct found){in.loc, true};
            }
        }
        return (struct found){l, true};
    }
    return f;
}

const struct route_loc *loc_find(const struct route_server *s, struct slice path,
                                 struct http_captures *caps, bool *captured)
{
    if (captured) {
        *captured = false;
    }
    if (!s->top) {
        return &s->self;
    }
    struct found f = find_in(s->top, path, caps, captured);
    return f.loc ? f.loc : &s->self;
}

const struct route_loc *loc_named(const struct route_server *s, struct slice name)
{
    for (unsigned i = 0; i < s->nlocs; i++) {
        const struct route_loc *l = &s->locs[i];
        if (l->kind == ROUTE_LOC_NAMED && slice_eq(slice_make(l->prefix, l->prefix_len), name)) {
            return l;
        }
    }
    return NULL;
}
