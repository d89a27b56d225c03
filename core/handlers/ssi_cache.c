/* ssi_cache.c - the per-worker table of parsed templates (see ssi_cache.h). */
#include "core/handlers/ssi_cache.h"

#include "core/base/alloc.h"
#include "core/base/hash.h"

#include <pthread.h>
#include <string.h>

#define SLOTS 256 /* a power of two */
#define ETAG_MAX 80

struct slot {
    struct ssi_tmpl *tp;
    uint64_t size;
    int64_t mtime_ns;
    const struct fs_entry *e; /* compared only when the file has no ETag */
    uint8_t etag_len;
    char etag[ETAG_MAX];
};

struct table {
    struct slot slots[SLOTS];
};

static __thread struct table *table;
static __thread uint64_t parses;
static pthread_key_t key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

void ssi_cache_put(struct ssi_tmpl *tp)
{
    if (tp && --tp->refs == 0) {
        ssi_template_free(tp->t);
        sp_free(tp);
    }
}

/* The thread ends: its templates go (pages still rendering hold none by then). */
static void table_free(void *arg)
{
    struct table *tb = arg;
    for (unsigned i = 0; i < SLOTS; i++) {
        ssi_cache_put(tb->slots[i].tp);
    }
    sp_free(tb);
    table = NULL;
}

static void make_key(void)
{
    (void)pthread_key_create(&key, table_free);
}

static struct table *table_of_thread(void)
{
    if (!table) {
        (void)pthread_once(&key_once, make_key);
        table = sp_calloc(1, sizeof(*table));
        if (table) {
            (void)pthread_setspecific(key, table);
        }
    }
    return table;
}

static struct ssi_tmpl *parse(const char *p, size_t len)
{
    struct ssi_tmpl *tp = sp_calloc(1, sizeof(*tp));
    if (!tp || ssi_parse(p, len, &tp->t) < 0) {
        sp_free(tp);
        return NULL;
    }
    parses++;
    tp->refs = 1;
    return tp;
}

/* e's slot in this thread's table (NULL: no table), and whether e's template is there. */
static struct slot *slot_of(const struct fs_entry *e, bool *hit)
{
    struct table *tb = table_of_thread();
    bool by_etag = e->etag.len && e->etag.len <= ETAG_MAX;
    uint64_t h = by_etag ? hash_bytes(e->etag.ptr, e->etag.len) : (uint64_t)(uintptr_t)e;
    h = hash_mix(h, e->size ^ (uint64_t)e->mtime_ns);
    struct slot *s = tb ? &tb->slots[h & (SLOTS - 1)] : NULL;
    *hit = s && s->tp && s->size == e->size && s->mtime_ns == e->mtime_ns &&
           (by_etag ? s->etag_len == e->etag.len && !memcmp(s->etag, e->etag.ptr, e->etag.len)
                    : !s->etag_len && s->e == e);
    return s;
}

struct ssi_tmpl *ssi_cache_find(const struct fs_entry *e)
{
    bool hit;
    struct slot *s = slot_of(e, &hit);
    if (!hit) {
        return NULL;
    }
    s->tp->refs++;
    return s->tp;
}

struct ssi_tmpl *ssi_cache_add(const struct fs_entry *e, const char *p, size_t len)
{
    bool hit;
    struct slot *s = slot_of(e, &hit);
    struct ssi_tmpl *tp = parse(p, len);
    if (!tp || !s) {
        return tp;
    }
    ssi_cache_put(s->tp); /* the file changed, or another took the slot */
    tp->refs++;           /* the table's */
    *s = (struct slot){tp, e->size, e->mtime_ns, e, 0, {0}};
    if (e->etag.len && e->etag.len <= ETAG_MAX) {
        s->etag_len = (uint8_t)e->etag.len;
        memcpy(s->etag, e->etag.ptr, e->etag.len);
    }
    return tp;
}

uint64_t ssi_cache_parses(void)
{
    return parses;
}
