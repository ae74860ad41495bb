"""One run of adaptive tempered SMC as pure functions over a ``SmcState``, BlackJAX's split:
``init`` (prior draws and the empty ring of generations), ``step`` (one tempering stage:
the next ``lambda``, reweight, resample, move), ``running`` (the loop's condition) and
``finish`` (the ensemble's weights and the run's ``SmcOutput``). ``engines.smc.build_smc``
composes them (a ``while_loop`` of ``step``, vmapped over runs) and the engine compiles,
batches and converts to ``Draws``; the method is described in ``engines.smc``.

Each function takes the run's ``SmcKernel`` (its static settings and functions) and the
sweep point's context ``ctx``; shapes: ``N = particles``, ``G0 = prior_draws``,
``K = generations`` (the ring of HMC generations), ``M = (G0 + K) N`` (the ensemble),
``D`` parameters (unconstrained ``z``).
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from blackjax.smc import resampling, solver
from jax.scipy.special import logsumexp

from phasedsl.engines.outputs import SmcOutput

__all__ = ["SmcKernel", "SmcPrior", "SmcState", "init", "step", "running", "finish"]


class SmcKernel(NamedTuple):
    """A run's static parts: ``target`` and its unconstrained form ``zt``
    (``engines.base.unconstrained``), ``move(key, z, logdensity, step, imm)`` (the HMC moves,
    ``engines.smc.hmc_moves``) and the settings it tempers with."""

    target: Any
    zt: Any
    move: Callable
    particles: int
    prior_draws: int
    generations: int
    target_ess: float
    target_accept: float
    initial_scale: float
    max_stages: int
    final_stages: int


class SmcPrior(NamedTuple):
    """The run's prior draws, fixed for the whole run: ``z f[G0*N, D]``, their
    log-likelihoods ``l f[G0*N]`` (NaN stored as ``-inf``)."""

    z: Any
    l: Any


class SmcState(NamedTuple):
    """A run between two stages. ``lam f[]``: the tempering reached; the ring of HMC
    generations ``zr f[K, N, D]``, ``lr f[K, N]``, ``held bool[K]``, each with its ``lams
    f[K]`` and ``log_zs f[K]`` (log Z estimate at its lambda); ``log_scale f[]``: the HMC
    step's scale (adapted to ``target_accept``); ``stages i[]`` made, ``final i[]`` of them
    at ``lambda = 1``; ``acc_sum f[]``: their acceptance rates summed. The tempering path,
    one entry per stage made (``f[max_stages]``, NaN beyond): ``path_lam`` (the stage's
    lambda), ``path_e`` and ``path_v`` (the weighted ensemble's mean and variance of the
    energy ``-loglik`` at that lambda, before the move: persistent sampling's estimate of
    the tempered posterior's moments, which ``analysis.lcoef.path_fit`` uses)."""

    key: Any
    lam: Any
    zr: Any
    lr: Any
    held: Any
    lams: Any
    log_zs: Any
    log_scale: Any
    stages: Any
    final: Any
    acc_sum: Any
    path_lam: Any
    path_e: Any
    path_v: Any


def stored_loglik(kernel: SmcKernel, ctx, z):
    """``f[]``: the log-likelihood at ``z f[D]``, NaN (undefined) counted as ``-inf``."""
    value = kernel.zt.loglik(z, ctx)
    return jnp.where(jnp.isnan(value), -jnp.inf, value)


def tempered(lam, l):
    """``lam * l`` with ``0 * -inf = 0`` (the prior ignores the likelihood)."""
    return jnp.where(lam > 0, lam * l, jnp.zeros((), l.dtype))


def init(kernel: SmcKernel, key, ctx) -> tuple[SmcState, SmcPrior]:
    """The run's prior draws (``SmcPrior``) and its state before the first stage."""
    n, k = kernel.particles, kernel.generations
    dim = int(kernel.target.dim)
    k_init, k_loop = jax.random.split(key)
    x0 = jax.vmap(lambda kk: jnp.asarray(kernel.target.init(kk, ctx)))(
        jax.random.split(k_init, kernel.prior_draws * n)
    )
    z_prior = jax.vmap(kernel.zt.to_z)(x0)  # f[G0*N, D]
    dtype = z_prior.dtype
    l_prior = jax.vmap(lambda z: stored_loglik(kernel, ctx, z))(z_prior)  # f[G0*N]
    state = SmcState(
        key=k_loop,
        lam=jnp.zeros((), dtype),
        zr=jnp.zeros((k, n, dim), dtype),
        lr=jnp.zeros((k, n), dtype),
        held=jnp.zeros((k,), bool),
        lams=jnp.zeros((k,), dtype),
        log_zs=jnp.zeros((k,), dtype),
        log_scale=jnp.log(jnp.asarray(kernel.initial_scale, dtype)),
        stages=jnp.zeros((), jnp.int32),
        final=jnp.zeros((), jnp.int32),
        acc_sum=jnp.zeros((), dtype),
        path_lam=jnp.full((kernel.max_stages,), jnp.nan, dtype),
        path_e=jnp.full((kernel.max_stages,), jnp.nan, dtype),
        path_v=jnp.full((kernel.max_stages,), jnp.nan, dtype),
    )
    return state, SmcPrior(z_prior, l_prior)


def log_denominators(kernel: SmcKernel, l_all, state: SmcState):
    """``f[M]``: log of the mixture ``mean_j exp(lambda_j l - log Z_j)`` over the held
    generations at every particle (``l_all f[M]``); the ``G0`` prior generations share one
    term (``lambda = 0``, ``Z = 1``)."""
    dtype = l_all.dtype
    ring = tempered(state.lams[None, :], l_all[:, None]) - state.log_zs[None, :]
    ring = jnp.where(state.held[None, :], ring, -jnp.inf)
    g0 = kernel.prior_draws
    prior = jnp.full((l_all.shape[0], 1), math.log(g0), dtype)
    count = g0 + state.held.sum().astype(dtype)
    return logsumexp(jnp.concatenate([prior, ring], axis=1), axis=1) - jnp.log(count)


def ensemble(kernel: SmcKernel, prior: SmcPrior, state: SmcState):
    """Positions ``f[M, D]``, log-likelihoods ``f[M]`` and membership ``bool[M]`` of the
    whole ensemble (prior draws first, then the ring of HMC generations)."""
    n, k = kernel.particles, kernel.generations
    dim = prior.z.shape[-1]
    z_all = jnp.concatenate([prior.z, state.zr.reshape(k * n, dim)])
    l_all = jnp.concatenate([prior.l, state.lr.reshape(k * n)])
    held = jnp.concatenate([jnp.ones((kernel.prior_draws * n,), bool),
                            jnp.repeat(state.held, n)])
    return z_all, l_all, held


def log_weights(lam, l_all, logden, held):
    """Unnormalised log weights ``f[M]`` at ``lam`` (``-inf`` where not held) and the log Z
    estimate at ``lam``."""
    lw = jnp.where(held, tempered(lam, l_all) - logden, -jnp.inf)
    count = held.sum().astype(l_all.dtype)
    return lw, logsumexp(lw) - jnp.log(count)


def weighted_variance(z, w):
    """``f[D]``: the variance of ``z f[M, D]`` under the normalised weights ``w f[M]``."""
    mean = w @ z
    return jnp.maximum(w @ (z - mean) ** 2, jnp.asarray(1e-10, z.dtype))


def energy_moments(l_all, w):
    """``(mean f[], variance f[])`` of the energy ``-l_all f[M]`` under the normalised
    weights ``w f[M]`` (samples of weight 0, whose energy may be infinite, left out).
    Energies are summed relative to the heaviest sample's: a network's ``-loglik`` carries a
    constant of order ``n beta`` (1e4), and a float32 sum of 1e5 such terms is off by tens."""
    live = w > 0
    ref = -l_all[jnp.argmax(w)]
    d = jnp.where(live, -l_all - ref, 0.0)
    total = jnp.sum(w)
    shift = jnp.sum(w * d) / total
    return ref + shift, jnp.sum(w * jnp.where(live, (d - shift) ** 2, 0.0)) / total


def next_lambda(kernel: SmcKernel, prior: SmcPrior, state: SmcState):
    """``f[]``: the next tempering, where the incremental ESS of the newest generation falls
    to ``target_ess`` (1 where it stays above it all the way)."""
    n, g0 = kernel.particles, kernel.prior_draws
    dtype = prior.z.dtype
    newest = jnp.where(state.stages > 0, state.lr[(state.stages - 1) % kernel.generations],
                       prior.l[(g0 - 1) * n:])
    log_target = jnp.log(jnp.asarray(kernel.target_ess * n, dtype))

    def excess(delta):
        lw = tempered(delta, newest)
        return 2.0 * logsumexp(lw) - logsumexp(2.0 * lw) - log_target

    max_delta = 1.0 - state.lam
    delta = jnp.clip(jnp.nan_to_num(solver.dichotomy(excess, 0.0, max_delta)), 0.0, max_delta)
    return jnp.where(delta >= max_delta, jnp.ones((), dtype), state.lam + delta)


def running(kernel: SmcKernel, state: SmcState):
    """``bool[]``: whether the run makes another stage (``lambda < 1`` or final stages to
    go, and fewer than ``max_stages``)."""
    return (((state.lam < 1.0) | (state.final < kernel.final_stages))
            & (state.stages < kernel.max_stages))


def step(kernel: SmcKernel, ctx, prior: SmcPrior, state: SmcState) -> SmcState:
    """One stage: the next ``lambda``, the ensemble reweighted to it, ``N`` particles
    resampled and moved by HMC into the ring's next slot."""
    key, k_res, k_mut = jax.random.split(state.key, 3)
    z_all, l_all, held = ensemble(kernel, prior, state)
    logden = log_denominators(kernel, l_all, state)
    lam = next_lambda(kernel, prior, state)
    lw, log_z = log_weights(lam, l_all, logden, held)
    w = jnp.exp(lw - logsumexp(lw))
    e_mean, e_var = energy_moments(l_all, w)
    start = z_all[resampling.systematic(k_res, w, kernel.particles)]
    imm = weighted_variance(z_all, w)
    size = jnp.exp(state.log_scale) * float(kernel.target.dim) ** -0.25

    def logdensity(z):
        return kernel.zt.logprior(z, ctx) + lam * kernel.zt.loglik(z, ctx)

    moved, acc = kernel.move(k_mut, start, logdensity, size, imm)
    slot = state.stages % kernel.generations
    return SmcState(
        key=key,
        lam=lam,
        zr=state.zr.at[slot].set(moved),
        lr=state.lr.at[slot].set(jax.vmap(lambda z: stored_loglik(kernel, ctx, z))(moved)),
        held=state.held.at[slot].set(True),
        lams=state.lams.at[slot].set(lam),
        log_zs=state.log_zs.at[slot].set(log_z),
        log_scale=jnp.clip(state.log_scale + 2.0 * (acc - kernel.target_accept), -12.0, 2.0),
        stages=state.stages + 1,
        final=state.final + (state.lam >= 1.0).astype(jnp.int32),
        acc_sum=state.acc_sum + acc,
        path_lam=state.path_lam.at[state.stages].set(lam),
        path_e=state.path_e.at[state.stages].set(e_mean),
        path_v=state.path_v.at[state.stages].set(e_var),
    )


def finish(kernel: SmcKernel, ctx, prior: SmcPrior, state: SmcState) -> SmcOutput:
    """The run's ``SmcOutput``: the whole ensemble (``x f[M, D]``, ``ind bool[M, P]``,
    ``logdensity f[M]``) with its normalised weights at the final ``lambda`` (``f[M]``), each
    slot's generation number (``order i[G0 + K]``, -1 when empty), the ``log Z`` estimate,
    the tempering reached, the stages made, the mean acceptance, the final step scale and
    the tempering path (``path_lam``, ``path_e``, ``path_v``: ``SmcState``)."""
    target, k, g0 = kernel.target, kernel.generations, kernel.prior_draws
    z_all, l_all, held = ensemble(kernel, prior, state)
    logden = log_denominators(kernel, l_all, state)
    lw, log_z = log_weights(state.lam, l_all, logden, held)
    weights = jnp.exp(lw - logsumexp(lw))
    x = jax.vmap(kernel.zt.to_x)(z_all)
    ind = jax.vmap(lambda v: jnp.asarray(target.indicators(v, ctx), dtype=bool))(x)
    logd = jax.vmap(lambda v: target.logprior(v, ctx))(x) + l_all
    # generation number of each slot: prior ones 0..g0-1, then the HMC ones in order
    ring_number = g0 + state.stages - 1 - (state.stages - 1 - jnp.arange(k)) % k
    order = jnp.concatenate([jnp.arange(g0), jnp.where(state.held, ring_number, -1)])
    acceptance = state.acc_sum / jnp.maximum(state.stages, 1)
    return SmcOutput(x, ind, logd, weights, order, log_z, state.lam, state.stages, acceptance,
                     jnp.exp(state.log_scale), state.path_lam, state.path_e, state.path_v)
