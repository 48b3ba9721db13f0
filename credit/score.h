/* Credit scores and tiers (DESIGN.md "Credit"). Pure C: the engine hands
 * it a firm's operator-set base and its credit events, and gets back the
 * live score, the tier and the six-dimension view of a city credit panel.
 * Time comes in as an argument, so expiry needs no one to touch anything. */
#ifndef WF_SCORE_H
#define WF_SCORE_H

#include <stddef.h>
#include <stdint.h>

#define WF_CREDIT_NOTE_LEN 160
/* Default validity of a credit event: two years. */
#define WF_CREDIT_VALIDITY_MS (2LL * 365 * 24 * 3600 * 1000)

/* The six dimensions of a city credit panel. Stored: never renumber. */
typedef enum wf_credit_kind {
    WF_CREDIT_PENALTY = 0,     /* administrative penalty */
    WF_CREDIT_MANIFEST = 1,    /* manifest and ledger */
    WF_CREDIT_TRANSPORT = 2,
    WF_CREDIT_DISCREPANCY = 3, /* quantity discrepancy */
    WF_CREDIT_REPORTING = 4,   /* data reporting */
    WF_CREDIT_CONDUCT = 5,     /* trade conduct */
    WF_CREDIT__COUNT
} wf_credit_kind_t;

typedef struct wf_credit_event {
    int64_t recorded;   /* unix ms */
    int64_t expires;    /* unix ms; the event counts while now < expires */
    int32_t points;     /* signed */
    uint8_t kind;       /* wf_credit_kind_t */
    char note[WF_CREDIT_NOTE_LEN];
} wf_credit_event_t;

/* Tier bounds set by the operator: A >= a, B >= b, C >= c, D below. */
typedef struct wf_tiers {
    int32_t a, b, c;
} wf_tiers_t;

/* Clamps a raw score to 0..100. */
int32_t wf_credit_clamp(int64_t raw);

/* The tier letter 'A'..'D' of score under bounds t. */
char wf_credit_tier(int32_t score, const wf_tiers_t *t);

/* The live score: base plus the points of the events active at now,
 * clamped to 0..100. When by_kind is not NULL it receives the sum of active
 * points per kind (unclamped). */
int32_t wf_credit_score(int32_t base, const wf_credit_event_t *ev, size_t n, int64_t now,
                        int32_t by_kind[WF_CREDIT__COUNT]);

/* The earliest expiry after now among the events, or 0 when none: the
 * moment the score may next change by itself. */
int64_t wf_credit_next_expiry(const wf_credit_event_t *ev, size_t n, int64_t now);

/* Protocol names: "penalty", "manifest", "transport", "discrepancy",
 * "reporting", "conduct". NULL / -1 for unknown. */
const char *wf_credit_kind_name(int kind);
int wf_credit_kind_from_name(const char *name);

#endif
