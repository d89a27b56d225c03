/*
 * cgi_spawn.h - how a worker asks the spawner process to start a CGI script, and what the
 * spawner tells it back.
 *
 * Why a spawner: the workers run under a seccomp filter without fork or execve, confined by
 * Landlock, and must never block; a fork from a large multi-threaded process is slow and its
 * page tables are copied while the worker waits. So at start, before the sandbox applies
 * (core/app/sandbox.c), spate forks one small helper process (core/app/cgi_spawner.c) that
 * keeps the user spate runs as but none of the filters, holds one end of a SOCK_SEQPACKET
 * socket pair, and does the forks and execs for every worker. Messages on a SEQPACKET socket
 * are atomic, so all workers share the socket's other end (non-blocking, sent through the
 * worker's io_uring).
 *
 * A request is one message: struct cgi_spawn_msg, then the script's path, its directory and
 * its environment (NAME=VALUE strings), each NUL-terminated; with it, in SCM_RIGHTS, four
 * descriptors: the script's stdin (a pipe's read end), stdout and stderr (write ends) and a
 * status pipe's write end. The worker closes its copies once the message is sent.
 *
 * The status pipe is the whole conversation about that script. The spawner writes records
 * (struct cgi_rec, atomic: far below PIPE_BUF): CGI_REC_STARTED with the pid, or
 * CGI_REC_FAILED with an errno (fork or exec failed: ENOENT, EACCES, ENOEXEC, EAGAIN when the
 * spawner is full); later CGI_REC_EXITED with the wait status. Then it closes its end. The
 * worker asks for the script's end by closing its read end: the spawner sees the pipe's
 * POLLERR, sends SIGTERM to the script's process group, SIGKILL two seconds later. When the
 * script exits by itself, whatever is left in its process group is killed (SIGKILL) before the
 * script is reaped, so no straggler outlives it; the spawner is a child subreaper, so orphans
 * that escaped the group are reaped too. End of file on the status pipe without an EXITED
 * record means the spawner died.
 *
 * In the child: a new session (setsid: its own process group), the signal mask and every
 * disposition reset, the RLIMITs of the message, stdin/stdout/stderr from the pipes, every
 * other descriptor closed, cwd the script's directory, then execve(path, {path}, env): no
 * shell; the kernel follows a #! line itself.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/base/slice.h"
#include "core/http/req.h"

#include <stddef.h>
#include <stdint.h>

#define CGI_SPAWN_MAGIC 0x31494743u     /* "CGI1" */
#define CGI_SPAWN_MSG_MAX (128u * 1024) /* a request's bytes, environment included */
#define CGI_SPAWN_FDS 4

struct cgi_spawn_msg {
    uint32_t magic;
    uint32_t path_len; /* with its NUL */
    uint32_t dir_len;  /* with its NUL */
    uint32_t env_len;  /* the NAME=VALUE strings, each with its NUL */
    uint32_t nenv;
    uint32_t pad;
    uint64_t rlimit_cpu;    /* seconds; 0: as the spawner has it */
    uint64_t rlimit_as;     /* bytes; 0: as the spawner has it */
    uint64_t rlimit_nofile; /* descriptors; 0: as the spawner has it */
};

enum cgi_rec_kind {
    CGI_REC_STARTED = 1, /* value: the pid */
    CGI_REC_FAILED = 2,  /* value: an errno */
    CGI_REC_EXITED = 3,  /* value: the wait status */
};

struct cgi_rec {
    int32_t kind;
    int32_t value;
};

/* The workers' end of the spawner's socket (core/app/cgi_spawner.c sets it), or -1. */
void cgi_spawner_set(int fd);
int cgi_spawner_fd(void);

/* ---- the worker's side: building a request ---- */

struct cgi_conf;

/* What the handler found for a request (slices in the request's arena or the run's memory). */
struct cgi_spawn_what {
    const char *script;           /* absolute file name, NUL-terminated */
    const char *dir;              /* its directory, NUL-terminated */
    struct slice script_name;     /* the URI's part naming the script */
    struct slice path_info;       /* the rest ("" when none) */
    struct slice path_translated; /* PATH_INFO mapped as a URI of the server, or NULL */
    struct slice document_root;
    const struct cgi_conf *conf; /* cgi_param and the RLIMITs */
};

/*
 * Writes the spawn request for r into buf (CGI_SPAWN_MSG_MAX bytes): struct cgi_spawn_msg,
 * the strings, the environment (cgi_env.h, with r's fields, variables and cgi_param values).
 * Returns its length, -E2BIG when the environment does not fit, -ENOMEM.
 */
long cgi_spawn_build(struct req *r, const struct cgi_spawn_what *w, char *buf) MUST_CHECK;
