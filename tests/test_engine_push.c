/* Subscriptions and credit-weighted push in the engine: tier A told in
 * the post's own batch, B and C by the tick after their delays, D and
 * blacklisted firms never, higher score first within a moment; the fit
 * rules (codes, radius, max_km, min_qty, both credit minimums, same firm);
 * pending pushes that survive a restart and are dropped when their order
 * is gone; sub.put and sub.del; stream seqs (gap-free across restarts and
 * failed commands, never reused after retention) and hello replay of the
 * compact stored messages. */
#include "engine/engine_int.h"
#include "engine_fixture.h"

TestSuite(push, .init = setup, .fini = teardown);

#define CA "C0000000000000000A"
#define CB "C0000000000000000B"
#define CC "C0000000000000000C"
#define CD "C0000000000000000D"
#define CX "C0000000000000000X"
#define CA2 "C000000000000000A2"

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

static void
consumer(const char *id, int32_t base, double lat, double lon)
{
    wf_cmd_t f = firm(id, WF_ROLE_CONSUMER, lat, lon, 330602);
    f.u.firm.base_credit = base;
    f.has |= WF_HAS_BASE_CREDIT;
    ok(f);
}

static wf_cmd_t
sub(const char *as, wf_side_t side, const char *code)
{
    wf_cmd_t c = mk(WF_OP_SUB_PUT, as);
    c.u.sub.side = (uint8_t)side;
    c.u.sub.ncodes = 1;
    snprintf(c.u.sub.codes[0], sizeof c.u.sub.codes[0], "%s", code);
    return c;
}

static uint64_t
sub_ok(wf_cmd_t c)
{
    wf_reply_t *r = ok(c);
    uint64_t id = wf_id_parse(r->id, 'S');
    cr_assert_gt(id, 0, "sub id %s", r->id);
    return id;
}

/* The notify messages of the last outbox, by firm in outbox order. */
static size_t
notified(const char *firms[], size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < OUT.nstream && n < max; i++)
        if (OUT.stream[i].type == WF_MSG_NOTIFY)
            firms[n++] = OUT.stream[i].firm;
    return n;
}

static const wf_stream_msg_t *
notify_for(const char *firm)
{
    for (size_t i = 0; i < OUT.nstream; i++)
        if (OUT.stream[i].type == WF_MSG_NOTIFY && strcmp(OUT.stream[i].firm, firm) == 0)
            return &OUT.stream[i];
    return NULL;
}

/* Subscribers in tiers A (95), B (80), C (65), D (50) and a blacklisted
 * A (95), all a few km from P1. */
static void
tiers(void)
{
    market();
    consumer(CA, 95, 30.01, 120.58);
    consumer(CB, 80, 30.01, 120.59);
    consumer(CC, 65, 30.02, 120.58);
    consumer(CD, 50, 30.02, 120.59);
    consumer(CX, 95, 30.01, 120.57);
    const char *all[] = {CA, CB, CC, CD, CX};
    for (int i = 0; i < 5; i++)
        sub_ok(sub(all[i], WF_OFFER, "SW07"));
    wf_cmd_t b = mk(WF_OP_FIRM_BLOCK, OP);
    snprintf(b.u.block.firm, sizeof b.u.block.firm, "%s", CX);
    ok(b);
}

Test(push, tiers_are_told_in_order_after_their_delays)
{
    tiers();
    wf_reply_t *r = ok(offer(P1, "SW07", 5000, 1000));
    uint64_t oid = wf_id_parse(r->id, 'O');
    const char *who[8];
    cr_assert_eq(notified(who, 8), 1, "only tier A at once");
    cr_assert_str_eq(who[0], CA);
    const wf_stream_msg_t *m = notify_for(CA);
    cr_assert_eq(m->u.notify.order.id, oid);
    cr_assert_eq(m->u.notify.order.remaining, 5000);
    cr_assert_gt(m->u.notify.km, 0);
    cr_assert_lt(m->u.notify.km, 5);
    cr_assert_eq(m->seq, wf_engine_firm(E, CA)->stream_seq, "stored with the firm's seq");
    cr_assert_eq(wf_engine_next_timer(E), T0 + 500);

    tick(T0 + 499);
    cr_assert_eq(notified(who, 8), 0);
    tick(T0 + 500);
    cr_assert_eq(notified(who, 8), 1);
    cr_assert_str_eq(who[0], CB);
    tick(T0 + 1999);
    cr_assert_eq(notified(who, 8), 0);
    tick(T0 + 2000);
    cr_assert_eq(notified(who, 8), 1);
    cr_assert_str_eq(who[0], CC);
    cr_assert_gt(wf_engine_next_timer(E), T0 + 100000, "D and the blacklisted never");
    cr_assert_eq(wf_engine_firm(E, CD)->stream_seq, 0);
    cr_assert_eq(wf_engine_firm(E, CX)->stream_seq, 0);
}

Test(push, higher_score_first_within_a_tier)
{
    market();
    consumer(CA, 91, 30.01, 120.58);
    consumer(CA2, 99, 30.01, 120.59);
    consumer(CB, 90, 30.02, 120.59);
    sub_ok(sub(CA, WF_OFFER, "SW07"));
    sub_ok(sub(CA2, WF_OFFER, "SW07"));
    sub_ok(sub(CB, WF_OFFER, "SW07"));
    ok(offer(P1, "SW07", 5000, 1000));
    const char *who[8];
    cr_assert_eq(notified(who, 8), 3);
    cr_assert_str_eq(who[0], CA2);
    cr_assert_str_eq(who[1], CA);
    cr_assert_str_eq(who[2], CB);
}

Test(push, an_order_gone_before_its_turn_tells_nobody)
{
    tiers();
    wf_reply_t *r = ok(offer(P1, "SW07", 5000, 1000));
    char id[WF_OID_LEN];
    snprintf(id, sizeof id, "%s", r->id);
    now = T0 + 100;
    ok(ref(WF_OP_ORDER_CANCEL, P1, id));
    tick(T0 + 500);
    const char *who[8];
    cr_assert_eq(notified(who, 8), 0, "cancelled: B is not told");
    tick(T0 + 2000);
    cr_assert_eq(notified(who, 8), 0, "nor C");

    /* filled before C's turn: B was told, C is not */
    now = T0 + 3000;
    ok(offer(P1, "SW07", 5000, 1000));
    tick(T0 + 3500);
    cr_assert_eq(notified(who, 8), 1);
    now = T0 + 3600;
    ok(demand(C1, "SW07", 5000, 2000));
    tick(T0 + 5000);
    cr_assert_eq(notified(who, 8), 0, "filled: C is not told");
}

Test(push, pending_push_survives_restart)
{
    tiers();
    ok(offer(P1, "SW07", 5000, 1000));
    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    cr_assert_eq(wf_engine_next_timer(E), T0 + 500, "the pending push's timer is rebuilt");
    tick(T0 + 500);
    const char *who[8];
    cr_assert_eq(notified(who, 8), 1);
    cr_assert_str_eq(who[0], CB);
    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    tick(T0 + 2000);
    cr_assert_eq(notified(who, 8), 1);
    cr_assert_str_eq(who[0], CC);
    tick(T0 + 3000);
    cr_assert_eq(notified(who, 8), 0, "each told once");
}

Test(push, blacklisted_before_its_turn_is_skipped)
{
    tiers();
    ok(offer(P1, "SW07", 5000, 1000));
    wf_cmd_t b = mk(WF_OP_FIRM_BLOCK, OP);
    snprintf(b.u.block.firm, sizeof b.u.block.firm, "%s", CB);
    now = T0 + 10;
    ok(b);
    tick(T0 + 500);
    const char *who[8];
    cr_assert_eq(notified(who, 8), 0);
}

Test(push, fit_rules)
{
    market();
    consumer(CA, 95, 30.01, 120.58);   /* ~1.4 km from P1 */
    consumer(CB, 95, 31.20, 121.47);   /* Shanghai, ~150 km */
    consumer(CC, 95, 30.01, 120.58);
    consumer(CD, 95, 30.01, 120.58);
    consumer(CX, 95, 30.01, 120.58);
    sub_ok(sub(CA, WF_OFFER, "SW07"));
    sub_ok(sub(CB, WF_OFFER, "SW07"));          /* beyond the 50 km radius */
    wf_cmd_t s = sub(CC, WF_OFFER, "SW07");
    s.u.sub.min_qty = 6000;                      /* more than the offer */
    s.has |= WF_HAS_MIN_QTY;
    sub_ok(s);
    s = sub(CD, WF_OFFER, "SW07");
    s.u.sub.min_credit = 90;                     /* P1 has 80 */
    s.has |= WF_HAS_MIN_CREDIT;
    sub_ok(s);
    sub_ok(sub(CX, WF_OFFER, "SW03"));           /* another code */
    wf_cmd_t far = sub(CB, WF_OFFER, "SW07");
    far.u.sub.radius_km = 500;
    far.has |= WF_HAS_RADIUS;
    ok(offer(P1, "SW07", 5000, 1000));
    const char *who[8];
    cr_assert_eq(notified(who, 8), 1);
    cr_assert_str_eq(who[0], CA);

    /* a wide radius still stops at the order's max_km */
    now++;
    sub_ok(far);
    ok(offer(P2, "SW07", 5000, 1000));
    cr_assert_eq(notified(who, 8), 1, "CB's radius is 500 km but the offer's max_km is 50");
    wf_cmd_t o = offer(P2, "SW07", 5000, 1000);
    o.u.post.max_km = 300;
    o.has |= WF_HAS_MAX_KM;
    ok(o);
    cr_assert_eq(notified(who, 8), 2);
    cr_assert_not_null(notify_for(CB));
    cr_assert_gt(notify_for(CB)->u.notify.km, 100);

    /* the order's min_credit against the subscriber's score */
    wf_cmd_t o2 = offer(P1, "SW07", 5000, 1000);
    o2.u.post.min_credit = 96;
    o2.has |= WF_HAS_MIN_CREDIT;
    ok(o2);
    cr_assert_eq(notified(who, 8), 0, "every subscriber has 95 < 96");
}

Test(push, category_pattern_and_same_firm)
{
    market();
    consumer(CA, 95, 30.01, 120.58);
    ok(licence(CA, "HW08", 100000, T0 + 365LL * 24 * 3600 * 1000));
    sub_ok(sub(CA, WF_OFFER, "HW08"));
    wf_cmd_t f = firm(C2, WF_ROLE_CONSUMER | WF_ROLE_PRODUCER, 30.03, 120.61, 330603);
    f.u.firm.base_credit = 95;
    f.has |= WF_HAS_BASE_CREDIT;
    ok(f);
    sub_ok(sub(C2, WF_OFFER, "SW07"));
    ok(offer(P1, "900-249-08", 5000, 1000));
    cr_assert_not_null(notify_for(CA), "HW08 covers 900-249-08");
    ok(offer(C2, "SW07", 5000, 1000));
    cr_assert_null(notify_for(C2), "a firm is not told about its own order");
}

Test(push, hazardous_offers_reach_only_licensed_or_laned_subscribers)
{
    market();
    int64_t year = 365LL * 24 * 3600 * 1000;
    consumer(CA, 95, 30.01, 120.58);   /* licensed */
    consumer(CB, 95, 30.01, 120.59);   /* no licence */
    consumer(CC, 95, 30.02, 120.58);   /* a lane from P1 */
    consumer(CD, 95, 30.02, 120.59);   /* a licence whose capacity is used up by this post */
    ok(licence(CA, "HW08", 100000, T0 + year));
    ok(licence(CD, "HW08", 2000, T0 + year));
    ok(lane(WF_OP_LANE_PUT, P1, CC, "900-249-08"));
    const char *all[] = {CA, CB, CC, CD};
    for (int i = 0; i < 4; i++)
        sub_ok(sub(all[i], WF_OFFER, "HW08"));
    wf_cmd_t d = demand(CD, "HW08", 2000, 5000);
    ok(d);
    wf_reply_t *r = ok(offer(P1, "900-249-08", 5000, 1000));
    cr_assert_eq(r->nmatches, 1, "CD's demand takes 2000 kg, all its licence allows");
    cr_assert_not_null(notify_for(CA));
    cr_assert_null(notify_for(CB), "no licence, no lane: not told");
    cr_assert_not_null(notify_for(CC), "a lane from the producer is enough");
    cr_assert_null(notify_for(CD), "no capacity left after this post's own fill");
}

Test(push, remainder_after_matching_is_pushed)
{
    market();
    consumer(CA, 95, 30.01, 120.58);
    sub_ok(sub(CA, WF_OFFER, "SW07"));
    ok(demand(C1, "SW07", 2000, 2000));
    wf_reply_t *r = ok(offer(P1, "SW07", 5000, 1000));
    cr_assert_eq(r->nmatches, 1);
    cr_assert_eq(r->rest, 3000);
    const wf_stream_msg_t *m = notify_for(CA);
    cr_assert_not_null(m);
    cr_assert_eq(m->u.notify.order.remaining, 3000);
    ok(demand(C1, "SW07", 5000, 2000)); /* a filled demand does not rest: nobody told */
    cr_assert_null(notify_for(CA));
}

Test(push, producers_subscribe_to_demand)
{
    market();
    wf_cmd_t f = firm(P2, WF_ROLE_PRODUCER, 30.02, 120.60, 330602);
    f.u.firm.base_credit = 95;
    f.has |= WF_HAS_BASE_CREDIT;
    ok(f);
    sub_ok(sub(P2, WF_DEMAND, "900-249-08"));
    ok(licence(C1, "HW08", 100000, T0 + 365LL * 24 * 3600 * 1000));
    cr_assert_eq(run(sub(P2, WF_OFFER, "SW07"))->err, WF_E_AUTH, "a producer watches demand");
    cr_assert_eq(run(sub(C1, WF_DEMAND, "SW07"))->err, WF_E_AUTH, "a consumer watches offers");
    wf_cmd_t d = demand(C1, "HW08", 5000, 2000);
    ok(d);
    const wf_stream_msg_t *m = notify_for(P2);
    cr_assert_not_null(m, "a demand for HW08 covers the producer's 900-249-08");
    cr_assert_eq(m->u.notify.order.side, WF_DEMAND);
}

Test(push, sub_put_and_del)
{
    market();
    consumer(CA, 95, 30.01, 120.58);
    wf_cmd_t bad = sub(CA, WF_OFFER, "XX99");
    cr_assert_eq(run(bad)->err, WF_E_CODE);
    bad = sub(CA, WF_OFFER, "SW07");
    bad.u.sub.radius_km = -1;
    bad.has |= WF_HAS_RADIUS;
    cr_assert_eq(run(bad)->err, WF_E_FIELD);
    uint64_t id = sub_ok(sub(CA, WF_OFFER, "SW07"));
    char sid[WF_OID_LEN];
    wf_id_format(sid, 'S', id);
    cr_assert_eq(run(ref(WF_OP_SUB_DEL, C1, sid))->err, WF_E_AUTH, "owner only");
    cr_assert_eq(run(ref(WF_OP_SUB_DEL, CA, "S999"))->err, WF_E_NOTFOUND);

    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    ok(offer(P1, "SW07", 5000, 1000));
    cr_assert_not_null(notify_for(CA), "subscriptions are loaded at start");
    ok(ref(WF_OP_SUB_DEL, CA, sid));
    ok(offer(P1, "SW07", 5000, 1000));
    cr_assert_null(notify_for(CA), "a deleted subscription is not told");
    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    ok(offer(P1, "SW07", 5000, 1000));
    cr_assert_null(notify_for(CA), "and stays deleted after a restart");
}

Test(push, many_subscribers_index_and_slices)
{
    market();
    /* 300 subscribers in tier B: their push record is worked off in one tick */
    char id[WF_FIRM_LEN];
    for (int i = 0; i < 300; i++) {
        snprintf(id, sizeof id, "S%017d", i);
        consumer(id, 80, 30.01 + i * 1e-4, 120.58);
        sub_ok(sub(id, WF_OFFER, i % 2 ? "SW07" : "SW03"));
    }
    ok(offer(P1, "SW07", 5000, 1000));
    tick(T0 + 500);
    const char *who[400];
    cr_assert_eq(notified(who, 400), 150);
}

Test(push, stream_retention_trims_old_messages)
{
    tiers();
    ok(offer(P1, "SW07", 5000, 1000));
    wf_cmd_t c = mk(WF_OP_CONFIG_SET, OP);
    c.u.config.set = WF_CFG_STREAM_KEEP_DAYS;
    c.u.config.values.stream_keep_days = 1;
    now = T0 + 5000;
    ok(c);
    cr_assert_eq(run(c)->err, WF_OK);
    c.u.config.values.stream_keep_days = -1;
    cr_assert_eq(run(c)->err, WF_E_FIELD);
    int64_t day = 24LL * 3600 * 1000;
    tick(T0 + 2000); /* B and C told, and the rearmed trim finds nothing old yet */
    /* a new message a day later */
    now = T0 + day + 10000;
    ok(offer(P1, "SW07", 5000, 1000));
    uint64_t seq = wf_engine_firm(E, CA)->stream_seq;
    cr_assert_eq(seq, 2);
    for (int i = 0; i < 5 && wf_engine_next_timer(E) <= T0 + 3 * day; i++)
        tick(T0 + day + 20000);
    wf_cmd_t h = mk(WF_OP_HELLO, CA);
    ok(h);
    cr_assert_eq(OUT.nstream, 1, "the day-old notification was trimmed, the new one kept");
    cr_assert_eq(OUT.stream[0].seq, 2);
    cr_assert_eq(wf_engine_firm(E, CA)->stream_seq, 2, "seqs are never reused");
}

/* ---- stream seqs and the stored form ---- */

static size_t
entries(MDB_dbi dbi)
{
    MDB_txn *t;
    MDB_stat st;
    cr_assert_eq(wf_engine__flush(E), WF_OK); /* the state left open across batches */
    cr_assert_eq(mdb_txn_begin(E->store.env, NULL, MDB_RDONLY, &t), 0);
    cr_assert_eq(mdb_stat(t, dbi, &st), 0);
    mdb_txn_abort(t);
    return st.ms_entries;
}

static void
reopen(void)
{
    wf_engine_destroy(&E);
    E = open_at(dir, 0);
}

static wf_reply_t *
hello(const char *as, uint64_t after)
{
    wf_cmd_t h = mk(WF_OP_HELLO, as);
    h.u.hello.after_seq = after;
    h.has |= WF_HAS_AFTER_SEQ;
    return ok(h);
}

/* The last outbox's message for firm with seq, or NULL. */
static const wf_stream_msg_t *
msg_of(const char *firm, uint64_t seq)
{
    for (size_t i = 0; i < OUT.nstream; i++)
        if (OUT.stream[i].seq == seq && strcmp(OUT.stream[i].firm, firm) == 0)
            return &OUT.stream[i];
    return NULL;
}

/* The id of the i-th of many tier-A subscribers. */
static const char *
aid(int i, char out[WF_FIRM_LEN])
{
    snprintf(out, WF_FIRM_LEN, "A%017d", i);
    return out;
}

Test(push, seqs_stay_gap_free_across_a_restart_after_a_push_to_many_firms)
{
    market();
    enum { N = 300 };
    char id[WF_FIRM_LEN];
    for (int i = 0; i < N; i++) {
        aid(i, id);
        consumer(id, 95, 30.01 + i * 1e-5, 120.58);
        sub_ok(sub(id, WF_OFFER, "SW07"));
    }
    uint64_t orders[4];
    for (int r = 0; r < 3; r++) {
        orders[r] = wf_id_parse(ok(offer(P1, "SW07", 5000, 1000 + r))->id, 'O');
        cr_assert_eq(OUT.nstream, N, "every subscriber is tier A");
        for (int i = 0; i < N; i++)
            cr_assert_not_null(msg_of(aid(i, id), (uint64_t)r + 1), "%s seq %d", id, r + 1);
    }
    reopen();
    for (int i = 0; i < N; i++)
        cr_assert_eq(wf_engine_firm(E, aid(i, id))->stream_seq, 3, "%s: seq from the stream", id);
    orders[3] = wf_id_parse(ok(offer(P1, "SW07", 5000, 1004))->id, 'O');
    cr_assert_eq(OUT.nstream, N);
    for (int i = 0; i < N; i++)
        cr_assert_eq(msg_of(aid(i, id), 4)->u.notify.order.id, orders[3], "%s: the next seq is 4",
                     id);
    reopen();
    for (int i = 0; i < N; i++) {
        hello(aid(i, id), 0);
        cr_assert_eq(R[0].seq, 4);
        cr_assert_eq(OUT.nstream, 4, "%s: all four kept", id);
        for (int r = 0; r < 4; r++) {
            cr_assert_eq(OUT.stream[r].seq, (uint64_t)r + 1, "gap-free");
            cr_assert_eq(OUT.stream[r].u.notify.order.id, orders[r]);
            cr_assert_eq(OUT.stream[r].u.notify.order.price, 1000 + r + (r == 3));
        }
    }
    cr_assert_eq(entries(E->store.notices), 4, "one shared order snapshot per post");
    cr_assert_eq(entries(E->store.stream), 4 * N);
}

Test(push, a_command_that_fails_after_writing_stream_messages_leaves_seqs_unchanged)
{
    tiers();
    for (int i = 0; i < 3; i++) { /* C1's demands: each offer fills one, its rest tells CA */
        wf_cmd_t d = demand(C1, "SW07", 1000, 2000);
        d.u.post.min_fill = 1000;
        d.has |= WF_HAS_MIN_FILL;
        ok(d);
    }
    wf_cmd_t bad = offer(P1, "SW07", 1050, 1000);
    bad.rid = 99;
    E->fail_journal_rid = 99;
    cr_assert_eq(run(bad)->err, WF_E_INTERNAL, "the journal write fails after the stream writes");
    E->fail_journal_rid = 0;
    cr_assert_eq(OUT.nstream, 0);
    cr_assert_eq(wf_engine_firm(E, CA)->stream_seq, 0);
    cr_assert_eq(wf_engine_firm(E, C1)->stream_seq, 0);

    /* between two that succeed in one batch: the fast path rolls back, the
     * slow path fails it alone */
    wf_cmd_t b[3] = {offer(P1, "SW07", 1050, 1000), bad, offer(P1, "SW07", 1050, 1000)};
    b[0].rid = 1;
    b[2].rid = 3;
    E->fail_journal_rid = 99;
    cr_assert_eq(wf_engine_apply(E, b, 3, now, R, &OUT), WF_OK);
    E->fail_journal_rid = 0;
    cr_assert_eq(R[0].err, WF_OK, "%s", R[0].msg);
    cr_assert_eq(R[1].err, WF_E_INTERNAL);
    cr_assert_eq(R[2].err, WF_OK, "%s", R[2].msg);
    uint64_t o1 = wf_id_parse(R[0].id, 'O'), o3 = wf_id_parse(R[2].id, 'O');
    cr_assert_eq(msg_of(C1, 1)->type, WF_MSG_MATCH);
    cr_assert_eq(msg_of(C1, 1)->u.match.m.offer, o1);
    cr_assert_eq(msg_of(C1, 2)->u.match.m.offer, o3, "no seq went to the failed post");
    cr_assert_eq(msg_of(CA, 1)->u.notify.order.id, o1);
    cr_assert_eq(msg_of(CA, 2)->u.notify.order.id, o3);
    cr_assert_null(msg_of(CA, 3));
    cr_assert_eq(wf_engine_firm(E, CA)->stream_seq, 2);
    cr_assert_eq(wf_engine_firm(E, C1)->stream_seq, 2);
    reopen();
    cr_assert_eq(wf_engine_firm(E, CA)->stream_seq, 2, "disk agrees");
    cr_assert_eq(wf_engine_firm(E, C1)->stream_seq, 2);
    hello(CA, 0);
    cr_assert_eq(OUT.nstream, 2);
    cr_assert_eq(OUT.stream[1].u.notify.order.id, o3);
    ok(offer(P1, "SW07", 1050, 1000));
    cr_assert_not_null(msg_of(C1, 3));
    cr_assert_not_null(msg_of(CA, 3));
}

Test(push, no_seq_reuse_after_retention_trimmed_everything_and_a_restart)
{
    tiers();
    ok(offer(P1, "SW07", 5000, 1000));
    tick(T0 + 2000); /* B and C told */
    cr_assert_eq(wf_engine_firm(E, CA)->stream_seq, 1);
    cr_assert_eq(wf_engine_firm(E, CC)->stream_seq, 1);
    cr_assert_eq(entries(E->store.notices), 3, "the post's, and one per tick slice");
    wf_cmd_t c = mk(WF_OP_CONFIG_SET, OP);
    c.u.config.set = WF_CFG_STREAM_KEEP_DAYS;
    c.u.config.values.stream_keep_days = 1;
    now = T0 + 5000;
    ok(c);
    int64_t later = T0 + 3 * 24LL * 3600 * 1000;
    for (int i = 0; i < 5 && wf_engine_next_timer(E) <= later; i++)
        tick(later);
    cr_assert_eq(entries(E->store.stream), 0, "everything trimmed");
    cr_assert_eq(entries(E->store.notices), 0, "and the notices with their last message");
    cr_assert_eq(entries(E->store.stream_floors), 3, "CA, CB and CC keep their seqs");
    now = later;
    hello(CA, 0);
    cr_assert_eq(OUT.nstream, 0);
    cr_assert_eq(R[0].seq, 1);
    reopen();
    cr_assert_eq(wf_engine_firm(E, CA)->stream_seq, 1, "the floor kept in the firm record");
    cr_assert_eq(wf_engine_firm(E, CB)->stream_seq, 1);
    cr_assert_eq(wf_engine_firm(E, CC)->stream_seq, 1);
    cr_assert_eq(wf_engine_firm(E, CD)->stream_seq, 0);
    ok(offer(P1, "SW07", 5000, 1000));
    cr_assert_eq(notify_for(CA)->seq, 2, "seq 1 is not handed out again");
    hello(CA, 0);
    cr_assert_eq(OUT.nstream, 1);
    cr_assert_eq(OUT.stream[0].seq, 2);
}

/* Everything the engine sent, in order, for the replay comparison. */
static wf_stream_msg_t sent[64];
static size_t nsent;

static void
record(void)
{
    for (size_t i = 0; i < OUT.nstream; i++) {
        cr_assert_lt(nsent, sizeof sent / sizeof sent[0]);
        sent[nsent++] = OUT.stream[i];
    }
}

static void
same_msg(const wf_stream_msg_t *a, const wf_stream_msg_t *b)
{
    cr_assert_str_eq(a->firm, b->firm);
    cr_assert_eq(a->seq, b->seq);
    cr_assert_eq(a->type, b->type, "%s seq %llu", a->firm, (unsigned long long)a->seq);
    cr_assert_eq(a->ts, b->ts);
    switch (a->type) {
    case WF_MSG_NOTIFY: {
        const wf_order_rec_t *x = &a->u.notify.order, *y = &b->u.notify.order;
        cr_assert_eq(x->id, y->id);
        cr_assert_eq(x->side, y->side);
        cr_assert_eq(x->state, y->state);
        cr_assert_str_eq(x->firm, y->firm);
        cr_assert_str_eq(x->code, y->code);
        cr_assert_eq(x->qty, y->qty);
        cr_assert_eq(x->remaining, y->remaining);
        cr_assert_eq(x->price, y->price);
        cr_assert_eq(x->min_fill, y->min_fill);
        cr_assert_eq(x->min_credit, y->min_credit);
        cr_assert_eq(x->lat, y->lat);
        cr_assert_eq(x->lon, y->lon);
        cr_assert_eq(x->max_km, y->max_km);
        cr_assert_eq(x->expires, y->expires);
        cr_assert_eq(x->posted, y->posted);
        cr_assert_eq(x->updated, y->updated);
        cr_assert_eq(a->u.notify.km, b->u.notify.km);
        cr_assert_eq(a->u.notify.sub, b->u.notify.sub);
        break;
    }
    case WF_MSG_MATCH:
        cr_assert_eq(a->u.match.m.id, b->u.match.m.id);
        cr_assert_eq(a->u.match.m.offer, b->u.match.m.offer);
        cr_assert_eq(a->u.match.m.demand, b->u.match.m.demand);
        cr_assert_eq(a->u.match.m.qty, b->u.match.m.qty);
        cr_assert_eq(a->u.match.m.price, b->u.match.m.price);
        cr_assert_eq(a->u.match.m.km, b->u.match.m.km);
        cr_assert_eq(a->u.match.m.score, b->u.match.m.score);
        cr_assert_str_eq(a->u.match.m.code, b->u.match.m.code);
        cr_assert_str_eq(a->u.match.m.producer, b->u.match.m.producer);
        cr_assert_str_eq(a->u.match.m.consumer, b->u.match.m.consumer);
        cr_assert_eq(a->u.match.side, b->u.match.side);
        cr_assert_str_eq(a->u.match.counterparty, b->u.match.counterparty);
        cr_assert_str_eq(a->u.match.counterparty_name, b->u.match.counterparty_name);
        break;
    case WF_MSG_MANIFEST:
        cr_assert_eq(a->u.manifest.id, b->u.manifest.id);
        cr_assert_eq(a->u.manifest.state, b->u.manifest.state);
        cr_assert_str_eq(a->u.manifest.token, b->u.manifest.token);
        break;
    case WF_MSG_EXPIRED:
        cr_assert_eq(a->u.expired.order, b->u.expired.order);
        cr_assert_eq(a->u.expired.side, b->u.expired.side);
        break;
    case WF_MSG_CREDIT:
        cr_assert_eq(a->u.credit.score, b->u.credit.score);
        cr_assert_eq(a->u.credit.tier, b->u.credit.tier);
        break;
    default:
        cr_assert_fail("unknown type %d", a->type);
    }
    cr_assert(memcmp(a, b, sizeof *a) == 0, "%s seq %llu: byte for byte", a->firm,
              (unsigned long long)a->seq);
}

#define K1 "K00000000000000001"

Test(push, hello_after_a_restart_replays_exactly_what_was_published)
{
    tiers();
    ok(firm(K1, WF_ROLE_CARRIER, 30.0, 120.5, 330602));
    nsent = 0;
    ok(demand(C1, "SW07", 1000, 2000));
    record();
    wf_cmd_t o = offer(P1, "SW07", 5000, 1000); /* fills C1's demand, the rest is pushed */
    o.u.post.expires = T0 + 10000;
    o.has |= WF_HAS_EXPIRES;
    wf_reply_t *r = ok(o);
    cr_assert_eq(r->nmatches, 1);
    char mid[WF_OID_LEN];
    wf_id_format(mid, 'F', r->matches[0].manifest);
    record();
    now = T0 + 100;
    ok(offer(P2, "SW07", 3000, 900)); /* a second snapshot for CA */
    record();
    tick(T0 + 500);
    record();
    tick(T0 + 2000);
    record();
    now = T0 + 3000;
    wf_cmd_t d = mk(WF_OP_MANIFEST_DISPATCH, P1);
    snprintf(d.u.manifest.id, sizeof d.u.manifest.id, "%s", mid);
    snprintf(d.u.manifest.carrier, sizeof d.u.manifest.carrier, "%s", K1);
    snprintf(d.u.manifest.vehicle, sizeof d.u.manifest.vehicle, "浙D·12345");
    ok(d);
    record();
    wf_cmd_t ce = mk(WF_OP_CREDIT_EVENT, OP);
    snprintf(ce.u.credit.firm, sizeof ce.u.credit.firm, "%s", CA);
    snprintf(ce.u.credit.kind, sizeof ce.u.credit.kind, "penalty");
    ce.u.credit.points = -20;
    snprintf(ce.u.credit.note, sizeof ce.u.credit.note, "test");
    ok(ce);
    record();
    tick(T0 + 10000); /* P1's offer expires */
    record();
    bool seen[6] = {false};
    for (size_t i = 0; i < nsent; i++)
        if (sent[i].type < 6)
            seen[sent[i].type] = true;
    for (int t = WF_MSG_MATCH; t <= WF_MSG_CREDIT; t++)
        cr_assert(seen[t], "the scenario sends type %d", t);

    reopen();
    const char *firms[] = {P1, P2, C1, CA, CB, CC, CD, K1};
    size_t total = 0;
    for (size_t f = 0; f < sizeof firms / sizeof firms[0]; f++) {
        hello(firms[f], 0);
        size_t k = 0;
        for (size_t i = 0; i < nsent; i++) {
            if (strcmp(sent[i].firm, firms[f]) != 0)
                continue;
            cr_assert_lt(k, OUT.nstream, "%s: replay is missing seq %llu", firms[f],
                         (unsigned long long)sent[i].seq);
            same_msg(&sent[i], &OUT.stream[k++]);
        }
        cr_assert_eq(k, OUT.nstream, "%s: nothing more replayed", firms[f]);
        cr_assert_eq(R[0].seq, k ? OUT.stream[k - 1].seq : 0);
        total += k;
    }
    cr_assert_eq(total, nsent);
    hello(CA, 1); /* after_seq still skips what the client has */
    cr_assert_eq(OUT.stream[0].seq, 2);
}
