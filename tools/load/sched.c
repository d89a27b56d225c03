/* sched.c - see sched.h. */
#include "tools/load/sched.h"

#include <math.h>

double sched_uniform(uint64_t *rng)
{
    uint64_t x = *rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *rng = x;
    return (double)((x * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0);
}

void sched_init(struct sched *s, uint64_t start, uint64_t offset, double rate_per_conn,
                bool poisson, uint64_t seed)
{
    s->next = start + offset;
    s->gap = 1e9 / rate_per_conn;
    s->carry = 0;
    s->poisson = poisson;
    s->rng = seed ? seed : 0x9E3779B97F4A7C15ull;
}

uint64_t sched_take(struct sched *s)
{
    uint64_t t = s->next;
    double g = s->gap;
    if (s->poisson) {
        /* inverse transform: -mean * ln(U), U in (0, 1] */
        g = -s->gap * log(1.0 - sched_uniform(&s->rng));
    }
    g += s->carry;
    uint64_t whole = (uint64_t)g;
    s->carry = g - (double)whole;
    s->next = t + whole;
    return t;
}
