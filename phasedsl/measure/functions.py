"""The batched, jitted functions that measure a compiled spec's draws, built once per compiled
spec and kept beside it (``functions(compiled)``), so that no sweep point, re-analysis or
export traces them again: the context (sweep value, data set) is an argument, never a
closed-over constant.

- ``indicators(params f[N, D], ctx) -> bool[N, P]``: each draw's phases;
- ``probe(key, ctx) -> (points f[PROBES, D], logprior f[PROBES], loglik f[PROBES])``: the
  health check's prior draws (``measure.health``);
- ``logdensity(params f[N, D], ctx) -> f[N]``: the unnormalised log posterior (the energy
  figure's density curves, ``measure.density``).

The cache holds a weak reference to each compiled spec (a ``Compiled`` record is neither
hashable nor to be mutated), so it ends with it.
"""

from __future__ import annotations

import weakref
from typing import Callable, NamedTuple

__all__ = ["Functions", "functions", "PROBES"]

PROBES = 512  # prior draws at which the health check looks at the log density, per point

_CACHE: dict[int, tuple[weakref.ref, "Functions"]] = {}


class Functions(NamedTuple):
    """A compiled spec's measuring functions (module docstring); each jitted once, traced
    again only for a new shape (another number of draws)."""

    indicators: Callable
    probe: Callable
    logdensity: Callable


def _build(compiled) -> Functions:
    import jax

    target = compiled.target

    def probe(key, ctx):
        keys = jax.random.split(key, PROBES)
        x = jax.vmap(lambda k: target.init(k, ctx))(keys)
        lp = jax.vmap(lambda p: target.logprior(p, ctx))(x)
        ll = jax.vmap(lambda p: target.loglik(p, ctx))(x)
        return x, lp, ll

    indicators = jax.vmap(target.indicators, in_axes=(0, None))
    logdensity = jax.vmap(target.logdensity, in_axes=(0, None))
    return Functions(jax.jit(indicators), jax.jit(probe), jax.jit(logdensity))


def functions(compiled) -> Functions:
    """The ``Functions`` of ``compiled`` (a ``lower.compile.Compiled``), built on first use
    and kept while ``compiled`` lives."""
    key = id(compiled)
    hit = _CACHE.get(key)
    if hit is not None and hit[0]() is compiled:
        return hit[1]
    made = _build(compiled)
    _CACHE[key] = (weakref.ref(compiled, lambda _, key=key: _CACHE.pop(key, None)), made)
    return made
