"""The shares that `run.sh` measured: per data set at beta = 1/log n (mean, spread between
data sets), and at beta = 1 both over the whole posterior and inside the sign pattern
q = (+, +) (the seed's negative-q filter, had it removed every draw with a negative q).

    python examples/pt1_seed_check/shares.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from phasedsl.language.layout import NetworkLayout
from phasedsl.rundir import load_draws

HERE = Path(__file__).resolve().parent
LAYOUT = NetworkLayout(2, 2)


def point_masses(folder: Path) -> dict[float, dict]:
    """``{theta: {phase: (mass, se)}}`` of a run folder's results."""
    doc = json.loads((folder / "results.json").read_text())
    return {p["value"]: {k: (v["mass"], v["se"]) for k, v in p["phases"].items()}
            for p in doc["points"]}


def positive_q_shares(folder: Path, index: int) -> tuple[float, np.ndarray]:
    """``(share of the posterior with q = (+, +), phase masses f[P] inside it)``: weighted over
    every run's draws of sweep point ``index``."""
    d = load_draws(folder, index)
    q = LAYOUT.split(d["params"])[2]  # f[G, S, 2]
    w = d["weights"] / d["weights"].sum()
    plus = np.all(q > 0, axis=-1)
    share = float((w * plus).sum())
    inside = np.einsum("gs,gsp->p", w * plus, d["indicators"].astype(float)) / share
    return share, inside


def main():
    runs = HERE / "runs"
    seeds = [f for f in sorted(runs.glob("data_seed_*")) if (f / "results.json").is_file()]
    by_seed = [point_masses(f) for f in seeds]
    print(f"beta = 1/log n, {len(seeds)} data sets (500 particles x 4 runs each):")
    for theta in sorted(by_seed[0]):
        for phase in ("nondegenerate", "degenerate"):
            m = np.array([s[theta][phase][0] for s in by_seed])
            se = np.array([s[theta][phase][1] for s in by_seed])
            print(f"  theta {theta:.2f} {phase:13s} per data set "
                  + " ".join(f"{x:.3f}+-{e:.3f}" for x, e in zip(m, se))
                  + f"  mean {m.mean():.3f}  sd between data sets {m.std(ddof=1):.3f}")
    beta1 = runs / "beta_1"
    print("beta = 1, data set 0:")
    done = point_masses(beta1) if (beta1 / "results.json").is_file() else {}
    for i, (theta, phases) in enumerate(sorted(done.items())):
        share, inside = positive_q_shares(beta1, i)
        print(f"  theta {theta:.2f} whole posterior "
              + " ".join(f"{k} {m:.3f}+-{e:.3f}" for k, (m, e) in phases.items())
              + f";  q = (+, +) holds {share:.2f}, inside it nondegenerate {inside[0]:.3f}, "
                f"degenerate {inside[1]:.3f}, other {1 - inside.sum():.3f}")
    for f in seeds[:1]:
        for i, theta in enumerate(sorted(point_masses(f))):
            share, inside = positive_q_shares(f, i)
            print(f"  (beta = 1/log n, data set 0, theta {theta:.2f}: q = (+, +) holds "
                  f"{share:.2f}, inside it nondegenerate {inside[0]:.3f}, degenerate "
                  f"{inside[1]:.3f})")


if __name__ == "__main__":
    main()
