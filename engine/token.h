/* Manifest tokens: the signed text on a load's QR code. A token is
 * "WF1." + base64url(payload) + "." + base64url(signature), unpadded; the
 * payload is a msgpack map {m, s, q, c, p, r, t} and the signature is
 * Ed25519 over the payload bytes exactly as encoded. Anyone holding the
 * engine's public key can verify one offline (docs/protocol.md). */
#ifndef WF_TOKEN_H
#define WF_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define WF_TOKEN_MAX 512 /* longest token text including NUL */
#define WF_TOKEN_STATE_LEN 12

typedef struct wf_token {
    char m[24];                  /* manifest id "F12" */
    char s[WF_TOKEN_STATE_LEN];  /* OPEN, DISPATCHED, LOADED, UNLOADED, CLOSED, CANCELLED */
    int64_t q;                   /* quantity in the code's unit */
    char c[24];                  /* waste code */
    char p[19];                  /* producer firm */
    char r[19];                  /* receiving firm */
    int64_t t;                   /* unix ms */
} wf_token_t;

/* Encodes and signs t with the 64-byte Ed25519 secret key into out
 * (WF_TOKEN_MAX bytes). Returns WF_OK or WF_E_FIELD when a field is too
 * long to fit. */
int wf_token_make(const uint8_t sk[64], const wf_token_t *t, char out[WF_TOKEN_MAX]);

/* Parses and verifies text with the 32-byte public key. Returns WF_OK with
 * *t filled, WF_E_PARSE for a malformed token, WF_E_AUTH for a signature
 * that does not verify. */
int wf_token_check(const uint8_t pk[32], const char *text, wf_token_t *t);

/* base64url without padding. Returns the encoded length (out must hold
 * 4*ceil(n/3)+1 bytes) / the decoded length, or -1 on a bad character. */
size_t wf_b64url_encode(const uint8_t *in, size_t n, char *out);
long wf_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap);

#endif
