/* Match quality: continuous matching against the batch optimum.
 *
 * A seeded province-scale scenario (firms over Zhejiang, denser around
 * Hangzhou, Ningbo, Shaoxing, Wenzhou and Jiaxing; waste codes from the
 * catalogue with skewed popularity; 0.5..50 t lots; prices, radii 10..150
 * km, a spread of credit) is posted one order at a time into a wf_book_t as
 * the engine does (wf_book_match, wf_book_fill, wf_book_add for the rest).
 * The same orders are then handed to the optimiser all at once, as if they
 * had all rested together: goal MIN_TONNE_KM (most quantity, then fewest
 * tonne-km), and again limited to the quantity continuous matching moved,
 * which gives the tonne-km comparison at equal matched quantity, and for
 * score (sum of qty x score, every fill scored the way the optimiser
 * scores a pair). A second continuous run ranks by distance only
 * (w_credit = w_price = 0) and is compared with the optimum at its own
 * quantity: what is left is the gap of greedy arrival-order matching
 * itself. The
 * licence rule is off (env.allowance = NULL); it is tested in
 * tests/test_matcher_optimise.c.
 *
 * Usage: bench-quality [--catalogue PATH] [--seed N] [--sizes 200,1000,5000]
 * Prints a table, then one JSON line with the figures. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "book.h"
#include "catalogue.h"
#include "optimise.h"
#include "wf_alloc.h"
#include "wf_clock.h"
#include "wf_error.h"

#define MAX_SIZES 8
#define NCODES_POPULAR 80 /* codes in play; popularity is Zipf over them */
#define NOW_MS 1780243200000LL

/* ---- deterministic randomness -------------------------------------------- */

static uint64_t rng_state;

static uint64_t
rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double
uni(void) /* [0, 1) */
{
    return (double)(rnd() >> 11) * 0x1.0p-53;
}

static double
gauss(void)
{
    double u = uni(), v = uni();
    return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * M_PI * v);
}

static double
clampd(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* ---- the scenario --------------------------------------------------------- */

typedef struct cluster {
    const char *name;
    double lat, lon, weight;
    uint32_t city; /* 4-digit division code */
} cluster_t;

static const cluster_t clusters[] = {
    {"Hangzhou", 30.27, 120.15, 0.30, 3301}, {"Ningbo", 29.87, 121.55, 0.22, 3302},
    {"Wenzhou", 28.00, 120.70, 0.16, 3303},  {"Jiaxing", 30.75, 120.76, 0.14, 3304},
    {"Shaoxing", 30.00, 120.58, 0.18, 3306},
};
#define NCLUSTERS (sizeof clusters / sizeof clusters[0])

/* Zhejiang's extent. */
#define LAT_MIN 27.0
#define LAT_MAX 31.2
#define LON_MIN 118.0
#define LON_MAX 122.9

typedef struct firm {
    double lat, lon;
    bool producer;
} firm_t;

typedef struct scenario {
    const wf_catalogue_t *cat;
    firm_t *firms;
    wf_party_t *parties;
    size_t nfirms;
    int32_t codes[NCODES_POPULAR];
    double cum[NCODES_POPULAR]; /* cumulative Zipf weights */
    size_t ncodes;
    wf_order_t *orders; /* in arrival order */
    size_t norders;
} scenario_t;

static const wf_party_t *
party(void *ctx, uint32_t firm)
{
    return &((const scenario_t *)ctx)->parties[firm];
}

static int32_t
pick_code(const scenario_t *sc)
{
    double u = uni() * sc->cum[sc->ncodes - 1];
    size_t k = 0;
    while (k + 1 < sc->ncodes && sc->cum[k] < u)
        k++;
    return sc->codes[k];
}

/* The codes in play: every general leaf (industrial, construction, ...)
 * and a sample of hazardous leaves, shuffled, Zipf(1.1) by rank. */
static void
pick_codes(scenario_t *sc)
{
    size_t n = wf_catalogue_count(sc->cat), ngen = 0, nhaz = 0;
    int32_t *gen = wf_malloc(n * sizeof *gen), *haz = wf_malloc(n * sizeof *haz);
    for (size_t id = 0; id < n; id++) {
        const wf_code_t *c = wf_catalogue_get(sc->cat, (int32_t)id);
        if (!c->leaf)
            continue;
        if (c->hazardous)
            haz[nhaz++] = (int32_t)id;
        else
            gen[ngen++] = (int32_t)id;
    }
    sc->ncodes = 0;
    for (size_t i = 0; i < ngen && sc->ncodes < NCODES_POPULAR / 2; i++)
        sc->codes[sc->ncodes++] = gen[i];
    for (size_t i = nhaz; i > 1; i--) { /* shuffle, then take the first few */
        size_t j = rnd() % i;
        int32_t t = haz[i - 1];
        haz[i - 1] = haz[j];
        haz[j] = t;
    }
    for (size_t i = 0; i < nhaz && sc->ncodes < NCODES_POPULAR; i++)
        sc->codes[sc->ncodes++] = haz[i];
    for (size_t i = sc->ncodes; i > 1; i--) {
        size_t j = rnd() % i;
        int32_t t = sc->codes[i - 1];
        sc->codes[i - 1] = sc->codes[j];
        sc->codes[j] = t;
    }
    double acc = 0;
    for (size_t k = 0; k < sc->ncodes; k++) {
        acc += 1.0 / pow((double)(k + 1), 1.1);
        sc->cum[k] = acc;
    }
    wf_free(gen);
    wf_free(haz);
}

static void
make_firms(scenario_t *sc, size_t nfirms)
{
    sc->nfirms = nfirms;
    sc->firms = wf_calloc(nfirms, sizeof *sc->firms);
    sc->parties = wf_calloc(nfirms, sizeof *sc->parties);
    for (size_t f = 0; f < nfirms; f++) {
        firm_t *fm = &sc->firms[f];
        uint32_t city = 3307; /* Jinhua, for the firms outside the clusters */
        if (uni() < 0.75) {
            double u = uni(), acc = 0;
            size_t c = 0;
            for (; c + 1 < NCLUSTERS; c++) {
                acc += clusters[c].weight;
                if (u < acc)
                    break;
            }
            fm->lat = clampd(clusters[c].lat + 0.15 * gauss(), LAT_MIN, LAT_MAX);
            fm->lon = clampd(clusters[c].lon + 0.17 * gauss(), LON_MIN, LON_MAX);
            city = clusters[c].city;
        } else {
            fm->lat = LAT_MIN + uni() * (LAT_MAX - LAT_MIN);
            fm->lon = LON_MIN + uni() * (LON_MAX - LON_MIN);
        }
        fm->producer = uni() < 0.6;
        sc->parties[f] = (wf_party_t){
            .credit = (int32_t)clampd(round(80.0 + 10.0 * gauss()), 30, 100),
            .blocked = uni() < 0.01,
            .county = city * 100 + 1 + (uint32_t)(rnd() % 9),
        };
    }
}

/* Log-uniform 500 kg .. 50 t, to the 10 kg. */
static int64_t
lot(void)
{
    return (int64_t)(exp(log(500.0) + uni() * (log(50000.0) - log(500.0))) / 10.0) * 10;
}

static void
make_orders(scenario_t *sc, size_t norders)
{
    sc->norders = norders;
    sc->orders = wf_calloc(norders, sizeof *sc->orders);
    for (size_t i = 0; i < norders; i++) {
        wf_order_t *o = &sc->orders[i];
        bool is_offer = uni() < 0.5;
        uint32_t f;
        do
            f = (uint32_t)(rnd() % sc->nfirms);
        while (sc->firms[f].producer != is_offer);
        int32_t code = pick_code(sc);
        const wf_code_t *c = wf_catalogue_get(sc->cat, code);
        *o = (wf_order_t){
            .id = i + 1,
            .side = is_offer ? WF_OFFER : WF_DEMAND,
            .firm = f,
            .code = is_offer ? code : -1,
            .qty = lot(),
            .min_fill = 1,
            .min_credit = uni() < 0.2 ? (uni() < 0.5 ? 60 : 70) : 0,
            .lat = sc->firms[f].lat,
            .lon = sc->firms[f].lon,
            .max_km = 10.0 + uni() * 140.0,
        };
        o->remaining = o->qty;
        /* fen per tonne: hazardous waste costs its producer a disposal fee
         * (offers pay up to 1000..4000 CNY/t, disposers charge at least
         * 800..3000); general waste trades around zero. */
        if (c->hazardous)
            o->price = is_offer ? -(int64_t)(100000 + uni() * 300000)
                                : -(int64_t)(80000 + uni() * 220000);
        else
            o->price = is_offer ? (int64_t)(-20000 + uni() * 50000)
                                : (int64_t)(-10000 + uni() * 60000);
        if (!is_offer) {
            o->npatterns = 1;
            o->patterns[0] = (uni() < 0.35 && c->parent >= 0) ? c->parent : code;
            if (uni() < 0.3) {
                int32_t extra = pick_code(sc);
                if (extra != o->patterns[0])
                    o->patterns[o->npatterns++] = extra;
            }
            if (uni() < 0.2)
                o->min_fill = 1000;
        } else if (uni() < 0.1) {
            o->min_fill = 2000;
        }
    }
}

static void
scenario_fini(scenario_t *sc)
{
    wf_free(sc->firms);
    wf_free(sc->parties);
    wf_free(sc->orders);
}

/* ---- the two runs --------------------------------------------------------- */

typedef struct result {
    size_t norders, noffers, ndemands;
    int64_t offered, demanded;
    /* continuous */
    int64_t c_qty;
    double c_tkm, c_score, c_ms;
    size_t c_fills;
    /* optimum, max quantity then min tonne-km */
    int64_t o_qty;
    double o_tkm, o_ms;
    size_t o_arcs, o_pairs;
    unsigned o_rounds;
    size_t o_banned;
    const char *o_solver;
    /* optimum at the continuous quantity */
    int64_t e_qty;
    double e_tkm, e_ms;
    /* optimum for score */
    double s_score, s_ms;
    /* optimum with every order's quantity fixed to what continuous
     * matching gave it (the same tonnes, routed optimally) */
    int64_t f_qty, df_qty;
    double f_tkm, df_tkm;
    /* continuous with distance-only ranking (w_credit = w_price = 0) */
    int64_t d_qty;
    double d_tkm, d_score;
    size_t d_fills;
    /* optimum at the distance-only continuous quantity */
    int64_t de_qty;
    double de_tkm, de_ms;
} result_t;

static double
ms_since(int64_t t0)
{
    return (double)(wf_mono_ns() - t0) / 1e6;
}

/* The score of a fill as the optimiser scores a pair (demand incoming,
 * offer resting) under the operator's rules, so that totals compare: the
 * live rule scores the resting order, whose side depends on who arrived
 * last, and a distance-only run ranks under other weights. */
static double
pair_score(const wf_order_t *x, const wf_fill_t *f, const wf_match_env_t *scoring)
{
    const wf_order_t *o = x->side == WF_OFFER ? x : f->resting;
    const wf_order_t *d = x->side == WF_OFFER ? f->resting : x;
    double km, score;
    int64_t fee;
    return wf_match_eligible(d, o, scoring, &km, &fee, &score) ? score : f->score;
}

/* Posts the orders one at a time with env's ranking; totals into *qty,
 * *tkm, *score (scored under scoring), *nfills. */
static int
run_continuous(const scenario_t *sc, const wf_match_env_t *env, const wf_match_env_t *scoring,
               int64_t *qty, double *tkm, double *score, size_t *nfills, double *ms,
               int64_t *per_order)
{
    wf_book_t *book = wf_book_new(sc->cat);
    wf_fill_t fills[WF_MAX_FILLS];
    int64_t t0 = wf_mono_ns();
    for (size_t i = 0; i < sc->norders; i++) {
        wf_order_t x = sc->orders[i];
        size_t n = wf_book_match(book, &x, env, fills, WF_MAX_FILLS);
        for (size_t k = 0; k < n; k++) {
            *qty += fills[k].qty;
            *tkm += (double)fills[k].qty / 1000.0 * fills[k].km;
            *score += (double)fills[k].qty * pair_score(&x, &fills[k], scoring);
            per_order[i] += fills[k].qty; /* ids are index + 1 */
            per_order[fills[k].resting->id - 1] += fills[k].qty;
            x.remaining -= fills[k].qty;
            wf_book_fill(book, fills[k].resting, fills[k].qty);
        }
        *nfills += n;
        if (x.remaining < 0) {
            fprintf(stderr, "bench-quality: order %zu overfilled\n", i);
            wf_book_destroy(&book);
            return -1;
        }
        if (x.remaining > 0 && x.target == 0)
            wf_book_add(book, &x);
    }
    if (ms)
        *ms = ms_since(t0);
    wf_book_destroy(&book);
    return 0;
}

/* The optimum over the same orders with each order's remaining set to the
 * quantity continuous matching gave it: the same tonnes from and to the
 * same firms, routed for the fewest tonne-km. */
static int
run_fixed(const scenario_t *sc, const wf_match_env_t *env, const int64_t *per_order,
          int64_t *qty, double *tkm)
{
    wf_order_t *offers = wf_calloc(sc->norders, sizeof *offers);
    wf_order_t *demands = wf_calloc(sc->norders, sizeof *demands);
    size_t no = 0, nd = 0;
    for (size_t i = 0; i < sc->norders; i++) {
        if (per_order[i] == 0)
            continue;
        wf_order_t o = sc->orders[i];
        o.remaining = per_order[i];
        o.min_fill = 1; /* the continuous fills already met the minimums */
        if (o.side == WF_OFFER)
            offers[no++] = o;
        else
            demands[nd++] = o;
    }
    wf_opt_plan_t plan;
    int rc = wf_optimise(offers, no, demands, nd, env, WF_OPT_MIN_TONNE_KM, &plan);
    if (rc == WF_OK) {
        *qty = plan.matched_qty;
        *tkm = plan.tonne_km;
    }
    wf_opt_plan_fini(&plan);
    wf_free(offers);
    wf_free(demands);
    return rc == WF_OK ? 0 : -1;
}

static int
run_optimum(const scenario_t *sc, const wf_match_env_t *env, result_t *r)
{
    wf_order_t *offers = wf_calloc(sc->norders, sizeof *offers);
    wf_order_t *demands = wf_calloc(sc->norders, sizeof *demands);
    size_t no = 0, nd = 0;
    for (size_t i = 0; i < sc->norders; i++) {
        const wf_order_t *o = &sc->orders[i];
        if (o->side == WF_OFFER) {
            offers[no++] = *o;
            r->offered += o->qty;
        } else {
            demands[nd++] = *o;
            r->demanded += o->qty;
        }
    }
    r->noffers = no;
    r->ndemands = nd;

    wf_opt_plan_t plan;
    int64_t t0 = wf_mono_ns();
    int rc = wf_optimise(offers, no, demands, nd, env, WF_OPT_MIN_TONNE_KM, &plan);
    r->o_ms = ms_since(t0);
    if (rc != WF_OK)
        goto fail;
    r->o_qty = plan.matched_qty;
    r->o_tkm = plan.tonne_km;
    r->o_arcs = plan.narcs;
    r->o_pairs = plan.npairs;
    r->o_rounds = plan.rounds;
    r->o_banned = plan.min_fill_banned;
    r->o_solver = plan.solver;
    wf_opt_plan_fini(&plan);

    wf_opt_params_t eq = {.goal = WF_OPT_MIN_TONNE_KM, .qty_limit = r->c_qty};
    t0 = wf_mono_ns();
    rc = wf_optimise_ex(offers, no, demands, nd, env, &eq, &plan);
    r->e_ms = ms_since(t0);
    if (rc != WF_OK)
        goto fail;
    r->e_qty = plan.matched_qty;
    r->e_tkm = plan.tonne_km;
    wf_opt_plan_fini(&plan);

    /* The distance-only continuous run moved another quantity: the
     * optimum at that one. Eligibility does not depend on the weights. */
    eq.qty_limit = r->d_qty;
    t0 = wf_mono_ns();
    rc = wf_optimise_ex(offers, no, demands, nd, env, &eq, &plan);
    r->de_ms = ms_since(t0);
    if (rc != WF_OK)
        goto fail;
    r->de_qty = plan.matched_qty;
    r->de_tkm = plan.tonne_km;
    wf_opt_plan_fini(&plan);

    t0 = wf_mono_ns();
    rc = wf_optimise(offers, no, demands, nd, env, WF_OPT_MAX_SCORE, &plan);
    r->s_ms = ms_since(t0);
    if (rc != WF_OK)
        goto fail;
    r->s_score = plan.total_score;
    wf_opt_plan_fini(&plan);
    wf_free(offers);
    wf_free(demands);
    return 0;
fail:
    fprintf(stderr, "bench-quality: optimiser failed: %s\n", wf_strerror(rc));
    wf_opt_plan_fini(&plan);
    wf_free(offers);
    wf_free(demands);
    return -1;
}

/* ---- machine and output ---------------------------------------------------- */

static void
cpu_model(char *out, size_t len)
{
    snprintf(out, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            if (p) {
                p++;
                while (*p == ' ' || *p == '\t')
                    p++;
                p[strcspn(p, "\n")] = '\0';
                for (char *q = p; *q; q++) /* keep the JSON simple */
                    if (*q == '"' || *q == '\\')
                        *q = ' ';
                snprintf(out, len, "%s", p);
            }
            break;
        }
    }
    fclose(f);
}

static double
pct(double part, double whole)
{
    return whole > 0 ? 100.0 * part / whole : 0.0;
}

static void
usage(void)
{
    fprintf(stderr, "usage: bench-quality [--catalogue PATH] [--seed N] [--sizes N,N,...]\n");
}

int
main(int argc, char **argv)
{
    const char *catpath = "data/catalogue.tsv";
    uint64_t seed = 1;
    size_t sizes[MAX_SIZES] = {200, 1000, 5000}, nsizes = 3;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--catalogue") == 0 && i + 1 < argc) {
            catpath = argv[++i];
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--sizes") == 0 && i + 1 < argc) {
            nsizes = 0;
            for (char *s = argv[++i], *end; *s && nsizes < MAX_SIZES; s = end) {
                unsigned long long v = strtoull(s, &end, 10);
                if (end == s || v == 0) {
                    usage();
                    return 2;
                }
                sizes[nsizes++] = (size_t)v;
                if (*end == ',')
                    end++;
            }
        } else {
            usage();
            return 2;
        }
    }

    wf_catalogue_t *cat = wf_catalogue_new();
    char err[256];
    if (wf_catalogue_load(cat, catpath, err, sizeof err) != WF_OK) {
        fprintf(stderr, "bench-quality: %s (try --catalogue PATH)\n", err);
        wf_catalogue_destroy(&cat);
        return 1;
    }
    wf_rules_t rules = wf_rules_default();
    wf_rules_t dist_rules = rules; /* distance-only ranking */
    dist_rules.w_credit = 0;
    dist_rules.w_price = 0;
    char cpu[256];
    cpu_model(cpu, sizeof cpu);
    long nproc = sysconf(_SC_NPROCESSORS_ONLN);

    printf("match quality: continuous (one order at a time) vs batch optimum on the same orders\n");
    printf("seed %llu, catalogue %s, %ld CPUs, %s\n\n", (unsigned long long)seed, catpath,
           nproc, cpu);
    printf("%6s %5s %5s %7s | %9s %9s %6s | %9s %9s %6s | %9s %6s | %9s %6s | %9s | %9s %9s "
           "%9s %6s | %9s %6s | %6s %6s %3s %7s\n",
           "orders", "offer", "dmnd", "arcs", "cont t", "cont tkm", "km/t", "opt t",
           "opt tkm", "km/t", "eq tkm", "gap%", "fix tkm", "gap%", "score gap", "dist t",
           "dist tkm", "deq tkm", "gap%", "dfix tkm", "gap%", "solve", "ms eq", "rds", "solver");

    result_t res[MAX_SIZES];
    memset(res, 0, sizeof res);
    int status = 0;
    for (size_t si = 0; si < nsizes; si++) {
        result_t *r = &res[si];
        r->norders = sizes[si];
        rng_state = seed * 1000003ULL + sizes[si];
        scenario_t sc = {.cat = cat};
        pick_codes(&sc);
        make_firms(&sc, sizes[si] / 3 < 40 ? 40 : sizes[si] / 3);
        make_orders(&sc, sizes[si]);
        wf_match_env_t env = {.cat = cat, .rules = &rules, .now = NOW_MS, .ctx = &sc,
                              .party = party, .allowance = NULL};
        wf_match_env_t denv = env;
        denv.rules = &dist_rules;
        int64_t *per = wf_calloc(sc.norders, sizeof *per);
        int64_t *dper = wf_calloc(sc.norders, sizeof *dper);
        int bad = run_continuous(&sc, &env, &env, &r->c_qty, &r->c_tkm, &r->c_score,
                                 &r->c_fills, &r->c_ms, per) != 0 ||
                  run_continuous(&sc, &denv, &env, &r->d_qty, &r->d_tkm, &r->d_score,
                                 &r->d_fills, NULL, dper) != 0 ||
                  run_optimum(&sc, &env, r) != 0 ||
                  run_fixed(&sc, &env, per, &r->f_qty, &r->f_tkm) != 0 ||
                  run_fixed(&sc, &env, dper, &r->df_qty, &r->df_tkm) != 0;
        wf_free(per);
        wf_free(dper);
        if (bad) {
            scenario_fini(&sc);
            status = 1;
            break;
        }
        printf("%6zu %5zu %5zu %7zu | %9.1f %9.1f %6.2f | %9.1f %9.1f %6.2f | %9.1f %6.1f | "
               "%9.1f %6.1f | %8.1f%% | %9.1f %9.1f %9.1f %6.1f | %9.1f %6.1f | "
               "%6.0f %6.0f %3u %7s\n",
               r->norders, r->noffers, r->ndemands, r->o_arcs, (double)r->c_qty / 1000.0,
               r->c_tkm, r->c_qty ? r->c_tkm / ((double)r->c_qty / 1000.0) : 0.0,
               (double)r->o_qty / 1000.0, r->o_tkm,
               r->o_qty ? r->o_tkm / ((double)r->o_qty / 1000.0) : 0.0, r->e_tkm,
               pct(r->c_tkm - r->e_tkm, r->e_tkm), r->f_tkm, pct(r->c_tkm - r->f_tkm, r->f_tkm),
               pct(r->s_score - r->c_score, r->s_score),
               (double)r->d_qty / 1000.0, r->d_tkm, r->de_tkm, pct(r->d_tkm - r->de_tkm, r->de_tkm),
               r->df_tkm, pct(r->d_tkm - r->df_tkm, r->df_tkm),
               r->o_ms, r->e_ms, r->o_rounds, r->o_solver);
        scenario_fini(&sc);
    }
    printf("\ncont = continuous matching; opt = optimum (most quantity, then fewest tonne-km);\n"
           "eq tkm = optimum limited to the continuous quantity; gap%% = (cont tkm - eq tkm) / "
           "eq tkm;\nscore gap = (optimal sum qty*score - continuous) / optimal, both scored "
           "demand-incoming as the optimiser does;\ndist = continuous with distance-only "
           "ranking (w_credit = w_price = 0), deq tkm = optimum at its quantity;\n"
           "fix tkm / dfix tkm = optimum moving exactly the tonnes each order got continuously "
           "(same orders, same quantities);\nsolve = ms "
           "for opt (eligibility + GLPK), ms eq likewise.\n");

    printf("{\"bench\":\"quality\",\"seed\":%llu,\"nproc\":%ld,\"cpu\":\"%s\",\"sizes\":[",
           (unsigned long long)seed, nproc, cpu);
    for (size_t si = 0; si < nsizes && status == 0; si++) {
        const result_t *r = &res[si];
        printf("%s{\"orders\":%zu,\"offers\":%zu,\"demands\":%zu,\"offered_kg\":%lld,"
               "\"demanded_kg\":%lld,\"arcs\":%zu,\"cont_kg\":%lld,\"cont_tkm\":%.3f,"
               "\"cont_fills\":%zu,\"cont_ms\":%.3f,\"opt_kg\":%lld,\"opt_tkm\":%.3f,"
               "\"opt_pairs\":%zu,\"opt_rounds\":%u,\"opt_min_fill_banned\":%zu,"
               "\"opt_solver\":\"%s\",\"opt_ms\":%.3f,\"eq_kg\":%lld,\"eq_tkm\":%.3f,"
               "\"eq_ms\":%.3f,\"tkm_gap_pct\":%.3f,\"cont_score\":%.3f,\"opt_score\":%.3f,"
               "\"score_ms\":%.3f,\"score_gap_pct\":%.3f,\"dist_kg\":%lld,\"dist_tkm\":%.3f,"
               "\"dist_fills\":%zu,\"dist_eq_kg\":%lld,\"dist_eq_tkm\":%.3f,"
               "\"dist_eq_ms\":%.3f,\"dist_tkm_gap_pct\":%.3f,\"fix_kg\":%lld,\"fix_tkm\":%.3f,"
               "\"dist_fix_kg\":%lld,\"dist_fix_tkm\":%.3f}",
               si ? "," : "", r->norders, r->noffers, r->ndemands, (long long)r->offered,
               (long long)r->demanded, r->o_arcs, (long long)r->c_qty, r->c_tkm, r->c_fills,
               r->c_ms, (long long)r->o_qty, r->o_tkm, r->o_pairs, r->o_rounds, r->o_banned,
               r->o_solver, r->o_ms, (long long)r->e_qty, r->e_tkm, r->e_ms,
               pct(r->c_tkm - r->e_tkm, r->e_tkm), r->c_score, r->s_score, r->s_ms,
               pct(r->s_score - r->c_score, r->s_score), (long long)r->d_qty, r->d_tkm,
               r->d_fills, (long long)r->de_qty, r->de_tkm, r->de_ms,
               pct(r->d_tkm - r->de_tkm, r->de_tkm), (long long)r->f_qty, r->f_tkm,
               (long long)r->df_qty, r->df_tkm);
    }
    printf("]}\n");
    wf_catalogue_destroy(&cat);
    return status;
}
