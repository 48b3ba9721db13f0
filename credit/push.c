/* Push ordering (see push.h). */
#include "push.h"

#include <stdlib.h>

static int
cmp_push(const void *a, const void *b)
{
    const wf_push_t *x = a, *y = b;
    if (x->due != y->due)
        return x->due < y->due ? -1 : 1;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->firm != y->firm)
        return x->firm < y->firm ? -1 : 1;
    return x->sub < y->sub ? -1 : x->sub > y->sub;
}

size_t
wf_push_plan(const wf_push_target_t *targets, size_t n, const wf_tiers_t *tiers,
             int64_t delay_b, int64_t delay_c, int64_t now, wf_push_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const wf_push_target_t *t = &targets[i];
        if (t->blocked)
            continue;
        char tier = wf_credit_tier(t->score, tiers);
        int64_t delay;
        switch (tier) {
        case 'A': delay = 0; break;
        case 'B': delay = delay_b; break;
        case 'C': delay = delay_c; break;
        default: continue;
        }
        out[k++] = (wf_push_t){t->firm, t->sub, t->score, tier, now + delay};
    }
    if (k > 1) /* out may be NULL when n is 0 */
        qsort(out, k, sizeof *out, cmp_push);
    return k;
}
