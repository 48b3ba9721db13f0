/* The distance rule: haversine on a sphere of R = 6371.0088 km, checked
 * against closed forms and against an independent chord-length formula. */
#include <criterion/criterion.h>
#include <math.h>

#include "matcher/geo.h"

/* Central angle from the straight chord between the two unit vectors: a
 * different formula from the haversine, so it checks the implementation
 * rather than repeating it. */
static double
chord_km(double lat1, double lon1, double lat2, double lon2)
{
    double r = M_PI / 180.0;
    double x1 = cos(lat1 * r) * cos(lon1 * r), y1 = cos(lat1 * r) * sin(lon1 * r), z1 = sin(lat1 * r);
    double x2 = cos(lat2 * r) * cos(lon2 * r), y2 = cos(lat2 * r) * sin(lon2 * r), z2 = sin(lat2 * r);
    double c = sqrt((x1 - x2) * (x1 - x2) + (y1 - y2) * (y1 - y2) + (z1 - z2) * (z1 - z2));
    return 6371.0088 * 2.0 * asin(c / 2.0);
}

Test(geo, radius)
{
    cr_assert_float_eq(WF_EARTH_KM, 6371.0088, 1e-12);
}

Test(geo, closed_forms)
{
    double deg = 6371.0088 * M_PI / 180.0; /* 111.19508 km */
    cr_assert_float_eq(wf_geo_km(30.0, 120.0, 31.0, 120.0), deg, 1e-9);
    cr_assert_float_eq(wf_geo_km(0, 0, 0, 1), deg, 1e-9);
    cr_assert_float_eq(wf_geo_km(0, 0, 0, 90), 6371.0088 * M_PI / 2, 1e-9);
    cr_assert_float_eq(wf_geo_km(0, 0, 0, 180), 6371.0088 * M_PI, 1e-9);
    cr_assert_float_eq(wf_geo_km(90, 0, -90, 0), 6371.0088 * M_PI, 1e-9);
    cr_assert_float_eq(wf_geo_km(30, 120, 30, 120), 0.0, 1e-12);
}

Test(geo, shaoxing_hangzhou)
{
    /* Shaoxing city centre to Hangzhou's West Lake, about 50 km. */
    double d = wf_geo_km(30.0000, 120.5800, 30.2741, 120.1551);
    cr_assert_float_eq(d, chord_km(30.0000, 120.5800, 30.2741, 120.1551), 1e-6);
    cr_assert(d > 49.0 && d < 52.0, "d = %f", d);
    cr_assert_float_eq(wf_geo_km(30.2741, 120.1551, 30.0000, 120.5800), d, 1e-12);
}

Test(geo, against_chord_formula)
{
    static const double pts[][4] = {
        {39.9042, 116.4074, 31.2304, 121.4737},  /* Beijing - Shanghai, ~1068 km */
        {30.0, 120.58, 30.01, 120.58},           /* ~1.1 km */
        {22.5431, 114.0579, 22.5431, 114.0580},  /* ~10 m */
        {-33.87, 151.21, 51.51, -0.13},          /* Sydney - London */
        {45.0, 179.9, 45.0, -179.9},             /* across the date line */
    };
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        double a = wf_geo_km(pts[i][0], pts[i][1], pts[i][2], pts[i][3]);
        double b = chord_km(pts[i][0], pts[i][1], pts[i][2], pts[i][3]);
        cr_assert(fabs(a - b) <= 1e-6 + 1e-9 * b, "case %zu: %.9f vs %.9f", i, a, b);
    }
    double bs = wf_geo_km(39.9042, 116.4074, 31.2304, 121.4737);
    cr_assert(bs > 1060 && bs < 1075, "%f", bs);
}
