/* The writer loop's own figures, end to end: SIGUSR1 makes wufeid log the
 * requests served so far, their batch sizes and the loop's time per batch
 * (wait, read, apply, send; the engine's exec, sign and commit), and goes
 * on serving; the counts are cumulative, so two reports bracket a
 * measurement (bench-e2e relies on this, and parses these lines). */
#include "e2e_daemon.h"

#include <msgpack.h>
#include <zmq.h>

#define PRODUCER "91330603MA2D000001"

/* The k-th (from 0) report's two lines: requests and batches served, and
 * the batches and commits the per-batch line counts with its commit mean. */
typedef struct report {
    unsigned long long requests, batches, loop_batches, commits;
    unsigned long long prefetched; /* read while a batch synced */
    double commit_us, apply_us;
} report_t;

static bool
report_at(const dmn_t *d, int k, report_t *out)
{
    static char buf[1 << 20];
    char *p = dmn_slurp(d->log, buf, sizeof buf);
    memset(out, 0, sizeof *out);
    for (int i = 0; i <= k; i++) {
        p = strstr(p, "wufeid: served ");
        if (!p)
            return false;
        p++;
    }
    if (sscanf(p - 1, "wufeid: served %llu requests in %llu engine batches", &out->requests, &out->batches) != 2)
        return false;
    char *nl = strchr(p, '\n'), *pf = strstr(p, " read while a batch synced");
    if (!pf || (nl && pf > nl))
        return false;
    while (pf > p && pf[-1] >= '0' && pf[-1] <= '9')
        pf--;
    out->prefetched = strtoull(pf, NULL, 10);
    char *q = strstr(p, "wufeid: per batch: ");
    double w, r, s, e, g;
    return q && sscanf(q, "wufeid: per batch: wait %lf us, read %lf us, apply %lf us, send %lf us over %llu "
                          "batches; engine: exec %lf us, sign %lf us, commit %lf us over %llu commits",
                       &w, &r, &out->apply_us, &s, &out->loop_batches, &e, &g, &out->commit_us,
                       &out->commits) == 9;
}

static bool
wait_report(const dmn_t *d, int k, report_t *out)
{
    int64_t deadline = dmn_ms() + 10000;
    do {
        if (report_at(d, k, out))
            return true;
        usleep(20000);
    } while (dmn_ms() < deadline);
    return false;
}

/* A quiet daemon with PRODUCER registered; returns the operator's client. */
static wfc_t *
start_with_producer(dmn_t *d)
{
    dmn_init(d, true);
    d->extra[0] = "--quiet";
    dmn_start(d);
    wfc_t *op = dmn_operator(d);
    dmn_put_firm(op, PRODUCER, "producer", 30.0, 120.6, 330602, NULL);
    return op;
}

Test(server_stats, sigusr1_logs_the_figures_and_serving_goes_on, .timeout = 60)
{
    dmn_t d;
    wfc_t *op = start_with_producer(&d);

    cr_assert_eq(kill(d.pid, SIGUSR1), 0);
    report_t a, b;
    cr_assert(wait_report(&d, 0, &a), "no stats report after SIGUSR1, see %s", d.log);
    cr_assert_geq(a.requests, 2, "the start-up ping and firm.put at least");
    cr_assert_geq(a.batches, 1);
    cr_assert_eq(a.loop_batches, a.batches, "both lines count the same batches");
    cr_assert_geq(a.commits, a.batches, "every batch commits");
    cr_assert_gt(a.commit_us, 0.0, "a durable commit takes time");
    cr_assert_geq(a.apply_us, a.commit_us, "the commit is part of the apply");

    /* still serving, and the next report counts on from the first */
    wfc_t *p = dmn_client_keys(&d, PRODUCER, NULL, 5000);
    for (int i = 0; i < 5; i++)
        assert_ok(req(p, "offer.post", "code:s qty:i price:i", "SW01", 1000LL + i, 100LL), "offer.post");
    cr_assert_eq(kill(d.pid, SIGUSR1), 0);
    cr_assert(wait_report(&d, 1, &b), "no second stats report, see %s", d.log);
    cr_assert_eq(b.requests, a.requests + 5, "5 posts between the reports (%llu then %llu)", a.requests,
                 b.requests);
    cr_assert_geq(b.batches, a.batches + 1);
    cr_assert_leq(b.batches, a.batches + 5);
    cr_assert_geq(b.commits, a.commits + 1);
    assert_ok(req(p, "ping", NULL), "ping after the reports");

    wfc_destroy(&p);
    wfc_destroy(&op);
    dmn_fini(&d);
}

/* One firm's burst of posts, sent without waiting for replies, packed as
 * the client library packs them (insecure mode: "as" names the firm). */
static size_t
pack_post(msgpack_sbuffer *sb, uint64_t rid)
{
    msgpack_sbuffer_clear(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    wfc_pack_str(&pk, "op");
    wfc_pack_str(&pk, "offer.post");
    wfc_pack_str(&pk, "rid");
    msgpack_pack_uint64(&pk, rid);
    wfc_pack_str(&pk, "as");
    wfc_pack_str(&pk, PRODUCER);
    wfc_pack_str(&pk, "code");
    wfc_pack_str(&pk, "SW01");
    wfc_pack_str(&pk, "qty");
    msgpack_pack_int64(&pk, 1000 + (int64_t)rid);
    wfc_pack_str(&pk, "price");
    msgpack_pack_int64(&pk, 100);
    return sb->size;
}

/* While a batch's record in journal.wal syncs, the server reads the
 * requests that wait (on another thread the sync runs): they start the
 * next batch. Each is answered once, after its own batch, in the order
 * sent, and the log counts them. */
Test(server_stats, requests_read_during_a_sync_are_answered_once_in_order, .timeout = 60)
{
    enum { N = 1500 };
    dmn_t d;
    wfc_t *op = start_with_producer(&d);
    assert_ok(req(op, "config.set", "rate_per_s:i", 0LL), "config.set rate_per_s 0 (no limit)");

    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, hwm = 0, tmo = 10000;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    cr_assert_eq(zmq_connect(s, d.cmd_ep), 0);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    for (uint64_t rid = 1; rid <= N; rid++) {
        size_t len = pack_post(&sb, rid);
        cr_assert_eq(zmq_send(s, sb.data, len, 0), (int)len, "send rid %llu", (unsigned long long)rid);
    }
    static char buf[65536];
    uint64_t want = 1;
    for (int i = 0; i < N; i++) {
        int len = zmq_recv(s, buf, sizeof buf, 0);
        cr_assert_gt(len, 0, "reply %d of %d did not come", i + 1, N);
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        cr_assert_eq(msgpack_unpack_next(&u, buf, (size_t)len, NULL), MSGPACK_UNPACK_SUCCESS);
        assert_ok(&u.data, "a post of the burst");
        cr_assert_eq((uint64_t)wfc_get_int(&u.data, "rid", -1), want, "replies out of order or twice");
        want++;
        msgpack_unpacked_destroy(&u);
    }
    cr_assert_eq(zmq_recv(s, buf, sizeof buf, ZMQ_DONTWAIT), -1, "a reply more than the requests");

    cr_assert_eq(kill(d.pid, SIGUSR1), 0);
    report_t a;
    cr_assert(wait_report(&d, 0, &a), "no stats report after SIGUSR1, see %s", d.log);
    cr_assert_geq(a.requests, N);
    cr_assert_gt(a.prefetched, 0, "no request was read while a batch synced (%llu batches)", a.batches);
    cr_assert_lt(a.prefetched, a.requests);

    msgpack_sbuffer_destroy(&sb);
    zmq_close(s);
    zmq_ctx_term(ctx);
    wfc_destroy(&op);
    dmn_fini(&d);
}
