"""The normalised posterior density of a one-parameter spec on a grid (``energy.png``).

``density_curves(compiled, grid f[G], values f[V]) -> f[V, G]``: at each sweep value,
``phi(w) exp(-n beta K(w))`` on the grid, normalised by the trapezoid rule so that each
curve integrates to 1 over the grid (zero where the density is not finite). It uses the
compiled spec's cached ``logdensity`` (``measure.functions``), traced once for all values.
"""

from __future__ import annotations

import numpy as np

from .functions import functions

__all__ = ["density_curves"]


def density_curves(compiled, grid: np.ndarray, values) -> np.ndarray:
    """``f[V, G]``: the posterior density of the spec's one parameter on ``grid f[G]``
    (increasing) at each sweep value of ``values f[V]``, each normalised over the grid."""
    import jax.numpy as jnp

    logdensity = functions(compiled).logdensity
    points = jnp.asarray(np.asarray(grid, float)[:, None], jnp.float32)
    curves = []
    for v in values:
        ld = np.asarray(logdensity(points, compiled.context(v)), float)
        finite = np.isfinite(ld)
        top = np.max(ld[finite]) if finite.any() else 0.0
        p = np.nan_to_num(np.exp(ld - top), nan=0.0, posinf=0.0)
        area = np.sum(0.5 * (p[1:] + p[:-1]) * np.diff(grid))
        curves.append(p / area if area > 0 else p)
    return np.asarray(curves).reshape(len(curves), len(grid))
