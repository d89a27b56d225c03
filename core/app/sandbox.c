/* sandbox.c - Landlock, the seccomp filter, and turning on io_uring restrictions (sandbox.h). */
#include "core/app/sandbox.h"

#include "core/app/cgi_spawner.h"
#include "core/app/pidfile.h"
#include "core/app/privilege.h"
#include "core/http/auth_basic.h"
#include "core/http/tls_conf.h"
#include "core/http/userdir.h"
#include "core/io/loop.h"
#include "log/errlog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/landlock.h>
#include <pwd.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---------------------------------------------------------------- Landlock */

/* The rights and attributes of later ABIs than the system's headers may name. */
#define LL_TRUNCATE (1ULL << 14)           /* ABI 3 */
#define LL_IOCTL_DEV (1ULL << 15)          /* ABI 5 */
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL (1ULL << 1)

#define LL_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define LL_FILE_RIGHTS                                                                             \
    (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |   \
     LL_TRUNCATE | LL_IOCTL_DEV)

/* The ruleset attribute as ABI 6 has it; a shorter size is passed to older kernels. */
struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

struct ll_path_beneath {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

static bool landlocked;

bool sandbox_landlocked(void)
{
    return landlocked;
}

struct ruleset {
    int fd;
    uint64_t handled;
    unsigned dirs, files, writes; /* rules added, for the log */
};

/* A rule for the object fd refers to: rights beneath it (a directory) or on it (a file). */
static bool add_fd(struct ruleset *rs, int fd, uint64_t access)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        access &= LL_FILE_RIGHTS;
    }
    struct ll_path_beneath pb = {.allowed_access = access & rs->handled, .parent_fd = fd};
    if (!pb.allowed_access ||
        syscall(SYS_landlock_add_rule, rs->fd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0) {
        return false;
    }
    if (access & LANDLOCK_ACCESS_FS_WRITE_FILE) {
        rs->writes++;
    } else if (S_ISDIR(st.st_mode)) {
        rs->dirs++;
    } else {
        rs->files++;
    }
    return true;
}

/* The same for a path; one that does not exist is no rule. */
static void add_path(struct ruleset *rs, const char *path, uint64_t access)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd >= 0) {
        add_fd(rs, fd, access);
        close(fd);
    }
}

/* Rights beneath the directory of path (the part before its last '/'). */
static void add_parent(struct ruleset *rs, const char *path, uint64_t access)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash || (size_t)(slash - path) >= sizeof(dir)) {
        return;
    }
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    memcpy(dir, path, n);
    dir[n] = '\0';
    add_path(rs, dir, access);
}

/* A rule for what descriptor fd is: a directory to read beneath, a file to write or read. */
static void add_open_fd(struct ruleset *rs, int fd)
{
    struct stat st;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fstat(fd, &st) < 0) {
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        add_fd(rs, fd, LL_READ);
    } else if (S_ISREG(st.st_mode) && (fl & O_ACCMODE) != O_RDONLY) {
        add_fd(rs, fd, LANDLOCK_ACCESS_FS_WRITE_FILE);
        char link[64], path[PATH_MAX];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, path, sizeof(path) - 1);
        if (fd > 2 && n > 0 && path[0] == '/') {
            path[n] = '\0';
            /* a log reopened after rotation is made anew beside the old one */
            add_parent(rs, path, LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_WRITE_FILE);
        }
    } else if (S_ISREG(st.st_mode)) {
        add_fd(rs, fd, LANDLOCK_ACCESS_FS_READ_FILE);
    }
}

/*
 * What the process holds open now: the roots and alias directories, the logs, the types. Listed
 * from /proc/self/fd, or, where there is none (a chroot without /proc), every descriptor below
 * the limit is tried.
 */
static void add_open_fds(struct ruleset *rs)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        struct rlimit rl;
        int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (1u << 20) ? (int)rl.rlim_cur
                                                                                 : 1 << 20;
        for (int fd = 0; fd < max; fd++) {
            add_open_fd(rs, fd);
        }
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (!*end && e->d_name[0] != '.' && fd != dirfd(d)) {
            add_open_fd(rs, (int)fd);
        }
    }
    closedir(d);
}

/* `userdir` written anywhere: its users' homes are read at request time. */
static bool userdir_written(const struct conf *c)
{
    int slot = conf_slot(c, &userdir_module);
    int row = conf_row_index(&userdir_module, "userdir");
    if (slot < 0 || row < 0) {
        return false;
    }
    if (conf_where_of(c->main, (unsigned)slot, (unsigned)row).line) {
        return true;
    }
    for (const struct conf_block *s = c->main->children; s; s = s->next) {
        if (conf_where_of(s, (unsigned)slot, (unsigned)row).line) {
            return true;
        }
    }
    return false;
}

/* The homes of users (uid 1000 up, nobody excepted), and /home, where useradd makes new ones. */
static void add_homes(struct ruleset *rs)
{
    add_path(rs, "/home", LL_READ);
    /* a rule on a file holds its inode, and useradd replaces /etc/passwd with a new one: files
     * beneath /etc then (what the user may read: /etc/shadow stays root's) */
    add_path(rs, "/etc", LANDLOCK_ACCESS_FS_READ_FILE);
    setpwent();
    struct passwd *pw;
    while ((pw = getpwent())) {
        if (pw->pw_uid >= 1000 && pw->pw_uid != 65534 && pw->pw_dir[0] == '/' &&
            strcmp(pw->pw_dir, "/") != 0) {
            add_path(rs, pw->pw_dir, LL_READ);
        }
    }
    endpwent();
}

/* A password file is re-read when it changes, and may be replaced by a rename: its directory. */
static void add_password_file(void *arg, const char *path)
{
    add_parent(arg, path, LANDLOCK_ACCESS_FS_READ_FILE);
}

/* A TLS file (certificate, key, ...) is read again at each reload, and renewed ones are
 * usually new files beside it or beside its link's target (certbot's live/ -> archive/). */
static void add_tls_file(void *arg, const char *path)
{
    add_parent(arg, path, LANDLOCK_ACCESS_FS_READ_FILE);
    char real[PATH_MAX];
    if (realpath(path, real) && strcmp(real, path) != 0) {
        add_parent(arg, real, LANDLOCK_ACCESS_FS_READ_FILE);
    }
}

static void add_rules(struct ruleset *rs, const struct conf *c)
{
    static const char *const system_files[] = {
        "/etc/passwd",
        "/etc/group",
        "/etc/nsswitch.conf",
        "/etc/hosts",
        "/etc/resolv.conf",
        "/etc/host.conf",
        "/etc/gai.conf",
        "/etc/services",
        "/etc/localtime",
        "/etc/mime.types",
        "/etc/magic",
        "/usr/share/misc/magic.mgc",
        "/usr/lib/file/magic.mgc",
        "/usr/share/file/magic.mgc",
    };
    add_open_fds(rs);
    for (size_t i = 0; i < ARRAY_SIZE(system_files); i++) {
        add_path(rs, system_files[i], LANDLOCK_ACCESS_FS_READ_FILE);
    }
    add_path(rs, "/usr/share/zoneinfo", LL_READ);
    add_path(rs, "/proc/self", LL_READ); /* its own status, maps, tasks (and LeakSanitizer's) */
    add_path(rs, "/dev/null", LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    /* the symbolizer a sanitizer report runs, its libraries, and the binary it reads */
    add_path(rs, "/usr", LL_READ | LANDLOCK_ACCESS_FS_EXECUTE);
    add_path(rs, "/proc/self/exe", LANDLOCK_ACCESS_FS_READ_FILE);
#endif
    for (unsigned i = 0; i < c->nfiles; i++) {
        add_path(rs, c->files[i], LANDLOCK_ACCESS_FS_READ_FILE);
    }
    if (c->dir && strcmp(c->dir, "/") != 0 && strcmp(c->dir, "/etc") != 0) {
        add_path(rs, c->dir, LL_READ);
    }
    const char *pid = pidfile_path(c);
    if (pid) {
        add_parent(rs, pid,
                   LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_WRITE_FILE |
                       LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_REMOVE_FILE | LL_TRUNCATE);
    }
    if (userdir_written(c)) {
        add_homes(rs);
    }
    auth_basic_each_file(c, add_password_file, rs);
    tls_conf_each_file(c, add_tls_file, rs);
}

static int apply_landlock(const struct conf *c, char *err, size_t errlen)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 1) {
        errlog(ERRLOG_NOTICE,
               "sandbox: Landlock is not available (%s); files are confined by "
               "the roots' openat2 rules and the user's permissions only",
               strerror(errno));
        return 0;
    }
    struct ll_ruleset_attr attr = {0};
    size_t size = sizeof(attr.handled_access_fs);
    attr.handled_access_fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1 */
    if (abi >= 2) {
        attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
    }
    if (abi >= 3) {
        attr.handled_access_fs |= LL_TRUNCATE;
    }
    if (abi >= 5) {
        attr.handled_access_fs |= LL_IOCTL_DEV;
    }
    if (abi >= 6) {
        attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
        size = sizeof(attr);
    }
    struct ruleset rs = {.handled = attr.handled_access_fs};
    rs.fd = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    if (rs.fd < 0) {
        snprintf(err, errlen, "sandbox: landlock_create_ruleset (ABI %ld): %s", abi,
                 strerror(errno));
        return -1;
    }
    add_rules(&rs, c);
    if (syscall(SYS_landlock_restrict_self, rs.fd, 0) < 0) {
        snprintf(err, errlen, "sandbox: landlock_restrict_self: %s", strerror(errno));
        close(rs.fd);
        return -1;
    }
    close(rs.fd);
    landlocked = true;
    errlog(ERRLOG_NOTICE,
           "sandbox: Landlock ABI %ld: reads beneath %u directories and of %u files, writes to "
           "%u files and directories; nothing else%s",
           abi, rs.dirs, rs.files, rs.writes,
           abi >= 6  ? "; signals and abstract unix sockets scoped to the process"
           : abi < 3 ? " (truncation is not restricted by this kernel)"
                     : "");
    return 0;
}

int sandbox_check_reach(char *err, size_t errlen)
{
    if (!landlocked) {
        return 0;
    }
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        return 0;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        struct stat st;
        if (*end || e->d_name[0] == '.' || fd == dirfd(d) || fstat((int)fd, &st) < 0 ||
            !S_ISDIR(st.st_mode)) {
            continue;
        }
        /* an O_PATH open passes Landlock; reading it is what a request does. access() is not
         * Landlock's: it tells the user's own permissions from the sandbox's refusal */
        int t = openat((int)fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (t >= 0) {
            close(t);
        } else if (errno == EACCES && faccessat((int)fd, ".", R_OK | X_OK, AT_EACCESS) == 0) {
            char link[64], path[PATH_MAX] = "?";
            snprintf(link, sizeof(link), "/proc/self/fd/%ld", fd);
            ssize_t n = readlink(link, path, sizeof(path) - 1);
            path[n > 0 ? n : 1] = '\0';
            snprintf(err, errlen,
                     "the sandbox refuses \"%s\": Landlock allows only the paths of the "
                     "configuration spate started with; a new directory needs a restart (or "
                     "\"sandbox off;\")",
                     path);
            rc = -1;
        }
    }
    closedir(d);
    return rc;
}

/* ---------------------------------------------------------------- seccomp */

/*
 * What spate calls after start, on any thread: the workers (io_uring, sendfile, the socket
 * calls), the log flusher, the offload helpers (directories, passwd lookups, hashes), the main
 * thread's reloads (the configuration's files, new listening sockets, setrlimit), glibc's own
 * (threads, memory, time). Names this architecture lacks are skipped.
 */
static const char allowed[] =
    /* files */
    "read write readv writev pread64 pwrite64 preadv pwritev preadv2 pwritev2 lseek close "
    "close_range dup dup2 dup3 fcntl ioctl open openat openat2 stat fstat lstat newfstatat "
    "statx fstatfs statfs access faccessat faccessat2 readlink readlinkat getdents "
    "getdents64 getcwd fadvise64 readahead fsync fdatasync ftruncate rename renameat "
    "renameat2 unlink unlinkat fchmod umask flock fgetxattr fsetxattr getxattr lgetxattr "
    "flistxattr cachestat mincore sendfile splice pipe2 memfd_create "
    /* memory */
    "mmap munmap mremap mprotect madvise brk membarrier "
    /* threads, signals, time */
    "clone clone3 futex futex_waitv set_robust_list get_robust_list rseq set_tid_address "
    "exit exit_group gettid getpid getppid tgkill tkill sched_yield sched_getaffinity "
    "sched_setaffinity prctl arch_prctl sigaltstack rt_sigaction rt_sigprocmask rt_sigreturn "
    "rt_sigtimedwait rt_sigpending restart_syscall nanosleep clock_nanosleep clock_gettime "
    "clock_getres gettimeofday time getrandom uname sysinfo getrlimit setrlimit prlimit64 "
    "getrusage times getuid geteuid getgid getegid getresuid getresgid getgroups getpriority "
    "sched_getparam sched_getscheduler "
    /* events */
    "eventfd2 epoll_create1 epoll_ctl epoll_wait epoll_pwait epoll_pwait2 poll ppoll select "
    "pselect6 timerfd_create timerfd_settime timerfd_gettime "
    /* io_uring (its operations: core/io/uring.c's restrictions) */
    "io_uring_setup io_uring_enter io_uring_register "
    /* sockets: listeners a reload adds; DNS over UDP and TCP; ident's connects */
    "socket socketpair bind listen connect accept accept4 getsockname getpeername setsockopt "
    "getsockopt shutdown sendto recvfrom sendmsg recvmsg sendmmsg recvmmsg ";

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
/* LeakSanitizer stops the threads with ptrace from a helper it clones at exit; a report runs
 * llvm-symbolizer or addr2line (sanitizer builds only: a release build has none of these) */
static const char allowed_sanitizer[] = "ptrace wait4 waitid process_vm_readv kill execve fork "
                                        "vfork pipe";
#else
static const char allowed_sanitizer[] = "";
#endif

static int apply_seccomp(char *err, size_t errlen)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!ctx) {
        snprintf(err, errlen, "seccomp: cannot make a filter (out of memory)");
        return -1;
    }
    unsigned n = 0;
    const char *lists[] = {allowed, allowed_sanitizer};
    for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
        for (const char *p = lists[l]; *p;) {
            size_t len = strcspn(p, " ");
            char name[32];
            if (len > 0 && len < sizeof(name)) {
                memcpy(name, p, len);
                name[len] = '\0';
                int nr = seccomp_syscall_resolve_name(name);
                if (nr != __NR_SCMP_ERROR && seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) == 0) {
                    n++;
                }
            }
            p += len;
            p += strspn(p, " ");
        }
    }
    /* every thread (none should exist yet); denials go to the kernel's audit log */
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
    int rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc == -EINVAL || rc == -ENOSYS) {
        /* a kernel without seccomp filters: the io_uring restrictions still apply */
        errlog(ERRLOG_NOTICE, "seccomp: not available (%s): no system-call filter", strerror(-rc));
        return 0;
    }
    if (rc < 0) {
        snprintf(err, errlen, "seccomp: loading the filter: %s", strerror(-rc));
        return -1;
    }
    errlog(ERRLOG_NOTICE,
           "seccomp: %u system calls allowed, any other fails with EPERM; io_uring rings "
           "restricted to spate's operations",
           n);
    return 0;
}

int sandbox_apply(const struct conf *c, char *err, size_t errlen)
{
    const struct privilege_settings *s = privilege_settings(c);
    /* the CGI spawner forks and execs: it is started before the filters, and keeps none */
    if (cgi_spawner_start(c, err, errlen) < 0) {
        return -1;
    }
    if (s->sandbox && apply_landlock(c, err, errlen) < 0) {
        return -1;
    }
    if (!s->sandbox) {
        errlog(ERRLOG_NOTICE, "sandbox off: no Landlock rules");
    }
    if (s->seccomp) {
        io_loop_restrict_rings(true);
        return apply_seccomp(err, errlen);
    }
    errlog(ERRLOG_NOTICE, "seccomp off: no system-call filter, io_uring rings unrestricted");
    return 0;
}
