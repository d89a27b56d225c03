/*
 * cgi_conf.h - the CGI handler's directives (docs/config.md, "CGI").
 *
 *   location /cgi-bin/ { alias /srv/cgi/; cgi on; }    every file under it is a script
 *   location / { cgi_extension .cgi .py; }             files with these endings are scripts;
 *                                                      the others are served as static files
 *   cgi_timeout 60s;      no progress for this long: the script is killed (504 if no head yet)
 *   cgi_limit 64;         scripts running at once per worker; more: 503
 *   cgi_max_output 0;     bytes of output (0: no limit); past it: killed, 502 or a cut response
 *   cgi_rlimit_cpu 0; cgi_rlimit_as 0; cgi_rlimit_nofile 0;    the script's RLIMITs (0: none)
 *   cgi_param NAME VALUE; an extra environment variable (VALUE with variables); replaces a
 *                         standard one of that name
 *
 * `cgi` and `cgi_extension` name the handler of their location (as fastcgi_pass would); the
 * others are inherited main -> server -> location.
 */
#pragma once

#include "core/conf/conf.h"
#include "core/conf/types.h"

#include <stdbool.h>
#include <stdint.h>

struct http_script;

struct cgi_param {
    char *name;
    char *text;
    struct http_script *value;
};

#define CGI_PARAMS_MAX 64 /* cgi_param lines in effect in one location */

struct cgi_params {
    struct cgi_param *v;
    unsigned n;
};

struct cgi_conf {
    bool on;
    struct conf_words ext; /* ".cgi", ".py" */
    uint32_t timeout_ms;
    uint32_t limit;
    uint64_t max_output; /* 0: none */
    uint32_t rlimit_cpu_ms;
    uint64_t rlimit_as;
    uint32_t rlimit_nofile;
    struct cgi_params params;
};

/* The rows and hooks of cgi_module (cgi.h, which defines it with the handler). */
#define CGI_CONF_NROWS 9
extern const struct conf_row cgi_conf_rows[];

/* The main block's: whether this configuration uses the helper threads (the path walks). */
struct cgi_main {
    bool offload_used;
};

int cgi_conf_finish(struct conf *c, unsigned slot, char *err, size_t errlen);
void cgi_conf_release(struct conf *c, unsigned slot);

/* True when some location of c runs scripts with module m (the spawner is needed). */
bool cgi_conf_used(const struct conf *c, const struct conf_module *m);

/* The static handler's location struct for a block (the files a cgi_extension location
 * serves itself), or NULL. */
const void *cgi_conf_static(const struct conf_block *b);
