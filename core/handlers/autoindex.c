/* autoindex.c - directory listings made by helper threads, cached per worker (see autoindex.h). */
#include "core/handlers/autoindex.h"

#include "core/base/alloc.h"
#include "core/base/hash.h"
#include "core/base/lru.h"
#include "core/conf/types.h"
#include "core/http/cache_fill.h"
#include "core/http/handler.h"
#include "core/http/respond.h"
#include "core/http/route.h"
#include "core/http/typing.h"
#include "core/io/loop.h"
#include "core/io/offload.h"
#include "fs/cache.h"
#include "fs/listing.h"
#include "log/errlog.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define AI_WORKERS 1025 /* worker ids are 1..1024 (`workers` is at most 1024) */
#define AI_BUCKETS 64
#define AI_CACHE_BYTES (32u << 20)
#define AI_CACHE_PAGES 64
#define AI_MAX_AGE_MS 60000
#define AI_MAX_ENTRIES 250000
#define AI_ROUNDS_MAX 4 /* as cache_fill.c: past this, answered on the thread */
#define AI_TAG_MAX 72   /* the directory's ETag: "ino-size-mtimens" in hex */

enum ai_format { AI_HTML, AI_JSON };

/* The location struct (CONF_STORE_LOC). */
struct ai_conf {
    bool on;
    unsigned format; /* enum ai_format */
    bool exact_size;
    bool localtime;
};

/* The main struct. */
struct ai_main {
    uint64_t gen; /* this configuration's number: pages of another one are never served */
    bool used;    /* offload_use() was called */
};

/*
 * The module's slot: the module list is one static array, so it is the same in every
 * configuration; written by finish on the main thread before any worker reads it.
 */
static SP_ATOMIC(int) ai_slot = -1;
static SP_ATOMIC(uint64_t) ai_gens;

/*
 * Each worker's pages and jobs, made by that worker on its first listing and touched by it
 * alone (slot i by worker i). They belong to the worker, not to a configuration: a page may be
 * on its way to a client and a job on a helper when a reload frees the configuration, and only
 * the worker may drop their references. A worker drops the pages of an earlier configuration
 * the next time it lists; what is left goes with the process.
 */
static struct ai_worker *ai_workers[AI_WORKERS];

/* A cached page: the body (an uncached fs_entry, shared by the responses sending it). */
struct ai_page {
    struct lru_node node; /* in the worker's pages; its bytes: body, this and the key */
    struct fs_entry *body;
    uint64_t made_ms;
    uint8_t tag_len;
    char tag[AI_TAG_MAX];
    size_t key_len;
    char key[];
};

/* A listing being made: the job on a helper, and the requests waiting for it. */
struct ai_job {
    struct offload_job oj;
    struct ai_worker *w;
    struct ai_job *next;
    struct req_wait waiters;
    /* the connection of the request that started it, held until the job is done */
    struct req_hold_ref hold; /* the request that started it, held */
    /* input, read by the helper */
    struct fs_root root; /* the document root, a duplicate descriptor the job owns */
    uint64_t gen;        /* the configuration it was started under */
    const char *rel;     /* the directory beneath root, NUL-terminated ("a/b/", "" for the root) */
    struct fs_list_view view;
    uint8_t format;
    /* output */
    struct fs_entry *page;
    /* the key, and the directory's ETag when it was looked up */
    uint64_t hash;
    uint8_t tag_len;
    char tag[AI_TAG_MAX];
    size_t key_len;
    char buf[]; /* key, then rel + NUL, then the title */
};

/* What a finished job leaves for the requests it wakes (their lookups find it first). */
struct ai_handoff {
    const char *key;
    size_t key_len;
    struct fs_entry *page;
    int status;
};

struct ai_worker {
    struct io_loop *loop;
    uint64_t gen; /* the configuration its pages belong to */
    struct lru pages;
    struct lru_node *buckets[AI_BUCKETS];
    struct ai_job *jobs;
    struct ai_handoff handoff;
};

/* ---------------------------------------------------------------- directives */

static const char *const format_keys[] = {"html", "json", NULL};

static int format_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **a,
                        unsigned n)
{
    if (strcmp(a[0], "xml") == 0 || strcmp(a[0], "jsonp") == 0) {
        return conf_error(p, "\"autoindex_format %s\" is not supported (use html or json)", a[0]);
    }
    return conf_keyword.parse(p, r, field, a, n);
}

static void format_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    conf_keyword.print(o, r, field);
}

static const struct conf_type format_type = {"autoindex_format", sizeof(unsigned), format_parse,
                                             format_print, NULL};

#define ALL (CONF_MAIN | CONF_SERVER | CONF_LOCATION)
#define OFF(f) offsetof(struct ai_conf, f)

static const struct conf_row rows[] = {
    {"autoindex", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_flag, OFF(on), "off", 0, 0, "on", NULL},
    {"autoindex_format", ALL, CONF_STORE_LOC, 1, 1, 0, &format_type, OFF(format), "html", 0, 0,
     "json", format_keys},
    {"autoindex_exact_size", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_flag, OFF(exact_size), "off", 0, 0,
     "on", NULL},
    {"autoindex_localtime", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_flag, OFF(localtime), "off", 0, 0,
     "on", NULL},
};

static bool any_on(const struct conf_block *b, unsigned slot)
{
    const struct ai_conf *ac = conf_get(b, slot, CONF_STORE_LOC);
    if (ac && ac->on) {
        return true;
    }
    for (const struct conf_block *k = b->children; k; k = k->next) {
        if (any_on(k, slot)) {
            return true;
        }
    }
    return false;
}

static int ai_finish(struct conf *c, unsigned slot, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    atomic_store(&ai_slot, (int)slot);
    struct ai_main *m = conf_main(c, slot);
    m->gen = atomic_fetch_add(&ai_gens, 1) + 1;
    if (any_on(c->main, slot)) {
        offload_use(); /* starts no thread: the first listing does */
        m->used = true;
    }
    return 0;
}

static void page_free(struct ai_page *p)
{
    fs_entry_release(p->body);
    sp_free(p);
}

static void ai_release(struct conf *c, unsigned slot)
{
    struct ai_main *m = conf_main(c, slot);
    if (m->used) {
        (void)offload_unuse(); /* the last user stops the helpers */
        m->used = false;
    }
}

/* ---------------------------------------------------------------- making a page */

static const char *const content_types[] = {"text/html; charset=utf-8", "application/json"};

/* Reads, sorts and renders the directory (blocking: a helper, or the rare synchronous case). */
static int build_page(const struct fs_root *root, const char *rel, const struct fs_list_view *v,
                      unsigned format, struct fs_entry **out)
{
    *out = NULL;
    int fd = fs_open_beneath(root, rel, O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
        return fd;
    }
    struct fs_listing l;
    fs_listing_init(&l);
    int rc = fs_listing_read(&l, fd, root, rel, AI_MAX_ENTRIES);
    close(fd);
    if (rc == 0) {
        fs_listing_sort(&l, v->sort, v->desc);
        struct fs_out o = {0};
        if (format == AI_JSON) {
            fs_listing_json(&l, &o);
        } else {
            fs_listing_html(&l, v, &o);
        }
        struct fs_entry *e = o.failed ? NULL : fs_entry_new_body(o.len);
        if (e) {
            memcpy((char *)e->body, o.p, o.len);
            *out = e;
        } else {
            rc = -ENOMEM;
        }
        fs_out_free(&o);
    }
    fs_listing_free(&l);
    return rc;
}

static int status_of(int res)
{
    if (res == -EFBIG) {
        return 403;
    }
    if (res == -ECANCELED) {
        return 503;
    }
    return fs_status_for_errno(res);
}

/* ---------------------------------------------------------------- the worker's pages */

static void page_drop(struct ai_worker *w, struct ai_page *p);

static struct ai_page *page_of(struct lru_node *n)
{
    return container_of(n, struct ai_page, node);
}

/* This worker's state, its pages those of the request's configuration (gen). NULL: no memory. */
static struct ai_worker *worker_state(const struct req *r, uint64_t *gen)
{
    int slot = atomic_load(&ai_slot);
    const struct conf_block *b = r->loc->block;
    while (b->parent) {
        b = b->parent;
    }
    const struct ai_main *m = conf_get(b, (unsigned)slot, CONF_STORE_MAIN);
    unsigned id = r->env->worker;
    *gen = m ? m->gen : 0;
    if (!m || id >= AI_WORKERS) {
        return NULL;
    }
    struct ai_worker *w = ai_workers[id];
    if (!w) {
        w = sp_calloc(1, sizeof(*w));
        if (!w) {
            return NULL;
        }
        w->loop = r->env->loop;
        lru_init(&w->pages, w->buckets, AI_BUCKETS);
        w->gen = m->gen;
        ai_workers[id] = w;
    }
    if (w->gen != m->gen) {
        struct lru_node *n;
        while ((n = lru_oldest(&w->pages))) {
            page_drop(w, page_of(n)); /* made under another configuration (a reload) */
        }
        w->gen = m->gen;
    }
    return w;
}

static struct ai_page *page_find(struct ai_worker *w, uint64_t hash, const char *key, size_t len)
{
    for (struct lru_node *n = lru_first(&w->pages, hash); n; n = lru_next(n)) {
        struct ai_page *p = page_of(n);
        if (p->key_len == len && memcmp(p->key, key, len) == 0) {
            return p;
        }
    }
    return NULL;
}

static void page_drop(struct ai_worker *w, struct ai_page *p)
{
    lru_remove(&w->pages, &p->node);
    page_free(p); /* responses still sending it hold their own reference */
}

/* Keeps a finished job's page (unless it alone is over the budget), evicting the oldest. */
static void page_keep(struct ai_worker *w, const struct ai_job *j)
{
    size_t cost = j->page->size + sizeof(struct ai_page) + j->key_len;
    struct ai_page *old = page_find(w, j->hash, j->buf, j->key_len);
    if (old) {
        page_drop(w, old);
    }
    if (cost > AI_CACHE_BYTES) {
        return; /* served to the requests that waited, then freed */
    }
    while (w->pages.count &&
           (w->pages.bytes + cost > AI_CACHE_BYTES || w->pages.count >= AI_CACHE_PAGES)) {
        page_drop(w, page_of(lru_oldest(&w->pages)));
    }
    struct ai_page *p = sp_malloc(sizeof(*p) + j->key_len);
    if (!p) {
        return;
    }
    fs_entry_ref(j->page);
    p->body = j->page;
    p->made_ms = w->loop->now_ms;
    p->tag_len = j->tag_len;
    memcpy(p->tag, j->tag, j->tag_len);
    p->key_len = j->key_len;
    memcpy(p->key, j->buf, j->key_len);
    lru_insert(&w->pages, &p->node, j->hash, cost);
}

/* ---------------------------------------------------------------- jobs */

/* The status for a listing that could not be made; the reasons an operator can act on are logged.
 */
static int failed(const struct ai_job *j, int res)
{
    int status = status_of(res);
    if (res == -EFBIG) {
        errlog(ERRLOG_WARN, "autoindex: \"%.*s\" has more than %u entries: not listed",
               (int)j->view.title.len, j->view.title.ptr, AI_MAX_ENTRIES);
    } else if (status >= 500 && res != -ECANCELED) {
        errlog(ERRLOG_ERROR, "autoindex: cannot list \"%.*s\": %s", (int)j->view.title.len,
               j->view.title.ptr, strerror(-res));
    }
    return status;
}

static int job_run(struct offload_job *oj)
{
    struct ai_job *j = container_of(oj, struct ai_job, oj);
    return build_page(&j->root, j->rel, &j->view, j->format, &j->page);
}

static void job_free(struct ai_job *j)
{
    if (j->page) {
        fs_entry_release(j->page);
    }
    close(j->root.fd);
    sp_free(j);
}

static void job_done(struct offload_job *oj, int res)
{
    struct ai_job *j = container_of(oj, struct ai_job, oj);
    struct ai_worker *w = j->w;
    for (struct ai_job **pp = &w->jobs; *pp; pp = &(*pp)->next) {
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    }
    int status = res < 0 ? failed(j, res) : 200;
    if (status == 200 && j->page && j->gen == w->gen) {
        page_keep(w, j);
    }
    w->handoff = (struct ai_handoff){j->buf, j->key_len, j->page, status};
    struct req_wait *rw;
    while ((rw = j->waiters.next) != &j->waiters) {
        req_wait_unlink(rw);
        rw->wake(rw); /* dispatched again: finds the handoff (or starts a job of its own) */
    }
    w->handoff.key = NULL;
    req_hold_end(j->hold);
    job_free(j);
}

static struct ai_job *job_find(struct ai_worker *w, uint64_t hash, const char *key, size_t len)
{
    for (struct ai_job *j = w->jobs; j; j = j->next) {
        if (j->hash == hash && j->key_len == len && memcmp(j->buf, key, len) == 0) {
            return j;
        }
    }
    return NULL;
}

/* ---------------------------------------------------------------- the request */

struct ai_want {
    uint8_t format;
    uint8_t sort;
    bool desc;
    bool vary; /* the format came from Accept (or could have) */
};

static bool word_is(struct slice s, const char *w)
{
    return slice_eq_nocase(s, slice_cstr(w));
}

/* ?C=N|M|S;O=A|D (Apache), ?sort=name|time|size&order=asc|desc, ?format=html|json. */
static bool parse_query(struct slice q, struct ai_want *w)
{
    bool format_set = false;
    size_t i = 0;
    while (i < q.len) {
        size_t end = i;
        while (end < q.len && q.ptr[end] != '&' && q.ptr[end] != ';') {
            end++;
        }
        struct slice pair = slice_sub(q, i, end - i);
        i = end + 1;
        const char *eq = memchr(pair.ptr, '=', pair.len);
        if (!eq) {
            continue;
        }
        struct slice k = slice_make(pair.ptr, (size_t)(eq - pair.ptr));
        struct slice v = slice_make(eq + 1, pair.len - k.len - 1);
        if (slice_eq(k, SLICE_LIT("C")) || word_is(k, "sort")) {
            if (word_is(v, "N") || word_is(v, "name")) {
                w->sort = FS_SORT_NAME;
            } else if (word_is(v, "M") || word_is(v, "time") || word_is(v, "mtime")) {
                w->sort = FS_SORT_TIME;
            } else if (word_is(v, "S") || word_is(v, "size")) {
                w->sort = FS_SORT_SIZE;
            }
        } else if (slice_eq(k, SLICE_LIT("O")) || word_is(k, "order")) {
            if (word_is(v, "D") || word_is(v, "desc")) {
                w->desc = true;
            } else if (word_is(v, "A") || word_is(v, "asc")) {
                w->desc = false;
            }
        } else if (word_is(k, "format")) {
            if (word_is(v, "json")) {
                w->format = AI_JSON;
                format_set = true;
            } else if (word_is(v, "html")) {
                w->format = AI_HTML;
                format_set = true;
            }
        }
    }
    return format_set;
}

/* The q of an exact media type in an Accept value, in thousandths; -1 when not listed. */
static int accept_q(struct slice v, struct slice type)
{
    int best = -1;
    size_t i = 0;
    while (i < v.len) {
        size_t end = i;
        while (end < v.len && v.ptr[end] != ',') {
            end++;
        }
        struct slice item = slice_sub(v, i, end - i);
        i = end + 1;
        const char *semi = memchr(item.ptr, ';', item.len);
        struct slice mt =
            slice_trim_ows(slice_make(item.ptr, semi ? (size_t)(semi - item.ptr) : item.len));
        if (!slice_eq_nocase(mt, type)) {
            continue;
        }
        int q = 1000;
        for (const char *p = semi; p && p < item.ptr + item.len;) {
            p++;
            while (p < item.ptr + item.len && (*p == ' ' || *p == '\t')) {
                p++;
            }
            if (item.ptr + item.len - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
                p += 2;
                q = 0;
                int digits = 0, scale = 1000;
                for (; p < item.ptr + item.len && (*p == '.' || (*p >= '0' && *p <= '9')); p++) {
                    if (*p == '.') {
                        digits = 1;
                    } else if (!digits) {
                        q = (*p - '0') * 1000;
                    } else if (scale > 1) {
                        scale /= 10;
                        q += (*p - '0') * scale;
                    }
                }
                q = MIN(q, 1000);
            }
            p = memchr(p, ';', (size_t)(item.ptr + item.len - p));
        }
        best = MAX(best, q);
    }
    return best;
}

/* The format Accept asks for, the configured one unless the other is named and preferred. */
static uint8_t negotiate(const struct http_request *m, uint8_t def)
{
    int json = -1, html = -1;
    for (const struct http_header *h = hdr_get(&m->headers, SLICE_LIT("accept")); h;
         h = hdr_next_dup(&m->headers, h)) {
        json = MAX(json, accept_q(h->value, SLICE_LIT("application/json")));
        html = MAX(html, accept_q(h->value, SLICE_LIT("text/html")));
    }
    if (def == AI_HTML) {
        return json > 0 && json > html ? AI_JSON : AI_HTML;
    }
    return html > 0 && html > json ? AI_HTML : AI_JSON;
}

static int serve(struct req *r, struct fs_entry *page, const struct ai_want *w)
{
    resp_begin(r, 200);
    if (resp_field(r, SLICE_LIT("Content-Type"), slice_cstr(content_types[w->format])) < 0 ||
        (w->vary && resp_field(r, SLICE_LIT("Vary"), SLICE_LIT("Accept")) < 0) ||
        resp_body_file(r, page, 0, page->size) < 0) {
        return 500;
    }
    return resp_send(r);
}

/* Bytes of a key besides the directory and the URI. */
#define KEY_FIXED (sizeof(uint64_t) + sizeof(uint32_t) + 3 + 1)

/*
 * The key of a page: the configuration, the root id (numbered per configuration), the
 * rendering choices, the directory, the URI. Laid out for the job as key, then the
 * relative path with a NUL, then the title (the URI).
 */
static size_t key_build(char *dst, uint64_t gen, uint32_t root_id, const struct ai_want *w,
                        const struct ai_conf *ac, struct slice fs_dir, struct slice uri)
{
    size_t n = 0;
    memcpy(dst, &gen, sizeof(gen));
    n += sizeof(gen);
    memcpy(dst + n, &root_id, sizeof(root_id));
    n += sizeof(root_id);
    dst[n++] = (char)w->format;
    dst[n++] = (char)w->sort;
    dst[n++] = (char)(w->desc | ac->exact_size << 1 | ac->localtime << 2);
    memcpy(dst + n, fs_dir.ptr, fs_dir.len);
    n += fs_dir.len;
    dst[n++] = '\0';
    memcpy(dst + n, uri.ptr, uri.len);
    return n + uri.len;
}

/* Makes the page on this thread (no helper can, or the request cannot wait). */
static int answer_now(struct req *r, struct ai_worker *w, struct ai_job *j,
                      const struct ai_want *want)
{
    int res = build_page(&j->root, j->rel, &j->view, j->format, &j->page);
    int st;
    if (res < 0) {
        st = failed(j, res);
    } else {
        if (w) {
            page_keep(w, j);
        }
        st = serve(r, j->page, want);
    }
    job_free(j);
    return st;
}

static struct ai_job *job_new(const struct req *r, const struct fs_root *root, uint64_t gen,
                              uint32_t root_id, const struct ai_want *want,
                              const struct ai_conf *ac, struct slice fs_dir, struct slice tag)
{
    struct slice uri = r->path;
    size_t cap = KEY_FIXED + fs_dir.len + uri.len + fs_dir.len + uri.len;
    struct ai_job *j = sp_calloc(1, sizeof(*j) + cap);
    if (!j) {
        return NULL;
    }
    /* its own descriptor: the configuration (and its roots) may go while the job runs */
    j->root.fd = fcntl(root->fd, F_DUPFD_CLOEXEC, 0);
    if (j->root.fd < 0) {
        sp_free(j);
        return NULL;
    }
    j->gen = gen;
    j->key_len = key_build(j->buf, gen, root_id, want, ac, fs_dir, uri);
    j->hash = hash_bytes(j->buf, j->key_len);
    char *rel = j->buf + j->key_len;
    memcpy(rel, fs_dir.ptr + 1, fs_dir.len - 1); /* without the leading '/' */
    rel[fs_dir.len - 1] = '\0';
    char *title = rel + fs_dir.len;
    memcpy(title, uri.ptr, uri.len);
    j->rel = rel;
    j->format = want->format;
    j->view = (struct fs_list_view){slice_make(title, uri.len),
                                    uri.len > 1,
                                    ac->exact_size,
                                    ac->localtime,
                                    want->sort,
                                    want->desc};
    j->tag_len = (uint8_t)MIN(tag.len, sizeof(j->tag));
    memcpy(j->tag, tag.ptr, j->tag_len);
    req_wait_list_init(&j->waiters);
    return j;
}

int autoindex_answer(struct req *r, const struct fs_root *root, uint32_t root_id,
                     struct slice fs_dir, int fallback)
{
    int slot = atomic_load(&ai_slot);
    if (slot < 0 || !r->loc || !r->loc->block || !r->msg) {
        return fallback;
    }
    const struct ai_conf *ac = conf_get(r->loc->block, (unsigned)slot, CONF_STORE_LOC);
    if (!ac || !ac->on) {
        return fallback;
    }
    if (fs_dir.len == 0 || fs_dir.ptr[0] != '/' || fs_dir.ptr[fs_dir.len - 1] != '/') {
        return fallback;
    }
    struct ai_want want = {(uint8_t)ac->format, FS_SORT_NAME, false, false};
    if (!parse_query(r->msg->has_query ? r->msg->query : SLICE_NULL, &want)) {
        want.format = negotiate(r->msg, (uint8_t)ac->format);
        want.vary = true;
    }

    /* the directory as the file cache knows it now: its ETag tells whether a page is stale */
    int st;
    struct fs_view view = {root_id, FS_ENC_NONE, http_typing(r->loc)};
    struct fs_entry *de = http_file_get(r, root, &view, fs_dir, &st);
    if (!de) {
        return st; /* HANDLER_LATER (being checked), or 503 */
    }
    if (de->kind != FS_DIR) {
        st = de->kind == FS_ERROR ? de->status : fallback;
        fs_entry_release(de);
        return st;
    }
    char tag[AI_TAG_MAX];
    size_t tag_len = MIN(de->etag.len, sizeof(tag));
    memcpy(tag, de->etag.ptr, tag_len);
    fs_entry_release(de);

    uint64_t gen;
    struct ai_worker *w = worker_state(r, &gen);
    char *key = arena_alloc(r->arena, KEY_FIXED + fs_dir.len + r->path.len);
    if (!key) {
        return 503;
    }
    size_t key_len = key_build(key, gen, root_id, &want, ac, fs_dir, r->path);
    uint64_t hash = hash_bytes(key, key_len);
    if (w) {
        struct ai_page *p = page_find(w, hash, key, key_len);
        if (p && (p->tag_len != tag_len || memcmp(p->tag, tag, tag_len) != 0 ||
                  w->loop->now_ms - p->made_ms >= AI_MAX_AGE_MS)) {
            page_drop(w, p); /* the directory changed (or the page is old): make it again */
            p = NULL;
        }
        if (p) {
            lru_touch(&w->pages, &p->node);
            return serve(r, p->body, &want);
        }
        const struct ai_handoff *h = &w->handoff;
        if (h->key && h->key_len == key_len && memcmp(h->key, key, key_len) == 0) {
            return h->status == 200 ? serve(r, h->page, &want) : h->status;
        }
        struct ai_job *j = job_find(w, hash, key, key_len);
        if (j && r->wait) {
            req_wait_link(&j->waiters, r->wait);
            r->wait->rounds++;
            return HANDLER_LATER;
        }
    }
    struct ai_job *j = job_new(r, root, gen, root_id, &want, ac, fs_dir, slice_make(tag, tag_len));
    if (!j) {
        return 503;
    }
    if (!w || !r->wait || r->wait->rounds >= AI_ROUNDS_MAX) {
        return answer_now(r, w, j, &want);
    }
    j->w = w;
    offload_job_init(&j->oj, job_run, job_done);
    int rc = offload_submit(r->env->loop, &j->oj);
    if (rc == -ENOSYS) {
        return answer_now(r, w, j, &want); /* no helpers here (no ring, an old kernel) */
    }
    if (rc < 0) {
        job_free(j);
        return 503; /* the helpers' queue is full */
    }
    j->next = w->jobs;
    w->jobs = j;
    req_wait_link(&j->waiters, r->wait);
    r->wait->rounds++;
    /* the worker must not exit (and free nothing of this request) before the job is done */
    j->hold = req_hold_keep(r);
    return HANDLER_LATER;
}

/* ---------------------------------------------------------------- module */

const struct conf_module autoindex_module = {
    .name = "autoindex",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_MAIN] = sizeof(struct ai_main), [CONF_STORE_LOC] = sizeof(struct ai_conf)},
    .finish = ai_finish,
    .release = ai_release,
};
