/* The engine's lifecycle and batch loop. wf_engine_new() opens the store,
 * registers the operator firm on first start and rebuilds memory (firm
 * table, config, counters, book) from disk; wf_engine_apply() runs a batch
 * in one LMDB write transaction, each command in a nested child
 * transaction so a failing command leaves no trace, and mutates memory only
 * after a child has committed. If the batch commit itself fails, memory is
 * rebuilt from disk, so memory and disk always agree. The fast path skips
 * the child transactions (LMDB copies every page a child touches that its
 * parent has dirtied: most of a command's cost); a command that fails after
 * it began writing sends the batch to the slow path with them. A batch
 * may grow while it runs (wf_engine_apply_more): commands the net layer
 * received meanwhile run in the same transaction and share its commit. The op
 * handlers live
 * in post.c (trading), orders.c (order queries, cancel, hello),
 * admin.c (firms, config), licence.c (licences and lanes), optimize.c
 * and auction.c (the optimiser and call auctions), credit.c (credit
 * events, blacklist), subs.c and push.c (subscriptions, notifications)
 * and retention.c (stream trimming). */
#include "engine_int.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wf_alloc.h"
#include "wf_clock.h"
#include "wf_error.h"

#ifndef WUFEI_CATALOGUE
#define WUFEI_CATALOGUE "data/catalogue.tsv"
#endif

bool
wf_str__ok(const char *s, size_t len)
{
    return memchr(s, 0, len) != NULL;
}

int
wf_exec__fail(wf_exec_t *x, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->reply->msg, sizeof x->reply->msg, fmt, ap);
    va_end(ap);
    x->reply->err = err;
    return err;
}

int
wf_exec__begin(wf_exec_t *x, MDB_txn **child)
{
    wf_engine_t *e = x->e;
    wf_stream__begin(e);
    if (!e->nested) {
        *child = x->txn;
        return WF_OK;
    }
    int rc = mdb_txn_begin(e->store.env, x->txn, 0, child);
    if (rc != 0)
        return wf_exec__fail(x, wf_store__err(rc), "store: cannot begin: %s", mdb_strerror(rc));
    if (e->jtxn) {
        rc = mdb_txn_begin(e->store.jenv, e->jtxn, 0, &e->jcur);
        if (rc != 0) {
            mdb_txn_abort(*child);
            e->jcur = e->jtxn;
            return wf_exec__fail(x, wf_store__err(rc), "journal: cannot begin: %s",
                                 mdb_strerror(rc));
        }
    }
    return WF_OK;
}

/* The slow path's journal child: committed after the state child was
 * (rc WF_OK), else aborted. */
static void
jchild_end(wf_engine_t *e, bool commit)
{
    if (!e->jtxn || e->jcur == e->jtxn)
        return;
    if (commit) {
        if (mdb_txn_commit(e->jcur) != 0)
            e->jchild_bad = true;
    } else {
        mdb_txn_abort(e->jcur);
        wf_journal__forget(&e->store);
    }
    e->jcur = e->jtxn;
}

int
wf_exec__end(wf_exec_t *x, MDB_txn *child, int rc)
{
    if (!x->e->nested) {
        if (rc == WF_OK) {
            wf_stream__commit(x->e);
            return WF_OK;
        }
        x->e->redo = true; /* the batch transaction holds part of this command */
        if (x->reply->err == WF_OK)
            wf_exec__fail(x, rc, "store write failed; nothing was changed");
        return x->reply->err;
    }
    if (rc != WF_OK) {
        mdb_txn_abort(child);
        jchild_end(x->e, false);
        if (x->reply->err == WF_OK)
            wf_exec__fail(x, rc, "%s", rc == WF_E_FULL ? "the store is full; nothing was changed"
                                                       : "store write failed; nothing was changed");
        return x->reply->err;
    }
    int mrc = mdb_txn_commit(child);
    if (mrc != 0) {
        jchild_end(x->e, false);
        return wf_exec__fail(x, wf_store__err(mrc), "store: commit failed (%s); nothing was changed",
                             mdb_strerror(mrc));
    }
    jchild_end(x->e, true);
    wf_stream__commit(x->e);
    return WF_OK;
}

int
wf_exec__journal(wf_exec_t *x, MDB_txn *child)
{
    (void)child; /* the journal has its own transaction (store_int.h) */
    wf_engine_t *e = x->e;
    if (e->fail_journal_rid && x->cmd->rid == e->fail_journal_rid)
        return WF_E_INTERNAL;
    if (e->replaying) {
        /* The entry is on disk already (replay_tail runs its very command
         * at its time): it journals only once. */
        if (!e->replay_entry)
            return WF_E_INTERNAL;
        e->replay_entry = false;
        return WF_OK;
    }
    if (!e->jcur)
        return WF_E_INTERNAL;
    return wf_journal__append(e->jcur, &e->store, e->journal_seq + 1, x->now, x->cmd);
}

wf_rules_t
wf_config__rules(const wf_config_t *c)
{
    wf_rules_t r = wf_rules_default();
    r.w_credit = c->w_credit;
    r.w_distance = c->w_distance;
    r.w_price = c->w_price;
    r.county_rule = c->county_rule;
    r.city_rule = c->city_rule;
    r.eco_fee = c->eco_fee;
    return r;
}

void
wf_order__id(char out[WF_OID_LEN], const wf_order_rec_t *r)
{
    wf_id_format(out, r->side == WF_OFFER ? 'O' : 'D', r->id);
}

int
wf_order__from_rec(const wf_engine_t *e, const wf_order_rec_t *r, wf_order_t *o)
{
    memset(o, 0, sizeof *o);
    const wf_firm_rec_t *f = wf_firmtab__find(&e->firms, r->firm);
    if (!f)
        return WF_E_NOTFOUND;
    o->id = r->id;
    o->side = r->side == WF_OFFER ? WF_OFFER : WF_DEMAND;
    o->firm = f->number;
    o->code = -1;
    if (o->side == WF_OFFER) {
        o->code = wf_catalogue_find(e->cat, r->code);
        if (o->code < 0)
            return WF_E_CODE;
    } else {
        if (r->ncodes > WF_MAX_PATTERNS)
            return WF_E_CODE;
        o->npatterns = r->ncodes;
        for (int i = 0; i < r->ncodes; i++) {
            o->patterns[i] = wf_catalogue_find(e->cat, r->codes[i]);
            if (o->patterns[i] < 0)
                return WF_E_CODE;
        }
    }
    o->qty = r->qty;
    o->remaining = r->remaining;
    o->price = r->price;
    o->min_fill = r->min_fill;
    o->min_credit = r->min_credit;
    o->lat = r->lat;
    o->lon = r->lon;
    o->max_km = r->max_km;
    o->expires = r->expires;
    o->target = r->target;
    return WF_OK;
}

/* ---- loading state from disk ---- */

static int
ensure_operator(wf_engine_t *e, MDB_txn *txn, int64_t now)
{
    wf_firm_rec_t f;
    int rc = wf_store__get(txn, e->store.firms, WF_OPERATOR_ID, WF_FIRM_ID_LEN, &f, sizeof f);
    if (rc != WF_E_NOTFOUND)
        return rc;
    memset(&f, 0, sizeof f);
    snprintf(f.id, sizeof f.id, "%s", WF_OPERATOR_ID);
    snprintf(f.name, sizeof f.name, "wufei operator");
    f.roles = WF_ROLE_OPERATOR;
    f.base_credit = 100;
    f.number = 0;
    f.created = now;
    return wf_store__put_firm(txn, &e->store, &f);
}

static int
load_config(wf_engine_t *e, MDB_txn *txn)
{
    int rc = wf_store__get(txn, e->store.config, "config", 6, &e->config, sizeof e->config);
    if (rc == WF_E_NOTFOUND) {
        e->config = wf_config_default();
        rc = wf_store__put(txn, e->store.config, "config", 6, &e->config, sizeof e->config);
    }
    e->rules = wf_config__rules(&e->config);
    return rc;
}

static int
load_firms(wf_engine_t *e, MDB_txn *txn, char *err, size_t errlen)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, e->store.firms, &c);
    if (rc != 0)
        return wf_store__err(rc);
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        wf_firm_rec_t f;
        if (v.mv_size != sizeof f) {
            snprintf(err, errlen, "corrupt firm record (%zu bytes)", v.mv_size);
            mdb_cursor_close(c);
            return WF_E_INTERNAL;
        }
        memcpy(&f, v.mv_data, sizeof f);
        wf_firmtab__put(&e->firms, &f);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? WF_OK : wf_store__err(rc);
}

static int
load_counters(wf_engine_t *e, MDB_txn *txn)
{
    int rc = wf_store__meta_get(txn, &e->store, "next_order", &e->next_order);
    if (rc == WF_OK)
        rc = wf_store__meta_get(txn, &e->store, "next_match", &e->next_match);
    if (rc == WF_OK)
        rc = wf_store__meta_get(txn, &e->store, "next_firm", &e->next_firm);
    if (rc == WF_OK)
        rc = wf_store__applied(txn, &e->store, &e->journal_seq);
    return rc;
}

static int apply(wf_engine_t *self, const wf_cmd_t *cmds, size_t *np, size_t cap, wf_cmd_t *room,
                 wf_more_fn more, void *ctx, int64_t now, wf_reply_t *replies, wf_outbox_t *out);

/* Brings the state up to the journal: applies the entries past the
 * state's "applied" seq, one batch each, as the replay check does (a kill
 * -9 leaves the batches of the last state commit interval; a state file
 * rebuilt after a machine restart, all of them). */
static int
replay_tail(wf_engine_t *e, char *err, size_t errlen)
{
    MDB_txn *jt;
    int rc = wf_store__err(mdb_txn_begin(e->store.jenv, NULL, MDB_RDONLY, &jt));
    uint64_t last = 0;
    if (rc == WF_OK)
        rc = wf_journal__last(jt, &e->store, &last);
    if (rc != WF_OK) {
        snprintf(err, errlen, "cannot read the journal: %s", wf_strerror(rc));
        if (jt)
            mdb_txn_abort(jt);
        return rc;
    }
    if (last < e->journal_seq) {
        snprintf(err, errlen, "the state holds journal entries up to %llu but the journal ends "
                 "at %llu: data.mdb and journal.mdb are not from the same database (restore "
                 "both from the same backup)", (unsigned long long)e->journal_seq,
                 (unsigned long long)last);
        mdb_txn_abort(jt);
        return WF_E_STATE;
    }
    wf_journal_rec_t *rec = wf_malloc(sizeof *rec);
    wf_reply_t *reply = wf_malloc(sizeof *reply);
    e->replaying = true;
    for (uint64_t seq = e->journal_seq + 1; rc == WF_OK && seq <= last; seq++) {
        rc = wf_journal__get(jt, &e->store, seq, rec);
        if (rc != WF_OK) {
            snprintf(err, errlen, "cannot read journal entry %llu: %s", (unsigned long long)seq,
                     wf_strerror(rc));
            break;
        }
        e->replay_entry = true;
        wf_outbox_t out;
        size_t one = 1;
        int arc = apply(e, &rec->cmd, &one, 1, NULL, NULL, NULL, rec->now, reply, &out);
        if (arc != WF_OK || reply->err != WF_OK || e->journal_seq != seq) {
            snprintf(err, errlen, "journal entry %llu (%s at %lld) cannot be applied to the "
                     "state: %s %s", (unsigned long long)seq,
                     wf_op_name(rec->cmd.op) ? wf_op_name(rec->cmd.op) : "?", (long long)rec->now,
                     wf_err_name(arc != WF_OK ? arc : reply->err),
                     arc != WF_OK || reply->err != WF_OK ? reply->msg : "(it changed nothing)");
            rc = WF_E_INTERNAL;
            break;
        }
        e->replayed++;
    }
    e->replaying = false;
    e->replay_entry = false;
    wf_free(rec);
    wf_free(reply);
    mdb_txn_abort(jt);
    if (rc == WF_OK && (rc = wf_engine__flush(e)) != WF_OK)
        snprintf(err, errlen, "cannot commit the replayed entries to the state: %s",
                 wf_strerror(rc));
    return rc;
}

/* (Re)builds every in-memory structure from the store, in one write
 * transaction that also completes a first start, then replays the
 * journal's tail into it. */
static int
load_state(wf_engine_t *e, char *err, size_t errlen)
{
    if (e->stxn) { /* its batches are in the journal: the replay below redoes them */
        mdb_txn_abort(e->stxn);
        e->stxn = NULL;
    }
    if (e->jtxn) { /* its batches are in journal.wal: replayed into journal.mdb below */
        if (e->jcur && e->jcur != e->jtxn)
            mdb_txn_abort(e->jcur);
        mdb_txn_abort(e->jtxn);
        e->jtxn = e->jcur = NULL;
        wf_journal__forget(&e->store);
    }
    err[0] = 0;
    if (!e->replaying) {
        uint64_t logged;
        int wrc = wf_wal__replay(&e->store.wal, &e->store, &logged, err, errlen);
        if (wrc != WF_OK)
            return wrc;
    }
    wf_firmtab__fini(&e->firms);
    wf_firmtab__init(&e->firms);
    wf_lictab__fini(&e->lic);
    wf_book_destroy(&e->book);
    e->book = wf_book_new(e->cat);
    wf_timers__clear(&e->timers);
    MDB_txn *txn = NULL;
    int rc = wf_store__err(mdb_txn_begin(e->store.env, NULL, 0, &txn));
    err[0] = 0;
    if (rc == WF_OK)
        rc = ensure_operator(e, txn, 0);
    if (rc == WF_OK)
        rc = load_config(e, txn);
    if (rc == WF_OK)
        rc = load_counters(e, txn);
    if (rc == WF_OK)
        rc = load_firms(e, txn, err, errlen);
    if (rc == WF_OK && (rc = wf_stream__load(e, txn)) != WF_OK)
        snprintf(err, errlen, "corrupt stream records");
    if (rc == WF_OK)
        rc = wf_licence__load(e, txn, err, errlen);
    if (rc == WF_OK)
        rc = wf_live__load(e, txn, err, errlen);
    if (rc == WF_OK && (rc = wf_auction__load(e, txn)) != WF_OK)
        snprintf(err, errlen, "cannot load the call auctions (was the catalogue changed?)");
    if (rc == WF_OK && (rc = wf_manifest__timers(e, txn)) != WF_OK)
        snprintf(err, errlen, "corrupt manifest records");
    if (rc == WF_OK)
        rc = wf_credit__load(e, txn, err, errlen);
    if (rc == WF_OK)
        rc = wf_subs__load(e, txn, err, errlen);
    if (rc == WF_OK)
        rc = wf_push__load(e, txn);
    if (rc == WF_OK)
        rc = wf_trim__load(e, txn);
    if (rc == WF_OK)
        rc = wf_stats__load(e, txn, err, errlen);
    if (rc == WF_OK)
        rc = wf_store__err(mdb_txn_commit(txn));
    else if (txn)
        mdb_txn_abort(txn);
    if (rc != WF_OK && !err[0])
        snprintf(err, errlen, "cannot load the database: %s", wf_strerror(rc));
    if (rc == WF_OK && !e->replaying)
        rc = replay_tail(e, err, errlen);
    return rc;
}

wf_engine_t *
wf_engine_new(const wf_engine_opts_t *opts, char *err, size_t errlen)
{
    char dummy[8];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    if (!opts) {
        snprintf(err, errlen, "no engine options given");
        return NULL;
    }
    wf_engine_t *e = wf_calloc(1, sizeof *e);
    e->state_flush_ms = WF_STATE_FLUSH_MS;
    e->stream.size = sizeof(wf_stream_msg_t);
    e->feed.size = sizeof(wf_feed_msg_t);
    wf_firmtab__init(&e->firms);
    const char *catpath = opts->catalogue ? opts->catalogue : WUFEI_CATALOGUE;
    e->cat = wf_catalogue_new();
    char cerr[256];
    if (wf_catalogue_load(e->cat, catpath, cerr, sizeof cerr) != WF_OK) {
        snprintf(err, errlen, "cannot load the catalogue %s: %s", catpath, cerr);
        wf_engine_destroy(&e);
        return NULL;
    }
    if (opts->catalogue_add &&
        wf_catalogue_load(e->cat, opts->catalogue_add, cerr, sizeof cerr) != WF_OK) {
        snprintf(err, errlen, "cannot add the catalogue %s: %s", opts->catalogue_add, cerr);
        wf_engine_destroy(&e);
        return NULL;
    }
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        wf_engine_destroy(&e);
        return NULL;
    }
    bool fresh = false;
    if (wf_store__open(&e->store, opts->dir, opts->map_size, opts->no_sync, &fresh, err,
                       errlen) != WF_OK) {
        wf_engine_destroy(&e);
        return NULL;
    }
    char kerr[512];
    if (wf_signkey__load(opts->dir, e->sign_pk, e->sign_sk, kerr, sizeof kerr) != WF_OK) {
        snprintf(err, errlen, "%s", kerr);
        wf_engine_destroy(&e);
        return NULL;
    }
    const char *crash = getenv("WUFEI_TEST_KILL_AFTER_JOURNAL");
    if (crash && *crash)
        e->crash_after_journal = strtoull(crash, NULL, 10);
    char lerr[512];
    if (load_state(e, lerr, sizeof lerr) != WF_OK) {
        snprintf(err, errlen, "%s: %s", opts->dir, lerr);
        wf_engine_destroy(&e);
        return NULL;
    }
    return e;
}

void
wf_engine_destroy(wf_engine_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wf_engine_t *e = *self_p;
    wf_engine__flush(e);
    wf_book_destroy(&e->book);
    wf_catalogue_destroy(&e->cat);
    wf_store__close(&e->store);
    wf_firmtab__fini(&e->firms);
    wf_lictab__fini(&e->lic);
    wf_arena__reset(&e->arena);
    wf_vec__free(&e->stream);
    wf_stream__fini(e);
    wf_vec__free(&e->feed);
    wf_post__free(e);
    wf_auction__free(e);
    wf_credit__fini(e);
    wf_vec__free(&e->credit_raised);
    wf_subs__fini(e);
    wf_push__fini(e);
    wf_stats__free(e);
    wf_timers__fini(&e->timers);
    wf_syncer__destroy(&e->overlap.syncer);
    sodium_memzero(e->sign_sk, sizeof e->sign_sk);
    wf_free(e);
    *self_p = NULL;
}

int
wf_engine_overlap_sync(wf_engine_t *self, void (*fn)(void *ctx), void *ctx)
{
    if (!fn) {
        wf_syncer__destroy(&self->overlap.syncer);
        self->overlap.fn = NULL;
        self->overlap.ctx = NULL;
        return WF_OK;
    }
    if (!self->overlap.syncer && !(self->overlap.syncer = wf_syncer__new()))
        return WF_E_INTERNAL;
    self->overlap.fn = fn;
    self->overlap.ctx = ctx;
    return WF_OK;
}

/* ---- the batch loop ---- */

static int
op_ping(wf_exec_t *x)
{
    x->reply->now = x->now;
    return WF_OK;
}

static int (*const handlers[WF_OP__COUNT])(wf_exec_t *) = {
    [WF_OP_PING] = op_ping,
    [WF_OP_HELLO] = wf_op__hello,
    [WF_OP_OFFER_POST] = wf_op__post,
    [WF_OP_DEMAND_POST] = wf_op__post,
    [WF_OP_ORDER_CANCEL] = wf_op__cancel,
    [WF_OP_ORDER_GET] = wf_op__order_get,
    [WF_OP_ORDERS_MINE] = wf_op__orders_mine,
    [WF_OP_FIRM_PUT] = wf_op__firm_put,
    [WF_OP_FIRM_GET] = wf_op__firm_get,
    [WF_OP_CONFIG_GET] = wf_op__config_get,
    [WF_OP_CONFIG_SET] = wf_op__config_set,
    [WF_OP_TICK] = wf_op__tick,
    [WF_OP_LICENCE_PUT] = wf_op__licence_put,
    [WF_OP_LANE_PUT] = wf_op__lane_put,
    [WF_OP_LANE_DEL] = wf_op__lane_del,
    [WF_OP_OPTIMIZE] = wf_op__optimize,
    [WF_OP_AUCTION_SET] = wf_op__auction_set,
    [WF_OP_AUCTION_DEL] = wf_op__auction_del,
    [WF_OP_CREDIT_EVENT] = wf_op__credit_event,
    [WF_OP_FIRM_BLOCK] = wf_op__firm_block,
    [WF_OP_FIRM_UNBLOCK] = wf_op__firm_block,
    [WF_OP_SUB_PUT] = wf_op__sub_put,
    [WF_OP_SUB_DEL] = wf_op__sub_del,
    [WF_OP_MANIFEST_DISPATCH] = wf_op__manifest,
    [WF_OP_MANIFEST_LOAD] = wf_op__manifest,
    [WF_OP_MANIFEST_UNLOAD] = wf_op__manifest,
    [WF_OP_MANIFEST_CLOSE] = wf_op__manifest,
    [WF_OP_MANIFEST_CANCEL] = wf_op__manifest,
    [WF_OP_MANIFEST_GET] = wf_op__manifest_get,
    [WF_OP_ENGINE_KEY] = wf_op__engine_key,
    [WF_OP_JOURNAL_HEAD] = wf_op__journal_head,
    [WF_OP_STATS] = wf_op__stats,
};

static void
exec_one(wf_engine_t *e, MDB_txn *txn, const wf_cmd_t *cmd, int64_t now, wf_reply_t *r)
{
    wf_exec_t x = {.e = e, .txn = txn, .now = now, .cmd = cmd, .reply = r};
    if ((int)cmd->op <= WF_OP_NONE || cmd->op >= WF_OP__COUNT || !handlers[cmd->op]) {
        wf_exec__fail(&x, WF_E_OP, "unknown op %d", (int)cmd->op);
        return;
    }
    if (cmd->op != WF_OP_PING && cmd->op != WF_OP_TICK) {
        if (!wf_str__ok(cmd->as, sizeof cmd->as)) {
            wf_exec__fail(&x, WF_E_AUTH, "unknown firm: the identity is not a firm id");
            return;
        }
        x.as = wf_firmtab__find(&e->firms, cmd->as);
        if (!x.as) {
            wf_exec__fail(&x, WF_E_AUTH, "unknown firm \"%s\"", cmd->as);
            return;
        }
    }
    int rc = handlers[cmd->op](&x);
    if (rc != WF_OK && r->err == WF_OK)
        wf_exec__fail(&x, rc, "%s", wf_strerror(rc));
}

static void
reply_init(wf_reply_t *r, const wf_cmd_t *cmd)
{
    memset(r, 0, sizeof *r);
    r->rid = cmd->rid;
    r->op = cmd->op;
}

/* Fails every reply of the batch with err and msg, dropping any data. */
static int
fail_all(const wf_cmd_t *cmds, size_t n, wf_reply_t *replies, wf_outbox_t *out, int err,
         const char *msg)
{
    for (size_t i = 0; i < n; i++) {
        reply_init(&replies[i], &cmds[i]);
        replies[i].err = err;
        snprintf(replies[i].msg, sizeof replies[i].msg, "%s", msg);
    }
    memset(out, 0, sizeof *out);
    return err;
}

/* Drops what the batches run since the last apply() produced: the
 * replies' memory, stream and feed messages, credit events not yet in memory. */
static void
drop_output(wf_engine_t *e)
{
    wf_arena__reset(&e->arena);
    e->stream.n = e->feed.n = 0;
    wf_credit__raised_drop(e, 0);
}

/* The batch commit failed: memory holds effects that are not on disk. */
static void
recover(wf_engine_t *e)
{
    char err[256];
    drop_output(e);
    if (load_state(e, err, sizeof err) != WF_OK) {
        fprintf(stderr, "wufei: cannot rebuild state after a failed commit: %s\n", err);
        e->broken = true;
    }
    /* load_state may have replayed journal entries the state transaction
     * held (their batches were answered long ago): what they produced
     * must not go out again with this batch */
    drop_output(e);
}

/* Whether the state transaction is due for its commit: it is old or long
 * enough. A replay follows the same rule: a rebuild commits every 64
 * entries, not each one (4x faster). */
static bool
flush_due(const wf_engine_t *self)
{
    return self->stxn_batches >= WF_STATE_FLUSH_BATCHES ||
           wf_mono_ns() - self->stxn_t0 >= (int64_t)self->state_flush_ms * 1000000;
}

/* Whether the map is more than half used: the state transaction is then
 * committed with each batch, before its replies (a commit that fails for
 * want of room then holds only the batch that can still be taken back). */
static bool
map_tight(const wf_engine_t *self)
{
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info(self->store.env, &info) != 0 || mdb_env_stat(self->store.env, &st) != 0)
        return true;
    return (info.me_last_pgno + 1) * (size_t)st.ms_psize > info.me_mapsize / 2;
}

/* Whether the batch that just reached the journal commits the state too,
 * before its replies go out. A due commit is otherwise left to
 * wf_engine_idle, which the server calls once the replies are sent: the
 * clients hear of their batch a state commit sooner, and the commit runs
 * while their next requests travel. A caller that never calls it gets the
 * commit with the next batch. */
static bool
must_commit(wf_engine_t *self)
{
    if (map_tight(self))
        return true;
    if (!flush_due(self))
        return false;
    if (self->stxn_overdue)
        return true;
    self->stxn_overdue = true;
    return false;
}

/* Commits the journal's open transaction, synced: the batches it holds,
 * each already in journal.wal, are then in journal.mdb, and the log starts
 * over. */
static int
journal_commit(wf_engine_t *e)
{
    wf_store__journal_room(&e->store);
    int rc = mdb_txn_commit(e->jtxn);
    e->jtxn = e->jcur = NULL;
    if (rc != 0) {
        wf_journal__forget(&e->store);
        return rc;
    }
    wf_wal__reset(&e->store.wal);
    return 0;
}

void
wf_engine__journal_format(wf_engine_t *e, uint32_t format)
{
    e->store.jformat = format == WF_JOURNAL_FORMAT ? 0 : format;
}

int
wf_engine__flush(wf_engine_t *e)
{
    int64_t t0 = wf_mono_ns();
    if (e->jtxn) {
        int rc = journal_commit(e);
        if (rc != 0) {
            e->times.commit_ns += (uint64_t)(wf_mono_ns() - t0);
            fprintf(stderr, "wufei: the journal refused a commit (%s) of batches journal.wal "
                    "holds: restart wufeid (it replays journal.wal; give it a larger map if the "
                    "journal is full)\n", mdb_strerror(rc));
            e->broken = true;
            if (e->stxn)
                mdb_txn_abort(e->stxn);
            e->stxn = NULL;
            return wf_store__err(rc);
        }
    }
    if (!e->stxn)
        return WF_OK;
    int rc = mdb_txn_commit(e->stxn);
    e->stxn = NULL;
    e->times.commit_ns += (uint64_t)(wf_mono_ns() - t0); /* a batch's commit, done later */
    if (rc != 0) {
        fprintf(stderr, "wufei: the state store refused a commit (%s) of batches the journal "
                "holds: restart wufeid (it replays the journal; give it a larger map if the "
                "store is full)\n", mdb_strerror(rc));
        e->broken = true;
        return wf_store__err(rc);
    }
    return WF_OK;
}

int
wf_engine_idle(wf_engine_t *self)
{
    if (!self->stxn)
        return -1;
    if (!self->stxn_overdue && !flush_due(self)) {
        int64_t age_ms = (wf_mono_ns() - self->stxn_t0) / 1000000;
        return (int)(self->state_flush_ms - age_ms);
    }
    wf_engine__flush(self);
    return -1;
}

MDB_txn *
wf_engine__read_txn(wf_engine_t *e, bool *own)
{
    *own = false;
    if (e->stxn)
        return e->stxn;
    MDB_txn *txn;
    if (mdb_txn_begin(e->store.env, NULL, MDB_RDONLY, &txn) != 0)
        return NULL;
    *own = true;
    return txn;
}

/* Removes the entries after seq0 that the failed batch appended. */
static int
undo_journal(wf_engine_t *self, uint64_t seq0)
{
    MDB_txn *jt;
    int rc = wf_store__err(mdb_txn_begin(self->store.jenv, NULL, 0, &jt));
    if (rc != WF_OK)
        return rc;
    rc = wf_journal__truncate(jt, &self->store, seq0, self->journal_seq, self->sign_sk);
    if (rc != WF_OK) {
        mdb_txn_abort(jt);
        return rc;
    }
    wf_store__journal_room(&self->store);
    return wf_store__err(mdb_txn_commit(jt));
}

/* Aborts the batch's state transaction and its journal transaction. */
static void
abort_batch(wf_engine_t *self, MDB_txn *txn)
{
    if (self->jcur && self->jcur != self->jtxn)
        mdb_txn_abort(self->jcur);
    if (self->jtxn)
        mdb_txn_abort(self->jtxn);
    self->jtxn = self->jcur = NULL;
    wf_journal__forget(&self->store);
    mdb_txn_abort(txn);
}

/* Runs the batch in a new write transaction (*txn, left open). The fast
 * path (nested false) writes each command straight into it and stops at
 * the first command whose write phase fails, setting self->redo; the slow
 * path gives every command a child transaction. When the *n commands have
 * run, more (when not NULL) may append further ones at room + *n, up to
 * cap in all, in at most WF_MORE_ROUNDS rounds; *n counts them. Returns
 * WF_OK or the error of mdb_txn_begin. */
static int
run_batch(wf_engine_t *self, const wf_cmd_t *cmds, size_t *n, size_t cap, wf_cmd_t *room, wf_more_fn more,
          void *ctx, int64_t now, wf_reply_t *replies, bool nested, MDB_txn **txn)
{
    self->nested = nested;
    self->redo = false;
    self->jchild_bad = false;
    int rc = 0;
    if (self->stxn) {
        *txn = self->stxn;
        self->stxn = NULL;
    } else {
        rc = mdb_txn_begin(self->store.env, NULL, 0, txn);
        if (rc != 0)
            return wf_store__err(rc);
        self->stxn_t0 = wf_mono_ns();
        self->stxn_batches = 0;
        self->stxn_overdue = false;
    }
    if (!self->replaying && !self->jtxn) {
        rc = mdb_txn_begin(self->store.jenv, NULL, 0, &self->jtxn);
        if (rc != 0) {
            /* nothing of this batch is written yet: the state transaction,
             * with the answered batches it may hold, stays as it was */
            self->stxn = *txn;
            self->jtxn = NULL;
            return wf_store__err(rc);
        }
    }
    self->jcur = self->jtxn;
    unsigned rounds = 0;
    for (size_t i = 0; !self->redo; i++) {
        if (i == *n) {
            if (!more || rounds == WF_MORE_ROUNDS || *n >= cap)
                break;
            rounds++;
            size_t k = more(ctx, room + *n, cap - *n);
            if (k == 0)
                break;
            *n += k < cap - *n ? k : cap - *n;
        }
        reply_init(&replies[i], &cmds[i]);
        exec_one(self, *txn, &cmds[i], now, &replies[i]);
    }
    return WF_OK;
}

/* wf_engine_apply and wf_engine_apply_more: room is cmds, writable, when
 * more is not NULL. */
static int
apply(wf_engine_t *self, const wf_cmd_t *cmds, size_t *np, size_t cap, wf_cmd_t *room, wf_more_fn more,
      void *ctx, int64_t now, wf_reply_t *replies, wf_outbox_t *out)
{
    wf_arena__reset(&self->arena);
    self->stream.n = self->feed.n = 0;
    memset(out, 0, sizeof *out);
    if (self->broken)
        return fail_all(cmds, *np, replies, out, WF_E_INTERNAL,
                        "the engine lost its state after a failed commit; restart it");
    if (*np > WF_BATCH_MAX)
        return fail_all(cmds, *np, replies, out, WF_E_LIMIT, "too many commands in one batch");
    if (*np == 0)
        return WF_OK;
    MDB_txn *txn;
    uint64_t seq0 = self->journal_seq;
    uint64_t order0 = self->next_order, match0 = self->next_match;
    int64_t t0 = wf_mono_ns();
    int rc = run_batch(self, cmds, np, cap, room, more, ctx, now, replies, false, &txn);
    size_t n = *np;
    if (rc == WF_OK && self->redo && self->replaying) {
        /* A journaled command ran whole when it was accepted, so one that
         * fails halfway on replay meets a failing store (a full map): the
         * redo below would roll back the entries replayed before it, which
         * the open state transaction holds. The replay stops here. */
        abort_batch(self, txn);
        return fail_all(cmds, n, replies, out, WF_E_INTERNAL,
                        "the store failed halfway through a replayed entry");
    }
    if (rc == WF_OK && self->redo) {
        /* A command failed halfway through its writes on the fast path:
         * drop the batch, rebuild memory and run it again, each command in
         * a child transaction, so that only that command fails. The batch
         * keeps the commands it had; it asks for no more. */
        abort_batch(self, txn);
        recover(self);
        if (self->broken)
            return fail_all(cmds, n, replies, out, WF_E_INTERNAL,
                            "the engine lost its state after a failed write; restart it");
        rc = run_batch(self, cmds, &n, n, NULL, NULL, NULL, now, replies, true, &txn);
    }
    if (rc != WF_OK)
        return fail_all(cmds, n, replies, out, rc, "store: cannot begin a transaction");
    if (self->jchild_bad) {
        abort_batch(self, txn);
        recover(self);
        return fail_all(cmds, n, replies, out, WF_E_INTERNAL,
                        "journal: a command's entry could not be kept; nothing was changed");
    }
    int64_t t1 = wf_mono_ns();
    rc = WF_OK;
    if (self->journal_seq != seq0) {
        /* the numbers posts minted, once per batch rather than per post */
        if (self->next_order != order0)
            rc = wf_store__meta_put(txn, &self->store, "next_order", self->next_order);
        if (rc == WF_OK && self->next_match != match0)
            rc = wf_store__meta_put(txn, &self->store, "next_match", self->next_match);
        if (rc == WF_OK)
            rc = wf_store__meta_put(txn, &self->store, "applied", self->journal_seq);
        if (rc == WF_OK && self->jtxn)
            rc = wf_journal__sign_head(self->jtxn, &self->store, self->journal_seq,
                                       self->sign_sk);
    }
    int64_t t2 = wf_mono_ns();
    if (rc != WF_OK) {
        abort_batch(self, txn);
        recover(self);
        return fail_all(cmds, n, replies, out, rc, "cannot sign the journal head; nothing was changed");
    }
    /* The batch's commit point, before any reply: its record in
     * journal.wal, synced, while the journal's and the state's transactions
     * stay open for the batches after it (wf_engine__flush commits both, the
     * journal first); or, when the state is to be committed now or the log
     * has no room, journal.mdb's transaction committed, synced. The state
     * follows unsynced (store_int.h); a kill before it leaves the batch in
     * the journal only, and the next start replays it. */
    self->stxn_batches++;
    bool commit_now = must_commit(self);
    if (self->jtxn) {
        rc = WF_E_LIMIT;
        if (!commit_now && self->journal_seq == seq0)
            rc = WF_OK; /* nothing journaled: nothing to make durable */
        else if (!commit_now)
            rc = wf_wal__append(&self->store.wal, self->jtxn, &self->store, seq0 + 1,
                                self->journal_seq, self->overlap.fn ? &self->overlap : NULL);
        if (rc != WF_OK && rc != WF_E_LIMIT) {
            fprintf(stderr, "wufei: journal.wal: a batch's record could not be written and "
                    "synced: restart wufeid (it replays what reached the disk)\n");
            abort_batch(self, txn);
            self->broken = true;
            return fail_all(cmds, n, replies, out, WF_E_INTERNAL,
                            "journal write failed; restart the engine: the outcome of this "
                            "batch is in its journal if the write reached the disk");
        }
        if (rc == WF_E_LIMIT) {
            rc = journal_commit(self);
            if (rc != 0) {
                int err = wf_store__err(rc);
                mdb_txn_abort(txn);
                recover(self);
                return fail_all(cmds, n, replies, out, err,
                                err == WF_E_FULL ? "the journal is full; nothing was changed"
                                                 : "journal commit failed; nothing was changed");
            }
        }
    }
    if (self->crash_after_journal && !self->replaying &&
        self->journal_seq >= self->crash_after_journal)
        raise(SIGKILL); /* tests: a kill between the two commits */
    if (!commit_now) {
        self->stxn = txn; /* the batch is durable in the journal; the state follows */
    } else {
        rc = mdb_txn_commit(txn);
        if (rc != 0) {
            /* The state file refused the commit (a full map, mostly: LMDB
             * needs pages to commit too). This batch has not been
             * acknowledged, so it is taken back out of the journal and
             * fails whole; batches before it that the transaction held
             * are in the journal, and the rebuild below replays them. */
            int err = wf_store__err(rc);
            if (self->journal_seq != seq0 && !self->replaying &&
                undo_journal(self, seq0) != WF_OK) {
                fprintf(stderr, "wufei: the state store refused a commit (%s) and the journal "
                        "could not take the batch back: restart wufeid (it replays the "
                        "journal; give it a larger map if the store is full)\n",
                        mdb_strerror(rc));
                self->broken = true;
                return fail_all(cmds, n, replies, out, WF_E_INTERNAL,
                                "store commit failed; restart the engine: the outcome of this "
                                "batch is in its journal");
            }
            recover(self);
            return fail_all(cmds, n, replies, out, err,
                            err == WF_E_FULL ? "the store is full; nothing was changed"
                                             : "store commit failed; nothing was changed");
        }
    }
    int64_t t3 = wf_mono_ns();
    self->times.batches++;
    self->times.exec_ns += (uint64_t)(t1 - t0);
    self->times.sign_ns += (uint64_t)(t2 - t1);
    self->times.commit_ns += (uint64_t)(t3 - t2);
    if (self->stream.n)
        wf_trim__arm(self, now);
    out->stream = self->stream.items;
    out->nstream = self->stream.n;
    out->feed = self->feed.items;
    out->nfeed = self->feed.n;
    return WF_OK;
}

int
wf_engine_apply(wf_engine_t *self, const wf_cmd_t *cmds, size_t n, int64_t now,
                wf_reply_t *replies, wf_outbox_t *out)
{
    return apply(self, cmds, &n, n, NULL, NULL, NULL, now, replies, out);
}

int
wf_engine_apply_more(wf_engine_t *self, wf_cmd_t *cmds, size_t *n, size_t cap, wf_more_fn more, void *ctx,
                     int64_t now, wf_reply_t *replies, wf_outbox_t *out)
{
    if (cap > WF_BATCH_MAX)
        cap = WF_BATCH_MAX;
    if (cap < *n)
        cap = *n;
    return apply(self, cmds, n, cap, cmds, more, ctx, now, replies, out);
}

/* ---- accessors ---- */

const wf_firm_rec_t *
wf_engine_firm(wf_engine_t *self, const char *id)
{
    return id ? wf_firmtab__find(&self->firms, id) : NULL;
}

const wf_firm_rec_t *
wf_engine_firm_by_key(wf_engine_t *self, const char *key)
{
    return key ? wf_firmtab__by_key(&self->firms, key) : NULL;
}

const wf_catalogue_t *
wf_engine_catalogue(const wf_engine_t *self)
{
    return self->cat;
}

const wf_book_t *
wf_engine_book(const wf_engine_t *self)
{
    return self->book;
}

const wf_config_t *
wf_engine_config(const wf_engine_t *self)
{
    return &self->config;
}

/* journal.head (operator): the chain's head as this batch sees it, signed. */
int
wf_op__journal_head(wf_exec_t *x)
{
    if (!(x->as->roles & WF_ROLE_OPERATOR))
        return wf_exec__fail(x, WF_E_AUTH, "journal.head is for operators only");
    uint8_t *hash = wf_arena__alloc(&x->e->arena, 32), *sig = wf_arena__alloc(&x->e->arena, 64);
    int rc = x->e->jcur ? wf_journal__hash(x->e->jcur, &x->e->store, x->e->journal_seq, hash)
                        : WF_E_INTERNAL;
    if (rc != WF_OK)
        return wf_exec__fail(x, WF_E_INTERNAL, "cannot read the journal head");
    uint8_t msg[40];
    wf_journal__head_msg(x->e->journal_seq, hash, msg);
    crypto_sign_detached(sig, NULL, msg, sizeof msg, x->e->sign_sk);
    x->reply->seq = x->e->journal_seq;
    x->reply->hash = hash;
    x->reply->sig = sig;
    return WF_OK;
}

int
wf_engine_journal_head(wf_engine_t *self, uint64_t *seq, uint8_t hash[32], uint8_t sig[64])
{
    MDB_txn *txn = self->jtxn; /* open: it holds the batches journal.wal made durable */
    if (!txn) {
        int mrc = mdb_txn_begin(self->store.jenv, NULL, MDB_RDONLY, &txn);
        if (mrc != 0)
            return wf_store__err(mrc);
    }
    uint64_t last = 0;
    int rc = wf_journal__last(txn, &self->store, &last);
    if (rc == WF_OK)
        rc = wf_journal__hash(txn, &self->store, last, hash);
    if (txn != self->jtxn)
        mdb_txn_abort(txn);
    if (rc != WF_OK)
        return rc;
    uint8_t msg[40];
    wf_journal__head_msg(last, hash, msg);
    crypto_sign_detached(sig, NULL, msg, sizeof msg, self->sign_sk);
    *seq = last;
    return WF_OK;
}

void
wf_engine_times(const wf_engine_t *self, wf_engine_times_t *out)
{
    *out = self->times;
}

void
wf_engine_recovery(const wf_engine_t *self, uint64_t *replayed, bool *rebuilt)
{
    *replayed = self->replayed;
    *rebuilt = self->store.rebuilt;
}

uint64_t
wf_engine_journal_seq(wf_engine_t *self)
{
    return self->journal_seq;
}
