/* wufeid's HTTP side door (libmicrohttpd): the Prometheus text endpoint
 * /metrics, the health check /healthz, and, when asked, the read-only
 * operator dashboard (/ and its JSON /api/state). Off unless wufeid is
 * started with --metrics, --metrics-port or --dashboard.
 *
 * The HTTP thread never touches the engine. The writer loop renders the
 * metrics text and the dashboard JSON from the engine between batches and
 * hands them over with wf_http_publish(); requests are answered from the
 * latest copy. What the HTTP thread adds itself comes from that copy alone:
 * wufei_up (1 while the copy is fresher than WF_HTTP_STALE_MS) and the
 * copy's age. */
#ifndef WF_HTTP_H
#define WF_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WF_DEFAULT_HTTP "tcp://127.0.0.1:5572"
#define WF_HTTP_STALE_MS 5000  /* an older snapshot means the writer loop is stuck */

typedef struct wf_http_opts {
    const char *endpoint;  /* tcp://HOST:PORT; HOST an address or localhost, PORT digits or * */
    bool dashboard;        /* also serve / and /api/state */
} wf_http_opts_t;

typedef struct wf_http wf_http_t;

/* Binds endpoint and starts the HTTP thread. Returns NULL with a sentence
 * in err when the endpoint is malformed or cannot be bound. */
wf_http_t *wf_http_new(const wf_http_opts_t *opts, char *err, size_t errlen);
/* Stops the thread and frees everything. Accepts NULL; nulls *self_p. */
void wf_http_destroy(wf_http_t **self_p);

/* The endpoint as bound, the port resolved: "tcp://127.0.0.1:41234". */
const char *wf_http_endpoint(const wf_http_t *self);
bool wf_http_dashboard(const wf_http_t *self);

/* Replaces the published snapshot with copies of metrics (Prometheus text)
 * and state (JSON; NULL keeps the previous one), stamped ts (unix ms).
 * Safe to call from the writer thread while requests are served. */
void wf_http_publish(wf_http_t *self, int64_t ts, const char *metrics, size_t mlen, const char *state,
                     size_t slen);

/* True when host:port names a loopback address (127.0.0.0/8, localhost, [::1]). */
bool wf_http_endpoint_local(const char *endpoint);

/* The dashboard page (net/dashboard.html, embedded at build time). */
extern const unsigned char wf_dashboard_html[];
extern const size_t wf_dashboard_html_len;

#endif
