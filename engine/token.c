/* Manifest tokens (see token.h): msgpack payload, Ed25519 signature,
 * base64url framing. */
#include "token.h"

#include <msgpack.h>
#include <sodium.h>
#include <string.h>

#include "wf_error.h"
#include "wf_msgpack_scan.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
wf_b64url_encode(const uint8_t *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = b64[v >> 6 & 63];
        out[o++] = b64[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = b64[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

static int
b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

long
wf_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
    if (n % 4 == 1)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val(in[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* non-canonical trailing bits */
        return -1;
    return (long)o;
}

static void
pack_str(msgpack_packer *pk, const char *key, const char *val)
{
    msgpack_pack_str_with_body(pk, key, strlen(key));
    msgpack_pack_str_with_body(pk, val, strlen(val));
}

static void
pack_int(msgpack_packer *pk, const char *key, int64_t val)
{
    msgpack_pack_str_with_body(pk, key, strlen(key));
    msgpack_pack_int64(pk, val);
}

int
wf_token_make(const uint8_t sk[64], const wf_token_t *t, char out[WF_TOKEN_MAX])
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 7);
    pack_str(&pk, "m", t->m);
    pack_str(&pk, "s", t->s);
    pack_int(&pk, "q", t->q);
    pack_str(&pk, "c", t->c);
    pack_str(&pk, "p", t->p);
    pack_str(&pk, "r", t->r);
    pack_int(&pk, "t", t->t);
    /* "WF1." + payload + "." + 86 signature chars + NUL */
    if (4 + (sb.size + 2) / 3 * 4 + 1 + 86 + 1 > WF_TOKEN_MAX) {
        msgpack_sbuffer_destroy(&sb);
        return WF_E_FIELD;
    }
    uint8_t sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, (const uint8_t *)sb.data, sb.size, sk);
    memcpy(out, "WF1.", 4);
    size_t o = 4 + wf_b64url_encode((const uint8_t *)sb.data, sb.size, out + 4);
    out[o++] = '.';
    wf_b64url_encode(sig, sizeof sig, out + o);
    msgpack_sbuffer_destroy(&sb);
    return WF_OK;
}

static int
copy_str(const msgpack_object *v, char *dst, size_t cap)
{
    if (v->type != MSGPACK_OBJECT_STR || v->via.str.size >= cap)
        return -1;
    /* an embedded NUL would make the C string say less than was signed */
    if (memchr(v->via.str.ptr, '\0', v->via.str.size))
        return -1;
    memcpy(dst, v->via.str.ptr, v->via.str.size);
    dst[v->via.str.size] = '\0';
    return 0;
}

static int
copy_int(const msgpack_object *v, int64_t *dst)
{
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= INT64_MAX)
        *dst = (int64_t)v->via.u64;
    else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *dst = v->via.i64;
    else
        return -1;
    return 0;
}

static int
parse_payload(const uint8_t *buf, size_t n, wf_token_t *t)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0, used;
    int rc = -1;
    /* never hand the unpacker a container that declares more elements
     * than the payload has bytes: it would allocate for them */
    if (!wf_msgpack_scan(buf, n, 4, &used) || used != n)
        goto out;
    if (msgpack_unpack_next(&u, (const char *)buf, n, &off) != MSGPACK_UNPACK_SUCCESS || off != n ||
        u.data.type != MSGPACK_OBJECT_MAP)
        goto out;
    unsigned seen = 0;
    const msgpack_object_map *map = &u.data.via.map;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *k = &map->ptr[i].key, *v = &map->ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR || k->via.str.size != 1)
            goto out;
        int bad;
        switch (k->via.str.ptr[0]) {
        case 'm': bad = copy_str(v, t->m, sizeof t->m); seen |= 1; break;
        case 's': bad = copy_str(v, t->s, sizeof t->s); seen |= 2; break;
        case 'q': bad = copy_int(v, &t->q); seen |= 4; break;
        case 'c': bad = copy_str(v, t->c, sizeof t->c); seen |= 8; break;
        case 'p': bad = copy_str(v, t->p, sizeof t->p); seen |= 16; break;
        case 'r': bad = copy_str(v, t->r, sizeof t->r); seen |= 32; break;
        case 't': bad = copy_int(v, &t->t); seen |= 64; break;
        default: bad = 0; break; /* later versions may add fields */
        }
        if (bad)
            goto out;
    }
    rc = seen == 127 ? 0 : -1;
out:
    msgpack_unpacked_destroy(&u);
    return rc;
}

int
wf_token_check(const uint8_t pk[32], const char *text, wf_token_t *t)
{
    size_t len = strnlen(text, WF_TOKEN_MAX);
    if (len >= WF_TOKEN_MAX || strncmp(text, "WF1.", 4) != 0)
        return WF_E_PARSE;
    const char *body = text + 4;
    const char *dot = memchr(body, '.', len - 4);
    if (!dot)
        return WF_E_PARSE;
    uint8_t payload[WF_TOKEN_MAX], sig[crypto_sign_BYTES + 1];
    long np = wf_b64url_decode(body, (size_t)(dot - body), payload, sizeof payload);
    long ns = wf_b64url_decode(dot + 1, len - (size_t)(dot + 1 - text), sig, sizeof sig);
    if (np <= 0 || ns != crypto_sign_BYTES)
        return WF_E_PARSE;
    memset(t, 0, sizeof *t);
    if (parse_payload(payload, (size_t)np, t) != 0)
        return WF_E_PARSE;
    if (crypto_sign_verify_detached(sig, payload, (unsigned long long)np, pk) != 0)
        return WF_E_AUTH;
    return WF_OK;
}
