"""Classification likelihoods of tensor specs (``model y ~ bernoulli(logits = ...)``,
``categorical``), data files with several output columns, and ``seeds`` for tensor specs.

Log densities are compared with numpy written out by hand; labels with the inverse-CDF draw
from ``default_rng(seed)`` (inputs, then uniforms)."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest

from phasedsl.language.check import check
from phasedsl.language.syntax import parse
from phasedsl.lower.compile import compile_spec

BERNOULLI = """
sweep theta over 0, 1
data { n = 300; x ~ normal(0, 1)^2; seed = 4 }
param W[3, 2]
param b[3]
param v[3]
param c
model y ~ bernoulli(logits = dot(v, tanh(W @ x + b)) + c)
truth y ~ bernoulli(logits = 2 * x[1] - 3 * theta * x[2] + 0.5)
phase up = v[1] > 0
"""

CATEGORICAL = """
sweep theta over 0, 1
data { n = 400; x ~ uniform(-1, 1)^2 }
param W[3, 2]
param b[3]
model y ~ categorical(logits = relu(W @ x) + b)
truth y ~ categorical(logits = [0, theta * x[1], 2 * x[2]])
"""


def compiled(text: str, name: str = "t.phase"):
    checked = check(parse(text, name))
    return checked, compile_spec(checked)


def params(dim: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=dim).astype(np.float32)


def softplus(a):
    return np.logaddexp(0.0, a)


def test_bernoulli_loglik_and_labels_by_hand():
    checked, comp = compiled(BERNOULLI)
    assert checked.tensor.likelihood == "bernoulli" and not checked.tensor.affine
    assert checked.dim == 13
    rng = np.random.default_rng(4)  # inputs, then one uniform per row
    x = rng.normal(0, 1, size=(300, 2)).astype(np.float32).astype(float)
    u = rng.uniform(size=(300, 1)).astype(np.float32).astype(float)[:, 0]
    for theta in (0.0, 1.0):
        ctx = comp.context(theta)
        truth = 2 * x[:, 0] - 3 * theta * x[:, 1] + 0.5
        y = (u < 1 / (1 + np.exp(-truth))).astype(float)
        np.testing.assert_array_equal(np.asarray(ctx.y)[:, 0], y)
        for seed in range(3):
            p = params(13, seed).astype(float)
            w, b, v, c = p[:6].reshape(3, 2), p[6:9], p[9:12], p[12]
            logit = np.tanh(x @ w.T + b) @ v + c
            want = float(np.sum(y * logit - softplus(logit)))
            got = float(comp.target.loglik(jnp.asarray(p, jnp.float32), ctx))
            assert got == pytest.approx(want, rel=1e-5)


def test_categorical_loglik_by_hand():
    checked, comp = compiled(CATEGORICAL)
    assert checked.tensor.likelihood == "categorical" and checked.tensor.outputs == (3,)
    ctx = comp.context(1.0)
    x = np.asarray(ctx.xt, float).T
    onehot = np.asarray(ctx.y)
    assert onehot.shape == (400, 3) and np.all(onehot.sum(axis=1) == 1)
    label = onehot.argmax(axis=1)  # 0-based here
    for seed in range(3):
        p = params(9, seed).astype(float)
        w, b = p[:6].reshape(3, 2), p[6:9]
        logits = np.maximum(x @ w.T, 0) + b
        lse = np.log(np.sum(np.exp(logits), axis=1))
        want = float(np.sum(logits[np.arange(400), label] - lse))
        got = float(comp.target.loglik(jnp.asarray(p, jnp.float32), ctx))
        assert got == pytest.approx(want, rel=1e-5)


def test_tempered_by_beta():
    _, comp = compiled(BERNOULLI.replace("phase up", "beta = 0.25\nphase up"))
    _, plain = compiled(BERNOULLI)
    p = jnp.asarray(params(13, 7))
    a = float(comp.target.loglik(p, comp.context(1.0)))
    b = float(plain.target.loglik(p, plain.context(1.0)))
    assert a == pytest.approx(0.25 * b, rel=1e-6)


def test_labels_have_the_truth_frequencies_and_are_reproducible():
    text = """
data { n = 20000; x ~ normal(0, 1)^1; seed = 9 }
param b[3]
model y ~ categorical(logits = b)
truth y ~ categorical(logits = [0, log(2), log(3)])
"""
    _, comp = compiled(text)
    y = np.asarray(comp.context(0.0).y)
    again = np.asarray(compiled(text)[1].context(0.0).y)
    np.testing.assert_array_equal(y, again)
    freq = y.mean(axis=0)
    want = np.array([1, 2, 3]) / 6
    sd = np.sqrt(want * (1 - want) / 20000)
    assert np.all(np.abs(freq - want) < 4 * sd), (freq, want)
    # another data seed, other labels
    other = np.asarray(compiled(text.replace("seed = 9", "seed = 10"))[1].context(0.0).y)
    assert not np.array_equal(y, other)


def test_seeds_give_the_data_sets_of_each_seed():
    text = BERNOULLI.replace("seed = 4", "seed = 4; seeds = 3")
    checked, comp = compiled(text)
    assert comp.datasets == 3 and checked.tensor.data_seeds == (4, 5, 6)
    for k in (1, 2):
        _, alone = compiled(BERNOULLI.replace("seed = 4", f"seed = {4 + k}"))
        a, b = comp.context(1.0, k), alone.context(1.0)
        np.testing.assert_array_equal(np.asarray(a.y), np.asarray(b.y))
        np.testing.assert_array_equal(np.asarray(a.xt), np.asarray(b.xt))
    assert not np.array_equal(np.asarray(comp.context(1.0, 0).y), np.asarray(comp.context(1.0, 1).y))


def test_seeds_of_a_gaussian_tensor_spec():
    text = """
data { n = 50; x ~ normal(0, 1)^2; noise = 0.5; seed = 2; seeds = 2 }
param W[2, 2]
model y = W @ x
truth y = x
"""
    _, comp = compiled(text)
    _, alone = compiled(text.replace("seed = 2; seeds = 2", "seed = 3"))
    np.testing.assert_array_equal(np.asarray(comp.context(0.0, 1).y),
                                  np.asarray(alone.context(0.0).y))
    p = jnp.asarray(params(4, 0))
    assert float(comp.target.loglik(p, comp.context(0.0, 1))) == pytest.approx(
        float(alone.target.loglik(p, alone.context(0.0))), rel=1e-6)


def test_file_with_several_output_columns_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 2))
    rows = "\n".join(",".join(f"{v:.17g}" for v in r) for r in np.hstack([x, y]))
    (tmp_path / "named.csv").write_text("y2, x1, x2, x3, y1\n" + "\n".join(
        ",".join(f"{v:.17g}" for v in (r[4], r[0], r[1], r[2], r[3]))
        for r in np.hstack([x, y])))
    (tmp_path / "plain.csv").write_text(rows + "\n")
    np.save(tmp_path / "plain.npy", np.hstack([x, y]))
    np.savez(tmp_path / "arrays.npz", x=x, y=y)
    body = """
sweep s over 1, 2
data { DATA; noise = 0.7 }
param W[2, 3]
model y = s * W @ x
"""
    for data in ('file = "named.csv"', 'file = "plain.csv"; inputs = 3',
                 'file = "plain.npy"; inputs = 3', 'file = "arrays.npz"; n = 30'):
        checked, comp = compiled(body.replace("DATA", data), str(tmp_path / "f.phase"))
        tm = checked.tensor
        assert tm.data is not None and tm.data.outputs == 2 and tm.inputs == 3
        ctx = comp.context(2.0)
        size = 30 if "n = 30" in data else 40
        np.testing.assert_allclose(np.asarray(ctx.xt).T, x[:size], rtol=1e-6)
        np.testing.assert_allclose(np.asarray(ctx.y), y[:size], rtol=1e-6)
        p = params(6, 1).astype(float)
        f = 2.0 * x[:size] @ p.reshape(2, 3).T
        r = y[:size] - f
        want = float(np.sum(-0.5 * r ** 2 / 0.49 - 0.5 * math.log(2 * math.pi * 0.49)))
        got = float(comp.target.loglik(jnp.asarray(p, jnp.float32), ctx))
        assert got == pytest.approx(want, rel=1e-5)


def test_labels_from_a_file(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(25, 2))
    label = rng.integers(1, 4, size=25)
    (tmp_path / "labels.csv").write_text("x1,x2,y\n" + "\n".join(
        f"{a:.17g},{b:.17g},{c}" for (a, b), c in zip(x, label)))
    text = """
data { file = "labels.csv" }
param W[3, 2]
model y ~ categorical(logits = W @ x)
"""
    checked, comp = compiled(text, str(tmp_path / "f.phase"))
    ctx = comp.context(0.0)
    np.testing.assert_array_equal(np.asarray(ctx.y).argmax(axis=1) + 1, label)
    p = params(6, 2).astype(float)
    logits = x @ p.reshape(3, 2).T
    want = float(np.sum(logits[np.arange(25), label - 1]
                        - np.log(np.sum(np.exp(logits), axis=1))))
    assert float(comp.target.loglik(jnp.asarray(p, jnp.float32), ctx)) == pytest.approx(
        want, rel=1e-5)


def test_learning_coefficient_of_logistic_regression_and_its_minimiser():
    """Logistic regression is regular: draws from the Laplace approximation at the maximum
    likelihood ``w_hat`` (found here by Newton's method in float64) give
    ``E[n L_n] - n L_n(w_hat) = tr(H Sigma) / 2 = d / 2`` up to the loss's cubic terms; the
    measurement's minimiser of the loss is ``w_hat``."""
    import jax

    from phasedsl.lower.target import Draws as TargetDraws
    from phasedsl.measure.lcoef import LcoefStep

    text = """
data { n = 3000; x ~ normal(0, 1)^2; seed = 1 }
param w[2]
param c
model y ~ bernoulli(logits = dot(w, x) + c)
truth y ~ bernoulli(logits = x[1] - 0.5 * x[2] + 0.3)
phase all_w = c > -10
"""
    _, comp = compiled(text)
    ctx = comp.context(0.0)
    z = np.hstack([np.asarray(ctx.xt, float).T, np.ones((3000, 1))])
    y = np.asarray(ctx.y, float)[:, 0]
    w = np.zeros(3)
    for _ in range(30):  # Newton on the mean cross-entropy
        p = 1 / (1 + np.exp(-z @ w))
        hess = (z * (p * (1 - p))[:, None]).T @ z
        w -= np.linalg.solve(hess, z.T @ (p - y))
    cov = np.linalg.inv(hess)
    rng = np.random.default_rng(3)
    draws = w + rng.normal(size=(4, 2000, 3)) @ np.linalg.cholesky(cov).T
    params = draws.astype(np.float32)
    flat = jnp.asarray(params.reshape(-1, 3))
    logd = np.asarray(jax.vmap(comp.target.logdensity, in_axes=(0, None))(flat, ctx))
    inds = np.asarray(jax.vmap(comp.target.indicators, in_axes=(0, None))(flat, ctx))
    sample = TargetDraws(params=params, indicators=inds.reshape(4, 2000, 1),
                         logdensity=logd.reshape(4, 2000), weights=None, method="repeats")
    _, whole = LcoefStep(comp, 300).estimate_all(0.0, sample)
    np.testing.assert_allclose(whole.minimiser, w, atol=3e-3)
    assert abs(whole.lam - 1.5) < 4 * whole.se + 0.05, (whole.lam, whole.se)


def test_the_likelihood_is_part_of_the_posterior_identity():
    from phasedsl.rundir import data_identity, posterior_key

    base = check(parse(BERNOULLI, "t.phase"))
    seeds = check(parse(BERNOULLI.replace("seed = 4", "seed = 4; seeds = 2"), "t.phase"))
    other = check(parse(BERNOULLI.replace("bernoulli(logits = 2", "bernoulli(logits = 3"),
                        "t.phase"))
    assert "likelihood=bernoulli" in repr(base.tensor)
    assert len({posterior_key(c) for c in (base, other)}) == 2
    assert data_identity(seeds) == {"data_sets": "2"} and data_identity(base) == {}


@pytest.mark.slow
def test_a_classifier_runs_end_to_end_on_two_data_sets(tmp_path):
    """A tiny bernoulli spec with ``seeds = 2`` through the pipeline: both data sets
    sampled and combined, each phase's and the whole posterior's learning coefficient
    measured on data set 0."""
    import phasedsl
    from phasedsl.pipeline import load_text

    spec = """experiment "a tiny classifier"
sweep theta over 0, 1
data { n = 40; x ~ normal(0, 1)^1; seed = 2; seeds = 2 }
param w
param c
model y ~ bernoulli(logits = w * x[1] + c)
truth y ~ bernoulli(logits = 2 * theta * x[1])
phase up = w > 0.5
sample smc { particles = 64; runs = 4; mutations = 2; integration_steps = 4 }
"""
    results = phasedsl.run(load_text(spec), tmp_path, plots=False).results
    assert results["seeds"]["data_sets"] == [2, 3]
    for p in results["points"]:
        assert len(p["datasets"]["masses"]["up"]) == 2
        lam = p["lcoef_posterior"]
        assert lam["lambda"] is not None and math.isfinite(lam["lambda"])
    up = [p["phases"]["up"]["mass"] for p in results["points"]]
    assert up[1] > up[0]  # the truth's slope 2 at theta = 1 puts the mass at w > 0.5
