"""The driver: spec -> compiled -> engine per sweep point -> analysis -> run folder.

A run folder holds ``results.json`` (written atomically after every sweep point) and
``draws/point_NNN.npz``. Running the same spec and settings into the same folder resumes:
finished points are kept and only the rest are sampled. Different settings are refused
(nothing is overwritten) unless ``--fresh``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__
from .analysis.masses import find_events, summarise_point
from .language.errors import UsageError
from .output.report import SCHEMA, dumps

QUICK = {"nuts": {"draws": 200, "warmup": 300}, "smc": {"particles": 400, "runs": 2},
         "quadrature": {}}
QUICK_POINTS = 8  # --quick samples at most this many sweep values, ends included


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
    engine and its settings). Two runs with the same key may share finished points."""
    payload = json.dumps({"source": checked.spec.source, "engine": checked.engine,
                          "sweep": list(checked.sweep_values),
                          "sample": checked.sample, "lets": sorted(map(str, checked.lets.items())),
                          "phases": list(checked.phase_names)}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def new_results(checked) -> dict:
    """The results document before any point is finished."""
    import blackjax
    import jax

    return {
        "schema": SCHEMA, "experiment": checked.experiment, "kind": checked.kind,
        "spec_file": checked.spec.filename,
        "spec_sha256": hashlib.sha256(checked.spec.source.encode()).hexdigest(),
        "run_key": run_key(checked),
        "versions": {"phasedsl": __version__, "jax": jax.__version__,
                     "blackjax": blackjax.__version__},
        "device": str(jax.devices()[0].platform),
        "sampler": {"engine": checked.engine, **checked.sample},
        "sweep": {"name": checked.sweep_name, "values": list(checked.sweep_values)},
        "phases": list(checked.phase_names),
        "report": dict(checked.report),
        "status": "running", "points": [], "events": [],
        "warnings": [w.message for w in checked.warnings],
    }


def load_results(folder: Path) -> dict | None:
    path = folder / "results.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path} is not a readable results file ({exc}); "
                         "use --fresh to start again") from None


def save_draws(folder: Path, index: int, draws) -> None:
    """The draws of one sweep point, compressed (``params f[G,S,D]``, ``indicators``, ...)."""
    out = folder / "draws"
    out.mkdir(exist_ok=True)
    arrays = {"params": draws.params, "indicators": draws.indicators,
              "logdensity": draws.logdensity}
    if draws.weights is not None:
        arrays["weights"] = draws.weights
    import io

    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write(out / f"point_{index:03d}.npz", buf.getvalue())


def point_key(seed: int, index: int):
    """The PRNG key of sweep point ``index``: ``fold_in(PRNGKey(seed), index)``."""
    import jax

    return jax.random.fold_in(jax.random.PRNGKey(seed), index)


def sample_point(engine, compiled, index: int, value: float, seed: int) -> tuple[dict, object]:
    """Run the engine at one sweep value; the point's summary (contract shape) and draws."""
    t0 = time.perf_counter()
    draws = engine.run(point_key(seed, index), compiled.context(value))
    return summarise(compiled, value, draws, time.perf_counter() - t0), draws


def summarise(compiled, value: float, draws, wall_s: float) -> dict:
    """One sweep point of the results document (contract shape) from its draws."""
    summary = summarise_point(draws, compiled.phase_names)
    summary["diagnostics"].setdefault("wall_s", wall_s)
    if compiled.checked.kind == "network":
        summary["modes"] = network_modes(compiled, draws, summary)
    return {"value": float(value), **summary}


def _chunks(todo: list, size: int) -> list[list]:
    """``todo`` in chunks of ``size`` sweep points (``size`` 0: one point at a time)."""
    size = max(size, 1)
    return [todo[k: k + size] for k in range(0, len(todo), size)]


def sample_points(engine, compiled, chunk: list[tuple[int, float]], seed: int):
    """``(point, draws)`` for each ``(index, value)`` of a chunk: one call of the engine's
    ``run_many`` (all points and chains batched, split across devices) or one ``run`` per
    point. A lone point goes through ``run_many`` too where the engine splits a point's work
    across devices (``splits_points``: NUTS's chains) and there are several (the last point of
    an odd sweep on two cores: twice as fast)."""
    import jax

    splits = engine.splits_points and jax.device_count() > 1
    lone = len(chunk) == 1 and not splits
    if lone:
        return [sample_point(engine, compiled, i, v, seed) for i, v in chunk]
    t0 = time.perf_counter()
    keys = [point_key(seed, i) for i, _ in chunk]
    many = engine.run_many(keys, [compiled.context(v) for _, v in chunk])
    wall = (time.perf_counter() - t0) / len(chunk)
    return [(summarise(compiled, v, draws, wall), draws) for (_, v), draws in zip(chunk, many)]


def network_modes(compiled, draws, summary) -> dict:
    """Sign patterns of ``q`` overall and per group; notes when groups sit in different ones."""
    from .analysis.modes import mode_notes, sign_patterns

    slot = next(s for s in compiled.checked.slots if s.name == "q")
    q = draws.params[..., slot.start: slot.start + slot.size]
    modes = sign_patterns(q, draws.weights)
    label = "chain" if draws.method == "mcmc" else "repeat"
    notes = mode_notes(modes, label)
    if notes and not summary["diagnostics"]["mixing_ok"]:
        summary["diagnostics"]["mixing_notes"].extend(notes)
    return {"q_signs": modes["shares"], "q_signs_per_group": modes["groups"]}


def refine_crossovers(events: list[dict], engine, compiled, phase_names, seed: int,
                      iterations: int = 30) -> None:
    """For exact engines: locate each crossover by bisection on the sweep variable, where the
    log mass ratio of the two phases changes sign (quadrature is cheap and deterministic)."""
    for e in events:
        if e.get("kind") != "crossover":
            continue
        a_name, b_name = e["from"], e["to"]

        def ratio(v):
            point, _ = sample_point(engine, compiled, 0, v, seed)
            ma, mb = point["phases"][a_name]["mass"], point["phases"][b_name]["mass"]
            return np.log(max(mb, 1e-300)) - np.log(max(ma, 1e-300))

        lo, hi = e["between"]
        f_lo = ratio(lo)
        for _ in range(iterations):
            mid = 0.5 * (lo + hi)
            f_mid = ratio(mid)
            if (f_mid > 0) == (f_lo > 0):
                lo, f_lo = mid, f_mid
            else:
                hi = mid
        e["at"] = 0.5 * (lo + hi)
        e["interval"] = [lo, hi]
        e["refined"] = "bisection"


def mark_untrusted(events: list[dict], points: list[dict]) -> None:
    """Flag events with an end point where the chains disagree: ``"trusted": false``."""
    bad = {p["value"] for p in points if not p.get("diagnostics", {}).get("mixing_ok", True)}
    for e in events:
        e["trusted"] = not any(v in bad for v in e.get("between", []))


def run_spec(checked, folder: Path, *, fresh: bool = False, seed: int | None = None,
             progress=None, on_point=None, batch: int = 0, chain_method: str | None = None) -> dict:
    """Sample every unfinished sweep point of ``checked`` into ``folder``; the results.

    ``chain_method``: how the ``nuts`` engine batches its chains (``phasedsl.nuts``; default:
    its choice for the machine). It changes the draws, not their distribution, so it is not
    part of the run key: a run resumed with another method goes on with the same posterior."""
    from .lower.compile import compile_spec
    from .engines.registry import make_engine

    folder.mkdir(parents=True, exist_ok=True)
    seed = checked.sample.get("seed", 0) if seed is None else seed
    results = new_results(checked)
    if "seed" in checked.sample:
        results["sampler"]["seed"] = seed
    results["run_key"] = run_key(checked) + f":{seed}"
    old = None if fresh else load_results(folder)
    done: dict[float, dict] = {}
    if old is not None:
        if old.get("run_key") != results["run_key"]:
            raise UsageError(
                f"{folder} holds a run of a different spec or settings; nothing was changed. "
                "Use --fresh to discard it, or --out for another folder.")
        done = {p["value"]: p for p in old.get("points", [])}
    compiled = compile_spec(checked)
    settings = dict(checked.sample)
    if chain_method is not None:
        if checked.engine != "nuts":
            raise UsageError(f"--chain-method applies to the nuts engine, not {checked.engine}")
        settings["chain_method"] = chain_method
    engine = make_engine(checked.engine, compiled.target, settings)
    values = list(checked.sweep_values)
    results["points"] = [done[v] for v in values if v in done]
    atomic_write(folder / "results.json", dumps(results).encode())
    todo = [(i, v) for i, v in enumerate(values) if v not in done]
    try:
        for count, chunk in enumerate(_chunks(todo, batch)):
            if progress is not None:
                progress(count * max(batch, 1), len(todo), chunk[0][1])
            for (i, v), (point, draws) in zip(chunk, sample_points(engine, compiled, chunk, seed)):
                save_draws(folder, i, draws)
                results["points"].append(point)
                results["points"].sort(key=lambda p: p["value"])
                atomic_write(folder / "results.json", dumps(results).encode())
                if on_point is not None:
                    on_point(point)
    except KeyboardInterrupt:
        results["status"] = "interrupted"
        atomic_write(folder / "results.json", dumps(results).encode())
        raise
    results["events"] = find_events(values, results["points"], checked.report["floor"],
                                    checked.report["merge"])
    if checked.engine == "quadrature":
        refine_crossovers(results["events"], engine, compiled, checked.phase_names, seed)
    mark_untrusted(results["events"], results["points"])
    results["status"] = "complete"
    atomic_write(folder / "results.json", dumps(results).encode())
    return results


# ---------------------------------------------------------------- commands


def _quick(checked_overrides: dict, engine: str) -> dict:
    out = {k: str(v) for k, v in QUICK.get(engine, {}).items()}
    out.update(checked_overrides)
    return out


def quick_sweep(values, limit: int = QUICK_POINTS) -> tuple[float, ...]:
    """At most ``limit`` sweep values, evenly spread over the list, both ends kept."""
    if len(values) <= limit:
        return tuple(values)
    idx = np.unique(np.round(np.linspace(0, len(values) - 1, limit)).astype(int))
    return tuple(values[i] for i in idx)


ACCELERATOR_BATCH = 32  # sweep points per call and accelerator, when --batch is not given


def default_batch(batch: int | None) -> int:
    """``--batch``: as given; if not given (``None``): on a CPU one sweep point per device when
    JAX sees several (``--cpu-devices``, by default one per core), else one at a time; on an
    accelerator ``ACCELERATOR_BATCH`` points per device (PT1's 22 in one call: a batch of 88
    chains takes about as long on a GPU as one of 4, so one point at a time would be ~20x
    slower; results are saved after each call). Each point has the same key and posterior
    either way (``phasedsl.batch``)."""
    if batch is not None:
        if batch < 0:
            raise UsageError("--batch must be >= 0")
        return batch
    import jax

    if jax.default_backend() != "cpu":
        return ACCELERATOR_BATCH * jax.device_count()
    return jax.device_count() if jax.device_count() > 1 else 0


def _progress_enabled() -> bool:
    return sys.stderr.isatty() and not os.environ.get("CI")


def run_command(args, overrides: dict) -> int:
    """``phasedsl run``."""
    from rich.console import Console

    from .cli import load
    from .output.report import console as report_console
    from .output.report import render

    if args.engine:
        overrides = {**overrides, "engine": args.engine}
    if args.seed is not None and args.seed < 0:
        raise UsageError("--seed must be >= 0")
    checked, warnings = load(args.spec, overrides)
    if args.quick:
        checked, warnings = load(args.spec, _quick(overrides, checked.engine))
        checked = dataclasses.replace(checked, sweep_values=quick_sweep(checked.sweep_values))
    for w in warnings:
        print(w, file=sys.stderr)
    name = Path(args.spec).stem + ("-quick" if args.quick else "")
    folder = Path(args.out) if args.out else Path("runs") / name
    console = report_console(stderr=args.json)
    progress_cb, bar = None, None
    if _progress_enabled():
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                       TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                       console=Console(stderr=True), transient=True)
        task = bar.add_task("sampling", total=None)

        def progress_cb(count, total, value):
            bar.update(task, total=total, completed=count,
                       description=f"{checked.sweep_name or 'point'} = {value:.4g}")

        bar.start()
    try:
        results = run_spec(checked, folder, fresh=args.fresh, seed=args.seed, progress=progress_cb,
                           batch=default_batch(args.batch),
                           chain_method=getattr(args, "chain_method", None))
    except KeyboardInterrupt:
        if bar is not None:
            bar.stop()
        partial = load_results(folder) or {"points": []}
        print(f"interrupted: {len(partial['points'])} finished points kept in {folder}; "
              "run the same command again to resume", file=sys.stderr)
        return 130
    finally:
        if bar is not None:
            bar.stop()
    # show what was saved, so that `phasedsl report` on the folder prints the same (JSON has
    # no infinity: an infinite R-hat is saved as null, and the notes say "inf")
    results = json.loads(dumps(results))
    if not args.no_plots:
        _plots(folder, results, console, checked)
    if args.json:
        print(dumps(results))
    else:
        console.print(render(results))
        console.print(f"results: {folder / 'results.json'}")
    return 0


def _plots(folder: Path, results: dict, console, checked=None) -> None:
    """Write the run's figures; a failure is a one-line warning (the results are saved)."""
    try:
        from .output.plots import write_plots

        write_plots(folder, results, checked)
    except Exception as exc:  # noqa: BLE001 - a figure must never cost the results
        reason = (str(exc).splitlines() or [""])[0]
        print(f"warning: figures incomplete ({type(exc).__name__}: {reason}); "
              f"retry with `phasedsl plot {folder}`", file=sys.stderr)


def _open_folder(path: str) -> tuple[Path, dict]:
    folder = Path(path)
    results = load_results(folder)
    if results is None:
        raise UsageError(f"{folder} holds no results.json (run `phasedsl run SPEC --out {folder}` first)")
    if results.get("schema") != SCHEMA:
        raise UsageError(f"{folder}/results.json has schema {results.get('schema')!r}, expected {SCHEMA}")
    return folder, results


def report_command(args) -> int:
    """``phasedsl report DIR``."""
    from .output.report import console as report_console
    from .output.report import markdown, render

    _, results = _open_folder(args.dir)
    if args.json:
        print(dumps(results))
    elif args.markdown:
        print(markdown(results), end="")
    else:
        report_console().print(render(results))
    return 0


def plot_command(args) -> int:
    """``phasedsl plot DIR``."""
    from .output.plots import write_plots

    folder, results = _open_folder(args.dir)
    paths = write_plots(folder, results)
    for path in paths:
        print(path)
    if not paths:
        print(f"no figures: {folder}/results.json has no finished points", file=sys.stderr)
    return 0
