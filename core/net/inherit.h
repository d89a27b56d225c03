/*
 * inherit.h - listening sockets handed over by the process spate replaces (binary upgrade).
 *
 * The old process's launcher (app/upgrade.c) starts the new binary with every listening socket
 * open and their numbers in the environment (SPATE_INHERIT=fd,fd,...). listen_open takes
 * them for the addresses it opens instead of binding new ones: the same sockets, so the
 * connections waiting in their accept queues are accepted by the new process, and none is
 * reset when the old one closes its descriptors. Sockets of addresses the new configuration
 * no longer has are closed once the listeners are open.
 *
 * Main thread, at startup.
 */
#pragma once

#include "core/net/addr.h"

/* Reads and removes SPATE_INHERIT: the number of sockets inherited (0 when none). */
unsigned inherit_init(void);

/*
 * An inherited listening socket bound to a (port 0 in a: any port), or -1. Each is given once.
 */
int inherit_take(const struct net_addr *a);

/*
 * How many inherited sockets not yet taken are bound to a (port 0 in a: to the port of the
 * first one, which is the one listen_open then takes): all of them must be taken, even more
 * than the workers, since each is in the address's SO_REUSEPORT group and gets connections.
 */
unsigned inherit_count(const struct net_addr *a);

/* Closes the inherited sockets nobody took; their number. */
unsigned inherit_close_rest(void);
