/* optimize: the operator's view of the best assignment of the resting
 * offers to the resting demands (matcher/optimise.h) under the engine's
 * real rules (parties, credit, blacklist, regional rules, licences through
 * the env), with its tonne-km, its CO2 estimate (config co2_per_tkm) and
 * the gap to what continuous matching achieves on the same orders: those
 * orders are replayed in time (id) order through a scratch wf_book_t with
 * the live matching rule. Read-only unless `apply`, which writes the plan
 * as matches through the same writer as a call auction (auction.c).
 *
 * The work is bounded: at most WF_OPT_MAX_ORDERS orders per side (the
 * oldest), WF_OPT_IT_LIM simplex iterations per solve, and for a read-only
 * call WF_OPT_TM_LIM_MS per solve (never when applying: a plan that is
 * written must come out the same on replay). The reply says when a bound
 * was hit. */
#include "engine_int.h"

#include <stdio.h>
#include <string.h>

#include "wf_alloc.h"
#include "wf_error.h"

#define REPLY_PAIRS 500 /* pairs listed in a reply; the totals cover all */

/* ---- gathering the orders ---- */

typedef struct gather {
    wf_engine_t *e;
    MDB_txn *t;
    int32_t pats[WF_MAX_PATTERNS];
    size_t npats;
    int64_t now;
    wf_eplan_t *p;
    size_t capo, capd, left;
    int rc;
} gather_t;

static bool
concerns(const gather_t *g, const wf_order_t *o)
{
    if (g->npats == 0)
        return true;
    const wf_catalogue_t *cat = g->e->cat;
    for (size_t i = 0; i < g->npats; i++) {
        if (o->side == WF_OFFER) {
            if (wf_catalogue_covers(cat, g->pats[i], o->code))
                return true;
            continue;
        }
        for (unsigned k = 0; k < o->npatterns && k < WF_MAX_PATTERNS; k++)
            if (wf_catalogue_covers(cat, g->pats[i], o->patterns[k]) ||
                wf_catalogue_covers(cat, o->patterns[k], g->pats[i]))
                return true;
    }
    return false;
}

static bool
gather_one(void *arg, const wf_order_t *o)
{
    gather_t *g = arg;
    wf_eplan_t *p = g->p;
    if ((o->expires && o->expires <= g->now) || !concerns(g, o))
        return true;
    bool offer = o->side == WF_OFFER;
    size_t *n = offer ? &p->noffers : &p->ndemands;
    if (*n >= WF_OPT_MAX_ORDERS) {
        g->left++;
        return true;
    }
    wf_order_t c = *o;
    c.hnext = NULL;
    memset(c.pos, 0, sizeof c.pos);
    if (g->t) {
        wf_order_rec_t r;
        uint8_t key[8];
        wf_store__be64(key, o->id);
        g->rc = wf_store__get(g->t, g->e->store.orders, key, 8, &r, sizeof r);
        if (g->rc != WF_OK)
            return false;
        if (r.state != WF_ORDER_LIVE || r.remaining <= 0)
            return true;
        c.remaining = r.remaining;
    }
    wf_order_t **v = offer ? &p->offers : &p->demands;
    size_t *cap = offer ? &g->capo : &g->capd;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *v = wf_realloc(*v, *cap * sizeof **v);
    }
    (*v)[(*n)++] = c;
    return true;
}

int
wf_eplan__gather(wf_engine_t *e, MDB_txn *t, const char *const *codes, size_t ncodes,
                 int64_t now, wf_eplan_t *p, size_t *left_out)
{
    memset(p, 0, sizeof *p);
    gather_t g = {.e = e, .t = t, .now = now, .p = p, .rc = WF_OK};
    for (size_t i = 0; i < ncodes && i < WF_MAX_PATTERNS; i++) {
        g.pats[g.npats] = wf_catalogue_find(e->cat, codes[i]);
        if (g.pats[g.npats] < 0)
            return WF_E_CODE;
        g.npats++;
    }
    wf_book_each(e->book, gather_one, &g); /* every resting order once */
    if (g.rc != WF_OK) {
        wf_eplan__fini(p);
        return g.rc;
    }
    *left_out = g.left;
    return WF_OK;
}

/* ---- continuous matching of the same orders ---- */

static void
add_fill(wf_plan_totals_t *tot, const wf_order_t *x, const wf_fill_t *f,
         const wf_match_env_t *env)
{
    /* Scored as the optimiser scores a pair (demand incoming, offer
     * resting), so that the totals compare. */
    const wf_order_t *o = x->side == WF_OFFER ? x : f->resting;
    const wf_order_t *d = x->side == WF_OFFER ? f->resting : x;
    double km, score;
    int64_t fee;
    if (!wf_match_eligible(d, o, env, &km, &fee, &score))
        score = f->score, km = f->km;
    tot->qty += f->qty;
    tot->tonne_km += (double)f->qty / 1000.0 * km;
    tot->score += (double)f->qty * score;
}

/* Posts the orders of p one at a time in id order into an empty book with
 * the live rule, as if they had arrived in that order. */
static wf_plan_totals_t
simulate(wf_engine_t *e, const wf_eplan_t *p, const wf_match_env_t *env)
{
    wf_plan_totals_t tot = {0};
    wf_book_t *b = wf_book_new(e->cat);
    wf_fill_t *fills = wf_malloc(WF_MAX_FILLS * sizeof *fills);
    size_t i = 0, j = 0;
    while (i < p->noffers || j < p->ndemands) { /* each order once */
        bool take_offer = j == p->ndemands ||
                          (i < p->noffers && p->offers[i].id < p->demands[j].id);
        wf_order_t x = take_offer ? p->offers[i++] : p->demands[j++];
        size_t n = wf_book_match(b, &x, env, fills, WF_MAX_FILLS);
        for (size_t k = 0; k < n; k++) {
            add_fill(&tot, &x, &fills[k], env);
            x.remaining -= fills[k].qty;
            wf_book_fill(b, fills[k].resting, fills[k].qty);
        }
        if (x.remaining > 0 && !x.target)
            wf_book_add(b, &x);
    }
    wf_free(fills);
    wf_book_destroy(&b);
    return tot;
}

/* ---- the op ---- */

static wf_plan_totals_t
totals(const wf_opt_plan_t *pl, double co2)
{
    return (wf_plan_totals_t){.qty = pl->matched_qty, .tonne_km = pl->tonne_km,
                              .co2_kg = pl->tonne_km * co2, .score = pl->total_score};
}

static void
say_bound(wf_optimize_result_t *r)
{
    char *b = r->bound;
    size_t len = sizeof r->bound, at = 0;
    if (r->left_out)
        at += (size_t)snprintf(b + at, len - at, "%zu resting orders beyond the bound of %d per "
                               "side were left out (the oldest were taken). ", r->left_out,
                               WF_OPT_MAX_ORDERS);
    if (r->limit_hit && at < len)
        snprintf(b + at, len - at, "The solver's bound (%d iterations%s per solve) stopped it: "
                 "the plan is feasible, not proven optimal.", WF_OPT_IT_LIM,
                 r->applied ? "" : " or 5 s");
}

int
wf_op__optimize(wf_exec_t *x)
{
    wf_engine_t *e = x->e;
    const wf_cmd_optimize_t *c = &x->cmd->u.optimize;
    if (!(x->as->roles & WF_ROLE_OPERATOR))
        return wf_exec__fail(x, WF_E_AUTH, "optimize is for operators only");
    if (!wf_goal_name(c->goal))
        return wf_exec__fail(x, WF_E_FIELD, "goal must be \"score\" or \"tonne_km\"");
    const char *codes[WF_MAX_PATTERNS];
    size_t ncodes = 0;
    if (x->cmd->has & WF_HAS_CODES) {
        if (c->ncodes < 1 || c->ncodes > WF_MAX_PATTERNS)
            return wf_exec__fail(x, WF_E_FIELD, "codes must list 1..%d patterns", WF_MAX_PATTERNS);
        for (size_t i = 0; i < c->ncodes; i++) {
            if (!wf_str__ok(c->codes[i], WF_CODE_LEN) || !c->codes[i][0])
                return wf_exec__fail(x, WF_E_FIELD, "codes[%zu] must be a waste code string", i);
            if (wf_catalogue_find(e->cat, c->codes[i]) < 0)
                return wf_exec__fail(x, WF_E_CODE, "codes[%zu]: %s is not in the catalogue", i,
                                     c->codes[i]);
            codes[ncodes++] = c->codes[i];
        }
    }
    wf_optimize_result_t *r = wf_arena__alloc(&e->arena, sizeof *r);
    r->goal = c->goal;
    wf_eplan_t p;
    int rc = wf_eplan__gather(e, NULL, codes, ncodes, x->now, &p, &r->left_out);
    if (rc != WF_OK)
        return wf_exec__fail(x, rc, "cannot gather the resting orders");
    r->offers = p.noffers;
    r->demands = p.ndemands;
    wf_match_env_t env = wf_engine__env(e, x->now);
    env.batch_codes = NULL; /* call-auction orders are in the plan too */
    wf_licence__plan_clear(e); /* the allowance is the licences' capacity left */
    wf_opt_params_t params = {.goal = c->goal == WF_GOAL_TONNE_KM ? WF_OPT_MIN_TONNE_KM
                                                                  : WF_OPT_MAX_SCORE,
                              .it_lim = WF_OPT_IT_LIM,
                              .tm_lim_ms = c->apply ? 0 : WF_OPT_TM_LIM_MS};
    rc = wf_optimise_ex(p.offers, p.noffers, p.demands, p.ndemands, &env, &params, &p.plan);
    r->limit_hit = p.plan.limit_hit;
    if (rc == WF_E_LIMIT && !p.plan.limit_hit) {
        wf_eplan__fini(&p);
        return wf_exec__fail(x, WF_E_LIMIT, "the resting quantity is beyond the optimiser's "
                             "range; restrict it with codes");
    }
    if (rc != WF_OK && rc != WF_E_LIMIT) {
        wf_eplan__fini(&p);
        return wf_exec__fail(x, rc, "the optimiser failed");
    }
    double co2 = e->config.co2_per_tkm;
    r->plan = totals(&p.plan, co2);
    r->continuous = simulate(e, &p, &env);
    r->continuous.co2_kg = r->continuous.tonne_km * co2;
    if (c->goal == WF_GOAL_TONNE_KM) {
        /* The comparison at equal matched quantity: the optimum moving
         * exactly what continuous matching moved. */
        wf_opt_plan_t eq = {0};
        params.qty_limit = r->continuous.qty;
        if (r->continuous.qty > 0 &&
            wf_optimise_ex(p.offers, p.noffers, p.demands, p.ndemands, &env, &params, &eq) ==
                WF_OK) {
            r->equal = totals(&eq, co2);
            r->limit_hit = r->limit_hit || eq.limit_hit;
        }
        wf_opt_plan_fini(&eq);
        if (r->equal.tonne_km > 0)
            r->gap_pct = (r->continuous.tonne_km - r->equal.tonne_km) / r->equal.tonne_km * 100;
    } else if (r->plan.score > 0) {
        r->gap_pct = (r->plan.score - r->continuous.score) / r->plan.score * 100;
    }

    if (c->apply) {
        MDB_txn *child;
        rc = wf_exec__begin(x, &child);
        if (rc == WF_OK) {
            uint64_t next = e->next_match;
            rc = wf_eplan__write(x, child, &p, &next);
            if (rc == WF_OK)
                rc = wf_exec__journal(x, child);
            rc = wf_exec__end(x, child, rc);
        }
        if (rc != WF_OK) {
            wf_licence__plan_clear(e);
            wf_eplan__fini(&p);
            return rc;
        }
        wf_eplan__apply(e, &p, x->now);
        /* What was written: the licences may have cut a pair. */
        r->plan = (wf_plan_totals_t){0};
        for (size_t i = 0; i < p.nmatches; i++) {
            const wf_match_rec_t *m = &p.matches[i];
            r->plan.qty += m->qty;
            r->plan.tonne_km += (double)m->qty / 1000.0 * m->km;
            r->plan.score += (double)m->qty * m->score;
        }
        r->plan.co2_kg = r->plan.tonne_km * co2;
        for (size_t i = 0; i < p.nmsgs; i++)
            wf_stream__publish(e, &p.msgs[i]);
        e->journal_seq++;
        r->applied = true;
    }
    r->npairs = p.plan.npairs;
    r->nlisted = r->npairs < REPLY_PAIRS ? r->npairs : REPLY_PAIRS;
    wf_plan_pair_t *pairs = r->nlisted ? wf_arena__alloc(&e->arena, r->nlisted * sizeof *pairs)
                                       : NULL;
    for (size_t i = 0, j = 0; i < r->nlisted; i++) {
        const wf_opt_pair_t *pr = &p.plan.pairs[i];
        const wf_order_t *o = &p.offers[pr->offer];
        pairs[i] = (wf_plan_pair_t){.offer = o->id, .demand = p.demands[pr->demand].id,
                                    .qty = pr->qty, .km = pr->km, .score = pr->score};
        if (r->applied) { /* what was written: a licence may have cut or skipped it */
            pairs[i].match = p.match_ids[i];
            pairs[i].qty = p.match_ids[i] ? p.matches[j++].qty : 0;
        }
        snprintf(pairs[i].code, sizeof pairs[i].code, "%s", wf_catalogue_get(e->cat, o->code)->code);
    }
    r->pairs = pairs;
    say_bound(r);
    x->reply->optimize = r;
    wf_eplan__fini(&p);
    return WF_OK;
}
