/* The codec's manifest ops, engine.key, journal.head, the new config keys
 * and the `manifest` stream message, as docs/protocol.md spells them. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <string.h>

#include "core/wf_error.h"
#include "net/codec.h"

static msgpack_sbuffer sb;
static msgpack_unpacked up;

static void init(void) { msgpack_sbuffer_init(&sb); msgpack_unpacked_init(&up); }
static void fini(void) { msgpack_unpacked_destroy(&up); msgpack_sbuffer_destroy(&sb); }
TestSuite(codec_manifest, .init = init, .fini = fini);

/* Packs a request: op, rid 9, then "key", value pairs given as a format of
 * s (string) and i (int64) letters. */
static int
dec(wf_cmd_t *c, const char *op, const char *fmt, ...)
{
    msgpack_sbuffer b;
    msgpack_sbuffer_init(&b);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2 + strlen(fmt));
    msgpack_pack_str_with_body(&pk, "op", 2);
    msgpack_pack_str_with_body(&pk, op, strlen(op));
    msgpack_pack_str_with_body(&pk, "rid", 3);
    msgpack_pack_uint64(&pk, 9);
    va_list ap;
    va_start(ap, fmt);
    for (const char *f = fmt; *f; f++) {
        const char *k = va_arg(ap, const char *);
        msgpack_pack_str_with_body(&pk, k, strlen(k));
        if (*f == 's') {
            const char *v = va_arg(ap, const char *);
            msgpack_pack_str_with_body(&pk, v, strlen(v));
        } else {
            msgpack_pack_int64(&pk, va_arg(ap, long long));
        }
    }
    va_end(ap);
    char msg[WF_MSG_LEN];
    int rc = wf_codec_decode(b.data, b.size, c, msg, sizeof msg);
    msgpack_sbuffer_destroy(&b);
    return rc;
}

static const msgpack_object *
unpack(void)
{
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(up.data.type, MSGPACK_OBJECT_MAP);
    return &up.data;
}

static const msgpack_object *
get(const msgpack_object *m, const char *k)
{
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object *key = &m->via.map.ptr[i].key;
        if (key->type == MSGPACK_OBJECT_STR && key->via.str.size == strlen(k) &&
            memcmp(key->via.str.ptr, k, key->via.str.size) == 0)
            return &m->via.map.ptr[i].val;
    }
    return NULL;
}

static bool
str_is(const msgpack_object *o, const char *s)
{
    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
           memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

Test(codec_manifest, decodes_every_manifest_op)
{
    wf_cmd_t c;
    cr_assert_eq(dec(&c, "manifest.dispatch", "sss", "id", "F3", "carrier", "91330600MA2D000003",
                     "vehicle", "浙D12345"), WF_OK);
    cr_assert_eq(c.op, WF_OP_MANIFEST_DISPATCH);
    cr_assert_str_eq(c.u.manifest.id, "F3");
    cr_assert_str_eq(c.u.manifest.carrier, "91330600MA2D000003");
    cr_assert_str_eq(c.u.manifest.vehicle, "浙D12345");
    cr_assert_eq(dec(&c, "manifest.dispatch", "ss", "id", "F3", "vehicle", "x"), WF_E_FIELD);
    cr_assert_eq(dec(&c, "manifest.dispatch", "sss", "id", "F3", "carrier", "short", "vehicle", "x"),
                 WF_E_FIELD);
    cr_assert_eq(dec(&c, "manifest.dispatch", "ss", "id", "F3", "carrier", "91330600MA2D000003"),
                 WF_E_FIELD, "vehicle is required");
    cr_assert_eq(dec(&c, "manifest.load", "si", "id", "F3", "qty", 12000LL), WF_OK);
    cr_assert_eq(c.op, WF_OP_MANIFEST_LOAD);
    cr_assert_eq(c.u.manifest.qty, 12000);
    cr_assert_eq(dec(&c, "manifest.load", "s", "id", "F3"), WF_E_FIELD, "qty is required");
    cr_assert_eq(dec(&c, "manifest.unload", "si", "id", "F3", "qty", 11000LL), WF_OK);
    cr_assert_eq(c.u.manifest.qty, 11000);
    cr_assert_eq(dec(&c, "manifest.close", "s", "id", "F3"), WF_OK);
    cr_assert_eq(c.op, WF_OP_MANIFEST_CLOSE);
    cr_assert_eq(dec(&c, "manifest.close", ""), WF_E_FIELD, "id is required");
    cr_assert_eq(dec(&c, "manifest.cancel", "ss", "id", "F3", "reason", "truck broke down"), WF_OK);
    cr_assert_str_eq(c.u.manifest.reason, "truck broke down");
    cr_assert_eq(dec(&c, "manifest.cancel", "s", "id", "F3"), WF_E_FIELD, "reason is required");
    cr_assert_eq(dec(&c, "manifest.get", "s", "id", "F3"), WF_OK);
    cr_assert_eq(c.op, WF_OP_MANIFEST_GET);
    cr_assert_eq(dec(&c, "engine.key", ""), WF_OK);
    cr_assert_eq(c.op, WF_OP_ENGINE_KEY);
    cr_assert_eq(dec(&c, "journal.head", ""), WF_OK);
    cr_assert_eq(c.op, WF_OP_JOURNAL_HEAD);
    cr_assert_eq(dec(&c, "config.set", "ii", "manifest_age", 3600000LL, "cancel_points", -4LL), WF_OK);
    cr_assert_eq(c.u.config.set, WF_CFG_MANIFEST_AGE | WF_CFG_CANCEL_POINTS);
    cr_assert_eq(c.u.config.values.manifest_age, 3600000);
    cr_assert_eq(c.u.config.values.cancel_points, -4);
}

Test(codec_manifest, encodes_replies_and_the_stream_message)
{
    wf_reply_t r;
    memset(&r, 0, sizeof r);
    r.rid = 4;
    r.op = WF_OP_MANIFEST_UNLOAD;
    r.token = "WF1.abc.def";
    r.discrepancy = true;
    wf_codec_reply(&sb, &r, NULL);
    const msgpack_object *o = unpack();
    cr_assert(str_is(get(o, "token"), "WF1.abc.def"));
    cr_assert_eq(get(o, "discrepancy")->type, MSGPACK_OBJECT_BOOLEAN);
    cr_assert(get(o, "discrepancy")->via.boolean);
    msgpack_sbuffer_clear(&sb);

    wf_manifest_rec_t m;
    memset(&m, 0, sizeof m);
    m.id = m.match = 3;
    m.state = WF_MANIFEST_LOADED;
    strcpy(m.code, "SW07");
    m.qty = 12000;
    m.shipped = 11900;
    strcpy(m.producer, "91330600MA2D000001");
    strcpy(m.consumer, "91330600MA2D000002");
    strcpy(m.carrier, "91330600MA2D000003");
    strcpy(m.vehicle, "浙D12345");
    m.created = 1;
    m.dispatched = 2;
    m.loaded = m.updated = 3;
    r.op = WF_OP_MANIFEST_GET;
    r.manifest = &m;
    wf_codec_reply(&sb, &r, NULL);
    o = unpack();
    const msgpack_object *mm = get(o, "manifest");
    cr_assert(str_is(get(mm, "id"), "F3"));
    cr_assert(str_is(get(mm, "match"), "M3"));
    cr_assert(str_is(get(mm, "state"), "LOADED"));
    cr_assert_eq(get(mm, "shipped")->via.u64, 11900);
    cr_assert_eq(get(mm, "weighed")->type, MSGPACK_OBJECT_NIL, "not weighed yet");
    cr_assert_eq(get(mm, "unloaded")->type, MSGPACK_OBJECT_NIL);
    cr_assert(str_is(get(mm, "carrier"), "91330600MA2D000003"));
    cr_assert(str_is(get(mm, "token"), "WF1.abc.def"));
    cr_assert_eq(get(mm, "cancel_reason")->type, MSGPACK_OBJECT_NIL);
    msgpack_sbuffer_clear(&sb);

    uint8_t key[32], hash[32], sig[64];
    memset(key, 7, sizeof key);
    memset(hash, 8, sizeof hash);
    memset(sig, 9, sizeof sig);
    r.op = WF_OP_ENGINE_KEY;
    r.key = key;
    wf_codec_reply(&sb, &r, NULL);
    o = unpack();
    cr_assert_eq(get(o, "key")->type, MSGPACK_OBJECT_BIN);
    cr_assert_eq(get(o, "key")->via.bin.size, 32);
    msgpack_sbuffer_clear(&sb);
    r.op = WF_OP_JOURNAL_HEAD;
    r.seq = 77;
    r.hash = hash;
    r.sig = sig;
    wf_codec_reply(&sb, &r, NULL);
    o = unpack();
    cr_assert_eq(get(o, "seq")->via.u64, 77);
    cr_assert_eq(get(o, "hash")->via.bin.size, 32);
    cr_assert_eq(get(o, "sig")->via.bin.size, 64);
    cr_assert_eq(memcmp(get(o, "sig")->via.bin.ptr, sig, 64), 0);
    msgpack_sbuffer_clear(&sb);

    wf_stream_msg_t s;
    memset(&s, 0, sizeof s);
    s.seq = 12;
    s.type = WF_MSG_MANIFEST;
    s.ts = 99;
    s.u.manifest.id = 3;
    s.u.manifest.state = WF_MANIFEST_CLOSED;
    strcpy(s.u.manifest.token, "WF1.x.y");
    wf_codec_stream(&sb, &s);
    o = unpack();
    cr_assert_eq(o->via.map.size, 6);
    cr_assert(str_is(get(o, "type"), "manifest"));
    cr_assert(str_is(get(o, "id"), "F3"));
    cr_assert(str_is(get(o, "state"), "CLOSED"));
    cr_assert(str_is(get(o, "token"), "WF1.x.y"));
    cr_assert_eq(get(o, "ts")->via.u64, 99);
}
