"""``phasedsl export DIR``: a run's draws as an ArviZ ``InferenceData`` netCDF file.

Groups: ``posterior`` (the named parameters, ``w [chain, draw, SWEEP, node, input]``, ``b``,
``q``, ``c`` for a network or the energy's parameters, plus ``in_phase [chain, draw, SWEEP,
phase]``, the phase indicators as 0/1), ``sample_stats`` (``lp``, the unnormalised log
posterior; ``diverging``, whether the NUTS transition to each draw diverged, where the draws
files keep it (runs saved before it was kept export without it); ``weights`` and ``log_z``
for weighted engines), and ``phase_summary`` (masses,
their standard errors, free energies, ``other``, preferred phase per sweep value; the events
and the results document as JSON attributes). The sweep value is a coordinate of its own
dimension, named after the sweep variable. A two-dimensional sweep's points are the
dimension ``cell`` (the product grid's cells row by row, then any cells refinement added,
all in the results' order), with the coordinates ``FIRST (cell)`` and ``SECOND (cell)``, named
after the two sweep variables, and ``added (cell)`` (True for a cell added to locate a
boundary); ``ds.set_index(cell=[FIRST, SECOND]).unstack("cell")`` gives arrays over both
variables (NaN where there is no cell). ``chain`` is a NUTS chain, an SMC run or the one
quadrature grid; for SMC and quadrature the draws are *weighted* (``weights``): ArviZ's
statistics, which treat draws as equally weighted, then need the draws resampled first.

Needs the optional extra ``phasedsl[arviz]`` (ArviZ's ``InferenceData`` API, ``arviz<0.24``
on Python 3.11; ArviZ 1.x needs Python 3.12).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..language.errors import UsageError
from ..rundir import dumps, load_draws, point_id, point_index
from .spec import spec_of_results

__all__ = ["export_arviz", "inference_data"]

_NETWORK_DIMS = {"w": ("node", "input"), "b": ("node",), "q": ("node",), "c": ()}


def _import_arviz():
    try:
        import arviz as az
        import xarray as xr
    except ImportError:
        raise UsageError("export needs ArviZ: pip install 'phasedsl[arviz]'") from None
    return az, xr


def _padded(arrays: list[dict], size: int) -> list[dict]:
    """Every point's draws widened to ``size`` samples per group: NaN parameters and log
    densities, no phase, weight 0 (only weighted engines hold unequal sizes)."""
    fill = {"params": np.nan, "indicators": False, "logdensity": np.nan, "weights": 0.0,
            "diverging": False}
    out = []
    for a in arrays:
        b = dict(a)
        extra = size - a["params"].shape[1]
        for key, value in fill.items():
            if key in a and extra:
                pad = [(0, 0)] * a[key].ndim
                pad[1] = (0, extra)
                b[key] = np.pad(a[key], pad, constant_values=value)
        out.append(b)
    return out


_RESERVED = {"chain", "draw", "phase", "cell", "added", "node", "input"}


def _cell_coords(folder, results: dict, cells: list) -> dict:
    """A grid's coordinates along ``cell``: each variable's value and ``added``
    (``{name: ("cell", f[C])}``)."""
    name, name2 = results["sweep"]["name"], results["sweep2"]["name"]
    clash = sorted({name, name2} & _RESERVED)
    if clash:
        raise UsageError(f"{folder}: a sweep variable named `{clash[0]}` would share its name "
                         "with a dimension of the export; rename it in the spec")
    added = {tuple(map(float, c)) for c in results["sweep"].get("added") or []}
    return {"cell": np.arange(len(cells)),
            name: ("cell", np.array([c[0] for c in cells], float)),
            name2: ("cell", np.array([c[1] for c in cells], float)),
            "added": ("cell", np.array([tuple(map(float, c)) in added for c in cells]))}


def _point_draws(folder, results: dict, checked, values: list, sweep: str) -> list[dict]:
    """The saved draws of each point at ``values`` (sweep values, or a grid's cells), each
    checked against the run (``params f[G,S,D]``, ``indicators bool[G,S,P]``, ...); after a
    re-analysis the indicators are those of the document's phases, evaluated anew."""
    grid = bool(results.get("sweep2"))
    arrays = []
    for v in values:
        a = load_draws(Path(folder), point_index(results, v), results=results, dim=checked.dim)
        if a is None:
            where = checked.value_text(v) if grid else f"{sweep} = {v:g}"
            raise UsageError(f"{folder}: the draws of {where} are missing")
        arrays.append(a)
    if results.get("reanalyses"):
        # the draws files hold the indicators of the phases the run sampled with; after a
        # re-analysis the document's phases are others: evaluate those
        from ..lower.compile import compile_spec
        from .reanalyse import _indicators

        compiled = compile_spec(checked)
        arrays = [{**a, "indicators": _indicators(compiled, a["params"], v)}
                  for a, v in zip(arrays, values)]
    return arrays


def _aligned(folder, arrays: list[dict]) -> tuple[list[dict], bool]:
    """The points' draws of one shape ``[G, S, D]`` (a point with fewer samples ``S``
    padded: ``_padded``), and whether any was padded; points of different ``G`` or ``D``
    are a ``UsageError``."""
    shapes = {a["params"].shape for a in arrays}
    padded = len({shape[1] for shape in shapes}) > 1
    if len({(shape[0], shape[2]) for shape in shapes}) != 1:
        raise UsageError(f"{folder}: sweep points hold draws of different shapes {sorted(shapes)}")
    if padded:  # SMC keeps as many particles as its stages left: pad with weight-0 slots
        arrays = _padded(arrays, max(shape[1] for shape in shapes))
    return arrays, padded


def _parameters(xr, checked, params: np.ndarray, sweep: str) -> tuple[dict, dict]:
    """The posterior's named parameters from ``params f[G, S, V, D]`` (``V`` points), each
    ``[chain, draw, SWEEP, *its shape]``, and the coordinates of their own dimensions
    (1-based, as in specs; a network's ``node`` and ``input``)."""
    posterior, coords = {}, {}
    network = checked.kind == "network"
    for slot in checked.slots:
        x = params[..., slot.start: slot.start + slot.size].reshape(
            params.shape[:3] + tuple(slot.shape))
        dims = (_NETWORK_DIMS.get(slot.name) if network else None) or tuple(
            f"{slot.name}_dim_{i}" for i in range(len(slot.shape)))
        for i, dim in enumerate(dims):
            coords.setdefault(dim, np.arange(1, slot.shape[i] + 1))
        posterior[slot.name] = xr.DataArray(x, dims=("chain", "draw", sweep) + dims)
    return posterior, coords


def _sample_stats(xr, arrays: list[dict], sweep: str) -> dict:
    """``lp [chain, draw, SWEEP]``, and where every point's draws keep them ``diverging``
    and ``weights`` (the same dims) and ``log_z [chain, SWEEP]``."""
    def stacked(key, dtype=None):
        return xr.DataArray(np.stack([a[key].astype(dtype or a[key].dtype) for a in arrays],
                                     axis=2), dims=("chain", "draw", sweep))

    stats = {"lp": stacked("logdensity")}
    if all("diverging" in a for a in arrays):  # ArviZ's name; NUTS draws saved since kept
        stats["diverging"] = stacked("diverging", bool)
    if "weights" in arrays[0]:
        stats["weights"] = stacked("weights")
    if all("log_z" in a for a in arrays):
        stats["log_z"] = xr.DataArray(np.stack([np.ravel(a["log_z"]) for a in arrays], axis=1),
                                      dims=("chain", sweep))
    return stats


def _phase_summary(xr, results: dict, sweep: str, point_coords: dict):
    """The ``phase_summary`` group: ``mass``, ``se``, ``free_energy [SWEEP, phase]``,
    ``other`` and ``preferred [SWEEP]``; the events and the results document as JSON
    attributes."""
    names, points = list(results["phases"]), results["points"]

    def table(key):
        return np.array([[np.nan if p["phases"][n].get(key) is None else p["phases"][n][key]
                          for n in names] for p in points], float)

    return xr.Dataset(
        {"mass": ((sweep, "phase"), table("mass")), "se": ((sweep, "phase"), table("se")),
         "free_energy": ((sweep, "phase"), table("free_energy")),
         "other": ((sweep,), np.array([p["other"]["mass"] for p in points], float)),
         "preferred": ((sweep,), np.array([p.get("preferred") or "" for p in points]))},
        coords={**point_coords, "phase": names},
        attrs={"events": json.dumps(results.get("events") or []),
               "results_json": dumps(results)})


def _attrs(results: dict, engine: str, sweep: str, weighted: bool, padded: bool) -> dict:
    """The attributes of the ``posterior`` and ``sample_stats`` groups."""
    grid = bool(results.get("sweep2"))
    return {"created_by": f"phasedsl {results.get('versions', {}).get('phasedsl', '')}",
            "experiment": results.get("experiment", ""), "engine": engine,
            "sweep": sweep, "weighted_draws": int(weighted), "padded_draws": int(padded),
            **({"sweep_variables": json.dumps([results["sweep"]["name"],
                                               results["sweep2"]["name"]])} if grid else {}),
            "note": ("draws are weighted (sample_stats.weights): resample them before "
                     "ArviZ's equal-weight statistics"
                     + ("; points with fewer draws are padded with NaN draws of weight 0"
                        if padded else "")) if weighted else ""}


def inference_data(folder, results: dict):
    """The run in ``folder`` as an ``arviz.InferenceData``."""
    az, xr = _import_arviz()
    spec, why = spec_of_results(results)
    if spec is None:
        raise UsageError(f"cannot name the parameters: {why or 'the run recorded no spec'}")
    checked = spec.checked
    grid = bool(results.get("sweep2"))
    sweep = "cell" if grid else checked.sweep_name or "point"  # the points' dimension
    points = results["points"]
    if not points:
        raise UsageError(f"{folder} has no finished points to export")
    values = [point_id(p) for p in points]  # sweep values, or a grid's cells
    point_coords = ({sweep: np.array(values, float)} if not grid else
                    _cell_coords(folder, results, values))
    arrays, padded = _aligned(folder, _point_draws(folder, results, checked, values, sweep))
    params = np.stack([a["params"] for a in arrays], axis=2)  # [G, S, V, D]
    g, s = params.shape[:2]
    posterior, dim_coords = _parameters(xr, checked, params, sweep)
    coords = {"chain": np.arange(g), "draw": np.arange(s), **point_coords,
              "phase": list(results["phases"])}
    coords.update((k, v) for k, v in dim_coords.items() if k not in coords)
    ind = np.stack([a["indicators"] for a in arrays], axis=2).astype(np.int8)  # [G, S, V, P]
    posterior["in_phase"] = xr.DataArray(ind, dims=("chain", "draw", sweep, "phase"))
    stats = _sample_stats(xr, arrays, sweep)
    attrs = _attrs(results, checked.engine, sweep, "weights" in stats, padded)
    post = xr.Dataset(posterior, coords=coords, attrs=attrs)
    post = post.drop_vars([c for c in post.coords  # unused parameter dims (a grid's: kept)
                           if c not in post.dims and c not in point_coords])
    stats = xr.Dataset(stats, coords={"chain": coords["chain"], "draw": coords["draw"],
                                      **point_coords}, attrs=attrs)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "phase_summary" is not one of ArviZ's group names
        return az.InferenceData(posterior=post, sample_stats=stats,
                                phase_summary=_phase_summary(xr, results, sweep, point_coords))


def export_arviz(folder, results: dict, out=None) -> Path:
    """Write ``inference_data`` to ``out`` (default ``DIR/arviz.nc``); its path."""
    import contextlib
    import os
    import secrets

    from ..rundir import locked

    path = Path(out) if out is not None else Path(folder) / "arviz.nc"
    inside = os.path.realpath(path.parent) == os.path.realpath(folder)
    # a writer into the run folder takes its lock; one writing elsewhere only reads it
    # (whole files, each draws file checked), so a read-only folder can be exported
    with locked(folder, "export") if inside else contextlib.nullcontext():
        idata = inference_data(folder, results)
        # a temp name no one can plant a link at beforehand; the rename replaces a link
        # at ``path`` itself, never its target
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            idata.to_netcdf(str(tmp))
            tmp.replace(path)
        finally:
            if tmp.exists():
                tmp.unlink()
    return path
