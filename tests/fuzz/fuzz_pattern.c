/* libFuzzer target: the pattern lookup against the shipped catalogue. The
 * input is two strings, a pattern and a code, split at the first NUL or
 * newline; each is looked up, and when both exist covers(pattern, code)
 * must equal a walk up the code's parents (the reference rule). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "matcher/catalogue.h"
#include "wf_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static wf_catalogue_t *cat;

static void
take(const uint8_t *p, size_t n, char out[WF_CODE_LEN * 2])
{
    if (n > WF_CODE_LEN * 2 - 1)
        n = WF_CODE_LEN * 2 - 1;
    memcpy(out, p, n);
    out[n] = '\0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!cat) {
        char err[256];
        cat = wf_catalogue_new();
        if (wf_catalogue_load(cat, WUFEI_CATALOGUE, err, sizeof err) != WF_OK)
            abort();
    }
    size_t cut = 0;
    while (cut < size && data[cut] != 0 && data[cut] != '\n')
        cut++;
    char pat[WF_CODE_LEN * 2], code[WF_CODE_LEN * 2];
    take(data, cut, pat);
    take(cut < size ? data + cut + 1 : data + size, cut < size ? size - cut - 1 : 0, code);
    int32_t p = wf_catalogue_find(cat, pat), c = wf_catalogue_find(cat, code);
    if (p >= (int32_t)wf_catalogue_count(cat) || c >= (int32_t)wf_catalogue_count(cat))
        abort();
    if (p >= 0 && strcmp(wf_catalogue_get(cat, p)->code, pat) != 0)
        abort();
    if (p < 0 || c < 0)
        return 0;
    bool want = false;
    for (int32_t x = c, steps = 0; x >= 0 && steps < 64; x = wf_catalogue_get(cat, x)->parent, steps++)
        if (x == p)
            want = true;
    if (wf_catalogue_covers(cat, p, c) != want)
        abort();
    return 0;
}
