/* Decoded commands: what the net layer (or a test, or replay) hands the
 * engine. A command is plain old data with no pointers, so the journal can
 * store it byte for byte and replay it exactly. Field values are checked
 * by the engine, not trusted from the decoder. Op numbers are stored in the
 * journal: never renumber, only append. */
#ifndef WF_COMMAND_H
#define WF_COMMAND_H

#include <stdbool.h>
#include <stdint.h>

#include "../matcher/book.h"

#define WF_FIRM_LEN 19  /* 18-char unified social credit code + NUL */
#define WF_NAME_LEN 160 /* firm name, UTF-8, NUL-terminated */
#define WF_OID_LEN 24   /* "O123", "D45", "M6", "F7" + NUL */
#define WF_KEY_LEN 41   /* CURVE public key in z85 (40 chars) + NUL */
#define WF_NOTE_LEN 160

typedef enum wf_op {
    WF_OP_NONE = 0,
    WF_OP_PING = 1,
    WF_OP_HELLO = 2,
    WF_OP_OFFER_POST = 3,
    WF_OP_DEMAND_POST = 4,
    WF_OP_ORDER_CANCEL = 5,
    WF_OP_ORDER_GET = 6,
    WF_OP_ORDERS_MINE = 7,
    WF_OP_FIRM_PUT = 8,
    WF_OP_FIRM_GET = 9,
    WF_OP_CONFIG_GET = 10,
    WF_OP_CONFIG_SET = 11,
    /* Numbers reserved for every op of the protocol; an op the engine does
     * not implement yet has no name in command.c and decodes as E_OP. */
    WF_OP_SUB_PUT = 12,
    WF_OP_SUB_DEL = 13,
    WF_OP_MANIFEST_DISPATCH = 14,
    WF_OP_MANIFEST_LOAD = 15,
    WF_OP_MANIFEST_UNLOAD = 16,
    WF_OP_MANIFEST_CLOSE = 17,
    WF_OP_MANIFEST_CANCEL = 18,
    WF_OP_MANIFEST_GET = 19,
    WF_OP_ENGINE_KEY = 20,
    WF_OP_LICENCE_PUT = 21,
    WF_OP_LANE_PUT = 22,
    WF_OP_LANE_DEL = 23,
    WF_OP_CREDIT_EVENT = 24,
    WF_OP_FIRM_BLOCK = 25,
    WF_OP_FIRM_UNBLOCK = 26,
    WF_OP_STATS = 27,
    WF_OP_JOURNAL_HEAD = 28,
    WF_OP_TICK = 29,      /* internal: timers due at the batch time; never on the wire */
    WF_OP_OPTIMIZE = 30,
    /* Extensions (docs/protocol.md): call auctions. */
    WF_OP_AUCTION_SET = 31,
    WF_OP_AUCTION_DEL = 32,
    WF_OP__COUNT
} wf_op_t;

/* Firm roles, a bit set. */
enum {
    WF_ROLE_PRODUCER = 1u << 0,
    WF_ROLE_CONSUMER = 1u << 1,
    WF_ROLE_CARRIER = 1u << 2,
    WF_ROLE_OPERATOR = 1u << 3,
};

/* Bits of wf_cmd_t.has: which optional fields the request carried. */
enum {
    WF_HAS_LOC = 1u << 0,        /* lat and lon (both, or the decoder refuses) */
    WF_HAS_MAX_KM = 1u << 1,
    WF_HAS_MIN_CREDIT = 1u << 2,
    WF_HAS_MIN_FILL = 1u << 3,
    WF_HAS_EXPIRES = 1u << 4,
    WF_HAS_TARGET = 1u << 5,
    WF_HAS_KEY = 1u << 6,
    WF_HAS_BASE_CREDIT = 1u << 7,
    WF_HAS_AFTER_SEQ = 1u << 8,
    WF_HAS_LIVE_ONLY = 1u << 9,
    WF_HAS_RADIUS = 1u << 10,
    WF_HAS_MIN_QTY = 1u << 11,
    WF_HAS_POINTS_EXPIRES = 1u << 12, /* credit.event `expires` */
    WF_HAS_CODES = 1u << 13,          /* optimize `codes` */
};

/* Bits of wf_cmd_t.u.config.set: which settings config.set changes. */
enum {
    WF_CFG_W_CREDIT = 1u << 0,
    WF_CFG_W_DISTANCE = 1u << 1,
    WF_CFG_W_PRICE = 1u << 2,
    WF_CFG_TIER_A = 1u << 3,
    WF_CFG_TIER_B = 1u << 4,
    WF_CFG_TIER_C = 1u << 5,
    WF_CFG_PUSH_DELAY_B = 1u << 6,
    WF_CFG_PUSH_DELAY_C = 1u << 7,
    WF_CFG_COUNTY_RULE = 1u << 8,
    WF_CFG_CITY_RULE = 1u << 9,
    WF_CFG_ECO_FEE = 1u << 10,
    WF_CFG_DISCREPANCY_PCT = 1u << 11,
    WF_CFG_CO2_PER_TKM = 1u << 12,
    WF_CFG_STREAM_KEEP_DAYS = 1u << 13,
    WF_CFG_RATE_PER_S = 1u << 14,
    WF_CFG_RATE_BURST = 1u << 15,
    WF_CFG_MANIFEST_AGE = 1u << 16,
    WF_CFG_DISCREPANCY_POINTS = 1u << 17,
    WF_CFG_CANCEL_POINTS = 1u << 18,
    WF_CFG_EXPIRY_POINTS = 1u << 19,
};
#define WF_CFG__LAST WF_CFG_EXPIRY_POINTS

/* Operator settings (config.get / config.set). */
typedef struct wf_config {
    double w_credit, w_distance, w_price; /* 0.4, 0.4, 0.2 */
    int32_t tier_a, tier_b, tier_c;       /* 90, 75, 60 */
    int64_t push_delay_b, push_delay_c;   /* ms: 500, 2000 */
    bool county_rule, city_rule;          /* false, false */
    int64_t eco_fee;                      /* fen per unit, 0 */
    double discrepancy_pct;               /* 5 */
    double co2_per_tkm;                   /* kg CO2e per tonne-km of transport: 0.1 */
    int32_t stream_keep_days;             /* 30: stream messages kept this long; 0 = forever */
    int32_t rate_per_s, rate_burst;       /* requests per firm: 200/s, bursts of 400; 0/s = no limit
                                           * (the net layer's token buckets read these) */
    int32_t discrepancy_points;           /* credit points of a quantity discrepancy: -5 */
    int32_t cancel_points;                /* trade-conduct points of a manifest cancel: -2 */
    int32_t expiry_points;                /* trade-conduct points of an expired manifest: -3 */
    int64_t manifest_age;                 /* ms an OPEN manifest may wait: 7 days; 0 = forever */
} wf_config_t;

typedef struct wf_cmd_post {
    char code[WF_CODE_LEN];                    /* offer.post */
    uint8_t ncodes;                            /* demand.post */
    char codes[WF_MAX_PATTERNS][WF_CODE_LEN];
    int64_t qty, price;
    double lat, lon;                           /* WF_HAS_LOC; else the firm's */
    double max_km;                             /* default 50 */
    int32_t min_credit;                        /* default 0 */
    int64_t min_fill;                          /* default 1 */
    int64_t expires;                           /* default 0 = never */
    char target[WF_OID_LEN];                   /* WF_HAS_TARGET */
} wf_cmd_post_t;

typedef struct wf_cmd_firm {
    char firm[WF_FIRM_LEN];
    char name[WF_NAME_LEN];
    uint32_t roles;
    double lat, lon;
    uint32_t county;
    char key[WF_KEY_LEN];   /* WF_HAS_KEY */
    int32_t base_credit;    /* default 80 */
} wf_cmd_firm_t;

/* sub.put */
typedef struct wf_cmd_sub {
    uint8_t side;                              /* wf_side_t of the orders it watches */
    uint8_t ncodes;
    char codes[WF_MAX_PATTERNS][WF_CODE_LEN];
    double lat, lon;                           /* WF_HAS_LOC; else the firm's */
    double radius_km;                          /* default 50 */
    int64_t min_qty;                           /* default 0 */
    int32_t min_credit;                        /* default 0 */
} wf_cmd_sub_t;

/* manifest.dispatch / load / unload / close / cancel / get */
typedef struct wf_cmd_manifest {
    char id[WF_OID_LEN];
    char carrier[WF_FIRM_LEN];                 /* dispatch */
    char vehicle[32];                          /* dispatch: plate number (WF_VEHICLE_LEN) */
    int64_t qty;                               /* load, unload */
    char reason[WF_NOTE_LEN];                  /* cancel */
} wf_cmd_manifest_t;

/* licence.put */
typedef struct wf_cmd_licence {
    char firm[WF_FIRM_LEN];
    uint8_t ncodes;
    char codes[WF_MAX_PATTERNS][WF_CODE_LEN];
    int64_t capacity;                          /* kg per calendar year */
    int64_t valid_until;                       /* unix ms */
} wf_cmd_licence_t;

/* lane.put / lane.del */
typedef struct wf_cmd_lane {
    char producer[WF_FIRM_LEN], consumer[WF_FIRM_LEN];
    char code[WF_CODE_LEN];
} wf_cmd_lane_t;

/* credit.event */
typedef struct wf_cmd_credit {
    char firm[WF_FIRM_LEN];
    char kind[16];                             /* credit/score.h kind names */
    int32_t points;
    int64_t expires;                           /* WF_HAS_POINTS_EXPIRES; default two years */
    char note[WF_NOTE_LEN];
} wf_cmd_credit_t;

/* firm.block / firm.unblock */
typedef struct wf_cmd_block {
    char firm[WF_FIRM_LEN];
    char note[WF_NOTE_LEN];
} wf_cmd_block_t;

/* Goals of the batch optimiser on the wire (optimize, auction.set). */
typedef enum wf_goal {
    WF_GOAL_SCORE = 0,     /* "score": the largest sum of qty x rule score */
    WF_GOAL_TONNE_KM = 1,  /* "tonne_km": the most quantity, then the fewest tonne-km */
} wf_goal_t;

/* optimize */
typedef struct wf_cmd_optimize {
    uint8_t goal;                              /* wf_goal_t, default score */
    bool apply;                                /* default false: read-only */
    uint8_t ncodes;                            /* WF_HAS_CODES: restrict to these patterns */
    char codes[WF_MAX_PATTERNS][WF_CODE_LEN];
} wf_cmd_optimize_t;

/* auction.set / auction.del */
typedef struct wf_cmd_auction {
    char code[WF_CODE_LEN];                    /* a code or a category */
    int64_t period_ms;                         /* auction.set */
    uint8_t goal;                              /* auction.set: wf_goal_t, default score */
} wf_cmd_auction_t;

typedef struct wf_cmd {
    wf_op_t op;
    uint64_t rid;
    char as[WF_FIRM_LEN]; /* the acting firm, set by the net layer's identity step; "" when none */
    uint32_t has;         /* WF_HAS_* */
    union {
        wf_cmd_post_t post;                         /* offer.post, demand.post */
        struct { char id[WF_OID_LEN]; } ref;        /* order.cancel, order.get */
        struct { bool live_only; } mine;            /* orders.mine, default true */
        struct { uint64_t after_seq; } hello;       /* default 0 */
        wf_cmd_firm_t firm;                         /* firm.put */
        struct { char firm[WF_FIRM_LEN]; } firm_get;
        struct { uint32_t set; wf_config_t values; } config; /* config.set */
        struct { bool history; } config_get;       /* config.get: default false */
        wf_cmd_sub_t sub;                           /* sub.put */
        wf_cmd_manifest_t manifest;                 /* manifest.*; sub.del uses ref */
        wf_cmd_licence_t licence;
        wf_cmd_lane_t lane;
        wf_cmd_credit_t credit;
        wf_cmd_block_t block;
        wf_cmd_optimize_t optimize;
        wf_cmd_auction_t auction;
        struct { uint32_t top, days; } stats;      /* stats: defaults 10, 7 */
    } u;
} wf_cmd_t;

/* The op's protocol name ("offer.post"), or NULL. */
const char *wf_op_name(wf_op_t op);
/* The op for a protocol name, or WF_OP_NONE. */
wf_op_t wf_op_from_name(const char *name);
/* The role name ("producer"), or NULL for a bit that is not one role. */
const char *wf_role_name(uint32_t role);
/* The role bit for a name, or 0. */
uint32_t wf_role_from_name(const char *name);
/* The goal's wire name ("score", "tonne_km"), or NULL. */
const char *wf_goal_name(unsigned goal);
/* The goal for a wire name; -1 when unknown. */
int wf_goal_from_name(const char *name);
/* Defaults for every setting. */
wf_config_t wf_config_default(void);

#endif
