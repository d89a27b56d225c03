/*
 * sched.h - one connection's schedule of intended send times (the open loop).
 *
 * A connection of an open-loop run owes requests at fixed times decided in advance, not when
 * the server lets it: evenly spaced (gap = connections / rate) or with exponential gaps of
 * that mean (--poisson). Latency is measured from these times, so a stall charges every
 * request that should have gone out during it (no coordinated omission).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct sched {
    uint64_t next; /* the next request's intended send time, ns */
    double gap;    /* mean gap, ns */
    double carry;  /* fractional ns not yet added, so long runs keep the exact mean */
    bool poisson;
    uint64_t rng; /* xorshift64* state */
};

/* A schedule starting at start + offset (offsets spread connections over one gap). */
void sched_init(struct sched *s, uint64_t start, uint64_t offset, double rate_per_conn,
                bool poisson, uint64_t seed);

/* Returns the next intended time and moves past it. */
uint64_t sched_take(struct sched *s);

/* A uniform double in [0, 1) from a xorshift64* state (also used to choose paths). */
double sched_uniform(uint64_t *rng);
