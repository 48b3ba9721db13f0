/* End-to-end manifests through wufeid: a match, then dispatch, load,
 * weigh-in and close over the wire, each party (and the carrier) receiving
 * a `manifest` stream message with the signed token of each state, tokens
 * that verify with engine.key and with `wufei verify --db`, a journal that
 * `wufei audit` and `wufei replay-check` accept while the daemon runs, and
 * a changed token that `wufei verify` refuses with exit status 1. The
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

#include <sodium.h>

#include "clients/wfclient.h"
#include "core/wf_error.h"
#include "engine/token.h"

#define OPERATOR "000000000000000000"
#define PRODUCER "91330603MA2D000001"
#define CONSUMER "91330604MA2D000002"
#define CARRIER "91330602MA2D000801"
#define OTHER "91330603MA2D000003"
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


static void put_firm(wfc_t *op, const char *id, const char *name, const char *roles, double lat, double lon,
                     long long county)
{
    const msgpack_object *r = req(op, "firm.put", "firm:s name:s roles:l lat:d lon:d county:i base_credit:i", id,
                                  name, roles, lat, lon, county, 85LL);
    assert_ok(r, "firm.put");
}

/* Waits (bounded) for the next manifest message on c's stream; copies its
 * state and token. */
static void next_manifest(wfc_t *c, const char *who, const char *want_state, char *token, size_t len)
{
    int64_t deadline = mono_ms() + TIMEOUT_MS;
    while (mono_ms() < deadline) {
        const msgpack_object *m;
        int rc = wfc_next(c, 200, &m);
        cr_assert_geq(rc, 0, "%s: stream: %s", who, wfc_error(c));
        if (rc == 1)
            continue;
        char type[32] = "", state[32] = "";
        wfc_get_str(m, "type", type, sizeof type);
        if (strcmp(type, "manifest") != 0)
            continue; /* the match message comes first */
        wfc_get_str(m, "state", state, sizeof state);
        cr_assert_str_eq(state, want_state, "%s got %s, want %s", who, state, want_state);
        char id[32] = "";
        wfc_get_str(m, "id", id, sizeof id);
        cr_assert_str_eq(id, "F1");
        cr_assert(wfc_get_str(m, "token", token, len), "%s: the message carries a token", who);
        return;
    }
    cr_assert_fail("%s: no %s manifest message within %d ms", who, want_state, TIMEOUT_MS);
}

TestSuite(e2e_manifest, .init = setup, .fini = teardown, .timeout = 120);

Test(e2e_manifest, parties_receive_every_state_and_the_history_checks_out)
{
    wfc_t *op = client(OPERATOR);
    put_firm(op, PRODUCER, "绍兴柯桥宏达印染有限公司", "producer", 30.08, 120.49, 330603);
    put_firm(op, CONSUMER, "绍兴上虞新型墙材有限公司", "consumer", 30.03, 120.87, 330604);
    put_firm(op, CARRIER, "绍兴越城安达危险货物运输有限公司", "carrier", 30.02, 120.60, 330602);
    put_firm(op, OTHER, "绍兴柯桥锦纶印染有限公司", "producer", 30.09, 120.47, 330603);
    wfc_t *p = client(PRODUCER), *c = client(CONSUMER), *k = client(CARRIER), *x = client(OTHER);
    wfc_t *ps = client(PRODUCER), *cs = client(CONSUMER), *ks = client(CARRIER);
    assert_ok(req(ps, "hello", NULL), "hello producer");
    assert_ok(req(cs, "hello", NULL), "hello consumer");
    assert_ok(req(ks, "hello", NULL), "hello carrier");

    assert_ok(req(c, "demand.post", "codes:l qty:i price:i", "SW07", 20000LL, -3000LL), "demand");
    const msgpack_object *r = req(p, "offer.post", "code:s qty:i price:i", "SW07", 12000LL, -5000LL);
    assert_ok(r, "offer");
    const msgpack_object *mt = wfc_get(r, "matches");
    cr_assert(mt && mt->type == MSGPACK_OBJECT_ARRAY && mt->via.array.size == 1);
    char mid[32] = "";
    wfc_get_str(&mt->via.array.ptr[0], "manifest", mid, sizeof mid);
    cr_assert_str_eq(mid, "F1");

    r = req(c, "engine.key", NULL);
    assert_ok(r, "engine.key");
    const msgpack_object *kb = wfc_get(r, "key");
    cr_assert(kb && kb->type == MSGPACK_OBJECT_BIN && kb->via.bin.size == 32);
    uint8_t key[32];
    memcpy(key, kb->via.bin.ptr, 32);

    r = req(p, "manifest.get", "id:s", "F1");
    assert_ok(r, "manifest.get");
    char tok[WF_TOKEN_MAX], state[32];
    wf_token_t t;
    const msgpack_object *m = wfc_get(r, "manifest");
    cr_assert(wfc_get_str(m, "state", state, sizeof state) && strcmp(state, "OPEN") == 0);
    cr_assert(wfc_get_str(m, "token", tok, sizeof tok));
    cr_assert_eq(wf_token_check(key, tok, &t), WF_OK, "the OPEN token verifies");

    /* the wrong actors and the wrong order */
    assert_err(req(c, "manifest.load", "id:s qty:i", "F1", 12000LL), "E_AUTH", "consumer loads");
    assert_err(req(x, "manifest.get", "id:s", "F1"), "E_AUTH", "another producer reads");
    assert_err(req(p, "manifest.load", "id:s qty:i", "F1", 12000LL), "E_STATE", "load before dispatch");
    assert_err(req(p, "manifest.dispatch", "id:s carrier:s vehicle:s", "F9", CARRIER, "浙D1"), "E_NOTFOUND",
               "no such manifest");

    static const struct {
        const char *state;
        int who; /* 0 producer, 1 consumer, 2 carrier */
    } steps[] = {{"DISPATCHED", 2}, {"LOADED", 0}, {"UNLOADED", 1}, {"CLOSED", 1}};
    for (size_t i = 0; i < 4; i++) {
        wfc_t *actor = steps[i].who == 0 ? p : steps[i].who == 1 ? c : k;
        switch (i) {
        case 0: r = req(actor, "manifest.dispatch", "id:s carrier:s vehicle:s", "F1", CARRIER, "浙D·12345"); break;
        case 1: r = req(actor, "manifest.load", "id:s qty:i", "F1", 12000LL); break;
        case 2: r = req(actor, "manifest.unload", "id:s qty:i", "F1", 11000LL); break;
        default: r = req(actor, "manifest.close", "id:s", "F1"); break;
        }
        assert_ok(r, steps[i].state);
        cr_assert(wfc_get_str(r, "token", tok, sizeof tok), "%s: reply token", steps[i].state);
        cr_assert_eq(wf_token_check(key, tok, &t), WF_OK);
        cr_assert_str_eq(t.s, steps[i].state);
        if (i == 2)
            cr_assert(wfc_get_bool(r, "discrepancy", false), "1000 kg of 12000 is beyond 5%%");
        char got[WF_TOKEN_MAX];
        next_manifest(ps, "producer", steps[i].state, got, sizeof got);
        cr_assert_str_eq(got, tok, "the producer's stream carries the reply's token");
        next_manifest(cs, "consumer", steps[i].state, got, sizeof got);
        cr_assert_str_eq(got, tok);
        next_manifest(ks, "carrier", steps[i].state, got, sizeof got);
        cr_assert_str_eq(got, tok);
    }
    r = req(op, "journal.head", NULL);
    assert_ok(r, "journal.head");
    const msgpack_object *hh = wfc_get(r, "hash"), *hs = wfc_get(r, "sig");
    cr_assert(hh && hh->type == MSGPACK_OBJECT_BIN && hh->via.bin.size == 32);
    cr_assert(hs && hs->type == MSGPACK_OBJECT_BIN && hs->via.bin.size == 64);
    uint64_t seq = (uint64_t)wfc_get_int(r, "seq", 0);
    uint8_t msg[40];
    for (int i = 0; i < 8; i++)
        msg[i] = (uint8_t)(seq >> (56 - 8 * i));
    memcpy(msg + 8, hh->via.bin.ptr, 32);
    cr_assert_eq(crypto_sign_verify_detached((const uint8_t *)hs->via.bin.ptr, msg, 40, key), 0,
                 "journal.head is signed with engine.key");

    /* the CLI, offline, while the daemon runs */
    char out[8192], err[2048];
    int st = run_cli(out, sizeof out, err, sizeof err, "verify", tok, "--db", D.dir, NULL);
    cr_assert_eq(st, 0, "verify: %s%s", out, err);
    cr_assert(strstr(out, "VALID") && strstr(out, "CLOSED") && strstr(out, "11000"), "%s", out);
    char bad[WF_TOKEN_MAX];
    snprintf(bad, sizeof bad, "%s", tok);
    bad[10] = bad[10] == 'A' ? 'B' : 'A';
    st = run_cli(out, sizeof out, err, sizeof err, "verify", bad, "--db", D.dir, NULL);
    cr_assert_eq(st, 1, "a changed token fails: %s%s", out, err);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, key, 32);
    st = run_cli(out, sizeof out, err, sizeof err, "verify", tok, "--key", hex, NULL);
    cr_assert_eq(st, 0, "verify --key: %s%s", out, err);
    st = run_cli(out, sizeof out, err, sizeof err, "audit", "--db", D.dir, NULL);
    cr_assert_eq(st, 0, "audit: %s%s", out, err);
    cr_assert(strstr(out, "audit ok"), "%s", out);
    st = run_cli(out, sizeof out, err, sizeof err, "replay-check", "--db", D.dir, NULL);
    cr_assert_eq(st, 0, "replay-check: %s%s", out, err);
    cr_assert(strstr(out, "replay ok"), "%s", out);
    char png[300];
    snprintf(png, sizeof png, "%s.png", D.dir);
    st = run_cli(out, sizeof out, err, sizeof err, "qr", tok, "--png", png, NULL);
    cr_assert_eq(st, 0, "qr: %s%s", out, err);
    FILE *f = fopen(png, "rb");
    cr_assert_not_null(f);
    unsigned char sig[8];
    cr_assert_eq(fread(sig, 1, 8, f), 8);
    fclose(f);
    unlink(png);
    cr_assert_eq(memcmp(sig, "\x89PNG\r\n\x1a\n", 8), 0, "a PNG file");
    st = run_cli(out, sizeof out, err, sizeof err, "--endpoint", D.cmd_ep, "--as", CONSUMER, "manifest", "F1", NULL);
    cr_assert_eq(st, 0, "manifest: %s%s", out, err);
    cr_assert(strstr(out, "state: CLOSED") && strstr(out, "discrepancy: true"), "%s", out);

    wfc_destroy(&p), wfc_destroy(&c), wfc_destroy(&k), wfc_destroy(&x);
    wfc_destroy(&ps), wfc_destroy(&cs), wfc_destroy(&ks), wfc_destroy(&op);
}
