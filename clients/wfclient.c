/* The wufei C client library: one DEALER connection to wufeid's command
 * socket. A request is packed by the caller between wfc_begin and
 * wfc_call; wfc_call waits for the reply carrying the request's rid and
 * queues the private-stream messages that arrive meanwhile, so wfc_next
 * hands them out in order later. Depends only on PROTOCOL.md. */
#include "wfclient.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#define WFC_DEFAULT_ENDPOINT "tcp://127.0.0.1:5570"
#define WFC_DEFAULT_TIMEOUT 5000
#define WFC_AS_LEN 64

/* One queued stream message: the raw frame, unpacked when handed out. */
typedef struct wfc_frame {
    struct wfc_frame *next;
    size_t len;
    char data[];
} wfc_frame_t;

struct wfc {
    void *ctx;
    void *sock;
    char as[WFC_AS_LEN];
    int timeout_ms;
    uint64_t rid;      /* rid of the request being built or awaited */
    size_t n_fields;   /* fields the caller promised in wfc_begin */
    bool begun;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    /* The last reply and the last stream message handed out. msgpack-c's
     * unpacker points strings into the input, so each keeps its bytes. */
    msgpack_unpacked reply;
    char *reply_buf;
    msgpack_unpacked stream;
    wfc_frame_t *stream_frame;
    wfc_frame_t *head, *tail;
    size_t queued;
    char err[256];
};

/* A bound on queued stream messages, so a client that never reads its
 * stream cannot grow without limit; the oldest are dropped (the server
 * keeps them and replays on `hello` with after_seq). */
#define WFC_MAX_QUEUED 100000

static void set_err(wfc_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(self->err, sizeof self->err, fmt, ap);
    va_end(ap);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fputs("wfclient: out of memory\n", stderr);
        abort();
    }
    return p;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

wfc_t *wfc_new(const wfc_opts_t *opts)
{
    wfc_opts_t dflt = {0};
    if (!opts)
        opts = &dflt;
    if (opts->as && strlen(opts->as) >= WFC_AS_LEN)
        return NULL;
    if (opts->server_key && strlen(opts->server_key) != 40)
        return NULL;
    wfc_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (opts->as)
        strcpy(self->as, opts->as);
    self->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : WFC_DEFAULT_TIMEOUT;
    msgpack_sbuffer_init(&self->sb);
    msgpack_packer_init(&self->pk, &self->sb, msgpack_sbuffer_write);
    msgpack_unpacked_init(&self->reply);
    msgpack_unpacked_init(&self->stream);

    self->ctx = zmq_ctx_new();
    if (!self->ctx)
        goto fail;
    self->sock = zmq_socket(self->ctx, ZMQ_DEALER);
    if (!self->sock)
        goto fail;
    int linger = 0;
    if (zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof linger) != 0)
        goto fail;
    if (opts->server_key) {
        char pub[41], sec[41];
        if (opts->secret_key) {
            if (strlen(opts->secret_key) != 40)
                goto fail;
            memcpy(sec, opts->secret_key, 41);
            if (!opts->public_key) {
                if (wfc_key_public(sec, pub) != 0)
                    goto fail;
            } else if (strlen(opts->public_key) != 40) {
                goto fail;
            } else {
                memcpy(pub, opts->public_key, 41);
            }
        } else if (opts->public_key) {
            goto fail; /* a public key without its secret cannot connect */
        } else if (zmq_curve_keypair(pub, sec) != 0) {
            goto fail;
        }
        if (zmq_setsockopt(self->sock, ZMQ_CURVE_SERVERKEY, opts->server_key, 40) != 0
            || zmq_setsockopt(self->sock, ZMQ_CURVE_PUBLICKEY, pub, 40) != 0
            || zmq_setsockopt(self->sock, ZMQ_CURVE_SECRETKEY, sec, 40) != 0)
            goto fail;
    }
    if (zmq_connect(self->sock, opts->endpoint ? opts->endpoint : WFC_DEFAULT_ENDPOINT) != 0)
        goto fail;
    return self;
fail:
    wfc_destroy(&self);
    return NULL;
}

void wfc_destroy(wfc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wfc_t *self = *self_p;
    if (self->sock)
        zmq_close(self->sock);
    if (self->ctx)
        zmq_ctx_term(self->ctx);
    msgpack_sbuffer_destroy(&self->sb);
    msgpack_unpacked_destroy(&self->reply);
    msgpack_unpacked_destroy(&self->stream);
    free(self->reply_buf);
    free(self->stream_frame);
    while (self->head) {
        wfc_frame_t *f = self->head;
        self->head = f->next;
        free(f);
    }
    free(self);
    *self_p = NULL;
}

void wfc_set_as(wfc_t *self, const char *as)
{
    if (!as) {
        self->as[0] = '\0';
        return;
    }
    snprintf(self->as, sizeof self->as, "%s", as);
}

const char *wfc_as(const wfc_t *self)
{
    return self->as;
}

/* ---- key files ---- */

int wfc_key_read(const char *path, char key[41], char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    uint8_t bin[32];
    if (n == 40) {
        memcpy(key, buf, 40);
        key[40] = '\0';
        if (zmq_z85_decode(bin, key))
            return 0;
    }
    snprintf(err, errlen, "%s does not hold a 40-character z85 key", path);
    return -1;
}

int wfc_key_public(const char *secret, char pub[41])
{
    uint8_t bin[32];
    if (!secret || strlen(secret) != 40 || !zmq_z85_decode(bin, secret))
        return -1;
    return zmq_curve_public(pub, secret) == 0 ? 0 : -1;
}

static int key_file_write(const char *path, const char key[41], mode_t mode, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    char line[41];
    memcpy(line, key, 40);
    line[40] = '\n';
    bool ok = write(fd, line, 41) == 41 && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(path);
        return -1;
    }
    return 0;
}

int wfc_key_generate(const char *prefix, char pub[41], char sec[41], char *err, size_t errlen)
{
    if (zmq_curve_keypair(pub, sec) != 0) {
        snprintf(err, errlen, "cannot make a CURVE key pair: %s", zmq_strerror(errno));
        return -1;
    }
    if (!prefix)
        return 0;
    char kpath[4096], ppath[4096];
    if ((size_t)snprintf(kpath, sizeof kpath, "%s.key", prefix) >= sizeof kpath
        || (size_t)snprintf(ppath, sizeof ppath, "%s.pub", prefix) >= sizeof ppath) {
        snprintf(err, errlen, "the prefix is too long");
        return -1;
    }
    struct stat st;
    if (stat(ppath, &st) == 0) {
        snprintf(err, errlen, "%s exists: choose another prefix", ppath);
        return -1;
    }
    if (key_file_write(kpath, sec, 0600, err, errlen) != 0)
        return -1;
    /* the secret file's mode must not depend on the umask */
    if (chmod(kpath, 0600) != 0) {
        snprintf(err, errlen, "cannot chmod %s: %s", kpath, strerror(errno));
        unlink(kpath);
        return -1;
    }
    if (key_file_write(ppath, pub, 0644, err, errlen) != 0) {
        unlink(kpath);
        return -1;
    }
    return 0;
}

const char *wfc_error(const wfc_t *self)
{
    return self->err;
}

void wfc_pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

msgpack_packer *wfc_begin(wfc_t *self, const char *op, size_t n_fields)
{
    msgpack_sbuffer_clear(&self->sb);
    self->rid++;
    self->n_fields = n_fields;
    self->begun = true;
    bool has_as = self->as[0] != '\0';
    msgpack_pack_map(&self->pk, 2 + (has_as ? 1 : 0) + n_fields);
    wfc_pack_str(&self->pk, "op");
    wfc_pack_str(&self->pk, op);
    wfc_pack_str(&self->pk, "rid");
    msgpack_pack_uint64(&self->pk, self->rid);
    if (has_as) {
        wfc_pack_str(&self->pk, "as");
        wfc_pack_str(&self->pk, self->as);
    }
    return &self->pk;
}

/* Queues a copy of a stream frame for wfc_next. */
static void enqueue(wfc_t *self, const void *data, size_t len)
{
    if (self->queued >= WFC_MAX_QUEUED) {
        wfc_frame_t *old = self->head;
        self->head = old->next;
        if (!self->head)
            self->tail = NULL;
        free(old);
        self->queued--;
    }
    wfc_frame_t *f = xmalloc(sizeof *f + len);
    f->next = NULL;
    f->len = len;
    memcpy(f->data, data, len);
    if (self->tail)
        self->tail->next = f;
    else
        self->head = f;
    self->tail = f;
    self->queued++;
}

/* Receives one message (all its frames) and keeps the last frame, the
 * msgpack body (an empty delimiter may precede it). Returns 0 with msg
 * initialised (caller closes it), 1 on timeout, -2 when a signal
 * interrupted the wait, -1 on error. */
static int recv_body(wfc_t *self, int timeout_ms, zmq_msg_t *body)
{
    zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLIN, 0};
    int rc = zmq_poll(&item, 1, timeout_ms);
    if (rc < 0) {
        if (errno == EINTR) {
            set_err(self, "interrupted");
            return -2;
        }
        set_err(self, "poll: %s", zmq_strerror(errno));
        return -1;
    }
    if (rc == 0)
        return 1;
    zmq_msg_init(body);
    for (;;) {
        if (zmq_msg_recv(body, self->sock, ZMQ_DONTWAIT) < 0) {
            set_err(self, "recv: %s", zmq_strerror(errno));
            zmq_msg_close(body);
            return -1;
        }
        if (!zmq_msg_more(body))
            return 0;
        zmq_msg_close(body);
        zmq_msg_init(body);
    }
}

/* True when the frame is a map that has a "rid" key; *rid gets it. */
static bool frame_rid(const void *data, size_t len, uint64_t *rid, bool *is_map)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    bool found = false;
    *is_map = false;
    *rid = 0;
    size_t off = 0;
    if (msgpack_unpack_next(&u, data, len, &off) == MSGPACK_UNPACK_SUCCESS
        && u.data.type == MSGPACK_OBJECT_MAP) {
        *is_map = true;
        const msgpack_object *r = wfc_get(&u.data, "rid");
        if (r) {
            found = true;
            if (r->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                *rid = r->via.u64;
        }
    }
    msgpack_unpacked_destroy(&u);
    return found;
}

static int unpack_into(wfc_t *self, msgpack_unpacked *u, const void *data, size_t len)
{
    msgpack_unpacked_destroy(u);
    msgpack_unpacked_init(u);
    size_t off = 0;
    if (msgpack_unpack_next(u, data, len, &off) != MSGPACK_UNPACK_SUCCESS) {
        set_err(self, "the server sent a frame that is not msgpack");
        return -1;
    }
    return 0;
}

/* Waits for the reply whose rid is want (any reply when any_rid), queueing
 * stream messages and dropping stale replies. */
static int await_reply(wfc_t *self, uint64_t want, bool any_rid, const msgpack_object **reply)
{
    int64_t deadline = mono_ms() + self->timeout_ms;
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left < 0)
            left = 0;
        zmq_msg_t body;
        int rc = recv_body(self, (int)left, &body);
        if (rc == 1) {
            set_err(self, "no reply within %d ms", self->timeout_ms);
            return -1;
        }
        if (rc == -2)
            continue; /* a signal: keep waiting until the deadline */
        if (rc < 0)
            return -1;
        const void *data = zmq_msg_data(&body);
        size_t len = zmq_msg_size(&body);
        uint64_t rid;
        bool is_map;
        if (frame_rid(data, len, &rid, &is_map)) {
            if (any_rid || rid == want) {
                free(self->reply_buf);
                self->reply_buf = xmalloc(len ? len : 1);
                memcpy(self->reply_buf, data, len);
                zmq_msg_close(&body);
                rc = unpack_into(self, &self->reply, self->reply_buf, len);
                if (rc < 0)
                    return -1;
                *reply = &self->reply.data;
                return 0;
            }
            /* a late reply to a request that timed out: drop it */
        } else if (is_map) {
            enqueue(self, data, len);
        }
        zmq_msg_close(&body);
    }
}

static int send_buf(wfc_t *self, const void *buf, size_t len)
{
    int64_t deadline = mono_ms() + self->timeout_ms;
    for (;;) {
        if (zmq_send(self->sock, buf, len, ZMQ_DONTWAIT) >= 0)
            return 0;
        if (errno != EAGAIN) {
            set_err(self, "send: %s", zmq_strerror(errno));
            return -1;
        }
        /* not connected yet: DEALER blocks until a peer is there */
        if (mono_ms() >= deadline) {
            set_err(self, "cannot send within %d ms (is wufeid running?)", self->timeout_ms);
            return -1;
        }
        zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLOUT, 0};
        zmq_poll(&item, 1, 20);
    }
}

int wfc_call(wfc_t *self, const msgpack_object **reply)
{
    if (!self->begun) {
        set_err(self, "wfc_call without wfc_begin");
        return -1;
    }
    self->begun = false;
    if (send_buf(self, self->sb.data, self->sb.size) < 0)
        return -1;
    return await_reply(self, self->rid, false, reply);
}

int wfc_call_raw(wfc_t *self, const void *buf, size_t len, const msgpack_object **reply)
{
    self->begun = false;
    if (send_buf(self, buf, len) < 0)
        return -1;
    return await_reply(self, 0, true, reply);
}

int wfc_next(wfc_t *self, int timeout_ms, const msgpack_object **msg)
{
    int64_t deadline = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
    for (;;) {
        if (self->head) {
            wfc_frame_t *f = self->head;
            self->head = f->next;
            if (!self->head)
                self->tail = NULL;
            self->queued--;
            free(self->stream_frame);
            self->stream_frame = f;
            int rc = unpack_into(self, &self->stream, f->data, f->len);
            if (rc < 0)
                return -1;
            *msg = &self->stream.data;
            return 0;
        }
        int left = -1;
        if (deadline >= 0) {
            int64_t l = deadline - mono_ms();
            left = l < 0 ? 0 : (int)l;
        }
        zmq_msg_t body;
        int rc = recv_body(self, left, &body);
        if (rc != 0)
            return rc < 0 ? -1 : rc;
        uint64_t rid;
        bool is_map;
        if (!frame_rid(zmq_msg_data(&body), zmq_msg_size(&body), &rid, &is_map) && is_map)
            enqueue(self, zmq_msg_data(&body), zmq_msg_size(&body));
        zmq_msg_close(&body);
        if (!self->head && deadline >= 0 && mono_ms() >= deadline)
            return 1;
    }
}

/* ---- map helpers ---- */

const msgpack_object *wfc_get(const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == klen
            && memcmp(kv->key.via.str.ptr, key, klen) == 0)
            return &kv->val;
    }
    return NULL;
}

bool wfc_get_bool(const msgpack_object *map, const char *key, bool dflt)
{
    const msgpack_object *o = wfc_get(map, key);
    return o && o->type == MSGPACK_OBJECT_BOOLEAN ? o->via.boolean : dflt;
}

int64_t wfc_get_int(const msgpack_object *map, const char *key, int64_t dflt)
{
    const msgpack_object *o = wfc_get(map, key);
    if (!o)
        return dflt;
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return o->via.u64 > INT64_MAX ? dflt : (int64_t)o->via.u64;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return o->via.i64;
    default:
        return dflt;
    }
}

double wfc_get_double(const msgpack_object *map, const char *key, double dflt)
{
    const msgpack_object *o = wfc_get(map, key);
    if (!o)
        return dflt;
    switch (o->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return o->via.f64;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return (double)o->via.u64;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return (double)o->via.i64;
    default:
        return dflt;
    }
}

bool wfc_get_str(const msgpack_object *map, const char *key, char *buf, size_t len)
{
    const msgpack_object *o = wfc_get(map, key);
    if (!o || o->type != MSGPACK_OBJECT_STR || len == 0)
        return false;
    size_t n = o->via.str.size < len - 1 ? o->via.str.size : len - 1;
    memcpy(buf, o->via.str.ptr, n);
    buf[n] = '\0';
    return true;
}

/* ---- JSON ---- */

/* Length of the well-formed UTF-8 sequence at p (lead byte >= 0x80), or 0. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
    size_t k;
    uint32_t cp;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        k = 2;
        cp = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        k = 3;
        cp = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        k = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (avail < k)
        return 0;
    for (size_t j = 1; j < k; j++) {
        if ((p[j] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[j] & 0x3f);
    }
    if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return k;
}

static void json_string(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                fprintf(f, "\\u%04x", c);
            } else if (c < 0x80) {
                fputc(c, f);
            } else {
                /* copy a well-formed UTF-8 sequence; anything else becomes
                 * U+FFFD so the output stays valid JSON */
                size_t k = utf8_len((const unsigned char *)s + i, n - i);
                if (k == 0) {
                    fputs("\\ufffd", f);
                } else {
                    fwrite(s + i, 1, k, f);
                    i += k - 1;
                }
            }
        }
    }
    fputc('"', f);
}

static void json_base64(FILE *f, const char *s, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        fputc(tab[v >> 18 & 63], f);
        fputc(tab[v >> 12 & 63], f);
        fputc(tab[v >> 6 & 63], f);
        fputc(tab[v & 63], f);
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        fputc(tab[v >> 18 & 63], f);
        fputc(tab[v >> 12 & 63], f);
        fputs("==", f);
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        fputc(tab[v >> 18 & 63], f);
        fputc(tab[v >> 12 & 63], f);
        fputc(tab[v >> 6 & 63], f);
        fputc('=', f);
    }
    fputc('"', f);
}

static void json_double(FILE *f, double d)
{
    if (d != d || d > 1.7976931348623157e308 || d < -1.7976931348623157e308) {
        fputs("null", f);
        return;
    }
    /* the shortest of %.15g..%.17g that reads back exactly */
    char buf[64];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    /* keep it a JSON number that reads back as a float */
    if (!strpbrk(buf, ".eE"))
        strcat(buf, ".0");
    fputs(buf, f);
}

static void json_obj(FILE *f, const msgpack_object *o, int depth)
{
    if (depth > 64) {
        fputs("null", f);
        return;
    }
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: fputs("null", f); break;
    case MSGPACK_OBJECT_BOOLEAN: fputs(o->via.boolean ? "true" : "false", f); break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: fprintf(f, "%llu", (unsigned long long)o->via.u64); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: fprintf(f, "%lld", (long long)o->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: json_double(f, o->via.f64); break;
    case MSGPACK_OBJECT_STR: json_string(f, o->via.str.ptr, o->via.str.size); break;
    case MSGPACK_OBJECT_BIN: json_base64(f, o->via.bin.ptr, o->via.bin.size); break;
    case MSGPACK_OBJECT_EXT: json_base64(f, o->via.ext.ptr, o->via.ext.size); break;
    case MSGPACK_OBJECT_ARRAY:
        fputc('[', f);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i)
                fputc(',', f);
            json_obj(f, &o->via.array.ptr[i], depth + 1);
        }
        fputc(']', f);
        break;
    case MSGPACK_OBJECT_MAP:
        fputc('{', f);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            if (i)
                fputc(',', f);
            if (kv->key.type == MSGPACK_OBJECT_STR) {
                json_string(f, kv->key.via.str.ptr, kv->key.via.str.size);
            } else {
                /* JSON keys are strings: write the key's JSON text as one */
                char *text = NULL;
                size_t tlen = 0;
                FILE *mem = open_memstream(&text, &tlen);
                if (mem) {
                    json_obj(mem, &kv->key, depth + 1);
                    fclose(mem);
                    json_string(f, text, tlen);
                    free(text);
                } else {
                    fputs("\"?\"", f);
                }
            }
            fputc(':', f);
            json_obj(f, &kv->val, depth + 1);
        }
        fputc('}', f);
        break;
    default: fputs("null", f); break;
    }
}

void wfc_print_json(FILE *f, const msgpack_object *obj)
{
    json_obj(f, obj, 0);
}
