"""Figures of a run folder: the files are real PNGs, and the phase geometry drawn on them is the
spec's (circles of PT1's annuli and discs, PT2's balls around the truth's effective weights)."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest

from phasedsl.cli import main
from phasedsl.language.check import check
from phasedsl.language.syntax import parse
from phasedsl.lower.compile import compile_spec
from phasedsl.pipeline import run_spec
from phasedsl.pipeline import write_figures as write_plots
from phasedsl.pipeline.figures import line_regions, plane_regions
from specfiles import two_node_network

SPECS = Path(__file__).resolve().parents[1] / "specs"

TINY_NETWORK = two_node_network("1, 1.5", """let u[i] = q[i] * w[i]
phase ring = annulus(u[1], 1, 0.3) and annulus(u[2], 1, 0.3)
phase near = symmetric(all i: ball(u[i], truth.u[i], 0.4))
""")


def load(path: Path, overrides: dict | None = None):
    return check(parse(path.read_text(), str(path)), overrides)


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", data[16:24])
    assert 400 <= width <= 4000 and 300 <= height <= 4000, (path, width, height)
    assert 10_000 < len(data) < 3_000_000, (path, len(data))


def names(paths) -> set[str]:
    return {Path(p).name for p in paths}


@pytest.fixture(scope="module")
def network_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("tiny")
    spec = base / "tiny.phase"
    spec.write_text(TINY_NETWORK)
    checked = load(spec, {"draws": "50", "warmup": "50", "chains": "2"})
    folder = base / "run"
    return folder, run_spec(checked, folder), checked


def test_energy_run_figures(merge_run):
    folder, results, checked = merge_run
    paths = write_plots(folder, results, checked)
    assert names(paths) == {"masses.png", "free_energy.png", "energy.png", "lambda.png"}
    for p in paths:
        assert p.parent == folder
        assert_png(p)


def test_spec_is_reloaded_from_spec_file(merge_run, tmp_path):
    folder, results, _ = merge_run
    assert names(write_plots(folder, results)) == {"masses.png", "free_energy.png", "energy.png",
                                                   "lambda.png"}
    gone = {**results, "spec_file": str(tmp_path / "missing.phase")}
    assert names(write_plots(tmp_path, gone)) == {"masses.png", "free_energy.png", "lambda.png"}


def test_network_run_figures(network_run):
    folder, results, checked = network_run
    assert (folder / "draws" / "point_001.npz").is_file()
    paths = write_plots(folder, results, checked)
    assert names(paths) == {"masses.png", "free_energy.png", "posterior_u.png", "lambda.png"}
    for p in paths:
        assert_png(p)
    # the spec file beside the run is found again by `phasedsl plot`
    assert names(write_plots(folder, results)) == names(paths)


def synthetic_results() -> dict:
    """Four sweep values of two phases, unmixed chains at one, no mass for ``a`` at the last,
    every event kind."""

    def point(v, a, b, ok):
        def phase(m):
            return {"mass": m, "se": None if m == 0 else 0.02,
                    "free_energy": -math.log(m) if m > 0 else None, "chain_masses": [m, m]}
        return {"value": v, "phases": {"a": phase(a), "b": phase(b)},
                "other": {"mass": 1 - a - b, "se": 0.01}, "preferred": "a" if a >= b else "b",
                "absolute": False, "log_z": None, "diagnostics": {"mixing_ok": ok}}

    results = {
        "experiment": "synthetic", "spec_file": None, "sweep": {"name": "vartheta",
                                                                 "values": [0, 1, 2, 3]},
        "phases": ["a", "b"],
        "points": [point(0, 0.8, 0.1, True), point(1, 0.5, 0.4, False),
                   point(2, 0.2, 0.6, True), point(3, 0.0, 0.9, True)],
        "events": [
            {"order": 1, "kind": "crossover", "from": "a", "to": "b", "at": 1.4,
             "interval": [1.2, 1.7], "between": [1, 2]},
            {"order": 1, "kind": "crossover", "from": "b", "to": "a", "at": 2.5,
             "interval": [2.4, 2.6], "between": [2, 3], "resolved": False},
            {"order": 2, "kind": "destruction", "phase": "a", "between": [2, 3]},
            {"order": 2, "kind": "creation", "phase": "b", "between": [0, 1]},
            {"order": 2, "kind": "merge", "phases": ["a", "b"], "between": [1, 2]},
            {"order": 2, "kind": "split", "phases": ["a", "b"], "between": [2, 3]}],
    }
    return results


def test_synthetic_results_with_every_event_kind(tmp_path):
    """Unmixed chains, missing errors, phases without mass and all event kinds still draw."""
    paths = write_plots(tmp_path, synthetic_results())
    assert names(paths) == {"masses.png", "free_energy.png"}
    for p in paths:
        assert_png(p)


def test_the_masses_figure_shows_the_events_the_error_bars_and_the_labels():
    """Read from the figure itself: one shaded span per event over its interval (an
    unresolved crossover over the span the noise hides it in), a dotted line at a resolved
    crossover, numbered in the legend in the events' order; each phase's mass with bars of
    +- its se; the sweep variable and what the bars mean on the axes."""
    import matplotlib.pyplot as plt
    from matplotlib.container import ErrorbarContainer

    from phasedsl.output.notes import unresolved_span
    from phasedsl.output.plots import draw_figures

    results = synthetic_results()
    figures = draw_figures(results)
    try:
        ax = figures["masses"].axes[0]
        assert ax.get_xlabel() == r"$\vartheta$"
        assert ax.get_ylabel() == "posterior mass  (bars: \u00b1 1 se)"
        spans = sorted((round(p.get_x(), 6), round(p.get_x() + p.get_width(), 6))
                       for p in ax.patches)  # axvspan: a rectangle over the interval
        events = results["events"]
        want = [tuple(e.get("interval") or e["between"]) for e in events]
        want[1] = tuple(unresolved_span(events[1]))
        assert spans == sorted((round(lo, 6), round(hi, 6)) for lo, hi in want)
        dotted = [line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == ":"]
        assert dotted == [1.4]
        labels = [h.get_label() for h in ax.get_legend().legend_handles]
        numbered = [t.split(":")[0] for t in labels if t[:1].isdigit()]
        assert numbered == ["1", "2", "3", "4", "5", "6"]
        assert labels[-6].startswith("1: crossover a \u2192 b at 1.4")
        assert labels[-5].startswith("2: unresolved crossover b \u2192 a")
        assert labels[-2].startswith("5: merge of a + b")
        assert "hollow: chains disagree" in "".join(labels)
        bars = {c.get_label(): c for c in ax.containers if isinstance(c, ErrorbarContainer)}
        assert set(bars) == {"a", "b", "other (in no phase)"}
        segments = bars["b"].lines[2][0].get_segments()  # one vertical bar per value
        for seg, p in zip(segments, results["points"]):
            (x0, lo), (_, hi) = seg
            assert x0 == p["value"]
            assert hi - p["phases"]["b"]["mass"] == pytest.approx(0.02)
            assert p["phases"]["b"]["mass"] - lo == pytest.approx(0.02)
        fe = figures["free_energy"].axes[0]
        assert fe.get_ylabel().startswith("relative  F = \u2212log(mass)")
    finally:
        for fig in figures.values():
            plt.close(fig)


def test_a_crossover_known_only_as_a_step_is_drawn_as_the_step():
    """Refinement off (a whole-number sweep, ``report.resolution = 0``): the crossover is
    the grey step between the two values, with no dotted line at the interpolated
    crossing, and its legend entry says so."""
    import matplotlib.pyplot as plt

    from phasedsl.output.plots import draw_figures

    results = synthetic_results()
    results["events"] = [{"order": 1, "kind": "crossover", "from": "a", "to": "b", "at": 1.5,
                          "interval": [1, 2], "between": [1, 2], "resolved": True,
                          "refinement": {"width": 0.0, "status": "off", "bracket": [1, 2]}}]
    figures = draw_figures(results)
    try:
        ax = figures["masses"].axes[0]
        assert [(p.get_x(), p.get_x() + p.get_width()) for p in ax.patches] == [(1, 2)]
        assert [line for line in ax.lines if line.get_linestyle() == ":"] == []
        labels = [h.get_label() for h in ax.get_legend().legend_handles]
        assert "1: crossover a \u2192 b between 1 and 2\n   (no values added between)" in labels
    finally:
        for fig in figures.values():
            plt.close(fig)


def rounded(circles):
    return {(phase, tuple(round(c, 6) for c in centre), round(inner, 6), round(outer, 6))
            for phase, centre, inner, outer in circles}


def test_pt1_regions_are_circles_around_the_origin():
    checked = load(SPECS / "pt1_degeneracy.phase")
    for theta in (1.0, 1.3):
        assert rounded(plane_regions(checked, "u", theta)) == {
            ("nondegenerate", (0.0, 0.0), 0.7, 1.3),
            ("degenerate", (0.0, 0.0), 0.0, 0.3),
            ("degenerate", (0.0, 0.0), 1.7, 2.3),
        }


def test_pt2_balls_sit_at_plus_and_minus_the_truth():
    checked = load(SPECS / "pt2_cancellation.phase")
    compiled = compile_spec(checked)
    for vartheta in (1.0, 2.5):
        truth_u = compiled.truth(vartheta)["u"]  # f[3, 2]
        circles = plane_regions(checked, "u", vartheta)
        for phase, sign in (("outward", 1), ("cancelled", -1)):
            got = sorted(c for p, c, inner, outer in circles
                         if p == phase and inner == 0 and math.isclose(outer, 0.25))
            want = sorted(tuple(float(x) for x in sign * row) for row in truth_u)
            assert len(got) == 3
            np.testing.assert_allclose(got, want, atol=1e-6)


def test_energy_intervals_follow_the_sweep():
    checked = load(SPECS / "example_4_2_merge.phase")
    got = {(p, round(a, 6), round(b, 6)) for p, a, b in line_regions(checked, 0.3)}
    assert got == {("left", -1.2, -0.2), ("right", 0.2, 1.2)}


def test_a_plotting_failure_is_a_warning(monkeypatch, capsys, tmp_path):
    import phasedsl.output.plots

    def broken(folder, results, figures=(), *formats_and_dpi):
        raise ValueError("no figure today\nsecond line")

    monkeypatch.setattr(phasedsl.output.plots, "write_plots", broken)
    assert main(["run", str(SPECS / "example_4_2_merge.phase"), "--set", "points=101",
                 "--out", str(tmp_path / "run"), "--json"]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no figure today" in err and "second line" not in err


def test_plot_writes_every_format_asked_for(tmp_path, capsys):
    import shutil

    folder = tmp_path / "pt1"
    shutil.copytree(Path(__file__).resolve().parents[1] / "examples" / "pt1_reduced", folder)
    for png in folder.glob("*.png"):
        png.unlink()
    assert main(["plot", str(folder), "--format", "png,pdf,svg", "--dpi", "200"]) == 0
    written = capsys.readouterr().out.split()
    for name in ("masses", "free_energy"):
        for ext in ("png", "pdf", "svg"):
            assert str(folder / f"{name}.{ext}") in written
            assert (folder / f"{name}.{ext}").stat().st_size > 1000
    assert (folder / "masses.pdf").read_bytes()[:4] == b"%PDF"
    assert b"<svg" in (folder / "masses.svg").read_bytes()[:2000]
    assert main(["plot", str(folder), "--format", "jpg"]) == 2
    assert "png, pdf, svg" in capsys.readouterr().err
