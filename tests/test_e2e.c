/* End-to-end tests: each test starts its own wufeid --insecure on free
 * loopback ports and a fresh database directory, talks to it over the wire
 * protocol only (the client library and the `wufei` CLI), and stops it
 * with SIGTERM, which must end it with status 0. Every wait is bounded. */
#define _GNU_SOURCE /* nftw */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "clients/wfclient.h"

#define OPERATOR "000000000000000000"
#define PRODUCER "91330603MA2D000001"
#define CONSUMER "91330604MA2D000002"
#define PRODUCER2 "91330603MA2D000003"
#define TIMEOUT_MS 5000

/* ---- the daemon under test ---- */

static struct {
    char dir[256];
    char cmd_ep[64], feed_ep[64];
    pid_t pid;
} D;

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    cr_assert(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    cr_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static wfc_t *client(const char *as)
{
    wfc_opts_t o = {.endpoint = D.cmd_ep, .as = as, .timeout_ms = TIMEOUT_MS};
    wfc_t *c = wfc_new(&o);
    cr_assert_not_null(c, "wfc_new(%s)", D.cmd_ep);
    return c;
}

/* Starts wufeid on D.dir with fresh ports and waits (at most 20 s) until it
 * answers ping. */
static void daemon_start(void)
{
    int p1 = free_port(), p2;
    do
        p2 = free_port();
    while (p2 == p1);
    snprintf(D.cmd_ep, sizeof D.cmd_ep, "tcp://127.0.0.1:%d", p1);
    snprintf(D.feed_ep, sizeof D.feed_ep, "tcp://127.0.0.1:%d", p2);
    char log[300];
    snprintf(log, sizeof log, "%s.log", D.dir);
    /* no Criterion assertion may run in the child: it would talk to the
     * runner's socket from a second process and hang */
    D.pid = fork();
    if (D.pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execl(WUFEID_PATH, WUFEID_PATH, "--db", D.dir, "--command", D.cmd_ep, "--feed", D.feed_ep,
              "--insecure", "--quiet", (char *)NULL);
        _exit(127);
    }
    cr_assert(D.pid > 0, "fork: %s", strerror(errno));
    wfc_opts_t o = {.endpoint = D.cmd_ep, .timeout_ms = 250};
    wfc_t *c = wfc_new(&o);
    cr_assert_not_null(c);
    int64_t deadline = mono_ms() + 20000;
    bool up = false;
    while (!up && mono_ms() < deadline) {
        int status;
        if (waitpid(D.pid, &status, WNOHANG) == D.pid) {
            D.pid = -1;
            wfc_destroy(&c);
            cr_assert_fail("wufeid exited before answering ping (status %d), see %s", status, log);
        }
        const msgpack_object *reply;
        wfc_begin(c, "ping", 0);
        up = wfc_call(c, &reply) == 0 && wfc_get_bool(reply, "ok", false);
    }
    wfc_destroy(&c);
    cr_assert(up, "wufeid did not answer ping on %s within 20 s", D.cmd_ep);
}

/* SIGTERM, then waits at most 15 s; returns the exit status (-1 when it had
 * to be killed). */
static int daemon_stop(void)
{
    if (D.pid <= 0)
        return 0;
    kill(D.pid, SIGTERM);
    int status = 0;
    int64_t deadline = mono_ms() + 15000;
    while (mono_ms() < deadline) {
        pid_t r = waitpid(D.pid, &status, WNOHANG);
        if (r == D.pid) {
            D.pid = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        usleep(10000);
    }
    kill(D.pid, SIGKILL);
    waitpid(D.pid, &status, 0);
    D.pid = -1;
    return -1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void setup(void)
{
    snprintf(D.dir, sizeof D.dir, "/tmp/wufei-e2e-XXXXXX");
    cr_assert_not_null(mkdtemp(D.dir));
    D.pid = -1;
    daemon_start();
}

static void teardown(void)
{
    int st = daemon_stop();
    cr_expect_eq(st, 0, "wufeid exited with status %d after SIGTERM", st);
    nftw(D.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    char log[300];
    snprintf(log, sizeof log, "%s.log", D.dir);
    unlink(log);
}

/* ---- requests ---- */

/* Sends op with fields described by fmt, space-separated "key:t" with t one
 * of s (string), i (long long), d (double), b (int, bool), l (string list,
 * comma-separated), n (nil); the values follow as arguments. Asserts a
 * reply came; returns it (valid until the next call on c). */
static const msgpack_object *req(wfc_t *c, const char *op, const char *fmt, ...)
{
    char spec[512];
    snprintf(spec, sizeof spec, "%s", fmt ? fmt : "");
    char *keys[32];
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(spec, " ", &save); t && n < 32; t = strtok_r(NULL, " ", &save))
        keys[n++] = t;
    msgpack_packer *pk = wfc_begin(c, op, n);
    va_list ap;
    va_start(ap, fmt);
    for (size_t i = 0; i < n; i++) {
        char *colon = strchr(keys[i], ':');
        cr_assert_not_null(colon, "bad spec %s", keys[i]);
        *colon = '\0';
        wfc_pack_str(pk, keys[i]);
        switch (colon[1]) {
        case 's': wfc_pack_str(pk, va_arg(ap, const char *)); break;
        case 'i': msgpack_pack_int64(pk, va_arg(ap, long long)); break;
        case 'd': msgpack_pack_double(pk, va_arg(ap, double)); break;
        case 'b': va_arg(ap, int) ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
        case 'n': msgpack_pack_nil(pk); break;
        case 'l': {
            char list[256];
            snprintf(list, sizeof list, "%s", va_arg(ap, const char *));
            size_t m = 1;
            for (char *p = list; *p; p++)
                m += *p == ',';
            msgpack_pack_array(pk, m);
            char *s2 = NULL;
            for (char *t = strtok_r(list, ",", &s2); t; t = strtok_r(NULL, ",", &s2))
                wfc_pack_str(pk, t);
            break;
        }
        default: cr_assert_fail("bad type in spec");
        }
    }
    va_end(ap);
    const msgpack_object *reply;
    int rc = wfc_call(c, &reply);
    cr_assert_eq(rc, 0, "%s: %s", op, wfc_error(c));
    return reply;
}

static const char *err_of(const msgpack_object *reply, char *buf, size_t len)
{
    if (wfc_get_bool(reply, "ok", false)) {
        snprintf(buf, len, "ok");
        return buf;
    }
    if (!wfc_get_str(reply, "err", buf, len))
        snprintf(buf, len, "(no err)");
    return buf;
}

#define assert_ok(reply, what)                                                                     \
    do { /* evaluates reply once: it is often the request itself */                                \
        const msgpack_object *o_ = (reply);                                                        \
        char m_[256] = "", e_[32];                                                                 \
        wfc_get_str(o_, "msg", m_, sizeof m_);                                                     \
        cr_assert(wfc_get_bool(o_, "ok", false), "%s: %s: %s", (what), err_of(o_, e_, sizeof e_), m_); \
    } while (0)

#define assert_err(reply, code, what)                                                              \
    do {                                                                                           \
        const msgpack_object *r_ = (reply);                                                        \
        char e_[32], m_[256] = "";                                                                 \
        wfc_get_str(r_, "msg", m_, sizeof m_);                                                \
        cr_assert_str_eq(err_of(r_, e_, sizeof e_), (code), "%s: want %s, got %s (%s)",       \
                         (what), (code), e_, m_);                                                  \
        cr_assert(m_[0] != '\0', "%s: error reply without msg", (what));                           \
    } while (0)

static void put_firm(wfc_t *op, const char *id, const char *name, const char *roles, double lat, double lon,
                     long long county)
{
    const msgpack_object *r = req(op, "firm.put", "firm:s name:s roles:l lat:d lon:d county:i base_credit:i", id,
                                  name, roles, lat, lon, county, 85LL);
    assert_ok(r, "firm.put");
}

/* The three firms most tests use: a Keqiao dyeing mill, a Shangyu kiln,
 * and a second Keqiao producer. */
static void register_firms(void)
{
    wfc_t *op = client(OPERATOR);
    put_firm(op, PRODUCER, "绍兴柯桥宏达印染有限公司", "producer", 30.08, 120.49, 330603);
    put_firm(op, CONSUMER, "绍兴上虞新型墙材有限公司", "consumer", 30.03, 120.87, 330604);
    put_firm(op, PRODUCER2, "绍兴柯桥锦纶印染有限公司", "producer", 30.09, 120.47, 330603);
    wfc_destroy(&op);
}

static void ping_ok(wfc_t *c)
{
    const msgpack_object *r = req(c, "ping", NULL);
    assert_ok(r, "ping");
    cr_assert(wfc_get_int(r, "now", 0) > 1600000000000LL, "ping: now should be unix ms");
}

/* Posts an offer; copies its id into id. Returns the reply. */
static const msgpack_object *offer(wfc_t *c, const char *code, long long qty, long long price, char *id, size_t len)
{
    const msgpack_object *r = req(c, "offer.post", "code:s qty:i price:i", code, qty, price);
    assert_ok(r, "offer.post");
    cr_assert(wfc_get_str(r, "id", id, len) && id[0] == 'O', "offer id should start with O");
    return r;
}

static const msgpack_object *demand(wfc_t *c, const char *codes, long long qty, long long price, char *id,
                                    size_t len)
{
    const msgpack_object *r = req(c, "demand.post", "codes:l qty:i price:i", codes, qty, price);
    assert_ok(r, "demand.post");
    cr_assert(wfc_get_str(r, "id", id, len) && id[0] == 'D', "demand id should start with D");
    return r;
}

static size_t list_len(const msgpack_object *reply, const char *key)
{
    const msgpack_object *l = wfc_get(reply, key);
    cr_assert(l && l->type == MSGPACK_OBJECT_ARRAY, "reply should have a list %s", key);
    return l->via.array.size;
}

static const msgpack_object *list_at(const msgpack_object *reply, const char *key, size_t i)
{
    const msgpack_object *l = wfc_get(reply, key);
    cr_assert(l && l->type == MSGPACK_OBJECT_ARRAY && i < l->via.array.size);
    return &l->via.array.ptr[i];
}

/* True when orders.mine of c lists id. */
static bool mine_has(wfc_t *c, const char *id)
{
    const msgpack_object *r = req(c, "orders.mine", NULL);
    assert_ok(r, "orders.mine");
    size_t n = list_len(r, "orders");
    for (size_t i = 0; i < n; i++) {
        char oid[32];
        if (wfc_get_str(list_at(r, "orders", i), "id", oid, sizeof oid) && strcmp(oid, id) == 0)
            return true;
    }
    return false;
}

TestSuite(e2e, .init = setup, .fini = teardown, .timeout = 120);

Test(e2e, ping_and_register_firms)
{
    wfc_t *c = client(NULL);
    ping_ok(c);
    wfc_destroy(&c);
    register_firms();
    wfc_t *op = client(OPERATOR);
    const msgpack_object *r = req(op, "firm.get", "firm:s", CONSUMER);
    assert_ok(r, "firm.get");
    const msgpack_object *f = wfc_get(r, "firm");
    cr_assert(f && f->type == MSGPACK_OBJECT_MAP, "firm.get should return a firm map");
    char name[160] = "";
    wfc_get_str(f, "name", name, sizeof name);
    cr_assert_str_eq(name, "绍兴上虞新型墙材有限公司");
    r = req(op, "firm.get", "firm:s", "91330699MA2D999999");
    assert_err(r, "E_NOTFOUND", "firm.get of an unknown firm");
    wfc_destroy(&op);
    /* only the operator registers firms */
    wfc_t *p = client(PRODUCER);
    r = req(p, "firm.put", "firm:s name:s roles:l lat:d lon:d county:i", "91330603MA2D000009", "x", "producer",
            30.0, 120.5, 330603LL);
    assert_err(r, "E_AUTH", "firm.put by a producer");
    wfc_destroy(&p);
}

Test(e2e, offer_then_matching_demand)
{
    register_firms();
    wfc_t *p = client(PRODUCER), *pstream = client(PRODUCER), *c = client(CONSUMER);
    const msgpack_object *r = req(pstream, "hello", NULL);
    assert_ok(r, "hello");
    int64_t seq0 = wfc_get_int(r, "seq", -1);
    cr_assert(seq0 >= 0, "hello should return seq");

    char oid[32], did[32];
    r = offer(p, "SW07", 10000, -5000, oid, sizeof oid);
    cr_assert_eq(wfc_get_int(r, "rest", -1), 10000);
    cr_assert_eq(list_len(r, "matches"), 0);

    r = demand(c, "SW07", 6000, -3000, did, sizeof did);
    cr_assert_eq(wfc_get_int(r, "rest", -1), 0, "the demand should be filled");
    cr_assert_eq(list_len(r, "matches"), 1);
    const msgpack_object *m = list_at(r, "matches", 0);
    char mid[32] = "", mo[32] = "", md[32] = "", code[32] = "", mf[32] = "";
    cr_assert(wfc_get_str(m, "id", mid, sizeof mid) && mid[0] == 'M');
    wfc_get_str(m, "offer", mo, sizeof mo);
    wfc_get_str(m, "demand", md, sizeof md);
    wfc_get_str(m, "code", code, sizeof code);
    cr_assert_str_eq(mo, oid);
    cr_assert_str_eq(md, did);
    cr_assert_str_eq(code, "SW07");
    cr_assert_eq(wfc_get_int(m, "qty", 0), 6000);
    cr_assert_eq(wfc_get_int(m, "price", 0), -5000, "a match is at the resting order's price");
    double km = wfc_get_double(m, "km", -1);
    cr_assert(km > 30 && km < 45, "Keqiao to Shangyu is about 37 km, got %f", km);
    cr_assert(wfc_get(m, "score") && wfc_get(m, "ts") && wfc_get(m, "fee"));
    cr_assert(wfc_get_str(m, "manifest", mf, sizeof mf) && mf[0] == 'F', "a match opens a manifest");

    /* the resting side's private stream gets the match */
    const msgpack_object *s = NULL;
    bool seen = false;
    for (int i = 0; i < 10 && !seen; i++) {
        int rc = wfc_next(pstream, 3000, &s);
        cr_assert_eq(rc, 0, "the producer's stream should receive the match");
        char type[16] = "", sid[32] = "", cp[32] = "", cpn[160] = "";
        wfc_get_str(s, "type", type, sizeof type);
        cr_assert(wfc_get_int(s, "seq", 0) > seq0, "stream seq should grow");
        if (strcmp(type, "match") != 0)
            continue;
        wfc_get_str(s, "id", sid, sizeof sid);
        wfc_get_str(s, "counterparty", cp, sizeof cp);
        wfc_get_str(s, "counterparty_name", cpn, sizeof cpn);
        cr_assert_str_eq(sid, mid);
        cr_assert_str_eq(cp, CONSUMER);
        cr_assert_str_eq(cpn, "绍兴上虞新型墙材有限公司");
        cr_assert(wfc_get(s, "side") != NULL, "a stream match names the side");
        cr_assert_eq(wfc_get_int(s, "qty", 0), 6000);
        seen = true;
    }
    cr_assert(seen);

    /* the offer still rests with 4000 */
    r = req(p, "order.get", "id:s", oid);
    assert_ok(r, "order.get by the owner");
    cr_assert(wfc_get(r, "order") != NULL);
    cr_assert(mine_has(p, oid));

    /* a second demand, with a price below the offer's, does not match */
    r = demand(c, "SW07", 1000, -6000, did, sizeof did);
    cr_assert_eq(list_len(r, "matches"), 0, "demand price below offer price must not match");
    cr_assert_eq(wfc_get_int(r, "rest", -1), 1000);
    wfc_destroy(&p);
    wfc_destroy(&pstream);
    wfc_destroy(&c);
}

Test(e2e, cancel_and_orders_mine)
{
    register_firms();
    wfc_t *p = client(PRODUCER), *c = client(CONSUMER);
    char o1[32], o2[32];
    offer(p, "SW07", 3000, -2000, o1, sizeof o1);
    offer(p, "SW15", 5000, -1000, o2, sizeof o2);
    cr_assert_str_neq(o1, o2);
    cr_assert(mine_has(p, o1) && mine_has(p, o2));
    cr_assert(!mine_has(c, o1), "orders.mine lists only the firm's own orders");

    const msgpack_object *r = req(c, "order.cancel", "id:s", o1);
    char e[32];
    cr_assert(!wfc_get_bool(r, "ok", true), "another firm cannot cancel the order");
    cr_assert_str_eq(err_of(r, e, sizeof e), "E_AUTH");

    r = req(p, "order.cancel", "id:s", o1);
    assert_ok(r, "order.cancel");
    cr_assert_eq(wfc_get_int(r, "rest", -1), 3000);
    cr_assert(!mine_has(p, o1), "a cancelled order is not live");
    cr_assert(mine_has(p, o2));

    r = req(p, "orders.mine", "live_only:b", 0);
    assert_ok(r, "orders.mine live_only=false");
    cr_assert_geq(list_len(r, "orders"), 2, "with live_only false the cancelled order is listed too");

    r = req(p, "order.cancel", "id:s", o1);
    cr_assert(!wfc_get_bool(r, "ok", true), "cancelling twice fails");
    r = req(p, "order.cancel", "id:s", "O999999");
    assert_err(r, "E_NOTFOUND", "cancel of an unknown id");

    /* a cancelled offer does not match */
    char did[32];
    r = demand(c, "SW07", 3000, 0, did, sizeof did);
    cr_assert_eq(list_len(r, "matches"), 0);
    wfc_destroy(&p);
    wfc_destroy(&c);
}

Test(e2e, order_get_by_non_owner)
{
    register_firms();
    wfc_t *p = client(PRODUCER), *p2 = client(PRODUCER2), *op = client(OPERATOR);
    char oid[32];
    offer(p, "SW07", 3000, -2000, oid, sizeof oid);
    const msgpack_object *r = req(p2, "order.get", "id:s", oid);
    assert_err(r, "E_AUTH", "order.get by another firm");
    r = req(op, "order.get", "id:s", oid);
    assert_ok(r, "order.get by the operator");
    r = req(p, "order.get", "id:s", "O424242");
    assert_err(r, "E_NOTFOUND", "order.get of an unknown id");
    /* a firm that does not exist */
    wfc_t *ghost = client("91330699MA2D777777");
    r = req(ghost, "orders.mine", NULL);
    assert_err(r, "E_AUTH", "orders.mine by an unregistered firm");
    /* a producer cannot post demand */
    r = req(p, "demand.post", "codes:l qty:i price:i", "SW07", 100LL, 0LL);
    assert_err(r, "E_AUTH", "demand.post by a producer");
    wfc_destroy(&ghost);
    wfc_destroy(&p);
    wfc_destroy(&p2);
    wfc_destroy(&op);
}

Test(e2e, restart_keeps_the_book)
{
    register_firms();
    wfc_t *p = client(PRODUCER);
    char oid[32], gone[32];
    offer(p, "SW07", 8000, -4000, oid, sizeof oid);
    offer(p, "SW07", 1000, -4000, gone, sizeof gone);
    const msgpack_object *r = req(p, "order.cancel", "id:s", gone);
    assert_ok(r, "order.cancel");
    wfc_destroy(&p);

    int st = daemon_stop();
    cr_assert_eq(st, 0, "wufeid should exit 0 on SIGTERM, got %d", st);
    daemon_start();

    p = client(PRODUCER);
    cr_assert(mine_has(p, oid), "the resting offer survives a restart");
    cr_assert(!mine_has(p, gone), "the cancelled offer stays cancelled");
    wfc_t *c = client(CONSUMER);
    char did[32];
    r = demand(c, "SW07", 5000, -3000, did, sizeof did);
    cr_assert_eq(list_len(r, "matches"), 1, "the resting offer still matches after restart");
    char mo[32] = "";
    wfc_get_str(list_at(r, "matches", 0), "offer", mo, sizeof mo);
    cr_assert_str_eq(mo, oid);
    cr_assert_eq(wfc_get_int(list_at(r, "matches", 0), "qty", 0), 5000);
    /* new ids do not collide with the ones before the restart */
    cr_assert_str_neq(did, oid);
    char o3[32];
    offer(p, "SW15", 100, 0, o3, sizeof o3);
    cr_assert_str_neq(o3, oid);
    cr_assert_str_neq(o3, gone);
    wfc_destroy(&p);
    wfc_destroy(&c);
}

/* Sends a raw frame and expects the error code; then a ping must work. */
static void raw_expect(wfc_t *c, const void *buf, size_t len, const char *code, const char *what)
{
    const msgpack_object *r;
    int rc = wfc_call_raw(c, buf, len, &r);
    cr_assert_eq(rc, 0, "%s: no reply: %s", what, wfc_error(c));
    assert_err(r, code, what);
    ping_ok(c);
}

Test(e2e, bad_input_gets_errors_and_the_daemon_keeps_serving)
{
    register_firms();
    wfc_t *p = client(PRODUCER);
    static const char junk[] = "\xc1 this is not msgpack";
    raw_expect(p, junk, sizeof junk - 1, "E_PARSE", "raw bytes");

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 2);
    wfc_pack_str(&pk, "ping");
    msgpack_pack_int(&pk, 1);
    raw_expect(p, sb.data, sb.size, "E_PARSE", "an array");

    /* trailing bytes after a valid map */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 2);
    wfc_pack_str(&pk, "op");
    wfc_pack_str(&pk, "ping");
    wfc_pack_str(&pk, "rid");
    msgpack_pack_int(&pk, 77);
    msgpack_pack_int(&pk, 5);
    raw_expect(p, sb.data, sb.size, "E_PARSE", "trailing bytes");

    const msgpack_object *r = req(p, "offer.post", "code:s price:i", "SW07", -100LL);
    assert_err(r, "E_FIELD", "offer.post without qty");
    ping_ok(p);
    r = req(p, "offer.post", "code:s qty:s price:i", "SW07", "ten", -100LL);
    assert_err(r, "E_FIELD", "qty as a string");
    ping_ok(p);
    r = req(p, "no.such.op", NULL);
    assert_err(r, "E_OP", "unknown op");
    ping_ok(p);
    r = req(p, "offer.post", "code:s qty:i price:i", "999-999-99", 100LL, -100LL);
    assert_err(r, "E_CODE", "unknown code");
    ping_ok(p);
    r = req(p, "offer.post", "code:s qty:i price:i", "SW07", -5LL, -100LL);
    assert_err(r, "E_FIELD", "negative qty");
    ping_ok(p);
    r = req(p, "offer.post", "code:s qty:i price:i lat:d lon:d", "SW07", 100LL, -100LL, 95.0, 120.0);
    assert_err(r, "E_FIELD", "lat 95");
    ping_ok(p);
    r = req(p, "offer.post", "code:s qty:i price:i lat:d", "SW07", 100LL, -100LL, 30.0);
    assert_err(r, "E_FIELD", "lat without lon");
    ping_ok(p);
    r = req(p, "order.cancel", "id:i", 5LL);
    assert_err(r, "E_FIELD", "id as an integer");
    ping_ok(p);

    /* 100 KiB: over the 64 KiB limit, answered E_LIMIT (rid 0) without
     * reaching the engine (docs/protocol.md, transport details). */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 3);
    wfc_pack_str(&pk, "op");
    wfc_pack_str(&pk, "ping");
    wfc_pack_str(&pk, "rid");
    msgpack_pack_int(&pk, 99);
    wfc_pack_str(&pk, "pad");
    size_t big = 100 * 1024;
    char *pad = calloc(1, big);
    cr_assert_not_null(pad);
    msgpack_pack_bin(&pk, big);
    msgpack_pack_bin_body(&pk, pad, big);
    free(pad);
    wfc_t *b = client(PRODUCER);
    int rc = wfc_call_raw(b, sb.data, sb.size, &r);
    cr_assert_eq(rc, 0, "a 100 KiB request should get a reply: %s", wfc_error(b));
    assert_err(r, "E_LIMIT", "a 100 KiB request");
    ping_ok(b);
    wfc_destroy(&b);
    msgpack_sbuffer_destroy(&sb);
    ping_ok(p);
    wfc_t *fresh = client(NULL);
    ping_ok(fresh);
    wfc_destroy(&fresh);

    /* nothing of the refused posts reached the book */
    r = req(p, "orders.mine", "live_only:b", 0);
    assert_ok(r, "orders.mine");
    cr_assert_eq(list_len(r, "orders"), 0, "a failed request changes nothing");
    wfc_destroy(&p);
}

/* Reads stream messages from c until `want` are in (bounded), checking
 * that their seqs are first, first+1, ... */
static void expect_seqs(wfc_t *c, int64_t first, int64_t last)
{
    for (int64_t want = first; want <= last; want++) {
        const msgpack_object *m;
        int rc = wfc_next(c, 3000, &m);
        cr_assert_eq(rc, 0, "stream message seq %lld should arrive", (long long)want);
        cr_assert_eq(wfc_get_int(m, "seq", -1), want, "stream seqs must be gap-free");
        char type[16] = "";
        cr_assert(wfc_get_str(m, "type", type, sizeof type), "stream messages have a type");
    }
    const msgpack_object *m;
    cr_assert_eq(wfc_next(c, 300, &m), 1, "no message beyond seq %lld", (long long)last);
}

Test(e2e, hello_replay_after_restart_is_gap_free)
{
    register_firms();
    wfc_t *c = client(CONSUMER), *p = client(PRODUCER), *p2 = client(PRODUCER2);
    char did[32], oid[32];
    demand(c, "SW07,SW15", 20000, 0, did, sizeof did);
    int fills = 0;
    for (int i = 0; i < 3; i++) {
        const msgpack_object *r = offer(i % 2 ? p2 : p, i == 1 ? "SW15" : "SW07", 2000 + i, -100, oid, sizeof oid);
        fills += (int)list_len(r, "matches");
    }
    cr_assert_eq(fills, 3);
    wfc_destroy(&c);

    int st = daemon_stop();
    cr_assert_eq(st, 0, "wufeid should exit 0 on SIGTERM, got %d", st);
    daemon_start();

    c = client(CONSUMER);
    const msgpack_object *r = req(c, "hello", "after_seq:i", 0LL);
    assert_ok(r, "hello");
    int64_t last = wfc_get_int(r, "seq", -1);
    cr_assert_geq(last, 3, "three matches mean at least three stream messages");
    expect_seqs(c, 1, last);
    wfc_destroy(&c);

    c = client(CONSUMER);
    r = req(c, "hello", "after_seq:i", 2LL);
    assert_ok(r, "hello after_seq=2");
    cr_assert_eq(wfc_get_int(r, "seq", -1), last);
    expect_seqs(c, 3, last);

    /* live messages continue the sequence */
    wfc_t *p3 = client(PRODUCER);
    offer(p3, "SW07", 500, -100, oid, sizeof oid);
    expect_seqs(c, last + 1, last + 1);
    wfc_destroy(&p3);
    wfc_destroy(&c);
    wfc_destroy(&p);
    wfc_destroy(&p2);
}

/* ---- the CLI ---- */

/* Runs the wufei CLI with args (NULL-terminated), output into out/err
 * (NUL-terminated), bounded to 15 s. Returns its exit status. */
static int run_cli(char *out, size_t outlen, char *err, size_t errlen, ...)
{
    const char *argv[40];
    int n = 0;
    argv[n++] = WUFEI_CLI_PATH;
    va_list ap;
    va_start(ap, errlen);
    for (const char *a; (a = va_arg(ap, const char *)) && n < 39;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    char fo[300], fe[300];
    snprintf(fo, sizeof fo, "%s.out", D.dir);
    snprintf(fe, sizeof fe, "%s.err", D.dir);
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(fo, O_WRONLY | O_CREAT | O_TRUNC, 0644), e = open(fe, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        unsetenv("WUFEI_AS");
        unsetenv("WUFEI_ENDPOINT");
        execv(WUFEI_CLI_PATH, (char *const *)argv);
        _exit(127);
    }
    cr_assert(pid > 0, "fork: %s", strerror(errno));
    int status = 0;
    int64_t deadline = mono_ms() + 15000;
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && mono_ms() < deadline)
        usleep(10000);
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        cr_assert_fail("wufei did not finish within 15 s");
    }
    const char *files[2] = {fo, fe};
    char *bufs[2] = {out, err};
    size_t lens[2] = {outlen, errlen};
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(files[i], "r");
        size_t got = f ? fread(bufs[i], 1, lens[i] - 1, f) : 0;
        bufs[i][got] = '\0';
        if (f)
            fclose(f);
        unlink(files[i]);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Test(e2e, cli)
{
    char out[8192], err[4096];
    int st = run_cli(out, sizeof out, err, sizeof err, "--endpoint", D.cmd_ep, "ping", NULL);
    cr_assert_eq(st, 0, "wufei ping: %s", err);
    cr_assert(strstr(out, "pong"), "ping prints pong: %s", out);

    st = run_cli(out, sizeof out, err, sizeof err, "--endpoint", D.cmd_ep, "--as", OPERATOR, "firm", "add", PRODUCER,
                 "绍兴柯桥宏达印染有限公司", "--roles", "producer", "--lat", "30.08", "--lon", "120.49", "--county",
                 "330603", NULL);
    cr_assert_eq(st, 0, "wufei firm add: %s", err);
    st = run_cli(out, sizeof out, err, sizeof err, "--endpoint", D.cmd_ep, "--as", OPERATOR, "firm", "add", CONSUMER,
                 "绍兴上虞新型墙材有限公司", "--roles", "consumer", "--lat", "30.03", "--lon", "120.87", "--county",
                 "330604", "--base-credit", "90", NULL);
    cr_assert_eq(st, 0, "wufei firm add: %s", err);

    st = run_cli(out, sizeof out, err, sizeof err, "--endpoint", D.cmd_ep, "--as", PRODUCER, "offer", "SW07", "12000",
                 "-5000", NULL);
    cr_assert_eq(st, 0, "wufei offer: %s", err);
    cr_assert(out[0] == 'O' && strstr(out, "resting 12000 kg"), "offer prints its id and rest: %s", out);
    char oid[32];
    cr_assert_eq(sscanf(out, "%31s", oid), 1);

    st = run_cli(out, sizeof out, err, sizeof err, "--endpoint", D.cmd_ep, "--as", CONSUMER, "demand", "SW07,SW15",
                 "20000", "-3000", NULL);
    cr_assert_eq(st, 0, "wufei demand: %s", err);
    cr_assert(out[0] == 'D' && strstr(out, "resting 8000 kg"), "demand prints id and rest: %s", out);
    cr_assert(strstr(out, "\nM") && strstr(out, "12000 kg of SW07 with ") && strstr(out, oid)
                  && strstr(out, "-50.00 CNY/t") && strstr(out, " km, score "),
              "one line per match: %s", out);

    st = run_cli(out, sizeof out, err, sizeof err, "--endpoint", D.cmd_ep, "--as", PRODUCER, "offer", "ZZ-NOT-A-CODE",
                 "10", "0", NULL);
    cr_assert_eq(st, 1, "an error reply exits 1");
    cr_assert(strstr(err, "wufei: E_CODE: "), "the error names its code: %s", err);

    st = run_cli(out, sizeof out, err, sizeof err, "--endpoint", D.cmd_ep, "--as", PRODUCER, "--json", "offer", "SW15",
                 "700", "-100", NULL);
    cr_assert_eq(st, 0, "wufei --json offer: %s", err);
    cr_assert(out[0] == '{' && strstr(out, "\"ok\":true") && strstr(out, "\"id\":\"O")
                  && strstr(out, "\"matches\":[") && strstr(out, "\"rest\":700"),
              "--json prints the reply as JSON: %s", out);
    size_t len = strlen(out);
    cr_assert(len >= 2 && out[len - 2] == '}' && out[len - 1] == '\n');

    st = run_cli(out, sizeof out, err, sizeof err, "--endpoint", D.cmd_ep, "--as", PRODUCER, "orders", NULL);
    cr_assert_eq(st, 0, "wufei orders: %s", err);
    cr_assert(strstr(out, "O"), "orders lists the resting offer: %s", out);

    st = run_cli(out, sizeof out, err, sizeof err, "--endpoint", D.cmd_ep, "--as", PRODUCER, "cancel", oid, NULL);
    cr_assert(st == 1 && strstr(err, "E_"), "cancelling a filled offer fails: %d %s %s", st, out, err);

    st = run_cli(out, sizeof out, err, sizeof err, "--endpoint", D.cmd_ep, "--as", PRODUCER, "offer", "SW07", NULL);
    cr_assert_eq(st, 64, "a usage error exits 64");
    st = run_cli(out, sizeof out, err, sizeof err, "--endpoint", D.cmd_ep, "--bogus", "ping", NULL);
    cr_assert_eq(st, 64, "an unknown option exits 64");

    char dead[64];
    snprintf(dead, sizeof dead, "tcp://127.0.0.1:%d", free_port());
    st = run_cli(out, sizeof out, err, sizeof err, "--endpoint", dead, "--timeout", "300", "ping", NULL);
    cr_assert_eq(st, 2, "no daemon: transport failure exits 2 (%s)", err);
}

/* optimize through wufeid: the reply's shape, operators only, and the
 * CLI's readable plan. SW07 is put in a call auction (long period) so the
 * crossing orders rest for the optimiser to plan. */
Test(e2e, optimize_reply_shape_and_cli)
{
    register_firms();
    wfc_t *op = client(OPERATOR), *p = client(PRODUCER), *p2 = client(PRODUCER2), *c = client(CONSUMER);
    const msgpack_object *r = req(op, "auction.set", "code:s period_ms:i goal:s", "SW07", 3600000LL, "tonne_km");
    assert_ok(r, "auction.set");
    cr_assert_eq(list_len(r, "auctions"), 1);
    char id[32];
    offer(p, "SW07", 12000, -5000, id, sizeof id);
    offer(p2, "SW07", 8000, -4000, id, sizeof id);
    r = demand(c, "SW07", 15000, -3000, id, sizeof id);
    cr_assert_eq(list_len(r, "matches"), 0, "call-auction orders rest");

    r = req(p, "optimize", NULL);
    assert_err(r, "E_AUTH", "optimize by a producer");
    r = req(op, "optimize", "goal:s", "sideways");
    assert_err(r, "E_FIELD", "an unknown goal");

    r = req(op, "optimize", "goal:s codes:l", "tonne_km", "SW07");
    assert_ok(r, "optimize");
    char s[32];
    cr_assert(wfc_get_str(r, "goal", s, sizeof s) && strcmp(s, "tonne_km") == 0);
    cr_assert(!wfc_get_bool(r, "applied", true));
    cr_assert_eq(wfc_get_int(r, "npairs", -1), 2);
    cr_assert_eq(list_len(r, "pairs"), 2);
    const msgpack_object *pr = list_at(r, "pairs", 0);
    cr_assert(wfc_get_str(pr, "offer", s, sizeof s) && s[0] == 'O');
    cr_assert(wfc_get_str(pr, "demand", s, sizeof s) && s[0] == 'D');
    cr_assert(wfc_get_str(pr, "code", s, sizeof s) && strcmp(s, "SW07") == 0);
    cr_assert_gt(wfc_get_int(pr, "qty", 0), 0);
    cr_assert_gt(wfc_get_double(pr, "km", 0), 1.0);
    cr_assert(wfc_get(pr, "score") && wfc_get(pr, "match") && wfc_get(pr, "match")->type == MSGPACK_OBJECT_NIL);
    cr_assert_eq(wfc_get_int(r, "qty", 0), 15000);
    double tkm = wfc_get_double(r, "tonne_km", 0);
    cr_assert_gt(tkm, 0);
    cr_assert(fabs(wfc_get_double(r, "co2_kg", 0) - 0.1 * tkm) < 1e-6, "co2_per_tkm defaults to 0.1");
    const msgpack_object *cont = wfc_get(r, "continuous");
    cr_assert(cont && cont->type == MSGPACK_OBJECT_MAP);
    cr_assert_eq(wfc_get_int(cont, "qty", 0), 15000, "continuous matching would move it all too");
    cr_assert(wfc_get(r, "equal") && wfc_get(r, "equal")->type == MSGPACK_OBJECT_MAP);
    cr_assert(wfc_get(r, "gap_pct"));
    cr_assert_eq(wfc_get_int(r, "offers", 0), 2);
    cr_assert_eq(wfc_get_int(r, "demands", 0), 1);
    cr_assert(!wfc_get_bool(r, "bounded", true));
    cr_assert(wfc_get_str(r, "bound", s, sizeof s) && s[0] == 0);

    r = req(op, "config.set", "co2_per_tkm:d", 0.2);
    assert_ok(r, "config.set co2_per_tkm");
    r = req(op, "optimize", "goal:s", "tonne_km");
    assert_ok(r, "optimize");
    cr_assert(fabs(wfc_get_double(r, "co2_kg", 0) - 0.2 * tkm) < 1e-6, "co2_per_tkm is the setting");

    char out[8192], err[4096];
    int st = run_cli(out, sizeof out, err, sizeof err, "--endpoint", D.cmd_ep, "--as", OPERATOR, "optimize",
                     "--goal", "tonne_km", NULL);
    cr_assert_eq(st, 0, "wufei optimize: %s", err);
    cr_assert(strstr(out, "optimal plan (goal tonne_km) over 2 offers and 1 demands: 2 pairs") &&
                  strstr(out, "continuous") && strstr(out, "kg CO2e") && strstr(out, " -> D"),
              "a readable plan: %s", out);
    st = run_cli(out, sizeof out, err, sizeof err, "--endpoint", D.cmd_ep, "--as", OPERATOR, "auction", "del",
                 "SW07", NULL);
    cr_assert_eq(st, 0, "wufei auction del: %s", err);
    cr_assert(strstr(out, "0 call auctions"), "%s", out);
    wfc_destroy(&op);
    wfc_destroy(&p);
    wfc_destroy(&p2);
    wfc_destroy(&c);
}

/* ---- the demo ---- */

/* wufei-demo plays the shipped day against its own daemon: exit 0, the
 * three scripted refusals, its licences, matches, and the watched firm's
 * stream. */
Test(demo, shaoxing_day_plays_cleanly, .timeout = 120)
{
    char demo[600];
    snprintf(demo, sizeof demo, "%s", WUFEI_CLI_PATH);
    char *slash = strrchr(demo, '/');
    cr_assert_not_null(slash);
    snprintf(slash + 1, sizeof demo - (size_t)(slash + 1 - demo), "wufei-demo");
    if (access(demo, X_OK) != 0)
        cr_skip_test("%s is not built", demo);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "'%s' --wufeid '%s' --script '%s/demo/shaoxing.day' 2>&1", demo, WUFEID_PATH,
             WUFEI_SOURCE_DIR);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    static char out[1 << 17];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "wufei-demo failed (status %d):\n%s", st, out);
    cr_assert(strstr(out, "== end of day =="), "the demo prints a summary");
    int refused = 0;
    for (const char *q = out; (q = strstr(q, "REFUSED as expected")); q++)
        refused++;
    cr_assert_eq(refused, 3, "the script has three refusals");
    cr_assert(strstr(out, "REFUSED as expected: E_LICENCE"), "an unlicensed hazardous demand is refused");
    cr_assert(strstr(out, "and 7 of 7 hazardous-waste licences"), "every licence is registered");
    cr_assert(strstr(out, "tier A): ") && strstr(out, "tier B): ") && strstr(out, "tier C): ") &&
                  strstr(out, "tier A): ") < strstr(out, "tier B): ") &&
                  strstr(out, "tier B): ") < strstr(out, "tier C): "),
              "the evening offer is pushed to tiers A, B and C in that order");
    int matches = 0;
    const char *sum = strstr(out, "matches ");
    cr_assert(sum && sscanf(sum, "matches %d", &matches) == 1 && matches >= 20, "most offers find a match");
    cr_assert(strstr(out, "stream → "), "the watched firm's stream receives its matches");
    cr_assert(!strstr(out, "UNEXPECTED"), "no unexpected error");
    static const char *const states[] = {"OPEN", "DISPATCHED", "LOADED", "UNLOADED", "CLOSED", "CANCELLED"};
    const char *ms = strstr(out, "manifests: ");
    cr_assert_not_null(ms, "the summary counts manifests");
    for (size_t i = 0; i < 6; i++) {
        char want[32];
        snprintf(want, sizeof want, " %s ", states[i]);
        const char *at = strstr(ms, want);
        int count = 0;
        cr_assert(at && sscanf(at + strlen(want), "%d", &count) == 1 && count >= 1,
                  "the day ends with a manifest %s", states[i]);
    }
    cr_assert(strstr(out, "QUANTITY DISCREPANCY"), "one load is weighed short");
    int tokens = 0, verified = 0;
    cr_assert(sscanf(strstr(ms, ";"), "; %d tokens, %d verified", &tokens, &verified) == 2);
    cr_assert(tokens > 10 && verified == tokens, "every token verifies (%d of %d)", verified, tokens);
    cr_assert(strstr(out, "fails verification, as it must"), "an altered token fails");
}
