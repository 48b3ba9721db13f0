/* Credit-weighted push ordering (DESIGN.md "Credit-weighted push"): who is
 * told about a resting order, and when. Tier A at once, B after
 * push_delay_b, C after push_delay_c, D and blacklisted firms never;
 * within the same moment, higher score first. Pure C. */
#ifndef WF_PUSH_H
#define WF_PUSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "score.h"

/* A firm whose subscription fits the order. */
typedef struct wf_push_target {
    uint32_t firm;    /* firm number */
    uint64_t sub;     /* the subscription that fits */
    int32_t score;    /* live credit score */
    bool blocked;
} wf_push_target_t;

/* One planned notification. */
typedef struct wf_push {
    uint32_t firm;
    uint64_t sub;
    int32_t score;
    char tier;
    int64_t due;      /* unix ms */
} wf_push_t;

/* Plans the notifications for n targets at time now into out (room for n)
 * and returns how many were planned: ordered by due time, then score
 * (highest first), then firm number. Tier D and blocked targets are left
 * out. */
size_t wf_push_plan(const wf_push_target_t *targets, size_t n, const wf_tiers_t *tiers,
                    int64_t delay_b, int64_t delay_c, int64_t now, wf_push_t *out);

#endif
