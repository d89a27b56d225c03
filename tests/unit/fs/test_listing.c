/*
 * Unit tests for fs/listing.c: reading a real directory (hidden files and links out of the
 * root left out, links inside shown as their targets), the entry cap, every sort key and
 * order with directories first, and the escaping of hostile names in HTML and JSON.
 */
#include "common/unit.h"
#include "fs/docroot.h"
#include "fs/listing.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static char base[256];

static void mkfile(const char *rel, size_t size, time_t mtime)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/www/%s", base, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    close(fd);
    struct timeval tv[2] = {{mtime, 0}, {mtime, 0}};
    assert_int_equal(utimes(p, tv), 0);
}

static void mkdir_at(const char *rel, time_t mtime)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/www/%s", base, rel);
    assert_int_equal(mkdir(p, 0755), 0);
    struct timeval tv[2] = {{mtime, 0}, {mtime, 0}};
    assert_int_equal(utimes(p, tv), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(base, sizeof(base), "/tmp/spate-listing-XXXXXX");
    assert_non_null(mkdtemp(base));
    char p[512];
    snprintf(p, sizeof(p), "%s/www", base);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/outside", base);
    assert_int_equal(mkdir(p, 0755), 0);
    mkfile("b.txt", 300, 2000);
    mkfile("a.txt", 5000, 1000);
    mkfile("C.bin", 10, 3000);
    mkfile(".hidden", 1, 1000);
    mkdir_at("zdir", 500);
    mkdir_at("adir", 4000);
    mkfile("<script>alert(1)", 1, 1000);
    mkfile("<img src=x onerror=alert(1)>", 1, 1000);
    mkfile("q\"u'o&te", 1, 1000);
    mkfile("100%.txt", 1, 1000);
    mkfile("new\nline", 1, 1000);
    mkfile("bad\xff\xfe.bin", 1, 1000);
    mkfile("caf\xc3\xa9", 1, 1000);
    mkfile("javascript:x", 1, 1000);
    snprintf(p, sizeof(p), "%s/www/link-in", base);
    assert_int_equal(symlink("a.txt", p), 0);
    snprintf(p, sizeof(p), "%s/www/link-out", base);
    char target[512];
    snprintf(target, sizeof(target), "%s/outside", base);
    assert_int_equal(symlink(target, p), 0);
    snprintf(p, sizeof(p), "%s/www/dangling", base);
    assert_int_equal(symlink("nowhere", p), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
    return system(cmd) == 0 ? 0 : -1;
}

static void read_www(struct fs_listing *l, size_t max, int want_rc)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/www", base);
    struct fs_root root;
    assert_int_equal(fs_root_open(&root, p), 0);
    int fd = fs_open_beneath(&root, "", O_RDONLY | O_DIRECTORY);
    assert_true(fd >= 0);
    fs_listing_init(l);
    assert_int_equal(fs_listing_read(l, fd, &root, "", max), want_rc);
    close(fd);
    fs_root_close(&root);
}

static const char *name_of(const struct fs_listing *l, size_t i, char *buf)
{
    memcpy(buf, l->names + l->v[i].name_off, l->v[i].name_len);
    buf[l->v[i].name_len] = '\0';
    return buf;
}

static size_t index_of(const struct fs_listing *l, const char *name)
{
    char b[300];
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(name_of(l, i, b), name) == 0) {
            return i;
        }
    }
    return (size_t)-1;
}

static void test_read(void **state)
{
    (void)state;
    struct fs_listing l;
    read_www(&l, 1000, 0);
    assert_int_equal(l.n, 14); /* 14 made, minus .hidden, plus link-in (not link-out, dangling) */
    assert_int_equal(index_of(&l, ".hidden"), (size_t)-1);
    assert_int_equal(index_of(&l, "link-out"), (size_t)-1);
    assert_int_equal(index_of(&l, "dangling"), (size_t)-1);
    size_t li = index_of(&l, "link-in");
    assert_true(li != (size_t)-1);
    assert_int_equal(l.v[li].kind, FS_LIST_FILE);
    assert_int_equal(l.v[li].size, 5000); /* the target's facts */
    size_t d = index_of(&l, "adir");
    assert_int_equal(l.v[d].kind, FS_LIST_DIR);
    assert_int_equal(l.v[d].mtime, 4000);
    fs_listing_free(&l);
    read_www(&l, 5, -EFBIG);
    fs_listing_free(&l);
}

static void expect_order(const struct fs_listing *l, const char *const *names, size_t n)
{
    char b[300];
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(name_of(l, i, b), names[i]);
    }
}

static void test_sort(void **state)
{
    (void)state;
    struct fs_listing l;
    read_www(&l, 1000, 0);
    fs_listing_sort(&l, FS_SORT_NAME, false);
    static const char *const by_name[] = {
        "adir",  "zdir",  "100%.txt", "<img src=x onerror=alert(1)>", "<script>alert(1)",
        "C.bin", "a.txt", "b.txt"};
    expect_order(&l, by_name, ARRAY_SIZE(by_name));
    fs_listing_sort(&l, FS_SORT_NAME, true);
    static const char *const by_name_desc[] = {"zdir", "adir"};
    expect_order(&l, by_name_desc, 2);
    char b[300];
    assert_string_equal(name_of(&l, l.n - 1, b), "100%.txt");
    fs_listing_sort(&l, FS_SORT_SIZE, true);
    static const char *const by_size[] = {"adir", "zdir", "a.txt", "link-in", "b.txt", "C.bin"};
    expect_order(&l, by_size, ARRAY_SIZE(by_size));
    fs_listing_sort(&l, FS_SORT_TIME, false);
    static const char *const by_time[] = {"zdir", "adir"};
    expect_order(&l, by_time, 2);
    assert_string_equal(name_of(&l, l.n - 1, b), "C.bin"); /* 3000, the newest file */
    fs_listing_sort(&l, FS_SORT_TIME, true);
    static const char *const by_time_desc[] = {"adir", "zdir", "C.bin", "b.txt"};
    expect_order(&l, by_time_desc, ARRAY_SIZE(by_time_desc));
    fs_listing_free(&l);
}

static char *render_html(const struct fs_listing *l, bool exact)
{
    struct fs_list_view v = {SLICE_LIT("/x<y>/"), true, exact, false, FS_SORT_NAME, false};
    struct fs_out o = {0};
    fs_listing_html(l, &v, &o);
    assert_false(o.failed);
    char *s = strndup(o.p, o.len);
    fs_out_free(&o);
    return s;
}

static void test_html_escaping(void **state)
{
    (void)state;
    struct fs_listing l;
    read_www(&l, 1000, 0);
    fs_listing_sort(&l, FS_SORT_NAME, false);
    char *h = render_html(&l, false);
    assert_null(strstr(h, "<script>"));
    assert_non_null(strstr(h, "<title>Index of /x&lt;y&gt;/</title>"));
    assert_null(strstr(h, "<img"));
    assert_non_null(strstr(h, "href=\"%3Cscript%3Ealert%281%29\">&lt;script&gt;alert(1)</a>"));
    assert_non_null(strstr(h, "href=\"%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E\">"
                              "&lt;img src=x onerror=alert(1)&gt;</a>"));
    assert_non_null(strstr(h, "href=\"q%22u%27o%26te\">q&quot;u&#39;o&amp;te</a>"));
    assert_non_null(strstr(h, "href=\"100%25.txt\">100%.txt</a>"));
    assert_non_null(strstr(h, "href=\"new%0Aline\">new&#xFFFD;line</a>"));
    assert_non_null(strstr(h, "href=\"bad%FF%FE.bin\">bad&#xFFFD;&#xFFFD;.bin</a>"));
    assert_non_null(strstr(h, "href=\"caf%C3%A9\">caf\xc3\xa9</a>"));
    assert_non_null(strstr(h, "href=\"javascript%3Ax\">"));
    assert_non_null(strstr(h, "href=\"adir/\">adir/</a>"));
    assert_non_null(strstr(h, "<a href=\"../\">../</a>"));
    assert_non_null(strstr(h, "<a href=\"?C=N;O=D\">Name</a>")); /* name ascending: offer D */
    assert_non_null(strstr(h, "<a href=\"?C=S;O=A\">Size</a>"));
    /* 5000 bytes in human units; times in UTC as nginx writes them */
    assert_non_null(strstr(h, ">a.txt</a></td><td>01-Jan-1970 00:16</td><td class=\"s\">4.9K<"));
    assert_null(strstr(h, "new\nline")); /* no raw control byte reaches the page */
    free(h);
    h = render_html(&l, true);
    assert_non_null(strstr(h, ">a.txt</a></td><td>01-Jan-1970 00:16</td><td class=\"s\">5000<"));
    assert_non_null(strstr(h, ">adir/</a></td><td>01-Jan-1970 01:06</td><td class=\"s\">-<"));
    free(h);
    fs_listing_free(&l);
}

static void test_json(void **state)
{
    (void)state;
    struct fs_listing l;
    read_www(&l, 1000, 0);
    fs_listing_sort(&l, FS_SORT_NAME, false);
    struct fs_out o = {0};
    fs_listing_json(&l, &o);
    char *j = strndup(o.p, o.len);
    const char *first = "[\n{ \"name\":\"adir\", \"type\":\"directory\", "
                        "\"mtime\":\"Thu, 01 Jan 1970 01:06:40 GMT\" },\n";
    assert_memory_equal(j, first, strlen(first));
    assert_non_null(strstr(j, "{ \"name\":\"a.txt\", \"type\":\"file\", "
                              "\"mtime\":\"Thu, 01 Jan 1970 00:16:40 GMT\", \"size\":5000 }"));
    assert_non_null(strstr(j, "\"name\":\"q\\\"u'o&te\""));
    assert_non_null(strstr(j, "\"name\":\"new\\u000Aline\""));
    assert_non_null(strstr(j, "\"name\":\"bad\\ufffd\\ufffd.bin\""));
    assert_non_null(strstr(j, "\"name\":\"caf\xc3\xa9\""));
    assert_string_equal(j + o.len - 4, "}\n]\n");
    free(j);
    fs_out_free(&o);
    fs_listing_free(&l);
}

static void test_human_sizes(void **state)
{
    (void)state;

    static const struct {
        uint64_t size;
        const char *text;
    } cases[] = {
        {0, "0"},           {1023, "1023"},      {1024, "1K"},
        {1536, "1.5K"},     {10239, "10K"},      {5000, "4.9K"},
        {1048576, "1M"},    {1572864, "1.5M"},   {734003200, "700M"},
        {1073741824, "1G"}, {UINT64_MAX, "16E"},
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char names[] = "f";
        struct fs_list_entry e = {cases[i].size, 0, 0, 1, FS_LIST_FILE};
        struct fs_listing l = {&e, 1, 1, names, 1, 1};
        struct fs_list_view v = {SLICE_LIT("/"), false, false, false, FS_SORT_NAME, false};
        struct fs_out o = {0};
        fs_listing_html(&l, &v, &o);
        char want[64];
        snprintf(want, sizeof(want), "<td class=\"s\">%s</td></tr>", cases[i].text);
        char *h = strndup(o.p, o.len);
        if (!strstr(h, want)) {
            fail_msg("size %llu: wanted %s", (unsigned long long)cases[i].size, cases[i].text);
        }
        free(h);
        fs_out_free(&o);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read),          cmocka_unit_test(test_sort),
        cmocka_unit_test(test_html_escaping), cmocka_unit_test(test_json),
        cmocka_unit_test(test_human_sizes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
