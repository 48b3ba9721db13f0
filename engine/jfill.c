/* Room ahead of the journal: journal.mdb is kept written with zeros a few
 * megabytes past the pages LMDB uses, by a thread of its own, so that a
 * journal commit overwrites blocks the file system has already allocated.
 * Its fdatasync then flushes data alone; a commit that grows the file has
 * to commit the file system's own journal too (new extents, the size),
 * which on ext4 also waits for every other file's ordered data, the
 * unsynced state file's included: measured at 3.5 ms p99 and 91 ms at
 * worst per commit, against 0.8 ms and 11 ms with the room (bench/README.md).
 *
 * Safety: LMDB writes a commit's pages below (last page + the pages the
 * commit adds); the filler writes only at or past `filled`, and the writer
 * lets a commit go only while filled - used leaves more room than a batch
 * can add (WF_JFILL_LOW), waiting for the filler otherwise. The file stays
 * an ordinary LMDB file: LMDB reads nothing past its last page. */
#include "store_int.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wf_alloc.h"

#define WF_JFILL_CHUNK ((off_t)1 << 20)  /* one zero write and sync: small, so that a
                                          * commit's flush never queues behind much */
#define WF_JFILL_HIGH ((off_t)8 << 20)   /* room the filler keeps ahead (made at start) */
#define WF_JFILL_LOW ((off_t)2 << 20)    /* a commit waits below this room; a batch of
                                          * WF_BATCH_MAX entries adds well under 1 MiB */

struct wf_jfill {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    int fd;
    off_t filled;   /* bytes from the start known written */
    off_t target;   /* what the filler is asked to reach */
    off_t limit;    /* the map size: never fill past it */
    bool stop, failed;
};

/* Writes zeros over [from, to) of fd and syncs them. */
static bool
write_zeros(int fd, off_t from, off_t to)
{
    static const char zero[1 << 16];
    for (off_t off = from; off < to; off += (off_t)sizeof zero) {
        size_t len = to - off < (off_t)sizeof zero ? (size_t)(to - off) : sizeof zero;
        if (pwrite(fd, zero, len, off) != (ssize_t)len)
            return false;
    }
    return fdatasync(fd) == 0;
}

static void *
fill_main(void *arg)
{
    wf_jfill_t *f = arg;
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (!f->stop && !f->failed && f->filled >= f->target)
            pthread_cond_wait(&f->wake, &f->mu);
        if (f->stop || f->failed)
            break;
        off_t from = f->filled, to = from + WF_JFILL_CHUNK;
        if (to > f->limit)
            to = f->limit;
        pthread_mutex_unlock(&f->mu);
        bool ok = write_zeros(f->fd, from, to);
        pthread_mutex_lock(&f->mu);
        if (ok)
            f->filled = to;
        else
            f->failed = true; /* no more room is made; commits just grow the file */
        pthread_cond_broadcast(&f->done);
    }
    pthread_cond_broadcast(&f->done);
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

wf_jfill_t *
wf_jfill__new(const char *path, size_t map_size)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return NULL;
    }
    wf_jfill_t *f = wf_calloc(1, sizeof *f);
    f->fd = fd;
    f->filled = f->target = st.st_size;
    f->limit = (off_t)map_size;
    /* The first room is made before the engine serves anything: LMDB is
     * not writing yet, and a start is the time for a burst of writes. */
    off_t to = f->filled + WF_JFILL_HIGH < f->limit ? f->filled + WF_JFILL_HIGH : f->limit;
    if (to > f->filled && write_zeros(fd, f->filled, to))
        f->filled = f->target = to;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->wake, NULL);
    pthread_cond_init(&f->done, NULL);
    if (pthread_create(&f->thread, NULL, fill_main, f) != 0) {
        pthread_mutex_destroy(&f->mu);
        pthread_cond_destroy(&f->wake);
        pthread_cond_destroy(&f->done);
        close(fd);
        wf_free(f);
        return NULL;
    }
    return f;
}

void
wf_jfill__destroy(wf_jfill_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wf_jfill_t *f = *self_p;
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    pthread_cond_broadcast(&f->wake);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->wake);
    pthread_cond_destroy(&f->done);
    close(f->fd);
    wf_free(f);
    *self_p = NULL;
}

void
wf_jfill__reserve(wf_jfill_t *f, size_t used)
{
    if (!f)
        return;
    off_t u = (off_t)used;
    pthread_mutex_lock(&f->mu);
    off_t want = u + WF_JFILL_HIGH < f->limit ? u + WF_JFILL_HIGH : f->limit;
    if (!f->failed && f->filled < want && f->target < want) {
        f->target = want;
        pthread_cond_signal(&f->wake);
    }
    /* Below the low mark the filler may be about to write where this
     * commit will: wait for it (it writes one chunk at a time). */
    while (!f->failed && f->filled < f->limit && f->filled - u < WF_JFILL_LOW &&
           f->filled < f->target)
        pthread_cond_wait(&f->done, &f->mu);
    pthread_mutex_unlock(&f->mu);
}
