"""How much of each sweep value's draws its neighbours can use: the overlap matrix
(``analysis.pooling.overlap``: the share of a value's effective sample size its draws keep
reweighted to another value, mean over the SMC runs) for the coverage study's cases
(``benchmarks/coverage.py``), one seed. Run by hand, from the repository root:

    python benchmarks/overlap.py sparse pair ex42

Row j, column k: value j's draws at value k (``docs/coverage.md``, "Values far apart").
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import coverage  # noqa: E402  (the study's cases and engine settings)


def matrix(case: str, seed: int = 1000) -> tuple[list[float], np.ndarray]:
    """``(values, f[V, V])``: the overlap of every value's draws at every value."""
    from phasedsl.pipeline.pooling import Pooler
    from phasedsl.pipeline.sweep import summarise

    study = coverage.Study(case, "smc", {})
    draws = study.draws(seed)
    arrays = {i: coverage._arrays(d) for i, d in enumerate(draws)}
    pooler = Pooler(study.compiled, None, study.width, summarise, arrays=arrays.get)
    values = study.values
    out = np.array([[pooler.overlap(j, values[j], v) for v in values]
                    for j in range(len(values))])
    return values, out


def main(argv=None) -> int:
    np.set_printoptions(precision=2, suppress=True, linewidth=160)
    for case in (argv if argv is not None else sys.argv[1:]) or ["sparse", "pair"]:
        values, m = matrix(case)
        print(f"{case}: values {values}\n{m}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
