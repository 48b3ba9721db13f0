/* Licence capacity by calendar year, and lanes (see licence.h). */
#include "licence.h"

#define CST_OFFSET_MS (8LL * 3600 * 1000)
#define DAY_MS (24LL * 3600 * 1000)

int32_t
wf_licence_year(int64_t t)
{
    /* Days since 1970-01-01 in CST, then the civil year (Howard Hinnant's
     * days_from_civil inverse). */
    int64_t ms = t + CST_OFFSET_MS;
    int64_t z = (ms >= 0 ? ms / DAY_MS : (ms - DAY_MS + 1) / DAY_MS) + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    return (int32_t)(yoe + era * 400 + (m <= 2));
}

int64_t
wf_licence_left(const wf_licence_t *l, int32_t code, int64_t now, wf_covers_fn covers, void *ctx)
{
    if (now >= l->valid_until)
        return 0;
    bool covered = false;
    for (int i = 0; i < l->npatterns && !covered; i++)
        covered = covers(ctx, l->patterns[i], code);
    if (!covered)
        return 0;
    int64_t used = wf_licence_year(now) == l->year ? l->used : 0;
    return used >= l->capacity ? 0 : l->capacity - used;
}

void
wf_licence_use(wf_licence_t *l, int64_t qty, int64_t now)
{
    int32_t year = wf_licence_year(now);
    if (year != l->year) {
        l->year = year;
        l->used = 0;
    }
    l->used += qty;
}

bool
wf_lane_allows(const wf_lane_t *lanes, size_t n, uint32_t producer, uint32_t consumer,
               int32_t code, wf_covers_fn covers, void *ctx)
{
    for (size_t i = 0; i < n; i++)
        if (lanes[i].producer == producer && lanes[i].consumer == consumer &&
            covers(ctx, lanes[i].code, code))
            return true;
    return false;
}
