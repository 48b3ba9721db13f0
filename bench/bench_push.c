/* bench-push: the cost of credit-weighted push for one offer that fits
 * many subscribers.
 *
 * An in-process engine on a temporary database (no sockets; LMDB opened
 * with MDB_NOSYNC, so the figures leave out the fsync of a real commit,
 * which is the same one fsync whatever the number of subscribers). For
 * each size N it registers a producer and N consumers within 20 km, each
 * with its own subscription to SW07 and a base credit spread over 50..100
 * (about 20% tier A, 29% B, 29% C, 20% D), then measures:
 *   - fit: the fit search and the push plan alone (wf_push__plan) for an
 *     SW07 offer at the producer's site: index lookup, the fit rules per
 *     candidate, the tier and score ordering;
 *   - post: one offer.post batch from wf_engine_apply() until it returns,
 *     i.e. until every tier-A notification is stored, committed and in the
 *     outbox, and the B and C ones are stored as pending push records;
 *   - encode: the net layer's work on that outbox before zmq_send: every
 *     tier-A message encoded to its msgpack frame (wf_codec_stream), as
 *     wufeid does for each subscriber that is connected;
 *   - durable post: the same post on a second engine opened with sync on
 *     (the service's setting: the commit's fsync included), same set-up.
 * Each figure is the median of the repetitions.
 *
 * Usage: bench-push [--catalogue PATH] [--sizes 10000,100000] [--reps N]
 * Prints a table and a final JSON line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "engine_int.h"
#include "wf_error.h"

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return v[n / 2];
}

static uint64_t rng = 88172645463325252ull;
static double
urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static wf_cmd_t cmds[WF_BATCH_MAX];
static wf_reply_t replies[WF_BATCH_MAX];

static void
flush(wf_engine_t *e, size_t *n, int64_t t)
{
    if (!*n)
        return;
    wf_outbox_t out;
    if (wf_engine_apply(e, cmds, *n, t, replies, &out) != WF_OK) {
        fprintf(stderr, "bench-push: batch failed\n");
        exit(1);
    }
    for (size_t i = 0; i < *n; i++)
        if (replies[i].err != WF_OK) {
            fprintf(stderr, "bench-push: %s failed: %s\n", wf_op_name(cmds[i].op), replies[i].msg);
            exit(1);
        }
    *n = 0;
}

typedef struct result {
    size_t n, fitting, tier_a, pending;
    double fit_ms, post_ms, encode_ms, setup_s;
    double durable_ms; /* with sync on; 0 when not run */
} result_t;

static result_t
run(const char *catalogue, size_t n, int reps, bool sync)
{
    result_t res = {.n = n};
    char dir[] = "/tmp/wufei-bench-push-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    char err[256];
    wf_engine_opts_t o = {.dir = dir, .catalogue = catalogue, .map_size = (size_t)8 << 30,
                          .no_sync = !sync};
    wf_engine_t *e = wf_engine_new(&o, err, sizeof err);
    if (!e) {
        fprintf(stderr, "bench-push: %s\n", err);
        exit(1);
    }
    int64_t t = 1700000000000LL;
    double t0 = now_ms();
    size_t k = 0;
    const char *producer = "P00000000000000001";
    wf_cmd_t *c = &cmds[k++];
    memset(c, 0, sizeof *c);
    c->op = WF_OP_FIRM_PUT;
    strcpy(c->as, WF_OPERATOR_ID);
    strcpy(c->u.firm.firm, producer);
    strcpy(c->u.firm.name, "producer");
    c->u.firm.roles = WF_ROLE_PRODUCER;
    c->u.firm.lat = 30.0;
    c->u.firm.lon = 120.5;
    c->u.firm.county = 330603;
    for (size_t i = 0; i < n; i++) {
        c = &cmds[k++];
        memset(c, 0, sizeof *c);
        c->op = WF_OP_FIRM_PUT;
        strcpy(c->as, WF_OPERATOR_ID);
        snprintf(c->u.firm.firm, sizeof c->u.firm.firm, "C%017u", (unsigned)(i % 100000000u));
        snprintf(c->u.firm.name, sizeof c->u.firm.name, "consumer %zu", i);
        c->u.firm.roles = WF_ROLE_CONSUMER;
        c->u.firm.lat = 30.0 + (urand() - 0.5) * 0.3; /* within ~20 km */
        c->u.firm.lon = 120.5 + (urand() - 0.5) * 0.3;
        c->u.firm.county = 330603;
        c->u.firm.base_credit = 50 + (int32_t)(i % 51);
        c->has |= WF_HAS_BASE_CREDIT;
        if (k == WF_BATCH_MAX)
            flush(e, &k, t);
    }
    flush(e, &k, t);
    for (size_t i = 0; i < n; i++) {
        c = &cmds[k++];
        memset(c, 0, sizeof *c);
        c->op = WF_OP_SUB_PUT;
        snprintf(c->as, sizeof c->as, "C%017u", (unsigned)(i % 100000000u));
        c->u.sub.side = WF_OFFER;
        c->u.sub.ncodes = 1;
        strcpy(c->u.sub.codes[0], "SW07");
        if (k == WF_BATCH_MAX)
            flush(e, &k, t);
    }
    flush(e, &k, t);
    res.setup_s = (now_ms() - t0) / 1e3;

    /* the fit search alone */
    wf_order_t x;
    memset(&x, 0, sizeof x);
    x.id = 1u << 30;
    x.side = WF_OFFER;
    x.firm = wf_engine_firm(e, producer)->number;
    x.code = wf_catalogue_find(wf_engine_catalogue(e), "SW07");
    x.qty = x.remaining = 5000;
    x.min_fill = 1;
    x.lat = 30.0;
    x.lon = 120.5;
    x.max_km = 50;
    double *fit = calloc((size_t)reps, sizeof *fit), *post = calloc((size_t)reps, sizeof *post);
    double *enc = calloc((size_t)reps, sizeof *enc);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    for (int r = 0; r < reps; r++) {
        double a = now_ms();
        size_t planned = wf_push__plan(e, &x, t);
        fit[r] = now_ms() - a;
        res.fitting = wf_push__fitting(e);
        res.pending = planned;
    }
    /* the whole post */
    for (int r = 0; r < reps; r++) {
        wf_cmd_t p;
        memset(&p, 0, sizeof p);
        p.op = WF_OP_OFFER_POST;
        strcpy(p.as, producer);
        strcpy(p.u.post.code, "SW07");
        p.u.post.qty = 5000;
        p.u.post.price = 1000;
        wf_outbox_t out;
        t += 10;
        double a = now_ms();
        int rc = wf_engine_apply(e, &p, 1, t, replies, &out);
        post[r] = now_ms() - a;
        if (rc != WF_OK || replies[0].err != WF_OK) {
            fprintf(stderr, "bench-push: offer.post failed: %s\n", replies[0].msg);
            exit(1);
        }
        res.tier_a = out.nstream;
        a = now_ms();
        size_t bytes = 0;
        for (size_t i = 0; i < out.nstream; i++) {
            msgpack_sbuffer_clear(&sb);
            wf_codec_stream(&sb, &out.stream[i]);
            bytes += sb.size;
        }
        enc[r] = now_ms() - a;
        if (out.nstream && !bytes) {
            fprintf(stderr, "bench-push: nothing encoded\n");
            exit(1);
        }
    }
    msgpack_sbuffer_destroy(&sb);
    res.pending -= res.tier_a;
    res.fit_ms = median(fit, reps);
    res.post_ms = median(post, reps);
    res.encode_ms = median(enc, reps);
    free(fit);
    free(post);
    free(enc);
    wf_engine_destroy(&e);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench-push: could not remove %s\n", dir);
    return res;
}

int
main(int argc, char **argv)
{
    const char *catalogue = "data/catalogue.tsv";
    char sizes_s[256] = "10000,100000";
    int reps = 7;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--catalogue") == 0 && i + 1 < argc)
            catalogue = argv[++i];
        else if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc)
            snprintf(sizes_s, sizeof sizes_s, "%s", argv[++i]);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench-push [--catalogue PATH] [--sizes N,N,...] [--reps N]\n");
            return 64;
        }
    }
    if (reps < 1)
        reps = 1;
    result_t res[16];
    int nres = 0;
    printf("bench-push: one SW07 offer, N subscribers within 20 km (MDB_NOSYNC; durable post: sync "
           "on), median of %d\n", reps);
    printf("%10s %10s %8s %8s %12s %12s %10s %14s %10s\n", "subs", "fitting", "tier A", "B+C",
           "fit ms", "post ms", "encode ms", "durable post", "setup s");
    for (char *tok = strtok(sizes_s, ","); tok && nres < 16; tok = strtok(NULL, ",")) {
        size_t n = (size_t)strtoull(tok, NULL, 10);
        if (!n)
            continue;
        result_t r = run(catalogue, n, reps, false);
        r.durable_ms = run(catalogue, n, reps, true).post_ms;
        res[nres++] = r;
        printf("%10zu %10zu %8zu %8zu %12.3f %12.3f %10.3f %14.3f %10.1f\n", r.n, r.fitting,
               r.tier_a, r.pending, r.fit_ms, r.post_ms, r.encode_ms, r.durable_ms, r.setup_s);
        fflush(stdout);
    }
    printf("{\"bench\":\"push\",\"no_sync\":true,\"reps\":%d,\"results\":[", reps);
    for (int i = 0; i < nres; i++)
        printf("%s{\"subs\":%zu,\"fitting\":%zu,\"tier_a\":%zu,\"pending\":%zu,\"fit_ms\":%.3f,"
               "\"post_ms\":%.3f,\"encode_ms\":%.3f,\"durable_post_ms\":%.3f,"
               "\"target_10k_10ms\":%s}",
               i ? "," : "", res[i].n, res[i].fitting, res[i].tier_a, res[i].pending, res[i].fit_ms,
               res[i].post_ms, res[i].encode_ms, res[i].durable_ms,
               res[i].n != 10000 ? "null"
               : res[i].post_ms + res[i].encode_ms < 10 ? "true" : "false");
    printf("]}\n");
    return 0;
}
