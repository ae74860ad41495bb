"""Several data sets per sweep point (``data { seeds = K }``): the combination of K
summaries by hand, a tiny network run end to end on three data sets, and the report's
columns (a golden line)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from phasedsl.analysis.datasets import combine_datasets, spread
from phasedsl.analysis.records import Mass, PhaseMass, PointSummary
from phasedsl.language.errors import SpecError
from phasedsl.output.report import render
from phasedsl.pipeline import load_text
from phasedsl.rundir import draws_path, load_draws

SPEC = """experiment "several data sets"
sweep theta over 0.5, 1.5
data { n = 12; x ~ uniform(-1, 1)^1; noise = 0.5; seed = 5; seeds = 3 }
model network(width = 1)
truth network(width = 1) { w[1] = [theta]; b = 0; q = 1; c = 0 }
let u[i] = q[i] * w[i]
let cut = 0.5
phase pos = u[1][1] > cut
sample smc { particles = 32; runs = 4; mutations = 2; integration_steps = 4 }
report { lcoef = 0 }
"""


def summary(masses: dict, ses: dict, mixing=True, log_z=None) -> PointSummary:
    phases = {n: PhaseMass(m, ses[n]) for n, m in masses.items()}
    rest = 1 - sum(masses.values())
    return PointSummary(0.5, phases, Mass(rest, 0.01), max(masses, key=masses.get), {"a|b": 0.0},
                        log_z is not None, log_z, {"mixing_ok": mixing, "rhat_max": None})


def test_combination_by_hand():
    points = [summary({"a": 0.5, "b": 0.2}, {"a": 0.03, "b": 0.01}),
              summary({"a": 0.2, "b": 0.6}, {"a": 0.04, "b": 0.02}, mixing=False),
              summary({"a": 0.2, "b": 0.3}, {"a": 0.00, "b": None})]
    p = combine_datasets(points, [5, 6, 7])
    assert p.phases["a"].mass == pytest.approx(0.3)
    assert p.phases["a"].se == pytest.approx(math.sqrt(0.03 ** 2 + 0.04 ** 2) / 3)
    assert p.phases["b"].se is None  # one data set's se unknown: the mean's too
    sd = math.sqrt(((0.5 - 0.3) ** 2 + 2 * (0.2 - 0.3) ** 2) / 2)
    assert p.datasets["spread"]["a"] == pytest.approx(sd)
    assert p.datasets["spread_se"]["a"] == pytest.approx(sd / 2)  # sd / sqrt(2 (K - 1))
    assert p.datasets["masses"]["b"] == [0.2, 0.6, 0.3]
    assert p.preferred == "b" and p.mixing_ok is False and p.datasets["seeds"] == [5, 6, 7]
    assert PointSummary.from_json(p.to_json()).datasets == p.datasets
    assert spread([0.4]) == (None, None)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    import phasedsl

    folder = tmp_path_factory.mktemp("datasets")
    return phasedsl.run(load_text(SPEC), folder, plots=False).results, folder


def shares(arrays: dict, inside) -> float:
    """The weighted share of one data set's saved draws where ``inside(params)``, averaged
    over the SMC runs (each run's weights normalised), as the mass of a phase is."""
    w = arrays["weights"] / arrays["weights"].sum(axis=1, keepdims=True)
    return float(np.mean(np.sum(w * inside(arrays["params"]), axis=1)))


def test_reanalysis_combines_every_data_set(run, tmp_path):
    """Another `cut` is re-analysed on the saved draws of all three data sets."""
    import shutil

    from phasedsl.pipeline.reanalyse import reanalyse

    _, folder = run
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    results = reanalyse(copy, load_text(SPEC, overrides={"cut": "0.8"}))
    for index, p in enumerate(results["points"]):
        masses = [shares(load_draws(copy, index, k), lambda x: x[..., 2] * x[..., 0] > 0.8)
                  for k in range(3)]
        assert p["datasets"]["masses"]["pos"] == pytest.approx(masses, abs=1e-9)
        assert p["phases"]["pos"]["mass"] == pytest.approx(np.mean(masses), abs=1e-9)


def test_each_point_on_three_data_sets(run):
    results, folder = run
    assert results["seeds"]["data_sets"] == [5, 6, 7]
    for index, p in enumerate(results["points"]):
        d = p["datasets"]
        masses = d["masses"]["pos"]
        assert d["seeds"] == [5, 6, 7] and len(masses) == 3
        assert p["phases"]["pos"]["mass"] == pytest.approx(np.mean(masses), abs=1e-12)
        assert d["spread"]["pos"] == pytest.approx(np.std(masses, ddof=1), abs=1e-12)
        assert d["spread_se"]["pos"] == pytest.approx(d["spread"]["pos"] / 2, abs=1e-12)
        se = math.sqrt(sum(s ** 2 for s in d["se"]["pos"])) / 3
        assert p["phases"]["pos"]["se"] == pytest.approx(se, abs=1e-12)
        # each data set's mass is the weighted share of its own saved draws in `pos`
        params = []
        for k in range(3):
            assert draws_path(folder, index, k).is_file()
            arrays = load_draws(folder, index, k)
            share = shares(arrays, lambda x: x[..., 2] * x[..., 0] > 0.5)
            assert share == pytest.approx(masses[k], abs=1e-9)
            params.append(arrays["params"])
        assert not np.array_equal(params[0], params[1])  # other data, other key


def test_data_sets_are_distinct_and_set_zero_is_the_plain_spec():
    from phasedsl.lower.compile import compile_spec

    three = compile_spec(load_text(SPEC).checked)
    one = compile_spec(load_text(SPEC.replace("; seeds = 3", "")).checked)
    x0, y0 = three.dataset(1.5, 0)
    np.testing.assert_array_equal(x0, one.dataset(1.5)[0])
    np.testing.assert_array_equal(y0, one.dataset(1.5)[1])
    x2, _ = three.dataset(1.5, 2)
    six = compile_spec(load_text(SPEC.replace("seed = 5; seeds = 3", "seed = 7")).checked)
    np.testing.assert_array_equal(x2, six.dataset(1.5)[0])  # data set k: data seed seed + k
    assert not np.array_equal(x0, x2)


def rendered(results) -> str:
    with open(os.devnull, "w") as sink:
        console = Console(width=120, color_system=None, force_terminal=False, record=True,
                          file=sink)
        console.print(render(results))
    return console.export_text()


def test_report_shows_mean_and_spread(run):
    results, _ = run
    text = rendered(results)
    assert "data: 3 data sets (seeds 5 to 7)" in text
    header = next(line for line in text.splitlines() if line.lstrip().startswith("theta"))
    assert header.split()[:4] == ["theta", "pos", "pos", "sd"]


def test_report_golden_line():
    """A hand-made point on two data sets: the row shows the mean ± posterior se, then the
    spread ± its se."""
    p = combine_datasets([summary({"pos": 0.3}, {"pos": 0.006}),
                          summary({"pos": 0.5}, {"pos": 0.008})], [0, 1]).to_json()
    p["value"] = 1.25
    p["diagnostics"].update(wall_s=2.0)  # sd: 0.2 / sqrt(2) = 0.141, its se 0.141 / sqrt(2)
    results = {"experiment": "two data sets", "sampler": {"engine": "smc"},
               "sweep": {"name": "theta", "values": [1.25]}, "phases": ["pos"],
               "status": "complete", "points": [p], "events": [], "report": {"floor": 0.005},
               "warnings": []}
    rows = [line.rstrip() for line in rendered(results).splitlines()]
    assert ("data: 2 data sets (seeds 0 to 1); masses are means ± posterior se; sd: spread "
            "between data sets ± its se") in rows
    assert ("theta            pos         pos sd          other  preferred  seconds  steps/draw  "
            "diagnostics") in rows
    assert (" 1.25  0.400 ± 0.005  0.141 ± 0.100  0.600 ± 0.007  pos            2.0           -  "
            "ok") in rows


@pytest.mark.parametrize("data, message", [
    ("seeds = 0", "the number of data sets must be a whole number from 1 to 256"),
    ("seeds = 2.5", "the number of data sets must be a whole number from 1 to 256"),
    ("seed = 4294967295; seeds = 2", "the data seeds run past the largest seed"),
])
def test_bad_seeds(data, message):
    text = SPEC.replace("seed = 5; seeds = 3", data)
    with pytest.raises(SpecError) as info:
        load_text(text)
    assert info.value.diagnostic.message == message
