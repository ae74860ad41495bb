"""One sweep point sampled and summarised: its PRNG key, the engine's draws, the health check
and the ``PointSummary`` (masses, diagnostics, modes, findings).

Every way a sweep samples points (the local driver, a tempering path, several data sets, a
cluster's worker) goes through ``checked_point`` after the engine has run, so each point's
posterior is checked to be a density and summarised the same way. The per-point steps that
come after (learning coefficients, local minima) are ``session.Session.measure``'s.
"""

from __future__ import annotations

import dataclasses
import time

from ..analysis.masses import summarise_point
from ..analysis.modes import mode_finding, other_groups, sign_patterns
from ..analysis.records import PointSummary
from ..output.notes import note_lines
from ..measure.health import check_point

__all__ = ["point_key", "dataset_key", "summarise", "checked_point", "sample_point",
           "sample_points", "OTHER_HALF"]

OTHER_HALF = 0.5  # above this mass in no phase, a point says where that mass sits


def point_key(seed: int, index: int):
    """The PRNG key of sweep point ``index``: ``fold_in(PRNGKey(seed), index)``."""
    import jax

    return jax.random.fold_in(jax.random.PRNGKey(seed), index)


def dataset_key(seed: int, index: int, dataset: int = 0):
    """The PRNG key of data set ``dataset`` at sweep point ``index`` (``data { seeds = K }``,
    ``pipeline.datasets``): the point's key for data set 0, ``fold_in(that key, dataset)``
    for the others."""
    import jax

    key = point_key(seed, index)
    return key if dataset == 0 else jax.random.fold_in(key, dataset)


def summarise(compiled, value: float, draws, wall_s: float) -> PointSummary:
    """The record of one sweep point from its draws: masses and diagnostics, the sign modes
    of ``q`` for networks, and the mixing findings in words."""
    summary = summarise_point(draws, compiled.phase_names, value)
    diagnostics = {**summary.diagnostics}
    diagnostics.setdefault("wall_s", wall_s)
    findings, modes = list(summary.findings), None
    layout = compiled.checked.layout
    if layout is not None:
        q = layout.split(draws.params)[2]
        patterns = sign_patterns(q, draws.weights)
        modes = {"q_signs": patterns["shares"], "q_signs_per_group": patterns["groups"]}
        extra = mode_finding(patterns, "chain" if draws.method == "mcmc" else "repeat")
        if extra is not None and not summary.mixing_ok:
            findings.append(extra)
    notes = tuple(line for f in findings for line in note_lines(f))
    if summary.other.mass > OTHER_HALF:  # most of the posterior is in no phase: where?
        where = other_groups(draws.params, draws.indicators, draws.weights, draws.logdensity,
                             layout)
        modes = {**(modes or {}), "other_groups": where}
    return dataclasses.replace(summary, diagnostics=diagnostics, modes=modes,
                               findings=tuple(findings), notes=notes)


def checked_point(compiled, value: float, draws, wall_s: float):
    """``(PointSummary, Draws)`` of a point whose posterior is a density (``health``):
    a NaN or infinite log density is an error, never a mass."""
    check_point(compiled, value, draws)
    point = summarise(compiled, value, draws, wall_s)
    check_point(compiled, value, draws, point)
    return point, draws


def sample_point(engine, compiled, index: int, value: float, seed: int, dataset: int = 0):
    """Run the engine at one sweep value (on data set ``dataset``, ``pipeline.datasets``):
    ``(PointSummary, Draws)``."""
    t0 = time.perf_counter()
    draws = engine.run(dataset_key(seed, index, dataset), compiled.context(value, dataset))
    return checked_point(compiled, value, draws, time.perf_counter() - t0)


def sample_points(engine, compiled, chunk: list[tuple[int, float]], seed: int):
    """``(PointSummary, Draws)`` for each ``(index, value)`` of a chunk: one call of the
    engine's ``run_many`` (all points and chains batched, split across devices) or one ``run``
    per point. A lone point goes through ``run_many`` too where the engine splits a point's
    work across devices (``traits.splits_points``: NUTS's chains) and there are several (the last
    point of an odd sweep on two cores: twice as fast)."""
    import jax

    splits = engine.traits.splits_points and jax.device_count() > 1
    if len(chunk) == 1 and not splits:
        return [sample_point(engine, compiled, i, v, seed) for i, v in chunk]
    t0 = time.perf_counter()
    keys = [point_key(seed, i) for i, _ in chunk]
    many = engine.run_many(keys, [compiled.context(v) for _, v in chunk])
    wall = (time.perf_counter() - t0) / len(chunk)
    return [checked_point(compiled, v, draws, wall) for (_, v), draws in zip(chunk, many)]
