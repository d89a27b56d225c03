/*
 * upgrade.h - binary upgrade (SIGUSR2, `spate -s upgrade`) with no dropped connection.
 *
 * spate drops its privileges and sandboxes itself (seccomp, Landlock), so the serving process
 * cannot start a program, nor rename its pid file. At startup, before both, it forks a small
 * launcher that keeps the starting credentials and no sandbox, and only waits on a socket
 * pair (as nginx's master keeps root for the same reason). On SIGUSR2 the serving process
 * sends the launcher every listening socket (SCM_RIGHTS) and the pid file's path; the launcher
 * renames PIDFILE to PIDFILE.oldbin and starts the binary spate was started from (the path it
 * had then, so a package that replaced the file starts the new one) with the same arguments,
 * the sockets inherited (core/net/inherit.h) and a readiness pipe. The new process takes the
 * same sockets, writes the pid file, starts its workers, and says "ready"; then the old one
 * stops accepting, finishes its connections and exits, and its launcher removes
 * PIDFILE.oldbin. Connections waiting in the accept queues are the new process's: the
 * sockets are the same, nothing is closed under them.
 *
 * A new binary that fails (exits, or is not ready within UPGRADE_READY_MS) is killed, the pid
 * file is renamed back, and the old process goes on serving, saying why in the error log.
 *
 * Main thread only.
 */
#pragma once

#include "core/base/compiler.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define UPGRADE_READY_MS 60000

struct runtime;

/* Before privileges drop and the sandbox applies, before any thread: forks the launcher.
 * 0, or -1 with a sentence in err. */
int upgrade_init(char **argv, char *err, size_t errlen) MUST_CHECK;

/* SIGUSR2: hands every listening socket of rt to the launcher, which starts the new binary.
 * pidpath: the pid file in force (NULL: none). 0, or -1 with a sentence in err. */
int upgrade_begin(const struct runtime *rt, const char *pidpath, char *err, size_t errlen)
    MUST_CHECK;

/* True between upgrade_begin and the launcher's answer. */
bool upgrade_pending(void);

/* The launcher's answer, without waiting: 0 none yet; > 0 the new process's pid, which is
 * serving; -1 the upgrade failed (the reason in err). */
pid_t upgrade_poll(char *err, size_t errlen);

/* A process started by an upgrade, once it serves: tells the launcher that started it. */
void upgrade_ready(void);
