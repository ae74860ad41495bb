"""The run folder: ``results.json`` (the results document, schema ``SCHEMA``) and
``draws/point_NNN.npz`` (the draws of each sweep point).

Every write is atomic (a reader never sees half a file), ``results.json`` is rewritten after
every finished point, and a run of the same spec and settings into the same folder resumes:
the finished points it finds are kept (``RunFolder.open``). This module owns the document's
shape on disk; what goes into it comes from the pipeline as records.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
from pathlib import Path

import numpy as np

from .analysis.records import plain
from .language.errors import UsageError
from .language.settings import result_keys

__all__ = ["SCHEMA", "RunFolder", "atomic_write", "dumps", "load_results", "load_draws",
           "run_key", "posterior_identity", "posterior_key", "draws_path"]

SCHEMA = "phasedsl.results/1"


def dumps(results: dict) -> str:
    """The results document as strict JSON text (non-finite floats as ``null``)."""
    return json.dumps(plain(results), indent=1, allow_nan=False)


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader never sees a half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def run_key(checked) -> str:
    """A hash of everything that decides a point's result (spec text after overrides,
    engine and its result settings: not execution settings such as ``chain_method``, which
    change how the work runs, not the posterior). Two runs with the same key may share
    finished points."""
    kept = result_keys(checked.engine)
    sample = {k: v for k, v in checked.sample.items() if k in kept}
    payload = json.dumps({"source": checked.spec.source, "engine": checked.engine,
                          "sweep": list(checked.sweep_values),
                          "sample": sample, "lets": sorted(map(str, checked.lets.items())),
                          "phases": list(checked.phase_names)}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


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
    return {
        "kind": checked.kind,
        "model": str(checked.energy) if checked.kind == "energy" else repr(checked.network),
        "prior": repr(checked.prior),
        "parameters": repr(checked.slots),
        "n": str(checked.n), "beta": str(checked.beta),
        "sweep": repr((checked.sweep_name, tuple(float(v) for v in checked.sweep_values))),
        "engine": checked.engine,
        "settings": json.dumps({k: v for k, v in checked.sample.items() if k in kept},
                               sort_keys=True, default=str),
    }


def posterior_key(checked) -> str:
    """A hash of ``posterior_identity``: equal keys (and seeds), equal draws."""
    payload = json.dumps(posterior_identity(checked), sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def load_results(folder: Path) -> dict | None:
    """The results document of ``folder``, or ``None`` where there is none yet."""
    path = Path(folder) / "results.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path} is not a readable results file ({exc}); "
                         "use --fresh to start again") from None


def draws_path(folder: Path, index: int) -> Path:
    """Where the draws of sweep point ``index`` (its position in the sweep) are kept."""
    return Path(folder) / "draws" / f"point_{index:03d}.npz"


def save_draws(folder: Path, index: int, draws) -> None:
    """The draws of one sweep point, compressed (``params f[G,S,D]``, ``indicators``, ...)."""
    (Path(folder) / "draws").mkdir(exist_ok=True)
    arrays = {"params": draws.params, "indicators": draws.indicators,
              "logdensity": draws.logdensity}
    if draws.weights is not None:
        arrays["weights"] = draws.weights
    if draws.log_z is not None:  # SMC and quadrature: log Z per group (re-analysis, export)
        arrays["log_z"] = np.asarray(draws.log_z)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write(draws_path(folder, index), buf.getvalue())


def load_draws(folder: Path, index: int) -> dict[str, np.ndarray] | None:
    """The arrays saved for sweep point ``index`` (``params f[G,S,D]``, ``indicators
    bool[G,S,P]``, ``logdensity f[G,S]``, ``weights f[G,S]`` where weighted), or ``None``."""
    path = draws_path(folder, index)
    if not path.is_file():
        return None
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


class RunFolder:
    """The results document of one run and the folder it lives in.

    ``open`` starts a document (``header``: everything but points and events) and keeps the
    finished points of an earlier run with the same ``run_key``; ``add_point``, ``interrupt``
    and ``finish`` change the document and rewrite ``results.json`` at once."""

    def __init__(self, folder: Path, results: dict, done: dict[float, dict]):
        self.folder = Path(folder)
        self.results = results
        self.done = done

    @classmethod
    def open(cls, folder: Path, header: dict, values, fresh: bool = False) -> "RunFolder":
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        old = None if fresh else load_results(folder)
        done: dict[float, dict] = {}
        if old is not None:
            if old.get("run_key") != header["run_key"]:
                raise UsageError(
                    f"{folder} holds a run of a different spec or settings; nothing was "
                    "changed. Use --fresh to discard it, or --out for another folder.")
            done = {p["value"]: p for p in old.get("points", [])}
        results = {**{k: v for k, v in header.items() if k != "warnings"},
                   "status": "running", "points": [], "events": [],
                   "warnings": list(header.get("warnings", []))}
        results["points"] = [done[v] for v in values if v in done]
        if old is not None and old.get("reanalyses"):  # the history of a resumed run
            results["reanalyses"] = old["reanalyses"]
        results["timings"] = {"started": _now(), "ended": None, "wall_s": None,
                              "points_resumed": len(results["points"])}
        run = cls(folder, results, done)
        run.save()
        return run

    def save(self) -> None:
        atomic_write(self.folder / "results.json", dumps(self.results).encode())

    def add_point(self, index: int, point: dict, draws) -> None:
        """A finished sweep point: its draws, then its summary (contract shape)."""
        save_draws(self.folder, index, draws)
        self.results["points"].append(point)
        self.results["points"].sort(key=lambda p: p["value"])
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

    def finish(self, events: list[dict]) -> dict:
        self.results["events"] = events
        self.results["status"] = "complete"
        self._ended()
        self.save()
        return self.results
