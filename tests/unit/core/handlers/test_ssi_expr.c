/*
 * Unit tests for SSI conditions (core/handlers/ssi_expr.c): Apache's and nginx's forms,
 * precedence, regexes, interpolation, and syntax errors refused at compile time.
 */
#include "common/unit.h"
#include "core/handlers/ssi_expr.h"

#include <errno.h>
#include <string.h>

static struct arena_pool pool;
static struct arena arena;

/* a = "hello", b = "hello world", empty = "", n5 = "5"; others undefined */
static bool get(void *arg, struct slice name, struct slice *out)
{
    (void)arg;
    static const char *const vars[][2] = {{"a", "hello"},
                                          {"b", "hello world"},
                                          {"empty", ""},
                                          {"n5", "5"},
                                          {"DOCUMENT_URI", "/x/i.html"}};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        if (name.len == strlen(vars[i][0]) && !memcmp(name.ptr, vars[i][0], name.len)) {
            *out = slice_cstr(vars[i][1]);
            return true;
        }
    }
    return false;
}

static const struct ssi_vars vars = {get, NULL};

static bool eval(const char *text)
{
    char err[160];
    struct ssi_expr *e = ssi_expr_compile(slice_cstr(text), err, sizeof(err));
    if (!e) {
        fail_msg("\"%s\" did not compile: %s", text, err);
    }
    bool r;
    assert_int_equal(ssi_expr_eval(e, &vars, &arena, &r), 0);
    ssi_expr_free(e);
    arena_reset(&arena);
    return r;
}

static void test_forms(void **state)
{
    (void)state;

    static const struct {
        const char *text;
        bool want;
    } cases[] = {
        {"$a", true},
        {"$empty", false},
        {"$undefined", false},
        {"${a}", true},
        {"$a = hello", true},
        {"$a == hello", true},
        {"$a = 'hello'", true},
        {"$a != hello", false},
        {"$b = hello world", true}, /* nginx: the words are one string */
        {"$b = 'hello world'", true},
        {"\"$a\" = hello", false}, /* a double quote is a character here */
        {"$a = /^hel+o$/", true},
        {"$a = /^x/", false},
        {"$a != /^x/", true},
        {"$DOCUMENT_URI = /x/i.html", true}, /* not the regex /x/: a word, compared */
        {"$DOCUMENT_URI = /\\/x\\//", true},
        {"$DOCUMENT_URI = /^\\/y\\//", false},
        {"$a < hellp", true},
        {"$a <= hello", true},
        {"$a > hellp", false},
        {"$a >= hello", true},
        {"$n5 > 10", true}, /* strings, as Apache compares */
        {"!$a", false},
        {"!$empty", true},
        {"$a && $empty", false},
        {"$a || $empty", true},
        {"$empty || $a && $empty", false}, /* && first */
        {"($empty || $a) && $a", true},
        {"!($a = x) && ($b = /world$/)", true},
        {"x${a}y = xhelloy", true},
        {"\\$a = '$a'", false},
        {"'\\$a' = \\$a", true},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (eval(cases[i].text) != cases[i].want) {
            fail_msg("\"%s\" should be %s", cases[i].text, cases[i].want ? "true" : "false");
        }
    }
}

static void test_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {"",      "(a",      "a)", "a &",         "a = ",  "= a",
                                      "a && ", "a = /(/", "!",  "a b = c = d", "'open", "a | b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[160] = "";
        struct ssi_expr *e = ssi_expr_compile(slice_cstr(bad[i]), err, sizeof(err));
        if (e) {
            fail_msg("\"%s\" compiled", bad[i]);
        }
        assert_true(err[0] != '\0');
    }
}

static void test_interp(void **state)
{
    (void)state;
    struct slice out;
    assert_int_equal(ssi_interp(slice_cstr("<$a|${b}|$none|\\$a|$|${x>"), &vars, &arena, 100, &out),
                     0);
    assert_int_equal(out.len, strlen("<hello|hello world||$a|$|${x>"));
    assert_memory_equal(out.ptr, "<hello|hello world||$a|$|${x>", out.len);
    assert_int_equal(ssi_interp(slice_cstr("$b$b"), &vars, &arena, 10, &out), -E2BIG);
    assert_int_equal(ssi_interp(slice_cstr("plain"), &vars, &arena, 10, &out), 0);
    assert_int_equal(out.len, 5);
    arena_reset(&arena);
}

static int setup(void **state)
{
    (void)state;
    arena_pool_init(&pool, 4096, 4);
    arena_init(&arena, &pool, 1 << 20);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    arena_release(&arena);
    arena_pool_destroy(&pool);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_interp),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
