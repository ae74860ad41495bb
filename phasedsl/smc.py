"""The ``smc`` engine: adaptive tempered SMC from the prior to the posterior (BlackJAX).

Each run starts from ``particles`` prior draws (``target.init``) and moves through the tempered
targets ``logprior(z) + lambda * loglik(z)`` in the unconstrained coordinates of the prior's box
(the Jacobian belongs to the prior, ``phasedsl.sample.Box``), choosing each next ``lambda`` so
that the incremental weights keep an effective sample size of ``target_ess * particles``
(``blackjax.adaptive_tempered_smc``). Every stage resamples systematically and then applies
``mutations`` HMC steps of ``integration_steps`` leapfrog steps to every particle. The HMC
parameters follow the particle cloud: the inverse mass matrix is the diagonal of the weighted
particle variance after each stage, and the step size is ``scale * D^(-1/4)`` times a
per-particle jitter in [0.6, 1.4] (it breaks the periodicity of fixed-length leapfrog
trajectories), where ``scale`` is pushed up or down after each stage by the mean acceptance's
distance from ``target_accept``.

``runs`` independent repeats are vmapped; the standard error of any estimate comes from their
spread (``Draws.method = "repeats"``). ``log_z`` per run is the sum of the stages' log
normalising-constant increments (an unbiased estimate of ``Z``, so ``log_z`` is biased low by
about half its variance); ``phase_log_z = log_z + log(weighted phase mass)``.
"""

from __future__ import annotations

import time
from functools import partial

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
    "particles": 2000,
    "runs": 4,
    "mutations": 10,  # HMC steps per particle per stage
    "integration_steps": 10,  # leapfrog steps per HMC step
    "target_ess": 0.5,  # fraction of particles
    "target_accept": 0.7,  # HMC acceptance the step-size scale is steered to
    "initial_scale": 1.0,  # step size in units of the particle std, times D^(-1/4)
    "max_stages": 1000,  # safety cap on the number of tempering stages
}


def build_smc(target: Target, particles: int, runs: int, mutations: int,
              integration_steps: int, target_ess: float, target_accept: float,
              initial_scale: float, max_stages: int):
    """The pure function ``(key, ctx) -> outputs`` that the engine compiles (leading axis runs).

    Outputs: ``x f[R,N,D]``, ``ind bool[R,N,P]``, ``logdensity f[R,N]``, ``weights f[R,N]``,
    ``log_z f[R]``, ``lambda f[R]`` (final tempering, 1 unless ``max_stages`` was hit),
    ``stages i[R]``, ``acceptance f[R]`` (mean over stages), ``scale f[R]`` (final step scale).
    """
    import blackjax
    import jax
    import jax.numpy as jnp
    from blackjax.smc import resampling
    from blackjax.smc.tempered import TemperedSMCState

    zt = unconstrained(target)
    dim = int(target.dim)
    hmc_kernel = partial(blackjax.hmc.build_kernel(), num_integration_steps=integration_steps)
    dim_factor = float(dim) ** -0.25

    def one_run(key, ctx):
        k_init, k_loop = jax.random.split(key)

        def logprior(z):
            return zt.logprior(z, ctx)

        def loglik(z):
            return zt.loglik(z, ctx)

        x0 = jax.vmap(lambda k: jnp.asarray(target.init(k, ctx)))(
            jax.random.split(k_init, particles)
        )
        z0 = jax.vmap(zt.to_z)(x0)
        dtype = z0.dtype
        state = TemperedSMCState(z0, jnp.full(particles, 1.0 / particles, dtype),
                                 jnp.zeros((), dtype))

        def cloud_variance(z, w):
            mean = w @ z
            var = w @ (z - mean) ** 2
            return jnp.maximum(var, jnp.asarray(1e-10, dtype))

        def cond(carry):
            state, *_, stages, _ = carry
            return (state.tempering_param < 1.0) & (stages < max_stages)

        def body(carry):
            state, key, log_z, log_scale, imm, stages, acc_sum = carry
            key, k_step, k_jitter = jax.random.split(key, 3)
            jitter = jax.random.uniform(k_jitter, (particles,), dtype, 0.6, 1.4)
            params = {
                "step_size": jnp.exp(log_scale) * dim_factor * jitter,  # per particle
                "inverse_mass_matrix": imm[None],  # leading 1: shared by all particles
            }
            smc = blackjax.adaptive_tempered_smc(
                logprior,
                loglik,
                hmc_kernel,
                blackjax.hmc.init,
                params,
                resampling.systematic,
                target_ess,
                num_mcmc_steps=mutations,
            )
            new_state, info = smc.step(k_step, state)
            acc = jnp.mean(info.update_info.acceptance_rate)
            log_scale = jnp.clip(log_scale + 2.0 * (acc - target_accept), -12.0, 2.0)
            imm = cloud_variance(new_state.particles, new_state.weights)
            return (new_state, key, log_z + info.log_likelihood_increment, log_scale, imm,
                    stages + 1, acc_sum + acc)

        carry = (
            state,
            k_loop,
            jnp.zeros((), dtype),
            jnp.log(jnp.asarray(initial_scale, dtype)),
            cloud_variance(z0, state.weights),
            jnp.zeros((), jnp.int32),
            jnp.zeros((), dtype),
        )
        state, _, log_z, log_scale, _, stages, acc_sum = jax.lax.while_loop(cond, body, carry)

        x = jax.vmap(zt.to_x)(state.particles)
        ind = jax.vmap(lambda v: jnp.asarray(target.indicators(v, ctx), dtype=bool))(x)
        logd = jax.vmap(lambda v: target.logprior(v, ctx) + target.loglik(v, ctx))(x)
        acceptance = acc_sum / jnp.maximum(stages, 1)
        return (x, ind, logd, state.weights, log_z, state.tempering_param, stages, acceptance,
                jnp.exp(log_scale))

    def run(key, ctx):
        keys = jax.vmap(lambda r: jax.random.fold_in(key, r))(jnp.arange(runs))
        return jax.vmap(one_run, in_axes=(0, None))(keys, ctx)

    return run


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
        x, ind, logd, weights, log_z, lam, stages, acceptance, scale = (
            np.asarray(a) for a in out
        )
        weights = weights.astype(np.float64)
        weights /= weights.sum(axis=1, keepdims=True)
        log_z = log_z.astype(np.float64)
        with np.errstate(divide="ignore"):
            phase_log_z = log_z[:, None] + np.log(np.einsum("rn,rnp->rp", weights, ind))
        ess = 1.0 / np.sum(weights**2, axis=1)
        s = self.settings
        wall_s = time.perf_counter() - t0
        grad_evals = int(
            stages.astype(np.int64).sum() * s["mutations"] * s["integration_steps"]
            * s["particles"]
        )
        info = {
            "engine": "smc",
            "particles": s["particles"],
            "runs": s["runs"],
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
