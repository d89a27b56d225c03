/*
 * load.h - what spate-load's pieces share: the parsed command line (struct load_opts) and the
 * figures each thread keeps (struct load_stats), merged by main.c into one report.
 *
 * Times are CLOCK_MONOTONIC nanoseconds. Each thread owns its stats and its histogram and
 * writes them with no lock; main reads them only after joining the threads.
 */
#pragma once

#include "core/base/histogram.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define LOAD_MAX_PIPELINE 256

enum load_err {
    ERR_CONNECT, /* connect() failed */
    ERR_READ,    /* recv() failed (reset by the peer, ...) */
    ERR_WRITE,   /* send() failed */
    ERR_TIMEOUT, /* no complete response within --timeout of the send */
    ERR_PARSE,   /* a response that is not HTTP/1.x, or bytes nobody asked for */
    ERR_CLOSED,  /* the server closed with responses still owed */
    ERR_CHECK,   /* a body that does not match --check / --sha256 */
    ERR_N
};

extern const char *const load_err_names[ERR_N];

struct load_paths; /* paths.h */
struct addrinfo;

struct load_opts {
    int threads, conns, pipeline;
    uint64_t duration_ns, timeout_ns;
    uint64_t spin_ns; /* --spin: a wait for a send shorter than this polls instead of sleeping */
    double rate; /* requests/s over all connections; 0: closed loop */
    bool poisson, close;
    const char *method;
    char *headers; /* extra header lines, each "Name: value\r\n" */
    bool host_header; /* one of them is Host: it replaces the URL's */
    size_t headers_len;
    const char *paths_file, *json_file, *plot_file, *label;
    double zipf; /* 0: uniform choice among --paths */
    struct load_paths *paths;
    bool check;
    unsigned char sha256[32];
    int *cpus;
    int ncpus;
    /* the URL */
    const char *url;
    char host[256], port[8], hostport[300], *path;
    struct sockaddr_storage addr; /* the address used: the first of addrs that connects */
    socklen_t addrlen;
    struct addrinfo *addrs; /* every address the host resolved to */
};

struct load_stats {
    uint64_t requests; /* complete responses */
    uint64_t sent;
    uint64_t bytes; /* read from the sockets */
    uint64_t status[6]; /* [1..5]: 1xx..5xx (1xx only if final), [0]: anything else */
    uint64_t err[ERR_N];
    struct hist *lat; /* latency: completion - intended send (open loop) or actual send */
};

/* CLOCK_MONOTONIC now, ns. */
uint64_t load_now(void);
