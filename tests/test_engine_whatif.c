/* What-if replay (engine/whatif.c) and config.get's history: a scripted
 * session in which one offer is contested by a near consumer of slightly
 * lower credit and a farther one of higher credit. Under the default
 * weights the near one wins; replayed with w_credit raised, the other one
 * does, and the report names the changed pair, the gainer and the loser.
 * With no changed setting the two runs agree figure for figure, and the
 * live database is not touched. */
#include "engine_fixture.h"

#include "engine/whatif.h"

TestSuite(whatif, .init = setup, .fini = teardown);

static wf_cmd_t
cfg(uint32_t set, double w_credit, int64_t push_delay_b)
{
    wf_cmd_t c = mk(WF_OP_CONFIG_SET, OP);
    c.u.config.set = set;
    c.u.config.values.w_credit = w_credit;
    c.u.config.values.push_delay_b = push_delay_b;
    return c;
}

static wf_cmd_t
sub_offers(const char *as, const char *code)
{
    wf_cmd_t c = mk(WF_OP_SUB_PUT, as);
    c.u.sub.side = WF_OFFER;
    c.u.sub.ncodes = 1;
    snprintf(c.u.sub.codes[0], sizeof c.u.sub.codes[0], "%s", code);
    c.u.sub.radius_km = 50;
    return c;
}

/* P1's offer of 1000 kg is wanted by C1 (1.4 km, credit 78) and C2
 * (4.3 km, credit 80): 0.4 x 0.78 - 0.4 x 0.014 > 0.4 x 0.80 - 0.4 x 0.043,
 * so C1 gets it; with w_credit 1.0 C2 does. A journaled config.set of
 * w_credit (to its default) comes after the window starts: the what-if's
 * value must outlive it. */
static uint64_t
session(void)
{
    market();
    wf_cmd_t c1 = firm(C1, WF_ROLE_CONSUMER, 30.01, 120.59, 330602);
    c1.u.firm.base_credit = 78;
    c1.has |= WF_HAS_BASE_CREDIT;
    ok(c1);
    ok(sub_offers(C1, "SW59"));
    ok(sub_offers(C2, "SW59"));
    now += 1000;
    ok(demand(C1, "SW59", 1000, 200));
    now += 1000;
    ok(demand(C2, "SW59", 1000, 200));
    now += 1000;
    ok(cfg(WF_CFG_W_CREDIT, 0.4, 0));
    now += 60000;
    wf_reply_t *r = ok(offer(P1, "SW59", 1000, 100));
    cr_assert_eq(r->nmatches, 1);
    cr_assert_str_eq(r->matches[0].consumer, C1, "the near consumer wins under the defaults");
    now += 1000;
    r = ok(offer(P2, "SW59", 500, 300)); /* too dear for both: rests, both told */
    cr_assert_eq(r->nmatches, 0);
    now += 1000; /* tier B subscribers are told after push_delay_b */
    r = ok(mk(WF_OP_TICK, ""));
    cr_assert_eq(OUT.nstream, 2, "both consumers told");
    return wf_engine_journal_seq(E);
}

static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Runs the what-if of o (its dir and catalogue filled in here). */
static void
run_whatif(wf_whatif_opts_t *o, wf_whatif_report_t *rep)
{
    o->dir = dir;
    o->catalogue = WUFEI_CATALOGUE;
    char err[512] = "";
    int rc = wf_engine_whatif(o, rep, err, sizeof err);
    cr_assert_eq(rc, WF_OK, "whatif: %s", err);
}

static void
whatif(uint32_t set, double w_credit, uint64_t from, wf_whatif_report_t *rep)
{
    wf_whatif_opts_t o;
    memset(&o, 0, sizeof o);
    o.set = set;
    o.values.w_credit = w_credit;
    o.from_seq = from;
    run_whatif(&o, rep);
}

Test(whatif, raising_w_credit_moves_the_contested_offer)
{
    uint64_t last = session();
    wf_engine_destroy(&E); /* one environment per process: the replay opens it */
    wf_whatif_report_t rep;
    whatif(WF_CFG_W_CREDIT, 1.0, 0, &rep);
    cr_assert_eq(rep.entries, last);
    cr_assert_eq(rep.first_seq, 1);
    cr_assert_eq(rep.last_seq, last);
    cr_assert_eq(rep.real.matches, 1);
    cr_assert_eq(rep.whatif.matches, 1);
    cr_assert_eq(rep.real.qty, 1000);
    cr_assert_eq(rep.whatif.qty, 1000);
    cr_assert_gt(rep.whatif.tonne_km, rep.real.tonne_km, "the farther consumer: more tonne-km");
    cr_assert_eq(rep.real.tier_qty[1], 1000, "C1 at 78 is tier B: %lld %lld %lld %lld",
                 (long long)rep.real.tier_qty[0], (long long)rep.real.tier_qty[1],
                 (long long)rep.real.tier_qty[2], (long long)rep.real.tier_qty[3]);
    cr_assert_eq(rep.nchanges, 2);
    cr_assert_eq(rep.nlisted, 2);
    cr_assert_str_eq(rep.changes[0].consumer, C1);
    cr_assert_eq(rep.changes[0].real_qty, 1000);
    cr_assert_eq(rep.changes[0].whatif_qty, 0);
    cr_assert_str_eq(rep.changes[1].consumer, C2);
    cr_assert_eq(rep.changes[1].real_qty, 0);
    cr_assert_eq(rep.changes[1].whatif_qty, 1000);
    cr_assert_eq(rep.ngainers, 1);
    cr_assert_str_eq(rep.gainers[0].id, C2);
    cr_assert_eq(rep.gainers[0].delta, 1000);
    cr_assert_eq(rep.nlosers, 1);
    cr_assert_str_eq(rep.losers[0].id, C1);
    cr_assert_eq(rep.losers[0].delta, -1000);
    cr_assert_eq(rep.whatif.refused, 0);
    E = open_at(dir, 0);
}

Test(whatif, no_change_reproduces_reality_and_the_live_db_is_untouched)
{
    session();
    uint8_t hash0[32];
    cr_assert_eq(wf_engine_state_hash(E, hash0), WF_OK);
    uint64_t seq0 = wf_engine_journal_seq(E);
    wf_engine_destroy(&E);
    char path[300];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    size_t n0, n1;
    char *before = slurp(path, &n0);
    wf_whatif_report_t rep;
    whatif(0, 0, 0, &rep);
    char *after = slurp(path, &n1);
    cr_assert_eq(n0, n1);
    cr_assert(memcmp(before, after, n0) == 0, "data.mdb is byte-identical after the replay");
    free(before);
    free(after);
    cr_assert_eq(rep.real.matches, 1);
    cr_assert_eq(rep.real.notified, 1, "the resting offer was told to a subscriber");
    cr_assert_eq(rep.real.waits, 1);
    cr_assert_eq(rep.real.wait_p50_ms, 62000, "C1's demand waited 62 s");
    cr_assert(memcmp(&rep.real, &rep.whatif, sizeof rep.real) == 0,
              "no setting changed: the what-if run is the real one");
    cr_assert_eq(rep.nchanges, 0);
    cr_assert_eq(rep.ngainers + rep.nlosers, 0);
    /* the same w_credit as reality changes nothing either */
    whatif(WF_CFG_W_CREDIT, 0.4, 0, &rep);
    cr_assert_eq(rep.nchanges, 0);
    cr_assert_eq(rep.real.matches, rep.whatif.matches);
    E = open_at(dir, 0);
    uint8_t hash1[32];
    cr_assert_eq(wf_engine_state_hash(E, hash1), WF_OK);
    cr_assert(memcmp(hash0, hash1, 32) == 0);
    cr_assert_eq(wf_engine_journal_seq(E), seq0);
}

Test(whatif, the_window_bounds_the_figures)
{
    uint64_t last = session();
    wf_engine_destroy(&E);
    wf_whatif_report_t rep;
    whatif(WF_CFG_W_CREDIT, 1.0, last - 1, &rep); /* the last offer and its push: no match */
    cr_assert_eq(rep.window_entries, 2);
    cr_assert_eq(rep.real.matches, 0);
    cr_assert_eq(rep.nchanges, 0);
    cr_assert_eq(rep.real.notified, 1);
    wf_whatif_opts_t o;
    memset(&o, 0, sizeof o);
    o.dir = dir;
    o.catalogue = WUFEI_CATALOGUE;
    o.from_seq = last + 1;
    char err[256] = "";
    cr_assert_eq(wf_engine_whatif(&o, &rep, err, sizeof err), WF_E_NOTFOUND);
    cr_assert(strstr(err, "window"), "%s", err);
    o.from_seq = 0;
    o.set = WF_CFG_W_CREDIT;
    o.values.w_credit = -1;
    cr_assert_eq(wf_engine_whatif(&o, &rep, err, sizeof err), WF_E_FIELD);
    cr_assert(strstr(err, "w_credit"), "the refused setting is named: %s", err);
    E = open_at(dir, 0);
}

Test(whatif, config_get_history_lists_who_changed_what)
{
    market();
    now += 5;
    ok(cfg(WF_CFG_W_CREDIT, 0.6, 0));
    now += 5;
    ok(cfg(WF_CFG_PUSH_DELAY_B, 0, 1000));
    wf_cmd_t g = mk(WF_OP_CONFIG_GET, OP);
    wf_reply_t *r = ok(g);
    cr_assert(!r->has_history, "history only when asked");
    g.u.config_get.history = true;
    r = ok(g);
    cr_assert(r->has_history);
    cr_assert_eq(r->nhistory, 2);
    cr_assert_eq(r->history[0].set, WF_CFG_PUSH_DELAY_B, "newest first");
    cr_assert_eq(r->history[0].values.push_delay_b, 1000);
    cr_assert_eq(r->history[0].ts, now);
    cr_assert_str_eq(r->history[0].by, OP);
    cr_assert_eq(r->history[0].seq, wf_engine_journal_seq(E));
    cr_assert_eq(r->history[1].set, WF_CFG_W_CREDIT);
    cr_assert_eq(r->history[1].values.w_credit, 0.6);
    cr_assert_eq(r->history[1].ts, now - 5);
    cr_assert_eq(r->history_scanned, wf_engine_journal_seq(E));
    cr_assert(!r->history_truncated);
    cr_assert_eq(r->config->push_delay_b, 1000);
    char desc[128];
    wf_config_format(&r->history[1].values, r->history[1].set, " ", desc, sizeof desc);
    cr_assert_str_eq(desc, "w_credit=0.6");
}

Test(whatif, config_parse_names_settings)
{
    uint32_t set = 0;
    wf_config_t v;
    memset(&v, 0, sizeof v);
    char err[256];
    cr_assert_eq(wf_config_parse("w_credit", "0.6", &set, &v, err, sizeof err), WF_OK);
    cr_assert_eq(wf_config_parse("push_delay_b", "1000", &set, &v, err, sizeof err), WF_OK);
    cr_assert_eq(wf_config_parse("county_rule", "true", &set, &v, err, sizeof err), WF_OK);
    cr_assert_eq(set, WF_CFG_W_CREDIT | WF_CFG_PUSH_DELAY_B | WF_CFG_COUNTY_RULE);
    cr_assert_eq(v.w_credit, 0.6);
    cr_assert_eq(v.push_delay_b, 1000);
    cr_assert(v.county_rule);
    cr_assert_eq(wf_config_parse("w_kredit", "1", &set, &v, err, sizeof err), WF_E_FIELD);
    cr_assert_eq(wf_config_parse("tier_a", "x", &set, &v, err, sizeof err), WF_E_FIELD);
    cr_assert(strstr(err, "tier_a"), "%s", err);
}

/* The what-if runs its own push timers: with push_delay_b shorter than in
 * reality it fires a tick of its own before the journaled one and tells
 * the tier-B consumers then; with a delay longer than the rest of the
 * window nobody is told within it. The real run is the same in both. */
static void
whatif_push_delay_b(int64_t delay, wf_whatif_report_t *rep)
{
    wf_whatif_opts_t o;
    memset(&o, 0, sizeof o);
    o.set = WF_CFG_PUSH_DELAY_B;
    o.values.push_delay_b = delay;
    run_whatif(&o, rep);
}

Test(whatif, push_delays_fire_the_what_ifs_own_timers)
{
    session();
    wf_engine_destroy(&E);
    wf_whatif_report_t rep;
    whatif_push_delay_b(100, &rep);
    cr_assert_eq(rep.real.notified, 1, "P2's resting offer, told once the journaled tick came");
    cr_assert_eq(rep.real.first_tier[1], 1, "to a tier-B consumer");
    cr_assert_eq(rep.real.timer_ticks, 0);
    cr_assert_eq(rep.whatif.timer_ticks, 1, "100 ms after the post, before the journaled tick");
    cr_assert_eq(rep.whatif.notified, 1);
    cr_assert_eq(rep.whatif.first_tier[1], 1);
    cr_assert_eq(rep.whatif.refused, 0);

    whatif_push_delay_b(60000, &rep);
    cr_assert_eq(rep.real.notified, 1);
    cr_assert_eq(rep.whatif.timer_ticks, 0, "nothing falls due within the window");
    cr_assert_eq(rep.whatif.notified, 0, "a minute's delay: nobody told within the window");
    E = open_at(dir, 0);
}
