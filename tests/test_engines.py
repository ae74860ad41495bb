"""Sampling engines on hand-built targets (fast suite: small settings, one compile per engine).

Statistical assertions use fixed seeds; tolerances are 4 standard errors (NUTS: from the
effective sample size; SMC: from the spread of independent runs) or analytic/scipy values.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from blackjax.diagnostics import effective_sample_size
from scipy.integrate import dblquad, quad

from phasedsl.engines.base import Box, settings_with_defaults
from phasedsl.engines.registry import make_engine
from phasedsl.language.traits import TRAITS
from phasedsl.lower.target import Target

# ---------------------------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------------------------


class Counter:
    """Counts Python calls of a target function: they happen only while JAX traces."""

    def __init__(self):
        self.calls = 0


def gaussian_target(dim: int = 1, counter: Counter | None = None) -> Target:
    """Flat-ish prior N(0, 10^2) and likelihood N(mu, sigma^2) per coordinate, from ctx."""

    def logprior(x, ctx):
        return jnp.sum(-0.5 * (x / 10.0) ** 2 - jnp.log(10.0 * jnp.sqrt(2 * jnp.pi)))

    def loglik(x, ctx):
        if counter is not None:
            counter.calls += 1
        return jnp.sum(-0.5 * ((x - ctx["mu"]) / ctx["sigma"]) ** 2)

    def indicators(x, ctx):
        return jnp.array([x[0] > ctx["mu"]])

    def init(key, ctx):
        return 10.0 * jax.random.normal(key, (dim,))

    inf = np.full(dim, np.inf)
    return Target(dim, logprior, loglik, indicators, init, -inf, inf, ("above",))


def energy_target(counter: Counter | None = None) -> Target:
    """K(w) = (w+1-t)^2 (w-1+t)^4 on [-2, 2], uniform prior, phases around -+(1-t)."""

    def logprior(x, ctx):
        inside = (x[0] >= -2.0) & (x[0] <= 2.0)
        return jnp.where(inside, -jnp.log(4.0), -jnp.inf)

    def loglik(x, ctx):
        if counter is not None:
            counter.calls += 1
        w, t = x[0], ctx["t"]
        return -ctx["n"] * (w + 1 - t) ** 2 * (w - 1 + t) ** 4

    def indicators(x, ctx):
        w, t = x[0], ctx["t"]
        return jnp.array([jnp.abs(w - (t - 1)) <= 0.5, jnp.abs(w - (1 - t)) <= 0.5])

    def init(key, ctx):
        return jax.random.uniform(key, (1,), minval=-2.0, maxval=2.0)

    return Target(1, logprior, loglik, indicators, init, np.array([-2.0]), np.array([2.0]),
                  ("left", "right"))


def energy_free_energies(t: float, n: float = 10.0):
    """scipy reference: ``-log Z`` and ``-log integral_phase`` for ``energy_target``."""

    def f(w):
        return 0.25 * np.exp(-n * (w + 1 - t) ** 2 * (w - 1 + t) ** 4)

    opts = dict(epsabs=0.0, epsrel=1e-12, limit=200)
    z = quad(f, -2, 2, points=sorted({t - 1.5, t - 0.5, 0.5 - t, 1.5 - t}), **opts)[0]
    left = quad(f, t - 1.5, t - 0.5, **opts)[0]
    right = quad(f, 0.5 - t, 1.5 - t, **opts)[0]
    return -np.log(z), -np.log(np.array([left, right]))


def mcmc_se(samples: np.ndarray) -> float:
    """Standard error of the mean of ``samples: [chains, draws]`` from the ESS."""
    ess = float(effective_sample_size(jnp.asarray(samples)))
    return float(np.std(samples) / np.sqrt(ess))


# ---------------------------------------------------------------------------------------------
# Interface and box transform
# ---------------------------------------------------------------------------------------------


def test_make_engine_defaults_and_errors():
    target = gaussian_target()
    engine = make_engine("nuts", target, {"draws": 50, "unknown_key": 1})
    assert engine.name == "nuts"
    assert engine.settings == {"chains": 4, "draws": 50, "warmup": 1000, "target_accept": 0.8,
                               "max_depth": 10}
    assert make_engine("smc", target, {}).settings["particles"] == 2000
    with pytest.raises(ValueError, match="unknown sampler"):
        make_engine("gibbs", target, {})
    with pytest.raises(ValueError, match="1 or 2"):
        make_engine("quadrature", gaussian_target(dim=3), {})
    with pytest.raises(ValueError, match="finite box"):
        make_engine("quadrature", target, {})
    assert make_engine("quadrature", energy_target(), {}).settings["points"] == 4001
    assert settings_with_defaults({"a": 1, "b": 0.5}, {"a": 2.0, "b": 1}) == {"a": 2, "b": 1.0}


def test_box_transform_roundtrip_and_jacobian():
    box = Box(np.array([-2.0, -np.inf, 0.0]), np.array([2.0, np.inf, 5.0]))
    x = jnp.array([1.5, -7.0, 0.1])
    z = box.to_z(x)
    assert z[1] == -7.0  # unbounded coordinate passes through
    np.testing.assert_allclose(box.to_x(z), x, rtol=1e-5, atol=1e-5)
    z = jnp.array([0.3, 2.0, -1.2])
    jac = jax.jacfwd(box.to_x)(z)
    np.testing.assert_allclose(
        box.log_jacobian(z), np.log(np.abs(np.linalg.det(np.asarray(jac)))), rtol=1e-5
    )
    # far tails stay inside the closed box and finite
    far = jnp.array([60.0, 0.0, -60.0])
    assert np.all(np.isfinite(np.asarray(box.to_x(far))))
    assert np.isfinite(float(box.log_jacobian(far)))
    assert float(box.to_x(far)[0]) <= 2.0 and float(box.to_x(far)[2]) >= 0.0
    with pytest.raises(ValueError):
        Box(np.array([0.0]), np.array([np.inf]))


# ---------------------------------------------------------------------------------------------
# NUTS
# ---------------------------------------------------------------------------------------------


def test_nuts_gaussian_moments_and_no_retrace():
    counter = Counter()
    engine = make_engine("nuts", gaussian_target(counter=counter),
                         {"chains": 4, "draws": 1000, "warmup": 400})
    key = jax.random.PRNGKey(0)
    calls_after_first = None
    for mu, sigma in [(1.0, 0.5), (-3.0, 2.0), (0.25, 1.0)]:
        draws = engine.run(key, {"mu": mu, "sigma": sigma})
        if calls_after_first is None:
            calls_after_first = counter.calls
            assert draws.info.compile_s > 0
        else:
            assert draws.info.compile_s == 0.0
        x = draws.params[..., 0]
        assert draws.params.shape == (4, 1000, 1)
        assert draws.indicators.shape == (4, 1000, 1) and draws.indicators.dtype == bool
        assert draws.method == "mcmc" and draws.weights is None
        # posterior of N(0, 10^2) prior x N(mu, sigma^2) likelihood
        post_var = 1.0 / (1.0 / 100.0 + 1.0 / sigma**2)
        post_mean = post_var * mu / sigma**2
        assert abs(x.mean() - post_mean) < 4 * mcmc_se(x)
        sq = (x - post_mean) ** 2
        assert abs(sq.mean() - post_var) < 4 * mcmc_se(sq)
        lp = -0.5 * (x / 10.0) ** 2 - np.log(10.0 * np.sqrt(2 * np.pi))
        np.testing.assert_allclose(draws.logdensity, lp - 0.5 * ((x - mu) / sigma) ** 2,
                                   rtol=1e-4, atol=1e-4)
        info = draws.info
        assert info.divergences == 0
        assert len(info.step_size) == 4
        assert 0.6 < info.acceptance <= 1.0
        assert info.grad_evals >= 1000 * 4 * info.steps_per_draw
        assert info.wall_s >= info.sample_s > 0
    assert counter.calls == calls_after_first  # the sweep did not re-trace
    assert engine.traces == 1


def test_nuts_uniform_box_jacobian():
    """A flat likelihood on a box: the Jacobian must make the draws uniform."""
    target = energy_target()
    engine = make_engine("nuts", target, {"chains": 4, "draws": 1000, "warmup": 300})
    draws = engine.run(jax.random.PRNGKey(1), {"n": 0.0, "t": 0.5})
    x = draws.params[..., 0]
    assert np.all((x >= -2.0) & (x <= 2.0))
    assert abs(x.mean()) < 4 * mcmc_se(x)
    sq = x**2
    assert abs(sq.mean() - 4.0 / 3.0) < 4 * mcmc_se(sq)  # E[x^2] of U(-2, 2)
    inside = (np.abs(x) < 1.0).astype(float)
    assert abs(inside.mean() - 0.5) < 4 * mcmc_se(inside)


# ---------------------------------------------------------------------------------------------
# Quadrature
# ---------------------------------------------------------------------------------------------


def test_quadrature_1d_matches_scipy_and_does_not_retrace():
    counter = Counter()
    engine = make_engine("quadrature", energy_target(counter=counter), {})
    calls = None
    for t in [0.0, 0.5, 0.9, 1.0]:
        draws = engine.run(None, {"n": 10.0, "t": t})
        calls = counter.calls if calls is None else calls
        f_total, f_phases = energy_free_energies(t)
        assert draws.method == "exact"
        assert abs(-draws.log_z[0] - f_total) < 1e-4
        np.testing.assert_allclose(-draws.phase_log_z[0], f_phases, atol=1e-4, rtol=0)
        # the weighted grid nodes reproduce the phase masses (one switch point per cell)
        masses = (draws.weights[0][:, None] * draws.indicators[0]).sum(axis=0)
        np.testing.assert_allclose(masses, np.exp(f_total - f_phases), atol=1e-6)
        assert draws.params.shape == (1, 4001, 1)
        np.testing.assert_allclose(draws.weights.sum(), 1.0, atol=1e-12)
    assert counter.calls == calls and engine.traces == 1


def test_quadrature_1d_large_n_does_not_underflow():
    engine = make_engine("quadrature", energy_target(), {"points": 2001})
    draws = engine.run(None, {"n": 1e4, "t": 0.5})
    f_total, f_phases = energy_free_energies(0.5, n=1e4)
    assert abs(-draws.log_z[0] - f_total) < 1e-4
    np.testing.assert_allclose(-draws.phase_log_z[0], f_phases, atol=1e-4)


def test_every_engine_has_the_whole_protocol():
    """``run``, ``run_many``, ``traits``, ``traces``, ``settings`` on
    every engine; the quadrature's ``run_many`` is one ``run`` per point, for a list or a
    stacked pytree."""
    from phasedsl.engines.many import stack_contexts
    from phasedsl.engines.registry import ENGINES

    splits, follows = {}, {}
    for name in ENGINES:
        target = energy_target() if name == "quadrature" else gaussian_target()
        engine = make_engine(name, target, {"points": 201})
        assert engine.name == name and isinstance(engine.settings, dict)
        assert callable(engine.run) and callable(engine.run_many) and engine.traces == 0
        assert engine.traits is TRAITS[name]
        splits[name], follows[name] = engine.traits.splits_points, engine.traits.follows_sweep
    assert splits == {"nuts": True, "smc": True, "smc_path": False, "quadrature": False}
    assert follows == {"nuts": False, "smc": False, "smc_path": True, "quadrature": False}
    engine = make_engine("quadrature", energy_target(), {"points": 201})
    ctxs = [{"n": jnp.float32(10.0), "t": jnp.float32(t)} for t in (0.0, 0.5)]
    for many in (engine.run_many([0, 1], ctxs), engine.run_many([0, 1], stack_contexts(ctxs))):
        for ctx, d in zip(ctxs, many):
            one = engine.run(None, ctx)
            # one point alone and in a batch: XLA may vectorise the two differently on
            # another CPU, so equal up to float rounding, not bit for bit
            np.testing.assert_array_equal(one.params, d.params)  # the grid itself
            np.testing.assert_allclose(one.weights, d.weights, rtol=1e-5, atol=1e-30)
            np.testing.assert_allclose(one.phase_log_z, d.phase_log_z, rtol=1e-6)
    assert engine.traces == 1
    with pytest.raises(ValueError, match="method must be one of"):
        engine.run_many([0], ctxs[:1], method="vectorized")


def test_quadrature_2d_matches_scipy():
    centre = np.array([0.5, -0.3])

    def logprior(x, ctx):
        return -jnp.log(16.0) * jnp.ones(())

    def loglik(x, ctx):
        return -ctx["n"] * ((x[0] - 0.5) ** 2 + 2 * (x[1] + 0.3) ** 2 + x[0] * x[1])

    def indicators(x, ctx):
        return jnp.array([jnp.sum((x - jnp.asarray(centre)) ** 2) <= 0.25**2, x[0] > 0.6])

    target = Target(2, logprior, loglik, indicators, None, np.array([-2.0, -2.0]),
                    np.array([2.0, 2.0]), ("disc", "right"))
    engine = make_engine("quadrature", target, {"points": 401})
    n = 10.0
    draws = engine.run(None, {"n": n})

    def f(y, x):
        return np.exp(-n * ((x - 0.5) ** 2 + 2 * (y + 0.3) ** 2 + x * y)) / 16.0

    def half_chord(x):
        return np.sqrt(max(0.25**2 - (x - 0.5) ** 2, 0.0))

    opts = dict(epsabs=0.0, epsrel=1e-10)
    z = dblquad(f, -2, 2, -2, 2, **opts)[0]
    disc = dblquad(f, 0.25, 0.75, lambda x: -0.3 - half_chord(x),
                   lambda x: -0.3 + half_chord(x), **opts)[0]
    right = dblquad(f, 0.6, 2, -2, 2, **opts)[0]
    assert abs(draws.log_z[0] - np.log(z)) < 1e-5
    np.testing.assert_allclose(draws.phase_log_z[0], np.log([disc, right]), atol=5e-4)
    assert draws.params.shape == (1, 401 * 401, 2)
    masses = (draws.weights[0][:, None] * draws.indicators[0]).sum(axis=0)
    np.testing.assert_allclose(masses, np.array([disc, right]) / z, atol=0.01)


def test_quadrature_quotes_an_error_that_bounds_its_own():
    """Each quadrature mass carries the difference from a grid of half the cells as its
    standard error (at least ``EXACT_FLOOR``): on a tilted 2-D well with a disc and a
    half-plane, and on a 1-D double well, every mass (``other`` included) lies within that
    of scipy's adaptive integrals, on a coarse grid (errors 1e-4) and a fine one."""
    from phasedsl.analysis.masses import EXACT_FLOOR, summarise_point
    from phasedsl.engines.quadrature import coarse_points

    assert (coarse_points(401), coarse_points(4001), coarse_points(2)) == (201, 2001, 2)
    n = 10.0

    def f(y, x):
        return np.exp(-n * ((x - 0.5) ** 2 + 2 * (y + 0.3) ** 2 + x * y)) / 16.0

    def chord(x):
        return np.sqrt(max(0.25 ** 2 - (x - 0.5) ** 2, 0.0))

    opts = dict(epsabs=0.0, epsrel=1e-9)
    z = dblquad(f, -2, 2, -2, 2, **opts)[0]
    disc = dblquad(f, 0.25, 0.75, lambda x: -0.3 - chord(x), lambda x: -0.3 + chord(x),
                   **opts)[0] / z
    right = dblquad(f, 0.6, 2, -2, 2, **opts)[0] / z
    both = dblquad(f, 0.6, 0.75, lambda x: -0.3 - chord(x), lambda x: -0.3 + chord(x),
                   **opts)[0] / z
    exact2 = np.array([disc, right, 1 - disc - right + both])

    def logprior(x, ctx):
        return -jnp.log(16.0) * jnp.ones(())

    def loglik(x, ctx):
        return -ctx["n"] * ((x[0] - 0.5) ** 2 + 2 * (x[1] + 0.3) ** 2 + x[0] * x[1])

    def indicators(x, ctx):
        return jnp.array([jnp.sum((x - jnp.array([0.5, -0.3])) ** 2) <= 0.25 ** 2,
                          x[0] > 0.6])

    plane = Target(2, logprior, loglik, indicators, None, np.array([-2.0, -2.0]),
                   np.array([2.0, 2.0]), ("disc", "right"))
    cases = [(plane, {"n": n}, exact2, points) for points in (101, 201)]
    for t in (0.3, 0.9):  # at 0.9 the two phases overlap on [-0.4, 0.4]
        f_total, f_phases = energy_free_energies(t)
        m = np.exp(f_total - f_phases)
        lo, hi = max(t - 1.5, 0.5 - t), min(t - 0.5, 1.5 - t)  # the phases' intersection
        both = 0.0 if lo >= hi else quad(
            lambda w: 0.25 * np.exp(-10.0 * (w + 1 - t) ** 2 * (w - 1 + t) ** 4), lo, hi,
            epsabs=0.0, epsrel=1e-12, limit=200)[0] * np.exp(f_total)
        other = 1 - m.sum() + both
        cases += [(energy_target(), {"n": 10.0, "t": t}, np.append(m, other), points)
                  for points in (41, 4001)]
    worst = 0.0
    for target, ctx, exact, points in cases:
        draws = make_engine("quadrature", target, {"points": points}).run(None, ctx)
        summary = summarise_point(draws, tuple(target.phase_names))
        got = [*summary.phases.values(), summary.other]
        se = np.array([m.se for m in got])
        assert np.all(se >= EXACT_FLOOR)
        np.testing.assert_allclose(se, np.maximum(draws.info.mass_error, EXACT_FLOOR))
        err = np.abs(np.array([m.mass for m in got]) - exact)
        assert np.all(err <= 2 * se), (points, err, se)
        worst = max(worst, float(err.max()))
    assert worst > 1e-5  # the coarse grids do err: the bound is tested, not idle


# ---------------------------------------------------------------------------------------------
# SMC
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("block", [  # the machine's default (CPU: 4); all at once (slow)
    None, pytest.param(0, marks=pytest.mark.slow)])
def test_smc_gaussian_evidence_and_no_retrace(block):
    counter = Counter()
    engine = make_engine("smc", gaussian_target(counter=counter),
                         {"particles": 2000, "runs": 8, "mutations": 5, "particle_block": block})
    assert engine.particle_block == (4 if block is None else 0)
    calls = None
    for mu, sigma in [(1.0, 0.1), (-2.0, 0.5)]:
        draws = engine.run(jax.random.PRNGKey(2), {"mu": mu, "sigma": sigma})
        calls = counter.calls if calls is None else calls
        # log Z = log N(mu | 0, 10^2 + sigma^2) + log(sqrt(2 pi) sigma)   (loglik unnormalised)
        var = 100.0 + sigma**2
        log_z = -0.5 * mu**2 / var - 0.5 * np.log(2 * np.pi * var) + np.log(
            np.sqrt(2 * np.pi) * sigma)
        assert draws.method == "repeats" and draws.log_z.shape == (8,)
        assert abs(draws.log_z.mean() - log_z) < 0.05
        assert draws.info.reached_posterior
        np.testing.assert_allclose(draws.weights.sum(axis=1), 1.0, atol=1e-9)
        post_var = 1.0 / (1.0 / 100.0 + 1.0 / sigma**2)
        means = np.einsum("rn,rn->r", draws.weights, draws.params[..., 0])
        se = np.sqrt(post_var / 1000.0)  # resampled clouds: ESS ~ half the particles
        assert abs(means.mean() - post_var * mu / sigma**2) < 4 * se
        masses = np.einsum("rn,rn->r", draws.weights, draws.indicators[..., 0])
        assert abs(masses.mean() - 0.5) < max(4 * masses.std(ddof=1) / np.sqrt(8), 0.01)
        np.testing.assert_allclose(draws.phase_log_z[:, 0], draws.log_z + np.log(masses))
        assert all(s > 1 for s in draws.info.stages)
    assert counter.calls == calls and engine.traces == 1


@pytest.mark.slow  # statistical (posterior moments of 8 runs x 500 particles, twice)
def test_smc_final_stages_add_generations_at_the_posterior():
    """``final_stages`` continue at lambda = 1 after tempering: the same tempering (same key),
    that many more stages, more effective draws, and the evidence and posterior moments still
    right (the Gaussian of ``gaussian_target``: N(mu, sigma^2) likelihood, N(0, 10^2) prior)."""
    target = gaussian_target()
    ctx = {"mu": 1.0, "sigma": 0.1}
    plain = make_engine("smc", target, {"particles": 500, "runs": 8, "mutations": 5})
    final = make_engine("smc", target, {"particles": 500, "runs": 8, "mutations": 5,
                                        "final_stages": 3})
    a = plain.run(jax.random.PRNGKey(4), ctx)
    b = final.run(jax.random.PRNGKey(4), ctx)
    assert [s + 3 for s in a.info.stages] == b.info.stages
    assert b.info.reached_posterior
    assert min(b.info.ess) > 1.5 * max(a.info.ess)
    var = 100.0 + 0.01
    log_z = -0.5 / var - 0.5 * np.log(2 * np.pi * var) + np.log(np.sqrt(2 * np.pi) * 0.1)
    assert abs(b.log_z.mean() - log_z) < 0.05
    post_var = 1.0 / (1.0 / 100.0 + 1.0 / 0.01)
    means = np.einsum("rn,rn->r", b.weights, b.params[..., 0])
    variances = np.einsum("rn,rn->r", b.weights, (b.params[..., 0] - means[:, None]) ** 2)
    assert abs(means.mean() - post_var / 0.01) < 4 * np.sqrt(post_var / 1000.0)
    assert variances.mean() == pytest.approx(post_var, rel=0.1)


def test_split_runs_fills_the_devices_with_equal_parts_of_a_points_runs():
    """``run_many``'s split of each point's runs (``engines.smc.split_runs``): whole points
    once they fill the devices, else the fewest equal parts that do, or every run alone."""
    from phasedsl.engines.smc import split_runs

    assert split_runs(2, 2, 4) == 1 and split_runs(5, 2, 4) == 1  # points fill the cores
    assert split_runs(1, 2, 4) == 2  # the lone last point: 2 runs on each core
    assert split_runs(1, 4, 4) == 4 and split_runs(3, 4, 4) == 2
    assert split_runs(1, 2, 3) == 3  # 3 runs have no 2 equal parts: one each
    assert split_runs(1, 8, 4) == 4 and split_runs(1, 2, 1) == 1
