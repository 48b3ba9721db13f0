/* Unit tests of wufeid's configuration file reader (net/conf.c): every
 * key, comments, quotes and blanks, booleans, and each refusal (unknown
 * key, repeated key, bad number or boolean, missing `=`, unreadable file,
 * overlong line) with the file and line in the message. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/wf_error.h"
#include "net/conf.h"

static char path[64];
static wf_conf_t conf;
static char err[8192];

static void
setup(void)
{
    snprintf(path, sizeof path, "/tmp/wufei-conf-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    wf_conf_init(&conf);
    err[0] = '\0';
}

static void
teardown(void)
{
    wf_conf_fini(&conf);
    unlink(path);
}

static int
load(const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
    return wf_conf_load(&conf, path, err, sizeof err);
}

/* Loads text, expecting a refusal whose message holds want and the line. */
static void
refused(const char *text, unsigned line, const char *want)
{
    cr_assert_eq(load(text), WF_E_FIELD, "should refuse: %s", text);
    char where[96];
    snprintf(where, sizeof where, "%s:%u: ", path, line);
    cr_assert(strstr(err, where), "the message names the file and line %u: %s", line, err);
    cr_assert(strstr(err, want), "the message should say \"%s\": %s", want, err);
}

TestSuite(conf, .init = setup, .fini = teardown, .timeout = 30);

Test(conf, every_key)
{
    int rc = load("# wufeid\n"
                  "\n"
                  "db = /var/lib/wufei\n"
                  "  command=tcp://0.0.0.0:5570  # every interface\n"
                  "feed\t=\ttcp://0.0.0.0:5571\n"
                  "insecure = no\n"
                  "map-size = 4096\n"
                  "catalogue = \"/etc/wufei/my catalogue#1.tsv\"\n"
                  "batch = 64\r\n"
                  "quiet = On\n"
                  "metrics = tcp://[::1]:9100\n"
                  "dashboard = yes\n");
    cr_assert_eq(rc, WF_OK, "%s", err);
    cr_assert_str_eq(conf.db, "/var/lib/wufei");
    cr_assert_str_eq(conf.command, "tcp://0.0.0.0:5570");
    cr_assert_str_eq(conf.feed, "tcp://0.0.0.0:5571");
    cr_assert_str_eq(conf.catalogue, "/etc/wufei/my catalogue#1.tsv");
    cr_assert_eq(conf.insecure, 0);
    cr_assert_eq(conf.quiet, 1);
    cr_assert_eq(conf.map_size_mib, 4096);
    cr_assert_eq(conf.batch, 64);
    cr_assert_str_eq(conf.metrics, "tcp://[::1]:9100");
    cr_assert_eq(conf.dashboard, 1);
}

Test(conf, metrics_port_is_a_loopback_endpoint)
{
    cr_assert_eq(load("metrics-port = 5572\ndashboard = off\n"), WF_OK, "%s", err);
    cr_assert_str_eq(conf.metrics, "tcp://127.0.0.1:5572");
    cr_assert_eq(conf.dashboard, 0);
    wf_conf_fini(&conf);
    refused("metrics-port = 5572\nmetrics = tcp://127.0.0.1:1\n", 2, "\"metrics\" is set twice (or with metrics-port)");
    wf_conf_fini(&conf);
    refused("metrics = tcp://127.0.0.1:1\nmetrics-port = 5572\n", 2, "\"metrics-port\" is set twice");
    wf_conf_fini(&conf);
    refused("metrics-port = 65536\n", 1, "\"metrics-port\" wants a port from 0 to 65535, not \"65536\"");
    wf_conf_fini(&conf);
    refused("dashboard = sometimes\n", 1, "\"dashboard\" wants true or false");
}

Test(conf, unset_keys_stay_unset)
{
    cr_assert_eq(load("db = /x\n"), WF_OK, "%s", err);
    cr_assert_null(conf.command);
    cr_assert_null(conf.feed);
    cr_assert_null(conf.catalogue);
    cr_assert_eq(conf.insecure, -1);
    cr_assert_eq(conf.quiet, -1);
    cr_assert_eq(conf.map_size_mib, 0);
    cr_assert_eq(conf.batch, 0);
    cr_assert_null(conf.metrics);
    cr_assert_eq(conf.dashboard, -1);
    cr_assert_eq(load(""), WF_OK, "an empty file is fine");
}

Test(conf, refusals_name_file_line_and_key)
{
    refused("db = /x\ncolour = green\n", 2, "unknown key \"colour\"");
    wf_conf_fini(&conf);
    refused("db = /x\n\ndb = /y\n", 3, "\"db\" is set twice");
    wf_conf_fini(&conf);
    refused("quiet = yes\nquiet = no\n", 2, "\"quiet\" is set twice");
    wf_conf_fini(&conf);
    refused("map-size = 0\n", 1, "\"map-size\" wants a whole number from 1 to 16777216, not \"0\"");
    wf_conf_fini(&conf);
    refused("map-size = 16777217\n", 1, "not \"16777217\"");
    wf_conf_fini(&conf);
    refused("map-size = -5\n", 1, "not \"-5\"");
    wf_conf_fini(&conf);
    refused("map-size = 12MiB\n", 1, "not \"12MiB\"");
    wf_conf_fini(&conf);
    refused("batch = 257\n", 1, "\"batch\" wants a whole number from 1 to 256");
    wf_conf_fini(&conf);
    refused("insecure = maybe\n", 1, "\"insecure\" wants true or false, not \"maybe\"");
    wf_conf_fini(&conf);
    refused("db /x\n", 1, "expected \"key = value\"");
    wf_conf_fini(&conf);
    refused("= /x\n", 1, "a value without a key");
    wf_conf_fini(&conf);
    refused("db =\n", 1, "\"db\" needs a value");
    wf_conf_fini(&conf);
    refused("db = \"/x\n", 1, "\"db\" has a bad quoted value");
    wf_conf_fini(&conf);
    refused("db = \"/x\" trailing\n", 1, "\"db\" has a bad quoted value");
}

Test(conf, overlong_line)
{
    char *text = malloc(WF_CONF_LINE_MAX + 32);
    strcpy(text, "db = /");
    size_t n = strlen(text);
    memset(text + n, 'x', WF_CONF_LINE_MAX);
    strcpy(text + n + WF_CONF_LINE_MAX, "\n");
    refused(text, 1, "longer than");
    free(text);
}

Test(conf, unreadable_file)
{
    unlink(path);
    cr_assert_eq(wf_conf_load(&conf, path, err, sizeof err), WF_E_FIELD);
    cr_assert(strstr(err, "cannot read the configuration file"), "%s", err);
}

Test(conf, booleans)
{
    const char *yes[] = {"true", "YES", "on", "1"}, *no[] = {"false", "No", "off", "0"};
    for (int i = 0; i < 4; i++) {
        int v = -1;
        cr_assert(wf_conf_bool(yes[i], &v) && v == 1, "%s", yes[i]);
        cr_assert(wf_conf_bool(no[i], &v) && v == 0, "%s", no[i]);
    }
    int v = -1;
    cr_assert_not(wf_conf_bool("", &v));
    cr_assert_not(wf_conf_bool("2", &v));
    cr_assert_not(wf_conf_bool("truee", &v));
}
