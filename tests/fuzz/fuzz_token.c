/* libFuzzer target: manifest tokens. The first byte picks the mode: the
 * input as token text for wf_token_check, or the input as a payload that
 * this harness signs, so the fuzzer also reaches the accepted path. A
 * token never crashes the parser; an accepted one re-encodes to itself. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/token.h"
#include "wf_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t pk[32], sk[64];
static int ready;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) {
        uint8_t seed[32];
        memset(seed, 7, sizeof seed);
        if (sodium_init() < 0 || crypto_sign_seed_keypair(pk, sk, seed) != 0)
            abort();
        ready = 1;
    }
    if (size == 0)
        return 0;
    char text[WF_TOKEN_MAX + 64];
    wf_token_t t;
    if (data[0] & 1) {
        /* text as given (NUL-terminated; may be longer than a token) */
        size_t n = size - 1 < sizeof text - 1 ? size - 1 : sizeof text - 1;
        memcpy(text, data + 1, n);
        text[n] = '\0';
        int rc = wf_token_check(pk, text, &t);
        if (rc != WF_OK && rc != WF_E_PARSE && rc != WF_E_AUTH)
            abort();
        if (rc == WF_OK) {
            char again[WF_TOKEN_MAX];
            if (wf_token_make(sk, &t, again) != WF_OK)
                abort();
        }
        return 0;
    }
    /* a payload, signed here */
    size_t np = size - 1;
    if (np > 300)
        return 0;
    uint8_t sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, data + 1, np, sk);
    char b1[4 * 101 + 1], b2[4 * 22 + 1];
    wf_b64url_encode(data + 1, np, b1);
    wf_b64url_encode(sig, sizeof sig, b2);
    snprintf(text, sizeof text, "WF1.%s.%s", b1, b2);
    int rc = wf_token_check(pk, text, &t);
    if (rc != WF_OK && rc != WF_E_PARSE)
        abort(); /* a correctly signed payload is never E_AUTH */
    if (rc == WF_OK) {
        char again[WF_TOKEN_MAX];
        wf_token_t t2;
        if (wf_token_make(sk, &t, again) != WF_OK || wf_token_check(pk, again, &t2) != WF_OK ||
            memcmp(&t, &t2, sizeof t) != 0)
            abort();
    }
    return 0;
}
