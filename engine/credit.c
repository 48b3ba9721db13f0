/* Credit and the blacklist in the engine (DESIGN.md "Credit"): the
 * operator's credit.event, firm.block and firm.unblock, the expiry of
 * credit events by the writer loop's timers, and the `credit` stream
 * message a firm gets whenever its score or tier changes.
 *
 * A firm's live score is its base credit plus the points of its active
 * events, clamped to 0..100 (credit/score.h). Events are stored in the
 * "credit" database; the active ones are also kept in memory per firm, and
 * their sum sits in the firm table, which turns it into the matcher's
 * party credit. An event stops counting when its WF_TIMER_CREDIT timer
 * fires at its expiry: the tick marks it expired on disk (so a restart
 * agrees without needing a clock), recomputes the score and tells the firm
 * when score or tier moved. Nobody has to touch the firm for that. */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wf_alloc.h"
#include "wf_error.h"

#define POINTS_MAX 100 /* one event moves a score by at most this much */

static bool
is_operator(const wf_firm_rec_t *f)
{
    return (f->roles & WF_ROLE_OPERATOR) != 0;
}

char
wf_credit__tier(const wf_engine_t *e, int32_t score)
{
    wf_tiers_t t = {e->config.tier_a, e->config.tier_b, e->config.tier_c};
    return wf_credit_tier(score, &t);
}

static wf_credit_list_t *
list_of(wf_engine_t *e, uint32_t number)
{
    if (number >= e->credit_cap) {
        uint32_t cap = e->credit_cap ? e->credit_cap : 64;
        while (cap <= number)
            cap *= 2;
        e->credit = wf_realloc(e->credit, cap * sizeof *e->credit);
        memset(e->credit + e->credit_cap, 0, (cap - e->credit_cap) * sizeof *e->credit);
        e->credit_cap = cap;
    }
    return &e->credit[number];
}

static int64_t
points_of(const wf_credit_list_t *l)
{
    int64_t sum = 0;
    for (uint32_t i = 0; i < l->n; i++)
        sum += l->ev[i].ev.points;
    return sum;
}

static void
list_add(wf_engine_t *e, uint32_t number, const wf_credit_rec_t *r)
{
    wf_credit_list_t *l = list_of(e, number);
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 4;
        l->ev = wf_realloc(l->ev, l->cap * sizeof *l->ev);
    }
    l->ev[l->n++] = *r;
    wf_firmtab__set_points(&e->firms, number, points_of(l));
}

/* The active event with id, or NULL; a firm has few, so a scan. */
static wf_credit_rec_t *
list_find(wf_engine_t *e, uint32_t number, uint64_t id)
{
    if (number >= e->credit_cap)
        return NULL;
    wf_credit_list_t *l = &e->credit[number];
    for (uint32_t i = 0; i < l->n; i++)
        if (l->ev[i].id == id)
            return &l->ev[i];
    return NULL;
}

static void
list_remove(wf_engine_t *e, uint32_t number, uint64_t id)
{
    wf_credit_rec_t *r = list_find(e, number, id);
    if (!r)
        return;
    wf_credit_list_t *l = &e->credit[number];
    size_t i = (size_t)(r - l->ev);
    memmove(&l->ev[i], &l->ev[i + 1], (l->n - i - 1) * sizeof *l->ev);
    l->n--;
    wf_firmtab__set_points(&e->firms, number, points_of(l));
}

void
wf_credit__fini(wf_engine_t *e)
{
    for (uint32_t i = 0; i < e->credit_cap; i++)
        wf_free(e->credit[i].ev);
    wf_free(e->credit);
    e->credit = NULL;
    e->credit_cap = 0;
}

int
wf_credit__load(wf_engine_t *e, MDB_txn *txn, char *err, size_t errlen)
{
    wf_credit__fini(e);
    int rc = wf_store__meta_get(txn, &e->store, "next_credit", &e->next_credit);
    if (rc != WF_OK)
        return rc;
    MDB_cursor *c;
    int mrc = mdb_cursor_open(txn, e->store.credit, &c);
    if (mrc != 0)
        return wf_store__err(mrc);
    MDB_val k, v;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        wf_credit_rec_t r;
        if (v.mv_size != sizeof r) {
            snprintf(err, errlen, "corrupt credit event record (%zu bytes)", v.mv_size);
            mdb_cursor_close(c);
            return WF_E_INTERNAL;
        }
        memcpy(&r, v.mv_data, sizeof r);
        if (r.expired)
            continue;
        const wf_firm_rec_t *f = wf_firmtab__find(&e->firms, r.firm);
        if (!f) {
            snprintf(err, errlen, "credit event %llu names unknown firm %s",
                     (unsigned long long)r.id, r.firm);
            mdb_cursor_close(c);
            return WF_E_INTERNAL;
        }
        list_add(e, f->number, &r);
        wf_timers__add(&e->timers, &(wf_timer_t){.due = r.ev.expires, .kind = WF_TIMER_CREDIT,
                                                 .ref = r.id, .aux = f->number});
    }
    mdb_cursor_close(c);
    return mrc == MDB_NOTFOUND ? WF_OK : wf_store__err(mrc);
}

int
wf_credit__note(wf_exec_t *x, MDB_txn *t, const char *firm, int32_t old_score, char old_tier,
                int32_t score, char tier, wf_stream_msg_t *msg, bool *made)
{
    *made = false;
    if (old_score == score && old_tier == tier)
        return WF_OK;
    memset(msg, 0, sizeof *msg);
    msg->type = WF_MSG_CREDIT;
    msg->u.credit.score = score;
    msg->u.credit.tier = tier;
    int rc = wf_stream__put(x, t, firm, msg);
    *made = rc == WF_OK;
    return rc;
}

int
wf_credit__retier(wf_exec_t *x, MDB_txn *t, const wf_config_t *old, const wf_config_t *new_,
                  wf_vec_t *msgs)
{
    if (old->tier_a == new_->tier_a && old->tier_b == new_->tier_b && old->tier_c == new_->tier_c)
        return WF_OK;
    wf_tiers_t to = {old->tier_a, old->tier_b, old->tier_c};
    wf_tiers_t tn = {new_->tier_a, new_->tier_b, new_->tier_c};
    const wf_firmtab_t *ft = &x->e->firms;
    for (uint32_t n = 0; n < ft->cap; n++) { /* O(firms): an operator's rare act */
        if (!ft->recs[n].id[0])
            continue;
        int32_t score = ft->parties[n].credit;
        char a = wf_credit_tier(score, &to), b = wf_credit_tier(score, &tn);
        if (a == b)
            continue;
        wf_stream_msg_t *m = wf_vec__push(msgs);
        bool made;
        int rc = wf_credit__note(x, t, ft->recs[n].id, score, a, score, b, m, &made);
        if (rc != WF_OK)
            return rc;
    }
    return WF_OK;
}

static int
cmp_event(const void *a, const void *b)
{
    const wf_credit_event_t *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->recorded != y->recorded)
        return x->recorded < y->recorded ? -1 : 1;
    return 0;
}

void
wf_credit__reply(wf_exec_t *x, const wf_firm_rec_t *f, bool with_events)
{
    wf_engine_t *e = x->e;
    wf_reply_t *r = x->reply;
    r->has_credit = true;
    r->score = e->firms.parties[f->number].credit;
    r->tier = wf_credit__tier(e, r->score);
    if (!with_events || f->number >= e->credit_cap || e->credit[f->number].n == 0)
        return;
    const wf_credit_list_t *l = &e->credit[f->number];
    wf_credit_event_t *ev = wf_arena__alloc(&e->arena, l->n * sizeof *ev);
    for (uint32_t i = 0; i < l->n; i++)
        ev[i] = l->ev[i].ev;
    qsort(ev, l->n, sizeof *ev, cmp_event); /* l->n > 0 here */
    r->events = ev;
    r->nevents = l->n;
}

/* ---- credit.event ---- */

int
wf_op__credit_event(wf_exec_t *x)
{
    wf_engine_t *e = x->e;
    const wf_cmd_credit_t *c = &x->cmd->u.credit;
    if (!is_operator(x->as))
        return wf_exec__fail(x, WF_E_AUTH, "credit.event is for operators only");
    if (!wf_str__ok(c->firm, sizeof c->firm))
        return wf_exec__fail(x, WF_E_FIELD, "firm must be a firm id string");
    const wf_firm_rec_t *f = wf_firmtab__find(&e->firms, c->firm);
    if (!f)
        return wf_exec__fail(x, WF_E_NOTFOUND, "firm: no firm %s", c->firm);
    int kind = wf_str__ok(c->kind, sizeof c->kind) ? wf_credit_kind_from_name(c->kind) : -1;
    if (kind < 0)
        return wf_exec__fail(x, WF_E_FIELD, "kind must be one of penalty, manifest, transport, "
                             "discrepancy, reporting, conduct");
    if (c->points < -POINTS_MAX || c->points > POINTS_MAX || c->points == 0)
        return wf_exec__fail(x, WF_E_FIELD, "points must be -100..100 and not 0, got %d",
                             c->points);
    int64_t expires = x->now + WF_CREDIT_VALIDITY_MS;
    if (x->cmd->has & WF_HAS_POINTS_EXPIRES) {
        if (c->expires <= x->now)
            return wf_exec__fail(x, WF_E_FIELD, "expires must be in the future");
        expires = c->expires;
    }
    if (!wf_str__ok(c->note, sizeof c->note))
        return wf_exec__fail(x, WF_E_FIELD, "note must be a string of at most %d bytes",
                             WF_NOTE_LEN - 1);

    wf_credit_rec_t rec;
    memset(&rec, 0, sizeof rec);
    rec.id = e->next_credit;
    memcpy(rec.firm, f->id, sizeof rec.firm);
    rec.ev.recorded = x->now;
    rec.ev.expires = expires;
    rec.ev.points = c->points;
    rec.ev.kind = (uint8_t)kind;
    snprintf(rec.ev.note, sizeof rec.ev.note, "%s", c->note);

    uint32_t number = f->number;
    int32_t old_score = e->firms.parties[number].credit;
    int64_t points = e->firms.points[number] + c->points;
    int32_t score = wf_credit_clamp((int64_t)f->base_credit + points);
    char old_tier = wf_credit__tier(e, old_score), tier = wf_credit__tier(e, score);

    MDB_txn *t;
    int rc = wf_exec__begin(x, &t);
    if (rc != WF_OK)
        return rc;
    uint8_t key[WF_FIRM_ID_LEN + 8];
    memcpy(key, rec.firm, WF_FIRM_ID_LEN);
    wf_store__be64(key + WF_FIRM_ID_LEN, rec.id);
    wf_stream_msg_t msg;
    bool made = false;
    rc = wf_store__put(t, e->store.credit, key, sizeof key, &rec, sizeof rec);
    if (rc == WF_OK)
        rc = wf_store__meta_put(t, &e->store, "next_credit", e->next_credit + 1);
    if (rc == WF_OK)
        rc = wf_credit__note(x, t, rec.firm, old_score, old_tier, score, tier, &msg, &made);
    if (rc == WF_OK)
        rc = wf_exec__journal(x, t);
    rc = wf_exec__end(x, t, rc);
    if (rc != WF_OK)
        return rc;
    e->next_credit++;
    e->journal_seq++;
    list_add(e, number, &rec);
    wf_timers__add(&e->timers, &(wf_timer_t){.due = expires, .kind = WF_TIMER_CREDIT,
                                             .ref = rec.id, .aux = number});
    if (made)
        wf_stream__publish(e, &msg);
    wf_credit__reply(x, &e->firms.recs[number], false);
    return WF_OK;
}

/* ---- firm.block / firm.unblock ---- */

int
wf_op__firm_block(wf_exec_t *x)
{
    wf_engine_t *e = x->e;
    const wf_cmd_block_t *c = &x->cmd->u.block;
    bool block = x->cmd->op == WF_OP_FIRM_BLOCK;
    if (!is_operator(x->as))
        return wf_exec__fail(x, WF_E_AUTH, "%s is for operators only", wf_op_name(x->cmd->op));
    if (!wf_str__ok(c->firm, sizeof c->firm))
        return wf_exec__fail(x, WF_E_FIELD, "firm must be a firm id string");
    if (!wf_str__ok(c->note, sizeof c->note))
        return wf_exec__fail(x, WF_E_FIELD, "note must be a string of at most %d bytes",
                             WF_NOTE_LEN - 1);
    const wf_firm_rec_t *f = wf_firmtab__find(&e->firms, c->firm);
    if (!f)
        return wf_exec__fail(x, WF_E_NOTFOUND, "firm: no firm %s", c->firm);
    if (block && is_operator(f))
        return wf_exec__fail(x, WF_E_FIELD, "firm: an operator firm cannot be blacklisted");
    wf_firm_rec_t rec = *f;
    rec.blocked = block ? 1 : 0;
    MDB_txn *t;
    int rc = wf_exec__begin(x, &t);
    if (rc != WF_OK)
        return rc;
    rc = wf_store__put_firm(t, &e->store, &rec);
    if (rc == WF_OK)
        rc = wf_exec__journal(x, t);
    rc = wf_exec__end(x, t, rc);
    if (rc != WF_OK)
        return rc;
    e->journal_seq++;
    wf_firm_rec_t *m = &e->firms.recs[f->number];
    m->blocked = rec.blocked;
    e->firms.parties[f->number].blocked = block;
    wf_firm_rec_t *copy = wf_arena__alloc(&e->arena, sizeof *copy);
    *copy = *m;
    x->reply->firm = copy;
    wf_credit__reply(x, m, false);
    return WF_OK;
}

/* ---- expiry ---- */

int
wf_credit__expire_write(wf_exec_t *x, MDB_txn *t, wf_tick_t *k, wf_fire_t *f)
{
    wf_engine_t *e = x->e;
    uint32_t number = (uint32_t)f->t.aux;
    const wf_credit_rec_t *ev = list_find(e, number, f->t.ref);
    if (!ev || ev->ev.expires != f->t.due || number >= e->firms.cap)
        return WF_OK;
    const wf_firm_rec_t *firm = &e->firms.recs[number];
    wf_credit_rec_t rec = *ev;
    rec.expired = 1;
    uint8_t key[WF_FIRM_ID_LEN + 8];
    memcpy(key, rec.firm, WF_FIRM_ID_LEN);
    wf_store__be64(key + WF_FIRM_ID_LEN, rec.id);
    int rc = wf_store__put(t, e->store.credit, key, sizeof key, &rec, sizeof rec);
    if (rc != WF_OK)
        return rc;
    f->acted = true;
    /* Several events of one firm may expire in one tick: each compares with
     * the score the firm has after the earlier ones (they are applied to
     * memory only after the commit, so count them here). */
    int64_t gone = 0;
    const wf_credit_list_t *l = &e->credit[number];
    for (uint32_t i = 0; i < l->n; i++)
        if (l->ev[i].ev.expires < rec.ev.expires ||
            (l->ev[i].ev.expires == rec.ev.expires && l->ev[i].id < rec.id))
            if (l->ev[i].ev.expires <= x->now)
                gone += l->ev[i].ev.points;
    int64_t before = e->firms.points[number] - gone;
    int32_t old_score = wf_credit_clamp((int64_t)firm->base_credit + before);
    int32_t score = wf_credit_clamp((int64_t)firm->base_credit + before - rec.ev.points);
    bool made;
    wf_stream_msg_t *m = wf_tick__msg(k, f);
    rc = wf_credit__note(x, t, firm->id, old_score, wf_credit__tier(e, old_score), score,
                         wf_credit__tier(e, score), m, &made);
    if (rc == WF_OK && !made)
        wf_tick__drop(k, f); /* no change to tell */
    return rc;
}

void
wf_credit__expire_apply(wf_exec_t *x, const wf_fire_t *f)
{
    list_remove(x->e, (uint32_t)f->t.aux, f->t.ref);
}

/* ---- credit events the engine raises itself (manifest.c) ---- */

int
wf_credit__raise(wf_exec_t *x, MDB_txn *t, const char *firm, int kind, int32_t points,
                 const char *note, wf_stream_msg_t *msg, bool *made)
{
    wf_engine_t *e = x->e;
    *made = false;
    if (points == 0)
        return WF_OK; /* the operator set these points to 0: no event */
    if (points < -POINTS_MAX)
        points = -POINTS_MAX;
    if (points > POINTS_MAX)
        points = POINTS_MAX;
    const wf_firm_rec_t *f = wf_firmtab__find(&e->firms, firm);
    if (!f)
        return WF_E_INTERNAL;
    wf_vec_t *raised = &e->credit_raised;
    raised->size = sizeof(wf_credit_rec_t);
    int64_t pending = 0; /* what this transaction already raised against the firm */
    for (size_t i = 0; i < raised->n; i++) {
        const wf_credit_rec_t *r = (const wf_credit_rec_t *)raised->items + i;
        if (strcmp(r->firm, f->id) == 0)
            pending += r->ev.points;
    }
    wf_credit_rec_t rec;
    memset(&rec, 0, sizeof rec);
    rec.id = e->next_credit + raised->n;
    memcpy(rec.firm, f->id, sizeof rec.firm);
    rec.ev.recorded = x->now;
    rec.ev.expires = x->now + WF_CREDIT_VALIDITY_MS;
    rec.ev.points = points;
    rec.ev.kind = (uint8_t)kind;
    snprintf(rec.ev.note, sizeof rec.ev.note, "%s", note);
    int64_t before = (int64_t)f->base_credit + e->firms.points[f->number] + pending;
    int32_t old_score = wf_credit_clamp(before), score = wf_credit_clamp(before + points);
    uint8_t key[WF_FIRM_ID_LEN + 8];
    memcpy(key, rec.firm, WF_FIRM_ID_LEN);
    wf_store__be64(key + WF_FIRM_ID_LEN, rec.id);
    int rc = wf_store__put(t, e->store.credit, key, sizeof key, &rec, sizeof rec);
    if (rc == WF_OK)
        rc = wf_store__meta_put(t, &e->store, "next_credit", rec.id + 1);
    if (rc == WF_OK)
        rc = wf_credit__note(x, t, rec.firm, old_score, wf_credit__tier(e, old_score), score,
                             wf_credit__tier(e, score), msg, made);
    if (rc == WF_OK)
        *(wf_credit_rec_t *)wf_vec__push(raised) = rec;
    return rc;
}

void
wf_credit__raised_apply(wf_engine_t *e)
{
    for (size_t i = 0; i < e->credit_raised.n; i++) {
        const wf_credit_rec_t *r = (const wf_credit_rec_t *)e->credit_raised.items + i;
        const wf_firm_rec_t *f = wf_firmtab__find(&e->firms, r->firm);
        if (!f)
            continue;
        list_add(e, f->number, r);
        wf_timers__add(&e->timers, &(wf_timer_t){.due = r->ev.expires, .kind = WF_TIMER_CREDIT,
                                                 .ref = r->id, .aux = f->number});
        e->next_credit++;
    }
    e->credit_raised.n = 0;
}

void
wf_credit__raised_drop(wf_engine_t *e, size_t keep)
{
    if (e->credit_raised.n > keep)
        e->credit_raised.n = keep;
}
