"""A whole PT1 sweep: phasedsl against a NumPyro loop doing the same work.

    python benchmarks/bench_sweep.py [--draws 2000 --warmup 1000 --chains 4 --points 22]

Every sweep value (22 for PT1; ``--points K`` takes K of them, evenly spread, ends kept) is
sampled with ``chains x draws`` after ``warmup``, target acceptance 0.9.

- phasedsl ``loop``: one engine, compiled once, ``engine.run`` per sweep value (what
  ``phasedsl run`` does).
- phasedsl ``run_many``: every sweep value in one compiled call (``NutsEngine.run_many``;
  sweep points one after another on CPU, ``--many-method vectorized`` vmaps them, as on a GPU).
- NumPyro: one ``MCMC`` object with ``jit_model_args=True`` and the data as model arguments,
  so its compiled kernel is re-used at every sweep value (as a NumPyro user would);
  ``chain_method="vectorized"``.

Prints, per method: seconds compiling, total wall (compiles included), wall per point without
the compiles, and the ratios to NumPyro. phasedsl compiles once for the sweep; NumPyro 0.22.0
re-compiles its sampling loops at every ``MCMC.run`` even with ``jit_model_args=True``
(observed; see ``common.CompileClock``), so its compile seconds (measured with
``jax.monitoring``) are shown apart: "per-point ratio" is what a NumPyro that compiled once
would give. Needs ``pip install numpyro==0.22.0``
(``--no-numpyro`` skips it).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from common import constants, cpu_note, load_pt1, numpyro_mcmc, run_numpyro

from phasedsl.pipeline import point_key, quick_sweep
from phasedsl.engines.registry import make_engine


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--points", type=int, default=22, help="sweep values used (of 22)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--many-method", choices=["sequential", "vectorized"], default=None,
                    help="run_many method (default: sequential on CPU)")
    ap.add_argument("--methods", default="loop,many,numpyro",
                    help="comma-separated subset of loop, many, numpyro")
    ap.add_argument("--no-numpyro", action="store_true")
    args = ap.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    if args.no_numpyro and "numpyro" in methods:
        methods.remove("numpyro")

    checked, compiled = load_pt1(args.draws, args.warmup, args.chains)
    values = list(quick_sweep([float(v) for v in compiled.checked.sweep_values], args.points))
    print(f"PT1 sweep: {len(values)} values x {args.chains} chains x {args.draws} draws after "
          f"{args.warmup} warmup")
    print(cpu_note())
    rows = {}

    if "loop" in methods:
        engine = make_engine("nuts", compiled.target, checked.sample)
        t0 = time.perf_counter()
        compile_s, steps = 0.0, []
        for i, v in enumerate(values):
            d = engine.run(point_key(args.seed, i), compiled.context(v))
            compile_s += d.info.compile_s
            steps.append(d.info.steps_per_draw)
        total = time.perf_counter() - t0
        rows[f"phasedsl loop ({engine.chain_method} chains)"] = (compile_s, total, steps)
        print(f"  phasedsl loop done: {total:.1f} s", flush=True)

    if "many" in methods:
        engine = make_engine("nuts", compiled.target, checked.sample)
        keys = [point_key(args.seed, i) for i in range(len(values))]
        t0 = time.perf_counter()
        ctxs = [compiled.context(v) for v in values]
        draws = engine.run_many(keys, ctxs, method=args.many_method)
        total = time.perf_counter() - t0
        method = draws[0].info.method
        rows[f"phasedsl run_many ({method} points)"] = (
            draws[0].info.call_compile_s, total, [d.info.steps_per_draw for d in draws])
        print(f"  phasedsl run_many done: {total:.1f} s", flush=True)

    if "numpyro" in methods:
        try:
            _, mcmc = numpyro_mcmc(args.chains, args.draws, args.warmup,
                                   checked.sample["target_accept"], checked.sample["max_depth"])
        except ImportError:
            print("numpyro is not installed (pip install numpyro==0.22.0): skipped")
        else:
            t0 = time.perf_counter()
            compile_s, steps = 0.0, []
            for i, v in enumerate(values):
                x, y = compiled.dataset(v)
                beta, noise = constants(checked, v)
                out = run_numpyro(mcmc, point_key(args.seed, i), x, y, beta, noise)
                compile_s += out[-1]
                steps.append(float(out[2].mean()))
            total = time.perf_counter() - t0
            rows["numpyro loop (vectorized chains)"] = (compile_s, total, steps)
            print(f"  numpyro done: {total:.1f} s ({compile_s:.1f} s of it compiling)", flush=True)

    base = rows.get("numpyro loop (vectorized chains)")
    print(f"\n{'method':36s} {'compile s':>9s} {'total s':>8s} {'s/point':>8s} "
          f"{'steps/draw':>10s} {'total ratio':>11s} {'per-point ratio':>15s}")
    for name, (compile_s, total, steps) in rows.items():
        per_point = (total - compile_s) / len(values)
        line = (f"{name:36s} {compile_s:9.1f} {total:8.1f} {per_point:8.2f} "
                f"{np.mean(steps):10.0f}")
        if base is not None:
            b_per = (base[1] - base[0]) / len(values)
            line += f" {base[1] / total:10.1f}x {b_per / per_point:14.1f}x"
        print(line)
    if base is not None:
        print("total = wall of the whole sweep, compiles included (NumPyro 0.22.0 re-compiles at "
              "every MCMC.run); s/point = (total - compile) / points.\n"
              "ratios = NumPyro's / this method's (> 1: faster than NumPyro)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
