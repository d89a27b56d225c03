/*
 * limit_zone.h - what limit_req and limit_conn share: their zones, keys and directive lines.
 *
 * A zone (`limit_req_zone KEY zone=NAME:SIZE rate=R;`, `limit_conn_zone KEY zone=NAME:SIZE;`)
 * is one table of per-key states in memory, shared by every worker (core/base/keyslots.h): a
 * client's requests are counted together whichever worker its connections land on. The
 * memory is allocated when the configuration is finished, SIZE bytes at most (16 per key).
 * A reload that declares a zone of the same kind, name and size keeps it, with its counts;
 * one that changes the size starts it afresh.
 *
 * The key is a variable expression (http/vars.h), evaluated per request; `$binary_remote_addr`
 * alone is the client's address bytes (4 or 16), without formatting. An empty key is not
 * counted, as in nginx.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/keyslots.h"
#include "core/base/slice.h"
#include "core/conf/conf.h"
#include "core/http/req.h"

#include <stdbool.h>
#include <stdint.h>

struct http_script;

enum limit_zone_kind { LIMIT_ZONE_REQ, LIMIT_ZONE_CONN };

/* The memory of a zone: outlives a configuration when a reload declares it again. */
struct limit_zone {
    enum limit_zone_kind kind;
    char *name;
    uint64_t size;
    uint64_t epoch_ms; /* CLOCK_MONOTONIC_COARSE at creation: its times count from here */
    struct keyslots t;
    unsigned refs; /* configurations declaring it (main thread, under the registry lock) */
    struct limit_zone *next;
};

/* A zone as one configuration declares it. */
struct limit_decl {
    char *name;
    struct http_script *key; /* NULL: $binary_remote_addr */
    uint32_t rate;           /* limit_req: thousandths of a request per second */
    struct conf_where where;
    struct limit_zone *zone;
};

/* Directive lines kept as written (a CONF_MULTI row), parsed by the module's finish. */
struct limit_line {
    char **args;
    unsigned nargs;
    struct conf_where where;
};

struct limit_lines {
    struct limit_line *v;
    unsigned n;
};

extern const struct conf_type limit_lines_type;

/*
 * Parses the zone lines `KEY zone=NAME:SIZE [rate=R]` of lines into decls (sp_calloc'd, *n
 * of them), with their memory. 0, or -1 with "file:line: ..." in err.
 */
int limit_decls_build(const struct limit_lines *lines, enum limit_zone_kind kind,
                      struct limit_decl **decls, unsigned *n, char *err, size_t errlen);
void limit_decls_free(struct limit_decl *decls, unsigned n);

/* The declaration named name, or NULL. */
struct limit_decl *limit_decl_find(struct limit_decl *decls, unsigned n, const char *name);

/* r's key for d into *out (the arena). 0, or -ENOMEM; an empty *out is not counted. */
int limit_key(struct req *r, const struct limit_decl *d, struct slice *out) MUST_CHECK;

/* The zone's clock for a monotonic ms reading (never 0: 0 marks a fresh key). */
static inline uint32_t limit_zone_now(const struct limit_zone *z, uint64_t now_ms)
{
    uint32_t t = (uint32_t)(now_ms - z->epoch_ms);
    return t ? t : 1;
}

/* The client's address as text for log lines (buf of 64 bytes). */
const char *limit_client(struct req *r, char *buf);
