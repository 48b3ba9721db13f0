/* Recovery: the book a restart rebuilds from the live table (live.c, the
 * matcher's bulk loader) against the orders table and against the book the
 * engine held before it stopped. A random market (several firms, offers
 * and demands on general and category codes, several patterns, expiries,
 * partial and full fills, cancels, expiry ticks) is traded, the engine is
 * closed and opened again, and then: the live table holds exactly the
 * orders whose record is live with remaining > 0, field for field; the
 * book holds exactly those orders with the fields their records give; the
 * rebuilt book equals, node by node, the book wf_book_add makes of the
 * same records in id order (the old start); and a stream of probe orders
 * plans the same fills on the rebuilt book as on the book before the
 * restart. Also: a corrupt live record is refused. */
#include "engine/engine_int.h"
#include "engine_fixture.h"
#include "matcher/book_int.h"

TestSuite(engine_recovery, .init = setup, .fini = teardown, .timeout = 120);

#define NF 8

static const char *const offer_codes[] = {"SW07", "SW09", "CON01", "CON02", "REC01"};
static const char *const pattern_codes[] = {"SW07", "SW09", "CON01", "CON", "REC01", "REC"};

static uint64_t rng = 12345;

static uint64_t
rnd(uint64_t n)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (z ^ (z >> 31)) % n;
}

static void
firm_name(char out[WF_FIRM_LEN], unsigned i)
{
    snprintf(out, WF_FIRM_LEN, "91330600RECV%06u", i);
}

static wf_cmd_t
random_post(void)
{
    char f[WF_FIRM_LEN];
    firm_name(f, 1 + (unsigned)rnd(NF));
    wf_cmd_t c;
    if (rnd(2)) {
        c = offer(f, offer_codes[rnd(5)], 1 + (int64_t)rnd(200), 100 * ((int64_t)rnd(7) - 3));
    } else {
        c = demand(f, pattern_codes[rnd(6)], 1 + (int64_t)rnd(200), 100 * ((int64_t)rnd(7) - 1));
        c.u.post.ncodes = (uint8_t)(1 + rnd(3));
        for (unsigned k = 1; k < c.u.post.ncodes; k++)
            snprintf(c.u.post.codes[k], WF_CODE_LEN, "%s", pattern_codes[rnd(6)]);
    }
    c.has |= WF_HAS_LOC | WF_HAS_MAX_KM;
    c.u.post.lat = 29.9 + 0.002 * (double)rnd(100);
    c.u.post.lon = 120.5 + 0.002 * (double)rnd(100);
    c.u.post.max_km = 5 + (double)rnd(40);
    if (rnd(5) == 0) {
        c.has |= WF_HAS_EXPIRES;
        c.u.post.expires = now + 1000 + (int64_t)rnd(200000);
    }
    if (rnd(4) == 0) {
        c.has |= WF_HAS_MIN_FILL;
        c.u.post.min_fill = 1 + (int64_t)rnd((uint64_t)c.u.post.qty);
    }
    return c;
}

static void
tick_at(int64_t at)
{
    wf_cmd_t c = mk(WF_OP_TICK, OP);
    cr_assert_eq(wf_engine_apply(E, &c, 1, at, R, &OUT), WF_OK);
    cr_assert_eq(R[0].err, WF_OK, "tick: %s", R[0].msg);
}

/* Trades a market of n posts with cancels and ticks in between; returns
 * how many posts matched. */
static size_t
trade(size_t n)
{
    for (unsigned i = 1; i <= NF; i++) {
        char f[WF_FIRM_LEN];
        firm_name(f, i);
        ok(firm(f, WF_ROLE_PRODUCER | WF_ROLE_CONSUMER, 29.9 + 0.02 * i, 120.5 + 0.01 * i,
                330602 + i % 2));
    }
    size_t matched = 0;
    char ids[64][WF_OID_LEN];
    size_t nids = 0;
    for (size_t i = 0; i < n; i++) {
        now += 500;
        if (i % 50 == 49)
            tick_at(now);
        if (i % 7 == 6 && nids) { /* cancel one of the last posts, if it still rests */
            size_t j = rnd(nids);
            uint64_t id = wf_id_parse(ids[j], ids[j][0]);
            if (wf_book_find(wf_engine_book(E), id)) {
                wf_reply_t *r = run(ref(WF_OP_ORDER_CANCEL, OP, ids[j]));
                cr_assert(r->err == WF_OK || r->err == WF_E_STATE, "cancel: %s", r->msg); /* expired */
            }
            continue;
        }
        wf_reply_t *r = ok(random_post());
        if (r->nmatches)
            matched++;
        if (r->rest) {
            snprintf(ids[nids % 64], WF_OID_LEN, "%s", r->id);
            if (nids < 64)
                nids++;
        }
    }
    return matched;
}

/* Every live record of orders as the book should hold it; the count. */
static size_t
live_records(wf_engine_t *e, MDB_txn *t, wf_order_t *out, size_t cap)
{
    MDB_cursor *c;
    cr_assert_eq(mdb_cursor_open(t, e->store.orders, &c), 0);
    MDB_val k, v;
    size_t n = 0;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        wf_order_rec_t r;
        cr_assert_eq(v.mv_size, sizeof r);
        memcpy(&r, v.mv_data, sizeof r);
        if (r.state != WF_ORDER_LIVE || r.remaining <= 0)
            continue;
        cr_assert_lt(n, cap);
        cr_assert_eq(wf_order__from_rec(e, &r, &out[n]), WF_OK);
        n++;
    }
    mdb_cursor_close(c);
    return n;
}

static wf_order_t PROBES[400];

static void
make_probes(void)
{
    for (size_t i = 0; i < 400; i++) {
        wf_order_t *x = &PROBES[i];
        memset(x, 0, sizeof *x);
        x->id = 1000000 + i;
        x->firm = 1 + (uint32_t)rnd(NF);
        const wf_catalogue_t *cat = wf_engine_catalogue(E);
        if (rnd(2)) {
            x->side = WF_OFFER;
            x->code = wf_catalogue_find(cat, offer_codes[rnd(5)]);
            x->price = 100 * ((int64_t)rnd(7) - 3);
        } else {
            x->side = WF_DEMAND;
            x->code = -1;
            x->npatterns = 1;
            x->patterns[0] = wf_catalogue_find(cat, pattern_codes[rnd(6)]);
            x->price = 100 * ((int64_t)rnd(7) - 1);
        }
        x->qty = x->remaining = 1 + (int64_t)rnd(400);
        x->min_fill = 1;
        x->lat = 29.9 + 0.002 * (double)rnd(100);
        x->lon = 120.5 + 0.002 * (double)rnd(100);
        x->max_km = 5 + (double)rnd(40);
    }
}

/* The fills of every probe, planned on e's book: n fills each, flattened. */
static size_t
plan_probes(wf_engine_t *e, uint64_t *ids, int64_t *qty, double *score, size_t cap)
{
    wf_match_env_t env = wf_engine__env(e, now);
    wf_fill_t f[WF_MAX_FILLS];
    size_t n = 0;
    for (size_t i = 0; i < 400; i++) {
        wf_licence__plan_clear(e);
        size_t m = wf_book_match(e->book, &PROBES[i], &env, f, WF_MAX_FILLS);
        cr_assert_leq(n + m + 1, cap);
        for (size_t j = 0; j < m; j++, n++) {
            ids[n] = f[j].resting->id;
            qty[n] = f[j].qty;
            score[n] = f[j].score;
        }
        ids[n] = 0; /* end of this probe's plan */
        qty[n] = 0;
        score[n++] = 0;
    }
    wf_licence__plan_clear(e);
    return n;
}

Test(engine_recovery, restart_book_agrees_with_orders)
{
    size_t matched = trade(3000);
    cr_assert_gt(matched, 100, "only %zu posts matched", matched);
    size_t resting = wf_book_count(wf_engine_book(E));
    cr_assert_gt(resting, 100, "only %zu resting", resting);

    make_probes();
    enum { CAP = 400 * (WF_MAX_FILLS + 1) };
    static uint64_t ida[CAP], idb[CAP];
    static int64_t qa[CAP], qb[CAP];
    static double sa[CAP], sb[CAP];
    size_t na = plan_probes(E, ida, qa, sa, CAP);

    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    cr_assert_eq(wf_book_count(wf_engine_book(E)), resting);

    /* the orders table's live records, the live table and the book agree */
    static wf_order_t want[4000];
    MDB_txn *t;
    cr_assert_eq(wf_engine__flush(E), WF_OK); /* the state left open across batches */
    cr_assert_eq(mdb_txn_begin(E->store.env, NULL, MDB_RDONLY, &t), 0);
    size_t n = live_records(E, t, want, 4000);
    MDB_stat st;
    cr_assert_eq(mdb_stat(t, E->store.live, &st), 0);
    cr_assert_eq(st.ms_entries, n, "the live table holds %zu orders, orders %zu live ones",
                 (size_t)st.ms_entries, n);
    mdb_txn_abort(t);
    cr_assert_eq(n, resting);
    wf_book_t *old = wf_book_new(wf_engine_catalogue(E));
    for (size_t i = 0; i < n; i++) {
        const wf_order_t *o = wf_book_find(wf_engine_book(E), want[i].id);
        cr_assert(o, "live order %llu is not in the rebuilt book", (unsigned long long)want[i].id);
        wf_book_add(old, &want[i]);
    }
    char why[256] = "";
    cr_assert_eq(wf_book__compare(wf_engine_book(E), old, why, sizeof why), 0,
                 "the rebuilt book differs from one built order by order: %s", why);
    wf_book_destroy(&old);

    /* the same plans as before the restart */
    size_t nb = plan_probes(E, idb, qb, sb, CAP);
    cr_assert_eq(na, nb);
    for (size_t i = 0; i < na; i++)
        cr_assert(ida[i] == idb[i] && qa[i] == qb[i] && memcmp(&sa[i], &sb[i], sizeof sa[i]) == 0,
                  "probe fill %zu: order %llu x %lld before the restart, %llu x %lld after", i,
                  (unsigned long long)ida[i], (long long)qa[i], (unsigned long long)idb[i],
                  (long long)qb[i]);

    /* and it keeps trading: a restart in the middle changes nothing */
    trade(300);
    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    cr_assert_eq(wf_engine__flush(E), WF_OK); /* the state left open across batches */
    cr_assert_eq(mdb_txn_begin(E->store.env, NULL, MDB_RDONLY, &t), 0);
    n = live_records(E, t, want, 4000);
    cr_assert_eq(mdb_stat(t, E->store.live, &st), 0);
    mdb_txn_abort(t);
    cr_assert_eq(st.ms_entries, n);
    cr_assert_eq(wf_book_count(wf_engine_book(E)), n);
}

/* A live record the engine cannot read stops the start with a sentence. */
Test(engine_recovery, corrupt_live_record_is_refused)
{
    trade(40);
    cr_assert_gt(wf_book_count(wf_engine_book(E)), 0);
    MDB_txn *t;
    cr_assert_eq(wf_engine__flush(E), WF_OK); /* the state left open across batches */
    cr_assert_eq(mdb_txn_begin(E->store.env, NULL, 0, &t), 0);
    MDB_cursor *c;
    cr_assert_eq(mdb_cursor_open(t, E->store.live, &c), 0);
    MDB_val k, v;
    cr_assert_eq(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
    uint8_t key[8];
    memcpy(key, k.mv_data, 8);
    mdb_cursor_close(c);
    MDB_val k2 = {8, key}, bad = {5, "short"};
    cr_assert_eq(mdb_put(t, E->store.live, &k2, &bad, 0), 0);
    cr_assert_eq(mdb_txn_commit(t), 0);
    wf_engine_destroy(&E);
    char err[256] = "";
    wf_engine_opts_t o = {.dir = dir, .catalogue = WUFEI_CATALOGUE, .no_sync = true};
    E = wf_engine_new(&o, err, sizeof err);
    cr_assert_null(E);
    cr_assert(strstr(err, "corrupt live order record"), "%s", err);
}

/* A resting order of a city's code (catalogue_add) keeps an engine without
 * that file from starting, and the message names the order as its owner
 * knows it. */
Test(engine_recovery, an_order_of_a_removed_code_is_named)
{
    wf_engine_destroy(&E);
    char city[300];
    snprintf(city, sizeof city, "%s.city.tsv", dir);
    FILE *f = fopen(city, "w");
    cr_assert_not_null(f);
    fputs("code\tparent\tclass\tunit\thazard\tname\nISW-07\tSW07\tindustrial\tkg\t-\tsludge\n", f);
    fclose(f);
    char err[512] = "";
    wf_engine_opts_t o = {.dir = dir, .catalogue = WUFEI_CATALOGUE, .catalogue_add = city,
                          .no_sync = true};
    E = wf_engine_new(&o, err, sizeof err);
    cr_assert_not_null(E, "%s", err);
    market();
    wf_reply_t *r = ok(offer(P1, "ISW-07", 1000, 100));
    char id[WF_OID_LEN];
    snprintf(id, sizeof id, "%s", r->id);
    wf_engine_destroy(&E);
    o.catalogue_add = NULL;
    E = wf_engine_new(&o, err, sizeof err);
    cr_assert_null(E);
    char want[64];
    snprintf(want, sizeof want, "live order %s names a firm or code", id);
    cr_assert(strstr(err, want), "%s", err);
    o.catalogue_add = city;
    E = wf_engine_new(&o, err, sizeof err);
    cr_assert_not_null(E, "with the file again: %s", err);
    unlink(city);
}
