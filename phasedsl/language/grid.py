"""The cell of a two-dimensional sweep (no sympy, no JAX: later stages' records use it)."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Cell"]


class Cell(NamedTuple):
    """One cell of a two-dimensional sweep: ``value`` of the first sweep variable, ``value2``
    of the second. A tuple, so ``jnp.asarray(cell)`` is the ``f[2]`` a compiled grid spec's
    ``context`` takes, and equal to ``(value, value2)``."""

    value: float
    value2: float
