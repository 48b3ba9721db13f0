/* The book's private layout, shared by book.c (storage and indexes) and
 * match.c (the rule, ranking and fill planning). Not for use outside
 * matcher/. */
#ifndef WF_BOOK_INT_H
#define WF_BOOK_INT_H

#include "book.h"

#define BOOK_CHUNK 1024        /* orders per pool chunk */
#define BOOK_NOPOS UINT32_MAX  /* pos[] of a pattern that is not listed */

/* Resting orders at one catalogue id, unordered; removal swaps the last
 * one into the hole and fixes its pos[]. */
typedef struct book_list {
    wf_order_t **v;
    uint32_t n, cap;
} book_list_t;

typedef struct book_candidate {
    wf_order_t *y;
    double km;
    int64_t fee;
    double score;
} book_candidate_t;

/* Per-match working memory, reused so that a warmed book does not allocate
 * while matching. Reached through a pointer so that wf_book_match can use
 * it on a const book; the book is single-threaded by design. */
typedef struct book_scratch {
    book_candidate_t *cand;
    size_t ncand, candcap;
    int64_t *allowed;  /* per planned fill: the allowance it was cut to, or INT64_MAX */
    size_t allowedcap;
} book_scratch_t;

struct wf_book {
    const wf_catalogue_t *cat;
    size_t ncodes;          /* catalogue size the indexes below were built for */
    book_list_t *offers;    /* [ncodes] offers by their exact code */
    book_list_t *demands;   /* [ncodes] demands by each of their patterns */
    int32_t *pre;           /* [ncodes] catalogue ids in depth-first preorder */
    uint32_t *pre_at;       /* [ncodes] where an id sits in pre; its subtree is */
    uint32_t *pre_end;      /*   pre[pre_at[id] .. pre_end[id]) */

    wf_order_t **buckets;   /* id hash, chained through hnext */
    size_t nbuckets;        /* power of two */
    size_t count;

    wf_order_t **chunks;    /* the pool: BOOK_CHUNK orders each, never moved */
    size_t nchunks;
    wf_order_t *free;       /* free slots, chained through hnext */

    book_scratch_t *scratch;
};

#endif
