"""Every sweep value's masses from its neighbours' draws too (``report.pool``): multistate
importance weights against closed forms, and pooled SMC runs against exact quadrature."""

from __future__ import annotations

import math

import numpy as np
import pytest

import phasedsl
from phasedsl.analysis.pooling import Pooled, state_shares
from specfiles import ROOT, sampled_and_exact


def _normal_u(x, mean, log_c):
    """Unnormalised log density ``log_c - (x - mean)^2 / 2``: ``log Z = log_c + log
    sqrt(2 pi)``."""
    return log_c - 0.5 * (x - mean) ** 2


def test_one_state_keeps_its_own_weights():
    rng = np.random.default_rng(0)
    w = rng.random(50)
    w /= w.sum()
    pooled = Pooled(rng.normal(size=(50, 1)), w, np.zeros(50, int))
    np.testing.assert_allclose(pooled.weights_at(0), w, rtol=1e-12)


def test_log_z_differences_of_two_gaussians():
    """Exact draws of N(0, 1) and N(0.5, 1) with unnormalised densities scaled by e^1 and
    e^-2: log Z_1 - log Z_0 = -3 (Monte Carlo error ~0.01 at 20,000 draws each)."""
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0, 1, 20000), rng.normal(0.5, 1, 20000)])
    states = np.repeat([0, 1], 20000)
    u = np.stack([_normal_u(x, 0, 1.0), _normal_u(x, 0.5, -2.0)], axis=1)
    pooled = Pooled(u, np.full(40000, 1 / 20000), states)
    assert pooled.log_z[1] == pytest.approx(-3.0, abs=0.03)
    # the mean at each state from both states' draws
    for k, mean in enumerate((0.0, 0.5)):
        assert np.sum(pooled.weights_at(k) * x) == pytest.approx(mean, abs=0.02)


def test_weighted_draws_represent_their_state():
    """State 0 given by importance-weighted draws of a wider normal (weights N(0,1)/N(0,2)),
    state 1 by exact draws of N(1, 1): the pooled mean and second moment at state 0 are 0
    and 1."""
    rng = np.random.default_rng(2)
    wide = rng.normal(0, 2, 40000)
    w0 = np.exp(-0.5 * wide ** 2 + 0.5 * (wide / 2) ** 2)
    w0 /= w0.sum()
    exact = rng.normal(1, 1, 20000)
    x = np.concatenate([wide, exact])
    u = np.stack([_normal_u(x, 0, 0.0), _normal_u(x, 1, 0.0)], axis=1)
    pooled = Pooled(u, np.concatenate([w0, np.full(20000, 1 / 20000)]),
                    np.repeat([0, 1], [40000, 20000]))
    w = pooled.weights_at(0)
    assert np.sum(w * x) == pytest.approx(0.0, abs=0.02)
    assert np.sum(w * x ** 2) == pytest.approx(1.0, abs=0.03)
    ess0 = 1 / np.sum(w0 ** 2)
    assert state_shares(np.concatenate([w0, np.full(20000, 1 / 20000)]),
                        np.repeat([0, 1], [40000, 20000]), 2)[0] == pytest.approx(
        ess0 / (ess0 + 20000))


def test_a_region_only_one_state_reaches_keeps_its_share():
    """State 0 is N(0, 1); state 1 adds an equal second well at 6 that state 0's draws never
    reach. Pooled, state 1's mass beyond 3 is 1/2 (its own draws carry that region), and
    state 0's is its normal tail, 0.00135."""
    rng = np.random.default_rng(3)
    n = 20000
    x0 = rng.normal(0, 1, n)
    x1 = np.where(rng.random(n) < 0.5, rng.normal(0, 1, n), rng.normal(6, 1, n))
    x = np.concatenate([x0, x1])

    def u1(x):
        return np.logaddexp(_normal_u(x, 0, 0.0), _normal_u(x, 6, 0.0))

    u = np.stack([_normal_u(x, 0, 0.0), u1(x)], axis=1)
    pooled = Pooled(u, np.full(2 * n, 1 / n), np.repeat([0, 1], n))
    far = x > 3
    assert np.sum(pooled.weights_at(1) * far) == pytest.approx(0.5, abs=0.01)
    assert np.sum(pooled.weights_at(0) * far) == pytest.approx(0.5 * math.erfc(3 / 2 ** 0.5),
                                                               abs=3e-4)
    assert pooled.log_z[1] == pytest.approx(math.log(2), abs=0.02)


def test_every_point_pools_the_same_number_of_values_shifted_at_the_ends():
    from phasedsl.pipeline.pooling import window

    assert [window(k, 22, 5) for k in (0, 3, 5, 10, 16, 21)] == [
        (0, 11), (0, 11), (0, 11), (5, 16), (11, 22), (11, 22)]
    assert [window(k, 4, 5) for k in range(4)] == [(0, 4)] * 4
    assert window(2, 5, 0) == (2, 3)


# Example 4.2 of the seed, sampled by tempered SMC (the spec's own engine is quadrature)
MERGE = ROOT / "specs" / "example_4_2_merge.phase"
SMC = {"engine": "smc", "particles": "200", "runs": "4", "report.resolution": "0"}


@pytest.fixture(scope="module")
def merge_runs(tmp_path_factory):
    return sampled_and_exact(tmp_path_factory.mktemp("pooling"), MERGE, SMC)


def test_pooled_masses_match_quadrature_with_smaller_errors(merge_runs):
    """Example 4.2 (phases that move with theta): each value's pooled masses within 3.5 se
    of the exact ones, and their standard errors smaller than each value's own in all."""
    pooled, exact = merge_runs
    own_var = pooled_var = 0.0
    for p, q in zip(pooled.points, exact.points):
        assert p.value == q.value
        assert p.diagnostics["pooled"]["values"] >= 6  # itself and 5 neighbours at least
        for name in ("left", "right"):
            m = p.phases[name]
            assert abs(m.mass - q.phases[name].mass) <= 3.5 * m.se, (p.value, name)
            own = p.diagnostics["own"]["phases"][name]
            own_var += own["se"] ** 2
            pooled_var += m.se ** 2
    assert pooled_var < own_var / 2


def test_pool_zero_keeps_each_point_its_own(merge_runs, tmp_path):
    """``report.pool = 0``: the re-analysed masses are each point's own, as before pooling."""
    import shutil

    from phasedsl.pipeline.reanalyse import reanalyse

    pooled, _ = merge_runs
    copy = tmp_path / "copy"
    shutil.copytree(pooled.folder, copy)
    spec = phasedsl.load(MERGE, {**SMC, "report.pool": "0"})
    results = reanalyse(copy, spec)
    for p, new in zip(pooled.points, results["points"]):
        assert "pooled" not in new["diagnostics"]
        for name in ("left", "right"):
            assert new["phases"][name]["mass"] == pytest.approx(
                p.diagnostics["own"]["phases"][name]["mass"], abs=1e-12)


def test_a_missing_draws_file_leaves_its_windows_unpooled(merge_runs, tmp_path):
    """A draws file removed by hand: the points whose window needs it keep their own masses,
    the others are pooled as before; nothing raises."""
    import json
    import shutil

    from phasedsl.lower.compile import compile_spec
    from phasedsl.pipeline.pooling import Pooler
    from phasedsl.pipeline.sweep import summarise

    pooled, _ = merge_runs
    copy = tmp_path / "copy"
    shutil.copytree(pooled.folder, copy)
    (copy / "draws" / "point_000.npz").unlink()
    results = json.loads((copy / "results.json").read_text())
    compiled = compile_spec(phasedsl.load(MERGE, SMC).checked)
    points = Pooler(compiled, copy, 2, summarise).points(results)  # windows of 5 values
    assert len(points) == 11
    for k, (p, before) in enumerate(zip(points, pooled.points)):
        if k <= 2:  # windows [0, 0.4]: value 0's draws are needed, the saved masses stay
            assert p.phases["left"].mass == before.phases["left"].mass
        else:
            assert p.diagnostics["pooled"]["from"] == pytest.approx(min(k - 2, 6) / 10)


def test_pooling_helps_compares_summed_variances():
    from phasedsl.analysis.pooling import pooling_helps

    assert pooling_helps([0.01 ** 2, 0.02 ** 2], [0.01 ** 2, 0.01 ** 2]) is True
    assert pooling_helps([0.01 ** 2, 0.01 ** 2], [0.005 ** 2, 0.015 ** 2]) is False
    assert pooling_helps([1e-4, 1e-4], [1e-4, 1e-4]) is False      # no better: its own
    assert pooling_helps([None, 1e-4], [1e-4, 1e-4]) is True       # unknown: pooled, as before


def test_with_discrepancy_counts_disagreement_beyond_the_own_noise_as_bias():
    from phasedsl.analysis.pooling import with_discrepancy

    # 0.06 pooled +- 0.002 against 0.065 +- 0.003 own: d^2 - se_own^2 = 2.5e-5 - 0.9e-5
    assert with_discrepancy(0.06, 0.002, 0.065, 0.003) == pytest.approx(
        math.sqrt(0.002 ** 2 + 0.005 ** 2 - 0.003 ** 2))
    # within the own noise: the runs' spread alone
    assert with_discrepancy(0.06, 0.002, 0.062, 0.003) == 0.002
    assert with_discrepancy(0.06, None, 0.07, 0.003) is None
    assert with_discrepancy(0.06, 0.002, 0.07, None) == 0.002


def _draws_at(w: np.ndarray, compiled, value: float):
    """Equally weighted draws ``w f[G, S]`` of Example 4.2's one parameter at ``value``."""
    import jax.numpy as jnp

    from phasedsl.lower.target import Draws

    ctx = compiled.context(jnp.asarray(value, jnp.float32))
    flat = jnp.asarray(w.reshape(-1, 1), jnp.float32)
    import jax

    u = np.asarray(jax.vmap(lambda z: compiled.target.logdensity(z, ctx))(flat), float)
    ind = np.asarray(jax.vmap(lambda z: compiled.target.indicators(z, ctx))(flat), bool)
    g, s = w.shape
    return Draws(params=w[..., None], indicators=ind.reshape(g, s, -1),
                 logdensity=u.reshape(g, s), weights=np.full((g, s), 1.0 / s),
                 method="repeats", log_z=np.zeros(g))


def test_a_value_keeps_its_own_estimate_where_pooling_adds_noise():
    """Value 0's 4 runs agree (half their draws in each well); its neighbour 0.1's runs each
    sit in one well (left, right, left, right). Pooled, each run at 0 leans to its
    neighbour's well: the runs' spread, the pooled variance, is far above value 0's own, so
    value 0 keeps its own masses (and says so); value 0.1 gains from value 0's draws."""
    from phasedsl.lower.compile import compile_spec
    from phasedsl.pipeline.pooling import Pooler
    from phasedsl.pipeline.sweep import summarise

    compiled = compile_spec(phasedsl.load(MERGE, SMC).checked)
    rng = np.random.default_rng(7)
    half = np.concatenate([rng.normal(-1, 0.05, (4, 200)), rng.normal(1, 0.05, (4, 200))], 1)
    sides = np.array([-0.9, 0.9, -0.9, 0.9])[:, None] + rng.normal(0, 0.05, (4, 400))
    draws = [_draws_at(half, compiled, 0.0), _draws_at(sides, compiled, 0.1)]
    points = [summarise(compiled, v, d, 0.0) for v, d in zip((0.0, 0.1), draws)]
    arrays = {i: {"params": d.params, "weights": d.weights, "log_z": d.log_z}
              for i, d in enumerate(draws)}
    out = Pooler(compiled, None, 1, summarise, arrays=arrays.get).pool(points, [0, 1])
    zero, one = out
    info = zero.diagnostics["pooled"]
    assert info["used"] is False and info["variance"] > info["own_variance"]
    for name in ("left", "right"):
        assert zero.phases[name] == points[0].phases[name]
        assert zero.diagnostics["own"]["phases"][name]["mass"] == points[0].phases[name].mass
        assert info["phases"][name]["se"] >= info["spread_se"][name]  # never below the spread
    assert one.diagnostics["pooled"]["used"] is True
    assert one.diagnostics["pooled"]["variance"] < one.diagnostics["pooled"]["own_variance"]
    assert one.phases["left"].se < points[1].phases["left"].se


def test_overlap_is_the_share_of_effective_sample_size_kept():
    """Equal-weight draws of N(0, 1) reweighted to N(m, 1) keep exp(-m^2) of their ESS
    (1 / E[(q/p)^2]); by hand, uneven weights evened out keep more than all of it, and a
    weightless sample counts for nothing; groups are averaged."""
    from phasedsl.analysis.pooling import overlap

    x = np.random.default_rng(0).standard_normal((2, 200_000))
    for m in (0.25, 0.5, 1.0):
        got = overlap(np.ones_like(x), m * x - m * m / 2)
        assert got == pytest.approx(math.exp(-m * m), rel=0.03)
    assert overlap(np.ones((1, 5)), np.zeros((1, 5))) == pytest.approx(1.0)
    even = overlap(np.array([[0.75, 0.25, 0.0]]), np.array([[0.0, math.log(3), 5.0]]))
    assert even == pytest.approx((1 / 0.5) / (1 / (0.75 ** 2 + 0.25 ** 2)))  # 2 / 1.6
    both = overlap(np.array([[0.75, 0.25], [1.0, 1.0]]),
                   np.array([[0.0, math.log(3)], [0.0, 0.0]]))
    assert both == pytest.approx((1.25 + 1.0) / 2)


def test_the_window_stops_at_the_first_neighbour_whose_draws_miss_the_value():
    """``report.pool_overlap``: value 0.1's draws spread over the whole box, so reweighted to
    0 or 0.2 (posteriors near w = +-1) they keep under 0.3 of their effective sample size;
    with ``min_overlap`` 0.3 the pools of 0 and 0.2 stop there (a window stays contiguous: 0 does not reach 0.2 past it),
    and with ``min_overlap`` 0 every window is whole, as before."""
    from phasedsl.lower.compile import compile_spec
    from phasedsl.pipeline.pooling import Pooler
    from phasedsl.pipeline.sweep import summarise

    compiled = compile_spec(phasedsl.load(MERGE, SMC).checked)
    rng = np.random.default_rng(3)

    def half(mid):
        return np.concatenate([rng.normal(-mid, 0.05, (4, 200)),
                               rng.normal(mid, 0.05, (4, 200))], 1)

    values = (0.0, 0.1, 0.2)
    draws = [_draws_at(half(1.0), compiled, 0.0),
             _draws_at(rng.uniform(-2, 2, (4, 400)), compiled, 0.1),
             _draws_at(half(0.8), compiled, 0.2)]
    points = [summarise(compiled, v, d, 0.0) for v, d in zip(values, draws)]
    arrays = {i: {"params": d.params, "weights": d.weights, "log_z": d.log_z}
              for i, d in enumerate(draws)}

    def pooler(t):
        return Pooler(compiled, None, 2, summarise, arrays=arrays.get, min_overlap=t)

    spread = pooler(0.0)
    far = [spread.overlap(1, 0.1, v) for v in (0.0, 0.2)]
    near = [spread.overlap(0, 0.0, 0.1), spread.overlap(2, 0.2, 0.1)]
    assert max(far) < 0.3 < min(near), (far, near)
    whole = spread.pool(points, [0, 1, 2])
    assert [p.diagnostics["pooled"]["values"] for p in whole] == [3, 3, 3]
    assert [p.diagnostics["pooled"]["cut"] for p in whole] == [0, 0, 0]
    cut = pooler(0.3).pool(points, [0, 1, 2])
    info = [p.diagnostics["pooled"] for p in cut]
    assert [(i["from"], i["to"], i["cut"]) for i in info] == [
        (0.0, 0.0, 2), (0.0, 0.2, 0), (0.2, 0.2, 2)]
    for p, own in ((cut[0], points[0]), (cut[2], points[2])):   # a window of itself alone
        for name in ("left", "right"):
            assert p.diagnostics["pooled"]["phases"][name]["mass"] == pytest.approx(
                own.phases[name].mass, abs=1e-9)


def test_the_report_says_where_the_window_was_cut():
    """The verdict's pooling line names the values whose window lost neighbours to
    ``report.pool_overlap`` and the share used, beside the values that keep their own."""
    from phasedsl.output.verdict import _pooled_line

    def point(value, cut, used):
        return {"value": value, "phases": {"a": {"mass": 0.5, "se": 0.01}},
                "diagnostics": {"own": {"phases": {"a": {"mass": 0.5, "se": 0.02}}},
                                "pooled": {"values": 11 - cut, "cut": cut, "used": used}}}

    line = _pooled_line([point(0.0, 4, True), point(0.5, 0, True), point(1.0, 2, False)],
                        {"pool": 5, "pool_overlap": 0.25})
    assert "up to 11 sweep values" in line
    assert ("the window cut at 2 of 3 values, where a neighbour's draws keep under "
            "report.pool_overlap = 0.25 of their effective sample size (0, 1)") in line
    assert "1 of 3 values keep their own draws' estimate" in line
    assert "window cut" not in _pooled_line([point(0.5, 0, True)], {})
    # many values cut (a sparse sweep): the windows' sizes, not a list of values
    many = [point(0.1 * k, c, True) for k, c in enumerate((7, 3, 1, 1, 2, 7))]
    assert ("the window cut at 6 of 6 values, where a neighbour's draws keep under "
            "report.pool_overlap = 0.1 of their effective sample size (to 4-10 values)") in \
        _pooled_line(many, {})
