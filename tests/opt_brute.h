/* The exhaustive optimum of the batch optimiser's problem on tiny books,
 * shared by the optimiser's unit tests and the engine's optimize tests:
 * every integral assignment of at most 16 pairs is tried, with the
 * optimiser's integer costs (WF_OPT_SCORE_SCALE, WF_OPT_KM_SCALE), so the
 * optimiser's plan can be checked exactly. Header-only; include it after
 * criterion.h. */
#ifndef WF_OPT_BRUTE_H
#define WF_OPT_BRUTE_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "matcher/optimise.h"

/* Checks that run by the hundred thousand assert only when they fail:
 * Criterion's --full-stats (as ctest runs it) records every passing
 * assertion, which would dominate the run time. */
#define check(cond, ...)                                                                       \
    do {                                                                                       \
        if (!(cond))                                                                           \
            cr_assert(cond, ##__VA_ARGS__);                                                    \
    } while (0)

typedef struct brute {
    const wf_order_t *o, *d;
    size_t no, nd;
    int64_t cap[16], score[16], metres[16], minfill[16];
    int64_t left_o[8], left_d[8], x[16];
    /* results */
    int64_t best_score;             /* max sum x * int score */
    int64_t max_qty, min_metres;    /* lexicographic */
    int64_t metres_at[64];          /* least metres moving exactly q; -1 = impossible */
} brute_t;

static void
brute_rec(brute_t *b, size_t k, int64_t qty, int64_t sc, int64_t m)
{
    size_t n = b->no * b->nd;
    if (k == n) {
        if (sc > b->best_score)
            b->best_score = sc;
        check(qty < 64);
        if (b->metres_at[qty] < 0 || m < b->metres_at[qty])
            b->metres_at[qty] = m;
        if (qty > b->max_qty || (qty == b->max_qty && m < b->min_metres)) {
            b->max_qty = qty;
            b->min_metres = m;
        }
        return;
    }
    size_t i = k / b->nd, j = k % b->nd;
    int64_t hi = b->cap[k];
    if (hi > b->left_o[i])
        hi = b->left_o[i];
    if (hi > b->left_d[j])
        hi = b->left_d[j];
    for (int64_t q = 0; q <= hi; q++) {
        if (q > 0 && q < b->minfill[k])
            continue;
        b->left_o[i] -= q;
        b->left_d[j] -= q;
        brute_rec(b, k + 1, qty + q, sc + q * b->score[k], m + q * b->metres[k]);
        b->left_o[i] += q;
        b->left_d[j] += q;
    }
}

/* Exhaustive optimum over every integral assignment, with the optimiser's
 * integer costs; min fill is enforced exactly when enforce_min_fill. */
static __attribute__((unused)) brute_t
brute(const wf_match_env_t *env, const wf_order_t *o, size_t no, const wf_order_t *d, size_t nd,
      bool enforce_min_fill)
{
    brute_t b = {.o = o, .d = d, .no = no, .nd = nd, .best_score = 0, .max_qty = -1};
    check(no * nd <= 16 && no <= 8 && nd <= 8);
    for (size_t i = 0; i < no; i++)
        for (size_t j = 0; j < nd; j++) {
            size_t k = i * nd + j;
            double km, sc;
            int64_t fee;
            if (!wf_match_eligible(&d[j], &o[i], env, &km, &fee, &sc)) {
                b.cap[k] = 0;
                continue;
            }
            b.cap[k] = o[i].remaining < d[j].remaining ? o[i].remaining : d[j].remaining;
            b.score[k] = llround(sc * WF_OPT_SCORE_SCALE);
            b.metres[k] = llround(km * WF_OPT_KM_SCALE);
            int64_t mf = o[i].min_fill > d[j].min_fill ? o[i].min_fill : d[j].min_fill;
            b.minfill[k] = enforce_min_fill ? mf : 1;
        }
    for (size_t q = 0; q < 64; q++)
        b.metres_at[q] = -1;
    for (size_t i = 0; i < no; i++)
        b.left_o[i] = o[i].remaining;
    for (size_t j = 0; j < nd; j++)
        b.left_d[j] = d[j].remaining;
    brute_rec(&b, 0, 0, 0, 0);
    return b;
}

#endif
