/* wufeid's configuration file (`wufeid --config FILE`): `key = value`
 * lines, `#` comments and blank lines, keys named like the long options
 * (db, command, feed, insecure, map-size, catalogue, catalogue-add, batch,
 * quiet, metrics, metrics-port, dashboard). The
 * file only fills in what the command line left unset, so an option given
 * on the command line wins. Every unknown key, repeated key or bad value is
 * refused with the file name and line, so a daemon never starts on a
 * configuration it misread. */
#ifndef WF_CONF_H
#define WF_CONF_H

#include <stdbool.h>
#include <stddef.h>

#define WF_CONF_LINE_MAX 4096 /* bytes in one line, newline included */

typedef struct wf_conf {
    char *db;              /* NULL = not set; owned, freed by wf_conf_fini */
    char *command;
    char *feed;
    char *catalogue;
    char *catalogue_add;
    char *metrics;         /* the HTTP endpoint; metrics-port fills it in too */
    int insecure;          /* -1 = not set, else 0 or 1 */
    int quiet;             /* -1 = not set, else 0 or 1 */
    int dashboard;         /* -1 = not set, else 0 or 1 */
    unsigned long long map_size_mib; /* 0 = not set, else 1..2^24 */
    unsigned long long batch;        /* 0 = not set, else 1..WF_BATCH_MAX */
} wf_conf_t;

/* Every field unset. */
void wf_conf_init(wf_conf_t *conf);

/* Frees the strings of conf and unsets every field. */
void wf_conf_fini(wf_conf_t *conf);

/* Reads path into conf. Returns WF_OK, or WF_E_FIELD with a sentence in
 * err naming the file, the line and the key when the file cannot be read,
 * a line is not `key = value`, a key is unknown or repeated, or a value is
 * out of range. On failure conf may hold the keys read before the bad
 * line (wf_conf_fini still frees them). */
int wf_conf_load(wf_conf_t *conf, const char *path, char *err, size_t errlen);

/* Parses a boolean value: true/false, yes/no, on/off, 1/0. */
bool wf_conf_bool(const char *s, int *out);

#endif
