/* The book's spatial index: per side and waste code, a quadtree over
 * latitude and longitude whose leaves list resting orders and whose nodes
 * keep the aggregates that bound the score of anything below them (see
 * match.c for the search that uses them).
 *
 * Why a quadtree. A uniform grid is the simplest index, but the market is
 * anything but uniform: a province's firms crowd into a handful of
 * industrial clusters, one waste code may have a hundred thousand resting
 * orders and the next three, and a search radius runs from 10 to 150 km.
 * One cell size cannot suit a Ningbo industrial park and an empty
 * mountain county at once, and a best-first search over a flat grid must
 * bound every cell inside the radius (hundreds) before it can stop. A
 * k-d tree adapts, but rebalancing it under a steady stream of inserts and
 * removes is costly. The quadtree adapts by splitting a leaf that holds
 * more than SP_LEAF_CAP orders and merging four leaves that fall under
 * half that, each a bounded local change; its hierarchy lets the search
 * discard a whole region, or expand it, with one bound. Cells are fixed
 * (lat and lon halved at each level), so finding an order's leaf to
 * remove it is a descent of at most SP_MAX_DEPTH steps and needs no
 * back-pointer.
 *
 * Aggregates. Distances are bounded in 3-D: every node keeps the box of
 * its orders' unit vectors, and the chord from the incoming order's unit
 * vector to that box bounds the great-circle distance from below (an arc
 * is never shorter than its chord). This costs a few multiplications per
 * node, where a lat/lon rectangle would need trigonometry, and it has no
 * trouble at the poles or across the antimeridian. Each node also keeps
 * its lowest and highest price (the surplus term and the price prune) and
 * its largest max_km (no order below is in reach beyond it). Inserts
 * widen them along the descent; a remove recomputes a leaf only when the
 * removed order sat on one of its bounds, and the ancestors only while
 * that changes them. Stale aggregates are looser, never wrong.
 *
 * Memory: nodes come from one pool per book, in groups of four with a
 * free list; a leaf's entries are one array, grown by doubling and kept.
 * Per listed order that is one 32-byte entry (at the leaves' fill factor,
 * about 40-55 bytes of array) plus about 1/10 of a 72-byte node. */
#include "book_int.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "wf_alloc.h"

#define DEG (M_PI / 180.0)

void
spatial__unit(double lat, double lon, double v[3])
{
    double cl = cos(lat * DEG);
    v[0] = cl * cos(lon * DEG);
    v[1] = cl * sin(lon * DEG);
    v[2] = sin(lat * DEG);
}

/* ---- aggregates --------------------------------------------------------- */

static void
agg_empty(sp_node_t *nd)
{
    for (int k = 0; k < 3; k++) {
        nd->lo[k] = INFINITY;
        nd->hi[k] = -INFINITY;
    }
    nd->max_km = -INFINITY;
    nd->min_price = INT64_MAX;
    nd->max_price = INT64_MIN;
}

static void
agg_add(sp_node_t *nd, const sp_entry_t *e)
{
    for (int k = 0; k < 3; k++) {
        if (e->v[k] < nd->lo[k])
            nd->lo[k] = e->v[k];
        if (e->v[k] > nd->hi[k])
            nd->hi[k] = e->v[k];
    }
    if (e->max_km > nd->max_km)
        nd->max_km = e->max_km;
    if (e->price < nd->min_price)
        nd->min_price = e->price;
    if (e->price > nd->max_price)
        nd->max_price = e->price;
}

static void
agg_merge(sp_node_t *nd, const sp_node_t *c)
{
    if (c->count == 0)
        return;
    for (int k = 0; k < 3; k++) {
        if (c->lo[k] < nd->lo[k])
            nd->lo[k] = c->lo[k];
        if (c->hi[k] > nd->hi[k])
            nd->hi[k] = c->hi[k];
    }
    if (c->max_km > nd->max_km)
        nd->max_km = c->max_km;
    if (c->min_price < nd->min_price)
        nd->min_price = c->min_price;
    if (c->max_price > nd->max_price)
        nd->max_price = c->max_price;
}

static bool
agg_equal(const sp_node_t *a, const sp_node_t *b)
{
    return memcmp(a->lo, b->lo, sizeof a->lo) == 0 && memcmp(a->hi, b->hi, sizeof a->hi) == 0 &&
           memcmp(&a->max_km, &b->max_km, sizeof a->max_km) == 0 &&
           a->min_price == b->min_price && a->max_price == b->max_price;
}

/* True when e sits on one of nd's bounds, so removing it may tighten them. */
static bool
agg_touches(const sp_node_t *nd, const sp_entry_t *e)
{
    for (int k = 0; k < 3; k++)
        if (e->v[k] <= nd->lo[k] || e->v[k] >= nd->hi[k])
            return true;
    return e->max_km >= nd->max_km || e->price <= nd->min_price || e->price >= nd->max_price;
}

static void
leaf_recompute(sp_node_t *nd)
{
    agg_empty(nd);
    for (uint32_t i = 0; i < nd->n; i++)
        agg_add(nd, &nd->e[i]);
    nd->count = nd->n;
}

static void
inner_recompute(spatial_t *sp, sp_node_t *nd)
{
    agg_empty(nd);
    nd->count = 0;
    for (unsigned q = 0; q < 4; q++) {
        const sp_node_t *c = &sp->nodes[nd->child + q];
        nd->count += c->count;
        agg_merge(nd, c);
    }
}

/* ---- cells -------------------------------------------------------------- */

/* Which quarter of box (lat0, lat1, lon0, lon1) holds the point, and
 * narrows box to it. Coordinates outside the root box, and NaN, go to an
 * edge quarter; any fixed choice will do, the aggregates carry the truth. */
static unsigned
quarter(double lat, double lon, double box[4])
{
    double ml = (box[0] + box[1]) / 2, mo = (box[2] + box[3]) / 2;
    unsigned q = 0;
    if (lat >= ml) {
        q |= 2;
        box[0] = ml;
    } else {
        box[1] = ml;
    }
    if (lon >= mo) {
        q |= 1;
        box[2] = mo;
    } else {
        box[3] = mo;
    }
    return q;
}

static void
root_box(double box[4])
{
    box[0] = -90;
    box[1] = 90;
    box[2] = -180;
    box[3] = 180;
}

/* ---- pool --------------------------------------------------------------- */

static void
node_clear(sp_node_t *nd)
{
    memset(nd, 0, sizeof *nd);
    nd->child = SP_NONE;
    agg_empty(nd);
}

/* Slow path: room for n more nodes. */
static void __attribute__((noinline))
pool_reserve(spatial_t *sp, uint32_t n)
{
    if (sp->nnodes + n <= sp->cap)
        return;
    uint32_t cap = sp->cap ? sp->cap : 256;
    while (cap < sp->nnodes + n)
        cap *= 2;
    sp->nodes = wf_realloc(sp->nodes, (size_t)cap * sizeof *sp->nodes);
    sp->cap = cap;
}

/* Four empty leaves, consecutive; returns the first. Moves the pool. */
static uint32_t
quad_new(spatial_t *sp)
{
    uint32_t c;
    if (sp->free_quads != SP_NONE) {
        c = sp->free_quads;
        sp->free_quads = sp->nodes[c].child;
        sp->nquads_free--;
    } else {
        pool_reserve(sp, 4);
        c = sp->nnodes;
        sp->nnodes += 4;
    }
    for (unsigned q = 0; q < 4; q++)
        node_clear(&sp->nodes[c + q]);
    return c;
}

static void
quad_free(spatial_t *sp, uint32_t c)
{
    sp->nodes[c].child = sp->free_quads;
    sp->free_quads = c;
    sp->nquads_free++;
}

void
spatial__init(spatial_t *sp)
{
    memset(sp, 0, sizeof *sp);
    sp->free_quads = SP_NONE;
}

void
spatial__fini(spatial_t *sp)
{
    for (uint32_t i = 0; i < sp->nnodes; i++)
        if (sp->nodes[i].child == SP_NONE)
            wf_free(sp->nodes[i].e);
    wf_free(sp->nodes);
    memset(sp, 0, sizeof *sp);
}

uint32_t
spatial__tree(spatial_t *sp)
{
    pool_reserve(sp, 1);
    uint32_t r = sp->nnodes++;
    node_clear(&sp->nodes[r]);
    return r;
}

size_t
spatial__bytes(const spatial_t *sp)
{
    return (size_t)sp->cap * sizeof *sp->nodes + sp->entry_bytes;
}

/* ---- leaves ------------------------------------------------------------- */

static void
leaf_push(spatial_t *sp, sp_node_t *leaf, const sp_entry_t *e, int32_t key)
{
    if (leaf->n == leaf->cap) {
        uint32_t cap = leaf->cap ? 2 * leaf->cap : 8;
        leaf->e = wf_realloc(leaf->e, cap * sizeof *leaf->e);
        sp->entry_bytes += (cap - leaf->cap) * sizeof *leaf->e;
        leaf->cap = cap;
    }
    leaf->e[leaf->n] = *e;
    *book__pos(e->o, key) = leaf->n++;
}

static void
leaf_release(spatial_t *sp, sp_node_t *leaf)
{
    sp->entry_bytes -= leaf->cap * sizeof *leaf->e;
    wf_free(leaf->e);
    leaf->e = NULL;
    leaf->n = leaf->cap = 0;
}

static bool
one_point(const sp_node_t *leaf)
{
    const wf_order_t *a = leaf->e[0].o;
    for (uint32_t i = 1; i < leaf->n; i++) {
        const wf_order_t *b = leaf->e[i].o;
        if (memcmp(&a->lat, &b->lat, sizeof a->lat) != 0 || memcmp(&a->lon, &b->lon, sizeof a->lon) != 0)
            return false;
    }
    return true;
}

/* Slow path: turns an overfull leaf into four, recursively while a
 * quarter is still overfull. Work: the leaf's entries, once per level. */
static void __attribute__((noinline))
split(spatial_t *sp, uint32_t i, int32_t key, const double box[4], unsigned depth)
{
    if (one_point(&sp->nodes[i]))
        return; /* no cell can separate them: the leaf just grows */
    uint32_t c = quad_new(sp);
    sp_node_t *nd = &sp->nodes[i];
    sp_entry_t *old = nd->e;
    uint32_t n = nd->n, oldcap = nd->cap;
    nd->e = NULL;
    nd->n = nd->cap = 0;
    nd->child = c;
    for (uint32_t k = 0; k < n; k++) {
        double b[4] = {box[0], box[1], box[2], box[3]};
        unsigned q = quarter(old[k].o->lat, old[k].o->lon, b);
        leaf_push(sp, &sp->nodes[c + q], &old[k], key);
    }
    sp->entry_bytes -= oldcap * sizeof *old;
    wf_free(old);
    for (unsigned q = 0; q < 4; q++) {
        sp_node_t *ch = &sp->nodes[c + q];
        leaf_recompute(ch);
        if (ch->n > SP_LEAF_CAP && depth + 1 < SP_MAX_DEPTH) {
            double ml = (box[0] + box[1]) / 2, mo = (box[2] + box[3]) / 2;
            double b[4] = {q & 2 ? ml : box[0], q & 2 ? box[1] : ml,
                           q & 1 ? mo : box[2], q & 1 ? box[3] : mo};
            split(sp, c + q, key, b, depth + 1);
        }
    }
}

/* Slow path: folds the four leaf children of nd back into it. */
static void __attribute__((noinline))
merge(spatial_t *sp, uint32_t i, int32_t key)
{
    uint32_t c = sp->nodes[i].child;
    sp->nodes[i].child = SP_NONE;
    for (unsigned q = 0; q < 4; q++) {
        sp_node_t *ch = &sp->nodes[c + q];
        for (uint32_t k = 0; k < ch->n; k++)
            leaf_push(sp, &sp->nodes[i], &ch->e[k], key);
        leaf_release(sp, ch);
    }
    quad_free(sp, c);
    leaf_recompute(&sp->nodes[i]);
}

static bool
mergeable(const spatial_t *sp, const sp_node_t *nd)
{
    if (nd->child == SP_NONE || nd->count > SP_LEAF_CAP / 2)
        return false;
    for (unsigned q = 0; q < 4; q++)
        if (sp->nodes[nd->child + q].child != SP_NONE)
            return false;
    return true;
}

/* ---- insert and remove -------------------------------------------------- */

static void
entry_of(wf_order_t *o, sp_entry_t *e)
{
    double v[3];
    spatial__unit(o->lat, o->lon, v);
    for (int k = 0; k < 3; k++)
        e->v[k] = (float)v[k];
    float r = (float)o->max_km;
    if ((double)r < o->max_km)
        r = nextafterf(r, INFINITY);
    e->max_km = r;
    e->price = o->price;
    e->o = o;
}

void
spatial__insert(spatial_t *sp, uint32_t root, int32_t key, wf_order_t *o)
{
    sp_entry_t e;
    entry_of(o, &e);
    double box[4];
    root_box(box);
    uint32_t i = root;
    unsigned depth = 0;
    for (;;) { /* at most SP_MAX_DEPTH steps */
        sp_node_t *nd = &sp->nodes[i];
        nd->count++;
        agg_add(nd, &e);
        if (nd->child == SP_NONE)
            break;
        i = nd->child + quarter(o->lat, o->lon, box);
        depth++;
    }
    sp_node_t *leaf = &sp->nodes[i];
    leaf_push(sp, leaf, &e, key);
    if (leaf->n > SP_LEAF_CAP && depth < SP_MAX_DEPTH)
        split(sp, i, key, box, depth);
}

void
spatial__remove(spatial_t *sp, uint32_t root, int32_t key, wf_order_t *o)
{
    uint32_t path[SP_MAX_DEPTH + 1];
    unsigned np = 0;
    double box[4];
    root_box(box);
    uint32_t i = root;
    for (;;) { /* at most SP_MAX_DEPTH steps */
        assert(np <= SP_MAX_DEPTH);
        path[np++] = i;
        sp_node_t *nd = &sp->nodes[i];
        nd->count--;
        if (nd->child == SP_NONE)
            break;
        i = nd->child + quarter(o->lat, o->lon, box);
    }

    sp_node_t *leaf = &sp->nodes[i];
    uint32_t slot = *book__pos(o, key);
    assert(slot < leaf->n && leaf->e[slot].o == o && "order is not listed here");
    sp_entry_t gone = leaf->e[slot];
    leaf->e[slot] = leaf->e[--leaf->n];
    if (slot != leaf->n)
        *book__pos(leaf->e[slot].o, key) = slot;

    /* Tighten what the order sat on, upwards while anything changes. */
    if (agg_touches(leaf, &gone)) {
        leaf_recompute(leaf);
        for (unsigned j = np - 1; j-- > 0;) {
            sp_node_t *p = &sp->nodes[path[j]], before = *p;
            inner_recompute(sp, p);
            if (agg_equal(p, &before))
                break;
        }
    }

    /* Fold sparse subtrees back, from the bottom; each fold moves at most
     * SP_LEAF_CAP / 2 entries. */
    for (unsigned j = np - 1; j-- > 0 && mergeable(sp, &sp->nodes[path[j]]);)
        merge(sp, path[j], key);
}

/* ---- bulk build ----------------------------------------------------------- */

static bool
items_one_point(const sp_item_t *it, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (memcmp(&it[0].lat, &it[i].lat, sizeof it[0].lat) != 0 ||
            memcmp(&it[0].lon, &it[i].lon, sizeof it[0].lon) != 0)
            return false;
    return true;
}

/* Node i becomes the leaf of it[0..n), in that (id) order, with the room
 * leaf_push's doubling would have given it. */
static void
build_leaf(spatial_t *sp, uint32_t i, const sp_item_t *it, uint32_t n, uint32_t *slots)
{
    sp_node_t *nd = &sp->nodes[i];
    nd->count = n;
    if (n == 0)
        return;
    uint32_t cap = 8;
    while (cap < n)
        cap *= 2;
    nd->e = wf_malloc(cap * sizeof *nd->e);
    nd->cap = cap;
    nd->n = n;
    sp->entry_bytes += cap * sizeof *nd->e;
    for (uint32_t k = 0; k < n; k++) {
        nd->e[k] = it[k].e;
        slots[it[k].ref] = k;
        agg_add(nd, &it[k].e);
    }
}

/* Places it[0..n) (in id order) below node i, whose cell is box at depth:
 * a leaf unless an insert would have split it (more than SP_LEAF_CAP
 * orders, not all on one point, not at SP_MAX_DEPTH), else four children
 * built the same way, each from a stable partition (tmp: room for n). */
static void
build_node(spatial_t *sp, uint32_t i, sp_item_t *it, sp_item_t *tmp, uint32_t n,
           const double box[4], unsigned depth, uint32_t *slots)
{
    if (n <= SP_LEAF_CAP || depth >= SP_MAX_DEPTH || items_one_point(it, n)) {
        build_leaf(sp, i, it, n, slots);
        return;
    }
    uint32_t c = quad_new(sp); /* moves the pool: indexes only from here */
    sp->nodes[i].child = c;
    uint32_t at[4] = {0, 0, 0, 0}, cnt[4] = {0, 0, 0, 0};
    for (uint32_t k = 0; k < n; k++) {
        double b[4] = {box[0], box[1], box[2], box[3]};
        cnt[quarter(it[k].lat, it[k].lon, b)]++;
    }
    for (unsigned q = 1; q < 4; q++)
        at[q] = at[q - 1] + cnt[q - 1];
    uint32_t fill[4] = {at[0], at[1], at[2], at[3]};
    for (uint32_t k = 0; k < n; k++) {
        double b[4] = {box[0], box[1], box[2], box[3]};
        tmp[fill[quarter(it[k].lat, it[k].lon, b)]++] = it[k];
    }
    memcpy(it, tmp, n * sizeof *it);
    double ml = (box[0] + box[1]) / 2, mo = (box[2] + box[3]) / 2;
    for (unsigned q = 0; q < 4; q++) {
        double b[4] = {q & 2 ? ml : box[0], q & 2 ? box[1] : ml,
                       q & 1 ? mo : box[2], q & 1 ? box[3] : mo};
        build_node(sp, c + q, it + at[q], tmp, cnt[q], b, depth + 1, slots);
    }
    inner_recompute(sp, &sp->nodes[i]);
}

void
spatial__item(wf_order_t *o, sp_item_t *it)
{
    entry_of(o, &it->e);
    it->lat = o->lat;
    it->lon = o->lon;
    it->ref = 0;
}

void
spatial__build(spatial_t *sp, uint32_t root, sp_item_t *it, sp_item_t *tmp, size_t n,
               uint32_t *slots)
{
    assert(sp->nodes[root].count == 0 && sp->nodes[root].child == SP_NONE);
    assert(n <= UINT32_MAX);
    if (n == 0)
        return;
    double box[4];
    root_box(box);
    build_node(sp, root, it, tmp, (uint32_t)n, box, 0, slots);
}

/* ---- comparing (tests) ---------------------------------------------------- */

static bool
agg_same(const sp_node_t *a, const sp_node_t *b)
{
    for (int k = 0; k < 3; k++)
        if (a->lo[k] != b->lo[k] || a->hi[k] != b->hi[k])
            return false;
    return a->max_km == b->max_km && a->min_price == b->min_price && a->max_price == b->max_price;
}

static int
compare_node(const spatial_t *a, uint32_t ia, const spatial_t *b, uint32_t ib, unsigned depth,
             char *why, size_t len)
{
    const sp_node_t *x = &a->nodes[ia], *y = &b->nodes[ib];
    if (x->count != y->count || (x->child == SP_NONE) != (y->child == SP_NONE)) {
        snprintf(why, len, "depth %u: %s of %u orders against %s of %u", depth,
                 x->child == SP_NONE ? "leaf" : "node", x->count,
                 y->child == SP_NONE ? "leaf" : "node", y->count);
        return 1;
    }
    if (x->count && !agg_same(x, y)) {
        snprintf(why, len, "depth %u: aggregates of %u orders differ", depth, x->count);
        return 1;
    }
    if (x->child != SP_NONE) {
        for (unsigned q = 0; q < 4; q++)
            if (compare_node(a, x->child + q, b, y->child + q, depth + 1, why, len))
                return 1;
        return 0;
    }
    if (x->n != y->n || x->cap != y->cap) {
        snprintf(why, len, "depth %u: leaf of %u entries (room %u) against %u (room %u)", depth,
                 x->n, x->cap, y->n, y->cap);
        return 1;
    }
    for (uint32_t k = 0; k < x->n; k++) {
        const sp_entry_t *p = &x->e[k], *q = &y->e[k];
        if (p->o->id != q->o->id || memcmp(p->v, q->v, sizeof p->v) != 0 ||
            p->max_km != q->max_km || p->price != q->price) {
            snprintf(why, len, "depth %u: leaf slot %u holds order %llu against %llu", depth, k,
                     (unsigned long long)p->o->id, (unsigned long long)q->o->id);
            return 1;
        }
    }
    return 0;
}

int
spatial__compare(const spatial_t *a, uint32_t ra, const spatial_t *b, uint32_t rb, char *why,
                 size_t len)
{
    if ((ra == SP_NONE) != (rb == SP_NONE)) {
        snprintf(why, len, "a tree on one side only");
        return 1;
    }
    return ra == SP_NONE ? 0 : compare_node(a, ra, b, rb, 0, why, len);
}
