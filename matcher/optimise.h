/* The batch optimiser: the best assignment of a set of resting offers to a
 * set of resting demands, as if they had all arrived at once. The live
 * engine matches continuously (DESIGN.md "Matching": each incoming order
 * fills greedily down its ranked list); this module is the yardstick that
 * continuous matching is measured against, and the building block of a
 * future call auction.
 *
 * The problem is a min-cost flow: source -> offer (cap = remaining) ->
 * demand (one arc per eligible pair, cap = min(both remainings, licence
 * allowance)) -> sink (cap = remaining), built as a glp_graph and solved
 * exactly by GLPK. The default solver is the LP of the network
 * (glp_mincost_lp + glp_simplex): a basic optimum of a network LP with
 * integral data is integral (the matrix is totally unimodular), and the LP
 * keeps its basis between the rounds of the minimum-fill loop. The
 * out-of-kilter code (glp_mincost_okalg) finds the same optimum and is kept
 * as a cross-check: it rescans every arc per augmentation and did not
 * finish a 5,000-order book in 10 minutes (bench/README.md, "quality"). (RELAX-IV, glp_mincost_relax4, would be faster,
 * but Debian's libglpk40 ships it disabled: calling it aborts.) Per-unit
 * costs must be integers, so scores and distances are scaled by the
 * factors below and rounded: the plan is optimal for the rounded costs, and
 * its own totals are recomputed from the unrounded values.
 *
 * MAX_SCORE is one circulation (a return arc sink -> source lets the solver
 * choose how much flows; only pairs with positive rounded score are arcs).
 * MIN_TONNE_KM is two solves: the maximum flow F (glp_maxflow_ffalg), then
 * the cheapest flow of exactly F in metres per kg.
 *
 * Three rules of the live matcher do not fit a pure flow and are handled
 * around it, so the plan is an upper bound / yardstick, not a promise:
 *  - Minimum fill. The network is solved without it; every assigned pair
 *    whose quantity is below either order's min_fill is then banned and
 *    the network re-solved, until no pair violates (at most max_rounds
 *    solves; violators left after the last round are dropped from the plan
 *    without re-solving). A pair whose capacity is below the minimum fill
 *    is never offered to the solver. The result satisfies min fill but is
 *    not guaranteed optimal under it (that problem is a MIP).
 *  - Licence allowance. env->allowance(consumer, producer, code) caps each
 *    pair. A licence's capacity is shared by all producers (and all codes
 *    it covers), which is a side constraint, not a flow: after each solve
 *    the pairs of one (consumer firm, offer code) whose allowance is finite
 *    are summed and, when the sum exceeds the smallest allowance seen in
 *    the group, trimmed worst pair first (lowest score, or longest
 *    distance). Sharing across different codes under one licence is not
 *    modelled; the engine's commit-time check stays the authority.
 *  - Time. Eligibility is evaluated once, at env->now.
 *
 * Determinism: the candidate pairs are put in a canonical order (offer id,
 * then demand id, then input index) before the network is built, and
 * GLPK's simplex is deterministic for identical input, so the plan depends
 * only on the orders and the env, not on the order the caller lists them
 * in; among several optimal plans the one the simplex reaches from that
 * canonical order is returned. The engine's call auctions rely on this to
 * replay a clearing exactly (with an iteration limit, never a time limit).
 *
 * Pure C apart from GLPK; not on the hot path (it allocates freely). */
#ifndef WF_OPTIMISE_H
#define WF_OPTIMISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "book.h"

/* Score units per 1.0 of rule score in the integer costs: 1e5 resolves
 * 0.01 km of distance, 0.025 credit points or 5 fen/t of price surplus
 * at the default weights. */
#define WF_OPT_SCORE_SCALE 100000.0
/* Cost units per km in the integer costs (metres). */
#define WF_OPT_KM_SCALE 1000.0
/* Default bound on solves in the minimum-fill loop. */
#define WF_OPT_MAX_ROUNDS 16

typedef enum wf_opt_goal {
    /* Maximise sum of qty * score over assigned pairs (pairs scoring 0 or
     * less are never assigned: they cannot raise the total). */
    WF_OPT_MAX_SCORE = 0,
    /* Lexicographic: the largest total quantity first, then the least
     * tonne-km (qty / 1000 * km) among plans moving that quantity. */
    WF_OPT_MIN_TONNE_KM = 1
} wf_opt_goal_t;

typedef enum wf_opt_solver {
    WF_OPT_SOLVER_AUTO = 0, /* the default: currently the LP */
    WF_OPT_SOLVER_OKALG,    /* out-of-kilter; the LP when costs exceed int */
    WF_OPT_SOLVER_SIMPLEX   /* the LP, warm-started between rounds */
} wf_opt_solver_t;

typedef struct wf_opt_params {
    wf_opt_goal_t goal;
    wf_opt_solver_t solver;
    /* WF_OPT_MIN_TONNE_KM only: move at most this quantity (0 = no limit),
     * to compare tonne-km at a given matched quantity. */
    int64_t qty_limit;
    /* Solves in the minimum-fill loop, >= 1; 0 = WF_OPT_MAX_ROUNDS. */
    unsigned max_rounds;
    /* Bounds on each LP solve (GLPK's it_lim and tm_lim); 0 = none. An
     * iteration limit keeps the plan deterministic; a time limit does
     * not (it depends on the machine's speed), so a plan that is applied
     * must not use one. When a bound stops a solve, the plan is the
     * solver's last feasible flow (feasible, not optimal) and limit_hit is
     * set. */
    int it_lim;
    int tm_lim_ms;
} wf_opt_params_t;

/* One assigned pair; offer and demand index the caller's input arrays. */
typedef struct wf_opt_pair {
    size_t offer, demand;
    int64_t qty;
    double km;
    double score; /* the rule's score, demand incoming, offer resting */
} wf_opt_pair_t;

typedef struct wf_opt_plan {
    wf_opt_pair_t *pairs; /* sorted by (offer, demand); owned by the plan */
    size_t npairs;
    int64_t matched_qty;  /* sum of pairs[].qty */
    double tonne_km;      /* sum of qty / 1000 * km */
    double total_score;   /* sum of qty * score */
    /* How the plan came about. */
    size_t narcs;             /* eligible pairs offered to the solver */
    unsigned rounds;          /* network solves (min-fill loop) */
    size_t min_fill_banned;   /* pairs banned or dropped for min fill */
    int64_t allowance_trimmed; /* quantity trimmed to licence allowances */
    const char *solver;       /* "okalg" or "simplex" (the last solve), or
                                 "none"; a static string */
    bool limit_hit;           /* it_lim or tm_lim stopped a solve */
} wf_opt_plan_t;

/* Computes the optimal plan for goal (see the file comment for what is
 * exact and what is not). offers must all be WF_OFFER and demands all
 * WF_DEMAND; their remaining quantities are the capacities, and they are
 * not modified. Each pair is judged by wf_match_eligible(demand, offer,
 * env); a demand with a target pairs only with that offer.
 *
 * plan is overwritten (call wf_opt_plan_fini() on it afterwards in every
 * case); the caller owns it and its pairs array.
 * Returns WF_OK; WF_E_FIELD when an order is on the wrong side or has a
 * negative remaining, or params are out of range; WF_E_LIMIT when the total
 * remaining on either side exceeds INT_MAX / 4 (about 537,000 t: GLPK's
 * network codes count in int); WF_E_INTERNAL when the solver fails (a
 * forced solver refusing the data included). */
int wf_optimise(const wf_order_t *offers, size_t noffers, const wf_order_t *demands,
                size_t ndemands, const wf_match_env_t *env, wf_opt_goal_t goal,
                wf_opt_plan_t *plan);

/* As wf_optimise, with params (NULL = WF_OPT_MAX_SCORE and defaults). */
int wf_optimise_ex(const wf_order_t *offers, size_t noffers, const wf_order_t *demands,
                   size_t ndemands, const wf_match_env_t *env, const wf_opt_params_t *params,
                   wf_opt_plan_t *plan);

/* Frees the plan's pairs and zeroes it; accepts a zeroed plan. */
void wf_opt_plan_fini(wf_opt_plan_t *plan);

#endif
