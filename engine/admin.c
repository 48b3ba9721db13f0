/* Operator ops: registering and updating firms (firm.put), reading a firm
 * (firm.get, with its credit: score, tier, active events), and the
 * settings (config.get, config.set; a change of tier bounds tells every
 * firm whose tier moves). Each write is
 * validated completely, written with its journal entry in a child
 * transaction, and applied to the firm table or the config only after the
 * child commits. */
#include "engine_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "wf_error.h"

#define ROLES_ALL (WF_ROLE_PRODUCER | WF_ROLE_CONSUMER | WF_ROLE_CARRIER | WF_ROLE_OPERATOR)

static const char z85_chars[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

static bool
is_operator(const wf_firm_rec_t *f)
{
    return (f->roles & WF_ROLE_OPERATOR) != 0;
}

static bool
in_range(double v, double lo, double hi)
{
    return isfinite(v) && v >= lo && v <= hi;
}

int
wf_store__put_firm(MDB_txn *txn, const wf_store_t *s, const wf_firm_rec_t *f)
{
    wf_firm_rec_t rec;
    memset(&rec, 0, sizeof rec); /* deterministic padding */
    memcpy(rec.id, f->id, sizeof rec.id);
    memcpy(rec.name, f->name, sizeof rec.name);
    rec.roles = f->roles;
    rec.lat = f->lat;
    rec.lon = f->lon;
    rec.county = f->county;
    memcpy(rec.key, f->key, sizeof rec.key);
    rec.base_credit = f->base_credit;
    rec.blocked = f->blocked;
    rec.number = f->number;
    rec.stream_seq = 0; /* the seq is stream state (stream.c), not the firm's */
    rec.created = f->created;
    int rc = wf_store__put(txn, s->firms, rec.id, WF_FIRM_ID_LEN, &rec, sizeof rec);
    if (rc == WF_OK && rec.key[0])
        rc = wf_store__put(txn, s->firm_keys, rec.key, strlen(rec.key), rec.id, WF_FIRM_ID_LEN);
    return rc;
}

static bool
valid_firm_id(const char *id)
{
    if (!wf_str__ok(id, WF_FIRM_LEN) || strlen(id) != WF_FIRM_ID_LEN)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z')))
            return false;
    return true;
}

static bool
valid_key(const char *key)
{
    if (!wf_str__ok(key, WF_KEY_LEN) || strlen(key) != 40)
        return false;
    return strspn(key, z85_chars) == 40;
}

/* Checks the identity fields of firm.put into rec. */
static int
check_firm_fields(wf_exec_t *x, const wf_cmd_firm_t *f, wf_firm_rec_t *rec)
{
    if (!valid_firm_id(f->firm))
        return wf_exec__fail(x, WF_E_FIELD, "firm must be 18 characters of 0-9 and A-Z");
    bool op_firm = strcmp(f->firm, WF_OPERATOR_ID) == 0;
    if (!wf_str__ok(f->name, WF_NAME_LEN) || !f->name[0])
        return wf_exec__fail(x, WF_E_FIELD, "name must be a non-empty string");
    if (f->roles == 0 || (f->roles & ~(uint32_t)ROLES_ALL))
        return wf_exec__fail(x, WF_E_FIELD, "roles must be a non-empty set of producer, "
                             "consumer, carrier, operator");
    if (op_firm && !(f->roles & WF_ROLE_OPERATOR))
        return wf_exec__fail(x, WF_E_FIELD, "roles: the operator firm keeps the operator role");
    if (!in_range(f->lat, -90, 90))
        return wf_exec__fail(x, WF_E_FIELD, "lat must be a number in [-90, 90]");
    if (!in_range(f->lon, -180, 180))
        return wf_exec__fail(x, WF_E_FIELD, "lon must be a number in [-180, 180]");
    if (!(f->county >= 100000 && f->county <= 999999) && !(op_firm && f->county == 0))
        return wf_exec__fail(x, WF_E_FIELD, "county must be a 6-digit division code, got %u",
                             f->county);
    memcpy(rec->id, f->firm, sizeof rec->id);
    memcpy(rec->name, f->name, sizeof rec->name);
    rec->roles = f->roles;
    rec->lat = f->lat;
    rec->lon = f->lon;
    rec->county = f->county;
    return WF_OK;
}

/* Checks base_credit and key; an update without them keeps the old values,
 * a new firm gets base credit 80 and no key. */
static int
check_firm_extras(wf_exec_t *x, const wf_cmd_firm_t *f, wf_firm_rec_t *rec)
{
    if (x->cmd->has & WF_HAS_BASE_CREDIT) {
        if (f->base_credit < 0 || f->base_credit > 100)
            return wf_exec__fail(x, WF_E_FIELD, "base_credit must be 0..100, got %d",
                                 f->base_credit);
        rec->base_credit = f->base_credit;
    }
    if (x->cmd->has & WF_HAS_KEY) {
        if (!valid_key(f->key))
            return wf_exec__fail(x, WF_E_FIELD, "key must be a CURVE public key in z85 "
                                 "(40 characters)");
        const wf_firm_rec_t *other = wf_firmtab__by_key(&x->e->firms, f->key);
        if (other && strcmp(other->id, f->firm) != 0)
            return wf_exec__fail(x, WF_E_FIELD, "key is already registered to firm %s",
                                 other->id);
        memcpy(rec->key, f->key, sizeof rec->key);
    }
    return WF_OK;
}

int
wf_op__firm_put(wf_exec_t *x)
{
    if (!is_operator(x->as))
        return wf_exec__fail(x, WF_E_AUTH, "firm.put is for operators only");
    const wf_cmd_firm_t *f = &x->cmd->u.firm;
    const wf_firm_rec_t *old = valid_firm_id(f->firm) ? wf_firmtab__find(&x->e->firms, f->firm)
                                                       : NULL;
    wf_firm_rec_t rec;
    memset(&rec, 0, sizeof rec);
    if (old) {
        rec = *old;
    } else {
        rec.number = (uint32_t)x->e->next_firm;
        rec.base_credit = 80;
        rec.created = x->now;
    }
    int rc = check_firm_fields(x, f, &rec);
    if (rc == WF_OK)
        rc = check_firm_extras(x, f, &rec);
    if (rc != WF_OK)
        return rc;
    if (!old && x->e->next_firm >= UINT32_MAX)
        return wf_exec__fail(x, WF_E_LIMIT, "firm: no firm numbers left");
    MDB_txn *child;
    rc = wf_exec__begin(x, &child);
    if (rc != WF_OK)
        return rc;
    if (old && old->key[0] && strcmp(old->key, rec.key) != 0)
        rc = wf_store__del(child, x->e->store.firm_keys, old->key, strlen(old->key));
    if (rc == WF_OK)
        rc = wf_store__put_firm(child, &x->e->store, &rec);
    if (rc == WF_OK && !old)
        rc = wf_store__meta_put(child, &x->e->store, "next_firm", x->e->next_firm + 1);
    /* a new base credit may move the live score or the tier: tell the firm */
    wf_stream_msg_t msg;
    bool made = false;
    if (rc == WF_OK && old) {
        int64_t points = rec.number < x->e->firms.cap ? x->e->firms.points[rec.number] : 0;
        int32_t before = x->e->firms.parties[rec.number].credit;
        int32_t after = wf_credit_clamp((int64_t)rec.base_credit + points);
        rc = wf_credit__note(x, child, rec.id, before, wf_credit__tier(x->e, before), after,
                             wf_credit__tier(x->e, after), &msg, &made);
    }
    if (rc == WF_OK)
        rc = wf_exec__journal(x, child);
    rc = wf_exec__end(x, child, rc);
    if (rc != WF_OK)
        return rc;
    rec.stream_seq = old ? old->stream_seq : 0; /* memory's, with this command's message */
    wf_firmtab__put(&x->e->firms, &rec);
    if (made)
        wf_stream__publish(x->e, &msg);
    if (!old)
        x->e->next_firm++;
    x->e->journal_seq++;
    const wf_firm_rec_t *now_rec = wf_firmtab__find(&x->e->firms, rec.id);
    wf_firm_rec_t *copy = wf_arena__alloc(&x->e->arena, sizeof *copy);
    *copy = *now_rec;
    x->reply->firm = copy;
    wf_credit__reply(x, now_rec, false);
    return WF_OK;
}

int
wf_op__firm_get(wf_exec_t *x)
{
    const char *id = x->cmd->u.firm_get.firm;
    if (!wf_str__ok(id, WF_FIRM_LEN))
        return wf_exec__fail(x, WF_E_FIELD, "firm must be a firm id string");
    if (!is_operator(x->as) && strcmp(id, x->as->id) != 0)
        return wf_exec__fail(x, WF_E_AUTH, "firm: only an operator or the firm itself may read it");
    const wf_firm_rec_t *f = wf_firmtab__find(&x->e->firms, id);
    if (!f)
        return wf_exec__fail(x, WF_E_NOTFOUND, "firm: no firm %s", id);
    wf_firm_rec_t *copy = wf_arena__alloc(&x->e->arena, sizeof *copy);
    *copy = *f;
    x->reply->firm = copy;
    wf_licence__reply_firm(x, f);
    wf_credit__reply(x, f, true);
    return WF_OK;
}

static void
reply_config(wf_exec_t *x)
{
    wf_config_t *c = wf_arena__alloc(&x->e->arena, sizeof *c);
    *c = x->e->config;
    x->reply->config = c;
}

/* PROTOCOL.md lists config.get among the operator ops. */
int
wf_op__config_get(wf_exec_t *x)
{
    if (!is_operator(x->as))
        return wf_exec__fail(x, WF_E_AUTH, "config.get is for operators only");
    reply_config(x);
    return x->cmd->u.config_get.history ? wf_config__history(x) : WF_OK;
}

static bool
read_bool(const bool *b)
{
    unsigned char v; /* the decoder's bool is not trusted to be 0 or 1 */
    memcpy(&v, b, 1);
    return v != 0;
}

/* Merges the set fields of v into c, checking each. */
static int
merge_config(wf_exec_t *x, uint32_t set, const wf_config_t *v, wf_config_t *c)
{
    static const struct {
        uint32_t bit;
        const char *name;
        size_t off;
    } weights[] = {{WF_CFG_W_CREDIT, "w_credit", offsetof(wf_config_t, w_credit)},
                   {WF_CFG_W_DISTANCE, "w_distance", offsetof(wf_config_t, w_distance)},
                   {WF_CFG_W_PRICE, "w_price", offsetof(wf_config_t, w_price)}};
    for (size_t i = 0; i < 3; i++) {
        if (!(set & weights[i].bit))
            continue;
        double w;
        memcpy(&w, (const char *)v + weights[i].off, sizeof w);
        if (!in_range(w, 0, 1000))
            return wf_exec__fail(x, WF_E_FIELD, "%s must be a number in [0, 1000]", weights[i].name);
        memcpy((char *)c + weights[i].off, &w, sizeof w);
    }
    if (set & WF_CFG_TIER_A)
        c->tier_a = v->tier_a;
    if (set & WF_CFG_TIER_B)
        c->tier_b = v->tier_b;
    if (set & WF_CFG_TIER_C)
        c->tier_c = v->tier_c;
    if (c->tier_a < 0 || c->tier_a > 100 || c->tier_b < 0 || c->tier_b > 100 || c->tier_c < 0 ||
        c->tier_c > 100)
        return wf_exec__fail(x, WF_E_FIELD, "tier_a, tier_b, tier_c must be 0..100");
    if (!(c->tier_a >= c->tier_b && c->tier_b >= c->tier_c))
        return wf_exec__fail(x, WF_E_FIELD, "tiers must satisfy tier_a >= tier_b >= tier_c "
                             "(would be %d, %d, %d)", c->tier_a, c->tier_b, c->tier_c);
    if (set & WF_CFG_PUSH_DELAY_B) {
        if (v->push_delay_b < 0 || v->push_delay_b > 3600000)
            return wf_exec__fail(x, WF_E_FIELD, "push_delay_b must be 0..3600000 ms");
        c->push_delay_b = v->push_delay_b;
    }
    if (set & WF_CFG_PUSH_DELAY_C) {
        if (v->push_delay_c < 0 || v->push_delay_c > 3600000)
            return wf_exec__fail(x, WF_E_FIELD, "push_delay_c must be 0..3600000 ms");
        c->push_delay_c = v->push_delay_c;
    }
    if (set & WF_CFG_COUNTY_RULE)
        c->county_rule = read_bool(&v->county_rule);
    if (set & WF_CFG_CITY_RULE)
        c->city_rule = read_bool(&v->city_rule);
    if (set & WF_CFG_ECO_FEE) {
        if (v->eco_fee < 0 || v->eco_fee > 1000000000)
            return wf_exec__fail(x, WF_E_FIELD, "eco_fee must be 0..10^9 fen per unit");
        c->eco_fee = v->eco_fee;
    }
    if (set & WF_CFG_DISCREPANCY_PCT) {
        if (!in_range(v->discrepancy_pct, 0, 100))
            return wf_exec__fail(x, WF_E_FIELD, "discrepancy_pct must be a number in [0, 100]");
        c->discrepancy_pct = v->discrepancy_pct;
    }
    if (set & WF_CFG_CO2_PER_TKM) {
        if (!in_range(v->co2_per_tkm, 0, 100))
            return wf_exec__fail(x, WF_E_FIELD, "co2_per_tkm must be a number in [0, 100] "
                                 "(kg CO2e per tonne-km)");
        c->co2_per_tkm = v->co2_per_tkm;
    }
    if (set & WF_CFG_STREAM_KEEP_DAYS) {
        if (v->stream_keep_days < 0 || v->stream_keep_days > 36500)
            return wf_exec__fail(x, WF_E_FIELD, "stream_keep_days must be 0..36500 (0 = forever)");
        c->stream_keep_days = v->stream_keep_days;
    }
    if (set & WF_CFG_RATE_PER_S) {
        if (v->rate_per_s < 0 || v->rate_per_s > 1000000)
            return wf_exec__fail(x, WF_E_FIELD, "rate_per_s must be 0 (no limit) to 1000000 requests per second");
        c->rate_per_s = v->rate_per_s;
    }
    if (set & WF_CFG_RATE_BURST) {
        if (v->rate_burst < 1 || v->rate_burst > 10000000)
            return wf_exec__fail(x, WF_E_FIELD, "rate_burst must be 1 to 10000000 requests");
        c->rate_burst = v->rate_burst;
    }
    if (set & WF_CFG_MANIFEST_AGE) {
        if (v->manifest_age < 0 || v->manifest_age > 10LL * 366 * 86400 * 1000)
            return wf_exec__fail(x, WF_E_FIELD, "manifest_age must be 0 (never) to 10 years in ms");
        c->manifest_age = v->manifest_age;
    }
    static const struct {
        uint32_t bit;
        const char *name;
        size_t off;
    } points[] = {{WF_CFG_DISCREPANCY_POINTS, "discrepancy_points",
                   offsetof(wf_config_t, discrepancy_points)},
                  {WF_CFG_CANCEL_POINTS, "cancel_points", offsetof(wf_config_t, cancel_points)},
                  {WF_CFG_EXPIRY_POINTS, "expiry_points", offsetof(wf_config_t, expiry_points)}};
    for (size_t i = 0; i < 3; i++) {
        if (!(set & points[i].bit))
            continue;
        int32_t p;
        memcpy(&p, (const char *)v + points[i].off, sizeof p);
        if (p < -100 || p > 100)
            return wf_exec__fail(x, WF_E_FIELD, "%s must be -100..100", points[i].name);
        memcpy((char *)c + points[i].off, &p, sizeof p);
    }
    return WF_OK;
}

int
wf_op__config_set(wf_exec_t *x)
{
    if (!is_operator(x->as))
        return wf_exec__fail(x, WF_E_AUTH, "config.set is for operators only");
    uint32_t set = x->cmd->u.config.set;
    if (set & ~((WF_CFG__LAST << 1) - 1))
        return wf_exec__fail(x, WF_E_FIELD, "config.set names an unknown setting (bits 0x%x)", set);
    wf_config_t c;
    memcpy(&c, &x->e->config, sizeof c); /* padding too: configs are stored byte for byte */
    int rc = merge_config(x, set, &x->cmd->u.config.values, &c);
    if (rc != WF_OK)
        return rc;
    MDB_txn *child;
    rc = wf_exec__begin(x, &child);
    if (rc != WF_OK)
        return rc;
    wf_vec_t msgs = {.size = sizeof(wf_stream_msg_t)};
    rc = wf_store__put(child, x->e->store.config, "config", 6, &c, sizeof c);
    if (rc == WF_OK) /* new tier bounds: every firm whose tier moves is told */
        rc = wf_credit__retier(x, child, &x->e->config, &c, &msgs);
    if (rc == WF_OK)
        rc = wf_exec__journal(x, child);
    rc = wf_exec__end(x, child, rc);
    if (rc != WF_OK) {
        wf_vec__free(&msgs);
        return rc;
    }
    bool retime = c.manifest_age != x->e->config.manifest_age;
    bool keep_changed = c.stream_keep_days != x->e->config.stream_keep_days;
    x->e->config = c;
    x->e->rules = wf_config__rules(&c);
    x->e->journal_seq++;
    for (size_t i = 0; i < msgs.n; i++)
        wf_stream__publish(x->e, (const wf_stream_msg_t *)msgs.items + i);
    wf_vec__free(&msgs);
    if (retime && wf_manifest__timers(x->e, x->txn) != WF_OK)
        fprintf(stderr, "wufei: cannot re-time manifest ages; they apply from the next start\n");
    if (keep_changed)
        wf_trim__rearm(x->e, x->now);
    reply_config(x);
    return WF_OK;
}
