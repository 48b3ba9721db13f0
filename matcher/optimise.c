/* The batch optimiser (see optimise.h): enumerates the eligible pairs once
 * (a latitude window keeps that near-linear), builds the flow network once
 * as a glp_graph and, when first needed, its LP; then solves round after
 * round, banning the pairs that break a minimum fill, until none does. A
 * ban only closes an arc (cap 0, column fixed at 0) and the LP keeps its
 * basis, so later rounds start from the previous optimum. */
#include "optimise.h"

#include <glpk.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "geo.h"
#include "wf_alloc.h"
#include "wf_error.h"

/* Degrees of latitude per km on the matcher's sphere: the great-circle
 * distance is at least R times the latitude difference in radians, so an
 * offer further than max_km of latitude away cannot be within max_km. */
#define KM_PER_DEG_LAT (WF_EARTH_KM * M_PI / 180.0)

/* Largest total quantity per side: GLPK's network codes count in int
 * (RELAX-IV takes data up to INT_MAX / 4). */
#define QTY_LIMIT ((int64_t)(INT_MAX / 4))

/* One eligible (offer, demand) pair: an arc of the network. */
typedef struct cand {
    size_t offer, demand;
    uint64_t oid, did; /* the orders' ids, for the canonical order */
    int64_t cap;       /* min(both remainings, allowance) */
    int64_t allowance; /* licence allowance; INT64_MAX when unlimited */
    int64_t min_fill;  /* the larger of the two minimum fills */
    double km, score;
    double cost;       /* integer per-unit cost for the goal */
    bool banned;       /* broke a minimum fill in an earlier round */
    int64_t qty;       /* the last solve's flow */
} cand_t;

/* GLPK graph payloads: doubles, read by offset. */
typedef struct vdata {
    double rhs;
} vdata_t;

typedef struct adata {
    double cap, cost, x;
} adata_t;

/* The network, built once per call and adjusted between rounds. */
typedef struct network {
    glp_graph *G;
    int s, t;          /* source and sink vertex (= LP row) numbers */
    glp_arc **arcs;    /* per candidate */
    int *col;          /* per candidate: its LP column */
    glp_arc *back;     /* sink -> source */
    int back_col;
    double back_cap;
    glp_prob *lp;      /* NULL until the LP is first needed */
    bool warm;         /* lp holds the previous round's optimal basis */
} network_t;

#define V_RHS ((int)offsetof(vdata_t, rhs))
#define A_CAP ((int)offsetof(adata_t, cap))
#define A_COST ((int)offsetof(adata_t, cost))
#define A_X ((int)offsetof(adata_t, x))

typedef struct problem {
    const wf_order_t *offers, *demands;
    size_t noffers, ndemands;
    const wf_match_env_t *env;
    wf_opt_params_t params;
    cand_t *cands;
    size_t ncands, capcands;
    network_t net;
    bool limit_hit;    /* a bound stopped a solve */
} problem_t;

/* Offers keyed by latitude, for the window scan. */
typedef struct by_lat {
    double lat;
    size_t offer;
} by_lat_t;

static int
cmp_by_lat(const void *x, const void *y)
{
    const by_lat_t *a = x, *b = y;
    if (a->lat != b->lat)
        return a->lat < b->lat ? -1 : 1;
    return (a->offer > b->offer) - (a->offer < b->offer);
}

static int64_t
min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static void
cand_push(problem_t *p, const cand_t *c)
{
    if (p->ncands == p->capcands) {
        p->capcands = p->capcands ? p->capcands * 2 : 256;
        p->cands = wf_realloc(p->cands, p->capcands * sizeof(*p->cands));
    }
    p->cands[p->ncands++] = *c;
}

/* Judges one pair and, when it can carry a fill, appends it. */
static void
consider(problem_t *p, size_t oi, size_t di)
{
    const wf_order_t *o = &p->offers[oi], *d = &p->demands[di];
    const wf_match_env_t *env = p->env;
    double km, score;
    int64_t fee;

    if (o->remaining <= 0 || (d->target != 0 && d->target != o->id))
        return;
    if (!wf_match_eligible(d, o, env, &km, &fee, &score))
        return;
    cand_t c = {.offer = oi, .demand = di, .oid = o->id, .did = d->id, .km = km,
                .score = score, .allowance = INT64_MAX};
    c.cap = min64(o->remaining, d->remaining);
    if (env->allowance && o->code >= 0 && wf_catalogue_get(env->cat, o->code)->hazardous) {
        c.allowance = env->allowance(env->ctx, d->firm, o->firm, o->code, env->now);
        c.cap = min64(c.cap, c.allowance);
    }
    c.min_fill = o->min_fill > d->min_fill ? o->min_fill : d->min_fill;
    if (c.min_fill < 1)
        c.min_fill = 1;
    if (c.cap < c.min_fill)
        return;
    if (p->params.goal == WF_OPT_MAX_SCORE) {
        c.cost = -(double)llround(score * WF_OPT_SCORE_SCALE);
        if (c.cost >= 0) /* cannot raise the total: leave it out */
            return;
    } else {
        c.cost = (double)llround(km * WF_OPT_KM_SCALE);
    }
    cand_push(p, &c);
}

/* All eligible pairs, in (demand, offer-by-latitude) order. The latitude
 * window bounds the work to the offers that could be within the demand's
 * radius, instead of every offer for every demand. */
static void
enumerate(problem_t *p)
{
    by_lat_t *byl = wf_malloc((p->noffers ? p->noffers : 1) * sizeof(*byl));
    for (size_t i = 0; i < p->noffers; i++)
        byl[i] = (by_lat_t){.lat = p->offers[i].lat, .offer = i};
    qsort(byl, p->noffers, sizeof(*byl), cmp_by_lat);

    for (size_t di = 0; di < p->ndemands; di++) {
        const wf_order_t *d = &p->demands[di];
        if (d->remaining <= 0)
            continue;
        double lo = d->lat - d->max_km / KM_PER_DEG_LAT - 1e-9;
        double hi = d->lat + d->max_km / KM_PER_DEG_LAT + 1e-9;
        size_t a = 0, b = p->noffers;
        while (a < b) { /* first offer with lat >= lo */
            size_t m = a + (b - a) / 2;
            if (byl[m].lat < lo)
                a = m + 1;
            else
                b = m;
        }
        for (size_t k = a; k < p->noffers && byl[k].lat <= hi; k++)
            consider(p, byl[k].offer, di);
    }
    wf_free(byl);
}

/* Canonical candidate order: (offer id, demand id, then input indices),
 * so that the network, and with it the simplex's path, does not depend on
 * the order the caller listed the orders in. */
static int
cmp_cand(const void *x, const void *y)
{
    const cand_t *a = x, *b = y;
    if (a->oid != b->oid)
        return a->oid < b->oid ? -1 : 1;
    if (a->did != b->did)
        return a->did < b->did ? -1 : 1;
    if (a->offer != b->offer)
        return a->offer < b->offer ? -1 : 1;
    return (a->demand > b->demand) - (a->demand < b->demand);
}

/* Builds the network of every candidate: source -> offer -> demand ->
 * sink, plus the return arc sink -> source that turns it into a
 * circulation, so the solver chooses how much flows. For MAX_SCORE only
 * pairs of positive score have arcs, so it never sends flow at a loss; for
 * MIN_TONNE_KM the LP first maximises the return arc's flow, then fixes it
 * (the quantity limit caps it). */
static void
net_build(problem_t *p)
{
    network_t *n = &p->net;
    int *onode = wf_calloc(p->noffers ? p->noffers : 1, sizeof(int));
    int *dnode = wf_calloc(p->ndemands ? p->ndemands : 1, sizeof(int));
    int64_t sum_o = 0, sum_d = 0;

    n->G = glp_create_graph(sizeof(vdata_t), sizeof(adata_t));
    n->arcs = wf_calloc(p->ncands ? p->ncands : 1, sizeof(*n->arcs));
    n->col = wf_calloc(p->ncands ? p->ncands : 1, sizeof(*n->col));
    n->s = glp_add_vertices(n->G, 2);
    n->t = n->s + 1;
    for (size_t k = 0; k < p->ncands; k++) {
        const cand_t *c = &p->cands[k];
        if (!onode[c->offer]) {
            onode[c->offer] = glp_add_vertices(n->G, 1);
            glp_arc *a = glp_add_arc(n->G, n->s, onode[c->offer]);
            ((adata_t *)a->data)->cap = (double)p->offers[c->offer].remaining;
            sum_o += p->offers[c->offer].remaining;
        }
        if (!dnode[c->demand]) {
            dnode[c->demand] = glp_add_vertices(n->G, 1);
            glp_arc *a = glp_add_arc(n->G, dnode[c->demand], n->t);
            ((adata_t *)a->data)->cap = (double)p->demands[c->demand].remaining;
            sum_d += p->demands[c->demand].remaining;
        }
        n->arcs[k] = glp_add_arc(n->G, onode[c->offer], dnode[c->demand]);
        adata_t *ad = n->arcs[k]->data;
        ad->cap = (double)c->cap;
        ad->cost = c->cost;
    }
    if (p->ncands > 0) {
        int64_t cap = min64(sum_o, sum_d);
        if (p->params.goal == WF_OPT_MIN_TONNE_KM && p->params.qty_limit > 0)
            cap = min64(cap, p->params.qty_limit);
        n->back = glp_add_arc(n->G, n->t, n->s);
        n->back_cap = (double)cap;
        ((adata_t *)n->back->data)->cap = n->back_cap;
    }
    wf_free(onode);
    wf_free(dnode);
}

static void
net_fini(network_t *n)
{
    if (n->G)
        glp_delete_graph(n->G);
    if (n->lp)
        glp_delete_prob(n->lp);
    wf_free(n->arcs);
    wf_free(n->col);
    memset(n, 0, sizeof(*n));
}

/* The LP of the network (glp_mincost_lp: one row per vertex, one column
 * per arc in vertex-out order), with each candidate's column found. */
static void
lp_build(problem_t *p)
{
    network_t *n = &p->net;
    n->lp = glp_create_prob();
    glp_mincost_lp(n->lp, n->G, GLP_OFF, V_RHS, -1, A_CAP, A_COST);
    /* Columns follow the arcs in vertex-out order; tag each candidate's
     * arc with its column through the x slot, unused until a solve. */
    int j = 0;
    for (int i = 1; i <= n->G->nv; i++)
        for (glp_arc *a = n->G->v[i]->out; a; a = a->t_next)
            ((adata_t *)a->data)->x = (double)++j;
    for (size_t k = 0; k < p->ncands; k++)
        n->col[k] = (int)((adata_t *)n->arcs[k]->data)->x;
    n->back_col = (int)((adata_t *)n->back->data)->x;
}

/* The LP's objective: the pairs' costs, or (max_flow) -1 on the return arc
 * and nothing else. */
static void
lp_objective(problem_t *p, bool max_flow)
{
    network_t *n = &p->net;
    int ncols = glp_get_num_cols(n->lp);
    for (int j = 1; j <= ncols; j++)
        glp_set_obj_coef(n->lp, j, 0.0);
    if (max_flow)
        glp_set_obj_coef(n->lp, n->back_col, -1.0);
    else
        for (size_t k = 0; k < p->ncands; k++)
            glp_set_obj_coef(n->lp, n->col[k], p->cands[k].cost);
}

static int lp_run(problem_t *p);

/* Solves the LP from the previous round's basis: a banned pair or a smaller
 * flow only changes bounds, so the old optimum is a few pivots away. */
static int
lp_solve(problem_t *p)
{
    network_t *n = &p->net;
    if (!n->lp)
        lp_build(p);
    if (p->params.goal == WF_OPT_MIN_TONNE_KM) {
        /* Lexicographic in two LPs on one basis: the most flow through the
         * return arc, then that flow fixed and the cheapest routing. */
        glp_set_col_bnds(n->lp, n->back_col, GLP_DB, 0.0, n->back_cap);
        lp_objective(p, true);
        int rc = lp_run(p);
        if (rc != WF_OK)
            return rc;
        double f = (double)llround(glp_get_col_prim(n->lp, n->back_col));
        glp_set_col_bnds(n->lp, n->back_col, GLP_FX, f, f);
        lp_objective(p, false);
    }
    int rc = lp_run(p);
    if (rc != WF_OK)
        return rc;
    for (size_t k = 0; k < p->ncands; k++)
        p->cands[k].qty = p->cands[k].banned ? 0 : llround(glp_get_col_prim(n->lp, n->col[k]));
    return WF_OK;
}

static int
lp_run(problem_t *p)
{
    network_t *n = &p->net;
    glp_smcp parm;
    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    if (p->params.it_lim > 0)
        parm.it_lim = p->params.it_lim;
    if (p->params.tm_lim_ms > 0)
        parm.tm_lim = p->params.tm_lim_ms;
    int rc = glp_simplex(n->lp, &parm);
    if (rc == GLP_EITLIM || rc == GLP_ETMLIM) {
        /* Stopped by a bound: the circulation's zero flow is feasible and
         * the primal simplex keeps feasibility once it has it, so the last
         * basis is a usable (integral, not optimal) plan when feasible. */
        p->limit_hit = true;
        return glp_get_prim_stat(n->lp) == GLP_FEAS ? WF_OK : WF_E_LIMIT;
    }
    if (rc != 0 || glp_get_status(n->lp) != GLP_OPT) {
        /* A warm basis gone singular: once more from the standard one. */
        glp_std_basis(n->lp);
        rc = glp_simplex(n->lp, &parm);
    }
    if (rc != 0 || glp_get_status(n->lp) != GLP_OPT)
        return WF_E_INTERNAL;
    return WF_OK;
}

/* Solves the min-cost flow with the rhs and caps set. The out-of-kilter
 * code is a cross-check: on data beyond its ints it hands over to the LP. */
static int
solve_mincost(problem_t *p, const char **used)
{
    network_t *n = &p->net;
    if (p->params.solver == WF_OPT_SOLVER_OKALG) {
        double sol;
        int rc = glp_mincost_okalg(n->G, V_RHS, -1, A_CAP, A_COST, &sol, A_X, -1);
        if (rc == 0) {
            for (size_t k = 0; k < p->ncands; k++)
                p->cands[k].qty = llround(((adata_t *)n->arcs[k]->data)->x);
            *used = "okalg";
            return WF_OK;
        }
        if (rc != GLP_EDATA && rc != GLP_ERANGE)
            return WF_E_INTERNAL;
    }
    *used = "simplex";
    return lp_solve(p);
}

/* Bans a candidate in both representations of the network. */
static void
net_ban(problem_t *p, size_t k)
{
    p->cands[k].banned = true;
    ((adata_t *)p->net.arcs[k]->data)->cap = 0;
    if (p->net.lp)
        glp_set_col_bnds(p->net.lp, p->net.col[k], GLP_FX, 0.0, 0.0);
}

/* One round: the network with the banned pairs closed, solved for the
 * goal; sets every candidate's qty. */
static int
solve_round(problem_t *p, const char **used)
{
    network_t *n = &p->net;
    for (size_t k = 0; k < p->ncands; k++)
        p->cands[k].qty = 0;
    if (p->ncands == 0)
        return WF_OK;
    if (p->params.goal == WF_OPT_MAX_SCORE)
        return solve_mincost(p, used);
    if (p->params.solver != WF_OPT_SOLVER_OKALG) {
        *used = "simplex";
        return lp_solve(p);
    }

    /* Out-of-kilter, lexicographic: the most quantity first
     * (Ford-Fulkerson, return arc closed), then the cheapest flow of
     * exactly that much. */
    ((adata_t *)n->back->data)->cap = 0;
    double flow = 0;
    if (glp_maxflow_ffalg(n->G, n->s, n->t, A_CAP, &flow, A_X, -1) != 0)
        return WF_E_INTERNAL;
    int64_t f = llround(flow);
    if (p->params.qty_limit > 0)
        f = min64(f, p->params.qty_limit);
    if (f == 0)
        return WF_OK;
    ((vdata_t *)n->G->v[n->s]->data)->rhs = (double)f;
    ((vdata_t *)n->G->v[n->t]->data)->rhs = -(double)f;
    int rc = glp_mincost_okalg(n->G, V_RHS, -1, A_CAP, A_COST, NULL, A_X, -1);
    if (rc == GLP_EDATA || rc == GLP_ERANGE) {
        /* Over its ints: the LP's circulation form, which has no rhs. */
        ((vdata_t *)n->G->v[n->s]->data)->rhs = 0;
        ((vdata_t *)n->G->v[n->t]->data)->rhs = 0;
        *used = "simplex";
        return lp_solve(p);
    }
    if (rc != 0)
        return WF_E_INTERNAL;
    for (size_t k = 0; k < p->ncands; k++)
        p->cands[k].qty = llround(((adata_t *)n->arcs[k]->data)->x);
    *used = "okalg";
    return WF_OK;
}

/* A flowing pair under a finite allowance, keyed for grouping by
 * (consumer firm, code) and, within a group, worst pair first: the lowest
 * score, or the longest distance, then the higher ids. */
typedef struct trim_key {
    uint32_t firm;
    int32_t code;
    double badness;
    size_t offer, demand;
    cand_t *cand;
} trim_key_t;

static int
cmp_trim(const void *x, const void *y)
{
    const trim_key_t *a = x, *b = y;
    if (a->firm != b->firm)
        return a->firm < b->firm ? -1 : 1;
    if (a->code != b->code)
        return a->code < b->code ? -1 : 1;
    if (a->badness != b->badness)
        return a->badness > b->badness ? -1 : 1;
    if (a->cand->oid != b->cand->oid)
        return a->cand->oid > b->cand->oid ? -1 : 1;
    if (a->cand->did != b->cand->did)
        return a->cand->did > b->cand->did ? -1 : 1;
    if (a->offer != b->offer)
        return a->offer > b->offer ? -1 : 1;
    return (a->demand < b->demand) - (a->demand > b->demand);
}

/* Enforces each (consumer firm, code) allowance on the round's flows, worst
 * pair first. Returns the quantity trimmed. */
static int64_t
trim_allowances(problem_t *p)
{
    size_t n = 0;
    trim_key_t *keys = wf_malloc((p->ncands ? p->ncands : 1) * sizeof(*keys));
    for (size_t k = 0; k < p->ncands; k++) {
        cand_t *c = &p->cands[k];
        if (c->qty <= 0 || c->allowance == INT64_MAX)
            continue;
        keys[n++] = (trim_key_t){
            .firm = p->demands[c->demand].firm, .code = p->offers[c->offer].code,
            .badness = p->params.goal == WF_OPT_MAX_SCORE ? -c->score : c->km,
            .offer = c->offer, .demand = c->demand, .cand = c};
    }
    qsort(keys, n, sizeof(*keys), cmp_trim);

    int64_t trimmed = 0;
    for (size_t g = 0; g < n;) {
        size_t e = g;
        int64_t sum = 0, limit = INT64_MAX;
        while (e < n && keys[e].firm == keys[g].firm && keys[e].code == keys[g].code) {
            sum += keys[e].cand->qty;
            limit = min64(limit, keys[e].cand->allowance);
            e++;
        }
        for (size_t k = g; k < e && sum > limit; k++) {
            cand_t *c = keys[k].cand;
            int64_t cut = min64(c->qty, sum - limit);
            c->qty -= cut;
            sum -= cut;
            trimmed += cut;
        }
        g = e;
    }
    wf_free(keys);
    return trimmed;
}

/* The solver's flows respect every capacity: a guard against a numerical
 * failure in the LP, which works in floating point. */
static bool
flows_ok(const problem_t *p)
{
    int64_t *used_o = wf_calloc(p->noffers ? p->noffers : 1, sizeof(int64_t));
    int64_t *used_d = wf_calloc(p->ndemands ? p->ndemands : 1, sizeof(int64_t));
    bool ok = true;
    for (size_t k = 0; k < p->ncands && ok; k++) {
        const cand_t *c = &p->cands[k];
        ok = c->qty >= 0 && c->qty <= c->cap && (!c->banned || c->qty == 0);
        used_o[c->offer] += c->qty;
        used_d[c->demand] += c->qty;
    }
    for (size_t i = 0; i < p->noffers && ok; i++)
        ok = used_o[i] <= p->offers[i].remaining;
    for (size_t j = 0; j < p->ndemands && ok; j++)
        ok = used_d[j] <= p->demands[j].remaining;
    wf_free(used_o);
    wf_free(used_d);
    return ok;
}

static int
cmp_pair(const void *x, const void *y)
{
    const wf_opt_pair_t *a = x, *b = y;
    if (a->offer != b->offer)
        return a->offer < b->offer ? -1 : 1;
    return (a->demand > b->demand) - (a->demand < b->demand);
}

static void
fill_plan(const problem_t *p, wf_opt_plan_t *plan)
{
    size_t n = 0;
    for (size_t k = 0; k < p->ncands; k++)
        n += p->cands[k].qty > 0;
    plan->pairs = wf_calloc(n ? n : 1, sizeof(*plan->pairs));
    for (size_t k = 0; k < p->ncands; k++) {
        const cand_t *c = &p->cands[k];
        if (c->qty <= 0)
            continue;
        wf_opt_pair_t *pr = &plan->pairs[plan->npairs++];
        *pr = (wf_opt_pair_t){.offer = c->offer, .demand = c->demand, .qty = c->qty,
                              .km = c->km, .score = c->score};
        plan->matched_qty += c->qty;
        plan->tonne_km += (double)c->qty / 1000.0 * c->km;
        plan->total_score += (double)c->qty * c->score;
    }
    qsort(plan->pairs, plan->npairs, sizeof(*plan->pairs), cmp_pair);
}

static int
check_side(const wf_order_t *v, size_t n, wf_side_t side)
{
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].side != side || v[i].remaining < 0)
            return WF_E_FIELD;
        if (v[i].remaining > QTY_LIMIT)
            return WF_E_LIMIT;
        sum += v[i].remaining;
        if (sum > QTY_LIMIT)
            return WF_E_LIMIT;
    }
    return WF_OK;
}

int
wf_optimise_ex(const wf_order_t *offers, size_t noffers, const wf_order_t *demands,
               size_t ndemands, const wf_match_env_t *env, const wf_opt_params_t *params,
               wf_opt_plan_t *plan)
{
    memset(plan, 0, sizeof(*plan));
    plan->solver = "none";
    problem_t p = {.offers = offers, .demands = demands, .noffers = noffers,
                   .ndemands = ndemands, .env = env};
    if (params)
        p.params = *params;
    if (p.params.max_rounds == 0)
        p.params.max_rounds = WF_OPT_MAX_ROUNDS;
    if ((p.params.goal != WF_OPT_MAX_SCORE && p.params.goal != WF_OPT_MIN_TONNE_KM) ||
        (int)p.params.solver < 0 || p.params.solver > WF_OPT_SOLVER_SIMPLEX)
        return WF_E_FIELD;
    int ret = check_side(offers, noffers, WF_OFFER);
    if (ret == WF_OK)
        ret = check_side(demands, ndemands, WF_DEMAND);
    if (ret != WF_OK)
        return ret;

    enumerate(&p);
    if (p.ncands > 1)
        qsort(p.cands, p.ncands, sizeof(*p.cands), cmp_cand);
    plan->narcs = p.ncands;
    net_build(&p);
    for (;;) {
        ret = solve_round(&p, &plan->solver);
        if (ret == WF_OK && !flows_ok(&p))
            ret = WF_E_INTERNAL;
        if (ret != WF_OK)
            break;
        plan->rounds++;
        plan->allowance_trimmed += trim_allowances(&p);
        size_t bad = 0;
        for (size_t k = 0; k < p.ncands; k++) {
            cand_t *c = &p.cands[k];
            if (c->qty > 0 && c->qty < c->min_fill) {
                net_ban(&p, k);
                bad++;
            }
        }
        plan->min_fill_banned += bad;
        if (bad == 0)
            break;
        if (plan->rounds >= p.params.max_rounds) {
            /* Out of rounds: drop the violators; the rest stays feasible. */
            for (size_t k = 0; k < p.ncands; k++)
                if (p.cands[k].banned)
                    p.cands[k].qty = 0;
            break;
        }
    }
    plan->limit_hit = p.limit_hit;
    if (ret == WF_OK)
        fill_plan(&p, plan);
    net_fini(&p.net);
    wf_free(p.cands);
    return ret;
}

int
wf_optimise(const wf_order_t *offers, size_t noffers, const wf_order_t *demands,
            size_t ndemands, const wf_match_env_t *env, wf_opt_goal_t goal, wf_opt_plan_t *plan)
{
    wf_opt_params_t params = {.goal = goal};
    return wf_optimise_ex(offers, noffers, demands, ndemands, env, &params, plan);
}

void
wf_opt_plan_fini(wf_opt_plan_t *plan)
{
    if (!plan)
        return;
    wf_free(plan->pairs);
    memset(plan, 0, sizeof(*plan));
}
