/*
 * privilege.h - giving up root after start: `user USER [GROUP];` and `chroot DIR;` (main
 * context), and the settings of the sandbox that follows (sandbox.h: `sandbox`, `seccomp`).
 *
 * Everything privileged happens before the drop: the listening sockets are bound, the logs
 * and the pid file are written, the roots are opened (their directory descriptors are what
 * requests are served beneath). privilege_drop then, on the main thread before any worker
 * starts: the logs handed to the user, RLIMIT_MEMLOCK raised, the user's supplementary groups
 * read (getgrouplist, before a chroot hides /etc/group), chroot(DIR) and chdir("/") when
 * asked, setgroups, setgid, setuid, a check that every id is the user's and that setuid(0)
 * and setgid(0) now fail, and PR_SET_NO_NEW_PRIVS. The threads started after it inherit it.
 *
 * The default, as nginx's: started as root with no `user`, spate drops to nobody (group
 * nogroup, else nobody's own group) and says so at notice level; `user root;` keeps root,
 * with a warning. Started as another user, `user` has no effect unless it names that user
 * (nginx's warning, at notice level here). A reload can change none of it: the running
 * process has given up what it would need.
 *
 * Main thread only.
 */
#pragma once

#include "core/base/compiler.h"
#include "core/conf/conf.h"
#include "core/conf/types.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct privilege_settings {
    struct conf_words user; /* USER [GROUP]; n == 0: not written */
    char *chroot;           /* absolute, or NULL */
    bool sandbox;           /* Landlock (sandbox.h) */
    bool seccomp;           /* the system-call filter (sandbox.h) */
    /* derived by finish */
    uid_t uid;
    gid_t gid;
    bool drop;     /* started as root and asked to (or by default) give it up */
    char name[64]; /* the user's name, for its groups and the log */
    char group[64];
};

extern const struct conf_module privilege_module;

const struct privilege_settings *privilege_settings(const struct conf *c);

/* The user privilege_drop switched to, or NULL (still the user spate started as). */
const char *privilege_user(void);

/* Drops root as c says (see above). 0, or -1 with a sentence in err: the caller exits. */
int privilege_drop(const struct conf *c, char *err, size_t errlen) MUST_CHECK;
