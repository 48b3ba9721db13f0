/* The batch optimiser against brute force on small random books (both
 * goals, many seeds), and hand-made cases: distance preference, the
 * lexicographic goal, ineligible pairs, capacities, licence allowances,
 * minimum fill and bad input. */
#include <criterion/criterion.h>

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "matcher/catalogue.h"
#include "matcher/geo.h"
#include "matcher/optimise.h"
#include "wf_error.h"

#include "opt_brute.h"

#define NFIRMS 16

static wf_catalogue_t *cat;
static wf_rules_t rules;
static wf_party_t parties[NFIRMS];
static wf_match_env_t env;
static int32_t sw01, sw02, hw08, hw_oil; /* catalogue ids */

/* Licence allowance for the tests: per consumer firm, per code, the same
 * for every producer; INT64_MAX where allow[] is negative. */
static int64_t allow[NFIRMS];

static const wf_party_t *
party(void *ctx, uint32_t firm)
{
    (void)ctx;
    check(firm < NFIRMS);
    return &parties[firm];
}

static int64_t
allowance(void *ctx, uint32_t consumer, uint32_t producer, int32_t code, int64_t now)
{
    (void)ctx, (void)producer, (void)code, (void)now;
    return allow[consumer] < 0 ? INT64_MAX : allow[consumer];
}

static void
setup(void)
{
    char err[256];
    cat = wf_catalogue_new();
    cr_assert_eq(wf_catalogue_load(cat, WUFEI_CATALOGUE, err, sizeof err), WF_OK, "%s", err);
    sw01 = wf_catalogue_find(cat, "SW01");
    sw02 = wf_catalogue_find(cat, "SW02");
    hw08 = wf_catalogue_find(cat, "HW08");
    hw_oil = wf_catalogue_find(cat, "900-249-08");
    cr_assert(sw01 >= 0 && sw02 >= 0 && hw08 >= 0 && hw_oil >= 0);
    rules = wf_rules_default();
    for (int i = 0; i < NFIRMS; i++) {
        parties[i] = (wf_party_t){.credit = 80, .county = 330102};
        allow[i] = -1;
    }
    env = (wf_match_env_t){.cat = cat, .rules = &rules, .now = 1780243200000LL,
                           .party = party};
}

static void
teardown(void)
{
    wf_catalogue_destroy(&cat);
}

TestSuite(optimise, .init = setup, .fini = teardown);

/* Hangzhou; 0.1 degree of latitude is about 11.1 km. */
#define LAT0 30.27
#define LON0 120.15

static wf_order_t
offer(uint64_t id, uint32_t firm, int32_t code, int64_t qty, double dlat, double max_km)
{
    return (wf_order_t){.id = id, .side = WF_OFFER, .firm = firm, .code = code, .qty = qty,
                        .remaining = qty, .price = 0, .min_fill = 1, .lat = LAT0 + dlat,
                        .lon = LON0, .max_km = max_km};
}

static wf_order_t
demand(uint64_t id, uint32_t firm, int32_t pattern, int64_t qty, double dlat, double max_km)
{
    return (wf_order_t){.id = id, .side = WF_DEMAND, .firm = firm, .code = -1,
                        .npatterns = 1, .patterns = {pattern}, .qty = qty, .remaining = qty,
                        .price = 1000, .min_fill = 1, .lat = LAT0 + dlat, .lon = LON0,
                        .max_km = max_km};
}

/* ---- checks shared by every case ---------------------------------------- */

/* The plan is feasible: eligible pairs, sides within their remaining,
 * minimum fills met, totals consistent, sorted. */
static void
check_feasible(const wf_order_t *o, size_t no, const wf_order_t *d, size_t nd,
               const wf_opt_plan_t *plan)
{
    int64_t used_o[64] = {0}, used_d[64] = {0}, sum = 0;
    double tkm = 0, score = 0;
    check(no <= 64 && nd <= 64);
    for (size_t k = 0; k < plan->npairs; k++) {
        const wf_opt_pair_t *p = &plan->pairs[k];
        check(p->offer < no && p->demand < nd && p->qty > 0);
        if (k > 0) {
            const wf_opt_pair_t *q = &plan->pairs[k - 1];
            check(q->offer < p->offer || (q->offer == p->offer && q->demand < p->demand),
                      "pairs sorted and unique");
        }
        double km, sc;
        int64_t fee;
        check(wf_match_eligible(&d[p->demand], &o[p->offer], &env, &km, &fee, &sc),
                  "pair %zu-%zu is eligible", p->offer, p->demand);
        check(fabs(km - p->km) <= 1e-9 && fabs(sc - p->score) <= 1e-12);
        check(p->qty >= o[p->offer].min_fill && p->qty >= d[p->demand].min_fill,
              "pair %zu-%zu meets both minimum fills", p->offer, p->demand);
        used_o[p->offer] += p->qty;
        used_d[p->demand] += p->qty;
        sum += p->qty;
        tkm += (double)p->qty / 1000.0 * p->km;
        score += (double)p->qty * p->score;
    }
    for (size_t i = 0; i < no; i++)
        check(used_o[i] <= o[i].remaining, "offer %zu within its remaining", i);
    for (size_t j = 0; j < nd; j++)
        check(used_d[j] <= d[j].remaining, "demand %zu within its remaining", j);
    check(plan->matched_qty == sum);
    check(fabs(plan->tonne_km - tkm) <= 1e-9 * (1 + tkm));
    check(fabs(plan->total_score - score) <= 1e-9 * (1 + fabs(score)));
}

static int64_t
int_score(const wf_opt_plan_t *plan)
{
    int64_t s = 0;
    for (size_t k = 0; k < plan->npairs; k++)
        s += plan->pairs[k].qty * llround(plan->pairs[k].score * WF_OPT_SCORE_SCALE);
    return s;
}

static int64_t
int_metres(const wf_opt_plan_t *plan)
{
    int64_t s = 0;
    for (size_t k = 0; k < plan->npairs; k++)
        s += plan->pairs[k].qty * llround(plan->pairs[k].km * WF_OPT_KM_SCALE);
    return s;
}

/* xorshift64*: a small deterministic generator for the random books. */
static uint64_t
rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static int64_t
rnd_in(uint64_t *s, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(rnd(s) % (uint64_t)(hi - lo + 1));
}

/* A random small book: firms may coincide (ineligible), radii may not
 * reach, prices may not cross, codes may not fit, credits vary. */
static void
random_book(uint64_t seed, wf_order_t *o, size_t no, wf_order_t *d, size_t nd, int64_t maxq,
            bool min_fills)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (int f = 0; f < NFIRMS; f++)
        parties[f].credit = (int32_t)rnd_in(&s, 40, 100);
    int32_t codes[] = {sw01, sw02};
    for (size_t i = 0; i < no; i++) {
        o[i] = offer(100 + i, (uint32_t)rnd_in(&s, 0, 5), codes[rnd_in(&s, 0, 1)],
                     rnd_in(&s, 1, maxq), (double)rnd_in(&s, -30, 30) / 100.0,
                     (double)rnd_in(&s, 20, 90));
        o[i].lon += (double)rnd_in(&s, -30, 30) / 100.0;
        o[i].price = rnd_in(&s, -50000, 30000);
        o[i].min_credit = rnd_in(&s, 0, 3) == 0 ? 70 : 0;
        if (min_fills)
            o[i].min_fill = rnd_in(&s, 1, 3);
    }
    for (size_t j = 0; j < nd; j++) {
        int32_t pat = rnd_in(&s, 0, 4) == 0 ? codes[1] : codes[0];
        d[j] = demand(200 + j, (uint32_t)rnd_in(&s, 3, 8), pat, rnd_in(&s, 1, maxq),
                      (double)rnd_in(&s, -30, 30) / 100.0, (double)rnd_in(&s, 20, 90));
        d[j].lon += (double)rnd_in(&s, -30, 30) / 100.0;
        if (rnd_in(&s, 0, 2) == 0) { /* two patterns: both codes */
            d[j].npatterns = 2;
            d[j].patterns[1] = codes[1];
        }
        d[j].price = rnd_in(&s, -30000, 90000);
        d[j].min_credit = rnd_in(&s, 0, 3) == 0 ? 70 : 0;
        if (min_fills)
            d[j].min_fill = rnd_in(&s, 1, 3);
    }
}

static const size_t shapes[][2] = {{3, 3}, {2, 4}, {4, 2}, {1, 5}, {3, 2}};

/* Both solvers: the LP (the default) and the out-of-kilter cross-check. */
static const wf_opt_solver_t solvers[] = {WF_OPT_SOLVER_AUTO, WF_OPT_SOLVER_OKALG};

Test(optimise, max_score_matches_brute_force)
{
    size_t nonzero = 0;
    for (uint64_t seed = 1; seed <= 800; seed++) {
        size_t no = shapes[seed % 5][0], nd = shapes[seed % 5][1];
        wf_order_t o[8], d[8];
        random_book(seed / 2, o, no, d, nd, 5, false);
        brute_t b = brute(&env, o, no, d, nd, false);
        wf_opt_plan_t plan;
        wf_opt_params_t params = {.goal = WF_OPT_MAX_SCORE, .solver = solvers[seed % 2]};
        check(wf_optimise_ex(o, no, d, nd, &env, &params, &plan) == WF_OK);
        check(strcmp(plan.solver, plan.narcs == 0 ? "none" : seed % 2 ? "okalg" : "simplex") == 0);
        check_feasible(o, no, d, nd, &plan);
        check(int_score(&plan) == b.best_score, "seed %llu: optimiser %lld, brute %lld",
                     (unsigned long long)seed, (long long)int_score(&plan),
                     (long long)b.best_score);
        /* The true (unrounded) total is within the rounding of the scale. */
        check(plan.total_score * WF_OPT_SCORE_SCALE >=
              (double)b.best_score - 0.5 * (double)plan.matched_qty - 1e-6);
        check(plan.rounds == 1);
        nonzero += plan.npairs > 0;
        wf_opt_plan_fini(&plan);
    }
    cr_assert_gt(nonzero, 200, "the random books are not trivially empty (%zu)", nonzero);
}

/* Price surpluses of 10^11 fen make per-unit costs beyond int: the
 * out-of-kilter code refuses them and the LP solves the same network. The
 * LP handles such costs exactly (they are integers below 2^53). */
Test(optimise, huge_costs_fall_back_to_the_lp)
{
    size_t simplex = 0;
    for (uint64_t seed = 1; seed <= 100; seed++) {
        size_t no = shapes[seed % 5][0], nd = shapes[seed % 5][1];
        wf_order_t o[8], d[8];
        random_book(seed + 4242, o, no, d, nd, 5, false);
        for (size_t j = 0; j < nd; j++)
            d[j].price += (int64_t)rnd_in(&(uint64_t){seed + j + 1}, 0, 3) * 100000000000LL;
        brute_t b = brute(&env, o, no, d, nd, false);
        wf_opt_plan_t plan;
        wf_opt_params_t params = {.goal = WF_OPT_MAX_SCORE, .solver = WF_OPT_SOLVER_OKALG};
        check(wf_optimise_ex(o, no, d, nd, &env, &params, &plan) == WF_OK);
        check_feasible(o, no, d, nd, &plan);
        check(int_score(&plan) == b.best_score, "seed %llu", (unsigned long long)seed);
        simplex += strcmp(plan.solver, "simplex") == 0;
        wf_opt_plan_fini(&plan);
    }
    cr_assert_gt(simplex, 20, "the LP path ran (%zu)", simplex);
}

Test(optimise, min_tonne_km_matches_brute_force)
{
    size_t nonzero = 0, choice = 0;
    for (uint64_t seed = 1; seed <= 800; seed++) {
        size_t no = shapes[seed % 5][0], nd = shapes[seed % 5][1];
        wf_order_t o[8], d[8];
        random_book(seed / 2 + 7777, o, no, d, nd, 5, false);
        brute_t b = brute(&env, o, no, d, nd, false);
        wf_opt_plan_t plan;
        wf_opt_params_t params = {.goal = WF_OPT_MIN_TONNE_KM, .solver = solvers[seed % 2]};
        check(wf_optimise_ex(o, no, d, nd, &env, &params, &plan) == WF_OK);
        check_feasible(o, no, d, nd, &plan);
        check(plan.matched_qty == b.max_qty, "seed %llu: max quantity",
                     (unsigned long long)seed);
        check(int_metres(&plan) == b.min_metres, "seed %llu: optimiser %lld, brute %lld",
                     (unsigned long long)seed, (long long)int_metres(&plan),
                     (long long)b.min_metres);
        nonzero += plan.npairs > 1;
        choice += plan.narcs > plan.npairs;
        wf_opt_plan_fini(&plan);
    }
    cr_assert_gt(nonzero, 120, "the random books are not trivially small (%zu)", nonzero);
    cr_assert_gt(choice, 200, "the solver often has a choice to make (%zu)", choice);
}

/* With a quantity limit: exactly min(limit, max) moved, at the least
 * tonne-km for that quantity (the bench's comparison at equal quantity). */
Test(optimise, quantity_limit_matches_brute_force)
{
    for (uint64_t seed = 1; seed <= 600; seed++) {
        size_t no = shapes[seed % 5][0], nd = shapes[seed % 5][1];
        wf_order_t o[8], d[8];
        random_book(seed / 2 + 999, o, no, d, nd, 5, false);
        brute_t b = brute(&env, o, no, d, nd, false);
        if (b.max_qty <= 0)
            continue;
        int64_t limit = rnd_in(&(uint64_t){seed * 77 + 1}, 1, b.max_qty + 2);
        int64_t want = limit < b.max_qty ? limit : b.max_qty;
        wf_opt_plan_t plan;
        wf_opt_params_t params = {.goal = WF_OPT_MIN_TONNE_KM, .qty_limit = limit,
                                  .solver = solvers[seed % 2]};
        check(wf_optimise_ex(o, no, d, nd, &env, &params, &plan) == WF_OK);
        check_feasible(o, no, d, nd, &plan);
        check(plan.matched_qty == want, "seed %llu", (unsigned long long)seed);
        check(int_metres(&plan) == b.metres_at[want], "seed %llu: %lld vs %lld",
                     (unsigned long long)seed, (long long)int_metres(&plan),
                     (long long)b.metres_at[want]);
        wf_opt_plan_fini(&plan);
    }
}

/* With minimum fills the optimiser is a heuristic around an exact flow: its
 * plan is feasible, no better than the exact optimum under min fill, and
 * never above the optimum without it. */
Test(optimise, min_fill_plans_are_feasible_and_bounded)
{
    size_t below = 0;
    for (uint64_t seed = 1; seed <= 300; seed++) {
        size_t no = shapes[seed % 5][0], nd = shapes[seed % 5][1];
        wf_order_t o[8], d[8];
        random_book(seed + 31337, o, no, d, nd, 5, true);
        brute_t exact = brute(&env, o, no, d, nd, true);
        brute_t relaxed = brute(&env, o, no, d, nd, false);
        for (int goal = 0; goal < 2; goal++) {
            wf_opt_plan_t plan;
            check(wf_optimise(o, no, d, nd, &env, (wf_opt_goal_t)goal, &plan) == WF_OK);
            check_feasible(o, no, d, nd, &plan);
            if (goal == WF_OPT_MAX_SCORE) {
                check(int_score(&plan) <= exact.best_score);
                below += int_score(&plan) < exact.best_score;
            } else {
                check(plan.matched_qty <= exact.max_qty);
                check(exact.max_qty <= relaxed.max_qty);
            }
            check(plan.rounds <= WF_OPT_MAX_ROUNDS);
            wf_opt_plan_fini(&plan);
        }
    }
    cr_log_info("min fill: %zu of 300 score plans below the exact optimum", below);
}

/* ---- hand-made cases ----------------------------------------------------- */

Test(optimise, one_offer_goes_to_the_nearer_demand)
{
    wf_order_t o[] = {offer(1, 1, sw01, 10000, 0, 100)};
    wf_order_t d[] = {demand(2, 2, sw01, 10000, 0.5, 100),  /* ~55.6 km */
                      demand(3, 3, sw01, 10000, -0.1, 100)}; /* ~11.1 km */
    for (int goal = 0; goal < 2; goal++) {
        wf_opt_plan_t plan;
        cr_assert_eq(wf_optimise(o, 1, d, 2, &env, (wf_opt_goal_t)goal, &plan), WF_OK);
        check_feasible(o, 1, d, 2, &plan);
        cr_assert_eq(plan.npairs, 1);
        cr_assert_eq(plan.pairs[0].demand, 1);
        cr_assert_eq(plan.pairs[0].qty, 10000);
        cr_assert_float_eq(plan.tonne_km, 10.0 * 0.1 * WF_EARTH_KM * M_PI / 180.0, 1e-6);
        wf_opt_plan_fini(&plan);
    }
}

/* Nearest-first would send O1 to D1 and strand O2; the lexicographic goal
 * moves both at the cost of a longer trip, and with a quantity limit of one
 * offer it takes the shortest trip. */
Test(optimise, quantity_first_then_tonne_km)
{
    wf_order_t o[] = {offer(1, 1, sw01, 10000, 0, 100), offer(2, 2, sw01, 10000, 0.1, 30)};
    wf_order_t d[] = {demand(3, 3, sw01, 10000, 0.01, 100), /* near O1, ~10 km from O2 */
                      demand(4, 4, sw01, 10000, -0.5, 100)}; /* ~56 km from O1, far from O2 */
    wf_opt_plan_t plan;
    cr_assert_eq(wf_optimise(o, 2, d, 2, &env, WF_OPT_MIN_TONNE_KM, &plan), WF_OK);
    check_feasible(o, 2, d, 2, &plan);
    cr_assert_eq(plan.matched_qty, 20000);
    cr_assert_eq(plan.npairs, 2);
    cr_assert_eq(plan.pairs[0].offer, 0);
    cr_assert_eq(plan.pairs[0].demand, 1);
    cr_assert_eq(plan.pairs[1].offer, 1);
    cr_assert_eq(plan.pairs[1].demand, 0);
    wf_opt_plan_fini(&plan);

    wf_opt_params_t params = {.goal = WF_OPT_MIN_TONNE_KM, .qty_limit = 10000};
    cr_assert_eq(wf_optimise_ex(o, 2, d, 2, &env, &params, &plan), WF_OK);
    check_feasible(o, 2, d, 2, &plan);
    cr_assert_eq(plan.matched_qty, 10000);
    cr_assert_eq(plan.npairs, 1);
    cr_assert_eq(plan.pairs[0].offer, 0);
    cr_assert_eq(plan.pairs[0].demand, 0);
    cr_assert_lt(plan.tonne_km, 10.0 * 1.2);
    wf_opt_plan_fini(&plan);
}

Test(optimise, ineligible_pairs_are_never_assigned)
{
    parties[9].blocked = true;
    parties[10].credit = 50;
    wf_order_t o[] = {
        offer(1, 1, sw01, 1000, 0, 100),  /* same firm as demand 0 */
        offer(2, 2, sw02, 1000, 0, 100),  /* code demand 1 does not take */
        offer(3, 9, sw01, 1000, 0, 100),  /* blocked firm */
        offer(4, 10, sw01, 1000, 0, 100), /* credit below demand 3's minimum */
        offer(5, 5, sw01, 1000, 0.9, 100), /* ~100 km: beyond demand 4's radius */
        offer(6, 6, sw01, 1000, 0, 100),  /* price above every bid */
    };
    o[5].price = 5000;
    wf_order_t d[] = {demand(11, 1, sw01, 1000, 0, 100), demand(12, 3, sw01, 1000, 0, 100),
                      demand(13, 4, sw01, 1000, 0, 100), demand(14, 7, sw01, 1000, 0, 100),
                      demand(15, 8, sw01, 1000, 0.5, 20)};
    d[3].min_credit = 70;
    /* Each offer has exactly one demand it could have been sent to, and
     * that one is ruled out; every other demand is taken by nobody else. */
    wf_order_t oo[1], dd[1];
    size_t pick[][2] = {{0, 0}, {1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 2}};
    for (size_t c = 0; c < 6; c++) {
        oo[0] = o[pick[c][0]];
        dd[0] = d[pick[c][1]];
        for (int goal = 0; goal < 2; goal++) {
            wf_opt_plan_t plan;
            cr_assert_eq(wf_optimise(oo, 1, dd, 1, &env, (wf_opt_goal_t)goal, &plan), WF_OK);
            cr_assert_eq(plan.npairs, 0, "case %zu", c);
            cr_assert_eq(plan.narcs, 0, "case %zu", c);
            wf_opt_plan_fini(&plan);
        }
    }
    /* All at once: whatever is assigned is eligible. */
    for (int goal = 0; goal < 2; goal++) {
        wf_opt_plan_t plan;
        cr_assert_eq(wf_optimise(o, 6, d, 5, &env, (wf_opt_goal_t)goal, &plan), WF_OK);
        check_feasible(o, 6, d, 5, &plan);
        for (size_t k = 0; k < plan.npairs; k++)
            cr_assert_neq(plan.pairs[k].offer, 2, "the blocked firm's offer never moves");
        wf_opt_plan_fini(&plan);
    }
}

Test(optimise, negative_scores_are_left_out_of_max_score)
{
    parties[1].credit = 10; /* 0.04 credit vs 0.4 * 55.6 / 100 = 0.22 distance */
    wf_order_t o[] = {offer(1, 1, sw01, 1000, 0, 100)};
    wf_order_t d[] = {demand(2, 2, sw01, 1000, 0.5, 100)};
    d[0].price = 0;
    wf_opt_plan_t plan;
    cr_assert_eq(wf_optimise(o, 1, d, 1, &env, WF_OPT_MAX_SCORE, &plan), WF_OK);
    cr_assert_eq(plan.npairs, 0);
    wf_opt_plan_fini(&plan);
    cr_assert_eq(wf_optimise(o, 1, d, 1, &env, WF_OPT_MIN_TONNE_KM, &plan), WF_OK);
    cr_assert_eq(plan.matched_qty, 1000, "quantity first: the pair is eligible");
    cr_assert_lt(plan.total_score, 0);
    wf_opt_plan_fini(&plan);
}

Test(optimise, capacities_are_respected)
{
    wf_order_t o[] = {offer(1, 1, sw01, 5000, 0, 100), offer(2, 2, sw01, 7000, 0.05, 100)};
    wf_order_t d[] = {demand(3, 3, sw01, 4000, 0.02, 100), demand(4, 4, sw01, 10000, 0.2, 100),
                      demand(5, 5, sw01, 1500, -0.1, 100)};
    o[1].remaining = 6000; /* partly filled: remaining, not qty, is the capacity */
    for (int goal = 0; goal < 2; goal++) {
        wf_opt_plan_t plan;
        cr_assert_eq(wf_optimise(o, 2, d, 3, &env, (wf_opt_goal_t)goal, &plan), WF_OK);
        check_feasible(o, 2, d, 3, &plan);
        cr_assert_eq(plan.matched_qty, 11000, "every offer unit has a demand close enough");
        wf_opt_plan_fini(&plan);
    }
}

Test(optimise, targeted_demand_takes_only_its_offer)
{
    wf_order_t o[] = {offer(1, 1, sw01, 1000, 0, 100), offer(2, 2, sw01, 1000, 0.3, 100)};
    wf_order_t d[] = {demand(3, 3, sw01, 2000, 0, 100)};
    d[0].target = 2;
    wf_opt_plan_t plan;
    cr_assert_eq(wf_optimise(o, 2, d, 1, &env, WF_OPT_MIN_TONNE_KM, &plan), WF_OK);
    cr_assert_eq(plan.npairs, 1);
    cr_assert_eq(plan.pairs[0].offer, 1);
    wf_opt_plan_fini(&plan);
}

Test(optimise, licence_allowance_caps_pairs_and_consumers)
{
    env.allowance = allowance;
    allow[3] = 1500; /* consumer 3 may take 1500 more of the oil code */
    allow[4] = 0;    /* consumer 4 holds no licence */
    wf_order_t o[] = {offer(1, 1, hw_oil, 1000, 0, 100), offer(2, 2, hw_oil, 1000, 0.1, 100)};
    wf_order_t d[] = {demand(3, 3, hw08, 5000, 0.05, 100), demand(4, 4, hw08, 5000, 0, 100)};
    for (int goal = 0; goal < 2; goal++) {
        wf_opt_plan_t plan;
        cr_assert_eq(wf_optimise(o, 2, d, 2, &env, (wf_opt_goal_t)goal, &plan), WF_OK);
        check_feasible(o, 2, d, 2, &plan);
        cr_assert_eq(plan.matched_qty, 1500, "the allowance binds the consumer's total");
        for (size_t k = 0; k < plan.npairs; k++)
            cr_assert_eq(plan.pairs[k].demand, 0, "no licence, no pair");
        cr_assert_eq(plan.allowance_trimmed, 500);
        wf_opt_plan_fini(&plan);
    }
    /* A lane (unlimited) lifts the cap. */
    allow[3] = -1;
    wf_opt_plan_t plan;
    cr_assert_eq(wf_optimise(o, 2, d, 2, &env, WF_OPT_MIN_TONNE_KM, &plan), WF_OK);
    cr_assert_eq(plan.matched_qty, 2000);
    cr_assert_eq(plan.allowance_trimmed, 0);
    wf_opt_plan_fini(&plan);
}

/* O (10 t) can feed D1 (near) and D2 (far), 6 t each, minimum fill 5 t.
 * The flow sends 6 to D1 and 4 to D2; 4 breaks D2's minimum, so that pair
 * is banned and the network re-solved: 6 to D1 alone. (5 + 5 would have
 * moved all 10: the loop is a heuristic, as documented.) */
Test(optimise, min_fill_violators_are_banned_and_resolved)
{
    wf_order_t o[] = {offer(1, 1, sw01, 10000, 0, 100)};
    wf_order_t d[] = {demand(2, 2, sw01, 6000, 0.05, 100), demand(3, 3, sw01, 6000, 0.3, 100)};
    d[0].min_fill = d[1].min_fill = 5000;
    wf_opt_plan_t plan;
    cr_assert_eq(wf_optimise(o, 1, d, 2, &env, WF_OPT_MIN_TONNE_KM, &plan), WF_OK);
    check_feasible(o, 1, d, 2, &plan);
    cr_assert_eq(plan.rounds, 2);
    cr_assert_eq(plan.min_fill_banned, 1);
    cr_assert_eq(plan.npairs, 1);
    cr_assert_eq(plan.pairs[0].demand, 0);
    cr_assert_eq(plan.pairs[0].qty, 6000);
    wf_opt_plan_fini(&plan);

    /* One round only: the violator is dropped without a re-solve. */
    wf_opt_params_t params = {.goal = WF_OPT_MIN_TONNE_KM, .max_rounds = 1};
    cr_assert_eq(wf_optimise_ex(o, 1, d, 2, &env, &params, &plan), WF_OK);
    check_feasible(o, 1, d, 2, &plan);
    cr_assert_eq(plan.rounds, 1);
    cr_assert_eq(plan.matched_qty, 6000);
    wf_opt_plan_fini(&plan);

    /* A pair whose capacity is below the minimum never reaches the solver. */
    d[1].remaining = 4000;
    cr_assert_eq(wf_optimise(o, 1, d, 2, &env, WF_OPT_MIN_TONNE_KM, &plan), WF_OK);
    cr_assert_eq(plan.narcs, 1);
    cr_assert_eq(plan.rounds, 1);
    wf_opt_plan_fini(&plan);
}

Test(optimise, bad_input_and_empty_books)
{
    wf_order_t o[] = {offer(1, 1, sw01, 1000, 0, 100)};
    wf_order_t d[] = {demand(2, 2, sw01, 1000, 0, 100)};
    wf_opt_plan_t plan;
    cr_assert_eq(wf_optimise(NULL, 0, NULL, 0, &env, WF_OPT_MAX_SCORE, &plan), WF_OK);
    cr_assert_eq(plan.npairs, 0);
    cr_assert_eq(plan.matched_qty, 0);
    wf_opt_plan_fini(&plan);
    cr_assert_eq(wf_optimise(o, 1, NULL, 0, &env, WF_OPT_MIN_TONNE_KM, &plan), WF_OK);
    wf_opt_plan_fini(&plan);

    cr_assert_eq(wf_optimise(d, 1, o, 1, &env, WF_OPT_MAX_SCORE, &plan), WF_E_FIELD,
                 "sides swapped");
    wf_opt_plan_fini(&plan);
    o[0].remaining = -1;
    cr_assert_eq(wf_optimise(o, 1, d, 1, &env, WF_OPT_MAX_SCORE, &plan), WF_E_FIELD);
    wf_opt_plan_fini(&plan);
    o[0].remaining = (int64_t)INT_MAX;
    cr_assert_eq(wf_optimise(o, 1, d, 1, &env, WF_OPT_MAX_SCORE, &plan), WF_E_LIMIT);
    wf_opt_plan_fini(&plan);
    wf_opt_params_t params = {.goal = (wf_opt_goal_t)7};
    o[0].remaining = 1000;
    cr_assert_eq(wf_optimise_ex(o, 1, d, 1, &env, &params, &plan), WF_E_FIELD);
    wf_opt_plan_fini(&plan);
    params = (wf_opt_params_t){.solver = (wf_opt_solver_t)9};
    cr_assert_eq(wf_optimise_ex(o, 1, d, 1, &env, &params, &plan), WF_E_FIELD);
    wf_opt_plan_fini(&plan);
    cr_assert_eq(wf_optimise_ex(o, 1, d, 1, &env, NULL, &plan), WF_OK, "NULL params");
    cr_assert_eq(plan.matched_qty, 1000);
    wf_opt_plan_fini(&plan);
    wf_opt_plan_fini(NULL);
}

/* The plan depends on the orders, not on the order they are listed in:
 * the candidates are put in a canonical order before the network is
 * built. Many ties (equal distances and scores) make the optimum
 * non-unique, so a solver that followed the input order would differ. */
Test(optimise, plan_is_independent_of_the_input_order)
{
    wf_order_t o[6], d[6], ro[6], rd[6];
    for (size_t i = 0; i < 6; i++) {
        o[i] = offer(10 + i, (uint32_t)i, sw01, 3, (double)(i % 2) / 100.0, 50);
        d[i] = demand(20 + i, (uint32_t)(6 + i), sw01, 2, (double)(i % 3) / 100.0, 50);
    }
    static const size_t perm[6] = {3, 5, 0, 4, 1, 2};
    for (size_t i = 0; i < 6; i++) {
        ro[i] = o[perm[i]];
        rd[i] = d[5 - perm[i]];
    }
    for (int goal = 0; goal < 2; goal++) {
        wf_opt_plan_t a, b;
        cr_assert_eq(wf_optimise(o, 6, d, 6, &env, (wf_opt_goal_t)goal, &a), WF_OK);
        cr_assert_eq(wf_optimise(ro, 6, rd, 6, &env, (wf_opt_goal_t)goal, &b), WF_OK);
        cr_assert_eq(a.npairs, b.npairs);
        /* Compare by order ids: sort b's pairs by (offer id, demand id). */
        uint64_t ka[36], kb[36];
        for (size_t k = 0; k < a.npairs; k++) {
            ka[k] = o[a.pairs[k].offer].id * 1000 + d[a.pairs[k].demand].id * 10 +
                    (uint64_t)a.pairs[k].qty;
            kb[k] = ro[b.pairs[k].offer].id * 1000 + rd[b.pairs[k].demand].id * 10 +
                    (uint64_t)b.pairs[k].qty;
        }
        for (size_t k = 0; k < b.npairs; k++) /* insertion sort, tiny */
            for (size_t j = k; j > 0 && kb[j - 1] > kb[j]; j--) {
                uint64_t t = kb[j];
                kb[j] = kb[j - 1];
                kb[j - 1] = t;
            }
        for (size_t k = 0; k < a.npairs; k++)
            cr_assert_eq(ka[k], kb[k], "goal %d pair %zu: %llu vs %llu", goal, k,
                         (unsigned long long)ka[k], (unsigned long long)kb[k]);
        wf_opt_plan_fini(&a);
        wf_opt_plan_fini(&b);
    }
}

/* An iteration bound stops the simplex early: the plan is still feasible,
 * says so, and moves no more than the unbounded optimum. */
Test(optimise, iteration_bound_gives_a_feasible_plan_and_says_so)
{
    wf_order_t o[8], d[8];
    random_book(7, o, 8, d, 8, 50, false);
    wf_opt_plan_t full, cut;
    wf_opt_params_t p = {.goal = WF_OPT_MIN_TONNE_KM};
    cr_assert_eq(wf_optimise_ex(o, 8, d, 8, &env, &p, &full), WF_OK);
    cr_assert(!full.limit_hit);
    cr_assert_gt(full.npairs, 2, "the book has something to plan");
    p.it_lim = 1;
    int rc = wf_optimise_ex(o, 8, d, 8, &env, &p, &cut);
    cr_assert(rc == WF_OK || rc == WF_E_LIMIT);
    cr_assert(cut.limit_hit, "the bound was reported");
    if (rc == WF_OK) {
        check_feasible(o, 8, d, 8, &cut);
        cr_assert_leq(cut.matched_qty, full.matched_qty);
    }
    wf_opt_plan_fini(&full);
    wf_opt_plan_fini(&cut);
}
