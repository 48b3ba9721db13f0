/* Crash safety of the store (kill -9 fault injection, as SQLite's
 * *fault.test do it). A child process opens the engine with sync on and
 * applies batches of matching offers and demands, writing each
 * acknowledged order id to a pipe only after wf_engine_apply() returned.
 * The parent kills it with SIGKILL after a random (seeded) delay, then
 * reads the database directly and checks that every acknowledged order is
 * there and nothing is half-applied: each order's filled quantity equals
 * the sum of its matches, every match has its manifest and its stream
 * message, and the journal is gap-free with one entry per accepted
 * command. Then the engine must reopen with a book that agrees. Many
 * rounds run on the same database, so recovery is tested on recovered
 * state too. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/audit.h"
#include "engine/engine.h"
#include "engine/store_int.h"
#include "wf_alloc.h"
#include "wf_clock.h"
#include "wf_error.h"

/* Checks in loops over every record: only a failure talks to the Criterion
 * runner (a passing cr_assert is a message too under --full-stats). */
#define CHECK(cond, ...)                 \
    do {                                 \
        if (!(cond))                     \
            cr_assert_fail(__VA_ARGS__); \
    } while (0)

#define ROUNDS 20
#define SEED 20240611u
#define OP WF_OPERATOR_ID

static const char *const firms[4] = {"P00000000000000001", "P00000000000000002",
                                     "C00000000000000001", "C00000000000000002"};
static const char *const codes[3] = {"SW07", "SW02", "900-249-08"};

static wf_cmd_t
firm_cmd(int i)
{
    wf_cmd_t c;
    memset(&c, 0, sizeof c);
    c.op = WF_OP_FIRM_PUT;
    snprintf(c.as, sizeof c.as, "%s", OP);
    snprintf(c.u.firm.firm, sizeof c.u.firm.firm, "%s", firms[i]);
    snprintf(c.u.firm.name, sizeof c.u.firm.name, "crash firm %d", i);
    c.u.firm.roles = i < 2 ? WF_ROLE_PRODUCER : WF_ROLE_CONSUMER;
    c.u.firm.lat = 30.0 + 0.01 * i;
    c.u.firm.lon = 120.5 + 0.01 * i;
    c.u.firm.county = 330602;
    return c;
}

/* A licence over HW08 for consumer i (2 or 3), so its HW08 demand is
 * accepted and its fills write licence usage too. */
static wf_cmd_t
licence_cmd(int i)
{
    wf_cmd_t c;
    memset(&c, 0, sizeof c);
    c.op = WF_OP_LICENCE_PUT;
    snprintf(c.as, sizeof c.as, "%s", OP);
    snprintf(c.u.licence.firm, sizeof c.u.licence.firm, "%s", firms[i]);
    c.u.licence.ncodes = 1;
    snprintf(c.u.licence.codes[0], sizeof c.u.licence.codes[0], "HW08");
    c.u.licence.capacity = 1000000000;
    c.u.licence.valid_until = INT64_MAX;
    return c;
}

static wf_cmd_t
post_cmd(unsigned *rs)
{
    wf_cmd_t c;
    memset(&c, 0, sizeof c);
    bool off = rand_r(rs) % 2;
    int f = (off ? 0 : 2) + (int)(rand_r(rs) % 2);
    const char *code = codes[rand_r(rs) % 3];
    c.op = off ? WF_OP_OFFER_POST : WF_OP_DEMAND_POST;
    snprintf(c.as, sizeof c.as, "%s", firms[f]);
    c.u.post.qty = 1 + rand_r(rs) % 500;
    c.u.post.price = off ? (int64_t)(rand_r(rs) % 100) : 50 + (int64_t)(rand_r(rs) % 100);
    if (off) {
        snprintf(c.u.post.code, sizeof c.u.post.code, "%s", code);
    } else {
        c.u.post.ncodes = 1;
        snprintf(c.u.post.codes[0], sizeof c.u.post.codes[0], "%s",
                 code[0] == '9' ? "HW08" : code);
    }
    if (rand_r(rs) % 10 == 0)
        c.u.post.qty = 0; /* a failing command now and then */
    return c;
}

/* The child: posts until killed. Never returns. With kill_at, the engine
 * kills it between the journal commit and the state commit of the first
 * batch that takes the journal to kill_at; with boot, it runs as if on
 * that machine boot. */
static void
child_main(const char *dir, int fd, unsigned seed, uint64_t kill_at, const char *boot)
{
    char err[256];
    if (kill_at) {
        char v[32];
        snprintf(v, sizeof v, "%llu", (unsigned long long)kill_at);
        setenv("WUFEI_TEST_KILL_AFTER_JOURNAL", v, 1);
    }
    if (boot)
        setenv("WUFEI_BOOT_ID", boot, 1);
    wf_engine_opts_t o = {.dir = dir, .catalogue = WUFEI_CATALOGUE, .no_sync = false};
    wf_engine_t *e = wf_engine_new(&o, err, sizeof err);
    if (!e) {
        fprintf(stderr, "child: %s\n", err);
        _exit(2);
    }
    static wf_cmd_t cmds[WF_BATCH_MAX];
    static wf_reply_t replies[WF_BATCH_MAX];
    wf_outbox_t out;
    for (int i = 0; i < 4; i++)
        cmds[i] = firm_cmd(i);
    cmds[4] = licence_cmd(2);
    cmds[5] = licence_cmd(3);
    if (wf_engine_apply(e, cmds, 6, wf_now_ms(), replies, &out) != WF_OK)
        _exit(3);
    for (int i = 0; i < 6; i++)
        if (replies[i].err != WF_OK)
            _exit(3);
    uint64_t ready = 0; /* id 0: open, the kill timer may start */
    if (write(fd, &ready, sizeof ready) != sizeof ready)
        _exit(5);
    unsigned rs = seed;
    for (;;) {
        size_t n = 1 + rand_r(&rs) % 16;
        for (size_t i = 0; i < n; i++)
            cmds[i] = post_cmd(&rs);
        if (wf_engine_apply(e, cmds, n, wf_now_ms(), replies, &out) != WF_OK)
            _exit(4);
        for (size_t i = 0; i < n; i++) {
            if (replies[i].err != WF_OK)
                continue;
            uint64_t id = wf_id_parse(replies[i].id, replies[i].id[0]);
            if (write(fd, &id, sizeof id) != sizeof id)
                _exit(5);
        }
    }
}

typedef struct {
    uint64_t *ids;
    size_t n, cap;
    unsigned char buf[8];
    size_t have;
    bool ready; /* the child has opened the engine */
} acked_t;

static void
take(acked_t *a, const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        a->buf[a->have++] = p[i];
        if (a->have < 8)
            continue;
        if (a->n == a->cap) {
            a->cap = a->cap ? 2 * a->cap : 1024;
            a->ids = wf_realloc(a->ids, a->cap * sizeof *a->ids);
        }
        uint64_t id;
        memcpy(&id, a->buf, 8);
        a->have = 0;
        if (id == 0) {
            a->ready = true;
            continue;
        }
        a->ids[a->n++] = id;
    }
}

/* Reads what is available until the deadline (ms) or EOF; deadline < 0
 * reads to EOF. With until_ready, returns as soon as the child is ready. */
static void
drain(int fd, acked_t *a, int64_t deadline, bool until_ready)
{
    unsigned char buf[4096];
    while (!(until_ready && a->ready)) {
        int wait = -1;
        if (deadline >= 0) {
            int64_t left = deadline - wf_now_ms();
            if (left <= 0)
                return;
            wait = (int)left;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int rc = poll(&p, 1, wait);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return;
        ssize_t got = read(fd, buf, sizeof buf);
        if (got <= 0)
            return;
        take(a, buf, (size_t)got);
    }
}

typedef struct {
    MDB_txn *txn;   /* the state's snapshot */
    MDB_txn *jtxn;  /* the journal's, taken after it */
    wf_store_t s;
} view_t;

/* The view is of what a start would find: journal.mdb with what
 * journal.wal holds past it (a kill leaves the batches since the last
 * journal commit there). */
static void
view_open(view_t *v, const char *dir)
{
    memset(v, 0, sizeof *v);
    char err[256];
    uint64_t logged;
    cr_assert_eq(wf_store__settle_journal(dir, &logged, err, sizeof err), WF_OK, "%s", err);
    cr_assert_eq(wf_store__open_readonly(&v->s, dir, err, sizeof err), WF_OK, "%s", err);
    cr_assert_eq(mdb_txn_begin(v->s.env, NULL, MDB_RDONLY, &v->txn), 0);
    cr_assert_eq(mdb_txn_begin(v->s.jenv, NULL, MDB_RDONLY, &v->jtxn), 0);
}

static void
view_close(view_t *v)
{
    mdb_txn_abort(v->txn);
    mdb_txn_abort(v->jtxn);
    wf_store__close(&v->s);
}

static size_t
entries(view_t *v, MDB_dbi dbi)
{
    MDB_stat st;
    cr_assert_eq(mdb_stat(v->txn, dbi, &st), 0);
    return st.ms_entries;
}

/* Sums match quantities per order id; checks each match's manifest. */
static int64_t *
match_sums(view_t *v, uint64_t max_order, size_t *nmatches)
{
    int64_t *sum = wf_calloc(max_order + 1, sizeof *sum);
    MDB_cursor *c;
    MDB_val k, d;
    CHECK((mdb_cursor_open(v->txn, v->s.matches, &c)) == (0), "mdb_cursor_open(v->txn, v->s.matches, &c) != 0");
    *nmatches = 0;
    for (int rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        wf_match_rec_t m;
        CHECK((d.mv_size) == (sizeof m), "d.mv_size != sizeof m");
        memcpy(&m, d.mv_data, sizeof m);
        CHECK(m.offer <= max_order && m.demand <= max_order, "match M%llu names an unknown order",
                  (unsigned long long)m.id);
        sum[m.offer] += m.qty;
        sum[m.demand] += m.qty;
        wf_manifest_rec_t mf;
        uint8_t key[8];
        wf_store__be64(key, m.manifest);
        CHECK(wf_store__get(v->txn, v->s.manifests, key, 8, &mf, sizeof mf) == WF_OK,
                     "match M%llu has no manifest", (unsigned long long)m.id);
        CHECK((mf.match) == (m.id), "mf.match != m.id");
        CHECK((mf.qty) == (m.qty), "mf.qty != m.qty");
        CHECK((mf.state) == (WF_MANIFEST_OPEN), "mf.state != WF_MANIFEST_OPEN");
        (*nmatches)++;
    }
    mdb_cursor_close(c);
    return sum;
}

/* Checks the whole database; returns the number of live orders. Right
 * after a kill (settled false) the state may lag the journal by the batch
 * the kill interrupted between its two commits: the state must then be
 * consistent in itself and equal to a prefix of the journal, and every
 * acknowledged post must be in the journal. Settled (after a reopen that
 * replayed the journal's tail), every acknowledged order is in the state
 * and the state holds the whole journal. */
static size_t
verify(const char *dir, const acked_t *a, bool settled)
{
    view_t v;
    view_open(&v, dir);
    uint64_t max_order = 0;
    for (size_t i = 0; i < a->n; i++)
        max_order = a->ids[i] > max_order ? a->ids[i] : max_order;
    size_t norders = entries(&v, v.s.orders);
    max_order = max_order > norders ? max_order : norders;
    size_t nmatches;
    int64_t *sum = match_sums(&v, max_order, &nmatches);
    for (size_t i = 0; settled && i < a->n; i++) {
        uint8_t key[8];
        wf_order_rec_t r;
        wf_store__be64(key, a->ids[i]);
        CHECK(wf_store__get(v.txn, v.s.orders, key, 8, &r, sizeof r) == WF_OK,
                     "acknowledged order %llu is lost", (unsigned long long)a->ids[i]);
    }
    size_t live = 0;
    MDB_cursor *c;
    MDB_val k, d;
    CHECK((mdb_cursor_open(v.txn, v.s.orders, &c)) == (0), "mdb_cursor_open(v.txn, v.s.orders, &c) != 0");
    uint64_t expect = 1;
    for (int rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT), expect++) {
        wf_order_rec_t r;
        memcpy(&r, d.mv_data, sizeof r);
        CHECK(r.id == expect, "order ids have a gap at %llu", (unsigned long long)expect);
        CHECK(r.qty - r.remaining == sum[r.id], "order %llu: filled %lld, matches %lld",
                     (unsigned long long)r.id, (long long)(r.qty - r.remaining),
                     (long long)sum[r.id]);
        CHECK(r.state == WF_ORDER_LIVE ? r.remaining > 0 : r.remaining == 0,
              "order %llu: state %d with %lld remaining", (unsigned long long)r.id, r.state,
              (long long)r.remaining);
        live += r.state == WF_ORDER_LIVE;
    }
    mdb_cursor_close(c);
    wf_free(sum);
    CHECK((entries(&v, v.s.firm_orders)) == (norders), "entries(&v, v.s.firm_orders) != norders");
    cr_assert_eq(entries(&v, v.s.stream), nmatches, "one stream message per match");
    uint64_t last, applied;
    CHECK(wf_journal__last(v.jtxn, &v.s, &last) == WF_OK, "cannot read the journal's end");
    CHECK(wf_store__applied(v.txn, &v.s, &applied) == WF_OK, "cannot read the state's seq");
    MDB_stat st;
    cr_assert_eq(mdb_stat(v.jtxn, v.s.journal, &st), 0);
    cr_assert_eq(st.ms_entries, last, "the journal has a gap");
    cr_assert(applied <= last, "the state holds entry %llu, the journal ends at %llu",
              (unsigned long long)applied, (unsigned long long)last);
    if (settled)
        cr_assert_eq(applied, last, "a reopen left journal entries out of the state");
    size_t posts = 0, posts_all = 0;
    for (uint64_t s = 1; s <= last; s++) {
        wf_journal_rec_t j;
        CHECK((wf_journal__get(v.jtxn, &v.s, s, &j)) == (WF_OK), "wf_journal__get(v.jtxn, &v.s, s, &j) != WF_OK");
        bool post = j.cmd.op == WF_OP_OFFER_POST || j.cmd.op == WF_OP_DEMAND_POST;
        posts += post && s <= applied;
        posts_all += post;
    }
    cr_assert_eq(posts, norders, "journaled posts %zu, orders %zu", posts, norders);
    /* order ids are minted in journal order, one per post */
    for (size_t i = 0; i < a->n; i++)
        CHECK(a->ids[i] <= posts_all, "acknowledged order %llu is not in the journal (%zu posts)",
              (unsigned long long)a->ids[i], posts_all);
    view_close(&v);
    return live;
}

static void
one_round_as(const char *dir, acked_t *a, unsigned *rs, int round, uint64_t kill_at,
             const char *boot)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) { /* no Criterion calls in the child: they talk to the runner */
        close(fds[0]);
        child_main(dir, fds[1], SEED + (unsigned)round, kill_at, boot);
    }
    cr_assert(pid > 0);
    close(fds[1]);
    a->ready = false;
    drain(fds[0], a, wf_now_ms() + 10000, true);
    if (!a->ready) {
        int st = 0;
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        cr_assert_fail("the child did not open the engine (status %s %d)",
                       WIFSIGNALED(st) ? "signal" : "exit",
                       WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
    }
    if (kill_at) { /* the engine kills the child itself */
        drain(fds[0], a, wf_now_ms() + 60000, false);
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "the child was to be killed between its commits");
        drain(fds[0], a, -1, false);
        close(fds[0]);
        cr_assert_eq(a->have, 0, "a torn id in the pipe");
        return;
    }
    /* Kill at a random moment after the first acknowledgement of this
     * round, so a slow (loaded) machine still tests something each round. */
    size_t n0 = a->n;
    for (int64_t give_up = wf_now_ms() + 10000; a->n == n0 && wf_now_ms() < give_up;)
        drain(fds[0], a, wf_now_ms() + 20, false);
    int64_t delay = 5 + rand_r(rs) % 200;
    drain(fds[0], a, wf_now_ms() + delay, false);
    kill(pid, SIGKILL);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status), "child exited with %d before the kill",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    drain(fds[0], a, -1, false);
    close(fds[0]);
    cr_assert_eq(a->have, 0, "a torn id in the pipe");
}

static void
one_round(const char *dir, acked_t *a, unsigned *rs, int round)
{
    one_round_as(dir, a, rs, round, 0, NULL);
}

/* The state's "applied" seq and the journal's last. */
static void
seqs(const char *dir, uint64_t *applied, uint64_t *last)
{
    view_t v;
    view_open(&v, dir);
    cr_assert_eq(wf_store__applied(v.txn, &v.s, applied), WF_OK);
    cr_assert_eq(wf_journal__last(v.jtxn, &v.s, last), WF_OK);
    view_close(&v);
}

/* Opens and closes the engine on dir (as boot, when not NULL); returns
 * what the start replayed and whether it rebuilt the state; checks the
 * book against the settled store and the state against a replay of the
 * whole journal. */
static uint64_t
reopen(const char *dir, const acked_t *a, const char *boot, bool *rebuilt)
{
    if (boot)
        setenv("WUFEI_BOOT_ID", boot, 1);
    char err[512];
    wf_engine_opts_t o = {.dir = dir, .catalogue = WUFEI_CATALOGUE};
    wf_engine_t *e = wf_engine_new(&o, err, sizeof err);
    unsetenv("WUFEI_BOOT_ID");
    cr_assert(e, "reopen: %s", err);
    size_t book = wf_book_count(wf_engine_book(e));
    uint64_t replayed;
    wf_engine_recovery(e, &replayed, rebuilt);
    wf_engine_destroy(&e);
    cr_assert_eq(book, verify(dir, a, true), "the rebuilt book disagrees");
    wf_replay_report_t rep;
    cr_assert_eq(wf_engine_replay(dir, WUFEI_CATALOGUE, NULL, &rep, err, sizeof err), WF_OK, "%s",
                 err);
    cr_assert(rep.equal, "the state is not the journal replayed: %s", rep.problem);
    return replayed;
}

/* A kill between a batch's journal commit (the commit point: its replies
 * may already be on their way) and its state commit: the state lags the
 * journal by that batch, and the next start replays it. */
Test(store, a_kill_between_the_two_commits_is_replayed_at_start, .timeout = 120)
{
    char dir[] = "/tmp/wf_crash_XXXXXX";
    cr_assert(mkdtemp(dir));
    acked_t a = {0};
    unsigned rs = SEED;
    uint64_t applied = 0, last = 0;
    for (int round = 0; round < 4; round++) {
        one_round_as(dir, &a, &rs, round, last + 50 + 37 * (uint64_t)round, NULL);
        verify(dir, &a, false);
        seqs(dir, &applied, &last);
        cr_assert_lt(applied, last, "the kill came after the state commit");
        bool rebuilt;
        uint64_t replayed = reopen(dir, &a, NULL, &rebuilt);
        cr_assert_not(rebuilt);
        cr_assert_eq(replayed, last - applied, "the start replayed %llu of %llu entries",
                     (unsigned long long)replayed, (unsigned long long)(last - applied));
        seqs(dir, &applied, &last);
        cr_assert_eq(applied, last);
    }
    cr_log_info("4 kills between the commits, %zu acknowledged orders checked", a.n);
    wf_free(a.ids);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Zeroes every page of data.mdb after its two meta pages, as a machine
 * restart can leave a state file whose last writes never reached the
 * disk. */
static void
tear_state(const char *dir)
{
    char path[128];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    int fd = open(path, O_WRONLY);
    cr_assert(fd >= 0);
    off_t size = lseek(fd, 0, SEEK_END);
    static char zero[4096];
    for (off_t off = 2 * 4096; off < size; off += 4096)
        cr_assert_eq(pwrite(fd, zero, sizeof zero, off), (ssize_t)sizeof zero);
    close(fd);
}

/* After an unclean stop and a machine restart (another boot id) the state
 * file is not trusted: the start drops it and rebuilds it from the whole
 * journal. A clean stop, or a kill on the same boot, keeps it. */
Test(store, a_machine_restart_after_an_unclean_stop_rebuilds_the_state, .timeout = 120)
{
    char dir[] = "/tmp/wf_crash_XXXXXX";
    cr_assert(mkdtemp(dir));
    acked_t a = {0};
    unsigned rs = SEED;
    bool rebuilt;
    /* a kill on boot A, a start on boot A: the state is kept */
    one_round_as(dir, &a, &rs, 0, 0, "boot-A");
    reopen(dir, &a, "boot-A", &rebuilt);
    cr_assert_not(rebuilt, "a kill on the same boot dropped the state");
    /* that start closed cleanly: a start on boot B keeps the state too */
    reopen(dir, &a, "boot-B", &rebuilt);
    cr_assert_not(rebuilt, "a clean stop's state was dropped after a restart");
    /* a kill on boot B, the state file torn, a start on boot C: rebuilt */
    one_round_as(dir, &a, &rs, 1, 0, "boot-B");
    uint64_t applied, last;
    seqs(dir, &applied, &last);
    tear_state(dir);
    uint64_t replayed = reopen(dir, &a, "boot-C", &rebuilt);
    cr_assert(rebuilt, "a torn state file after a machine restart was trusted");
    cr_assert_eq(replayed, last, "the rebuild replayed %llu of %llu entries",
                 (unsigned long long)replayed, (unsigned long long)last);
    cr_log_info("rebuilt the state from %llu journal entries, %zu acknowledged orders checked",
                (unsigned long long)last, a.n);
    wf_free(a.ids);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(store, kill9_never_half_applies, .timeout = 120)
{
    char dir[] = "/tmp/wf_crash_XXXXXX";
    cr_assert(mkdtemp(dir));
    acked_t a = {0};
    unsigned rs = SEED;
    size_t before = 0;
    int replays = 0;
    for (int round = 0; round < ROUNDS; round++) {
        one_round(dir, &a, &rs, round);
        verify(dir, &a, false);
        char err[512];
        wf_engine_opts_t o = {.dir = dir, .catalogue = WUFEI_CATALOGUE};
        wf_engine_t *e = wf_engine_new(&o, err, sizeof err);
        cr_assert(e, "reopen after kill: %s", err);
        size_t book = wf_book_count(wf_engine_book(e));
        uint64_t replayed;
        bool rebuilt;
        wf_engine_recovery(e, &replayed, &rebuilt);
        cr_assert_not(rebuilt, "a kill on the same boot must not drop the state file");
        replays += replayed > 0;
        wf_engine_destroy(&e);
        cr_assert_eq(book, verify(dir, &a, true), "the rebuilt book disagrees");
        cr_assert(a.n >= before);
        before = a.n;
    }
    cr_assert(a.n > ROUNDS, "too few acknowledged orders (%zu) to mean anything", a.n);
    cr_log_info("%d kills, %zu acknowledged orders checked, %d reopens replayed the journal's "
                "tail", ROUNDS, a.n, replays);
    wf_free(a.ids);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* journal.mdb is kept written with zeros past LMDB's last page (jfill.c),
 * so that a journal commit does not grow the file; the file stays a valid
 * LMDB file whose chain audits clean, and a reopen keeps every entry. */
Test(store, the_journal_keeps_zeroed_room_past_its_last_page, .timeout = 120)
{
    char dir[] = "/tmp/wf_crash_XXXXXX";
    cr_assert(mkdtemp(dir));
    char err[512];
    wf_engine_opts_t o = {.dir = dir, .catalogue = WUFEI_CATALOGUE};
    wf_engine_t *e = wf_engine_new(&o, err, sizeof err);
    cr_assert(e, "%s", err);
    static wf_cmd_t cmds[WF_BATCH_MAX];
    static wf_reply_t replies[WF_BATCH_MAX];
    wf_outbox_t out;
    for (int i = 0; i < 4; i++)
        cmds[i] = firm_cmd(i);
    cr_assert_eq(wf_engine_apply(e, cmds, 4, wf_now_ms(), replies, &out), WF_OK);
    unsigned rs = SEED;
    for (int b = 0; b < 120; b++) {
        for (int i = 0; i < 100; i++) {
            cmds[i] = post_cmd(&rs);
            if (cmds[i].op == WF_OP_DEMAND_POST && cmds[i].u.post.codes[0][0] == 'H')
                snprintf(cmds[i].u.post.codes[0], sizeof cmds[i].u.post.codes[0], "SW07");
        }
        cr_assert_eq(wf_engine_apply(e, cmds, 100, wf_now_ms(), replies, &out), WF_OK);
    }
    uint64_t seq = wf_engine_journal_seq(e);
    wf_engine_destroy(&e);
    cr_assert_gt(seq, 10000);

    wf_store_t s;
    cr_assert_eq(wf_store__open_readonly(&s, dir, err, sizeof err), WF_OK, "%s", err);
    MDB_envinfo info;
    MDB_stat ms;
    cr_assert_eq(mdb_env_info(s.jenv, &info), 0);
    cr_assert_eq(mdb_env_stat(s.jenv, &ms), 0);
    off_t used = (off_t)(info.me_last_pgno + 1) * ms.ms_psize;
    wf_store__close(&s);
    char path[128];
    snprintf(path, sizeof path, "%s/journal.mdb", dir);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    /* each commit found at least 2 MiB ahead, and a batch adds well under 1 MiB */
    cr_assert_geq(st.st_size - used, (off_t)1 << 20, "only %lld bytes of room past %lld used",
                  (long long)(st.st_size - used), (long long)used);
    cr_assert_geq((long long)st.st_blocks * 512, (long long)st.st_size - (1 << 20),
                  "the room is a hole, not written");
    int fd = open(path, O_RDONLY);
    static unsigned char tail[1 << 16];
    cr_assert_eq(pread(fd, tail, sizeof tail, st.st_size - (off_t)sizeof tail), (ssize_t)sizeof tail);
    close(fd);
    for (size_t i = 0; i < sizeof tail; i++)
        CHECK(tail[i] == 0, "the room past the last page is not zeros at %zu", i);

    wf_audit_report_t rep;
    cr_assert_eq(wf_journal_audit(dir, &rep, err, sizeof err), WF_OK, "%s", err);
    cr_assert(rep.ok, "the audit failed");
    cr_assert_eq(rep.entries, seq);
    e = wf_engine_new(&o, err, sizeof err);
    cr_assert(e, "%s", err);
    cr_assert_eq(wf_engine_journal_seq(e), seq);
    wf_engine_destroy(&e);
    cr_log_info("%llu entries in %lld bytes, %lld bytes of zeroed room past them",
                (unsigned long long)seq, (long long)used, (long long)(st.st_size - used));
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* A state ahead of its journal (a backup that copied the journal before
 * the state, or a journal from an older copy) is refused at start with a
 * sentence, not replayed from the wrong place. */
Test(store, a_state_ahead_of_its_journal_is_refused)
{
    char dir[] = "/tmp/wf_crash_XXXXXX";
    cr_assert(mkdtemp(dir));
    char err[512] = "", cmd[512];
    wf_engine_opts_t o = {.dir = dir, .catalogue = WUFEI_CATALOGUE};
    static wf_cmd_t cmds[16];
    static wf_reply_t replies[16];
    wf_outbox_t out;
    wf_engine_t *e = wf_engine_new(&o, err, sizeof err);
    cr_assert(e, "%s", err);
    for (int i = 0; i < 4; i++)
        cmds[i] = firm_cmd(i);
    cr_assert_eq(wf_engine_apply(e, cmds, 4, wf_now_ms(), replies, &out), WF_OK);
    wf_engine_destroy(&e);
    snprintf(cmd, sizeof cmd, "cp '%s/journal.mdb' '%s/journal.old' && cp '%s/journal.wal' '%s/wal.old'",
             dir, dir, dir, dir);
    cr_assert_eq(system(cmd), 0);
    e = wf_engine_new(&o, err, sizeof err);
    cr_assert(e, "%s", err);
    unsigned rs = SEED;
    for (int i = 0; i < 16; i++)
        cmds[i] = post_cmd(&rs);
    cr_assert_eq(wf_engine_apply(e, cmds, 16, wf_now_ms(), replies, &out), WF_OK);
    wf_engine_destroy(&e);
    snprintf(cmd, sizeof cmd, "mv '%s/journal.old' '%s/journal.mdb' && mv '%s/wal.old' '%s/journal.wal'",
             dir, dir, dir, dir);
    cr_assert_eq(system(cmd), 0);
    e = wf_engine_new(&o, err, sizeof err);
    cr_assert_null(e, "a state ahead of its journal was opened");
    cr_assert(strstr(err, "not from the same database"), "%s", err);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}
