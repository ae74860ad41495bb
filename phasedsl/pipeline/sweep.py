"""Run a sweep: compile the spec, sample every unfinished sweep point into the run folder,
summarise each point, find the events.

``run_spec(checked, folder)`` composes the stages: ``session.prepare`` (``lower.compile_spec``,
an engine from ``engines.make_engine``, the per-point steps) -> the engine per sweep point or
group of points -> ``points.summarise`` and ``Session.measure`` -> ``rundir.RunFolder`` (saved
after every point) -> ``analysis.find_events``. A run of the same spec and settings into the
same folder resumes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..version import __version__
from ..analysis.events import find_events, with_trust
from ..analysis.records import Event, PointSummary
from ..language.errors import PosteriorError, UsageError
from ..rundir import SCHEMA, RunFolder, posterior_key, run_key
from .points import (checked_point, point_key, sample_point, sample_points,  # noqa: F401
                     summarise)
from .refine import finish_events, refine_sweep
from .session import Sampled, Session, prepare, sample_chunk

__all__ = ["run_spec", "Execution", "sample_point", "sample_points", "sample_chunk", "point_key",
           "default_batch", "ACCELERATOR_BATCH", "summarise", "refine_crossovers", "header",
           "sweep_events", "walk_sweep"]

ACCELERATOR_BATCH = 32  # sweep points per call and accelerator, when --batch is not given


def default_batch(batch: int | None) -> int:
    """Sweep points per compiled call. ``--batch``: as given; if not given (``None``): on a
    CPU one sweep point per device when JAX sees several (``--cpu-devices``, by default one
    per core), else one at a time; on an accelerator ``ACCELERATOR_BATCH`` points per device
    (PT1's 22 in one call: a batch of 88 chains takes about as long on a GPU as one of 4, so
    one point at a time would be ~20x slower; results are saved after each call). Each point
    has the same key and posterior either way (``engines.many``)."""
    if batch is not None:
        if batch < 0:
            raise UsageError("--batch must be >= 0")
        return batch
    import jax

    if jax.default_backend() != "cpu":
        return ACCELERATOR_BATCH * jax.device_count()
    return jax.device_count() if jax.device_count() > 1 else 0


def refine_crossovers(events: list[Event], engine, compiled, seed: int,
                      iterations: int = 30, cell=None) -> list[Event]:
    """For exact engines: each crossover located by bisection on the sweep variable, where
    the log mass ratio of its two phases changes sign (quadrature is cheap and
    deterministic). The other events are returned as they are. ``cell(v)``: the grid's cell
    at ``v`` along one row or column of a two-dimensional sweep (``pipeline.grid``)."""
    out = []
    for e in events:
        if e.kind != "crossover":
            out.append(e)
            continue

        def ratio(v):
            point, _ = sample_point(engine, compiled, 0, v if cell is None else cell(v), seed)
            ma, mb = point.phases[e.source].mass, point.phases[e.target].mass
            return np.log(max(mb, 1e-300)) - np.log(max(ma, 1e-300))

        lo, hi = e.between
        f_lo = ratio(lo)
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            f_mid = ratio(mid)
            if (f_mid > 0) == (f_lo > 0):
                lo, f_lo = mid, f_mid
            else:
                hi = mid
        out.append(e.replaced(at=0.5 * (lo + hi), interval=(lo, hi), refined="bisection"))
    return out


def sweep_events(session: Session, values, points: list[PointSummary], cell=None,
                 finish=None) -> list[Event]:
    """The events along a sweep (``values f[V]``, their ``points``): found, refined by
    bisection for quadrature, finished by ``finish(events)`` where given (a one-dimensional
    run's refinement status and local minima: ``pipeline.refine.finish_events``), marked
    trusted or not. ``cell(v)``: the grid's cell at ``v`` when these are one row or column of
    a two-dimensional sweep."""
    checked = session.checked
    report = checked.report
    events = find_events(values, points, report["floor"], report["merge"])
    if session.engine.traits.exact:
        events = refine_crossovers(events, session.engine, session.compiled, session.seed,
                                   cell=cell)
    if finish is not None:
        events = finish(events)
    return with_trust(events, points)


def pool_step(run, checked, compiled):
    """``pool(run)``: the run's points summarised again from their neighbours' draws too
    (``pipeline.pooling``), saved; ``None`` where the run does not pool."""
    from .pooling import Pooler, pools

    if not pools(checked):
        return None
    pooler = Pooler.of_report(checked.report, compiled, run.folder, summarise)

    def pool(run) -> None:
        run.results["points"] = [p.to_json() for p in pooler.points(run.results)]
        run.save()

    return pool


def walk_sweep(session: Session, run, values, todo) -> None:
    """The sweep as one tempering path (``engine.run_sweep``: every value, in order), then
    each unfinished point measured and saved; a point where the path's runs disagree
    (forwards against backwards: a phase one direction cannot see) is tempered again from
    the prior."""
    engine, compiled, seed = session.engine, session.compiled, session.seed
    if session.progress is not None:
        session.progress(0, len(todo), todo[0][1])
    t0 = time.perf_counter()
    walked = engine.run_sweep(point_key(seed, len(values)), [compiled.context(v) for v in values])
    wall = (time.perf_counter() - t0) / len(values)
    for i, v in todo:
        point, draws = checked_point(compiled, v, walked[i], wall)
        if not point.mixing_ok:
            point, draws = sample_point(engine, compiled, i, v, seed)
            point = dataclasses.replace(point, diagnostics={**point.diagnostics,
                                                            "retempered": True})
        session.finish_point(run, session.measure(Sampled(i, v, point, draws)))


def header(checked, seed: int, provenance: dict | None = None) -> dict:
    """The results document's fields before any point is finished."""
    import blackjax
    import jax

    sampler = {"engine": checked.engine, **checked.sample}
    if "seed" in checked.sample:
        sampler["seed"] = seed
    return {
        "schema": SCHEMA, "experiment": checked.experiment, "kind": checked.kind,
        "spec_file": checked.spec.filename,
        "spec_sha256": hashlib.sha256(checked.spec.source.encode()).hexdigest(),
        "run_key": run_key(checked) + f":{seed}",
        "posterior_key": posterior_key(checked) + f":{seed}",
        "versions": {"phasedsl": __version__, "jax": jax.__version__,
                     "blackjax": blackjax.__version__},
        "device": str(jax.devices()[0].platform),
        "sampler": sampler,
        "sweep": {"name": checked.sweep_name, "values": list(checked.sweep_values)},
        **({} if checked.grid is None else  # a two-dimensional sweep: its rows
           {"sweep2": {"name": checked.grid.name, "values": list(checked.grid.values)}}),
        "phases": list(checked.phase_names),
        "report": dict(checked.report),
        **(provenance or {}),
        "warnings": [w.message for w in checked.warnings],
    }


@dataclasses.dataclass(frozen=True)
class Execution:
    """How a sweep's work runs and who is told of it: nothing here changes a point's result
    or is part of the run key, so a run resumed with other values goes on with the same
    posterior.

    ``batch``: sweep points per compiled call (0: one at a time). ``chain_method``: how the
    ``nuts`` engine runs its chains side by side (default: its choice for the machine); it
    changes the draws, not their distribution. ``sampler``: how each chunk of points is
    sampled (``None``: here, ``session.sample_chunk``; a Dask cluster: ``pipeline.cluster``).
    ``progress(count, total, value)`` is called before each call, ``on_point(point_json)``
    after each finished point."""

    batch: int = 0
    chain_method: str | None = None
    sampler: Callable | None = None
    progress: Callable | None = None
    on_point: Callable | None = None


def run_spec(checked, folder: Path, *, fresh: bool = False, seed: int | None = None,
             provenance: dict | None = None, execution: Execution = Execution()) -> dict:
    """Sample every unfinished sweep point of ``checked`` into ``folder``; the results
    document (``results.json``'s contents). ``fresh``: discard the folder's finished points;
    ``seed``: the sampler seed (default the spec's); ``provenance``: extra fields for the
    document's header (the spec text, ``--set``); ``execution``: how the work runs
    (``Execution``)."""
    from .provenance import provenance as environment

    how = execution
    seed = checked.sample.get("seed", 0) if seed is None else seed
    values = list(checked.sweep_points())  # sweep values, or a grid's cells row by row
    recorded = {**environment(checked, seed, how.chain_method), **(provenance or {})}
    run = RunFolder.open(folder, header(checked, seed, recorded), values, fresh)
    try:
        session = prepare(checked, seed=seed, chain_method=how.chain_method, batch=how.batch,
                          sampler=how.sampler, progress=how.progress, on_point=how.on_point)
        return _run_open(run, session, values)
    finally:
        run.close()


def _sample_sweep(session: Session, run, values) -> None:
    """Every unfinished point of the sweep ``values`` sampled into ``run``: on each data
    set, as one tempering path, or in chunks."""
    todo = [(i, v) for i, v in enumerate(values) if v not in run.done]
    if session.compiled.datasets > 1:  # `data { seeds = K }`: every point on K data sets
        from .datasets import run_datasets

        run_datasets(session, run, values, todo)
    elif session.engine.traits.follows_sweep and len(todo) > 1:
        walk_sweep(session, run, values, todo)
    else:
        session.sample_into(run, todo)


def _events(session: Session, run) -> list[Event]:
    """The events of the finished run (a grid's row by row, with its boundaries across the
    rows saved into ``run.results``)."""
    checked = session.checked
    points = [PointSummary.from_json(p) for p in run.results["points"]]
    added = len(run.results["sweep"].get("added") or [])
    if checked.grid is not None:  # events row by row, and the boundaries across rows
        from .grid import grid_events

        events, run.results["boundaries"] = grid_events(
            points, lambda xs, line, cell, finish: sweep_events(
                session, xs, line, cell=cell, finish=finish),
            checked, added, session.minima)
        return events
    return sweep_events(session, [p.value for p in points], points,
                        finish=lambda ev: finish_events(ev, points, checked, added,
                                                        session.minima))


def _run_open(run: RunFolder, session: Session, values) -> dict:
    """``run_spec`` on a locked run folder."""
    checked, compiled = session.checked, session.compiled
    try:
        _sample_sweep(session, run, values)
        pool = pool_step(run, checked, compiled)  # masses from neighbours' draws too
        if pool is not None:
            pool(run)
        if compiled.datasets == 1 and checked.grid is None:  # values added in brackets
            if refine_sweep(run, session, pool) and pool is not None:
                pool(run)
        if checked.grid is not None and compiled.datasets == 1:  # cells added in brackets
            from .grid import refine_grid

            refine_grid(run, session)
        events = _events(session, run)
    except KeyboardInterrupt:  # sampling or the crossovers' refinement
        run.interrupt()
        raise
    except PosteriorError as exc:
        run.fail(exc.diagnostic.message)
        raise
    return run.finish([e.to_json() for e in events])
