/*
 * listing.h - a directory's entries: read, sorted, and rendered as HTML or JSON (autoindex).
 *
 * fs_listing_read makes blocking system calls (getdents64, a stat per entry): it is meant
 * for a helper thread (core/io/offload.h), never a worker. Sorting and rendering are pure.
 * A listing holds names in one growing block and entries in one array (24 bytes each plus
 * the name): 100,000 entries take about 4 MB, and every step is O(n log n) at most.
 *
 * What a listing shows: every entry whose name does not start with '.' (hidden files, and
 * "." and ".."). A symbolic link is shown as what it points to, resolved beneath the
 * document root (RESOLVE_BENEATH, as a request for it would be): one that leads outside the
 * root, or nowhere, is left out, since following it could only fail.
 *
 * Rendering escapes every name for where it goes: in an href, every byte but the unreserved
 * ones (RFC 3986 2.3) is percent-encoded, so a name can never end the attribute, start a
 * scheme ("javascript:") or a query; in text, & < > " ' are entities and control bytes and
 * bytes that are not UTF-8 show as U+FFFD; in JSON, the string escapes of RFC 8259, with
 * bytes that are not UTF-8 as \ufffd. Thread-safe: no shared state.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "fs/docroot.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fs_list_kind { FS_LIST_DIR, FS_LIST_FILE, FS_LIST_OTHER };

enum fs_list_sort { FS_SORT_NAME, FS_SORT_TIME, FS_SORT_SIZE };

struct fs_list_entry {
    uint64_t size;
    int64_t mtime;     /* seconds since the epoch */
    uint32_t name_off; /* in names */
    uint16_t name_len;
    uint8_t kind; /* enum fs_list_kind */
};

struct fs_listing {
    struct fs_list_entry *v;
    size_t n, cap;
    char *names;
    size_t names_len, names_cap;
};

/* How a listing is rendered. */
struct fs_list_view {
    struct slice title; /* the directory's URI path, decoded ("/a/b/"), escaped on output */
    bool parent;        /* a link to "../" first */
    bool exact_size;    /* HTML: sizes in bytes, not human units (1.5K, 12M) */
    bool localtime;     /* HTML: times in the local time zone, not UTC */
    uint8_t sort;       /* enum fs_list_sort: what the column links offer to reverse */
    bool desc;
};

void fs_listing_init(struct fs_listing *l);
void fs_listing_free(struct fs_listing *l);

/*
 * Reads the directory dirfd (open O_RDONLY | O_DIRECTORY; the caller closes it), which is
 * rel beneath root ("a/b/" or "" for the root itself; used to resolve symbolic links).
 * Blocking. 0, -EFBIG when it holds more than max entries, -ENOMEM, or getdents64's -errno.
 */
int fs_listing_read(struct fs_listing *l, int dirfd, const struct fs_root *root, const char *rel,
                    size_t max) MUST_CHECK;

/* Directories first, then by key (ties by name), ascending or descending. */
void fs_listing_sort(struct fs_listing *l, enum fs_list_sort key, bool desc);

/* A growing output buffer; failed is set once memory ran out (len is then meaningless). */
struct fs_out {
    char *p;
    size_t len, cap;
    bool failed;
};

void fs_out_free(struct fs_out *o);

/* The listing as an HTML page (UTF-8), in the listing's order. */
void fs_listing_html(const struct fs_listing *l, const struct fs_list_view *v, struct fs_out *o);

/*
 * The listing as nginx's autoindex JSON: [{ "name":"..", "type":"directory"|"file"|"other",
 * "mtime":"IMF-fixdate", "size":N (files only) }, ...], in the listing's order.
 */
void fs_listing_json(const struct fs_listing *l, struct fs_out *o);
