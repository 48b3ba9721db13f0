/* Store faults, end to end. A daemon on a tiny LMDB map answers E_FULL
 * once the map is full, with nothing half-applied (exactly the
 * acknowledged orders exist, before and after a restart), and resumes
 * service when restarted with a larger --map-size. A database directory
 * whose data.mdb is corrupted, foreign (not LMDB, or LMDB of something
 * else) or whose key files are damaged is refused at start: non-zero exit
 * and a sentence on stderr saying what is wrong, never a crash. */
#include "e2e_daemon.h"

#define PRODUCER "91330603MA2D000001"
#define MAX_ACK 50000

static char acked[MAX_ACK][24];
static int nacked;

static size_t count_mine(wfc_t *c)
{
    const msgpack_object *r = req(c, "orders.mine", "live_only:b", 0);
    assert_ok(r, "orders.mine");
    const msgpack_object *os = wfc_get(r, "orders");
    cr_assert(os && os->type == MSGPACK_OBJECT_ARRAY);
    return os->via.array.size;
}

static void all_acked_present(const dmn_t *d)
{
    wfc_t *op = dmn_operator(d);
    for (int i = 0; i < nacked; i++) {
        const msgpack_object *r = req(op, "order.get", "id:s", acked[i]);
        if (!wfc_get_bool(r, "ok", false))
            cr_assert_fail("acknowledged %s is missing", acked[i]);
    }
    wfc_destroy(&op);
}

Test(store, a_full_map_answers_E_FULL_and_a_larger_one_resumes, .timeout = 180)
{
    dmn_t d;
    dmn_init(&d, true);
    d.extra[0] = "--quiet";
    d.extra[1] = "--map-size";
    d.extra[2] = "1";
    dmn_start(&d);
    wfc_t *op = dmn_operator(&d);
    assert_ok(req(op, "config.set", "rate_per_s:i", 0LL), "no rate limit");
    dmn_put_firm(op, PRODUCER, "producer", 30.08, 120.49, 330603, NULL);
    wfc_destroy(&op);

    wfc_t *p = dmn_client_keys(&d, PRODUCER, NULL, 5000);
    int full = 0;
    char msg[256] = "";
    for (int i = 0; i < MAX_ACK && full < 3; i++) {
        const msgpack_object *r = req(p, "offer.post", "code:s qty:i price:i", "SW07", 100LL + i, 100000LL);
        if (wfc_get_bool(r, "ok", false)) {
            cr_assert_eq(full, 0, "a post succeeded after E_FULL on an unchanged map");
            wfc_get_str(r, "id", acked[nacked], sizeof acked[nacked]);
            nacked++;
            continue;
        }
        char e[32] = "";
        wfc_get_str(r, "err", e, sizeof e);
        wfc_get_str(r, "msg", msg, sizeof msg);
        cr_assert_str_eq(e, "E_FULL", "%s", msg);
        cr_assert_null(wfc_get(r, "id"), "a refused post has no id");
        full++;
    }
    cr_assert_eq(full, 3, "a 1 MiB map never filled");
    cr_log_info("1 MiB map full after %d offers: %s", nacked, msg);
    /* reads still work, and exactly the acknowledged orders exist */
    /* orders.mine lists the newest 1,000 */
    size_t mine = count_mine(p), want = nacked < 1000 ? (size_t)nacked : 1000;
    cr_assert_eq(mine, want, "half-applied posts: %zu orders, %d acknowledged", mine, nacked);
    all_acked_present(&d);
    assert_ok(req(p, "ping", NULL), "ping on a full store");
    wfc_destroy(&p);
    cr_assert_eq(dmn_stop(&d), 0, "wufeid on a full store should stop cleanly");

    /* the same size again: still full, still consistent */
    dmn_start(&d);
    p = dmn_client_keys(&d, PRODUCER, NULL, 5000);
    cr_assert_eq(count_mine(p), want);
    all_acked_present(&d);
    wfc_destroy(&p);
    cr_assert_eq(dmn_stop(&d), 0);

    /* a larger map: everything is there and service resumes */
    d.extra[2] = "64";
    dmn_start(&d);
    all_acked_present(&d);
    p = dmn_client_keys(&d, PRODUCER, NULL, 5000);
    cr_assert_eq(count_mine(p), want);
    all_acked_present(&d);
    for (int i = 0; i < 50; i++)
        assert_ok(req(p, "offer.post", "code:s qty:i price:i", "SW07", 7LL, 100000LL), "offer.post after growing");
    cr_assert_eq(count_mine(p), nacked + 50 < 1000 ? (size_t)nacked + 50 : 1000);
    wfc_destroy(&p);
    dmn_fini(&d);
}

/* Starts wufeid on d's directory expecting it to refuse: returns its
 * stderr; asserts a non-zero exit within 20 s. */
static const char *refused(dmn_t *d, const char *what)
{
    static char log[16384];
    int trc = truncate(d->log, 0);
    (void)trc;
    int st = -1;
    bool up = dmn_try_start(d, &st);
    if (up) {
        dmn_stop(d);
        cr_assert_fail("wufeid started on %s", what);
    }
    cr_assert(st != 0 && st < 128, "%s: exit status %d (a crash is not a refusal)", what, st);
    dmn_slurp(d->log, log, sizeof log);
    cr_assert(strstr(log, "cannot open the engine") || strstr(log, "cannot start"), "%s: %s", what, log);
    return log;
}

static void write_bytes(const char *path, long off, const void *buf, size_t n)
{
    int fd = open(path, O_WRONLY);
    cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
    cr_assert_eq(pwrite(fd, buf, n, off), (ssize_t)n);
    close(fd);
}

Test(store, damaged_or_foreign_databases_are_refused_at_start, .timeout = 120)
{
    dmn_t d;
    dmn_init(&d, true);
    d.extra[0] = "--quiet";
    dmn_start(&d);
    wfc_t *op = dmn_operator(&d);
    dmn_put_firm(op, PRODUCER, "producer", 30.08, 120.49, 330603, NULL);
    wfc_destroy(&op);
    cr_assert_eq(dmn_stop(&d), 0);
    char mdb[300], saved[300], cmd[1400];
    snprintf(mdb, sizeof mdb, "%s/data.mdb", d.dir);
    snprintf(saved, sizeof saved, "%s.saved", d.dir);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", mdb, saved);
    cr_assert_eq(system(cmd), 0);

    /* both meta pages overwritten */
    char junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 131 + 7);
    write_bytes(mdb, 0, junk, sizeof junk);
    const char *log = refused(&d, "a data.mdb with corrupted meta pages");
    cr_log_info("corrupted meta pages: %s", log);

    /* a file that is not LMDB at all */
    FILE *f = fopen(mdb, "w");
    cr_assert_not_null(f);
    fputs("#!/bin/sh\necho this is not a database\n", f);
    for (int i = 0; i < 1000; i++)
        fputs("padding padding padding padding\n", f);
    fclose(f);
    log = refused(&d, "a shell script as data.mdb");
    cr_assert(strstr(log, "not a wufei database") || strstr(log, "LMDB") || strstr(log, "invalid"),
              "the message should say what is wrong: %s", log);

    /* a valid LMDB file of something else */
    unlink(mdb);
    char lock[300];
    snprintf(lock, sizeof lock, "%s/lock.mdb", d.dir);
    unlink(lock);
    snprintf(cmd, sizeof cmd, "printf 'VERSION=3\\nformat=bytevalue\\ntype=btree\\nHEADER=END\\n 636174\\n 746f6d\\nDATA=END\\n' | "
                              "mdb_load -f /dev/stdin '%s' 2>/dev/null",
             d.dir);
    if (system(cmd) == 0) {
        log = refused(&d, "an LMDB database of something else");
        cr_assert(strstr(log, "not a wufei database"), "%s", log);
    }

    /* the real database back, but a damaged server key */
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && rm -f '%s'", saved, mdb, lock);
    cr_assert_eq(system(cmd), 0);
    d.insecure = false;
    dmn_start(&d); /* makes the key files */
    cr_assert_eq(dmn_stop(&d), 0);
    char key[300];
    snprintf(key, sizeof key, "%s/server.key", d.dir);
    write_bytes(key, 3, "\n\n", 2);
    log = refused(&d, "a damaged server.key");
    cr_assert(strstr(log, "server.key"), "%s", log);
    /* a secret key others may read */
    unlink(key);
    dmn_start(&d);
    cr_assert_eq(dmn_stop(&d), 0);
    chmod(key, 0644);
    log = refused(&d, "a server.key readable by others");
    cr_assert(strstr(log, "may be read by others"), "%s", log);
    chmod(key, 0600);
    dmn_start(&d);
    /* the original database survived all this */
    op = dmn_operator(&d);
    assert_ok(req(op, "firm.get", "firm:s", PRODUCER), "the firm is still there");
    wfc_destroy(&op);
    unlink(saved);
    dmn_fini(&d);
}
