/* wufeid's I/O loop (see server.h). One thread owns both sockets and the
 * engine; nothing here blocks on a client. A turn: zmq_poll the ROUTER,
 * drain up to a batch of requests (ZMQ_DONTWAIT), decode each, apply the
 * decoded ones as one engine batch (requests that arrive while it executes
 * join it before its commit: wf_engine_apply_more), reply to every request
 * in arrival order after the commit, bind private streams for successful
 * hellos, send the outbox's stream messages to their firms' bound
 * connections, publish the feed.
 *
 * A request's envelope (routing id, any further frames such as REQ's empty
 * delimiter) is echoed back verbatim. Private streams go to the envelope of
 * the firm's latest successful hello; each binding remembers the last seq it
 * was sent so that a seq reaches a connection once and in order. A send
 * that fails with EHOSTUNREACH (ZMQ_ROUTER_MANDATORY: the peer is gone)
 * unbinds; one that fails with EAGAIN is dropped, since the stream is
 * durable and the client replays it with hello after_seq.
 *
 * Flow control lives here, not in the engine: a token bucket per firm
 * (config rate_per_s, rate_burst; journaled settings the engine keeps)
 * answers E_LIMIT before a request costs a write transaction. It depends
 * on the wall clock and is forgotten at restart, so it must stay out of
 * the deterministic, replayable engine. High-water marks bound what one
 * connection can queue either way: RCVHWM requests in, SNDHWM messages
 * out (past that, replies to a peer that never reads are dropped).
 *
 * Every turn also publishes the feed messages that fall due with time
 * (book.<code>, daily.<code>), and, when the HTTP side door is open,
 * renders the metrics and dashboard figures for it at most every
 * SNAPSHOT_MS (the manifest scan at most every SCAN_MS, the dashboard's
 * map at most every STATE_MS). Each request's time from receipt to reply
 * and each batch's engine time go into bounded histograms. */
#include "server.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>
#include <zmq.h>

#include "../core/wf_alloc.h"
#include "../core/wf_clock.h"
#include "../core/wf_error.h"
#include "codec.h"
#include "http.h"
#include "metrics.h"

#define ENV_MAX 4          /* envelope frames before the body */
#define ENV_FRAME_MAX 256  /* bytes in one envelope frame (routing ids are <= 255) */
#define POLL_MS 100        /* wf_server_run's wait: room for timers later */
#define LINGER_MS 1000
#define SNDHWM (WF_REPLAY_MAX + 2 * WF_BATCH_MAX) /* a whole hello replay fits in a peer's queue */
#define RCVHWM WF_BATCH_MAX       /* a peer's requests waiting to be read: one batch */
#define ANON_BUCKET ""            /* requests that name no registered firm share one bucket */
#define EP_LEN 256
#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN_COMMAND "wufei.command"
#define ZAP_DOMAIN_FEED "wufei.feed"
#define ZAP_FRAMES 8
#define SNAPSHOT_MS 250    /* metrics rendered at most this often */
#define STATE_MS 1000      /* dashboard JSON at most this often */
#define SCAN_MS 5000       /* manifest counts refreshed at most this often */

typedef struct envelope {
    uint8_t n;
    uint16_t len[ENV_MAX];
    unsigned char frame[ENV_MAX][ENV_FRAME_MAX];
} envelope_t;

/* One request of the current batch. */
typedef struct req {
    envelope_t env;
    int err;               /* WF_OK: went to the engine as cmds[cmd] */
    uint64_t rid;
    size_t cmd;
    int64_t t0;            /* monotonic ns when it was received */
    char msg[WF_MSG_LEN];
} req_t;

/* A firm's token bucket (rate limit). Slots are never freed: the table
 * holds one per registered firm that sent a request, plus ANON_BUCKET. */
typedef struct bucket {
    char firm[WF_FIRM_LEN + 1]; /* "\x01" + id; "\x01" alone = anonymous; "" = free slot */
    double tokens;
    int64_t last_ms;
} bucket_t;

/* A firm's private stream, bound to the connection of its latest hello.
 * Slots are never freed, only unbound: the table holds at most one slot
 * per firm that ever said hello. */
typedef struct binding {
    char firm[WF_FIRM_LEN]; /* "" = free slot */
    bool bound;
    uint64_t last;          /* last seq sent on this binding */
    envelope_t env;
} binding_t;

struct wf_server {
    wf_engine_t *engine;
    void *ctx;
    bool own_ctx;
    void *router;
    void *pub;
    void *zap;              /* secure mode: the ZAP handler (REP on inproc://zeromq.zap.01) */
    bool insecure;
    char server_pub[41];    /* secure mode: z85 public keys */
    char operator_pub[41];
    char server_secret[41];
    bool quiet;
    FILE *log;
    size_t batch;
    atomic_int stop;
    atomic_int stats_soon;  /* wf_server_log_stats_soon() was called */
    char command_ep[EP_LEN];
    char feed_ep[EP_LEN];

    req_t *reqs;
    wf_cmd_t *cmds;
    wf_reply_t *replies;
    /* The next batch's requests, read while this batch's record synced
     * (prefetch): staged_nreq of them, staged_ncmds decoded. */
    req_t *next_reqs;
    wf_cmd_t *next_cmds;
    size_t staged_nreq, staged_ncmds;
    struct pending *order;  /* outbox stream messages, sorted per firm then seq */
    size_t order_cap;
    struct group *groups;   /* one per firm of the outbox, in first-appearance order */
    msgpack_sbuffer sb;

    binding_t *bindings;
    size_t nbindings, cap;  /* cap is a power of two */
    bucket_t *buckets;
    size_t nbuckets, bcap;  /* bcap is a power of two */
    uint64_t limited;       /* requests answered E_LIMIT by the rate limit */
    uint64_t limited_logged;
    int64_t limited_log_ms; /* one summary line per second at most, not one per request */
    int64_t timers_after;   /* after a failed tick, wait until then */
    wf_server_stats_t stats;

    wf_net_figures_t fig;
    wf_stats_t *stats_reply; /* a stats reply with the latency filled in */
    wf_http_t *http;
    wf_stats_t *snap;        /* the last snapshot's figures */
    int64_t snap_at, state_at, scan_at; /* unix ms */
    uint64_t scan_seq;       /* journal seq at the last manifest scan */
    uint64_t manifests[6], manifests_seen;
    bool manifests_truncated, manifests_scanned;
    msgpack_sbuffer msb, jsb;
};

/* ------------------------------------------------------------------ */
/* Logging                                                             */

static void
vlog_line(FILE *f, const char *fmt, va_list ap)
{
    int64_t now = wf_now_ms();
    time_t secs = (time_t)(now / 1000);
    struct tm tm;
    char stamp[32];
    gmtime_r(&secs, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    /* Names and messages may carry a client's bytes: one event, one line. */
    for (unsigned char *c = (unsigned char *)line; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            *c = '?';
    fprintf(f, "%s.%03dZ wufeid: %s\n", stamp, (int)(now % 1000), line);
    fflush(f);
}

void
wf_server_log(FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog_line(f, fmt, ap);
    va_end(ap);
}

/* A per-event line, silenced by quiet. */
static void __attribute__((format(printf, 2, 3)))
event(wf_server_t *s, const char *fmt, ...)
{
    if (s->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog_line(s->log, fmt, ap);
    va_end(ap);
}

/* A routing id as hex, for log lines. */
static const char *
peer_hex(const envelope_t *env, char buf[2 * 16 + 3])
{
    static const char hex[] = "0123456789abcdef";
    size_t n = env->n ? env->len[0] : 0;
    if (n > 16)
        n = 16;
    char *p = buf;
    for (size_t i = 0; i < n; i++) {
        *p++ = hex[env->frame[0][i] >> 4];
        *p++ = hex[env->frame[0][i] & 15];
    }
    if (env->n && env->len[0] > 16) {
        *p++ = '.';
        *p++ = '.';
    }
    *p = '\0';
    return buf;
}

/* ------------------------------------------------------------------ */
/* Endpoints                                                           */

static bool
port_ok(const char *p)
{
    if (strcmp(p, "*") == 0)
        return true;
    if (!*p)
        return false;
    for (; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

bool
wf_server_endpoint_local(const char *ep)
{
    static const char *const hosts[] = {"tcp://127.0.0.1:", "tcp://localhost:", "tcp://[::1]:"};
    if (!ep)
        return false;
    if (strncmp(ep, "ipc://", 6) == 0 && ep[6])
        return true;
    if (strncmp(ep, "inproc://", 9) == 0 && ep[9])
        return true;
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
        size_t n = strlen(hosts[i]);
        if (strncmp(ep, hosts[i], n) == 0)
            return port_ok(ep + n);
    }
    return false;
}

static int
open_socket(wf_server_t *s, int type, const char *ep, char *resolved, char *err, size_t errlen, void **out)
{
    void *sock = zmq_socket(s->ctx, type);
    if (!sock) {
        snprintf(err, errlen, "cannot create a socket: %s", zmq_strerror(errno));
        return -1;
    }
    int linger = LINGER_MS, one = 1, hwm = SNDHWM, rcvhwm = RCVHWM;
    int64_t maxsize = WF_SOCKET_MAX;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    if (strncmp(ep, "tcp://[", 7) == 0)
        zmq_setsockopt(sock, ZMQ_IPV6, &one, sizeof one);
    if (type == ZMQ_ROUTER) {
        zmq_setsockopt(sock, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
        zmq_setsockopt(sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
        zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxsize, sizeof maxsize);
    }
    if (!s->insecure) {
        const char *domain = type == ZMQ_ROUTER ? ZAP_DOMAIN_COMMAND : ZAP_DOMAIN_FEED;
        if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
            zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, s->server_secret, 40) != 0 ||
            zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) != 0) {
            snprintf(err, errlen, "cannot make %s a CURVE server: %s", ep, zmq_strerror(errno));
            zmq_close(sock);
            return -1;
        }
    }
    /* ZeroMQ reads a bind host as an interface name or address, and knows
     * no interface "localhost": bind its address instead. */
    char bind_ep[EP_LEN];
    if (strncmp(ep, "tcp://localhost:", 16) == 0)
        snprintf(bind_ep, sizeof bind_ep, "tcp://127.0.0.1:%s", ep + 16);
    else
        snprintf(bind_ep, sizeof bind_ep, "%s", ep);
    if (strlen(ep) >= EP_LEN) {
        snprintf(err, errlen, "endpoint %.40s... is too long", ep);
        zmq_close(sock);
        return -1;
    }
    if (zmq_bind(sock, bind_ep) != 0) {
        snprintf(err, errlen, "cannot bind %s: %s", ep, zmq_strerror(errno));
        zmq_close(sock);
        return -1;
    }
    size_t len = EP_LEN;
    if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, resolved, &len) != 0 || len == 0) {
        snprintf(resolved, EP_LEN, "%s", ep);
    }
    *out = sock;
    return 0;
}


/* ------------------------------------------------------------------ */
/* CURVE key files (secure mode)                                       */

/* Reads a z85 key (40 characters, optional trailing newline) from path.
 * Returns 1 when read, 0 when the file does not exist, -1 on error. A
 * secret file that others may read is refused: the key must be replaced. */
static int
key_read(const char *path, bool secret, char out[41], char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || (secret && (st.st_mode & 077))) {
        snprintf(err, errlen, "%s may be read by others (mode %03o): delete it to make a new key pair, "
                              "or chmod 600 it if it never left this machine",
                 path, (unsigned)(st.st_mode & 0777));
        close(fd);
        return -1;
    }
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    uint8_t bin[32];
    if (n != 40) {
        snprintf(err, errlen, "%s does not hold a 40-character z85 key", path);
        return -1;
    }
    memcpy(out, buf, 40);
    out[40] = '\0';
    if (!zmq_z85_decode(bin, out)) {
        snprintf(err, errlen, "%s does not hold a 40-character z85 key", path);
        return -1;
    }
    return 1;
}

/* Writes key to path (mode 0600 for secrets, 0644 otherwise) through a
 * temporary file and rename, so a crash leaves the old file or the new. */
static int
key_write(const char *path, const char key[41], bool secret, char *err, size_t errlen)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, secret ? 0600 : 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    char line[42];
    memcpy(line, key, 40);
    line[40] = '\n';
    bool ok = write(fd, line, 41) == 41 && fsync(fd) == 0;
    ok = (close(fd) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Loads the key pair <dir>/<name>.key and <name>.pub, making it on first
 * start. pub_out gets the public key, sec_out (when not NULL) the secret. */
static int
key_pair(const char *dir, const char *name, char pub_out[41], char *sec_out, char *err, size_t errlen)
{
    char kpath[4096], ppath[4096], sec[41], pub[41];
    snprintf(kpath, sizeof kpath, "%s/%s.key", dir, name);
    snprintf(ppath, sizeof ppath, "%s/%s.pub", dir, name);
    int rc = key_read(kpath, true, sec, err, errlen);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        if (zmq_curve_keypair(pub, sec) != 0) {
            snprintf(err, errlen, "cannot make a CURVE key pair: %s", zmq_strerror(errno));
            return -1;
        }
        if (key_write(kpath, sec, true, err, errlen) != 0)
            return -1;
    } else if (zmq_curve_public(pub, sec) != 0) {
        snprintf(err, errlen, "cannot derive the public key of %s: %s", kpath, zmq_strerror(errno));
        return -1;
    }
    char old[41];
    char perr[256];
    if (key_read(ppath, false, old, perr, sizeof perr) != 1 || strcmp(old, pub) != 0)
        if (key_write(ppath, pub, false, err, errlen) != 0)
            return -1;
    memcpy(pub_out, pub, 41);
    if (sec_out)
        memcpy(sec_out, sec, 41);
    memset(sec, 0, sizeof sec);
    return 0;
}

/* ------------------------------------------------------------------ */
/* ZAP: who is behind a CURVE key                                      */

/* Answers the waiting ZAP requests (RFC 27). On the command socket a key
 * maps to a firm: the operator's key file to the operator firm, any other
 * key to the firm registered with it; unknown keys are refused. The feed
 * is public and anonymised: any key may subscribe. Bounded: at most a
 * batch of requests per call. */
static void
zap_serve(wf_server_t *s)
{
    for (size_t turn = 0; turn < WF_BATCH_MAX; turn++) {
        zmq_msg_t fr[ZAP_FRAMES];
        int n = 0, more = 1;
        size_t moresz = sizeof more;
        while (more) {
            zmq_msg_t part;
            zmq_msg_init(&part);
            if (zmq_msg_recv(&part, s->zap, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
                zmq_msg_close(&part);
                for (int i = 0; i < n; i++)
                    zmq_msg_close(&fr[i]);
                return;
            }
            zmq_getsockopt(s->zap, ZMQ_RCVMORE, &more, &moresz);
            if (n < ZAP_FRAMES)
                fr[n++] = part;
            else
                zmq_msg_close(&part);
        }
        /* version, request id, domain, address, routing id, mechanism, credentials */
        const char *status = "400", *text = "unknown key";
        char user[WF_FIRM_LEN] = "";
        char key[41] = "";
        char domain[32] = "", address[64] = "";
        if (n >= 7 && zmq_msg_size(&fr[5]) == 5 && memcmp(zmq_msg_data(&fr[5]), "CURVE", 5) == 0 &&
            zmq_msg_size(&fr[6]) == 32) {
            zmq_z85_encode(key, zmq_msg_data(&fr[6]), 32);
            size_t dl = zmq_msg_size(&fr[2]) < sizeof domain - 1 ? zmq_msg_size(&fr[2]) : sizeof domain - 1;
            memcpy(domain, zmq_msg_data(&fr[2]), dl);
            size_t al = zmq_msg_size(&fr[3]) < sizeof address - 1 ? zmq_msg_size(&fr[3]) : sizeof address - 1;
            memcpy(address, zmq_msg_data(&fr[3]), al);
            if (strcmp(domain, ZAP_DOMAIN_FEED) == 0) {
                status = "200";
                text = "OK";
            } else if (strcmp(key, s->operator_pub) == 0) {
                snprintf(user, sizeof user, "%s", WF_OPERATOR_ID);
            } else {
                const wf_firm_rec_t *f = wf_engine_firm_by_key(s->engine, key);
                if (f)
                    snprintf(user, sizeof user, "%s", f->id);
            }
            if (user[0]) {
                status = "200";
                text = "OK";
            }
        } else {
            text = "CURVE only";
        }
        if (strcmp(status, "200") != 0)
            event(s, "refused a connection from %s: %s %s", address[0] ? address : "?", text, key);
        if (n >= 2) {
            zmq_send(s->zap, "1.0", 3, ZMQ_SNDMORE);
            zmq_msg_send(&fr[1], s->zap, ZMQ_SNDMORE); /* the request id, echoed */
            zmq_send(s->zap, status, 3, ZMQ_SNDMORE);
            zmq_send(s->zap, text, strlen(text), ZMQ_SNDMORE);
            zmq_send(s->zap, user, strlen(user), ZMQ_SNDMORE);
            zmq_send(s->zap, "", 0, 0);
        } else {
            /* A REP socket must answer; a malformed request gets a malformed-request reply. */
            zmq_send(s->zap, "1.0", 3, ZMQ_SNDMORE);
            zmq_send(s->zap, "", 0, ZMQ_SNDMORE);
            zmq_send(s->zap, "500", 3, ZMQ_SNDMORE);
            zmq_send(s->zap, "malformed", 9, ZMQ_SNDMORE);
            zmq_send(s->zap, "", 0, ZMQ_SNDMORE);
            zmq_send(s->zap, "", 0, 0);
        }
        for (int i = 0; i < n; i++)
            zmq_msg_close(&fr[i]);
    }
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                           */

static void prefetch(void *ctx);

wf_server_t *
wf_server_new(wf_engine_t *engine, const wf_server_opts_t *opts, char *err, size_t errlen)
{
    const char *cmd_ep = opts->command ? opts->command : WF_DEFAULT_COMMAND;
    const char *feed_ep = opts->feed ? opts->feed : WF_DEFAULT_FEED;

    if (!opts->insecure && !opts->key_dir) {
        snprintf(err, errlen, "secure mode needs a directory for its key files");
        return NULL;
    }
    if (!opts->insecure && !zmq_has("curve")) {
        snprintf(err, errlen, "this libzmq has no CURVE support: secure mode is impossible");
        return NULL;
    }
    if (opts->insecure && (!wf_server_endpoint_local(cmd_ep) || !wf_server_endpoint_local(feed_ep))) {
        snprintf(err, errlen, "insecure mode binds only to tcp://127.0.0.1, tcp://localhost, "
                              "tcp://[::1], ipc:// or inproc:// endpoints, not %s",
                 wf_server_endpoint_local(cmd_ep) ? feed_ep : cmd_ep);
        return NULL;
    }
    if (opts->batch > WF_BATCH_MAX) {
        snprintf(err, errlen, "batch must be 1 to %d", WF_BATCH_MAX);
        return NULL;
    }
    const char *http_ep = opts->http ? opts->http : (opts->dashboard ? WF_DEFAULT_HTTP : NULL);
    if (http_ep && opts->insecure && !wf_http_endpoint_local(http_ep)) {
        snprintf(err, errlen, "insecure mode serves HTTP only on a loopback address, not %s", http_ep);
        return NULL;
    }

    wf_server_t *s = wf_calloc(1, sizeof *s);
    s->engine = engine;
    s->insecure = opts->insecure;
    s->quiet = opts->quiet;
    s->log = opts->log ? opts->log : stderr;
    s->batch = opts->batch ? opts->batch : WF_BATCH_MAX;
    atomic_init(&s->stop, 0);
    atomic_init(&s->stats_soon, 0);
    s->ctx = opts->zmq_ctx;
    if (!s->ctx) {
        s->ctx = zmq_ctx_new();
        s->own_ctx = true;
        if (!s->ctx) {
            snprintf(err, errlen, "cannot create a ZeroMQ context: %s", zmq_strerror(errno));
            wf_free(s);
            return NULL;
        }
    }
    s->reqs = wf_calloc(WF_BATCH_MAX, sizeof *s->reqs);
    s->cmds = wf_calloc(WF_BATCH_MAX, sizeof *s->cmds);
    s->replies = wf_calloc(WF_BATCH_MAX, sizeof *s->replies);
    s->next_reqs = wf_calloc(WF_BATCH_MAX, sizeof *s->next_reqs);
    s->next_cmds = wf_calloc(WF_BATCH_MAX, sizeof *s->next_cmds);
    msgpack_sbuffer_init(&s->sb);
    s->cap = 64;
    s->bindings = wf_calloc(s->cap, sizeof *s->bindings);
    s->bcap = 64;
    s->buckets = wf_calloc(s->bcap, sizeof *s->buckets);

    if (!s->insecure) {
        /* Keys first, then the ZAP handler, then the CURVE sockets: a
         * connection must never be accepted before it can be checked. */
        if (key_pair(opts->key_dir, "server", s->server_pub, s->server_secret, err, errlen) != 0 ||
            key_pair(opts->key_dir, "operator", s->operator_pub, NULL, err, errlen) != 0) {
            wf_server_destroy(&s);
            return NULL;
        }
        s->zap = zmq_socket(s->ctx, ZMQ_REP);
        int linger = 0;
        if (!s->zap || zmq_setsockopt(s->zap, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
            zmq_bind(s->zap, ZAP_ENDPOINT) != 0) {
            snprintf(err, errlen, "cannot start the ZAP handler on %s: %s", ZAP_ENDPOINT, zmq_strerror(errno));
            wf_server_destroy(&s);
            return NULL;
        }
    }
    if (open_socket(s, ZMQ_ROUTER, cmd_ep, s->command_ep, err, errlen, &s->router) != 0 ||
        open_socket(s, ZMQ_PUB, feed_ep, s->feed_ep, err, errlen, &s->pub) != 0) {
        wf_server_destroy(&s);
        return NULL;
    }
    msgpack_sbuffer_init(&s->msb);
    msgpack_sbuffer_init(&s->jsb);
    s->stats_reply = wf_calloc(1, sizeof *s->stats_reply);
    s->snap = wf_calloc(1, sizeof *s->snap);
    if (http_ep) {
        wf_http_opts_t ho = {.endpoint = http_ep, .dashboard = opts->dashboard};
        s->http = wf_http_new(&ho, err, errlen);
        if (!s->http) {
            wf_server_destroy(&s);
            return NULL;
        }
    }
    if (wf_engine_overlap_sync(s->engine, prefetch, s) != WF_OK) {
        snprintf(err, errlen, "cannot start the engine's sync thread");
        wf_server_destroy(&s);
        return NULL;
    }
    return s;
}

void
wf_server_destroy(wf_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wf_server_t *s = *self_p;
    wf_http_destroy(&s->http); /* first: its thread reads nothing of ours, but stop it early */
    if (s->engine)
        wf_engine_overlap_sync(s->engine, NULL, NULL); /* the engine may outlive us */
    if (s->router)
        zmq_close(s->router);
    if (s->pub)
        zmq_close(s->pub);
    if (s->zap)
        zmq_close(s->zap);
    memset(s->server_secret, 0, sizeof s->server_secret);
    if (s->own_ctx && s->ctx)
        zmq_ctx_term(s->ctx);
    wf_free(s->reqs);
    wf_free(s->cmds);
    wf_free(s->replies);
    wf_free(s->next_reqs);
    wf_free(s->next_cmds);
    wf_free(s->order);
    wf_free(s->groups);
    wf_free(s->bindings);
    wf_free(s->buckets);
    msgpack_sbuffer_destroy(&s->sb);
    msgpack_sbuffer_destroy(&s->msb);
    msgpack_sbuffer_destroy(&s->jsb);
    wf_free(s->stats_reply);
    wf_free(s->snap);
    wf_free(s);
    *self_p = NULL;
}

const char *
wf_server_command_endpoint(const wf_server_t *self)
{
    return self->command_ep;
}

const char *
wf_server_feed_endpoint(const wf_server_t *self)
{
    return self->feed_ep;
}

const char *
wf_server_http_endpoint(const wf_server_t *self)
{
    return self->http ? wf_http_endpoint(self->http) : NULL;
}

const char *
wf_server_public_key(const wf_server_t *self)
{
    return self->insecure ? NULL : self->server_pub;
}

void
wf_server_stop(wf_server_t *self)
{
    atomic_store(&self->stop, 1);
}

/* ------------------------------------------------------------------ */
/* Bindings: firm id -> the connection of its latest hello             */

static uint64_t
firm_hash(const char *firm)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)firm; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

/* The slot of firm, or the free slot where it would go. */
static binding_t *
binding_slot(binding_t *tab, size_t cap, const char *firm)
{
    size_t i = (size_t)firm_hash(firm) & (cap - 1);
    while (tab[i].firm[0] && strcmp(tab[i].firm, firm) != 0)
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

static binding_t *
binding_find(wf_server_t *s, const char *firm)
{
    binding_t *b = binding_slot(s->bindings, s->cap, firm);
    return b->firm[0] ? b : NULL;
}

static binding_t *
binding_get(wf_server_t *s, const char *firm)
{
    if ((s->nbindings + 1) * 2 > s->cap) {
        size_t cap = s->cap * 2;
        binding_t *tab = wf_calloc(cap, sizeof *tab);
        for (size_t i = 0; i < s->cap; i++)
            if (s->bindings[i].firm[0])
                *binding_slot(tab, cap, s->bindings[i].firm) = s->bindings[i];
        wf_free(s->bindings);
        s->bindings = tab;
        s->cap = cap;
    }
    binding_t *b = binding_slot(s->bindings, s->cap, firm);
    if (!b->firm[0]) {
        snprintf(b->firm, sizeof b->firm, "%s", firm);
        s->nbindings++;
    }
    return b;
}

static bool
same_peer(const envelope_t *a, const envelope_t *b)
{
    return a->n && b->n && a->len[0] == b->len[0] && memcmp(a->frame[0], b->frame[0], a->len[0]) == 0;
}

/* The peer is gone: unbind every stream bound to it. Rare, so a scan. */
static void
peer_gone(wf_server_t *s, const envelope_t *env)
{
    for (size_t i = 0; i < s->cap; i++) {
        binding_t *b = &s->bindings[i];
        if (b->firm[0] && b->bound && same_peer(&b->env, env)) {
            b->bound = false;
            char hex[40];
            event(s, "stream of %s unbound: connection %s is gone", b->firm, peer_hex(env, hex));
        }
    }
}

/* ------------------------------------------------------------------ */
/* Rate limit: a token bucket per firm                                 */

static bucket_t *
bucket_slot(bucket_t *tab, size_t cap, const char *key)
{
    size_t i = (size_t)firm_hash(key) & (cap - 1);
    while (tab[i].firm[0] && strcmp(tab[i].firm, key) != 0)
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

/* The bucket of firm (NULL or unregistered: the anonymous one), made
 * full on first use. */
static bucket_t *
bucket_get(wf_server_t *s, const char *firm, double burst, int64_t now)
{
    char key[WF_FIRM_LEN + 1] = "\x01";
    if (firm && firm[0] && strlen(firm) < WF_FIRM_LEN && wf_engine_firm(s->engine, firm))
        memcpy(key + 1, firm, strlen(firm) + 1);
    if ((s->nbuckets + 1) * 2 > s->bcap) {
        size_t cap = s->bcap * 2;
        bucket_t *tab = wf_calloc(cap, sizeof *tab);
        for (size_t i = 0; i < s->bcap; i++)
            if (s->buckets[i].firm[0])
                *bucket_slot(tab, cap, s->buckets[i].firm) = s->buckets[i];
        wf_free(s->buckets);
        s->buckets = tab;
        s->bcap = cap;
    }
    bucket_t *b = bucket_slot(s->buckets, s->bcap, key);
    if (!b->firm[0]) {
        memcpy(b->firm, key, sizeof key);
        b->tokens = burst;
        b->last_ms = now;
        s->nbuckets++;
    }
    return b;
}

/* True when firm may send one more request now (and takes its token).
 * rate_per_s 0 means no limit. */
static bool
rate_admit(wf_server_t *s, const wf_config_t *cfg, const char *firm, int64_t now, char *msg, size_t msglen)
{
    if (cfg->rate_per_s <= 0)
        return true;
    double burst = cfg->rate_burst > 0 ? cfg->rate_burst : 1;
    bucket_t *b = bucket_get(s, firm, burst, now);
    if (now > b->last_ms) {
        b->tokens += (double)(now - b->last_ms) * cfg->rate_per_s / 1000.0;
        b->last_ms = now;
    }
    if (b->tokens > burst)
        b->tokens = burst;
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return true;
    }
    s->limited++;
    snprintf(msg, msglen, "rate limit: %d requests per second per firm, bursts of %d; retry later",
             cfg->rate_per_s, cfg->rate_burst);
    return false;
}

/* ------------------------------------------------------------------ */
/* Sending                                                             */

/* Sends env + body without blocking. Returns 0, or the errno of the failed
 * send (EAGAIN: peer's queue full; EHOSTUNREACH: peer gone). ZeroMQ decides
 * both at the routing frame, so a message is sent whole or not at all. */
static int
send_msg(wf_server_t *s, const envelope_t *env, const void *body, size_t len)
{
    for (uint8_t i = 0; i < env->n; i++)
        if (zmq_send(s->router, env->frame[i], env->len[i], ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            return errno ? errno : EIO;
    if (zmq_send(s->router, body, len, ZMQ_DONTWAIT) < 0)
        return errno ? errno : EIO;
    return 0;
}

static void
send_reply(wf_server_t *s, const envelope_t *env)
{
    int e = send_msg(s, env, s->sb.data, s->sb.size);
    if (e == EHOSTUNREACH)
        peer_gone(s, env);
}

/* ------------------------------------------------------------------ */
/* Receiving                                                           */

/* Receives one whole message into r's envelope and *body. Returns 1 when
 * a message was read and should be answered, 0 when none is waiting, -1 on
 * a socket failure. A message with a malformed envelope is consumed and
 * dropped (returns 2): there is no one to answer. */
static int
recv_msg(wf_server_t *s, req_t *r, zmq_msg_t *body)
{
    zmq_msg_t part;
    int more = 0, bad = 0;
    size_t nframes = 0;
    size_t moresz = sizeof more;

    r->env.n = 0;
    zmq_msg_init(body);
    for (;;) {
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, s->router, nframes == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            int e = errno;
            zmq_msg_close(&part);
            if (nframes == 0 && (e == EAGAIN || e == EINTR))
                return 0;
            return -1;
        }
        nframes++;
        zmq_getsockopt(s->router, ZMQ_RCVMORE, &more, &moresz);
        if (!more) {
            zmq_msg_move(body, &part); /* closes body's empty message first */
            zmq_msg_close(&part);
            break;
        }
        if (r->env.n < ENV_MAX && zmq_msg_size(&part) <= ENV_FRAME_MAX) {
            r->env.len[r->env.n] = (uint16_t)zmq_msg_size(&part);
            memcpy(r->env.frame[r->env.n], zmq_msg_data(&part), zmq_msg_size(&part));
            r->env.n++;
        } else {
            bad = 1;
        }
        zmq_msg_close(&part);
    }
    if (bad || r->env.n == 0) {
        zmq_msg_close(body);
        return 2;
    }
    return 1;
}

/* The one place a request gets its identity. Insecure mode trusts the
 * `as` field the codec already copied into cmd->as. */
static int
identify(wf_server_t *s, zmq_msg_t *body, wf_cmd_t *cmd, char *msg, size_t msglen)
{
    if (s->insecure)
        return WF_OK;
    /* Secure mode: the firm ZAP mapped the connection's CURVE key to; any
     * `as` field is ignored. */
    const char *uid = zmq_msg_gets(body, "User-Id");
    if (!uid || strlen(uid) != WF_FIRM_LEN - 1) {
        snprintf(msg, msglen, "this connection's key belongs to no firm");
        return WF_E_AUTH;
    }
    memcpy(cmd->as, uid, WF_FIRM_LEN);
    return WF_OK;
}

/* ------------------------------------------------------------------ */
/* Events for the log                                                  */

static void
log_reply(wf_server_t *s, const req_t *r, const wf_cmd_t *c, const wf_reply_t *rep)
{
    char hex[40];
    if (s->quiet)
        return;
    if (rep->err != WF_OK) {
        event(s, "request failed: rid %llu op %s from %s: %s %s", (unsigned long long)rep->rid,
              wf_op_name(c->op) ? wf_op_name(c->op) : "?", c->as[0] ? c->as : "-",
              wf_err_name(rep->err), rep->msg);
        return;
    }
    switch (c->op) {
    case WF_OP_FIRM_PUT: {
        char roles[64] = "";
        for (uint32_t bit = 1; bit; bit <<= 1)
            if ((c->u.firm.roles & bit) && wf_role_name(bit))
                snprintf(roles + strlen(roles), sizeof roles - strlen(roles), "%s%s", roles[0] ? "," : "",
                         wf_role_name(bit));
        event(s, "firm registered: %s \"%s\" roles %s county %u by %s", c->u.firm.firm, c->u.firm.name,
              roles[0] ? roles : "none", c->u.firm.county, c->as);
        break;
    }
    case WF_OP_OFFER_POST:
    case WF_OP_DEMAND_POST:
        for (size_t i = 0; rep->matches && i < rep->nmatches; i++) {
            const wf_match_rec_t *m = &rep->matches[i];
            event(s, "match M%llu: O%llu x D%llu %s qty %lld price %lld km %.1f", (unsigned long long)m->id,
                  (unsigned long long)m->offer, (unsigned long long)m->demand, m->code, (long long)m->qty,
                  (long long)m->price, m->km);
        }
        break;
    case WF_OP_ORDER_CANCEL:
        event(s, "order %s cancelled by %s, rest %lld", c->u.ref.id, c->as, (long long)rep->rest);
        break;
    case WF_OP_HELLO:
        event(s, "stream of %s bound to connection %s after seq %llu (latest %llu)", c->as,
              peer_hex(&r->env, hex), (unsigned long long)c->u.hello.after_seq, (unsigned long long)rep->seq);
        break;
    case WF_OP_CONFIG_SET:
        event(s, "config changed by %s (settings %#x)", c->as, c->u.config.set);
        break;
    case WF_OP_LICENCE_PUT:
        event(s, "licence %s for %s: %u patterns, capacity %lld, valid until %lld, by %s", rep->id,
              c->u.licence.firm, (unsigned)c->u.licence.ncodes, (long long)c->u.licence.capacity,
              (long long)c->u.licence.valid_until, c->as);
        break;
    case WF_OP_LANE_PUT:
    case WF_OP_LANE_DEL:
        event(s, "lane %s -> %s for %s %s by %s", c->u.lane.producer, c->u.lane.consumer, c->u.lane.code,
              c->op == WF_OP_LANE_PUT ? "approved" : "removed", c->as);
        break;
    case WF_OP_OPTIMIZE:
        if (rep->optimize)
            event(s, "optimize by %s: goal %s, %zu pairs, qty %lld, %.1f t*km (continuous %lld, "
                  "%.1f t*km), gap %.1f%%%s%s", c->as, wf_goal_name(rep->optimize->goal),
                  rep->optimize->npairs, (long long)rep->optimize->plan.qty,
                  rep->optimize->plan.tonne_km, (long long)rep->optimize->continuous.qty,
                  rep->optimize->continuous.tonne_km, rep->optimize->gap_pct,
                  rep->optimize->applied ? ", applied" : "", rep->optimize->bound[0] ? ", bounded" : "");
        break;
    case WF_OP_AUCTION_SET:
        event(s, "call auction for %s every %lld ms (goal %s) set by %s", c->u.auction.code,
              (long long)c->u.auction.period_ms, wf_goal_name(c->u.auction.goal), c->as);
        break;
    case WF_OP_AUCTION_DEL:
        event(s, "call auction for %s deleted by %s", c->u.auction.code, c->as);
        break;
    case WF_OP_MANIFEST_DISPATCH:
    case WF_OP_MANIFEST_LOAD:
    case WF_OP_MANIFEST_UNLOAD:
    case WF_OP_MANIFEST_CLOSE:
    case WF_OP_MANIFEST_CANCEL:
        event(s, "manifest %s: %s by %s%s", c->u.manifest.id, wf_op_name(c->op), c->as,
              rep->discrepancy ? " (quantity discrepancy)" : "");
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------ */
/* Streams and feed                                                    */

struct pending {
    const wf_stream_msg_t *m;
    size_t pos; /* place in the outbox: keeps the sort stable */
};

static int
cmp_stream(const void *a, const void *b)
{
    const struct pending *x = a, *y = b;
    int c = strcmp(x->m->firm, y->m->firm);
    if (c)
        return c;
    if (x->m->seq != y->m->seq)
        return x->m->seq < y->m->seq ? -1 : 1;
    return x->pos < y->pos ? -1 : (x->pos > y->pos);
}

/* One firm's run in the sorted outbox, and where its first message stood. */
struct group {
    size_t start, end, first;
};

static int
cmp_group(const void *a, const void *b)
{
    const struct group *x = a, *y = b;
    return x->first < y->first ? -1 : (x->first > y->first);
}

/* Sends each bound firm's new stream messages in seq order, each seq at
 * most once per binding. Firms go in the order the engine queued their
 * first message, so notifications planned by credit (highest score first)
 * leave in that order. Work is O(n log n) in the outbox's size. */
static void
send_streams(wf_server_t *s, const wf_outbox_t *out)
{
    if (out->nstream == 0)
        return;
    if (out->nstream > s->order_cap) {
        s->order_cap = out->nstream;
        wf_free(s->order);
        wf_free(s->groups);
        s->order = wf_malloc(s->order_cap * sizeof *s->order);
        s->groups = wf_malloc(s->order_cap * sizeof *s->groups);
    }
    for (size_t i = 0; i < out->nstream; i++)
        s->order[i] = (struct pending){.m = &out->stream[i], .pos = i};
    qsort(s->order, out->nstream, sizeof *s->order, cmp_stream);

    size_t ngroups = 0;
    for (size_t i = 0; i < out->nstream;) {
        const char *firm = s->order[i].m->firm;
        struct group g = {.start = i, .first = s->order[i].pos};
        while (i < out->nstream && strcmp(s->order[i].m->firm, firm) == 0) {
            if (s->order[i].pos < g.first)
                g.first = s->order[i].pos;
            i++;
        }
        g.end = i;
        s->groups[ngroups++] = g;
    }
    qsort(s->groups, ngroups, sizeof *s->groups, cmp_group);

    for (size_t gi = 0; gi < ngroups; gi++) {
        size_t i = s->groups[gi].start, end = s->groups[gi].end;
        binding_t *b = binding_find(s, s->order[i].m->firm);
        for (; b && b->bound && i < end; i++) {
            const wf_stream_msg_t *m = s->order[i].m;
            if (m->seq <= b->last)
                continue;
            msgpack_sbuffer_clear(&s->sb);
            wf_codec_stream(&s->sb, m);
            int e = send_msg(s, &b->env, s->sb.data, s->sb.size);
            if (e == EHOSTUNREACH) {
                envelope_t env = b->env;
                peer_gone(s, &env);
                break;
            }
            if (e) {
                s->fig.stream_deferred++;
                break; /* queue full: the client catches up with hello after_seq */
            }
            s->fig.stream_sent++;
            b->last = m->seq;
        }
    }
}

static void
send_feed_msgs(wf_server_t *s, const wf_feed_msg_t *msgs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const wf_feed_msg_t *f = &msgs[i];
        msgpack_sbuffer_clear(&s->sb);
        wf_codec_feed(&s->sb, f);
        if (zmq_send(s->pub, f->topic, strlen(f->topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            continue;
        if (zmq_send(s->pub, s->sb.data, s->sb.size, ZMQ_DONTWAIT) >= 0 && f->kind < 3)
            s->fig.feed[f->kind]++;
    }
}

static void
send_feed(wf_server_t *s, const wf_outbox_t *out)
{
    send_feed_msgs(s, out->feed, out->nfeed);
}

/* Feed messages that fall due with time: book levels, daily summaries. */
static void
send_feed_due(wf_server_t *s, int64_t now)
{
    const wf_feed_msg_t *msgs;
    size_t n = wf_engine_feed_due(s->engine, now, &msgs);
    send_feed_msgs(s, msgs, n);
}

/* ------------------------------------------------------------------ */
/* Snapshots for the HTTP side door                                    */

/* Renders the figures for net/http.c when they are due. Bounded: one
 * engine stats call (the catalogue and the firm table), a manifest scan
 * of at most WF_STATS_SCAN_MAX every STATE_MS after a change (every
 * SCAN_MS regardless), and the dashboard's map of
 * at most WF_DASH_ORDERS orders every STATE_MS. */
static void
publish_snapshot(wf_server_t *s, int64_t now)
{
    if (!s->http || now - s->snap_at < SNAPSHOT_MS)
        return;
    s->snap_at = now;
    uint64_t seq = wf_engine_journal_seq(s->engine);
    bool scan = !s->manifests_scanned || now - s->scan_at >= SCAN_MS ||
                (seq != s->scan_seq && now - s->scan_at >= STATE_MS);
    wf_stats_t *st = s->snap;
    if (wf_engine_stats(s->engine, now, 20, 14, scan, st) != WF_OK) {
        scan = false;
        st->manifests_scanned = false;
    }
    if (scan) {
        s->scan_at = now;
        s->scan_seq = seq;
        s->manifests_scanned = true;
        memcpy(s->manifests, st->manifests, sizeof s->manifests);
        s->manifests_seen = st->manifests_seen;
        s->manifests_truncated = st->manifests_truncated;
    } else if (s->manifests_scanned) {
        st->manifests_scanned = true;
        memcpy(st->manifests, s->manifests, sizeof st->manifests);
        st->manifests_seen = s->manifests_seen;
        st->manifests_truncated = s->manifests_truncated;
    }
    uint64_t bound = 0, pending = 0;
    for (size_t i = 0; i < s->cap; i++) {
        const binding_t *b = &s->bindings[i];
        if (!b->firm[0] || !b->bound)
            continue;
        bound++;
        const wf_firm_rec_t *f = wf_engine_firm(s->engine, b->firm);
        if (f && f->stream_seq > b->last)
            pending += f->stream_seq - b->last;
    }
    s->fig.streams_bound = bound;
    s->fig.stream_pending = pending;
    wf_net_figures_fill(&s->fig, st);

    msgpack_sbuffer_clear(&s->msb);
    wf_metrics_render(&s->msb, st, &s->fig, WUFEI_VERSION);
    bool state = wf_http_dashboard(s->http) && now - s->state_at >= STATE_MS;
    if (state) {
        s->state_at = now;
        msgpack_sbuffer_clear(&s->jsb);
        wf_dashboard_render(&s->jsb, s->engine, st, &s->fig, now);
    }
    wf_http_publish(s->http, now, s->msb.data ? s->msb.data : "", s->msb.size,
                    state ? s->jsb.data : NULL, s->jsb.size);
}

/* ------------------------------------------------------------------ */
/* The loop                                                            */

/* Reads the requests waiting, into reqs[*nreq..] and the decoded ones into
 * cmds[*ncmds..], until none is left or the batch holds s->batch requests.
 * Returns how many it read, or -1 on a socket failure before any. */
static int
drain(wf_server_t *s, req_t *reqs, wf_cmd_t *cmds, size_t *nreq, size_t *ncmds)
{
    size_t n = *nreq, start = *nreq;
    const wf_config_t *cfg = wf_engine_config(s->engine);
    int64_t now = wf_now_ms();
    while (n < s->batch) {
        req_t *r = &reqs[n];
        zmq_msg_t body;
        int got = recv_msg(s, r, &body);
        if (got < 0) {
            *nreq = n;
            return n > start ? (int)(n - start) : -1;
        }
        if (got == 0)
            break;
        if (got == 2) {
            event(s, "dropped a message with a malformed envelope");
            continue;
        }
        r->rid = 0;
        r->msg[0] = '\0';
        r->t0 = wf_mono_ns();
        size_t len = zmq_msg_size(&body);
        if (len > WF_BODY_MAX) {
            r->err = WF_E_LIMIT;
            snprintf(r->msg, sizeof r->msg, "the request is %zu bytes; the limit is %d", len, WF_BODY_MAX);
        } else {
            wf_cmd_t *c = &cmds[*ncmds];
            /* secure mode: the key's firm pays even for what does not decode */
            const char *payer = s->insecure ? NULL : zmq_msg_gets(&body, "User-Id");
            r->err = wf_codec_decode(zmq_msg_data(&body), len, c, r->msg, sizeof r->msg);
            r->rid = c->rid;
            if (r->err == WF_OK)
                r->err = identify(s, &body, c, r->msg, sizeof r->msg);
            if (r->err == WF_OK || s->insecure)
                payer = r->err == WF_OK ? c->as : NULL;
            if (!rate_admit(s, cfg, payer, now, r->msg, sizeof r->msg))
                r->err = WF_E_LIMIT;
            if (r->err == WF_OK)
                r->cmd = (*ncmds)++;
        }
        zmq_msg_close(&body);
        n++;
    }
    *nreq = n;
    return (int)(n - start);
}

/* The requests of a running batch (wf_engine_apply_more's source): those
 * that arrived while it executed join it and share its commit. */
struct more_ctx {
    wf_server_t *s;
    size_t nreq, ncmds;
};

static size_t
more_requests(void *ctx, wf_cmd_t *cmds, size_t cap)
{
    struct more_ctx *m = ctx;
    size_t before = m->ncmds;
    assert(cmds == m->s->cmds + before && cap >= m->s->batch - m->nreq);
    (void)cmds;
    (void)cap;
    drain(m->s, m->s->reqs, m->s->cmds, &m->nreq, &m->ncmds);
    return m->ncmds - before;
}

/* The engine's overlap (wf_engine_overlap_sync): while a batch's record
 * syncs, the requests that wait are read and decoded for the next batch.
 * Nothing is sent: the batch being synced is answered after the sync. */
static void
prefetch(void *ctx)
{
    wf_server_t *s = ctx;
    if (s->staged_nreq < s->batch && !atomic_load(&s->stop)) {
        int n = drain(s, s->next_reqs, s->next_cmds, &s->staged_nreq, &s->staged_ncmds);
        if (n > 0)
            s->stats.prefetched += (unsigned long long)n;
    }
}

static void
count_batch(wf_server_stats_t *st, size_t n)
{
    int b = 0;
    while (b < 8 && ((size_t)2 << b) <= n)
        b++;
    st->hist[b]++;
    st->batches++;
    st->requests += n;
    if (n > st->max_batch)
        st->max_batch = n;
}

void
wf_server_stats(const wf_server_t *self, wf_server_stats_t *out)
{
    *out = self->stats;
}

void
wf_server_log_stats(const wf_server_t *self)
{
    const wf_server_stats_t *st = &self->stats;
    char sizes[256] = "";
    size_t len = 0;
    for (int b = 0; b < 9 && len < sizeof sizes; b++) {
        unsigned lo = 1u << b, hi = b == 8 ? WF_BATCH_MAX : (2u << b) - 1;
        if (lo == hi)
            len += (size_t)snprintf(sizes + len, sizeof sizes - len, "%s%u:%llu", b ? " " : "", lo, st->hist[b]);
        else
            len += (size_t)snprintf(sizes + len, sizeof sizes - len, " %u-%u:%llu", lo, hi, st->hist[b]);
    }
    wf_server_log(self->log, "served %llu requests in %llu engine batches (mean %.2f, max %llu; sizes %s; "
                  "%llu read while a batch synced)",
                  st->requests, st->batches, st->batches ? (double)st->requests / (double)st->batches : 0.0,
                  st->max_batch, sizes, st->prefetched);
    wf_engine_times_t et;
    wf_engine_times(self->engine, &et);
    double nb = st->batches ? (double)st->batches : 1.0, ne = et.batches ? (double)et.batches : 1.0;
    wf_server_log(self->log, "per batch: wait %.1f us, read %.1f us, apply %.1f us, send %.1f us over %llu batches; "
                             "engine: exec %.1f us, sign %.1f us, commit %.1f us over %llu commits",
                  (double)st->wait_ns / nb / 1e3, (double)st->read_ns / nb / 1e3, (double)st->apply_ns / nb / 1e3,
                  (double)st->send_ns / nb / 1e3, st->batches, (double)et.exec_ns / ne / 1e3,
                  (double)et.sign_ns / ne / 1e3, (double)et.commit_ns / ne / 1e3, (unsigned long long)et.batches);
}

/* Fires the engine's due timers (expiry, push delays) as one internal
 * tick batch and sends what it produced. A failed tick is retried a second
 * later rather than in a busy loop. */
static void
fire_timers(wf_server_t *s, int64_t now)
{
    wf_cmd_t tick;
    memset(&tick, 0, sizeof tick);
    tick.op = WF_OP_TICK;
    wf_reply_t rep;
    wf_outbox_t out = {0};
    int rc = wf_engine_apply(s->engine, &tick, 1, now, &rep, &out);
    if (rc != WF_OK || rep.err != WF_OK) {
        wf_server_log(s->log, "timers failed: %s %s", wf_err_name(rc != WF_OK ? rc : rep.err), rep.msg);
        s->timers_after = now + 1000;
        return;
    }
    send_streams(s, &out);
    send_feed(s, &out);
}

/* Work that falls due with time rather than with a request. */
static void
housekeeping(wf_server_t *s)
{
    int64_t now = wf_now_ms();
    send_feed_due(s, now);
    publish_snapshot(s, now);
}

/* The poll wait: timeout_ms, or less when a timer falls due sooner. */
static int
poll_wait(wf_server_t *s, int timeout_ms, int64_t now)
{
    /* the state commit a batch found due runs here, after its replies went
     * out (engine.h; a tick batch just run commits it itself) */
    int idle = wf_engine_idle(s->engine);
    if (idle >= 0 && (timeout_ms < 0 || idle < timeout_ms))
        timeout_ms = idle;
    int64_t next = wf_engine_next_timer(s->engine);
    if (next < s->timers_after)
        next = s->timers_after;
    if (next == INT64_MAX)
        return timeout_ms;
    int64_t d = next > now ? next - now : 0;
    return timeout_ms < 0 || d < timeout_ms ? (int)d : timeout_ms;
}

int
wf_server_poll(wf_server_t *s, int timeout_ms)
{
    int64_t now = wf_now_ms();
    if (wf_engine_next_timer(s->engine) <= now && s->timers_after <= now)
        fire_timers(s, now);
    timeout_ms = poll_wait(s, timeout_ms, wf_now_ms());
    zmq_pollitem_t items[2] = {
        {.socket = s->router, .events = ZMQ_POLLIN},
        {.socket = s->zap, .events = ZMQ_POLLIN},
    };
    /* Requests read during the last batch's sync are this batch's start:
     * no wait for them (a look at the ZAP socket all the same). */
    size_t staged = s->staged_nreq;
    if (staged) {
        void *t;
        t = s->reqs, s->reqs = s->next_reqs, s->next_reqs = t;
        t = s->cmds, s->cmds = s->next_cmds, s->next_cmds = t;
        timeout_ms = 0;
    }
    size_t nreq = staged, ncmds = s->staged_ncmds;
    s->staged_nreq = s->staged_ncmds = 0;
    int64_t t_wait = wf_mono_ns();
    int rc = zmq_poll(items, s->zap ? 2 : 1, timeout_ms);
    int64_t t_read = wf_mono_ns();
    if (rc < 0 && !staged) {
        if (errno != EINTR)
            return -1;
        housekeeping(s);
        return 0;
    }
    if (rc > 0 && s->zap && (items[1].revents & ZMQ_POLLIN))
        zap_serve(s);
    if (!staged && (rc == 0 || !(items[0].revents & ZMQ_POLLIN))) {
        housekeeping(s);
        return 0;
    }

    int n = drain(s, s->reqs, s->cmds, &nreq, &ncmds);
    if (n <= 0 && !staged) {
        housekeeping(s);
        return n;
    }
    n = (int)nreq; /* the staged ones (even after a socket failure) and those just read */

    wf_outbox_t out = {0};
    int64_t t0 = wf_mono_ns(), t1 = t0;
    if (ncmds > 0) {
        /* Requests that arrive while the batch runs join it (bounded by
         * s->batch and WF_MORE_ROUNDS): they share its commit instead of
         * waiting for the next one, and are answered after it with the rest. */
        struct more_ctx more = {.s = s, .nreq = nreq, .ncmds = ncmds};
        int arc = wf_engine_apply_more(s->engine, s->cmds, &ncmds, s->batch, more_requests, &more, wf_now_ms(),
                                       s->replies, &out);
        nreq = more.nreq;
        n = (int)nreq;
        count_batch(&s->stats, ncmds);
        t1 = wf_mono_ns();
        wf_net_figures_batch(&s->fig, t1 > t0 ? (uint64_t)(t1 - t0) / 1000 : 0, ncmds);
        if (arc != WF_OK)
            wf_server_log(s->log, "batch of %zu failed: %s", ncmds, wf_err_name(arc));
    }

    const wf_config_t *cfg = NULL;
    for (int i = 0; i < n; i++) {
        req_t *r = &s->reqs[i];
        char hex[40];
        msgpack_sbuffer_clear(&s->sb);
        if (r->err != WF_OK) {
            if (r->err != WF_E_LIMIT || strncmp(r->msg, "rate limit", 10) != 0)
                event(s, "bad request from connection %s: rid %llu %s %s", peer_hex(&r->env, hex),
                      (unsigned long long)r->rid, wf_err_name(r->err), r->msg);
            wf_codec_error(&s->sb, r->rid, r->err, r->msg);
            send_reply(s, &r->env);
            int64_t t = wf_mono_ns();
            wf_net_figures_request(&s->fig, t > r->t0 ? (uint64_t)(t - r->t0) / 1000 : 0, false);
            continue;
        }
        const wf_cmd_t *c = &s->cmds[r->cmd];
        wf_reply_t *rep = &s->replies[r->cmd];
        rep->rid = c->rid; /* the reply answers this request whatever the engine wrote */
        rep->op = c->op;
        if (rep->err == WF_OK && (c->op == WF_OP_FIRM_GET || c->op == WF_OP_FIRM_PUT) && rep->firm &&
            !rep->config) {
            if (!cfg)
                cfg = wf_engine_config(s->engine);
            rep->config = cfg; /* for the firm's tier */
        }
        if (rep->err == WF_OK && c->op == WF_OP_HELLO && c->as[0]) {
            binding_t *b = binding_get(s, c->as);
            b->bound = true;
            b->env = r->env;
            b->last = c->u.hello.after_seq;
        }
        if (rep->err == WF_OK && c->op == WF_OP_STATS && rep->stats) {
            *s->stats_reply = *rep->stats; /* the loop's own latency figures join the engine's */
            wf_net_figures_fill(&s->fig, s->stats_reply);
            rep->stats = s->stats_reply;
        }
        log_reply(s, r, c, rep);
        wf_codec_reply(&s->sb, rep, wf_engine_catalogue(s->engine));
        send_reply(s, &r->env);
        int64_t t = wf_mono_ns();
        wf_net_figures_request(&s->fig, t > r->t0 ? (uint64_t)(t - r->t0) / 1000 : 0, rep->err == WF_OK);
    }
    if (ncmds > 0) {
        send_streams(s, &out);
        send_feed(s, &out);
        s->stats.wait_ns += (unsigned long long)(t_read - t_wait);
        s->stats.read_ns += (unsigned long long)(t0 - t_read);
        s->stats.apply_ns += (unsigned long long)(t1 - t0);
        s->stats.send_ns += (unsigned long long)(wf_mono_ns() - t1);
    }
    if (s->limited != s->limited_logged) {
        int64_t t = wf_now_ms();
        if (t - s->limited_log_ms >= 1000) {
            wf_server_log(s->log, "rate limit: %llu requests answered E_LIMIT (%llu in all)",
                          (unsigned long long)(s->limited - s->limited_logged), (unsigned long long)s->limited);
            s->limited_logged = s->limited;
            s->limited_log_ms = t;
        }
    }
    housekeeping(s);
    return n;
}

int
wf_server_run(wf_server_t *s)
{
    /* requests read before the stop are answered (prefetch reads no more
     * once it is asked) */
    while (!atomic_load(&s->stop) || s->staged_nreq > 0) {
        if (wf_server_poll(s, POLL_MS) < 0) {
            wf_server_log(s->log, "command socket failed: %s", zmq_strerror(errno));
            return -1;
        }
        if (atomic_exchange(&s->stats_soon, 0))
            wf_server_log_stats(s);
    }
    return 0;
}

void
wf_server_log_stats_soon(wf_server_t *self)
{
    atomic_store(&self->stats_soon, 1);
}
