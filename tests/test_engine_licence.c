/* Licences, lanes and the regional rules through the engine (DESIGN.md
 * "Licence", "Regional rules"; docs/matching.md): licence.put, lane.put and
 * lane.del with their validation; demand.post's E_LICENCE rule for codes
 * and categories; capacity per licence shared by every code it covers,
 * drawn soonest-expiring first, persisted with the fills, kept across a
 * restart and reset by the calendar year; lanes; the county and city rules
 * and the eco fee as config.set switches that are journaled and survive a
 * restart. Each rule's test fails when the rule is removed. */
#include "engine_fixture.h"

TestSuite(licence, .init = setup, .fini = teardown);

#define DAY 86400000LL
#define YEAR_2024_CST 1704038400000LL /* 2024-01-01T00:00:00+08:00; T0 is in November 2023 */

static void
reopen(void)
{
    wf_engine_destroy(&E);
    E = open_at(dir, 0);
}

/* firm.get as the operator: the firm's licence i. */
static const wf_licence_rec_t *
licence_of(const char *firm, size_t i, size_t *n)
{
    wf_cmd_t c = mk(WF_OP_FIRM_GET, OP);
    snprintf(c.u.firm_get.firm, sizeof c.u.firm_get.firm, "%s", firm);
    wf_reply_t *r = ok(c);
    *n = r->nlicences;
    return i < r->nlicences ? &r->licences[i] : NULL;
}

static int64_t
used_of(const char *firm, size_t i)
{
    size_t n;
    const wf_licence_rec_t *l = licence_of(firm, i, &n);
    cr_assert_not_null(l, "%s has %zu licences", firm, n);
    return l->used;
}

static int64_t
filled(const wf_reply_t *r)
{
    int64_t q = 0;
    for (size_t i = 0; i < r->nmatches; i++)
        q += r->matches[i].qty;
    return q;
}

Test(licence, licence_put_validation_and_renewal)
{
    market();
    uint64_t seq = wf_engine_journal_seq(E);
    struct {
        wf_cmd_t c;
        int err;
    } cases[] = {
        {licence(C1, "HW08", 100, T0 + DAY), WF_E_AUTH},  /* not an operator (below) */
        {licence("C00000000000000009", "HW08", 100, T0 + DAY), WF_E_NOTFOUND},
        {licence(P1, "HW08", 100, T0 + DAY), WF_E_FIELD},  /* a producer holds no licence */
        {licence(C1, "HW99", 100, T0 + DAY), WF_E_CODE},
        {licence(C1, "SW07", 100, T0 + DAY), WF_E_FIELD},  /* not hazardous */
        {licence(C1, "HW08,SW07", 100, T0 + DAY), WF_E_FIELD},
        {licence(C1, "HW08", -1, T0 + DAY), WF_E_FIELD},
        {licence(C1, "HW08", 100, 0), WF_E_FIELD},
        {licence(C1, "HW08", 100, T0 + DAY), WF_E_FIELD}, /* no codes (below) */
    };
    snprintf(cases[0].c.as, sizeof cases[0].c.as, "%s", C1);
    cases[8].c.u.licence.ncodes = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wf_reply_t *r = run(cases[i].c);
        cr_assert_eq(r->err, cases[i].err, "case %zu: %s %s", i, wf_err_name(r->err), r->msg);
    }
    cr_assert_eq(wf_engine_journal_seq(E), seq, "refused licence.put changed the journal");

    wf_reply_t *r = ok(licence(C1, "HW08,HW49", 100, T0 + DAY));
    cr_assert_str_eq(r->id, "L1");
    cr_assert_eq(wf_engine_journal_seq(E), seq + 1);
    r = ok(licence(C1, "HW34", 50, T0 + DAY));
    cr_assert_str_eq(r->id, "L2");
    /* the same patterns (in any order) renew L1 */
    r = ok(licence(C1, "HW49,HW08", 300, T0 + 2 * DAY));
    cr_assert_str_eq(r->id, "L1");
    size_t n;
    const wf_licence_rec_t *l = licence_of(C1, 1, &n);
    cr_assert_eq(n, 2);
    cr_assert_eq(l->id, 1, "L1 now expires last");
    cr_assert_eq(l->capacity, 300);
    cr_assert_eq(l->valid_until, T0 + 2 * DAY);
    cr_assert_eq(l->ncodes, 2);
    /* the firm itself may read its licences too */
    wf_cmd_t c = mk(WF_OP_FIRM_GET, C1);
    snprintf(c.u.firm_get.firm, sizeof c.u.firm_get.firm, "%s", C1);
    cr_assert_eq(ok(c)->nlicences, 2);
    reopen();
    cr_assert_eq(licence_of(C1, 0, &n)->id, 2);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(ok(licence(C2, "HW08", 1, T0 + DAY))->id, "L3");
}

Test(licence, hazardous_demand_needs_licence_or_lane)
{
    market();
    uint64_t seq = wf_engine_journal_seq(E);
    wf_reply_t *r = run(demand(C1, "900-249-08", 10, 0));
    cr_assert_eq(r->err, WF_E_LICENCE, "%s", r->msg);
    r = run(demand(C1, "HW08", 10, 0));
    cr_assert_eq(r->err, WF_E_LICENCE);
    cr_assert_eq(wf_engine_journal_seq(E), seq, "a refused demand changed the journal");
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 0);
    ok(demand(C1, "SW07", 10, 0)); /* general waste needs no licence */

    /* A licence for one code of HW08 lets the firm name that code, not the
     * category: a demand may name only codes the firm is licensed for. */
    ok(licence(C1, "900-249-08", 100, T0 + DAY));
    ok(demand(C1, "900-249-08", 10, 0));
    r = run(demand(C1, "HW08", 10, 0));
    cr_assert_eq(r->err, WF_E_LICENCE);
    cr_assert(strstr(r->msg, "HW08 covers hazardous code"), "%s", r->msg);
    ok(licence(C1, "HW08", 100, T0 + DAY));
    ok(demand(C1, "HW08", 10, 0));
    /* several patterns: each one counts */
    wf_cmd_t c = demand(C1, "HW08", 10, 0);
    c.u.post.ncodes = 2;
    snprintf(c.u.post.codes[1], WF_CODE_LEN, "HW49");
    cr_assert_eq(run(c)->err, WF_E_LICENCE);

    /* an expired licence is no licence */
    ok(licence(C2, "HW49", 100, T0 + 1000));
    ok(demand(C2, "900-041-49", 10, 0));
    now = T0 + 1000;
    cr_assert_eq(run(demand(C2, "900-041-49", 10, 0))->err, WF_E_LICENCE);

    /* a lane to the firm counts as well */
    ok(lane(WF_OP_LANE_PUT, P1, C2, "900-041-49"));
    ok(demand(C2, "900-041-49", 10, 0));
    cr_assert_eq(run(demand(C2, "HW49", 10, 0))->err, WF_E_LICENCE);
}

Test(licence, category_licence_capacity_is_shared_by_its_codes)
{
    market();
    ok(licence(C1, "HW08", 100, T0 + DAY));
    ok(offer(P1, "900-249-08", 80, 0));
    ok(offer(P2, "900-217-08", 80, 0));
    wf_reply_t *r = ok(demand(C1, "HW08", 200, 0));
    cr_assert_eq(r->nmatches, 2);
    cr_assert_eq(filled(r), 100, "two codes of one licence share its 100, got %lld",
                 (long long)filled(r));
    cr_assert_eq(r->rest, 100);
    cr_assert_eq(used_of(C1, 0), 100);
    /* the capacity is spent: a new offer waits */
    r = ok(offer(P1, "900-249-08", 10, 0));
    cr_assert_eq(r->nmatches, 0);
    /* and stays spent after a restart (usage was written with the fills) */
    reopen();
    cr_assert_eq(used_of(C1, 0), 100);
    r = ok(offer(P2, "900-249-08", 10, 0));
    cr_assert_eq(r->nmatches, 0);
    /* raising the capacity (a renewal) lets the resting demand take more */
    ok(licence(C1, "HW08", 130, T0 + DAY));
    r = ok(offer(P2, "900-217-08", 50, 0));
    cr_assert_eq(filled(r), 30);
    cr_assert_eq(used_of(C1, 0), 130);
}

Test(licence, capacity_runs_out_across_posts_and_resets_with_the_year)
{
    market();
    ok(licence(C1, "HW08", 100, YEAR_2024_CST + DAY));
    ok(demand(C1, "HW08", 1000, 0));
    wf_reply_t *r = ok(offer(P1, "900-249-08", 60, 0));
    cr_assert_eq(filled(r), 60);
    r = ok(offer(P2, "900-249-08", 60, 0));
    cr_assert_eq(filled(r), 40, "the second fill takes what capacity is left");
    r = ok(offer(P2, "900-249-08", 60, 0));
    cr_assert_eq(r->nmatches, 0);
    now = YEAR_2024_CST; /* a new calendar year in China: capacity again */
    cr_assert_eq(used_of(C1, 0), 0);
    r = ok(offer(P1, "900-249-08", 60, 0));
    cr_assert_eq(filled(r), 60, "the resting offers wait; the new one fills");
    cr_assert_eq(used_of(C1, 0), 60);
    now = YEAR_2024_CST + DAY; /* the licence has expired */
    r = ok(offer(P1, "900-249-08", 10, 0));
    cr_assert_eq(r->nmatches, 0);
}

Test(licence, fills_draw_on_the_licence_expiring_first)
{
    market();
    ok(licence(C1, "HW08", 50, T0 + 2 * DAY));              /* L1 */
    ok(licence(C1, "900-249-08,900-217-08", 50, T0 + DAY)); /* L2: expires first */
    ok(offer(P1, "900-249-08", 70, 0));
    wf_reply_t *r = ok(demand(C1, "900-249-08", 200, 0));
    cr_assert_eq(filled(r), 70);
    size_t n;
    const wf_licence_rec_t *l = licence_of(C1, 0, &n);
    cr_assert_eq(l->id, 2);
    cr_assert_eq(l->used, 50, "L2 expires first and is drawn first");
    cr_assert_eq(licence_of(C1, 1, &n)->used, 20);
    /* together they allow 100 in all; 30 are left, from L1 */
    r = ok(offer(P2, "900-249-08", 70, 0));
    cr_assert_eq(filled(r), 30);
}

Test(licence, lanes_allow_without_licence_or_capacity)
{
    market();
    uint64_t seq = wf_engine_journal_seq(E);
    wf_cmd_t bad = lane(WF_OP_LANE_PUT, P1, C1, "900-249-08");
    snprintf(bad.as, sizeof bad.as, "%s", P1);
    cr_assert_eq(run(bad)->err, WF_E_AUTH);
    cr_assert_eq(run(lane(WF_OP_LANE_PUT, C1, P1, "900-249-08"))->err, WF_E_FIELD); /* roles */
    cr_assert_eq(run(lane(WF_OP_LANE_PUT, P1, C1, "SW07"))->err, WF_E_FIELD);
    cr_assert_eq(run(lane(WF_OP_LANE_PUT, P1, C1, "HW99"))->err, WF_E_CODE);
    cr_assert_eq(run(lane(WF_OP_LANE_PUT, P1, "C00000000000000009", "HW08"))->err, WF_E_NOTFOUND);
    cr_assert_eq(run(lane(WF_OP_LANE_DEL, P1, C1, "900-249-08"))->err, WF_E_NOTFOUND);
    cr_assert_eq(wf_engine_journal_seq(E), seq);

    ok(lane(WF_OP_LANE_PUT, P1, C1, "900-249-08"));
    cr_assert_eq(wf_engine_journal_seq(E), seq + 1);
    ok(demand(C1, "900-249-08", 1000, 0));
    ok(offer(P2, "900-249-08", 10, 0)); /* no lane from P2, no licence: waits */
    wf_reply_t *r = ok(offer(P1, "900-249-08", 300, 0));
    cr_assert_eq(r->nmatches, 1);
    cr_assert_eq(filled(r), 300, "a lane uses no capacity and has no limit");
    reopen();
    r = ok(offer(P1, "900-249-08", 100, 0));
    cr_assert_eq(filled(r), 100, "the lane survives a restart");
    ok(lane(WF_OP_LANE_DEL, P1, C1, "900-249-08"));
    r = ok(offer(P1, "900-249-08", 100, 0));
    cr_assert_eq(r->nmatches, 0, "the lane is gone");
    reopen();
    r = ok(offer(P1, "900-249-08", 100, 0));
    cr_assert_eq(r->nmatches, 0, "and stays gone");
    /* a lane and a licence together: the lane's fills use no capacity */
    ok(licence(C1, "HW08", 50, T0 + DAY));
    ok(lane(WF_OP_LANE_PUT, P2, C1, "HW08"));
    r = ok(demand(C1, "HW08", 10000, 0));
    cr_assert_eq(filled(r), 10 + 50, "P2's 10 by lane, then 50 of P1's resting 200 by licence");
    cr_assert_eq(used_of(C1, 0), 50);
}

static void
set_rules(bool county, bool city, int64_t fee)
{
    wf_cmd_t c = mk(WF_OP_CONFIG_SET, OP);
    c.u.config.set = WF_CFG_COUNTY_RULE | WF_CFG_CITY_RULE | WF_CFG_ECO_FEE;
    c.u.config.values.county_rule = county;
    c.u.config.values.city_rule = city;
    c.u.config.values.eco_fee = fee;
    ok(c);
}

#define P3 "P00000000000000003"

Test(licence, regional_rules_survive_a_restart_and_bind)
{
    market(); /* P1, C1 in 330602; C2 in 330603 (same city, another county) */
    ok(firm(P3, WF_ROLE_PRODUCER, 30.05, 120.62, 330106)); /* Hangzhou: another city */
    ok(licence(C1, "HW08", 100000, T0 + DAY));
    uint64_t seq = wf_engine_journal_seq(E);
    set_rules(true, true, 0);
    cr_assert_eq(wf_engine_journal_seq(E), seq + 1, "config.set is journaled");
    reopen();
    cr_assert(wf_engine_config(E)->county_rule && wf_engine_config(E)->city_rule);

    /* county rule: general waste stays in its county */
    ok(demand(C2, "SW07", 100, 0));
    wf_reply_t *r = ok(offer(P1, "SW07", 50, 0));
    cr_assert_eq(r->nmatches, 0, "SW07 crossed counties under the county rule");
    /* city rule: hazardous waste stays in its city, and may cross counties */
    ok(demand(C1, "HW08", 100, 0));
    r = ok(offer(P3, "900-249-08", 50, 0));
    cr_assert_eq(r->nmatches, 0, "HW08 left the city under the city rule");
    wf_cmd_t o = offer(C2, "900-249-08", 20, 0); /* C2 produces too, in 330603 */
    r = ok(o);
    cr_assert_eq(r->nmatches, 1, "the county rule is for general waste only");

    set_rules(false, false, 0);
    reopen();
    r = ok(offer(P1, "SW07", 50, 0));
    cr_assert_eq(r->nmatches, 1);
    r = ok(offer(P3, "900-249-08", 50, 0));
    cr_assert_eq(r->nmatches, 1);
}

Test(licence, eco_fee_is_journaled_priced_and_reported)
{
    market();
    set_rules(false, false, 300);
    reopen();
    cr_assert_eq(wf_engine_config(E)->eco_fee, 300);
    ok(demand(C2, "SW07", 100, 1000)); /* C2 is in another county than P1 */
    wf_reply_t *r = ok(offer(P1, "SW07", 50, 800));
    cr_assert_eq(r->nmatches, 0, "800 + fee 300 is more than the demand's 1000");
    r = ok(offer(P1, "SW07", 50, 700));
    cr_assert_eq(r->nmatches, 1);
    cr_assert_eq(r->matches[0].fee, 300);
    cr_assert_eq(r->matches[0].price, 1000);
    /* within the county: no fee */
    ok(demand(C1, "SW07", 100, 1000));
    r = ok(offer(P2, "SW07", 50, 900));
    cr_assert_eq(r->nmatches, 1);
    cr_assert_eq(r->matches[0].fee, 0);
}
