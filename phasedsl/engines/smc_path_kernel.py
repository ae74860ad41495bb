"""One bridge of ``smc_path`` as pure functions over a ``BridgeState``, BlackJAX's split:
``bridge_init`` (the particles at value ``a``, their log-likelihoods at ``a`` and ``b``),
``bridge_step`` (one reweighting stage: the next ``t``, the weights, and where they have
degenerated a stratified resampling and HMC moves), ``bridging`` (the loop's condition) and
``bridge_finish`` (the particles at value ``b`` and that value's record); ``bridge`` runs
them in a ``while_loop``. ``engines.smc_path.build_path`` walks each run along the sweep,
one bridge after another, and the engine compiles, batches and converts to ``Draws``; the
method is described in ``engines.smc_path``.

Each function takes the walk's ``PathKernel`` (its static settings and functions); shapes:
``N = particles``, ``D`` parameters (unconstrained ``z``), ``P`` phases.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
from blackjax.smc import solver
from jax.scipy.special import logsumexp

from phasedsl.engines.smc_kernel import stored_loglik

__all__ = ["BRIDGE_CESS", "MAX_BRIDGE_STAGES", "BridgeState", "PathKernel", "PathState",
           "bridge", "bridge_finish", "bridge_init", "bridge_step", "bridging", "next_t",
           "resample_move", "stratified_resample"]

MAX_BRIDGE_STAGES = 200  # safety cap on the stages of one bridge
BRIDGE_CESS = 0.9  # each reweighting keeps this conditional ESS (a fraction of the particles)


class PathKernel(NamedTuple):
    """A walk's static parts: ``target`` and its unconstrained form ``zt``
    (``engines.base.unconstrained``), ``move(key, z, logdensity, step, imm)`` (the HMC moves,
    ``engines.smc.hmc_moves``), the particles per run and the moves' target acceptance."""

    target: Any
    zt: Any
    move: Callable
    particles: int
    target_accept: float


class PathState(NamedTuple):
    """A run between two sweep values: particles ``z f[N, D]`` with normalised log weights
    ``lw f[N]``, the ``log Z`` estimate at the value ``f[]`` and the HMC step's log scale
    ``f[]``."""

    z: Any
    lw: Any
    log_z: Any
    log_scale: Any


class BridgeState(NamedTuple):
    """A bridge from value ``a`` to value ``b`` between two stages: ``t f[]`` (0 at ``a``,
    1 at ``b``), the particles ``z f[N, D]``, their normalised log weights ``lw f[N]`` and
    log-likelihoods ``la, lb f[N]`` at ``a`` and ``b`` (NaN stored as ``-inf``), ``log_z
    f[]`` at ``t``, the reweighting ``stages i[]`` made, the ``moves i[]`` (stages that
    resampled and moved), their acceptance rates summed ``acc_sum f[]`` and the HMC step's
    ``log_scale f[]``."""

    key: Any
    t: Any
    z: Any
    lw: Any
    la: Any
    lb: Any
    log_z: Any
    stages: Any
    moves: Any
    acc_sum: Any
    log_scale: Any


def stratified_resample(key, weights, codes, n: int):
    """``int[n]`` indices drawn from ``weights f[M]`` by systematic resampling over the
    particles sorted by ``codes i[M]`` (which phases each lies in): every code's total weight
    ``W_c`` gets ``floor(n W_c)`` or ``ceil(n W_c)`` particles."""
    order = jnp.argsort(codes, stable=True)
    cum = jnp.cumsum(weights[order])
    cum = cum / cum[-1]
    u = (jax.random.uniform(key, (), weights.dtype) + jnp.arange(n, dtype=weights.dtype)) / n
    pos = jnp.clip(jnp.searchsorted(cum, u, side="right"), 0, weights.shape[0] - 1)
    return order[pos]


def codes_of(kernel: PathKernel, z, ctx):
    """``i[]``: which phases ``z f[D]`` lies in, as the bits of one integer."""
    ind = jnp.asarray(kernel.target.indicators(kernel.zt.to_x(z), ctx), dtype=jnp.int32)
    return jnp.sum(ind * (2 ** jnp.arange(ind.shape[0], dtype=jnp.int32)))


def normalise(lw):
    """``lw f[N]`` minus its log sum."""
    return lw - logsumexp(lw)


def ess(lw):
    """``f[]``: the effective sample size of the log weights ``lw f[N]``."""
    return jnp.exp(2 * logsumexp(lw) - logsumexp(2 * lw))


def logliks(kernel: PathKernel, z, ctx):
    """``f[N]``: the stored log-likelihood (``smc_kernel.stored_loglik``, which reads only
    the kernel's ``zt``) of each particle of ``z f[N, D]``."""
    return jax.vmap(lambda v: stored_loglik(kernel, ctx, v))(z)


def bridge_init(kernel: PathKernel, key, state: PathState, ctx_a, ctx_b) -> BridgeState:
    """The bridge at ``t = 0``: ``state``'s particles, their log-likelihoods at both ends."""
    dtype = state.z.dtype
    return BridgeState(
        key=key, t=jnp.zeros((), dtype), z=state.z, lw=state.lw,
        la=logliks(kernel, state.z, ctx_a), lb=logliks(kernel, state.z, ctx_b),
        log_z=state.log_z, stages=jnp.zeros((), jnp.int32), moves=jnp.zeros((), jnp.int32),
        acc_sum=jnp.zeros((), dtype), log_scale=state.log_scale)


def bridging(c: BridgeState):
    """``bool[]``: whether the bridge makes another stage (``t < 1``, fewer than
    ``MAX_BRIDGE_STAGES``)."""
    return (c.t < 1.0) & (c.stages < MAX_BRIDGE_STAGES)


def next_t(lw, diff, t, log_target):
    """``(delta f[], t f[])``: the next stage's step in ``t`` and the ``t`` it reaches, where
    the conditional ESS of the reweighting by ``exp(delta * diff)`` (``diff f[N]``: ``lb -
    la``) of the normalised ``lw f[N]`` falls to ``exp(log_target)`` of the particles (1
    where it stays above it all the way)."""
    def cess_excess(delta):  # log CESS / N - log target_ess
        inc = delta * diff
        return (2 * logsumexp(lw + inc) - logsumexp(lw + 2 * inc)) - log_target

    max_delta = 1.0 - t
    delta = jnp.clip(jnp.nan_to_num(solver.dichotomy(cess_excess, 0.0, max_delta)),
                     0.0, max_delta)
    delta = jnp.where(cess_excess(max_delta) >= 0, max_delta, delta)
    return delta, jnp.where(delta >= max_delta, jnp.ones((), t.dtype), t + delta)


def resample_move(kernel: PathKernel, ctx_a, ctx_b, c: BridgeState, k_res, k_mut):
    """``(z f[N, D], lw f[N], la f[N], lb f[N], acc f[])``: ``c``'s particles (weighted by
    ``c.lw`` at ``c.t``) resampled by phase (``stratified_resample``) and moved by HMC
    targeting the bridge at ``c.t``, with equal weights and their log-likelihoods."""
    n, dtype = kernel.particles, c.z.dtype
    w = jnp.exp(c.lw)
    codes = jax.vmap(lambda z: codes_of(kernel, z, ctx_b))(c.z)
    idx = stratified_resample(k_res, w, codes, n)
    start = c.z[idx]
    mean = w @ c.z
    imm = jnp.maximum(w @ (c.z - mean) ** 2, jnp.asarray(1e-10, dtype))
    step = jnp.exp(c.log_scale) * float(kernel.target.dim) ** -0.25
    zt, t = kernel.zt, c.t

    def logdensity(z):
        return zt.logprior(z, ctx_b) + (1.0 - t) * zt.loglik(z, ctx_a) + t * zt.loglik(z, ctx_b)

    moved, acc = kernel.move(k_mut, start, logdensity, step, imm)
    return (moved, jnp.full((n,), -math.log(n), dtype), logliks(kernel, moved, ctx_a),
            logliks(kernel, moved, ctx_b), acc)


def bridge_step(kernel: PathKernel, ctx_a, ctx_b, log_target, c: BridgeState) -> BridgeState:
    """One stage: the next ``t`` (``next_t``), the weights moved to it and the ``log Z``
    estimate with them; every stage resamples and moves unless it changed no weight (a bridge
    between identical posteriors): particles merely reweighted along several bridges were
    measured to drift (resampled duplicates are a poor importance sample)."""
    key, k_res, k_mut = jax.random.split(c.key, 3)
    diff = jnp.where(jnp.isfinite(c.lb - c.la), c.lb - c.la, -jnp.inf)
    lw = normalise(c.lw)
    delta, t = next_t(lw, diff, c.t, log_target)
    inc = delta * diff
    log_z = c.log_z + logsumexp(lw + inc)
    reweighted = c._replace(t=t, lw=normalise(lw + inc))
    low = ess(reweighted.lw) < (1.0 - 1e-6) * kernel.particles

    def keep(_):
        return c.z, reweighted.lw, c.la, c.lb, jnp.asarray(-1.0, c.z.dtype)

    z, lw_out, la_out, lb_out, acc = jax.lax.cond(
        low, lambda _: resample_move(kernel, ctx_a, ctx_b, reweighted, k_res, k_mut), keep,
        None)
    moved = acc >= 0
    return BridgeState(
        key=key, t=t, z=z, lw=lw_out, la=la_out, lb=lb_out, log_z=log_z,
        stages=c.stages + 1, moves=c.moves + moved.astype(jnp.int32),
        acc_sum=c.acc_sum + jnp.where(moved, acc, 0.0),
        log_scale=jnp.where(moved, jnp.clip(
            c.log_scale + 2.0 * (acc - kernel.target_accept), -12.0, 2.0), c.log_scale))


def bridge_finish(kernel: PathKernel, ctx_b, c: BridgeState) -> tuple[PathState, dict]:
    """``(state at b, record)``: the run's ``PathState`` at value ``b`` and its record there,
    ``x f[N, D]``, ``ind bool[N, P]``, ``logdensity f[N]``, ``weights f[N]``, ``log_z f[]``,
    ``stages i[]``, ``moves i[]``, ``acceptance f[]`` (mean over the moves), ``ess f[]``."""
    target = kernel.target
    x = jax.vmap(kernel.zt.to_x)(c.z)
    out = {"x": x,
           "ind": jax.vmap(lambda v: jnp.asarray(target.indicators(v, ctx_b), bool))(x),
           "logdensity": jax.vmap(lambda v: target.logprior(v, ctx_b))(x) + c.lb,
           "weights": jnp.exp(c.lw), "log_z": c.log_z, "stages": c.stages,
           "moves": c.moves,
           "acceptance": c.acc_sum / jnp.maximum(c.moves, 1).astype(c.z.dtype),
           "ess": ess(c.lw)}
    return PathState(c.z, c.lw, c.log_z, c.log_scale), out


def bridge(kernel: PathKernel, key, state: PathState, ctx_a, ctx_b,
           report: Callable[[BridgeState], None]) -> tuple[PathState, dict]:
    """Move ``state`` (particles at the posterior of ``ctx_a``) to that of ``ctx_b``
    (``bridge_finish``'s pair); ``report(c)`` before every stage and after the last
    (progress ticks)."""
    c = bridge_init(kernel, key, state, ctx_a, ctx_b)
    log_target = jnp.log(jnp.asarray(BRIDGE_CESS, state.z.dtype))

    def body(c):
        report(c)  # every stage: the count is batched under vmap over runs
        return bridge_step(kernel, ctx_a, ctx_b, log_target, c)

    c = jax.lax.while_loop(bridging, body, c)
    report(c)
    return bridge_finish(kernel, ctx_b, c)
