/* The waste catalogue: every code an order may name, the categories that
 * group them, and the pattern rule (a code covers itself and, for a
 * category or kind, every code below it). Loaded once at start from a
 * tab-separated file (data/catalogue.tsv) and read-only afterwards. */
#ifndef WF_CATALOGUE_H
#define WF_CATALOGUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WF_CODE_LEN 24 /* longest code plus NUL: "ISW-xx-xx-xx" fits */

typedef enum wf_class {
    WF_CLASS_HAZARDOUS = 0,  /* National Hazardous Waste List, HWnn */
    WF_CLASS_INDUSTRIAL,     /* general industrial solid waste, SWnn */
    WF_CLASS_CONSTRUCTION,
    WF_CLASS_AGRICULTURAL,
    WF_CLASS_RECYCLABLE,
    WF_CLASS_OTHER,
    WF_CLASS__COUNT
} wf_class_t;

typedef enum wf_unit { WF_UNIT_KG = 0, WF_UNIT_L = 1 } wf_unit_t;

typedef struct wf_code {
    char code[WF_CODE_LEN]; /* "900-249-08", "HW08", "SW07" */
    int32_t parent;         /* catalogue id of the category, -1 at top */
    wf_class_t cls;
    wf_unit_t unit;
    bool hazardous;
    bool leaf;              /* no code lists this one as parent */
    const char *name;       /* official name, UTF-8 */
    const char *hazard;     /* "T,I", "In"; "" when not hazardous */
} wf_code_t;

typedef struct wf_catalogue wf_catalogue_t;

/* An empty catalogue. */
wf_catalogue_t *wf_catalogue_new(void);
void wf_catalogue_destroy(wf_catalogue_t **self_p);

/* Adds the rows of a catalogue file (header line, then
 * code<TAB>parent<TAB>class<TAB>unit<TAB>hazard<TAB>name, parent "-" for a
 * top-level entry; a parent must appear before its children). May be
 * called again with a city's own file to extend the catalogue.
 * Returns WF_OK, or WF_E_FIELD with a message naming file and line in err
 * (the catalogue is then unchanged). */
int wf_catalogue_load(wf_catalogue_t *self, const char *path, char *err, size_t errlen);

/* Catalogue id of code (exact, case-sensitive), or -1. */
int32_t wf_catalogue_find(const wf_catalogue_t *self, const char *code);

/* The entry with id; valid while the catalogue lives. id must be valid. */
const wf_code_t *wf_catalogue_get(const wf_catalogue_t *self, int32_t id);

size_t wf_catalogue_count(const wf_catalogue_t *self);

/* True when pattern covers code: they are equal, or pattern is an ancestor. */
bool wf_catalogue_covers(const wf_catalogue_t *self, int32_t pattern, int32_t code);

/* The class names used in the file and in stats: "hazardous", "industrial",
 * "construction", "agricultural", "recyclable", "other". */
const char *wf_class_name(wf_class_t cls);

#endif
