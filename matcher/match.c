/* The matching rule of DESIGN.md "Matching": the eligibility test for one
 * pair, the score that ranks eligible counter-orders, and the greedy plan
 * of fills for an incoming order. Planning reads the book and never changes
 * it, so the engine can journal a plan before applying it with
 * wf_book_fill().
 *
 * The plan is found by a best-first search over the quadtrees of the codes
 * the incoming order x fits (spatial.c). One max-heap holds tree nodes,
 * keyed by an upper bound on the score of any order below them, and
 * eligible orders, keyed by their exact score. Popping a node pushes its
 * children, or, for a leaf, the orders that pass the cheap tests and then
 * wf_match_eligible itself; popping an order hands it to the greedy fill.
 * On equal keys nodes pop first and orders by lower id, so orders leave
 * the heap in exactly the rule's ranking (score desc, id asc), and the
 * search stops the moment x is filled or the fill cap is reached: the
 * regions whose bound is below the last fill's score are never opened.
 *
 * A node's bound is the score formula, evaluated the way
 * wf_match_eligible() evaluates it, on the best case of each input: the
 * env's credit_max (credit lives in the env and changes without the book
 * knowing, so the book keeps no credit aggregate; the caller knows the
 * highest credit of any party, and 100 holds when it does not say; a
 * ceiling near the parties' real credit keeps the search from opening
 * every region within the distance that the credit slack is worth), the
 * chord from x to the node's box as the distance, and its best price with
 * the smaller of no fee and the eco fee as the surplus. IEEE rounding is monotone, so the bound is
 * never below a real score of the same expression; a small upward margin
 * covers the float rounding of the stored vectors. The same aggregates
 * prune: a node none of whose prices can meet x's, or that lies beyond
 * x's radius or every one of its orders' radii, is never pushed. With a
 * negative or non-finite weight no bound holds and every node gets key
 * +inf: the search then visits the whole fitting trees, as the rule's
 * literal reading does, and still ranks through the heap.
 *
 * Work per incoming order: each node and each listed entry of the trees x
 * reaches is examined at most once, plus the catalogue subtree walk for a
 * demand's patterns (their roots) and a heap operation per pushed item; in
 * practice the search opens the few leaves around the best candidates. */
#include "book_int.h"

#include <assert.h>
#include <math.h>
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
    if (env->batch_codes && offer->code >= 0 && env->batch_codes[offer->code])
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

/* ---- the search --------------------------------------------------------- */

#define CHORD_SLACK 2e-7   /* float rounding of stored unit vectors, with margin */
#define KM_SLACK 1e-6      /* rounding of the distances themselves */
#define KM_FARTHEST 20016.0 /* no two points are farther apart (pi * R < this) */

typedef struct search {
    const wf_book_t *book;
    const wf_order_t *x;
    const wf_match_env_t *env;
    double xv[3];
    bool bounded;      /* the weights allow a score bound */
    int64_t fee_min;   /* the smaller of no fee and the eco fee */
    double credit_term; /* the credit part of every bound: w_credit * credit_max / 100 */
} search_t;

/* True when a should leave the heap before b. */
static inline bool
before(const book_item_t *a, const book_item_t *b)
{
    if (a->key != b->key)
        return a->key > b->key;
    if (a->is_cand != b->is_cand)
        return a->is_cand < b->is_cand;
    return a->id < b->id;
}

/* Slow path: more room in a scratch array. */
static void *__attribute__((noinline))
grow(void *p, size_t *cap, size_t size)
{
    *cap = *cap ? 2 * *cap : 256;
    return wf_realloc(p, *cap * size);
}

static void
heap_push(book_scratch_t *s, book_item_t it)
{
    if (s->nheap == s->heapcap)
        s->heap = grow(s->heap, &s->heapcap, sizeof *s->heap);
    size_t i = s->nheap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&it, &s->heap[p]))
            break;
        s->heap[i] = s->heap[p];
        i = p;
    }
    s->heap[i] = it;
}

static book_item_t
heap_pop(book_scratch_t *s)
{
    book_item_t top = s->heap[0], last = s->heap[--s->nheap];
    size_t n = s->nheap, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && before(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!before(&s->heap[c], &last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n > 0)
        s->heap[i] = last;
    return top;
}

/* The chord from unit vector p to the node's box of unit vectors. */
static inline double
box_chord(const double p[3], const sp_node_t *nd)
{
    double s = 0;
    for (int k = 0; k < 3; k++) {
        double d = 0;
        if (p[k] < nd->lo[k])
            d = nd->lo[k] - p[k];
        else if (p[k] > nd->hi[k])
            d = p[k] - nd->hi[k];
        s += d * d;
    }
    return sqrt(s);
}

/* A lower bound on the km of an arc whose chord is at least chord - slack. */
static inline double
km_below(double chord)
{
    double d = WF_EARTH_KM * (chord - CHORD_SLACK) - KM_SLACK;
    return d > 0 ? d : 0;
}

/* The most a surplus can be when the demand side asks at most dprice and
 * the offer side at least oprice, or -1 when no fee lets them meet. */
static inline __int128
surplus_above(const search_t *q, int64_t dprice, int64_t oprice)
{
    __int128 s = (__int128)dprice - oprice - q->fee_min;
    return s < 0 ? -1 : s;
}

/* Pushes node i unless it cannot hold an eligible order, keyed by its
 * bound, never above its parent's key (so keys only fall along a path). */
static void
push_node(const search_t *q, uint32_t i, double parent_key)
{
    const sp_node_t *nd = &q->book->sp.nodes[i];
    if (nd->count == 0)
        return;
    const wf_order_t *x = q->x;
    __int128 sur = x->side == WF_OFFER ? surplus_above(q, nd->max_price, x->price)
                                       : surplus_above(q, x->price, nd->min_price);
    if (sur < 0)
        return;
    double dlb = km_below(box_chord(q->xv, nd));
    if (!(dlb <= KM_FARTHEST) || dlb > x->max_km || dlb > nd->max_km)
        return; /* empty box, or out of every radius */
    double key = INFINITY;
    if (q->bounded) {
        const wf_rules_t *r = q->env->rules;
        double sd = (double)sur;
        sd += sd * 1e-15 + 1.0;
        key = q->credit_term - r->w_distance * dlb / 100.0 + r->w_price * sd / 100000.0;
        key += fabs(key) * 1e-12 + 1e-12;
        if (key > parent_key)
            key = parent_key;
    }
    heap_push(q->book->scratch, (book_item_t){.key = key, .ref = i});
}

static void
push_candidate(const search_t *q, wf_order_t *y)
{
    book_scratch_t *s = q->book->scratch;
    book_candidate_t c = {.y = y};
    if (!wf_match_eligible(q->x, y, q->env, &c.km, &c.fee, &c.score))
        return;
    if (s->ncand == s->candcap)
        s->cand = grow(s->cand, &s->candcap, sizeof *s->cand);
    s->cand[s->ncand] = c;
    heap_push(s, (book_item_t){.key = c.score, .id = y->id, .ref = (uint32_t)s->ncand, .is_cand = 1});
    s->ncand++;
}

/* Opens a popped node: its children, or the entries of a leaf that pass
 * the price and radius tests, then the rule itself. */
static void
expand(const search_t *q, uint32_t i, double key)
{
    const sp_node_t *nd = &q->book->sp.nodes[i];
    if (nd->child != SP_NONE) {
        uint32_t c = nd->child;
        for (unsigned k = 0; k < 4; k++)
            push_node(q, c + k, key); /* may move the heap, not the nodes */
        return;
    }
    const wf_order_t *x = q->x;
    for (uint32_t k = 0; k < nd->n; k++) { /* at most the leaf's size */
        const sp_entry_t *e = &nd->e[k];
        __int128 sur = x->side == WF_OFFER ? surplus_above(q, e->price, x->price)
                                           : surplus_above(q, x->price, e->price);
        if (sur < 0)
            continue;
        double dx = q->xv[0] - e->v[0], dy = q->xv[1] - e->v[1], dz = q->xv[2] - e->v[2];
        double dlb = km_below(sqrt(dx * dx + dy * dy + dz * dz));
        if (dlb > x->max_km || dlb > e->max_km)
            continue;
        /* Too small for x's minimum fill, or asking more than x has: the
         * greedy fill would pass it over whatever its rank. */
        const wf_order_t *y = e->o;
        if (y->remaining < x->min_fill || y->min_fill > x->remaining)
            continue;
        push_candidate(q, e->o);
    }
}

/* True when pattern k of demand x is covered by another of its patterns
 * (the earlier one, for a repeat): its subtree is searched there already. */
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

/* Seeds the heap with the roots of the trees x reaches, or with its
 * target alone. An offer can reach one demand through two of its patterns
 * (HW08 and 900-249-08); the copies leave the heap one after the other and
 * the fill loop drops the second. */
static void
seed(search_t *q)
{
    const wf_book_t *self = q->book;
    const wf_order_t *x = q->x;
    if (x->side == WF_DEMAND && x->target != 0) {
        wf_order_t *y = wf_book_find(self, x->target);
        if (y && y->side == WF_OFFER)
            push_candidate(q, y);
        return;
    }
    /* What rules out every counter-order at once (wf_match_eligible
     * would find the same for each). */
    if (!(x->expires == 0 || x->expires > q->env->now) || q->env->party(q->env->ctx, x->firm)->blocked)
        return;
    spatial__unit(x->lat, x->lon, q->xv);
    if (isnan(q->xv[0] + q->xv[1] + q->xv[2]))
        return; /* no distance to anything: the rule matches nothing */
    if (x->side == WF_DEMAND) {
        unsigned n = x->npatterns <= WF_MAX_PATTERNS ? x->npatterns : WF_MAX_PATTERNS;
        for (unsigned k = 0; k < n; k++) {
            int32_t p = x->patterns[k];
            if (p < 0 || (size_t)p >= self->ncodes || shadowed(self->cat, x, k))
                continue;
            for (uint32_t i = self->pre_at[p]; i < self->pre_end[p]; i++) /* subtree size */
                if (self->offer_tree[self->pre[i]] != SP_NONE &&
                    !(q->env->batch_codes && q->env->batch_codes[self->pre[i]]))
                    push_node(q, self->offer_tree[self->pre[i]], INFINITY);
        }
    } else if (x->code >= 0 && (size_t)x->code < wf_catalogue_count(self->cat) &&
               !(q->env->batch_codes && q->env->batch_codes[x->code])) {
        for (int32_t a = x->code; a >= 0; a = wf_catalogue_get(self->cat, a)->parent) {
            if ((size_t)a >= self->ncodes)
                continue; /* a code newer than every resting order */
            if (self->demand_tree[a] != SP_NONE)
                push_node(q, self->demand_tree[a], INFINITY);
        }
    }
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
    s->nheap = 0;
    if (cap == 0 || x->remaining <= 0)
        return 0;
    if (s->allowedcap < cap) {
        s->allowedcap = cap;
        s->allowed = wf_realloc(s->allowed, cap * sizeof *s->allowed);
    }
    const wf_rules_t *r = env->rules;
    search_t q = {
        .book = self, .x = x, .env = env,
        .bounded = isfinite(r->w_credit) && isfinite(r->w_distance) && isfinite(r->w_price) &&
                   r->w_credit >= 0 && r->w_distance >= 0 && r->w_price >= 0,
        .fee_min = r->eco_fee < 0 ? r->eco_fee : 0,
    };
    /* IEEE multiplication and division are monotone: no party's
     * w_credit * credit / 100.0 exceeds this (w_credit >= 0 when bounded) */
    int32_t cmax = env->credit_max >= 1 && env->credit_max <= 100 ? env->credit_max : 100;
    q.credit_term = r->w_credit * cmax / 100.0;
    seed(&q);

    int64_t left = x->remaining;
    size_t n = 0;
    const wf_order_t *prev = NULL;
    /* Once less than x's minimum fill is left, no fill can follow. */
    while (s->nheap > 0 && n < cap && left > 0 && left >= x->min_fill) {
        book_item_t it = heap_pop(s);
        if (!it.is_cand) {
            expand(&q, it.ref, it.key);
            continue;
        }
        const book_candidate_t *c = &s->cand[it.ref];
        wf_order_t *y = c->y;
        if (y == prev)
            continue; /* the same demand, reached through a second pattern */
        prev = y;
        const wf_order_t *offer = x->side == WF_OFFER ? x : y;
        const wf_order_t *demand = x->side == WF_OFFER ? y : x;
        int64_t qty = min64(left, y->remaining);

        /* Licence capacity is used up by the fills planned before this one
         * for the same consumer and code (or, with env->use, by whatever
         * the caller's allowance counts); a lane (INT64_MAX) uses none. */
        int64_t allowed = INT64_MAX;
        if (env->allowance && wf_catalogue_get(env->cat, offer->code)->hazardous) {
            allowed = env->allowance(env->ctx, demand->firm, offer->firm, offer->code, env->now);
            if (allowed != INT64_MAX && env->use) {
                qty = min64(qty, allowed);
            } else if (allowed != INT64_MAX) {
                int64_t room = allowed;
                for (size_t j = 0; j < n; j++) { /* at most cap */
                    const wf_order_t *po = x->side == WF_OFFER ? x : out[j].resting;
                    const wf_order_t *pd = x->side == WF_OFFER ? out[j].resting : x;
                    if (s->allowed[j] != INT64_MAX && pd->firm == demand->firm &&
                        po->code == offer->code)
                        room -= out[j].qty;
                }
                qty = min64(qty, room);
            }
        }
        if (qty <= 0 || qty < x->min_fill || qty < y->min_fill)
            continue;

        s->allowed[n] = allowed;
        if (allowed != INT64_MAX && env->use)
            env->use(env->ctx, demand->firm, offer->firm, offer->code, qty, env->now);
        out[n++] = (wf_fill_t){
            .resting = y,
            .qty = qty,
            .price = y->price,
            .fee = c->fee,
            .km = c->km,
            .score = c->score,
        };
        left -= qty;
    }
    return n;
}
