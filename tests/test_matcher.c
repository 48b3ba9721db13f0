/* The book and the matching rule of DESIGN.md "Matching". Each rule has a
 * test that shows a pair matching, then changes only what that rule looks
 * at and shows it no longer matching, so dropping the rule fails the test.
 * Ranking, greedy fill, cap, target and the book's own bookkeeping follow.
 * Helpers that run per order check with cr_assert_fail rather than
 * cr_assert, so ctest's --full-stats does not stream one report per order. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "matcher/book.h"
#include "matcher/geo.h"
#include "matcher/reference.h"
#include "core/wf_error.h"

#define NOW 1700000000000LL
#define LAT 30.0   /* Shaoxing */
#define LON 120.58
#define SHAOXING 330602u    /* Yuecheng district */
#define KEQIAO 330603u      /* another county of the same city */
#define HANGZHOU 330106u    /* another city */

static wf_catalogue_t *cat;
static wf_book_t *book;
static wf_rules_t rules;
static wf_party_t parties[32];
static int64_t allow[32]; /* per consumer firm; INT64_MAX = lane */
static int allowance_calls;
static wf_match_env_t env;

static const wf_party_t *
party_of(void *ctx, uint32_t firm)
{
    (void)ctx;
    if (firm >= 32)
        cr_assert_fail("firm %u", firm);
    return &parties[firm];
}

static int64_t
allowance_of(void *ctx, uint32_t consumer, uint32_t producer, int32_t code, int64_t now)
{
    (void)ctx, (void)producer, (void)code;
    if (now != NOW)
        cr_assert_fail("now %lld", (long long)now);
    allowance_calls++;
    return allow[consumer];
}

static void
setup(void)
{
    char err[256];
    cat = wf_catalogue_new();
    cr_assert_eq(wf_catalogue_load(cat, WUFEI_CATALOGUE, err, sizeof err), WF_OK, "%s", err);
    book = wf_book_new(cat);
    rules = wf_rules_default();
    for (int i = 0; i < 32; i++) {
        parties[i] = (wf_party_t){.credit = 80, .blocked = false, .county = SHAOXING};
        allow[i] = INT64_MAX;
    }
    allowance_calls = 0;
    env = (wf_match_env_t){
        .cat = cat, .rules = &rules, .now = NOW, .ctx = NULL,
        .party = party_of, .allowance = allowance_of,
    };
}

static void
teardown(void)
{
    wf_book_destroy(&book);
    cr_assert_null(book);
    wf_catalogue_destroy(&cat);
}

TestSuite(matcher, .init = setup, .fini = teardown);

static int32_t
code(const char *c)
{
    int32_t id = wf_catalogue_find(cat, c);
    if (id < 0)
        cr_assert_fail("unknown code %s", c);
    return id;
}

static wf_order_t
offer(uint64_t id, uint32_t firm, const char *c, int64_t qty, int64_t price)
{
    return (wf_order_t){
        .id = id, .side = WF_OFFER, .firm = firm, .code = code(c), .qty = qty, .remaining = qty,
        .price = price, .min_fill = 1, .lat = LAT, .lon = LON, .max_km = 100,
    };
}

static wf_order_t
demand(uint64_t id, uint32_t firm, const char *pattern, int64_t qty, int64_t price)
{
    return (wf_order_t){
        .id = id, .side = WF_DEMAND, .firm = firm, .code = -1, .npatterns = 1,
        .patterns = {code(pattern)}, .qty = qty, .remaining = qty, .price = price,
        .min_fill = 1, .lat = LAT, .lon = LON, .max_km = 100,
    };
}

static wf_order_t *
rest(wf_order_t o)
{
    wf_order_t *r = wf_book_add(book, &o);
    if (!r)
        cr_assert_fail("add failed");
    return r;
}

static wf_fill_t fills[WF_MAX_FILLS];

static size_t
match(const wf_order_t *x)
{
    memset(fills, 0, sizeof fills);
    return wf_book_match(book, x, &env, fills, WF_MAX_FILLS);
}

static size_t
match_v(wf_order_t x)
{
    return match(&x);
}

/* Number of fills of x against the book, which must be 0 or 1. */
static size_t
one(wf_order_t x)
{
    size_t n = match(&x);
    cr_assert_leq(n, 1);
    return n;
}

/* ---- one test per rule ---------------------------------------------------- */

Test(matcher, code_fit)
{
    rest(offer(1, 1, "900-249-08", 100, 1000));
    cr_assert_eq(one(demand(10, 2, "900-249-08", 10, 1000)), 1);
    cr_assert_eq(one(demand(10, 2, "HW08", 10, 1000)), 1);
    cr_assert_eq(one(demand(10, 2, "HW09", 10, 1000)), 0);
    cr_assert_eq(one(demand(10, 2, "900-214-08", 10, 1000)), 0);

    wf_book_remove(book, wf_book_find(book, 1));
    rest(demand(2, 2, "HW08", 100, 1000));
    cr_assert_eq(one(offer(10, 1, "900-249-08", 10, 1000)), 1);
    cr_assert_eq(one(offer(10, 1, "900-041-49", 10, 1000)), 0);
}

Test(matcher, sides_must_differ)
{
    /* An offer carrying stray patterns must still not match another offer. */
    wf_order_t a = offer(1, 1, "900-249-08", 10, 1000), b = offer(2, 2, "900-249-08", 10, 1000);
    a.npatterns = b.npatterns = 1;
    a.patterns[0] = b.patterns[0] = code("HW08");
    double km, score;
    int64_t fee;
    cr_assert_not(wf_match_eligible(&a, &b, &env, &km, &fee, &score));
    wf_order_t d = demand(3, 2, "HW08", 10, 1000);
    cr_assert(wf_match_eligible(&a, &d, &env, &km, &fee, &score));
    cr_assert_not(wf_match_eligible(&d, &d, &env, &km, &fee, &score));
}

Test(matcher, expiry_of_either_side)
{
    wf_order_t *y = rest(offer(1, 1, "SW07", 100, 0));
    wf_order_t x = demand(10, 2, "SW07", 10, 0);
    y->expires = NOW + 1;
    x.expires = NOW + 1;
    cr_assert_eq(one(x), 1);
    y->expires = NOW; /* expires <= now is dead */
    cr_assert_eq(one(x), 0);
    y->expires = 0;
    cr_assert_eq(one(x), 1);
    x.expires = NOW;
    cr_assert_eq(one(x), 0);
    x.expires = NOW - 5;
    cr_assert_eq(one(x), 0);
}

Test(matcher, resting_remaining)
{
    wf_order_t y = offer(1, 1, "SW07", 100, 0), x = demand(10, 2, "SW07", 10, 0);
    double km, score;
    int64_t fee;
    cr_assert(wf_match_eligible(&x, &y, &env, &km, &fee, &score));
    y.remaining = 0;
    cr_assert_not(wf_match_eligible(&x, &y, &env, &km, &fee, &score));
}

Test(matcher, no_self_match)
{
    rest(offer(1, 1, "SW07", 100, 0));
    cr_assert_eq(one(demand(10, 1, "SW07", 10, 0)), 0);
    cr_assert_eq(one(demand(10, 2, "SW07", 10, 0)), 1);
}

Test(matcher, blocked_either_side)
{
    rest(offer(1, 1, "SW07", 100, 0));
    wf_order_t x = demand(10, 2, "SW07", 10, 0);
    cr_assert_eq(one(x), 1);
    parties[1].blocked = true;
    cr_assert_eq(one(x), 0);
    parties[1].blocked = false;
    parties[2].blocked = true;
    cr_assert_eq(one(x), 0);
}

Test(matcher, distance_against_each_radius)
{
    wf_order_t *y = rest(offer(1, 1, "SW07", 100, 0));
    wf_order_t x = demand(10, 2, "SW07", 10, 0);
    x.lat = LAT + 0.1;
    double d = wf_geo_km(LAT, LON, x.lat, x.lon); /* 11.12 km */
    y->max_km = x.max_km = d + 0.001;
    cr_assert_eq(one(x), 1);
    cr_assert_float_eq(fills[0].km, d, 1e-9);
    y->max_km = d - 0.001;
    cr_assert_eq(one(x), 0);
    y->max_km = d + 0.001;
    x.max_km = d - 0.001;
    cr_assert_eq(one(x), 0);
    x.max_km = d; /* "within" includes the boundary */
    y->max_km = d;
    cr_assert_eq(one(x), 1);
}

Test(matcher, credit_minimum_each_way)
{
    wf_order_t *y = rest(offer(1, 1, "SW07", 100, 0));
    wf_order_t x = demand(10, 2, "SW07", 10, 0);
    parties[1].credit = 70;
    parties[2].credit = 90;
    y->min_credit = 90;
    x.min_credit = 70;
    cr_assert_eq(one(x), 1);
    y->min_credit = 91; /* the incoming firm is not good enough for y */
    cr_assert_eq(one(x), 0);
    y->min_credit = 90;
    x.min_credit = 71; /* the resting firm is not good enough for x */
    cr_assert_eq(one(x), 0);
}

Test(matcher, price_and_eco_fee)
{
    rest(offer(1, 1, "SW07", 100, 1000));
    cr_assert_eq(one(demand(10, 2, "SW07", 10, 999)), 0);
    cr_assert_eq(one(demand(10, 2, "SW07", 10, 1000)), 1);
    cr_assert_eq(fills[0].price, 1000);
    cr_assert_eq(fills[0].fee, 0);

    rules.eco_fee = 50;
    cr_assert_eq(one(demand(10, 2, "SW07", 10, 1000)), 1); /* same county: no fee */
    cr_assert_eq(fills[0].fee, 0);
    parties[2].county = KEQIAO;
    cr_assert_eq(one(demand(10, 2, "SW07", 10, 1049)), 0);
    cr_assert_eq(one(demand(10, 2, "SW07", 10, 1050)), 1);
    cr_assert_eq(fills[0].fee, 50);
    cr_assert_eq(fills[0].price, 1000);

    /* Negative prices: the producer pays up to 300, the consumer charges 200. */
    wf_book_remove(book, wf_book_find(book, 1));
    rest(offer(2, 1, "SW07", 100, -300));
    cr_assert_eq(one(demand(10, 2, "SW07", 10, -250)), 1);
    cr_assert_eq(one(demand(10, 2, "SW07", 10, -249)), 1);
    cr_assert_eq(one(demand(10, 2, "SW07", 10, -251)), 0);
}

Test(matcher, price_on_the_demand_resting)
{
    rest(demand(1, 2, "SW07", 100, 1000));
    cr_assert_eq(one(offer(10, 1, "SW07", 10, 1001)), 0);
    cr_assert_eq(one(offer(10, 1, "SW07", 10, 1000)), 1);
    cr_assert_eq(fills[0].price, 1000);
}

Test(matcher, licence_allowance)
{
    rest(offer(1, 1, "900-249-08", 100, 0));
    wf_order_t x = demand(10, 2, "HW08", 100, 0);
    allow[2] = 0;
    cr_assert_eq(one(x), 0);
    cr_assert_gt(allowance_calls, 0);
    double km, score;
    int64_t fee;
    cr_assert_not(wf_match_eligible(&x, wf_book_find(book, 1), &env, &km, &fee, &score));
    allow[2] = 1;
    cr_assert(wf_match_eligible(&x, wf_book_find(book, 1), &env, &km, &fee, &score));
    allow[2] = 30; /* licence capacity left limits the fill */
    cr_assert_eq(one(x), 1);
    cr_assert_eq(fills[0].qty, 30);
    allow[2] = INT64_MAX; /* a lane */
    cr_assert_eq(one(x), 1);
    cr_assert_eq(fills[0].qty, 100);
    env.allowance = NULL; /* rule not applied */
    allow[2] = 0;
    cr_assert_eq(one(x), 1);
    cr_assert_eq(fills[0].qty, 100);
}

Test(matcher, licence_not_asked_for_general_waste)
{
    rest(offer(1, 1, "SW07", 100, 0));
    allow[2] = 0;
    cr_assert_eq(one(demand(10, 2, "SW07", 100, 0)), 1);
    cr_assert_eq(fills[0].qty, 100);
    cr_assert_eq(allowance_calls, 0);
}

Test(matcher, licence_capacity_shared_within_a_plan)
{
    rest(offer(1, 1, "900-249-08", 60, 0));
    rest(offer(2, 3, "900-249-08", 60, 0));
    rest(offer(3, 4, "900-249-08", 60, 0));
    wf_order_t x = demand(10, 2, "900-249-08", 200, 0);
    allow[2] = 80;
    size_t n = match(&x);
    cr_assert_eq(n, 2);
    cr_assert_eq(fills[0].qty, 60);
    cr_assert_eq(fills[1].qty, 20);

    /* Incoming offer: each consumer's capacity is its own. */
    wf_book_remove(book, wf_book_find(book, 1));
    wf_book_remove(book, wf_book_find(book, 2));
    wf_book_remove(book, wf_book_find(book, 3));
    rest(demand(4, 2, "HW08", 100, 0));
    rest(demand(5, 2, "900-249-08", 100, 0));
    rest(demand(6, 5, "HW08", 100, 0));
    allow[2] = 50;
    allow[5] = 70;
    wf_order_t o = offer(11, 1, "900-249-08", 500, 0);
    n = match(&o);
    cr_assert_eq(n, 2);
    cr_assert_eq(fills[0].resting->id, 4);
    cr_assert_eq(fills[0].qty, 50);
    cr_assert_eq(fills[1].resting->id, 6); /* firm 2's second demand has no capacity left */
    cr_assert_eq(fills[1].qty, 70);
}

Test(matcher, county_rule)
{
    rest(offer(1, 1, "SW07", 100, 0));
    wf_order_t x = demand(10, 2, "SW07", 10, 0);
    parties[2].county = KEQIAO;
    cr_assert_eq(one(x), 1);
    rules.county_rule = true;
    cr_assert_eq(one(x), 0);
    parties[2].county = SHAOXING;
    cr_assert_eq(one(x), 1);

    /* Hazardous waste is not held to its county. */
    rest(offer(2, 1, "900-249-08", 100, 0));
    parties[2].county = KEQIAO;
    cr_assert_eq(one(demand(10, 2, "HW08", 10, 0)), 1);
}

Test(matcher, city_rule)
{
    rest(offer(1, 1, "900-249-08", 100, 0));
    wf_order_t x = demand(10, 2, "HW08", 10, 0);
    parties[2].county = HANGZHOU;
    cr_assert_eq(one(x), 1);
    rules.city_rule = true;
    cr_assert_eq(one(x), 0);
    parties[2].county = KEQIAO; /* same city, another county */
    cr_assert_eq(one(x), 1);

    /* General waste is not held to its city by this rule. */
    rest(offer(2, 1, "SW07", 100, 0));
    parties[2].county = HANGZHOU;
    cr_assert_eq(one(demand(10, 2, "SW07", 10, 0)), 1);
}

Test(matcher, min_fill_both_sides)
{
    wf_order_t *y = rest(offer(1, 1, "SW07", 50, 0));
    wf_order_t x = demand(10, 2, "SW07", 100, 0);
    x.min_fill = 50;
    cr_assert_eq(one(x), 1);
    cr_assert_eq(fills[0].qty, 50);
    x.min_fill = 51; /* y has only 50 */
    cr_assert_eq(one(x), 0);
    x.min_fill = 1;
    x.remaining = 40;
    y->min_fill = 40;
    cr_assert_eq(one(x), 1);
    y->min_fill = 41; /* x wants only 40 */
    cr_assert_eq(one(x), 0);
}

Test(matcher, min_fill_passes_over_to_the_next)
{
    parties[1].credit = 100;
    rest(offer(1, 1, "SW07", 100, 0))->min_fill = 150; /* ranks first, cannot be filled */
    rest(offer(2, 3, "SW07", 100, 0));
    size_t n = match_v(demand(10, 2, "SW07", 100, 0));
    cr_assert_eq(n, 1);
    cr_assert_eq(fills[0].resting->id, 2);
}

Test(matcher, target)
{
    parties[3].credit = 100;
    rest(offer(1, 1, "SW07", 100, 0));
    rest(offer(2, 3, "SW07", 100, 0)); /* ranks first */
    wf_order_t x = demand(10, 2, "SW07", 500, 0);
    cr_assert_eq(match(&x), 2);
    cr_assert_eq(fills[0].resting->id, 2);
    x.target = 1;
    cr_assert_eq(match(&x), 1);
    cr_assert_eq(fills[0].resting->id, 1);
    cr_assert_eq(fills[0].qty, 100);
    x.target = 99; /* no such offer: nothing, no fallback */
    cr_assert_eq(match(&x), 0);
    x.target = 1;
    parties[1].blocked = true; /* target ineligible: nothing, no fallback */
    cr_assert_eq(match(&x), 0);
    parties[1].blocked = false;
    x.patterns[0] = code("SW09"); /* the target must still fit */
    cr_assert_eq(match(&x), 0);
}

/* ---- ranking -------------------------------------------------------------- */

static double
expected_score(int32_t credit, double km, double surplus)
{
    return rules.w_credit * credit / 100.0 - rules.w_distance * km / 100.0 +
           rules.w_price * surplus / 100000.0;
}

Test(matcher, defaults)
{
    wf_rules_t r = wf_rules_default();
    cr_assert_float_eq(r.w_credit, 0.4, 1e-15);
    cr_assert_float_eq(r.w_distance, 0.4, 1e-15);
    cr_assert_float_eq(r.w_price, 0.2, 1e-15);
    cr_assert_not(r.county_rule);
    cr_assert_not(r.city_rule);
    cr_assert_eq(r.eco_fee, 0);
}

Test(matcher, rank_by_credit)
{
    parties[1].credit = 70;
    parties[3].credit = 90;
    rest(offer(1, 1, "SW07", 100, 0));
    rest(offer(2, 3, "SW07", 100, 0));
    wf_order_t x = demand(10, 2, "SW07", 200, 0);
    cr_assert_eq(match(&x), 2);
    cr_assert_eq(fills[0].resting->id, 2);
    cr_assert_float_eq(fills[0].score, expected_score(90, 0, 0), 1e-12);
    cr_assert_float_eq(fills[1].score, expected_score(70, 0, 0), 1e-12);
    rules.w_credit = 0;
    cr_assert_eq(match(&x), 2);
    cr_assert_eq(fills[0].resting->id, 1);
}

Test(matcher, rank_by_distance)
{
    wf_order_t far = offer(1, 1, "SW07", 100, 0), near = offer(2, 3, "SW07", 100, 0);
    far.lat = LAT + 0.2;
    near.lat = LAT + 0.1;
    rest(far);
    rest(near);
    wf_order_t x = demand(10, 2, "SW07", 200, 0);
    cr_assert_eq(match(&x), 2);
    cr_assert_eq(fills[0].resting->id, 2);
    double d = wf_geo_km(LAT, LON, near.lat, LON);
    cr_assert_float_eq(fills[0].km, d, 1e-9);
    cr_assert_float_eq(fills[0].score, expected_score(80, d, 0), 1e-12);
    rules.w_distance = 0;
    cr_assert_eq(match(&x), 2);
    cr_assert_eq(fills[0].resting->id, 1);
}

Test(matcher, rank_by_price)
{
    rest(offer(1, 1, "SW07", 100, 900));
    rest(offer(2, 3, "SW07", 100, 500)); /* cheaper: larger surplus */
    wf_order_t x = demand(10, 2, "SW07", 200, 1000);
    cr_assert_eq(match(&x), 2);
    cr_assert_eq(fills[0].resting->id, 2);
    cr_assert_eq(fills[0].price, 500);
    cr_assert_float_eq(fills[0].score, expected_score(80, 0, 500), 1e-12);
    cr_assert_float_eq(fills[1].score, expected_score(80, 0, 100), 1e-12);
    rules.w_price = 0;
    cr_assert_eq(match(&x), 2);
    cr_assert_eq(fills[0].resting->id, 1);

    /* The fee counts against the surplus. */
    rules.w_price = 0.2;
    rules.eco_fee = 30;
    parties[2].county = KEQIAO;
    cr_assert_eq(match(&x), 2);
    cr_assert_float_eq(fills[0].score, expected_score(80, 0, 470), 1e-12);
}

Test(matcher, score_combines_weights)
{
    rules = (wf_rules_t){.w_credit = 0.5, .w_distance = 2.0, .w_price = 1.0};
    parties[1].credit = 60;
    wf_order_t y = offer(1, 1, "SW07", 100, 200);
    y.lon = LON + 0.05;
    rest(y);
    wf_order_t x = demand(10, 2, "SW07", 10, 5200);
    cr_assert_eq(match(&x), 1);
    double d = wf_geo_km(LAT, LON, LAT, LON + 0.05);
    cr_assert_float_eq(fills[0].score, 0.5 * 0.6 - 2.0 * d / 100 + 1.0 * 5000 / 100000.0, 1e-12);
}

Test(matcher, ties_by_lower_id)
{
    rest(offer(7, 1, "SW07", 10, 0));
    rest(offer(3, 3, "SW07", 10, 0));
    rest(offer(5, 4, "SW07", 10, 0));
    wf_order_t x = demand(10, 2, "SW07", 100, 0);
    cr_assert_eq(match(&x), 3);
    cr_assert_eq(fills[0].resting->id, 3);
    cr_assert_eq(fills[1].resting->id, 5);
    cr_assert_eq(fills[2].resting->id, 7);
}

Test(matcher, rank_resting_demands)
{
    parties[2].credit = 60;
    parties[3].credit = 95;
    rest(demand(1, 2, "HW08", 100, 0));
    rest(demand(2, 3, "900-249-08", 100, 0));
    wf_order_t x = offer(10, 1, "900-249-08", 150, 0);
    cr_assert_eq(match(&x), 2);
    cr_assert_eq(fills[0].resting->id, 2);
    cr_assert_eq(fills[0].qty, 100);
    cr_assert_eq(fills[1].resting->id, 1);
    cr_assert_eq(fills[1].qty, 50);
}

/* ---- filling -------------------------------------------------------------- */

Test(matcher, greedy_fill_then_apply)
{
    rest(offer(1, 1, "SW07", 100, 0));
    rest(offer(2, 3, "SW07", 100, 0));
    rest(offer(3, 4, "SW07", 100, 0));
    wf_order_t x = demand(10, 2, "SW07", 250, 0);
    size_t n = match(&x);
    cr_assert_eq(n, 3);
    cr_assert_eq(fills[0].qty, 100);
    cr_assert_eq(fills[1].qty, 100);
    cr_assert_eq(fills[2].qty, 50);
    cr_assert_eq(fills[2].resting->id, 3);
    /* Planning changed nothing. */
    cr_assert_eq(wf_book_count(book), 3);
    cr_assert_eq(wf_book_find(book, 3)->remaining, 100);

    for (size_t i = 0; i < n; i++)
        cr_assert_eq(wf_book_fill(book, fills[i].resting, fills[i].qty), i < 2);
    cr_assert_eq(wf_book_count(book), 1);
    cr_assert_null(wf_book_find(book, 1));
    cr_assert_eq(wf_book_find(book, 3)->remaining, 50);
    cr_assert_eq(one(demand(11, 2, "SW07", 10, 0)), 1);
    cr_assert_eq(fills[0].resting->id, 3);
}

Test(matcher, stops_when_filled)
{
    rest(offer(1, 1, "SW07", 100, 0));
    rest(offer(2, 3, "SW07", 100, 0));
    wf_order_t x = demand(10, 2, "SW07", 100, 0);
    cr_assert_eq(match(&x), 1);
    cr_assert_eq(fills[0].qty, 100);
}

Test(matcher, cap)
{
    for (uint64_t i = 1; i <= 5; i++)
        rest(offer(i, (uint32_t)i, "SW07", 10, 0));
    wf_order_t x = demand(10, 20, "SW07", 1000, 0);
    wf_fill_t out[2];
    cr_assert_eq(wf_book_match(book, &x, &env, out, 2), 2);
    cr_assert_eq(out[0].resting->id, 1);
    cr_assert_eq(out[1].resting->id, 2);
    cr_assert_eq(wf_book_match(book, &x, &env, out, 0), 0);
    cr_assert_eq(match(&x), 5);
}

Test(matcher, no_double_counting)
{
    /* A demand listed under two patterns that both cover the offer's code,
     * and an incoming demand whose patterns overlap, each see a counter-order
     * once. */
    wf_order_t d = demand(1, 2, "HW08", 100, 0);
    d.npatterns = 3;
    d.patterns[1] = code("900-249-08");
    d.patterns[2] = code("HW08");
    rest(d);
    wf_order_t o = offer(10, 1, "900-249-08", 500, 0);
    cr_assert_eq(match(&o), 1);
    cr_assert_eq(fills[0].qty, 100);

    wf_book_remove(book, wf_book_find(book, 1));
    rest(offer(2, 1, "900-249-08", 100, 0));
    wf_order_t x = demand(11, 2, "900-249-08", 500, 0);
    x.npatterns = 3;
    x.patterns[1] = code("HW08");
    x.patterns[2] = code("900-249-08");
    cr_assert_eq(match(&x), 1);
    cr_assert_eq(fills[0].qty, 100);
}

Test(matcher, demand_with_several_patterns)
{
    rest(offer(1, 1, "900-249-08", 10, 0));
    rest(offer(2, 1, "900-041-49", 10, 0));
    rest(offer(3, 1, "SW07", 10, 0));
    rest(offer(4, 1, "CON01", 10, 0));
    wf_order_t x = demand(10, 2, "HW08", 100, 0);
    x.npatterns = 3;
    x.patterns[1] = code("SW07");
    x.patterns[2] = code("CON");
    cr_assert_eq(match(&x), 3);
    cr_assert_eq(fills[0].resting->id, 1);
    cr_assert_eq(fills[1].resting->id, 3);
    cr_assert_eq(fills[2].resting->id, 4);
}

/* ---- the book ------------------------------------------------------------- */

static bool
collect(void *arg, const wf_order_t *o)
{
    uint64_t **p = arg;
    *(*p)++ = o->id;
    return true;
}

static bool
first_two(void *arg, const wf_order_t *o)
{
    int *n = arg;
    (void)o;
    return ++*n < 2;
}

Test(matcher, book_basics)
{
    cr_assert_eq(wf_book_count(book), 0);
    wf_order_t in = offer(5, 1, "SW07", 100, 0);
    wf_order_t *o = rest(in);
    cr_assert_neq(o, &in);
    cr_assert_eq(o->id, 5);
    cr_assert_eq(wf_book_find(book, 5), o);
    cr_assert_null(wf_book_find(book, 6));
    rest(demand(2, 2, "HW08", 100, 0));
    rest(offer(9, 1, "SW07", 100, 0));
    cr_assert_eq(wf_book_count(book), 3);

    uint64_t ids[8], *p = ids;
    wf_book_each(book, collect, &p);
    cr_assert_eq(p - ids, 3);
    cr_assert_eq(ids[0], 2);
    cr_assert_eq(ids[1], 5);
    cr_assert_eq(ids[2], 9);
    int n = 0;
    wf_book_each(book, first_two, &n);
    cr_assert_eq(n, 2);

    cr_assert_not(wf_book_fill(book, o, 40));
    cr_assert_eq(o->remaining, 60);
    cr_assert(wf_book_fill(book, o, 60));
    cr_assert_null(wf_book_find(book, 5));
    wf_book_remove(book, wf_book_find(book, 2));
    cr_assert_eq(wf_book_count(book), 1);
}

Test(matcher, book_many_orders)
{
    /* Several pool chunks and hash resizes; remove every other order from the
     * middle of the per-code lists and check the indexes still agree. */
    enum { N = 5000 };
    for (uint64_t i = 1; i <= N; i++) {
        if (i % 2)
            rest(offer(i, (uint32_t)(i % 8) + 1, i % 3 ? "SW07" : "900-249-08", 10, 0));
        else
            rest(demand(i, (uint32_t)(i % 8) + 9, i % 3 ? "SW07" : "HW08", 10, 0));
    }
    cr_assert_eq(wf_book_count(book), N);
    for (uint64_t i = 1; i <= N; i += 4)
        wf_book_remove(book, wf_book_find(book, i));
    for (uint64_t i = 2; i <= N; i += 4)
        wf_book_fill(book, wf_book_find(book, i), 10);
    cr_assert_eq(wf_book_count(book), N / 2);
    /* One assertion per check, not per order: --full-stats reports each. */
    uint64_t wrong = 0;
    for (uint64_t i = 1; i <= N; i++)
        if ((wf_book_find(book, i) != NULL) != (i % 4 == 3 || i % 4 == 0))
            wrong = i;
    cr_assert_eq(wrong, 0, "id %lu", (unsigned long)wrong);

    /* Count what a broad demand and a broad offer reach against the book. */
    size_t want_offers = 0, want_demands = 0;
    for (uint64_t i = 3; i <= N; i += 4)
        want_offers += i % 3 != 0;
    for (uint64_t i = 4; i <= N; i += 4)
        want_demands += i % 3 != 0;
    wf_fill_t *out = malloc(N * sizeof *out);
    wf_order_t x = demand(N + 1, 31, "SW07", 1000000, 0);
    cr_assert_eq(wf_book_match(book, &x, &env, out, N), want_offers);
    wf_order_t y = offer(N + 2, 31, "SW07", 1000000, 0);
    cr_assert_eq(wf_book_match(book, &y, &env, out, N), want_demands);
    size_t unordered = 0;
    for (size_t i = 1; i < want_demands; i++)
        unordered += out[i - 1].resting->id >= out[i].resting->id;
    cr_assert_eq(unordered, 0);

    /* Freed slots are reused. */
    for (uint64_t i = N + 10; i < N + 10 + N / 2; i++)
        rest(offer(i, 1, "SW09", 10, 0));
    cr_assert_eq(wf_book_count(book), N);
    free(out);
}

Test(matcher, catalogue_extended_after_the_book)
{
    char path[] = "/tmp/wf_match_XXXXXX", err[256];
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    const char *text = "code\tparent\tclass\tunit\thazard\tname\n"
                       "ISW-07-01\tSW07\tindustrial\tkg\t-\t印染污泥\n";
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    rest(offer(1, 1, "SW07", 10, 0));
    cr_assert_eq(wf_catalogue_load(cat, path, err, sizeof err), WF_OK, "%s", err);
    unlink(path);
    rest(offer(2, 1, "ISW-07-01", 10, 0));
    cr_assert_eq(match_v(demand(10, 2, "SW07", 100, 0)), 2);
    cr_assert_eq(match_v(demand(10, 2, "ISW-07-01", 100, 0)), 1);
    rest(demand(3, 2, "SW07", 10, 0));
    cr_assert_eq(match_v(offer(11, 1, "ISW-07-01", 100, 0)), 1);
}

/* ---- the spatial index ---------------------------------------------------- */

/* A book deep enough to split and merge its trees many times, with crowds
 * on one point, the poles and the antimeridian: every match agrees with
 * the brute-force reference, and so does the book after removals. */
Test(matcher, index_agrees_with_reference)
{
    wf_refbook_t *ref = wf_refbook_new(cat);
    uint64_t s = 42;
    enum { N = 6000 };
    const char *codes[] = {"SW07", "900-249-08", "071-001-08"};
    for (uint64_t i = 1; i <= N; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t r = (uint32_t)(s >> 33);
        wf_order_t o = i % 2 ? offer(i, 1 + r % 30, codes[r % 3], 10 + r % 50, (int64_t)(r % 7) * 100)
                             : demand(i, 1 + r % 30, r % 5 ? codes[r % 3] : "HW08", 10 + r % 50,
                                      (int64_t)(r % 9) * 100);
        switch (r % 8) {
        case 0: break; /* the crowd at LAT, LON */
        case 1: o.lat = 90.0; o.lon = (double)(r % 360) - 180; break;
        case 2: o.lat = -30.0 + (r % 100) / 1000.0; o.lon = r % 2 ? 179.999 : -179.999; break;
        default:
            o.lat = LAT + ((double)(r % 2001) - 1000) / 2000.0;
            o.lon = LON + ((double)((r >> 11) % 2001) - 1000) / 2000.0;
        }
        o.max_km = r % 4 ? 5.0 + r % 120 : 20000;
        rest(o);
        wf_refbook_add(ref, &o);
    }
    for (uint64_t i = 3; i <= N; i += 3) { /* thin the trees: merges */
        wf_book_remove(book, wf_book_find(book, i));
        wf_refbook_remove(ref, wf_refbook_find(ref, i));
    }
    wf_fill_t a[WF_MAX_FILLS], b[WF_MAX_FILLS];
    size_t differ = 0, filled = 0;
    for (uint64_t k = 0; k < 400; k++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t r = (uint32_t)(s >> 33);
        wf_order_t x = k % 2 ? offer(N + 1 + k, 31, codes[r % 3], 1 + r % 400, (int64_t)(r % 7) * 100)
                             : demand(N + 1 + k, 31, r % 3 ? codes[r % 3] : "HW08", 1 + r % 400,
                                      (int64_t)(r % 9) * 100);
        x.lat = k % 5 == 0 ? 89.99 : LAT + ((double)(r % 1001) - 500) / 1000.0;
        x.lon = k % 7 == 0 ? -179.9 : LON;
        x.max_km = k % 3 ? 60 : 20000;
        x.min_fill = 1 + r % 30;
        size_t na = wf_book_match(book, &x, &env, a, WF_MAX_FILLS);
        size_t nb = wf_refbook_match(ref, &x, &env, b, WF_MAX_FILLS);
        filled += na > 0;
        if (na != nb) {
            differ++;
            continue;
        }
        for (size_t i = 0; i < na; i++)
            differ += a[i].resting->id != b[i].resting->id || a[i].qty != b[i].qty ||
                      a[i].score != b[i].score || a[i].km != b[i].km;
    }
    cr_assert_eq(differ, 0);
    cr_assert_gt(filled, 100);
    wf_refbook_destroy(&ref);
}

/* With env.use the caller keys capacity by licence: one licence over HW08
 * lets two different HW08 codes share its capacity inside one plan. Without
 * use, the matcher's own tally is per (consumer, code) and would let each
 * code take the full allowance. */
static int64_t hw08_left; /* one licence of consumer 2 over HW08 */

static int64_t
licence_left(void *ctx, uint32_t consumer, uint32_t producer, int32_t c, int64_t now)
{
    (void)ctx, (void)producer, (void)now;
    return consumer == 2 && wf_catalogue_covers(cat, code("HW08"), c) ? hw08_left : 0;
}

static void
licence_use(void *ctx, uint32_t consumer, uint32_t producer, int32_t c, int64_t qty, int64_t now)
{
    (void)ctx, (void)producer, (void)now;
    if (consumer != 2 || !wf_catalogue_covers(cat, code("HW08"), c) || qty <= 0 || qty > hw08_left)
        cr_assert_fail("use %u %d %lld (left %lld)", consumer, c, (long long)qty,
                       (long long)hw08_left);
    hw08_left -= qty;
}

Test(matcher, licence_capacity_shared_across_codes_with_use)
{
    wf_refbook_t *ref = wf_refbook_new(cat);
    wf_order_t a = offer(1, 1, "900-249-08", 60, 0), b = offer(2, 3, "900-217-08", 60, 0);
    rest(a);
    rest(b);
    wf_refbook_add(ref, &a);
    wf_refbook_add(ref, &b);
    env.allowance = licence_left;
    env.use = licence_use;
    wf_order_t x = demand(10, 2, "HW08", 200, 0);

    hw08_left = 80;
    size_t n = match(&x);
    cr_assert_eq(n, 2);
    cr_assert_eq(fills[0].qty + fills[1].qty, 80, "one licence: 80 in all, not 80 per code");
    cr_assert_eq(hw08_left, 0);

    wf_fill_t rf[WF_MAX_FILLS];
    hw08_left = 80;
    size_t rn = wf_refbook_match(ref, &x, &env, rf, WF_MAX_FILLS);
    cr_assert_eq(rn, n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(rf[i].resting->id, fills[i].resting->id);
        cr_assert_eq(rf[i].qty, fills[i].qty);
    }

    /* Without use the tally is per code: each code may take 80. */
    env.use = NULL;
    hw08_left = 80;
    n = match(&x);
    cr_assert_eq(n, 2);
    cr_assert_eq(fills[0].qty + fills[1].qty, 120);
    wf_refbook_destroy(&ref);
}
