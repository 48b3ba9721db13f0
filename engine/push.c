/* Credit-weighted push (DESIGN.md "Credit-weighted push"): when a post's
 * remainder comes to rest, every subscription it fits yields a `notify`
 * stream message for the subscriber, tier A at once, tier B after
 * push_delay_b, tier C after push_delay_c, tier D never; within one moment
 * the higher score goes first (credit/push.h plans the order).
 *
 * Fit: the subscription watches the order's side and one of its codes
 * overlaps the order's (subs.c finds those), the firms differ and neither
 * is blacklisted, the distance from the subscription's point is within its
 * radius and within the order's max_km, the remaining quantity is at least
 * the subscription's min_qty, each firm's live credit meets the other's
 * minimum, the regional rules pass, and hazardous offers go only to a
 * subscriber licensed or laned for them (licence.c's allowance; a demand's
 * owner was licence-checked when it posted). One notification
 * per firm and order: a firm with two fitting subscriptions is told once,
 * under the lower subscription id.
 *
 * Notifications due at once are stored in the post's own child
 * transaction, so they are committed and in the outbox when the batch
 * returns. Later ones are stored as push records ("pushes": one per order
 * and due time, entries in send order) with a WF_TIMER_PUSH timer, so a
 * restart still delivers them. When a push record's timer fires, an order
 * that was filled, cancelled or expired meanwhile tells nobody; a
 * subscriber deleted or blacklisted meanwhile is skipped. A large record
 * is worked off in slices within the tick's message budget. */
#include "engine_int.h"

#include <stdio.h>
#include <string.h>

#include "../credit/push.h"
#include "geo.h"
#include "wf_alloc.h"
#include "wf_error.h"

struct wf_push_scratch {
    /* the fit search */
    wf_push_target_t *targets;
    size_t ntargets, tcap;
    wf_push_t *plan;
    size_t nplan, pcap;
    uint32_t *stamp;          /* by firm number: the search that found it */
    uint32_t *slot;           /* by firm number: its index in targets */
    double *km;               /* by firm number: distance from its subscription */
    uint32_t fcap, cur;
    /* what the post's child wrote, for after the commit */
    wf_vec_t msgs;            /* wf_stream_msg_t */
    wf_timer_t *timers;
    size_t ntimers, timcap;
    uint64_t npushes;         /* push records written (ids from next_push) */
    /* record building and the fire's copy of a record */
    unsigned char *buf;
    size_t bufcap;
};

typedef struct fit {
    wf_engine_t *e;
    struct wf_push_scratch *p;
    const wf_order_t *o;
    const wf_party_t *owner;
    bool hazardous;
    int64_t now;
} fit_t;

static struct wf_push_scratch *
scratch(wf_engine_t *e)
{
    if (!e->push) {
        e->push = wf_calloc(1, sizeof *e->push);
        e->push->msgs.size = sizeof(wf_stream_msg_t);
    }
    struct wf_push_scratch *p = e->push;
    if (p->fcap < e->firms.cap) {
        p->stamp = wf_realloc(p->stamp, e->firms.cap * sizeof *p->stamp);
        p->slot = wf_realloc(p->slot, e->firms.cap * sizeof *p->slot);
        p->km = wf_realloc(p->km, e->firms.cap * sizeof *p->km);
        memset(p->stamp + p->fcap, 0, (e->firms.cap - p->fcap) * sizeof *p->stamp);
        p->fcap = e->firms.cap;
    }
    return p;
}

void
wf_push__fini(wf_engine_t *e)
{
    struct wf_push_scratch *p = e->push;
    if (!p)
        return;
    wf_free(p->targets);
    wf_free(p->plan);
    wf_free(p->stamp);
    wf_free(p->slot);
    wf_free(p->km);
    wf_vec__free(&p->msgs);
    wf_free(p->timers);
    wf_free(p->buf);
    wf_free(p);
    e->push = NULL;
}

static void *
buf_room(struct wf_push_scratch *p, size_t n)
{
    if (n > p->bufcap) {
        p->bufcap = n > 2 * p->bufcap ? n : 2 * p->bufcap;
        p->buf = wf_realloc(p->buf, p->bufcap);
    }
    return p->buf;
}

/* A hazardous offer reaches a subscriber only when a valid licence with
 * capacity left (after this post's own fills) or an approved lane lets it
 * receive the code from this producer: the matcher's allowance rule. */
static bool
licensed(const wf_engine_t *e, uint32_t consumer, uint32_t producer, int32_t code, int64_t now)
{
    return wf_licence__allowance((void *)e, consumer, producer, code, now) > 0;
}

/* One candidate from the index: the rest of the fit rules. */
static void
fit_one(void *arg, const wf_sub_entry_t *s)
{
    fit_t *c = arg;
    uint32_t firm = s->firm;
    const wf_order_t *o = c->o;
    wf_engine_t *e = c->e;
    if (firm == o->firm || firm >= e->firms.cap || s->side != o->side)
        return;
    const wf_party_t *p = &e->firms.parties[firm];
    if (p->blocked || o->remaining < s->min_qty || c->owner->credit < s->min_credit ||
        p->credit < o->min_credit)
        return;
    if (e->config.county_rule && !c->hazardous && c->owner->county != p->county)
        return;
    if (e->config.city_rule && c->hazardous && c->owner->county / 100 != p->county / 100)
        return;
    double d = wf_geo_km(o->lat, o->lon, s->lat, s->lon);
    if (!(d <= s->radius_km && d <= o->max_km))
        return;
    if (c->hazardous && o->side == WF_OFFER && !licensed(e, firm, o->firm, o->code, c->now))
        return;
    struct wf_push_scratch *ps = c->p;
    if (ps->stamp[firm] == ps->cur) { /* the firm's second fitting subscription */
        wf_push_target_t *t = &ps->targets[ps->slot[firm]];
        if (s->id < t->sub) {
            t->sub = s->id;
            ps->km[firm] = d;
        }
        return;
    }
    if (ps->ntargets == ps->tcap) {
        ps->tcap = ps->tcap ? 2 * ps->tcap : 256;
        ps->targets = wf_realloc(ps->targets, ps->tcap * sizeof *ps->targets);
    }
    ps->stamp[firm] = ps->cur;
    ps->slot[firm] = (uint32_t)ps->ntargets;
    ps->km[firm] = d;
    ps->targets[ps->ntargets++] = (wf_push_target_t){firm, s->id, p->credit, false};
}

static bool
hazardous_order(const wf_engine_t *e, const wf_order_t *o)
{
    if (o->side == WF_OFFER)
        return o->code >= 0 && wf_catalogue_get(e->cat, o->code)->hazardous;
    for (unsigned k = 0; k < o->npatterns && k < WF_MAX_PATTERNS; k++)
        if (o->patterns[k] >= 0 && wf_catalogue_get(e->cat, o->patterns[k])->hazardous)
            return true;
    return false;
}

size_t
wf_push__plan(wf_engine_t *e, const wf_order_t *o, int64_t now)
{
    struct wf_push_scratch *p = scratch(e);
    p->ntargets = p->nplan = 0;
    if (o->firm >= e->firms.cap || e->firms.parties[o->firm].blocked)
        return 0;
    if (++p->cur == 0) {
        memset(p->stamp, 0, p->fcap * sizeof *p->stamp);
        p->cur = 1;
    }
    fit_t c = {.e = e, .p = p, .o = o, .owner = &e->firms.parties[o->firm],
               .hazardous = hazardous_order(e, o), .now = now};
    wf_subs__candidates(e, o, fit_one, &c);
    if (p->ntargets > p->pcap) {
        p->pcap = p->ntargets;
        p->plan = wf_realloc(p->plan, p->pcap * sizeof *p->plan);
    }
    wf_tiers_t tiers = {e->config.tier_a, e->config.tier_b, e->config.tier_c};
    p->nplan = wf_push_plan(p->targets, p->ntargets, &tiers, e->config.push_delay_b,
                            e->config.push_delay_c, now, p->plan);
    return p->nplan;
}

size_t
wf_push__fitting(const wf_engine_t *e)
{
    return e->push ? e->push->ntargets : 0;
}

int
wf_push__on_rest(wf_exec_t *x, MDB_txn *t, const wf_order_t *o, const wf_order_rec_t *r)
{
    wf_engine_t *e = x->e;
    struct wf_push_scratch *p = scratch(e);
    p->msgs.n = 0;
    p->ntimers = 0;
    p->npushes = 0;
    size_t n = wf_push__plan(e, o, x->now);
    size_t i = 0;
    int rc = WF_OK;
    wf_notice_t notice; /* the order once, for every message due now */
    wf_stream__notice_begin(x, &notice, r);
    for (; i < n && p->plan[i].due <= x->now && rc == WF_OK; i++) {
        const wf_push_t *q = &p->plan[i];
        wf_stream_msg_t *m = wf_vec__push(&p->msgs);
        rc = wf_stream__put_notify(x, t, q->firm, &notice, p->km[q->firm], q->sub, m);
    }
    if (rc == WF_OK)
        rc = wf_stream__notice_end(x, t, &notice);
    while (i < n && rc == WF_OK) { /* one push record per later due time */
        size_t j = i;
        while (j < n && p->plan[j].due == p->plan[i].due)
            j++;
        size_t len = sizeof(wf_push_rec_t) + (j - i) * sizeof(wf_push_entry_t);
        unsigned char *b = buf_room(p, len);
        memset(b, 0, len);
        wf_push_rec_t h = {.id = e->next_push + p->npushes, .order = o->id,
                           .due = p->plan[i].due, .n = (uint32_t)(j - i)};
        memcpy(b, &h, sizeof h);
        for (size_t k = i; k < j; k++) {
            wf_push_entry_t en = {.sub = p->plan[k].sub, .firm = p->plan[k].firm,
                                  .km = p->km[p->plan[k].firm]};
            memcpy(b + sizeof h + (k - i) * sizeof en, &en, sizeof en);
        }
        uint8_t key[8];
        wf_store__be64(key, h.id);
        rc = wf_store__put(t, e->store.pushes, key, 8, b, len);
        if (p->ntimers == p->timcap) {
            p->timcap = p->timcap ? 2 * p->timcap : 8;
            p->timers = wf_realloc(p->timers, p->timcap * sizeof *p->timers);
        }
        p->timers[p->ntimers++] = (wf_timer_t){.due = h.due, .kind = WF_TIMER_PUSH, .ref = h.id};
        p->npushes++;
        i = j;
    }
    if (rc == WF_OK && p->npushes)
        rc = wf_store__meta_put(t, &e->store, "next_push", e->next_push + p->npushes);
    return rc;
}

void
wf_push__commit(wf_exec_t *x)
{
    wf_engine_t *e = x->e;
    struct wf_push_scratch *p = e->push;
    if (!p)
        return;
    for (size_t i = 0; i < p->msgs.n; i++)
        wf_stream__publish(e, (const wf_stream_msg_t *)p->msgs.items + i);
    for (size_t i = 0; i < p->ntimers; i++)
        wf_timers__add(&e->timers, &p->timers[i]);
    e->next_push += p->npushes;
    wf_push__abort(e);
}

void
wf_push__abort(wf_engine_t *e)
{
    struct wf_push_scratch *p = e->push;
    if (!p)
        return;
    p->msgs.n = 0;
    p->ntimers = 0;
    p->npushes = 0;
}

int
wf_push__load(wf_engine_t *e, MDB_txn *txn)
{
    int rc = wf_store__meta_get(txn, &e->store, "next_push", &e->next_push);
    if (rc != WF_OK)
        return rc;
    MDB_cursor *c;
    int mrc = mdb_cursor_open(txn, e->store.pushes, &c);
    if (mrc != 0)
        return wf_store__err(mrc);
    MDB_val k, v;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        wf_push_rec_t h;
        if (v.mv_size < sizeof h)
            continue;
        memcpy(&h, v.mv_data, sizeof h);
        wf_timers__add(&e->timers, &(wf_timer_t){.due = h.due, .kind = WF_TIMER_PUSH, .ref = h.id});
    }
    mdb_cursor_close(c);
    return mrc == MDB_NOTFOUND ? WF_OK : wf_store__err(mrc);
}

/* ---- a push record's time has come ---- */

int
wf_push__fire_write(wf_exec_t *x, MDB_txn *t, wf_tick_t *k, wf_fire_t *f)
{
    wf_engine_t *e = x->e;
    struct wf_push_scratch *p = scratch(e);
    uint8_t key[8];
    wf_store__be64(key, f->t.ref);
    MDB_val kv = {8, key}, v;
    int mrc = mdb_get(t, e->store.pushes, &kv, &v);
    if (mrc == MDB_NOTFOUND)
        return WF_OK;
    if (mrc != 0)
        return wf_store__err(mrc);
    wf_push_rec_t h;
    if (v.mv_size < sizeof h)
        return WF_E_INTERNAL;
    memcpy(&h, v.mv_data, sizeof h);
    if (v.mv_size != sizeof h + (size_t)h.n * sizeof(wf_push_entry_t) || h.done > h.n)
        return WF_E_INTERNAL;
    size_t len = v.mv_size;
    unsigned char *b = buf_room(p, len); /* the value is ours only until the next write */
    memcpy(b, v.mv_data, len);
    f->acted = true;

    wf_order_rec_t r;
    uint8_t okey[8];
    wf_store__be64(okey, h.order);
    int rc = wf_store__get(t, e->store.orders, okey, 8, &r, sizeof r);
    bool live = rc == WF_OK && r.state == WF_ORDER_LIVE && r.remaining > 0 &&
                (r.expires == 0 || r.expires > x->now);
    if (rc != WF_OK && rc != WF_E_NOTFOUND)
        return rc;
    size_t *budget = wf_tick__budget(k);
    size_t end = h.n;
    if (live && end - h.done > *budget)
        end = h.done + *budget;
    wf_notice_t notice; /* the order as it rests now, once for the slice */
    if (live)
        wf_stream__notice_begin(x, &notice, &r);
    for (size_t i = h.done; live && i < end; i++) {
        wf_push_entry_t en;
        memcpy(&en, b + sizeof h + i * sizeof en, sizeof en);
        const wf_sub_rec_t *s = wf_subs__get(e, en.sub);
        if (!s || en.firm >= e->firms.cap || e->firms.parties[en.firm].blocked ||
            strcmp(s->firm, e->firms.recs[en.firm].id) != 0 || r.remaining < s->min_qty)
            continue;
        wf_stream_msg_t *m = wf_tick__msg(k, f);
        rc = wf_stream__put_notify(x, t, en.firm, &notice, en.km, en.sub, m);
        if (rc != WF_OK)
            return rc;
    }
    if (live && (rc = wf_stream__notice_end(x, t, &notice)) != WF_OK)
        return rc;
    if (live) {
        *budget -= end - h.done;
        h.done = (uint32_t)end;
    }
    if (!live || h.done == h.n)
        return wf_store__del(t, e->store.pushes, key, 8);
    memcpy(b, &h, sizeof h);
    f->again = true;
    return wf_store__put(t, e->store.pushes, key, 8, b, len);
}

void
wf_push__fire_apply(wf_exec_t *x, const wf_fire_t *f)
{
    (void)x, (void)f; /* all in the store; a slice left over fires again (f->again) */
}
