"""The ``phasedsl`` command: argparse and exit codes over the Python API (``phasedsl.pipeline``).

Exit codes: 0 finished (warnings allowed), 1 a mistake in the spec, 2 a usage mistake.
JAX is imported only by the commands that sample, so ``--help`` and ``check`` are fast.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
from pathlib import Path

from .language.errors import PhaseDSLError, UsageError, printable
from .language.limits import MAX_CPU_DEVICES, MAX_SEED
from .version import __version__


def _overrides(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise UsageError(f"--set expects KEY=VALUE, got `{pair}`")
        out[key.strip()] = value.strip()
    return out


def cmd_check(args) -> int:
    from rich.console import Console

    from .output.describe import summary
    from .pipeline.spec import load

    spec = load(args.spec, _overrides(args.set))
    for w in spec.warnings:
        print(w, file=sys.stderr)
    Console(highlight=False).print(summary(spec.checked))
    return 0


def cmd_run(args) -> int:
    from .engines.devices import configure, usable_cores

    cpu_devices = usable_cores() if args.cpu_devices is None else args.cpu_devices
    if not 1 <= cpu_devices <= MAX_CPU_DEVICES:
        raise UsageError(f"--cpu-devices must be from 1 to {MAX_CPU_DEVICES}")
    if args.seed is not None and not 0 <= args.seed <= MAX_SEED:
        raise UsageError(f"--seed must be from 0 to {MAX_SEED}")
    configure(cpu_devices=cpu_devices)  # before JAX is imported
    from .output.progress import RunProgress, progress_mode
    from .output.report import console, render
    from .pipeline import load, run
    from .rundir import dumps, load_results

    overrides = _overrides(args.set)
    if args.engine:
        overrides["engine"] = args.engine
    if args.seed is not None and args.seed < 0:
        raise UsageError("--seed must be >= 0")
    formats, dpi = _figure_options(args)
    spec = load(args.spec, overrides, quick=args.quick)
    for w in spec.warnings:
        print(w, file=sys.stderr)
    if args.cluster is not None:  # one line before the run starts, not a header and then
        from .pipeline.cluster import check_option

        check_option(args.cluster, spec.checked)
    out = args.out or str(Path("runs") / spec.name)
    screen = console(stderr=args.json)
    watch = RunProgress(spec.checked, progress_mode(args.json))
    try:
        with watch:
            done = run(spec, out, fresh=args.fresh, seed=args.seed, batch=args.batch,
                       chain_method=args.chain_method, plots=not args.no_plots,
                       progress=watch.update, on_point=watch.point, formats=formats,
                       dpi=dpi, cluster=args.cluster, live=watch.sink)
    except KeyboardInterrupt:
        partial = load_results(Path(out)) or {"points": []}
        print(f"interrupted: {len(partial['points'])} finished points kept in {out}; "
              "run the same command again to resume", file=sys.stderr)
        return 130
    if done.reanalysed:
        print(f"{done.reanalysed} finished points of {out} were re-analysed on their saved "
              "draws (only phases or report settings changed; no resampling)", file=sys.stderr)
    if done.figure_error:
        print(f"warning: figures incomplete ({done.figure_error}); "
              f"retry with `phasedsl plot {out}`", file=sys.stderr)
    if args.json:
        print(dumps(done.results))
    else:
        screen.print(render(done.results))
        _print_discovery(screen, out, done.results)
        screen.print(f"results: {printable(str(Path(out) / 'results.json'))}", markup=False,
                     highlight=False)
    return 0


def cmd_discover(args) -> int:
    from .engines.devices import configure, usable_cores

    configure(cpu_devices=usable_cores())
    from .output.discover import render_discovery
    from .output.report import console
    from .pipeline import load
    from .pipeline.discovery import discover, spec_with_phases
    from .rundir import dumps

    overrides = _overrides(args.set)
    if args.engine:
        overrides["engine"] = args.engine
    if args.seed is not None and not 0 <= args.seed <= MAX_SEED:
        raise UsageError(f"--seed must be from 0 to {MAX_SEED}")
    spec = load(args.spec, overrides, quick=args.quick)
    for w in spec.warnings:
        print(w, file=sys.stderr)
    found = discover(spec, _values(args.at), seed=args.seed, track=args.track,
                     flow_step=args.flow_step, check_flow=not args.single_flow)
    doc = found.to_json()
    if args.write:
        phases = [b for p in found.points for b in p.written()]
        Path(args.write).write_text(spec_with_phases(found.source, _distinct(phases)),
                                    encoding="utf-8")
        print(f"wrote {args.write}", file=sys.stderr)
    if args.plot:
        from .output.discover_plot import discovery_figure
        from .pipeline.discovery import symmetry_of

        fig = discovery_figure(found, symmetry_of(spec.checked))
        fig.savefig(args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    if args.into:
        from .rundir import save_discovery

        path = save_discovery(Path(args.into), doc, spec.checked)
        print(f"wrote {path}: `phasedsl report {args.into}` shows the basins beside the "
              "declared phases", file=sys.stderr)
    if args.json:
        print(dumps(doc))
    else:
        console().print(render_discovery(doc))
    return 0


def _print_discovery(screen, folder, results: dict) -> None:
    """The basins a `phasedsl discover --into` saved in the run folder, under its report."""
    from .output.discover import discovery_block
    from .rundir import load_discovery

    block = discovery_block(*load_discovery(Path(folder), results), results)
    if block.plain:
        screen.print(block)


def _values(texts) -> list[float] | None:
    """``--at`` values as numbers (None: every sweep value)."""
    import math

    if not texts:
        return None
    out = []
    for t in texts:
        try:
            v = float(t)
        except ValueError:
            raise UsageError(f"--at expects a number, got `{t}`") from None
        if not math.isfinite(v):
            raise UsageError(f"--at expects a finite number, got `{t}`")
        out.append(v)
    return out


def _distinct(basins):
    """One phase per name: at several values, each value's basins (and kinds) are named
    ``basinK`` (``kindK``) in their own order, so later values' get fresh names."""
    import dataclasses

    out, seen = [], set()
    for b in basins:
        name, k = b.name, 1
        while name in seen:
            k += 1
            name = f"{b.name}_{k}"
        seen.add(name)
        out.append(dataclasses.replace(b, name=name))
    return out


def cmd_report(args) -> int:
    from .output.report import console, markdown, render
    from .pipeline import open_run
    from .rundir import dumps

    results = open_run(args.dir).results
    if args.set or args.spec:
        from .pipeline.reanalyse import reanalyse, respec
        from .pipeline.runs import write_figures

        spec = respec(results, _overrides(args.set), args.spec)
        for w in spec.warnings:
            print(w, file=sys.stderr)
        done = open_run(args.dir)
        results = done.results = reanalyse(args.dir, spec)
        print(f"re-analysed {len(results['points'])} points on their saved draws "
              f"(no resampling); {Path(args.dir) / 'results.json'} rewritten", file=sys.stderr)
        if not args.no_plots:
            try:
                write_figures(done.folder, results, spec.checked)
            except Exception as exc:  # noqa: BLE001 - a figure must never cost the results
                print(f"warning: figures incomplete ({type(exc).__name__}: {exc})", file=sys.stderr)
    if args.json:
        print(dumps(results))
    elif args.markdown:
        print(markdown(results), end="")
    else:
        console().print(render(results))
        _print_discovery(console(), args.dir, results)
    if args.provenance and not args.json:
        from .output.report import provenance

        console().print(provenance(results))
    return 0


def _figure_options(args) -> tuple[tuple[str, ...], float | None]:
    from .output.plots import check_formats

    try:
        formats = check_formats(args.format)
    except ValueError as exc:
        raise UsageError(f"--format: {exc}") from None
    if args.dpi is not None and not 10 <= args.dpi <= 2400:
        raise UsageError("--dpi must be between 10 and 2400")
    return formats, args.dpi


def _add_figure_options(p) -> None:
    p.add_argument("--format", default="png", metavar="FORMATS",
                   help="figure file formats, comma-separated: png, pdf, svg (default png)")
    p.add_argument("--dpi", type=float, default=None,
                   help="resolution of PNG figures (default 130)")


def cmd_plot(args) -> int:
    from .pipeline import open_run, spec_of_results, write_figures

    formats, dpi = _figure_options(args)
    done = open_run(args.dir)
    spec, why = spec_of_results(done.results)
    if why:
        print(f"plots: {why}", file=sys.stderr)
    paths = write_figures(done.folder, done.results, None if spec is None else spec.checked,
                          formats, dpi)
    for path in paths:
        print(path)
    if not paths:
        print(f"no figures: {done.folder}/results.json has no finished points", file=sys.stderr)
    return 0


def cmd_export(args) -> int:
    from .pipeline import open_run
    from .pipeline.export import export_arviz

    done = open_run(args.dir)
    print(export_arviz(done.folder, done.results, args.out))
    return 0


def _add_check(sub) -> None:
    """The ``check`` command's arguments."""
    p = sub.add_parser("check", help="check a spec and summarise it")
    p.add_argument("spec", help="a .phase file")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a sample/report setting or a let (repeatable)")
    p.set_defaults(func=cmd_check)


def _add_run(sub) -> None:
    """The ``run`` command's arguments."""
    p = sub.add_parser("run", help="sample every sweep point, measure the phases, report")
    p.add_argument("spec", help="a .phase file")
    p.add_argument("--out", help="run folder (default runs/<spec name>/)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a sample/report setting or a let, e.g. --set draws=500")
    p.add_argument("--engine", choices=["nuts", "smc", "smc_path", "quadrature"],
                   help="sampler to use instead of the spec's")
    p.add_argument("--seed", type=int, help="sampler seed")
    p.add_argument("--quick", action="store_true",
                   help="a small setting for a smoke check (few draws, at most 8 sweep values)")
    p.add_argument("--json", action="store_true", help="print the results document to stdout")
    p.add_argument("--fresh", action="store_true",
                   help="discard finished points in the run folder and start again")
    p.add_argument("--no-plots", action="store_true", help="do not write figures")
    _add_figure_options(p)
    p.add_argument("--batch", type=int, default=None, metavar="K",
                   help="sample K sweep points in one compiled call (nuts, smc), split "
                        "across all GPUs or, on a CPU, across --cpu-devices (default: on a "
                        "CPU one point per core, on a GPU 32 points per GPU); results are "
                        "saved after each call")
    p.add_argument("--cpu-devices", type=int, default=None, metavar="N",
                   help="on a CPU, let XLA show N devices so that sweep points and their "
                        "chains run on N cores at once (default: the number of usable cores)")
    p.add_argument("--chain-method", choices=["sequential", "vectorized", "flat"],
                   help="how nuts runs its chains side by side: one after another "
                        "(sequential), in lockstep (vectorized) or each at its own pace in one "
                        "loop (flat); the draws change, not their distribution (default: "
                        "sequential on a CPU, flat on a GPU; the batched two pay on a GPU "
                        "only, on a CPU they cost several times sequential)")
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="sample the sweep points as tasks on a Dask cluster: a scheduler "
                        "address (tcp://host:8786) or local:K for K local worker processes; "
                        "--batch K then sends K points per task (default 1); needs "
                        "pip install 'phasedsl[cluster]' (docs/cluster.md)")
    p.set_defaults(func=cmd_run)


def _add_discover(sub) -> None:
    """The ``discover`` command's arguments."""
    p = sub.add_parser("discover", help="find the posterior's phases: flow draws to critical "
                                        "points, merge them up to symmetry, report basins")
    p.add_argument("spec", help="a .phase file")
    p.add_argument("--at", action="append", metavar="VALUE",
                   help="a sweep value to look at (repeatable; default every sweep value)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a sample/report setting or a let")
    p.add_argument("--engine", choices=["nuts", "smc", "quadrature"],
                   help="sampler to use instead of the spec's")
    p.add_argument("--seed", type=int, help="sampler seed")
    p.add_argument("--quick", action="store_true", help="the engine's quick setting")
    p.add_argument("--json", action="store_true", help="print the basins as JSON")
    p.add_argument("--write", metavar="FILE",
                   help="write the spec with the discovered phases added to FILE")
    p.add_argument("--plot", metavar="FILE",
                   help="draw the draws coloured by basin, one panel per value (.png/.pdf/.svg)")
    p.add_argument("--track", action="store_true",
                   help="carry each basin found at the first --at value along the whole "
                        "sweep and report where its minimum stops existing (order 2)")
    p.add_argument("--flow-step", choices=["curvature", "spread"], default="curvature",
                   help="the step the basins' masses are measured with: each flow's from "
                        "the curvature at its start (default) or from the draws' spread "
                        "alone, one for every flow; the other step's flows check it")
    p.add_argument("--single-flow", action="store_true",
                   help="flow each start once, by --flow-step, without the other step's "
                        "check (half the flows' time; no pure and reach masses)")
    p.add_argument("--into", metavar="FOLDER",
                   help="also save the basins in the run folder FOLDER (discovery.json): "
                        "`phasedsl report FOLDER` then shows them beside the declared phases")
    p.set_defaults(func=cmd_discover)


def _add_report(sub) -> None:
    """The ``report`` command's arguments."""
    p = sub.add_parser("report", help="render the report of a run folder again")
    p.add_argument("dir", help="a run folder")
    p.add_argument("--json", action="store_true", help="print the results document")
    p.add_argument("--markdown", action="store_true", help="print the table and events as Markdown")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="re-analyse the saved draws with a changed phase let or report "
                        "setting (e.g. --set eps=0.5 --set report.floor=0.001); refused where "
                        "it would change the posterior")
    p.add_argument("--spec", metavar="FILE",
                   help="re-analyse the saved draws with the phases of another spec whose "
                        "posterior is the same")
    p.add_argument("--no-plots", action="store_true",
                   help="after a re-analysis, do not redraw the figures")
    p.add_argument("--provenance", action="store_true",
                   help="also show what the run was made from: spec, effective settings, n, "
                        "beta, seeds, package versions, machine, timings")
    p.set_defaults(func=cmd_report)


def _add_plot(sub) -> None:
    """The ``plot`` command's arguments."""
    p = sub.add_parser("plot", help="draw the figures of a run folder")
    p.add_argument("dir", help="a run folder")
    _add_figure_options(p)
    p.set_defaults(func=cmd_plot)


def _add_export(sub) -> None:
    """The ``export`` command's arguments."""
    p = sub.add_parser("export", help="write a run's draws as an ArviZ netCDF file "
                                      "(needs phasedsl[arviz])")
    p.add_argument("dir", help="a run folder")
    p.add_argument("--out", help="the file to write (default DIR/arviz.nc)")
    p.set_defaults(func=cmd_export)


def build_parser() -> argparse.ArgumentParser:
    """The command line: a subcommand a job (check, run, discover, report, plot, export)."""
    parser = argparse.ArgumentParser(
        prog="phasedsl",
        description="Phase transitions in Bayesian posteriors, declared in .phase files.")
    parser.add_argument("--version", action="version", version=f"phasedsl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_check, _add_run, _add_discover, _add_report, _add_plot, _add_export):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage mistake (2)
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except PhaseDSLError as exc:
        print(exc.render(), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _closed_pipe()
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            return _closed_pipe()
        if exc.errno in (errno.ENOSPC, errno.EACCES, errno.EROFS, errno.EDQUOT):
            where = f" ({exc.filename})" if exc.filename else ""
            _say(f"error: {exc.strerror}{where}; nothing was lost that was already saved "
                 "(results.json is written atomically after every point)")
            return 2
        where = f" {exc.filename}" if exc.filename else ""  # any other file-system failure
        _say(printable(f"phasedsl: error: cannot access{where}: "
                       f"{exc.strerror or type(exc).__name__}"))
        return 2


def _say(line: str) -> None:
    """A line on stderr that never raises (stderr itself may be a closed pipe)."""
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr)


def _closed_pipe() -> int:
    """The reader of stdout went away (``phasedsl report DIR --json | head``): stop quietly,
    as ``cat`` does. Pointing stdout at /dev/null keeps Python's flush at exit from printing
    "Exception ignored ... BrokenPipeError"; 141 is a shell's status for SIGPIPE."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
