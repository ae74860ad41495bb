"""Goldstein stationarity by gradient sampling (``measure.stationarity``): a minimum on a
kink is stationary though its gradient is not small; a kink with a slope along it, or a
smooth slope, is not; a gradient pointing out of the box at its edge counts as none."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

from phasedsl.analysis.minima import GRAD_TOL  # noqa: E402
from phasedsl.measure.stationarity import ball_points, min_norm, stationarity  # noqa: E402

BOX = (np.full(2, -10.0), np.full(2, 10.0))


def measured(potential, p, radius, box=BOX):
    grad = jax.grad(lambda q, ctx: potential(q))
    with jax.enable_x64(True):
        return float(stationarity(grad, jnp.asarray(p, jnp.float64), None,
                                  jnp.full(2, radius, jnp.float64), *box, ball_points(2)))


def test_ball_points_are_antithetic_pairs_inside_the_unit_ball():
    u = ball_points(5)
    assert u.shape == (20, 5)
    np.testing.assert_array_equal(u[:10], -u[10:])
    assert np.all(np.linalg.norm(u, axis=1) <= 1.0)
    assert len(ball_points(100)) == 128  # capped


def test_min_norm_of_two_gradients_is_the_closest_point_of_their_segment():
    with jax.enable_x64(True):
        v = min_norm(jnp.array([[1.0, 1.0], [-1.0, 1.0]]))
        np.testing.assert_allclose(v, [0.0, 1.0], atol=1e-9)
        # closest point of the segment from (2, 0) to (0, 1): t (2, 0) + (1 - t) (0, 1), t = 1/5
        v = min_norm(jnp.array([[2.0, 0.0], [0.0, 1.0], [3.0, 3.0]]))
        np.testing.assert_allclose(v, [0.4, 0.8], atol=1e-6)


def test_a_minimum_on_a_kink_is_stationary_though_its_gradient_is_one():
    def kink(q):
        return jnp.abs(q[0] - 0.3) + 0.5 * q[1] ** 2

    p = [0.3 + 1e-7, 0.0]
    g = jax.grad(kink)(jnp.asarray(p))
    assert float(jnp.max(jnp.abs(g))) == pytest.approx(1.0)
    # the smooth part's gradient varies by |Hessian| r = 1e-3 over the ball: no closer
    assert measured(kink, p, 1e-3) < 1e-3


def test_a_dense_sum_of_kinks_is_stationary_at_its_median_only():
    """``U(x) = mean |x - c_i|`` over 201 points 0.001 apart (a finite-data loss in
    miniature): at the median every one-sided gradient is about 1/201, but 0.02 away the
    gradient is 40/201 whichever point of a small ball it is taken at."""
    c = jnp.asarray(np.linspace(-0.1, 0.1, 201))

    def data(q):
        return jnp.mean(jnp.abs(q[0] - c)) + 0.5 * q[1] ** 2

    median = jnp.asarray([0.00023, 0.0])
    assert float(jnp.max(jnp.abs(jax.grad(data)(median)))) > 4 * GRAD_TOL
    assert measured(data, median, 3e-3) < GRAD_TOL
    assert measured(data, [0.02, 0.0], 3e-3) > 0.15


def test_a_kink_with_a_slope_along_it_is_not_stationary():
    def slope(q):
        return jnp.abs(q[0]) + 0.5 * q[1]

    assert measured(slope, [1e-7, 0.0], 1e-3) == pytest.approx(0.5, abs=1e-6)


def test_a_smooth_slope_is_loosened_by_at_most_the_curvature_times_the_radius():
    def bowl(q):
        return 0.5 * (q[0] ** 2 + q[1] ** 2)

    got = measured(bowl, [0.01, 0.0], 1e-4)
    assert 0.01 - 1e-4 <= got <= 0.01 + 1e-12


def test_a_gradient_out_of_the_box_at_its_edge_is_no_gradient():
    def tilt(q):
        return q[0] + 0.5 * q[1] ** 2

    box = (np.array([0.0, -1.0]), np.array([1.0, 1.0]))
    assert measured(tilt, [0.0, 0.0], 1e-3, box) == pytest.approx(0.0, abs=1e-12)
    assert measured(tilt, [0.5, 0.0], 1e-3, box) == pytest.approx(1.0, abs=1e-9)
