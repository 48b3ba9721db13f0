/* Subscriptions (sub.put, sub.del) and their index. A consumer subscribes
 * to offers and a producer to demands, naming codes, a point, a radius, a
 * minimum quantity and a minimum counterparty credit; push.c asks this
 * index which subscriptions fit an order that comes to rest.
 *
 * The index works like the book's per-code trees, without the spatial
 * part: buckets by catalogue id, so an order reaches only the
 * subscriptions whose codes overlap its own, and push.c then filters those
 * by distance, quantity and credit in one pass over a bucket.
 *   - A subscription to offers is listed under each of its codes; an offer
 *     of code c visits the buckets of c and of its ancestors (a category
 *     pattern covers its codes).
 *   - A subscription to demands is listed under each of its codes and,
 *     in a second set of buckets, under each code's ancestors too; a
 *     demand pattern p visits the second set's bucket of p (codes at or
 *     below p) and the first set's buckets of p's proper ancestors (codes
 *     that cover p).
 * A subscription may be reached through two buckets (two of its codes
 * overlap the order's): the caller sees it twice and keeps one per firm.
 * Each listing remembers its slot, so sub.del is O(listings). A listing
 * carries a copy of what the fit rules read, so a scan stays in one array. */
#include "engine_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "wf_alloc.h"
#include "wf_error.h"

#define DEPTH_MAX 16          /* catalogue levels walked upwards */
#define RADIUS_MAX 20000.0
#define QTY_MAX 1000000000000LL

enum { SET_OFFERS = 0, SET_DEMANDS = 1, SET_BELOW = 2, SET__COUNT = 3 };

typedef struct slot {
    uint32_t bucket, pos;
} slot_t;

struct wf_sub {
    wf_sub_rec_t rec;
    uint32_t firm;            /* the owner's firm number */
    uint32_t nslots;
    slot_t *slots;
};

/* A listing: what the fit rules read, copied so that a bucket scan reads
 * one contiguous array (as the book's leaves do). */
typedef struct entry {
    wf_sub_entry_t e;
    wf_sub_t *sub;
} entry_t;

typedef struct bucket {
    entry_t *items;
    uint32_t n, cap;
} bucket_t;

struct wf_subs {
    wf_sub_t **by_id;         /* by id; ids are never reused, NULL = deleted or unused */
    size_t cap;
    bucket_t *b;              /* SET__COUNT * ncodes */
    size_t ncodes;
    size_t count;
};

static struct wf_subs *
subs_of(wf_engine_t *e)
{
    if (!e->subs) {
        e->subs = wf_calloc(1, sizeof *e->subs);
        e->subs->ncodes = wf_catalogue_count(e->cat);
        e->subs->b = wf_calloc(SET__COUNT * e->subs->ncodes + 1, sizeof *e->subs->b);
    }
    return e->subs;
}

void
wf_subs__fini(wf_engine_t *e)
{
    struct wf_subs *s = e->subs;
    if (!s)
        return;
    for (size_t i = 0; i < s->cap; i++)
        if (s->by_id[i]) {
            wf_free(s->by_id[i]->slots);
            wf_free(s->by_id[i]);
        }
    for (size_t i = 0; i < SET__COUNT * s->ncodes; i++)
        wf_free(s->b[i].items);
    wf_free(s->b);
    wf_free(s->by_id);
    wf_free(s);
    e->subs = NULL;
}

const wf_sub_rec_t *
wf_subs__get(const wf_engine_t *e, uint64_t id)
{
    const struct wf_subs *s = e->subs;
    if (!s || id >= s->cap || !s->by_id[id])
        return NULL;
    return &s->by_id[id]->rec;
}

static void
list(struct wf_subs *s, wf_sub_t *sub, uint32_t bucket, uint32_t max_slots)
{
    bucket_t *b = &s->b[bucket];
    for (uint32_t i = 0; i < sub->nslots; i++)
        if (sub->slots[i].bucket == bucket)
            return; /* two codes with a common ancestor: listed once */
    if (sub->nslots == max_slots)
        return;
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 8;
        b->items = wf_realloc(b->items, b->cap * sizeof *b->items);
    }
    sub->slots[sub->nslots++] = (slot_t){bucket, b->n};
    const wf_sub_rec_t *r = &sub->rec;
    b->items[b->n++] = (entry_t){{.lat = r->lat, .lon = r->lon, .radius_km = r->radius_km,
                                  .min_qty = r->min_qty, .id = r->id,
                                  .min_credit = r->min_credit, .firm = sub->firm,
                                  .side = r->side},
                                 sub};
}

/* Adds a stored subscription to the index; its codes were checked. */
static void
index_add(wf_engine_t *e, const wf_sub_rec_t *rec, uint32_t firm)
{
    struct wf_subs *s = subs_of(e);
    if (rec->id >= s->cap) {
        size_t cap = s->cap ? s->cap : 1024;
        while (cap <= rec->id)
            cap *= 2;
        s->by_id = wf_realloc(s->by_id, cap * sizeof *s->by_id);
        memset(s->by_id + s->cap, 0, (cap - s->cap) * sizeof *s->by_id);
        s->cap = cap;
    }
    wf_sub_t *sub = wf_calloc(1, sizeof *sub);
    sub->rec = *rec;
    sub->firm = firm;
    uint32_t n = rec->ncodes <= WF_MAX_PATTERNS ? rec->ncodes : WF_MAX_PATTERNS;
    uint32_t max_slots = n * (rec->side == WF_DEMAND ? DEPTH_MAX + 2 : 1);
    sub->slots = wf_malloc((max_slots ? max_slots : 1) * sizeof *sub->slots);
    for (uint32_t i = 0; i < n; i++) {
        int32_t c = wf_catalogue_find(e->cat, rec->codes[i]);
        if (c < 0 || (size_t)c >= s->ncodes)
            continue; /* a catalogue grown since start: not reachable until restart */
        uint32_t set = rec->side == WF_OFFER ? SET_OFFERS : SET_DEMANDS;
        list(s, sub, set * (uint32_t)s->ncodes + (uint32_t)c, max_slots);
        if (rec->side != WF_DEMAND)
            continue;
        int depth = 0;
        for (int32_t a = c; a >= 0 && depth <= DEPTH_MAX; a = wf_catalogue_get(e->cat, a)->parent,
                     depth++)
            list(s, sub, SET_BELOW * (uint32_t)s->ncodes + (uint32_t)a, max_slots);
    }
    s->by_id[rec->id] = sub;
    s->count++;
}

static void
index_remove(wf_engine_t *e, uint64_t id)
{
    struct wf_subs *s = e->subs;
    if (!s || id >= s->cap || !s->by_id[id])
        return;
    wf_sub_t *sub = s->by_id[id];
    for (uint32_t i = 0; i < sub->nslots; i++) {
        bucket_t *b = &s->b[sub->slots[i].bucket];
        uint32_t pos = sub->slots[i].pos;
        entry_t last = b->items[--b->n];
        b->items[pos] = last;
        wf_sub_t *moved = last.sub;
        if (moved == sub)
            continue;
        for (uint32_t j = 0; j < moved->nslots; j++)
            if (moved->slots[j].bucket == sub->slots[i].bucket) {
                moved->slots[j].pos = pos;
                break;
            }
    }
    wf_free(sub->slots);
    wf_free(sub);
    s->by_id[id] = NULL;
    s->count--;
}

static size_t
visit(struct wf_subs *s, uint32_t bucket, void (*fn)(void *, const wf_sub_entry_t *), void *arg)
{
    const bucket_t *b = &s->b[bucket];
    for (uint32_t i = 0; i < b->n; i++)
        fn(arg, &b->items[i].e);
    return b->n;
}

size_t
wf_subs__candidates(wf_engine_t *e, const wf_order_t *o,
                    void (*fn)(void *arg, const wf_sub_entry_t *s), void *arg)
{
    struct wf_subs *s = e->subs;
    if (!s || s->count == 0)
        return 0;
    uint32_t nc = (uint32_t)s->ncodes;
    size_t seen = 0;
    if (o->side == WF_OFFER) {
        int depth = 0;
        for (int32_t a = o->code; a >= 0 && (size_t)a < nc && depth <= DEPTH_MAX;
             a = wf_catalogue_get(e->cat, a)->parent, depth++)
            seen += visit(s, SET_OFFERS * nc + (uint32_t)a, fn, arg);
        return seen;
    }
    uint32_t n = o->npatterns <= WF_MAX_PATTERNS ? o->npatterns : WF_MAX_PATTERNS;
    for (uint32_t k = 0; k < n; k++) {
        int32_t p = o->patterns[k];
        if (p < 0 || (size_t)p >= nc)
            continue;
        seen += visit(s, SET_BELOW * nc + (uint32_t)p, fn, arg);
        int depth = 0;
        for (int32_t a = wf_catalogue_get(e->cat, p)->parent; a >= 0 && depth <= DEPTH_MAX;
             a = wf_catalogue_get(e->cat, a)->parent, depth++)
            seen += visit(s, SET_DEMANDS * nc + (uint32_t)a, fn, arg);
    }
    return seen;
}

int
wf_subs__load(wf_engine_t *e, MDB_txn *txn, char *err, size_t errlen)
{
    wf_subs__fini(e);
    subs_of(e);
    int rc = wf_store__meta_get(txn, &e->store, "next_sub", &e->next_sub);
    if (rc != WF_OK)
        return rc;
    MDB_cursor *c;
    int mrc = mdb_cursor_open(txn, e->store.subs, &c);
    if (mrc != 0)
        return wf_store__err(mrc);
    MDB_val k, v;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        wf_sub_rec_t r;
        if (v.mv_size != sizeof r) {
            snprintf(err, errlen, "corrupt subscription record (%zu bytes)", v.mv_size);
            mdb_cursor_close(c);
            return WF_E_INTERNAL;
        }
        memcpy(&r, v.mv_data, sizeof r);
        const wf_firm_rec_t *f = wf_firmtab__find(&e->firms, r.firm);
        if (!f) {
            snprintf(err, errlen, "subscription S%llu names unknown firm %s",
                     (unsigned long long)r.id, r.firm);
            mdb_cursor_close(c);
            return WF_E_INTERNAL;
        }
        index_add(e, &r, f->number);
    }
    mdb_cursor_close(c);
    return mrc == MDB_NOTFOUND ? WF_OK : wf_store__err(mrc);
}

/* ---- sub.put / sub.del ---- */

static bool
in_range(double v, double lo, double hi)
{
    return isfinite(v) && v >= lo && v <= hi;
}

static int
check_sub(wf_exec_t *x, wf_sub_rec_t *r)
{
    const wf_cmd_sub_t *c = &x->cmd->u.sub;
    uint32_t has = x->cmd->has;
    if (c->side != WF_OFFER && c->side != WF_DEMAND)
        return wf_exec__fail(x, WF_E_FIELD, "side must be \"offers\" or \"demands\"");
    uint32_t role = c->side == WF_OFFER ? WF_ROLE_CONSUMER : WF_ROLE_PRODUCER;
    if (!(x->as->roles & role))
        return wf_exec__fail(x, WF_E_AUTH, "firm %s lacks the %s role a subscription to %s needs",
                             x->as->id, wf_role_name(role),
                             c->side == WF_OFFER ? "offers" : "demands");
    if (c->ncodes < 1 || c->ncodes > WF_MAX_PATTERNS)
        return wf_exec__fail(x, WF_E_FIELD, "codes must list 1..%d patterns, got %d",
                             WF_MAX_PATTERNS, c->ncodes);
    for (int i = 0; i < c->ncodes; i++) {
        if (!wf_str__ok(c->codes[i], sizeof c->codes[i]) || !c->codes[i][0])
            return wf_exec__fail(x, WF_E_FIELD, "codes[%d] must be a waste code string", i);
        if (wf_catalogue_find(x->e->cat, c->codes[i]) < 0)
            return wf_exec__fail(x, WF_E_CODE, "codes[%d]: %s is not in the catalogue", i,
                                 c->codes[i]);
        memcpy(r->codes[i], c->codes[i], sizeof r->codes[i]);
    }
    r->ncodes = c->ncodes;
    r->side = c->side;
    r->lat = x->as->lat;
    r->lon = x->as->lon;
    if (has & WF_HAS_LOC) {
        if (!in_range(c->lat, -90, 90))
            return wf_exec__fail(x, WF_E_FIELD, "lat must be a number in [-90, 90]");
        if (!in_range(c->lon, -180, 180))
            return wf_exec__fail(x, WF_E_FIELD, "lon must be a number in [-180, 180]");
        r->lat = c->lat;
        r->lon = c->lon;
    }
    r->radius_km = 50.0;
    if (has & WF_HAS_RADIUS) {
        if (!in_range(c->radius_km, 0, RADIUS_MAX) || c->radius_km <= 0)
            return wf_exec__fail(x, WF_E_FIELD, "radius_km must be in (0, 20000]");
        r->radius_km = c->radius_km;
    }
    r->min_qty = 0;
    if (has & WF_HAS_MIN_QTY) {
        if (c->min_qty < 0 || c->min_qty > QTY_MAX)
            return wf_exec__fail(x, WF_E_FIELD, "min_qty must be 0..10^12");
        r->min_qty = c->min_qty;
    }
    r->min_credit = 0;
    if (has & WF_HAS_MIN_CREDIT) {
        if (c->min_credit < 0 || c->min_credit > 100)
            return wf_exec__fail(x, WF_E_FIELD, "min_credit must be 0..100, got %d", c->min_credit);
        r->min_credit = c->min_credit;
    }
    return WF_OK;
}

int
wf_op__sub_put(wf_exec_t *x)
{
    wf_engine_t *e = x->e;
    wf_sub_rec_t r;
    memset(&r, 0, sizeof r);
    int rc = check_sub(x, &r);
    if (rc != WF_OK)
        return rc;
    r.id = e->next_sub;
    memcpy(r.firm, x->as->id, sizeof r.firm);
    r.created = x->now;
    MDB_txn *t;
    rc = wf_exec__begin(x, &t);
    if (rc != WF_OK)
        return rc;
    uint8_t key[8];
    wf_store__be64(key, r.id);
    rc = wf_store__put(t, e->store.subs, key, 8, &r, sizeof r);
    if (rc == WF_OK)
        rc = wf_store__meta_put(t, &e->store, "next_sub", e->next_sub + 1);
    if (rc == WF_OK)
        rc = wf_exec__journal(x, t);
    rc = wf_exec__end(x, t, rc);
    if (rc != WF_OK)
        return rc;
    e->next_sub++;
    e->journal_seq++;
    index_add(e, &r, x->as->number);
    wf_id_format(x->reply->id, 'S', r.id);
    return WF_OK;
}

int
wf_op__sub_del(wf_exec_t *x)
{
    wf_engine_t *e = x->e;
    const char *s = x->cmd->u.ref.id;
    if (!wf_str__ok(s, WF_OID_LEN))
        return wf_exec__fail(x, WF_E_FIELD, "id must be a subscription id string");
    uint64_t id = wf_id_parse(s, 'S');
    const wf_sub_rec_t *r = id ? wf_subs__get(e, id) : NULL;
    if (!r)
        return wf_exec__fail(x, WF_E_NOTFOUND, "id: no subscription %s", s);
    if (strcmp(r->firm, x->as->id) != 0)
        return wf_exec__fail(x, WF_E_AUTH, "id: subscription %s belongs to another firm", s);
    MDB_txn *t;
    int rc = wf_exec__begin(x, &t);
    if (rc != WF_OK)
        return rc;
    uint8_t key[8];
    wf_store__be64(key, id);
    rc = wf_store__del(t, e->store.subs, key, 8);
    if (rc == WF_OK)
        rc = wf_exec__journal(x, t);
    rc = wf_exec__end(x, t, rc);
    if (rc != WF_OK)
        return rc;
    e->journal_seq++;
    index_remove(e, id);
    snprintf(x->reply->id, sizeof x->reply->id, "%s", s);
    return WF_OK;
}
