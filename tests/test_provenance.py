"""results.json as provenance, and re-analysis of a finished run without resampling."""

from __future__ import annotations

import json

import pytest

from phasedsl.cli import main
from phasedsl.pipeline import load_text, run

WELLS = """experiment "two wells"
param w in [-1, 1]
energy K = (w^2 - t/2)^2
let n = 50
let eps = 0
beta = 1 / log(n)
sweep t over 1, 1.5
phase left = w < eps
phase right = w > 0.5
sample nuts { chains = 2; draws = 100; warmup = 100 }
"""


@pytest.fixture(scope="module")
def wells(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wells")
    (folder / "wells.phase").write_text(WELLS)
    spec = load_text(WELLS, str(folder / "wells.phase"), {"eps": "0.1"})
    return run(spec, folder / "run", plots=False, seed=3)


def test_results_record_every_effective_setting(wells):
    doc = json.loads((wells.folder / "results.json").read_text())
    assert doc["set"] == {"eps": "0.1"} and doc["quick"] is False
    assert doc["settings"]["engine"] == "nuts"
    assert doc["settings"]["sample"]["chains"] == 2           # given
    assert doc["settings"]["sample"]["target_accept"] == 0.8  # a default, recorded too
    assert doc["settings"]["report"] == {"floor": 0.005, "merge": 0.9}
    assert doc["settings"]["roles"]["report.floor"] == "analysis"
    assert doc["effective"]["n"] == 50 and doc["effective"]["lets"]["eps"] == 0.1
    assert doc["effective"]["beta"] == pytest.approx(1 / 3.912023005428146)
    assert doc["seeds"]["sampler"] == 3
    for name in ("phasedsl", "jax", "jaxlib", "blackjax", "numpy", "sympy", "lark", "python"):
        assert doc["versions"][name], name
    assert doc["machine"]["cpu_count"] >= 1 and doc["machine"]["device_kind"]
    t = doc["timings"]
    assert t["started"] and t["ended"] and t["wall_s"] > 0


def test_report_shows_provenance(wells, capsys):
    assert main(["report", str(wells.folder), "--provenance"]) == 0
    out = capsys.readouterr().out
    assert "--set: eps=0.1" in out and "seeds: sampler 3" in out
    assert "versions: phasedsl" in out and "wall" in out
