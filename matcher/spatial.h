/* The book's spatial index (matcher-private): one quadtree per side and
 * waste code over latitude and longitude, whose nodes carry the aggregates
 * that wf_book_match() turns into an upper bound on the score of any order
 * below them. See spatial.c for the layout and why it is a quadtree. */
#ifndef WF_SPATIAL_H
#define WF_SPATIAL_H

#include <stdbool.h>
#include <stdint.h>

#include "book.h"

#define SP_LEAF_CAP 32  /* a leaf splits when it holds more than this... */
#define SP_MAX_DEPTH 24 /* ...unless it is this deep (cells of ~1 m) or all its
                           orders sit on one point */
#define SP_NONE UINT32_MAX

/* A resting order as a leaf lists it: what the search filters on, copied
 * so that a leaf scan reads one contiguous array. v is the order's unit
 * vector rounded to float (within 1.1e-7 of the exact one, which the
 * search allows for), max_km rounded up, price exact. */
typedef struct sp_entry {
    float v[3];
    float max_km;
    int64_t price;
    wf_order_t *o;
} sp_entry_t;

/* A node: a leaf lists its entries, an internal node has four children,
 * consecutive in the pool. The aggregates cover every entry below: a box
 * around their float unit vectors, the largest max_km, the lowest and
 * highest price. An insert widens them on the way down; a remove tightens
 * only what the removed entry sat on, so they may be looser than the
 * entries but never tighter. */
typedef struct sp_node {
    float lo[3], hi[3];
    float max_km;
    uint32_t count;      /* entries in the subtree */
    int64_t min_price, max_price;
    uint32_t child;      /* SP_NONE for a leaf, else the first of four */
    uint32_t n, cap;     /* leaf: entries in e[] and its room */
    sp_entry_t *e;
} sp_node_t;

/* The nodes of every tree of one book, in one pool. Node indexes are
 * stable; node pointers are valid until the next insert. */
typedef struct spatial {
    sp_node_t *nodes;
    uint32_t nnodes, cap;
    uint32_t free_quads;    /* freed groups of four, chained through child */
    uint32_t nquads_free;
    size_t entry_bytes;     /* room of all leaves' entry arrays, for stats */
} spatial_t;

void spatial__init(spatial_t *sp);
void spatial__fini(spatial_t *sp);

/* A new empty tree; returns its root. */
uint32_t spatial__tree(spatial_t *sp);

/* Lists o in the tree at root, which holds orders of catalogue id key;
 * o's slot for key (book__pos) tracks where it is. */
void spatial__insert(spatial_t *sp, uint32_t root, int32_t key, wf_order_t *o);

/* An order waiting to be listed by spatial__build: its leaf entry, its
 * point, and ref, the index in the caller's slots[] that receives its leaf
 * slot. */
typedef struct sp_item {
    sp_entry_t e;
    double lat, lon;
    uint32_t ref;
} sp_item_t;

/* The item of o (ref left to the caller). */
void spatial__item(wf_order_t *o, sp_item_t *it);

/* Lists the n items of it[] (increasing order ids) in the empty tree at
 * root in one go, writing each one's leaf slot to slots[ref] (the caller
 * copies them into the orders, book__pos, afterwards: one pass in pool
 * order instead of a scattered write per entry). The tree, its leaves
 * (entries in id order, the same room) and its aggregates come out as n
 * calls of spatial__insert in that order would leave them, up to the sign
 * of a zero bound (the search cannot tell the two apart). it[] is
 * reordered; tmp has room for n. Work: each item is placed once per level
 * it descends, at most SP_MAX_DEPTH, with no leaf grown or split on the
 * way. */
void spatial__build(spatial_t *sp, uint32_t root, sp_item_t *it, sp_item_t *tmp, size_t n,
                    uint32_t *slots);

/* Unlists o from the tree at root (as listed by spatial__insert). */
void spatial__remove(spatial_t *sp, uint32_t root, int32_t key, wf_order_t *o);

/* The unit vector of a point given in degrees. */
void spatial__unit(double lat, double lon, double v[3]);

/* Bytes the index holds beyond the orders themselves. */
size_t spatial__bytes(const spatial_t *sp);

/* Compares the trees at ra in a and rb in b: 0 when they have the same
 * shape, counts, aggregates (float bounds compared by value), and leaves
 * listing the same order ids in the same slots; otherwise nonzero, with
 * what differs in why. For tests. */
int spatial__compare(const spatial_t *a, uint32_t ra, const spatial_t *b, uint32_t rb, char *why,
                     size_t len);

#endif
