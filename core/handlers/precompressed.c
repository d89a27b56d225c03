/* precompressed.c - choosing a precompressed variant (see precompressed.h). */
#include "core/handlers/precompressed.h"

#include "core/base/arena.h"
#include "core/http/cache_fill.h"
#include "core/http/handler.h"
#include "core/http/typing.h"
#include "proto/negotiate.h"

#include <string.h>

/* fpath's variant for enc, looked up: a referenced file entry, NULL (none), or *status. */
static struct fs_entry *variant(struct req *r, const struct precomp_conf *pc,
                                const struct http_root *root, struct slice fpath,
                                const struct fs_entry *orig, unsigned enc, int *status)
{
    const char *suf = fs_enc_suffix(enc);
    size_t sl = strlen(suf);
    char *p = arena_alloc(r->arena, fpath.len + sl + 1);
    if (!p) {
        *status = 503;
        return NULL;
    }
    memcpy(p, fpath.ptr, fpath.len);
    memcpy(p + fpath.len, suf, sl + 1);
    struct fs_view v = http_view(r->loc, root, enc);
    struct fs_entry *e = http_file_get(r, &root->root, &v, slice_make(p, fpath.len + sl), status);
    if (!e) {
        return NULL; /* HANDLER_LATER or 503 in *status */
    }
    /*
     * A variant older than its original was not made from it: ignored unless told. Compared
     * in whole seconds: brotli 1.0 copies the original's mtime truncated to the second, so
     * a fresh .br would otherwise look older than its file.
     */
    bool older = orig->kind == FS_FILE && e->mtime_ns / 1000000000 < orig->mtime_ns / 1000000000;
    *status = 0;
    if (e->kind != FS_FILE || (older && !pc->stale_ok)) {
        fs_entry_release(e);
        return NULL;
    }
    return e;
}

int precompressed_pick(struct req *r, const struct precomp_conf *pc, const struct http_root *root,
                       struct slice fpath, struct fs_entry *orig, struct fs_entry **out)
{
    *out = orig;
    const struct hdr_table *h = &r->msg->headers;
    int st = 0;
    if (pc->always) {
        /* nginx's gzip_static always: the .gz whatever the client said (it knows better) */
        struct fs_entry *e = variant(r, pc, root, fpath, orig, FS_ENC_GZIP, &st);
        if (e) {
            *out = e;
            return 0;
        }
        if (st) {
            return st;
        }
    }
    if (!hdr_get_known(h, HDR_ACCEPT_ENCODING)) {
        return 0; /* no Accept-Encoding: any coding would do, and identity is what all read */
    }
    struct http_neg_item items[HTTP_NEG_ITEMS_MAX];
    struct http_neg_list ae;
    http_neg_init(&ae, HTTP_NEG_ACCEPT_ENCODING, items, HTTP_NEG_ITEMS_MAX);
    http_neg_add_fields(&ae, h, SLICE_LIT("accept-encoding"));

    /* the candidates by the client's q, ties to the server's order, identity last of its q */
    struct cand {
        uint16_t q;
        uint8_t enc;
    } c[FS_ENC_COUNT + 1];
    unsigned n = 0;
    for (unsigned i = 0; i < pc->n; i++) {
        uint16_t q = http_neg_coding_match(&ae, slice_cstr(fs_enc_name(pc->order[i]))).q;
        if (q) {
            c[n++] = (struct cand){q, pc->order[i]};
        }
    }
    uint16_t qid = http_neg_coding_match(&ae, SLICE_LIT("identity")).q;
    if (qid) {
        c[n++] = (struct cand){qid, FS_ENC_NONE};
    }
    for (unsigned i = 1; i < n; i++) { /* insertion sort, stable: at most four */
        struct cand k = c[i];
        unsigned j = i;
        for (; j > 0 && c[j - 1].q < k.q; j--) {
            c[j] = c[j - 1];
        }
        c[j] = k;
    }
    for (unsigned i = 0; i < n; i++) {
        if (c[i].enc == FS_ENC_NONE) {
            if (orig->kind == FS_FILE || orig->kind == FS_DIR) {
                return 0;
            }
            continue; /* no original: a variant may still stand for it (as nginx's .gz does) */
        }
        struct fs_entry *e = variant(r, pc, root, fpath, orig, c[i].enc, &st);
        if (e) {
            *out = e;
            return 0;
        }
        if (st) {
            return st;
        }
    }
    /* nothing acceptable: identity refused outright is 406, anything else the original's
     * own answer (a 404 stays a 404) */
    return qid == 0 && orig->kind == FS_FILE ? 406 : 0;
}
