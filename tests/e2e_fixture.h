/* The end-to-end fixture: a fresh wufeid --insecure per test on free
 * loopback ports and a temporary database directory, stopped with SIGTERM
 * (which must end it with status 0), and a small request builder over the
 * client library. Every wait is bounded. Included by end-to-end test files
 * (each is its own executable); tests/test_e2e.c keeps its own copy. */
#ifndef WF_E2E_FIXTURE_H
#define WF_E2E_FIXTURE_H

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
    const char *extra[8]; /* more wufeid options for the next daemon_start, NULL-terminated */
} D;

static __attribute__((unused)) int free_port(void)
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

static __attribute__((unused)) int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static __attribute__((unused)) wfc_t *client(const char *as)
{
    wfc_opts_t o = {.endpoint = D.cmd_ep, .as = as, .timeout_ms = TIMEOUT_MS};
    wfc_t *c = wfc_new(&o);
    cr_assert_not_null(c, "wfc_new(%s)", D.cmd_ep);
    return c;
}

/* Starts wufeid on D.dir with fresh ports and waits (at most 20 s) until it
 * answers ping. */
static __attribute__((unused)) void daemon_start(void)
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
        const char *argv[20] = {WUFEID_PATH, "--db", D.dir, "--command", D.cmd_ep, "--feed",
                                D.feed_ep, "--insecure", "--quiet"};
        for (int i = 0, n = 9; i < 7 && D.extra[i]; i++)
            argv[n++] = D.extra[i];
        execv(WUFEID_PATH, (char *const *)argv);
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
static __attribute__((unused)) int daemon_stop(void)
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

static __attribute__((unused)) int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static __attribute__((unused)) void setup(void)
{
    snprintf(D.dir, sizeof D.dir, "/tmp/wufei-e2e-XXXXXX");
    cr_assert_not_null(mkdtemp(D.dir));
    D.pid = -1;
    daemon_start();
}

static __attribute__((unused)) void teardown(void)
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
static __attribute__((unused)) const msgpack_object *req(wfc_t *c, const char *op, const char *fmt, ...)
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

static __attribute__((unused)) const char *err_of(const msgpack_object *reply, char *buf, size_t len)
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

#endif
