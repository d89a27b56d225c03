/*
 * types.h - what a file is: its Content-Type from the name (an extension table), from
 * its first bytes (libmagic, fs/magic.h) or from configuration, and the settings that
 * decide it (struct fs_typing).
 *
 * A table (struct fs_types) maps lowercased extensions to types: the built-in one (the
 * common web types: fs/mime.c), or one the configuration builds from `types { }` blocks
 * (nginx's format) and `types_file` (Debian's /etc/mime.types format). A typing is
 * everything that decides the type of a file in one location: the table, default_type,
 * charset and the types it applies to, force_type, mime_magic, nosniff, etag. It is
 * read-only once built and carries an id, a hash of its settings: the file cache keys its
 * entries by it (with the root), so two locations that type the same file differently get
 * two entries, and identical settings (in two locations, or before and after a reload)
 * share one. The type is decided when a file enters the cache and stored with it.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

/* The longest type (with its "; charset=..." parameter) a typing produces. */
#define FS_TYPE_MAX 160

struct fs_types;

/* An empty table; NULL when out of memory. */
struct fs_types *fs_types_new(void) MUST_CHECK;
void fs_types_free(struct fs_types *t);

/*
 * Maps ext (without the dot, any case) to type; a later mapping of the same extension
 * replaces the earlier one, as in nginx. 0, or -ENOMEM, or -EINVAL (empty or over-long
 * extension or type).
 */
int fs_types_add(struct fs_types *t, const char *type, const char *ext) MUST_CHECK;

/* Adds every built-in mapping (what a table starts from when no types block is given). */
int fs_types_add_builtin(struct fs_types *t) MUST_CHECK;

/*
 * Reads a file in mime.types format ("type ext1 ext2 ..." per line, '#' comments) into t.
 * 0, or -1 with "FILE:LINE: sentence" (or "FILE: reason") in err.
 */
int fs_types_load_file(struct fs_types *t, const char *path, char *err, size_t errlen) MUST_CHECK;

/* The type of extension ext (no dot), or SLICE_NULL when t has none. t NULL: the built-in. */
struct slice fs_types_find(const struct fs_types *t, struct slice ext);

/* Calls fn for every mapping of t (in no particular order). */
void fs_types_each(const struct fs_types *t,
                   void (*fn)(void *arg, const char *type, const char *ext), void *arg);

/* Adds every mapping of src to t (src's win). 0 or -ENOMEM. */
int fs_types_add_all(struct fs_types *t, const struct fs_types *src) MUST_CHECK;

/* Number of mappings. */
unsigned fs_types_count(const struct fs_types *t);

/* A hash of every mapping (order-independent): part of a typing's id. */
uint64_t fs_types_hash(const struct fs_types *t);

/*
 * The extension of a file name (the text after its last '.', in the last path component),
 * or SLICE_NULL: none, or a leading dot only (".bashrc" is a hidden name, not a type).
 */
struct slice fs_name_ext(struct slice path);

enum fs_magic_mode {
    FS_MAGIC_OFF,     /* the name decides */
    FS_MAGIC_UNKNOWN, /* libmagic for names whose extension the table does not know */
    FS_MAGIC_ALL,     /* libmagic for every file (force_type still wins) */
};

enum fs_etag_mode {
    FS_ETAG_INODE,   /* "inode-size-mtime": free, differs between nodes */
    FS_ETAG_CONTENT, /* XXH3-128 of the bytes: the same on every node (fs/etag_content.h) */
    FS_ETAG_OFF,     /* no ETag */
};

struct fs_typing {
    uint64_t id; /* hash of everything below; 0 is the built-in default typing */
    const struct fs_types *types; /* NULL: the built-in table */
    const char *default_type;     /* for names the table (and libmagic) does not type */
    const char *charset;          /* appended to the charset_types as "; charset=X", or NULL */
    const struct fs_types *charset_types; /* the types (as keys) charset applies to */
    const char *force_type;               /* every file here is this type, or NULL */
    char **force_globs; /* when set: force_type only for base names matching one (fnmatch) */
    unsigned nforce_globs;
    uint8_t magic; /* enum fs_magic_mode */
    uint8_t etag;  /* enum fs_etag_mode */
    bool nosniff;  /* X-Content-Type-Options: nosniff with the type */
};

/* The typing used when none is configured: the built-in table, application/octet-stream. */
extern const struct fs_typing fs_typing_default;

/* Computes t->id from its settings (call once they are all set). */
void fs_typing_seal(struct fs_typing *t);

/*
 * The type of the file at path (its name decides; path may be a whole path), written to
 * out (FS_TYPE_MAX bytes) with the charset applied. Returns its length. *want_magic is
 * set when libmagic should decide instead (then call fs_typing_of_magic with its answer).
 */
size_t fs_typing_of_name(const struct fs_typing *t, struct slice path, char *out,
                         bool *want_magic);

/*
 * The type libmagic gave (magic_type: "image/png", or NULL when it failed or said
 * nothing useful), with the charset applied, in out; falls back to default_type.
 */
size_t fs_typing_of_magic(const struct fs_typing *t, const char *magic_type, char *out);

/* The content coding of a precompressed variant's bytes (precompressed br zstd gzip). */
enum fs_enc { FS_ENC_NONE, FS_ENC_BR, FS_ENC_ZSTD, FS_ENC_GZIP, FS_ENC_COUNT };

/* The Content-Encoding token of enc ("" for none) and the file suffix of its variant. */
const char *fs_enc_name(unsigned enc);
const char *fs_enc_suffix(unsigned enc);
