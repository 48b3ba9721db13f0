/* Hazardous-waste licences and lanes in the engine (DESIGN.md "Licence",
 * docs/matching.md): the operator ops licence.put, lane.put and lane.del;
 * the demand.post check that answers E_LICENCE; and the matcher's
 * allowance, which says how much of a hazardous code a consumer may still
 * receive and which licences each planned fill draws on.
 *
 * Capacity belongs to a licence, and one licence may cover a whole
 * category, so the matcher is given env.use (book.h): each planned fill is
 * drawn at once from the consumer's valid licences that cover its code,
 * the one expiring first before the others (then the lower licence
 * number), and what the plan drew counts against the allowance of every
 * later fill of the plan, whatever its code. When the post's child
 * transaction writes its fills it also writes each licence it drew on with
 * its new usage, and memory follows only after that child commits. A lane
 * (producer, consumer, code) allows the fill outright and draws nothing.
 *
 * The pure rules (calendar year in China Standard Time, coverage, lanes)
 * are credit/licence.h's; this file keeps the tables and the store. */
#include "engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wf_alloc.h"
#include "wf_error.h"

#define LICENCES_PER_FIRM 64       /* bounds the per-fill licence walk */
#define LANES_PER_CONSUMER 256     /* bounds the per-candidate lane walk */
#define CAPACITY_MAX 1000000000000000LL /* 10^15 per year: sums stay far from INT64_MAX */
#define LANE_KEY_LEN (2 * WF_FIRM_ID_LEN + WF_CODE_LEN)

_Static_assert(WF_LICENCE_PATTERNS == WF_MAX_PATTERNS, "a licence holds as many patterns as a demand");

static bool
covers(void *ctx, int32_t pattern, int32_t code)
{
    return wf_catalogue_covers(ctx, pattern, code);
}

static bool
is_operator(const wf_firm_rec_t *f)
{
    return (f->roles & WF_ROLE_OPERATOR) != 0;
}

/* ---- the tables ---- */

static int
cmp_lic(const void *pa, const void *pb)
{
    const wf_lic_t *a = pa, *b = pb;
    if (a->l.firm != b->l.firm)
        return a->l.firm < b->l.firm ? -1 : 1;
    if (a->l.valid_until != b->l.valid_until)
        return a->l.valid_until < b->l.valid_until ? -1 : 1;
    return (a->rec.id > b->rec.id) - (a->rec.id < b->rec.id);
}

static int
cmp_lane(const void *pa, const void *pb)
{
    const wf_lane_t *a = pa, *b = pb;
    if (a->consumer != b->consumer)
        return a->consumer < b->consumer ? -1 : 1;
    if (a->producer != b->producer)
        return a->producer < b->producer ? -1 : 1;
    return (a->code > b->code) - (a->code < b->code);
}

void
wf_lictab__fini(wf_lictab_t *t)
{
    wf_free(t->items);
    wf_free(t->plan);
    wf_free(t->lanes);
    memset(t, 0, sizeof *t);
}

/* The first of firm's licences (or where they would be). */
static size_t
lic_first(const wf_lictab_t *t, uint32_t firm)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->items[mid].l.firm < firm)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* One past the last of firm's licences, from its first. */
static size_t
lic_end(const wf_lictab_t *t, size_t i, uint32_t firm)
{
    while (i < t->n && t->items[i].l.firm == firm) /* at most LICENCES_PER_FIRM */
        i++;
    return i;
}

static size_t
lane_first(const wf_lictab_t *t, uint32_t consumer)
{
    size_t lo = 0, hi = t->nlanes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->lanes[mid].consumer < consumer)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t
lane_end(const wf_lictab_t *t, size_t i, uint32_t consumer)
{
    while (i < t->nlanes && t->lanes[i].consumer == consumer) /* at most LANES_PER_CONSUMER */
        i++;
    return i;
}

/* Inserts l, or replaces the licence with its id; keeps the order. */
static void
lic_put(wf_lictab_t *t, const wf_lic_t *l)
{
    size_t at = t->n;
    for (size_t i = 0; i < t->n; i++) /* operator op: rare, O(licences) is fine */
        if (t->items[i].rec.id == l->rec.id)
            at = i;
    if (at == t->n) {
        if (t->n == t->cap) {
            t->cap = t->cap ? 2 * t->cap : 64;
            t->items = wf_realloc(t->items, t->cap * sizeof *t->items);
            t->plan = wf_realloc(t->plan, t->cap * sizeof *t->plan);
        }
        t->plan[t->n++] = 0;
    }
    t->items[at] = *l;
    qsort(t->items, t->n, sizeof *t->items, cmp_lic);
}

static void
lane_add(wf_lictab_t *t, const wf_lane_t *l)
{
    if (t->nlanes == t->lanecap) {
        t->lanecap = t->lanecap ? 2 * t->lanecap : 64;
        t->lanes = wf_realloc(t->lanes, t->lanecap * sizeof *t->lanes);
    }
    t->lanes[t->nlanes++] = *l;
    qsort(t->lanes, t->nlanes, sizeof *t->lanes, cmp_lane);
}

/* The index of lane l, or SIZE_MAX. */
static size_t
lane_find(const wf_lictab_t *t, const wf_lane_t *l)
{
    for (size_t i = lane_first(t, l->consumer); i < t->nlanes && t->lanes[i].consumer == l->consumer; i++)
        if (t->lanes[i].producer == l->producer && t->lanes[i].code == l->code)
            return i;
    return SIZE_MAX;
}

/* The in-memory licence of a record. */
static int
lic_from_rec(const wf_engine_t *e, const wf_licence_rec_t *r, wf_lic_t *out)
{
    memset(out, 0, sizeof *out);
    const wf_firm_rec_t *f = wf_firmtab__find(&e->firms, r->firm);
    if (!f)
        return WF_E_NOTFOUND;
    if (r->ncodes < 1 || r->ncodes > WF_MAX_PATTERNS)
        return WF_E_CODE;
    out->rec = *r;
    out->l.firm = f->number;
    out->l.npatterns = r->ncodes;
    for (int i = 0; i < r->ncodes; i++)
        if ((out->l.patterns[i] = wf_catalogue_find(e->cat, r->codes[i])) < 0)
            return WF_E_CODE;
    out->l.capacity = r->capacity;
    out->l.valid_until = r->valid_until;
    out->l.year = r->year;
    out->l.used = r->used;
    return WF_OK;
}

static int
lane_from_rec(const wf_engine_t *e, const wf_lane_rec_t *r, wf_lane_t *out)
{
    const wf_firm_rec_t *p = wf_firmtab__find(&e->firms, r->producer);
    const wf_firm_rec_t *c = wf_firmtab__find(&e->firms, r->consumer);
    if (!p || !c)
        return WF_E_NOTFOUND;
    out->producer = p->number;
    out->consumer = c->number;
    out->code = wf_catalogue_find(e->cat, r->code);
    return out->code < 0 ? WF_E_CODE : WF_OK;
}

static void
lane_key(uint8_t key[LANE_KEY_LEN], const wf_lane_rec_t *r)
{
    memset(key, 0, LANE_KEY_LEN);
    memcpy(key, r->producer, WF_FIRM_ID_LEN);
    memcpy(key + WF_FIRM_ID_LEN, r->consumer, WF_FIRM_ID_LEN);
    memcpy(key + 2 * WF_FIRM_ID_LEN, r->code, strnlen(r->code, WF_CODE_LEN));
}

int
wf_licence__load(wf_engine_t *e, MDB_txn *txn, char *err, size_t errlen)
{
    wf_lictab_t *t = &e->lic;
    int rc = wf_store__meta_get(txn, &e->store, "next_licence", &t->next_id);
    if (rc != WF_OK)
        return rc;
    MDB_cursor *c;
    MDB_val k, v;
    if ((rc = mdb_cursor_open(txn, e->store.licences, &c)) != 0)
        return wf_store__err(rc);
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        wf_licence_rec_t r;
        wf_lic_t l;
        if (v.mv_size != sizeof r || (memcpy(&r, v.mv_data, sizeof r), lic_from_rec(e, &r, &l)) != WF_OK) {
            snprintf(err, errlen, "a licence record is corrupt or names a firm or code this "
                     "engine does not know (was the catalogue changed?)");
            mdb_cursor_close(c);
            return WF_E_INTERNAL;
        }
        lic_put(t, &l);
    }
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND)
        return wf_store__err(rc);
    if ((rc = mdb_cursor_open(txn, e->store.lanes, &c)) != 0)
        return wf_store__err(rc);
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        wf_lane_rec_t r;
        wf_lane_t l;
        if (v.mv_size != sizeof r || (memcpy(&r, v.mv_data, sizeof r), lane_from_rec(e, &r, &l)) != WF_OK) {
            snprintf(err, errlen, "a lane record is corrupt or names a firm or code this engine "
                     "does not know (was the catalogue changed?)");
            mdb_cursor_close(c);
            return WF_E_INTERNAL;
        }
        lane_add(t, &l);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? WF_OK : wf_store__err(rc);
}

/* ---- the rule ---- */

static bool
lane_allows(const wf_engine_t *e, uint32_t producer, uint32_t consumer, int32_t code)
{
    const wf_lictab_t *t = &e->lic;
    size_t i = lane_first(t, consumer), end = lane_end(t, i, consumer);
    return wf_lane_allows(t->lanes + i, end - i, producer, consumer, code, covers, e->cat);
}

int64_t
wf_licence__allowance(void *ctx, uint32_t consumer, uint32_t producer, int32_t code, int64_t now)
{
    const wf_engine_t *e = ctx;
    if (lane_allows(e, producer, consumer, code))
        return INT64_MAX;
    const wf_lictab_t *t = &e->lic;
    int64_t sum = 0;
    for (size_t i = lic_first(t, consumer); i < t->n && t->items[i].l.firm == consumer; i++) {
        int64_t left = wf_licence_left(&t->items[i].l, code, now, covers, e->cat) - t->plan[i];
        if (left > 0)
            sum += left; /* <= 64 * 10^15: no overflow, never INT64_MAX */
    }
    return sum;
}

void
wf_licence__use(void *ctx, uint32_t consumer, uint32_t producer, int32_t code, int64_t qty,
                int64_t now)
{
    wf_engine_t *e = ctx;
    if (lane_allows(e, producer, consumer, code))
        return;
    wf_lictab_t *t = &e->lic;
    for (size_t i = lic_first(t, consumer); qty > 0 && i < t->n && t->items[i].l.firm == consumer; i++) {
        int64_t left = wf_licence_left(&t->items[i].l, code, now, covers, e->cat) - t->plan[i];
        if (left <= 0)
            continue;
        int64_t take = left < qty ? left : qty;
        t->plan[i] += take;
        qty -= take;
    }
}

void
wf_licence__plan_clear(wf_engine_t *e)
{
    if (e->lic.n)
        memset(e->lic.plan, 0, e->lic.n * sizeof *e->lic.plan); /* 8 bytes per licence */
}

/* r with qty more received at now. */
static void
rec_use(wf_licence_rec_t *r, int64_t qty, int64_t now)
{
    int32_t year = wf_licence_year(now);
    if (r->year != year) {
        r->year = year;
        r->used = 0;
    }
    r->used += qty;
    r->updated = now;
}

int
wf_licence__plan_write(wf_exec_t *x, MDB_txn *t)
{
    const wf_lictab_t *lt = &x->e->lic;
    for (size_t i = 0; i < lt->n; i++) {
        if (lt->plan[i] <= 0)
            continue;
        wf_licence_rec_t r = lt->items[i].rec;
        rec_use(&r, lt->plan[i], x->now);
        uint8_t key[8];
        wf_store__be64(key, r.id);
        int rc = wf_store__put(t, x->e->store.licences, key, 8, &r, sizeof r);
        if (rc != WF_OK)
            return rc;
    }
    return WF_OK;
}

void
wf_licence__plan_apply(wf_engine_t *e, int64_t now)
{
    wf_lictab_t *t = &e->lic;
    for (size_t i = 0; i < t->n; i++) {
        if (t->plan[i] <= 0)
            continue;
        rec_use(&t->items[i].rec, t->plan[i], now);
        wf_licence_use(&t->items[i].l, t->plan[i], now);
    }
    wf_licence__plan_clear(e);
}

/* ---- demand.post ---- */

/* May firm receive code at now by some licence (valid, covering it;
 * capacity is the matcher's business) or lane (from any producer)? */
static bool
licensed(const wf_engine_t *e, uint32_t firm, int32_t code, int64_t now)
{
    const wf_lictab_t *t = &e->lic;
    for (size_t i = lic_first(t, firm); i < t->n && t->items[i].l.firm == firm; i++) {
        const wf_licence_t *l = &t->items[i].l;
        if (now >= l->valid_until)
            continue;
        for (int k = 0; k < l->npatterns; k++)
            if (wf_catalogue_covers(e->cat, l->patterns[k], code))
                return true;
    }
    for (size_t i = lane_first(t, firm); i < t->nlanes && t->lanes[i].consumer == firm; i++)
        if (wf_catalogue_covers(e->cat, t->lanes[i].code, code))
            return true;
    return false;
}

int
wf_licence__check_demand(wf_exec_t *x, const wf_order_t *o)
{
    const wf_engine_t *e = x->e;
    size_t ncodes = wf_catalogue_count(e->cat);
    for (int k = 0; k < o->npatterns; k++) {
        int32_t p = o->patterns[k];
        const wf_code_t *pc = wf_catalogue_get(e->cat, p);
        /* A code stands for itself; a category for every code below it
         * (one pass over the catalogue). */
        for (size_t c = pc->leaf ? (size_t)p : 0; c < (pc->leaf ? (size_t)p + 1 : ncodes); c++) {
            const wf_code_t *cc = wf_catalogue_get(e->cat, (int32_t)c);
            if (!cc->hazardous || !cc->leaf || !wf_catalogue_covers(e->cat, p, (int32_t)c))
                continue;
            if (!licensed(e, x->as->number, (int32_t)c, x->now)) {
                if (pc->leaf)
                    return wf_exec__fail(x, WF_E_LICENCE, "codes[%d]: firm %s holds no valid "
                                         "licence or lane for hazardous code %s", k, x->as->id,
                                         pc->code);
                return wf_exec__fail(x, WF_E_LICENCE, "codes[%d]: %s covers hazardous code %s, "
                                     "which firm %s holds no valid licence or lane for", k,
                                     pc->code, cc->code, x->as->id);
            }
        }
    }
    return WF_OK;
}

/* ---- licence.put ---- */

/* The firm's licence with the same patterns (as a set), or NULL. */
static const wf_lic_t *
same_patterns(const wf_lictab_t *t, const wf_licence_t *l)
{
    for (size_t i = lic_first(t, l->firm); i < t->n && t->items[i].l.firm == l->firm; i++) {
        const wf_licence_t *o = &t->items[i].l;
        bool same = true;
        for (int a = 0; a < l->npatterns && same; a++) {
            bool found = false;
            for (int b = 0; b < o->npatterns && !found; b++)
                found = o->patterns[b] == l->patterns[a];
            same = found;
        }
        for (int b = 0; b < o->npatterns && same; b++) {
            bool found = false;
            for (int a = 0; a < l->npatterns && !found; a++)
                found = o->patterns[b] == l->patterns[a];
            same = found;
        }
        if (same)
            return &t->items[i];
    }
    return NULL;
}

/* A hazardous code or category of the catalogue, or a failed reply. */
static int
hazardous_code(wf_exec_t *x, const char *field, int idx, const char *code, int32_t *out)
{
    char name[32];
    if (idx >= 0)
        snprintf(name, sizeof name, "%s[%d]", field, idx);
    else
        snprintf(name, sizeof name, "%s", field);
    if (!wf_str__ok(code, WF_CODE_LEN) || !code[0])
        return wf_exec__fail(x, WF_E_FIELD, "%s must be a waste code string", name);
    *out = wf_catalogue_find(x->e->cat, code);
    if (*out < 0)
        return wf_exec__fail(x, WF_E_CODE, "%s: %s is not in the catalogue", name, code);
    if (!wf_catalogue_get(x->e->cat, *out)->hazardous)
        return wf_exec__fail(x, WF_E_FIELD, "%s: %s is not hazardous; licences and lanes are "
                             "for hazardous codes", name, code);
    return WF_OK;
}

int
wf_op__licence_put(wf_exec_t *x)
{
    if (!is_operator(x->as))
        return wf_exec__fail(x, WF_E_AUTH, "licence.put is for operators only");
    const wf_cmd_licence_t *c = &x->cmd->u.licence;
    wf_lictab_t *t = &x->e->lic;
    if (!wf_str__ok(c->firm, WF_FIRM_LEN))
        return wf_exec__fail(x, WF_E_FIELD, "firm must be a firm id string");
    const wf_firm_rec_t *f = wf_firmtab__find(&x->e->firms, c->firm);
    if (!f)
        return wf_exec__fail(x, WF_E_NOTFOUND, "firm: no firm %s", c->firm);
    if (!(f->roles & WF_ROLE_CONSUMER))
        return wf_exec__fail(x, WF_E_FIELD, "firm: %s is not a consumer; licences are held by "
                             "consumers", c->firm);
    if (c->ncodes < 1 || c->ncodes > WF_MAX_PATTERNS)
        return wf_exec__fail(x, WF_E_FIELD, "codes must list 1..%d codes or categories",
                             WF_MAX_PATTERNS);
    wf_lic_t l;
    memset(&l, 0, sizeof l);
    l.l.firm = f->number;
    l.l.npatterns = c->ncodes;
    for (int i = 0; i < c->ncodes; i++) {
        int rc = hazardous_code(x, "codes", i, c->codes[i], &l.l.patterns[i]);
        if (rc != WF_OK)
            return rc;
        memcpy(l.rec.codes[i], c->codes[i], WF_CODE_LEN);
    }
    if (c->capacity < 0 || c->capacity > CAPACITY_MAX)
        return wf_exec__fail(x, WF_E_FIELD, "capacity must be 0..10^15 per calendar year, got %lld",
                             (long long)c->capacity);
    if (c->valid_until <= 0)
        return wf_exec__fail(x, WF_E_FIELD, "valid_until must be a time in unix ms");
    const wf_lic_t *old = same_patterns(t, &l.l);
    if (!old && lic_end(t, lic_first(t, f->number), f->number) - lic_first(t, f->number) >=
                    LICENCES_PER_FIRM)
        return wf_exec__fail(x, WF_E_LIMIT, "firm %s holds %d licences already", c->firm,
                             LICENCES_PER_FIRM);
    wf_licence_rec_t *r = &l.rec;
    if (old) { /* a renewal or change: same licence, its usage kept */
        r->id = old->rec.id;
        r->year = old->rec.year;
        r->used = old->rec.used;
        r->created = old->rec.created;
    } else {
        r->id = t->next_id;
        r->year = wf_licence_year(x->now);
        r->created = x->now;
    }
    memcpy(r->firm, f->id, sizeof r->firm);
    r->ncodes = c->ncodes;
    r->capacity = c->capacity;
    r->valid_until = c->valid_until;
    r->updated = x->now;
    l.l.capacity = r->capacity;
    l.l.valid_until = r->valid_until;
    l.l.year = r->year;
    l.l.used = r->used;

    MDB_txn *child;
    int rc = wf_exec__begin(x, &child);
    if (rc != WF_OK)
        return rc;
    uint8_t key[8];
    wf_store__be64(key, r->id);
    rc = wf_store__put(child, x->e->store.licences, key, 8, r, sizeof *r);
    if (rc == WF_OK && !old)
        rc = wf_store__meta_put(child, &x->e->store, "next_licence", t->next_id + 1);
    if (rc == WF_OK)
        rc = wf_exec__journal(x, child);
    rc = wf_exec__end(x, child, rc);
    if (rc != WF_OK)
        return rc;
    if (!old)
        t->next_id++;
    lic_put(t, &l);
    x->e->journal_seq++;
    wf_id_format(x->reply->id, 'L', r->id);
    return WF_OK;
}

/* ---- lanes ---- */

static int
firm_with_role(wf_exec_t *x, const char *field, const char *id, uint32_t role, bool need_role,
               const wf_firm_rec_t **out)
{
    if (!wf_str__ok(id, WF_FIRM_LEN))
        return wf_exec__fail(x, WF_E_FIELD, "%s must be a firm id string", field);
    *out = wf_firmtab__find(&x->e->firms, id);
    if (!*out)
        return wf_exec__fail(x, WF_E_NOTFOUND, "%s: no firm %s", field, id);
    if (need_role && !((*out)->roles & role))
        return wf_exec__fail(x, WF_E_FIELD, "%s: firm %s is not a %s", field, id, wf_role_name(role));
    return WF_OK;
}

/* Checks lane.put / lane.del into lane and rec. */
static int
check_lane(wf_exec_t *x, bool put, wf_lane_t *lane, wf_lane_rec_t *rec)
{
    if (!is_operator(x->as))
        return wf_exec__fail(x, WF_E_AUTH, "%s is for operators only", wf_op_name(x->cmd->op));
    const wf_cmd_lane_t *c = &x->cmd->u.lane;
    const wf_firm_rec_t *p = NULL, *q = NULL;
    int rc = firm_with_role(x, "producer", c->producer, WF_ROLE_PRODUCER, put, &p);
    if (rc == WF_OK)
        rc = firm_with_role(x, "consumer", c->consumer, WF_ROLE_CONSUMER, put, &q);
    if (rc == WF_OK && p == q)
        rc = wf_exec__fail(x, WF_E_FIELD, "producer and consumer must be different firms");
    if (rc == WF_OK)
        rc = hazardous_code(x, "code", -1, c->code, &lane->code);
    if (rc != WF_OK)
        return rc;
    lane->producer = p->number;
    lane->consumer = q->number;
    memset(rec, 0, sizeof *rec);
    memcpy(rec->producer, p->id, sizeof rec->producer);
    memcpy(rec->consumer, q->id, sizeof rec->consumer);
    memcpy(rec->code, c->code, sizeof rec->code);
    rec->created = x->now;
    return WF_OK;
}

int
wf_op__lane_put(wf_exec_t *x)
{
    wf_lane_t lane;
    wf_lane_rec_t rec;
    int rc = check_lane(x, true, &lane, &rec);
    if (rc != WF_OK)
        return rc;
    wf_lictab_t *t = &x->e->lic;
    bool exists = lane_find(t, &lane) != SIZE_MAX;
    size_t first = lane_first(t, lane.consumer);
    if (!exists && lane_end(t, first, lane.consumer) - first >= LANES_PER_CONSUMER)
        return wf_exec__fail(x, WF_E_LIMIT, "consumer %s has %d lanes already", rec.consumer,
                             LANES_PER_CONSUMER);
    if (exists)
        return WF_OK; /* already approved: nothing changes, nothing to journal */
    MDB_txn *child;
    if ((rc = wf_exec__begin(x, &child)) != WF_OK)
        return rc;
    uint8_t key[LANE_KEY_LEN];
    lane_key(key, &rec);
    rc = wf_store__put(child, x->e->store.lanes, key, sizeof key, &rec, sizeof rec);
    if (rc == WF_OK)
        rc = wf_exec__journal(x, child);
    if ((rc = wf_exec__end(x, child, rc)) != WF_OK)
        return rc;
    lane_add(t, &lane);
    x->e->journal_seq++;
    return WF_OK;
}

int
wf_op__lane_del(wf_exec_t *x)
{
    wf_lane_t lane;
    wf_lane_rec_t rec;
    int rc = check_lane(x, false, &lane, &rec);
    if (rc != WF_OK)
        return rc;
    wf_lictab_t *t = &x->e->lic;
    size_t at = lane_find(t, &lane);
    if (at == SIZE_MAX)
        return wf_exec__fail(x, WF_E_NOTFOUND, "no lane from %s to %s for %s", rec.producer,
                             rec.consumer, rec.code);
    MDB_txn *child;
    if ((rc = wf_exec__begin(x, &child)) != WF_OK)
        return rc;
    uint8_t key[LANE_KEY_LEN];
    lane_key(key, &rec);
    rc = wf_store__del(child, x->e->store.lanes, key, sizeof key);
    if (rc == WF_OK)
        rc = wf_exec__journal(x, child);
    if ((rc = wf_exec__end(x, child, rc)) != WF_OK)
        return rc;
    memmove(t->lanes + at, t->lanes + at + 1, (t->nlanes - at - 1) * sizeof *t->lanes);
    t->nlanes--;
    x->e->journal_seq++;
    return WF_OK;
}

/* ---- firm.get ---- */

void
wf_licence__reply_firm(wf_exec_t *x, const wf_firm_rec_t *f)
{
    const wf_lictab_t *t = &x->e->lic;
    size_t first = lic_first(t, f->number), end = lic_end(t, first, f->number);
    if (end == first)
        return;
    wf_licence_rec_t *out = wf_arena__alloc(&x->e->arena, (end - first) * sizeof *out);
    int32_t year = wf_licence_year(x->now);
    for (size_t i = first; i < end; i++) {
        out[i - first] = t->items[i].rec;
        if (out[i - first].year != year) { /* nothing received yet this year */
            out[i - first].year = year;
            out[i - first].used = 0;
        }
    }
    x->reply->licences = out;
    x->reply->nlicences = end - first;
}
