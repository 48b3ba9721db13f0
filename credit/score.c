/* Score arithmetic and tiers (see score.h). */
#include "score.h"

int32_t
wf_credit_clamp(int64_t raw)
{
    if (raw < 0)
        return 0;
    if (raw > 100)
        return 100;
    return (int32_t)raw;
}

char
wf_credit_tier(int32_t score, const wf_tiers_t *t)
{
    if (score >= t->a)
        return 'A';
    if (score >= t->b)
        return 'B';
    if (score >= t->c)
        return 'C';
    return 'D';
}
