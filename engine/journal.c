/* The command journal: every accepted command that changed state, with the
 * time of its batch, under a gap-free sequence number (BE64 key). The
 * journal is the commit point (its own environment, journal.mdb, synced
 * before any reply); the state follows it (store_int.h), and replaying it
 * from an empty database reproduces every match. Read-only and failed
 * commands are not journaled.
 *
 * The entries form a hash chain (BLAKE2b-256, store_int.h), and every batch
 * that journals rewrites the signed head in jmeta "head" in the same
 * transaction, so an offline audit (audit.c) can tell which entry was
 * changed and whether the head is the engine's. */
#include "store_int.h"

#include <sodium.h>
#include <string.h>

#include "wf_error.h"

void
wf_journal__chain(const uint8_t prev[32], uint64_t seq, const wf_journal_rec_t *rec,
                  uint8_t out[32])
{
    crypto_generichash_state st;
    uint8_t be[8];
    wf_store__be64(be, seq);
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, prev, 32);
    crypto_generichash_update(&st, be, sizeof be);
    crypto_generichash_update(&st, (const uint8_t *)rec, WF_JOURNAL_HASHED);
    crypto_generichash_final(&st, out, 32);
}

int
wf_journal__hash(MDB_txn *txn, const wf_store_t *s, uint64_t seq, uint8_t out[32])
{
    memset(out, 0, 32);
    if (seq == 0)
        return WF_OK;
    uint8_t key[8];
    wf_store__be64(key, seq);
    MDB_val k = {sizeof key, key}, v;
    int rc = mdb_get(txn, s->journal, &k, &v);
    if (rc != 0 || v.mv_size != sizeof(wf_journal_rec_t))
        return rc == MDB_NOTFOUND ? WF_E_NOTFOUND : WF_E_INTERNAL;
    memcpy(out, (const uint8_t *)v.mv_data + offsetof(wf_journal_rec_t, hash), 32);
    return WF_OK;
}

void
wf_journal__head_msg(uint64_t seq, const uint8_t hash[32], uint8_t out[40])
{
    wf_store__be64(out, seq);
    memcpy(out + 8, hash, 32);
}

int
wf_journal__sign_head(MDB_txn *txn, const wf_store_t *s, uint64_t seq, const uint8_t sk[64])
{
    wf_journal_head_t h;
    memset(&h, 0, sizeof h);
    h.seq = seq;
    int rc = wf_journal__hash(txn, s, seq, h.hash);
    if (rc != WF_OK)
        return rc;
    uint8_t msg[40];
    wf_journal__head_msg(seq, h.hash, msg);
    crypto_sign_detached(h.sig, NULL, msg, sizeof msg, sk);
    return wf_store__put(txn, s->jmeta, "head", 4, &h, sizeof h);
}

int
wf_journal__append(MDB_txn *txn, const wf_store_t *s, uint64_t seq, int64_t now,
                   const wf_cmd_t *cmd)
{
    wf_journal_rec_t rec;
    memset(&rec, 0, sizeof rec);
    rec.format = WF_JOURNAL_FORMAT;
    rec.now = now;
    memcpy(&rec.cmd, cmd, sizeof rec.cmd); /* padding too: it is hashed */
    uint8_t prev[32];
    int rc = wf_journal__hash(txn, s, seq - 1, prev);
    if (rc != WF_OK)
        return rc == WF_E_NOTFOUND ? WF_E_INTERNAL : rc;
    wf_journal__chain(prev, seq, &rec, rec.hash);
    uint8_t key[8];
    wf_store__be64(key, seq);
    MDB_val k = {sizeof key, key}, v = {sizeof rec, &rec};
    /* MDB_APPEND: keys only grow, and LMDB then fills pages completely. */
    return wf_store__err(mdb_put(txn, s->journal, &k, &v, MDB_APPEND));
}

int
wf_journal__last(MDB_txn *txn, const wf_store_t *s, uint64_t *seq)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->journal, &c);
    if (rc != 0)
        return wf_store__err(rc);
    MDB_val k, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_LAST);
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND) {
        *seq = 0;
        return WF_OK;
    }
    if (rc != 0 || k.mv_size != 8)
        return WF_E_INTERNAL;
    *seq = wf_store__from_be64(k.mv_data);
    return WF_OK;
}

int
wf_journal__get(MDB_txn *txn, const wf_store_t *s, uint64_t seq, wf_journal_rec_t *out)
{
    uint8_t key[8];
    wf_store__be64(key, seq);
    return wf_store__get(txn, s->journal, key, sizeof key, out, sizeof *out);
}

int
wf_journal__truncate(MDB_txn *txn, const wf_store_t *s, uint64_t seq, uint64_t last,
                     const uint8_t sk[64])
{
    for (uint64_t q = last; q > seq; q--) {
        uint8_t key[8];
        wf_store__be64(key, q);
        int rc = wf_store__del(txn, s->journal, key, sizeof key);
        if (rc != WF_OK)
            return rc;
    }
    if (seq > 0)
        return wf_journal__sign_head(txn, s, seq, sk);
    return wf_store__del(txn, s->jmeta, "head", 4);
}
