/* End-to-end tests of "seeing the market": wufeid --insecure with
 * --metrics-port and --dashboard on free loopback ports. The metrics
 * endpoint is read with a tiny HTTP client over a loopback socket, the
 * public feed's book.<code> messages with a SUB socket, and the dashboard
 * (its JSON and the page itself) with that client and, when it is
 * installed, headless Chromium. Every wait is bounded. */
#define _GNU_SOURCE /* nftw */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <sys/time.h>
#include <zmq.h>

#include "clients/wfclient.h"

#define OPERATOR "000000000000000000"
#define PRODUCER "91330603MA2D000001"
#define CONSUMER "91330604MA2D000002"
#define PRODUCER2 "91330603MA2D000003"
#define TIMEOUT_MS 5000

/* ---- the daemon under test ---- */

static struct {
    char dir[256];
    char cmd_ep[64], feed_ep[64];
    int http_port;
    pid_t pid;
} D;

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    cr_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    cr_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static wfc_t *client(const char *as)
{
    wfc_opts_t o = {.endpoint = D.cmd_ep, .as = as, .timeout_ms = TIMEOUT_MS};
    wfc_t *c = wfc_new(&o);
    cr_assert_not_null(c, "wfc_new(%s)", D.cmd_ep);
    return c;
}

/* Starts wufeid on D.dir with fresh ports and waits (at most 20 s) until it
 * answers ping. */
static void daemon_start(void)
{
    int p1 = free_port(), p2, p3;
    do
        p2 = free_port();
    while (p2 == p1);
    do
        p3 = free_port();
    while (p3 == p1 || p3 == p2);
    D.http_port = p3;
    char port3[16];
    snprintf(port3, sizeof port3, "%d", p3);
    snprintf(D.cmd_ep, sizeof D.cmd_ep, "tcp://127.0.0.1:%d", p1);
    snprintf(D.feed_ep, sizeof D.feed_ep, "tcp://127.0.0.1:%d", p2);
    char log[300];
    snprintf(log, sizeof log, "%s.log", D.dir);
    /* no Criterion assertion may run in the child: it would talk to the
     * runner's socket from a second process and hang */
    D.pid = fork();
    if (D.pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execl(WUFEID_PATH, WUFEID_PATH, "--db", D.dir, "--command", D.cmd_ep, "--feed", D.feed_ep,
              "--insecure", "--quiet", "--metrics-port", port3, "--dashboard", (char *)NULL);
        _exit(127);
    }
    cr_assert(D.pid > 0, "fork: %s", strerror(errno));
    wfc_opts_t o = {.endpoint = D.cmd_ep, .timeout_ms = 250};
    wfc_t *c = wfc_new(&o);
    cr_assert_not_null(c);
    int64_t deadline = mono_ms() + 20000;
    bool up = false;
    while (!up && mono_ms() < deadline) {
        int status;
        if (waitpid(D.pid, &status, WNOHANG) == D.pid) {
            D.pid = -1;
            wfc_destroy(&c);
            cr_assert_fail("wufeid exited before answering ping (status %d), see %s", status, log);
        }
        const msgpack_object *reply;
        wfc_begin(c, "ping", 0);
        up = wfc_call(c, &reply) == 0 && wfc_get_bool(reply, "ok", false);
    }
    wfc_destroy(&c);
    cr_assert(up, "wufeid did not answer ping on %s within 20 s", D.cmd_ep);
}

/* SIGTERM, then waits at most 15 s; returns the exit status (-1 when it had
 * to be killed). */
static int daemon_stop(void)
{
    if (D.pid <= 0)
        return 0;
    kill(D.pid, SIGTERM);
    int status = 0;
    int64_t deadline = mono_ms() + 15000;
    while (mono_ms() < deadline) {
        pid_t r = waitpid(D.pid, &status, WNOHANG);
        if (r == D.pid) {
            D.pid = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        usleep(10000);
    }
    kill(D.pid, SIGKILL);
    waitpid(D.pid, &status, 0);
    D.pid = -1;
    return -1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void setup(void)
{
    snprintf(D.dir, sizeof D.dir, "/tmp/wufei-e2e-XXXXXX");
    cr_assert_not_null(mkdtemp(D.dir));
    D.pid = -1;
    daemon_start();
}

static void teardown(void)
{
    int st = daemon_stop();
    cr_expect_eq(st, 0, "wufeid exited with status %d after SIGTERM", st);
    nftw(D.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    char log[300];
    snprintf(log, sizeof log, "%s.log", D.dir);
    unlink(log);
}

/* ---- requests ---- */

/* Sends op with fields described by fmt, space-separated "key:t" with t one
 * of s (string), i (long long), d (double), b (int, bool), l (string list,
 * comma-separated), n (nil); the values follow as arguments. Asserts a
 * reply came; returns it (valid until the next call on c). */
static const msgpack_object *req(wfc_t *c, const char *op, const char *fmt, ...)
{
    char spec[512];
    snprintf(spec, sizeof spec, "%s", fmt ? fmt : "");
    char *keys[32];
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(spec, " ", &save); t && n < 32; t = strtok_r(NULL, " ", &save))
        keys[n++] = t;
    msgpack_packer *pk = wfc_begin(c, op, n);
    va_list ap;
    va_start(ap, fmt);
    for (size_t i = 0; i < n; i++) {
        char *colon = strchr(keys[i], ':');
        cr_assert_not_null(colon, "bad spec %s", keys[i]);
        *colon = '\0';
        wfc_pack_str(pk, keys[i]);
        switch (colon[1]) {
        case 's': wfc_pack_str(pk, va_arg(ap, const char *)); break;
        case 'i': msgpack_pack_int64(pk, va_arg(ap, long long)); break;
        case 'd': msgpack_pack_double(pk, va_arg(ap, double)); break;
        case 'b': va_arg(ap, int) ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
        case 'n': msgpack_pack_nil(pk); break;
        case 'l': {
            char list[256];
            snprintf(list, sizeof list, "%s", va_arg(ap, const char *));
            size_t m = 1;
            for (char *p = list; *p; p++)
                m += *p == ',';
            msgpack_pack_array(pk, m);
            char *s2 = NULL;
            for (char *t = strtok_r(list, ",", &s2); t; t = strtok_r(NULL, ",", &s2))
                wfc_pack_str(pk, t);
            break;
        }
        default: cr_assert_fail("bad type in spec");
        }
    }
    va_end(ap);
    const msgpack_object *reply;
    int rc = wfc_call(c, &reply);
    cr_assert_eq(rc, 0, "%s: %s", op, wfc_error(c));
    return reply;
}

static const char *err_of(const msgpack_object *reply, char *buf, size_t len)
{
    if (wfc_get_bool(reply, "ok", false)) {
        snprintf(buf, len, "ok");
        return buf;
    }
    if (!wfc_get_str(reply, "err", buf, len))
        snprintf(buf, len, "(no err)");
    return buf;
}

#define assert_ok(reply, what)                                                                     \
    do { /* evaluates reply once: it is often the request itself */                                \
        const msgpack_object *o_ = (reply);                                                        \
        char m_[256] = "", e_[32];                                                                 \
        wfc_get_str(o_, "msg", m_, sizeof m_);                                                     \
        cr_assert(wfc_get_bool(o_, "ok", false), "%s: %s: %s", (what), err_of(o_, e_, sizeof e_), m_); \
    } while (0)

#define assert_err(reply, code, what)                                                              \
    do {                                                                                           \
        const msgpack_object *r_ = (reply);                                                        \
        char e_[32], m_[256] = "";                                                                 \
        wfc_get_str(r_, "msg", m_, sizeof m_);                                                \
        cr_assert_str_eq(err_of(r_, e_, sizeof e_), (code), "%s: want %s, got %s (%s)",       \
                         (what), (code), e_, m_);                                                  \
        cr_assert(m_[0] != '\0', "%s: error reply without msg", (what));                           \
    } while (0)

static void put_firm(wfc_t *op, const char *id, const char *name, const char *roles, double lat, double lon,
                     long long county)
{
    const msgpack_object *r = req(op, "firm.put", "firm:s name:s roles:l lat:d lon:d county:i base_credit:i", id,
                                  name, roles, lat, lon, county, 85LL);
    assert_ok(r, "firm.put");
}

/* The three firms most tests use: a Keqiao dyeing mill, a Shangyu kiln,
 * and a second Keqiao producer. */
static void register_firms(void)
{
    wfc_t *op = client(OPERATOR);
    put_firm(op, PRODUCER, "绍兴柯桥宏达印染有限公司", "producer", 30.08, 120.49, 330603);
    put_firm(op, CONSUMER, "绍兴上虞新型墙材有限公司", "consumer", 30.03, 120.87, 330604);
    put_firm(op, PRODUCER2, "绍兴柯桥锦纶印染有限公司", "producer", 30.09, 120.47, 330603);
    wfc_destroy(&op);
}

TestSuite(metrics, .init = setup, .fini = teardown, .timeout = 120);

/* ---- a tiny HTTP client ---- */

/* GET path on the daemon's HTTP port; returns the status (0 on failure)
 * and the body, NUL-terminated, in a malloc'd *body (caller frees).
 * Bounded: 5 s per read, 4 MiB at most. */
static int http_get(const char *path, char **body)
{
    *body = NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)D.http_port);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return 0;
    }
    char rq[256];
    int n = snprintf(rq, sizeof rq, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (write(fd, rq, (size_t)n) != n) {
        close(fd);
        return 0;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (len == cap) {
            if (cap >= (4u << 20))
                break;
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    char *sep = strstr(buf, "\r\n\r\n");
    *body = strdup(sep ? sep + 4 : "");
    free(buf);
    return status;
}

/* The value of the sample line that starts with "name " (name may carry
 * labels), or NAN when absent. */
static double metric(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, name, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return NAN;
}

/* Polls /metrics (at most 5 s) until name reaches at least want; returns the text. */
static char *metrics_when(const char *name, double want)
{
    int64_t deadline = mono_ms() + 5000;
    char *body = NULL;
    for (;;) {
        free(body);
        int st = http_get("/metrics", &body);
        cr_assert_eq(st, 200, "GET /metrics: status %d", st);
        double v = metric(body, name);
        if ((!isnan(v) && v >= want) || mono_ms() > deadline)
            break;
        usleep(50000);
    }
    return body;
}

static void trade(void)
{
    register_firms();
    wfc_t *p = client(PRODUCER), *c = client(CONSUMER);
    const msgpack_object *r = req(p, "offer.post", "code:s qty:i price:i", "SW07", 12000LL, -5000LL);
    assert_ok(r, "offer.post");
    r = req(c, "demand.post", "codes:l qty:i price:i", "SW07", 20000LL, -3000LL);
    assert_ok(r, "demand.post");
    r = req(c, "demand.post", "codes:l qty:i price:i", "REC06", 5000LL, 100LL);
    assert_ok(r, "demand.post REC06");
    wfc_destroy(&p);
    wfc_destroy(&c);
}

Test(metrics, prometheus_text_with_the_market_and_the_loop)
{
    trade();
    /* manifest counts come from a scan refreshed at most once a second */
    char *m = metrics_when("wufei_manifests{state=\"OPEN\"}", 1);
    cr_assert_eq(metric(m, "wufei_up"), 1.0, "%s", m);
    cr_assert_eq(metric(m, "wufei_matches_total"), 1.0);
    cr_assert_float_eq(metric(m, "wufei_tonnes_matched_total"), 12.0, 1e-9);
    double km = metric(m, "wufei_tonne_km_total") / 12.0;
    cr_assert(km > 30 && km < 40, "Keqiao to Shangyu is about 37 km, got %f", km);
    cr_assert_float_eq(metric(m, "wufei_co2_kg_total"), metric(m, "wufei_tonne_km_total") * 0.1, 0.01);
    cr_assert_eq(metric(m, "wufei_orders_live{side=\"demand\",class=\"industrial\"}"), 1.0);
    cr_assert_float_eq(metric(m, "wufei_tonnes_live{side=\"demand\",class=\"industrial\"}"), 8.0, 1e-9);
    cr_assert_eq(metric(m, "wufei_orders_live{side=\"demand\",class=\"recyclable\"}"), 1.0);
    cr_assert_eq(metric(m, "wufei_orders_live{side=\"offer\",class=\"industrial\"}"), 0.0);
    cr_assert_eq(metric(m, "wufei_class_matches_total{class=\"industrial\"}"), 1.0);
    cr_assert_eq(metric(m, "wufei_manifests{state=\"OPEN\"}"), 1.0);
    cr_assert_eq(metric(m, "wufei_firms{tier=\"B\"}"), 3.0);
    cr_assert(metric(m, "wufei_journal_seq") >= 6.0);
    /* the loop's own figures: every request so far was answered and timed */
    double reqs = metric(m, "wufei_request_seconds_count");
    cr_assert(reqs >= 6, "requests %f", reqs);
    cr_assert_eq(metric(m, "wufei_request_seconds_bucket{le=\"+Inf\"}"), reqs);
    cr_assert(metric(m, "wufei_request_seconds_sum") > 0);
    cr_assert(metric(m, "wufei_batch_size_count") >= 1);
    cr_assert(metric(m, "wufei_feed_messages_total{topic=\"match\"}") >= 1);
    cr_assert_not_null(strstr(m, "# TYPE wufei_request_seconds histogram"));
    cr_assert_not_null(strstr(m, "# TYPE wufei_matches_total counter"));
    cr_assert_not_null(strstr(m, "wufei_time_to_match_seconds{quantile=\"0.5\"}"));
    cr_assert(!isnan(metric(m, "wufei_stream_pending")));
    free(m);

    /* The stats op answers the same figures, with the latency. */
    wfc_t *op = client(OPERATOR);
    const msgpack_object *r = req(op, "stats", "top:i", 5LL);
    assert_ok(r, "stats");
    const msgpack_object *st = wfc_get(r, "stats");
    cr_assert_not_null(st);
    cr_assert_eq(wfc_get_int(wfc_get(st, "total"), "matches", -1), 1);
    cr_assert_eq(wfc_get_int(wfc_get(st, "manifests"), "OPEN", -1), 1);
    cr_assert(wfc_get_int(wfc_get(st, "latency"), "requests", 0) >= 6);
    wfc_t *p = client(PRODUCER);
    r = req(p, "stats", NULL);
    assert_err(r, "E_AUTH", "stats by a producer");
    wfc_destroy(&p);
    wfc_destroy(&op);

    char *b;
    cr_assert_eq(http_get("/healthz", &b), 200);
    cr_assert_str_eq(b, "ok\n");
    free(b);
    cr_assert_eq(http_get("/nothing", &b), 404);
    free(b);
}

Test(metrics, book_feed_is_rate_limited_per_code)
{
    register_firms();
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    int linger = 0, tmo = 200;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sub, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "book.SW07", 9);
    cr_assert_eq(zmq_connect(sub, D.feed_ep), 0);
    usleep(300000); /* PUB/SUB: let the subscription arrive */
    wfc_t *p = client(PRODUCER);
    /* Ten offers over about 2.5 s: at most one message a second, and the
     * last one says the total. */
    int64_t t0 = mono_ms();
    for (int i = 0; i < 10; i++) {
        const msgpack_object *r = req(p, "offer.post", "code:s qty:i price:i max_km:d", "SW07", 1000LL, 500LL, 1.0);
        assert_ok(r, "offer.post");
        usleep(250000);
    }
    int64_t t_last = mono_ms();
    int got = 0;
    int64_t last_off = -1, last_orders = -1, prev_at = 0, min_gap = INT64_MAX;
    while (mono_ms() < t_last + 2500) {
        char topic[64];
        int n = zmq_recv(sub, topic, sizeof topic - 1, 0);
        if (n < 0)
            continue;
        topic[n < 63 ? n : 63] = '\0';
        char body[512];
        int m = zmq_recv(sub, body, sizeof body, 0);
        cr_assert(m > 0);
        cr_assert_str_eq(topic, "book.SW07");
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        size_t off = 0;
        cr_assert_eq(msgpack_unpack_next(&up, body, (size_t)m, &off), MSGPACK_UNPACK_SUCCESS);
        char code[32] = "";
        wfc_get_str(&up.data, "code", code, sizeof code);
        cr_assert_str_eq(code, "SW07");
        last_off = wfc_get_int(&up.data, "offers", -1);
        last_orders = wfc_get_int(&up.data, "offer_orders", -1);
        cr_assert_eq(wfc_get_int(&up.data, "demands", -1), 0);
        int64_t at = wfc_get_int(&up.data, "ts", 0);
        if (prev_at && at - prev_at < min_gap)
            min_gap = at - prev_at;
        prev_at = at;
        msgpack_unpacked_destroy(&up);
        got++;
    }
    int64_t span = t_last - t0;
    cr_log_info("book.SW07: %d messages for 10 changes over %lld ms, closest %lld ms apart", got,
                (long long)span, (long long)min_gap);
    cr_assert(got >= 2, "got %d book messages", got);
    cr_assert(got <= span / 1000 + 2, "got %d messages in %lld ms: not rate limited", got, (long long)span);
    cr_assert(min_gap >= 1000, "two messages %lld ms apart", (long long)min_gap);
    cr_assert_eq(last_off, 10000, "the last message has the whole book");
    cr_assert_eq(last_orders, 10);
    wfc_destroy(&p);
    zmq_close(sub);
    zmq_ctx_term(ctx);
}

/* Runs cmd through the shell with its output into out (at most cap-1
 * bytes, NUL-terminated). Returns the exit status. */
static int run_capture(const char *cmd, char *out, size_t cap)
{
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f, "popen %s", cmd);
    size_t n = 0;
    while (n + 1 < cap) {
        size_t r = fread(out + n, 1, cap - 1 - n, f);
        if (r == 0)
            break;
        n += r;
    }
    out[n] = '\0';
    char sink[4096];
    while (fread(sink, 1, sizeof sink, f) > 0) {
    }
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *chromium_path(void)
{
    static const char *const paths[] = {"/usr/bin/chromium", "/usr/bin/chromium-browser",
                                        "/usr/bin/google-chrome"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    return NULL;
}

Test(metrics, dashboard_json_and_page)
{
    trade();
    char *m = metrics_when("wufei_matches_total", 1);
    free(m);
    /* The JSON lags the metrics by at most a second. */
    char *s = NULL;
    int64_t deadline = mono_ms() + 5000;
    do {
        free(s);
        usleep(100000);
        cr_assert_eq(http_get("/api/state", &s), 200);
    } while ((!strstr(s, "\"matches\":[[") || !strstr(s, "\"OPEN\":1")) && mono_ms() < deadline);
    cr_assert_not_null(strstr(s, "\"orders_live\":2,"), "%s", s);
    cr_assert_not_null(strstr(s, "[1,30.03000,120.87000,8.000,\"SW07\",-3000]"), "the resting demand on the map: %s", s);
    cr_assert_not_null(strstr(s, "\"matches\":[[30.08000,120.49000,30.03000,120.87000,12.000,\"SW07\""),
                       "today's match from Keqiao to Shangyu: %s", s);
    cr_assert_not_null(strstr(s, "\"credit\":{\"firms\":3,\"A\":0,\"B\":3,"), "%s", s);
    cr_assert_not_null(strstr(s, "\"manifests\":{\"OPEN\":1,"), "%s", s);
    free(s);

    char *page;
    cr_assert_eq(http_get("/", &page), 200);
    cr_assert_not_null(strstr(page, "<canvas id=\"map\""));
    cr_assert_not_null(strstr(page, "fetch(\"/api/state\""));
    cr_assert_null(strstr(page, "http://"), "the page loads nothing from elsewhere");
    cr_assert_null(strstr(page, "https://"), "the page loads nothing from elsewhere");
    free(page);

    const char *chromium = chromium_path();
    if (!chromium)
        cr_skip("chromium is not installed (scripts/deps installs it): the page was not rendered");
    char profile[300], shot[320], cmd[2048];
    snprintf(profile, sizeof profile, "%s-chromium", D.dir);
    snprintf(shot, sizeof shot, "%s-shot.png", D.dir);
    const char *flags = "--headless --no-sandbox --disable-gpu --disable-background-networking "
                        "--disable-component-update --disable-sync --no-first-run --disable-dev-shm-usage "
                        "--window-size=1400,1000 --virtual-time-budget=4000";
    snprintf(cmd, sizeof cmd, "timeout 60 %s %s --user-data-dir=%s --dump-dom http://127.0.0.1:%d/ 2>/dev/null",
             chromium, flags, profile, D.http_port);
    static char dom[1 << 18];
    int st = run_capture(cmd, dom, sizeof dom);
    cr_assert_eq(st, 0, "chromium --dump-dom exited %d", st);
    cr_assert_not_null(strstr(dom, "data-rendered=\""), "the page rendered /api/state: %.2000s", dom);
    cr_assert_not_null(strstr(dom, "<td>SW07</td>"), "the busiest codes table lists SW07");
    cr_assert_not_null(strstr(dom, "id=\"kpi-today\">1<"), "one match today");

    snprintf(cmd, sizeof cmd, "timeout 60 %s %s --user-data-dir=%s --screenshot=%s http://127.0.0.1:%d/ 2>&1",
             chromium, flags, profile, shot, D.http_port);
    st = run_capture(cmd, dom, sizeof dom);
    cr_assert_eq(st, 0, "chromium --screenshot exited %d: %s", st, dom);
    FILE *f = fopen(shot, "rb");
    cr_assert_not_null(f, "no screenshot at %s", shot);
    unsigned char sig[8];
    cr_assert_eq(fread(sig, 1, 8, f), 8);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    cr_assert_eq(memcmp(sig, "\x89PNG\r\n\x1a\n", 8), 0);
    /* A blank 1400x1000 page compresses to a few kB; the dashboard with its
     * map, bars and tables is well over 50 kB. */
    cr_log_info("dashboard screenshot: %ld bytes", size);
    cr_assert(size > 50000, "screenshot of %ld bytes looks empty", size);
    unlink(shot);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", profile);
    cr_assert_eq(system(cmd), 0);
}
