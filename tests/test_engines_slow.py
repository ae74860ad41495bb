"""Statistical checks of the engines against each other and against known answers (slow).

Run with ``pytest -m slow``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.special import logsumexp
from test_engines import energy_free_energies, energy_target, mcmc_se

from phasedsl.engines.registry import make_engine
from phasedsl.lower.target import Target

pytestmark = pytest.mark.slow

BOX = 20.0


def mixture_target() -> Target:
    """Uniform prior on [-20, 20]; likelihood 0.3 N(-m, s^2) + 0.7 N(m, s^2), modes 32 s apart."""

    def logprior(x, ctx):
        inside = jnp.all(jnp.abs(x) <= BOX)
        return jnp.where(inside, -jnp.log(2 * BOX), -jnp.inf)

    def loglik(x, ctx):
        s, m = ctx["s"], ctx["m"]
        comp = (jnp.log(jnp.array([0.3, 0.7])) - 0.5 * ((x[0] - jnp.stack([-m, m])) / s) ** 2
                - jnp.log(s * jnp.sqrt(2 * jnp.pi)))
        return logsumexp(comp)

    def indicators(x, ctx):
        return jnp.array([x[0] < 0.0, x[0] > 0.0])

    def init(key, ctx):
        return jax.random.uniform(key, (1,), minval=-BOX, maxval=BOX)

    return Target(1, logprior, loglik, indicators, init, np.array([-BOX]), np.array([BOX]),
                  ("left", "right"))


def test_smc_recovers_mixture_weights_where_nuts_cannot():
    ctx = {"s": 0.5, "m": 8.0}
    runs = 8
    smc = make_engine("smc", mixture_target(), {"particles": 4000, "runs": runs})
    draws = smc.run(jax.random.PRNGKey(0), ctx)
    masses = np.einsum("rn,rnp->rp", draws.weights, draws.indicators)
    se = masses.std(axis=0, ddof=1) / np.sqrt(runs)
    assert np.all(np.abs(masses.mean(axis=0) - [0.3, 0.7]) < np.maximum(4 * se, 0.005))
    assert np.all(np.abs(masses.mean(axis=0) - [0.3, 0.7]) < 0.03)
    # the evidence: the mixture integrates to 1, times the prior density 1/40
    assert abs(draws.log_z.mean() + np.log(2 * BOX)) < 0.05

    nuts = make_engine("nuts", mixture_target(), {"chains": 8, "draws": 1000, "warmup": 500})
    chain_masses = nuts.run(jax.random.PRNGKey(0), ctx).indicators.mean(axis=1)
    # every chain stays in the mode it found: the pooled mass is k/8, blind to 0.3/0.7
    assert np.all((chain_masses == 0.0) | (chain_masses == 1.0))


def test_nuts_energy_masses_match_quadrature():
    """One engine of each kind serves the whole sweep (no re-compilation)."""
    exact_engine = make_engine("quadrature", energy_target(), {})
    nuts = make_engine("nuts", energy_target(), {"chains": 4, "draws": 5000, "warmup": 1000})
    for t in [0.5, 0.9, 1.0]:
        ctx = {"n": 10.0, "t": t}
        exact = exact_engine.run(None, ctx)
        masses = np.exp(exact.phase_log_z[0] - exact.log_z[0])
        draws = nuts.run(jax.random.PRNGKey(3), ctx)
        for p in range(2):
            ind = draws.indicators[..., p].astype(float)
            assert abs(ind.mean() - masses[p]) < 4 * mcmc_se(ind), (t, p, ind.mean(), masses[p])
    assert nuts.traces == 1 and exact_engine.traces == 1


def test_smc_bimodal_energy_matches_quadrature():
    """t = 0: modes at -1 (quadratic) and +1 (quartic) behind a 10-nat barrier."""
    ctx = {"n": 10.0, "t": 0.0}
    f_total, f_phases = energy_free_energies(0.0)
    runs = 8
    draws = make_engine("smc", energy_target(), {"runs": runs}).run(jax.random.PRNGKey(4), ctx)
    masses = np.einsum("rn,rnp->rp", draws.weights, draws.indicators)
    se = masses.std(axis=0, ddof=1) / np.sqrt(runs)
    exact = np.exp(f_total - f_phases)
    assert np.all(np.abs(masses.mean(axis=0) - exact) < np.maximum(4 * se, 0.005))
    assert abs(-draws.log_z.mean() - f_total) < 0.05


def test_smc_evidence_2d_box_matches_quadrature():
    def logprior(x, ctx):
        return jnp.where(jnp.all(jnp.abs(x) <= 2.0), -jnp.log(16.0), -jnp.inf)

    def loglik(x, ctx):
        r2 = jnp.sum(x**2)
        return -ctx["n"] * (r2 - 1.0) ** 2  # a ring of radius 1

    def indicators(x, ctx):
        return jnp.array([x[0] > 0.0, jnp.abs(x[1]) < 0.2])

    def init(key, ctx):
        return jax.random.uniform(key, (2,), minval=-2.0, maxval=2.0)

    target = Target(2, logprior, loglik, indicators, init, np.full(2, -2.0), np.full(2, 2.0),
                    ("right", "band"))
    ctx = {"n": 50.0}
    exact = make_engine("quadrature", target, {}).run(None, ctx)
    runs = 8
    draws = make_engine("smc", target, {"runs": runs}).run(jax.random.PRNGKey(5), ctx)
    assert abs(draws.log_z.mean() - exact.log_z[0]) < 0.05
    masses = np.einsum("rn,rnp->rp", draws.weights, draws.indicators)
    exact_masses = np.exp(exact.phase_log_z[0] - exact.log_z[0])
    se = masses.std(axis=0, ddof=1) / np.sqrt(runs)
    assert np.all(np.abs(masses.mean(axis=0) - exact_masses) < np.maximum(4 * se, 0.005))
