/* The catalogue: the shipped data/catalogue.tsv (counts, known codes, the
 * pattern rule) and the strict loader (every malformed file is refused with
 * file:line and leaves the catalogue as it was). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "matcher/catalogue.h"
#include "core/wf_error.h"

#define HEADER "code\tparent\tclass\tunit\thazard\tname\n"

static wf_catalogue_t *cat;

static void
setup(void)
{
    char err[256];
    cat = wf_catalogue_new();
    cr_assert_not_null(cat);
    int rc = wf_catalogue_load(cat, WUFEI_CATALOGUE, err, sizeof err);
    cr_assert_eq(rc, WF_OK, "load failed: %s", err);
}

static void
teardown(void)
{
    wf_catalogue_destroy(&cat);
    cr_assert_null(cat);
}

static const wf_code_t *
get(const char *code)
{
    int32_t id = wf_catalogue_find(cat, code);
    cr_assert_geq(id, 0, "%s not found", code);
    return wf_catalogue_get(cat, id);
}

static bool
covers(const char *pattern, const char *code)
{
    return wf_catalogue_covers(cat, wf_catalogue_find(cat, pattern), wf_catalogue_find(cat, code));
}

/* Writes text to a fresh temporary file; fills path. */
static void
temp_file(char *path, size_t len, const char *text)
{
    snprintf(path, len, "/tmp/wf_cat_XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    size_t n = strlen(text);
    cr_assert_eq(write(fd, text, n), (ssize_t)n);
    close(fd);
}

TestSuite(catalogue, .init = setup, .fini = teardown);

Test(catalogue, counts)
{
    size_t hw_codes = 0, hw_cats = 0, sw = 0, n = wf_catalogue_count(cat);
    for (int32_t id = 0; (size_t)id < n; id++) {
        const wf_code_t *e = wf_catalogue_get(cat, id);
        if (e->cls == WF_CLASS_HAZARDOUS && e->parent >= 0)
            hw_codes++;
        if (e->cls == WF_CLASS_HAZARDOUS && e->parent < 0)
            hw_cats++;
        if (e->cls == WF_CLASS_INDUSTRIAL)
            sw++;
        cr_assert_eq(wf_catalogue_find(cat, e->code), id, "%s", e->code);
    }
    cr_assert_eq(hw_codes, 467);
    cr_assert_eq(hw_cats, 46);
    cr_assert_geq(sw, 17);
    cr_assert_eq(n, 46 + 467 + sw + 16); /* CON, AGR, REC with 4 + 3 + 6 kinds */
}

Test(catalogue, hazardous_codes)
{
    const wf_code_t *e = get("900-249-08");
    cr_assert_str_eq(e->code, "900-249-08");
    cr_assert_eq(e->parent, wf_catalogue_find(cat, "HW08"));
    cr_assert(e->hazardous);
    cr_assert(e->leaf);
    cr_assert_eq(e->cls, WF_CLASS_HAZARDOUS);
    cr_assert_eq(e->unit, WF_UNIT_KG);
    cr_assert_str_eq(e->hazard, "T,I");
    cr_assert_str_eq(e->name, "其他生产、销售、使用过程中产生的废矿物油及沾染矿物油的废弃包装物");

    e = get("841-001-01");
    cr_assert_str_eq(e->hazard, "In");
    cr_assert_str_eq(e->name, "感染性废物");
    cr_assert_eq(e->parent, wf_catalogue_find(cat, "HW01"));

    e = get("HW08");
    cr_assert_eq(e->parent, -1);
    cr_assert(e->hazardous);
    cr_assert_not(e->leaf);
    cr_assert_str_eq(e->hazard, "");
    cr_assert_str_eq(e->name, "废矿物油与含矿物油废物");

    cr_assert_str_eq(get("841-004-01")->hazard, "T/C/I/R");
    cr_assert_eq(wf_catalogue_find(cat, "HW41"), -1); /* HW41..HW44 are not in the 2021 list */
    cr_assert_geq(wf_catalogue_find(cat, "HW50"), 0);
}

Test(catalogue, other_classes)
{
    const wf_code_t *e = get("SW07");
    cr_assert_eq(e->cls, WF_CLASS_INDUSTRIAL);
    cr_assert_eq(e->parent, -1);
    cr_assert(e->leaf);
    cr_assert_not(e->hazardous);
    cr_assert_str_eq(e->hazard, "");
    cr_assert_str_eq(e->name, "污泥");
    cr_assert_geq(wf_catalogue_find(cat, "SW01"), 0);
    cr_assert_geq(wf_catalogue_find(cat, "SW59"), 0);

    cr_assert_eq(get("CON01")->unit, WF_UNIT_L);
    cr_assert_eq(get("CON02")->unit, WF_UNIT_L);
    cr_assert_eq(get("CON03")->unit, WF_UNIT_KG);
    cr_assert_eq(get("CON01")->cls, WF_CLASS_CONSTRUCTION);
    cr_assert_eq(get("AGR01")->cls, WF_CLASS_AGRICULTURAL);
    cr_assert_eq(get("REC03")->cls, WF_CLASS_RECYCLABLE);
    cr_assert_str_eq(get("REC03")->name, "废钢铁");
    cr_assert_not(get("CON")->leaf);
}

Test(catalogue, find_is_exact)
{
    cr_assert_eq(wf_catalogue_find(cat, "hw08"), -1);
    cr_assert_eq(wf_catalogue_find(cat, "900-249-0"), -1);
    cr_assert_eq(wf_catalogue_find(cat, ""), -1);
    cr_assert_eq(wf_catalogue_find(cat, "-"), -1);
}

Test(catalogue, covers)
{
    cr_assert(covers("900-249-08", "900-249-08"));
    cr_assert(covers("HW08", "900-249-08"));
    cr_assert(covers("HW08", "HW08"));
    cr_assert_not(covers("900-249-08", "HW08"));
    cr_assert_not(covers("HW09", "900-249-08"));
    cr_assert_not(covers("900-214-08", "900-249-08"));
    cr_assert(covers("CON", "CON02"));
    cr_assert_not(covers("CON", "AGR01"));
    cr_assert_not(covers("SW07", "SW09"));
    int32_t hw08 = wf_catalogue_find(cat, "HW08");
    cr_assert_not(wf_catalogue_covers(cat, -1, hw08));
    cr_assert_not(wf_catalogue_covers(cat, hw08, -1));
    cr_assert_not(wf_catalogue_covers(cat, hw08, (int32_t)wf_catalogue_count(cat)));
}

Test(catalogue, class_names)
{
    cr_assert_str_eq(wf_class_name(WF_CLASS_HAZARDOUS), "hazardous");
    cr_assert_str_eq(wf_class_name(WF_CLASS_INDUSTRIAL), "industrial");
    cr_assert_str_eq(wf_class_name(WF_CLASS_CONSTRUCTION), "construction");
    cr_assert_str_eq(wf_class_name(WF_CLASS_AGRICULTURAL), "agricultural");
    cr_assert_str_eq(wf_class_name(WF_CLASS_RECYCLABLE), "recyclable");
    cr_assert_str_eq(wf_class_name(WF_CLASS_OTHER), "other");
}

Test(catalogue, extension_file)
{
    const wf_code_t *sw07 = get("SW07");
    wf_code_t before = *sw07;
    size_t n = wf_catalogue_count(cat);
    char path[64], err[256];
    temp_file(path, sizeof path,
              HEADER "ISW-07\tSW07\tindustrial\tkg\t-\t污泥（城市）\n"
                     "ISW-07-01-01\tISW-07\tindustrial\tkg\t-\t印染污泥\n"
                     "HW08-X\tHW08\thazardous\tkg\tT\t测试危险废物\n");
    cr_assert_eq(wf_catalogue_load(cat, path, err, sizeof err), WF_OK, "%s", err);
    unlink(path);
    cr_assert_eq(wf_catalogue_count(cat), n + 3);
    /* Pointers handed out before stay valid and keep their content. */
    cr_assert_eq(get("SW07"), sw07);
    cr_assert_str_eq(sw07->name, before.name);
    cr_assert_not(sw07->leaf);
    cr_assert(get("ISW-07-01-01")->leaf);
    cr_assert_not(get("ISW-07")->leaf);
    cr_assert(covers("SW07", "ISW-07-01-01"));
    cr_assert(covers("ISW-07", "ISW-07-01-01"));
    cr_assert_not(covers("ISW-07-01-01", "ISW-07"));
    cr_assert(get("HW08-X")->hazardous);
    cr_assert(covers("HW08", "HW08-X"));
}

/* Each malformed file must be refused with its name and the bad line, and
 * leave the catalogue exactly as it was (count, lookups, leaf flags). */
static void
refuse(const char *text, size_t line, const char *why)
{
    size_t n = wf_catalogue_count(cat);
    char path[64], err[256], where[96];
    temp_file(path, sizeof path, text);
    int rc = wf_catalogue_load(cat, path, err, sizeof err);
    unlink(path);
    cr_assert_eq(rc, WF_E_FIELD, "accepted: %s", why);
    snprintf(where, sizeof where, "%s:%zu: ", path, line);
    cr_assert(strncmp(err, where, strlen(where)) == 0, "%s: message \"%s\", expected \"%s...\"",
              why, err, where);
    cr_assert_eq(wf_catalogue_count(cat), n, "%s", why);
    cr_assert_eq(wf_catalogue_find(cat, "NEW1"), -1, "%s", why);
    cr_assert_eq(wf_catalogue_find(cat, "NEW2"), -1, "%s", why);
    cr_assert(get("SW01")->leaf, "%s", why);
    cr_assert(get("900-249-08")->leaf, "%s", why);
}

Test(catalogue, refuses_malformed_files)
{
    /* The good rows come first so each failure has something to roll back. */
    const char *ok = "NEW1\tSW01\tindustrial\tkg\t-\t新一\n"
                     "NEW2\t900-249-08\thazardous\tkg\tT\t新二\n";
    char text[1024];
#define BAD(row, why)                                                                              \
    do {                                                                                           \
        snprintf(text, sizeof text, HEADER "%s%s", ok, row);                                       \
        refuse(text, 4, why);                                                                      \
    } while (0)
    BAD("NEW3\tSW01\tindustrial\tkg\t-\n", "five fields");
    BAD("NEW3\tSW01\tindustrial\tkg\t-\tx\ty\n", "seven fields");
    BAD("NEW1\t-\tindustrial\tkg\t-\t重复\n", "duplicate within the file");
    BAD("SW07\t-\tindustrial\tkg\t-\t重复\n", "duplicate of a loaded code");
    BAD("NEW3\tNOPE\tindustrial\tkg\t-\tx\n", "unknown parent");
    BAD("NEW3\tNEW4\tindustrial\tkg\t-\tx\nNEW4\t-\tindustrial\tkg\t-\ty\n", "child before parent");
    BAD("NEW3\t-\tgeneral\tkg\t-\tx\n", "unknown class");
    BAD("NEW3\t-\tindustrial\tt\t-\tx\n", "unknown unit");
    BAD("NEW3\t-\tindustrial\tkg\tT\tx\n", "hazard on general waste");
    BAD("NEW3\t-\thazardous\tkg\tT 1\tx\n", "bad hazard text");
    BAD("NEW3\t-\tindustrial\tkg\t\tx\n", "empty hazard field");
    BAD("NEW3\t-\tindustrial\tkg\t-\t\n", "empty name");
    BAD("NEW3\tSW01\thazardous\tkg\tT\tx\n", "class differs from parent");
    BAD("NEW3 X\t-\tindustrial\tkg\t-\tx\n", "space in code");
    BAD("\t-\tindustrial\tkg\t-\tx\n", "empty code");
    BAD("-\t-\tindustrial\tkg\t-\tx\n", "code -");
    BAD("ABCDEFGHIJKLMNOPQRSTUVWXYZ\t-\tindustrial\tkg\t-\tx\n", "code too long");
    BAD("NEW3\t-\tindustrial\tkg\t-\tx\r\n", "CR line ending");
    BAD("\n", "empty line");
    BAD("NEW3\t-\tindustrial\tkg\t-\t\xe5\xba\n", "truncated UTF-8");
    BAD("NEW3\t-\tindustrial\tkg\t-\t\xc0\xaf\n", "overlong UTF-8");
    BAD("NEW3\t-\tindustrial\tkg\t-\ta\x01" "b\n", "control character in name");
#undef BAD

    refuse("code\tparent\tclass\tunit\thazard\n", 1, "short header");
    refuse("NEW1\tSW01\tindustrial\tkg\t-\tx\n", 1, "missing header");
    refuse("", 1, "empty file");

    char err[256];
    size_t n = wf_catalogue_count(cat);
    cr_assert_eq(wf_catalogue_load(cat, "/nonexistent/catalogue.tsv", err, sizeof err),
                 WF_E_FIELD);
    cr_assert(strstr(err, "/nonexistent/catalogue.tsv") != NULL, "%s", err);
    cr_assert_eq(wf_catalogue_count(cat), n);
}

Test(catalogue, header_only_and_no_final_newline)
{
    char path[64], err[256];
    size_t n = wf_catalogue_count(cat);
    temp_file(path, sizeof path, HEADER);
    cr_assert_eq(wf_catalogue_load(cat, path, err, sizeof err), WF_OK, "%s", err);
    unlink(path);
    cr_assert_eq(wf_catalogue_count(cat), n);
    temp_file(path, sizeof path, HEADER "NEW1\t-\tother\tkg\t-\t其他");
    cr_assert_eq(wf_catalogue_load(cat, path, err, sizeof err), WF_OK, "%s", err);
    unlink(path);
    cr_assert_eq(get("NEW1")->cls, WF_CLASS_OTHER);
}

Test(catalogue, many_rows_grow_the_table)
{
    /* Enough rows to grow the hash table and add blocks mid-load, then fail
     * on the last line: all of it must roll back. */
    size_t n = wf_catalogue_count(cat);
    size_t cap = 64 + 40 * 3000;
    char *text = malloc(cap), path[64], err[256];
    size_t len = (size_t)snprintf(text, cap, HEADER);
    for (int i = 0; i < 3000; i++)
        len += (size_t)snprintf(text + len, cap - len, "X%d\tSW01\tindustrial\tkg\t-\tx\n", i);
    temp_file(path, sizeof path, text);
    cr_assert_eq(wf_catalogue_load(cat, path, err, sizeof err), WF_OK, "%s", err);
    unlink(path);
    cr_assert_eq(wf_catalogue_count(cat), n + 3000);
    cr_assert_eq(get("X2999")->parent, wf_catalogue_find(cat, "SW01"));

    wf_catalogue_destroy(&cat);
    setup();
    snprintf(text + len, cap - len, "BAD\tNOPE\tindustrial\tkg\t-\tx\n");
    temp_file(path, sizeof path, text);
    cr_assert_eq(wf_catalogue_load(cat, path, err, sizeof err), WF_E_FIELD);
    unlink(path);
    cr_assert(strstr(err, ":3002: ") != NULL, "%s", err);
    cr_assert_eq(wf_catalogue_count(cat), n);
    cr_assert_eq(wf_catalogue_find(cat, "X10"), -1);
    cr_assert(get("SW01")->leaf);
    for (int32_t id = 0; (size_t)id < n; id++)
        cr_assert_eq(wf_catalogue_find(cat, wf_catalogue_get(cat, id)->code), id);
    free(text);
}
