"""Run a sweep: compile the spec, sample every unfinished sweep point into the run folder,
summarise each point, find the events.

``run_spec(checked, folder)`` composes the stages: ``lower.compile_spec`` -> an engine
(``engines.make_engine``) per sweep point or group of points -> ``analysis.summarise_point``
-> ``rundir.RunFolder`` (saved after every point) -> ``analysis.find_events``. A run of the
same spec and settings into the same folder resumes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path

import numpy as np

from ..version import __version__
from ..analysis.events import find_events, with_trust
from ..analysis.masses import summarise_point
from ..analysis.modes import mode_finding, other_groups, sign_patterns
from ..analysis.records import Event, PointSummary
from ..language.errors import PosteriorError, UsageError
from ..output.notes import note_lines
from ..rundir import SCHEMA, RunFolder, posterior_key, run_key
from .health import check_point
from .lcoef import lcoef_step, with_lcoef
from .minima import minimum_step, with_point_minima
from .refine import finish_events, refine_sweep

__all__ = ["run_spec", "sample_point", "sample_points", "sample_chunk", "point_key",
           "default_batch", "ACCELERATOR_BATCH", "summarise", "refine_crossovers", "header",
           "sweep_events"]

OTHER_HALF = 0.5  # above this mass in no phase, a point says where that mass sits
ACCELERATOR_BATCH = 32  # sweep points per call and accelerator, when --batch is not given


def point_key(seed: int, index: int):
    """The PRNG key of sweep point ``index``: ``fold_in(PRNGKey(seed), index)``."""
    import jax

    return jax.random.fold_in(jax.random.PRNGKey(seed), index)


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


def sample_point(engine, compiled, index: int, value: float, seed: int):
    """Run the engine at one sweep value: ``(PointSummary, Draws)``."""
    t0 = time.perf_counter()
    draws = engine.run(point_key(seed, index), compiled.context(value))
    return _checked(compiled, value, draws, time.perf_counter() - t0)


def _checked(compiled, value: float, draws, wall_s: float):
    """``(PointSummary, Draws)`` of a point whose posterior is a density (``health``):
    a NaN or infinite log density is an error, never a mass."""
    check_point(compiled, value, draws)
    point = summarise(compiled, value, draws, wall_s)
    check_point(compiled, value, draws, point)
    return point, draws


def sample_points(engine, compiled, chunk: list[tuple[int, float]], seed: int):
    """``(PointSummary, Draws)`` for each ``(index, value)`` of a chunk: one call of the
    engine's ``run_many`` (all points and chains batched, split across devices) or one ``run``
    per point. A lone point goes through ``run_many`` too where the engine splits a point's
    work across devices (``splits_points``: NUTS's chains) and there are several (the last
    point of an odd sweep on two cores: twice as fast)."""
    import jax

    splits = engine.splits_points and jax.device_count() > 1
    if len(chunk) == 1 and not splits:
        return [sample_point(engine, compiled, i, v, seed) for i, v in chunk]
    t0 = time.perf_counter()
    keys = [point_key(seed, i) for i, _ in chunk]
    many = engine.run_many(keys, [compiled.context(v) for _, v in chunk])
    wall = (time.perf_counter() - t0) / len(chunk)
    return [_checked(compiled, v, draws, wall) for (_, v), draws in zip(chunk, many)]


def sample_chunk(engine, compiled, chunk: list[tuple[int, float]], seed: int, lcoef=None):
    """The sweep's sampler on this machine: ``(index, value, PointSummary, Draws)`` for each
    ``(index, value)`` of a chunk (``sample_points``), with each phase's learning coefficient
    where ``lcoef`` is given. ``run_spec(..., sampler=...)`` takes another function of the
    same signature that yields finished points in any order (``pipeline.cluster``)."""
    for (i, v), (point, draws) in zip(chunk, sample_points(engine, compiled, chunk, seed)):
        if lcoef is not None:
            point = with_lcoef(point, lcoef, v, draws)
        yield i, v, point, draws


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


def sweep_events(checked, values, points: list[PointSummary], engine, compiled, seed: int,
                 cell=None, finish=None) -> list[Event]:
    """The events along a sweep (``values f[V]``, their ``points``): found, refined by
    bisection for quadrature, finished by ``finish(events)`` where given (a one-dimensional
    run's refinement status and local minima: ``pipeline.refine.finish_events``), marked
    trusted or not. ``cell(v)``: the grid's cell at ``v`` when these are one row or column of
    a two-dimensional sweep."""
    report = checked.report
    events = find_events(values, points, report["floor"], report["merge"])
    if checked.engine == "quadrature":
        events = refine_crossovers(events, engine, compiled, seed, cell=cell)
    if finish is not None:
        events = finish(events)
    return with_trust(events, points)


def pool_step(run, checked, compiled):
    """``pool(run)``: the run's points summarised again from their neighbours' draws too
    (``pipeline.pooling``), saved; ``None`` where the run does not pool."""
    from .pooling import Pooler, pool_width, pools

    if not pools(checked):
        return None
    pooler = Pooler(compiled, run.folder, pool_width(checked.report), summarise)

    def pool(run) -> None:
        run.results["points"] = [p.to_json() for p in pooler.points(run.results)]
        run.save()

    return pool


def _walk_sweep(engine, compiled, values, todo, seed, run, progress, on_point, lcoef,
                minima=None) -> None:
    """The sweep as one tempering path (``engine.run_sweep``: every value, in order), then
    each unfinished point saved; a point where the path's runs disagree (forwards against
    backwards: a phase one direction cannot see) is tempered again from the prior."""
    if progress is not None:
        progress(0, len(todo), todo[0][1])
    t0 = time.perf_counter()
    walked = engine.run_sweep(point_key(seed, len(values)), [compiled.context(v) for v in values])
    wall = (time.perf_counter() - t0) / len(values)
    for i, v in todo:
        point, draws = _checked(compiled, v, walked[i], wall)
        if not point.mixing_ok:
            point, draws = sample_point(engine, compiled, i, v, seed)
            point = dataclasses.replace(point, diagnostics={**point.diagnostics,
                                                            "retempered": True})
        if lcoef is not None:
            point = with_lcoef(point, lcoef, v, draws)
        point = with_point_minima(point, minima, v, draws)
        run.add_point(i, point.to_json(), draws)
        if on_point is not None:
            on_point(point.to_json())


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


def _chunks(todo: list, size: int) -> list[list]:
    """``todo`` in chunks of ``size`` sweep points (``size`` 0: one point at a time)."""
    size = max(size, 1)
    return [todo[k: k + size] for k in range(0, len(todo), size)]


def run_spec(checked, folder: Path, *, fresh: bool = False, seed: int | None = None,
             progress=None, on_point=None, batch: int = 0, chain_method: str | None = None,
             provenance: dict | None = None, sampler=sample_chunk) -> dict:
    """Sample every unfinished sweep point of ``checked`` into ``folder``; the results
    document (``results.json``'s contents).

    ``batch``: sweep points per compiled call (0: one at a time). ``progress(count, total,
    value)`` is called before each call, ``on_point(point_json)`` after each finished point.
    ``chain_method``: how the ``nuts`` engine runs its chains side by side (default: its
    choice for the machine); it changes the draws, not their distribution, so it is not part
    of the run key: a run resumed with another method goes on with the same posterior.
    ``provenance``: extra fields for the document's header (the spec text, ``--set``).
    ``sampler``: how each chunk of points is sampled (``sample_chunk``: here; a Dask cluster:
    ``pipeline.cluster``)."""
    from .provenance import provenance as environment

    seed = checked.sample.get("seed", 0) if seed is None else seed
    values = list(checked.sweep_points())  # sweep values, or a grid's cells row by row
    recorded = {**environment(checked, seed, chain_method), **(provenance or {})}
    run = RunFolder.open(folder, header(checked, seed, recorded), values, fresh)
    try:
        return _run_open(run, checked, values, seed, progress, on_point, batch, chain_method,
                         sampler)
    finally:
        run.close()


def _run_open(run: RunFolder, checked, values, seed, progress, on_point, batch,
              chain_method, sampler=sample_chunk) -> dict:
    """``run_spec`` on a locked run folder."""
    from ..engines.registry import make_engine
    from ..lower.compile import compile_spec

    compiled = compile_spec(checked)
    settings = dict(checked.sample)
    if chain_method is not None:
        if checked.engine != "nuts":
            raise UsageError(f"--chain-method applies to the nuts engine, not {checked.engine}")
        settings["chain_method"] = chain_method
    engine = make_engine(checked.engine, compiled.target, settings)
    todo = [(i, v) for i, v in enumerate(values) if v not in run.done]
    lcoef = lcoef_step(compiled, checked.report, None if checked.engine != "quadrature" else
                       (lambda target: make_engine(checked.engine, target, settings)))
    # the local-minimum criterion (pipeline.minima)
    minima = minimum_step(compiled, checked)
    try:
        if compiled.datasets > 1:  # `data { seeds = K }`: every point on K data sets
            from .datasets import run_datasets

            run_datasets(engine, compiled, values, todo, seed, run, progress, on_point, lcoef,
                         check=_checked, point_key=point_key)
            todo = []
        if engine.follows_sweep and len(todo) > 1:
            _walk_sweep(engine, compiled, values, todo, seed, run, progress, on_point, lcoef,
                        minima)
            todo = []
        for count, chunk in enumerate(_chunks(todo, batch)):
            if progress is not None:
                progress(count * max(batch, 1), len(todo), chunk[0][1])
            for i, v, point, draws in sampler(engine, compiled, chunk, seed, lcoef):
                point = with_point_minima(point, minima, v, draws)
                run.add_point(i, point.to_json(), draws)
                if on_point is not None:
                    on_point(point.to_json())
        pool = pool_step(run, checked, compiled)  # masses from neighbours' draws too
        if pool is not None:
            pool(run)
        if compiled.datasets == 1 and checked.grid is None:  # values added in brackets
            if refine_sweep(run, checked, compiled, engine, seed, sampler, progress, on_point,
                            lcoef, batch, minima, pool) and pool is not None:
                pool(run)
        if checked.grid is not None and compiled.datasets == 1:  # cells added in brackets
            from .grid import refine_grid

            refine_grid(run, checked, compiled, engine, seed, sampler, progress, on_point,
                        lcoef, batch, minima)
        points = [PointSummary.from_json(p) for p in run.results["points"]]
        if checked.grid is not None:  # events row by row, and the boundaries across rows
            from .grid import grid_events

            events, run.results["boundaries"] = grid_events(
                points, lambda xs, line, cell, finish: sweep_events(
                    checked, xs, line, engine, compiled, seed, cell=cell, finish=finish),
                checked, len(run.results["sweep"].get("added") or []), minima)
        else:
            added = len(run.results["sweep"].get("added") or [])
            events = sweep_events(
                checked, [p.value for p in points], points, engine, compiled, seed,
                finish=lambda ev: finish_events(ev, points, checked, added, minima))
    except KeyboardInterrupt:  # sampling or the crossovers' refinement
        run.interrupt()
        raise
    except PosteriorError as exc:
        run.fail(exc.diagnostic.message)
        raise
    return run.finish([e.to_json() for e in events])
