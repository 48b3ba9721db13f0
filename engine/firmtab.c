/* The engine's firm table: every registered firm's record and its matcher
 * party, indexed by firm number (the book refers to firms by number), with
 * open-addressing hash indexes by id (every command's identity step) and
 * by CURVE key (the net layer's ZAP handler). Firms are never deleted; a
 * key change rebuilds the key index, which is rare and O(firms). The
 * party's credit is the live score: base credit plus the points of the
 * firm's active credit events (credit.c keeps them up to date). */
#include "engine_int.h"

#include <string.h>

#include "wf_alloc.h"

static uint32_t
hash(const char *s, size_t max)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < max && s[i]; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

void
wf_firmtab__init(wf_firmtab_t *t)
{
    memset(t, 0, sizeof *t);
}

void
wf_firmtab__fini(wf_firmtab_t *t)
{
    wf_free(t->recs);
    wf_free(t->parties);
    wf_free(t->by_id);
    wf_free(t->by_key);
    wf_free(t->points);
    wf_free(t->trader);
    memset(t, 0, sizeof *t);
}

static void
index_insert(uint32_t *slots, uint32_t nslots, const char *s, size_t max, uint32_t number)
{
    uint32_t i = hash(s, max) & (nslots - 1);
    while (slots[i])
        i = (i + 1) & (nslots - 1);
    slots[i] = number + 1;
}

/* Rebuilds both indexes with room for at least twice the firms. */
static void
reindex(wf_firmtab_t *t)
{
    uint32_t want = 16;
    while (want < 2 * t->count + 2)
        want *= 2;
    if (want != t->slots) {
        wf_free(t->by_id);
        wf_free(t->by_key);
        t->by_id = wf_calloc(want, sizeof *t->by_id);
        t->by_key = wf_calloc(want, sizeof *t->by_key);
        t->slots = want;
    } else {
        memset(t->by_id, 0, want * sizeof *t->by_id);
        memset(t->by_key, 0, want * sizeof *t->by_key);
    }
    for (uint32_t n = 0; n < t->cap; n++) {
        const wf_firm_rec_t *f = &t->recs[n];
        if (!f->id[0])
            continue;
        index_insert(t->by_id, t->slots, f->id, WF_FIRM_LEN, n);
        if (f->key[0])
            index_insert(t->by_key, t->slots, f->key, WF_KEY_LEN, n);
    }
}

static void
grow(wf_firmtab_t *t, uint32_t number)
{
    if (number < t->cap)
        return;
    uint32_t cap = t->cap ? t->cap : 16;
    while (cap <= number)
        cap *= 2;
    t->recs = wf_realloc(t->recs, cap * sizeof *t->recs);
    t->parties = wf_realloc(t->parties, cap * sizeof *t->parties);
    t->points = wf_realloc(t->points, cap * sizeof *t->points);
    t->trader = wf_realloc(t->trader, cap * sizeof *t->trader);
    memset(t->trader + t->cap, 0, (cap - t->cap) * sizeof *t->trader);
    memset(t->recs + t->cap, 0, (cap - t->cap) * sizeof *t->recs);
    memset(t->parties + t->cap, 0, (cap - t->cap) * sizeof *t->parties);
    memset(t->points + t->cap, 0, (cap - t->cap) * sizeof *t->points);
    t->cap = cap;
}

void
wf_firmtab__put(wf_firmtab_t *t, const wf_firm_rec_t *rec)
{
    grow(t, rec->number);
    wf_firm_rec_t *f = &t->recs[rec->number];
    bool is_new = !f->id[0];
    bool rekey = !is_new && strcmp(f->key, rec->key) != 0;
    bool *trader = &t->trader[rec->number];
    if (*trader)
        t->traders_by_credit[t->parties[rec->number].credit]--;
    *f = *rec;
    t->parties[rec->number] = (wf_party_t){
        .credit = wf_credit_clamp((int64_t)rec->base_credit + t->points[rec->number]),
        .blocked = rec->blocked != 0, .county = rec->county};
    if (rec->roles & (WF_ROLE_PRODUCER | WF_ROLE_CONSUMER))
        *trader = true;
    if (*trader)
        t->traders_by_credit[t->parties[rec->number].credit]++;
    if (is_new)
        t->count++;
    if (is_new && 2 * t->count + 2 <= t->slots) {
        index_insert(t->by_id, t->slots, f->id, WF_FIRM_LEN, rec->number);
        if (f->key[0])
            index_insert(t->by_key, t->slots, f->key, WF_KEY_LEN, rec->number);
    } else if (is_new || rekey) {
        reindex(t);
    }
}

void
wf_firmtab__set_points(wf_firmtab_t *t, uint32_t number, int64_t points)
{
    if (number >= t->cap)
        return;
    t->points[number] = points;
    if (t->trader[number])
        t->traders_by_credit[t->parties[number].credit]--;
    t->parties[number].credit = wf_credit_clamp((int64_t)t->recs[number].base_credit + points);
    if (t->trader[number])
        t->traders_by_credit[t->parties[number].credit]++;
}

void
wf_firmtab__trader(wf_firmtab_t *t, uint32_t number)
{
    if (number >= t->cap || t->trader[number])
        return;
    t->trader[number] = true;
    t->traders_by_credit[t->parties[number].credit]++;
}

int32_t
wf_firmtab__credit_max(const wf_firmtab_t *t)
{
    for (int32_t c = 100; c > 0; c--) /* at most 100 steps */
        if (t->traders_by_credit[c])
            return c;
    return 0;
}

static wf_firm_rec_t *
lookup(const wf_firmtab_t *t, const uint32_t *slots, const char *s, size_t max, size_t off)
{
    if (!t->slots || !s || !s[0])
        return NULL;
    uint32_t i = hash(s, max) & (t->slots - 1);
    for (; slots[i]; i = (i + 1) & (t->slots - 1)) {
        wf_firm_rec_t *f = &t->recs[slots[i] - 1];
        if (strncmp((const char *)f + off, s, max) == 0)
            return f;
    }
    return NULL;
}

wf_firm_rec_t *
wf_firmtab__find(const wf_firmtab_t *t, const char *id)
{
    return lookup(t, t->by_id, id, WF_FIRM_LEN, offsetof(wf_firm_rec_t, id));
}

wf_firm_rec_t *
wf_firmtab__by_key(const wf_firmtab_t *t, const char *key)
{
    return lookup(t, t->by_key, key, WF_KEY_LEN, offsetof(wf_firm_rec_t, key));
}
