/* What-if replay (whatif.h): two scratch engines fed the same journal in
 * lockstep, one with changed settings, and the figures both produce over
 * a window, collected from their outboxes after each batch. Also the
 * table of setting names that the CLI's --set and config.get's history
 * use. */
#define _GNU_SOURCE /* nftw */
#include "whatif.h"

#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_int.h"
#include "wf_alloc.h"
#include "wf_error.h"

/* ---- setting names ---- */

enum { K_DOUBLE, K_I32, K_I64, K_BOOL };

static const struct {
    const char *name;
    uint32_t bit;
    int kind;
    size_t off;
} keys[] = {
    {"w_credit", WF_CFG_W_CREDIT, K_DOUBLE, offsetof(wf_config_t, w_credit)},
    {"w_distance", WF_CFG_W_DISTANCE, K_DOUBLE, offsetof(wf_config_t, w_distance)},
    {"w_price", WF_CFG_W_PRICE, K_DOUBLE, offsetof(wf_config_t, w_price)},
    {"tier_a", WF_CFG_TIER_A, K_I32, offsetof(wf_config_t, tier_a)},
    {"tier_b", WF_CFG_TIER_B, K_I32, offsetof(wf_config_t, tier_b)},
    {"tier_c", WF_CFG_TIER_C, K_I32, offsetof(wf_config_t, tier_c)},
    {"push_delay_b", WF_CFG_PUSH_DELAY_B, K_I64, offsetof(wf_config_t, push_delay_b)},
    {"push_delay_c", WF_CFG_PUSH_DELAY_C, K_I64, offsetof(wf_config_t, push_delay_c)},
    {"county_rule", WF_CFG_COUNTY_RULE, K_BOOL, offsetof(wf_config_t, county_rule)},
    {"city_rule", WF_CFG_CITY_RULE, K_BOOL, offsetof(wf_config_t, city_rule)},
    {"eco_fee", WF_CFG_ECO_FEE, K_I64, offsetof(wf_config_t, eco_fee)},
    {"discrepancy_pct", WF_CFG_DISCREPANCY_PCT, K_DOUBLE, offsetof(wf_config_t, discrepancy_pct)},
    {"co2_per_tkm", WF_CFG_CO2_PER_TKM, K_DOUBLE, offsetof(wf_config_t, co2_per_tkm)},
    {"stream_keep_days", WF_CFG_STREAM_KEEP_DAYS, K_I32, offsetof(wf_config_t, stream_keep_days)},
    {"rate_per_s", WF_CFG_RATE_PER_S, K_I32, offsetof(wf_config_t, rate_per_s)},
    {"rate_burst", WF_CFG_RATE_BURST, K_I32, offsetof(wf_config_t, rate_burst)},
    {"manifest_age", WF_CFG_MANIFEST_AGE, K_I64, offsetof(wf_config_t, manifest_age)},
    {"discrepancy_points", WF_CFG_DISCREPANCY_POINTS, K_I32,
     offsetof(wf_config_t, discrepancy_points)},
    {"cancel_points", WF_CFG_CANCEL_POINTS, K_I32, offsetof(wf_config_t, cancel_points)},
    {"expiry_points", WF_CFG_EXPIRY_POINTS, K_I32, offsetof(wf_config_t, expiry_points)},
};
#define NKEYS (sizeof keys / sizeof keys[0])

const char *
wf_config_key_name(uint32_t bit)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].bit == bit)
            return keys[i].name;
    return NULL;
}

int
wf_config_parse(const char *key, const char *val, uint32_t *set, wf_config_t *values, char *err,
                size_t errlen)
{
    for (size_t i = 0; i < NKEYS; i++) {
        if (strcmp(keys[i].name, key) != 0)
            continue;
        char *end = NULL;
        char *p = (char *)values + keys[i].off;
        errno = 0;
        switch (keys[i].kind) {
        case K_DOUBLE: {
            double d = strtod(val, &end);
            if (!*val || *end || errno || !isfinite(d))
                goto bad;
            memcpy(p, &d, sizeof d);
            break;
        }
        case K_I32:
        case K_I64: {
            long long v = strtoll(val, &end, 10);
            if (!*val || *end || errno)
                goto bad;
            if (keys[i].kind == K_I32) {
                if (v < INT32_MIN || v > INT32_MAX)
                    goto bad;
                int32_t v32 = (int32_t)v;
                memcpy(p, &v32, sizeof v32);
            } else {
                int64_t v64 = v;
                memcpy(p, &v64, sizeof v64);
            }
            break;
        }
        default: {
            bool b;
            if (strcmp(val, "true") == 0 || strcmp(val, "1") == 0)
                b = true;
            else if (strcmp(val, "false") == 0 || strcmp(val, "0") == 0)
                b = false;
            else
                goto bad;
            memcpy(p, &b, sizeof b);
            break;
        }
        }
        *set |= keys[i].bit;
        return WF_OK;
    bad:
        snprintf(err, errlen, "%s needs %s, not \"%s\"", key,
                 keys[i].kind == K_DOUBLE ? "a number"
                 : keys[i].kind == K_BOOL ? "true or false" : "an integer", val);
        return WF_E_FIELD;
    }
    snprintf(err, errlen, "%s is not a setting (w_credit, w_distance, w_price, tier_a, tier_b, "
             "tier_c, push_delay_b, push_delay_c, county_rule, city_rule, eco_fee, ...)", key);
    return WF_E_FIELD;
}

void
wf_config_format(const wf_config_t *c, uint32_t set, const char *sep, char *out, size_t len)
{
    size_t at = 0;
    if (len)
        out[0] = '\0';
    for (size_t i = 0; i < NKEYS && at < len; i++) {
        if (!(set & keys[i].bit))
            continue;
        const char *p = (const char *)c + keys[i].off;
        char v[48];
        switch (keys[i].kind) {
        case K_DOUBLE: {
            double d;
            memcpy(&d, p, sizeof d);
            snprintf(v, sizeof v, "%g", d);
            break;
        }
        case K_I32: {
            int32_t x;
            memcpy(&x, p, sizeof x);
            snprintf(v, sizeof v, "%d", x);
            break;
        }
        case K_I64: {
            int64_t x;
            memcpy(&x, p, sizeof x);
            snprintf(v, sizeof v, "%lld", (long long)x);
            break;
        }
        default: {
            unsigned char b;
            memcpy(&b, p, 1);
            snprintf(v, sizeof v, "%s", b ? "true" : "false");
            break;
        }
        }
        int n = snprintf(out + at, len - at, "%s%s=%s", at ? sep : "", keys[i].name, v);
        if (n < 0)
            break;
        at += (size_t)n;
    }
}

/* ---- one run's tallies ---- */

typedef struct pair {
    uint64_t offer, demand;
    int64_t qty;
    uint32_t producer, consumer;   /* firm numbers */
} pair_t;

/* A set of non-zero ids: open addressing, load at most one half. */
typedef struct idset {
    uint64_t *slots;
    size_t nslots, n;
} idset_t;

typedef struct run {
    wf_engine_t *e;
    char dir[4200];
    wf_whatif_figures_t fig;
    int64_t *firm_qty;             /* by firm number */
    uint32_t nfirm;
    idset_t notified;              /* resting orders told about */
    idset_t matched;               /* match ids counted (a match may be told to both firms) */
    int64_t *waits;
    size_t nwaits, capwaits;
    pair_t *pairs;
    size_t npairs, cappairs;
} run_t;

static void
run_fini(run_t *r)
{
    wf_engine_destroy(&r->e);
    wf_free(r->firm_qty);
    wf_free(r->notified.slots);
    wf_free(r->matched.slots);
    wf_free(r->waits);
    wf_free(r->pairs);
    r->firm_qty = NULL;
    memset(&r->notified, 0, sizeof r->notified);
    memset(&r->matched, 0, sizeof r->matched);
    r->waits = NULL;
    r->pairs = NULL;
}

static void
firm_add(run_t *r, uint32_t number, int64_t qty)
{
    if (number >= r->nfirm) {
        uint32_t n = r->nfirm ? r->nfirm : 64;
        while (n <= number)
            n *= 2;
        r->firm_qty = wf_realloc(r->firm_qty, n * sizeof *r->firm_qty);
        memset(r->firm_qty + r->nfirm, 0, (n - r->nfirm) * sizeof *r->firm_qty);
        r->nfirm = n;
    }
    r->firm_qty[number] += qty;
}

/* Adds id to the set; returns true when it was new. */
static bool
idset_add(idset_t *set, uint64_t id)
{
    if (id == 0)
        return false;
    if (2 * (set->n + 1) > set->nslots) {
        size_t n = set->nslots ? 2 * set->nslots : 1024;
        uint64_t *s = wf_malloc(n * sizeof *s);
        memset(s, 0, n * sizeof *s);
        for (size_t i = 0; i < set->nslots; i++) {
            uint64_t v = set->slots[i];
            if (!v)
                continue;
            size_t h = (size_t)(v * 0x9E3779B97F4A7C15ull) & (n - 1);
            while (s[h])
                h = (h + 1) & (n - 1);
            s[h] = v;
        }
        wf_free(set->slots);
        set->slots = s;
        set->nslots = n;
    }
    size_t h = (size_t)(id * 0x9E3779B97F4A7C15ull) & (set->nslots - 1);
    while (set->slots[h]) { /* load <= 1/2: ends */
        if (set->slots[h] == id)
            return false;
        h = (h + 1) & (set->nslots - 1);
    }
    set->slots[h] = id;
    set->n++;
    return true;
}

static int
tier_index(const wf_engine_t *e, const char *firm)
{
    const wf_firm_rec_t *f = wf_firmtab__find(&e->firms, firm);
    if (!f)
        return 3;
    char t = wf_credit__tier(e, e->firms.parties[f->number].credit);
    return t >= 'A' && t <= 'D' ? t - 'A' : 3;
}

static int64_t
posted_of(wf_engine_t *e, MDB_txn *txn, uint64_t id)
{
    uint8_t key[8];
    wf_store__be64(key, id);
    MDB_val k = {sizeof key, key}, v;
    if (!txn || mdb_get(txn, e->store.orders, &k, &v) != 0 || v.mv_size != sizeof(wf_order_rec_t))
        return 0;
    int64_t posted;
    memcpy(&posted, (const char *)v.mv_data + offsetof(wf_order_rec_t, posted), sizeof posted);
    return posted;
}

/* Counts what one batch of r's engine sent. Visits each message once. */
static void
tally(run_t *r, const wf_outbox_t *out)
{
    wf_engine_t *e = r->e;
    MDB_txn *txn = NULL;
    bool own = false;
    for (size_t i = 0; i < out->nstream; i++) {
        const wf_stream_msg_t *s = &out->stream[i];
        if (s->type == WF_MSG_NOTIFY) {
            if (idset_add(&r->notified, s->u.notify.order.id)) {
                r->fig.notified++;
                r->fig.first_tier[tier_index(e, s->firm)]++;
            }
            continue;
        }
        /* a continuous fill is told to the resting firm, a clearing's to
         * both: count each match once */
        if (s->type != WF_MSG_MATCH || !idset_add(&r->matched, s->u.match.m.id))
            continue;
        const wf_match_rec_t *m = &s->u.match.m;
        r->fig.matches++;
        r->fig.qty += m->qty;
        r->fig.tonne_km += (double)m->qty / 1000.0 * m->km;
        bool taker_offer = m->taker_side == WF_OFFER;
        r->fig.tier_qty[tier_index(e, taker_offer ? m->consumer : m->producer)] += m->qty;
        const wf_firm_rec_t *p = wf_firmtab__find(&e->firms, m->producer);
        const wf_firm_rec_t *c = wf_firmtab__find(&e->firms, m->consumer);
        if (p)
            firm_add(r, p->number, m->qty);
        if (c)
            firm_add(r, c->number, m->qty);
        if (!txn)
            txn = wf_engine__read_txn(e, &own);
        int64_t posted = posted_of(e, txn, taker_offer ? m->demand : m->offer);
        if (posted > 0) {
            if (r->nwaits == r->capwaits) {
                r->capwaits = r->capwaits ? 2 * r->capwaits : 256;
                r->waits = wf_realloc(r->waits, r->capwaits * sizeof *r->waits);
            }
            r->waits[r->nwaits++] = m->ts > posted ? m->ts - posted : 0;
        }
        if (r->npairs == r->cappairs) {
            r->cappairs = r->cappairs ? 2 * r->cappairs : 256;
            r->pairs = wf_realloc(r->pairs, r->cappairs * sizeof *r->pairs);
        }
        r->pairs[r->npairs++] = (pair_t){m->offer, m->demand, m->qty, p ? p->number : UINT32_MAX,
                                         c ? c->number : UINT32_MAX};
    }
    if (txn && own)
        mdb_txn_abort(txn);
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int
cmp_pair(const void *a, const void *b)
{
    const pair_t *x = a, *y = b;
    if (x->offer != y->offer)
        return x->offer < y->offer ? -1 : 1;
    return (x->demand > y->demand) - (x->demand < y->demand);
}

static void
finish(run_t *r)
{
    r->fig.waits = r->nwaits;
    if (r->nwaits) {
        qsort(r->waits, r->nwaits, sizeof *r->waits, cmp_i64);
        r->fig.wait_p50_ms = r->waits[(r->nwaits - 1) / 2];
    }
    if (r->npairs)
        qsort(r->pairs, r->npairs, sizeof *r->pairs, cmp_pair);
    /* merge the fills of one pair */
    size_t w = 0;
    for (size_t i = 0; i < r->npairs; i++) {
        if (w && r->pairs[w - 1].offer == r->pairs[i].offer
            && r->pairs[w - 1].demand == r->pairs[i].demand)
            r->pairs[w - 1].qty += r->pairs[i].qty;
        else
            r->pairs[w++] = r->pairs[i];
    }
    r->npairs = w;
}

/* ---- the replay ---- */

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

static int
run_open(run_t *r, const wf_whatif_opts_t *o, size_t map_size, const char *tag, char *err,
         size_t errlen)
{
    const char *tmp = o->scratch_dir ? o->scratch_dir : getenv("TMPDIR");
    snprintf(r->dir, sizeof r->dir, "%s/wufei-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
    if (!mkdtemp(r->dir)) {
        snprintf(err, errlen, "cannot make a scratch directory %s: %s", r->dir, strerror(errno));
        r->dir[0] = '\0';
        return WF_E_INTERNAL;
    }
    wf_engine_opts_t eo = {.dir = r->dir, .catalogue = o->catalogue,
                           .catalogue_add = o->catalogue_add, .map_size = map_size,
                           .no_sync = true};
    r->e = wf_engine_new(&eo, err, errlen);
    return r->e ? WF_OK : WF_E_INTERNAL;
}

static void
run_remove(run_t *r)
{
    run_fini(r);
    if (r->dir[0])
        nftw(r->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The what-if's settings as the operator's config.set at now. */
static int
inject(run_t *r, const wf_whatif_opts_t *o, int64_t now, wf_reply_t *reply, char *err,
       size_t errlen)
{
    wf_cmd_t *c = wf_malloc(sizeof *c);
    memset(c, 0, sizeof *c);
    c->op = WF_OP_CONFIG_SET;
    snprintf(c->as, sizeof c->as, "%s", WF_OPERATOR_ID);
    c->u.config.set = o->set;
    memcpy(&c->u.config.values, &o->values, sizeof c->u.config.values);
    wf_outbox_t out;
    int rc = wf_engine_apply(r->e, c, 1, now, reply, &out);
    wf_free(c);
    if (rc == WF_OK && reply->err != WF_OK)
        rc = reply->err;
    if (rc != WF_OK)
        snprintf(err, errlen, "the what-if settings are refused: %s %s", wf_err_name(rc),
                 reply->msg);
    return rc;
}

static bool
in_window(const wf_whatif_opts_t *o, uint64_t seq, int64_t now)
{
    return (!o->from_seq || seq >= o->from_seq) && (!o->from_ts || now >= o->from_ts);
}

static bool
past_window(const wf_whatif_opts_t *o, uint64_t seq, int64_t now)
{
    return (o->to_seq && seq > o->to_seq) || (o->to_ts && now >= o->to_ts);
}

/* Feeds the journal of the snapshot to both runs in lockstep. */
static int
replay_both(MDB_txn *txn, const wf_store_t *s, const wf_whatif_opts_t *o, run_t *real,
            run_t *alt, wf_whatif_report_t *rep, char *err, size_t errlen)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s->journal, &c);
    if (rc != 0)
        return wf_store__err(rc);
    wf_journal_rec_t *rec = wf_malloc(sizeof *rec);
    wf_reply_t *reply = wf_malloc(sizeof *reply);
    wf_cmd_t tick;
    memset(&tick, 0, sizeof tick);
    tick.op = WF_OP_TICK;
    bool started = false;
    MDB_val k, v;
    rc = WF_OK;
    int mrc;
    for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0;
         mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8 || wf_journal__decode(v.mv_data, v.mv_size, rec) != WF_OK) {
            snprintf(err, errlen, "the journal has a malformed entry");
            rc = WF_E_INTERNAL;
            break;
        }
        uint64_t seq = wf_store__from_be64(k.mv_data);
        if (past_window(o, seq, rec->now))
            break;
        bool inside = in_window(o, seq, rec->now);
        if (inside && !started) {
            started = true;
            rep->first_seq = seq;
            rep->first_ts = rec->now;
            if (o->set && (rc = inject(alt, o, rec->now, reply, err, errlen)) != WF_OK)
                break;
        }
        /* the what-if's own timers that fall due before this entry, while
         * the real run has none pending earlier */
        for (uint32_t n = 0; inside && o->set && n < WF_WHATIF_TIMERS_MAX; n++) {
            int64_t due = wf_engine_next_timer(alt->e);
            if (due >= rec->now || due >= wf_engine_next_timer(real->e))
                break;
            wf_outbox_t out;
            if (wf_engine_apply(alt->e, &tick, 1, due, reply, &out) != WF_OK
                || reply->err != WF_OK)
                break;
            alt->fig.timer_ticks++;
            tally(alt, &out);
        }
        wf_outbox_t out;
        int arc = wf_engine_apply(real->e, &rec->cmd, 1, rec->now, reply, &out);
        if (arc != WF_OK || reply->err != WF_OK || wf_engine_journal_seq(real->e) != seq) {
            snprintf(err, errlen, "journal entry %llu (%s at %lld) does not replay: %s %s",
                     (unsigned long long)seq,
                     wf_op_name(rec->cmd.op) ? wf_op_name(rec->cmd.op) : "?",
                     (long long)rec->now, wf_err_name(arc != WF_OK ? arc : reply->err),
                     arc != WF_OK || reply->err != WF_OK ? reply->msg : "(changed nothing)");
            rc = WF_E_INTERNAL;
            break;
        }
        rep->entries++;
        if (inside) {
            tally(real, &out);
            rep->window_entries++;
            rep->last_seq = seq;
            rep->last_ts = rec->now;
        }
        arc = wf_engine_apply(alt->e, &rec->cmd, 1, rec->now, reply, &out);
        if (arc != WF_OK) {
            snprintf(err, errlen, "the what-if run failed at entry %llu: %s",
                     (unsigned long long)seq, wf_strerror(arc));
            rc = arc;
            break;
        }
        if (reply->err != WF_OK)
            alt->fig.refused += inside;
        else if (inside)
            tally(alt, &out);
        if (inside && o->set && rec->cmd.op == WF_OP_CONFIG_SET && reply->err == WF_OK
            && (rc = inject(alt, o, rec->now, reply, err, errlen)) != WF_OK)
            break;
    }
    if (rc == WF_OK && mrc != 0 && mrc != MDB_NOTFOUND)
        rc = wf_store__err(mrc);
    wf_free(rec);
    wf_free(reply);
    mdb_cursor_close(c);
    return rc;
}

static int
cmp_gain(const void *a, const void *b)
{
    const wf_whatif_firm_t *x = a, *y = b;
    if (x->delta != y->delta)
        return x->delta > y->delta ? -1 : 1;
    return strcmp(x->id, y->id);
}

static void
set_firm(wf_whatif_firm_t *f, const wf_engine_t *e, uint32_t number, int64_t real_qty,
         int64_t alt_qty)
{
    memset(f, 0, sizeof *f);
    if (number < e->firms.cap) {
        memcpy(f->id, e->firms.recs[number].id, sizeof f->id);
        memcpy(f->name, e->firms.recs[number].name, sizeof f->name);
    }
    f->real_qty = real_qty;
    f->whatif_qty = alt_qty;
    f->delta = alt_qty - real_qty;
}

/* Gainers and losers: the largest deltas either way. O(firms log firms). */
static void
compare_firms(const run_t *real, const run_t *alt, wf_whatif_report_t *rep)
{
    uint32_t n = real->nfirm > alt->nfirm ? real->nfirm : alt->nfirm;
    wf_whatif_firm_t *all = wf_malloc((n ? n : 1) * sizeof *all);
    size_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        int64_t a = i < real->nfirm ? real->firm_qty[i] : 0;
        int64_t b = i < alt->nfirm ? alt->firm_qty[i] : 0;
        if (a != b)
            set_firm(&all[m++], real->e, i, a, b);
    }
    qsort(all, m, sizeof *all, cmp_gain);
    for (size_t i = 0; i < m && all[i].delta > 0 && rep->ngainers < WF_WHATIF_FIRMS_MAX; i++)
        rep->gainers[rep->ngainers++] = all[i];
    for (size_t i = m; i-- > 0 && all[i].delta < 0 && rep->nlosers < WF_WHATIF_FIRMS_MAX;)
        rep->losers[rep->nlosers++] = all[i];
    wf_free(all);
}

static void
note_change(wf_whatif_report_t *rep, const wf_engine_t *e, const pair_t *p, int64_t real_qty,
            int64_t alt_qty)
{
    rep->nchanges++;
    if (rep->nlisted == WF_WHATIF_CHANGES_MAX)
        return;
    wf_whatif_change_t *c = &rep->changes[rep->nlisted++];
    memset(c, 0, sizeof *c);
    c->offer = p->offer;
    c->demand = p->demand;
    if (p->producer < e->firms.cap)
        memcpy(c->producer, e->firms.recs[p->producer].id, sizeof c->producer);
    if (p->consumer < e->firms.cap)
        memcpy(c->consumer, e->firms.recs[p->consumer].id, sizeof c->consumer);
    c->real_qty = real_qty;
    c->whatif_qty = alt_qty;
}

/* Pairs whose quantity differs: a merge of the two sorted lists. */
static void
compare_pairs(const run_t *real, const run_t *alt, wf_whatif_report_t *rep)
{
    size_t i = 0, j = 0;
    while (i < real->npairs || j < alt->npairs) {
        int c = i == real->npairs ? 1 : j == alt->npairs ? -1
                                                         : cmp_pair(&real->pairs[i], &alt->pairs[j]);
        if (c < 0) {
            note_change(rep, real->e, &real->pairs[i], real->pairs[i].qty, 0);
            i++;
        } else if (c > 0) {
            note_change(rep, alt->e, &alt->pairs[j], 0, alt->pairs[j].qty);
            j++;
        } else {
            if (real->pairs[i].qty != alt->pairs[j].qty)
                note_change(rep, real->e, &real->pairs[i], real->pairs[i].qty, alt->pairs[j].qty);
            i++;
            j++;
        }
    }
}

int
wf_engine_whatif(const wf_whatif_opts_t *o, wf_whatif_report_t *rep, char *err, size_t errlen)
{
    memset(rep, 0, sizeof *rep);
    double t0 = mono_s();
    if (o->set & ~((WF_CFG__LAST << 1) - 1)) {
        snprintf(err, errlen, "unknown setting bits 0x%x", o->set);
        return WF_E_FIELD;
    }
    wf_store_t s;
    int rc = wf_store__open_readonly(&s, o->dir, err, errlen);
    if (rc != WF_OK)
        return rc;
    MDB_envinfo info;
    mdb_env_info(s.env, &info);
    MDB_txn *txn = NULL; /* the journal's snapshot: all the replay reads */
    rc = wf_store__err(mdb_txn_begin(s.jenv, NULL, MDB_RDONLY, &txn));
    if (rc != WF_OK) {
        snprintf(err, errlen, "%s: cannot begin a read transaction", o->dir);
        wf_store__close(&s);
        return rc;
    }
    run_t *real = wf_malloc(sizeof *real), *alt = wf_malloc(sizeof *alt);
    memset(real, 0, sizeof *real);
    memset(alt, 0, sizeof *alt);
    rc = run_open(real, o, info.me_mapsize, "replay", err, errlen);
    if (rc == WF_OK)
        rc = run_open(alt, o, info.me_mapsize, "whatif", err, errlen);
    if (rc == WF_OK)
        rc = replay_both(txn, &s, o, real, alt, rep, err, errlen);
    mdb_txn_abort(txn);
    wf_store__close(&s);
    if (rc == WF_OK && rep->window_entries == 0) {
        snprintf(err, errlen, "no journal entry falls in the window (%llu entries replayed)",
                 (unsigned long long)rep->entries);
        rc = WF_E_NOTFOUND;
    }
    if (rc == WF_OK) {
        finish(real);
        finish(alt);
        rep->real = real->fig;
        rep->whatif = alt->fig;
        compare_firms(real, alt, rep);
        compare_pairs(real, alt, rep);
    }
    run_remove(real);
    run_remove(alt);
    wf_free(real);
    wf_free(alt);
    rep->seconds = mono_s() - t0;
    return rc;
}
