/* Manifest tokens: round trip, tamper detection, malformed input. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>

#include "core/wf_error.h"
#include "engine/token.h"

static uint8_t pk[32], sk[64];

static void
keys(void)
{
    cr_assert(sodium_init() >= 0);
    crypto_sign_keypair(pk, sk);
}

static wf_token_t
sample(void)
{
    wf_token_t t;
    memset(&t, 0, sizeof t);
    strcpy(t.m, "F42");
    strcpy(t.s, "LOADED");
    t.q = 12000;
    strcpy(t.c, "900-249-08");
    strcpy(t.p, "91330600MA2D000001");
    strcpy(t.r, "91330600MA2D000002");
    t.t = 1795000000000LL;
    return t;
}

Test(token, round_trip, .init = keys)
{
    wf_token_t t = sample(), back;
    char text[WF_TOKEN_MAX];
    cr_assert_eq(wf_token_make(sk, &t, text), WF_OK);
    cr_assert(strncmp(text, "WF1.", 4) == 0);
    cr_assert_null(strchr(text, '='), "base64url without padding");
    cr_assert_eq(wf_token_check(pk, text, &back), WF_OK);
    cr_assert_str_eq(back.m, "F42");
    cr_assert_str_eq(back.s, "LOADED");
    cr_assert_eq(back.q, 12000);
    cr_assert_str_eq(back.c, "900-249-08");
    cr_assert_str_eq(back.p, t.p);
    cr_assert_str_eq(back.r, t.r);
    cr_assert_eq(back.t, t.t);
}

Test(token, any_changed_character_fails, .init = keys)
{
    wf_token_t t = sample(), back;
    char text[WF_TOKEN_MAX];
    wf_token_make(sk, &t, text);
    size_t n = strlen(text);
    for (size_t i = 0; i < n; i++) {
        char saved = text[i];
        text[i] = saved == 'A' ? 'B' : 'A';
        cr_assert_neq(wf_token_check(pk, text, &back), WF_OK, "changed char %zu accepted", i);
        text[i] = saved;
    }
    cr_assert_eq(wf_token_check(pk, text, &back), WF_OK);
}

Test(token, other_key_fails, .init = keys)
{
    wf_token_t t = sample(), back;
    char text[WF_TOKEN_MAX];
    uint8_t pk2[32], sk2[64];
    crypto_sign_keypair(pk2, sk2);
    wf_token_make(sk, &t, text);
    cr_assert_eq(wf_token_check(pk2, text, &back), WF_E_AUTH);
}

Test(token, malformed_is_parse_error, .init = keys)
{
    wf_token_t back;
    const char *bad[] = {"", "WF1.", "WF2.abc.def", "WF1.abc", "WF1.!!!.abc", "WF1.gqFt.AAAA", "hello"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(wf_token_check(pk, bad[i], &back), WF_E_PARSE, "%s", bad[i]);
}

Test(token, b64url_known_vectors)
{
    char out[16];
    uint8_t dec[16];
    cr_assert_eq(wf_b64url_encode((const uint8_t *)"f", 1, out), 2);
    cr_assert_str_eq(out, "Zg");
    wf_b64url_encode((const uint8_t *)"foob", 4, out);
    cr_assert_str_eq(out, "Zm9vYg");
    wf_b64url_encode((const uint8_t *)"\xfb\xff", 2, out);
    cr_assert_str_eq(out, "-_8");
    cr_assert_eq(wf_b64url_decode("Zm9vYmFy", 8, dec, sizeof dec), 6);
    cr_assert(memcmp(dec, "foobar", 6) == 0);
    cr_assert_eq(wf_b64url_decode("Zh", 2, dec, sizeof dec), -1, "non-canonical bits");
    cr_assert_eq(wf_b64url_decode("Z", 1, dec, sizeof dec), -1);
}
