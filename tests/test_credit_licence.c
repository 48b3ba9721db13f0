/* Licence capacity per calendar year, validity, coverage, and lanes. */
#include <criterion/criterion.h>

#include "credit/licence.h"

/* A toy catalogue: category 100 covers codes 101..199. */
static bool
covers(void *ctx, int32_t pattern, int32_t code)
{
    (void)ctx;
    return pattern == code || (pattern == 100 && code > 100 && code < 200);
}

/* 2026-06-01T00:00:00+08:00 and friends, in unix ms. */
#define JUN_2026 1780243200000LL
#define NEWYEAR_2027_CST 1798732800000LL /* 2027-01-01T00:00:00+08:00 */

Test(licence, calendar_year_in_cst)
{
    cr_assert_eq(wf_licence_year(0), 1970);
    cr_assert_eq(wf_licence_year(JUN_2026), 2026);
    cr_assert_eq(wf_licence_year(NEWYEAR_2027_CST - 1), 2026);
    cr_assert_eq(wf_licence_year(NEWYEAR_2027_CST), 2027, "the year turns at midnight in China");
    cr_assert_eq(wf_licence_year(951782400000LL), 2000); /* 2000-02-29T08:00+08 */
}

Test(licence, covers_valid_and_capacity)
{
    wf_licence_t l = {.firm = 1, .npatterns = 1, .patterns = {100}, .capacity = 5000,
                      .valid_until = NEWYEAR_2027_CST + 1000};
    cr_assert_eq(wf_licence_left(&l, 150, JUN_2026, covers, NULL), 5000);
    cr_assert_eq(wf_licence_left(&l, 250, JUN_2026, covers, NULL), 0, "code not covered");
    wf_licence_use(&l, 3000, JUN_2026);
    cr_assert_eq(wf_licence_left(&l, 150, JUN_2026, covers, NULL), 2000);
    wf_licence_use(&l, 2500, JUN_2026);
    cr_assert_eq(wf_licence_left(&l, 150, JUN_2026, covers, NULL), 0, "capacity used up");
    cr_assert_eq(wf_licence_left(&l, 150, NEWYEAR_2027_CST, covers, NULL), 5000,
                 "a new calendar year starts with full capacity");
    cr_assert_eq(wf_licence_left(&l, 150, NEWYEAR_2027_CST + 1000, covers, NULL), 0,
                 "expired licence");
}

Test(licence, lanes_are_directed_and_per_code)
{
    wf_lane_t lanes[] = {{.producer = 7, .consumer = 9, .code = 150}};
    cr_assert(wf_lane_allows(lanes, 1, 7, 9, 150, covers, NULL));
    cr_assert_not(wf_lane_allows(lanes, 1, 9, 7, 150, covers, NULL), "direction matters");
    cr_assert_not(wf_lane_allows(lanes, 1, 7, 9, 151, covers, NULL), "other code");
    cr_assert_not(wf_lane_allows(lanes, 1, 7, 8, 150, covers, NULL), "other consumer");
}
