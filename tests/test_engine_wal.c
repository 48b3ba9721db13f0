/* journal.wal, the batch log in front of journal.mdb (engine/wal.c): a
 * batch is durable once its record is written, before journal.mdb holds
 * it; what a kill leaves (the three files as they are while the engine
 * runs) starts with every acknowledged batch; a torn record and records
 * left from before a journal commit are not replayed; a log from another
 * database is refused; a batch the log cannot hold commits journal.mdb
 * instead. */
#include <fcntl.h>

#include "engine_fixture.h"
#include "engine/engine_int.h"

TestSuite(wal, .init = setup, .fini = teardown);

/* The files a kill -9 of the engine would leave, copied while it runs
 * (without the lock files, which hold this process's live writer). */
static void
copy_db(const char *from, char to[256])
{
    snprintf(to, 256, "/tmp/wf_wal_XXXXXX");
    cr_assert(mkdtemp(to));
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp '%s/data.mdb' '%s/journal.mdb' '%s/journal.wal' '%s/'", from,
             from, from, to);
    cr_assert_eq(system(cmd), 0);
}

/* The last entry journal.mdb holds on disk, read as another process would. */
static uint64_t
on_disk_last(const char *d)
{
    wf_store_t s;
    char err[256];
    cr_assert_eq(wf_store__open_readonly(&s, d, err, sizeof err), WF_OK, "%s", err);
    MDB_txn *t;
    cr_assert_eq(mdb_txn_begin(s.jenv, NULL, MDB_RDONLY, &t), 0);
    uint64_t last;
    cr_assert_eq(wf_journal__last(t, &s, &last), WF_OK);
    mdb_txn_abort(t);
    wf_store__close(&s);
    return last;
}

/* n offers of P1 in one batch; returns the engine's seq after it. */
static uint64_t
post_batch(size_t n, int64_t price)
{
    static wf_cmd_t cmds[WF_BATCH_MAX];
    for (size_t i = 0; i < n; i++)
        cmds[i] = offer(P1, "SW07", 100 + (int64_t)i, price);
    cr_assert_eq(wf_engine_apply(E, cmds, n, now, R, &OUT), WF_OK);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(R[i].err, WF_OK, "%s", R[i].msg);
    return wf_engine_journal_seq(E);
}

/* A start on the database at d (removed after) finds every entry up to
 * want_seq, and has given journal.mdb those the log held. */
static void
starts_at(const char *d, uint64_t want_seq)
{
    wf_engine_t *e = open_at(d, 0);
    cr_assert_eq(wf_engine_journal_seq(e), want_seq, "the start found seq %llu, not %llu",
                 (unsigned long long)wf_engine_journal_seq(e), (unsigned long long)want_seq);
    cr_assert_eq(on_disk_last(d), want_seq, "journal.mdb was not given the log's entries");
    wf_engine_destroy(&e);
    rm_dir(d);
}

/* What a kill -9 of the engine now would leave starts at want_seq. */
static void
a_kill_now_starts_at(uint64_t want_seq)
{
    char copy[256];
    copy_db(dir, copy);
    starts_at(copy, want_seq);
}

Test(wal, an_acknowledged_batch_is_in_the_log_before_journal_mdb_holds_it)
{
    E->state_flush_ms = 600000; /* no commit of journal.mdb by time in this test */
    market();
    wf_engine__flush(E);
    uint64_t base = on_disk_last(dir);
    cr_assert_eq(base, wf_engine_journal_seq(E));
    uint64_t seq = post_batch(20, 900);
    cr_assert_eq(seq, base + 20);
    cr_assert_eq(on_disk_last(dir), base, "journal.mdb was committed with the batch");
    cr_assert_gt(E->store.wal.off, 0, "the batch wrote no record");
    a_kill_now_starts_at(seq);
}

Test(wal, a_torn_record_is_not_replayed)
{
    E->state_flush_ms = 600000;
    market();
    wf_engine__flush(E);
    uint64_t a = post_batch(10, 900);
    size_t at = E->store.wal.off; /* where the second batch's record starts */
    uint64_t b = post_batch(10, 800);
    cr_assert_gt(b, a);
    char copy[256];
    copy_db(dir, copy);
    char path[300];
    snprintf(path, sizeof path, "%s/journal.wal", copy);
    int fd = open(path, O_RDWR);
    cr_assert(fd >= 0);
    uint8_t byte;
    cr_assert_eq(pread(fd, &byte, 1, (off_t)at + 100), 1);
    byte ^= 0x40; /* a write the crash cut short */
    cr_assert_eq(pwrite(fd, &byte, 1, (off_t)at + 100), 1);
    close(fd);
    starts_at(copy, a);
}

Test(wal, records_from_before_a_journal_commit_are_not_replayed)
{
    E->state_flush_ms = 600000;
    market();
    post_batch(30, 900); /* a long record at the start of the log */
    post_batch(30, 850);
    cr_assert_eq(wf_engine__flush(E), WF_OK);
    cr_assert_eq(E->store.wal.off, 0, "the log did not start over after the journal commit");
    uint64_t seq = post_batch(3, 800); /* a short one over it: old bytes follow it */
    a_kill_now_starts_at(seq);
}

Test(wal, a_log_from_another_database_is_refused)
{
    E->state_flush_ms = 600000;
    market();
    cr_assert_eq(wf_engine__flush(E), WF_OK);
    wf_engine_destroy(&E);
    /* another database: the same firms a second later, then a batch in its log */
    char other[256];
    snprintf(other, sizeof other, "/tmp/wf_wal_XXXXXX");
    cr_assert(mkdtemp(other));
    E = open_at(other, 0);
    E->state_flush_ms = 600000;
    now += 1000;
    market();
    cr_assert_eq(wf_engine__flush(E), WF_OK);
    post_batch(5, 900);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "cp '%s/journal.wal' '%s/journal.wal'", other, dir);
    cr_assert_eq(system(cmd), 0);
    wf_engine_destroy(&E);
    rm_dir(other);
    char err[512] = "";
    wf_engine_opts_t o = {.dir = dir, .catalogue = WUFEI_CATALOGUE, .no_sync = true};
    wf_engine_t *e = wf_engine_new(&o, err, sizeof err);
    cr_assert_null(e, "a log that does not continue the journal was replayed");
    cr_assert(strstr(err, "journal.wal") && strstr(err, "not from the same database"), "%s", err);
}

Test(wal, a_batch_the_log_cannot_hold_commits_journal_mdb)
{
    /* a database whose log is the smallest accepted size */
    wf_engine_destroy(&E);
    rm_dir(dir);
    snprintf(dir, sizeof dir, "/tmp/wf_engine_XXXXXX");
    cr_assert(mkdtemp(dir));
    char path[300];
    snprintf(path, sizeof path, "%s/journal.wal", dir);
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    cr_assert(fd >= 0);
    cr_assert_eq(ftruncate(fd, (off_t)WF_WAL_MIN), 0);
    close(fd);
    E = open_at(dir, 0);
    cr_assert_eq(E->store.wal.size, WF_WAL_MIN);
    E->state_flush_ms = 600000;
    market();
    cr_assert_eq(wf_engine__flush(E), WF_OK);
    uint64_t last = 0, seq = 0;
    bool committed = false;
    for (int i = 0; i < 8 && !committed; i++) {
        last = on_disk_last(dir);
        seq = post_batch(200, 900 - i);
        committed = on_disk_last(dir) == seq;
        if (!committed)
            cr_assert_eq(on_disk_last(dir), last, "journal.mdb moved without the whole batch");
    }
    cr_assert(committed, "journal.mdb never took a batch the log had no room for");
    cr_assert_eq(E->store.wal.off, 0, "the log did not start over after the journal commit");
    uint64_t after = post_batch(5, 700); /* and the log is used again */
    cr_assert_gt(E->store.wal.off, 0);
    a_kill_now_starts_at(after);
}

Test(wal, a_record_that_cannot_be_written_fails_its_batch_and_stops_the_engine)
{
    E->state_flush_ms = 600000;
    market();
    cr_assert_eq(wf_engine__flush(E), WF_OK);
    uint64_t acked = post_batch(10, 900); /* in the log only */
    cr_assert_eq(on_disk_last(dir), acked - 10);
    /* the log's descriptor can no longer write (a failing disk) */
    char path[300];
    snprintf(path, sizeof path, "%s/journal.wal", dir);
    int ro = open(path, O_RDONLY);
    cr_assert(ro >= 0);
    cr_assert(dup2(ro, E->store.wal.fd) >= 0);
    close(ro);
    wf_cmd_t c = offer(P2, "SW07", 500, 700);
    cr_assert_neq(wf_engine_apply(E, &c, 1, now, R, &OUT), WF_OK);
    cr_assert_eq(R[0].err, WF_E_INTERNAL);
    cr_assert(strstr(R[0].msg, "journal write failed"), "%s", R[0].msg);
    cr_assert_eq(OUT.nstream, 0, "a failed batch sent stream messages");
    c = offer(P2, "SW07", 500, 700);
    cr_assert_neq(wf_engine_apply(E, &c, 1, now, R, &OUT), WF_OK);
    cr_assert(strstr(R[0].msg, "restart"), "the engine went on after a failed log write: %s",
              R[0].msg);
    /* a restart holds every batch acknowledged before, and not the failed one */
    a_kill_now_starts_at(acked);
}

Test(wal, a_short_log_is_refused_and_an_empty_one_made_again)
{
    market();
    wf_engine_destroy(&E);
    char path[300];
    snprintf(path, sizeof path, "%s/journal.wal", dir);
    cr_assert_eq(truncate(path, 100), 0); /* damaged */
    char err[512] = "";
    wf_engine_opts_t o = {.dir = dir, .catalogue = WUFEI_CATALOGUE, .no_sync = true};
    wf_engine_t *e = wf_engine_new(&o, err, sizeof err);
    cr_assert_null(e, "a damaged log was replaced");
    cr_assert(strstr(err, "journal.wal") && strstr(err, "shorter"), "%s", err);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_size, 100, "the damaged log was touched");
    cr_assert_eq(truncate(path, 0), 0); /* empty: nothing in it to lose */
    E = open_at(dir, 0);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq((size_t)st.st_size, WF_WAL_SIZE);
}

/* wf_engine_overlap_sync: the function runs once per record, once the
 * record is written (its header is in journal.wal at the record's offset)
 * and before the batch returns; a batch that journals nothing writes no
 * record and runs nothing; stopped, it runs no more. */
static struct {
    int calls;
    bool written;
} OV;

static void
ov_fn(void *ctx)
{
    wf_wal_t *w = ctx;
    uint8_t magic[4] = {0};
    OV.written = pread(w->fd, magic, sizeof magic, (off_t)w->off) == sizeof magic &&
                 memcmp(magic, "WFW1", 4) == 0;
    OV.calls++;
}

Test(wal, the_overlap_runs_once_per_record_after_its_write)
{
    E->state_flush_ms = 600000;
    market();
    wf_engine__flush(E);
    cr_assert_eq(wf_engine_overlap_sync(E, ov_fn, &E->store.wal), WF_OK);
    memset(&OV, 0, sizeof OV);
    post_batch(5, 900);
    cr_assert_eq(OV.calls, 1, "ran %d times for one record", OV.calls);
    cr_assert(OV.written, "ran before the record was written");
    post_batch(3, 901);
    cr_assert_eq(OV.calls, 2);
    cr_assert(OV.written);

    wf_cmd_t ping = mk(WF_OP_PING, P1);
    size_t before = E->store.wal.off;
    cr_assert_eq(wf_engine_apply(E, &ping, 1, now, R, &OUT), WF_OK);
    cr_assert_eq(E->store.wal.off, before, "a ping wrote a record");
    cr_assert_eq(OV.calls, 2, "ran for a batch without a record");

    cr_assert_eq(wf_engine_overlap_sync(E, NULL, NULL), WF_OK);
    post_batch(2, 902);
    cr_assert_eq(OV.calls, 2, "ran after it was stopped");
    cr_assert_null(E->overlap.syncer);
}
