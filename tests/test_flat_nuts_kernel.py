"""Flat NUTS's kernel (``phasedsl.engines.flat_nuts_kernel``) stage by stage, on a 1-D
standard normal (unbounded, so ``z`` is ``x``): each stage called alone against a hand
computation, and a few whole transitions against their own bookkeeping."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from phasedsl.engines import flat_nuts_kernel as fk
from phasedsl.engines.base import unconstrained
from phasedsl.engines.window_adaptation import window_adaptation
from phasedsl.lower.target import Target

CTX = {"mu": jnp.float32(0.0)}


def normal_1d() -> Target:
    """N(0, 1) as a flat prior term plus a Gaussian likelihood; starts at 0.7."""
    def logprior(x, ctx):
        return jnp.zeros((), x.dtype)

    def loglik(x, ctx):
        return jnp.sum(-0.5 * (x - ctx["mu"]) ** 2)

    return Target(1, logprior, loglik, lambda x, ctx: jnp.array([x[0] > 0]),
                  lambda key, ctx: jnp.full((1,), 0.7, jnp.float32),
                  np.array([-np.inf]), np.array([np.inf]), ("positive",))


def kernel(draws=3, warmup=0, max_depth=4) -> fk.FlatKernel:
    target = normal_1d()
    return fk.FlatKernel(target, unconstrained(target), *window_adaptation(0.8, warmup),
                         draws=draws, warmup=warmup, max_depth=max_depth)


def test_init_shapes_and_energy_bookkeeping():
    k = kernel()
    c, out = fk.init(k, jax.random.PRNGKey(0), CTX)
    assert c.state.z.shape == (1,) and c.ckpt.shape == (4, 2, 1)
    assert out.rows.shape == (3, 1 + 4) and not np.any(np.asarray(out.rows))
    z, p0 = float(c.state.z[0]), float(c.left.p[0])
    np.testing.assert_allclose(z, 0.7)
    np.testing.assert_allclose(float(c.state.l), -0.5 * z ** 2, rtol=1e-6)
    np.testing.assert_allclose(float(c.state.g[0]), -z, rtol=1e-6)
    # the transition's energy at its start: -log density plus the kinetic energy (unit mass)
    np.testing.assert_allclose(float(c.h0), 0.5 * z ** 2 + 0.5 * p0 ** 2, rtol=1e-6)
    assert float(c.rho[0]) == p0 and int(c.depth) == 0 and int(c.j) == 0
    assert float(c.direction) in (1.0, -1.0)
    end = c.right if float(c.direction) > 0 else c.left
    for a, b in zip(c.current, end):
        np.testing.assert_array_equal(a, b)


def test_leapfrog_is_velocity_verlet_and_its_proposal_weighs_the_energy_error():
    k = kernel()
    c, _ = fk.init(k, jax.random.PRNGKey(1), CTX)
    c = c._replace(step_size=jnp.float32(0.3), direction=jnp.float32(-1.0))
    new, prop, diverging = fk.leapfrog(k, c, CTX)
    eps, z, p = -0.3, float(c.current.z[0]), float(c.current.p[0])
    p_half = p + 0.5 * eps * (-z)
    z1 = z + eps * p_half
    p1 = p_half + 0.5 * eps * (-z1)
    np.testing.assert_allclose([float(new.z[0]), float(new.p[0])], [z1, p1], rtol=1e-5)
    np.testing.assert_allclose([float(new.l), float(new.g[0])], [-0.5 * z1 ** 2, -z1],
                               rtol=1e-5)
    energy = 0.5 * z1 ** 2 + 0.5 * p1 ** 2
    np.testing.assert_allclose(float(prop.energy), energy, rtol=1e-5)
    np.testing.assert_allclose(float(prop.weight), float(c.h0) - energy, atol=1e-5)
    assert float(prop.sum_log_accept) == min(float(prop.weight), 0.0)
    assert not bool(diverging)


def test_checkpoint_range_is_numpyros():
    """NumPyro's ``_leaf_idx_to_ckpt_idxs``: leaf 0 checks nothing, leaf 1 the checkpoint 0,
    leaf 3 the checkpoints 0..1, leaf 7 0..2, leaf 5 only 1."""
    got = [tuple(int(v) for v in fk.checkpoint_range(jnp.int32(j))) for j in (0, 1, 3, 5, 7)]
    assert got == [(1, 0), (0, 0), (0, 1), (1, 1), (0, 2)]


def test_a_step_keeps_the_state_shapes_and_counts_its_leapfrog_step():
    k = kernel()
    c, out = fk.init(k, jax.random.PRNGKey(2), CTX)
    c1, out1 = jax.jit(lambda c, out: fk.step(k, CTX, c, out))(c, out)
    shapes = jax.tree.map(lambda a: (jnp.shape(a), jnp.result_type(a)), (c, out))
    assert jax.tree.map(lambda a: (jnp.shape(a), jnp.result_type(a)), (c1, out1)) == shapes
    assert int(c1.count) == 1
    # the first subtree has one step, so it ends: either the transition ended with it (a
    # U-turn) or the trajectory now holds that step, one doubling done, a new subtree begun
    ended = int(c1.t) == 1
    assert int(c1.j) == 0
    assert (ended and int(c1.n) == 0 and float(c1.last_steps) == 1.0) or \
        (not ended and int(c1.n) == 1 and int(c1.depth) == 1)


def test_transitions_record_their_steps_and_states():
    """Stepping until no transition is to go: the recorded steps add up to the leapfrog steps
    taken (no warmup), each draw's log density is the target's at it, and the last row is
    the chain's state."""
    k = kernel(draws=3)
    c, out = fk.init(k, jax.random.PRNGKey(3), CTX)
    step = jax.jit(lambda c, out: fk.step(k, CTX, c, out))
    while bool(fk.running(k, c)):
        c, out = step(c, out)
    draws = fk.finish(k, CTX, c, out)
    assert draws.x.shape == (3, 1) and draws.ind.shape == (3, 1)
    assert int(np.sum(draws.steps)) == int(c.count) and np.all(draws.steps >= 1)
    np.testing.assert_allclose(draws.logdensity, -0.5 * np.asarray(draws.x[:, 0]) ** 2,
                               rtol=1e-6)
    assert float(draws.x[-1, 0]) == float(c.state.z[0])
    np.testing.assert_array_equal(draws.ind[:, 0], np.asarray(draws.x[:, 0]) > 0)
    assert int(draws.warmup_steps) == 0 and float(draws.step_size) == 1.0
