/* Allocation wrappers that abort on out-of-memory (see wf_alloc.h). */
#include "wf_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static void
oom(size_t n)
{
    fprintf(stderr, "wufei: out of memory allocating %zu bytes\n", n);
    abort();
}

void *
wf_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *
wf_calloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (!p)
        oom(count * n);
    return p;
}

void *
wf_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

void *
wf_malloc_huge(size_t n)
{
    size_t align = (size_t)2 << 20;
    n = (n + align - 1) / align * align;
    void *p = NULL;
    if (posix_memalign(&p, align, n ? n : align) != 0)
        oom(n);
#ifdef MADV_HUGEPAGE
    (void)madvise(p, n, MADV_HUGEPAGE); /* a hint: without it, ordinary pages */
#endif
    return p;
}

char *
wf_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = wf_malloc(n);
    memcpy(d, s, n);
    return d;
}

void
wf_free(void *p)
{
    free(p);
}
