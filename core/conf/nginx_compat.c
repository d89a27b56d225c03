/*
 * nginx_compat.c - nginx directives that no spate module has: what a pasted nginx.conf needs.
 *
 * Looked up only after every module's rows (conf_find_row), so a directive that a module
 * implements is never shadowed here: adding a row is all it takes to support one of these.
 * Each name is one of:
 *   an alias  worker_processes means workers (same values);
 *   a no-op   a knob that changes nothing in spate (thread-per-core io_uring, fixed-size
 *             tables, TCP_NODELAY always): accepted, with a notice in the error log, so a
 *             distribution's stock nginx.conf loads;
 *   refused   one line naming file:line, saying what to use instead or that spate does not
 *             have it (yet), never "unknown directive".
 */
#include "core/conf/nginx_compat.h"

#include "core/conf/block.h"

#include <string.h>

const char *conf_nginx_alias(const char *name)
{
    return strcmp(name, "worker_processes") == 0 ? "workers" : NULL;
}

enum ngx_kind {
    NGX_NOOP,   /* accepted, "\"name\" has no effect: <text>; ignored" */
    NGX_REFUSE, /* refused, "\"name\" <text>" */
    NGX_DAEMON, /* `daemon off` is what spate does; `daemon on` is refused */
};

struct ngx_entry {
    const char *name;
    bool prefix; /* name is a prefix: gzip, gzip_vary, gzip_types, ... */
    enum ngx_kind kind;
    const char *text;
};

#define NOT_YET "is not supported yet"
#define NOT "is not supported"
#define PROXY NOT_YET ": spate serves files; proxying and FastCGI are not there yet"
#define ACCESS NOT_YET ": spate has no access control by address or password"
#define MIME NOT ": spate sends files as they are (no charset recoding)"
#define TABLES "spate sizes its hash tables itself"
#define IO "spate reads and sends files through io_uring and sendfile itself"
#define MAPPING NOT_YET ": see docs/config.md for what locations support"

static const struct ngx_entry table[] = {
    /* the core module's process-level directives */
    {"daemon", false, NGX_DAEMON, NULL},
    {"pid", false, NGX_NOOP, "spate writes no pid file"}, /* unless a module has the row */
    {"master_process", false, NGX_REFUSE,
     NOT ": spate is one process with a thread per core; remove it"},
    {"load_module", false, NGX_REFUSE, NOT ": spate has no dynamic modules; remove it"},
    {"worker_rlimit_nofile", false, NGX_REFUSE,
     NOT ": spate raises its open-file limit to the hard limit itself; raise that instead "
         "(ulimit -Hn, systemd's LimitNOFILE=)"},
    {"worker_cpu_affinity", false, NGX_REFUSE,
     NOT ": spate pins one worker thread to each CPU it may run on; choose the CPUs with "
         "taskset or systemd's CPUAffinity=, and their number with workers"},
    {"worker_priority", false, NGX_REFUSE, NOT ": use nice, or systemd's Nice="},
    {"worker_shutdown_timeout", false, NGX_REFUSE, NOT ": use drain_timeout"},
    {"worker_rlimit_core", false, NGX_REFUSE, NOT ": use ulimit -c, or systemd's LimitCORE="},
    {"working_directory", false, NGX_REFUSE, NOT},
    {"lock_file", false, NGX_REFUSE, NOT ": spate takes no accept lock; remove it"},
    {"env", false, NGX_REFUSE, NOT},
    {"thread_pool", false, NGX_REFUSE, NOT ": " IO},
    {"worker_connections", false, NGX_REFUSE,
     "is allowed in events { } only (spate's own name for it is max_connections)"},
    {"timer_resolution", false, NGX_NOOP, "spate has no such setting"},
    {"pcre_jit", false, NGX_NOOP, "spate compiles regular expressions with PCRE2's JIT"},
    {"stream", false, NGX_REFUSE, NOT ": spate serves HTTP only"},
    {"mail", false, NGX_REFUSE, NOT ": spate serves HTTP only"},
    /* performance knobs that change nothing here */
    {"tcp_nopush", false, NGX_NOOP, "spate sets its socket options itself"},
    {"tcp_nodelay", false, NGX_NOOP, "spate always sets TCP_NODELAY"},
    {"server_tokens", false, NGX_NOOP, "spate's Server field never names its version"},
    {"types_hash_max_size", false, NGX_NOOP, TABLES},
    {"types_hash_bucket_size", false, NGX_NOOP, TABLES},
    {"server_names_hash_max_size", false, NGX_NOOP, TABLES},
    {"server_names_hash_bucket_size", false, NGX_NOOP, TABLES},
    {"variables_hash_max_size", false, NGX_NOOP, TABLES},
    {"variables_hash_bucket_size", false, NGX_NOOP, TABLES},
    {"map_hash_max_size", false, NGX_NOOP, TABLES},
    {"map_hash_bucket_size", false, NGX_NOOP, TABLES},
    {"aio", false, NGX_NOOP, IO},
    {"aio_write", false, NGX_NOOP, IO},
    {"directio", false, NGX_NOOP, IO},
    {"directio_alignment", false, NGX_NOOP, IO},
    {"output_buffers", false, NGX_NOOP, IO},
    {"postpone_output", false, NGX_NOOP, IO},
    {"read_ahead", false, NGX_NOOP, IO},
    {"send_lowat", false, NGX_NOOP, "spate's closest is listen's notsent_lowat="},
    {"reset_timedout_connection", false, NGX_NOOP, "spate closes timed-out connections itself"},
    {"lingering_close", false, NGX_NOOP, "spate lingers as lingering_timeout says"},
    {"lingering_time", false, NGX_NOOP, "spate lingers as lingering_timeout says"},
    {"open_log_file_cache", false, NGX_NOOP, "spate keeps its log files open"},
    {"log_not_found", false, NGX_NOOP, "spate does not log missing files in the error log"},
    /* features of other nginx modules */
    /* TLS: what the tls module (core/http/tls_conf.c) does not have */
    {"ssl", false, NGX_REFUSE,
     NOT ": put the ssl parameter on listen (nginx removed `ssl on` in 1.25.1)"},
    {"ssl_buffer_size", false, NGX_NOOP, "spate's TLS transport sizes its records itself"},
    {"ssl_stapling_verify", false, NGX_NOOP,
     "spate checks the ssl_stapling_file response (signature, certificate, dates) at load"},
    {"ssl_stapling_responder", false, NGX_REFUSE,
     NOT ": spate does not ask OCSP responders; fetch the response and name it with "
         "ssl_stapling_file"},
    {"ssl_early_data", false, NGX_REFUSE, NOT ": spate refuses TLS 1.3 early data (0-RTT)"},
    {"ssl_password_file", false, NGX_REFUSE, NOT ": decrypt the key (openssl pkey -in K -out K2)"},
    {"ssl_", true, NGX_REFUSE,
     NOT_YET ": docs/config.md (TLS) lists the ssl_ directives spate has"},
    /* HTTP/2: directives nginx made obsolete (1.19.7) or removed (server push, 1.25.1) */
    {"http2_idle_timeout", false, NGX_NOOP, "keepalive_timeout bounds an idle HTTP/2 connection"},
    {"http2_recv_timeout", false, NGX_NOOP, "client_header_timeout holds, as in nginx 1.19.7"},
    {"http2_max_field_size", false, NGX_NOOP, "header_max bounds the header list"},
    {"http2_max_header_size", false, NGX_NOOP, "header_max bounds the header list"},
    {"http2_streams_index_size", false, NGX_NOOP, "spate sizes its stream tables itself"},
    {"http2_push", false, NGX_NOOP, "spate offers no server push (nginx removed it in 1.25.1)"},
    {"http2_push_preload", false, NGX_NOOP,
     "spate offers no server push (nginx removed it in 1.25.1)"},
    {"http2", true, NGX_REFUSE, NOT ": see docs/config.md \"HTTP/2\" for the http2_ directives"},
    {"http3", true, NGX_REFUSE, NOT_YET ": spate speaks HTTP/1.1 and HTTP/2"},
    {"quic_", true, NGX_REFUSE, NOT_YET ": spate speaks HTTP/1.1 and HTTP/2"},
    {"gzip", true, NGX_REFUSE, NOT_YET ": spate does not compress responses"},
    {"gunzip", true, NGX_REFUSE, NOT_YET ": spate does not compress responses"},
    {"proxy_", true, NGX_REFUSE,
     NOT_YET ": spate's proxy has proxy_pass, proxy_set_header, proxy_http_version, the three "
             "timeouts, proxy_next_upstream, proxy_buffer_size, proxy_pass_header, "
             "proxy_hide_header, proxy_redirect, proxy_buffering (docs/config.md)"},
    {"fastcgi_", true, NGX_REFUSE,
     NOT_YET ": spate's FastCGI has fastcgi_pass, fastcgi_param, fastcgi_index, "
             "fastcgi_split_path_info, fastcgi_keep_conn, fastcgi_buffer_size and the three "
             "timeouts (docs/config.md)"},
    {"uwsgi_", true, NGX_REFUSE, PROXY},
    {"scgi_", true, NGX_REFUSE, PROXY},
    {"grpc_", true, NGX_REFUSE, PROXY},
    {"memcached_", true, NGX_REFUSE, PROXY},
    {"auth_request", true, NGX_REFUSE, ACCESS},
    {"source_charset", false, NGX_REFUSE, MIME},
    {"override_charset", false, NGX_REFUSE, MIME},
    {"large_client_header_buffers", false, NGX_REFUSE, NOT ": use header_max and request_line_max"},
    {"client_header_buffer_size", false, NGX_REFUSE, NOT ": use header_max and request_line_max"},
    {"client_body_", true, NGX_REFUSE, NOT},
    {"open_file_cache_errors", false, NGX_REFUSE,
     NOT ": spate always caches errors, for open_file_cache_negative"},
    {"open_file_cache_min_uses", false, NGX_REFUSE, NOT},
    {"disable_symlinks", false, NGX_REFUSE,
     NOT ": spate never serves a file outside its root, through a symbolic link or not"},
    {"rewrite", false, NGX_REFUSE, MAPPING},
    {"return", false, NGX_REFUSE, MAPPING},
    {"try_files", false, NGX_REFUSE, MAPPING},
    {"alias", false, NGX_REFUSE, MAPPING},
    {"error_page", false, NGX_REFUSE, MAPPING},
    {"recursive_error_pages", false, NGX_REFUSE, MAPPING},
    {"autoindex", true, NGX_REFUSE, MAPPING},
    {"if", false, NGX_REFUSE, NOT},
    {"set", false, NGX_REFUSE, NOT},
    {"break", false, NGX_REFUSE, NOT},
    {"map", false, NGX_REFUSE, NOT},
    {"geo", false, NGX_REFUSE, NOT},
    {"geoip_", true, NGX_REFUSE, NOT},
    {"split_clients", false, NGX_REFUSE, NOT},
    {"ssi_min_file_chunk", false, NGX_NOOP, "spate sends included files as they are read"},
    {"sub_filter", true, NGX_REFUSE, NOT},
    {"add_before_body", false, NGX_REFUSE, NOT},
    {"add_after_body", false, NGX_REFUSE, NOT},
    {"addition_types", false, NGX_REFUSE, NOT},
    {"real_ip_", true, NGX_REFUSE, NOT},
    {"set_real_ip_from", false, NGX_REFUSE, NOT},
    {"merge_slashes", false, NGX_REFUSE, NOT},
    {"underscores_in_headers", false, NGX_REFUSE, NOT},
    {"ignore_invalid_headers", false, NGX_REFUSE, NOT},
    {"if_modified_since", false, NGX_REFUSE, NOT},
    {"max_ranges", false, NGX_REFUSE, NOT},
    {"keepalive_time", false, NGX_REFUSE, NOT ": use keepalive_requests and keepalive_timeout"},
    {"keepalive_disable", false, NGX_REFUSE, NOT},
    {"chunked_transfer_encoding", false, NGX_REFUSE, NOT},
    {"dav_", true, NGX_REFUSE, NOT},
    {"mp4", true, NGX_REFUSE, NOT},
    {"flv", false, NGX_REFUSE, NOT},
    {"image_filter", true, NGX_REFUSE, NOT},
    {"secure_link", true, NGX_REFUSE, NOT},
    {"userid", true, NGX_REFUSE, NOT},
    {"valid_referers", false, NGX_REFUSE, NOT},
    {"random_index", false, NGX_REFUSE, NOT},
    {"empty_gif", false, NGX_REFUSE, NOT},
    {"mirror", true, NGX_REFUSE, NOT},
    {"perl", true, NGX_REFUSE, NOT},
    {"js_", true, NGX_REFUSE, NOT},
    {"xslt_", true, NGX_REFUSE, NOT},
};

/* Exact names win over prefixes (so that "ssl" and "ssl_..." can differ). */
static const struct ngx_entry *lookup(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
        if (!table[i].prefix && strcmp(name, table[i].name) == 0) {
            return &table[i];
        }
    }
    for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
        if (table[i].prefix && strncmp(name, table[i].name, strlen(table[i].name)) == 0) {
            return &table[i];
        }
    }
    return NULL;
}

static int noop(struct conf_parse *p, const char *name, const char *why, bool block)
{
    if (block) {
        return conf_error(p, "\"%s\" takes no block", name);
    }
    return conf_note(p, "\"%s\" has no effect: %s; ignored", name, why);
}

int conf_nginx_directive(struct conf_parse *p, const char *name, char **args, unsigned nargs,
                         bool block)
{
    const struct ngx_entry *e = lookup(name);
    if (!e) {
        return 1;
    }
    switch (e->kind) {
    case NGX_NOOP:
        return noop(p, name, e->text, block);
    case NGX_DAEMON:
        if (nargs == 1 && strcmp(args[0], "off") == 0) {
            return noop(p, name, "spate always runs in the foreground", block);
        }
        return conf_error(p,
                          "\"daemon\" is not supported: spate runs in the foreground; let systemd "
                          "or another supervisor run it, or write \"daemon off;\"");
    default:
        return conf_error(p, "\"%s\" %s", name, e->text);
    }
}

int conf_nginx_events(struct conf_parse *p, const char *name, char **args, unsigned nargs,
                      bool block, const char **row)
{
    (void)args;
    (void)nargs;
    static const char *const noops[] = {"multi_accept", "accept_mutex", "accept_mutex_delay", "use",
                                        "worker_aio_requests"};
    if (strcmp(name, "worker_connections") == 0) {
        *row = "max_connections"; /* per worker, in both */
        return 2;
    }
    for (size_t i = 0; i < ARRAY_SIZE(noops); i++) {
        if (strcmp(name, noops[i]) == 0) {
            return noop(p, name, "spate runs one thread per core, accepting through io_uring",
                        block);
        }
    }
    if (strcmp(name, "debug_connection") == 0) {
        return conf_error(p, "\"debug_connection\" is not supported");
    }
    return conf_error(p, "unknown directive \"%s\" in the events block", name);
}
