/* wufeid's I/O loop as a library: the command ROUTER and the feed PUB
 * around one engine. Each turn it drains up to a batch of requests
 * without blocking, decodes them, hands the good ones to the engine as one
 * batch, sends the replies in request order, then each firm's private
 * stream to the connection that last said hello, then the public feed.
 * It never blocks on a client: what cannot be sent now is not sent (the
 * stream is durable; a client catches up with hello after_seq).
 *
 * wufeid is a thin main around this; tests and benchmarks embed it the same
 * way, on a thread of their own or by calling wf_server_poll() themselves. */
#ifndef WF_SERVER_H
#define WF_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "../engine/engine.h"

#define WF_DEFAULT_COMMAND "tcp://127.0.0.1:5570"
#define WF_DEFAULT_FEED "tcp://127.0.0.1:5571"
#define WF_BODY_MAX (64 * 1024)    /* larger request bodies get E_LIMIT */
#define WF_SOCKET_MAX (1024 * 1024) /* ZMQ_MAXMSGSIZE: larger messages drop the peer */

typedef struct wf_server_opts {
    const char *command;  /* ROUTER endpoint; NULL = WF_DEFAULT_COMMAND */
    const char *feed;     /* PUB endpoint; NULL = WF_DEFAULT_FEED */
    bool insecure;        /* identity from the `as` field; loopback endpoints only */
    const char *key_dir;  /* secure mode: where server.key/.pub and operator.key/.pub live
                           * (made on first start, secrets mode 0600) */
    size_t batch;         /* requests per engine batch, 1..WF_BATCH_MAX; 0 = WF_BATCH_MAX */
    bool quiet;           /* no per-event log lines (start, stop and failures still) */
    FILE *log;            /* NULL = stderr */
    void *zmq_ctx;        /* a ZeroMQ context to share (inproc endpoints); NULL = own */
    const char *http;     /* metrics (and dashboard) endpoint tcp://HOST:PORT; NULL = none
                           * (with dashboard: WF_DEFAULT_HTTP). Insecure mode: loopback only */
    bool dashboard;       /* serve the dashboard (/ and /api/state) beside /metrics */
} wf_server_opts_t;

typedef struct wf_server wf_server_t;

/* Binds both sockets. The engine is borrowed and must outlive the server.
 * Secure mode (insecure false) loads or makes the CURVE key pairs in
 * key_dir, binds a ZAP handler on inproc://zeromq.zap.01 in the server's
 * context (one per context) and makes both sockets CURVE servers; a
 * request then acts as the firm registered with its connection's key (the
 * operator key file's key: the operator firm). Returns NULL with a
 * sentence in err when an option is refused (an insecure endpoint that is
 * not loopback, ipc or inproc), a key file is unusable or a socket cannot
 * be bound. */
wf_server_t *wf_server_new(wf_engine_t *engine, const wf_server_opts_t *opts, char *err, size_t errlen);

/* Closes the sockets (lingering up to a second for replies in flight) and
 * the context when the server owns it. Accepts NULL; nulls *self_p. */
void wf_server_destroy(wf_server_t **self_p);

/* One turn of the loop: waits up to timeout_ms for a request, then serves
 * at most one batch. Returns the number of requests served (0 on timeout),
 * or -1 on a socket failure other than an interrupted wait. */
int wf_server_poll(wf_server_t *self, int timeout_ms);

/* Turns wf_server_poll(100 ms) until wf_server_stop(). Returns 0, or -1 on
 * a socket failure. */
int wf_server_run(wf_server_t *self);

/* Asks wf_server_run() to return after the current turn. Safe from a
 * signal handler and from another thread. */
void wf_server_stop(wf_server_t *self);

/* The endpoints as bound, with wildcard ports resolved
 * ("tcp://127.0.0.1:*" -> "tcp://127.0.0.1:40123"). Valid while self lives. */
const char *wf_server_command_endpoint(const wf_server_t *self);
const char *wf_server_feed_endpoint(const wf_server_t *self);

/* Engine batches served (timer ticks aside) and their sizes, for the
 * log line at stop and for benchmarks. hist[i] counts batches of 2^i to
 * 2^(i+1) - 1 requests (the last bucket: 128..256). The loop's time in
 * the turns that served a batch, summed (monotonic ns): waiting in
 * zmq_poll, reading and decoding the requests, in wf_engine_apply, and
 * encoding and sending replies, streams and feed. */
typedef struct wf_server_stats {
    unsigned long long batches, requests, max_batch;
    unsigned long long hist[9];
    unsigned long long wait_ns, read_ns, apply_ns, send_ns;
    unsigned long long prefetched; /* requests read while a batch's record synced */
} wf_server_stats_t;
void wf_server_stats(const wf_server_t *self, wf_server_stats_t *out);

/* Writes the stats so far as two log lines: "served R requests in B
 * engine batches (mean M, max X; sizes 1:n 2-3:n ... 256:n; P read while
 * a batch synced)", then "per
 * batch: wait W us, read R us, apply A us, send N us over B batches;
 * engine: exec E us, sign S us, commit C us over K commits" (means; the
 * engine's from wf_engine_times, timer ticks included). The counts are
 * cumulative, so two reports bracket a measurement. */
void wf_server_log_stats(const wf_server_t *self);

/* Asks wf_server_run() to write the stats lines after the current turn.
 * Safe from a signal handler (wufeid: SIGUSR1). */
void wf_server_log_stats_soon(wf_server_t *self);

/* The HTTP endpoint as bound ("tcp://127.0.0.1:41234"), or NULL when
 * there is none. */
const char *wf_server_http_endpoint(const wf_server_t *self);

/* Secure mode: the server's CURVE public key (z85); NULL when insecure. */
const char *wf_server_public_key(const wf_server_t *self);

/* True when ep is loopback TCP (127.0.0.1, localhost, [::1]), ipc:// or
 * inproc://: the endpoints insecure mode accepts. */
bool wf_server_endpoint_local(const char *ep);

/* Writes one log line "2024-05-01T08:00:00.123Z wufeid: <text>\n" to f. */
void wf_server_log(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
