"""Validation of what a run folder's files hold, before any later stage reads them: the
results document (``validate``: schema ``SCHEMA``, every field its readers take, every
point and event readable as records) and a draws file's arrays (``draws_problem``) and the
point they name (``identity_problem``). Each check returns or raises the reason in words."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np

from ..analysis.records import Event, PointSummary
from ..results_shape import DOCUMENT, POINT, problem
from .errors import DAMAGED, RunFolderError, refuse
from .identity import IDENTITY, point_id, point_index

SCHEMA = "phasedsl.results/1"


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def validate(doc, path) -> dict:
    """``doc`` if it has the shape of a results document of this version (``SCHEMA``):
    every field later stages read, every point and event readable as records, every mass a
    finite number; else a ``RunFolderError`` saying what is wrong."""
    if not isinstance(doc, dict):
        raise refuse(path, f"it holds a JSON {type(doc).__name__}, not an object")
    schema = doc.get("schema")
    if schema != SCHEMA:
        if isinstance(schema, str) and schema.startswith("phasedsl.results/"):
            raise RunFolderError(
                f"{path} has schema {schema}, and this phasedsl (results schema {SCHEMA}) "
                f"does not read it; {DAMAGED}")
        raise refuse(path, f"its schema is {schema!r}, not {SCHEMA!r}")
    for key, kind in (("run_key", str), ("sampler", dict), ("sweep", dict), ("phases", list),
                      ("points", list), ("report", dict)):
        if not isinstance(doc.get(key), kind):
            words = {str: "a string", dict: "an object", list: "a list"}[kind]
            raise refuse(path, f"`{key}` is missing or not {words}")
    values = doc["sweep"].get("values")
    if not isinstance(values, list) or not all(_number(v) for v in values):
        raise refuse(path, "`sweep.values` is not a list of numbers")
    added = doc["sweep"].get("added", [])
    grid = doc.get("sweep2")
    if grid is not None and (not isinstance(grid, dict) or not isinstance(
            grid.get("values"), list) or not all(_number(v) for v in grid["values"])):
        raise refuse(path, "`sweep2.values` is not a list of numbers")
    if grid is None and (not isinstance(added, list) or not all(_number(v) for v in added)):
        raise refuse(path, "`sweep.added` is not a list of numbers")
    if grid is not None and (not isinstance(added, list) or not all(
            isinstance(c, list) and len(c) == 2 and all(map(_number, c)) for c in added)):
        raise refuse(path, "`sweep.added` is not a list of cells [value, value2]")
    if not all(isinstance(p, str) for p in doc["phases"]):
        raise refuse(path, "`phases` is not a list of names")
    for i, p in enumerate(doc["points"]):
        where = f"point {i + 1}"
        if not isinstance(p, dict) or not _number(p.get("value")) or (
                "value2" in p and not _number(p["value2"])):
            raise refuse(path, f"{where} has no numeric `value`")
        where = f"the point at {p['value']:g}"
        if not isinstance(p.get("phases"), dict) or set(p["phases"]) != set(doc["phases"]):
            raise refuse(path, f"{where} does not hold the masses of the phases "
                                f"{', '.join(doc['phases']) or '(none)'}")
        for name, m in list(p["phases"].items()) + [("other", p.get("other"))]:
            if not isinstance(m, dict) or not _number(m.get("mass")) or not (
                    -1e-9 <= m["mass"] <= 1 + 1e-9):
                raise refuse(path, f"{where}: the mass of `{name}` is not a number "
                                    "between 0 and 1")
        try:
            PointSummary.from_json(p)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise refuse(path, f"{where} cannot be read ({type(exc).__name__}: {exc})") from None
    if len({point_id(p) for p in doc["points"]}) != len(doc["points"]):
        raise refuse(path, "two points have the same sweep value")
    why = field_problem(doc)
    if why:
        raise refuse(path, why)
    events = doc.get("events") or []
    try:
        for e in events:
            Event.from_json(e)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise refuse(path, f"an event cannot be read ({type(exc).__name__}: {exc})") from None
    return doc


ENGINES = ("nuts", "smc", "smc_path", "quadrature")


def field_problem(doc: dict) -> str | None:
    """Why a results document's fields are not what its readers take them for
    (``results_shape``: types, finite numbers, standard errors >= 0, a known engine, the
    recorded spec text the one its ``spec_sha256`` names), or ``None``."""
    why = problem(doc, DOCUMENT, "")
    for i, p in enumerate(doc["points"]):
        why = why or problem(p, POINT, f"points[{i}]")
        if why:
            return why
        masses = [*(p["phases"].items()), ("other", p["other"])]
        bad = next((name for name, m in masses if (m.get("se") or 0) < 0), None)
        if bad:
            return f"points[{i}]: the standard error of `{bad}` is negative"
    if why:
        return why
    if doc["sampler"].get("engine") not in ENGINES:
        return f"`sampler.engine` is not one of {', '.join(ENGINES)}"
    text, digest = doc.get("spec_text"), doc.get("spec_sha256")
    if text is not None and digest is not None and (
            hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest() != digest):
        return "`spec_text` is not the spec its `spec_sha256` names (edited?)"
    return None


def _recorded(arrays: dict) -> dict | None:
    raw = arrays.get(IDENTITY)
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        return None
    try:
        out = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return out if isinstance(out, dict) else None


def identity_problem(arrays: dict, results: dict, index: int, dataset: int) -> str | None:
    """Why the draws ``arrays`` are not those of point ``index`` (data set ``dataset``) of
    the run ``results``; ``None`` where they are."""
    ident = _recorded(arrays)
    if ident is None:
        return "does not name its sweep point (no readable identity; written by another program?)"
    value = ident.get("value")
    if not _number(value) or ("value2" in ident and not _number(ident["value2"])):
        return "names no numeric sweep value"
    point = value if "value2" not in ident else (value, ident["value2"])
    shown = f"{value:g}" if "value2" not in ident else f"({value:g}, {ident['value2']:g})"
    if bool(results.get("sweep2")) != ("value2" in ident):
        return f"holds the draws of {shown}, a point of another kind of sweep"
    try:
        own = point_index(results, point)
    except (KeyError, TypeError, ValueError):
        own = None
    if own != index:
        return (f"holds the draws of the sweep point {shown}, not of the point its name "
                f"(number {index}) stands for")
    if ident.get("dataset", 0) != dataset:
        return f"holds the draws of data set {ident.get('dataset')}, not {dataset}"
    key = results.get("posterior_key")
    if key is not None and ident.get("posterior_key") != key:
        return "holds draws of another posterior or seed than this run's (posterior_key)"
    return None


def draws_problem(arrays: dict) -> str | None:
    """Why ``arrays`` are not draws of one point (shapes, kinds, finite parameters)."""
    params = arrays.get("params")
    if params is None or arrays.get("indicators") is None or arrays.get("logdensity") is None:
        return "lacks one of the arrays params, indicators, logdensity"
    if params.ndim != 3 or params.dtype.kind != "f" or 0 in params.shape:
        return f"holds parameters of shape {list(params.shape)} ({params.dtype}), not [G, S, D]"
    g, s = params.shape[:2]
    want = {"indicators": (3, "b"), "logdensity": (2, "f"), "weights": (2, "f"),
            "diverging": (2, "b"), "log_z": (1, "f")}
    for name, (ndim, kind) in want.items():
        a = arrays.get(name)
        if a is None:
            continue
        if a.ndim != ndim or a.shape[:min(ndim, 2)] != (g, s)[:ndim] or a.dtype.kind != kind:
            return f"holds `{name}` of shape {list(a.shape)} ({a.dtype}), not of the draws' {g} x {s}"
    if not np.all(np.isfinite(params)):
        return "holds parameters that are NaN or infinite"
    w = arrays.get("weights")
    if w is not None and not (np.all(np.isfinite(w)) and np.all(w >= 0)):
        return "holds weights that are negative, NaN or infinite"
    if np.any(np.isnan(arrays["logdensity"])):
        return "holds a log density that is NaN"
    return None
