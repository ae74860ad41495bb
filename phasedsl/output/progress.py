"""Progress of a run that a person can follow, on stderr: the run's header first, one row as
each sweep point finishes, and on a terminal a live display: a line for the run (points
finished, elapsed time, ETA, divergences so far) and a line per running point with its
chains' progress inside the compiled call (NUTS: warmup or draws done, divergences; SMC:
tempering stage and temperature; ``smc_path``: bridge, stage and ``t``) and its ETA from the
measured rate. When stderr is not a terminal (a cluster job's log, CI) the same comes as plain
timestamped lines, at most one per running point every ``LOG_EVERY`` seconds plus one per
finished point. ``--json`` runs quiet.

Nothing here samples: ``RunProgress.update`` is the pipeline's ``progress(count, total,
value)`` callback (before each compiled call), ``RunProgress.point`` its ``on_point`` (after
each finished point) and ``RunProgress.tick`` the sink of the engines' reports from inside
their loops (``phasedsl.engines.ticks``: called on XLA's threads, so it only records, under a
lock; the live display renders the records four times a second).
"""

from __future__ import annotations

import datetime
import math
import os
import sys
import threading
import time

from ..language.traits import traits
from .report import _flags, _mass, fmt, header

__all__ = ["LOG_EVERY", "LivePoint", "RunProgress", "progress_enabled", "progress_mode",
           "point_row", "run_header"]

LOG_EVERY = 10.0  # seconds between a running point's lines in a log
LIVE_LINES = 8  # running points shown at once on a terminal (the most recently active)


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


def _key(value: float, value2: float | None = None) -> str:
    """A sweep point (a value, or a 2-D grid's cell) as the same text whether it came from
    the host (float64) or from a tick (float32)."""
    second = "" if value2 is None or not math.isfinite(value2) else f",{float(value2):.6g}"
    return f"{float(value):.6g}{second}"


class LivePoint:
    """What the ticks say about one running sweep point: the latest tick of each chain (NUTS
    chain or SMC run), and when its first and latest ticks came (``time.perf_counter``)."""

    def __init__(self, value: float, now: float, value2: float = math.nan):
        self.value = value
        self.value2 = value2  # a 2-D grid's second value (NaN for a sweep)
        self.chains: dict[tuple, object] = {}  # (engine, chain) -> latest Tick
        self.first = now
        self.last = now
        self.logged = now  # when a log line last spoke of it

    def add(self, tick, now: float) -> None:
        self.chains[(tick.engine, tick.chain)] = tick
        self.last = now

    def fraction(self, chains: int | None) -> float | None:
        """Share of the point's NUTS transitions done (chains not heard from yet count as
        none done); ``None`` where the work is not known ahead (SMC)."""
        nuts = [t for t in self.chains.values() if t.engine == "nuts" and t.total > 0]
        if not nuts:
            return None
        count = max(chains or 0, len(nuts))
        return sum(min(t.done / t.total, 1.0) for t in nuts) / count

    def eta(self, now: float, chains: int | None) -> float | None:
        """Seconds until the point is done, from its measured rate (NUTS, once 5% is done),
        else ``None``."""
        f = self.fraction(chains)
        if f is None or f < 0.05 or now <= self.first:
            return None
        return (now - self.first) * (1.0 - f) / f

    def divergences(self) -> int:
        return sum(t.divergences for t in self.chains.values() if t.engine == "nuts")

    def describe(self, chains: int | None) -> str:
        """NUTS: the least and the most advanced chain, ``warmup 250/300 to draws 12/200
        (4 chains, 2 not started)  div 3``; SMC: ``tempering stage 12  lambda 0.031 (4 runs)``
        (the least tempered run); ``smc_path``: ``bridge 3/21  stage 2  t 0.62``."""
        ticks = list(self.chains.values())
        nuts = [t for t in ticks if t.engine == "nuts"]
        path = [t for t in ticks if t.engine == "smc_path"]
        smc = [t for t in ticks if t.engine == "smc"]
        if nuts:
            warmup, total = nuts[0].warmup, nuts[0].total

            def where(done):
                return (f"warmup {done}/{warmup}" if done < warmup
                        else f"draws {done - warmup}/{total - warmup}")

            lo, hi = min(t.done for t in nuts), max(t.done for t in nuts)
            n = max(chains or 0, len(nuts))
            waiting = n - len(nuts)
            return (f"{where(lo) if lo == hi else where(lo) + ' to ' + where(hi)} "
                    f"({n} chain{'s' if n != 1 else ''}"
                    + (f", {waiting} not started" if waiting else "")
                    + f")  div {self.divergences()}")
        if path:
            t = max(path, key=lambda t: (t.bridge, t.done))
            return f"bridge {t.bridge}/{t.bridges}  stage {t.done}  t {t.lam:.2f}"
        if smc:
            runs = f"({len(smc)} run{'s' if len(smc) != 1 else ''})"
            stage, lam = max(t.done for t in smc), min(t.lam for t in smc)
            if lam >= 1.0:  # every run tempered: its final stages (smc's final_stages)
                return f"stage {stage} at the posterior {runs}"
            return f"tempering stage {stage}  lambda {fmt(lam, 3)} {runs}"
        return "starting"


def _clock(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-:--:--"
    seconds = int(round(max(seconds, 0)))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class RunProgress:
    """A context manager over a run; ``update``, ``point`` and ``tick`` are the pipeline's
    callbacks (``sink``: ``tick``, or ``None`` when quiet, so that nothing reports).

    ``mode``: ``live`` (rich display on stderr), ``log`` (timestamped lines on stderr),
    ``quiet``. ``stream``: where lines go (default stderr)."""

    def __init__(self, checked, mode: str = "log", stream=None):
        self.mode = mode
        self.stream = stream
        self.sweep = checked.sweep_name or "point"
        self.sweep2 = None if checked.grid is None else checked.grid.name
        self.phases = list(checked.phase_names)
        self.head = run_header(checked)
        self.chains = checked.sample.get("chains") if traits(checked.engine).chains else None
        self.total = None
        self.done = 0
        self.divergences = 0
        self.start = None
        self.first_done = None
        self.last_done = None
        self.live = None
        self.running: dict[str, LivePoint] = {}
        self.finished: set[str] = set()
        self.first_tick = None  # when the first tick came (after the first compilation)
        self._lock = threading.RLock()  # the state, read by the live display's thread
        self._print_lock = threading.Lock()

    @property
    def sink(self):
        """The engines' tick sink (``phasedsl.engines.ticks.reporting``), ``None`` if quiet."""
        return None if self.mode == "quiet" else self.tick

    # -- output
    def _console(self):
        from rich.console import Console

        if self.stream is not None:
            return Console(file=self.stream, highlight=False, width=160)
        return Console(stderr=True, highlight=False)

    def _line(self, text: str) -> None:
        """One line: above the live display, or stamped in the log. Never under the state's
        lock: the live display's refresh takes that lock while holding its own."""
        if self.mode == "quiet":
            return
        live = self.live
        if self.mode == "live" and live is not None:
            live.console.print(text, highlight=False, markup=False)
            return
        stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S")
        stream = self.stream or sys.stderr
        with self._print_lock:  # whole lines, from the main thread and XLA's
            try:
                print(f"[{stamp}] {text}", file=stream, flush=True)
            except (OSError, ValueError):  # a closed log must not stop the run
                self.mode = "quiet"

    # -- measured rate
    def eta(self) -> float | None:
        """Seconds left. For NUTS, from the run's measured throughput since the first tick:
        points' worth of transitions done (finished points, and the share done of each running
        one) per second, whatever order the chains run in. Otherwise from the measured time
        per finished point (after the first point, which carries the compilation, where there
        are two or more)."""
        if self.total is None or self.start is None:
            return None
        now = time.perf_counter()
        with self._lock:
            shares = [p.fraction(self.chains) for p in self.running.values()]
            first_tick = self.first_tick
        if self.chains is not None and first_tick is not None and now > first_tick:
            done = self.done + sum(f or 0.0 for f in shares)
            if done > 0:
                return max(self.total - done, 0.0) * (now - first_tick) / done
        if not self.done:
            return None
        left = self.total - self.done
        if self.done >= 2 and self.last_done > self.first_done:
            per = (self.last_done - self.first_done) / (self.done - 1)
        else:
            per = (self.last_done - self.start) / self.done
        return per * left

    def _point_line(self, p: LivePoint, now: float) -> str:
        eta = p.eta(now, self.chains)
        second = "" if not math.isfinite(p.value2) else f", {self.sweep2} = {fmt(p.value2, 4)}"
        return (f"{self.sweep} = {fmt(p.value, 4)}{second}  {p.describe(self.chains)}"
                + ("" if eta is None else f"  eta {_clock(eta)}"))

    def _run_line(self) -> str:
        elapsed = 0.0 if self.start is None else time.perf_counter() - self.start
        with self._lock:
            div = self.divergences + sum(p.divergences() for p in self.running.values())
        total = "?" if self.total is None else self.total
        return (f"sampling  {self.done}/{total} points  {_clock(elapsed)} elapsed  "
                f"eta {_clock(self.eta())}  div {div}")

    def __rich__(self):
        """The live display: the run's line, then the most recently active running points."""
        from rich.console import Group
        from rich.text import Text

        now = time.perf_counter()
        with self._lock:
            points = sorted(self.running.values(), key=lambda p: -p.last)
            lines = [self._point_line(p, now) for p in points[:LIVE_LINES]]
            more = len(points) - LIVE_LINES
        if more > 0:
            lines.append(f"... and {more} more running")
        return Group(Text(self._run_line(), style="bold"),
                     *(Text("  " + line) for line in lines))

    # -- the pipeline's callbacks
    def tick(self, t) -> None:
        """A report from inside an engine's loop (``phasedsl.engines.ticks.Tick``)."""
        if self.mode == "quiet":
            return
        now = time.perf_counter()
        key = _key(t.point, t.point2)
        line = None
        with self._lock:
            if key in self.finished:  # a late or padded duplicate
                return
            self.first_tick = self.first_tick or now
            p = self.running.get(key)
            if p is None:
                p = self.running[key] = LivePoint(t.point, now, t.point2)
            p.add(t, now)
            if self.mode == "log" and now - p.logged >= LOG_EVERY:
                p.logged = now
                line = self._point_line(p, now)
        if line is not None:
            self._line(line)

    def update(self, count: int, total: int, value: float) -> None:
        if self.start is None:
            self.start = time.perf_counter()
            self.total = total
            if total == 0:
                self._line("every point is already finished (resumed run)")
        self.total = total
        if self.mode == "log":
            eta = self.eta()
            self._line(f"sampling {where(self.sweep, value, self.sweep2)} (point "
                       f"{self.done + 1} of {total})"
                       + ("" if eta is None else f", eta {_clock(eta)}"))

    def point(self, point: dict) -> None:
        now = time.perf_counter()
        with self._lock:
            self.done += 1
            self.first_done = self.first_done or now
            self.last_done = now
            self.divergences += int(point.get("diagnostics", {}).get("divergences") or 0)
            key = _key(point["value"], point.get("value2"))
            self.finished.add(key)
            self.running.pop(key, None)
        self._line(point_row(point, self.phases, self.sweep, self.sweep2))

    # -- context
    def __enter__(self):
        if self.mode == "quiet":
            return self
        console = self._console()
        if self.mode == "live":
            from rich.live import Live

            console.print(header(self.head))
            self.live = Live(self, console=console, transient=True, refresh_per_second=4,
                             redirect_stdout=False, redirect_stderr=False)
            self.live.start()
        else:
            for line in header(self.head).plain.splitlines():
                self._line(line)
        return self

    def __exit__(self, *exc):
        if self.live is not None:
            self.live.stop()
            self.live = None
        if self.mode == "log" and self.start is not None and exc[0] is None:
            self._line(f"sampling done: {self.done} points in "
                       f"{_clock(time.perf_counter() - self.start)}")
        return False
