#!/usr/bin/env python3
"""Audit of disclosure control the way statistical offices do it (Docs/privacy.md).

For every hidden value of every released table, the range of values consistent with everything published from
the same release is found by linear programming (scipy's HiGHS): minimise and maximise the value subject to

  - every sum that links the tables: each one-way table adds up to the total; each region's LAs to the region;
  - every shown count known to within its rounding (a count shown as r is in [r - 2, r + 2] for rounding to 5);
  - every hidden count at least 0;
  - the relations inside a cell: SEN support + EHC plans <= pupils on roll; for primary need, pupils with the
    need = support + plans; a single-choice item's answers add up to at most its respondents; a multiple-choice
    option at most the respondents.

A value hidden because it is small or has too few schools or trusts (primary) must have a range that reaches
protection(x) = max(5, ceil(x / 2)) above it and down to max(0, x - protection(x)). A value hidden only as a
complement must not be determined exactly (a range of at least 1).

Input (a file or stdin): {"releases": [release, ...]}, each release
  {"name", "columns": [...], "rounding": 5, "within_cell": "sen"|"need"|"single"|"multiple"|null,
   "tables": [{"name", "parent_table": null|name, "cells": [cell, ...]}], "total": cell}
with cell = {"key", "parent", "suppressed": null|"primary"|"complementary", "shown": {column: n}|null,
             "true": {column: n}}.
Prints one JSON object: releases, programmes solved, violations (each with the range found); exits 1 on any
violation.
"""
import json
import math
import sys

import numpy as np
from scipy.optimize import linprog


def protection(x):
    return max(5, math.ceil(x / 2))


def audit(release):
    columns = release["columns"]
    half = release.get("rounding", 5) // 2
    entries = [("total", release["total"])]
    index = {}
    for table in release["tables"]:
        for cell in table["cells"]:
            index[(table["name"], cell["key"])] = len(entries)
            entries.append((table["name"], cell))
    ncol = len(columns)
    nvar = len(entries) * ncol

    def var(entry, column):
        return entry * ncol + columns.index(column)

    a_eq, b_eq, a_ub, b_ub = [], [], [], []

    def constraint(matrix, rhs, terms):
        row = np.zeros(nvar)
        for v, coefficient in terms:
            row[v] += coefficient
        matrix.append(row)
        rhs.append(0.0)

    def equal(terms):  # sum of terms = 0
        constraint(a_eq, b_eq, terms)

    def at_most(terms):  # sum of terms <= 0
        constraint(a_ub, b_ub, terms)

    # The sums that link the tables.
    for table in release["tables"]:
        members = [index[(table["name"], c["key"])] for c in table["cells"]]
        if table.get("parent_table"):
            groups = {}
            for m in members:
                groups.setdefault(entries[m][1].get("parent"), []).append(m)
            for parent, children in groups.items():
                margin = index.get((table["parent_table"], parent))
                if margin is None:
                    continue
                for column in columns:
                    equal([(var(margin, column), -1.0)] + [(var(c, column), 1.0) for c in children])
        else:
            for column in columns:
                equal([(var(0, column), -1.0)] + [(var(m, column), 1.0) for m in members])

    # Relations inside each cell.
    kind = release.get("within_cell")
    values = [c for c in columns if c != "units"]
    for entry in range(len(entries)):
        if kind == "sen":
            at_most([(var(entry, "sen_support"), 1.0), (var(entry, "ehc_plan"), 1.0), (var(entry, "units"), -1.0)])
        elif kind == "need":
            equal([(var(entry, "sen_support"), 1.0), (var(entry, "ehc_plan"), 1.0), (var(entry, "units"), -1.0)])
        elif kind == "single":
            at_most([(var(entry, v), 1.0) for v in values] + [(var(entry, "units"), -1.0)])
        elif kind == "multiple":
            for v in values:
                at_most([(var(entry, v), 1.0), (var(entry, "units"), -1.0)])

    # What is shown, within its rounding; what is hidden, only non-negative.
    bounds = []
    for _, cell in entries:
        for column in columns:
            shown = cell.get("shown")
            if shown is not None:
                r = shown[column]
                bounds.append((max(0, r - half), r + half))
            else:
                bounds.append((0, None))

    a_eq_m = np.array(a_eq) if a_eq else None
    b_eq_m = np.array(b_eq) if b_eq else None
    a_ub_m = np.array(a_ub) if a_ub else None
    b_ub_m = np.array(b_ub) if b_ub else None

    solved = 0
    violations = []
    for entry, (table, cell) in enumerate(entries):
        reason = cell.get("suppressed")
        if reason is None:
            continue
        for column in columns:
            v = var(entry, column)
            c = np.zeros(nvar)
            c[v] = 1.0
            low = linprog(c, A_ub=a_ub_m, b_ub=b_ub_m, A_eq=a_eq_m, b_eq=b_eq_m, bounds=bounds, method="highs")
            high = linprog(-c, A_ub=a_ub_m, b_ub=b_ub_m, A_eq=a_eq_m, b_eq=b_eq_m, bounds=bounds, method="highs")
            solved += 2
            if low.status == 2 or high.status == 2:
                violations.append({"release": release["name"], "table": table, "key": cell["key"], "column": column,
                                   "problem": "the published figures are inconsistent (infeasible programme)"})
                continue
            lo = low.fun if low.status == 0 else 0.0
            hi = math.inf if high.status == 3 else -high.fun
            x = cell["true"][column]
            p = protection(x)
            if reason == "primary":
                ok = hi >= x + p - 1e-6 and lo <= max(0, x - p) + 1e-6
            else:
                ok = hi - lo >= 1 - 1e-6
            if not ok:
                violations.append({"release": release["name"], "table": table, "key": cell["key"], "column": column,
                                   "reason": reason, "value": x, "protection": p, "range": [lo, hi]})
    return solved, violations


def main():
    data = json.load(open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin)
    solved = 0
    violations = []
    for release in data["releases"]:
        s, v = audit(release)
        solved += s
        violations += v
    print(json.dumps({"releases": len(data["releases"]), "programmes": solved, "violations": violations[:50],
                      "violation_count": len(violations)}))
    sys.exit(1 if violations else 0)


if __name__ == "__main__":
    main()
