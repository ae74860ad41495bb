"""Faults: a ``phasedsl run`` killed (SIGKILL) at random moments, results files damaged in
every way, two runs into one folder at once.

Asserted: no finished point is lost or changed (quadrature is deterministic, so every
point must equal the reference run's), no file is left that does not read (``results.json``
always validates, every saved draws file loads), and every failure is a message with exit
code 2, never a traceback; a refused results file is never rewritten.
"""

from __future__ import annotations

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
