/* The wufei C client library: one DEALER connection to wufeid's command
 * socket, requests built as msgpack maps, replies and stream messages
 * returned as msgpack objects. Depends only on the wire protocol. */
#ifndef WF_CLIENT_H
#define WF_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <msgpack.h>

typedef struct wfc wfc_t;

typedef struct wfc_opts {
    const char *endpoint;   /* "tcp://127.0.0.1:5570" when NULL */
    const char *as;         /* insecure mode: the firm to act as (field `as`) */
    const char *server_key; /* secure mode: server public key, z85; NULL = insecure */
    const char *public_key; /* secure mode: this client's key pair, z85; the public key is
                             * derived from the secret when NULL; a fresh throwaway pair
                             * when both are NULL (such a key belongs to no firm) */
    const char *secret_key;
    int timeout_ms;         /* per request; 5000 when 0 */
} wfc_opts_t;

/* Connects (lazily, as ZeroMQ does). Returns NULL on a bad option. */
wfc_t *wfc_new(const wfc_opts_t *opts);
void wfc_destroy(wfc_t **self_p);

/* Starts a request map with n_fields fields besides op, rid and as (which
 * wfc adds itself). Pack the fields' keys and values into the returned
 * packer, then call wfc_call(). */
msgpack_packer *wfc_begin(wfc_t *self, const char *op, size_t n_fields);

/* Sends the request begun with wfc_begin and waits for its reply (stream
 * messages arriving meanwhile are queued for wfc_next). Returns 0 and
 * *reply (valid until the next call on self) when a reply came, whether ok
 * or not; -1 on timeout or socket error with a message in wfc_error(). */
int wfc_call(wfc_t *self, const msgpack_object **reply);

/* The next private-stream message, waiting up to timeout_ms (-1 forever).
 * Returns 0 with *msg valid until the next call on self, 1 on timeout,
 * -1 on error. */
int wfc_next(wfc_t *self, int timeout_ms, const msgpack_object **msg);

/* Sends buf exactly as given (it need not be valid msgpack) and waits for
 * the next reply, whatever its rid. For tests of the server's input
 * checks. Same results as wfc_call. */
int wfc_call_raw(wfc_t *self, const void *buf, size_t len, const msgpack_object **reply);

/* Changes the firm named in `as` on later requests (NULL or "" for none);
 * insecure mode only. wfc_as returns the current one ("" when none). */
void wfc_set_as(wfc_t *self, const char *as);
const char *wfc_as(const wfc_t *self);

/* Reads a z85 CURVE key file as wufeid and wfc_key_generate write them:
 * 40 characters and an optional newline. Returns 0, or -1 with a sentence
 * in err. */
int wfc_key_read(const char *path, char key[41], char *err, size_t errlen);

/* The public key of a z85 secret key. Returns 0, or -1 when secret is not
 * a key. */
int wfc_key_public(const char *secret, char pub[41]);

/* Makes a CURVE key pair. When prefix is not NULL, writes the secret to
 * PREFIX.key (mode 0600) and the public key to PREFIX.pub, refusing to
 * overwrite either. Returns 0, or -1 with a sentence in err. */
int wfc_key_generate(const char *prefix, char pub[41], char sec[41], char *err, size_t errlen);

/* Last transport error. */
const char *wfc_error(const wfc_t *self);

/* Helpers over msgpack maps: look up key in map obj. */
const msgpack_object *wfc_get(const msgpack_object *map, const char *key);
bool wfc_get_bool(const msgpack_object *map, const char *key, bool dflt);
int64_t wfc_get_int(const msgpack_object *map, const char *key, int64_t dflt);
double wfc_get_double(const msgpack_object *map, const char *key, double dflt);
/* Copies a string field into buf (NUL-terminated); returns false if absent. */
bool wfc_get_str(const msgpack_object *map, const char *key, char *buf, size_t len);

/* Packs a C string. */
void wfc_pack_str(msgpack_packer *pk, const char *s);

/* Writes obj as JSON (bin as base64, strings escaped) to f. */
void wfc_print_json(FILE *f, const msgpack_object *obj);

#endif
