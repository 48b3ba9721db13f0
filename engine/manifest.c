/* Transfer manifests (转移联单, "one waybill, four states"): every match
 * opens one in OPEN (post.c); then the producer, or a carrier naming
 * itself, dispatches it (carrier, vehicle) -> DISPATCHED; the producer
 * loads it (shipped qty) -> LOADED; the consumer weighs it in (weighed
 * qty) -> UNLOADED, flagging a discrepancy when the weight differs from
 * the shipped quantity by more than discrepancy_pct; the consumer closes
 * it -> CLOSED. Either party may cancel it before loading -> CANCELLED; an
 * OPEN manifest older than manifest_age is cancelled by the engine with
 * reason "expired" (a WF_TIMER_MANIFEST_AGE timer, timers.c).
 *
 * A quantity discrepancy, a cancel by a party and an expiry each record a
 * credit event (credit.c) with the operator-set points: discrepancy
 * against the producer, the others of kind conduct against the canceller
 * or the producer whose dispatch was due.
 *
 * Only the parties act, each on its own step (E_AUTH otherwise), and an
 * operator may act for either; a step out of order is E_STATE. Each state
 * change is journaled, signed as a token (token.h) and sent to both
 * parties (and the carrier) as a `manifest` stream message. Tokens are a
 * pure function of the record and the engine key (Ed25519 signatures are
 * deterministic), so the record does not store them: manifest.get signs
 * the latest state again and gets the same token. */
#include "engine_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "score.h"
#include "wf_error.h"

#define QTY_MAX 1000000000000LL /* 10^12, as for orders */

static const char *const state_names[] = {"OPEN", "DISPATCHED", "LOADED", "UNLOADED", "CLOSED",
                                          "CANCELLED"};

const char *
wf_manifest_state_name(unsigned state)
{
    return state < sizeof state_names / sizeof state_names[0] ? state_names[state] : "UNKNOWN";
}

void
wf_manifest__token(const wf_engine_t *e, const wf_manifest_rec_t *m, char out[WF_TOKEN_MAX])
{
    wf_token_t t;
    memset(&t, 0, sizeof t);
    wf_id_format(t.m, 'F', m->id);
    snprintf(t.s, sizeof t.s, "%s", wf_manifest_state_name(m->state));
    switch (m->state) {
    case WF_MANIFEST_LOADED: t.q = m->shipped; break;
    case WF_MANIFEST_UNLOADED:
    case WF_MANIFEST_CLOSED: t.q = m->weighed; break;
    default: t.q = m->qty; break;
    }
    snprintf(t.c, sizeof t.c, "%s", m->code);
    snprintf(t.p, sizeof t.p, "%s", m->producer);
    snprintf(t.r, sizeof t.r, "%s", m->consumer);
    t.t = m->updated;
    if (wf_token_make(e->sign_sk, &t, out) != WF_OK)
        out[0] = '\0'; /* cannot happen: every field is bounded well below the limit */
}

static bool
is_operator(const wf_firm_rec_t *f)
{
    return (f->roles & WF_ROLE_OPERATOR) != 0;
}

static bool
is(const char *a, const char *b)
{
    return a[0] && strcmp(a, b) == 0;
}

/* Reads the manifest named by cmd->u.manifest.id. */
static int
read_manifest(wf_exec_t *x, MDB_txn *t, wf_manifest_rec_t *m)
{
    const char *s = x->cmd->u.manifest.id;
    if (!wf_str__ok(s, WF_OID_LEN))
        return wf_exec__fail(x, WF_E_FIELD, "id must be a manifest id string");
    uint64_t id = wf_id_parse(s, 'F');
    uint8_t key[8];
    wf_store__be64(key, id);
    int rc = id ? wf_store__get(t, x->e->store.manifests, key, 8, m, sizeof *m) : WF_E_NOTFOUND;
    if (rc == WF_E_NOTFOUND)
        return wf_exec__fail(x, WF_E_NOTFOUND, "id: no manifest %s", s);
    if (rc != WF_OK)
        return wf_exec__fail(x, rc, "id: cannot read manifest %s", s);
    return WF_OK;
}

/* Sends the manifest's new state to its producer, consumer and carrier
 * (each once) inside t; msgs receives the messages to publish. */
static int
tell_parties(wf_exec_t *x, MDB_txn *t, const wf_manifest_rec_t *m, wf_stream_msg_t *msgs,
             size_t *n)
{
    const char *to[3] = {m->producer, m->consumer, m->carrier};
    *n = 0;
    for (int i = 0; i < 3; i++) {
        if (!to[i][0] || (i >= 1 && strcmp(to[i], to[0]) == 0) ||
            (i == 2 && strcmp(to[i], to[1]) == 0))
            continue;
        wf_stream_msg_t *s = &msgs[*n];
        memset(s, 0, sizeof *s);
        s->type = WF_MSG_MANIFEST;
        s->u.manifest.id = m->id;
        s->u.manifest.state = m->state;
        wf_manifest__token(x->e, m, s->u.manifest.token);
        int rc = wf_stream__put(x, t, to[i], s);
        if (rc != WF_OK)
            return rc;
        (*n)++;
    }
    return WF_OK;
}

/* May the caller take this step on m? Operators may take any. */
static int
check_actor(wf_exec_t *x, const wf_manifest_rec_t *m)
{
    const char *me = x->as->id, *id = x->cmd->u.manifest.id;
    if (is_operator(x->as))
        return WF_OK;
    switch (x->cmd->op) {
    case WF_OP_MANIFEST_DISPATCH:
        if (is(m->producer, me))
            return WF_OK;
        if ((x->as->roles & WF_ROLE_CARRIER) && is(x->cmd->u.manifest.carrier, me))
            return WF_OK;
        if (x->as->roles & WF_ROLE_CARRIER)
            return wf_exec__fail(x, WF_E_AUTH, "carrier: a carrier dispatches %s only naming "
                                 "itself as the carrier", id);
        return wf_exec__fail(x, WF_E_AUTH, "id: only the producer of %s or a carrier may "
                             "dispatch it", id);
    case WF_OP_MANIFEST_LOAD:
        if (is(m->producer, me))
            return WF_OK;
        return wf_exec__fail(x, WF_E_AUTH, "id: only the producer of %s loads it", id);
    case WF_OP_MANIFEST_UNLOAD:
    case WF_OP_MANIFEST_CLOSE:
        if (is(m->consumer, me))
            return WF_OK;
        return wf_exec__fail(x, WF_E_AUTH, "id: only the consumer of %s %s it", id,
                             x->cmd->op == WF_OP_MANIFEST_CLOSE ? "closes" : "weighs in");
    case WF_OP_MANIFEST_CANCEL:
        if (is(m->producer, me) || is(m->consumer, me))
            return WF_OK;
        return wf_exec__fail(x, WF_E_AUTH, "id: only the parties to %s may cancel it", id);
    default:
        if (is(m->producer, me) || is(m->consumer, me) || is(m->carrier, me))
            return WF_OK;
        return wf_exec__fail(x, WF_E_AUTH, "id: manifest %s belongs to other firms", id);
    }
}

static int
check_state(wf_exec_t *x, const wf_manifest_rec_t *m)
{
    static const struct {
        wf_op_t op;
        unsigned from, also;
        const char *step;
    } steps[] = {
        {WF_OP_MANIFEST_DISPATCH, WF_MANIFEST_OPEN, WF_MANIFEST_OPEN, "dispatched"},
        {WF_OP_MANIFEST_LOAD, WF_MANIFEST_DISPATCHED, WF_MANIFEST_DISPATCHED, "loaded"},
        {WF_OP_MANIFEST_UNLOAD, WF_MANIFEST_LOADED, WF_MANIFEST_LOADED, "unloaded"},
        {WF_OP_MANIFEST_CLOSE, WF_MANIFEST_UNLOADED, WF_MANIFEST_UNLOADED, "closed"},
        {WF_OP_MANIFEST_CANCEL, WF_MANIFEST_OPEN, WF_MANIFEST_DISPATCHED, "cancelled"},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        if (steps[i].op != x->cmd->op)
            continue;
        if (m->state == steps[i].from || m->state == steps[i].also)
            return WF_OK;
        return wf_exec__fail(x, WF_E_STATE, "id: manifest %s is %s and cannot be %s%s",
                             x->cmd->u.manifest.id, wf_manifest_state_name(m->state),
                             steps[i].step,
                             x->cmd->op == WF_OP_MANIFEST_CANCEL ? " after loading" : " now");
    }
    return WF_OK;
}

/* The fields each step carries. */
static int
check_fields(wf_exec_t *x)
{
    const wf_cmd_manifest_t *c = &x->cmd->u.manifest;
    switch (x->cmd->op) {
    case WF_OP_MANIFEST_DISPATCH:
        if (!wf_str__ok(c->carrier, sizeof c->carrier) || !c->carrier[0])
            return wf_exec__fail(x, WF_E_FIELD, "carrier must be a firm id");
        if (!wf_str__ok(c->vehicle, sizeof c->vehicle) || !c->vehicle[0])
            return wf_exec__fail(x, WF_E_FIELD, "vehicle must be a plate number of 1 to %d bytes",
                                 WF_VEHICLE_LEN - 1);
        return WF_OK;
    case WF_OP_MANIFEST_LOAD:
        if (c->qty < 1 || c->qty > QTY_MAX)
            return wf_exec__fail(x, WF_E_FIELD, "qty (shipped) must be 1..10^12, got %lld",
                                 (long long)c->qty);
        return WF_OK;
    case WF_OP_MANIFEST_UNLOAD:
        if (c->qty < 0 || c->qty > QTY_MAX)
            return wf_exec__fail(x, WF_E_FIELD, "qty (weighed) must be 0..10^12, got %lld",
                                 (long long)c->qty);
        return WF_OK;
    case WF_OP_MANIFEST_CANCEL:
        if (!wf_str__ok(c->reason, sizeof c->reason) || !c->reason[0])
            return wf_exec__fail(x, WF_E_FIELD, "reason must be a non-empty string");
        return WF_OK;
    default:
        return WF_OK;
    }
}

/* The carrier named by a dispatch: a registered firm with the carrier
 * role, or the producer carrying its own load. */
static int
check_carrier(wf_exec_t *x, const wf_manifest_rec_t *m)
{
    const char *id = x->cmd->u.manifest.carrier;
    const wf_firm_rec_t *c = wf_firmtab__find(&x->e->firms, id);
    if (!c)
        return wf_exec__fail(x, WF_E_NOTFOUND, "carrier: no firm %s", id);
    if (!(c->roles & WF_ROLE_CARRIER) && strcmp(id, m->producer) != 0)
        return wf_exec__fail(x, WF_E_AUTH, "carrier: firm %s has no carrier role (nor is it "
                             "the producer)", id);
    return WF_OK;
}

bool
wf_manifest__discrepancy(int64_t shipped, int64_t weighed, double pct)
{
    double diff = fabs((double)weighed - (double)shipped);
    return diff * 100.0 > pct * (double)shipped;
}

/* The record after the step. */
static void
step(wf_exec_t *x, wf_manifest_rec_t *m)
{
    const wf_cmd_manifest_t *c = &x->cmd->u.manifest;
    m->updated = x->now;
    switch (x->cmd->op) {
    case WF_OP_MANIFEST_DISPATCH:
        m->state = WF_MANIFEST_DISPATCHED;
        snprintf(m->carrier, sizeof m->carrier, "%s", c->carrier);
        snprintf(m->vehicle, sizeof m->vehicle, "%s", c->vehicle);
        m->dispatched = x->now;
        break;
    case WF_OP_MANIFEST_LOAD:
        m->state = WF_MANIFEST_LOADED;
        m->shipped = c->qty;
        m->loaded = x->now;
        break;
    case WF_OP_MANIFEST_UNLOAD:
        m->state = WF_MANIFEST_UNLOADED;
        m->weighed = c->qty;
        m->discrepancy = wf_manifest__discrepancy(m->shipped, m->weighed,
                                                  x->e->config.discrepancy_pct);
        m->unloaded = x->now;
        break;
    case WF_OP_MANIFEST_CLOSE:
        m->state = WF_MANIFEST_CLOSED;
        m->closed = x->now;
        break;
    default: /* cancel */
        m->state = WF_MANIFEST_CANCELLED;
        snprintf(m->cancelled_by, sizeof m->cancelled_by, "%s", x->as->id);
        snprintf(m->cancel_reason, sizeof m->cancel_reason, "%s", c->reason);
        m->cancelled = x->now;
        break;
    }
}

/* The credit consequences of a step, inside t: a quantity discrepancy
 * costs the producer discrepancy_points (kind discrepancy); a cancel costs
 * the canceller cancel_points (kind conduct) unless an operator cancelled.
 * A `credit` message, when the score or tier moves, goes to msgs[*n]. */
static int
step_credit(wf_exec_t *x, MDB_txn *t, const wf_manifest_rec_t *m, wf_stream_msg_t *msgs,
            size_t *n)
{
    const wf_config_t *cfg = &x->e->config;
    char note[WF_NOTE_LEN];
    bool made = false;
    int rc = WF_OK;
    if (x->cmd->op == WF_OP_MANIFEST_UNLOAD && m->discrepancy) {
        snprintf(note, sizeof note, "F%llu: weighed %lld of %lld shipped",
                 (unsigned long long)m->id, (long long)m->weighed, (long long)m->shipped);
        rc = wf_credit__raise(x, t, m->producer, WF_CREDIT_DISCREPANCY, cfg->discrepancy_points,
                              note, &msgs[*n], &made);
    } else if (x->cmd->op == WF_OP_MANIFEST_CANCEL && !is_operator(x->as)) {
        snprintf(note, sizeof note, "F%llu cancelled: %.100s", (unsigned long long)m->id,
                 m->cancel_reason);
        rc = wf_credit__raise(x, t, x->as->id, WF_CREDIT_CONDUCT, cfg->cancel_points, note,
                              &msgs[*n], &made);
    }
    if (made)
        (*n)++;
    return rc;
}

int
wf_op__manifest(wf_exec_t *x)
{
    wf_manifest_rec_t m;
    int rc = check_fields(x);
    if (rc == WF_OK)
        rc = read_manifest(x, x->txn, &m);
    if (rc == WF_OK)
        rc = check_actor(x, &m);
    if (rc == WF_OK)
        rc = check_state(x, &m);
    if (rc == WF_OK && x->cmd->op == WF_OP_MANIFEST_DISPATCH)
        rc = check_carrier(x, &m);
    if (rc != WF_OK)
        return rc;
    step(x, &m);
    wf_stream_msg_t *msgs = wf_arena__alloc(&x->e->arena, 4 * sizeof *msgs);
    size_t nmsgs = 0, nparties = 0, raised = x->e->credit_raised.n;
    MDB_txn *child;
    rc = wf_exec__begin(x, &child);
    if (rc != WF_OK)
        return rc;
    uint8_t key[8];
    wf_store__be64(key, m.id);
    rc = wf_store__put(child, x->e->store.manifests, key, 8, &m, sizeof m);
    if (rc == WF_OK)
        rc = tell_parties(x, child, &m, msgs, &nparties);
    nmsgs = nparties;
    if (rc == WF_OK)
        rc = step_credit(x, child, &m, msgs, &nmsgs);
    if (rc == WF_OK)
        rc = wf_exec__journal(x, child);
    rc = wf_exec__end(x, child, rc);
    if (rc != WF_OK) {
        wf_credit__raised_drop(x->e, raised);
        return rc;
    }
    x->e->journal_seq++;
    wf_credit__raised_apply(x->e);
    for (size_t i = 0; i < nmsgs; i++)
        wf_stream__publish(x->e, &msgs[i]);
    if (nparties) {
        x->reply->token = msgs[0].u.manifest.token;
    } else {
        char *tok = wf_arena__alloc(&x->e->arena, WF_TOKEN_MAX);
        wf_manifest__token(x->e, &m, tok);
        x->reply->token = tok;
    }
    x->reply->discrepancy = m.discrepancy != 0;
    wf_id_format(x->reply->id, 'F', m.id);
    return WF_OK;
}

int
wf_op__manifest_get(wf_exec_t *x)
{
    wf_manifest_rec_t *m = wf_arena__alloc(&x->e->arena, sizeof *m);
    int rc = read_manifest(x, x->txn, m);
    if (rc == WF_OK)
        rc = check_actor(x, m);
    if (rc != WF_OK)
        return rc;
    char *tok = wf_arena__alloc(&x->e->arena, WF_TOKEN_MAX);
    wf_manifest__token(x->e, m, tok);
    x->reply->manifest = m;
    x->reply->token = tok;
    x->reply->discrepancy = m->discrepancy != 0;
    wf_id_format(x->reply->id, 'F', m->id);
    return WF_OK;
}

/* ---- manifest age ---- */

int
wf_manifest__expire(wf_exec_t *x, MDB_txn *t, uint64_t id, wf_vec_t *msgs, size_t *nmsg,
                    bool *acted)
{
    *nmsg = 0;
    *acted = false;
    int64_t age = x->e->config.manifest_age;
    wf_manifest_rec_t m;
    uint8_t key[8];
    wf_store__be64(key, id);
    int rc = wf_store__get(t, x->e->store.manifests, key, 8, &m, sizeof m);
    if (rc == WF_E_NOTFOUND)
        return WF_OK;
    if (rc != WF_OK)
        return rc;
    if (m.state != WF_MANIFEST_OPEN || age <= 0 || m.created > x->now - age)
        return WF_OK; /* moved on, or its age was raised since the timer was set */
    m.state = WF_MANIFEST_CANCELLED;
    m.updated = m.cancelled = x->now;
    m.cancelled_by[0] = '\0';
    snprintf(m.cancel_reason, sizeof m.cancel_reason, "expired");
    rc = wf_store__put(t, x->e->store.manifests, key, 8, &m, sizeof m);
    wf_stream_msg_t tmp[4];
    size_t n = 0;
    if (rc == WF_OK)
        rc = tell_parties(x, t, &m, tmp, &n);
    if (rc == WF_OK) {
        /* the step that was due is the dispatch: the producer's */
        char note[WF_NOTE_LEN];
        bool made = false;
        snprintf(note, sizeof note, "F%llu expired undispatched", (unsigned long long)m.id);
        rc = wf_credit__raise(x, t, m.producer, WF_CREDIT_CONDUCT, x->e->config.expiry_points,
                              note, &tmp[n], &made);
        if (made)
            n++;
    }
    if (rc != WF_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        *(wf_stream_msg_t *)wf_vec__push(msgs) = tmp[i];
    *nmsg = n;
    *acted = true;
    return WF_OK;
}

void
wf_manifest__opened(wf_engine_t *e, const wf_match_rec_t *m)
{
    if (m->manifest && e->config.manifest_age > 0)
        wf_timers__add(&e->timers, &(wf_timer_t){.due = m->ts + e->config.manifest_age,
                                                 .kind = WF_TIMER_MANIFEST_AGE, .ref = m->manifest});
}

int
wf_manifest__timers(wf_engine_t *e, MDB_txn *txn)
{
    int64_t age = e->config.manifest_age;
    if (age <= 0)
        return WF_OK;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, e->store.manifests, &c);
    if (rc != 0)
        return wf_store__err(rc);
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        wf_manifest_rec_t m;
        if (v.mv_size != sizeof m) {
            rc = -1;
            break;
        }
        memcpy(&m, v.mv_data, sizeof m);
        if (m.state == WF_MANIFEST_OPEN)
            wf_timers__add(&e->timers, &(wf_timer_t){.due = m.created + age,
                                                     .kind = WF_TIMER_MANIFEST_AGE, .ref = m.id});
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND)
        return WF_OK;
    return rc == -1 ? WF_E_INTERNAL : wf_store__err(rc);
}
