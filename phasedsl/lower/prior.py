"""The prior: an iid uniform or normal density, normalised on the parameters' box.

``make_prior`` gives the pure JAX functions ``logprior(params f[D], ctx) -> f[]`` and
``init(key, ctx) -> f[D]`` (one prior draw); bounded coordinates get the prior truncated to
their box, normalised there (a truncated normal for ``normal``).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtri
from jax.scipy.stats import norm as jnorm


def _ndtr(x: float) -> float:
    """Standard normal CDF in float64, accurate in the lower tail."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def make_prior(prior: tuple, lower: np.ndarray, upper: np.ndarray):
    """``(logprior(params f[D], ctx) -> f[], init(key, ctx) -> f[D])`` for an iid prior,
    normalised on the box where coordinates are bounded (a truncated normal there).

    ``prior``: ``("uniform",)`` (every coordinate bounded) or ``("normal", mean, sd)``;
    ``lower, upper: f[D]``, ``-inf``/``inf`` where unbounded."""
    bounded = np.isfinite(lower)
    lo = np.where(bounded, lower, 0.0).astype(np.float32)
    hi = np.where(bounded, upper, 1.0).astype(np.float32)
    dim = len(lower)

    idx = np.flatnonzero(bounded).astype(np.int32)  # one index dtype under x64 or not

    def inside(params):
        # only the bounded coordinates: an all-unbounded prior gives a constant, which XLA
        # would otherwise fold over every batched particle (seconds of compile time)
        if idx.size == 0:
            return jnp.asarray(True)
        p = params[idx]
        return jnp.all((p >= lo[idx]) & (p <= hi[idx]))

    if prior[0] == "uniform":
        log_volume = float(np.sum(np.log(hi - lo)))

        def logprior(params, ctx):
            return jnp.where(inside(params), -log_volume, -jnp.inf).astype(params.dtype)

        def init(key, ctx):
            return jax.random.uniform(key, (dim,), jnp.float32, lo, hi)

        return logprior, init

    _, mean, sd = prior
    a, b = (lo - mean) / sd, (hi - mean) / sd
    # Work on the lower-tail side of each box (mirrored where a > 0), on the host in float64,
    # so boxes far in a tail keep their mass (float32 ndtr(b) - ndtr(a) would be 0 there).
    flip = bounded & (a > 0)
    a_low, b_low = np.where(flip, -b, a), np.where(flip, -a, b)
    p_a = np.array([_ndtr(x) for x in a_low]) * bounded
    p_b = np.where(bounded, [_ndtr(x) for x in b_low], 1.0)
    log_mass = float(np.sum(np.where(bounded, np.log(np.clip(p_b - p_a, 1e-300, None)), 0.0)))
    sign = np.where(flip, -1.0, 1.0).astype(np.float32)
    a32, b32 = a_low.astype(np.float32), b_low.astype(np.float32)
    p_a32, p_b32 = p_a.astype(np.float32), p_b.astype(np.float32)

    def logprior(params, ctx):
        value = jnp.sum(jnorm.logpdf(params, mean, sd)) - log_mass
        return jnp.where(inside(params), value, -jnp.inf)

    def init(key, ctx):
        k_box, k_free = jax.random.split(key)
        u = jax.random.uniform(k_box, (dim,), jnp.float32)
        z_box = sign * jnp.clip(ndtri(p_a32 + u * (p_b32 - p_a32)), a32, b32)
        z = jnp.where(bounded, z_box, jax.random.normal(k_free, (dim,), jnp.float32))
        return mean + sd * z

    return logprior, init
