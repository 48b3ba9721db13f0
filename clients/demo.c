/* wufei-demo: starts wufeid (secure mode, loopback, a fresh database) as
 * a child, registers the firms of a script file, plays the script's day of
 * offers, demands, takes and cancels against it through the client
 * library, and prints what happens the way a platform operator would
 * follow it: who was matched with whom, what, how far, at what price.
 * One extra connection says hello for a watched firm and shows that its
 * private stream receives its matches. In the evening it takes the day's
 * transfer manifests through their steps as the script's `manifests` plan
 * says (dispatch, load, weigh-in, close; a cancel; one left open; one
 * weighed short), prints every signed token it gets and verifies each
 * offline with the engine's public key (engine/token.h). The script format
 * is documented at the top of demo/shaoxing.day. Talks to the daemon only
 * over the wire protocol, over CURVE: the operator with the operator.key
 * wufeid made in the database directory, each firm with a key pair of its
 * own made here and registered with firm.put `key` (see "connections"
 * below). */
#define _GNU_SOURCE /* nftw */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "token.h"
#include "wfclient.h"

#define OPERATOR "000000000000000000"
#define MAX_TOK 32
#define MAX_FIRMS 64
#define MAX_ORDERS 512
#define MAX_NAMES 128
#define MAX_EVENTS 512

/* ---- the script ---- */

typedef struct firm {
    char alias[32], id[24], roles[64], name[160];
    double lat, lon;
    long county;
    int credit;
} firm_t;

typedef struct named {
    char key[32], name[160];
} named_t;

typedef struct licence {
    int firm;
    char codes[128];
    long long capacity_kg;
} licence_t;

typedef struct event {
    int line;
    char clock[8];
    int firm;
    char verb[16];
    char *tok[MAX_TOK]; /* arguments after the verb, key=value options included */
    int ntok;
} event_t;

static firm_t firms[MAX_FIRMS];
static int nfirms;
static named_t counties[MAX_NAMES], codenames[MAX_NAMES];
static int ncounties, ncodenames;
static licence_t licences[MAX_FIRMS];
static int nlicences;
static event_t events[MAX_EVENTS];
static int nevents;
static int watched = -1;

/* Subscriptions: each subscribing firm watches its stream on a connection
 * of its own, so the demo can show who is told about an order, and when. */
typedef struct subscription {
    int firm;
    char side[16], codes[128];
    double radius_km;
} subscription_t;

static subscription_t subs[MAX_FIRMS];
static int nsubs;
static wfc_t *sub_watch[MAX_FIRMS]; /* by firm index */

/* ---- orders the demo posted ---- */

typedef struct order {
    char id[32], label[32];
    int firm;
    bool offer;
    char code[128];
    long long rest;
    bool cancelled;
} order_t;

static order_t orders[MAX_ORDERS];
static int norders;

/* ---- manifests the day opened, and the evening's plan for them ---- */

typedef struct manifest {
    char id[32], code[64];
    int producer, consumer; /* firm indexes, -1 when unknown */
    long long qty;
    char state[16];
} manifest_t;

static manifest_t manifests[MAX_ORDERS];
static int nmanifests;
static int carrier = -1;        /* the firm that dispatches, from `manifests CARRIER PLAN` */
static char manifest_plan[512]; /* comma-separated: what happens to each manifest in turn */

/* ---- the day's figures ---- */

static struct {
    int matches, cross_district, hazardous_matches;
    double tonnes, tonne_km, hazardous_tonnes;
    int cancels, expected_errors, unexpected_errors, stream_msgs, posts, pushes;
    int tokens, tokens_verified, manifest_msgs;
} day;

static const char *script_path;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("wufei-demo: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* Rounds to the nearest integer without libm (the demo links no -lm). */
static long long round_ll(double v)
{
    return (long long)(v >= 0 ? v + 0.5 : v - 0.5);
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        die("out of memory");
    return p;
}

static const char *lookup(const named_t *t, int n, const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(t[i].key, key) == 0)
            return t[i].name;
    return NULL;
}

static const char *district(const firm_t *f)
{
    static char key[16];
    snprintf(key, sizeof key, "%ld", f->county);
    const char *n = lookup(counties, ncounties, key);
    return n ? n : key;
}

/* The plain name of a code or pattern ("" when the script gives none). */
static const char *code_name(const char *code)
{
    const char *n = lookup(codenames, ncodenames, code);
    return n ? n : "";
}

static int firm_by_alias(const char *alias)
{
    for (int i = 0; i < nfirms; i++)
        if (strcmp(firms[i].alias, alias) == 0)
            return i;
    return -1;
}

static order_t *order_by_id(const char *id)
{
    for (int i = 0; i < norders; i++)
        if (strcmp(orders[i].id, id) == 0)
            return &orders[i];
    return NULL;
}

static order_t *order_by_label(const char *label)
{
    for (int i = norders - 1; i >= 0; i--)
        if (strcmp(orders[i].label, label) == 0)
            return &orders[i];
    return NULL;
}

/* "40t", "2.5t", "500kg", "500" (kg) -> kg; false when malformed. */
static bool parse_qty(const char *s, long long *kg)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v < 0)
        return false;
    if (strcmp(end, "t") == 0)
        v *= 1000;
    else if (strcmp(end, "kg") != 0 && *end)
        return false;
    *kg = round_ll(v);
    return true;
}

/* CNY per tonne with up to two decimals -> fen per tonne. */
static bool parse_price(const char *s, long long *fen)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return false;
    *fen = round_ll(v * 100);
    return true;
}

static int split(char *line, char **tok, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        if (n == max)
            return -1;
        tok[n++] = t;
    }
    return n;
}

/* The text after the first n whitespace-separated words of line. */
static const char *after_words(const char *line, int n)
{
    const char *p = line;
    for (int i = 0; i < n; i++) {
        while (*p == ' ' || *p == '\t')
            p++;
        while (*p && *p != ' ' && *p != '\t')
            p++;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static void copy(char *dst, size_t len, const char *src, int line, const char *what)
{
    if (strlen(src) >= len)
        die("%s:%d: %s too long", script_path, line, what);
    strcpy(dst, src);
}

static void load_script(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot open %s: %s", path, strerror(errno));
    char buf[1024];
    int lineno = 0;
    while (fgets(buf, sizeof buf, f)) {
        lineno++;
        buf[strcspn(buf, "\r\n")] = '\0';
        char *hash = buf;
        while (*hash == ' ' || *hash == '\t')
            hash++;
        if (*hash == '#' || *hash == '\0')
            continue;
        char whole[1024];
        strcpy(whole, buf);
        char *tok[MAX_TOK + 4];
        int n = split(buf, tok, MAX_TOK + 4);
        if (n < 0)
            die("%s:%d: too many words", path, lineno);
        if (strcmp(tok[0], "county") == 0 || strcmp(tok[0], "code") == 0) {
            bool county = tok[0][1] == 'o' && tok[0][2] == 'u';
            named_t *t = county ? &counties[ncounties] : &codenames[ncodenames];
            if (n < 3 || (county ? ncounties : ncodenames) == MAX_NAMES)
                die("%s:%d: usage: %s KEY NAME", path, lineno, tok[0]);
            copy(t->key, sizeof t->key, tok[1], lineno, "key");
            copy(t->name, sizeof t->name, after_words(whole, 2), lineno, "name");
            if (county)
                ncounties++;
            else
                ncodenames++;
        } else if (strcmp(tok[0], "firm") == 0) {
            /* firm ALIAS ID ROLES LAT LON COUNTY CREDIT NAME... */
            if (n < 9 || nfirms == MAX_FIRMS)
                die("%s:%d: usage: firm ALIAS ID ROLES LAT LON COUNTY CREDIT NAME", path, lineno);
            firm_t *fm = &firms[nfirms];
            copy(fm->alias, sizeof fm->alias, tok[1], lineno, "alias");
            copy(fm->id, sizeof fm->id, tok[2], lineno, "firm id");
            copy(fm->roles, sizeof fm->roles, tok[3], lineno, "roles");
            char *end;
            fm->lat = strtod(tok[4], &end);
            fm->lon = strtod(tok[5], &end);
            fm->county = strtol(tok[6], &end, 10);
            fm->credit = (int)strtol(tok[7], &end, 10);
            copy(fm->name, sizeof fm->name, after_words(whole, 8), lineno, "name");
            if (firm_by_alias(fm->alias) >= 0)
                die("%s:%d: firm %s twice", path, lineno, fm->alias);
            nfirms++;
        } else if (strcmp(tok[0], "licence") == 0) {
            /* licence ALIAS CAPACITY PATTERNS */
            licence_t *l = &licences[nlicences];
            if (n != 4 || nlicences == MAX_FIRMS)
                die("%s:%d: usage: licence ALIAS CAPACITY PATTERN,...", path, lineno);
            if ((l->firm = firm_by_alias(tok[1])) < 0)
                die("%s:%d: unknown firm %s", path, lineno, tok[1]);
            if (!parse_qty(tok[2], &l->capacity_kg))
                die("%s:%d: bad capacity %s", path, lineno, tok[2]);
            copy(l->codes, sizeof l->codes, tok[3], lineno, "patterns");
            nlicences++;
        } else if (strcmp(tok[0], "sub") == 0) {
            /* sub ALIAS offers|demands CODES [radius_km=K] */
            subscription_t *sb = &subs[nsubs];
            if ((n != 4 && n != 5) || nsubs == MAX_FIRMS)
                die("%s:%d: usage: sub ALIAS offers|demands CODES [radius_km=K]", path, lineno);
            if ((sb->firm = firm_by_alias(tok[1])) < 0)
                die("%s:%d: unknown firm %s", path, lineno, tok[1]);
            if (strcmp(tok[2], "offers") != 0 && strcmp(tok[2], "demands") != 0)
                die("%s:%d: sub side is offers or demands", path, lineno);
            copy(sb->side, sizeof sb->side, tok[2], lineno, "side");
            copy(sb->codes, sizeof sb->codes, tok[3], lineno, "codes");
            sb->radius_km = 50;
            if (n == 5) {
                if (strncmp(tok[4], "radius_km=", 10) != 0 || (sb->radius_km = atof(tok[4] + 10)) <= 0)
                    die("%s:%d: bad option %s (radius_km=K)", path, lineno, tok[4]);
            }
            nsubs++;
        } else if (strcmp(tok[0], "manifests") == 0) {
            if (n != 3 || (carrier = firm_by_alias(tok[1])) < 0)
                die("%s:%d: usage: manifests CARRIER PLAN (a firm declared above, then "
                    "closed,short,cancelled,open,dispatched,loaded,unloaded,...)", path, lineno);
            copy(manifest_plan, sizeof manifest_plan, tok[2], lineno, "plan");
        } else if (strcmp(tok[0], "watch") == 0) {
            if (n != 2 || (watched = firm_by_alias(tok[1])) < 0)
                die("%s:%d: usage: watch ALIAS (a firm declared above)", path, lineno);
        } else if (strlen(tok[0]) == 5 && tok[0][2] == ':') {
            /* HH:MM ALIAS VERB ARGS... */
            if (n < 3 || nevents == MAX_EVENTS)
                die("%s:%d: usage: HH:MM ALIAS VERB ARGS...", path, lineno);
            event_t *e = &events[nevents];
            e->line = lineno;
            copy(e->clock, sizeof e->clock, tok[0], lineno, "clock");
            if ((e->firm = firm_by_alias(tok[1])) < 0)
                die("%s:%d: unknown firm %s", path, lineno, tok[1]);
            copy(e->verb, sizeof e->verb, tok[2], lineno, "verb");
            static const char *const verbs[] = {"offer", "demand", "take", "cancel"};
            bool known = false;
            for (size_t k = 0; k < 4; k++)
                known |= strcmp(e->verb, verbs[k]) == 0;
            if (!known)
                die("%s:%d: unknown verb %s (offer, demand, take, cancel)", path, lineno, e->verb);
            for (int i = 3; i < n; i++)
                e->tok[e->ntok++] = xstrdup(tok[i]);
            nevents++;
        } else {
            die("%s:%d: cannot read '%s'", path, lineno, tok[0]);
        }
    }
    fclose(f);
    if (nfirms == 0 || nevents == 0)
        die("%s: no firms or no events", path);
}

/* The value of option key=... among an event's words, or NULL. */
static const char *ev_opt(const event_t *e, const char *key)
{
    size_t k = strlen(key);
    for (int i = 0; i < e->ntok; i++)
        if (strncmp(e->tok[i], key, k) == 0 && e->tok[i][k] == '=')
            return e->tok[i] + k + 1;
    return NULL;
}

/* The positional words of an event (those without '='). */
static int ev_args(const event_t *e, const char **args, int max)
{
    int n = 0;
    for (int i = 0; i < e->ntok && n < max; i++)
        if (!strchr(e->tok[i], '='))
            args[n++] = e->tok[i];
    return n;
}

/* ---- the daemon ---- */

static pid_t daemon_pid = -1;
static char db_dir[512];
static char log_path[600];
static bool db_made;

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        die("cannot find a free port: %s", strerror(errno));
    close(fd);
    return ntohs(a.sin_port);
}

static void start_daemon(const char *path, const char *cmd_ep, const char *feed_ep)
{
    daemon_pid = fork();
    if (daemon_pid < 0)
        die("fork: %s", strerror(errno));
    if (daemon_pid == 0) {
        /* the daemon's output would interleave with the day: it goes to a
         * log beside the database, shown if the daemon fails */
        int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (log >= 0) {
            dup2(log, 1);
            dup2(log, 2);
            close(log);
        }
        execl(path, path, "--db", db_dir, "--command", cmd_ep, "--feed", feed_ep, "--quiet", (char *)NULL);
        fprintf(stderr, "wufei-demo: cannot run %s: %s\n", path, strerror(errno));
        _exit(127);
    }
}

/* SIGTERM, then waits up to 10 s. Returns the exit status, or -1. */
static int stop_daemon(void)
{
    if (daemon_pid <= 0)
        return 0;
    kill(daemon_pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 1000; i++) {
        pid_t r = waitpid(daemon_pid, &status, WNOHANG);
        if (r == daemon_pid) {
            daemon_pid = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        usleep(10000);
    }
    kill(daemon_pid, SIGKILL);
    waitpid(daemon_pid, &status, 0);
    daemon_pid = -1;
    return -1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Copies the daemon's log to stderr (after a failure). */
static void show_log(void)
{
    FILE *f = fopen(log_path, "r");
    if (!f)
        return;
    char line[1024];
    fprintf(stderr, "wufei-demo: wufeid's log (%s):\n", log_path);
    while (fgets(line, sizeof line, f))
        fputs(line, stderr);
    fclose(f);
}

static void cleanup(bool keep)
{
    stop_daemon();
    if (db_made && !keep) {
        nftw(db_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        unlink(log_path);
    }
}

/* ---- output ---- */

static void tonnes(char *buf, size_t len, long long kg)
{
    if (kg % 100 == 0)
        snprintf(buf, len, "%.1f t", kg / 1000.0);
    else
        snprintf(buf, len, "%.3f t", kg / 1000.0);
}

static void cny(char *buf, size_t len, long long fen)
{
    unsigned long long a = fen < 0 ? (unsigned long long)-(fen + 1) + 1 : (unsigned long long)fen;
    snprintf(buf, len, "%llu.%02llu", a / 100, a % 100);
}

static bool hazardous(const char *code)
{
    return (strlen(code) == 10 && code[3] == '-' && code[7] == '-') || strncmp(code, "HW", 2) == 0;
}

static const char *I = "         "; /* indent under the clock column */

/* Prints one match of a post by firm `poster` and books it in the day's figures. */
static void show_match(const msgpack_object *m, int poster, bool poster_offers)
{
    char id[32] = "?", offer[32] = "?", demand[32] = "?", code[64] = "?";
    wfc_get_str(m, "id", id, sizeof id);
    wfc_get_str(m, "offer", offer, sizeof offer);
    wfc_get_str(m, "demand", demand, sizeof demand);
    wfc_get_str(m, "code", code, sizeof code);
    long long qty = wfc_get_int(m, "qty", 0), price = wfc_get_int(m, "price", 0);
    double km = wfc_get_double(m, "km", 0), score = wfc_get_double(m, "score", 0);
    order_t *resting = order_by_id(poster_offers ? demand : offer);
    int other = resting ? resting->firm : -1;
    if (resting)
        resting->rest -= qty;
    const firm_t *p = poster_offers ? &firms[poster] : other >= 0 ? &firms[other] : NULL;
    const firm_t *c = poster_offers ? (other >= 0 ? &firms[other] : NULL) : &firms[poster];
    char t[32], pr[32], who[64];
    tonnes(t, sizeof t, qty);
    cny(pr, sizeof pr, price);
    if (price < 0)
        snprintf(who, sizeof who, "producer pays %s CNY/t", pr);
    else if (price > 0)
        snprintf(who, sizeof who, "consumer pays %s CNY/t", pr);
    else
        snprintf(who, sizeof who, "free of charge");
    printf("%s MATCH %s  %s (%s) → %s (%s)\n", I, id, p ? p->name : "?", p ? district(p) : "?",
           c ? c->name : "?", c ? district(c) : "?");
    printf("%s       %s %s, %s, %.1f km, %s, score %.3f", I, code, code_name(code), t, km, who, score);
    long long fee = wfc_get_int(m, "fee", 0);
    if (fee) {
        char fb[32];
        cny(fb, sizeof fb, fee);
        printf(", eco fee %s CNY/t", fb);
    }
    char mf[32];
    if (wfc_get_str(m, "manifest", mf, sizeof mf)) {
        printf(", manifest %s", mf);
        if (nmanifests < MAX_ORDERS) {
            manifest_t *x = &manifests[nmanifests++];
            snprintf(x->id, sizeof x->id, "%s", mf);
            snprintf(x->code, sizeof x->code, "%s", code);
            x->producer = poster_offers ? poster : other;
            x->consumer = poster_offers ? other : poster;
            x->qty = qty;
            snprintf(x->state, sizeof x->state, "OPEN");
        }
    }
    putchar('\n');
    day.matches++;
    day.tonnes += qty / 1000.0;
    day.tonne_km += qty / 1000.0 * km;
    if (hazardous(code)) {
        day.hazardous_matches++;
        day.hazardous_tonnes += qty / 1000.0;
    }
    if (p && c && p->county != c->county)
        day.cross_district++;
}

static void price_phrase(char *buf, size_t len, bool offer, long long fen)
{
    char pr[32];
    cny(pr, sizeof pr, fen);
    if (fen == 0)
        snprintf(buf, len, "free of charge");
    else if (offer)
        snprintf(buf, len, fen < 0 ? "pays up to %s CNY/t" : "asks at least %s CNY/t", pr);
    else
        snprintf(buf, len, fen < 0 ? "charges at least %s CNY/t" : "pays up to %s CNY/t", pr);
}

/* ---- connections: secure mode, one CURVE connection per firm ---- */

/* The daemon's keys are read from the database directory once it made
 * them; each firm of the script gets a fresh key pair, registered with its
 * firm.put. A firm acts through its own connection (its key is its
 * identity: the daemon ignores `as`), opened on first use. */
static char server_pub[41], operator_sec[41];
static char firm_pub[MAX_FIRMS][41], firm_sec[MAX_FIRMS][41];
static wfc_t *conns[MAX_FIRMS + 1]; /* [MAX_FIRMS] is the operator's */
static const char *command_ep;
static wfc_t *wc; /* the connection of the firm acting now (use_firm) */

static void make_firm_keys(void)
{
    char err[256];
    for (int i = 0; i < nfirms; i++)
        if (wfc_key_generate(NULL, firm_pub[i], firm_sec[i], err, sizeof err) != 0)
            die("%s", err);
}

/* True once wufeid has written server.pub and operator.key. */
static bool read_daemon_keys(void)
{
    char path[600], err[256];
    snprintf(path, sizeof path, "%s/server.pub", db_dir);
    if (wfc_key_read(path, server_pub, err, sizeof err) != 0)
        return false;
    snprintf(path, sizeof path, "%s/operator.key", db_dir);
    return wfc_key_read(path, operator_sec, err, sizeof err) == 0;
}

/* A new connection acting as firm id (the operator or a script firm). */
static wfc_t *connect_as(const char *id, int timeout_ms)
{
    const char *sec = operator_sec;
    for (int i = 0; i < nfirms && strcmp(id, OPERATOR) != 0; i++)
        if (strcmp(firms[i].id, id) == 0)
            sec = firm_sec[i];
    wfc_opts_t o = {.endpoint = command_ep, .server_key = server_pub, .secret_key = sec,
                    .timeout_ms = timeout_ms};
    wfc_t *c = wfc_new(&o);
    if (!c)
        die("cannot create a client for %s", command_ep);
    return c;
}

/* Makes wc the connection of firm id. */
static void use_firm(const char *id)
{
    int slot = MAX_FIRMS;
    for (int i = 0; i < nfirms; i++)
        if (strcmp(firms[i].id, id) == 0 && strcmp(id, OPERATOR) != 0)
            slot = i;
    if (!conns[slot])
        conns[slot] = connect_as(id, 10000);
    wc = conns[slot];
}

/* The public key registered for script firm id (firm.put `key`). */
static const char *firm_key(const char *id)
{
    for (int i = 0; i < nfirms; i++)
        if (strcmp(firms[i].id, id) == 0)
            return firm_pub[i];
    die("no key for firm %s", id);
    return NULL;
}

static void close_conns(void)
{
    for (int i = 0; i <= MAX_FIRMS; i++)
        wfc_destroy(&conns[i]);
    wc = NULL;
    memset(operator_sec, 0, sizeof operator_sec);
    memset(firm_sec, 0, sizeof firm_sec);
}

/* ---- playing ---- */

static wfc_t *watch; /* hello'd for the watched firm */

static const msgpack_object *call_or_die(void)
{
    const msgpack_object *reply;
    if (wfc_call(wc, &reply) != 0) {
        fprintf(stderr, "wufei-demo: %s\n", wfc_error(wc));
        cleanup(false);
        exit(2);
    }
    return reply;
}

/* Reports an error reply. Returns true when the event expected it. */
static bool report_error(const event_t *e, const msgpack_object *reply)
{
    char err[32] = "E_INTERNAL", msg[512] = "";
    wfc_get_str(reply, "err", err, sizeof err);
    wfc_get_str(reply, "msg", msg, sizeof msg);
    const char *want = ev_opt(e, "expect");
    if (want && strcmp(want, err) == 0) {
        printf("%s REFUSED as expected: %s: %s\n", I, err, msg);
        day.expected_errors++;
        return true;
    }
    printf("%s ERROR %s: %s%s%s\n", I, err, msg, want ? "  (expected " : "", want ? want : "");
    if (want)
        putchar(')');
    fprintf(stderr, "wufei-demo: %s:%d: unexpected error reply %s: %s\n", script_path, e->line, err, msg);
    day.unexpected_errors++;
    return false;
}

/* Prints the stream messages the watched firm got; waits for `expect`
 * of them (bounded), then takes whatever else is already there. */
static void drain_watch(int expect)
{
    if (!watch)
        return;
    int got = 0;
    for (;;) {
        const msgpack_object *m;
        int rc = wfc_next(watch, got < expect ? 2000 : 50, &m);
        if (rc != 0)
            break;
        got++;
        day.stream_msgs++;
        char type[32] = "?", id[32] = "", cpn[160] = "", code[64] = "";
        wfc_get_str(m, "type", type, sizeof type);
        wfc_get_str(m, "id", id, sizeof id);
        wfc_get_str(m, "counterparty_name", cpn, sizeof cpn);
        wfc_get_str(m, "code", code, sizeof code);
        long long seq = wfc_get_int(m, "seq", 0);
        if (strcmp(type, "match") == 0) {
            char t[32];
            tonnes(t, sizeof t, wfc_get_int(m, "qty", 0));
            printf("%s   stream → %s: #%lld match %s, %s of %s with %s\n", I, firms[watched].name, seq, id, t,
                   code, cpn);
        } else {
            char state[16] = "";
            wfc_get_str(m, "state", state, sizeof state);
            printf("%s   stream → %s: #%lld %s %s%s%s\n", I, firms[watched].name, seq, type, id,
                   state[0] ? " " : "", state);
            if (strcmp(type, "manifest") == 0)
                day.manifest_msgs++;
        }
    }
}

static char tier_of(int credit)
{
    return credit >= 90 ? 'A' : credit >= 75 ? 'B' : credit >= 60 ? 'C' : 'D';
}

/* Shows the notifications the subscribers get about order `id`, in the
 * order they arrive, for wait_ms (tier A comes with the post, B after
 * push_delay_b, C after push_delay_c; D is never told). */
static void show_pushes(const char *id, int wait_ms)
{
    if (nsubs == 0)
        return;
    struct timeval t0, t;
    gettimeofday(&t0, NULL);
    long long elapsed = 0;
    int told = 0;
    do {
        bool any = false;
        for (int f = 0; f < nfirms; f++) {
            if (!sub_watch[f])
                continue;
            const msgpack_object *m;
            while (wfc_next(sub_watch[f], 0, &m) == 0) {
                char type[32] = "", oid[32] = "", sid[32] = "";
                wfc_get_str(m, "type", type, sizeof type);
                const msgpack_object *o = wfc_get(m, "order");
                if (o)
                    wfc_get_str(o, "id", oid, sizeof oid);
                wfc_get_str(m, "sub", sid, sizeof sid);
                if (strcmp(type, "notify") != 0 || strcmp(oid, id) != 0)
                    continue;
                /* from the moment the engine took the post (the order's
                 * `posted`, same machine, same clock) to this arrival */
                gettimeofday(&t, NULL);
                long long ms = t.tv_sec * 1000LL + t.tv_usec / 1000 - wfc_get_int(o, "posted", 0);
                printf("%s   push +%4lld ms → %s (credit %d, tier %c): %s fits subscription %s, %.1f km\n", I,
                       ms, firms[f].name, firms[f].credit, tier_of(firms[f].credit), oid, sid,
                       wfc_get_double(m, "km", 0));
                day.pushes++;
                told++;
                any = true;
            }
        }
        if (!any)
            usleep(10000);
        gettimeofday(&t, NULL);
        elapsed = (t.tv_sec - t0.tv_sec) * 1000LL + (t.tv_usec - t0.tv_usec) / 1000;
    } while (elapsed < wait_ms);
    if (wait_ms > 0 && told == 0)
        printf("%s   push: no subscriber was told about %s\n", I, id);
}

/* Counts the matches of a reply the watched firm is party to. */
static int watched_matches(const msgpack_object *ms, int poster, bool poster_offers)
{
    if (watched < 0 || !ms || ms->type != MSGPACK_OBJECT_ARRAY)
        return 0;
    int n = 0;
    for (uint32_t i = 0; i < ms->via.array.size; i++) {
        char other[32] = "";
        wfc_get_str(&ms->via.array.ptr[i], poster_offers ? "demand" : "offer", other, sizeof other);
        order_t *o = order_by_id(other);
        if ((o && o->firm == watched) || poster == watched)
            n++;
    }
    return n;
}

static void play_post(const event_t *e)
{
    const firm_t *f = &firms[e->firm];
    bool offer = strcmp(e->verb, "offer") == 0, take = strcmp(e->verb, "take") == 0;
    const char *argv_[8];
    const char **args = argv_;
    int n = ev_args(e, argv_, 8);
    int want = take ? 4 : 3;
    if (n != want)
        die("%s:%d: usage: %s", script_path, e->line,
            take ? "take @LABEL CODES QTY PRICE" : offer ? "offer CODE QTY PRICE" : "demand CODES QTY PRICE");
    const char *target = NULL;
    order_t *tgt = NULL;
    if (take) {
        if (args[0][0] != '@' || !(tgt = order_by_label(args[0] + 1)))
            die("%s:%d: take needs @LABEL of an earlier order", script_path, e->line);
        target = tgt->id;
        args++;
    }
    long long qty, price;
    if (!parse_qty(args[1], &qty) || !parse_price(args[2], &price))
        die("%s:%d: bad quantity or price", script_path, e->line);

    char t[32], ph[96];
    tonnes(t, sizeof t, qty);
    price_phrase(ph, sizeof ph, offer, price);
    const char *nm = code_name(args[0]);
    if (take)
        printf("%s  %s (%s) takes %s of %s %s from %s in one click, %s\n", e->clock, f->name, district(f), t,
               tgt->code, code_name(tgt->code), tgt->id, ph);
    else
        printf("%s  %s (%s) %s %s of %s%s%s, %s\n", e->clock, f->name, district(f), offer ? "offers" : "wants", t,
               args[0], nm[0] ? " " : "", nm, ph);

    static const char *const dbl[] = {"max_km"};
    static const char *const ints[] = {"min_credit", "min_fill", "expires"};
    size_t nf = 3 + (target ? 1 : 0);
    for (size_t i = 0; i < 1; i++)
        nf += ev_opt(e, dbl[i]) != NULL;
    for (size_t i = 0; i < 3; i++)
        nf += ev_opt(e, ints[i]) != NULL;
    use_firm(f->id);
    msgpack_packer *pk = wfc_begin(wc, offer ? "offer.post" : "demand.post", nf);
    if (offer) {
        wfc_pack_str(pk, "code");
        wfc_pack_str(pk, args[0]);
    } else {
        char codes[128];
        snprintf(codes, sizeof codes, "%s", args[0]);
        size_t nc = 1;
        for (char *p = codes; *p; p++)
            nc += *p == ',';
        wfc_pack_str(pk, "codes");
        msgpack_pack_array(pk, nc);
        char *save = NULL;
        for (char *c = strtok_r(codes, ",", &save); c; c = strtok_r(NULL, ",", &save))
            wfc_pack_str(pk, c);
    }
    wfc_pack_str(pk, "qty");
    msgpack_pack_int64(pk, qty);
    wfc_pack_str(pk, "price");
    msgpack_pack_int64(pk, price);
    if (target) {
        wfc_pack_str(pk, "target");
        wfc_pack_str(pk, target);
    }
    for (size_t i = 0; i < 1; i++)
        if (ev_opt(e, dbl[i])) {
            wfc_pack_str(pk, dbl[i]);
            msgpack_pack_double(pk, atof(ev_opt(e, dbl[i])));
        }
    for (size_t i = 0; i < 3; i++)
        if (ev_opt(e, ints[i])) {
            wfc_pack_str(pk, ints[i]);
            msgpack_pack_int64(pk, atoll(ev_opt(e, ints[i])));
        }
    const msgpack_object *reply = call_or_die();
    day.posts++;
    if (!wfc_get_bool(reply, "ok", false)) {
        report_error(e, reply);
        return;
    }
    if (ev_opt(e, "expect")) {
        printf("%s ERROR: expected %s but the post was accepted\n", I, ev_opt(e, "expect"));
        day.unexpected_errors++;
    }
    if (norders == MAX_ORDERS)
        die("too many orders");
    order_t *o = &orders[norders++];
    memset(o, 0, sizeof *o);
    wfc_get_str(reply, "id", o->id, sizeof o->id);
    snprintf(o->label, sizeof o->label, "%s", ev_opt(e, "label") ? ev_opt(e, "label") : "");
    o->firm = e->firm;
    o->offer = offer;
    snprintf(o->code, sizeof o->code, "%s", args[0]);
    o->rest = wfc_get_int(reply, "rest", 0);

    const msgpack_object *ms = wfc_get(reply, "matches");
    int expect_stream = watched_matches(ms, e->firm, offer);
    if (ms && ms->type == MSGPACK_OBJECT_ARRAY)
        for (uint32_t i = 0; i < ms->via.array.size; i++)
            show_match(&ms->via.array.ptr[i], e->firm, offer);
    if (o->rest > 0) {
        tonnes(t, sizeof t, o->rest);
        printf("%s → %s resting %s\n", I, o->id, t);
    } else if (take) {
        printf("%s → %s done\n", I, o->id);
    } else {
        printf("%s → %s fully matched\n", I, o->id);
    }
    drain_watch(expect_stream);
    show_pushes(o->id, ev_opt(e, "wait") ? atoi(ev_opt(e, "wait")) : 0);
}

static void play_cancel(const event_t *e)
{
    const firm_t *f = &firms[e->firm];
    const char *args[2];
    order_t *o;
    if (ev_args(e, args, 2) != 1 || args[0][0] != '@' || !(o = order_by_label(args[0] + 1)))
        die("%s:%d: usage: cancel @LABEL (of an earlier order)", script_path, e->line);
    printf("%s  %s (%s) cancels %s (%s %s)\n", e->clock, f->name, district(f), o->id, o->offer ? "offer of" : "demand for",
           o->code);
    use_firm(f->id);
    msgpack_packer *pk = wfc_begin(wc, "order.cancel", 1);
    wfc_pack_str(pk, "id");
    wfc_pack_str(pk, o->id);
    const msgpack_object *reply = call_or_die();
    if (!wfc_get_bool(reply, "ok", false)) {
        report_error(e, reply);
        return;
    }
    char t[32];
    tonnes(t, sizeof t, wfc_get_int(reply, "rest", 0));
    printf("%s → cancelled, %s was still resting\n", I, t);
    o->rest = 0;
    o->cancelled = true;
    day.cancels++;
    drain_watch(0);
}

/* Checks an operator reply. An E_OP (an op this daemon does not have yet)
 * is reported once by the caller and is not an error of the day. */
static bool operator_call(const char *what, bool *unknown_op)
{
    const msgpack_object *reply = call_or_die();
    if (wfc_get_bool(reply, "ok", false))
        return true;
    char err[32] = "?", msg[512] = "";
    wfc_get_str(reply, "err", err, sizeof err);
    wfc_get_str(reply, "msg", msg, sizeof msg);
    if (unknown_op && strcmp(err, "E_OP") == 0) {
        *unknown_op = true;
        return false;
    }
    fprintf(stderr, "wufei-demo: %s: %s: %s\n", what, err, msg);
    day.unexpected_errors++;
    return false;
}

static void register_firms(void)
{
    use_firm(OPERATOR);
    for (int i = 0; i < nfirms; i++) {
        const firm_t *f = &firms[i];
        msgpack_packer *pk = wfc_begin(wc, "firm.put", 8);
        wfc_pack_str(pk, "key");
        wfc_pack_str(pk, firm_key(f->id));
        wfc_pack_str(pk, "firm");
        wfc_pack_str(pk, f->id);
        wfc_pack_str(pk, "name");
        wfc_pack_str(pk, f->name);
        char roles[64];
        snprintf(roles, sizeof roles, "%s", f->roles);
        size_t nr = 1;
        for (char *p = roles; *p; p++)
            nr += *p == ',';
        wfc_pack_str(pk, "roles");
        msgpack_pack_array(pk, nr);
        char *save = NULL;
        for (char *r = strtok_r(roles, ",", &save); r; r = strtok_r(NULL, ",", &save))
            wfc_pack_str(pk, r);
        wfc_pack_str(pk, "lat");
        msgpack_pack_double(pk, f->lat);
        wfc_pack_str(pk, "lon");
        msgpack_pack_double(pk, f->lon);
        wfc_pack_str(pk, "county");
        msgpack_pack_int64(pk, f->county);
        wfc_pack_str(pk, "base_credit");
        msgpack_pack_int64(pk, f->credit);
        char what[64];
        snprintf(what, sizeof what, "firm.put %s", f->alias);
        operator_call(what, NULL);
    }
    int64_t year_end = (int64_t)time(NULL) * 1000 + 365LL * 86400 * 1000;
    int licensed = 0;
    for (int i = 0; i < nlicences; i++) {
        const licence_t *l = &licences[i];
        msgpack_packer *pk = wfc_begin(wc, "licence.put", 4);
        wfc_pack_str(pk, "firm");
        wfc_pack_str(pk, firms[l->firm].id);
        char codes[128];
        snprintf(codes, sizeof codes, "%s", l->codes);
        size_t nc = 1;
        for (char *p = codes; *p; p++)
            nc += *p == ',';
        wfc_pack_str(pk, "codes");
        msgpack_pack_array(pk, nc);
        char *save = NULL;
        for (char *c = strtok_r(codes, ",", &save); c; c = strtok_r(NULL, ",", &save))
            wfc_pack_str(pk, c);
        wfc_pack_str(pk, "capacity");
        msgpack_pack_int64(pk, l->capacity_kg);
        wfc_pack_str(pk, "valid_until");
        msgpack_pack_int64(pk, year_end);
        if (operator_call("licence.put", NULL))
            licensed++;
    }
    printf("registered %d firms", nfirms);
    if (nlicences)
        printf(" and %d of %d hazardous-waste licences", licensed, nlicences);
    printf(" (operator %s)\n", OPERATOR);
    for (int i = 0; i < nfirms; i++)
        printf("  %-10s %s  %-9s %s (credit %d, %s)\n", firms[i].alias, firms[i].id, district(&firms[i]),
               firms[i].name, firms[i].credit, firms[i].roles);
}

/* ---- the evening: transfer manifests ---- */

static uint8_t engine_key[32];
static bool have_key;

/* Prints a token and verifies it offline with the engine's key. */
static void show_token(const char *tok, const char *want_state, const char *want_id)
{
    day.tokens++;
    printf("%s   token %s\n", I, tok);
    wf_token_t t;
    int rc = have_key ? wf_token_check(engine_key, tok, &t) : -1;
    if (rc == 0 && strcmp(t.s, want_state) == 0 && strcmp(t.m, want_id) == 0) {
        day.tokens_verified++;
        printf("%s   ✓ verified offline with the engine key: %s %s, %lld kg of %s, %s → %s\n", I, t.m, t.s,
               (long long)t.q, t.c, t.p, t.r);
    } else {
        printf("%s   ✗ TOKEN DOES NOT VERIFY\n", I);
        fprintf(stderr, "wufei-demo: token of %s (%s) does not verify\n", want_id, want_state);
        day.unexpected_errors++;
    }
}

/* One manifest step as firm f; fields are packed by the caller after
 * wfc_begin. Returns the reply when ok, NULL (after reporting) when not. */
static const msgpack_object *step_reply(const char *what, const char *id)
{
    const msgpack_object *reply = call_or_die();
    if (wfc_get_bool(reply, "ok", false))
        return reply;
    char err[32] = "?", msg[512] = "";
    wfc_get_str(reply, "err", err, sizeof err);
    wfc_get_str(reply, "msg", msg, sizeof msg);
    printf("%s ERROR %s %s: %s %s\n", I, what, id, err, msg);
    fprintf(stderr, "wufei-demo: %s %s: %s: %s\n", what, id, err, msg);
    day.unexpected_errors++;
    return NULL;
}

static bool step(manifest_t *m, const char *state, int actor, const char *op, const char *k2,
                 const char *sval, long long ival, const char *k3, const char *sval3)
{
    use_firm(firms[actor].id);
    msgpack_packer *pk = wfc_begin(wc, op, 1 + (k2 != NULL) + (k3 != NULL));
    wfc_pack_str(pk, "id");
    wfc_pack_str(pk, m->id);
    if (k2) {
        wfc_pack_str(pk, k2);
        if (sval)
            wfc_pack_str(pk, sval);
        else
            msgpack_pack_int64(pk, ival);
    }
    if (k3) {
        wfc_pack_str(pk, k3);
        wfc_pack_str(pk, sval3);
    }
    const msgpack_object *reply = step_reply(op, m->id);
    if (!reply)
        return false;
    char t[32], tok[WF_TOKEN_MAX] = "";
    snprintf(m->state, sizeof m->state, "%s", state);
    if (strcmp(state, "DISPATCHED") == 0)
        printf("%s %s DISPATCHED: %s carries it, vehicle %s\n", I, m->id, firms[actor].name, sval3);
    else if (strcmp(state, "LOADED") == 0)
        tonnes(t, sizeof t, ival), printf("%s %s LOADED by %s: %s shipped\n", I, m->id, firms[actor].name, t);
    else if (strcmp(state, "UNLOADED") == 0) {
        tonnes(t, sizeof t, ival);
        bool d = wfc_get_bool(reply, "discrepancy", false);
        printf("%s %s UNLOADED at %s: %s weighed%s\n", I, m->id, firms[actor].name, t,
               d ? " — QUANTITY DISCREPANCY beyond the tolerance" : ", within the tolerance");
    } else if (strcmp(state, "CLOSED") == 0)
        printf("%s %s CLOSED by %s\n", I, m->id, firms[actor].name);
    else
        printf("%s %s CANCELLED by %s: %s\n", I, m->id, firms[actor].name, sval);
    if (wfc_get_str(reply, "token", tok, sizeof tok))
        show_token(tok, state, m->id);
    return true;
}

/* Takes manifest m as far as `goal` says. */
static void play_manifest(manifest_t *m, const char *goal)
{
    static int plate;
    char vehicle[32];
    snprintf(vehicle, sizeof vehicle, "浙D·%05d", 10001 + plate++);
    char t[32];
    tonnes(t, sizeof t, m->qty);
    printf("  %s  %s %s %s: %s → %s\n", m->id, t, m->code, code_name(m->code), firms[m->producer].name,
           firms[m->consumer].name);
    if (strcmp(goal, "open") == 0) {
        printf("%s %s left OPEN: nobody has dispatched it yet\n", I, m->id);
        return;
    }
    if (strcmp(goal, "cancelled") == 0) {
        step(m, "CANCELLED", m->consumer, "manifest.cancel", "reason", "receiving yard full, rebooked", 0, NULL,
             NULL);
        return;
    }
    if (!step(m, "DISPATCHED", carrier, "manifest.dispatch", "carrier", firms[carrier].id, 0, "vehicle", vehicle) ||
        strcmp(goal, "dispatched") == 0)
        return;
    if (!step(m, "LOADED", m->producer, "manifest.load", "qty", NULL, m->qty, NULL, NULL) ||
        strcmp(goal, "loaded") == 0)
        return;
    long long weighed = strcmp(goal, "short") == 0 ? m->qty * 92 / 100 : m->qty;
    if (!step(m, "UNLOADED", m->consumer, "manifest.unload", "qty", NULL, weighed, NULL, NULL) ||
        strcmp(goal, "unloaded") == 0)
        return;
    step(m, "CLOSED", m->consumer, "manifest.close", NULL, NULL, 0, NULL, NULL);
}

static void evening(void)
{
    if (!manifest_plan[0] || carrier < 0 || nmanifests == 0)
        return;
    printf("\n== evening: transfer manifests (转移联单), one waybill, four states ==\n");
    use_firm(OPERATOR);
    wfc_begin(wc, "engine.key", 0);
    const msgpack_object *reply = call_or_die();
    const msgpack_object *k = wfc_get(reply, "key");
    if (wfc_get_bool(reply, "ok", false) && k && k->type == MSGPACK_OBJECT_BIN && k->via.bin.size == 32) {
        memcpy(engine_key, k->via.bin.ptr, 32);
        have_key = true;
        printf("engine key (engine.key, also sign.pub beside the database): ");
        for (int i = 0; i < 32; i++)
            printf("%02x", engine_key[i]);
        putchar('\n');
    } else {
        fprintf(stderr, "wufei-demo: engine.key failed\n");
        day.unexpected_errors++;
    }
    char plan[512];
    snprintf(plan, sizeof plan, "%s", manifest_plan);
    int i = 0;
    char *save = NULL;
    for (char *g = strtok_r(plan, ",", &save); g && i < nmanifests; g = strtok_r(NULL, ",", &save), i++) {
        manifest_t *m = &manifests[i];
        if (m->producer < 0 || m->consumer < 0)
            continue;
        play_manifest(m, g);
        drain_watch(0);
    }
    /* the rest stay open */
    /* a token altered by one character no longer verifies */
    for (int j = 0; j < nmanifests && have_key; j++) {
        if (strcmp(manifests[j].state, "CLOSED") != 0)
            continue;
        use_firm(OPERATOR);
        msgpack_packer *pk = wfc_begin(wc, "manifest.get", 1);
        wfc_pack_str(pk, "id");
        wfc_pack_str(pk, manifests[j].id);
        const msgpack_object *r = step_reply("manifest.get", manifests[j].id);
        const msgpack_object *mm = r ? wfc_get(r, "manifest") : NULL;
        char tok[WF_TOKEN_MAX];
        if (!mm || !wfc_get_str(mm, "token", tok, sizeof tok))
            break;
        wf_token_t t;
        size_t pos = strlen(tok) / 3; /* inside the payload */
        tok[pos] = tok[pos] == 'A' ? 'B' : 'A';
        bool refused = wf_token_check(engine_key, tok, &t) != 0;
        printf("tamper check: %s's latest token (manifest.get) with one character changed %s\n", manifests[j].id,
               refused ? "fails verification, as it must" : "STILL VERIFIES");
        if (!refused)
            day.unexpected_errors++;
        break;
    }
}

static void manifest_summary(void)
{
    if (!nmanifests)
        return;
    static const char *const states[] = {"OPEN", "DISPATCHED", "LOADED", "UNLOADED", "CLOSED", "CANCELLED"};
    printf("manifests: %d —", nmanifests);
    for (size_t s = 0; s < 6; s++) {
        int n = 0;
        for (int i = 0; i < nmanifests; i++)
            n += strcmp(manifests[i].state, states[s]) == 0;
        printf(" %s %d%s", states[s], n, s < 5 ? "," : "");
    }
    printf("; %d tokens, %d verified offline\n", day.tokens, day.tokens_verified);
}

static void summary(void)
{
    printf("\n== end of day ==\n");
    printf("posts %d, matches %d (%d across districts), %.1f t moved, %.0f t·km\n", day.posts, day.matches,
           day.cross_district, day.tonnes, day.tonne_km);
    printf("hazardous: %d matches, %.1f t; general and recyclable: %d matches, %.1f t\n", day.hazardous_matches,
           day.hazardous_tonnes, day.matches - day.hazardous_matches, day.tonnes - day.hazardous_tonnes);
    if (day.tonnes > 0)
        printf("average haul %.1f km per tonne\n", day.tonne_km / day.tonnes);
    int resting = 0;
    long long kg = 0;
    for (int i = 0; i < norders; i++)
        if (orders[i].rest > 0 && !orders[i].cancelled) {
            resting++;
            kg += orders[i].rest;
        }
    char t[32];
    tonnes(t, sizeof t, kg);
    printf("left resting: %d orders, %s; cancelled %d; refused as expected %d\n", resting, t, day.cancels,
           day.expected_errors);
    manifest_summary();
    if (watch)
        printf("private stream of %s: %d messages\n", firms[watched].name, day.stream_msgs);
    if (nsubs)
        printf("subscriptions: %d, notifications shown: %d\n", nsubs, day.pushes);
    if (day.unexpected_errors)
        printf("UNEXPECTED ERRORS: %d\n", day.unexpected_errors);
}

static int usage(void)
{
    fputs("usage: wufei-demo --wufeid PATH --script FILE [--db DIR] [--keep] [--pace MS]\n"
          "  Starts wufeid (secure mode: CURVE, a key pair per firm) on free loopback\n"
          "  ports and a fresh database (or DIR), registers the script's firms and\n"
          "  plays its day.\n"
          "  --keep leaves the temporary database in place; --pace sleeps MS\n"
          "  between events.\n",
          stderr);
    return 64;
}

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

int main(int argc, char **argv)
{
    const char *wufeid = NULL, *db = NULL;
    bool keep = false;
    long pace_ms = 0;
    for (int i = 1; i < argc; i++) {
        bool more = i + 1 < argc;
        if (strcmp(argv[i], "--wufeid") == 0 && more)
            wufeid = argv[++i];
        else if (strcmp(argv[i], "--script") == 0 && more)
            script_path = argv[++i];
        else if (strcmp(argv[i], "--db") == 0 && more)
            db = argv[++i];
        else if (strcmp(argv[i], "--pace") == 0 && more)
            pace_ms = atol(argv[++i]);
        else if (strcmp(argv[i], "--keep") == 0)
            keep = true;
        else if (strcmp(argv[i], "--help") == 0) {
            usage();
            return 0;
        } else
            return usage();
    }
    if (!wufeid || !script_path)
        return usage();
    load_script(script_path);

    if (db) {
        snprintf(db_dir, sizeof db_dir, "%s", db);
        keep = true;
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(db_dir, sizeof db_dir, "%s/wufei-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(db_dir))
            die("mkdtemp: %s", strerror(errno));
        db_made = true;
    }
    snprintf(log_path, sizeof log_path, "%s.log", db_dir);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    char cmd_ep[64], feed_ep[64];
    int p1 = free_port(), p2;
    do
        p2 = free_port();
    while (p2 == p1);
    snprintf(cmd_ep, sizeof cmd_ep, "tcp://127.0.0.1:%d", p1);
    snprintf(feed_ep, sizeof feed_ep, "tcp://127.0.0.1:%d", p2);
    start_daemon(wufeid, cmd_ep, feed_ep);
    command_ep = cmd_ep;
    make_firm_keys();

    /* wait (bounded) for the daemon's keys, then for it to answer ping */
    wfc_t *pinger = NULL;
    bool up = false;
    for (int tries = 0; tries < 80 && !up && !got_signal; tries++) {
        int status;
        if (waitpid(daemon_pid, &status, WNOHANG) == daemon_pid) {
            daemon_pid = -1;
            show_log();
            cleanup(keep);
            die("wufeid exited before answering (status %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        }
        if (!pinger && !read_daemon_keys()) {
            usleep(250000);
            continue;
        }
        if (!pinger)
            pinger = connect_as(OPERATOR, 250);
        wfc_begin(pinger, "ping", 0);
        const msgpack_object *reply;
        up = wfc_call(pinger, &reply) == 0 && wfc_get_bool(reply, "ok", false);
    }
    wfc_destroy(&pinger);
    if (!up) {
        show_log();
        cleanup(keep);
        die("wufeid did not answer ping on %s within 20 s", cmd_ep);
    }
    printf("wufei-demo: wufeid on %s (feed %s), database %s\n", cmd_ep, feed_ep, db_dir);
    printf("secure mode: CURVE; the operator acts with %s/operator.key, each firm with a key pair of its own\n",
           db_dir);
    printf("script %s: %d firms, %d events\n\n", script_path, nfirms, nevents);
    register_firms();

    if (watched >= 0) {
        watch = connect_as(firms[watched].id, 10000);
        wfc_begin(watch, "hello", 0);
        const msgpack_object *reply;
        int rc = wfc_call(watch, &reply);
        if (rc != 0 || !wfc_get_bool(reply, "ok", false)) {
            fprintf(stderr, "wufei-demo: hello for %s failed: %s\n", firms[watched].alias,
                    rc ? wfc_error(watch) : "error reply");
            day.unexpected_errors++;
            wfc_destroy(&watch);
        } else {
            printf("watching the private stream of %s (seq %lld)\n", firms[watched].name,
                   (long long)wfc_get_int(reply, "seq", 0));
        }
    }
    for (int i = 0; i < nsubs; i++) {
        const subscription_t *sb = &subs[i];
        const firm_t *f = &firms[sb->firm];
        use_firm(f->id);
        char codes[128];
        snprintf(codes, sizeof codes, "%s", sb->codes);
        size_t nc = 1;
        for (char *p = codes; *p; p++)
            nc += *p == ',';
        msgpack_packer *pk = wfc_begin(wc, "sub.put", 3);
        wfc_pack_str(pk, "side");
        wfc_pack_str(pk, sb->side);
        wfc_pack_str(pk, "codes");
        msgpack_pack_array(pk, nc);
        char *save = NULL;
        for (char *c = strtok_r(codes, ",", &save); c; c = strtok_r(NULL, ",", &save))
            wfc_pack_str(pk, c);
        wfc_pack_str(pk, "radius_km");
        msgpack_pack_double(pk, sb->radius_km);
        const msgpack_object *reply = call_or_die();
        char sid[32] = "?";
        if (!wfc_get_bool(reply, "ok", false) || !wfc_get_str(reply, "id", sid, sizeof sid)) {
            char err[32] = "", msg[256] = "";
            wfc_get_str(reply, "err", err, sizeof err);
            wfc_get_str(reply, "msg", msg, sizeof msg);
            printf("  sub.put for %s failed: %s %s\n", f->alias, err, msg);
            day.unexpected_errors++;
            continue;
        }
        printf("  %s subscribes to %s of %s within %.0f km: %s (credit %d, tier %c)\n", f->name, sb->side,
               sb->codes, sb->radius_km, sid, f->credit, tier_of(f->credit));
        if (sub_watch[sb->firm] || sb->firm == watched)
            continue; /* one hello per firm: the stream follows the latest */
        sub_watch[sb->firm] = connect_as(f->id, 10000);
        wfc_begin(sub_watch[sb->firm], "hello", 0);
        if (wfc_call(sub_watch[sb->firm], &reply) != 0 || !wfc_get_bool(reply, "ok", false))
            die("hello for %s failed", f->alias);
    }
    putchar('\n');

    for (int i = 0; i < nevents && !got_signal; i++) {
        const event_t *e = &events[i];
        if (strcmp(e->verb, "cancel") == 0)
            play_cancel(e);
        else
            play_post(e);
        fflush(stdout);
        if (pace_ms > 0)
            usleep((useconds_t)pace_ms * 1000);
    }
    if (!got_signal)
        evening();
    summary();
    for (int f = 0; f < nfirms; f++)
        wfc_destroy(&sub_watch[f]);
    wfc_destroy(&watch);
    close_conns();
    for (int i = 0; i < nevents; i++)
        for (int k = 0; k < events[i].ntok; k++)
            free(events[i].tok[k]);
    int st = stop_daemon();
    if (st != 0) {
        fprintf(stderr, "wufei-demo: wufeid exited with status %d\n", st);
        show_log();
        day.unexpected_errors++;
    } else if (day.unexpected_errors) {
        show_log();
    }
    cleanup(keep);
    if (!keep)
        printf("stopped wufeid, removed %s\n", db_dir);
    else
        printf("stopped wufeid, database kept in %s (log %s)\n", db_dir, log_path);
    if (got_signal)
        return 130;
    return day.unexpected_errors ? 1 : 0;
}
