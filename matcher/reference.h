/* The brute-force reference matcher: the oracle that the book's indexed
 * matcher (book.h) is tested against, and the baseline of the matcher
 * bench. It keeps resting orders in one plain array sorted by id and, for
 * every incoming order, asks wf_match_eligible() of every one of them, sorts
 * the eligible by score then id, and fills greedily exactly as DESIGN.md
 * "Matching" words it. Nothing here is tuned: it is meant to be obviously
 * right, and it is O(book) per incoming order. */
#ifndef WF_REFERENCE_H
#define WF_REFERENCE_H

#include <stdbool.h>
#include <stddef.h>

#include "book.h"

typedef struct wf_refbook wf_refbook_t;

/* An empty reference book over cat (borrowed; must outlive the book). */
wf_refbook_t *wf_refbook_new(const wf_catalogue_t *cat);
void wf_refbook_destroy(wf_refbook_t **self_p);

/* Copies o into the book. o->id must be unused and o->remaining > 0.
 * Returns the resident copy, valid until it is removed. */
wf_order_t *wf_refbook_add(wf_refbook_t *self, const wf_order_t *o);

/* The resident order with id, or NULL. */
wf_order_t *wf_refbook_find(const wf_refbook_t *self, uint64_t id);

/* Removes and frees a resident order. */
void wf_refbook_remove(wf_refbook_t *self, wf_order_t *o);

/* Takes qty off a resident order; removes it when nothing remains.
 * Returns true when it was removed. */
bool wf_refbook_fill(wf_refbook_t *self, wf_order_t *o, int64_t qty);

size_t wf_refbook_count(const wf_refbook_t *self);

/* The i-th resident order in id order, i < wf_refbook_count(); valid until
 * the book next changes. */
const wf_order_t *wf_refbook_at(const wf_refbook_t *self, size_t i);

/* Plans the fills of incoming order x against the book with the same
 * contract as wf_book_match(): writes at most cap fills to out, returns
 * their number, and does not modify the book. */
size_t wf_refbook_match(const wf_refbook_t *self, const wf_order_t *x, const wf_match_env_t *env,
                        wf_fill_t *out, size_t cap);

#endif
