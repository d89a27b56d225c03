/*
 * magic.c - libmagic behind one thread-local handle (see magic.h).
 */
#include "fs/magic.h"

#include <errno.h>
#include <pthread.h>
#include <magic.h>
#include <stdbool.h>
#include <string.h>

/*
 * MIME type only (no charset: the typing adds its own), and no parser that a prefix of a
 * file cannot feed or that has a history of bugs: no decompression (a sniff must not
 * inflate a bomb, and a .gz is application/gzip, not what it holds), no ELF section walk,
 * no CDF (OLE2) parse. The text, encoding, JSON, CSV and tar checks stay: text/plain,
 * application/json and text/csv come from them.
 */
#define SNIFF_FLAGS                                                                                \
    (MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_NO_CHECK_ELF | MAGIC_NO_CHECK_CDF)

struct magic_thread {
    magic_t m;
    bool failed; /* the load failed: answer NULL without retrying (a load is ~ms) */
    int err;     /* -errno of that failure */
    char msg[160];
};

static _Thread_local struct magic_thread t_magic;

/*
 * A thread that sniffed and exits without fs_magic_thread_end (the offload helpers, which
 * know nothing of libmagic) closes its handle through this key's destructor.
 */
static pthread_key_t end_key;
static pthread_once_t end_once = PTHREAD_ONCE_INIT;

static void end_at_exit(void *unused)
{
    (void)unused;
    fs_magic_thread_end();
}

static void make_key(void)
{
    (void)pthread_key_create(&end_key, end_at_exit);
}

/*
 * libmagic's limits, lowered from 5.44's (50, 50, 8192, 7 MiB, 64 KiB) to what a sniff of
 * FS_MAGIC_PEEK bytes needs: indirect offsets followed, name/use recursion, bytes a regex
 * scans, bytes read and bytes the text-encoding check looks at. The first two are the
 * values file(1) shipped with before 5.40, which every entry of the database still fits.
 */
static int set_limits(magic_t m)
{
    static const struct {
        int param;
        size_t value;
    } limits[] = {
        {MAGIC_PARAM_INDIR_MAX, 15},
        {MAGIC_PARAM_NAME_MAX, 30},
        {MAGIC_PARAM_REGEX_MAX, FS_MAGIC_PEEK},
        {MAGIC_PARAM_BYTES_MAX, FS_MAGIC_PEEK},
        {MAGIC_PARAM_ENCODING_MAX, FS_MAGIC_PEEK},
    };

    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        if (magic_setparam(m, limits[i].param, &limits[i].value) != 0) {
            return -1;
        }
    }
    return 0;
}

static void fail(struct magic_thread *t, int err, const char *why)
{
    t->failed = true;
    t->err = err > 0 ? -err : -ENOENT;
    if (why == NULL || why[0] == '\0') {
        why = strerror(-t->err);
    }
    size_t n = strlen(why);
    if (n >= sizeof(t->msg)) {
        n = sizeof(t->msg) - 1;
    }
    memcpy(t->msg, why, n);
    t->msg[n] = '\0';
    if (t->m != NULL) {
        magic_close(t->m);
        t->m = NULL;
    }
}

int fs_magic_warm(void)
{
    struct magic_thread *t = &t_magic;
    if (t->m != NULL) {
        return 0;
    }
    if (t->failed) {
        return t->err;
    }
    t->m = magic_open(SNIFF_FLAGS);
    if (t->m == NULL) {
        fail(t, errno, "libmagic: magic_open failed");
        return t->err;
    }
    if (set_limits(t->m) != 0) {
        fail(t, magic_errno(t->m) ? magic_errno(t->m) : EINVAL, magic_error(t->m));
        return t->err;
    }
    pthread_once(&end_once, make_key);
    (void)pthread_setspecific(end_key, t); /* non-NULL: the destructor runs at thread exit */
    /* NULL: the default path, /etc/magic:/usr/share/misc/magic(.mgc), or $MAGIC */
    if (magic_load(t->m, NULL) != 0) {
        int e = magic_errno(t->m);
        fail(t, e ? e : ENOENT, magic_error(t->m));
        return t->err;
    }
    return 0;
}

/* RFC 9110 token characters: what may stand on either side of the '/' of a media type. */
static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/*
 * The answer goes into a Content-Type field as it is: only "token/token" passes, so no
 * database entry can put a space, a ';' or a line break there.
 */
static bool plain_media_type(const char *s)
{
    size_t n = 0, slash = 0, nslash = 0;
    for (; s[n] != '\0'; n++) {
        if (s[n] == '/') {
            slash = n;
            nslash++;
        } else if (!is_tchar((unsigned char)s[n])) {
            return false;
        }
    }
    return nslash == 1 && slash > 0 && slash + 1 < n && n < 128;
}

const char *fs_magic_type(const void *buf, size_t len)
{
    if (len == 0 || buf == NULL) {
        return NULL; /* libmagic would say inode/x-empty: nothing to type */
    }
    if (t_magic.m == NULL && fs_magic_warm() != 0) {
        return NULL;
    }
    if (len > FS_MAGIC_PEEK) {
        len = FS_MAGIC_PEEK; /* BYTES_MAX bounds reads from files, not a buffer given */
    }
    const char *type = magic_buffer(t_magic.m, buf, len);
    if (type == NULL || !plain_media_type(type)) {
        return NULL;
    }
    if (strcmp(type, "application/octet-stream") == 0 || strncmp(type, "inode/", 6) == 0 ||
        strcmp(type, "application/x-empty") == 0) {
        return NULL;
    }
    return type;
}

const char *fs_magic_error(void)
{
    return t_magic.failed ? t_magic.msg : "";
}

void fs_magic_thread_end(void)
{
    if (t_magic.m != NULL) {
        magic_close(t_magic.m);
        (void)pthread_setspecific(end_key, NULL);
    }
    t_magic = (struct magic_thread){0};
}
