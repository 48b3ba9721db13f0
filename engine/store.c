/* The LMDB environment under the engine (see store_int.h for the databases
 * and record format). Opening checks that the directory really holds a
 * wufei database of this build's schema before anything is written, so a
 * wrong --db path or an old file is refused with a sentence, not
 * misread. The small put/get helpers turn LMDB codes into wf_err_t. */
#include "store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "wf_error.h"

static wf_store_layout_t
layout_now(void)
{
    wf_store_layout_t l;
    memset(&l, 0, sizeof l);
    l.version = WF_SCHEMA_VERSION;
    l.firm = sizeof(wf_firm_rec_t);
    l.order = sizeof(wf_order_rec_t);
    l.match = sizeof(wf_match_rec_t);
    l.manifest = sizeof(wf_manifest_rec_t);
    l.stream = sizeof(wf_stream_rec_t);
    l.journal = sizeof(wf_journal_rec_t);
    l.config = sizeof(wf_config_t);
    l.licence = sizeof(wf_licence_rec_t);
    l.lane = sizeof(wf_lane_rec_t);
    l.credit = sizeof(wf_credit_rec_t);
    l.sub = sizeof(wf_sub_rec_t);
    l.push = sizeof(wf_push_rec_t);
    l.push_entry = sizeof(wf_push_entry_t);
    l.stream_notify = sizeof(wf_stream_notify_t);
    l.notice = sizeof(wf_notice_rec_t);
    l.live = sizeof(wf_live_rec_t);
    return l;
}

int
wf_store__err(int rc)
{
    if (rc == 0)
        return WF_OK;
    if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL || rc == MDB_PAGE_FULL || rc == ENOSPC)
        return WF_E_FULL;
    return WF_E_INTERNAL;
}

void
wf_store__be64(uint8_t out[8], uint64_t n)
{
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)(n & 0xff);
        n >>= 8;
    }
}

uint64_t
wf_store__from_be64(const uint8_t in[8])
{
    uint64_t n = 0;
    for (int i = 0; i < 8; i++)
        n = (n << 8) | in[i];
    return n;
}

int
wf_store__put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const void *val,
              size_t vlen)
{
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    return wf_store__err(mdb_put(txn, dbi, &k, &v, 0));
}

int
wf_store__append(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const void *val,
                 size_t vlen)
{
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    int rc = mdb_put(txn, dbi, &k, &v, MDB_APPEND);
    if (rc == MDB_KEYEXIST)
        rc = mdb_put(txn, dbi, &k, &v, 0);
    return wf_store__err(rc);
}

int
wf_store__get(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, void *out, size_t len)
{
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return WF_E_NOTFOUND;
    if (rc != 0 || v.mv_size != len)
        return WF_E_INTERNAL;
    memcpy(out, v.mv_data, len);
    return WF_OK;
}

int
wf_store__del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen)
{
    MDB_val k = {klen, (void *)key};
    int rc = mdb_del(txn, dbi, &k, NULL);
    return rc == MDB_NOTFOUND ? WF_OK : wf_store__err(rc);
}

int
wf_store__meta_get(MDB_txn *txn, const wf_store_t *s, const char *name, uint64_t *out)
{
    int rc = wf_store__get(txn, s->meta, name, strlen(name), out, sizeof *out);
    if (rc == WF_E_NOTFOUND) {
        *out = 1;
        return WF_OK;
    }
    return rc;
}

int
wf_store__meta_put(MDB_txn *txn, const wf_store_t *s, const char *name, uint64_t v)
{
    return wf_store__put(txn, s->meta, name, strlen(name), &v, sizeof v);
}

/* mkdir -p: creates dir and any missing parents. */
static int
make_dirs(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        snprintf(err, errlen, "database directory path is too long");
        return -1;
    }
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
            return -1;
        }
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s is not a directory", dir);
        return -1;
    }
    return 0;
}

static int
open_dbs(wf_store_t *s, MDB_txn *txn, unsigned flags)
{
    static const struct {
        const char *name;
        size_t off;
    } dbs[] = {
        {"meta", offsetof(wf_store_t, meta)},
        {"firms", offsetof(wf_store_t, firms)},
        {"firm_keys", offsetof(wf_store_t, firm_keys)},
        {"orders", offsetof(wf_store_t, orders)},
        {"firm_orders", offsetof(wf_store_t, firm_orders)},
        {"matches", offsetof(wf_store_t, matches)},
        {"manifests", offsetof(wf_store_t, manifests)},
        {"stream", offsetof(wf_store_t, stream)},
        {"config", offsetof(wf_store_t, config)},
        {"licences", offsetof(wf_store_t, licences)},
        {"lanes", offsetof(wf_store_t, lanes)},
        {"auctions", offsetof(wf_store_t, auctions)},
        {"credit", offsetof(wf_store_t, credit)},
        {"subs", offsetof(wf_store_t, subs)},
        {"pushes", offsetof(wf_store_t, pushes)},
        {"notices", offsetof(wf_store_t, notices)},
        {"stream_floors", offsetof(wf_store_t, stream_floors)},
        {"live", offsetof(wf_store_t, live)},
    };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        int rc = mdb_dbi_open(txn, dbs[i].name, flags, (MDB_dbi *)((char *)s + dbs[i].off));
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Checks the schema record of an existing database, or writes it into a
 * fresh one (whose main database is empty). */
static int
check_schema(wf_store_t *s, MDB_txn *txn, const char *dir, bool *fresh, char *err, size_t errlen)
{
    MDB_stat st;
    MDB_dbi main_db;
    int rc = mdb_dbi_open(txn, NULL, 0, &main_db); /* it lists the named ones */
    if (rc == 0)
        rc = mdb_stat(txn, main_db, &st);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot read the database: %s", dir, mdb_strerror(rc));
        return WF_E_INTERNAL;
    }
    *fresh = st.ms_entries == 0;
    wf_store_layout_t want = layout_now(), have;
    if (!*fresh) {
        /* the version first: an older schema may lack tables of this one,
         * and its schema record may have another size */
        rc = mdb_dbi_open(txn, "meta", 0, &s->meta);
        MDB_val k = {6, "schema"}, v;
        memset(&have, 0, sizeof have);
        if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE) {
            snprintf(err, errlen, "%s is not a wufei database (no wufei tables in it)", dir);
            return WF_E_FIELD;
        }
        if (rc != 0 || mdb_get(txn, s->meta, &k, &v) != 0 || v.mv_size < sizeof have.version) {
            snprintf(err, errlen, "%s is not a wufei database (no schema record)", dir);
            return WF_E_FIELD;
        }
        memcpy(&have, v.mv_data, v.mv_size < sizeof have ? v.mv_size : sizeof have);
        if (have.version != want.version) {
            snprintf(err, errlen,
                     "%s has schema version %u but this wufei reads version %u; "
                     "migrate or use another directory", dir, have.version, want.version);
            return WF_E_FIELD;
        }
        if (v.mv_size != sizeof want || memcmp(&have, &want, sizeof want) != 0) {
            snprintf(err, errlen,
                     "%s was written by a build with other record layouts (schema %u); "
                     "records are raw structs, so it cannot be read by this build", dir,
                     have.version);
            return WF_E_FIELD;
        }
    }
    rc = open_dbs(s, txn, *fresh ? MDB_CREATE : 0);
    if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE) {
        snprintf(err, errlen, "%s is not a wufei database (no wufei tables in it)", dir);
        return WF_E_FIELD;
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot open tables: %s", dir, mdb_strerror(rc));
        return wf_store__err(rc);
    }
    if (*fresh) {
        rc = wf_store__put(txn, s->meta, "schema", 6, &want, sizeof want);
        if (rc != WF_OK)
            snprintf(err, errlen, "%s: cannot write the schema record: %s", dir,
                     wf_strerror(rc));
        return rc;
    }
    return WF_OK;
}

static int
open_env(wf_store_t *s, const char *dir, size_t map_size, char *err,
         size_t errlen)
{
    int rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, 24);
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->env, map_size ? map_size : ((size_t)1 << 30));
    if (rc != 0) {
        snprintf(err, errlen, "cannot set up LMDB: %s", mdb_strerror(rc));
        return WF_E_INTERNAL;
    }
    /* the state is never synced per commit: the journal is (store_int.h) */
    rc = mdb_env_open(s->env, dir, MDB_NOTLS | MDB_NOSYNC, 0600);
    if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH) {
        snprintf(err, errlen, "%s is not a wufei database (data.mdb is not an LMDB file "
                 "of this version, or its header is damaged: restore it from a backup)", dir);
        return WF_E_FIELD;
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot open database in %s: %s", dir, mdb_strerror(rc));
        return WF_E_INTERNAL;
    }
    int dead = 0;
    mdb_reader_check(s->env, &dead); /* readers left by a killed process */
    return WF_OK;
}

/* ---- the journal environment ---- */

static wf_journal_layout_t
jlayout_now(void)
{
    wf_journal_layout_t l;
    memset(&l, 0, sizeof l);
    l.version = WF_SCHEMA_VERSION;
    l.journal = sizeof(wf_journal_rec_t);
    l.head = sizeof(wf_journal_head_t);
    l.session = sizeof(wf_store_session_t);
    return l;
}

void
wf_store__boot_id(char out[40])
{
    memset(out, 0, 40);
    const char *fake = getenv("WUFEI_BOOT_ID"); /* tests: a machine restart */
    if (fake && *fake) {
        snprintf(out, 40, "%s", fake);
        return;
    }
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (f) {
        if (!fgets(out, 40, f))
            out[0] = 0;
        fclose(f);
    }
    out[strcspn(out, "\n")] = 0;
    if (!out[0])
        snprintf(out, 40, "unknown"); /* never equal across boots is safer: see below */
}

/* dir/journal.mdb into out. */
static void
journal_path(const char *dir, char out[4200])
{
    snprintf(out, 4200, "%s/journal.mdb", dir);
}

/* Opens dir/journal.mdb (its lock file beside it) and its two tables,
 * writing the layout record into a fresh one (*jfresh). */
static int
open_journal(wf_store_t *s, const char *dir, size_t map_size, bool no_sync, bool rdonly,
             bool *jfresh, char *err, size_t errlen)
{
    char path[4200];
    journal_path(dir, path);
    struct stat st;
    if (rdonly && stat(path, &st) != 0) {
        snprintf(err, errlen, "%s holds no journal (no journal.mdb)", dir);
        return WF_E_NOTFOUND;
    }
    int rc = mdb_env_create(&s->jenv);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->jenv, 4);
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->jenv, map_size ? map_size : ((size_t)1 << 30));
    unsigned flags = MDB_NOTLS | MDB_NOSUBDIR | (rdonly ? MDB_RDONLY : 0) |
                     (no_sync ? MDB_NOSYNC : 0);
    if (rc == 0)
        rc = mdb_env_open(s->jenv, path, flags, 0600);
    if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH) {
        snprintf(err, errlen, "%s is not a wufei journal (not an LMDB file of this version, or "
                 "its header is damaged: restore it from a backup)", path);
        return WF_E_FIELD;
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot open the journal %s: %s", path, mdb_strerror(rc));
        return WF_E_INTERNAL;
    }
    int dead = 0;
    if (!rdonly)
        mdb_reader_check(s->jenv, &dead);
    MDB_txn *txn;
    rc = mdb_txn_begin(s->jenv, NULL, rdonly ? MDB_RDONLY : 0, &txn);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot begin a transaction: %s", path, mdb_strerror(rc));
        return wf_store__err(rc);
    }
    MDB_dbi main_db;
    MDB_stat ms;
    rc = mdb_dbi_open(txn, NULL, 0, &main_db);
    if (rc == 0)
        rc = mdb_stat(txn, main_db, &ms);
    *jfresh = rc == 0 && ms.ms_entries == 0;
    wf_journal_layout_t want = jlayout_now();
    if (rc == 0 && *jfresh && rdonly) {
        snprintf(err, errlen, "%s is an empty journal", path);
        mdb_txn_abort(txn);
        return WF_E_NOTFOUND;
    }
    unsigned dflags = *jfresh ? MDB_CREATE : 0;
    if (rc == 0)
        rc = mdb_dbi_open(txn, "jmeta", dflags, &s->jmeta);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "journal", dflags, &s->journal);
    if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE) {
        snprintf(err, errlen, "%s is not a wufei journal (no wufei tables in it)", path);
        mdb_txn_abort(txn);
        return WF_E_FIELD;
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot open tables: %s", path, mdb_strerror(rc));
        mdb_txn_abort(txn);
        return wf_store__err(rc);
    }
    if (*jfresh) {
        rc = wf_store__put(txn, s->jmeta, "schema", 6, &want, sizeof want);
        if (rc != WF_OK) {
            snprintf(err, errlen, "%s: cannot write the layout record: %s", path, wf_strerror(rc));
            mdb_txn_abort(txn);
            return rc;
        }
    } else {
        MDB_val k = {6, "schema"}, v;
        if (mdb_get(txn, s->jmeta, &k, &v) != 0 || v.mv_size != sizeof want ||
            memcmp(v.mv_data, &want, sizeof want) != 0) {
            snprintf(err, errlen, "%s was written by another wufei version or build (its "
                     "layout record differs from this build's, schema %u)", path,
                     WF_SCHEMA_VERSION);
            mdb_txn_abort(txn);
            return WF_E_FIELD;
        }
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot commit: %s", path, mdb_strerror(rc));
        return wf_store__err(rc);
    }
    return WF_OK;
}

/* Writes the session record: this boot's id, and whether the state file
 * is on disk as its last commit left it (clean). */
static int
put_session(wf_store_t *s, bool clean)
{
    wf_store_session_t ss;
    memset(&ss, 0, sizeof ss);
    memcpy(ss.boot, s->boot, sizeof ss.boot);
    ss.clean = clean;
    MDB_txn *txn;
    int rc = wf_store__err(mdb_txn_begin(s->jenv, NULL, 0, &txn));
    if (rc != WF_OK)
        return rc;
    rc = wf_store__put(txn, s->jmeta, "session", 7, &ss, sizeof ss);
    if (rc != WF_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    return wf_store__err(mdb_txn_commit(txn));
}

/* Whether the state file can be trusted: it can unless its writer was
 * stopped without a clean close (mdb_env_sync, then session clean) and
 * the machine has restarted since: then its unsynced pages may never
 * have reached the disk, and LMDB may have reused pages that the last
 * synced meta page still points to. A process crash alone (kill -9)
 * loses nothing: its writes are in the page cache. */
static bool
state_trusted(wf_store_t *s)
{
    MDB_txn *txn;
    if (mdb_txn_begin(s->jenv, NULL, MDB_RDONLY, &txn) != 0)
        return false;
    wf_store_session_t ss;
    int rc = wf_store__get(txn, s->jmeta, "session", 7, &ss, sizeof ss);
    mdb_txn_abort(txn);
    if (rc == WF_E_NOTFOUND)
        return true; /* a journal that never ran a session */
    if (rc != WF_OK)
        return false;
    ss.boot[sizeof ss.boot - 1] = 0;
    return ss.clean || (strcmp(ss.boot, s->boot) == 0 && strcmp(s->boot, "unknown") != 0);
}

static void
remove_state_files(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    remove(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    remove(path);
}

static int
open_state(wf_store_t *s, const char *dir, size_t map_size, bool *fresh, char *err, size_t errlen)
{
    int rc = open_env(s, dir, map_size, err, errlen);
    MDB_txn *txn = NULL;
    if (rc == WF_OK) {
        int mrc = mdb_txn_begin(s->env, NULL, 0, &txn);
        if (mrc != 0) {
            snprintf(err, errlen, "%s: cannot begin a transaction: %s", dir, mdb_strerror(mrc));
            rc = wf_store__err(mrc);
        }
    }
    if (rc == WF_OK)
        rc = check_schema(s, txn, dir, fresh, err, errlen);
    if (rc == WF_OK) {
        int mrc = mdb_txn_commit(txn);
        txn = NULL;
        if (mrc != 0) {
            snprintf(err, errlen, "%s: cannot commit: %s", dir, mdb_strerror(mrc));
            rc = wf_store__err(mrc);
        }
    }
    if (txn)
        mdb_txn_abort(txn);
    return rc;
}

int
wf_store__open(wf_store_t *s, const char *dir, size_t map_size, bool no_sync, bool *fresh,
               char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->wal.fd = -1;
    if (!dir || !*dir) {
        snprintf(err, errlen, "no database directory given");
        return WF_E_FIELD;
    }
    if (make_dirs(dir, err, errlen) != 0)
        return WF_E_INTERNAL;
    wf_store__boot_id(s->boot);
    char sp[4200];
    snprintf(sp, sizeof sp, "%s/data.mdb", dir);
    struct stat st;
    bool had_state = stat(sp, &st) == 0 && st.st_size > 0;
    bool jfresh = false;
    int rc = open_journal(s, dir, map_size, no_sync, false, &jfresh, err, errlen);
    if (rc == WF_OK && jfresh && had_state) {
        /* a state file without its journal: an older schema, or a lost
         * journal; the schema check names the first */
        rc = open_state(s, dir, map_size, fresh, err, errlen);
        if (rc == WF_OK) {
            snprintf(err, errlen, "%s has a state file (data.mdb) but no journal (journal.mdb): "
                     "without its journal the state cannot be trusted; restore both from a "
                     "backup", dir);
            rc = WF_E_FIELD;
        }
        char jp[4200];
        journal_path(dir, jp);
        wf_store__close(s);
        remove(jp); /* made just now by this open, with its lock file */
        char lock[4210];
        snprintf(lock, sizeof lock, "%s-lock", jp);
        remove(lock);
        return rc;
    }
    if (rc == WF_OK && !jfresh && had_state && !state_trusted(s)) {
        remove_state_files(dir);
        s->rebuilt = true;
    }
    if (rc == WF_OK)
        rc = open_state(s, dir, map_size, fresh, err, errlen);
    if (rc == WF_OK)
        rc = wf_wal__open(&s->wal, dir, !no_sync, err, errlen);
    if (rc == WF_OK) {
        rc = put_session(s, false);
        if (rc != WF_OK)
            snprintf(err, errlen, "%s: cannot write to the journal: %s", dir, wf_strerror(rc));
    }
    if (rc != WF_OK) {
        wf_store__close(s);
        return rc;
    }
    s->writable = true;
    MDB_stat ms;
    MDB_envinfo info;
    if (!no_sync && mdb_env_stat(s->jenv, &ms) == 0 && mdb_env_info(s->jenv, &info) == 0) {
        char jp[4200];
        journal_path(dir, jp);
        s->jpsize = ms.ms_psize;
        s->jfill = wf_jfill__new(jp, info.me_mapsize);
    }
    return WF_OK;
}

void
wf_store__journal_room(wf_store_t *s)
{
    MDB_envinfo info;
    if (s->jfill && mdb_env_info(s->jenv, &info) == 0)
        wf_jfill__reserve(s->jfill, (info.me_last_pgno + 1) * s->jpsize);
}

int
wf_store__settle_journal(const char *dir, uint64_t *n, char *err, size_t errlen)
{
    wf_store_t s;
    memset(&s, 0, sizeof s);
    s.wal.fd = -1;
    *n = 0;
    bool jfresh;
    int rc = open_journal(&s, dir, 0, false, false, &jfresh, err, errlen);
    if (rc == WF_OK)
        rc = wf_wal__open(&s.wal, dir, true, err, errlen);
    if (rc == WF_OK)
        rc = wf_wal__replay(&s.wal, &s, n, err, errlen);
    if (s.jenv) /* not wf_store__close: the session record stays as it was */
        mdb_env_close(s.jenv);
    wf_wal__close(&s.wal);
    return rc;
}

int
wf_store__open_readonly(wf_store_t *s, const char *dir, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->wal.fd = -1;
    struct stat st;
    char path[4200];
    snprintf(path, sizeof path, "%s/data.mdb", dir ? dir : "");
    if (!dir || !*dir || stat(path, &st) != 0) {
        snprintf(err, errlen, "%s holds no database (no data.mdb)", dir ? dir : "(none)");
        return WF_E_NOTFOUND;
    }
    int rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, 24);
    if (rc == 0)
        rc = mdb_env_open(s->env, dir, MDB_NOTLS | MDB_RDONLY, 0600);
    if (rc != 0) {
        snprintf(err, errlen, "cannot open database in %s read-only: %s", dir, mdb_strerror(rc));
        wf_store__close(s);
        return WF_E_INTERNAL;
    }
    MDB_txn *txn;
    rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot begin a read transaction: %s", dir, mdb_strerror(rc));
        wf_store__close(s);
        return WF_E_INTERNAL;
    }
    bool fresh = false;
    rc = check_schema(s, txn, dir, &fresh, err, errlen);
    if (rc == WF_OK && fresh) {
        snprintf(err, errlen, "%s is an empty database", dir);
        rc = WF_E_NOTFOUND;
    }
    /* named databases opened in a read transaction stay usable after it
     * commits (a read-only commit only releases the snapshot) */
    if (rc == WF_OK)
        rc = wf_store__err(mdb_txn_commit(txn));
    else
        mdb_txn_abort(txn);
    bool jfresh;
    if (rc == WF_OK)
        rc = open_journal(s, dir, 0, false, true, &jfresh, err, errlen);
    if (rc != WF_OK)
        wf_store__close(s);
    return rc;
}

void
wf_store__close(wf_store_t *s)
{
    /* A clean close: the state file synced, then the session marked
     * clean, so that the next start trusts it even after a machine
     * restart. */
    wf_jfill__destroy(&s->jfill);
    if (s->writable && s->env && s->jenv && mdb_env_sync(s->env, 1) == 0)
        put_session(s, true);
    s->writable = false;
    if (s->env)
        mdb_env_close(s->env);
    s->env = NULL;
    if (s->jenv)
        mdb_env_close(s->jenv);
    s->jenv = NULL;
    wf_wal__close(&s->wal);
}

int
wf_store__applied(MDB_txn *txn, const wf_store_t *s, uint64_t *seq)
{
    int rc = wf_store__get(txn, s->meta, "applied", 7, seq, sizeof *seq);
    if (rc == WF_E_NOTFOUND) {
        *seq = 0;
        return WF_OK;
    }
    return rc;
}
