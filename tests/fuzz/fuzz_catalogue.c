/* libFuzzer target: the catalogue file parser. Each input is written to
 * one temporary file and loaded into a fresh catalogue: it loads or is
 * refused with a message naming the line, and a loaded catalogue answers
 * find and covers consistently for every code it holds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "matcher/catalogue.h"
#include "wf_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static void
remove_file(void)
{
    unlink(path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        /* a memory-backed directory when there is one: a file per input */
        snprintf(path, sizeof path, "%s/wufei-fuzz-cat-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        int fd = mkstemp(path);
        if (fd < 0)
            abort();
        close(fd);
        atexit(remove_file);
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    wf_catalogue_t *cat = wf_catalogue_new();
    char err[256] = "";
    int rc = wf_catalogue_load(cat, path, err, sizeof err);
    if (rc != WF_OK && !err[0])
        abort();
    size_t n = wf_catalogue_count(cat);
    if (rc != WF_OK && n != 0)
        abort(); /* a refused file leaves the catalogue unchanged (empty) */
    for (size_t i = 0; i < n && i < 512; i++) {
        const wf_code_t *c = wf_catalogue_get(cat, (int32_t)i);
        if (wf_catalogue_find(cat, c->code) != (int32_t)i)
            abort();
        if (!wf_catalogue_covers(cat, (int32_t)i, (int32_t)i))
            abort();
        if (c->parent >= 0 && !wf_catalogue_covers(cat, c->parent, (int32_t)i))
            abort();
    }
    wf_catalogue_destroy(&cat);
    return 0;
}
