/* Per-batch memory: a bump arena for what replies point to (matches, order
 * lists, copies of firm and config records) and growable arrays for the
 * outbox. Both are emptied when the next batch starts, which is exactly the
 * lifetime engine.h promises the net layer. */
#include "engine_int.h"

#include <string.h>

#include "wf_alloc.h"

#define BLOCK_MIN (64 * 1024)

struct wf_arena_block {
    wf_arena_block_t *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

void *
wf_arena__alloc(wf_arena_t *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    wf_arena_block_t *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > BLOCK_MIN ? n : BLOCK_MIN;
        b = wf_malloc(sizeof *b + cap);
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

void
wf_arena__reset(wf_arena_t *a)
{
    while (a->head) {
        wf_arena_block_t *b = a->head;
        a->head = b->next;
        wf_free(b);
    }
}

void *
wf_vec__push(wf_vec_t *v)
{
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 64;
        v->items = wf_realloc(v->items, v->cap * v->size);
    }
    void *p = (char *)v->items + v->n++ * v->size;
    memset(p, 0, v->size);
    return p;
}

void
wf_vec__free(wf_vec_t *v)
{
    wf_free(v->items);
    v->items = NULL;
    v->n = v->cap = 0;
}
