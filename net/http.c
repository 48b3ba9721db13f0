/* The HTTP side door (see http.h) on libmicrohttpd's internal polling
 * thread. The snapshot is two heap strings behind a mutex: publish swaps
 * in fresh copies, a request copies the one it needs out under the lock
 * and answers from its copy, so the lock is held for a memcpy, never for
 * a network write. At most 32 connections, each closed after 10 idle
 * seconds. */
#include "http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "../core/wf_alloc.h"
#include "../core/wf_clock.h"

#define EP_LEN 256
#define CONN_LIMIT 32
#define CONN_TIMEOUT_S 10

struct wf_http {
    struct MHD_Daemon *mhd;
    bool dashboard;
    char endpoint[EP_LEN];
    pthread_mutex_t lock;
    int64_t ts;            /* the snapshot's time, unix ms; 0 = none yet */
    char *metrics, *state;
    size_t mlen, slen;
};

/* Parses tcp://HOST:PORT into addr (IPv4 or IPv6). */
static bool
parse_endpoint(const char *ep, struct sockaddr_storage *addr, socklen_t *alen, bool *v6, char *err,
               size_t errlen)
{
    char host[EP_LEN];
    const char *port;
    if (!ep || strncmp(ep, "tcp://", 6) != 0 || strlen(ep) >= EP_LEN) {
        snprintf(err, errlen, "the HTTP endpoint must be tcp://HOST:PORT, not \"%s\"", ep ? ep : "");
        return false;
    }
    const char *h = ep + 6;
    if (*h == '[') {
        const char *end = strchr(h, ']');
        if (!end || end[1] != ':') {
            snprintf(err, errlen, "the HTTP endpoint \"%s\" has a malformed [IPv6] host", ep);
            return false;
        }
        memcpy(host, h + 1, (size_t)(end - h - 1));
        host[end - h - 1] = '\0';
        port = end + 2;
        *v6 = true;
    } else {
        const char *colon = strrchr(h, ':');
        if (!colon) {
            snprintf(err, errlen, "the HTTP endpoint \"%s\" names no port", ep);
            return false;
        }
        memcpy(host, h, (size_t)(colon - h));
        host[colon - h] = '\0';
        port = colon + 1;
        *v6 = false;
        if (strcmp(host, "localhost") == 0)
            snprintf(host, sizeof host, "127.0.0.1");
    }
    unsigned long p = 0;
    if (strcmp(port, "*") != 0) {
        char *end;
        if (!*port || *port == '-' || *port == '+')
            p = 70000;
        else
            p = strtoul(port, &end, 10), p = *end ? 70000 : p;
        if (p > 65535) {
            snprintf(err, errlen, "the HTTP endpoint \"%s\" has a bad port", ep);
            return false;
        }
    }
    memset(addr, 0, sizeof *addr);
    if (*v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)addr;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)p);
        if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) {
            snprintf(err, errlen, "the HTTP endpoint \"%s\": \"%s\" is not an IPv6 address", ep, host);
            return false;
        }
        *alen = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)addr;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)p);
        if (inet_pton(AF_INET, host, &a->sin_addr) != 1) {
            snprintf(err, errlen, "the HTTP endpoint \"%s\": \"%s\" is not an address (or localhost)", ep,
                     host);
            return false;
        }
        *alen = sizeof *a;
    }
    return true;
}

bool
wf_http_endpoint_local(const char *endpoint)
{
    struct sockaddr_storage a;
    socklen_t alen;
    bool v6;
    char err[1024]; /* the message is not used, only whether it parsed */
    if (!parse_endpoint(endpoint, &a, &alen, &v6, err, sizeof err))
        return false;
    if (v6)
        return IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&a)->sin6_addr);
    return (ntohl(((struct sockaddr_in *)&a)->sin_addr.s_addr) >> 24) == 127;
}

/* ---- answering ---- */

static enum MHD_Result
answer(struct MHD_Connection *conn, unsigned status, const char *type, char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result
answer_text(struct MHD_Connection *conn, unsigned status, const char *text)
{
    size_t n = strlen(text);
    char *b = malloc(n + 1);
    if (!b)
        return MHD_NO;
    memcpy(b, text, n + 1);
    return answer(conn, status, "text/plain; charset=utf-8", b, n);
}

/* The metrics text plus the two lines the HTTP thread owns. */
static char *
metrics_copy(wf_http_t *h, size_t *len)
{
    pthread_mutex_lock(&h->lock);
    int64_t ts = h->ts;
    size_t n = h->mlen;
    char *b = malloc(n + 512);
    if (b && n)
        memcpy(b, h->metrics, n);
    pthread_mutex_unlock(&h->lock);
    if (!b)
        return NULL;
    int64_t age = ts ? wf_now_ms() - ts : -1;
    bool up = ts && age >= 0 && age < WF_HTTP_STALE_MS;
    n += (size_t)snprintf(b + n, 512,
                          "# HELP wufei_up 1 while the engine's writer loop publishes fresh figures\n"
                          "# TYPE wufei_up gauge\n"
                          "wufei_up %d\n"
                          "# HELP wufei_snapshot_age_seconds Age of the figures on this page\n"
                          "# TYPE wufei_snapshot_age_seconds gauge\n"
                          "wufei_snapshot_age_seconds %.3f\n",
                          up ? 1 : 0, age < 0 ? -1.0 : (double)age / 1000.0);
    *len = n;
    return b;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload, size_t *upload_len, void **ctx)
{
    wf_http_t *h = cls;
    (void)version, (void)upload, (void)ctx;
    if (*upload_len)
        *upload_len = 0; /* bodies are ignored */
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return answer_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n");
    if (strcmp(url, "/metrics") == 0) {
        size_t n;
        char *b = metrics_copy(h, &n);
        return b ? answer(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", b, n) : MHD_NO;
    }
    if (strcmp(url, "/healthz") == 0) {
        pthread_mutex_lock(&h->lock);
        int64_t ts = h->ts;
        pthread_mutex_unlock(&h->lock);
        int64_t age = wf_now_ms() - ts;
        bool up = ts && age < WF_HTTP_STALE_MS;
        return answer_text(conn, up ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, up ? "ok\n" : "stale\n");
    }
    if (h->dashboard && (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)) {
        char *b = malloc(wf_dashboard_html_len + 1);
        if (!b)
            return MHD_NO;
        memcpy(b, wf_dashboard_html, wf_dashboard_html_len);
        return answer(conn, MHD_HTTP_OK, "text/html; charset=utf-8", b, wf_dashboard_html_len);
    }
    if (h->dashboard && strcmp(url, "/api/state") == 0) {
        pthread_mutex_lock(&h->lock);
        size_t n = h->slen;
        char *b = malloc(n ? n : 3);
        if (b && n)
            memcpy(b, h->state, n);
        pthread_mutex_unlock(&h->lock);
        if (!b)
            return MHD_NO;
        if (!n) {
            memcpy(b, "{}\n", 3);
            n = 3;
        }
        return answer(conn, MHD_HTTP_OK, "application/json", b, n);
    }
    return answer_text(conn, MHD_HTTP_NOT_FOUND,
                       h->dashboard ? "not found: try /, /api/state, /metrics or /healthz\n"
                                    : "not found: try /metrics or /healthz\n");
}

/* ---- lifecycle ---- */

wf_http_t *
wf_http_new(const wf_http_opts_t *opts, char *err, size_t errlen)
{
    struct sockaddr_storage addr;
    socklen_t alen;
    bool v6;
    const char *ep = opts && opts->endpoint ? opts->endpoint : WF_DEFAULT_HTTP;
    if (!parse_endpoint(ep, &addr, &alen, &v6, err, errlen))
        return NULL;
    wf_http_t *h = wf_calloc(1, sizeof *h);
    h->dashboard = opts && opts->dashboard;
    pthread_mutex_init(&h->lock, NULL);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | (v6 ? MHD_USE_IPv6 : 0);
    h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONN_LIMIT,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
                              MHD_OPTION_END);
    if (!h->mhd) {
        snprintf(err, errlen, "cannot serve HTTP on %s (address in use or not ours?)", ep);
        wf_http_destroy(&h);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = info ? info->port : 0;
    char host[INET6_ADDRSTRLEN] = "";
    if (v6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&addr)->sin6_addr, host, sizeof host);
    else
        inet_ntop(AF_INET, &((struct sockaddr_in *)&addr)->sin_addr, host, sizeof host);
    snprintf(h->endpoint, sizeof h->endpoint, v6 ? "tcp://[%s]:%u" : "tcp://%s:%u", host, port);
    (void)alen;
    return h;
}

void
wf_http_destroy(wf_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wf_http_t *h = *self_p;
    if (h->mhd)
        MHD_stop_daemon(h->mhd);
    pthread_mutex_destroy(&h->lock);
    wf_free(h->metrics);
    wf_free(h->state);
    wf_free(h);
    *self_p = NULL;
}

const char *
wf_http_endpoint(const wf_http_t *self)
{
    return self->endpoint;
}

bool
wf_http_dashboard(const wf_http_t *self)
{
    return self->dashboard;
}

void
wf_http_publish(wf_http_t *self, int64_t ts, const char *metrics, size_t mlen, const char *state,
                size_t slen)
{
    char *m = wf_malloc(mlen + 1), *s = NULL;
    memcpy(m, metrics, mlen);
    if (state) {
        s = wf_malloc(slen + 1);
        memcpy(s, state, slen);
    }
    pthread_mutex_lock(&self->lock);
    char *old_m = self->metrics, *old_s = state ? self->state : NULL;
    self->metrics = m;
    self->mlen = mlen;
    if (state) {
        self->state = s;
        self->slen = slen;
    }
    self->ts = ts;
    pthread_mutex_unlock(&self->lock);
    wf_free(old_m);
    wf_free(old_s);
}
