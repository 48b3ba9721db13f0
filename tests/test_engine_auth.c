/* Authorization, as a table: every op the protocol names × every role
 * (producer, consumer, carrier, operator, an unregistered id) × owner or
 * not where ownership applies (an order's firm, firm.get of itself), with
 * the answer expected: ok or E_AUTH. Each case runs on the state its op
 * needs (a fresh order of the right owner), and a refused case must change
 * nothing (the journal does not move). A named op without a row fails the
 * test: a new op must say who may run it. The net layer's part (a CURVE
 * key names the acting firm) is tested end to end in test_e2e_secure.c. */
#include "engine_fixture.h"

#define PR "P00000000000000011" /* producer */
#define PR2 "P00000000000000012" /* another producer: owns the orders others try */
#define CO "C00000000000000011" /* consumer */
#define CO2 "C00000000000000012"
#define CA "K00000000000000011" /* carrier */
#define NOBODY "N00000000000000099" /* registered nowhere */
#define TGT "T00000000000000011" /* the firm credit events and blocks are about */

enum who { PRODUCER, CONSUMER, CARRIER, OPERATOR, NONE, WHO_N };
enum own { NA, OWN, OTHER };

static const char *const who_name[WHO_N] = {"producer", "consumer", "carrier", "operator", "none"};
static const char *const who_id[WHO_N] = {PR, CO, CA, OP, NOBODY};

typedef struct row {
    const char *op;
    enum who who;
    enum own own; /* NA: the op has no owner; OWN/OTHER: the object is the actor's or not */
    int want;     /* WF_OK or WF_E_AUTH */
} row_t;

static const row_t table[] = {
    {"ping", PRODUCER, NA, WF_OK},
    {"ping", CONSUMER, NA, WF_OK},
    {"ping", CARRIER, NA, WF_OK},
    {"ping", OPERATOR, NA, WF_OK},
    {"ping", NONE, NA, WF_OK}, /* the one op that needs no identity */

    {"hello", PRODUCER, NA, WF_OK},
    {"hello", CONSUMER, NA, WF_OK},
    {"hello", CARRIER, NA, WF_OK},
    {"hello", OPERATOR, NA, WF_OK},
    {"hello", NONE, NA, WF_E_AUTH},

    {"offer.post", PRODUCER, NA, WF_OK},
    {"offer.post", CONSUMER, NA, WF_E_AUTH},
    {"offer.post", CARRIER, NA, WF_E_AUTH},
    {"offer.post", OPERATOR, NA, WF_E_AUTH},
    {"offer.post", NONE, NA, WF_E_AUTH},

    {"demand.post", PRODUCER, NA, WF_E_AUTH},
    {"demand.post", CONSUMER, NA, WF_OK},
    {"demand.post", CARRIER, NA, WF_E_AUTH},
    {"demand.post", OPERATOR, NA, WF_E_AUTH},
    {"demand.post", NONE, NA, WF_E_AUTH},

    {"order.cancel", PRODUCER, OWN, WF_OK},
    {"order.cancel", PRODUCER, OTHER, WF_E_AUTH},
    {"order.cancel", CONSUMER, OWN, WF_OK},
    {"order.cancel", CONSUMER, OTHER, WF_E_AUTH},
    {"order.cancel", CARRIER, OTHER, WF_E_AUTH},
    {"order.cancel", OPERATOR, OTHER, WF_OK},
    {"order.cancel", NONE, OTHER, WF_E_AUTH},

    {"order.get", PRODUCER, OWN, WF_OK},
    {"order.get", PRODUCER, OTHER, WF_E_AUTH},
    {"order.get", CONSUMER, OWN, WF_OK},
    {"order.get", CONSUMER, OTHER, WF_E_AUTH},
    {"order.get", CARRIER, OTHER, WF_E_AUTH},
    {"order.get", OPERATOR, OTHER, WF_OK},
    {"order.get", NONE, OTHER, WF_E_AUTH},

    {"orders.mine", PRODUCER, NA, WF_OK},
    {"orders.mine", CONSUMER, NA, WF_OK},
    {"orders.mine", CARRIER, NA, WF_OK},
    {"orders.mine", OPERATOR, NA, WF_OK},
    {"orders.mine", NONE, NA, WF_E_AUTH},

    {"firm.put", PRODUCER, OWN, WF_E_AUTH}, /* not even on itself: roles and keys are the operator's */
    {"firm.put", PRODUCER, OTHER, WF_E_AUTH},
    {"firm.put", CONSUMER, OWN, WF_E_AUTH},
    {"firm.put", CARRIER, OWN, WF_E_AUTH},
    {"firm.put", OPERATOR, OTHER, WF_OK},
    {"firm.put", NONE, OTHER, WF_E_AUTH},

    {"firm.get", PRODUCER, OWN, WF_OK},
    {"firm.get", PRODUCER, OTHER, WF_E_AUTH},
    {"firm.get", CONSUMER, OWN, WF_OK},
    {"firm.get", CONSUMER, OTHER, WF_E_AUTH},
    {"firm.get", CARRIER, OWN, WF_OK},
    {"firm.get", CARRIER, OTHER, WF_E_AUTH},
    {"firm.get", OPERATOR, OTHER, WF_OK},
    {"firm.get", NONE, OTHER, WF_E_AUTH},

    {"config.get", PRODUCER, NA, WF_E_AUTH},
    {"config.get", CONSUMER, NA, WF_E_AUTH},
    {"config.get", CARRIER, NA, WF_E_AUTH},
    {"config.get", OPERATOR, NA, WF_OK},
    {"config.get", NONE, NA, WF_E_AUTH},

    {"config.set", PRODUCER, NA, WF_E_AUTH},
    {"config.set", CONSUMER, NA, WF_E_AUTH},
    {"config.set", CARRIER, NA, WF_E_AUTH},
    {"config.set", OPERATOR, NA, WF_OK},
    {"config.set", NONE, NA, WF_E_AUTH},

    {"stats", PRODUCER, NA, WF_E_AUTH},
    {"stats", CONSUMER, NA, WF_E_AUTH},
    {"stats", CARRIER, NA, WF_E_AUTH},
    {"stats", OPERATOR, NA, WF_OK},
    {"stats", NONE, NA, WF_E_AUTH},

    {"licence.put", PRODUCER, OTHER, WF_E_AUTH},
    {"licence.put", CONSUMER, OWN, WF_E_AUTH}, /* a firm cannot license itself */
    {"licence.put", CONSUMER, OTHER, WF_E_AUTH},
    {"licence.put", CARRIER, OTHER, WF_E_AUTH},
    {"licence.put", OPERATOR, OTHER, WF_OK},
    {"licence.put", NONE, OTHER, WF_E_AUTH},

    {"lane.put", PRODUCER, OWN, WF_E_AUTH}, /* not even a lane of its own */
    {"lane.put", CONSUMER, OWN, WF_E_AUTH},
    {"lane.put", CARRIER, OTHER, WF_E_AUTH},
    {"lane.put", OPERATOR, OTHER, WF_OK},
    {"lane.put", NONE, OTHER, WF_E_AUTH},

    {"lane.del", PRODUCER, OWN, WF_E_AUTH},
    {"lane.del", CONSUMER, OWN, WF_E_AUTH},
    {"lane.del", CARRIER, OTHER, WF_E_AUTH},
    {"lane.del", OPERATOR, OTHER, WF_OK},
    {"lane.del", NONE, OTHER, WF_E_AUTH},

    {"optimize", PRODUCER, NA, WF_E_AUTH},
    {"optimize", CONSUMER, NA, WF_E_AUTH},
    {"optimize", CARRIER, NA, WF_E_AUTH},
    {"optimize", OPERATOR, NA, WF_OK},
    {"optimize", NONE, NA, WF_E_AUTH},

    {"auction.set", PRODUCER, NA, WF_E_AUTH},
    {"auction.set", CONSUMER, NA, WF_E_AUTH},
    {"auction.set", CARRIER, NA, WF_E_AUTH},
    {"auction.set", OPERATOR, NA, WF_OK},
    {"auction.set", NONE, NA, WF_E_AUTH},

    {"auction.del", PRODUCER, NA, WF_E_AUTH},
    {"auction.del", CONSUMER, NA, WF_E_AUTH},
    {"auction.del", CARRIER, NA, WF_E_AUTH},
    {"auction.del", OPERATOR, NA, WF_OK},
    {"auction.del", NONE, NA, WF_E_AUTH},

    {"sub.put", PRODUCER, NA, WF_OK},  /* to demands */
    {"sub.put", CONSUMER, NA, WF_OK},  /* to offers */
    {"sub.put", CARRIER, NA, WF_E_AUTH},
    {"sub.put", OPERATOR, NA, WF_E_AUTH}, /* the operator role trades nothing */
    {"sub.put", NONE, NA, WF_E_AUTH},

    {"sub.del", PRODUCER, OWN, WF_OK},
    {"sub.del", PRODUCER, OTHER, WF_E_AUTH},
    {"sub.del", CONSUMER, OWN, WF_OK},
    {"sub.del", CONSUMER, OTHER, WF_E_AUTH},
    {"sub.del", CARRIER, OTHER, WF_E_AUTH},
    {"sub.del", OPERATOR, OTHER, WF_E_AUTH}, /* a subscription is its owner's alone */
    {"sub.del", NONE, OTHER, WF_E_AUTH},

    {"credit.event", PRODUCER, OWN, WF_E_AUTH},
    {"credit.event", PRODUCER, OTHER, WF_E_AUTH},
    {"credit.event", CONSUMER, OTHER, WF_E_AUTH},
    {"credit.event", CARRIER, OTHER, WF_E_AUTH},
    {"credit.event", OPERATOR, OTHER, WF_OK},
    {"credit.event", NONE, OTHER, WF_E_AUTH},

    /* manifests: PR/CO's own (OWN) or PR2/CO2's (OTHER), each in the state its step needs */
    {"manifest.dispatch", PRODUCER, OWN, WF_OK},
    {"manifest.dispatch", PRODUCER, OTHER, WF_E_AUTH},
    {"manifest.dispatch", CONSUMER, OWN, WF_E_AUTH},
    {"manifest.dispatch", CARRIER, OTHER, WF_OK}, /* a carrier naming itself */
    {"manifest.dispatch", OPERATOR, OTHER, WF_OK},
    {"manifest.dispatch", NONE, OTHER, WF_E_AUTH},

    {"manifest.load", PRODUCER, OWN, WF_OK},
    {"manifest.load", PRODUCER, OTHER, WF_E_AUTH},
    {"manifest.load", CONSUMER, OWN, WF_E_AUTH},
    {"manifest.load", CARRIER, OTHER, WF_E_AUTH},
    {"manifest.load", OPERATOR, OTHER, WF_OK},
    {"manifest.load", NONE, OTHER, WF_E_AUTH},

    {"manifest.unload", PRODUCER, OWN, WF_E_AUTH},
    {"manifest.unload", CONSUMER, OWN, WF_OK},
    {"manifest.unload", CONSUMER, OTHER, WF_E_AUTH},
    {"manifest.unload", CARRIER, OTHER, WF_E_AUTH},
    {"manifest.unload", OPERATOR, OTHER, WF_OK},
    {"manifest.unload", NONE, OTHER, WF_E_AUTH},

    {"manifest.close", PRODUCER, OWN, WF_E_AUTH},
    {"manifest.close", CONSUMER, OWN, WF_OK},
    {"manifest.close", CONSUMER, OTHER, WF_E_AUTH},
    {"manifest.close", CARRIER, OTHER, WF_E_AUTH},
    {"manifest.close", OPERATOR, OTHER, WF_OK},
    {"manifest.close", NONE, OTHER, WF_E_AUTH},

    {"manifest.cancel", PRODUCER, OWN, WF_OK},
    {"manifest.cancel", PRODUCER, OTHER, WF_E_AUTH},
    {"manifest.cancel", CONSUMER, OWN, WF_OK},
    {"manifest.cancel", CONSUMER, OTHER, WF_E_AUTH},
    {"manifest.cancel", CARRIER, OTHER, WF_E_AUTH},
    {"manifest.cancel", OPERATOR, OTHER, WF_OK},
    {"manifest.cancel", NONE, OTHER, WF_E_AUTH},

    {"manifest.get", PRODUCER, OWN, WF_OK},
    {"manifest.get", PRODUCER, OTHER, WF_E_AUTH},
    {"manifest.get", CONSUMER, OWN, WF_OK},
    {"manifest.get", CONSUMER, OTHER, WF_E_AUTH},
    {"manifest.get", CARRIER, OTHER, WF_E_AUTH}, /* until it is named the carrier */
    {"manifest.get", OPERATOR, OTHER, WF_OK},
    {"manifest.get", NONE, OTHER, WF_E_AUTH},

    {"engine.key", PRODUCER, NA, WF_OK},
    {"engine.key", CONSUMER, NA, WF_OK},
    {"engine.key", CARRIER, NA, WF_OK},
    {"engine.key", OPERATOR, NA, WF_OK},
    {"engine.key", NONE, NA, WF_E_AUTH},

    {"journal.head", PRODUCER, NA, WF_E_AUTH},
    {"journal.head", CONSUMER, NA, WF_E_AUTH},
    {"journal.head", CARRIER, NA, WF_E_AUTH},
    {"journal.head", OPERATOR, NA, WF_OK},
    {"journal.head", NONE, NA, WF_E_AUTH},

    /* last: they block TGT */
    {"firm.block", PRODUCER, OTHER, WF_E_AUTH},
    {"firm.block", CONSUMER, OTHER, WF_E_AUTH},
    {"firm.block", CARRIER, OTHER, WF_E_AUTH},
    {"firm.block", OPERATOR, OTHER, WF_OK},
    {"firm.block", NONE, OTHER, WF_E_AUTH},

    {"firm.unblock", PRODUCER, OTHER, WF_E_AUTH},
    {"firm.unblock", CONSUMER, OTHER, WF_E_AUTH},
    {"firm.unblock", CARRIER, OWN, WF_E_AUTH},
    {"firm.unblock", OPERATOR, OTHER, WF_OK},
    {"firm.unblock", NONE, OTHER, WF_E_AUTH},
};
#define NROWS (sizeof table / sizeof table[0])

static void
auth_market(void)
{
    ok(firm(PR, WF_ROLE_PRODUCER, 30.00, 120.58, 330602));
    ok(firm(PR2, WF_ROLE_PRODUCER, 30.02, 120.60, 330602));
    ok(firm(CO, WF_ROLE_CONSUMER, 30.01, 120.59, 330602));
    ok(firm(CO2, WF_ROLE_CONSUMER, 30.03, 120.61, 330603));
    ok(firm(CA, WF_ROLE_CARRIER, 30.04, 120.62, 330603));
    ok(firm(TGT, WF_ROLE_CONSUMER, 30.05, 120.63, 330603));
}

/* A subscription of firm id (to demands for a producer, offers otherwise). */
static wf_cmd_t
sub_cmd(const char *id, bool producer)
{
    wf_cmd_t c = mk(WF_OP_SUB_PUT, id);
    c.u.sub.side = producer ? WF_DEMAND : WF_OFFER;
    c.u.sub.ncodes = 1;
    snprintf(c.u.sub.codes[0], sizeof c.u.sub.codes[0], "SW07");
    return c;
}

/* An order of firm id (an offer for a producer, a demand for a consumer),
 * far from every other so that it rests. */
static void
order_of(const char *id, bool producer, char out[WF_OID_LEN])
{
    wf_cmd_t c = producer ? offer(id, "SW02", 100, 1000000) : demand(id, "SW01", 100, -1000000);
    wf_reply_t *r = ok(c);
    cr_assert_eq(r->rest, 100, "the fixture's order should rest");
    snprintf(out, WF_OID_LEN, "%s", r->id);
}

/* A manifest between producer and consumer, taken (by the operator) to the
 * state the op's step starts from. */
static void
manifest_for(wf_op_t op, const char *producer, const char *consumer, char out[WF_OID_LEN])
{
    wf_cmd_t d = demand(consumer, "SW03", 100, 100), o = offer(producer, "SW03", 100, 50);
    d.u.post.max_km = o.u.post.max_km = 500; /* firm.put above moved CO2 */
    d.has |= WF_HAS_MAX_KM;
    o.has |= WF_HAS_MAX_KM;
    ok(d);
    wf_reply_t *r = ok(o);
    cr_assert_eq(r->nmatches, 1, "the fixture's manifest needs a match");
    wf_id_format(out, 'F', r->matches[0].manifest);
    static const wf_op_t path[] = {WF_OP_MANIFEST_DISPATCH, WF_OP_MANIFEST_LOAD,
                                   WF_OP_MANIFEST_UNLOAD, WF_OP_MANIFEST_CLOSE};
    for (size_t i = 0; i < 4 && path[i] != op && op != WF_OP_MANIFEST_CANCEL &&
                       op != WF_OP_MANIFEST_GET; i++) {
        wf_cmd_t c = mk(path[i], OP);
        snprintf(c.u.manifest.id, sizeof c.u.manifest.id, "%s", out);
        snprintf(c.u.manifest.carrier, sizeof c.u.manifest.carrier, "%s", CA);
        snprintf(c.u.manifest.vehicle, sizeof c.u.manifest.vehicle, "浙D00001");
        c.u.manifest.qty = 100;
        ok(c);
    }
}

/* The command for row: the actor, and the object it acts on. */
static wf_cmd_t
build(const row_t *row)
{
    const char *as = who_id[row->who];
    wf_op_t op = wf_op_from_name(row->op);
    wf_cmd_t c = mk(op, as);
    char oid[WF_OID_LEN];
    switch (op) {
    case WF_OP_OFFER_POST: c = offer(as, "SW07", 100, 0); break;
    case WF_OP_DEMAND_POST: c = demand(as, "SW07", 100, 0); break;
    case WF_OP_ORDER_CANCEL:
    case WF_OP_ORDER_GET:
        if (row->own == OWN)
            order_of(as, row->who == PRODUCER, oid);
        else
            order_of(row->who == PRODUCER ? PR2 : row->who == CONSUMER ? CO2 : PR2,
                     row->who != CONSUMER, oid);
        c = ref(op, as, oid);
        break;
    case WF_OP_FIRM_PUT:
        c = firm(row->own == OWN ? as : CO2, WF_ROLE_CONSUMER | WF_ROLE_PRODUCER, 30.5, 120.5, 330602);
        snprintf(c.as, sizeof c.as, "%s", as);
        break;
    case WF_OP_FIRM_GET:
        snprintf(c.u.firm_get.firm, sizeof c.u.firm_get.firm, "%s",
                 row->own == OWN ? as : (row->who == PRODUCER ? PR2 : PR));
        break;
    case WF_OP_CONFIG_SET:
        c.u.config.set = WF_CFG_ECO_FEE;
        c.u.config.values.eco_fee = 0;
        break;
    case WF_OP_ORDERS_MINE: c.u.mine.live_only = true; break;
    case WF_OP_LICENCE_PUT:
        snprintf(c.u.licence.firm, sizeof c.u.licence.firm, "%s", row->own == OWN ? as : CO2);
        c.u.licence.ncodes = 1;
        snprintf(c.u.licence.codes[0], sizeof c.u.licence.codes[0], "HW08");
        c.u.licence.capacity = 100000;
        c.u.licence.valid_until = now + 365LL * 86400 * 1000;
        break;
    case WF_OP_LANE_PUT:
    case WF_OP_LANE_DEL:
        /* the actor's own lane where it has one side of it */
        snprintf(c.u.lane.producer, sizeof c.u.lane.producer, "%s", row->who == PRODUCER && row->own == OWN ? as : PR2);
        snprintf(c.u.lane.consumer, sizeof c.u.lane.consumer, "%s", row->who == CONSUMER && row->own == OWN ? as : CO2);
        snprintf(c.u.lane.code, sizeof c.u.lane.code, "HW08");
        if (op == WF_OP_LANE_DEL) {
            /* the lane exists, so that only authorization can refuse */
            wf_cmd_t put = c;
            put.op = WF_OP_LANE_PUT;
            snprintf(put.as, sizeof put.as, "%s", OP);
            ok(put);
        }
        break;
    case WF_OP_OPTIMIZE: c.u.optimize.goal = WF_GOAL_SCORE; break;
    case WF_OP_STATS:
        c.u.stats.top = 10;
        c.u.stats.days = 7;
        break;
    case WF_OP_AUCTION_SET:
    case WF_OP_AUCTION_DEL:
        snprintf(c.u.auction.code, sizeof c.u.auction.code, "SW15");
        c.u.auction.period_ms = 3600000;
        if (op == WF_OP_AUCTION_DEL) {
            wf_cmd_t put = c;
            put.op = WF_OP_AUCTION_SET;
            snprintf(put.as, sizeof put.as, "%s", OP);
            ok(put); /* the auction exists, so that only authorization can refuse */
        }
        break;
    case WF_OP_SUB_PUT: c = sub_cmd(as, row->who == PRODUCER); break;
    case WF_OP_SUB_DEL: {
        wf_reply_t *r = ok(row->own == OWN ? sub_cmd(as, row->who == PRODUCER) : sub_cmd(CO2, false));
        snprintf(c.u.ref.id, sizeof c.u.ref.id, "%s", r->id);
        break;
    }
    case WF_OP_CREDIT_EVENT:
        snprintf(c.u.credit.firm, sizeof c.u.credit.firm, "%s", row->own == OWN ? as : TGT);
        snprintf(c.u.credit.kind, sizeof c.u.credit.kind, "penalty");
        c.u.credit.points = -5;
        break;
    case WF_OP_MANIFEST_DISPATCH:
    case WF_OP_MANIFEST_LOAD:
    case WF_OP_MANIFEST_UNLOAD:
    case WF_OP_MANIFEST_CLOSE:
    case WF_OP_MANIFEST_CANCEL:
    case WF_OP_MANIFEST_GET:
        manifest_for(op, row->own == OWN ? PR : PR2, row->own == OWN ? CO : CO2, oid);
        snprintf(c.u.manifest.id, sizeof c.u.manifest.id, "%s", oid);
        snprintf(c.u.manifest.carrier, sizeof c.u.manifest.carrier, "%s", CA);
        snprintf(c.u.manifest.vehicle, sizeof c.u.manifest.vehicle, "浙D00002");
        snprintf(c.u.manifest.reason, sizeof c.u.manifest.reason, "auth table");
        c.u.manifest.qty = 100;
        break;
    case WF_OP_FIRM_BLOCK:
    case WF_OP_FIRM_UNBLOCK:
        snprintf(c.u.block.firm, sizeof c.u.block.firm, "%s", row->own == OWN ? as : TGT);
        snprintf(c.u.block.note, sizeof c.u.block.note, "auth table");
        break;
    default: break;
    }
    return c;
}

TestSuite(auth, .init = setup, .fini = teardown);

Test(auth, every_op_by_every_role)
{
    auth_market();
    int cases = 0;
    for (size_t i = 0; i < NROWS; i++) {
        const row_t *row = &table[i];
        cr_assert_neq(wf_op_from_name(row->op), WF_OP_NONE, "the table names an unknown op %s", row->op);
        wf_cmd_t c = build(row);
        uint64_t seq = wf_engine_journal_seq(E);
        wf_reply_t *r = run(c);
        if (r->err != row->want)
            cr_assert_fail("%s by %s (%s): want %s, got %s: %s", row->op, who_name[row->who],
                           row->own == OWN ? "its own" : row->own == OTHER ? "another's" : "-",
                           wf_err_name(row->want), wf_err_name(r->err), r->msg);
        if (r->err == WF_E_AUTH && wf_engine_journal_seq(E) != seq)
            cr_assert_fail("%s by %s was refused but journaled", row->op, who_name[row->who]);
        if (r->err == WF_E_AUTH && !r->msg[0])
            cr_assert_fail("%s by %s: E_AUTH without a message", row->op, who_name[row->who]);
        cases++;
    }
    cr_log_info("%d authorization cases", cases);
}

/* Every op with a wire name has rows for all five kinds of actor. */
Test(auth, the_table_covers_every_op_and_role)
{
    for (int op = WF_OP_NONE + 1; op < WF_OP__COUNT; op++) {
        const char *name = wf_op_name((wf_op_t)op);
        if (!name)
            continue;
        for (int w = 0; w < WHO_N; w++) {
            bool found = false;
            for (size_t i = 0; i < NROWS && !found; i++)
                found = strcmp(table[i].op, name) == 0 && (int)table[i].who == w;
            if (!found)
                cr_assert_fail("op %s has no authorization row for %s: add one to this table", name, who_name[w]);
        }
    }
}
