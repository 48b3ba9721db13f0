/* End to end: config.get's history over the wire and `wufei config get
 * --history`, and `wufei replay` (the what-if) run against the database of
 * a running wufeid: exit 0, the side-by-side table, --json that parses,
 * and the live journal unchanged. */
#include "e2e_fixture.h"

#define NEAR "91330604MA2D000011"
#define FAR "91330604MA2D000012"

TestSuite(replay, .init = setup, .fini = teardown, .timeout = 60);

/* Runs the CLI with args (NULL-terminated), stdout into out; returns the
 * exit status. Bounded to 30 s. */
static int run_cli(char *out, size_t outlen, ...)
{
    const char *argv[40];
    int n = 0;
    argv[n++] = WUFEI_CLI_PATH;
    va_list ap;
    va_start(ap, outlen);
    for (const char *a; (a = va_arg(ap, const char *)) && n < 39;)
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    char fo[300];
    snprintf(fo, sizeof fo, "%s.out", D.dir);
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(fo, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(o, 2);
        unsetenv("WUFEI_AS");
        unsetenv("WUFEI_ENDPOINT");
        execv(WUFEI_CLI_PATH, (char *const *)argv);
        _exit(127);
    }
    cr_assert(pid > 0);
    int status = 0;
    int64_t deadline = mono_ms() + 30000;
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && mono_ms() < deadline)
        usleep(10000);
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    FILE *f = fopen(fo, "r");
    size_t got = f ? fread(out, 1, outlen - 1, f) : 0;
    out[got] = '\0';
    if (f)
        fclose(f);
    unlink(fo);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void put_firm(wfc_t *op, const char *id, const char *roles, double lat, double lon,
                     long long credit)
{
    const msgpack_object *r = req(op, "firm.put", "firm:s name:s roles:l lat:d lon:d county:i base_credit:i",
                                  id, id, roles, lat, lon, 330602LL, credit);
    assert_ok(r, "firm.put");
}

Test(replay, config_history_and_the_what_if_on_a_live_database)
{
    wfc_t *op = client(OPERATOR);
    const msgpack_object *r; /* assert_ok reads its argument more than once: never a call */
    put_firm(op, PRODUCER, "producer", 30.00, 120.58, 80);
    put_firm(op, NEAR, "consumer", 30.01, 120.59, 78);
    put_firm(op, FAR, "consumer", 30.03, 120.61, 80);
    r = req(op, "config.set", "w_price:d", 0.25);
    assert_ok(r, "config.set");
    r = req(op, "config.set", "push_delay_b:i tier_a:i", 700LL, 91LL);
    assert_ok(r, "config.set");

    r = req(op, "config.get", "history:b", 1);
    assert_ok(r, "config.get history");
    const msgpack_object *h = wfc_get(r, "history");
    cr_assert(h && h->type == MSGPACK_OBJECT_ARRAY && h->via.array.size == 2, "two changes");
    const msgpack_object *h0 = &h->via.array.ptr[0];
    char by[32] = "";
    cr_assert(wfc_get_str(h0, "by", by, sizeof by));
    cr_assert_str_eq(by, OPERATOR);
    cr_assert_gt(wfc_get_int(h0, "seq", 0), wfc_get_int(&h->via.array.ptr[1], "seq", 0),
                 "newest first");
    cr_assert_gt(wfc_get_int(h0, "ts", 0), 0);
    const msgpack_object *ch = wfc_get(h0, "changes");
    cr_assert(ch && ch->type == MSGPACK_OBJECT_MAP && ch->via.map.size == 2, "only the keys set");
    cr_assert_eq(wfc_get_int(ch, "push_delay_b", 0), 700);
    cr_assert_eq(wfc_get_int(ch, "tier_a", 0), 91);
    cr_assert(!wfc_get_bool(r, "history_truncated", true));
    r = req(op, "config.get", NULL);
    assert_ok(r, "config.get");
    cr_assert_null(wfc_get(r, "history"), "no history unless asked");
    r = req(op, "config.get", "history:s", "yes");
    cr_assert(!wfc_get_bool(r, "ok", true), "history must be a boolean");

    /* the contested offer: NEAR wins under the defaults */
    wfc_t *n = client(NEAR), *f = client(FAR), *p = client(PRODUCER);
    r = req(n, "demand.post", "codes:l qty:i price:i", "SW59", 1000LL, 200LL);
    assert_ok(r, "demand");
    r = req(f, "demand.post", "codes:l qty:i price:i", "SW59", 1000LL, 200LL);
    assert_ok(r, "demand");
    r = req(p, "offer.post", "code:s qty:i price:i", "SW59", 1000LL, 100LL);
    assert_ok(r, "offer");
    const msgpack_object *ms = wfc_get(r, "matches");
    cr_assert(ms && ms->type == MSGPACK_OBJECT_ARRAY && ms->via.array.size == 1);
    r = req(op, "journal.head", NULL);
    long long seq0 = wfc_get_int(r, "seq", 0);

    char out[16384];
    char url[64];
    snprintf(url, sizeof url, "%s", D.cmd_ep);
    int st = run_cli(out, sizeof out, "--endpoint", url, "--as", OPERATOR, "config", "get",
                     "--history", NULL);
    cr_assert_eq(st, 0, "config get --history: %s", out);
    cr_assert(strstr(out, "history (newest first, 2 changes)") && strstr(out, "push_delay_b=700"),
              "%s", out);

    st = run_cli(out, sizeof out, "replay", "--db", D.dir, "--set", "w_credit=1.0", NULL);
    cr_assert_eq(st, 0, "replay: %s", out);
    cr_assert(strstr(out, "as it happened") && strstr(out, "what-if") && strstr(out, "difference"),
              "the side-by-side table: %s", out);
    cr_assert(strstr(out, "matches") && strstr(out, "tonne-km") && strstr(out, "median time to match"),
              "%s", out);
    cr_assert(strstr(out, FAR) && strstr(out, "gains") && strstr(out, NEAR) && strstr(out, "loses"),
              "the gainer and the loser: %s", out);

    char json[300];
    snprintf(json, sizeof json, "%s.json", D.dir);
    st = run_cli(out, sizeof out, "replay", "--db", D.dir, "--set", "w_credit=1.0", "--json", NULL);
    cr_assert_eq(st, 0, "replay --json: %s", out);
    FILE *jf = fopen(json, "w");
    cr_assert_not_null(jf);
    fputs(out, jf);
    fclose(jf);
    char cmd[800];
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); "
             "assert d[\"gainers\"][0][\"firm\"]==\"%s\" and d[\"changed_pairs\"]==2, d' '%s'",
             FAR, json);
    cr_assert_eq(system(cmd), 0, "the JSON parses and says who gains: %s", out);
    unlink(json);

    st = run_cli(out, sizeof out, "replay", "--db", D.dir, "--set", "w_kredit=1", NULL);
    cr_assert_eq(st, 64, "an unknown setting is a usage error: %s", out);
    st = run_cli(out, sizeof out, "replay", "--db", D.dir, "--set", "w_credit=-3", NULL);
    cr_assert_eq(st, 1, "a refused value: %s", out);

    r = req(op, "journal.head", NULL);
    cr_assert_eq(wfc_get_int(r, "seq", 0), seq0, "the replay wrote nothing to the live journal");
    wfc_destroy(&n);
    wfc_destroy(&f);
    wfc_destroy(&p);
    wfc_destroy(&op);
}

/* A city's own codes (--catalogue-add): the daemon loads them after the
 * shipped catalogue, a demand for the national kind takes the city's
 * sub-code, and the offline replays need the same file: without it the
 * replay refuses the city's code and says the state differs. */
Test(replay, a_citys_catalogue_is_added_and_replays_need_it)
{
    char city[300];
    snprintf(city, sizeof city, "%s/city.tsv", D.dir);
    FILE *cf = fopen(city, "w");
    cr_assert_not_null(cf);
    fputs("code\tparent\tclass\tunit\thazard\tname\n"
          "ISW-07\tSW07\tindustrial\tkg\t-\t污泥\n"
          "ISW-07-01-01\tISW-07\tindustrial\tkg\t-\t印染污泥\n", cf);
    fclose(cf);
    cr_assert_eq(daemon_stop(), 0);
    D.extra[0] = "--catalogue-add";
    D.extra[1] = city;
    daemon_start();
    D.extra[0] = D.extra[1] = NULL;

    wfc_t *op = client(OPERATOR);
    const msgpack_object *r;
    put_firm(op, PRODUCER, "producer", 30.00, 120.58, 80);
    put_firm(op, NEAR, "consumer", 30.01, 120.59, 80);
    wfc_t *n = client(NEAR), *p = client(PRODUCER);
    r = req(n, "demand.post", "codes:l qty:i price:i", "SW07", 1000LL, 200LL);
    assert_ok(r, "a demand for the national kind");
    r = req(p, "offer.post", "code:s qty:i price:i", "ISW-07-01-01", 1000LL, 100LL);
    assert_ok(r, "an offer of the city's code");
    const msgpack_object *ms = wfc_get(r, "matches");
    cr_assert(ms && ms->type == MSGPACK_OBJECT_ARRAY && ms->via.array.size == 1,
              "SW07 covers the city's ISW-07-01-01");
    r = req(p, "offer.post", "code:s qty:i price:i", "ISW-99", 1000LL, 100LL);
    assert_err(r, "E_CODE", "a code in neither file");

    char out[16384];
    int st = run_cli(out, sizeof out, "replay-check", "--db", D.dir, "--catalogue-add", city, NULL);
    cr_assert_eq(st, 0, "replay-check with the city's file: %s", out);
    cr_assert(strstr(out, "replay ok"), "%s", out);
    st = run_cli(out, sizeof out, "replay-check", "--db", D.dir, NULL);
    cr_assert_eq(st, 1, "replay-check without it cannot reproduce the state: %s", out);
    cr_assert(strstr(out, "REPLAY DIFFERS"), "%s", out);
    st = run_cli(out, sizeof out, "replay", "--db", D.dir, "--catalogue-add", city, "--set",
                 "w_credit=1.0", NULL);
    cr_assert_eq(st, 0, "the what-if with the city's file: %s", out);
    cr_assert(strstr(out, "as it happened"), "%s", out);
    st = run_cli(out, sizeof out, "replay-check", "--db", D.dir, "--catalogue-add",
                 "/nonexistent/city.tsv", NULL);
    cr_assert_eq(st, 1, "an unreadable file: %s", out);
    cr_assert(strstr(out, "/nonexistent/city.tsv"), "the message names the file: %s", out);
    wfc_destroy(&n), wfc_destroy(&p), wfc_destroy(&op);
}
