/* Timers of the writer loop: order expiry, call-auction periods
 * (auction.c), push delays (push.c), credit-event expiries (credit.c)
 * and stream retention (retention.c); manifest ages build on the same
 * heap.
 *
 * Timers live in memory only, in a binary min-heap ordered by (due, kind,
 * ref, aux), so the order they fire in is fully determined by the state.
 * They are rebuilt from the store at start (each domain adds its own while
 * loading) and fire inside the internal command WF_OP_TICK, which the net
 * layer submits when wf_engine_next_timer() has passed. A tick that acts is
 * journaled like any command, so replay fires the same timers at the same
 * times. A timer whose object has moved on (an order filled before it
 * expired) is simply dropped when it comes due: removal is lazy. */
#include "engine_int.h"

#include <string.h>

#include "wf_alloc.h"
#include "wf_error.h"

#define TICK_MAX 256 /* timers that act in one tick; the rest wait for the next tick */

static int
cmp(const wf_timer_t *a, const wf_timer_t *b)
{
    if (a->due != b->due)
        return a->due < b->due ? -1 : 1;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    if (a->ref != b->ref)
        return a->ref < b->ref ? -1 : 1;
    return a->aux < b->aux ? -1 : a->aux > b->aux;
}

void
wf_timers__add(wf_timers_t *h, const wf_timer_t *t)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 64;
        h->items = wf_realloc(h->items, h->cap * sizeof *h->items);
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (cmp(&h->items[p], t) <= 0)
            break;
        h->items[i] = h->items[p];
        i = p;
    }
    h->items[i] = *t;
}

const wf_timer_t *
wf_timers__top(const wf_timers_t *h)
{
    return h->n ? &h->items[0] : NULL;
}

void
wf_timers__pop(wf_timers_t *h)
{
    if (!h->n)
        return;
    wf_timer_t last = h->items[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && cmp(&h->items[c + 1], &h->items[c]) < 0)
            c++;
        if (cmp(&last, &h->items[c]) <= 0)
            break;
        h->items[i] = h->items[c];
        i = c;
    }
    if (h->n)
        h->items[i] = last;
}

void
wf_timers__clear(wf_timers_t *h)
{
    h->n = 0;
}

void
wf_timers__fini(wf_timers_t *h)
{
    wf_free(h->items);
    memset(h, 0, sizeof *h);
}

int64_t
wf_engine_next_timer(const wf_engine_t *self)
{
    const wf_timer_t *t = wf_timers__top(&self->timers);
    return t ? t->due : INT64_MAX;
}

/* ---- the tick ---- */

struct wf_tick {
    wf_fire_t fires[TICK_MAX];
    size_t n;
    wf_vec_t msgs;          /* wf_stream_msg_t written in the child */
    uint64_t next_match;    /* match numbers taken by the fires so far */
    size_t budget;          /* stream messages this tick may still write (push slices) */
};

wf_stream_msg_t *
wf_tick__msg(wf_tick_t *k, wf_fire_t *f)
{
    f->nmsg++;
    return wf_vec__push(&k->msgs);
}

void
wf_tick__drop(wf_tick_t *k, wf_fire_t *f)
{
    if (f->nmsg && k->msgs.n) {
        f->nmsg--;
        k->msgs.n--;
    }
}

size_t *
wf_tick__budget(wf_tick_t *k)
{
    return &k->budget;
}

/* auction.c's kinds were written against these names */
typedef wf_fire_t fire_t;
typedef wf_tick_t tick_t;

/* Order expiry: a live order whose time has come leaves the book, its
 * record says EXPIRED, and its owner is told. */
static int
expire_order_write(wf_exec_t *x, MDB_txn *t, wf_tick_t *k, wf_fire_t *f)
{
    wf_order_t *o = wf_book_find(x->e->book, f->t.ref);
    if (!o || o->expires != f->t.due)
        return WF_OK; /* filled, cancelled or re-timed since: nothing to do */
    wf_order_rec_t r;
    uint8_t key[8];
    wf_store__be64(key, f->t.ref);
    int rc = wf_store__get(t, x->e->store.orders, key, 8, &r, sizeof r);
    if (rc != WF_OK)
        return rc;
    if (r.state != WF_ORDER_LIVE)
        return WF_OK; /* filled by an earlier timer of this tick */
    r.state = WF_ORDER_EXPIRED;
    r.updated = x->now;
    rc = wf_order__put(t, x->e, &r, o->firm, true);
    if (rc != WF_OK)
        return rc;
    wf_stream_msg_t *m = wf_tick__msg(k, f);
    m->type = WF_MSG_EXPIRED;
    m->u.expired.order = r.id;
    m->u.expired.side = r.side;
    rc = wf_stream__put(x, t, r.firm, m);
    if (rc != WF_OK)
        return rc;
    f->acted = true;
    return WF_OK;
}

static void
expire_order_apply(wf_exec_t *x, const wf_fire_t *f)
{
    wf_order_t *o = wf_book_find(x->e->book, f->t.ref);
    if (o)
        wf_book_remove(x->e->book, o);
}

/* A call auction's period (auction.c): clear its part of the book. */
static int
auction_write(wf_exec_t *x, MDB_txn *t, tick_t *k, fire_t *f)
{
    int rc = wf_auction__fire(x, t, &f->t, &k->msgs, &k->next_match, &f->data, &f->acted);
    f->nmsg = k->msgs.n - f->msg0;
    return rc;
}

static void
auction_apply(wf_exec_t *x, const fire_t *f)
{
    wf_auction__fired(x, &f->t, f->data);
}

/* Manifest age: an OPEN manifest older than manifest_age is cancelled
 * with reason "expired" (manifest.c); nothing in memory changes. */
static int
expire_manifest_write(wf_exec_t *x, MDB_txn *t, tick_t *k, fire_t *f)
{
    return wf_manifest__expire(x, t, f->t.ref, &k->msgs, &f->nmsg, &f->acted);
}

static void
expire_manifest_apply(wf_exec_t *x, const fire_t *f)
{
    (void)f;
    wf_credit__raised_apply(x->e); /* the first fire applies the tick's */
}

static const struct {
    int (*write)(wf_exec_t *x, MDB_txn *t, wf_tick_t *k, wf_fire_t *f);
    void (*apply)(wf_exec_t *x, const wf_fire_t *f);
} kinds[WF_TIMER__COUNT] = {
    [WF_TIMER_ORDER_EXPIRY] = {expire_order_write, expire_order_apply},
    [WF_TIMER_AUCTION] = {auction_write, auction_apply},
    [WF_TIMER_PUSH] = {wf_push__fire_write, wf_push__fire_apply},
    [WF_TIMER_CREDIT] = {wf_credit__expire_write, wf_credit__expire_apply},
    [WF_TIMER_STREAM_TRIM] = {wf_trim__write, wf_trim__apply},
    [WF_TIMER_MANIFEST_AGE] = {expire_manifest_write, expire_manifest_apply},
};

int
wf_op__tick(wf_exec_t *x)
{
    wf_engine_t *e = x->e;
    wf_tick_t *k = wf_arena__alloc(&e->arena, sizeof *k);
    k->msgs.size = sizeof(wf_stream_msg_t);
    k->next_match = e->next_match;
    wf_licence__plan_clear(e); /* call-auction clearings draw on licences */
    k->budget = WF_TICK_MSG_MAX;
    const wf_timer_t *top = wf_timers__top(&e->timers);
    if (!top || top->due > x->now)
        return WF_OK;
    /* Timers are popped and written one at a time, and only those that act
     * count against TICK_MAX: a stale timer (its order filled, its auction
     * deleted) is dropped without taking a place. A live engine keeps its
     * stale timers in the heap while a restarted one never loads them, so
     * counting them would make the two fire different sets when more than
     * TICK_MAX fall due at once, and a replay of the journal would no longer
     * reproduce a history with a restart in it. The work per tick is
     * bounded by TICK_MAX acting timers plus the stale ones, each of which
     * is popped once in its life. Every popped timer is kept in popped, so
     * a failed tick puts them all back. */
    wf_vec_t popped = {.size = sizeof(wf_timer_t)};
    MDB_txn *child = NULL;
    int rc = wf_exec__begin(x, &child);
    bool acted = false;
    while (rc == WF_OK && k->n < TICK_MAX && (top = wf_timers__top(&e->timers)) &&
           top->due <= x->now) {
        wf_fire_t *f = &k->fires[k->n];
        *f = (wf_fire_t){.t = *top, .msg0 = k->msgs.n};
        *(wf_timer_t *)wf_vec__push(&popped) = *top;
        wf_timers__pop(&e->timers);
        if (f->t.kind < WF_TIMER__COUNT && kinds[f->t.kind].write)
            rc = kinds[f->t.kind].write(x, child, k, f);
        if (rc == WF_OK && f->acted) {
            acted = true;
            k->n++;
        } else if (rc == WF_OK) {
            k->msgs.n = f->msg0; /* a stale timer writes nothing */
        }
    }
    if (rc == WF_OK && acted)
        rc = wf_exec__journal(x, child);
    if (child)
        rc = wf_exec__end(x, child, rc);
    if (rc != WF_OK) {
        wf_credit__raised_drop(e, 0);
        for (size_t i = 0; i < popped.n; i++) /* they fire again on the next tick */
            wf_timers__add(&e->timers, (const wf_timer_t *)popped.items + i);
        wf_vec__free(&popped);
        wf_licence__plan_clear(e);
        wf_vec__free(&k->msgs);
        return rc;
    }
    wf_vec__free(&popped);
    for (size_t i = 0; i < k->n; i++) {
        const wf_fire_t *f = &k->fires[i];
        if (!f->acted)
            continue;
        kinds[f->t.kind].apply(x, f);
        if (f->again)
            wf_timers__add(&e->timers, &f->t);
        for (size_t j = 0; j < f->nmsg; j++)
            wf_stream__publish(e, (const wf_stream_msg_t *)k->msgs.items + f->msg0 + j);
    }
    if (acted)
        e->journal_seq++;
    wf_vec__free(&k->msgs);
    return WF_OK;
}
