/* A protocol fuzz test against a running wufeid. A seeded generator makes
 * a day of valid requests from four registered firms (posts that match,
 * cancels, reads) and interleaves thousands of bad ones: valid requests
 * with flipped bytes, truncated, with fields of the wrong type, huge or
 * negative integers, deep nesting, containers declaring billions of
 * elements, random maps, random bytes, oversize bodies, extra envelope
 * frames. Every bad request carries the identity of a firm that is not
 * registered, so none may change anything. Checks: the daemon stays up;
 * every request gets exactly one reply, a msgpack map with a boolean `ok`,
 * a `rid`, and on failure an `err` from the protocol's error set (never
 * E_INTERNAL); and the book afterwards (orders.mine of every firm) and
 * every valid request's answer equal those of a fresh daemon that was sent
 * only the valid requests. */
#include "e2e_daemon.h"

#include <zmq.h>

#define NFIRMS 4
#define GHOST "91330699MA2D999999" /* registered nowhere */
#define VALID 1500                 /* valid requests after registration */
#define BAD_PER_VALID 5            /* bad requests between two valid ones */

static const char *const firm_ids[NFIRMS] = {"91330603MA2D000001", "91330603MA2D000002", "91330604MA2D000003",
                                             "91330604MA2D000004"};
static const char *const firm_roles[NFIRMS] = {"producer", "producer", "consumer", "consumer,producer"};

/* xorshift64*: the same sequence on every run */
static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ULL;
}
static uint32_t below(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

/* ---- building requests ---- */

typedef struct buf {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} buf_t;

static void buf_init(buf_t *b)
{
    msgpack_sbuffer_init(&b->sb);
    msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
}

static void s_(msgpack_packer *pk, const char *s)
{
    wfc_pack_str(pk, s);
}

/* The valid requests, as packed maps (rid set by the caller's counter). */
typedef struct sent_order {
    char id[24];
    int firm;
} sent_order_t;

static sent_order_t posted[VALID];
static int nposted;

static void valid_request(buf_t *b, uint64_t rid, int *firm_out)
{
    msgpack_packer *pk = &b->pk;
    msgpack_sbuffer_clear(&b->sb);
    int f = (int)below(NFIRMS);
    *firm_out = f;
    uint32_t kind = below(100);
    static const char *const codes[] = {"SW07", "SW02", "SW15"};
    if (kind < 40 && f != 2) {
        /* an offer (firms 0, 1, 3 produce) */
        msgpack_pack_map(pk, 6);
        s_(pk, "op"), s_(pk, "offer.post");
        s_(pk, "rid"), msgpack_pack_uint64(pk, rid);
        s_(pk, "as"), s_(pk, firm_ids[f]);
        s_(pk, "code"), s_(pk, codes[below(3)]);
        s_(pk, "qty"), msgpack_pack_int64(pk, 1 + below(5000));
        s_(pk, "price"), msgpack_pack_int64(pk, -(int64_t)below(6000));
    } else if (kind < 75 && f >= 2) {
        msgpack_pack_map(pk, 6);
        s_(pk, "op"), s_(pk, "demand.post");
        s_(pk, "rid"), msgpack_pack_uint64(pk, rid);
        s_(pk, "as"), s_(pk, firm_ids[f]);
        s_(pk, "codes");
        if (below(2)) {
            msgpack_pack_array(pk, 1);
            s_(pk, codes[below(3)]);
        } else {
            msgpack_pack_array(pk, 2);
            s_(pk, "SW07"), s_(pk, "SW15");
        }
        s_(pk, "qty"), msgpack_pack_int64(pk, 1 + below(8000));
        s_(pk, "price"), msgpack_pack_int64(pk, -(int64_t)below(6000));
    } else if (kind < 88 && nposted > 0) {
        const sent_order_t *o = &posted[below((uint32_t)nposted)];
        *firm_out = o->firm;
        msgpack_pack_map(pk, 4);
        s_(pk, "op"), s_(pk, below(3) ? "order.cancel" : "order.get");
        s_(pk, "rid"), msgpack_pack_uint64(pk, rid);
        s_(pk, "as"), s_(pk, firm_ids[o->firm]);
        s_(pk, "id"), s_(pk, o->id);
    } else {
        msgpack_pack_map(pk, 4);
        s_(pk, "op"), s_(pk, "orders.mine");
        s_(pk, "rid"), msgpack_pack_uint64(pk, rid);
        s_(pk, "as"), s_(pk, firm_ids[f]);
        s_(pk, "live_only"), below(2) ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    }
}

/* A value of a random type, nested at most depth deep. */
static void random_value(msgpack_packer *pk, int depth)
{
    switch (below(depth > 0 ? 12 : 9)) {
    case 0: msgpack_pack_nil(pk); break;
    case 1: below(2) ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
    case 2: msgpack_pack_uint64(pk, rnd()); break;
    case 3: msgpack_pack_int64(pk, (int64_t)rnd()); break;
    case 4: msgpack_pack_double(pk, (double)(int64_t)rnd() / 7.0); break;
    case 5: {
        static const int64_t huge[] = {INT64_MIN, INT64_MAX, -1, 0, 1LL << 53, (1LL << 62) + 1};
        msgpack_pack_int64(pk, huge[below(6)]);
        break;
    }
    case 6: {
        char s[40];
        size_t n = below(sizeof s);
        for (size_t i = 0; i < n; i++)
            s[i] = (char)below(256);
        msgpack_pack_str(pk, n);
        msgpack_pack_str_body(pk, s, n);
        break;
    }
    case 7: {
        char s[16];
        size_t n = below(sizeof s);
        for (size_t i = 0; i < n; i++)
            s[i] = (char)below(256);
        msgpack_pack_bin(pk, n);
        msgpack_pack_bin_body(pk, s, n);
        break;
    }
    case 8: {
        static const char *const words[] = {"SW07", "HW08", "900-249-08", GHOST, "O1", "D2", "producer", ""};
        s_(pk, words[below(8)]);
        break;
    }
    case 9: {
        uint32_t n = below(4);
        msgpack_pack_array(pk, n);
        for (uint32_t i = 0; i < n; i++)
            random_value(pk, depth - 1);
        break;
    }
    default: {
        uint32_t n = below(4);
        msgpack_pack_map(pk, n);
        for (uint32_t i = 0; i < n; i++) {
            random_value(pk, 0);
            random_value(pk, depth - 1);
        }
        break;
    }
    }
}

static const char *const all_ops[] = {"ping", "hello", "offer.post", "demand.post", "order.cancel", "order.get",
                                      "orders.mine", "firm.put", "firm.get", "config.get", "config.set",
                                      "licence.put", "lane.put", "lane.del", "optimize", "auction.set",
                                      "auction.del", "sub.put", "sub.del", "credit.event", "firm.block",
                                      "firm.unblock", "stats"};
static const char *const all_fields[] = {"code", "codes", "qty", "price", "lat", "lon", "max_km", "min_credit",
                                         "min_fill", "expires", "target", "id", "live_only", "after_seq",
                                         "firm", "name", "roles", "county", "key", "base_credit", "w_credit",
                                         "tier_a", "eco_fee", "rate_per_s", "county_rule", "capacity",
                                         "valid_until", "producer", "consumer", "top", "days", "co2_per_tkm"};

/* A well-formed request from the ghost with fields of random types. */
static void ghost_request(msgpack_packer *pk, uint64_t rid)
{
    uint32_t n = below(6);
    msgpack_pack_map(pk, 3 + n);
    s_(pk, "op"), s_(pk, all_ops[below(sizeof all_ops / sizeof all_ops[0])]);
    s_(pk, "rid"), msgpack_pack_uint64(pk, rid);
    s_(pk, "as"), s_(pk, GHOST);
    for (uint32_t i = 0; i < n; i++) {
        s_(pk, all_fields[below(sizeof all_fields / sizeof all_fields[0])]);
        random_value(pk, 3);
    }
}

/* A valid request's bytes with "as" replaced by the ghost: the base of
 * the byte-level mutations. */
static void ghost_copy(buf_t *src, buf_t *dst)
{
    msgpack_sbuffer_clear(&dst->sb);
    msgpack_sbuffer_write(&dst->sb, src->sb.data, src->sb.size);
    for (size_t i = 0; i + 18 <= dst->sb.size; i++)
        for (int f = 0; f < NFIRMS; f++)
            if (memcmp(dst->sb.data + i, firm_ids[f], 18) == 0)
                memcpy(dst->sb.data + i, GHOST, 18);
}

static int kinds[12];

/* One bad request into b (bytes, not necessarily msgpack). Returns the
 * number of extra envelope frames to send before it (0..2). */
static int bad_request(buf_t *valid, buf_t *b, uint64_t rid)
{
    msgpack_packer *pk = &b->pk;
    msgpack_sbuffer_clear(&b->sb);
    uint32_t kind = below(12);
    kinds[kind]++;
    switch (kind) {
    case 0: /* flipped bytes */
    case 1:
        ghost_copy(valid, b);
        for (uint32_t k = 1 + below(4); k > 0 && b->sb.size; k--)
            b->sb.data[below((uint32_t)b->sb.size)] ^= (char)(1 + below(255));
        break;
    case 2: /* truncated */
        ghost_copy(valid, b);
        b->sb.size = below((uint32_t)b->sb.size);
        break;
    case 3: /* wrong types, huge numbers */
    case 4:
        ghost_request(pk, rid);
        break;
    case 5: { /* deep nesting */
        uint32_t depth = 5 + below(60);
        msgpack_pack_map(pk, 3);
        s_(pk, "op"), s_(pk, all_ops[below(11)]);
        s_(pk, "rid"), msgpack_pack_uint64(pk, rid);
        s_(pk, all_fields[below(25)]);
        for (uint32_t i = 0; i < depth; i++) {
            if (below(2)) {
                msgpack_pack_array(pk, 1);
            } else {
                msgpack_pack_map(pk, 1);
                s_(pk, "k");
            }
        }
        msgpack_pack_int64(pk, 1);
        break;
    }
    case 6: { /* a container declaring billions of elements */
        static const unsigned char heads[][5] = {{0xdd, 0xff, 0xff, 0xff, 0xff}, {0xdf, 0x7f, 0xff, 0xff, 0xff},
                                                 {0xdc, 0xff, 0xff, 0, 0}, {0xdb, 0xff, 0xff, 0xff, 0xf0}};
        msgpack_pack_map(pk, 3);
        s_(pk, "op"), s_(pk, "demand.post");
        s_(pk, "as"), s_(pk, GHOST);
        s_(pk, "codes");
        msgpack_sbuffer_write(&b->sb, (const char *)heads[below(4)], 5);
        break;
    }
    case 7: { /* a random map */
        uint32_t n = below(8);
        msgpack_pack_map(pk, n);
        for (uint32_t i = 0; i < n; i++) {
            random_value(pk, 1);
            random_value(pk, 3);
        }
        break;
    }
    case 8: { /* random bytes */
        char r[64];
        size_t n = below(sizeof r);
        for (size_t i = 0; i < n; i++)
            r[i] = (char)below(256);
        msgpack_sbuffer_write(&b->sb, r, n);
        break;
    }
    case 9: /* not a map, or trailing bytes */
        if (below(2)) {
            random_value(pk, 2);
        } else {
            ghost_copy(valid, b);
            msgpack_pack_int64(pk, (int64_t)rnd());
        }
        break;
    case 10: /* a valid request with extra envelope frames */
        ghost_copy(valid, b);
        return 1 + (int)below(2);
    default: /* oversize, now and then */
        if (below(20) == 0) {
            static char big[70 * 1024];
            memset(big, 'x', sizeof big);
            msgpack_pack_map(pk, 2);
            s_(pk, "op"), s_(pk, "ping");
            s_(pk, "pad");
            msgpack_pack_str(pk, sizeof big);
            msgpack_pack_str_body(pk, big, sizeof big);
        } else {
            ghost_request(pk, rid);
        }
        break;
    }
    return 0;
}

/* ---- the wire ---- */

typedef struct conn {
    void *ctx, *sock;
    msgpack_unpacked u;
    zmq_msg_t last;
    bool have_last;
} conn_t;

static void conn_open(conn_t *c, const char *ep)
{
    memset(c, 0, sizeof *c);
    c->ctx = zmq_ctx_new();
    c->sock = zmq_socket(c->ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_connect(c->sock, ep), 0);
    msgpack_unpacked_init(&c->u);
}

static void conn_close(conn_t *c)
{
    if (c->have_last)
        zmq_msg_close(&c->last);
    msgpack_unpacked_destroy(&c->u);
    zmq_close(c->sock);
    zmq_ctx_term(c->ctx);
}

/* Sends extra empty-ish frames then body; waits (5 s) for one reply.
 * Returns the reply map, or NULL with a reason in why. */
static const msgpack_object *call(conn_t *c, int extra, const void *body, size_t len, char *why, size_t whylen)
{
    for (int i = 0; i < extra; i++)
        zmq_send(c->sock, "env", 3, ZMQ_SNDMORE);
    if (zmq_send(c->sock, body, len, 0) < 0) {
        snprintf(why, whylen, "send: %s", zmq_strerror(errno));
        return NULL;
    }
    zmq_pollitem_t it = {c->sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 5000) != 1) {
        snprintf(why, whylen, "no reply within 5 s");
        return NULL;
    }
    /* the reply echoes the extra frames; its body is the last frame */
    if (c->have_last)
        zmq_msg_close(&c->last);
    c->have_last = true;
    zmq_msg_init(&c->last);
    int frames = 0;
    for (;;) {
        zmq_msg_close(&c->last);
        zmq_msg_init(&c->last);
        if (zmq_msg_recv(&c->last, c->sock, 0) < 0) {
            snprintf(why, whylen, "recv: %s", zmq_strerror(errno));
            return NULL;
        }
        frames++;
        if (!zmq_msg_more(&c->last))
            break;
    }
    if (frames != extra + 1) {
        snprintf(why, whylen, "the reply has %d frames, want %d", frames, extra + 1);
        return NULL;
    }
    msgpack_unpacked_destroy(&c->u);
    msgpack_unpacked_init(&c->u);
    size_t off = 0;
    if (msgpack_unpack_next(&c->u, zmq_msg_data(&c->last), zmq_msg_size(&c->last), &off) != MSGPACK_UNPACK_SUCCESS ||
        off != zmq_msg_size(&c->last) || c->u.data.type != MSGPACK_OBJECT_MAP) {
        snprintf(why, whylen, "the reply is not exactly one msgpack map");
        return NULL;
    }
    return &c->u.data;
}

static const char *const errors[] = {"E_PARSE", "E_FIELD", "E_OP", "E_AUTH", "E_NOTFOUND", "E_CODE",
                                     "E_LICENCE", "E_BLOCKED", "E_STATE", "E_LIMIT", "E_FULL"};

/* "" when reply is well-formed (its answer in answer: "ok" or the code),
 * else what is wrong. */
static const char *check_reply(const msgpack_object *r, char *answer, size_t len)
{
    const msgpack_object *ok = wfc_get(r, "ok");
    if (!ok || ok->type != MSGPACK_OBJECT_BOOLEAN)
        return "no boolean ok";
    if (!wfc_get(r, "rid"))
        return "no rid";
    if (ok->via.boolean) {
        snprintf(answer, len, "ok");
        return "";
    }
    if (!wfc_get_str(r, "err", answer, len))
        return "no err string";
    char msg[8];
    if (!wfc_get_str(r, "msg", msg, sizeof msg))
        return "no msg string";
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if (strcmp(answer, errors[i]) == 0)
            return "";
    return "an err outside the protocol's set";
}

/* ---- the runs ---- */

#define MAXV (VALID + NFIRMS + 2)
static char answers_a[MAXV][32], answers_b[MAXV][32];

static void register_all(conn_t *c, char answers[][32], int *nv, uint64_t *rid)
{
    buf_t b;
    buf_init(&b);
    /* no rate limit: this test floods on purpose */
    msgpack_pack_map(&b.pk, 4);
    s_(&b.pk, "op"), s_(&b.pk, "config.set");
    s_(&b.pk, "rid"), msgpack_pack_uint64(&b.pk, ++*rid);
    s_(&b.pk, "as"), s_(&b.pk, OPERATOR);
    s_(&b.pk, "rate_per_s"), msgpack_pack_int64(&b.pk, 0);
    char why[128];
    const msgpack_object *r = call(c, 0, b.sb.data, b.sb.size, why, sizeof why);
    cr_assert_not_null(r, "%s", why);
    cr_assert(wfc_get_bool(r, "ok", false));
    snprintf(answers[(*nv)++], 32, "ok");
    for (int f = 0; f < NFIRMS; f++) {
        msgpack_sbuffer_clear(&b.sb);
        msgpack_pack_map(&b.pk, 9);
        s_(&b.pk, "op"), s_(&b.pk, "firm.put");
        s_(&b.pk, "rid"), msgpack_pack_uint64(&b.pk, ++*rid);
        s_(&b.pk, "as"), s_(&b.pk, OPERATOR);
        s_(&b.pk, "firm"), s_(&b.pk, firm_ids[f]);
        s_(&b.pk, "name"), s_(&b.pk, "fuzz firm");
        s_(&b.pk, "roles");
        if (strchr(firm_roles[f], ',')) {
            msgpack_pack_array(&b.pk, 2);
            s_(&b.pk, "consumer"), s_(&b.pk, "producer");
        } else {
            msgpack_pack_array(&b.pk, 1);
            s_(&b.pk, firm_roles[f]);
        }
        s_(&b.pk, "lat"), msgpack_pack_double(&b.pk, 30.0 + 0.02 * f);
        s_(&b.pk, "lon"), msgpack_pack_double(&b.pk, 120.5 + 0.02 * f);
        s_(&b.pk, "county"), msgpack_pack_int64(&b.pk, 330602);
        r = call(c, 0, b.sb.data, b.sb.size, why, sizeof why);
        cr_assert_not_null(r, "%s", why);
        cr_assert(wfc_get_bool(r, "ok", false), "firm.put");
        snprintf(answers[(*nv)++], 32, "ok");
    }
    msgpack_sbuffer_destroy(&b.sb);
}

/* Plays the generated day on c: the valid requests and, when bad_too, the
 * bad ones between them. Fills answers with each valid request's answer. */
static void play(conn_t *c, bool bad_too, char answers[][32], int *nbad_out)
{
    rng = 0x9E3779B97F4A7C15ULL;
    nposted = 0;
    if (bad_too)
        memset(kinds, 0, sizeof kinds);
    uint64_t rid = 0;
    int nv = 0, nbad = 0;
    register_all(c, answers, &nv, &rid);
    buf_t v, bad;
    buf_init(&v);
    buf_init(&bad);
    uint64_t bad_rng = 0xC0FFEE1234567ULL; /* the bad stream has its own sequence */
    char why[128], ans[32];
    for (int i = 0; i < VALID; i++) {
        int f;
        valid_request(&v, ++rid, &f);
        if (bad_too) {
            uint64_t keep = rng;
            rng = bad_rng;
            for (int k = 0; k < BAD_PER_VALID; k++) {
                int extra = bad_request(&v, &bad, ++rid);
                const msgpack_object *r = call(c, extra, bad.sb.data, bad.sb.size, why, sizeof why);
                if (!r)
                    cr_assert_fail("bad request %d (after valid %d): %s", nbad, i, why);
                const char *wrong = check_reply(r, ans, sizeof ans);
                if (wrong[0])
                    cr_assert_fail("bad request %d: reply with %s", nbad, wrong);
                /* only a ping (it needs no identity) may succeed for the ghost */
                if (strcmp(ans, "ok") == 0 && !wfc_get(r, "now"))
                    cr_assert_fail("bad request %d from the ghost succeeded", nbad);
                nbad++;
            }
            bad_rng = rng;
            rng = keep;
        }
        const msgpack_object *r = call(c, 0, v.sb.data, v.sb.size, why, sizeof why);
        if (!r)
            cr_assert_fail("valid request %d: %s", i, why);
        const char *wrong = check_reply(r, ans, sizeof ans);
        if (wrong[0])
            cr_assert_fail("valid request %d: reply with %s", i, wrong);
        snprintf(answers[nv++], 32, "%s", ans);
        char id[24];
        if (strcmp(ans, "ok") == 0 && wfc_get_str(r, "id", id, sizeof id) && nposted < VALID &&
            (id[0] == 'O' || id[0] == 'D')) {
            snprintf(posted[nposted].id, sizeof posted[nposted].id, "%s", id);
            posted[nposted++].firm = f;
        }
    }
    *nbad_out = nbad;
    msgpack_sbuffer_destroy(&v.sb);
    msgpack_sbuffer_destroy(&bad.sb);
}

/* The book as seen by each firm: orders.mine (all), timestamps left out. */
static void book_digest(const dmn_t *d, char *out, size_t len)
{
    out[0] = '\0';
    size_t used = 0;
    for (int f = 0; f < NFIRMS; f++) {
        wfc_t *c = dmn_client_keys(d, firm_ids[f], NULL, 5000);
        const msgpack_object *r = req(c, "orders.mine", "live_only:b", 0);
        assert_ok(r, "orders.mine");
        const msgpack_object *os = wfc_get(r, "orders");
        cr_assert(os && os->type == MSGPACK_OBJECT_ARRAY);
        for (uint32_t i = 0; i < os->via.array.size; i++) {
            const msgpack_object *o = &os->via.array.ptr[i];
            char id[24] = "", state[16] = "", code[32] = "";
            wfc_get_str(o, "id", id, sizeof id);
            wfc_get_str(o, "state", state, sizeof state);
            wfc_get_str(o, "code", code, sizeof code);
            used += (size_t)snprintf(out + used, len - used, "%s %s %s %s q%lld r%lld p%lld\n", firm_ids[f], id,
                                     state, code, (long long)wfc_get_int(o, "qty", -1),
                                     (long long)wfc_get_int(o, "remaining", -1),
                                     (long long)wfc_get_int(o, "price", -1));
            cr_assert_lt(used, len);
        }
        wfc_destroy(&c);
    }
}

static char digest_a[1 << 20], digest_b[1 << 20];

Test(protofuzz, bad_requests_change_nothing_and_always_get_a_reply, .timeout = 240)
{
    dmn_t a, b;
    dmn_init(&a, true);
    a.extra[0] = "--quiet";
    dmn_start(&a);
    int64_t t0 = dmn_ms();
    conn_t c;
    conn_open(&c, a.cmd_ep);
    int nbad = 0;
    play(&c, true, answers_a, &nbad);
    conn_close(&c);
    int64_t t1 = dmn_ms();
    cr_assert_eq(waitpid(a.pid, NULL, WNOHANG), 0, "wufeid died under the fuzz");
    book_digest(&a, digest_a, sizeof digest_a);

    dmn_init(&b, true);
    b.extra[0] = "--quiet";
    dmn_start(&b);
    conn_open(&c, b.cmd_ep);
    int none = 0;
    play(&c, false, answers_b, &none);
    conn_close(&c);
    book_digest(&b, digest_b, sizeof digest_b);

    int oks = 0;
    for (int i = 0; i < VALID + NFIRMS + 1; i++) {
        if (strcmp(answers_a[i], answers_b[i]) != 0)
            cr_assert_fail("valid request %d was answered %s among the bad ones, %s alone", i, answers_a[i],
                           answers_b[i]);
        oks += strcmp(answers_a[i], "ok") == 0;
    }
    size_t lines = 0;
    for (const char *p = digest_a; *p; p++)
        lines += *p == '\n';
    cr_log_info("%d bad requests (kinds %d %d %d %d %d %d %d %d %d %d %d %d) among %d valid (%d ok) in %.1f s; "
                "%zu orders in the book",
                nbad, kinds[0], kinds[1], kinds[2], kinds[3], kinds[4], kinds[5], kinds[6], kinds[7], kinds[8],
                kinds[9], kinds[10], kinds[11], VALID, oks, (double)(t1 - t0) / 1000.0, lines);
    cr_assert_gt(lines, 100, "the day should leave a real book");
    cr_assert(strcmp(digest_a, digest_b) == 0, "the book differs from the valid-only run");
    dmn_fini(&a);
    dmn_fini(&b);
}
