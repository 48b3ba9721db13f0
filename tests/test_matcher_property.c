/* Property test of the indexed matcher against the brute-force reference
 * (matcher/reference.h). For many seeds it drives both books through one
 * long random sequence of what the engine does to a book — posts of offers
 * and demands (hazardous and general codes, exact and category patterns,
 * minimum fills and credits, radii, expiries), one-click takes, cancels,
 * rule changes (weights, county and city rules, eco fee), party changes
 * (credit, blacklist, county), licence and lane changes, time passing and
 * expired orders being swept; half the worlds tell the search the parties'
 * highest credit as its ceiling — and after every operation asserts that the
 * two planned the same fills (same resting order, quantity, price, fee,
 * and bit-equal km and score) and hold the same orders. Licences are a
 * small table here: capacity per consumer and code that fills use up, a
 * validity date, and lanes per producer, consumer and code. Half the
 * worlds instead keep capacity per licence, the engine's way: each
 * consumer holds a few licences over sets of codes (a whole category, or
 * one code), the matcher reports each fill through env.use, fills draw
 * from the licences expiring first, and no licence may ever be overdrawn.
 *
 * WUFEI_PROPERTY_OPS sets the total number of operations (default 100000);
 * WUFEI_PROPERTY_SEED runs that one seed only, to replay a failure. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/wf_error.h"
#include "matcher/book.h"
#include "matcher/reference.h"

#define NFIRMS 24
#define NHAZ 8       /* hazardous codes the licence table tracks */
#define NLIC 3       /* licences per consumer in the per-licence worlds */
#define T0 1700000000000LL

static const char *const offer_codes[] = {
    "071-001-08", "071-002-08", "072-001-08", "309-001-49", "772-006-49",
    "251-013-11", "252-001-11", "SW07", "SW09", "CON01", "CON02", "REC01",
};
static const char *const pattern_codes[] = {
    "071-001-08", "071-002-08", "072-001-08", "309-001-49", "772-006-49", "251-013-11",
    "252-001-11", "SW07", "SW09", "CON01", "CON02", "REC01",
    "HW08", "HW49", "HW11", "CON", "REC",
};
#define NOFFER_CODES (sizeof offer_codes / sizeof *offer_codes)
#define NPATTERN_CODES (sizeof pattern_codes / sizeof *pattern_codes)

static const uint32_t counties[] = {330602, 330603, 330604, 330106, 330108, 330203};

typedef struct world {
    uint64_t rng;
    wf_catalogue_t *cat;
    wf_book_t *book;
    wf_refbook_t *ref;
    wf_rules_t rules;
    wf_match_env_t env;
    wf_party_t parties[NFIRMS];
    double flat[NFIRMS], flon[NFIRMS];
    int32_t offer_ids[NOFFER_CODES], pattern_ids[NPATTERN_CODES];
    int32_t haz[NHAZ];                 /* catalogue ids of the tracked codes */
    int64_t cap[NFIRMS][NHAZ];         /* licence capacity left, per consumer */
    int64_t valid_until[NFIRMS];       /* per consumer */
    bool lane[NFIRMS][NFIRMS][NHAZ];   /* [producer][consumer][code] */
    bool by_licence;                   /* capacity per licence, through env.use */
    struct {
        uint32_t mask;                 /* bits of haz[] it covers */
        int64_t cap, valid_until, plan;/* plan: used by the plan being made */
    } lic[NFIRMS][NLIC];               /* sorted by valid_until: the draw order */
    bool global;                       /* locations over the whole sphere */
    bool ceiling;                      /* env.credit_max: the parties' highest credit */
    uint64_t next_id;
    size_t target_size;
} world_t;

static wf_catalogue_t *cat;
static size_t nposts, nfills; /* so that a run shows it exercised matching */

static void
setup(void)
{
    char err[256];
    cat = wf_catalogue_new();
    cr_assert_eq(wf_catalogue_load(cat, WUFEI_CATALOGUE, err, sizeof err), WF_OK, "%s", err);
}

static void
teardown(void)
{
    wf_catalogue_destroy(&cat);
}

TestSuite(matcher_property, .init = setup, .fini = teardown, .timeout = 600);

/* ---- randomness ----------------------------------------------------------- */

static uint64_t
next(world_t *w)
{
    /* splitmix64: small, seedable, good enough to shuffle a market. */
    uint64_t z = (w->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t
below(world_t *w, uint64_t n)
{
    return next(w) % n;
}

static double
uniform(world_t *w, double lo, double hi)
{
    return lo + (hi - lo) * ((double)(next(w) >> 11) / 9007199254740992.0);
}

static bool
chance(world_t *w, unsigned percent)
{
    return below(w, 100) < percent;
}

/* ---- the licence table ---------------------------------------------------- */

static int
haz_index(const world_t *w, int32_t code)
{
    for (int i = 0; i < NHAZ; i++)
        if (w->haz[i] == code)
            return i;
    return -1;
}

static const wf_party_t *
party_of(void *ctx, uint32_t firm)
{
    world_t *w = ctx;
    if (firm >= NFIRMS)
        cr_assert_fail("firm %u", firm);
    return &w->parties[firm];
}

static int64_t
allowance_of(void *ctx, uint32_t consumer, uint32_t producer, int32_t code, int64_t now)
{
    world_t *w = ctx;
    int h = haz_index(w, code);
    if (h < 0 || consumer >= NFIRMS || producer >= NFIRMS)
        cr_assert_fail("allowance asked for %d, %u, %u", code, consumer, producer);
    if (w->lane[producer][consumer][h])
        return INT64_MAX;
    if (w->by_licence) {
        int64_t sum = 0;
        for (int i = 0; i < NLIC; i++)
            if ((w->lic[consumer][i].mask >> h & 1) && w->lic[consumer][i].valid_until > now)
                sum += w->lic[consumer][i].cap - w->lic[consumer][i].plan;
        return sum;
    }
    if (w->valid_until[consumer] <= now)
        return 0;
    return w->cap[consumer][h];
}

/* Per-licence worlds: a fill draws on the covering valid licences in
 * order of expiry. */
static void
use_of(void *ctx, uint32_t consumer, uint32_t producer, int32_t code, int64_t qty, int64_t now)
{
    world_t *w = ctx;
    int h = haz_index(w, code);
    if (!w->by_licence || h < 0 || qty <= 0 || w->lane[producer][consumer][h])
        cr_assert_fail("use called for %d, %u, %u, %lld", code, consumer, producer, (long long)qty);
    for (int i = 0; i < NLIC && qty > 0; i++) {
        if (!(w->lic[consumer][i].mask >> h & 1) || w->lic[consumer][i].valid_until <= now)
            continue;
        int64_t left = w->lic[consumer][i].cap - w->lic[consumer][i].plan;
        int64_t take = left < qty ? left : qty;
        w->lic[consumer][i].plan += take;
        qty -= take;
    }
    if (qty > 0)
        cr_assert_fail("a fill of consumer %u overdraws its licences by %lld", consumer, (long long)qty);
}

static void
plan_clear(world_t *w)
{
    for (uint32_t f = 0; f < NFIRMS; f++)
        for (int i = 0; i < NLIC; i++)
            w->lic[f][i].plan = 0;
}

/* ---- the world ------------------------------------------------------------ */

static void
random_location(world_t *w, double *lat, double *lon)
{
    if (w->global) {
        /* Poles, the antimeridian and long distances. */
        *lat = chance(w, 10) ? (chance(w, 50) ? 90.0 : -89.9999) : uniform(w, -90, 90);
        *lon = chance(w, 10) ? (chance(w, 50) ? 180.0 : -179.9999) : uniform(w, -180, 180);
    } else {
        *lat = uniform(w, 29.7, 30.5);
        *lon = uniform(w, 120.1, 121.0);
    }
}

static void
random_party(world_t *w, uint32_t f)
{
    static const int32_t credits[] = {0, 40, 59, 60, 75, 80, 89, 90, 95, 100};
    /* Many at 100, where a node's bound on credit is exact. */
    w->parties[f].credit = chance(w, 25) ? 100 : chance(w, 50) ? credits[below(w, 10)] : (int32_t)below(w, 101);
    w->parties[f].blocked = chance(w, 5);
    w->parties[f].county = counties[below(w, sizeof counties / sizeof *counties)];
}

static void
random_rules(world_t *w)
{
    static const double weights[] = {0.0, 0.1, 0.2, 0.4, 0.5, 1.0, 3.0};
    if (chance(w, 30)) {
        w->rules = wf_rules_default();
    } else {
        w->rules.w_credit = chance(w, 50) ? weights[below(w, 7)] : uniform(w, 0, 2);
        w->rules.w_distance = chance(w, 50) ? weights[below(w, 7)] : uniform(w, 0, 2);
        w->rules.w_price = chance(w, 50) ? weights[below(w, 7)] : uniform(w, 0, 2);
    }
    w->rules.county_rule = chance(w, 20);
    w->rules.city_rule = chance(w, 20);
    static const int64_t fees[] = {0, 0, 0, 50, 100, 300};
    w->rules.eco_fee = fees[below(w, 6)];
}

static void
random_licences(world_t *w, uint32_t f)
{
    for (int h = 0; h < NHAZ; h++)
        w->cap[f][h] = chance(w, 30) ? 0 : (int64_t)below(w, 400);
    w->valid_until[f] = chance(w, 85) ? w->env.now + (int64_t)below(w, 200000) : w->env.now;
    for (uint32_t p = 0; p < NFIRMS; p++)
        for (int h = 0; h < NHAZ; h++)
            w->lane[p][f][h] = chance(w, 3);
    /* haz[] is 071-001-08, 071-002-08, 072-001-08 (HW08), 309-001-49,
     * 772-006-49 (HW49), 251-013-11, 252-001-11 (HW11). */
    static const uint32_t masks[] = {0x07, 0x07, 0x18, 0x60, 0x01, 0x02, 0x7f, 0x00};
    for (int i = 0; i < NLIC; i++) {
        w->lic[f][i].mask = masks[below(w, 8)];
        w->lic[f][i].cap = chance(w, 20) ? 0 : (int64_t)below(w, 300);
        w->lic[f][i].valid_until = chance(w, 85) ? w->env.now + (int64_t)below(w, 200000) : w->env.now;
        w->lic[f][i].plan = 0;
    }
    for (int i = 1; i < NLIC; i++) /* insertion sort by expiry */
        for (int j = i; j > 0 && w->lic[f][j].valid_until < w->lic[f][j - 1].valid_until; j--) {
            __typeof__(w->lic[f][0]) t = w->lic[f][j];
            w->lic[f][j] = w->lic[f][j - 1];
            w->lic[f][j - 1] = t;
        }
}

static void
world_init(world_t *w, uint64_t seed)
{
    memset(w, 0, sizeof *w);
    w->rng = seed * 0x2545f4914f6cdd1dull + 1;
    w->cat = cat;
    w->book = wf_book_new(cat);
    w->ref = wf_refbook_new(cat);
    w->env = (wf_match_env_t){
        .cat = cat, .rules = &w->rules, .now = T0, .ctx = w,
        .party = party_of, .allowance = allowance_of,
    };
    w->by_licence = chance(w, 50);
    if (w->by_licence)
        w->env.use = use_of;
    for (size_t i = 0; i < NOFFER_CODES; i++) {
        w->offer_ids[i] = wf_catalogue_find(cat, offer_codes[i]);
        cr_assert_geq(w->offer_ids[i], 0, "%s", offer_codes[i]);
    }
    for (size_t i = 0; i < NPATTERN_CODES; i++) {
        w->pattern_ids[i] = wf_catalogue_find(cat, pattern_codes[i]);
        cr_assert_geq(w->pattern_ids[i], 0, "%s", pattern_codes[i]);
    }
    int nh = 0;
    for (size_t i = 0; i < NOFFER_CODES; i++)
        if (wf_catalogue_get(cat, w->offer_ids[i])->hazardous) {
            cr_assert_lt(nh, NHAZ);
            w->haz[nh++] = w->offer_ids[i];
        }
    for (; nh < NHAZ; nh++)
        w->haz[nh] = -1;

    w->ceiling = chance(w, 50);
    static const size_t sizes[] = {10, 60, 250, 800, 2500};
    w->target_size = sizes[below(w, 5)];
    w->global = chance(w, 15);
    random_rules(w);
    for (uint32_t f = 0; f < NFIRMS; f++) {
        random_party(w, f);
        random_location(w, &w->flat[f], &w->flon[f]);
        random_licences(w, f);
    }
    w->next_id = 1;
}

static void
world_fini(world_t *w)
{
    wf_book_destroy(&w->book);
    wf_refbook_destroy(&w->ref);
}

/* ---- comparing ------------------------------------------------------------ */

typedef struct collect {
    const wf_order_t **v;
    size_t n;
} collect_t;

static bool
collect(void *arg, const wf_order_t *o)
{
    collect_t *c = arg;
    c->v[c->n++] = o;
    return true;
}

static void
check_books(const world_t *w, uint64_t seed, size_t op)
{
    size_t n = wf_refbook_count(w->ref);
    if (wf_book_count(w->book) != n)
        cr_assert_fail("seed %lu op %zu: book holds %zu orders, reference %zu", (unsigned long)seed,
                       op, wf_book_count(w->book), n);
    collect_t c = {.v = malloc((n + 1) * sizeof *c.v)};
    wf_book_each(w->book, collect, &c);
    if (c.n != n)
        cr_assert_fail("seed %lu op %zu: wf_book_each saw %zu of %zu", (unsigned long)seed, op, c.n, n);
    for (size_t i = 0; i < n; i++) {
        const wf_order_t *a = c.v[i], *b = wf_refbook_at(w->ref, i);
        if (a->id != b->id || a->remaining != b->remaining || a->side != b->side ||
            a->firm != b->firm || a->code != b->code || a->npatterns != b->npatterns ||
            a->price != b->price || a->min_fill != b->min_fill || a->qty != b->qty ||
            a->lat != b->lat || a->lon != b->lon || a->max_km != b->max_km ||
            a->expires != b->expires || a->min_credit != b->min_credit ||
            wf_book_find(w->book, b->id) != a)
            cr_assert_fail("seed %lu op %zu: books differ at #%zu: id %lu/%lu remaining %ld/%ld",
                           (unsigned long)seed, op, i, (unsigned long)a->id, (unsigned long)b->id,
                           (long)a->remaining, (long)b->remaining);
    }
    free(c.v);
}

static void
check_fills(const wf_fill_t *a, size_t na, const wf_fill_t *b, size_t nb, uint64_t seed, size_t op,
            const wf_order_t *x)
{
    if (na != nb)
        cr_assert_fail("seed %lu op %zu (x %lu, %s): %zu fills, reference %zu", (unsigned long)seed,
                       op, (unsigned long)x->id, x->side == WF_OFFER ? "offer" : "demand", na, nb);
    for (size_t i = 0; i < na; i++) {
        if (a[i].resting->id != b[i].resting->id || a[i].qty != b[i].qty ||
            a[i].price != b[i].price || a[i].fee != b[i].fee ||
            memcmp(&a[i].km, &b[i].km, sizeof a[i].km) != 0 ||
            memcmp(&a[i].score, &b[i].score, sizeof a[i].score) != 0)
            cr_assert_fail("seed %lu op %zu (x %lu): fill %zu differs: id %lu/%lu qty %ld/%ld "
                           "score %.17g/%.17g km %.17g/%.17g",
                           (unsigned long)seed, op, (unsigned long)x->id, i,
                           (unsigned long)a[i].resting->id, (unsigned long)b[i].resting->id,
                           (long)a[i].qty, (long)b[i].qty, a[i].score, b[i].score, a[i].km, b[i].km);
    }
}

/* ---- operations ----------------------------------------------------------- */

static void
random_order(world_t *w, wf_order_t *o)
{
    uint32_t firm = (uint32_t)below(w, NFIRMS);
    memset(o, 0, sizeof *o);
    o->id = w->next_id++;
    o->firm = firm;
    o->side = chance(w, 50) ? WF_OFFER : WF_DEMAND;
    if (o->side == WF_OFFER) {
        o->code = w->offer_ids[below(w, NOFFER_CODES)];
        o->price = 100 * ((int64_t)below(w, 7) - 3);
    } else {
        o->code = -1;
        o->npatterns = (uint8_t)(chance(w, 75) ? 1 : 1 + below(w, 4));
        for (unsigned k = 0; k < o->npatterns; k++)
            o->patterns[k] = w->pattern_ids[below(w, NPATTERN_CODES)];
        o->price = 100 * ((int64_t)below(w, 7) - 1);
    }
    if (chance(w, 10))
        o->price += (int64_t)below(w, 100) - 50;
    o->qty = o->remaining = chance(w, 20) ? 1 + (int64_t)below(w, 5) : 1 + (int64_t)below(w, 120);
    o->min_fill = chance(w, 75) ? 1 : 1 + (int64_t)below(w, (uint64_t)o->qty);
    static const int32_t mins[] = {0, 0, 0, 0, 50, 70, 85, 100};
    o->min_credit = mins[below(w, 8)];
    if (chance(w, 60)) {
        o->lat = w->flat[firm];
        o->lon = w->flon[firm];
    } else if (chance(w, 80)) {
        o->lat = w->flat[firm] + uniform(w, -0.05, 0.05);
        o->lon = w->flon[firm] + uniform(w, -0.05, 0.05);
    } else {
        random_location(w, &o->lat, &o->lon);
    }
    if (w->global)
        o->max_km = chance(w, 30) ? 20100.0 : uniform(w, 100, 8000);
    else
        o->max_km = chance(w, 20) ? (double)(5 * (1 + below(w, 30))) : uniform(w, 1, 120);
    o->expires = chance(w, 70) ? 0 : w->env.now + 1 + (int64_t)below(w, 20000);
}

/* Posts x into both books: plan, compare, apply the fills (using up
 * licence capacity), and rest what is left. */
static void
post(world_t *w, wf_order_t *x, uint64_t seed, size_t op)
{
    wf_fill_t a[WF_MAX_FILLS], b[WF_MAX_FILLS];
    size_t cap = chance(w, 5) ? below(w, 4) : WF_MAX_FILLS;
    plan_clear(w);
    w->env.credit_max = 0;
    for (uint32_t f = 0; w->ceiling && f < NFIRMS; f++)
        if (w->parties[f].credit > w->env.credit_max)
            w->env.credit_max = w->parties[f].credit; /* the tightest true ceiling */
    size_t na = wf_book_match(w->book, x, &w->env, a, cap);
    int64_t plan_book[NFIRMS][NLIC];
    for (uint32_t f = 0; f < NFIRMS; f++)
        for (int i = 0; i < NLIC; i++)
            plan_book[f][i] = w->lic[f][i].plan;
    plan_clear(w);
    size_t nb = wf_refbook_match(w->ref, x, &w->env, b, cap);
    check_fills(a, na, b, nb, seed, op, x);
    nposts++;
    nfills += na;
    for (uint32_t f = 0; f < NFIRMS; f++)
        for (int i = 0; i < NLIC; i++) {
            if (plan_book[f][i] != w->lic[f][i].plan)
                cr_assert_fail("seed %lu op %zu: licence %u/%d drawn %lld by the book, %lld by "
                               "the reference", (unsigned long)seed, op, f, i,
                               (long long)plan_book[f][i], (long long)w->lic[f][i].plan);
            w->lic[f][i].cap -= w->lic[f][i].plan; /* use_of never overdraws */
            w->lic[f][i].plan = 0;
        }

    for (size_t i = 0; i < na; i++) {
        const wf_order_t *offer = x->side == WF_OFFER ? x : b[i].resting;
        const wf_order_t *demand = x->side == WF_OFFER ? b[i].resting : x;
        int h = haz_index(w, offer->code);
        if (h >= 0 && !w->by_licence &&
            allowance_of(w, demand->firm, offer->firm, offer->code, w->env.now) != INT64_MAX)
            w->cap[demand->firm][h] -= a[i].qty;
        x->remaining -= a[i].qty;
        wf_book_fill(w->book, a[i].resting, a[i].qty);
        wf_refbook_fill(w->ref, b[i].resting, b[i].qty);
    }
    bool live = x->expires == 0 || x->expires > w->env.now;
    if (x->remaining > 0 && x->target == 0 && live && !w->parties[x->firm].blocked) {
        wf_book_add(w->book, x);
        wf_refbook_add(w->ref, x);
    }
}

static wf_order_t *
random_resident(world_t *w)
{
    size_t n = wf_refbook_count(w->ref);
    return n ? (wf_order_t *)wf_refbook_at(w->ref, below(w, n)) : NULL;
}

static void
sweep_expired(world_t *w)
{
    for (size_t i = wf_refbook_count(w->ref); i-- > 0;) {
        wf_order_t *r = (wf_order_t *)wf_refbook_at(w->ref, i);
        if (r->expires != 0 && r->expires <= w->env.now) {
            wf_book_remove(w->book, wf_book_find(w->book, r->id));
            wf_refbook_remove(w->ref, r);
        }
    }
}

static void
step(world_t *w, uint64_t seed, size_t op)
{
    unsigned r = (unsigned)below(w, 1000);
    size_t count = wf_refbook_count(w->ref);
    unsigned cancel_share = count > w->target_size ? 350 : count * 100 / (w->target_size + 1);
    wf_order_t x;

    if (r < 600) {
        random_order(w, &x);
        post(w, &x, seed, op);
    } else if (r < 600 + cancel_share / 4) {
        wf_order_t *y = random_resident(w);
        if (y) {
            wf_book_remove(w->book, wf_book_find(w->book, y->id));
            wf_refbook_remove(w->ref, y);
        }
    } else if (r < 760) {
        /* A one-click take: a demand naming an offer, or a stale id. */
        random_order(w, &x);
        if (x.side == WF_OFFER) {
            x.side = WF_DEMAND;
            x.code = -1;
            x.npatterns = 1;
            x.patterns[0] = w->pattern_ids[below(w, NPATTERN_CODES)];
        }
        wf_order_t *y = random_resident(w);
        if (y && chance(w, 90)) {
            x.target = y->id;
            if (y->side == WF_OFFER && chance(w, 80))
                x.patterns[0] = y->code;
        } else {
            x.target = w->next_id + 1000;
        }
        post(w, &x, seed, op);
    } else if (r < 800) {
        random_rules(w);
    } else if (r < 860) {
        random_party(w, (uint32_t)below(w, NFIRMS));
    } else if (r < 890) {
        random_licences(w, (uint32_t)below(w, NFIRMS));
    } else if (r < 960) {
        w->env.now += (int64_t)below(w, 3000);
        if (chance(w, 30))
            sweep_expired(w);
    } else {
        /* Cancels, more of them when the book is over its size. */
        for (unsigned k = 0; k < 1 + cancel_share / 50; k++) {
            wf_order_t *y = random_resident(w);
            if (!y)
                break;
            wf_book_remove(w->book, wf_book_find(w->book, y->id));
            wf_refbook_remove(w->ref, y);
        }
    }
    check_books(w, seed, op);
}

static size_t
env_size(const char *name, size_t dflt)
{
    const char *s = getenv(name);
    return s && *s ? (size_t)strtoull(s, NULL, 10) : dflt;
}

Test(matcher_property, book_equals_reference)
{
    size_t total = env_size("WUFEI_PROPERTY_OPS", 100000);
    const char *only = getenv("WUFEI_PROPERTY_SEED");
    size_t done = 0;
    for (uint64_t seed = only && *only ? strtoull(only, NULL, 10) : 1; done < total; seed++) {
        world_t *w = malloc(sizeof *w);
        world_init(w, seed);
        size_t ops = 500 + below(w, 2500);
        if (ops > total - done)
            ops = total - done;
        for (size_t op = 0; op < ops; op++)
            step(w, seed, op);
        done += ops;
        world_fini(w);
        free(w);
        if (only && *only)
            break;
    }
    cr_log_info("%zu operations, %zu posts, %zu fills\n", done, nposts, nfills);
    cr_assert_eq(done, total);
    cr_assert_gt(nfills, nposts / 10, "too few fills to say much: %zu of %zu posts", nfills, nposts);
}
