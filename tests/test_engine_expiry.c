/* Order expiry by the writer loop's timers: a live order leaves the book at
 * its `expires`, its record says expired, its owner gets an `expired`
 * stream message, the tick is journaled, and a restart neither revives the
 * order nor loses a pending expiry. */
#include "engine_fixture.h"

TestSuite(expiry, .init = setup, .fini = teardown);

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

static wf_cmd_t
offer_until(const char *as, int64_t qty, int64_t expires)
{
    wf_cmd_t c = offer(as, "SW07", qty, 1000);
    c.u.post.expires = expires;
    c.has |= WF_HAS_EXPIRES;
    return c;
}

Test(expiry, order_expires_on_time_and_owner_is_told)
{
    market();
    cr_assert_eq(wf_engine_next_timer(E), INT64_MAX, "no timer without an expiring order");
    wf_reply_t *r = ok(offer_until(P1, 5000, T0 + 60000));
    char id[WF_OID_LEN];
    snprintf(id, sizeof id, "%s", r->id);
    ok(offer(P2, "SW07", 3000, 1000)); /* never expires */
    cr_assert_eq(wf_engine_next_timer(E), T0 + 60000);
    uint64_t seq = wf_engine_journal_seq(E);

    tick(T0 + 59999);
    cr_assert_eq(OUT.nstream, 0, "nothing is due yet");
    cr_assert_eq(wf_engine_journal_seq(E), seq, "an idle tick is not journaled");
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 2);

    tick(T0 + 60000);
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 1, "the expired offer left the book");
    cr_assert_eq(OUT.nstream, 1);
    cr_assert_str_eq(OUT.stream[0].firm, P1);
    cr_assert_eq(OUT.stream[0].type, WF_MSG_EXPIRED);
    cr_assert_eq(OUT.stream[0].u.expired.order, wf_id_parse(id, 'O'));
    cr_assert_eq(OUT.stream[0].seq, wf_engine_firm(E, P1)->stream_seq);
    cr_assert_eq(wf_engine_journal_seq(E), seq + 1, "the tick that acted is journaled");
    cr_assert_eq(wf_engine_next_timer(E), T0 + 60000 + 30LL * 24 * 3600 * 1000,
                 "only the stream's retention pass is left, 30 days after the first message");

    now = T0 + 61000;
    r = ok(ref(WF_OP_ORDER_GET, P1, id));
    cr_assert_eq(r->order->state, WF_ORDER_EXPIRED);
    r = run(ref(WF_OP_ORDER_CANCEL, P1, id));
    cr_assert_eq(r->err, WF_E_STATE);
    r = ok(demand(C1, "SW07", 8000, 2000));
    cr_assert_eq(r->nmatches, 1, "only the unexpired offer matches");
    cr_assert_eq(r->matches[0].qty, 3000);
}

Test(expiry, filled_order_timer_is_dropped)
{
    market();
    ok(offer_until(P1, 5000, T0 + 1000));
    ok(demand(C1, "SW07", 5000, 2000)); /* fills it */
    uint64_t seq = wf_engine_journal_seq(E);
    tick(T0 + 1000);
    cr_assert_eq(OUT.nstream, 0, "a filled order is not reported expired");
    cr_assert_eq(wf_engine_journal_seq(E), seq);
}

Test(expiry, restart_keeps_pending_expiry_and_drops_done_ones)
{
    market();
    ok(offer_until(P1, 5000, T0 + 1000));
    ok(offer_until(P2, 5000, T0 + 5000));
    tick(T0 + 1000);
    cr_assert_eq(OUT.nstream, 1);
    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 1, "the expired order stays out after restart");
    cr_assert_eq(wf_engine_next_timer(E), T0 + 5000, "the pending expiry is rebuilt");
    tick(T0 + 5000);
    cr_assert_eq(OUT.nstream, 1);
    cr_assert_str_eq(OUT.stream[0].firm, P2);
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 0);
}

Test(expiry, many_expiries_fire_in_order_with_consecutive_seqs)
{
    market();
    for (int i = 0; i < 5; i++)
        ok(offer_until(P1, 1000 + i, T0 + 1000 - i * 10));
    uint64_t before = wf_engine_firm(E, P1)->stream_seq;
    tick(T0 + 1000);
    cr_assert_eq(OUT.nstream, 5);
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(OUT.stream[i].seq, before + 1 + i);
        if (i)
            cr_assert_gt(OUT.stream[i].u.expired.order, 0);
    }
    /* earliest due first: the last posted expires first */
    cr_assert_gt(OUT.stream[0].u.expired.order, OUT.stream[4].u.expired.order);
    cr_assert_eq(wf_engine_firm(E, P1)->stream_seq, before + 5);
}
