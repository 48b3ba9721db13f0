/* Engine tests: the state machine driven directly with decoded commands on
 * a temporary database. Firms are registered through firm.put as an
 * operator would; posts, matches, stream and feed output, cancel, the
 * authorisation rules, every validation failure (which must change
 * nothing), mixed batches, reopening, and a store that fills up. */
#include "engine_fixture.h"

TestSuite(engine, .init = setup, .fini = teardown);

Test(engine, fresh_database_has_operator_and_defaults)
{
    const wf_firm_rec_t *op = wf_engine_firm(E, OP);
    cr_assert(op);
    cr_assert_eq(op->roles, WF_ROLE_OPERATOR);
    cr_assert_eq(op->base_credit, 100);
    cr_assert_str_eq(op->name, "wufei operator");
    cr_assert_eq(op->number, 0);
    wf_reply_t *r = ok(mk(WF_OP_CONFIG_GET, OP));
    cr_assert_eq(r->config->w_credit, 0.4);
    cr_assert_eq(r->config->tier_b, 75);
    cr_assert_eq(r->config->push_delay_c, 2000);
    cr_assert_eq(r->config->discrepancy_pct, 5);
    cr_assert_eq(wf_engine_journal_seq(E), 0);
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 0);
    r = ok(mk(WF_OP_PING, ""));
    cr_assert_eq(r->now, T0);
    cr_assert_eq(r->rid, 7);
    cr_assert_eq(r->op, WF_OP_PING);
}

Test(engine, names_and_ids)
{
    for (int op = 1; op < WF_OP__COUNT; op++)
        if (wf_op_name(op)) /* ops not implemented yet have no name */
            cr_assert_eq(wf_op_from_name(wf_op_name(op)), op);
    cr_assert_null(wf_op_name(WF_OP_TICK), "the internal tick is never on the wire");
    cr_assert_eq(wf_op_from_name("nope"), WF_OP_NONE);
    cr_assert_str_eq(wf_op_name(WF_OP_OFFER_POST), "offer.post");
    cr_assert_eq(wf_role_from_name("carrier"), WF_ROLE_CARRIER);
    cr_assert_str_eq(wf_role_name(WF_ROLE_OPERATOR), "operator");
    cr_assert_null(wf_role_name(3));
    char id[WF_OID_LEN];
    wf_id_format(id, 'M', 42);
    cr_assert_str_eq(id, "M42");
    cr_assert_eq(wf_id_parse("O12", 'O'), 12);
    cr_assert_eq(wf_id_parse("O12", 'D'), 0);
    cr_assert_eq(wf_id_parse("O012", 'O'), 0);
    cr_assert_eq(wf_id_parse("O1x", 'O'), 0);
    cr_assert_eq(wf_id_parse("O99999999999999999999", 'O'), 0);
    cr_assert_eq(wf_id_parse("O18446744073709551615", 'O'), UINT64_MAX);
}

Test(engine, firm_put_registers_and_updates)
{
    wf_reply_t *r = ok(firm(P1, WF_ROLE_PRODUCER, 30, 120.5, 330602));
    cr_assert_eq(r->firm->number, 1);
    cr_assert_eq(r->firm->base_credit, 80);
    wf_cmd_t c = firm(C1, WF_ROLE_CONSUMER, 30, 120.5, 330602);
    c.has |= WF_HAS_KEY | WF_HAS_BASE_CREDIT;
    memset(c.u.firm.key, 'a', 40);
    c.u.firm.base_credit = 95;
    r = ok(c);
    cr_assert_eq(r->firm->number, 2);
    const wf_firm_rec_t *f = wf_engine_firm_by_key(E, c.u.firm.key);
    cr_assert(f);
    cr_assert_str_eq(f->id, C1);
    cr_assert_eq(f->base_credit, 95);
    /* update keeps number, key and base credit when not given */
    c = firm(C1, WF_ROLE_CONSUMER | WF_ROLE_CARRIER, 31, 121, 330603);
    r = ok(c);
    cr_assert_eq(r->firm->number, 2);
    cr_assert_eq(r->firm->base_credit, 95);
    cr_assert_eq(wf_engine_firm(E, C1)->county, 330603);
    /* a new key replaces the old one in the key index */
    c.has |= WF_HAS_KEY;
    memset(c.u.firm.key, 'b', 40);
    ok(c);
    cr_assert_null(wf_engine_firm_by_key(E, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
    cr_assert_str_eq(wf_engine_firm_by_key(E, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")->id, C1);
    cr_assert_eq(wf_engine_journal_seq(E), 4);
    r = ok((wf_cmd_t){.op = WF_OP_FIRM_GET, .as = C1, .u.firm_get.firm = C1});
    cr_assert_str_eq(r->firm->id, C1);
    r = run((wf_cmd_t){.op = WF_OP_FIRM_GET, .as = C1, .u.firm_get.firm = P1});
    cr_assert_eq(r->err, WF_E_AUTH);
    r = run((wf_cmd_t){.op = WF_OP_FIRM_GET, .as = OP, .u.firm_get.firm = P2});
    cr_assert_eq(r->err, WF_E_NOTFOUND);
}

Test(engine, firm_put_validation)
{
    ok(firm(P1, WF_ROLE_PRODUCER, 30, 120.5, 330602));
    wf_cmd_t k = firm(P2, WF_ROLE_PRODUCER, 30, 120.5, 330602);
    k.has |= WF_HAS_KEY;
    memset(k.u.firm.key, 'k', 40);
    ok(k);
    struct {
        wf_cmd_t c;
        int err;
        const char *word;
    } cases[16];
    int n = 0;
    cases[n++] = (typeof(cases[0])){firm("P0000000000000001", 1, 30, 120, 330602), WF_E_FIELD, "firm"};
    cases[n++] = (typeof(cases[0])){firm("p00000000000000001", 1, 30, 120, 330602), WF_E_FIELD, "firm"};
    cases[n++] = (typeof(cases[0])){firm(C1, 0, 30, 120, 330602), WF_E_FIELD, "roles"};
    cases[n++] = (typeof(cases[0])){firm(C1, 1u << 5, 30, 120, 330602), WF_E_FIELD, "roles"};
    cases[n++] = (typeof(cases[0])){firm(C1, 2, 91, 120, 330602), WF_E_FIELD, "lat"};
    cases[n++] = (typeof(cases[0])){firm(C1, 2, 30, NAN, 330602), WF_E_FIELD, "lon"};
    cases[n++] = (typeof(cases[0])){firm(C1, 2, 30, 120, 99999), WF_E_FIELD, "county"};
    cases[n++] = (typeof(cases[0])){firm(C1, 2, 30, 120, 0), WF_E_FIELD, "county"};
    cases[n++] = (typeof(cases[0])){firm(OP, WF_ROLE_PRODUCER, 30, 120, 0), WF_E_FIELD, "roles"};
    wf_cmd_t c = firm(C1, 2, 30, 120, 330602);
    c.u.firm.name[0] = 0;
    cases[n++] = (typeof(cases[0])){c, WF_E_FIELD, "name"};
    c = firm(C1, 2, 30, 120, 330602);
    c.has |= WF_HAS_BASE_CREDIT;
    c.u.firm.base_credit = 101;
    cases[n++] = (typeof(cases[0])){c, WF_E_FIELD, "base_credit"};
    c = firm(C1, 2, 30, 120, 330602);
    c.has |= WF_HAS_KEY;
    memset(c.u.firm.key, 'k', 40); /* P2's */
    cases[n++] = (typeof(cases[0])){c, WF_E_FIELD, "key"};
    c = firm(C1, 2, 30, 120, 330602);
    c.has |= WF_HAS_KEY;
    memset(c.u.firm.key, 'k', 39);
    cases[n++] = (typeof(cases[0])){c, WF_E_FIELD, "key"};
    c = firm(C1, 2, 30, 120, 330602);
    snprintf(c.as, sizeof c.as, "%s", P1);
    cases[n++] = (typeof(cases[0])){c, WF_E_AUTH, "operator"};
    uint64_t seq = wf_engine_journal_seq(E);
    for (int i = 0; i < n; i++) {
        wf_reply_t *r = run(cases[i].c);
        cr_assert_eq(r->err, cases[i].err, "case %d: %s %s", i, wf_err_name(r->err), r->msg);
        cr_assert(strstr(r->msg, cases[i].word), "case %d: \"%s\" lacks %s", i, r->msg,
                  cases[i].word);
        cr_assert_null(r->firm);
    }
    cr_assert_eq(wf_engine_journal_seq(E), seq);
    cr_assert_null(wf_engine_firm(E, C1));
    /* the operator firm itself may keep county 0 */
    ok(firm(OP, WF_ROLE_OPERATOR, 30, 120, 0));
}

Test(engine, unknown_identity_and_op)
{
    wf_reply_t *r = run(offer("X00000000000000001", "SW07", 100, 10));
    cr_assert_eq(r->err, WF_E_AUTH);
    cr_assert(strstr(r->msg, "unknown firm"));
    r = run(mk(WF_OP_HELLO, ""));
    cr_assert_eq(r->err, WF_E_AUTH);
    r = run(mk((wf_op_t)99, OP));
    cr_assert_eq(r->err, WF_E_OP);
    r = run(mk(WF_OP_NONE, OP));
    cr_assert_eq(r->err, WF_E_OP);
}

Test(engine, offer_rests_and_demand_matches)
{
    market();
    uint64_t seq0 = wf_engine_journal_seq(E);
    wf_reply_t *r = ok(offer(P1, "SW07", 1000, 500));
    cr_assert_str_eq(r->id, "O1");
    cr_assert_eq(r->rest, 1000);
    cr_assert_eq(r->nmatches, 0);
    cr_assert_eq(OUT.nstream, 0);
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 1);
    now += 1000;
    r = ok(demand(C1, "SW07", 400, 800));
    cr_assert_str_eq(r->id, "D2");
    cr_assert_eq(r->rest, 0);
    cr_assert_eq(r->nmatches, 1);
    const wf_match_rec_t *m = &r->matches[0];
    cr_assert_eq(m->id, 1);
    cr_assert_eq(m->manifest, 1);
    cr_assert_eq(m->offer, 1);
    cr_assert_eq(m->demand, 2);
    cr_assert_eq(m->qty, 400);
    cr_assert_eq(m->price, 500, "the resting order's price");
    cr_assert_str_eq(m->code, "SW07");
    cr_assert_str_eq(m->producer, P1);
    cr_assert_str_eq(m->consumer, C1);
    cr_assert_eq(m->taker_side, WF_DEMAND);
    cr_assert_eq(m->ts, now);
    cr_assert(m->km > 0 && m->km < 5);
    /* the resting owner is told on its stream */
    cr_assert_eq(OUT.nstream, 1);
    cr_assert_str_eq(OUT.stream[0].firm, P1);
    cr_assert_eq(OUT.stream[0].seq, 1);
    cr_assert_eq(OUT.stream[0].type, WF_MSG_MATCH);
    cr_assert_eq(OUT.stream[0].u.match.side, WF_OFFER);
    cr_assert_str_eq(OUT.stream[0].u.match.counterparty, C1);
    cr_assert_str_eq(OUT.stream[0].u.match.counterparty_name, "firm " C1);
    cr_assert_eq(OUT.stream[0].u.match.m.qty, 400);
    cr_assert_eq(wf_engine_firm(E, P1)->stream_seq, 1);
    /* and the market on the feed, without firm ids */
    cr_assert_eq(OUT.nfeed, 1);
    cr_assert_str_eq(OUT.feed[0].topic, "match.SW07");
    cr_assert_eq(OUT.feed[0].qty, 400);
    cr_assert_eq(OUT.feed[0].from_county, 330602);
    cr_assert_eq(OUT.feed[0].to_county, 330602);
    cr_assert_eq(wf_engine_journal_seq(E), seq0 + 2);
    /* the offer rests with 600 */
    r = ok(ref(WF_OP_ORDER_GET, P1, "O1"));
    cr_assert_eq(r->order->remaining, 600);
    cr_assert_eq(r->order->state, WF_ORDER_LIVE);
    r = ok(ref(WF_OP_ORDER_GET, C1, "D2"));
    cr_assert_eq(r->order->state, WF_ORDER_FILLED);
    cr_assert_eq(r->order->remaining, 0);
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 1);
    /* the resting offer's location defaults to its firm's */
    r = ok(ref(WF_OP_ORDER_GET, OP, "O1"));
    cr_assert_eq(r->order->lat, 30.00);
    cr_assert_eq(r->order->max_km, 50);
}

Test(engine, demand_fills_across_offers_best_first_and_rests)
{
    market();
    ok(offer(P1, "SW07", 300, 900));  /* O1: small surplus */
    ok(offer(P2, "SW07", 300, 100));  /* O2: large surplus, ranks first */
    wf_reply_t *r = ok(demand(C1, "SW07", 1000, 1000));
    cr_assert_eq(r->nmatches, 2);
    cr_assert_eq(r->matches[0].offer, 2);
    cr_assert_eq(r->matches[0].price, 100);
    cr_assert_eq(r->matches[1].offer, 1);
    cr_assert(r->matches[0].score >= r->matches[1].score);
    cr_assert_eq(r->rest, 400);
    cr_assert_eq(OUT.nstream, 2);
    cr_assert_str_eq(OUT.stream[0].firm, P2);
    cr_assert_str_eq(OUT.stream[1].firm, P1);
    cr_assert_eq(OUT.nfeed, 2);
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 1); /* the demand rests */
    /* a producer offer now fills against the resting demand */
    r = ok(offer(C2, "SW07", 100, 0));
    cr_assert_eq(r->nmatches, 1);
    cr_assert_eq(r->matches[0].demand, 3);
    cr_assert_eq(r->matches[0].price, 1000);
    cr_assert_eq(r->matches[0].taker_side, WF_OFFER);
    cr_assert_str_eq(OUT.stream[0].firm, C1);
    cr_assert_eq(OUT.stream[0].u.match.side, WF_DEMAND);
    cr_assert_eq(OUT.feed[0].to_county, 330602);
    cr_assert_eq(OUT.feed[0].from_county, 330603);
    r = ok(ref(WF_OP_ORDER_GET, C1, "D3"));
    cr_assert_eq(r->order->remaining, 300);
    /* category patterns: a demand for HW08 takes a 900-249-08 offer */
    ok(licence(C1, "HW08", 1000, T0 + 86400000));
    ok(offer(P1, "900-249-08", 50, 0));
    r = ok(demand(C1, "HW08", 50, 10));
    cr_assert_eq(r->nmatches, 1);
    cr_assert_str_eq(r->matches[0].code, "900-249-08");
}

Test(engine, same_firm_two_fills_take_consecutive_seqs)
{
    market();
    ok(offer(P1, "SW07", 100, 100));
    ok(offer(P1, "SW07", 100, 200));
    wf_reply_t *r = ok(demand(C1, "SW07", 200, 500));
    cr_assert_eq(r->nmatches, 2);
    cr_assert_eq(OUT.nstream, 2);
    cr_assert_eq(OUT.stream[0].seq, 1);
    cr_assert_eq(OUT.stream[1].seq, 2);
    cr_assert_eq(wf_engine_firm(E, P1)->stream_seq, 2);
    /* hello replays what the firm missed */
    wf_cmd_t h = mk(WF_OP_HELLO, P1);
    r = ok(h);
    cr_assert_eq(r->seq, 2);
    cr_assert_eq(OUT.nstream, 2);
    h.has |= WF_HAS_AFTER_SEQ;
    h.u.hello.after_seq = 1;
    r = ok(h);
    cr_assert_eq(OUT.nstream, 1);
    cr_assert_eq(OUT.stream[0].seq, 2);
    h.u.hello.after_seq = 2;
    ok(h);
    cr_assert_eq(OUT.nstream, 0);
    r = ok(mk(WF_OP_HELLO, C1));
    cr_assert_eq(r->seq, 0);
    cr_assert_eq(OUT.nstream, 0);
}

Test(engine, cancel)
{
    market();
    ok(offer(P1, "SW07", 100, 100));
    ok(offer(P2, "SW07", 100, 100));
    uint64_t seq = wf_engine_journal_seq(E);
    cr_assert_eq(run(ref(WF_OP_ORDER_CANCEL, P2, "O1"))->err, WF_E_AUTH);
    cr_assert_eq(run(ref(WF_OP_ORDER_CANCEL, P1, "O9"))->err, WF_E_NOTFOUND);
    cr_assert_eq(run(ref(WF_OP_ORDER_CANCEL, P1, "D1"))->err, WF_E_NOTFOUND);
    cr_assert_eq(run(ref(WF_OP_ORDER_CANCEL, P1, "x"))->err, WF_E_NOTFOUND);
    cr_assert_eq(wf_engine_journal_seq(E), seq);
    wf_reply_t *r = ok(ref(WF_OP_ORDER_CANCEL, P1, "O1"));
    cr_assert_eq(r->rest, 100);
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 1);
    r = run(ref(WF_OP_ORDER_CANCEL, P1, "O1"));
    cr_assert_eq(r->err, WF_E_STATE);
    cr_assert(strstr(r->msg, "O1"));
    ok(ref(WF_OP_ORDER_CANCEL, OP, "O2")); /* an operator may */
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 0);
    cr_assert_eq(wf_engine_journal_seq(E), seq + 2);
    r = ok(ref(WF_OP_ORDER_GET, P1, "O1"));
    cr_assert_eq(r->order->state, WF_ORDER_CANCELLED);
    /* nothing left to match */
    r = ok(demand(C1, "SW07", 100, 500));
    cr_assert_eq(r->nmatches, 0);
}

Test(engine, order_get_and_orders_mine)
{
    market();
    ok(offer(P1, "SW07", 100, 100));              /* O1 */
    wf_cmd_t e = offer(P1, "SW02", 100, 100);     /* O2 expires */
    e.has |= WF_HAS_EXPIRES;
    e.u.post.expires = now + 10;
    ok(e);
    ok(offer(P2, "SW07", 100, 100));              /* O3 */
    ok(offer(P1, "SW03", 100, 100));              /* O4 */
    ok(ref(WF_OP_ORDER_CANCEL, P1, "O4"));
    cr_assert_eq(run(ref(WF_OP_ORDER_GET, P2, "O1"))->err, WF_E_AUTH);
    cr_assert_eq(run(ref(WF_OP_ORDER_GET, C1, "O1"))->err, WF_E_AUTH);
    cr_assert_eq(run(ref(WF_OP_ORDER_GET, P1, "O5"))->err, WF_E_NOTFOUND);
    now += 20;
    wf_reply_t *r = ok(ref(WF_OP_ORDER_GET, P1, "O2"));
    cr_assert_eq(r->order->state, WF_ORDER_EXPIRED);
    cr_assert_str_eq(r->id, "O2");
    r = ok(mk(WF_OP_ORDERS_MINE, P1));
    cr_assert_eq(r->norders, 1);
    cr_assert_eq(r->orders[0].id, 1);
    wf_cmd_t all = mk(WF_OP_ORDERS_MINE, P1);
    all.has |= WF_HAS_LIVE_ONLY;
    all.u.mine.live_only = false;
    r = ok(all);
    cr_assert_eq(r->norders, 3);
    cr_assert_eq(r->orders[0].id, 4, "newest first");
    cr_assert_eq(r->orders[0].state, WF_ORDER_CANCELLED);
    cr_assert_eq(r->orders[1].id, 2);
    cr_assert_eq(r->orders[1].state, WF_ORDER_EXPIRED);
    cr_assert_eq(r->orders[2].id, 1);
    r = ok(mk(WF_OP_ORDERS_MINE, C1));
    cr_assert_eq(r->norders, 0);
    r = ok(mk(WF_OP_ORDERS_MINE, P2));
    cr_assert_eq(r->norders, 1);
    cr_assert_eq(r->orders[0].id, 3);
    /* an expired order is not live: it cannot be cancelled or targeted */
    cr_assert_eq(run(ref(WF_OP_ORDER_CANCEL, P1, "O2"))->err, WF_E_STATE);
}

Test(engine, post_validation_changes_nothing)
{
    market();
    ok(offer(P1, "SW07", 100, 100));  /* O1 */
    ok(offer(P2, "SW07", 100, 100));  /* O2, then cancelled */
    ok(ref(WF_OP_ORDER_CANCEL, P2, "O2"));
    struct {
        wf_cmd_t c;
        int err;
        const char *word;
    } cases[40];
    int n = 0;
#define CASE(cmd, e, w) cases[n++] = (typeof(cases[0])){(cmd), (e), (w)}
    wf_cmd_t c;
    CASE(offer(C1, "SW07", 100, 1), WF_E_AUTH, "producer");
    CASE(demand(P1, "SW07", 100, 1), WF_E_AUTH, "consumer");
    CASE(offer(P1, "SW07", 0, 1), WF_E_FIELD, "qty");
    CASE(offer(P1, "SW07", 1000000000001LL, 1), WF_E_FIELD, "qty");
    CASE(offer(P1, "SW07", 10, 1000000000001LL), WF_E_FIELD, "price");
    CASE(demand(C1, "SW07", 10, -1000000000001LL), WF_E_FIELD, "price");
    CASE(offer(P1, "XX99", 10, 1), WF_E_CODE, "XX99");
    CASE(offer(P1, "HW08", 10, 1), WF_E_CODE, "category");
    CASE(demand(C1, "nope", 10, 1), WF_E_CODE, "nope");
    c = offer(P1, "", 10, 1);
    CASE(c, WF_E_FIELD, "code");
    c = offer(P1, "SW07", 10, 1);
    memset(c.u.post.code, 'A', sizeof c.u.post.code); /* unterminated */
    CASE(c, WF_E_FIELD, "code");
    c = demand(C1, "SW07", 10, 1);
    c.u.post.ncodes = 0;
    CASE(c, WF_E_FIELD, "codes");
    c.u.post.ncodes = 17;
    CASE(c, WF_E_FIELD, "codes");
    c = demand(C1, "SW07", 10, 1);
    c.u.post.ncodes = 2;
    snprintf(c.u.post.codes[1], WF_CODE_LEN, "HW99");
    CASE(c, WF_E_CODE, "codes[1]");
    c = offer(P1, "SW07", 10, 1);
    c.has |= WF_HAS_LOC;
    c.u.post.lat = 90.5;
    CASE(c, WF_E_FIELD, "lat");
    c.u.post.lat = NAN;
    CASE(c, WF_E_FIELD, "lat");
    c.u.post.lat = 30;
    c.u.post.lon = -181;
    CASE(c, WF_E_FIELD, "lon");
    c.u.post.lon = INFINITY;
    CASE(c, WF_E_FIELD, "lon");
    c = offer(P1, "SW07", 10, 1);
    c.has |= WF_HAS_MAX_KM;
    c.u.post.max_km = 0;
    CASE(c, WF_E_FIELD, "max_km");
    c.u.post.max_km = 20000.5;
    CASE(c, WF_E_FIELD, "max_km");
    c.u.post.max_km = NAN;
    CASE(c, WF_E_FIELD, "max_km");
    c = offer(P1, "SW07", 10, 1);
    c.has |= WF_HAS_MIN_CREDIT;
    c.u.post.min_credit = 101;
    CASE(c, WF_E_FIELD, "min_credit");
    c.u.post.min_credit = -1;
    CASE(c, WF_E_FIELD, "min_credit");
    c = offer(P1, "SW07", 10, 1);
    c.has |= WF_HAS_MIN_FILL;
    c.u.post.min_fill = 11;
    CASE(c, WF_E_FIELD, "min_fill");
    c.u.post.min_fill = 0;
    CASE(c, WF_E_FIELD, "min_fill");
    c = offer(P1, "SW07", 10, 1);
    c.has |= WF_HAS_EXPIRES;
    c.u.post.expires = now;
    CASE(c, WF_E_FIELD, "expires");
    c = offer(P1, "SW07", 10, 1);
    c.has |= WF_HAS_TARGET;
    snprintf(c.u.post.target, WF_OID_LEN, "O1");
    CASE(c, WF_E_FIELD, "target");
    c = demand(C1, "SW07", 10, 1000);
    c.has |= WF_HAS_TARGET;
    snprintf(c.u.post.target, WF_OID_LEN, "O77");
    CASE(c, WF_E_NOTFOUND, "target");
    snprintf(c.u.post.target, WF_OID_LEN, "D1");
    CASE(c, WF_E_NOTFOUND, "target");
    snprintf(c.u.post.target, WF_OID_LEN, "O2");
    CASE(c, WF_E_STATE, "target");
#undef CASE
    uint64_t seq = wf_engine_journal_seq(E);
    size_t books = wf_book_count(wf_engine_book(E));
    for (int i = 0; i < n; i++) {
        wf_reply_t *r = run(cases[i].c);
        cr_assert_eq(r->err, cases[i].err, "case %d: got %s (%s)", i, wf_err_name(r->err), r->msg);
        cr_assert(strstr(r->msg, cases[i].word), "case %d: \"%s\" lacks \"%s\"", i, r->msg,
                  cases[i].word);
        cr_assert_eq(r->id[0], 0);
        cr_assert_eq(r->nmatches, 0);
        cr_assert_eq(OUT.nstream + OUT.nfeed, 0);
        cr_assert_eq(wf_engine_journal_seq(E), seq, "case %d journaled", i);
        cr_assert_eq(wf_book_count(wf_engine_book(E)), books, "case %d changed the book", i);
    }
    /* and the next order still gets the next id */
    wf_reply_t *r = ok(offer(P1, "SW07", 10, 1));
    cr_assert_str_eq(r->id, "O3");
}

Test(engine, target_demand_takes_that_offer_only)
{
    market();
    ok(offer(P1, "SW07", 100, 100)); /* O1 */
    ok(offer(P2, "SW07", 100, 50));  /* O2 would rank first */
    wf_cmd_t c = demand(C1, "SW07", 150, 1000);
    c.has |= WF_HAS_TARGET;
    snprintf(c.u.post.target, WF_OID_LEN, "O1");
    wf_reply_t *r = ok(c);
    cr_assert_eq(r->nmatches, 1);
    cr_assert_eq(r->matches[0].offer, 1);
    cr_assert_eq(r->matches[0].qty, 100);
    cr_assert_eq(r->rest, 0, "a target demand never rests");
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 1);
    r = ok(ref(WF_OP_ORDER_GET, C1, "D3"));
    cr_assert_eq(r->order->state, WF_ORDER_DONE);
    cr_assert_eq(r->order->remaining, 50);
    cr_assert_eq(r->order->target, 1);
    /* O1 is filled now: targeting it again is a state error */
    r = run(c);
    cr_assert_eq(r->err, WF_E_STATE);
}

Test(engine, blocked_firm_cannot_post)
{
    market();
    /* firm.block is a later op; set the flag in the store and reopen */
    wf_engine_destroy(&E);
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi dbi;
    cr_assert_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 16);
    cr_assert_eq(mdb_env_open(env, dir, 0, 0600), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &t), 0);
    cr_assert_eq(mdb_dbi_open(t, "firms", 0, &dbi), 0);
    MDB_val k = {18, P1}, v;
    cr_assert_eq(mdb_get(t, dbi, &k, &v), 0);
    wf_firm_rec_t f;
    memcpy(&f, v.mv_data, sizeof f);
    f.blocked = 1;
    v.mv_data = &f;
    cr_assert_eq(mdb_put(t, dbi, &k, &v, 0), 0);
    cr_assert_eq(mdb_txn_commit(t), 0);
    mdb_env_close(env);
    E = open_at(dir, 0);
    wf_reply_t *r = run(offer(P1, "SW07", 100, 100));
    cr_assert_eq(r->err, WF_E_BLOCKED);
    cr_assert(strstr(r->msg, P1));
}

Test(engine, config_set)
{
    market();
    wf_cmd_t c = mk(WF_OP_CONFIG_SET, OP);
    c.u.config.set = WF_CFG_W_PRICE | WF_CFG_TIER_A | WF_CFG_COUNTY_RULE | WF_CFG_ECO_FEE;
    c.u.config.values.w_price = 2.5;
    c.u.config.values.tier_a = 95;
    c.u.config.values.county_rule = true;
    c.u.config.values.eco_fee = 30;
    c.u.config.values.w_credit = 999; /* not in set: ignored */
    wf_reply_t *r = ok(c);
    cr_assert_eq(r->config->w_price, 2.5);
    cr_assert_eq(r->config->w_credit, 0.4);
    cr_assert_eq(r->config->tier_a, 95);
    cr_assert(r->config->county_rule);
    cr_assert_eq(wf_engine_config(E)->eco_fee, 30);
    uint64_t seq = wf_engine_journal_seq(E);
    struct {
        uint32_t set;
        wf_config_t v;
        const char *word;
    } bad[] = {
        {WF_CFG_W_CREDIT, {.w_credit = -1}, "w_credit"},
        {WF_CFG_W_DISTANCE, {.w_distance = NAN}, "w_distance"},
        {WF_CFG_W_PRICE, {.w_price = 1001}, "w_price"},
        {WF_CFG_TIER_B, {.tier_b = 96}, "tier"},
        {WF_CFG_TIER_C, {.tier_c = -1}, "tier"},
        {WF_CFG_PUSH_DELAY_B, {.push_delay_b = 3600001}, "push_delay_b"},
        {WF_CFG_PUSH_DELAY_C, {.push_delay_c = -1}, "push_delay_c"},
        {WF_CFG_ECO_FEE, {.eco_fee = 1000000001}, "eco_fee"},
        {WF_CFG_DISCREPANCY_PCT, {.discrepancy_pct = 100.5}, "discrepancy_pct"},
        {1u << 20, {0}, "unknown"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c.u.config.set = bad[i].set;
        c.u.config.values = bad[i].v;
        r = run(c);
        cr_assert_eq(r->err, WF_E_FIELD, "case %zu", i);
        cr_assert(strstr(r->msg, bad[i].word), "case %zu: %s", i, r->msg);
    }
    cr_assert_eq(wf_engine_journal_seq(E), seq);
    cr_assert_eq(wf_engine_config(E)->tier_a, 95);
    c.as[0] = 0;
    snprintf(c.as, sizeof c.as, "%s", P1);
    c.u.config.set = WF_CFG_TIER_C;
    cr_assert_eq(run(c)->err, WF_E_AUTH);
    cr_assert_eq(run(mk(WF_OP_CONFIG_GET, P1))->err, WF_E_AUTH);
}

Test(engine, eco_fee_across_counties)
{
    market();
    wf_cmd_t c = mk(WF_OP_CONFIG_SET, OP);
    c.u.config.set = WF_CFG_ECO_FEE;
    c.u.config.values.eco_fee = 40;
    ok(c);
    ok(offer(P1, "SW07", 100, 100));          /* county 330602 */
    wf_reply_t *r = ok(demand(C2, "SW07", 100, 120)); /* county 330603: 100 + 40 > 120 */
    cr_assert_eq(r->nmatches, 0);
    r = ok(demand(C1, "SW07", 100, 120));     /* same county: no fee */
    cr_assert_eq(r->nmatches, 1);
    cr_assert_eq(r->matches[0].fee, 0);
}

Test(engine, mixed_batch)
{
    market();
    wf_cmd_t b[6] = {
        offer(P1, "SW07", 100, 100),        /* ok: O1 */
        offer(P1, "HW08", 100, 100),        /* E_CODE */
        demand(C1, "SW07", 60, 200),        /* ok: D2, matches O1 */
        ref(WF_OP_ORDER_CANCEL, C1, "O1"),  /* E_AUTH */
        ref(WF_OP_ORDER_CANCEL, P1, "O1"),  /* ok: rest 40 */
        mk(WF_OP_HELLO, P1),                /* replays seq 1 */
    };
    for (int i = 0; i < 6; i++)
        b[i].rid = 100 + (uint64_t)i;
    uint64_t seq = wf_engine_journal_seq(E);
    cr_assert_eq(wf_engine_apply(E, b, 6, now, R, &OUT), WF_OK);
    int want[6] = {WF_OK, WF_E_CODE, WF_OK, WF_E_AUTH, WF_OK, WF_OK};
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(R[i].err, want[i], "cmd %d: %s %s", i, wf_err_name(R[i].err), R[i].msg);
        cr_assert_eq(R[i].rid, 100 + (uint64_t)i);
    }
    cr_assert_str_eq(R[0].id, "O1");
    cr_assert_str_eq(R[2].id, "D2");
    cr_assert_eq(R[2].nmatches, 1);
    cr_assert_eq(R[2].matches[0].qty, 60);
    cr_assert_eq(R[4].rest, 40);
    cr_assert_eq(R[5].seq, 1);
    cr_assert_eq(OUT.nstream, 2, "the match, then the hello's replay of it");
    cr_assert_eq(OUT.stream[0].seq, 1);
    cr_assert_eq(OUT.stream[1].seq, 1);
    cr_assert_eq(OUT.nfeed, 1);
    cr_assert_eq(wf_engine_journal_seq(E), seq + 3);
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 0);
    /* too many commands: the whole batch is refused */
    static wf_cmd_t many[WF_BATCH_MAX + 1];
    static wf_reply_t rs[WF_BATCH_MAX + 1];
    cr_assert_eq(wf_engine_apply(E, many, WF_BATCH_MAX + 1, now, rs, &OUT), WF_E_LIMIT);
    cr_assert_eq(rs[WF_BATCH_MAX].err, WF_E_LIMIT);
}

Test(engine, reopen_keeps_everything)
{
    market();
    ok(offer(P1, "SW07", 100, 100));
    ok(offer(P2, "SW02", 70, 100));
    ok(demand(C1, "SW07", 30, 200));
    ok(demand(C1, "SW09", 10, 200));
    wf_cmd_t c = mk(WF_OP_CONFIG_SET, OP);
    c.u.config.set = WF_CFG_TIER_A | WF_CFG_W_DISTANCE;
    c.u.config.values.tier_a = 99;
    c.u.config.values.w_distance = 1.5;
    ok(c);
    wf_cmd_t k = firm(C2, WF_ROLE_CONSUMER, 30, 120, 330602);
    k.has |= WF_HAS_KEY;
    memset(k.u.firm.key, 'z', 40);
    ok(k);
    uint64_t seq = wf_engine_journal_seq(E);
    size_t books = wf_book_count(wf_engine_book(E));
    cr_assert_eq(books, 3);
    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    cr_assert_eq(wf_engine_journal_seq(E), seq);
    cr_assert_eq(wf_book_count(wf_engine_book(E)), books);
    cr_assert_eq(wf_engine_config(E)->tier_a, 99);
    cr_assert_eq(wf_engine_config(E)->w_distance, 1.5);
    cr_assert_eq(wf_engine_firm(E, P1)->stream_seq, 1);
    cr_assert_str_eq(wf_engine_firm_by_key(E, k.u.firm.key)->id, C2);
    cr_assert_eq(wf_engine_firm(E, C2)->number, 4);
    /* ids continue; the rebuilt book matches */
    wf_reply_t *r = ok(demand(C1, "SW07", 70, 200));
    cr_assert_str_eq(r->id, "D5");
    cr_assert_eq(r->nmatches, 1);
    cr_assert_eq(r->matches[0].id, 2);
    cr_assert_eq(r->matches[0].qty, 70);
    cr_assert_eq(OUT.stream[0].seq, 2);
    r = ok(firm("P00000000000000009", WF_ROLE_PRODUCER, 30, 120, 330602));
    cr_assert_eq(r->firm->number, 5);
    /* the journal holds the accepted commands with their time */
    wf_engine_destroy(&E);
    MDB_txn *t;
    wf_store_t s;
    char serr[256];
    cr_assert_eq(wf_store__open_readonly(&s, dir, serr, sizeof serr), WF_OK, "%s", serr);
    cr_assert_eq(mdb_txn_begin(s.jenv, NULL, MDB_RDONLY, &t), 0);
    uint64_t last;
    cr_assert_eq(wf_journal__last(t, &s, &last), WF_OK);
    cr_assert_eq(last, seq + 2);
    wf_journal_rec_t j;
    cr_assert_eq(wf_journal__get(t, &s, 5, &j), WF_OK);
    cr_assert_eq(j.cmd.op, WF_OP_OFFER_POST);
    cr_assert_eq(j.now, T0);
    cr_assert_eq(j.format, WF_JOURNAL_FORMAT);
    mdb_txn_abort(t);
    wf_store__close(&s);
    E = open_at(dir, 0);
}

Test(engine, refuses_what_is_not_a_wufei_database)
{
    char d[300], err[256] = "";
    snprintf(d, sizeof d, "%s/junk", dir);
    cr_assert_eq(mkdir(d, 0700), 0);
    char f[320];
    snprintf(f, sizeof f, "%s/data.mdb", d);
    FILE *fp = fopen(f, "w");
    cr_assert(fp);
    for (int i = 0; i < 4096; i++)
        fputc('x', fp);
    fclose(fp);
    wf_engine_opts_t o = {.dir = d, .catalogue = WUFEI_CATALOGUE};
    cr_assert_null(wf_engine_new(&o, err, sizeof err));
    cr_assert(strstr(err, "not a wufei database"), "%s", err);
    /* an LMDB file of something else */
    snprintf(d, sizeof d, "%s/other", dir);
    cr_assert_eq(mkdir(d, 0700), 0);
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi dbi;
    mdb_env_create(&env);
    mdb_env_set_maxdbs(env, 4);
    cr_assert_eq(mdb_env_open(env, d, 0, 0600), 0);
    mdb_txn_begin(env, NULL, 0, &t);
    cr_assert_eq(mdb_dbi_open(t, "cats", MDB_CREATE, &dbi), 0);
    MDB_val k = {3, "tom"}, v = {3, "cat"};
    mdb_put(t, dbi, &k, &v, 0);
    mdb_txn_commit(t);
    mdb_env_close(env);
    err[0] = 0;
    cr_assert_null(wf_engine_new(&o, err, sizeof err));
    cr_assert(strstr(err, "not a wufei database"), "%s", err);
    /* an unreadable catalogue */
    o.dir = dir;
    o.catalogue = "/nonexistent/catalogue.tsv";
    wf_engine_destroy(&E);
    cr_assert_null(wf_engine_new(&o, err, sizeof err));
    cr_assert(strstr(err, "catalogue"), "%s", err);
    E = open_at(dir, 0);
}

/* A database of the previous schema (6: full stream records, no notices
 * table) is refused by its version, with a sentence, before any table of
 * this schema is looked for. */
Test(engine, refuses_an_older_schema_by_its_version)
{
    wf_engine_destroy(&E);
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi meta, notices;
    cr_assert_eq(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 24);
    cr_assert_eq(mdb_env_open(env, dir, 0, 0600), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &t), 0);
    cr_assert_eq(mdb_dbi_open(t, "meta", 0, &meta), 0);
    cr_assert_eq(mdb_dbi_open(t, "notices", 0, &notices), 0);
    cr_assert_eq(mdb_drop(t, notices, 1), 0);
    wf_store_layout_t l;
    MDB_val k = {6, "schema"}, v;
    cr_assert_eq(mdb_get(t, meta, &k, &v), 0);
    memcpy(&l, v.mv_data, sizeof l);
    cr_assert_eq(l.version, WF_SCHEMA_VERSION);
    l.version = 6;
    v = (MDB_val){offsetof(wf_store_layout_t, stream_notify), &l}; /* 6's record was shorter */
    cr_assert_eq(mdb_put(t, meta, &k, &v, 0), 0);
    cr_assert_eq(mdb_txn_commit(t), 0);
    mdb_env_close(env);
    char err[256] = "";
    wf_engine_opts_t o = {.dir = dir, .catalogue = WUFEI_CATALOGUE};
    cr_assert_null(wf_engine_new(&o, err, sizeof err));
    char want[96];
    snprintf(want, sizeof want, "schema version 6 but this wufei reads version %u",
             WF_SCHEMA_VERSION);
    cr_assert(strstr(err, want), "%s", err);
    E = NULL;
}

/* A tiny map fills up: the command that does not fit answers E_FULL, the
 * ones acknowledged before survive, and a larger map lets posting resume. */
/* A fresh directory: an existing one keeps the map size it was made with. */
static void
reopen_small(void)
{
    wf_engine_destroy(&E);
    rm_dir(dir);
    E = open_at(dir, 256 * 1024);
}

Test(engine, full_store)
{
    reopen_small();
    market();
    int acked = 0, full = 0;
    char last_ok[WF_OID_LEN] = "";
    for (int i = 0; i < 5000 && !full; i++) {
        /* the child's write or the batch commit may be the one that fails */
        wf_cmd_t c = offer(P1, "SW07", 100 + i, 100);
        int brc = wf_engine_apply(E, &c, 1, now, R, &OUT);
        wf_reply_t *r = &R[0];
        cr_assert(brc == WF_OK || brc == WF_E_FULL, "%s", wf_err_name(brc));
        if (r->err == WF_E_FULL) {
            full = 1;
            cr_log_info("store full after %d offers, %s", acked,
                        brc == WF_OK ? "in the command's child transaction" : "at the batch commit");
            cr_assert(strstr(r->msg, "full"), "%s", r->msg);
            cr_assert_eq(r->id[0], 0);
        } else {
            cr_assert_eq(r->err, WF_OK, "%s %s", wf_err_name(r->err), r->msg);
            snprintf(last_ok, sizeof last_ok, "%s", r->id);
            acked++;
        }
    }
    cr_assert(full, "a 256 KiB map never filled");
    cr_assert(acked > 10);
    uint64_t seq = wf_engine_journal_seq(E);
    cr_assert_eq(wf_book_count(wf_engine_book(E)), (size_t)acked);
    /* reads still work on a full store */
    wf_reply_t *r = ok(ref(WF_OP_ORDER_GET, P1, last_ok));
    cr_assert_eq(r->order->qty, 100 + acked - 1);
    wf_engine_destroy(&E);
    E = open_at(dir, 16 << 20);
    cr_assert_eq(wf_engine_journal_seq(E), seq);
    cr_assert_eq(wf_book_count(wf_engine_book(E)), (size_t)acked);
    r = ok(ref(WF_OP_ORDER_GET, P1, last_ok));
    cr_assert_eq(r->order->qty, 100 + acked - 1);
    r = ok(demand(C1, "SW07", 150, 1000));
    cr_assert(r->nmatches >= 1);
    r = ok(offer(P2, "SW07", 5, 100));
    cr_assert_eq(wf_engine_journal_seq(E), seq + 2);
}

/* The same with batches: a command whose child transaction does not fit
 * fails alone while the batch's earlier commands commit, or the batch
 * commit fails and every reply says so. Either way exactly the
 * acknowledged orders survive. */
Test(engine, full_store_in_batches)
{
    reopen_small();
    market();
    static wf_cmd_t b[WF_BATCH_MAX];
    static uint64_t acked[4096];
    size_t nacked = 0;
    int full = 0, child_full = 0, big = 0;
    for (int round = 0; round < 400 && big < 3; round++) {
        int n = full ? WF_BATCH_MAX : 1; /* small batches fill it, then big ones */
        big += full;
        for (int i = 0; i < n; i++)
            b[i] = offer(i % 2 ? P1 : P2, "SW07", 1 + round * WF_BATCH_MAX + i, 100);
        int brc = wf_engine_apply(E, b, (size_t)n, now, R, &OUT);
        cr_assert(brc == WF_OK || brc == WF_E_FULL);
        for (int i = 0; i < n; i++) {
            if (R[i].err == WF_OK) {
                cr_assert_eq(brc, WF_OK);
                acked[nacked++] = wf_id_parse(R[i].id, 'O');
            } else {
                cr_assert_eq(R[i].err, WF_E_FULL, "%s", R[i].msg);
                full = 1;
                child_full += brc == WF_OK;
            }
        }
    }
    cr_assert(full);
    /* LMDB needs pages to commit the batch too, so a child that hits the
     * map's end is usually followed by a failed batch commit: then every
     * reply is E_FULL and memory was rebuilt from disk. */
    cr_log_info("%zu acknowledged; %d commands failed alone in their child", nacked, child_full);
    cr_assert_eq(wf_book_count(wf_engine_book(E)), nacked);
    wf_engine_destroy(&E);
    E = open_at(dir, 16 << 20);
    cr_assert_eq(wf_book_count(wf_engine_book(E)), nacked);
    for (size_t i = 0; i < nacked; i++) {
        char id[WF_OID_LEN];
        wf_id_format(id, 'O', acked[i]);
        wf_cmd_t g = ref(WF_OP_ORDER_GET, OP, id);
        cr_assert_eq(wf_engine_apply(E, &g, 1, now, R, &OUT), WF_OK);
        if (R[0].err != WF_OK || R[0].order->state != WF_ORDER_LIVE)
            cr_assert_fail("acknowledged %s lost: %s", id, R[0].msg);
    }
    ok(offer(P1, "SW07", 5, 100));
}
