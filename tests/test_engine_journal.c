/* The journal's hash chain and its offline checks: the audit passes on an
 * untouched history, pinpoints the entry whose byte was changed (the test
 * rewrites one record through LMDB directly), and notices a chain rewritten
 * consistently after the engine signed its head; the replay check rebuilds
 * a scripted session (orders expiring by tick, manifests in every state,
 * a manifest expiring by age, config changes) from the journal alone and
 * gets the live state hash, and notices a state changed behind the
 * journal's back. */
#include <sodium.h>

#include "engine_fixture.h"
#include "engine/audit.h"
#include "engine/engine_int.h"

TestSuite(journal, .init = setup, .fini = teardown);

#define K1 "K00000000000000001"

static wf_cmd_t
mf(wf_op_t op, const char *as, uint64_t id)
{
    wf_cmd_t c = mk(op, as);
    wf_id_format(c.u.manifest.id, 'F', id);
    return c;
}

static void
tick(int64_t at)
{
    wf_cmd_t c;
    memset(&c, 0, sizeof c);
    c.op = WF_OP_TICK;
    cr_assert_eq(wf_engine_apply(E, &c, 1, at, R, &OUT), WF_OK);
    cr_assert_eq(R[0].err, WF_OK, "tick: %s", R[0].msg);
}

static uint64_t
matched(int64_t q)
{
    ok(demand(C1, "SW07", q, 2000));
    wf_reply_t *r = ok(offer(P1, "SW07", q, 1000));
    cr_assert_eq(r->nmatches, 1);
    return r->matches[0].manifest;
}

/* A day with everything the journal must reproduce. */
static void
session(void)
{
    market();
    ok(firm(K1, WF_ROLE_CARRIER, 30.0, 120.5, 330602));
    wf_cmd_t cfg = mk(WF_OP_CONFIG_SET, OP);
    cfg.u.config.set = WF_CFG_MANIFEST_AGE | WF_CFG_W_DISTANCE;
    cfg.u.config.values.manifest_age = 3600000;
    cfg.u.config.values.w_distance = 0.7;
    ok(cfg);
    uint64_t ids[6];
    for (int i = 0; i < 6; i++) {
        now += 1000;
        ids[i] = matched(1000 * (i + 1));
    }
    /* some orders that expire by tick, one that a later demand fills */
    wf_cmd_t o = offer(P2, "SW07", 4000, 900);
    o.u.post.expires = now + 5000;
    o.has |= WF_HAS_EXPIRES;
    ok(o);
    wf_cmd_t d = demand(C2, "SW07", 2500, 100);
    d.u.post.expires = now + 7000;
    d.has |= WF_HAS_EXPIRES;
    ok(d);
    tick(now + 5000);
    tick(now + 7000);
    now += 8000;
    /* manifests in every state */
    for (int i = 0; i < 5; i++) {
        wf_cmd_t c = mf(WF_OP_MANIFEST_DISPATCH, i % 2 ? K1 : P1, ids[i]);
        snprintf(c.u.manifest.carrier, sizeof c.u.manifest.carrier, "%s", i % 2 ? K1 : P1);
        snprintf(c.u.manifest.vehicle, sizeof c.u.manifest.vehicle, "浙D%05d", i);
        ok(c);
    }
    for (int i = 0; i < 4; i++) {
        wf_cmd_t c = mf(WF_OP_MANIFEST_LOAD, P1, ids[i]);
        c.u.manifest.qty = 1000 * (i + 1);
        ok(c);
    }
    for (int i = 0; i < 3; i++) {
        wf_cmd_t c = mf(WF_OP_MANIFEST_UNLOAD, C1, ids[i]);
        c.u.manifest.qty = 1000 * (i + 1) - (i == 1 ? 300 : 0); /* one discrepancy */
        ok(c);
    }
    for (int i = 0; i < 2; i++)
        ok(mf(WF_OP_MANIFEST_CLOSE, C1, ids[i]));
    wf_cmd_t c = mf(WF_OP_MANIFEST_CANCEL, C1, ids[4]);
    snprintf(c.u.manifest.reason, sizeof c.u.manifest.reason, "truck broke down");
    ok(c);
    /* ids[5] stays OPEN until its age cancels it */
    tick(now + 3600000);
    cr_assert_eq(OUT.nstream, 3, "the open manifest expired (and the producer lost credit)");
    now += 3600001;
    wf_reply_t *r = ok(demand(C2, "SW07", 900, 10)); /* rests: nothing at that price */
    cr_assert_eq(r->nmatches, 0);
    char rid[WF_OID_LEN];
    snprintf(rid, sizeof rid, "%s", r->id);
    ok(ref(WF_OP_ORDER_CANCEL, C2, rid));
    wf_cmd_t lic = mk(WF_OP_LICENCE_PUT, OP);
    snprintf(lic.u.licence.firm, sizeof lic.u.licence.firm, "%s", C2);
    lic.u.licence.ncodes = 1;
    snprintf(lic.u.licence.codes[0], sizeof lic.u.licence.codes[0], "HW08");
    lic.u.licence.capacity = 100000;
    lic.u.licence.valid_until = T0 + 365LL * 86400000;
    ok(lic);
    wf_cmd_t lane = mk(WF_OP_LANE_PUT, OP);
    snprintf(lane.u.lane.producer, sizeof lane.u.lane.producer, "%s", P1);
    snprintf(lane.u.lane.consumer, sizeof lane.u.lane.consumer, "%s", C1);
    snprintf(lane.u.lane.code, sizeof lane.u.lane.code, "HW08");
    ok(lane);
    ok(demand(C2, "HW08", 3000, 500));
    ok(offer(P2, "900-249-08", 2000, 100)); /* licensed: matches, uses capacity */
    matched(500); /* a manifest still OPEN at the end */
}

static void
audit_ok(const char *d)
{
    wf_audit_report_t rep;
    char err[512] = "";
    cr_assert_eq(wf_journal_audit(d, &rep, err, sizeof err), WF_OK, "%s", err);
    cr_assert(rep.ok, "audit: %s", rep.problem);
    cr_assert_eq(rep.nbad, 0);
    cr_assert(rep.head_present && rep.head_sig_ok && rep.head_matches);
    cr_assert_eq(rep.head_seq, rep.last_seq);
}

/* Rewrites journal entry seq through LMDB directly: flips one byte at off
 * within the record, and (rechain) recomputes every later hash as a forger
 * without the signing key would. */
static void
tamper(uint64_t seq, size_t off, bool rechain)
{
    wf_store_t s;
    bool fresh;
    char err[256];
    cr_assert_eq(wf_store__open(&s, dir, 0, false, &fresh, err, sizeof err), WF_OK, "%s", err);
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(s.jenv, NULL, 0, &txn), 0);
    uint64_t last;
    cr_assert_eq(wf_journal__last(txn, &s, &last), WF_OK);
    wf_journal_rec_t *rec = malloc(sizeof *rec);
    uint8_t prev[32];
    cr_assert_eq(wf_journal__hash(txn, &s, seq - 1, prev), WF_OK);
    for (uint64_t q = seq; q <= (rechain ? last : seq); q++) {
        cr_assert_eq(wf_journal__get(txn, &s, q, rec), WF_OK);
        if (q == seq)
            ((uint8_t *)rec)[off] ^= 0x20;
        if (rechain)
            wf_journal__chain(prev, q, rec, rec->hash);
        memcpy(prev, rec->hash, 32);
        cr_assert_eq(wf_journal__put(txn, &s, q, rec, 0), WF_OK);
    }
    free(rec);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    wf_store__close(&s);
}

Test(journal, the_audit_passes_and_pinpoints_a_changed_byte)
{
    session();
    uint64_t last = wf_engine_journal_seq(E);
    cr_assert_gt(last, 30);
    wf_engine_destroy(&E); /* one LMDB environment per process at a time */
    audit_ok(dir);

    /* one byte of entry 12's command (its quantity or id, whatever lies there) */
    tamper(12, offsetof(wf_journal_rec_t, cmd) + offsetof(wf_cmd_t, u) + 3, false);
    wf_audit_report_t rep;
    char err[512] = "";
    cr_assert_eq(wf_journal_audit(dir, &rep, err, sizeof err), WF_OK, "%s", err);
    cr_assert_not(rep.ok);
    cr_assert_eq(rep.first_bad, 12, "first bad %llu", (unsigned long long)rep.first_bad);
    cr_assert_eq(rep.nbad, 1, "only the changed entry breaks");
    cr_assert_not_null(strstr(rep.problem, "entry 12 "), "%s", rep.problem);
    cr_assert(rep.head_sig_ok && rep.head_matches, "the head itself is untouched");

    /* its time field, in the last entry */
    tamper(12, offsetof(wf_journal_rec_t, cmd) + offsetof(wf_cmd_t, u) + 3, false); /* undo */
    audit_ok(dir);
    tamper(last, offsetof(wf_journal_rec_t, now), false);
    cr_assert_eq(wf_journal_audit(dir, &rep, err, sizeof err), WF_OK);
    cr_assert_eq(rep.first_bad, last);
    tamper(last, offsetof(wf_journal_rec_t, now), false);
    audit_ok(dir);
}

/* A journal begun by an older build: its first k entries in format 3
 * (hashed over the whole record), the rest in this build's format 4
 * (over the stored bytes), the chain running through both and the head
 * signed by the engine's key, as an upgrade leaves it. */
static void
older_format(uint64_t k)
{
    wf_store_t s;
    bool fresh;
    char err[256];
    cr_assert_eq(wf_store__open(&s, dir, 0, false, &fresh, err, sizeof err), WF_OK, "%s", err);
    uint8_t pk[32], sk[64];
    cr_assert_eq(wf_signkey__load(dir, pk, sk, err, sizeof err), WF_OK, "%s", err);
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(s.jenv, NULL, 0, &txn), 0);
    uint64_t last;
    cr_assert_eq(wf_journal__last(txn, &s, &last), WF_OK);
    wf_journal_rec_t *rec = malloc(sizeof *rec);
    uint8_t prev[32] = {0};
    for (uint64_t q = 1; q <= last; q++) {
        cr_assert_eq(wf_journal__get(txn, &s, q, rec), WF_OK);
        cr_assert_eq(rec->format, WF_JOURNAL_FORMAT);
        if (q <= k) { /* format 3's rule, as docs/protocol.md states it */
            rec->format = 3;
            crypto_generichash_state st;
            uint8_t be[8];
            wf_store__be64(be, q);
            crypto_generichash_init(&st, NULL, 0, 32);
            crypto_generichash_update(&st, prev, 32);
            crypto_generichash_update(&st, be, 8);
            crypto_generichash_update(&st, (const uint8_t *)rec, offsetof(wf_journal_rec_t, hash));
            crypto_generichash_final(&st, rec->hash, 32);
        } else {
            wf_journal__chain(prev, q, rec, rec->hash);
        }
        memcpy(prev, rec->hash, 32);
        cr_assert_eq(wf_journal__put(txn, &s, q, rec, 0), WF_OK);
    }
    free(rec);
    cr_assert_eq(wf_journal__sign_head(txn, &s, last, sk), WF_OK);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    wf_store__close(&s);
}

Test(journal, an_older_journal_in_format_3_audits_replays_and_goes_on_in_format_4)
{
    session();
    uint64_t last = wf_engine_journal_seq(E);
    wf_engine_destroy(&E);
    older_format(last / 2);
    audit_ok(dir);
    /* a changed byte in an old entry is still pinpointed by its own rule */
    tamper(5, offsetof(wf_journal_rec_t, cmd) + offsetof(wf_cmd_t, u) + 3, false);
    wf_audit_report_t rep;
    char err[512] = "";
    cr_assert_eq(wf_journal_audit(dir, &rep, err, sizeof err), WF_OK, "%s", err);
    cr_assert_eq(rep.first_bad, 5, "first bad %llu", (unsigned long long)rep.first_bad);
    cr_assert_eq(rep.nbad, 1);
    tamper(5, offsetof(wf_journal_rec_t, cmd) + offsetof(wf_cmd_t, u) + 3, false);
    audit_ok(dir);
    /* the engine goes on from it, in format 4 */
    E = open_at(dir, 0);
    ok(demand(C1, "SW07", 700, 2000));
    wf_engine_destroy(&E);
    audit_ok(dir);
    wf_replay_report_t rr;
    cr_assert_eq(wf_engine_replay(dir, WUFEI_CATALOGUE, NULL, &rr, err, sizeof err), WF_OK, "%s",
                 err);
    cr_assert(rr.equal, "%s", rr.problem);
    E = open_at(dir, 0); /* for the teardown */
}

/* The session's journal as stored, read-only, and a cursor over it. */
typedef struct {
    wf_store_t s;
    MDB_txn *txn;
} journal_view_t;

static MDB_cursor *
journal_open(journal_view_t *jv)
{
    char err[256];
    cr_assert_eq(wf_store__open_readonly(&jv->s, dir, err, sizeof err), WF_OK, "%s", err);
    cr_assert_eq(mdb_txn_begin(jv->s.jenv, NULL, MDB_RDONLY, &jv->txn), 0);
    MDB_cursor *c;
    cr_assert_eq(mdb_cursor_open(jv->txn, jv->s.journal, &c), 0);
    return c;
}

static void
journal_close(journal_view_t *jv, MDB_cursor *c)
{
    mdb_cursor_close(c);
    mdb_txn_abort(jv->txn);
    wf_store__close(&jv->s);
}

/* Format 4's chain, computed here from the stored bytes as
 * docs/protocol.md states it: BLAKE2b-256(previous hash || BE64(seq) ||
 * the 16 header bytes before the hash || the squeezed command). */
Test(journal, format_4_hashes_the_stored_bytes)
{
    session();
    wf_engine_destroy(&E);
    journal_view_t jv;
    MDB_cursor *c = journal_open(&jv);
    MDB_val k, v;
    uint8_t prev[32] = {0};
    size_t n = 0;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), n++) {
        const uint8_t *p = v.mv_data;
        wf_journal_disk_t h;
        cr_assert_geq(v.mv_size, sizeof h);
        memcpy(&h, p, sizeof h);
        cr_assert_eq(h.format, 4);
        crypto_generichash_state st;
        uint8_t want[32];
        crypto_generichash_init(&st, NULL, 0, 32);
        crypto_generichash_update(&st, prev, 32);
        crypto_generichash_update(&st, k.mv_data, 8); /* the key is BE64(seq) */
        crypto_generichash_update(&st, p, 16);
        crypto_generichash_update(&st, p + 48, v.mv_size - 48);
        crypto_generichash_final(&st, want, 32);
        cr_assert_eq(memcmp(want, h.hash, 32), 0, "entry %zu", n + 1);
        memcpy(prev, h.hash, 32);
    }
    cr_assert_gt(n, 30);
    journal_close(&jv, c);
    E = open_at(dir, 0); /* for the teardown */
}

Test(journal, a_consistently_rewritten_chain_no_longer_ends_in_the_signed_head)
{
    session();
    wf_engine_destroy(&E);
    tamper(7, offsetof(wf_journal_rec_t, now) + 1, true);
    wf_audit_report_t rep;
    char err[512] = "";
    cr_assert_eq(wf_journal_audit(dir, &rep, err, sizeof err), WF_OK, "%s", err);
    cr_assert_eq(rep.nbad, 0, "every hash was recomputed");
    cr_assert(rep.head_sig_ok);
    cr_assert_not(rep.head_matches);
    cr_assert_not(rep.ok);
    cr_assert_not_null(strstr(rep.problem, "rewritten"), "%s", rep.problem);

    /* a head signed by another key is not the engine's */
    char path[300];
    snprintf(path, sizeof path, "%s/sign.pub", dir);
    FILE *f = fopen(path, "w");
    fprintf(f, "%064d\n", 0);
    fclose(f);
    cr_assert_eq(wf_journal_audit(dir, &rep, err, sizeof err), WF_OK);
    cr_assert_not(rep.head_sig_ok);
    cr_assert_not(rep.ok);
}

Test(journal, replay_reproduces_the_state_hash)
{
    session();
    uint8_t live[32];
    cr_assert_eq(wf_engine_state_hash(E, live), WF_OK);
    uint64_t last = wf_engine_journal_seq(E);
    wf_engine_destroy(&E);
    wf_replay_report_t rep;
    char err[512] = "";
    cr_assert_eq(wf_engine_replay(dir, WUFEI_CATALOGUE, NULL, &rep, err, sizeof err), WF_OK, "%s", err);
    cr_assert(rep.equal, "replay: %s", rep.problem);
    cr_assert_eq(rep.entries, last);
    cr_assert_eq(memcmp(rep.live, live, 32), 0, "the offline hash is the engine's");
    cr_assert_eq(memcmp(rep.replayed, live, 32), 0);
    cr_assert_eq(memcmp(rep.live_head, rep.replayed_head, 32), 0, "the same chain");

    /* a state changed behind the journal's back: the hashes differ */
    wf_store_t st;
    bool fresh;
    cr_assert_eq(wf_store__open(&st, dir, 0, false, &fresh, err, sizeof err), WF_OK);
    MDB_txn *txn;
    cr_assert_eq(mdb_txn_begin(st.env, NULL, 0, &txn), 0);
    wf_manifest_rec_t m;
    uint8_t key[8];
    wf_store__be64(key, 1);
    cr_assert_eq(wf_store__get(txn, st.manifests, key, 8, &m, sizeof m), WF_OK);
    m.weighed += 1;
    cr_assert_eq(wf_store__put(txn, st.manifests, key, 8, &m, sizeof m), WF_OK);
    cr_assert_eq(mdb_txn_commit(txn), 0);
    wf_store__close(&st);
    cr_assert_eq(wf_engine_replay(dir, WUFEI_CATALOGUE, NULL, &rep, err, sizeof err), WF_OK, "%s", err);
    cr_assert_not(rep.equal);
    cr_assert_neq(memcmp(rep.live, rep.replayed, 32), 0);
    E = open_at(dir, 0);
}

/* The state hash of E now, then a replay of the journal from scratch
 * (E closed meanwhile, reopened after): the replay must reproduce it. */
static void
replay_reproduces_live(const char *what)
{
    uint8_t live[32];
    cr_assert_eq(wf_engine_state_hash(E, live), WF_OK);
    wf_engine_destroy(&E);
    wf_replay_report_t rep;
    char err[512] = "";
    cr_assert_eq(wf_engine_replay(dir, WUFEI_CATALOGUE, NULL, &rep, err, sizeof err), WF_OK, "%s", err);
    cr_assert(rep.equal, "replay %s: %s", what, rep.problem);
    cr_assert_eq(memcmp(rep.live, live, 32), 0, "the offline hash is the engine's");
    cr_assert_eq(memcmp(rep.replayed, live, 32), 0);
    E = open_at(dir, 0);
}

/* More timers fall due at once than one tick may act on, and many of them
 * are stale (their orders were cancelled). Stale timers must not take a
 * tick's places: the live engine keeps them in its heap, a restarted one
 * never loads them, and the replay of the journal has them again, so a cap
 * that counted them would fire different sets in the three. */
static void
expiring_crowd(int64_t due, int n, int cancelled)
{
    market();
    for (int i = 0; i < n; i++) {
        wf_cmd_t o = offer(i % 2 ? P1 : P2, "SW07", 1000 + i, 900);
        o.u.post.expires = due;
        o.has |= WF_HAS_EXPIRES;
        wf_reply_t *r = ok(o);
        if (i < cancelled) {
            char id[WF_OID_LEN];
            snprintf(id, sizeof id, "%s", r->id);
            ok(ref(WF_OP_ORDER_CANCEL, i % 2 ? P1 : P2, id));
        }
    }
}

static size_t
expired_in_outbox(void)
{
    size_t n = 0;
    for (size_t i = 0; i < OUT.nstream; i++)
        n += OUT.stream[i].type == WF_MSG_EXPIRED;
    return n;
}

Test(journal, stale_timers_take_no_place_in_a_tick)
{
    int64_t due = now + 60000;
    expiring_crowd(due, 400, 200);
    tick(due);
    cr_assert_eq(expired_in_outbox(), 200, "every live order expires in the one tick, not %zu",
                 expired_in_outbox());
}

Test(journal, replay_after_a_restart_fires_the_same_timers)
{
    int64_t due = now + 60000;
    expiring_crowd(due, 400, 200);
    wf_engine_destroy(&E); /* the restart drops the 200 stale timers */
    E = open_at(dir, 0);
    tick(due);
    cr_assert_eq(expired_in_outbox(), 200);
    now = due + 1;
    ok(offer(P1, "SW07", 500, 900)); /* something after the tick */
    replay_reproduces_live("with the stale timers in its heap");
}

/* Pushes to subscribers, their delayed tiers, and retention that trims
 * every stream empty across a restart: the replay still gets the live
 * state hash (stream seqs, notices and floors are stream state, which the
 * hash leaves out; firm records do not depend on them). */
Test(journal, replay_agrees_after_pushes_and_retention_across_a_restart)
{
    market();
    const char *subs[] = {"C0000000000000000A", "C0000000000000000B", "C0000000000000000C"};
    for (int i = 0; i < 3; i++) {
        wf_cmd_t f = firm(subs[i], WF_ROLE_CONSUMER, 30.01, 120.58 + i * 0.01, 330602);
        f.u.firm.base_credit = 95 - 15 * i; /* tiers A, B, C */
        f.has |= WF_HAS_BASE_CREDIT;
        ok(f);
        wf_cmd_t s = mk(WF_OP_SUB_PUT, subs[i]);
        s.u.sub.side = WF_OFFER;
        s.u.sub.ncodes = 1;
        snprintf(s.u.sub.codes[0], sizeof s.u.sub.codes[0], "SW07");
        ok(s);
    }
    ok(offer(P1, "SW07", 5000, 1000));
    tick(T0 + 2000);
    wf_cmd_t c = mk(WF_OP_CONFIG_SET, OP);
    c.u.config.set = WF_CFG_STREAM_KEEP_DAYS;
    c.u.config.values.stream_keep_days = 1;
    now = T0 + 5000;
    ok(c);
    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    int64_t later = T0 + 3 * 24LL * 3600 * 1000;
    for (int i = 0; i < 5 && wf_engine_next_timer(E) <= later; i++)
        tick(later);
    now = later + 1000;
    ok(offer(P2, "SW07", 4000, 1000)); /* seq 2 for the tier-A subscriber */
    replay_reproduces_live("after pushes, retention and a restart");
    cr_assert_eq(wf_engine_firm(E, subs[0])->stream_seq, 2);
}

/* journal.mdb keeps each entry squeezed (runs of zeros as one byte): the
 * entry comes back byte for byte, whatever its bytes, and bytes that are
 * not a well-formed entry are refused, never read past. */
Test(journal, squeezed_entries_come_back_byte_for_byte)
{
    static wf_journal_rec_t rec, back;
    static uint8_t buf[WF_JOURNAL_DISK_MAX];
    unsigned rs = 7;
    for (int round = 0; round < 3000; round++) {
        memset(&rec, 0, sizeof rec);
        rec.format = WF_JOURNAL_FORMAT;
        rec.now = 1700000000000LL + round;
        uint8_t *c = (uint8_t *)&rec.cmd;
        /* runs of zeros and of bytes of every length, some all zero or none */
        int density = rand_r(&rs) % 4;
        for (size_t i = 0; i < sizeof rec.cmd;) {
            size_t run = 1 + (size_t)rand_r(&rs) % 300;
            bool zero = density == 0 || (density < 3 && rand_r(&rs) % 2);
            for (size_t j = 0; j < run && i < sizeof rec.cmd; j++, i++)
                c[i] = zero ? 0 : (uint8_t)(1 + rand_r(&rs) % 255);
        }
        for (int h = 0; h < 32; h++)
            rec.hash[h] = (uint8_t)rand_r(&rs);
        size_t len = wf_journal__encode(&rec, buf);
        cr_assert_leq(len, WF_JOURNAL_DISK_MAX);
        cr_assert_eq(wf_journal__decode(buf, len, &back), WF_OK, "round %d", round);
        cr_assert_eq(memcmp(&rec, &back, sizeof rec), 0, "round %d differs", round);
        /* a byte short, a byte long, a clen that lies: refused */
        cr_assert_neq(wf_journal__decode(buf, len - 1, &back), WF_OK);
        buf[len] = 0x80;
        cr_assert_neq(wf_journal__decode(buf, len + 1, &back), WF_OK);
        wf_journal_disk_t h;
        memcpy(&h, buf, sizeof h);
        h.clen += 1;
        memcpy(buf, &h, sizeof h);
        cr_assert_neq(wf_journal__decode(buf, len, &back), WF_OK);
    }
    /* tokens that promise more than the command holds */
    wf_journal_disk_t h = {.format = WF_JOURNAL_FORMAT, .clen = 8};
    memcpy(buf, &h, sizeof h);
    memset(buf + sizeof h, 0xff, 8); /* 8 x 128 zero bytes > sizeof(wf_cmd_t) */
    cr_assert_neq(wf_journal__decode(buf, sizeof h + 8, &back), WF_OK);
    buf[sizeof h] = 0x7f; /* a literal of 128 bytes with 7 present */
    cr_assert_neq(wf_journal__decode(buf, sizeof h + 8, &back), WF_OK);
    cr_assert_neq(wf_journal__decode(buf, sizeof h - 1, &back), WF_OK);
}

/* A post's entry is stored in a fraction of the whole record. */
Test(journal, a_post_is_stored_small)
{
    session();
    wf_engine_destroy(&E);
    journal_view_t jv;
    MDB_cursor *c = journal_open(&jv);
    MDB_val k, v;
    size_t posts = 0, bytes = 0;
    static wf_journal_rec_t rec;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        cr_assert_eq(wf_journal__decode(v.mv_data, v.mv_size, &rec), WF_OK);
        if (rec.cmd.op == WF_OP_OFFER_POST || rec.cmd.op == WF_OP_DEMAND_POST) {
            posts++;
            bytes += v.mv_size;
        }
    }
    journal_close(&jv, c);
    cr_assert_gt(posts, 5);
    cr_log_info("%zu posts, %zu bytes each on average (the whole record: %zu)", posts,
                bytes / posts, sizeof(wf_journal_rec_t));
    cr_assert_lt(bytes / posts, sizeof(wf_journal_rec_t) / 3);
    E = open_at(dir, 0);
}
