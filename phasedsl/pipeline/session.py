"""One sweep's sampling session: the compiled spec, its engine and the per-point steps, set up
once (``prepare``) and used by everything that samples points of a run: the driver
(``pipeline.sweep``), refinement (``pipeline.refine``, ``pipeline.grid``), several data sets
(``pipeline.datasets``) and a cluster's worker (``pipeline.cluster``).

- ``prepare(checked, ...)`` compiles the spec, builds the engine with the spec's settings
  (``--chain-method`` only for an engine that has chain methods: refused here, for the
  driver and a worker alike) and the per-point steps (``point_steps``).
- ``Session.measure(sampled)``: a sampled point through every per-point step, in order
  (each phase's learning coefficient, each phase's local minima). A new per-point step is
  added in ``point_steps`` and nowhere else. It runs where the draws are: on the driver, or
  on the worker that sampled the point.
- ``Session.finish_point(run, sampled)``: a measured point saved into the run folder (the
  draws of its other data sets too) and handed to ``on_point``.
- ``Session.sample_into(run, todo)``: the points ``todo`` in chunks of ``batch``, through
  the session's sampler (``sample_chunk`` here; a cluster's ``ClusterSampler``), each
  finished as it comes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Iterable, NamedTuple

from ..analysis.records import PointSummary
from ..language.errors import UsageError
from ..language.traits import traits
from ..measure.lcoef import lcoef_step, with_lcoef
from ..measure.minima import minimum_step, with_point_minima
from .points import sample_points

__all__ = ["Sampled", "Session", "prepare", "point_steps", "sample_chunk", "engine_settings"]


class Sampled(NamedTuple):
    """One sampled sweep point: its ``index`` in the run folder, its ``value`` (a float, or a
    grid's ``Cell``), its ``point`` summary, the ``draws`` it was summarised from (data set
    0's), and ``others``: the draws of data sets ``1..K-1`` where the spec has ``K``."""

    index: int
    value: Any
    point: PointSummary
    draws: Any
    others: tuple = ()


def point_steps(compiled, lcoef, minima) -> tuple[Callable, ...]:
    """The per-point steps, in the order they run: each ``step(point, value, draws) ->
    point`` adds its findings to a sampled point (``Session.measure``). The learning
    coefficient (``lcoef``: a ``measure.lcoef.LcoefStep`` or None) and the local minima
    (``minima``: a ``measure.minima.MinimumStep`` or None; not with several data sets yet,
    as re-analysis)."""
    steps = []
    if lcoef is not None:
        steps.append(lambda point, value, draws: with_lcoef(point, lcoef, value, draws))
    if minima is not None and compiled.datasets == 1:
        steps.append(lambda point, value, draws: with_point_minima(point, minima, value, draws))
    return tuple(steps)


def sample_chunk(session: "Session", chunk: list[tuple[int, Any]]) -> Iterable[Sampled]:
    """The sweep's sampler on this machine: the measured ``Sampled`` point of each ``(index,
    value)`` of ``chunk`` (``points.sample_points``: batched where the engine can). A
    session's ``sampler`` is this or another function of the same signature that yields
    measured points in any order (``pipeline.cluster.ClusterSampler``)."""
    done = sample_points(session.engine, session.compiled, chunk, session.seed)
    for (i, v), (point, draws) in zip(chunk, done):
        yield session.measure(Sampled(i, v, point, draws))


@dataclass(frozen=True)
class Session:
    """A sweep's sampling set-up (module docstring). ``sampler(session, chunk)``: how chunks
    of ``(index, value)`` are sampled (``sample_chunk``); ``batch``: sweep points per chunk
    (0: one at a time); ``progress(count, total, value)`` before each chunk;
    ``on_point(point_json)`` after each finished point."""

    checked: Any
    compiled: Any
    engine: Any
    seed: int
    lcoef: Any = None  # measure.lcoef.LcoefStep, or None
    minima: Any = None  # measure.minima.MinimumStep, or None (events use it too)
    steps: tuple = ()  # point_steps
    batch: int = 0
    sampler: Callable = sample_chunk
    progress: Callable | None = None
    on_point: Callable | None = None

    def measure(self, sampled: Sampled) -> Sampled:
        """``sampled`` with every per-point step's findings (``point_steps``)."""
        point = sampled.point
        for step in self.steps:
            point = step(point, sampled.value, sampled.draws)
        return sampled._replace(point=point)

    def finish_point(self, run, sampled: Sampled, added: bool = False) -> None:
        """Save a measured point into ``run`` (an open ``rundir.RunFolder``; ``added``: a
        value added by refinement, marked so in its diagnostics and in ``sweep.added``) and
        hand it to ``on_point``."""
        point = sampled.point
        if added:
            point = dataclasses.replace(point, diagnostics={**point.diagnostics, "added": True})
        for j, draws in enumerate(sampled.others, start=1):
            run.save_draws(sampled.index, draws, point.to_json(), dataset=j)
        run.add_point(sampled.index, point.to_json(), sampled.draws, added=added)
        if self.on_point is not None:
            self.on_point(point.to_json())

    def sample_into(self, run, todo: list[tuple[int, Any]], added: bool = False) -> int:
        """Sample the points ``todo`` in chunks of ``batch`` through ``sampler`` and finish
        each (``finish_point``); how many. ``progress`` counts this call's points (``added``:
        after the points sampled before in this run)."""
        size, count = max(self.batch, 1), 0
        for k in range(0, len(todo), size):
            part = todo[k: k + size]
            if self.progress is not None and added:  # after the points sampled before
                before = _sampled_now(run)
                self.progress(before, before + len(todo) - k, part[0][1])
            elif self.progress is not None:
                self.progress(k, len(todo), part[0][1])
            for sampled in self.sampler(self, part):
                self.finish_point(run, sampled, added=added)
                count += 1
        return count

    def with_seed(self, seed: int) -> "Session":
        """The same session with another sampler seed (a cluster worker's task)."""
        return self if seed == self.seed else dataclasses.replace(self, seed=int(seed))


def _sampled_now(run) -> int:
    """Points sampled into ``run`` by this run so far (resumed ones not counted)."""
    return len(run.results["points"]) - run.results["timings"]["points_resumed"]


def engine_settings(checked, chain_method: str | None = None) -> dict:
    """The engine's settings: the spec's sample settings, with ``--chain-method`` where given
    (only an engine of chains, ``traits.chains``, runs them side by side: a ``UsageError``
    for the others)."""
    settings = dict(checked.sample)
    if chain_method is not None:
        if not traits(checked.engine).chains:
            raise UsageError(f"--chain-method applies to the nuts engine, not {checked.engine}")
        settings["chain_method"] = chain_method
    return settings


def prepare(checked, *, seed: int | None = None, chain_method: str | None = None,
            compiled=None, **run: Any) -> Session:
    """The ``Session`` of a checked spec: compiled (``compiled``: already compiled), its
    engine (``engine_settings``), its per-point steps; ``seed``: the sampler seed (default
    the spec's); ``run``: ``Session``'s ``batch``, ``sampler``, ``progress``,
    ``on_point``."""
    from ..engines.registry import make_engine
    from ..lower.compile import compile_spec

    compiled = compile_spec(checked) if compiled is None else compiled
    settings = engine_settings(checked, chain_method)
    engine = make_engine(checked.engine, compiled.target, settings)
    lcoef = lcoef_step(compiled, checked.report, None if not engine.traits.exact else
                       (lambda target: make_engine(checked.engine, target, settings)))
    minima = minimum_step(compiled, checked)
    seed = checked.sample.get("seed", 0) if seed is None else int(seed)
    if run.get("sampler") is None:
        run.pop("sampler", None)
    return Session(checked, compiled, engine, seed, lcoef, minima,
                   point_steps(compiled, lcoef, minima), **run)
