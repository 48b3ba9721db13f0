/* The matching rule of DESIGN.md "Matching": the eligibility test for one
 * pair, the score that ranks eligible counter-orders, and the greedy plan
 * of fills for an incoming order. Planning reads the book and never changes
 * it, so the engine can journal a plan before applying it with
 * wf_book_fill(). Work per incoming order is bounded by the number of
 * resting counter-orders listed under the codes it fits (plus, for a
 * demand, the size of its patterns' subtrees in the catalogue), then a sort
 * of the eligible ones; the spatial index will narrow the first term. */
#include "book_int.h"

#include <assert.h>
#include <stdlib.h>

#include "geo.h"
#include "wf_alloc.h"

wf_rules_t
wf_rules_default(void)
{
    return (wf_rules_t){
        .w_credit = 0.4,
        .w_distance = 0.4,
        .w_price = 0.2,
        .county_rule = false,
        .city_rule = false,
        .eco_fee = 0,
    };
}

static bool
live(const wf_order_t *o, int64_t now)
{
    return o->expires == 0 || o->expires > now;
}

static bool
code_fits(const wf_catalogue_t *cat, const wf_order_t *offer, const wf_order_t *demand)
{
    unsigned n = demand->npatterns <= WF_MAX_PATTERNS ? demand->npatterns : WF_MAX_PATTERNS;
    for (unsigned k = 0; k < n; k++)
        if (wf_catalogue_covers(cat, demand->patterns[k], offer->code))
            return true;
    return false;
}

bool
wf_match_eligible(const wf_order_t *x, const wf_order_t *y, const wf_match_env_t *env,
                  double *km, int64_t *fee, double *score)
{
    if (x->side == y->side)
        return false;
    const wf_order_t *offer = x->side == WF_OFFER ? x : y;
    const wf_order_t *demand = x->side == WF_OFFER ? y : x;
    const wf_catalogue_t *cat = env->cat;
    const wf_rules_t *rules = env->rules;

    if (!code_fits(cat, offer, demand))
        return false;
    if (y->remaining <= 0 || !live(x, env->now) || !live(y, env->now))
        return false;
    if (x->firm == y->firm)
        return false;
    const wf_party_t *px = env->party(env->ctx, x->firm);
    const wf_party_t *py = env->party(env->ctx, y->firm);
    if (px->blocked || py->blocked)
        return false;

    double d = wf_geo_km(x->lat, x->lon, y->lat, y->lon);
    if (!(d <= x->max_km && d <= y->max_km)) /* also rejects NaN */
        return false;
    if (px->credit < y->min_credit || py->credit < x->min_credit)
        return false;

    int64_t f = px->county != py->county ? rules->eco_fee : 0;
    int64_t ask;
    if (__builtin_add_overflow(offer->price, f, &ask) || demand->price < ask)
        return false;

    bool hazardous = wf_catalogue_get(cat, offer->code)->hazardous;
    if (rules->county_rule && !hazardous && px->county != py->county)
        return false;
    if (rules->city_rule && hazardous && px->county / 100 != py->county / 100)
        return false;
    if (hazardous && env->allowance &&
        env->allowance(env->ctx, demand->firm, offer->firm, offer->code, env->now) <= 0)
        return false;

    int64_t s;
    double surplus = __builtin_sub_overflow(demand->price, ask, &s)
                         ? (double)demand->price - (double)ask
                         : (double)s;
    *km = d;
    *fee = f;
    *score = rules->w_credit * py->credit / 100.0 - rules->w_distance * d / 100.0 +
             rules->w_price * surplus / 100000.0;
    return true;
}

/* ---- planning ----------------------------------------------------------- */

static void
consider(const wf_book_t *self, const wf_order_t *x, wf_order_t *y, const wf_match_env_t *env)
{
    book_candidate_t c = {.y = y};
    if (!wf_match_eligible(x, y, env, &c.km, &c.fee, &c.score))
        return;
    book_scratch_t *s = self->scratch;
    if (s->ncand == s->candcap) {
        s->candcap = s->candcap ? 2 * s->candcap : 64;
        s->cand = wf_realloc(s->cand, s->candcap * sizeof *s->cand);
    }
    s->cand[s->ncand++] = c;
}

/* True when pattern k of demand x is covered by another of its patterns
 * (the earlier one, for a repeat): its subtree is walked there already. */
static bool
shadowed(const wf_catalogue_t *cat, const wf_order_t *x, unsigned k)
{
    for (unsigned j = 0; j < x->npatterns; j++) {
        if (j == k)
            continue;
        if (x->patterns[j] == x->patterns[k] ? j < k
                                              : wf_catalogue_covers(cat, x->patterns[j], x->patterns[k]))
            return true;
    }
    return false;
}

/* Gathers the eligible counter-orders of x into the scratch candidates. An
 * offer can reach one demand through two of its patterns (HW08 and
 * 900-249-08); such repeats are dropped after sorting. */
static void
gather(const wf_book_t *self, const wf_order_t *x, const wf_match_env_t *env)
{
    if (x->side == WF_DEMAND && x->target != 0) {
        wf_order_t *y = wf_book_find(self, x->target);
        if (y && y->side == WF_OFFER)
            consider(self, x, y, env);
    } else if (x->side == WF_DEMAND) {
        unsigned n = x->npatterns <= WF_MAX_PATTERNS ? x->npatterns : WF_MAX_PATTERNS;
        for (unsigned k = 0; k < n; k++) {
            int32_t p = x->patterns[k];
            if (p < 0 || (size_t)p >= self->ncodes || shadowed(self->cat, x, k))
                continue;
            for (uint32_t i = self->pre_at[p]; i < self->pre_end[p]; i++) {
                const book_list_t *l = &self->offers[self->pre[i]];
                for (uint32_t j = 0; j < l->n; j++)
                    consider(self, x, l->v[j], env);
            }
        }
    } else if (x->code >= 0 && (size_t)x->code < wf_catalogue_count(self->cat)) {
        for (int32_t a = x->code; a >= 0; a = wf_catalogue_get(self->cat, a)->parent) {
            if ((size_t)a >= self->ncodes)
                continue; /* a code newer than every resting order */
            const book_list_t *l = &self->demands[a];
            for (uint32_t j = 0; j < l->n; j++)
                consider(self, x, l->v[j], env);
        }
    }
}

static int
by_rank(const void *pa, const void *pb)
{
    const book_candidate_t *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return (a->y->id > b->y->id) - (a->y->id < b->y->id);
}

static int64_t
min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

size_t
wf_book_match(const wf_book_t *self, const wf_order_t *x, const wf_match_env_t *env,
              wf_fill_t *out, size_t cap)
{
    book_scratch_t *s = self->scratch;
    s->ncand = 0;
    if (cap == 0 || x->remaining <= 0)
        return 0;
    gather(self, x, env);
    if (s->ncand > 1)
        qsort(s->cand, s->ncand, sizeof *s->cand, by_rank);
    if (s->allowedcap < cap) {
        s->allowedcap = cap;
        s->allowed = wf_realloc(s->allowed, cap * sizeof *s->allowed);
    }

    int64_t left = x->remaining;
    size_t n = 0;
    for (size_t i = 0; i < s->ncand && n < cap && left > 0; i++) {
        const book_candidate_t *c = &s->cand[i];
        if (i > 0 && c->y == s->cand[i - 1].y)
            continue;
        wf_order_t *y = c->y;
        const wf_order_t *offer = x->side == WF_OFFER ? x : y;
        const wf_order_t *demand = x->side == WF_OFFER ? y : x;
        int64_t q = min64(left, y->remaining);

        /* Licence capacity is used up by the fills planned before this one
         * for the same consumer and code; a lane (INT64_MAX) uses none. */
        int64_t allowed = INT64_MAX;
        if (env->allowance && wf_catalogue_get(env->cat, offer->code)->hazardous) {
            allowed = env->allowance(env->ctx, demand->firm, offer->firm, offer->code, env->now);
            if (allowed != INT64_MAX) {
                int64_t room = allowed;
                for (size_t j = 0; j < n; j++) {
                    const wf_order_t *po = x->side == WF_OFFER ? x : out[j].resting;
                    const wf_order_t *pd = x->side == WF_OFFER ? out[j].resting : x;
                    if (s->allowed[j] != INT64_MAX && pd->firm == demand->firm &&
                        po->code == offer->code)
                        room -= out[j].qty;
                }
                q = min64(q, room);
            }
        }
        if (q <= 0 || q < x->min_fill || q < y->min_fill)
            continue;

        s->allowed[n] = allowed;
        out[n++] = (wf_fill_t){
            .resting = y,
            .qty = q,
            .price = y->price,
            .fee = c->fee,
            .km = c->km,
            .score = c->score,
        };
        left -= q;
    }
    return n;
}
