/*
 * Unit tests for the io_uring restrictions (core/io/uring.c, io_ring_lock_down): a ring created
 * disabled and locked down runs the operations spate submits (a read, a nop) and refuses the
 * others (unlinkat, mkdirat: -EACCES, and the file is still there); an unrestricted ring runs
 * the same unlinkat, so the test can fail; a registration after lock-down is refused. And
 * Landlock (core/app/sandbox.c) holds for opens made through a ring: a process that may read
 * nothing gets -EACCES from IORING_OP_OPENAT, as from open(2), while an unrestricted process
 * opens the same file.
 */
#include "common/unit.h"
#include "core/io/uring.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int submit_one(struct io_uring *ring)
{
    struct io_uring_cqe *cqe;
    int rc = io_uring_submit_and_wait(ring, 1);
    if (rc < 0) {
        return rc;
    }
    rc = io_uring_wait_cqe(ring, &cqe);
    if (rc < 0) {
        return rc;
    }
    int res = cqe->res;
    io_uring_cqe_seen(ring, cqe);
    return res;
}

static int unlink_through(struct io_uring *ring, const char *path)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    io_uring_prep_unlinkat(sqe, AT_FDCWD, path, 0);
    return submit_one(ring);
}

static void make_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abc", 3), 3);
    close(fd);
}

static void test_locked_down(void **state)
{
    (void)state;
    char path[] = "/tmp/spate-restrict-XXXXXX";
    int tmp = mkstemp(path);
    assert_true(tmp >= 0);
    close(tmp);
    make_file(path);

    struct io_uring ring;
    assert_int_equal(io_ring_create_disabled(&ring, 8, 16, NULL), 0);
    assert_int_equal(io_ring_lock_down(&ring), 0);

    /* allowed: a nop, and a read of the file */
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    io_uring_prep_nop(sqe);
    assert_int_equal(submit_one(&ring), 0);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    char buf[8];
    sqe = io_uring_get_sqe(&ring);
    io_uring_prep_read(sqe, fd, buf, sizeof(buf), 0);
    assert_int_equal(submit_one(&ring), 3);
    close(fd);

    /* refused: removing or making files */
    assert_int_equal(unlink_through(&ring, path), -EACCES);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    sqe = io_uring_get_sqe(&ring);
    io_uring_prep_mkdirat(sqe, AT_FDCWD, "/tmp/spate-restrict-dir", 0700);
    assert_int_equal(submit_one(&ring), -EACCES);

    /* a registration other than the undoing of those made before lock-down */
    unsigned iowq[2] = {1, 1};
    assert_int_equal(io_uring_register_iowq_max_workers(&ring, iowq), -EACCES);
    io_uring_queue_exit(&ring);

    /* the same unlinkat through an ordinary ring removes the file */
    assert_int_equal(io_ring_create(&ring, 8, 16, NULL), 0);
    assert_int_equal(unlink_through(&ring, path), 0);
    assert_int_equal(stat(path, &st), -1);
    io_uring_queue_exit(&ring);
}

/* A disabled ring takes no work until it is locked down (and so enabled). */
static void test_disabled_until_locked(void **state)
{
    (void)state;
    struct io_uring ring;
    assert_int_equal(io_ring_create_disabled(&ring, 8, 16, NULL), 0);
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    io_uring_prep_nop(sqe);
    assert_int_equal(io_uring_submit(&ring), -EBADFD);
    assert_int_equal(io_ring_lock_down(&ring), 0);
    assert_int_equal(submit_one(&ring), 0);
    io_uring_queue_exit(&ring);
}

/* In a child: open path through a new ring, after restricting itself when asked. */
static int ring_open_in_child(const char *path, bool landlocked)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (landlocked) {
            struct landlock_ruleset_attr attr = {.handled_access_fs = LANDLOCK_ACCESS_FS_READ_FILE};
            int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
            if (rs < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
                syscall(SYS_landlock_restrict_self, rs, 0) < 0) {
                _exit(100);
            }
        }
        struct io_uring ring;
        if (io_ring_create(&ring, 8, 16, NULL) < 0) {
            _exit(101);
        }
        struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
        io_uring_prep_openat(sqe, AT_FDCWD, path, O_RDONLY, 0);
        int res = submit_one(&ring);
        _exit(res >= 0 ? 0 : res == -EACCES ? 13 : 102);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void test_landlock_holds_for_ring_opens(void **state)
{
    (void)state;
    if (syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) < 1) {
        skip(); /* no Landlock in this kernel */
    }
    char path[] = "/tmp/spate-landlock-XXXXXX";
    int tmp = mkstemp(path);
    assert_true(tmp >= 0);
    close(tmp);
    assert_int_equal(ring_open_in_child(path, false), 0);
    assert_int_equal(ring_open_in_child(path, true), 13);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_locked_down),
        cmocka_unit_test(test_disabled_until_locked),
        cmocka_unit_test(test_landlock_holds_for_ring_opens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
