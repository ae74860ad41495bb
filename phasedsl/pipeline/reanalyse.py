"""Re-analysis without resampling: evaluate new phase definitions and ``report`` settings on
the draws a run already saved (``draws/point_NNN.npz``), summarise every point again and find
the events again. The draws files are read, never written.

Only a change of the posterior (``rundir.posterior_identity``: model, prior, parameters,
``n``, ``beta``, sweep, engine and its result settings, seed) needs new draws; phases, lets
used only by phases, and ``report`` settings do not. Quadrature is the exception: its masses
are phase integrals computed while integrating (the grid is refined at each phase's
boundary), which the stored grid cannot give again, so a quadrature run is integrated again
instead (deterministic, seconds).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..analysis.datasets import combine_datasets
from ..analysis.records import PointSummary
from ..language.errors import UsageError
from ..language.traits import traits
from ..measure.functions import functions
from ..measure.minima import with_point_minima
from ..rundir import (RunFolder, load_draws, locked, now_utc, point_id, point_index,
                      posterior_identity, posterior_key, run_key)
from .pooling import Pooler, pools
from .refine import finish_events
from .spec import Spec, load_text, spec_of_results

__all__ = ["reanalyse", "reanalysable", "recorded_seed", "same_posterior", "respec"]


def recorded_seed(results: dict) -> int:
    """The sampler seed of a run (``seeds.sampler``, else the tail of its ``run_key``)."""
    seeds = results.get("seeds") or {}
    if seeds.get("sampler") is not None:
        return int(seeds["sampler"])
    return int(str(results.get("run_key", ":0")).rsplit(":", 1)[-1] or 0)


def same_posterior(old: Spec, new: Spec) -> list[str]:
    """The parts of the posterior's identity that differ between two specs (empty: the
    draws of one are draws of the other)."""
    a, b = posterior_identity(old.checked), posterior_identity(new.checked)
    return [k for k in a if a[k] != b.get(k)]


def respec(results: dict, overrides: dict, spec_path: str | None = None) -> Spec:
    """The spec of a re-analysis: the run's own spec with its ``--set`` values and these
    ``overrides`` on top, or (``spec_path``) another spec file with ``overrides``."""
    from .spec import load

    if spec_path is not None:
        return load(spec_path, overrides, quick=bool(results.get("quick")))
    old, why = spec_of_results(results)
    if old is None:
        raise UsageError(f"cannot re-analyse: {why or 'the run recorded no spec'}; "
                         "give the spec with --spec FILE")
    given = {**(results.get("set") or {}), **overrides}
    return load_text(old.checked.spec.source, results.get("spec_file") or "<spec>", given,
                     bool(results.get("quick")))


def _indicators(compiled, params: np.ndarray, value: float, dataset: int = 0) -> np.ndarray:
    """``bool[G, S, P]``: the new phases evaluated on ``params f[G, S, D]`` (one jitted
    function for every point: ``measure.functions``)."""
    import jax.numpy as jnp

    g, s, d = params.shape
    flat = jnp.asarray(params.reshape(g * s, d), jnp.float32)
    out = np.asarray(functions(compiled).indicators(flat, compiled.context(value, dataset)),
                     bool)
    return out.reshape(g, s, -1)


def reanalysable(folder, spec: Spec, seed: int) -> bool:
    """Whether ``folder`` holds a run whose draws ``spec`` (sampled with ``seed``) would
    reproduce, under other phases or report settings: then ``run`` re-analyses it instead of
    refusing it as a different run. Quadrature runs raise ``UsageError`` (see the module)."""
    from ..rundir import load_results

    results = load_results(Path(folder))
    if results is None or results.get("run_key") == run_key(spec.checked) + f":{seed}":
        return False
    if recorded_seed(results) != seed:
        return False
    old, _ = spec_of_results(results)
    if old is None or same_posterior(old, spec):
        return False
    if traits(spec.checked.engine).exact and not same_phases(old, spec):
        raise UsageError(
            f"{folder} holds this posterior with other phases, but it is a quadrature run: "
            "its masses are phase integrals computed while integrating, which the stored "
            "grid cannot give again; use --fresh (quadrature takes seconds)")
    return True


def same_phases(old: Spec, new: Spec) -> bool:
    """Whether two specs define the same phases (names and resolved predicates)."""
    return repr(old.checked.phases) == repr(new.checked.phases)


def reanalyse(folder, spec: Spec) -> dict:
    """Re-evaluate the phases and report settings of ``spec`` on the draws saved in
    ``folder``; the re-analysed results document (``results.json`` rewritten, draws
    untouched), all under the folder's lock (``rundir.locked``: a run writing into it is
    never overwritten, nor overwrites this).
    Raises ``UsageError`` where the posterior differs, or the engine is quadrature."""
    with locked(folder, "re-analysis"):
        return _reanalyse(folder, spec)


def _reanalyse(folder, spec: Spec) -> dict:
    from .session import prepare

    from ..rundir import load_results

    results = load_results(Path(folder))
    seed = _reusable_seed(folder, results, spec)
    checked = spec.checked
    session = prepare(checked, seed=seed)  # compiled, and the steps the run took
    if traits(checked.engine).exact:  # same phases: the masses stand, only the events anew
        points = [PointSummary.from_json(p) for p in results["points"]]
    else:
        points = [_point_again(folder, results, session, p) for p in results["points"]]
        if pools(checked):  # each point's masses from its neighbours' draws too, as the run did
            from .sweep import summarise

            pooler = Pooler.of_report(checked.report, session.compiled, Path(folder),
                                      summarise)
            points = pooler.points({**results, "points": [p.to_json() for p in points]})
    events, boundaries = _events_again(session, results, points)
    results = _reanalysed(results, spec, seed, points, events, boundaries)
    RunFolder(Path(folder), results, {}).save()
    return results


def _reusable_seed(folder, results: dict | None, spec: Spec) -> int:
    """The seed of the run in ``folder`` (its document ``results``), where its draws can be
    re-analysed under ``spec``: a document of this schema, of a recorded spec of the same
    posterior, and (for quadrature) the same phases; else a ``UsageError`` saying why not."""
    from ..rundir import SCHEMA

    if results is None or results.get("schema") != SCHEMA:
        raise UsageError(f"{folder} holds no results.json of schema {SCHEMA} to re-analyse")
    old, why = spec_of_results(results)
    if old is None:
        raise UsageError(f"cannot tell whether the draws in {folder} fit this spec: "
                         f"{why or 'the run recorded no spec'}")
    seed = recorded_seed(results)
    differ = same_posterior(old, spec)
    if differ:
        raise UsageError(
            f"{folder}: this changes the posterior (it differs in: {', '.join(differ)}), so "
            "the saved draws cannot be re-used; run `phasedsl run` with --fresh or --out for "
            "new draws")
    if traits(spec.checked.engine).exact and not same_phases(old, spec):
        raise UsageError(
            f"{folder} is a quadrature run: its masses are phase integrals computed while "
            "integrating (the grid is refined at each phase boundary), which the stored grid "
            "cannot give again for other phases; run it again with --fresh (quadrature takes "
            "seconds). Report settings alone (report.floor, report.merge) can be re-analysed.")
    return seed


def _point_again(folder, results: dict, session, old_point: dict) -> PointSummary:
    """The point ``old_point`` of the run summarised again from its saved draws (each data
    set's ``params f[G,S,D]``) with the phases of ``session``; the sampling's diagnostics
    (divergences, steps, times) kept, the pooled ones left to pooling."""
    from .sweep import summarise

    checked, compiled = session.checked, session.compiled
    value = point_id(old_point)  # a sweep value, or a grid's cell
    old_diag = {k: v for k, v in old_point.get("diagnostics", {}).items()
                if k not in ("own", "pooled")}  # pooled again by the caller, where it applies
    per_set = []
    for dataset in range(compiled.datasets):  # `data { seeds = K }`: one file each
        arrays = load_draws(Path(folder), point_index(results, value), dataset, results,
                            checked.dim)
        if arrays is None:
            where = checked.value_text(value) if checked.sweep_name else "point = 0"
            raise UsageError(f"{folder}: the draws of {where} are missing; they are "
                             "needed to re-analyse")
        params = arrays["params"]
        log_z = arrays.get("log_z")
        if log_z is None and old_point.get("absolute") and old_point.get("log_z") is not None:
            # runs saved before log Z was stored: the mean is all the summary uses
            log_z = np.full(params.shape[0], float(old_point["log_z"]))
        draws = compiled_draws(params, _indicators(compiled, params, value, dataset), arrays,
                               traits(checked.engine).method, log_z)
        per_set.append(summarise(compiled, value, draws, old_diag.get("wall_s", 0.0)))
    summary = per_set[0] if len(per_set) == 1 else combine_datasets(
        per_set, checked.data_source.data_seeds)
    summary = dataclasses.replace(summary, diagnostics={**old_diag, **summary.diagnostics})
    if len(per_set) == 1:  # several data sets: no local-minimum criterion (yet)
        summary = with_point_minima(summary, session.minima, value, draws)
    return summary


def _events_again(session, results: dict, points: list) -> tuple[list, dict]:
    """The events of the re-analysed ``points`` (a grid's row by row), and for a grid its
    ``boundaries`` across rows (``{}`` otherwise)."""
    from .sweep import sweep_events

    checked, minima = session.checked, session.minima
    added = len(results["sweep"].get("added") or [])
    if checked.grid is None:
        return sweep_events(session, [p.value for p in points], points,
                            finish=lambda ev: finish_events(ev, points, checked, added,
                                                            minima)), {}
    from .grid import grid_events

    events, curves = grid_events(points, lambda xs, line, cell, finish: sweep_events(
        session, xs, line, cell=cell, finish=finish), checked, added, minima)
    return events, {"boundaries": curves}


def _reanalysed(results: dict, spec: Spec, seed: int, points: list, events: list,
                boundaries: dict) -> dict:
    """The results document ``results`` as re-analysed under ``spec``: its spec, keys,
    phases, report settings, points and events replaced, the replaced ones recorded in
    ``reanalyses``."""
    import hashlib

    from .provenance import effective_numbers, effective_settings

    checked = spec.checked
    report = checked.report
    numbers = effective_numbers(checked)
    previous = {"at": now_utc(), "previous_run_key": results.get("run_key"),
                "previous_phases": results.get("phases"), "previous_report": results.get("report"),
                "previous_set": results.get("set"), "previous_spec_sha256": results.get("spec_sha256"),
                "set": dict(spec.overrides), "spec_file": spec.path and str(spec.path)}
    results = {**results,
               "spec_file": str(spec.path) if spec.path else results.get("spec_file"),
               "spec_sha256": hashlib.sha256(checked.spec.source.encode()).hexdigest(),
               "spec_text": checked.spec.source, "set": dict(spec.overrides),
               "run_key": run_key(checked) + f":{seed}",
               "posterior_key": posterior_key(checked) + f":{seed}",
               "phases": list(checked.phase_names), "report": dict(report),
               "points": [p.to_json() for p in points],
               "events": [e.to_json() for e in events], **boundaries,
               "warnings": [w.message for w in checked.warnings],
               "reanalyses": list(results.get("reanalyses") or []) + [previous]}
    if results.get("settings"):
        results["settings"] = {**results["settings"], "report": dict(report)}
    else:
        results["settings"] = effective_settings(checked)
    results["effective"] = {**(results.get("effective") or {}), "lets": numbers["lets"]}
    return results


def compiled_draws(params, indicators, arrays: dict, method: str, log_z):
    from ..lower.target import Draws

    return Draws(params=params, indicators=indicators, logdensity=arrays["logdensity"],
                 weights=arrays.get("weights"), method=method, log_z=log_z)
