/* Unit tests of the wire codec (net/codec.c): every op decoded from maps
 * built with msgpack_pack_*, every integer width, defaults, each kind of
 * rejection with the field it names, and the encoders read back with
 * msgpack to check field names and values against PROTOCOL.md. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "net/codec.h"
#include "core/wf_error.h"

/* ------------------------------------------------------------------ */
/* Request builder                                                     */

typedef struct val {
    char t; /* s str, i int, u uint, f float64, g float32, b bool, n nil, l list of str, m raw */
    const char *s;
    int64_t i;
    uint64_t u;
    double f;
    const char *const *list;
    int n;
} val_t;

typedef struct kv {
    const char *k;
    val_t v;
} kv_t;

#define S(x) ((val_t){.t = 's', .s = (x)})
#define I(x) ((val_t){.t = 'i', .i = (x)})
#define U(x) ((val_t){.t = 'u', .u = (x)})
#define F(x) ((val_t){.t = 'f', .f = (x)})
#define F32(x) ((val_t){.t = 'g', .f = (x)})
#define B(x) ((val_t){.t = 'b', .i = (x)})
#define NIL ((val_t){.t = 'n'})
#define LS(...) ((val_t){.t = 'l', .list = (const char *const[]){__VA_ARGS__}, \
                         .n = sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)})
#define LEMPTY ((val_t){.t = 'l', .list = NULL, .n = 0})

static void
pack_val(msgpack_packer *pk, val_t v)
{
    switch (v.t) {
    case 's':
        msgpack_pack_str(pk, strlen(v.s));
        msgpack_pack_str_body(pk, v.s, strlen(v.s));
        break;
    case 'i': msgpack_pack_int64(pk, v.i); break;
    case 'u': msgpack_pack_uint64(pk, v.u); break;
    case 'f': msgpack_pack_double(pk, v.f); break;
    case 'g': msgpack_pack_float(pk, (float)v.f); break;
    case 'b': if (v.i) msgpack_pack_true(pk); else msgpack_pack_false(pk); break;
    case 'n': msgpack_pack_nil(pk); break;
    case 'l':
        msgpack_pack_array(pk, (size_t)v.n);
        for (int i = 0; i < v.n; i++) {
            msgpack_pack_str(pk, strlen(v.list[i]));
            msgpack_pack_str_body(pk, v.list[i], strlen(v.list[i]));
        }
        break;
    default: cr_assert_fail("bad val");
    }
}

static void
build(msgpack_sbuffer *sb, const kv_t *kvs, size_t n)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_str(&pk, strlen(kvs[i].k));
        msgpack_pack_str_body(&pk, kvs[i].k, strlen(kvs[i].k));
        pack_val(&pk, kvs[i].v);
    }
}

static char msg[WF_MSG_LEN];

static int
dec_kvs(wf_cmd_t *cmd, const kv_t *kvs, size_t n)
{
    msgpack_sbuffer sb;
    build(&sb, kvs, n);
    int rc = wf_codec_decode(sb.data, sb.size, cmd, msg, sizeof msg);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

#define DEC(cmd, ...) dec_kvs((cmd), (kv_t[]){__VA_ARGS__}, sizeof((kv_t[]){__VA_ARGS__}) / sizeof(kv_t))

static int
dec_raw(wf_cmd_t *cmd, const void *buf, size_t len)
{
    return wf_codec_decode(buf, len, cmd, msg, sizeof msg);
}

#define FIRM_A "91330600MA2D000001"
#define FIRM_B "91330600MA2D000002"
#define KEY40 "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"

/* ------------------------------------------------------------------ */
/* Round trips per op                                                  */

Test(decode, ping)
{
    wf_cmd_t c;
    cr_assert_eq(DEC(&c, {"op", S("ping")}, {"rid", U(7)}), WF_OK, "%s", msg);
    cr_assert_eq(c.op, WF_OP_PING);
    cr_assert_eq(c.rid, 7);
    cr_assert_str_empty(c.as);
    cr_assert_eq(c.has, 0);
}

Test(decode, as_field)
{
    wf_cmd_t c;
    cr_assert_eq(DEC(&c, {"rid", U(1)}, {"op", S("ping")}, {"as", S(FIRM_A)}), WF_OK, "%s", msg);
    cr_assert_str_eq(c.as, FIRM_A);
    cr_assert_eq(DEC(&c, {"rid", U(1)}, {"op", S("ping")}, {"as", S("123")}), WF_E_FIELD);
    cr_assert(strstr(msg, "\"as\""), "%s", msg);
    cr_assert_eq(DEC(&c, {"rid", U(1)}, {"op", S("ping")}, {"as", S("91330600ma2d000001")}), WF_E_FIELD);
    cr_assert_eq(DEC(&c, {"rid", U(1)}, {"op", S("ping")}, {"as", I(5)}), WF_E_FIELD);
}

Test(decode, hello)
{
    wf_cmd_t c;
    cr_assert_eq(DEC(&c, {"op", S("hello")}, {"rid", U(2)}), WF_OK, "%s", msg);
    cr_assert_eq(c.op, WF_OP_HELLO);
    cr_assert_eq(c.u.hello.after_seq, 0);
    cr_assert_eq(c.has & WF_HAS_AFTER_SEQ, 0);
    cr_assert_eq(DEC(&c, {"op", S("hello")}, {"rid", U(2)}, {"after_seq", U(41)}), WF_OK, "%s", msg);
    cr_assert_eq(c.u.hello.after_seq, 41);
    cr_assert(c.has & WF_HAS_AFTER_SEQ);
    cr_assert_eq(DEC(&c, {"op", S("hello")}, {"rid", U(2)}, {"after_seq", I(-1)}), WF_E_FIELD);
    cr_assert(strstr(msg, "\"after_seq\""), "%s", msg);
}

Test(decode, offer_post_defaults)
{
    wf_cmd_t c;
    cr_assert_eq(DEC(&c, {"op", S("offer.post")}, {"rid", U(3)}, {"as", S(FIRM_A)}, {"code", S("SW07")},
                     {"qty", I(12000)}, {"price", I(-5000)}),
                 WF_OK, "%s", msg);
    cr_assert_eq(c.op, WF_OP_OFFER_POST);
    cr_assert_str_eq(c.u.post.code, "SW07");
    cr_assert_eq(c.u.post.qty, 12000);
    cr_assert_eq(c.u.post.price, -5000);
    cr_assert_eq(c.u.post.max_km, 50.0);
    cr_assert_eq(c.u.post.min_credit, 0);
    cr_assert_eq(c.u.post.min_fill, 1);
    cr_assert_eq(c.u.post.expires, 0);
    cr_assert_eq(c.has, 0);
}

Test(decode, offer_post_full)
{
    wf_cmd_t c;
    cr_assert_eq(DEC(&c, {"op", S("offer.post")}, {"rid", U(3)}, {"code", S("900-249-08")}, {"qty", I(5)},
                     {"price", I(100)}, {"lat", F(30.08)}, {"lon", F(120.49)}, {"max_km", F(12.5)},
                     {"min_credit", I(60)}, {"min_fill", I(2)}, {"expires", I(1700000000000)}),
                 WF_OK, "%s", msg);
    cr_assert_str_eq(c.u.post.code, "900-249-08");
    cr_assert_eq(c.u.post.lat, 30.08);
    cr_assert_eq(c.u.post.lon, 120.49);
    cr_assert_eq(c.u.post.max_km, 12.5);
    cr_assert_eq(c.u.post.min_credit, 60);
    cr_assert_eq(c.u.post.min_fill, 2);
    cr_assert_eq(c.u.post.expires, 1700000000000);
    cr_assert_eq(c.has, WF_HAS_LOC | WF_HAS_MAX_KM | WF_HAS_MIN_CREDIT | WF_HAS_MIN_FILL | WF_HAS_EXPIRES);
}

Test(decode, demand_post)
{
    wf_cmd_t c;
    cr_assert_eq(DEC(&c, {"op", S("demand.post")}, {"rid", U(4)}, {"codes", LS("SW07", "HW08")},
                     {"qty", I(20000)}, {"price", I(-3000)}, {"target", S("O17")}),
                 WF_OK, "%s", msg);
    cr_assert_eq(c.op, WF_OP_DEMAND_POST);
    cr_assert_eq(c.u.post.ncodes, 2);
    cr_assert_str_eq(c.u.post.codes[0], "SW07");
    cr_assert_str_eq(c.u.post.codes[1], "HW08");
    cr_assert_str_eq(c.u.post.target, "O17");
    cr_assert_eq(c.has, WF_HAS_TARGET);
    cr_assert_eq(c.u.post.max_km, 50.0);
    cr_assert_eq(c.u.post.min_fill, 1);

    /* An offer ignores a target (unknown to it), a demand needs codes. */
    cr_assert_eq(DEC(&c, {"op", S("demand.post")}, {"rid", U(4)}, {"code", S("SW07")}, {"qty", I(1)},
                     {"price", I(1)}),
                 WF_E_FIELD);
    cr_assert(strstr(msg, "\"codes\""), "%s", msg);
}

Test(decode, order_ref)
{
    wf_cmd_t c;
    cr_assert_eq(DEC(&c, {"op", S("order.cancel")}, {"rid", U(5)}, {"id", S("O12")}), WF_OK, "%s", msg);
    cr_assert_eq(c.op, WF_OP_ORDER_CANCEL);
    cr_assert_str_eq(c.u.ref.id, "O12");
    cr_assert_eq(DEC(&c, {"op", S("order.get")}, {"rid", U(6)}, {"id", S("D13")}), WF_OK, "%s", msg);
    cr_assert_eq(c.op, WF_OP_ORDER_GET);
    cr_assert_str_eq(c.u.ref.id, "D13");
    cr_assert_eq(DEC(&c, {"op", S("order.get")}, {"rid", U(6)}), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"id\" is missing");
    cr_assert_eq(c.rid, 6);
}

Test(decode, orders_mine)
{
    wf_cmd_t c;
    cr_assert_eq(DEC(&c, {"op", S("orders.mine")}, {"rid", U(7)}), WF_OK, "%s", msg);
    cr_assert_eq(c.op, WF_OP_ORDERS_MINE);
    cr_assert(c.u.mine.live_only);
    cr_assert_eq(c.has, 0);
    cr_assert_eq(DEC(&c, {"op", S("orders.mine")}, {"rid", U(7)}, {"live_only", B(0)}), WF_OK, "%s", msg);
    cr_assert_not(c.u.mine.live_only);
    cr_assert_eq(c.has, WF_HAS_LIVE_ONLY);
    cr_assert_eq(DEC(&c, {"op", S("orders.mine")}, {"rid", U(7)}, {"live_only", I(0)}), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"live_only\" must be a boolean");
}

Test(decode, firm_put)
{
    wf_cmd_t c;
    cr_assert_eq(DEC(&c, {"op", S("firm.put")}, {"rid", U(8)}, {"as", S("000000000000000000")},
                     {"firm", S(FIRM_A)}, {"name", S("柯桥印染厂")}, {"roles", LS("producer", "carrier")},
                     {"lat", F(30.08)}, {"lon", F(120.49)}, {"county", U(330603)}),
                 WF_OK, "%s", msg);
    cr_assert_eq(c.op, WF_OP_FIRM_PUT);
    cr_assert_str_eq(c.u.firm.firm, FIRM_A);
    cr_assert_str_eq(c.u.firm.name, "柯桥印染厂");
    cr_assert_eq(c.u.firm.roles, WF_ROLE_PRODUCER | WF_ROLE_CARRIER);
    cr_assert_eq(c.u.firm.lat, 30.08);
    cr_assert_eq(c.u.firm.lon, 120.49);
    cr_assert_eq(c.u.firm.county, 330603);
    cr_assert_eq(c.u.firm.base_credit, 80);
    cr_assert_str_empty(c.u.firm.key);
    cr_assert_eq(c.has, WF_HAS_LOC);

    cr_assert_eq(DEC(&c, {"op", S("firm.put")}, {"rid", U(8)}, {"firm", S(FIRM_B)}, {"name", S("x")},
                     {"roles", LS("consumer", "operator")}, {"lat", I(30)}, {"lon", I(120)},
                     {"county", U(330604)}, {"key", S(KEY40)}, {"base_credit", I(95)}),
                 WF_OK, "%s", msg);
    cr_assert_eq(c.u.firm.roles, WF_ROLE_CONSUMER | WF_ROLE_OPERATOR);
    cr_assert_str_eq(c.u.firm.key, KEY40);
    cr_assert_eq(c.u.firm.base_credit, 95);
    cr_assert_eq(c.u.firm.lat, 30.0);
    cr_assert_eq(c.has, WF_HAS_LOC | WF_HAS_KEY | WF_HAS_BASE_CREDIT);

    /* lat and lon are required for firm.put. */
    cr_assert_eq(DEC(&c, {"op", S("firm.put")}, {"rid", U(8)}, {"firm", S(FIRM_B)}, {"name", S("x")},
                     {"roles", LS("consumer")}, {"county", U(330604)}),
                 WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"lat\" is missing");
    cr_assert_eq(DEC(&c, {"op", S("firm.put")}, {"rid", U(8)}, {"firm", S(FIRM_B)}, {"name", S("x")},
                     {"roles", LS("consumer")}, {"lat", F(1)}, {"lon", F(2)}, {"county", I(-1)}),
                 WF_E_FIELD);
    cr_assert(strstr(msg, "\"county\""), "%s", msg);
}

Test(decode, firm_get)
{
    wf_cmd_t c;
    cr_assert_eq(DEC(&c, {"op", S("firm.get")}, {"rid", U(9)}, {"firm", S(FIRM_B)}), WF_OK, "%s", msg);
    cr_assert_eq(c.op, WF_OP_FIRM_GET);
    cr_assert_str_eq(c.u.firm_get.firm, FIRM_B);
    cr_assert_eq(DEC(&c, {"op", S("firm.get")}, {"rid", U(9)}), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"firm\" is missing");
}

Test(decode, stats)
{
    wf_cmd_t c;
    cr_assert_eq(DEC(&c, {"op", S("stats")}, {"rid", U(12)}), WF_OK, "%s", msg);
    cr_assert_eq(c.op, WF_OP_STATS);
    cr_assert_eq(c.u.stats.top, 10);
    cr_assert_eq(c.u.stats.days, 7);
    cr_assert_eq(DEC(&c, {"op", S("stats")}, {"rid", U(12)}, {"top", I(3)}, {"days", I(30)}), WF_OK, "%s", msg);
    cr_assert_eq(c.u.stats.top, 3);
    cr_assert_eq(c.u.stats.days, 30);
    cr_assert_eq(DEC(&c, {"op", S("stats")}, {"rid", U(12)}, {"top", I(-1)}), WF_E_FIELD);
    cr_assert_eq(DEC(&c, {"op", S("stats")}, {"rid", U(12)}, {"days", F(1.5)}), WF_E_FIELD);
    cr_assert_eq(DEC(&c, {"op", S("config.set")}, {"rid", U(11)}, {"co2_per_tkm", F(0.062)}), WF_OK, "%s", msg);
    cr_assert_eq(c.u.config.set, WF_CFG_CO2_PER_TKM);
    cr_assert_eq(c.u.config.values.co2_per_tkm, 0.062);
}

Test(decode, config)
{
    wf_cmd_t c;
    cr_assert_eq(DEC(&c, {"op", S("config.get")}, {"rid", U(10)}), WF_OK, "%s", msg);
    cr_assert_eq(c.op, WF_OP_CONFIG_GET);

    cr_assert_eq(DEC(&c, {"op", S("config.set")}, {"rid", U(11)}, {"w_credit", F(0.5)}, {"w_distance", I(0)},
                     {"w_price", F32(0.25)}, {"tier_a", I(92)}, {"tier_b", I(70)}, {"tier_c", I(50)},
                     {"push_delay_b", I(100)}, {"push_delay_c", I(300)}, {"county_rule", B(1)},
                     {"city_rule", B(0)}, {"eco_fee", I(800)}, {"discrepancy_pct", F(2.5)}),
                 WF_OK, "%s", msg);
    cr_assert_eq(c.op, WF_OP_CONFIG_SET);
    cr_assert_eq(c.u.config.set, 0xfff);
    const wf_config_t *v = &c.u.config.values;
    cr_assert_eq(v->w_credit, 0.5);
    cr_assert_eq(v->w_distance, 0.0);
    cr_assert_eq(v->w_price, 0.25);
    cr_assert_eq(v->tier_a, 92);
    cr_assert_eq(v->tier_b, 70);
    cr_assert_eq(v->tier_c, 50);
    cr_assert_eq(v->push_delay_b, 100);
    cr_assert_eq(v->push_delay_c, 300);
    cr_assert(v->county_rule);
    cr_assert_not(v->city_rule);
    cr_assert_eq(v->eco_fee, 800);
    cr_assert_eq(v->discrepancy_pct, 2.5);

    cr_assert_eq(DEC(&c, {"op", S("config.set")}, {"rid", U(11)}, {"eco_fee", I(5)}), WF_OK, "%s", msg);
    cr_assert_eq(c.u.config.set, WF_CFG_ECO_FEE);
    cr_assert_eq(DEC(&c, {"op", S("config.set")}, {"rid", U(11)}, {"city_rule", B(1)}), WF_OK, "%s", msg);
    cr_assert_eq(c.u.config.set, WF_CFG_CITY_RULE);

    cr_assert_eq(DEC(&c, {"op", S("config.set")}, {"rid", U(11)}), WF_E_FIELD);
    cr_assert(strstr(msg, "at least one"), "%s", msg);
    cr_assert_eq(DEC(&c, {"op", S("config.set")}, {"rid", U(11)}, {"county_rule", I(1)}), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"county_rule\" must be a boolean");
    cr_assert_eq(DEC(&c, {"op", S("config.set")}, {"rid", U(11)}, {"tier_a", F(90.5)}), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"tier_a\" must be an integer");
    cr_assert_eq(DEC(&c, {"op", S("config.set")}, {"rid", U(11)}, {"w_price", S("0.2")}), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"w_price\" must be a number");
}

Test(decode, unknown_fields_ignored_and_nil_is_absent)
{
    wf_cmd_t c;
    cr_assert_eq(DEC(&c, {"op", S("offer.post")}, {"rid", U(3)}, {"code", S("SW07")}, {"qty", I(1)},
                     {"price", I(1)}, {"colour", S("blue")}, {"max_km", NIL}, {"codes", I(5)}, {"x", LEMPTY}),
                 WF_OK, "%s", msg);
    cr_assert_eq(c.has, 0);
    cr_assert_eq(c.u.post.max_km, 50.0);
    cr_assert_eq(DEC(&c, {"op", S("offer.post")}, {"rid", U(3)}, {"code", S("SW07")}, {"qty", NIL},
                     {"price", I(1)}),
                 WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"qty\" is missing");
}

/* ------------------------------------------------------------------ */
/* Numbers                                                             */

/* A request {op: offer.post, rid: <rid>, code, qty: <qty>, price: 1} with
 * rid and qty packed by the given functions. */
typedef void (*packint_fn)(msgpack_packer *pk, int64_t v);

static void p_u8(msgpack_packer *pk, int64_t v) { msgpack_pack_fix_uint8(pk, (uint8_t)v); }
static void p_u16(msgpack_packer *pk, int64_t v) { msgpack_pack_fix_uint16(pk, (uint16_t)v); }
static void p_u32(msgpack_packer *pk, int64_t v) { msgpack_pack_fix_uint32(pk, (uint32_t)v); }
static void p_u64(msgpack_packer *pk, int64_t v) { msgpack_pack_fix_uint64(pk, (uint64_t)v); }
static void p_i8(msgpack_packer *pk, int64_t v) { msgpack_pack_fix_int8(pk, (int8_t)v); }
static void p_i16(msgpack_packer *pk, int64_t v) { msgpack_pack_fix_int16(pk, (int16_t)v); }
static void p_i32(msgpack_packer *pk, int64_t v) { msgpack_pack_fix_int32(pk, (int32_t)v); }
static void p_i64(msgpack_packer *pk, int64_t v) { msgpack_pack_fix_int64(pk, v); }
static void p_fix(msgpack_packer *pk, int64_t v) { msgpack_pack_int64(pk, v); }

static int
dec_widths(wf_cmd_t *c, packint_fn prid, int64_t rid, packint_fn pqty, int64_t qty)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 5);
    pack_val(&pk, S("op"));
    pack_val(&pk, S("offer.post"));
    pack_val(&pk, S("rid"));
    prid(&pk, rid);
    pack_val(&pk, S("code"));
    pack_val(&pk, S("SW07"));
    pack_val(&pk, S("qty"));
    pqty(&pk, qty);
    pack_val(&pk, S("price"));
    pack_val(&pk, I(1));
    int rc = wf_codec_decode(sb.data, sb.size, c, msg, sizeof msg);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

Test(decode, integer_widths)
{
    static const struct { packint_fn fn; int64_t v; } cases[] = {
        {p_fix, 0}, {p_fix, 127}, {p_fix, -32}, {p_fix, -1}, {p_fix, 1 << 20},
        {p_u8, 200}, {p_u16, 60000}, {p_u32, 4000000000}, {p_u64, INT64_MAX},
        {p_i8, -100}, {p_i8, 100}, {p_i16, -30000}, {p_i32, -2000000000}, {p_i64, INT64_MIN}, {p_i64, 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wf_cmd_t c;
        cr_assert_eq(dec_widths(&c, p_fix, 1, cases[i].fn, cases[i].v), WF_OK, "case %zu: %s", i, msg);
        cr_assert_eq(c.u.post.qty, cases[i].v, "case %zu", i);
    }
    static const struct { packint_fn fn; int64_t v; } rids[] = {
        {p_u8, 255}, {p_u16, 65535}, {p_u32, 4294967295}, {p_u64, INT64_MAX}, {p_i8, 9}, {p_i16, 300},
        {p_i32, 70000}, {p_i64, 1LL << 40},
    };
    for (size_t i = 0; i < sizeof rids / sizeof rids[0]; i++) {
        wf_cmd_t c;
        cr_assert_eq(dec_widths(&c, rids[i].fn, rids[i].v, p_fix, 1), WF_OK, "rid case %zu: %s", i, msg);
        cr_assert_eq(c.rid, (uint64_t)rids[i].v, "rid case %zu", i);
    }
    wf_cmd_t c;
    cr_assert_eq(DEC(&c, {"op", S("ping")}, {"rid", U(UINT64_MAX)}), WF_OK);
    cr_assert_eq(c.rid, UINT64_MAX);
    /* An unsigned value beyond int64 cannot be a quantity. */
    cr_assert_eq(dec_widths(&c, p_fix, 1, p_u64, -1), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"qty\" is out of range");
    /* A negative rid is refused, and so the reply carries rid 0. */
    cr_assert_eq(dec_widths(&c, p_i8, -3, p_fix, 1), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"rid\" must not be negative");
    cr_assert_eq(c.rid, 0);
}

Test(decode, floats)
{
    wf_cmd_t c;
    cr_assert_eq(DEC(&c, {"op", S("offer.post")}, {"rid", U(3)}, {"code", S("SW07")}, {"qty", I(1)},
                     {"price", I(1)}, {"lat", F32(30.5)}, {"lon", I(-120)}, {"max_km", U(7)}),
                 WF_OK, "%s", msg);
    cr_assert_eq(c.u.post.lat, 30.5);
    cr_assert_eq(c.u.post.lon, -120.0);
    cr_assert_eq(c.u.post.max_km, 7.0);
    cr_assert_eq(DEC(&c, {"op", S("offer.post")}, {"rid", U(3)}, {"code", S("SW07")}, {"qty", I(1)},
                     {"price", I(1)}, {"max_km", F(NAN)}),
                 WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"max_km\" must be a finite number");
    cr_assert_eq(DEC(&c, {"op", S("offer.post")}, {"rid", U(3)}, {"code", S("SW07")}, {"qty", I(1)},
                     {"price", I(1)}, {"lat", F(INFINITY)}, {"lon", F(1)}),
                 WF_E_FIELD);
    cr_assert(strstr(msg, "\"lat\""), "%s", msg);
    cr_assert_eq(DEC(&c, {"op", S("offer.post")}, {"rid", U(3)}, {"code", S("SW07")}, {"qty", F(1.0)},
                     {"price", I(1)}),
                 WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"qty\" must be an integer");
}

/* ------------------------------------------------------------------ */
/* Rejections                                                          */

Test(reject, not_msgpack)
{
    wf_cmd_t c;
    static const uint8_t c1[] = {0xc1};
    static const uint8_t trunc[] = {0x82, 0xa2, 'o', 'p'};
    static const uint8_t str_trunc[] = {0xd9, 0x40, 'a'};
    cr_assert_eq(dec_raw(&c, c1, sizeof c1), WF_E_PARSE);
    cr_assert_eq(dec_raw(&c, "", 0), WF_E_PARSE);
    cr_assert_eq(dec_raw(&c, trunc, sizeof trunc), WF_E_PARSE);
    cr_assert_eq(dec_raw(&c, str_trunc, sizeof str_trunc), WF_E_PARSE);
    cr_assert_eq(dec_raw(&c, "{\"op\":\"ping\"}", 13), WF_E_PARSE);
}

Test(reject, huge_counts_and_depth)
{
    wf_cmd_t c;
    /* Declared counts far beyond the bytes present: refused before any allocation. */
    static const uint8_t arr32[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
    static const uint8_t map32[] = {0xdf, 0x7f, 0xff, 0xff, 0xff, 0xa1, 'a', 0x01};
    static const uint8_t bin32[] = {0xc6, 0xff, 0xff, 0xff, 0xff, 0x00};
    cr_assert_eq(dec_raw(&c, arr32, sizeof arr32), WF_E_PARSE);
    cr_assert_eq(dec_raw(&c, map32, sizeof map32), WF_E_PARSE);
    cr_assert_eq(dec_raw(&c, bin32, sizeof bin32), WF_E_PARSE);
    uint8_t deep[64];
    memset(deep, 0x91, sizeof deep); /* [[[[...]]]] */
    deep[sizeof deep - 1] = 0x01;
    cr_assert_eq(dec_raw(&c, deep, sizeof deep), WF_E_PARSE);
}

Test(reject, trailing_bytes)
{
    wf_cmd_t c;
    msgpack_sbuffer sb;
    build(&sb, (kv_t[]){{"op", S("ping")}, {"rid", U(1)}}, 2);
    msgpack_sbuffer_write(&sb, "\x01", 1);
    cr_assert_eq(dec_raw(&c, sb.data, sb.size), WF_E_PARSE);
    cr_assert(strstr(msg, "trailing"), "%s", msg);
    msgpack_sbuffer_destroy(&sb);
}

Test(reject, not_a_map)
{
    wf_cmd_t c;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    pack_val(&pk, S("ping"));
    pack_val(&pk, U(1));
    cr_assert_eq(dec_raw(&c, sb.data, sb.size), WF_E_PARSE);
    cr_assert_str_eq(msg, "the request must be a msgpack map");
    msgpack_sbuffer_destroy(&sb);

    static const uint8_t scalar[] = {0x05};
    cr_assert_eq(dec_raw(&c, scalar, 1), WF_E_PARSE);
}

Test(reject, key_not_string)
{
    wf_cmd_t c;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pack_val(&pk, S("op"));
    pack_val(&pk, S("ping"));
    pack_val(&pk, S("rid"));
    pack_val(&pk, U(1));
    pack_val(&pk, I(5));
    pack_val(&pk, I(5));
    cr_assert_eq(dec_raw(&c, sb.data, sb.size), WF_E_FIELD);
    cr_assert_str_eq(msg, "field names must be strings");
    msgpack_sbuffer_destroy(&sb);
}

Test(reject, op_and_rid)
{
    wf_cmd_t c;
    cr_assert_eq(DEC(&c, {"rid", U(5)}), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"op\" is missing");
    cr_assert_eq(c.rid, 5, "the rid is kept for the error reply");
    cr_assert_eq(DEC(&c, {"rid", U(5)}, {"op", S("offer.burn")}), WF_E_OP);
    cr_assert_str_eq(msg, "unknown op \"offer.burn\"");
    cr_assert_eq(c.rid, 5);
    cr_assert_eq(DEC(&c, {"rid", U(5)}, {"op", I(3)}), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"op\" must be a string");
    cr_assert_eq(DEC(&c, {"op", S("ping")}), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"rid\" is missing");
    cr_assert_eq(DEC(&c, {"op", S("ping")}, {"rid", S("1")}), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"rid\" must be an unsigned integer");
    cr_assert_eq(DEC(&c, {"op", S("ping")}, {"rid", F(1.0)}), WF_E_FIELD);
    cr_assert_eq(DEC(&c, {"op", S("ping")}, {"rid", U(1)}, {"rid", U(2)}), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"rid\" appears twice");
    cr_assert_eq(DEC(&c, {"op", S("ping")}, {"op", S("ping")}, {"rid", U(2)}), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"op\" appears twice");
}

Test(reject, wrong_types)
{
    wf_cmd_t c;
#define POST(...) DEC(&c, {"op", S("offer.post")}, {"rid", U(3)}, __VA_ARGS__)
    cr_assert_eq(POST({"code", S("SW07")}, {"qty", S("12")}, {"price", I(1)}), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"qty\" must be an integer");
    cr_assert_eq(c.rid, 3);
    cr_assert_eq(POST({"code", S("SW07")}, {"qty", I(1)}, {"price", B(1)}), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"price\" must be an integer");
    cr_assert_eq(POST({"code", I(7)}, {"qty", I(1)}, {"price", I(1)}), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"code\" must be a string");
    cr_assert_eq(POST({"code", LS("SW07")}, {"qty", I(1)}, {"price", I(1)}), WF_E_FIELD);
    cr_assert_eq(POST({"code", S("SW07")}, {"qty", I(1)}, {"price", I(1)}, {"lat", S("30")}, {"lon", F(1)}),
                 WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"lat\" must be a number");
    cr_assert_eq(POST({"code", S("SW07")}, {"qty", I(1)}, {"price", I(1)}, {"min_credit", I(1LL << 40)}),
                 WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"min_credit\" is out of range");
    cr_assert_eq(POST({"code", S("SW07")}, {"qty", I(1)}, {"price", I(1)}, {"expires", F(1.5)}), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"expires\" must be an integer");
    cr_assert_eq(POST({"qty", I(1)}, {"price", I(1)}), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"code\" is missing");
#undef POST
    cr_assert_eq(DEC(&c, {"op", S("demand.post")}, {"rid", U(4)}, {"codes", S("SW07")}, {"qty", I(1)},
                     {"price", I(1)}),
                 WF_E_FIELD);
    cr_assert(strstr(msg, "\"codes\" must be a list"), "%s", msg);
    cr_assert_eq(DEC(&c, {"op", S("demand.post")}, {"rid", U(4)}, {"codes", LS("SW07")}, {"qty", I(1)},
                     {"price", I(1)}, {"target", I(17)}),
                 WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"target\" must be a string");
    cr_assert_eq(DEC(&c, {"op", S("order.cancel")}, {"rid", U(5)}, {"id", I(12)}), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"id\" must be a string");
}

Test(reject, code_lists)
{
    wf_cmd_t c;
    cr_assert_eq(DEC(&c, {"op", S("demand.post")}, {"rid", U(4)}, {"codes", LEMPTY}, {"qty", I(1)},
                     {"price", I(1)}),
                 WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"codes\" must be a list of 1 to 16 codes");
    cr_assert_eq(DEC(&c, {"op", S("demand.post")}, {"rid", U(4)},
                     {"codes", LS("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p")},
                     {"qty", I(1)}, {"price", I(1)}),
                 WF_OK, "%s", msg);
    cr_assert_eq(c.u.post.ncodes, 16);
    cr_assert_str_eq(c.u.post.codes[15], "p");
    cr_assert_eq(DEC(&c, {"op", S("demand.post")}, {"rid", U(4)},
                     {"codes", LS("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q")},
                     {"qty", I(1)}, {"price", I(1)}),
                 WF_E_FIELD);
    cr_assert_eq(DEC(&c, {"op", S("demand.post")}, {"rid", U(4)}, {"codes", LS("SW07", "")}, {"qty", I(1)},
                     {"price", I(1)}),
                 WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"codes\" entry 2 must be 1 to 23 bytes long");
    cr_assert_eq(DEC(&c, {"op", S("demand.post")}, {"rid", U(4)}, {"codes", LS("SW07", "ISW-01-02-03-04-05-06-07")},
                     {"qty", I(1)}, {"price", I(1)}),
                 WF_E_FIELD);
}

Test(reject, roles)
{
    wf_cmd_t c;
#define FIRM(roles) DEC(&c, {"op", S("firm.put")}, {"rid", U(8)}, {"firm", S(FIRM_A)}, {"name", S("x")}, \
                        {"roles", roles}, {"lat", F(1)}, {"lon", F(2)}, {"county", U(330603)})
    cr_assert_eq(FIRM(LS("producer", "wizard")), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"roles\": unknown role \"wizard\"");
    cr_assert_eq(FIRM(S("producer")), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"roles\" must be a list of role names");
    cr_assert_eq(FIRM(LS("producer", "producer")), WF_OK, "%s", msg);
    cr_assert_eq(c.u.firm.roles, WF_ROLE_PRODUCER);
    cr_assert_eq(FIRM(LEMPTY), WF_OK, "%s", msg);
    cr_assert_eq(c.u.firm.roles, 0, "an empty role list is the engine's to judge");
#undef FIRM
}

Test(reject, lat_without_lon)
{
    wf_cmd_t c;
    cr_assert_eq(DEC(&c, {"op", S("offer.post")}, {"rid", U(3)}, {"code", S("SW07")}, {"qty", I(1)},
                     {"price", I(1)}, {"lat", F(30)}),
                 WF_E_FIELD);
    cr_assert_str_eq(msg, "fields \"lat\" and \"lon\" go together: \"lon\" is missing");
    cr_assert_eq(DEC(&c, {"op", S("demand.post")}, {"rid", U(3)}, {"codes", LS("SW07")}, {"qty", I(1)},
                     {"price", I(1)}, {"lon", F(120)}),
                 WF_E_FIELD);
    cr_assert_str_eq(msg, "fields \"lat\" and \"lon\" go together: \"lat\" is missing");
}

Test(reject, string_lengths)
{
    wf_cmd_t c;
    char code24[25], name160[161], id24[25];
    memset(code24, 'A', 24);
    code24[24] = '\0';
    memset(name160, 'n', 160);
    name160[160] = '\0';
    memset(id24, '1', 24);
    id24[0] = 'O';
    id24[24] = '\0';

    cr_assert_eq(DEC(&c, {"op", S("offer.post")}, {"rid", U(3)}, {"code", S(code24)}, {"qty", I(1)},
                     {"price", I(1)}),
                 WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"code\" must be 1 to 23 bytes long");
    code24[23] = '\0';
    cr_assert_eq(DEC(&c, {"op", S("offer.post")}, {"rid", U(3)}, {"code", S(code24)}, {"qty", I(1)},
                     {"price", I(1)}),
                 WF_OK, "%s", msg);
    cr_assert_eq(DEC(&c, {"op", S("offer.post")}, {"rid", U(3)}, {"code", S("")}, {"qty", I(1)},
                     {"price", I(1)}),
                 WF_E_FIELD);

    cr_assert_eq(DEC(&c, {"op", S("firm.put")}, {"rid", U(8)}, {"firm", S(FIRM_A)}, {"name", S(name160)},
                     {"roles", LS("producer")}, {"lat", F(1)}, {"lon", F(2)}, {"county", U(330603)}),
                 WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"name\" must be 1 to 159 bytes long");
    name160[159] = '\0';
    cr_assert_eq(DEC(&c, {"op", S("firm.put")}, {"rid", U(8)}, {"firm", S(FIRM_A)}, {"name", S(name160)},
                     {"roles", LS("producer")}, {"lat", F(1)}, {"lon", F(2)}, {"county", U(330603)}),
                 WF_OK, "%s", msg);
    cr_assert_eq(DEC(&c, {"op", S("firm.put")}, {"rid", U(8)}, {"firm", S(FIRM_A)}, {"name", S("x")},
                     {"roles", LS("producer")}, {"lat", F(1)}, {"lon", F(2)}, {"county", U(330603)},
                     {"key", S("tooshort")}),
                 WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"key\" must be 40 characters long");

    cr_assert_eq(DEC(&c, {"op", S("firm.get")}, {"rid", U(9)}, {"firm", S(FIRM_A "0")}), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"firm\" must be 18 characters long");
    cr_assert_eq(DEC(&c, {"op", S("firm.get")}, {"rid", U(9)}, {"firm", S("91330600MA2D00000-")}), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"firm\" must be 18 digits or capital letters");

    cr_assert_eq(DEC(&c, {"op", S("order.get")}, {"rid", U(6)}, {"id", S(id24)}), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"id\" must be 1 to 23 bytes long");

    /* A NUL inside a string would silently shorten it: refused. */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pack_val(&pk, S("op"));
    pack_val(&pk, S("order.get"));
    pack_val(&pk, S("rid"));
    pack_val(&pk, U(6));
    pack_val(&pk, S("id"));
    msgpack_pack_str(&pk, 3);
    msgpack_pack_str_body(&pk, "O\0" "1", 3);
    cr_assert_eq(dec_raw(&c, sb.data, sb.size), WF_E_FIELD);
    cr_assert_str_eq(msg, "field \"id\" must not contain a NUL byte");
    msgpack_sbuffer_destroy(&sb);
}

/* ------------------------------------------------------------------ */
/* Encoders                                                            */

static msgpack_unpacked up;

static const msgpack_object *
unpack(const msgpack_sbuffer *sb)
{
    size_t off = 0;
    msgpack_unpacked_init(&up);
    cr_assert_eq(msgpack_unpack_next(&up, sb->data, sb->size, &off), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, sb->size, "one object, no trailing bytes");
    cr_assert_eq(up.data.type, MSGPACK_OBJECT_MAP);
    return &up.data;
}

static const msgpack_object *
get(const msgpack_object *map, const char *k)
{
    cr_assert_eq(map->type, MSGPACK_OBJECT_MAP);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *key = &map->via.map.ptr[i].key;
        if (key->type == MSGPACK_OBJECT_STR && key->via.str.size == strlen(k) &&
            memcmp(key->via.str.ptr, k, key->via.str.size) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

static int64_t
get_i(const msgpack_object *map, const char *k)
{
    const msgpack_object *o = get(map, k);
    cr_assert(o, "no field %s", k);
    cr_assert(o->type == MSGPACK_OBJECT_POSITIVE_INTEGER || o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER,
              "field %s is not an integer", k);
    return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (int64_t)o->via.u64 : o->via.i64;
}

static double
get_f(const msgpack_object *map, const char *k)
{
    const msgpack_object *o = get(map, k);
    cr_assert(o, "no field %s", k);
    cr_assert_eq(o->type, MSGPACK_OBJECT_FLOAT64, "field %s is not a float64", k);
    return o->via.f64;
}

static bool
get_b(const msgpack_object *map, const char *k)
{
    const msgpack_object *o = get(map, k);
    cr_assert(o, "no field %s", k);
    cr_assert_eq(o->type, MSGPACK_OBJECT_BOOLEAN, "field %s is not a bool", k);
    return o->via.boolean;
}

static char sbuf[8][256];
static int sbuf_next;

static const char *
get_s(const msgpack_object *map, const char *k)
{
    const msgpack_object *o = get(map, k);
    cr_assert(o, "no field %s", k);
    cr_assert_eq(o->type, MSGPACK_OBJECT_STR, "field %s is not a string", k);
    char *s = sbuf[sbuf_next++ % 8];
    cr_assert_lt(o->via.str.size, 256);
    memcpy(s, o->via.str.ptr, o->via.str.size);
    s[o->via.str.size] = '\0';
    return s;
}

static wf_match_rec_t
sample_match(void)
{
    wf_match_rec_t m;
    memset(&m, 0, sizeof m);
    m.id = 5;
    m.offer = 12;
    m.demand = 9;
    m.manifest = 5;
    strcpy(m.code, "SW07");
    m.qty = 12000;
    m.price = -3000;
    m.fee = 200;
    m.km = 36.4;
    m.score = 0.25;
    m.ts = 1700000000123;
    strcpy(m.producer, FIRM_A);
    strcpy(m.consumer, FIRM_B);
    m.producer_county = 330603;
    m.consumer_county = 330604;
    m.taker_side = WF_OFFER;
    return m;
}

static void
check_match_fields(const msgpack_object *o)
{
    cr_assert_str_eq(get_s(o, "id"), "M5");
    cr_assert_str_eq(get_s(o, "offer"), "O12");
    cr_assert_str_eq(get_s(o, "demand"), "D9");
    cr_assert_str_eq(get_s(o, "code"), "SW07");
    cr_assert_eq(get_i(o, "qty"), 12000);
    cr_assert_eq(get_i(o, "price"), -3000);
    cr_assert_eq(get_i(o, "fee"), 200);
    cr_assert_eq(get_f(o, "km"), 36.4);
    cr_assert_eq(get_f(o, "score"), 0.25);
    cr_assert_str_eq(get_s(o, "manifest"), "F5");
    cr_assert_eq(get_i(o, "ts"), 1700000000123);
}

Test(encode, post_reply)
{
    wf_match_rec_t ms[2] = {sample_match(), sample_match()};
    ms[1].id = 6;
    wf_reply_t r;
    memset(&r, 0, sizeof r);
    r.rid = 42;
    r.op = WF_OP_OFFER_POST;
    strcpy(r.id, "O12");
    r.matches = ms;
    r.nmatches = 2;
    r.rest = 800;

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    wf_codec_reply(&sb, &r, NULL);
    const msgpack_object *o = unpack(&sb);
    cr_assert_eq(o->via.map.size, 5);
    cr_assert_eq(get_i(o, "rid"), 42);
    cr_assert(get_b(o, "ok"));
    cr_assert_str_eq(get_s(o, "id"), "O12");
    cr_assert_eq(get_i(o, "rest"), 800);
    const msgpack_object *l = get(o, "matches");
    cr_assert_eq(l->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(l->via.array.size, 2);
    cr_assert_eq(l->via.array.ptr[0].via.map.size, 11);
    check_match_fields(&l->via.array.ptr[0]);
    cr_assert_str_eq(get_s(&l->via.array.ptr[1], "id"), "M6");
    cr_assert_null(get(o, "err"));
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

Test(encode, small_replies)
{
    wf_reply_t r;
    msgpack_sbuffer sb;
    const msgpack_object *o;

    memset(&r, 0, sizeof r);
    r.rid = 1;
    r.op = WF_OP_PING;
    r.now = 1700000000000;
    msgpack_sbuffer_init(&sb);
    wf_codec_reply(&sb, &r, NULL);
    o = unpack(&sb);
    cr_assert_eq(o->via.map.size, 3);
    cr_assert_eq(get_i(o, "now"), 1700000000000);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_clear(&sb);

    r.op = WF_OP_HELLO;
    r.seq = 77;
    wf_codec_reply(&sb, &r, NULL);
    o = unpack(&sb);
    cr_assert_eq(get_i(o, "seq"), 77);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_clear(&sb);

    r.op = WF_OP_ORDER_CANCEL;
    r.rest = 300;
    wf_codec_reply(&sb, &r, NULL);
    o = unpack(&sb);
    cr_assert_eq(o->via.map.size, 3);
    cr_assert_eq(get_i(o, "rest"), 300);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_clear(&sb);

    r.op = WF_OP_FIRM_PUT;
    wf_codec_reply(&sb, &r, NULL);
    o = unpack(&sb);
    cr_assert_eq(o->via.map.size, 2);
    cr_assert(get_b(o, "ok"));
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

Test(encode, error_reply)
{
    wf_reply_t r;
    memset(&r, 0, sizeof r);
    r.rid = 9;
    r.op = WF_OP_OFFER_POST;
    r.err = WF_E_CODE;
    strcpy(r.msg, "code \"SW00\" is not in the catalogue");
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    wf_codec_reply(&sb, &r, NULL);
    const msgpack_object *o = unpack(&sb);
    cr_assert_eq(o->via.map.size, 4);
    cr_assert_eq(get_i(o, "rid"), 9);
    cr_assert_not(get_b(o, "ok"));
    cr_assert_str_eq(get_s(o, "err"), "E_CODE");
    cr_assert_str_eq(get_s(o, "msg"), "code \"SW00\" is not in the catalogue");
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_clear(&sb);

    wf_codec_error(&sb, 3, WF_E_LIMIT, NULL);
    o = unpack(&sb);
    cr_assert_str_eq(get_s(o, "err"), "E_LIMIT");
    cr_assert_str_eq(get_s(o, "msg"), wf_strerror(WF_E_LIMIT));
    cr_assert_eq(get_i(o, "rid"), 3);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

static wf_order_rec_t
sample_order(wf_side_t side)
{
    wf_order_rec_t o;
    memset(&o, 0, sizeof o);
    o.id = side == WF_OFFER ? 12 : 13;
    o.side = (uint8_t)side;
    o.state = side == WF_OFFER ? WF_ORDER_LIVE : WF_ORDER_DONE;
    strcpy(o.firm, FIRM_A);
    if (side == WF_OFFER) {
        strcpy(o.code, "SW07");
    } else {
        o.ncodes = 2;
        strcpy(o.codes[0], "SW07");
        strcpy(o.codes[1], "HW08");
        o.target = 12;
    }
    o.qty = 1000;
    o.remaining = 400;
    o.price = -2500;
    o.min_fill = 10;
    o.min_credit = 60;
    o.lat = 30.1;
    o.lon = 120.5;
    o.max_km = 50;
    o.expires = 0;
    o.posted = 1700000000000;
    o.updated = 1700000001000;
    return o;
}

Test(encode, orders)
{
    wf_order_rec_t os[2] = {sample_order(WF_OFFER), sample_order(WF_DEMAND)};
    wf_reply_t r;
    memset(&r, 0, sizeof r);
    r.rid = 4;
    r.op = WF_OP_ORDERS_MINE;
    r.orders = os;
    r.norders = 2;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    wf_codec_reply(&sb, &r, NULL);
    const msgpack_object *o = unpack(&sb);
    const msgpack_object *l = get(o, "orders");
    cr_assert_eq(l->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(l->via.array.size, 2);

    const msgpack_object *a = &l->via.array.ptr[0];
    cr_assert_str_eq(get_s(a, "id"), "O12");
    cr_assert_str_eq(get_s(a, "side"), "offer");
    cr_assert_str_eq(get_s(a, "state"), "live");
    cr_assert_str_eq(get_s(a, "firm"), FIRM_A);
    cr_assert_str_eq(get_s(a, "code"), "SW07");
    cr_assert_null(get(a, "codes"));
    cr_assert_null(get(a, "target"));
    cr_assert_eq(get_i(a, "qty"), 1000);
    cr_assert_eq(get_i(a, "remaining"), 400);
    cr_assert_eq(get_i(a, "price"), -2500);
    cr_assert_eq(get_f(a, "lat"), 30.1);
    cr_assert_eq(get_f(a, "lon"), 120.5);
    cr_assert_eq(get_f(a, "max_km"), 50.0);
    cr_assert_eq(get_i(a, "min_credit"), 60);
    cr_assert_eq(get_i(a, "min_fill"), 10);
    cr_assert_eq(get_i(a, "expires"), 0);
    cr_assert_eq(get_i(a, "posted"), 1700000000000);
    cr_assert_eq(get_i(a, "updated"), 1700000001000);

    const msgpack_object *b = &l->via.array.ptr[1];
    cr_assert_str_eq(get_s(b, "id"), "D13");
    cr_assert_str_eq(get_s(b, "side"), "demand");
    cr_assert_str_eq(get_s(b, "state"), "done");
    cr_assert_str_eq(get_s(b, "target"), "O12");
    cr_assert_null(get(b, "code"));
    const msgpack_object *codes = get(b, "codes");
    cr_assert_eq(codes->type, MSGPACK_OBJECT_ARRAY);
    cr_assert_eq(codes->via.array.size, 2);
    cr_assert_eq(codes->via.array.ptr[1].via.str.size, 4);
    cr_assert_eq(memcmp(codes->via.array.ptr[1].via.str.ptr, "HW08", 4), 0);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_clear(&sb);

    r.op = WF_OP_ORDER_GET;
    r.order = &os[0];
    wf_codec_reply(&sb, &r, NULL);
    o = unpack(&sb);
    cr_assert_str_eq(get_s(get(o, "order"), "state"), "live");
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

Test(encode, firm_and_config)
{
    wf_firm_rec_t f;
    memset(&f, 0, sizeof f);
    strcpy(f.id, FIRM_B);
    strcpy(f.name, "上虞再生资源");
    f.roles = WF_ROLE_CONSUMER | WF_ROLE_CARRIER;
    f.lat = 30.03;
    f.lon = 120.87;
    f.county = 330604;
    f.base_credit = 77;
    f.blocked = 1;
    wf_config_t cfg = wf_config_default();

    wf_reply_t r;
    memset(&r, 0, sizeof r);
    r.rid = 2;
    r.op = WF_OP_FIRM_GET;
    r.firm = &f;
    r.config = &cfg;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    wf_codec_reply(&sb, &r, NULL);
    const msgpack_object *o = unpack(&sb);
    const msgpack_object *m = get(o, "firm");
    cr_assert_str_eq(get_s(m, "id"), FIRM_B);
    cr_assert_str_eq(get_s(m, "name"), "上虞再生资源");
    const msgpack_object *roles = get(m, "roles");
    cr_assert_eq(roles->via.array.size, 2);
    cr_assert_eq(memcmp(roles->via.array.ptr[0].via.str.ptr, "consumer", 8), 0);
    cr_assert_eq(memcmp(roles->via.array.ptr[1].via.str.ptr, "carrier", 7), 0);
    cr_assert_eq(get_f(m, "lat"), 30.03);
    cr_assert_eq(get_f(m, "lon"), 120.87);
    cr_assert_eq(get_i(m, "county"), 330604);
    cr_assert_null(get(m, "key"));
    cr_assert_eq(get_i(m, "base_credit"), 77);
    cr_assert_eq(get_i(m, "score"), 77);
    cr_assert_str_eq(get_s(m, "tier"), "B");
    cr_assert(get_b(m, "blocked"));
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_clear(&sb);

    /* With a key; without the config the tier is left out. */
    strcpy(f.key, KEY40);
    r.config = NULL;
    wf_codec_reply(&sb, &r, NULL);
    o = unpack(&sb);
    m = get(o, "firm");
    cr_assert_str_eq(get_s(m, "key"), KEY40);
    cr_assert_null(get(m, "tier"));
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_clear(&sb);

    r.op = WF_OP_CONFIG_SET;
    r.firm = NULL;
    cfg.county_rule = true;
    cfg.eco_fee = 500;
    r.config = &cfg;
    wf_codec_reply(&sb, &r, NULL);
    o = unpack(&sb);
    const msgpack_object *c = get(o, "config");
    cr_assert_eq(c->via.map.size, 20, "the 12 settings of the contract, co2_per_tkm, "
                 "stream_keep_days, rate_per_s, rate_burst and the four manifest settings");
    cr_assert_eq(get_f(c, "co2_per_tkm"), 0.1);
    cr_assert_eq(get_f(c, "w_credit"), 0.4);
    cr_assert_eq(get_f(c, "w_distance"), 0.4);
    cr_assert_eq(get_f(c, "w_price"), 0.2);
    cr_assert_eq(get_i(c, "tier_a"), 90);
    cr_assert_eq(get_i(c, "tier_b"), 75);
    cr_assert_eq(get_i(c, "tier_c"), 60);
    cr_assert_eq(get_i(c, "push_delay_b"), 500);
    cr_assert_eq(get_i(c, "push_delay_c"), 2000);
    cr_assert(get_b(c, "county_rule"));
    cr_assert_not(get_b(c, "city_rule"));
    cr_assert_eq(get_i(c, "eco_fee"), 500);
    cr_assert_eq(get_f(c, "discrepancy_pct"), 5.0);
    cr_assert_eq(get_i(c, "stream_keep_days"), 30);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

Test(encode, stream)
{
    wf_stream_msg_t s;
    memset(&s, 0, sizeof s);
    strcpy(s.firm, FIRM_B);
    s.seq = 3;
    s.type = WF_MSG_MATCH;
    s.ts = 1700000000123;
    s.u.match.m = sample_match();
    s.u.match.side = WF_DEMAND;
    strcpy(s.u.match.counterparty, FIRM_A);
    strcpy(s.u.match.counterparty_name, "柯桥印染厂");

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    wf_codec_stream(&sb, &s);
    const msgpack_object *o = unpack(&sb);
    cr_assert_eq(o->via.map.size, 16);
    cr_assert_eq(get_i(o, "seq"), 3);
    cr_assert_str_eq(get_s(o, "type"), "match");
    check_match_fields(o);
    cr_assert_str_eq(get_s(o, "side"), "demand");
    cr_assert_str_eq(get_s(o, "counterparty"), FIRM_A);
    cr_assert_str_eq(get_s(o, "counterparty_name"), "柯桥印染厂");
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_clear(&sb);

    memset(&s.u, 0, sizeof s.u);
    s.seq = 4;
    s.type = WF_MSG_EXPIRED;
    s.u.expired.order = 13;
    s.u.expired.side = WF_DEMAND;
    wf_codec_stream(&sb, &s);
    o = unpack(&sb);
    cr_assert_eq(o->via.map.size, 5);
    cr_assert_str_eq(get_s(o, "type"), "expired");
    cr_assert_str_eq(get_s(o, "order"), "D13");
    cr_assert_str_eq(get_s(o, "side"), "demand");
    cr_assert_eq(get_i(o, "ts"), 1700000000123);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_clear(&sb);

    s.seq = 5;
    s.type = WF_MSG_CREDIT;
    s.u.credit.score = 88;
    s.u.credit.tier = 'B';
    wf_codec_stream(&sb, &s);
    o = unpack(&sb);
    cr_assert_str_eq(get_s(o, "type"), "credit");
    cr_assert_eq(get_i(o, "score"), 88);
    cr_assert_str_eq(get_s(o, "tier"), "B");
    cr_assert_eq(get_i(o, "seq"), 5);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

Test(encode, feed)
{
    wf_feed_msg_t f;
    memset(&f, 0, sizeof f);
    strcpy(f.topic, "match.SW07");
    strcpy(f.code, "SW07");
    f.qty = 12000;
    f.price = -3000;
    f.km = 36.4;
    f.from_county = 330603;
    f.to_county = 330604;
    f.ts = 1700000000123;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    wf_codec_feed(&sb, &f);
    const msgpack_object *o = unpack(&sb);
    cr_assert_eq(o->via.map.size, 7);
    cr_assert_str_eq(get_s(o, "code"), "SW07");
    cr_assert_eq(get_i(o, "qty"), 12000);
    cr_assert_eq(get_i(o, "price"), -3000);
    cr_assert_eq(get_f(o, "km"), 36.4);
    cr_assert_eq(get_i(o, "from_county"), 330603);
    cr_assert_eq(get_i(o, "to_county"), 330604);
    cr_assert_eq(get_i(o, "ts"), 1700000000123);
    cr_assert_null(get(o, "producer"));
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_clear(&sb);

    memset(&f, 0, sizeof f);
    f.kind = WF_FEED_BOOK;
    strcpy(f.topic, "book.SW07");
    strcpy(f.code, "SW07");
    f.offers = 3000;
    f.demands = 5000;
    f.offer_orders = 1;
    f.demand_orders = 2;
    f.ts = 1700000000999;
    wf_codec_feed(&sb, &f);
    o = unpack(&sb);
    cr_assert_eq(o->via.map.size, 6);
    cr_assert_eq(get_i(o, "offers"), 3000);
    cr_assert_eq(get_i(o, "demands"), 5000);
    cr_assert_eq(get_i(o, "offer_orders"), 1);
    cr_assert_eq(get_i(o, "demand_orders"), 2);
    cr_assert_eq(get_i(o, "ts"), 1700000000999);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_clear(&sb);

    memset(&f, 0, sizeof f);
    f.kind = WF_FEED_DAILY;
    strcpy(f.topic, "daily.SW07");
    strcpy(f.code, "SW07");
    strcpy(f.day, "2023-11-15");
    f.count = 3;
    f.qty = 8000;
    f.min = 300;
    f.median = 500;
    f.max = 500;
    f.vwap = 475;
    wf_codec_feed(&sb, &f);
    o = unpack(&sb);
    cr_assert_eq(o->via.map.size, 9);
    cr_assert_str_eq(get_s(o, "day"), "2023-11-15");
    cr_assert_eq(get_i(o, "count"), 3);
    cr_assert_eq(get_i(o, "qty"), 8000);
    cr_assert_eq(get_i(o, "min"), 300);
    cr_assert_eq(get_i(o, "median"), 500);
    cr_assert_eq(get_i(o, "max"), 500);
    cr_assert_eq(get_i(o, "vwap"), 475);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

Test(encode, stats)
{
    wf_stats_t st;
    memset(&st, 0, sizeof st);
    strcpy(st.total.name, "all");
    st.total.matches = 2;
    st.total.matched_qty = 7000;
    for (int c = 0; c < WF_CLASS__COUNT; c++)
        strcpy(st.classes[c].name, wf_class_name((wf_class_t)c));
    st.ncodes = 1;
    strcpy(st.codes[0].name, "SW07");
    st.ndays = 2;
    strcpy(st.days[0].day, "2023-11-15");
    strcpy(st.days[1].day, "2023-11-14");
    st.tiers[1] = 4;
    wf_reply_t r;
    memset(&r, 0, sizeof r);
    r.op = WF_OP_STATS;
    r.rid = 5;
    r.stats = &st;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    wf_codec_reply(&sb, &r, NULL);
    const msgpack_object *o = unpack(&sb);
    const msgpack_object *s = get(o, "stats");
    cr_assert_eq(s->via.map.size, 10, "no manifests, no latency");
    cr_assert_eq(get_i(get(s, "total"), "matches"), 2);
    cr_assert_eq(get_f(get(s, "total"), "tonnes"), 7.0);
    cr_assert_eq(get(s, "classes")->via.array.size, WF_CLASS__COUNT);
    cr_assert_eq(get(s, "codes")->via.array.size, 1);
    cr_assert_str_eq(get_s(&get(s, "codes")->via.array.ptr[0], "code"), "SW07");
    cr_assert_eq(get(s, "days")->via.array.size, 2);
    cr_assert_eq(get_i(get(s, "credit"), "B"), 4);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_clear(&sb);
    st.manifests_scanned = true;
    st.manifests[0] = 2;
    st.has_latency = true;
    st.req_p50_us = 120;
    wf_codec_reply(&sb, &r, NULL);
    o = unpack(&sb);
    s = get(o, "stats");
    cr_assert_eq(s->via.map.size, 12);
    cr_assert_eq(get_i(get(s, "manifests"), "OPEN"), 2);
    cr_assert_eq(get_i(get(s, "latency"), "p50_us"), 120);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

/* Everything the decoder accepts survives one more trip: a reply encoded
 * for a decoded request carries the request's rid. */
Test(encode, error_for_decode_failure_keeps_rid)
{
    wf_cmd_t c;
    cr_assert_eq(DEC(&c, {"op", S("offer.post")}, {"rid", U(99)}, {"qty", I(1)}), WF_E_FIELD);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    wf_codec_error(&sb, c.rid, WF_E_FIELD, msg);
    const msgpack_object *o = unpack(&sb);
    cr_assert_eq(get_i(o, "rid"), 99);
    cr_assert_str_eq(get_s(o, "err"), "E_FIELD");
    cr_assert_str_eq(get_s(o, "msg"), "field \"code\" is missing");
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

/* Mutated and truncated requests never crash the decoder, never read past
 * the frame (ASan) and always end in one of its three answers. */
Test(decode, mutations)
{
    msgpack_sbuffer sb;
    build(&sb, (kv_t[]){{"op", S("demand.post")}, {"rid", U(4)}, {"as", S(FIRM_A)}, {"codes", LS("SW07", "HW08")},
                        {"qty", I(20000)}, {"price", I(-3000)}, {"lat", F(30.1)}, {"lon", F(120.2)},
                        {"target", S("O17")}},
          9);
    uint8_t buf[512];
    cr_assert_lt(sb.size, sizeof buf);
    uint32_t x = 12345;
    for (int it = 0; it < 20000; it++) {
        memcpy(buf, sb.data, sb.size);
        size_t len = sb.size;
        int flips = 1 + it % 4;
        for (int k = 0; k < flips; k++) {
            x = x * 1103515245u + 12345u;
            buf[(x >> 8) % len] = (uint8_t)(x >> 20);
        }
        if (it % 5 == 0)
            len = (x >> 4) % (len + 1);
        wf_cmd_t c;
        uint8_t *copy = malloc(len ? len : 1); /* exact size, so ASan sees any overread */
        memcpy(copy, buf, len);
        int rc = wf_codec_decode(copy, len, &c, msg, sizeof msg);
        free(copy);
        cr_assert(rc == WF_OK || rc == WF_E_PARSE || rc == WF_E_FIELD || rc == WF_E_OP, "rc %d", rc);
        if (rc != WF_OK)
            cr_assert_neq(msg[0], '\0');
    }
    msgpack_sbuffer_destroy(&sb);
}

Test(decode, licence_put_and_lanes)
{
    wf_cmd_t c;
    cr_assert_eq(DEC(&c, {"op", S("licence.put")}, {"rid", U(9)}, {"firm", S(FIRM_A)},
                     {"codes", LS("HW08", "900-041-49")}, {"capacity", I(30000000)},
                     {"valid_until", I(1798732800000)}),
                 WF_OK, "%s", msg);
    cr_assert_eq(c.op, WF_OP_LICENCE_PUT);
    cr_assert_str_eq(c.u.licence.firm, FIRM_A);
    cr_assert_eq(c.u.licence.ncodes, 2);
    cr_assert_str_eq(c.u.licence.codes[1], "900-041-49");
    cr_assert_eq(c.u.licence.capacity, 30000000);
    cr_assert_eq(c.u.licence.valid_until, 1798732800000);
    cr_assert_eq(DEC(&c, {"op", S("licence.put")}, {"rid", U(9)}, {"firm", S(FIRM_A)},
                     {"codes", LS("HW08")}, {"capacity", I(1)}),
                 WF_E_FIELD, "valid_until is required");
    cr_assert_eq(DEC(&c, {"op", S("licence.put")}, {"rid", U(9)}, {"firm", S(FIRM_A)},
                     {"codes", LS("HW08")}, {"capacity", S("1")}, {"valid_until", I(1)}),
                 WF_E_FIELD);

    cr_assert_eq(DEC(&c, {"op", S("lane.put")}, {"rid", U(10)}, {"producer", S(FIRM_A)},
                     {"consumer", S("91330604MA2D000002")}, {"code", S("900-249-08")}),
                 WF_OK, "%s", msg);
    cr_assert_eq(c.op, WF_OP_LANE_PUT);
    cr_assert_str_eq(c.u.lane.producer, FIRM_A);
    cr_assert_str_eq(c.u.lane.consumer, "91330604MA2D000002");
    cr_assert_str_eq(c.u.lane.code, "900-249-08");
    cr_assert_eq(DEC(&c, {"op", S("lane.del")}, {"rid", U(10)}, {"producer", S(FIRM_A)},
                     {"consumer", S("91330604MA2D000002")}, {"code", S("900-249-08")}),
                 WF_OK, "%s", msg);
    cr_assert_eq(c.op, WF_OP_LANE_DEL);
    cr_assert_eq(DEC(&c, {"op", S("lane.del")}, {"rid", U(10)}, {"producer", S(FIRM_A)},
                     {"code", S("900-249-08")}),
                 WF_E_FIELD, "consumer is required");
}
