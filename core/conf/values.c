/* values.c - see values.h. */
#include "core/conf/values.h"

#include "core/base/alloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void conf_one_line(char *msg, size_t cap)
{
    char tmp[CONF_ERR_MAX];
    size_t o = 0;
    for (const char *s = msg; *s && o + 5 < sizeof(tmp); s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != 0x7f) {
            tmp[o++] = (char)c;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            tmp[o++] = '\\';
            tmp[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else {
            o += (size_t)snprintf(tmp + o, sizeof(tmp) - o, "\\x%02x", c);
        }
    }
    tmp[o] = '\0';
    snprintf(msg, cap, "%s", tmp);
}

int conf_error(struct conf_parse *p, const char *fmt, ...)
{
    char msg[CONF_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    conf_one_line(msg, sizeof(msg));
    if (p->line > 0) {
        snprintf(p->err, p->errlen, "%s:%d: %s", p->file, p->line, msg);
    } else {
        snprintf(p->err, p->errlen, "%s: %s", p->file, msg);
    }
    return -1;
}

int conf_fail_at(char *err, size_t errlen, struct conf_where w, const char *fmt, ...)
{
    char msg[CONF_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    conf_one_line(msg, sizeof(msg));
    if (w.line > 0) {
        snprintf(err, errlen, "%s:%d: %s", w.file, w.line, msg);
    } else {
        snprintf(err, errlen, "%s: %s", w.file ? w.file : "configuration", msg);
    }
    return -1;
}

char *conf_strdup(struct conf_parse *p, const char *s)
{
    char *d = sp_strndup(s, strlen(s));
    if (!d) {
        conf_error(p, "out of memory");
    }
    return d;
}

char *conf_path(struct conf_parse *p, const char *path)
{
    const char *dir = p->dir;
    if (path[0] == '/' || !dir) {
        return conf_strdup(p, path);
    }
    size_t dl = strlen(dir), pl = strlen(path);
    /* "./x" and "x" alike; a trailing "/." of dir is not worth normalizing */
    while (pl >= 2 && path[0] == '.' && path[1] == '/') {
        path += 2;
        pl -= 2;
    }
    char *r = sp_malloc(dl + 1 + pl + 1);
    if (!r) {
        conf_error(p, "out of memory");
        return NULL;
    }
    memcpy(r, dir, dl);
    r[dl] = '/';
    memcpy(r + dl + 1, path, pl + 1);
    if (pl == 0 || (pl == 1 && path[0] == '.')) {
        r[dl] = '\0'; /* "." is the directory itself */
    }
    return r;
}

/* The decimal number at the start of s (no sign, no space); *end is what follows. 0 or -1. */
static int leading_number(const char *s, unsigned long long *v, char **end)
{
    if (!isdigit((unsigned char)s[0])) {
        return -1;
    }
    errno = 0;
    *v = strtoull(s, end, 10);
    return errno ? -1 : 0;
}

int conf_parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (leading_number(s, &v, &end) < 0) {
        return -1;
    }
    uint64_t mul = 1;
    if (*end == 'k' || *end == 'K') {
        mul = 1024;
        end++;
    } else if (*end == 'm' || *end == 'M') {
        mul = 1024 * 1024;
        end++;
    } else if (*end == 'g' || *end == 'G') {
        mul = 1024ull * 1024 * 1024;
        end++;
    }
    if (*end != '\0' || v > UINT64_MAX / mul) {
        return -1;
    }
    *out = v * mul;
    return 0;
}

int conf_parse_time_ms(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (leading_number(s, &v, &end) < 0) {
        return -1;
    }
    uint64_t mul;
    if (strcmp(end, "ms") == 0) {
        mul = 1;
    } else if (*end == '\0' || strcmp(end, "s") == 0) {
        mul = 1000;
    } else if (strcmp(end, "m") == 0) {
        mul = 60000;
    } else if (strcmp(end, "h") == 0) {
        mul = 3600000;
    } else if (strcmp(end, "d") == 0) {
        mul = 86400000;
    } else {
        return -1;
    }
    if (v > UINT64_MAX / mul) {
        return -1;
    }
    *out = v * mul;
    return 0;
}
