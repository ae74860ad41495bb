"""Flat NUTS (``phasedsl.engines.flat_nuts``): the same warmup as BlackJAX's, the same transition in
distribution, chains independent of their batch, the right posterior."""

from __future__ import annotations

import warnings

import blackjax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from phasedsl.engines.flat_nuts import build_flat_chains
from phasedsl.engines.window_adaptation import window_adaptation
from phasedsl.engines.base import unconstrained
from phasedsl.engines.registry import make_engine
from phasedsl.lower.target import Target

SCALES = np.array([0.3, 1.0, 3.0], dtype=np.float32)


def gaussian(start=None, scales=SCALES) -> Target:
    """N(mu, diag(scales^2)) likelihood under a N(0, 10^2) prior; starts at ``start`` if
    given, else at a prior draw."""
    dim = len(scales)

    def logprior(x, ctx):
        return jnp.sum(-0.5 * (x / 10.0) ** 2)

    def loglik(x, ctx):
        return jnp.sum(-0.5 * ((x - ctx["mu"]) / scales) ** 2)

    def indicators(x, ctx):
        return jnp.array([x[0] > ctx["mu"]])

    def init(key, ctx):
        return jnp.full((dim,), start, jnp.float32) if start is not None else \
            10.0 * jax.random.normal(key, (dim,))

    inf = np.full(dim, np.inf)
    return Target(dim, logprior, loglik, indicators, init, -inf, inf, ("above",))


def posterior(mu: float):
    var = 1.0 / (1.0 / 100.0 + 1.0 / SCALES**2)
    return var * mu / SCALES**2, np.sqrt(var)


def test_window_adaptation_matches_blackjax_step_by_step():
    warmup, dim, target_accept = 300, 3, 0.8
    rng = np.random.default_rng(1)
    zs = rng.normal(size=(warmup, dim)).astype(np.float32) * np.array([0.5, 2.0, 5.0], np.float32)
    accepts = rng.uniform(0.3, 1.0, size=warmup).astype(np.float32)

    init, step = window_adaptation(target_accept, warmup)
    ours = init(dim, jnp.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        b_init, b_update, b_final = blackjax.adaptation.window_adaptation.base(
            True, target_accept)
    schedule = blackjax.adaptation.window_adaptation.build_schedule(warmup)
    theirs = b_init(jnp.zeros(dim), 1.0)
    step, b_update = jax.jit(step), jax.jit(b_update)
    for t in range(warmup):
        ours = step(ours, t, zs[t], accepts[t])
        theirs = b_update(theirs, schedule[t], zs[t], accepts[t])
        if t < warmup - 1:  # the last step switches to the averaged step size
            np.testing.assert_allclose(ours.step_size, theirs.step_size, rtol=1e-5)
            np.testing.assert_allclose(ours.inv_mass, theirs.inverse_mass_matrix, rtol=1e-5)
    step_size, inv_mass = b_final(theirs)
    np.testing.assert_allclose(ours.step_size, step_size, rtol=1e-5)
    np.testing.assert_allclose(ours.inv_mass, inv_mass, rtol=1e-5)
    assert not np.allclose(inv_mass, 1.0)  # the slow windows did estimate something


@pytest.mark.slow  # statistical: 16,000 transitions each, against BlackJAX
@pytest.mark.parametrize("scales", [
    SCALES,  # step 1 against a 0.3 scale: short trajectories, often divergent
    np.array([2.0, 3.0, 5.0], np.float32),  # long ones: 3 to 31 steps, many cut short
])                                          # by the U-turn checks inside a subtree
def test_transition_matches_blackjax_in_distribution(scales):
    """No warmup: step size 1 and unit mass for both, from the same start; the trajectory
    lengths, acceptance statistics and mean squared jumps of 16,000 transitions each must
    agree. The jumps pin which point a trajectory proposes: with uniform instead of biased
    progressive sampling between doublings the flat chains jump about 0.62x as far."""
    target, chains, draws = gaussian(start=1.0, scales=scales), 8, 2000
    ctx = {"mu": jnp.float32(1.0)}
    keys = jax.random.split(jax.random.PRNGKey(0), chains)
    flat = jax.jit(build_flat_chains(target, draws=draws, warmup=0, target_accept=0.8,
                                        max_depth=10))(
        keys, {"mu": jnp.full((chains,), 1.0, jnp.float32)})
    zt = unconstrained(target)
    kernel = blackjax.nuts.build_kernel()

    def chain(key):
        def logdensity(z):
            return zt.logdensity(z, ctx)

        def one(state, k):
            state, info = kernel(k, state, logdensity, 1.0, jnp.ones(3), max_num_doublings=10)
            return state, (info.num_integration_steps, info.acceptance_rate, state.position)

        start = blackjax.nuts.init(jnp.ones(3), logdensity)
        return jax.lax.scan(one, start, jax.random.split(key, draws))[1]

    steps, accept, position = jax.jit(jax.vmap(chain))(keys)
    ours = np.bincount(np.asarray(flat[4]).ravel(), minlength=1024) / (chains * draws)
    theirs = np.bincount(np.asarray(steps).ravel(), minlength=1024) / (chains * draws)
    np.testing.assert_allclose(ours, theirs, atol=0.03)  # the share of each length
    assert abs(float(np.mean(flat[4])) / float(np.mean(steps)) - 1) < 0.05
    assert abs(float(np.mean(flat[5])) - float(np.mean(accept))) < 0.01

    def squared_jump(x):
        return float(np.mean(np.sum(np.diff(np.asarray(x), axis=1) ** 2, axis=-1)))

    assert abs(squared_jump(flat[0]) / squared_jump(position) - 1) < 0.15


def test_chains_do_not_depend_on_their_batch():
    """A chain's draws depend on its key and context, not on the other chains of its batch
    (bitwise, for batches of one width: on a CPU XLA can vectorise a batch of 12 otherwise
    than one of 8, which changes float rounding, hence the draws)."""
    target = gaussian()
    f = jax.jit(build_flat_chains(target, draws=200, warmup=100, target_accept=0.8,
                                    max_depth=10))
    keys = jax.random.split(jax.random.PRNGKey(3), 5)
    mus = jnp.array([1.0, -2.0, 0.5, 4.0, -1.0], jnp.float32)
    one = f(keys[:3], {"mu": mus[:3]})
    other = f(keys[jnp.array([0, 1, 4])], {"mu": mus[jnp.array([0, 1, 4])]})
    for a, b in zip(one, other):
        np.testing.assert_array_equal(np.asarray(a)[:2], np.asarray(b)[:2])
    assert not np.array_equal(np.asarray(one[0])[2], np.asarray(other[0])[2])


def test_flat_engine_samples_the_posterior():
    engine = make_engine("nuts", gaussian(), {"chains": 4, "draws": 1000, "warmup": 300,
                                              "chain_method": "flat"})
    ctxs = [{"mu": jnp.float32(m)} for m in (1.0, -1.0)]
    many = engine.run_many([0, 1], ctxs)
    assert [d.info.method for d in many] == ["flat", "flat"]
    for d, mu in zip(many, (1.0, -1.0)):
        mean, sd = posterior(mu)
        x = d.params.reshape(-1, 3)
        assert np.all(np.abs(x.mean(axis=0) - mean) <= 0.15 * sd + 0.02), (x.mean(axis=0), mean)
        np.testing.assert_allclose(x.std(axis=0), sd, rtol=0.12)
        assert d.params.shape == (4, 1000, 3) and d.info.divergences == 0
        assert 0.7 < d.info.acceptance < 0.99
        assert len(d.info.grad_evals_per_chain) == 4
        assert sum(d.info.grad_evals_per_chain) == d.info.grad_evals
    # the first point's chains in another batch of the same width: keyed by themselves
    other = engine.run_many([0, 2], [ctxs[0], {"mu": jnp.float32(3.0)}])
    np.testing.assert_array_equal(other[0].params, many[0].params)
    with pytest.raises(ValueError, match="method must be one of"):
        engine.run_many([0], ctxs[:1], method="threads")


def test_no_warmup_runs_with_unit_step_and_mass():
    for method in ("sequential", "flat"):
        engine = make_engine("nuts", gaussian(start=1.0), {"chains": 2, "draws": 50,
                                                           "warmup": 0, "chain_method": method})
        d = engine.run(0, {"mu": jnp.float32(1.0)})
        assert d.info.step_size == [1.0, 1.0] and d.info.grad_evals_warmup == 0
        assert d.params.shape == (2, 50, 3)
