/* offer.post and demand.post: the trading path. A post runs in three
 * steps so that a failure anywhere leaves no trace: validate the command
 * completely and plan the fills with wf_book_match() (which does not touch
 * the book); write the order, the updated resting orders, one match and
 * one manifest per fill, the resting owners' stream messages, the licences
 * the fills drew capacity from (licence.c), the notifications of
 * subscribers the remainder fits (push.c) and the journal entry in a
 * child transaction; and only when that child has
 * committed, apply the fills to the book, rest the remainder and queue the
 * stream and feed messages. */
#include "engine_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "wf_alloc.h"
#include "wf_error.h"

#define QTY_MAX 1000000000000LL   /* 10^12 */
#define PRICE_MAX 1000000000000LL
#define MAX_KM_LIMIT 20000.0
#define MAX_KM_DEFAULT 50.0

/* Everything one post plans before it writes; kept in the engine (it is
 * large) and reused. */
struct wf_post_plan {
    wf_order_t x;                          /* the incoming order as the matcher sees it */
    wf_order_rec_t rec;                    /* its record, final state */
    wf_fill_t fills[WF_MAX_FILLS];
    size_t nfills;
    wf_order_rec_t resting[WF_MAX_FILLS];  /* resting records after the fills */
    wf_match_rec_t matches[WF_MAX_FILLS];
    wf_stream_msg_t msgs[WF_MAX_FILLS];    /* the resting owners' match messages */
};

void
wf_post__free(wf_engine_t *e)
{
    wf_free(e->plan);
    e->plan = NULL;
}

static const char *
side_name(wf_side_t side)
{
    return side == WF_OFFER ? "offer" : "demand";
}

static bool
in_range(double v, double lo, double hi)
{
    return isfinite(v) && v >= lo && v <= hi;
}

/* Checks the fields every post has and fills them into the record. */
static int
check_common(wf_exec_t *x, wf_order_rec_t *r)
{
    const wf_cmd_post_t *p = &x->cmd->u.post;
    uint32_t has = x->cmd->has;
    if (p->qty < 1 || p->qty > QTY_MAX)
        return wf_exec__fail(x, WF_E_FIELD, "qty must be 1..10^12, got %lld", (long long)p->qty);
    if (p->price < -PRICE_MAX || p->price > PRICE_MAX)
        return wf_exec__fail(x, WF_E_FIELD, "price must be within -10^12..10^12 fen, got %lld",
                             (long long)p->price);
    r->qty = r->remaining = p->qty;
    r->price = p->price;
    r->lat = x->as->lat;
    r->lon = x->as->lon;
    if (has & WF_HAS_LOC) {
        if (!in_range(p->lat, -90, 90))
            return wf_exec__fail(x, WF_E_FIELD, "lat must be a number in [-90, 90]");
        if (!in_range(p->lon, -180, 180))
            return wf_exec__fail(x, WF_E_FIELD, "lon must be a number in [-180, 180]");
        r->lat = p->lat;
        r->lon = p->lon;
    }
    r->max_km = MAX_KM_DEFAULT;
    if (has & WF_HAS_MAX_KM) {
        if (!in_range(p->max_km, 0, MAX_KM_LIMIT) || p->max_km <= 0)
            return wf_exec__fail(x, WF_E_FIELD, "max_km must be in (0, 20000]");
        r->max_km = p->max_km;
    }
    r->min_credit = 0;
    if (has & WF_HAS_MIN_CREDIT) {
        if (p->min_credit < 0 || p->min_credit > 100)
            return wf_exec__fail(x, WF_E_FIELD, "min_credit must be 0..100, got %d", p->min_credit);
        r->min_credit = p->min_credit;
    }
    r->min_fill = 1;
    if (has & WF_HAS_MIN_FILL) {
        if (p->min_fill < 1 || p->min_fill > p->qty)
            return wf_exec__fail(x, WF_E_FIELD, "min_fill must be 1..qty, got %lld",
                                 (long long)p->min_fill);
        r->min_fill = p->min_fill;
    }
    r->expires = 0;
    if (has & WF_HAS_EXPIRES) {
        if (p->expires != 0 && p->expires <= x->now)
            return wf_exec__fail(x, WF_E_FIELD, "expires must be 0 or in the future");
        r->expires = p->expires;
    }
    return WF_OK;
}

static int
check_offer_code(wf_exec_t *x, wf_order_rec_t *r, wf_order_t *o)
{
    const wf_cmd_post_t *p = &x->cmd->u.post;
    if (x->cmd->has & WF_HAS_TARGET)
        return wf_exec__fail(x, WF_E_FIELD, "target: only a demand may name a target offer");
    if (!wf_str__ok(p->code, sizeof p->code) || !p->code[0])
        return wf_exec__fail(x, WF_E_FIELD, "code must be a waste code string");
    int32_t id = wf_catalogue_find(x->e->cat, p->code);
    if (id < 0)
        return wf_exec__fail(x, WF_E_CODE, "code: %s is not in the catalogue", p->code);
    if (!wf_catalogue_get(x->e->cat, id)->leaf)
        return wf_exec__fail(x, WF_E_CODE, "code: %s is a category; an offer names one code",
                             p->code);
    memcpy(r->code, p->code, sizeof r->code);
    o->code = id;
    return WF_OK;
}

static int
check_demand_codes(wf_exec_t *x, wf_order_rec_t *r, wf_order_t *o)
{
    const wf_cmd_post_t *p = &x->cmd->u.post;
    if (p->ncodes < 1 || p->ncodes > WF_MAX_PATTERNS)
        return wf_exec__fail(x, WF_E_FIELD, "codes must list 1..%d patterns, got %d",
                             WF_MAX_PATTERNS, p->ncodes);
    o->code = -1;
    o->npatterns = p->ncodes;
    r->ncodes = p->ncodes;
    for (int i = 0; i < p->ncodes; i++) {
        if (!wf_str__ok(p->codes[i], sizeof p->codes[i]) || !p->codes[i][0])
            return wf_exec__fail(x, WF_E_FIELD, "codes[%d] must be a waste code string", i);
        o->patterns[i] = wf_catalogue_find(x->e->cat, p->codes[i]);
        if (o->patterns[i] < 0)
            return wf_exec__fail(x, WF_E_CODE, "codes[%d]: %s is not in the catalogue", i,
                                 p->codes[i]);
        memcpy(r->codes[i], p->codes[i], sizeof r->codes[i]);
    }
    return WF_OK;
}

static const char *
state_name(uint8_t state)
{
    static const char *const names[] = {"live", "filled", "cancelled", "expired", "done"};
    return state < 5 ? names[state] : "unknown";
}

/* A target must be a live offer, resting in the book. */
static int
check_target(wf_exec_t *x, wf_order_rec_t *r)
{
    const char *t = x->cmd->u.post.target;
    if (!wf_str__ok(t, WF_OID_LEN))
        return wf_exec__fail(x, WF_E_FIELD, "target must be an offer id string");
    uint64_t id = wf_id_parse(t, 'O');
    uint8_t key[8];
    wf_order_rec_t o;
    wf_store__be64(key, id);
    int rc = id ? wf_store__get(x->txn, x->e->store.orders, key, 8, &o, sizeof o) : WF_E_NOTFOUND;
    if (rc == WF_OK && o.side != WF_OFFER)
        rc = WF_E_NOTFOUND;
    if (rc == WF_E_NOTFOUND)
        return wf_exec__fail(x, WF_E_NOTFOUND, "target: no offer %s", t);
    if (rc != WF_OK)
        return wf_exec__fail(x, rc, "target: cannot read offer %s", t);
    bool expired = o.expires != 0 && o.expires <= x->now;
    if (o.state != WF_ORDER_LIVE || o.remaining <= 0 || expired)
        return wf_exec__fail(x, WF_E_STATE, "target: offer %s is %s, not live", t,
                             expired && o.state == WF_ORDER_LIVE ? "expired" : state_name(o.state));
    if (!wf_book_find(x->e->book, id))
        return wf_exec__fail(x, WF_E_INTERNAL, "target: offer %s is not in the book", t);
    r->target = id;
    return WF_OK;
}

/* Validates the command into plan->rec and plan->x. */
static int
validate(wf_exec_t *x, struct wf_post_plan *pl)
{
    wf_side_t side = x->cmd->op == WF_OP_OFFER_POST ? WF_OFFER : WF_DEMAND;
    uint32_t role = side == WF_OFFER ? WF_ROLE_PRODUCER : WF_ROLE_CONSUMER;
    if (!(x->as->roles & role))
        return wf_exec__fail(x, WF_E_AUTH, "firm %s lacks the %s role a%s %s needs", x->as->id,
                             wf_role_name(role), side == WF_OFFER ? "n" : "", side_name(side));
    if (x->as->blocked)
        return wf_exec__fail(x, WF_E_BLOCKED, "firm %s is blacklisted and cannot post", x->as->id);
    wf_order_rec_t *r = &pl->rec;
    wf_order_t *o = &pl->x;
    memset(r, 0, sizeof *r);
    memset(o, 0, sizeof *o);
    r->side = (uint8_t)side;
    int rc = check_common(x, r);
    if (rc == WF_OK)
        rc = side == WF_OFFER ? check_offer_code(x, r, o) : check_demand_codes(x, r, o);
    if (rc == WF_OK && side == WF_DEMAND)
        rc = wf_licence__check_demand(x, o);
    if (rc == WF_OK && side == WF_DEMAND && (x->cmd->has & WF_HAS_TARGET))
        rc = check_target(x, r);
    if (rc != WF_OK)
        return rc;
    r->id = x->e->next_order;
    r->state = WF_ORDER_LIVE;
    memcpy(r->firm, x->as->id, sizeof r->firm);
    r->posted = r->updated = x->now;
    o->id = r->id;
    o->side = side;
    o->firm = x->as->number;
    o->qty = o->remaining = r->qty;
    o->price = r->price;
    o->min_fill = r->min_fill;
    o->min_credit = r->min_credit;
    o->lat = r->lat;
    o->lon = r->lon;
    o->max_km = r->max_km;
    o->expires = r->expires;
    o->target = r->target;
    return WF_OK;
}

static const wf_party_t *
party_of(void *ctx, uint32_t firm)
{
    const wf_engine_t *e = ctx;
    return firm < e->firms.cap ? &e->firms.parties[firm] : NULL;
}

wf_match_env_t
wf_engine__env(wf_engine_t *e, int64_t now)
{
    return (wf_match_env_t){.cat = e->cat, .rules = &e->rules, .now = now, .ctx = e,
                            .party = party_of, .allowance = wf_licence__allowance,
                            .use = wf_licence__use,
                            .batch_codes = e->nauctions ? e->batch_codes : NULL,
                            .credit_max = wf_firmtab__credit_max(&e->firms)};
}

/* Plans the fills and the final state of the incoming order. The licence
 * table is left holding what the kept fills draw on each licence
 * (licence.c), for write_all and apply_memory. */
static void
plan_fills(wf_exec_t *x, struct wf_post_plan *pl)
{
    wf_engine_t *e = x->e;
    wf_match_env_t env = wf_engine__env(e, x->now);
    wf_licence__plan_clear(e);
    size_t n = wf_book_match(e->book, &pl->x, &env, pl->fills, WF_MAX_FILLS);
    wf_licence__plan_clear(e);
    pl->nfills = 0;
    int64_t filled = 0;
    for (size_t i = 0; i < n; i++) {
        const wf_fill_t *f = &pl->fills[i];
        if (pl->rec.target && f->resting->id != pl->rec.target)
            continue; /* a target demand takes that offer or nothing */
        /* Draw the kept fills again, in plan order: the same draws the
         * matcher counted (licence.c decides which licence gives what). */
        const wf_order_t *offer = pl->x.side == WF_OFFER ? &pl->x : f->resting;
        const wf_order_t *dem = pl->x.side == WF_OFFER ? f->resting : &pl->x;
        if (wf_catalogue_get(e->cat, offer->code)->hazardous)
            wf_licence__use(e, dem->firm, offer->firm, offer->code, f->qty, x->now);
        pl->fills[pl->nfills++] = *f;
        filled += f->qty;
    }
    pl->rec.remaining = pl->rec.qty - filled;
    if (pl->rec.target)
        pl->rec.state = WF_ORDER_DONE;
    else if (pl->rec.remaining == 0)
        pl->rec.state = WF_ORDER_FILLED;
    pl->x.remaining = pl->rec.remaining;
}

void
wf_match__make(wf_match_rec_t *m, uint64_t id, const wf_order_rec_t *offer,
               const wf_order_rec_t *demand, const wf_firm_rec_t *prod, const wf_firm_rec_t *cons,
               const wf_fill_t *f, int64_t now, uint8_t taker_side)
{
    memset(m, 0, sizeof *m);
    m->id = m->manifest = id;
    m->offer = offer->id;
    m->demand = demand->id;
    memcpy(m->code, offer->code, sizeof m->code);
    m->qty = f->qty;
    m->price = f->price;
    m->fee = f->fee;
    m->km = f->km;
    m->score = f->score;
    m->ts = now;
    memcpy(m->producer, prod->id, sizeof m->producer);
    memcpy(m->consumer, cons->id, sizeof m->consumer);
    m->producer_county = prod->county;
    m->consumer_county = cons->county;
    m->taker_side = taker_side;
}

static void
make_match(wf_exec_t *x, struct wf_post_plan *pl, size_t i, const wf_order_rec_t *y,
           const wf_firm_rec_t *owner)
{
    const wf_order_rec_t *xr = &pl->rec;
    bool x_offer = xr->side == WF_OFFER;
    wf_match__make(&pl->matches[i], x->e->next_match + i, x_offer ? xr : y, x_offer ? y : xr,
                   x_offer ? x->as : owner, x_offer ? owner : x->as, &pl->fills[i], x->now,
                   xr->side);
}

int
wf_match__write(wf_exec_t *x, MDB_txn *t, const wf_match_rec_t *m)
{
    uint8_t key[8];
    wf_store__be64(key, m->id);
    int rc = wf_store__append(t, x->e->store.matches, key, 8, m, sizeof *m);
    if (rc != WF_OK)
        return rc;
    wf_manifest_rec_t mf;
    memset(&mf, 0, sizeof mf);
    mf.id = m->manifest;
    mf.match = m->id;
    mf.state = WF_MANIFEST_OPEN;
    memcpy(mf.code, m->code, sizeof mf.code);
    mf.qty = m->qty;
    memcpy(mf.producer, m->producer, sizeof mf.producer);
    memcpy(mf.consumer, m->consumer, sizeof mf.consumer);
    mf.created = mf.updated = m->ts;
    wf_store__be64(key, mf.id);
    return wf_store__append(t, x->e->store.manifests, key, 8, &mf, sizeof mf);
}

void
wf_match__msg(wf_stream_msg_t *s, const wf_match_rec_t *m, uint8_t side,
              const wf_firm_rec_t *counterparty)
{
    memset(s, 0, sizeof *s);
    s->type = WF_MSG_MATCH;
    s->ts = m->ts;
    s->u.match.m = *m;
    s->u.match.side = side;
    memcpy(s->u.match.counterparty, counterparty->id, sizeof s->u.match.counterparty);
    memcpy(s->u.match.counterparty_name, counterparty->name,
           sizeof s->u.match.counterparty_name);
}

int
wf_order__take(wf_exec_t *x, MDB_txn *t, const wf_order_t *o, int64_t qty, wf_order_rec_t *y)
{
    uint64_t id = o->id;
    uint8_t key[8];
    wf_store__be64(key, id);
    int rc = wf_store__get(t, x->e->store.orders, key, 8, y, sizeof *y);
    if (rc != WF_OK || y->state != WF_ORDER_LIVE || y->remaining < qty)
        return wf_exec__fail(x, WF_E_INTERNAL, "resting order %llu disagrees with the store",
                             (unsigned long long)id);
    y->remaining -= qty;
    if (y->remaining == 0)
        y->state = WF_ORDER_FILLED;
    y->updated = x->now;
    return wf_order__put(t, x->e, y, o->firm, true);
}

/* Writes fill i: the resting order, the match, its manifest, the owner's
 * stream message. */
static int
write_fill(wf_exec_t *x, MDB_txn *t, struct wf_post_plan *pl, size_t i)
{
    const wf_fill_t *f = &pl->fills[i];
    wf_order_rec_t *y = &pl->resting[i];
    int rc = wf_order__take(x, t, f->resting, f->qty, y);
    if (rc != WF_OK)
        return rc;
    const wf_firm_rec_t *owner = wf_firmtab__find(&x->e->firms, y->firm);
    if (!owner)
        return wf_exec__fail(x, WF_E_INTERNAL, "resting order's firm %s is unknown", y->firm);
    make_match(x, pl, i, y, owner);
    rc = wf_match__write(x, t, &pl->matches[i]);
    if (rc == WF_OK) {
        wf_match__msg(&pl->msgs[i], &pl->matches[i], y->side, x->as);
        rc = wf_stream__put(x, t, owner->id, &pl->msgs[i]);
    }
    return rc;
}

static int
write_order(wf_exec_t *x, MDB_txn *t, const wf_order_rec_t *r)
{
    uint8_t key[8], fkey[WF_FIRM_ID_LEN + 8];
    wf_store__be64(key, r->id);
    memcpy(fkey, r->firm, WF_FIRM_ID_LEN);
    memcpy(fkey + WF_FIRM_ID_LEN, key, 8);
    int rc = wf_order__put(t, x->e, r, x->as->number, false);
    if (rc == WF_OK)
        rc = wf_store__put(t, x->e->store.firm_orders, fkey, sizeof fkey, "", 0);
    return rc;
}

static int
write_all(wf_exec_t *x, MDB_txn *t, struct wf_post_plan *pl)
{
    int rc = WF_OK;
    for (size_t i = 0; i < pl->nfills && rc == WF_OK; i++)
        rc = write_fill(x, t, pl, i);
    if (rc == WF_OK)
        rc = write_order(x, t, &pl->rec);
    if (rc == WF_OK && pl->rec.state == WF_ORDER_LIVE)
        rc = wf_push__on_rest(x, t, &pl->x, &pl->rec);
    /* meta next_order and next_match: once per batch (engine.c apply) */
    if (rc == WF_OK)
        rc = wf_licence__plan_write(x, t); /* capacity used, with the fills */
    if (rc == WF_OK)
        rc = wf_exec__journal(x, t);
    return rc;
}

void
wf_match__feed(wf_engine_t *e, const wf_match_rec_t *m)
{
    wf_feed_msg_t *f = wf_vec__push(&e->feed);
    f->kind = WF_FEED_MATCH;
    snprintf(f->topic, sizeof f->topic, "match.%s", m->code);
    memcpy(f->code, m->code, sizeof f->code);
    f->qty = m->qty;
    f->price = m->price;
    f->km = m->km;
    f->from_county = m->producer_county;
    f->to_county = m->consumer_county;
    f->ts = m->ts;
    wf_manifest__opened(e, m);
}

/* The child has committed: bring memory up to date and fill the reply. */
static void
apply_memory(wf_exec_t *x, struct wf_post_plan *pl)
{
    wf_engine_t *e = x->e;
    for (size_t i = 0; i < pl->nfills; i++)
        wf_book_fill(e->book, pl->fills[i].resting, pl->fills[i].qty);
    wf_licence__plan_apply(e, x->now);
    if (pl->rec.state == WF_ORDER_LIVE) {
        wf_book_add(e->book, &pl->x);
        if (pl->x.expires)
            wf_timers__add(&e->timers, &(wf_timer_t){.due = pl->x.expires,
                                                     .kind = WF_TIMER_ORDER_EXPIRY,
                                                     .ref = pl->x.id});
    }
    bool x_offer = pl->rec.side == WF_OFFER;
    for (size_t i = 0; i < pl->nfills; i++) {
        *(wf_stream_msg_t *)wf_vec__push(&e->stream) = pl->msgs[i];
        wf_match__feed(e, &pl->matches[i]);
        wf_stats__match(e, &pl->matches[i], x_offer ? &pl->rec : &pl->resting[i],
                        x_offer ? &pl->resting[i] : &pl->rec);
    }
    wf_reply_t *r = x->reply;
    wf_order__id(r->id, &pl->rec);
    r->rest = pl->rec.state == WF_ORDER_LIVE ? pl->rec.remaining : 0;
    r->nmatches = pl->nfills;
    if (pl->nfills) {
        wf_match_rec_t *m = wf_arena__alloc(&e->arena, pl->nfills * sizeof *m);
        memcpy(m, pl->matches, pl->nfills * sizeof *m);
        r->matches = m;
    }
    e->next_order++;
    e->next_match += pl->nfills;
    e->journal_seq++;
    wf_push__commit(x); /* after the match messages: a firm's seqs stay in order */
}

int
wf_op__post(wf_exec_t *x)
{
    if (!x->e->plan)
        x->e->plan = wf_malloc(sizeof *x->e->plan);
    struct wf_post_plan *pl = x->e->plan;
    int rc = validate(x, pl);
    if (rc != WF_OK)
        return rc;
    plan_fills(x, pl);
    MDB_txn *child;
    rc = wf_exec__begin(x, &child);
    if (rc != WF_OK) {
        wf_licence__plan_clear(x->e);
        return rc;
    }
    rc = wf_exec__end(x, child, write_all(x, child, pl));
    if (rc != WF_OK) {
        wf_licence__plan_clear(x->e);
        wf_push__abort(x->e);
        return rc;
    }
    apply_memory(x, pl);
    return WF_OK;
}
