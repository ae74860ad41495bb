"""phasedsl's NUTS against NumPyro's NUTS on the PT1 posterior at one sweep value.

    python benchmarks/bench_nuts.py [--draws 250 --warmup 250 --chains 4 --repeats 4]

Compile time is reported apart from sampling: phasedsl compiles ahead of time once (re-used
for every run); NumPyro 0.22.0 re-compiles inside every ``MCMC.run`` (observed; see
``common.CompileClock``), so its compile seconds are measured per run with ``jax.monitoring``
and taken out of its sampling wall time.

Both samplers: the same data (``x, y = compiled.dataset(theta)``), N(0,1) priors, likelihood
tempered by beta = 1/log n, target acceptance 0.9, max tree depth 10, chains started from a
prior draw (by default the same draws: NumPyro's chains start where phasedsl's do, to pair
the chains, since on this multimodal posterior where a chain starts decides part of which mode
it stays in), Stan-style window adaptation of step size and diagonal mass matrix. NumPyro runs
its chains with ``chain_method="vectorized"`` (vmap, lockstep); phasedsl with its default
(``sequential`` on CPU; ``--chain-method vectorized`` to compare). Runs alternate between the
two samplers (``--repeats`` each, different seeds) so that a busy shared CPU hurts both alike;
each number is printed as ``median [min, max]`` over the repeats, and each ratio is
phasedsl/NumPyro of the medians.

Needs ``pip install numpyro==0.22.0`` (benchmark-only; ``--no-numpyro`` skips it).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jax
import jax.numpy as jnp
import numpy as np
from common import (
    constants,
    cpu_note,
    evaluate,
    fmt,
    load_pt1,
    lockstep_factor,
    metrics,
    numpyro_init_params,
    numpyro_mcmc,
    numpyro_model,
    phasedsl_inits,
    run_numpyro,
    spread,
)

from phasedsl.engines.registry import make_engine

ROWS = [("compile_s", "compile s (phasedsl once; numpyro per run)"),
        ("sample_s", "sampling wall s (warmup+draws)"),
        ("iters_per_s", "iterations/s (all chains)"), ("grads_per_s", "gradient evals/s"),
        ("steps_per_draw", "leapfrog steps/draw"), ("lockstep", "lockstep factor (vmap waste)"),
        ("divergences", "divergences"), ("acceptance", "acceptance"),
        ("ess_logdensity", "ESS log-density"), ("ess_s_logdensity", "ESS/s log-density"),
        ("essw_logdensity", "ESS-within log-density"),
        ("essw_s_logdensity", "ESS-within/s log-density")]


# ------------------------------------------------------------------ gradient micro-benchmark


def gradient_variants(compiled, x, y, beta, noise):
    """``name -> logdensity(params f[9], data) -> f[]`` for the three forms of PT1."""
    from jax.scipy.stats import norm

    target = compiled.target
    d, k = 2, x.shape[1]

    def prior(p):
        return jnp.sum(norm.logpdf(p))

    def matmul(p, data):  # what a NumPyro user writes
        xx, yy, _ = data
        w, b, q, c = p[:d * k].reshape(d, k), p[d * k:d * k + d], p[d * k + d:-1], p[-1]
        f = jax.nn.relu(xx @ w.T + b) @ q + c
        return prior(p) + beta * jnp.sum(norm.logpdf(yy, f, noise))

    def fused_autodiff(p, data):  # phasedsl's forward before this work (scalar-times-rows)
        _, yy, xt = data
        out = p[d * k + 2 * d]
        for i in range(d):
            h = p[d * k + i]
            for j in range(k):
                h = h + p[i * k + j] * xt[j]
            out = out + p[d * k + d + i] * jax.nn.relu(h)
        return prior(p) + beta * jnp.sum(norm.logpdf(yy, out, noise))

    ctx = compiled.context(1.26)

    def phasedsl_now(p, data):  # lower.network_forward_t: fused forward + custom_jvp
        return target.logdensity(p, ctx)

    return {"x @ W.T, autodiff": matmul, "fused, autodiff (before)": fused_autodiff,
            "fused + custom_jvp (now)": phasedsl_now}


def time_gradient(fn, data, chains: int, loops: int = 500, repeats: int = 5) -> float:
    """Median microseconds per gradient evaluation per chain, ``loops`` evaluations inside one
    compiled ``fori_loop`` (as inside NUTS); ``chains > 1`` vmaps the gradient."""
    vg = jax.value_and_grad(fn)
    if chains > 1:
        vg = jax.vmap(vg, in_axes=(0, None))

    @jax.jit
    def many(p, data):
        def body(i, acc):
            _, g = vg(p + 1e-6 * jnp.tanh(acc), data)
            return acc + g
        return jax.lax.fori_loop(0, loops, body, jnp.zeros_like(p))

    shape = (chains, 9) if chains > 1 else (9,)
    p = 0.5 * jax.random.normal(jax.random.PRNGKey(0), shape)
    jax.block_until_ready(many(p, data))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(many(p, data))
        times.append((time.perf_counter() - t0) / loops / chains * 1e6)
    return statistics.median(times), min(times), max(times)


def _float32_check(fn, data, x, y, beta, noise) -> None:
    """The float32 log-density and gradient against float64 numpy (central differences)."""
    x64, y64 = x.astype(np.float64), y.astype(np.float64)

    def ref(p):
        w, b, q, c = p[:4].reshape(2, 2), p[4:6], p[6:8], p[8]
        r = y64 - (np.maximum(x64 @ w.T + b, 0.0) @ q + c)
        log_norm = -0.5 * math.log(2 * math.pi * noise ** 2)
        return (-0.5 * np.sum(p ** 2) + len(p) * -0.5 * math.log(2 * math.pi)
                + beta * np.sum(-0.5 * r ** 2 / noise ** 2 + log_norm))

    vg = jax.jit(jax.value_and_grad(fn))
    rng = np.random.default_rng(0)
    errs_v, errs_g = [], []
    for _ in range(5):
        p = rng.standard_normal(9)
        v, g = vg(jnp.asarray(p, jnp.float32), data)
        h = 1e-6
        g64 = np.array([(ref(p + h * e) - ref(p - h * e)) / (2 * h) for e in np.eye(9)])
        errs_v.append(abs(float(v) - ref(p.astype(np.float32).astype(np.float64))))
        errs_g.append(float(np.max(np.abs(np.asarray(g) - g64)) / np.max(np.abs(g64))))
    print(f"float32 check at 5 prior draws: |log-density - float64| <= {max(errs_v):.1e} "
          f"(log-densities ~ -2e3), gradient relative error <= {max(errs_g):.1e}")


def gradient_bench(compiled, x, y, beta, noise) -> None:
    data = (jnp.asarray(x), jnp.asarray(y), jnp.asarray(x.T))
    variants = gradient_variants(compiled, x, y, beta, noise)
    # all three are the same function
    p = 0.5 * jax.random.normal(jax.random.PRNGKey(1), (9,))
    ref_v, ref_g = jax.jit(jax.value_and_grad(variants["x @ W.T, autodiff"]))(p, data)
    for name, fn in variants.items():
        v, g = jax.jit(jax.value_and_grad(fn))(p, data)
        assert abs(float(v - ref_v)) < 1e-3 * abs(float(ref_v)), name
        assert float(jnp.max(jnp.abs(g - ref_g))) < 1e-3 * float(jnp.max(jnp.abs(ref_g))), name
    _float32_check(variants["fused + custom_jvp (now)"], data, x, y, beta, noise)
    print("\n== gradient micro-benchmark: value_and_grad of the PT1 log-density, n = "
          f"{len(y)}, 500 evaluations in one compiled loop, median [min, max] of 5 ==")
    print(f"{'form':28s} {'chains':>6s} {'us/grad/chain':>24s} {'ratio to x@W.T':>15s}")
    for chains in (1, 4):
        base = None
        for name, fn in variants.items():
            med, lo, hi = time_gradient(fn, data, chains)
            base = med if base is None else base
            print(f"{name:28s} {chains:6d} {fmt(med):>10s} [{fmt(lo)}, {fmt(hi)}]"
                  f" {base / med:14.2f}x", flush=True)


def nuts_overhead() -> None:
    """BlackJAX NUTS on a 9-d Gaussian whose gradient is free: the cost of NUTS itself per
    leapfrog step (tree building, U-turn checks, while-loop iterations) on this CPU."""
    import blackjax

    scales = jnp.arange(1.0, 10.0)

    def logdensity(z):
        return -0.5 * jnp.sum(scales * z ** 2)

    kernel = blackjax.nuts.build_kernel()

    def run(key, z0):
        state = blackjax.nuts.init(z0, logdensity)

        def step(state, k):
            state, info = kernel(k, state, logdensity, 0.05, jnp.ones(9), max_num_doublings=10)
            return state, info.num_integration_steps
        return jax.lax.scan(step, state, jax.random.split(key, 300))[1]

    print("\n== NUTS overhead: BlackJAX NUTS, 300 draws of a 9-d Gaussian (gradient ~free) ==")
    for chains in (1, 4):
        fn = jax.jit(run) if chains == 1 else jax.jit(jax.vmap(run))
        keys = jax.random.PRNGKey(0) if chains == 1 else jax.random.split(jax.random.PRNGKey(0), 4)
        z0 = 0.3 * jnp.ones(9) if chains == 1 else 0.3 * jnp.ones((4, 9))
        jax.block_until_ready(fn(keys, z0))
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            steps = np.asarray(jax.block_until_ready(fn(keys, z0)))
            times.append(time.perf_counter() - t0)
        lock = steps.reshape(chains, -1).max(axis=0).sum()
        print(f"  {chains} chain(s): {statistics.median(times) / lock * 1e6:.2f} us per "
              f"{'leapfrog step' if chains == 1 else 'lockstep leapfrog step (all 4 chains)'}")


# ------------------------------------------------------------------ NUTS


def check_same_posterior(compiled, x, y, beta, noise, theta) -> None:
    """NumPyro's potential energy is minus phasedsl's log-density (same posterior)."""
    from numpyro.infer.util import potential_energy

    model = numpyro_model()
    p = 0.7 * jax.random.normal(jax.random.PRNGKey(3), (9,))
    sites = {"w": p[:4].reshape(2, 2), "b": p[4:6], "q": p[6:8], "c": p[8]}
    pe = float(potential_energy(model, (jnp.asarray(x), jnp.asarray(y), beta, noise), {}, sites))
    ld = float(compiled.logdensity(p, theta))
    assert abs(pe + ld) < 1e-4 * abs(ld), (pe, ld)


def run_phasedsl(engine, compiled, key, theta, settings) -> dict:
    draws = engine.run(key, compiled.context(theta))
    i = draws.info
    return metrics("phasedsl", chains=settings["chains"], draws=settings["draws"],
                   warmup=settings["warmup"], compile_s=i.compile_s, sample_s=i.sample_s,
                   grad_evals=i.grad_evals, steps_per_draw=i.steps_per_draw,
                   lockstep=i.lockstep_factor,
                   logdensity=draws.logdensity, indicators=draws.indicators,
                   phase_names=compiled.phase_names, divergences=i.divergences,
                   acceptance=i.acceptance)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=250)
    ap.add_argument("--warmup", type=int, default=250)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=4, help="runs of each sampler (alternating)")
    ap.add_argument("--theta", type=float, default=1.26)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chain-method", choices=["default", "sequential", "vectorized"],
                    default="default", help="phasedsl's (default: sequential on CPU)")
    ap.add_argument("--numpyro-init", choices=["paired", "prior"], default="paired",
                    help="paired: NumPyro's chains start where phasedsl's do (default); "
                         "prior: its own prior draws")
    ap.add_argument("--no-numpyro", action="store_true")
    ap.add_argument("--no-grad", action="store_true", help="skip the gradient micro-benchmark")
    ap.add_argument("--grad-only", action="store_true")
    args = ap.parse_args(argv)

    checked, compiled = load_pt1(args.draws, args.warmup, args.chains)
    x, y = compiled.dataset(args.theta)
    beta, noise = constants(checked, args.theta)
    print(f"PT1 at theta = {args.theta}, n = {len(y)}, beta = {beta:.5f}, noise = {noise}; "
          f"{args.chains} chains x {args.draws} draws after {args.warmup} warmup; "
          f"target_accept {checked.sample['target_accept']}")
    print(cpu_note())
    if not args.no_grad:
        gradient_bench(compiled, x, y, beta, noise)
        nuts_overhead()
    if args.grad_only:
        return 0

    settings = dict(checked.sample)
    if args.chain_method != "default":
        settings["chain_method"] = args.chain_method
    engine = make_engine("nuts", compiled.target, settings)
    ev = evaluate(compiled, args.theta)
    mcmc = None
    if not args.no_numpyro:
        try:
            numpyro, mcmc = numpyro_mcmc(args.chains, args.draws, args.warmup,
                                         settings["target_accept"], settings["max_depth"])
        except ImportError:
            print("numpyro is not installed (pip install numpyro==0.22.0): phasedsl only")
        else:
            check_same_posterior(compiled, x, y, beta, noise, args.theta)
            print(f"numpyro {numpyro.__version__}: potential energy = -phasedsl log-density "
                  "(checked)")

    results = {"phasedsl": [], "numpyro": []}
    print(f"\n== NUTS: phasedsl (chain_method={engine.chain_method}) vs NumPyro "
          "(chain_method=vectorized), runs alternate ==", flush=True)
    for r in range(args.repeats):
        key = jax.random.PRNGKey(args.seed + r)
        m = run_phasedsl(engine, compiled, key, args.theta, settings)
        results["phasedsl"].append(m)
        _line(m, r)
        if mcmc is not None:
            init = None
            if args.numpyro_init == "paired":
                init = numpyro_init_params(phasedsl_inits(
                    compiled.target, key, compiled.context(args.theta), args.chains), 2, x.shape[1])
            params, warm_steps, steps, div, acc, wall, comp = run_numpyro(
                mcmc, key, x, y, beta, noise, init_params=init)
            logdensity, indicators = ev(params)
            # NumPyro 0.22.0 compiles inside every run: sampling time = wall - compile
            m = metrics("numpyro", chains=args.chains, draws=args.draws, warmup=args.warmup,
                        compile_s=comp, sample_s=wall - comp,
                        grad_evals=warm_steps + int(steps.sum()),
                        steps_per_draw=float(steps.mean()), lockstep=lockstep_factor(steps),
                        logdensity=logdensity, indicators=indicators,
                        phase_names=compiled.phase_names, divergences=div, acceptance=acc)
            m["wall_s"] = wall
            results["numpyro"].append(m)
            _line(m, r)
    for m in results["phasedsl"]:  # compiled once, in the first run, re-used after
        m["compile_s"] = results["phasedsl"][0]["compile_s"]
    _table(results, compiled.phase_names)
    return 0


def _line(m: dict, r: int) -> None:
    phases = "  ".join(f"ESS/s {k[6:]} {fmt(v)}" for k, v in m.items() if k.startswith("ess_s_"))
    print(f"  run {r} {m['name']:8s} sampling {m['sample_s']:.1f} s, "
          f"{m['steps_per_draw']:.0f} steps/draw, {fmt(m['grads_per_s'])} grads/s, {phases}",
          flush=True)


def _table(results: dict, phase_names) -> None:
    rows = list(ROWS)
    for p in phase_names:
        rows += [(f"mass_{p}", f"mass {p}"), (f"ess_{p}", f"ESS {p}"),
                 (f"ess_s_{p}", f"ESS/s {p}"), (f"essw_{p}", f"ESS-within {p}"),
                 (f"essw_s_{p}", f"ESS-within/s {p}")]
    have_np = bool(results["numpyro"])
    print(f"\n{'':32s} {'phasedsl':>30s}"
          + (f" {'numpyro':>30s} {'ratio':>8s} {'pooled':>8s}" if have_np else ""))
    for key, label in rows:
        a = [m[key] for m in results["phasedsl"]]
        line = f"{label:32s} {spread(a):>30s}"
        if have_np:
            b = [m[key] for m in results["numpyro"]]
            ratio = float("nan")
            fa = [v for v in a if math.isfinite(v)]
            fb = [v for v in b if math.isfinite(v)]
            if fa and fb and statistics.median(fb) != 0:
                ratio = statistics.median(fa) / statistics.median(fb)
            line += f" {spread(b):>30s} {fmt(ratio):>8s}"
            if "_s_" in key:  # ESS rates: all runs' ESS over all runs' sampling seconds
                ess_key = key.replace("_s_", "_", 1)
                ours, theirs = (_pooled(results[k], ess_key) for k in ("phasedsl", "numpyro"))
                pooled = ours / theirs if theirs > 0 else float("nan")
                line += f" {fmt(pooled):>8s}"
        print(line)
    if have_np:
        print("ratio = phasedsl / numpyro of the medians (for times, < 1 is faster; for rates, "
              "> 1 is faster);\npooled = the same for (sum of ESS over runs) / (sum of sampling "
              "seconds over runs).\nESS = split multi-chain ESS (between-chain variance "
              "included: low when the chains sit in different modes);\nESS-within = from the "
              "within-chain autocorrelation only (phasedsl.analysis.diagnostics.ess_within).")


def _pooled(runs, ess_key) -> float:
    """Sum of the runs' ESS over the sum of their sampling seconds (finite ESS only)."""
    finite = [m for m in runs if math.isfinite(m[ess_key])]
    seconds = sum(m["sample_s"] for m in finite)
    return sum(m[ess_key] for m in finite) / seconds if seconds > 0 else float("nan")


if __name__ == "__main__":
    raise SystemExit(main())
