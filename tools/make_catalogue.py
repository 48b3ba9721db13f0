#!/usr/bin/env python3
"""Build wufei's default waste catalogue, data/catalogue.tsv.

The catalogue is the one file the matcher loads at start (see docs/catalogue.md
for the format). It is generated from the shared fact files, never edited by
hand:

  * hw2021.tsv  - National Hazardous Waste List (2021): 46 categories HWnn,
                  467 codes NNN-NNN-NN, class "hazardous", unit kg;
  * sw2021.tsv  - general industrial solid-waste kinds SWnn, class
                  "industrial", top level, unit kg;
  * wufei's own programme classes for the other zero-waste-city streams
    (construction CON, agricultural AGR, recyclables REC), defined below.

Usage: tools/make_catalogue.py [--src DIR] [--out FILE]
"""
import argparse
import csv
import os
import re
import sys

HEADER = ["code", "parent", "class", "unit", "hazard", "name"]
NONE = "-"

# wufei's own codes: (category code, class, category name, [(code, unit, name)]).
PROGRAMME = [
    ("CON", "construction", "建筑垃圾", [
        ("CON01", "L", "工程渣土"),
        ("CON02", "L", "工程泥浆"),
        ("CON03", "kg", "拆除垃圾"),
        ("CON04", "kg", "装修垃圾"),
    ]),
    ("AGR", "agricultural", "农业固体废物", [
        ("AGR01", "kg", "农作物秸秆"),
        ("AGR02", "kg", "畜禽粪污"),
        ("AGR03", "kg", "废旧农膜"),
    ]),
    ("REC", "recyclable", "再生资源", [
        ("REC01", "kg", "废纸"),
        ("REC02", "kg", "废塑料"),
        ("REC03", "kg", "废钢铁"),
        ("REC04", "kg", "废有色金属"),
        ("REC05", "kg", "废玻璃"),
        ("REC06", "kg", "废旧纺织品"),
    ]),
]


def read_tsv(path, columns):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or rows[0] != columns:
        sys.exit(f"{path}: expected header {columns}, got {rows[0] if rows else None}")
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(columns) or any(not field for field in row):
            sys.exit(f"{path}:{i}: expected {len(columns)} non-empty fields")
    return rows[1:]


def build(src):
    out = []
    hw = read_tsv(os.path.join(src, "hw2021.tsv"),
                  ["code", "category", "category_name", "industry", "name", "hazard"])
    categories = {}
    for code, cat, cat_name, _industry, _name, _hazard in hw:
        if not re.fullmatch(r"HW\d\d", cat) or not re.fullmatch(r"\d{3}-\d{3}-\d{2}", code):
            sys.exit(f"hw2021.tsv: bad code {code} / category {cat}")
        if code[-2:] != cat[2:]:
            sys.exit(f"hw2021.tsv: {code} is not in {cat}")
        if categories.setdefault(cat, cat_name) != cat_name:
            sys.exit(f"hw2021.tsv: two names for {cat}")
    for cat in sorted(categories):
        out.append([cat, NONE, "hazardous", "kg", NONE, categories[cat]])
    for code, cat, _cat_name, _industry, name, hazard in hw:
        out.append([code, cat, "hazardous", "kg", hazard, name])

    sw = read_tsv(os.path.join(src, "sw2021.tsv"), ["code", "name"])
    for code, name in sw:
        if not re.fullmatch(r"SW\d\d", code):
            sys.exit(f"sw2021.tsv: bad code {code}")
        out.append([code, NONE, "industrial", "kg", NONE, name])

    for cat, cls, cat_name, kinds in PROGRAMME:
        out.append([cat, NONE, cls, "kg", NONE, cat_name])
        for code, unit, name in kinds:
            out.append([code, cat, cls, unit, NONE, name])

    codes = [row[0] for row in out]
    if len(codes) != len(set(codes)):
        sys.exit("duplicate code in the generated catalogue")
    for row in out:
        if any("\t" in f or "\n" in f or "\r" in f or not f for f in row):
            sys.exit(f"bad field in {row}")
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", default="/work/shared/catalogue",
                    help="folder holding hw2021.tsv and sw2021.tsv")
    ap.add_argument("--out", default=os.path.join(here, "..", "data", "catalogue.tsv"))
    args = ap.parse_args()
    rows = build(args.src)
    with open(args.out, "w", encoding="utf-8", newline="\n") as f:
        for row in [HEADER] + rows:
            f.write("\t".join(row) + "\n")
    print(f"{args.out}: {len(rows)} entries", file=sys.stderr)


if __name__ == "__main__":
    main()
