/* The engine's Ed25519 signing key, beside the database: sign.key holds
 * the 64-byte libsodium secret key (seed || public key) as 128 hex digits
 * and must be readable by its owner only (mode 0600: the engine refuses to
 * start otherwise); sign.pub holds the 32-byte public key as 64 hex digits,
 * for anyone who verifies manifest tokens or the journal head offline.
 * Both are made on first start and reused after. */
#include "engine_int.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wf_error.h"

static int
read_hex_file(const char *path, uint8_t *out, size_t n, char *err, size_t errlen)
{
    char buf[300];
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[got] = 0;
    size_t len = strcspn(buf, "\r\n");
    size_t bin = 0;
    if (len != 2 * n || sodium_hex2bin(out, n, buf, len, NULL, &bin, NULL) != 0 || bin != n) {
        snprintf(err, errlen, "%s must hold %zu hex digits", path, 2 * n);
        return -1;
    }
    return 0;
}

static int
write_hex_file(const char *path, const uint8_t *in, size_t n, mode_t mode, bool exclusive,
               char *err, size_t errlen)
{
    char hex[300];
    sodium_bin2hex(hex, sizeof hex, in, n);
    size_t len = strlen(hex);
    hex[len++] = '\n';
    int fd = open(path, O_WRONLY | O_CREAT | (exclusive ? O_EXCL : O_TRUNC), mode);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    bool ok = fchmod(fd, mode) == 0 && write(fd, hex, len) == (ssize_t)len && fsync(fd) == 0;
    int e = errno;
    close(fd);
    sodium_memzero(hex, sizeof hex);
    if (!ok) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
        unlink(path);
        return -1;
    }
    return 0;
}

int
wf_signkey__load(const char *dir, uint8_t pk[32], uint8_t sk[64], char *err, size_t errlen)
{
    char kpath[4200], ppath[4200];
    snprintf(kpath, sizeof kpath, "%s/sign.key", dir);
    snprintf(ppath, sizeof ppath, "%s/sign.pub", dir);
    struct stat st;
    if (stat(kpath, &st) != 0) {
        if (errno != ENOENT) {
            snprintf(err, errlen, "cannot stat %s: %s", kpath, strerror(errno));
            return WF_E_INTERNAL;
        }
        crypto_sign_keypair(pk, sk);
        if (write_hex_file(kpath, sk, 64, 0600, true, err, errlen) != 0 ||
            write_hex_file(ppath, pk, 32, 0644, false, err, errlen) != 0)
            return WF_E_INTERNAL;
        return WF_OK;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s is not a regular file", kpath);
        return WF_E_FIELD;
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen, "%s is readable by others (mode %04o): the signing key must be "
                 "secret; chmod 600 it", kpath, (unsigned)(st.st_mode & 07777));
        return WF_E_AUTH;
    }
    if (read_hex_file(kpath, sk, 64, err, errlen) != 0)
        return WF_E_FIELD;
    crypto_sign_ed25519_sk_to_pk(pk, sk);
    uint8_t seed[32], pk2[32], sk2[64];
    crypto_sign_ed25519_sk_to_seed(seed, sk);
    crypto_sign_seed_keypair(pk2, sk2, seed);
    bool whole = memcmp(pk2, pk, 32) == 0;
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(sk2, sizeof sk2);
    if (!whole) {
        snprintf(err, errlen, "%s is not an Ed25519 key pair (its public half does not match "
                 "its seed)", kpath);
        return WF_E_FIELD;
    }
    uint8_t have[32];
    char perr[256];
    if (read_hex_file(ppath, have, 32, perr, sizeof perr) != 0) {
        if (write_hex_file(ppath, pk, 32, 0644, false, err, errlen) != 0)
            return WF_E_INTERNAL;
    } else if (memcmp(have, pk, 32) != 0) {
        snprintf(err, errlen, "%s does not match %s", ppath, kpath);
        return WF_E_FIELD;
    }
    return WF_OK;
}

const uint8_t *
wf_engine_public_key(const wf_engine_t *self)
{
    return self->sign_pk;
}

int
wf_op__engine_key(wf_exec_t *x)
{
    uint8_t *k = wf_arena__alloc(&x->e->arena, 32);
    memcpy(k, x->e->sign_pk, 32);
    x->reply->key = k;
    return WF_OK;
}
