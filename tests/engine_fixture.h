/* The engine test fixture: a fresh engine on a temporary database per
 * test, command builders, and a small Shaoxing market of two producers and
 * two consumers. Included by the engine's test files (each is its own
 * executable, so the statics are per test program). */
#ifndef WF_ENGINE_FIXTURE_H
#define WF_ENGINE_FIXTURE_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "engine/store_int.h"
#include "wf_error.h"

#define OP WF_OPERATOR_ID
#define P1 "P00000000000000001"
#define P2 "P00000000000000002"
#define C1 "C00000000000000001"
#define C2 "C00000000000000002"
#define T0 1700000000000LL

static char dir[256] __attribute__((unused));
static wf_engine_t *E;
static wf_reply_t R[WF_BATCH_MAX];
static wf_outbox_t OUT;
static int64_t now = T0;

static __attribute__((unused)) wf_engine_t *
open_at(const char *d, size_t map)
{
    char err[256] = "";
    wf_engine_opts_t o = {.dir = d, .catalogue = WUFEI_CATALOGUE, .map_size = map, .no_sync = true};
    wf_engine_t *e = wf_engine_new(&o, err, sizeof err);
    cr_assert(e, "open %s: %s", d, err);
    return e;
}

static __attribute__((unused)) void
rm_dir(const char *d)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    cr_assert(system(cmd) == 0);
}

static __attribute__((unused)) void
setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/wf_engine_XXXXXX");
    cr_assert(mkdtemp(dir));
    E = open_at(dir, 0);
    now = T0;
}

static __attribute__((unused)) void
teardown(void)
{
    wf_engine_destroy(&E);
    rm_dir(dir);
}

static __attribute__((unused)) wf_cmd_t
mk(wf_op_t op, const char *as)
{
    wf_cmd_t c;
    memset(&c, 0, sizeof c);
    c.op = op;
    c.rid = 7;
    snprintf(c.as, sizeof c.as, "%s", as);
    return c;
}

static __attribute__((unused)) wf_cmd_t
firm(const char *id, uint32_t roles, double lat, double lon, uint32_t county)
{
    wf_cmd_t c = mk(WF_OP_FIRM_PUT, OP);
    snprintf(c.u.firm.firm, sizeof c.u.firm.firm, "%s", id);
    snprintf(c.u.firm.name, sizeof c.u.firm.name, "firm %s", id);
    c.u.firm.roles = roles;
    c.u.firm.lat = lat;
    c.u.firm.lon = lon;
    c.u.firm.county = county;
    return c;
}

static __attribute__((unused)) wf_cmd_t
offer(const char *as, const char *code, int64_t qty, int64_t price)
{
    wf_cmd_t c = mk(WF_OP_OFFER_POST, as);
    snprintf(c.u.post.code, sizeof c.u.post.code, "%s", code);
    c.u.post.qty = qty;
    c.u.post.price = price;
    return c;
}

static __attribute__((unused)) wf_cmd_t
demand(const char *as, const char *code, int64_t qty, int64_t price)
{
    wf_cmd_t c = mk(WF_OP_DEMAND_POST, as);
    c.u.post.ncodes = 1;
    snprintf(c.u.post.codes[0], sizeof c.u.post.codes[0], "%s", code);
    c.u.post.qty = qty;
    c.u.post.price = price;
    return c;
}

static __attribute__((unused)) wf_cmd_t
ref(wf_op_t op, const char *as, const char *id)
{
    wf_cmd_t c = mk(op, as);
    snprintf(c.u.ref.id, sizeof c.u.ref.id, "%s", id);
    return c;
}

static __attribute__((unused)) wf_reply_t *
run(wf_cmd_t c)
{
    cr_assert_eq(wf_engine_apply(E, &c, 1, now, R, &OUT), WF_OK);
    return &R[0];
}

static __attribute__((unused)) wf_reply_t *
ok(wf_cmd_t c)
{
    wf_reply_t *r = run(c);
    cr_assert_eq(r->err, WF_OK, "op %s failed: %s %s", wf_op_name(c.op), wf_err_name(r->err),
                 r->msg);
    return r;
}

/* licence.put for firm over comma-separated codes. */
static __attribute__((unused)) wf_cmd_t
licence(const char *firm, const char *codes, int64_t capacity, int64_t valid_until)
{
    wf_cmd_t c = mk(WF_OP_LICENCE_PUT, OP);
    snprintf(c.u.licence.firm, sizeof c.u.licence.firm, "%s", firm);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", codes);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t && c.u.licence.ncodes < WF_MAX_PATTERNS;
         t = strtok_r(NULL, ",", &save))
        snprintf(c.u.licence.codes[c.u.licence.ncodes++], WF_CODE_LEN, "%s", t);
    c.u.licence.capacity = capacity;
    c.u.licence.valid_until = valid_until;
    return c;
}

/* lane.put (or lane.del with op WF_OP_LANE_DEL). */
static __attribute__((unused)) wf_cmd_t
lane(wf_op_t op, const char *producer, const char *consumer, const char *code)
{
    wf_cmd_t c = mk(op, OP);
    snprintf(c.u.lane.producer, sizeof c.u.lane.producer, "%s", producer);
    snprintf(c.u.lane.consumer, sizeof c.u.lane.consumer, "%s", consumer);
    snprintf(c.u.lane.code, sizeof c.u.lane.code, "%s", code);
    return c;
}

/* Shaoxing: two producers and two consumers a few km apart. */
static __attribute__((unused)) void
market(void)
{
    ok(firm(P1, WF_ROLE_PRODUCER, 30.00, 120.58, 330602));
    ok(firm(P2, WF_ROLE_PRODUCER, 30.02, 120.60, 330602));
    ok(firm(C1, WF_ROLE_CONSUMER, 30.01, 120.59, 330602));
    ok(firm(C2, WF_ROLE_CONSUMER | WF_ROLE_PRODUCER, 30.03, 120.61, 330603));
}

#endif
