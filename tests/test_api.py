"""The Python API a notebook uses (``phasedsl.load``, ``run``, ``open_run``), and the run's own
spec (its ``--set`` values) behind ``phasedsl plot``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import phasedsl
from phasedsl.cli import main
from phasedsl.language.errors import UsageError
from phasedsl.pipeline.figures import figure_data

SPECS = Path(__file__).resolve().parents[1] / "specs"
MERGE = SPECS / "example_4_2_merge.phase"


def energy_curves(spec, folder, results):
    (fig,) = figure_data(spec.checked, folder, results)
    return fig.curves


def test_plot_draws_the_runs_posterior_after_set(tmp_path, monkeypatch):
    """`phasedsl run --set n=1000` then `phasedsl plot`: the energy figure is for n = 1000."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "run"
    assert main(["run", str(MERGE), "--set", "n=1000", "--set", "points=201",
                 "--out", str(folder), "--no-plots"]) == 0
    run = phasedsl.open_run(folder)
    assert run.results["set"] == {"n": "1000", "points": "201"}
    assert run.spec.checked.lets["n"] == 1000
    got = energy_curves(run.spec, folder, run.results)
    want = energy_curves(phasedsl.load(MERGE, {"n": "1000", "points": "201"}), folder,
                         run.results)
    default = energy_curves(phasedsl.load(MERGE, {"points": "201"}), folder, run.results)
    np.testing.assert_array_equal(got, want)
    assert not np.allclose(got, default)  # n = 10 is a much wider posterior
    assert main(["plot", str(folder)]) == 0
    assert (folder / "energy.png").is_file()


def test_plot_needs_no_spec_file_when_the_run_recorded_its_text(tmp_path):
    spec_file = tmp_path / "merge.phase"
    spec_file.write_text(MERGE.read_text())
    folder = tmp_path / "run"
    assert main(["run", str(spec_file), "--set", "points=101", "--out", str(folder),
                 "--no-plots"]) == 0
    spec_file.unlink()
    assert main(["plot", str(folder)]) == 0
    assert {p.name for p in folder.glob("*.png")} == {"masses.png", "free_energy.png",
                                                      "energy.png", "lambda.png"}


NOTEBOOK = """
import phasedsl
spec = phasedsl.load({spec!r}, {{"points": "101"}})
run = phasedsl.run(spec, {out!r})
table = run.masses()
assert table["phases"] == ["left", "right"] and table["mass"].shape == (11, 2)
assert [e.kind for e in run.events] == ["merge"]
again = phasedsl.open_run({out!r})
assert again.results == run.results
assert "second-order merge of left and right" in again.text()
figures = again.figures()
assert sorted(figures) == ["energy", "free_energy", "lambda", "masses"]
draws = again.draws(0.5)
assert draws["params"].shape[-1] == 1
print("notebook ok", round(float(table["mass"][0, 1]), 3))
"""


def test_a_notebook_script_uses_only_the_documented_api(tmp_path):
    code = NOTEBOOK.format(spec=str(MERGE), out=str(tmp_path / "nb"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "notebook ok" in out.stdout


def test_import_phasedsl_is_light():
    code = "import sys, phasedsl; assert 'jax' not in sys.modules and 'sympy' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_open_run_of_an_empty_folder_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="holds no results.json"):
        phasedsl.open_run(tmp_path)
