/* Firms' private streams in the store: sequence numbers, the compact
 * stored form of a message, and its rebuilding for `hello` replay.
 *
 * Sequence numbers. A firm's last seq lives in memory (its firm table
 * record's stream_seq), not in its stored firm record, so storing a message
 * dirties no firm page. While a command writes (wf_exec__begin to
 * wf_exec__end) the seqs it hands out sit in a per-firm-number overlay
 * stamped with the command's generation; only when its write phase ends
 * well are they folded into the firm table. A command that fails leaves no
 * trace (the next begin bumps the generation), and a batch that is rolled
 * back rebuilds memory from disk. At start a firm's seq is the larger of
 * its stream's last key and its floor in stream_floors, which retention
 * writes when it trims a firm's stream empty (retention.c), so a seq is
 * never handed out twice, even after everything was trimmed. Stored firm
 * records carry no seq (stream_seq 0), so they do not depend on the stream
 * and its retention, which the state hash leaves out.
 *
 * Stored form ("stream", key firm id + BE64 seq): a wf_stream_rec_t
 * header and then only the used part of the message's union. A `notify`
 * stores a small wf_stream_notify_t that points at a notice ("notices",
 * key BE64 journal seq + BE32 index): the order snapshot, stored once per
 * command and resting-order event whatever the number of subscribers, with
 * a count of the messages that point at it so retention can drop it with
 * the last one. A push to N firms thus writes N small entries (about 80
 * bytes of page each) and one notice. Messages handed to the outbox are
 * rebuilt from exactly the bytes stored, so a hello replay returns them
 * byte for byte. */
#include "engine_int.h"

#include <assert.h>
#include <string.h>

#include "wf_alloc.h"
#include "wf_error.h"

#define STREAM_KEY_LEN (WF_FIRM_ID_LEN + 8)
#define UNION_LEN sizeof(((wf_stream_msg_t *)0)->u)
#define TOKEN_OFF (offsetof(wf_stream_msg_t, u.manifest.token) - offsetof(wf_stream_msg_t, u))

/* ---- sequence numbers ---- */

static void
grow(wf_engine_t *e, uint32_t number)
{
    if (number < e->seq_cap)
        return;
    uint32_t cap = e->seq_cap ? e->seq_cap : 64;
    while (cap <= number)
        cap *= 2;
    e->seq_pending = wf_realloc(e->seq_pending, cap * sizeof *e->seq_pending);
    e->seq_stamp = wf_realloc(e->seq_stamp, cap * sizeof *e->seq_stamp);
    memset(e->seq_stamp + e->seq_cap, 0, (cap - e->seq_cap) * sizeof *e->seq_stamp);
    e->seq_cap = cap;
}

void
wf_stream__begin(wf_engine_t *e)
{
    if (++e->seq_cur == 0) { /* stamps wrapped: forget them all */
        memset(e->seq_stamp, 0, e->seq_cap * sizeof *e->seq_stamp);
        e->seq_cur = 1;
    }
    e->seq_ntouched = 0;
    e->notices = 0;
}

void
wf_stream__commit(wf_engine_t *e)
{
    for (size_t i = 0; i < e->seq_ntouched; i++) {
        uint32_t n = e->seq_touched[i];
        if (n < e->firms.cap && e->seq_stamp[n] == e->seq_cur)
            e->firms.recs[n].stream_seq = e->seq_pending[n];
    }
    e->seq_ntouched = 0;
}

/* The next seq of firm number for the command being written. */
static uint64_t
take_seq(wf_engine_t *e, uint32_t number)
{
    assert(e->seq_cur != 0 && "a stream message outside wf_exec__begin/end");
    grow(e, number);
    if (e->seq_stamp[number] != e->seq_cur) {
        e->seq_stamp[number] = e->seq_cur;
        e->seq_pending[number] = e->firms.recs[number].stream_seq;
        if (e->seq_ntouched == e->seq_tcap) {
            e->seq_tcap = e->seq_tcap ? 2 * e->seq_tcap : 64;
            e->seq_touched = wf_realloc(e->seq_touched, e->seq_tcap * sizeof *e->seq_touched);
        }
        e->seq_touched[e->seq_ntouched++] = number;
    }
    return ++e->seq_pending[number];
}

void
wf_stream__fini(wf_engine_t *e)
{
    wf_free(e->seq_pending);
    wf_free(e->seq_stamp);
    wf_free(e->seq_touched);
    e->seq_pending = NULL;
    e->seq_stamp = e->seq_touched = NULL;
    e->seq_cap = e->seq_cur = 0;
    e->seq_ntouched = e->seq_tcap = 0;
}

int
wf_stream__load(wf_engine_t *e, MDB_txn *txn)
{
    e->seq_ntouched = 0;
    if (e->seq_cur && ++e->seq_cur == 0) {
        memset(e->seq_stamp, 0, e->seq_cap * sizeof *e->seq_stamp);
        e->seq_cur = 1;
    }
    /* The floors retention left, then each stream's last key, visiting
     * each firm that has messages with two seeks (O(firms with messages),
     * not O(messages)). */
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, e->store.stream_floors, &c);
    if (rc != 0)
        return wf_store__err(rc);
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        uint64_t floor;
        char id[WF_FIRM_LEN] = {0};
        if (k.mv_size != WF_FIRM_ID_LEN || v.mv_size != sizeof floor) {
            rc = MDB_CORRUPTED;
            break;
        }
        memcpy(id, k.mv_data, WF_FIRM_ID_LEN);
        memcpy(&floor, v.mv_data, sizeof floor);
        wf_firm_rec_t *f = wf_firmtab__find(&e->firms, id);
        if (f && floor > f->stream_seq)
            f->stream_seq = floor;
    }
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND)
        return wf_store__err(rc);
    rc = mdb_cursor_open(txn, e->store.stream, &c);
    if (rc != 0)
        return wf_store__err(rc);
    rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (k.mv_size != STREAM_KEY_LEN) {
            rc = MDB_CORRUPTED;
            break;
        }
        uint8_t key[STREAM_KEY_LEN];
        memcpy(key, k.mv_data, WF_FIRM_ID_LEN);
        memset(key + WF_FIRM_ID_LEN, 0xff, 8);
        k = (MDB_val){sizeof key, key};
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        rc = rc == 0 ? mdb_cursor_get(c, &k, &v, MDB_PREV)
                     : rc == MDB_NOTFOUND ? mdb_cursor_get(c, &k, &v, MDB_LAST) : rc;
        if (rc != 0)
            break;
        if (k.mv_size != STREAM_KEY_LEN || memcmp(k.mv_data, key, WF_FIRM_ID_LEN) != 0) {
            rc = MDB_CORRUPTED;
            break;
        }
        char id[WF_FIRM_LEN] = {0};
        memcpy(id, k.mv_data, WF_FIRM_ID_LEN);
        uint64_t last = wf_store__from_be64((const uint8_t *)k.mv_data + WF_FIRM_ID_LEN);
        wf_firm_rec_t *f = wf_firmtab__find(&e->firms, id);
        if (f && last > f->stream_seq)
            f->stream_seq = last;
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? WF_OK : wf_store__err(rc);
}

/* ---- the stored form ---- */

/* The bytes of m's union that its type uses. */
static size_t
body_len(const wf_stream_msg_t *m)
{
    switch (m->type) {
    case WF_MSG_MATCH:
        return sizeof m->u.match;
    case WF_MSG_EXPIRED:
        return sizeof m->u.expired;
    case WF_MSG_CREDIT:
        return sizeof m->u.credit;
    case WF_MSG_MANIFEST:
        return TOKEN_OFF + strnlen(m->u.manifest.token, WF_TOKEN_MAX - 1) + 1;
    default:
        return UNION_LEN;
    }
}

static void
notice_key(uint8_t out[12], uint64_t seq, uint32_t index)
{
    wf_store__be64(out, seq);
    for (int i = 0; i < 4; i++)
        out[8 + i] = (uint8_t)(index >> (24 - 8 * i));
}

/* Rebuilds a message from its key parts, header and body, zero
 * elsewhere; with order (notify), body is its wf_stream_notify_t. */
static void
rebuild(wf_stream_msg_t *out, const char *firm, uint64_t seq, const wf_stream_rec_t *h,
        const void *body, size_t len, const wf_order_rec_t *order)
{
    memset(out, 0, sizeof *out);
    memcpy(out->firm, firm, WF_FIRM_ID_LEN);
    out->seq = seq;
    out->type = h->type;
    out->ts = h->ts;
    if (order) {
        wf_stream_notify_t n;
        memcpy(&n, body, sizeof n);
        memcpy(&out->u.notify.order, order, sizeof out->u.notify.order);
        out->u.notify.km = n.km;
        out->u.notify.sub = n.sub;
    } else {
        memcpy(&out->u, body, len);
    }
}

/* Stores msg (type and payload set) as the next message of firm number:
 * for notify, pointing at notice n. */
static int
put(wf_exec_t *x, MDB_txn *t, uint32_t number, wf_stream_msg_t *msg, wf_notice_t *n)
{
    wf_engine_t *e = x->e;
    if (number >= e->firms.cap || !e->firms.recs[number].id[0])
        return wf_exec__fail(x, WF_E_INTERNAL, "stream: no firm number %u", number);
    const char *firm = e->firms.recs[number].id;
    uint64_t seq = take_seq(e, number);
    wf_stream_rec_t h;
    memset(&h, 0, sizeof h);
    h.type = msg->type;
    h.ts = x->now;
    unsigned char val[sizeof h + UNION_LEN];
    memcpy(val, &h, sizeof h);
    size_t len;
    if (msg->type == WF_MSG_NOTIFY) {
        wf_stream_notify_t b;
        memset(&b, 0, sizeof b);
        b.notice = n->seq;
        b.index = n->index;
        b.sub = msg->u.notify.sub;
        b.km = msg->u.notify.km;
        memcpy(val + sizeof h, &b, sizeof b);
        len = sizeof b;
    } else {
        if (msg->type == WF_MSG_MANIFEST)
            msg->u.manifest.token[WF_TOKEN_MAX - 1] = 0;
        len = body_len(msg);
        memcpy(val + sizeof h, &msg->u, len);
    }
    uint8_t key[STREAM_KEY_LEN];
    memcpy(key, firm, WF_FIRM_ID_LEN);
    wf_store__be64(key + WF_FIRM_ID_LEN, seq);
    int rc = wf_store__put(t, e->store.stream, key, sizeof key, val, sizeof h + len);
    if (rc != WF_OK)
        return rc;
    /* the outbox gets what a replay will rebuild, byte for byte (from val
     * and the notice, neither of which is in *msg) */
    rebuild(msg, firm, seq, &h, val + sizeof h, len, n ? &n->order : NULL);
    if (n)
        n->refs++;
    return WF_OK;
}

int
wf_stream__put(wf_exec_t *x, MDB_txn *t, const char *firm, wf_stream_msg_t *msg)
{
    const wf_firm_rec_t *f = wf_firmtab__find(&x->e->firms, firm);
    if (!f)
        return wf_exec__fail(x, WF_E_INTERNAL, "stream: no firm %s", firm);
    assert(msg->type != WF_MSG_NOTIFY && "notify goes through wf_stream__put_notify");
    return put(x, t, f->number, msg, NULL);
}

void
wf_stream__notice_begin(wf_exec_t *x, wf_notice_t *n, const wf_order_rec_t *order)
{
    memset(n, 0, sizeof *n);
    n->seq = x->e->journal_seq + 1; /* the journal entry of the command being written */
    n->index = x->e->notices++;
    memcpy(&n->order, order, sizeof n->order);
}

int
wf_stream__put_notify(wf_exec_t *x, MDB_txn *t, uint32_t firm, wf_notice_t *n, double km,
                      uint64_t sub, wf_stream_msg_t *msg)
{
    memset(msg, 0, sizeof *msg);
    msg->type = WF_MSG_NOTIFY;
    msg->u.notify.km = km;
    msg->u.notify.sub = sub;
    return put(x, t, firm, msg, n);
}

int
wf_stream__notice_end(wf_exec_t *x, MDB_txn *t, const wf_notice_t *n)
{
    if (!n->refs)
        return WF_OK;
    wf_notice_rec_t r;
    memset(&r, 0, sizeof r);
    r.refs = n->refs;
    memcpy(&r.order, &n->order, sizeof r.order);
    uint8_t key[12];
    notice_key(key, n->seq, n->index);
    MDB_val k = {sizeof key, key}, v = {sizeof r, &r};
    int rc = mdb_put(t, x->e->store.notices, &k, &v, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) /* a notice key is taken once: a broken invariant */
        return wf_exec__fail(x, WF_E_INTERNAL, "stream: notice %llu.%u exists already",
                             (unsigned long long)n->seq, n->index);
    return wf_store__err(rc);
}

int
wf_stream__decode(MDB_txn *t, const wf_store_t *s, const MDB_val *k, const MDB_val *v,
                  wf_stream_msg_t *out)
{
    wf_stream_rec_t h;
    if (k->mv_size != STREAM_KEY_LEN || v->mv_size < sizeof h)
        return WF_E_INTERNAL;
    memcpy(&h, v->mv_data, sizeof h);
    const unsigned char *body = (const unsigned char *)v->mv_data + sizeof h;
    size_t len = v->mv_size - sizeof h;
    uint64_t seq = wf_store__from_be64((const uint8_t *)k->mv_data + WF_FIRM_ID_LEN);
    if (h.type != WF_MSG_NOTIFY) {
        if (len > UNION_LEN)
            return WF_E_INTERNAL;
        rebuild(out, k->mv_data, seq, &h, body, len, NULL);
        return WF_OK;
    }
    wf_stream_notify_t b;
    if (len != sizeof b)
        return WF_E_INTERNAL;
    memcpy(&b, body, sizeof b);
    uint8_t key[12];
    notice_key(key, b.notice, b.index);
    MDB_val nk = {sizeof key, key}, nv;
    if (mdb_get(t, s->notices, &nk, &nv) != 0 || nv.mv_size != sizeof(wf_notice_rec_t))
        return WF_E_INTERNAL;
    wf_notice_rec_t r;
    memcpy(&r, nv.mv_data, sizeof r);
    rebuild(out, k->mv_data, seq, &h, body, len, &r.order);
    return WF_OK;
}

int
wf_stream__ts(const MDB_val *v, int64_t *ts)
{
    wf_stream_rec_t h;
    if (v->mv_size < sizeof h)
        return WF_E_INTERNAL;
    memcpy(&h, v->mv_data, sizeof h);
    *ts = h.ts;
    return WF_OK;
}

int
wf_stream__unref(MDB_txn *t, const wf_store_t *s, const MDB_val *v)
{
    wf_stream_rec_t h;
    wf_stream_notify_t b;
    if (v->mv_size < sizeof h)
        return WF_OK;
    memcpy(&h, v->mv_data, sizeof h);
    if (h.type != WF_MSG_NOTIFY || v->mv_size != sizeof h + sizeof b)
        return WF_OK;
    memcpy(&b, (const unsigned char *)v->mv_data + sizeof h, sizeof b);
    uint8_t key[12];
    notice_key(key, b.notice, b.index);
    wf_notice_rec_t r;
    int rc = wf_store__get(t, s->notices, key, sizeof key, &r, sizeof r);
    if (rc == WF_E_NOTFOUND)
        return WF_OK; /* nothing left to count down */
    if (rc != WF_OK)
        return rc;
    if (r.refs <= 1)
        return wf_store__del(t, s->notices, key, sizeof key);
    r.refs--;
    return wf_store__put(t, s->notices, key, sizeof key, &r, sizeof r);
}

void
wf_stream__publish(wf_engine_t *e, const wf_stream_msg_t *msg)
{
    *(wf_stream_msg_t *)wf_vec__push(&e->stream) = *msg;
}
