/* Market statistics and the time-driven feed: the stats op's figures after
 * a scripted session (live book by class and code, matched tonnes and
 * tonne-km, CO2 estimate, time to match, days, credit tiers, manifests),
 * the same figures after a restart (rebuilt from the store), the
 * book.<code> rate limit and the daily.<code> summary after CST midnight. */
#include "engine_fixture.h"

TestSuite(stats, .init = setup, .fini = teardown);

#define DAY_MS 86400000LL
#define CST_MS (8LL * 3600000LL)

static wf_cmd_t
stats_cmd(const char *as, uint32_t top, uint32_t days)
{
    wf_cmd_t c = mk(WF_OP_STATS, as);
    c.u.stats.top = top;
    c.u.stats.days = days;
    return c;
}

static double km1, km2;

/* P1 offers 10 t of SW07 at T0; C1 takes 4 t a minute later, C2 3 t two
 * minutes later; C1 rests 5 t of REC06 demand; P2's SW01 offer comes and
 * is cancelled. Left: 3 t SW07 offered, 5 t REC06 demanded. */
static void
session(void)
{
    market();
    ok(offer(P1, "SW07", 10000, 500));
    now = T0 + 60000;
    wf_reply_t *r = ok(demand(C1, "SW07", 4000, 800));
    cr_assert_eq(r->nmatches, 1);
    km1 = r->matches[0].km;
    now = T0 + 120000;
    r = ok(demand(C2, "SW07", 3000, 900));
    cr_assert_eq(r->nmatches, 1);
    km2 = r->matches[0].km;
    ok(demand(C1, "REC06", 5000, 100));
    r = ok(offer(P2, "SW01", 2000, 100));
    char id[WF_OID_LEN];
    snprintf(id, sizeof id, "%s", r->id);
    ok(ref(WF_OP_ORDER_CANCEL, P2, id));
}

static const wf_stats_row_t *
row(const wf_stats_t *s, const char *name)
{
    for (int c = 0; c < WF_CLASS__COUNT; c++)
        if (strcmp(s->classes[c].name, name) == 0)
            return &s->classes[c];
    for (size_t i = 0; i < s->ncodes; i++)
        if (strcmp(s->codes[i].name, name) == 0)
            return &s->codes[i];
    return NULL;
}

static void
check_figures(const wf_stats_t *s)
{
    double tkm = 4.0 * km1 + 3.0 * km2;
    cr_assert_eq(s->total.offers, 1);
    cr_assert_eq(s->total.offer_qty, 3000);
    cr_assert_eq(s->total.demands, 1);
    cr_assert_eq(s->total.demand_qty, 5000);
    cr_assert_eq(s->total.matches, 2);
    cr_assert_eq(s->total.matched_qty, 7000);
    cr_assert_float_eq(s->total.tonne_km, tkm, 1e-9);
    const wf_stats_row_t *ind = row(s, "industrial"), *rec = row(s, "recyclable"), *haz = row(s, "hazardous");
    cr_assert(ind && rec && haz);
    cr_assert_eq(ind->offers, 1);
    cr_assert_eq(ind->offer_qty, 3000);
    cr_assert_eq(ind->demands, 0);
    cr_assert_eq(ind->matches, 2);
    cr_assert_eq(rec->demands, 1);
    cr_assert_eq(rec->demand_qty, 5000);
    cr_assert_eq(haz->offers + haz->demands + (int64_t)haz->matches, 0);
    /* The busiest codes: SW07 (3 t live + 7 t matched), then REC06; SW01
     * came and went without trading, so it is not listed. */
    cr_assert_eq(s->ncodes, 2);
    cr_assert_str_eq(s->codes[0].name, "SW07");
    cr_assert_eq(s->codes[0].offer_qty, 3000);
    cr_assert_eq(s->codes[0].matched_qty, 7000);
    cr_assert_str_eq(s->codes[1].name, "REC06");
    cr_assert_eq(s->codes[1].demand_qty, 5000);
    /* Waits of the resting offer: 60 s and 120 s (the histogram is within 6.25%). */
    cr_assert_eq(s->waits, 2);
    cr_assert(s->wait_p50_ms >= 56250 && s->wait_p50_ms <= 63750, "p50 %lld", (long long)s->wait_p50_ms);
    cr_assert_eq(s->wait_max_ms, 120000);
    cr_assert_eq(s->ndays, 3);
    cr_assert_eq(s->days[0].matches, 2);
    cr_assert_eq(s->days[0].qty, 7000);
    cr_assert_eq(s->days[1].matches, 0);
    char today[11];
    wf_cst_day(now, today);
    cr_assert_str_eq(s->days[0].day, today);
    cr_assert_eq(s->firms, 4);
    cr_assert_eq(s->tiers[1], 4, "base credit 80 is tier B");
    cr_assert(s->manifests_scanned);
    cr_assert_eq(s->manifests[WF_MANIFEST_OPEN], 2);
    cr_assert_eq(s->manifests_seen, 2);
}

Test(stats, figures_after_a_session_and_after_a_restart)
{
    session();
    wf_reply_t *r = ok(stats_cmd(OP, 10, 3));
    cr_assert_not_null(r->stats);
    check_figures(r->stats);
    cr_assert_float_eq(r->stats->co2_per_tkm, 0.1, 1e-12);
    cr_assert_float_eq(r->stats->co2_kg, r->stats->total.tonne_km * 0.1, 1e-9);

    /* co2_per_tkm is an operator setting. */
    wf_cmd_t c = mk(WF_OP_CONFIG_SET, OP);
    c.u.config.set = WF_CFG_CO2_PER_TKM;
    c.u.config.values.co2_per_tkm = 0.25;
    ok(c);
    r = ok(stats_cmd(OP, 10, 3));
    cr_assert_float_eq(r->stats->co2_kg, r->stats->total.tonne_km * 0.25, 1e-9);
    c.u.config.values.co2_per_tkm = -1;
    cr_assert_eq(run(c)->err, WF_E_FIELD);

    /* Everything is rebuilt from the store at start. */
    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    r = ok(stats_cmd(OP, 10, 3));
    check_figures(r->stats);
    cr_assert_float_eq(r->stats->co2_per_tkm, 0.25, 1e-12);

    /* top limits the codes. */
    r = ok(stats_cmd(OP, 1, 1));
    cr_assert_eq(r->stats->ncodes, 1);
    cr_assert_str_eq(r->stats->codes[0].name, "SW07");
    cr_assert_eq(r->stats->ndays, 1);
}

Test(stats, operators_only_and_ranges)
{
    market();
    cr_assert_eq(run(stats_cmd(P1, 10, 7))->err, WF_E_AUTH);
    cr_assert_eq(run(stats_cmd(OP, 0, 7))->err, WF_E_FIELD);
    cr_assert_eq(run(stats_cmd(OP, 101, 7))->err, WF_E_FIELD);
    cr_assert_eq(run(stats_cmd(OP, 10, 33))->err, WF_E_FIELD);
    wf_reply_t *r = ok(stats_cmd(OP, 100, 32));
    cr_assert_eq(r->stats->total.matches, 0);
    cr_assert_eq(r->stats->ncodes, 0);
    cr_assert_eq(r->stats->waits, 0);
}

Test(stats, credit_tiers_follow_the_config)
{
    market();
    wf_cmd_t f = firm("P00000000000000003", WF_ROLE_PRODUCER, 30.0, 120.5, 330602);
    f.u.firm.base_credit = 95;
    f.has |= WF_HAS_BASE_CREDIT;
    ok(f);
    f = firm("P00000000000000004", WF_ROLE_PRODUCER, 30.0, 120.5, 330602);
    f.u.firm.base_credit = 50;
    f.has |= WF_HAS_BASE_CREDIT;
    ok(f);
    wf_reply_t *r = ok(stats_cmd(OP, 10, 1));
    cr_assert_eq(r->stats->firms, 6);
    cr_assert_eq(r->stats->tiers[0], 1);
    cr_assert_eq(r->stats->tiers[1], 4);
    cr_assert_eq(r->stats->tiers[2], 0);
    cr_assert_eq(r->stats->tiers[3], 1);
}

static const wf_feed_msg_t *
find_feed(const wf_feed_msg_t *m, size_t n, const char *topic)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].topic, topic) == 0)
            return &m[i];
    return NULL;
}

Test(stats, book_feed_once_a_second_per_changed_code)
{
    session();
    const wf_feed_msg_t *m;
    size_t n = wf_engine_feed_due(E, now, &m);
    const wf_feed_msg_t *sw07 = find_feed(m, n, "book.SW07"), *rec = find_feed(m, n, "book.REC06");
    cr_assert_not_null(sw07);
    cr_assert_not_null(rec);
    cr_assert_not_null(find_feed(m, n, "book.SW01"), "a code whose book changed is published, even to zero");
    cr_assert_eq(n, 3, "only codes whose book changed");
    cr_assert_eq(sw07->kind, WF_FEED_BOOK);
    cr_assert_eq(sw07->offers, 3000);
    cr_assert_eq(sw07->demands, 0);
    cr_assert_eq(sw07->offer_orders, 1);
    cr_assert_eq(rec->demands, 5000);
    cr_assert_eq(rec->demand_orders, 1);

    /* Nothing changed: nothing to say. */
    cr_assert_eq(wf_engine_feed_due(E, now + 5000, &m), 0);
    /* A change within the second waits for the second to pass. */
    now += 5400;
    ok(offer(P2, "SW07", 1000, 500));
    cr_assert_eq(wf_engine_feed_due(E, now, &m), 1);
    cr_assert_eq(m[0].offers, 4000);
    now += 300;
    ok(offer(P2, "SW07", 500, 500));
    cr_assert_eq(wf_engine_feed_due(E, now, &m), 0, "published 300 ms ago");
    cr_assert_eq(wf_engine_feed_due(E, now + 699, &m), 0);
    n = wf_engine_feed_due(E, now + 700, &m);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(m[0].topic, "book.SW07");
    cr_assert_eq(m[0].offers, 4500);
    cr_assert_eq(m[0].offer_orders, 3);
}

Test(stats, daily_summary_after_cst_midnight)
{
    session();
    /* a third fill at another price, same day */
    ok(offer(P2, "SW07", 2000, 300));
    now += 1000;
    wf_reply_t *r = ok(demand(C1, "SW07", 1000, 900));
    cr_assert_eq(r->nmatches, 1);
    cr_assert_eq(r->matches[0].price, 300, "the better-priced offer wins");
    const wf_feed_msg_t *m;
    wf_engine_feed_due(E, now, &m);
    char day[11];
    int64_t d = wf_cst_day(now, day);
    int64_t midnight = (d + 1) * DAY_MS - CST_MS;
    size_t n = wf_engine_feed_due(E, midnight - 1, &m);
    cr_assert_null(find_feed(m, n, "daily.SW07"), "not before midnight");
    n = wf_engine_feed_due(E, midnight, &m);
    const wf_feed_msg_t *s = find_feed(m, n, "daily.SW07");
    cr_assert_not_null(s);
    cr_assert_eq(s->kind, WF_FEED_DAILY);
    cr_assert_str_eq(s->day, day);
    cr_assert_eq(s->count, 3);
    cr_assert_eq(s->qty, 8000);
    cr_assert_eq(s->min, 300);
    cr_assert_eq(s->median, 500);
    cr_assert_eq(s->max, 500);
    cr_assert_eq(s->vwap, (4000 * 500 + 3000 * 500 + 1000 * 300 + 4000) / 8000);
    cr_assert_eq(s->ts, midnight);
    cr_assert_null(find_feed(m, n, "daily.REC06"), "no trade, no summary");
    n = wf_engine_feed_due(E, midnight + 86400000, &m);
    cr_assert_null(find_feed(m, n, "daily.SW07"), "once");
}

Test(stats, a_reloaded_day_is_not_summarised_again)
{
    session();
    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    char day[11];
    int64_t d = wf_cst_day(now, day);
    const wf_feed_msg_t *m;
    size_t n = wf_engine_feed_due(E, (d + 1) * DAY_MS - CST_MS, &m);
    cr_assert_null(find_feed(m, n, "daily.SW07"));
    /* a day traded after a restart is summarised whole */
    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    now += 1000;
    ok(demand(C1, "SW07", 500, 900));
    n = wf_engine_feed_due(E, (d + 1) * DAY_MS - CST_MS, &m);
    const wf_feed_msg_t *w = find_feed(m, n, "daily.SW07");
    cr_assert_not_null(w);
    cr_assert_eq(w->count, 3, "two fills before the restart, one after");
    /* and so is the next day */
    now = (d + 1) * DAY_MS - CST_MS + 1000;
    ok(demand(C1, "SW07", 1000, 900));
    n = wf_engine_feed_due(E, (d + 2) * DAY_MS - CST_MS, &m);
    const wf_feed_msg_t *s = find_feed(m, n, "daily.SW07");
    cr_assert_not_null(s);
    cr_assert_eq(s->count, 1);
}

Test(stats, call_auction_matches_are_counted)
{
    market();
    wf_cmd_t a = mk(WF_OP_AUCTION_SET, OP);
    snprintf(a.u.auction.code, sizeof a.u.auction.code, "SW07");
    a.u.auction.period_ms = 60000;
    a.u.auction.goal = (uint8_t)WF_GOAL_SCORE;
    ok(a);
    ok(offer(P1, "SW07", 5000, 500));
    ok(demand(C1, "SW07", 3000, 800));
    wf_reply_t *r = ok(stats_cmd(OP, 10, 1));
    cr_assert_eq(r->stats->total.matches, 0, "call-auction orders rest");
    cr_assert_eq(r->stats->total.offers, 1);
    /* the clearing at the next period makes the match */
    wf_cmd_t t;
    memset(&t, 0, sizeof t);
    t.op = WF_OP_TICK;
    now = wf_engine_next_timer(E);
    cr_assert(now < INT64_MAX);
    ok(t);
    r = ok(stats_cmd(OP, 10, 1));
    cr_assert_eq(r->stats->total.matches, 1);
    cr_assert_eq(r->stats->total.matched_qty, 3000);
    cr_assert_eq(r->stats->total.offer_qty, 2000);
    cr_assert_eq(r->stats->total.demands, 0);
    cr_assert(r->stats->total.tonne_km > 0);
    wf_recent_match_t rm[4];
    cr_assert_eq(wf_engine_recent_matches(E, 0, rm, 4), 1);
    cr_assert_float_eq(rm[0].offer_lat, 30.00, 1e-9);
    cr_assert_float_eq(rm[0].demand_lat, 30.01, 1e-9);
}
