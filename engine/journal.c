/* The command journal: every accepted command that changed state, with the
 * time of its batch, under a gap-free sequence number (BE64 key). It is
 * written in the same transaction as the command's effects, so the journal
 * and the state it produced can never disagree, and replaying it from an
 * empty database reproduces every match. Read-only and failed commands are
 * not journaled. */
#include "store_int.h"

#include <string.h>

#include "wf_error.h"

int
wf_journal__append(MDB_txn *txn, const wf_store_t *s, uint64_t seq, int64_t now,
                   const wf_cmd_t *cmd)
{
    wf_journal_rec_t rec;
    memset(&rec, 0, sizeof rec);
    rec.format = WF_JOURNAL_FORMAT;
    rec.now = now;
    rec.cmd = *cmd;
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
