/* Score arithmetic, event expiry and tiers (see score.h). */
#include "score.h"

#include <string.h>

static const char *const kind_names[WF_CREDIT__COUNT] = {
    "penalty", "manifest", "transport", "discrepancy", "reporting", "conduct",
};

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

int32_t
wf_credit_score(int32_t base, const wf_credit_event_t *ev, size_t n, int64_t now,
                int32_t by_kind[WF_CREDIT__COUNT])
{
    int64_t raw = base;
    if (by_kind)
        memset(by_kind, 0, sizeof(int32_t) * WF_CREDIT__COUNT);
    for (size_t i = 0; i < n; i++) {
        if (now >= ev[i].expires || now < ev[i].recorded)
            continue;
        raw += ev[i].points;
        if (by_kind && ev[i].kind < WF_CREDIT__COUNT)
            by_kind[ev[i].kind] += ev[i].points;
    }
    return wf_credit_clamp(raw);
}

int64_t
wf_credit_next_expiry(const wf_credit_event_t *ev, size_t n, int64_t now)
{
    int64_t next = 0;
    for (size_t i = 0; i < n; i++)
        if (ev[i].expires > now && (next == 0 || ev[i].expires < next))
            next = ev[i].expires;
    return next;
}

const char *
wf_credit_kind_name(int kind)
{
    if (kind < 0 || kind >= WF_CREDIT__COUNT)
        return NULL;
    return kind_names[kind];
}

int
wf_credit_kind_from_name(const char *name)
{
    for (int i = 0; i < WF_CREDIT__COUNT; i++)
        if (strcmp(kind_names[i], name) == 0)
            return i;
    return -1;
}
