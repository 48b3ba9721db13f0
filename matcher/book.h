/* The in-memory order book and the matching rule (DESIGN.md "Matching").
 *
 * The book indexes resting orders by waste code. Matching is split in two
 * so that the engine can persist before it mutates: wf_book_match() plans
 * the fills for an incoming order without touching the book, then the
 * engine writes them to its store and applies them with wf_book_fill().
 * Everything here is pure C: no I/O, no clock (time comes in the env).
 *
 * Indexes: per side and waste code, a quadtree over lat/lon whose nodes
 * bound the score of the orders below them, searched best-first (see
 * matcher/spatial.c and match.c); the result is exactly the literal rule's
 * (matcher/reference.h is the oracle the tests hold it to).
 *
 * Memory per resting order: the wf_order_t itself (240 bytes, in a pool of
 * 1024-order chunks), its id-hash bucket (8 bytes, buckets <= orders), and
 * per tree it is listed in (an offer: one; a demand: one per distinct
 * pattern) a 32-byte leaf entry in arrays about 2/3 full plus a share of
 * the 72-byte nodes: about 300 bytes for an offer or a one-pattern demand,
 * about 325 as measured over a province-scale book (bench/README.md).
 *
 * A resident order's side, code, patterns, lat, lon and price are indexed
 * and must not change while it rests (remove it and add it again);
 * remaining changes only through wf_book_fill. max_km may be lowered and
 * min_fill raised in place; expires and min_credit are read afresh. */
#ifndef WF_BOOK_H
#define WF_BOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalogue.h"

#define WF_MAX_PATTERNS 16 /* codes in one demand or subscription */
#define WF_MAX_FILLS 64    /* fills one incoming order may make; the rest rests */

typedef enum wf_side { WF_OFFER = 0, WF_DEMAND = 1 } wf_side_t;

/* What the matcher must know of a firm. The engine keeps one per firm,
 * indexed by the firm's number, and updates it when the firm changes. */
typedef struct wf_party {
    int32_t credit;   /* live credit score, 0..100 */
    bool blocked;     /* blacklisted: its orders do not match */
    uint32_t county;  /* 6-digit division code; city = county / 100 */
} wf_party_t;

/* Operator settings the rule reads (a subset of the engine's config). */
typedef struct wf_rules {
    double w_credit;   /* default 0.4 */
    double w_distance; /* default 0.4 */
    double w_price;    /* default 0.2 */
    bool county_rule;  /* general waste stays in its county */
    bool city_rule;    /* hazardous waste stays in its city */
    int64_t eco_fee;   /* fen per unit added to the offer price across counties */
} wf_rules_t;

typedef struct wf_order wf_order_t;
struct wf_order {
    uint64_t id;          /* engine-minted, increasing: lower = rested earlier */
    wf_side_t side;
    uint32_t firm;        /* the owner's firm number (index of its wf_party_t) */
    int32_t code;         /* offer: catalogue id of its code; demand: -1 */
    uint8_t npatterns;    /* demand: number of patterns; offer: 0 */
    int32_t patterns[WF_MAX_PATTERNS]; /* demand: catalogue ids */
    int64_t qty;          /* as posted */
    int64_t remaining;    /* still open; > 0 while resting */
    int64_t price;        /* fen per tonne (or m3), signed */
    int64_t min_fill;     /* >= 1 */
    int32_t min_credit;   /* counterparty credit at least this */
    double lat, lon;      /* degrees */
    double max_km;        /* > 0 */
    int64_t expires;      /* unix ms; 0 = never */
    uint64_t target;      /* demand only: the one offer it may take; 0 = none */
    /* Book-private links; callers leave them zeroed (wf_book_add sets them). */
    wf_order_t *hnext;             /* id-hash chain; free-list link while pooled */
    uint32_t pos[WF_MAX_PATTERNS]; /* slot in its leaf of the tree: offer [0] in the
                                      tree of its code, demand [k] in the tree of
                                      patterns[k] (a repeated pattern is listed once) */
};

/* The matcher's view of the world at one instant. */
typedef struct wf_match_env {
    const wf_catalogue_t *cat;
    const wf_rules_t *rules;
    int64_t now;                 /* unix ms; an order with expires <= now is dead */
    void *ctx;
    /* The party for a firm number; never NULL for a number the book holds. */
    const wf_party_t *(*party)(void *ctx, uint32_t firm);
    /* Hazardous quantity consumer may still receive of code from producer
     * at now: INT64_MAX without limit (a lane), 0 when neither a valid
     * licence nor a lane allows it. NULL: the licence rule is not applied. */
    int64_t (*allowance)(void *ctx, uint32_t consumer, uint32_t producer, int32_t code, int64_t now);
    /* Optional, used only with allowance. NULL: a licence's capacity is
     * taken to belong to one (consumer, code), and the matcher itself
     * subtracts the fills it planned earlier for the same consumer and code
     * from what allowance says. Set: the matcher calls use once for each
     * planned fill whose allowance was finite (qty > 0, in plan order) and
     * keeps no tally of its own; allowance must then count what use
     * recorded since the plan began. That lets the caller key capacity by
     * licence (one licence may cover a whole category, so two codes share
     * it). The caller clears its tally before each wf_book_match or
     * wf_refbook_match. */
    void (*use)(void *ctx, uint32_t consumer, uint32_t producer, int32_t code, int64_t qty,
                int64_t now);
    /* Per catalogue id (wf_catalogue_count entries): nonzero for a code
     * that clears only in call auctions, so no pair whose offer has it is
     * eligible. NULL: every code matches continuously. */
    const uint8_t *batch_codes;
    /* At least the credit of every party the book's orders belong to, 1..100:
     * the search bounds a region's scores with it. 0 (or anything outside
     * 1..100): 100, the bound that holds whatever the parties' credit. A
     * value below some party's credit makes the search miss orders. */
    int32_t credit_max;
} wf_match_env_t;

/* One planned fill of the incoming order against a resting one. */
typedef struct wf_fill {
    wf_order_t *resting;
    int64_t qty;
    int64_t price;  /* the resting order's price */
    int64_t fee;    /* eco fee per unit, 0 when none applies */
    double km;
    double score;   /* the rule's score of the resting order */
} wf_fill_t;

typedef struct wf_book wf_book_t;

/* An empty book over cat (borrowed; must outlive the book). */
wf_book_t *wf_book_new(const wf_catalogue_t *cat);
void wf_book_destroy(wf_book_t **self_p);

/* Copies o into the book and indexes it. o->id must be unused and
 * o->remaining > 0. Returns the resident copy, valid until removed. */
wf_order_t *wf_book_add(wf_book_t *self, const wf_order_t *o);

/* Bulk loading, for a book rebuilt from a store: wf_book_load_begin on a
 * new book (as wf_book_new returns it; n: how many orders will come, to size the pool and the id
 * hash at once; a hint, not a limit), then wf_book_load_add for each order
 * in increasing id order (copied, as by wf_book_add, but not yet indexed),
 * then wf_book_load_end, which builds the id hash and every tree in one
 * pass each. Nothing else may be called on the book in between. The
 * result is the book that wf_book_add of the same orders in the same order
 * makes (the same trees, leaves, aggregates, totals and versions;
 * tests/test_matcher_bulk.c holds it to that), in a fraction of the time:
 * no leaf is grown or split on the way and the aggregates are computed
 * once per node. wf_book_load_add returns the resident copy, valid until it
 * is removed. */
void wf_book_load_begin(wf_book_t *self, size_t n);
wf_order_t *wf_book_load_add(wf_book_t *self, const wf_order_t *o);
void wf_book_load_end(wf_book_t *self);

/* The resident order with id, or NULL. */
wf_order_t *wf_book_find(const wf_book_t *self, uint64_t id);

/* Unindexes and frees a resident order. */
void wf_book_remove(wf_book_t *self, wf_order_t *o);

/* Takes qty off a resident order; removes it when nothing remains.
 * Returns true when it was removed. */
bool wf_book_fill(wf_book_t *self, wf_order_t *o, int64_t qty);

size_t wf_book_count(const wf_book_t *self);

/* Live totals of the book, kept up to date by add, fill and remove (so
 * they are rebuilt with the book at start): per catalogue id, the offers
 * at that exact code and the demands that name it as a pattern (a demand
 * with several patterns counts at each distinct one); per class, every
 * order once (a demand by the class of its first pattern). version grows
 * by one at every change of the entry, so a reader can tell whether it
 * changed since it last looked. */
typedef struct wf_book_level {
    int64_t orders[2];   /* by wf_side_t */
    int64_t qty[2];      /* remaining quantity, in the code's unit */
    uint64_t version;
} wf_book_level_t;

/* The level of catalogue id code (all zero for an id the book has not
 * seen yet); valid until the book changes. */
wf_book_level_t wf_book_level(const wf_book_t *self, int32_t code);
/* The level of a class (wf_class_t). */
wf_book_level_t wf_book_class_level(const wf_book_t *self, wf_class_t cls);

/* Calls fn for each resident order in id order; stops early when fn
 * returns false. */
void wf_book_each(const wf_book_t *self, bool (*fn)(void *arg, const wf_order_t *o), void *arg);

/* Plans the fills of incoming order x (not in the book) against the
 * resting book: the eligible counter-orders ranked by score, highest first,
 * ties by lower id, filled greedily while x has quantity left; a candidate
 * whose fill would fall below either minimum fill is passed over. Writes at
 * most cap fills to out and returns their number. Does not modify the book. */
size_t wf_book_match(const wf_book_t *self, const wf_order_t *x, const wf_match_env_t *env,
                     wf_fill_t *out, size_t cap);

/* The literal rule for one pair, quantity aside: true when resting order y
 * is eligible for incoming x (code fit, both live, different firms, neither
 * blocked, distance within both radii, credit minimums, price with fee,
 * licence or lane, regional rules, the offer's code not in a call auction). On true, sets *km, *fee and *score. */
bool wf_match_eligible(const wf_order_t *x, const wf_order_t *y, const wf_match_env_t *env,
                       double *km, int64_t *fee, double *score);

/* Default rule weights and switches (rules off, eco_fee 0). */
wf_rules_t wf_rules_default(void);

#endif
