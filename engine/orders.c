/* Order queries and cancel, and hello (the private stream's replay). All
 * reads go through the batch transaction, so they see the effects of
 * earlier commands of the same batch. Only order.cancel writes, in a child
 * transaction like every state change. */
#include "engine_int.h"

#include <stdio.h>
#include <string.h>

#include "wf_alloc.h"
#include "wf_error.h"

#define MINE_MAX 1000

static bool
is_operator(const wf_firm_rec_t *f)
{
    return (f->roles & WF_ROLE_OPERATOR) != 0;
}

static bool
expired(const wf_order_rec_t *r, int64_t now)
{
    return r->state == WF_ORDER_LIVE && r->expires != 0 && r->expires <= now;
}

/* Reads the order named by cmd->u.ref.id ("O12"/"D12") that the caller
 * owns (or any order for an operator). */
static int
read_own_order(wf_exec_t *x, wf_order_rec_t *r)
{
    const char *s = x->cmd->u.ref.id;
    if (!wf_str__ok(s, WF_OID_LEN))
        return wf_exec__fail(x, WF_E_FIELD, "id must be an order id string");
    uint64_t id = (s[0] == 'O' || s[0] == 'D') ? wf_id_parse(s, s[0]) : 0;
    uint8_t key[8];
    wf_store__be64(key, id);
    int rc = id ? wf_store__get(x->txn, x->e->store.orders, key, 8, r, sizeof *r) : WF_E_NOTFOUND;
    if (rc == WF_OK && r->side != (s[0] == 'O' ? WF_OFFER : WF_DEMAND))
        rc = WF_E_NOTFOUND;
    if (rc == WF_E_NOTFOUND)
        return wf_exec__fail(x, WF_E_NOTFOUND, "id: no order %s", s);
    if (rc != WF_OK)
        return wf_exec__fail(x, rc, "id: cannot read order %s", s);
    if (strcmp(r->firm, x->as->id) != 0 && !is_operator(x->as))
        return wf_exec__fail(x, WF_E_AUTH, "id: order %s belongs to another firm", s);
    return WF_OK;
}

int
wf_op__cancel(wf_exec_t *x)
{
    wf_order_rec_t r;
    int rc = read_own_order(x, &r);
    if (rc != WF_OK)
        return rc;
    const char *s = x->cmd->u.ref.id;
    if (r.state != WF_ORDER_LIVE || r.remaining <= 0)
        return wf_exec__fail(x, WF_E_STATE, "id: order %s is not live", s);
    if (expired(&r, x->now))
        return wf_exec__fail(x, WF_E_STATE, "id: order %s has expired", s);
    wf_order_t *o = wf_book_find(x->e->book, r.id);
    if (!o)
        return wf_exec__fail(x, WF_E_INTERNAL, "id: live order %s is not in the book", s);
    r.state = WF_ORDER_CANCELLED;
    r.updated = x->now;
    MDB_txn *child;
    rc = wf_exec__begin(x, &child);
    if (rc != WF_OK)
        return rc;
    rc = wf_order__put(child, x->e, &r, o->firm, true);
    if (rc == WF_OK)
        rc = wf_exec__journal(x, child);
    rc = wf_exec__end(x, child, rc);
    if (rc != WF_OK)
        return rc;
    wf_book_remove(x->e->book, o);
    x->e->journal_seq++;
    wf_order__id(x->reply->id, &r);
    x->reply->rest = r.remaining;
    return WF_OK;
}

int
wf_op__order_get(wf_exec_t *x)
{
    wf_order_rec_t *r = wf_arena__alloc(&x->e->arena, sizeof *r);
    int rc = read_own_order(x, r);
    if (rc != WF_OK)
        return rc;
    if (expired(r, x->now))
        r->state = WF_ORDER_EXPIRED;
    wf_order__id(x->reply->id, r);
    x->reply->order = r;
    return WF_OK;
}

/* Collects the caller's orders newest first: walks firm_orders backwards
 * from (firm, max id). The walk visits each of the firm's orders at most
 * once and stops after MINE_MAX matches. */
static int
collect_mine(wf_exec_t *x, MDB_cursor *c, bool live_only, wf_vec_t *out)
{
    uint8_t key[WF_FIRM_ID_LEN + 8];
    memcpy(key, x->as->id, WF_FIRM_ID_LEN);
    memset(key + WF_FIRM_ID_LEN, 0xff, 8);
    MDB_val k = {sizeof key, key}, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && !(k.mv_size == sizeof key && memcmp(k.mv_data, key, sizeof key) == 0))
        rc = mdb_cursor_get(c, &k, &v, MDB_PREV);
    else if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    for (; rc == 0 && out->n < MINE_MAX; rc = mdb_cursor_get(c, &k, &v, MDB_PREV)) {
        if (k.mv_size != sizeof key || memcmp(k.mv_data, key, WF_FIRM_ID_LEN) != 0)
            break;
        wf_order_rec_t r;
        int grc = wf_store__get(x->txn, x->e->store.orders, (uint8_t *)k.mv_data + WF_FIRM_ID_LEN,
                                8, &r, sizeof r);
        if (grc != WF_OK)
            return grc;
        if (expired(&r, x->now))
            r.state = WF_ORDER_EXPIRED;
        if (live_only && r.state != WF_ORDER_LIVE)
            continue;
        *(wf_order_rec_t *)wf_vec__push(out) = r;
    }
    return rc == 0 || rc == MDB_NOTFOUND ? WF_OK : wf_store__err(rc);
}

int
wf_op__orders_mine(wf_exec_t *x)
{
    bool live_only = true;
    if (x->cmd->has & WF_HAS_LIVE_ONLY) {
        unsigned char b; /* read the byte: the decoder's bool is not trusted */
        memcpy(&b, &x->cmd->u.mine.live_only, 1);
        live_only = b != 0;
    }
    MDB_cursor *c;
    int rc = mdb_cursor_open(x->txn, x->e->store.firm_orders, &c);
    if (rc != 0)
        return wf_exec__fail(x, wf_store__err(rc), "store: cannot list orders");
    wf_vec_t v = {.size = sizeof(wf_order_rec_t)};
    rc = collect_mine(x, c, live_only, &v);
    mdb_cursor_close(c);
    if (rc == WF_OK && v.n) {
        wf_order_rec_t *list = wf_arena__alloc(&x->e->arena, v.n * sizeof *list);
        memcpy(list, v.items, v.n * sizeof *list);
        x->reply->orders = list;
        x->reply->norders = v.n;
    }
    wf_vec__free(&v);
    if (rc != WF_OK)
        return wf_exec__fail(x, rc, "store: cannot read orders");
    return WF_OK;
}

/* Replays the caller's stream after after_seq into the outbox, at most
 * WF_REPLAY_MAX messages (the client says hello again for more). */
int
wf_op__hello(wf_exec_t *x)
{
    uint64_t after = (x->cmd->has & WF_HAS_AFTER_SEQ) ? x->cmd->u.hello.after_seq : 0;
    x->reply->seq = x->as->stream_seq;
    if (after >= x->as->stream_seq)
        return WF_OK;
    MDB_cursor *c;
    int rc = mdb_cursor_open(x->txn, x->e->store.stream, &c);
    if (rc != 0)
        return wf_exec__fail(x, wf_store__err(rc), "store: cannot read the stream");
    uint8_t key[WF_FIRM_ID_LEN + 8];
    memcpy(key, x->as->id, WF_FIRM_ID_LEN);
    wf_store__be64(key + WF_FIRM_ID_LEN, after + 1);
    MDB_val k = {sizeof key, key}, v;
    size_t n = 0;
    size_t n0 = x->e->stream.n;
    int drc = WF_OK;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && n < WF_REPLAY_MAX;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), n++) {
        if (k.mv_size != sizeof key || memcmp(k.mv_data, key, WF_FIRM_ID_LEN) != 0)
            break;
        drc = wf_stream__decode(x->txn, &x->e->store, &k, &v, wf_vec__push(&x->e->stream));
        if (drc != WF_OK)
            break;
    }
    mdb_cursor_close(c);
    if (drc != WF_OK || (rc != 0 && rc != MDB_NOTFOUND)) {
        x->e->stream.n = n0; /* nothing half-replayed */
        return wf_exec__fail(x, WF_E_INTERNAL, "store: cannot read stream message %llu",
                             (unsigned long long)(after + 1 + n));
    }
    return WF_OK;
}
