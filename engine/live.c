/* The live table (store_int.h): the orders resting in the book, in a
 * compact record of their own, so that a start rebuilds the book from
 * about 100 bytes per resting order instead of walking every 536-byte
 * order record ever written (filled, cancelled and expired ones too) and
 * looking up each owner by its 18-character id. wf_order__put is the one
 * way an order record is written, and it keeps the live table in step:
 * a record that is live (state live, remaining > 0) is put there too, one
 * that stops being live is deleted from it. wf_live__load reads it back
 * into the book with the matcher's bulk loader. */
#include "engine_int.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "wf_alloc.h"
#include "wf_error.h"

static bool
rec_live(const wf_order_rec_t *r)
{
    return r->state == WF_ORDER_LIVE && r->remaining > 0;
}

/* Packs r into buf (WF_LIVE_MAX bytes); returns the record's length. */
static size_t
live_pack(const wf_order_rec_t *r, uint32_t firm, uint8_t *buf)
{
    wf_live_rec_t h;
    memset(&h, 0, sizeof h);
    h.firm = firm;
    h.side = r->side;
    h.qty = r->qty;
    h.remaining = r->remaining;
    h.price = r->price;
    h.min_fill = r->min_fill;
    h.min_credit = r->min_credit;
    h.lat = r->lat;
    h.lon = r->lon;
    h.max_km = r->max_km;
    h.expires = r->expires;
    h.target = r->target;
    size_t at = sizeof h;
    unsigned n = r->side == WF_OFFER ? 1 : r->ncodes;
    if (n > WF_MAX_PATTERNS)
        n = WF_MAX_PATTERNS;
    for (unsigned i = 0; i < n; i++) {
        const char *c = r->side == WF_OFFER ? r->code : r->codes[i];
        size_t len = strnlen(c, WF_CODE_LEN - 1);
        memcpy(buf + at, c, len);
        buf[at + len] = 0;
        at += len + 1;
    }
    h.ncodes = (uint8_t)n;
    h.codes_len = (uint16_t)(at - sizeof h);
    memcpy(buf, &h, sizeof h);
    return at;
}

int
wf_order__put(MDB_txn *t, const wf_engine_t *e, const wf_order_rec_t *r, uint32_t firm,
              bool was_live)
{
    uint8_t key[8];
    wf_store__be64(key, r->id);
    int rc = was_live ? wf_store__put(t, e->store.orders, key, 8, r, sizeof *r)
                      : wf_store__append(t, e->store.orders, key, 8, r, sizeof *r);
    if (rc != WF_OK)
        return rc;
    if (!rec_live(r))
        return was_live ? wf_store__del(t, e->store.live, key, 8) : WF_OK;
    assert(firm < e->firms.cap && strncmp(e->firms.recs[firm].id, r->firm, WF_FIRM_LEN) == 0);
    uint8_t buf[WF_LIVE_MAX];
    MDB_val k = {8, key}, v = {live_pack(r, firm, buf), buf};
    /* A new order has the highest id yet: appending fills the table's
     * pages instead of splitting them in half. */
    int mrc = was_live ? MDB_KEYEXIST : mdb_put(t, e->store.live, &k, &v, MDB_APPEND);
    if (mrc == MDB_KEYEXIST)
        mrc = mdb_put(t, e->store.live, &k, &v, 0);
    return wf_store__err(mrc);
}

/* Small memo of the code strings seen last, so that the catalogue's hash
 * is not asked once per order for the same few codes. */
typedef struct code_memo {
    char code[8][WF_CODE_LEN];
    int32_t id[8];
    unsigned next;
} code_memo_t;

static int32_t
memo_find(code_memo_t *m, const wf_catalogue_t *cat, const char *code, size_t len)
{
    for (unsigned i = 0; i < 8; i++)
        if (m->id[i] >= 0 && memcmp(m->code[i], code, len + 1) == 0)
            return m->id[i];
    int32_t id = wf_catalogue_find(cat, code);
    if (id >= 0) {
        unsigned i = m->next++ & 7;
        memcpy(m->code[i], code, len + 1);
        m->id[i] = id;
    }
    return id;
}

/* Decodes a live record into o; WF_E_INTERNAL when it is malformed,
 * WF_E_NOTFOUND for an unknown firm, WF_E_CODE for an unknown code. */
static int
live_unpack(const wf_engine_t *e, const uint8_t *known, code_memo_t *memo, uint64_t id,
            const MDB_val *v, wf_order_t *o)
{
    wf_live_rec_t h;
    if (v->mv_size < sizeof h)
        return WF_E_INTERNAL;
    memcpy(&h, v->mv_data, sizeof h);
    if (h.codes_len != v->mv_size - sizeof h || h.ncodes < 1 || h.ncodes > WF_MAX_PATTERNS ||
        (h.side == WF_OFFER && h.ncodes != 1) || (h.side != WF_OFFER && h.side != WF_DEMAND))
        return WF_E_INTERNAL;
    if (h.firm >= e->firms.cap || !known[h.firm])
        return WF_E_NOTFOUND;
    memset(o, 0, sizeof *o);
    o->id = id;
    o->side = h.side == WF_OFFER ? WF_OFFER : WF_DEMAND;
    o->firm = h.firm;
    o->code = -1;
    const char *p = (const char *)v->mv_data + sizeof h, *end = p + h.codes_len;
    for (unsigned i = 0; i < h.ncodes; i++) {
        size_t len = strnlen(p, (size_t)(end - p));
        if (p + len == end || len >= WF_CODE_LEN)
            return WF_E_INTERNAL; /* no NUL inside the record, or too long */
        int32_t c = memo_find(memo, e->cat, p, len);
        if (c < 0)
            return WF_E_CODE;
        if (o->side == WF_OFFER)
            o->code = c;
        else
            o->patterns[i] = c;
        p += len + 1;
    }
    if (p != end)
        return WF_E_INTERNAL;
    o->npatterns = o->side == WF_OFFER ? 0 : h.ncodes;
    o->qty = h.qty;
    o->remaining = h.remaining;
    o->price = h.price;
    o->min_fill = h.min_fill;
    o->min_credit = h.min_credit;
    o->lat = h.lat;
    o->lon = h.lon;
    o->max_km = h.max_km;
    o->expires = h.expires;
    o->target = h.target;
    return o->remaining > 0 ? WF_OK : WF_E_INTERNAL;
}

int
wf_live__load(wf_engine_t *e, MDB_txn *txn, char *err, size_t errlen)
{
    MDB_stat st;
    int rc = mdb_stat(txn, e->store.live, &st);
    if (rc != 0)
        return wf_store__err(rc);
    MDB_cursor *c;
    rc = mdb_cursor_open(txn, e->store.live, &c);
    if (rc != 0)
        return wf_store__err(rc);
    code_memo_t memo;
    memset(&memo, 0, sizeof memo);
    for (unsigned i = 0; i < 8; i++)
        memo.id[i] = -1;
    /* Which firm numbers are taken, in a byte each: the firm records
     * themselves are too big to stay in cache while a million orders are
     * read. */
    uint8_t *known = wf_calloc(e->firms.cap ? e->firms.cap : 1, 1);
    for (uint32_t n = 0; n < e->firms.cap; n++)
        known[n] = e->firms.recs[n].id[0] != 0;
    wf_book_load_begin(e->book, st.ms_entries);
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        wf_order_t o;
        uint64_t id = k.mv_size == 8 ? wf_store__from_be64(k.mv_data) : 0;
        int urc = id ? live_unpack(e, known, &memo, id, &v, &o) : WF_E_INTERNAL;
        if (urc != WF_OK) {
            if (urc == WF_E_INTERNAL)
                snprintf(err, errlen, "corrupt live order record %llu (%zu bytes)",
                         (unsigned long long)id, v.mv_size);
            else {
                /* a well-formed record (its side is valid): name the order
                 * as its owner knows it, O… or D… */
                wf_live_rec_t h;
                memcpy(&h, v.mv_data, sizeof h);
                char oid[WF_OID_LEN];
                wf_id_format(oid, h.side == WF_OFFER ? 'O' : 'D', id);
                snprintf(err, errlen, "live order %s names a firm or code this engine does not "
                         "know (was the catalogue changed?)", oid);
            }
            rc = -1;
            break;
        }
        wf_book_load_add(e->book, &o);
        wf_firmtab__trader(&e->firms, o.firm); /* whatever its roles are now */
        if (o.expires)
            wf_timers__add(&e->timers, &(wf_timer_t){.due = o.expires,
                                                     .kind = WF_TIMER_ORDER_EXPIRY, .ref = o.id});
    }
    mdb_cursor_close(c);
    wf_free(known);
    wf_book_load_end(e->book); /* a whole book even on failure, so it can be destroyed */
    if (rc == MDB_NOTFOUND)
        return WF_OK;
    return rc == -1 ? WF_E_INTERNAL : wf_store__err(rc);
}
