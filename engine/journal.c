/* The command journal: every accepted command that changed state, with the
 * time of its batch, under a gap-free sequence number (BE64 key). The
 * journal is the commit point (its own environment, journal.mdb, with
 * journal.wal in front of it: durable before any reply); the state follows
 * it (store_int.h), and replaying it from an empty database reproduces
 * every match. Read-only and failed commands are not journaled. The
 * batches since journal.mdb's last commit are durable in journal.wal
 * (wal.c).
 *
 * The entries form a hash chain (BLAKE2b-256, store_int.h), and every batch
 * that journals rewrites the signed head in jmeta "head" in the same
 * transaction, so an offline audit (audit.c) can tell which entry was
 * changed and whether the head is the engine's. */
#include "store_int.h"

#include <sodium.h>
#include <stddef.h>
#include <string.h>

#include "wf_error.h"

/* Starts an entry's chain hash: the previous hash, then BE64(seq). */
static void
chain_begin(crypto_generichash_state *st, const uint8_t prev[32], uint64_t seq)
{
    uint8_t be[8];
    wf_store__be64(be, seq);
    crypto_generichash_init(st, NULL, 0, 32);
    crypto_generichash_update(st, prev, 32);
    crypto_generichash_update(st, be, sizeof be);
}

/* Format 4: BLAKE2b-256(prev || BE64(seq) || the stored header before its
 * hash || the squeezed command), from the stored bytes at p (len). */
static void
chain_stored(const uint8_t prev[32], uint64_t seq, const uint8_t *p, size_t len, uint8_t out[32])
{
    crypto_generichash_state st;
    chain_begin(&st, prev, seq);
    crypto_generichash_update(&st, p, offsetof(wf_journal_disk_t, hash));
    crypto_generichash_update(&st, p + sizeof(wf_journal_disk_t), len - sizeof(wf_journal_disk_t));
    crypto_generichash_final(&st, out, 32);
}

void
wf_journal__chain(const uint8_t prev[32], uint64_t seq, const wf_journal_rec_t *rec,
                  uint8_t out[32])
{
    if (rec->format >= 4) {
        uint8_t buf[WF_JOURNAL_DISK_MAX];
        size_t len = wf_journal__encode(rec, buf);
        chain_stored(prev, seq, buf, len, out);
        return;
    }
    crypto_generichash_state st; /* format 3: the whole record before its hash */
    chain_begin(&st, prev, seq);
    crypto_generichash_update(&st, (const uint8_t *)rec, WF_JOURNAL_HASHED);
    crypto_generichash_final(&st, out, 32);
}

/* The length of the run of zero bytes at p (at most max), a word at a
 * time: a command is mostly zeros. */
static size_t
zeros_at(const uint8_t *p, size_t max)
{
    size_t i = 0;
    for (uint64_t w; i + 8 <= max; i += 8) {
        memcpy(&w, p + i, 8);
        if (w)
            break;
    }
    while (i < max && p[i] == 0)
        i++;
    return i;
}

/* Squeezes the command: literal runs of up to 128 bytes, zero runs of up
 * to 128 bytes, one token byte each. Returns the bytes written to out
 * (at most sizeof(wf_cmd_t) + sizeof(wf_cmd_t) / 128 + 2). */
static size_t
squeeze(const uint8_t *in, size_t n, uint8_t *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t run;
        if (in[i] == 0) {
            run = zeros_at(in + i, n - i < 128 ? n - i : 128);
            out[o++] = (uint8_t)(0x7f + run);
        } else {
            /* a literal run ends at two zeros in a row (one zero costs less
             * inside the literal than as a token of its own) */
            run = 0;
            while (i + run < n && run < 128 &&
                   !(in[i + run] == 0 && (i + run + 1 == n || in[i + run + 1] == 0)))
                run++;
            out[o++] = (uint8_t)(run - 1);
            memcpy(out + o, in + i, run);
            o += run;
        }
        i += run;
    }
    return o;
}

/* The inverse: fills exactly n bytes of out from len bytes of in, or
 * fails. */
static int
unsqueeze(const uint8_t *in, size_t len, uint8_t *out, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        uint8_t t = in[i++];
        size_t run = t < 0x80 ? (size_t)t + 1 : (size_t)t - 0x7f;
        if (run > n - o)
            return WF_E_INTERNAL;
        if (t < 0x80) {
            if (run > len - i)
                return WF_E_INTERNAL;
            memcpy(out + o, in + i, run);
            i += run;
        } else {
            memset(out + o, 0, run);
        }
        o += run;
    }
    return o == n ? WF_OK : WF_E_INTERNAL;
}

int
wf_journal__decode(const void *data, size_t len, wf_journal_rec_t *out)
{
    wf_journal_disk_t h;
    if (len < sizeof h)
        return WF_E_INTERNAL;
    memcpy(&h, data, sizeof h);
    if (h.clen != len - sizeof h)
        return WF_E_INTERNAL;
    memset(out, 0, sizeof *out);
    out->format = h.format;
    out->now = h.now;
    memcpy(out->hash, h.hash, 32);
    return unsqueeze((const uint8_t *)data + sizeof h, h.clen, (uint8_t *)&out->cmd,
                     sizeof out->cmd);
}

size_t
wf_journal__encode(const wf_journal_rec_t *rec, uint8_t *out)
{
    wf_journal_disk_t h;
    memset(&h, 0, sizeof h);
    h.format = rec->format;
    h.now = rec->now;
    memcpy(h.hash, rec->hash, 32);
    h.clen = (uint32_t)squeeze((const uint8_t *)&rec->cmd, sizeof rec->cmd, out + sizeof h);
    memcpy(out, &h, sizeof h);
    return sizeof h + h.clen;
}

int
wf_journal__put(MDB_txn *txn, const wf_store_t *s, uint64_t seq, const wf_journal_rec_t *rec,
                unsigned flags)
{
    uint8_t buf[WF_JOURNAL_DISK_MAX];
    size_t len = wf_journal__encode(rec, buf);
    uint8_t key[8];
    wf_store__be64(key, seq);
    MDB_val k = {sizeof key, key}, v = {len, buf};
    return wf_store__err(mdb_put(txn, s->journal, &k, &v, flags));
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
    if (rc != 0 || v.mv_size < sizeof(wf_journal_disk_t))
        return rc == MDB_NOTFOUND ? WF_E_NOTFOUND : WF_E_INTERNAL;
    memcpy(out, (const uint8_t *)v.mv_data + offsetof(wf_journal_disk_t, hash), 32);
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

/* The stored bytes of an entry in a format before 4, hashed over the whole
 * record (the replay check of an older journal writes them); returns their
 * length. */
static size_t
encode_old(const wf_store_t *s, uint64_t seq, int64_t now, const wf_cmd_t *cmd,
           const uint8_t prev[32], uint8_t *out)
{
    wf_journal_rec_t rec;
    memset(&rec, 0, sizeof rec);
    rec.format = s->jformat;
    rec.now = now;
    memcpy(&rec.cmd, cmd, sizeof rec.cmd); /* padding too: it is hashed */
    wf_journal__chain(prev, seq, &rec, rec.hash);
    return wf_journal__encode(&rec, out);
}

int
wf_journal__append(MDB_txn *txn, wf_store_t *s, uint64_t seq, int64_t now, const wf_cmd_t *cmd)
{
    uint8_t prev[32];
    if (s->jlast_seq != 0 && s->jlast_seq == seq - 1) {
        memcpy(prev, s->jlast_hash, 32);
    } else {
        int rc = wf_journal__hash(txn, s, seq - 1, prev);
        if (rc != WF_OK)
            return rc == WF_E_NOTFOUND ? WF_E_INTERNAL : rc;
    }
    uint8_t buf[WF_JOURNAL_DISK_MAX];
    size_t len;
    uint8_t *hash = buf + offsetof(wf_journal_disk_t, hash);
    if (s->jformat && s->jformat < 4) {
        len = encode_old(s, seq, now, cmd, prev, buf);
    } else {
        /* the stored bytes built once, hashed and put as they are */
        wf_journal_disk_t h;
        memset(&h, 0, sizeof h);
        h.format = WF_JOURNAL_FORMAT;
        h.now = now;
        h.clen = (uint32_t)squeeze((const uint8_t *)cmd, sizeof *cmd, buf + sizeof h); /* padding too */
        memcpy(buf, &h, sizeof h);
        len = sizeof h + h.clen;
        chain_stored(prev, seq, buf, len, hash); /* it reads no byte of the hash field */
    }
    /* MDB_APPEND: keys only grow, and LMDB then fills pages completely. */
    uint8_t key[8];
    wf_store__be64(key, seq);
    MDB_val k = {sizeof key, key}, v = {len, buf};
    int rc = wf_store__err(mdb_put(txn, s->journal, &k, &v, MDB_APPEND));
    if (rc == WF_OK) {
        s->jlast_seq = seq;
        memcpy(s->jlast_hash, hash, 32);
    } else {
        s->jlast_seq = 0;
    }
    return rc;
}

void
wf_journal__forget(wf_store_t *s)
{
    s->jlast_seq = 0;
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
    MDB_val k = {sizeof key, key}, v;
    int rc = mdb_get(txn, s->journal, &k, &v);
    if (rc == MDB_NOTFOUND)
        return WF_E_NOTFOUND;
    if (rc != 0)
        return WF_E_INTERNAL;
    return wf_journal__decode(v.mv_data, v.mv_size, out);
}

int
wf_journal__truncate(MDB_txn *txn, wf_store_t *s, uint64_t seq, uint64_t last,
                     const uint8_t sk[64])
{
    wf_journal__forget(s);
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
