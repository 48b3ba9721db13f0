/* Credit in the engine: score arithmetic (base plus active events,
 * clamped), expiry by the writer loop's tick, tier changes and the
 * `credit` stream messages they cause (event, expiry, base change, tier
 * bounds), the live score in the matcher's minimum-credit rule, the
 * six-dimension view of firm.get, and the blacklist's effects on posting
 * and matching, across restarts. */
#include "engine_fixture.h"

TestSuite(credit, .init = setup, .fini = teardown);

#define DAY (24LL * 3600 * 1000)

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
credit(const char *firm, const char *kind, int32_t points, int64_t expires, const char *note)
{
    wf_cmd_t c = mk(WF_OP_CREDIT_EVENT, OP);
    snprintf(c.u.credit.firm, sizeof c.u.credit.firm, "%s", firm);
    snprintf(c.u.credit.kind, sizeof c.u.credit.kind, "%s", kind);
    c.u.credit.points = points;
    if (expires) {
        c.u.credit.expires = expires;
        c.has |= WF_HAS_POINTS_EXPIRES;
    }
    snprintf(c.u.credit.note, sizeof c.u.credit.note, "%s", note);
    return c;
}

static wf_cmd_t
block(const char *firm, bool on)
{
    wf_cmd_t c = mk(on ? WF_OP_FIRM_BLOCK : WF_OP_FIRM_UNBLOCK, OP);
    snprintf(c.u.block.firm, sizeof c.u.block.firm, "%s", firm);
    snprintf(c.u.block.note, sizeof c.u.block.note, "test");
    return c;
}

static wf_reply_t *
get_firm(const char *id)
{
    wf_cmd_t c = mk(WF_OP_FIRM_GET, OP);
    snprintf(c.u.firm_get.firm, sizeof c.u.firm_get.firm, "%s", id);
    return ok(c);
}

/* The credit message for firm in the last outbox, or NULL. */
static const wf_stream_msg_t *
credit_msg(const char *firm)
{
    for (size_t i = 0; i < OUT.nstream; i++)
        if (OUT.stream[i].type == WF_MSG_CREDIT && strcmp(OUT.stream[i].firm, firm) == 0)
            return &OUT.stream[i];
    return NULL;
}

Test(credit, score_is_base_plus_active_events_clamped)
{
    market(); /* base credit 80 */
    wf_reply_t *r = ok(credit(P1, "penalty", -15, 0, "排污许可证违规"));
    cr_assert(r->has_credit);
    cr_assert_eq(r->score, 65);
    cr_assert_eq(r->tier, 'C');
    const wf_stream_msg_t *m = credit_msg(P1);
    cr_assert_not_null(m, "the firm is told its new score");
    cr_assert_eq(m->u.credit.score, 65);
    cr_assert_eq(m->u.credit.tier, 'C');
    cr_assert_eq(m->seq, wf_engine_firm(E, P1)->stream_seq);

    r = ok(credit(P1, "conduct", 40, 0, "履约良好"));
    cr_assert_eq(r->score, 100, "80 - 15 + 40 clamps to 100");
    cr_assert_eq(r->tier, 'A');
    r = ok(credit(P1, "conduct", 5, 0, "again"));
    cr_assert_eq(r->score, 100);
    cr_assert_null(credit_msg(P1), "no message when neither score nor tier moved");

    r = get_firm(P1);
    cr_assert_eq(r->score, 100);
    cr_assert_eq(r->tier, 'A');
    cr_assert_eq(r->nevents, 3);
    cr_assert_eq(r->events[0].kind, WF_CREDIT_PENALTY, "grouped by kind");
    cr_assert_eq(r->events[0].points, -15);
    cr_assert_str_eq(r->events[0].note, "排污许可证违规");
    cr_assert_eq(r->events[0].recorded, T0);
    cr_assert_eq(r->events[0].expires, T0 + WF_CREDIT_VALIDITY_MS, "two years by default");
    cr_assert_eq(r->events[1].kind, WF_CREDIT_CONDUCT);

    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    r = get_firm(P1);
    cr_assert_eq(r->score, 100, "events are loaded at start");
    cr_assert_eq(r->nevents, 3);
}

Test(credit, bad_events_change_nothing)
{
    market();
    uint64_t seq = wf_engine_journal_seq(E);
    cr_assert_eq(run(credit(P1, "gossip", -5, 0, ""))->err, WF_E_FIELD);
    cr_assert_eq(run(credit(P1, "penalty", 0, 0, ""))->err, WF_E_FIELD);
    cr_assert_eq(run(credit(P1, "penalty", -101, 0, ""))->err, WF_E_FIELD);
    cr_assert_eq(run(credit(P1, "penalty", -5, T0, ""))->err, WF_E_FIELD, "expires in the past");
    cr_assert_eq(run(credit("P00000000000000099", "penalty", -5, 0, ""))->err, WF_E_NOTFOUND);
    wf_cmd_t c = credit(P1, "penalty", -5, 0, "");
    snprintf(c.as, sizeof c.as, "%s", C1);
    cr_assert_eq(run(c)->err, WF_E_AUTH, "operators only");
    cr_assert_eq(wf_engine_journal_seq(E), seq);
    cr_assert_eq(get_firm(P1)->score, 80);
}

Test(credit, expiry_by_tick_restores_the_score_and_tells_the_firm)
{
    market();
    ok(credit(P1, "transport", -30, T0 + 1000, "超载"));
    cr_assert_eq(get_firm(P1)->score, 50);
    cr_assert_eq(wf_engine_next_timer(E), T0 + 1000);
    uint64_t jseq = wf_engine_journal_seq(E);
    tick(T0 + 999);
    cr_assert_eq(OUT.nstream, 0);
    tick(T0 + 1000);
    const wf_stream_msg_t *m = credit_msg(P1);
    cr_assert_not_null(m, "expiry tells the firm");
    cr_assert_eq(m->u.credit.score, 80);
    cr_assert_eq(m->u.credit.tier, 'B');
    cr_assert_eq(wf_engine_journal_seq(E), jseq + 1);
    now = T0 + 2000;
    wf_reply_t *r = get_firm(P1);
    cr_assert_eq(r->score, 80);
    cr_assert_eq(r->nevents, 0, "an expired event is no longer listed");
    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    cr_assert_eq(get_firm(P1)->score, 80, "the expiry survives a restart");
}

Test(credit, two_events_expiring_together_report_the_final_score)
{
    market();
    ok(credit(P1, "transport", -10, T0 + 1000, "a"));
    ok(credit(P1, "reporting", -10, T0 + 1000, "b"));
    cr_assert_eq(get_firm(P1)->score, 60);
    tick(T0 + 1000);
    cr_assert_eq(OUT.nstream, 2);
    cr_assert_eq(OUT.stream[0].u.credit.score, 70);
    cr_assert_eq(OUT.stream[1].u.credit.score, 80);
    cr_assert_eq(OUT.stream[1].seq, OUT.stream[0].seq + 1);
}

Test(credit, pending_expiry_survives_restart)
{
    market();
    ok(credit(P1, "penalty", -20, T0 + 5000, "x"));
    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    cr_assert_eq(get_firm(P1)->score, 60);
    cr_assert_eq(wf_engine_next_timer(E), T0 + 5000, "the expiry timer is rebuilt");
    tick(T0 + 5000);
    cr_assert_not_null(credit_msg(P1));
    cr_assert_eq(get_firm(P1)->score, 80);
}

Test(credit, matcher_uses_the_live_score)
{
    market();
    ok(credit(P1, "penalty", -25, T0 + 1000, "x")); /* 55 */
    ok(offer(P1, "SW07", 5000, 1000));
    wf_cmd_t d = demand(C1, "SW07", 5000, 2000);
    d.u.post.min_credit = 70;
    d.has |= WF_HAS_MIN_CREDIT;
    d.u.post.expires = T0 + 100000;
    d.has |= WF_HAS_EXPIRES;
    cr_assert_eq(ok(d)->nmatches, 0, "a score of 55 is below the demand's 70");
    tick(T0 + 1000);
    now = T0 + 2000;
    wf_cmd_t d2 = demand(C2, "SW07", 1000, 2000);
    d2.u.post.min_credit = 70;
    d2.has |= WF_HAS_MIN_CREDIT;
    cr_assert_eq(ok(d2)->nmatches, 1, "after expiry the score is 80 again");
}

Test(credit, credit_term_ranks_by_live_score)
{
    market();
    ok(offer(P1, "SW07", 1000, 1000));
    ok(offer(P2, "SW07", 1000, 1000));
    ok(credit(P2, "conduct", 15, 0, "优秀")); /* P2 95, P1 80 */
    wf_reply_t *r = ok(demand(C1, "SW07", 1000, 2000));
    cr_assert_eq(r->nmatches, 1);
    cr_assert_str_eq(r->matches[0].producer, P2, "the higher live score wins");
}

/* The search bounds a region's scores with the highest credit of any
 * firm (firmtab.c keeps it as scores change): a rise by an event must
 * reach it, or a region whose only order is the risen firm's is never
 * opened. P1's 40 offers on one point and P2's one offer farther from C1
 * make two leaves. */
Test(credit, a_credit_rise_reaches_the_search_bound)
{
    market();
    for (int i = 0; i < 40; i++)
        ok(offer(P1, "SW07", 1000, 1000)); /* 1.4 km from C1 */
    wf_cmd_t far = offer(P2, "SW07", 1000, 1000);
    far.u.post.lat = 30.06; /* 5.6 km from C1: behind P1's orders unless credit counts */
    far.u.post.lon = 120.59;
    far.has |= WF_HAS_LOC;
    ok(far);
    ok(credit(P2, "conduct", 20, 0, "优秀")); /* P2 100, every other firm 80 */
    wf_reply_t *r = ok(demand(C1, "SW07", 1000, 2000));
    cr_assert_eq(r->nmatches, 1);
    cr_assert_str_eq(r->matches[0].producer, P2, "the risen score was not in the bound");
    ok(credit(P2, "penalty", -30, 0, "x")); /* 70: below P1's 80 */
    ok(far);
    r = ok(demand(C1, "SW07", 1000, 2000));
    cr_assert_eq(r->nmatches, 1);
    cr_assert_str_eq(r->matches[0].producer, P1, "the fallen score still wins");
}

/* A firm that gives up its producer role keeps its resting orders, and a
 * start that finds one counts the firm in the search bound again. */
Test(credit, a_resting_order_keeps_its_firm_in_the_bound_across_a_restart)
{
    market();
    for (int i = 0; i < 40; i++)
        ok(offer(P1, "SW07", 1000, 1000));
    wf_cmd_t far = offer(P2, "SW07", 1000, 1000);
    far.u.post.lat = 30.06;
    far.u.post.lon = 120.59;
    far.has |= WF_HAS_LOC;
    ok(far);
    ok(credit(P2, "conduct", 20, 0, "优秀"));
    ok(firm(P2, WF_ROLE_CARRIER, 30.02, 120.60, 330602)); /* no longer a producer */
    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    wf_reply_t *r = ok(demand(C1, "SW07", 1000, 2000));
    cr_assert_eq(r->nmatches, 1);
    cr_assert_str_eq(r->matches[0].producer, P2, "the resting order's firm left the bound");
}

Test(credit, base_change_and_tier_bounds_tell_the_firm)
{
    market();
    wf_cmd_t f = firm(P1, WF_ROLE_PRODUCER, 30.00, 120.58, 330602);
    f.u.firm.base_credit = 92;
    f.has |= WF_HAS_BASE_CREDIT;
    wf_reply_t *r = ok(f);
    cr_assert_eq(r->score, 92);
    cr_assert_eq(r->tier, 'A');
    const wf_stream_msg_t *m = credit_msg(P1);
    cr_assert_not_null(m, "a base change is told");
    cr_assert_eq(m->u.credit.score, 92);
    ok(f);
    cr_assert_null(credit_msg(P1), "the same base again: nothing to tell");

    wf_cmd_t c = mk(WF_OP_CONFIG_SET, OP);
    c.u.config.set = WF_CFG_TIER_B;
    c.u.config.values.tier_b = 85; /* 80 drops from B to C */
    ok(c);
    cr_assert_not_null(credit_msg(P2));
    cr_assert_eq(credit_msg(P2)->u.credit.tier, 'C');
    cr_assert_eq(credit_msg(P2)->u.credit.score, 80);
    cr_assert_not_null(credit_msg(C1));
    cr_assert_null(credit_msg(P1), "92 stays A");
    cr_assert_null(credit_msg(OP), "100 stays A");
    cr_assert_eq(get_firm(P2)->tier, 'C');
}

Test(credit, blacklist_stops_posting_and_matching)
{
    market();
    ok(offer(P1, "SW07", 5000, 1000));
    wf_reply_t *r = ok(block(P1, true));
    cr_assert(r->firm->blocked);
    cr_assert_eq(run(offer(P1, "SW07", 5000, 1000))->err, WF_E_BLOCKED);
    cr_assert_eq(ok(demand(C1, "SW07", 1000, 2000))->nmatches, 0,
                 "a blacklisted firm's resting order does not match");
    cr_assert(get_firm(P1)->firm->blocked);

    wf_cmd_t b = block(P2, true);
    snprintf(b.as, sizeof b.as, "%s", C1);
    cr_assert_eq(run(b)->err, WF_E_AUTH);
    cr_assert_eq(run(block(OP, true))->err, WF_E_FIELD);

    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    cr_assert(wf_engine_firm(E, P1)->blocked, "the blacklist is persisted");
    cr_assert_eq(run(offer(P1, "SW07", 5000, 1000))->err, WF_E_BLOCKED);
    ok(block(P1, false));
    cr_assert_eq(ok(demand(C2, "SW07", 1000, 2000))->nmatches, 1, "unblocked: it matches again");
}
