/* The book's private layout, shared by book.c (storage and indexes),
 * spatial.c (the per-code quadtrees) and match.c (the rule, ranking and
 * the best-first search). Not for use outside matcher/, but for tests
 * that compare two books' indexes (wf_book__compare). */
#ifndef WF_BOOK_INT_H
#define WF_BOOK_INT_H

#include "book.h"
#include "spatial.h"

#define BOOK_CHUNK 1024        /* orders per pool chunk */
#define BOOK_NOPOS UINT32_MAX  /* pos[] of a pattern that is not listed */

typedef struct book_candidate {
    wf_order_t *y;
    double km;
    int64_t fee;
    double score;
} book_candidate_t;

/* An item of the best-first search's heap: a tree node keyed by the bound
 * on its orders' scores, or an eligible order keyed by its score. */
typedef struct book_item {
    double key;
    uint64_t id;       /* candidate: the resting order's id; node: 0 */
    uint32_t ref;      /* node index, or index into the candidates */
    uint32_t is_cand;
} book_item_t;

/* Per-match working memory, reused so that a warmed book does not allocate
 * while matching. Reached through a pointer so that wf_book_match can use
 * it on a const book; the book is single-threaded by design. */
typedef struct book_scratch {
    book_candidate_t *cand;
    size_t ncand, candcap;
    book_item_t *heap;
    size_t nheap, heapcap;
    int64_t *allowed;  /* per planned fill: the allowance it was cut to, or INT64_MAX */
    size_t allowedcap;
} book_scratch_t;

struct wf_book {
    const wf_catalogue_t *cat;
    size_t ncodes;          /* catalogue size the indexes below were built for */
    uint32_t *offer_tree;   /* [ncodes] root of the offers at that exact code, or SP_NONE */
    uint32_t *demand_tree;  /* [ncodes] root of the demands listing that pattern, or SP_NONE */
    int32_t *pre;           /* [ncodes] catalogue ids in depth-first preorder */
    uint32_t *pre_at;       /* [ncodes] where an id sits in pre; its subtree is */
    uint32_t *pre_end;      /*   pre[pre_at[id] .. pre_end[id]) */
    spatial_t sp;

    wf_order_t **buckets;   /* id hash, chained through hnext */
    size_t nbuckets;        /* power of two */
    size_t count;

    wf_order_t **chunks;    /* the pool: BOOK_CHUNK orders each, never moved */
    size_t nchunks;
    wf_order_t *slab;       /* the first nslab chunks, in one block (bulk loading) */
    size_t nslab;
    wf_order_t *free;       /* free slots, chained through hnext */

    book_scratch_t *scratch;

    wf_order_t **loading;   /* between wf_book_load_begin and _end: the orders so far */
    sp_item_t *items;       /*   and their leaf entries, made while the order is at hand */
    size_t nloading, loadcap;
    bool is_loading;

    wf_book_level_t *levels;                /* [ncodes] */
    wf_book_level_t classes[WF_CLASS__COUNT];
};

/* The pos[] slot of o that records its place in the tree of catalogue id
 * key (an offer's code, or one of a demand's patterns). */
uint32_t *book__pos(wf_order_t *o, int32_t key);

/* Compares the indexes of two books holding the same orders: the same
 * orders by id with the same fields and leaf slots, the same trees per side
 * and code (spatial__compare), the same totals and versions, the same
 * index memory. Returns 0 when equal, else nonzero with a sentence in why.
 * For tests: the bulk-loaded book against one built order by order. */
int wf_book__compare(const wf_book_t *a, const wf_book_t *b, char *why, size_t len);

#endif
