/* Credit scores and tiers (DESIGN.md "Credit"). Pure C: the engine feeds
 * it a firm's base credit and events and gets back the live score. */
#ifndef WF_SCORE_H
#define WF_SCORE_H

#include <stdint.h>

/* Tier bounds set by the operator: A >= a, B >= b, C >= c, D below. */
typedef struct wf_tiers {
    int32_t a, b, c;
} wf_tiers_t;

/* Clamps a raw score to 0..100. */
int32_t wf_credit_clamp(int64_t raw);

/* The tier letter 'A'..'D' of score under bounds t. */
char wf_credit_tier(int32_t score, const wf_tiers_t *t);

#endif
