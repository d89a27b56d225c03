/* privilege.c - the `user`, `chroot`, `sandbox` and `seccomp` rows; dropping root (privilege.h). */
#include "core/app/privilege.h"

#include "core/conf/types.h"
#include "log/errlog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define OFF(f) offsetof(struct privilege_settings, f)

enum { ROW_USER, ROW_CHROOT, ROW_SANDBOX, ROW_SECCOMP };

static const struct conf_row rows[] = {
    [ROW_USER] = {"user", CONF_MAIN, CONF_STORE_MAIN, 1, 2, 0, &conf_words, OFF(user), NULL, 0, 0,
                  "nobody", NULL},
    [ROW_CHROOT] = {"chroot", CONF_MAIN, CONF_STORE_MAIN, 1, 1, 0, &conf_path_t, OFF(chroot), NULL,
                    0, 0, "/", NULL},
    [ROW_SANDBOX] = {"sandbox", CONF_MAIN, CONF_STORE_MAIN, 1, 1, 0, &conf_flag, OFF(sandbox), "on",
                     0, 0, "off", NULL},
    [ROW_SECCOMP] = {"seccomp", CONF_MAIN, CONF_STORE_MAIN, 1, 1, 0, &conf_flag, OFF(seccomp), "on",
                     0, 0, "off", NULL},
};

/* The group a user runs with when `user` names none: the group of the user's name, as nginx
 * (`user nobody` is nobody:nobody), else the user's own group from the passwd entry. */
static int default_group(const struct passwd *pw, struct privilege_settings *s)
{
    const char *want = strcmp(pw->pw_name, "nobody") == 0 ? "nogroup" : pw->pw_name;
    struct group *gr = getgrnam(want);
    if (!gr && strcmp(pw->pw_name, "nobody") == 0) {
        gr = getgrnam("nobody");
    }
    if (!gr) {
        gr = getgrgid(pw->pw_gid);
    }
    s->gid = gr ? gr->gr_gid : pw->pw_gid;
    if (gr) {
        snprintf(s->group, sizeof(s->group), "%s", gr->gr_name);
    } else {
        snprintf(s->group, sizeof(s->group), "%u", (unsigned)pw->pw_gid);
    }
    return 0;
}

/* Resolves the user and group when spate runs as root (else there is nothing to switch to). */
static int finish(struct conf *c, unsigned slot, char *err, size_t errlen)
{
    struct privilege_settings *s = conf_main(c, slot);
    struct conf_where at = conf_where_of(c->main, slot, ROW_USER);
    if (s->chroot) {
        struct stat st;
        const char *why = stat(s->chroot, &st) < 0 ? strerror(errno)
                          : !S_ISDIR(st.st_mode)   ? "not a directory"
                                                   : NULL;
        if (why) {
            return conf_fail_at(err, errlen, conf_where_of(c->main, slot, ROW_CHROOT),
                                "chroot \"%s\": %s", s->chroot, why);
        }
    }
    s->drop = false;
    if (geteuid() != 0) {
        return 0; /* said at start: privilege_drop */
    }
    const char *name = s->user.n ? s->user.v[0] : "nobody";
    struct passwd *pw = getpwnam(name);
    if (!pw) {
        if (!s->user.n) {
            return conf_fail_at(err, errlen, at,
                                "spate runs as root and there is no user \"nobody\" to drop to: "
                                "write \"user NAME [GROUP];\" (or \"user root;\" to keep root)");
        }
        return conf_fail_at(err, errlen, at, "user \"%s\": no such user", name);
    }
    snprintf(s->name, sizeof(s->name), "%s", pw->pw_name);
    s->uid = pw->pw_uid;
    if (s->user.n == 2) {
        struct group *gr = getgrnam(s->user.v[1]);
        if (!gr) {
            return conf_fail_at(err, errlen, at, "user %s %s: no such group", name, s->user.v[1]);
        }
        s->gid = gr->gr_gid;
        snprintf(s->group, sizeof(s->group), "%s", gr->gr_name);
    } else {
        default_group(pw, s);
    }
    s->drop = s->uid != 0 || s->gid != 0;
    return 0;
}

const struct conf_module privilege_module = {
    .name = "privilege",
    .rows = rows,
    .nrows = ARRAY_SIZE(rows),
    .size = {[CONF_STORE_MAIN] = sizeof(struct privilege_settings)},
    .finish = finish,
};

const struct privilege_settings *privilege_settings(const struct conf *c)
{
    int slot = conf_slot(c, &privilege_module);
    return slot < 0 ? NULL : conf_main(c, (unsigned)slot);
}

/* ---------------------------------------------------------------- the drop */

static int fail(char *err, size_t errlen, const char *what, int e)
{
    snprintf(err, errlen, "dropping privileges: %s: %s", what, strerror(e));
    return -1;
}

static char dropped_to[64];

const char *privilege_user(void)
{
    return dropped_to[0] ? dropped_to : NULL;
}

/*
 * The logs opened as root become the user's, as nginx does at reopen: SIGUSR1 and a reload
 * reopen them by path as that user. Only files root owns: another user's file stays theirs.
 */
static void give_logs(uid_t uid)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        struct stat st;
        if (*end || e->d_name[0] == '.' || fd <= 2 || fd == dirfd(d) || fstat((int)fd, &st) < 0) {
            continue;
        }
        int fl = fcntl((int)fd, F_GETFL);
        if (S_ISREG(st.st_mode) && st.st_uid == 0 && fl >= 0 && (fl & O_ACCMODE) != O_RDONLY &&
            fchown((int)fd, uid, (gid_t)-1) < 0) {
            errlog(ERRLOG_WARN, "cannot give a log file to uid %u: %s", (unsigned)uid,
                   strerror(errno));
        }
    }
    closedir(d);
}

/*
 * io_uring charges the pages it pins (the provided-buffer rings) to the user's locked memory,
 * which RLIMIT_MEMLOCK bounds for every process of that user together (nobody is shared): the
 * limit root may raise is raised before the drop, or workers would fail with ENOMEM.
 */
static void keep_memlock(void)
{
    struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
    if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0 && getrlimit(RLIMIT_MEMLOCK, &rl) == 0) {
        /* no CAP_SYS_RESOURCE (a container): the soft limit up to the hard one at least */
        errlog(ERRLOG_INFO,
               "RLIMIT_MEMLOCK stays %llu bytes (cannot raise it: %s): io_uring "
               "may fail with ENOMEM once the user's processes pin that much",
               (unsigned long long)rl.rlim_max, strerror(errno));
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_MEMLOCK, &rl);
    }
}

/* Not root any more, for good: each id is the user's, and none can be set back to 0. */
static int verify(const struct privilege_settings *s, char *err, size_t errlen)
{
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0) {
        return fail(err, errlen, "getresuid", errno);
    }
    if (ru != s->uid || eu != s->uid || su != s->uid || rg != s->gid || eg != s->gid ||
        sg != s->gid) {
        snprintf(err, errlen, "dropping privileges: ids are %u/%u/%u:%u/%u/%u, not %u:%u",
                 (unsigned)ru, (unsigned)eu, (unsigned)su, (unsigned)rg, (unsigned)eg, (unsigned)sg,
                 (unsigned)s->uid, (unsigned)s->gid);
        return -1;
    }
    if (s->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        snprintf(err, errlen, "dropping privileges: setuid(0) still succeeds");
        return -1;
    }
    if (s->uid != 0 && s->gid != 0 && (setgid(0) == 0 || setegid(0) == 0)) {
        snprintf(err, errlen, "dropping privileges: setgid(0) still succeeds");
        return -1;
    }
    return 0;
}

/* Root's part: what needs /proc and /etc first, then the chroot, then the ids. */
static int become(const struct privilege_settings *s, char *err, size_t errlen)
{
    gid_t groups[256];
    int ngroups = (int)ARRAY_SIZE(groups);
    if (s->drop) {
        give_logs(s->uid);
        keep_memlock();
        /* the user's groups are read before a chroot hides /etc/group */
        if (getgrouplist(s->name, s->gid, groups, &ngroups) < 0) {
            snprintf(err, errlen, "dropping privileges: user %s is in more than %zu groups",
                     s->name, ARRAY_SIZE(groups));
            return -1;
        }
    }
    if (s->chroot) {
        if (chroot(s->chroot) < 0 || chdir("/") < 0) {
            return fail(err, errlen, "chroot", errno);
        }
        errlog(ERRLOG_NOTICE, "chroot %s: paths read from now on are inside it", s->chroot);
    }
    if (!s->drop) {
        errlog(ERRLOG_WARN, "user root: spate keeps running as root (uid 0)");
        return 0;
    }
    if (setgroups((size_t)ngroups, groups) < 0) {
        return fail(err, errlen, "setgroups", errno);
    }
    if (setgid(s->gid) < 0) {
        return fail(err, errlen, "setgid", errno);
    }
    if (setuid(s->uid) < 0) {
        return fail(err, errlen, "setuid", errno);
    }
    if (verify(s, err, errlen) < 0) {
        return -1;
    }
    snprintf(dropped_to, sizeof(dropped_to), "%s", s->name);
    errlog(ERRLOG_NOTICE, "running as user %s (uid %u), group %s (gid %u)%s", s->name,
           (unsigned)s->uid, s->group, (unsigned)s->gid,
           s->user.n ? ""
                     : ": started as root with no \"user\" directive, so as nginx does (write "
                       "\"user root;\" to keep root)");
    return 0;
}

int privilege_drop(const struct conf *c, char *err, size_t errlen)
{
    const struct privilege_settings *s = privilege_settings(c);
    if (geteuid() != 0) {
        if (s->user.n) {
            struct passwd *pw = getpwnam(s->user.v[0]);
            if (!pw || pw->pw_uid != geteuid()) {
                errlog(ERRLOG_NOTICE,
                       "\"user %s\" has no effect: spate was not started as root; it runs as "
                       "uid %u",
                       s->user.v[0], (unsigned)geteuid());
            }
        }
        if (s->chroot) {
            errlog(ERRLOG_NOTICE, "\"chroot %s\" has no effect: spate was not started as root",
                   s->chroot);
        }
    } else if (become(s, err, errlen) < 0) {
        return -1;
    }
    /* no exec can give anything back (and Landlock and seccomp need it when not root) */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        return fail(err, errlen, "PR_SET_NO_NEW_PRIVS", errno);
    }
    return 0;
}
