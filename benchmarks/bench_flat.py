"""Chains in lockstep against flat chains: the PT1 sweep batched as on a GPU.

    python benchmarks/bench_flat.py [--points 22 --chains 4 --draws 200 --warmup 200]
                                    [--methods vectorized,flat]

Every method samples the same sweep values (``--points K`` of PT1's 22, evenly spread) with
``chains x draws`` after ``warmup`` in one ``NutsEngine.run_many`` call:

- ``vectorized``: BlackJAX NUTS ``vmap``-ed over all points x chains. The chains move in
  lockstep: every transition lasts as long as the batch's longest trajectory.
- ``flat``: ``phasedsl.engines.flat_nuts``: one loop iteration is one leapfrog step of every chain,
  each chain at its own place in its own transition. The loop runs as many iterations as the
  busiest chain has leapfrog steps.
- ``sequential``: the chains one after another (the CPU default; no batching at all). From
  its per-draw steps the script also counts the loop iterations a lockstep batch of the same
  chains executes in the draw phase (sum over draws of the batch's longest trajectory) and
  a flat batch's (the busiest chain's steps), without running either.

On a CPU a batched step costs about the sum of its chains' steps, so the wall time of the
batched methods follows the loop iterations they execute times the batch width; on a GPU a
batched step costs about what one does, so the wall time follows the iterations. Printed per
method: compile s, sampling s (after ``block_until_ready``), gradient evaluations the chains
needed, the loop iterations a flat batch executes (max over chains of their steps) against the
mean chain's steps, steps per draw, and the mean of each phase's mass over the points (the
methods sample the same posteriors; the mass of a single run varies with where chains settle).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from common import cpu_note, load_pt1

from phasedsl.engines.many import stack_contexts
from phasedsl.engines.nuts import build_chain, chain_keys
from phasedsl.pipeline import point_key, quick_sweep
from phasedsl.engines.registry import make_engine


def step_counts(compiled, settings: dict, keys, ctxs):
    """``(steps i[W, S], warmup_steps i[W], masses f[P], seconds)`` of every chain of every point, run one
    after another (``build_chain`` under ``lax.map``: the computation of ``run_many``'s
    ``"sequential"``)."""
    import jax
    import jax.numpy as jnp

    one = build_chain(compiled.target, draws=settings["draws"], warmup=settings["warmup"],
                      target_accept=settings["target_accept"], max_depth=settings["max_depth"])
    chains = settings["chains"]
    items = jnp.concatenate([chain_keys(k, chains) for k in keys])
    item_ctxs = stack_contexts([c for c in ctxs for _ in range(chains)])
    f = jax.jit(lambda k, c: jax.lax.map(lambda kc: one(*kc), (k, c)))
    t0 = time.perf_counter()
    out = jax.block_until_ready(f(items, item_ctxs))
    seconds = time.perf_counter() - t0
    return (np.asarray(out[4]), np.asarray(out[7]), np.asarray(out[1]).mean(axis=(0, 1)),
            seconds)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--points", type=int, default=22, help="sweep values used (of 22)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", default="vectorized,flat",
                    help="comma-separated, of vectorized, flat, sequential")
    args = ap.parse_args(argv)

    checked, compiled = load_pt1(args.draws, args.warmup, args.chains)
    values = list(quick_sweep([float(v) for v in compiled.checked.sweep_values], args.points))
    print(f"PT1 sweep: {len(values)} values x {args.chains} chains x {args.draws} draws after "
          f"{args.warmup} warmup, all in one batch")
    print(cpu_note())
    keys = [point_key(args.seed, i) for i in range(len(values))]
    ctxs = [compiled.context(v) for v in values]
    names = compiled.target.phase_names
    rows = []
    counts = None
    for method in args.methods.split(","):
        if method == "sequential":
            steps, warm, masses, secs = step_counts(compiled, checked.sample, keys, ctxs)
            counts = (steps, warm)
            totals = steps.sum(axis=1) + warm
            rows.append(("sequential", float("nan"), secs, secs, int(totals.sum()),
                         int(totals.max()), float(totals.mean()), float(steps.mean()),
                         masses))
            print(f"  sequential done: {secs:.1f} s (compile included)", flush=True)
            continue
        engine = make_engine("nuts", compiled.target, checked.sample)
        t0 = time.perf_counter()
        draws = engine.run_many(keys, ctxs, method=method)
        wall = time.perf_counter() - t0
        info = draws[0].info
        per_chain = np.concatenate([d.info.grad_evals_per_chain for d in draws])
        masses = np.mean([d.indicators.mean(axis=(0, 1)) for d in draws], axis=0)
        rows.append((method, info.call_compile_s, info.call_sample_s, wall,
                     int(per_chain.sum()), int(per_chain.max()), float(per_chain.mean()),
                     float(np.mean([d.info.steps_per_draw for d in draws])), masses))
        print(f"  {method} done: {wall:.1f} s", flush=True)

    print(f"\n{'method':11s} {'compile s':>9s} {'sample s':>9s} {'gradients':>11s} "
          f"{'grads/s':>9s} {'max chain':>10s} {'mean chain':>10s} {'steps/draw':>10s}  masses")
    for method, comp, samp, _, grads, most, mean, spd, masses in rows:
        mass = " ".join(f"{n}={m:.3f}" for n, m in zip(names, masses))
        print(f"{method:11s} {comp:9.1f} {samp:9.1f} {grads:11,d} {grads / samp:9,.0f} "
              f"{most:10,d} {mean:10,.0f} {spd:10.1f}  {mass}")
    print("gradients = leapfrog steps the chains needed (warmup included); max chain = loop "
          "iterations of a flat batch;\nmean chain = what each chain needs on average "
          "(max / mean = the flat batch's waste).")
    if counts is not None:
        steps, warm = counts
        lockstep = int(steps.max(axis=0).sum())
        flat = steps.sum(axis=1)
        print(f"\ndraw phase of the sequential run's {steps.shape[0]} chains: a lockstep batch "
              f"executes {lockstep:,d} iterations ({lockstep / steps.shape[1]:.0f} per draw), "
              f"a flat batch {int(flat.max()):,d} ({flat.max() / steps.shape[1]:.0f} per draw), "
              f"the mean chain needs {flat.mean():,.0f} ({steps.mean():.0f} per draw): "
              f"lockstep / flat = {lockstep / flat.max():.2f}x")
        print(f"warmup: the chains' steps range {int(warm.min()):,d}-{int(warm.max()):,d} "
              f"(mean {warm.mean():,.0f}); a flat batch's whole run: "
              f"{int((flat + warm).max()):,d} iterations")
    base = {r[0]: r[2] for r in rows}
    if "vectorized" in base and "flat" in base:
        print(f"sampling time vectorized / flat: {base['vectorized'] / base['flat']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
