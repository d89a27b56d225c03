/*
 * include.c - reading configuration files, and the names an `include` expands to.
 *
 * nginx's `include FILE | MASK`: a name without a wildcard must exist; a mask (a glob(3)
 * pattern) may match nothing, which is no error (nginx's behaviour, and what an empty
 * conf.d/ needs). Matches are read in strcmp order, so the order never depends on the
 * locale or the directory's layout. Where the included files are parsed, and the bound on
 * nesting, is parse.c's.
 */
#include "core/conf/include.h"

#include "core/base/alloc.h"

#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONF_FILE_MAX (64u << 20)

int conf_read_file(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open configuration file \"%s\": %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && !S_ISREG(st.st_mode)) {
        fclose(f);
        snprintf(err, errlen, "configuration file \"%s\" is not a regular file", path);
        return -1;
    }
    size_t cap = 4096, n = 0;
    char *buf = sp_malloc(cap);
    for (;;) {
        if (!buf) {
            fclose(f);
            snprintf(err, errlen, "%s: out of memory", path);
            return -1;
        }
        n += fread(buf + n, 1, cap - n - 1, f);
        if (n < cap - 1) {
            break;
        }
        if (cap >= CONF_FILE_MAX) {
            sp_free(buf);
            fclose(f);
            snprintf(err, errlen, "configuration file \"%s\" is larger than 64 MiB", path);
            return -1;
        }
        cap *= 2;
        char *nb = sp_realloc(buf, cap);
        if (!nb) {
            sp_free(buf);
        }
        buf = nb;
    }
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        sp_free(buf);
        snprintf(err, errlen, "cannot read configuration file \"%s\"", path);
        return -1;
    }
    buf[n] = '\0';
    if (memchr(buf, '\0', n)) {
        sp_free(buf);
        snprintf(err, errlen, "configuration file \"%s\" contains a NUL byte", path);
        return -1;
    }
    *text = buf;
    *len = n;
    return 0;
}

char *conf_dir_of(const char *path)
{
    char buf[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (path[0] == '/') {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        return sp_strndup(path, n);
    }
    if (!getcwd(buf, sizeof(buf))) {
        return NULL;
    }
    size_t bl = strlen(buf);
    size_t dl = slash ? (size_t)(slash - path) : 0;
    if (bl + 1 + dl + 1 > sizeof(buf)) {
        return NULL;
    }
    if (dl) {
        buf[bl] = '/';
        memcpy(buf + bl + 1, path, dl);
        buf[bl + 1 + dl] = '\0';
    }
    return sp_strndup(buf, strlen(buf));
}

void conf_names_free(struct conf_names *n)
{
    for (unsigned i = 0; i < n->n; i++) {
        sp_free(n->v[i]);
    }
    sp_free(n->v);
    n->v = NULL;
    n->n = 0;
}

static int add_name(struct conf_parse *p, struct conf_names *out, const char *name)
{
    char **nv = sp_realloc(out->v, (out->n + 1) * sizeof(*nv));
    if (!nv) {
        return conf_error(p, "out of memory");
    }
    out->v = nv;
    if (!(nv[out->n] = conf_strdup(p, name))) {
        return -1;
    }
    out->n++;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* dir "/" arg, into buf. 0, or -1 when it does not fit. */
static int join(char *buf, size_t len, const char *dir, const char *arg)
{
    int n = arg[0] == '/' ? snprintf(buf, len, "%s", arg)
                          : snprintf(buf, len, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", arg);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* A glob's matches in one place. 1: matched (added to out), 0: nothing, -1: error. */
static int expand(struct conf_parse *p, const char *pattern, struct conf_names *out)
{
    glob_t g;
    int rc = glob(pattern, 0, NULL, &g);
    if (rc == GLOB_NOMATCH) {
        return 0;
    }
    if (rc != 0) {
        globfree(&g);
        return conf_error(p, "cannot expand include \"%s\": %s", pattern,
                          rc == GLOB_NOSPACE ? "out of memory" : "a directory cannot be read");
    }
    size_t first = out->n;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        if (add_name(p, out, g.gl_pathv[i]) < 0) {
            globfree(&g);
            return -1;
        }
    }
    globfree(&g);
    qsort(out->v + first, out->n - first, sizeof(*out->v), by_name);
    return 1;
}

int conf_include_names(struct conf_parse *p, const char *arg, const char *dir, const char *maindir,
                       struct conf_names *out)
{
    out->v = NULL;
    out->n = 0;
    if (arg[0] == '\0') {
        return conf_error(p, "\"include\" needs a file name");
    }
    /* the including file's directory first (see conf.h), then the main file's */
    const char *dirs[2] = {dir ? dir : maindir, maindir};
    unsigned ndirs = arg[0] == '/' || !dirs[1] || !dirs[0] || !strcmp(dirs[0], dirs[1]) ? 1 : 2;
    bool mask = strpbrk(arg, "*?[") != NULL;
    char path[PATH_MAX];
    for (unsigned i = 0; i < ndirs; i++) {
        if (join(path, sizeof(path), dirs[i] ? dirs[i] : ".", arg) < 0) {
            return conf_error(p, "include \"%s\": the path is too long", arg);
        }
        if (mask) {
            int rc = expand(p, path, out);
            if (rc != 0) {
                return rc < 0 ? -1 : 0;
            }
        } else if (access(path, F_OK) == 0) {
            return add_name(p, out, path);
        }
    }
    if (mask) {
        return 0; /* no match anywhere is fine, as in nginx */
    }
    if (join(path, sizeof(path), dirs[0] ? dirs[0] : ".", arg) < 0 || ndirs == 1) {
        return conf_error(p, "cannot open included file \"%s\": %s", path, strerror(ENOENT));
    }
    char other[PATH_MAX];
    if (join(other, sizeof(other), dirs[1], arg) < 0) {
        return conf_error(p, "include \"%s\": the path is too long", arg);
    }
    return conf_error(p, "cannot open included file \"%s\": neither \"%s\" nor \"%s\" exists", arg,
                      path, other);
}
