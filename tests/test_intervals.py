"""Verdicts at the right quantile: an se from the spread of R runs has R - 1 degrees of
freedom, and "beyond 2 se" then needs the t quantile (``analysis.intervals``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from phasedsl.analysis.events import find_crossovers, find_events, find_thresholds
from phasedsl.analysis.intervals import LEVEL, factor, se_range
from phasedsl.analysis.records import Mass, PhaseMass, PointSummary
from phasedsl.analysis.refinement import crossover_side, floor_side


def test_factor_is_the_t_quantile_at_the_level_of_two_normal_sigmas():
    assert LEVEL == pytest.approx(stats.norm.cdf(2) - stats.norm.cdf(-2), abs=1e-15)
    assert factor(None) == 2.0
    for dof in (1, 3, 7, 19):
        k = factor(dof)
        assert stats.t.cdf(k, dof) - stats.t.cdf(-k, dof) == pytest.approx(LEVEL, abs=1e-9)
    assert factor(3) == pytest.approx(3.3068, abs=1e-4)   # 4 runs
    assert factor(3) > factor(7) > factor(19) > factor(10 ** 6) > 2.0
    assert factor(10 ** 6) == pytest.approx(2.0, abs=1e-5)
    assert factor(0) == math.inf


def test_four_runs_cover_at_the_level_with_the_t_factor_and_not_with_two():
    """Simulated: 4 normal runs, their mean and spread-se. The truth is within factor(3) se
    in 95.45% of 40,000 repeats (binomial se 0.001), within 2 se in only 86%."""
    rng = np.random.default_rng(0)
    runs = rng.normal(0.3, 0.05, size=(40000, 4))
    err = np.abs(runs.mean(axis=1) - 0.3) / (runs.std(axis=1, ddof=1) / 2)
    assert np.mean(err <= factor(3)) == pytest.approx(LEVEL, abs=0.004)
    assert np.mean(err <= 2.0) == pytest.approx(stats.t.cdf(2, 3) * 2 - 1, abs=0.005)
    assert np.mean(err <= 2.0) < 0.87


def test_se_range_is_the_chi_square_interval():
    low, high = se_range(3)
    assert (low, high) == pytest.approx((0.5665, 3.7285), abs=1e-4)
    # sigma / se = sqrt(dof / chi2): the chi-square's 97.5% and 2.5% points
    assert stats.chi2.sf(3 / low ** 2, 3) == pytest.approx(0.025, abs=1e-9)
    assert stats.chi2.cdf(3 / high ** 2, 3) == pytest.approx(0.025, abs=1e-9)


def _pair(r_se: float, se_a: float = 0.02):
    """Masses of A and B at two ends of a crossover whose log ratio is ``-r_se`` se_r before
    and ``+r_se`` se_r after (se_r of the log ratio with both masses at relative se
    ``se_a / m``)."""
    m = 0.45
    sl = math.sqrt(2) * se_a / m          # se of log(m_B / m_A) where both are ~m
    shift = r_se * sl / 2
    before = [m * math.exp(shift), m * math.exp(-shift)]
    after = [m * math.exp(-shift), m * math.exp(shift)]
    masses = np.array([before, after])
    se = masses * se_a / m                # the same relative se as the line above assumes
    return masses, se


@pytest.mark.parametrize("r_se, dof, resolved", [
    (1.5, 3, False), (3.0, 3, False), (5.0, 3, True),     # 4 runs: t_3 = 3.31
    (1.5, None, False), (3.0, None, True),                # an se without dof: 2 se
    (2.5, 19, True), (2.1, 19, False),                    # 20 runs: t_19 = 2.14
])
def test_a_crossover_is_resolved_beyond_the_t_quantile(r_se, dof, resolved):
    masses, se = _pair(r_se)
    # the log ratio's se from the per-phase se (hand computation, as in _pair)
    ratio = np.log(masses[:, 1] / masses[:, 0])
    sl = np.sqrt((se[:, 0] / masses[:, 0]) ** 2 + (se[:, 1] / masses[:, 1]) ** 2)
    assert ratio / sl == pytest.approx([-r_se, r_se], rel=1e-9)
    dofs = None if dof is None else np.full(masses.shape, dof)
    (e,) = find_crossovers([1.0, 1.1], masses, se, ["A", "B"], dofs)
    assert e.resolved is resolved


def test_the_crossover_interval_is_the_t_interval():
    """A resolved crossover 5 se_r away at both ends: ``interval`` interpolates the ratio
    +- factor(3) se_r to 0, i.e. [0.5 - k/10, 0.5 + k/10] of the span with k = t_3."""
    masses, se = _pair(5.0)
    (e,) = find_crossovers([0.0, 1.0], masses, se, ["A", "B"], np.full((2, 2), 3))
    k = factor(3)
    # r(t) = -5 + 10 t; r + k = 0 at t = (5 - k) / 10, r - k = 0 at t = (5 + k) / 10
    assert e.at == pytest.approx(0.5)
    assert e.interval == pytest.approx(((5 - k) / 10, (5 + k) / 10))


def _point(value, a, b, se, dof):
    return PointSummary(value, {"A": PhaseMass(a, se, se_dof=dof),
                                "B": PhaseMass(b, se, se_dof=dof)},
                        Mass(1 - a - b, se, se_dof=dof), "A" if a >= b else "B", {}, False,
                        None, {"mixing_ok": True})


def test_refinement_sides_use_the_t_quantile():
    # log(0.5 / 0.4) = 0.223; se_r = sqrt(2) * 0.03 / ~0.45: about 2.4 se_r
    m = _point(0.0, 0.4, 0.5, 0.03, None)
    z = math.log(0.5 / 0.4) / math.sqrt((0.03 / 0.4) ** 2 + (0.03 / 0.5) ** 2)
    assert 2.0 < z < factor(3)
    assert crossover_side(m, "A", "B") == 1
    assert crossover_side(_point(0.0, 0.4, 0.5, 0.03, 3), "A", "B") == 0
    # the floor: a mass 0.02 above a floor of 0.005 with se 0.0065 is 3.1 se above it
    assert floor_side(_point(0.0, 0.025, 0.9, 0.0065, None), "A", 0.005) == 1
    assert floor_side(_point(0.0, 0.025, 0.9, 0.0065, 3), "A", 0.005) == 0
    assert floor_side(_point(0.0, 0.025, 0.9, 0.0065, 99), "A", 0.005) == 1


def test_find_events_reads_each_points_dof():
    """The same masses and se: resolved where the points carry no dof, not with 4 runs."""
    masses, se = _pair(3.0)
    for dof, resolved in ((None, True), (3, False)):
        points = [PointSummary(v, {"A": PhaseMass(masses[i, 0], se[i, 0], se_dof=dof),
                                   "B": PhaseMass(masses[i, 1], se[i, 1], se_dof=dof)},
                               Mass(0.1, 0.01), None, {}, False, None, {"mixing_ok": True})
                  for i, v in enumerate((1.0, 1.1))]
        (e,) = [e for e in find_events([1.0, 1.1], points, 0.005, 0.9)
                if e.kind == "crossover"]
        assert e.resolved is resolved


def test_floor_flicker_uses_the_t_quantile():
    """A mass that crosses the floor twice (0.02, 0.003, 0.02) is one flicker (no
    event) where the middle point is within factor(dof) se of the floor."""
    masses = np.array([[0.02], [0.003], [0.02]])
    se = np.full((3, 1), 0.0008)        # the middle point 2.5 se below the floor
    assert len(find_thresholds([0, 1, 2], masses, 0.005, ["A"], se)) == 2
    assert find_thresholds([0, 1, 2], masses, 0.005, ["A"], se, np.full((3, 1), 3)) == []


def test_dof_travels_through_json():
    p = _point(0.5, 0.4, 0.5, 0.03, 3)
    again = PointSummary.from_json(p.to_json())
    assert again.phases["A"].se_dof == 3 and again.other.se_dof == 3
    assert "se_dof" not in _point(0.5, 0.4, 0.5, 0.03, None).to_json()["phases"]["A"]


def test_within_se_by_hand():
    from phasedsl.analysis.masses import within_se

    # p = 0.3 from 4 runs of ESS 1000: q = (1200 + 0.5) / 4001
    q = 1200.5 / 4001
    assert within_se(0.3, [1000] * 4) == pytest.approx(math.sqrt(4 * q * (1 - q) / 1000) / 4)
    # no run drew the phase: about 1 / (2 N), not 0
    q0 = 0.5 / 4001
    assert within_se(0.0, [1000] * 4) == pytest.approx(math.sqrt(q0 * (1 - q0) / 4000))
    assert within_se(1.0, [1000] * 4) == pytest.approx(within_se(0.0, [1000] * 4), rel=1e-12)
    assert within_se(0.5, [np.inf, 0.0]) == 0.0


def test_runs_that_agree_by_chance_keep_their_importance_error():
    """4 runs of 400 equally weighted draws that all put 0.25 in A: the spread is 0, the
    se is what 1,600 draws say, sqrt(q (1 - q) / 1600) with q = (400 + 0.5) / 1601."""
    from phasedsl.analysis.masses import summarise_point
    from phasedsl.lower.target import Draws

    ind = np.zeros((4, 400, 1), bool)
    ind[:, :100, 0] = True
    draws = Draws(params=np.zeros((4, 400, 1)), indicators=ind, logdensity=np.zeros((4, 400)),
                  weights=np.full((4, 400), 1 / 400), method="repeats")
    a = summarise_point(draws, ("A",)).phases["A"]
    q = 400.5 / 1601
    assert a.mass == pytest.approx(0.25, abs=1e-15) and a.se_dof == 3
    assert a.se == pytest.approx(math.sqrt(q * (1 - q) / 1600))


def test_a_staircase_of_phases_with_no_shared_mass_is_three_clear_crossovers():
    """Each point puts all its mass on one phase (1.000 +- 4e-4, the rest 0.000 +- 4e-4, as
    reduced-rank regression's ranks do): the preference moves rank0 -> rank1 -> rank2 ->
    rank3, each change clear of the noise. The log ratio's delta-method se (se / m with m
    floored at 1e-12) would call every point noise and chain the three changes into one
    unresolved rank0 -> rank3 spanning the sweep."""
    masses = np.eye(4)
    se = np.full((4, 4), 4e-4)
    events = find_crossovers([0.0, 1.0, 2.0, 3.0], masses, se, ["r0", "r1", "r2", "r3"],
                             np.full((4, 4), 3.0))
    assert [(e.source, e.target, list(e.between), e.resolved) for e in events] == [
        ("r0", "r1", [0.0, 1.0], True), ("r1", "r2", [1.0, 2.0], True),
        ("r2", "r3", [2.0, 3.0], True)]


@pytest.mark.parametrize("ma, mb, s, side", [
    (1.0, 0.0, 4e-4, -1), (0.0, 1.0, 4e-4, 1),          # a mass at 0: clear, by far
    (0.0, 0.001, 4e-4, 0),                              # 0.001 - 0 < 3.31 * 5.7e-4
    (0.0, 0.002, 4e-4, 1),                              # 0.002 > 3.31 * 5.7e-4 = 0.00187
    (0.4, 0.5, float("nan"), 0),                        # unknown se: noise
    (0.4, 0.5, 0.0, 1), (0.5, 0.5, 0.0, 0),             # exact
])
def test_refinement_side_is_the_difference_test(ma, mb, s, side):
    assert crossover_side(_point(0.0, ma, mb, s, 3), "A", "B") == side
