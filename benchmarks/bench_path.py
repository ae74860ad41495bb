"""The PT1 sweep four ways, same posterior, same process: the sweep as one tempering path
(``smc_path``), tempered SMC from the prior at every point (``smc``, each value's masses from
its own draws: ``points``), the same draws with each value's masses pooled from its
neighbours' draws too (``pooled``: ``report.pool``, what ``phasedsl run`` does by default),
and BlackJAX's adaptive tempered SMC used as a user would (one run per point and repeat, HMC
moves with the inverse mass matrix tuned from the particles by
``blackjax.inner_kernel_tuning``).

Every method makes ``--runs`` independent repeats per sweep value; a mass's standard error is
their spread over sqrt(runs). Precision and time trade one for one (se^2 ~ 1 / work), so the
figure of merit is the **time to a given precision**: ``wall * (se / 0.005)^2``, with ``se``
the root mean square of the standard errors of every phase mass above 0.01 (the max over 44
masses from 4 repeats is too noisy to rank by). Printed: wall (sampling and compiling apart),
rms and max se, log Z spread, masses against the path's (z-scores: the methods must agree),
and each method's time-to-precision ratio against the path's.

    python benchmarks/bench_path.py                              # 22 values, 500 particles
    python benchmarks/bench_path.py --stride 3 --particles 200   # a quicker look
    python benchmarks/bench_path.py --methods path,points        # no BlackJAX
    python benchmarks/bench_path.py --methods path,path:2        # 2 HMC steps per bridge stage
    python benchmarks/bench_path.py --methods points,pooled,pooled:2 --particles 300
    python benchmarks/bench_path.py --methods points@150/0,pooled@100/6   # sizes per method

``--particles`` and ``--final-stages`` (``smc``'s ``final_stages``: stages at the posterior
after tempering) size every method; ``NAME@P/F`` sizes one method alone (P particles, F final
stages), so per-point SMC as it was and the shipped setting run in one process.

Devices: one XLA device per core, as ``phasedsl run`` makes them; per-point SMC samples one
point per device at a time, the path walks its two directions on two devices, and BlackJAX
runs as a user's loop would, on the default device (one core).

BlackJAX's settings: ``target_ess`` 0.5, systematic resampling, ``num_mcmc_steps`` =
``mutations``, HMC with ``integration_steps`` leapfrog steps of size ``0.5 D^(-1/4)`` in units
of the particles' std (the inverse mass matrix: the particles' variances, re-estimated each
stage). phasedsl's engines use their defaults for the rest.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

from phasedsl.engines.devices import configure, usable_cores

configure(usable_cores())  # one XLA device per core, as `phasedsl run` does

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from phasedsl.engines.registry import make_engine  # noqa: E402
from phasedsl.language.check import check  # noqa: E402
from phasedsl.language.syntax import parse  # noqa: E402
from phasedsl.lower.compile import compile_spec  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PT1 = ROOT / "specs" / "pt1_degeneracy.phase"
TARGET_SE = 0.005


def load(particles: int, runs: int, mutations: int, final_stages: int = 0):
    """``(checked, compiled)`` of PT1 with the ``smc`` engine's settings given."""
    text = PT1.read_text()
    checked = check(parse(text, str(PT1)), {"engine": "smc", "particles": str(particles),
                                              "runs": str(runs), "mutations": str(mutations),
                                              "final_stages": str(final_stages)})
    return checked, compile_spec(checked)


def masses_per_run(weights: np.ndarray, indicators: np.ndarray) -> np.ndarray:
    """``f[R, P]``: each run's phase masses from ``weights f[R, M]`` and
    ``indicators bool[R, M, P]``."""
    w = weights / weights.sum(axis=1, keepdims=True)
    return np.einsum("rm,rmp->rp", w, indicators.astype(np.float64))


def run_path(compiled, settings, values, seed, bridge_mutations=0):
    engine = make_engine("smc_path", compiled.target,
                         {**settings, "bridge_mutations": bridge_mutations})
    ctxs = [compiled.context(v) for v in values]
    t0 = time.perf_counter()
    draws = engine.run_sweep(jax.random.PRNGKey(seed), ctxs)
    wall = time.perf_counter() - t0
    compile_s = sum(d.info.compile_s for d in draws)
    return ([masses_per_run(d.weights, d.indicators) for d in draws],
            [np.asarray(d.log_z) for d in draws], wall - compile_s, compile_s)


_SAMPLED = {}  # (values, seed) -> (draws, sampling s, compiling s): `pooled` re-uses `points`


def sample_points(compiled, settings, values, seed):
    """Per-point SMC as ``phasedsl run`` does it on a CPU: one point per device at a time;
    ``(draws per value, sampling s, compiling s)``."""
    key = (tuple(values), seed, tuple(sorted(settings.items())))
    if key in _SAMPLED:
        return _SAMPLED[key]
    engine = make_engine("smc", compiled.target, settings)
    draws, compile_s = [], 0.0
    width = jax.device_count()
    t0 = time.perf_counter()
    for start in range(0, len(values), width):
        idx = range(start, min(start + width, len(values)))
        keys = [jax.random.fold_in(jax.random.PRNGKey(seed), i) for i in idx]
        for d in engine.run_many(keys, [compiled.context(values[i]) for i in idx]):
            compile_s += d.info.compile_s
            draws.append(d)
    _SAMPLED[key] = (draws, time.perf_counter() - t0 - compile_s, compile_s)
    return _SAMPLED[key]


def run_points(compiled, settings, values, seed):
    """Per-point SMC, each value's masses from its own draws."""
    draws, wall, compile_s = sample_points(compiled, settings, values, seed)
    return ([masses_per_run(d.weights, d.indicators) for d in draws],
            [np.asarray(d.log_z) for d in draws], wall, compile_s)


def run_pooled(compiled, settings, values, seed, pool=5):
    """Per-point SMC (the same draws as ``points`` when both run), each value's masses from
    the draws of ``pool`` neighbours on each side too, through ``phasedsl run``'s own code
    (``pipeline.pooling``, on the draws saved in a scratch run folder); the pooling's seconds
    (its compilation included) are added to the sampling's."""
    import tempfile

    from phasedsl.pipeline.pooling import Pooler
    from phasedsl.pipeline.sweep import summarise
    from phasedsl.rundir import save_draws

    draws, wall, compile_s = sample_points(compiled, settings, values, seed)
    with tempfile.TemporaryDirectory() as folder:
        points = []
        for i, (v, d) in enumerate(zip(values, draws)):
            save_draws(Path(folder), i, d)
            points.append(summarise(compiled, v, d, 0.0).to_json())
        t0 = time.perf_counter()
        pooled = Pooler(compiled, Path(folder), pool, summarise).points(
            {"points": points, "sweep": {"values": list(values)}})
        pool_s = time.perf_counter() - t0
    print(f"  pooling {pool_s:.1f} s (after {wall:.1f} s sampling)")
    names = compiled.phase_names
    masses = [np.asarray([p.phases[n].chain_masses for n in names]).T for p in pooled]
    return masses, [np.asarray(d.log_z) for d in draws], wall + pool_s, compile_s


def blackjax_program(target, particles: int, mutations: int, integration_steps: int):
    """``(key, ctx) -> (particles f[N, D], log Z)``: one adaptive tempered SMC run as the
    BlackJAX docs build it, wrapped in one jitted while loop."""
    import blackjax
    from blackjax.smc import extend_params, resampling
    from blackjax.smc.tuning.from_particles import particles_stds

    dim = int(target.dim)
    step = 0.5 * dim ** -0.25

    def program(key, ctx):
        def logprior(x):
            return target.logprior(x, ctx)

        def loglik(x):
            value = target.loglik(x, ctx)
            return jnp.where(jnp.isnan(value), -jnp.inf, value)

        def update(key, state, info):  # the inverse mass matrix from the particles
            stds = particles_stds(state.particles)
            return extend_params({"step_size": step, "inverse_mass_matrix": stds ** 2,
                                  "num_integration_steps": integration_steps})

        smc = blackjax.inner_kernel_tuning(
            smc_algorithm=blackjax.adaptive_tempered_smc, logprior_fn=logprior,
            loglikelihood_fn=loglik, mcmc_step_fn=blackjax.hmc.build_kernel(),
            mcmc_init_fn=blackjax.hmc.init, resampling_fn=resampling.systematic,
            mcmc_parameter_update_fn=update,
            initial_parameter_value=extend_params({
                "step_size": step, "inverse_mass_matrix": jnp.ones(dim),
                "num_integration_steps": integration_steps}),
            target_ess=0.5, num_mcmc_steps=mutations)
        k_init, k_run = jax.random.split(key)
        x0 = jax.vmap(lambda k: target.init(k, ctx))(jax.random.split(k_init, particles))
        state = smc.init(x0)

        def cond(c):
            return c[0].sampler_state.tempering_param < 1.0

        def body(c):
            state, k, log_z, stages = c
            k, sub = jax.random.split(k)
            state, info = smc.step(sub, state)
            return state, k, log_z + info.log_likelihood_increment, stages + 1

        state, _, log_z, stages = jax.lax.while_loop(
            cond, body, (state, k_run, jnp.zeros(()), jnp.zeros((), jnp.int32)))
        return state.sampler_state.particles, log_z, stages

    return jax.jit(program)


def run_blackjax(compiled, settings, values, seed):
    target = compiled.target
    program = blackjax_program(target, settings["particles"], settings["mutations"],
                               settings["integration_steps"])
    ctx0 = compiled.context(values[0])
    t0 = time.perf_counter()
    jax.block_until_ready(program.lower(jax.random.PRNGKey(0), ctx0).compile())
    compile_s = time.perf_counter() - t0
    masses, log_z = [], []
    t0 = time.perf_counter()
    for i, v in enumerate(values):
        ctx = compiled.context(v)
        per_run, zs = [], []
        for r in range(settings["runs"]):
            key = jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(seed + 1), i), r)
            x, lz, _ = jax.block_until_ready(program(key, ctx))
            ind = np.asarray(jax.vmap(lambda p: target.indicators(p, ctx))(x), bool)
            per_run.append(ind.mean(axis=0))
            zs.append(float(lz))
        masses.append(np.asarray(per_run))
        log_z.append(np.asarray(zs))
    return masses, log_z, time.perf_counter() - t0, compile_s


METHODS = {"pooled": run_pooled, "path": run_path, "points": run_points, "blackjax": run_blackjax}


def summary(masses: list[np.ndarray]):
    """``(mean f[V, P], se f[V, P])`` over runs at each value."""
    mean = np.asarray([m.mean(axis=0) for m in masses])
    se = np.asarray([m.std(axis=0, ddof=1) / math.sqrt(m.shape[0]) for m in masses])
    return mean, se


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--particles", type=int, default=500)
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--mutations", type=int, default=10)
    ap.add_argument("--final-stages", type=int, default=0)
    ap.add_argument("--stride", type=int, default=1, help="every k-th sweep value")
    ap.add_argument("--methods", default="path,points,blackjax")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    checked, compiled = load(args.particles, args.runs, args.mutations, args.final_stages)
    values = list(checked.sweep_values)[:: args.stride]
    settings = dict(checked.sample)
    names = checked.phase_names
    print(f"PT1, {len(values)} sweep values, {args.particles} particles x {args.runs} runs, "
          f"{settings['mutations']} HMC steps of {settings['integration_steps']} leapfrog steps, "
          f"{settings['final_stages']} final stages; "
          f"devices {jax.devices()}")
    results = {}
    for name in args.methods.split(","):
        # NAME@P/F: P particles and F final stages for this method alone
        spec, _, size = name.partition("@")
        method, _, k = spec.partition(":")  # path:K: K HMC steps per bridge stage;
        extra = {} if not k else (  # pooled:K: K neighbours on each side
            {"bridge_mutations": int(k)} if method == "path" else {"pool": int(k)})
        own_compiled, own_settings = compiled, settings
        if size:
            p, _, f = size.partition("/")
            own_checked, own_compiled = load(int(p), args.runs, args.mutations, int(f or 0))
            own_settings = dict(own_checked.sample)
        masses, log_z, wall, compile_s = METHODS[method](own_compiled, own_settings, values,
                                                         args.seed, **extra)
        mean, se = summary(masses)
        big = mean > 0.01
        rms = float(np.sqrt(np.mean(se[big] ** 2)))
        z_sd = float(np.mean([np.std(z, ddof=1) for z in log_z]))
        to_target = wall * (rms / TARGET_SE) ** 2
        results[name] = (mean, se, wall, to_target)
        print(f"{name:9s} sampling {wall:7.1f} s  compiling {compile_s:5.1f} s  "
              f"se rms {rms:.4f} max {se.max():.4f}  log Z sd {z_sd:.3f}  "
              f"time to se {TARGET_SE}: {to_target:7.1f} s", flush=True)
    first = next(iter(results))
    m0, s0, _, t0 = results[first]
    for name, (mean, se, wall, to_target) in results.items():
        if name == first:
            continue
        z = (mean - m0) / np.sqrt(se ** 2 + s0 ** 2 + 1e-12)
        print(f"{name} / {first}: time to precision x{to_target / t0:.2f}; masses "
              f"max |z| {np.abs(z).max():.2f}, rms z {np.sqrt(np.mean(z ** 2)):.2f}")
    print("masses (" + ", ".join(names) + ") per value, mean +- se:")
    for i, v in enumerate(values):
        cells = "  ".join(f"{name}: " + " ".join(f"{results[name][0][i, p]:.3f}+-{results[name][1][i, p]:.3f}"
                                                 for p in range(len(names)))
                          for name in results)
        print(f"  {v:.3f}  {cells}")


if __name__ == "__main__":
    main()
