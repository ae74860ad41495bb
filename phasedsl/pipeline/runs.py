"""A run as a Python object: start one (``run``), open a finished or partial one
(``open_run``), and read its results, report, draws and figures.

The command line is a thin layer over these functions; a notebook calls them directly::

    import phasedsl
    spec = phasedsl.load("specs/example_4_2_merge.phase", {"n": "20"})
    run = phasedsl.run(spec, "runs/merge-n20")
    run.masses()["mass"]         # f[V, P]
    run.events                   # [Event, ...]
    run.figures()                # {"masses": Figure, ...}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..analysis.records import Event, PointSummary
from ..language.errors import UsageError
from ..language.limits import MAX_SEED
from ..rundir import SCHEMA, load_draws, load_results, point_index
from .spec import Spec, spec_of_results

__all__ = ["Run", "run", "open_run", "spec_of_results", "write_figures"]


def write_figures(folder, results: dict, checked=None, formats=("png",),
                  dpi: float | None = None) -> list[Path]:
    """Write the run's figures into ``folder``; their paths. ``checked``: the run's checked
    spec (default: ``spec_of_results``; without it only the sweep figures are drawn);
    ``formats``: ``png``, ``pdf``, ``svg`` (one file each); ``dpi``: of the PNGs."""
    from ..output.plots import write_plots
    from ..rundir import locked
    from .figures import figure_data

    if checked is None:
        spec, _ = spec_of_results(results)
        checked = None if spec is None else spec.checked
    with locked(folder, "plot"):  # one writer at a time (docs/run_folder.md)
        return write_plots(folder, results, figure_data(checked, Path(folder), results),
                           formats, dpi)


@dataclass
class Run:
    """A run folder and its results document (``results.json``)."""

    folder: Path
    results: dict
    figure_error: str | None = None  # why the figures of ``run(..., plots=True)`` failed
    reanalysed: int = 0  # points of an earlier run re-analysed on their draws, not resampled

    @property
    def points(self) -> list[PointSummary]:
        """The finished sweep points, in sweep order."""
        return [PointSummary.from_json(p) for p in self.results["points"]]

    @property
    def events(self) -> list[Event]:
        return [Event.from_json(e) for e in self.results.get("events") or []]

    @property
    def spec(self) -> Spec | None:
        """The run's spec, checked again with its ``--set`` values (None if unavailable)."""
        return spec_of_results(self.results)[0]

    @property
    def boundaries(self) -> list:
        """A two-dimensional sweep's boundary curves (``analysis.boundaries.Boundary``);
        empty for a one-dimensional sweep."""
        from .grid import boundaries_of

        return boundaries_of(self.results)

    def masses(self) -> dict:
        """The table of phase masses: ``values f[V]``, ``phases`` (P names), ``mass f[V, P]``,
        ``se f[V, P]`` (NaN where unknown), ``other f[V]``, ``preferred`` (V names or None).
        A two-dimensional sweep's V cells (row by row) have ``values`` (the first variable)
        and ``values2`` (the second)."""
        points = self.points
        if self.results.get("sweep2"):
            table = self._masses(points)
            cells = np.array([p.value for p in points], float).reshape(len(points), 2)
            return {**table, "values": cells[:, 0], "values2": cells[:, 1]}
        return self._masses(points)

    def _masses(self, points) -> dict:
        names = list(self.results["phases"])
        mass = np.array([[p.phases[n].mass for n in names] for p in points], float)
        se = np.array([[np.nan if p.phases[n].se is None else p.phases[n].se for n in names]
                       for p in points], float)
        values = [p.value if not isinstance(p.value, tuple) else p.value[0] for p in points]
        return {"values": np.array(values, float), "phases": names,
                "mass": mass.reshape(len(points), len(names)),
                "se": se.reshape(len(points), len(names)),
                "other": np.array([p.other.mass for p in points], float),
                "preferred": [p.preferred for p in points]}

    def draws(self, value) -> dict[str, np.ndarray] | None:
        """The saved draws of the sweep point at ``value`` (a grid's cell: ``(value,
        value2)``) (``params f[G,S,D]``,
        ``indicators bool[G,S,P]``, ``logdensity f[G,S]``, ``weights f[G,S]``). The
        indicators are those of the phases the run sampled with: after a re-analysis
        (``results["reanalyses"]``) the current phases are evaluated by ``phasedsl export``
        and ``pipeline.reanalyse``, not stored."""
        return load_draws(self.folder, point_index(self.results, value), results=self.results)

    def report(self):
        """The terminal report as a rich renderable."""
        from ..output.report import render

        return render(self.results)

    def text(self, width: int = 120) -> str:
        """The report as plain text."""
        from rich.console import Console

        console = Console(width=width, record=True, color_system=None, file=_Null())
        console.print(self.report())
        return console.export_text()

    def markdown(self) -> str:
        from ..output.report import markdown

        return markdown(self.results)

    def figures(self) -> dict:
        """The figures as matplotlib ``Figure`` objects by name (close them when done)."""
        from ..output.plots import draw_figures
        from .figures import figure_data

        spec = self.spec
        return draw_figures(self.results, figure_data(None if spec is None else spec.checked,
                                                      self.folder, self.results))

    def write_figures(self) -> list[Path]:
        """Write the figures into the run folder as PNGs; their paths."""
        spec = self.spec
        return write_figures(self.folder, self.results, None if spec is None else spec.checked)


class _Null:
    def write(self, _):
        return 0

    def flush(self):
        pass


def open_run(folder) -> Run:
    """The run in ``folder`` (finished or not). Raises ``UsageError`` where there is none."""
    folder = Path(folder)
    results = load_results(folder)
    if results is None:
        raise UsageError(f"{folder} holds no results.json (run `phasedsl run SPEC --out {folder}` first)")
    if results.get("schema") != SCHEMA:
        raise UsageError(f"{folder}/results.json has schema {results.get('schema')!r}, expected {SCHEMA}")
    return Run(folder, results)


def run(spec: Spec, out=None, *, fresh: bool = False, seed: int | None = None,
        batch: int | None = None, chain_method: str | None = None, progress=None,
        plots: bool = True, on_point=None, formats=("png",), dpi: float | None = None,
        cluster=None, live=None) -> Run:
    """Sample every sweep point of ``spec`` into the folder ``out`` (default
    ``runs/<spec name>``), resuming what an earlier run of the same spec and settings left
    there; the finished ``Run``. ``batch``: sweep points per compiled call (default: by
    machine; with ``cluster``: points per task, default 1); ``progress(count, total,
    value)``: called before each call; ``live(tick)``: receives the engines' reports from
    inside each call (``phasedsl.engines.ticks.Tick``, on XLA's threads: quick and
    thread-safe; ``None``: the programs hold no reports); ``plots``: write the figures (a
    failure to draw them raises nothing: ``Run.figure_error`` says why). ``cluster``: sample
    on a Dask cluster, ``"local:K"`` or a scheduler address (``"tcp://host:8786"``), or a
    ``pipeline.cluster.ClusterSampler`` (``docs/cluster.md``; one given is not closed, so
    several runs can use its workers)."""
    import contextlib

    from ..engines.devices import configure, usable_cores
    from ..engines.ticks import reporting
    from .sweep import Execution, default_batch, run_spec

    configure(cpu_devices=usable_cores())  # no effect once JAX is imported
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise UsageError(f"--seed must be from 0 to {MAX_SEED}")
    folder = Path(out) if out is not None else Path("runs") / spec.name
    provenance = {"spec_text": spec.checked.spec.source, "set": dict(spec.overrides),
                  "quick": spec.quick}
    sampler, stack = None, contextlib.ExitStack()  # None: here
    if cluster is not None:
        from .cluster import ClusterSampler

        if batch is not None and batch < 0:
            raise UsageError("--batch must be >= 0")
        if not isinstance(cluster, ClusterSampler):  # shut down when the run ends
            cluster = stack.enter_context(ClusterSampler(cluster, per_task=max(batch or 1, 1)))
        sampler = cluster.bind(spec, chain_method)
        provenance["cluster"] = cluster.describe()
        batch = len(spec.checked.sweep_values)  # one chunk: the sampler deals out the tasks
    reanalysed = 0
    if not fresh:
        from .reanalyse import reanalysable, reanalyse

        if reanalysable(folder, spec, spec.checked.sample.get("seed", 0) if seed is None else seed):
            # only phases or report settings changed: evaluate them on the saved draws
            reanalysed = len(reanalyse(folder, spec)["points"])
    with stack, reporting(live):
        how = Execution(batch=default_batch(batch), chain_method=chain_method,
                        sampler=sampler, progress=progress, on_point=on_point)
        results = run_spec(spec.checked, folder, fresh=fresh, seed=seed, provenance=provenance,
                           execution=how)
    done = Run(folder, results, reanalysed=reanalysed)
    if plots:
        try:
            write_figures(folder, results, spec.checked, formats, dpi)
        except Exception as exc:  # noqa: BLE001 - a figure must never cost the results
            reason = (str(exc).splitlines() or [""])[0]
            done.figure_error = f"{type(exc).__name__}: {reason}"
    return done
