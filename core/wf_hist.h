/* A bounded log-linear histogram of non-negative integers (latencies in
 * microseconds, waits in milliseconds): 8 sub-buckets per power of two, so
 * a percentile read from it is within 1/16 (6.25%) of the true value, in
 * a fixed 4 KiB whatever the count. Values below 16 are counted exactly.
 * Plain old data: zero-initialise it (or wf_hist_reset) and copy it freely,
 * which is how a writer thread hands a snapshot to a reader. */
#ifndef WF_HIST_H
#define WF_HIST_H

#include <stdint.h>

#define WF_HIST_SUB 8                       /* sub-buckets per power of two */
#define WF_HIST_BUCKETS (16 + 60 * WF_HIST_SUB)

typedef struct wf_hist {
    uint64_t count;
    uint64_t sum;   /* saturates at UINT64_MAX */
    uint64_t max;
    uint64_t b[WF_HIST_BUCKETS];
} wf_hist_t;

void wf_hist_reset(wf_hist_t *h);
void wf_hist_add(wf_hist_t *h, uint64_t v);
/* The q-quantile (0 <= q <= 1) as the middle of its bucket (exact below
 * 16, never above the maximum seen); 0 when the histogram is empty. */
uint64_t wf_hist_quantile(const wf_hist_t *h, double q);
/* How many values were <= v: exact when v + 1 starts a bucket (every
 * value below 16, and 16 * 2^k * (1 + j/8) - 1), else counting v's whole bucket. */
uint64_t wf_hist_count_le(const wf_hist_t *h, uint64_t v);

#endif
