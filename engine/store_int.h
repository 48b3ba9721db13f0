/* The engine's LMDB store: two environments with named databases, and the
 * records kept in them. Private to engine/; tests may include it to check
 * the store directly.
 *
 * The journal (DIR/journal.mdb) is the commit point: every batch appends
 * its entries and the signed head to the journal's open transaction and
 * writes them as one record to DIR/journal.wal, synced to disk before any
 * reply leaves (wal.c); the journal's transaction is committed, synced,
 * every 20 ms or 64 batches, and a start first appends to journal.mdb the
 * log's records that continue it. The state (DIR/data.mdb: everything
 * else) is written in a second transaction, without a sync of its own
 * (MDB_NOSYNC) and committed just after the journal's: it is the journal
 * applied, up to the seq in its meta "applied". So a durable batch costs
 * one sequential write and one flush instead of a sync of every scattered
 * state page it dirtied. At
 * start the engine replays journal entries past "applied" into the state
 * (the state is committed every 20 ms or 64 batches, so a kill -9 leaves
 * at most that much to replay);
 * after a machine restart that followed an unclean stop the state file may
 * be torn, so it is rebuilt from the whole journal (the jmeta "session"
 * record tells the two apart: the boot id of the last writer and whether
 * it closed cleanly, syncing the state file first).
 *
 * Records are the raw POD structs of engine.h and of this header, written
 * byte for byte (zeroed first, so padding is deterministic). That ties the
 * file to this build's struct layout: the meta database keeps a schema
 * version and the size of every record type, and the engine refuses to open
 * a database whose version or layout differs.
 *
 * Databases (keys; BE64 = 8-byte big-endian unsigned, so keys sort by
 * number). In journal.mdb:
 *   jmeta        "schema" -> wf_journal_layout_t; "head" -> wf_journal_head_t
 *                (the signed head of the journal chain); "session" ->
 *                wf_store_session_t
 *   journal      BE64 seq -> wf_journal_disk_t, then the command's bytes with
 *                their runs of zeros squeezed (a post: about 90 bytes where
 *                wf_journal_rec_t has 592; wf_journal__get gives it whole)
 * In data.mdb:
 *   meta         "schema" -> wf_store_layout_t; "next_order", "next_match",
 *                "next_firm" -> uint64_t (next number to mint); "applied" ->
 *                uint64_t (the last journal seq the state holds)
 *   firms        18-char firm id -> wf_firm_rec_t (stream_seq always 0: a
 *                firm's seq is stream state, kept in memory, see stream.c)
 *   firm_keys    40-char z85 key -> 18-char firm id
 *   orders       BE64 order id -> wf_order_rec_t
 *   live         BE64 order id -> wf_live_rec_t and its codes: the orders that
 *                rest in the book (state live, remaining > 0) and nothing else,
 *                compact, so that a start reads them without the history
 *                (wf_order__put keeps it beside orders; not in the state hash,
 *                it follows from orders)
 *   firm_orders  firm id + BE64 order id -> empty (a firm's orders)
 *   matches      BE64 match id -> wf_match_rec_t
 *   manifests    BE64 manifest id -> wf_manifest_rec_t
 *   stream       firm id + BE64 seq -> wf_stream_rec_t followed by the used part
 *                of the message's union; for notify a wf_stream_notify_t
 *                naming its notice (stream.c)
 *   notices      BE64 journal seq + BE32 index -> wf_notice_rec_t: the order
 *                snapshot the notify messages of one resting-order event
 *                share, with the count of those still stored
 *   stream_floors 18-char firm id -> uint64_t: the seq of the firm's newest
 *                message when retention trimmed its stream empty; at start a
 *                firm's seq is the larger of it and its stream's last key
 *   config       "config" -> wf_config_t
 *   licences     BE64 licence id -> wf_licence_rec_t ("next_licence" in meta)
 *   lanes        producer id + consumer id + code (WF_CODE_LEN bytes,
 *                zero-padded) -> wf_lane_rec_t
 *   auctions     BE64 auction serial -> wf_auction_rec_t (call auctions)
 *   credit       firm id + BE64 event id -> wf_credit_rec_t (meta "next_credit")
 *   subs         BE64 subscription id -> wf_sub_rec_t (meta "next_sub")
 *   pushes       BE64 push id -> wf_push_rec_t followed by n wf_push_entry_t: the
 *                notifications of one resting order still waiting for their
 *                tier's delay (meta "next_push") */
#ifndef WF_STORE_INT_H
#define WF_STORE_INT_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine.h"

#define WF_SCHEMA_VERSION 8u /* 2: licences and lanes; 3: config co2_per_tkm, auctions;
                                 4: credit events, subscriptions, pushes, stream_keep_days;
                                 5: rate_per_s, rate_burst in the config;
                                 6: manifests with steps, stream manifest payload, chained
                                 journal;
                                 7: compact stream records (header + used union part;
                                 notify as a small entry naming a shared notice in the
                                 new table notices); a firm's seq lives in memory,
                                 from its stream's last key and the new table
                                 stream_floors at start, not in its firm record;
                                 the live table (wf_live_rec_t): the resting orders,
                                 compact, read at start;
                                 8: the journal and its signed head in their own
                                 environment, journal.mdb, the commit point; the
                                 state unsynced, meta "applied" */
#define WF_JOURNAL_FORMAT 4u /* 2: every entry carries its chain hash;
                                3: stored as wf_journal_disk_t and the command with
                                its runs of zero bytes squeezed (journal.c);
                                4: the chain hash is over the stored bytes, not
                                over the whole record (a fifth of the hashing).
                                New entries are format 4; format 3 entries of an
                                older journal keep their rule (wf_journal__chain) */
#define WF_JOURNAL_FORMAT_OLDEST 3u /* the oldest format an entry may have */
#define WF_FIRM_ID_LEN 18 /* bytes of a firm id in keys (no NUL) */

/* One journal entry: an accepted state-changing command and its batch time,
 * chained: hash = BLAKE2b-256(previous entry's hash || BE64(seq) || the
 * entry's bytes before the hash field), the previous hash of entry 1 being
 * 32 zero bytes. Changing any byte of an entry breaks its own hash. */
typedef struct wf_journal_rec {
    uint32_t format;   /* WF_JOURNAL_FORMAT */
    uint32_t reserved;
    int64_t now;
    wf_cmd_t cmd;
    uint8_t hash[32];
} wf_journal_rec_t;

/* An entry as journal.mdb stores it: this header, then clen bytes that
 * give back the wf_cmd_t (journal.c: a byte n < 0x80 is followed by n + 1
 * literal bytes, a byte n >= 0x80 stands for n - 0x7f zero bytes). The
 * chain hash is over the whole wf_journal_rec_t, as before. */
typedef struct wf_journal_disk {
    uint32_t format;   /* WF_JOURNAL_FORMAT */
    uint32_t clen;
    int64_t now;
    uint8_t hash[32];
} wf_journal_disk_t;

#define WF_JOURNAL_DISK_MAX (sizeof(wf_journal_disk_t) + sizeof(wf_cmd_t) + sizeof(wf_cmd_t) / 128 + 2)

/* A stream message as stored: this header, then the bytes of the
 * message's union its type uses (a manifest's token up to its NUL), or for
 * notify a wf_stream_notify_t. Firm and seq are the key's. */
typedef struct wf_stream_rec {
    uint8_t type;              /* wf_msg_type_t */
    uint8_t reserved[7];
    int64_t ts;
} wf_stream_rec_t;

/* The body of a stored notify: its subscription and distance, and the
 * notice that holds the order snapshot. */
typedef struct wf_stream_notify {
    uint64_t notice;           /* the notice's key: journal seq ... */
    uint32_t index;            /* ... and index */
    uint32_t reserved;
    uint64_t sub;
    double km;
} wf_stream_notify_t;

/* A notice: the order as it rested when its notify messages were made,
 * and how many of them are still stored (retention deletes it with the
 * last). */
typedef struct wf_notice_rec {
    uint32_t refs;
    uint32_t reserved;
    wf_order_rec_t order;
} wf_notice_rec_t;

/* A credit event as stored. Expired events stay on disk (history) with
 * expired = 1 once their expiry timer has fired; only the others count. */
typedef struct wf_credit_rec {
    uint64_t id;
    char firm[WF_FIRM_LEN];
    uint8_t expired;
    wf_credit_event_t ev;
} wf_credit_rec_t;

/* A subscription: the firm is told about resting orders of `side` that fit. */
typedef struct wf_sub_rec {
    uint64_t id;               /* "S<id>" */
    char firm[WF_FIRM_LEN];
    uint8_t side;              /* wf_side_t of the orders it watches */
    uint8_t ncodes;
    char codes[WF_MAX_PATTERNS][WF_CODE_LEN];
    double lat, lon, radius_km;
    int64_t min_qty;
    int32_t min_credit;
    int64_t created;
} wf_sub_rec_t;

/* Pending notifications of one order that share one due time; the entries
 * follow the header in the same record, in the order they are to be sent
 * (highest score first). */
typedef struct wf_push_rec {
    uint64_t id;
    uint64_t order;
    int64_t due;               /* unix ms */
    uint32_t n;                /* entries after the header */
    uint32_t done;             /* entries already handled (a large batch goes in slices) */
} wf_push_rec_t;

typedef struct wf_push_entry {
    uint64_t sub;
    uint32_t firm;             /* the subscriber's firm number */
    uint32_t reserved;
    double km;
} wf_push_entry_t;

/* A resting order as the live table keeps it: what the book indexes, with
 * the owner by firm number (numbers are never reused) and the codes as
 * ncodes NUL-terminated strings right after the header (an offer: its
 * code; a demand: its patterns), codes_len bytes in all, so that the
 * record stays near 100 bytes where wf_order_rec_t has 536. Codes are kept
 * as text, not catalogue ids, because the catalogue may change between
 * starts (a city's file added). */
typedef struct wf_live_rec {
    uint32_t firm;             /* the owner's firm number */
    uint8_t side;              /* wf_side_t */
    uint8_t ncodes;
    uint16_t codes_len;
    int64_t qty, remaining, price, min_fill;
    int32_t min_credit;
    uint32_t reserved;
    double lat, lon, max_km;
    int64_t expires;
    uint64_t target;
} wf_live_rec_t;

#define WF_LIVE_MAX (sizeof(wf_live_rec_t) + WF_MAX_PATTERNS * WF_CODE_LEN)

#define WF_JOURNAL_HASHED offsetof(wf_journal_rec_t, hash)

/* The signed head kept in meta "head", rewritten by every batch that
 * journals: the engine's signature over BE64(seq) || hash. */
typedef struct wf_journal_head {
    uint64_t seq;
    uint8_t hash[32];
    uint8_t sig[64];
} wf_journal_head_t;

/* What "schema" holds: the version and the record sizes of this build. */
typedef struct wf_store_layout {
    uint32_t version;
    uint32_t firm, order, match, manifest, stream, journal, config;
    uint32_t licence, lane;
    uint32_t credit, sub, push, push_entry;
    uint32_t stream_notify, notice;
    uint32_t live;
} wf_store_layout_t;

/* What jmeta "schema" holds. */
typedef struct wf_journal_layout {
    uint32_t version;
    uint32_t journal, head, session;
} wf_journal_layout_t;

/* jmeta "session": who wrote the state file last, and whether it closed
 * it cleanly (synced). */
typedef struct wf_store_session {
    char boot[40];             /* /proc/sys/kernel/random/boot_id */
    uint32_t clean;
    uint32_t reserved;
} wf_store_session_t;

/* jfill.c: zero-filled room ahead of journal.mdb's last page. */
typedef struct wf_jfill wf_jfill_t;
/* Starts the filler on the file at path (NULL when it cannot be opened or
 * the thread cannot start: commits then just grow the file). */
wf_jfill_t *wf_jfill__new(const char *path, size_t map_size);
void wf_jfill__destroy(wf_jfill_t **self_p);
/* Called before a journal commit with the bytes LMDB uses (its last page
 * + 1, times the page size): asks for room ahead, and waits for the
 * filler when a commit might otherwise write where it is writing. */
void wf_jfill__reserve(wf_jfill_t *f, size_t used);

/* wal.c: DIR/journal.wal, the batch log in front of journal.mdb. */
#define WF_WAL_SIZE ((size_t)4 << 20) /* made this size; a record that does not fit
                                       * is committed to journal.mdb instead */
#define WF_WAL_MIN ((size_t)64 << 10) /* an existing file smaller is refused (damaged),
                                       * unless empty: then it is made again */
typedef struct wf_wal {
    int fd;                    /* -1: none (read-only stores) */
    size_t size;               /* the file's size */
    size_t off;                /* where the next record goes */
    bool sync;                 /* fdatasync each record (not with no_sync) */
    uint8_t *buf;              /* the record being built */
    size_t len, cap;
} wf_wal_t;

/* A thread that runs one fdatasync at a time for the engine's thread, so
 * that the engine's thread can do other work while a record syncs (the
 * server reads the next batch's requests). */
typedef struct wf_syncer wf_syncer_t;
wf_syncer_t *wf_syncer__new(void); /* NULL when the thread cannot start */
void wf_syncer__destroy(wf_syncer_t **self_p);

/* What a record's sync may overlap: while the syncer syncs it, fn(ctx)
 * runs on the caller's thread. */
typedef struct wf_wal_overlap {
    wf_syncer_t *syncer;
    void (*fn)(void *ctx);
    void *ctx;
} wf_wal_overlap_t;

typedef struct wf_store wf_store_t;
/* Opens DIR/journal.wal, making it (zeros, synced) when absent. */
int wf_wal__open(wf_wal_t *w, const char *dir, bool sync, char *err, size_t errlen);
void wf_wal__close(wf_wal_t *w);
/* Appends the record of journal entries first..last, read from jt with the
 * head signed for last, and syncs it; with ov (may be NULL) on ov->syncer's
 * thread while ov->fn runs, returning once both are done. WF_E_LIMIT: no
 * room (nothing written; the caller commits journal.mdb instead);
 * WF_E_INTERNAL: the write or the sync failed, and the record may or may
 * not be on disk. */
int wf_wal__append(wf_wal_t *w, MDB_txn *jt, const wf_store_t *s, uint64_t first, uint64_t last,
                   const wf_wal_overlap_t *ov);
/* journal.mdb has committed everything logged: the next record goes to the
 * start of the file. */
void wf_wal__reset(wf_wal_t *w);
/* Appends to journal.mdb the records that continue it (committed, synced),
 * *n their entries, and resets. */
int wf_wal__replay(wf_wal_t *w, wf_store_t *s, uint64_t *n, char *err, size_t errlen);

struct wf_store {
    MDB_env *env;              /* data.mdb: the state */
    MDB_env *jenv;             /* journal.mdb: the journal, synced */
    MDB_dbi meta, firms, firm_keys, orders, firm_orders, matches, manifests, stream, config,
        licences, lanes, auctions, credit, subs, pushes, notices, stream_floors, live;
    MDB_dbi jmeta, journal;    /* in jenv */
    char boot[40];             /* this machine's boot id */
    bool writable;             /* opened by wf_store__open (close syncs and marks clean) */
    bool rebuilt;              /* the state file was dropped at open: rebuild it */
    wf_jfill_t *jfill;         /* room ahead of the journal (synced stores only) */
    uint64_t jlast_seq;        /* the entry appended last and its hash, so that the next */
    uint8_t jlast_hash[32];    /* append need not read it back (0: unknown) */
    size_t jpsize;             /* the journal's page size */
    wf_wal_t wal;              /* journal.wal (writable stores; fd -1 otherwise) */
    uint32_t jformat;          /* the format new entries take: 0 for WF_JOURNAL_FORMAT; the
                                * replay check sets each replayed entry's own */
};

/* Before a journal commit: makes sure of the room ahead (jfill.c). */
void wf_store__journal_room(wf_store_t *s);

/* The last journal seq the state holds (meta "applied"; 0 when absent). */
int wf_store__applied(MDB_txn *txn, const wf_store_t *s, uint64_t *seq);

/* This machine's boot id (WUFEI_BOOT_ID overrides it, for tests). */
void wf_store__boot_id(char out[40]);

/* Appends to journal.mdb what journal.wal holds past it, as a start does
 * first, without opening the state (tests: what a kill left durable). *n
 * the entries. */
int wf_store__settle_journal(const char *dir, uint64_t *n, char *err, size_t errlen);

/* Opens an existing database read-only (the daemon may be running: LMDB
 * readers do not block its writer) and checks its schema. For audit and
 * replay checks. */
int wf_store__open_readonly(wf_store_t *s, const char *dir, char *err, size_t errlen);

/* The state hash (see wf_engine_state_hash) of the store as txn sees it. */
int wf_store__state_hash(MDB_txn *txn, const wf_store_t *s, uint8_t out[32]);

/* Opens or creates both environments in dir (created when missing) and
 * their databases, writing the schema records on first start. Sets *fresh
 * when the state was empty (a first start, or a state file dropped to be
 * rebuilt: s->rebuilt). no_sync makes the journal unsynced too (tests,
 * scratch replays). Returns WF_OK, or an error with a message. */
int wf_store__open(wf_store_t *s, const char *dir, size_t map_size, bool no_sync, bool *fresh,
                   char *err, size_t errlen);
void wf_store__close(wf_store_t *s);

/* The wf_err_t for an LMDB return code: MDB_MAP_FULL (and the other
 * space limits) -> WF_E_FULL, anything else -> WF_E_INTERNAL. */
int wf_store__err(int rc);

/* Writes a record. Returns WF_OK or the wf_store__err() of the failure. */
int wf_store__put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const void *val,
                  size_t vlen);
/* wf_store__put of a record whose key is likely the table's greatest (a
 * new order, match or manifest: ids only grow): appended, LMDB then fills
 * the table's last page instead of splitting it in half and skips the
 * search; a key that is not the greatest is put the usual way. */
int wf_store__append(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const void *val,
                     size_t vlen);
/* Reads a record of exactly len bytes into out. Returns WF_OK,
 * WF_E_NOTFOUND, or WF_E_INTERNAL (failure, or a record of another size). */
int wf_store__get(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, void *out, size_t len);
/* Deletes a record; a missing one is not an error. */
int wf_store__del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen);

/* Big-endian 64-bit keys. */
void wf_store__be64(uint8_t out[8], uint64_t n);
uint64_t wf_store__from_be64(const uint8_t in[8]);

/* Meta counters ("next_order", ...): 1 when absent. */
int wf_store__meta_get(MDB_txn *txn, const wf_store_t *s, const char *name, uint64_t *out);
int wf_store__meta_put(MDB_txn *txn, const wf_store_t *s, const char *name, uint64_t v);

/* Appends the journal entry seq (the last seq + 1) for cmd at now,
 * chained to entry seq - 1 as read in txn. */
int wf_journal__append(MDB_txn *txn, wf_store_t *s, uint64_t seq, int64_t now,
                       const wf_cmd_t *cmd);
/* Forgets the entry appended last: its transaction was aborted. */
void wf_journal__forget(wf_store_t *s);
/* The chain hash of entry seq: stored hash of the entry before, seq, and
 * the entry's hashed bytes, by rec->format: up to 3 the bytes of rec before
 * its hash; from 4 the stored bytes (wf_journal__encode) without the hash:
 * the header's format, clen and now, then the squeezed command. */
void wf_journal__chain(const uint8_t prev[32], uint64_t seq, const wf_journal_rec_t *rec,
                       uint8_t out[32]);
/* The stored hash of entry seq (32 zero bytes for seq 0). */
int wf_journal__hash(MDB_txn *txn, const wf_store_t *s, uint64_t seq, uint8_t out[32]);
/* Writes the signed head for entry seq into jmeta "head". txn is a
 * journal transaction, as for every wf_journal__ function. */
int wf_journal__sign_head(MDB_txn *txn, const wf_store_t *s, uint64_t seq, const uint8_t sk[64]);
/* Takes back entries seq + 1 .. last, never acknowledged (their batch's
 * state commit failed), and signs the head of seq again (none for 0). */
int wf_journal__truncate(MDB_txn *txn, wf_store_t *s, uint64_t seq, uint64_t last,
                         const uint8_t sk[64]);
/* The signed bytes of a head: BE64(seq) || hash. */
void wf_journal__head_msg(uint64_t seq, const uint8_t hash[32], uint8_t out[40]);
/* The last journal seq, 0 when empty. */
int wf_journal__last(MDB_txn *txn, const wf_store_t *s, uint64_t *seq);
/* Gives back the whole entry from its stored bytes. Returns WF_OK, or
 * WF_E_INTERNAL for bytes that are not a well-formed entry. */
int wf_journal__decode(const void *data, size_t len, wf_journal_rec_t *out);
/* The stored bytes of rec (at most WF_JOURNAL_DISK_MAX); returns their
 * length. */
size_t wf_journal__encode(const wf_journal_rec_t *rec, uint8_t *out);
/* Writes entry seq as stored (squeezed), hash and all as rec has them;
 * flags as mdb_put's. For the journal and for tests that forge one. */
int wf_journal__put(MDB_txn *txn, const wf_store_t *s, uint64_t seq, const wf_journal_rec_t *rec,
                    unsigned flags);
/* Reads entry seq into out. Returns WF_OK, WF_E_NOTFOUND or WF_E_INTERNAL. */
int wf_journal__get(MDB_txn *txn, const wf_store_t *s, uint64_t seq, wf_journal_rec_t *out);

#endif
