"""The results document of one run in its folder (``RunFolder``): opened under the
folder's lock, resumed from the finished points of an earlier run of the same ``run_key``,
and saved after every change (a finished point, an interruption, a failure, the end)."""

from __future__ import annotations

import contextlib
import datetime
from pathlib import Path

from ..language.errors import UsageError
from ..language.grid import Cell
from .errors import RunFolderError, fs_error, no_link
from .files import atomic_write, dumps, load_results, save_draws
from .identity import draws_identity, point_id
from .lock import RunLock


def now_utc() -> str:
    """The time now, UTC, ISO 8601 (microseconds kept so that wall_s is exact)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


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
            raise fs_error("make the run folder", folder, exc) from None
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
        results["timings"] = {"started": now_utc(), "ended": None, "wall_s": None,
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
    no_link(folder / "draws")
    for sub in (folder, folder / "draws"):
        with contextlib.suppress(OSError):
            for tmp in sub.glob(".*.tmp"):
                with contextlib.suppress(OSError):
                    tmp.unlink()
