/* Great-circle distance, the matcher's one distance rule (see geo.h). The
 * haversine form stays accurate for the short distances that dominate a
 * city's exchange, where the spherical law of cosines loses digits. */
#include "geo.h"

#include <math.h>

#define DEG (M_PI / 180.0)

double
wf_geo_km(double lat1, double lon1, double lat2, double lon2)
{
    double dlat = (lat2 - lat1) * DEG, dlon = (lon2 - lon1) * DEG;
    double s1 = sin(dlat / 2), s2 = sin(dlon / 2);
    double a = s1 * s1 + cos(lat1 * DEG) * cos(lat2 * DEG) * s2 * s2;
    if (a > 1.0) /* rounding near the antipode */
        a = 1.0;
    return 2.0 * WF_EARTH_KM * asin(sqrt(a));
}
