/* Names and defaults for decoded commands: the op and role names of the
 * wire protocol, the operator settings a fresh database starts with, and
 * the engine's id strings ("O12", "M5"). The net layer's codec and the
 * engine both use these, so a name is spelled in one place only. */
#include "engine.h"

#include <stdio.h>
#include <string.h>

static const char *const op_names[WF_OP__COUNT] = {
    [WF_OP_NONE] = NULL,
    [WF_OP_PING] = "ping",
    [WF_OP_HELLO] = "hello",
    [WF_OP_OFFER_POST] = "offer.post",
    [WF_OP_DEMAND_POST] = "demand.post",
    [WF_OP_ORDER_CANCEL] = "order.cancel",
    [WF_OP_ORDER_GET] = "order.get",
    [WF_OP_ORDERS_MINE] = "orders.mine",
    [WF_OP_FIRM_PUT] = "firm.put",
    [WF_OP_FIRM_GET] = "firm.get",
    [WF_OP_CONFIG_GET] = "config.get",
    [WF_OP_CONFIG_SET] = "config.set",
    [WF_OP_LICENCE_PUT] = "licence.put",
    [WF_OP_LANE_PUT] = "lane.put",
    [WF_OP_LANE_DEL] = "lane.del",
    [WF_OP_OPTIMIZE] = "optimize",
    [WF_OP_AUCTION_SET] = "auction.set",
    [WF_OP_AUCTION_DEL] = "auction.del",
    [WF_OP_SUB_PUT] = "sub.put",
    [WF_OP_SUB_DEL] = "sub.del",
    [WF_OP_CREDIT_EVENT] = "credit.event",
    [WF_OP_FIRM_BLOCK] = "firm.block",
    [WF_OP_FIRM_UNBLOCK] = "firm.unblock",
    [WF_OP_MANIFEST_DISPATCH] = "manifest.dispatch",
    [WF_OP_MANIFEST_LOAD] = "manifest.load",
    [WF_OP_MANIFEST_UNLOAD] = "manifest.unload",
    [WF_OP_MANIFEST_CLOSE] = "manifest.close",
    [WF_OP_MANIFEST_CANCEL] = "manifest.cancel",
    [WF_OP_MANIFEST_GET] = "manifest.get",
    [WF_OP_ENGINE_KEY] = "engine.key",
    [WF_OP_JOURNAL_HEAD] = "journal.head",
    [WF_OP_STATS] = "stats",
};

static const char *const goal_names[] = {[WF_GOAL_SCORE] = "score", [WF_GOAL_TONNE_KM] = "tonne_km"};

static const struct {
    uint32_t bit;
    const char *name;
} roles[] = {
    {WF_ROLE_PRODUCER, "producer"},
    {WF_ROLE_CONSUMER, "consumer"},
    {WF_ROLE_CARRIER, "carrier"},
    {WF_ROLE_OPERATOR, "operator"},
};

const char *
wf_op_name(wf_op_t op)
{
    if ((int)op <= WF_OP_NONE || op >= WF_OP__COUNT)
        return NULL;
    return op_names[op];
}

wf_op_t
wf_op_from_name(const char *name)
{
    if (!name)
        return WF_OP_NONE;
    for (int op = WF_OP_NONE + 1; op < WF_OP__COUNT; op++)
        if (op_names[op] && strcmp(op_names[op], name) == 0)
            return (wf_op_t)op;
    return WF_OP_NONE;
}

const char *
wf_role_name(uint32_t role)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (roles[i].bit == role)
            return roles[i].name;
    return NULL;
}

uint32_t
wf_role_from_name(const char *name)
{
    if (!name)
        return 0;
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(roles[i].name, name) == 0)
            return roles[i].bit;
    return 0;
}

const char *
wf_goal_name(unsigned goal)
{
    return goal < sizeof goal_names / sizeof goal_names[0] ? goal_names[goal] : NULL;
}

int
wf_goal_from_name(const char *name)
{
    for (unsigned g = 0; name && g < sizeof goal_names / sizeof goal_names[0]; g++)
        if (strcmp(goal_names[g], name) == 0)
            return (int)g;
    return -1;
}

wf_config_t
wf_config_default(void)
{
    wf_config_t c;
    memset(&c, 0, sizeof c); /* padding too: configs are stored byte for byte */
    c.w_credit = 0.4;
    c.w_distance = 0.4;
    c.w_price = 0.2;
    c.tier_a = 90;
    c.tier_b = 75;
    c.tier_c = 60;
    c.push_delay_b = 500;
    c.push_delay_c = 2000;
    c.county_rule = false;
    c.city_rule = false;
    c.eco_fee = 0;
    c.discrepancy_pct = 5;
    c.co2_per_tkm = 0.1;
    c.stream_keep_days = 30;
    c.rate_per_s = 200;
    c.rate_burst = 400;
    c.manifest_age = 7LL * 24 * 3600 * 1000;
    c.discrepancy_points = -5;
    c.cancel_points = -2;
    c.expiry_points = -3;
    return c;
}

_Static_assert(WF_OID_LEN >= 22, "an id is a prefix, up to 20 digits and a NUL");

/* By hand rather than with snprintf: every reply, match and stream message
 * formats ids, and snprintf was a tenth of a request's instructions
 * (bench-hotpath under callgrind). */
void
wf_id_format(char out[WF_OID_LEN], char prefix, uint64_t n)
{
    char digits[20]; /* the same text as "%c%llu" */
    size_t k = 0;
    do {
        digits[k++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    size_t at = 0;
    out[at++] = prefix;
    while (k)
        out[at++] = digits[--k];
    out[at] = 0;
}

uint64_t
wf_id_parse(const char *s, char prefix)
{
    if (!s || s[0] != prefix || s[1] < '1' || s[1] > '9')
        return 0; /* no leading zeros: one spelling per id */
    uint64_t n = 0;
    for (const char *p = s + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        unsigned d = (unsigned)(*p - '0');
        if (n > (UINT64_MAX - d) / 10)
            return 0;
        n = n * 10 + d;
    }
    return n;
}
