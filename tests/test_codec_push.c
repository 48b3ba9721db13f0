/* Codec for subscriptions, credit and the blacklist: sub.put, sub.del,
 * credit.event, firm.block decode with their defaults and checks; the
 * notify and credit stream messages and the credit.event reply encode as
 * docs/protocol.md says. */
#include <criterion/criterion.h>
#include <string.h>

#include "codec.h"
#include "wf_error.h"

static msgpack_sbuffer sb;
static msgpack_packer pk;

static void
begin(const char *op, size_t nfields)
{
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2 + nfields);
    msgpack_pack_str_with_body(&pk, "rid", 3);
    msgpack_pack_uint64(&pk, 9);
    msgpack_pack_str_with_body(&pk, "op", 2);
    msgpack_pack_str_with_body(&pk, op, strlen(op));
}

static void
kv_str(const char *k, const char *v)
{
    msgpack_pack_str_with_body(&pk, k, strlen(k));
    msgpack_pack_str_with_body(&pk, v, strlen(v));
}

static void
kv_int(const char *k, int64_t v)
{
    msgpack_pack_str_with_body(&pk, k, strlen(k));
    msgpack_pack_int64(&pk, v);
}

static int
decode(wf_cmd_t *cmd, char *msg)
{
    int rc = wf_codec_decode(sb.data, sb.size, cmd, msg, 200);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

Test(codec_push, sub_put_defaults_and_side)
{
    begin("sub.put", 2);
    kv_str("side", "demands");
    msgpack_pack_str_with_body(&pk, "codes", 5);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_str_with_body(&pk, "HW08", 4);
    msgpack_pack_str_with_body(&pk, "SW07", 4);
    wf_cmd_t c;
    char msg[200];
    cr_assert_eq(decode(&c, msg), WF_OK, "%s", msg);
    cr_assert_eq(c.op, WF_OP_SUB_PUT);
    cr_assert_eq(c.u.sub.side, WF_DEMAND);
    cr_assert_eq(c.u.sub.ncodes, 2);
    cr_assert_str_eq(c.u.sub.codes[1], "SW07");
    cr_assert_eq(c.u.sub.radius_km, 50.0);
    cr_assert_eq(c.has & (WF_HAS_LOC | WF_HAS_RADIUS | WF_HAS_MIN_QTY | WF_HAS_MIN_CREDIT), 0);

    begin("sub.put", 5);
    kv_str("side", "offers");
    msgpack_pack_str_with_body(&pk, "codes", 5);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_str_with_body(&pk, "SW07", 4);
    kv_int("min_qty", 1000);
    kv_int("min_credit", 70);
    msgpack_pack_str_with_body(&pk, "radius_km", 9);
    msgpack_pack_double(&pk, 12.5);
    cr_assert_eq(decode(&c, msg), WF_OK, "%s", msg);
    cr_assert_eq(c.u.sub.side, WF_OFFER);
    cr_assert_eq(c.u.sub.min_qty, 1000);
    cr_assert_eq(c.u.sub.min_credit, 70);
    cr_assert_eq(c.u.sub.radius_km, 12.5);
    cr_assert(c.has & WF_HAS_RADIUS && c.has & WF_HAS_MIN_QTY && c.has & WF_HAS_MIN_CREDIT);

    begin("sub.put", 2);
    kv_str("side", "both");
    msgpack_pack_str_with_body(&pk, "codes", 5);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_str_with_body(&pk, "SW07", 4);
    cr_assert_eq(decode(&c, msg), WF_E_FIELD);
    cr_assert(strstr(msg, "side"), "%s", msg);
}

Test(codec_push, credit_event_and_block)
{
    begin("credit.event", 4);
    kv_str("firm", "91330603MA2D000101");
    kv_str("kind", "penalty");
    kv_int("points", -15);
    kv_str("note", "超标排放");
    wf_cmd_t c;
    char msg[200];
    cr_assert_eq(decode(&c, msg), WF_OK, "%s", msg);
    cr_assert_eq(c.op, WF_OP_CREDIT_EVENT);
    cr_assert_eq(c.u.credit.points, -15);
    cr_assert_str_eq(c.u.credit.kind, "penalty");
    cr_assert_str_eq(c.u.credit.note, "超标排放");
    cr_assert_eq(c.has & WF_HAS_POINTS_EXPIRES, 0);

    begin("credit.event", 3);
    kv_str("firm", "91330603MA2D000101");
    kv_str("kind", "penalty");
    kv_int("points", -15);
    cr_assert_eq(decode(&c, msg), WF_E_FIELD, "note is required");
    cr_assert(strstr(msg, "note"), "%s", msg);

    begin("firm.unblock", 2);
    kv_str("firm", "91330603MA2D000101");
    kv_str("note", "整改完成");
    cr_assert_eq(decode(&c, msg), WF_OK, "%s", msg);
    cr_assert_eq(c.op, WF_OP_FIRM_UNBLOCK);
    cr_assert_str_eq(c.u.block.firm, "91330603MA2D000101");

    begin("sub.del", 1);
    kv_str("id", "S12");
    cr_assert_eq(decode(&c, msg), WF_OK, "%s", msg);
    cr_assert_str_eq(c.u.ref.id, "S12");
}

static const msgpack_object *
get(const msgpack_object *m, const char *k)
{
    for (uint32_t i = 0; i < m->via.map.size; i++)
        if (m->via.map.ptr[i].key.via.str.size == strlen(k) &&
            memcmp(m->via.map.ptr[i].key.via.str.ptr, k, strlen(k)) == 0)
            return &m->via.map.ptr[i].val;
    return NULL;
}

Test(codec_push, notify_message)
{
    wf_stream_msg_t m;
    memset(&m, 0, sizeof m);
    m.seq = 4;
    m.type = WF_MSG_NOTIFY;
    m.ts = 1700000000000LL;
    m.u.notify.order.id = 12;
    m.u.notify.order.side = WF_OFFER;
    strcpy(m.u.notify.order.firm, "91330603MA2D000101");
    strcpy(m.u.notify.order.code, "SW07");
    m.u.notify.order.qty = m.u.notify.order.remaining = 12000;
    m.u.notify.km = 9.5;
    m.u.notify.sub = 3;
    msgpack_sbuffer_init(&sb);
    wf_codec_stream(&sb, &m);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    cr_assert_eq(msgpack_unpack_next(&up, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *o = &up.data;
    cr_assert_eq(o->via.map.size, 6);
    cr_assert_eq(memcmp(get(o, "type")->via.str.ptr, "notify", 6), 0);
    cr_assert_eq(memcmp(get(o, "sub")->via.str.ptr, "S3", 2), 0);
    cr_assert_eq(get(o, "km")->via.f64, 9.5);
    const msgpack_object *ord = get(o, "order");
    cr_assert_eq(memcmp(get(ord, "id")->via.str.ptr, "O12", 3), 0);
    cr_assert_eq(get(ord, "remaining")->via.u64, 12000);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);

    wf_reply_t r;
    memset(&r, 0, sizeof r);
    r.rid = 5;
    r.op = WF_OP_CREDIT_EVENT;
    r.has_credit = true;
    r.score = 65;
    r.tier = 'C';
    msgpack_sbuffer_init(&sb);
    wf_codec_reply(&sb, &r, NULL);
    msgpack_unpacked_init(&up);
    cr_assert_eq(msgpack_unpack_next(&up, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(get(&up.data, "score")->via.u64, 65);
    cr_assert_eq(memcmp(get(&up.data, "tier")->via.str.ptr, "C", 1), 0);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}
