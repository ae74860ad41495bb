"""What the engines' compiled functions return: one record (a ``NamedTuple``, hence a pytree)
per engine, so that ``jit``, ``vmap``, ``lax.map`` and ``shard_map`` pass it through and the
host code reads fields by name. Field order is the order of the compiled program's outputs.

Shapes are for one sweep point; ``phasedsl.engines.many`` adds a leading point axis.
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["ChainOutput", "GridOutput", "SmcOutput"]


class ChainOutput(NamedTuple):
    """NUTS draws of one chain (``S`` draws, ``D`` parameters, ``P`` phases); the engine's
    functions for several chains add a leading ``[C]`` axis to every field."""

    x: Any  # f[S, D]: the draws, in the original coordinates
    ind: Any  # bool[S, P]: phase indicators of each draw
    logdensity: Any  # f[S]: unnormalised log posterior of each draw
    divergent: Any  # bool[S]
    steps: Any  # i[S]: leapfrog steps of each transition
    accept: Any  # f[S]: acceptance statistic of each transition
    step_size: Any  # f[]: after warmup
    warmup_steps: Any  # i[]: leapfrog steps spent in warmup


class SmcOutput(NamedTuple):
    """Tempered SMC, ``R`` independent runs of ``S = prior_draws + generations`` slots of
    ``N = particles`` samples."""

    x: Any  # f[R, S*N, D]
    ind: Any  # bool[R, S*N, P]
    logdensity: Any  # f[R, S*N]
    weights: Any  # f[R, S*N]: normalised per run, 0 in empty slots
    order: Any  # i[R, S]: generation number in each slot, -1 when empty
    log_z: Any  # f[R]: log normalising constant at lambda = 1
    lam: Any  # f[R]: final tempering (1 unless max_stages was hit)
    stages: Any  # i[R]
    acceptance: Any  # f[R]: mean HMC acceptance over the stages
    scale: Any  # f[R]: final HMC step scale
    path_lam: Any  # f[R, max_stages]: each stage's lambda (NaN beyond the stages made)
    path_energy: Any  # f[R, max_stages]: the ensemble's mean -loglik at that lambda
    path_var: Any  # f[R, max_stages]: its variance


class GridOutput(NamedTuple):
    """Quadrature on ``M`` grid nodes (``D`` = 1 or 2)."""

    nodes: Any  # f[M, D]
    logdensity: Any  # f[M]: log prior + loglik at each node
    ind: Any  # bool[M, P]
    log_z: Any  # f[]
    phase_log_z: Any  # f[P]
    logw: Any  # f[M]: normalised log weights of the nodes (their exp sums to 1)
    other_log_z: Any = None  # f[]: log integral over no phase, where the rule gives it (2-D)
