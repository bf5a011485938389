#!/usr/bin/env python3
"""Reference values for the unit tests of src/domain/stats*.rs (issue 6).

Computed independently of the Rust code with numpy and scipy (pip install numpy scipy):
descriptive statistics with numpy; Wilson interval with scipy.stats.binomtest(...).proportion_ci;
linear trend with scipy.stats.linregress and scipy.stats.t; Mann–Kendall written out from its
textbook definition (pairwise signs, ties correction) with scipy.stats.norm, Sen's slope with
scipy.stats.theilslopes; the X-mR chart and its run rules written out with numpy in plain loops;
exceedance probabilities with scipy.stats.t (predictive) and scipy.stats.norm (plug-in).

Run: python3 scripts/stats_reference.py   (prints the numbers pasted into src/domain/stats_tests.rs)
"""
import numpy as np
from scipy import stats

# Series A: Ad (%, dry basis) of one supplier, 12 samples, days since the first sample.
A_T = [0, 9, 21, 30, 44, 52, 61, 75, 83, 97, 104, 118]
A_X = [14.82, 15.10, 14.95, 15.40, 15.22, 15.61, 15.35, 15.90, 15.72, 16.05, 15.88, 16.21]
# Series B: St,d (%) with tied values and two pairs sampled on the same day.
B_T = [0, 10, 10, 25, 31, 40, 52, 60, 60, 75]
B_X = [0.62, 0.65, 0.62, 0.70, 0.65, 0.58, 0.62, 0.71, 0.66, 0.65]
# Series C: for the control-chart rules (20 points).
C_X = [10.0, 10.4, 9.7, 10.1, 9.9, 10.3, 10.5, 10.2, 10.6, 10.4,
       10.7, 10.3, 10.5, 10.8, 9.2, 9.3, 9.5, 9.6, 9.8, 9.9]
# Series E: one point far out (rule "beyond 3 sigma").
E_X = [5.0, 5.1, 4.9, 5.0, 5.2, 4.8, 5.0, 5.1, 6.5, 5.0]
# Series D: a supplier near its limit, for the exceedance probabilities.
D_X = [0.91, 0.95, 0.88, 0.97, 0.93, 0.99, 0.90, 0.94]


def p(name, value):
    print(f"{name} = {float(value)!r}")


def describe(tag, x):
    x = np.asarray(x, dtype=float)
    p(f"{tag}.mean", np.mean(x))
    p(f"{tag}.sd", np.std(x, ddof=1))
    p(f"{tag}.median", np.median(x))
    p(f"{tag}.min", np.min(x))
    p(f"{tag}.max", np.max(x))


def wilson(tag, k, n):
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    p(f"{tag}.low", ci.low)
    p(f"{tag}.high", ci.high)


def trend(tag, t, x):
    r = stats.linregress(t, x)
    df = len(t) - 2
    q = stats.t.ppf(0.975, df)
    p(f"{tag}.slope30", r.slope * 30)
    p(f"{tag}.ci_low30", (r.slope - q * r.stderr) * 30)
    p(f"{tag}.ci_high30", (r.slope + q * r.stderr) * 30)
    p(f"{tag}.p", r.pvalue)


def mann_kendall(tag, t, x):
    x = np.asarray(x, dtype=float)
    n = len(x)
    s = 0
    for i in range(n):
        for j in range(i + 1, n):
            s += np.sign(x[j] - x[i])
    _, counts = np.unique(x, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - sum(c * (c - 1) * (2 * c + 5) for c in counts)) / 18
    z = (s - 1) / np.sqrt(var) if s > 0 else ((s + 1) / np.sqrt(var) if s < 0 else 0.0)
    p(f"{tag}.s", s)
    p(f"{tag}.var_s", var)
    p(f"{tag}.z", z)
    p(f"{tag}.p", 2 * stats.norm.sf(abs(z)))
    p(f"{tag}.tau", s / (n * (n - 1) / 2))
    # theilslopes uses the pairs with distinct x (here: times), as the Rust code does.
    p(f"{tag}.sen30", stats.theilslopes(x, t).slope * 30)


def xmr(tag, x):
    x = np.asarray(x, dtype=float)
    centre = x.mean()
    mr = np.abs(np.diff(x)).mean()
    sigma = mr / 1.128
    p(f"{tag}.centre", centre)
    p(f"{tag}.mr_bar", mr)
    p(f"{tag}.ucl", centre + 3 * sigma)
    p(f"{tag}.lcl", centre - 3 * sigma)
    beyond = [i for i, v in enumerate(x) if v > centre + 3 * sigma or v < centre - 3 * sigma]
    print(f"{tag}.beyond = {beyond}")
    # Nine in a row on one side: maximal runs of the same strict side.
    side = np.sign(x - centre)
    runs, start = [], 0
    for i in range(1, len(x) + 1):
        if i == len(x) or side[i] == 0 or side[i] != side[i - 1]:
            if i - start >= 9 and side[start] != 0:
                runs.append((start, i - 1))
            start = i
    print(f"{tag}.nine = {runs}")
    # Six in a row rising or falling: maximal strictly monotone runs of >= 6 points.
    trends = []
    for i in range(len(x)):
        for j in range(len(x) - 1, i + 4, -1):
            seg = np.diff(x[i:j + 1])
            if (np.all(seg > 0) or np.all(seg < 0)) and not any(a <= i and j <= b for a, b in trends):
                trends.append((i, j))
                break
    print(f"{tag}.six = {trends}")


def exceed(tag, x, limit, upper=True):
    x = np.asarray(x, dtype=float)
    n, m, s = len(x), x.mean(), x.std(ddof=1)
    scale = s * np.sqrt(1 + 1 / n)
    if upper:
        p(f"{tag}.t", stats.t.sf((limit - m) / scale, n - 1))
        p(f"{tag}.normal", stats.norm.sf((limit - m) / s))
    else:
        p(f"{tag}.t", stats.t.cdf((limit - m) / scale, n - 1))
        p(f"{tag}.normal", stats.norm.cdf((limit - m) / s))


describe("A", A_X)
wilson("A.wilson_10_of_12", 10, 12)
wilson("wilson_0_of_5", 0, 5)
wilson("wilson_7_of_7", 7, 7)
trend("A.trend", A_T, A_X)
mann_kendall("A.mk", A_T, A_X)
describe("B", B_X)
trend("B.trend", B_T, B_X)
mann_kendall("B.mk", B_T, B_X)
xmr("C", C_X)
xmr("E", E_X)
describe("D", D_X)
exceed("D.lt1", D_X, 1.00)
exceed("D.le3", D_X, 3.00)
exceed("D.ge0_8", D_X, 0.80, upper=False)
exceed("A.lt16", A_X, 16.00)
