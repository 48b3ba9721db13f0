/* End-to-end tests of the matching rules through a real wufeid
 * (docs/matching.md): E_LICENCE for an unlicensed hazardous demand, a
 * licence's capacity running out across two fills and shown by firm.get,
 * a lane, the county and city rules, the eco fee in the match map after a
 * restart, a one-click take, the CLI's licence and lane commands, and an
 * order expiring by the daemon's own timer with the owner's `expired`
 * stream message arriving on a connection that only said hello. */
#include "e2e_fixture.h"

#define HANGZHOU "91330106MA2D000004" /* a producer in another city */
#define FAR_FUTURE 4102444800000LL    /* 2100-01-01 */

TestSuite(rules, .init = setup, .fini = teardown, .timeout = 120);

static void
put_firm(wfc_t *op, const char *id, const char *roles, double lat, double lon, long long county)
{
    const msgpack_object *r = req(op, "firm.put", "firm:s name:s roles:l lat:d lon:d county:i", id,
                                  "测试企业", roles, lat, lon, county);
    assert_ok(r, "firm.put");
}

/* Keqiao producers, a Shangyu consumer (another county of Shaoxing), and a
 * producer registered in a Hangzhou county but sited near Shangyu. */
static void
market(void)
{
    wfc_t *op = client(OPERATOR);
    put_firm(op, PRODUCER, "producer", 30.08, 120.49, 330603);
    put_firm(op, CONSUMER, "consumer", 30.03, 120.87, 330604);
    put_firm(op, PRODUCER2, "producer", 30.09, 120.47, 330603);
    put_firm(op, HANGZHOU, "producer", 30.06, 120.80, 330106);
    wfc_destroy(&op);
}

static long long
matched(const msgpack_object *reply)
{
    const msgpack_object *l = wfc_get(reply, "matches");
    cr_assert(l && l->type == MSGPACK_OBJECT_ARRAY, "a post reply has matches");
    long long q = 0;
    for (uint32_t i = 0; i < l->via.array.size; i++)
        q += wfc_get_int(&l->via.array.ptr[i], "qty", 0);
    return q;
}

static const msgpack_object *
post_offer(wfc_t *c, const char *code, long long qty, long long price)
{
    const msgpack_object *r = req(c, "offer.post", "code:s qty:i price:i", code, qty, price);
    assert_ok(r, "offer.post");
    return r;
}

static void
config_set(const char *fmt, ...)
{
    /* only bools and ints are set here: fmt is "key:b" or "key:i" */
    wfc_t *op = client(OPERATOR);
    char spec[64];
    snprintf(spec, sizeof spec, "%s", fmt);
    char *colon = strchr(spec, ':');
    cr_assert_not_null(colon);
    *colon = '\0';
    va_list ap;
    va_start(ap, fmt);
    long long v = colon[1] == 'b' ? va_arg(ap, int) : va_arg(ap, long long);
    va_end(ap);
    msgpack_packer *pk = wfc_begin(op, "config.set", 1);
    wfc_pack_str(pk, spec);
    if (colon[1] == 'b')
        v ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    else
        msgpack_pack_int64(pk, v);
    const msgpack_object *r;
    cr_assert_eq(wfc_call(op, &r), 0);
    assert_ok(r, "config.set");
    wfc_destroy(&op);
}

Test(rules, licence_refusal_capacity_and_firm_get)
{
    market();
    wfc_t *op = client(OPERATOR), *c = client(CONSUMER), *p = client(PRODUCER), *p2 = client(PRODUCER2);
    const msgpack_object *r = req(c, "demand.post", "codes:l qty:i price:i", "HW08", 200LL, 0LL);
    assert_err(r, "E_LICENCE", "hazardous demand without a licence");
    r = req(op, "licence.put", "firm:s codes:l capacity:i valid_until:i", CONSUMER, "HW08", 100LL,
            FAR_FUTURE);
    assert_ok(r, "licence.put");
    char id[32] = "";
    wfc_get_str(r, "id", id, sizeof id);
    cr_assert_str_eq(id, "L1");
    r = req(c, "demand.post", "codes:l qty:i price:i", "HW08", 200LL, 0LL);
    assert_ok(r, "licensed demand");

    /* two codes of HW08 share the one licence's 100 */
    cr_assert_eq(matched(post_offer(p, "900-249-08", 60, 0)), 60);
    cr_assert_eq(matched(post_offer(p2, "900-217-08", 60, 0)), 40, "capacity left: 40");
    cr_assert_eq(matched(post_offer(p, "900-249-08", 60, 0)), 0, "capacity spent");

    r = req(op, "firm.get", "firm:s", CONSUMER);
    assert_ok(r, "firm.get");
    const msgpack_object *f = wfc_get(r, "firm");
    const msgpack_object *ls = f ? wfc_get(f, "licences") : NULL;
    cr_assert(ls && ls->type == MSGPACK_OBJECT_ARRAY && ls->via.array.size == 1, "one licence listed");
    const msgpack_object *l = &ls->via.array.ptr[0];
    cr_assert_eq(wfc_get_int(l, "capacity", -1), 100);
    cr_assert_eq(wfc_get_int(l, "used", -1), 100);
    cr_assert_eq(wfc_get_int(l, "valid_until", -1), FAR_FUTURE);
    cr_assert_geq(wfc_get_int(l, "year", 0), 2024);
    const msgpack_object *codes = wfc_get(l, "codes");
    cr_assert(codes && codes->type == MSGPACK_OBJECT_ARRAY && codes->via.array.size == 1);

    /* a producer has no licences, and its firm map says so */
    r = req(op, "firm.get", "firm:s", PRODUCER);
    ls = wfc_get(wfc_get(r, "firm"), "licences");
    cr_assert(ls && ls->type == MSGPACK_OBJECT_ARRAY && ls->via.array.size == 0);
    r = req(p, "licence.put", "firm:s codes:l capacity:i valid_until:i", CONSUMER, "HW08", 1LL,
            FAR_FUTURE);
    assert_err(r, "E_AUTH", "licence.put by a producer");
    wfc_destroy(&op);
    wfc_destroy(&c);
    wfc_destroy(&p);
    wfc_destroy(&p2);
}

Test(rules, lane_allows_one_producer)
{
    market();
    wfc_t *op = client(OPERATOR), *c = client(CONSUMER), *p = client(PRODUCER), *p2 = client(PRODUCER2);
    const msgpack_object *r = req(op, "lane.put", "producer:s consumer:s code:s", PRODUCER, CONSUMER,
                                  "900-249-08");
    assert_ok(r, "lane.put");
    r = req(c, "demand.post", "codes:l qty:i price:i", "900-249-08", 500LL, 0LL);
    assert_ok(r, "demand by lane");
    cr_assert_eq(matched(post_offer(p2, "900-249-08", 100, 0)), 0, "no lane from PRODUCER2");
    cr_assert_eq(matched(post_offer(p, "900-249-08", 300, 0)), 300, "the lane has no capacity limit");
    r = req(op, "lane.del", "producer:s consumer:s code:s", PRODUCER, CONSUMER, "900-249-08");
    assert_ok(r, "lane.del");
    cr_assert_eq(matched(post_offer(p, "900-249-08", 100, 0)), 0, "the lane is gone");
    r = req(op, "lane.del", "producer:s consumer:s code:s", PRODUCER, CONSUMER, "900-249-08");
    assert_err(r, "E_NOTFOUND", "lane.del twice");
    r = req(op, "lane.put", "producer:s consumer:s code:s", PRODUCER, CONSUMER, "SW07");
    assert_err(r, "E_FIELD", "a lane for general waste");
    wfc_destroy(&op);
    wfc_destroy(&c);
    wfc_destroy(&p);
    wfc_destroy(&p2);
}

Test(rules, county_and_city_rules_and_eco_fee_survive_restart)
{
    market();
    wfc_t *op = client(OPERATOR);
    const msgpack_object *r = req(op, "licence.put", "firm:s codes:l capacity:i valid_until:i", CONSUMER,
                                  "HW08", 1000000LL, FAR_FUTURE);
    assert_ok(r, "licence.put");
    wfc_destroy(&op);
    config_set("county_rule:b", 1);
    config_set("city_rule:b", 1);
    daemon_stop();
    daemon_start();

    wfc_t *c = client(CONSUMER), *p = client(PRODUCER), *h = client(HANGZHOU);
    r = req(c, "demand.post", "codes:l qty:i price:i", "SW07", 1000LL, 1000LL);
    assert_ok(r, "demand SW07");
    cr_assert_eq(matched(post_offer(p, "SW07", 100, 0)), 0, "general waste left its county");
    r = req(c, "demand.post", "codes:l qty:i price:i", "HW08", 1000LL, 1000LL);
    assert_ok(r, "demand HW08");
    cr_assert_eq(matched(post_offer(h, "900-249-08", 100, 0)), 0, "hazardous waste left its city");
    cr_assert_eq(matched(post_offer(p, "900-249-08", 100, 0)), 100,
                 "hazardous waste may cross counties within the city");

    config_set("county_rule:b", 0);
    config_set("city_rule:b", 0);
    config_set("eco_fee:i", 500LL);
    wfc_destroy(&c);
    wfc_destroy(&p);
    wfc_destroy(&h);
    daemon_stop();
    daemon_start();
    c = client(CONSUMER);
    p = client(PRODUCER);
    op = client(OPERATOR);
    r = req(op, "config.get", NULL);
    const msgpack_object *cfg = wfc_get(r, "config");
    cr_assert_eq(wfc_get_int(cfg, "eco_fee", -1), 500, "eco_fee survives a restart");
    cr_assert_not(wfc_get_bool(cfg, "county_rule", true));
    /* the resting SW07 demand (1000) takes an offer asking 400 + fee 500 */
    cr_assert_eq(matched(post_offer(p, "SW07", 100, 600)), 0, "600 + 500 > 1000");
    r = post_offer(p, "SW07", 100, 400);
    cr_assert_eq(matched(r), 100);
    const msgpack_object *m = &wfc_get(r, "matches")->via.array.ptr[0];
    cr_assert_eq(wfc_get_int(m, "fee", -1), 500, "the match map carries the eco fee");
    cr_assert_eq(wfc_get_int(m, "price", -1), 1000);
    wfc_destroy(&c);
    wfc_destroy(&p);
    wfc_destroy(&op);
}

Test(rules, one_click_take)
{
    market();
    wfc_t *c = client(CONSUMER), *p = client(PRODUCER);
    const msgpack_object *r = post_offer(p, "SW07", 800, -100);
    char oid[32];
    cr_assert(wfc_get_str(r, "id", oid, sizeof oid));
    post_offer(p, "SW07", 800, -900); /* a better one for the consumer, not the target */
    r = req(c, "demand.post", "codes:l qty:i price:i target:s", "SW07", 1000LL, 0LL, oid);
    assert_ok(r, "take");
    cr_assert_eq(matched(r), 800);
    char off[32] = "";
    wfc_get_str(&wfc_get(r, "matches")->via.array.ptr[0], "offer", off, sizeof off);
    cr_assert_str_eq(off, oid, "a take matches its target only");
    cr_assert_eq(wfc_get_int(r, "rest", -1), 0, "a take never rests");
    r = req(c, "demand.post", "codes:l qty:i price:i target:s", "SW07", 100LL, 0LL, oid);
    assert_err(r, "E_STATE", "taking a filled offer");
    wfc_destroy(&c);
    wfc_destroy(&p);
}

Test(rules, order_expires_by_the_daemons_timer)
{
    market();
    wfc_t *watch = client(PRODUCER), *p = client(PRODUCER);
    const msgpack_object *r = req(watch, "hello", NULL);
    assert_ok(r, "hello");
    r = req(p, "ping", NULL);
    long long now = wfc_get_int(r, "now", 0);
    r = req(p, "offer.post", "code:s qty:i price:i expires:i", "SW07", 100LL, 0LL, now + 1200);
    assert_ok(r, "offer with expiry");
    char oid[32];
    wfc_get_str(r, "id", oid, sizeof oid);
    /* no request on watch from here: the message comes by itself */
    const msgpack_object *m = NULL;
    int64_t deadline = mono_ms() + 8000;
    bool got = false;
    while (!got && mono_ms() < deadline) {
        int rc = wfc_next(watch, 500, &m);
        cr_assert_neq(rc, -1, "stream: %s", wfc_error(watch));
        if (rc == 0) {
            char type[16] = "", order[32] = "";
            wfc_get_str(m, "type", type, sizeof type);
            wfc_get_str(m, "order", order, sizeof order);
            got = strcmp(type, "expired") == 0 && strcmp(order, oid) == 0;
        }
    }
    cr_assert(got, "the owner is told its offer %s expired", oid);
    r = req(p, "order.get", "id:s", oid);
    char state[16] = "";
    wfc_get_str(wfc_get(r, "order"), "state", state, sizeof state);
    cr_assert_str_eq(state, "expired");
    wfc_destroy(&watch);
    wfc_destroy(&p);
}

/* ---- the CLI ---- */

static int
cli(char *out, size_t len, const char *as, const char *a1, const char *a2, const char *a3,
    const char *a4, const char *a5, const char *a6)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' --endpoint %s --as %s %s %s %s %s %s %s 2>&1", WUFEI_CLI_PATH,
             D.cmd_ep, as, a1, a2, a3, a4 ? a4 : "", a5 ? a5 : "", a6 ? a6 : "");
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    size_t n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    int st = pclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(rules, cli_licence_and_lane)
{
    market();
    char out[4096];
    int st = cli(out, sizeof out, OPERATOR, "licence", "add", CONSUMER, "HW08,HW49", "30t", "2099-12-31");
    cr_assert_eq(st, 0, "%s", out);
    cr_assert(strstr(out, "licence L1"), "%s", out);
    st = cli(out, sizeof out, OPERATOR, "licence", "add", CONSUMER, "HW08", "10", "2099-02-30");
    cr_assert_eq(st, 64, "a day that does not exist is a usage error: %s", out);
    st = cli(out, sizeof out, OPERATOR, "lane", "add", PRODUCER, CONSUMER, "900-041-49", NULL);
    cr_assert_eq(st, 0, "%s", out);
    st = cli(out, sizeof out, OPERATOR, "lane", "del", PRODUCER, CONSUMER, "900-041-49", NULL);
    cr_assert_eq(st, 0, "%s", out);
    st = cli(out, sizeof out, OPERATOR, "lane", "del", PRODUCER, CONSUMER, "900-041-49", NULL);
    cr_assert_eq(st, 1, "%s", out);
    st = cli(out, sizeof out, CONSUMER, "demand", "HW34", "100", "0", NULL, NULL);
    cr_assert_eq(st, 1, "%s", out);
    cr_assert(strstr(out, "E_LICENCE"), "%s", out);

    wfc_t *op = client(OPERATOR);
    const msgpack_object *r = req(op, "firm.get", "firm:s", CONSUMER);
    const msgpack_object *l = &wfc_get(wfc_get(r, "firm"), "licences")->via.array.ptr[0];
    cr_assert_eq(wfc_get_int(l, "capacity", -1), 30000);
    /* 2099-12-31 in China: valid until 2100-01-01T00:00+08:00 */
    cr_assert_eq(wfc_get_int(l, "valid_until", -1), FAR_FUTURE - 8LL * 3600000);
    wfc_destroy(&op);
    st = cli(out, sizeof out, OPERATOR, "firm", "get", CONSUMER, NULL, NULL, NULL);
    cr_assert_eq(st, 0, "%s", out);
    cr_assert(strstr(out, "licences:") && strstr(out, "L1 codes=HW08,HW49 capacity=30000"), "%s", out);
}
