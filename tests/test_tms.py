"""The toy model of superposition in a tensor spec: sparse inputs, ``count i:``, ``all i:``,
``any i:`` over a tensor's index, and the model's log density against numpy by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from phasedsl.language.check import check
from phasedsl.language.syntax import parse
from phasedsl.lower.compile import compile_spec
from phasedsl.lower.sparse_data import sparse_rows
from phasedsl.lower.tensor import tensor_data

TMS = """
sweep n over 50, 300
data { x ~ sparse(c = 6, k = 1); noise = 0.5; seed = 4 }
param W[2, 6]
param b[6]
prior normal(0, 1)
model y = relu(W.T @ W @ x + b)
truth y = x
let active = count i: norm(W[:, i]) > 0.5
phase k4 = active == 4
phase k5 = (count i: norm(W[:, i]) > 0.5) == 5
phase spread = all i: all j: i == j or dot(W[:, i], W[:, j]) < 0.5 * norm(W[:, i]) * norm(W[:, j])
phase dead_negative = any i: norm(W[:, i]) <= 0.5 and b[i] < 0
"""


@pytest.fixture(scope="module")
def tms():
    checked = check(parse(TMS, "tms.phase"))
    return checked, compile_spec(checked)


def params_of(seed: int) -> np.ndarray:
    """A parameter vector with columns of mixed norms: some of W's columns shrunk."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(2, 6)) * rng.choice([0.2, 1.0], size=6)
    return np.concatenate([w.ravel(), rng.normal(size=6)]).astype(np.float32)


# ------------------------------------------------------------------ sparse inputs


@pytest.mark.parametrize("k", [1, 2, 5])
def test_exactly_k_features_on_with_values_in_the_unit_interval(k):
    x = sparse_rows(np.random.default_rng(0), 2000, 6, "k", k)
    assert x.shape == (2000, 6)
    assert np.all((x > 0).sum(axis=1) == k)
    assert x.min() >= 0 and x.max() < 1
    # every feature is on in about k/c of the rows, and the on values spread over [0, 1)
    share = (x > 0).mean(axis=0)
    assert np.all(np.abs(share - k / 6) < 5 * math.sqrt(k / 6 * (1 - k / 6) / 2000))
    on = x[x > 0]
    assert abs(on.mean() - 0.5) < 5 * math.sqrt(1 / 12 / on.size)


def test_each_feature_on_with_probability_p():
    x = sparse_rows(np.random.default_rng(1), 20_000, 6, "p", 0.2)
    share = (x > 0).mean()
    assert abs(share - 0.2) < 5 * math.sqrt(0.2 * 0.8 / x.size)
    assert x.min() >= 0 and x.max() < 1
    assert len(set((x > 0).sum(axis=1))) > 3  # the count on varies from row to row


def test_sparse_rows_are_reproducible_and_nested():
    a = sparse_rows(np.random.default_rng(7), 500, 6, "k", 1)
    b = sparse_rows(np.random.default_rng(7), 500, 6, "k", 1)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, sparse_rows(np.random.default_rng(8), 500, 6, "k", 1))
    # row i depends on the seed and i alone: a sweep over n nests its data sets
    assert np.array_equal(a[:200], sparse_rows(np.random.default_rng(7), 200, 6, "k", 1))
    p = sparse_rows(np.random.default_rng(7), 500, 6, "p", 0.3)
    assert np.array_equal(p[:200], sparse_rows(np.random.default_rng(7), 200, 6, "p", 0.3))


def test_a_spec_draws_its_inputs_from_the_data_seed(tms):
    checked, comp = tms
    tm = checked.tensor
    assert tm.x_dist == ("sparse", "k", 1) and tm.inputs == 6 and tm.outputs == (6,)
    assert not tm.affine
    x, z = tensor_data(tm, 300)
    rng = np.random.default_rng(4)
    assert np.array_equal(x, sparse_rows(rng, 300, 6, "k", 1).astype(np.float32))
    assert np.array_equal(z, rng.standard_normal((300, 6)).astype(np.float32))
    # the truth `y = x` is the input: y = x + noise * z at every sweep value
    ctx = comp.context(50.0)
    assert np.allclose(np.asarray(ctx.y), x + 0.5 * z, atol=1e-6)
    assert float(np.asarray(ctx.mask).sum()) == 50


# ------------------------------------------------------------------ count, all, any


@pytest.mark.parametrize("seed", range(6))
def test_count_all_any_against_hand_computation(tms, seed):
    checked, comp = tms
    p = params_of(seed)
    w, b = p[:12].reshape(2, 6).astype(float), p[12:].astype(float)
    norms = np.linalg.norm(w, axis=0)
    active = int((norms > 0.5).sum())
    gram = w.T @ w
    spread = all(gram[i, j] < 0.5 * norms[i] * norms[j]
                 for i in range(6) for j in range(6) if i != j)
    dead = bool(np.any((norms <= 0.5) & (b < 0)))
    got = np.asarray(comp.target.indicators(p, comp.context(50.0))).tolist()
    assert got == [active == 4, active == 5, spread, dead]


def test_count_takes_every_value_on_chosen_columns(tms):
    """Columns of norm 1 or 0.1, k of them large: `active == 4` and `== 5` exactly when k is."""
    _, comp = tms
    ctx = comp.context(50.0)
    for k in range(7):
        angles = np.arange(6) * 2 * np.pi / 6
        radii = np.where(np.arange(6) < k, 1.0, 0.1)
        w = np.stack([np.cos(angles), np.sin(angles)]) * radii
        p = np.concatenate([w.ravel(), -np.ones(6)]).astype(np.float32)
        got = np.asarray(comp.target.indicators(p, ctx)).tolist()
        # a regular hexagon's neighbours are 60 degrees apart: cos 60 = 0.5, not below it
        assert got == [k == 4, k == 5, False, k < 6]


def test_count_stays_an_ordinary_name():
    spec = parse("let count = 2\nlet twice = 2 * count\n", "t.phase")
    assert [st.name.id for st in spec.statements] == ["count", "twice"]


# ------------------------------------------------------------------ the log density


def _hand_logdensity(p, x, y, mask, sigma):
    """log N(0, 1) prior + sum_i mask_i log N(y_i | relu(W^T W x_i + b), sigma^2 I), float64."""
    p = np.asarray(p, float)
    w, b = p[:12].reshape(2, 6), p[12:]
    f = np.maximum(x @ (w.T @ w).T + b, 0.0)
    r = y - f
    rows = np.sum(-0.5 * r ** 2 / sigma ** 2 - 0.5 * math.log(2 * math.pi * sigma ** 2), axis=1)
    prior = np.sum(-0.5 * p ** 2 - 0.5 * math.log(2 * math.pi))
    return prior + float(np.sum(mask * rows))


@pytest.mark.parametrize("n", [50.0, 300.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tms_log_density_by_hand(tms, n, seed):
    _, comp = tms
    ctx = comp.context(n)
    x, y = np.asarray(ctx.xt, float).T, np.asarray(ctx.y, float)
    mask = np.asarray(ctx.mask, float)
    p = params_of(seed)
    want = _hand_logdensity(p, x, y, mask, 0.5)
    got = float(comp.target.logdensity(p, ctx))
    assert got == pytest.approx(want, rel=2e-6)


def test_tms_log_density_at_a_hexagon_is_the_noise_alone_plus_its_loss(tms):
    """At a regular hexagon with bias b the fitted values are known in closed form: the
    feature on gives relu(x r^2 + b), its neighbours relu(x r^2 / 2 + b), the rest 0."""
    _, comp = tms
    ctx = comp.context(300.0)
    x, y = np.asarray(ctx.xt, float).T[:300], np.asarray(ctx.y, float)[:300]
    r, b = 1.3, -0.6
    angles = np.arange(6) * 2 * np.pi / 6
    w = np.stack([np.cos(angles), np.sin(angles)]) * r
    p = np.concatenate([w.ravel(), np.full(6, b)]).astype(np.float32)
    on = x.argmax(axis=1)
    value = x.max(axis=1)
    f = np.zeros_like(x)
    rows = np.arange(300)
    f[rows, on] = np.maximum(value * r * r + b, 0)
    for step in (1, -1):
        f[rows, (on + step) % 6] = np.maximum(value * r * r / 2 + b, 0)
    loglik = np.sum(-0.5 * (y - f) ** 2 / 0.25 - 0.5 * math.log(2 * math.pi * 0.25))
    assert float(comp.target.loglik(p, ctx)) == pytest.approx(loglik, rel=2e-6)
