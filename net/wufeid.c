/* wufeid: the wufei engine daemon. Parses the command line and the
 * configuration file it names (net/conf.c; command-line options win),
 * opens the engine on its database, runs the I/O loop of net/server.c
 * until SIGTERM or SIGINT (SIGUSR1 logs the served-requests figures so
 * far), then closes everything and exits 0. Exit status
 * 2 means the command line or the configuration file was refused, 1 that
 * the engine or a socket failed. An installed wufeid finds its catalogue
 * beside its binary's prefix (<prefix>/share/wufei/catalogue.tsv); a
 * wufeid in the build tree uses the source tree's. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "../engine/engine.h"
#include "conf.h"
#include "http.h"
#include "server.h"
#include "wf_exe_path.h"

#ifndef WUFEI_VERSION
#define WUFEI_VERSION "0"
#endif
/* The catalogue of an installed wufeid, relative to its binary's folder. */
#ifndef WUFEI_CATALOGUE_FROM_BIN
#define WUFEI_CATALOGUE_FROM_BIN "../share/wufei/catalogue.tsv"
#endif

static wf_server_t *running;

static void
on_signal(int sig)
{
    if (!running)
        return;
    if (sig == SIGUSR1)
        wf_server_log_stats_soon(running);
    else
        wf_server_stop(running);
}

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: wufeid --db DIR [options]\n"
            "       wufeid --config FILE [options]\n"
            "\n"
            "The wufei solid-waste exchange engine daemon (protocol: docs/protocol.md).\n"
            "\n"
            "  --config FILE       read `key = value` settings from FILE (keys: the long\n"
            "                      options below, without --);\n"
            "                      options on the command line win over the file\n"
            "  --db DIR            database directory (created if missing)\n"
            "  --command ENDPOINT  command ROUTER endpoint (default " WF_DEFAULT_COMMAND ")\n"
            "  --feed ENDPOINT     public feed PUB endpoint (default " WF_DEFAULT_FEED ")\n"
            "  --insecure          no CURVE: requests name their firm in the field `as`;\n"
            "                      only tcp://127.0.0.1, tcp://localhost, tcp://[::1], ipc://\n"
            "                      and inproc:// endpoints are accepted\n"
            "                      (default: secure mode, CURVE on both sockets; key pairs\n"
            "                      server.key/.pub and operator.key/.pub are made in DIR on\n"
            "                      first start; a client's registered key names its firm)\n"
            "  --map-size MIB      LMDB map size in MiB (default 1024)\n"
            "  --catalogue FILE    waste catalogue file (default: the shipped catalogue,\n"
            "                      <prefix>/share/wufei/catalogue.tsv when installed)\n"
            "  --catalogue-add FILE  a city's own codes, loaded after the catalogue (they may\n"
            "                      refine its kinds; replays need the same file)\n"
            "  --batch N           requests per engine batch, 1..%d (default %d)\n"
            "  --metrics ENDPOINT  serve Prometheus metrics at http://HOST:PORT/metrics for\n"
            "                      ENDPOINT tcp://HOST:PORT (default: off; loopback only in\n"
            "                      insecure mode; see docs/operator-metrics.md)\n"
            "  --metrics-port PORT the same on tcp://127.0.0.1:PORT\n"
            "  --dashboard         also serve the read-only dashboard (/ and /api/state) on\n"
            "                      the metrics endpoint (default " WF_DEFAULT_HTTP ")\n"
            "  --quiet             no per-event log lines on stderr\n"
            "  --help              this text\n"
            "  --version           print the version\n"
            "\n"
            "Prints \"wufeid VERSION ready on ENDPOINT\" on stdout once it answers; logs to\n"
            "stderr, one line per event, prefixed with the UTC time. SIGTERM or SIGINT stop it;\n"
            "SIGUSR1 logs the requests served so far, the batch sizes and the loop's time per batch.\n",
            WF_BATCH_MAX, WF_BATCH_MAX);
}

static bool
parse_size(const char *s, unsigned long long lo, unsigned long long hi, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static int run(wf_engine_opts_t *eo, wf_server_opts_t *so);

/* Fills what the command line left unset from the configuration file. */
static void
merge_conf(const wf_conf_t *conf, wf_engine_opts_t *eo, wf_server_opts_t *so, bool cli_insecure,
           bool cli_quiet)
{
    if (!eo->dir)
        eo->dir = conf->db;
    if (!so->command)
        so->command = conf->command;
    if (!so->feed)
        so->feed = conf->feed;
    if (!eo->catalogue)
        eo->catalogue = conf->catalogue;
    if (!eo->catalogue_add)
        eo->catalogue_add = conf->catalogue_add;
    if (!cli_insecure && conf->insecure == 1)
        so->insecure = true;
    if (!cli_quiet && conf->quiet == 1)
        so->quiet = true;
    if (!eo->map_size && conf->map_size_mib)
        eo->map_size = (size_t)(conf->map_size_mib << 20);
    if (!so->batch && conf->batch)
        so->batch = (size_t)conf->batch;
    if (!so->http)
        so->http = conf->metrics;
    if (!so->dashboard && conf->dashboard == 1)
        so->dashboard = true;
}

int
main(int argc, char **argv)
{
    enum { OPT_DB = 1, OPT_COMMAND, OPT_FEED, OPT_INSECURE, OPT_MAP, OPT_CAT, OPT_BATCH, OPT_QUIET,
           OPT_HELP, OPT_VERSION, OPT_CONFIG, OPT_METRICS, OPT_METRICS_PORT, OPT_DASHBOARD,
           OPT_CAT_ADD };
    static const struct option longopts[] = {
        {"db", required_argument, NULL, OPT_DB},
        {"command", required_argument, NULL, OPT_COMMAND},
        {"feed", required_argument, NULL, OPT_FEED},
        {"insecure", no_argument, NULL, OPT_INSECURE},
        {"map-size", required_argument, NULL, OPT_MAP},
        {"catalogue", required_argument, NULL, OPT_CAT},
        {"catalogue-add", required_argument, NULL, OPT_CAT_ADD},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"metrics", required_argument, NULL, OPT_METRICS},
        {"metrics-port", required_argument, NULL, OPT_METRICS_PORT},
        {"dashboard", no_argument, NULL, OPT_DASHBOARD},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {"config", required_argument, NULL, OPT_CONFIG},
        {NULL, 0, NULL, 0},
    };
    wf_engine_opts_t eo = {0};
    wf_server_opts_t so = {0};
    unsigned long long v;
    int opt;
    const char *config = NULL;
    bool cli_insecure = false, cli_quiet = false;
    char http_ep[64];

    opterr = 0;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_DB: eo.dir = optarg; break;
        case OPT_COMMAND: so.command = optarg; break;
        case OPT_FEED: so.feed = optarg; break;
        case OPT_INSECURE: so.insecure = cli_insecure = true; break;
        case OPT_CONFIG: config = optarg; break;
        case OPT_CAT: eo.catalogue = optarg; break;
        case OPT_CAT_ADD: eo.catalogue_add = optarg; break;
        case OPT_QUIET: so.quiet = cli_quiet = true; break;
        case OPT_METRICS: so.http = optarg; break;
        case OPT_DASHBOARD: so.dashboard = true; break;
        case OPT_METRICS_PORT:
            if (!parse_size(optarg, 0, 65535, &v)) {
                fprintf(stderr, "wufeid: --metrics-port wants 0 to 65535, not \"%s\"\n", optarg);
                return 2;
            }
            snprintf(http_ep, sizeof http_ep, "tcp://127.0.0.1:%llu", v);
            so.http = http_ep;
            break;
        case OPT_MAP:
            if (!parse_size(optarg, 1, 1ULL << 24, &v)) {
                fprintf(stderr, "wufeid: --map-size wants MiB from 1 to %llu, not \"%s\"\n", 1ULL << 24, optarg);
                return 2;
            }
            eo.map_size = (size_t)(v << 20);
            break;
        case OPT_BATCH:
            if (!parse_size(optarg, 1, WF_BATCH_MAX, &v)) {
                fprintf(stderr, "wufeid: --batch wants 1 to %d, not \"%s\"\n", WF_BATCH_MAX, optarg);
                return 2;
            }
            so.batch = (size_t)v;
            break;
        case OPT_HELP:
            usage(stdout);
            return 0;
        case OPT_VERSION:
            printf("wufeid %s\n", WUFEI_VERSION);
            return 0;
        default:
            if (optopt)
                fprintf(stderr, "wufeid: option %s needs a value\n", argv[optind - 1]);
            else
                fprintf(stderr, "wufeid: unknown option %s\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "wufeid: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    wf_conf_t conf;
    wf_conf_init(&conf);
    char err[4608];
    if (config) {
        if (wf_conf_load(&conf, config, err, sizeof err) != 0) {
            fprintf(stderr, "wufeid: %s\n", err);
            wf_conf_fini(&conf);
            return 2;
        }
        merge_conf(&conf, &eo, &so, cli_insecure, cli_quiet);
    }
    char catpath[4096];
    if (!eo.catalogue && wf_exe_relative_file(WUFEI_CATALOGUE_FROM_BIN, catpath, sizeof catpath))
        eo.catalogue = catpath;
    int rc = run(&eo, &so);
    wf_conf_fini(&conf);
    return rc;
}

/* Checks the merged options, then runs the daemon until a signal. */
static int
run(wf_engine_opts_t *eo_p, wf_server_opts_t *so_p)
{
    wf_engine_opts_t eo = *eo_p;
    wf_server_opts_t so = *so_p;
    if (!eo.dir) {
        fprintf(stderr, "wufeid: --db DIR (or db in the --config file) is required\n");
        usage(stderr);
        return 2;
    }
    const char *cmd_ep = so.command ? so.command : WF_DEFAULT_COMMAND;
    const char *feed_ep = so.feed ? so.feed : WF_DEFAULT_FEED;
    if (so.insecure && (!wf_server_endpoint_local(cmd_ep) || !wf_server_endpoint_local(feed_ep))) {
        fprintf(stderr, "wufeid: --insecure binds only to tcp://127.0.0.1, tcp://localhost, "
                        "tcp://[::1], ipc:// or inproc:// endpoints, not %s\n",
                wf_server_endpoint_local(cmd_ep) ? feed_ep : cmd_ep);
        return 2;
    }
    const char *web = so.http ? so.http : (so.dashboard ? WF_DEFAULT_HTTP : NULL);
    if (web && so.insecure && !wf_http_endpoint_local(web)) {
        fprintf(stderr, "wufeid: --insecure serves HTTP only on a loopback address, not %s\n", web);
        return 2;
    }

    signal(SIGPIPE, SIG_IGN);
    wf_server_log(stderr, "starting %s on database %s", WUFEI_VERSION, eo.dir);
    if (so.insecure) {
        /* Loud on purpose, and never silenced by --quiet. */
        static const char *const banner[] = {
            "****************************************************************",
            "WARNING: INSECURE MODE: no encryption and no authentication.",
            "WARNING: any local process may act as any firm, the operator",
            "WARNING: included, by naming it in the field `as`.",
            "WARNING: for development and tests on this machine only.",
            "****************************************************************",
        };
        for (size_t i = 0; i < sizeof banner / sizeof banner[0]; i++)
            wf_server_log(stderr, "%s", banner[i]);
    }
    so.key_dir = eo.dir;
    wf_server_log(stderr, "catalogue %s%s%s", eo.catalogue ? eo.catalogue : WUFEI_CATALOGUE_BUILTIN,
                  eo.catalogue_add ? " + " : "", eo.catalogue_add ? eo.catalogue_add : "");

    char err[512];
    wf_engine_t *engine = wf_engine_new(&eo, err, sizeof err);
    if (!engine) {
        wf_server_log(stderr, "cannot open the engine: %s", err);
        return 1;
    }
    wf_server_t *srv = wf_server_new(engine, &so, err, sizeof err);
    if (!srv) {
        wf_server_log(stderr, "cannot start: %s", err);
        wf_engine_destroy(&engine);
        return 1;
    }

    if (!so.insecure)
        wf_server_log(stderr, "secure mode: server public key %s (in %s/server.pub); operator key pair "
                              "in %s/operator.key and operator.pub",
                      wf_server_public_key(srv), eo.dir, eo.dir);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    running = srv;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);

    if (wf_server_http_endpoint(srv))
        wf_server_log(stderr, "http on %s: /metrics, /healthz%s%s", wf_server_http_endpoint(srv),
                      so.dashboard ? ", dashboard / and /api/state" : "",
                      wf_http_endpoint_local(wf_server_http_endpoint(srv))
                          ? ""
                          : " (WARNING: not loopback, and HTTP has no authentication)");
    uint64_t replayed;
    bool rebuilt;
    wf_engine_recovery(engine, &replayed, &rebuilt);
    if (rebuilt)
        wf_server_log(stderr, "the machine restarted after an unclean stop: the state was "
                      "rebuilt from the journal (%llu entries)", (unsigned long long)replayed);
    else if (replayed)
        wf_server_log(stderr, "replayed %llu journal entries the state did not hold yet",
                      (unsigned long long)replayed);
    wf_server_log(stderr, "command %s, feed %s, journal at seq %llu", wf_server_command_endpoint(srv),
                  wf_server_feed_endpoint(srv), (unsigned long long)wf_engine_journal_seq(engine));
    printf("wufeid %s ready on %s\n", WUFEI_VERSION, wf_server_command_endpoint(srv));
    fflush(stdout);

    int rc = wf_server_run(srv);

    wf_server_log_stats(srv);
    wf_server_log(stderr, "stopping");
    running = NULL;
    wf_server_destroy(&srv);
    wf_engine_destroy(&engine);
    wf_server_log(stderr, "stopped");
    return rc == 0 ? 0 : 1;
}
