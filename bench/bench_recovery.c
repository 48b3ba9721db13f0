/* bench-recovery: how long wufeid takes to come back with a big book, and
 * what the book costs on disk and in memory.
 *
 * Build phase (not a measurement): an in-process engine (wf_engine_new with
 * no_sync, so LMDB skips the fsync of each commit; for benchmarks only)
 * registers --firms firms over Zhejiang and posts --orders orders in
 * batches of WF_BATCH_MAX through wf_engine_apply, exactly as wufeid would
 * journal and store them. Offers name industrial codes (SW01..SW17) and
 * demands recyclable ones (REC..), so nothing matches and every order rests.
 * The engine is then closed.
 *
 * Measurements, each --runs times on the same directory (page cache warm:
 * the bench just wrote the file, and it does not drop caches):
 *  - wufeid restart: fork/exec of the real binary (--insecure --quiet on
 *    free loopback ports) until its "ready on" line (it prints it once the
 *    book is rebuilt and both sockets are bound) and until it answers ping;
 *    then its CPU time (user + sys, /proc/PID/stat: what the load of a
 *    shared machine does not inflate), VmRSS, RssAnon (its own memory; the
 *    rest of VmRSS is pages of data.mdb it has mapped, shared with the page
 *    cache) and VmHWM from /proc/PID/status; SIGTERM.
 *  - wf_engine_new in this process (the same load_state, no sockets), with
 *    the heap it adds (mallinfo2) and RSS growth.
 *  - data.mdb bytes (apparent and allocated) per resting order, and the
 *    page counts of every table (mdb_stat) with bytes per order per table;
 *    journal.mdb's entries and bytes per entry.
 *  - the rebuild a machine restart after an unclean stop costs: data.mdb
 *    removed, wf_engine_new replays the whole journal into a new one.
 * Target: restart under 2 s with 1M resting orders. Final line: JSON. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <malloc.h>
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

#include <lmdb.h>

#include "../clients/wfclient.h"
#include "../core/wf_error.h"
#include "../engine/engine.h"

static void
die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench-recovery: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static double
mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t RNG = 1;

static uint64_t
rng_next(void)
{
    uint64_t z = (RNG += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static double
rng_unit(void)
{
    return (double)(rng_next() >> 11) / 9007199254740992.0;
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
    char *p = buf;
    for (int i = 0; i < 3 && p; i++)
        p = strchr(p + 1, ' ');
    if (p)
        *p = 0;
    return buf;
}

/* kB of a /proc/PID/status field ("VmRSS"), 0 when absent. */
static long
status_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long v = 0;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            v = atol(line + n + 1);
            break;
        }
    if (f)
        fclose(f);
    return v;
}

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

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* ------------------------------------------------------------------ */

static const char *const OFFER_CODES[] = {"SW01", "SW02", "SW03", "SW04", "SW05", "SW06", "SW07",
                                          "SW09", "SW10", "SW11", "SW12", "SW13", "SW14", "SW15", "SW16", "SW17"};
#define NOFFER (sizeof OFFER_CODES / sizeof OFFER_CODES[0])

static void
firm_id(char out[WF_FIRM_LEN], int i)
{
    snprintf(out, WF_FIRM_LEN, "91330600RCVR%06u", (unsigned)i % 1000000u);
}

static void
apply_ok(wf_engine_t *e, wf_cmd_t *cmds, size_t n, int64_t now)
{
    static wf_reply_t reps[WF_BATCH_MAX];
    wf_outbox_t out;
    if (wf_engine_apply(e, cmds, n, now, reps, &out) != 0)
        die("a build batch failed");
    for (size_t i = 0; i < n; i++)
        if (reps[i].err != 0)
            die("build: %s: %s", wf_err_name(reps[i].err), reps[i].msg);
}

/* Builds the database; returns the orders resting. */
static size_t
build(const char *db, int nfirms, size_t norders, size_t map, double *secs)
{
    char err[256];
    wf_engine_opts_t o = {.dir = db, .no_sync = true, .map_size = map};
    wf_engine_t *e = wf_engine_new(&o, err, sizeof err);
    if (!e)
        die("%s", err);
    /* recyclable leaf codes for the demands */
    static char rec_codes[64][WF_CODE_LEN];
    size_t nrec = 0;
    const wf_catalogue_t *cat = wf_engine_catalogue(e);
    for (int32_t i = 0; i < (int32_t)wf_catalogue_count(cat) && nrec < 64; i++) {
        const wf_code_t *k = wf_catalogue_get(cat, i);
        if (k->leaf && strncmp(k->code, "REC", 3) == 0)
            memcpy(rec_codes[nrec++], k->code, WF_CODE_LEN);
    }
    if (nrec == 0)
        die("no REC codes in the catalogue");
    static wf_cmd_t cmds[WF_BATCH_MAX];
    int64_t now = 1767225600000LL; /* 2026-01-01 */
    double t0 = mono_s();
    for (int i = 0; i < nfirms;) {
        size_t n = 0;
        for (; n < WF_BATCH_MAX && i < nfirms; n++, i++) {
            wf_cmd_t *c = &cmds[n];
            memset(c, 0, sizeof *c);
            c->op = WF_OP_FIRM_PUT;
            snprintf(c->as, sizeof c->as, "%s", WF_OPERATOR_ID);
            firm_id(c->u.firm.firm, i + 1);
            snprintf(c->u.firm.name, sizeof c->u.firm.name, "recovery firm %d", i + 1);
            c->u.firm.roles = WF_ROLE_PRODUCER | WF_ROLE_CONSUMER;
            c->u.firm.lat = 27.0 + 4.2 * rng_unit();
            c->u.firm.lon = 118.0 + 4.9 * rng_unit();
            c->u.firm.county = 330100 + (uint32_t)(rng_next() % 1000);
            c->u.firm.base_credit = 80;
        }
        apply_ok(e, cmds, n, now);
    }
    size_t done = 0;
    while (done < norders) {
        size_t n = 0;
        for (; n < WF_BATCH_MAX && done < norders; n++, done++) {
            wf_cmd_t *c = &cmds[n];
            memset(c, 0, sizeof *c);
            bool offer = rng_next() & 1;
            c->op = offer ? WF_OP_OFFER_POST : WF_OP_DEMAND_POST;
            c->rid = done + 1;
            firm_id(c->as, 1 + (int)(rng_next() % (uint64_t)nfirms));
            wf_cmd_post_t *p = &c->u.post;
            if (offer) {
                snprintf(p->code, sizeof p->code, "%s", OFFER_CODES[rng_next() % NOFFER]);
            } else {
                p->ncodes = 1;
                snprintf(p->codes[0], sizeof p->codes[0], "%s", rec_codes[rng_next() % nrec]);
            }
            p->qty = 500 + (int64_t)(rng_next() % 49501);
            p->price = -300000 + (int64_t)(rng_next() % 600001);
            c->has = WF_HAS_MAX_KM;
            p->max_km = 10 + 140 * rng_unit();
        }
        apply_ok(e, cmds, n, now + (int64_t)done / 1000);
        if (done % 100000 < WF_BATCH_MAX) {
            printf("  built %zu orders in %.1f s\n", done, mono_s() - t0);
            fflush(stdout);
        }
    }
    size_t resting = wf_book_count(wf_engine_book(e));
    wf_engine_destroy(&e);
    *secs = mono_s() - t0;
    return resting;
}

typedef struct restart {
    double ready_s, ping_s;
    double cpu_s;          /* user + sys of wufeid until it answered ping */
    long rss_kb, hwm_kb;
    long anon_kb;          /* RssAnon: its own memory; the rest is mapped data.mdb pages */
} restart_t;

/* user + sys seconds pid has run, from /proc/PID/stat; -1 when unreadable. */
static double
cpu_seconds(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command may hold spaces */
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static restart_t
wufeid_restart(const char *wufeid, const char *db, const char *tmp, size_t map_mib)
{
    restart_t r = {0};
    char cmd_ep[64], feed_ep[64], out[800], map[32];
    int p1 = free_port(), p2;
    do
        p2 = free_port();
    while (p2 == p1);
    snprintf(cmd_ep, sizeof cmd_ep, "tcp://127.0.0.1:%d", p1);
    snprintf(feed_ep, sizeof feed_ep, "tcp://127.0.0.1:%d", p2);
    snprintf(out, sizeof out, "%s/stdout", tmp);
    snprintf(map, sizeof map, "%zu", map_mib);
    unlink(out);
    double t0 = mono_s();
    pid_t pid = fork();
    if (pid == 0) {
        char log[800];
        snprintf(log, sizeof log, "%s/wufeid.log", tmp);
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fo >= 0)
            dup2(fo, 1);
        if (fe >= 0)
            dup2(fe, 2);
        execl(wufeid, wufeid, "--db", db, "--command", cmd_ep, "--feed", feed_ep, "--insecure", "--quiet",
              "--map-size", map, (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        die("fork: %s", strerror(errno));
    double deadline = t0 + 120;
    for (;;) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            die("wufeid exited with status %d before it was ready (log in %s)", st, tmp);
        FILE *f = fopen(out, "r");
        char line[256] = "";
        bool ready = f && fgets(line, sizeof line, f) && strstr(line, " ready on ");
        if (f)
            fclose(f);
        if (ready)
            break;
        if (mono_s() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            die("wufeid was not ready within 120 s");
        }
        usleep(1000);
    }
    r.ready_s = mono_s() - t0;
    wfc_opts_t o = {.endpoint = cmd_ep, .timeout_ms = 10000};
    wfc_t *c = wfc_new(&o);
    const msgpack_object *rep;
    wfc_begin(c, "ping", 0);
    if (wfc_call(c, &rep) != 0 || !wfc_get_bool(rep, "ok", false))
        die("wufeid did not answer ping");
    r.ping_s = mono_s() - t0;
    wfc_destroy(&c);
    r.cpu_s = cpu_seconds(pid);
    r.rss_kb = status_kb(pid, "VmRSS");
    r.hwm_kb = status_kb(pid, "VmHWM");
    r.anon_kb = status_kb(pid, "RssAnon");
    kill(pid, SIGTERM);
    int st;
    double stop_deadline = mono_s() + 30;
    while (waitpid(pid, &st, WNOHANG) != pid) {
        if (mono_s() > stop_deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            break;
        }
        usleep(10000);
    }
    return r;
}

static int
cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
    static char self_dir[PATH_MAX], wufeid_default[PATH_MAX + 16];
    ssize_t sn = readlink("/proc/self/exe", self_dir, sizeof self_dir - 1);
    if (sn > 0) {
        self_dir[sn] = 0;
        snprintf(wufeid_default, sizeof wufeid_default, "%s/wufeid", dirname(dirname(self_dir)));
    }
    const char *wufeid = wufeid_default;
    const char *tmpbase = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    size_t norders = 1000000;
    int nfirms = 10000, runs = 3;
    bool keep = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--keep") == 0) {
            keep = true;
            continue;
        }
        if (!v)
            goto usage;
        if (strcmp(a, "--wufeid") == 0)
            wufeid = v;
        else if (strcmp(a, "--orders") == 0)
            norders = strtoull(v, NULL, 10);
        else if (strcmp(a, "--firms") == 0)
            nfirms = atoi(v);
        else if (strcmp(a, "--runs") == 0)
            runs = atoi(v);
        else if (strcmp(a, "--tmp") == 0)
            tmpbase = v;
        else
            goto usage;
        i++;
    }
    if (norders < 1 || norders > 20000000 || nfirms < 1 || nfirms > 999999 || runs < 1 || runs > 20)
        goto usage;
    if (access(wufeid, X_OK) != 0)
        die("no wufeid at %s (--wufeid PATH)", wufeid);

    char tmp[600], db[700], la[64];
    snprintf(tmp, sizeof tmp, "%s/wufei-bench-recovery-XXXXXX", tmpbase);
    if (!mkdtemp(tmp))
        die("mkdtemp: %s", strerror(errno));
    snprintf(db, sizeof db, "%s/db", tmp);
    size_t map = (size_t)(norders / 1000000 + 1) * ((size_t)4 << 30);
    printf("bench-recovery: %zu orders, %d firms, wufeid %s, loadavg %s\n", norders, nfirms, wufeid,
           load_avg(la, sizeof la));
    printf("build phase: in-process engine, no_sync, batches of %d\n", WF_BATCH_MAX);
    fflush(stdout);
    double build_s;
    size_t resting = build(db, nfirms, norders, map, &build_s);
    printf("built %zu resting orders in %.1f s (%.0f orders/s)\n", resting, build_s, (double)norders / build_s);

    /* on disk */
    char path[800];
    snprintf(path, sizeof path, "%s/data.mdb", db);
    struct stat st;
    if (stat(path, &st) != 0)
        die("stat %s", path);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi main_db;
    MDB_cursor *cur;
    mdb_env_create(&env);
    mdb_env_set_maxdbs(env, 64);
    mdb_env_set_mapsize(env, map);
    if (mdb_env_open(env, db, MDB_RDONLY | MDB_NOTLS, 0600) != 0 || mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0 ||
        mdb_dbi_open(txn, NULL, 0, &main_db) != 0 || mdb_cursor_open(txn, main_db, &cur) != 0)
        die("cannot open %s read-only", db);
    MDB_envinfo info;
    mdb_env_info(env, &info);
    MDB_stat est;
    mdb_env_stat(env, &est);
    char tables[4096] = "";
    size_t tl = 0;
    unsigned long long total_pages = 0;
    printf("\n| table | entries | branch | leaf | overflow | pages | B/order |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    MDB_val k, v;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char name[64];
        if (k.mv_size >= sizeof name)
            continue;
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = 0;
        MDB_dbi dbi;
        MDB_stat s;
        if (mdb_dbi_open(txn, name, 0, &dbi) != 0 || mdb_stat(txn, dbi, &s) != 0)
            continue;
        unsigned long long pages = s.ms_branch_pages + s.ms_leaf_pages + s.ms_overflow_pages;
        total_pages += pages;
        printf("| %s | %zu | %zu | %zu | %zu | %llu | %.1f |\n", name, s.ms_entries, s.ms_branch_pages, s.ms_leaf_pages,
               s.ms_overflow_pages, pages, (double)pages * s.ms_psize / (double)resting);
        if (tl < sizeof tables - 200)
            tl += (size_t)snprintf(tables + tl, sizeof tables - tl,
                                   "%s{\"table\":\"%s\",\"entries\":%zu,\"branch\":%zu,\"leaf\":%zu,\"overflow\":%zu}",
                                   tl ? "," : "", name, s.ms_entries, s.ms_branch_pages, s.ms_leaf_pages,
                                   s.ms_overflow_pages);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    double file_bpo = (double)st.st_size / (double)resting;
    double alloc_bpo = (double)st.st_blocks * 512.0 / (double)resting;
    double pages_bpo = (double)total_pages * est.ms_psize / (double)resting;
    printf("data.mdb: %lld bytes (%lld allocated), last page %zu, %.0f B/order (file), %.0f B/order (pages in "
           "tables)\n",
           (long long)st.st_size, (long long)st.st_blocks * 512, info.me_last_pgno, file_bpo, pages_bpo);
    /* the journal: its own file, with zeroed room past its last page */
    snprintf(path, sizeof path, "%s/journal.mdb", db);
    struct stat jst;
    if (stat(path, &jst) != 0)
        die("stat %s", path);
    MDB_env *jenv;
    MDB_dbi jdbi;
    MDB_stat js = {0};
    mdb_env_create(&jenv);
    mdb_env_set_maxdbs(jenv, 8);
    mdb_env_set_mapsize(jenv, map);
    if (mdb_env_open(jenv, path, MDB_RDONLY | MDB_NOTLS | MDB_NOSUBDIR, 0600) != 0 ||
        mdb_txn_begin(jenv, NULL, MDB_RDONLY, &txn) != 0 || mdb_dbi_open(txn, "journal", 0, &jdbi) != 0 ||
        mdb_stat(txn, jdbi, &js) != 0)
        die("cannot read %s", path);
    MDB_envinfo jinfo;
    mdb_env_info(jenv, &jinfo);
    mdb_txn_abort(txn);
    mdb_env_close(jenv);
    double journal_used = (double)(jinfo.me_last_pgno + 1) * js.ms_psize;
    printf("journal.mdb: %zu entries, %.0f bytes used (%.0f B/entry), %lld bytes in the file with its "
           "zeroed room\n\n", js.ms_entries, journal_used, journal_used / (double)js.ms_entries,
           (long long)jst.st_size);

    /* restarts */
    restart_t rs[20];
    double ready[20], ping[20], cpu[20];
    printf("| run | wufeid ready s | ping s | CPU s (user+sys) | VmRSS MiB | RssAnon MiB | VmHWM MiB | loadavg |\n"
           "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
    for (int i = 0; i < runs; i++) {
        rs[i] = wufeid_restart(wufeid, db, tmp, map >> 20);
        ready[i] = rs[i].ready_s;
        ping[i] = rs[i].ping_s;
        cpu[i] = rs[i].cpu_s;
        printf("| %d | %.3f | %.3f | %.2f | %.1f | %.1f | %.1f | %s |\n", i + 1, rs[i].ready_s, rs[i].ping_s,
               rs[i].cpu_s, rs[i].rss_kb / 1024.0, rs[i].anon_kb / 1024.0, rs[i].hwm_kb / 1024.0,
               load_avg(la, sizeof la));
        fflush(stdout);
    }
    qsort(ready, (size_t)runs, sizeof ready[0], cmp_d);
    qsort(ping, (size_t)runs, sizeof ping[0], cmp_d);
    qsort(cpu, (size_t)runs, sizeof cpu[0], cmp_d);
    double ready_med = ready[runs / 2], ping_med = ping[runs / 2], cpu_med = cpu[runs / 2];

    /* wf_engine_new in this process */
    struct mallinfo2 m0 = mallinfo2();
    long rss0 = status_kb(getpid(), "VmRSS");
    double t0 = mono_s();
    char err[256];
    wf_engine_opts_t o = {.dir = db, .map_size = map};
    wf_engine_t *e = wf_engine_new(&o, err, sizeof err);
    double engine_s = mono_s() - t0;
    if (!e)
        die("%s", err);
    struct mallinfo2 m1 = mallinfo2();
    long rss1 = status_kb(getpid(), "VmRSS");
    size_t book = wf_book_count(wf_engine_book(e));
    wf_engine_destroy(&e);
    /* in-use heap chunks plus mmapped ones (the book's pool is one) */
    double heap_bpo = ((double)m1.uordblks + (double)m1.hblkhd - (double)m0.uordblks - (double)m0.hblkhd) /
                      (double)book;
    printf("\nwf_engine_new: %.3f s for %zu resting orders; heap +%.0f B/order, RSS +%.1f MiB\n", engine_s, book,
           heap_bpo, (rss1 - rss0) / 1024.0);
    /* the rebuild after a machine restart that followed an unclean stop:
     * the state file dropped, the whole journal replayed into a new one */
    snprintf(path, sizeof path, "%s/data.mdb", db);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", db);
    unlink(path);
    t0 = mono_s();
    e = wf_engine_new(&o, err, sizeof err);
    double rebuild_s = mono_s() - t0;
    if (!e)
        die("rebuild: %s", err);
    uint64_t replayed;
    bool rebuilt;
    wf_engine_recovery(e, &replayed, &rebuilt);
    size_t book2 = wf_book_count(wf_engine_book(e));
    wf_engine_destroy(&e);
    if (book2 != book)
        die("the rebuilt book has %zu orders, not %zu", book2, book);
    printf("rebuild from the journal: %llu entries replayed in %.1f s (%.0f entries/s), the same %zu "
           "resting orders\n", (unsigned long long)replayed, rebuild_s, (double)replayed / rebuild_s, book2);
    bool pass = ping_med < 2.0;
    printf("target: wufeid restart under 2 s with %zu resting orders: %.3f s (median of %d, to ping; CPU %.2f s): %s\n",
           resting, ping_med, runs, cpu_med, pass ? "PASS" : "FAIL");

    printf("{\"bench\":\"recovery\",\"orders\":%zu,\"resting\":%zu,\"firms\":%d,\"build_s\":%.2f,\"build_no_sync\":true,"
           "\"runs\":%d,\"wufeid_ready_s_median\":%.3f,\"wufeid_ping_s_median\":%.3f,\"wufeid_ready_s_min\":%.3f,"
           "\"wufeid_cpu_s_median\":%.2f,\"vmrss_mib\":%.1f,\"rssanon_mib\":%.1f,\"vmhwm_mib\":%.1f,\"engine_new_s\":%.3f,\"engine_heap_b_per_order\":%.0f,"
           "\"data_mdb_bytes\":%lld,\"data_mdb_alloc_bytes\":%lld,\"file_b_per_order\":%.1f,\"alloc_b_per_order\":%.1f,"
           "\"pages_b_per_order\":%.1f,\"psize\":%u,\"last_pgno\":%zu,\"tables\":[%s],\"target_restart_2s\":%s,"
           "\"journal_entries\":%zu,\"journal_b_per_entry\":%.1f,\"rebuild_entries\":%llu,\"rebuild_s\":%.2f,"
           "\"loadavg\":\"%s\"}\n",
           norders, resting, nfirms, build_s, runs, ready_med, ping_med, ready[0], cpu_med,
           rs[runs - 1].rss_kb / 1024.0, rs[runs - 1].anon_kb / 1024.0, rs[runs - 1].hwm_kb / 1024.0, engine_s, heap_bpo, (long long)st.st_size, (long long)st.st_blocks * 512,
           file_bpo, alloc_bpo, pages_bpo, est.ms_psize, info.me_last_pgno, tables, pass ? "true" : "false",
           js.ms_entries, journal_used / (double)js.ms_entries, (unsigned long long)replayed, rebuild_s,
           load_avg(la, sizeof la));
    if (!keep)
        nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    else
        printf("kept %s\n", tmp);
    return 0;
usage:
    fprintf(stderr, "usage: bench-recovery [--orders N] [--firms N] [--runs N] [--wufeid PATH] [--tmp DIR] [--keep]\n"
                    "defaults: 1000000 orders, 10000 firms, 3 runs, wufeid beside the build dir, TMPDIR or /tmp\n");
    return 2;
}
