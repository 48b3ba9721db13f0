/* The bulk-loaded book against the book built order by order. The engine
 * rebuilds its book at start with wf_book_load_begin/_add/_end (one pass
 * per index) where it used to call wf_book_add per order; these tests hold
 * the two to the same result. For random books (clustered and whole-sphere
 * locations, many orders on one point, points closer than the deepest cell,
 * zero coordinates, demands with several and repeated patterns and
 * category patterns) they compare the two books' indexes node by node
 * (wf_book__compare: shape, counts, aggregates, leaf entries and slots,
 * per-code and per-class totals with their versions, index memory), then
 * drive both through one stream of posts, fills and cancels and assert
 * that every post plans the same fills (bit-equal km and score) and that
 * the indexes stay equal. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/wf_error.h"
#include "matcher/book.h"
#include "matcher/book_int.h"

#define NFIRMS 16
#define T0 1700000000000LL

static const char *const offer_codes[] = {"071-001-08", "072-001-08", "SW07", "SW09", "CON01", "CON02", "REC01"};
static const char *const pattern_codes[] = {"071-001-08", "HW08", "SW07", "SW09", "CON01",
                                            "CON", "REC01", "REC"};
#define NOFFER (sizeof offer_codes / sizeof *offer_codes)
#define NPATTERN (sizeof pattern_codes / sizeof *pattern_codes)

static wf_catalogue_t *cat;
static int32_t offer_ids[NOFFER], pattern_ids[NPATTERN];

static void
setup(void)
{
    char err[256];
    cat = wf_catalogue_new();
    cr_assert_eq(wf_catalogue_load(cat, WUFEI_CATALOGUE, err, sizeof err), WF_OK, "%s", err);
    for (size_t i = 0; i < NOFFER; i++)
        cr_assert_geq(offer_ids[i] = wf_catalogue_find(cat, offer_codes[i]), 0, "%s", offer_codes[i]);
    for (size_t i = 0; i < NPATTERN; i++)
        cr_assert_geq(pattern_ids[i] = wf_catalogue_find(cat, pattern_codes[i]), 0, "%s",
                      pattern_codes[i]);
}

static void
teardown(void)
{
    wf_catalogue_destroy(&cat);
}

TestSuite(matcher_bulk, .init = setup, .fini = teardown, .timeout = 300);

typedef struct gen {
    uint64_t rng;
    bool global;
    double spot_lat[4], spot_lon[4]; /* points many orders share */
    wf_party_t parties[NFIRMS];
    uint64_t next_id;
} gen_t;

static uint64_t
next(gen_t *g)
{
    uint64_t z = (g->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t
below(gen_t *g, uint64_t n)
{
    return next(g) % n;
}

static double
uniform(gen_t *g, double lo, double hi)
{
    return lo + (hi - lo) * ((double)(next(g) >> 11) / 9007199254740992.0);
}

static bool
chance(gen_t *g, unsigned percent)
{
    return below(g, 100) < percent;
}

static void
gen_init(gen_t *g, uint64_t seed)
{
    memset(g, 0, sizeof *g);
    g->rng = seed * 0x2545f4914f6cdd1dull + 7;
    g->global = chance(g, 25);
    for (int i = 0; i < 4; i++) {
        g->spot_lat[i] = uniform(g, 29.7, 30.5);
        g->spot_lon[i] = uniform(g, 120.1, 121.0);
    }
    for (uint32_t f = 0; f < NFIRMS; f++) {
        g->parties[f].credit = (int32_t)below(g, 101);
        g->parties[f].blocked = chance(g, 5);
        g->parties[f].county = 330600 + (uint32_t)below(g, 4);
    }
    g->next_id = 1;
}

static void
location(gen_t *g, double *lat, double *lon)
{
    unsigned r = (unsigned)below(g, 100);
    if (r < 15) { /* one of a few shared points */
        int s = (int)below(g, 4);
        *lat = g->spot_lat[s];
        *lon = g->spot_lon[s];
    } else if (r < 20) { /* closer together than the deepest cell */
        *lat = g->spot_lat[0] + 1e-9 * (double)below(g, 8);
        *lon = g->spot_lon[0] - 1e-9 * (double)below(g, 8);
    } else if (r < 23) { /* zeros of either sign */
        *lat = chance(g, 50) ? 0.0 : -0.0;
        *lon = chance(g, 50) ? 0.0 : -0.0;
    } else if (g->global) {
        *lat = chance(g, 10) ? (chance(g, 50) ? 90.0 : -90.0) : uniform(g, -90, 90);
        *lon = chance(g, 10) ? (chance(g, 50) ? 180.0 : -180.0) : uniform(g, -180, 180);
    } else {
        *lat = uniform(g, 29.7, 30.5);
        *lon = uniform(g, 120.1, 121.0);
    }
}

static void
random_order(gen_t *g, wf_order_t *o)
{
    memset(o, 0, sizeof *o);
    o->id = g->next_id++;
    o->firm = (uint32_t)below(g, NFIRMS);
    o->side = chance(g, 50) ? WF_OFFER : WF_DEMAND;
    if (o->side == WF_OFFER) {
        o->code = offer_ids[below(g, NOFFER)];
        o->price = 100 * ((int64_t)below(g, 7) - 3);
    } else {
        o->code = -1;
        o->npatterns = (uint8_t)(chance(g, 70) ? 1 : 1 + below(g, 5));
        for (unsigned k = 0; k < o->npatterns; k++)
            o->patterns[k] = pattern_ids[below(g, NPATTERN)];
        if (o->npatterns > 1 && chance(g, 30))
            o->patterns[o->npatterns - 1] = o->patterns[0]; /* a repeated pattern */
        o->price = 100 * ((int64_t)below(g, 7) - 1);
    }
    o->qty = o->remaining = 1 + (int64_t)below(g, 120);
    o->min_fill = chance(g, 80) ? 1 : 1 + (int64_t)below(g, (uint64_t)o->qty);
    o->min_credit = chance(g, 70) ? 0 : (int32_t)below(g, 90);
    location(g, &o->lat, &o->lon);
    o->max_km = chance(g, 2) ? 20000 : uniform(g, 5, 150);
    o->expires = chance(g, 20) ? T0 + (int64_t)below(g, 100000) : 0;
}

static const wf_party_t *
party_of(void *ctx, uint32_t firm)
{
    gen_t *g = ctx;
    return firm < NFIRMS ? &g->parties[firm] : NULL;
}

static void
assert_same(const wf_book_t *a, const wf_book_t *b, uint64_t seed, const char *when)
{
    char why[256] = "";
    if (wf_book__compare(a, b, why, sizeof why) != 0)
        cr_assert_fail("seed %llu, %s: the bulk-loaded book differs: %s", (unsigned long long)seed,
                       when, why);
}

/* n random orders, in both books: a by wf_book_add, b by bulk loading
 * (told hint orders are coming). */
static wf_order_t *
build_both(gen_t *g, size_t n, size_t hint, wf_book_t **a, wf_book_t **b)
{
    wf_order_t *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        random_order(g, &v[i]);
    *a = wf_book_new(cat);
    *b = wf_book_new(cat);
    for (size_t i = 0; i < n; i++)
        wf_book_add(*a, &v[i]);
    wf_book_load_begin(*b, hint);
    for (size_t i = 0; i < n; i++)
        if (wf_book_load_add(*b, &v[i])->id != v[i].id)
            cr_assert_fail("wf_book_load_add did not return the order's copy");
    wf_book_load_end(*b);
    return v;
}

Test(matcher_bulk, same_index)
{
    static const size_t sizes[] = {0, 1, 32, 33, 200, 3000, 20000};
    for (uint64_t seed = 1; seed <= 12; seed++) {
        gen_t g;
        gen_init(&g, seed);
        size_t n = sizes[seed % (sizeof sizes / sizeof *sizes)];
        wf_book_t *a, *b;
        free(build_both(&g, n, seed % 3 == 0 ? 0 : n, &a, &b)); /* a hint of 0 too */
        cr_assert_eq(wf_book_count(b), n);
        char when[64];
        snprintf(when, sizeof when, "%zu orders", n);
        assert_same(a, b, seed, when);
        wf_book_destroy(&a);
        wf_book_destroy(&b);
    }
}

static void
check_fills(const wf_fill_t *a, size_t na, const wf_fill_t *b, size_t nb, uint64_t seed, size_t op)
{
    if (na != nb) /* criterion's asserts cost a message each: test first */
        cr_assert_fail("seed %llu op %zu: %zu fills against %zu", (unsigned long long)seed, op, na, nb);
    for (size_t i = 0; i < na; i++)
        if (a[i].resting->id != b[i].resting->id || a[i].qty != b[i].qty ||
            a[i].price != b[i].price || a[i].fee != b[i].fee ||
            memcmp(&a[i].km, &b[i].km, sizeof a[i].km) != 0 ||
            memcmp(&a[i].score, &b[i].score, sizeof a[i].score) != 0)
            cr_assert_fail("seed %llu op %zu: fill %zu differs: order %llu/%llu qty %lld/%lld",
                           (unsigned long long)seed, op, i, (unsigned long long)a[i].resting->id,
                           (unsigned long long)b[i].resting->id, (long long)a[i].qty,
                           (long long)b[i].qty);
}

/* Both books through the same posts (planned on each, the fills applied
 * to each, the rest added to each), cancels and expiry sweeps. */
Test(matcher_bulk, same_matches)
{
    size_t total_fills = 0;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        gen_t g;
        gen_init(&g, 100 + seed);
        size_t n = seed % 2 ? 20000 : 4000;
        wf_book_t *a, *b;
        free(build_both(&g, n, n, &a, &b));
        assert_same(a, b, seed, "after loading");
        wf_rules_t rules = wf_rules_default();
        rules.eco_fee = seed % 3 == 0 ? 100 : 0;
        wf_match_env_t env = {.cat = cat, .rules = &rules, .now = T0, .ctx = &g, .party = party_of};
        wf_fill_t fa[WF_MAX_FILLS], fb[WF_MAX_FILLS];
        for (size_t op = 0; op < 2000; op++) {
            env.now = T0 + (int64_t)op * 40;
            if (op % 10 == 9) { /* cancel a random resting order */
                uint64_t id = 1 + below(&g, g.next_id - 1);
                wf_order_t *x = wf_book_find(a, id), *y = wf_book_find(b, id);
                if ((x == NULL) != (y == NULL))
                    cr_assert_fail("seed %llu op %zu: order %llu is in one book only",
                                   (unsigned long long)seed, op, (unsigned long long)id);
                if (x) {
                    wf_book_remove(a, x);
                    wf_book_remove(b, y);
                }
                continue;
            }
            wf_order_t x;
            random_order(&g, &x);
            size_t na = wf_book_match(a, &x, &env, fa, WF_MAX_FILLS);
            size_t nb = wf_book_match(b, &x, &env, fb, WF_MAX_FILLS);
            check_fills(fa, na, fb, nb, seed, op);
            int64_t filled = 0;
            for (size_t i = 0; i < na; i++) {
                filled += fa[i].qty;
                wf_book_fill(a, fa[i].resting, fa[i].qty);
                wf_book_fill(b, fb[i].resting, fb[i].qty);
            }
            total_fills += na;
            x.remaining = x.qty - filled;
            if (x.remaining > 0) {
                wf_book_add(a, &x);
                wf_book_add(b, &x);
            }
            if (op % 500 == 499) {
                char when[64];
                snprintf(when, sizeof when, "op %zu", op);
                assert_same(a, b, seed, when);
            }
        }
        assert_same(a, b, seed, "at the end");
        wf_book_destroy(&a);
        wf_book_destroy(&b);
    }
    cr_assert_gt(total_fills, 1000, "only %zu fills: the stream does not exercise matching", total_fills);
}
