/* config.get's history: who changed which settings when, read back from
 * the journal, which keeps every accepted config.set with its batch time
 * and the operator firm that sent it (`as`). No separate log is kept, so
 * the history cannot disagree with the journal; the read is bounded to the
 * last WF_CONFIG_HISTORY_SCAN entries (reading only each entry's op unless
 * it is a config.set) and the last WF_CONFIG_HISTORY_MAX changes, and the
 * reply says when a bound stopped it. */
#include "engine_int.h"

#include <string.h>

#include "wf_error.h"

int
wf_config__history(wf_exec_t *x)
{
    wf_engine_t *e = x->e;
    MDB_cursor *c;
    if (!e->jcur)
        return wf_exec__fail(x, WF_E_INTERNAL, "config.get: the journal is not open");
    int rc = mdb_cursor_open(e->jcur, e->store.journal, &c);
    if (rc != 0)
        return wf_exec__fail(x, wf_store__err(rc), "config.get: cannot read the journal");
    wf_config_change_t *h = wf_arena__alloc(&e->arena, WF_CONFIG_HISTORY_MAX * sizeof *h);
    size_t n = 0;
    uint64_t scanned = 0;
    bool truncated = false;
    wf_journal_rec_t *rec = wf_arena__alloc(&e->arena, sizeof *rec);
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_LAST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_PREV)) {
        if (scanned == WF_CONFIG_HISTORY_SCAN || n == WF_CONFIG_HISTORY_MAX) {
            truncated = true;
            break;
        }
        scanned++;
        if (k.mv_size != 8 || wf_journal__decode(v.mv_data, v.mv_size, rec) != WF_OK)
            continue;
        if (rec->cmd.op != WF_OP_CONFIG_SET)
            continue;
        wf_config_change_t *ch = &h[n++];
        ch->seq = wf_store__from_be64(k.mv_data);
        ch->ts = rec->now;
        memcpy(ch->by, rec->cmd.as, sizeof ch->by);
        ch->by[WF_FIRM_LEN - 1] = '\0';
        ch->set = rec->cmd.u.config.set;
        memcpy(&ch->values, &rec->cmd.u.config.values, sizeof ch->values);
    }
    mdb_cursor_close(c);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return wf_exec__fail(x, wf_store__err(rc), "config.get: cannot read the journal");
    x->reply->has_history = true;
    x->reply->history = h;
    x->reply->nhistory = n;
    x->reply->history_scanned = scanned;
    x->reply->history_truncated = truncated;
    return WF_OK;
}
