/* What the I/O loop measures about itself, and the two renderings the
 * HTTP side door serves: the Prometheus text (docs/operator-metrics.md
 * names every metric) and the dashboard's JSON (/api/state). Both are
 * rendered on the writer thread, from the engine and these figures, and
 * handed to net/http.c as finished text. */
#ifndef WF_METRICS_H
#define WF_METRICS_H

#include <stdint.h>

#include <msgpack.h>

#include "../core/wf_hist.h"
#include "../engine/engine.h"

#define WF_REQ_BUCKETS 14   /* request and batch seconds: 100 us .. 2.5 s, then +Inf */
#define WF_SIZE_BUCKETS 9   /* batch sizes: 1, 2, 4 .. 256 */
#define WF_DASH_ORDERS 2000 /* live orders the dashboard's map shows at most */
#define WF_DASH_MATCHES 512 /* today's matches it draws at most */

/* Upper bounds of the request/batch buckets, in microseconds. */
extern const uint64_t wf_req_bucket_us[WF_REQ_BUCKETS];

typedef struct wf_net_figures {
    wf_hist_t req_us;                 /* per request: received to reply sent */
    wf_hist_t batch_us;               /* per batch: the engine's apply */
    uint64_t req_buckets[WF_REQ_BUCKETS + 1];   /* not cumulative; last = +Inf */
    uint64_t batch_buckets[WF_REQ_BUCKETS + 1];
    uint64_t size_buckets[WF_SIZE_BUCKETS];
    uint64_t size_sum;                /* commands over all batches */
    uint64_t requests_ok, requests_failed;
    uint64_t feed[3];                 /* by wf_feed_kind_t */
    uint64_t stream_sent, stream_deferred;
    uint64_t streams_bound, stream_pending;
} wf_net_figures_t;

/* Counts one request that took us microseconds. */
void wf_net_figures_request(wf_net_figures_t *f, uint64_t us, bool ok);
/* Counts one engine batch of n commands that took us microseconds. */
void wf_net_figures_batch(wf_net_figures_t *f, uint64_t us, size_t n);
/* Copies the latency percentiles into the stats reply. */
void wf_net_figures_fill(const wf_net_figures_t *f, wf_stats_t *st);

/* Appends the Prometheus text exposition (without wufei_up, which the
 * HTTP thread adds) to sb. */
void wf_metrics_render(msgpack_sbuffer *sb, const wf_stats_t *st, const wf_net_figures_t *nf,
                       const char *version);

/* Appends the dashboard JSON to sb: st's figures, up to WF_DASH_ORDERS
 * live orders and up to WF_DASH_MATCHES of today's (CST) matches with
 * their places. Reads the engine's book (writer thread only). */
void wf_dashboard_render(msgpack_sbuffer *sb, const wf_engine_t *e, const wf_stats_t *st,
                         const wf_net_figures_t *nf, int64_t now);

#endif
