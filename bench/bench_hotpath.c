/* bench-hotpath: wufeid's per-request CPU work without sockets or disk
 * waits, for profiling (valgrind --tool=callgrind counts its instructions
 * deterministically). The same request mix as bench-e2e (offer.post and
 * demand.post on seven codes with overlapping prices, order.cancel of own
 * resting orders, ping; 8 firms) is packed as msgpack, decoded with
 * wf_codec_decode, applied in batches with wf_engine_apply (no_sync by
 * default: the fsync is I/O, not CPU; --sync for the real thing) and the
 * replies encoded with wf_codec_reply, as net/server.c does per turn.
 * Prints ops/s and a JSON line. Bounded by --ops. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>

#include "../engine/engine.h"
#include "../net/codec.h"

#define NFIRMS 8
#define LIVE_MAX 64

static uint64_t RNG = 1;

static uint64_t
rng_next(void)
{
    uint64_t z = (RNG += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double
rng_unit(void)
{
    return (double)(rng_next() >> 11) / 9007199254740992.0;
}

static void
pk_s(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static char firms[NFIRMS][WF_FIRM_LEN];
static char live[NFIRMS][LIVE_MAX][WF_OID_LEN];
static int nlive[NFIRMS];

static void
pack_request(msgpack_sbuffer *sb, int f, uint64_t rid)
{
    static const char *const codes[] = {"SW01", "SW02", "SW03", "SW04", "SW05", "SW06", "SW07"};
    msgpack_sbuffer_clear(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    double u = rng_unit();
    if (u < 0.70) {
        bool offer = u < 0.35;
        const char *code = codes[rng_next() % 7];
        msgpack_pack_map(&pk, 8);
        pk_s(&pk, "op");
        pk_s(&pk, offer ? "offer.post" : "demand.post");
        pk_s(&pk, "rid");
        msgpack_pack_uint64(&pk, rid);
        pk_s(&pk, offer ? "code" : "codes");
        if (!offer)
            msgpack_pack_array(&pk, 1);
        pk_s(&pk, code);
        pk_s(&pk, "qty");
        msgpack_pack_int64(&pk, 1000 + (int64_t)(rng_next() % 19001));
        pk_s(&pk, "price");
        msgpack_pack_int64(&pk, -5000 + (int64_t)(rng_next() % 8001));
        pk_s(&pk, "lat");
        msgpack_pack_double(&pk, 29.95 + 0.2 * rng_unit());
        pk_s(&pk, "lon");
        msgpack_pack_double(&pk, 120.45 + 0.3 * rng_unit());
    } else if (u < 0.90 && nlive[f] > 0) {
        int i = (int)(rng_next() % (uint64_t)nlive[f]);
        msgpack_pack_map(&pk, 4);
        pk_s(&pk, "op");
        pk_s(&pk, "order.cancel");
        pk_s(&pk, "rid");
        msgpack_pack_uint64(&pk, rid);
        pk_s(&pk, "id");
        pk_s(&pk, live[f][i]);
        memcpy(live[f][i], live[f][--nlive[f]], WF_OID_LEN);
    } else {
        msgpack_pack_map(&pk, 3);
        pk_s(&pk, "op");
        pk_s(&pk, "ping");
        pk_s(&pk, "rid");
        msgpack_pack_uint64(&pk, rid);
    }
    pk_s(&pk, "as");
    pk_s(&pk, firms[f]);
}

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double
mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    long ops = 20000, batch = 100;
    bool sync = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc)
            ops = atol(argv[++i]);
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            batch = atol(argv[++i]);
        else if (strcmp(argv[i], "--sync") == 0)
            sync = true;
        else {
            fprintf(stderr, "usage: bench-hotpath [--ops N] [--batch N] [--sync]\n");
            return 2;
        }
    }
    if (ops < 1 || ops > 10000000 || batch < 1 || batch > WF_BATCH_MAX) {
        fprintf(stderr, "bench-hotpath: --ops 1..10^7, --batch 1..%d\n", WF_BATCH_MAX);
        return 2;
    }
    char dir[] = "/tmp/wufei-bench-hotpath-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char err[256];
    wf_engine_opts_t eo = {.dir = dir, .no_sync = !sync};
    wf_engine_t *e = wf_engine_new(&eo, err, sizeof err);
    if (!e) {
        fprintf(stderr, "bench-hotpath: %s\n", err);
        return 1;
    }
    static wf_cmd_t cmds[WF_BATCH_MAX];
    static wf_reply_t reps[WF_BATCH_MAX];
    wf_outbox_t out;
    for (int f = 0; f < NFIRMS; f++) {
        snprintf(firms[f], sizeof firms[f], "91330600BNCH%06u", (unsigned)(f + 1) % 1000000u);
        wf_cmd_t *c = &cmds[f];
        memset(c, 0, sizeof *c);
        c->op = WF_OP_FIRM_PUT;
        snprintf(c->as, sizeof c->as, "%s", WF_OPERATOR_ID);
        memcpy(c->u.firm.firm, firms[f], WF_FIRM_LEN);
        snprintf(c->u.firm.name, sizeof c->u.firm.name, "bench firm %d", f + 1);
        c->u.firm.roles = WF_ROLE_PRODUCER | WF_ROLE_CONSUMER;
        c->u.firm.lat = 29.95 + 0.2 * rng_unit();
        c->u.firm.lon = 120.45 + 0.3 * rng_unit();
        c->u.firm.county = 330602 + (uint32_t)(f % 3);
        c->u.firm.base_credit = 80;
    }
    if (wf_engine_apply(e, cmds, NFIRMS, now_ms(), reps, &out) != 0 || reps[0].err != 0) {
        fprintf(stderr, "bench-hotpath: firm.put failed\n");
        return 1;
    }
    msgpack_sbuffer req, rep;
    msgpack_sbuffer_init(&req);
    msgpack_sbuffer_init(&rep);
    long done = 0, okn = 0, matched = 0;
    size_t rep_bytes = 0;
    double t0 = mono_s();
    while (done < ops) {
        size_t n = 0;
        int who[WF_BATCH_MAX];
        while ((long)n < batch && done + (long)n < ops) {
            int f = (int)((done + (long)n) % NFIRMS);
            pack_request(&req, f, (uint64_t)(done + (long)n));
            char msg[WF_MSG_LEN];
            if (wf_codec_decode(req.data, req.size, &cmds[n], msg, sizeof msg) != 0) {
                fprintf(stderr, "bench-hotpath: decode: %s\n", msg);
                return 1;
            }
            who[n++] = f;
        }
        memset(reps, 0, n * sizeof *reps);
        if (wf_engine_apply(e, cmds, n, now_ms(), reps, &out) != 0) {
            fprintf(stderr, "bench-hotpath: batch failed\n");
            return 1;
        }
        for (size_t i = 0; i < n; i++) {
            msgpack_sbuffer_clear(&rep);
            wf_codec_reply(&rep, &reps[i], wf_engine_catalogue(e));
            rep_bytes += rep.size;
            okn += reps[i].err == 0;
            matched += reps[i].nmatches > 0;
            int f = who[i];
            if (reps[i].err == 0 && (cmds[i].op == WF_OP_OFFER_POST || cmds[i].op == WF_OP_DEMAND_POST) &&
                reps[i].rest > 0 && nlive[f] < LIVE_MAX)
                memcpy(live[f][nlive[f]++], reps[i].id, WF_OID_LEN);
        }
        for (size_t i = 0; i < out.nstream; i++) {
            msgpack_sbuffer_clear(&rep);
            wf_codec_stream(&rep, &out.stream[i]);
        }
        for (size_t i = 0; i < out.nfeed; i++) {
            msgpack_sbuffer_clear(&rep);
            wf_codec_feed(&rep, &out.feed[i]);
        }
        done += (long)n;
    }
    double secs = mono_s() - t0;
    printf("bench-hotpath: %ld ops in batches of %ld (%s): %.0f ops/s, %.2f µs/op, %ld ok, %ld posts matched\n",
           ops, batch, sync ? "sync" : "no_sync", (double)ops / secs, secs * 1e6 / (double)ops, okn, matched);
    printf("{\"bench\":\"hotpath\",\"ops\":%ld,\"batch\":%ld,\"sync\":%s,\"ops_per_s\":%.0f,\"us_per_op\":%.3f,"
           "\"ok\":%ld,\"matched\":%ld,\"journal_seq\":%llu,\"reply_bytes\":%zu}\n",
           ops, batch, sync ? "true" : "false", (double)ops / secs, secs * 1e6 / (double)ops, okn, matched,
           (unsigned long long)wf_engine_journal_seq(e), rep_bytes);
    msgpack_sbuffer_destroy(&req);
    msgpack_sbuffer_destroy(&rep);
    wf_engine_destroy(&e);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
