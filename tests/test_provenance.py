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
report { resolution = 0 }
"""
# (resolution 0: the two sweep values stay the run's only points, re-analysis is the point)


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
    assert doc["settings"]["report"] == {"floor": 0.005, "merge": 0.9, "resolution": 0.0,
                                         "pool": 5}
    assert doc["settings"]["roles"]["report.floor"] == "analysis"
    assert doc["settings"]["roles"]["report.resolution"] == "analysis"
    assert doc["settings"]["roles"]["report.pool"] == "analysis"  # pooling needs no new draws
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


def _copy(run_folder, tmp_path):
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(run_folder, target)
    return target


def _draw_bytes(folder):
    return {p.name: p.read_bytes() for p in sorted((folder / "draws").glob("*.npz"))}


def test_report_reanalyses_new_phases_and_floor_without_resampling(wells, tmp_path, capsys):
    folder = _copy(wells.folder, tmp_path)
    before = json.loads((folder / "results.json").read_text())
    draws = _draw_bytes(folder)
    assert main(["report", str(folder), "--set", "eps=-0.8", "--set", "report.floor=0.001",
                 "--no-plots"]) == 0
    assert "re-analysed 2 points on their saved draws" in capsys.readouterr().err
    after = json.loads((folder / "results.json").read_text())
    assert _draw_bytes(folder) == draws  # the draws are untouched
    old = [p["phases"]["left"]["mass"] for p in before["points"]]
    new = [p["phases"]["left"]["mass"] for p in after["points"]]
    assert new != old and all(n <= o for n, o in zip(new, old))  # left = w < -0.8 now
    assert after["report"]["floor"] == 0.001 and after["settings"]["report"]["floor"] == 0.001
    assert after["set"] == {"eps": "-0.8", "report.floor": "0.001"}
    assert after["reanalyses"][-1]["previous_set"] == {"eps": "0.1"}
    assert after["timings"] == before["timings"] and after["versions"] == before["versions"]
    # a change of the posterior is refused and changes nothing
    assert main(["report", str(folder), "--set", "n=60"]) == 2
    assert "changes the posterior (it differs in: n, beta)" in capsys.readouterr().err
    assert json.loads((folder / "results.json").read_text()) == after


def test_report_with_another_spec_of_the_same_posterior(wells, tmp_path, capsys):
    folder = _copy(wells.folder, tmp_path)
    other = tmp_path / "other.phase"
    other.write_text(WELLS.replace("phase right = w > 0.5", "phase right = w > 0.5\n"
                                   "phase middle = abs(w) < 0.25"))
    draws = _draw_bytes(folder)
    assert main(["report", str(folder), "--spec", str(other), "--no-plots"]) == 0
    after = json.loads((folder / "results.json").read_text())
    assert after["phases"] == ["left", "right", "middle"]
    assert all("middle" in p["phases"] for p in after["points"])
    assert _draw_bytes(folder) == draws


def test_run_with_only_a_new_eps_reanalyses(wells, tmp_path):
    folder = _copy(wells.folder, tmp_path)
    draws = _draw_bytes(folder)
    calls = []
    spec = load_text(WELLS, str(wells.folder.parent / "wells.phase"), {"eps": "-0.8"})
    done = run(spec, folder, plots=False, seed=3, progress=lambda *a: calls.append(a))
    assert calls == [] and done.reanalysed == 2  # nothing was sampled
    assert _draw_bytes(folder) == draws
    assert done.results["set"] == {"eps": "-0.8"} and done.results["status"] == "complete"


MERGE = """sweep theta over linspace(0, 1, 6)
param w in [-2, 2]
prior uniform
energy K = (w + 1 - theta)^2 * (w - 1 + theta)^4
let n = 10
let r = 1/2
phase left  = ball(w, theta - 1, r)
phase right = ball(w, 1 - theta, 1/2)
sample quadrature { points = 401 }
"""


def test_quadrature_reanalyses_report_settings_but_not_new_phases(tmp_path, capsys):
    spec = load_text(MERGE, "merge.phase", {})
    done = run(spec, tmp_path / "q", plots=False)
    folder = done.folder
    assert main(["report", str(folder), "--set", "report.floor=0.3", "--no-plots"]) == 0
    capsys.readouterr()
    after = json.loads((folder / "results.json").read_text())
    assert after["points"] == done.results["points"] and after["report"]["floor"] == 0.3
    assert main(["report", str(folder), "--set", "r=0.3", "--no-plots"]) == 2
    assert "phase integrals" in capsys.readouterr().err


def test_export_is_read_back_by_arviz(wells, tmp_path, capsys):
    az = pytest.importorskip("arviz")
    folder = _copy(wells.folder, tmp_path)
    assert main(["export", str(folder)]) == 0
    path = capsys.readouterr().out.strip()
    assert path.endswith("arviz.nc")
    idata = az.from_netcdf(path)
    post = idata.posterior
    assert post["w"].dims == ("chain", "draw", "t")
    assert list(post["t"].values) == [1.0, 1.5]
    assert post.sizes["chain"] == 2 and post.sizes["draw"] == 100
    assert post["in_phase"].dims == ("chain", "draw", "t", "phase")
    assert list(post["phase"].values) == ["left", "right"]
    assert idata.sample_stats["lp"].dims == ("chain", "draw", "t")
    summary = az.summary(idata, var_names=["w", "in_phase"])
    assert "w[1.0]" in summary.index and "r_hat" in summary.columns
    rhat = az.rhat(idata)
    assert rhat["w"].dims == ("t",)
    masses = idata.phase_summary["mass"].sel(phase="left").values
    doc = json.loads((folder / "results.json").read_text())
    assert list(masses) == [p["phases"]["left"]["mass"] for p in doc["points"]]
    # the indicator means are the masses of an unweighted (NUTS) run
    means = post["in_phase"].sel(phase="left").mean(("chain", "draw")).values
    assert means == pytest.approx(masses)
    assert json.loads(idata.phase_summary.attrs["events"]) == doc["events"]
    # after a re-analysis the exported indicators are the new phases', not the sampled ones
    assert main(["report", str(folder), "--set", "eps=-0.8", "--no-plots"]) == 0
    assert main(["export", str(folder), "--out", str(tmp_path / "again.nc")]) == 0
    capsys.readouterr()
    again = az.from_netcdf(str(tmp_path / "again.nc"))
    masses = again.phase_summary["mass"].sel(phase="left").values
    means = again.posterior["in_phase"].sel(phase="left").mean(("chain", "draw")).values
    assert means == pytest.approx(masses) and list(masses) != [
        p["phases"]["left"]["mass"] for p in doc["points"]]


# a narrow curved valley and a short warmup: NUTS diverges at both sweep values
VALLEY = """experiment "valley"
param w in [-1, 1]
param u in [-1, 1]
energy K = 20 * t * (w^2 - u)^2
let n = 50
sweep t over 1, 2
phase left = w < 0
sample nuts { chains = 2; draws = 100; warmup = 30 }
"""


def test_export_keeps_divergences_and_reads_old_draws_without_them(tmp_path, capsys):
    az = pytest.importorskip("arviz")
    import numpy as np

    spec = load_text(VALLEY, str(tmp_path / "valley.phase"))
    done = run(spec, tmp_path / "run", plots=False, seed=1)
    counts = [p["diagnostics"]["divergences"] for p in done.results["points"]]
    assert min(counts) > 0  # the test needs divergences to count
    assert main(["export", str(done.folder)]) == 0
    idata = az.from_netcdf(capsys.readouterr().out.strip())
    diverging = idata.sample_stats["diverging"]
    assert diverging.dims == ("chain", "draw", "t") and diverging.dtype == bool
    assert diverging.shape == (2, 100, 2)
    assert list(diverging.sum(("chain", "draw")).values) == counts
    # draws files written before the flags were kept: they load and export without the field
    for path in (done.folder / "draws").glob("*.npz"):
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files if k != "diverging"}
        np.savez_compressed(path, **arrays)
    assert main(["export", str(done.folder), "--out", str(tmp_path / "old.nc")]) == 0
    capsys.readouterr()
    old = az.from_netcdf(str(tmp_path / "old.nc"))
    assert "diverging" not in old.sample_stats and "lp" in old.sample_stats
    assert old.posterior["w"].shape == (2, 100, 2)
