/*
 * auth_file.h - an auth_basic_user_file as the workers see it: immutable snapshots, re-read
 * when the file changes.
 *
 * One struct auth_file per distinct path in a configuration (made by auth_basic's finish). It
 * holds the latest snapshot: the parsed accounts (fs/htpasswd.h) with the identity of the
 * file they came from (device, inode, size, mtime), or why the file cannot be used (missing,
 * unreadable, a plaintext password: the sentence the error log gets). auth_file_refresh()
 * stats the file and re-reads it only when its identity changed; it blocks (open, read), so
 * it runs on a helper thread (core/io/offload.h) or on the main thread at start, never on a
 * worker's. A worker takes the latest snapshot without waiting (auth_file_try_latest: a
 * trylock, as the mutex is only ever held by a refresh) and keeps its own reference: a
 * snapshot is never changed, and freed when its last holder lets go, on whatever thread.
 *
 * Threads: any; the counts are atomic, `latest` is under the file's mutex.
 */
#pragma once

#include "core/base/atomic.h"
#include "core/base/compiler.h"
#include "fs/htpasswd.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define AUTH_FILE_MAX (16u << 20) /* bytes: a larger file is refused */
#define AUTH_MSG_MAX 320

struct auth_snap {
    SP_ATOMIC(unsigned) refs;
    uint64_t gen; /* unique per snapshot, process-wide: part of the pair cache's key */
    /* the file it was read from (have_id: stat worked) */
    bool have_id;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    int err; /* 0; -errno when the file could not be read; -EINVAL: refused (msg says why) */
    char msg[AUTH_MSG_MAX]; /* err != 0: the error log's sentence, naming the file */
    struct htpasswd *pw;    /* err == 0 */
    const char *dummy;      /* a hash of the file's most common kind (an unknown user costs one
                             * too), NULL when the file has no account */
};

struct auth_file {
    SP_ATOMIC(unsigned) refs;
    char *path; /* absolute */
    pthread_mutex_t mu;
    struct auth_snap *latest; /* under mu; NULL before the first refresh */
};

/* A file object for path (one reference), nothing read yet. NULL on OOM. */
struct auth_file *auth_file_new(const char *path);

void auth_file_ref(struct auth_file *f);
void auth_file_unref(struct auth_file *f);

void auth_snap_ref(struct auth_snap *s);
void auth_snap_unref(struct auth_snap *s);

/*
 * Blocking (a helper thread, or the main thread): stats f's path and, when the file is not the
 * one the latest snapshot came from, reads and parses it into a new latest. Returns the latest
 * with a reference for the caller; NULL on OOM. *changed tells whether a new one was made.
 */
struct auth_snap *auth_file_refresh(struct auth_file *f, bool *changed);

/* Without blocking (a worker): the latest snapshot with a reference, or NULL (none yet, or a
 * refresh holds the file just now). */
struct auth_snap *auth_file_try_latest(struct auth_file *f);
