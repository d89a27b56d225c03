/*
 * timer.h - per-worker timeouts as fixed-duration FIFO lists.
 *
 * Every timeout class (header read, body read, keep-alive idle, send stall,
 * lingering close) has one duration, so a list kept in insertion order is
 * also sorted by deadline: arming is an append, re-arming a move to the tail,
 * cancelling an unlink, all O(1); the earliest deadline is the head of one
 * of a handful of lists. A connection is on at most one list at a time.
 *
 * Single-threaded: a worker owns its lists. Times are monotonic milliseconds.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct timer_node {
    struct timer_node *prev, *next;
    uint64_t deadline_ms;
    struct timer_list *list; /* NULL when not armed */
};

struct timer_list;

/* Called by the event loop for each node whose deadline passed (already disarmed). */
typedef void (*timer_fn)(struct timer_list *l, struct timer_node *n);

struct timer_list {
    struct timer_node head; /* sentinel */
    uint32_t duration_ms;
    uint32_t count;
    uint8_t kind;   /* caller's tag: which timeout this list represents */
    timer_fn fired; /* set by the owner before the loop expires the list */
    void *owner;    /* the owner's context, for fired() */
};

void timer_list_init(struct timer_list *l, uint32_t duration_ms, uint8_t kind);

/* Arms n on list l with deadline now + duration (moves it if armed elsewhere). */
void timer_arm(struct timer_list *l, struct timer_node *n, uint64_t now_ms);

/* Disarms n (no-op if not armed). */
void timer_cancel(struct timer_node *n);

static inline bool timer_armed(const struct timer_node *n)
{
    return n->list != NULL;
}

/* The earliest node of l, or NULL if empty. */
static inline struct timer_node *timer_first(struct timer_list *l)
{
    return l->head.next == &l->head ? (struct timer_node *)0 : l->head.next;
}
