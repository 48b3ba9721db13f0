/* The engine's private parts, shared by its source files: the engine
 * struct, the firm table (firm records and matcher parties by firm
 * number, with hash indexes by id and by key), the per-batch arena that
 * holds what replies point to, and the op handlers that engine.c
 * dispatches to. Only engine/ includes this. */
#ifndef WF_ENGINE_INT_H
#define WF_ENGINE_INT_H

#include <stdarg.h>

#include "../credit/licence.h"
#include "engine.h"
#include "store_int.h"
#include "../matcher/optimise.h"

#define WF_AUCTION_MAX 64 /* call auctions at once */

/* A bump allocator for reply data; everything is freed at once when the
 * next batch starts. Blocks never move, so pointers stay valid. */
typedef struct wf_arena_block wf_arena_block_t;
typedef struct wf_arena {
    wf_arena_block_t *head;
} wf_arena_t;

/* Caller owns nothing: the memory lives until wf_arena__reset(). Zeroed. */
void *wf_arena__alloc(wf_arena_t *a, size_t n);
void wf_arena__reset(wf_arena_t *a);

/* Firms by number. recs[i].id[0] == 0 marks an unused number. */
typedef struct wf_firmtab {
    wf_firm_rec_t *recs;
    wf_party_t *parties;
    uint32_t cap;     /* entries of recs and parties */
    uint32_t count;   /* firms present */
    uint32_t *by_id;  /* open addressing: number + 1, 0 = empty */
    uint32_t *by_key;
    uint32_t slots;   /* power of two, >= 2 * count */
    int64_t *points;  /* by number: the sum of the firm's active credit events */
    /* Traders: firms that may have orders in the book, counted by live
     * credit score; the highest counted score bounds the credit of every
     * resting order's party (the matcher's search bound). A firm becomes a
     * trader when it is put with the producer or consumer role, or when a
     * start finds an order of it resting, and stays one: its orders outlive
     * a change of its roles. The operator and carriers are not counted. */
    bool *trader;
    uint32_t traders_by_credit[101];
} wf_firmtab_t;

void wf_firmtab__init(wf_firmtab_t *t);
void wf_firmtab__fini(wf_firmtab_t *t);
/* Inserts or replaces the firm with rec->number; its party's credit is the
 * live score, base credit plus points[number], clamped to 0..100. */
void wf_firmtab__put(wf_firmtab_t *t, const wf_firm_rec_t *rec);
/* The firm with this id (NUL-terminated), or NULL. */
wf_firm_rec_t *wf_firmtab__find(const wf_firmtab_t *t, const char *id);
wf_firm_rec_t *wf_firmtab__by_key(const wf_firmtab_t *t, const char *key);
/* Sets the firm's active credit points and recomputes its party's credit. */
void wf_firmtab__set_points(wf_firmtab_t *t, uint32_t number, int64_t points);
/* Counts the firm as a trader (an order of it rests in the book). */
void wf_firmtab__trader(wf_firmtab_t *t, uint32_t number);
/* The highest live credit score of any trader (0 with none). */
int32_t wf_firmtab__credit_max(const wf_firmtab_t *t);

/* Growable arrays for the outbox. */
typedef struct wf_vec {
    void *items;
    size_t n, cap, size;
} wf_vec_t;
void *wf_vec__push(wf_vec_t *v);
void wf_vec__free(wf_vec_t *v);

/* Timer kinds; each domain fires its own (timers.c). */
typedef enum wf_timer_kind {
    WF_TIMER_ORDER_EXPIRY = 1, /* ref = order id */
    WF_TIMER_PUSH = 2,         /* push delays (subscriptions) */
    WF_TIMER_MANIFEST_AGE = 3, /* an OPEN manifest grown too old */
    WF_TIMER_CREDIT = 4,       /* a credit event's expiry changes a score; ref = event id,
                                  aux = firm number */
    WF_TIMER_AUCTION = 5,      /* a call auction's period: ref = auction serial */
    WF_TIMER_STREAM_TRIM = 6,  /* stream retention: drop messages older than stream_keep_days */
    WF_TIMER__COUNT
} wf_timer_kind_t;

typedef struct wf_timer {
    int64_t due;   /* unix ms */
    uint8_t kind;  /* wf_timer_kind_t */
    uint64_t ref;  /* the object, by number */
    uint64_t aux;  /* kind-specific */
} wf_timer_t;

/* A binary min-heap of timers ordered by (due, kind, ref, aux). */
typedef struct wf_timers {
    wf_timer_t *items;
    size_t n, cap;
} wf_timers_t;

void wf_timers__add(wf_timers_t *h, const wf_timer_t *t);
/* The earliest timer, or NULL; valid until the heap changes. */
const wf_timer_t *wf_timers__top(const wf_timers_t *h);
void wf_timers__pop(wf_timers_t *h);
void wf_timers__clear(wf_timers_t *h);
void wf_timers__fini(wf_timers_t *h);

/* Licences and lanes in memory (licence.c). Licences are sorted by (firm
 * number, valid_until, id): a firm's are one run, in the order fills draw
 * on them. Lanes are sorted by (consumer, producer, code). */
typedef struct wf_lic {
    wf_licence_rec_t rec;   /* as stored */
    wf_licence_t l;         /* the same, with firm number and catalogue ids */
} wf_lic_t;

typedef struct wf_lictab {
    wf_lic_t *items;
    int64_t *plan;          /* per item: drawn by the post being planned; 0 between posts */
    size_t n, cap;
    wf_lane_t *lanes;
    size_t nlanes, lanecap;
    uint64_t next_id;       /* next licence number */
} wf_lictab_t;

/* How long the state's write transaction may stay open across batches
 * (engine.c flush_due). */
#define WF_STATE_FLUSH_MS 20
#define WF_STATE_FLUSH_BATCHES 64

struct wf_engine {
    wf_store_t store;
    wf_catalogue_t *cat;
    wf_book_t *book;
    wf_firmtab_t firms;
    wf_config_t config;
    wf_rules_t rules;
    uint64_t next_order, next_match, next_firm;
    uint64_t journal_seq;
    bool broken;          /* in-memory state could not be rebuilt */
    /* The journal's write transaction (in store.jenv), left open across
     * batches like the state's: each batch is made durable by its record in
     * journal.wal (wal.c), and the transaction is committed, synced, just
     * before the state's. jcur is the one the command being run journals
     * into: jtxn, or on the slow path a child of it. NULL while replaying. */
    MDB_txn *jtxn, *jcur;
    /* The state's write transaction, left open across batches: the journal
     * is the commit point, so the state is committed (unsynced) at most
     * every WF_STATE_FLUSH_MS or WF_STATE_FLUSH_BATCHES batches, and pages
     * that consecutive batches dirty are written once (engine.c). */
    MDB_txn *stxn;
    int64_t stxn_t0;      /* wf_mono_ns() when it began */
    uint32_t stxn_batches;
    bool stxn_overdue;    /* due since the last batch: wf_engine_idle commits it after
                           * that batch's replies are out, or the next batch does */
    uint32_t state_flush_ms; /* WF_STATE_FLUSH_MS; tests may hold it open longer */
    bool jchild_bad;      /* a command's journal child failed to commit after its state
                           * child did: the batch cannot be committed */
    /* While the journal's tail is replayed into the state: whether the
     * entry being replayed is still to be journaled (a command marks it
     * instead of appending: it is on disk already), and how many were
     * replayed. */
    bool replay_entry;
    uint64_t replayed;
    bool replaying;
    wf_wal_overlap_t overlap;     /* wf_engine_overlap_sync: a record's sync runs on
                                   * overlap.syncer while overlap.fn runs here */
    uint64_t crash_after_journal; /* tests only (WUFEI_TEST_KILL_AFTER_JOURNAL): once the
                                   * journal reaches this seq, SIGKILL between a batch's
                                   * journal commit and its state commit */
    wf_arena_t arena;
    wf_vec_t stream;      /* wf_stream_msg_t, this batch */
    wf_vec_t feed;        /* wf_feed_msg_t, this batch */
    struct wf_post_plan *plan; /* post.c's scratch, allocated once */
    wf_timers_t timers;
    /* Fast path (see wf_engine_apply): commands write straight into the
     * batch transaction; a write phase that fails sets redo, and the batch
     * is then rolled back and run again with a child transaction each. */
    bool nested;          /* the slow path: one child transaction per command */
    bool redo;
    uint64_t fail_journal_rid; /* tests only: the journal write of commands with this
                                * rid (when not 0) fails, as a full disk would */
    wf_lictab_t lic;
    /* Call auctions (auction.c): the records by serial, and per catalogue
     * id the number (index + 1) of the auction whose pattern covers the
     * code, 0 for continuous matching; the matcher reads it as
     * wf_match_env_t.batch_codes. */
    wf_auction_rec_t auctions[WF_AUCTION_MAX];
    size_t nauctions;
    uint8_t *batch_codes;
    uint64_t next_auction;
    /* credit.c: each firm's active credit events, by firm number */
    struct wf_credit_list *credit;
    wf_vec_t credit_raised; /* wf_credit_rec_t the engine raised in this transaction,
                             * applied to memory after the commit (wf_credit__raise) */
    uint32_t credit_cap;
    uint64_t next_credit;
    /* subs.c and push.c: the subscription index and the push scratch */
    struct wf_subs *subs;
    struct wf_push_scratch *push;
    uint64_t next_sub, next_push;
    /* retention.c: where the next trim pass starts, whether a pass is
     * scheduled (of generation trim_gen), and what the firing pass decided */
    uint32_t trim_firm, trim_gen, trim_visited; /* a pass may span several ticks */
    int64_t trim_first;         /* the oldest message the pass has left so far */
    bool trim_armed;
    uint32_t trim_next_firm, trim_next_visited;
    int64_t trim_next_first;
    int64_t trim_next_due;      /* INT64_MAX: no further pass */
    /* stream.c: the seqs the command being written has handed out, by firm
     * number (valid where seq_stamp[n] == seq_cur), and its notices */
    uint64_t *seq_pending;
    uint32_t *seq_stamp;
    uint32_t seq_cap, seq_cur;
    uint32_t *seq_touched;      /* firm numbers with a pending seq */
    size_t seq_ntouched, seq_tcap;
    uint32_t notices;
    uint8_t sign_pk[32];  /* Ed25519: manifest tokens and the journal head */
    uint8_t sign_sk[64];
    struct wf_mstats *mstats;  /* stats.c: market statistics */
    wf_engine_times_t times;   /* where committed batches spent their time */
};

/* One firm's active credit events (credit.c). */
typedef struct wf_credit_list {
    wf_credit_rec_t *ev;
    uint32_t n, cap;
} wf_credit_list_t;

/* One command being applied: the batch transaction and time. */
typedef struct wf_exec {
    wf_engine_t *e;
    MDB_txn *txn;         /* the batch (parent) transaction */
    int64_t now;
    const wf_cmd_t *cmd;
    wf_reply_t *reply;
    const wf_firm_rec_t *as; /* the acting firm, NULL for ping */
} wf_exec_t;

/* Sets reply err and msg (printf format); returns err. */
int wf_exec__fail(wf_exec_t *x, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* True when s has a NUL within len bytes. */
bool wf_str__ok(const char *s, size_t len);
/* Starts a command's write phase: a child transaction of the batch; fails
 * the reply on error. On the fast path *child is the batch transaction
 * itself (no nesting), so validate everything before begin: a failure
 * between begin and end makes the engine roll the whole batch back, reload
 * its memory from disk and run the batch again on the slow path. */
int wf_exec__begin(wf_exec_t *x, MDB_txn **child);
/* Commits the child (or aborts it when rc != WF_OK); fails the reply on
 * error. Returns WF_OK only when the child's writes are in the batch. On
 * the fast path rc != WF_OK marks the batch for the slow path. */
int wf_exec__end(wf_exec_t *x, MDB_txn *child, int rc);
/* Commits the state transaction left open across batches, if any.
 * Returns WF_OK, or the error of a failed commit (the engine is then
 * broken: acknowledged batches are in the journal, and a restart replays
 * them). */
int wf_engine__flush(wf_engine_t *e);
/* The format the engine's next journal entries take (0: WF_JOURNAL_FORMAT):
 * the replay check writes each replayed entry in the format it had. */
void wf_engine__journal_format(wf_engine_t *e, uint32_t format);
/* A transaction to read the state as the engine sees it: the open state
 * transaction (*own false), else a new read-only one (*own true: the
 * caller aborts it). NULL on failure. */
MDB_txn *wf_engine__read_txn(wf_engine_t *e, bool *own);

/* Journals the command in the child; the caller bumps journal_seq after. */
int wf_exec__journal(wf_exec_t *x, MDB_txn *child);

/* Firm record writes (firms, firm_keys) shared by firm.put and matching. */
int wf_store__put_firm(MDB_txn *txn, const wf_store_t *s, const wf_firm_rec_t *f);

/* ---- private streams (stream.c) ---- */

/* A command's write phase starts (wf_exec__begin): a new seq overlay, no
 * notices yet. */
void wf_stream__begin(wf_engine_t *e);
/* Its write phase ended well (wf_exec__end): the seqs it handed out
 * become the firms' seqs in the firm table. */
void wf_stream__commit(wf_engine_t *e);
/* At start (after the firm table): raises each firm's seq from its
 * stored floor to its stream's last key. */
int wf_stream__load(wf_engine_t *e, MDB_txn *txn);
void wf_stream__fini(wf_engine_t *e);
/* Appends msg (type and payload set by the caller; not notify) to firm's
 * private stream inside t, between wf_exec__begin and wf_exec__end: takes
 * the firm's next seq (consecutive within the command), stamps firm, seq
 * and ts, stores the compact form and leaves in *msg exactly what a replay
 * rebuilds from it. */
int wf_stream__put(wf_exec_t *x, MDB_txn *t, const char *firm, wf_stream_msg_t *msg);

/* One order snapshot shared by the notify messages of one resting-order
 * event (a post's rest, a push record's slice). */
typedef struct wf_notice {
    uint64_t seq;            /* the journal seq of the command writing it */
    uint32_t index;          /* its number within that command */
    uint32_t refs;           /* messages stored that point at it */
    wf_order_rec_t order;
} wf_notice_t;
/* Starts a notice of order for the command being written. */
void wf_stream__notice_begin(wf_exec_t *x, wf_notice_t *n, const wf_order_rec_t *order);
/* Stores a notify message for firm number about n's order in t (km from
 * subscription sub); *msg is the message as sent. */
int wf_stream__put_notify(wf_exec_t *x, MDB_txn *t, uint32_t firm, wf_notice_t *n, double km,
                          uint64_t sub, wf_stream_msg_t *msg);
/* Stores the notice itself when a message points at it. */
int wf_stream__notice_end(wf_exec_t *x, MDB_txn *t, const wf_notice_t *n);
/* The message stored under key k with value v, rebuilt (a notify reads
 * its notice in t). WF_E_INTERNAL when the record is malformed. */
int wf_stream__decode(MDB_txn *t, const wf_store_t *s, const MDB_val *k, const MDB_val *v,
                      wf_stream_msg_t *out);
/* The time of the stored message v. */
int wf_stream__ts(const MDB_val *v, int64_t *ts);
/* The stored message v is being deleted: a notify lets go of its notice
 * (deleted with its last message). */
int wf_stream__unref(MDB_txn *t, const wf_store_t *s, const MDB_val *v);
/* After the commit: queues msg in the outbox. */
void wf_stream__publish(wf_engine_t *e, const wf_stream_msg_t *msg);

/* Licences and lanes (licence.c). */
void wf_lictab__fini(wf_lictab_t *t);
/* Loads licences, lanes and next_licence; the firm table must be loaded. */
int wf_licence__load(wf_engine_t *e, MDB_txn *txn, char *err, size_t errlen);
/* E_LICENCE (with the reply's message) unless firm `as` may receive every
 * hazardous code demand o's patterns cover, by a valid licence or a lane. */
int wf_licence__check_demand(wf_exec_t *x, const wf_order_t *o);
/* The matcher's env.allowance and env.use (ctx = the engine): lanes give
 * INT64_MAX; otherwise the sum over the consumer's valid licences covering
 * the code of the capacity left this year less what the plan drew. */
int64_t wf_licence__allowance(void *ctx, uint32_t consumer, uint32_t producer, int32_t code,
                              int64_t now);
void wf_licence__use(void *ctx, uint32_t consumer, uint32_t producer, int32_t code, int64_t qty,
                     int64_t now);
/* firm.get: the firm's licences into the reply, usage as of x->now. */
void wf_licence__reply_firm(wf_exec_t *x, const wf_firm_rec_t *f);
/* Forgets what the current plan drew. */
void wf_licence__plan_clear(wf_engine_t *e);
/* Writes every licence the plan drew on, with its new usage, in t. */
int wf_licence__plan_write(wf_exec_t *x, MDB_txn *t);
/* After the commit: the plan's usage into memory; clears the plan. */
void wf_licence__plan_apply(wf_engine_t *e, int64_t now);
/* ---- making matches: shared by continuous fills (post.c), call-auction
 * clearings and optimize's apply (auction.c) ---- */

/* The matcher's view of the engine at now: the firm parties, the rules,
 * the licence allowance and the codes that clear in call auctions. */
wf_match_env_t wf_engine__env(wf_engine_t *e, int64_t now);
/* Fills match m (id = its manifest's id) for fill f of offer against
 * demand, the producer and consumer firms, at now. */
void wf_match__make(wf_match_rec_t *m, uint64_t id, const wf_order_rec_t *offer,
                    const wf_order_rec_t *demand, const wf_firm_rec_t *prod,
                    const wf_firm_rec_t *cons, const wf_fill_t *f, int64_t now,
                    uint8_t taker_side);
/* Writes the match and its OPEN manifest. */
int wf_match__write(wf_exec_t *x, MDB_txn *t, const wf_match_rec_t *m);
/* The stream message (type, ts, payload) telling the firm on side of m
 * about it; firm and seq are left for the caller (or wf_stream__put). */
void wf_match__msg(wf_stream_msg_t *s, const wf_match_rec_t *m, uint8_t side,
                   const wf_firm_rec_t *counterparty);
/* Queues m's public feed message and starts the age timer of the
 * manifest m opened (after the commit). */
void wf_match__feed(wf_engine_t *e, const wf_match_rec_t *m);
/* Takes qty off resting order o (in the book) in t; *y is its record
 * afterwards. WF_E_INTERNAL (reply failed) when the store disagrees. */
int wf_order__take(wf_exec_t *x, MDB_txn *t, const wf_order_t *o, int64_t qty, wf_order_rec_t *y);

/* ---- call auctions and the optimiser (auction.c, optimize.c) ---- */

/* Loads the auctions and arms their timers (load_state). */
int wf_auction__load(wf_engine_t *e, MDB_txn *txn);
void wf_auction__free(wf_engine_t *e);
/* A timer of kind WF_TIMER_AUCTION fires inside a tick: clears the
 * auction's book in t, appending stream messages to msgs; *next_match is
 * the next match number (advanced); *data keeps what the memory step
 * needs (arena). *acted is set when the tick must be journaled. */
int wf_auction__fire(wf_exec_t *x, MDB_txn *t, const wf_timer_t *tm, wf_vec_t *msgs,
                     uint64_t *next_match, void **data, bool *acted);
/* After the tick committed: the clearing's memory step. */
void wf_auction__fired(wf_exec_t *x, const wf_timer_t *tm, void *data);

/* A plan of the optimiser over engine orders, and its writing. */
typedef struct wf_eplan {
    wf_order_t *offers, *demands;  /* the book's orders, copied (wf_malloc) */
    size_t noffers, ndemands;
    wf_opt_plan_t plan;
    wf_match_rec_t *matches;       /* after writing: one per pair written (arena) */
    uint64_t *match_ids;           /* after writing: per pair, its match, 0 when the
                                      licences left could not carry it (arena) */
    size_t nmatches;
    wf_stream_msg_t *msgs;         /* two per match (arena), seqs set */
    size_t nmsgs;
} wf_eplan_t;
#define WF_OPT_MAX_ORDERS 1000 /* orders per side one solve takes, oldest first */
#define WF_OPT_IT_LIM 100000   /* simplex iterations per LP solve (deterministic) */
#define WF_OPT_TM_LIM_MS 5000  /* time per LP solve, read-only optimize only */
/* Copies into p the live resting orders at now that the patterns codes
 * (catalogue codes; ncodes 0 = every order) concern: offers whose code one
 * covers, demands with a pattern overlapping one; at most
 * WF_OPT_MAX_ORDERS per side in id order, *left_out counting the rest.
 * With t, each order's remaining is read from its record in t (a tick may
 * have filled it already). */
int wf_eplan__gather(wf_engine_t *e, MDB_txn *t, const char *const *codes, size_t ncodes,
                     int64_t now, wf_eplan_t *p, size_t *left_out);
/* Writes every pair of p as a match with its manifest and both firms'
 * stream messages (wf_stream__put), taking the quantities off both orders,
 * match numbers from *next_match on (advanced; meta next_match written),
 * drawing hazardous pairs on the licences (a pair the capacity left cannot
 * carry is cut or skipped) and writing the licence tally, which the
 * caller cleared before (a tick once, for all its clearings). */
int wf_eplan__write(wf_exec_t *x, MDB_txn *t, wf_eplan_t *p, uint64_t *next_match);
/* After the commit: fills the book, applies the licence tally, queues the
 * feed and advances next_match; the caller publishes p->msgs (a tick does
 * it for its own). */
void wf_eplan__apply(wf_engine_t *e, const wf_eplan_t *p, int64_t now);
void wf_eplan__fini(wf_eplan_t *p);

/* Market statistics (stats.c). __load rebuilds them from the store at
 * start; __match counts one match after its child has committed (every
 * path that makes a match calls it, with the two orders' records as they
 * stand after the fill, either may be NULL). */
int wf_stats__load(wf_engine_t *e, MDB_txn *txn, char *err, size_t errlen);
void wf_stats__match(wf_engine_t *e, const wf_match_rec_t *m, const wf_order_rec_t *offer,
                     const wf_order_rec_t *demand);
void wf_stats__free(wf_engine_t *e);
int wf_op__stats(wf_exec_t *x);

/* config.get with history: the newest journaled config.set entries into
 * the reply (config_history.c), reading back at most
 * WF_CONFIG_HISTORY_SCAN journal entries. */
int wf_config__history(wf_exec_t *x);

/* Frees post.c's scratch. */
void wf_post__free(wf_engine_t *e);

/* ---- the tick's kinds (timers.c runs them; each domain implements its own) ---- */

/* What one fired timer did, for the memory step after commit. */
typedef struct wf_fire {
    wf_timer_t t;
    bool acted;
    bool again;             /* more work left: the timer fires again at the next tick */
    size_t msg0, nmsg;      /* its messages in the tick's pending list */
    void *data;             /* kind-specific, for the memory step (arena) */
} wf_fire_t;

typedef struct wf_tick wf_tick_t;
/* A new zeroed stream message for fired timer f, kept by the tick until
 * it is published after the commit; fill it and store it with
 * wf_stream__put. Valid until the next wf_tick__msg call. */
wf_stream_msg_t *wf_tick__msg(wf_tick_t *k, wf_fire_t *f);
/* Gives back the last message wf_tick__msg handed out for f. */
void wf_tick__drop(wf_tick_t *k, wf_fire_t *f);
/* The stream messages the tick may still write: a kind that may write many
 * (push slices) takes from it and leaves the rest for the next tick. */
size_t *wf_tick__budget(wf_tick_t *k);
#define WF_TICK_MSG_MAX 8192

int wf_credit__expire_write(wf_exec_t *x, MDB_txn *t, wf_tick_t *k, wf_fire_t *f);
void wf_credit__expire_apply(wf_exec_t *x, const wf_fire_t *f);
int wf_push__fire_write(wf_exec_t *x, MDB_txn *t, wf_tick_t *k, wf_fire_t *f);
void wf_push__fire_apply(wf_exec_t *x, const wf_fire_t *f);
int wf_trim__write(wf_exec_t *x, MDB_txn *t, wf_tick_t *k, wf_fire_t *f);
void wf_trim__apply(wf_exec_t *x, const wf_fire_t *f);

/* ---- credit (credit.c) ---- */

/* The tier letter of score under the engine's tier bounds. */
char wf_credit__tier(const wf_engine_t *e, int32_t score);
/* Rebuilds the active credit events and the firms' points from the store
 * and sets their expiry timers. */
int wf_credit__load(wf_engine_t *e, MDB_txn *txn, char *err, size_t errlen);
void wf_credit__fini(wf_engine_t *e);
/* When a firm's score or tier differs from before, stores a `credit`
 * message for it in t (into *msg; *made says whether there is one). */
int wf_credit__note(wf_exec_t *x, MDB_txn *t, const char *firm, int32_t old_score,
                    char old_tier, int32_t score, char tier, wf_stream_msg_t *msg, bool *made);
/* config.set: a `credit` message in t for every firm whose tier changes
 * from bounds old to new (O(firms)); msgs receives them. */
int wf_credit__retier(wf_exec_t *x, MDB_txn *t, const wf_config_t *old, const wf_config_t *new_,
                      wf_vec_t *msgs);
/* Sets the reply's score and tier (and for firm.get its active events). */
void wf_credit__reply(wf_exec_t *x, const wf_firm_rec_t *f, bool with_events);
/* A credit event the engine raises itself (manifest.c: a quantity
 * discrepancy, a manifest cancel, an expired manifest) against firm, of
 * kind with points (0: none), written in t: the record, meta "next_credit"
 * and, when score or tier change, a `credit` message in *msg (*made). Its
 * number and the score before it count what this transaction already
 * raised, so several chain correctly. Memory follows after the commit with
 * wf_credit__raised_apply(); a failed write takes back its own with
 * wf_credit__raised_drop(e, the count before it). */
int wf_credit__raise(wf_exec_t *x, MDB_txn *t, const char *firm, int kind, int32_t points,
                     const char *note, wf_stream_msg_t *msg, bool *made);
void wf_credit__raised_apply(wf_engine_t *e);
void wf_credit__raised_drop(wf_engine_t *e, size_t keep);

/* ---- subscriptions and push (subs.c, push.c) ---- */

typedef struct wf_sub wf_sub_t;
int wf_subs__load(wf_engine_t *e, MDB_txn *txn, char *err, size_t errlen);
void wf_subs__fini(wf_engine_t *e);
/* The subscription with id, or NULL. */
const wf_sub_rec_t *wf_subs__get(const wf_engine_t *e, uint64_t id);
/* A subscription as the index lists it: what the fit rules read. */
typedef struct wf_sub_entry {
    double lat, lon, radius_km;
    int64_t min_qty;
    uint64_t id;
    int32_t min_credit;
    uint32_t firm;       /* the subscriber's firm number */
    uint8_t side;
} wf_sub_entry_t;

/* Calls fn for each subscription whose codes overlap resting order o's,
 * on o's side (a subscription with two overlapping codes may come twice);
 * the other fit rules are the caller's. Returns the number of listings
 * visited. */
size_t wf_subs__candidates(wf_engine_t *e, const wf_order_t *o,
                           void (*fn)(void *arg, const wf_sub_entry_t *s), void *arg);

/* The subscriptions that fit order o (resting, record r) at now, with the
 * fit rules of DESIGN.md "Credit-weighted push", planned by tier and score
 * into the push scratch; returns how many notifications were planned. */
size_t wf_push__plan(wf_engine_t *e, const wf_order_t *o, int64_t now);
/* How many subscriptions (one per firm) the last plan found fitting,
 * tier D included. */
size_t wf_push__fitting(const wf_engine_t *e);
/* A post's remainder comes to rest: plans its notifications and, in t,
 * stores those due now as `notify` messages and the later ones as pending
 * push records. Call wf_push__commit after the child commits. */
int wf_push__on_rest(wf_exec_t *x, MDB_txn *t, const wf_order_t *o, const wf_order_rec_t *r);
/* After the commit: publishes the notifications and arms the push timers. */
void wf_push__commit(wf_exec_t *x);
/* Drops what wf_push__on_rest planned when the child failed. */
void wf_push__abort(wf_engine_t *e);
int wf_push__load(wf_engine_t *e, MDB_txn *txn);
void wf_push__fini(wf_engine_t *e);

/* ---- stream retention (retention.c) ---- */

/* A stream message was stored at ts: makes sure a trim pass is scheduled. */
void wf_trim__arm(wf_engine_t *e, int64_t ts);
/* stream_keep_days changed: schedules a pass at now under the new setting. */
void wf_trim__rearm(wf_engine_t *e, int64_t now);
/* At start: schedules the first pass from the oldest stored message. */
int wf_trim__load(wf_engine_t *e, MDB_txn *txn);

/* Op handlers: return the reply's err. */
int wf_op__post(wf_exec_t *x);
int wf_op__cancel(wf_exec_t *x);
int wf_op__order_get(wf_exec_t *x);
int wf_op__orders_mine(wf_exec_t *x);
int wf_op__hello(wf_exec_t *x);
int wf_op__firm_put(wf_exec_t *x);
int wf_op__firm_get(wf_exec_t *x);
int wf_op__config_get(wf_exec_t *x);
int wf_op__config_set(wf_exec_t *x);
int wf_op__tick(wf_exec_t *x);
int wf_op__licence_put(wf_exec_t *x);
int wf_op__lane_put(wf_exec_t *x);
int wf_op__lane_del(wf_exec_t *x);
int wf_op__optimize(wf_exec_t *x);
int wf_op__auction_set(wf_exec_t *x);
int wf_op__auction_del(wf_exec_t *x);
int wf_op__credit_event(wf_exec_t *x);
int wf_op__firm_block(wf_exec_t *x);
int wf_op__sub_put(wf_exec_t *x);
int wf_op__sub_del(wf_exec_t *x);
int wf_op__manifest(wf_exec_t *x);      /* dispatch, load, unload, close, cancel */
int wf_op__manifest_get(wf_exec_t *x);
int wf_op__engine_key(wf_exec_t *x);
int wf_op__journal_head(wf_exec_t *x);

/* Loads sign.key/sign.pub from dir, making them on first start; refuses a
 * sign.key that others may read (signkey.c). */
int wf_signkey__load(const char *dir, uint8_t pk[32], uint8_t sk[64], char *err, size_t errlen);

/* The signed token of m's current state (manifest.c). */
void wf_manifest__token(const wf_engine_t *e, const wf_manifest_rec_t *m, char out[WF_TOKEN_MAX]);
/* True when weighed differs from shipped by more than pct percent of shipped. */
bool wf_manifest__discrepancy(int64_t shipped, int64_t weighed, double pct);
/* The manifest-age timer of manifest id has come due: cancels it with
 * reason "expired" when it is still OPEN and old enough, in t; its stream
 * messages are pushed to msgs (*nmsg of them) for publishing after commit. */
int wf_manifest__expire(wf_exec_t *x, MDB_txn *t, uint64_t id, wf_vec_t *msgs, size_t *nmsg,
                        bool *acted);
/* Starts the age timer of the manifest match m opened (after the commit). */
void wf_manifest__opened(wf_engine_t *e, const wf_match_rec_t *m);
/* Adds an age timer for every OPEN manifest (at start, and when the
 * operator changes manifest_age). O(manifests). */
int wf_manifest__timers(wf_engine_t *e, MDB_txn *txn);

/* The matcher rules of a config. */
wf_rules_t wf_config__rules(const wf_config_t *c);
/* A stored order as the book holds it; WF_E_CODE when a code is unknown. */
int wf_order__from_rec(const wf_engine_t *e, const wf_order_rec_t *r, wf_order_t *o);
/* Writes order record r in t and keeps the live table in step (live.c):
 * a live record (state live, remaining > 0) is put there as well, and
 * deleted from it when was_live (the order rested before this write) and
 * it is live no longer. firm is the number of r's firm (the caller has it
 * at hand: the poster's, or the book order's). Every write of an order
 * record goes through here. Returns WF_OK or a store error. */
int wf_order__put(MDB_txn *t, const wf_engine_t *e, const wf_order_rec_t *r, uint32_t firm,
                  bool was_live);
/* Rebuilds the book (empty, new) from the live table in txn with the
 * matcher's bulk loader, and arms the orders' expiry timers. */
int wf_live__load(wf_engine_t *e, MDB_txn *txn, char *err, size_t errlen);
/* "O12" or "D12" for an order. */
void wf_order__id(char out[WF_OID_LEN], const wf_order_rec_t *r);

#endif
