/* End-to-end tests of wufeid's flow control: the per-firm token bucket
 * (config rate_per_s, rate_burst; E_LIMIT past it, other firms unaffected)
 * and the high-water marks: a client that floods requests and never reads
 * its replies must neither stop another client from being served nor grow
 * the daemon's memory without bound (measured from /proc: VmRSS and the
 * peak VmHWM). */
#include "e2e_daemon.h"

#include <zmq.h>

#define PRODUCER "91330603MA2D000001"
#define CONSUMER "91330604MA2D000002"

static dmn_t D;

static void setup(void)
{
    dmn_init(&D, true);
    D.extra[0] = "--quiet";
    dmn_start(&D);
    wfc_t *op = dmn_operator(&D);
    dmn_put_firm(op, PRODUCER, "producer", 30.08, 120.49, 330603, NULL);
    dmn_put_firm(op, CONSUMER, "consumer", 30.03, 120.87, 330604, NULL);
    wfc_destroy(&op);
}

static void teardown(void)
{
    dmn_fini(&D);
}

static wfc_t *as(const char *firm)
{
    return dmn_client_keys(&D, firm, NULL, 5000);
}

TestSuite(limits, .init = setup, .fini = teardown, .timeout = 120);

Test(limits, token_bucket_per_firm)
{
    wfc_t *op = dmn_operator(&D);
    const msgpack_object *r = req(op, "config.get", NULL);
    assert_ok(r, "config.get");
    const msgpack_object *cfg = wfc_get(r, "config");
    cr_assert_not_null(cfg);
    cr_assert_eq(wfc_get_int(cfg, "rate_per_s", -1), 200, "default rate");
    cr_assert_eq(wfc_get_int(cfg, "rate_burst", -1), 400, "default burst");
    assert_err(req(op, "config.set", "rate_burst:i", 0LL), "E_FIELD", "a burst of 0");
    assert_err(req(op, "config.set", "rate_per_s:i", -1LL), "E_FIELD", "a negative rate");
    assert_ok(req(op, "config.set", "rate_per_s:i rate_burst:i", 10LL, 20LL), "config.set rate");

    wfc_t *p = as(PRODUCER), *c = as(CONSUMER);
    int okn = 0, limited = 0;
    int64_t t0 = dmn_ms();
    for (int i = 0; i < 60; i++) {
        r = req(p, "orders.mine", NULL);
        if (wfc_get_bool(r, "ok", false)) {
            okn++;
        } else {
            char e[32] = "", m[256] = "";
            wfc_get_str(r, "err", e, sizeof e);
            wfc_get_str(r, "msg", m, sizeof m);
            cr_assert_str_eq(e, "E_LIMIT", "%s", m);
            cr_assert(strstr(m, "rate limit"), "%s", m);
            limited++;
        }
    }
    double secs = (double)(dmn_ms() - t0) / 1000.0;
    cr_log_info("60 requests in %.2f s: %d served, %d E_LIMIT", secs, okn, limited);
    cr_assert_geq(okn, 20, "the burst is served");
    cr_assert_leq(okn, 20 + (int)(secs * 10) + 2, "more than the bucket allows were served");
    cr_assert_gt(limited, 0);
    /* another firm has its own bucket */
    for (int i = 0; i < 15; i++)
        assert_ok(req(c, "orders.mine", NULL), "the consumer is not limited by the producer's flood");
    /* the bucket refills */
    usleep(1200 * 1000);
    assert_ok(req(p, "orders.mine", NULL), "after a pause");
    /* 0 = no limit */
    usleep(200 * 1000); /* the operator's own bucket */
    assert_ok(req(op, "config.set", "rate_per_s:i", 0LL), "config.set rate_per_s 0");
    for (int i = 0; i < 300; i++)
        assert_ok(req(p, "ping", NULL), "no limit");
    wfc_destroy(&p);
    wfc_destroy(&c);
    wfc_destroy(&op);
}

/* kB from a "Name:   1234 kB" line of /proc/PID/status. */
static long proc_kb(pid_t pid, const char *name)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long v = -1;
    size_t n = strlen(name);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, n) == 0 && line[n] == ':')
            v = atol(line + n + 1);
    fclose(f);
    return v;
}

/* Sends up to n requests on a raw DEALER within ms, never reading. Returns
 * the number sent. */
static int flood(void *sock, const void *body, size_t len, int n, int ms)
{
    int64_t deadline = dmn_ms() + ms;
    int sent = 0;
    while (sent < n && dmn_ms() < deadline) {
        if (zmq_send(sock, body, len, 0) >= 0)
            sent++;
        else if (errno != EAGAIN && errno != EINTR)
            break;
    }
    return sent;
}

Test(limits, a_client_that_never_reads_stalls_nobody, .timeout = 180)
{
    /* the worst case: no rate limit, every flooded request is served */
    wfc_t *op = dmn_operator(&D);
    assert_ok(req(op, "config.set", "rate_per_s:i", 0LL), "config.set rate_per_s 0");
    wfc_destroy(&op);
    wfc_t *p = as(PRODUCER);
    for (int i = 0; i < 10; i++)
        assert_ok(req(p, "offer.post", "code:s qty:i price:i", "SW07", 1000LL + i, 50000LL), "offer.post");
    wfc_destroy(&p);

    /* orders.mine of ten orders: about 2.5 KB a reply */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    wfc_pack_str(&pk, "op");
    wfc_pack_str(&pk, "orders.mine");
    wfc_pack_str(&pk, "rid");
    msgpack_pack_uint64(&pk, 1);
    wfc_pack_str(&pk, "as");
    wfc_pack_str(&pk, PRODUCER);

    void *ctx = zmq_ctx_new();
    void *slow = zmq_socket(ctx, ZMQ_DEALER);
    int one = 1, linger = 0, sndtimeo = 100, rcvbuf = 4096;
    zmq_setsockopt(slow, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(slow, ZMQ_RCVHWM, &one, sizeof one);
    zmq_setsockopt(slow, ZMQ_RCVBUF, &rcvbuf, sizeof rcvbuf);
    zmq_setsockopt(slow, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo);
    cr_assert_eq(zmq_connect(slow, D.cmd_ep), 0);

    long rss0 = proc_kb(D.pid, "VmRSS");
    wfc_t *c = as(CONSUMER);
    int64_t worst = 0;
    long rss[3] = {0};
    int sent_total = 0;
    for (int phase = 0; phase < 3; phase++) {
        int sent = flood(slow, sb.data, sb.size, 20000, 8000);
        sent_total += sent;
        /* the other client is served promptly meanwhile */
        for (int i = 0; i < 50; i++) {
            int64_t t = dmn_ms();
            const msgpack_object *r = req_try(c, "orders.mine", NULL);
            if (!r)
                cr_assert_fail("phase %d: the consumer got no reply while the other client floods: %s", phase,
                               wfc_error(c));
            assert_ok(r, "orders.mine by the consumer during the flood");
            if (dmn_ms() - t > worst)
                worst = dmn_ms() - t;
        }
        rss[phase] = proc_kb(D.pid, "VmRSS");
    }
    long hwm = proc_kb(D.pid, "VmHWM");
    cr_log_info("slow client sent %d requests, read none; daemon RSS %ld kB before, %ld / %ld / %ld kB "
                "after each phase, peak %ld kB; the other client's worst reply %lld ms",
                sent_total, rss0, rss[0], rss[1], rss[2], hwm, (long long)worst);
    fprintf(stderr, "slow-client figures: sent %d, RSS before %ld kB, after phases %ld %ld %ld kB, peak %ld kB, "
                    "worst latency %lld ms\n",
            sent_total, rss0, rss[0], rss[1], rss[2], hwm, (long long)worst);
    cr_assert_gt(sent_total, 20000, "the flood should outrun the high-water marks");
    cr_assert_lt(worst, 2000, "the other client waited %lld ms", (long long)worst);
    /* bounded: at most SNDHWM replies (about 10,500 of 2.5 KB) wait for
     * the slow peer, whatever it sends; the third phase adds nothing */
    cr_assert_lt(hwm - rss0, 256 * 1024, "the daemon grew by %ld kB", hwm - rss0);
    cr_assert_lt(rss[2] - rss[1], 16 * 1024, "the daemon still grows under the flood: %ld -> %ld kB", rss[1], rss[2]);
    /* closing the slow peer frees its queue; the daemon serves on */
    zmq_close(slow);
    zmq_ctx_term(ctx);
    assert_ok(req(c, "ping", NULL), "ping after the flood");
    wfc_destroy(&c);
    msgpack_sbuffer_destroy(&sb);
}
