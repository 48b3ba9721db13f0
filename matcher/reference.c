/* The brute-force reference matcher (see reference.h): a plain array of
 * resting orders and a literal reading of DESIGN.md "Matching". For each
 * incoming order it tests every resting order with wf_match_eligible(),
 * sorts the eligible ones by score (highest first, ties by lower id) and
 * walks that list: the fill is min(what x still wants, what y has left,
 * the licence capacity left once the fills already planned for the same
 * consumer and code are counted, or, when the env has a use callback, the
 * allowance as the caller counts it), and a fill below either order's minimum
 * is passed over. It shares nothing with the indexed matcher but the
 * eligibility test and the score, which is the point: the two must agree
 * fill for fill and bit for bit. */
#include "reference.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "wf_alloc.h"

typedef struct ref_candidate {
    wf_order_t *y;
    double km;
    int64_t fee;
    double score;
} ref_candidate_t;

typedef struct ref_scratch {
    ref_candidate_t *cand;
    size_t cap;
    int64_t *allowed; /* per planned fill: the allowance it was cut to */
    size_t allowedcap;
} ref_scratch_t;

struct wf_refbook {
    const wf_catalogue_t *cat;
    wf_order_t **v; /* sorted by id */
    size_t n, cap;
    ref_scratch_t *scratch;
};

wf_refbook_t *
wf_refbook_new(const wf_catalogue_t *cat)
{
    wf_refbook_t *self = wf_calloc(1, sizeof *self);
    self->cat = cat;
    self->scratch = wf_calloc(1, sizeof *self->scratch);
    return self;
}

void
wf_refbook_destroy(wf_refbook_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wf_refbook_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        wf_free(self->v[i]);
    wf_free(self->v);
    wf_free(self->scratch->cand);
    wf_free(self->scratch->allowed);
    wf_free(self->scratch);
    wf_free(self);
    *self_p = NULL;
}

/* Index of the first resident order with id >= id. */
static size_t
lower_bound(const wf_refbook_t *self, uint64_t id)
{
    size_t lo = 0, hi = self->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->v[mid]->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

wf_order_t *
wf_refbook_add(wf_refbook_t *self, const wf_order_t *o)
{
    assert(o->remaining > 0 && "only live orders rest");
    size_t at = lower_bound(self, o->id);
    assert((at == self->n || self->v[at]->id != o->id) && "order id already in the book");
    if (self->n == self->cap) {
        self->cap = self->cap ? 2 * self->cap : 64;
        self->v = wf_realloc(self->v, self->cap * sizeof *self->v);
    }
    wf_order_t *r = wf_malloc(sizeof *r);
    *r = *o;
    r->hnext = NULL;
    memmove(self->v + at + 1, self->v + at, (self->n - at) * sizeof *self->v);
    self->v[at] = r;
    self->n++;
    return r;
}

wf_order_t *
wf_refbook_find(const wf_refbook_t *self, uint64_t id)
{
    size_t at = lower_bound(self, id);
    return at < self->n && self->v[at]->id == id ? self->v[at] : NULL;
}

void
wf_refbook_remove(wf_refbook_t *self, wf_order_t *o)
{
    size_t at = lower_bound(self, o->id);
    assert(at < self->n && self->v[at] == o && "order is not in this book");
    memmove(self->v + at, self->v + at + 1, (self->n - at - 1) * sizeof *self->v);
    self->n--;
    wf_free(o);
}

bool
wf_refbook_fill(wf_refbook_t *self, wf_order_t *o, int64_t qty)
{
    assert(qty > 0 && qty <= o->remaining);
    o->remaining -= qty;
    if (o->remaining > 0)
        return false;
    wf_refbook_remove(self, o);
    return true;
}

size_t
wf_refbook_count(const wf_refbook_t *self)
{
    return self->n;
}

const wf_order_t *
wf_refbook_at(const wf_refbook_t *self, size_t i)
{
    assert(i < self->n);
    return self->v[i];
}

/* Score descending, then resting id ascending. */
static int
by_rank(const void *pa, const void *pb)
{
    const ref_candidate_t *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return (a->y->id > b->y->id) - (a->y->id < b->y->id);
}

size_t
wf_refbook_match(const wf_refbook_t *self, const wf_order_t *x, const wf_match_env_t *env,
                 wf_fill_t *out, size_t cap)
{
    if (cap == 0 || x->remaining <= 0)
        return 0;
    ref_scratch_t *s = self->scratch;
    if (s->cap < self->n) {
        s->cap = self->n;
        s->cand = wf_realloc(s->cand, s->cap * sizeof *s->cand);
    }
    if (s->allowedcap < cap) {
        s->allowedcap = cap;
        s->allowed = wf_realloc(s->allowed, cap * sizeof *s->allowed);
    }

    /* Every resting order is a counter-order to test; a targeted demand
     * sees only its target, and only if that is an offer. */
    size_t ncand = 0;
    for (size_t i = 0; i < self->n; i++) {
        wf_order_t *y = self->v[i];
        if (x->side == WF_DEMAND && x->target != 0 && (y->id != x->target || y->side != WF_OFFER))
            continue;
        ref_candidate_t c = {.y = y};
        if (wf_match_eligible(x, y, env, &c.km, &c.fee, &c.score))
            s->cand[ncand++] = c;
    }
    if (ncand > 1)
        qsort(s->cand, ncand, sizeof *s->cand, by_rank);

    int64_t left = x->remaining;
    size_t n = 0;
    for (size_t i = 0; i < ncand && n < cap && left > 0; i++) {
        const ref_candidate_t *c = &s->cand[i];
        wf_order_t *y = c->y;
        const wf_order_t *offer = x->side == WF_OFFER ? x : y;
        const wf_order_t *demand = x->side == WF_OFFER ? y : x;
        int64_t q = left < y->remaining ? left : y->remaining;

        /* The licence's capacity is shared by every fill of this plan to
         * the same consumer and code that a licence (not a lane) allowed. */
        int64_t allowed = INT64_MAX;
        if (env->allowance && wf_catalogue_get(env->cat, offer->code)->hazardous) {
            allowed = env->allowance(env->ctx, demand->firm, offer->firm, offer->code, env->now);
            if (allowed != INT64_MAX && env->use) {
                if (allowed < q) /* the caller counts the plan's fills itself */
                    q = allowed;
            } else if (allowed != INT64_MAX) {
                int64_t used = 0;
                for (size_t j = 0; j < n; j++) {
                    const wf_order_t *po = x->side == WF_OFFER ? x : out[j].resting;
                    const wf_order_t *pd = x->side == WF_OFFER ? out[j].resting : x;
                    if (s->allowed[j] != INT64_MAX && pd->firm == demand->firm &&
                        po->code == offer->code)
                        used += out[j].qty;
                }
                if (allowed - used < q)
                    q = allowed - used;
            }
        }
        if (q <= 0 || q < x->min_fill || q < y->min_fill)
            continue;
        s->allowed[n] = allowed;
        if (allowed != INT64_MAX && env->use)
            env->use(env->ctx, demand->firm, offer->firm, offer->code, q, env->now);
        out[n++] = (wf_fill_t){
            .resting = y, .qty = q, .price = y->price, .fee = c->fee, .km = c->km, .score = c->score,
        };
        left -= q;
    }
    return n;
}
