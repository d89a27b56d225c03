/* opts.c - see opts.h. */
#include "tools/load/opts.h"

#include "tools/load/check.h"
#include "tools/load/paths.h"
#include "tools/load/plot.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: spate-load [options] URL\n"
    "       spate-load --plot-merge OUT.svg A.json [B.json ...]\n"
    "  -t, --threads N      threads, each pinned to a CPU with its own io_uring (default 1)\n"
    "  -c, --connections N  connections in all, spread over the threads (default 10)\n"
    "  -d, --duration T     test length: 10s, 2m, 500ms (default 10s)\n"
    "  -R, --rate R         requests/s in all (open loop; 10k allowed); 0: closed loop\n"
    "      --poisson        exponential gaps between a connection's requests (default even)\n"
    "  -H, --header 'N: v'  an extra request header (repeatable)\n"
    "  -m, --method M       request method (default GET; HEAD reads no body)\n"
    "      --pipeline N     requests in flight per connection (default 1)\n"
    "      --close          Connection: close, a new connection per request\n"
    "      --paths FILE     request paths, one a line, chosen at random per request\n"
    "      --zipf S         choose --paths with a Zipf law of exponent S (rank order)\n"
    "      --check FILE     every body must equal FILE's bytes\n"
    "      --sha256 HEX     every body must have this SHA-256\n"
    "      --timeout T      a response later than T after its send is an error (default 2s);\n"
    "                       timed-out requests enter the latency distribution at the time\n"
    "                       they were given up\n"
    "      --spin T         poll instead of sleeping when a send is due within T (30us)\n"
    "      --cpus LIST      CPUs for the threads: 0,2-3 (default: the first -t of the mask)\n"
    "      --json FILE      figures as JSON (latencies in microseconds)\n"
    "      --plot FILE      latency-percentile plot, .svg or .html\n"
    "      --label NAME     this run's name in JSON and plots (default the URL)\n";

/* msg has one "%s", where the bad value goes (a literal fmt would need a va_list) */
static void usage_error(const char *msg, const char *val)
{
    const char *at = strstr(msg, "%s");
    fprintf(stderr, "spate-load: %.*s%s%s\n%s", (int)(at ? at - msg : (long)strlen(msg)), msg,
            at ? val : "", at ? at + 2 : "", usage_text);
    exit(2);
}

/* Whether [s, end) is a plain decimal number: strtod also takes hex, "inf" and "nan". */
static bool decimal(const char *s, const char *end)
{
    bool digit = false;
    for (; s < end; s++) {
        if (*s >= '0' && *s <= '9') {
            digit = true;
        } else if (!strchr(".eE+-", *s)) {
            return false;
        }
    }
    return digit;
}

int opts_duration(const char *s, uint64_t *ns)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v > 0) || !isfinite(v) || !decimal(s, end)) {
        return -1;
    }
    double mul = 1e9;
    if (!strcmp(end, "ms")) {
        mul = 1e6;
    } else if (!strcmp(end, "us")) {
        mul = 1e3;
    } else if (!strcmp(end, "m")) {
        mul = 60e9;
    } else if (!strcmp(end, "h")) {
        mul = 3600e9;
    } else if (*end && strcmp(end, "s")) {
        return -1;
    }
    if (v * mul < 1e6 || v * mul > 1e9 * 86400 * 7) { /* 1 ms .. a week */
        return -1;
    }
    *ns = (uint64_t)(v * mul);
    return 0;
}

int opts_spin(const char *s, uint64_t *ns)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v >= 0)) {
        return -1;
    }
    double mul = !strcmp(end, "us") ? 1e3 : !strcmp(end, "ms") ? 1e6 : !strcmp(end, "ns") ? 1 : -1;
    if (!*end && v == 0) {
        mul = 0;
    }
    if (mul < 0 || v * mul > 1e7) {
        return -1;
    }
    *ns = (uint64_t)(v * mul);
    return 0;
}

int opts_rate(const char *s, double *rate)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v >= 0) || !isfinite(v) || !decimal(s, end)) {
        return -1;
    }
    if (*end == 'k' || *end == 'K') {
        v *= 1e3;
        end++;
    } else if (*end == 'M') {
        v *= 1e6;
        end++;
    }
    /* below 1 request in 1000 s the gaps between a connection's requests outgrow the
     * clock's range; 0 itself is the closed loop */
    if (*end || v > 1e9 || (v > 0 && v < 0.001)) {
        return -1;
    }
    *rate = v;
    return 0;
}

int opts_cpus(const char *s, int **cpus, int *n)
{
    int cap = 8, k = 0;
    int *out = malloc(sizeof(int) * (size_t)cap);
    const char *p = s;
    while (out && *p) {
        char *end;
        long a = strtol(p, &end, 10), b;
        if (end == p || a < 0 || a >= CPU_SETSIZE) {
            break;
        }
        b = a;
        p = end;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            if (end == p + 1 || b < a || b >= CPU_SETSIZE) {
                break;
            }
            p = end;
        }
        for (long c = a; c <= b; c++) {
            if (k == cap) {
                cap *= 2;
                int *m = realloc(out, sizeof(int) * (size_t)cap);
                if (!m) {
                    free(out);
                    return -1;
                }
                out = m;
            }
            out[k++] = (int)c;
        }
        if (*p == ',') {
            p++;
            if (!*p) {
                k = 0; /* a trailing comma: a list cut short */
                break;
            }
        } else if (*p) {
            break;
        }
    }
    if (!out || *p || k == 0) {
        free(out);
        return -1;
    }
    *cpus = out;
    *n = k;
    return 0;
}

bool opts_writable(const char *path)
{
    if (access(path, F_OK) == 0) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            errno = EISDIR;
            return false;
        }
        return access(path, W_OK) == 0;
    }
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) {
        return access(".", W_OK | X_OK) == 0;
    }
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path) ? (int)(slash - path) : 1, path);
    return access(dir, W_OK | X_OK) == 0;
}

static long int_arg(const char *name, const char *v, long lo, long hi)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (end == v || *end || errno || n < lo || n > hi) {
        fprintf(stderr, "spate-load: bad %s '%s' (an integer from %ld to %ld)\n%s", name, v, lo,
                hi, usage_text);
        exit(2);
    }
    return n;
}

/* http://host[:port][/path], host a name, an IPv4 literal or [IPv6]; resolved here once. */
static void parse_url(struct load_opts *o, const char *url)
{
    o->url = url;
    if (strncasecmp(url, "http://", 7)) { /* schemes are case-insensitive (RFC 3986 3.1) */
        usage_error(strncasecmp(url, "https://", 8) ? "bad URL '%s' (want http://HOST[:PORT]/PATH)"
                                                    : "bad URL '%s': only http:// is supported",
                    url);
    }
    for (const char *q = url; *q; q++) {
        if ((unsigned char)*q <= 0x20 || *q == 0x7f) {
            usage_error("bad URL '%s' (a space or a control character: percent-encode it)", url);
        }
    }
    const char *h = url + 7, *he, *rest;
    if (*h == '[') {
        he = strchr(h, ']');
        if (!he) {
            usage_error("bad URL '%s' (unclosed [IPv6 literal])", url);
        }
        rest = he + 1;
        h++;
        if (!memchr(h, ':', (size_t)(he - h))) {
            usage_error("bad URL '%s' (brackets are for IPv6 literals only)", url);
        }
    } else {
        he = h + strcspn(h, ":/?#");
        rest = he;
    }
    if (he == h) {
        usage_error("bad URL '%s' (no host)", url);
    }
    if ((size_t)(he - h) >= sizeof(o->host)) {
        usage_error("bad URL '%s' (host name longer than 255 bytes)", url);
    }
    memcpy(o->host, h, (size_t)(he - h));
    o->host[he - h] = 0;
    snprintf(o->port, sizeof(o->port), "80");
    if (*rest == ':') {
        const char *pe = rest + 1 + strcspn(rest + 1, "/?#");
        size_t pl = (size_t)(pe - rest - 1);
        if (pl == 0 || pl > 5 || strspn(rest + 1, "0123456789") != pl) {
            usage_error("bad URL '%s' (bad port)", url);
        }
        memcpy(o->port, rest + 1, pl);
        o->port[pl] = 0;
        if (atoi(o->port) < 1 || atoi(o->port) > 65535) {
            usage_error("bad URL '%s' (bad port)", url);
        }
        rest = pe;
    } else if (*rest && *rest != '/' && *rest != '?') {
        usage_error("bad URL '%s'", url);
    }
    if (*rest == '#' ) {
        rest = "";
    }
    size_t rl = strcspn(rest, "#");
    o->path = malloc(rl + 2);
    if (*rest == '?') {
        o->path[0] = '/';
        memcpy(o->path + 1, rest, rl);
        o->path[rl + 1] = 0;
    } else if (rl == 0) {
        strcpy(o->path, "/");
    } else {
        memcpy(o->path, rest, rl);
        o->path[rl] = 0;
    }
    bool v6 = strchr(o->host, ':') != NULL;
    bool dflt = !strcmp(o->port, "80");
    snprintf(o->hostport, sizeof(o->hostport), "%s%s%s%s%s", v6 ? "[" : "", o->host,
             v6 ? "]" : "", dflt ? "" : ":", dflt ? "" : o->port);

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(o->host, o->port, &hints, &res);
    if (rc) {
        fprintf(stderr, "spate-load: cannot resolve '%s': %s\n", o->host, gai_strerror(rc));
        exit(1);
    }
    memcpy(&o->addr, res->ai_addr, res->ai_addrlen);
    o->addrlen = res->ai_addrlen;
    o->addrs = res; /* main's probe settles on the first that connects */
}

static void add_header(struct load_opts *o, const char *h)
{
    const char *colon = strchr(h, ':');
    if (!colon || colon == h || strpbrk(h, "\r\n")) {
        usage_error("bad header '%s' (want 'Name: value')", h);
    }
    /* the name is a token (RFC 9110 5.1): a space or a separator in it is a 400 */
    static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for (const char *q = h; q < colon; q++) {
        if (!strchr(tchar, *q)) {
            usage_error("bad header '%s' (the name holds a character a header name cannot)", h);
        }
    }
    if (colon - h == 4 && !strncasecmp(h, "host", 4)) {
        if (o->host_header) {
            usage_error("bad header '%s' (a second Host)", h);
        }
        o->host_header = true;
    }
    size_t n = strlen(h);
    char *m = realloc(o->headers, o->headers_len + n + 3);
    if (!m) {
        exit(1);
    }
    o->headers = m;
    memcpy(o->headers + o->headers_len, h, n);
    memcpy(o->headers + o->headers_len + n, "\r\n", 3);
    o->headers_len += n + 2;
}

enum { O_PIPE = 256, O_CLOSE, O_PATHS, O_ZIPF, O_JSON, O_PLOT, O_MERGE, O_CPUS, O_POISSON,
       O_TIMEOUT, O_CHECK, O_SHA, O_LABEL, O_SPIN };

int opts_parse(struct load_opts *o, int argc, char **argv, bool *merge, int *merge_argi)
{
    static const struct option longs[] = {
        {"threads", 1, 0, 't'},      {"connections", 1, 0, 'c'}, {"duration", 1, 0, 'd'},
        {"rate", 1, 0, 'R'},         {"header", 1, 0, 'H'},      {"method", 1, 0, 'm'},
        {"pipeline", 1, 0, O_PIPE},  {"close", 0, 0, O_CLOSE},   {"paths", 1, 0, O_PATHS},
        {"zipf", 1, 0, O_ZIPF},      {"json", 1, 0, O_JSON},     {"plot", 1, 0, O_PLOT},
        {"plot-merge", 0, 0, O_MERGE}, {"cpus", 1, 0, O_CPUS},   {"poisson", 0, 0, O_POISSON},
        {"timeout", 1, 0, O_TIMEOUT}, {"check", 1, 0, O_CHECK},  {"sha256", 1, 0, O_SHA},
        {"label", 1, 0, O_LABEL},    {"spin", 1, 0, O_SPIN},    {"help", 0, 0, 'h'},        {"version", 0, 0, 'V'},
        {0, 0, 0, 0}};
    *o = (struct load_opts){.threads = 1, .conns = 10, .pipeline = 1, .method = "GET",
                            .duration_ns = 10000000000ull, .timeout_ns = 2000000000ull,
                            .spin_ns = 30000};
    *merge = false;
    const char *cpus = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "+t:c:d:R:H:m:hV", longs, NULL)) != -1) {
        switch (c) {
        case 't': o->threads = (int)int_arg("thread count", optarg, 1, 1024); break;
        case 'c': o->conns = (int)int_arg("connection count", optarg, 1, 1000000); break;
        case 'd':
            if (opts_duration(optarg, &o->duration_ns) < 0) {
                usage_error("bad duration '%s' (like 10s, 2m, 500ms)", optarg);
            }
            break;
        case 'R':
            if (opts_rate(optarg, &o->rate) < 0) {
                usage_error("bad rate '%s' (requests/s, like 2000 or 10k; 0 = closed loop)",
                            optarg);
            }
            break;
        case 'H': add_header(o, optarg); break;
        case 'm':
            if (!*optarg || strspn(optarg, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(optarg)) {
                usage_error("bad method '%s'", optarg);
            }
            o->method = optarg;
            break;
        case O_PIPE:
            o->pipeline = (int)int_arg("pipeline depth", optarg, 1, LOAD_MAX_PIPELINE);
            break;
        case O_CLOSE: o->close = true; break;
        case O_PATHS: o->paths_file = optarg; break;
        case O_ZIPF: {
            char *end;
            o->zipf = strtod(optarg, &end);
            if (end == optarg || *end || !(o->zipf > 0) || o->zipf > 10) {
                usage_error("bad Zipf exponent '%s' (a number above 0, like 1.0)", optarg);
            }
            break;
        }
        case O_JSON: o->json_file = optarg; break;
        case O_PLOT: o->plot_file = optarg; break;
        case O_MERGE:
            *merge = true;
            if (optind >= argc - 1) {
                usage_error("%s needs OUT.svg and at least one JSON file", "--plot-merge");
            }
            *merge_argi = optind;
            return 0;
        case O_CPUS:
            cpus = optarg;
            if (opts_cpus(optarg, &o->cpus, &o->ncpus) < 0) {
                usage_error("bad CPU list '%s' (like 0,2-3)", optarg);
            }
            break;
        case O_POISSON: o->poisson = true; break;
        case O_TIMEOUT:
            if (opts_duration(optarg, &o->timeout_ns) < 0) {
                usage_error("bad timeout '%s' (like 2s, 500ms)", optarg);
            }
            break;
        case O_CHECK:
            if (o->check) {
                usage_error("--check and --sha256 both given (the second: %s): give one of them once",
                            optarg);
            }
            if (check_file_digest(optarg, o->sha256) < 0) {
                fprintf(stderr, "spate-load: cannot read --check file '%s'\n", optarg);
                exit(2);
            }
            o->check = true;
            break;
        case O_SHA:
            if (o->check) {
                usage_error("--check and --sha256 both given (the second: %s): give one of them once",
                            optarg);
            }
            if (check_parse_hex(optarg, o->sha256) < 0) {
                usage_error("bad --sha256 '%s' (64 hex digits)", optarg);
            }
            o->check = true;
            break;
        case O_LABEL: o->label = optarg; break;
        case O_SPIN:
            if (opts_spin(optarg, &o->spin_ns) < 0) {
                usage_error("bad --spin '%s' (0, or up to 10ms: 30us, 1ms)", optarg);
            }
            break;
        case 'h': fputs(usage_text, stdout); exit(0);
        case 'V': puts("spate-load " SPATE_VERSION); exit(0);
        default: fputs(usage_text, stderr); exit(2);
        }
    }
    (void)cpus;
    if (optind != argc - 1) {
        usage_error("%s", optind >= argc ? "no URL given" : "more than one URL given");
    }
    if (o->conns < o->threads) {
        fprintf(stderr, "spate-load: -c %d is fewer than -t %d: each thread needs a connection\n",
                o->conns, o->threads);
        exit(2);
    }
    if (o->zipf > 0 && !o->paths_file) {
        usage_error("%s needs --paths FILE", "--zipf");
    }
    if (o->check && !strcmp(o->method, "HEAD")) {
        usage_error("%s: HEAD answers have no body to check", "--check/--sha256");
    }
    if (o->plot_file && !plot_name_ok(o->plot_file)) {
        usage_error("bad --plot '%s' (a name ending in .svg or .html)", o->plot_file);
    }
    /* found now, not after a run of minutes */
    const char *outs[] = {o->json_file, o->plot_file};
    for (int i = 0; i < 2; i++) {
        if (outs[i] && strcmp(outs[i], "-") && !opts_writable(outs[i])) {
            fprintf(stderr, "spate-load: cannot write %s: %s\n", outs[i], strerror(errno));
            exit(2);
        }
    }
    parse_url(o, argv[optind]);
    if (o->paths_file) {
        char why[160];
        o->paths = paths_load(o->paths_file, o->zipf, why, sizeof(why));
        if (!o->paths) {
            fprintf(stderr, "spate-load: cannot use --paths '%s': %s (one path a line, each "
                            "starting with /)\n", o->paths_file, why);
            exit(2);
        }
    }
    if (!o->label) {
        o->label = o->url;
    }
    return 0;
}

void opts_free(struct load_opts *o)
{
    free(o->headers);
    free(o->path);
    free(o->cpus);
    paths_free(o->paths);
    if (o->addrs) {
        freeaddrinfo(o->addrs);
    }
}
