"""The measurement stage's functions are built once per compiled spec: re-analysis, export and
the health check of every sweep point reuse them, never trace them again per point."""

from __future__ import annotations

import gc

import numpy as np

from phasedsl.lower.compile import compile_spec
from phasedsl.measure import functions as measured
from phasedsl.measure.functions import _CACHE, functions
from phasedsl.pipeline.spec import load_text
from specfiles import tilted_well

TEXT = tilted_well("linspace(0, 2, 5)")


def test_one_set_of_functions_per_compiled_spec_traced_once_for_every_point():
    from phasedsl.measure.health import check_point
    from phasedsl.pipeline.reanalyse import _indicators

    compiled = compile_spec(load_text(TEXT, "t.phase").checked)
    fns = functions(compiled)
    assert functions(compiled) is fns and measured(compiled) is fns
    params = np.linspace(-2, 2, 12, dtype=np.float32).reshape(2, 6, 1)  # f[G, S, D]
    for value in compiled.checked.sweep_values:
        phases = _indicators(compiled, params, value)
        assert phases.shape == (2, 6, 2)
        assert (phases[..., 0] == (params[..., 0] > 0)).all()
        assert (phases[..., 0] ^ phases[..., 1]).all()
    assert fns.indicators._cache_size() == 1

    from types import SimpleNamespace

    draws = SimpleNamespace(logdensity=np.zeros((2, 6)), params=params, log_z=None)
    for value in compiled.checked.sweep_values:  # what the health check reads of draws
        check_point(compiled, value, draws)
    assert fns.probe._cache_size() == 1


def test_the_functions_go_with_their_compiled_spec():
    compiled = compile_spec(load_text(TEXT, "t.phase").checked)
    functions(compiled)
    key = id(compiled)
    assert key in _CACHE
    del compiled
    gc.collect()
    assert key not in _CACHE


def test_density_curves_are_the_normalised_posterior_of_the_energy():
    """The energy figure's curves against the density written out by hand: uniform prior on
    [-2, 2], n = 20, beta = 1, so ``p(w) = exp(-20 K(w)) / Z`` with ``K = w^4 - 2 w^2 + theta w``,
    ``Z`` the trapezoid sum on the same grid; one trace serves both sweep values."""
    from phasedsl.measure.density import density_curves

    compiled = compile_spec(load_text(TEXT, "t.phase").checked)
    grid = np.linspace(-2.0, 2.0, 801)
    curves = density_curves(compiled, grid, [0.0, 1.5])
    assert curves.shape == (2, 801)
    for theta, got in zip((0.0, 1.5), curves):
        energy = grid**4 - 2 * grid**2 + theta * grid
        p = np.exp(-20 * (energy - energy.min()))
        want = p / np.sum(0.5 * (p[1:] + p[:-1]) * np.diff(grid))
        np.testing.assert_allclose(got, want, rtol=2e-3, atol=1e-6 * want.max())
    assert curves[0, 400] < 1e-6 * curves[0].max()  # the barrier at w = 0, theta = 0
    assert curves[1, :400].sum() > 100 * curves[1, 400:].sum()  # tilted: the left well
    assert functions(compiled).logdensity._cache_size() == 1
