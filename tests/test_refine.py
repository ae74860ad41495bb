"""Events located, not bracketed: refinement by added sweep values (``report.resolution``)
and the local-minimum criterion beside floor crossings, against answers known by hand."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from phasedsl.analysis.minima import (MinimumChange, bisect, minimum_changes,
                                      with_minimum_changes)
from phasedsl.analysis.records import Event, Mass, PhaseMass, PointSummary
from phasedsl.analysis.refinement import midpoints, noise_bracket, with_refinement
from phasedsl.language.check import check
from phasedsl.language.settings import resolution_width
from phasedsl.language.syntax import parse
from phasedsl.output.report import event_text
from phasedsl.pipeline import run_spec
from phasedsl.rundir import added_index, load_draws, point_index

THETA_C = 8 / (3 * math.sqrt(3))  # K' = 4w^3 - 4w + theta has a double root: w = 1/sqrt(3)

# the right well of w^4 - 2 w^2 + theta w is a local minimum for theta < THETA_C only; its
# mass decays long before (the left well is 2 theta lower), so the floor is met near 0.13
TILT = """experiment "tilted double well"
sweep theta over linspace(0, 2, 11)
param w in [-2, 2]
prior uniform
energy K = w^4 - 2*w^2 + theta*w
let n = 20
phase right = w > 0
phase left = w <= 0
sample quadrature { points = 401 }
report { lcoef = 0 }
"""


def spec(text, overrides=None):
    return check(parse(text, "t.phase"), overrides)


def summary(value, masses, se):
    """A point with phases ``a``, ``b`` of the given masses and standard errors."""
    phases = {k: PhaseMass(m, s) for (k, m), s in zip(masses.items(), se)}
    pref = max(masses, key=masses.get)
    return PointSummary(value, phases, Mass(1 - sum(masses.values()), None), pref, {}, False,
                        None, {})


# -- pure parts ------------------------------------------------------------------------------

def test_resolution_width_fraction_and_absolute():
    assert resolution_width({"resolution": 0.005}, [1.0, 3.0]) == pytest.approx(0.01)
    assert resolution_width({"resolution": {"absolute": 0.02}}, [1.0, 3.0]) == 0.02
    assert resolution_width({"resolution": 0.0}, [1.0, 3.0]) == 0.0


def test_midpoints_only_for_wide_brackets_with_clear_ends():
    pts = [summary(0.0, {"a": 0.9, "b": 0.1}, (0.01, 0.01)),
           summary(1.0, {"a": 0.1, "b": 0.9}, (0.01, 0.01))]
    cross = Event(1, "crossover", (0.0, 1.0), source="a", target="b", resolved=True)
    assert midpoints([cross], pts, 0.1, 0.005) == [0.5]
    assert midpoints([cross], pts, 1.0, 0.005) == []  # narrow enough already
    assert midpoints([cross], pts, 0.1, 0.005, exact=True) == []  # bisected exactly instead
    noisy = [pts[0], summary(1.0, {"a": 0.45, "b": 0.55}, (0.05, 0.05))]
    assert midpoints([cross], noisy, 0.1, 0.005) == []  # an end within 2 se: noise stops it


NETWORK_N = """experiment "a sweep over n"
sweep n over 100, 103, 200
data { x ~ uniform(-1, 1); noise = 1 }
model network(width = 1)
prior normal(0, 1)
truth network(width = 1) { w[1] = [1]; b = 0; q = 1; c = 0 }
phase a = q[1] > 0
phase b = q[1] <= 0
"""


def test_a_network_sweep_over_n_adds_whole_numbers_of_rows():
    """n counts data rows: an added value is a whole number strictly inside its bracket, and
    a bracket of neighbouring whole numbers is as located as it gets (width at least 1)."""
    from phasedsl.pipeline.refine import located_width, sweep_midpoints

    checked = spec(NETWORK_N, {"report.resolution": "0.001"})
    assert resolution_width(checked.report, checked.sweep_values) == pytest.approx(0.1)
    assert located_width(checked) == 1.0
    def line(*masses):
        return [summary(n, {"a": m, "b": 1 - m}, (0.01, 0.01)) for n, m in masses]

    def cross(lo, hi):
        return [Event(1, "crossover", (lo, hi), source="a", target="b", resolved=True)]

    assert sweep_midpoints(checked, cross(100.0, 103.0), line((100.0, 0.9), (103.0, 0.1)),
                           1.0, False) == [101.0]  # 101.5 rounded down
    assert sweep_midpoints(checked, cross(103.0, 200.0), line((103.0, 0.9), (200.0, 0.1)),
                           1.0, False) == [151.0]
    near = [summary(100.0, {"a": 0.9, "b": 0.1}, (0.01, 0.01)),
            summary(101.0, {"a": 0.1, "b": 0.9}, (0.01, 0.01))]
    assert sweep_midpoints(checked, [Event(1, "crossover", (100.0, 101.0), source="a",
                                           target="b", resolved=True)], near, 1.0, False) == []
    energy = spec(TILT, {"report.resolution": "0.001"})
    assert located_width(energy) == pytest.approx(0.002)


def test_noise_bracket_widens_to_the_points_beyond_the_noise():
    pts = [summary(0.0, {"a": 0.9, "b": 0.1}, (0.01, 0.01)),
           summary(0.5, {"a": 0.49, "b": 0.51}, (0.05, 0.05)),   # within the noise
           summary(0.75, {"a": 0.48, "b": 0.52}, (0.05, 0.05)),  # within the noise
           summary(1.0, {"a": 0.1, "b": 0.9}, (0.01, 0.01))]
    e = Event(1, "crossover", (0.0, 0.5), source="a", target="b", resolved=False, at=0.45,
              interval=(0.0, 0.5))
    assert noise_bracket(e, pts, 0.005) == (0.0, 1.0)
    # the gaps between the clear ends and the noise are still wide: refinement would close
    # them, so it is the cap (or an unfinished run) that stopped it, not the noise
    (capped,) = with_refinement([e], pts, 0.01, 0.005, added=40, cap=40)
    assert capped.extra["refinement"] == {"width": 0.01, "status": "capped",
                                          "bracket": [0.0, 1.0]}
    text = event_text(capped.to_json(), "t")
    assert "somewhere between t = 0 and 1" in text and "the cap on added sweep values" in text
    (unfinished,) = with_refinement([e], pts, 0.01, 0.005, added=1, cap=40)
    assert unfinished.extra["refinement"]["status"] == "open"
    # once the clear ends sit within the resolution of the noise, the noise stopped it
    closed = sorted(pts + [summary(0.495, {"a": 0.9, "b": 0.1}, (0.01, 0.01)),
                           summary(0.755, {"a": 0.1, "b": 0.9}, (0.01, 0.01))],
                    key=lambda p: p.value)
    e2 = Event(1, "crossover", (0.495, 0.5), source="a", target="b", resolved=False, at=0.5,
               interval=(0.495, 0.5))
    (done,) = with_refinement([e2], closed, 0.01, 0.005, added=1, cap=40)
    assert done.extra["refinement"] == {"width": 0.01, "status": "noise",
                                        "bracket": [0.495, 0.755]}
    text = event_text(done.to_json(), "t")
    assert "somewhere between t = 0.495 and 0.755" in text and "stopped for noise" in text
    # a noise bracket within the resolution is located (its ends are clear), never the
    # narrower bracket between two noisy points
    (near,) = with_refinement([e], pts, 1.0, 0.005, added=1, cap=40)
    assert near.extra["refinement"] == {"width": 1.0, "status": "located", "bracket": [0.0, 1.0]}
    text = event_text(near.to_json(), "t")
    assert "somewhere between t = 0 and 1" in text and "located to 1, the noise included" in text


def test_noise_gaps_are_bisected_until_the_clear_ends_meet_the_noise():
    """A noise-stopped crossover: the gaps between its clear ends and the noisy points inside
    are halved (not the noisy stretch itself), each only while wider than the resolution."""
    from phasedsl.analysis.refinement import noise_gaps

    clear_a, clear_b = {"a": 0.9, "b": 0.1}, {"a": 0.1, "b": 0.9}
    pts = [summary(0.0, clear_a, (0.01, 0.01)),
           summary(0.5, {"a": 0.49, "b": 0.51}, (0.05, 0.05)),   # within the noise
           summary(0.75, {"a": 0.48, "b": 0.52}, (0.05, 0.05)),  # within the noise
           summary(1.0, clear_b, (0.01, 0.01))]
    e = Event(1, "crossover", (0.0, 0.5), source="a", target="b", resolved=False)
    assert noise_gaps(e, pts, 0.005) == [(0.0, 0.5), (0.75, 1.0)]
    assert midpoints([e], pts, 0.1, 0.005) == [0.25, 0.875]
    assert midpoints([e], pts, 0.3, 0.005) == [0.25]  # the right gap is narrow enough
    assert midpoints([e], pts, 0.5, 0.005) == []
    # a clear point added in a gap moves that end inward; the next round halves what is left
    more = sorted(pts + [summary(0.25, clear_a, (0.01, 0.01))], key=lambda p: p.value)
    found = Event(1, "crossover", (0.25, 0.5), source="a", target="b", resolved=False)
    assert noise_gaps(found, more, 0.005) == [(0.25, 0.5), (0.75, 1.0)]
    # an end that is not clear (the sweep's end inside the noise) is no gap to narrow
    open_end = [summary(0.0, {"a": 0.5, "b": 0.5}, (0.05, 0.05))] + pts[1:]
    assert noise_gaps(e, open_end, 0.005) == [(0.75, 1.0)]
    # unknown standard errors (fewer than 4 runs): everything is noise, nothing is added
    unknown = [summary(p.value, {k: m.mass for k, m in p.phases.items()}, (None, None))
               for p in pts]
    assert noise_gaps(e, unknown, 0.005) == [] and midpoints([e], unknown, 0.1, 0.005) == []


def test_a_floor_crossing_in_the_noise_is_located_with_its_noise():
    pts = [summary(0.0, {"a": 0.02, "b": 0.5}, (0.001, 0.01)),
           summary(0.1, {"a": 0.0049, "b": 0.5}, (0.001, 0.01)),  # within 2 se of the floor
           summary(0.2, {"a": 0.0001, "b": 0.5}, (0.0001, 0.01))]
    e = Event(2, "destruction", (0.1, 0.2), phase="a")
    (wide,) = with_refinement([e], pts, 0.1, 0.005, added=0, cap=40)
    assert wide.extra["refinement"] == {"width": 0.1, "status": "noise", "bracket": [0.0, 0.2]}
    (near,) = with_refinement([e], pts, 0.25, 0.005, added=0, cap=40)
    assert near.extra["refinement"]["status"] == "located"
    text = event_text(near.to_json(), "t")
    assert text.startswith("second-order destruction of a between t = 0.1 and 0.2")
    assert "located to 0.25, the noise included: the change lies within [0, 0.2]" in text


def test_refinement_statuses():
    pts = [summary(0.0, {"a": 0.9, "b": 0.1}, (0.01, 0.01)),
           summary(1.0, {"a": 0.1, "b": 0.9}, (0.01, 0.01))]
    e = Event(1, "crossover", (0.0, 1.0), source="a", target="b", resolved=True, at=0.5,
              interval=(0.4, 0.6))

    def status(**kw):
        return with_refinement([e], pts, **kw)[0].extra["refinement"]["status"]

    assert status(width=2.0, floor=0.005, added=0, cap=40) == "located"
    assert status(width=0.01, floor=0.005, added=40, cap=40) == "capped"
    assert status(width=0.0, floor=0.005, added=0, cap=40) == "off"
    assert status(width=0.01, floor=0.005, added=3, cap=40) == "open"
    floor_event = Event(2, "destruction", (0.0, 1.0), phase="a")
    (f,) = with_refinement([floor_event], pts, 0.01, 0.5, added=40, cap=40)
    assert f.extra["refinement"]["status"] == "capped"  # 0.9 >> 0.5 >> 0.1: clear ends
    # a phase that holds a well somewhere: its floor crossing is a secondary line, left
    # between the sweep's values and not asked for added ones
    (w,) = with_refinement([floor_event], pts, 0.01, 0.5, added=0, cap=40, wells={"a"})
    assert w.extra["refinement"] == {"width": 0.01, "status": "well", "bracket": [0.0, 1.0]}
    assert with_refinement([floor_event], pts, 2.0, 0.5, 0, 40, {"a"})[0].extra[
        "refinement"]["status"] == "located"
    assert with_refinement([e], pts, 0.01, 0.005, 3, 40, {"a", "b"})[0].extra[
        "refinement"]["status"] == "open"  # crossovers are refined whatever the wells


def test_floor_crossings_of_wells_ask_for_no_added_values():
    """Only the phases whose own flows found a local minimum somewhere are wells; their
    floor crossings get no midpoints, the others' (and every crossover) still do."""
    from phasedsl.analysis.minima import well_phases
    from phasedsl.pipeline.refine import sweep_midpoints

    def point(v, m, holds):
        p = summary(v, {"a": m, "b": m}, (0.0001, 0.0001))
        return dataclasses.replace(p, minima=holds)

    pts = [point(0.0, 0.3, {"a": {"holds": True}, "b": {"holds": False}}),
           point(1.0, 0.0001, {"a": {"holds": False}, "b": None})]
    assert well_phases(pts) == {"a"}
    assert well_phases([dataclasses.replace(p, minima=None) for p in pts]) == frozenset()
    checked = spec(TILT)
    fade = [Event(2, "destruction", (0.0, 1.0), phase="a")]
    assert sweep_midpoints(checked, fade, pts, 0.01, False) == [0.5]
    assert sweep_midpoints(checked, fade, pts, 0.01, False, well_phases(pts)) == []
    other = [Event(2, "destruction", (0.0, 1.0), phase="b")]
    assert sweep_midpoints(checked, other, pts, 0.01, False, well_phases(pts)) == [0.5]


def test_minimum_changes_bisection_and_pairing():
    assert minimum_changes([0, 1, 2, 3], [True, True, False, None]) == [(1, "destruction")]
    assert minimum_changes([0, 1, 2], [False, None, True]) == [(0, "creation")]
    a, b = bisect(lambda v: v < 0.3141, 0.0, 1.0, True, 1e-3)
    assert a <= 0.3141 <= b and b - a <= 1e-3
    floor = Event(2, "destruction", (0.1, 0.2), phase="p",
                  extra={"refinement": {"status": "located"}})
    other = Event(2, "destruction", (0.1, 0.2), phase="q")
    change = MinimumChange("p", "destruction", (1.4, 1.6), (1.53, 1.54))
    lone = MinimumChange("q", "creation", (0.4, 0.6), (0.5, 0.51))
    out = with_minimum_changes([floor, other], [change, lone], {"p": "changes", "q": "changes"})
    # the order-2 event of p is where its well vanishes; the floor crossing a secondary line
    (p,) = [e for e in out if e.phase == "p"]
    assert (p.kind, p.extra["criterion"], p.between) == ("destruction", "minimum", (1.4, 1.6))
    assert p.at == pytest.approx(1.535)
    assert p.extra["floor"] == {"between": [0.1, 0.2], "refinement": {"status": "located"}}
    # q's floor crossing matches no change of its own kind: q holds a minimum there, so it
    # is not a destruction; its creation (a change with no floor crossing) is an event
    (q_floor,) = [e for e in out if e.phase == "q" and e.kind == "destruction"]
    assert q_floor.extra["secondary"] and q_floor.extra["minimum"] == {"at": None,
                                                                       "holds": "changes"}
    (made,) = [e for e in out if e.phase == "q" and e.extra.get("criterion") == "minimum"]
    assert made.kind == "creation" and made.at == pytest.approx(0.505)
    assert Event.from_json(made.to_json()) == made  # the contract keeps at and interval
    assert "starts holding a local minimum" in event_text(made.to_json(), "t")
    text = event_text(p.to_json(), "t", floor_of=0.005)
    assert "stops holding a local minimum of the potential at t = 1.535" in text
    assert "its mass first falls below 0.005 between t = 0.1 and 0.2" in text
    assert "not a destruction" in event_text(q_floor.to_json(), "t", floor_of=0.005)


def test_the_report_says_why_mass_and_well_disagree():
    """A creation whose floor crossing comes before the well (PT1's `degenerate`: mass from
    1.045-1.06, a minimum from 1.131) says the early mass is on a slope; a destruction whose
    mass falls below the floor while the well persists says it is outweighed; overlapping
    spans say nothing."""
    def text(kind, floor, at):
        e = Event(2, kind, (1.0, 1.2), phase="p", at=at, interval=(at - 0.004, at + 0.004),
                  extra={"criterion": "minimum", "floor": {"between": list(floor)}})
        return event_text(e.to_json(), "theta", floor_of=0.005)

    early = text("creation", (1.045, 1.06), 1.131)
    assert early.endswith("between theta = 1.045 and 1.06: before its well exists the phase "
                          "holds mass that flows out of it, to minima elsewhere (draws on a "
                          "slope of the potential, not in a well)")
    assert "outweighed by the others, not destroyed" in text("destruction", (0.1, 0.2), 1.5)
    assert "mass stays on the slope where the well was" in text("destruction", (1.6, 1.7), 1.5)
    assert "exists before it holds that much mass" in text("creation", (1.6, 1.7), 1.5)
    assert text("creation", (1.1, 1.2), 1.15).endswith("between theta = 1.1 and 1.2")


def test_a_floor_crossing_is_the_event_only_where_the_phase_is_no_well():
    floor = Event(2, "destruction", (0.1, 0.2), phase="p")
    for holds, secondary in (("throughout", True), ("nowhere", False), ("unknown", False)):
        (e,) = with_minimum_changes([floor], [], {"p": holds})
        assert bool(e.extra.get("secondary")) is secondary
        assert e.extra["minimum"] == {"at": None, "holds": holds}
        assert (e.kind, e.between, e.at) == ("destruction", (0.1, 0.2), None)


def test_added_index_depends_on_the_value_alone():
    i = added_index(0.3)
    assert i == added_index(0.3) and i >= 2 ** 31 and i < 2 ** 32
    assert added_index(0.30000000000000004) != i
    results = {"sweep": {"values": [0.0, 0.5, 1.0]}}
    assert point_index(results, 0.5) == 1 and point_index(results, 0.3) == i


def test_resolution_setting_is_checked():
    assert spec(TILT).report["resolution"] == 0.005
    c = spec(TILT, {"report.resolution": "absolute(0.02)"})
    assert c.report["resolution"] == {"absolute": 0.02}
    from phasedsl.language.errors import UsageError

    with pytest.raises(UsageError, match="fraction of the sweep's span"):
        spec(TILT, {"report.resolution": "2"})
    with pytest.raises(UsageError, match="must be positive"):
        spec(TILT, {"report.resolution": "absolute(0)"})


def test_quick_sets_a_coarser_resolution_under_the_users_own():
    from phasedsl.pipeline.spec import load_text

    assert load_text(TILT, "t.phase", {}, quick=True).checked.report["resolution"] == 0.02
    given = load_text(TILT, "t.phase", {"report.resolution": "0.001"}, quick=True)
    assert given.checked.report["resolution"] == 0.001



def test_quick_never_enlarges_a_run():
    from phasedsl.pipeline.spec import load_text

    def with_sample(block):
        return TILT.replace("sample quadrature { points = 401 }", block)

    small = with_sample("sample smc { particles = 50; runs = 8 }")
    assert load_text(small, "t.phase", {}, quick=True).checked.sample["particles"] == 50
    assert load_text(small, "t.phase", {}, quick=True).checked.sample["runs"] == 4
    big = with_sample("sample smc { particles = 5000; runs = 2 }")
    quick = load_text(big, "t.phase", {}, quick=True).checked.sample
    assert (quick["particles"], quick["runs"]) == (200, 4)  # 4 runs: a known se
    nuts = load_text(with_sample("sample nuts { draws = 100; warmup = 1000 }"), "t.phase", {},
                     quick=True).checked.sample
    assert (nuts["draws"], nuts["warmup"]) == (100, 300)
    assert load_text(small, "t.phase", {"particles": "400"},
                     quick=True).checked.sample["particles"] == 400  # --set wins
    # a spec that adds no sweep values (or fewer than --quick's 4) keeps its own number
    fixed = TILT.replace("report { lcoef = 0 }", "report { lcoef = 0; refine_points = 0 }")
    assert load_text(fixed, "t.phase", {}, quick=True).checked.report["refine_points"] == 0
    assert load_text(TILT, "t.phase", {}, quick=True).checked.report["refine_points"] == 4
    # nor a finer resolution: a spec's 0 (no added values) or coarser width stays its own;
    # the default (0.005 of the span) is coarsened to 0.02
    def resolution(report_block, overrides=None):
        text = TILT.replace("report { lcoef = 0 }", report_block)
        return load_text(text, "t.phase", overrides or {}, quick=True).checked.report[
            "resolution"]

    assert resolution("report { lcoef = 0; resolution = 0 }") == 0
    assert resolution("report { lcoef = 0; resolution = 0.1 }") == 0.1
    assert resolution("report { lcoef = 0; resolution = absolute(0.5) }") == {"absolute": 0.5}
    assert resolution("report { lcoef = 0; resolution = absolute(0.01) }") == 0.02
    assert resolution("report { lcoef = 0 }") == 0.02
    assert resolution("report { lcoef = 0 }", {"report.resolution": "0"}) == 0  # --set


# -- end to end on exact answers -------------------------------------------------------------

@pytest.fixture(scope="module")
def tilt_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tilt")
    return run_spec(spec(TILT), folder), folder


def test_the_well_that_vanishes_is_located_at_theta_c(tilt_run):
    results, _ = tilt_run
    width = 0.005 * 2
    (d,) = [e for e in results["events"] if e["kind"] == "destruction"]
    assert (d["phase"], d["criterion"]) == ("right", "minimum")
    lo, hi = d["interval"]
    assert lo <= THETA_C <= hi and hi - lo <= width
    assert d["between"] == [1.4, 1.6]
    # the floor crossing, its secondary line, is elsewhere (the mass decays smoothly); the
    # well decides, so no sweep value is sampled to sharpen it: it stays between two of
    # the sweep's own values
    a, b = d["floor"]["between"]
    assert (a, b) == (0.0, 0.2)
    assert d["floor"]["refinement"]["status"] == "well"
    assert not results["sweep"].get("added")
    text = event_text(d, "theta", floor_of=0.005)
    assert "stops holding a local minimum of the potential at theta = 1.54" in text
    assert "its mass first falls below 0.005 between theta = " in text
    assert "floor 0.0005:" in text and "floor 0.05:" in text  # beside the floor's moves
    # `left` holds its minimum at every value: no event of its own
    assert all(p["minima"]["left"]["holds"] for p in results["points"])


@pytest.fixture(scope="module")
def floor_run(tmp_path_factory):
    """The tilted double well with no local-minimum step: its floor crossings are the
    events, located by added sweep values."""
    folder = tmp_path_factory.mktemp("floor")
    return run_spec(spec(TILT, {"report.minimum_steps": "0"}), folder), folder


def test_added_values_are_ordinary_points_and_a_resumed_run_keeps_them(floor_run):
    results, folder = floor_run
    added = results["sweep"]["added"]
    assert added and added == sorted(added)
    assert not set(added) & set(results["sweep"]["values"])
    values = [p["value"] for p in results["points"]]
    assert values == sorted(values) and set(added) <= set(values)
    for v in added:
        assert load_draws(folder, added_index(v)) is not None
    (d,) = [e for e in results["events"] if e["kind"] == "destruction"]
    assert d["between"][1] - d["between"][0] <= 0.01 and d["between"][1] < 0.5
    assert d["refinement"]["status"] == "located" and "criterion" not in d
    off = {"report.minimum_steps": "0"}
    again = run_spec(spec(TILT, off), folder)
    assert again["timings"]["points_resumed"] == len(results["points"])
    assert again["sweep"]["added"] == added and again["events"] == results["events"]
    # a finer resolution resumes the same run and adds values; the old ones stay
    finer = run_spec(spec(TILT, {**off, "report.resolution": "0.001"}), folder)
    assert set(added) < set(finer["sweep"]["added"])
    (d,) = [e for e in finer["events"] if e["kind"] == "destruction"]
    assert d["between"][1] - d["between"][0] <= 0.002


def test_no_added_values_when_resolution_is_zero(tmp_path):
    results = run_spec(spec(TILT, {"report.resolution": "0", "report.minimum_steps": "0"}),
                       tmp_path)
    assert results["sweep"]["added"] == []
    (d,) = [e for e in results["events"] if e["kind"] == "destruction"]
    assert d["refinement"]["status"] == "off" and "minimum" not in d


# -- noise stops refinement ------------------------------------------------------------------

# the masses of left and right are exactly equal for theta in [0.4, 0.6] (no tilt there):
# the crossover between 1/3 and 2/3 is clear at both ends, its midpoint is pure noise
FLAT = """experiment "untilted middle"
sweep theta over linspace(0, 1, 4)
param w in [-2, 2]
prior uniform
energy K = (w^2 - 1)^2 + (max(0, theta - 0.6) - max(0, 0.4 - theta)) * w
let n = 60
phase right = w > 0
phase left = w <= 0
sample smc { particles = 100; runs = 4; mutations = 3 }
report { lcoef = 0; minimum_steps = 0; floor = 0 }
"""
# (floor 0: no destruction/creation to refine, only the crossover)


def test_a_crossover_inside_the_noise_stops_refinement(tmp_path):
    """The masses are equal on [0.4, 0.6]: the midpoint 0.5 is noise, so bisection stops;
    the gaps between the clear ends and the noise are then halved until they are narrower
    than the resolution (0.005), so the bracket closes on [0.4, 0.6] from outside; the
    preference flickers between noisy points inside, which is one unresolved crossover."""
    results = run_spec(spec(FLAT), tmp_path,
                       provenance={"spec_text": FLAT, "set": {}, "quick": False})
    added = results["sweep"]["added"]
    assert 0.5 in added and all(1 / 3 < v < 2 / 3 for v in added) and len(added) > 4
    (c,) = [e for e in results["events"] if e["kind"] == "crossover"]
    assert (c["from"], c["to"], c["resolved"]) == ("right", "left", False)
    info = c["refinement"]
    assert info["status"] == "noise"
    lo, hi = info["bracket"]
    assert 0.38 < lo < 0.41 and 0.59 < hi < 0.62  # closed from [1/3, 2/3] onto the flat part
    # the event spans the flicker: its values lie inside the bracket (where a noisy value
    # next to a clear end prefers the same phase, the event starts or ends there instead)
    a, b = c["between"]
    assert lo - 1e-9 <= a < b <= hi + 1e-9 and b - a > 0.1
    values = sorted(p["value"] for p in results["points"])
    for end, inner in ((lo, min(v for v in values if v > lo)),
                       (hi, max(v for v in values if v < hi))):
        assert abs(inner - end) <= 0.005  # each clear end within the resolution of the noise
    text = event_text(c, "theta")
    assert "stopped for noise" in text and "first-order" not in text
    json.dumps(results)
    # the added point is read back like the others: the API and a re-analysis
    from phasedsl.pipeline.reanalyse import reanalyse, respec
    from phasedsl.pipeline.runs import open_run

    assert open_run(tmp_path).draws(0.5)["params"].shape[-1] == 1
    again = reanalyse(tmp_path, respec(results, {"report.merge": "0.95"}))
    assert [p["value"] for p in again["points"]] == [p["value"] for p in results["points"]]
    (c2,) = [e for e in again["events"] if e["kind"] == "crossover"]
    assert c2["refinement"] == info


def test_points_without_draws_in_a_phase_are_answered_from_the_nearest_minimum():
    """A sampler leaves the vanishing well empty long before it vanishes (its mass is
    ~exp(-2 n theta)): those points are answered by flows from the nearest minimiser, and
    the change is still found at theta_c, as its own event (no floor event here)."""
    from phasedsl.lower.compile import compile_spec
    from phasedsl.measure.minima import MinimumStep

    checked = spec(TILT)
    step = MinimumStep(compile_spec(checked), 1000, x64=False)  # float32, as for SMC draws
    values = [float(v) for v in checked.sweep_values]
    empty = {"holds": None, "w": None, "sd": None, "grad": None}
    well = {"holds": True, "w": [0.98], "sd": [0.083], "grad": 0.0}
    points = [dataclasses.replace(summary(v, {"right": 0.5, "left": 0.5}, (0.0, 0.0)),
                                  minima={"right": well if v == 0.0 else empty,
                                          "left": {**well, "w": [-1.0]}})
              for v in values]
    (e,) = step.with_minima([], points)
    assert (e.kind, e.phase, e.extra) == ("destruction", "right", {"criterion": "minimum"})
    lo, hi = e.interval
    assert lo <= THETA_C <= hi and hi - lo <= 0.01
    assert e.between == (1.4, 1.6)


def test_a_tracked_minimum_does_not_depend_on_where_the_draws_started_the_flows():
    """Two runs whose own flows find the right well at different sweep values (the rest of
    their flows left the phase: ``holds`` False) give the same destruction: each run's well
    is carried along the sweep from wherever it was found, and bisected from there."""
    from phasedsl.lower.compile import compile_spec
    from phasedsl.measure.minima import MinimumStep

    checked = spec(TILT)
    step = MinimumStep(compile_spec(checked), 1000, x64=False)
    values = [float(v) for v in checked.sweep_values]
    missed = {"holds": False, "w": [-1.0], "sd": [0.083], "grad": 0.0}
    found = []
    for seen in (0.0, 1.0):  # the one value where each run's flows stayed in the well
        points = [dataclasses.replace(summary(v, {"right": 0.5, "left": 0.5}, (0.0, 0.0)),
                                      minima={"right": {"holds": True, "w": [0.98 - 0.3 * v],
                                                        "sd": [0.083], "grad": 0.0}
                                              if v == seen else missed,
                                              "left": {**missed, "holds": True}})
                  for v in values]
        (e,) = step.with_minima([], points)
        assert (e.kind, e.phase, e.between) == ("destruction", "right", (1.4, 1.6))
        found.append(e.interval)
    assert found[0][0] <= THETA_C <= found[0][1] and found[0][1] - found[0][0] <= 0.01
    # both bracket theta_c to the bisection's width: the same location up to it
    assert abs(0.5 * sum(found[0]) - 0.5 * sum(found[1])) <= 0.01


# a valley of minima a + b = theta, flat along (1, -1): it meets the region a > 1.9, b > -0.1
# (a < theta + 0.1 on the valley) from theta = 1.8 on
VALLEY = """experiment "flat valley"
sweep theta over linspace(1.5, 2.1, 7)
param a in [-3, 3]
param b in [-3, 3]
prior uniform
energy K = (a + b - theta)^2
let n = 100
phase p = a > 1.9 and b > -0.1
sample quadrature { points = 101 }
report { lcoef = 0 }
"""


def test_a_flat_valley_holds_a_minimum_in_a_phase_from_where_it_meets_the_region():
    """On a valley of minima (a singular model's: two nodes splitting one output weight)
    where a flow stops depends on where it started; the criterion's flows slide along the
    valley into the phase's region, so the phase holds a minimum from the value at which the
    valley meets the region (theta = 1.8), from any start, and two runs whose minimisers
    sit at different places in the valley give the same creation."""
    from phasedsl.lower.compile import compile_spec
    from phasedsl.measure.minima import MinimumStep

    checked = spec(VALLEY)
    step = MinimumStep(compile_spec(checked), 1000, x64=False)
    sd = np.array([0.1, 0.1])
    for start in ([1.95, 0.05], [2.5, -0.05], [1.0, 1.0]):
        held = [step.flows(v, 0, [start], sd)["holds"] for v in (1.7, 1.79, 1.81, 2.0)]
        assert held == [False, False, True, True], start
    values = [float(v) for v in checked.sweep_values]
    found = []
    for w in ([1.95, 0.15], [2.15, -0.05]):  # two runs' minimisers at theta = 2.1
        points = [dataclasses.replace(summary(v, {"p": 0.5}, (0.0,)), minima={"p": {
            "holds": True, "w": w, "sd": sd.tolist(), "grad": 0.0} if v == values[-1] else
            {"holds": None, "w": None, "sd": None, "grad": None}}) for v in values]
        (e,) = step.with_minima([], points)
        assert (e.kind, e.phase, e.extra) == ("creation", "p", {"criterion": "minimum"})
        found.append(e.interval)
        assert found[-1][0] <= 1.8 <= found[-1][1] and found[-1][1] - found[-1][0] <= 0.01
