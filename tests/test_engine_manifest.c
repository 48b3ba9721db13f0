/* Manifests: every step and its token, every step out of order (E_STATE),
 * every actor who may not take a step (E_AUTH), the discrepancy tolerance
 * at its boundary, the manifest age expiring an OPEN manifest through a
 * tick, the stream messages to the parties, the engine key beside the
 * database, and the signed journal head. */
#include <sodium.h>

#include "engine_fixture.h"
#include "engine/token.h"

TestSuite(manifest, .init = setup, .fini = teardown);

#define K1 "K00000000000000001" /* carrier */
#define K2 "K00000000000000002" /* another carrier */

static wf_cmd_t
mf(wf_op_t op, const char *as, const char *id)
{
    wf_cmd_t c = mk(op, as);
    snprintf(c.u.manifest.id, sizeof c.u.manifest.id, "%s", id);
    return c;
}

static wf_cmd_t
dispatch(const char *as, const char *id, const char *carrier)
{
    wf_cmd_t c = mf(WF_OP_MANIFEST_DISPATCH, as, id);
    snprintf(c.u.manifest.carrier, sizeof c.u.manifest.carrier, "%s", carrier);
    snprintf(c.u.manifest.vehicle, sizeof c.u.manifest.vehicle, "浙D·12345");
    return c;
}

static wf_cmd_t
qty(wf_op_t op, const char *as, const char *id, int64_t q)
{
    wf_cmd_t c = mf(op, as, id);
    c.u.manifest.qty = q;
    return c;
}

static wf_cmd_t
cancel(const char *as, const char *id, const char *reason)
{
    wf_cmd_t c = mf(WF_OP_MANIFEST_CANCEL, as, id);
    snprintf(c.u.manifest.reason, sizeof c.u.manifest.reason, "%s", reason);
    return c;
}

static void
market_with_carriers(void)
{
    market();
    ok(firm(K1, WF_ROLE_CARRIER, 30.0, 120.5, 330602));
    ok(firm(K2, WF_ROLE_CARRIER, 30.0, 120.5, 330602));
}

/* P1 sells q kg of SW07 to C1: returns the manifest id ("F..."). */
static void
match(int64_t q, char out[WF_OID_LEN])
{
    ok(demand(C1, "SW07", q, 2000));
    wf_reply_t *r = ok(offer(P1, "SW07", q, 1000));
    cr_assert_eq(r->nmatches, 1);
    wf_id_format(out, 'F', r->matches[0].manifest);
}

static wf_token_t
check_token(const char *text, const char *state, int64_t q)
{
    wf_token_t t;
    cr_assert_eq(wf_token_check(wf_engine_public_key(E), text, &t), WF_OK, "token %s", text);
    cr_assert_str_eq(t.s, state);
    cr_assert_eq(t.q, q, "token q %lld, want %lld", (long long)t.q, (long long)q);
    cr_assert_str_eq(t.p, P1);
    cr_assert_str_eq(t.r, C1);
    cr_assert_str_eq(t.c, "SW07");
    return t;
}

static const wf_manifest_rec_t *
get(const char *as, const char *id)
{
    return ok(mf(WF_OP_MANIFEST_GET, as, id))->manifest;
}

Test(manifest, four_states_each_with_a_signed_token_and_stream_messages)
{
    market_with_carriers();
    char id[WF_OID_LEN];
    match(10000, id);
    const wf_manifest_rec_t *m = get(P1, id);
    cr_assert_eq(m->state, WF_MANIFEST_OPEN);
    cr_assert_eq(m->qty, 10000);
    check_token(R[0].token, "OPEN", 10000);
    uint64_t seq = wf_engine_journal_seq(E);

    now += 1000;
    wf_reply_t *r = ok(dispatch(P1, id, K1));
    wf_token_t t = check_token(r->token, "DISPATCHED", 10000);
    cr_assert_str_eq(t.m, id);
    cr_assert_eq(t.t, now);
    cr_assert_eq(OUT.nstream, 3, "producer, consumer and carrier are told");
    const char *to[3] = {P1, C1, K1};
    for (int i = 0; i < 3; i++) {
        cr_assert_str_eq(OUT.stream[i].firm, to[i]);
        cr_assert_eq(OUT.stream[i].type, WF_MSG_MANIFEST);
        cr_assert_eq(OUT.stream[i].u.manifest.state, WF_MANIFEST_DISPATCHED);
        cr_assert_str_eq(OUT.stream[i].u.manifest.token, r->token);
        cr_assert_eq(OUT.stream[i].seq, wf_engine_firm(E, to[i])->stream_seq);
    }
    now += 1000;
    check_token(ok(qty(WF_OP_MANIFEST_LOAD, P1, id, 9900))->token, "LOADED", 9900);
    cr_assert_eq(OUT.nstream, 3);
    now += 1000;
    r = ok(qty(WF_OP_MANIFEST_UNLOAD, C1, id, 9800));
    check_token(r->token, "UNLOADED", 9800);
    cr_assert_not(r->discrepancy, "1%% off is within 5%%");
    now += 1000;
    r = ok(mf(WF_OP_MANIFEST_CLOSE, C1, id));
    char closed[WF_TOKEN_MAX];
    snprintf(closed, sizeof closed, "%s", r->token);
    check_token(closed, "CLOSED", 9800);
    cr_assert_eq(wf_engine_journal_seq(E), seq + 4, "every step is journaled");

    m = get(K1, id); /* the carrier may read it */
    cr_assert_eq(m->state, WF_MANIFEST_CLOSED);
    cr_assert_str_eq(m->carrier, K1);
    cr_assert_str_eq(m->vehicle, "浙D·12345");
    cr_assert_eq(m->shipped, 9900);
    cr_assert_eq(m->weighed, 9800);
    cr_assert_eq(m->dispatched, T0 + 1000);
    cr_assert_eq(m->loaded, T0 + 2000);
    cr_assert_eq(m->unloaded, T0 + 3000);
    cr_assert_eq(m->closed, T0 + 4000);
    cr_assert_eq(m->cancelled, 0);
    cr_assert_str_eq(R[0].token, closed, "manifest.get answers the latest token");

    /* after a restart the record and its token are the same */
    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    m = get(C1, id);
    cr_assert_eq(m->state, WF_MANIFEST_CLOSED);
    cr_assert_str_eq(R[0].token, closed);
}

Test(manifest, steps_out_of_order_are_refused_and_change_nothing)
{
    market_with_carriers();
    char id[WF_OID_LEN];
    match(10000, id);
    uint64_t seq = wf_engine_journal_seq(E);
    /* OPEN */
    cr_assert_eq(run(qty(WF_OP_MANIFEST_LOAD, P1, id, 10000))->err, WF_E_STATE);
    cr_assert_eq(run(qty(WF_OP_MANIFEST_UNLOAD, C1, id, 10000))->err, WF_E_STATE);
    cr_assert_eq(run(mf(WF_OP_MANIFEST_CLOSE, C1, id))->err, WF_E_STATE);
    ok(dispatch(P1, id, K1));
    /* DISPATCHED */
    cr_assert_eq(run(dispatch(P1, id, K1))->err, WF_E_STATE);
    cr_assert_eq(run(qty(WF_OP_MANIFEST_UNLOAD, C1, id, 10000))->err, WF_E_STATE);
    cr_assert_eq(run(mf(WF_OP_MANIFEST_CLOSE, C1, id))->err, WF_E_STATE);
    ok(qty(WF_OP_MANIFEST_LOAD, P1, id, 10000));
    /* LOADED: no cancel after loading */
    cr_assert_eq(run(cancel(C1, id, "changed my mind"))->err, WF_E_STATE);
    cr_assert_eq(run(cancel(P1, id, "changed my mind"))->err, WF_E_STATE);
    cr_assert_eq(run(qty(WF_OP_MANIFEST_LOAD, P1, id, 10000))->err, WF_E_STATE);
    cr_assert_eq(run(mf(WF_OP_MANIFEST_CLOSE, C1, id))->err, WF_E_STATE);
    ok(qty(WF_OP_MANIFEST_UNLOAD, C1, id, 10000));
    /* UNLOADED */
    cr_assert_eq(run(qty(WF_OP_MANIFEST_UNLOAD, C1, id, 10000))->err, WF_E_STATE);
    cr_assert_eq(run(cancel(C1, id, "late"))->err, WF_E_STATE);
    ok(mf(WF_OP_MANIFEST_CLOSE, C1, id));
    /* CLOSED: nothing more */
    cr_assert_eq(run(dispatch(P1, id, K1))->err, WF_E_STATE);
    cr_assert_eq(run(qty(WF_OP_MANIFEST_LOAD, P1, id, 1))->err, WF_E_STATE);
    cr_assert_eq(run(qty(WF_OP_MANIFEST_UNLOAD, C1, id, 1))->err, WF_E_STATE);
    cr_assert_eq(run(mf(WF_OP_MANIFEST_CLOSE, C1, id))->err, WF_E_STATE);
    cr_assert_eq(run(cancel(P1, id, "x"))->err, WF_E_STATE);
    cr_assert_eq(wf_engine_journal_seq(E), seq + 4, "refused steps are not journaled");
    cr_assert_eq(get(P1, id)->state, WF_MANIFEST_CLOSED);

    /* CANCELLED (from DISPATCHED): nothing more */
    char id2[WF_OID_LEN];
    match(5000, id2);
    ok(dispatch(P1, id2, K1));
    wf_reply_t *r = ok(cancel(C1, id2, "kiln down for repairs"));
    wf_token_t t;
    cr_assert_eq(wf_token_check(wf_engine_public_key(E), r->token, &t), WF_OK);
    cr_assert_str_eq(t.s, "CANCELLED");
    cr_assert_eq(OUT.nstream, 4, "producer, consumer, carrier, and the canceller's new score");
    cr_assert_eq(OUT.stream[3].type, WF_MSG_CREDIT);
    cr_assert_str_eq(OUT.stream[3].firm, C1);
    const wf_manifest_rec_t *m = get(P1, id2);
    cr_assert_eq(m->state, WF_MANIFEST_CANCELLED);
    cr_assert_str_eq(m->cancelled_by, C1);
    cr_assert_str_eq(m->cancel_reason, "kiln down for repairs");
    cr_assert_eq(run(dispatch(P1, id2, K1))->err, WF_E_STATE);
    cr_assert_eq(run(qty(WF_OP_MANIFEST_LOAD, P1, id2, 5000))->err, WF_E_STATE);
    cr_assert_eq(run(cancel(P1, id2, "again"))->err, WF_E_STATE);

    /* bad fields and ids */
    char id3[WF_OID_LEN];
    match(4000, id3);
    cr_assert_eq(run(cancel(P1, id3, ""))->err, WF_E_FIELD, "a cancel needs a reason");
    wf_cmd_t d = dispatch(P1, id3, K1);
    d.u.manifest.vehicle[0] = 0;
    cr_assert_eq(run(d)->err, WF_E_FIELD, "a dispatch needs a vehicle");
    cr_assert_eq(run(dispatch(P1, id3, "X00000000000000009"))->err, WF_E_NOTFOUND);
    cr_assert_eq(run(dispatch(P1, "F999", K1))->err, WF_E_NOTFOUND);
    cr_assert_eq(run(dispatch(P1, "M1", K1))->err, WF_E_NOTFOUND);
    ok(dispatch(P1, id3, K1));
    cr_assert_eq(run(qty(WF_OP_MANIFEST_LOAD, P1, id3, 0))->err, WF_E_FIELD);
    cr_assert_eq(run(qty(WF_OP_MANIFEST_LOAD, P1, id3, -5))->err, WF_E_FIELD);
    cr_assert_eq(get(P1, id3)->state, WF_MANIFEST_DISPATCHED);
}

Test(manifest, only_the_parties_act_each_on_its_own_step)
{
    market_with_carriers();
    char id[WF_OID_LEN];
    match(10000, id);
    uint64_t seq = wf_engine_journal_seq(E);
    /* dispatch: the producer, or a carrier naming itself */
    cr_assert_eq(run(dispatch(C1, id, K1))->err, WF_E_AUTH, "the consumer does not dispatch");
    cr_assert_eq(run(dispatch(P2, id, K1))->err, WF_E_AUTH, "another producer does not");
    cr_assert_eq(run(dispatch(K2, id, K1))->err, WF_E_AUTH, "a carrier names only itself");
    cr_assert_eq(run(dispatch(P1, id, C2))->err, WF_E_AUTH, "the carrier must have the role");
    cr_assert_eq(run(cancel(P2, id, "not mine"))->err, WF_E_AUTH);
    cr_assert_eq(run(cancel(K1, id, "not mine"))->err, WF_E_AUTH);
    cr_assert_eq(run(mf(WF_OP_MANIFEST_GET, P2, id))->err, WF_E_AUTH);
    cr_assert_eq(run(mf(WF_OP_MANIFEST_GET, K1, id))->err, WF_E_AUTH, "not its carrier yet");
    /* auth comes before state: the consumer's load is E_AUTH even out of order */
    cr_assert_eq(run(qty(WF_OP_MANIFEST_LOAD, C1, id, 10000))->err, WF_E_AUTH);
    ok(dispatch(K1, id, K1));
    cr_assert_eq(get(K1, id)->state, WF_MANIFEST_DISPATCHED);
    /* load: the producer only */
    cr_assert_eq(run(qty(WF_OP_MANIFEST_LOAD, C1, id, 10000))->err, WF_E_AUTH);
    cr_assert_eq(run(qty(WF_OP_MANIFEST_LOAD, K1, id, 10000))->err, WF_E_AUTH);
    cr_assert_eq(run(qty(WF_OP_MANIFEST_LOAD, P2, id, 10000))->err, WF_E_AUTH);
    ok(qty(WF_OP_MANIFEST_LOAD, P1, id, 10000));
    /* unload and close: the consumer only */
    cr_assert_eq(run(qty(WF_OP_MANIFEST_UNLOAD, P1, id, 10000))->err, WF_E_AUTH);
    cr_assert_eq(run(qty(WF_OP_MANIFEST_UNLOAD, C2, id, 10000))->err, WF_E_AUTH);
    cr_assert_eq(run(qty(WF_OP_MANIFEST_UNLOAD, K1, id, 10000))->err, WF_E_AUTH);
    ok(qty(WF_OP_MANIFEST_UNLOAD, C1, id, 10000));
    cr_assert_eq(run(mf(WF_OP_MANIFEST_CLOSE, P1, id))->err, WF_E_AUTH);
    cr_assert_eq(run(mf(WF_OP_MANIFEST_CLOSE, K1, id))->err, WF_E_AUTH);
    ok(mf(WF_OP_MANIFEST_CLOSE, C1, id));
    cr_assert_eq(wf_engine_journal_seq(E), seq + 4);

    /* the operator may take any step for either party; the producer may carry its own load */
    char id2[WF_OID_LEN];
    match(3000, id2);
    ok(dispatch(OP, id2, P1));
    ok(qty(WF_OP_MANIFEST_LOAD, OP, id2, 3000));
    ok(qty(WF_OP_MANIFEST_UNLOAD, OP, id2, 3000));
    ok(mf(WF_OP_MANIFEST_CLOSE, OP, id2));
    cr_assert_eq(get(OP, id2)->state, WF_MANIFEST_CLOSED);
    char id3[WF_OID_LEN];
    match(3000, id3);
    ok(cancel(OP, id3, "operator's decision"));
    cr_assert_str_eq(get(P1, id3)->cancelled_by, OP);
    /* an unknown firm is E_AUTH before anything */
    cr_assert_eq(run(mf(WF_OP_MANIFEST_GET, "Z00000000000000000", id3))->err, WF_E_AUTH);
}

/* Ships `shipped`, weighs `weighed`; returns the discrepancy flag. */
static bool
weigh(int64_t shipped, int64_t weighed)
{
    char id[WF_OID_LEN];
    match(20000, id);
    ok(dispatch(P1, id, K1));
    ok(qty(WF_OP_MANIFEST_LOAD, P1, id, shipped));
    bool d = ok(qty(WF_OP_MANIFEST_UNLOAD, C1, id, weighed))->discrepancy;
    cr_assert_eq(get(C1, id)->discrepancy, d, "the manifest records the flag");
    return d;
}

Test(manifest, discrepancy_at_the_tolerance_boundary)
{
    market_with_carriers();
    /* default tolerance 5%: 500 kg of 10000 is within, 501 beyond */
    cr_assert_not(weigh(10000, 9500));
    cr_assert(weigh(10000, 9499));
    cr_assert_not(weigh(10000, 10500));
    cr_assert(weigh(10000, 10501));
    cr_assert_not(weigh(10000, 10000));
    cr_assert(weigh(10000, 0));
    wf_cmd_t c = mk(WF_OP_CONFIG_SET, OP);
    c.u.config.set = WF_CFG_DISCREPANCY_PCT;
    c.u.config.values.discrepancy_pct = 0;
    ok(c);
    cr_assert(weigh(10000, 10001), "with no tolerance one kg is a discrepancy");
    cr_assert_not(weigh(10000, 10000));
    c.u.config.values.discrepancy_pct = 12.5;
    ok(c);
    cr_assert_not(weigh(8000, 9000));
    cr_assert(weigh(8000, 9001));
    cr_assert(wf_manifest_state_name(99)[0] == 'U');
}

static wf_reply_t *
tick(int64_t at)
{
    wf_cmd_t c;
    memset(&c, 0, sizeof c);
    c.op = WF_OP_TICK;
    cr_assert_eq(wf_engine_apply(E, &c, 1, at, R, &OUT), WF_OK);
    cr_assert_eq(R[0].err, WF_OK, "tick: %s", R[0].msg);
    return &R[0];
}

Test(manifest, an_open_manifest_expires_at_its_age)
{
    market_with_carriers();
    wf_cmd_t c = mk(WF_OP_CONFIG_SET, OP);
    c.u.config.set = WF_CFG_MANIFEST_AGE;
    c.u.config.values.manifest_age = 60000;
    ok(c);
    cr_assert_eq(wf_engine_config(E)->manifest_age, 60000);
    char open_id[WF_OID_LEN], sent_id[WF_OID_LEN], late_id[WF_OID_LEN];
    match(5000, open_id);
    match(5000, sent_id);
    ok(dispatch(P1, sent_id, K1)); /* dispatched in time: never expires */
    cr_assert_eq(wf_engine_next_timer(E), T0 + 60000);
    now = T0 + 30000;
    match(5000, late_id);
    uint64_t seq = wf_engine_journal_seq(E);

    tick(T0 + 59999);
    cr_assert_eq(OUT.nstream, 0);
    cr_assert_eq(wf_engine_journal_seq(E), seq);
    tick(T0 + 60000);
    cr_assert_eq(wf_engine_journal_seq(E), seq + 1, "the tick that expired it is journaled");
    cr_assert_eq(OUT.nstream, 3, "both parties are told, and the producer of its new score");
    cr_assert_str_eq(OUT.stream[0].firm, P1);
    cr_assert_str_eq(OUT.stream[1].firm, C1);
    cr_assert_eq(OUT.stream[2].type, WF_MSG_CREDIT);
    cr_assert_str_eq(OUT.stream[2].firm, P1);
    cr_assert_eq(OUT.stream[0].type, WF_MSG_MANIFEST);
    cr_assert_eq(OUT.stream[0].u.manifest.state, WF_MANIFEST_CANCELLED);
    wf_token_t t;
    cr_assert_eq(wf_token_check(wf_engine_public_key(E), OUT.stream[0].u.manifest.token, &t), WF_OK);
    cr_assert_str_eq(t.s, "CANCELLED");
    cr_assert_eq(t.t, T0 + 60000);
    now = T0 + 60001;
    const wf_manifest_rec_t *m = get(P1, open_id);
    cr_assert_eq(m->state, WF_MANIFEST_CANCELLED);
    cr_assert_str_eq(m->cancel_reason, "expired");
    cr_assert_str_eq(m->cancelled_by, "");
    cr_assert_eq(get(P1, sent_id)->state, WF_MANIFEST_DISPATCHED);
    cr_assert_eq(get(P1, late_id)->state, WF_MANIFEST_OPEN);
    cr_assert_eq(run(dispatch(P1, open_id, K1))->err, WF_E_STATE);

    /* the late one's timer survives a restart */
    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    cr_assert_eq(wf_engine_next_timer(E), T0 + 90000);
    tick(T0 + 90000);
    cr_assert_eq(OUT.nstream, 3, "both parties and the producer's new score");
    cr_assert_eq(get(C1, late_id)->state, WF_MANIFEST_CANCELLED);

    /* raising the age defers expiry; age 0 turns it off */
    char id4[WF_OID_LEN];
    now = T0 + 100000;
    match(5000, id4);
    c.u.config.values.manifest_age = 120000;
    ok(c);
    tick(T0 + 160000);
    cr_assert_eq(get(P1, id4)->state, WF_MANIFEST_OPEN, "its old timer found it young");
    tick(T0 + 220000);
    cr_assert_eq(get(P1, id4)->state, WF_MANIFEST_CANCELLED, "its new timer expired it");
    char id5[WF_OID_LEN];
    match(5000, id5);
    c.u.config.values.manifest_age = 0;
    ok(c);
    tick(T0 + 100000000);
    cr_assert_eq(get(P1, id5)->state, WF_MANIFEST_OPEN);
    c.u.config.values.manifest_age = -1;
    cr_assert_eq(run(c)->err, WF_E_FIELD);
}

Test(manifest, tokens_verify_with_the_engine_key_and_fail_when_altered)
{
    market_with_carriers();
    char id[WF_OID_LEN];
    match(7000, id);
    wf_reply_t *r = ok(mk(WF_OP_ENGINE_KEY, C2)); /* any registered firm may ask */
    uint8_t key[32];
    memcpy(key, r->key, 32);
    cr_assert_eq(memcmp(key, wf_engine_public_key(E), 32), 0);
    /* sign.pub beside the database holds the same key */
    char path[300], hex[80] = "";
    snprintf(path, sizeof path, "%s/sign.pub", dir);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(hex, sizeof hex, f));
    fclose(f);
    char want[65];
    sodium_bin2hex(want, sizeof want, key, 32);
    cr_assert_eq(strncmp(hex, want, 64), 0);

    char tok[WF_TOKEN_MAX];
    snprintf(tok, sizeof tok, "%s", ok(dispatch(P1, id, K1))->token);
    wf_token_t t;
    cr_assert_eq(wf_token_check(key, tok, &t), WF_OK);
    size_t n = strlen(tok);
    for (size_t i = 4; i < n; i += 7) { /* every 7th character of payload and signature */
        char bad[WF_TOKEN_MAX];
        memcpy(bad, tok, n + 1);
        if (bad[i] == '.')
            continue;
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        cr_assert_neq(wf_token_check(key, bad, &t), WF_OK, "altered at %zu still verifies", i);
    }
    uint8_t other_pk[32], other_sk[64];
    crypto_sign_keypair(other_pk, other_sk);
    cr_assert_eq(wf_token_check(other_pk, tok, &t), WF_E_AUTH, "another key does not verify");
}

Test(manifest, the_signing_key_is_kept_secret_and_reused)
{
    uint8_t pk[32];
    memcpy(pk, wf_engine_public_key(E), 32);
    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    cr_assert_eq(memcmp(pk, wf_engine_public_key(E), 32), 0, "the key survives a restart");
    wf_engine_destroy(&E);
    char path[300];
    snprintf(path, sizeof path, "%s/sign.key", dir);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(chmod(path, 0640), 0);
    char err[512] = "";
    wf_engine_opts_t o = {.dir = dir, .catalogue = WUFEI_CATALOGUE, .no_sync = true};
    cr_assert_null(wf_engine_new(&o, err, sizeof err), "a readable sign.key is refused");
    cr_assert_not_null(strstr(err, "sign.key"), "%s", err);
    cr_assert_eq(chmod(path, 0600), 0);
    E = open_at(dir, 0);
}

Test(manifest, the_journal_head_is_signed)
{
    market();
    wf_reply_t *r = ok(mk(WF_OP_JOURNAL_HEAD, OP));
    cr_assert_eq(r->seq, wf_engine_journal_seq(E));
    cr_assert_eq(r->seq, 4);
    uint8_t msg[40];
    for (int i = 0; i < 8; i++)
        msg[i] = (uint8_t)(r->seq >> (56 - 8 * i));
    memcpy(msg + 8, r->hash, 32);
    cr_assert_eq(crypto_sign_verify_detached(r->sig, msg, sizeof msg, wf_engine_public_key(E)), 0);
    uint64_t seq;
    uint8_t hash[32], sig[64];
    cr_assert_eq(wf_engine_journal_head(E, &seq, hash, sig), WF_OK);
    cr_assert_eq(seq, 4);
    cr_assert_eq(memcmp(hash, R[0].hash, 32), 0);
    cr_assert_eq(run(mk(WF_OP_JOURNAL_HEAD, P1))->err, WF_E_AUTH);
}

static wf_reply_t *
firm_get(const char *id)
{
    wf_cmd_t c = mk(WF_OP_FIRM_GET, OP);
    snprintf(c.u.firm_get.firm, sizeof c.u.firm_get.firm, "%s", id);
    return ok(c);
}

/* The firm's active events of kind, and their points. */
static int
events_of(const char *id, int kind, int32_t *points)
{
    wf_reply_t *r = firm_get(id);
    int n = 0;
    *points = 0;
    for (size_t i = 0; i < r->nevents; i++)
        if (r->events[i].kind == kind) {
            n++;
            *points += r->events[i].points;
        }
    return n;
}

static bool
has_credit_msg(const char *firm, int32_t score)
{
    for (size_t i = 0; i < OUT.nstream; i++)
        if (OUT.stream[i].type == WF_MSG_CREDIT && strcmp(OUT.stream[i].firm, firm) == 0)
            return OUT.stream[i].u.credit.score == score;
    return false;
}

Test(manifest, discrepancy_cancel_and_expiry_record_credit_events)
{
    market_with_carriers();
    int32_t p1 = firm_get(P1)->score, c1 = firm_get(C1)->score, pts;
    /* a discrepancy: the producer loses discrepancy_points (default -5) */
    char w[WF_OID_LEN];
    match(20000, w);
    ok(dispatch(P1, w, K1));
    ok(qty(WF_OP_MANIFEST_LOAD, P1, w, 10000));
    cr_assert(ok(qty(WF_OP_MANIFEST_UNLOAD, C1, w, 9000))->discrepancy);
    cr_assert(has_credit_msg(P1, p1 - 5), "the producer is told its new score");
    cr_assert_eq(events_of(P1, WF_CREDIT_DISCREPANCY, &pts), 1);
    cr_assert_eq(pts, -5);
    cr_assert_eq(firm_get(P1)->score, p1 - 5);
    cr_assert_not(weigh(10000, 10000));
    cr_assert_eq(events_of(P1, WF_CREDIT_DISCREPANCY, &pts), 1, "no discrepancy, no event");
    /* a cancel by the consumer: -2 trade conduct against it */
    char id[WF_OID_LEN];
    match(1000, id);
    ok(cancel(C1, id, "yard full"));
    cr_assert_eq(events_of(C1, WF_CREDIT_CONDUCT, &pts), 1);
    cr_assert_eq(pts, -2);
    cr_assert_eq(firm_get(C1)->score, c1 - 2);
    /* an operator's cancel costs nobody anything */
    match(1000, id);
    ok(cancel(OP, id, "operator"));
    cr_assert_eq(events_of(C1, WF_CREDIT_CONDUCT, &pts), 1);
    cr_assert_eq(events_of(P1, WF_CREDIT_CONDUCT, &pts), 0);
    /* an expiry: -3 trade conduct against the producer, whose dispatch was due;
     * two in one tick chain their scores */
    wf_cmd_t c = mk(WF_OP_CONFIG_SET, OP);
    c.u.config.set = WF_CFG_MANIFEST_AGE | WF_CFG_EXPIRY_POINTS;
    c.u.config.values.manifest_age = 1000;
    c.u.config.values.expiry_points = -4;
    ok(c);
    int32_t before = firm_get(P1)->score;
    char a[WF_OID_LEN], b[WF_OID_LEN];
    match(1000, a);
    match(1000, b);
    tick(now + 1000);
    cr_assert_eq(get(P1, a)->state, WF_MANIFEST_CANCELLED);
    cr_assert_eq(get(P1, b)->state, WF_MANIFEST_CANCELLED);
    cr_assert_eq(events_of(P1, WF_CREDIT_CONDUCT, &pts), 2);
    cr_assert_eq(pts, -8);
    cr_assert_eq(firm_get(P1)->score, before - 8);
    /* points 0 turn the events off */
    c.u.config.set = WF_CFG_CANCEL_POINTS;
    c.u.config.values.cancel_points = 0;
    ok(c);
    c.u.config.set = WF_CFG_MANIFEST_AGE;
    c.u.config.values.manifest_age = 0;
    ok(c);
    match(1000, id);
    ok(cancel(P1, id, "no points now"));
    cr_assert_eq(events_of(P1, WF_CREDIT_CONDUCT, &pts), 2);
    /* the events are stored: a restart keeps the scores */
    int32_t p1_now = firm_get(P1)->score, c1_now = firm_get(C1)->score;
    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    cr_assert_eq(firm_get(P1)->score, p1_now);
    cr_assert_eq(firm_get(C1)->score, c1_now);
}
