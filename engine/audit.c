/* The offline history checks of audit.h: the journal audit (hash chain and
 * signed head) and the replay check (state hash of a database rebuilt from
 * the journal against the live one). Both read the live database in one
 * read-only snapshot. */
#define _GNU_SOURCE /* nftw */
#include "audit.h"

#include <errno.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_int.h"
#include "wf_alloc.h"
#include "wf_error.h"

static int
read_pub(const char *dir, uint8_t pk[32], char *err, size_t errlen)
{
    char path[4200], buf[128];
    snprintf(path, sizeof path, "%s/sign.pub", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return WF_E_NOTFOUND;
    }
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[got] = 0;
    size_t len = strcspn(buf, "\r\n"), bin = 0;
    if (len != 64 || sodium_hex2bin(pk, 32, buf, len, NULL, &bin, NULL) != 0 || bin != 32) {
        snprintf(err, errlen, "%s must hold 64 hex digits", path);
        return WF_E_FIELD;
    }
    return WF_OK;
}

static void
problem(wf_audit_report_t *rep, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
problem(wf_audit_report_t *rep, const char *fmt, ...)
{
    if (rep->problem[0])
        return; /* the first one is what a person needs */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->problem, sizeof rep->problem, fmt, ap);
    va_end(ap);
}

static void
bad(wf_audit_report_t *rep, uint64_t seq)
{
    if (!rep->first_bad)
        rep->first_bad = seq;
    rep->nbad++;
}

/* Walks the chain: each entry's stored hash must be the chain hash of the
 * stored hash before it and its own bytes, so one changed entry breaks
 * exactly itself. Visits each entry once. */
static int
walk(MDB_txn *txn, const wf_store_t *s, wf_audit_report_t *rep, uint8_t last_hash[32])
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->journal, &c);
    if (rc != 0)
        return wf_store__err(rc);
    uint8_t prev[32] = {0};
    uint64_t expect = 1;
    MDB_val k, v;
    wf_journal_rec_t *rec = wf_malloc(sizeof *rec);
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        rep->entries++;
        if (k.mv_size != 8) {
            bad(rep, expect);
            problem(rep, "journal entry after seq %llu has a malformed key",
                    (unsigned long long)(expect - 1));
            continue;
        }
        uint64_t seq = wf_store__from_be64(k.mv_data);
        if (seq != expect) {
            bad(rep, expect);
            problem(rep, "journal entry %llu is missing (the next is %llu)",
                    (unsigned long long)expect, (unsigned long long)seq);
        }
        expect = seq + 1;
        rep->last_seq = seq;
        if (wf_journal__decode(v.mv_data, v.mv_size, rec) != WF_OK) {
            bad(rep, seq);
            problem(rep, "journal entry %llu breaks the chain: its %zu bytes are not a "
                    "well-formed entry", (unsigned long long)seq, v.mv_size);
            memset(prev, 0, sizeof prev);
            continue;
        }
        uint8_t want[32];
        wf_journal__chain(prev, seq, rec, want);
        if (rec->format < WF_JOURNAL_FORMAT_OLDEST || rec->format > WF_JOURNAL_FORMAT) {
            bad(rep, seq);
            problem(rep, "journal entry %llu breaks the chain: format %u, not %u..%u",
                    (unsigned long long)seq, rec->format, WF_JOURNAL_FORMAT_OLDEST,
                    WF_JOURNAL_FORMAT);
        } else if (sodium_memcmp(want, rec->hash, 32) != 0) {
            bad(rep, seq);
            problem(rep, "journal entry %llu breaks the chain: its hash does not match its "
                    "content (the entry, op %s at %lld, was changed)", (unsigned long long)seq,
                    wf_op_name(rec->cmd.op) ? wf_op_name(rec->cmd.op) : "?",
                    (long long)rec->now);
        }
        memcpy(prev, rec->hash, 32);
    }
    wf_free(rec);
    mdb_cursor_close(c);
    memcpy(last_hash, prev, 32);
    return rc == MDB_NOTFOUND ? WF_OK : wf_store__err(rc);
}

int
wf_journal_audit(const char *dir, wf_audit_report_t *rep, char *err, size_t errlen)
{
    memset(rep, 0, sizeof *rep);
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return WF_E_INTERNAL;
    }
    uint8_t pk[32];
    int rc = read_pub(dir, pk, err, errlen);
    if (rc != WF_OK)
        return rc;
    wf_store_t s;
    rc = wf_store__open_readonly(&s, dir, err, errlen);
    if (rc != WF_OK)
        return rc;
    MDB_txn *txn;
    rc = wf_store__err(mdb_txn_begin(s.jenv, NULL, MDB_RDONLY, &txn));
    if (rc != WF_OK) {
        snprintf(err, errlen, "%s: cannot begin a read transaction", dir);
        wf_store__close(&s);
        return rc;
    }
    uint8_t last[32];
    rc = walk(txn, &s, rep, last);
    wf_journal_head_t h;
    int hrc = rc == WF_OK ? wf_store__get(txn, s.jmeta, "head", 4, &h, sizeof h) : rc;
    mdb_txn_abort(txn);
    wf_store__close(&s);
    if (rc != WF_OK) {
        snprintf(err, errlen, "%s: cannot read the journal: %s", dir, wf_strerror(rc));
        return rc;
    }
    if (hrc == WF_OK) {
        uint8_t msg[40];
        rep->head_present = true;
        rep->head_seq = h.seq;
        memcpy(rep->head_hash, h.hash, 32);
        wf_journal__head_msg(h.seq, h.hash, msg);
        rep->head_sig_ok = crypto_sign_verify_detached(h.sig, msg, sizeof msg, pk) == 0;
        rep->head_matches = h.seq == rep->last_seq && sodium_memcmp(h.hash, last, 32) == 0;
        if (!rep->head_sig_ok)
            problem(rep, "the journal head (seq %llu) is not signed by the key in sign.pub",
                    (unsigned long long)h.seq);
        else if (!rep->head_matches)
            problem(rep, "the signed head names entry %llu but the journal ends at %llu with "
                    "another hash: history was rewritten after the engine signed it",
                    (unsigned long long)h.seq, (unsigned long long)rep->last_seq);
    } else if (rep->entries > 0) {
        problem(rep, "the journal has %llu entries but no signed head",
                (unsigned long long)rep->entries);
    }
    bool head_ok = rep->entries == 0 ? !rep->head_present || (rep->head_sig_ok && rep->head_matches)
                                     : rep->head_present && rep->head_sig_ok && rep->head_matches;
    rep->ok = rep->nbad == 0 && head_ok;
    return WF_OK;
}

/* ---- replay ---- */

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static double
mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Applies the journal entries 1..upto of the live snapshot (the state's
 * "applied" seq: the journal may be one batch ahead of the state) to
 * scratch, one batch each, stopping at the first that replay refuses or
 * does not journal. */
static int
replay_all(MDB_txn *txn, const wf_store_t *s, uint64_t upto, wf_engine_t *scratch,
           wf_replay_report_t *rep)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->journal, &c);
    if (rc != 0)
        return wf_store__err(rc);
    wf_journal_rec_t *rec = wf_malloc(sizeof *rec);
    wf_reply_t *reply = wf_malloc(sizeof *reply);
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8) {
            rc = WF_E_INTERNAL;
            break;
        }
        uint64_t seq = wf_store__from_be64(k.mv_data);
        if (seq > upto) {
            rc = MDB_NOTFOUND;
            break;
        }
        if (wf_journal__decode(v.mv_data, v.mv_size, rec) != WF_OK) {
            rc = WF_E_INTERNAL;
            break;
        }
        wf_outbox_t out;
        wf_engine__journal_format(scratch, rec->format); /* the same bytes, the same chain */
        int arc = wf_engine_apply(scratch, &rec->cmd, 1, rec->now, reply, &out);
        rep->entries++;
        if (arc != WF_OK || reply->err != WF_OK) {
            rep->failed_seq = seq;
            snprintf(rep->problem, sizeof rep->problem, "entry %llu (%s at %lld) was refused on "
                     "replay: %s %s", (unsigned long long)seq,
                     wf_op_name(rec->cmd.op) ? wf_op_name(rec->cmd.op) : "?", (long long)rec->now,
                     wf_err_name(arc != WF_OK ? arc : reply->err), reply->msg);
            rc = MDB_NOTFOUND;
            break;
        }
        if (wf_engine_journal_seq(scratch) != seq) {
            rep->failed_seq = seq;
            snprintf(rep->problem, sizeof rep->problem, "entry %llu (%s at %lld) changed nothing "
                     "on replay (replay is at journal seq %llu)", (unsigned long long)seq,
                     wf_op_name(rec->cmd.op) ? wf_op_name(rec->cmd.op) : "?", (long long)rec->now,
                     (unsigned long long)wf_engine_journal_seq(scratch));
            rc = MDB_NOTFOUND;
            break;
        }
    }
    wf_free(rec);
    wf_free(reply);
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? WF_OK : wf_store__err(rc);
}

int
wf_engine_replay(const char *dir, const char *catalogue, const char *scratch_dir,
                 wf_replay_report_t *rep, char *err, size_t errlen)
{
    return wf_engine_replay_with(dir, catalogue, NULL, scratch_dir, rep, err, errlen);
}

int
wf_engine_replay_with(const char *dir, const char *catalogue, const char *catalogue_add,
                      const char *scratch_dir, wf_replay_report_t *rep, char *err, size_t errlen)
{
    memset(rep, 0, sizeof *rep);
    double t0 = mono_s();
    wf_store_t s;
    int rc = wf_store__open_readonly(&s, dir, err, errlen);
    if (rc != WF_OK)
        return rc;
    MDB_envinfo info;
    mdb_env_info(s.env, &info);
    /* The state's snapshot first, then the journal's: the journal is
     * committed first, so it holds at least every entry the state does.
     * Beside a running daemon the state follows the journal by up to
     * WF_STATE_FLUSH_MS: wait a little for it to catch up, so that the
     * check covers the newest entries; if it does not (a busy daemon),
     * check up to the state's entry. */
    MDB_txn *stxn = NULL, *txn = NULL;
    uint64_t applied = 0, last = 0;
    for (int tries = 0;; tries++) {
        rc = wf_store__err(mdb_txn_begin(s.env, NULL, MDB_RDONLY, &stxn));
        if (rc == WF_OK)
            rc = wf_store__state_hash(stxn, &s, rep->live);
        if (rc == WF_OK)
            rc = wf_store__applied(stxn, &s, &applied);
        if (stxn)
            mdb_txn_abort(stxn);
        stxn = NULL;
        if (rc == WF_OK)
            rc = wf_store__err(mdb_txn_begin(s.jenv, NULL, MDB_RDONLY, &txn));
        if (rc == WF_OK)
            rc = wf_journal__last(txn, &s, &last);
        if (rc != WF_OK || last <= applied || tries == 50)
            break;
        mdb_txn_abort(txn);
        txn = NULL;
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
    if (rc == WF_OK && last < applied)
        rc = WF_E_STATE;
    if (rc == WF_OK)
        rc = wf_journal__hash(txn, &s, applied, rep->live_head);
    if (rc != WF_OK) {
        snprintf(err, errlen, "%s: cannot read the live state: %s", dir,
                 rc == WF_E_STATE ? "the state holds journal entries the journal does not"
                                  : wf_strerror(rc));
        if (txn)
            mdb_txn_abort(txn);
        wf_store__close(&s);
        return rc;
    }
    char scratch[4200];
    const char *tmp = scratch_dir ? scratch_dir : getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/wufei-replay-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(scratch)) {
        snprintf(err, errlen, "cannot make a scratch directory %s: %s", scratch, strerror(errno));
        mdb_txn_abort(txn);
        wf_store__close(&s);
        return WF_E_INTERNAL;
    }
    wf_engine_opts_t o = {.dir = scratch, .catalogue = catalogue, .catalogue_add = catalogue_add,
                          .map_size = info.me_mapsize, .no_sync = true};
    wf_engine_t *e = wf_engine_new(&o, err, errlen);
    if (!e) {
        rc = WF_E_INTERNAL;
    } else {
        rc = replay_all(txn, &s, applied, e, rep);
        uint64_t seq;
        uint8_t sig[64];
        if (rc == WF_OK)
            rc = wf_engine_state_hash(e, rep->replayed);
        if (rc == WF_OK)
            rc = wf_engine_journal_head(e, &seq, rep->replayed_head, sig);
        if (rc != WF_OK)
            snprintf(err, errlen, "replay failed: %s", wf_strerror(rc));
        wf_engine_destroy(&e);
    }
    mdb_txn_abort(txn);
    wf_store__close(&s);
    nftw(scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    rep->seconds = mono_s() - t0;
    if (rc != WF_OK)
        return rc;
    bool same_state = sodium_memcmp(rep->live, rep->replayed, 32) == 0;
    bool same_head = sodium_memcmp(rep->live_head, rep->replayed_head, 32) == 0;
    rep->equal = !rep->failed_seq && same_state && same_head;
    if (!rep->problem[0] && !same_state)
        snprintf(rep->problem, sizeof rep->problem, "the replayed state differs from the live "
                 "one after %llu entries", (unsigned long long)rep->entries);
    else if (!rep->problem[0] && !same_head)
        snprintf(rep->problem, sizeof rep->problem, "the replayed journal chain ends in another "
                 "hash than the live one");
    return WF_OK;
}
