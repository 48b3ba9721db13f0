/* The book's storage and indexes (see book.h; the rule and the search are
 * in match.c, the quadtrees in spatial.c). Resting orders live in a pool
 * of fixed chunks with a free list, so a warmed book adds and removes
 * orders without allocating and a resident order never moves. Three
 * indexes point into the pool:
 *   - an id hash chained through the order's hnext;
 *   - per exact code, a quadtree of the offers at that code; a demand
 *     pattern reaches the offers it covers through the trees of its
 *     subtree, a contiguous range of the catalogue's depth-first preorder;
 *   - per pattern, a quadtree of the demands listing it; an offer with
 *     code c reaches them through the trees at c and its ancestors.
 * Every order remembers its slot in the leaf of each tree it is in
 * (pos[]); the leaf itself is found again by descending its cell. */
#include "book_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wf_alloc.h"

/* ---- catalogue preorder ------------------------------------------------- */

/* (Re)builds the subtree ranges and sizes the per-code lists for the
 * catalogue's current size. Parents precede children in the catalogue, so
 * one pass down the ids sizes every subtree and one pass up places it. */
static void
build_tree(wf_book_t *self)
{
    size_t n = wf_catalogue_count(self->cat), old = self->ncodes;
    uint32_t *size = wf_calloc(n, sizeof *size);
    uint32_t *cursor = wf_calloc(n, sizeof *cursor);
    for (size_t id = n; id-- > 0;) {
        size[id] += 1;
        int32_t p = wf_catalogue_get(self->cat, (int32_t)id)->parent;
        if (p >= 0)
            size[p] += size[id];
    }
    self->pre = wf_realloc(self->pre, n * sizeof *self->pre);
    self->pre_at = wf_realloc(self->pre_at, n * sizeof *self->pre_at);
    self->pre_end = wf_realloc(self->pre_end, n * sizeof *self->pre_end);
    uint32_t next_root = 0;
    for (size_t id = 0; id < n; id++) {
        int32_t p = wf_catalogue_get(self->cat, (int32_t)id)->parent;
        uint32_t at;
        if (p < 0) {
            at = next_root;
            next_root += size[id];
        } else {
            at = cursor[p];
            cursor[p] += size[id];
        }
        self->pre_at[id] = at;
        self->pre_end[id] = at + size[id];
        self->pre[at] = (int32_t)id;
        cursor[id] = at + 1;
    }
    wf_free(size);
    wf_free(cursor);

    self->levels = wf_realloc(self->levels, n * sizeof *self->levels);
    if (n > old)
        memset(self->levels + old, 0, (n - old) * sizeof *self->levels);
    self->offer_tree = wf_realloc(self->offer_tree, n * sizeof *self->offer_tree);
    self->demand_tree = wf_realloc(self->demand_tree, n * sizeof *self->demand_tree);
    for (size_t id = old; id < n; id++)
        self->offer_tree[id] = self->demand_tree[id] = SP_NONE;
    self->ncodes = n;
}

/* ---- live totals -------------------------------------------------------- */

static void
level_move(wf_book_level_t *l, wf_side_t side, int64_t orders, int64_t qty)
{
    l->orders[side] += orders;
    l->qty[side] += qty;
    l->version++;
}

/* Adds orders and qty (negative to take away) to every total o counts in. */
static void
levels_move(wf_book_t *self, const wf_order_t *o, int64_t orders, int64_t qty)
{
    int32_t first = o->side == WF_OFFER ? o->code : o->patterns[0];
    level_move(&self->classes[wf_catalogue_get(self->cat, first)->cls], o->side, orders, qty);
    if (o->side == WF_OFFER) {
        level_move(&self->levels[o->code], WF_OFFER, orders, qty);
        return;
    }
    for (unsigned k = 0; k < o->npatterns; k++)
        if (o->pos[k] != BOOK_NOPOS)
            level_move(&self->levels[o->patterns[k]], WF_DEMAND, orders, qty);
}

/* ---- trees -------------------------------------------------------------- */

uint32_t *
book__pos(wf_order_t *o, int32_t key)
{
    if (o->side == WF_OFFER)
        return &o->pos[0];
    for (unsigned k = 0; k < o->npatterns; k++)
        if (o->patterns[k] == key && o->pos[k] != BOOK_NOPOS)
            return &o->pos[k];
    assert(!"order is not listed at this id");
    return NULL;
}

static uint32_t
tree_at(wf_book_t *self, uint32_t *roots, int32_t id)
{
    if (roots[id] == SP_NONE)
        roots[id] = spatial__tree(&self->sp);
    return roots[id];
}

/* ---- id hash ------------------------------------------------------------ */

static size_t
bucket(const wf_book_t *self, uint64_t id)
{
    return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 32) & (self->nbuckets - 1);
}

/* Slow path: doubles the buckets when the chains grow past one on average. */
static void __attribute__((noinline))
rehash(wf_book_t *self)
{
    wf_order_t **old = self->buckets;
    size_t nold = self->nbuckets;
    self->nbuckets *= 2;
    self->buckets = wf_calloc(self->nbuckets, sizeof *self->buckets);
    for (size_t b = 0; b < nold; b++) {
        for (wf_order_t *o = old[b], *next; o; o = next) {
            next = o->hnext;
            size_t i = bucket(self, o->id);
            o->hnext = self->buckets[i];
            self->buckets[i] = o;
        }
    }
    wf_free(old);
}

/* ---- pool --------------------------------------------------------------- */

/* Chunk c (BOOK_CHUNK orders, listed in chunks[] already) into the free
 * list, its first slot on top. */
static void
pool_free_chunk(wf_book_t *self, wf_order_t *c)
{
    for (size_t i = BOOK_CHUNK; i-- > 0;) {
        c[i].hnext = self->free;
        self->free = &c[i];
    }
}

/* Slow path: one more chunk of free slots. */
static void __attribute__((noinline))
pool_grow(wf_book_t *self)
{
    self->chunks = wf_realloc(self->chunks, (self->nchunks + 1) * sizeof *self->chunks);
    wf_order_t *c = wf_malloc(BOOK_CHUNK * sizeof *c);
    self->chunks[self->nchunks++] = c;
    pool_free_chunk(self, c);
}

/* ---- public ------------------------------------------------------------- */

wf_book_t *
wf_book_new(const wf_catalogue_t *cat)
{
    wf_book_t *self = wf_calloc(1, sizeof *self);
    self->cat = cat;
    spatial__init(&self->sp);
    build_tree(self);
    self->nbuckets = 1024;
    self->buckets = wf_calloc(self->nbuckets, sizeof *self->buckets);
    self->scratch = wf_calloc(1, sizeof *self->scratch);
    return self;
}

void
wf_book_destroy(wf_book_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wf_book_t *self = *self_p;
    spatial__fini(&self->sp);
    wf_free(self->offer_tree);
    wf_free(self->demand_tree);
    wf_free(self->pre);
    wf_free(self->pre_at);
    wf_free(self->pre_end);
    wf_free(self->levels);
    wf_free(self->buckets);
    for (size_t c = self->nslab; c < self->nchunks; c++)
        wf_free(self->chunks[c]);
    wf_free(self->slab);
    wf_free(self->chunks);
    wf_free(self->scratch->cand);
    wf_free(self->scratch->heap);
    wf_free(self->scratch->allowed);
    wf_free(self->scratch);
    wf_free(self->loading);
    wf_free(self->items);
    wf_free(self);
    *self_p = NULL;
}

wf_order_t *
wf_book_find(const wf_book_t *self, uint64_t id)
{
    for (wf_order_t *o = self->buckets[bucket(self, id)]; o; o = o->hnext)
        if (o->id == id)
            return o;
    return NULL;
}

/* Takes a pool slot for a copy of in and marks which of a demand's
 * patterns are listed (a repeated pattern is listed once, at its first
 * place). Not yet indexed. */
static wf_order_t *
slot_copy(wf_book_t *self, const wf_order_t *in)
{
    assert(in->remaining > 0 && "only live orders rest");
    if (in->side == WF_OFFER)
        assert(in->code >= 0 && (size_t)in->code < self->ncodes);
    else
        assert(in->npatterns >= 1 && in->npatterns <= WF_MAX_PATTERNS);
    if (!self->free)
        pool_grow(self);
    wf_order_t *o = self->free;
    self->free = o->hnext;
    *o = *in;
    if (o->side == WF_DEMAND) {
        for (unsigned k = 0; k < o->npatterns; k++) {
            assert(o->patterns[k] >= 0 && (size_t)o->patterns[k] < self->ncodes);
            o->pos[k] = 0;
            for (unsigned j = 0; j < k; j++)
                if (o->patterns[j] == o->patterns[k])
                    o->pos[k] = BOOK_NOPOS;
        }
    }
    return o;
}

static void
hash_insert(wf_book_t *self, wf_order_t *o)
{
    size_t b = bucket(self, o->id);
    o->hnext = self->buckets[b];
    self->buckets[b] = o;
}

wf_order_t *
wf_book_add(wf_book_t *self, const wf_order_t *in)
{
    assert(!self->is_loading && "wf_book_add between wf_book_load_begin and _end");
    assert(!wf_book_find(self, in->id) && "order id already in the book");
    if (wf_catalogue_count(self->cat) != self->ncodes)
        build_tree(self); /* the catalogue was extended after the book was made */
    wf_order_t *o = slot_copy(self, in);

    if (o->side == WF_OFFER) {
        spatial__insert(&self->sp, tree_at(self, self->offer_tree, o->code), o->code, o);
    } else {
        for (unsigned k = 0; k < o->npatterns; k++) {
            int32_t p = o->patterns[k];
            if (o->pos[k] != BOOK_NOPOS)
                spatial__insert(&self->sp, tree_at(self, self->demand_tree, p), p, o);
        }
    }

    if (self->count >= self->nbuckets)
        rehash(self);
    hash_insert(self, o);
    self->count++;
    levels_move(self, o, 1, o->remaining);
    return o;
}

/* ---- bulk loading ------------------------------------------------------- */

void
wf_book_load_begin(wf_book_t *self, size_t n)
{
    assert(self->count == 0 && self->nchunks == 0 && !self->is_loading &&
           "bulk loading needs a new book");
    if (wf_catalogue_count(self->cat) != self->ncodes)
        build_tree(self);
    /* The whole pool in one block of huge pages where the system has
     * them: a million orders are 240 MB that would otherwise fault in 4 KiB
     * at a time; its chunks are chunks like any other, only freed as one.
     * A small book (under one huge page) grows chunk by chunk as usual. */
    size_t chunks = (n + BOOK_CHUNK - 1) / BOOK_CHUNK;
    if (chunks * BOOK_CHUNK * sizeof(wf_order_t) >= ((size_t)2 << 20)) {
        self->chunks = wf_realloc(self->chunks, chunks * sizeof *self->chunks);
        self->slab = wf_malloc_huge(chunks * BOOK_CHUNK * sizeof *self->slab);
        self->nslab = chunks;
        for (size_t k = chunks; k-- > 0;) { /* chunk 0's first slot on top */
            self->chunks[k] = self->slab + k * BOOK_CHUNK;
            pool_free_chunk(self, self->chunks[k]);
        }
        self->nchunks = chunks;
    }
    self->loadcap = n ? n : 1024;
    self->loading = wf_realloc(self->loading, self->loadcap * sizeof *self->loading);
    self->items = wf_realloc(self->items, self->loadcap * sizeof *self->items);
    self->nloading = 0;
    self->is_loading = true;
}

wf_order_t *
wf_book_load_add(wf_book_t *self, const wf_order_t *in)
{
    assert(self->is_loading);
    assert((self->nloading == 0 || in->id > self->loading[self->nloading - 1]->id) &&
           "bulk loading takes orders in increasing id order");
    wf_order_t *o = slot_copy(self, in);
    if (self->nloading == self->loadcap) {
        self->loadcap *= 2;
        self->loading = wf_realloc(self->loading, self->loadcap * sizeof *self->loading);
        self->items = wf_realloc(self->items, self->loadcap * sizeof *self->items);
    }
    spatial__item(o, &self->items[self->nloading]);
    self->loading[self->nloading++] = o;
    self->count++;
    levels_move(self, o, 1, o->remaining);
    return o;
}

void
wf_book_load_end(wf_book_t *self)
{
    assert(self->is_loading);
    size_t n = self->nloading;
    wf_order_t **all = self->loading;

    /* The id hash at the size n adds would have grown it to. */
    size_t nb = self->nbuckets;
    while (nb < n)
        nb *= 2;
    if (nb != self->nbuckets) {
        wf_free(self->buckets);
        self->buckets = wf_calloc(nb, sizeof *self->buckets);
        self->nbuckets = nb;
    }
    /* Group the listings by tree (offers at code c: tree c; demands at
     * pattern p: tree ncodes + p), keeping id order within each, as
     * (order, listing) pairs; listing r is the r-th listed (order, pattern)
     * in load order, whose leaf slot the build leaves in slots[r]. */
    size_t nt = 2 * self->ncodes;
    size_t *start = wf_calloc(nt + 1, sizeof *start);
    size_t nlist = 0;
    for (size_t i = 0; i < n; i++) {
        const wf_order_t *o = all[i];
        if (o->side == WF_OFFER) {
            start[o->code + 1]++;
            nlist++;
            continue;
        }
        for (unsigned k = 0; k < o->npatterns; k++)
            if (o->pos[k] != BOOK_NOPOS) {
                start[self->ncodes + (size_t)o->patterns[k] + 1]++;
                nlist++;
            }
    }
    size_t biggest = 0;
    for (size_t t = 0; t < nt; t++) {
        if (start[t + 1] > biggest)
            biggest = start[t + 1];
        start[t + 1] += start[t];
    }
    uint32_t (*list)[2] = wf_malloc((nlist ? nlist : 1) * sizeof *list);
    uint32_t *slots = wf_malloc((nlist ? nlist : 1) * sizeof *slots);
    size_t *fill = wf_malloc((nt ? nt : 1) * sizeof *fill);
    memcpy(fill, start, nt * sizeof *fill);
    assert(nlist <= UINT32_MAX);
    uint32_t ref = 0;
    for (size_t i = 0; i < n; i++) {
        const wf_order_t *o = all[i];
        if (o->side == WF_OFFER) {
            size_t at = fill[o->code]++;
            list[at][0] = (uint32_t)i;
            list[at][1] = ref++;
            continue;
        }
        for (unsigned k = 0; k < o->npatterns; k++)
            if (o->pos[k] != BOOK_NOPOS) {
                size_t at = fill[self->ncodes + (size_t)o->patterns[k]]++;
                list[at][0] = (uint32_t)i;
                list[at][1] = ref++;
            }
    }
    sp_item_t *it = wf_malloc((biggest ? 2 * biggest : 1) * sizeof *it);
    for (size_t t = 0; t < nt; t++) {
        size_t a = start[t], m = start[t + 1] - a;
        if (m == 0)
            continue;
        for (size_t j = 0; j < m; j++) {
            it[j] = self->items[list[a + j][0]];
            it[j].ref = list[a + j][1];
        }
        bool offers = t < self->ncodes;
        int32_t key = (int32_t)(offers ? t : t - self->ncodes);
        uint32_t root = tree_at(self, offers ? self->offer_tree : self->demand_tree, key);
        spatial__build(&self->sp, root, it, it + m, m, slots);
    }
    /* The slots into the orders and the orders into the id hash, in load
     * order (the order the refs were made in): one visit per order. */
    ref = 0;
    for (size_t i = 0; i < n; i++) {
        wf_order_t *o = all[i];
        hash_insert(self, o);
        if (o->side == WF_OFFER) {
            o->pos[0] = slots[ref++];
            continue;
        }
        for (unsigned k = 0; k < o->npatterns; k++)
            if (o->pos[k] != BOOK_NOPOS)
                o->pos[k] = slots[ref++];
    }
    wf_free(it);
    wf_free(slots);
    wf_free(list);
    wf_free(fill);
    wf_free(start);

    wf_free(self->loading);
    wf_free(self->items);
    self->loading = NULL;
    self->items = NULL;
    self->nloading = self->loadcap = 0;
    self->is_loading = false;
}

void
wf_book_remove(wf_book_t *self, wf_order_t *o)
{
    wf_order_t **pp = &self->buckets[bucket(self, o->id)];
    while (*pp != o) {
        assert(*pp && "order is not in this book");
        pp = &(*pp)->hnext;
    }
    *pp = o->hnext;
    levels_move(self, o, -1, -o->remaining);

    if (o->side == WF_OFFER) {
        spatial__remove(&self->sp, self->offer_tree[o->code], o->code, o);
    } else {
        for (unsigned k = 0; k < o->npatterns; k++)
            if (o->pos[k] != BOOK_NOPOS)
                spatial__remove(&self->sp, self->demand_tree[o->patterns[k]], o->patterns[k], o);
    }

    self->count--;
    o->id = 0;
    o->remaining = 0;
    o->hnext = self->free;
    self->free = o;
}

bool
wf_book_fill(wf_book_t *self, wf_order_t *o, int64_t qty)
{
    assert(qty > 0 && qty <= o->remaining);
    levels_move(self, o, 0, -qty);
    o->remaining -= qty;
    if (o->remaining > 0)
        return false;
    wf_book_remove(self, o);
    return true;
}

size_t
wf_book_count(const wf_book_t *self)
{
    return self->count;
}

wf_book_level_t
wf_book_level(const wf_book_t *self, int32_t code)
{
    wf_book_level_t none = {{0, 0}, {0, 0}, 0};
    return code >= 0 && (size_t)code < self->ncodes ? self->levels[code] : none;
}

wf_book_level_t
wf_book_class_level(const wf_book_t *self, wf_class_t cls)
{
    wf_book_level_t none = {{0, 0}, {0, 0}, 0};
    return (int)cls >= 0 && cls < WF_CLASS__COUNT ? self->classes[cls] : none;
}

static int
by_id(const void *a, const void *b)
{
    uint64_t x = (*(wf_order_t *const *)a)->id, y = (*(wf_order_t *const *)b)->id;
    return (x > y) - (x < y);
}

void
wf_book_each(const wf_book_t *self, bool (*fn)(void *arg, const wf_order_t *o), void *arg)
{
    /* Not a hot path: snapshot and sort, so fn sees a stable id order. */
    wf_order_t **all = wf_malloc(self->count * sizeof *all);
    size_t n = 0;
    for (size_t b = 0; b < self->nbuckets; b++)
        for (wf_order_t *o = self->buckets[b]; o; o = o->hnext)
            all[n++] = o;
    qsort(all, n, sizeof *all, by_id);
    for (size_t i = 0; i < n; i++)
        if (!fn(arg, all[i]))
            break;
    wf_free(all);
}

/* ---- comparing (tests) -------------------------------------------------- */

/* Every field but the hash link, leaf slots included. */
static bool
same_order(const wf_order_t *x, const wf_order_t *y)
{
    if (x->id != y->id || x->side != y->side || x->firm != y->firm || x->code != y->code ||
        x->npatterns != y->npatterns || x->qty != y->qty || x->remaining != y->remaining ||
        x->price != y->price || x->min_fill != y->min_fill || x->min_credit != y->min_credit ||
        memcmp(&x->lat, &y->lat, sizeof x->lat) != 0 || memcmp(&x->lon, &y->lon, sizeof x->lon) != 0 ||
        memcmp(&x->max_km, &y->max_km, sizeof x->max_km) != 0 || x->expires != y->expires ||
        x->target != y->target)
        return false;
    unsigned n = x->side == WF_OFFER ? 1 : x->npatterns;
    for (unsigned k = 0; k < n && k < WF_MAX_PATTERNS; k++)
        if ((x->side == WF_DEMAND && x->patterns[k] != y->patterns[k]) || x->pos[k] != y->pos[k])
            return false;
    return true;
}

static int
compare_level(const wf_book_level_t *x, const wf_book_level_t *y)
{
    return x->orders[0] != y->orders[0] || x->orders[1] != y->orders[1] ||
           x->qty[0] != y->qty[0] || x->qty[1] != y->qty[1] || x->version != y->version;
}

int
wf_book__compare(const wf_book_t *a, const wf_book_t *b, char *why, size_t len)
{
    if (a->count != b->count || a->nbuckets != b->nbuckets || a->ncodes != b->ncodes) {
        snprintf(why, len, "%zu orders in %zu buckets against %zu in %zu", a->count, a->nbuckets,
                 b->count, b->nbuckets);
        return 1;
    }
    for (size_t bk = 0; bk < a->nbuckets; bk++)
        for (const wf_order_t *x = a->buckets[bk]; x; x = x->hnext) {
            const wf_order_t *y = wf_book_find(b, x->id);
            if (!y) {
                snprintf(why, len, "order %llu is in one book only", (unsigned long long)x->id);
                return 1;
            }
            if (!same_order(x, y)) {
                snprintf(why, len, "order %llu differs (fields or leaf slots)",
                         (unsigned long long)x->id);
                return 1;
            }
        }
    for (size_t c = 0; c < a->ncodes; c++) {
        if (spatial__compare(&a->sp, a->offer_tree[c], &b->sp, b->offer_tree[c], why, len) ||
            spatial__compare(&a->sp, a->demand_tree[c], &b->sp, b->demand_tree[c], why, len)) {
            size_t n = strlen(why);
            snprintf(why + n, len - n, " (trees of %s)", wf_catalogue_get(a->cat, (int32_t)c)->code);
            return 1;
        }
        if (compare_level(&a->levels[c], &b->levels[c])) {
            snprintf(why, len, "the totals of %s differ", wf_catalogue_get(a->cat, (int32_t)c)->code);
            return 1;
        }
    }
    for (int k = 0; k < WF_CLASS__COUNT; k++)
        if (compare_level(&a->classes[k], &b->classes[k])) {
            snprintf(why, len, "the totals of class %s differ", wf_class_name((wf_class_t)k));
            return 1;
        }
    if (spatial__bytes(&a->sp) != spatial__bytes(&b->sp) || a->sp.nnodes != b->sp.nnodes) {
        snprintf(why, len, "index memory %zu B in %u nodes against %zu B in %u",
                 spatial__bytes(&a->sp), a->sp.nnodes, spatial__bytes(&b->sp), b->sp.nnodes);
        return 1;
    }
    return 0;
}
