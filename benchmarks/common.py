"""What the benchmarks share: the PT1 posterior from the spec, the same posterior as a NumPyro
model, and the numbers printed for a run of NUTS.

NumPyro is a benchmark-only dependency (``pip install numpyro==0.22.0``; 0.22.0 imports and
runs with jax 0.10.2). It is imported lazily so that ``--no-numpyro`` works without it.
"""

from __future__ import annotations

import math
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from phasedsl.language.check import check
from phasedsl.analysis.diagnostics import ess, ess_within
from phasedsl.lower.compile import compile_spec
from phasedsl.language.syntax import parse

ROOT = Path(__file__).resolve().parents[1]
PT1 = ROOT / "specs" / "pt1_degeneracy.phase"


def load_pt1(draws: int, warmup: int, chains: int):
    """``(checked, compiled)`` for PT1 with NUTS and the given settings (target_accept 0.9, as
    the seed; the spec itself now asks for tempered SMC)."""
    text = PT1.read_text()
    checked = check(parse(text, str(PT1)),
                    {"engine": "nuts", "target_accept": "0.9", "draws": str(draws),
                     "warmup": str(warmup), "chains": str(chains)})
    return checked, compile_spec(checked)


def constants(checked, theta: float) -> tuple[float, float]:
    """``(beta, noise)`` of the spec at sweep value ``theta`` (PT1: ``1/log n`` and 1)."""
    sub = {checked.sweep_symbol: theta}
    beta = float(sp.sympify(checked.beta).subs(sub))
    noise = float(sp.sympify(checked.network.noise).subs(sub))
    return beta, noise


def flatten_numpyro(samples: dict, d: int, k: int):
    """NumPyro's sample dict (leading axes ``[C, S]``) in phasedsl's parameter layout
    ``w[d,k], b[d], q[d], c``: ``f[C, S, D]``."""
    lead = samples["c"].shape
    return jnp.concatenate([samples["w"].reshape(lead + (d * k,)), samples["b"],
                            samples["q"], samples["c"][..., None]], axis=-1)


def numpyro_model():
    """The PT1 posterior written as a NumPyro user would: ``x @ W.T``, N(0,1) priors, the
    likelihood tempered by ``beta`` with ``handlers.scale``. Arguments ``(x, y, beta, noise)``
    so that one compiled kernel serves every sweep value (``jit_model_args=True``)."""
    import numpyro
    import numpyro.distributions as dist
    from numpyro import handlers

    def model(x, y, beta, noise):
        d, k = 2, x.shape[1]
        w = numpyro.sample("w", dist.Normal(0.0, 1.0).expand([d, k]).to_event(2))
        b = numpyro.sample("b", dist.Normal(0.0, 1.0).expand([d]).to_event(1))
        q = numpyro.sample("q", dist.Normal(0.0, 1.0).expand([d]).to_event(1))
        c = numpyro.sample("c", dist.Normal(0.0, 1.0))
        f = jax.nn.relu(x @ w.T + b) @ q + c
        with handlers.scale(scale=beta):
            numpyro.sample("y", dist.Normal(f, noise).to_event(1), obs=y)

    return model


def numpyro_mcmc(chains: int, draws: int, warmup: int, target_accept: float, max_depth: int):
    import numpyro
    from numpyro.infer import MCMC, NUTS, init_to_sample

    kernel = NUTS(numpyro_model(), target_accept_prob=target_accept, max_tree_depth=max_depth,
                  init_strategy=init_to_sample)  # chains start from a prior draw, like phasedsl
    return numpyro, MCMC(kernel, num_warmup=warmup, num_samples=draws, num_chains=chains,
                         chain_method="vectorized", progress_bar=False, jit_model_args=True)


class CompileClock:
    """Seconds JAX spends lowering and compiling (XLA) while the clock is open, from
    ``jax.monitoring`` events. NumPyro 0.22.0 re-compiles its sampling loop at every
    ``MCMC.run`` even with ``jit_model_args=True`` (seen with ``jax_log_compiles``: the
    warmup loop, the sampling loop and an init ``scan`` each run; the likely cause is that
    ``fori_collect`` without a progress bar wraps its cached body in a new ``jit`` at every
    call and passes it as a static argument; NumPyro PR #2171 fixed a recompilation of the
    same path), so its compile time is measured per run and reported apart from sampling."""

    _EVENTS = ("/jax/core/compile/backend_compile_duration",
               "/jax/core/compile/jaxpr_to_mlir_module_duration")
    _total = 0.0
    _registered = False

    @classmethod
    def _listen(cls, name, seconds, **_):
        if name in cls._EVENTS:
            cls._total += seconds

    def __enter__(self):
        if not CompileClock._registered:
            jax.monitoring.register_event_duration_secs_listener(CompileClock._listen)
            CompileClock._registered = True
        self._start = CompileClock._total
        return self

    def __exit__(self, *exc):
        self.seconds = CompileClock._total - self._start


def phasedsl_inits(target, key, ctx, chains: int):
    """The starting points phasedsl's NUTS engine draws for ``key`` (``f[C, D]``): chain ``c``
    starts at ``target.init(split(fold_in(key, c), 3)[0], ctx)`` (see ``phasedsl.engines.nuts``).
    Giving NumPyro the same starting points pairs the two samplers' chains."""
    out = []
    for c in range(chains):
        k_init = jax.random.split(jax.random.fold_in(key, c), 3)[0]
        out.append(np.asarray(target.init(k_init, ctx)))
    return np.stack(out)


def numpyro_init_params(inits, d: int, k: int) -> dict:
    """``f[C, D]`` in phasedsl's layout as NumPyro's (unconstrained) init dict."""
    inits = jnp.asarray(inits, jnp.float32)
    chains = inits.shape[0]
    return {"w": inits[:, : d * k].reshape(chains, d, k), "b": inits[:, d * k: d * k + d],
            "q": inits[:, d * k + d: d * k + 2 * d], "c": inits[:, -1]}


def run_numpyro(mcmc, key, x, y, beta, noise, init_params=None):
    """Warmup then sampling; ``(params f[C,S,D] as numpy, warmup steps, sample steps [C,S],
    divergences, acceptance, wall seconds, compile seconds within the wall)``. The draws are
    blocked on before the clock stops."""
    args = (jnp.asarray(x), jnp.asarray(y), jnp.float32(beta), jnp.float32(noise))
    k_warm, k_run = jax.random.split(key)
    with CompileClock() as clock:
        t0 = time.perf_counter()
        mcmc.warmup(k_warm, *args, extra_fields=("num_steps",), collect_warmup=True,
                    init_params=init_params)
        warm_steps = jax.block_until_ready(
            mcmc.get_extra_fields(group_by_chain=True)["num_steps"])
        mcmc.run(k_run, *args, extra_fields=("num_steps", "diverging", "accept_prob"))
        samples = jax.block_until_ready(mcmc.get_samples(group_by_chain=True))
        wall = time.perf_counter() - t0
    extra = mcmc.get_extra_fields(group_by_chain=True)
    params = np.asarray(flatten_numpyro(samples, 2, x.shape[1]))
    return (params, int(np.asarray(warm_steps).sum()), np.asarray(extra["num_steps"]),
            int(np.asarray(extra["diverging"]).sum()),
            float(np.asarray(extra["accept_prob"]).mean()), wall, clock.seconds)


def evaluate(compiled, value):
    """Jitted ``params f[C,S,D] -> (logdensity f[C,S], indicators bool[C,S,P])``."""
    ctx = compiled.context(value)
    t = compiled.target
    both = jax.vmap(jax.vmap(lambda p: (t.logdensity(p, ctx), t.indicators(p, ctx))))
    fn = jax.jit(both)
    return lambda params: tuple(np.asarray(a) for a in fn(jnp.asarray(params, jnp.float32)))


def lockstep_factor(steps: np.ndarray) -> float:
    """``steps: i[C, S]`` -> work of chains vmapped in lockstep over the work of the chains
    alone: ``sum_s max_c steps / sum_s mean_c steps`` (1 = no waste)."""
    steps = np.asarray(steps, float)
    return float(steps.max(axis=0).sum() / steps.mean(axis=0).sum())


def metrics(name, *, chains, draws, warmup, compile_s, sample_s, grad_evals, steps_per_draw,
            lockstep, logdensity, indicators, phase_names, divergences, acceptance) -> dict:
    """The numbers printed per run."""
    out = {"name": name, "compile_s": compile_s, "sample_s": sample_s,
           "iters_per_s": chains * (draws + warmup) / sample_s,
           "grads_per_s": grad_evals / sample_s,
           "steps_per_draw": steps_per_draw, "lockstep": lockstep,
           "divergences": divergences, "acceptance": acceptance,
           "ess_logdensity": ess(logdensity), "essw_logdensity": ess_within(logdensity)}
    out["ess_s_logdensity"] = out["ess_logdensity"] / sample_s
    out["essw_s_logdensity"] = out["essw_logdensity"] / sample_s
    for p, phase in enumerate(phase_names):
        ind = indicators[..., p].astype(float)
        out[f"mass_{phase}"] = float(ind.mean())
        out[f"ess_{phase}"] = ess(ind)
        out[f"ess_s_{phase}"] = out[f"ess_{phase}"] / sample_s
        out[f"essw_{phase}"] = ess_within(ind)
        out[f"essw_s_{phase}"] = out[f"essw_{phase}"] / sample_s
    return out


def spread(values) -> str:
    """``median [min, max]`` of the finite values."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return "nan"
    med = statistics.median(vals)
    if len(vals) == 1:
        return fmt(med)
    return f"{fmt(med)} [{fmt(min(vals))}, {fmt(max(vals))}]"


def fmt(v: float) -> str:
    if v is None or not math.isfinite(v):
        return "nan"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 0.1:
        return f"{v:.3g}"
    return f"{v:.2g}"


def cpu_note() -> str:
    import os

    load = os.getloadavg()
    return (f"jax {jax.__version__} on {jax.default_backend()}, {os.cpu_count()} CPUs, "
            f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
