"""The crossover in n of specs/reduced_rank_transition.phase predicted by n L + lambda log n.

For each n of a run (its results.json), the data set's own losses: L_r(n), the least loss of
a rank-r matrix on the first n rows (reduced-rank regression in closed form: the
least-squares fit truncated to its r largest singular directions in the inputs' metric),
and the free-energy difference of the rank-1 and rank-2 phases,

    dF(n) = n (L_1 - L_2) + (lambda_1 - lambda_2) log n   [ - (m_1 - m_2) log log n ],

with exact lambdas and multiplicities (phasedsl.analysis.known_lcoef) or the run's measured
per-phase lambdas. The predicted crossover is where dF changes sign (interpolated in log n);
the run's measured one is where the masses cross. Usage:

    python examples/reduced_rank/predict_crossover.py specs/reduced_rank_transition.phase RUN/results.json
"""

from __future__ import annotations

import json
import math
import sys

import numpy as np

from phasedsl.analysis.known_lcoef import reduced_rank
from phasedsl.language.check import check
from phasedsl.language.syntax import parse
from phasedsl.lower.compile import compile_spec


def rank_losses(x: np.ndarray, y: np.ndarray) -> list[float]:
    """``L_r`` (mean of ``||y - A x||^2 / 2``, no constant) for r = 0..3, ``x, y: f[n, 3]``."""
    n = len(x)
    sxx = x.T @ x
    a_ls = np.linalg.solve(sxx, x.T @ y).T  # least squares, y ~ A x
    root = np.linalg.cholesky(sxx / n)  # metric of the inputs
    u, s, vt = np.linalg.svd(a_ls @ root)
    out = []
    for r in range(4):
        a = (u[:, :r] * s[:r]) @ vt[:r] @ np.linalg.inv(root)
        out.append(float(np.sum((y - x @ a.T) ** 2) / (2 * n)))
    return out


def crossing(ns, df) -> float | None:
    """Where ``df`` first changes sign from < 0 to > 0, interpolated in log n."""
    for (n0, d0), (n1, d1) in zip(zip(ns, df), zip(ns[1:], df[1:])):
        if d0 < 0 <= d1:
            t = -d0 / (d1 - d0)
            return math.exp(math.log(n0) + t * (math.log(n1) - math.log(n0)))
    return None


def main(spec: str, results: str) -> None:
    compiled = compile_spec(check(parse(open(spec).read(), spec)))
    r = json.load(open(results))
    points = sorted(r["points"], key=lambda p: p["value"])
    (l1, m1), (l2, m2) = reduced_rank(3, 3, 3, 1), reduced_rank(3, 3, 3, 2)
    l1, l2 = float(l1), float(l2)
    lam = {k: [p["lcoef"][k]["lambda"] for p in points
               if p["lcoef"].get(k) and p["lcoef"][k].get("minimiser_in_phase")]
           for k in ("rank1", "rank2")}
    meas = {k: float(np.mean(v)) for k, v in lam.items()}
    ns, exact, exact_m, measured, masses = [], [], [], [], []
    print(f"measured lambda (mean where the phase's minimiser is inside it): rank1 "
          f"{meas['rank1']:.3f} ({len(lam['rank1'])} values), rank2 {meas['rank2']:.3f} "
          f"({len(lam['rank2'])}); exact {l1:g} (m = {m1}), {l2:g} (m = {m2})")
    print("n, n (L1 - L2), dF exact, dF exact with log log, dF measured lambda, "
          "-log(mass1 / mass2)")
    for p in points:
        n = p["value"]
        ctx = compiled.context(n)
        rows = int(n)
        x = np.asarray(ctx.xt, float).T[:rows]
        y = np.asarray(ctx.y, float)[:rows]
        L = rank_losses(x, y)
        dl = n * (L[1] - L[2])
        ns.append(n)
        exact.append(dl + (l1 - l2) * math.log(n))
        exact_m.append(exact[-1] - (m1 - m2) * math.log(math.log(n)))
        measured.append(dl + (meas["rank1"] - meas["rank2"]) * math.log(n))
        a, b = p["phases"]["rank1"]["mass"], p["phases"]["rank2"]["mass"]
        masses.append(-math.log(a / b) if a > 0 and b > 0 else float("nan"))
        print(f"{n:8g} {dl:8.2f} {exact[-1]:8.2f} {exact_m[-1]:8.2f} {measured[-1]:8.2f} "
              f"{masses[-1]:8.2f}")
    grid = list(np.geomspace(30, 30000, 4000))
    gap = 0.1 ** 2 / 2  # the population loss of the best rank-1 matrix above the truth's

    def population(dlam: float, dm: int = 0) -> float | None:
        return crossing(grid, [gap * n + dlam * math.log(n) - dm * math.log(math.log(n))
                               for n in grid])

    print(f"crossover n from the population loss gap {gap}: exact lambda "
          f"{population(l1 - l2):.0f}, with the log log n term {population(l1 - l2, m1 - m2):.0f}, "
          f"measured lambda {population(meas['rank1'] - meas['rank2']):.0f}")
    print("from this data set's least losses: exact lambda", crossing(ns, exact),
          "; with the log log n term", crossing(ns, exact_m),
          "; measured lambda", crossing(ns, measured))
    print("measured (the masses cross)", crossing(ns, masses))

if __name__ == "__main__":
    main(*sys.argv[1:3])
