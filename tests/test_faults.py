"""Faults: a ``phasedsl run`` killed (SIGKILL) at random moments, results files damaged in
every way, two runs into one folder at once.

Asserted: no finished point is lost or changed (quadrature is deterministic, so every
point must equal the reference run's), no file is left that does not read (``results.json``
always validates, every saved draws file loads), and every failure is a message with exit
code 2, never a traceback; a refused results file is never rewritten.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from phasedsl.rundir import load_draws, load_results

ROOT = Path(__file__).resolve().parent.parent
SPEC = """experiment "faults"
sweep theta over linspace(-1, 1, {count})
param w in [-2, 2]
let n = 10
energy K = (w - theta)^2 * (w + theta)^2
phase pos = w > 0.5
phase neg = w < -0.5
sample quadrature {{ points = 41 }}
"""


def _cli(*args, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PHASEDSL_PROGRESS": "0"}
    return subprocess.Popen([sys.executable, "-m", "phasedsl.cli", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
                            **kw)


def _masses(results: dict) -> dict:
    return {p["value"]: ({k: m["mass"] for k, m in p["phases"].items()}, p["other"]["mass"])
            for p in results["points"]}


def _intact(folder: Path, reference: dict, seen: dict | None = None) -> int:
    """Every file of ``folder`` reads, every finished point matches the reference's (to
    1e-9: another process may round the last bit differently) and, in ``seen``, is exactly
    what it was when first found (a finished point is never changed); the number of
    finished points."""
    results = load_results(folder)  # validates, raises on a damaged document
    if results is None:
        return 0
    got, want = _masses(results), _masses(reference)
    for value, masses in got.items():
        assert masses[0] == pytest.approx(want[value][0], rel=1e-9, abs=1e-12), value
        assert masses[1] == pytest.approx(want[value][1], rel=1e-9, abs=1e-12), value
        if seen is not None:
            assert seen.setdefault(value, masses) == masses, f"point {value} changed"
    values = [float(v) for v in results["sweep"]["values"]]
    for value in got:
        draws = load_draws(folder, values.index(value))
        assert draws is not None and np.all(np.isfinite(draws["weights"]))
    return len(got)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    spec = tmp / "faults.phase"
    spec.write_text(SPEC.format(count=40))
    p = _cli("run", str(spec), "--out", str(tmp / "ref"), "--no-plots", "--batch", "0")
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    return spec, json.loads((tmp / "ref" / "results.json").read_text())


def _kill_rounds(tmp_path, spec, reference, rounds, seed):
    rng = random.Random(seed)
    folder = tmp_path / "killed"
    seen: dict = {}
    for _ in range(rounds):
        p = _cli("run", str(spec), "--out", str(folder), "--no-plots", "--batch", "0")
        time.sleep(rng.uniform(1.0, 5.0))
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=60)
        _intact(folder, reference, seen)
    p = _cli("run", str(spec), "--out", str(folder), "--no-plots", "--batch", "0")
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    assert _intact(folder, reference, seen) == len(reference["points"])
    assert load_results(folder)["status"] == "complete"
    assert not list(folder.glob(".*.tmp")) and not list((folder / "draws").glob(".*.tmp"))


def test_sigkill_loses_nothing(tmp_path, reference):
    spec, ref = reference
    _kill_rounds(tmp_path, spec, ref, rounds=2, seed=3)


@pytest.mark.slow
def test_sigkill_many(tmp_path, reference):
    spec, ref = reference
    _kill_rounds(tmp_path, spec, ref, rounds=15, seed=33)


def test_two_runs_into_one_folder(tmp_path, reference):
    spec, ref = reference
    folder = tmp_path / "shared"
    procs = [_cli("run", str(spec), "--out", str(folder), "--no-plots", "--batch", "0")
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    for (_, err), p in zip(outs, procs):
        assert "Traceback" not in err, err
        if p.returncode == 2:
            assert "in use by another run (process" in err, err
    assert codes in ([0, 0], [0, 2]), outs
    assert _intact(folder, ref) == len(ref["points"])


def _corruptions(doc: dict, raw: bytes) -> dict[str, bytes]:
    def dumped(change):
        d = json.loads(json.dumps(doc))
        change(d)
        return json.dumps(d).encode()

    def set_(path, value):
        def change(d):
            *head, last = path
            for k in head:
                d = d[k]
            d[last] = value
        return change

    def delete(path):
        def change(d):
            *head, last = path
            for k in head:
                d = d[k]
            del d[last]
        return change

    first = doc["phases"][0]
    return {
        "invalid_utf8": b"\xff" + raw,
        "truncated": raw[: len(raw) // 2],
        "empty": b"",
        "list": b"[]",
        "null": b"null",
        "number": b"3",
        "nan_text": raw.replace(b'"mass": ', b'"mass": NaN, "x": ', 1),
        "newer_schema": dumped(set_(["schema"], "phasedsl.results/2")),
        "foreign_schema": dumped(set_(["schema"], "something/1")),
        "no_schema": dumped(delete(["schema"])),
        "no_sampler": dumped(delete(["sampler"])),
        "no_sweep": dumped(delete(["sweep"])),
        "no_points": dumped(delete(["points"])),
        "no_value": dumped(delete(["points", 0, "value"])),
        "no_phases": dumped(delete(["points", 0, "phases"])),
        "no_other": dumped(delete(["points", 0, "other"])),
        "mass_string": dumped(set_(["points", 0, "phases", first, "mass"], "0.5")),
        "mass_null": dumped(set_(["points", 0, "phases", first, "mass"], None)),
        "mass_big": dumped(set_(["points", 0, "phases", first, "mass"], 7)),
        "value_string": dumped(set_(["points", 0, "value"], "x")),
        "points_dict": dumped(set_(["points"], {})),
        "event_bad": dumped(set_(["events"], [{"kind": "crossover"}])),
        "deep": b"[" * 100000 + b"]" * 100000,
        "duplicate_points": dumped(lambda d: d["points"].append(d["points"][0])),
        # issue 25, mechanism 8: every field a reader uses, and the spec text's hash
        "sampler_empty": dumped(set_(["sampler"], {})),
        "se_text": dumped(set_(["points", 0, "phases", first, "se"], "big")),
        "se_negative": dumped(set_(["points", 0, "phases", first, "se"], -1.0)),
        "log_z_1e400": raw.replace(b'"log_z": ', b'"log_z": 1e400, "x": ', 1),
        "log_z_list": dumped(set_(["points", 0, "log_z"], [1])),
        "spec_text_other": dumped(lambda d: d.update(spec_text=d["spec_text"] + "\n# edited\n")),
        "lcoef_text": dumped(set_(["points", 0, "lcoef"], {first: {"lambda": "x"}})),
        "diagnostics_list": dumped(set_(["points", 0, "diagnostics"], [])),
        "set_list": dumped(set_(["set"], [1])),
        "experiment_number": dumped(set_(["experiment"], 5)),
        "timings_number": dumped(set_(["timings"], {"started": 5})),
        "seeds_text": dumped(set_(["seeds"], {"sampler": "x"})),
    }


def test_damaged_results_files(tmp_path, reference):
    spec, ref = reference
    good = tmp_path / "good"
    shutil.copytree(Path(spec).parent / "ref", good)
    raw = (good / "results.json").read_bytes()
    for name, data in _corruptions(ref, raw).items():
        folder = tmp_path / name
        shutil.copytree(good, folder)
        (folder / "results.json").write_bytes(data)
        for argv in (["report", str(folder)], ["plot", str(folder)],
                     ["run", str(spec), "--out", str(folder), "--no-plots"]):
            code, _, err = run_cli(*argv)
            assert code == 2, f"{name} {argv[0]}: exit {code}\n{err}"
            # the run's timestamped header (stderr is no terminal here), then the one error
            lines = err.splitlines()
            assert lines[-1].startswith("phasedsl: error: "), (name, err)
            assert all(line.startswith("[") for line in lines[:-1]), (name, err)
            assert (folder / "results.json").read_bytes() == data, f"{name}: rewritten"


# ---------------------------------------------------------------- issue 25: the run folder


def _main(*argv):
    """``(code, out, err)`` of ``phasedsl ARGV`` (``conftest.run_cli``: no traceback)."""
    done = run_cli(*argv)
    return done.code, done.out, done.err


@pytest.fixture()
def copied(tmp_path, reference):
    """A copy of the reference run folder (draws included)."""
    spec, _ = reference
    folder = tmp_path / "copy"
    shutil.copytree(Path(spec).parent / "ref", folder)
    return folder


def test_swapped_draws_files_are_refused(copied, reference):
    """Mechanism 1: a draws file names its point and run; a swap is refused by every
    reader (the API, export, the figures), never read as the other point's draws."""
    from phasedsl import open_run
    from phasedsl.rundir import RunFolderError

    a, b = copied / "draws" / "point_000.npz", copied / "draws" / "point_004.npz"
    tmp = copied / "x.npz"
    a.rename(tmp), b.rename(a), tmp.rename(b)
    run = open_run(copied)
    before = (copied / "results.json").read_bytes()
    with pytest.raises(RunFolderError, match="holds the draws of the sweep point"):
        run.draws(run.results["sweep"]["values"][0])
    assert run.draws(run.results["sweep"]["values"][1]) is not None
    code, _, err = _main("export", copied)
    assert code == 2 and "holds the draws of the sweep point" in err, err
    assert (copied / "results.json").read_bytes() == before


def test_draws_of_another_run_are_refused(tmp_path, copied, reference):
    """Mechanism 1: the same sweep value of another posterior (other seed) is refused."""
    spec, ref = reference
    other = tmp_path / "other"
    code, _, err = _main("run", spec, "--out", other, "--no-plots", "--seed", "3",
                         "--set", "points=21")
    assert code == 0, err
    shutil.copy(other / "draws" / "point_002.npz", copied / "draws" / "point_002.npz")
    code, _, err = _main("export", copied)
    assert code == 2 and "another posterior or seed" in err, err


def _claiming(arrays: dict, rows: int) -> bytes:
    """An uncompressed ``.npz`` whose ``params`` header claims ``rows`` rows (the header's
    padding absorbs the longer shape, so the file stays well formed but for its size)."""
    buf = io.BytesIO()
    np.savez(buf, **{**arrays, "params": np.zeros((1, 1, 1), np.float32)})
    old = b"(1, 1, 1), }"
    new = f"({rows}, 1, 1), }}".encode()
    data = buf.getvalue()
    return data.replace(old + b" " * (len(new) - len(old)), new, 1)


def test_damaged_draws_files_are_messages(copied):
    """Mechanism 8: a damaged deflate stream, wrong shapes, NaN parameters: exit 2 with the
    file named, from every reader."""
    from phasedsl.rundir import IDENTITY

    path = copied / "draws" / "point_001.npz"
    good = path.read_bytes()
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}

    def saved(**change):
        buf = io.BytesIO()
        np.savez_compressed(buf, **{**arrays, **change})
        return buf.getvalue()

    middle = len(good) // 2
    damage = {
        "deflate": good[:middle] + bytes(b ^ 0x55 for b in good[middle: middle + 64])
        + good[middle + 64:],
        "truncated": good[: len(good) // 3],
        "nan_params": saved(params=np.full_like(arrays["params"], np.nan)),
        "shape": saved(params=arrays["params"][0]),
        "parameters": saved(params=np.concatenate([arrays["params"]] * 2, axis=2)),
        "indicators_shape": saved(indicators=arrays["indicators"][:, :3]),
        "no_identity": saved(**{IDENTITY: np.zeros(0, np.uint8)}),
        "header_bomb": _claiming(arrays, 10**12),
    }
    for name, data in damage.items():
        path.write_bytes(data)
        code, _, err = _main("export", copied)
        assert code == 2 and "point_001.npz" in err, (name, err)


def test_a_reanalysis_waits_for_no_run(copied, reference):
    """Mechanism 2: every writer takes the folder's lock: a re-analysis, a plot or an
    export into a folder a run holds is refused and changes nothing."""
    from phasedsl.rundir import RunLock

    before = (copied / "results.json").read_bytes()
    lock = RunLock.acquire(copied)
    try:
        for argv in (["report", copied, "--set", "report.floor=0.01"], ["plot", copied],
                     ["export", copied]):
            code, _, err = _main(*argv)
            assert code == 2 and "in use by another run (process" in err, (argv, err)
    finally:
        lock.release()
    assert (copied / "results.json").read_bytes() == before
    assert not list(copied.glob("*.png"))


def test_a_reanalysis_racing_a_run(tmp_path, reference):
    """Mechanism 2, raced: re-analyses started while a run fills the folder are refused
    (or, once it is done, applied); the run's document is never overwritten by a stale one
    and every point survives."""
    spec, ref = reference
    folder = tmp_path / "race"
    p = _cli("run", str(spec), "--out", str(folder), "--no-plots", "--batch", "0")
    codes = []
    while p.poll() is None and len(codes) < 200:
        if (folder / "results.json").exists():
            code, _, err = _main("report", folder, "--set", "report.floor=0.02", "--no-plots")
            assert code in (0, 2), err
            assert code == 0 or "in use by another run" in err or "no results.json" in err, err
            codes.append(code)
        time.sleep(0.2)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    assert 2 in codes or not codes
    assert _intact(folder, ref) == len(ref["points"])
    assert load_results(folder)["status"] == "complete"


def test_planted_links_change_nothing_outside(tmp_path, copied, reference):
    """Mechanism 3: a `.lock` link, a figure link, a `draws/` link: refused or replaced,
    their targets never written, truncated or swept."""
    spec, _ = reference
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("keep me")
    (outside / ".keep.tmp").write_text("keep me too")
    # .lock as a link
    (copied / ".lock").unlink(missing_ok=True)
    (copied / ".lock").symlink_to(victim)
    for argv in (["run", spec, "--out", copied, "--no-plots"],
                 ["report", copied, "--set", "report.floor=0.01"]):
        code, _, err = _main(*argv)
        assert code == 2 and "symbolic link" in err, err
    (copied / ".lock").unlink()
    # a figure as a link: replaced, not written through
    (copied / "masses.png").symlink_to(victim)
    code, _, err = _main("plot", copied)
    assert code == 0, err
    assert not (copied / "masses.png").is_symlink()
    # draws/ as a link
    shutil.copytree(copied / "draws", outside / "draws")
    shutil.rmtree(copied / "draws")
    (copied / "draws").symlink_to(outside / "draws", target_is_directory=True)
    code, _, err = _main("run", spec, "--out", copied, "--no-plots", "--fresh")
    assert code == 2 and "symbolic link" in err, err
    assert victim.read_text() == "keep me" and (outside / ".keep.tmp").exists()
    assert sorted(p.name for p in (outside / "draws").iterdir()) == sorted(
        f"point_{i:03d}.npz" for i in range(40))


def test_a_spec_named_dots_runs_inside_runs(tmp_path, reference):
    """Mechanism 3: `...phase` has the stem `..`: its default folder stays inside runs/."""
    spec, _ = reference
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(spec, work / "...phase")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PHASEDSL_PROGRESS": "0"}
    p = subprocess.run([sys.executable, "-m", "phasedsl.cli", "run", "...phase", "--no-plots",
                        "--set", "points=11"], cwd=work, capture_output=True, text=True,
                       env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    assert not (work / "results.json").exists() and (work / "runs" / "spec" / "results.json").exists()
