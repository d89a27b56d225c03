/* histogram.c - see histogram.h. */
#include "core/base/histogram.h"

uint64_t hist_bucket_low(unsigned i)
{
    if (i < (2u << HIST_SUB_BITS)) {
        return i;
    }
    unsigned shift = (i >> HIST_SUB_BITS) - 1;
    uint64_t m = i - (shift << HIST_SUB_BITS); /* 128 .. 255 */
    return m << shift;
}

uint64_t hist_bucket_high(unsigned i)
{
    if (i < (2u << HIST_SUB_BITS)) {
        return i;
    }
    unsigned shift = (i >> HIST_SUB_BITS) - 1;
    uint64_t m = i - (shift << HIST_SUB_BITS);
    return ((m + 1) << shift) - 1;
}

void hist_snapshot(const struct hist *h, struct hist_snap *out)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        out->b[i] = __atomic_load_n(&h->b[i], __ATOMIC_RELAXED);
        n += out->b[i];
    }
    out->count = n;
    out->sum = __atomic_load_n(&h->sum, __ATOMIC_RELAXED);
    out->max = __atomic_load_n(&h->max, __ATOMIC_RELAXED);
}

void hist_merge(struct hist_snap *into, const struct hist_snap *from)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        into->b[i] += from->b[i];
    }
    into->count += from->count;
    into->sum += from->sum;
    if (from->max > into->max) {
        into->max = from->max;
    }
}

void hist_snap_record(struct hist_snap *s, uint64_t ns, uint64_t n)
{
    s->b[hist_index(ns)] += n;
    s->count += n;
    s->sum += ns * n;
    if (n && ns > s->max) {
        s->max = ns;
    }
}

uint64_t hist_percentile(const struct hist_snap *s, double pct)
{
    if (s->count == 0) {
        return 0;
    }
    if (!(pct < 100.0)) { /* 100, and NaN */
        return s->max;
    }
    if (pct < 0.0) {
        pct = 0.0;
    }
    /* the rank of the sample at pct, 1-based: ceil(pct% of count), at least the first */
    double want = pct / 100.0 * (double)s->count;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want) {
        rank++;
    }
    if (rank == 0) {
        rank = 1;
    }
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += s->b[i];
        if (seen >= rank) {
            uint64_t v = hist_bucket_high(i);
            return v < s->max ? v : s->max;
        }
    }
    return s->max;
}

/* How many buckets from the first hold only values at most ns. */
static unsigned buckets_le(uint64_t ns)
{
    unsigned last = hist_index(ns);
    return hist_bucket_high(last) > ns ? last : last + 1; /* ns inside `last`: leave it out */
}

uint64_t hist_count_le(const struct hist_snap *s, uint64_t ns)
{
    uint64_t n = 0;
    for (unsigned i = 0, end = buckets_le(ns); i < end; i++) {
        n += s->b[i];
    }
    return n;
}

void hist_counts_le(const struct hist_snap *s, const uint64_t *ns, unsigned n, uint64_t *out)
{
    uint64_t acc = 0;
    unsigned i = 0;
    for (unsigned k = 0; k < n; k++) {
        for (unsigned end = buckets_le(ns[k]); i < end; i++) {
            acc += s->b[i];
        }
        out[k] = acc;
    }
}
