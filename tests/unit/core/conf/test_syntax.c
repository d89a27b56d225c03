/*
 * The configuration syntax (core/conf): location forms and nginx's nesting rules, module
 * blocks (CONF_BLOCK), the tokenizer's quoting, inheritance into nested locations, and the
 * --print-config round trip of all of them. Over a test-only module, so that only the
 * engine is under test.
 */
#include "common/unit.h"
#include "core/base/alloc.h"
#include "core/conf/conf.h"
#include "core/conf/print.h"
#include "core/conf/types.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- a test-only module */

/* `pool NAME { target URL; ... policy round_robin|least_recent; }`, repeatable. */
struct pool {
    char *name;
    char *targets[8];
    int target_lines[8];
    const char *target_files[8];
    unsigned ntargets;
    unsigned policy; /* 0: round_robin, 1: least_recent */
    bool has_policy;
};

struct pools {
    struct pool v[4];
    unsigned n;
};

struct t_main {
    struct pools pools;
};

struct t_loc {
    char *tag;
    struct conf_words words;
};

static const char *const policies[] = {"round_robin", "least_recent"};

static int pool_parse(struct conf_parse *p, const struct conf_row *r, void *field, char **args,
                      unsigned nargs)
{
    (void)r;
    (void)nargs;
    struct pools *ps = field;
    if (ps->n == ARRAY_SIZE(ps->v)) {
        return conf_error(p, "too many pools");
    }
    struct pool *pl = &ps->v[ps->n++];
    memset(pl, 0, sizeof(*pl));
    return (pl->name = conf_strdup(p, args[0])) ? 0 : -1;
}

static int pool_inner(struct conf_parse *p, const struct conf_row *r, void *field, char **args,
                      unsigned nargs)
{
    (void)r;
    struct pools *ps = field;
    struct pool *pl = &ps->v[ps->n - 1];
    if (strcmp(args[0], "target") == 0 && nargs == 2 && pl->ntargets < ARRAY_SIZE(pl->targets)) {
        pl->target_lines[pl->ntargets] = p->line;
        pl->target_files[pl->ntargets] = p->file;
        return (pl->targets[pl->ntargets++] = conf_strdup(p, args[1])) ? 0 : -1;
    }
    if (strcmp(args[0], "policy") == 0 && nargs == 2) {
        for (unsigned i = 0; i < ARRAY_SIZE(policies); i++) {
            if (strcmp(args[1], policies[i]) == 0) {
                pl->policy = i;
                pl->has_policy = true;
                return 0;
            }
        }
        return conf_error(p, "unknown pool policy \"%s\"", args[1]);
    }
    return conf_error(p, "unknown directive \"%s\" in pool \"%s\"", args[0], pl->name);
}

static void pool_print(struct conf_out *o, const struct conf_row *r, const void *field)
{
    const struct pools *ps = field;
    for (unsigned i = 0; i < ps->n; i++) {
        const struct pool *pl = &ps->v[i];
        conf_out_begin(o, r->name);
        conf_out_arg(o, pl->name);
        conf_out_open(o);
        for (unsigned k = 0; k < pl->ntargets; k++) {
            conf_out_begin(o, "target");
            conf_out_arg(o, pl->targets[k]);
            conf_out_end(o);
        }
        if (pl->has_policy) {
            conf_out_begin(o, "policy");
            conf_out_arg(o, policies[pl->policy]);
            conf_out_end(o);
        }
        conf_out_close(o);
    }
}

static void pool_release(void *field)
{
    struct pools *ps = field;
    for (unsigned i = 0; i < ps->n; i++) {
        sp_free(ps->v[i].name);
        for (unsigned k = 0; k < ps->v[i].ntargets; k++) {
            sp_free(ps->v[i].targets[k]);
        }
    }
    ps->n = 0;
}

static const struct conf_type pool_type = {"pool",     sizeof(struct pools), pool_parse,
                                           pool_print, pool_release,         pool_inner};

#define ALL (CONF_MAIN | CONF_SERVER | CONF_LOCATION)

static const struct conf_row t_rows[] = {
    {"tag", ALL, CONF_STORE_LOC, 1, 1, 0, &conf_str, offsetof(struct t_loc, tag), NULL, 0, 0, "x",
     NULL},
    {"words", ALL, CONF_STORE_LOC, 1, 8, CONF_MULTI, &conf_words, offsetof(struct t_loc, words),
     NULL, 0, 0, "a b", NULL},
    {"pool", CONF_MAIN, CONF_STORE_MAIN, 1, 1, CONF_MULTI | CONF_BLOCK, &pool_type,
     offsetof(struct t_main, pools), NULL, 0, 0, "p { target u; }", NULL},
};

static const struct conf_module t_module = {
    .name = "t",
    .rows = t_rows,
    .nrows = ARRAY_SIZE(t_rows),
    .size = {[CONF_STORE_MAIN] = sizeof(struct t_main), [CONF_STORE_LOC] = sizeof(struct t_loc)},
};

static const struct conf_module *const modules[] = {&t_module};

/* ---------------------------------------------------------------- helpers */

static int load(struct conf *c, const char *text, char *err, size_t errlen)
{
    assert_int_equal(conf_init(c, modules, ARRAY_SIZE(modules)), 0);
    return conf_load_string(c, "t.conf", text, err, errlen);
}

static void load_ok(struct conf *c, const char *text)
{
    char err[CONF_ERR_MAX];
    if (load(c, text, err, sizeof(err)) != 0 || conf_finish(c, err, sizeof(err)) != 0) {
        fail_msg("%s\n--- in\n%s", err, text);
    }
}

/* The printed configuration, without its first line (it names the source). */
static char *print(const struct conf *c)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    conf_print(c, f);
    fclose(f);
    char *nl = strchr(out, '\n');
    memmove(out, nl + 1, strlen(nl + 1) + 1);
    return out;
}

/* text prints as want, and want parses and prints as itself. */
static void round_trip(const char *text, const char *want)
{
    struct conf c;
    load_ok(&c, text);
    char *once = print(&c);
    conf_free(&c);
    if (want && strcmp(once, want) != 0) {
        fail_msg("printed:\n%s\n--- want\n%s", once, want);
    }
    load_ok(&c, once);
    char *twice = print(&c);
    conf_free(&c);
    if (strcmp(once, twice) != 0) {
        fail_msg("the printed configuration does not print the same:\n%s\n--- then\n%s", once,
                 twice);
    }
    free(once);
    free(twice);
}

struct bad {
    const char *text;
    const char *msg; /* a substring of the error */
};

static void expect_errors(const struct bad *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct conf c;
        char err[CONF_ERR_MAX] = "";
        int rc = load(&c, cases[i].text, err, sizeof(err));
        if (rc == 0 || !strstr(err, cases[i].msg) || strchr(err, '\n')) {
            fail_msg("case %zu (%s): rc=%d err=\"%s\", want \"%s\"", i, cases[i].text, rc, err,
                     cases[i].msg);
        }
        conf_free(&c);
    }
}

static const struct t_loc *loc(const struct conf_block *b)
{
    return conf_get(b, 0, CONF_STORE_LOC);
}

/* ---------------------------------------------------------------- locations */

static void test_location_forms(void **state)
{
    (void)state;

    static const struct {
        const char *decl;
        enum conf_loc_kind kind;
        const char *mod, *text;
    } forms[] = {
        {"location /a/", CONF_LOC_PREFIX, "", "/a/"},
        {"location = /x", CONF_LOC_EXACT, "=", "/x"},
        {"location =/x", CONF_LOC_EXACT, "=", "/x"},
        {"location ^~ /img/", CONF_LOC_PREFIX_NOREGEX, "^~", "/img/"},
        {"location ^~/a", CONF_LOC_PREFIX_NOREGEX, "^~", "/a"},
        {"location ~ \\.php$", CONF_LOC_REGEX, "~", "\\.php$"},
        {"location ~^/re/(\\d+)$", CONF_LOC_REGEX, "~", "^/re/(\\d+)$"},
        {"location ~* \\.(png|jpe?g)$", CONF_LOC_REGEX_CASELESS, "~*", "\\.(png|jpe?g)$"},
        {"location ~*\\.png$", CONF_LOC_REGEX_CASELESS, "~*", "\\.png$"},
        {"location ~ \"^/a\\d{2}$\"", CONF_LOC_REGEX, "~", "^/a\\d{2}$"},
        {"location ~ '^/b c#d$'", CONF_LOC_REGEX, "~", "^/b c#d$"},
        {"location @fallback", CONF_LOC_NAMED, "@", "@fallback"},
        {"location /", CONF_LOC_PREFIX, "", "/"},
    };

    for (size_t i = 0; i < ARRAY_SIZE(forms); i++) {
        char text[256];
        snprintf(text, sizeof(text), "server {\n  %s {\n  }\n}\n", forms[i].decl);
        struct conf c;
        load_ok(&c, text);
        const struct conf_block *l = c.main->children->children;
        assert_non_null(l);
        assert_int_equal(l->kind, CONF_LOCATION);
        assert_int_equal(l->nargs, 2);
        assert_int_equal(l->loc_kind, forms[i].kind);
        assert_string_equal(l->args[0], forms[i].mod);
        assert_string_equal(l->args[1], forms[i].text);
        assert_int_equal(l->where.line, 2);
        conf_free(&c);
    }
}

static const struct bad location_errors[] = {
    {"server { location x { } }", "t.conf:1: location prefix \"x\" must start with '/'"},
    {"server { location \\.php$ { } }", "must start with '/' (a regular expression takes ~"},
    {"server { location = x { } }", "exact location \"x\" must start with '/'"},
    {"server { location =x { } }", "exact location \"x\" must start with '/'"},
    {"server { location = { } }", "exact location \"\" must start with '/'"},
    {"server { location ^~ a { } }", "location prefix \"a\" must start with '/'"},
    {"server { location ~ \"\" { } }", "location \"~\" has an empty regular expression"},
    {"server { location ~* { } }", "empty regular expression"},
    {"server { location @ { } }", "named location \"@\" has no name"},
    {"server { location == /x { } }", "invalid location modifier \"==\""},
    {"server { location @ x { } }", "invalid location modifier \"@\""},
    {"server { location = /x y { } }", "invalid number of arguments in \"location\" directive"},
    {"server { location { } }", "invalid number of arguments in \"location\" directive"},
    {"server { location /a; }", "\"location\" needs a { } block"},
    {"server {\n location /a {\n  location @x { }\n }\n}",
     "t.conf:3: named location \"@x\" can be on the server level only"},
    {"server { location = /a { location /a/b { } } }",
     "location \"/a/b\" cannot be inside the exact location \"/a\""},
    {"server { location = /a { location ~ x { } } }",
     "location \"x\" cannot be inside the exact location \"/a\""},
    {"server { location @n { location /x { } } }",
     "location \"/x\" cannot be inside the named location \"@n\""},
    {"server { location /a { location /b { } } }", "location \"/b\" is outside location \"/a\""},
    {"server { location /a/ { location /a { } } }", "location \"/a\" is outside location \"/a/\""},
    {"server { location /a { location = /b { } } }", "location \"/b\" is outside location \"/a\""},
    {"server { location ~ ^/a { location /a { } } }",
     "location \"/a\" is outside location \"^/a\""},
    {"server { location /a { location /a/b { location /a/c { } } } }",
     "location \"/a/c\" is outside location \"/a/b\""},
    {"server {\nlocation /a { }\nlocation /a { }\n}",
     "t.conf:3: duplicate location \"/a\" (first at line 2)"},
    {"server { location /a { } location ^~ /a { } }", "duplicate location \"/a\""},
    {"server { location = /a { } location =/a { } }", "duplicate location \"/a\""},
    {"server { location ~ x { } location ~ x { } }", "duplicate location \"x\""},
    {"server { location @n { } location @n { } }", "duplicate location \"@n\""},
    {"server { location /a { location /a/x { } location /a/x { } } }",
     "duplicate location \"/a/x\""},
    {"location / { }", "t.conf:1: \"location\" directive is not allowed in the main context"},
    {"server { location /a { server { } } }",
     "\"server\" directive is not allowed in the location context"},
    {"server { server { } }", "\"server\" directive is not allowed in the server context"},
    {"server { location /a { } ", "unexpected end of file, expecting \"}\""},
};

static void test_location_errors(void **state)
{
    (void)state;
    expect_errors(location_errors, ARRAY_SIZE(location_errors));
}

static void test_location_nesting(void **state)
{
    (void)state;
    struct conf c;
    load_ok(&c, "server {\n"
                "  location /a {\n"
                "    location /a/b { location ~ x { location ~* y { } } }\n"
                "    location = /a/c { }\n"
                "    location ^~ /a/d { }\n"
                "    location ~ \\.png$ { location ~ x2 { } }\n"
                "    location /a { }\n"
                "  }\n"
                "  location = /a { }\n" /* an exact and a prefix of the same text */
                "  location ~ x { }\n"  /* the same text in another parent */
                "  location ~* x { }\n" /* and of another kind */
                "  location @x { }\n"
                "}\n");
    const struct conf_block *s = c.main->children;
    assert_int_equal(s->nchildren, 5);
    const struct conf_block *a = s->children;
    assert_int_equal(a->nchildren, 5);
    const struct conf_block *ab = a->children;
    assert_string_equal(ab->args[1], "/a/b");
    assert_int_equal(ab->children->loc_kind, CONF_LOC_REGEX);
    assert_int_equal(ab->children->children->loc_kind, CONF_LOC_REGEX_CASELESS);
    assert_ptr_equal(ab->children->children->parent->parent->parent, a);
    const struct conf_block *png = ab->next->next->next;
    assert_string_equal(png->args[1], "\\.png$");
    assert_string_equal(png->children->args[1], "x2");
    conf_free(&c);
    /* a prefix inside a regex location: nginx checks it against the regex's text */
    char err[CONF_ERR_MAX];
    assert_int_equal(
        load(&c, "server { location ~ \\.png$ { location /a/png { } } }", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "is outside location \"\\.png$\""));
    conf_free(&c);
}

/* LOC rows flow main -> server -> location -> nested location; a block's own value wins. */
static void test_inheritance(void **state)
{
    (void)state;
    struct conf c;
    load_ok(&c, "tag m;\n"
                "server {\n"
                "  tag s;\n"
                "  location /a {\n"
                "    location /a/b {\n"
                "      location /a/b/c { tag c; location /a/b/c/d { } }\n"
                "    }\n"
                "  }\n"
                "  location /x { tag x; location /x/y { } }\n"
                "}\n"
                "server { location / { location /z { } } }\n");
    const struct conf_block *s1 = c.main->children, *s2 = s1->next;
    const struct conf_block *a = s1->children, *ab = a->children, *abc = ab->children;
    assert_string_equal(loc(s1)->tag, "s");
    assert_string_equal(loc(a)->tag, "s");
    assert_string_equal(loc(ab)->tag, "s");
    assert_string_equal(loc(abc)->tag, "c");
    assert_string_equal(loc(abc->children)->tag, "c");
    assert_string_equal(loc(a->next)->tag, "x");
    assert_string_equal(loc(a->next->children)->tag, "x");
    assert_string_equal(loc(s2)->tag, "m");
    assert_string_equal(loc(s2->children->children)->tag, "m");
    /* shared, not copied: only the block that set it owns it */
    assert_ptr_equal(loc(abc->children)->tag, loc(abc)->tag);
    conf_free(&c);
}

static void test_location_print(void **state)
{
    (void)state;
    round_trip("server {\n"
               "location =/x { tag 1; }\n"
               "location ^~/a { location ~*\\.png$ { tag p; } location /a/b { } }\n"
               "location ~ \"^/a\\d{2}$\" { }\n"
               "location ~ '^/b c' { }\n"
               "location @fallback { tag f; }\n"
               "location / { }\n"
               "}\n",
               "\n"
               "server {\n"
               "\n"
               "    location = /x {\n"
               "        tag 1;\n"
               "    }\n"
               "\n"
               "    location ^~ /a {\n"
               "\n"
               "        location ~* \\.png$ {\n"
               "            tag p;\n"
               "        }\n"
               "\n"
               "        location /a/b {\n"
               "        }\n"
               "    }\n"
               "\n"
               "    location ~ \"^/a\\d{2}$\" {\n"
               "    }\n"
               "\n"
               "    location ~ \"^/b c\" {\n"
               "    }\n"
               "\n"
               "    location @fallback {\n"
               "        tag f;\n"
               "    }\n"
               "\n"
               "    location / {\n"
               "    }\n"
               "}\n");
}

/* ---------------------------------------------------------------- module blocks */

static void test_module_block(void **state)
{
    (void)state;
    struct conf c;
    load_ok(&c, "pool a {\n"
                "  target http://x/;\n"
                "  target 'http://y/ z';\n"
                "  policy least_recent;\n"
                "}\n"
                "pool b { }\n"
                "server { }\n");
    const struct t_main *m = conf_main(&c, 0);
    assert_int_equal(m->pools.n, 2);
    assert_string_equal(m->pools.v[0].name, "a");
    assert_int_equal(m->pools.v[0].ntargets, 2);
    assert_string_equal(m->pools.v[0].targets[1], "http://y/ z");
    assert_int_equal(m->pools.v[0].target_lines[0], 2); /* p->line per inner line */
    assert_int_equal(m->pools.v[0].target_lines[1], 3);
    assert_int_equal(m->pools.v[0].policy, 1);
    assert_int_equal(m->pools.v[1].ntargets, 0);
    assert_int_equal(conf_where_of(c.main, 0, 2).line, 6);
    /* a block row cannot come from the command line */
    char err[CONF_ERR_MAX];
    const char *args[] = {"c"};
    assert_int_equal(conf_set(&c, c.main, "--pool", "pool", args, 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "cannot be set here"));
    conf_free(&c);

    round_trip("pool a { target http://x/; target 'y z'; policy round_robin; }\npool b {}\n",
               "pool a {\n"
               "    target http://x/;\n"
               "    target \"y z\";\n"
               "    policy round_robin;\n"
               "}\n"
               "pool b {\n"
               "}\n");
}

static const struct bad block_errors[] = {
    {"pool a;", "t.conf:1: \"pool\" needs a { } block"},
    {"pool { }", "invalid number of arguments in \"pool\" directive"},
    {"pool a b { }", "invalid number of arguments in \"pool\" directive"},
    {"pool a {\n target x {\n }\n}", "t.conf:2: \"target\" cannot open a block inside \"pool\""},
    {"pool a {\n target x;\n bogus 1;\n}", "t.conf:3: unknown directive \"bogus\" in pool \"a\""},
    {"pool a {\n policy fastest;\n}", "t.conf:2: unknown pool policy \"fastest\""},
    {"pool a {\n target x;", "unexpected end of file, expecting \"}\""},
    {"pool a { target x }", "unexpected \"}\", expecting \";\" after \"target\""},
    {"server { pool a { } }", "\"pool\" directive is not allowed in the server context"},
    {"tag x { }", "\"tag\" takes no block"},
};

static void test_module_block_errors(void **state)
{
    (void)state;
    expect_errors(block_errors, ARRAY_SIZE(block_errors));
}

/* An include inside a module block gives the block more lines, named by their own file. */
static void test_module_block_include(void **state)
{
    (void)state;
    char dir[] = "/tmp/spate-block-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], text[512];
    snprintf(path, sizeof(path), "%s/targets", dir);
    FILE *f = fopen(path, "w");
    fputs("# more\ntarget http://z/;\n", f);
    fclose(f);
    snprintf(text, sizeof(text), "pool a {\n  target http://x/;\n  include %s;\n}\n", path);
    struct conf c;
    load_ok(&c, text);
    const struct pool *pl = &((const struct t_main *)conf_main(&c, 0))->pools.v[0];
    assert_int_equal(pl->ntargets, 2);
    assert_string_equal(pl->targets[1], "http://z/");
    assert_int_equal(pl->target_lines[1], 2);
    assert_string_equal(pl->target_files[1], path);
    assert_string_equal(pl->target_files[0], "t.conf");
    conf_free(&c);
    unlink(path);
    rmdir(dir);
}

/* ---------------------------------------------------------------- the tokenizer */

static void test_lexer(void **state)
{
    (void)state;

    static const struct {
        const char *arg; /* as written */
        const char *value;
    } words[] = {
        {"a#b", "a#b"},               /* '#' inside a word is a character */
        {"it's", "it's"},             /* so is a quote */
        {"\\.png$", "\\.png$"},       /* a backslash before anything else stays */
        {"a\\;b", "a\\;b"},           /* ... and makes ';' plain */
        {"a\\\\b", "a\\b"},           /* \\ is one backslash */
        {"\"a\\\"b\"", "a\"b"},       /* \" in quotes */
        {"'a\\'b'", "a'b"},           /* \' in quotes */
        {"\"a\\.b\"", "a\\.b"},       /* an unknown escape stays, in quotes too */
        {"\"x\\ty\\nz\"", "x\ty\nz"}, /* \t \n */
        {"\"a;b{c}#d\"", "a;b{c}#d"},
        {"${host}x", "${host}x"}, /* "${" does not open a block */
        {"\"\"", ""},
        {"'a\"b'", "a\"b"},
    };

    for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
        char text[256];
        snprintf(text, sizeof(text), "tag %s; # a comment\nserver { }\n", words[i].arg);
        struct conf c;
        load_ok(&c, text);
        assert_string_equal(loc(c.main)->tag, words[i].value);
        conf_free(&c);
        round_trip(text, NULL); /* printed (quoted where needed), it reads back the same */
    }
    static const struct bad lex_errors[] = {
        {"tag \"x;\n", "t.conf:1: unterminated quoted string"},
        {"tag 'x", "unterminated quoted string"},
        {"tag x", "unexpected end of file"},
        {"tag x # ;", "unexpected end of file"},
        {"}", "t.conf:1: unexpected \"}\""},
        {";", "t.conf:1: unexpected \";\""},
        /* an error quoting a word with a line break in it is still one line */
        {"\"a\nb\" 1;", "t.conf:1: unknown directive \"a\\nb\""},
        {"tag x;\n'\x01' 1;", "t.conf:2: unknown directive \"\\x01\""},
    };
    expect_errors(lex_errors, ARRAY_SIZE(lex_errors));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_location_forms),
        cmocka_unit_test(test_location_errors),
        cmocka_unit_test(test_location_nesting),
        cmocka_unit_test(test_inheritance),
        cmocka_unit_test(test_location_print),
        cmocka_unit_test(test_module_block),
        cmocka_unit_test(test_module_block_errors),
        cmocka_unit_test(test_module_block_include),
        cmocka_unit_test(test_lexer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
