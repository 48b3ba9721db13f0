/* Matcher throughput and latency: the indexed book (book.h) against the
 * brute-force reference (reference.h) on one province-scale op stream.
 *
 * A seeded generator lays out a market over Zhejiang's extent (lat
 * 27.0-31.2, lon 118.0-122.9): firms crowd around eight industrial cities
 * (Hangzhou, Ningbo, Shaoxing, Wenzhou, Jiaxing, Huzhou, Jinhua, Taizhou)
 * with a thin background elsewhere, credit spread over the tiers, a third
 * of them licensed for hazardous waste. Orders name every leaf code of the
 * catalogue with Zipf popularity, a demand sometimes a whole category;
 * lots are 0.5-50 t (in kg, log-uniform), prices are signed fen/t around a
 * per-code reference (hazardous waste costs its producer), radii 10-150
 * km, some minimum fills and credits; the eco fee is on.
 *
 * For each book size the book is first filled to that size by posting
 * through the matcher (so it rests uncrossed, as a live book does), then
 * an op stream runs: posts of offers and demands (match, apply the fills,
 * rest the remainder), one-click takes of a resting offer, and cancels,
 * the cancels holding the book at its size. Each op is timed with
 * clock_gettime (the ~20 ns of the clock itself is in the figures). The
 * reference is filled with a copy of the same book and runs a prefix of
 * the same stream (it is O(book) per op), and the fills of that prefix are
 * compared, so the bench also checks that the two agree; the prefix is
 * --ref-ops long (default 1000) but at most 10^9 / size ops (100 at 10M). Memory per
 * resting order is the heap growth of filling the book (mallinfo2), over
 * the orders resting.
 *
 * Usage: bench-matcher [--catalogue PATH] [--sizes 10000,100000,...]
 *                      [--ops N] [--ref-ops N] [--seed N]
 * Run from the repository root. Prints a table, then one JSON line. */
#include <malloc.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "book.h"
#include "catalogue.h"
#include "reference.h"
#include "wf_alloc.h"
#include "wf_clock.h"
#include "wf_error.h"

#define MAX_SIZES 8
#define NFIRMS 50000
#define NOW_MS 1780243200000LL

/* ---- deterministic randomness ------------------------------------------- */

typedef struct rng {
    uint64_t s;
} rng_t;

static uint64_t
rnd(rng_t *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double
uni(rng_t *r) /* [0, 1) */
{
    return (double)(rnd(r) >> 11) * 0x1.0p-53;
}

static double
gauss(rng_t *r)
{
    double u = uni(r), v = uni(r);
    return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * M_PI * v);
}

/* ---- the market --------------------------------------------------------- */

static const struct city {
    const char *name;
    double lat, lon, sigma, weight;
    uint32_t code; /* 4-digit city division code */
} cities[] = {
    {"Hangzhou", 30.27, 120.16, 0.18, 0.22, 3301}, {"Ningbo", 29.87, 121.55, 0.16, 0.17, 3302},
    {"Wenzhou", 28.00, 120.67, 0.14, 0.12, 3303},  {"Jiaxing", 30.75, 120.76, 0.12, 0.10, 3304},
    {"Huzhou", 30.87, 120.09, 0.12, 0.07, 3305},   {"Shaoxing", 30.00, 120.58, 0.13, 0.12, 3306},
    {"Jinhua", 29.08, 119.65, 0.14, 0.10, 3307},   {"Taizhou", 28.66, 121.42, 0.13, 0.10, 3310},
};
#define NCITIES (sizeof cities / sizeof *cities)

typedef struct market {
    const wf_catalogue_t *cat;
    wf_party_t party[NFIRMS];
    double lat[NFIRMS], lon[NFIRMS];
    bool licensed[NFIRMS];
    uint8_t city[NFIRMS];            /* the cluster a firm belongs to (or is nearest to) */
    uint32_t *city_firms[NCITIES];   /* firms per city, licensed ones first */
    uint32_t ncity_firms[NCITIES], ncity_licensed[NCITIES];
    uint32_t licensed_ids[NFIRMS];
    uint32_t nlicensed;
    int32_t *leaf;       /* leaf codes, in popularity order */
    double *cdf;         /* Zipf cumulative weights over leaf[] */
    int64_t *ref_price;  /* per catalogue id: reference price, fen/t */
    int64_t *spread;     /* per catalogue id */
    size_t nleaf;
    wf_rules_t rules;
    wf_match_env_t env;
} market_t;

static const wf_party_t *
party_of(void *ctx, uint32_t firm)
{
    return &((market_t *)ctx)->party[firm];
}

/* Licensed consumers have room to spare; the rest may take hazardous
 * waste only through a lane, which this market has none of. */
static int64_t
allowance_of(void *ctx, uint32_t consumer, uint32_t producer, int32_t code, int64_t now)
{
    (void)producer, (void)code, (void)now;
    return ((market_t *)ctx)->licensed[consumer] ? 1000000000000LL : 0;
}

static void
market_init(market_t *m, const wf_catalogue_t *cat, uint64_t seed)
{
    rng_t r = {seed};
    memset(m, 0, sizeof *m);
    m->cat = cat;
    for (uint32_t f = 0; f < NFIRMS; f++) {
        size_t c = 0;
        double u = uni(&r), acc = 0;
        for (c = 0; c + 1 < NCITIES; c++) {
            acc += cities[c].weight;
            if (u < acc)
                break;
        }
        if (uni(&r) < 0.15) { /* the background: anywhere in the province */
            m->lat[f] = 27.0 + 4.2 * uni(&r);
            m->lon[f] = 118.0 + 4.9 * uni(&r);
        } else {
            m->lat[f] = cities[c].lat + cities[c].sigma * gauss(&r);
            m->lon[f] = cities[c].lon + cities[c].sigma * gauss(&r) * 1.15;
        }
        double t = uni(&r); /* tiers: A 20%, B 40%, C 30%, D 10% */
        int32_t credit = t < 0.2 ? 90 + (int32_t)(rnd(&r) % 11)
                       : t < 0.6 ? 75 + (int32_t)(rnd(&r) % 15)
                       : t < 0.9 ? 60 + (int32_t)(rnd(&r) % 15)
                                 : 30 + (int32_t)(rnd(&r) % 30);
        m->party[f] = (wf_party_t){
            .credit = credit,
            .blocked = uni(&r) < 0.005,
            .county = cities[c].code * 100 + 1 + (uint32_t)(rnd(&r) % 9),
        };
        m->licensed[f] = uni(&r) < 0.3;
        if (m->licensed[f])
            m->licensed_ids[m->nlicensed++] = f;
        m->city[f] = (uint8_t)c;
    }
    for (size_t c = 0; c < NCITIES; c++) {
        m->city_firms[c] = wf_malloc(NFIRMS * sizeof *m->city_firms[c]);
        for (int lic = 1; lic >= 0; lic--)
            for (uint32_t f = 0; f < NFIRMS; f++)
                if (m->city[f] == c && m->licensed[f] == (bool)lic)
                    m->city_firms[c][m->ncity_firms[c]++] = f;
        for (uint32_t f = 0; f < NFIRMS; f++)
            m->ncity_licensed[c] += m->city[f] == c && m->licensed[f];
    }

    size_t n = wf_catalogue_count(cat);
    m->leaf = wf_malloc(n * sizeof *m->leaf);
    m->ref_price = wf_calloc(n, sizeof *m->ref_price);
    m->spread = wf_calloc(n, sizeof *m->spread);
    for (size_t id = 0; id < n; id++) {
        const wf_code_t *c = wf_catalogue_get(cat, (int32_t)id);
        if (!c->leaf)
            continue;
        m->leaf[m->nleaf++] = (int32_t)id;
        int64_t p;
        if (c->hazardous)
            p = -(50000 + (int64_t)(rnd(&r) % 250000)); /* the producer pays 500..3000 CNY/t */
        else if (c->cls == WF_CLASS_RECYCLABLE)
            p = 10000 + (int64_t)(rnd(&r) % 190000);
        else
            p = -30000 + (int64_t)(rnd(&r) % 80000);
        m->ref_price[id] = p;
        int64_t s = llabs(p) / 5;
        m->spread[id] = s < 5000 ? 5000 : s;
    }
    for (size_t i = m->nleaf; i-- > 1;) { /* popularity is not catalogue order */
        size_t j = rnd(&r) % (i + 1);
        int32_t t = m->leaf[i];
        m->leaf[i] = m->leaf[j];
        m->leaf[j] = t;
    }
    m->cdf = wf_malloc(m->nleaf * sizeof *m->cdf);
    double acc = 0;
    for (size_t i = 0; i < m->nleaf; i++)
        m->cdf[i] = acc += 1.0 / (double)(i + 1);
    for (size_t i = 0; i < m->nleaf; i++)
        m->cdf[i] /= acc;

    m->rules = wf_rules_default();
    m->rules.eco_fee = 2000; /* 20 CNY/t across counties */
    m->env = (wf_match_env_t){
        .cat = cat, .rules = &m->rules, .now = NOW_MS, .ctx = m,
        .party = party_of, .allowance = allowance_of,
    };
}

static void
market_fini(market_t *m)
{
    wf_free(m->leaf);
    wf_free(m->cdf);
    wf_free(m->ref_price);
    wf_free(m->spread);
    for (size_t c = 0; c < NCITIES; c++)
        wf_free(m->city_firms[c]);
}

static int32_t
zipf_code(const market_t *m, rng_t *r)
{
    double u = uni(r);
    size_t lo = 0, hi = m->nleaf - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return m->leaf[lo];
}

static int64_t
round100(double v)
{
    return (int64_t)llround(v / 100.0) * 100;
}

/* A fresh offer or demand, id left 0. */
static void
gen_order(const market_t *m, rng_t *r, wf_order_t *o, wf_side_t side)
{
    memset(o, 0, sizeof *o);
    int32_t code = zipf_code(m, r);
    bool hazardous = wf_catalogue_get(m->cat, code)->hazardous;
    /* The engine refuses hazardous demand without a licence, and any post
     * from a blacklisted firm. */
    uint32_t firm;
    do
        firm = side == WF_DEMAND && hazardous ? m->licensed_ids[rnd(r) % m->nlicensed]
                                              : (uint32_t)(rnd(r) % NFIRMS);
    while (m->party[firm].blocked);
    double p = (double)m->ref_price[code], s = (double)m->spread[code];
    o->side = side;
    o->firm = firm;
    if (side == WF_OFFER) {
        o->code = code;
        o->price = round100(p + s * (2 * uni(r) - 1));
    } else {
        o->code = -1;
        double u = uni(r);
        int32_t parent = wf_catalogue_get(m->cat, code)->parent;
        if (u < 0.15 && parent >= 0) {
            o->npatterns = 1;
            o->patterns[0] = parent; /* the whole category */
        } else if (u < 0.2) {
            o->npatterns = 2;
            o->patterns[0] = code;
            o->patterns[1] = zipf_code(m, r);
        } else {
            o->npatterns = 1;
            o->patterns[0] = code;
        }
        o->price = round100(p - 0.6 * s + s * (2 * uni(r) - 1));
    }
    o->qty = o->remaining = (int64_t)(500.0 * exp(log(100.0) * uni(r))); /* 0.5..50 t */
    o->min_fill = uni(r) < 0.75 ? 1 : (int64_t)((double)o->qty * (0.1 + 0.4 * uni(r)));
    if (o->min_fill < 1)
        o->min_fill = 1;
    double c = uni(r);
    o->min_credit = c < 0.7 ? 0 : c < 0.9 ? 60 : 75;
    o->lat = m->lat[firm];
    o->lon = m->lon[firm];
    o->max_km = 10.0 * exp(log(15.0) * uni(r)); /* 10..150 km */
}

/* ---- books behind one interface ----------------------------------------- */

typedef struct book_vt {
    size_t (*match)(const void *b, const wf_order_t *x, const wf_match_env_t *env, wf_fill_t *out,
                    size_t cap);
    bool (*fill)(void *b, wf_order_t *o, int64_t qty);
    wf_order_t *(*add)(void *b, const wf_order_t *o);
    wf_order_t *(*find)(const void *b, uint64_t id);
    void (*remove)(void *b, wf_order_t *o);
    size_t (*count)(const void *b);
} book_vt_t;

static size_t fast_match(const void *b, const wf_order_t *x, const wf_match_env_t *env, wf_fill_t *out, size_t cap) { return wf_book_match(b, x, env, out, cap); }
static bool fast_fill(void *b, wf_order_t *o, int64_t q) { return wf_book_fill(b, o, q); }
static wf_order_t *fast_add(void *b, const wf_order_t *o) { return wf_book_add(b, o); }
static wf_order_t *fast_find(const void *b, uint64_t id) { return wf_book_find(b, id); }
static void fast_remove(void *b, wf_order_t *o) { wf_book_remove(b, o); }
static size_t fast_count(const void *b) { return wf_book_count(b); }
static const book_vt_t fast_vt = {fast_match, fast_fill, fast_add, fast_find, fast_remove, fast_count};

static size_t ref_match(const void *b, const wf_order_t *x, const wf_match_env_t *env, wf_fill_t *out, size_t cap) { return wf_refbook_match(b, x, env, out, cap); }
static bool ref_fill(void *b, wf_order_t *o, int64_t q) { return wf_refbook_fill(b, o, q); }
static wf_order_t *ref_add(void *b, const wf_order_t *o) { return wf_refbook_add(b, o); }
static wf_order_t *ref_find(const void *b, uint64_t id) { return wf_refbook_find(b, id); }
static void ref_remove(void *b, wf_order_t *o) { wf_refbook_remove(b, o); }
static size_t ref_count(const void *b) { return wf_refbook_count(b); }
static const book_vt_t ref_vt = {ref_match, ref_fill, ref_add, ref_find, ref_remove, ref_count};

/* ---- the op stream ------------------------------------------------------ */

/* Each op carries a fresh order and a uniform draw; what it does is
 * decided when it runs, from the draw and the book's size (cancels hold
 * the book at its size), identically for both books. */
typedef struct stream {
    double *u;
    wf_order_t *x;
    size_t n;
} stream_t;

/* The ids of orders that came to rest, for takes and cancels to draw
 * from; an id whose order has gone is dropped when it is drawn. */
typedef struct live {
    uint64_t *id;
    size_t n, cap;
} live_t;

typedef struct run {
    const book_vt_t *vt;
    void *book;
    const market_t *m;
    live_t live;
    uint64_t next_id;
    rng_t r;
    size_t target;      /* the book size cancels hold */
    /* results */
    size_t posts, matched_posts, fills, takes, takes_filled, cancels;
    uint64_t digest;    /* of every fill, to compare runs */
} run_t;

static void
live_push(live_t *l, uint64_t id)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        l->id = wf_realloc(l->id, l->cap * sizeof *l->id);
    }
    l->id[l->n++] = id;
}

/* A resting order drawn at random (an offer when offer_only), or NULL
 * after a bounded number of draws. */
static wf_order_t *
live_draw(run_t *u, bool offer_only)
{
    for (int tries = 0; tries < 16 && u->live.n > 0; tries++) {
        size_t i = rnd(&u->r) % u->live.n;
        wf_order_t *o = u->vt->find(u->book, u->live.id[i]);
        if (!o) {
            u->live.id[i] = u->live.id[--u->live.n];
            continue;
        }
        if (!offer_only || o->side == WF_OFFER)
            return o;
    }
    return NULL;
}

static void
digest(run_t *u, const wf_fill_t *f)
{
    uint64_t h = u->digest ^ f->resting->id;
    h = (h ^ (uint64_t)f->qty) * 0x100000001b3ULL;
    uint64_t bits;
    memcpy(&bits, &f->score, sizeof bits);
    u->digest = (h ^ bits) * 0x100000001b3ULL;
}

/* Plans x, applies the fills, rests what is left (unless x is a take). */
static size_t
post(run_t *u, wf_order_t *x)
{
    wf_fill_t fills[WF_MAX_FILLS];
    x->id = u->next_id++;
    size_t n = u->vt->match(u->book, x, &u->m->env, fills, WF_MAX_FILLS);
    for (size_t i = 0; i < n; i++) {
        digest(u, &fills[i]);
        x->remaining -= fills[i].qty;
        u->vt->fill(u->book, fills[i].resting, fills[i].qty);
    }
    if (x->remaining > 0 && x->target == 0) {
        u->vt->add(u->book, x);
        live_push(&u->live, x->id);
    }
    u->fills += n;
    return n;
}

/* A firm of y's city to take y: licensed when y is hazardous. */
static uint32_t
taker(run_t *u, const wf_order_t *y)
{
    const market_t *m = u->m;
    unsigned c = m->city[y->firm];
    bool haz = wf_catalogue_get(m->cat, y->code)->hazardous;
    uint32_t n = haz ? m->ncity_licensed[c] : m->ncity_firms[c];
    for (;;) {
        uint32_t f = n ? m->city_firms[c][rnd(&u->r) % n] : (uint32_t)(rnd(&u->r) % NFIRMS);
        if (!m->party[f].blocked)
            return f;
    }
}

static void
op(run_t *u, const stream_t *s, size_t i)
{
    wf_order_t x = s->x[i];
    bool over = u->vt->count(u->book) > u->target;
    double cancel = over ? 0.45 : 0.15, take = cancel + 0.15;
    if (s->u[i] < cancel) {
        wf_order_t *y = live_draw(u, false);
        if (y) {
            u->vt->remove(u->book, y);
            u->cancels++;
        }
    } else if (s->u[i] < take) {
        /* A one-click take: a firm nearby takes a resting offer at its price. */
        wf_order_t *y = live_draw(u, true);
        if (!y)
            return;
        x.side = WF_DEMAND;
        x.code = -1;
        x.firm = taker(u, y);
        x.lat = u->m->lat[x.firm];
        x.lon = u->m->lon[x.firm];
        x.target = y->id;
        x.npatterns = 1;
        x.patterns[0] = y->code;
        x.price = y->price + u->m->rules.eco_fee;
        x.max_km = 150;
        x.min_credit = 0;
        x.min_fill = 1;
        u->takes++;
        u->takes_filled += post(u, &x) > 0;
    } else {
        u->posts++;
        u->matched_posts += post(u, &x) > 0;
    }
}

/* Posts until the book holds n orders. */
static void
fill_book(run_t *u, rng_t *r, size_t n)
{
    while (u->vt->count(u->book) < n) {
        wf_order_t x;
        gen_order(u->m, r, &x, uni(r) < 0.5 ? WF_OFFER : WF_DEMAND);
        post(u, &x);
    }
}

static void
gen_stream(const market_t *m, rng_t *r, stream_t *s, size_t n)
{
    s->n = n;
    s->u = wf_malloc(n * sizeof *s->u);
    s->x = wf_malloc(n * sizeof *s->x);
    for (size_t i = 0; i < n; i++) {
        s->u[i] = uni(r);
        gen_order(m, r, &s->x[i], uni(r) < 0.5 ? WF_OFFER : WF_DEMAND);
    }
}

static void
stream_fini(stream_t *s)
{
    wf_free(s->u);
    wf_free(s->x);
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

typedef struct timing {
    double secs, ops_s, p50_us, p99_us, p999_us, max_us;
} timing_t;

/* Runs ops [0, n) of s; per-op latency with the monotonic clock. */
static timing_t
run_stream(run_t *u, const stream_t *s, size_t n, uint32_t *lat)
{
    int64_t start = wf_mono_ns(), t = start;
    for (size_t i = 0; i < n; i++) {
        op(u, s, i);
        int64_t now = wf_mono_ns();
        int64_t d = now - t;
        lat[i] = d > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)d;
        t = now;
    }
    timing_t tm = {.secs = (double)(t - start) / 1e9};
    tm.ops_s = (double)n / tm.secs;
    qsort(lat, n, sizeof *lat, cmp_u32);
    tm.p50_us = lat[n / 2] / 1e3;
    tm.p99_us = lat[(size_t)((double)n * 0.99)] / 1e3;
    tm.p999_us = lat[(size_t)((double)n * 0.999)] / 1e3;
    tm.max_us = lat[n - 1] / 1e3;
    return tm;
}

static size_t
heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static size_t
rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long size = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &size, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (size_t)sysconf(_SC_PAGESIZE);
}

static bool
copy_to_ref(void *arg, const wf_order_t *o)
{
    wf_order_t c = *o;
    c.hnext = NULL;
    memset(c.pos, 0, sizeof c.pos);
    wf_refbook_add(arg, &c);
    return true;
}

/* ---- main --------------------------------------------------------------- */

typedef struct result {
    size_t size, resting, ops, ref_ops;
    timing_t fast, ref, fast_prefix;
    double bytes_per_order, rss_per_order, prefill_s;
    double match_rate, take_rate, fills_per_post;
    bool agree;
} result_t;

static void
bench_size(const wf_catalogue_t *cat, size_t size, size_t nops, size_t ref_ops, uint64_t seed,
           result_t *res)
{
    market_t *m = wf_malloc(sizeof *m);
    market_init(m, cat, seed);
    rng_t gr = {seed * 31 + 7};
    stream_t s;
    gen_stream(m, &gr, &s, nops);
    uint32_t *lat = wf_malloc(nops * sizeof *lat);

    run_t u = {.vt = &fast_vt, .m = m, .next_id = 1, .r = {seed ^ 0x5bd1e995}, .target = size};
    u.live.cap = size + size / 2 + 1024;
    u.live.id = wf_malloc(u.live.cap * sizeof *u.live.id);
    size_t h0 = heap_bytes(), r0 = rss_bytes();
    int64_t t0 = wf_mono_ns();
    u.book = wf_book_new(cat);
    fill_book(&u, &gr, size);
    res->prefill_s = (double)(wf_mono_ns() - t0) / 1e9;
    size_t h1 = heap_bytes(), r1 = rss_bytes();
    res->size = size;
    res->resting = wf_book_count(u.book);
    res->bytes_per_order = (double)(h1 - h0) / (double)res->resting;
    res->rss_per_order = (double)(r1 - r0) / (double)res->resting;

    /* The reference: a copy of the book, the same prefix of the stream. */
    /* The reference is O(book) per op: at most 10^9 order-visits of it. */
    res->ref_ops = ref_ops < nops ? ref_ops : nops;
    if (res->ref_ops > 1000000000 / size)
        res->ref_ops = 1000000000 / size;
    if (res->ref_ops < 10)
        res->ref_ops = 10;
    run_t v = u;
    v.vt = &ref_vt;
    v.book = wf_refbook_new(cat);
    wf_book_each(u.book, copy_to_ref, v.book);
    v.live.id = wf_malloc(u.live.cap * sizeof *v.live.id);
    memcpy(v.live.id, u.live.id, u.live.n * sizeof *v.live.id);
    v.digest = 0;
    res->ref = run_stream(&v, &s, res->ref_ops, lat);
    wf_refbook_destroy((wf_refbook_t **)&v.book);
    wf_free(v.live.id);

    /* The indexed book: the whole stream; the prefix's digest must match. */
    u.digest = 0;
    u.posts = u.matched_posts = u.fills = u.takes = u.takes_filled = u.cancels = 0;
    run_t w = u;
    res->fast_prefix = run_stream(&w, &s, res->ref_ops, lat);
    res->agree = w.digest == v.digest;
    run_t z = w; /* continue where the prefix left off */
    stream_t rest = {.u = s.u + res->ref_ops, .x = s.x + res->ref_ops, .n = nops - res->ref_ops};
    timing_t tail = run_stream(&z, &rest, rest.n, lat);
    /* Figures over the whole stream: prefix and tail together. The
     * percentiles are the tail's (it is nearly all of it). */
    res->ops = nops;
    res->fast = tail;
    res->fast.secs = tail.secs + res->fast_prefix.secs;
    res->fast.ops_s = (double)nops / res->fast.secs;
    res->match_rate = z.posts ? (double)z.matched_posts / (double)z.posts : 0;
    res->take_rate = z.takes ? (double)z.takes_filled / (double)z.takes : 0;
    res->fills_per_post = z.posts + z.takes ? (double)z.fills / (double)(z.posts + z.takes) : 0;
    fprintf(stderr, "  size %zu: book now %zu, %zu posts (%.0f%% matched), %zu takes, %zu cancels\n",
            size, wf_book_count(z.book), z.posts, 100 * res->match_rate, z.takes, z.cancels);

    wf_book_destroy((wf_book_t **)&z.book);
    wf_free(z.live.id);
    wf_free(lat);
    stream_fini(&s);
    market_fini(m);
    wf_free(m);
}

int
main(int argc, char **argv)
{
    const char *catpath = "data/catalogue.tsv";
    size_t sizes[MAX_SIZES] = {10000, 100000, 1000000, 10000000}, nsizes = 4;
    size_t nops = 1000000, ref_ops = 1000;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--catalogue") == 0 && i + 1 < argc) {
            catpath = argv[++i];
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--ops") == 0 && i + 1 < argc) {
            nops = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--ref-ops") == 0 && i + 1 < argc) {
            ref_ops = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) {
            nsizes = 0;
            for (char *s = argv[++i], *end; *s && nsizes < MAX_SIZES; s = end) {
                sizes[nsizes++] = strtoull(s, &end, 10);
                if (*end == ',')
                    end++;
                else if (*end)
                    break;
            }
        } else {
            fprintf(stderr,
                    "usage: %s [--catalogue PATH] [--sizes 10000,100000,...] [--ops N] "
                    "[--ref-ops N] [--seed N]\n",
                    argv[0]);
            return 2;
        }
    }
    if (nops < 10) {
        fprintf(stderr, "--ops must be at least 10\n");
        return 2;
    }
    char err[256];
    wf_catalogue_t *cat = wf_catalogue_new();
    if (wf_catalogue_load(cat, catpath, err, sizeof err) != WF_OK) {
        fprintf(stderr, "bench-matcher: %s\n", err);
        return 1;
    }

    result_t res[MAX_SIZES];
    printf("%10s %9s %12s %8s %8s %8s %9s %9s %8s %12s %9s %6s\n", "resting", "ops", "ops/s",
           "p50 us", "p99 us", "p99.9 us", "B/order", "RSS B/o", "ref ops", "ref ops/s", "speedup",
           "agree");
    for (size_t k = 0; k < nsizes; k++) {
        fprintf(stderr, "size %zu: filling the book...\n", sizes[k]);
        bench_size(cat, sizes[k], nops, ref_ops, seed, &res[k]);
        result_t *r = &res[k];
        printf("%10zu %9zu %12.0f %8.2f %8.2f %8.2f %9.0f %9.0f %8zu %12.1f %9.0f %6s\n", r->resting,
               r->ops, r->fast.ops_s, r->fast.p50_us, r->fast.p99_us, r->fast.p999_us,
               r->bytes_per_order, r->rss_per_order, r->ref_ops, r->ref.ops_s,
               r->fast_prefix.ops_s / r->ref.ops_s, r->agree ? "yes" : "NO");
        fflush(stdout);
    }

    printf("{\"bench\":\"matcher\",\"seed\":%lu,\"ops\":%zu,\"ref_ops\":%zu,\"results\":[",
           (unsigned long)seed, nops, ref_ops);
    for (size_t k = 0; k < nsizes; k++) {
        result_t *r = &res[k];
        printf("%s{\"resting\":%zu,\"prefill_s\":%.2f,\"ops_per_s\":%.0f,\"p50_us\":%.3f,"
               "\"p99_us\":%.3f,\"p999_us\":%.3f,\"max_us\":%.1f,\"bytes_per_order\":%.0f,"
               "\"rss_bytes_per_order\":%.0f,\"posts_matched\":%.3f,\"takes_filled\":%.3f,"
               "\"fills_per_post\":%.3f,\"ref_ops\":%zu,\"ref_ops_per_s\":%.1f,"
               "\"fast_ops_per_s_same_prefix\":%.0f,\"speedup\":%.1f,\"agree\":%s}",
               k ? "," : "", r->resting, r->prefill_s, r->fast.ops_s, r->fast.p50_us,
               r->fast.p99_us, r->fast.p999_us, r->fast.max_us, r->bytes_per_order,
               r->rss_per_order, r->match_rate, r->take_rate, r->fills_per_post, r->ref_ops,
               r->ref.ops_s, r->fast_prefix.ops_s, r->fast_prefix.ops_s / r->ref.ops_s,
               r->agree ? "true" : "false");
    }
    double ratio = nsizes >= 1 ? res[nsizes - 1].fast.ops_s / res[0].fast.ops_s : 0;
    printf("],\"throughput_last_over_first\":%.3f}\n", ratio);
    wf_catalogue_destroy(&cat);
    for (size_t k = 0; k < nsizes; k++)
        if (!res[k].agree)
            return 1;
    return 0;
}
