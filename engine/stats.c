/* Market statistics: what the `stats` op, the metrics endpoint, the
 * dashboard and the time-driven feed (book.<code>, daily.<code>) report.
 *
 * Figures that are cheap to keep are kept incrementally in memory and
 * rebuilt at start from the store: the book's live totals per code and
 * class (matcher/book.c keeps them as orders come and go), and here the
 * matches' totals per code, class and China Standard Time day, a
 * histogram of times to match, the last 512 matches with the places of
 * their orders, and the current day's fills for its price summary. Every
 * code path that makes a match calls wf_stats__match() after its child
 * transaction has committed. The rest is computed on demand: credit tiers
 * from the firm table, manifest states by a read of at most
 * WF_STATS_SCAN_MAX records, newest first.
 *
 * Time to match is counted once per fill: how long the resting order had
 * waited in the book (fill time minus its posting time); the incoming
 * order's own wait is zero and is not counted. Fills made by call
 * auctions and optimize's apply are counted everywhere but in time to
 * match (their orders' posting times are not at hand there). */
#include "engine_int.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../credit/score.h"
#include "wf_alloc.h"
#include "wf_error.h"
#include "wf_hist.h"

#define RECENT_MAX 512
#define DAY_MS 86400000LL
#define CST_MS (8LL * 3600000LL)   /* China Standard Time: UTC+8, no daylight saving */
#define BOOK_FEED_MS 1000           /* book.<code> at most once a second per code */

typedef struct totals {
    uint64_t matches;
    int64_t qty;
    double tkm;
} totals_t;

typedef struct day_totals {
    int64_t day;        /* CST day number; 0 = unused slot */
    totals_t t;
} day_totals_t;

typedef struct day_fill {
    int32_t code;
    int64_t price, qty;
} day_fill_t;

struct wf_mstats {
    size_t ncodes;
    totals_t *codes;                    /* [ncodes] by catalogue id */
    totals_t classes[WF_CLASS__COUNT];
    totals_t total;
    day_totals_t days[WF_STATS_DAYS_MAX]; /* slot day % WF_STATS_DAYS_MAX */
    wf_hist_t waits;                    /* ms */
    wf_recent_match_t recent[RECENT_MAX]; /* ring; next write at head */
    size_t nrecent, head;
    int64_t cur_day;                    /* CST day of fills; INT64_MIN: none yet */
    bool cur_from_load;                 /* fills were reloaded at start */
    wf_vec_t fills;                     /* day_fill_t of cur_day */
    wf_vec_t pending;                   /* wf_feed_msg_t: daily summaries to publish */
    wf_vec_t due;                       /* wf_feed_msg_t: the last feed_due's messages */
    uint64_t *pub_version;              /* [ncodes] book level version last published */
    int64_t *pub_ts;                    /* [ncodes] when */
};

int64_t
wf_cst_day(int64_t t, char out[11])
{
    int64_t local = t + CST_MS;
    int64_t day = local >= 0 ? local / DAY_MS : -((-local + DAY_MS - 1) / DAY_MS);
    if (out) {
        time_t secs = (time_t)(day * 86400);
        struct tm tm;
        gmtime_r(&secs, &tm);
        snprintf(out, 11, "%04u-%02u-%02u", (unsigned)(tm.tm_year + 1900) % 10000u,
                 (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u);
    }
    return day;
}

static void
totals_add(totals_t *t, int64_t qty, double tkm)
{
    t->matches++;
    t->qty += qty;
    t->tkm += tkm;
}

/* ---- the day's price summaries ---- */

static int
by_code_price(const void *a, const void *b)
{
    const day_fill_t *x = a, *y = b;
    if (x->code != y->code)
        return x->code < y->code ? -1 : 1;
    return (x->price > y->price) - (x->price < y->price);
}

/* The day in fills is over: queue one daily.<code> summary per code that
 * traded (unless the day was reloaded at start, when its summary most
 * likely went out before the restart), then start day. */
static void
roll_day(wf_engine_t *e, int64_t day)
{
    struct wf_mstats *s = e->mstats;
    if (s->fills.n && !s->cur_from_load) {
        day_fill_t *f = s->fills.items;
        qsort(f, s->fills.n, sizeof *f, by_code_price);
        char date[11];
        wf_cst_day(s->cur_day * DAY_MS - CST_MS, date);
        for (size_t i = 0; i < s->fills.n;) {
            size_t j = i;
            int64_t qty = 0;
            double value = 0;
            while (j < s->fills.n && f[j].code == f[i].code) {
                qty += f[j].qty;
                value += (double)f[j].qty * (double)f[j].price;
                j++;
            }
            const char *code = wf_catalogue_get(e->cat, f[i].code)->code;
            wf_feed_msg_t *m = wf_vec__push(&s->pending);
            m->kind = WF_FEED_DAILY;
            snprintf(m->topic, sizeof m->topic, "daily.%s", code);
            snprintf(m->code, sizeof m->code, "%s", code);
            memcpy(m->day, date, sizeof m->day);
            m->count = j - i;
            m->qty = qty;
            m->min = f[i].price;
            m->max = f[j - 1].price;
            m->median = f[i + (j - i - 1) / 2].price;
            m->vwap = qty > 0 ? (int64_t)(value / (double)qty + (value >= 0 ? 0.5 : -0.5)) : 0;
            m->ts = (s->cur_day + 1) * DAY_MS - CST_MS; /* the midnight that closed the day */
            i = j;
        }
    }
    s->fills.n = 0;
    s->cur_day = day;
    s->cur_from_load = false;
}

/* ---- counting a match ---- */

static void
count_match(wf_engine_t *e, const wf_match_rec_t *m, const wf_order_rec_t *offer,
            const wf_order_rec_t *demand, bool loading)
{
    struct wf_mstats *s = e->mstats;
    int32_t code = wf_catalogue_find(e->cat, m->code);
    double tkm = (double)m->qty / 1000.0 * m->km;
    totals_add(&s->total, m->qty, tkm);
    if (code >= 0 && (size_t)code < s->ncodes) {
        totals_add(&s->codes[code], m->qty, tkm);
        totals_add(&s->classes[wf_catalogue_get(e->cat, code)->cls], m->qty, tkm);
    }
    int64_t day = wf_cst_day(m->ts, NULL);
    day_totals_t *d = &s->days[(uint64_t)day % WF_STATS_DAYS_MAX];
    if (d->day < day) {
        memset(d, 0, sizeof *d);
        d->day = day;
    }
    if (d->day == day)
        totals_add(&d->t, m->qty, tkm);

    const wf_order_rec_t *resting = m->taker_side == WF_OFFER ? demand : offer;
    if (resting && resting->posted > 0)
        wf_hist_add(&s->waits, m->ts > resting->posted ? (uint64_t)(m->ts - resting->posted) : 0);

    wf_recent_match_t *r = &s->recent[s->head];
    memset(r, 0, sizeof *r);
    r->id = m->id;
    r->ts = m->ts;
    memcpy(r->code, m->code, sizeof r->code);
    r->qty = m->qty;
    r->price = m->price;
    r->km = m->km;
    if (offer) {
        r->offer_lat = offer->lat;
        r->offer_lon = offer->lon;
    }
    if (demand) {
        r->demand_lat = demand->lat;
        r->demand_lon = demand->lon;
    }
    s->head = (s->head + 1) % RECENT_MAX;
    if (s->nrecent < RECENT_MAX)
        s->nrecent++;

    if (code < 0)
        return;
    if (day > s->cur_day) {
        if (loading) { /* only the last day's fills are kept */
            s->fills.n = 0;
            s->cur_day = day;
        } else {
            roll_day(e, day);
        }
        s->cur_from_load = loading;
    }
    if (day == s->cur_day) {
        if (!loading)
            s->cur_from_load = false; /* traded after a restart: the day will be summarised whole */
        day_fill_t *f = wf_vec__push(&s->fills);
        f->code = code;
        f->price = m->price;
        f->qty = m->qty;
    }
}

void
wf_stats__match(wf_engine_t *e, const wf_match_rec_t *m, const wf_order_rec_t *offer,
                const wf_order_rec_t *demand)
{
    if (e->mstats)
        count_match(e, m, offer, demand, false);
}

void
wf_stats__free(wf_engine_t *e)
{
    struct wf_mstats *s = e->mstats;
    if (!s)
        return;
    wf_free(s->codes);
    wf_free(s->pub_version);
    wf_free(s->pub_ts);
    wf_vec__free(&s->fills);
    wf_vec__free(&s->pending);
    wf_vec__free(&s->due);
    wf_free(s);
    e->mstats = NULL;
}

/* Reads order id into out; false when it is missing or malformed. */
static bool
read_order(wf_engine_t *e, MDB_txn *txn, uint64_t id, wf_order_rec_t *out)
{
    uint8_t key[8];
    wf_store__be64(key, id);
    return wf_store__get(txn, e->store.orders, key, 8, out, sizeof *out) == WF_OK;
}

int
wf_stats__load(wf_engine_t *e, MDB_txn *txn, char *err, size_t errlen)
{
    wf_stats__free(e);
    struct wf_mstats *s = wf_calloc(1, sizeof *s);
    e->mstats = s;
    s->ncodes = wf_catalogue_count(e->cat);
    s->codes = wf_calloc(s->ncodes ? s->ncodes : 1, sizeof *s->codes);
    s->pub_version = wf_calloc(s->ncodes ? s->ncodes : 1, sizeof *s->pub_version);
    s->pub_ts = wf_calloc(s->ncodes ? s->ncodes : 1, sizeof *s->pub_ts);
    s->cur_day = INT64_MIN;
    s->fills.size = sizeof(day_fill_t);
    s->pending.size = s->due.size = sizeof(wf_feed_msg_t);

    /* Every match once, in id order: two order reads each. */
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, e->store.matches, &c);
    if (rc != 0)
        return wf_store__err(rc);
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        wf_match_rec_t m;
        if (v.mv_size != sizeof m) {
            snprintf(err, errlen, "corrupt match record (%zu bytes)", v.mv_size);
            mdb_cursor_close(c);
            return WF_E_INTERNAL;
        }
        memcpy(&m, v.mv_data, sizeof m);
        wf_order_rec_t o, d;
        bool ho = read_order(e, txn, m.offer, &o), hd = read_order(e, txn, m.demand, &d);
        count_match(e, &m, ho ? &o : NULL, hd ? &d : NULL, true);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? WF_OK : wf_store__err(rc);
}

/* ---- the time-driven feed ---- */

size_t
wf_engine_feed_due(wf_engine_t *self, int64_t now, const wf_feed_msg_t **out)
{
    struct wf_mstats *s = self->mstats;
    *out = NULL;
    if (!s)
        return 0;
    s->due.n = 0;
    int64_t today = wf_cst_day(now, NULL);
    if (s->cur_day != INT64_MIN && today > s->cur_day)
        roll_day(self, today);
    for (size_t i = 0; i < s->pending.n; i++)
        *(wf_feed_msg_t *)wf_vec__push(&s->due) = ((wf_feed_msg_t *)s->pending.items)[i];
    s->pending.n = 0;
    /* Bounded by the catalogue: one look per code. */
    for (size_t id = 0; id < s->ncodes; id++) {
        wf_book_level_t l = wf_book_level(self->book, (int32_t)id);
        if (l.version == s->pub_version[id] || now - s->pub_ts[id] < BOOK_FEED_MS)
            continue;
        const char *code = wf_catalogue_get(self->cat, (int32_t)id)->code;
        wf_feed_msg_t *m = wf_vec__push(&s->due);
        m->kind = WF_FEED_BOOK;
        snprintf(m->topic, sizeof m->topic, "book.%s", code);
        snprintf(m->code, sizeof m->code, "%s", code);
        m->offers = l.qty[WF_OFFER];
        m->demands = l.qty[WF_DEMAND];
        m->offer_orders = l.orders[WF_OFFER];
        m->demand_orders = l.orders[WF_DEMAND];
        m->ts = now;
        s->pub_version[id] = l.version;
        s->pub_ts[id] = now;
    }
    *out = s->due.items;
    return s->due.n;
}

size_t
wf_engine_recent_matches(const wf_engine_t *self, int64_t since, wf_recent_match_t *out, size_t cap)
{
    const struct wf_mstats *s = self->mstats;
    size_t n = 0;
    for (size_t i = 0; s && i < s->nrecent && n < cap; i++) {
        const wf_recent_match_t *r = &s->recent[(s->head + RECENT_MAX - 1 - i) % RECENT_MAX];
        if (r->ts < since)
            continue;
        out[n++] = *r;
    }
    return n;
}

/* ---- the stats ---- */

static void
row_live(wf_stats_row_t *r, wf_book_level_t l)
{
    r->offers = l.orders[WF_OFFER];
    r->offer_qty = l.qty[WF_OFFER];
    r->demands = l.orders[WF_DEMAND];
    r->demand_qty = l.qty[WF_DEMAND];
}

static void
row_matched(wf_stats_row_t *r, const totals_t *t)
{
    r->matches = t->matches;
    r->matched_qty = t->qty;
    r->tonne_km = t->tkm;
}

static int64_t
row_weight(const wf_stats_row_t *r)
{
    return r->offer_qty + r->demand_qty + r->matched_qty;
}

static int
by_weight(const void *a, const void *b)
{
    const wf_stats_row_t *x = a, *y = b;
    int64_t wx = row_weight(x), wy = row_weight(y);
    if (wx != wy)
        return wx > wy ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Counts manifests by state, newest first, at most WF_STATS_SCAN_MAX, in
 * txn (the batch's inside an op; NULL: a read transaction of its own). */
static int
scan_manifests(wf_engine_t *e, MDB_txn *in, wf_stats_t *out)
{
    bool own = false;
    MDB_txn *txn = in ? in : wf_engine__read_txn(e, &own);
    if (!txn)
        return WF_E_INTERNAL;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, e->store.manifests, &c);
    if (rc != 0) {
        if (own)
            mdb_txn_abort(txn);
        return wf_store__err(rc);
    }
    MDB_val k, v;
    size_t at = offsetof(wf_manifest_rec_t, state);
    for (rc = mdb_cursor_get(c, &k, &v, MDB_LAST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_PREV)) {
        if (out->manifests_seen == WF_STATS_SCAN_MAX) {
            out->manifests_truncated = true;
            break;
        }
        out->manifests_seen++;
        if (v.mv_size > at) {
            uint8_t st = ((const uint8_t *)v.mv_data)[at];
            if (st < 6)
                out->manifests[st]++;
        }
    }
    mdb_cursor_close(c);
    if (own)
        mdb_txn_abort(txn);
    out->manifests_scanned = true;
    return rc == 0 || rc == MDB_NOTFOUND ? WF_OK : wf_store__err(rc);
}

static int
stats_fill(wf_engine_t *self, MDB_txn *txn, int64_t now, uint32_t top, uint32_t ndays, bool scan,
           wf_stats_t *out)
{
    struct wf_mstats *s = self->mstats;
    memset(out, 0, sizeof *out);
    if (!s)
        return WF_E_INTERNAL;
    if (top < 1)
        top = 1;
    if (top > WF_STATS_TOP_MAX)
        top = WF_STATS_TOP_MAX;
    if (ndays < 1)
        ndays = 1;
    if (ndays > WF_STATS_DAYS_MAX)
        ndays = WF_STATS_DAYS_MAX;
    out->ts = now;
    out->journal_seq = self->journal_seq;

    snprintf(out->total.name, sizeof out->total.name, "all");
    for (int c = 0; c < WF_CLASS__COUNT; c++) {
        wf_stats_row_t *r = &out->classes[c];
        snprintf(r->name, sizeof r->name, "%s", wf_class_name((wf_class_t)c));
        wf_book_level_t l = wf_book_class_level(self->book, (wf_class_t)c);
        row_live(r, l);
        row_matched(r, &s->classes[c]);
        out->total.offers += r->offers;
        out->total.offer_qty += r->offer_qty;
        out->total.demands += r->demands;
        out->total.demand_qty += r->demand_qty;
    }
    row_matched(&out->total, &s->total);

    /* The busiest codes: a bounded selection over the catalogue. */
    for (size_t id = 0; id < s->ncodes; id++) {
        wf_stats_row_t r;
        memset(&r, 0, sizeof r);
        row_live(&r, wf_book_level(self->book, (int32_t)id));
        row_matched(&r, &s->codes[id]);
        if (row_weight(&r) == 0 && r.offers == 0 && r.demands == 0 && r.matches == 0)
            continue;
        snprintf(r.name, sizeof r.name, "%s", wf_catalogue_get(self->cat, (int32_t)id)->code);
        if (out->ncodes < top) {
            out->codes[out->ncodes++] = r;
            qsort(out->codes, out->ncodes, sizeof r, by_weight);
        } else if (by_weight(&r, &out->codes[top - 1]) < 0) {
            out->codes[top - 1] = r;
            qsort(out->codes, out->ncodes, sizeof r, by_weight);
        }
    }

    int64_t today = wf_cst_day(now, NULL);
    for (uint32_t i = 0; i < ndays; i++) {
        int64_t day = today - (int64_t)i;
        wf_stats_day_t *d = &out->days[out->ndays++];
        wf_cst_day(day * DAY_MS - CST_MS, d->day);
        const day_totals_t *t = &s->days[(uint64_t)day % WF_STATS_DAYS_MAX];
        if (t->day == day) {
            d->matches = t->t.matches;
            d->qty = t->t.qty;
            d->tonne_km = t->t.tkm;
        }
    }

    out->co2_per_tkm = self->config.co2_per_tkm;
    out->co2_kg = out->total.tonne_km * out->co2_per_tkm;
    out->waits = s->waits.count;
    out->wait_p50_ms = (int64_t)wf_hist_quantile(&s->waits, 0.5);
    out->wait_p90_ms = (int64_t)wf_hist_quantile(&s->waits, 0.9);
    out->wait_max_ms = (int64_t)s->waits.max;

    wf_tiers_t tiers = {self->config.tier_a, self->config.tier_b, self->config.tier_c};
    for (uint32_t i = 0; i < self->firms.cap; i++) {
        const wf_firm_rec_t *f = &self->firms.recs[i];
        if (!f->id[0] || f->roles == WF_ROLE_OPERATOR)
            continue;
        out->firms++;
        char t = wf_credit_tier(self->firms.parties[i].credit, &tiers);
        if (t >= 'A' && t <= 'D')
            out->tiers[t - 'A']++;
        if (f->blocked)
            out->blocked++;
    }
    return scan ? scan_manifests(self, txn, out) : WF_OK;
}

int
wf_engine_stats(wf_engine_t *self, int64_t now, uint32_t top, uint32_t ndays, bool scan,
                wf_stats_t *out)
{
    return stats_fill(self, NULL, now, top, ndays, scan, out);
}

int
wf_op__stats(wf_exec_t *x)
{
    if (!(x->as->roles & WF_ROLE_OPERATOR))
        return wf_exec__fail(x, WF_E_AUTH, "stats is for operators only");
    uint32_t top = x->cmd->u.stats.top, days = x->cmd->u.stats.days;
    if (top < 1 || top > WF_STATS_TOP_MAX)
        return wf_exec__fail(x, WF_E_FIELD, "top must be 1..%d, got %u", WF_STATS_TOP_MAX, top);
    if (days < 1 || days > WF_STATS_DAYS_MAX)
        return wf_exec__fail(x, WF_E_FIELD, "days must be 1..%d, got %u", WF_STATS_DAYS_MAX, days);
    wf_stats_t *st = wf_arena__alloc(&x->e->arena, sizeof *st);
    int rc = stats_fill(x->e, x->txn, x->now, top, days, true, st);
    if (rc != WF_OK)
        return wf_exec__fail(x, rc, "stats: cannot read the manifests");
    x->reply->stats = st;
    return WF_OK;
}
