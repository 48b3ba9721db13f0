/* bench-e2e: wufeid end to end, against the two physical limits under it.
 *
 * Starts the real wufeid on a fresh database directory per run (durable:
 * LMDB with sync on, group commit, the defaults), registers N firms, and
 * drives it over tcp loopback from one load thread holding N DEALER
 * connections (one per firm), with CURVE (secure mode, each firm its own
 * key registered by firm.put) and without (--insecure, `as`).
 *
 * The load is a mix of offer.post and demand.post on seven industrial codes
 * around Shaoxing with overlapping prices (so some posts match), order.cancel
 * of the client's own resting orders and ping. Open loop: request i has the
 * intended send time t0 + i / rate whatever happened before, and its latency
 * is measured from that intended time (coordinated-omission safe: a stall of
 * the server or of the load thread counts against every request it
 * delays). A request unanswered when the run drains counts as infinitely
 * slow. Closed loop (saturation): each connection keeps a window of requests
 * in flight; acknowledged replies per second is the throughput. The
 * default window keeps twice wufeid's batch limit in flight, so that a
 * batch's worth is waiting when the one before it is answered: with only
 * one batch's worth (8 x 32), the writer waited a round trip of the
 * clients for every batch (13-22% of its time), and a server that waits
 * is not saturated.
 *
 * In the same run, the yardsticks:
 *  (a) a plain ZeroMQ ROUTER echo server (a thread of this process, its own
 *      context, tcp loopback) answered by the same load thread with the same
 *      requests, replies padded to the engine's mean reply size, the same
 *      connection count, CURVE on and off;
 *  (b) a plain LMDB writer with wufeid's flags (sync on) committing per
 *      operation the records the engine wrote per acknowledged request (count
 *      and bytes, measured from the database after the saturation run), in
 *      transactions of the engine's mean batch size in that run, and the
 *      latency of a lone one-operation commit.
 * And beside them, not a target: (c) a durable echo, the echo of (a) that
 * appends each batch of requests to a file and fdatasyncs it before it
 * replies (the least any durable server does), at saturation and open at
 * 10k/s: whether the p99 bound is within reach of a durable server on
 * this machine at all.
 *
 * Each wufeid run is bracketed by two stats reports (SIGUSR1: requests,
 * batch sizes, the writer loop's time per batch by phase, cumulative), so
 * its batch figures leave out registration and warm-up; with its CPU time
 * and write system calls from /proc they make the second table, "where the
 * time goes".
 *
 * Every reply of wufeid is sent after its batch committed: wf_engine_apply()
 * returns only after mdb_txn_commit(), and the server sends replies after it
 * returns. That is by design, not measured here.
 *
 * Bounded: each run lasts --seconds of load plus at most 10 s of drain;
 * the daemon is stopped with SIGTERM (SIGKILL after 15 s). Only loopback. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <msgpack.h>
#include <zmq.h>

#include "../clients/wfclient.h"
#include "../engine/store_int.h"

#define MAX_CLIENTS 64
#define LIVE_MAX 64
#define DRAIN_NS (10LL * 1000000000LL)
#define OPERATOR "000000000000000000"

static int64_t
mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t
rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double
rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

static void
die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench-e2e: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static char *
load_avg(char *buf, size_t len)
{
    FILE *f = fopen("/proc/loadavg", "r");
    buf[0] = 0;
    if (f) {
        if (fgets(buf, (int)len, f))
            buf[strcspn(buf, "\n")] = 0;
        fclose(f);
    }
    /* keep the three averages */
    char *p = buf;
    for (int i = 0; i < 3 && p; i++)
        p = strchr(p + 1, ' ');
    if (p)
        *p = 0;
    return buf;
}

/* ------------------------------------------------------------------ */
/* Options                                                            */

static struct {
    const char *wufeid;
    int clients;
    double seconds;
    int window;
    double rates[16];
    int nrates;
    bool plain, curve;
    const char *tmp;
    uint64_t seed;
    int pairs; /* extra saturation runs, each followed by its own LMDB yardstick */
} O;

/* ------------------------------------------------------------------ */
/* The daemon                                                         */

typedef struct daemon {
    char dir[512];
    char db[600];
    char cmd_ep[64], feed_ep[64];
    pid_t pid;
    int reports;            /* stats reports asked for so far (SIGUSR1) */
    bool secure;
    char server_pub[41], op_pub[41], op_sec[41];
} daemon_t;

static int
free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        die("cannot find a free port: %s", strerror(errno));
    close(fd);
    return ntohs(a.sin_port);
}

static bool
read_key(const char *dir, const char *name, char out[41])
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool ok = fread(out, 1, 40, f) == 40;
    out[40] = 0;
    fclose(f);
    return ok;
}

static void
daemon_start(daemon_t *d, bool secure)
{
    memset(d, 0, sizeof *d);
    d->secure = secure;
    snprintf(d->dir, sizeof d->dir, "%s/wufei-bench-e2e-XXXXXX", O.tmp);
    if (!mkdtemp(d->dir))
        die("mkdtemp %s: %s", d->dir, strerror(errno));
    snprintf(d->db, sizeof d->db, "%s/db", d->dir);
    int p1 = free_port(), p2;
    do
        p2 = free_port();
    while (p2 == p1);
    snprintf(d->cmd_ep, sizeof d->cmd_ep, "tcp://127.0.0.1:%d", p1);
    snprintf(d->feed_ep, sizeof d->feed_ep, "tcp://127.0.0.1:%d", p2);
    char out[700], log[700];
    snprintf(out, sizeof out, "%s/stdout", d->dir);
    snprintf(log, sizeof log, "%s/wufeid.log", d->dir);
    d->pid = fork();
    if (d->pid == 0) {
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fo >= 0)
            dup2(fo, 1);
        if (fe >= 0)
            dup2(fe, 2);
        if (secure)
            execl(O.wufeid, O.wufeid, "--db", d->db, "--command", d->cmd_ep, "--feed", d->feed_ep,
                  "--quiet", (char *)NULL);
        else
            execl(O.wufeid, O.wufeid, "--db", d->db, "--command", d->cmd_ep, "--feed", d->feed_ep,
                  "--quiet", "--insecure", (char *)NULL);
        _exit(127);
    }
    if (d->pid < 0)
        die("fork: %s", strerror(errno));
    int64_t deadline = mono_ns() + 20 * 1000000000LL;
    for (;;) {
        int st;
        if (waitpid(d->pid, &st, WNOHANG) == d->pid)
            die("wufeid (%s) exited with status %d before it was ready; see %s", O.wufeid, st, log);
        FILE *f = fopen(out, "r");
        char line[256] = "";
        bool ready = f && fgets(line, sizeof line, f) && strstr(line, " ready on ");
        if (f)
            fclose(f);
        if (ready)
            break;
        if (mono_ns() > deadline)
            die("wufeid was not ready within 20 s");
        usleep(10000);
    }
    if (secure && (!read_key(d->db, "server.pub", d->server_pub) ||
                   !read_key(d->db, "operator.pub", d->op_pub) ||
                   !read_key(d->db, "operator.key", d->op_sec)))
        die("cannot read the key files in %s", d->db);
}

/* Where wufeid's writer loop spent a batch on average, in µs. */
typedef struct loop_times {
    double wait, read, apply, exec, sign, commit, send;
} loop_times_t;

/* One of wufeid's stats reports (its two log lines "served ..." and "per
 * batch: ..."), cumulative since it started; times are sums in µs. */
typedef struct report {
    unsigned long long requests, batches, commits, hist[9];
    double wait, read, apply, send, exec, sign, commit;
} report_t;

/* Reads the k-th (from 0) complete report in wufeid's log. */
static bool
read_report(const daemon_t *d, int k, report_t *out)
{
    char log[700], line[1024];
    snprintf(log, sizeof log, "%s/wufeid.log", d->dir);
    FILE *f = fopen(log, "r");
    int seen = -1;
    bool got = false;
    memset(out, 0, sizeof *out);
    while (f && !got && fgets(line, sizeof line, f)) {
        char *p = strstr(line, "wufeid: served ");
        if (p) {
            seen++;
            if (seen != k)
                continue;
            unsigned long long r, b;
            if (sscanf(p, "wufeid: served %llu requests in %llu engine batches", &r, &b) == 2) {
                out->requests = r;
                out->batches = b;
            }
            char *h = strstr(p, "sizes ");
            for (int i = 0; h && i < 9; i++) {
                h = strchr(h, ':');
                if (h)
                    out->hist[i] = strtoull(++h, &h, 10);
            }
            continue;
        }
        char *q = strstr(line, "wufeid: per batch: ");
        if (q && seen == k) {
            double w, r, a, sd, e, sg, c;
            unsigned long long nb, nc;
            if (sscanf(q, "wufeid: per batch: wait %lf us, read %lf us, apply %lf us, send %lf us over %llu "
                          "batches; engine: exec %lf us, sign %lf us, commit %lf us over %llu commits",
                       &w, &r, &a, &sd, &nb, &e, &sg, &c, &nc) == 9) {
                out->wait = w * (double)nb;
                out->read = r * (double)nb;
                out->apply = a * (double)nb;
                out->send = sd * (double)nb;
                out->commits = nc;
                out->exec = e * (double)nc;
                out->sign = sg * (double)nc;
                out->commit = c * (double)nc;
                got = true;
            }
        }
    }
    if (f)
        fclose(f);
    return got;
}

/* Asks wufeid for a stats report (SIGUSR1) and waits for it, at most 5 s. */
static void
daemon_report(daemon_t *d, report_t *out)
{
    kill(d->pid, SIGUSR1);
    int64_t deadline = mono_ns() + 5 * 1000000000LL;
    while (!read_report(d, d->reports, out)) {
        if (mono_ns() > deadline)
            die("wufeid wrote no stats report within 5 s of SIGUSR1 (an older wufeid?)");
        usleep(2000);
    }
    d->reports++;
}

/* The batches between two reports: mean size, size histogram, loop times. */
static void
report_diff(const report_t *a, const report_t *b, double *mean_batch, char *hist, size_t histlen,
            loop_times_t *lt)
{
    double nb = (double)(b->batches - a->batches), nc = (double)(b->commits - a->commits);
    *mean_batch = nb > 0 ? (double)(b->requests - a->requests) / nb : 0;
    size_t len = 0;
    hist[0] = 0;
    for (int i = 0; i < 9 && len < histlen; i++) {
        unsigned lo = 1u << i, hi = (2u << i) - 1;
        unsigned long long n = b->hist[i] - a->hist[i];
        if (i == 0 || i == 8)
            len += (size_t)snprintf(hist + len, histlen - len, "%s%u:%llu", i ? " " : "", lo, n);
        else
            len += (size_t)snprintf(hist + len, histlen - len, " %u-%u:%llu", lo, hi, n);
    }
    if (nb < 1)
        nb = 1;
    if (nc < 1)
        nc = 1;
    lt->wait = (b->wait - a->wait) / nb;
    lt->read = (b->read - a->read) / nb;
    lt->apply = (b->apply - a->apply) / nb;
    lt->send = (b->send - a->send) / nb;
    lt->exec = (b->exec - a->exec) / nc;
    lt->sign = (b->sign - a->sign) / nc;
    lt->commit = (b->commit - a->commit) / nc;
}

/* SIGTERM, SIGKILL after 15 s. */
static void
daemon_stop(daemon_t *d)
{
    kill(d->pid, SIGTERM);
    int st = 0;
    int64_t deadline = mono_ns() + 15 * 1000000000LL;
    bool done = false;
    while (!done && mono_ns() < deadline) {
        if (waitpid(d->pid, &st, WNOHANG) == d->pid)
            done = true;
        else
            usleep(10000);
    }
    if (!done) {
        kill(d->pid, SIGKILL);
        waitpid(d->pid, &st, 0);
        fprintf(stderr, "bench-e2e: wufeid had to be killed\n");
    }
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void
rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* One counter of /proc/PID/io so far ("wchar": bytes written, "syscw":
 * write system calls); 0 when it cannot be read. */
static unsigned long long
proc_io(pid_t pid, const char *field)
{
    char path[64], line[128];
    snprintf(path, sizeof path, "/proc/%d/io", (int)pid);
    FILE *f = fopen(path, "r");
    unsigned long long v = 0;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':' && sscanf(line + n + 1, "%llu", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

/* CPU time of a process so far (all its threads), user and system, in µs,
 * from /proc/PID/stat (clock-tick resolution). */
static void
proc_cpu(pid_t pid, double *user_us, double *sys_us)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    *user_us = *sys_us = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long long ut, st;
    if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2) {
        double tick = 1e6 / (double)sysconf(_SC_CLK_TCK);
        *user_us = (double)ut * tick;
        *sys_us = (double)st * tick;
    }
}

/* This process's CPU time so far (the load thread, its ZeroMQ I/O thread
 * and, during echo runs, the echo thread), in µs. */
static void
self_cpu(double *user_us, double *sys_us)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user_us = (double)ru.ru_utime.tv_sec * 1e6 + (double)ru.ru_utime.tv_usec;
    *sys_us = (double)ru.ru_stime.tv_sec * 1e6 + (double)ru.ru_stime.tv_usec;
}

/* ------------------------------------------------------------------ */
/* Database census: entries and key+value bytes of every table         */

typedef struct census {
    unsigned long long entries, bytes, pages, matches;
    unsigned long long jentries, jbytes; /* of those, journal.mdb's */
} census_t;

/* Adds the tables of one LMDB file (a directory's data.mdb, or with
 * MDB_NOSUBDIR a file such as journal.mdb) to c. */
static void
census_env(const char *path, unsigned flags, census_t *c)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi main_db;
    MDB_cursor *cur;
    if (mdb_env_create(&env) != 0)
        die("mdb_env_create");
    mdb_env_set_maxdbs(env, 64);
    int rc = mdb_env_open(env, path, MDB_RDONLY | MDB_NOTLS | flags, 0600);
    if (rc != 0)
        die("census: cannot open %s: %s", path, mdb_strerror(rc));
    if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0 || mdb_dbi_open(txn, NULL, 0, &main_db) != 0 ||
        mdb_cursor_open(txn, main_db, &cur) != 0)
        die("census: cannot read %s", path);
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char name[64];
        if (k.mv_size >= sizeof name)
            continue;
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = 0;
        MDB_dbi dbi;
        if (mdb_dbi_open(txn, name, 0, &dbi) != 0)
            continue;
        MDB_stat st;
        mdb_stat(txn, dbi, &st);
        c->entries += st.ms_entries;
        c->pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
        if (strcmp(name, "matches") == 0)
            c->matches = st.ms_entries;
        MDB_cursor *dc;
        MDB_val dk, dv;
        if (mdb_cursor_open(txn, dbi, &dc) != 0)
            continue;
        for (int r = mdb_cursor_get(dc, &dk, &dv, MDB_FIRST); r == 0; r = mdb_cursor_get(dc, &dk, &dv, MDB_NEXT))
            c->bytes += dk.mv_size + dv.mv_size;
        mdb_cursor_close(dc);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    mdb_env_close(env);
}

/* Every table of a wufeid database: the state (db/data.mdb) and the
 * journal (db/journal.mdb). */
static void
db_census(const char *db, census_t *c)
{
    memset(c, 0, sizeof *c);
    census_env(db, 0, c);
    char jpath[4200];
    snprintf(jpath, sizeof jpath, "%s/journal.mdb", db);
    census_t j = {0};
    census_env(jpath, MDB_NOSUBDIR, &j);
    c->entries += j.entries;
    c->bytes += j.bytes;
    c->pages += j.pages;
    c->jentries = j.entries;
    c->jbytes = j.bytes;
}

/* ------------------------------------------------------------------ */
/* The stall watch                                                    */

/* A thread that sleeps 2 ms at a time and counts the times it woke 4 ms
 * or more late: moments when nothing on the machine ran, the server and
 * the load thread included. On the 2-core virtual machines this bench was
 * written on they come every 100 ms, 5-11 ms long, whenever the machine
 * runs a stream of fsyncs beside about a core of work: no request that
 * meets one can be answered faster. Each run reports how many it saw. */
typedef struct stall {
    unsigned long long n, ns;
} stall_t;

static _Atomic unsigned long long STALL_N, STALL_NS;

static void *
stall_main(void *arg)
{
    (void)arg;
    for (;;) {
        int64_t t = mono_ns();
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
        int64_t late = mono_ns() - t - 2000000;
        if (late >= 4000000) {
            atomic_fetch_add(&STALL_N, 1);
            atomic_fetch_add(&STALL_NS, (unsigned long long)late);
        }
    }
    return NULL;
}

static void
stall_start(void)
{
    pthread_t th;
    if (pthread_create(&th, NULL, stall_main, NULL) != 0)
        die("pthread_create: %s", strerror(errno));
    pthread_detach(th);
}

static stall_t
stall_now(void)
{
    return (stall_t){atomic_load(&STALL_N), atomic_load(&STALL_NS)};
}

/* ------------------------------------------------------------------ */
/* The load                                                           */

typedef struct client {
    void *sock;
    char firm[WF_FIRM_LEN];
    char pub[41], sec[41];
    char live[LIVE_MAX][WF_OID_LEN]; /* own orders believed resting */
    int nlive;
    int inflight;                    /* closed loop */
} client_t;

static client_t C[MAX_CLIENTS];

static const char *const CODES[] = {"SW01", "SW02", "SW03", "SW04", "SW05", "SW06", "SW07"};

typedef struct run {
    /* what happened */
    unsigned long long sent, replies, ok, lost, posts, matched_posts, cancels_ok;
    unsigned long long req_bytes, rep_bytes;
    int64_t *lat;       /* per rid: ns, -1 = no reply yet */
    int64_t *sent_at;   /* closed loop: actual send time */
    size_t cap;
    int64_t max_lag_ns; /* how late the load thread sent (open loop) */
    double seconds;
    bool echo;
} run_t;

static msgpack_sbuffer SB;
static uint64_t RNG;

static void
pk_s(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* Packs request rid for client c into SB. */
static void
pack_request(client_t *c, uint64_t rid, bool insecure)
{
    msgpack_sbuffer_clear(&SB);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &SB, msgpack_sbuffer_write);
    double u = rng_unit(&RNG);
    int extra = insecure ? 1 : 0;
    if (u < 0.70) {
        bool offer = u < 0.35;
        const char *code = CODES[rng_next(&RNG) % 7];
        int64_t qty = 1000 + (int64_t)(rng_next(&RNG) % 19001);
        int64_t price = -5000 + (int64_t)(rng_next(&RNG) % 8001);
        double lat = 29.95 + 0.2 * rng_unit(&RNG), lon = 120.45 + 0.3 * rng_unit(&RNG);
        msgpack_pack_map(&pk, 7 + extra);
        pk_s(&pk, "op");
        pk_s(&pk, offer ? "offer.post" : "demand.post");
        pk_s(&pk, "rid");
        msgpack_pack_uint64(&pk, rid);
        if (offer) {
            pk_s(&pk, "code");
            pk_s(&pk, code);
        } else {
            pk_s(&pk, "codes");
            msgpack_pack_array(&pk, 1);
            pk_s(&pk, code);
        }
        pk_s(&pk, "qty");
        msgpack_pack_int64(&pk, qty);
        pk_s(&pk, "price");
        msgpack_pack_int64(&pk, price);
        pk_s(&pk, "lat");
        msgpack_pack_double(&pk, lat);
        pk_s(&pk, "lon");
        msgpack_pack_double(&pk, lon);
    } else if (u < 0.90 && c->nlive > 0) {
        int i = (int)(rng_next(&RNG) % (uint64_t)c->nlive);
        msgpack_pack_map(&pk, 3 + extra);
        pk_s(&pk, "op");
        pk_s(&pk, "order.cancel");
        pk_s(&pk, "rid");
        msgpack_pack_uint64(&pk, rid);
        pk_s(&pk, "id");
        pk_s(&pk, c->live[i]);
        memcpy(c->live[i], c->live[--c->nlive], WF_OID_LEN);
    } else {
        msgpack_pack_map(&pk, 2 + extra);
        pk_s(&pk, "op");
        pk_s(&pk, "ping");
        pk_s(&pk, "rid");
        msgpack_pack_uint64(&pk, rid);
    }
    if (insecure) {
        pk_s(&pk, "as");
        pk_s(&pk, c->firm);
    }
}

static void
remember(client_t *c, const char *id)
{
    if (c->nlive == LIVE_MAX) {
        memmove(c->live[0], c->live[1], (LIVE_MAX - 1) * WF_OID_LEN);
        c->nlive--;
    }
    snprintf(c->live[c->nlive++], WF_OID_LEN, "%s", id);
}

/* Handles one reply body; returns its rid (or UINT64_MAX). */
static uint64_t
on_reply(run_t *r, client_t *c, const char *data, size_t len)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    uint64_t rid = UINT64_MAX;
    if (msgpack_unpack_next(&u, data, len, NULL) == MSGPACK_UNPACK_SUCCESS && u.data.type == MSGPACK_OBJECT_MAP) {
        const msgpack_object *m = &u.data;
        const msgpack_object *o = wfc_get(m, "rid");
        if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            rid = o->via.u64;
        if (r->echo) {
            /* the echoed request: play the engine's part for the mix */
            char op[32];
            r->ok++;
            if (wfc_get_str(m, "op", op, sizeof op) && strstr(op, ".post")) {
                char id[WF_OID_LEN];
                snprintf(id, sizeof id, "O%llu", (unsigned long long)rid);
                remember(c, id);
            }
        } else if (wfc_get_bool(m, "ok", false)) {
            r->ok++;
            char id[WF_OID_LEN];
            const msgpack_object *ms = wfc_get(m, "matches");
            bool is_post = ms != NULL;
            if (is_post) {
                r->posts++;
                if (ms->type == MSGPACK_OBJECT_ARRAY && ms->via.array.size > 0)
                    r->matched_posts++;
                if (wfc_get_int(m, "rest", 0) > 0 && wfc_get_str(m, "id", id, sizeof id))
                    remember(c, id);
            } else if (wfc_get(m, "rest")) {
                r->cancels_ok++;
            }
        }
    }
    msgpack_unpacked_destroy(&u);
    return rid;
}

static int64_t T0, INTERVAL;

/* Receives every waiting reply on client i. */
static void
recv_all(run_t *r, int i, bool closed, bool insecure, uint64_t *next_rid, int64_t end_ns)
{
    client_t *c = &C[i];
    for (int turn = 0; turn < 4096; turn++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, c->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        int64_t now = mono_ns();
        r->rep_bytes += zmq_msg_size(&m);
        uint64_t rid = on_reply(r, c, zmq_msg_data(&m), zmq_msg_size(&m));
        zmq_msg_close(&m);
        if (rid >= r->cap || r->lat[rid] >= 0)
            continue;
        r->replies++;
        int64_t from = closed ? r->sent_at[rid] : T0 + (int64_t)rid * INTERVAL;
        r->lat[rid] = now - from;
        if (closed) {
            c->inflight--;
            if (now < end_ns && *next_rid < r->cap) {
                uint64_t rid2 = (*next_rid)++;
                pack_request(c, rid2, insecure);
                r->sent_at[rid2] = mono_ns();
                if (zmq_send(c->sock, SB.data, SB.size, 0) >= 0) {
                    r->sent++;
                    r->req_bytes += SB.size;
                    c->inflight++;
                }
            }
        }
    }
}

static void
connect_clients(void *ctx, const char *ep, int n, const char *server_pub)
{
    for (int i = 0; i < n; i++) {
        client_t *c = &C[i];
        c->sock = zmq_socket(ctx, ZMQ_DEALER);
        int zero = 0, hwm = 1000000;
        zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(c->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt(c->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
        if (server_pub) {
            zmq_setsockopt(c->sock, ZMQ_CURVE_SERVERKEY, server_pub, 40);
            zmq_setsockopt(c->sock, ZMQ_CURVE_PUBLICKEY, c->pub, 40);
            zmq_setsockopt(c->sock, ZMQ_CURVE_SECRETKEY, c->sec, 40);
        }
        if (zmq_connect(c->sock, ep) != 0)
            die("connect %s: %s", ep, zmq_strerror(errno));
        c->nlive = 0;
        c->inflight = 0;
    }
}

static void
close_clients(int n)
{
    for (int i = 0; i < n; i++) {
        zmq_close(C[i].sock);
        C[i].sock = NULL;
    }
}

static void
run_init(run_t *r, size_t cap, bool echo)
{
    memset(r, 0, sizeof *r);
    r->cap = cap;
    r->echo = echo;
    r->lat = malloc(cap * sizeof *r->lat);
    r->sent_at = malloc(cap * sizeof *r->sent_at);
    if (!r->lat || !r->sent_at)
        die("out of memory");
    for (size_t i = 0; i < cap; i++)
        r->lat[i] = -1;
}

static void
run_free(run_t *r)
{
    free(r->lat);
    free(r->sent_at);
}

/* Waits up to timeout_ns for any socket to be readable, blocking (no
 * spinning: the load thread shares the machine's cores with the server it
 * measures). zmq_poll() counts its timeout in whole milliseconds, too
 * coarse for an open loop that sends every 100 µs, so this waits on the
 * sockets' ZMQ_FD with ppoll() and a nanosecond timeout, the way
 * zmq_poll() does inside: ZMQ_FD signals that ZMQ_EVENTS must be read
 * again (edge-triggered), so every socket's ZMQ_EVENTS is checked first,
 * which also resets its signal, and only then does the thread sleep. */
static void
wait_any(int n, int64_t timeout_ns)
{
    struct pollfd fds[MAX_CLIENTS];
    if (timeout_ns <= 0)
        return;
    for (int i = 0; i < n; i++) {
        int ev = 0;
        size_t len = sizeof ev;
        if (zmq_getsockopt(C[i].sock, ZMQ_EVENTS, &ev, &len) == 0 && (ev & ZMQ_POLLIN))
            return;
        len = sizeof fds[i].fd;
        if (zmq_getsockopt(C[i].sock, ZMQ_FD, &fds[i].fd, &len) != 0)
            die("zmq_getsockopt ZMQ_FD: %s", zmq_strerror(errno));
        fds[i].events = POLLIN;
        fds[i].revents = 0;
    }
    struct timespec ts = {(time_t)(timeout_ns / 1000000000), (long)(timeout_ns % 1000000000)};
    ppoll(fds, (nfds_t)n, &ts, NULL);
}

/* Open loop at rate requests/s for seconds; rids 0..total-1.
 *
 * The load thread looks only at the sockets that can have something to
 * read: those ppoll() reported and those it just sent on (a send may
 * consume the socket's ZMQ_FD signal), reading each until EAGAIN, which
 * re-arms its signal. Looking at all eight sockets' ZMQ_EVENTS on every
 * wake-up, as wait_any does, cost about 30 system calls per request, 0.9 of
 * a core at 10k requests/s on the 2-core machine the server shares. */
static void
open_loop(run_t *r, int n, double rate, double seconds, bool insecure)
{
    size_t total = (size_t)(rate * seconds);
    run_init(r, total, r->echo);
    INTERVAL = (int64_t)(1e9 / rate);
    struct pollfd fds[MAX_CLIENTS];
    bool look[MAX_CLIENTS];
    for (int i = 0; i < n; i++) {
        size_t len = sizeof fds[i].fd;
        if (zmq_getsockopt(C[i].sock, ZMQ_FD, &fds[i].fd, &len) != 0)
            die("zmq_getsockopt ZMQ_FD: %s", zmq_strerror(errno));
        fds[i].events = POLLIN;
        fds[i].revents = 0;
        look[i] = true;
    }
    T0 = mono_ns() + 5000000;
    uint64_t next = 0;
    int64_t end = T0 + (int64_t)total * INTERVAL;
    for (;;) {
        int64_t now = mono_ns();
        for (int burst = 0; next < total && burst < 512; burst++) {
            int64_t due = T0 + (int64_t)next * INTERVAL;
            if (due > now)
                break;
            if (now - due > r->max_lag_ns)
                r->max_lag_ns = now - due;
            int ci = (int)(next % (uint64_t)n);
            client_t *c = &C[ci];
            pack_request(c, next, insecure);
            if (zmq_send(c->sock, SB.data, SB.size, ZMQ_DONTWAIT) >= 0) {
                r->sent++;
                r->req_bytes += SB.size;
            }
            look[ci] = true;
            next++;
        }
        for (int i = 0; i < n; i++) {
            if (look[i] || fds[i].revents) {
                look[i] = false;
                fds[i].revents = 0;
                recv_all(r, i, false, insecure, NULL, 0);
            }
        }
        now = mono_ns();
        if (next >= total && (r->replies >= r->sent || now > end + DRAIN_NS))
            break;
        int64_t wait = next < total ? T0 + (int64_t)next * INTERVAL - now : end + DRAIN_NS - now;
        if (next >= total && wait > 100000000)
            wait = 100000000;
        if (wait > 0) {
            struct timespec ts = {(time_t)(wait / 1000000000), (long)(wait % 1000000000)};
            ppoll(fds, (nfds_t)n, &ts, NULL);
        }
    }
    r->seconds = (double)(end - T0) / 1e9;
}

/* Closed loop: window requests in flight per client for seconds. */
static void
closed_loop(run_t *r, int n, int window, double seconds, bool insecure)
{
    size_t cap = 4000000;
    run_init(r, cap, r->echo);
    uint64_t next = 0;
    int64_t t0 = mono_ns(), end = t0 + (int64_t)(seconds * 1e9);
    for (int i = 0; i < n; i++)
        for (int w = 0; w < window; w++) {
            uint64_t rid = next++;
            pack_request(&C[i], rid, insecure);
            r->sent_at[rid] = mono_ns();
            if (zmq_send(C[i].sock, SB.data, SB.size, 0) >= 0) {
                r->sent++;
                r->req_bytes += SB.size;
                C[i].inflight++;
            }
        }
    unsigned long long in_window = 0;
    for (;;) {
        for (int i = 0; i < n; i++)
            recv_all(r, i, true, insecure, &next, end);
        int64_t now = mono_ns();
        if (now <= end)
            in_window = r->replies;
        if (now > end && (r->replies >= r->sent || now > end + DRAIN_NS))
            break;
        wait_any(n, 100000000);
    }
    r->seconds = seconds;
    r->replies = in_window; /* throughput counts the replies within the window */
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

typedef struct pct {
    double p50, p99, p999, max; /* µs; INFINITY when lost */
    unsigned long long lost;
} pct_t;

static pct_t
percentiles(run_t *r, size_t n)
{
    pct_t p = {0};
    if (n > r->cap)
        n = r->cap;
    int64_t *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i] = r->lat[i] >= 0 ? r->lat[i] : INT64_MAX;
        p.lost += r->lat[i] < 0;
    }
    qsort(v, n, sizeof *v, cmp_i64);
#define AT(q) (n ? (v[(size_t)((q) * (double)(n - 1))] == INT64_MAX ? INFINITY : v[(size_t)((q) * (double)(n - 1))] / 1e3) : 0)
    p.p50 = AT(0.50);
    p.p99 = AT(0.99);
    p.p999 = AT(0.999);
    p.max = AT(1.0);
#undef AT
    free(v);
    return p;
}

/* ------------------------------------------------------------------ */
/* Setting up the engine's firms                                      */

static void
register_firms(daemon_t *d, int n)
{
    wfc_opts_t o = {.endpoint = d->cmd_ep, .timeout_ms = 10000};
    if (d->secure) {
        o.server_key = d->server_pub;
        o.public_key = d->op_pub;
        o.secret_key = d->op_sec;
    } else {
        o.as = OPERATOR;
    }
    wfc_t *w = wfc_new(&o);
    if (!w)
        die("wfc_new");
    for (int i = 0; i < n; i++) {
        client_t *c = &C[i];
        snprintf(c->firm, sizeof c->firm, "91330600BNCH%06u", (unsigned)(i + 1) % 1000000u);
        if (zmq_curve_keypair(c->pub, c->sec) != 0)
            die("zmq_curve_keypair");
        msgpack_packer *pk = wfc_begin(w, "firm.put", d->secure ? 7 : 6);
        wfc_pack_str(pk, "firm");
        wfc_pack_str(pk, c->firm);
        wfc_pack_str(pk, "name");
        char name[64];
        snprintf(name, sizeof name, "bench firm %d", i + 1);
        wfc_pack_str(pk, name);
        wfc_pack_str(pk, "roles");
        msgpack_pack_array(pk, 2);
        wfc_pack_str(pk, "producer");
        wfc_pack_str(pk, "consumer");
        wfc_pack_str(pk, "lat");
        msgpack_pack_double(pk, 29.95 + 0.2 * rng_unit(&RNG));
        wfc_pack_str(pk, "lon");
        msgpack_pack_double(pk, 120.45 + 0.3 * rng_unit(&RNG));
        wfc_pack_str(pk, "county");
        msgpack_pack_uint32(pk, 330602 + (uint32_t)(i % 3));
        if (d->secure) {
            wfc_pack_str(pk, "key");
            wfc_pack_str(pk, c->pub);
        }
        const msgpack_object *rep;
        if (wfc_call(w, &rep) != 0 || !wfc_get_bool(rep, "ok", false))
            die("firm.put %s failed", c->firm);
    }
    /* the load is far above the per-firm rate limit on purpose: lift it */
    msgpack_packer *pk = wfc_begin(w, "config.set", 1);
    wfc_pack_str(pk, "rate_per_s");
    msgpack_pack_int64(pk, 0);
    const msgpack_object *rep;
    if (wfc_call(w, &rep) != 0 || !wfc_get_bool(rep, "ok", false))
        die("config.set rate_per_s=0 failed");
    wfc_destroy(&w);
}

/* ------------------------------------------------------------------ */
/* Yardstick (a): the ZeroMQ echo server                               */

typedef struct echo {
    pthread_t th;
    void *ctx, *sock;
    char ep[64];
    char pub[41], sec[41];
    size_t reply_size;
    atomic_int stop;
    /* the durable echo: a log file like wufeid's journal.wal, made at
     * DECHO_FILE bytes of zeros and synced, written round */
    int fd;
    char dir[4200];
    size_t off;
} echo_t;

#define DECHO_FILE ((size_t)4 << 20)
#define DECHO_BATCH 256

/* The durable echo's loop: the least a durable server does. It takes what
 * has arrived (up to a batch, as wufeid's writer does), appends the
 * requests to its log in one write, makes them durable with one
 * fdatasync, and only then sends the replies, padded to the engine's
 * mean reply size. No decoding, no matching, no database. */
static void
decho_loop(echo_t *e, char *pad)
{
    static zmq_msg_t ids[DECHO_BATCH], bodies[DECHO_BATCH];
    char *log = malloc(DECHO_BATCH * (65536 + 4)); /* a batch of the largest bodies */
    zmq_pollitem_t it = {.socket = e->sock, .events = ZMQ_POLLIN};
    while (!atomic_load(&e->stop)) {
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        int n = 0;
        size_t len = 0;
        while (n < DECHO_BATCH) {
            zmq_msg_init(&ids[n]);
            if (zmq_msg_recv(&ids[n], e->sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&ids[n]);
                break;
            }
            zmq_msg_init(&bodies[n]);
            zmq_msg_recv(&bodies[n], e->sock, 0);
            size_t b = zmq_msg_size(&bodies[n]);
            if (b > 65536)
                b = 65536;
            uint32_t l32 = (uint32_t)b;
            memcpy(log + len, &l32, 4);
            memcpy(log + len + 4, zmq_msg_data(&bodies[n]), b);
            len += b + 4;
            n++;
        }
        if (n == 0)
            continue;
        if (e->off + len > DECHO_FILE)
            e->off = 0; /* round; a batch larger than the file (bodies the bench never sends) extends it */
        if (pwrite(e->fd, log, len, (off_t)e->off) != (ssize_t)len || fdatasync(e->fd) != 0)
            die("durable echo: write or sync: %s", strerror(errno));
        e->off += len;
        for (int k = 0; k < n; k++) {
            size_t b = zmq_msg_size(&bodies[k]), out = b > e->reply_size ? b : e->reply_size;
            if (b > 65536)
                b = 65536;
            memcpy(pad, zmq_msg_data(&bodies[k]), b);
            memset(pad + b, 0, out - b);
            zmq_msg_send(&ids[k], e->sock, ZMQ_SNDMORE | ZMQ_DONTWAIT);
            zmq_send(e->sock, pad, out, ZMQ_DONTWAIT);
            zmq_msg_close(&ids[k]);
            zmq_msg_close(&bodies[k]);
        }
    }
    free(log);
}

static void *
echo_main(void *arg)
{
    echo_t *e = arg;
    char *pad = calloc(1, e->reply_size + 65536);
    if (e->fd >= 0) {
        decho_loop(e, pad);
        free(pad);
        return NULL;
    }
    zmq_pollitem_t it = {.socket = e->sock, .events = ZMQ_POLLIN};
    while (!atomic_load(&e->stop)) {
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        for (int k = 0; k < 256; k++) {
            zmq_msg_t id, body;
            zmq_msg_init(&id);
            if (zmq_msg_recv(&id, e->sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&id);
                break;
            }
            zmq_msg_init(&body);
            zmq_msg_recv(&body, e->sock, 0);
            size_t len = zmq_msg_size(&body);
            size_t out = len > e->reply_size ? len : e->reply_size;
            if (len > 65536)
                len = 65536;
            memcpy(pad, zmq_msg_data(&body), len);
            memset(pad + len, 0, out - len);
            zmq_msg_send(&id, e->sock, ZMQ_SNDMORE | ZMQ_DONTWAIT);
            zmq_send(e->sock, pad, out, ZMQ_DONTWAIT);
            zmq_msg_close(&id);
            zmq_msg_close(&body);
        }
    }
    free(pad);
    return NULL;
}

/* durable: the echo appends each batch of requests to a log file in
 * O.tmp and syncs it before it replies (decho_loop). */
static void
echo_start(echo_t *e, bool curve, size_t reply_size, bool durable)
{
    memset(e, 0, sizeof *e);
    e->reply_size = reply_size;
    e->fd = -1;
    if (durable) {
        snprintf(e->dir, sizeof e->dir, "%s/wufei-bench-decho-XXXXXX", O.tmp);
        if (!mkdtemp(e->dir))
            die("mkdtemp %s: %s", e->dir, strerror(errno));
        char path[4300];
        snprintf(path, sizeof path, "%s/echo.log", e->dir);
        e->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        char *zeros = calloc(1, DECHO_FILE);
        if (e->fd < 0 || !zeros || pwrite(e->fd, zeros, DECHO_FILE, 0) != (ssize_t)DECHO_FILE || fsync(e->fd) != 0)
            die("durable echo: cannot make %s: %s", path, strerror(errno));
        free(zeros);
    }
    e->ctx = zmq_ctx_new();
    e->sock = zmq_socket(e->ctx, ZMQ_ROUTER);
    int zero = 0, one = 1, hwm = 1000000;
    zmq_setsockopt(e->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(e->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(e->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (curve) {
        zmq_curve_keypair(e->pub, e->sec);
        zmq_setsockopt(e->sock, ZMQ_CURVE_SERVER, &one, sizeof one);
        zmq_setsockopt(e->sock, ZMQ_CURVE_SECRETKEY, e->sec, 40);
    }
    snprintf(e->ep, sizeof e->ep, "tcp://127.0.0.1:%d", free_port());
    if (zmq_bind(e->sock, e->ep) != 0)
        die("echo bind %s: %s", e->ep, zmq_strerror(errno));
    atomic_init(&e->stop, 0);
    pthread_create(&e->th, NULL, echo_main, e);
}

static void
echo_stop(echo_t *e)
{
    atomic_store(&e->stop, 1);
    pthread_join(e->th, NULL);
    zmq_close(e->sock);
    zmq_ctx_term(e->ctx);
    if (e->fd >= 0) {
        close(e->fd);
        rm_tree(e->dir);
    }
}

/* ------------------------------------------------------------------ */
/* Yardstick (b): the plain LMDB writer                                */

typedef struct lmdb_result {
    double ops_per_s;
    double lone_p50_us, lone_p99_us;
    double wchar_per_op;
    unsigned long long ops, lone_commits;
} lmdb_result_t;

static unsigned long long
self_wchar(void)
{
    return proc_io(getpid(), "wchar");
}

static MDB_env *
yard_env(const char *dir, MDB_dbi *dbi)
{
    MDB_env *env;
    MDB_txn *txn;
    mkdir(dir, 0700);
    if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 16) != 0 ||
        mdb_env_set_mapsize(env, (size_t)4 << 30) != 0)
        die("lmdb yardstick: setup");
    int rc = mdb_env_open(env, dir, MDB_NOTLS, 0600); /* wufeid's flags: sync on */
    if (rc != 0)
        die("lmdb yardstick: open %s: %s", dir, mdb_strerror(rc));
    if (mdb_txn_begin(env, NULL, 0, &txn) != 0 || mdb_dbi_open(txn, "data", MDB_CREATE, dbi) != 0 ||
        mdb_txn_commit(txn) != 0)
        die("lmdb yardstick: dbi");
    return env;
}

/* Puts one record of vsize bytes (at most 64 KiB) under the big-endian key
 * *key_next, which it advances. */
static void
yard_put(MDB_txn *txn, MDB_dbi dbi, uint64_t *key_next, size_t vsize, unsigned flags)
{
    static char val[65536];
    uint8_t k[8];
    uint64_t kn = (*key_next)++;
    for (int b = 7; b >= 0; b--, kn >>= 8)
        k[b] = (uint8_t)kn;
    memcpy(val, key_next, sizeof *key_next); /* not all zeros */
    MDB_val mk = {8, k}, mv = {vsize < sizeof val ? vsize : sizeof val, val};
    int rc = mdb_put(txn, dbi, &mk, &mv, flags);
    if (rc != 0)
        die("lmdb yardstick: put: %s", mdb_strerror(rc));
}

/* Writes ops operations of recs_per_op records (bytes_per_op in all,
 * keys included) in transactions of batch operations. Returns elapsed ns;
 * lat (when not NULL) gets each transaction's time. */
static int64_t
yard_write(MDB_env *env, MDB_dbi dbi, uint64_t *key_next, size_t ops, size_t batch, double recs_per_op,
           double bytes_per_op, int64_t *lat, int64_t deadline)
{
    double acc = 0;
    size_t vsize = recs_per_op > 0 ? (size_t)fmax(0, bytes_per_op / recs_per_op - 8) : 0;
    int64_t t0 = mono_ns();
    size_t done = 0, txns = 0;
    while (done < ops && mono_ns() < deadline) {
        int64_t ts = mono_ns();
        MDB_txn *txn;
        if (mdb_txn_begin(env, NULL, 0, &txn) != 0)
            die("lmdb yardstick: begin");
        for (size_t i = 0; i < batch && done < ops; i++, done++) {
            acc += recs_per_op;
            for (; acc >= 1; acc -= 1)
                yard_put(txn, dbi, key_next, vsize, 0);
        }
        if (mdb_txn_commit(txn) != 0)
            die("lmdb yardstick: commit");
        if (lat)
            lat[txns] = mono_ns() - ts;
        txns++;
    }
    return mono_ns() - t0;
}

/* The LMDB writer with wufeid's two files and their sync settings: per
 * operation the journal's records into one environment, committed and
 * synced per transaction of batch operations, and the rest into a second
 * one without sync, whose transaction stays open across batches and
 * commits every 20 ms or 64 batches (engine_int.h WF_STATE_FLUSH_*).
 * Returns operations per second. */
static double
lmdb_split_yardstick(double recs_per_op, double bytes_per_op, double jrecs_per_op, double jbytes_per_op,
                     double batch_mean, double seconds)
{
    char dir[600], jdir[700];
    snprintf(dir, sizeof dir, "%s/wufei-bench-lmdb2-XXXXXX", O.tmp);
    if (!mkdtemp(dir))
        die("mkdtemp: %s", strerror(errno));
    snprintf(jdir, sizeof jdir, "%s/j", dir);
    MDB_dbi sdbi, jdbi;
    MDB_env *senv = yard_env(dir, &sdbi), *jenv = yard_env(jdir, &jdbi);
    mdb_env_set_flags(senv, MDB_NOSYNC, 1);
    size_t batch = batch_mean >= 1 ? (size_t)llround(batch_mean) : 1;
    double srecs = fmax(0, recs_per_op - jrecs_per_op);
    double sbytes = fmax(0, bytes_per_op - jbytes_per_op);
    uint64_t skey = 1, jkey = 1;
    size_t jsize = jrecs_per_op > 0 ? (size_t)fmax(0, jbytes_per_op / jrecs_per_op - 8) : 0;
    size_t ssize = srecs > 0 ? (size_t)fmax(0, sbytes / srecs - 8) : 0;
    double jacc = 0, sacc = 0;
    unsigned long long ops = 0;
    MDB_txn *stxn = NULL;
    int64_t st0 = 0;
    unsigned sbatches = 0;
    int64_t t0 = mono_ns(), deadline = t0 + (int64_t)(seconds * 1e9);
    while (mono_ns() < deadline) {
        MDB_txn *jtxn;
        if (!stxn) {
            if (mdb_txn_begin(senv, NULL, 0, &stxn) != 0)
                die("lmdb yardstick: begin");
            st0 = mono_ns();
            sbatches = 0;
        }
        if (mdb_txn_begin(jenv, NULL, 0, &jtxn) != 0)
            die("lmdb yardstick: begin");
        for (size_t i = 0; i < batch; i++, ops++) {
            for (jacc += jrecs_per_op; jacc >= 1; jacc -= 1)
                yard_put(jtxn, jdbi, &jkey, jsize, MDB_APPEND);
            for (sacc += srecs; sacc >= 1; sacc -= 1)
                yard_put(stxn, sdbi, &skey, ssize, 0);
        }
        if (mdb_txn_commit(jtxn) != 0)
            die("lmdb yardstick: commit");
        if (++sbatches >= 64 || mono_ns() - st0 >= 20000000) {
            if (mdb_txn_commit(stxn) != 0)
                die("lmdb yardstick: commit");
            stxn = NULL;
        }
    }
    if (stxn && mdb_txn_commit(stxn) != 0)
        die("lmdb yardstick: commit");
    double ops_per_s = (double)ops / ((double)(mono_ns() - t0) / 1e9);
    mdb_env_close(senv);
    mdb_env_close(jenv);
    rm_tree(dir);
    return ops_per_s;
}

static lmdb_result_t
lmdb_yardstick(double recs_per_op, double bytes_per_op, double batch_mean, double seconds)
{
    lmdb_result_t res = {0};
    char dir[600];
    snprintf(dir, sizeof dir, "%s/wufei-bench-lmdb-XXXXXX", O.tmp);
    if (!mkdtemp(dir))
        die("mkdtemp: %s", strerror(errno));
    MDB_dbi dbi;
    MDB_env *env = yard_env(dir, &dbi);
    uint64_t key = 1;
    size_t batch = batch_mean >= 1 ? (size_t)llround(batch_mean) : 1;
    /* throughput in batches */
    unsigned long long w0 = self_wchar();
    size_t ops = 50000000;
    int64_t deadline = mono_ns() + (int64_t)(seconds * 1e9);
    uint64_t k0 = key;
    int64_t t = yard_write(env, dbi, &key, ops, batch, recs_per_op, bytes_per_op, NULL, deadline);
    double recs = (double)(key - k0);
    res.ops = recs_per_op > 0 ? (unsigned long long)(recs / recs_per_op) : 0;
    res.ops_per_s = (double)res.ops / (t / 1e9);
    res.wchar_per_op = res.ops ? (double)(self_wchar() - w0) / (double)res.ops : 0;
    /* a lone commit: one operation per transaction */
    size_t lone = 2000;
    int64_t *lat = calloc(lone, sizeof *lat);
    deadline = mono_ns() + 10 * 1000000000LL;
    size_t n = 0;
    while (n < lone && mono_ns() < deadline) {
        int64_t one;
        yard_write(env, dbi, &key, 1, 1, recs_per_op < 1 ? 1 : recs_per_op, bytes_per_op, &one, INT64_MAX);
        lat[n++] = one;
    }
    qsort(lat, n, sizeof *lat, cmp_i64);
    res.lone_commits = n;
    res.lone_p50_us = n ? lat[(size_t)(0.5 * (double)(n - 1))] / 1e3 : 0;
    res.lone_p99_us = n ? lat[(size_t)(0.99 * (double)(n - 1))] / 1e3 : 0;
    free(lat);
    mdb_env_close(env);
    rm_tree(dir);
    return res;
}

/* ------------------------------------------------------------------ */
/* One mode (CURVE on or off)                                         */

typedef struct point {
    double rate, achieved, seconds;
    pct_t p;
    unsigned long long sent, replies, ok;
    double max_lag_us;
    double batch_mean;
    char hist[256];
    char load[64];
    loop_times_t lt;                     /* wufeid runs: its loop's time per batch */
    double cpu_user, cpu_sys, syscw;     /* wufeid runs: its CPU µs and write calls per request */
    double self_user, self_sys;          /* the bench's own CPU µs per request */
    unsigned long long stalls;           /* the stall watch's stalls of 4 ms or more, and */
    double stalled_ms;                   /* their time beyond the sleep, during the run */
    char what[64];
} point_t;

typedef struct mode_result {
    bool curve;
    point_t open[16];
    point_t sat;
    double mean_req, mean_rep;
    double recs_per_op, bytes_per_op, wchar_per_op;
    double jrecs_per_op, jbytes_per_op; /* of those, the journal's */
    double matched_posts_frac;
    point_t echo_open[16];
    point_t echo_sat;
    point_t decho_sat, decho_10k; /* the durable echo: saturation, open at 10k/s */
    lmdb_result_t lmdb;
    double lmdb_split; /* lmdb_split_yardstick: ops/s */
    /* saturation against the LMDB yardstick in back-to-back pairs: the
     * main run's and O.pairs more (the disk's speed drifts between runs) */
    int npairs;
    double pair_sat[10], pair_lmdb[10], pair_ratio[10];
    double ratio_median;
} mode_result_t;

static void
warm_up(int n, bool insecure, bool echo)
{
    run_t w;
    w.echo = echo;
    closed_loop(&w, n, 4, 0.5, insecure);
    run_free(&w);
}

static void
fill_point(point_t *pt, run_t *r, double rate)
{
    pt->rate = rate;
    pt->seconds = r->seconds;
    pt->sent = r->sent;
    pt->replies = r->replies;
    pt->ok = r->ok;
    pt->achieved = (double)r->replies / r->seconds;
    pt->max_lag_us = (double)r->max_lag_ns / 1e3;
    load_avg(pt->load, sizeof pt->load);
}

static void
print_point(const char *what, const point_t *pt)
{
    printf("| %s | %.0f | %.0f | %.1f | %.1f | %.1f | %.1f | %llu | %.2f | %s |\n", what, pt->rate, pt->achieved,
           pt->p.p50, pt->p.p99, pt->p.p999, pt->p.max, pt->p.lost, pt->batch_mean, pt->load);
    fflush(stdout);
}

static void
engine_run(mode_result_t *mr, bool curve, int which, double rate)
{
    daemon_t d;
    daemon_start(&d, curve);
    register_firms(&d, O.clients);
    void *ctx = zmq_ctx_new();
    connect_clients(ctx, d.cmd_ep, O.clients, curve ? d.server_pub : NULL);
    warm_up(O.clients, !curve, false);
    census_t c0, c1;
    bool sat = which < 0;
    if (sat)
        db_census(d.db, &c0);
    report_t rep0, rep1;
    daemon_report(&d, &rep0); /* what the measured run did, without registration and warm-up */
    unsigned long long w0 = proc_io(d.pid, "wchar"), sc0 = proc_io(d.pid, "syscw");
    double u0, s0, bu0, bs0;
    proc_cpu(d.pid, &u0, &s0);
    self_cpu(&bu0, &bs0);
    stall_t sw0 = stall_now();
    run_t r;
    r.echo = false;
    if (sat)
        closed_loop(&r, O.clients, O.window, O.seconds, !curve);
    else
        open_loop(&r, O.clients, rate, O.seconds, !curve);
    unsigned long long w1 = proc_io(d.pid, "wchar"), sc1 = proc_io(d.pid, "syscw");
    double u1, s1, bu1, bs1;
    proc_cpu(d.pid, &u1, &s1);
    self_cpu(&bu1, &bs1);
    stall_t sw1 = stall_now();
    daemon_report(&d, &rep1);
    point_t *pt = sat ? &mr->sat : &mr->open[which];
    fill_point(pt, &r, rate);
    pt->stalls = sw1.n - sw0.n;
    pt->stalled_ms = (double)(sw1.ns - sw0.ns) / 1e6;
    report_diff(&rep0, &rep1, &pt->batch_mean, pt->hist, sizeof pt->hist, &pt->lt);
    double nreq = r.sent ? (double)r.sent : 1.0;
    pt->cpu_user = (u1 - u0) / nreq;
    pt->cpu_sys = (s1 - s0) / nreq;
    pt->syscw = (double)(sc1 - sc0) / nreq;
    pt->self_user = (bu1 - bu0) / nreq;
    pt->self_sys = (bs1 - bs0) / nreq;
    pt->p = percentiles(&r, sat ? r.sent : r.cap);
    close_clients(O.clients);
    zmq_ctx_term(ctx);
    daemon_stop(&d);
    if (sat) {
        db_census(d.db, &c1);
        /* every acknowledged request of the run, window and drain */
        double acked = 0;
        for (size_t i = 0; i < r.cap && i < r.sent; i++)
            acked += r.lat[i] >= 0;
        unsigned long long matches = c1.matches - c0.matches;
        /* rewritten records: a filled resting order and its owner's firm
         * record per match, the order of each cancel */
        double recs = (double)(c1.entries - c0.entries) + 2.0 * (double)matches + (double)r.cancels_ok;
        double bytes = (double)(c1.bytes - c0.bytes) +
                       (double)matches * (8 + sizeof(wf_order_rec_t) + WF_FIRM_ID_LEN + sizeof(wf_firm_rec_t)) +
                       (double)r.cancels_ok * (8 + sizeof(wf_order_rec_t));
        mr->recs_per_op = recs / acked;
        mr->bytes_per_op = bytes / acked;
        mr->jrecs_per_op = (double)(c1.jentries - c0.jentries) / acked;
        mr->jbytes_per_op = (double)(c1.jbytes - c0.jbytes) / acked;
        mr->wchar_per_op = (double)(w1 - w0) / acked;
        mr->mean_req = (double)r.req_bytes / (double)r.sent;
        mr->mean_rep = (double)r.rep_bytes / acked;
        mr->matched_posts_frac = r.posts ? (double)r.matched_posts / (double)r.posts : 0;
        snprintf(pt->what, sizeof pt->what, "wufeid %s sat", curve ? "curve" : "plain");
        print_point(pt->what, pt);
    } else {
        snprintf(pt->what, sizeof pt->what, "wufeid %s open", curve ? "curve" : "plain");
        print_point(pt->what, pt);
    }
    run_free(&r);
    rm_tree(d.dir);
}

static void
echo_run(mode_result_t *mr, bool curve, int which, double rate, bool durable)
{
    echo_t e;
    echo_start(&e, curve, (size_t)llround(mr->mean_rep), durable);
    for (int i = 0; i < O.clients; i++)
        if (curve)
            zmq_curve_keypair(C[i].pub, C[i].sec);
    void *ctx = zmq_ctx_new();
    connect_clients(ctx, e.ep, O.clients, curve ? e.pub : NULL);
    warm_up(O.clients, !curve, true);
    run_t r;
    r.echo = true;
    bool sat = which < 0;
    double bu0, bs0, bu1, bs1;
    self_cpu(&bu0, &bs0);
    stall_t sw0 = stall_now();
    if (sat)
        closed_loop(&r, O.clients, O.window, O.seconds, !curve);
    else
        open_loop(&r, O.clients, rate, O.seconds, !curve);
    self_cpu(&bu1, &bs1);
    stall_t sw1 = stall_now();
    point_t *pt = durable ? (sat ? &mr->decho_sat : &mr->decho_10k) : sat ? &mr->echo_sat : &mr->echo_open[which];
    fill_point(pt, &r, rate);
    pt->stalls = sw1.n - sw0.n;
    pt->stalled_ms = (double)(sw1.ns - sw0.ns) / 1e6;
    pt->self_user = (bu1 - bu0) / (r.sent ? (double)r.sent : 1.0);
    pt->self_sys = (bs1 - bs0) / (r.sent ? (double)r.sent : 1.0);
    pt->p = percentiles(&r, sat ? r.sent : r.cap);
    close_clients(O.clients);
    zmq_ctx_term(ctx);
    echo_stop(&e);
    snprintf(pt->what, sizeof pt->what, "%secho %s %s", durable ? "durable " : "", curve ? "curve" : "plain",
             sat ? "sat" : "open");
    print_point(pt->what, pt);
    run_free(&r);
}

/* The second table: where each run's time went. For wufeid runs, its
 * writer loop's mean time per batch by phase (from its log at stop), its
 * CPU per request (all threads, user and system) and its write system
 * calls per request (LMDB's page writes and syncs, ZeroMQ's sends); for
 * every run, the bench's own CPU per request (load thread, its ZeroMQ I/O
 * thread, the echo thread). */
static void
print_times(const point_t *pt)
{
    if (strncmp(pt->what, "wufeid", 6) == 0)
        printf("| %s | %.0f | %.2f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f | %.1f | %.1f | %llu (%.0f ms) |\n",
               pt->what, pt->rate, pt->batch_mean, pt->lt.wait, pt->lt.read, pt->lt.exec, pt->lt.sign,
               pt->lt.commit, pt->lt.send, pt->lt.wait + pt->lt.read + pt->lt.apply + pt->lt.send, pt->cpu_user,
               pt->cpu_sys, pt->syscw, pt->self_user, pt->self_sys, pt->stalls, pt->stalled_ms);
    else
        printf("| %s | %.0f | - | - | - | - | - | - | - | - | - | - | - | %.1f | %.1f | %llu (%.0f ms) |\n", pt->what,
               pt->rate, pt->self_user, pt->self_sys, pt->stalls, pt->stalled_ms);
}

static void
run_mode(mode_result_t *mr, bool curve)
{
    memset(mr, 0, sizeof *mr);
    mr->curve = curve;
    engine_run(mr, curve, -1, 0);
    for (int i = 0; i < O.nrates; i++)
        engine_run(mr, curve, i, O.rates[i]);
    echo_run(mr, curve, -1, 0, false);
    for (int i = 0; i < O.nrates; i++)
        echo_run(mr, curve, i, O.rates[i], false);
    echo_run(mr, curve, -1, 0, true);
    echo_run(mr, curve, 0, 10000, true);
    mr->lmdb = lmdb_yardstick(mr->recs_per_op, mr->bytes_per_op, mr->sat.batch_mean, 3.0);
    char la[64];
    printf("| lmdb writer (batch %.0f, %.2f rec/op, %.0f B/op) | - | %.0f | lone commit p50 %.1f | p99 %.1f | | | | | %s |\n",
           mr->sat.batch_mean, mr->recs_per_op, mr->bytes_per_op, mr->lmdb.ops_per_s, mr->lmdb.lone_p50_us,
           mr->lmdb.lone_p99_us, load_avg(la, sizeof la));
    fflush(stdout);
    mr->lmdb_split = lmdb_split_yardstick(mr->recs_per_op, mr->bytes_per_op, mr->jrecs_per_op, mr->jbytes_per_op,
                                          mr->sat.batch_mean, 3.0);
    printf("| lmdb writer, two files (journal %.2f rec/op, %.0f B/op, synced; state unsynced) | - | %.0f | | | | | | | %s |\n",
           mr->jrecs_per_op, mr->jbytes_per_op, mr->lmdb_split, load_avg(la, sizeof la));
    fflush(stdout);
    mr->pair_sat[0] = mr->sat.achieved;
    mr->pair_lmdb[0] = mr->lmdb.ops_per_s;
    mr->npairs = 1;
    for (int k = 0; k < O.pairs; k++) {
        static mode_result_t keep;
        keep = *mr;
        engine_run(mr, curve, -1, 0);
        lmdb_result_t l = lmdb_yardstick(mr->recs_per_op, mr->bytes_per_op, mr->sat.batch_mean, 3.0);
        printf("| lmdb writer (batch %.0f, %.2f rec/op, %.0f B/op) | - | %.0f | | | | | | | %s |\n",
               mr->sat.batch_mean, mr->recs_per_op, mr->bytes_per_op, l.ops_per_s, load_avg(la, sizeof la));
        fflush(stdout);
        double sat = mr->sat.achieved;
        *mr = keep; /* the tables and the JSON describe the main run */
        mr->pair_sat[mr->npairs] = sat;
        mr->pair_lmdb[mr->npairs] = l.ops_per_s;
        mr->npairs++;
    }
    double sorted[10];
    for (int k = 0; k < mr->npairs; k++) {
        double lower = fmin(mr->echo_sat.achieved, mr->pair_lmdb[k]);
        mr->pair_ratio[k] = lower > 0 ? mr->pair_sat[k] / lower : 0;
        sorted[k] = mr->pair_ratio[k];
    }
    qsort(sorted, (size_t)mr->npairs, sizeof *sorted, cmp_double);
    mr->ratio_median = mr->npairs % 2 ? sorted[mr->npairs / 2]
                                      : (sorted[mr->npairs / 2 - 1] + sorted[mr->npairs / 2]) / 2;
}

/* ------------------------------------------------------------------ */
/* JSON                                                               */

static void
json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.3f", v);
    else
        fprintf(f, "null");
}

static void
json_point(FILE *f, const point_t *pt)
{
    fprintf(f, "{\"offered\":%.0f,\"acked_per_s\":", pt->rate);
    json_num(f, pt->achieved);
    fprintf(f, ",\"p50_us\":");
    json_num(f, pt->p.p50);
    fprintf(f, ",\"p99_us\":");
    json_num(f, pt->p.p99);
    fprintf(f, ",\"p999_us\":");
    json_num(f, pt->p.p999);
    fprintf(f, ",\"max_us\":");
    json_num(f, pt->p.max);
    fprintf(f, ",\"lost\":%llu,\"sent\":%llu,\"ok\":%llu,\"max_send_lag_us\":", pt->p.lost, pt->sent, pt->ok);
    json_num(f, pt->max_lag_us);
    fprintf(f, ",\"batch_mean\":");
    json_num(f, pt->batch_mean);
    fprintf(f, ",\"batch_sizes\":\"%s\",\"loadavg\":\"%s\"", pt->hist, pt->load);
    fprintf(f, ",\"batch_us\":{\"wait\":%.1f,\"read\":%.1f,\"apply\":%.1f,\"exec\":%.1f,\"sign\":%.1f,"
               "\"commit\":%.1f,\"send\":%.1f}",
            pt->lt.wait, pt->lt.read, pt->lt.apply, pt->lt.exec, pt->lt.sign, pt->lt.commit, pt->lt.send);
    fprintf(f, ",\"wufeid_user_us_per_op\":%.2f,\"wufeid_sys_us_per_op\":%.2f,\"wufeid_write_calls_per_op\":%.3f,"
               "\"bench_user_us_per_op\":%.2f,\"bench_sys_us_per_op\":%.2f,\"stalls_4ms\":%llu,\"stalled_ms\":%.1f}",
            pt->cpu_user, pt->cpu_sys, pt->syscw, pt->self_user, pt->self_sys, pt->stalls, pt->stalled_ms);
}

static const point_t *
at_rate(const point_t *pts, double rate)
{
    for (int i = 0; i < O.nrates; i++)
        if (O.rates[i] == rate)
            return &pts[i];
    return NULL;
}

/* ------------------------------------------------------------------ */

static void
usage(void)
{
    fprintf(stderr,
            "usage: bench-e2e [--wufeid PATH] [--clients N] [--seconds S] [--window W]\n"
            "                 [--rates R1,R2,...] [--modes plain,curve] [--tmp DIR] [--seed N]\n"
            "                 [--pairs N]\n"
            "defaults: wufeid beside the bench's build dir, 8 clients, 5 s per run, window 64,\n"
            "rates 5000,10000,20000,50000, both modes, TMPDIR or /tmp, seed 1, 2 more pairs of a\n"
            "saturation run and its LMDB yardstick after the main runs (0 to 9)\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    static char self_dir[PATH_MAX], wufeid_default[PATH_MAX + 16];
    ssize_t n = readlink("/proc/self/exe", self_dir, sizeof self_dir - 1);
    if (n > 0) {
        self_dir[n] = 0;
        char *d = dirname(self_dir); /* build/bench */
        d = dirname(d);              /* build */
        snprintf(wufeid_default, sizeof wufeid_default, "%s/wufeid", d);
    }
    O.wufeid = wufeid_default;
    O.clients = 8;
    O.seconds = 5;
    O.window = 64; /* 8 x 64 = 512 in flight, twice the batch limit (see below) */
    O.rates[0] = 5000;
    O.rates[1] = 10000;
    O.rates[2] = 20000;
    O.rates[3] = 50000;
    O.nrates = 4;
    O.plain = O.curve = true;
    O.tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    O.seed = 1;
    O.pairs = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            usage();
        if (strcmp(a, "--wufeid") == 0)
            O.wufeid = v;
        else if (strcmp(a, "--clients") == 0)
            O.clients = atoi(v);
        else if (strcmp(a, "--seconds") == 0)
            O.seconds = atof(v);
        else if (strcmp(a, "--window") == 0)
            O.window = atoi(v);
        else if (strcmp(a, "--tmp") == 0)
            O.tmp = v;
        else if (strcmp(a, "--seed") == 0)
            O.seed = strtoull(v, NULL, 10);
        else if (strcmp(a, "--pairs") == 0)
            O.pairs = atoi(v);
        else if (strcmp(a, "--modes") == 0) {
            O.plain = strstr(v, "plain") != NULL;
            O.curve = strstr(v, "curve") != NULL;
        } else if (strcmp(a, "--rates") == 0) {
            O.nrates = 0;
            char buf[256];
            snprintf(buf, sizeof buf, "%s", v);
            for (char *s = NULL, *t = strtok_r(buf, ",", &s); t && O.nrates < 16; t = strtok_r(NULL, ",", &s))
                O.rates[O.nrates++] = atof(t);
        } else
            usage();
        i++;
    }
    if (O.clients < 1 || O.clients > MAX_CLIENTS || O.seconds <= 0 || O.seconds > 60 || O.window < 1 ||
        O.window > 4096 || O.nrates < 1 || (!O.plain && !O.curve) || O.pairs < 0 || O.pairs > 9)
        usage();
    for (int i = 0; i < O.nrates; i++)
        if (O.rates[i] < 1 || O.rates[i] > 1e6)
            usage();
    if (access(O.wufeid, X_OK) != 0)
        die("no wufeid at %s (--wufeid PATH)", O.wufeid);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    signal(SIGPIPE, SIG_IGN);
    RNG = O.seed;
    msgpack_sbuffer_init(&SB);
    stall_start();

    char la[64];
    printf("bench-e2e: wufeid %s, %d clients, %.1f s per run, window %d, nproc %ld, loadavg %s\n", O.wufeid,
           O.clients, O.seconds, O.window, sysconf(_SC_NPROCESSORS_ONLN), load_avg(la, sizeof la));
    printf("| run | offered/s | acked/s | p50 µs | p99 µs | p99.9 µs | max µs | lost | batch mean | loadavg |\n");
    printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
    fflush(stdout);

    static mode_result_t M[2];
    int nm = 0;
    if (O.plain)
        run_mode(&M[nm++], false);
    if (O.curve)
        run_mode(&M[nm++], true);

    printf("\nWhere the time goes (wufeid: mean µs per batch by phase of its writer loop, then its CPU and write "
           "system calls per request; every run: the bench's own CPU per request and the stalls the stall watch saw, moments of 4 ms or more when nothing on the machine ran):\n\n");
    printf("| run | offered/s | batch mean | wait | read | exec | sign | commit | send | turn | wufeid usr µs/op | "
           "wufeid sys µs/op | write calls/op | bench usr µs/op | bench sys µs/op | stalls >= 4 ms |\n");
    printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (int i = 0; i < nm; i++) {
        mode_result_t *m = &M[i];
        print_times(&m->sat);
        for (int j = 0; j < O.nrates; j++)
            print_times(&m->open[j]);
        print_times(&m->echo_sat);
        for (int j = 0; j < O.nrates; j++)
            print_times(&m->echo_open[j]);
        print_times(&m->decho_sat);
        print_times(&m->decho_10k);
    }

    /* targets and the JSON line */
    printf("\n");
    for (int i = 0; i < nm; i++) {
        mode_result_t *m = &M[i];
        const char *mode = m->curve ? "curve" : "plain";
        printf("%s: saturation / the lower yardstick (echo %.0f, lmdb) in %d back-to-back pairs:", mode,
               m->echo_sat.achieved, m->npairs);
        for (int k = 0; k < m->npairs; k++)
            printf(" %.0f/%.0f = %.3f%s", m->pair_sat[k], fmin(m->echo_sat.achieved, m->pair_lmdb[k]),
                   m->pair_ratio[k], k + 1 < m->npairs ? "," : "");
        printf("; median %.3f >= 0.5: %s\n", m->ratio_median, m->ratio_median >= 0.5 ? "PASS" : "FAIL");
        printf("%s: (against the LMDB writer with wufeid's two files and sync settings, %.0f ops/s: %.3f)\n", mode,
               m->lmdb_split, m->lmdb_split > 0 ? m->sat.achieved / m->lmdb_split : 0);
        const point_t *e10 = at_rate(m->open, 10000), *x10 = at_rate(m->echo_open, 10000);
        if (e10 && x10) {
            double bound = 1.5 * (x10->p.p99 + m->lmdb.lone_p99_us);
            printf("%s: p99 at 10k/s %.1f µs <= 1.5 x (echo p99 %.1f + lone commit p99 %.1f) = %.1f: %s\n", mode,
                   e10->p.p99, x10->p.p99, m->lmdb.lone_p99_us, bound, e10->p.p99 <= bound ? "PASS" : "FAIL");
            printf("%s: (the durable echo, one write and one fdatasync per batch and nothing else: p99 at 10k/s "
                   "%.1f µs, %s that bound; saturation %.0f/s)\n",
                   mode, m->decho_10k.p.p99, m->decho_10k.p.p99 <= bound ? "within" : "over", m->decho_sat.achieved);
        }
        const point_t *e50 = at_rate(m->open, 50000);
        if (e50)
            printf("%s: 50k/s offered: %s (acked %.0f/s, lost %llu, p99 %.1f µs)\n", mode,
                   e50->achieved >= 0.98 * 50000 && e50->p.lost == 0 ? "sustained" : "NOT sustained",
                   e50->achieved, e50->p.lost, e50->p.p99);
        printf("%s: every reply after its commit: by design (wf_engine_apply commits before it returns; "
               "replies are sent after)\n", mode);
    }
    printf("{\"bench\":\"e2e\",\"clients\":%d,\"seconds\":%.1f,\"window\":%d,\"nproc\":%ld,\"loadavg_end\":\"%s\",\"modes\":[",
           O.clients, O.seconds, O.window, sysconf(_SC_NPROCESSORS_ONLN), load_avg(la, sizeof la));
    for (int i = 0; i < nm; i++) {
        mode_result_t *m = &M[i];
        printf("%s{\"mode\":\"%s\",\"saturation\":", i ? "," : "", m->curve ? "curve" : "plain");
        json_point(stdout, &m->sat);
        printf(",\"open\":[");
        for (int j = 0; j < O.nrates; j++) {
            if (j)
                printf(",");
            json_point(stdout, &m->open[j]);
        }
        printf("],\"req_bytes\":%.1f,\"reply_bytes\":%.1f,\"matched_post_frac\":%.3f,"
               "\"records_per_op\":%.3f,\"bytes_per_op\":%.1f,\"wchar_per_op\":%.1f,\"echo_saturation\":",
               m->mean_req, m->mean_rep, m->matched_posts_frac, m->recs_per_op, m->bytes_per_op, m->wchar_per_op);
        json_point(stdout, &m->echo_sat);
        printf(",\"echo_open\":[");
        for (int j = 0; j < O.nrates; j++) {
            if (j)
                printf(",");
            json_point(stdout, &m->echo_open[j]);
        }
        const point_t *e10 = at_rate(m->open, 10000), *x10 = at_rate(m->echo_open, 10000);
        printf("],\"lmdb\":{\"batch\":%.0f,\"ops_per_s\":%.0f,\"wchar_per_op\":%.1f,\"lone_commit_p50_us\":%.1f,"
               "\"lone_commit_p99_us\":%.1f,\"lone_commits\":%llu},",
               m->sat.batch_mean, m->lmdb.ops_per_s, m->lmdb.wchar_per_op, m->lmdb.lone_p50_us, m->lmdb.lone_p99_us,
               m->lmdb.lone_commits);
        printf("\"sat_over_echo\":");
        json_num(stdout, m->sat.achieved / m->echo_sat.achieved);
        printf(",\"sat_over_lmdb\":");
        json_num(stdout, m->sat.achieved / m->lmdb.ops_per_s);
        printf(",\"pairs\":[");
        for (int k = 0; k < m->npairs; k++)
            printf("%s{\"sat\":%.0f,\"lmdb\":%.0f,\"ratio\":%.3f}", k ? "," : "", m->pair_sat[k],
                   m->pair_lmdb[k], m->pair_ratio[k]);
        printf("],\"sat_ratio_median\":%.3f", m->ratio_median);
        printf(",\"lmdb_two_files\":{\"journal_records_per_op\":%.3f,\"journal_bytes_per_op\":%.1f,"
               "\"ops_per_s\":%.0f,\"sat_over\":%.3f}",
               m->jrecs_per_op, m->jbytes_per_op, m->lmdb_split, m->lmdb_split > 0 ? m->sat.achieved / m->lmdb_split : 0);
        printf(",\"durable_echo\":{\"saturation\":");
        json_point(stdout, &m->decho_sat);
        printf(",\"open_10k\":");
        json_point(stdout, &m->decho_10k);
        printf("}");
        printf(",\"target_sat\":%s", m->ratio_median >= 0.5 ? "true" : "false");
        if (e10 && x10) {
            double bound = 1.5 * (x10->p.p99 + m->lmdb.lone_p99_us);
            printf(",\"p99_10k_over_bound\":");
            json_num(stdout, e10->p.p99 / bound);
            printf(",\"target_p99_10k\":%s", e10->p.p99 <= bound ? "true" : "false");
            printf(",\"durable_echo_p99_10k_over_bound\":");
            json_num(stdout, m->decho_10k.p.p99 / bound);
        }
        printf(",\"reply_after_commit\":\"by design\"}");
    }
    printf("]}\n");
    msgpack_sbuffer_destroy(&SB);
    return 0;
}
