/* wufeid's configuration file reader (see conf.h). A small line parser:
 * each line is trimmed, comments (`#` to the end of a line that starts
 * with it, or after whitespace) dropped, and `key = value` split at the
 * first `=`. Values are taken literally after trimming; a value may be
 * wrapped in double quotes (no escapes) to keep blanks or a `#`.
 * The work is linear in the file's size; a line longer than
 * WF_CONF_LINE_MAX is an error rather than being split. */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/wf_alloc.h"
#include "../core/wf_error.h"
#include "server.h"

void
wf_conf_init(wf_conf_t *conf)
{
    memset(conf, 0, sizeof *conf);
    conf->insecure = -1;
    conf->quiet = -1;
    conf->dashboard = -1;
}

void
wf_conf_fini(wf_conf_t *conf)
{
    wf_free(conf->db);
    wf_free(conf->command);
    wf_free(conf->feed);
    wf_free(conf->catalogue);
    wf_free(conf->catalogue_add);
    wf_free(conf->metrics);
    wf_conf_init(conf);
}

bool
wf_conf_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return true;
        }
    }
    return false;
}

static bool
parse_uint(const char *s, unsigned long long lo, unsigned long long hi, unsigned long long *out)
{
    if (!*s || !isdigit((unsigned char)*s))
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static char *
trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* Cuts a comment off an unquoted value: `#` at its start or after a blank. */
static void
cut_comment(char *v)
{
    for (char *p = v; *p; p++)
        if (*p == '#' && (p == v || p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            return;
        }
}

/* One `key = value`: sets the field, or returns false with err set. */
static bool
apply(wf_conf_t *c, const char *where, const char *key, const char *val, char *err, size_t errlen)
{
    char **str = NULL;
    if (strcmp(key, "db") == 0)
        str = &c->db;
    else if (strcmp(key, "command") == 0)
        str = &c->command;
    else if (strcmp(key, "feed") == 0)
        str = &c->feed;
    else if (strcmp(key, "catalogue") == 0)
        str = &c->catalogue;
    else if (strcmp(key, "catalogue-add") == 0)
        str = &c->catalogue_add;
    else if (strcmp(key, "metrics") == 0)
        str = &c->metrics;
    if (str) {
        if (*str) {
            if (str == &c->metrics) {
                snprintf(err, errlen, "%s: \"metrics\" is set twice (or with metrics-port)", where);
                return false;
            }
            snprintf(err, errlen, "%s: \"%s\" is set twice", where, key);
            return false;
        }
        if (!*val) {
            snprintf(err, errlen, "%s: \"%s\" needs a value", where, key);
            return false;
        }
        *str = wf_strdup(val);
        return true;
    }
    int *flag = NULL;
    if (strcmp(key, "insecure") == 0)
        flag = &c->insecure;
    else if (strcmp(key, "quiet") == 0)
        flag = &c->quiet;
    else if (strcmp(key, "dashboard") == 0)
        flag = &c->dashboard;
    if (flag) {
        if (*flag != -1) {
            snprintf(err, errlen, "%s: \"%s\" is set twice", where, key);
            return false;
        }
        if (!wf_conf_bool(val, flag)) {
            snprintf(err, errlen, "%s: \"%s\" wants true or false, not \"%s\"", where, key, val);
            return false;
        }
        return true;
    }
    if (strcmp(key, "metrics-port") == 0) {
        unsigned long long port;
        if (c->metrics) {
            snprintf(err, errlen, "%s: \"metrics-port\" is set twice (or with metrics)", where);
            return false;
        }
        if (!parse_uint(val, 0, 65535, &port)) {
            snprintf(err, errlen, "%s: \"metrics-port\" wants a port from 0 to 65535, not \"%s\"", where,
                     val);
            return false;
        }
        char ep[32];
        snprintf(ep, sizeof ep, "tcp://127.0.0.1:%llu", port);
        c->metrics = wf_strdup(ep);
        return true;
    }
    unsigned long long *num = NULL, hi = 0;
    if (strcmp(key, "map-size") == 0) {
        num = &c->map_size_mib;
        hi = 1ULL << 24;
    } else if (strcmp(key, "batch") == 0) {
        num = &c->batch;
        hi = WF_BATCH_MAX;
    }
    if (num) {
        if (*num) {
            snprintf(err, errlen, "%s: \"%s\" is set twice", where, key);
            return false;
        }
        if (!parse_uint(val, 1, hi, num)) {
            snprintf(err, errlen, "%s: \"%s\" wants a whole number from 1 to %llu, not \"%s\"", where, key,
                     hi, val);
            return false;
        }
        return true;
    }
    snprintf(err, errlen,
             "%s: unknown key \"%s\" (known: db, command, feed, insecure, map-size, catalogue, catalogue-add, batch, quiet, "
             "metrics, metrics-port, dashboard)",
             where, key);
    return false;
}

int
wf_conf_load(wf_conf_t *conf, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read the configuration file %s: %s", path, strerror(errno));
        return WF_E_FIELD;
    }
    char line[WF_CONF_LINE_MAX + 1];
    char where[4200];
    int rc = WF_OK;
    for (unsigned lineno = 1; fgets(line, sizeof line, f); lineno++) {
        snprintf(where, sizeof where, "%s:%u", path, lineno);
        size_t len = strlen(line);
        if (len == WF_CONF_LINE_MAX && line[len - 1] != '\n' && !feof(f)) {
            snprintf(err, errlen, "%s: the line is longer than %d bytes", where, WF_CONF_LINE_MAX - 1);
            rc = WF_E_FIELD;
            break;
        }
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s: expected \"key = value\", not \"%.60s\"", where, s);
            rc = WF_E_FIELD;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        if (!*key) {
            snprintf(err, errlen, "%s: a value without a key", where);
            rc = WF_E_FIELD;
            break;
        }
        if (val[0] == '"') {
            /* "quoted": no escapes; only a comment may follow the closing quote */
            char *close = strchr(val + 1, '"');
            char *rest = close ? trim(close + 1) : NULL;
            if (!close || (*rest && *rest != '#')) {
                snprintf(err, errlen, "%s: \"%s\" has a bad quoted value", where, key);
                rc = WF_E_FIELD;
                break;
            }
            *close = '\0';
            val++;
        } else {
            cut_comment(val);
            val = trim(val);
        }
        if (!apply(conf, where, key, val, err, errlen)) {
            rc = WF_E_FIELD;
            break;
        }
    }
    if (rc == WF_OK && ferror(f)) {
        snprintf(err, errlen, "cannot read the configuration file %s: %s", path, strerror(errno));
        rc = WF_E_FIELD;
    }
    fclose(f);
    return rc;
}
