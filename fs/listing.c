/* listing.c - reading, sorting and rendering directory listings (see listing.h). */
#include "fs/listing.h"

#include "core/base/alloc.h"
#include "core/base/numfmt.h"
#include "core/base/utf8.h"
#include "proto/date.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DENTS_BUF 65536

void fs_listing_init(struct fs_listing *l)
{
    memset(l, 0, sizeof(*l));
}

void fs_listing_free(struct fs_listing *l)
{
    sp_free(l->v);
    sp_free(l->names);
    fs_listing_init(l);
}

void fs_out_free(struct fs_out *o)
{
    sp_free(o->p);
    memset(o, 0, sizeof(*o));
}

/* ---------------------------------------------------------------- reading */

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) {
        return true;
    }
    size_t n = *cap ? *cap : 64;
    while (n < need) {
        n *= 2;
    }
    void *np = sp_realloc(*p, n * elem);
    if (!np) {
        return false;
    }
    *p = np;
    *cap = n;
    return true;
}

/* The facts of name in dirfd; false when it is left out (gone, or a link out of the root). */
static bool facts(int dirfd, const struct fs_root *root, const char *rel, const char *name,
                  struct stat *st)
{
    if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) < 0) {
        return false; /* removed since getdents, or not ours to look at */
    }
    if (!S_ISLNK(st->st_mode)) {
        return true;
    }
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s%s", rel, name);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        return false;
    }
    int fd = fs_open_beneath(root, path, O_PATH);
    if (fd < 0) {
        return false; /* dangling, a loop, or leading out of the root */
    }
    bool ok = fstat(fd, st) == 0;
    close(fd);
    return ok;
}

static int add(struct fs_listing *l, const char *name, size_t len, const struct stat *st)
{
    void *v = l->v, *names = l->names;
    if (!grow(&v, &l->cap, l->n + 1, sizeof(*l->v))) {
        return -ENOMEM;
    }
    l->v = v;
    size_t ncap = l->names_cap;
    if (!grow(&names, &ncap, l->names_len + len, 1)) {
        return -ENOMEM;
    }
    l->names = names;
    l->names_cap = ncap;
    struct fs_list_entry *e = &l->v[l->n++];
    e->size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
    e->mtime = st->st_mtim.tv_sec;
    e->name_off = (uint32_t)l->names_len;
    e->name_len = (uint16_t)len;
    e->kind = S_ISDIR(st->st_mode)   ? FS_LIST_DIR
              : S_ISREG(st->st_mode) ? FS_LIST_FILE
                                     : FS_LIST_OTHER;
    memcpy(l->names + l->names_len, name, len);
    l->names_len += len;
    return 0;
}

int fs_listing_read(struct fs_listing *l, int dirfd, const struct fs_root *root, const char *rel,
                    size_t max)
{
    char *buf = sp_malloc(DENTS_BUF);
    if (!buf) {
        return -ENOMEM;
    }
    int rc = 0;
    for (;;) {
        ssize_t got = getdents64(dirfd, buf, DENTS_BUF);
        if (got < 0) {
            rc = -errno;
            break;
        }
        if (got == 0) {
            break;
        }
        for (ssize_t off = 0; off < got && rc == 0;) {
            const struct dirent64 *d = (const struct dirent64 *)(const void *)(buf + off);
            off += d->d_reclen;
            if (d->d_name[0] == '.') {
                continue; /* hidden files, "." and ".." */
            }
            if (l->n >= max) {
                rc = -EFBIG;
                break;
            }
            struct stat st;
            if (facts(dirfd, root, rel, d->d_name, &st)) {
                rc = add(l, d->d_name, strlen(d->d_name), &st);
            }
        }
        if (rc < 0) {
            break;
        }
    }
    sp_free(buf);
    return rc;
}

/* ---------------------------------------------------------------- sorting */

struct sort_ctx {
    const char *names;
    enum fs_list_sort key;
    bool desc;
};

static int by_name(const struct fs_list_entry *a, const struct fs_list_entry *b, const char *names)
{
    size_t n = MIN(a->name_len, b->name_len);
    int c = memcmp(names + a->name_off, names + b->name_off, n);
    if (c) {
        return c;
    }
    return (a->name_len > b->name_len) - (a->name_len < b->name_len);
}

static int cmp_entries(const void *pa, const void *pb, void *arg)
{
    const struct fs_list_entry *a = pa, *b = pb;
    const struct sort_ctx *x = arg;
    int c = (a->kind != FS_LIST_DIR) - (b->kind != FS_LIST_DIR);
    if (c) {
        return c; /* directories first, in either order */
    }
    if (x->key == FS_SORT_TIME) {
        c = (a->mtime > b->mtime) - (a->mtime < b->mtime);
    } else if (x->key == FS_SORT_SIZE) {
        c = (a->size > b->size) - (a->size < b->size);
    }
    if (c) {
        return x->desc ? -c : c;
    }
    c = by_name(a, b, x->names);
    return x->key == FS_SORT_NAME && x->desc ? -c : c; /* ties: by name, ascending */
}

void fs_listing_sort(struct fs_listing *l, enum fs_list_sort key, bool desc)
{
    struct sort_ctx x = {l->names, key, desc};
    if (l->n > 1) {
        qsort_r(l->v, l->n, sizeof(*l->v), cmp_entries, &x);
    }
}

/* ---------------------------------------------------------------- output */

static void put(struct fs_out *o, const char *p, size_t n)
{
    if (o->failed) {
        return;
    }
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (cap < o->len + n) {
            cap *= 2;
        }
        char *np = sp_realloc(o->p, cap);
        if (!np) {
            o->failed = true;
            return;
        }
        o->p = np;
        o->cap = cap;
    }
    memcpy(o->p + o->len, p, n);
    o->len += n;
}

/* lit must be a string literal ("" lit refuses anything else at compile time) */
#define PUTS(o, lit) put((o), "" lit, sizeof(lit) - 1)

static void put_dec(struct fs_out *o, uint64_t v)
{
    char d[24];
    put(o, d, num_u64_to_dec(d, v));
}

/* Text for HTML: entities for the five specials, U+FFFD for controls and non-UTF-8 bytes. */
static void put_html_text(struct fs_out *o, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t run = 0; /* bytes that pass as they are, written in one piece */
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        const char *rep = NULL;
        size_t k = 1;
        switch (c) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                rep = "&#xFFFD;";
            } else if (c >= 0x80) {
                k = utf8_len(p + i, n - i);
                if (k == 0) {
                    rep = "&#xFFFD;";
                    k = 1;
                }
            }
            break;
        }
        if (rep) {
            put(o, s + i - run, run);
            run = 0;
            put(o, rep, strlen(rep));
        } else {
            run += k;
        }
        i += k;
    }
    put(o, s + n - run, run);
}

/* An href: every byte but ALPHA DIGIT - . _ ~ percent-encoded. */
static void put_href(struct fs_out *o, const char *s, size_t n)
{
    static const uint8_t unreserved[256] = {
        ['a' ... 'z'] = 1, ['A' ... 'Z'] = 1, ['0' ... '9'] = 1, ['-'] = 1,
        ['.'] = 1,         ['_'] = 1,         ['~'] = 1,
    };
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved[c]) {
            put(o, s + i, 1);
        } else {
            char esc[3] = {'%', num_hex_upper[c >> 4], num_hex_upper[c & 15]};
            put(o, esc, 3);
        }
    }
}

/* A JSON string's content (RFC 8259 7), U+FFFD for bytes that are not UTF-8. */
static void put_json_text(struct fs_out *o, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            put(o, esc, 2);
            i++;
        } else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', num_hex_upper[c >> 4], num_hex_upper[c & 15]};
            put(o, esc, 6);
            i++;
        } else if (c < 0x80) {
            put(o, s + i, 1);
            i++;
        } else {
            size_t k = utf8_len(p + i, n - i);
            if (k == 0) {
                PUTS(o, "\\ufffd");
                k = 1;
            } else {
                put(o, s + i, k);
            }
            i += k;
        }
    }
}

/* "1023", "1.5K", "12K", "640M", "3.2G": at most one decimal, below ten of the unit. */
static void put_human(struct fs_out *o, uint64_t size)
{
    static const char units[] = "KMGTPE";
    if (size < 1024) {
        put_dec(o, size);
        return;
    }
    unsigned u = 0;
    uint64_t div = 1024;
    while (u + 1 < sizeof(units) - 1 && size / div >= 1024) {
        div *= 1024;
        u++;
    }
    /* tenths of the unit, rounded to nearest (128 bits: size * 10 may not fit in 64) */
    uint64_t tenths = (uint64_t)(((unsigned __int128)size * 10 + div / 2) / div);
    if (tenths < 100) {
        put_dec(o, tenths / 10);
        if (tenths % 10) {
            char d[2] = {'.', (char)('0' + tenths % 10)};
            put(o, d, 2);
        }
    } else {
        put_dec(o, (uint64_t)(((unsigned __int128)size + div / 2) / div));
    }
    put(o, &units[u], 1);
}

/* "02-Jan-2024 10:11", as nginx's listing shows times. */
static void put_html_time(struct fs_out *o, int64_t t, bool local)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    time_t tt = (time_t)t;
    struct tm tm;
    if (!(local ? localtime_r(&tt, &tm) : gmtime_r(&tt, &tm))) {
        return;
    }
    char b[32];
    int n = snprintf(b, sizeof(b), "%02d-%.3s-%04d %02d:%02d", tm.tm_mday,
                     months + 3 * (tm.tm_mon % 12), tm.tm_year + 1900, tm.tm_hour, tm.tm_min);
    if (n > 0) {
        put(o, b, MIN((size_t)n, sizeof(b) - 1));
    }
}

/* A column heading whose link sorts by it (reversed when it is the current ascending key). */
static void put_heading(struct fs_out *o, const struct fs_list_view *v, enum fs_list_sort key,
                        char letter, const char *label, const char *cls)
{
    PUTS(o, "<th");
    put(o, cls, strlen(cls));
    PUTS(o, "><a href=\"?C=");
    put(o, &letter, 1);
    PUTS(o, ";O=");
    put(o, v->sort == key && !v->desc ? "D" : "A", 1);
    PUTS(o, "\">");
    put(o, label, strlen(label));
    PUTS(o, "</a></th>");
}

void fs_listing_html(const struct fs_listing *l, const struct fs_list_view *v, struct fs_out *o)
{
    PUTS(o, "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>Index of ");
    put_html_text(o, v->title.ptr, v->title.len);
    PUTS(o, "</title>\n<style>body{font-family:sans-serif}td,th{padding:0 1.5em 0 0;"
            "text-align:left}.s{text-align:right}</style>\n</head>\n<body>\n<h1>Index of ");
    put_html_text(o, v->title.ptr, v->title.len);
    PUTS(o, "</h1>\n<table>\n<thead><tr>");
    put_heading(o, v, FS_SORT_NAME, 'N', "Name", "");
    put_heading(o, v, FS_SORT_TIME, 'M', "Last modified", "");
    put_heading(o, v, FS_SORT_SIZE, 'S', "Size", " class=\"s\"");
    PUTS(o, "</tr></thead>\n<tbody>\n");
    if (v->parent) {
        PUTS(o, "<tr class=\"parent\"><td><a href=\"../\">../</a></td><td></td>"
                "<td class=\"s\"></td></tr>\n");
    }
    for (size_t i = 0; i < l->n && !o->failed; i++) {
        const struct fs_list_entry *e = &l->v[i];
        const char *name = l->names + e->name_off;
        bool dir = e->kind == FS_LIST_DIR;
        PUTS(o, "<tr><td><a href=\"");
        put_href(o, name, e->name_len);
        if (dir) {
            PUTS(o, "/");
        }
        PUTS(o, "\">");
        put_html_text(o, name, e->name_len);
        if (dir) {
            PUTS(o, "/");
        }
        PUTS(o, "</a></td><td>");
        put_html_time(o, e->mtime, v->localtime);
        PUTS(o, "</td><td class=\"s\">");
        if (e->kind != FS_LIST_FILE) {
            PUTS(o, "-");
        } else if (v->exact_size) {
            put_dec(o, e->size);
        } else {
            put_human(o, e->size);
        }
        PUTS(o, "</td></tr>\n");
    }
    PUTS(o, "</tbody>\n</table>\n</body>\n</html>\n");
}

void fs_listing_json(const struct fs_listing *l, struct fs_out *o)
{
    static const char *const types[] = {"directory", "file", "other"};
    PUTS(o, "[");
    for (size_t i = 0; i < l->n && !o->failed; i++) {
        const struct fs_list_entry *e = &l->v[i];
        if (i) {
            PUTS(o, ",");
        }
        PUTS(o, "\n{ \"name\":\"");
        put_json_text(o, l->names + e->name_off, e->name_len);
        PUTS(o, "\", \"type\":\"");
        put(o, types[e->kind], strlen(types[e->kind]));
        PUTS(o, "\", \"mtime\":\"");
        char d[HTTP_DATE_LEN];
        http_date_format(d, (time_t)e->mtime);
        put(o, d, HTTP_DATE_LEN);
        PUTS(o, "\"");
        if (e->kind == FS_LIST_FILE) {
            PUTS(o, ", \"size\":");
            put_dec(o, e->size);
        }
        PUTS(o, " }");
    }
    PUTS(o, "\n]\n");
}
