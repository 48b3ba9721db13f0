/* The batch log: DIR/journal.wal, a file of fixed size in front of
 * journal.mdb. A batch that journaled entries is made durable by one
 * record appended here and one fdatasync: its entries exactly as
 * journal.mdb stores them and the signed head, under a checksum. The
 * journal's LMDB transaction stays open across batches and is committed
 * (synced) together with the state every WF_STATE_FLUSH_MS or
 * WF_STATE_FLUSH_BATCHES batches (engine.c); after that commit the log's
 * records are redundant and the next one is written at its start again.
 * An LMDB commit flushes the device twice (its pages, then its meta page)
 * and rewrites the journal's B-tree path; a record is one sequential write
 * and one flush.
 *
 * Record: wf_wal_hdr_t, then per entry a LE32 length and the entry's bytes
 * (wf_journal_disk_t and the squeezed command), then the wf_journal_head_t
 * signed for the last entry. sum is BLAKE2b-128 over the header (sum
 * zeroed) and everything after it.
 *
 * Replay (at every load of the state: the start, and the rebuild after a
 * failed commit) reads records from the start of the file while each one
 * is whole (its checksum holds) and continues the journal: its first seq is
 * the one after journal.mdb's last entry, and every entry chains to the
 * one before it. The first record that does not is the end: a record torn
 * by a crash was never acknowledged, and a record left from before the
 * last journal commit holds seqs journal.mdb has already (seqs only grow,
 * so such a record can never look like the continuation). The replayed
 * entries and head are committed to journal.mdb, synced, before the state
 * is loaded.
 *
 * The sync may overlap other work of the engine's thread
 * (wf_engine_overlap_sync; the server reads the next batch's requests):
 * the syncer's thread runs the fdatasync while the overlap's function runs,
 * and wf_wal__append returns once both are done. */
#include "store_int.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wf_alloc.h"
#include "wf_error.h"

#define WF_WAL_MAGIC 0x31574657u /* "WFW1" */

typedef struct wf_wal_hdr {
    uint32_t magic;
    uint32_t count;    /* entries */
    uint32_t len;      /* bytes after the header */
    uint32_t reserved;
    uint64_t first;    /* the first entry's seq */
    uint8_t sum[16];
} wf_wal_hdr_t;

static void
wal_sum(const wf_wal_hdr_t *h, const uint8_t *body, size_t len, uint8_t out[16])
{
    wf_wal_hdr_t z = *h;
    memset(z.sum, 0, sizeof z.sum);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 16);
    crypto_generichash_update(&st, (const uint8_t *)&z, sizeof z);
    crypto_generichash_update(&st, body, len);
    crypto_generichash_final(&st, out, 16);
}

/* All n bytes at off, written (write) or read; -1 on an error or a short
 * file. */
static int
io_all(int fd, void *p, size_t n, off_t off, bool write)
{
    uint8_t *b = p;
    while (n > 0) {
        ssize_t k = write ? pwrite(fd, b, n, off) : pread(fd, b, n, off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        b += k;
        n -= (size_t)k;
        off += k;
    }
    return 0;
}

/* Room in the buffer for n more bytes. */
static uint8_t *
room(wf_wal_t *w, size_t n)
{
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 65536;
        while (cap < w->len + n)
            cap *= 2;
        w->buf = wf_realloc(w->buf, cap);
        w->cap = cap;
    }
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}

int
wf_wal__open(wf_wal_t *w, const char *dir, bool sync, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    char path[4200];
    snprintf(path, sizeof path, "%s/journal.wal", dir);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && (size_t)st.st_size >= WF_WAL_MIN) {
        w->fd = fd;
        w->size = (size_t)st.st_size;
        w->sync = sync;
        return WF_OK;
    }
    if (fd >= 0) {
        /* the log is made whole under another name and renamed: a short
         * one is damaged, and may hold acknowledged batches */
        bool empty = fstat(fd, &st) == 0 && st.st_size == 0;
        close(fd);
        if (!empty) {
            snprintf(err, errlen, "%s is shorter than a wufei log (damaged?): move it away to "
                     "start, knowing that acknowledged batches it held are lost", path);
            return WF_E_STATE;
        }
    }
    /* Made whole before use: zeros written (not a hole, not fallocate's
     * unwritten extents), so that a record's fdatasync flushes its data
     * and nothing of the file system's own. */
    char tmp[4210];
    snprintf(tmp, sizeof tmp, "%s.new", path);
    fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return WF_E_INTERNAL;
    }
    uint8_t *zeros = wf_calloc(1, 1 << 20);
    int rc = 0;
    for (size_t off = 0; rc == 0 && off < WF_WAL_SIZE; off += 1 << 20)
        rc = io_all(fd, zeros, 1 << 20, (off_t)off, true);
    wf_free(zeros);
    if (rc == 0 && sync)
        rc = fsync(fd);
    if (rc == 0)
        rc = rename(tmp, path);
    if (rc == 0 && sync) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            rc = fsync(dfd);
            close(dfd);
        }
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot make %s: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        return WF_E_INTERNAL;
    }
    w->fd = fd;
    w->size = WF_WAL_SIZE;
    w->sync = sync;
    return WF_OK;
}

void
wf_wal__close(wf_wal_t *w)
{
    if (w->fd >= 0)
        close(w->fd);
    wf_free(w->buf);
    memset(w, 0, sizeof *w);
    w->fd = -1;
}

void
wf_wal__reset(wf_wal_t *w)
{
    w->off = 0;
}

static void syncer_start(wf_syncer_t *y, int fd);
static int syncer_wait(wf_syncer_t *y);

int
wf_wal__append(wf_wal_t *w, MDB_txn *jt, const wf_store_t *s, uint64_t first, uint64_t last,
               const wf_wal_overlap_t *ov)
{
    if (w->fd < 0 || first == 0 || last < first || last - first >= UINT32_MAX)
        return WF_E_LIMIT;
    w->len = 0;
    room(w, sizeof(wf_wal_hdr_t));
    MDB_cursor *c;
    int rc = mdb_cursor_open(jt, s->journal, &c);
    if (rc != 0)
        return wf_store__err(rc);
    uint8_t key[8];
    wf_store__be64(key, first);
    MDB_val k = {sizeof key, key}, v;
    uint64_t seq = first;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_KEY); rc == 0 && seq <= last;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8 || wf_store__from_be64(k.mv_data) != seq || v.mv_size > UINT32_MAX)
            break;
        uint32_t n = (uint32_t)v.mv_size;
        memcpy(room(w, sizeof n), &n, sizeof n);
        memcpy(room(w, n), v.mv_data, n);
        seq++;
    }
    mdb_cursor_close(c);
    if (seq != last + 1)
        return WF_E_INTERNAL; /* the transaction lacks entries it should hold */
    MDB_val hk = {4, "head"}, hv;
    uint64_t head_seq = 0; /* LMDB values are not aligned */
    if (mdb_get(jt, s->jmeta, &hk, &hv) != 0 || hv.mv_size != sizeof(wf_journal_head_t))
        return WF_E_INTERNAL;
    memcpy(&head_seq, (const uint8_t *)hv.mv_data + offsetof(wf_journal_head_t, seq), sizeof head_seq);
    if (head_seq != last)
        return WF_E_INTERNAL;
    memcpy(room(w, hv.mv_size), hv.mv_data, hv.mv_size);
    if (w->len > w->size - w->off)
        return WF_E_LIMIT; /* no room left: the caller commits journal.mdb instead */
    wf_wal_hdr_t h = {.magic = WF_WAL_MAGIC, .count = (uint32_t)(last - first + 1),
                      .len = (uint32_t)(w->len - sizeof h), .first = first};
    wal_sum(&h, w->buf + sizeof h, h.len, h.sum);
    memcpy(w->buf, &h, sizeof h);
    if (io_all(w->fd, w->buf, w->len, (off_t)w->off, true) != 0)
        return WF_E_INTERNAL; /* the record may or may not be on disk */
    int src = 0;
    if (ov && ov->syncer) {
        if (w->sync)
            syncer_start(ov->syncer, w->fd);
        ov->fn(ov->ctx);
        if (w->sync)
            src = syncer_wait(ov->syncer);
    } else if (w->sync) {
        src = fdatasync(w->fd);
    }
    if (src != 0)
        return WF_E_INTERNAL;
    w->off += w->len;
    return WF_OK;
}

/* The syncer: one thread, one request at a time. */
struct wf_syncer {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fd;
    int state; /* SYNC_IDLE, SYNC_ASKED, SYNC_DONE */
    int result;
    bool quit;
};

enum { SYNC_IDLE, SYNC_ASKED, SYNC_DONE };

static void *
syncer_main(void *arg)
{
    wf_syncer_t *y = arg;
    pthread_mutex_lock(&y->mu);
    for (;;) {
        while (y->state != SYNC_ASKED && !y->quit)
            pthread_cond_wait(&y->cv, &y->mu);
        if (y->quit)
            break;
        int fd = y->fd;
        pthread_mutex_unlock(&y->mu);
        int rc = fdatasync(fd);
        pthread_mutex_lock(&y->mu);
        y->result = rc;
        y->state = SYNC_DONE;
        pthread_cond_broadcast(&y->cv);
    }
    pthread_mutex_unlock(&y->mu);
    return NULL;
}

wf_syncer_t *
wf_syncer__new(void)
{
    wf_syncer_t *y = wf_calloc(1, sizeof *y);
    pthread_mutex_init(&y->mu, NULL);
    pthread_cond_init(&y->cv, NULL);
    if (pthread_create(&y->th, NULL, syncer_main, y) != 0) {
        pthread_cond_destroy(&y->cv);
        pthread_mutex_destroy(&y->mu);
        wf_free(y);
        return NULL;
    }
    return y;
}

void
wf_syncer__destroy(wf_syncer_t **self_p)
{
    wf_syncer_t *y = *self_p;
    if (!y)
        return;
    pthread_mutex_lock(&y->mu);
    y->quit = true;
    pthread_cond_broadcast(&y->cv);
    pthread_mutex_unlock(&y->mu);
    pthread_join(y->th, NULL);
    pthread_cond_destroy(&y->cv);
    pthread_mutex_destroy(&y->mu);
    wf_free(y);
    *self_p = NULL;
}

static void
syncer_start(wf_syncer_t *y, int fd)
{
    pthread_mutex_lock(&y->mu);
    y->fd = fd;
    y->state = SYNC_ASKED;
    pthread_cond_broadcast(&y->cv);
    pthread_mutex_unlock(&y->mu);
}

static int
syncer_wait(wf_syncer_t *y)
{
    pthread_mutex_lock(&y->mu);
    while (y->state != SYNC_DONE)
        pthread_cond_wait(&y->cv, &y->mu);
    y->state = SYNC_IDLE;
    int rc = y->result;
    pthread_mutex_unlock(&y->mu);
    return rc;
}

/* Checks and applies one record's entries and head at journal.mdb's end
 * (*last); false when the record is not the journal's continuation. */
static bool
replay_record(MDB_txn *txn, wf_store_t *s, const wf_wal_hdr_t *h, const uint8_t *body,
              uint64_t *last, uint8_t prev[32], int *rc)
{
    size_t at = 0;
    wf_journal_rec_t *rec = wf_malloc(sizeof *rec);
    bool ok = true;
    uint64_t seq = h->first;
    for (uint32_t i = 0; ok && i < h->count; i++, seq++) {
        uint32_t n;
        if (h->len - at < sizeof n) {
            ok = false;
            break;
        }
        memcpy(&n, body + at, sizeof n);
        at += sizeof n;
        uint8_t want[32];
        if (n > h->len - at || wf_journal__decode(body + at, n, rec) != WF_OK ||
            rec->format < WF_JOURNAL_FORMAT_OLDEST || rec->format > WF_JOURNAL_FORMAT) {
            ok = false;
            break;
        }
        wf_journal__chain(prev, seq, rec, want);
        if (memcmp(want, rec->hash, 32) != 0) {
            ok = false;
            break;
        }
        uint8_t key[8];
        wf_store__be64(key, seq);
        MDB_val k = {sizeof key, key}, v = {n, (void *)(body + at)};
        int mrc = mdb_put(txn, s->journal, &k, &v, MDB_APPEND);
        if (mrc != 0) {
            *rc = wf_store__err(mrc);
            ok = false;
            break;
        }
        memcpy(prev, rec->hash, 32);
        at += n;
    }
    wf_free(rec);
    if (!ok)
        return false;
    wf_journal_head_t head;
    if (h->len - at != sizeof head)
        return false;
    memcpy(&head, body + at, sizeof head);
    if (head.seq != seq - 1 || memcmp(head.hash, prev, 32) != 0)
        return false;
    int prc = wf_store__put(txn, s->jmeta, "head", 4, &head, sizeof head);
    if (prc != WF_OK) {
        *rc = prc;
        return false;
    }
    *last = seq - 1;
    return true;
}

int
wf_wal__replay(wf_wal_t *w, wf_store_t *s, uint64_t *n, char *err, size_t errlen)
{
    *n = 0;
    w->off = 0;
    if (w->fd < 0)
        return WF_OK;
    MDB_txn *txn = NULL; /* mdb_txn_begin leaves it unset when it fails */
    int rc = wf_store__err(mdb_txn_begin(s->jenv, NULL, 0, &txn));
    uint64_t last = 0;
    uint8_t prev[32];
    if (rc == WF_OK)
        rc = wf_journal__last(txn, s, &last);
    if (rc == WF_OK)
        rc = wf_journal__hash(txn, s, last, prev);
    if (rc != WF_OK) {
        snprintf(err, errlen, "journal.wal: cannot read the journal's end: %s", wf_strerror(rc));
        if (txn)
            mdb_txn_abort(txn);
        return rc;
    }
    uint64_t start = last;
    size_t off = 0;
    wf_wal_hdr_t h;
    while (off + sizeof h <= w->size && io_all(w->fd, &h, sizeof h, (off_t)off, false) == 0) {
        if (h.magic != WF_WAL_MAGIC || h.first != last + 1 || h.count == 0 ||
            h.len > w->size - off - sizeof h)
            break;
        w->len = 0;
        uint8_t *body = room(w, h.len);
        uint8_t sum[16];
        if (io_all(w->fd, body, h.len, (off_t)(off + sizeof h), false) != 0)
            break;
        wal_sum(&h, body, h.len, sum);
        if (sodium_memcmp(sum, h.sum, sizeof sum) != 0)
            break; /* torn: its batch was never acknowledged */
        if (!replay_record(txn, s, &h, body, &last, prev, &rc)) {
            if (rc == WF_OK) {
                snprintf(err, errlen, "journal.wal: the record at byte %zu is whole but does not "
                         "continue the journal after entry %llu (journal.mdb and journal.wal are "
                         "not from the same database)", off, (unsigned long long)last);
                rc = WF_E_STATE;
            } else {
                snprintf(err, errlen, "journal.wal: cannot replay into journal.mdb: %s",
                         wf_strerror(rc));
            }
            mdb_txn_abort(txn);
            wf_journal__forget(s);
            return rc;
        }
        off += sizeof h + h.len;
    }
    wf_journal__forget(s);
    if (last == start) {
        mdb_txn_abort(txn);
        return WF_OK;
    }
    wf_store__journal_room(s);
    rc = wf_store__err(mdb_txn_commit(txn));
    if (rc != WF_OK) {
        snprintf(err, errlen, "journal.wal: cannot commit the replayed entries to journal.mdb: %s",
                 wf_strerror(rc));
        return rc;
    }
    *n = last - start;
    return WF_OK;
}
