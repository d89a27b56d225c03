/* Unit tests for fs/types.c: extension tables, mime.types files, typings. */
#include "common/unit.h"
#include "core/base/hash.h"
#include "fs/types.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void assert_type(const struct fs_typing *t, const char *path, const char *want)
{
    char out[FS_TYPE_MAX];
    bool magic;
    size_t n = fs_typing_of_name(t, slice_cstr(path), out, &magic);
    if (n != strlen(want) || memcmp(out, want, n) != 0) {
        fail_msg("%s: got \"%.*s\", want \"%s\"", path, (int)n, out, want);
    }
}

static void test_table(void **state)
{
    (void)state;
    struct fs_types *t = fs_types_new();
    assert_non_null(t);
    assert_int_equal(fs_types_add(t, "text/x-foo", "FOO"), 0);
    assert_int_equal(fs_types_add(t, "text/x-bar", "bar"), 0);
    assert_true(slice_eq(fs_types_find(t, SLICE_LIT("foo")), SLICE_LIT("text/x-foo")));
    assert_true(slice_eq(fs_types_find(t, SLICE_LIT("Foo")), SLICE_LIT("text/x-foo")));
    /* a later mapping of an extension wins, as in nginx */
    assert_int_equal(fs_types_add(t, "text/x-baz", "bar"), 0);
    assert_true(slice_eq(fs_types_find(t, SLICE_LIT("BAR")), SLICE_LIT("text/x-baz")));
    assert_int_equal(fs_types_count(t), 2);
    assert_null(fs_types_find(t, SLICE_LIT("html")).ptr);
    assert_int_equal(fs_types_add(t, "text/x", ""), -EINVAL);
    /* growth keeps every mapping */
    char ext[16];
    for (int i = 0; i < 3000; i++) {
        snprintf(ext, sizeof(ext), "e%d", i);
        assert_int_equal(fs_types_add(t, i % 2 ? "a/odd" : "a/even", ext), 0);
    }
    assert_int_equal(fs_types_count(t), 3002);
    assert_true(slice_eq(fs_types_find(t, SLICE_LIT("e2999")), SLICE_LIT("a/odd")));
    assert_true(slice_eq(fs_types_find(t, SLICE_LIT("E0")), SLICE_LIT("a/even")));
    /* the hash does not depend on the order mappings were added in */
    struct fs_types *a = fs_types_new(), *b = fs_types_new();
    assert_int_equal(fs_types_add(a, "x/1", "one"), 0);
    assert_int_equal(fs_types_add(a, "x/2", "two"), 0);
    assert_int_equal(fs_types_add(b, "x/2", "two"), 0);
    assert_int_equal(fs_types_add(b, "x/1", "one"), 0);
    assert_true(fs_types_hash(a) == fs_types_hash(b));
    assert_int_equal(fs_types_add(b, "x/3", "one"), 0);
    assert_true(fs_types_hash(a) != fs_types_hash(b));
    fs_types_free(a);
    fs_types_free(b);
    fs_types_free(t);
    /* the built-in table */
    assert_true(slice_eq(fs_types_find(NULL, SLICE_LIT("CSS")), SLICE_LIT("text/css")));
    assert_null(fs_types_find(NULL, SLICE_LIT("nope")).ptr);
}

static void test_name_ext(void **state)
{
    (void)state;
    assert_true(slice_eq(fs_name_ext(SLICE_LIT("/a/b.tar.gz")), SLICE_LIT("gz")));
    assert_null(fs_name_ext(SLICE_LIT("/a.d/noext")).ptr);
    assert_null(fs_name_ext(SLICE_LIT("/.bashrc")).ptr);
    assert_null(fs_name_ext(SLICE_LIT("/x.")).ptr);
    assert_true(slice_eq(fs_name_ext(SLICE_LIT("/.a.b")), SLICE_LIT("b")));
}

static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/spate-types-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_load_file(void **state)
{
    (void)state;
    char *p = write_tmp("# Debian's format\n"
                        "application/vnd.oasis.opendocument.text\todt\n"
                        "text/plain  txt text conf   # comment\n"
                        "\n"
                        "application/x-nothing\n");
    struct fs_types *t = fs_types_new();
    char err[256] = "";
    assert_int_equal(fs_types_load_file(t, p, err, sizeof(err)), 0);
    assert_int_equal(fs_types_count(t), 4);
    assert_true(slice_eq(fs_types_find(t, SLICE_LIT("ODT")),
                         SLICE_LIT("application/vnd.oasis.opendocument.text")));
    assert_true(slice_eq(fs_types_find(t, SLICE_LIT("conf")), SLICE_LIT("text/plain")));
    fs_types_free(t);
    unlink(p);
    free(p);

    p = write_tmp("text/plain txt\nnot-a-type foo\n");
    t = fs_types_new();
    assert_int_equal(fs_types_load_file(t, p, err, sizeof(err)), -1);
    char want[128];
    snprintf(want, sizeof(want), "%s:2: \"not-a-type\" is not a media type", p);
    assert_non_null(strstr(err, want));
    fs_types_free(t);
    unlink(p);
    free(p);

    t = fs_types_new();
    assert_int_equal(fs_types_load_file(t, "/nonexistent/mime.types", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/mime.types: No such file"));
    fs_types_free(t);

    /* Debian's own file, where the media-types package is there */
    if (access("/etc/mime.types", R_OK) == 0) {
        t = fs_types_new();
        assert_int_equal(fs_types_load_file(t, "/etc/mime.types", err, sizeof(err)), 0);
        assert_true(fs_types_count(t) > 1000);
        assert_true(slice_eq(fs_types_find(t, SLICE_LIT("html")), SLICE_LIT("text/html")));
        fs_types_free(t);
    }
}

static void test_typing(void **state)
{
    (void)state;
    assert_type(NULL, "/a.html", "text/html");
    assert_type(NULL, "/a.nope", "application/octet-stream");

    struct fs_types *tab = fs_types_new(), *cs = fs_types_new();
    assert_int_equal(fs_types_add(tab, "text/html", "html"), 0);
    assert_int_equal(fs_types_add(tab, "image/png", "png"), 0);
    assert_int_equal(fs_types_add(tab, "text/x-params; a=b", "par"), 0);
    assert_int_equal(fs_types_add(cs, "1", "text/html"), 0);
    assert_int_equal(fs_types_add(cs, "1", "text/x-params; a=b"), 0);
    struct fs_typing t = {.types = tab, .default_type = "text/plain", .charset = "utf-8",
                          .charset_types = cs};
    fs_typing_seal(&t);
    assert_type(&t, "/a.HTML", "text/html; charset=utf-8");
    assert_type(&t, "/a.png", "image/png");
    assert_type(&t, "/a.css", "text/plain"); /* not in this table: default_type */
    assert_type(&t, "/a.par", "text/x-params; a=b"); /* has parameters: kept as it is */
    /* a language variant named type-first is typed by the extension before the language */
    assert_type(&t, "/doc.html.en", "text/html; charset=utf-8");
    assert_type(&t, "/doc.html.pt-br", "text/html; charset=utf-8");
    assert_type(&t, "/doc.html.bak", "text/plain"); /* not a language: not typed as html */
    assert_type(&t, "/doc.html.english", "text/plain");

    /* force_type, for all files or for the base names a glob matches */
    char *globs[] = {"*.log", "README*"};
    struct fs_typing f = t;
    f.force_type = "text/x-forced";
    fs_typing_seal(&f);
    assert_type(&f, "/x/a.png", "text/x-forced");
    f.force_globs = globs;
    f.nforce_globs = 2;
    fs_typing_seal(&f);
    assert_type(&f, "/x/a.png", "image/png");
    assert_type(&f, "/x/y.log", "text/x-forced");
    assert_type(&f, "/x.log/README.md", "text/x-forced");
    assert_type(&f, "/x.log/z", "text/plain");

    /* magic: asked for unknown names (on) or all (all); force_type wins over it */
    char out[FS_TYPE_MAX];
    bool magic;
    struct fs_typing m = t;
    m.magic = FS_MAGIC_UNKNOWN;
    fs_typing_seal(&m);
    fs_typing_of_name(&m, SLICE_LIT("/a.png"), out, &magic);
    assert_false(magic);
    fs_typing_of_name(&m, SLICE_LIT("/blob"), out, &magic);
    assert_true(magic);
    m.magic = FS_MAGIC_ALL;
    fs_typing_of_name(&m, SLICE_LIT("/a.png"), out, &magic);
    assert_true(magic);
    m.force_type = "a/b";
    fs_typing_of_name(&m, SLICE_LIT("/a.png"), out, &magic);
    assert_false(magic);
    size_t n = fs_typing_of_magic(&t, "text/html", out);
    assert_memory_equal(out, "text/html; charset=utf-8", n);
    n = fs_typing_of_magic(&t, NULL, out);
    assert_memory_equal(out, "text/plain", n);

    /* the id: equal settings share it, any difference changes it */
    struct fs_typing t2 = t;
    fs_typing_seal(&t2);
    assert_true(t.id == t2.id && t.id != 0);
    t2.nosniff = true;
    fs_typing_seal(&t2);
    assert_true(t.id != t2.id);
    t2 = t;
    t2.default_type = "text/x-other";
    fs_typing_seal(&t2);
    assert_true(t.id != t2.id);
    t2 = t;
    t2.etag = FS_ETAG_CONTENT;
    fs_typing_seal(&t2);
    assert_true(t.id != t2.id);
    fs_types_free(tab);
    fs_types_free(cs);
}

static void test_codings(void **state)
{
    (void)state;
    assert_string_equal(fs_enc_name(FS_ENC_BR), "br");
    assert_string_equal(fs_enc_suffix(FS_ENC_ZSTD), ".zst");
    assert_string_equal(fs_enc_name(FS_ENC_GZIP), "gzip");
    assert_string_equal(fs_enc_suffix(FS_ENC_NONE), "");
    assert_string_equal(fs_enc_name(99), "");
}

int main(void)
{
    hash_set_seed(42);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),     cmocka_unit_test(test_name_ext),
        cmocka_unit_test(test_load_file), cmocka_unit_test(test_typing),
        cmocka_unit_test(test_codings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
