/*
 * sandbox.h - confining the running process: Landlock (`sandbox on|off;`), a seccomp filter
 * and io_uring restrictions (`seccomp on|off;`), both main context, default on.
 *
 * sandbox_apply runs on the main thread right after privilege_drop (privilege.h: the ids are
 * final and no_new_privs is set) and before any worker, helper or log thread starts, so every
 * thread inherits what it applies. docs/security.md says what each layer stops.
 *
 * Landlock (kernel 5.13+, ABI detected and degraded): the file system rights the kernel knows
 * are denied except
 *   - reads beneath each directory the process holds open at that moment (the roots, the
 *     alias directories: opened at start), and of each file it holds open for reading;
 *   - writes to each file it holds open for writing (the logs) and, beneath each such file's
 *     directory, making and writing files (a log reopened after rotation); beneath the pid
 *     file's directory, making, writing and removing it;
 *   - reads of the configuration's files and beneath its directory (a reload reads them
 *     again), unless that directory is / or /etc (then its files only); reads of the files
 *     beside each `auth_basic_user_file` (it is re-read when it changes);
 *   - reads of a few system files a lookup needs (/etc/passwd, group, nsswitch.conf, hosts,
 *     resolv.conf, localtime and the zoneinfo, mime.types, the magic database), and beneath
 *     /proc/self;
 *   - when `userdir` is written: reads beneath /home and beneath the homes (at start) of users
 *     with uid 1000 or more (nobody excepted), and of the files in /etc (useradd replaces
 *     /etc/passwd, and a rule on a file holds the file it was, not its name).
 * ABI 6+ also scopes signals and abstract unix sockets to the process. TCP ports are not
 * restricted. A reload that needs a path outside these fails (the error log says the sandbox
 * refused it): new paths need a restart.
 *
 * seccomp (libseccomp): an allow-list of the system calls spate makes after start; any other
 * fails with EPERM (logged by the kernel's audit, SCMP_FLTATR_CTL_LOG) instead of killing the
 * process. io_uring operations do not pass seccomp: the workers' rings are restricted to the
 * operations spate submits (core/io/uring.h, io_ring_lock_down). A feature that makes a new
 * system call or io_uring operation after start must add it to these lists.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/conf/conf.h"

#include <stdbool.h>
#include <stddef.h>

/* Applies what c's `sandbox` and `seccomp` say. 0, or -1 with a sentence in err. */
int sandbox_apply(const struct conf *c, char *err, size_t errlen) MUST_CHECK;

/*
 * After a reload built its configuration: a directory the process holds open (a root it
 * opened) that Landlock would not let it read. 0, or -1 with a sentence naming it in err.
 */
int sandbox_check_reach(char *err, size_t errlen) MUST_CHECK;

/* True once Landlock restricts the process (a reload's failure may be its refusal). */
bool sandbox_landlocked(void);
