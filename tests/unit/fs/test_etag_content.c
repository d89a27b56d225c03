/* Unit tests for fs/etag_content.c: content ETags of buffers and files, the xattr cache. */
#include "common/unit.h"
#include "fs/etag_content.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define LEN FS_ETAG_CONTENT_LEN

/* xxhsum -H2 of fill(p, 3 * FS_ETAG_CHUNK + 12345, 42), computed once with xxhash 0.8.1 */
#define PINNED_MULTI "0b02640831ba0bcce3fe18c51df5f7ea"

static char dir[64];

/* Pseudo-random bytes that are the same on every run (a 64-bit LCG's top byte). */
static void fill(unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t x = seed;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = (unsigned char)(x >> 56);
    }
}

/* Writes n bytes to dir/name (or to the directory d) and returns it opened read-only. */
static int make_file_in(const char *d, const char *name, const void *p, size_t n)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", d, name);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    const char *s = p;
    for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, s + off, n - off);
        assert_true(w > 0);
        off += (size_t)w;
    }
    close(fd);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    return fd;
}

static int make_file(const char *name, const void *p, size_t n)
{
    return make_file_in(dir, name, p, n);
}

static void remove_file_in(const char *d, const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", d, name);
    unlink(path);
}

static int64_t mtime_of(int fd)
{
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/spate-etag-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Known values: what `xxhsum -H2` prints, so any other XXH3-128 tool agrees with us. */
static void test_known_vectors(void **state)
{
    (void)state;
    char e[LEN + 1] = {0};
    fs_etag_content_of(NULL, 0, e);
    assert_string_equal(e, "\"99aa06d3014798d86001c324468d497f\"");
    fs_etag_content_of("", 0, e);
    assert_string_equal(e, "\"99aa06d3014798d86001c324468d497f\"");
    fs_etag_content_of("abc", 3, e);
    assert_string_equal(e, "\"06b05ab6733a618578af5f94892f3950\"");
    /* only the bytes count: the same bytes elsewhere in memory give the same ETag */
    char copy[8] = "xxabcxx";
    char e2[LEN + 1] = {0};
    fs_etag_content_of(copy + 2, 3, e2);
    assert_string_equal(e, e2);
    fs_etag_content_of("abd", 3, e2);
    assert_string_not_equal(e, e2);
    fs_etag_content_of("abc\0", 4, e2); /* a length change is a change */
    assert_string_not_equal(e, e2);
}

/* Two files with the same bytes, other inodes and other mtimes: one ETag. */
static void test_same_bytes_same_etag(void **state)
{
    (void)state;
    size_t n = 100000;
    unsigned char *p = malloc(n);
    assert_non_null(p);
    fill(p, n, 1);
    int a = make_file("a.bin", p, n);
    int b = make_file("b.bin", p, n);
    struct timespec ts[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000, .tv_nsec = 5}};
    assert_int_equal(futimens(b, ts), 0);
    struct stat sa, sb;
    assert_int_equal(fstat(a, &sa), 0);
    assert_int_equal(fstat(b, &sb), 0);
    assert_int_not_equal(sa.st_ino, sb.st_ino);
    assert_int_not_equal(mtime_of(a), mtime_of(b));

    char ea[LEN + 1] = {0}, eb[LEN + 1] = {0}, ebuf[LEN + 1] = {0};
    assert_int_equal(fs_etag_content_fd(a, n, ea), 0);
    assert_int_equal(fs_etag_content_fd(b, n, eb), 0);
    fs_etag_content_of(p, n, ebuf);
    assert_string_equal(ea, eb);
    assert_string_equal(ea, ebuf);

    /* one byte differs: the ETag differs */
    p[n / 2] ^= 1;
    int c = make_file("c.bin", p, n);
    char ec[LEN + 1] = {0};
    assert_int_equal(fs_etag_content_fd(c, n, ec), 0);
    assert_string_not_equal(ea, ec);
    close(a);
    close(b);
    close(c);
    free(p);
}

/* A file of many chunks, and the lengths around a chunk boundary, hash as their bytes do. */
static void test_fd_equals_buffer(void **state)
{
    (void)state;
    const size_t K = FS_ETAG_CHUNK;
    const size_t sizes[] = {0, 1, K - 1, K, K + 1, 2 * K, 3 * K + 12345};
    size_t max = 3 * K + 12345;
    unsigned char *p = malloc(max);
    assert_non_null(p);
    fill(p, max, 42);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t n = sizes[i];
        int fd = make_file("m.bin", p, n);
        char ef[LEN + 1] = {0}, eb[LEN + 1] = {0};
        assert_int_equal(fs_etag_content_fd(fd, n, ef), 0);
        fs_etag_content_of(p, n, eb);
        assert_string_equal(ef, eb);
        /* the same file out of the page cache takes the other path: the same ETag */
        assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
        memset(ef, 0, sizeof(ef));
        assert_int_equal(fs_etag_content_fd(fd, n, ef), 0);
        assert_string_equal(ef, eb);
        /* pread: the file offset neither matters nor moves */
        assert_int_equal(lseek(fd, 7, SEEK_SET), 7);
        assert_int_equal(fs_etag_content_fd(fd, n, ef), 0);
        assert_string_equal(ef, eb);
        assert_int_equal(lseek(fd, 0, SEEK_CUR), 7);
        close(fd);
    }
    /* pinned: the ETag of a given file does not change between versions or machines */
    int fd = make_file("m.bin", p, max);
    char ef[LEN + 1] = {0};
    assert_int_equal(fs_etag_content_fd(fd, max, ef), 0);
    assert_string_equal(ef, "\"" PINNED_MULTI "\"");
    close(fd);
    free(p);
}

/* A file that is not the length the caller's fstat said: -ESTALE, not a wrong ETag. */
static void test_stale_length(void **state)
{
    (void)state;
    size_t n = 2 * FS_ETAG_CHUNK + 100;
    unsigned char *p = malloc(n);
    assert_non_null(p);
    fill(p, n, 3);
    int fd = make_file("s.bin", p, n);
    char e[LEN + 1] = {0};
    /* truncated under us: shorter than said */
    assert_int_equal(fs_etag_content_fd(fd, n + 1, e), -ESTALE);
    assert_int_equal(fs_etag_content_fd(fd, n + 10 * FS_ETAG_CHUNK, e), -ESTALE);
    /* grown under us: longer than said, at every position relative to a chunk */
    assert_int_equal(fs_etag_content_fd(fd, n - 1, e), -ESTALE);
    assert_int_equal(fs_etag_content_fd(fd, FS_ETAG_CHUNK, e), -ESTALE);
    assert_int_equal(fs_etag_content_fd(fd, FS_ETAG_CHUNK - 1, e), -ESTALE);
    assert_int_equal(fs_etag_content_fd(fd, 0, e), -ESTALE);
    /* cold, the same */
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    assert_int_equal(fs_etag_content_fd(fd, n + 1, e), -ESTALE);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    assert_int_equal(fs_etag_content_fd(fd, n - 1, e), -ESTALE);
    /* out untouched on failure */
    assert_int_equal(e[0], 0);
    /* an empty file said to be empty is fine; said to be longer is not */
    int z = make_file("z.bin", "", 0);
    assert_int_equal(fs_etag_content_fd(z, 1, e), -ESTALE);
    assert_int_equal(fs_etag_content_fd(z, 0, e), 0);
    assert_string_equal(e, "\"99aa06d3014798d86001c324468d497f\"");
    close(z);
    close(fd);
    free(p);
    /* read errors are -errno */
    assert_int_equal(fs_etag_content_fd(-1, 10, e), -EBADF);
    int d = open(dir, O_RDONLY | O_DIRECTORY);
    assert_true(d >= 0);
    assert_int_equal(fs_etag_content_fd(d, 10, e), -EISDIR);
    close(d);
}

/* Resident pages of fd's n bytes; -1 when mincore cannot tell. */
static long resident(int fd, size_t n)
{
    long pg = sysconf(_SC_PAGESIZE);
    size_t pages = (n + (size_t)pg - 1) / (size_t)pg;
    void *m = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        return -1;
    }
    unsigned char *v = malloc(pages);
    long count = -1;
    if (v && mincore(m, n, v) == 0) {
        count = 0;
        for (size_t i = 0; i < pages; i++) {
            count += v[i] & 1;
        }
    }
    free(v);
    munmap(m, n);
    return count;
}

/* Hashing leaves a cold file out of the page cache and a hot one in it. */
static void test_page_cache(void **state)
{
    (void)state;
    size_t n = 4 * FS_ETAG_CHUNK;
    unsigned char *p = malloc(n);
    assert_non_null(p);
    fill(p, n, 9);
    int fd = make_file("pc.bin", p, n);
    free(p);
    fdatasync(fd); /* dirty pages are not dropped */
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    long before = resident(fd, n);
    struct statfs sf;
    /* overlayfs (a container's root) drops the upper file's pages but not those its reads
     * bring in through the lower one, whatever we advise: nothing to observe there */
    bool overlay = fstatfs(fd, &sf) == 0 && sf.f_type == 0x794c7630;
    if (before != 0 || overlay) {
        close(fd);
        skip(); /* this filesystem keeps pages whatever we advise (tmpfs, overlayfs), or mincore
                * fails */
    }
    char e[LEN + 1] = {0};
    assert_int_equal(fs_etag_content_fd(fd, n, e), 0);
    /* Under a loaded CI machine this once found all of the file resident (the probe took it
     * for hot; cause not found, never seen alone): a second cold attempt must then pass, so
     * a real regression (pages never dropped) still fails */
    for (int again = 0; again < 2 && resident(fd, n) != 0; again++) {
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        if (resident(fd, n) == 0) {
            assert_int_equal(fs_etag_content_fd(fd, n, e), 0);
        }
    }
    assert_int_equal(resident(fd, n), 0);

    /* hot: read by someone else first, left in the cache */
    unsigned char *q = malloc(n);
    assert_non_null(q);
    assert_int_equal(pread(fd, q, n, 0), (ssize_t)n);
    free(q);
    long pages = resident(fd, n);
    assert_true(pages > 0);
    assert_int_equal(fs_etag_content_fd(fd, n, e), 0);
    assert_int_equal(resident(fd, n), pages);

    /*
     * Only the first 8 KiB cached, and the caller says the file is 8 KiB long: the probe's
     * read stops short where the cache does, which is not the end of the file. It grew.
     */
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    int warm = open(dir, O_RDONLY | O_DIRECTORY);
    assert_true(warm >= 0);
    int w = openat(warm, "pc.bin", O_RDONLY);
    close(warm);
    assert_true(w >= 0);
    posix_fadvise(w, 0, 0, POSIX_FADV_RANDOM); /* no readahead: exactly the pages read */
    char head[8192];
    assert_int_equal(pread(w, head, sizeof(head), 0), (ssize_t)sizeof(head));
    close(w);
    long pg = sysconf(_SC_PAGESIZE);
    if (resident(fd, n) == (long)sizeof(head) / pg) {
        memset(e, 0, sizeof(e));
        assert_int_equal(fs_etag_content_fd(fd, sizeof(head), e), -ESTALE);
    } else {
        print_message("partial page cache not reproducible here: that case untested\n");
    }
    close(fd);
}

/* The xattr round trip in directory d; false when d has no user attributes. */
static bool xattr_round_trip(const char *d)
{
    int fd = make_file_in(d, "x.bin", "hello", 5);
    int64_t mt = mtime_of(fd);
    char e[LEN + 1] = {0}, got[LEN + 1] = {0};
    fs_etag_content_of("hello", 5, e);

    int rc = fs_etag_xattr_get(fd, 5, mt, got);
    if (rc == -ENOTSUP) {
        close(fd);
        remove_file_in(d, "x.bin");
        return false;
    }
    assert_int_equal(rc, -ENODATA);

    struct stat st0, st1;
    assert_int_equal(fstat(fd, &st0), 0);
    struct timespec pause = {.tv_nsec = 30 * 1000 * 1000}; /* past the coarse clock's tick */
    nanosleep(&pause, NULL);
    /* an O_RDONLY fd is enough: the permission is on the file */
    rc = fs_etag_xattr_set(fd, 5, mt, e);
    assert_int_equal(rc, 0);
    assert_int_equal(fs_etag_xattr_get(fd, 5, mt, got), 0);
    assert_string_equal(got, e);

    /* the documented side effect: ctime moved, mtime did not */
    assert_int_equal(fstat(fd, &st1), 0);
    assert_true(st1.st_ctim.tv_sec != st0.st_ctim.tv_sec ||
                st1.st_ctim.tv_nsec != st0.st_ctim.tv_nsec);
    assert_int_equal(mtime_of(fd), mt);

    /* made for another state of the file: refused */
    assert_int_equal(fs_etag_xattr_get(fd, 6, mt, got), -ESTALE);
    assert_int_equal(fs_etag_xattr_get(fd, 5, mt + 1, got), -ESTALE);
    assert_int_equal(fs_etag_xattr_get(fd, 5, -mt, got), -ESTALE);

    /* the extremes of size and mtime survive the text form */
    assert_int_equal(fs_etag_xattr_set(fd, UINT64_MAX, INT64_MIN, e), 0);
    assert_int_equal(fs_etag_xattr_get(fd, UINT64_MAX, INT64_MIN, got), 0);
    assert_int_equal(fs_etag_xattr_set(fd, 0, INT64_MAX, e), 0);
    assert_int_equal(fs_etag_xattr_get(fd, 0, INT64_MAX, got), 0);
    assert_int_equal(fs_etag_xattr_set(fd, 0, -1, e), 0);
    assert_int_equal(fs_etag_xattr_get(fd, 0, -1, got), 0);
    assert_int_equal(fs_etag_xattr_get(fd, 0, 1, got), -ESTALE);
    assert_string_equal(got, e);

    /* what is stored is the documented format, byte for byte */
    assert_int_equal(fs_etag_xattr_set(fd, 5, 1700000000123456789, e), 0);
    char raw[128] = {0};
    ssize_t n = fgetxattr(fd, FS_ETAG_XATTR, raw, sizeof(raw) - 1);
    assert_true(n > 0);
    char want[128];
    snprintf(want, sizeof(want), "1 5 1700000000123456789 %.32s", e + 1);
    assert_string_equal(raw, want);

    /* malformed values: refused, whatever the size and mtime */
    static const char *const bad[] = {
        "",
        "1",
        "1 5 1700000000123456789",
        "1 5 1700000000123456789 ",
        "2 5 1700000000123456789 0123456789abcdef0123456789abcdef",  /* other version */
        "1 5 1700000000123456789 0123456789abcdef0123456789abcde",   /* 31 hex */
        "1 5 1700000000123456789 0123456789abcdef0123456789abcdef0", /* 33 hex */
        "1 5 1700000000123456789 0123456789ABCDEF0123456789abcdef",  /* uppercase */
        "1 5 1700000000123456789 0123456789abcdeg0123456789abcdef",
        "1 5 1700000000123456789 \"123456789abcdef0123456789abcde\"",
        "1 5 1700000000123456789 0123456789abcdef0123456789abcdef\n",
        "1 5 1700000000123456789 0123456789abcdef0123456789abcdef ",
        "1  5 1700000000123456789 0123456789abcdef0123456789abcdef",
        "1 05 1700000000123456789 0123456789abcdef0123456789abcdef", /* leading zero */
        "1 +5 1700000000123456789 0123456789abcdef0123456789abcdef",
        "1 -5 1700000000123456789 0123456789abcdef0123456789abcdef",
        "1 5 +1700000000123456789 0123456789abcdef0123456789abcdef",
        "1 5 -0 0123456789abcdef0123456789abcdef",
        "1 5 - 0123456789abcdef0123456789abcdef",
        "1 5 1700000000123456789x 0123456789abcdef0123456789abcdef",
        "1 18446744073709551616 0 0123456789abcdef0123456789abcdef", /* > UINT64_MAX */
        "1 5 9223372036854775808 0123456789abcdef0123456789abcdef",  /* > INT64_MAX */
        "1 5 -9223372036854775809 0123456789abcdef0123456789abcdef", /* < INT64_MIN */
        "1\t5 1700000000123456789 0123456789abcdef0123456789abcdef",
        " 1 5 1700000000123456789 0123456789abcdef0123456789abcdef",
        "1 5 1700000000123456789 0123456789abcdef0123456789abcdef\0",
        "1 5 1700000000123456789 0123456789abcdef0123456789abcdef..................",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len = strlen(bad[i]);
        if (i == sizeof(bad) / sizeof(bad[0]) - 2) {
            len++; /* the one with a NUL inside */
        }
        assert_int_equal(fsetxattr(fd, FS_ETAG_XATTR, bad[i], len, 0), 0);
        memset(got, 0, sizeof(got));
        rc = fs_etag_xattr_get(fd, 5, 1700000000123456789, got);
        if (rc != -EINVAL) {
            fail_msg("value %zu \"%s\": %d, not -EINVAL", i, bad[i], rc);
        }
        assert_int_equal(got[0], 0);
    }
    /* a value too long for any version-1 value */
    char big[300];
    memset(big, '1', sizeof(big));
    assert_int_equal(fsetxattr(fd, FS_ETAG_XATTR, big, sizeof(big), 0), 0);
    assert_int_equal(fs_etag_xattr_get(fd, 5, 1700000000123456789, got), -EINVAL);

    /* the good value parses after all the bad ones (nothing above was a parser artefact) */
    const char *good = "1 5 -9223372036854775808 0123456789abcdef0123456789abcdef";
    assert_int_equal(fsetxattr(fd, FS_ETAG_XATTR, good, strlen(good), 0), 0);
    assert_int_equal(fs_etag_xattr_get(fd, 5, INT64_MIN, got), 0);
    assert_string_equal(got, "\"0123456789abcdef0123456789abcdef\"");

    close(fd);
    remove_file_in(d, "x.bin");
    return true;
}

static void test_xattr(void **state)
{
    (void)state;
    const char *const dirs[] = {"/tmp", "/var/tmp"};
    int ran = 0;
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        char d[64];
        snprintf(d, sizeof(d), "%s/spate-etagx-XXXXXX", dirs[i]);
        if (!mkdtemp(d)) {
            continue;
        }
        if (xattr_round_trip(d)) {
            ran++;
        } else {
            print_message("%s: no user extended attributes (ENOTSUP), xattr test skipped there\n",
                          dirs[i]);
        }
        rmdir(d);
    }
    if (!ran) {
        skip();
    }
}

/* What set refuses before any system call, and which errors are expected. */
static void test_xattr_errors(void **state)
{
    (void)state;
    int fd = make_file("ro.bin", "x", 1);
    char e[LEN + 1];
    fs_etag_content_of("x", 1, e);
    char bad[LEN];
    memcpy(bad, e, LEN);
    bad[5] = 'G';
    assert_int_equal(fs_etag_xattr_set(fd, 1, 0, bad), -EINVAL);
    memcpy(bad, e, LEN);
    bad[LEN - 1] = 'x';
    assert_int_equal(fs_etag_xattr_set(fd, 1, 0, bad), -EINVAL);
    memcpy(bad, e, LEN);
    bad[0] = 'W';
    assert_int_equal(fs_etag_xattr_set(fd, 1, 0, bad), -EINVAL);
    assert_int_equal(fs_etag_xattr_set(-1, 1, 0, e), -EBADF);
    assert_int_equal(fs_etag_xattr_get(-1, 1, 0, e), -EBADF);
    if (geteuid() != 0) {
        /* a file the server may only read: the usual, quiet refusal */
        assert_int_equal(fchmod(fd, 0444), 0);
        int rc = fs_etag_xattr_set(fd, 1, 0, e);
        if (rc != -ENOTSUP) {
            assert_int_equal(rc, -EACCES);
        }
    }
    close(fd);

    assert_true(fs_etag_xattr_quiet(-EACCES));
    assert_true(fs_etag_xattr_quiet(-EPERM));
    assert_true(fs_etag_xattr_quiet(-ENOTSUP));
    assert_true(fs_etag_xattr_quiet(-EOPNOTSUPP));
    assert_true(fs_etag_xattr_quiet(-EROFS));
    assert_false(fs_etag_xattr_quiet(-EBADF));
    assert_false(fs_etag_xattr_quiet(-EIO));
    assert_false(fs_etag_xattr_quiet(0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_vectors),
        cmocka_unit_test(test_same_bytes_same_etag),
        cmocka_unit_test(test_fd_equals_buffer),
        cmocka_unit_test(test_stale_length),
        cmocka_unit_test(test_page_cache),
        cmocka_unit_test(test_xattr),
        cmocka_unit_test(test_xattr_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
