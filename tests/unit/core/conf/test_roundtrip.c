/*
 * --print-config round trip (core/conf/print.c): the printed configuration, parsed again,
 * prints the same, for a configuration that sets every directive of every module in every
 * context it allows (built from the rows themselves, so a new row is covered the day it is
 * added), for every profile and for the bundled site's configuration. And every directive
 * is documented in docs/config.md.
 */
#include "common/unit.h"
#include "core/app/modules.h"
#include "core/conf/conf.h"
#include "core/conf/print.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SPATE_SRC_DIR
#define SPATE_SRC_DIR "."
#endif

/* Prints c, without its first line (a comment naming the source, which differs). */
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

/* text -> conf -> print; the override (if any) sets root in every server, as --root does. */
static char *load_print(const char *name, const char *text, bool from_file, const char *root)
{
    struct conf c;
    char err[CONF_ERR_MAX];
    assert_int_equal(conf_init(&c, spate_modules, spate_nmodules), 0);
    int rc = from_file ? conf_load_file(&c, name, err, sizeof(err))
                       : conf_load_string(&c, name, text, err, sizeof(err));
    if (rc < 0) {
        fail_msg("%s", err);
    }
    for (struct conf_block *s = c.main->children; root && s; s = s->next) {
        const char *args[] = {root};
        assert_int_equal(conf_set(&c, s, "--root", "root", args, 1, err, sizeof(err)), 0);
    }
    if (conf_finish(&c, err, sizeof(err)) < 0) {
        fail_msg("%s: %s", name, err);
    }
    char *out = print(&c);
    conf_free(&c);
    return out;
}

/* print(parse(X)) == print(parse(print(parse(X)))); returns the first print. */
static char *round_trip(const char *name, const char *text, bool from_file, const char *root)
{
    char *once = load_print(name, text, from_file, root);
    char *twice = load_print("printed.conf", once, false, NULL);
    if (strcmp(once, twice) != 0) {
        fail_msg("%s: the printed configuration does not print the same:\n--- once\n%s\n"
                 "--- twice\n%s",
                 name, once, twice);
    }
    free(twice);
    return once;
}

PRINTF_LIKE(4, 5)

static void add(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (*len + (size_t)n + 1 > *cap) {
        *cap = (*len + (size_t)n + 1) * 2;
        *buf = realloc(*buf, *cap);
    }
    va_start(ap, fmt);
    vsnprintf(*buf + *len, *cap - *len, fmt, ap);
    va_end(ap);
    *len += (size_t)n;
}

/* Every row, with its example, in every context it allows. */
static char *every_directive(void)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    static const unsigned ctxs[] = {CONF_MAIN, CONF_SERVER, CONF_LOCATION};
    static const char *const open[] = {"", "server {\n", "    location /every/ {\n"};
    static const char *const close[] = {"", "}\n", "    }\n"};
    add(&buf, &len, &cap, "%s", "");
    for (int depth = 0; depth < 3; depth++) {
        add(&buf, &len, &cap, "%s", open[depth]);
        for (unsigned m = 0; m < spate_nmodules; m++) {
            const struct conf_module *mod = spate_modules[m];
            for (unsigned i = 0; i < mod->nrows; i++) {
                const struct conf_row *r = &mod->rows[i];
                if ((r->ctx & ctxs[depth]) && !(r->flags & CONF_CONTENT)) {
                    assert_non_null(r->example);
                    /* a CONF_BLOCK row's example ends with its block: "NAME { ... }" */
                    add(&buf, &len, &cap, "    %s %s%s\n", r->name, r->example,
                        (r->flags & CONF_BLOCK) ? "" : ";");
                }
            }
        }
    }
    add(&buf, &len, &cap, "%s", close[2]);
    /* a handler per location: one location each */
    for (unsigned m = 0; m < spate_nmodules; m++) {
        const struct conf_module *mod = spate_modules[m];
        for (unsigned i = 0; i < mod->nrows; i++) {
            const struct conf_row *r = &mod->rows[i];
            if (r->flags & CONF_CONTENT) {
                add(&buf, &len, &cap, "    location /%s/ {\n", r->name);
                add(&buf, &len, &cap, "        %s %s;\n    }\n", r->name, r->example);
            }
        }
    }
    add(&buf, &len, &cap, "%s", close[1]);
    return buf;
}

static void test_every_directive(void **state)
{
    (void)state;
    char *text = every_directive();
    char *printed = round_trip("every.conf", text, false, NULL);
    /* nothing was dropped: every directive set is printed, with its value */
    for (unsigned m = 0; m < spate_nmodules; m++) {
        const struct conf_module *mod = spate_modules[m];
        for (unsigned i = 0; i < mod->nrows; i++) {
            char want[128], bare[128]; /* "name value;", or "name;" for one without a value */
            snprintf(want, sizeof(want), "%s ", mod->rows[i].name);
            snprintf(bare, sizeof(bare), " %s;", mod->rows[i].name);
            if (!strstr(printed, want) && !strstr(printed, bare)) {
                fail_msg("\"%s\" is missing from --print-config:\n%s", mod->rows[i].name, printed);
            }
        }
    }
    /* values that the old printer dropped or changed */
    assert_non_null(strstr(printed, "add_header X-Served-By spate always;"));
    assert_non_null(strstr(printed, "allow_encoded_slashes on;"));
    assert_non_null(strstr(printed, "log_format edge escape=json \"{\\\"s\\\":$status,"));
    assert_non_null(strstr(printed, "cache_control \"public, max-age=300\";"));
    free(printed);
    free(text);
}

/* Every location form, nested ones nested: printed as written (joined forms split). */
static void test_locations(void **state)
{
    (void)state;
    char *printed = round_trip("locations.conf",
                               "server {\n"
                               "  root /tmp;\n"
                               "  location =/x { }\n"
                               "  location ^~/a { location ~*\\.png$ { } location /a/b { } }\n"
                               "  location ~ \"^/a\\d{2}$\" { }\n"
                               "  location @fallback { }\n"
                               "}\n",
                               false, NULL);
    static const char *const want[] = {
        "\n    location = /x {\n",       "\n    location ^~ /a {\n",
        "\n        location ~* \\.png$ {\n", "\n        location /a/b {\n",
        "\n    location ~ \"^/a\\d{2}$\" {\n", "\n    location @fallback {\n",
    };
    for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
        if (!strstr(printed, want[i])) {
            fail_msg("\"%s\" is missing from:\n%s", want[i], printed);
        }
    }
    free(printed);
}

static void test_profiles_and_site(void **state)
{
    (void)state;
    static const char *const files[] = {"profiles/cdn-edge.conf", "profiles/latency-bench.conf",
                                        "profiles/static-tree.conf"};
    char path[512];
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        snprintf(path, sizeof(path), "%s/%s", SPATE_SRC_DIR, files[i]);
        free(round_trip(path, NULL, true, "/tmp"));
    }
    snprintf(path, sizeof(path), "%s/examples/spate.conf", SPATE_SRC_DIR);
    char *site = round_trip(path, NULL, true, NULL);
    char want[600];
    snprintf(want, sizeof(want), "root %s/examples/www;", SPATE_SRC_DIR);
    assert_non_null(strstr(site, want)); /* relative to the file, printed absolute */
    free(site);
}

static void test_documented(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof(path), "%s/docs/config.md", SPATE_SRC_DIR);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char doc[1 << 18];
    size_t n = fread(doc, 1, sizeof(doc) - 1, f);
    doc[n] = '\0';
    fclose(f);
    for (unsigned m = 0; m < spate_nmodules; m++) {
        const struct conf_module *mod = spate_modules[m];
        for (unsigned i = 0; i < mod->nrows; i++) {
            char want[128];
            snprintf(want, sizeof(want), "`%s", mod->rows[i].name);
            if (!strstr(doc, want) && strncmp(mod->rows[i].name, "test_", 5) != 0) {
                fail_msg("docs/config.md does not document \"%s\"", mod->rows[i].name);
            }
        }
    }
}

int main(void)
{
    /* the rows' examples name files relative to the source tree (tests/data/tls: the TLS
     * module reads its certificates when the configuration is finished) */
    if (chdir(SPATE_SRC_DIR) < 0) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_directive),
        cmocka_unit_test(test_locations),
        cmocka_unit_test(test_profiles_and_site),
        cmocka_unit_test(test_documented),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
