"""The ``smc`` engine: tempered SMC from the prior to the posterior with persistent sampling.

Each run moves through the tempered targets ``logprior(z) + lambda * loglik(z)`` in the
unconstrained coordinates of the prior's box (the Jacobian belongs to the prior,
``phasedsl.sample.Box``). It holds the last ``generations`` generations of ``particles``
particles each (persistent sampling, Karamanis et al. 2025, over a window of generations): the
particles of generation ``j`` were made for ``lambda_j``, and a held particle ``z`` gets, for
the next ``lambda``, the balance-heuristic weight

    exp(lambda * loglik(z)) / mean_j [exp(lambda_j * loglik(z)) / Z_j]

over the held generations ``j``, where ``Z_j`` is the estimate of the normalising constant of
target ``j`` made the same way when it was chosen (``Z = 1`` for the prior). Each stage

1. chooses the next ``lambda`` as the largest step for which (a) the newest generation's
   incremental weights ``exp((lambda - lambda_now) * loglik)`` keep an effective sample size of
   ``target_ess * particles`` and (b) the whole held ensemble, reweighted to ``lambda``, keeps
   one of ``persistent_ess * particles`` (bisection; (b) gives more, smaller steps, which is
   what keeps the evidence accurate on multimodal targets);
2. estimates ``Z(lambda)`` from the weighted ensemble, resamples ``particles`` particles from
   all held generations (systematic) and moves each by ``mutations`` HMC steps of
   ``integration_steps`` leapfrog steps targeting ``lambda``;
3. keeps the moved particles as a new generation, dropping the oldest beyond ``generations``.

The run starts from ``floor(persistent_ess) + 1`` generations of independent prior draws
(``target.init``: no gradients), so that (b) can be met from the start. With
``generations = 1`` and ``persistent_ess = 0`` this is plain adaptive tempered SMC.

HMC follows the ensemble: the inverse mass matrix is the diagonal of the weighted variance of
the held particles at the new ``lambda``, and each HMC step draws its step size as
``scale * D^(-1/4)`` times a factor log-uniform in ``[step_min, step_max]``. The spread is
what lets one step-size scale serve modes of very different widths: a narrow mode next to a
wide one (Example 4.1/4.2) gets enough small steps to mix instead of rejecting every move, and
random lengths also break the periodicity of fixed-length leapfrog trajectories. ``scale`` is
pushed up or down after each stage by the mean acceptance's distance from ``target_accept``.

Output per run: every held particle with its final weight (``Draws`` groups of
``held generations * particles`` samples, generations oldest first; the weights' effective
sample size can exceed ``particles``). ``runs`` independent repeats are vmapped; the standard
error of any estimate comes from their spread (``Draws.method = "repeats"``). ``log_z`` per run
is the final balance-heuristic estimate of ``log Z`` at ``lambda = 1`` (consistent; its bias
is far below its spread); ``phase_log_z = log_z + log(weighted phase mass)``.
"""

from __future__ import annotations

import math
import time

import numpy as np

from phasedsl.sample import (
    CompiledCache,
    as_arrays,
    as_key,
    settings_with_defaults,
    unconstrained,
)
from phasedsl.target import Draws, Target

__all__ = ["SmcEngine", "DEFAULTS"]

DEFAULTS = {
    "particles": 2000,  # per generation
    "runs": 4,
    "mutations": 10,  # HMC steps per particle per stage
    "integration_steps": 10,  # leapfrog steps per HMC step
    "target_ess": 0.5,  # newest generation's incremental ESS, fraction of particles
    "persistent_ess": 3.0,  # held ensemble's ESS at the next lambda, in particles
    "generations": 8,  # HMC generations held (persistent sampling window)
    "prior_draws": 8,  # generations of independent prior draws, always held
    "step_min": 0.1,  # per-HMC-step factor on the step size: log-uniform in [min, max]
    "step_max": 2.0,
    "target_accept": 0.7,  # mean HMC acceptance the step-size scale is steered to
    "initial_scale": 1.0,  # step size in units of the ensemble std, times D^(-1/4)
    "max_stages": 1000,  # safety cap on the number of tempering stages
}


def prior_generations(persistent_ess: float, prior_draws: int) -> int:
    """How many generations of prior draws a run starts from: ``prior_draws``, and at least
    enough that the ensemble at ``lambda = 0`` has an ESS above ``persistent_ess * particles``."""
    return max(int(prior_draws), int(math.floor(persistent_ess)) + 1)


def build_smc(target: Target, particles: int, runs: int, mutations: int,
              integration_steps: int, target_ess: float, persistent_ess: float,
              generations: int, prior_draws: int, step_min: float, step_max: float, target_accept: float,
              initial_scale: float, max_stages: int):
    """The pure function ``(key, ctx) -> outputs`` that the engine compiles (leading axis runs).

    Outputs (``K = generations``, ``N = particles``): ``x f[R,K*N,D]``, ``ind bool[R,K*N,P]``,
    ``logdensity f[R,K*N]``, ``weights f[R,K*N]`` (0 for empty slots), ``gen i[R,K]``
    (generation number held in each slot, -1 when empty), ``log_z f[R]``, ``lambda f[R]``
    (final tempering, 1 unless ``max_stages`` was hit), ``stages i[R]``, ``acceptance f[R]``
    (mean over stages), ``scale f[R]`` (final step scale).
    """
    import blackjax
    import jax
    import jax.numpy as jnp
    from blackjax.smc import resampling, solver
    from jax.scipy.special import logsumexp

    zt = unconstrained(target)
    dim = int(target.dim)
    n = particles
    g0 = prior_generations(persistent_ess, prior_draws)
    k_held = g0 + generations  # slots: the prior generations, then a ring of HMC generations
    hmc = blackjax.hmc.build_kernel()
    log_min, log_max = math.log(step_min), math.log(step_max)
    dim_factor = float(dim) ** -0.25

    def slot_of(number):
        """The slot of generation ``number`` (prior generations stay; HMC ones rotate)."""
        return jnp.where(number < g0, number, g0 + (number - g0) % generations)

    def one_run(key, ctx):
        k_init, k_loop = jax.random.split(key)

        def logprior(z):
            return zt.logprior(z, ctx)

        def loglik(z):
            return zt.loglik(z, ctx)

        x0 = jax.vmap(lambda k: jnp.asarray(target.init(k, ctx)))(
            jax.random.split(k_init, g0 * n)
        )
        z0 = jax.vmap(zt.to_z)(x0).reshape(g0, n, dim)
        dtype = z0.dtype
        l0 = jax.vmap(loglik)(z0.reshape(g0 * n, dim)).reshape(g0, n)
        zs = jnp.zeros((k_held, n, dim), dtype).at[:g0].set(z0)
        ls = jnp.zeros((k_held, n), dtype).at[:g0].set(l0)
        gen = jnp.full((k_held,), -1, jnp.int32).at[:g0].set(jnp.arange(g0, dtype=jnp.int32))
        lams = jnp.zeros((k_held,), dtype)  # lambda of each held generation
        log_zs = jnp.zeros((k_held,), dtype)  # its log Z estimate (0: the prior is normalised)

        def log_denominators(ls, lams, log_zs, gen):
            """``f[K, N]``: log of the mixture ``mean_j exp(lambda_j l - log Z_j)`` over the
            held generations ``j``, at every held particle."""
            held = gen >= 0
            terms = ls[:, :, None] * lams[None, None, :] - log_zs[None, None, :]
            terms = jnp.where(held[None, None, :], terms, -jnp.inf)
            return logsumexp(terms, axis=-1) - jnp.log(held.sum().astype(dtype))

        def log_weights(lam, ls, logden, gen):
            """Unnormalised log weights ``f[K, N]`` for ``lam`` (``-inf`` in empty slots) and
            the log Z estimate at ``lam``."""
            held = gen >= 0
            lw = jnp.where(held[:, None], lam * ls - logden, -jnp.inf)
            return lw, logsumexp(lw) - jnp.log(held.sum().astype(dtype) * n)

        def log_ess(lw):
            return 2.0 * logsumexp(lw) - logsumexp(2.0 * lw)

        def weighted_variance(z, w):
            mean = w @ z
            return jnp.maximum(w @ (z - mean) ** 2, jnp.asarray(1e-10, dtype))

        def cond(c):
            return (c["lam"] < 1.0) & (c["stages"] < max_stages)

        def body(c):
            key, k_res, k_mut = jax.random.split(c["key"], 3)
            lam_now = c["lam"]
            logden = log_denominators(c["ls"], c["lams"], c["log_zs"], c["gen"])
            newest = c["ls"][slot_of(c["top"])]
            log_target_inc = jnp.log(jnp.asarray(target_ess * n, dtype))
            log_target_ps = jnp.log(jnp.asarray(max(persistent_ess, 1e-30) * n, dtype))

            def excess(delta):  # > 0 while both ESS criteria hold
                inc = log_ess(delta * newest) - log_target_inc
                if persistent_ess <= 0:
                    return inc
                lw, _ = log_weights(lam_now + delta, c["ls"], logden, c["gen"])
                return jnp.minimum(inc, log_ess(lw) - log_target_ps)

            max_delta = 1.0 - lam_now
            delta = jnp.nan_to_num(solver.dichotomy(excess, 0.0, max_delta))
            lam = jnp.clip(lam_now + jnp.clip(delta, 0.0, max_delta), 0.0, 1.0)
            lam = jnp.where(max_delta - delta <= 0.0, jnp.ones((), dtype), lam)

            lw, log_z = log_weights(lam, c["ls"], logden, c["gen"])
            w = jnp.exp(lw - logsumexp(lw)).reshape(-1)
            flat = c["zs"].reshape(-1, dim)
            start = flat[resampling.systematic(k_res, w, n)]
            imm = weighted_variance(flat, w)
            step = jnp.exp(c["log_scale"]) * dim_factor

            def logdensity(z):
                return logprior(z) + lam * loglik(z)

            def hmc_step(state, k):
                k_size, k_move = jax.random.split(k)
                factor = jnp.exp(jax.random.uniform(k_size, (), dtype, log_min, log_max))
                state, info = hmc(k_move, state, logdensity, step * factor, imm,
                                  num_integration_steps=integration_steps)
                return state, info.acceptance_rate

            def mutate(k, z):
                state, acc = jax.lax.scan(hmc_step, blackjax.hmc.init(z, logdensity),
                                          jax.random.split(k, mutations))
                return state.position, jnp.mean(acc)

            moved, acc = jax.vmap(mutate)(jax.random.split(k_mut, n), start)
            acc = jnp.mean(acc)
            top = c["top"] + 1
            slot = slot_of(top)
            return {
                "key": key,
                "lam": lam,
                "top": top,
                "zs": c["zs"].at[slot].set(moved),
                "ls": c["ls"].at[slot].set(jax.vmap(loglik)(moved)),
                "gen": c["gen"].at[slot].set(top),
                "lams": c["lams"].at[slot].set(lam),
                "log_zs": c["log_zs"].at[slot].set(log_z),
                "log_scale": jnp.clip(c["log_scale"] + 2.0 * (acc - target_accept), -12.0, 2.0),
                "stages": c["stages"] + 1,
                "acc_sum": c["acc_sum"] + acc,
            }

        carry = {
            "key": k_loop,
            "lam": jnp.zeros((), dtype),
            "top": jnp.asarray(g0 - 1, jnp.int32),  # generation number of the newest
            "zs": zs,
            "ls": ls,
            "gen": gen,
            "lams": lams,
            "log_zs": log_zs,
            "log_scale": jnp.log(jnp.asarray(initial_scale, dtype)),
            "stages": jnp.zeros((), jnp.int32),
            "acc_sum": jnp.zeros((), dtype),
        }
        c = jax.lax.while_loop(cond, body, carry)

        logden = log_denominators(c["ls"], c["lams"], c["log_zs"], c["gen"])
        lw, log_z = log_weights(c["lam"], c["ls"], logden, c["gen"])
        weights = jnp.exp(lw - logsumexp(lw)).reshape(-1)
        x = jax.vmap(zt.to_x)(c["zs"].reshape(-1, dim))
        ind = jax.vmap(lambda v: jnp.asarray(target.indicators(v, ctx), dtype=bool))(x)
        logd = jax.vmap(lambda v: target.logprior(v, ctx))(x) + c["ls"].reshape(-1)
        acceptance = c["acc_sum"] / jnp.maximum(c["stages"], 1)
        return (x, ind, logd, weights, c["gen"], log_z, c["lam"], c["stages"], acceptance,
                jnp.exp(c["log_scale"]))

    def run(key, ctx):
        keys = jax.vmap(lambda r: jax.random.fold_in(key, r))(jnp.arange(runs))
        return jax.vmap(one_run, in_axes=(0, None))(keys, ctx)

    return run


def held_in_order(gen: np.ndarray, n: int):
    """``(index f[R, S], kept slots)``: sample indices of the held generations of each run,
    oldest first, over the slots held in at least one run (``S = slots * n``)."""
    runs, k = gen.shape
    order = np.argsort(np.where(gen >= 0, gen, np.iinfo(np.int32).max), axis=1, kind="stable")
    used = int((gen >= 0).sum(axis=1).max())
    slots = order[:, :used]  # f[R, used]: slot indices, oldest first (empty slots last)
    index = (slots[:, :, None] * n + np.arange(n)[None, None, :]).reshape(runs, used * n)
    return index, used


class SmcEngine:
    """``make_engine("smc", target, settings)``; settings and defaults in ``DEFAULTS``."""

    name = "smc"
    DEFAULTS = DEFAULTS

    def __init__(self, target: Target, settings: dict):
        self.target = target
        self.settings = settings_with_defaults(DEFAULTS, settings)
        s = self.settings
        if s["particles"] < 2 or s["runs"] < 1 or s["mutations"] < 1:
            raise ValueError("smc needs particles >= 2, runs >= 1, mutations >= 1")
        if s["integration_steps"] < 1 or s["max_stages"] < 1:
            raise ValueError("smc needs integration_steps >= 1, max_stages >= 1")
        if not 0.0 < s["target_ess"] < 1.0:
            raise ValueError("smc target_ess must lie in (0, 1)")
        if s["persistent_ess"] < 0.0:
            raise ValueError("smc persistent_ess must be >= 0")
        if s["generations"] < 1 or s["prior_draws"] < 1:
            raise ValueError("smc needs generations >= 1, prior_draws >= 1")
        if not 0.0 < s["step_min"] <= s["step_max"]:
            raise ValueError("smc needs 0 < step_min <= step_max")
        self._cache = CompiledCache(build_smc(target, **s))

    @property
    def traces(self) -> int:
        return self._cache.traces

    def run(self, key, ctx) -> Draws:
        import jax

        t0 = time.perf_counter()
        out, compile_s = self._cache.call(as_key(key), as_arrays(ctx))
        out = jax.block_until_ready(out)
        sample_s = time.perf_counter() - t0 - compile_s
        x, ind, logd, weights, gen, log_z, lam, stages, acceptance, scale = (
            np.asarray(a) for a in out
        )
        s = self.settings
        index, held = held_in_order(gen, s["particles"])
        x = np.take_along_axis(x, index[:, :, None], axis=1)
        ind = np.take_along_axis(ind, index[:, :, None], axis=1)
        logd = np.take_along_axis(logd, index, axis=1)
        weights = np.take_along_axis(weights, index, axis=1).astype(np.float64)
        weights /= weights.sum(axis=1, keepdims=True)
        log_z = log_z.astype(np.float64)
        with np.errstate(divide="ignore"):
            phase_log_z = log_z[:, None] + np.log(np.einsum("rn,rnp->rp", weights, ind))
        ess = 1.0 / np.sum(weights**2, axis=1)
        wall_s = time.perf_counter() - t0
        grad_evals = int(
            stages.astype(np.int64).sum() * s["mutations"] * s["integration_steps"]
            * s["particles"]
        )
        info = {
            "engine": "smc",
            "particles": s["particles"],
            "runs": s["runs"],
            "generations": held,
            "stages": [int(v) for v in stages],
            "ess": [float(v) for v in ess],
            "acceptance": [float(v) for v in acceptance],
            "step_scale": [float(v) for v in scale],
            "reached_posterior": bool(np.all(lam >= 1.0)),
            "final_lambda": [float(v) for v in lam],
            "grad_evals": grad_evals,
            "compile_s": compile_s,
            "sample_s": sample_s,
            "wall_s": wall_s,
            "grad_evals_per_s": grad_evals / sample_s if sample_s > 0 else float("nan"),
        }
        return Draws(
            params=x,
            indicators=ind,
            logdensity=logd,
            weights=weights,
            method="repeats",
            log_z=log_z,
            phase_log_z=phase_log_z,
            info=info,
        )
