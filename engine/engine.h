/* The engine: wufei's state machine. It owns the book, the firm table and
 * the LMDB store, applies batches of decoded commands, and returns replies
 * plus what must be sent afterwards (stream messages, feed messages). It
 * never sees a socket, so tests, replay and benchmarks drive it directly.
 *
 * One batch is one LMDB write transaction (group commit): every command in
 * it is validated and applied, the transaction commits, and only then does
 * wf_engine_apply() return. A reply with err == WF_OK is therefore durable.
 * A failed command changes nothing, in memory or on disk. */
#ifndef WF_ENGINE_H
#define WF_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "command.h"
#include "../credit/score.h"
#include "token.h"

#define WF_MSG_LEN 200       /* error message for a person */
#define WF_REPLAY_MAX 10000  /* stream messages one hello replays; hello again for more */
#define WF_BATCH_MAX 256     /* commands in one batch */

typedef enum wf_order_state {
    WF_ORDER_LIVE = 0,
    WF_ORDER_FILLED = 1,
    WF_ORDER_CANCELLED = 2,
    WF_ORDER_EXPIRED = 3,
    WF_ORDER_DONE = 4,       /* a target demand after its one attempt */
} wf_order_state_t;

/* A firm as stored (LMDB "firms", key = the 18-char id). */
typedef struct wf_firm_rec {
    char id[WF_FIRM_LEN];
    char name[WF_NAME_LEN];
    uint32_t roles;
    double lat, lon;
    uint32_t county;
    char key[WF_KEY_LEN];
    int32_t base_credit;
    uint8_t blocked;
    uint32_t number;     /* index of its wf_party_t in the engine */
    uint64_t stream_seq; /* last sequence number on its private stream (memory only:
                            0 in the stored record, see stream.c) */
    int64_t created;
} wf_firm_rec_t;

/* An order as stored (LMDB "orders", key = id number, big-endian). */
typedef struct wf_order_rec {
    uint64_t id;
    uint8_t side;              /* wf_side_t */
    uint8_t state;             /* wf_order_state_t */
    char firm[WF_FIRM_LEN];
    char code[WF_CODE_LEN];    /* offer */
    uint8_t ncodes;            /* demand */
    char codes[WF_MAX_PATTERNS][WF_CODE_LEN];
    int64_t qty, remaining, price, min_fill;
    int32_t min_credit;
    double lat, lon, max_km;
    int64_t expires, posted, updated;
    uint64_t target;
} wf_order_rec_t;

/* A match as stored (LMDB "matches") and as sent. */
typedef struct wf_match_rec {
    uint64_t id, offer, demand, manifest;
    char code[WF_CODE_LEN];
    int64_t qty, price, fee;
    double km, score;
    int64_t ts;
    char producer[WF_FIRM_LEN], consumer[WF_FIRM_LEN];
    uint32_t producer_county, consumer_county;
    uint8_t taker_side;        /* wf_side_t of the incoming order */
} wf_match_rec_t;

/* A hazardous-waste licence as stored (LMDB "licences", key = id number,
 * big-endian) and as firm.get returns it (there with year and used as of
 * the request's time). Capacity is in the unit of the codes it covers (kg,
 * or L for codes measured by volume) per calendar year in China Standard
 * Time. */
typedef struct wf_licence_rec {
    uint64_t id;                               /* "L<id>" */
    char firm[WF_FIRM_LEN];
    uint8_t ncodes;
    char codes[WF_MAX_PATTERNS][WF_CODE_LEN];  /* codes or categories */
    int64_t capacity;                          /* per calendar year */
    int64_t valid_until;                       /* unix ms; valid while now < valid_until */
    int32_t year;                              /* the calendar year `used` counts for */
    int64_t used;                              /* received in `year` */
    int64_t created, updated;
} wf_licence_rec_t;

/* A lane (点对点) as stored (LMDB "lanes", key = producer id + consumer id
 * + code, the code zero-padded to WF_CODE_LEN). */
typedef struct wf_lane_rec {
    char producer[WF_FIRM_LEN], consumer[WF_FIRM_LEN];
    char code[WF_CODE_LEN];                    /* a code or a category */
    int64_t created;
} wf_lane_rec_t;
typedef enum wf_manifest_state {
    WF_MANIFEST_OPEN = 0,
    WF_MANIFEST_DISPATCHED = 1,
    WF_MANIFEST_LOADED = 2,
    WF_MANIFEST_UNLOADED = 3,
    WF_MANIFEST_CLOSED = 4,
    WF_MANIFEST_CANCELLED = 5,
} wf_manifest_state_t;

#define WF_VEHICLE_LEN 32 /* plate number + NUL */

/* A transfer manifest (转移联单) as stored (LMDB "manifests", key = id
 * number, big-endian); every match opens one in state OPEN. A step's time
 * is 0 until the step happens. */
typedef struct wf_manifest_rec {
    uint64_t id;       /* "F<id>"; the same number as its match */
    uint64_t match;
    uint8_t state;     /* wf_manifest_state_t */
    uint8_t discrepancy;                 /* weighed differs from shipped beyond the tolerance */
    uint8_t reserved[6];
    char code[WF_CODE_LEN];
    int64_t qty;       /* planned */
    int64_t shipped, weighed;            /* load, unload */
    char producer[WF_FIRM_LEN], consumer[WF_FIRM_LEN];
    char carrier[WF_FIRM_LEN];           /* dispatch */
    char vehicle[WF_VEHICLE_LEN];        /* dispatch */
    char cancelled_by[WF_FIRM_LEN];      /* "" when the engine cancelled it (expiry) */
    char cancel_reason[WF_NOTE_LEN];
    int64_t created, updated;            /* updated: the latest state change */
    int64_t dispatched, loaded, unloaded, closed, cancelled;
} wf_manifest_rec_t;

typedef enum wf_msg_type {
    WF_MSG_MATCH = 1,
    WF_MSG_NOTIFY = 2,
    WF_MSG_MANIFEST = 3,
    WF_MSG_EXPIRED = 4,
    WF_MSG_CREDIT = 5,
} wf_msg_type_t;

/* One message of a firm's private stream, stored before it is sent
 * (LMDB "stream", key = firm id + big-endian seq) in a compact form that
 * stream.c rebuilds into exactly this struct for hello replay. */
typedef struct wf_stream_msg {
    char firm[WF_FIRM_LEN];
    uint64_t seq;
    uint8_t type;        /* wf_msg_type_t */
    int64_t ts;
    union {
        struct {
            wf_match_rec_t m;
            uint8_t side;                    /* this firm's side */
            char counterparty[WF_FIRM_LEN];
            char counterparty_name[WF_NAME_LEN];
        } match;
        struct { uint64_t order; uint8_t side; } expired;
        struct { int32_t score; char tier; } credit;
        struct {
            wf_order_rec_t order;            /* as it rests when the message is made */
            double km;                       /* from the subscription's point */
            uint64_t sub;                    /* "S<sub>" */
        } notify;
        struct {
            uint64_t id;                     /* manifest number */
            uint8_t state;                   /* wf_manifest_state_t */
            char token[WF_TOKEN_MAX];        /* the token of that state */
        } manifest;
    } u;
} wf_stream_msg_t;

typedef enum wf_feed_kind {
    WF_FEED_MATCH = 0,   /* "match.<code>": one fill */
    WF_FEED_BOOK = 1,    /* "book.<code>": live offer and demand at a code */
    WF_FEED_DAILY = 2,   /* "daily.<code>": a China Standard Time day's matches at a code */
} wf_feed_kind_t;

/* A public feed message: anonymised, never a firm id. Which fields are
 * set depends on kind. */
typedef struct wf_feed_msg {
    char topic[8 + WF_CODE_LEN];
    uint8_t kind;                    /* wf_feed_kind_t */
    char code[WF_CODE_LEN];
    int64_t qty, price;              /* match; daily: qty is the day's total */
    double km;                       /* match */
    uint32_t from_county, to_county; /* match */
    int64_t ts;
    int64_t offers, demands;         /* book: live quantity */
    int64_t offer_orders, demand_orders; /* book: live orders */
    char day[11];                    /* daily: "YYYY-MM-DD" (CST) */
    uint64_t count;                  /* daily: matches */
    int64_t min, median, max;        /* daily: prices (median: the lower middle) */
    int64_t vwap;                    /* daily: quantity-weighted mean price, rounded */
} wf_feed_msg_t;

/* Market statistics (the `stats` op, the metrics endpoint and the
 * dashboard). Quantities are in their codes' units; tonnes are qty / 1000
 * (a litre of slurry counted as a kilogram); tonne-km sum qty/1000 * km
 * over matches. */
#define WF_STATS_TOP_MAX 100   /* codes one stats reply lists */
#define WF_STATS_DAYS_MAX 32   /* days of match history kept in memory */
#define WF_STATS_SCAN_MAX 100000 /* manifests one stats call reads, newest first */

typedef struct wf_stats_row {
    char name[WF_CODE_LEN];    /* class name ("hazardous") or code */
    int64_t offers, offer_qty, demands, demand_qty; /* live */
    uint64_t matches;          /* all time */
    int64_t matched_qty;
    double tonne_km;
} wf_stats_row_t;

typedef struct wf_stats_day {
    char day[11];              /* "YYYY-MM-DD", China Standard Time (UTC+8) */
    uint64_t matches;
    int64_t qty;
    double tonne_km;
} wf_stats_day_t;

typedef struct wf_stats {
    int64_t ts;
    uint64_t journal_seq;
    wf_stats_row_t total;      /* name "all": the whole book and every match */
    wf_stats_row_t classes[WF_CLASS__COUNT];
    size_t ncodes;             /* codes[]: the busiest, by live plus matched quantity */
    wf_stats_row_t codes[WF_STATS_TOP_MAX];
    size_t ndays;              /* days[]: today first */
    wf_stats_day_t days[WF_STATS_DAYS_MAX];
    double co2_per_tkm;        /* the config's kg CO2e per tonne-km */
    double co2_kg;             /* total.tonne_km * co2_per_tkm */
    uint64_t waits;            /* time to match: one per fill, the resting order's wait */
    int64_t wait_p50_ms, wait_p90_ms, wait_max_ms;
    bool manifests_scanned;    /* false when the caller did not ask for the scan */
    uint64_t manifests[6];     /* by wf_manifest_state_t: OPEN .. CANCELLED */
    uint64_t manifests_seen;
    bool manifests_truncated;  /* more than WF_STATS_SCAN_MAX: counts cover the newest */
    uint64_t firms;            /* firms other than operators */
    uint64_t tiers[4];         /* A, B, C, D under the configured bounds */
    uint64_t blocked;
    /* Filled by the net layer, which measures them (zero from the engine). */
    bool has_latency;
    uint64_t requests, req_p50_us, req_p90_us, req_p99_us, req_max_us;
    uint64_t batches, batch_p50_us, batch_p90_us, batch_p99_us, batch_max_us;
    double batch_size_mean;
} wf_stats_t;

/* A recent match with the places of its two orders, for the dashboard. */
typedef struct wf_recent_match {
    uint64_t id;
    int64_t ts;
    char code[WF_CODE_LEN];
    int64_t qty, price;
    double km;
    double offer_lat, offer_lon, demand_lat, demand_lon;
} wf_recent_match_t;

/* A call auction (auction.set): offers of the codes under `code` do not
 * match continuously; every period_ms the book for them is cleared with
 * the optimal plan for goal. */
typedef struct wf_auction_rec {
    char code[WF_CODE_LEN];  /* a code or a category */
    uint64_t serial;         /* its timer's ref; minted from meta "next_auction" */
    int64_t period_ms;
    uint8_t goal;            /* wf_goal_t */
    int64_t created;         /* unix ms */
    int64_t last_clear;      /* the last clearing's time; 0 before the first */
    uint64_t clears;         /* clearings so far */
    uint64_t matched;        /* quantity matched by them */
} wf_auction_rec_t;

/* One pair of an optimize plan as replied. */
typedef struct wf_plan_pair {
    uint64_t offer, demand;
    uint64_t match;             /* the match made (apply), else 0 */
    char code[WF_CODE_LEN];     /* the offer's code */
    int64_t qty;
    double km, score;           /* score: the rule's, demand incoming, offer resting */
} wf_plan_pair_t;

/* Totals of a set of fills. */
typedef struct wf_plan_totals {
    int64_t qty;
    double tonne_km, co2_kg, score; /* score: sum of qty x score */
} wf_plan_totals_t;

/* The reply of optimize. */
typedef struct wf_optimize_result {
    uint8_t goal;                   /* wf_goal_t */
    bool applied;
    size_t npairs;                  /* pairs in the plan */
    size_t nlisted;                 /* of them listed in pairs (the first ones) */
    const wf_plan_pair_t *pairs;
    wf_plan_totals_t plan;          /* the optimal plan */
    wf_plan_totals_t continuous;    /* continuous matching of the same orders, in time order */
    wf_plan_totals_t equal;         /* goal tonne_km: the optimum moving continuous's quantity */
    double gap_pct;                 /* score: (plan - continuous) / plan; tonne_km:
                                       (continuous - equal) / equal tonne-km; x 100 */
    size_t offers, demands;         /* orders the solve took */
    size_t left_out;                /* resting orders beyond the order bound */
    bool limit_hit;                 /* the solver's iteration or time bound stopped it */
    char bound[WF_MSG_LEN];         /* a sentence when a bound was hit, else "" */
} wf_optimize_result_t;

/* One journaled config.set, as config.get's history lists it: values
 * holds the settings named in set (WF_CFG_* bits), as the command gave
 * them. */
#define WF_CONFIG_HISTORY_MAX 50        /* changes one config.get lists, newest first */
#define WF_CONFIG_HISTORY_SCAN 100000   /* journal entries it reads back, at most */
typedef struct wf_config_change {
    uint64_t seq;                  /* its journal entry */
    int64_t ts;                    /* its batch time, unix ms */
    char by[WF_FIRM_LEN];          /* the operator firm that made it */
    uint32_t set;
    wf_config_t values;
} wf_config_change_t;

/* The reply to one command. Pointers refer to engine-owned memory valid
 * until the next wf_engine_apply() or wf_engine_tick(). */
typedef struct wf_reply {
    uint64_t rid;
    wf_op_t op;
    int err;                       /* WF_OK or a wf_err_t */
    char msg[WF_MSG_LEN];          /* on failure: names the bad field */
    char id[WF_OID_LEN];           /* post: the new order's id; licence.put: "L<n>" */
    int64_t rest;                  /* post, cancel */
    size_t nmatches;               /* post */
    const wf_match_rec_t *matches;
    int64_t now;                   /* ping */
    uint64_t seq;                  /* hello */
    const wf_order_rec_t *order;   /* order.get */
    size_t norders;                /* orders.mine */
    const wf_order_rec_t *orders;
    const wf_firm_rec_t *firm;     /* firm.get, firm.put, firm.block, firm.unblock */
    size_t nlicences;              /* firm.get: the firm's licences, soonest expiry first */
    const wf_licence_rec_t *licences;
    bool has_credit;               /* score and tier are set (firm.*, credit.event) */
    int32_t score;                 /* live credit score */
    char tier;                     /* 'A'..'D' under the current tier bounds */
    size_t nevents;                /* firm.get: active credit events, by kind then time */
    const wf_credit_event_t *events;
    const wf_config_t *config;     /* config.get, config.set */
    bool has_history;              /* config.get with history: history and the two below */
    size_t nhistory;               /* newest first */
    const wf_config_change_t *history;
    uint64_t history_scanned;      /* journal entries read back */
    bool history_truncated;        /* the scan bound or WF_CONFIG_HISTORY_MAX stopped it */
    const wf_optimize_result_t *optimize; /* optimize */
    size_t nauctions;              /* auction.set, auction.del: every auction after it */
    const wf_auction_rec_t *auctions;
    const char *token;             /* manifest.dispatch/load/unload/close: the new state's token */
    bool discrepancy;              /* manifest.unload */
    const wf_manifest_rec_t *manifest; /* manifest.get (its token in token) */
    const uint8_t *key;            /* engine.key: 32 bytes */
    const uint8_t *hash;           /* journal.head: 32 bytes (seq in seq) */
    const uint8_t *sig;            /* journal.head: 64 bytes */
    const wf_stats_t *stats;       /* stats */
} wf_reply_t;

/* What a batch asks the net layer to send after its replies, in order.
 * Owned by the engine; valid until the next apply or tick. Stream messages
 * of one firm are in increasing seq; a hello's replay appears at the
 * hello's place and may repeat messages queued earlier in the same batch
 * (the net layer sends each seq to a connection once). */
typedef struct wf_outbox {
    const wf_stream_msg_t *stream;
    size_t nstream;
    const wf_feed_msg_t *feed;
    size_t nfeed;
} wf_outbox_t;

typedef struct wf_engine_opts {
    const char *dir;        /* database directory; created if missing */
    const char *catalogue;  /* catalogue file; NULL = WUFEI_CATALOGUE (built-in path) */
    const char *catalogue_add; /* a city's own codes, loaded after catalogue; NULL = none */
    size_t map_size;        /* LMDB map size in bytes; 0 = 1 GiB */
    bool no_sync;           /* MDB_NOSYNC: for benchmarks only, never for service */
} wf_engine_opts_t;

typedef struct wf_engine wf_engine_t;

/* Opens (creating if empty) the database in opts->dir, registers the
 * operator firm 000000000000000000 on first start, loads the catalogue
 * and rebuilds the in-memory book. Returns NULL with a message in err. */
wf_engine_t *wf_engine_new(const wf_engine_opts_t *opts, char *err, size_t errlen);
void wf_engine_destroy(wf_engine_t **self_p);

/* Applies n (<= WF_BATCH_MAX) commands in one transaction at time now
 * (unix ms, journaled with each accepted command). Fills replies[0..n) and
 * *out. Returns WF_OK, or an error when the whole batch failed (every reply
 * then carries that error and nothing changed). */
int wf_engine_apply(wf_engine_t *self, const wf_cmd_t *cmds, size_t n, int64_t now,
                    wf_reply_t *replies, wf_outbox_t *out);

/* A source of further commands for a batch that is already running (see
 * wf_engine_apply_more): writes up to cap commands at cmds and returns how
 * many it wrote, 0 when none is waiting. Called by the engine between
 * commands, inside the batch's transaction; it must not call the engine. */
typedef size_t (*wf_more_fn)(void *ctx, wf_cmd_t *cmds, size_t cap);

#define WF_MORE_ROUNDS 8 /* times one batch asks for more commands, at most */

/* wf_engine_apply with a batch that can grow while it runs: once the *n
 * commands at cmds have run, more(ctx, cmds + *n, cap - *n) is asked for
 * further ones (at most WF_MORE_ROUNDS times; up to cap <= WF_BATCH_MAX
 * commands in all), which run in the same transaction and share its
 * commit, so requests that arrive while a batch executes need not wait for
 * the next one. On return *n is the number of commands the batch held and
 * replies[0..*n) answer them, as wf_engine_apply's do. */
int wf_engine_apply_more(wf_engine_t *self, wf_cmd_t *cmds, size_t *n, size_t cap, wf_more_fn more, void *ctx,
                         int64_t now, wf_reply_t *replies, wf_outbox_t *out);

/* Lets the engine's thread work while a batch's record in journal.wal
 * syncs: the sync runs on a thread of the engine's, and fn(ctx) runs on the
 * caller's thread meanwhile, once per synced record, before
 * wf_engine_apply(_more) returns. The batch is not durable yet while fn
 * runs: fn must not send anything the batch produced, nor call the engine
 * other than wf_engine_config. A NULL fn stops it. WF_E_INTERNAL when the
 * thread cannot start. */
int wf_engine_overlap_sync(wf_engine_t *self, void (*fn)(void *ctx), void *ctx);

/* Where the batches that committed spent their time, summed since start
 * (monotonic clock; diagnostics only, never part of the state). */
typedef struct wf_engine_times {
    uint64_t batches;   /* batches that committed */
    uint64_t exec_ns;   /* running the commands inside the batch transaction */
    uint64_t sign_ns;   /* chaining and signing the journal head */
    uint64_t commit_ns; /* mdb_txn_commit of the journal (synced) and of the state, with
                         * the state commits left to wf_engine_idle */
} wf_engine_times_t;

/* Copies the batch times so far into *out. */
void wf_engine_times(const wf_engine_t *self, wf_engine_times_t *out);

/* When the earliest timer (order expiry, push delay, ...) falls due, in
 * unix ms; INT64_MAX when none is set. Once that time has passed, submit a
 * batch with one WF_OP_TICK command (no identity needed): it fires every
 * due timer, and its stream messages come out in the outbox. */
int64_t wf_engine_next_timer(const wf_engine_t *self);

/* Called when the loop has sent a batch's replies or has nothing to do:
 * commits the state left open across batches once it is due
 * (WF_STATE_FLUSH_MS, 20 ms, old or WF_STATE_FLUSH_BATCHES long), so that
 * other readers of the database (backups, replay checks) see it. A batch
 * that finds the commit due leaves it here, after its replies, unless the
 * map is more than half used or the previous batch left it too. Returns
 * the milliseconds until it should be called again, or -1 when nothing is
 * open. */
int wf_engine_idle(wf_engine_t *self);

/* The engine's Ed25519 public key (32 bytes), kept beside the database as
 * sign.pub; the secret half is sign.key (mode 0600). Valid while self lives. */
const uint8_t *wf_engine_public_key(const wf_engine_t *self);

/* The name of a manifest state ("OPEN", ...), or "UNKNOWN". */
const char *wf_manifest_state_name(unsigned state);

/* The state hash: BLAKE2b-256 over the canonical content of the firms,
 * orders, matches, manifests and config (statehash.c). Two databases with
 * the same history have the same hash. Returns WF_OK or an error. */
int wf_engine_state_hash(wf_engine_t *self, uint8_t out[32]);

/* The head of the journal's hash chain: seq (0 when empty), hash (32
 * bytes) and the engine's Ed25519 signature over BE64(seq) || hash. */
int wf_engine_journal_head(wf_engine_t *self, uint64_t *seq, uint8_t hash[32], uint8_t sig[64]);

/* The firm record for id, or NULL; valid until the next apply or tick. */
const wf_firm_rec_t *wf_engine_firm(wf_engine_t *self, const char *id);
/* The firm whose registered CURVE key (z85) is key, or NULL. */
const wf_firm_rec_t *wf_engine_firm_by_key(wf_engine_t *self, const char *key);

const wf_catalogue_t *wf_engine_catalogue(const wf_engine_t *self);
const wf_book_t *wf_engine_book(const wf_engine_t *self);
const wf_config_t *wf_engine_config(const wf_engine_t *self);
/* Fills *out with the market statistics at now: the top (1..100) busiest
 * codes, the last days (1..32) days. scan_manifests adds the manifest
 * state counts, a read of at most WF_STATS_SCAN_MAX records; everything
 * else comes from memory. Returns WF_OK or a store error. */
int wf_engine_stats(wf_engine_t *self, int64_t now, uint32_t top, uint32_t days,
                    bool scan_manifests, wf_stats_t *out);

/* Copies the newest matches made at or after since (unix ms), newest
 * first, at most cap of them (the engine keeps the last 512), into out.
 * Returns how many. */
size_t wf_engine_recent_matches(const wf_engine_t *self, int64_t since, wf_recent_match_t *out,
                                size_t cap);

/* Feed messages that fall due with time rather than with a command:
 * book.<code> for each code whose live book changed since it was last
 * published, at most once a second per code, and daily.<code> for each
 * code that traded on a China Standard Time day once that day is over.
 * The I/O loop calls it every turn. Changes no state (nothing to
 * journal). Sets *out to engine memory valid until the next call, apply or
 * tick; returns the number of messages. */
size_t wf_engine_feed_due(wf_engine_t *self, int64_t now, const wf_feed_msg_t **out);

/* The CST day of t (unix ms) as "YYYY-MM-DD", and its day number. */
int64_t wf_cst_day(int64_t t, char out[11]);

/* Sequence number of the last journal entry. */
uint64_t wf_engine_journal_seq(wf_engine_t *self);

/* What the last start did to bring the state up to the journal: how many
 * journal entries it replayed into the state, and whether it rebuilt the
 * state file from the whole journal (a machine restart after an unclean
 * stop; see engine/store_int.h). */
void wf_engine_recovery(const wf_engine_t *self, uint64_t *replayed, bool *rebuilt);

/* The id string of an order ("O12"/"D13") or match ("M5") or manifest ("F5"). */
void wf_id_format(char out[WF_OID_LEN], char prefix, uint64_t n);
/* Parses "O12" with the expected prefix; returns 0 when malformed. */
uint64_t wf_id_parse(const char *s, char prefix);

#define WF_OPERATOR_ID "000000000000000000"

#endif
