"""How a run's cost grows with the parameter count: tanh networks of growing width.

    python benchmarks/bench_scaling.py [--widths 2,6,12,25 --particles 400 --runs 2
                                        --draws 300 --warmup 300 --no-numpyro]

The family: ``y = q @ tanh(W1 @ x + b1) + c``, 2 inputs, ``H`` hidden units, one output
(``4 H + 1`` parameters: H = 2, 6, 12, 25 give 9, 25, 49, 101), N(0, 1) priors, n = 1,000
data from the truth ``tanh(x1) - tanh(x2)``, beta = 1 / log n: a tensor spec
(``docs/language.md``) whose likelihood sums over the rows, so a gradient costs ``O(n H)``.
At each width, in one process, on the same compiled posterior:

- phasedsl's tempered SMC (``smc``: ``--particles`` x ``--runs``, its other defaults);
- phasedsl's NUTS (``nuts``: 4 chains, ``--warmup`` + ``--draws``);
- NumPyro's NUTS on the same log density (``potential_fn = -(logprior + loglik)`` of the
  compiled target; 4 chains, vectorized, the same warmup and draws, started where
  phasedsl's chains start), if NumPyro is installed (benchmark-only:
  ``pip install numpyro==0.22.0``); otherwise skipped with a message.

Printed per width and sampler: the seconds of one sweep value (sampling; compile apart),
the effective draws (NUTS: the split multi-chain bulk ESS of the tempered energy
``-loglik``, the quantity the learning coefficient averages, and the smallest over the
parameters; SMC: the Kish ESS of the final weights summed over runs, an upper bound on the
independent draws), seconds per effective draw, and SMC's HMC acceptance and final step
scale (a collapsing acceptance or step is where its moves stop scaling). Ratios are printed
against the peer run in the same process: NumPyro / phasedsl NUTS, SMC / NUTS.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jax
import jax.numpy as jnp
import numpy as np
from common import CompileClock, cpu_note, fmt, phasedsl_inits

from phasedsl.analysis.diagnostics import ess
from phasedsl.engines.registry import make_engine
from phasedsl.lower.compile import compile_spec
from phasedsl.pipeline.spec import load_text


def spec_text(width: int, n: int) -> str:
    """The tanh network of ``width`` hidden units as a tensor spec (``4 width + 1``
    parameters)."""
    return (f"data {{ n = {n}; x ~ normal(0, 1)^2; noise = 1 }}\n"
            f"param W1[{width}, 2]\nparam b1[{width}]\nparam q[{width}]\nparam c\n"
            "prior normal(0, 1)\nbeta = 1 / log(n)\n"
            "model y = q @ tanh(W1 @ x + b1) + c\ntruth y = tanh(x[1]) - tanh(x[2])\n")


def energies(target, ctx, params) -> np.ndarray:
    """``f[C, S]``: ``-loglik`` of draws ``params f[C, S, D]``."""
    flat = jnp.asarray(params.reshape(-1, params.shape[-1]))
    e = -jax.jit(jax.vmap(target.loglik, in_axes=(0, None)))(flat, ctx)
    return np.asarray(e, float).reshape(params.shape[:2])


def nuts_numbers(target, ctx, params, sample_s: float) -> dict:
    """ESS of the energy and the smallest over parameters, per draw seconds."""
    e_ess = ess(energies(target, ctx, params))
    p_ess = min(ess(params[:, :, j]) for j in range(params.shape[-1]))
    return {"s": sample_s, "ess": e_ess, "ess_min": p_ess, "s_per_ess": sample_s / e_ess}


def run_phasedsl(name: str, target, ctx, settings: dict, key) -> tuple:
    """``(draws, sample_s, compile_s)`` of one sweep value: the second call's seconds, and
    the first call's less the second's (compilation)."""
    engine = make_engine(name, target, settings)
    t0 = time.perf_counter()
    engine.run(key, ctx)  # compiles, then samples
    first_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    draws = engine.run(jax.random.fold_in(key, 1), ctx)
    sample_s = time.perf_counter() - t0
    return draws, sample_s, max(first_s - sample_s, 0.0)


def run_numpyro(target, ctx, inits, draws: int, warmup: int, key):
    """``(params f[C, S, D], sample_s, compile_s)``: NumPyro NUTS on the compiled target."""
    from numpyro.infer import MCMC, NUTS

    def potential(p):
        return -(target.logprior(p, ctx) + target.loglik(p, ctx))

    kernel = NUTS(potential_fn=potential, target_accept_prob=0.8, max_tree_depth=10)
    mcmc = MCMC(kernel, num_warmup=warmup, num_samples=draws, num_chains=inits.shape[0],
                chain_method="vectorized", progress_bar=False)
    with CompileClock() as clock:
        t0 = time.perf_counter()
        mcmc.run(key, init_params=jnp.asarray(inits, jnp.float32))
        # MCMC.run returns before the computation ends (asynchronous dispatch): wait for it
        samples = np.asarray(jax.block_until_ready(mcmc.get_samples(group_by_chain=True)))
        wall = time.perf_counter() - t0
    return samples, wall - clock.seconds, clock.seconds


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--widths", default="2,6,12,25")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--particles", type=int, default=400)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--draws", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-numpyro", action="store_true")
    args = ap.parse_args(argv)
    have_numpyro = not args.no_numpyro
    if have_numpyro:
        try:
            import numpyro  # noqa: F401
        except ImportError:
            print("numpyro is not installed (pip install numpyro==0.22.0): NumPyro skipped")
            have_numpyro = False
    print(cpu_note())
    head = ("| D | sampler | s / value | compile s | ESS energy | ESS min param | s / ESS | "
            "ratio | SMC acc, step |")
    print(head)
    print("|---|---|---|---|---|---|---|---|---|")
    key = jax.random.PRNGKey(args.seed)
    for width in (int(w) for w in args.widths.split(",")):
        checked = load_text(spec_text(width, args.n)).checked
        compiled = compile_spec(checked)
        target, ctx = compiled.target, compiled.context(0.0)
        d = target.dim
        rows = []
        draws, s, c = run_phasedsl("smc", target, ctx, {"particles": args.particles,
                                                        "runs": args.runs}, key)
        info = draws.info
        smc_ess = float(sum(info.ess))
        smc = {"s": s, "c": c, "ess": smc_ess, "ess_min": float("nan"), "s_per_ess": s / smc_ess,
               "acc": f"{np.mean(info.acceptance):.2f}, {np.mean(info.step_scale):.3g}"}
        draws, s, c = run_phasedsl("nuts", target, ctx, {"chains": 4, "draws": args.draws,
                                                         "warmup": args.warmup}, key)
        nuts = {**nuts_numbers(target, ctx, np.asarray(draws.params), s), "c": c, "acc": ""}
        rows.append(("phasedsl smc", smc, smc["s_per_ess"] / nuts["s_per_ess"], "smc/nuts"))
        rows.append(("phasedsl nuts", nuts, 1.0, ""))
        if have_numpyro:
            inits = phasedsl_inits(target, key, ctx, 4)
            params, s, c = run_numpyro(target, ctx, inits, args.draws, args.warmup,
                                       jax.random.fold_in(key, 2))
            npy = {**nuts_numbers(target, ctx, params, s), "c": c, "acc": ""}
            rows.append(("numpyro nuts", npy, npy["s_per_ess"] / nuts["s_per_ess"],
                         "numpyro/phasedsl"))
        for name, r, ratio, what in rows:
            ratio_s = f"{fmt(ratio)} {what}".strip() if what else "1"
            print(f"| {d} | {name} | {fmt(r['s'])} | {fmt(r['c'])} | {fmt(r['ess'])} | "
                  f"{fmt(r['ess_min'])} | {fmt(r['s_per_ess'])} | {ratio_s} | {r['acc']} |",
                  flush=True)
    print(cpu_note())


if __name__ == "__main__":
    main()
