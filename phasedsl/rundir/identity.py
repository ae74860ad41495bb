"""The identity of a run and of its points, with no file read or written: the keys that
decide whether a folder's finished points may be resumed (``run_key``) or its draws
re-analysed (``posterior_key``), and the index and name of each sweep point's draws
(``point_index``, ``added_index``, ``draws_identity``)."""

from __future__ import annotations

import hashlib
import json
import struct

from ..language.grid import Cell
from ..language.settings import result_keys


def run_key(checked) -> str:
    """A hash of everything that decides a point's result (spec text after overrides,
    engine and its result settings: not execution settings such as ``chain_method``, which
    change how the work runs, not the posterior). Two runs with the same key may share
    finished points."""
    kept = result_keys(checked.engine)
    sample = {k: v for k, v in checked.sample.items() if k in kept}
    fields = {"source": checked.spec.source, "engine": checked.engine,
              "sweep": list(checked.sweep_values),
              "sample": sample, "lets": sorted(map(str, checked.lets.items())),
              "phases": list(checked.phase_names), **data_identity(checked)}
    if checked.grid is not None:  # a two-dimensional sweep: its rows too
        fields["grid"] = [checked.grid.name, list(checked.grid.values)]
    payload = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def data_identity(checked) -> dict:
    """What decides a network's data beyond the spec's text: the sha256 of its data file
    (a changed file never resumes an old run) and the number of data sets; empty where
    neither is used (so that the keys of other runs stay as they were)."""
    net = getattr(checked, "data_source", None)
    out = {}
    if net is not None and net.data is not None:
        out["data_sha256"] = net.data.sha256
    if net is not None and net.seeds > 1:
        out["data_sets"] = str(net.seeds)
    return out


def posterior_identity(checked) -> dict:
    """Everything that decides the draws, as text by part: the model (energy or network,
    with its lets substituted), prior, parameters, ``n``, ``beta``, the sweep, the engine and
    its result settings. Not the phases, nor ``report``, nor lets used only by phases: two
    specs with the same identity have the same posterior at every sweep value, so the draws
    of one are draws of the other and only the analysis differs (``pipeline.reanalyse``)."""
    kept = result_keys(checked.engine)
    grid = {} if checked.grid is None else {
        "grid": repr((checked.grid.name, tuple(float(v) for v in checked.grid.values)))}
    return {
        **grid,
        "kind": checked.kind,
        "model": (str(checked.energy) if checked.kind == "energy" else
                  repr(checked.tensor) if checked.kind == "tensor" else repr(checked.network)),
        "prior": repr(checked.prior),
        "parameters": repr(checked.slots),
        "n": str(checked.n), "beta": str(checked.beta),
        "sweep": repr((checked.sweep_name, tuple(float(v) for v in checked.sweep_values))),
        "engine": checked.engine,
        "settings": json.dumps({k: v for k, v in checked.sample.items() if k in kept},
                               sort_keys=True, default=str),
        **data_identity(checked),
    }


def posterior_key(checked) -> str:
    """A hash of ``posterior_identity``: equal keys (and seeds), equal draws."""
    payload = json.dumps(posterior_identity(checked), sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def point_id(p: dict):
    """What a point of the results document stands for: its sweep ``value``, or for a
    two-dimensional sweep its ``Cell(value, value2)`` (equal to the cells a run samples)."""
    return p["value"] if "value2" not in p else Cell(p["value"], p["value2"])


ADDED_BASE = 2 ** 31  # indices of added sweep values (refinement) start here


def added_index(value) -> int:
    """The index of a sweep value added to locate an event (``pipeline.refine``): derived
    from the value alone (``ADDED_BASE`` + 31 bits of the SHA-256 of its float64 bytes), so
    its PRNG key (``fold_in(PRNGKey(seed), index)``) and draws file do not depend on the order
    in which values were added, and never meet the spec's own indices (0, 1, ...). A grid's
    added cell (a ``Cell`` or ``(value, value2)`` pair, ``pipeline.grid.refine_grid``): the
    same from both coordinates' bytes (``<dd``), so it depends on the cell alone."""
    if isinstance(value, (tuple, list)):
        data = struct.pack("<dd", float(value[0]), float(value[1]))
    else:
        data = struct.pack("<d", float(value))
    digest = hashlib.sha256(data).digest()
    return ADDED_BASE + int.from_bytes(digest[:4], "little") % ADDED_BASE


def point_index(results: dict, value: float) -> int:
    """The index of the point at ``value``: its position among the spec's sweep values
    (``sweep.values``; a grid's cells ``(value, value2)`` row by row), or ``added_index`` for
    a value (a grid's cell) added to locate an event (``sweep.added``)."""
    values = [float(v) for v in results["sweep"]["values"]]
    if results.get("sweep2"):  # a grid: its cells row by row, as the run numbered them
        rows = [float(y) for y in results["sweep2"]["values"]]
        cells = {(x, y): k for k, (x, y) in enumerate((x, y) for y in rows for x in values)}
        cell = Cell(*map(float, value))
        return cells[cell] if cell in cells else added_index(cell)
    value = float(value)
    return values.index(value) if value in values else added_index(value)


IDENTITY = "identity"  # the member of a draws file that names its point (JSON as bytes)


def draws_identity(results: dict, point: dict, index: int, dataset: int = 0) -> dict:
    """What a draws file says it holds: its point (``value``, a grid's ``value2``), index,
    data set and the run's ``posterior_key`` (the draws' posterior and seed: it survives a
    re-analysis, which changes the ``run_key``)."""
    out = {"value": float(point["value"]), "index": int(index), "dataset": int(dataset),
           "posterior_key": results.get("posterior_key")}
    if "value2" in point:
        out["value2"] = float(point["value2"])
    return out
