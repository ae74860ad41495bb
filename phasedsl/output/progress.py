"""Progress of a run that a person can follow, on stderr: the run's header first, one row as
each sweep point finishes, and on a terminal a live line (the points being sampled, elapsed
time, divergences so far, an ETA from the measured rate). When stderr is not a terminal (a
cluster job's log, CI) the same rows come as plain timestamped lines. ``--json`` runs quiet.

Nothing here samples: ``RunProgress.update`` is the pipeline's ``progress(count, total,
value)`` callback (before each compiled call) and ``RunProgress.point`` its ``on_point``
(after each finished point).
"""

from __future__ import annotations

import datetime
import os
import sys
import time

from .report import _flags, _mass, fmt, header

__all__ = ["RunProgress", "progress_enabled", "progress_mode", "point_row",
           "run_header"]


def progress_enabled() -> bool:
    """Whether a live terminal line can be drawn (stderr a terminal, not CI)."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def progress_mode(json_output: bool = False) -> str:
    """``"quiet"`` (``--json``), ``"live"`` (a terminal) or ``"log"`` (plain lines)."""
    if json_output:
        return "quiet"
    return "live" if progress_enabled() else "log"


def run_header(checked) -> dict:
    """The part of a results document the header needs, from the checked spec (the header
    is shown before anything is sampled)."""
    return {"experiment": checked.experiment,
            "sampler": {"engine": checked.engine, **checked.sample},
            "sweep": {"name": checked.sweep_name, "values": list(checked.sweep_values)},
            **({} if checked.grid is None else
               {"sweep2": {"name": checked.grid.name, "values": list(checked.grid.values)}}),
            "points": [], "status": "complete"}


def where(sweep: str, value, sweep2: str | None = None) -> str:
    """``t = 1.5``, or ``t = 1.5, n = 10`` for a grid's cell (a ``(value, value2)`` pair)."""
    if isinstance(value, (tuple, list)):
        return f"{sweep} = {fmt(value[0], 4)}, {sweep2} = {fmt(value[1], 4)}"
    return f"{sweep} = {fmt(value, 4)}"


def point_row(point: dict, phases, sweep: str, sweep2: str | None = None) -> str:
    """One finished point in a line: ``t = 1.5  left 0.500 ± 0.240  right 0.500 ...``
    (``t = 1.5, n = 10  ...`` for a grid's cell, ``sweep2`` its second variable)."""
    d = point.get("diagnostics", {})
    masses = "  ".join(f"{n} {_mass(point['phases'][n])}" for n in phases if n in point["phases"])
    seconds = d.get("sample_s", d.get("wall_s"))
    at = point["value"] if "value2" not in point else (point["value"], point["value2"])
    parts = [where(sweep, at, sweep2), masses, f"other {_mass(point['other'])}",
             f"preferred {point.get('preferred') or '-'}"]
    if seconds is not None:
        parts.append(f"{seconds:.1f} s")
    parts.append(_flags(point))
    return "  ".join(p for p in parts if p)


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "-:--:--"
    seconds = int(round(max(seconds, 0)))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class RunProgress:
    """A context manager over a run; ``update`` and ``point`` are the pipeline's callbacks.

    ``mode``: ``live`` (rich line on stderr), ``log`` (timestamped lines on stderr),
    ``quiet``. ``stream``: where lines go (default stderr)."""

    def __init__(self, checked, mode: str = "log", stream=None):
        self.mode = mode
        self.stream = stream
        self.sweep = checked.sweep_name or "point"
        self.sweep2 = None if checked.grid is None else checked.grid.name
        self.phases = list(checked.phase_names)
        self.head = run_header(checked)
        self.total = None
        self.done = 0
        self.divergences = 0
        self.start = None
        self.first_done = None
        self.last_done = None
        self.bar = None
        self.task = None

    # -- output
    def _console(self):
        from rich.console import Console

        if self.stream is not None:
            return Console(file=self.stream, highlight=False, width=160)
        return Console(stderr=True, highlight=False)

    def _line(self, text: str) -> None:
        if self.mode == "quiet":
            return
        if self.mode == "live" and self.bar is not None:
            self.bar.console.print(text, highlight=False, markup=False)
            return
        stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S")
        stream = self.stream or sys.stderr
        try:
            print(f"[{stamp}] {text}", file=stream, flush=True)
        except (OSError, ValueError):  # a closed log must not stop the run
            self.mode = "quiet"

    # -- measured rate
    def eta(self) -> float | None:
        """Seconds left, from the measured time per point (after the first point, which
        carries the compilation, where there are two or more)."""
        if self.total is None or not self.done or self.start is None:
            return None
        left = self.total - self.done
        if self.done >= 2 and self.last_done > self.first_done:
            per = (self.last_done - self.first_done) / (self.done - 1)
        else:
            per = (self.last_done - self.start) / self.done
        return per * left

    # -- the pipeline's callbacks
    def update(self, count: int, total: int, value: float) -> None:
        if self.start is None:
            self.start = time.perf_counter()
            self.total = total
            if total == 0:
                self._line("every point is already finished (resumed run)")
        self.total = total
        what = where(self.sweep, value, self.sweep2)
        if self.mode == "live" and self.bar is not None:
            self.bar.update(self.task, total=total, completed=self.done,
                            description=f"sampling {what}", eta=_clock(self.eta()),
                            div=self.divergences)
        elif self.mode == "log":
            eta = self.eta()
            self._line(f"sampling {what} (point {self.done + 1} of {total})"
                       + ("" if eta is None else f", eta {_clock(eta)}"))

    def point(self, point: dict) -> None:
        now = time.perf_counter()
        self.done += 1
        self.first_done = self.first_done or now
        self.last_done = now
        self.divergences += int(point.get("diagnostics", {}).get("divergences") or 0)
        self._line(point_row(point, self.phases, self.sweep, self.sweep2))
        if self.mode == "live" and self.bar is not None:
            self.bar.update(self.task, completed=self.done, eta=_clock(self.eta()),
                            div=self.divergences)

    # -- context
    def __enter__(self):
        if self.mode == "quiet":
            return self
        console = self._console()
        if self.mode == "live":
            from rich.progress import (BarColumn, Progress, TextColumn, TimeElapsedColumn)

            console.print(header(self.head))
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                TextColumn("{task.completed}/{task.total} points"),
                                TimeElapsedColumn(), TextColumn("eta {task.fields[eta]}"),
                                TextColumn("div {task.fields[div]}"),
                                console=console, transient=True)
            self.task = self.bar.add_task("starting", total=None, eta="-:--:--", div=0)
            self.bar.start()
        else:
            for line in header(self.head).plain.splitlines():
                self._line(line)
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        if self.mode == "log" and self.start is not None and exc[0] is None:
            self._line(f"sampling done: {self.done} points in "
                       f"{_clock(time.perf_counter() - self.start)}")
        return False

