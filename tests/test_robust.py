"""Never a traceback, never a silent wrong answer (issue 17): broken posteriors, hidden
names, one chain on several devices, `--set` edge cases, limits, run-folder locks and
file-system failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parent.parent

ENERGY = """sweep theta over {values}
param w in [-2, 2]
let n = 10
energy K = {energy}
phase pos = w > 0
phase neg = w < 0
sample {sample}
"""
QUAD = "quadrature { points = 101 }"


def spec(tmp_path, energy="(w - theta)^2", values="1, 2", sample=QUAD, name="s"):
    path = tmp_path / f"{name}.phase"
    path.write_text(ENERGY.format(energy=energy, values=values, sample=sample))
    return path


@pytest.mark.parametrize("energy,values,at", [
    ("(log(w) - theta)^2", "1, 2", "theta = 1"),
    ("(w - log(theta))^2", "-1, 1, 2", "theta = -1"),
    ("sqrt(w) * theta", "1, 2", "theta = 1"),
    ("w^2 / (theta - 1)", "1, 2", "theta = 1"),
])
def test_nan_log_density_is_an_error_not_a_mass(tmp_path, energy, values, at, cli):
    path = spec(tmp_path, energy, values)
    out = tmp_path / "out"
    code, _, err = cli("run", path, "--out", out, "--no-plots")
    assert code == 1, err
    assert f"{path}:4:12: error: the log density is" in err and f"at {at}" in err, err
    results = json.loads((out / "results.json").read_text())
    assert results["status"] == "failed" and not results["events"]
    assert all(p["value"] != float(at.split("= ")[1]) for p in results["points"])


def test_nan_log_density_under_nuts(tmp_path, cli):
    path = spec(tmp_path, "(log(w) - theta)^2", "1",
                "nuts { chains = 2; draws = 20; warmup = 20 }")
    code, _, err = cli("run", path, "--out", tmp_path / "out", "--no-plots")
    assert code == 1 and "the log density is NaN at theta = 1" in err, err


def test_a_param_named_like_the_hidden_sweep_is_a_parameter(tmp_path, cli):
    path = tmp_path / "s.phase"
    path.write_text("param _sweep in [-2, 2]\nlet n = 10\nenergy K = (_sweep - 1)^2\n"
                    "phase pos = _sweep > 0\nsample quadrature { points = 101 }\n")
    code, out, err = cli("run", path, "--out", tmp_path / "out", "--no-plots", "--json")
    assert code == 0, err
    assert json.loads(out)["points"][0]["phases"]["pos"]["mass"] > 0.99


def test_one_chain_on_two_devices(tmp_path):
    path = spec(tmp_path, sample="nuts { chains = 1; draws = 30; warmup = 30 }")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for batch in ([],):  # the default batch: one point per device, the crashing case
        p = subprocess.run([sys.executable, "-m", "phasedsl.cli", "run", str(path), "--out",
                            str(tmp_path / "out"), "--no-plots", "--fresh", "--cpu-devices",
                            "2", *batch], capture_output=True, text=True, env=env, timeout=300)
        assert p.returncode == 0, p.stderr
        assert "Traceback" not in p.stderr


@pytest.mark.parametrize("value,words", [
    ("eps=1; let y = 2", "not one expression"),
    ("eps=1\nlet y = 2", "not one expression"),
    ("eps=0", "--set eps=0: `eps` must be positive (at "),
    ("eps=eps", "--set eps=eps: `eps` is defined in terms of itself"),
    ("eps=[1,2]", "--set eps=[1,2]: a 2-vector where a number is needed"),
    ("draws=10^12", "--set draws=10^12: `draws` must be a whole number <= "),
    ("seed=2^64", "--set seed=2^64"),
    ("eps=exp(1e20)", "--set eps=exp(1e20): this number is too large"),
    ("eps=exp(1000)", "--set eps=exp(1000): this number is too large"),
])
def test_set_edge_cases_are_usage_errors(tmp_path, value, words, cli):
    path = tmp_path / "s.phase"
    path.write_text("sweep r over 0.5, 1\nparam v[2] in [-1, 1]\nenergy K = (norm(v)^2 - r^2)^2\n"
                    "let n = 50\nlet eps = 0.1\nphase ring = annulus(v, r, eps)\n"
                    "sample nuts { chains = 1 }\n")
    code, _, err = cli("check", path, "--set", value)
    assert code == 2 and err.startswith("phasedsl: error: --set ") and words in err, err


@pytest.mark.parametrize("argv,words", [
    (["--seed", "18446744073709551616"], "--seed must be from 0 to 4294967295"),
    (["--batch", "-1"], "--batch must be >= 0"),
    (["--set", "draws=10^12", "--engine", "nuts"], "`draws` must be a whole number <="),
    (["--set", "chains=10^9", "--engine", "nuts"], "`chains` must be a whole number <="),
])
def test_run_refuses_what_it_cannot_do(tmp_path, argv, words, cli):
    code, _, err = cli("run", spec(tmp_path), "--out", tmp_path / "out", "--no-plots", *argv)
    assert code == 2 and words in err, err


def test_a_second_run_into_a_folder_is_refused_naming_the_first(tmp_path, cli):
    from phasedsl.rundir import RunLock

    out = tmp_path / "out"
    out.mkdir()
    lock = RunLock.acquire(out)
    try:
        code, _, err = cli("run", spec(tmp_path), "--out", out, "--no-plots")
        assert code == 2 and f"in use by another run (process {os.getpid()} on " in err, err
    finally:
        lock.release()
    # a lock file left by a dead process is no lock: the next run takes the folder
    (out / ".lock").write_text(json.dumps({"pid": 999999, "host": "x", "started": "then"}))
    code, _, err = cli("run", spec(tmp_path), "--out", out, "--no-plots")
    assert code == 0, err


def test_file_system_failures_are_messages(tmp_path, cli):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    path = spec(tmp_path)
    for out in (a_file, a_file / "under", "/dev/null"):
        code, _, err = cli("run", path, "--out", out, "--no-plots")
        lines = err.splitlines()  # the run's timestamped header, then the one error
        assert code == 2 and lines[-1].startswith("phasedsl: error: cannot "), err
        assert all(line.startswith("[") for line in lines[:-1]), err
    code, out, err = cli("run", path, "--out", tmp_path / "odd[/]name[bold]", "--no-plots")
    assert code == 0 and "odd[/]name[bold]" in out, err


def test_terminal_output_escapes_control_characters(tmp_path, cli):
    path = tmp_path / "s.phase"
    path.write_text('experiment "\x1b[31mred $x$"\nparam w in [-2, 2]\nlet n = 10\n'
                    "energy K = w^2 + zz\x07\n")
    code, out, err = cli("check", path)
    assert code == 1 and "\x1b" not in err and "\x07" not in err and "\\x07" in err, err


# ---------------------------------------------------------------- issue 25, mechanism 6


NO_PHASES = """sweep theta over 1, 2
param w in [-2, 2]
{second}let n = 10
energy K = (w - theta)^2{more}
sample {sample}
"""


@pytest.mark.parametrize("second,sample", [
    (True, "quadrature { points = 21 }"),
    (False, "quadrature { points = 21 }"),
])
def test_a_spec_without_phases_reports_other_only(tmp_path, second, sample, cli):
    """The docs allow a spec without phases: every engine reports `other` only (2-parameter
    quadrature crashed on a zero-column indicator array)."""
    path = tmp_path / "s.phase"
    path.write_text(NO_PHASES.format(second="param v in [-2, 2]\n" if second else "",
                                     more=" + v^2" if second else "", sample=sample))
    code, out, err = cli("run", path, "--out", tmp_path / "out", "--no-plots", "--json")
    assert code == 0, err
    points = json.loads(out)["points"]
    assert [p["phases"] for p in points] == [{}, {}]
    assert all(abs(p["other"]["mass"] - 1) < 1e-9 for p in points)


@pytest.mark.slow
def test_a_spec_without_phases_under_smc(tmp_path, cli):
    """SMC's pooling crashed on `reshape(-1, 0)` (a spec without phases)."""
    path = tmp_path / "s.phase"
    path.write_text(NO_PHASES.format(second="", more="",
                                     sample="smc { particles = 50; runs = 2 }"))
    code, out, err = cli("run", path, "--out", tmp_path / "out", "--no-plots", "--json")
    assert code == 0, err
    assert all(p["phases"] == {} for p in json.loads(out)["points"])


def test_sign_patterns_are_linear_in_the_width():
    """The sign-mode summary counts the patterns that occur, not all 2^d (8 PiB at d = 50)."""
    import time

    import numpy as np

    from phasedsl.analysis.modes import sign_patterns

    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    out = sign_patterns(rng.normal(size=(2, 300, 64)))
    assert time.perf_counter() - t0 < 5.0
    assert all(len(p) == 64 for p in out["shares"]) and len(out["groups"]) == 2
    assert abs(sum(out["groups"][0].values()) - 1) < 1e-3  # shares rounded to 6 digits
