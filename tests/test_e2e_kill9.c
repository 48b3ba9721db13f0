/* kill -9 under load, end to end. A client streams offers and demands
 * that match each other into a running wufeid and records every id the
 * daemon acknowledged; a second thread SIGKILLs the daemon at a random
 * moment (seeded), the daemon is restarted on the same database and
 * ports, and the stream goes on, for CYCLES cycles. Afterwards every
 * acknowledged order must be there with the quantity it was posted with
 * (order.get each), its remaining quantity consistent with its state, and
 * the daemon must still match new orders. */
#include "e2e_daemon.h"

#include <pthread.h>

#define CYCLES 20
#define MAX_ACK 20000
#define PRODUCER "91330603MA2D000001"
#define CONSUMER "91330604MA2D000002"

static dmn_t D;

typedef struct ack {
    char id[24];
    long long qty;
} ack_t;

static ack_t acked[MAX_ACK];
static int nacked;

struct killer {
    pid_t pid;
    int delay_ms;
};

static void *killer_main(void *arg)
{
    struct killer *k = arg;
    usleep((useconds_t)k->delay_ms * 1000);
    kill(k->pid, SIGKILL);
    return NULL;
}

/* Posts until a request goes unanswered (the daemon is gone). Returns the
 * number of requests sent. */
static int stream_posts(unsigned *seed)
{
    wfc_t *p = dmn_client_keys(&D, PRODUCER, NULL, 500), *c = dmn_client_keys(&D, CONSUMER, NULL, 500);
    int sent = 0;
    for (;;) {
        bool offer = rand_r(seed) % 2;
        long long qty = 1 + rand_r(seed) % 5000;
        wfc_t *w = offer ? p : c;
        const msgpack_object *r =
            offer ? req_try(w, "offer.post", "code:s qty:i price:i", "SW07", qty, -(long long)(rand_r(seed) % 3000))
                  : req_try(w, "demand.post", "codes:l qty:i price:i", "SW07", qty,
                            -(long long)(rand_r(seed) % 3000));
        sent++;
        if (!r)
            break;
        if (!wfc_get_bool(r, "ok", false))
            continue; /* refused: nothing to remember */
        if (nacked < MAX_ACK && wfc_get_str(r, "id", acked[nacked].id, sizeof acked[nacked].id)) {
            acked[nacked].qty = qty;
            nacked++;
        }
    }
    wfc_destroy(&p);
    wfc_destroy(&c);
    return sent;
}

/* No rate limit, and the two firms the posts come from. */
static void market(void)
{
    wfc_t *op = dmn_operator(&D);
    assert_ok(req(op, "config.set", "rate_per_s:i", 0LL), "no rate limit");
    dmn_put_firm(op, PRODUCER, "producer", 30.08, 120.49, 330603, NULL);
    dmn_put_firm(op, CONSUMER, "consumer", 30.03, 120.87, 330604, NULL);
    wfc_destroy(&op);
}

Test(kill9, every_acknowledged_post_survives, .timeout = 300)
{
    dmn_init(&D, true);
    D.extra[0] = "--quiet";
    dmn_start(&D);
    market();

    unsigned seed = 20240611u;
    int cycles = 0, sent = 0;
    int64_t t0 = dmn_ms();
    for (int cycle = 0; cycle < CYCLES; cycle++) {
        if (cycle > 0)
            dmn_start(&D); /* recovery happens here; it must come up */
        struct killer k = {.pid = D.pid, .delay_ms = 30 + rand_r(&seed) % 400};
        pthread_t th;
        cr_assert_eq(pthread_create(&th, NULL, killer_main, &k), 0);
        sent += stream_posts(&seed);
        pthread_join(th, NULL);
        int st;
        cr_assert_eq(waitpid(D.pid, &st, 0), D.pid);
        cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the daemon ended otherwise: %d", st);
        D.pid = -1;
        cycles++;
    }
    dmn_start(&D);
    int64_t t1 = dmn_ms();

    /* every acknowledged order is there, as posted */
    wfc_t *p = dmn_operator(&D);
    int filled = 0;
    for (int i = 0; i < nacked; i++) {
        const msgpack_object *r = req(p, "order.get", "id:s", acked[i].id);
        if (!wfc_get_bool(r, "ok", false))
            cr_assert_fail("acknowledged %s is lost after %d kills", acked[i].id, cycles);
        const msgpack_object *o = wfc_get(r, "order");
        long long qty = wfc_get_int(o, "qty", -1), rem = wfc_get_int(o, "remaining", -1);
        char state[16] = "";
        wfc_get_str(o, "state", state, sizeof state);
        if (qty != acked[i].qty || rem < 0 || rem > qty)
            cr_assert_fail("%s: qty %lld remaining %lld, posted %lld", acked[i].id, qty, rem, acked[i].qty);
        if ((strcmp(state, "filled") == 0) != (rem == 0))
            cr_assert_fail("%s: state %s with %lld remaining", acked[i].id, state, rem);
        filled += rem == 0;
    }
    wfc_destroy(&p);
    /* and it still trades */
    wfc_t *c = dmn_client_keys(&D, CONSUMER, NULL, 5000);
    wfc_t *pr = dmn_client_keys(&D, PRODUCER, NULL, 5000);
    assert_ok(req(c, "demand.post", "codes:l qty:i price:i", "SW15", 100LL, -1000LL), "demand after the kills");
    const msgpack_object *r = req(pr, "offer.post", "code:s qty:i price:i", "SW15", 100LL, -2000LL);
    assert_ok(r, "offer after the kills");
    const msgpack_object *ms = wfc_get(r, "matches");
    cr_assert(ms && ms->type == MSGPACK_OBJECT_ARRAY && ms->via.array.size == 1, "matches after the kills");
    wfc_destroy(&c);
    wfc_destroy(&pr);
    cr_log_info("%d kill -9 cycles survived in %.1f s: %d requests sent, %d acknowledged, all present (%d filled)",
                cycles, (double)(t1 - t0) / 1000.0, sent, nacked, filled);
    fprintf(stderr, "kill9 figures: %d cycles, %d sent, %d acknowledged and present, %d filled\n", cycles, sent,
            nacked, filled);
    cr_assert_gt(nacked, CYCLES * 5, "too few posts were acknowledged to mean anything");
    /* the hash-chained journal survived every kill: the offline audit
     * re-walks the chain and checks the signed head (read-only, daemon up) */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' audit --db '%s' >/dev/null 2>&1", WUFEI_CLI_PATH, D.dir);
    int ast = system(cmd);
    cr_assert(WIFEXITED(ast) && WEXITSTATUS(ast) == 0, "wufei audit failed after %d kills (status %d)",
              cycles, ast);
    dmn_fini(&D);
}

/* The daemon killed between a batch's journal commit and its state commit
 * (the engine's test hook WUFEI_TEST_KILL_AFTER_JOURNAL): the restart
 * replays the batch from the journal, says so in its log, and every
 * acknowledged order is there; the replay check agrees. */
Test(kill9, a_kill_between_the_journal_and_the_state_is_replayed_at_restart, .timeout = 120)
{
    dmn_init(&D, true);
    dmn_start(&D);
    market();
    cr_assert_eq(dmn_stop(&D), 0);

    setenv("WUFEI_TEST_KILL_AFTER_JOURNAL", "40", 1);
    dmn_start(&D);
    unsetenv("WUFEI_TEST_KILL_AFTER_JOURNAL");
    nacked = 0;
    unsigned seed = 7;
    stream_posts(&seed);
    int st;
    cr_assert_eq(waitpid(D.pid, &st, 0), D.pid);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "the daemon ended otherwise: %d", st);
    D.pid = -1;
    cr_assert_gt(nacked, 5);

    dmn_start(&D);
    cr_assert(dmn_log_has(&D, "journal entries the state did not hold yet", 5000),
              "the restart did not replay the journal's tail, see %s", D.log);
    wfc_t *p = dmn_operator(&D);
    for (int i = 0; i < nacked; i++)
        if (!wfc_get_bool(req(p, "order.get", "id:s", acked[i].id), "ok", false))
            cr_assert_fail("acknowledged %s is lost", acked[i].id);
    wfc_destroy(&p);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' replay-check --db '%s' >/dev/null 2>&1", WUFEI_CLI_PATH,
             D.dir);
    int rst = system(cmd);
    cr_assert(WIFEXITED(rst) && WEXITSTATUS(rst) == 0, "replay-check failed (status %d)", rst);
    dmn_fini(&D);
}
