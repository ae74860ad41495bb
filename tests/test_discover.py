"""Phases found, not only declared (``phasedsl discover``): basins against energies whose
minima and basin masses are known exactly, the symmetries that merge copies of one critical
point, and the emitted ``phase`` lines (checked, and reproducing the masses when run)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import brentq

from phasedsl.analysis.basins import (Symmetry, canonical, components, condition_distance,
                                      fit_radius, flow_starts)
from phasedsl.measure.lcoef import n_beta
from phasedsl.language.errors import UsageError
from phasedsl.pipeline.spec import load_text
from specfiles import two_node_network

DOUBLE = """experiment "tilted double well"
sweep a over 0.3
param w in [-2, 2]
prior uniform
energy K = (w^2 - 1)^2 + a * w
let n = 5
sample quadrature { points = 4001 }
"""

FOUR = """experiment "two tilted double wells"
sweep a over 0.2
param x in [-2, 2]
param y in [-2, 2]
prior uniform
energy K = (x^2 - 1)^2 + (y^2 - 1)^2 + a * x
let n = 4
phase east = ball([x, y], [1, 1], 1/2)
sample quadrature { points = 401; subdivisions = 2 }
"""

RING = """experiment "a ring of minima"
sweep a over 0
param x in [-2, 2]
param y in [-2, 2]
prior uniform
energy K = (x^2 + y^2 - 1)^2 + a * x
let n = 20
phase ring = annulus([x, y], 1, 1/4)
sample quadrature { points = 401; subdivisions = 2 }
"""


def discovered(text: str, value: float, **options):
    from phasedsl.pipeline.discovery import discover

    spec = load_text(text)
    (point,) = discover(spec, [value], source=text, **options).points
    return spec, point


def well_masses(k, t: float, lo: float, hi: float) -> tuple[list[float], list[float]]:
    """Exact basins of the 1-D potential ``t k(w)`` on ``[lo, hi]``: the minima, and the
    mass of each stretch between the local maxima (each a basin of the gradient flow)."""
    grid = np.linspace(lo, hi, 20001)
    vals = k(grid)
    inner = np.flatnonzero((vals[1:-1] > vals[:-2]) & (vals[1:-1] > vals[2:])) + 1
    cuts = [lo] + [brentq(lambda w: (k(w + 1e-7) - k(w - 1e-7)), grid[i - 1], grid[i + 1])
                   for i in inner] + [hi]
    mass = [quad(lambda w: math.exp(-t * k(w)), a, b, epsabs=0, epsrel=1e-12)[0]
            for a, b in zip(cuts[:-1], cuts[1:])]
    mins = [grid[i] for i in np.flatnonzero((vals[1:-1] < vals[:-2]) & (vals[1:-1] < vals[2:])) + 1]
    return mins, list(np.array(mass) / sum(mass))


def test_double_well_basins_are_the_exact_stretches_between_maxima():
    spec, point = discovered(DOUBLE, 0.3)
    t = n_beta(spec.checked, 0.3)
    mins, mass = well_masses(lambda w: (w ** 2 - 1) ** 2 + 0.3 * w, t, -2, 2)
    assert len(point.basins) == 2 and point.coverage == pytest.approx(1.0)
    got = sorted(point.basins, key=lambda b: b.at[0])
    for b, m, want in zip(got, mins, mass):
        assert abs(b.at[0] - m) < 1e-3  # the flow ends at the minimum (grid 1e-3)
        assert b.mass == pytest.approx(want, abs=2e-3) and b.se == 0.0
        assert b.converged and b.captured == pytest.approx(1.0, abs=1e-3)
        assert b.leak < 1e-3
    # in one dimension no descent crosses a maximum: both flows agree on every start
    assert point.steps == ("curvature", "spread") and point.shared == ()
    assert all(b.pure == b.reach == pytest.approx(b.mass, abs=1e-12) for b in got)
    # the loss at each critical point is K there
    for b in got:
        assert b.loss == pytest.approx((b.at[0] ** 2 - 1) ** 2 + 0.3 * b.at[0], rel=1e-6)
    # a regular minimum in one dimension: lambda near 1/2 (finite-n bias within 0.2)
    assert all(abs(b.lam - 0.5) < 0.2 for b in got)


@pytest.mark.parametrize("step", ["curvature", "spread"])
def test_four_minima_of_a_separable_energy_with_product_masses(step):
    """Either flow step (``discover(flow_step=...)``): a diagonal step keeps a separable
    energy's flow separable, so both give the exact product masses."""
    spec, point = discovered(FOUR, 0.2, flow_step=step)
    t = n_beta(spec.checked, 0.2)
    xmins, xmass = well_masses(lambda w: (w ** 2 - 1) ** 2 + 0.2 * w, t, -2, 2)
    ymins, ymass = well_masses(lambda w: (w ** 2 - 1) ** 2, t, -2, 2)
    assert len(point.basins) == 4  # every local minimum, none invented
    for b in point.basins:
        i = int(np.argmin([abs(b.at[0] - m) for m in xmins]))
        j = int(np.argmin([abs(b.at[1] - m) for m in ymins]))
        assert abs(b.at[0] - xmins[i]) < 0.02 and abs(b.at[1] - ymins[j]) < 0.02
        # the flow of a separable energy is separable: each basin is a product of stretches
        assert b.mass == pytest.approx(xmass[i] * ymass[j], abs=5e-3)
    assert sum(b.mass for b in point.basins) == pytest.approx(1.0)
    assert point.shared == ()  # both steps keep the flow separable: they agree everywhere


SLANTED = """experiment "a slanted double well"
sweep a over 0.2
param x in [-3, 3]
param y in [-1, 1]
prior uniform
energy K = ((x + 2*y)^2 / 4 - 1)^2 + (2*x - y)^2 + a * x
let n = 3
sample quadrature { points = 201; subdivisions = 2 }
"""


def test_where_the_two_flows_part_each_basin_mass_lies_between_pure_and_reach():
    """A valley slanted across the coordinates: a step per coordinate is a metric, and the
    curvature's and the spread's (the box is three times wider in x) bend the flows
    differently near the ridge, so some starts end at different minima. Each flow's masses
    lie between the bounds, which are the same whichever step is the main one, and the pure
    and shared masses partition the whole."""
    runs = {step: discovered(SLANTED, 0.2, flow_step=step)[1]
            for step in ("curvature", "spread")}
    first, second = runs["curvature"], runs["spread"]
    assert len(first.basins) == len(second.basins) == 2
    assert len(first.shared) == 1 and first.shared[0].mass > 1e-4  # they do part
    for b, c in zip(first.basins, second.basins):
        assert np.allclose(b.at, c.at, atol=1e-6)
        assert (b.pure, b.reach) == pytest.approx((c.pure, c.reach), abs=1e-12)
        assert b.pure < b.reach
        for mass in (b.mass, c.mass):
            assert b.pure - 1e-12 <= mass <= b.reach + 1e-12
    total = sum(b.pure for b in first.basins) + first.shared[0].mass
    assert total == pytest.approx(1.0, abs=1e-9)
    assert first.shared[0].basins == ("basin1", "basin2")


def test_two_flows_basins_at_one_minimum_get_one_number_and_a_ridge_end_joins_nothing():
    """``_matched``: each basin of the check's flow takes the number of the main flow's
    basin its critical point joins. Two ends at one minimum are one basin; an end stopped
    exactly on the ridge between two minima (where the flow cannot leave it) is no critical
    point: its basin stays apart, and were it matched it would join one minimum, never
    bridge the main flow's two (the straight path from it down to either does not rise)."""
    from phasedsl.lower.compile import compile_spec
    from phasedsl.pipeline.discovery import _Flows, _matched

    compiled = compile_spec(load_text(FOUR).checked)
    flows = _Flows(compiled, 50, x64=False)
    sd = np.array([1.0, 1.0])
    ctx = flows.context(compiled, 0.2)
    lr0, dt = np.asarray(0.1 * sd, np.float32), np.asarray(0.2 * sd ** 2 / 4, np.float32)

    def descend(p):
        return flows.chunked(lambda q, c: flows.settle(q, lr0, dt, c), p, ctx=ctx)[0]

    # the main flow's ends 0-1 (basins 0, 1), the check's 2-3 (basins 2, 3)
    ends = np.array([[-1.02, 1.0], [-1.02, -1.0], [-1.021, 1.0005], [-1.02, 0.0]])
    (energy,) = flows.chunked(flows.potential, ends, ctx=ctx)
    labels = np.array([0, 1, 2, 3])
    symmetry = Symmetry("energy", names=("x", "y"))
    got = _matched(flows, ends, energy, labels, np.array([True, True, True, False]),
                   descend, ctx, symmetry)
    assert list(got) == [0, 1, 0, 2]
    forced = _matched(flows, ends, energy, labels, np.ones(4, bool), descend, ctx, symmetry)
    assert forced[0] != forced[1] and forced[3] in (forced[0], forced[1])
    assert forced[2] == forced[0]


def test_the_shared_mass_is_said_in_words_per_pair():
    from phasedsl.output.discover import render_discovery, shared_lines

    point = {"value": 1.0, "coverage": 1.0, "rest": 0.0, "condition_coverage": None,
             "flows": ["curvature", "spread"],
             "shared": [{"basins": ["basin1", "basin3"], "mass": 0.4, "se": 0.02},
                        {"basins": ["basin2", "rest"], "mass": 0.05, "se": 0.01}],
             "basins": [{"name": "basin1", "mass": 0.5, "se": 0.03, "pure": 0.2,
                         "reach": 0.65, "loss": 0.1, "lambda": 1.5, "lambda_se": 0.1,
                         "captured": 0.9, "leak": 0.1, "converged": True,
                         "description": "x = 1", "condition": "x > 0"}]}
    (line,) = shared_lines(point)
    assert line == ("the curvature and spread steps' flows end at different minima for 0.450 "
                    "of the mass (basin1/basin3 0.400 ± 0.020, basin2/rest 0.050 ± 0.010): "
                    "the mass column is the curvature step's partition of it, and each "
                    "basin's mass lies between its pure (every flow) and reach (some flow) "
                    "masses")
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(render_discovery({"sweep": "a", "points": [point]}))
    text = console.export_text()
    assert "pure - reach" in text and "0.200 - 0.650" in text
    assert shared_lines({**point, "flows": ["curvature"]}) == []


def test_a_basin_only_the_check_reaches_is_shown_and_not_written():
    """Its mass under the main flow is 0, so a phase written for it would not reproduce
    it; the report shows it with its bounds, the phase line commented out."""
    from rich.console import Console

    from phasedsl.analysis.basins import Basin
    from phasedsl.output.discover import render_discovery
    from phasedsl.pipeline.discovery import PointBasins

    main = Basin("basin1", (1.0,), 0.7, 0.02, 0.1, True, "w = 1", "w > 0", 100,
                 pure=0.4, reach=1.0)
    check = Basin("basin2", (0.5,), 0.0, 0.0, 0.2, True, "w = 0.5", "w > 0.4", 0,
                  pure=0.0, reach=0.3)
    point = PointBasins(1.0, (main, check), 0.7, 0.3, None, "repeats",
                        steps=("curvature", "spread"))
    assert point.written() == [main]
    console = Console(width=200, record=True)
    console.print(render_discovery({"sweep": "a", "points": [point.to_json()]}))
    text = console.export_text()
    assert "phase basin1 = w > 0" in text and "\nphase basin2" not in text
    assert ("# phase basin2 = w > 0.4   (only the check's flows end here: `--write` leaves "
            "it out)") in text


def test_a_single_flow_gives_no_bounds():
    _, point = discovered(DOUBLE, 0.3, check_flow=False)
    assert point.steps == ("curvature",) and point.shared == ()
    assert all(b.pure is None and b.reach is None for b in point.basins)
    assert point.to_json()["flows"] == ["curvature"]


def test_an_unknown_flow_step_is_refused():
    from phasedsl.pipeline.discovery import discover

    with pytest.raises(UsageError, match="flow_step is 'curvature' or 'spread', not 'newton'"):
        discover(load_text(FOUR), [0.2], source=FOUR, flow_step="newton")


def test_a_ring_of_minima_is_one_basin():
    _, point = discovered(RING, 0.0)
    assert len(point.basins) == 1
    (b,) = point.basins
    assert b.mass == pytest.approx(1.0) and abs(math.hypot(*b.at) - 1) < 0.02
    assert b.captured > 0.99


def test_emitted_phases_check_and_reproduce_the_masses_when_run(tmp_path):
    from phasedsl.pipeline.discovery import spec_with_phases
    from phasedsl.pipeline.sweep import run_spec

    _, point = discovered(DOUBLE, 0.3)
    text = spec_with_phases(DOUBLE, point.basins)
    checked = load_text(text).checked
    assert checked.phase_names == tuple(b.name for b in point.basins)
    results = run_spec(checked, tmp_path / "run")
    (row,) = results["points"]
    for b in point.basins:
        assert row["phases"][b.name]["mass"] == pytest.approx(b.mass, abs=2e-3)


def test_cli_json_has_the_documented_fields(tmp_path, capsys):
    from phasedsl.cli import main

    spec = tmp_path / "double.phase"
    spec.write_text(DOUBLE)
    out = tmp_path / "found.phase"
    assert main(["discover", str(spec), "--at", "0.3", "--json", "--write", str(out)]) == 0
    doc = json.loads(capsys.readouterr().out)
    (point,) = doc["points"]
    assert point["value"] == 0.3 and point["coverage"] == pytest.approx(1.0)
    for b in point["basins"]:
        assert set(b) >= {"name", "at", "mass", "se", "loss", "lambda", "lambda_se",
                          "description", "condition", "captured", "leak", "pure", "reach"}
        assert b["pure"] == pytest.approx(b["mass"]) and b["reach"] == pytest.approx(b["mass"])
        assert len(b["at"]) == 1
    assert point["flows"] == ["curvature", "spread"] and point["shared"] == []
    assert main(["check", str(out)]) == 0
    assert main(["discover", str(spec), "--at", "x"]) == 2


def test_the_run_report_shows_saved_basins_beside_the_declared_phases(tmp_path, capsys):
    """`discover --into RUN` saves the basins in the run folder; `report RUN` shows them
    under the report with the declared phases' masses at the same value, and refuses to
    show a discovery of another posterior."""
    from phasedsl.cli import main

    spec = tmp_path / "double.phase"
    spec.write_text(DOUBLE.replace("let n = 5", "let n = 5\nphase right = w > 0"))
    run = tmp_path / "run"
    assert main(["run", str(spec), "--out", str(run), "--no-plots"]) == 0
    capsys.readouterr()
    assert main(["discover", str(spec), "--at", "0.3", "--into", str(run), "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert (run / "discovery.json").is_file()
    assert main(["report", str(run)]) == 0
    text = " ".join(capsys.readouterr().out.split())
    (point,) = found["points"]
    assert f"a = 0.3: {len(point['basins'])} basin(s) hold 1.000 of the mass" in text
    for b in point["basins"]:
        assert f"{b['name']} {b['mass']:.3f} ± {b['se']:.3f}" in text
        assert f"(pure - reach {b['pure']:.3f} - {b['reach']:.3f})" in text
    results = json.loads((run / "results.json").read_text())
    right = results["points"][0]["phases"]["right"]["mass"]
    assert f"declared phases at this run's point: right {right:.3f}" in text
    # a discovery of another posterior (n = 6) is not shown beside this run
    other = tmp_path / "other.phase"
    other.write_text(DOUBLE.replace("let n = 5", "let n = 6"))
    assert main(["discover", str(other), "--at", "0.3", "--into", str(run), "--json"]) == 0
    capsys.readouterr()
    assert main(["report", str(run)]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "was found for another posterior or sampler setting than this run's" in text
    assert "basin(s) hold" not in text


def network_symmetry(activation: str) -> Symmetry:
    return Symmetry("network", 2, 2, activation)


def node_params(w, b, q, c=0.1):
    w, b, q = (np.asarray(a, float) for a in (w, b, q))
    return np.concatenate([w.ravel(), b, q, [c]])


def test_canonical_form_merges_permutations_sign_flips_and_rescalings():
    p = node_params([[1.0, 0.5], [-0.3, 2.0]], [0.2, -0.1], [0.7, -1.5])
    swapped = node_params([[-0.3, 2.0], [1.0, 0.5]], [-0.1, 0.2], [-1.5, 0.7])
    rescaled = node_params([[2.0, 1.0], [-0.3, 2.0]], [0.4, -0.1], [0.35, -1.5])
    flipped = node_params([[-1.0, -0.5], [-0.3, 2.0]], [-0.2, -0.1], [-0.7, -1.5])
    relu = canonical(np.stack([p, swapped, rescaled]), network_symmetry("relu"))
    np.testing.assert_allclose(relu[1], relu[0], atol=1e-12)
    np.testing.assert_allclose(relu[2], relu[0], atol=1e-12)
    tanh = canonical(np.stack([p, swapped, flipped]), network_symmetry("tanh"))
    np.testing.assert_allclose(tanh[1], tanh[0], atol=1e-12)
    np.testing.assert_allclose(tanh[2], tanh[0], atol=1e-12)
    # a ReLU node is not odd: flipping it is another function, another point
    other = canonical(np.stack([p, flipped]), network_symmetry("relu"))
    assert np.abs(other[0] - other[1]).max() > 0.1
    # an energy has no symmetry
    np.testing.assert_array_equal(canonical(p[None], Symmetry("energy"))[0], p)


def test_condition_distance_is_the_symmetric_ball_condition():
    sym = network_symmetry("relu")
    point = node_params([[1.0, 0.0], [0.0, 0.0]], [0.0, 0.0], [1.0, 0.0])  # one active node
    near = node_params([[0.0, 0.1], [0.9, 0.0]], [0.0, 0.0], [1.0, 1.0])  # nodes swapped
    d = condition_distance(np.stack([point, near]), point, sym)
    assert d[0] == pytest.approx(0.0)
    # best order: node 2 of `near` (u = (0.9, 0)) against the active node: 0.1; node 1
    # (u = (0, 0.1)) against the inactive one: 0.1
    assert d[1] == pytest.approx(0.1)


def test_fit_radius_takes_in_the_basin_and_stops_before_others():
    dist = np.array([0.1, 0.2, 0.3, 0.5, 0.6])
    mine = np.array([True, True, True, False, False])
    r = fit_radius(dist, mine, np.full(5, 0.2))
    assert 0.3 < r < 0.5


def test_flow_starts_are_systematic_and_deterministic():
    w = np.array([[0.5, 0.0, 0.25, 0.25]])
    idx = flow_starts(w, 4)
    np.testing.assert_array_equal(idx, [[0, 0, 2, 3]])
    np.testing.assert_array_equal(flow_starts(w, 4), idx)


def test_components_number_in_order_of_first_item():
    np.testing.assert_array_equal(components(5, [(3, 4), (0, 2)]), [0, 1, 0, 2, 2])


TILT = """experiment "a tilted double well"
sweep a over linspace(-1, 2, 13)
param w in [-2, 2]
prior uniform
energy K = (w^2 - 1)^2 + a * w
let n = 20
sample quadrature { points = 4001 }
"""


def test_a_saddle_node_is_located_by_carrying_the_minimum_along_the_sweep():
    """K = (w^2 - 1)^2 + a w: the right-hand minimum meets the saddle at a_c = 8 / (3 sqrt 3)
    (where 4 w (w^2 - 1) + a has a double root); the left-hand one exists for every a > -a_c,
    so it is never destroyed here, whatever its mass does."""
    from phasedsl.language.settings import resolution_width
    from phasedsl.pipeline.discovery import discover

    spec = load_text(TILT)
    found = discover(spec, [0.0], source=TILT, track=True)
    a_c = 8 / (3 * math.sqrt(3))
    width = resolution_width(spec.checked.report, spec.checked.sweep_values)
    by_side = {("right" if t_.basin == b.name and b.at[0] > 0 else "left"): t_
               for t_ in found.tracks for b in found.points[0].basins if b.name == t_.basin}
    (end,) = by_side["right"].ends
    lo, hi = end["between"]
    assert end["kind"] == "destruction" and lo <= a_c <= hi and hi - lo <= width
    assert by_side["left"].ends == () and by_side["left"].held[-1] == 2.0
    doc = found.to_json()
    assert {t_["basin"] for t_ in doc["tracks"]} == {b.name for b in found.points[0].basins}


def test_the_figure_shows_each_basin_with_its_mass_and_critical_point():
    from phasedsl.output.discover_plot import discovery_figure
    from phasedsl.pipeline.discovery import discover, symmetry_of

    spec = load_text(DOUBLE)
    found = discover(spec, [0.3], source=DOUBLE)
    fig = discovery_figure(found, symmetry_of(spec.checked))
    (ax,) = [a for a in fig.axes if a.get_visible()]
    (point,) = found.points
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [f"{b.name}: {b.mass:.3f}" for b in point.basins]
    lines = sorted(float(ln.get_xdata()[0]) for ln in ax.get_lines())
    assert lines == pytest.approx(sorted(b.at[0] for b in point.basins))
    # the histogram's bars carry the mass: each basin's bars sum to its mass
    for container, b in zip(ax.containers, point.basins):
        assert sum(bar.get_height() for bar in container) == pytest.approx(b.mass, abs=1e-9)
    assert "0.3" in ax.get_title() and ax.get_xlabel() == "w"
    # the figure's title fits inside it (one narrow panel: it wraps) and above the panel
    fig.canvas.draw()
    title = fig._suptitle.get_window_extent()
    assert 0 <= title.x0 and title.x1 <= fig.bbox.width and title.y1 <= fig.bbox.height
    assert title.y0 >= ax.get_window_extent().y1


def test_nodes_of_equal_strength_keep_one_order_against_a_reference():
    """Two nodes about equally strong: a sort by strength orders two copies of one
    configuration differently; matching a reference orders them alike."""
    sym = network_symmetry("relu")
    a = node_params([[-0.49, 0.84], [0.58, 0.77]], [-0.27, -0.22], [1.0, 1.0])
    b = node_params([[0.58, 0.78], [-0.50, 0.84]], [-0.22, -0.27], [1.0, 1.0])
    ref = canonical(a[None], sym)[0]
    both = canonical(np.stack([a, b]), sym, reference=ref)
    assert np.abs(both[0] - both[1]).max() < 0.02
    assert np.abs(both[0] - ref).max() < 1e-12


NET = two_node_network()


def test_a_one_node_basin_along_a_flat_valley_gets_a_node_by_node_condition():
    """PT1's one-node basins (``examples/discover.md``): one node near (0, 1), the other
    weak and wandering along a flat valley (silent on the box, its weights free). One ball
    radius for both nodes cannot hold the valley without taking in the two-node basin;
    node by node it can: the fit's condition takes in every draw of the valley basin and
    none of the other's, and its text, compiled, holds exactly where ``nodes_hold`` says
    (random draws too)."""
    import jax
    import jax.numpy as jnp

    from phasedsl.analysis.basins import (Symmetry, best_ball, fit_nodes, node_condition,
                                          node_gaps, nodes_hold)
    from phasedsl.lower.compile import compile_spec

    sym = Symmetry("network", 2, 2, "relu", box=(-1.0, 1.0))
    rng = np.random.default_rng(3)
    k = 200
    # the valley basin: node 1 at u = (0, 1) (q = 1), node 2 silent: b <= -(|w1| + |w2|)
    w2 = rng.normal(0, 0.8, (k, 2))
    valley = np.stack([node_params([[0.0, 1.0] + rng.normal(0, 0.05, 2), w],
                                   [-0.3, -(abs(w).sum()) - rng.uniform(0.05, 1)],
                                   [1.0, rng.uniform(0.3, 1.5)]) for w in w2])
    # the two-node basin: both nodes active near the truth's
    two = np.stack([node_params([[0.54, 0.84] + rng.normal(0, 0.05, 2),
                                 [-0.54, 0.84] + rng.normal(0, 0.05, 2)],
                                [-0.3, -0.3], [1.0, 1.0]) for _ in range(k)])
    draws = np.concatenate([valley, two])
    mine = np.arange(2 * k) < k
    weight = np.full(2 * k, 1.0 / (2 * k))
    # the flows' end: its weak node not quite silent (on at one corner of the box), as
    # PT1's basin2 at theta = 1, so a ball is centred on it
    point = node_params([[0.0, 1.0], [-1.52, 0.18]], [-0.3, -1.68], [1.0, 1.0])
    balls = fit_nodes(draws, point, mine, weight, sym)
    gap, quiet = node_gaps(draws, point, sym)
    inside = nodes_hold(gap, quiet, balls)
    assert inside[mine].all() and not inside[~mine].any()
    centre, radius = best_ball(draws, point, mine, weight, sym)
    one_ball = condition_distance(draws, centre, sym) <= radius
    assert one_ball[mine].mean() < 0.5  # one radius for both nodes misses most of it
    text = node_condition(point, balls, sym)
    assert text.startswith("symmetric(") and "< 0)" in text
    names = ["w[1][1]", "w[1][2]", "w[2][1]", "w[2][2]", "b[1]", "b[2]", "q[1]", "q[2]", "c"]
    spec = load_text(NET + f"phase valley = {text}\n")
    compiled = compile_spec(spec.checked)
    assert [str(s) for s in spec.checked.symbols] == names
    ind = jax.vmap(compiled.target.indicators, in_axes=(0, None))
    rand = rng.normal(0, 1, (400, 9))
    rows = np.concatenate([draws, rand])
    got = np.asarray(ind(jnp.asarray(rows, jnp.float32), compiled.context(1.0)))[:, 0]
    gap, quiet = node_gaps(rows, point, sym)
    want = nodes_hold(gap, quiet, balls)
    assert (got == want).mean() >= 0.995  # float32 against float64 at the boundaries
    assert want[2 * k:].any() and not want[2 * k:].all()
