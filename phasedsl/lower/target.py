"""What a sampling engine needs from a compiled spec, and what it gives back.

A ``Target`` holds pure, unbatched JAX functions of one parameter vector ``params: f[D]`` and
one *context* ``ctx``: a pytree of arrays, for compiled specs a ``Context`` built from one
sweep value by ``Compiled.context`` (for networks it carries the dataset). Because the context
is an argument, a function jitted once serves every sweep point with the same shapes. Engines
treat the context as an opaque pytree (tests hand them dicts of their own).

Engines return ``Draws``: groups (chains, SMC repeats, or the single quadrature grid) of
weighted samples, each with its phase indicators. Analysis works on ``Draws`` alone.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from .run_info import RunInfo


class Context(NamedTuple):
    """The data a compiled spec's target functions see at one sweep value.

    - ``value: f[]``: the sweep value.
    - ``xt: f[k, N] | None``: network inputs, feature-major (``None`` for energies).
    - ``y: f[N] | None``: network outputs, ``f_truth(x; value) + noise(value) * z``.
    - ``mask: f[N] | None``: 1 for the first ``n(value)`` rows, 0 for the rest (a sweep
      over ``n`` uses the rows of its largest ``n``).
    - ``extra``: what else a model's likelihood reads (a tensor spec affine in ``x``: the
      data's moments, ``lower.tensor.Moments``); ``None`` otherwise.

    A pytree (``None`` fields are empty), so it is traced, stacked and vmapped like any other.
    """

    value: Any
    xt: Any = None
    y: Any = None
    mask: Any = None
    extra: Any = None


class Target(NamedTuple):
    """A posterior over ``D`` real parameters, as pure functions.

    - ``logprior(params f[D], ctx) -> f[]``: log of the *normalised* prior density (``-inf``
      outside the box for bounded coordinates).
    - ``loglik(params f[D], ctx) -> f[]``: the tempered log-likelihood, normalising constants
      included (networks: ``beta * sum_i log N(y_i | f(x_i), noise^2)``; energies:
      ``-n * beta * K(w)``). The posterior is ``exp(logprior + loglik) / Z``.
    - ``indicators(params f[D], ctx) -> bool[P]``: membership of each named phase.
    - ``init(key, ctx) -> f[D]``: one draw from the prior.
    - ``lower, upper: f[D]`` numpy arrays, ``-inf``/``inf`` where a coordinate is unbounded;
      a coordinate is either unbounded or bounded on both sides.
    - ``phase_names``: ``P`` names, in the order of ``indicators``.
    - ``margins(params f[D], ctx) -> f[P]`` or None: each phase's signed margin, positive
      inside its region and negative outside, continuous (``lower.jaxexpr.margin_fn``);
      None where the conditions have none (tensor specs: see ``lower.tensor``).
    """

    dim: int
    logprior: Callable[[Any, Any], Any]
    loglik: Callable[[Any, Any], Any]
    indicators: Callable[[Any, Any], Any]
    init: Callable[[Any, Any], Any]
    lower: np.ndarray
    upper: np.ndarray
    phase_names: tuple[str, ...]
    margins: Callable[[Any, Any], Any] | None = None

    def logdensity(self, params, ctx):
        """Unnormalised log posterior ``f[]`` of ``params: f[D]``."""
        return self.logprior(params, ctx) + self.loglik(params, ctx)


class Draws(NamedTuple):
    """What one engine run at one sweep value produced (numpy arrays, host memory).

    ``G`` groups of ``S`` samples each (NUTS: chains x draws; SMC: repeats x particles;
    quadrature: one group of grid points).

    - ``params: f[G, S, D]`` (quadrature: the grid points).
    - ``indicators: bool[G, S, P]``.
    - ``logdensity: f[G, S]``: unnormalised log posterior of each sample.
    - ``weights: f[G, S] | None``: normalised within each group (sum 1); ``None`` = equal.
    - ``method``: how to get a standard error: ``"mcmc"`` (from the effective sample size of
      each indicator), ``"repeats"`` (spread of independent groups), ``"exact"`` (none).
    - ``log_z: f[G] | None``: absolute log normalising constant per group, where the engine
      gives it (quadrature, SMC).
    - ``phase_log_z: f[G, P] | None``: absolute ``log integral_phase prior * likelihood``.
    - ``other_log_z: f[G] | None``: the same over the parameters in no phase, where the
      engine integrates it on its own (2-D quadrature: its node weights are only ``O(h)``
      there).
    - ``info``: the engine's record of the sampling (``lower.run_info``: ``SmcInfo``,
      ``NutsInfo``, ``QuadratureInfo``; timing, gradient evaluations, stages, divergences,
      ...).
    - ``divergent: bool[G, S] | None``: whether the transition to each draw diverged (NUTS;
      ``None`` for engines without divergences and for draws saved before it was kept).
    """

    params: np.ndarray
    indicators: np.ndarray
    logdensity: np.ndarray
    weights: np.ndarray | None
    method: str
    log_z: np.ndarray | None = None
    phase_log_z: np.ndarray | None = None
    info: RunInfo | None = None
    other_log_z: np.ndarray | None = None
    divergent: np.ndarray | None = None
