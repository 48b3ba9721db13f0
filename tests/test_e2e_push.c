/* End-to-end tests of credit-weighted push through real connections: a
 * wufeid --insecure on free loopback ports, subscribers in tiers A, B, C
 * and D and a blacklisted one, each watching its private stream on its own
 * connection. They must see a new offer's notification in tier order and
 * no earlier than their delays (lower bounds strict, upper bounds loose
 * for scheduling slack); D and the blacklisted see nothing; a pending push
 * survives a daemon restart, and the replay after it is gap-free. The
 * daemon fixture is the one of test_e2e.c. */
#define _GNU_SOURCE /* nftw */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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

#define SUB_A "91330604MA2D0000A1"
#define SUB_B "91330604MA2D0000B1"
#define SUB_C "91330604MA2D0000C1"
#define SUB_D "91330604MA2D0000D1"
#define SUB_X "91330604MA2D0000X1"

TestSuite(push, .init = setup, .fini = teardown, .timeout = 60);

static void put_firm(wfc_t *op, const char *id, const char *roles, double lat, double lon, long long credit)
{
    const msgpack_object *r = req(op, "firm.put", "firm:s name:s roles:l lat:d lon:d county:i base_credit:i", id,
                                  id, roles, lat, lon, 330603LL, credit);
    assert_ok(r, "firm.put");
}

/* Delays, a producer and five subscribers a few km away, each with an
 * offers subscription to SW07; X is blacklisted. */
static void market(long long delay_b, long long delay_c)
{
    wfc_t *op = client(OPERATOR);
    assert_ok(req(op, "config.set", "push_delay_b:i push_delay_c:i", delay_b, delay_c), "config.set");
    put_firm(op, PRODUCER, "producer", 30.08, 120.49, 80);
    put_firm(op, SUB_A, "consumer", 30.07, 120.50, 95);
    put_firm(op, SUB_B, "consumer", 30.06, 120.50, 80);
    put_firm(op, SUB_C, "consumer", 30.05, 120.50, 65);
    put_firm(op, SUB_D, "consumer", 30.04, 120.50, 50);
    put_firm(op, SUB_X, "consumer", 30.07, 120.51, 95);
    const char *subs[] = {SUB_A, SUB_B, SUB_C, SUB_D, SUB_X};
    for (int i = 0; i < 5; i++) {
        wfc_t *c = client(subs[i]);
        const msgpack_object *r = req(c, "sub.put", "side:s codes:l radius_km:d", "offers", "SW07", 30.0);
        assert_ok(r, "sub.put");
        char id[32];
        cr_assert(wfc_get_str(r, "id", id, sizeof id) && id[0] == 'S');
        wfc_destroy(&c);
    }
    assert_ok(req(op, "firm.block", "firm:s note:s", SUB_X, "失信名单"), "firm.block");
    wfc_destroy(&op);
}

static wfc_t *watcher(const char *firm, long long after)
{
    wfc_t *c = client(firm);
    assert_ok(req(c, "hello", "after_seq:i", after), "hello");
    return c;
}

/* Waits for the next stream message of type want; returns its seq and
 * sets *at to the monotonic arrival time, or returns -1 on timeout. */
static long long next_of(wfc_t *c, const char *want, int timeout_ms, int64_t *at, char *order, size_t olen)
{
    int64_t deadline = mono_ms() + timeout_ms;
    while (mono_ms() < deadline) {
        const msgpack_object *m;
        int rc = wfc_next(c, (int)(deadline - mono_ms()), &m);
        if (rc != 0)
            return -1;
        char type[32] = "";
        wfc_get_str(m, "type", type, sizeof type);
        if (strcmp(type, want) != 0)
            continue;
        *at = mono_ms();
        const msgpack_object *o = wfc_get(m, "order");
        if (order && o)
            wfc_get_str(o, "id", order, olen);
        return wfc_get_int(m, "seq", -1);
    }
    return -1;
}

Test(push, tiers_see_the_notification_in_order_and_not_before_their_delay)
{
    enum { DB = 300, DC = 900 };
    market(DB, DC);
    wfc_t *a = watcher(SUB_A, 0), *b = watcher(SUB_B, 0), *c = watcher(SUB_C, 0);
    wfc_t *d = watcher(SUB_D, 0), *x = watcher(SUB_X, 0);
    wfc_t *p = client(PRODUCER);
    int64_t t0 = mono_ms();
    char oid[32];
    const msgpack_object *r = req(p, "offer.post", "code:s qty:i price:i", "SW07", 12000LL, -5000LL);
    assert_ok(r, "offer.post");
    cr_assert(wfc_get_str(r, "id", oid, sizeof oid));
    int64_t ta, tb, tc, tmp;
    char seen[32] = "";
    cr_assert_eq(next_of(a, "notify", 3000, &ta, seen, sizeof seen), 1, "A is told");
    cr_assert_str_eq(seen, oid);
    cr_assert_eq(next_of(b, "notify", 5000, &tb, NULL, 0), 1, "B is told");
    cr_assert_eq(next_of(c, "notify", 5000, &tc, NULL, 0), 1, "C is told");
    cr_log_info("arrivals after the post: A %lld ms, B %lld ms, C %lld ms", (long long)(ta - t0),
                (long long)(tb - t0), (long long)(tc - t0));
    cr_assert_lt(ta - t0, DB, "A is told at once (%lld ms)", (long long)(ta - t0));
    cr_assert_geq(tb - t0, DB - 1, "B not before push_delay_b (%lld ms)", (long long)(tb - t0));
    cr_assert_geq(tc - t0, DC - 1, "C not before push_delay_c (%lld ms)", (long long)(tc - t0));
    cr_assert_lt(tb - t0, DB + 3000, "B within a loose bound");
    cr_assert_lt(tc - t0, DC + 3000, "C within a loose bound");
    cr_assert(ta <= tb && tb <= tc, "A, then B, then C");
    cr_assert_eq(next_of(d, "notify", 400, &tmp, NULL, 0), -1, "D is never told");
    cr_assert_eq(next_of(x, "notify", 100, &tmp, NULL, 0), -1, "the blacklisted is never told");
    wfc_destroy(&a);
    wfc_destroy(&b);
    wfc_destroy(&c);
    wfc_destroy(&d);
    wfc_destroy(&x);
    wfc_destroy(&p);
}

Test(push, pending_push_survives_restart_and_replay_is_gap_free)
{
    enum { DB = 1500 };
    market(DB, 4000);
    wfc_t *p = client(PRODUCER);
    int64_t t0 = mono_ms();
    char oid[32];
    const msgpack_object *r = req(p, "offer.post", "code:s qty:i price:i", "SW07", 12000LL, -5000LL);
    assert_ok(r, "offer.post");
    cr_assert(wfc_get_str(r, "id", oid, sizeof oid));
    wfc_destroy(&p);
    cr_assert_eq(daemon_stop(), 0, "wufeid stops cleanly with a push pending");
    cr_assert_lt(mono_ms() - t0, DB, "stopped before B's turn (the test machine is too slow otherwise)");
    daemon_start();

    wfc_t *b = watcher(SUB_B, 0);
    int64_t tb;
    char seen[32] = "";
    cr_assert_eq(next_of(b, "notify", 6000, &tb, seen, sizeof seen), 1, "B is told after the restart");
    cr_assert_str_eq(seen, oid);
    cr_assert_geq(tb - t0, DB - 1, "and not before its delay");
    wfc_destroy(&b);

    /* A was told before the restart; a second offer after it; a fresh
     * connection's replay from 0 has both, seq 1 and 2, in order */
    p = client(PRODUCER);
    char oid2[32];
    r = req(p, "offer.post", "code:s qty:i price:i", "SW07", 3000LL, -4000LL);
    assert_ok(r, "offer.post");
    cr_assert(wfc_get_str(r, "id", oid2, sizeof oid2));
    wfc_destroy(&p);
    wfc_t *a = client(SUB_A);
    r = req(a, "hello", "after_seq:i", 0LL);
    assert_ok(r, "hello");
    cr_assert_eq(wfc_get_int(r, "seq", 0), 2);
    int64_t t;
    char s1[32] = "", s2[32] = "";
    cr_assert_eq(next_of(a, "notify", 3000, &t, s1, sizeof s1), 1);
    cr_assert_eq(next_of(a, "notify", 3000, &t, s2, sizeof s2), 2);
    cr_assert_str_eq(s1, oid);
    cr_assert_str_eq(s2, oid2);
    wfc_destroy(&a);
}

Test(push, credit_messages_reach_the_firm)
{
    market(500, 2000);
    wfc_t *c = watcher(SUB_B, 0);
    wfc_t *op = client(OPERATOR);
    const msgpack_object *r = req(op, "credit.event", "firm:s kind:s points:i note:s", SUB_B, "penalty", -20LL,
                                  "超标排放");
    assert_ok(r, "credit.event");
    cr_assert_eq(wfc_get_int(r, "score", 0), 60);
    int64_t t;
    cr_assert_eq(next_of(c, "credit", 3000, &t, NULL, 0), 1);
    r = req(op, "firm.get", "firm:s", SUB_B);
    assert_ok(r, "firm.get");
    const msgpack_object *f = wfc_get(r, "firm");
    cr_assert_eq(wfc_get_int(f, "score", 0), 60);
    const msgpack_object *ev = wfc_get(f, "events");
    cr_assert_not_null(ev);
    cr_assert_eq(wfc_get_int(wfc_get(ev, "penalty"), "sum", 0), -20);
    wfc_destroy(&op);
    wfc_destroy(&c);
}
