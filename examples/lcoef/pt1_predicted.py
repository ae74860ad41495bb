"""PT1: each phase's free energy predicted from its learning coefficient and loss minimum,
F_W ~ t L_n(w*_W) + lambda_W log t (t = n beta), against the measured F_W = -log mass_W;
the difference nondegenerate - degenerate along theta (docs/learning_coefficient.md).

    PYTHONPATH=. python examples/lcoef/pt1_predicted.py RUN_FOLDER [OUT.png]

RUN_FOLDER: a finished PT1 run, e.g. `phasedsl run specs/pt1_degeneracy.phase --quick
--engine smc --out runs/pt1-smc-quick`.
"""

import json
import math
import sys

import numpy as np

folder = sys.argv[1]
res = json.load(open(f"{folder}/results.json"))
pts = sorted(res["points"], key=lambda p: p["value"])
rows = []
print("theta | lambda nondeg (var) | lambda deg (var) | t dL | predicted dF | measured dF")
for p in pts:
    lc = p.get("lcoef") or {}
    a, b = lc.get("nondegenerate") or {}, lc.get("degenerate") or {}
    ma, mb = p["phases"]["nondegenerate"]["mass"], p["phases"]["degenerate"]["mass"]
    meas = math.log(mb / ma) if ma > 0 and mb > 0 else float("nan")  # F_nd - F_deg
    if a.get("lambda") is None or b.get("lambda") is None:
        print(f"{p['value']:.3f} | - | - | - | - | {meas:.2f}")
        continue
    t = a["n_beta"]
    dl = t * (a["loss_min"] - b["loss_min"])
    pred = dl + (a["lambda"] - b["lambda"]) * math.log(t)
    pred_var = dl + (a["lambda_var"] - b["lambda_var"]) * math.log(t)
    rows.append((p["value"], pred, pred_var, meas))
    print(f"{p['value']:.3f} | {a['lambda']:.2f} ± {a['lambda_se']:.2f} ({a['lambda_var']:.2f}) | "
          f"{b['lambda']:.2f} ± {b['lambda_se']:.2f} ({b['lambda_var']:.2f}) | {dl:.2f} | "
          f"{pred:.2f} (var: {pred_var:.2f}) | {meas:.2f}")
if len(sys.argv) > 2 and rows:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = np.array(rows)
    fig, ax = plt.subplots(figsize=(6.4, 4))
    ax.plot(r[:, 0], r[:, 1], "o-", label="predicted: t ΔL(w*) + Δλ log t (λ: mean estimate)")
    ax.plot(r[:, 0], r[:, 2], "s--", label="predicted with λ_var")
    ax.plot(r[:, 0], r[:, 3], "k^-", label="measured: log(mass_deg / mass_nondeg)")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xlabel("θ")
    ax.set_ylabel("F_nondegenerate − F_degenerate")
    ax.set_title("PT1: free-energy difference, predicted and measured")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=130)
