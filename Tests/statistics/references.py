#!/usr/bin/env python3
"""Independent references for senstat's statistics, computed with scipy (Tests/SENCoreTests/StatisticsReferenceTests).

Reads a JSON request (a file named as the argument, or stdin), {"task": ..., "cases": [...]}, and prints {"values": [...]}, one per case:
  binomial_limit  {"n", "p0", "q"}  Spiegelhalter (2005, appendix A.1.1) interpolated exact limit on a proportion:
                  r = binom.ppf(q, n, p0); alpha = (F(r) - q) / (F(r) - F(r - 1)); (r - alpha) / n clipped to [0, 1]
  binomial_cdf    {"k", "n", "p"}   binom.cdf
  binomial_ppf    {"q", "n", "p"}   binom.ppf
  normal_ppf      {"q"}             norm.ppf
  overdispersion  {"units": [{"count", "n", "target"}]}  four values: phi, chi_square, p_value, tau2, on the
                  arcsine square-root scale (Spiegelhalter 2005; FunnelPlotR): z = (asin(sqrt(x/n)) -
                  asin(sqrt(p0))) * 2 sqrt(n); z winsorised at numpy's linear 10th and 90th percentiles; phi = mean
                  of squares; chi_square = k phi; p = chi2.sf(k phi, k - 1); tau2 = max(0, (k phi - (k - 1)) /
                  (sum w - sum w^2 / sum w)) with w = 4n
  newcombe        {"x1", "n1", "x2", "n2"}  two values: statsmodels' confint_proportions_2indep(method="newcomb",
                  compare="diff"), the 95% interval for p1 - p2
  trend           {"points": [[x, n] or null, ...]}  two values: the chi-square for trend (Cochran-Armitage, scores
                  1..T, missing terms keeping their place) and its p-value, by statsmodels' Table.test_ordinal_association
                  on the 2 x T table with those scores
  poisson_limit   {"mean", "q"}  Spiegelhalter's (2005, appendix A.1.2) interpolated limit on a Poisson count:
                  r = poisson.ppf(q, mean); alpha = (F(r) - q) / (F(r) - F(r - 1)); r - alpha, at least 0
  poisson_exact   {"observed", "z"}  two values: the exact (Garwood) interval for a Poisson mean,
                  chi2.ppf(a/2, 2 O) / 2 and chi2.ppf(1 - a/2, 2 O + 2) / 2 with a = 2 norm.sf(z) (0 below for O = 0)
  wilson          {"count", "n", "z"}  two values: statsmodels' proportion_confint(method="wilson") at alpha = 2 norm.sf(z)
  arcsine_limit   {"p0", "n", "z", "phi", "tau2"}  two values: sin^2(asin(sqrt(p0)) -/+ z sqrt(phi / 4n + tau2))
                  clipped to [0, pi/2]
"""
import json
import sys

import numpy as np
from scipy.stats import binom, chi2, norm, poisson


def binomial_limit(case):
    n, p0, q = case["n"], case["p0"], case["q"]
    r = binom.ppf(q, n, p0)
    at, below = binom.cdf(r, n, p0), binom.cdf(r - 1, n, p0)
    alpha = (at - q) / (at - below) if at > below else 0.0
    return min(1.0, max(0.0, (r - alpha) / n))


def overdispersion(case):
    units = case["units"]
    x = np.array([u["count"] for u in units], dtype=float)
    n = np.array([u["n"] for u in units], dtype=float)
    p0 = np.array([u["target"] for u in units], dtype=float)
    z = (np.arcsin(np.sqrt(x / n)) - np.arcsin(np.sqrt(p0))) * 2 * np.sqrt(n)
    low, high = np.quantile(z, [0.1, 0.9])
    k = len(z)
    phi = float(np.mean(np.clip(z, low, high) ** 2))
    w = 4 * n
    tau2 = max(0.0, (k * phi - (k - 1)) / (w.sum() - (w ** 2).sum() / w.sum()))
    return [phi, k * phi, float(chi2.sf(k * phi, k - 1)), tau2]


def arcsine_limit(case):
    centre = np.arcsin(np.sqrt(case["p0"]))
    sd = np.sqrt(case["phi"] / (4 * case["n"]) + case["tau2"])
    back = lambda y: float(np.sin(np.clip(y, 0, np.pi / 2)) ** 2)  # noqa: E731
    return [back(centre - case["z"] * sd), back(centre + case["z"] * sd)]


def newcombe(case):
    from statsmodels.stats.proportion import confint_proportions_2indep
    low, high = confint_proportions_2indep(case["x1"], case["n1"], case["x2"], case["n2"], method="newcomb", compare="diff")
    return [float(low), float(high)]


def trend(case):
    from statsmodels.stats.contingency_tables import Table
    scores = [i + 1 for i, p in enumerate(case["points"]) if p is not None and p[1] > 0]
    table = np.array([[p[0], p[1] - p[0]] for p in case["points"] if p is not None and p[1] > 0], dtype=float)
    # Rows are terms (scored 1..T); the columns counted and not counted, scored 1 and 0.
    result = Table(table, shift_zeros=False).test_ordinal_association(row_scores=np.array(scores, dtype=float), col_scores=np.array([1.0, 0.0]))
    # statsmodels gives z with variance from the hypergeometric (N - 1 in the denominator); Fingertips' and
    # Armitage's statistic uses N: rescale so the two are the same test.
    n = table.sum()
    chi_square = float(result.zscore) ** 2 * n / (n - 1)
    return [chi_square, float(chi2.sf(chi_square, 1))]


def poisson_limit(case):
    mean, q = case["mean"], case["q"]
    r = poisson.ppf(q, mean)
    at, below = poisson.cdf(r, mean), poisson.cdf(r - 1, mean)
    alpha = (at - q) / (at - below) if at > below else 0.0
    return max(0.0, float(r - alpha))


def poisson_exact(case):
    o, a = case["observed"], 2 * norm.sf(case["z"])
    lower = 0.0 if o == 0 else float(chi2.ppf(a / 2, 2 * o) / 2)
    return [lower, float(chi2.ppf(1 - a / 2, 2 * o + 2) / 2)]


def wilson(case):
    from statsmodels.stats.proportion import proportion_confint
    low, high = proportion_confint(case["count"], case["n"], alpha=2 * norm.sf(case["z"]), method="wilson")
    return [float(low), float(high)]


TASKS = {
    "poisson_limit": poisson_limit,
    "poisson_exact": poisson_exact,
    "wilson": wilson,
    "binomial_limit": binomial_limit,
    "binomial_cdf": lambda c: float(binom.cdf(c["k"], c["n"], c["p"])),
    "binomial_ppf": lambda c: float(binom.ppf(c["q"], c["n"], c["p"])),
    "normal_ppf": lambda c: float(norm.ppf(c["q"])),
    "overdispersion": overdispersion,
    "arcsine_limit": arcsine_limit,
    "newcombe": newcombe,
    "trend": trend,
}

request = json.load(open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin)
values = []
for case in request["cases"]:
    value = TASKS[request["task"]](case)
    values += value if isinstance(value, list) else [value]
print(json.dumps({"values": values}))
