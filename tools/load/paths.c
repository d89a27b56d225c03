/* paths.c - see paths.h. */
#include "tools/load/paths.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void paths_free(struct load_paths *p)
{
    if (!p) {
        return;
    }
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i]);
    }
    free(p->v);
    free(p->cdf);
    free(p);
}

/* A request-target byte that must not go out raw: a space or a control character. */
static bool bad_byte(unsigned char c)
{
    return c <= 0x20 || c == 0x7f;
}

struct load_paths *paths_load(const char *file, double zipf, char *why, size_t whylen)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        snprintf(why, whylen, "%s", strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(why, whylen, "a directory");
        fclose(f);
        return NULL;
    }
    struct load_paths *p = calloc(1, sizeof(*p));
    size_t cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    bool bad = p == NULL;
    size_t lineno = 0;
    snprintf(why, whylen, "out of memory");
    while (!bad && (len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            line[--len] = 0;
        }
        if (len == 0) {
            continue;
        }
        if (line[0] != '/') {
            snprintf(why, whylen, "line %zu does not start with /", lineno);
            bad = true;
            break;
        }
        for (ssize_t i = 0; i < len && !bad; i++) {
            if (bad_byte((unsigned char)line[i])) {
                snprintf(why, whylen, "line %zu holds a space or a control character "
                                      "(percent-encode it)", lineno);
                bad = true;
            }
        }
        if (bad) {
            break;
        }
        if (p->n == cap) {
            cap = cap ? cap * 2 : 64;
            char **m = realloc(p->v, cap * sizeof(char *));
            if (!m) {
                bad = true;
                break;
            }
            p->v = m;
        }
        p->v[p->n++] = strdup(line);
    }
    free(line);
    if (!bad && ferror(f)) {
        snprintf(why, whylen, "%s", strerror(errno));
        bad = true;
    } else if (!bad && p && p->n == 0) {
        snprintf(why, whylen, "no path in it");
    }
    fclose(f);
    if (bad || !p || p->n == 0) {
        paths_free(p);
        return NULL;
    }
    if (zipf > 0) {
        p->cdf = malloc(p->n * sizeof(double));
        double sum = 0;
        for (size_t i = 0; i < p->n; i++) {
            sum += pow((double)(i + 1), -zipf);
            p->cdf[i] = sum;
        }
        for (size_t i = 0; i < p->n; i++) {
            p->cdf[i] /= sum;
        }
    }
    return p;
}

size_t paths_pick(const struct load_paths *p, double u)
{
    if (!p->cdf) {
        size_t i = (size_t)(u * (double)p->n);
        return i < p->n ? i : p->n - 1;
    }
    size_t lo = 0, hi = p->n - 1; /* the first i with cdf[i] > u */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->cdf[mid] > u) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return lo;
}
