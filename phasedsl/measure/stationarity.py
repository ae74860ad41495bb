"""Whether a flow's end is a critical point of a potential with kinks (Goldstein's
criterion, estimated by gradient sampling).

A ReLU network's finite-data loss is piecewise smooth: each datum's unit switching on or
off is a kink, and near a minimum they are dense. On the toy model of superposition with 4
features at n = 400 the kinks along a bias lie about 0.003 apart, each changing the
gradient by about ``noise / (sigma^2 n)``, 0.005 in ``L_n``'s units; the minimum sits on or
among them, where the gradient on either side is as large as the criterion's tolerance or
larger. The gradient criterion (``|grad U|_inf <= GRAD_TOL`` at the end) then never holds,
however long the flow runs.

The criterion for such functions is Goldstein's: ``p`` is ``(r, tol)``-stationary when some
convex combination of gradients at points within ``r`` of ``p`` is at most ``tol`` (the
distance from 0 to the ``r``-subdifferential; Burke, Lewis and Overton 2005, gradient
sampling). It is estimated here from the projected gradients at ``p`` and at fixed points of
the ellipsoid ``p + r * u`` (``|u| <= 1``, in antithetic pairs; ``r`` per coordinate, a
fraction ``GOLDSTEIN`` of the flows' own spread ``sd``): the smallest combination is sought
by pairwise Frank-Wolfe from the gradient at ``p`` itself. Every iterate is a
combination, so the value returned bounds the true distance from above: a flow it calls
stationary is so, while sampling too few pieces can call a true minimum not stationary. On
a smooth potential the criterion is looser than the gradient's by at most ``|Hessian| r``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["GOLDSTEIN", "SAMPLES", "ITERATIONS", "ball_points", "stationarity"]

GOLDSTEIN = 0.02  # the ball's radius per coordinate, in units of the flows' spread sd
SAMPLES = 4  # points in the ball per parameter (at most MAX_SAMPLES)
MAX_SAMPLES = 128
ITERATIONS = 200  # Frank-Wolfe steps on the gradients' simplex


def ball_points(dim: int, seed: int = 0) -> np.ndarray:
    """``f[M, dim]``: ``M = min(SAMPLES * dim, MAX_SAMPLES)`` (even) fixed points of the unit
    ball, uniform in it, as ``M / 2`` antithetic pairs ``u, -u`` (a kink through the centre
    has a pair across it)."""
    half = max(1, min(SAMPLES * dim, MAX_SAMPLES) // 2)
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((half, dim))
    u *= (rng.uniform(size=(half, 1)) ** (1.0 / dim)) / np.linalg.norm(u, axis=1, keepdims=True)
    return np.concatenate([u, -u])


def min_norm(G):
    """``f[D]``: the convex combination of the rows of ``G: f[M, D]`` of least Euclidean
    norm, approximately: ``ITERATIONS`` pairwise Frank-Wolfe steps (weight moved from the
    worst row in use to the best, with exact line search; linearly convergent on a
    polytope) from the first row. JAX, unbatched."""
    import jax
    import jax.numpy as jnp

    Q = G @ G.T
    m = G.shape[0]
    lam = jnp.zeros(m, G.dtype).at[0].set(1.0)

    def step(lam, _):
        gq = Q @ lam
        to = jnp.argmin(gq)
        away = jnp.argmax(jnp.where(lam > 0, gq, -jnp.inf))
        d = jax.nn.one_hot(to, m, dtype=G.dtype) - jax.nn.one_hot(away, m, dtype=G.dtype)
        den = d @ Q @ d
        t = jnp.where(den > 0, -(d @ gq) / jnp.where(den > 0, den, 1.0), 0.0)
        return lam + jnp.clip(t, 0.0, lam[away]) * d, None

    lam, _ = jax.lax.scan(step, lam, None, length=ITERATIONS)
    return lam @ G


def stationarity(grad, p, ctx, radius, lower, upper, points):
    """``f[]``: the Goldstein stationarity of ``p: f[D]``: the smaller of ``|g(p)|_inf`` and
    ``|v|_inf``, ``v`` the least combination of the gradients at ``p`` and at
    ``clip(p + radius * points, lower, upper)`` (``radius: f[D]``, ``points: f[M, D]``
    from ``ball_points``). ``grad(p, ctx) -> f[D]``: the potential's gradient; non-finite
    components count as 0 and a component at a box edge pointing out of the box is
    dropped, as at a flow's end. JAX, unbatched."""
    import jax
    import jax.numpy as jnp

    lo, hi = jnp.asarray(lower, p.dtype), jnp.asarray(upper, p.dtype)

    def projected(q):
        g = grad(q, ctx)
        g = jnp.where(jnp.isfinite(g), g, 0.0)
        return jnp.where(((q <= lo) & (g > 0)) | ((q >= hi) & (g < 0)), 0.0, g)

    qs = jnp.clip(p[None, :] + radius[None, :] * jnp.asarray(points, p.dtype), lo, hi)
    # one point after another (``lax.map``), not vmapped: batched over a thousand flows'
    # ends, a network's gradients at all ``M + 1`` points at once held M + 1 copies of the
    # data's activations (18 GB on PT1's 1,024 ends, n = 10,000)
    G = jax.lax.map(projected, jnp.concatenate([p[None, :], qs]))
    return jnp.minimum(jnp.max(jnp.abs(G[0])), jnp.max(jnp.abs(min_norm(G))))
