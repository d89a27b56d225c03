/* notify.c - see notify.h. */
#include "core/app/notify.h"

#include "log/errlog.h"

#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

static void say(const char *text)
{
    int rc = sd_notify(0, text);
    if (rc < 0) {
        /* a sandbox that keeps the socket out, a wrong path: systemd will time out on us, so
         * the reason must be in the log */
        errlog(ERRLOG_WARN, "sd_notify \"%.40s...\": %s", text, strerror(-rc));
    }
}

void notify_ready(unsigned workers, unsigned listeners, bool upgraded)
{
    char buf[160];
    if (upgraded) {
        snprintf(buf, sizeof(buf), "MAINPID=%ld\nREADY=1\nSTATUS=serving: %u workers, %u "
                 "listener(s) (after a binary upgrade)", (long)getpid(), workers, listeners);
    } else {
        snprintf(buf, sizeof(buf), "READY=1\nSTATUS=serving: %u workers, %u listener(s)",
                 workers, listeners);
    }
    say(buf);
}

void notify_reloading(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char buf[96];
    snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
             (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
    say(buf);
}

void notify_reloaded(bool ok)
{
    say(ok ? "READY=1\nSTATUS=serving: configuration reloaded"
           : "READY=1\nSTATUS=serving: the last reload failed, the running configuration stays");
}

void notify_stopping(void)
{
    say("STOPPING=1\nSTATUS=stopping: finishing the open connections");
}
