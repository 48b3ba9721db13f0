/* Call auctions and the writing of optimiser plans. An operator may switch
 * a waste code or a whole category to periodic batch clearing
 * (auction.set {code, period_ms, goal}); offers of the codes it covers then
 * never match continuously (the matcher's env.batch_codes makes them
 * ineligible), they rest, and every period a timer (WF_TIMER_AUCTION)
 * fires inside a tick and clears that part of the book with the optimal
 * plan of matcher/optimise.h for the auction's goal. The fills are written
 * exactly as continuous fills are (post.c's wf_match__* helpers: match,
 * OPEN manifest, a stream message to each firm, the feed), and optimize
 * with apply uses the same writer (wf_eplan__write).
 *
 * Determinism, which replay depends on: the timer slots are a fixed grid
 * (multiples of period_ms since the epoch), every firing is journaled with
 * its tick (even one that matched nothing, since it re-arms the timer and
 * updates the record), the orders are taken in id order with a fixed
 * bound, and the optimiser is bounded by iterations, never by time, and is
 * deterministic for identical input (optimise.h). Auctions may not
 * overlap: a code belongs to at most one. */
#include "engine_int.h"

#include <stdio.h>
#include <string.h>

#include "wf_alloc.h"
#include "wf_error.h"

#define PERIOD_MIN 1000LL              /* 1 s */
#define PERIOD_MAX (7LL * 86400000LL)  /* a week */

/* ---- writing a plan ---- */

void
wf_eplan__fini(wf_eplan_t *p)
{
    wf_free(p->offers);
    wf_free(p->demands);
    wf_opt_plan_fini(&p->plan);
    p->offers = p->demands = NULL;
    p->noffers = p->ndemands = 0;
}

int
wf_eplan__write(wf_exec_t *x, MDB_txn *t, wf_eplan_t *p, uint64_t *next_match)
{
    wf_engine_t *e = x->e;
    size_t n = p->plan.npairs;
    p->matches = n ? wf_arena__alloc(&e->arena, n * sizeof *p->matches) : NULL;
    p->msgs = n ? wf_arena__alloc(&e->arena, 2 * n * sizeof *p->msgs) : NULL;
    p->match_ids = n ? wf_arena__alloc(&e->arena, n * sizeof *p->match_ids) : NULL;
    p->nmatches = p->nmsgs = 0;
    wf_match_env_t env = wf_engine__env(e, x->now);
    env.batch_codes = NULL;
    for (size_t i = 0; i < n; i++) { /* bounded by the plan, itself bounded by its orders */
        const wf_opt_pair_t *pr = &p->plan.pairs[i];
        const wf_order_t *o = &p->offers[pr->offer], *d = &p->demands[pr->demand];
        double km, score;
        int64_t fee, q = pr->qty;
        /* The engine's licences are the authority: one licence may cover
         * several codes, which the optimiser does not model, so a pair
         * the capacity left cannot carry (at its minimum fills) is cut or
         * skipped, deterministically, in plan order. */
        if (!wf_match_eligible(d, o, &env, &km, &fee, &score))
            continue;
        if (wf_catalogue_get(e->cat, o->code)->hazardous) {
            int64_t a = wf_licence__allowance(e, d->firm, o->firm, o->code, x->now);
            int64_t mf = o->min_fill > d->min_fill ? o->min_fill : d->min_fill;
            q = a < q ? a : q;
            if (q <= 0 || q < mf)
                continue;
            wf_licence__use(e, d->firm, o->firm, o->code, q, x->now);
        }
        wf_order_rec_t orec, drec;
        int rc = wf_order__take(x, t, o, q, &orec);
        if (rc == WF_OK)
            rc = wf_order__take(x, t, d, q, &drec);
        if (rc != WF_OK)
            return rc;
        const wf_firm_rec_t *prod = wf_firmtab__find(&e->firms, orec.firm);
        const wf_firm_rec_t *cons = wf_firmtab__find(&e->firms, drec.firm);
        if (!prod || !cons)
            return wf_exec__fail(x, WF_E_INTERNAL, "a planned order's firm is unknown");
        /* As if the demand arrived against the resting offer: the offer's
         * price, the score the optimiser ranked by. */
        wf_fill_t f = {.qty = q, .price = o->price, .fee = fee, .km = km, .score = score};
        wf_match_rec_t *m = &p->matches[p->nmatches++];
        wf_match__make(m, (*next_match)++, &orec, &drec, prod, cons, &f, x->now, WF_DEMAND);
        p->match_ids[i] = m->id;
        rc = wf_match__write(x, t, m);
        for (int side = 0; rc == WF_OK && side < 2; side++) {
            wf_stream_msg_t *s = &p->msgs[p->nmsgs++];
            wf_match__msg(s, m, side == 0 ? WF_OFFER : WF_DEMAND, side == 0 ? cons : prod);
            rc = wf_stream__put(x, t, side == 0 ? prod->id : cons->id, s);
        }
        if (rc != WF_OK)
            return rc;
    }
    int rc = wf_licence__plan_write(x, t); /* the tally so far: cumulative in a tick */
    return rc == WF_OK && p->nmatches ? wf_store__meta_put(t, &e->store, "next_match", *next_match)
                                      : rc;
}

void
wf_eplan__apply(wf_engine_t *e, const wf_eplan_t *p, int64_t now)
{
    wf_licence__plan_apply(e, now);
    for (size_t i = 0; i < p->nmatches; i++) {
        const wf_match_rec_t *m = &p->matches[i];
        /* For the statistics: the two places (posting times are not at
         * hand here, so these fills count in no time to match). */
        wf_order_rec_t orec = {.side = WF_OFFER}, drec = {.side = WF_DEMAND};
        wf_order_t *o = wf_book_find(e->book, m->offer);
        if (o) {
            orec.lat = o->lat;
            orec.lon = o->lon;
            wf_book_fill(e->book, o, m->qty);
        }
        wf_order_t *d = wf_book_find(e->book, m->demand);
        if (d) {
            drec.lat = d->lat;
            drec.lon = d->lon;
            wf_book_fill(e->book, d, m->qty);
        }
        wf_match__feed(e, m);
        wf_stats__match(e, m, o ? &orec : NULL, d ? &drec : NULL);
        if (m->id >= e->next_match)
            e->next_match = m->id + 1;
    }
}

/* ---- the auctions in memory ---- */

/* The first slot of the period grid after t. */
static int64_t
next_slot(const wf_auction_rec_t *a, int64_t t)
{
    return (t / a->period_ms + 1) * a->period_ms;
}

static int64_t
due_of(const wf_auction_rec_t *a)
{
    return next_slot(a, a->last_clear ? a->last_clear : a->created);
}

static void
arm(wf_engine_t *e, const wf_auction_rec_t *a)
{
    wf_timers__add(&e->timers, &(wf_timer_t){.due = due_of(a), .kind = WF_TIMER_AUCTION,
                                             .ref = a->serial});
}

/* Recomputes batch_codes from the auctions. Work: catalogue size times
 * the auctions (at most WF_AUCTION_MAX). */
static void
index_codes(wf_engine_t *e)
{
    size_t n = wf_catalogue_count(e->cat);
    if (!e->batch_codes)
        e->batch_codes = wf_calloc(n ? n : 1, 1);
    memset(e->batch_codes, 0, n ? n : 1);
    for (size_t k = 0; k < e->nauctions; k++) {
        int32_t p = wf_catalogue_find(e->cat, e->auctions[k].code);
        for (size_t c = 0; p >= 0 && c < n; c++)
            if (wf_catalogue_covers(e->cat, p, (int32_t)c))
                e->batch_codes[c] = (uint8_t)(k + 1);
    }
}

static wf_auction_rec_t *
find_serial(wf_engine_t *e, uint64_t serial)
{
    for (size_t k = 0; k < e->nauctions; k++)
        if (e->auctions[k].serial == serial)
            return &e->auctions[k];
    return NULL;
}

static wf_auction_rec_t *
find_code(wf_engine_t *e, const char *code)
{
    for (size_t k = 0; k < e->nauctions; k++)
        if (strcmp(e->auctions[k].code, code) == 0)
            return &e->auctions[k];
    return NULL;
}

void
wf_auction__free(wf_engine_t *e)
{
    wf_free(e->batch_codes);
    e->batch_codes = NULL;
    e->nauctions = 0;
}

int
wf_auction__load(wf_engine_t *e, MDB_txn *txn)
{
    e->nauctions = 0;
    int rc = wf_store__meta_get(txn, &e->store, "next_auction", &e->next_auction);
    if (rc != WF_OK)
        return rc;
    MDB_cursor *c;
    rc = mdb_cursor_open(txn, e->store.auctions, &c);
    if (rc != 0)
        return wf_store__err(rc);
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (v.mv_size != sizeof(wf_auction_rec_t) || e->nauctions == WF_AUCTION_MAX) {
            rc = -1;
            break;
        }
        wf_auction_rec_t *a = &e->auctions[e->nauctions++];
        memcpy(a, v.mv_data, sizeof *a);
        if (wf_catalogue_find(e->cat, a->code) < 0 || a->period_ms < 1) {
            rc = -1;
            break;
        }
        arm(e, a);
    }
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND)
        return rc == -1 ? WF_E_INTERNAL : wf_store__err(rc);
    index_codes(e);
    return WF_OK;
}

static void
reply_auctions(wf_exec_t *x)
{
    wf_engine_t *e = x->e;
    x->reply->nauctions = e->nauctions;
    if (e->nauctions) {
        wf_auction_rec_t *a = wf_arena__alloc(&e->arena, e->nauctions * sizeof *a);
        memcpy(a, e->auctions, e->nauctions * sizeof *a);
        x->reply->auctions = a;
    }
}

static int
put_auction(MDB_txn *t, const wf_store_t *s, const wf_auction_rec_t *a)
{
    uint8_t key[8];
    wf_store__be64(key, a->serial);
    return wf_store__put(t, s->auctions, key, 8, a, sizeof *a);
}

/* ---- auction.set, auction.del ---- */

int
wf_op__auction_set(wf_exec_t *x)
{
    wf_engine_t *e = x->e;
    const wf_cmd_auction_t *c = &x->cmd->u.auction;
    if (!(x->as->roles & WF_ROLE_OPERATOR))
        return wf_exec__fail(x, WF_E_AUTH, "auction.set is for operators only");
    if (!wf_str__ok(c->code, sizeof c->code) || !c->code[0])
        return wf_exec__fail(x, WF_E_FIELD, "code must be a waste code string");
    int32_t p = wf_catalogue_find(e->cat, c->code);
    if (p < 0)
        return wf_exec__fail(x, WF_E_CODE, "code: %s is not in the catalogue", c->code);
    if (c->period_ms < PERIOD_MIN || c->period_ms > PERIOD_MAX)
        return wf_exec__fail(x, WF_E_FIELD, "period_ms must be 1000..604800000, got %lld",
                             (long long)c->period_ms);
    if (!wf_goal_name(c->goal))
        return wf_exec__fail(x, WF_E_FIELD, "goal must be \"score\" or \"tonne_km\"");
    wf_auction_rec_t *old = find_code(e, c->code);
    for (size_t k = 0; k < e->nauctions; k++) {
        int32_t q = wf_catalogue_find(e->cat, e->auctions[k].code);
        if (&e->auctions[k] != old &&
            (wf_catalogue_covers(e->cat, p, q) || wf_catalogue_covers(e->cat, q, p)))
            return wf_exec__fail(x, WF_E_STATE, "code: %s overlaps the call auction of %s; "
                                 "delete that one first", c->code, e->auctions[k].code);
    }
    if (!old && e->nauctions == WF_AUCTION_MAX)
        return wf_exec__fail(x, WF_E_LIMIT, "at most %d call auctions", WF_AUCTION_MAX);
    wf_auction_rec_t a;
    memset(&a, 0, sizeof a);
    memcpy(a.code, c->code, sizeof a.code);
    a.period_ms = c->period_ms;
    a.goal = c->goal;
    a.created = x->now;
    a.serial = e->next_auction; /* a changed auction gets a new timer */
    if (old) {
        a.clears = old->clears;
        a.matched = old->matched;
        a.last_clear = old->last_clear;
    }
    MDB_txn *child;
    int rc = wf_exec__begin(x, &child);
    if (rc != WF_OK)
        return rc;
    if (old) {
        uint8_t key[8];
        wf_store__be64(key, old->serial);
        rc = wf_store__del(child, e->store.auctions, key, 8);
    }
    if (rc == WF_OK)
        rc = put_auction(child, &e->store, &a);
    if (rc == WF_OK)
        rc = wf_store__meta_put(child, &e->store, "next_auction", e->next_auction + 1);
    if (rc == WF_OK)
        rc = wf_exec__journal(x, child);
    rc = wf_exec__end(x, child, rc);
    if (rc != WF_OK)
        return rc;
    if (old)
        *old = a; /* its old timer is dropped when it fires: the serial changed */
    else
        e->auctions[e->nauctions++] = a;
    e->next_auction++;
    arm(e, &a);
    index_codes(e);
    e->journal_seq++;
    reply_auctions(x);
    return WF_OK;
}

int
wf_op__auction_del(wf_exec_t *x)
{
    wf_engine_t *e = x->e;
    const wf_cmd_auction_t *c = &x->cmd->u.auction;
    if (!(x->as->roles & WF_ROLE_OPERATOR))
        return wf_exec__fail(x, WF_E_AUTH, "auction.del is for operators only");
    if (!wf_str__ok(c->code, sizeof c->code))
        return wf_exec__fail(x, WF_E_FIELD, "code must be a waste code string");
    wf_auction_rec_t *a = find_code(e, c->code);
    if (!a)
        return wf_exec__fail(x, WF_E_NOTFOUND, "code: no call auction for %s", c->code);
    MDB_txn *child;
    int rc = wf_exec__begin(x, &child);
    if (rc != WF_OK)
        return rc;
    uint8_t key[8];
    wf_store__be64(key, a->serial);
    rc = wf_store__del(child, e->store.auctions, key, 8);
    if (rc == WF_OK)
        rc = wf_exec__journal(x, child);
    rc = wf_exec__end(x, child, rc);
    if (rc != WF_OK)
        return rc;
    /* Its orders now match continuously from the next incoming order on;
     * what rests crossed stays until then (the book is not re-matched). */
    size_t k = (size_t)(a - e->auctions);
    memmove(&e->auctions[k], &e->auctions[k + 1], (e->nauctions - k - 1) * sizeof *a);
    e->nauctions--;
    index_codes(e);
    e->journal_seq++;
    reply_auctions(x);
    return WF_OK;
}

/* ---- the clearing ---- */

typedef struct fired {
    wf_eplan_t plan;
    wf_auction_rec_t rec;  /* after the clearing */
    bool acted;
} fired_t;

int
wf_auction__fire(wf_exec_t *x, MDB_txn *t, const wf_timer_t *tm, wf_vec_t *msgs,
                 uint64_t *next_match, void **data, bool *acted)
{
    wf_engine_t *e = x->e;
    wf_auction_rec_t *a = find_serial(e, tm->ref);
    if (!a || due_of(a) != tm->due)
        return WF_OK; /* deleted or changed since: a stale timer */
    fired_t *fd = wf_arena__alloc(&e->arena, sizeof *fd);
    *data = fd;
    fd->rec = *a;
    const char *codes[1] = {a->code};
    size_t left = 0;
    int rc = wf_eplan__gather(e, t, codes, 1, x->now, &fd->plan, &left);
    if (rc == WF_OK) {
        wf_opt_params_t params = {.goal = a->goal == WF_GOAL_TONNE_KM ? WF_OPT_MIN_TONNE_KM
                                                                      : WF_OPT_MAX_SCORE,
                                  .it_lim = WF_OPT_IT_LIM};
        wf_match_env_t env = wf_engine__env(e, x->now);
        env.batch_codes = NULL;
        rc = wf_optimise_ex(fd->plan.offers, fd->plan.noffers, fd->plan.demands,
                            fd->plan.ndemands, &env, &params, &fd->plan.plan);
        if (rc == WF_E_LIMIT) { /* nothing usable within the bound: clear nothing now */
            wf_opt_plan_fini(&fd->plan.plan);
            rc = WF_OK;
        }
    }
    if (rc == WF_OK)
        rc = wf_eplan__write(x, t, &fd->plan, next_match);
    if (rc == WF_OK) {
        fd->rec.last_clear = x->now;
        fd->rec.clears++;
        fd->rec.matched += fd->plan.plan.matched_qty;
        rc = put_auction(t, &e->store, &fd->rec);
    }
    for (size_t i = 0; rc == WF_OK && i < fd->plan.nmsgs; i++)
        *(wf_stream_msg_t *)wf_vec__push(msgs) = fd->plan.msgs[i];
    /* The matches and messages live in the arena; the rest can go now, so
     * nothing leaks when a later timer of the tick fails. */
    wf_eplan__fini(&fd->plan);
    if (rc != WF_OK) {
        *data = NULL;
        return rc;
    }
    /* Every firing is journaled: it re-arms the timer and updates the
     * record, and replay must see the same firings. */
    fd->acted = *acted = true;
    return WF_OK;
}

void
wf_auction__fired(wf_exec_t *x, const wf_timer_t *tm, void *data)
{
    (void)tm;
    fired_t *fd = data;
    if (!fd)
        return;
    wf_engine_t *e = x->e;
    wf_eplan__apply(e, &fd->plan, x->now);
    wf_auction_rec_t *a = find_serial(e, fd->rec.serial);
    if (a) {
        *a = fd->rec;
        arm(e, a);
    }
}
