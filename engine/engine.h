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
    uint64_t stream_seq; /* last sequence number on its private stream */
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
 * (LMDB "stream", key = firm id + big-endian seq). */
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

/* A public feed message (topic "match.<code>"): anonymised. */
typedef struct wf_feed_msg {
    char topic[8 + WF_CODE_LEN];
    char code[WF_CODE_LEN];
    int64_t qty, price;
    double km;
    uint32_t from_county, to_county;
    int64_t ts;
} wf_feed_msg_t;

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
    const wf_optimize_result_t *optimize; /* optimize */
    size_t nauctions;              /* auction.set, auction.del: every auction after it */
    const wf_auction_rec_t *auctions;
    const char *token;             /* manifest.dispatch/load/unload/close: the new state's token */
    bool discrepancy;              /* manifest.unload */
    const wf_manifest_rec_t *manifest; /* manifest.get (its token in token) */
    const uint8_t *key;            /* engine.key: 32 bytes */
    const uint8_t *hash;           /* journal.head: 32 bytes (seq in seq) */
    const uint8_t *sig;            /* journal.head: 64 bytes */
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

/* When the earliest timer (order expiry, push delay, ...) falls due, in
 * unix ms; INT64_MAX when none is set. Once that time has passed, submit a
 * batch with one WF_OP_TICK command (no identity needed): it fires every
 * due timer, and its stream messages come out in the outbox. */
int64_t wf_engine_next_timer(const wf_engine_t *self);

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
/* Sequence number of the last journal entry. */
uint64_t wf_engine_journal_seq(wf_engine_t *self);

/* The id string of an order ("O12"/"D13") or match ("M5") or manifest ("F5"). */
void wf_id_format(char out[WF_OID_LEN], char prefix, uint64_t n);
/* Parses "O12" with the expected prefix; returns 0 when malformed. */
uint64_t wf_id_parse(const char *s, char prefix);

#define WF_OPERATOR_ID "000000000000000000"

#endif
