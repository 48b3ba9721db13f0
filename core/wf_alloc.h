/* Allocation wrappers: out-of-memory aborts here, in one place, so no
 * caller carries a NULL check for a condition it cannot recover from. */
#ifndef WF_ALLOC_H
#define WF_ALLOC_H

#include <stddef.h>

void *wf_malloc(size_t n);
void *wf_calloc(size_t count, size_t n);
void *wf_realloc(void *p, size_t n);
/* n bytes for a large, long-lived block, aligned to 2 MiB and marked for
 * transparent huge pages where the system has them (one page fault per
 * 2 MiB instead of per 4 KiB when it is first written). Free with
 * wf_free. */
void *wf_malloc_huge(size_t n);
/* Caller owns the result. */
char *wf_strdup(const char *s);
void wf_free(void *p);

#endif
