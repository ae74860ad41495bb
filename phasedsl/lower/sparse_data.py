"""Drawing sparse inputs (``x ~ sparse(c = 6, k = 1)``, ``x ~ sparse(c = 6, p = 0.2)``).

Each row is a c-vector: its on features hold values uniform on [0, 1], the others 0. With
``("k", k)`` exactly k features are on, a uniformly chosen set (the k smallest of c uniform
keys); with ``("p", p)`` each is on with probability p, independently. Both draw from the
given numpy ``Generator`` row-major, so the first rows do not depend on how many are drawn
(a sweep over ``n`` nests its data sets) and the draw depends on the data seed alone.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sparse_rows"]


def sparse_rows(rng: np.random.Generator, size: int, c: int, mode: str,
                value: float) -> np.ndarray:
    """``x: f64[size, c]``: sparse inputs; ``mode`` is ``"k"`` (exactly ``value`` features
    on) or ``"p"`` (each on with probability ``value``)."""
    u = rng.random((size, 2, c))  # row by row: c keys (which are on), c values
    keys, values = u[:, 0], u[:, 1]
    if mode == "k":
        k = int(value)
        on = np.zeros((size, c), bool)
        chosen = np.argsort(keys, axis=1, kind="stable")[:, :k]
        np.put_along_axis(on, chosen, True, axis=1)
    else:
        on = keys < value
    return np.where(on, values, 0.0)
