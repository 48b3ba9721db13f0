/* The state hash: one BLAKE2b-256 digest of everything the journal
 * determines, so that a database rebuilt by replaying the journal can be
 * compared with the live one (audit.c) in one comparison. It covers the
 * firms, orders, matches, manifests, licences, lanes, call auctions,
 * credit events, subscriptions, pending pushes and the config, in key order, each record as stored. Records are written from zeroed structs, so their bytes
 * (padding included) are a function of the history; the config, whose
 * struct has padding that a struct copy need not preserve, is hashed field
 * by field. The stream (with its notices and seq floors, stream.c), the
 * journal itself and the signed head are left out: the first follows from
 * the state and from when retention ran, the others are checked by the
 * audit. Stored firm records carry no stream seq, so they do not depend on
 * it. This one function serves the live database and the replayed one. */
#include "engine_int.h"

#include <sodium.h>
#include <string.h>

#include "wf_error.h"

static void
put_u64(crypto_generichash_state *st, uint64_t v)
{
    uint8_t be[8];
    wf_store__be64(be, v);
    crypto_generichash_update(st, be, sizeof be);
}

/* Every (key, value) of one database, with lengths so that no two
 * different contents can hash alike. */
static int
hash_db(crypto_generichash_state *st, MDB_txn *txn, MDB_dbi dbi, const char *name)
{
    crypto_generichash_update(st, (const uint8_t *)name, strlen(name) + 1);
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc != 0)
        return wf_store__err(rc);
    MDB_val k, v;
    uint64_t n = 0;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        put_u64(st, k.mv_size);
        crypto_generichash_update(st, k.mv_data, k.mv_size);
        put_u64(st, v.mv_size);
        crypto_generichash_update(st, v.mv_data, v.mv_size);
        n++;
    }
    mdb_cursor_close(c);
    put_u64(st, n);
    return rc == MDB_NOTFOUND ? WF_OK : wf_store__err(rc);
}

static void
put_double(crypto_generichash_state *st, double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    put_u64(st, u);
}

static int
hash_config(crypto_generichash_state *st, MDB_txn *txn, const wf_store_t *s)
{
    wf_config_t c;
    int rc = wf_store__get(txn, s->config, "config", 6, &c, sizeof c);
    if (rc != WF_OK)
        return rc;
    crypto_generichash_update(st, (const uint8_t *)"config", 7);
    put_double(st, c.w_credit);
    put_double(st, c.w_distance);
    put_double(st, c.w_price);
    put_u64(st, (uint64_t)(int64_t)c.tier_a);
    put_u64(st, (uint64_t)(int64_t)c.tier_b);
    put_u64(st, (uint64_t)(int64_t)c.tier_c);
    put_u64(st, (uint64_t)c.push_delay_b);
    put_u64(st, (uint64_t)c.push_delay_c);
    put_u64(st, c.county_rule ? 1 : 0);
    put_u64(st, c.city_rule ? 1 : 0);
    put_u64(st, (uint64_t)c.eco_fee);
    put_double(st, c.discrepancy_pct);
    put_double(st, c.co2_per_tkm);
    put_u64(st, (uint64_t)(int64_t)c.stream_keep_days);
    put_u64(st, (uint64_t)c.manifest_age);
    put_u64(st, (uint64_t)(int64_t)c.discrepancy_points);
    put_u64(st, (uint64_t)(int64_t)c.cancel_points);
    put_u64(st, (uint64_t)(int64_t)c.expiry_points);
    return WF_OK;
}

int
wf_store__state_hash(MDB_txn *txn, const wf_store_t *s, uint8_t out[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)"wufei state 1", 14);
    int rc = hash_db(&st, txn, s->firms, "firms");
    if (rc == WF_OK)
        rc = hash_db(&st, txn, s->orders, "orders");
    if (rc == WF_OK)
        rc = hash_db(&st, txn, s->matches, "matches");
    if (rc == WF_OK)
        rc = hash_db(&st, txn, s->manifests, "manifests");
    if (rc == WF_OK)
        rc = hash_db(&st, txn, s->licences, "licences");
    if (rc == WF_OK)
        rc = hash_db(&st, txn, s->lanes, "lanes");
    if (rc == WF_OK)
        rc = hash_db(&st, txn, s->auctions, "auctions");
    if (rc == WF_OK)
        rc = hash_db(&st, txn, s->credit, "credit");
    if (rc == WF_OK)
        rc = hash_db(&st, txn, s->subs, "subs");
    if (rc == WF_OK)
        rc = hash_db(&st, txn, s->pushes, "pushes");
    if (rc == WF_OK)
        rc = hash_config(&st, txn, s);
    crypto_generichash_final(&st, out, 32);
    return rc;
}

int
wf_engine_state_hash(wf_engine_t *self, uint8_t out[32])
{
    bool own;
    MDB_txn *txn = wf_engine__read_txn(self, &own);
    if (!txn)
        return WF_E_INTERNAL;
    int rc = wf_store__state_hash(txn, &self->store, out);
    if (own)
        mdb_txn_abort(txn);
    return rc;
}
