/* wufei: the command-line client of the wufei exchange. Each run sends
 * one request to wufeid's command socket (or, for `watch`, says hello and
 * prints the firm's private stream until interrupted) and prints the reply
 * for a person, or as JSON with --json. Online commands speak only the
 * wire protocol, through the client library in wfclient.h. The offline
 * commands (verify, qr, audit, replay-check) need no daemon: they check a
 * manifest token with the engine's public key, draw it as a QR code, or
 * read a database directory read-only through the engine's audit code.
 * See docs/cli.md. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include <sodium.h>

#include "audit.h"
#include "whatif.h"
#include "qr.h"
#include "token.h"
#include "wf_error.h"
#include "wf_exe_path.h"
#include "wfclient.h"

#ifndef WUFEI_VERSION
#define WUFEI_VERSION "0"
#endif
/* The catalogue of an installed wufei, relative to its binary's folder. */
#ifndef WUFEI_CATALOGUE_FROM_BIN
#define WUFEI_CATALOGUE_FROM_BIN "../share/wufei/catalogue.tsv"
#endif

enum { EXIT_REPLY = 1, EXIT_TRANSPORT = 2, EXIT_USAGE = 64 };

/* ---- options ---- */

typedef struct opt {
    const char *name; /* without the leading "--" */
    bool takes_arg;
    const char *val;  /* the argument, or "" for a flag that was given */
} opt_t;

static opt_t opts[] = {
    {"endpoint", true, NULL},   {"as", true, NULL},         {"json", false, NULL},
    {"timeout", true, NULL},    {"help", false, NULL},      {"version", false, NULL},
    {"server-key", true, NULL}, {"public-key", true, NULL}, {"secret-key", true, NULL},
    {"lat", true, NULL},        {"lon", true, NULL},        {"max-km", true, NULL},
    {"min-credit", true, NULL}, {"min-fill", true, NULL},   {"expires", true, NULL},
    {"target", true, NULL},     {"all", false, NULL},       {"after", true, NULL},
    {"roles", true, NULL},      {"county", true, NULL},     {"base-credit", true, NULL},
    {"key", true, NULL},        {"goal", true, NULL},       {"codes", true, NULL},
    {"apply", false, NULL},
    {"radius-km", true, NULL},  {"min-qty", true, NULL},
    {"keys", true, NULL},       {"db", true, NULL},         {"key-file", true, NULL},
    {"out", true, NULL},        {"png", true, NULL},        {"top", true, NULL},
    {"days", true, NULL},
    {"set", true, NULL},        {"from", true, NULL},       {"to", true, NULL},
    {"from-time", true, NULL},  {"to-time", true, NULL},    {"history", false, NULL},
    {"catalogue", true, NULL},  {"catalogue-add", true, NULL},
};
#define NOPTS (sizeof opts / sizeof opts[0])

/* Options every subcommand accepts. */
static const char *const global_opts =
    " endpoint as json timeout help version server-key public-key secret-key keys db key-file ";

static const char *opt(const char *name)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strcmp(opts[i].name, name) == 0)
            return opts[i].val;
    return NULL;
}

static bool json_out;

static const char usage_text[] =
    "usage: wufei [options] COMMAND [args]\n"
    "\n"
    "options (also from WUFEI_ENDPOINT, WUFEI_AS, WUFEI_KEYS, WUFEI_KEY_FILE):\n"
    "  --endpoint E     wufeid's command socket (default tcp://127.0.0.1:5570)\n"
    "  --as FIRM        the firm to act as (insecure mode)\n"
    "  --json           print the raw reply as JSON\n"
    "  --timeout MS     reply timeout (default 5000)\n"
    "secure mode (CURVE):\n"
    "  --keys DIR       (or --db DIR) wufeid's database directory: the server key from\n"
    "                   DIR/server.pub and, unless --key-file, the operator's DIR/operator.key\n"
    "  --key-file FILE  this firm's secret key file (from `wufei keygen --out`)\n"
    "  --server-key Z85|FILE --secret-key Z85 [--public-key Z85]   keys given directly\n"
    "  --help, --version\n"
    "\n"
    "commands:\n"
    "  ping\n"
    "  offer CODE QTY PRICE [--lat X --lon Y] [--max-km K] [--min-credit C]\n"
    "        [--min-fill F] [--expires MS]\n"
    "  demand CODES QTY PRICE [same options] [--target OFFER]   (CODES comma-separated)\n"
    "  take OFFER CODES QTY PRICE [same options]                 (one-click take)\n"
    "  cancel ID\n"
    "  orders [--all]\n"
    "  order ID\n"
    "  watch [--after SEQ]\n"
    "  firm add ID NAME --roles R1,R2 --lat X --lon Y --county N [--base-credit N] [--key Z85]\n"
    "  firm get ID                                           (score, tier, credit panel)\n"
    "  sub add offers|demands CODES [--lat X --lon Y] [--radius-km K] [--min-qty Q]\n"
    "        [--min-credit C]\n"
    "  sub del ID\n"
    "  credit FIRM KIND POINTS NOTE [--expires MS]   (operator; KIND: penalty, manifest,\n"
    "        transport, discrepancy, reporting, conduct)\n"
    "  block FIRM NOTE | unblock FIRM NOTE            (operator)\n"
    "  config get [--history]   (--history: the last config.set changes, who and when)\n"
    "  config set KEY=VALUE...\n"
    "  licence add FIRM CODES CAPACITY VALID_UNTIL   (operator; VALID_UNTIL unix ms or YYYY-MM-DD)\n"
    "  lane add|del PRODUCER CONSUMER CODE            (operator)\n"
    "  optimize [--goal score|tonne_km] [--codes C1,C2] [--apply]   (operator)\n"
    "  auction set CODE PERIOD_MS [--goal score|tonne_km]          (operator)\n"
    "  auction del CODE                                            (operator)\n"
    "  keygen [--out PREFIX]     a CURVE key pair (PREFIX.key mode 0600, PREFIX.pub)\n"
    "  stats [--top N] [--days N]   market figures (operator)\n"
    "  dispatch MANIFEST CARRIER VEHICLE   (producer, or a carrier naming itself)\n"
    "  load MANIFEST QTY                   (producer: shipped quantity)\n"
    "  unload MANIFEST QTY                 (consumer: weighed quantity)\n"
    "  close MANIFEST                      (consumer)\n"
    "  cancel-manifest MANIFEST REASON...  (either party, before loading)\n"
    "  manifest MANIFEST\n"
    "  key                                 the engine's Ed25519 public key\n"
    "  journal-head                        (operator) the signed head of the journal\n"
    "\n"
    "offline (no daemon needed):\n"
    "  verify TOKEN [--key KEY | --db DIR]  check a manifest token and print it\n"
    "        (KEY: 64 hex digits or base64; DIR: its sign.pub; neither: ask the daemon)\n"
    "  qr TOKEN [--png FILE]                draw the token as a QR code\n"
    "  audit --db DIR                       re-walk the journal's hash chain, check its signed head\n"
    "  replay-check --db DIR                replay the journal into a scratch database and\n"
    "                                       compare state hashes\n"
    "  replay --db DIR [--set KEY=VALUE]... [--from SEQ | --from-time YYYY-MM-DD]\n"
    "        [--to SEQ | --to-time YYYY-MM-DD]  what-if: the journal replayed as it\n"
    "        happened and with the settings changed, the market figures side by side\n"
    "        (both replays: --catalogue FILE and --catalogue-add FILE as the daemon ran;\n"
    "        default: the installed catalogue alone)\n"
    "\n"
    "QTY in kg (or L), PRICE in fen per tonne (negative offer price: the producer pays).\n"
    "Exit status: 0 ok, 1 error reply (or a token, journal or replay that does not\n"
    "check out), 2 transport failure, 64 usage error.\n";

static int usage(const char *fmt, ...)
{
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        fputs("wufei: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
        fputs("try 'wufei --help'\n", stderr);
    }
    return EXIT_USAGE;
}

static bool parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_double(const char *s, double *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* ---- request fields ---- */

typedef enum { F_STR, F_INT, F_DOUBLE, F_BOOL, F_LIST } ftype_t;

typedef struct field {
    const char *key;
    ftype_t type;
    const char *s; /* F_STR; F_LIST: comma-separated */
    int64_t i;
    double d;
    bool b;
} field_t;

#define MAX_FIELDS 32

typedef struct req {
    field_t f[MAX_FIELDS];
    size_t n;
} req_t;

static field_t *add(req_t *r, const char *key, ftype_t type)
{
    if (r->n == MAX_FIELDS) {
        fputs("wufei: too many fields\n", stderr);
        exit(EXIT_USAGE);
    }
    field_t *f = &r->f[r->n++];
    memset(f, 0, sizeof *f);
    f->key = key;
    f->type = type;
    return f;
}

static void add_str(req_t *r, const char *key, const char *s) { add(r, key, F_STR)->s = s; }
static void add_int(req_t *r, const char *key, int64_t i) { add(r, key, F_INT)->i = i; }
static void add_double(req_t *r, const char *key, double d) { add(r, key, F_DOUBLE)->d = d; }
static void add_bool(req_t *r, const char *key, bool b) { add(r, key, F_BOOL)->b = b; }
static void add_list(req_t *r, const char *key, const char *csv) { add(r, key, F_LIST)->s = csv; }

static void pack_list(msgpack_packer *pk, const char *csv)
{
    size_t n = 1;
    for (const char *p = csv; *p; p++)
        n += *p == ',';
    msgpack_pack_array(pk, n);
    const char *p = csv;
    for (;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        msgpack_pack_str(pk, len);
        msgpack_pack_str_body(pk, p, len);
        if (!c)
            break;
        p = c + 1;
    }
}

static wfc_t *client;

/* Sends op with the fields of r. Returns 0 with *reply on a reply (ok or
 * not), or exits with EXIT_TRANSPORT. */
static const msgpack_object *call(const char *op, const req_t *r)
{
    msgpack_packer *pk = wfc_begin(client, op, r ? r->n : 0);
    for (size_t i = 0; r && i < r->n; i++) {
        const field_t *f = &r->f[i];
        wfc_pack_str(pk, f->key);
        switch (f->type) {
        case F_STR: wfc_pack_str(pk, f->s); break;
        case F_INT: msgpack_pack_int64(pk, f->i); break;
        case F_DOUBLE: msgpack_pack_double(pk, f->d); break;
        case F_BOOL: f->b ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
        case F_LIST: pack_list(pk, f->s); break;
        }
    }
    const msgpack_object *reply;
    if (wfc_call(client, &reply) != 0) {
        fprintf(stderr, "wufei: %s: %s\n", op, wfc_error(client));
        wfc_destroy(&client);
        exit(EXIT_TRANSPORT);
    }
    return reply;
}

/* Prints the reply as JSON when asked; on an error reply prints the code
 * and message and returns false. */
static bool reply_ok(const msgpack_object *reply)
{
    if (json_out) {
        wfc_print_json(stdout, reply);
        fputc('\n', stdout);
    }
    if (wfc_get_bool(reply, "ok", false))
        return true;
    char err[64] = "E_INTERNAL", msg[512] = "";
    wfc_get_str(reply, "err", err, sizeof err);
    wfc_get_str(reply, "msg", msg, sizeof msg);
    fprintf(stderr, "wufei: %s: %s\n", err, msg[0] ? msg : "(no message)");
    return false;
}

/* ---- readable output ---- */

static void fmt_cny(char *buf, size_t len, int64_t fen)
{
    unsigned long long a = fen < 0 ? (unsigned long long)-(fen + 1) + 1 : (unsigned long long)fen;
    snprintf(buf, len, "%s%llu.%02llu", fen < 0 ? "-" : "", a / 100, a % 100);
}

static void print_scalar(FILE *f, const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_STR: fwrite(o->via.str.ptr, 1, o->via.str.size, f); break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: fprintf(f, "%llu", (unsigned long long)o->via.u64); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: fprintf(f, "%lld", (long long)o->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: fprintf(f, "%g", o->via.f64); break;
    case MSGPACK_OBJECT_BOOLEAN: fputs(o->via.boolean ? "true" : "false", f); break;
    case MSGPACK_OBJECT_NIL: fputs("-", f); break;
    case MSGPACK_OBJECT_ARRAY: {
        bool simple = true;
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            msgpack_object_type t = o->via.array.ptr[i].type;
            if (t == MSGPACK_OBJECT_ARRAY || t == MSGPACK_OBJECT_MAP)
                simple = false;
        }
        if (!simple) {
            wfc_print_json(f, o);
            break;
        }
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i)
                fputc(',', f);
            print_scalar(f, &o->via.array.ptr[i]);
        }
        if (o->via.array.size == 0)
            fputs("-", f);
        break;
    }
    default: wfc_print_json(f, o); break;
    }
}

static bool key_is(const msgpack_object *k, const char *s)
{
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(s)
        && memcmp(k->via.str.ptr, s, k->via.str.size) == 0;
}

/* One line: the map's id first, then key=value for the other fields. */
static void print_kv_line(const msgpack_object *map)
{
    if (map->type != MSGPACK_OBJECT_MAP) {
        print_scalar(stdout, map);
        fputc('\n', stdout);
        return;
    }
    char id[64];
    bool first = true;
    if (wfc_get_str(map, "id", id, sizeof id)) {
        fputs(id, stdout);
        first = false;
    }
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (key_is(&kv->key, "id"))
            continue;
        if (!first)
            fputc(' ', stdout);
        first = false;
        print_scalar(stdout, &kv->key);
        fputc('=', stdout);
        print_scalar(stdout, &kv->val);
    }
    fputc('\n', stdout);
}

/* One "key: value" line per field, skipping the envelope. */
static void print_fields(const msgpack_object *map, const char *indent)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (key_is(&kv->key, "rid") || key_is(&kv->key, "ok"))
            continue;
        fputs(indent, stdout);
        print_scalar(stdout, &kv->key);
        fputs(": ", stdout);
        if (kv->val.type == MSGPACK_OBJECT_MAP) {
            fputc('\n', stdout);
            char deeper[32];
            snprintf(deeper, sizeof deeper, "%s  ", indent);
            print_fields(&kv->val, deeper);
        } else if (kv->val.type == MSGPACK_OBJECT_ARRAY && kv->val.via.array.size > 0
                   && kv->val.via.array.ptr[0].type == MSGPACK_OBJECT_MAP) {
            fputc('\n', stdout);
            for (uint32_t j = 0; j < kv->val.via.array.size; j++) {
                fputs(indent, stdout);
                fputs("  - ", stdout);
                print_kv_line(&kv->val.via.array.ptr[j]);
            }
        } else {
            print_scalar(stdout, &kv->val);
            fputc('\n', stdout);
        }
    }
}

/* "M4 2000 kg of 900-249-08 with D7 at 120.00 CNY/t, 23.4 km, score 0.512" */
static void print_match(const msgpack_object *m, bool we_offer)
{
    char id[64] = "?", code[64] = "?", other[64] = "?", unit[16] = "kg", price[32];
    wfc_get_str(m, "id", id, sizeof id);
    wfc_get_str(m, "code", code, sizeof code);
    wfc_get_str(m, we_offer ? "demand" : "offer", other, sizeof other);
    wfc_get_str(m, "unit", unit, sizeof unit);
    fmt_cny(price, sizeof price, wfc_get_int(m, "price", 0));
    printf("%s %lld %s of %s with %s at %s CNY/%s, %.1f km, score %.3f", id,
           (long long)wfc_get_int(m, "qty", 0), unit, code, other, price,
           strcmp(unit, "L") == 0 ? "m3" : "t", wfc_get_double(m, "km", 0),
           wfc_get_double(m, "score", 0));
    int64_t fee = wfc_get_int(m, "fee", 0);
    if (fee) {
        char fbuf[32];
        fmt_cny(fbuf, sizeof fbuf, fee);
        printf(", eco fee %s CNY/t", fbuf);
    }
    char mf[64];
    if (wfc_get_str(m, "manifest", mf, sizeof mf))
        printf(", manifest %s", mf);
    fputc('\n', stdout);
}

static int print_post(const msgpack_object *reply, bool we_offer)
{
    char id[64] = "?";
    wfc_get_str(reply, "id", id, sizeof id);
    int64_t rest = wfc_get_int(reply, "rest", 0);
    const msgpack_object *ms = wfc_get(reply, "matches");
    size_t n = ms && ms->type == MSGPACK_OBJECT_ARRAY ? ms->via.array.size : 0;
    if (rest > 0)
        printf("%s resting %lld kg\n", id, (long long)rest);
    else
        printf("%s filled\n", id);
    for (size_t i = 0; i < n; i++)
        print_match(&ms->via.array.ptr[i], we_offer);
    return 0;
}

/* ---- subcommands ---- */

/* Checks that only the options named in allowed (space-separated, with
 * spaces at both ends) were given. */
static bool only_opts(const char *cmd, const char *allowed)
{
    for (size_t i = 0; i < NOPTS; i++) {
        if (!opts[i].val)
            continue;
        char pat[40];
        snprintf(pat, sizeof pat, " %s ", opts[i].name);
        if (!strstr(global_opts, pat) && !strstr(allowed, pat)) {
            usage("%s does not take --%s", cmd, opts[i].name);
            return false;
        }
    }
    return true;
}

/* Adds the optional order fields given as options. Returns false on a bad
 * value (after printing the usage error). */
static bool add_order_opts(req_t *r)
{
    const char *lat = opt("lat"), *lon = opt("lon");
    double d;
    int64_t i;
    if (!!lat != !!lon) {
        usage("--lat and --lon go together");
        return false;
    }
    if (lat) {
        double la, lo;
        if (!parse_double(lat, &la) || !parse_double(lon, &lo)) {
            usage("--lat/--lon need numbers");
            return false;
        }
        add_double(r, "lat", la);
        add_double(r, "lon", lo);
    }
    if (opt("max-km")) {
        if (!parse_double(opt("max-km"), &d)) {
            usage("--max-km needs a number");
            return false;
        }
        add_double(r, "max_km", d);
    }
    static const struct { const char *o, *k; } ints[] = {
        {"min-credit", "min_credit"}, {"min-fill", "min_fill"}, {"expires", "expires"}};
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
        if (!opt(ints[k].o))
            continue;
        if (!parse_i64(opt(ints[k].o), &i)) {
            usage("--%s needs an integer", ints[k].o);
            return false;
        }
        add_int(r, ints[k].k, i);
    }
    return true;
}

#define ORDER_OPTS " lat lon max-km min-credit min-fill expires "

static int cmd_ping(int argc, char **argv)
{
    if (argc != 0 || !only_opts("ping", " "))
        return usage(argc ? "ping takes no arguments" : NULL);
    const msgpack_object *reply = call("ping", NULL);
    if (!reply_ok(reply))
        return EXIT_REPLY;
    if (!json_out) {
        int64_t now = wfc_get_int(reply, "now", 0);
        time_t t = (time_t)(now / 1000);
        struct tm tm;
        char buf[64] = "?";
        if (localtime_r(&t, &tm))
            strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
        printf("pong, server time %s.%03lld\n", buf, (long long)(now % 1000));
    }
    return 0;
}

static int cmd_post(const char *what, int argc, char **argv)
{
    bool offer = strcmp(what, "offer") == 0, take = strcmp(what, "take") == 0;
    int want = take ? 4 : 3;
    const char *allowed = offer ? ORDER_OPTS : take ? ORDER_OPTS : ORDER_OPTS "target ";
    if (argc != want)
        return usage(take ? "usage: take OFFER CODES QTY PRICE"
                          : offer ? "usage: offer CODE QTY PRICE [options]"
                                  : "usage: demand CODES QTY PRICE [options]");
    if (!only_opts(what, allowed))
        return EXIT_USAGE;
    int a = take ? 1 : 0;
    int64_t qty, price;
    if (!parse_i64(argv[a + 1], &qty))
        return usage("QTY must be an integer (kg): %s", argv[a + 1]);
    if (!parse_i64(argv[a + 2], &price))
        return usage("PRICE must be an integer (fen per tonne): %s", argv[a + 2]);
    req_t r = {0};
    if (offer)
        add_str(&r, "code", argv[a]);
    else
        add_list(&r, "codes", argv[a]);
    add_int(&r, "qty", qty);
    add_int(&r, "price", price);
    if (!add_order_opts(&r))
        return EXIT_USAGE;
    if (take)
        add_str(&r, "target", argv[0]);
    else if (opt("target"))
        add_str(&r, "target", opt("target"));
    const msgpack_object *reply = call(offer ? "offer.post" : "demand.post", &r);
    if (!reply_ok(reply))
        return EXIT_REPLY;
    if (!json_out)
        print_post(reply, offer);
    return 0;
}

static int cmd_cancel(int argc, char **argv)
{
    if (argc != 1)
        return usage("usage: cancel ID");
    if (!only_opts("cancel", " "))
        return EXIT_USAGE;
    req_t r = {0};
    add_str(&r, "id", argv[0]);
    const msgpack_object *reply = call("order.cancel", &r);
    if (!reply_ok(reply))
        return EXIT_REPLY;
    if (!json_out)
        printf("%s cancelled, %lld kg was resting\n", argv[0], (long long)wfc_get_int(reply, "rest", 0));
    return 0;
}

static int cmd_orders(int argc, char **argv)
{
    if (argc != 0)
        return usage("usage: orders [--all]");
    if (!only_opts("orders", " all "))
        return EXIT_USAGE;
    req_t r = {0};
    add_bool(&r, "live_only", opt("all") == NULL);
    const msgpack_object *reply = call("orders.mine", &r);
    if (!reply_ok(reply))
        return EXIT_REPLY;
    if (!json_out) {
        const msgpack_object *os = wfc_get(reply, "orders");
        size_t n = os && os->type == MSGPACK_OBJECT_ARRAY ? os->via.array.size : 0;
        for (size_t i = 0; i < n; i++)
            print_kv_line(&os->via.array.ptr[i]);
        if (n == 0)
            puts(opt("all") ? "no orders" : "no live orders");
    }
    return 0;
}

static int cmd_order(int argc, char **argv)
{
    if (argc != 1)
        return usage("usage: order ID");
    if (!only_opts("order", " "))
        return EXIT_USAGE;
    req_t r = {0};
    add_str(&r, "id", argv[0]);
    const msgpack_object *reply = call("order.get", &r);
    if (!reply_ok(reply))
        return EXIT_REPLY;
    if (!json_out) {
        const msgpack_object *o = wfc_get(reply, "order");
        print_fields(o ? o : reply, "");
    }
    return 0;
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* One readable line per stream message. */
static void print_stream(const msgpack_object *m)
{
    char type[32] = "?";
    wfc_get_str(m, "type", type, sizeof type);
    printf("#%lld %s", (long long)wfc_get_int(m, "seq", 0), type);
    if (strcmp(type, "match") == 0) {
        char id[64] = "?", side[32] = "", code[64] = "?", cp[64] = "?", cpn[256] = "", price[32];
        char mine[64] = "?", theirs[64] = "?";
        wfc_get_str(m, "id", id, sizeof id);
        wfc_get_str(m, "side", side, sizeof side);
        wfc_get_str(m, "code", code, sizeof code);
        wfc_get_str(m, "counterparty", cp, sizeof cp);
        wfc_get_str(m, "counterparty_name", cpn, sizeof cpn);
        bool sold = side[0] == 'o' || side[0] == 's' || side[0] == 'p';
        wfc_get_str(m, sold ? "offer" : "demand", mine, sizeof mine);
        wfc_get_str(m, sold ? "demand" : "offer", theirs, sizeof theirs);
        fmt_cny(price, sizeof price, wfc_get_int(m, "price", 0));
        printf(" %s: %s %lld kg of %s %s %s (%s) at %s CNY/t, %.1f km, %s against %s\n", id,
               sold ? "sold" : "bought", (long long)wfc_get_int(m, "qty", 0), code,
               sold ? "to" : "from", cpn[0] ? cpn : cp, cp, price, wfc_get_double(m, "km", 0), mine,
               theirs);
        return;
    }
    if (strcmp(type, "notify") == 0) {
        const msgpack_object *o = wfc_get(m, "order");
        char sub[32] = "?", id[64] = "?", side[16] = "", firm[32] = "?", what[128] = "?", price[32];
        wfc_get_str(m, "sub", sub, sizeof sub);
        if (o && o->type == MSGPACK_OBJECT_MAP) {
            wfc_get_str(o, "id", id, sizeof id);
            wfc_get_str(o, "side", side, sizeof side);
            wfc_get_str(o, "firm", firm, sizeof firm);
            if (!wfc_get_str(o, "code", what, sizeof what)) {
                const msgpack_object *cs = wfc_get(o, "codes");
                size_t w = 0;
                what[0] = '\0';
                for (uint32_t i = 0; cs && cs->type == MSGPACK_OBJECT_ARRAY && i < cs->via.array.size; i++) {
                    const msgpack_object *c = &cs->via.array.ptr[i];
                    if (c->type != MSGPACK_OBJECT_STR || w + c->via.str.size + 2 >= sizeof what)
                        break;
                    w += (size_t)snprintf(what + w, sizeof what - w, "%s%.*s", i ? "," : "",
                                          (int)c->via.str.size, c->via.str.ptr);
                }
            }
        }
        fmt_cny(price, sizeof price, o ? wfc_get_int(o, "price", 0) : 0);
        printf(" %s: %s %s %lld kg of %s at %s CNY/t from %s, %.1f km\n", sub, side, id,
               o ? (long long)wfc_get_int(o, "remaining", 0) : 0LL, what, price, firm,
               wfc_get_double(m, "km", 0));
        return;
    }
    if (strcmp(type, "credit") == 0) {
        char tier[8] = "?";
        wfc_get_str(m, "tier", tier, sizeof tier);
        printf(": score %lld, tier %s\n", (long long)wfc_get_int(m, "score", 0), tier);
        return;
    }
    fputc(' ', stdout);
    /* the rest, generically, without the two fields already shown */
    bool first = true;
    for (uint32_t i = 0; m->type == MSGPACK_OBJECT_MAP && i < m->via.map.size; i++) {
        const msgpack_object_kv *kv = &m->via.map.ptr[i];
        if (key_is(&kv->key, "seq") || key_is(&kv->key, "type"))
            continue;
        if (!first)
            fputc(' ', stdout);
        first = false;
        print_scalar(stdout, &kv->key);
        fputc('=', stdout);
        print_scalar(stdout, &kv->val);
    }
    fputc('\n', stdout);
}

static int cmd_watch(int argc, char **argv)
{
    if (argc != 0)
        return usage("usage: watch [--after SEQ]");
    if (!only_opts("watch", " after "))
        return EXIT_USAGE;
    req_t r = {0};
    if (opt("after")) {
        int64_t after;
        if (!parse_i64(opt("after"), &after) || after < 0)
            return usage("--after needs a sequence number");
        add_int(&r, "after_seq", after);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    const msgpack_object *reply = call("hello", &r);
    if (!reply_ok(reply))
        return EXIT_REPLY;
    if (!json_out)
        printf("watching %s, latest seq %lld (Ctrl-C to stop)\n",
               wfc_as(client)[0] ? wfc_as(client) : "(no firm)", (long long)wfc_get_int(reply, "seq", 0));
    fflush(stdout);
    while (!interrupted) {
        const msgpack_object *m;
        int rc = wfc_next(client, 500, &m);
        if (rc == 1)
            continue;
        if (rc < 0) {
            if (interrupted)
                break;
            fprintf(stderr, "wufei: watch: %s\n", wfc_error(client));
            return EXIT_TRANSPORT;
        }
        if (json_out) {
            wfc_print_json(stdout, m);
            fputc('\n', stdout);
        } else {
            print_stream(m);
        }
        fflush(stdout);
    }
    return 0;
}

static void print_time(int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char buf[32] = "?";
    if (gmtime_r(&t, &tm))
        strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    fputs(buf, stdout);
}

/* The firm's fields, then its credit panel: one line per dimension with
 * the sum of its active events, and each event under it. */
static void print_firm(const msgpack_object *f)
{
    for (uint32_t i = 0; i < f->via.map.size; i++) {
        const msgpack_object_kv *kv = &f->via.map.ptr[i];
        if (key_is(&kv->key, "events"))
            continue;
        print_scalar(stdout, &kv->key);
        fputs(":", stdout);
        if (kv->val.type == MSGPACK_OBJECT_ARRAY && kv->val.via.array.size > 0
            && kv->val.via.array.ptr[0].type == MSGPACK_OBJECT_MAP) { /* licences */
            fputc('\n', stdout);
            for (uint32_t j = 0; j < kv->val.via.array.size; j++) {
                fputs("  - ", stdout);
                print_kv_line(&kv->val.via.array.ptr[j]);
            }
            continue;
        }
        fputc(' ', stdout);
        print_scalar(stdout, &kv->val);
        fputc('\n', stdout);
    }
    const msgpack_object *ev = wfc_get(f, "events");
    if (!ev || ev->type != MSGPACK_OBJECT_MAP)
        return;
    static const struct { const char *kind, *label; } dims[] = {
        {"penalty", "administrative penalty"}, {"manifest", "manifest and ledger"},
        {"transport", "transport"},            {"discrepancy", "quantity discrepancy"},
        {"reporting", "data reporting"},       {"conduct", "trade conduct"},
    };
    printf("credit panel (active events):\n");
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
        const msgpack_object *k = wfc_get(ev, dims[d].kind);
        int64_t sum = k ? wfc_get_int(k, "sum", 0) : 0;
        const msgpack_object *list = k ? wfc_get(k, "list") : NULL;
        printf("  %-24s %+4lld\n", dims[d].label, (long long)sum);
        for (uint32_t j = 0; list && list->type == MSGPACK_OBJECT_ARRAY && j < list->via.array.size; j++) {
            const msgpack_object *e = &list->via.array.ptr[j];
            char note[256] = "";
            wfc_get_str(e, "note", note, sizeof note);
            printf("    %+4lld  ", (long long)wfc_get_int(e, "points", 0));
            print_time(wfc_get_int(e, "recorded", 0));
            fputs(" .. ", stdout);
            print_time(wfc_get_int(e, "expires", 0));
            printf("  %s\n", note);
        }
    }
}

static int cmd_sub(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[0], "del") == 0) {
        if (!only_opts("sub del", " "))
            return EXIT_USAGE;
        req_t r = {0};
        add_str(&r, "id", argv[1]);
        const msgpack_object *reply = call("sub.del", &r);
        if (!reply_ok(reply))
            return EXIT_REPLY;
        if (!json_out)
            printf("subscription %s deleted\n", argv[1]);
        return 0;
    }
    if (argc == 3 && strcmp(argv[0], "add") == 0) {
        if (!only_opts("sub add", " lat lon radius-km min-qty min-credit "))
            return EXIT_USAGE;
        if (strcmp(argv[1], "offers") != 0 && strcmp(argv[1], "demands") != 0)
            return usage("sub add: side is offers or demands, not %s", argv[1]);
        req_t r = {0};
        add_str(&r, "side", argv[1]);
        add_list(&r, "codes", argv[2]);
        const char *lat = opt("lat"), *lon = opt("lon");
        double la, lo, d;
        int64_t i;
        if (!!lat != !!lon)
            return usage("--lat and --lon go together");
        if (lat) {
            if (!parse_double(lat, &la) || !parse_double(lon, &lo))
                return usage("--lat/--lon need numbers");
            add_double(&r, "lat", la);
            add_double(&r, "lon", lo);
        }
        if (opt("radius-km")) {
            if (!parse_double(opt("radius-km"), &d))
                return usage("--radius-km needs a number");
            add_double(&r, "radius_km", d);
        }
        if (opt("min-qty")) {
            if (!parse_i64(opt("min-qty"), &i))
                return usage("--min-qty needs an integer (kg)");
            add_int(&r, "min_qty", i);
        }
        if (opt("min-credit")) {
            if (!parse_i64(opt("min-credit"), &i))
                return usage("--min-credit needs an integer");
            add_int(&r, "min_credit", i);
        }
        const msgpack_object *reply = call("sub.put", &r);
        if (!reply_ok(reply))
            return EXIT_REPLY;
        if (!json_out) {
            char id[64] = "?";
            wfc_get_str(reply, "id", id, sizeof id);
            printf("subscription %s to %s of %s\n", id, argv[1], argv[2]);
        }
        return 0;
    }
    return usage("usage: sub add offers|demands CODES [options] | sub del ID");
}

static int cmd_credit(int argc, char **argv)
{
    if (argc != 4)
        return usage("usage: credit FIRM KIND POINTS NOTE [--expires MS]");
    if (!only_opts("credit", " expires "))
        return EXIT_USAGE;
    int64_t points, expires;
    if (!parse_i64(argv[2], &points))
        return usage("POINTS must be a signed integer: %s", argv[2]);
    req_t r = {0};
    add_str(&r, "firm", argv[0]);
    add_str(&r, "kind", argv[1]);
    add_int(&r, "points", points);
    add_str(&r, "note", argv[3]);
    if (opt("expires")) {
        if (!parse_i64(opt("expires"), &expires))
            return usage("--expires needs unix milliseconds");
        add_int(&r, "expires", expires);
    }
    const msgpack_object *reply = call("credit.event", &r);
    if (!reply_ok(reply))
        return EXIT_REPLY;
    if (!json_out) {
        char tier[8] = "?";
        wfc_get_str(reply, "tier", tier, sizeof tier);
        printf("%s: score %lld, tier %s\n", argv[0], (long long)wfc_get_int(reply, "score", 0), tier);
    }
    return 0;
}

static int cmd_block(const char *cmd, int argc, char **argv)
{
    if (argc != 2)
        return usage("usage: %s FIRM NOTE", cmd);
    if (!only_opts(cmd, " "))
        return EXIT_USAGE;
    req_t r = {0};
    add_str(&r, "firm", argv[0]);
    add_str(&r, "note", argv[1]);
    bool on = strcmp(cmd, "block") == 0;
    const msgpack_object *reply = call(on ? "firm.block" : "firm.unblock", &r);
    if (!reply_ok(reply))
        return EXIT_REPLY;
    if (!json_out)
        printf("%s %s\n", argv[0], on ? "blacklisted" : "taken off the blacklist");
    return 0;
}

static int cmd_firm(int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "get") == 0) {
        if (argc != 2)
            return usage("usage: firm get ID");
        if (!only_opts("firm get", " "))
            return EXIT_USAGE;
        req_t r = {0};
        add_str(&r, "firm", argv[1]);
        const msgpack_object *reply = call("firm.get", &r);
        if (!reply_ok(reply))
            return EXIT_REPLY;
        if (!json_out) {
            const msgpack_object *f = wfc_get(reply, "firm");
            if (f && f->type == MSGPACK_OBJECT_MAP)
                print_firm(f);
            else
                print_fields(reply, "");
        }
        return 0;
    }
    if (argc >= 1 && strcmp(argv[0], "add") == 0) {
        if (argc != 3)
            return usage("usage: firm add ID NAME --roles R1,R2 --lat X --lon Y --county N");
        if (!only_opts("firm add", " roles lat lon county base-credit key "))
            return EXIT_USAGE;
        double lat, lon;
        int64_t county, credit;
        if (!opt("roles") || !*opt("roles"))
            return usage("firm add needs --roles");
        if (!parse_double(opt("lat"), &lat) || !parse_double(opt("lon"), &lon))
            return usage("firm add needs --lat and --lon");
        if (!parse_i64(opt("county"), &county))
            return usage("firm add needs --county (6-digit code)");
        req_t r = {0};
        add_str(&r, "firm", argv[1]);
        add_str(&r, "name", argv[2]);
        add_list(&r, "roles", opt("roles"));
        add_double(&r, "lat", lat);
        add_double(&r, "lon", lon);
        add_int(&r, "county", county);
        if (opt("base-credit")) {
            if (!parse_i64(opt("base-credit"), &credit))
                return usage("--base-credit needs an integer");
            add_int(&r, "base_credit", credit);
        }
        if (opt("key"))
            add_str(&r, "key", opt("key"));
        const msgpack_object *reply = call("firm.put", &r);
        if (!reply_ok(reply))
            return EXIT_REPLY;
        if (!json_out)
            printf("firm %s registered\n", argv[1]);
        return 0;
    }
    return usage("usage: firm add|get ...");
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* VALID_UNTIL: unix ms, or YYYY-MM-DD meaning valid through that whole day
 * in China Standard Time (until the next midnight, UTC+8). */
static bool parse_valid_until(const char *s, int64_t *out)
{
    if (parse_i64(s, out))
        return *out > 0;
    unsigned y, m, d;
    char tail;
    if (sscanf(s, "%4u-%2u-%2u%c", &y, &m, &d, &tail) != 3 || strlen(s) != 10 || m < 1 || m > 12 ||
        d < 1 || d > 31 || y < 1970)
        return false;
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[m - 1] || (m == 2 && d == 29 && !leap))
        return false;
    *out = (days_from_civil(y, m, d) + 1) * 86400000LL - 8LL * 3600000;
    return true;
}

/* CAPACITY: kg (or L), "30t" for tonnes. */
static bool parse_capacity(const char *s, int64_t *out)
{
    size_t n = s ? strlen(s) : 0;
    if (n > 1 && s[n - 1] == 't') {
        char buf[32];
        if (n >= sizeof buf)
            return false;
        memcpy(buf, s, n - 1);
        buf[n - 1] = '\0';
        if (!parse_i64(buf, out) || *out < 0 || *out > INT64_MAX / 1000)
            return false;
        *out *= 1000;
        return true;
    }
    return parse_i64(s, out) && *out >= 0;
}

static int cmd_licence(int argc, char **argv)
{
    if (argc != 5 || strcmp(argv[0], "add") != 0)
        return usage("usage: licence add FIRM CODES CAPACITY VALID_UNTIL");
    if (!only_opts("licence add", " "))
        return EXIT_USAGE;
    int64_t capacity, until;
    if (!parse_capacity(argv[3], &capacity))
        return usage("CAPACITY must be kg per calendar year (or tonnes with a t: 30t), not %s", argv[3]);
    if (!parse_valid_until(argv[4], &until))
        return usage("VALID_UNTIL must be unix ms or a date YYYY-MM-DD, not %s", argv[4]);
    req_t r = {0};
    add_str(&r, "firm", argv[1]);
    add_list(&r, "codes", argv[2]);
    add_int(&r, "capacity", capacity);
    add_int(&r, "valid_until", until);
    const msgpack_object *reply = call("licence.put", &r);
    if (!reply_ok(reply))
        return EXIT_REPLY;
    if (!json_out) {
        char id[32] = "?";
        wfc_get_str(reply, "id", id, sizeof id);
        printf("licence %s for %s: %s, %lld per year, valid until %lld\n", id, argv[1], argv[2],
               (long long)capacity, (long long)until);
    }
    return 0;
}

static int cmd_lane(int argc, char **argv)
{
    bool add = argc == 4 && strcmp(argv[0], "add") == 0;
    if (argc != 4 || (!add && strcmp(argv[0], "del") != 0))
        return usage("usage: lane add|del PRODUCER CONSUMER CODE");
    if (!only_opts(add ? "lane add" : "lane del", " "))
        return EXIT_USAGE;
    req_t r = {0};
    add_str(&r, "producer", argv[1]);
    add_str(&r, "consumer", argv[2]);
    add_str(&r, "code", argv[3]);
    const msgpack_object *reply = call(add ? "lane.put" : "lane.del", &r);
    if (!reply_ok(reply))
        return EXIT_REPLY;
    if (!json_out)
        printf("lane %s -> %s for %s %s\n", argv[1], argv[2], argv[3], add ? "approved" : "removed");
    return 0;
}

/* config.get: the settings, then the history when there is one. */
static void print_config(const msgpack_object *reply)
{
    const msgpack_object *c = wfc_get(reply, "config");
    if (c)
        print_fields(c, "");
    const msgpack_object *h = wfc_get(reply, "history");
    if (!h || h->type != MSGPACK_OBJECT_ARRAY)
        return;
    printf("history (newest first, %u change%s):\n", h->via.array.size,
           h->via.array.size == 1 ? "" : "s");
    for (uint32_t i = 0; i < h->via.array.size; i++) {
        const msgpack_object *e = &h->via.array.ptr[i];
        char by[64] = "?", when[32];
        wfc_get_str(e, "by", by, sizeof by);
        time_t t = (time_t)(wfc_get_int(e, "ts", 0) / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%SZ", &tm);
        printf("  #%lld %s by %s:", (long long)wfc_get_int(e, "seq", 0), when, by);
        const msgpack_object *ch = wfc_get(e, "changes");
        for (uint32_t j = 0; ch && ch->type == MSGPACK_OBJECT_MAP && j < ch->via.map.size; j++) {
            fputc(' ', stdout);
            print_scalar(stdout, &ch->via.map.ptr[j].key);
            fputc('=', stdout);
            print_scalar(stdout, &ch->via.map.ptr[j].val);
        }
        fputc('\n', stdout);
    }
    if (wfc_get_bool(reply, "history_truncated", false))
        printf("  (older changes not shown: %lld journal entries read back)\n",
               (long long)wfc_get_int(reply, "history_scanned", 0));
}

static int cmd_config(int argc, char **argv)
{
    if (argc == 1 && strcmp(argv[0], "get") == 0) {
        if (!only_opts("config get", " history "))
            return EXIT_USAGE;
        req_t r = {0};
        if (opt("history"))
            add_bool(&r, "history", true);
        const msgpack_object *reply = call("config.get", &r);
        if (!reply_ok(reply))
            return EXIT_REPLY;
        if (!json_out)
            print_config(reply);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[0], "set") == 0) {
        if (!only_opts("config set", " "))
            return EXIT_USAGE;
        req_t r = {0};
        for (int i = 1; i < argc; i++) {
            char *eq = strchr(argv[i], '=');
            if (!eq || eq == argv[i])
                return usage("config set takes KEY=VALUE, not %s", argv[i]);
            *eq = '\0';
            const char *key = argv[i], *val = eq + 1;
            int64_t iv;
            double dv;
            if (strcmp(val, "true") == 0 || strcmp(val, "false") == 0)
                add_bool(&r, key, val[0] == 't');
            else if (parse_i64(val, &iv))
                add_int(&r, key, iv);
            else if (parse_double(val, &dv))
                add_double(&r, key, dv);
            else
                add_str(&r, key, val);
        }
        const msgpack_object *reply = call("config.set", &r);
        if (!reply_ok(reply))
            return EXIT_REPLY;
        if (!json_out)
            puts("config updated");
        return 0;
    }
    return usage("usage: config get [--history] | config set KEY=VALUE...");
}

static void print_totals(const char *what, const msgpack_object *t)
{
    if (!t || t->type != MSGPACK_OBJECT_MAP)
        return;
    int64_t qty = wfc_get_int(t, "qty", 0);
    double tkm = wfc_get_double(t, "tonne_km", 0);
    printf("%-11s %12.3f t %14.1f t*km %8.2f km/t %12.1f kg CO2e  score %.1f\n", what,
           (double)qty / 1000.0, tkm, qty ? tkm / ((double)qty / 1000.0) : 0.0,
           wfc_get_double(t, "co2_kg", 0), wfc_get_double(t, "score", 0));
}

static int cmd_optimize(int argc, char **argv)
{
    if (argc != 0)
        return usage("usage: optimize [--goal score|tonne_km] [--codes C1,C2] [--apply]");
    if (!only_opts("optimize", " goal codes apply "))
        return EXIT_USAGE;
    req_t r = {0};
    if (opt("goal"))
        add_str(&r, "goal", opt("goal"));
    if (opt("codes"))
        add_list(&r, "codes", opt("codes"));
    if (opt("apply"))
        add_bool(&r, "apply", true);
    const msgpack_object *reply = call("optimize", &r);
    if (!reply_ok(reply))
        return EXIT_REPLY;
    if (json_out)
        return 0;
    char goal[16] = "score", bound[256] = "";
    wfc_get_str(reply, "goal", goal, sizeof goal);
    bool tkm_goal = strcmp(goal, "tonne_km") == 0;
    printf("optimal plan (goal %s) over %lld offers and %lld demands: %lld pairs%s\n", goal,
           (long long)wfc_get_int(reply, "offers", 0), (long long)wfc_get_int(reply, "demands", 0),
           (long long)wfc_get_int(reply, "npairs", 0),
           wfc_get_bool(reply, "applied", false) ? ", applied as matches" : "");
    const msgpack_object *ps = wfc_get(reply, "pairs");
    size_t n = ps && ps->type == MSGPACK_OBJECT_ARRAY ? ps->via.array.size : 0;
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *p = &ps->via.array.ptr[i];
        char o[32] = "?", d[32] = "?", code[32] = "?", m[32] = "";
        wfc_get_str(p, "offer", o, sizeof o);
        wfc_get_str(p, "demand", d, sizeof d);
        wfc_get_str(p, "code", code, sizeof code);
        wfc_get_str(p, "match", m, sizeof m);
        printf("  %-8s -> %-8s %-12s %10lld kg %8.1f km  score %.3f%s%s\n", o, d, code,
               (long long)wfc_get_int(p, "qty", 0), wfc_get_double(p, "km", 0),
               wfc_get_double(p, "score", 0), m[0] ? "  " : "", m);
    }
    if ((int64_t)n < wfc_get_int(reply, "npairs", 0))
        printf("  ... (%lld more pairs, in the totals)\n",
               (long long)(wfc_get_int(reply, "npairs", 0) - (int64_t)n));
    printf("%-11s %12.3f t %14.1f t*km %8.2f km/t %12.1f kg CO2e  score %.1f\n", "optimum",
           (double)wfc_get_int(reply, "qty", 0) / 1000.0, wfc_get_double(reply, "tonne_km", 0),
           wfc_get_int(reply, "qty", 0)
               ? wfc_get_double(reply, "tonne_km", 0) / ((double)wfc_get_int(reply, "qty", 0) / 1000.0)
               : 0.0,
           wfc_get_double(reply, "co2_kg", 0), wfc_get_double(reply, "score", 0));
    print_totals("continuous", wfc_get(reply, "continuous"));
    if (tkm_goal) {
        print_totals("optimum@eq", wfc_get(reply, "equal"));
        printf("continuous needs %.1f%% more tonne-km than the optimum moving the same quantity\n",
               wfc_get_double(reply, "gap_pct", 0));
    } else {
        printf("continuous reaches %.1f%% less total score than the optimum\n",
               wfc_get_double(reply, "gap_pct", 0));
    }
    if (wfc_get_str(reply, "bound", bound, sizeof bound) && bound[0])
        printf("bounded: %s\n", bound);
    return 0;
}

static int cmd_auction(int argc, char **argv)
{
    req_t r = {0};
    const char *op;
    if (argc == 3 && strcmp(argv[0], "set") == 0) {
        if (!only_opts("auction set", " goal "))
            return EXIT_USAGE;
        int64_t period;
        if (!parse_i64(argv[2], &period))
            return usage("PERIOD_MS must be an integer (milliseconds): %s", argv[2]);
        add_str(&r, "code", argv[1]);
        add_int(&r, "period_ms", period);
        if (opt("goal"))
            add_str(&r, "goal", opt("goal"));
        op = "auction.set";
    } else if (argc == 2 && strcmp(argv[0], "del") == 0) {
        if (!only_opts("auction del", " "))
            return EXIT_USAGE;
        add_str(&r, "code", argv[1]);
        op = "auction.del";
    } else {
        return usage("usage: auction set CODE PERIOD_MS [--goal G] | auction del CODE");
    }
    const msgpack_object *reply = call(op, &r);
    if (!reply_ok(reply))
        return EXIT_REPLY;
    if (json_out)
        return 0;
    const msgpack_object *as = wfc_get(reply, "auctions");
    size_t n = as && as->type == MSGPACK_OBJECT_ARRAY ? as->via.array.size : 0;
    printf("%zu call auction%s\n", n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        fputs("  - ", stdout);
        print_kv_line(&as->via.array.ptr[i]);
    }
    return 0;
}

/* `wufei keygen`: needs no daemon. */
static int cmd_keygen(int argc, char **argv)
{
    (void)argv;
    if (argc != 0)
        return usage("usage: keygen [--out PREFIX]");
    if (!only_opts("keygen", " out "))
        return EXIT_USAGE;
    const char *prefix = opt("out");
    if (prefix && !*prefix)
        return usage("--out needs a file prefix");
    char pub[41], sec[41], err[512];
    if (wfc_key_generate(prefix, pub, sec, err, sizeof err) != 0) {
        fprintf(stderr, "wufei: %s\n", err);
        return EXIT_REPLY;
    }
    if (json_out) {
        if (prefix)
            printf("{\"public\":\"%s\",\"public_file\":", pub);
        else
            printf("{\"public\":\"%s\",\"secret\":\"%s\"}\n", pub, sec);
        if (prefix) {
            char path[4200];
            msgpack_object o = {.type = MSGPACK_OBJECT_STR};
            snprintf(path, sizeof path, "%s.pub", prefix);
            o.via.str.ptr = path;
            o.via.str.size = (uint32_t)strlen(path);
            wfc_print_json(stdout, &o);
            fputs(",\"secret_file\":", stdout);
            snprintf(path, sizeof path, "%s.key", prefix);
            o.via.str.size = (uint32_t)strlen(path);
            wfc_print_json(stdout, &o);
            fputs("}\n", stdout);
        }
    } else if (prefix) {
        printf("public key %s\n", pub);
        printf("wrote %s.pub and %s.key (secret, mode 0600); register the public key with\n"
               "  wufei firm add ID NAME ... --key %s\n",
               prefix, prefix, pub);
    } else {
        printf("public %s\nsecret %s\n", pub, sec);
    }
    memset(sec, 0, sizeof sec);
    return 0;
}

/* A key given as z85 or as a file holding one. */
static bool key_arg(const char *what, const char *val, char out[41])
{
    uint8_t bin[32];
    char tmp[41];
    if (strlen(val) == 40) {
        memcpy(tmp, val, 41);
        if (zmq_z85_decode(bin, tmp)) {
            memcpy(out, val, 41);
            return true;
        }
    }
    char err[512];
    if (wfc_key_read(val, out, err, sizeof err) != 0) {
        fprintf(stderr, "wufei: %s: not a z85 key, and %s\n", what, err);
        return false;
    }
    return true;
}

/* Secure mode's keys from --keys/--db/WUFEI_KEYS, --key-file/WUFEI_KEY_FILE
 * and the direct options. Returns 0, or EXIT_USAGE after a message. */
static int resolve_keys(wfc_opts_t *o, char server[41], char secret[41])
{
    const char *dir = opt("keys") ? opt("keys") : opt("db") ? opt("db") : getenv("WUFEI_KEYS");
    const char *file = opt("key-file") ? opt("key-file") : getenv("WUFEI_KEY_FILE");
    if (dir && !*dir)
        dir = NULL;
    if (file && !*file)
        file = NULL;
    char path[4200], err[512];
    if (opt("server-key")) {
        if (!key_arg("--server-key", opt("server-key"), server))
            return EXIT_USAGE;
        o->server_key = server;
    } else if (dir) {
        snprintf(path, sizeof path, "%s/server.pub", dir);
        if (wfc_key_read(path, server, err, sizeof err) != 0) {
            fprintf(stderr, "wufei: %s (is %s wufeid's database directory in secure mode?)\n", err, dir);
            return EXIT_USAGE;
        }
        o->server_key = server;
    }
    if (opt("secret-key")) {
        if (!key_arg("--secret-key", opt("secret-key"), secret))
            return EXIT_USAGE;
        o->secret_key = secret;
    } else if (file || dir) {
        if (!file)
            snprintf(path, sizeof path, "%s/operator.key", dir);
        if (wfc_key_read(file ? file : path, secret, err, sizeof err) != 0) {
            fprintf(stderr, "wufei: %s\n", err);
            return EXIT_USAGE;
        }
        o->secret_key = secret;
    }
    o->public_key = opt("public-key");
    if ((o->secret_key || o->public_key) && !o->server_key)
        return usage("a key pair needs the server's key too (--server-key, or --keys DIR)");
    if (o->secret_key && wfc_key_public(o->secret_key, (char[41]){0}) != 0)
        return usage("the secret key is not a CURVE key");
    return 0;
}

/* ---- manifests ---- */

static void print_token_line(const msgpack_object *reply)
{
    char tok[WF_TOKEN_MAX] = "";
    if (wfc_get_str(reply, "token", tok, sizeof tok))
        printf("token: %s\n", tok);
}

static int manifest_step(const char *cmd, int argc, char **argv)
{
    req_t r = {0};
    const char *op;
    int64_t q = 0;
    char reason[512] = "";
    if (strcmp(cmd, "dispatch") == 0) {
        if (argc != 3)
            return usage("usage: dispatch MANIFEST CARRIER VEHICLE");
        op = "manifest.dispatch";
    } else if (strcmp(cmd, "load") == 0 || strcmp(cmd, "unload") == 0) {
        if (argc != 2)
            return usage("usage: %s MANIFEST QTY", cmd);
        if (!parse_i64(argv[1], &q))
            return usage("QTY must be an integer (kg): %s", argv[1]);
        op = cmd[0] == 'l' ? "manifest.load" : "manifest.unload";
    } else if (strcmp(cmd, "close") == 0) {
        if (argc != 1)
            return usage("usage: close MANIFEST");
        op = "manifest.close";
    } else {
        if (argc < 2)
            return usage("usage: cancel-manifest MANIFEST REASON...");
        for (int i = 1; i < argc; i++)
            snprintf(reason + strlen(reason), sizeof reason - strlen(reason), "%s%s", i > 1 ? " " : "",
                     argv[i]);
        op = "manifest.cancel";
    }
    if (!only_opts(cmd, " "))
        return EXIT_USAGE;
    add_str(&r, "id", argv[0]);
    if (strcmp(op, "manifest.dispatch") == 0) {
        add_str(&r, "carrier", argv[1]);
        add_str(&r, "vehicle", argv[2]);
    } else if (strcmp(op, "manifest.load") == 0 || strcmp(op, "manifest.unload") == 0) {
        add_int(&r, "qty", q);
    } else if (strcmp(op, "manifest.cancel") == 0) {
        add_str(&r, "reason", reason);
    }
    const msgpack_object *reply = call(op, &r);
    if (!reply_ok(reply))
        return EXIT_REPLY;
    if (!json_out) {
        static const char *const states[][2] = {{"manifest.dispatch", "DISPATCHED"},
            {"manifest.load", "LOADED"}, {"manifest.unload", "UNLOADED"},
            {"manifest.close", "CLOSED"}, {"manifest.cancel", "CANCELLED"}};
        for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
            if (strcmp(states[i][0], op) == 0)
                printf("%s %s\n", argv[0], states[i][1]);
        if (strcmp(op, "manifest.unload") == 0)
            printf("discrepancy: %s\n", wfc_get_bool(reply, "discrepancy", false) ? "yes" : "no");
        print_token_line(reply);
    }
    return 0;
}

static int cmd_manifest(int argc, char **argv)
{
    if (argc != 1)
        return usage("usage: manifest MANIFEST");
    if (!only_opts("manifest", " "))
        return EXIT_USAGE;
    req_t r = {0};
    add_str(&r, "id", argv[0]);
    const msgpack_object *reply = call("manifest.get", &r);
    if (!reply_ok(reply))
        return EXIT_REPLY;
    if (!json_out) {
        const msgpack_object *m = wfc_get(reply, "manifest");
        print_fields(m ? m : reply, "");
    }
    return 0;
}

static void print_hex(const char *label, const msgpack_object *bin)
{
    printf("%s", label);
    if (bin && bin->type == MSGPACK_OBJECT_BIN)
        for (uint32_t i = 0; i < bin->via.bin.size; i++)
            printf("%02x", (unsigned char)bin->via.bin.ptr[i]);
    else
        fputs("-", stdout);
    fputc('\n', stdout);
}

/* Asks the daemon for engine.key into pk; false (after a message) when it
 * cannot be had. */
static bool fetch_key(uint8_t pk[32])
{
    const msgpack_object *reply = call("engine.key", NULL);
    if (!reply_ok(reply))
        return false;
    const msgpack_object *k = wfc_get(reply, "key");
    if (!k || k->type != MSGPACK_OBJECT_BIN || k->via.bin.size != 32) {
        fputs("wufei: engine.key: the reply has no 32-byte key\n", stderr);
        return false;
    }
    memcpy(pk, k->via.bin.ptr, 32);
    return true;
}

static int cmd_key(int argc, char **argv)
{
    if (argc != 0 || !only_opts("key", " "))
        return usage(argc ? "key takes no arguments" : NULL);
    uint8_t pk[32];
    if (!fetch_key(pk))
        return EXIT_REPLY;
    if (!json_out) {
        char hex[65], b64[64];
        sodium_bin2hex(hex, sizeof hex, pk, 32);
        sodium_bin2base64(b64, sizeof b64, pk, 32, sodium_base64_VARIANT_ORIGINAL);
        printf("hex:    %s\nbase64: %s\n", hex, b64);
    }
    return 0;
}

static int cmd_journal_head(int argc, char **argv)
{
    if (argc != 0 || !only_opts("journal-head", " "))
        return usage(argc ? "journal-head takes no arguments" : NULL);
    const msgpack_object *reply = call("journal.head", NULL);
    if (!reply_ok(reply))
        return EXIT_REPLY;
    if (!json_out) {
        printf("seq:  %lld\n", (long long)wfc_get_int(reply, "seq", 0));
        print_hex("hash: ", wfc_get(reply, "hash"));
        print_hex("sig:  ", wfc_get(reply, "sig"));
    }
    return 0;
}

/* ---- offline commands ---- */

/* A 32-byte key from 64 hex digits or base64 (standard or URL-safe,
 * padded or not). */
static bool parse_key(const char *s, uint8_t pk[32])
{
    size_t n = strlen(s), bin = 0;
    if (n == 64)
        return sodium_hex2bin(pk, 32, s, n, NULL, &bin, NULL) == 0 && bin == 32;
    static const int variants[] = {sodium_base64_VARIANT_ORIGINAL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
                                   sodium_base64_VARIANT_URLSAFE, sodium_base64_VARIANT_URLSAFE_NO_PADDING};
    for (size_t i = 0; i < 4; i++)
        if (sodium_base642bin(pk, 32, s, n, NULL, &bin, NULL, variants[i]) == 0 && bin == 32)
            return true;
    return false;
}

static bool read_pub(const char *dir, uint8_t pk[32])
{
    char path[4200], buf[128] = "";
    snprintf(path, sizeof path, "%s/sign.pub", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "wufei: cannot read %s: %s\n", path, strerror(errno));
        return false;
    }
    if (!fgets(buf, sizeof buf, f))
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!parse_key(buf, pk)) {
        fprintf(stderr, "wufei: %s holds no Ed25519 public key\n", path);
        return false;
    }
    return true;
}

static void print_instant(int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char buf[64] = "?";
    if (gmtime_r(&t, &tm))
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    printf("%s.%03lldZ (%lld)", buf, (long long)(ms % 1000), (long long)ms);
}

static int cmd_verify(int argc, char **argv)
{
    if (argc != 1)
        return usage("usage: verify TOKEN [--key KEY | --db DIR]");
    if (!only_opts("verify", " key db "))
        return EXIT_USAGE;
    if (opt("key") && opt("db"))
        return usage("verify takes --key or --db, not both");
    uint8_t pk[32];
    if (opt("key")) {
        if (!parse_key(opt("key"), pk))
            return usage("--key needs 64 hex digits or the base64 of 32 bytes");
    } else if (opt("db")) {
        if (!read_pub(opt("db"), pk))
            return EXIT_REPLY;
    } else if (!client || !fetch_key(pk)) {
        return EXIT_REPLY;
    }
    wf_token_t t;
    int rc = wf_token_check(pk, argv[0], &t);
    if (rc != 0) {
        fprintf(stderr, "wufei: INVALID token: %s\n",
                rc == WF_E_AUTH ? "the signature does not verify with this key (altered, or another engine's)"
                         : "malformed (not WF1.<payload>.<signature> with a manifest payload)");
        if (!json_out)
            puts("INVALID");
        return EXIT_REPLY;
    }
    if (json_out) {
        printf("{\"valid\":true,\"m\":\"%s\",\"s\":\"%s\",\"q\":%lld,\"c\":\"%s\",\"p\":\"%s\",\"r\":\"%s\",\"t\":%lld}\n",
               t.m, t.s, (long long)t.q, t.c, t.p, t.r, (long long)t.t);
        return 0;
    }
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, pk, 32);
    printf("VALID: signed by engine key %s\n", hex);
    printf("manifest  %s\nstate     %s\nqty       %lld\ncode      %s\nproducer  %s\nreceiver  %s\ntime      ",
           t.m, t.s, (long long)t.q, t.c, t.p, t.r);
    print_instant(t.t);
    fputc('\n', stdout);
    return 0;
}

static int cmd_qr(int argc, char **argv)
{
    if (argc != 1)
        return usage("usage: qr TOKEN [--png FILE]");
    if (!only_opts("qr", " png "))
        return EXIT_USAGE;
    char err[256];
    if (opt("png")) {
        if (!*opt("png"))
            return usage("--png needs a file name");
        if (wf_qr_png(opt("png"), argv[0], 8, err, sizeof err) != 0) {
            fprintf(stderr, "wufei: %s\n", err);
            return EXIT_REPLY;
        }
        printf("wrote %s\n", opt("png"));
        return 0;
    }
    if (wf_qr_print(stdout, argv[0], err, sizeof err) != 0) {
        fprintf(stderr, "wufei: %s\n", err);
        return EXIT_REPLY;
    }
    return 0;
}

static int cmd_audit(int argc, char **argv)
{
    if (argc != 0 || !opt("db"))
        return usage("usage: audit --db DIR");
    if (!only_opts("audit", " db "))
        return EXIT_USAGE;
    wf_audit_report_t rep;
    char err[512];
    if (wf_journal_audit(opt("db"), &rep, err, sizeof err) != 0) {
        fprintf(stderr, "wufei: audit: %s\n", err);
        return EXIT_REPLY;
    }
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, rep.head_hash, 32);
    printf("journal: %llu entries, last seq %llu\n", (unsigned long long)rep.entries,
           (unsigned long long)rep.last_seq);
    if (rep.nbad)
        printf("chain: BROKEN at entry %llu (%llu entries do not hold)\n", (unsigned long long)rep.first_bad,
               (unsigned long long)rep.nbad);
    else
        printf("chain: intact\n");
    if (rep.head_present)
        printf("signed head: seq %llu hash %s, signature %s, %s\n", (unsigned long long)rep.head_seq, hex,
               rep.head_sig_ok ? "valid (sign.pub)" : "INVALID", rep.head_matches ? "matches the chain"
                                                                                : "DOES NOT match the chain");
    else
        printf("signed head: none\n");
    if (!rep.ok) {
        printf("AUDIT FAILED: %s\n", rep.problem);
        return EXIT_REPLY;
    }
    puts("audit ok");
    return 0;
}

#define MAX_SETS 32
static const char *sets[MAX_SETS]; /* the --set KEY=VALUE options, in order */
static size_t nsets;

/* YYYY-MM-DD as the unix ms of that day's start in China Standard Time. */
static bool parse_cst_day(const char *s, int64_t *out)
{
    int y, m, d;
    char tail;
    if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12 || d < 1 || d > 31)
        return false;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return false;
    *out = ((int64_t)t - 8 * 3600) * 1000;
    return true;
}

static double pct(int64_t part, int64_t whole)
{
    return whole > 0 ? 100.0 * (double)part / (double)whole : 0.0;
}

static void json_figures(const char *name, const wf_whatif_figures_t *f)
{
    printf("\"%s\":{\"matches\":%llu,\"tonnes\":%.3f,\"tonne_km\":%.3f,\"tier_tonnes\":{", name,
           (unsigned long long)f->matches, (double)f->qty / 1000.0, f->tonne_km);
    for (int t = 0; t < 4; t++)
        printf("%s\"%c\":%.3f", t ? "," : "", 'A' + t, (double)f->tier_qty[t] / 1000.0);
    printf("},\"tier_share_pct\":{");
    for (int t = 0; t < 4; t++)
        printf("%s\"%c\":%.2f", t ? "," : "", 'A' + t, pct(f->tier_qty[t], f->qty));
    printf("},\"notified_orders\":%llu,\"first_notify_pct\":{", (unsigned long long)f->notified);
    for (int t = 0; t < 4; t++)
        printf("%s\"%c\":%.2f", t ? "," : "", 'A' + t,
               pct((int64_t)f->first_tier[t], (int64_t)f->notified));
    printf("},\"waits\":%llu,\"wait_p50_ms\":%lld,\"refused\":%llu,\"timer_ticks\":%llu}",
           (unsigned long long)f->waits, (long long)f->wait_p50_ms,
           (unsigned long long)f->refused, (unsigned long long)f->timer_ticks);
}

static void json_firms(const char *name, const wf_whatif_firm_t *f, size_t n)
{
    printf("\"%s\":[", name);
    for (size_t i = 0; i < n; i++)
        printf("%s{\"firm\":\"%s\",\"real_t\":%.3f,\"whatif_t\":%.3f,\"delta_t\":%.3f}",
               i ? "," : "", f[i].id, (double)f[i].real_qty / 1000.0,
               (double)f[i].whatif_qty / 1000.0, (double)f[i].delta / 1000.0);
    printf("]");
}

/* One row of the side-by-side table; fmt is "%.Nf". */
static void row_num(const char *what, double a, double b, const char *fmt)
{
    char x[32], y[32], d[32], signed_fmt[16];
    snprintf(signed_fmt, sizeof signed_fmt, "%%+%s", fmt + 1);
    snprintf(x, sizeof x, fmt, a);
    snprintf(y, sizeof y, fmt, b);
    snprintf(d, sizeof d, signed_fmt, b - a);
    printf("%-30s %16s %16s %16s\n", what, x, y, d);
}

/* The catalogue an offline replay loads: --catalogue, else the installed
 * one beside this binary's prefix, else the engine's built-in default (NULL).
 * It must be the one the daemon ran with, or the replay refuses codes. */
static const char *replay_catalogue(char *path, size_t len)
{
    if (opt("catalogue"))
        return opt("catalogue");
    return wf_exe_relative_file(WUFEI_CATALOGUE_FROM_BIN, path, len) ? path : NULL;
}

static int cmd_replay(int argc, char **argv)
{
    (void)argv;
    if (argc != 0 || !opt("db"))
        return usage("usage: replay --db DIR [--set KEY=VALUE]... [--from SEQ | --from-time "
                     "YYYY-MM-DD] [--to SEQ | --to-time YYYY-MM-DD] [--json]");
    if (!only_opts("replay", " db set from to from-time to-time catalogue catalogue-add "))
        return EXIT_USAGE;
    wf_whatif_opts_t o;
    memset(&o, 0, sizeof o);
    o.dir = opt("db");
    char catpath[4096];
    o.catalogue = replay_catalogue(catpath, sizeof catpath);
    o.catalogue_add = opt("catalogue-add");
    char err[512], desc[600] = "";
    for (size_t i = 0; i < nsets; i++) {
        char kv[128];
        snprintf(kv, sizeof kv, "%s", sets[i]);
        char *eq = strchr(kv, '=');
        if (!eq || eq == kv)
            return usage("--set takes KEY=VALUE, not %s", sets[i]);
        *eq = '\0';
        if (wf_config_parse(kv, eq + 1, &o.set, &o.values, err, sizeof err) != 0)
            return usage("--set %s", err);
    }
    wf_config_format(&o.values, o.set, " ", desc, sizeof desc);
    if (opt("from") && opt("from-time"))
        return usage("give --from or --from-time, not both");
    if (opt("to") && opt("to-time"))
        return usage("give --to or --to-time, not both");
    int64_t v;
    if (opt("from")) {
        if (!parse_i64(opt("from"), &v) || v < 1)
            return usage("--from needs a journal seq (1 or more)");
        o.from_seq = (uint64_t)v;
    }
    if (opt("to")) {
        if (!parse_i64(opt("to"), &v) || v < 1)
            return usage("--to needs a journal seq (1 or more)");
        o.to_seq = (uint64_t)v;
    }
    if (opt("from-time") && !parse_cst_day(opt("from-time"), &o.from_ts))
        return usage("--from-time needs YYYY-MM-DD");
    if (opt("to-time")) {
        if (!parse_cst_day(opt("to-time"), &o.to_ts))
            return usage("--to-time needs YYYY-MM-DD");
        o.to_ts += 86400000LL; /* through the end of that day */
    }
    wf_whatif_report_t *rep = malloc(sizeof *rep);
    if (!rep)
        return EXIT_TRANSPORT;
    if (wf_engine_whatif(&o, rep, err, sizeof err) != 0) {
        fprintf(stderr, "wufei: replay: %s\n", err);
        free(rep);
        return EXIT_REPLY;
    }
    const wf_whatif_figures_t *a = &rep->real, *b = &rep->whatif;
    if (json_out) {
        printf("{\"settings\":\"%s\",\"entries\":%llu,\"window\":{\"first_seq\":%llu,"
               "\"last_seq\":%llu,\"first_ts\":%lld,\"last_ts\":%lld,\"entries\":%llu},",
               desc, (unsigned long long)rep->entries, (unsigned long long)rep->first_seq,
               (unsigned long long)rep->last_seq, (long long)rep->first_ts,
               (long long)rep->last_ts, (unsigned long long)rep->window_entries);
        json_figures("real", a);
        putchar(',');
        json_figures("whatif", b);
        putchar(',');
        json_firms("gainers", rep->gainers, rep->ngainers);
        putchar(',');
        json_firms("losers", rep->losers, rep->nlosers);
        printf(",\"changed_pairs\":%llu,\"changes\":[", (unsigned long long)rep->nchanges);
        for (size_t i = 0; i < rep->nlisted; i++) {
            const wf_whatif_change_t *c = &rep->changes[i];
            printf("%s{\"offer\":\"O%llu\",\"demand\":\"D%llu\",\"producer\":\"%s\","
                   "\"consumer\":\"%s\",\"real\":%lld,\"whatif\":%lld}",
                   i ? "," : "", (unsigned long long)c->offer, (unsigned long long)c->demand,
                   c->producer, c->consumer, (long long)c->real_qty, (long long)c->whatif_qty);
        }
        printf("],\"seconds\":%.3f}\n", rep->seconds);
        free(rep);
        return 0;
    }
    printf("replayed %llu journal entries in %.3f s; window: entries %llu..%llu (%llu)\n",
           (unsigned long long)rep->entries, rep->seconds, (unsigned long long)rep->first_seq,
           (unsigned long long)rep->last_seq, (unsigned long long)rep->window_entries);
    printf("what-if settings: %s\n\n", desc[0] ? desc : "(none: both runs are the real one)");
    printf("%-30s %16s %16s %16s\n", "", "as it happened", "what-if", "difference");
    row_num("matches", (double)a->matches, (double)b->matches, "%.0f");
    row_num("tonnes", (double)a->qty / 1000.0, (double)b->qty / 1000.0, "%.3f");
    row_num("tonne-km", a->tonne_km, b->tonne_km, "%.1f");
    for (int t = 0; t < 4; t++) {
        char what[64];
        snprintf(what, sizeof what, "matched share tier %c (%%)", 'A' + t);
        row_num(what, pct(a->tier_qty[t], a->qty), pct(b->tier_qty[t], b->qty), "%.1f");
    }
    row_num("notified orders", (double)a->notified, (double)b->notified, "%.0f");
    for (int t = 0; t < 4; t++) {
        char what[64];
        snprintf(what, sizeof what, "first notified tier %c (%%)", 'A' + t);
        row_num(what, pct((int64_t)a->first_tier[t], (int64_t)a->notified),
                pct((int64_t)b->first_tier[t], (int64_t)b->notified), "%.1f");
    }
    row_num("median time to match (s)", (double)a->wait_p50_ms / 1000.0,
            (double)b->wait_p50_ms / 1000.0, "%.3f");
    printf("\nwhat-if run: %llu journal entries refused, %llu timer ticks of its own\n",
           (unsigned long long)b->refused, (unsigned long long)b->timer_ticks);
    if (rep->ngainers || rep->nlosers) {
        printf("\n%-20s %14s %14s %14s\n", "firm", "real t", "what-if t", "difference t");
        for (size_t i = 0; i < rep->ngainers; i++)
            printf("%-20s %14.3f %14.3f %+14.3f  gains\n", rep->gainers[i].id,
                   (double)rep->gainers[i].real_qty / 1000.0,
                   (double)rep->gainers[i].whatif_qty / 1000.0, (double)rep->gainers[i].delta / 1000.0);
        for (size_t i = 0; i < rep->nlosers; i++)
            printf("%-20s %14.3f %14.3f %+14.3f  loses\n", rep->losers[i].id,
                   (double)rep->losers[i].real_qty / 1000.0,
                   (double)rep->losers[i].whatif_qty / 1000.0, (double)rep->losers[i].delta / 1000.0);
    }
    if (rep->nchanges) {
        printf("\n%llu offer-demand pair%s matched differently:\n", (unsigned long long)rep->nchanges,
               rep->nchanges == 1 ? "" : "s");
        for (size_t i = 0; i < rep->nlisted; i++) {
            const wf_whatif_change_t *c = &rep->changes[i];
            printf("  O%llu %s -> D%llu %s: %lld -> %lld\n", (unsigned long long)c->offer,
                   c->producer, (unsigned long long)c->demand, c->consumer, (long long)c->real_qty,
                   (long long)c->whatif_qty);
        }
    } else {
        puts("\nno match differs");
    }
    free(rep);
    return 0;
}

static int cmd_replay_check(int argc, char **argv)
{
    if (argc != 0 || !opt("db"))
        return usage("usage: replay-check --db DIR [--catalogue FILE] [--catalogue-add FILE]");
    if (!only_opts("replay-check", " db catalogue catalogue-add "))
        return EXIT_USAGE;
    wf_replay_report_t rep;
    char err[512], catpath[4096];
    const char *cat = replay_catalogue(catpath, sizeof catpath);
    if (wf_engine_replay_with(opt("db"), cat, opt("catalogue-add"), NULL, &rep, err, sizeof err) !=
        0) {
        fprintf(stderr, "wufei: replay-check: %s\n", err);
        return EXIT_REPLY;
    }
    char a[65], b[65];
    sodium_bin2hex(a, sizeof a, rep.live, 32);
    sodium_bin2hex(b, sizeof b, rep.replayed, 32);
    printf("replayed %llu journal entries in %.3f s\nlive state     %s\nreplayed state %s\n",
           (unsigned long long)rep.entries, rep.seconds, a, b);
    if (!rep.equal) {
        printf("REPLAY DIFFERS: %s\n", rep.problem);
        return EXIT_REPLY;
    }
    puts("replay ok: the journal reproduces the live state");
    return 0;
}

static void print_row(const msgpack_object *r, const char *key)
{
    char name[64] = "?";
    wfc_get_str(r, key, name, sizeof name);
    printf("  %-14s %6lld %12.3f %6lld %12.3f %8lld %12.3f %12.1f\n", name,
           (long long)wfc_get_int(r, "offers", 0), (double)wfc_get_int(r, "offer_qty", 0) / 1000.0,
           (long long)wfc_get_int(r, "demands", 0), (double)wfc_get_int(r, "demand_qty", 0) / 1000.0,
           (long long)wfc_get_int(r, "matches", 0), wfc_get_double(r, "tonnes", 0),
           wfc_get_double(r, "tonne_km", 0));
}

static void print_rows(const msgpack_object *list, const char *key)
{
    printf("  %-14s %6s %12s %6s %12s %8s %12s %12s\n", key, "offers", "offer t", "dmnds", "demand t",
           "matches", "matched t", "tonne-km");
    for (uint32_t i = 0; list && list->type == MSGPACK_OBJECT_ARRAY && i < list->via.array.size; i++)
        print_row(&list->via.array.ptr[i], key);
}

static int cmd_stats(int argc, char **argv)
{
    (void)argv;
    if (argc != 0)
        return usage("stats takes no arguments");
    if (!only_opts("stats", " top days "))
        return EXIT_USAGE;
    req_t r = {0};
    int64_t v;
    if (opt("top")) {
        if (!parse_i64(opt("top"), &v))
            return usage("--top needs an integer");
        add_int(&r, "top", v);
    }
    if (opt("days")) {
        if (!parse_i64(opt("days"), &v))
            return usage("--days needs an integer");
        add_int(&r, "days", v);
    }
    const msgpack_object *reply = call("stats", &r);
    if (!reply_ok(reply))
        return EXIT_REPLY;
    if (json_out)
        return 0;
    const msgpack_object *st = wfc_get(reply, "stats");
    if (!st || st->type != MSGPACK_OBJECT_MAP) {
        print_fields(reply, "");
        return 0;
    }
    const msgpack_object *tot = wfc_get(st, "total");
    printf("market at journal seq %lld\n", (long long)wfc_get_int(st, "journal_seq", 0));
    if (tot) {
        printf("  live: %lld offers (%.3f t), %lld demands (%.3f t)\n", (long long)wfc_get_int(tot, "offers", 0),
               (double)wfc_get_int(tot, "offer_qty", 0) / 1000.0, (long long)wfc_get_int(tot, "demands", 0),
               (double)wfc_get_int(tot, "demand_qty", 0) / 1000.0);
        printf("  matched: %lld matches, %.3f t, %.1f tonne-km, about %.1f kg CO2e (at %.3g kg/tkm)\n",
               (long long)wfc_get_int(tot, "matches", 0), wfc_get_double(tot, "tonnes", 0),
               wfc_get_double(tot, "tonne_km", 0), wfc_get_double(st, "co2_kg", 0),
               wfc_get_double(st, "co2_per_tkm", 0));
    }
    const msgpack_object *tm = wfc_get(st, "time_to_match");
    if (tm)
        printf("  time to match: median %.1f s, p90 %.1f s over %lld fills\n",
               (double)wfc_get_int(tm, "p50_ms", 0) / 1000.0, (double)wfc_get_int(tm, "p90_ms", 0) / 1000.0,
               (long long)wfc_get_int(tm, "count", 0));
    printf("by class:\n");
    print_rows(wfc_get(st, "classes"), "class");
    printf("busiest codes:\n");
    print_rows(wfc_get(st, "codes"), "code");
    const msgpack_object *days = wfc_get(st, "days");
    printf("matches per day (CST):\n");
    for (uint32_t i = 0; days && days->type == MSGPACK_OBJECT_ARRAY && i < days->via.array.size; i++) {
        const msgpack_object *d = &days->via.array.ptr[i];
        char day[16] = "?";
        wfc_get_str(d, "day", day, sizeof day);
        printf("  %s %6lld matches %12.3f t %12.1f tonne-km\n", day, (long long)wfc_get_int(d, "matches", 0),
               wfc_get_double(d, "tonnes", 0), wfc_get_double(d, "tonne_km", 0));
    }
    const msgpack_object *m = wfc_get(st, "manifests");
    if (m)
        printf("manifests: OPEN %lld, DISPATCHED %lld, LOADED %lld, UNLOADED %lld, CLOSED %lld, CANCELLED %lld\n",
               (long long)wfc_get_int(m, "OPEN", 0), (long long)wfc_get_int(m, "DISPATCHED", 0),
               (long long)wfc_get_int(m, "LOADED", 0), (long long)wfc_get_int(m, "UNLOADED", 0),
               (long long)wfc_get_int(m, "CLOSED", 0), (long long)wfc_get_int(m, "CANCELLED", 0));
    const msgpack_object *c = wfc_get(st, "credit");
    if (c)
        printf("credit tiers: A %lld, B %lld, C %lld, D %lld (%lld firms, %lld blocked)\n",
               (long long)wfc_get_int(c, "A", 0), (long long)wfc_get_int(c, "B", 0),
               (long long)wfc_get_int(c, "C", 0), (long long)wfc_get_int(c, "D", 0),
               (long long)wfc_get_int(c, "firms", 0), (long long)wfc_get_int(c, "blocked", 0));
    const msgpack_object *l = wfc_get(st, "latency");
    if (l)
        printf("request latency: p50 %lld us, p90 %lld us, p99 %lld us, max %lld us over %lld requests; "
               "%lld batches, mean size %.1f\n",
               (long long)wfc_get_int(l, "p50_us", 0), (long long)wfc_get_int(l, "p90_us", 0),
               (long long)wfc_get_int(l, "p99_us", 0), (long long)wfc_get_int(l, "max_us", 0),
               (long long)wfc_get_int(l, "requests", 0), (long long)wfc_get_int(l, "batches", 0),
               wfc_get_double(l, "batch_size_mean", 0));
    return 0;
}

int main(int argc, char **argv)
{
    char *pos[64];
    int npos = 0;
    bool opts_done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!opts_done && strcmp(a, "--") == 0) {
            opts_done = true;
            continue;
        }
        if (!opts_done && a[0] == '-' && a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
            opt_t *o = NULL;
            for (size_t k = 0; k < NOPTS; k++)
                if (strlen(opts[k].name) == nlen && strncmp(opts[k].name, name, nlen) == 0)
                    o = &opts[k];
            if (!o)
                return usage("unknown option %s", a);
            if (o->takes_arg) {
                if (eq)
                    o->val = eq + 1;
                else if (i + 1 < argc)
                    o->val = argv[++i];
                else
                    return usage("--%s needs a value", o->name);
                if (strcmp(o->name, "set") == 0) { /* the one option that repeats */
                    if (nsets == MAX_SETS)
                        return usage("too many --set");
                    sets[nsets++] = o->val;
                }
            } else {
                if (eq)
                    return usage("--%s takes no value", o->name);
                o->val = "";
            }
            continue;
        }
        if (!opts_done && a[0] == '-' && a[1] != '\0' && !(a[1] >= '0' && a[1] <= '9') && a[1] != '.')
            return usage("unknown option %s", a);
        if (npos == (int)(sizeof pos / sizeof pos[0]))
            return usage("too many arguments");
        pos[npos++] = argv[i];
    }
    if (opt("help")) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (opt("version")) {
        printf("wufei %s\n", WUFEI_VERSION);
        return 0;
    }
    if (npos == 0) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    json_out = opt("json") != NULL;

    wfc_opts_t o = {0};
    o.endpoint = opt("endpoint") ? opt("endpoint") : getenv("WUFEI_ENDPOINT");
    if (o.endpoint && !*o.endpoint)
        o.endpoint = NULL;
    o.as = opt("as") ? opt("as") : getenv("WUFEI_AS");
    if (o.as && !*o.as)
        o.as = NULL;
    if (opt("timeout")) {
        int64_t t;
        if (!parse_i64(opt("timeout"), &t) || t <= 0 || t > 3600000)
            return usage("--timeout needs milliseconds");
        o.timeout_ms = (int)t;
    }
    const char *cmd = pos[0];
    if (strcmp(cmd, "keygen") == 0)
        return cmd_keygen(npos - 1, pos + 1);
    if (sodium_init() < 0) {
        fputs("wufei: libsodium failed to initialise\n", stderr);
        return EXIT_TRANSPORT;
    }
    /* offline commands: no connection, no keys (verify asks the daemon only for a key) */
    if (strcmp(cmd, "qr") == 0)
        return cmd_qr(npos - 1, pos + 1);
    if (strcmp(cmd, "audit") == 0)
        return cmd_audit(npos - 1, pos + 1);
    if (strcmp(cmd, "replay-check") == 0)
        return cmd_replay_check(npos - 1, pos + 1);
    if (strcmp(cmd, "replay") == 0)
        return cmd_replay(npos - 1, pos + 1);
    if (strcmp(cmd, "verify") == 0 && (opt("key") || opt("db")))
        return cmd_verify(npos - 1, pos + 1);
    char server_key[41], secret_key[41];
    int krc = resolve_keys(&o, server_key, secret_key);
    if (krc != 0)
        return krc;

    static const char *const known[] = {"ping", "offer", "demand", "take", "cancel", "orders",
                                        "order", "watch", "firm", "config", "licence", "lane",
                                        "optimize", "auction", "sub", "credit", "block", "unblock",
                                        "dispatch", "load", "unload", "close", "cancel-manifest",
                                        "manifest", "key", "journal-head", "verify", "stats"};
    bool ok = false;
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++)
        ok |= strcmp(cmd, known[k]) == 0;
    if (!ok)
        return usage("unknown command %s", cmd);

    client = wfc_new(&o);
    if (!client) {
        fprintf(stderr, "wufei: cannot open a connection to %s (bad endpoint or key?)\n",
                o.endpoint ? o.endpoint : "tcp://127.0.0.1:5570");
        return EXIT_TRANSPORT;
    }
    int sub_argc = npos - 1;
    char **sub_argv = pos + 1;
    int rc;
    if (strcmp(cmd, "ping") == 0)
        rc = cmd_ping(sub_argc, sub_argv);
    else if (strcmp(cmd, "offer") == 0 || strcmp(cmd, "demand") == 0 || strcmp(cmd, "take") == 0)
        rc = cmd_post(cmd, sub_argc, sub_argv);
    else if (strcmp(cmd, "cancel") == 0)
        rc = cmd_cancel(sub_argc, sub_argv);
    else if (strcmp(cmd, "orders") == 0)
        rc = cmd_orders(sub_argc, sub_argv);
    else if (strcmp(cmd, "order") == 0)
        rc = cmd_order(sub_argc, sub_argv);
    else if (strcmp(cmd, "watch") == 0)
        rc = cmd_watch(sub_argc, sub_argv);
    else if (strcmp(cmd, "firm") == 0)
        rc = cmd_firm(sub_argc, sub_argv);
    else if (strcmp(cmd, "licence") == 0)
        rc = cmd_licence(sub_argc, sub_argv);
    else if (strcmp(cmd, "lane") == 0)
        rc = cmd_lane(sub_argc, sub_argv);
    else if (strcmp(cmd, "optimize") == 0)
        rc = cmd_optimize(sub_argc, sub_argv);
    else if (strcmp(cmd, "auction") == 0)
        rc = cmd_auction(sub_argc, sub_argv);
    else if (strcmp(cmd, "stats") == 0)
        rc = cmd_stats(sub_argc, sub_argv);
    else if (strcmp(cmd, "sub") == 0)
        rc = cmd_sub(sub_argc, sub_argv);
    else if (strcmp(cmd, "credit") == 0)
        rc = cmd_credit(sub_argc, sub_argv);
    else if (strcmp(cmd, "block") == 0 || strcmp(cmd, "unblock") == 0)
        rc = cmd_block(cmd, sub_argc, sub_argv);
    else if (strcmp(cmd, "config") == 0)
        rc = cmd_config(sub_argc, sub_argv);
    else if (strcmp(cmd, "manifest") == 0)
        rc = cmd_manifest(sub_argc, sub_argv);
    else if (strcmp(cmd, "key") == 0)
        rc = cmd_key(sub_argc, sub_argv);
    else if (strcmp(cmd, "journal-head") == 0)
        rc = cmd_journal_head(sub_argc, sub_argv);
    else if (strcmp(cmd, "verify") == 0)
        rc = cmd_verify(sub_argc, sub_argv);
    else
        rc = manifest_step(cmd, sub_argc, sub_argv);
    fflush(stdout);
    wfc_destroy(&client);
    memset(secret_key, 0, sizeof secret_key);
    return rc;
}
