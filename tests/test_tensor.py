"""Tensor specs (``param W[m, k]``, ``model y = EXPR``): checking, layout and lowering.

Log densities are compared with numpy computations written out by hand; the moments path of a
model affine in ``x`` with the row-by-row path of the same model."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from phasedsl.language.check import check
from phasedsl.language.syntax import parse
from phasedsl.lower.compile import compile_spec

LINEAR = """
sweep r over 0, 1, 2
data { n = 200; x ~ normal(0, 1)^3; noise = 0.5; seed = 3 }
param W1[2, 3]
param W2[3, 2] ~ normal(0.5, 2)
prior normal(0, 1)
let T = diag([step(r), step(r - 1), 0])
model y = W2 @ W1 @ x
truth y = T @ x
phase rank0 = rank(W2 @ W1, 0.2) == 0
phase big_row = norm(W1[1, :]) > 1 and sv(W2, 1) > 0.5
"""

TANH = """
sweep s over 0.5, 1
data { n = 50; x ~ uniform(-1, 1)^2 }
param W[3, 2]
param b[3]
param q[3]
param c
model y = dot(q, tanh(W @ x + b)) + c
truth y = s * sum(x)
"""


def compiled_of(text: str, **tensor_changes):
    checked = check(parse(text, "t.phase"))
    if tensor_changes:
        tm = dataclasses.replace(checked.tensor, **tensor_changes)
        checked = dataclasses.replace(checked, tensor=tm)
    return checked, compile_spec(checked)


def params_of(dim: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=dim).astype(np.float32)


def gauss_loglik(y, f, sigma):
    """``sum_i log N(y_i | f_i, sigma^2 I)``, float64."""
    r = np.asarray(y, float) - np.asarray(f, float)
    return float(np.sum(-0.5 * r ** 2 / sigma ** 2 - 0.5 * math.log(2 * math.pi * sigma ** 2)))


def test_layout_is_row_major_in_the_order_written():
    checked, comp = compiled_of(LINEAR)
    assert [(s.name, s.shape, s.start) for s in checked.slots] == [
        ("W1", (2, 3), 0), ("W2", (3, 2), 6)]
    assert checked.dim == 12 and checked.kind == "tensor" and checked.tensor.affine
    p = np.arange(12, dtype=np.float32)
    parts = comp.unflatten(p)
    assert parts["W1"][1, 0] == 3 and parts["W2"][2, 1] == 11


@pytest.mark.parametrize("r", [0.0, 1.0, 2.0])
def test_linear_loglik_by_hand(r):
    checked, comp = compiled_of(LINEAR)
    ctx = comp.context(r)
    x, y = np.asarray(ctx.xt, float).T, np.asarray(ctx.y, float)
    truth = np.diag([r >= 1, r >= 2, 0]).astype(float)
    # the data: inputs then unit noise from default_rng(seed), y = T x + noise * z
    rng = np.random.default_rng(3)
    x0 = rng.normal(0, 1, size=(200, 3))
    z = rng.standard_normal((200, 3))
    np.testing.assert_allclose(x, x0, rtol=1e-6)
    np.testing.assert_allclose(y, x0 @ truth.T + 0.5 * z, rtol=1e-5, atol=1e-6)
    p = params_of(12)
    w1, w2 = p[:6].reshape(2, 3).astype(float), p[6:].reshape(3, 2).astype(float)
    want = gauss_loglik(y, x @ (w2 @ w1).T, 0.5)
    got = float(comp.target.loglik(jnp.asarray(p), ctx))
    assert got == pytest.approx(want, rel=1e-5)


def test_moments_agree_with_rows():
    _, moments = compiled_of(LINEAR)
    _, rows = compiled_of(LINEAR, affine=False)
    for r in (0.0, 2.0):
        for seed in range(3):
            p = jnp.asarray(params_of(12, seed))
            a = float(moments.target.loglik(p, moments.context(r)))
            b = float(rows.target.loglik(p, rows.context(r)))
            assert a == pytest.approx(b, rel=1e-5)


def test_per_parameter_prior():
    _, comp = compiled_of(LINEAR)
    p = params_of(12, 1).astype(float)
    want = (np.sum(-0.5 * p[:6] ** 2 - 0.5 * math.log(2 * math.pi))
            + np.sum(-0.5 * ((p[6:] - 0.5) / 2) ** 2 - math.log(2) - 0.5 * math.log(2 * math.pi)))
    got = float(comp.target.logprior(jnp.asarray(p, jnp.float32), comp.context(0.0)))
    assert got == pytest.approx(want, rel=1e-5)


def test_phase_indicators_by_hand():
    _, comp = compiled_of(LINEAR)
    for seed in range(5):
        p = params_of(12, seed) * (0.1 if seed % 2 else 1.0)
        w1, w2 = p[:6].reshape(2, 3), p[6:].reshape(3, 2)
        sv = np.linalg.svd(w2 @ w1, compute_uv=False)
        want = [int(np.sum(sv > 0.2)) == 0,
                np.linalg.norm(w1[0]) > 1 and np.linalg.svd(w2, compute_uv=False)[0] > 0.5]
        got = np.asarray(comp.target.indicators(jnp.asarray(p), comp.context(1.0)))
        assert got.tolist() == want


def test_nonlinear_model_by_hand():
    checked, comp = compiled_of(TANH)
    assert not checked.tensor.affine and checked.dim == 13
    ctx = comp.context(1.0)
    x, y = np.asarray(ctx.xt, float).T, np.asarray(ctx.y, float).ravel()
    rng = np.random.default_rng(0)  # inputs, then unit noise
    x0, z = rng.uniform(-1, 1, size=(50, 2)), rng.standard_normal((50, 1))
    np.testing.assert_allclose(y, x0.sum(1) + z[:, 0], rtol=1e-5, atol=1e-6)
    p = params_of(13, 2).astype(float)
    w, b, q, c = p[:6].reshape(3, 2), p[6:9], p[9:12], p[12]
    want = gauss_loglik(y, np.tanh(x @ w.T + b) @ q + c, 1.0)
    got = float(comp.target.loglik(jnp.asarray(p, jnp.float32), ctx))
    assert got == pytest.approx(want, rel=1e-5)


def test_affine_detection():
    def affine(model: str) -> bool:
        text = TANH.replace("model y = dot(q, tanh(W @ x + b)) + c", f"model y = {model}")
        return check(parse(text, "t.phase")).tensor.affine

    assert affine("dot(q, W @ x + b) + c")
    assert affine("sum(W @ x) * c + q[1]")
    assert not affine("dot(q, relu(W @ x)) + c")
    assert not affine("sum(x * x)")
    assert not affine("norm(x)")


REGULAR = """
data { n = 2000; x ~ normal(0, 1)^3; seed = 1 }
param W[3, 3]
prior normal(0, 1)
model y = W @ x
truth y = [x[1], x[2] - x[3], 0]
phase all_w = norm(W) >= 0
"""


def test_singular_values_match_numpy():
    from phasedsl.lower.tensor_eval import _singular_values

    rng = np.random.default_rng(0)
    for shape in [(3, 3), (2, 4), (5, 2), (1, 3)]:
        for rank1 in (False, True):
            m = rng.normal(size=shape)
            if rank1:
                m = np.outer(rng.normal(size=shape[0]), rng.normal(size=shape[1]))
            got = np.asarray(_singular_values(jnp.asarray(m, jnp.float32)))
            want = np.linalg.svd(m, compute_uv=False)
            np.testing.assert_allclose(got, want, atol=1e-5 * (1 + want.max()))


def test_posterior_learning_coefficient_of_a_regular_model():
    """Linear regression is regular: with exact posterior draws (conjugate Gaussian), the
    whole posterior's estimate E[n L_n] - n L_n(w_hat) is ``tr(S Sigma) / 2 + (mu -
    w_hat)^T S (mu - w_hat) / 2`` per output, about d / 2 = 4.5."""
    from phasedsl.lower.target import Draws as TargetDraws
    from phasedsl.measure.lcoef import LcoefStep

    checked, comp = compiled_of(REGULAR)
    ctx = comp.context(0.0)
    x, y = np.asarray(ctx.xt, float).T, np.asarray(ctx.y, float)
    s = x.T @ x
    cov = np.linalg.inv(s + np.eye(3))  # each row of W: precision S + I (noise 1, prior 1)
    mu = (cov @ x.T @ y).T  # f[3 outputs, 3 inputs]
    w_hat = np.linalg.solve(s, x.T @ y).T
    d = mu - w_hat
    exact = 3 * 0.5 * np.trace(s @ cov) + 0.5 * np.sum((d @ s) * d)
    rng = np.random.default_rng(5)
    chol = np.linalg.cholesky(cov)
    draws = mu[None, :, :] + np.einsum("ij,gsrj->gsri", chol, rng.normal(size=(4, 1500, 3, 3)))
    params = draws.reshape(4, 1500, 9).astype(np.float32)
    flat = jnp.asarray(params.reshape(-1, 9))
    logd = np.asarray(jax.vmap(comp.target.logdensity, in_axes=(0, None))(flat, ctx))
    inds = np.asarray(jax.vmap(comp.target.indicators, in_axes=(0, None))(flat, ctx))
    sample = TargetDraws(params=params, indicators=inds.reshape(4, 1500, 1),
                         logdensity=logd.reshape(4, 1500), weights=None, method="repeats")
    phases, whole = LcoefStep(comp, 300).estimate_all(0.0, sample)
    assert whole.phase == "posterior" and whole.se is not None
    assert abs(whole.lam - exact) < 4 * whole.se + 0.02
    assert abs(exact - 4.5) < 0.05
    assert phases["all_w"].lam == pytest.approx(whole.lam, abs=1e-6)
    np.testing.assert_allclose(np.reshape(whole.minimiser, (3, 3)), w_hat, atol=2e-3)


def test_posterior_identity_holds_the_model_and_its_lets():
    from phasedsl.rundir import posterior_key

    base, _ = compiled_of(LINEAR)
    other_let = check(parse(LINEAR.replace("step(r - 1), 0])", "step(r - 1), 1])"), "t.phase"))
    other_model = check(parse(LINEAR.replace("W2 @ W1 @ x", "W2 @ (W1 @ x)"), "t.phase"))
    commented = check(parse(LINEAR.replace("step(r - 1), 0])", "step(r - 1), 0])  # rank"),
                            "t.phase"))
    keys = {posterior_key(c) for c in (base, other_let, other_model)}
    assert len(keys) == 3
    assert posterior_key(commented) == posterior_key(base)  # a comment is not the model
