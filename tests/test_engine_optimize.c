/* The optimiser in the engine: optimize on a small book against the
 * brute-force optimum under the engine's own rules, operators only,
 * read-only unless applied; and call auctions: orders of an auction code
 * rest instead of matching, a tick at the period clears them with the
 * optimal plan (matches, stream messages to both firms, feed), every
 * firing is journaled, and a restart or a replay of the journal gives
 * byte-identical matches. */
#include "engine_fixture.h"

#include "engine/engine_int.h"
#include "opt_brute.h"

TestSuite(optimize, .init = setup, .fini = teardown);

#define PERIOD 60000LL
#define SLOT ((T0 / PERIOD + 1) * PERIOD) /* the first period slot after T0 */

static wf_cmd_t
auction_set(const char *as, const char *code, int64_t period, wf_goal_t goal)
{
    wf_cmd_t c = mk(WF_OP_AUCTION_SET, as);
    snprintf(c.u.auction.code, sizeof c.u.auction.code, "%s", code);
    c.u.auction.period_ms = period;
    c.u.auction.goal = (uint8_t)goal;
    return c;
}

static wf_cmd_t
optimize(const char *as, wf_goal_t goal, bool apply)
{
    wf_cmd_t c = mk(WF_OP_OPTIMIZE, as);
    c.u.optimize.goal = (uint8_t)goal;
    c.u.optimize.apply = apply;
    return c;
}

static wf_reply_t *
tick(int64_t at)
{
    wf_cmd_t c;
    memset(&c, 0, sizeof c);
    c.op = WF_OP_TICK;
    cr_assert_eq(wf_engine_apply(E, &c, 1, at, R, &OUT), WF_OK);
    cr_assert_eq(R[0].err, WF_OK, "tick: %s", R[0].msg);
    return &R[0];
}

typedef struct orders {
    wf_order_t o[8], d[8];
    size_t no, nd;
} orders_t;

static bool
collect(void *arg, const wf_order_t *o)
{
    orders_t *v = arg;
    if (o->side == WF_OFFER && v->no < 8)
        v->o[v->no++] = *o;
    else if (o->side == WF_DEMAND && v->nd < 8)
        v->d[v->nd++] = *o;
    return true;
}

/* Five SW07 orders that all cross, resting because SW07 clears by call
 * auction: two offers, three demands. */
static void
auction_book(void)
{
    market();
    ok(auction_set(OP, "SW07", PERIOD, WF_GOAL_SCORE));
    ok(offer(P1, "SW07", 4, 1000));
    ok(offer(P2, "SW07", 5, -500));
    ok(demand(C1, "SW07", 3, 2000));
    ok(demand(C2, "SW07", 4, 1500));
    ok(demand(C1, "SW07", 2, 1200));
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 5, "call-auction orders rest");
}

Test(optimize, plan_is_the_brute_force_optimum)
{
    auction_book();
    orders_t v = {0};
    wf_book_each(wf_engine_book(E), collect, &v);
    cr_assert_eq(v.no, 2);
    cr_assert_eq(v.nd, 3);
    wf_match_env_t env = wf_engine__env(E, now);
    env.batch_codes = NULL;
    brute_t b = brute(&env, v.o, v.no, v.d, v.nd, true);
    uint64_t seq = wf_engine_journal_seq(E);
    for (int goal = 0; goal < 2; goal++) {
        const wf_optimize_result_t *r = ok(optimize(OP, (wf_goal_t)goal, false))->optimize;
        cr_assert(r);
        cr_assert(!r->applied);
        cr_assert_eq(r->offers, 2);
        cr_assert_eq(r->demands, 3);
        cr_assert_eq(r->nlisted, r->npairs);
        cr_assert_gt(r->npairs, 0);
        int64_t score = 0, metres = 0, qty = 0;
        double tkm = 0;
        for (size_t k = 0; k < r->npairs; k++) {
            const wf_plan_pair_t *p = &r->pairs[k];
            cr_assert_str_eq(p->code, "SW07");
            cr_assert_eq(p->match, 0, "read-only: no match");
            score += p->qty * llround(p->score * WF_OPT_SCORE_SCALE);
            metres += p->qty * llround(p->km * WF_OPT_KM_SCALE);
            qty += p->qty;
            tkm += (double)p->qty / 1000.0 * p->km;
        }
        if (goal == WF_GOAL_SCORE) {
            cr_assert_eq(score, b.best_score);
            cr_assert_geq(r->gap_pct, -1e-9, "continuous never beats the optimum");
        } else {
            cr_assert_eq(qty, b.max_qty);
            cr_assert_eq(metres, b.min_metres);
            cr_assert_leq(r->equal.qty, r->continuous.qty);
            cr_assert_geq(r->gap_pct, -1e-9);
        }
        cr_assert_eq(r->plan.qty, qty);
        cr_assert_float_eq(r->plan.tonne_km, tkm, 1e-9);
        cr_assert_float_eq(r->plan.co2_kg, tkm * 0.1, 1e-9, "co2_per_tkm defaults to 0.1");
        cr_assert_gt(r->continuous.qty, 0, "continuous matching of the same orders is simulated");
        cr_assert(!r->limit_hit && r->left_out == 0 && !r->bound[0]);
    }
    cr_assert_eq(wf_engine_journal_seq(E), seq, "read-only optimize is not journaled");
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 5, "and changes nothing");
    cr_assert_eq(OUT.nstream, 0);
}

Test(optimize, codes_restrict_the_plan)
{
    auction_book();
    ok(offer(P1, "SW01", 7, 0)); /* rests: no SW01 demand */
    wf_cmd_t c = optimize(OP, WF_GOAL_SCORE, false);
    c.has |= WF_HAS_CODES;
    c.u.optimize.ncodes = 1;
    snprintf(c.u.optimize.codes[0], WF_CODE_LEN, "SW01");
    const wf_optimize_result_t *r = ok(c)->optimize;
    cr_assert_eq(r->offers, 1);
    cr_assert_eq(r->demands, 0);
    cr_assert_eq(r->npairs, 0);
    snprintf(c.u.optimize.codes[0], WF_CODE_LEN, "ZZ99");
    cr_assert_eq(run(c)->err, WF_E_CODE);
}

Test(optimize, operators_only)
{
    auction_book();
    uint64_t seq = wf_engine_journal_seq(E);
    cr_assert_eq(run(optimize(P1, WF_GOAL_SCORE, false))->err, WF_E_AUTH);
    cr_assert_eq(run(optimize(C1, WF_GOAL_TONNE_KM, true))->err, WF_E_AUTH);
    cr_assert_eq(run(auction_set(C1, "SW01", PERIOD, WF_GOAL_SCORE))->err, WF_E_AUTH);
    wf_cmd_t del = auction_set(P1, "SW07", 0, WF_GOAL_SCORE);
    del.op = WF_OP_AUCTION_DEL;
    cr_assert_eq(run(del)->err, WF_E_AUTH);
    cr_assert_eq(wf_engine_journal_seq(E), seq);
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 5);
}

Test(optimize, auction_settings_are_checked)
{
    market();
    cr_assert_eq(run(auction_set(OP, "SW07", 999, WF_GOAL_SCORE))->err, WF_E_FIELD);
    cr_assert_eq(run(auction_set(OP, "ZZ99", PERIOD, WF_GOAL_SCORE))->err, WF_E_CODE);
    cr_assert_eq(run(auction_set(OP, "SW07", PERIOD, (wf_goal_t)7))->err, WF_E_FIELD);
    wf_reply_t *r = ok(auction_set(OP, "HW08", PERIOD, WF_GOAL_TONNE_KM));
    cr_assert_eq(r->nauctions, 1);
    cr_assert_str_eq(r->auctions[0].code, "HW08");
    cr_assert_eq(run(auction_set(OP, "900-249-08", PERIOD, WF_GOAL_SCORE))->err, WF_E_STATE,
                 "a code inside an auctioned category overlaps it");
    r = ok(auction_set(OP, "HW08", 2 * PERIOD, WF_GOAL_SCORE));
    cr_assert_eq(r->nauctions, 1, "set again changes it");
    cr_assert_eq(r->auctions[0].period_ms, 2 * PERIOD);
    wf_cmd_t del = auction_set(OP, "HW08", 0, WF_GOAL_SCORE);
    del.op = WF_OP_AUCTION_DEL;
    cr_assert_eq(ok(del)->nauctions, 0);
    cr_assert_eq(run(del)->err, WF_E_NOTFOUND);
}

Test(optimize, auction_codes_do_not_match_continuously)
{
    market();
    ok(auction_set(OP, "SW07", PERIOD, WF_GOAL_SCORE));
    ok(offer(P1, "SW07", 500, 1000));
    cr_assert_eq(ok(demand(C1, "SW07", 500, 2000))->nmatches, 0, "SW07 waits for the auction");
    wf_cmd_t two = demand(C1, "SW01", 500, 2000);
    two.u.post.ncodes = 2;
    snprintf(two.u.post.codes[1], WF_CODE_LEN, "SW07");
    cr_assert_eq(ok(two)->nmatches, 0, "also for a demand of several codes");
    cr_assert_eq(ok(offer(P2, "SW01", 300, 0))->nmatches, 1,
                 "other codes still match, the two-code demand included");
    wf_cmd_t del = auction_set(OP, "SW07", 0, WF_GOAL_SCORE);
    del.op = WF_OP_AUCTION_DEL;
    ok(del);
    cr_assert_eq(ok(demand(C2, "SW07", 100, 2000))->nmatches, 1, "continuous again");
}

Test(optimize, apply_writes_the_plan_as_matches)
{
    auction_book();
    uint64_t seq = wf_engine_journal_seq(E);
    const wf_optimize_result_t *r = ok(optimize(OP, WF_GOAL_TONNE_KM, true))->optimize;
    cr_assert(r->applied);
    cr_assert_eq(wf_engine_journal_seq(E), seq + 1, "apply is journaled");
    cr_assert_eq(OUT.nstream, 2 * r->npairs, "both firms of every pair are told");
    cr_assert_eq(OUT.nfeed, r->npairs);
    int64_t left = 0;
    for (size_t k = 0; k < r->npairs; k++) {
        cr_assert_gt(r->pairs[k].match, 0);
        cr_assert_eq(OUT.stream[2 * k].u.match.m.id, r->pairs[k].match);
        cr_assert_eq(OUT.stream[2 * k].type, WF_MSG_MATCH);
    }
    orders_t v = {0};
    wf_book_each(wf_engine_book(E), collect, &v);
    for (size_t i = 0; i < v.no; i++)
        left += v.o[i].remaining;
    cr_assert_eq(left, 9 - r->plan.qty, "the book lost the planned quantity");
}

Test(optimize, auction_clears_at_the_period_with_the_optimal_plan)
{
    auction_book();
    const wf_optimize_result_t *r = ok(optimize(OP, WF_GOAL_SCORE, false))->optimize;
    size_t np = r->npairs;
    wf_plan_pair_t plan[16];
    cr_assert_leq(np, 16);
    memcpy(plan, r->pairs, np * sizeof *plan);
    cr_assert_eq(wf_engine_next_timer(E), SLOT);
    uint64_t seq = wf_engine_journal_seq(E);

    tick(SLOT - 1);
    cr_assert_eq(OUT.nstream, 0);
    cr_assert_eq(wf_engine_journal_seq(E), seq);

    tick(SLOT);
    cr_assert_eq(wf_engine_journal_seq(E), seq + 1, "the clearing is journaled");
    cr_assert_eq(OUT.nstream, 2 * np, "a match message to each firm of each pair");
    cr_assert_eq(OUT.nfeed, np);
    for (size_t k = 0; k < np; k++) {
        const wf_match_rec_t *m = &OUT.stream[2 * k].u.match.m;
        cr_assert_eq(m->offer, plan[k].offer, "pair %zu as planned", k);
        cr_assert_eq(m->demand, plan[k].demand);
        cr_assert_eq(m->qty, plan[k].qty);
        cr_assert_eq(m->manifest, m->id, "every match opens a manifest");
        cr_assert_eq(m->ts, SLOT);
        cr_assert_str_eq(OUT.stream[2 * k].firm, m->producer);
        cr_assert_str_eq(OUT.stream[2 * k + 1].firm, m->consumer);
        cr_assert_str_eq(OUT.stream[2 * k].u.match.counterparty, m->consumer);
    }
    now = SLOT + 1;
    char id[WF_OID_LEN];
    wf_id_format(id, 'O', plan[0].offer);
    cr_assert_lt(ok(ref(WF_OP_ORDER_GET, P1, id))->order->remaining + 0, 5);
    cr_assert_eq(wf_engine_next_timer(E), SLOT + PERIOD, "re-armed on the grid");
    tick(SLOT + PERIOD);
    cr_assert_eq(OUT.nstream, 0, "nothing left to clear");
    cr_assert_eq(wf_engine_journal_seq(E), seq + 2, "every firing is journaled");
}

/* ---- restart and replay ---- */

static size_t
dump_matches(wf_engine_t *e, wf_match_rec_t *out, size_t cap)
{
    MDB_txn *t;
    MDB_cursor *c;
    cr_assert_eq(wf_engine__flush(e), WF_OK); /* the state left open across batches */
    cr_assert_eq(mdb_txn_begin(e->store.env, NULL, MDB_RDONLY, &t), 0);
    cr_assert_eq(mdb_cursor_open(t, e->store.matches, &c), 0);
    MDB_val k, v;
    size_t n = 0;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && n < cap;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        cr_assert_eq(v.mv_size, sizeof *out);
        memcpy(&out[n++], v.mv_data, sizeof *out);
    }
    mdb_cursor_close(c);
    mdb_txn_abort(t);
    return n;
}

/* Two clearings with orders in between; with restart, the engine is
 * closed and reopened before each tick. */
static void
two_clearings(bool restart)
{
    auction_book();
    if (restart) {
        wf_engine_destroy(&E);
        E = open_at(dir, 0);
        cr_assert_eq(wf_engine_next_timer(E), SLOT, "the auction's timer is rebuilt");
    }
    tick(SLOT);
    now = SLOT + 10;
    ok(offer(P1, "SW07", 6, 900));
    ok(demand(C2, "SW07", 3, 2500));
    ok(demand(C1, "SW07", 1, 2500));
    if (restart) {
        wf_engine_destroy(&E);
        E = open_at(dir, 0);
    }
    tick(SLOT + PERIOD + 5);
    cr_assert_gt(OUT.nstream, 0, "the second clearing matched");
}

Test(optimize, clearing_is_identical_after_restart_and_replay)
{
    two_clearings(true);
    wf_engine_t *a = E;
    char dir_a[256];
    snprintf(dir_a, sizeof dir_a, "%s", dir);

    /* The same commands without restarts. */
    snprintf(dir, sizeof dir, "/tmp/wf_engine_XXXXXX");
    cr_assert(mkdtemp(dir));
    E = open_at(dir, 0);
    now = T0;
    two_clearings(false);
    wf_engine_t *b = E;
    char dir_b[256];
    snprintf(dir_b, sizeof dir_b, "%s", dir);

    /* A replay of a's journal into a fresh engine. */
    snprintf(dir, sizeof dir, "/tmp/wf_engine_XXXXXX");
    cr_assert(mkdtemp(dir));
    E = open_at(dir, 0);
    MDB_txn *t;
    cr_assert_eq(wf_engine__flush(a), WF_OK); /* journal.mdb holds all, not journal.wal */
    cr_assert_eq(mdb_txn_begin(a->store.jenv, NULL, MDB_RDONLY, &t), 0);
    uint64_t last;
    cr_assert_eq(wf_journal__last(t, &a->store, &last), WF_OK);
    size_t ticks = 0;
    for (uint64_t s = 1; s <= last; s++) {
        static wf_journal_rec_t j;
        cr_assert_eq(wf_journal__get(t, &a->store, s, &j), WF_OK);
        ticks += j.cmd.op == WF_OP_TICK;
        cr_assert_eq(wf_engine_apply(E, &j.cmd, 1, j.now, R, &OUT), WF_OK);
        cr_assert_eq(R[0].err, WF_OK, "replay of entry %llu: %s", (unsigned long long)s, R[0].msg);
    }
    mdb_txn_abort(t);
    cr_assert_eq(ticks, 2, "both clearings are in the journal");

    static wf_match_rec_t ma[64], mb[64], mc[64];
    size_t na = dump_matches(a, ma, 64), nb = dump_matches(b, mb, 64), nc = dump_matches(E, mc, 64);
    cr_assert_gt(na, 2);
    cr_assert_eq(na, nb, "restart: %zu vs %zu matches", na, nb);
    cr_assert_eq(na, nc, "replay: %zu vs %zu matches", na, nc);
    cr_assert(memcmp(ma, mb, na * sizeof *ma) == 0, "restart gives identical matches");
    cr_assert(memcmp(ma, mc, na * sizeof *ma) == 0, "replay gives identical matches");
    cr_assert_eq(wf_book_count(wf_engine_book(a)), wf_book_count(wf_engine_book(E)));

    wf_engine_destroy(&a);
    wf_engine_destroy(&b);
    rm_dir(dir_a);
    rm_dir(dir_b);
}

/* A call auction of hazardous waste draws on the consumer's licence like
 * continuous fills do: the clearing moves no more than the capacity left,
 * and the licence's usage is what the next order sees. */
Test(optimize, auction_clearing_respects_licence_capacity)
{
    market();
    wf_cmd_t l = mk(WF_OP_LICENCE_PUT, OP);
    snprintf(l.u.licence.firm, sizeof l.u.licence.firm, "%s", C1);
    l.u.licence.ncodes = 1;
    snprintf(l.u.licence.codes[0], WF_CODE_LEN, "HW08");
    l.u.licence.capacity = 3000;
    l.u.licence.valid_until = T0 + 365LL * 86400000LL;
    ok(l);
    ok(auction_set(OP, "HW08", PERIOD, WF_GOAL_TONNE_KM));
    ok(offer(P1, "900-249-08", 2000, 0));
    ok(offer(P2, "900-249-08", 2000, 0));
    ok(demand(C1, "HW08", 5000, 1000));
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 3);
    tick(SLOT);
    int64_t moved = 0;
    for (size_t i = 0; i < OUT.nstream; i++)
        if (strcmp(OUT.stream[i].firm, C1) == 0)
            moved += OUT.stream[i].u.match.m.qty;
    cr_assert_eq(moved, 3000, "the licence's capacity, not the 4000 offered");
    now = SLOT + 1;
    ok(offer(P1, "900-249-08", 500, 0));
    tick(SLOT + PERIOD);
    cr_assert_eq(OUT.nstream, 0, "the licence is used up");
}
