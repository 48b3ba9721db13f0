/* The log-linear histogram of wf_hist.h. A value v >= 16 with its highest
 * bit at position p (p >= 4) falls in bucket 16 + (p - 4) * 8 + the three
 * bits below the highest; every operation is O(1) except the quantile,
 * which walks the fixed 496 buckets. */
#include "wf_hist.h"

#include <string.h>

static unsigned
bucket_of(uint64_t v)
{
    if (v < 16)
        return (unsigned)v;
    unsigned p = 63u - (unsigned)__builtin_clzll(v);
    unsigned sub = (unsigned)(v >> (p - 3)) & (WF_HIST_SUB - 1);
    unsigned b = 16 + (p - 4) * WF_HIST_SUB + sub;
    return b < WF_HIST_BUCKETS ? b : WF_HIST_BUCKETS - 1;
}

/* The smallest value of bucket b. */
static uint64_t
bucket_low(unsigned b)
{
    if (b < 16)
        return b;
    unsigned p = (b - 16) / WF_HIST_SUB + 4, sub = (b - 16) % WF_HIST_SUB;
    return ((uint64_t)(WF_HIST_SUB + sub)) << (p - 3);
}

void
wf_hist_reset(wf_hist_t *h)
{
    memset(h, 0, sizeof *h);
}

void
wf_hist_add(wf_hist_t *h, uint64_t v)
{
    h->b[bucket_of(v)]++;
    h->count++;
    h->sum = h->sum + v < h->sum ? UINT64_MAX : h->sum + v;
    if (v > h->max)
        h->max = v;
}

uint64_t
wf_hist_quantile(const wf_hist_t *h, double q)
{
    if (h->count == 0)
        return 0;
    if (!(q > 0))
        q = 0;
    if (q > 1)
        q = 1;
    uint64_t rank = (uint64_t)(q * (double)(h->count - 1)) + 1; /* 1-based */
    uint64_t seen = 0;
    for (unsigned b = 0; b < WF_HIST_BUCKETS; b++) {
        seen += h->b[b];
        if (seen >= rank) {
            uint64_t lo = bucket_low(b);
            uint64_t hi = b + 1 < WF_HIST_BUCKETS ? bucket_low(b + 1) - 1 : h->max;
            uint64_t mid = lo + (hi - lo) / 2;
            return mid > h->max ? h->max : mid;
        }
    }
    return h->max;
}

uint64_t
wf_hist_count_le(const wf_hist_t *h, uint64_t v)
{
    unsigned last = bucket_of(v);
    uint64_t n = 0;
    for (unsigned b = 0; b <= last; b++)
        n += h->b[b];
    return n;
}
