/* The waste catalogue (see catalogue.h). Entries live in fixed-size blocks
 * that never move, so a wf_code_t pointer stays valid while the catalogue
 * lives even when a second file extends it; an open-addressing table maps
 * code strings to ids. A load appends as it parses and, on the first bad
 * line, rolls back to the entries it started with: loading is a start-up
 * path, so rebuilding the table on failure is cheaper to get right than a
 * staging area. */
#include "catalogue.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wf_alloc.h"
#include "wf_error.h"

#define BLOCK_SHIFT 8
#define BLOCK_SIZE (1u << BLOCK_SHIFT)
#define FIELDS 6
#define HEADER "code\tparent\tclass\tunit\thazard\tname"

struct wf_catalogue {
    wf_code_t **blocks; /* BLOCK_SIZE entries each; never moved */
    size_t nblocks;
    size_t count;
    int32_t *table;     /* open addressing, -1 = empty; size a power of two */
    size_t tcap;
};

static const char *const class_names[WF_CLASS__COUNT] = {
    "hazardous", "industrial", "construction", "agricultural", "recyclable", "other",
};

const char *
wf_class_name(wf_class_t cls)
{
    if ((unsigned)cls >= WF_CLASS__COUNT)
        return "other";
    return class_names[cls];
}

static wf_code_t *
entry(const wf_catalogue_t *self, size_t id)
{
    return &self->blocks[id >> BLOCK_SHIFT][id & (BLOCK_SIZE - 1)];
}

static uint64_t
hash_str(const char *s)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void
table_put(wf_catalogue_t *self, int32_t id)
{
    size_t mask = self->tcap - 1;
    size_t i = hash_str(entry(self, (size_t)id)->code) & mask;
    while (self->table[i] >= 0)
        i = (i + 1) & mask;
    self->table[i] = id;
}

/* Sizes the table for n entries at a load of at most one half and
 * reinserts entries 0..count-1. */
static void
table_rebuild(wf_catalogue_t *self, size_t n)
{
    size_t cap = 64;
    while (cap < 2 * n)
        cap *= 2;
    if (cap != self->tcap) {
        wf_free(self->table);
        self->table = wf_malloc(cap * sizeof *self->table);
        self->tcap = cap;
    }
    memset(self->table, 0xff, cap * sizeof *self->table);
    for (size_t id = 0; id < self->count; id++)
        table_put(self, (int32_t)id);
}

wf_catalogue_t *
wf_catalogue_new(void)
{
    wf_catalogue_t *self = wf_calloc(1, sizeof *self);
    table_rebuild(self, 0);
    return self;
}

static void
free_entry(wf_code_t *e)
{
    /* name and hazard share one allocation that starts at name. */
    wf_free((char *)e->name);
    e->name = e->hazard = NULL;
}

void
wf_catalogue_destroy(wf_catalogue_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wf_catalogue_t *self = *self_p;
    for (size_t id = 0; id < self->count; id++)
        free_entry(entry(self, id));
    for (size_t b = 0; b < self->nblocks; b++)
        wf_free(self->blocks[b]);
    wf_free(self->blocks);
    wf_free(self->table);
    wf_free(self);
    *self_p = NULL;
}

int32_t
wf_catalogue_find(const wf_catalogue_t *self, const char *code)
{
    size_t mask = self->tcap - 1;
    for (size_t i = hash_str(code) & mask; self->table[i] >= 0; i = (i + 1) & mask)
        if (strcmp(entry(self, (size_t)self->table[i])->code, code) == 0)
            return self->table[i];
    return -1;
}

const wf_code_t *
wf_catalogue_get(const wf_catalogue_t *self, int32_t id)
{
    return entry(self, (size_t)id);
}

size_t
wf_catalogue_count(const wf_catalogue_t *self)
{
    return self->count;
}

bool
wf_catalogue_covers(const wf_catalogue_t *self, int32_t pattern, int32_t code)
{
    if (pattern < 0 || code < 0 || (size_t)pattern >= self->count || (size_t)code >= self->count)
        return false;
    /* Parents precede children, so ids strictly decrease up the walk and
     * it ends within the depth of the tree. */
    for (int32_t id = code; id >= 0; id = entry(self, (size_t)id)->parent) {
        if (id == pattern)
            return true;
        if (id < pattern)
            return false;
    }
    return false;
}

/* ---- loading ------------------------------------------------------------ */

typedef struct load {
    const char *path;
    size_t line;
    char *err;
    size_t errlen;
} load_t;

static int
fail(load_t *ld, const char *fmt, ...)
{
    if (ld->err && ld->errlen) {
        int n = ld->line ? snprintf(ld->err, ld->errlen, "%s:%zu: ", ld->path, ld->line)
                         : snprintf(ld->err, ld->errlen, "%s: ", ld->path);
        if (n >= 0 && (size_t)n < ld->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return WF_E_FIELD;
}

static bool
valid_code(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= WF_CODE_LEN || strcmp(s, "-") == 0)
        return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static bool
valid_hazard(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == ',' || *s == '/'))
            return false;
    return true;
}

/* Well-formed UTF-8 without control characters. */
static bool
valid_text(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    if (!*p)
        return false;
    while (*p) {
        unsigned c = *p;
        size_t more;
        uint32_t cp;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return false;
            p++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            more = 1, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            more = 2, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            more = 3, cp = c & 0x07;
        } else {
            return false;
        }
        p++;
        for (size_t i = 0; i < more; i++, p++) {
            if ((*p & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (*p & 0x3f);
        }
        static const uint32_t min_cp[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_cp[more] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
    }
    return true;
}

static wf_code_t *
append(wf_catalogue_t *self)
{
    size_t id = self->count;
    if ((id >> BLOCK_SHIFT) >= self->nblocks) {
        self->blocks = wf_realloc(self->blocks, (self->nblocks + 1) * sizeof *self->blocks);
        self->blocks[self->nblocks++] = wf_calloc(BLOCK_SIZE, sizeof(wf_code_t));
    }
    self->count++;
    return entry(self, id);
}

/* Parses one data row (without its newline) and appends it. */
static int
add_row(wf_catalogue_t *self, load_t *ld, char *row)
{
    char *f[FIELDS];
    size_t n = 0;
    for (char *p = row;;) {
        if (n == FIELDS)
            return fail(ld, "more than %d fields", FIELDS);
        f[n++] = p;
        char *tab = strchr(p, '\t');
        if (!tab)
            break;
        *tab = '\0';
        p = tab + 1;
    }
    if (n != FIELDS)
        return fail(ld, "%zu fields, expected %d (code, parent, class, unit, hazard, name)", n,
                    FIELDS);
    const char *code = f[0], *parent = f[1], *cls_s = f[2], *unit_s = f[3], *hazard = f[4],
               *name = f[5];

    if (!valid_code(code))
        return fail(ld, "bad code \"%s\" (1..%d of A-Z a-z 0-9 - _ .)", code, WF_CODE_LEN - 1);
    if (wf_catalogue_find(self, code) >= 0)
        return fail(ld, "duplicate code %s", code);

    int cls = -1;
    for (int c = 0; c < WF_CLASS__COUNT; c++)
        if (strcmp(cls_s, class_names[c]) == 0)
            cls = c;
    if (cls < 0)
        return fail(ld, "unknown class \"%s\"", cls_s);

    int32_t pid = -1;
    if (strcmp(parent, "-") != 0) {
        pid = wf_catalogue_find(self, parent);
        if (pid < 0)
            return fail(ld, "unknown parent %s (a parent must come before its children)", parent);
        if ((int)entry(self, (size_t)pid)->cls != cls)
            return fail(ld, "class %s differs from its parent's (%s)", cls_s,
                        class_names[entry(self, (size_t)pid)->cls]);
    }

    wf_unit_t unit;
    if (strcmp(unit_s, "kg") == 0)
        unit = WF_UNIT_KG;
    else if (strcmp(unit_s, "L") == 0)
        unit = WF_UNIT_L;
    else
        return fail(ld, "unknown unit \"%s\" (kg or L)", unit_s);

    bool none = strcmp(hazard, "-") == 0;
    if (!none && !valid_hazard(hazard))
        return fail(ld, "bad hazard \"%s\" (letters, ',' and '/', or - for none)", hazard);
    if (!none && cls != WF_CLASS_HAZARDOUS)
        return fail(ld, "hazard \"%s\" on a %s entry (use -)", hazard, cls_s);

    if (!valid_text(name))
        return fail(ld, "name is empty, not UTF-8 or holds control characters");

    size_t nlen = strlen(name), hlen = none ? 0 : strlen(hazard);
    char *buf = wf_malloc(nlen + 1 + hlen + 1);
    memcpy(buf, name, nlen + 1);
    memcpy(buf + nlen + 1, none ? "" : hazard, hlen + 1);

    wf_code_t *e = append(self);
    memset(e, 0, sizeof *e);
    memcpy(e->code, code, strlen(code) + 1);
    e->parent = pid;
    e->cls = (wf_class_t)cls;
    e->unit = unit;
    e->hazardous = cls == WF_CLASS_HAZARDOUS;
    e->leaf = true;
    e->name = buf;
    e->hazard = buf + nlen + 1;
    if (pid >= 0)
        entry(self, (size_t)pid)->leaf = false;

    if (2 * self->count > self->tcap)
        table_rebuild(self, self->count);
    else
        table_put(self, (int32_t)(self->count - 1));
    return WF_OK;
}

/* Drops the entries from id keep on and restores the table and leaf flags. */
static void
rollback(wf_catalogue_t *self, size_t keep)
{
    for (size_t id = keep; id < self->count; id++)
        free_entry(entry(self, id));
    self->count = keep;
    table_rebuild(self, keep);
    for (size_t id = 0; id < keep; id++)
        entry(self, id)->leaf = true;
    for (size_t id = 0; id < keep; id++) {
        int32_t p = entry(self, id)->parent;
        if (p >= 0)
            entry(self, (size_t)p)->leaf = false;
    }
}

int
wf_catalogue_load(wf_catalogue_t *self, const char *path, char *err, size_t errlen)
{
    load_t ld = {.path = path, .line = 0, .err = err, .errlen = errlen};
    if (err && errlen)
        err[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return fail(&ld, "cannot open: %s", strerror(errno));

    size_t keep = self->count;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = WF_OK;
    while (rc == WF_OK && (len = getline(&line, &cap, f)) >= 0) {
        ld.line++;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (strlen(line) != (size_t)len)
            rc = fail(&ld, "NUL byte in line");
        else if (len > 0 && line[len - 1] == '\r')
            rc = fail(&ld, "CR line ending (use LF)");
        else if (ld.line == 1 && strcmp(line, HEADER) != 0)
            rc = fail(&ld, "header must be \"code<TAB>parent<TAB>class<TAB>unit<TAB>hazard<TAB>name\"");
        else if (ld.line > 1 && len == 0)
            rc = fail(&ld, "empty line");
        else if (ld.line > 1)
            rc = add_row(self, &ld, line);
    }
    if (rc == WF_OK && ferror(f))
        rc = fail(&ld, "read error: %s", strerror(errno));
    if (rc == WF_OK && ld.line == 0) {
        ld.line = 1;
        rc = fail(&ld, "empty file, expected a header line");
    }
    free(line); /* getline's buffer comes from malloc */
    fclose(f);
    if (rc != WF_OK)
        rollback(self, keep);
    return rc;
}
