"""The run folder: ``results.json`` (the results document, schema ``SCHEMA``) and
``draws/point_NNN.npz`` (the draws of each sweep point).

Every write is atomic (a reader never sees half a file), ``results.json`` is rewritten after
every finished point, and a run of the same spec and settings into the same folder resumes:
the finished points it finds are kept (``RunFolder.open``). This module owns the document's
shape on disk; what goes into it comes from the pipeline as records.
"""

from __future__ import annotations

import datetime
import contextlib
import errno
import hashlib
import io
import json
import math
import os
import secrets
import socket
import struct
import time
from pathlib import Path

import numpy as np

from .analysis.records import Event, PointSummary, plain
from .language.grid import Cell
from .language.errors import UsageError
from .language.limits import MAX_NUMBERS_PER_POINT
from .language.npyfile import NpyError, read_npz
from .language.settings import result_keys
from .results_shape import DOCUMENT, POINT, problem

__all__ = ["SCHEMA", "RunFolder", "RunFolderError", "RunLock", "validate", "atomic_write",
           "dumps", "load_results", "load_draws", "run_key", "posterior_identity",
           "posterior_key", "draws_path", "data_identity", "point_id", "added_index",
           "point_index", "ADDED_BASE", "save_draws", "draws_identity", "locked",
           "DISCOVERY", "save_discovery", "load_discovery"]

SCHEMA = "phasedsl.results/1"


class RunFolderError(UsageError):
    """A run folder that cannot be used: damaged, foreign or newer, locked by another run,
    or a file-system failure (exit code 2; nothing is rewritten)."""


def dumps(results: dict) -> str:
    """The results document as strict JSON text (non-finite floats as ``null``)."""
    return json.dumps(plain(results), indent=1, allow_nan=False)


def _fs_error(what: str, path, exc: OSError) -> RunFolderError:
    reason = exc.strerror or type(exc).__name__
    if exc.errno == errno.EFBIG:
        reason += " (a file-size limit: `ulimit -f`?)"
    return RunFolderError(f"cannot {what} {path}: {reason}")


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader never sees a half-written file: a temp
    file of a name no other writer uses (process id and random letters), then a rename.
    A failure (a full disk, a read-only folder) leaves the old file as it was and is a
    ``RunFolderError``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with open(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise _fs_error("write", path, exc) from None


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


def _now() -> str:
    """The time now, UTC, ISO 8601 (microseconds kept so that wall_s is exact)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


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


_DAMAGED = "nothing was changed; use --fresh to discard it, or --out for another folder"


def point_id(p: dict):
    """What a point of the results document stands for: its sweep ``value``, or for a
    two-dimensional sweep its ``Cell(value, value2)`` (equal to the cells a run samples)."""
    return p["value"] if "value2" not in p else Cell(p["value"], p["value2"])


def _order(p: dict) -> tuple:
    """Points in sweep order: by ``value``, a grid's row by row (``value2``, then ``value``)."""
    return (p.get("value2", 0.0), p["value"])


def _added_list(added, grid: bool) -> list:
    """``sweep.added`` as saved: distinct values sorted, or a grid's cells as pairs
    ``[value, value2]`` row by row."""
    if not grid:
        return sorted({float(v) for v in added})
    cells = {Cell(float(x), float(y)) for x, y in added}
    return [[c.value, c.value2] for c in sorted(cells, key=lambda c: (c.value2, c.value))]


def _refuse(path, why: str) -> RunFolderError:
    return RunFolderError(f"{path} is not a usable results file: {why}; {_DAMAGED}")


def _no_constant(name: str):
    raise ValueError(f"`{name}` is not a number JSON allows")


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def validate(doc, path) -> dict:
    """``doc`` if it has the shape of a results document of this version (``SCHEMA``):
    every field later stages read, every point and event readable as records, every mass a
    finite number; else a ``RunFolderError`` saying what is wrong."""
    if not isinstance(doc, dict):
        raise _refuse(path, f"it holds a JSON {type(doc).__name__}, not an object")
    schema = doc.get("schema")
    if schema != SCHEMA:
        if isinstance(schema, str) and schema.startswith("phasedsl.results/"):
            raise RunFolderError(
                f"{path} has schema {schema}, and this phasedsl (results schema {SCHEMA}) "
                f"does not read it; {_DAMAGED}")
        raise _refuse(path, f"its schema is {schema!r}, not {SCHEMA!r}")
    for key, kind in (("run_key", str), ("sampler", dict), ("sweep", dict), ("phases", list),
                      ("points", list), ("report", dict)):
        if not isinstance(doc.get(key), kind):
            words = {str: "a string", dict: "an object", list: "a list"}[kind]
            raise _refuse(path, f"`{key}` is missing or not {words}")
    values = doc["sweep"].get("values")
    if not isinstance(values, list) or not all(_number(v) for v in values):
        raise _refuse(path, "`sweep.values` is not a list of numbers")
    added = doc["sweep"].get("added", [])
    grid = doc.get("sweep2")
    if grid is not None and (not isinstance(grid, dict) or not isinstance(
            grid.get("values"), list) or not all(_number(v) for v in grid["values"])):
        raise _refuse(path, "`sweep2.values` is not a list of numbers")
    if grid is None and (not isinstance(added, list) or not all(_number(v) for v in added)):
        raise _refuse(path, "`sweep.added` is not a list of numbers")
    if grid is not None and (not isinstance(added, list) or not all(
            isinstance(c, list) and len(c) == 2 and all(map(_number, c)) for c in added)):
        raise _refuse(path, "`sweep.added` is not a list of cells [value, value2]")
    if not all(isinstance(p, str) for p in doc["phases"]):
        raise _refuse(path, "`phases` is not a list of names")
    for i, p in enumerate(doc["points"]):
        where = f"point {i + 1}"
        if not isinstance(p, dict) or not _number(p.get("value")) or (
                "value2" in p and not _number(p["value2"])):
            raise _refuse(path, f"{where} has no numeric `value`")
        where = f"the point at {p['value']:g}"
        if not isinstance(p.get("phases"), dict) or set(p["phases"]) != set(doc["phases"]):
            raise _refuse(path, f"{where} does not hold the masses of the phases "
                                f"{', '.join(doc['phases']) or '(none)'}")
        for name, m in list(p["phases"].items()) + [("other", p.get("other"))]:
            if not isinstance(m, dict) or not _number(m.get("mass")) or not (
                    -1e-9 <= m["mass"] <= 1 + 1e-9):
                raise _refuse(path, f"{where}: the mass of `{name}` is not a number "
                                    "between 0 and 1")
        try:
            PointSummary.from_json(p)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise _refuse(path, f"{where} cannot be read ({type(exc).__name__}: {exc})") from None
    if len({point_id(p) for p in doc["points"]}) != len(doc["points"]):
        raise _refuse(path, "two points have the same sweep value")
    why = field_problem(doc)
    if why:
        raise _refuse(path, why)
    events = doc.get("events") or []
    try:
        for e in events:
            Event.from_json(e)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise _refuse(path, f"an event cannot be read ({type(exc).__name__}: {exc})") from None
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


def load_results(folder: Path) -> dict | None:
    """The results document of ``folder`` (validated: ``validate``), or ``None`` where there
    is none yet. A damaged, foreign or newer document is a ``RunFolderError``."""
    path = Path(folder) / "results.json"
    _no_link(path)
    try:
        if not path.is_file():
            if path.exists() or path.is_symlink():
                raise RunFolderError(f"{path} is not a file; {_DAMAGED}")
            return None
        data = path.read_bytes()
    except OSError as exc:
        raise _fs_error("read", path, exc) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(path, f"byte {exc.start} is not UTF-8") from None
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except (json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise _refuse(path, f"it is not JSON ({exc})") from None
    return validate(doc, path)


DISCOVERY = "discovery.json"  # the basins `phasedsl discover --into FOLDER` found


def save_discovery(folder: Path, doc: dict, checked) -> Path:
    """Write ``doc`` (``Discovery.to_json()``) into the run folder ``folder`` as
    ``discovery.json``, atomically, stamped with the spec's ``posterior_key`` so that a
    report shows it only beside a run of the same posterior. A link in its place is
    refused; the folder is made where missing."""
    folder = Path(folder)
    path = folder / DISCOVERY
    _no_link(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _fs_error("make", folder, exc) from None
    atomic_write(path, dumps({**doc, "posterior_key": posterior_key(checked)}).encode())
    return path


def load_discovery(folder: Path, results: dict) -> tuple[dict | None, str | None]:
    """``(doc, None)``: the run folder's ``discovery.json`` where it is of the run's
    posterior; ``(None, why)`` where it is there but cannot be shown (damaged, or of another
    posterior: the spec changed since); ``(None, None)`` where there is none."""
    path = Path(folder) / DISCOVERY
    if not path.is_file() or path.is_symlink():
        return None, None
    try:
        doc = json.loads(path.read_bytes().decode("utf-8"), parse_constant=_no_constant)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        return None, f"{path} cannot be read ({type(exc).__name__}): not shown"
    if not isinstance(doc, dict) or not isinstance(doc.get("points"), list):
        return None, f"{path} is not a discovery document: not shown"
    key = str(results.get("posterior_key") or "").split(":")[0]
    if doc.get("posterior_key") != key:
        return None, (f"{path} was found for another posterior or sampler setting than this "
                      "run's: not shown; run `phasedsl discover SPEC --into FOLDER` with the "
                      "run's settings again")
    return doc, None


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


def draws_path(folder: Path, index: int, dataset: int = 0) -> Path:
    """Where the draws of sweep point ``index`` (its position in the sweep) are kept; those
    of data set ``dataset >= 1`` (``data { seeds = K }``) beside them, ``point_NNN.dK.npz``."""
    tail = f".d{dataset}" if dataset else ""
    return Path(folder) / "draws" / f"point_{index:03d}{tail}.npz"


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


def save_draws(folder: Path, index: int, draws, dataset: int = 0,
               identity: dict | None = None) -> None:
    """The draws of one sweep point (of one data set), compressed (``params f[G,S,D]``,
    ``indicators``, ...), with ``identity`` (``draws_identity``) so that no reader takes
    them for another point's."""
    sub = Path(folder) / "draws"
    try:
        sub.mkdir(exist_ok=True)
    except OSError as exc:
        raise _fs_error("make", sub, exc) from None
    _no_link(sub)
    arrays = {"params": draws.params, "indicators": draws.indicators,
              "logdensity": draws.logdensity}
    if draws.weights is not None:
        arrays["weights"] = draws.weights
    if draws.log_z is not None:  # SMC and quadrature: log Z per group (re-analysis, export)
        arrays["log_z"] = np.asarray(draws.log_z)
    if getattr(draws, "divergent", None) is not None:  # NUTS: bool[G, S] (export)
        arrays["diverging"] = np.asarray(draws.divergent, dtype=bool)
    if identity is not None:
        arrays[IDENTITY] = np.frombuffer(json.dumps(identity).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write(draws_path(folder, index, dataset), buf.getvalue())


def _no_link(path: Path) -> None:
    """Refuse a run folder's member that is a symbolic link: writing through it (or
    sweeping temp files in it) would change files outside the run folder."""
    if path.is_symlink():
        raise RunFolderError(f"{path} is a symbolic link; a run folder's files must be its "
                             f"own (remove the link); {_DAMAGED}")


def load_draws(folder: Path, index: int, dataset: int = 0, results: dict | None = None,
               dim: int | None = None) -> dict[str, np.ndarray] | None:
    """The arrays saved for sweep point ``index`` (``params f[G,S,D]``, ``indicators
    bool[G,S,P]``, ``logdensity f[G,S]``, ``weights f[G,S]`` where weighted, ``diverging
    bool[G,S]`` for NUTS draws saved since it is kept), or ``None``.

    The file must name this point of this run (``draws_identity``, checked against
    ``results``, default the folder's ``results.json``) and hold arrays of consistent shapes
    and finite parameters (``dim`` of them per draw, where given); else a
    ``RunFolderError``: a swapped, foreign or damaged file is never read as this point's
    draws."""
    folder = Path(folder)
    path = draws_path(folder, index, dataset)
    _no_link(path.parent)
    if not path.is_file():
        return None
    _no_link(path)
    try:
        arrays = read_npz(path, MAX_NUMBERS_PER_POINT)
    except NpyError as exc:
        raise RunFolderError(f"{path} cannot be read ({exc}); {_DAMAGED}") from None
    if results is None:
        results = _current_results(folder)
    why = draws_problem(arrays) or identity_problem(arrays, results, index, dataset)
    if not why and dim is not None and arrays["params"].shape[-1] != dim:
        why = f"holds draws of {arrays['params'].shape[-1]} parameters, not the spec's {dim}"
    if why:
        raise RunFolderError(f"{path} {why}; {_DAMAGED}")
    arrays.pop(IDENTITY)
    return arrays


_CACHE: dict = {}  # folder -> (stat of its results.json, the validated document)


def _current_results(folder: Path) -> dict:
    """``load_results(folder)``, read again only when ``results.json`` was replaced (its
    inode, size or time changed): readers of many draws files parse it once."""
    path = folder / "results.json"
    try:
        st = path.stat()
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:
        stamp = None
    key = os.path.realpath(folder)
    if stamp is None or _CACHE.get(key, (None,))[0] != stamp:
        _CACHE.clear()  # one folder at a time is enough
        _CACHE[key] = (stamp, load_results(folder) or {})
    return _CACHE[key][1]


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


class RunFolder:
    """The results document of one run and the folder it lives in.

    ``open`` starts a document (``header``: everything but points and events) and keeps the
    finished points of an earlier run with the same ``run_key``; ``add_point``, ``interrupt``
    and ``finish`` change the document and rewrite ``results.json`` at once."""

    def __init__(self, folder: Path, results: dict, done: dict[float, dict]):
        self.folder = Path(folder)
        self.results = results
        self.done = done

    lock: "RunLock | None" = None

    @classmethod
    def open(cls, folder: Path, header: dict, values, fresh: bool = False) -> "RunFolder":
        """The run folder, locked for this process (``RunLock``) until ``close``."""
        folder = Path(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _fs_error("make the run folder", folder, exc) from None
        if not folder.is_dir():
            raise RunFolderError(f"cannot use {folder} as a run folder: not a folder")
        lock = RunLock.acquire(folder)
        try:
            _sweep_temp_files(folder)
            run = cls._open(folder, header, values, fresh)
        except BaseException:
            lock.release()
            raise
        run.lock = lock
        return run

    @classmethod
    def _open(cls, folder: Path, header: dict, values, fresh: bool) -> "RunFolder":
        old = None if fresh else load_results(folder)
        done: dict[float, dict] = {}
        if old is not None:
            if old.get("run_key") != header["run_key"]:
                raise UsageError(
                    f"{folder} holds a run of a different spec or settings; nothing was "
                    "changed. Use --fresh to discard it, or --out for another folder.")
            done = {point_id(p): p for p in old.get("points", [])}
        results = {**{k: v for k, v in header.items() if k != "warnings"},
                   "status": "running", "points": [], "events": [],
                   "warnings": list(header.get("warnings", []))}
        # values added to locate events (pipeline.refine) are points of the same posterior;
        # a grid's added cells (pipeline.grid) are pairs [value, value2]
        grid = bool(header.get("sweep2"))
        own = set(values)
        old_added = [Cell(float(v[0]), float(v[1])) if grid else float(v)
                     for v in (old or {}).get("sweep", {}).get("added") or []]
        kept = [v for v in old_added if v in done and v not in own]
        added = _added_list(kept, grid)
        results["sweep"] = {**results["sweep"], "added": added}
        results["points"] = sorted((done[v] for v in [*values, *kept] if v in done),
                                   key=_order)
        if old is not None and old.get("reanalyses"):  # the history of a resumed run
            results["reanalyses"] = old["reanalyses"]
        results["timings"] = {"started": _now(), "ended": None, "wall_s": None,
                              "points_resumed": len(results["points"])}
        run = cls(folder, results, done)
        run.save()
        return run

    def save(self) -> None:
        atomic_write(self.folder / "results.json", dumps(self.results).encode())

    def save_draws(self, index: int, draws, point: dict, dataset: int = 0) -> None:
        """The draws of ``point`` (data set ``dataset``), named as its (``draws_identity``)."""
        save_draws(self.folder, index, draws, dataset,
                   draws_identity(self.results, point, index, dataset))

    def add_point(self, index: int, point: dict, draws, added: bool = False) -> None:
        """A finished sweep point: its draws, then its summary (contract shape). ``added``:
        a value outside the spec's sweep, added to locate an event (kept in ``sweep.added``,
        sorted; ``index`` is its ``added_index``)."""
        self.save_draws(index, draws, point)
        if added:
            grid = "value2" in point
            old = self.results["sweep"].get("added", [])
            old = [Cell(*map(float, v)) for v in old] if grid else old
            self.results["sweep"]["added"] = _added_list([*old, point_id(point)], grid)
        self.results["points"].append(point)
        self.results["points"].sort(key=_order)
        self.save()

    def _ended(self) -> None:
        timings = self.results.get("timings")
        if timings and timings.get("started"):
            end = datetime.datetime.now(datetime.timezone.utc)
            start = datetime.datetime.fromisoformat(timings["started"])
            timings.update(ended=end.isoformat(timespec="seconds"),
                           wall_s=round((end - start).total_seconds(), 3))

    def interrupt(self) -> None:
        self.results["status"] = "interrupted"
        self._ended()
        self.save()

    def fail(self, message: str) -> None:
        """The run stopped on an error (a posterior that is not a density ...): finished
        points are kept, the status says so."""
        self.results["status"] = "failed"
        self.results["error"] = message
        self.save()

    def finish(self, events: list[dict]) -> dict:
        self.results["events"] = events
        self.results["status"] = "complete"
        self._ended()
        self.results.pop("error", None)
        self.save()
        return self.results

    def close(self) -> None:
        """Release the folder's lock."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None


def _sweep_temp_files(folder: Path) -> None:
    """Remove the temp files a killed run left (``atomic_write``'s ``.NAME.PID.XXXX.tmp``);
    only under the folder's lock, so no live writer owns them."""
    _no_link(folder / "draws")
    for sub in (folder, folder / "draws"):
        with contextlib.suppress(OSError):
            for tmp in sub.glob(".*.tmp"):
                with contextlib.suppress(OSError):
                    tmp.unlink()


class RunLock:
    """One writer at a time in a run folder: an exclusive ``flock`` on ``FOLDER/.lock``,
    held while a run, a re-analysis, a figure or export write lasts. The kernel releases it
    when the process ends, however it ends, so a lock of a dead process is never in the way
    (the next writer takes it). The file holds the holder's pid, host and start time, for
    the message a second writer gets. It is opened without following a symbolic link (a
    planted ``.lock`` link is refused, its target never truncated)."""

    NAME = ".lock"

    def __init__(self, path: Path, fh):
        self.path, self._fh = path, fh

    @classmethod
    def acquire(cls, folder: Path, what: str = "run") -> "RunLock":
        import fcntl

        folder = Path(folder)
        path = folder / cls.NAME
        _no_link(path)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            fh = open(fd, "r+", encoding="utf-8", errors="replace")
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                _no_link(path)
            raise _fs_error("lock the run folder", folder, exc) from None
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read(500).strip()
            fh.close()
            raise RunFolderError(
                f"{folder} is in use by another run ({_holder(holder)}); wait for it to "
                f"finish, or use --out for another folder; nothing was changed by this {what}"
            ) from None
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}))
            fh.flush()
        except OSError:
            pass  # the lock holds without its note
        return cls(path, fh)

    def release(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.seek(0)
                self._fh.truncate()
            self._fh.close()  # closing drops the flock
            self._fh = None


def _holder(note: str) -> str:
    try:
        info = json.loads(note)
        return f"process {info['pid']} on {info['host']}, started {info['started']}"
    except (ValueError, KeyError, TypeError):
        return "another process"


_HELD: set[str] = set()  # run folders (real paths) this process holds through ``locked``


@contextlib.contextmanager
def locked(folder, what: str):
    """The run folder ``folder`` locked for one writer (``RunLock``) while the block runs
    (``what`` names the writer in the message another writer gets: ``re-analysis``); a
    block inside another ``locked`` block of the same folder keeps the outer lock."""
    key = os.path.realpath(folder)
    if key in _HELD:
        yield None
        return
    lock = RunLock.acquire(Path(folder), what)
    _HELD.add(key)
    try:
        yield lock
    finally:
        _HELD.discard(key)
        lock.release()
