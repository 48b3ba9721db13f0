/* A wufeid under test, for the end-to-end test files that need more than
 * test_e2e.c's one insecure daemon: secure mode (CURVE keys read from the
 * database directory as an operator would), extra command-line options,
 * kill -9 and restarts on the same ports, starts that must fail. stdout
 * goes to <dir>.out and stderr to <dir>.log, beside the database. Each
 * wait is bounded; no Criterion assertion runs in a forked child. Also the
 * request helpers (req, assert_ok, assert_err) every such file uses. */
#ifndef WF_E2E_DAEMON_H
#define WF_E2E_DAEMON_H

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
#define DMN_ARGS_MAX 24

typedef struct dmn {
    char dir[256];
    char log[300], out[300];
    char cmd_ep[64], feed_ep[64];
    pid_t pid;
    bool insecure;
    char server_pub[41]; /* secure mode, read from dir once up */
    char op_sec[41];
    const char *extra[DMN_ARGS_MAX]; /* more options for wufeid, NULL-terminated */
} dmn_t;

static __attribute__((unused)) int64_t
dmn_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
dmn_free_port(void)
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

/* A fresh database directory and two free loopback ports. */
static __attribute__((unused)) void
dmn_init(dmn_t *d, bool insecure)
{
    memset(d, 0, sizeof *d);
    snprintf(d->dir, sizeof d->dir, "/tmp/wufei-e2e-XXXXXX");
    cr_assert_not_null(mkdtemp(d->dir));
    snprintf(d->log, sizeof d->log, "%s.log", d->dir);
    snprintf(d->out, sizeof d->out, "%s.out", d->dir);
    d->pid = -1;
    d->insecure = insecure;
    int p1 = dmn_free_port(), p2;
    do
        p2 = dmn_free_port();
    while (p2 == p1);
    snprintf(d->cmd_ep, sizeof d->cmd_ep, "tcp://127.0.0.1:%d", p1);
    snprintf(d->feed_ep, sizeof d->feed_ep, "tcp://127.0.0.1:%d", p2);
}

/* Forks wufeid --db dir --command --feed [--insecure] extra... */
static __attribute__((unused)) void
dmn_spawn(dmn_t *d)
{
    const char *argv[DMN_ARGS_MAX + 12];
    int n = 0;
    argv[n++] = WUFEID_PATH;
    argv[n++] = "--db";
    argv[n++] = d->dir;
    argv[n++] = "--command";
    argv[n++] = d->cmd_ep;
    argv[n++] = "--feed";
    argv[n++] = d->feed_ep;
    if (d->insecure)
        argv[n++] = "--insecure";
    for (int i = 0; i < DMN_ARGS_MAX && d->extra[i]; i++)
        argv[n++] = d->extra[i];
    argv[n] = NULL;
    fflush(NULL);
    d->pid = fork();
    if (d->pid == 0) {
        int o = open(d->out, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int e = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (o >= 0)
            dup2(o, 1);
        if (e >= 0)
            dup2(e, 2);
        execv(WUFEID_PATH, (char *const *)argv);
        _exit(127);
    }
    cr_assert(d->pid > 0, "fork: %s", strerror(errno));
}

/* A client acting as the operator: the operator key in secure mode, the
 * field `as` in insecure mode. */
static __attribute__((unused)) wfc_t *
dmn_client_keys(const dmn_t *d, const char *as, const char *secret, int timeout_ms)
{
    wfc_opts_t o = {.endpoint = d->cmd_ep, .timeout_ms = timeout_ms};
    if (d->insecure) {
        o.as = as;
    } else {
        o.server_key = d->server_pub;
        o.secret_key = secret;
    }
    wfc_t *c = wfc_new(&o);
    cr_assert_not_null(c, "wfc_new(%s)", d->cmd_ep);
    return c;
}

static __attribute__((unused)) wfc_t *
dmn_operator(const dmn_t *d)
{
    return dmn_client_keys(d, OPERATOR, d->op_sec, 5000);
}

/* Spawns and waits (at most 20 s) until the daemon answers the operator's
 * ping. Returns false when the daemon exited first (*status gets its exit
 * status) or never answered. */
static __attribute__((unused)) bool
dmn_try_start(dmn_t *d, int *status)
{
    dmn_spawn(d);
    int64_t deadline = dmn_ms() + 20000;
    wfc_t *c = NULL;
    bool up = false;
    while (!up && dmn_ms() < deadline) {
        int st;
        if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
            d->pid = -1;
            if (status)
                *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            wfc_destroy(&c);
            return false;
        }
        if (!c && !d->insecure) {
            char p[300], err[256];
            snprintf(p, sizeof p, "%s/server.pub", d->dir);
            if (wfc_key_read(p, d->server_pub, err, sizeof err) != 0) {
                usleep(20000);
                continue;
            }
            snprintf(p, sizeof p, "%s/operator.key", d->dir);
            if (wfc_key_read(p, d->op_sec, err, sizeof err) != 0) {
                usleep(20000);
                continue;
            }
        }
        if (!c) {
            wfc_opts_t o = {.endpoint = d->cmd_ep, .timeout_ms = 250, .as = OPERATOR};
            if (!d->insecure) {
                o.as = NULL;
                o.server_key = d->server_pub;
                o.secret_key = d->op_sec;
            }
            c = wfc_new(&o); /* NULL for an endpoint a client cannot name: wait for the exit */
            if (!c) {
                usleep(20000);
                continue;
            }
        }
        const msgpack_object *reply;
        wfc_begin(c, "ping", 0);
        up = wfc_call(c, &reply) == 0 && wfc_get_bool(reply, "ok", false);
        if (!up && !d->insecure)
            wfc_destroy(&c); /* the key files may have been read before the daemon replaced them */
    }
    wfc_destroy(&c);
    return up;
}

static __attribute__((unused)) void
dmn_start(dmn_t *d)
{
    int st = -1;
    bool up = dmn_try_start(d, &st);
    cr_assert(up, "wufeid did not come up on %s (exit status %d), see %s", d->cmd_ep, st, d->log);
}

/* SIGTERM, then waits at most 15 s; returns the exit status (-1 when it had
 * to be killed). */
static __attribute__((unused)) int
dmn_stop(dmn_t *d)
{
    if (d->pid <= 0)
        return 0;
    kill(d->pid, SIGTERM);
    int status = 0;
    int64_t deadline = dmn_ms() + 15000;
    while (dmn_ms() < deadline) {
        if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
            d->pid = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        usleep(10000);
    }
    kill(d->pid, SIGKILL);
    waitpid(d->pid, &status, 0);
    d->pid = -1;
    return -1;
}

static __attribute__((unused)) void
dmn_kill9(dmn_t *d)
{
    if (d->pid <= 0)
        return;
    kill(d->pid, SIGKILL);
    int status;
    waitpid(d->pid, &status, 0);
    d->pid = -1;
}

/* Waits at most ms for the daemon to exit by itself; its status, or -1. */
static __attribute__((unused)) int
dmn_wait_exit(dmn_t *d, int ms)
{
    int64_t deadline = dmn_ms() + ms;
    int status;
    while (dmn_ms() < deadline) {
        if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
            d->pid = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        usleep(10000);
    }
    return -1;
}

static int
dmn_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Stops the daemon (expecting exit 0 when it runs) and removes its files. */
static __attribute__((unused)) void
dmn_fini(dmn_t *d)
{
    int st = dmn_stop(d);
    cr_expect_eq(st, 0, "wufeid exited with status %d after SIGTERM, see %s", st, d->log);
    nftw(d->dir, dmn_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    unlink(d->log);
    unlink(d->out);
}

/* The whole of a small file (at most len - 1 bytes), NUL-terminated. */
static __attribute__((unused)) char *
dmn_slurp(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return buf;
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Waits at most ms until the log holds needle. */
static __attribute__((unused)) bool
dmn_log_has(const dmn_t *d, const char *needle, int ms)
{
    static char buf[1 << 20];
    int64_t deadline = dmn_ms() + ms;
    do {
        if (strstr(dmn_slurp(d->log, buf, sizeof buf), needle))
            return true;
        usleep(20000);
    } while (dmn_ms() < deadline);
    return false;
}

/* ---- requests ---- */

/* Sends op with fields described by fmt, space-separated "key:t" with t one
 * of s (string), i (long long), d (double), b (int, bool), l (string list,
 * comma-separated), n (nil); the values follow as arguments. Returns the
 * reply (valid until the next call on c), or NULL on a transport failure. */
static __attribute__((unused)) const msgpack_object *
req_try(wfc_t *c, const char *op, const char *fmt, ...)
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
        if (!colon)
            cr_assert_fail("bad spec %s", keys[i]);
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
    return wfc_call(c, &reply) == 0 ? reply : NULL;
}

#define req(c, op, ...)                                                                            \
    ({                                                                                             \
        const msgpack_object *r_ = req_try((c), (op), __VA_ARGS__);                                \
        if (!r_)                                                                                   \
            cr_assert_fail("%s: %s", (op), wfc_error(c));                                          \
        r_;                                                                                        \
    })

static __attribute__((unused)) const char *
err_of(const msgpack_object *reply, char *buf, size_t len)
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
    do {                                                                                           \
        const msgpack_object *o_ = (reply);                                                        \
        char m_[256] = "", e_[32];                                                                 \
        wfc_get_str(o_, "msg", m_, sizeof m_);                                                     \
        cr_assert(wfc_get_bool(o_, "ok", false), "%s: %s: %s", (what), err_of(o_, e_, sizeof e_), m_); \
    } while (0)

/* Evaluates reply once (it may be a req() call). */
#define assert_err(reply, code, what)                                                              \
    do {                                                                                           \
        const msgpack_object *o_ = (reply);                                                        \
        char e_[32], m_[256] = "";                                                                 \
        wfc_get_str(o_, "msg", m_, sizeof m_);                                                     \
        cr_assert_str_eq(err_of(o_, e_, sizeof e_), (code), "%s: want %s, got %s (%s)", (what), (code), e_, \
                         m_);                                                                      \
    } while (0)

/* Registers a firm as the operator (with a CURVE key when key is not NULL). */
static __attribute__((unused)) void
dmn_put_firm(wfc_t *op, const char *id, const char *roles, double lat, double lon, long long county,
             const char *key)
{
    char name[64];
    snprintf(name, sizeof name, "firm %s", id);
    const msgpack_object *r =
        key ? req(op, "firm.put", "firm:s name:s roles:l lat:d lon:d county:i key:s", id, name, roles, lat, lon,
                  county, key)
            : req(op, "firm.put", "firm:s name:s roles:l lat:d lon:d county:i", id, name, roles, lat, lon, county);
    assert_ok(r, "firm.put");
}

#endif
