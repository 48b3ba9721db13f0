/* Hazardous-waste licences and point-to-point lanes (DESIGN.md "Licence").
 * A licence lets a consumer receive the codes its patterns cover, up to a
 * capacity per calendar year (China Standard Time), until it expires. A
 * lane lets one producer send one code to one consumer without a licence.
 * Pure C: code coverage is asked of the caller (the catalogue lives in the
 * matcher), so this library depends on nothing. */
#ifndef WF_LICENCE_H
#define WF_LICENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WF_LICENCE_PATTERNS 16

typedef struct wf_licence {
    uint32_t firm;             /* the consumer's firm number */
    uint8_t npatterns;
    int32_t patterns[WF_LICENCE_PATTERNS]; /* catalogue ids */
    int64_t capacity;          /* kg per calendar year */
    int64_t valid_until;       /* unix ms; valid while now < valid_until */
    int32_t year;              /* calendar year `used` counts for */
    int64_t used;              /* kg received in `year` */
} wf_licence_t;

typedef struct wf_lane {
    uint32_t producer, consumer;
    int32_t code;              /* catalogue id of the code (or a category) */
} wf_lane_t;

/* Does pattern cover code? Supplied by the caller. */
typedef bool (*wf_covers_fn)(void *ctx, int32_t pattern, int32_t code);

/* The calendar year of unix ms t in China Standard Time (UTC+8). */
int32_t wf_licence_year(int64_t t);

/* Capacity left for code under licence l at now: 0 when the licence does not
 * cover the code or has expired; the year's usage resets when the year
 * changes. */
int64_t wf_licence_left(const wf_licence_t *l, int32_t code, int64_t now, wf_covers_fn covers,
                        void *ctx);

/* Records qty received at now (starting a new year's count when needed). */
void wf_licence_use(wf_licence_t *l, int64_t qty, int64_t now);

/* True when a lane in lanes[0..n) lets producer send code to consumer. */
bool wf_lane_allows(const wf_lane_t *lanes, size_t n, uint32_t producer, uint32_t consumer,
                    int32_t code, wf_covers_fn covers, void *ctx);

#endif
