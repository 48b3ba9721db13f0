/* The wire codec (see codec.h): one msgpack request frame into a wf_cmd_t,
 * and replies, private-stream messages and feed bodies out to msgpack.
 *
 * Decoding is strict about shape and types and lenient about everything
 * else: unknown fields are ignored (forward compatibility), a nil value
 * counts as an absent field, and value ranges are left to the engine, which
 * is the one place that knows them. Before msgpack-c builds its object tree
 * a bounded scan checks the frame is exactly one well-formed object whose
 * container counts fit the bytes that follow, so a 10-byte frame cannot
 * make the unpacker reserve gigabytes. Every message names its field. */
#include "codec.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../core/wf_error.h"
#include "../core/wf_msgpack_scan.h"
#include "../credit/score.h"

#define SCAN_DEPTH 16 /* requests nest at most 2 deep; anything deeper is refused */
#define ROLES_MAX 16  /* entries of a roles list, duplicates included */

/* ------------------------------------------------------------------ */
/* Field access                                                        */

typedef struct dec {
    const msgpack_object_map *map;
    char *msg;
    size_t msglen;
} dec_t;

static int
fail(dec_t *d, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (d->msglen > 0)
        vsnprintf(d->msg, d->msglen, fmt, ap);
    va_end(ap);
    return err;
}

/* The value of field name, or NULL when absent or nil. A field given twice
 * is refused: the two values could disagree and neither is obviously meant.
 * Every key is a string (checked once per request). */
static int
field(dec_t *d, const char *name, const msgpack_object **out)
{
    const msgpack_object *found = NULL;
    size_t n = strlen(name);
    for (uint32_t i = 0; i < d->map->size; i++) {
        const msgpack_object_str *k = &d->map->ptr[i].key.via.str;
        if (k->size != n || k->ptr[0] != name[0] || memcmp(k->ptr, name, n) != 0)
            continue; /* names are never empty: ptr[0] is there when the sizes agree */
        if (found)
            return fail(d, WF_E_FIELD, "field \"%s\" appears twice", name);
        found = &d->map->ptr[i].val;
    }
    *out = (found && found->type != MSGPACK_OBJECT_NIL) ? found : NULL;
    return WF_OK;
}

static int
missing(dec_t *d, const char *name)
{
    return fail(d, WF_E_FIELD, "field \"%s\" is missing", name);
}

/* Signed integer in [lo, hi]. *present says whether it was there; a
 * required field that is absent is an error. */
static int
get_int(dec_t *d, const char *name, bool required, int64_t lo, int64_t hi, int64_t *out, bool *present)
{
    const msgpack_object *o;
    int rc = field(d, name, &o);
    if (rc)
        return rc;
    if (present)
        *present = o != NULL;
    if (!o)
        return required ? missing(d, name) : WF_OK;
    int64_t v;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return fail(d, WF_E_FIELD, "field \"%s\" is out of range", name);
        v = (int64_t)o->via.u64;
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        v = o->via.i64;
    } else {
        return fail(d, WF_E_FIELD, "field \"%s\" must be an integer", name);
    }
    if (v < lo || v > hi)
        return fail(d, WF_E_FIELD, "field \"%s\" is out of range", name);
    *out = v;
    return WF_OK;
}

static int
get_uint(dec_t *d, const char *name, bool required, uint64_t hi, uint64_t *out, bool *present)
{
    const msgpack_object *o;
    int rc = field(d, name, &o);
    if (rc)
        return rc;
    if (present)
        *present = o != NULL;
    if (!o)
        return required ? missing(d, name) : WF_OK;
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return fail(d, WF_E_FIELD, "field \"%s\" must not be negative", name);
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return fail(d, WF_E_FIELD, "field \"%s\" must be an unsigned integer", name);
    if (o->via.u64 > hi)
        return fail(d, WF_E_FIELD, "field \"%s\" is out of range", name);
    *out = o->via.u64;
    return WF_OK;
}

/* A number: float32, float64 or any integer; finite. */
static int
get_num(dec_t *d, const char *name, bool required, double *out, bool *present)
{
    const msgpack_object *o;
    int rc = field(d, name, &o);
    if (rc)
        return rc;
    if (present)
        *present = o != NULL;
    if (!o)
        return required ? missing(d, name) : WF_OK;
    double v;
    switch (o->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        v = o->via.f64;
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        v = (double)o->via.u64;
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        v = (double)o->via.i64;
        break;
    default:
        return fail(d, WF_E_FIELD, "field \"%s\" must be a number", name);
    }
    if (!isfinite(v))
        return fail(d, WF_E_FIELD, "field \"%s\" must be a finite number", name);
    *out = v;
    return WF_OK;
}

static int
get_bool(dec_t *d, const char *name, bool required, bool *out, bool *present)
{
    const msgpack_object *o;
    int rc = field(d, name, &o);
    if (rc)
        return rc;
    if (present)
        *present = o != NULL;
    if (!o)
        return required ? missing(d, name) : WF_OK;
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return fail(d, WF_E_FIELD, "field \"%s\" must be a boolean", name);
    *out = o->via.boolean;
    return WF_OK;
}

/* The field's name for a message: field "name", or field "name" entry N
 * when entry (1-based) is not 0. Only failures format it: the decoder runs
 * for every request and a message is needed only when one is refused. */
static const char *
field_what(char buf[64], const char *name, unsigned entry)
{
    if (entry)
        snprintf(buf, 64, "field \"%s\" entry %u", name, entry);
    else
        snprintf(buf, 64, "field \"%s\"", name);
    return buf;
}

/* Copies a msgpack string of minlen..maxlen bytes (no NUL inside) into out
 * (at least maxlen + 1 bytes). name and entry (see field_what) name the
 * field in messages. */
static int
copy_str(dec_t *d, const char *name, unsigned entry, const msgpack_object *o, size_t minlen, size_t maxlen,
         char *out)
{
    char what[64];
    if (o->type != MSGPACK_OBJECT_STR)
        return fail(d, WF_E_FIELD, "%s must be a string", field_what(what, name, entry));
    size_t n = o->via.str.size;
    if (n < minlen || n > maxlen) {
        if (minlen == maxlen)
            return fail(d, WF_E_FIELD, "%s must be %zu characters long", field_what(what, name, entry), minlen);
        return fail(d, WF_E_FIELD, "%s must be %zu to %zu bytes long", field_what(what, name, entry), minlen,
                    maxlen);
    }
    if (memchr(o->via.str.ptr, '\0', n))
        return fail(d, WF_E_FIELD, "%s must not contain a NUL byte", field_what(what, name, entry));
    memcpy(out, o->via.str.ptr, n);
    out[n] = '\0';
    return WF_OK;
}

static int
get_str(dec_t *d, const char *name, bool required, size_t minlen, size_t maxlen, char *out, bool *present)
{
    const msgpack_object *o;
    int rc = field(d, name, &o);
    if (rc)
        return rc;
    if (present)
        *present = o != NULL;
    if (!o)
        return required ? missing(d, name) : WF_OK;
    return copy_str(d, name, 0, o, minlen, maxlen, out);
}

/* A firm id: exactly 18 digits or capital letters. */
static int
get_firm(dec_t *d, const char *name, bool required, char out[WF_FIRM_LEN], bool *present)
{
    int rc = get_str(d, name, required, WF_FIRM_LEN - 1, WF_FIRM_LEN - 1, out, present);
    if (rc || (present && !*present))
        return rc;
    for (const char *c = out; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'A' && *c <= 'Z')))
            return fail(d, WF_E_FIELD, "field \"%s\" must be 18 digits or capital letters", name);
    return WF_OK;
}

static int
get_codes(dec_t *d, const char *name, uint8_t *n, char codes[][WF_CODE_LEN])
{
    const msgpack_object *o;
    int rc = field(d, name, &o);
    if (rc)
        return rc;
    if (!o)
        return missing(d, name);
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 1 || o->via.array.size > WF_MAX_PATTERNS)
        return fail(d, WF_E_FIELD, "field \"%s\" must be a list of 1 to %d codes", name, WF_MAX_PATTERNS);
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        rc = copy_str(d, name, (unsigned)i + 1, &o->via.array.ptr[i], 1, WF_CODE_LEN - 1, codes[i]);
        if (rc)
            return rc;
    }
    *n = (uint8_t)o->via.array.size;
    return WF_OK;
}

static int
get_roles(dec_t *d, const char *name, uint32_t *out)
{
    const msgpack_object *o;
    int rc = field(d, name, &o);
    if (rc)
        return rc;
    if (!o)
        return missing(d, name);
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > ROLES_MAX)
        return fail(d, WF_E_FIELD, "field \"%s\" must be a list of role names", name);
    uint32_t roles = 0;
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const msgpack_object *r = &o->via.array.ptr[i];
        char role[32];
        if (r->type != MSGPACK_OBJECT_STR || r->via.str.size >= sizeof role)
            return fail(d, WF_E_FIELD, "field \"%s\" must be a list of role names", name);
        memcpy(role, r->via.str.ptr, r->via.str.size);
        role[r->via.str.size] = '\0';
        uint32_t bit = strlen(role) == r->via.str.size ? wf_role_from_name(role) : 0;
        if (!bit)
            return fail(d, WF_E_FIELD, "field \"%s\": unknown role \"%s\"", name, role);
        roles |= bit;
    }
    *out = roles;
    return WF_OK;
}

/* lat and lon go together: both or neither (required: both). */
static int
get_loc(dec_t *d, bool required, double *lat, double *lon, bool *present)
{
    bool has_lat, has_lon;
    int rc = get_num(d, "lat", false, lat, &has_lat);
    if (!rc)
        rc = get_num(d, "lon", false, lon, &has_lon);
    if (rc)
        return rc;
    if (has_lat != has_lon)
        return fail(d, WF_E_FIELD, "fields \"lat\" and \"lon\" go together: \"%s\" is missing",
                    has_lat ? "lon" : "lat");
    if (required && !has_lat)
        return missing(d, "lat");
    *present = has_lat;
    return WF_OK;
}

/* ------------------------------------------------------------------ */
/* Per-op decoding                                                     */

static int
dec_post(dec_t *d, wf_cmd_t *cmd)
{
    wf_cmd_post_t *p = &cmd->u.post;
    bool has;
    int64_t v;
    int rc;

    p->max_km = 50.0;
    p->min_credit = 0;
    p->min_fill = 1;
    p->expires = 0;

    if (cmd->op == WF_OP_OFFER_POST)
        rc = get_str(d, "code", true, 1, WF_CODE_LEN - 1, p->code, NULL);
    else
        rc = get_codes(d, "codes", &p->ncodes, p->codes);
    if (rc)
        return rc;
    if ((rc = get_int(d, "qty", true, INT64_MIN, INT64_MAX, &p->qty, NULL)) ||
        (rc = get_int(d, "price", true, INT64_MIN, INT64_MAX, &p->price, NULL)) ||
        (rc = get_loc(d, false, &p->lat, &p->lon, &has)))
        return rc;
    if (has)
        cmd->has |= WF_HAS_LOC;
    if ((rc = get_num(d, "max_km", false, &p->max_km, &has)))
        return rc;
    if (has)
        cmd->has |= WF_HAS_MAX_KM;
    if ((rc = get_int(d, "min_credit", false, INT32_MIN, INT32_MAX, &v, &has)))
        return rc;
    if (has) {
        p->min_credit = (int32_t)v;
        cmd->has |= WF_HAS_MIN_CREDIT;
    }
    if ((rc = get_int(d, "min_fill", false, INT64_MIN, INT64_MAX, &p->min_fill, &has)))
        return rc;
    if (has)
        cmd->has |= WF_HAS_MIN_FILL;
    if ((rc = get_int(d, "expires", false, INT64_MIN, INT64_MAX, &p->expires, &has)))
        return rc;
    if (has)
        cmd->has |= WF_HAS_EXPIRES;
    if (cmd->op == WF_OP_DEMAND_POST) {
        if ((rc = get_str(d, "target", false, 1, WF_OID_LEN - 1, p->target, &has)))
            return rc;
        if (has)
            cmd->has |= WF_HAS_TARGET;
    }
    return WF_OK;
}

static int
dec_firm_put(dec_t *d, wf_cmd_t *cmd)
{
    wf_cmd_firm_t *f = &cmd->u.firm;
    bool has;
    int64_t v;
    uint64_t u;
    int rc;

    f->base_credit = 80;
    if ((rc = get_firm(d, "firm", true, f->firm, NULL)) ||
        (rc = get_str(d, "name", true, 1, WF_NAME_LEN - 1, f->name, NULL)) ||
        (rc = get_roles(d, "roles", &f->roles)) ||
        (rc = get_loc(d, true, &f->lat, &f->lon, &has)) ||
        (rc = get_uint(d, "county", true, UINT32_MAX, &u, NULL)))
        return rc;
    cmd->has |= WF_HAS_LOC;
    f->county = (uint32_t)u;
    if ((rc = get_str(d, "key", false, WF_KEY_LEN - 1, WF_KEY_LEN - 1, f->key, &has)))
        return rc;
    if (has)
        cmd->has |= WF_HAS_KEY;
    if ((rc = get_int(d, "base_credit", false, INT32_MIN, INT32_MAX, &v, &has)))
        return rc;
    if (has) {
        f->base_credit = (int32_t)v;
        cmd->has |= WF_HAS_BASE_CREDIT;
    }
    return WF_OK;
}

static int
dec_config_set(dec_t *d, wf_cmd_t *cmd)
{
    wf_config_t *c = &cmd->u.config.values;
    uint32_t *set = &cmd->u.config.set;
    bool has;
    int64_t v;
    int rc;

    static const struct { const char *name; uint32_t bit; size_t off; } nums[] = {
        {"w_credit", WF_CFG_W_CREDIT, offsetof(wf_config_t, w_credit)},
        {"w_distance", WF_CFG_W_DISTANCE, offsetof(wf_config_t, w_distance)},
        {"w_price", WF_CFG_W_PRICE, offsetof(wf_config_t, w_price)},
        {"discrepancy_pct", WF_CFG_DISCREPANCY_PCT, offsetof(wf_config_t, discrepancy_pct)},
        {"co2_per_tkm", WF_CFG_CO2_PER_TKM, offsetof(wf_config_t, co2_per_tkm)},
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        if ((rc = get_num(d, nums[i].name, false, (double *)((char *)c + nums[i].off), &has)))
            return rc;
        if (has)
            *set |= nums[i].bit;
    }
    static const struct { const char *name; uint32_t bit; size_t off; } tiers[] = {
        {"tier_a", WF_CFG_TIER_A, offsetof(wf_config_t, tier_a)},
        {"tier_b", WF_CFG_TIER_B, offsetof(wf_config_t, tier_b)},
        {"tier_c", WF_CFG_TIER_C, offsetof(wf_config_t, tier_c)},
        {"stream_keep_days", WF_CFG_STREAM_KEEP_DAYS, offsetof(wf_config_t, stream_keep_days)},
        {"rate_per_s", WF_CFG_RATE_PER_S, offsetof(wf_config_t, rate_per_s)},
        {"rate_burst", WF_CFG_RATE_BURST, offsetof(wf_config_t, rate_burst)},
    };
    for (size_t i = 0; i < sizeof tiers / sizeof tiers[0]; i++) {
        if ((rc = get_int(d, tiers[i].name, false, INT32_MIN, INT32_MAX, &v, &has)))
            return rc;
        if (has) {
            *(int32_t *)((char *)c + tiers[i].off) = (int32_t)v;
            *set |= tiers[i].bit;
        }
    }
    static const struct { const char *name; uint32_t bit; size_t off; } ints[] = {
        {"push_delay_b", WF_CFG_PUSH_DELAY_B, offsetof(wf_config_t, push_delay_b)},
        {"push_delay_c", WF_CFG_PUSH_DELAY_C, offsetof(wf_config_t, push_delay_c)},
        {"eco_fee", WF_CFG_ECO_FEE, offsetof(wf_config_t, eco_fee)},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        if ((rc = get_int(d, ints[i].name, false, INT64_MIN, INT64_MAX,
                          (int64_t *)((char *)c + ints[i].off), &has)))
            return rc;
        if (has)
            *set |= ints[i].bit;
    }
    if ((rc = get_int(d, "manifest_age", false, INT64_MIN, INT64_MAX, &c->manifest_age, &has)))
        return rc;
    if (has)
        *set |= WF_CFG_MANIFEST_AGE;
    static const struct { const char *name; uint32_t bit; size_t off; } points[] = {
        {"discrepancy_points", WF_CFG_DISCREPANCY_POINTS, offsetof(wf_config_t, discrepancy_points)},
        {"cancel_points", WF_CFG_CANCEL_POINTS, offsetof(wf_config_t, cancel_points)},
        {"expiry_points", WF_CFG_EXPIRY_POINTS, offsetof(wf_config_t, expiry_points)},
    };
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
        if ((rc = get_int(d, points[i].name, false, INT32_MIN, INT32_MAX, &v, &has)))
            return rc;
        if (has) {
            int32_t p32 = (int32_t)v;
            memcpy((char *)c + points[i].off, &p32, sizeof p32);
            *set |= points[i].bit;
        }
    }
    if ((rc = get_bool(d, "county_rule", false, &c->county_rule, &has)))
        return rc;
    if (has)
        *set |= WF_CFG_COUNTY_RULE;
    if ((rc = get_bool(d, "city_rule", false, &c->city_rule, &has)))
        return rc;
    if (has)
        *set |= WF_CFG_CITY_RULE;
    if (*set == 0)
        return fail(d, WF_E_FIELD, "config.set needs at least one setting (field \"w_credit\", "
                                   "\"tier_a\", \"eco_fee\", ...)");
    return WF_OK;
}

/* An optional goal name: "score" (the default) or "tonne_km". */
static int
get_goal(dec_t *d, uint8_t *goal)
{
    char name[16];
    bool has;
    int rc = get_str(d, "goal", false, 1, sizeof name - 1, name, &has);
    if (rc)
        return rc;
    *goal = WF_GOAL_SCORE;
    if (!has)
        return WF_OK;
    int g = wf_goal_from_name(name);
    if (g < 0)
        return fail(d, WF_E_FIELD, "field \"goal\" must be \"score\" or \"tonne_km\"");
    *goal = (uint8_t)g;
    return WF_OK;
}

static int
dec_optimize(dec_t *d, wf_cmd_t *cmd)
{
    wf_cmd_optimize_t *o = &cmd->u.optimize;
    const msgpack_object *codes;
    int rc = get_goal(d, &o->goal);
    if (!rc)
        rc = get_bool(d, "apply", false, &o->apply, NULL);
    if (!rc)
        rc = field(d, "codes", &codes);
    if (!rc && codes) {
        rc = get_codes(d, "codes", &o->ncodes, o->codes);
        cmd->has |= WF_HAS_CODES;
    }
    return rc;
}

static int
dec_licence_put(dec_t *d, wf_cmd_t *cmd)
{
    wf_cmd_licence_t *l = &cmd->u.licence;
    int rc;
    if ((rc = get_firm(d, "firm", true, l->firm, NULL)) ||
        (rc = get_codes(d, "codes", &l->ncodes, l->codes)) ||
        (rc = get_int(d, "capacity", true, INT64_MIN, INT64_MAX, &l->capacity, NULL)) ||
        (rc = get_int(d, "valid_until", true, INT64_MIN, INT64_MAX, &l->valid_until, NULL)))
        return rc;
    return WF_OK;
}

static int
dec_sub_put(dec_t *d, wf_cmd_t *cmd)
{
    wf_cmd_sub_t *sb = &cmd->u.sub;
    bool has;
    int64_t v;
    int rc;
    char side[16];

    sb->radius_km = 50.0;
    if ((rc = get_str(d, "side", true, 1, sizeof side - 1, side, NULL)))
        return rc;
    if (strcmp(side, "offers") == 0)
        sb->side = WF_OFFER;
    else if (strcmp(side, "demands") == 0)
        sb->side = WF_DEMAND;
    else
        return fail(d, WF_E_FIELD, "field \"side\" must be \"offers\" or \"demands\"");
    if ((rc = get_codes(d, "codes", &sb->ncodes, sb->codes)) ||
        (rc = get_loc(d, false, &sb->lat, &sb->lon, &has)))
        return rc;
    if (has)
        cmd->has |= WF_HAS_LOC;
    if ((rc = get_num(d, "radius_km", false, &sb->radius_km, &has)))
        return rc;
    if (has)
        cmd->has |= WF_HAS_RADIUS;
    if ((rc = get_int(d, "min_qty", false, INT64_MIN, INT64_MAX, &sb->min_qty, &has)))
        return rc;
    if (has)
        cmd->has |= WF_HAS_MIN_QTY;
    if ((rc = get_int(d, "min_credit", false, INT32_MIN, INT32_MAX, &v, &has)))
        return rc;
    if (has) {
        sb->min_credit = (int32_t)v;
        cmd->has |= WF_HAS_MIN_CREDIT;
    }
    return WF_OK;
}

static int
dec_lane(dec_t *d, wf_cmd_t *cmd)
{
    wf_cmd_lane_t *l = &cmd->u.lane;
    int rc;
    if ((rc = get_firm(d, "producer", true, l->producer, NULL)) ||
        (rc = get_firm(d, "consumer", true, l->consumer, NULL)) ||
        (rc = get_str(d, "code", true, 1, WF_CODE_LEN - 1, l->code, NULL)))
        return rc;
    return WF_OK;

}

static int
dec_credit(dec_t *d, wf_cmd_t *cmd)
{
    wf_cmd_credit_t *c = &cmd->u.credit;
    bool has;
    int64_t v;
    int rc;

    if ((rc = get_firm(d, "firm", true, c->firm, NULL)) ||
        (rc = get_str(d, "kind", true, 1, sizeof c->kind - 1, c->kind, NULL)) ||
        (rc = get_int(d, "points", true, INT32_MIN, INT32_MAX, &v, NULL)))
        return rc;
    c->points = (int32_t)v;
    if ((rc = get_int(d, "expires", false, INT64_MIN, INT64_MAX, &c->expires, &has)))
        return rc;
    if (has)
        cmd->has |= WF_HAS_POINTS_EXPIRES;
    return get_str(d, "note", true, 0, WF_NOTE_LEN - 1, c->note, NULL);
}

static int
dec_manifest(dec_t *d, wf_cmd_t *cmd)
{
    wf_cmd_manifest_t *m = &cmd->u.manifest;
    int rc = get_str(d, "id", true, 1, WF_OID_LEN - 1, m->id, NULL);
    if (rc)
        return rc;
    switch (cmd->op) {
    case WF_OP_MANIFEST_DISPATCH:
        if ((rc = get_firm(d, "carrier", true, m->carrier, NULL)))
            return rc;
        return get_str(d, "vehicle", true, 1, sizeof m->vehicle - 1, m->vehicle, NULL);
    case WF_OP_MANIFEST_LOAD:
    case WF_OP_MANIFEST_UNLOAD:
        return get_int(d, "qty", true, INT64_MIN, INT64_MAX, &m->qty, NULL);
    case WF_OP_MANIFEST_CANCEL:
        return get_str(d, "reason", true, 1, sizeof m->reason - 1, m->reason, NULL);
    default:
        return WF_OK;
    }
}

static int
dec_op(dec_t *d, wf_cmd_t *cmd)
{
    bool has;
    int rc;

    switch (cmd->op) {
    case WF_OP_CONFIG_GET:
        return get_bool(d, "history", false, &cmd->u.config_get.history, NULL);
    case WF_OP_PING:
    case WF_OP_ENGINE_KEY:
    case WF_OP_JOURNAL_HEAD:
        return WF_OK;
    case WF_OP_MANIFEST_DISPATCH:
    case WF_OP_MANIFEST_LOAD:
    case WF_OP_MANIFEST_UNLOAD:
    case WF_OP_MANIFEST_CLOSE:
    case WF_OP_MANIFEST_CANCEL:
    case WF_OP_MANIFEST_GET:
        return dec_manifest(d, cmd);
    case WF_OP_HELLO:
        cmd->u.hello.after_seq = 0;
        if ((rc = get_uint(d, "after_seq", false, UINT64_MAX, &cmd->u.hello.after_seq, &has)))
            return rc;
        if (has)
            cmd->has |= WF_HAS_AFTER_SEQ;
        return WF_OK;
    case WF_OP_OFFER_POST:
    case WF_OP_DEMAND_POST:
        return dec_post(d, cmd);
    case WF_OP_ORDER_CANCEL:
    case WF_OP_ORDER_GET:
        return get_str(d, "id", true, 1, WF_OID_LEN - 1, cmd->u.ref.id, NULL);
    case WF_OP_ORDERS_MINE:
        cmd->u.mine.live_only = true;
        if ((rc = get_bool(d, "live_only", false, &cmd->u.mine.live_only, &has)))
            return rc;
        if (has)
            cmd->has |= WF_HAS_LIVE_ONLY;
        return WF_OK;
    case WF_OP_FIRM_PUT:
        return dec_firm_put(d, cmd);
    case WF_OP_FIRM_GET:
        return get_firm(d, "firm", true, cmd->u.firm_get.firm, NULL);
    case WF_OP_CONFIG_SET:
        return dec_config_set(d, cmd);
    case WF_OP_LICENCE_PUT:
        return dec_licence_put(d, cmd);
    case WF_OP_LANE_PUT:
    case WF_OP_LANE_DEL:
        return dec_lane(d, cmd);
    case WF_OP_OPTIMIZE:
        return dec_optimize(d, cmd);
    case WF_OP_AUCTION_SET:
        if ((rc = get_str(d, "code", true, 1, WF_CODE_LEN - 1, cmd->u.auction.code, NULL)) ||
            (rc = get_int(d, "period_ms", true, INT64_MIN, INT64_MAX, &cmd->u.auction.period_ms,
                          NULL)))
            return rc;
        return get_goal(d, &cmd->u.auction.goal);
    case WF_OP_AUCTION_DEL:
        return get_str(d, "code", true, 1, WF_CODE_LEN - 1, cmd->u.auction.code, NULL);
    case WF_OP_SUB_PUT:
        return dec_sub_put(d, cmd);
    case WF_OP_SUB_DEL:
        return get_str(d, "id", true, 1, WF_OID_LEN - 1, cmd->u.ref.id, NULL);
    case WF_OP_CREDIT_EVENT:
        return dec_credit(d, cmd);
    case WF_OP_FIRM_BLOCK:
    case WF_OP_FIRM_UNBLOCK:
        if ((rc = get_firm(d, "firm", true, cmd->u.block.firm, NULL)))
            return rc;
        return get_str(d, "note", true, 0, WF_NOTE_LEN - 1, cmd->u.block.note, NULL);
    case WF_OP_STATS: {
        uint64_t top = 10, days = 7;
        if ((rc = get_uint(d, "top", false, UINT32_MAX, &top, NULL)) ||
            (rc = get_uint(d, "days", false, UINT32_MAX, &days, NULL)))
            return rc;
        cmd->u.stats.top = (uint32_t)top;
        cmd->u.stats.days = (uint32_t)days;
        return WF_OK;
    }
    default:
        return fail(d, WF_E_INTERNAL, "op %d has no decoder", (int)cmd->op);
    }
}

int
wf_codec_decode(const void *buf, size_t len, wf_cmd_t *cmd, char *msg, size_t msglen)
{
    dec_t d = {.map = NULL, .msg = msg, .msglen = msglen};
    size_t used = 0, off = 0;
    int rc;

    memset(cmd, 0, sizeof *cmd);
    if (msglen > 0)
        msg[0] = '\0';
    if (len == 0 || !wf_msgpack_scan(buf, len, SCAN_DEPTH, &used))
        return fail(&d, WF_E_PARSE, "the request is not a msgpack object");
    if (used != len)
        return fail(&d, WF_E_PARSE, "the request has %zu trailing bytes after its map", len - used);

    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    if (msgpack_unpack_next(&up, buf, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len) {
        rc = fail(&d, WF_E_PARSE, "the request is not a msgpack object");
        goto out;
    }
    if (up.data.type != MSGPACK_OBJECT_MAP) {
        rc = fail(&d, WF_E_PARSE, "the request must be a msgpack map");
        goto out;
    }
    d.map = &up.data.via.map;
    for (uint32_t i = 0; i < d.map->size; i++)
        if (d.map->ptr[i].key.type != MSGPACK_OBJECT_STR) {
            rc = fail(&d, WF_E_FIELD, "field names must be strings");
            goto out;
        }

    /* rid first, so that every later failure can still be answered with it. */
    if ((rc = get_uint(&d, "rid", true, UINT64_MAX, &cmd->rid, NULL)))
        goto out;

    const msgpack_object *o;
    if ((rc = field(&d, "op", &o)))
        goto out;
    if (!o) {
        rc = missing(&d, "op");
        goto out;
    }
    char name[32];
    if (o->type != MSGPACK_OBJECT_STR) {
        rc = fail(&d, WF_E_FIELD, "field \"op\" must be a string");
        goto out;
    }
    if (o->via.str.size >= sizeof name || memchr(o->via.str.ptr, '\0', o->via.str.size)) {
        rc = fail(&d, WF_E_OP, "unknown op");
        goto out;
    }
    memcpy(name, o->via.str.ptr, o->via.str.size);
    name[o->via.str.size] = '\0';
    cmd->op = wf_op_from_name(name);
    if (cmd->op == WF_OP_NONE) {
        rc = fail(&d, WF_E_OP, "unknown op \"%s\"", name);
        goto out;
    }

    bool has_as;
    if ((rc = get_firm(&d, "as", false, cmd->as, &has_as)))
        goto out;
    rc = dec_op(&d, cmd);
out:
    msgpack_unpacked_destroy(&up);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Encoding                                                            */

static void
pk_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    if (n < 32) { /* a fixstr, header and body in one write: most keys and ids */
        char buf[32];
        buf[0] = (char)(0xa0 | n);
        memcpy(buf + 1, s, n);
        pk->callback(pk->data, buf, n + 1);
        return;
    }
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void
pk_id(msgpack_packer *pk, char prefix, uint64_t n)
{
    char id[WF_OID_LEN];
    wf_id_format(id, prefix, n);
    pk_str(pk, id);
}

/* A stored token, cut at its buffer's end should it lack a NUL. */
static const char *
token_text(const char *t)
{
    return memchr(t, 0, WF_TOKEN_MAX) ? t : "";
}

static void
pk_bool(msgpack_packer *pk, bool b)
{
    if (b)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

static const char *
side_name(unsigned side)
{
    return side == WF_DEMAND ? "demand" : "offer";
}

static const char *
state_name(unsigned state)
{
    switch (state) {
    case WF_ORDER_LIVE: return "live";
    case WF_ORDER_FILLED: return "filled";
    case WF_ORDER_CANCELLED: return "cancelled";
    case WF_ORDER_EXPIRED: return "expired";
    case WF_ORDER_DONE: return "done";
    default: return "unknown";
    }
}

static const char *
type_name(unsigned type)
{
    switch (type) {
    case WF_MSG_MATCH: return "match";
    case WF_MSG_NOTIFY: return "notify";
    case WF_MSG_MANIFEST: return "manifest";
    case WF_MSG_EXPIRED: return "expired";
    case WF_MSG_CREDIT: return "credit";
    default: return "unknown";
    }
}

#define MATCH_FIELDS 11

/* The match map's fields, without the map header. */
static void
pk_match_fields(msgpack_packer *pk, const wf_match_rec_t *m)
{
    pk_str(pk, "id");
    pk_id(pk, 'M', m->id);
    pk_str(pk, "offer");
    pk_id(pk, 'O', m->offer);
    pk_str(pk, "demand");
    pk_id(pk, 'D', m->demand);
    pk_str(pk, "code");
    pk_str(pk, m->code);
    pk_str(pk, "qty");
    msgpack_pack_int64(pk, m->qty);
    pk_str(pk, "price");
    msgpack_pack_int64(pk, m->price);
    pk_str(pk, "fee");
    msgpack_pack_int64(pk, m->fee);
    pk_str(pk, "km");
    msgpack_pack_double(pk, m->km);
    pk_str(pk, "score");
    msgpack_pack_double(pk, m->score);
    pk_str(pk, "manifest");
    if (m->manifest)
        pk_id(pk, 'F', m->manifest);
    else
        msgpack_pack_nil(pk);
    pk_str(pk, "ts");
    msgpack_pack_int64(pk, m->ts);
}

static void
pk_match(msgpack_packer *pk, const wf_match_rec_t *m)
{
    msgpack_pack_map(pk, MATCH_FIELDS);
    pk_match_fields(pk, m);
}

static void
pk_order(msgpack_packer *pk, const wf_order_rec_t *o)
{
    msgpack_pack_map(pk, o->target ? 17 : 16);
    pk_str(pk, "id");
    pk_id(pk, o->side == WF_DEMAND ? 'D' : 'O', o->id);
    pk_str(pk, "side");
    pk_str(pk, side_name(o->side));
    pk_str(pk, "state");
    pk_str(pk, state_name(o->state));
    pk_str(pk, "firm");
    pk_str(pk, o->firm);
    if (o->side == WF_DEMAND) {
        uint8_t n = o->ncodes <= WF_MAX_PATTERNS ? o->ncodes : WF_MAX_PATTERNS;
        pk_str(pk, "codes");
        msgpack_pack_array(pk, n);
        for (uint8_t i = 0; i < n; i++)
            pk_str(pk, o->codes[i]);
    } else {
        pk_str(pk, "code");
        pk_str(pk, o->code);
    }
    pk_str(pk, "qty");
    msgpack_pack_int64(pk, o->qty);
    pk_str(pk, "remaining");
    msgpack_pack_int64(pk, o->remaining);
    pk_str(pk, "price");
    msgpack_pack_int64(pk, o->price);
    pk_str(pk, "lat");
    msgpack_pack_double(pk, o->lat);
    pk_str(pk, "lon");
    msgpack_pack_double(pk, o->lon);
    pk_str(pk, "max_km");
    msgpack_pack_double(pk, o->max_km);
    pk_str(pk, "min_credit");
    msgpack_pack_int32(pk, o->min_credit);
    pk_str(pk, "min_fill");
    msgpack_pack_int64(pk, o->min_fill);
    pk_str(pk, "expires");
    msgpack_pack_int64(pk, o->expires);
    pk_str(pk, "posted");
    msgpack_pack_int64(pk, o->posted);
    pk_str(pk, "updated");
    msgpack_pack_int64(pk, o->updated);
    if (o->target) {
        pk_str(pk, "target");
        pk_id(pk, 'O', o->target);
    }
}

/* A licence map of firm.get (docs/protocol.md): year and used as of the
 * request. */
static void
pk_licence(msgpack_packer *pk, const wf_licence_rec_t *l)
{
    msgpack_pack_map(pk, 6);
    pk_str(pk, "id");
    pk_id(pk, 'L', l->id);
    pk_str(pk, "codes");
    unsigned n = l->ncodes <= WF_MAX_PATTERNS ? l->ncodes : WF_MAX_PATTERNS;
    msgpack_pack_array(pk, n);
    for (unsigned i = 0; i < n; i++) {
        char code[WF_CODE_LEN + 1];
        snprintf(code, sizeof code, "%.*s", WF_CODE_LEN, l->codes[i]);
        pk_str(pk, code);
    }
    pk_str(pk, "capacity");
    msgpack_pack_int64(pk, l->capacity);
    pk_str(pk, "used");
    msgpack_pack_int64(pk, l->used);
    pk_str(pk, "year");
    msgpack_pack_int32(pk, l->year);
    pk_str(pk, "valid_until");
    msgpack_pack_int64(pk, l->valid_until);
}

/* The six dimensions of the credit panel: per kind the sum of the active
 * events' points and their list. ev is sorted by kind. */
static void
pk_events(msgpack_packer *pk, const wf_credit_event_t *ev, size_t n)
{
    msgpack_pack_map(pk, WF_CREDIT__COUNT);
    for (int kind = 0; kind < WF_CREDIT__COUNT; kind++) {
        int64_t sum = 0;
        uint32_t cnt = 0;
        for (size_t k = 0; k < n; k++)
            if (ev[k].kind == kind) {
                sum += ev[k].points;
                cnt++;
            }
        pk_str(pk, wf_credit_kind_name(kind));
        msgpack_pack_map(pk, 2);
        pk_str(pk, "sum");
        msgpack_pack_int64(pk, sum);
        pk_str(pk, "list");
        msgpack_pack_array(pk, cnt);
        for (size_t k = 0; k < n; k++) {
            if (ev[k].kind != kind)
                continue;
            char note[WF_CREDIT_NOTE_LEN + 1];
            memcpy(note, ev[k].note, WF_CREDIT_NOTE_LEN);
            note[WF_CREDIT_NOTE_LEN] = '\0';
            msgpack_pack_map(pk, 4);
            pk_str(pk, "points");
            msgpack_pack_int32(pk, ev[k].points);
            pk_str(pk, "note");
            pk_str(pk, note);
            pk_str(pk, "recorded");
            msgpack_pack_int64(pk, ev[k].recorded);
            pk_str(pk, "expires");
            msgpack_pack_int64(pk, ev[k].expires);
        }
    }
}

/* The firm map: the record, and its credit as the reply carries it (the
 * live score and tier; firm.get adds the active events by kind). Without
 * a score from the engine the base stands for it, and the tier comes
 * from cfg when given. */
static void
pk_firm(msgpack_packer *pk, const wf_reply_t *r, const wf_config_t *cfg)
{
    const wf_firm_rec_t *f = r->firm;
    bool has_key = f->key[0] != '\0';
    bool events = r->op == WF_OP_FIRM_GET, with_licences = events;
    int32_t score = r->has_credit ? r->score : wf_credit_clamp(f->base_credit);
    char tier = 0;
    if (r->has_credit && r->tier) {
        tier = r->tier;
    } else if (cfg) {
        wf_tiers_t t = {cfg->tier_a, cfg->tier_b, cfg->tier_c};
        tier = wf_credit_tier(score, &t);
    }
    uint32_t n = 9 + (has_key ? 1 : 0) + (tier ? 1 : 0) + (events ? 1 : 0) + (with_licences ? 1 : 0);
    msgpack_pack_map(pk, n);
    pk_str(pk, "id");
    pk_str(pk, f->id);
    pk_str(pk, "name");
    pk_str(pk, f->name);
    pk_str(pk, "roles");
    uint32_t nroles = 0;
    for (uint32_t bit = 1; bit; bit <<= 1)
        if ((f->roles & bit) && wf_role_name(bit))
            nroles++;
    msgpack_pack_array(pk, nroles);
    for (uint32_t bit = 1; bit; bit <<= 1)
        if ((f->roles & bit) && wf_role_name(bit))
            pk_str(pk, wf_role_name(bit));
    pk_str(pk, "lat");
    msgpack_pack_double(pk, f->lat);
    pk_str(pk, "lon");
    msgpack_pack_double(pk, f->lon);
    pk_str(pk, "county");
    msgpack_pack_uint32(pk, f->county);
    if (has_key) {
        pk_str(pk, "key");
        pk_str(pk, f->key);
    }
    pk_str(pk, "base_credit");
    msgpack_pack_int32(pk, f->base_credit);
    pk_str(pk, "score");
    msgpack_pack_int32(pk, score);
    if (tier) {
        char ts[2] = {tier, '\0'};
        pk_str(pk, "tier");
        pk_str(pk, ts);
    }
    pk_str(pk, "blocked");
    pk_bool(pk, f->blocked != 0);
    if (with_licences) {
        pk_str(pk, "licences");
        msgpack_pack_array(pk, r->licences ? r->nlicences : 0);
        for (size_t i = 0; r->licences && i < r->nlicences; i++)
            pk_licence(pk, &r->licences[i]);
    }
    if (events) {
        pk_str(pk, "events");
        pk_events(pk, r->events, r->events ? r->nevents : 0);
    }
}

static void
pk_config_part(msgpack_packer *pk, const wf_config_t *c, uint32_t set)
{
    enum { D, I32, I64, B };
    static const struct { const char *name; uint32_t bit; int kind; size_t off; } keys[] = {
        {"w_credit", WF_CFG_W_CREDIT, D, offsetof(wf_config_t, w_credit)},
        {"w_distance", WF_CFG_W_DISTANCE, D, offsetof(wf_config_t, w_distance)},
        {"w_price", WF_CFG_W_PRICE, D, offsetof(wf_config_t, w_price)},
        {"tier_a", WF_CFG_TIER_A, I32, offsetof(wf_config_t, tier_a)},
        {"tier_b", WF_CFG_TIER_B, I32, offsetof(wf_config_t, tier_b)},
        {"tier_c", WF_CFG_TIER_C, I32, offsetof(wf_config_t, tier_c)},
        {"push_delay_b", WF_CFG_PUSH_DELAY_B, I64, offsetof(wf_config_t, push_delay_b)},
        {"push_delay_c", WF_CFG_PUSH_DELAY_C, I64, offsetof(wf_config_t, push_delay_c)},
        {"county_rule", WF_CFG_COUNTY_RULE, B, offsetof(wf_config_t, county_rule)},
        {"city_rule", WF_CFG_CITY_RULE, B, offsetof(wf_config_t, city_rule)},
        {"eco_fee", WF_CFG_ECO_FEE, I64, offsetof(wf_config_t, eco_fee)},
        {"discrepancy_pct", WF_CFG_DISCREPANCY_PCT, D, offsetof(wf_config_t, discrepancy_pct)},
        {"stream_keep_days", WF_CFG_STREAM_KEEP_DAYS, I32, offsetof(wf_config_t, stream_keep_days)},
        {"co2_per_tkm", WF_CFG_CO2_PER_TKM, D, offsetof(wf_config_t, co2_per_tkm)},
        {"rate_per_s", WF_CFG_RATE_PER_S, I32, offsetof(wf_config_t, rate_per_s)},
        {"rate_burst", WF_CFG_RATE_BURST, I32, offsetof(wf_config_t, rate_burst)},
        {"manifest_age", WF_CFG_MANIFEST_AGE, I64, offsetof(wf_config_t, manifest_age)},
        {"discrepancy_points", WF_CFG_DISCREPANCY_POINTS, I32,
         offsetof(wf_config_t, discrepancy_points)},
        {"cancel_points", WF_CFG_CANCEL_POINTS, I32, offsetof(wf_config_t, cancel_points)},
        {"expiry_points", WF_CFG_EXPIRY_POINTS, I32, offsetof(wf_config_t, expiry_points)},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        n += (set & keys[i].bit) != 0;
    msgpack_pack_map(pk, n);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (!(set & keys[i].bit))
            continue;
        const char *p = (const char *)c + keys[i].off;
        pk_str(pk, keys[i].name);
        switch (keys[i].kind) {
        case D: {
            double d;
            memcpy(&d, p, sizeof d);
            msgpack_pack_double(pk, d);
            break;
        }
        case I32: {
            int32_t v;
            memcpy(&v, p, sizeof v);
            msgpack_pack_int32(pk, v);
            break;
        }
        case I64: {
            int64_t v;
            memcpy(&v, p, sizeof v);
            msgpack_pack_int64(pk, v);
            break;
        }
        default: {
            unsigned char v; /* a journaled bool is not trusted to be 0 or 1 */
            memcpy(&v, p, 1);
            pk_bool(pk, v != 0);
            break;
        }
        }
    }
}

/* config.get's history: "history" (newest first: seq, ts, by, changes as
 * a map of the settings the change named), "history_scanned",
 * "history_truncated". Three map entries. */
static void
pk_config_history(msgpack_packer *pk, const wf_reply_t *r)
{
    pk_str(pk, "history");
    msgpack_pack_array(pk, r->history ? r->nhistory : 0);
    for (size_t i = 0; r->history && i < r->nhistory; i++) {
        const wf_config_change_t *h = &r->history[i];
        msgpack_pack_map(pk, 4);
        pk_str(pk, "seq");
        msgpack_pack_uint64(pk, h->seq);
        pk_str(pk, "ts");
        msgpack_pack_int64(pk, h->ts);
        pk_str(pk, "by");
        pk_str(pk, h->by);
        pk_str(pk, "changes");
        pk_config_part(pk, &h->values, h->set);
    }
    pk_str(pk, "history_scanned");
    msgpack_pack_uint64(pk, r->history_scanned);
    pk_str(pk, "history_truncated");
    pk_bool(pk, r->history_truncated);
}

/* The settings named in set (WF_CFG_* bits), as a map. */
static void
pk_config(msgpack_packer *pk, const wf_config_t *c)
{
    pk_config_part(pk, c, (WF_CFG__LAST << 1) - 1);
}

static void
pk_bin(msgpack_packer *pk, const uint8_t *b, size_t n)
{
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, b, n);
}

/* A string field, nil when empty. */
static void
pk_opt_str(msgpack_packer *pk, const char *key, const char *val)
{
    pk_str(pk, key);
    if (val[0])
        pk_str(pk, val);
    else
        msgpack_pack_nil(pk);
}

/* A time field, nil while the step has not happened. */
static void
pk_opt_time(msgpack_packer *pk, const char *key, int64_t t)
{
    pk_str(pk, key);
    if (t)
        msgpack_pack_int64(pk, t);
    else
        msgpack_pack_nil(pk);
}

#define MANIFEST_FIELDS 22

static void
pk_manifest(msgpack_packer *pk, const wf_manifest_rec_t *m, const char *token)
{
    msgpack_pack_map(pk, MANIFEST_FIELDS);
    pk_str(pk, "id");
    pk_id(pk, 'F', m->id);
    pk_str(pk, "match");
    pk_id(pk, 'M', m->match);
    pk_str(pk, "state");
    pk_str(pk, wf_manifest_state_name(m->state));
    pk_str(pk, "code");
    pk_str(pk, m->code);
    pk_str(pk, "qty");
    msgpack_pack_int64(pk, m->qty);
    pk_str(pk, "shipped");
    if (m->loaded)
        msgpack_pack_int64(pk, m->shipped);
    else
        msgpack_pack_nil(pk);
    pk_str(pk, "weighed");
    if (m->unloaded)
        msgpack_pack_int64(pk, m->weighed);
    else
        msgpack_pack_nil(pk);
    pk_str(pk, "producer");
    pk_str(pk, m->producer);
    pk_str(pk, "consumer");
    pk_str(pk, m->consumer);
    pk_opt_str(pk, "carrier", m->carrier);
    pk_opt_str(pk, "vehicle", m->vehicle);
    pk_opt_time(pk, "created", m->created);
    pk_opt_time(pk, "dispatched", m->dispatched);
    pk_opt_time(pk, "loaded", m->loaded);
    pk_opt_time(pk, "unloaded", m->unloaded);
    pk_opt_time(pk, "closed", m->closed);
    pk_opt_time(pk, "cancelled", m->cancelled);
    pk_str(pk, "updated");
    msgpack_pack_int64(pk, m->updated);
    pk_str(pk, "discrepancy");
    pk_bool(pk, m->discrepancy != 0);
    pk_opt_str(pk, "cancelled_by", m->state == WF_MANIFEST_CANCELLED ? m->cancelled_by : "");
    pk_opt_str(pk, "cancel_reason", m->cancel_reason);
    pk_opt_str(pk, "token", token ? token : "");
}

static void
pk_totals(msgpack_packer *pk, const wf_plan_totals_t *t)
{
    msgpack_pack_map(pk, 4);
    pk_str(pk, "qty");
    msgpack_pack_int64(pk, t->qty);
    pk_str(pk, "tonne_km");
    msgpack_pack_double(pk, t->tonne_km);
    pk_str(pk, "co2_kg");
    msgpack_pack_double(pk, t->co2_kg);
    pk_str(pk, "score");
    msgpack_pack_double(pk, t->score);
}

/* The optimize reply's fields (15), without the map header. */
#define OPTIMIZE_FIELDS 15
static void
pk_optimize(msgpack_packer *pk, const wf_optimize_result_t *r)
{
    pk_str(pk, "goal");
    pk_str(pk, wf_goal_name(r->goal) ? wf_goal_name(r->goal) : "score");
    pk_str(pk, "applied");
    pk_bool(pk, r->applied);
    pk_str(pk, "pairs");
    msgpack_pack_array(pk, r->pairs ? r->nlisted : 0);
    for (size_t i = 0; r->pairs && i < r->nlisted; i++) {
        const wf_plan_pair_t *p = &r->pairs[i];
        msgpack_pack_map(pk, 7);
        pk_str(pk, "offer");
        pk_id(pk, 'O', p->offer);
        pk_str(pk, "demand");
        pk_id(pk, 'D', p->demand);
        pk_str(pk, "code");
        pk_str(pk, p->code);
        pk_str(pk, "qty");
        msgpack_pack_int64(pk, p->qty);
        pk_str(pk, "km");
        msgpack_pack_double(pk, p->km);
        pk_str(pk, "score");
        msgpack_pack_double(pk, p->score);
        pk_str(pk, "match");
        if (p->match)
            pk_id(pk, 'M', p->match);
        else
            msgpack_pack_nil(pk);
    }
    pk_str(pk, "npairs");
    msgpack_pack_uint64(pk, r->npairs);
    pk_str(pk, "qty");
    msgpack_pack_int64(pk, r->plan.qty);
    pk_str(pk, "tonne_km");
    msgpack_pack_double(pk, r->plan.tonne_km);
    pk_str(pk, "co2_kg");
    msgpack_pack_double(pk, r->plan.co2_kg);
    pk_str(pk, "score");
    msgpack_pack_double(pk, r->plan.score);
    pk_str(pk, "continuous");
    pk_totals(pk, &r->continuous);
    pk_str(pk, "equal");
    if (r->goal == WF_GOAL_TONNE_KM)
        pk_totals(pk, &r->equal);
    else
        msgpack_pack_nil(pk);
    pk_str(pk, "gap_pct");
    msgpack_pack_double(pk, r->gap_pct);
    pk_str(pk, "offers");
    msgpack_pack_uint64(pk, r->offers);
    pk_str(pk, "demands");
    msgpack_pack_uint64(pk, r->demands);
    pk_str(pk, "bounded");
    pk_bool(pk, r->left_out > 0 || r->limit_hit);
    pk_str(pk, "bound");
    pk_str(pk, r->bound);
}

static void
pk_auctions(msgpack_packer *pk, const wf_auction_rec_t *a, size_t n)
{
    msgpack_pack_array(pk, a ? n : 0);
    for (size_t i = 0; a && i < n; i++) {
        msgpack_pack_map(pk, 6);
        pk_str(pk, "code");
        pk_str(pk, a[i].code);
        pk_str(pk, "period_ms");
        msgpack_pack_int64(pk, a[i].period_ms);
        pk_str(pk, "goal");
        pk_str(pk, wf_goal_name(a[i].goal) ? wf_goal_name(a[i].goal) : "score");
        pk_str(pk, "last_clear");
        msgpack_pack_int64(pk, a[i].last_clear);
        pk_str(pk, "clears");
        msgpack_pack_uint64(pk, a[i].clears);
        pk_str(pk, "matched");
        msgpack_pack_uint64(pk, a[i].matched);
    }
}

static void
pk_kv_i(msgpack_packer *pk, const char *k, int64_t v)
{
    pk_str(pk, k);
    msgpack_pack_int64(pk, v);
}

static void
pk_kv_u(msgpack_packer *pk, const char *k, uint64_t v)
{
    pk_str(pk, k);
    msgpack_pack_uint64(pk, v);
}

static void
pk_kv_d(msgpack_packer *pk, const char *k, double v)
{
    pk_str(pk, k);
    msgpack_pack_double(pk, v);
}

/* A stats row: key names the row ("class", "code", "name"). */
static void
pk_stats_row(msgpack_packer *pk, const char *key, const wf_stats_row_t *r)
{
    msgpack_pack_map(pk, 10);
    pk_str(pk, key);
    pk_str(pk, r->name);
    pk_kv_i(pk, "offers", r->offers);
    pk_kv_i(pk, "offer_qty", r->offer_qty);
    pk_kv_i(pk, "demands", r->demands);
    pk_kv_i(pk, "demand_qty", r->demand_qty);
    pk_kv_d(pk, "live_tonnes", (double)(r->offer_qty + r->demand_qty) / 1000.0);
    pk_kv_u(pk, "matches", r->matches);
    pk_kv_i(pk, "matched_qty", r->matched_qty);
    pk_kv_d(pk, "tonnes", (double)r->matched_qty / 1000.0);
    pk_kv_d(pk, "tonne_km", r->tonne_km);
}

static const char *const manifest_states[6] = {"OPEN", "DISPATCHED", "LOADED", "UNLOADED", "CLOSED",
                                               "CANCELLED"};

static void
pk_stats(msgpack_packer *pk, const wf_stats_t *s)
{
    msgpack_pack_map(pk, 10 + (s->manifests_scanned ? 1 : 0) + (s->has_latency ? 1 : 0));
    pk_kv_i(pk, "ts", s->ts);
    pk_kv_u(pk, "journal_seq", s->journal_seq);
    pk_str(pk, "total");
    pk_stats_row(pk, "name", &s->total);
    pk_str(pk, "classes");
    msgpack_pack_array(pk, WF_CLASS__COUNT);
    for (int c = 0; c < WF_CLASS__COUNT; c++)
        pk_stats_row(pk, "class", &s->classes[c]);
    pk_str(pk, "codes");
    size_t nc = s->ncodes <= WF_STATS_TOP_MAX ? s->ncodes : WF_STATS_TOP_MAX;
    msgpack_pack_array(pk, nc);
    for (size_t i = 0; i < nc; i++)
        pk_stats_row(pk, "code", &s->codes[i]);
    pk_str(pk, "days");
    size_t nd = s->ndays <= WF_STATS_DAYS_MAX ? s->ndays : WF_STATS_DAYS_MAX;
    msgpack_pack_array(pk, nd);
    for (size_t i = 0; i < nd; i++) {
        const wf_stats_day_t *d = &s->days[i];
        msgpack_pack_map(pk, 5);
        pk_str(pk, "day");
        pk_str(pk, d->day);
        pk_kv_u(pk, "matches", d->matches);
        pk_kv_i(pk, "qty", d->qty);
        pk_kv_d(pk, "tonnes", (double)d->qty / 1000.0);
        pk_kv_d(pk, "tonne_km", d->tonne_km);
    }
    pk_kv_d(pk, "co2_per_tkm", s->co2_per_tkm);
    pk_kv_d(pk, "co2_kg", s->co2_kg);
    pk_str(pk, "time_to_match");
    msgpack_pack_map(pk, 4);
    pk_kv_u(pk, "count", s->waits);
    pk_kv_i(pk, "p50_ms", s->wait_p50_ms);
    pk_kv_i(pk, "p90_ms", s->wait_p90_ms);
    pk_kv_i(pk, "max_ms", s->wait_max_ms);
    pk_str(pk, "credit");
    msgpack_pack_map(pk, 6);
    pk_kv_u(pk, "firms", s->firms);
    pk_kv_u(pk, "A", s->tiers[0]);
    pk_kv_u(pk, "B", s->tiers[1]);
    pk_kv_u(pk, "C", s->tiers[2]);
    pk_kv_u(pk, "D", s->tiers[3]);
    pk_kv_u(pk, "blocked", s->blocked);
    if (s->manifests_scanned) {
        pk_str(pk, "manifests");
        msgpack_pack_map(pk, 8);
        for (int i = 0; i < 6; i++)
            pk_kv_u(pk, manifest_states[i], s->manifests[i]);
        pk_kv_u(pk, "scanned", s->manifests_seen);
        pk_str(pk, "truncated");
        pk_bool(pk, s->manifests_truncated);
    }
    if (s->has_latency) {
        pk_str(pk, "latency");
        msgpack_pack_map(pk, 11);
        pk_kv_u(pk, "requests", s->requests);
        pk_kv_u(pk, "p50_us", s->req_p50_us);
        pk_kv_u(pk, "p90_us", s->req_p90_us);
        pk_kv_u(pk, "p99_us", s->req_p99_us);
        pk_kv_u(pk, "max_us", s->req_max_us);
        pk_kv_u(pk, "batches", s->batches);
        pk_kv_u(pk, "batch_p50_us", s->batch_p50_us);
        pk_kv_u(pk, "batch_p90_us", s->batch_p90_us);
        pk_kv_u(pk, "batch_p99_us", s->batch_p99_us);
        pk_kv_u(pk, "batch_max_us", s->batch_max_us);
        pk_kv_d(pk, "batch_size_mean", s->batch_size_mean);
    }
}

static void
pk_error(msgpack_packer *pk, uint64_t rid, int err, const char *msg)
{
    msgpack_pack_map(pk, 4);
    pk_str(pk, "rid");
    msgpack_pack_uint64(pk, rid);
    pk_str(pk, "ok");
    msgpack_pack_false(pk);
    pk_str(pk, "err");
    pk_str(pk, wf_err_name(err));
    pk_str(pk, "msg");
    pk_str(pk, msg && msg[0] ? msg : wf_strerror(err));
}

void
wf_codec_error(msgpack_sbuffer *sb, uint64_t rid, int err, const char *msg)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    pk_error(&pk, rid, err == WF_OK ? WF_E_INTERNAL : err, msg);
}

void
wf_codec_reply(msgpack_sbuffer *sb, const wf_reply_t *r, const wf_catalogue_t *cat)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);

    if (r->err != WF_OK) {
        pk_error(&pk, r->rid, r->err, r->msg);
        return;
    }
    uint32_t extra = 0;
    switch (r->op) {
    case WF_OP_PING:
    case WF_OP_HELLO:
    case WF_OP_ORDER_CANCEL:
    case WF_OP_ORDER_GET:
    case WF_OP_ORDERS_MINE:
    case WF_OP_CONFIG_GET:
    case WF_OP_CONFIG_SET:
        extra = 1;
        break;
    case WF_OP_STATS:
        extra = r->stats ? 1 : 0;
        break;
    case WF_OP_OFFER_POST:
    case WF_OP_DEMAND_POST:
        extra = 3;
        break;
    case WF_OP_FIRM_GET:
    case WF_OP_FIRM_PUT:
    case WF_OP_FIRM_BLOCK:
    case WF_OP_FIRM_UNBLOCK:
        extra = r->firm ? 1 : 0;
        break;
    case WF_OP_OPTIMIZE:
        extra = r->optimize ? OPTIMIZE_FIELDS : 0;
        break;
    case WF_OP_AUCTION_SET:
    case WF_OP_AUCTION_DEL:
    case WF_OP_LICENCE_PUT:
        extra = 1;
        break;
    case WF_OP_SUB_PUT:
        extra = 1;
        break;
    case WF_OP_CREDIT_EVENT:
        extra = r->has_credit ? 2 : 0;
        break;
    case WF_OP_MANIFEST_DISPATCH:
    case WF_OP_MANIFEST_LOAD:
    case WF_OP_MANIFEST_CLOSE:
    case WF_OP_MANIFEST_CANCEL:
        extra = r->token ? 1 : 0;
        break;
    case WF_OP_MANIFEST_UNLOAD:
        extra = r->token ? 2 : 0;
        break;
    case WF_OP_MANIFEST_GET:
        extra = r->manifest ? 1 : 0;
        break;
    case WF_OP_ENGINE_KEY:
        extra = r->key ? 1 : 0;
        break;
    case WF_OP_JOURNAL_HEAD:
        extra = r->hash && r->sig ? 3 : 0;
        break;
    default:
        break;
    }
    if ((r->op == WF_OP_CONFIG_GET || r->op == WF_OP_CONFIG_SET) && r->config && r->has_history)
        extra = 4; /* config, history, history_scanned, history_truncated */
    if ((r->op == WF_OP_CONFIG_GET || r->op == WF_OP_CONFIG_SET) && !r->config)
        extra = 0;

    msgpack_pack_map(&pk, 2 + extra);
    pk_str(&pk, "rid");
    msgpack_pack_uint64(&pk, r->rid);
    pk_str(&pk, "ok");
    msgpack_pack_true(&pk);
    if (extra == 0)
        return;
    switch (r->op) {
    case WF_OP_PING:
        pk_str(&pk, "now");
        msgpack_pack_int64(&pk, r->now);
        break;
    case WF_OP_HELLO:
        pk_str(&pk, "seq");
        msgpack_pack_uint64(&pk, r->seq);
        break;
    case WF_OP_OFFER_POST:
    case WF_OP_DEMAND_POST:
        pk_str(&pk, "id");
        pk_str(&pk, r->id);
        pk_str(&pk, "matches");
        msgpack_pack_array(&pk, r->matches ? r->nmatches : 0);
        for (size_t i = 0; r->matches && i < r->nmatches; i++)
            pk_match(&pk, &r->matches[i]);
        pk_str(&pk, "rest");
        msgpack_pack_int64(&pk, r->rest);
        break;
    case WF_OP_ORDER_CANCEL:
        pk_str(&pk, "rest");
        msgpack_pack_int64(&pk, r->rest);
        break;
    case WF_OP_ORDER_GET:
        pk_str(&pk, "order");
        if (r->order)
            pk_order(&pk, r->order);
        else
            msgpack_pack_nil(&pk);
        break;
    case WF_OP_ORDERS_MINE:
        pk_str(&pk, "orders");
        msgpack_pack_array(&pk, r->orders ? r->norders : 0);
        for (size_t i = 0; r->orders && i < r->norders; i++)
            pk_order(&pk, &r->orders[i]);
        break;
    case WF_OP_FIRM_GET:
    case WF_OP_FIRM_PUT:
    case WF_OP_FIRM_BLOCK:
    case WF_OP_FIRM_UNBLOCK:
        pk_str(&pk, "firm");
        pk_firm(&pk, r, r->config);
        break;
    case WF_OP_SUB_PUT:
        pk_str(&pk, "id");
        pk_str(&pk, r->id);
        break;
    case WF_OP_CREDIT_EVENT: {
        char tier[2] = {r->tier, '\0'};
        pk_str(&pk, "score");
        msgpack_pack_int32(&pk, r->score);
        pk_str(&pk, "tier");
        pk_str(&pk, tier);
        break;
    }
    case WF_OP_CONFIG_GET:
    case WF_OP_CONFIG_SET:
        pk_str(&pk, "config");
        pk_config(&pk, r->config);
        if (r->has_history)
            pk_config_history(&pk, r);
        break;
    case WF_OP_LICENCE_PUT:
        pk_str(&pk, "id");
        pk_str(&pk, r->id);
        break;
    case WF_OP_OPTIMIZE:
        pk_optimize(&pk, r->optimize);
        break;
    case WF_OP_AUCTION_SET:
    case WF_OP_AUCTION_DEL:
        pk_str(&pk, "auctions");
        pk_auctions(&pk, r->auctions, r->nauctions);
        break;
    case WF_OP_MANIFEST_UNLOAD:
        pk_str(&pk, "discrepancy");
        pk_bool(&pk, r->discrepancy);
        /* fall through */
    case WF_OP_MANIFEST_DISPATCH:
    case WF_OP_MANIFEST_LOAD:
    case WF_OP_MANIFEST_CLOSE:
    case WF_OP_MANIFEST_CANCEL:
        pk_str(&pk, "token");
        pk_str(&pk, r->token);
        break;
    case WF_OP_MANIFEST_GET:
        pk_str(&pk, "manifest");
        pk_manifest(&pk, r->manifest, r->token);
        break;
    case WF_OP_ENGINE_KEY:
        pk_str(&pk, "key");
        pk_bin(&pk, r->key, 32);
        break;
    case WF_OP_JOURNAL_HEAD:
        pk_str(&pk, "seq");
        msgpack_pack_uint64(&pk, r->seq);
        pk_str(&pk, "hash");
        pk_bin(&pk, r->hash, 32);
        pk_str(&pk, "sig");
        pk_bin(&pk, r->sig, 64);
        break;
    case WF_OP_STATS:
        pk_str(&pk, "stats");
        pk_stats(&pk, r->stats);
        break;
    default:
        break;
    }
}

void
wf_codec_stream(msgpack_sbuffer *sb, const wf_stream_msg_t *m)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);

    switch (m->type) {
    case WF_MSG_MATCH:
        /* The match map's own ts stands for the message's. */
        msgpack_pack_map(&pk, 2 + MATCH_FIELDS + 3);
        break;
    case WF_MSG_EXPIRED:
        msgpack_pack_map(&pk, 3 + 2);
        break;
    case WF_MSG_CREDIT:
        msgpack_pack_map(&pk, 3 + 2);
        break;
    case WF_MSG_NOTIFY:
    case WF_MSG_MANIFEST:
        msgpack_pack_map(&pk, 3 + 3);
        break;
    default:
        msgpack_pack_map(&pk, 3);
        break;
    }
    pk_str(&pk, "seq");
    msgpack_pack_uint64(&pk, m->seq);
    pk_str(&pk, "type");
    pk_str(&pk, type_name(m->type));
    switch (m->type) {
    case WF_MSG_MATCH:
        pk_match_fields(&pk, &m->u.match.m);
        pk_str(&pk, "side");
        pk_str(&pk, side_name(m->u.match.side));
        pk_str(&pk, "counterparty");
        pk_str(&pk, m->u.match.counterparty);
        pk_str(&pk, "counterparty_name");
        pk_str(&pk, m->u.match.counterparty_name);
        return;
    case WF_MSG_EXPIRED:
        pk_str(&pk, "order");
        pk_id(&pk, m->u.expired.side == WF_DEMAND ? 'D' : 'O', m->u.expired.order);
        pk_str(&pk, "side");
        pk_str(&pk, side_name(m->u.expired.side));
        break;
    case WF_MSG_NOTIFY:
        pk_str(&pk, "order");
        pk_order(&pk, &m->u.notify.order);
        pk_str(&pk, "km");
        msgpack_pack_double(&pk, m->u.notify.km);
        pk_str(&pk, "sub");
        pk_id(&pk, 'S', m->u.notify.sub);
        break;
    case WF_MSG_CREDIT: {
        char tier[2] = {m->u.credit.tier, '\0'};
        pk_str(&pk, "score");
        msgpack_pack_int32(&pk, m->u.credit.score);
        pk_str(&pk, "tier");
        pk_str(&pk, tier);
        break;
    }
    case WF_MSG_MANIFEST:
        pk_str(&pk, "id");
        pk_id(&pk, 'F', m->u.manifest.id);
        pk_str(&pk, "state");
        pk_str(&pk, wf_manifest_state_name(m->u.manifest.state));
        pk_str(&pk, "token");
        pk_str(&pk, token_text(m->u.manifest.token));
        break;
    default:
        break;
    }
    pk_str(&pk, "ts");
    msgpack_pack_int64(&pk, m->ts);
}

void
wf_codec_feed(msgpack_sbuffer *sb, const wf_feed_msg_t *m)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    switch (m->kind) {
    case WF_FEED_BOOK:
        msgpack_pack_map(&pk, 6);
        pk_str(&pk, "code");
        pk_str(&pk, m->code);
        pk_kv_i(&pk, "offers", m->offers);
        pk_kv_i(&pk, "demands", m->demands);
        pk_kv_i(&pk, "offer_orders", m->offer_orders);
        pk_kv_i(&pk, "demand_orders", m->demand_orders);
        pk_kv_i(&pk, "ts", m->ts);
        return;
    case WF_FEED_DAILY:
        msgpack_pack_map(&pk, 9);
        pk_str(&pk, "code");
        pk_str(&pk, m->code);
        pk_str(&pk, "day");
        pk_str(&pk, m->day);
        pk_kv_u(&pk, "count", m->count);
        pk_kv_i(&pk, "qty", m->qty);
        pk_kv_i(&pk, "min", m->min);
        pk_kv_i(&pk, "median", m->median);
        pk_kv_i(&pk, "max", m->max);
        pk_kv_i(&pk, "vwap", m->vwap);
        pk_kv_i(&pk, "ts", m->ts);
        return;
    default:
        break;
    }
    msgpack_pack_map(&pk, 7);
    pk_str(&pk, "code");
    pk_str(&pk, m->code);
    pk_str(&pk, "qty");
    msgpack_pack_int64(&pk, m->qty);
    pk_str(&pk, "price");
    msgpack_pack_int64(&pk, m->price);
    pk_str(&pk, "km");
    msgpack_pack_double(&pk, m->km);
    pk_str(&pk, "from_county");
    msgpack_pack_uint32(&pk, m->from_county);
    pk_str(&pk, "to_county");
    msgpack_pack_uint32(&pk, m->to_county);
    pk_str(&pk, "ts");
    msgpack_pack_int64(&pk, m->ts);
}
