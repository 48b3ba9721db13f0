/* End-to-end tests of secure mode: wufeid without --insecure, CURVE on
 * both sockets, the operator using the operator.key the daemon made in its
 * database directory, firms using key pairs made with wfc_key_generate (or
 * `wufei keygen`) and registered with firm.put `key`. A connection acts as
 * the firm its key is registered to whatever its `as` field says; a key
 * registered to no firm gets no connection at all. Also: the --insecure
 * banner and its refusal of non-loopback endpoints. */
#include "e2e_daemon.h"

#include <zmq.h>

#define PRODUCER "91330603MA2D000001"
#define CONSUMER "91330604MA2D000002"
#define PRODUCER2 "91330603MA2D000003"

static dmn_t D;

/* The firms' key pairs. */
static char p_pub[41], p_sec[41], c_pub[41], c_sec[41], p2_pub[41], p2_sec[41];

static void setup(void)
{
    dmn_init(&D, false);
    D.extra[0] = NULL; /* not --quiet: refused handshakes are logged */
    dmn_start(&D);
    char err[256];
    cr_assert_eq(wfc_key_generate(NULL, p_pub, p_sec, err, sizeof err), 0, "%s", err);
    cr_assert_eq(wfc_key_generate(NULL, c_pub, c_sec, err, sizeof err), 0, "%s", err);
    cr_assert_eq(wfc_key_generate(NULL, p2_pub, p2_sec, err, sizeof err), 0, "%s", err);
    wfc_t *op = dmn_operator(&D);
    dmn_put_firm(op, PRODUCER, "producer", 30.08, 120.49, 330603, p_pub);
    dmn_put_firm(op, CONSUMER, "consumer", 30.03, 120.87, 330604, c_pub);
    dmn_put_firm(op, PRODUCER2, "producer", 30.09, 120.47, 330603, p2_pub);
    wfc_destroy(&op);
}

static void teardown(void)
{
    dmn_fini(&D);
}

static wfc_t *firm_client(const char *sec, const char *as)
{
    wfc_opts_t o = {.endpoint = D.cmd_ep, .server_key = D.server_pub, .secret_key = sec, .as = as,
                    .timeout_ms = 5000};
    wfc_t *c = wfc_new(&o);
    cr_assert_not_null(c);
    return c;
}

TestSuite(secure, .init = setup, .fini = teardown, .timeout = 120);

Test(secure, key_files_beside_the_database_are_owner_only)
{
    const char *names[] = {"server.key", "operator.key", "server.pub", "operator.pub"};
    for (int i = 0; i < 4; i++) {
        char p[300];
        snprintf(p, sizeof p, "%s/%s", D.dir, names[i]);
        struct stat st;
        cr_assert_eq(stat(p, &st), 0, "%s", p);
        if (strstr(names[i], ".key"))
            cr_assert_eq(st.st_mode & 077, 0, "%s has mode %o", p, st.st_mode & 0777);
    }
}

Test(secure, a_registered_key_acts_as_its_firm_whatever_as_says)
{
    /* the producer's key, claiming to be the consumer and then the operator */
    wfc_t *p = firm_client(p_sec, CONSUMER);
    const msgpack_object *r = req(p, "offer.post", "code:s qty:i price:i", "SW07", 3000LL, -2000LL);
    assert_ok(r, "offer.post with the producer's key");
    char oid[32];
    cr_assert(wfc_get_str(r, "id", oid, sizeof oid));
    r = req(p, "order.get", "id:s", oid);
    assert_ok(r, "order.get");
    const msgpack_object *order = wfc_get(r, "order");
    cr_assert_not_null(order);
    char firm[32];
    cr_assert(wfc_get_str(order, "firm", firm, sizeof firm));
    cr_assert_str_eq(firm, PRODUCER, "the order belongs to the key's firm, not to `as`");
    /* the consumer's role is not the producer's */
    r = req(p, "demand.post", "codes:l qty:i price:i", "SW07", 100LL, 0LL);
    assert_err(r, "E_AUTH", "demand.post by the producer's key claiming the consumer");
    wfc_set_as(p, OPERATOR);
    r = req(p, "config.get", NULL);
    assert_err(r, "E_AUTH", "config.get by the producer's key claiming the operator");
    wfc_destroy(&p);

    /* the consumer's key matches that offer as the consumer */
    wfc_t *c = firm_client(c_sec, PRODUCER);
    r = req(c, "demand.post", "codes:l qty:i price:i", "SW07", 1000LL, -1000LL);
    assert_ok(r, "demand.post with the consumer's key");
    const msgpack_object *ms = wfc_get(r, "matches");
    cr_assert(ms && ms->type == MSGPACK_OBJECT_ARRAY && ms->via.array.size == 1, "one match");
    wfc_destroy(&c);
}

Test(secure, an_unknown_key_gets_no_service)
{
    char pub[41], sec[41], err[256];
    cr_assert_eq(wfc_key_generate(NULL, pub, sec, err, sizeof err), 0);
    wfc_opts_t o = {.endpoint = D.cmd_ep, .server_key = D.server_pub, .secret_key = sec, .as = OPERATOR,
                    .timeout_ms = 1500};
    wfc_t *c = wfc_new(&o);
    cr_assert_not_null(c);
    wfc_begin(c, "ping", 0);
    const msgpack_object *reply;
    cr_assert_neq(wfc_call(c, &reply), 0, "an unregistered key got a reply");
    /* the handshake fails: the request waits in the client's queue, or
     * the refused connection leaves nowhere to send it */
    bool unserved = strstr(wfc_error(c), "no reply") || strstr(wfc_error(c), "cannot send");
    wfc_destroy(&c);
    cr_assert(unserved, "the client failed otherwise");
    char line[128];
    snprintf(line, sizeof line, "unknown key %s", pub);
    cr_assert(dmn_log_has(&D, line, 5000), "the daemon did not log the refusal of %s", pub);

    /* a client without CURVE at all */
    wfc_opts_t plain = {.endpoint = D.cmd_ep, .as = OPERATOR, .timeout_ms = 1000};
    c = wfc_new(&plain);
    cr_assert_not_null(c);
    wfc_begin(c, "ping", 0);
    cr_assert_neq(wfc_call(c, &reply), 0, "a plain-text client got a reply");
    wfc_destroy(&c);

    /* a firm's public key used with the wrong secret cannot connect either */
    wfc_opts_t forged = {.endpoint = D.cmd_ep, .server_key = D.server_pub, .public_key = p_pub,
                         .secret_key = sec, .timeout_ms = 1000};
    c = wfc_new(&forged);
    cr_assert_not_null(c);
    wfc_begin(c, "ping", 0);
    cr_assert_neq(wfc_call(c, &reply), 0, "a forged key pair got a reply");
    wfc_destroy(&c);

    /* the daemon still serves the registered */
    wfc_t *p = firm_client(p_sec, NULL);
    assert_ok(req(p, "ping", NULL), "ping after refusals");
    wfc_destroy(&p);
}

Test(secure, the_operator_key_runs_admin_ops_and_a_firm_key_cannot)
{
    wfc_t *op = dmn_operator(&D);
    assert_ok(req(op, "config.get", NULL), "config.get by the operator key");
    assert_ok(req(op, "config.set", "eco_fee:i", 100LL), "config.set by the operator key");
    assert_ok(req(op, "firm.get", "firm:s", PRODUCER), "firm.get by the operator key");
    wfc_destroy(&op);

    wfc_t *p = firm_client(p_sec, OPERATOR);
    assert_err(req(p, "config.get", NULL), "E_AUTH", "config.get by a firm key");
    assert_err(req(p, "config.set", "eco_fee:i", 0LL), "E_AUTH", "config.set by a firm key");
    assert_err(req(p, "firm.put", "firm:s name:s roles:l lat:d lon:d county:i", PRODUCER, "me", "producer,consumer",
                   30.0, 120.0, 330603LL),
               "E_AUTH", "firm.put by a firm key (on itself)");
    assert_err(req(p, "firm.get", "firm:s", CONSUMER), "E_AUTH", "firm.get of another firm by a firm key");
    assert_ok(req(p, "firm.get", "firm:s", PRODUCER), "firm.get of itself");
    wfc_destroy(&p);
}

Test(secure, a_firm_cannot_act_on_another_firms_order)
{
    wfc_t *p = firm_client(p_sec, NULL), *p2 = firm_client(p2_sec, PRODUCER);
    const msgpack_object *r = req(p, "offer.post", "code:s qty:i price:i", "SW07", 3000LL, -2000LL);
    assert_ok(r, "offer.post");
    char oid[32];
    cr_assert(wfc_get_str(r, "id", oid, sizeof oid));
    assert_err(req(p2, "order.cancel", "id:s", oid), "E_AUTH", "order.cancel of another firm's order");
    assert_err(req(p2, "order.get", "id:s", oid), "E_AUTH", "order.get of another firm's order");
    r = req(p2, "orders.mine", NULL);
    assert_ok(r, "orders.mine");
    const msgpack_object *os = wfc_get(r, "orders");
    cr_assert(os && os->type == MSGPACK_OBJECT_ARRAY && os->via.array.size == 0, "P2 sees none of P's orders");
    assert_ok(req(p, "order.cancel", "id:s", oid), "order.cancel by the owner");
    wfc_destroy(&p);
    wfc_destroy(&p2);
}

Test(secure, private_stream_and_feed_over_curve)
{
    /* the feed: any CURVE key may subscribe; a plain subscriber hears nothing */
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB), *plain = zmq_socket(ctx, ZMQ_SUB);
    char pub[41], sec[41], err[256];
    cr_assert_eq(wfc_key_generate(NULL, pub, sec, err, sizeof err), 0);
    int linger = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(plain, ZMQ_LINGER, &linger, sizeof linger);
    cr_assert_eq(zmq_setsockopt(sub, ZMQ_CURVE_SERVERKEY, D.server_pub, 40), 0);
    cr_assert_eq(zmq_setsockopt(sub, ZMQ_CURVE_PUBLICKEY, pub, 40), 0);
    cr_assert_eq(zmq_setsockopt(sub, ZMQ_CURVE_SECRETKEY, sec, 40), 0);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "match.", 6);
    zmq_setsockopt(plain, ZMQ_SUBSCRIBE, "", 0);
    cr_assert_eq(zmq_connect(sub, D.feed_ep), 0);
    cr_assert_eq(zmq_connect(plain, D.feed_ep), 0);

    wfc_t *c = firm_client(c_sec, NULL);
    assert_ok(req(c, "hello", NULL), "hello by the consumer's key");
    wfc_t *p = firm_client(p_sec, NULL);
    /* the subscription must reach the daemon first: post until the feed talks */
    bool heard = false;
    char topic[64] = "";
    for (int round = 0; round < 20 && !heard; round++) {
        assert_ok(req(c, "demand.post", "codes:l qty:i price:i", "SW07", 100LL, -1000LL), "demand.post");
        assert_ok(req(p, "offer.post", "code:s qty:i price:i", "SW07", 100LL, -2000LL), "offer.post");
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 500) == 1) {
            int n = zmq_recv(sub, topic, sizeof topic - 1, 0);
            cr_assert(n > 0);
            topic[n] = '\0';
            heard = true;
        }
    }
    cr_assert(heard, "no feed message over CURVE");
    cr_assert_str_eq(topic, "match.SW07");
    zmq_pollitem_t it = {plain, 0, ZMQ_POLLIN, 0};
    cr_assert_eq(zmq_poll(&it, 1, 200), 0, "a plain-text subscriber heard the feed");

    /* the consumer's private stream arrived on its hello'd CURVE connection */
    const msgpack_object *m;
    cr_assert_eq(wfc_next(c, 3000, &m), 0, "no stream message: %s", wfc_error(c));
    char type[16];
    cr_assert(wfc_get_str(m, "type", type, sizeof type));
    cr_assert_str_eq(type, "match");
    zmq_close(sub);
    zmq_close(plain);
    zmq_ctx_term(ctx);
    wfc_destroy(&c);
    wfc_destroy(&p);
}

/* Runs the CLI with argv (NULL-terminated after the program), output into
 * out; returns its exit status. */
static int cli(char *out, size_t outlen, const char *const *args)
{
    int pipefd[2];
    cr_assert_eq(pipe(pipefd), 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        const char *argv[32];
        int n = 0;
        argv[n++] = WUFEI_CLI_PATH;
        argv[n++] = "--endpoint";
        argv[n++] = D.cmd_ep;
        for (int i = 0; args[i] && n < 31; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv(WUFEI_CLI_PATH, (char *const *)argv);
        _exit(127);
    }
    close(pipefd[1]);
    size_t got = 0;
    ssize_t k;
    while ((k = read(pipefd[0], out + got, outlen - 1 - got)) > 0 && got < outlen - 1)
        got += (size_t)k;
    out[got] = '\0';
    close(pipefd[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(secure, cli_keygen_and_key_files)
{
    char out[4096], prefix[300], keyfile[310], pubfile[310];
    snprintf(prefix, sizeof prefix, "%s/kiln", D.dir);
    snprintf(keyfile, sizeof keyfile, "%s.key", prefix);
    snprintf(pubfile, sizeof pubfile, "%s.pub", prefix);
    int rc = cli(out, sizeof out, (const char *[]){"keygen", "--out", prefix, NULL});
    cr_assert_eq(rc, 0, "keygen: %s", out);
    struct stat st;
    cr_assert_eq(stat(keyfile, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "secret key file mode %o", st.st_mode & 0777);
    char pub[41], err[256];
    cr_assert_eq(wfc_key_read(pubfile, pub, err, sizeof err), 0, "%s", err);
    cr_assert(strstr(out, pub), "keygen did not print the public key: %s", out);
    /* never overwrites */
    rc = cli(out, sizeof out, (const char *[]){"keygen", "--out", prefix, NULL});
    cr_assert_neq(rc, 0, "keygen overwrote %s", keyfile);

    /* the operator straight from the database directory */
    rc = cli(out, sizeof out, (const char *[]){"--keys", D.dir, "config", "get", NULL});
    cr_assert_eq(rc, 0, "config get with --keys: %s", out);
    rc = cli(out, sizeof out,
             (const char *[]){"--db", D.dir, "firm", "add", "91330604MA2D000009", "kiln", "--roles", "consumer",
                              "--lat", "30.0", "--lon", "120.8", "--county", "330604", "--key", pub, NULL});
    cr_assert_eq(rc, 0, "firm add with --db: %s", out);
    /* the firm with its key file; --keys names only the server here */
    rc = cli(out, sizeof out,
             (const char *[]){"--keys", D.dir, "--key-file", keyfile, "demand", "SW07", "1000", "-3000", NULL});
    cr_assert_eq(rc, 0, "demand with --key-file: %s", out);
    rc = cli(out, sizeof out, (const char *[]){"--keys", D.dir, "--key-file", keyfile, "config", "get", NULL});
    cr_assert_eq(rc, 1, "config get by a firm key file: %s", out);
    cr_assert(strstr(out, "E_AUTH"), "%s", out);
    /* the server key as a file, the secret as z85 */
    char sp[300], sec[41];
    snprintf(sp, sizeof sp, "%s/server.pub", D.dir);
    cr_assert_eq(wfc_key_read(keyfile, sec, err, sizeof err), 0);
    rc = cli(out, sizeof out, (const char *[]){"--server-key", sp, "--secret-key", sec, "orders", NULL});
    cr_assert_eq(rc, 0, "orders with --server-key FILE --secret-key Z85: %s", out);
    cr_assert(strstr(out, "firm=91330604MA2D000009"), "%s", out);
    /* WUFEI_KEYS */
    setenv("WUFEI_KEYS", D.dir, 1);
    rc = cli(out, sizeof out, (const char *[]){"config", "get", NULL});
    unsetenv("WUFEI_KEYS");
    cr_assert_eq(rc, 0, "config get with WUFEI_KEYS: %s", out);
    /* a key pair without the server key is a usage error */
    rc = cli(out, sizeof out, (const char *[]){"--key-file", keyfile, "ping", NULL});
    cr_assert_eq(rc, 64, "%s", out);
}

/* ---- insecure mode ---- */

Test(insecure, loud_banner_on_stderr_and_loopback_only, .timeout = 60)
{
    dmn_t d;
    dmn_init(&d, true);
    d.extra[0] = "--quiet"; /* the banner is not an event: --quiet keeps it */
    dmn_start(&d);
    char buf[8192];
    dmn_slurp(d.log, buf, sizeof buf);
    cr_assert(strstr(buf, "WARNING: INSECURE MODE"), "no banner on stderr: %s", buf);
    int warnings = 0;
    for (char *p = buf; (p = strstr(p, "WARNING")); p++)
        warnings++;
    cr_assert(warnings >= 3, "the banner is %d lines", warnings);
    dmn_slurp(d.out, buf, sizeof buf);
    cr_assert_null(strstr(buf, "WARNING"), "the banner went to stdout");
    cr_assert(strstr(buf, "ready on"), "%s", buf);
    dmn_fini(&d);

    /* a wildcard or public address is refused, with the reason, exit 2 */
    const char *bad[] = {"tcp://0.0.0.0:5999", "tcp://*:5999", "tcp://192.0.2.1:5999", "tcp://eth0:5999"};
    for (int i = 0; i < 4; i++) {
        dmn_init(&d, true);
        snprintf(d.cmd_ep, sizeof d.cmd_ep, "%s", bad[i]);
        int st = -1;
        cr_assert_not(dmn_try_start(&d, &st), "wufeid --insecure --command %s started", bad[i]);
        cr_assert_eq(st, 2, "exit status %d for %s", st, bad[i]);
        dmn_slurp(d.log, buf, sizeof buf);
        cr_assert(strstr(buf, "--insecure binds only to"), "%s: %s", bad[i], buf);
        dmn_fini(&d);
    }
    /* the feed endpoint too */
    dmn_init(&d, true);
    snprintf(d.feed_ep, sizeof d.feed_ep, "tcp://0.0.0.0:5998");
    int st = -1;
    cr_assert_not(dmn_try_start(&d, &st));
    cr_assert_eq(st, 2);
    dmn_fini(&d);
}
