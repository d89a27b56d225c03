/*
 * notify.h - telling systemd where spate stands (sd_notify, Debian's libsystemd): READY=1 once
 * every worker serves, RELOADING=1 ... READY=1 around a reload, STOPPING=1 when it drains, and
 * after a binary upgrade MAINPID= from the new process (the unit needs NotifyAccess=all for
 * that: the new process is not the one systemd started). Without $NOTIFY_SOCKET (not under
 * systemd) every call does nothing.
 *
 * Main thread only.
 */
#pragma once

#include <stdbool.h>

/* Serving: READY=1 with a STATUS= line; upgraded: this process is the main one now. */
void notify_ready(unsigned workers, unsigned listeners, bool upgraded);

/* A reload begins (RELOADING=1 with MONOTONIC_USEC=, as systemd 253's notify-reload wants). */
void notify_reloading(void);

/* The reload is over, done or failed: READY=1 again, with what happened in STATUS=. */
void notify_reloaded(bool ok);

/* Stopping: STOPPING=1 (not after an upgrade: the new process is the service now). */
void notify_stopping(void);
