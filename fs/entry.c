/* entry.c - building a file-cache entry from what was opened and read (see entry.h). */
#include "fs/entry.h"

#include "core/base/alloc.h"
#include "core/base/numfmt.h"
#include "fs/etag_content.h"
#include "fs/types.h"
#include "proto/date.h"

#include <string.h>
#include <sys/stat.h>
#include <time.h>

static int64_t stat_ns(struct timespec ts)
{
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The quoted "inode-size-mtime" ETag of st in out (at most 3 x 16 hex + 4). */
static size_t inode_etag(const struct stat *st, char *out)
{
    size_t n = 0;
    out[n++] = '"';
    n += num_u64_to_hex(out + n, (uint64_t)st->st_ino);
    out[n++] = '-';
    n += num_u64_to_hex(out + n, (uint64_t)st->st_size);
    out[n++] = '-';
    n += num_u64_to_hex(out + n, (uint64_t)stat_ns(st->st_mtim));
    out[n++] = '"';
    return n;
}

struct fs_entry *fs_entry_build(const struct fs_build *b, char **body, bool *want_magic)
{
    const struct fs_view *v = b->v;
    const struct stat *st = b->st;
    struct slice path = b->path;
    const struct fs_typing *ty = v->typing ? v->typing : &fs_typing_default;
    bool dir = S_ISDIR(st->st_mode);
    bool small = !dir && (uint64_t)st->st_size <= b->small_max;
    size_t body_cap = small ? (size_t)st->st_size : 0;

    char etag[64], lm[HTTP_DATE_LEN], type[FS_TYPE_MAX];
    struct fs_entry tmp = {0};
    tmp.size = (uint64_t)st->st_size;
    /* a variant is typed by the name it stands for: x.css.br is text/css, encoded br */
    struct slice named = path;
    size_t sl = strlen(fs_enc_suffix(v->enc));
    if (v->enc && named.len > sl) {
        named.len -= sl;
    }
    size_t tn = dir ? 0 : fs_typing_of_name(ty, named, type, want_magic);
    if (dir) {
        *want_magic = false;
    }
    if (*want_magic && v->enc) {
        /*
         * A variant's bytes are compressed: libmagic would call them gzip. It takes the type
         * its original got (sniffed or not), from the original's entry: the handler looked
         * that up first. Without one, the name decides.
         */
        *want_magic = false;
        const struct fs_entry *o = b->original;
        if (o && o->kind == FS_FILE && o->mime.len < sizeof(type)) {
            memcpy(type, o->mime.ptr, o->mime.len);
            tn = o->mime.len;
        }
    }
    /* RFC 9110 8.8.2.1: never a Last-Modified later than now (a clock skew, a touch -d) */
    time_t mtime = st->st_mtim.tv_sec;
    time_t now_s = time(NULL);
    if (mtime > now_s) {
        mtime = now_s;
    }
    http_date_format(lm, mtime);
    /* a directory keeps its ETag whatever etag says: listings and variant lists are
     * invalidated by it, and no response carries it */
    size_t n = ty->etag == FS_ETAG_OFF && !dir ? 0 : inode_etag(st, etag);
    bool content = !dir && ty->etag == FS_ETAG_CONTENT;
    size_t etag_cap = content && n < FS_ETAG_CONTENT_LEN ? FS_ETAG_CONTENT_LEN : n;
    size_t type_cap = *want_magic ? FS_TYPE_MAX : tn;

    /* the attachment's room: its length for the longest type and ETag this entry may get */
    tmp.mime = slice_make(type, type_cap);
    tmp.etag = slice_make(etag, etag_cap);
    tmp.last_modified = slice_make(lm, HTTP_DATE_LEN);
    tmp.enc = v->enc;
    tmp.nosniff = ty->nosniff;
    size_t aux = !dir && b->hooks->aux_len ? b->hooks->aux_len(&tmp) : 0;
    aux = (aux + 7) & ~(size_t)7; /* keeps what follows it aligned, whatever it is */

    size_t total = sizeof(struct fs_entry) + aux + path.len + 1 + etag_cap + HTTP_DATE_LEN +
                   type_cap + body_cap;
    struct fs_entry *e = sp_malloc(total);
    if (!e) {
        return NULL;
    }
    *e = tmp;
    /* the attachment first: right behind the struct, it is aligned for whatever it holds */
    char *auxp = (char *)(e + 1);
    char *p = auxp + aux;
    e->aux = aux ? auxp : NULL;
    e->_aux_cap = (uint32_t)aux;
    e->_path = p;
    memcpy(p, path.ptr, path.len);
    p[path.len] = '\0';
    p += path.len + 1;
    memcpy(p, etag, n);
    e->etag = slice_make(p, n);
    p += etag_cap;
    memcpy(p, lm, HTTP_DATE_LEN);
    e->last_modified = slice_make(p, HTTP_DATE_LEN);
    p += HTTP_DATE_LEN;
    /* the type is copied: a configured table goes with its configuration, the entry may not */
    memcpy(p, type, tn);
    e->mime = slice_make(p, tn);
    p += type_cap;

    e->kind = dir ? FS_DIR : FS_FILE;
    e->fd = -1;
    e->mtime = mtime;
    e->mtime_ns = stat_ns(st->st_mtim);
    e->etag_wanted = content;
    e->_hash = b->hash;
    e->_root_id = v->root_id;
    e->_typing_id = v->typing ? v->typing->id : 0;
    e->_enc = v->enc;
    e->_type_cap = (uint8_t)type_cap;
    e->_etag_cap = (uint8_t)etag_cap;
    e->_path_len = (uint16_t)path.len;
    e->_dev = (uint64_t)st->st_dev;
    e->_ino = (uint64_t)st->st_ino;
    e->_mtime_ns = stat_ns(st->st_mtim);
    e->_ctime_ns = stat_ns(st->st_ctim);
    e->_bytes = total;
    e->_refs = 1;
    e->_linked = false;
    *body = small ? p : NULL;
    return e;
}

void fs_entry_attach(const struct fs_cache_hooks *h, struct fs_entry *e)
{
    if (e->aux) {
        size_t n = h->aux_len(e);
        ASSERT(n <= e->_aux_cap);
        h->aux_fill(e, (char *)e->aux); /* after the facts: the hook reads them */
        e->aux_len = (uint32_t)n;
    }
}

void fs_entry_sniffed(const struct fs_typing *ty, struct fs_entry *e, const char *m)
{
    char type[FS_TYPE_MAX];
    size_t tn;
    if (m) {
        tn = fs_typing_of_magic(ty, m, type);
    } else if (ty->magic == FS_MAGIC_ALL && fs_types_find(ty->types, fs_name_ext(
                                                slice_make(e->_path, e->_path_len))).len) {
        return; /* libmagic had nothing to say: the name's type (already there) stands */
    } else {
        tn = fs_typing_of_magic(ty, NULL, type);
    }
    if (tn <= e->_type_cap) {
        memcpy((char *)e->mime.ptr, type, tn);
        e->mime.len = tn;
    }
}

void fs_entry_hash_body(struct fs_entry *e)
{
    if (e->etag_wanted && e->body && e->_etag_cap >= FS_ETAG_CONTENT_LEN) {
        fs_etag_content_of(e->body, e->size, (char *)e->etag.ptr);
        e->etag.len = FS_ETAG_CONTENT_LEN;
        e->etag_wanted = false;
    }
}

void fs_entry_xattr_etag(struct fs_entry *e, int fd)
{
    char tag[FS_ETAG_CONTENT_LEN];
    if (e->etag_wanted && e->_etag_cap >= FS_ETAG_CONTENT_LEN &&
        fs_etag_xattr_get(fd, e->size, e->mtime_ns, tag) == 0) {
        memcpy((char *)e->etag.ptr, tag, FS_ETAG_CONTENT_LEN);
        e->etag.len = FS_ETAG_CONTENT_LEN;
        e->etag_wanted = false;
    }
}

bool fs_entry_take_etag(struct fs_entry *e, struct slice etag, uint64_t size, int64_t mtime_ns,
                        int64_t ctime_ns)
{
    if (!e->etag_wanted || etag.len > e->_etag_cap || size != e->size ||
        mtime_ns != e->_mtime_ns) {
        return false; /* the file changed while it was hashed: its next entry hashes again */
    }
    memcpy((char *)e->etag.ptr, etag.ptr, etag.len);
    e->etag.len = etag.len;
    e->etag_wanted = false;
    if (ctime_ns) {
        e->_ctime_ns = ctime_ns;
    }
    return true;
}
