"""The speed paths: the hand-written derivative of the narrow network forward, NUTS chains run
one after another or vmapped, and several sweep points in one compiled call (``run_many``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from phasedsl.lower.network import network_forward_t
from phasedsl.engines.many import stack_contexts
from phasedsl.engines.registry import make_engine
from phasedsl.lower.target import Target


def matmul_forward(params, xt, d, k, act):
    w, b = params[: d * k].reshape(d, k), params[d * k: d * k + d]
    q, c = params[d * k + d: d * k + 2 * d], params[d * k + 2 * d]
    return c + q @ act(w @ xt + b[:, None])


@pytest.mark.parametrize("d, k, act", [(2, 2, jax.nn.relu), (3, 2, jnp.tanh), (1, 3, jax.nn.swish)])
def test_narrow_forward_derivatives_match_autodiff(d, k, act):
    key1, key2, key3 = jax.random.split(jax.random.PRNGKey(0), 3)
    params = jax.random.normal(key1, (d * (k + 2) + 1,))
    xt = jax.random.normal(key2, (k, 64))
    ct = jax.random.normal(key3, (64,))

    def ours(p, x):
        return jnp.sum(ct * network_forward_t(p, x, d, k, act))

    def ref(p, x):
        return jnp.sum(ct * matmul_forward(p, x, d, k, act))

    close = {"rtol": 1e-5, "atol": 1e-5}
    np.testing.assert_allclose(network_forward_t(params, xt, d, k, act),
                               matmul_forward(params, xt, d, k, act), **close)
    for a, b in zip(jax.grad(ours, (0, 1))(params, xt), jax.grad(ref, (0, 1))(params, xt)):
        np.testing.assert_allclose(a, b, **close)
    for a, b in zip(jax.jacfwd(ours, (0, 1))(params, xt), jax.jacfwd(ref, (0, 1))(params, xt)):
        np.testing.assert_allclose(a, b, **close)
    batch = jnp.stack([params, params + 0.5])
    np.testing.assert_allclose(jax.vmap(jax.grad(ours), (0, None))(batch, xt),
                               jax.vmap(jax.grad(ref), (0, None))(batch, xt), **close)
    np.testing.assert_allclose(jax.hessian(ours)(params, xt), jax.hessian(ref)(params, xt),
                               rtol=1e-4, atol=1e-4)
    grad_jit = jax.jit(jax.grad(ours))(params, xt)
    np.testing.assert_allclose(grad_jit, jax.grad(ref)(params, xt), **close)


def gaussian_target() -> Target:
    def logprior(x, ctx):
        return jnp.sum(-0.5 * (x / 10.0) ** 2)

    def loglik(x, ctx):
        return jnp.sum(-0.5 * ((x - ctx["mu"]) / ctx["sigma"]) ** 2)

    def indicators(x, ctx):
        return jnp.array([x[0] > ctx["mu"]])

    def init(key, ctx):
        return 10.0 * jax.random.normal(key, (2,))

    inf = np.full(2, np.inf)
    return Target(2, logprior, loglik, indicators, init, -inf, inf, ("above",))


SETTINGS = {"chains": 3, "draws": 300, "warmup": 200}


def test_run_many_sequential_equals_run_and_compiles_once():
    engine = make_engine("nuts", gaussian_target(), {**SETTINGS, "chain_method": "sequential"})
    assert engine.chain_method == "sequential"
    ctxs = [{"mu": jnp.float32(m), "sigma": jnp.float32(s)} for m, s in [(1.0, 0.5), (-2.0, 1.0)]]
    keys = [jax.random.PRNGKey(i) for i in range(2)]
    singles = [engine.run(k, c) for k, c in zip(keys, ctxs)]
    many = engine.run_many(keys, ctxs, method="sequential")
    assert engine.traces == 2  # one for run, one for run_many
    for one, batched in zip(singles, many):
        np.testing.assert_array_equal(one.params, batched.params)
        np.testing.assert_array_equal(one.indicators, batched.indicators)
        assert batched.params.shape == (3, 300, 2) and batched.method == "mcmc"
        assert batched.info.call_points == 2 and batched.info.chain_method == "sequential"
    assert many[0].info.compile_s > 0 and many[1].info.compile_s == 0.0
    again = engine.run_many(jnp.stack(keys), stack_contexts(ctxs), method="sequential")
    assert again[0].info.compile_s == 0.0 and engine.traces == 2
    np.testing.assert_array_equal(again[1].params, many[1].params)


def test_vectorized_chains_and_points_sample_the_posterior():
    engine = make_engine("nuts", gaussian_target(), {**SETTINGS, "chain_method": "vectorized"})
    ctxs = [{"mu": jnp.float32(m), "sigma": jnp.float32(0.5)} for m in (1.0, -1.0)]
    draws = engine.run_many([0, 1], ctxs, method="vectorized")
    for d, mu in zip(draws, (1.0, -1.0)):
        assert d.params.shape == (3, 300, 2)
        post_var = 1.0 / (1.0 / 100.0 + 1.0 / 0.25)
        x = d.params[..., 0]
        assert abs(x.mean() - post_var * mu / 0.25) < 0.1
        assert d.info.lockstep_factor >= 1.0 and d.info.divergences == 0
    one = engine.run(0, ctxs[0])
    assert one.info.chain_method == "vectorized" and one.params.shape == (3, 300, 2)
    with pytest.raises(ValueError, match="chain_method"):
        make_engine("nuts", gaussian_target(), {"chain_method": "threads"})


SHARDED = r"""
import jax, jax.numpy as jnp, numpy as np
from test_nuts_fast_paths import SETTINGS, gaussian_target
from phasedsl.engines.registry import make_engine
assert jax.device_count() == 2
engine = make_engine("nuts", gaussian_target(), {**SETTINGS, "chain_method": "sequential"})
ctxs = [{"mu": jnp.float32(m), "sigma": jnp.float32(0.5)} for m in (1.0, -2.0, 0.5)]
keys = [jax.random.PRNGKey(i) for i in range(3)]
many = engine.run_many(keys, ctxs, method="sequential")  # 3 points padded to 4 over 2 devices
assert [d.info.devices for d in many] == [2, 2, 2] and len(many) == 3
for k, c, d in zip(keys, ctxs, many):
    np.testing.assert_array_equal(engine.run(k, c).params, d.params)
one = make_engine("nuts", gaussian_target(), {**SETTINGS, "chain_method": "sequential",
                                               "devices": 1}).run_many(keys, ctxs)
assert one[0].info.devices == 1
flat = make_engine("nuts", gaussian_target(), {**SETTINGS, "chain_method": "flat"})
# chains dealt over 2 devices; a chain's randomness is its own, but shard_map compiles
# another program, whose rounding NUTS amplifies: compare the posterior, not the bits
for c, d in zip(ctxs, flat.run_many(keys, ctxs)):
    post_var = 1.0 / (1.0 / 100.0 + 1.0 / 0.25)
    assert abs(d.params[..., 0].mean() - post_var * float(c["mu"]) / 0.25) < 0.1
    assert d.info.devices == 2 and d.info.method == "flat"
smc = make_engine("smc", gaussian_target(), {"particles": 200, "runs": 2, "prior_draws": 4})
for k, c, d in zip(keys, ctxs, smc.run_many(keys, ctxs)):
    np.testing.assert_array_equal(smc.run(k, c).params, d.params)
    assert d.info.devices == 2 and d.method == "repeats"
# a lone point's SMC runs split over both devices, 2 of 4 on each: the same runs (each on
# its own key), though not bit for bit: a vmap of 2 runs rounds otherwise than one of 4, and
# HMC carries it on (run 1's draws differ by up to 0.002; the runs' log Z by 0.1 to 0.3)
smc4 = make_engine("smc", gaussian_target(), {"particles": 200, "runs": 4, "prior_draws": 4})
(d,) = smc4.run_many(keys[:1], ctxs[:1])
whole = smc4.run(keys[0], ctxs[0])
assert d.info.devices == 2 and d.info.call_points == 1 and d.params.shape == whole.params.shape
assert d.info.stages == whole.info.stages
np.testing.assert_array_equal(whole.params[0], d.params[0])
np.testing.assert_allclose(whole.log_z, d.log_z, rtol=1e-5)
np.testing.assert_allclose(np.einsum("rs,rsd->rd", whole.weights, whole.params),
                           np.einsum("rs,rsd->rd", d.weights, d.params), atol=1e-4)
# a lone sweep point spreads its NUTS chains and its SMC runs over the devices
from pathlib import Path
from phasedsl.language.check import check
from phasedsl.lower.compile import compile_spec
from phasedsl.pipeline import sample_points
from phasedsl.language.syntax import parse
spec = Path("specs/example_4_1_first_order.phase")
for engine_name, devices in (("nuts", 2), ("smc", 2)):
    checked = check(parse(spec.read_text(), str(spec)),
                    {"engine": engine_name, "draws": "50", "warmup": "50", "particles": "100"})
    compiled = compile_spec(checked)
    engine = make_engine(engine_name, compiled.target, checked.sample)
    (point, draws), = sample_points(engine, compiled, [(0, checked.sweep_values[0])], 0)
    assert draws.info.devices == devices, (engine_name, draws.info.devices)
print("ok")
"""


@pytest.mark.slow  # two minutes on 2 cores (a two-device subprocess, NUTS and SMC)
def test_run_many_splits_points_across_devices_without_changing_draws(tmp_path):
    """Two CPU devices (XLA's host-platform device count, set before JAX starts, hence a
    subprocess): each point's draws equal a single ``run``'s, with 3 points padded to 4, for
    NUTS and for SMC; flat chains sample the posterior; a lone sweep point's NUTS chains and
    SMC runs spread over both devices (SMC: the same runs as one whole point's)."""
    from specfiles import run_on_two_devices

    run_on_two_devices(SHARDED, timeout=300)
