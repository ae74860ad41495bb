"""Two-dimensional sweeps: the grid's cells as points of one run folder, the boundary curves
across rows against exactly integrated boundaries, nested data where n is either variable,
resuming, the results' shape, the report and the phase diagram."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import brentq

from phasedsl.analysis.boundaries import Boundary, trace_boundaries
from phasedsl.analysis.records import Event, PointSummary
from phasedsl.language.check import check
from phasedsl.language.errors import SpecError
from phasedsl.language.grid import Cell
from phasedsl.language.syntax import parse
from phasedsl.pipeline import Execution, run_spec

ROOT = Path(__file__).resolve().parents[1]

# Two wells at w = -1 and w = +1, the right one e^2 times as curved (K'' = 8/e and 8e), the
# right one raised by theta. Laplace: F_right - F_left = n theta + log(e^2)/2, so the
# preferred phase changes at theta_c(n) ~ -1/n; the test integrates it exactly instead.
TILTED = """
experiment "tilted wells"
{sweeps}
param w in [-2, 2]
prior uniform
energy K = (w^2 - 1)^2 * exp(w) + theta * (w + 1) / 2
phase left  = w < 0
phase right = w > 0
sample quadrature {{ points = 2001 }}
report {{ lcoef = 0 }}
"""
THETA_FIRST = "sweep theta over linspace(-0.3, 0.05, 8)\nsweep n over 5, 10, 20, 40"
N_FIRST = "sweep n over linspace(2, 44, 15)\nsweep theta over -0.2, -0.1, -0.05"


def checked_text(text: str, overrides=None, name="grid.phase"):
    return check(parse(text, name), overrides)


def tilted_k(w: float, theta: float) -> float:
    return (w * w - 1) ** 2 * math.exp(w) + theta * (w + 1) / 2


def log_ratio(theta: float, n: float) -> float:
    """log(mass right / mass left), both integrated adaptively to 1e-13."""
    def mass(lo, hi):
        return quad(lambda w: math.exp(-n * tilted_k(w, theta)), lo, hi, epsabs=0,
                    epsrel=1e-13, limit=200)[0]
    return math.log(mass(0, 2)) - math.log(mass(-2, 0))


@pytest.fixture(scope="module")
def theta_first(tmp_path_factory):
    """The grid run through the Python API (which records the spec's text)."""
    import phasedsl
    from phasedsl.pipeline.spec import load_text

    folder = tmp_path_factory.mktemp("grid")
    spec = load_text(TILTED.format(sweeps=THETA_FIRST), "grid.phase")
    return folder, phasedsl.run(spec, folder, plots=False).results


# ---------------------------------------------------------------- the language


def test_two_sweeps_make_a_grid_row_by_row():
    checked = checked_text(TILTED.format(sweeps=THETA_FIRST))
    assert checked.sweep_name == "theta" and checked.grid.name == "n"
    assert checked.grid.values == (5.0, 10.0, 20.0, 40.0)
    assert checked.n == checked.grid.symbol  # `sweep n` is the energy's n
    cells = checked.sweep_points()
    assert len(cells) == 8 * 4
    assert cells[0] == Cell(-0.3, 5.0) and cells[1] == Cell(-0.25, 5.0)  # first variable inner
    assert cells[8] == Cell(-0.3, 10.0)
    assert checked.value_text(cells[9]) == "theta = -0.25, n = 10"


def test_one_sweep_has_no_grid():
    checked = checked_text(TILTED.format(sweeps="sweep theta over 0, 1\nlet n = 5"))
    assert checked.grid is None
    assert checked.sweep_points() == (0.0, 1.0)


def test_the_same_variable_twice_is_an_error():
    with pytest.raises(SpecError) as exc:
        checked_text(TILTED.format(sweeps="sweep theta over 0, 1\nsweep theta over 2, 3\n"
                                          "let n = 5"))
    assert "sweep `theta` is defined twice" in exc.value.render()
    assert "grid.phase:4:7" in exc.value.render()


def test_a_third_sweep_is_an_error():
    with pytest.raises(SpecError) as exc:
        checked_text(TILTED.format(sweeps=THETA_FIRST + "\nsweep a over 1, 2"))
    assert "`sweep` is given twice" in exc.value.render()


def test_grid_size_limit():
    with pytest.raises(SpecError) as exc:
        checked_text(TILTED.format(sweeps="sweep theta over linspace(0, 1, 200)\n"
                                          "sweep n over linspace(1, 100, 100)"))
    assert "the sweep is too long" in exc.value.render()
    assert "at most 10000 cells of the grid" in exc.value.render()
    assert "found: 20000" in exc.value.render()


def test_checks_run_over_every_cell():
    """A value positive at every value of each variable alone but not at every cell."""
    text = TILTED.format(sweeps=THETA_FIRST) + "beta = 1 + theta * n / 4\n"
    with pytest.raises(SpecError) as exc:
        checked_text(text)
    assert "`beta` must be positive at every sweep value" in exc.value.render()
    assert "at theta = -0.3, n = 20" in exc.value.render()


def test_quick_thins_both_variables():
    from phasedsl.pipeline.spec import load_text

    text = TILTED.format(sweeps="sweep theta over linspace(-0.3, 0, 20)\n"
                                "sweep n over linspace(5, 100, 20)")
    checked = load_text(text, "grid.phase", quick=True).checked
    assert len(checked.sweep_values) == 8 and len(checked.grid.values) == 8
    assert checked.grid.values[0] == 5 and checked.grid.values[-1] == 100


def test_sweep_beta_is_the_inverse_temperature():
    text = TILTED.format(sweeps="sweep theta over 0, 1\nsweep beta over 0.5, 1\nlet n = 5")
    checked = checked_text(text)
    assert checked.beta == checked.grid.symbol
    assert not checked.warnings


# ---------------------------------------------------------------- the traced boundary


def test_boundary_theta_c_of_n_is_exact(theta_first):
    """Each row's crossover is located by bisection (30 halvings of the 0.05 spacing: a
    bracket of 5e-11); the sweep value reaches the compiled density as float32 (relative
    6e-8, 1.2e-8 at |theta| <= 0.2) and the quadrature's log mass ratio is good to ~1e-8
    against a slope of about n per unit theta, so 1e-6 is far inside what is achievable
    and three orders below anything the grid's spacing could give."""
    _, results = theta_first
    (curve,) = [b for b in results["boundaries"] if b["kind"] == "crossover" and b["axis"] == 0]
    assert set(curve["phases"]) == {"left", "right"}
    assert [p["value2"] for p in curve["points"]] == [5.0, 10.0, 20.0, 40.0]
    for p in curve["points"]:
        n = p["value2"]
        exact = brentq(lambda t: log_ratio(t, n), -0.5, 0.2, xtol=1e-13)
        assert p["value"] == pytest.approx(exact, abs=1e-6)
        assert p["band"][0] <= p["value"] <= p["band"][1]
        assert p["band"][1] - p["band"][0] < 1e-6
        assert p["resolved"] and p["refined"] == "bisection"
        assert exact == pytest.approx(-1 / n, rel=0.02)  # the Laplace prediction, roughly


def test_boundary_traced_along_the_columns_is_exact(theta_first):
    """The same boundary traced along n at each theta (bisection in n over brackets of 5 to
    20: 30 halvings leave 2e-8; n reaches the density as float32, relative 6e-8, 2.4e-6 at
    n = 40): n_c(theta) to 1e-5 at every column the boundary crosses."""
    _, results = theta_first
    (curve,) = [b for b in results["boundaries"] if b["kind"] == "crossover" and b["axis"] == 1]
    columns = [p["value"] for p in curve["points"]]
    assert columns == pytest.approx([-0.15, -0.1, -0.05])  # where n_c(theta) is in [5, 40]
    for p in curve["points"]:
        exact = brentq(lambda n: log_ratio(p["value"], n), 2, 60, xtol=1e-12)
        assert p["value2"] == pytest.approx(exact, abs=1e-5)
        assert p["band"][0] <= p["value2"] <= p["band"][1] and p["refined"] == "bisection"


def test_boundary_n_c_of_theta_is_exact(tmp_path):
    """The same boundary with n as the first variable (a real number for energies):
    bisection in n over the spacing 3 (a bracket of 3e-9); n reaches the density as
    float32 (relative 6e-8: 1.2e-6 at n = 20); 1e-5 holds that with room."""
    results = run_spec(checked_text(TILTED.format(sweeps=N_FIRST)), tmp_path)
    (curve,) = [b for b in results["boundaries"] if b["kind"] == "crossover" and b["axis"] == 0]
    assert [p["value2"] for p in curve["points"]] == [-0.2, -0.1, -0.05]
    for p in curve["points"]:
        theta = p["value2"]
        exact = brentq(lambda n: log_ratio(theta, n), 2, 44, xtol=1e-12)
        assert p["value"] == pytest.approx(exact, abs=1e-5)


def test_example_4_1_n_c(tmp_path):
    """Example 4.1's n-sweep with quadrature: the crossover at n_c = 17.633 to 1e-3."""
    t = (0.1 / 16) ** (1 / 3)

    def k(w):
        return (w + 1) ** 2 * ((w - 1 - t) ** 4 + 4 * t ** 3 - t ** 4)

    def ratio(n):
        acc = quad(lambda w: math.exp(-n * k(w)), -1.5, -0.5, epsabs=0, epsrel=1e-12)[0]
        simple = quad(lambda w: math.exp(-n * k(w)), 0.5, 1.5, epsabs=0, epsrel=1e-12)[0]
        return math.log(acc) - math.log(simple)

    n_c = brentq(ratio, 10, 25, xtol=1e-10)
    assert n_c == pytest.approx(17.633, abs=1e-3)
    path = ROOT / "specs/example_4_1_first_order.phase"
    checked = check(parse(path.read_text(), str(path)), {"engine": "quadrature", "lcoef": "0"})
    results = run_spec(checked, tmp_path)
    (cross,) = [e for e in results["events"] if e["kind"] == "crossover"]
    assert cross["refined"] == "bisection"
    assert cross["at"] == pytest.approx(n_c, abs=1e-3)
    assert cross["interval"][1] - cross["interval"][0] < 1e-3


# ---------------------------------------------------------------- the run folder


def test_grid_results_shape(theta_first):
    folder, results = theta_first
    assert results["sweep"]["name"] == "theta"
    assert results["sweep"]["values"] == pytest.approx([-0.3, -0.25, -0.2, -0.15, -0.1, -0.05,
                                                        0.0, 0.05], abs=1e-15)
    assert results["sweep2"] == {"name": "n", "values": [5.0, 10.0, 20.0, 40.0]}
    product = [(x, y) for y in results["sweep2"]["values"] for x in results["sweep"]["values"]]
    added = [tuple(c) for c in results["sweep"]["added"]]  # refinement's cells, row by row
    assert added == sorted(added, key=lambda c: (c[1], c[0])) and not set(added) & set(product)
    cells = [(p["value"], p["value2"]) for p in results["points"]]
    assert cells == sorted(product + added, key=lambda c: (c[1], c[0]))  # row by row
    assert [c for c in cells if c not in added] == product
    assert len(list((folder / "draws").glob("point_*.npz"))) == 32 + len(added)
    assert all("value2" in e for e in results["events"])
    assert results["effective"]["n"] == [y for y in (5.0, 10.0, 20.0, 40.0) for _ in range(8)]
    for b in results["boundaries"]:
        assert Boundary.from_json(b).to_json() == b
    ninth = next(p for p in results["points"] if (p["value"], p["value2"]) == (-0.25, 10.0))
    point = PointSummary.from_json(ninth)
    assert point.value == Cell(-0.25, 10.0)  # a Cell again, from value and value2
    assert point.to_json() == ninth


def test_one_dimensional_results_keep_their_shape(tmp_path):
    text = TILTED.format(sweeps="sweep theta over -0.3, -0.1, 0.1\nlet n = 10")
    results = run_spec(checked_text(text), tmp_path)
    assert "sweep2" not in results and "boundaries" not in results
    assert all("value2" not in p for p in results["points"])
    assert all("value2" not in e for e in results["events"])


def test_a_killed_grid_resumes_with_only_the_unfinished_cells(tmp_path):
    text = TILTED.format(sweeps="sweep theta over -0.2, 0\nsweep n over 5, 20")
    seen = []

    def stop(point):
        if len(seen) == 2:
            raise KeyboardInterrupt
        seen.append((point["value"], point["value2"]))

    with pytest.raises(KeyboardInterrupt):
        run_spec(checked_text(text), tmp_path, execution=Execution(on_point=stop))
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["status"] == "interrupted"
    assert [(p["value"], p["value2"]) for p in saved["points"]] == seen + [(-0.2, 20.0)]
    asked = []
    results = run_spec(checked_text(text), tmp_path, execution=Execution(
        progress=lambda count, total, value: asked.append((tuple(value), total))))
    assert asked == [((0.0, 20.0), 1)]
    assert results["status"] == "complete" and results["timings"]["points_resumed"] == 3
    fresh = run_spec(checked_text(text), tmp_path / "fresh")
    assert [p["phases"] for p in results["points"]] == [p["phases"] for p in fresh["points"]]
    assert results["boundaries"] == fresh["boundaries"]


# ---------------------------------------------------------------- nested data


NETWORK = """
{sweeps}
data {{ x ~ uniform(-1, 1)^2; noise = 0.5; seed = 3 }}
model network(width = 1)
truth network(width = 1) {{ w = [a, 1] }}
phase up = q[1] > 0
"""


@pytest.mark.parametrize("sweeps", ["sweep n over 10, 25\nsweep a over 0.5, 1",
                                    "sweep a over 0.5, 1\nsweep n over 10, 25"])
def test_n_sweeps_nest_their_data(sweeps):
    """Where n is either variable, one data set is drawn at the grid's largest n and each
    cell uses its first n rows."""
    from phasedsl.lower.compile import compile_spec

    checked = checked_text(NETWORK.format(sweeps=sweeps))
    compiled = compile_spec(checked)
    rows = {}
    for cell in checked.sweep_points():
        n, a = (cell[0], cell[1]) if checked.sweep_name == "n" else (cell[1], cell[0])
        ctx = compiled.context(cell)
        assert ctx.xt.shape == (2, 25)
        assert float(np.sum(ctx.mask)) == n and np.all(np.asarray(ctx.mask)[: int(n)] == 1)
        rows[(n, a)] = np.asarray(ctx.y)
    for a in (0.5, 1.0):  # the 10-row data set is the first 10 rows of the 25-row one
        np.testing.assert_array_equal(rows[(10.0, a)][:10], rows[(25.0, a)][:10])


# ---------------------------------------------------------------- analysis and output


def test_trace_boundaries_joins_rows_into_curves():
    def cross(lo, hi, at, source="a", target="b", resolved=True):
        return Event(1, "crossover", (lo, hi), source=source, target=target, at=at,
                     interval=(at - 0.01, at + 0.01), resolved=resolved)

    rows = [(1.0, [cross(0, 1, 0.5), Event(2, "destruction", (1, 2), phase="a")]),
            (2.0, [cross(1, 2, 1.5, "b", "a", resolved=False)]),
            (3.0, [cross(0, 1, 0.2), cross(2, 3, 2.7)])]
    curves = trace_boundaries(rows)
    assert [(c.kind, c.phases, c.axis, c.branch) for c in curves] == [
        ("crossover", ("a", "b"), 0, 0), ("destruction", ("a",), 0, 0),
        ("crossover", ("a", "b"), 0, 1)]
    main = curves[0]
    assert [p.value2 for p in main.points] == [1.0, 2.0, 3.0]
    assert (main.points[0].value, main.points[0].lo, main.points[0].hi) == (0.5, 0.49, 0.51)
    unresolved = main.points[1]  # within the noise: the whole bracket, its middle
    assert (unresolved.value, unresolved.lo, unresolved.hi, unresolved.resolved) == (
        1.5, 1.0, 2.0, False)
    assert curves[1].points[0].lo == 1 and curves[1].points[0].hi == 2
    assert [p.value for p in curves[2].points] == [2.7]
    (column,) = trace_boundaries([(0.25, [cross(5, 10, 7.5)])], axis=1)
    assert (column.axis, column.points[0].value, column.points[0].value2) == (1, 0.25, 7.5)
    assert Boundary.from_json(column.to_json()) == column


def test_report_and_phase_diagram(theta_first, tmp_path):
    from phasedsl.pipeline.runs import open_run, write_figures

    folder, results = theta_first
    run = open_run(folder)
    text = run.text()
    assert "sweep theta: 8 values x n: 4 values (32 cells)" in text
    assert "  n = 40  R R R R R R L L" in text
    assert "  n =  5  R R R L L L L L" in text
    assert "crossover right | left along theta: 4 of 4 rows" in text
    assert "crossover left | right along n: 3 of 8 columns" in text
    assert "theta = -0.1: n = 10.009 [10.009, 10.009] exact (bisection)" in text
    assert "n = 10: theta = -0.10009 [-0.10009, -0.10009] exact (bisection)" in text
    assert "| n | theta | left | right |" in run.markdown()
    table = run.masses()
    assert table["values"][9] == -0.25 and table["values2"][9] == 10.0
    assert run.draws((-0.25, 10.0))["params"].shape[-1] == 1
    assert [b.kind for b in run.boundaries][0] == "crossover"
    paths = write_figures(tmp_path, results, formats=("png", "svg"), dpi=60)
    assert sorted(p.name for p in paths) == ["phase_diagram.png", "phase_diagram.svg"]
    assert all(p.stat().st_size > 0 for p in paths)


def test_flagged_cells_are_marked(theta_first):
    from phasedsl.output.report import console, render

    _, results = theta_first
    doc = json.loads(json.dumps(results))
    doc["points"][9]["diagnostics"]["mixing_ok"] = False
    c = console()
    with c.capture() as cap:
        c.print(render(doc))
    text = cap.get()
    assert "  n = 10  R r R R L L L L" in text
    assert f"flagged cells (1 of {len(doc['points'])}" in text  # added cells too
    assert "theta = -0.25, n = 10" in text


def test_reanalysis_finds_the_boundaries_again(theta_first, tmp_path):
    """A higher floor moves the creation of `left` to larger theta; the crossover stays."""
    import shutil

    from phasedsl.pipeline.reanalyse import reanalyse, respec

    folder, results = theta_first
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    again = reanalyse(copy, respec(results, {"report.floor": "0.1"}))
    before = {b["kind"]: b for b in results["boundaries"] if b["axis"] == 0}
    after = {b["kind"]: b for b in again["boundaries"] if b["axis"] == 0}
    assert after["crossover"]["points"] == before["crossover"]["points"]
    (old,) = [p for p in before["creation"]["points"] if p["value2"] == 40.0]
    new = [p for p in after["creation"]["points"] if p["value2"] == 40.0]
    assert new and new[0]["value"] > old["value"]
    assert json.loads((copy / "results.json").read_text())["boundaries"] == again["boundaries"]


def test_a_grid_document_is_validated_by_cell(theta_first):
    """Cells of one column share a `value`; only a repeated (value, value2) is damage."""
    from phasedsl.rundir import RunFolderError, validate

    _, results = theta_first
    doc = json.loads(json.dumps(results))
    assert validate(doc, "results.json") is doc
    doc["points"][9]["value2"] = doc["points"][1]["value2"]  # cell 9 now repeats cell 1
    with pytest.raises(RunFolderError, match="two points have the same sweep value"):
        validate(doc, "results.json")
    doc["points"][9]["value2"] = "ten"
    with pytest.raises(RunFolderError, match="has no numeric `value`"):
        validate(doc, "results.json")


@pytest.mark.slow
def test_smc_grid_boundary_brackets_the_exact_one(tmp_path):
    """With tempered SMC (sampled masses, errors from 4 runs) each row's crossover band, the
    log mass ratio +- 2 se interpolated between sweep values, holds the exact theta_c(n)."""
    text = TILTED.format(sweeps="sweep theta over -0.3, -0.15, 0\nsweep n over 5, 10, 20")
    checked = checked_text(text, {"engine": "smc", "particles": "1000", "runs": "4"})
    results = run_spec(checked, tmp_path)
    (curve,) = [b for b in results["boundaries"] if b["kind"] == "crossover" and b["axis"] == 0]
    assert [p["value2"] for p in curve["points"]] == [5.0, 10.0, 20.0]
    for p in curve["points"]:
        exact = brentq(lambda t: log_ratio(t, p["value2"]), -0.5, 0.2, xtol=1e-13)
        assert p["band"][0] <= exact <= p["band"][1]


def test_n_on_the_second_axis_is_checked_against_a_data_file(tmp_path):
    rows = np.random.default_rng(0).uniform(-1, 1, (30, 3))
    np.savetxt(tmp_path / "d.csv", rows, delimiter=",", header="x1,x2,y", comments="")
    text = ("sweep eps over 0.1, 0.2\nsweep n over 10, {top}\ndata {{ file = \"d.csv\" }}\n"
            "model network(width = 1)\nphase up = q[1] > eps\n")
    path = str(tmp_path / "g.phase")
    checked = check(parse(text.format(top=30), path))
    assert checked.grid.name == "n" and checked.n == checked.grid.symbol
    with pytest.raises(SpecError) as exc:
        check(parse(text.format(top=40), path))
    assert "the data file has fewer rows than `n`" in exc.value.render()
    assert "g.phase:2:1" in exc.value.render() and "found: n = 40" in exc.value.render()


# ---------------------------------------------------------------- refinement of a grid


def left_mass(theta: float, n: float) -> float:
    """The exact mass of `left` (w < 0), integrated adaptively to 1e-13."""
    def mass(lo, hi):
        return quad(lambda w: math.exp(-n * tilted_k(w, theta)), lo, hi, epsabs=0,
                    epsrel=1e-13, limit=200)[0]
    left = mass(-2, 0)
    return left / (left + mass(0, 2))


def product_bracket(results, b, p):
    """The bracket the product grid alone gives the floor crossing at ``p`` of curve ``b``:
    the two values of its line's variable around the crossing (what a run without
    refinement reports as its band)."""
    along = results["sweep"]["values"] if b["axis"] == 0 else results["sweep2"]["values"]
    at = p["value"] if b["axis"] == 0 else p["value2"]
    lo = max(v for v in along if v <= at)
    hi = min(v for v in along if v >= at)
    return lo, hi


def test_refined_floor_boundaries_are_within_the_resolution_of_the_exact_curve(theta_first):
    """Quadrature bisects crossovers without cells; the floor crossings of `left` (its mass
    meets report.floor = 0.005) are refined with added cells: along theta in each row (width
    0.005 x the span 0.35 = 0.00175) and along n in each column (0.005 x the span 35 =
    0.175). Each point's band must hold the exact crossing (its mass integrated to 1e-13;
    the engine's masses are good to ~1e-8, a shift of ~1e-9 in theta against the band's
    ~1e-3), be at most the width wide, and be narrower than the grid's own bracket."""
    _, results = theta_first
    floor = results["report"]["floor"]
    curves = [b for b in results["boundaries"] if b["kind"] in ("creation", "destruction")]
    assert {b["axis"] for b in curves} == {0, 1}  # rows and columns both refined
    checked = 0
    for b in curves:
        assert b["phases"] == ["left"]
        width = 0.005 * (0.35 if b["axis"] == 0 else 35.0)
        for p in b["points"]:
            lo, hi = p["band"]
            info = p["refinement"]
            assert info["status"] == "located" and info["width"] == pytest.approx(width)
            assert hi - lo <= width + 1e-12
            if b["axis"] == 0:
                exact = brentq(lambda t: left_mass(t, p["value2"]) - floor, lo - 0.05,
                               hi + 0.05, xtol=1e-12)
            else:
                exact = brentq(lambda n: left_mass(p["value"], n) - floor, lo - 5, hi + 5,
                               xtol=1e-10)
            assert lo <= exact <= hi
            g0, g1 = product_bracket(results, b, p)
            assert g1 - g0 >= 8 * (hi - lo)  # 0.05 or 5+ before; 3+ halvings since
            checked += 1
    assert checked >= 4
    assert 0 < len(results["sweep"]["added"]) <= 40  # report.refine_points, whole grid


def test_refined_cells_are_on_one_line_and_keep_the_map_a_product(theta_first):
    from phasedsl.pipeline.grid import columns_of, rows_of

    _, results = theta_first
    xs, ys = results["sweep"]["values"], results["sweep2"]["values"]
    for x, y in results["sweep"]["added"]:
        assert (x in xs) != (y in ys)  # added along a row (y) or a column (x), never both
    points = [PointSummary.from_json(p) for p in results["points"]]
    rows, columns = rows_of(points, ys), columns_of(points, xs)
    assert [y for y, _ in rows] == ys and [x for x, _ in columns] == pytest.approx(xs)
    on_lines = sum(len(r) for _, r in rows) + sum(len(c) for _, c in columns)
    assert on_lines == 2 * 32 + len(results["sweep"]["added"])  # each added cell once
    from phasedsl.output.report import console, render

    c = console()
    with c.capture() as cap:
        c.print(render(results))
    text = cap.get()
    assert "  n = 40  R R R R R R L L" in text  # the map: the product grid only
    assert f"{len(results['sweep']['added'])} cells added inside event brackets" in text


def test_added_cell_indices_come_from_both_coordinates():
    """An added cell's index is ADDED_BASE + 31 bits of the SHA-256 of its two float64s:
    the same whatever order the cells were added in; 1-D indices are unchanged."""
    import hashlib
    import struct

    from phasedsl.rundir import ADDED_BASE, added_index, point_index

    digest = hashlib.sha256(struct.pack("<dd", -0.175, 40.0)).digest()
    expected = ADDED_BASE + int.from_bytes(digest[:4], "little") % ADDED_BASE
    assert added_index(Cell(-0.175, 40.0)) == added_index((-0.175, 40.0)) == expected
    assert added_index(Cell(40.0, -0.175)) != expected
    one = hashlib.sha256(struct.pack("<d", 0.3)).digest()
    assert added_index(0.3) == ADDED_BASE + int.from_bytes(one[:4], "little") % ADDED_BASE
    doc = {"sweep": {"values": [0.0, 1.0]}, "sweep2": {"values": [5.0, 10.0]}}
    assert point_index(doc, (1.0, 10.0)) == 3  # product cells: row by row
    assert point_index(doc, Cell(0.5, 10.0)) == added_index(Cell(0.5, 10.0))


def test_a_refined_grid_resumes_without_sampling(theta_first):
    from phasedsl.pipeline.spec import load_text
    from phasedsl.rundir import added_index, load_draws, point_index

    folder, results = theta_first
    for x, y in results["sweep"]["added"]:
        assert point_index(results, (x, y)) == added_index(Cell(x, y))
        assert load_draws(folder, added_index(Cell(x, y))) is not None
    sampled = []
    again = run_spec(load_text(TILTED.format(sweeps=THETA_FIRST), "grid.phase").checked,
                     folder, execution=Execution(on_point=sampled.append,
                                                 progress=lambda *a: sampled.append(a)))
    assert sampled == []
    assert again["timings"]["points_resumed"] == len(results["points"])
    assert again["sweep"]["added"] == results["sweep"]["added"]
    assert again["points"] == results["points"] and again["boundaries"] == results["boundaries"]


def test_a_grid_documents_added_cells_are_validated(theta_first):
    from phasedsl.rundir import RunFolderError, validate

    _, results = theta_first
    doc = json.loads(json.dumps(results))
    doc["sweep"]["added"][0] = doc["sweep"]["added"][0][0]  # a number, not a pair
    with pytest.raises(RunFolderError, match=r"`sweep.added` is not a list of cells"):
        validate(doc, "results.json")


def test_whole_number_axes_add_whole_numbers():
    """A network's n counts data rows: a column's bracket [10, 25] is halved at 17 (rounded
    down), and a bracket of neighbouring whole numbers is as located as it can be."""
    from phasedsl.analysis.records import Mass, PhaseMass
    from phasedsl.pipeline.grid import grid_midpoints, line_axes

    checked = checked_text(NETWORK.format(sweeps="sweep a over 0.5, 1\nsweep n over 10, 25"))
    rows, columns = line_axes(checked)
    assert not rows.whole and rows.width == pytest.approx(0.0025)
    assert columns.whole and columns.width == 1.0  # 0.005 x 15 = 0.075, at least 1 row

    def cell(a, n, up):
        return PointSummary(Cell(a, n), {"up": PhaseMass(up, 1e-4)}, Mass(1 - up, None),
                            "up", {}, False, None, {})

    points = [cell(0.5, 10.0, 0.5), cell(1.0, 10.0, 0.5),
              cell(0.5, 25.0, 0.001), cell(1.0, 25.0, 0.5)]
    # `up` is created along the row n = 25 and destroyed along the column a = 0.5; the
    # row's bracket is 200 widths wide, the column's 15: the row's first
    assert grid_midpoints(points, checked) == [Cell(0.75, 25.0), Cell(0.5, 17.0)]
    near = [cell(0.5, 17.0, 0.5), cell(0.5, 18.0, 0.001), cell(1.0, 17.0, 0.5),
            cell(1.0, 18.0, 0.001)]
    checked = checked_text(NETWORK.format(sweeps="sweep a over 0.5, 1\nsweep n over 17, 18"))
    assert grid_midpoints(near, checked) == []


def test_export_of_a_grid_loads_in_arviz(theta_first, tmp_path):
    az = pytest.importorskip("arviz")
    from phasedsl.pipeline.export import export_arviz

    folder, results = theta_first
    path = export_arviz(folder, results, tmp_path / "grid.nc")
    idata = az.from_netcdf(str(path))
    post = idata.posterior
    cells = [(p["value"], p["value2"]) for p in results["points"]]
    assert post["w"].dims == ("chain", "draw", "cell")
    assert post.sizes["cell"] == len(cells) == 32 + len(results["sweep"]["added"])
    assert list(zip(post["theta"].values, post["n"].values)) == cells
    added = {tuple(c) for c in results["sweep"]["added"]}
    assert list(post["added"].values) == [c in added for c in cells]
    assert post["in_phase"].dims == ("chain", "draw", "cell", "phase")
    assert idata.sample_stats["weights"].dims == ("chain", "draw", "cell")
    summary = idata.phase_summary
    assert list(summary["mass"].sel(phase="left").values) == [
        p["phases"]["left"]["mass"] for p in results["points"]]
    # the weighted indicator means are the quadrature's masses, cell by cell
    w = idata.sample_stats["weights"]
    means = (post["in_phase"].sel(phase="left") * w).sum(("chain", "draw")) / w.sum(
        ("chain", "draw"))
    assert means.values == pytest.approx(summary["mass"].sel(phase="left").values, abs=1e-6)
    grid = summary["mass"].set_index(cell=["theta", "n"]).unstack("cell")
    assert grid.sel(theta=-0.25, n=10.0, phase="left") == pytest.approx(
        results["points"][cells.index((-0.25, 10.0))]["phases"]["left"]["mass"])
    assert json.loads(post.attrs["sweep_variables"]) == ["theta", "n"]


# the right well of w^4 - 2 w^2 + theta w vanishes at THETA_C whatever n (a saddle-node of K)
DOUBLE_WELL = """experiment "tilted double well grid"
sweep theta over linspace(0, 2, 11)
sweep n over 10, 20
param w in [-2, 2]
prior uniform
energy K = w^4 - 2*w^2 + theta*w
phase right = w > 0
phase left = w <= 0
sample quadrature { points = 401 }
report { lcoef = 0 }
"""


def test_where_a_well_vanishes_is_a_curve_of_its_own(tmp_path):
    """The local-minimum criterion along each row: K' = 4w^3 - 4w + theta has a double root
    at theta_c = 8 / (3 sqrt 3) (w = 1/sqrt 3), where the right well meets its saddle, at
    every n; the flows bisect it to the row's width (0.005 x 2 = 0.01). The floor crossing
    of `right` is elsewhere (its mass decays long before, faster at larger n) and stays a
    curve of its own."""
    theta_c = 8 / (3 * math.sqrt(3))
    results = run_spec(checked_text(DOUBLE_WELL), tmp_path)
    (well,) = [b for b in results["boundaries"] if b.get("criterion") == "minimum"]
    assert (well["kind"], well["phases"], well["axis"]) == ("destruction", ["right"], 0)
    assert [p["value2"] for p in well["points"]] == [10.0, 20.0]
    for p in well["points"]:
        lo, hi = p["band"]
        assert lo <= theta_c <= hi and hi - lo <= 0.01 and p["refined"] == "bisection"
    (floor,) = [b for b in results["boundaries"] if b["kind"] == "destruction"
                and b["axis"] == 0 and not b.get("criterion")]
    at = [p["value"] for p in floor["points"]]
    assert at[1] < at[0] < 0.5  # the mass meets the floor sooner at n = 20
    assert all(p["minima"]["left"]["holds"] for p in results["points"])
    row = [e for e in results["events"] if e["kind"] == "destruction" and e["value2"] == 10.0]
    assert row[0]["interval"] == well["points"][0]["band"]  # the event is the well's
    assert row[0]["floor"]["between"][1] <= 0.5  # its floor crossing the secondary line
    assert Boundary.from_json(well).to_json() == well
    from phasedsl.output.report import console, render

    c = console()
    with c.capture() as cap:
        c.print(render(results))
    assert "destruction of right (local minimum) along theta: 2 of 2 rows" in cap.get()
    assert "the phase stops holding a local minimum (gradient flows, bisected)" in cap.get()
