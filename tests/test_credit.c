/* Credit arithmetic, event expiry, tiers and push ordering. */
#include <criterion/criterion.h>
#include <string.h>

#include "credit/push.h"
#include "credit/score.h"

static const wf_tiers_t tiers = {90, 75, 60};

static wf_credit_event_t
ev(int kind, int points, int64_t recorded, int64_t expires)
{
    wf_credit_event_t e;
    memset(&e, 0, sizeof e);
    e.kind = (uint8_t)kind;
    e.points = points;
    e.recorded = recorded;
    e.expires = expires;
    return e;
}

Test(credit, base_plus_active_events)
{
    wf_credit_event_t e[3] = {
        ev(WF_CREDIT_PENALTY, -10, 0, 1000),
        ev(WF_CREDIT_CONDUCT, 4, 0, 2000),
        ev(WF_CREDIT_CONDUCT, 3, 0, 3000),
    };
    int32_t by_kind[WF_CREDIT__COUNT];
    cr_assert_eq(wf_credit_score(80, e, 3, 500, by_kind), 77);
    cr_assert_eq(by_kind[WF_CREDIT_PENALTY], -10);
    cr_assert_eq(by_kind[WF_CREDIT_CONDUCT], 7);
    cr_assert_eq(by_kind[WF_CREDIT_TRANSPORT], 0);
}

Test(credit, expired_events_stop_counting)
{
    wf_credit_event_t e[2] = {ev(WF_CREDIT_PENALTY, -10, 0, 1000), ev(WF_CREDIT_CONDUCT, 4, 0, 2000)};
    cr_assert_eq(wf_credit_score(80, e, 2, 999, NULL), 74);
    cr_assert_eq(wf_credit_score(80, e, 2, 1000, NULL), 84, "an event stops counting at its expiry");
    cr_assert_eq(wf_credit_score(80, e, 2, 2000, NULL), 80);
    cr_assert_eq(wf_credit_next_expiry(e, 2, 0), 1000);
    cr_assert_eq(wf_credit_next_expiry(e, 2, 1000), 2000);
    cr_assert_eq(wf_credit_next_expiry(e, 2, 2000), 0);
}

Test(credit, clamped_to_0_100)
{
    wf_credit_event_t up = ev(WF_CREDIT_REPORTING, 50, 0, 10);
    wf_credit_event_t down = ev(WF_CREDIT_PENALTY, -500, 0, 10);
    cr_assert_eq(wf_credit_score(90, &up, 1, 5, NULL), 100);
    cr_assert_eq(wf_credit_score(90, &down, 1, 5, NULL), 0);
}

Test(credit, tiers_by_bounds)
{
    cr_assert_eq(wf_credit_tier(90, &tiers), 'A');
    cr_assert_eq(wf_credit_tier(89, &tiers), 'B');
    cr_assert_eq(wf_credit_tier(75, &tiers), 'B');
    cr_assert_eq(wf_credit_tier(74, &tiers), 'C');
    cr_assert_eq(wf_credit_tier(60, &tiers), 'C');
    cr_assert_eq(wf_credit_tier(59, &tiers), 'D');
    wf_tiers_t strict = {95, 85, 70};
    cr_assert_eq(wf_credit_tier(90, &strict), 'B');
}

Test(credit, kind_names_round_trip)
{
    for (int k = 0; k < WF_CREDIT__COUNT; k++)
        cr_assert_eq(wf_credit_kind_from_name(wf_credit_kind_name(k)), k);
    cr_assert_eq(wf_credit_kind_from_name("bribery"), -1);
    cr_assert_null(wf_credit_kind_name(WF_CREDIT__COUNT));
}

Test(push, tiers_in_order_with_delays_and_d_never)
{
    wf_push_target_t t[] = {
        {.firm = 1, .score = 62}, /* C */
        {.firm = 2, .score = 95}, /* A */
        {.firm = 3, .score = 80}, /* B */
        {.firm = 4, .score = 40}, /* D: never */
        {.firm = 5, .score = 99, .blocked = true},
        {.firm = 6, .score = 91}, /* A */
    };
    wf_push_t out[6];
    size_t n = wf_push_plan(t, 6, &tiers, 500, 2000, 10000, out);
    cr_assert_eq(n, 4);
    cr_assert_eq(out[0].firm, 2);
    cr_assert_eq(out[0].due, 10000);
    cr_assert_eq(out[1].firm, 6, "within a tier, higher score first");
    cr_assert_eq(out[2].firm, 3);
    cr_assert_eq(out[2].due, 10500);
    cr_assert_eq(out[2].tier, 'B');
    cr_assert_eq(out[3].firm, 1);
    cr_assert_eq(out[3].due, 12000);
}
