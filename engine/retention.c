/* Stream retention: private-stream messages are stored before they are
 * sent and replayed by `hello after_seq`; the operator setting
 * stream_keep_days (default 30, 0 = keep forever) says how long. A
 * WF_TIMER_STREAM_TRIM timer runs trim passes in the writer loop.
 *
 * A pass walks the firms round-robin from where the last one stopped and,
 * per firm, deletes its oldest messages while they are older than the
 * cutoff (a firm's messages are in seq order, which is time order). Its
 * work is bounded: at most TRIM_MAX seeks and deletions per tick; a pass
 * that runs out continues at the next tick. A finished pass schedules the
 * next one for when the oldest message left turns old enough (or in
 * TRIM_PERIOD_MS at the latest when a setting changes). A deleted notify
 * lets go of its notice, which goes with its last message (stream.c).
 * Sequence numbers are never reused: a pass that deletes a firm's newest
 * message writes its seq into stream_floors, the floor the next start
 * counts on; a client that asks for trimmed messages simply gets the
 * stream from the oldest one kept. Like the stream, the floors are left
 * out of the state hash: when a pass runs depends on restarts. */
#include "engine_int.h"

#include <string.h>

#include "wf_error.h"

#define TRIM_MAX 1024
#define DAY_MS (24LL * 3600 * 1000)

static int64_t
keep_ms(const wf_engine_t *e)
{
    return (int64_t)e->config.stream_keep_days * DAY_MS;
}

static void
schedule(wf_engine_t *e, int64_t due)
{
    wf_timers__add(&e->timers, &(wf_timer_t){.due = due, .kind = WF_TIMER_STREAM_TRIM,
                                             .aux = e->trim_gen});
    e->trim_armed = true;
}

void
wf_trim__arm(wf_engine_t *e, int64_t ts)
{
    if (e->trim_armed || e->config.stream_keep_days <= 0)
        return;
    schedule(e, ts + keep_ms(e));
}

void
wf_trim__rearm(wf_engine_t *e, int64_t now)
{
    e->trim_gen++; /* the timer of the old setting is ignored when it fires */
    e->trim_armed = false;
    e->trim_visited = 0;
    e->trim_first = INT64_MAX;
    if (e->config.stream_keep_days > 0)
        schedule(e, now);
}

/* The time of firm's oldest stored message, or INT64_MAX. */
static int
oldest(wf_engine_t *e, MDB_cursor *c, const char *firm, int64_t *ts)
{
    uint8_t key[WF_FIRM_ID_LEN + 8];
    memcpy(key, firm, WF_FIRM_ID_LEN);
    memset(key + WF_FIRM_ID_LEN, 0, 8);
    MDB_val k = {sizeof key, key}, v;
    *ts = INT64_MAX;
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND)
        return WF_OK;
    if (rc != 0)
        return wf_store__err(rc);
    if (k.mv_size != sizeof key || memcmp(k.mv_data, firm, WF_FIRM_ID_LEN) != 0)
        return WF_OK;
    return wf_stream__ts(&v, ts);
}

/* Deletes the message c is on (firm's oldest): its notice loses a
 * reference; *seq is the deleted message's. */
static int
drop(wf_engine_t *e, MDB_txn *t, MDB_cursor *c, uint64_t *seq)
{
    MDB_val k, v;
    int rc = mdb_cursor_get(c, &k, &v, MDB_GET_CURRENT);
    if (rc != 0)
        return wf_store__err(rc);
    *seq = wf_store__from_be64((const uint8_t *)k.mv_data + WF_FIRM_ID_LEN);
    unsigned char val[sizeof(wf_stream_rec_t) + sizeof(wf_stream_notify_t)];
    size_t len = v.mv_size < sizeof val ? v.mv_size : sizeof val;
    memcpy(val, v.mv_data, len); /* v is LMDB's only until the next write */
    MDB_val copy = {v.mv_size <= sizeof val ? v.mv_size : 0, val};
    rc = mdb_cursor_del(c, 0);
    if (rc != 0)
        return wf_store__err(rc);
    return wf_stream__unref(t, &e->store, &copy);
}

/* A pass deleted firm's newest message: stream_floors keeps that seq as
 * the floor the next start derives the firm's seq from (the stream has no
 * key left to show it), so no seq is handed out twice. */
static int
keep_floor(wf_engine_t *e, MDB_txn *t, const char *firm, uint64_t seq)
{
    return wf_store__put(t, e->store.stream_floors, firm, WF_FIRM_ID_LEN, &seq, sizeof seq);
}

int
wf_trim__load(wf_engine_t *e, MDB_txn *txn)
{
    e->trim_armed = false;
    e->trim_firm = e->trim_visited = 0;
    e->trim_first = INT64_MAX;
    if (e->config.stream_keep_days <= 0)
        return WF_OK;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, e->store.stream, &c);
    if (rc != 0)
        return wf_store__err(rc);
    int64_t first = INT64_MAX;
    for (uint32_t n = 0; n < e->firms.cap && rc == WF_OK; n++) { /* O(firms) at start */
        if (!e->firms.recs[n].id[0] || !e->firms.recs[n].stream_seq)
            continue;
        int64_t ts;
        rc = oldest(e, c, e->firms.recs[n].id, &ts);
        if (ts < first)
            first = ts;
    }
    mdb_cursor_close(c);
    if (rc == WF_OK && first != INT64_MAX)
        schedule(e, first + keep_ms(e));
    return rc;
}

int
wf_trim__write(wf_exec_t *x, MDB_txn *t, wf_tick_t *k, wf_fire_t *f)
{
    wf_engine_t *e = x->e;
    (void)k;
    if (f->t.aux != e->trim_gen || e->config.stream_keep_days <= 0)
        return WF_OK; /* a timer of an older setting */
    f->acted = true; /* the apply step schedules what comes next */
    int64_t cutoff = x->now - keep_ms(e);
    MDB_cursor *c;
    int rc = mdb_cursor_open(t, e->store.stream, &c);
    if (rc != 0)
        return wf_store__err(rc);
    size_t work = 0;
    uint32_t cap = e->firms.cap, n = e->trim_firm < cap ? e->trim_firm : 0;
    uint32_t visited = e->trim_visited;
    int64_t first = e->trim_first;
    rc = WF_OK;
    while (rc == WF_OK && visited < cap && work < TRIM_MAX) {
        const wf_firm_rec_t *fr = &e->firms.recs[n];
        int64_t ts = INT64_MAX;
        if (fr->id[0] && fr->stream_seq) {
            uint64_t deleted = 0;
            for (;;) {
                rc = oldest(e, c, fr->id, &ts);
                work++;
                if (rc != WF_OK || ts >= cutoff || work >= TRIM_MAX)
                    break;
                rc = drop(e, t, c, &deleted);
                if (rc != WF_OK)
                    break;
            }
            if (rc == WF_OK && deleted && ts == INT64_MAX) /* nothing left: keep the seq */
                rc = keep_floor(e, t, fr->id, deleted);
        } else {
            work++;
        }
        if (rc != WF_OK || ts < cutoff)
            break; /* this firm has more: start here next time */
        if (ts < first)
            first = ts;
        n = n + 1 < cap ? n + 1 : 0;
        visited++;
    }
    mdb_cursor_close(c);
    if (rc != WF_OK)
        return rc;
    e->trim_next_firm = n;
    e->trim_next_visited = visited;
    e->trim_next_first = first;
    e->trim_next_due = INT64_MAX;
    if (visited < cap)
        f->again = true; /* the pass goes on at the next tick */
    else if (first != INT64_MAX)
        e->trim_next_due = first + keep_ms(e);
    return WF_OK;
}

void
wf_trim__apply(wf_exec_t *x, const wf_fire_t *f)
{
    wf_engine_t *e = x->e;
    if (f->t.aux != e->trim_gen)
        return;
    e->trim_firm = e->trim_next_firm;
    e->trim_visited = e->trim_next_visited;
    e->trim_first = e->trim_next_first;
    if (f->again)
        return; /* the same timer fires again at the next tick */
    e->trim_visited = 0;
    e->trim_first = INT64_MAX;
    e->trim_armed = false;
    if (e->trim_next_due != INT64_MAX)
        schedule(e, e->trim_next_due);
}
