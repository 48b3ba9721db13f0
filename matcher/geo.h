/* Great-circle distance on the WGS-84 mean sphere, the one distance rule of
 * the matcher (R = 6371.0088 km, haversine). */
#ifndef WF_GEO_H
#define WF_GEO_H

#define WF_EARTH_KM 6371.0088

/* Distance in km between two points given in degrees. */
double wf_geo_km(double lat1, double lon1, double lat2, double lon2);

#endif
