"""Example 4.1: the critical n predicted from each phase's learning coefficient and loss
minimum, against the exact crossover (docs/learning_coefficient.md).

    PYTHONPATH=. python examples/lcoef/example_4_1_nc.py [RUN_FOLDER]

Runs specs/example_4_1_first_order.phase with exact quadrature (its own sweep, n = 1..30),
then prints the per-phase lambda, the free-energy slope across the sweep, and four
predictions of n_c.
"""

import math
import sys

import numpy as np

import phasedsl

folder = sys.argv[1] if len(sys.argv) > 1 else "runs/example_4_1-lcoef"
spec = phasedsl.load("specs/example_4_1_first_order.phase", {"engine": "quadrature"})
run = phasedsl.run(spec, folder, fresh=True, plots=True)
res = run.results
pts = sorted(res["points"], key=lambda p: p["value"])
n = np.array([p["value"] for p in pts])
lam = {ph: np.array([p["lcoef"][ph]["lambda"] for p in pts]) for ph in ("accurate", "simple")}
var = {ph: np.array([p["lcoef"][ph]["lambda_var"] for p in pts]) for ph in ("accurate", "simple")}
k0 = {ph: pts[-1]["lcoef"][ph]["loss_min"] for ph in ("accurate", "simple")}
F = {ph: np.array([p["phases"][ph]["free_energy"] for p in pts]) for ph in ("accurate", "simple")}
exact = next(e["at"] for e in res["events"] if e["kind"] == "crossover")

print("n | lambda accurate (var) | lambda simple (var) | F-slope accurate | F-slope simple")
for i in range(len(n)):
    row = f"{n[i]:g} | {lam['accurate'][i]:.4f} ({var['accurate'][i]:.4f}) | " \
          f"{lam['simple'][i]:.4f} ({var['simple'][i]:.4f})"
    if i:
        d = math.log(n[i] / n[i - 1])
        s = {ph: (F[ph][i] - F[ph][i - 1] - k0[ph] * (n[i] - n[i - 1])) / d for ph in F}
        row += f" | {s['accurate']:.4f} | {s['simple']:.4f}"
    print(row)
print(f"loss minima: accurate {k0['accurate']:.6f}, simple {k0['simple']:.6f}")
print(f"exact n_c (bisection on exact phase masses): {exact:.3f}")


def crossing(x, y):
    """The first sign change of y(x) (linear interpolation), or None."""
    for i in range(len(x) - 1):
        if y[i] == 0 or y[i] * y[i + 1] < 0:
            return x[i] + (x[i + 1] - x[i]) * y[i] / (y[i] - y[i + 1])
    return None


grid = np.linspace(1, 30, 29001)
dk = k0["simple"] - k0["accurate"]
# (a) F_phase = n K0 + lambda log n with asymptotic lambda, no constant
for la, ls, what in ((0.5, 0.5, "asymptotic lambdas 1/2, 1/2"),
                     (0.5, 0.25, "the post's lambdas 1/2, 1/4")):
    d = dk * grid + (ls - la) * np.log(grid)
    print(f"(a) {what}: F_simple - F_accurate min over n in [1, 30] = {d.min():.4f}; "
          f"crossing: {crossing(grid, d)}")
# (b) the same with the measured local lambda at each sweep n
d = dk * n + (lam["simple"] - lam["accurate"]) * np.log(n)
print("(b) measured lambda(n), no constant: F_s - F_a =", np.round(d, 3).tolist(),
      "crossing:", crossing(n, d))
# (c) Laplace (both wells quadratic) with the curvature constants
a_acc, a_simple = 22.784, 0.73933  # K(-1 + x) = 22.784 x^2 + ..., K(1 + x) = 0.1 + 0.739 x^2 + ...
print(f"(c) Laplace with constants: n_c = log(a_acc / a_simple) / (2 * 0.1) = "
      f"{math.log(a_acc / a_simple) / (2 * dk):.3f}")
# (d) thermodynamic integration from the anchor n = 1: dF/dn = K0 + lambda(n) / n
logn = np.log(n)
integ = np.concatenate([[0], np.cumsum(np.diff(logn) * 0.5 * (
    (lam["simple"] - lam["accurate"])[1:] + (lam["simple"] - lam["accurate"])[:-1]))])
d = (F["simple"][0] - F["accurate"][0]) + dk * (n - n[0]) + integ
print("(d) anchor at n = 1 + measured lambda(n) at the 8 sweep values: F_s - F_a =",
      np.round(d, 3).tolist(), f"crossing: {crossing(n, d):.3f}")
print("exact F_s - F_a:", np.round(F["simple"] - F["accurate"], 3).tolist())
