/*
 * session.h - what a protocol implements to run on a connection.
 *
 * A connection (http/conn.h) owns the socket's transport, a timer and its
 * lifetime; the session owns everything the protocol knows: parsing, request
 * state, response bookkeeping. HTTP/1 is one session (http/h1.c); HTTP/2 will
 * be another, reaching the same handlers. conn.c calls these, always from the
 * worker's loop and with the connection guarded (it cannot be freed during a
 * call even if the call aborts it).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct conn;

struct session_ops {
    const char *name;
    size_t size; /* bytes of the connection object: struct conn first, the session's state after */
    void (*open)(struct conn *c); /* a new connection */
    void (*data)(struct conn *c, const char *p,
                 size_t n);                         /* received bytes (valid during the call) */
    void (*eof)(struct conn *c);                    /* the client will send nothing more */
    void (*sent)(struct conn *c, uint64_t n);       /* n more queued bytes went out */
    void (*drained)(struct conn *c);                /* all queued output went out */
    void (*resume)(struct conn *c);                 /* work asked for with conn_schedule() */
    void (*timeout)(struct conn *c, unsigned kind); /* a timer of this kind expired */
    void (*shutdown)(struct conn *c);               /* the worker drains: finish, close */
    void (*close)(struct conn *c); /* the connection is freed now: log what never finished */
};
