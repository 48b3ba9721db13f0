/* The writer loop's own figures, end to end: SIGUSR1 makes wufeid log the
 * requests served so far, their batch sizes and the loop's time per batch
 * (wait, read, apply, send; the engine's exec, sign and commit), and goes
 * on serving; the counts are cumulative, so two reports bracket a
 * measurement (bench-e2e relies on this, and parses these lines). */
#include "e2e_daemon.h"

#define PRODUCER "91330603MA2D000001"

/* The k-th (from 0) report's two lines: requests and batches served, and
 * the batches and commits the per-batch line counts with its commit mean. */
typedef struct report {
    unsigned long long requests, batches, loop_batches, commits;
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

Test(server_stats, sigusr1_logs_the_figures_and_serving_goes_on, .timeout = 60)
{
    dmn_t d;
    dmn_init(&d, true);
    d.extra[0] = "--quiet";
    dmn_start(&d);
    wfc_t *op = dmn_operator(&d);
    dmn_put_firm(op, PRODUCER, "producer", 30.0, 120.6, 330602, NULL);

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
