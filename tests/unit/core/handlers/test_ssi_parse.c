/*
 * Unit tests for the SSI template parser (core/handlers/ssi_parse.c): text and directives
 * split where they should be, parameters checked per command, values unescaped, the
 * if/elif/else/endif chain linked, and bad directives turned into ERROR nodes in place.
 */
#include "common/unit.h"
#include "core/handlers/ssi_parse.h"

#include <string.h>

static struct ssi_template *parse(const char *s)
{
    struct ssi_template *t = NULL;
    assert_int_equal(ssi_parse(s, strlen(s), &t), 0);
    assert_non_null(t);
    return t;
}

static void assert_slice(struct slice s, const char *want)
{
    assert_int_equal(s.len, strlen(want));
    assert_memory_equal(s.ptr, want, s.len);
}

static void test_text_only(void **state)
{
    (void)state;
    struct ssi_template *t = parse("<html>no directives <!-- a comment --></html>");
    assert_int_equal(t->n, 1);
    assert_int_equal(t->nodes[0].op, SSI_TEXT);
    assert_slice(t->nodes[0].text, "<html>no directives <!-- a comment --></html>");
    assert_int_equal(t->directives, 0);
    ssi_template_free(t);
    t = parse("");
    assert_int_equal(t->n, 0);
    ssi_template_free(t);
}

static void test_echo_include(void **state)
{
    (void)state;
    struct ssi_template *t =
        parse("a<!--#echo var=\"DATE_GMT\" encoding=\"url\" default='none' -->b"
              "<!--# include virtual=\"/x?y=1\" wait=\"yes\" set=\"v\"-->"
              "<!--#include file=\"f.html\"-->c");
    assert_int_equal(t->n, 6);
    assert_int_equal(t->nodes[0].op, SSI_TEXT);
    assert_slice(t->nodes[0].text, "a");
    const struct ssi_node *e = &t->nodes[1];
    assert_int_equal(e->op, SSI_ECHO);
    assert_slice(e->a, "DATE_GMT");
    assert_true(e->has_b);
    assert_slice(e->b, "none");
    assert_int_equal(e->enc, SSI_ENC_URL);
    assert_slice(t->nodes[2].text, "b");
    const struct ssi_node *v = &t->nodes[3];
    assert_int_equal(v->op, SSI_INCLUDE);
    assert_int_equal(v->src, SSI_SRC_VIRTUAL);
    assert_slice(v->a, "/x?y=1");
    assert_true(v->wait);
    assert_slice(v->b, "v");
    assert_int_equal(t->nodes[4].src, SSI_SRC_FILE);
    assert_slice(t->nodes[4].a, "f.html");
    assert_slice(t->nodes[5].text, "c");
    ssi_template_free(t);
}

static void test_values(void **state)
{
    (void)state;
    /* a quote after a backslash stays in the value; "-->" inside quotes does not end it */
    struct ssi_template *t = parse("<!--#set var=\"x\" value=\"say \\\"hi\\\" -->\" -->"
                                   "<!--#config timefmt=\"%Y\" sizefmt=\"abbrev\" "
                                   "errmsg=\"oops\" -->");
    assert_int_equal(t->n, 2);
    assert_int_equal(t->nodes[0].op, SSI_SET);
    assert_slice(t->nodes[0].a, "x");
    assert_slice(t->nodes[0].b, "say \"hi\" -->");
    const struct ssi_node *c = &t->nodes[1];
    assert_int_equal(c->op, SSI_CONFIG);
    assert_true(c->has_a && c->has_b && !c->has_c);
    assert_slice(c->a, "%Y");
    assert_slice(c->b, "oops");
    assert_int_equal(c->sizefmt, SSI_SIZEFMT_ABBREV);
    ssi_template_free(t);
}

/* Each of these is one ERROR node, with the text around it kept. */
static void test_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "<!--#frobnicate var=\"x\" -->",        /* unknown command */
        "<!--#echo -->",                        /* missing var */
        "<!--#echo var=\"a\" var=\"b\" -->",    /* twice */
        "<!--#echo var=\"a\" colour=\"b\" -->", /* unknown parameter */
        "<!--#echo var=\"a\" encoding=\"rot13\" -->",
        "<!--#echo var=noquotes -->",
        "<!--#include -->",
        "<!--#include virtual=\"/a\" file=\"b\" -->",
        "<!--#fsize file=\"a\" wait=\"yes\" -->",
        "<!--#set var=\"x\" -->",
        "<!--#config -->",
        "<!--#config sizefmt=\"huge\" -->",
        "<!--#exec -->",
        "<!--#endif -->",
        "<!--#else -->",
        "<!--# -->",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char doc[256];
        snprintf(doc, sizeof(doc), "A%sB", bad[i]);
        struct ssi_template *t = parse(doc);
        assert_int_equal(t->n, 3);
        assert_slice(t->nodes[0].text, "A");
        if (t->nodes[1].op != SSI_ERROR) {
            fail_msg("not an error: %s", bad[i]);
        }
        assert_true(t->nodes[1].text.len > 0);
        assert_slice(t->nodes[2].text, "B");
        ssi_template_free(t);
    }
    /* never closed: an error, and nothing after it */
    struct ssi_template *t = parse("A<!--#echo var=\"x\" B");
    assert_int_equal(t->n, 2);
    assert_int_equal(t->nodes[1].op, SSI_ERROR);
    ssi_template_free(t);
    t = parse("A<!--#echo var=\"x -->B");
    assert_int_equal(t->n, 2);
    assert_int_equal(t->nodes[1].op, SSI_ERROR);
    ssi_template_free(t);
}

static void test_if_chain(void **state)
{
    (void)state;
    struct ssi_template *t = parse("<!--#if expr=\"$a\" -->1"                   /* 0, 1 */
                                   "<!--#if expr=\"$b = x\" -->2<!--#endif -->" /* 2, 3, 4 */
                                   "<!--#elif expr=\"$c\" -->3"                 /* 5, 6 */
                                   "<!--#else -->4"                             /* 7, 8 */
                                   "<!--#endif -->5");                          /* 9, 10 */
    assert_int_equal(t->n, 11);
    assert_int_equal(t->nodes[0].op, SSI_IF);
    assert_non_null(t->nodes[0].expr);
    assert_int_equal(t->nodes[0].next, 5);
    assert_int_equal(t->nodes[0].end, 9);
    assert_int_equal(t->nodes[2].op, SSI_IF);
    assert_int_equal(t->nodes[2].next, 4);
    assert_int_equal(t->nodes[2].end, 4);
    assert_int_equal(t->nodes[5].op, SSI_ELIF);
    assert_int_equal(t->nodes[5].next, 7);
    assert_int_equal(t->nodes[5].end, 9);
    assert_int_equal(t->nodes[7].op, SSI_ELSE);
    assert_int_equal(t->nodes[7].next, 9);
    assert_int_equal(t->nodes[7].end, 9);
    assert_int_equal(t->nodes[9].op, SSI_ENDIF);
    ssi_template_free(t);

    /* an if never closed: an error where the endif should be, and an end to jump to */
    t = parse("<!--#if expr=\"x\" -->1");
    assert_int_equal(t->n, 4);
    assert_int_equal(t->nodes[2].op, SSI_ERROR);
    assert_int_equal(t->nodes[3].op, SSI_ENDIF);
    assert_int_equal(t->nodes[0].next, 3);
    ssi_template_free(t);

    /* a bad expression: still an if (so its endif matches), without an expression */
    t = parse("<!--#if expr=\"(a\" -->1<!--#endif -->");
    assert_int_equal(t->n, 3);
    assert_int_equal(t->nodes[0].op, SSI_IF);
    assert_null(t->nodes[0].expr);
    assert_int_equal(t->nodes[0].next, 2);
    ssi_template_free(t);

    /* else after else */
    t = parse("<!--#if expr=\"x\" --><!--#else --><!--#else --><!--#endif -->");
    assert_int_equal(t->nodes[2].op, SSI_ERROR);
    assert_int_equal(t->nodes[1].next, 3);
    ssi_template_free(t);
}

/* Deep nesting is bounded, not a stack overflow. */
static void test_deep(void **state)
{
    (void)state;
    size_t n = 200, len = 0;
    char *doc = malloc(n * 40);
    for (size_t i = 0; i < n; i++) {
        len += (size_t)sprintf(doc + len, "<!--#if expr=\"a\" -->");
    }
    struct ssi_template *t = NULL;
    assert_int_equal(ssi_parse(doc, len, &t), 0);
    unsigned errors = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        errors += t->nodes[i].op == SSI_ERROR;
    }
    assert_true(errors > 0);
    ssi_template_free(t);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_only), cmocka_unit_test(test_echo_include),
        cmocka_unit_test(test_values),    cmocka_unit_test(test_errors),
        cmocka_unit_test(test_if_chain),  cmocka_unit_test(test_deep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
