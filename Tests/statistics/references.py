#!/usr/bin/env python3
"""Independent references for senstat's statistics, computed with scipy (Tests/SENCoreTests/StatisticsReferenceTests).

Reads a JSON request (a file named as the argument, or stdin), {"task": ..., "cases": [...]}, and prints {"values": [...]}, one per case:
  binomial_limit  {"n", "p0", "q"}  Spiegelhalter (2005, appendix A.1.1) interpolated exact limit on a proportion:
                  r = binom.ppf(q, n, p0); alpha = (F(r) - q) / (F(r) - F(r - 1)); (r - alpha) / n clipped to [0, 1]
  binomial_cdf    {"k", "n", "p"}   binom.cdf
  binomial_ppf    {"q", "n", "p"}   binom.ppf
  normal_ppf      {"q"}             norm.ppf
"""
import json
import sys

from scipy.stats import binom, norm


def binomial_limit(case):
    n, p0, q = case["n"], case["p0"], case["q"]
    r = binom.ppf(q, n, p0)
    at, below = binom.cdf(r, n, p0), binom.cdf(r - 1, n, p0)
    alpha = (at - q) / (at - below) if at > below else 0.0
    return min(1.0, max(0.0, (r - alpha) / n))


TASKS = {
    "binomial_limit": binomial_limit,
    "binomial_cdf": lambda c: float(binom.cdf(c["k"], c["n"], c["p"])),
    "binomial_ppf": lambda c: float(binom.ppf(c["q"], c["n"], c["p"])),
    "normal_ppf": lambda c: float(norm.ppf(c["q"])),
}

request = json.load(open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin)
print(json.dumps({"values": [TASKS[request["task"]](case) for case in request["cases"]]}))
