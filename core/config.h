/*
 * config.h - Spate's configuration: syntax, directives, the frozen result.
 *
 * The file syntax is nginx's: `name arg ...;` directives and `name arg {
 * ... }` blocks, `#` comments, quoted strings. Every directive is described
 * by one row of a table in config.c (name, contexts, argument count, setter);
 * docs/config.md documents each. Errors name the file and line:
 *   "spate.conf:12: unknown directive "rot""
 *
 * A configuration is built and validated on the main thread, then frozen: the
 * workers only read it (const struct cfg *), so it needs no locks.
 */
#pragma once

#include "core/base/compiler.h"
#include "fs/cache.h"
#include "fs/docroot.h"
#include "proto/request.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define CFG_ERR_MAX 512

struct cfg_listen {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char text[80]; /* "127.0.0.1:8080", "[::1]:8080" as written */
    bool default_server;
};

struct cfg_location {
    char *prefix; /* path prefix, starts with '/' */
    size_t prefix_len;
    char *cache_control; /* Cache-Control value to add, or NULL */
    int64_t expires_s;   /* add Expires/Cache-Control max-age; -1 unset */
    char *extra_headers; /* prebuilt "Name: value\r\n..." lines (add_header), or NULL */
    size_t extra_headers_len;
    const char *file;
    int line;
};

struct cfg_server {
    char **names; /* server_name values, lowercased */
    unsigned nnames;
    struct cfg_listen *listens;
    unsigned nlistens;
    char *root;           /* docroot path as configured */
    struct fs_root froot; /* opened by cfg_open_roots() */
    uint32_t root_id;     /* index of the server, keys the file cache */
    char **index;         /* index file names, default "index.html" */
    unsigned nindex;
    struct cfg_location *locs;
    unsigned nlocs;
    char *access_log;    /* path, "off", or NULL (inherit main) */
    char *access_format; /* format name or NULL */
    bool allow_encoded_slash;
    const char *file;
    int line;
};

struct cfg {
    unsigned workers;         /* 0 = one per CPU available to the process */
    uint32_t max_connections; /* per worker */
    struct http_limits limits;
    uint64_t max_body;             /* client_max_body_size: 413 beyond */
    uint32_t max_pipeline;         /* responses queued per connection before reading pauses */
    uint32_t header_timeout_ms;    /* whole request head must arrive within */
    uint32_t body_timeout_ms;      /* between two reads of a body */
    uint32_t keepalive_timeout_ms; /* idle connection between requests; 0 disables keep-alive */
    uint32_t keepalive_requests;   /* requests per connection, then close */
    uint32_t send_timeout_ms;      /* between two successful writes */
    uint32_t linger_timeout_ms;    /* wait for the client's FIN after our last response */
    uint32_t drain_timeout_ms;     /* graceful shutdown limit */
    uint32_t sendfile_chunk;       /* bytes per sendfile call (nginx sendfile_max_chunk) */
    bool cold_file_reads;          /* uncached file ranges: async read + send instead of sendfile */
    bool use_sendfile; /* off: every file range is read (io_uring) and sent, never sendfile */
    struct fs_cache_limits file_cache;
    bool trace_enabled;
    char *error_log;         /* path or NULL for stderr */
    int error_level;         /* log/errlog.h levels */
    char *access_log;        /* path, "off", or NULL (off) */
    char *access_format;     /* "common", "combined", "json" or a format string name */
    char **log_format_names; /* log_format NAME 'string' */
    char **log_format_values;
    int *log_format_escapes; /* enum log_escape per log_format */
    unsigned nlog_formats;
    uint32_t log_buffer; /* per-worker access-log ring bytes */
    struct cfg_server *servers;
    unsigned nservers;
    char *source; /* file the config came from, or "(command line)" */
};

/* Command-line overrides applied on top of (or instead of) a file. */
struct cfg_overrides {
    const char *root;
    const char *listen[8];
    unsigned nlisten;
    int workers; /* -1: not given */
    const char *access_log;
    const char *error_log;
};

/* Defaults for everything (no servers). */
void cfg_init_defaults(struct cfg *c);

/*
 * Parses the file at path into c (which must hold defaults). Returns 0, or
 * -1 with a "file:line: message" sentence in err.
 */
int cfg_load_file(struct cfg *c, const char *path, char *err, size_t errlen) MUST_CHECK;

/* Parses configuration text (tests); name is used in messages. */
int cfg_load_string(struct cfg *c, const char *name, const char *text, char *err,
                    size_t errlen) MUST_CHECK;

/* Applies flags; creates a server when the file defined none. 0 or -1 + err. */
int cfg_apply_overrides(struct cfg *c, const struct cfg_overrides *o, char *err,
                        size_t errlen) MUST_CHECK;

/* Checks cross-directive rules and opens every docroot. 0 or -1 + err. */
int cfg_finalize(struct cfg *c, char *err, size_t errlen) MUST_CHECK;

/* Frees everything c owns (closes docroots). */
void cfg_free(struct cfg *c);

/* Writes the effective configuration in file syntax (--print-config). */
void cfg_print(const struct cfg *c, FILE *out);

/* Parses "host:port", "[v6]:port", "*:port" or "port". 0 or -1 + message in err. */
int cfg_parse_listen(const char *s, struct cfg_listen *out, char *err, size_t errlen) MUST_CHECK;

/* "64k" -> 65536 etc. 0 or -1. */
int cfg_parse_size(const char *s, uint64_t *out) MUST_CHECK;

/* "10s", "500ms", "2m", "1h", "1d"; a bare number is seconds. Result in ms. 0 or -1. */
int cfg_parse_time_ms(const char *s, uint64_t *out) MUST_CHECK;
